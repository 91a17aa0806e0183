"""Fixtures for the reliability suite: read-only and full media, and the record of fault cases.

Every test that stands for a row of the README's table of faults and bad inputs carries
``@pytest.mark.case(ID, fault=..., how=..., outcome=...)``. With ``PAKCAST_RECORD_CASES=1`` the
outcome of each such test (passed / failed, over all its parametrisations) is merged into
``tests/reliability/cases.json``; ``python tests/reliability/render_cases.py`` renders the table in
``docs/readme/reliability.md`` from that file, and ``test_cases_table.py`` checks that the table is the
rendering and that every case in the tests has a recorded, passing outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
CASES_JSON = HERE / "cases.json"
RECORD_ENV = "PAKCAST_RECORD_CASES"

_results: dict[str, dict] = {}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "case(id, fault, how, outcome): a row of the README's table of faults")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for info in _case_info.get(report.nodeid, []):
        rec = _results.setdefault(info["id"], {"id": info["id"], "result": "passed", "tests": [], "slow": False,
                                               "file": info["file"], "line": info["line"]})
        for k in ("fault", "how", "outcome"):
            if k in info:
                rec[k] = info[k]
        if (info["file"], info["line"]) < (rec["file"], rec["line"]) and "fault" in info:
            rec["file"], rec["line"] = info["file"], info["line"]
        rec["slow"] = rec["slow"] or info["slow"]
        if report.outcome == "failed":
            rec["result"] = "failed"
        elif report.outcome == "skipped" and rec["result"] == "passed":
            rec["result"] = "skipped"
        rec["tests"].append(f"{info['file']}::{report.nodeid.split('::', 1)[-1].split('[')[0]}")


_case_info: dict[str, list[dict]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for m in item.iter_markers("case"):
            info = {"id": m.args[0], "file": Path(str(item.fspath)).name, "line": item.location[1] or 0,
                    "slow": item.get_closest_marker("slow") is not None, **m.kwargs}
            _case_info.setdefault(item.nodeid, []).append(info)


def pytest_sessionfinish(session: pytest.Session) -> None:
    if os.environ.get(RECORD_ENV) != "1" or not _results:
        return
    old = json.loads(CASES_JSON.read_text(encoding="utf-8")) if CASES_JSON.is_file() else {}
    for cid, rec in _results.items():
        prev = old.get(cid, {})
        if prev.get("result") == "failed" or rec["result"] == "failed":
            merged = "failed" if rec["result"] == "failed" else rec["result"]
        else:
            merged = rec["result"] if rec["result"] == "passed" or not prev else prev.get("result", rec["result"])
        rec["tests"] = sorted(set(rec["tests"]) | (set(prev.get("tests", [])) if merged == "passed" else set()))
        rec["result"] = merged
        rec.pop("line", None)
        old[cid] = {**{k: v for k, v in prev.items() if k in ("fault", "how", "outcome")}, **rec}
    CASES_JSON.write_text(json.dumps(dict(sorted(old.items())), indent=1, ensure_ascii=False) + "\n",
                          encoding="utf-8")


# ---------------------------------------------------------------------------------------------
def _can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def tmpfs(base: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted under ``base`` (root only; skips otherwise)."""
    if not _can_mount():
        pytest.skip("mounting a tmpfs needs root")
    mnt = base / f"mnt-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """Make the tmpfs at ``path`` read-only (remount) or, without root, the directory unwritable."""
    if _can_mount() and os.path.ismount(path):
        subprocess.run(["mount", "-o", "remount,ro", str(path)], check=True, capture_output=True)
        try:
            yield path
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(path)], capture_output=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555)
        try:
            yield path
        finally:
            path.chmod(mode)


@pytest.fixture()
def medium(tmp_path: Path) -> Iterator[Path]:
    """A directory on its own medium (a 64 MB tmpfs as root, else a plain directory)."""
    if _can_mount():
        with tmpfs(tmp_path, "64m") as mnt:
            yield mnt
    else:
        d = tmp_path / "medium"
        d.mkdir()
        yield d


@pytest.fixture()
def make_read_only():
    """``with make_read_only(dir):`` the medium is read-only inside the block (see :func:`read_only`)."""
    return read_only


@pytest.fixture()
def small_tmpfs(tmp_path: Path):
    """``with small_tmpfs("2m") as mnt:`` a tiny tmpfs (root only) for disk-full cases."""
    return lambda size: tmpfs(tmp_path, size)
