"""Tests for forecast.attribution_study and ``pakcast attribute``: the CLI contract keys, exact
sums on the shipped data, honest metadata, and recovery of a known IRR in a simulated panel."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from pakcast.forecast.attribution_study import (
    bayes_effects,
    parse_groups,
    parse_periods,
    run_attribution,
)
from pakcast.forecast.covariates import load_covariates
from pakcast.forecast.panel import load_panel
from pakcast.models.attribution import INTERPRETATION, OTHER, RESIDUAL
from typer.testing import CliRunner


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return load_panel("month")


@pytest.fixture(scope="module")
def cov() -> pd.DataFrame:
    return load_covariates("month")


@pytest.fixture(scope="module")
def full(panel, cov) -> dict:
    return run_attribution(panel, cov, outcome="attacks", random_seed=3, n_draws=60, n_placebo=6,
                           lag_choices=(0, 6), n_samples=500)


def test_contract_keys_and_exact_sums(full):
    for e in full["effects"]:
        assert {"covariate", "irr", "ci_low", "ci_high"} <= set(e)
        assert e["ci_low"] <= e["irr"] <= e["ci_high"]
    for s in full["shapley"]:
        assert {"group", "share", "ci_low", "ci_high"} <= set(s)
    groups = [s["group"] for s in full["shapley"]]
    assert groups == ["economic", "political", "security", OTHER, RESIDUAL]
    total = full["shapley_summary"]["total_change"]
    assert sum(s["share"] for s in full["shapley"]) == pytest.approx(total, abs=1e-10)
    fitted = full["shapley_summary"]["fitted_change"]
    assert sum(s["share"] for s in full["shapley"] if s["group"] != RESIDUAL) == pytest.approx(fitted, abs=1e-10)
    # observed total: log mean monthly attacks summed over the modelled provinces
    ssum = full["shapley_summary"]
    assert total == pytest.approx(math.log(ssum["observed_mean_b"] / ssum["observed_mean_a"]), abs=1e-12)
    for g in ("economic", "political", "security"):
        row = next(r for r in full["oos_crps_gain"] if r["group"] == g)
        assert np.isfinite(row["delta_crps"]) and row["ci_low"] <= row["delta_crps"] <= row["ci_high"]
        assert 0 <= row["dm_pvalue"] <= 1


def test_contributions_sum_to_fitted_change_per_province(full):
    con = pd.DataFrame(full["contributions"])
    for u, sub in con.groupby("unique_id"):
        parts = sub.loc[sub.covariate != "fitted_change", "contribution"].sum()
        assert parts == pytest.approx(sub.loc[sub.covariate == "fitted_change", "contribution"].item(), abs=1e-10)


def test_contributions_by_year_sum_exactly(full):
    groups = ["economic", "political", "security", OTHER]
    for r in full["contributions_by_year"]:
        assert sum(r[g] for g in groups) == pytest.approx(r["fitted_change"], abs=1e-10)
    years = {r["year"] for r in full["contributions_by_year"]}
    assert min(years) == 2002 and max(years) == 2021


def test_quarterly_panel_is_refused(cov):
    q = load_panel("quarter")
    with pytest.raises(ValueError, match="monthly panel"):
        run_attribution(q, cov, backtest=False)


def test_outputs_say_what_they_rest_on(full, panel):
    assert full["interpretation"] == INTERPRETATION
    assert "not causal effects" in full["interpretation"]
    d = full["data"]
    last = panel["ds"].max()
    assert d["months_used"].endswith(f"{last:%Y-%m}")  # UCDP ends 2021-12, not the covariates' 2025-12
    assert "2021-12" in d["months_used"] and "2025" in d["note"]
    assert set(d["units"]) == {"Balochistan", "Khyber Pakhtunkhwa", "Punjab", "Sindh"}
    assert d["excluded_units"] and d["rows_dropped_no_population"]  # reported, not silently dropped
    assert full["placebo"]["placebos"] and 0 < full["placebo"]["placebo_share_abs_z_ge_real"] <= 1
    lags = {r["extra_lag_months"] for r in full["lag_sensitivity"]}
    assert lags == {0, 6}
    specs = {c["specification"] for c in full["specification_checks"]}
    assert all(c["converged"] for c in full["specification_checks"]) and full["model"]["converged"]
    assert specs == {"province_trends", "with_break_terms"}
    assert any("timing alone" in c for c in full["caveats"])
    names = [s["scenario"] for s in full["scenarios"]]
    assert names[0] == "as_observed" and "inflation_30pct" in names and "new_military_operation" in names
    assert all(s["window"] == "2021-01..2021-12" for s in full["scenarios"])
    by_name = {s["scenario"]: s for s in full["scenarios"]}
    assert "cpi_yoy_pct" in by_name["inflation_30pct"]["outside_sample_range"]  # CPI peaked near 25%
    assert by_name["inflation_10pct"]["outside_sample_range"] == {}
    assert any("inflation_30pct" in c and "extrapolation" in c for c in full["caveats"])


def test_fit_reaches_the_statsmodels_maximum_on_the_trend_specification(panel, cov):
    # reference: statsmodels 0.15 NegativeBinomial(nb2), BFGS then Newton from the BFGS solution
    # (plain Newton from statsmodels' default start fails on this design: its Hessian is indefinite
    # far from the optimum, which our damped Newton steps handle)
    import warnings

    import statsmodels.api as sm
    from pakcast.forecast.attribution_study import assemble
    from pakcast.models.glm import CountGLM

    d = assemble(panel, cov, "attacks", ("economic", "political", "security"), trend=True)
    X = d["X"].to_numpy(dtype=float)
    ours = CountGLM(d["y"], X, d["offset"]).fit()
    m = sm.NegativeBinomial(d["y"], X, offset=d["offset"], loglike_method="nb2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r0 = m.fit(disp=0, method="bfgs", maxiter=3000)
        ref = m.fit(start_params=r0.params, disp=0, method="newton", maxiter=300)
    assert ours.converged
    assert ours.llf == pytest.approx(ref.llf, abs=1e-6)
    np.testing.assert_allclose(ours.params, ref.params[:-1], atol=1e-5)


def test_parsers_reject_bad_input():
    assert parse_periods("2010-01:2013-12,2015-01:2018-12") == (("2010-01", "2013-12"), ("2015-01", "2018-12"))
    with pytest.raises(ValueError, match="two ranges"):
        parse_periods("2010-01:2013-12")
    with pytest.raises(ValueError, match="not a month"):
        parse_periods("2010-1:2013-12,2015-01:2018-13")
    with pytest.raises(ValueError, match="start is after end"):
        parse_periods("2013-01:2010-12,2015-01:2018-12")
    with pytest.raises(ValueError, match="unknown"):
        parse_groups("economic,weather")


def test_period_without_data_is_a_clear_error(panel, cov):
    with pytest.raises(ValueError, match="no months with data"):
        run_attribution(panel, cov, periods="2010-01:2013-12,2023-01:2024-12", backtest=False, n_draws=20)


def test_simulated_panel_recovers_known_irr(cov):
    # outcome simulated from the real covariates with known effects: cpi_yoy_pct 0.05 per pp and
    # military_operation 0.4 per unit of the decay kernel; the study's intervals must cover them
    rng = np.random.default_rng(21)
    units = ["Balochistan", "Khyber Pakhtunkhwa", "Punjab", "Sindh"]
    c = cov[cov.unique_id.isin(units) & (cov.ds >= "2002-07-01") & (cov.ds <= "2021-12-01")].copy()
    level = {"Balochistan": 1.0, "Khyber Pakhtunkhwa": 2.0, "Punjab": 0.3, "Sindh": 0.6}
    mu = np.exp(c["unique_id"].map(level).to_numpy() + 0.05 * c["cpi_yoy_pct"] + 0.4 * c["military_operation"])
    y = rng.poisson(rng.gamma(4.0, mu / 4.0))
    panel = pd.DataFrame({"unique_id": c["unique_id"].to_numpy(), "ds": c["ds"].to_numpy(), "attacks": y,
                          "killed": y, "population": 1.0})
    out = run_attribution(panel, cov, groups="economic,security", backtest=False, n_draws=20, n_samples=200)
    eff = pd.DataFrame(out["effects"]).set_index("covariate")
    for name, b in (("cpi_yoy_pct", 0.05), ("military_operation", 0.4)):
        assert eff.loc[name, "ci_low"] < math.exp(b) < eff.loc[name, "ci_high"], name


def test_cli_writes_contract_json(tmp_path):
    from pakcast.forecast.cli import app

    out = tmp_path / "attr.json"
    r = CliRunner().invoke(app, ["attribute", "--outcome", "killed", "--periods", "2010-01:2013-12,2015-01:2018-12",
                                 "--groups", "economic,political,security", "--n-draws", "20",
                                 "--scenario", "high_inflation:cpi_yoy_pct=25", "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    assert {"effects", "shapley", "oos_crps_gain", "interpretation", "data"} <= set(d)
    assert set(d["effects"][0]) >= {"covariate", "irr", "ci_low", "ci_high"}
    assert set(d["shapley"][0]) >= {"group", "share", "ci_low", "ci_high"}
    assert set(d["oos_crps_gain"][0]) >= {"group", "delta_crps"}
    assert d["outcome"] == "killed"
    assert [s["scenario"] for s in d["scenarios"]] == ["as_observed", "high_inflation"]
    man = json.loads((tmp_path / "attr.manifest.json").read_text())
    assert man["command"] == "attribute" and man["random_seeds"] == {"seed": 20260101}  # the CLI default seed
    bad = CliRunner().invoke(app, ["attribute", "--groups", "weather", "--json", str(tmp_path / "x.json")])
    assert bad.exit_code != 0 and not (tmp_path / "x.json").exists()


def _sim_panel(cov, effects, step=None, seed=0):
    rng = np.random.default_rng(seed)
    units = ["Balochistan", "Khyber Pakhtunkhwa", "Punjab", "Sindh"]
    c = cov[cov.unique_id.isin(units) & (cov.ds >= "2002-07-01") & (cov.ds <= "2021-12-01")].copy()
    level = {"Balochistan": 1.0, "Khyber Pakhtunkhwa": 2.0, "Punjab": 0.3, "Sindh": 0.6}
    eta = c["unique_id"].map(level).to_numpy() + sum(b * c[k].to_numpy() for k, b in effects.items())
    if step is not None:
        eta = eta + step[1] * (c["ds"] >= step[0]).to_numpy()
    y = rng.poisson(rng.gamma(4.0, np.exp(eta) / 4.0))
    return pd.DataFrame({"unique_id": c["unique_id"].to_numpy(), "ds": c["ds"].to_numpy(), "attacks": y,
                         "killed": y, "population": 1.0})


def test_placebo_detects_a_genuine_break(cov):
    # a true level drop (IRR 0.3) from 2014-07 that no covariate carries: the step at the real date
    # is recovered and stands out against in-time placebos
    panel = _sim_panel(cov, {"cpi_yoy_pct": 0.03}, step=("2014-07-01", math.log(0.3)), seed=5)
    out = run_attribution(panel, cov, groups="economic", n_draws=20, n_placebo=12, lag_choices=(0,),
                          n_samples=200, break_date="2014-07-01")
    pl = out["placebo"]
    assert pl["ci_low"] < 0.3 < pl["ci_high"]
    assert pl["placebo_share_abs_z_ge_real"] <= 0.1
    assert any("remains after the covariates" in c for c in out["caveats"])


@pytest.mark.slow
def test_bayesian_irrs_recover_known_effects(cov):
    # the same simulated panel through the Bayesian hierarchical model (about a minute)
    panel = _sim_panel(cov, {"cpi_yoy_pct": 0.05, "military_operation": 0.4}, seed=9)
    out = bayes_effects(panel, cov, groups="economic,security", draws=300, tune=300, chains=2, random_seed=2)
    eff = pd.DataFrame(out["effects_bayes"]).set_index("covariate")
    for name, b in (("cpi_yoy_pct", 0.05), ("military_operation", 0.4)):
        assert eff.loc[name, "ci_low"] < math.exp(b) < eff.loc[name, "ci_high"], name
    assert set(out["diagnostics"]) >= {"max_rhat", "min_ess_bulk", "divergences", "failures"}
    assert out["months_used"] == "2002-07..2021-12" and out["interpretation"] == INTERPRETATION


def test_placebo_designs_without_a_finite_maximum_are_refused_and_reported(cov):
    # every count from 2017-01 on is zero: a placebo step dated 2017-01 or later covers only zero
    # months, so its coefficient has no finite MLE (quasi-complete separation); CountGLM refuses the
    # fit and the study lists the date with the reason instead of reporting an arbitrary estimate
    from pakcast.forecast.attribution_study import _placebo, assemble

    panel = _sim_panel(cov, {"cpi_yoy_pct": 0.03}, seed=4)
    panel.loc[panel["ds"] >= "2017-01-01", ["attacks", "killed"]] = 0
    d = assemble(panel, cov, "attacks", ("economic",))
    pl = _placebo(d, "2014-07-01", 30, 0, 12)
    assert pl["placebos_refused"], "expected separated placebo designs"
    for r in pl["placebos_refused"]:
        assert r["date"] >= "2017-01" and "no finite maximum-likelihood estimate" in r["reason"]
    assert all(p["date"] < "2017-01" for p in pl["placebos"])
    assert pl["n_placebos"] + len(pl["placebos_refused"]) == 30
