"""``pakcast rerun``: repeat a recorded run from its manifest and compare every output file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pakcast.forecast.io import sha256_file, write_json
from pakcast.forecast.manifest import RunManifest
from pakcast.forecast.rerun import RerunError, compare_file, load_manifest, rerun, rerun_argv

REPO = Path(__file__).resolve().parents[2]


def _pakcast(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "pakcast", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


# -- the comparison rules, on hand-made files ---------------------------------------------------
def _pair(tmp_path: Path, name: str, a: str, b: str) -> tuple[Path, Path, str]:
    (tmp_path / "old").mkdir(exist_ok=True)
    (tmp_path / "new").mkdir(exist_ok=True)
    old, new = tmp_path / "old" / name, tmp_path / "new" / name
    old.write_text(a, encoding="utf-8")
    new.write_text(b, encoding="utf-8")
    return old, new, sha256_file(old)


def test_identical_bytes(tmp_path):
    old, new, sha = _pair(tmp_path, "f.csv", "a,b\n1,2\n", "a,b\n1,2\n")
    assert compare_file(old, new, sha).status == "identical"


def test_deterministic_run_must_match_exactly(tmp_path):
    old, new, sha = _pair(tmp_path, "f.csv", "a,b\n1,2.0000001\n", "a,b\n1,2.0000002\n")
    res = compare_file(old, new, sha, exact=True)
    assert res.status == "differs" and "deterministic" in res.detail and "row 2, column 'b'" in res.detail


def test_seeded_run_within_and_beyond_tolerance(tmp_path):
    old, new, sha = _pair(tmp_path, "f.json", json.dumps({"x": [1.0, 2.0], "p": 0.5}),
                          json.dumps({"x": [1.0, 2.0000000001], "p": 0.5}))
    res = compare_file(old, new, sha, exact=False, rtol=1e-6)
    assert res.status == "within_tolerance" and res.max_abs_diff == pytest.approx(1e-10)
    res = compare_file(old, new, sha, exact=False, rtol=1e-12, atol=0)
    assert res.status == "differs" and "$.x[1]" in res.detail


def test_run_specific_fields_are_set_aside(tmp_path):
    a = {"run_id": "run-1", "created": "t1", "timings_seconds": {"total": 3.0}, "value": 1.5,
         "out": "/old/dir/f.json", "vintage": {"vintage_id": "v-1"}}
    b = {"run_id": "run-2", "created": "t2", "timings_seconds": {"total": 9.0}, "value": 1.5,
         "out": "/new/dir/f.json", "vintage": {"vintage_id": "v-2"}}
    old, new, sha = _pair(tmp_path, "r.json", json.dumps(a), json.dumps(b))
    assert compare_file(old, new, sha, subs=[("/old/dir", "/new/dir")]).status == "equal"
    assert compare_file(old, new, sha).status == "differs"  # the path differs without the substitution


@pytest.mark.case("rerun-refusals")
def test_structure_changes_missing_files_and_renderings(tmp_path):
    old, new, sha = _pair(tmp_path, "f.csv", "a,b\n1,2\n", "a,c\n1,2\n")
    assert "columns" in compare_file(old, new, sha).detail
    old, new, sha = _pair(tmp_path, "g.csv", "a\n1\n2\n", "a\n1\n")
    assert compare_file(old, new, sha).status == "differs"
    assert compare_file(old, tmp_path / "nope.csv", sha).status == "missing"
    old, new, sha = _pair(tmp_path, "f.svg", "<svg>1</svg>", "<svg>2</svg>")
    assert compare_file(old, new, sha).status == "not_compared"
    old, new, sha = _pair(tmp_path, "h.csv", "a\n1\n", "a\n2\n")
    old.write_text("a\n3\n", encoding="utf-8")  # the recorded output was edited after the run
    assert compare_file(old, new, sha).status == "unverifiable"


@pytest.mark.case("rerun-refusals", fault="rerun of a manifest not written by the CLI, into a non-empty directory, of an edited output",
                  how="unit",
                  outcome="refused with a clear message / `unverifiable`")
def test_manifest_without_cli_argv_is_refused(tmp_path):
    m = RunManifest(command="panel", argv=["/usr/bin/pytest", "-q"])
    (tmp_path / "p.csv").write_text("a\n1\n", encoding="utf-8")
    m.outputs = [{"path": "p.csv", "sha256": sha256_file(tmp_path / "p.csv")}]
    m.write(tmp_path, name="p.manifest.json")
    with pytest.raises(RerunError, match="not a pakcast command line"):
        rerun(tmp_path / "p.manifest.json")
    with pytest.raises(RerunError, match="no manifest"):
        load_manifest(tmp_path / "nothing")


def test_argv_is_redirected_into_the_fresh_directory(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "forecast.csv").write_text("a\n1\n", encoding="utf-8")
    m = RunManifest(command="quarterly", argv=["pakcast", "quarterly", "--out", "run", "--as-of", "2021-09-30"],
                    cwd=str(tmp_path))
    m.outputs = [{"path": "forecast.csv", "sha256": "x"}]
    mfile = m.write(run)
    new = tmp_path / "fresh"
    args, subs = rerun_argv(m, run, mfile, new)
    assert args[:3] == ["quarterly", "--out", str(new)]
    assert "--store" in args and str(tmp_path) in args[args.index("--store") + 1]  # a scratch store, never the user's
    assert ("run", str(new)) in subs


def test_default_output_directory_is_redirected_too(tmp_path):
    run = tmp_path / "reports" / "latest"
    run.mkdir(parents=True)
    m = RunManifest(command="quarterly", argv=["pakcast", "quarterly", "--store", "none"], cwd=str(tmp_path))
    m.outputs = [{"path": "forecast.csv", "sha256": "x"}]
    mfile = m.write(run)
    args, _ = rerun_argv(m, run, mfile, tmp_path / "fresh")
    assert args[-2:] == ["--out", str(tmp_path / "fresh")] and args[1:3] == ["--store", "none"]


@pytest.mark.case("rerun-deterministic", fault="rerun of a deterministic run",
                  how="`pakcast panel` then `pakcast rerun`",
                  outcome="`identical`, exit 0")
# -- end to end, through the CLI ----------------------------------------------------------------
def test_rerun_deterministic_panel_matches_exactly(tmp_path):
    r = _pakcast(tmp_path, "panel", "--out", "panel.csv", "--freq", "quarter")
    assert r.returncode == 0, r.stderr
    m = json.loads((tmp_path / "panel.manifest.json").read_text())
    assert m["cwd"] == str(tmp_path) and m["inputs"] and m["outputs"][0]["path"] == "panel.csv"
    r = _pakcast(tmp_path, "rerun", "panel.manifest.json", "--out", "again")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "deterministic run: outputs must match exactly" in r.stdout and "results match" in r.stdout
    rep = json.loads((tmp_path / "again" / "rerun-report.json").read_text())
    assert [f["status"] for f in rep["files"]] == ["identical"]
    assert rep["stochastic"] is False and rep["exit_code"] == 0


@pytest.mark.case("rerun-changed-input", fault="rerun after an input changed",
                  how="edit the input CSV",
                  outcome="exit 3, both hashes printed, not repeated; with `--allow-changed-inputs` exit 1 and the differing cells named (`row 2, column 'killed'`)")
def test_rerun_reports_changed_input_first(tmp_path):
    src = tmp_path / "events.csv"
    src.write_text("event_id,date,killed,province\na,2015-01-03,2,Punjab\nb,2015-02-03,1,Sindh\n", encoding="utf-8")
    r = _pakcast(tmp_path, "panel", "--out", "p.csv", "--input", "events.csv", "--source", "csv")
    assert r.returncode == 0, r.stderr
    src.write_text("event_id,date,killed,province\na,2015-01-03,7,Punjab\nb,2015-02-03,1,Sindh\n", encoding="utf-8")
    r = _pakcast(tmp_path, "rerun", "p.manifest.json", "--out", "again")
    assert r.returncode == 3
    msg = " ".join((r.stdout + r.stderr).split())
    assert "input mismatch" in msg and "events.csv" in msg and "CHANGED" in msg and "not repeated" in msg
    assert not (tmp_path / "again" / "p.csv").exists()
    r = _pakcast(tmp_path, "rerun", "p.manifest.json", "--out", "again2", "--allow-changed-inputs")
    assert r.returncode == 1, r.stdout + r.stderr
    rep = json.loads((tmp_path / "again2" / "rerun-report.json").read_text())
    (f,) = rep["files"]
    assert f["status"] == "differs" and "'killed'" in f["detail"]


@pytest.mark.case("rerun-seeded", fault="rerun of seeded stochastic runs",
                  how="`pakcast breaks`, `pakcast hawkes`, `pakcast quarterly`",
                  outcome="`identical`/`equal` (max difference 0); another seed is reported `differs` (max rel. diff 8.7e-2 on the Hawkes intervals)")
def test_rerun_seeded_stochastic_breaks(tmp_path):
    """pakcast breaks simulates its sup-F p-values: the same seed must give the same numbers."""
    r = _pakcast(tmp_path, "breaks", "--json", "b.json", "--series", "Punjab", "--outcome", "attacks",
                 "--max-breaks", "1", "--seed", "7")
    assert r.returncode == 0, r.stderr
    r = _pakcast(tmp_path, "rerun", "b.manifest.json", "--out", "again")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "seeded stochastic run" in r.stdout
    rep = json.loads((tmp_path / "again" / "rerun-report.json").read_text())
    assert rep["stochastic"] is True and rep["files"][0]["status"] in ("identical", "equal", "within_tolerance")


@pytest.mark.case("rerun-seeded")
def test_rerun_seeded_hawkes_and_another_seed_differs(tmp_path):
    """pakcast hawkes simulates its count forecast (seeded); its JSON embeds the manifest. The same
    seed repeats; another seed gives other draws, which the comparison reports as ``differs``."""
    args = ("hawkes", "--province", "Balochistan", "--n-samples", "200")
    assert _pakcast(tmp_path, *args, "--json", "h.json", "--seed", "3").returncode == 0
    r = _pakcast(tmp_path, "rerun", "h.json", "--out", "again")
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads((tmp_path / "again" / "rerun-report.json").read_text())
    assert rep["stochastic"] is True and rep["files"][0]["status"] in ("equal", "within_tolerance")
    assert _pakcast(tmp_path, *args, "--json", "h4.json", "--seed", "4").returncode == 0
    other = compare_file(tmp_path / "h.json", tmp_path / "h4.json", None, exact=False)
    assert other.status == "differs" and other.max_rel_diff > 1e-3


@pytest.mark.case("rerun-refusals")
def test_rerun_refuses_to_overwrite(tmp_path):
    r = _pakcast(tmp_path, "panel", "--out", "p.csv", "--freq", "year")
    assert r.returncode == 0
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(RerunError, match="not empty"):
        rerun(tmp_path / "p.manifest.json", tmp_path / "busy")


@pytest.mark.case("rerun-seeded")
@pytest.mark.slow
def test_rerun_seeded_quarterly_run(tmp_path):
    """The quarterly run (backtest + forecast samples, seeded) repeats within tolerance, without
    touching the recorded store."""
    store = tmp_path / "store.duckdb"
    r = _pakcast(tmp_path, "quarterly", "--data", "ucdp", "--out", "q", "--models", "last_value,seasonal_naive,historical_rate",
                 "--scheduler", "serial", "--n-samples", "200", "--no-studies", "--no-report",
                 "--backtest-start", "2018-01-01", "--store", str(store), "--random-seed", "11")
    assert r.returncode == 0, r.stderr[-3000:]
    from pakcast.forecast.store import Store

    n_before = len(Store(store).vintages())
    r = _pakcast(tmp_path, "rerun", "q", "--out", "q2")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rep = json.loads((tmp_path / "q2" / "rerun-report.json").read_text())
    statuses = {f["path"]: f["status"] for f in rep["files"]}
    assert {"forecast.csv", "backtest.csv", "results.json", "panel.csv"} <= set(statuses)
    assert all(s in ("identical", "equal", "within_tolerance") for s in statuses.values()), statuses
    assert len(Store(store).vintages()) == n_before  # the rerun archived into a scratch store
