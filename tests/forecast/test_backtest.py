"""Rolling-origin backtest: no look-ahead, past-only ensemble weights, coherence, serial == Dask."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pakcast.forecast.backtest import (
    PUBLISHED,
    STACK,
    BacktestConfig,
    QuarterRecord,
    _horizon_blocks,
    default_origins,
    run_backtest,
    scorecard,
    select_published,
    summarise,
)
from pakcast.forecast.forecasters import NATIONAL
from _synthetic import synthetic_panel  # tests/forecast/_synthetic.py (the test directory is on sys.path)


MODELS = ("zero", "historical_rate", "conflictology", "nb_glm")


def small_config(**kw):
    base = dict(models=MODELS, origins=list(pd.date_range("2012-01-01", periods=5, freq="QS")),
                horizon=6, n_samples=60, random_seed=5, warmup_origins=4)
    base.update(kw)
    return BacktestConfig(**base)


@pytest.fixture(scope="module")
def panel():
    return synthetic_panel(n_months=108, seed=2, with_y=False)


@pytest.fixture(scope="module")
def serial(panel):
    return run_backtest(panel, small_config())


def test_default_origins_are_quarter_starts_up_to_the_data():
    o = default_origins(pd.Timestamp("2011-05-01"), "2010-02-15")
    assert [str(x.date()) for x in o] == ["2010-04-01", "2010-07-01", "2010-10-01", "2011-01-01", "2011-04-01"]


def test_horizon_blocks_have_months_and_whole_quarters():
    b = _horizon_blocks(12, pd.Timestamp("2012-01-01"))
    assert [x[0] for x in b] == [str(i) for i in range(1, 13)] + ["Q1", "Q2", "Q3", "Q4"]
    b = _horizon_blocks(6, pd.Timestamp("2012-02-01"))
    assert [x[0] for x in b if x[1] == "quarter"] == ["Q1"]  # only 2012Q2 is whole


def test_scores_cover_models_ensembles_series_and_horizons(serial):
    s = serial.scores
    assert set(s["model"]) == set(MODELS) | {"ens_equal", "ens_crps", PUBLISHED}
    assert set(s["unique_id"]) == {"A", "B", "C", NATIONAL}
    assert set(s["horizon"]) == {str(i) for i in range(1, 7)} | {"Q1", "Q2"}
    assert s[["crps", "log_score", "pit"]].notna().all().all()
    assert s["pit"].between(0, 1).all()
    assert serial.unavailable == {}


def test_national_is_coherent_in_the_backtest(serial):
    s = serial.scores
    piv = s.pivot_table(index=["model", "measure", "origin", "horizon"], columns="unique_id", values="mean")
    np.testing.assert_allclose(piv[NATIONAL], piv[["A", "B", "C"]].sum(axis=1), rtol=1e-10)


def test_crps_weights_use_only_past_scores(panel, serial):
    w = serial.weights[serial.weights["ensemble"] == "ens_crps"]
    first = w[w["origin"] == w["origin"].min()]
    np.testing.assert_allclose(first["weight"], 1 / 3)  # nothing scored before the first origin
    # perturb everything from the last origin on: weights and forecasts at that origin must not move
    last = max(small_config().origins)
    q = panel.copy()
    fut = q["ds"] >= last
    q.loc[fut, ["attacks", "killed"]] = q.loc[fut, ["attacks", "killed"]] * 5 + 2
    other = run_backtest(q, small_config())
    wa = w[w["origin"] == last].sort_values(["measure", "model"])["weight"].to_numpy()
    wb = other.weights.query("ensemble == 'ens_crps' and origin == @last").sort_values(["measure", "model"])
    np.testing.assert_allclose(wa, wb["weight"].to_numpy(), rtol=0, atol=0)
    ma = serial.scores[serial.scores["origin"] == last].sort_values(["model", "measure", "unique_id", "horizon"])
    mb = other.scores[other.scores["origin"] == last].sort_values(["model", "measure", "unique_id", "horizon"])
    np.testing.assert_array_equal(ma["mean"].to_numpy(), mb["mean"].to_numpy())
    assert not np.array_equal(ma["y"].to_numpy(), mb["y"].to_numpy())
    # the selection rule at that origin saw only the past too
    sa = serial.selection[serial.selection["origin"] == last].reset_index(drop=True)
    sb = other.selection[other.selection["origin"] == last].reset_index(drop=True)
    pd.testing.assert_frame_equal(sa, sb)


def test_published_follows_the_rule_and_is_coherent(serial):
    sel = serial.selection
    s = serial.scores
    assert set(sel["chosen"]) <= {STACK, "historical_rate"}  # the default baseline (negbin_12 not run) or the stack
    first = sel[sel["origin"] == sel["origin"].min()]
    assert sel["warmup"].any() and not sel.loc[sel["warmup"], "origin"].isin(s["origin"]).any()
    assert (first["chosen"] == "historical_rate").all() and (first["lambda"] == 0).all()  # nothing scored yet
    assert first["reason"].str.contains("default baseline").all()
    for _, g in sel.groupby(["measure", "origin"]):  # one mixture for all provinces (coherent national)
        assert g["lambda"].nunique() == 1 and g["weights"].map(str).nunique() == 1
        w = g["weights"].iloc[0]
        assert abs(sum(w.values()) - 1) < 1e-3 and "zero" not in w  # never a point mass
    pub = s[s["model"] == PUBLISHED].set_index(["measure", "origin", "unique_id", "horizon"])
    base = sel[(sel["lambda"] == 0) & ~sel["warmup"]]
    for r in base.itertuples():  # lambda 0: the published paths are the default baseline's
        src = s[(s["model"] == r.chosen) & (s["measure"] == r.measure) & (s["origin"] == r.origin)
                & (s["unique_id"] == r.unique_id)].set_index(["measure", "origin", "unique_id", "horizon"])
        np.testing.assert_array_equal(pub.loc[src.index, "mean"].to_numpy(), src["mean"].to_numpy())
    piv = s[s["model"] == PUBLISHED].pivot_table(index=["measure", "origin", "horizon"], columns="unique_id",
                                                values="mean")
    np.testing.assert_allclose(piv[NATIONAL], piv[["A", "B", "C"]].sum(axis=1), rtol=1e-10)


def _record(origin, end, crps_by_member, spread=0.0):
    """A one-province, one-quarter record whose members have the given CRPS (a = CRPS, B = 0 off spread)."""
    K = len(crps_by_member)
    a = np.asarray(crps_by_member, dtype=float).reshape(1, 1, K)
    B = np.full((1, 1, K, K), spread)
    return QuarterRecord(origin=pd.Timestamp(origin), ends=np.array([np.datetime64(pd.Timestamp(end))]), a=a, B=B,
                         w=np.array([0.0, 1.0]))


def test_select_published_uses_past_quarters_only_and_needs_history():
    cfg = BacktestConfig(models=("historical_rate", "nb_glm"), default_baseline="historical_rate",
                         selection_min_history=3)
    cands = ["historical_rate", "nb_glm"]
    good = [_record(f"2010-{m:02d}-01", f"2010-{m + 2:02d}-01", [1.0, 0.5]) for m in (1, 4, 7)]
    v, w, info = select_published(good, pd.Timestamp("2011-01-01"), cands, cfg)
    assert info["lam"] == 1.0 and np.allclose(v, [0, 1]) and np.allclose(w, [0, 1])  # nb_glm earned it
    v, _, info = select_published(good[:2], pd.Timestamp("2011-01-01"), cands, cfg)
    assert info["lam"] == 0 and np.allclose(v, [1, 0])  # two origins scored < selection_min_history
    v, _, info = select_published(good, pd.Timestamp("2010-09-01"), cands, cfg)
    assert info["n_origins"] == 2 and info["lam"] == 0  # the third quarter had not ended yet
    bad = [_record(f"2010-{m:02d}-01", f"2010-{m + 2:02d}-01", [1.0, 1.5]) for m in (1, 4, 7)]
    v, _, info = select_published(bad, pd.Timestamp("2011-01-01"), cands, cfg)
    assert info["lam"] == 0 and np.allclose(v, [1, 0])  # the stack did worse: the baseline is published
    margin = BacktestConfig(models=cfg.models, default_baseline="historical_rate", selection_min_history=3,
                            selection_margin=0.6)
    _, _, info = select_published(good, pd.Timestamp("2011-01-01"), cands, margin)
    assert info["lam"] == 0  # 50% better is not better by the 60% margin


def test_scorecard_rows_have_the_contract_keys(serial):
    card = scorecard(serial.scores, {"A": 100.0, "B": 24.0, "C": 0.6}, random_seed=1, n_boot=200)
    rows = pd.DataFrame(card["rows"])
    contract = ["model", "province", "measure", "resolution", "crps", "coverage_90", "pit_ks_p",
                "skill_vs_best_baseline", "skill_ci_low", "skill_ci_high", "published"]
    assert set(contract) <= set(rows.columns)
    assert set(rows["resolution"]) == {"month", "quarter"}
    assert rows.loc[rows["published"], "model"].eq(PUBLISHED).all() and rows["published"].any()
    best = rows[rows["model"] == rows["best_baseline"]]
    np.testing.assert_allclose(best["skill_vs_best_baseline"].dropna(), 0.0, atol=1e-12)  # NaN: reference CRPS 0
    ok = rows["skill_ci_low"].notna()
    assert (rows.loc[ok, "skill_ci_low"] <= rows.loc[ok, "skill_vs_best_baseline"] + 1e-12).all()
    assert rows["coverage_90"].between(0, 1).all()
    ok = rows["coverage_90_ci_low"].notna()
    assert ok.any()
    assert (rows.loc[ok, "coverage_90_ci_low"] <= rows.loc[ok, "coverage_90"] + 1e-12).all()
    assert (rows.loc[ok, "coverage_90"] <= rows.loc[ok, "coverage_90_ci_high"] + 1e-12).all()
    goal = {(g["measure"], g["province"]): g for g in card["goal_check"]}
    a = goal[("attacks", "A")]
    assert a["quarter_coverage_90_consistent_with_calibration"] == (
        a["quarter_coverage_90_ci"][0] <= 0.9 <= a["quarter_coverage_90_ci"][1])
    p = a["quarter_p_in_85_95_if_calibrated"]
    assert np.isnan(p) or 0 <= p <= 1
    assert goal[("attacks", "A")]["in_goal_scope"] and not goal[("attacks", "C")]["in_goal_scope"]
    assert {"month_no_worse_than_best_baseline", "quarter_coverage_90"} <= set(goal[("attacks", "A")])
    assert {c["resolution"] for c in card["calibration"]} == {"month", "quarter"}


def test_serial_and_dask_scheduler_address_give_identical_results(panel, serial):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask_res = run_backtest(panel, small_config(scheduler=cluster.scheduler_address))
    pd.testing.assert_frame_equal(serial.scores, dask_res.scores)
    pd.testing.assert_frame_equal(serial.weights, dask_res.weights)


@pytest.mark.slow
def test_serial_and_dask_local_process_cluster_give_identical_results(panel, serial):
    dask_res = run_backtest(panel, small_config(scheduler="local", n_workers=2))
    pd.testing.assert_frame_equal(serial.scores, dask_res.scores)
    pd.testing.assert_frame_equal(serial.weights, dask_res.weights)


def test_summary_goal_check_and_dm(serial):
    summ = summarise(serial.scores, {"A": 100.0, "B": 24.0, "C": 0.6})
    per = summ["per_series"]
    assert {"crps", "log_score", "coverage_90", "skill_vs_best_baseline", "skill_vs_zero"} <= set(per.columns)
    base = per[per["model"] == per["best_baseline"]]
    np.testing.assert_allclose(base["skill_vs_best_baseline"], 0.0)
    goal = pd.DataFrame(summ["goal"])
    assert goal.set_index(["measure", "unique_id"]).loc[("attacks", "C"), "in_goal_scope"] == False  # noqa: E712
    assert all("statistic" in d or "error" in d for d in summ["dm"])


def test_rejects_national_rows_and_future_origins(panel):
    nat = panel.groupby("ds", as_index=False)[["attacks", "killed"]].sum().assign(unique_id=NATIONAL)
    with pytest.raises(ValueError, match="provinces only"):
        run_backtest(pd.concat([panel, nat]), small_config())
    with pytest.raises(ValueError, match="after the last month"):
        run_backtest(panel, small_config(origins=[pd.Timestamp("2030-01-01")]))


@pytest.mark.slow
def test_serial_and_dask_identical_on_the_shipped_panel_with_ingarch():
    """INGARCH on Sindh (2016) is ill-conditioned: without single-threaded BLAS inside each task
    the serial run (multi-threaded BLAS) and the Dask workers (one thread) gave different samples."""
    from pakcast.forecast.panel import load_panel

    p = load_panel("month")
    p = p[p["unique_id"] != NATIONAL].reset_index(drop=True)
    cfg = dict(models=("historical_rate", "ingarch"), horizon=12, n_samples=200, random_seed=20260101,
               origins=[pd.Timestamp("2016-04-01"), pd.Timestamp("2019-07-01")])
    a = run_backtest(p, BacktestConfig(**cfg))
    b = run_backtest(p, BacktestConfig(**cfg, scheduler="local", n_workers=2))
    pd.testing.assert_frame_equal(a.scores, b.scores)


def test_recalibrated_backtest_keeps_the_mixture_and_coherence(panel, serial):
    rec = run_backtest(panel, small_config(recalibrate=True, recal_step=0.2))
    sel = rec.selection
    assert {"scale_lo", "scale_hi", "recal_points"} <= set(sel.columns)
    assert (sel.loc[sel["recal_points"] == 0, ["scale_lo", "scale_hi"]] == 1).all().all()
    assert (sel.loc[sel["warmup"], "recal_points"] == 0).all()  # the warm-up origins do not feed the scales
    moved = sel.loc[sel["recal_points"] > 0, ["scale_lo", "scale_hi"]]
    assert len(moved) and (moved != 1).any().any()  # a step of 0.2 moves the scales after the first quarters
    pd.testing.assert_frame_equal(sel[["measure", "origin", "lambda"]], serial.selection[["measure", "origin", "lambda"]])
    s = rec.scores[rec.scores["model"] == PUBLISHED]
    piv = s.pivot_table(index=["measure", "origin", "horizon"], columns="unique_id", values="mean")
    np.testing.assert_allclose(piv[NATIONAL], piv[["A", "B", "C"]].sum(axis=1), rtol=1e-10)
    other = rec.scores[rec.scores["model"] != PUBLISHED].reset_index(drop=True)
    pd.testing.assert_frame_equal(other, serial.scores[serial.scores["model"] != PUBLISHED].reset_index(drop=True))


def test_annual_events_put_the_national_series_in_the_goals_scope(panel):
    """The national series (the sum of the provinces) has its own events a year, so the goal check
    covers it when it has 10 or more a year, as it covers any province."""
    from pakcast.forecast.backtest import annual_events

    start = panel["ds"].min()
    ann = annual_events(panel, start)
    years = panel["ds"].nunique() / 12.0
    assert ann[NATIONAL] == pytest.approx(panel["attacks"].sum() / years)
    for uid, g in panel.groupby("unique_id"):
        assert ann[uid] == pytest.approx(g["attacks"].sum() / years)
    later = annual_events(panel, panel["ds"].max())  # one month: the years floor at 1
    assert later[NATIONAL] == pytest.approx(panel.loc[panel["ds"] == panel["ds"].max(), "attacks"].sum())
