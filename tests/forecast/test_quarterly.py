"""The quarterly run end to end on the shipped panel (small settings fast; defaults slow)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pakcast.forecast.quarterly import QuarterlyConfig, forecast_table, run, score_vintage

FC_COLUMNS = ["province", "quarter", "measure", "mean", "q05", "q25", "q50", "q75", "q95", "last_year",
              "p_gt_last_year"]
SMALL = dict(data="ucdp", models=("zero", "historical_rate", "conflictology", "nb_glm"), n_samples=200,
             backtest_start="2019-01-01", scheduler="serial", studies=False, report=False, forecast_only=())


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("q")
    store = base / "store.duckdb"
    m1 = run(QuarterlyConfig(out=base / "r1", as_of="2020-12", store=store, **SMALL))
    m2 = run(QuarterlyConfig(out=base / "r2", as_of="2021-12", store=store, **SMALL))
    return base, store, m1, m2


def test_run_directory_contract(two_runs):
    base, _, m1, _ = two_runs
    d = base / "r1"
    for name in ("manifest.json", "panel.csv", "forecast.csv", "backtest.csv", "results.json", "breaks.json",
                 "attribution.json"):
        assert (d / name).exists(), name
    fc = pd.read_csv(d / "forecast.csv")
    assert list(fc.columns[:11]) == FC_COLUMNS
    assert sorted(fc["quarter"].unique()) == ["2021Q1", "2021Q2", "2021Q3", "2021Q4"]
    assert set(fc["measure"]) == {"attacks", "killed"}
    assert "Pakistan" in set(fc["province"])
    q = fc[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all()
    assert fc["p_gt_last_year"].between(0, 1).all()
    # last_year is the observed same quarter a year earlier
    panel = pd.read_csv(d / "panel.csv")
    kp = panel[(panel.province == "Khyber Pakhtunkhwa") & panel.period.isin(["2020-01", "2020-02", "2020-03"])]
    row = fc[(fc.province == "Khyber Pakhtunkhwa") & (fc.quarter == "2021Q1") & (fc.measure == "attacks")]
    assert row["last_year"].iloc[0] == kp["attacks"].sum()
    assert panel["period"].max() == "2020-12"  # truncated at as_of
    man = json.loads((d / "manifest.json").read_text())
    assert man["run_id"] == m1.run_id and {o["path"] for o in man["outputs"]} >= {"forecast.csv", "results.json"}


def test_national_forecast_is_coherent_in_mean(two_runs):
    base = two_runs[0]
    fc = pd.read_csv(base / "r1" / "forecast.csv")
    nat = fc[fc.province == "Pakistan"].set_index(["quarter", "measure"])["mean"]
    prov = fc[fc.province != "Pakistan"].groupby(["quarter", "measure"])["mean"].sum()
    np.testing.assert_allclose(nat.sort_index(), prov.sort_index(), rtol=1e-9)


def test_results_json_reports_backtest_models_and_what_was_not_produced(two_runs):
    res = json.loads((two_runs[0] / "r1" / "results.json").read_text())
    assert res["as_of"] == "2020-12" and res["published_model"] == "published"
    sel = res["models"]["published_selection"]
    assert {(r["measure"], r["province"]) for r in sel} >= {("attacks", "Sindh"), ("killed", "Balochistan")}
    assert all(r["model"] in {"stack", "historical_rate", "conflictology"} for r in sel)  # never a point mass
    assert all(("baseline is published" in r["note"]) == r["baseline_published"] for r in sel)
    assert res["data"]["n_months"] > 300 and res["data"]["last_month"] == "2020-12"
    rec = res["backtest"]["summary"][0]
    assert {"model", "province", "measure", "crps", "log_score", "coverage_90", "skill_vs_best_baseline"} <= set(rec)
    assert set(res["models"]["ensemble_weights"]["attacks"]) == {"ens_equal", "ens_crps", "published"}
    assert res["not_produced"]["breaks.json"].startswith("studies disabled")
    assert res["not_produced"]["briefing"].startswith("report disabled")
    assert json.loads((two_runs[0] / "r1" / "breaks.json").read_text())["status"] == "not produced"
    assert res["backtest"]["diebold_mariano"] and res["backtest"]["goal_check"]
    national = [g for g in res["backtest"]["goal_check"] if g["unique_id"] == "Pakistan"]
    assert national and all(g["in_goal_scope"] for g in national)  # the national series is in the goals' scope


def test_vintages_are_archived_and_earlier_ones_scored(two_runs):
    from pakcast.forecast.store import Store

    base, store_path, m1, m2 = two_runs
    store = Store(store_path)
    v = store.vintages()
    assert len(v) == 2 and set(v["run_id"]) == {m1.run_id, m2.run_id}
    res2 = json.loads((base / "r2" / "results.json").read_text())
    scores = pd.DataFrame(res2["earlier_vintages"]["scores"])
    assert set(scores["quarter"]) == {"2021Q1", "2021Q2", "2021Q3", "2021Q4"}
    assert {"observed", "crps", "covered_90"} <= set(scores.columns)
    # outcomes equal the second run's panel sums
    panel = pd.read_csv(base / "r2" / "panel.csv")
    obs = panel[(panel.province == "Pakistan") & panel.period.str.startswith("2021")]["attacks"].sum()
    got = scores[(scores.province == "Pakistan") & (scores.measure == "attacks")]["observed"].sum()
    assert got == obs
    stored = store.scores(res2["earlier_vintages"]["scores"][0]["vintage_id"])
    assert len(stored) == len(scores)


def test_rerun_does_not_duplicate_stored_scores(two_runs, tmp_path):
    from pakcast.forecast.store import Store

    base, store_path, _, _ = two_runs
    run(QuarterlyConfig(out=tmp_path / "r3", as_of="2021-12", store=store_path, **{**SMALL, "backtest": False}))
    store = Store(store_path)
    first = store.vintages()["vintage_id"].iloc[0]
    assert len(store.scores(first)) == 8 * 4 * 2  # 8 series x 4 quarters x 2 measures, scored once


def test_score_vintage_quantile_crps_matches_sample_crps():
    from pakcast.forecast import scoring

    rng = np.random.default_rng(0)
    smp = rng.poisson(20, size=(1, 3, 20000))
    hist = {"attacks": pd.DataFrame([[5, 5, 5]], index=["X"],
                                    columns=pd.date_range("2019-01-01", periods=3, freq="MS"))}
    fc, pct = forecast_table({"attacks": smp}, ["X"], pd.Timestamp("2020-01-01"), hist, model="m")
    outcomes = {"attacks": pd.DataFrame([[20, 25, 18]], index=["X"],
                                        columns=pd.date_range("2020-01-01", periods=3, freq="MS"))}
    sc = score_vintage(fc.merge(pct), outcomes, pd.Timestamp("2020-03-31"))
    assert len(sc) == 1 and sc["observed"].iloc[0] == 63
    exact = scoring.crps(np.array([63.0]), smp[0].sum(axis=0)[None, :].astype(float))[0]
    assert sc["crps"].iloc[0] == pytest.approx(exact, rel=0.05)
    assert fc["last_year"].iloc[0] == 15


def test_config_validation_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown model"):
        QuarterlyConfig(models=("prophet",)).validate()
    with pytest.raises(ValueError, match="--as-of"):
        QuarterlyConfig(as_of="not a date").validate()
    with pytest.raises(FileNotFoundError, match="--input"):
        QuarterlyConfig(input=tmp_path / "missing.csv").validate()
    with pytest.raises(ValueError, match="after the last month"):
        run(QuarterlyConfig(out=tmp_path / "x", as_of="2030-01", store="none", **SMALL))


def test_input_panel_csv_and_missing_columns(tmp_path):
    from pakcast.forecast.panel import load_panel

    p = load_panel("month")
    p = p[p["ds"] >= "2015-01-01"].rename(columns={"unique_id": "province"})
    p["period"] = p.pop("ds").dt.strftime("%Y-%m")
    p[["province", "period", "attacks", "killed"]].to_csv(tmp_path / "in.csv", index=False)
    cfg = QuarterlyConfig(out=tmp_path / "o", input=tmp_path / "in.csv", store="none",
                          **{**SMALL, "backtest_start": "2020-01-01"})
    run(cfg)
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert res["data"]["source"].startswith("user panel") and res["data"]["first_month"] == "2015-01"
    p.drop(columns="killed").to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="missing required column"):
        run(QuarterlyConfig(out=tmp_path / "o2", input=tmp_path / "bad.csv", store="none", **SMALL))


def test_backtest_command_writes_the_json_contract(tmp_path):
    from pakcast.forecast.cli import app

    out = tmp_path / "bt.json"
    r = CliRunner().invoke(app, ["backtest", "--json", str(out), "--models", "historical_rate,conflictology",
                                 "--origins", "2020-01:2020-10", "--scheduler", "serial", "--n-samples", "100",
                                 "--measures", "attacks"])
    assert r.exit_code == 0, r.output
    payload = json.loads(out.read_text())
    contract = {"model", "province", "measure", "resolution", "crps", "coverage_90", "pit_ks_p",
                "skill_vs_best_baseline", "skill_ci_low", "skill_ci_high", "published"}
    rows = payload["rows"]
    assert all(contract <= set(rec) for rec in rows)
    assert {r["resolution"] for r in rows} == {"month", "quarter"} and {r["measure"] for r in rows} == {"attacks"}
    assert [r["model"] for r in rows if r["published"]] and all(r["model"] == "published" for r in rows if r["published"])
    assert "final data version" in payload["data_version_note"]
    assert payload["selection"]["by_origin"] and "rule" in payload["selection"]
    assert payload["origins"] == ["2020-01", "2020-04", "2020-07", "2020-10"]
    bad = CliRunner().invoke(app, ["backtest", "--json", str(out), "--models", "prophet"])
    assert bad.exit_code == 2


def test_backtest_command_recalibrates_from_scored_origins_only(tmp_path):
    """``pakcast backtest --recalibrate``: the tail scales are reported per origin, start at 1 and
    learn only from the quarters of scored origins that ended before each origin."""
    from pakcast.forecast.cli import app

    out = tmp_path / "bt.json"
    r = CliRunner().invoke(app, ["backtest", "--json", str(out), "--models", "historical_rate,conflictology",
                                 "--origins", "2019-01:2020-10", "--scheduler", "serial", "--n-samples", "100",
                                 "--measures", "attacks", "--recalibrate"])
    assert r.exit_code == 0, r.output
    payload = json.loads(out.read_text())
    assert "AdaptiveTailScales" in payload["selection"]["rule"]
    rows = [x for x in payload["selection"]["by_origin"] if not x.get("forecast_origin")]
    assert rows and all({"scale_lo", "scale_hi", "recal_points"} <= set(x) for x in rows)
    for x in rows:
        if x["warmup"] or x["origin"] == "2019-01":  # no quarter of a scored origin has ended yet
            assert (x["scale_lo"], x["scale_hi"], x["recal_points"]) == (1.0, 1.0, 0)
        if x["origin"] == "2019-04":  # 2019Q1, forecast at 2019-01, has ended
            assert x["recal_points"] == 1
    last = [x for x in rows if x["origin"] == "2020-10"]
    assert last and all(x["recal_points"] > 0 for x in last)
    manifest = json.loads((tmp_path / "bt.manifest.json").read_text())
    assert manifest["options"]["recalibrate"] is True


@pytest.mark.slow
def test_quarterly_defaults_end_to_end(tmp_path):
    """The UCDP-only run with default settings: every output, studies and briefing included."""
    from pakcast.forecast.cli import app

    out = tmp_path / "latest"
    r = CliRunner().invoke(app, ["quarterly", "--data", "ucdp", "--out", str(out), "--store", str(tmp_path / "s.duckdb")])
    assert r.exit_code == 0, r.output
    res = json.loads((out / "results.json").read_text())
    assert res["not_produced"] == {}, res["not_produced"]
    for name in ("breaks.json", "attribution.json", "briefing.html", "briefing.json", "forecast.csv", "backtest.csv"):
        assert (out / name).exists(), name
    assert len(res["backtest"]["origins"]) == 48
    bayes = res["forecast_only_models"]["bayes_hier"]
    assert bayes["status"] == "ok", bayes
    assert set(bayes["diagnostics"]) == {"attacks", "killed"}
    assert {r["province"] for r in bayes["rows"]} >= {"Pakistan", "Khyber Pakhtunkhwa"}


def test_cli_source_label_names_the_users_file(tmp_path):
    """``pakcast quarterly --input FILE --source-label TEXT``: the run credits the file by the label given."""
    from pakcast.forecast.cli import app
    from pakcast.forecast.panel import load_panel

    p = load_panel("month")
    p = p[p["ds"] >= "2016-01-01"].rename(columns={"unique_id": "province"})
    p["period"] = p.pop("ds").dt.strftime("%Y-%m")
    p[["province", "period", "attacks", "killed"]].to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["quarterly", "--input", str(tmp_path / "in.csv"), "--source-label",
                                 "PICSS monthly reports (own copy)", "--out", str(out), "--store", "none",
                                 "--models", "zero,historical_rate", "--n-samples", "100", "--scheduler", "serial",
                                 "--backtest-start", "2021-01-01", "--no-studies", "--no-report", "--no-bayes"])
    assert r.exit_code == 0, r.output
    src = json.loads((out / "results.json").read_text())["sources"]
    assert [s["name"] for s in src] == ["PICSS monthly reports (own copy)"] and src[0]["file"] == "in.csv"
    assert "PICSS monthly reports (own copy)" in r.output


def test_briefing_on_a_users_panel_credits_only_what_it_used(tmp_path):
    """``quarterly --input`` with the briefing: every source line credits the user's file; no UCDP, no
    boundaries without a map, and the methods and glossary hold only the parts this run produced."""
    import re

    from pakcast.forecast.cli import app
    from pakcast.forecast.panel import load_panel

    p = load_panel("month")
    p = p[p["ds"] >= "2016-01-01"].rename(columns={"unique_id": "province"})
    p["period"] = p.pop("ds").dt.strftime("%Y-%m")
    p[["province", "period", "attacks", "killed"]].to_csv(tmp_path / "in.csv", index=False)
    out, label = tmp_path / "o", "Monthly security reports (own copy)"
    r = CliRunner().invoke(app, ["quarterly", "--input", str(tmp_path / "in.csv"), "--source-label", label,
                                 "--out", str(out), "--store", "none", "--models", "zero,historical_rate",
                                 "--n-samples", "100", "--scheduler", "serial", "--backtest-start", "2021-01-01",
                                 "--no-studies", "--no-bayes"])
    assert r.exit_code == 0, r.output
    b = json.loads((out / "briefing.json").read_text())
    assert not b["sections"]["map"]["available"] and not b["sections"]["claims"]["available"]
    assert all(f["source"].count(label) == 1 for f in b["figures"].values()) and b["figures"]
    text = re.sub(r"<[^>]+>", " ", re.sub(r"data:[^\"']+", "", (out / "briefing.html").read_text()))
    for word in ("UCDP", "GED", "Natural Earth", "bootstrap"):
        assert word not in text, word
    assert [m["title"] for m in b["sections"]["methods"]["items"]] == ["Forecasts", "Backtest and scorecard",
                                                                      "Reproducibility"]
    terms = {g["term"] for g in b["sections"]["glossary"]["items"]}
    assert "CRPS" in terms and not terms & {"rate ratio", "supported / inconclusive / not supported"}


def test_console_summary_in_words(monkeypatch):
    """What ``pakcast quarterly`` prints: the published choice in words, the store's path, what was
    not produced one line each."""
    from pakcast.forecast.run_result import QuarterlyResult

    res = QuarterlyResult(
        as_of="2021-12", forecast_origin="2022-01", forecast_quarters=["2022Q1"], published_model="published",
        data={}, run_id="run-x",
        models={"published_selection": [{"measure": "attacks", "province": p, "model": m}
                                        for p, m in (("Sindh", "historical_rate"), ("Punjab", "ens_crps"),
                                                     ("Pakistan", "ens_crps"))]},
        vintage={"vintage_id": "v-1", "store": "/home/u/.local/share/pakcast/pakcast.duckdb"},
        not_produced={"breaks.json": "studies disabled for this run (--no-studies)"})
    monkeypatch.setenv("PAKCAST_STORE", "/home/u/.local/share/pakcast/pakcast.duckdb")
    res.notes = ["warning during the run (RuntimeWarning, 2 times, at results.py:1): overflow encountered in exp"]
    text = res.summary()
    assert "published: ensemble (skill-weighted) for 2 of 3 series, long-run average for 1 of 3 series" in text
    assert "in the store /home/u/.local/share/pakcast/pakcast.duckdb (the default store: " in text
    assert "  - panel break study (breaks.json): studies disabled for this run (--no-studies)" in text
    assert "1 warning from the numerical libraries during the run, recorded in results.json (notes)" in text
    assert "overflow" not in text  # the warning itself stays in the notes
    assert "ens_crps" not in text and "historical_rate" not in text
