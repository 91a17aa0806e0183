"""Every CLI command that writes output files writes a run manifest beside them.

The manifest records the command and options, the input files with sha256, package versions,
random seeds (for commands that take one), the git revision, the working directory and the
output files with sha256 (matching the files on disk).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pakcast.forecast.cli import app
from pakcast.forecast.io import sha256_file

runner = CliRunner()


def _invoke(*args: str):
    res = runner.invoke(app, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


def _check(manifest: Path, command: str, *, outputs_in: Path, seeded: bool, needs_inputs: bool = True) -> dict:
    assert manifest.is_file(), f"no manifest at {manifest}"
    m = json.loads(manifest.read_text(encoding="utf-8"))
    assert m["command"] == command
    for key in ("run_id", "created", "options", "argv", "package_versions", "git_revision", "inputs", "outputs",
                "random_seeds"):
        assert key in m, key
    assert {"numpy", "pandas", "python"} <= set(m["package_versions"])
    if needs_inputs:
        assert m["inputs"], "the input files must be recorded"
        for i in m["inputs"]:
            assert len(i["sha256"]) == 64 and sha256_file(i["path"]) == i["sha256"]
    if seeded:
        assert m["random_seeds"], "a seeded command must record its seed"
    for o in m["outputs"]:
        if o.get("sha256") is not None:
            assert sha256_file(outputs_in / o["path"]) == o["sha256"], o["path"]
    return m


def test_panel_writes_manifest(tmp_path):
    out = tmp_path / "panel.csv"
    _invoke("panel", "--out", str(out), "--freq", "year")
    m = _check(tmp_path / "panel.manifest.json", "panel", outputs_in=tmp_path, seeded=False)
    assert m["outputs"][0]["path"] == "panel.csv" and m["options"]["freq"] == "year"


def test_panel_from_input_records_the_input(tmp_path):
    src = tmp_path / "ev.csv"
    src.write_text("event_id,date,killed,province\na,2015-01-03,2,Punjab\n", encoding="utf-8")
    _invoke("panel", "--out", str(tmp_path / "p.csv"), "--input", str(src), "--source", "csv")
    m = _check(tmp_path / "p.manifest.json", "panel", outputs_in=tmp_path, seeded=False)
    assert m["inputs"][0]["path"] == str(src) and m["inputs"][0]["role"] == "csv"


def test_describe_json_writes_manifest(tmp_path):
    _invoke("describe", "--json", str(tmp_path / "d.json"))
    _check(tmp_path / "d.manifest.json", "describe", outputs_in=tmp_path, seeded=False)


def test_breaks_writes_manifest(tmp_path):
    _invoke("breaks", "--json", str(tmp_path / "b.json"), "--series", "Sindh", "--outcome", "attacks",
            "--max-breaks", "1")
    _check(tmp_path / "b.manifest.json", "breaks", outputs_in=tmp_path, seeded=True)


def test_its_study_directory_has_manifest(tmp_path):
    out = tmp_path / "its"
    _invoke("its", "--intervention", "2014-06-01", "--series", "national", "--outcome", "attacks", "--out", str(out))
    _check(out / "manifest.json", "its", outputs_in=out, seeded=True)


def test_hawkes_embeds_manifest(tmp_path):
    _invoke("hawkes", "--json", str(tmp_path / "h.json"), "--province", "Sindh", "--n-samples", "100")
    d = json.loads((tmp_path / "h.json").read_text())
    assert d["manifest"]["command"] == "hawkes" and d["manifest"]["random_seeds"]


def test_hawkes_records_the_shipped_input(tmp_path):
    _invoke("hawkes", "--json", str(tmp_path / "h.json"), "--province", "Sindh", "--n-samples", "100")
    assert json.loads((tmp_path / "h.json").read_text())["manifest"]["inputs"]


def test_backtest_writes_manifest(tmp_path):
    _invoke("backtest", "--json", str(tmp_path / "bt.json"), "--models", "last_value", "--origins", "2019-01",
            "--scheduler", "serial", "--n-samples", "100", "--measures", "attacks", "--csv", str(tmp_path / "bt.csv"))
    m = _check(tmp_path / "bt.manifest.json", "backtest", outputs_in=tmp_path, seeded=True)
    assert {o["path"] for o in m["outputs"]} == {"bt.json", "bt.csv"}


@pytest.mark.slow
def test_quarterly_run_directory_has_manifest(tmp_path):
    out = tmp_path / "q"
    _invoke("quarterly", "--data", "ucdp", "--out", str(out), "--models", "last_value", "--scheduler", "serial", "--n-samples", "100",
            "--no-studies", "--no-report", "--backtest-start", "2020-01-01", "--store", "none")
    m = _check(out / "manifest.json", "quarterly", outputs_in=out, seeded=True)
    assert {o["path"] for o in m["outputs"]} >= {"forecast.csv", "backtest.csv", "results.json", "panel.csv"}


@pytest.mark.slow
def test_attribute_writes_manifest(tmp_path):
    _invoke("attribute", "--json", str(tmp_path / "a.json"), "--no-checks", "--n-draws", "20")
    _check(tmp_path / "a.manifest.json", "attribute", outputs_in=tmp_path, seeded=True)


@pytest.mark.slow
def test_bayes_changepoint_writes_manifest(tmp_path):
    _invoke("bayes", "changepoint", "--json", str(tmp_path / "c.json"), "--series", "national", "--sampler", "pymc",
            "--draws", "50", "--tune", "50", "--chains", "2", "--allow-unconverged")
    m = _check(tmp_path / "c.manifest.json", "bayes changepoint", outputs_in=tmp_path, seeded=True)
    assert m["run_id"] == json.loads((tmp_path / "c.json").read_text())["run_id"]


@pytest.mark.slow
def test_bayes_its_directory_has_manifest(tmp_path):
    out = tmp_path / "bits"
    _invoke("bayes", "its", "--out", str(out), "--sampler", "pymc", "--draws", "30", "--tune", "30", "--chains", "2",
            "--cores", "1", "--horizon", "0", "--start", "2012-01", "--allow-unconverged")
    m = _check(out / "manifest.json", "bayes its", outputs_in=out, seeded=True, needs_inputs=False)
    assert m["outputs"]
