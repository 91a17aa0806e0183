"""The fused series' checks: rolling-origin backtest, held-out scoring, early warning, fit cache.

Fits are small (a simulated panel of two units, short chains) and cached per test session."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from pakcast.forecast import scoring
from pakcast.forecast.early_warning import climatological_probability, exceedance_probability, year_on_year_events
from pakcast.forecast.fusion import FusionConfig, ObservationTable
from pakcast.forecast.fusion_backtest import (
    _ucdp_only_draws,
    backtest_job,
    early_warning_backtest,
    fusion_backtest,
    origin_split,
    own_baselines,
    quarter_totals,
    region_label,
    scorecard_rows,
)
from pakcast.forecast.fusion_cache import fit_cached, fit_key
from pakcast.models.fusion import simulate_fusion

CONTRACT = {"model", "province", "measure", "resolution", "crps", "coverage_90", "pit_ks_p", "skill_vs_best_baseline",
            "skill_ci_low", "skill_ci_high", "published", "log_score", "coverage_50", "coverage_80", "n", "n_origins",
            "best_baseline", "best_baseline_crps", "dm_pvalue", "source", "metric"}


def _table(seed: int = 3) -> ObservationTable:
    """A simulated observation table in the pipeline's form: source A renamed UCDP (monthly, to 70%
    of the months), B quarterly from month 24, C yearly national; measures attacks and killed."""
    obs, truth = simulate_fusion(n_units=2, n_months=60, horizon=0, break_month=None, start="2019-01",
                                 random_seed=seed)
    obs = obs.assign(source=obs["source"].replace({"A": "UCDP"}), metric=obs["metric"].replace({"deaths": "killed"}),
                     measure=obs["measure"].replace({"deaths": "killed"}))
    n = (obs["last"] - obs["first"]).map(lambda x: x.n)
    obs["period_type"] = np.select([n == 0, n == 2, n == 11], ["month", "quarter", "year"], "other")
    obs["region"] = obs["cover"].map(lambda c: "Pakistan" if len(c) == 2 else c[0])
    obs["origin"] = "simulated"
    return ObservationTable(frame=obs, exclusions={}, excluded=pd.DataFrame(columns=["origin", "reason"]),
                            inputs=[], units=list(truth["units"]), months=truth["months"])


CFG = FusionConfig(draws=120, tune=150, chains=1, random_seed=2, units="UCDP", figures=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("fusion_cache")


@pytest.fixture(scope="module")
def table():
    return _table()


@pytest.fixture(scope="module")
def backtest(table, cache):
    return fusion_backtest(CFG, [pd.Period("2022-01", "M"), pd.Period("2023-01", "M")], table=table, cache=cache,
                           n_samples=400, ucdp_model=None, warning_origins=[pd.Period("2021-01", "M")])


def test_origin_split_has_no_look_ahead(table):
    o = pd.Period("2022-01", "M")
    sub, held, n_uns = origin_split(table, o, 12)
    assert (sub.frame["last"] < o).all() and len(sub.frame) == int((table.frame["last"] < o).sum())
    assert (held["first"] >= o).all() and (held["last"] <= pd.Period("2022-12", "M")).all()
    assert len(held) > 0 and n_uns == 0
    # a source-metric absent before the origin cannot be scored: counted, not scored
    t = dataclasses.replace(table, frame=pd.concat([table.frame, table.frame.iloc[[-1]].assign(
        source="NEW", first=pd.Period("2022-02", "M"), last=pd.Period("2022-02", "M"))], ignore_index=True))
    _, held2, n2 = origin_split(t, o, 12)
    assert n2 == 1 and "NEW" not in set(held2["source"])


def test_own_baselines_use_same_source_metric_resolution_and_region():
    P = pd.Period
    hist = pd.DataFrame({"source": ["S", "S", "S", "T"], "metric": "attacks", "period_type": "month",
                         "cover": [("a",), ("a",), ("b",), ("a",)],
                         "first": [P("2020-01", "M"), P("2020-02", "M"), P("2020-01", "M"), P("2020-03", "M")],
                         "value": [10.0, 20.0, 5.0, 99.0]})
    hist["last"] = hist["first"]
    held = pd.DataFrame({"source": ["S", "S", "S"], "metric": "attacks", "period_type": ["month", "month", "year"],
                         "cover": [("a",), ("b",), ("a",)], "value": [1.0, 1.0, 1.0]})
    lv, hm = own_baselines(held, hist)
    assert lv[0] == 20.0 and hm[0] == 15.0 and lv[1] == 5.0 and hm[1] == 5.0
    assert np.isnan(lv[2]) and np.isnan(hm[2])


def test_exceedance_probability_known_paired_and_missing_reference():
    x = np.array([[1, 2, 3, 4], [5, 5, 5, 5]], dtype=float)
    assert exceedance_probability(x, 2).tolist() == [0.5, 1.0]
    assert exceedance_probability(x, np.array([3.0, 5.0])).tolist() == [0.25, 0.0]  # strictly above
    paired = np.array([[0, 3, 3, 3], [6, 4, 4, 4]], dtype=float)
    assert exceedance_probability(x, paired).tolist() == [0.5, 0.75]  # path by path, not marginal
    assert np.isnan(exceedance_probability(x, np.array([np.nan, 1.0]))[0])
    q = pd.Period("2020Q1", "Q")
    ev = year_on_year_events({q: 5.0, q + 4: 7.0, q + 5: 1.0, q + 8: 7.0})
    assert ev == {q + 4: True, q + 8: False}
    assert climatological_probability([True, False, True, True]) == 0.75 and climatological_probability([]) == 0.5


def test_brier_and_reliability_table():
    p = np.array([0.1, 0.1, 0.9, 0.9, 0.5])
    o = np.array([0, 1, 1, 1, 0])
    b = scoring.brier_score(p, o)
    assert b.tolist() == pytest.approx([0.01, 0.81, 0.01, 0.01, 0.25])
    rel = scoring.reliability_table(p, o, bins=5)
    assert rel["brier"] == pytest.approx(b.mean()) and rel["n"] == 5 and rel["base_rate"] == 0.6
    first = rel["bins"][0]
    assert first["n"] == 2 and first["mean_forecast"] == pytest.approx(0.1) and first["observed_frequency"] == 0.5
    assert rel["bins"][1]["n"] == 0 and np.isnan(rel["bins"][1]["observed_frequency"])
    # bins are constant here, so the decomposition is exact
    assert rel["reliability"] - rel["resolution"] + rel["uncertainty"] == pytest.approx(rel["brier"])
    with pytest.raises(ValueError, match="probabilities"):
        scoring.brier_score([1.2], [1])


def test_quarter_totals_need_three_months_or_a_quarter_figure():
    P = pd.Period
    rows = [{"source": "S", "metric": "attacks", "measure": "attacks", "cover": ("a",), "period_type": "month",
             "first": P(m, "M"), "last": P(m, "M"), "value": v}
            for m, v in (("2020-01", 1), ("2020-02", 2), ("2020-03", 3), ("2020-04", 4), ("2020-05", 5))]
    rows.append({"source": "S", "metric": "attacks", "measure": "attacks", "cover": ("b",), "period_type": "quarter",
                 "first": P("2020-07", "M"), "last": P("2020-09", "M"), "value": 9})
    t = quarter_totals(pd.DataFrame(rows))
    assert t[("S", "attacks", ("a",))] == {P("2020Q1", "Q"): 6.0}
    assert t[("S", "attacks", ("b",))] == {P("2020Q3", "Q"): 9.0}


def test_fit_cache_reuses_identical_fits_only(table, cache):
    sub, _, _ = origin_split(table, pd.Period("2022-01", "M"), 12)
    a = fit_cached(CFG, sub, cache)
    b = fit_cached(CFG, sub, cache)
    assert b.seconds["cached"] is True
    pd.testing.assert_frame_equal(a.results.scales(), b.results.scales())
    other = dataclasses.replace(sub, frame=sub.frame.assign(value=sub.frame["value"] + 1))
    assert fit_key(CFG, other) != fit_key(CFG, sub)
    assert fit_key(dataclasses.replace(CFG, draws=121), sub) != fit_key(CFG, sub)
    assert fit_key(dataclasses.replace(CFG, out="x", json="y"), sub) == fit_key(CFG, sub)  # outputs are not the fit


def test_backtest_scores_rows_and_early_warning(backtest, table):
    bt = backtest
    sc = bt["scores"]
    assert set(sc["model"]) == {"fused", "last_value", "hist_mean"}
    fused = sc[sc["model"] == "fused"]
    assert len(fused) > 0 and fused["crps"].notna().all() and fused["pit"].between(0, 1).all()
    assert set(fused["resolution"]) >= {"quarter", "year"}
    assert (fused["q05"] <= fused["q95"]).all()
    # point baselines: CRPS is the absolute error of the source's own figure
    lv = sc[sc["model"] == "last_value"].dropna(subset=["crps"])
    assert np.allclose(lv["crps"], (lv["value"] - lv["q50"]).abs())
    rows = bt["rows"]
    assert rows and all(CONTRACT <= set(r) for r in rows)
    pub = [r for r in rows if r["published"]]
    assert pub and all(r["model"] == "fused" and 0 <= r["coverage_90"] <= 1 for r in pub)
    assert {r["province"] for r in rows} <= {"U0", "U1", "Pakistan"}
    assert all(r["best_baseline"] in ("last_value", "hist_mean") for r in rows if r["best_baseline"])
    # the pooled summary's ratios are the totals' ratios
    for s in bt["summary"]:
        g = sc[(sc["source"] == s["source"]) & (sc["metric"] == s["metric"]) & (sc["resolution"] == s["resolution"])]
        if s.get("ratio_last_value"):
            piv = g.pivot_table(index=["origin", "province", "first", "last"], columns="model", values="crps")
            both = piv[["fused", "last_value"]].dropna()
            assert s["ratio_last_value"] == pytest.approx(both["last_value"].sum() / both["fused"].sum())
    ew = bt["early_warning"]
    assert ew["n"] > 0 and 0 <= ew["fused"]["brier"] <= 1 and 0 <= ew["climatology"]["brier"] <= 1
    for r in ew["rows"]:
        assert 0 <= r["p_fused"] <= 1 and r["outcome"] == (r["value"] > r["last_year"])
        assert pd.Period(r["quarter"], "Q").asfreq("M", "start") >= pd.Period(r["origin"], "M")
    assert [d["origin"] for d in bt["diagnostics_by_origin"]] == ["2022-01", "2023-01"]
    # an early-warning-only origin adds its quarters to early_warning_all, not to the backtest scores
    ea = bt["early_warning_all"]
    assert ea["origins"] == ["2021-01", "2022-01", "2023-01"] and ea["n"] > ew["n"]
    assert "2021-01" not in set(sc["origin"]) and "2021-01" in {r["origin"] for r in ea["rows"]}


def test_early_warning_climatology_uses_only_the_past(backtest, table, cache):
    o = pd.Period("2022-01", "M")
    sub, _, _ = origin_split(table, o, 12)
    fr = fit_cached(CFG, sub, cache)
    ew = early_warning_backtest({o: fr}, table, 12, n_samples=200, random_seed=1)
    totals = quarter_totals(table.frame)
    for r in ew["rows"]:
        key = next(k for k in totals if k[0] == r["source"] and region_label(k[2], table.units) == r["province"])
        past = year_on_year_events({q: v for q, v in totals[key].items() if q.asfreq("M", "end") < o})
        if past:
            assert r["p_climatology"] == pytest.approx(np.mean(list(past.values())))


def test_ucdp_only_draws_translate_by_the_scale_ratio(table, cache):
    o = pd.Period("2022-01", "M")
    sub, held, _ = origin_split(table, o, 12)
    fr = fit_cached(CFG, sub, cache)
    months = pd.period_range("2022-01", "2023-12", freq="M")
    paths = {me: np.ones((2, len(months), 50)) for me in ("attacks", "killed")}
    d = _ucdp_only_draws(fr, held, paths, ["U0", "U1"], months, random_seed=0)
    r = held.iloc[0]
    n_cells = len(r["cover"]) * ((r["last"] - r["first"]).n + 1)
    ks = fr.results.scale_draws(r["source"], r["metric"])
    assert d.shape == (len(held), 50)
    assert d[0].min() >= n_cells * ks.min() - 1e-9 and d[0].max() <= n_cells * ks.max() + 1e-9
    assert np.all(fr.results.scale_draws("UCDP", "attacks") == 1.0)
    with pytest.raises(ValueError, match="not in the fit"):
        fr.results.scale_draws("NOPE", "attacks")


def test_scorecard_skill_against_the_better_own_baseline():
    base = {"source": "S", "metric": "attacks", "measure": "attacks", "province": "Pakistan", "resolution": "month",
            "pit": 0.5, "cov50": True, "cov80": True, "cov90": True, "log_score": 1.0, "in_interval_90": True}
    rows = []
    for i, o in enumerate(["2022-01", "2023-01", "2024-01"]):
        for m, c in (("fused", 1.0), ("last_value", 2.0), ("hist_mean", 4.0)):
            rows.append({**base, "origin": o, "first": o, "last": o, "model": m, "crps": c + i})
    out = {r["model"]: r for r in scorecard_rows(pd.DataFrame(rows))}
    assert out["fused"]["best_baseline"] == "last_value"
    assert out["fused"]["skill_vs_best_baseline"] == pytest.approx(1 - 6 / 9)
    assert out["last_value"]["coverage_90"] is None and out["fused"]["coverage_90"] == 1.0


def test_backtest_job_writes_json_csv_and_figures(table, cache, tmp_path, backtest):
    res = backtest_job(CFG, "2022-01,2023-01", horizon=12, ucdp_model=None, n_samples=400,
                       json_out=tmp_path / "bt.json", out=tmp_path / "bt", cache=cache, table=table)
    payload = json.loads((tmp_path / "bt.json").read_text())
    assert payload["rows"] and payload["origins"] == ["2022-01", "2023-01"] and "run_id" in payload
    assert (tmp_path / "bt.manifest.json").exists()
    for f in ("fused_backtest.csv", "early_warning.csv", "figures/fused_backtest.png",
              "figures/early_warning_reliability.png"):
        assert (tmp_path / "bt" / f).stat().st_size > 0, f
    assert "fused backtest at 2 origins" in res.summary()


def test_backtest_refuses_origins_without_data(table):
    from pakcast.forecast.errors import InputError

    with pytest.raises(InputError, match="--backtest origins"):
        fusion_backtest(CFG, [pd.Period("2030-01", "M")], table=table, ucdp_model=None)
    with pytest.raises(InputError, match="--backtest"):
        backtest_job(CFG, "not-a-month", table=table, ucdp_model=None)


def test_cli_fuse_backtest_refuses_bad_origins_in_one_line():
    from pakcast.forecast.cli import app
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, ["fuse", "--backtest", "2022-13", "--out", "unused"])
    assert r.exit_code == 1
    assert "--backtest:" in r.output and "Traceback" not in r.output


def test_figure_draws_match_the_predictive_and_cap_exploding_means(table, cache):
    from pakcast.forecast.fusion_backtest import MEAN_CAP, figure_draws

    sub, held, _ = origin_split(table, pd.Period("2022-01", "M"), 12)
    fr = fit_cached(CFG, sub, cache)
    d, capped = figure_draws(fr, held, 400, random_seed=3)
    ref = fr.results.predict_observations(held, n_samples=400, random_seed=3)
    assert d.shape == ref.shape and capped == 0 and (d >= 0).all()
    mu, _ = fr.results.predictive_mean_draws(held, n_samples=400, random_seed=3)
    assert np.allclose(np.median(d, axis=1), np.median(ref, axis=1), rtol=0.35, atol=3)
    assert np.allclose(d.mean(axis=1), mu.mean(axis=1), rtol=0.25, atol=2)
    assert MEAN_CAP < 1e19


def test_backtest_scores_the_ucdp_only_forecast(table, cache, backtest, monkeypatch):
    import pakcast.forecast.fusion_backtest as fb

    months = pd.period_range("2022-01", "2023-12", freq="M")

    def fake(fata, model, first, last, n_samples, random_seed):
        rng = np.random.default_rng(0)
        return ({me: rng.poisson(3.0, (2, len(months), n_samples)).astype(float) for me in ("attacks", "killed")},
                ["U0", "U1"], months, "2021-12")

    monkeypatch.setattr(fb, "ucdp_only_paths", fake)
    bt = fusion_backtest(CFG, [pd.Period("2022-01", "M"), pd.Period("2023-01", "M")], table=table, cache=cache,
                         n_samples=200, ucdp_model="fake")
    u = bt["scores"][bt["scores"]["model"] == "ucdp_only"]
    assert len(u) == len(bt["scores"][bt["scores"]["model"] == "fused"]) and u["crps"].notna().all()
    assert any(r["model"] == "ucdp_only" and r["coverage_90"] is not None for r in bt["rows"])
    assert bt["ucdp_only"]["model"] == "fake" and any(s.get("ratio_ucdp_only") for s in bt["summary"])
