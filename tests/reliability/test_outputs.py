"""Output directories and files: provenance when a directory is reused, links, files in the way,
read-only and full media, and reruns of runs that have a briefing (issue 15, defects 2, 3, 10, 11).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from pakcast.forecast.cli import app
from pakcast.forecast.io import OutputError, prepare_out_dir, sha256_file, write_csv, write_json
from pakcast.forecast.manifest import RunManifest
from pakcast.forecast.rerun import RerunError, compare_file, load_manifest

runner = CliRunner()
ITS = ("its", "--intervention", "2014-06-01", "--series", "national", "--outcome", "attacks")


def _quarterly_like(d: Path) -> Path:
    """A directory as another run left it: its manifest and its files."""
    d.mkdir()
    for name in ("forecast.csv", "panel.csv", "backtest.csv"):
        (d / name).write_text("province,x\nPunjab,1\n", encoding="utf-8")
    m = RunManifest(command="quarterly", argv=["pakcast", "quarterly", "--out", str(d)])
    m.outputs = [{"path": n} for n in ("forecast.csv", "panel.csv", "backtest.csv")]
    m.write(d)
    return d


def _hashes(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): sha256_file(p) for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.mark.case("outdir-other-run", fault="`pakcast its --out DIR` into the directory of another run (a quarterly)",
                  how="CLI, without and with `--force`",
                  outcome="**was a bug** (its manifest and briefing overwritten, the quarterly's 28 files listed as its "
                  "own); now refused in one line naming the other run (exit 1, nothing written); with `--force` the "
                  "new manifest lists only the files this run wrote and notes the others")
def test_out_dir_holding_another_run_is_refused_unless_force(tmp_path):
    d = _quarterly_like(tmp_path / "q")
    before = _hashes(d)
    r = runner.invoke(app, [*ITS, "--out", str(d)])
    assert r.exit_code == 1 and "holds the manifest of another run (quarterly run" in r.output
    assert "Traceback" not in r.output and _hashes(d) == before
    r = runner.invoke(app, [*ITS, "--out", str(d), "--force"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    m = json.loads((d / "manifest.json").read_text(encoding="utf-8"))
    outs = {o["path"] for o in m["outputs"]}
    assert m["command"] == "its" and m["status"] == "complete"
    assert "results.json" in outs and not outs & {"forecast.csv", "panel.csv", "backtest.csv"}
    assert any("not written by this run" in n and "forecast.csv" in n for n in m["notes"])
    assert all(sha256_file(d / o["path"]) == o["sha256"] for o in m["outputs"])
    assert all(_hashes(d)[k] == v for k, v in before.items() if k != "manifest.json")


@pytest.mark.case("outdir-stale-files", fault="stale files left in a reused output directory",
                  how="`prepare_out_dir` on a directory with an old file and no manifest",
                  outcome="**was a bug** (listed and hashed as outputs of the run); now only files the run wrote "
                  "(new, or replaced even with identical bytes) are outputs")
def test_only_files_the_run_wrote_are_outputs(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "stale.csv").write_text("old\n")
    (d / "same.csv").write_text("a\n1\n")
    out = prepare_out_dir(d)
    m = RunManifest(command="test")
    out.begin(m)
    assert json.loads((d / "manifest.json").read_text())["status"] == "incomplete"
    write_csv(d / "same.csv", pd.DataFrame({"a": [1]}))  # the same bytes, but written by this run
    write_json(d / "sub" / "r.json", {"x": 1})
    out.finish(m)
    back = json.loads((d / "manifest.json").read_text())
    assert back["status"] == "complete"
    assert [o["path"] for o in back["outputs"]] == ["same.csv", "sub/r.json"]
    assert "stale.csv" in " ".join(back["notes"])


@pytest.mark.case("run-killed-incomplete", fault="a run killed before it finished, then `pakcast rerun` of it",
                  how="a run directory whose manifest was begun and never finished (the state a SIGKILL leaves)",
                  outcome="the manifest says `status: incomplete` (written first; `complete` written last); `pakcast "
                  "rerun` refuses it: \"did not finish ... nothing complete to compare\" (exit 2); a new run into "
                  "the directory needs `--force`")
def test_a_run_killed_half_way_is_marked_incomplete(tmp_path):
    d = tmp_path / "killed"
    out = prepare_out_dir(d)
    m = RunManifest(command="its", argv=["pakcast", "its", "--out", str(d)])
    out.begin(m)
    write_json(d / "its.json", {"partial": True})  # ... and the process dies here
    with pytest.raises(RerunError, match="did not finish"):
        load_manifest(d)
    r = runner.invoke(app, ["rerun", str(d)])
    assert r.exit_code == 2 and "did not finish" in r.output and "incomplete" in r.output
    with pytest.raises(OutputError, match="status incomplete"):
        prepare_out_dir(d)


@pytest.mark.case("rerun-briefing", fault="`pakcast rerun` of a run with a briefing", how="`its --out DIR` (study, "
                  "figure, briefing) then `pakcast rerun DIR`; unit test of free text with ids and clock times",
                  outcome="**was a bug** (always `differs`: the run id sits in the briefing's free text); now run, "
                  "ingest and vintage ids and clock times are set aside by rule wherever they appear: exit 0; any "
                  "other change in the text still `differs`")
def test_rerun_of_a_run_with_a_briefing_matches(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"text": "Run run-20261201T230526-a67933d5 (git x), generated 2026-12-01T23:05:26+00:00",
                             "as_of": "2021-09-30"}))
    b.write_text(json.dumps({"text": "Run run-20261202T010203-0badc0de (git x), generated 2026-12-02T01:02:03+00:00",
                             "as_of": "2021-09-30"}))
    assert compare_file(a, b, sha256_file(a)).status == "equal"
    b.write_text(json.dumps({"text": "Run run-20261202T010203-0badc0de (git y), generated 2026-12-02T01:02:03+00:00",
                             "as_of": "2021-09-30"}))
    assert compare_file(a, b, sha256_file(a)).status == "differs"
    d = tmp_path / "study"
    r = _pakcast(tmp_path, *ITS, "--out", str(d))
    assert r.returncode == 0, r.stderr[-2000:]
    assert (d / "briefing.json").is_file()
    r = _pakcast(tmp_path, "rerun", str(d), "--out", str(tmp_path / "again"))
    rep = json.loads((tmp_path / "again" / "rerun-report.json").read_text())
    statuses = {f["path"]: f["status"] for f in rep["files"]}
    assert r.returncode == 0, (statuses, r.stdout[-2000:])
    assert statuses["briefing.json"] in ("identical", "equal") and statuses["results.json"] in ("identical", "equal")


def _pakcast(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PAKCAST_FAULT", "PAKCAST_PAUSE")}
    env["MPLBACKEND"] = "Agg"
    return subprocess.run([sys.executable, "-m", "pakcast", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.case("outdir-symlink", fault="a symlinked subdirectory inside the output directory (`figures -> "
                  "/elsewhere`)", how="`pakcast its --out DIR`",
                  outcome="**was a bug** (followed: files outside the directory overwritten); now refused before "
                  "anything is written: \"... is a symbolic link ...: pakcast never writes through links\"; the "
                  "target is untouched")
def test_symlink_inside_the_output_directory_is_refused(tmp_path):
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "figure_1.png").write_bytes(b"mine")
    d = tmp_path / "study"
    d.mkdir()
    (d / "figures").symlink_to(outside, target_is_directory=True)
    r = runner.invoke(app, [*ITS, "--out", str(d)])
    assert r.exit_code == 1 and "symbolic link" in r.output and "Traceback" not in r.output
    assert [p.name for p in outside.iterdir()] == ["figure_1.png"] and (outside / "figure_1.png").read_bytes() == b"mine"
    assert sorted(p.name for p in d.iterdir()) == ["figures"]


@pytest.mark.case("out-is-file", fault="`--out` naming a file where a directory is expected, or a directory where a "
                  "file is expected", how="`pakcast its --out FILE`, `pakcast panel --out DIR`",
                  outcome="**was a traceback**; now one line (\"is a file, not a directory\" / \"it is a directory; "
                  "give a file name\"), exit 1, the file or directory unchanged")
def test_out_naming_the_wrong_kind_of_path(tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("keep me\n")
    r = runner.invoke(app, [*ITS, "--out", str(f)])
    assert r.exit_code == 1 and "is a file, not a directory" in r.output and f.read_text() == "keep me\n"
    d = tmp_path / "dir"
    d.mkdir()
    r = runner.invoke(app, ["panel", "--out", str(d), "--freq", "year"])
    assert r.exit_code == 1 and "it is a directory" in r.output and list(d.iterdir()) == []


@pytest.mark.case("output-read-only", fault="outputs on a read-only medium", how="tmpfs remounted read-only (root) "
                  "or an unwritable directory; `pakcast panel --out`, `pakcast its --out`",
                  outcome="**was a traceback**; now one line \"cannot write ...: Read-only file system\" (or permission "
                  "denied), exit 1, nothing changed")
def test_outputs_on_a_read_only_medium(medium, make_read_only):
    (medium / "old.csv").write_text("old\n")
    with make_read_only(medium):
        r = runner.invoke(app, ["panel", "--out", str(medium / "old.csv"), "--freq", "year"])
        assert r.exit_code == 1 and "cannot write" in r.output and "Traceback" not in r.output
        r = runner.invoke(app, [*ITS, "--out", str(medium / "study")])
        assert r.exit_code == 1 and "cannot" in r.output and "Traceback" not in r.output
    assert (medium / "old.csv").read_text() == "old\n" and not (medium / "study").exists()


@pytest.mark.case("output-disk-full", fault="disk full while writing an output", how="a 1 MB tmpfs filled up, then "
                  "`pakcast panel --out` over an existing file",
                  outcome="**was a traceback**; now one line \"cannot write ...: No space left on device; nothing was "
                  "replaced\", exit 1; the earlier file intact, no temporary file left")
def test_disk_full_leaves_the_earlier_file_intact(small_tmpfs):
    with small_tmpfs("1m") as mnt:
        target = mnt / "p.csv"
        target.write_text("earlier\n")
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        r = runner.invoke(app, ["panel", "--out", str(target), "--freq", "month"])
        assert r.exit_code == 1 and "No space left on device" in r.output and "Traceback" not in r.output
        assert target.read_text() == "earlier\n"
        assert sorted(p.name for p in mnt.iterdir()) == ["filler", "p.csv"]
