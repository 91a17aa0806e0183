"""``pakcast breaks`` and ``pakcast its``: the issue's contract keys, on a CSV and on the Pakistan panel."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

from pakcast.forecast.cli import app

runner = CliRunner()


@pytest.fixture()
def nile_csv(tmp_path):
    d = sm.datasets.nile.load_pandas().data
    p = tmp_path / "nile.csv"
    pd.DataFrame({"year": d["year"].astype(int), "flow": d["volume"]}).to_csv(p, index=False)
    return p


def _check_breaks_contract(out: dict) -> None:
    assert set(out) >= {"known", "unknown", "segments"}
    for k in out["known"]:
        assert set(k) >= {"date", "test", "statistic", "p_value"}
    assert set(out["unknown"]["sup_f"]) >= {"statistic", "p_value", "date"}
    for b in out["unknown"]["breaks"]:
        assert set(b) >= {"date", "index", "ci_low", "ci_high"}
    for s in out["segments"]:
        assert set(s) >= {"start", "end", "mean"}


def test_breaks_csv_nile_matches_strucchange(nile_csv, tmp_path):
    js = tmp_path / "b.json"
    r = runner.invoke(app, ["breaks", "--csv", str(nile_csv), "--column", "flow", "--date-col", "year",
                            "--dates", "1899", "--json", str(js)])
    assert r.exit_code == 0, r.output
    out = json.loads(js.read_text())
    _check_breaks_contract(out)
    # strucchange: breakpoints(Nile ~ 1) -> 1898 (obs 28), confint 1895..1902; sctest(Fstats) sup.F = 75.93
    b = out["unknown"]["breaks"]
    assert len(b) == 1 and b[0]["index"] == 27
    assert (b[0]["date"], b[0]["ci_low"], b[0]["ci_high"]) == (1898, 1895, 1902)  # years stay years
    assert round(out["unknown"]["sup_f"]["statistic"], 2) == 75.93
    assert out["known"][0]["test"] == "chow" and out["known"][0]["p_value"] < 1e-10
    assert (tmp_path / "b.manifest.json").exists()


def test_breaks_panel(tmp_path):
    js = tmp_path / "p.json"
    r = runner.invoke(app, ["breaks", "--series", "Khyber Pakhtunkhwa", "--outcome", "killed", "--start", "2007-01",
                            "--dates", "2014-12,2021-08", "--max-breaks", "3", "--cost", "negbin", "--json", str(js)])
    assert r.exit_code == 0, r.output
    out = json.loads(js.read_text())
    _check_breaks_contract(out)
    assert out["n"] == 180
    assert {k["test"] for k in out["known"]} == {"chow", "lr_negbin"}
    assert [k["n_post"] for k in out["known"] if k["date"] == "2021-08"] == [5, 5]
    assert len(out["unknown"]["breaks"]) <= 3


def test_breaks_bad_input(tmp_path, nile_csv):
    r = runner.invoke(app, ["breaks", "--csv", str(nile_csv), "--column", "nope", "--json", str(tmp_path / "x.json")])
    assert r.exit_code != 0 and "nope" in r.output
    r = runner.invoke(app, ["breaks", "--series", "Atlantis", "--outcome", "attacks", "--json", str(tmp_path / "x.json")])
    assert r.exit_code != 0


@pytest.fixture()
def sicily_csv(reference_dir, tmp_path):
    d = pd.read_csv(reference_dir / "sicily.csv")
    d["month_str"] = [f"{y}-{m:02d}" for y, m in zip(d.year, d.month)]
    p = tmp_path / "sicily.csv"
    d.to_csv(p, index=False)
    return p


def test_its_csv_contract_and_reference(sicily_csv, tmp_path):
    js = tmp_path / "its.json"
    r = runner.invoke(app, ["its", "--csv", str(sicily_csv), "--outcome", "aces", "--date-col", "month_str",
                            "--offset", "stdpop", "--intervention", "2005-01", "--effects", "level",
                            "--family", "quasipoisson", "--seasonality", "2", "--cov-type", "nonrobust",
                            "--json", str(js)])
    assert r.exit_code == 0, r.output
    out = json.loads(js.read_text())
    iv = out["interventions"][0]
    assert set(iv) >= {"date", "level_rate_ratio", "slope_rate_ratio", "excess"}
    for k in ("level_rate_ratio", "excess"):
        assert set(iv[k]) >= {"estimate", "ci_low", "ci_high"}
    # Lopez Bernal et al. (2017), seasonally adjusted quasi-Poisson model: RR 0.885 (0.839-0.933)
    lv = iv["level_rate_ratio"]
    assert (round(lv["estimate"], 3), round(lv["ci_low"], 3), round(lv["ci_high"], 3)) == (0.885, 0.839, 0.933)
    assert iv["slope_rate_ratio"] is None


def test_its_without_outcome_label_never_takes_the_column_for_a_noun(sicily_csv, tmp_path):
    """No --outcome-label: the column is named as a column ("units of aces", "the outcome aces"), never
    "19,723 aces"; the label names it everywhere when given, and --help says so."""
    d = tmp_path / "study"
    r = runner.invoke(app, ["its", "--csv", str(sicily_csv), "--outcome", "aces", "--date-col", "month_str",
                            "--offset", "stdpop", "--intervention", "2005-01", "--effects", "level",
                            "--family", "quasipoisson", "--seasonality", "2", "--cov-type", "nonrobust",
                            "--out", str(d)])
    assert r.exit_code == 0, r.output
    out = json.loads((d / "results.json").read_text())
    assert out["outcome"] == "aces" and out["outcome_label"] == "units of aces"
    head, rests = out["narrative"][:2]
    assert " units of aces were recorded over 23 months" in head
    assert "59 months of the outcome aces from sicily.csv" in rests
    text = " ".join(r.output.split())
    assert " aces were recorded" not in text.replace("units of aces were", "") and "fewer aces" not in text
    html = (d / "briefing.html").read_text(encoding="utf-8")
    assert "units of aces were recorded" in html and "Interrupted time series: units of aces" in html
    assert "units of aces" in (d / "figures" / "its_impact_1.svg").read_text(encoding="utf-8")
    js = tmp_path / "labelled.json"
    r = runner.invoke(app, ["its", "--csv", str(sicily_csv), "--outcome", "aces", "--date-col", "month_str",
                            "--offset", "stdpop", "--intervention", "2005-01", "--effects", "level",
                            "--outcome-label", "acute  coronary events", "--json", str(js)])
    assert r.exit_code == 0, r.output
    lab = json.loads(js.read_text())
    assert lab["outcome_label"] == "acute coronary events" and "units of" not in " ".join(lab["narrative"])
    assert "59 months of acute coronary events from sicily.csv" in lab["narrative"][1]
    help_text = " ".join(runner.invoke(app, ["its", "--help"], terminal_width=200).output.split())
    assert "--outcome-label" in help_text and "Names the outcome in the narrative, figures and briefing" in help_text
    assert "(default: 'units of COLUMN')" in help_text


def test_its_panel_with_study_dir(tmp_path):
    d = tmp_path / "study"
    r = runner.invoke(app, ["its", "--series", "national", "--outcome", "attacks", "--start", "2010-12",
                            "--end", "2018-11", "--intervention", "2014-12", "--family", "negbin",
                            "--out", str(d), "--json", str(tmp_path / "its.json")])
    assert r.exit_code == 0, r.output
    out = json.loads((d / "results.json").read_text())
    assert out == json.loads((tmp_path / "its.json").read_text()) and out["kind"] == "its"
    iv = out["interventions"][0]
    for k in ("level_rate_ratio", "slope_rate_ratio", "excess"):
        assert set(iv[k]) >= {"estimate", "ci_low", "ci_high"}
    assert iv["n_pre"] == 48 and iv["n_post"] == 48
    assert (d / "manifest.json").exists() and (d / "figures" / "its_impact_1.svg").exists()
    man = json.loads((d / "manifest.json").read_text())
    assert {"results.json", "its.csv", "briefing.html"} <= {o["path"] for o in man["outputs"]}


def test_its_options_validated(tmp_path, sicily_csv):
    r = runner.invoke(app, ["its", "--csv", str(sicily_csv), "--outcome", "aces", "--intervention", "2005-01",
                            "--family", "gaussian", "--json", str(tmp_path / "x.json")])
    assert r.exit_code != 0 and "family" in r.output
    r = runner.invoke(app, ["its", "--csv", str(sicily_csv), "--outcome", "aces", "--date-col", "month_str",
                            "--intervention", "1990-01", "--json", str(tmp_path / "x.json")])
    assert r.exit_code != 0


def test_its_on_numeric_years_keeps_years(nile_csv, tmp_path):
    js = tmp_path / "its.json"
    r = runner.invoke(app, ["its", "--csv", str(nile_csv), "--column", "flow", "--date-col", "year",
                            "--intervention", "1899", "--effects", "level", "--json", str(js)])
    assert r.exit_code == 0, r.output
    out = json.loads(js.read_text())
    assert out["time_unit"] == "year" and (out["start"], out["end"]) == ("1871", "1970")
    assert out["interventions"][0]["date"] == "1899" and out["impact"][0]["first_post"] == "1899"
    assert out["pointwise"][0]["time"] == "1871" and out["data_notes"] == []
    assert out["narrative"][0].startswith("After 1899, ") and "1899.0" not in r.output
    assert "1899.0" not in js.read_text() and "1871-01-01" not in js.read_text()


def test_its_reports_a_gap_in_numeric_years(nile_csv, tmp_path):
    gappy = tmp_path / "nile_gap.csv"
    d = pd.read_csv(nile_csv)
    d[~d["year"].isin([1920, 1921])].to_csv(gappy, index=False)
    args = ["its", "--csv", str(gappy), "--column", "flow", "--date-col", "year", "--effects", "level"]
    r = runner.invoke(app, [*args, "--intervention", "1899", "--json", str(tmp_path / "a.json")])
    assert r.exit_code == 0, r.output
    note = "2 values missing from 'year' (1920, 1921): the model treats the time axis as given"
    assert note in r.output and json.loads((tmp_path / "a.json").read_text())["data_notes"][0].startswith(note)
    # the notes describe the window studied: a window after the gap has none
    r = runner.invoke(app, [*args, "--intervention", "1940", "--start", "1925", "--json", str(tmp_path / "b.json")])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "b.json").read_text())["data_notes"] == [] and "missing" not in r.output


def test_its_seasonality_on_a_numeric_axis_names_period(nile_csv, tmp_path):
    args = ["its", "--csv", str(nile_csv), "--column", "flow", "--date-col", "year", "--intervention", "1899",
            "--seasonality", "2", "--json", str(tmp_path / "x.json")]
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and "--period" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "x.json").exists()
    r = runner.invoke(app, [*args, "--period", "12"])
    assert r.exit_code == 0, r.output
