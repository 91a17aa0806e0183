"""Run manifests: what was run, on which inputs, with which code and seeds, producing what.

Every output directory pakcast writes carries a ``manifest.json`` (see :class:`RunManifest`),
and the store's ``runs`` table keeps one row per run.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import uuid
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from pakcast.forecast.io import sha256_file, write_json

TRACKED_PACKAGES = (
    "pakcast", "numpy", "pandas", "scipy", "statsmodels", "pymc", "pytensor", "arviz", "numba",
    "duckdb", "nutpie", "scoringrules", "xarray", "matplotlib", "dask",
)


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that can change pakcast's numbers."""
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_revision(cwd: Path | None = None) -> str | None:
    """The git commit of the source tree, if pakcast runs from a checkout."""
    cwd = cwd or Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    rev = out.stdout.strip()
    if out.returncode != 0 or not rev:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                           capture_output=True, text=True, timeout=5).stdout.strip()
    return rev + ("-dirty" if dirty else "")


def new_run_id(prefix: str = "run") -> str:
    """A sortable, unique run id: ``<prefix>-YYYYmmddTHHMMSS-<8 hex>``."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{prefix}-{now}-{uuid.uuid4().hex[:8]}"


def file_record(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    return {"path": str(p), "sha256": sha256_file(p), "bytes": p.stat().st_size}


@dataclass
class RunManifest:
    """One run: id, time, command and options, inputs with sha256, versions, seeds, outputs.

    ``argv`` and ``cwd`` (the working directory, which relative paths in ``argv`` refer to) let
    ``pakcast rerun`` (:mod:`forecast.rerun`) execute the same command again. ``status`` is
    ``"incomplete"`` from the moment a run directory is started (:meth:`forecast.io.OutDir.begin`) until
    its last output is written (:meth:`forecast.io.OutDir.finish` sets ``"complete"``), so a run killed
    half-way is marked as such; manifests written beside a finished single file are ``"complete"``.
    """

    command: str
    options: dict[str, Any] = field(default_factory=dict)
    run_id: str = field(default_factory=new_run_id)
    created: str = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    random_seeds: dict[str, Any] = field(default_factory=dict)
    package_versions: dict[str, str] = field(default_factory=package_versions)
    git_revision: str | None = field(default_factory=git_revision)
    platform: str = field(default_factory=platform.platform)
    notes: list[str] = field(default_factory=list)
    cwd: str | None = field(default_factory=os.getcwd)
    status: str = "complete"

    def add_input(self, path: str | Path, role: str | None = None) -> None:
        rec = file_record(path)
        if role:
            rec["role"] = role
        self.inputs.append(rec)

    def add_outputs(self, directory: str | Path, exclude: tuple[str, ...] = ("manifest.json",)) -> None:
        """Record every file under ``directory`` (relative paths) with its sha256.

        For a directory that may hold files of other runs use :func:`forecast.io.prepare_out_dir` and
        :meth:`forecast.io.OutDir.finish`, which record only the files the run wrote.
        """
        d = Path(directory)
        self.outputs = [
            {**file_record(p), "path": str(p.relative_to(d))}
            for p in sorted(d.rglob("*"))
            if p.is_file() and p.name not in exclude and not p.name.startswith(".")
        ]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, directory: str | Path, name: str = "manifest.json") -> Path:
        return write_json(Path(directory) / name, self.to_dict())

    @classmethod
    def read(cls, path: str | Path) -> "RunManifest":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        known = {f for f in cls.__dataclass_fields__}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs.setdefault("cwd", None)  # manifests written before ``cwd`` was recorded
        return cls(**kwargs)


def write_beside(manifest: RunManifest, outputs: list[str | Path]) -> Path:
    """Record ``outputs`` (files in one directory) and write ``<stem>.manifest.json`` beside the first.

    For commands that write single files (``--json OUT``, ``--csv OUT``) rather than a run directory.
    """
    paths = [Path(p) for p in outputs]
    base = paths[0].parent
    manifest.outputs = [{**file_record(p), "path": str(p.resolve().relative_to(base.resolve()))
                         if p.resolve().is_relative_to(base.resolve()) else str(p)} for p in paths]
    return manifest.write(base, name=paths[0].stem + ".manifest.json")
