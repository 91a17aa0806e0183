"""Tests for models.attribution: the count fit (models.glm.CountGLM) against statsmodels, exact decompositions,
Shapley axioms on games with known answers, recovery and coverage of a known IRR, scenarios."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from pakcast.models.attribution import (
    INTERPRETATION,
    OTHER,
    RESIDUAL,
    AttributionModel,
    irr_from_draws,
    shapley_values,
)


def fit_count_model(y, X, family="negbin", cov_type="nonrobust", time=None, maxlags=None):
    """The attribution fit: CountGLM with the attribution covariances (``HAC`` with ``time`` = DK)."""
    Xd = pd.DataFrame(np.asarray(X, dtype=float), columns=[f"x{j}" for j in range(np.shape(X)[1])])
    res = AttributionModel(y, Xd, groups={}, family=family, time=time).fit(cov_type=cov_type, maxlags=maxlags)
    return res


def _panel(seed=1, T=120, U=5, beta=(1.0, 0.3, 0.5, -0.4), r=2.0):
    rng = np.random.default_rng(seed)
    n = T * U
    tt = np.repeat(np.arange(T), U)
    uu = np.tile(np.arange(U), T)
    X = np.column_stack([np.ones(n), rng.normal(size=n), np.sin(tt / 10), (uu == 1) * 1.0])
    mu = np.exp(X @ np.asarray(beta))
    y = rng.poisson(rng.gamma(r, mu / r))
    return y, X, tt


# ----------------------------------------------------------------- reference: statsmodels 0.15


class TestAgainstStatsmodels:
    """Reference: statsmodels 0.15 ``NegativeBinomial(y, X, loglike_method='nb2').fit(method='newton')``
    with the named ``cov_type``, and ``GLM(y, X, family=Poisson())``, on the same simulated data."""

    @classmethod
    def setup_class(cls):
        cls.y, cls.X, cls.tt = _panel()
        cls.sm_model = sm.NegativeBinomial(cls.y, cls.X, loglike_method="nb2")

    def _sm(self, **kw):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.sm_model.fit(disp=0, method="newton", maxiter=200, tol=1e-12, **kw)

    def test_params_alpha_loglike(self):
        ours = fit_count_model(self.y, self.X)
        ref = self._sm()
        np.testing.assert_allclose(ours.params, ref.params[:-1], rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(ours.alpha_nb, ref.params[-1], rtol=1e-6)
        np.testing.assert_allclose(ours.loglike, ref.llf, rtol=1e-10)
        assert ours.converged

    @pytest.mark.parametrize("cov_type, sm_kw, our_kw", [
        ("nonrobust", {}, {}),
        ("HC0", {"cov_type": "HC0"}, {}),
        ("HAC", {"cov_type": "HAC", "cov_kwds": {"maxlags": 3}}, {"maxlags": 3}),
        ("driscoll-kraay", {"cov_type": "hac-groupsum", "cov_kwds": {"maxlags": 3, "use_correction": False}},
         {"maxlags": 3, "with_time": True}),
    ])
    def test_standard_errors(self, cov_type, sm_kw, our_kw):
        with_time = our_kw.pop("with_time", False)
        if "time" in sm_kw.get("cov_kwds", {}) or cov_type == "driscoll-kraay":
            sm_kw = {**sm_kw, "cov_kwds": {**sm_kw["cov_kwds"], "time": self.tt}}
        ours = fit_count_model(self.y, self.X, cov_type=cov_type, time=self.tt if with_time else None, **our_kw)
        ref = self._sm(**sm_kw)
        np.testing.assert_allclose(ours.bse.to_numpy()[:4], ref.bse[:4], rtol=1e-6)

    def test_poisson_matches_glm(self):
        ours = fit_count_model(self.y, self.X, family="poisson")
        ref = sm.GLM(self.y, self.X, family=sm.families.Poisson()).fit()
        np.testing.assert_allclose(ours.params, ref.params, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ours.bse, ref.bse, rtol=1e-6)


def test_bad_input_messages():
    y, X, _ = _panel(T=20, U=2)
    with pytest.raises(ValueError, match="non-negative"):
        fit_count_model(-y.astype(float) - 1, X)
    with pytest.raises(ValueError, match="full column rank"):
        fit_count_model(y, np.column_stack([X, X[:, 1] * 2]))
    with pytest.raises(ValueError, match="finite"):
        Xn = X.copy()
        Xn[0, 1] = np.nan
        fit_count_model(y, Xn)


# ----------------------------------------------------------------- Shapley axioms, known answers


def test_shapley_square_game_known_answer():
    # v(S) = (sum_{i in S} a_i)^2 has Shapley values phi_i = a_i * sum(a)
    a = {"p": 1.0, "q": 2.0, "r": 2.0, "s": 0.0}
    phi = shapley_values(lambda S: sum(a[i] for i in S) ** 2, list(a))
    total = sum(a.values())
    for k, v in a.items():
        assert phi[k] == pytest.approx(v * total, abs=1e-12)
    assert sum(phi.values()) == pytest.approx(total**2, abs=1e-12)  # efficiency
    assert phi["q"] == pytest.approx(phi["r"], abs=1e-12)  # symmetry
    assert phi["s"] == pytest.approx(0.0, abs=1e-12)  # dummy player


def test_shapley_glove_game_known_answer():
    # one left glove (L), two right gloves (R1, R2): phi = (2/3, 1/6, 1/6)
    def v(S):
        return float(min(int("L" in S), int("R1" in S) + int("R2" in S)))

    phi = shapley_values(v, ["L", "R1", "R2"])
    assert phi["L"] == pytest.approx(2 / 3, abs=1e-12)
    assert phi["R1"] == pytest.approx(1 / 6, abs=1e-12)
    assert phi["R2"] == pytest.approx(1 / 6, abs=1e-12)


def _constructed(seed=0, T=24, U=3):
    """Two periods of T months on U units; covariates x1 (group g1), x2 (g2), x3 (g2)."""
    rng = np.random.default_rng(seed)
    ds = np.tile(np.arange(2 * T), U)
    unit = np.repeat(np.arange(U), 2 * T)
    period_b = ds >= T
    x1 = rng.normal(size=len(ds)) + period_b
    x2 = rng.normal(size=len(ds)) - period_b
    x3 = rng.normal(size=len(ds))
    X = pd.DataFrame({"const": 1.0, "u1": (unit == 1) * 1.0, "u2": (unit == 2) * 1.0,
                      "x1": x1, "x2": x2, "x3": x3})
    eta = 2.0 + 0.3 * X["u1"] - 0.2 * X["u2"] + 0.4 * x1 + 0.25 * x2 - 0.1 * x3
    y = rng.poisson(rng.gamma(5.0, np.exp(eta) / 5.0))
    groups = {"x1": "g1", "x2": "g2", "x3": "g2"}
    return y, X, groups, unit, ds, period_b


def test_period_value_additive_case_known_answer():
    # each player's contribution is constant within (unit, period) and changes by the same
    # delta_g in every unit: v(S) = v(empty) + sum_{g in S} delta_g, so phi_g = delta_g exactly,
    # whatever the unit levels and the (unequal) period lengths
    y, X, groups, unit, ds, pb = _constructed()
    res = AttributionModel(y, X, groups, unit=unit, time=ds).fit(cov_type="HC0")
    units_a, units_b = np.repeat([0, 1, 2], 4), np.repeat([0, 1, 2], 6)
    delta = {"g1": 0.7, "g2": -0.3, OTHER: 0.0}
    level = {"g1": [0.1, -0.2, 0.4], "g2": [0.0, 0.5, -0.1], OTHER: [2.0, 1.0, 0.3]}
    lp_a = pd.DataFrame({g: np.asarray(level[g])[units_a] for g in delta})
    lp_b = pd.DataFrame({g: np.asarray(level[g])[units_b] + delta[g] for g in delta})
    value, players = res._period_value_fn(lp_a, lp_b, units_a, units_b)
    phi = shapley_values(value, players)
    for g, d in delta.items():
        assert phi[g] == pytest.approx(d, abs=1e-12)
    fa = np.log(np.sum(np.exp(lp_a.groupby(units_a).mean().sum(axis=1))))
    assert value(frozenset()) == pytest.approx(fa, abs=1e-12)


def test_attribution_shapley_efficiency_and_symmetry_nonadditive():
    y, X, groups, unit, ds, pb = _constructed()
    res = AttributionModel(y, X, groups, unit=unit, time=ds).fit(cov_type="HC0")
    sh = res.shapley(~pb, pb, n_draws=30, random_seed=2)
    assert sh.table["share"].sum() == pytest.approx(sh.total_change, abs=1e-10)
    assert sh.table.loc[sh.table.group != RESIDUAL, "share"].sum() == pytest.approx(sh.fitted_change, abs=1e-10)
    # symmetry through the value function itself: two players with identical contributions
    lp_a = res.linear_predictor_by_group(X.loc[~pb])
    lp_b = res.linear_predictor_by_group(X.loc[pb])
    lp_a["g1_copy"] = lp_a["g1"] / 2
    lp_a["g1"] = lp_a["g1"] / 2
    lp_b["g1_copy"] = lp_b["g1"] / 2
    lp_b["g1"] = lp_b["g1"] / 2
    value, players = res._period_value_fn(lp_a, lp_b, unit[~pb], unit[pb])
    phi = shapley_values(value, players)
    assert phi["g1"] == pytest.approx(phi["g1_copy"], abs=1e-12)
    assert sum(phi.values()) == pytest.approx(value(frozenset(players)) - value(frozenset()), abs=1e-12)
    # fitted mean counts of the periods are v(empty) and v(all)
    mu = res.fittedvalues.to_numpy()
    fa = np.log(np.sum(np.bincount(unit[~pb], weights=mu[~pb]) / np.bincount(unit[~pb])))
    fb = np.log(np.sum(np.bincount(unit[pb], weights=mu[pb]) / np.bincount(unit[pb])))
    assert sh.fitted_change == pytest.approx(fb - fa, abs=1e-10)
    t = sh.table.set_index("group")
    assert (t["ci_low"] <= t["share"] + 1e-9).all() and (t["share"] <= t["ci_high"] + 1e-9).all()


def test_linear_predictor_by_group_sums_to_eta():
    y, X, groups, unit, ds, pb = _constructed()
    off = np.log(np.linspace(1.0, 2.0, len(y)))
    res = AttributionModel(y, X, groups, offset=off, unit=unit, time=ds).fit(cov_type="HC0")
    lp = res.linear_predictor_by_group()
    assert list(lp.columns) == ["g1", "g2", OTHER]
    np.testing.assert_allclose(lp.sum(axis=1), res.linear_predictor, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.exp(res.linear_predictor), res.fittedvalues, rtol=1e-10)


def test_contributions_sum_exactly_to_fitted_change():
    y, X, groups, unit, ds, pb = _constructed()
    off = np.log(np.linspace(1.0, 2.0, len(y)))
    res = AttributionModel(y, X, groups, offset=off, unit=unit, time=ds).fit(cov_type="HC0")
    con = res.contributions()
    parts = con.drop(columns="fitted_change").sum(axis=1)
    np.testing.assert_allclose(parts, con["fitted_change"], rtol=0, atol=1e-10)
    eta = res.linear_predictor
    np.testing.assert_allclose(con["fitted_change"], eta - eta.mean(), rtol=0, atol=1e-10)
    ref = X.loc[~pb].mean()
    ref["offset"] = off[~pb].mean()
    c2 = res.contributions(reference=ref, X=X.loc[pb], offset=off[pb])
    np.testing.assert_allclose(c2.drop(columns="fitted_change").sum(axis=1), c2["fitted_change"], atol=1e-10)


# ----------------------------------------------------------------- recovery and coverage


def test_known_irr_recovered_within_interval():
    rng = np.random.default_rng(11)
    n = 2000
    X = pd.DataFrame({"const": 1.0, "x": rng.normal(size=n), "z": rng.binomial(1, 0.3, size=n) * 1.0})
    true = {"x": 0.3, "z": -0.5}
    mu = np.exp(1.0 + true["x"] * X["x"] + true["z"] * X["z"])
    y = rng.poisson(rng.gamma(2.0, mu / 2.0))
    res = AttributionModel(y, X, {"x": "economic", "z": "security"}).fit(cov_type="HC0")
    eff = res.irr().set_index("covariate")
    for c, b in true.items():
        assert eff.loc[c, "ci_low"] < math.exp(b) < eff.loc[c, "ci_high"]
    sd = X["x"].std(ddof=1)
    assert eff.loc["x", "irr_per_sd"] == pytest.approx(math.exp(res.params["x"] * sd), rel=1e-12)


def test_irr_interval_coverage_near_nominal():
    # 200 simulated data sets: the 95% Wald interval for a known IRR covers it about 95% of the time
    rng = np.random.default_rng(5)
    hits = 0
    reps = 200
    for _ in range(reps):
        x = rng.normal(size=300)
        mu = np.exp(0.5 + 0.2 * x)
        y = rng.poisson(rng.gamma(3.0, mu / 3.0))
        res = AttributionModel(y, pd.DataFrame({"const": 1.0, "x": x}), {"x": "g"}).fit(cov_type="nonrobust")
        e = res.irr().iloc[0]
        hits += e["ci_low"] < math.exp(0.2) < e["ci_high"]
    # binomial(200, 0.95): 0.91..0.99 holds with probability > 0.99
    assert 0.91 <= hits / reps <= 0.99


def test_driscoll_kraay_panel_with_common_shocks_recovers_irr():
    rng = np.random.default_rng(3)
    T, U = 150, 6
    tt = np.repeat(np.arange(T), U)
    common = np.repeat(0.4 * rng.normal(size=T), U)  # shock shared by all units in a month
    x = np.repeat(rng.normal(size=T), U)  # a national covariate
    X = pd.DataFrame({"const": 1.0, "x": x})
    y = rng.poisson(np.exp(1.0 + 0.25 * x + common))
    dk = AttributionModel(y, X, {"x": "economic"}, family="poisson", time=tt).fit(cov_type="driscoll-kraay")
    naive = AttributionModel(y, X, {"x": "economic"}, family="poisson", time=tt).fit(cov_type="nonrobust")
    e = dk.irr().iloc[0]
    assert e["ci_low"] < math.exp(0.25) < e["ci_high"]
    assert dk.bse["x"] > 1.5 * naive.bse["x"]  # naive errors ignore the common shocks


# ----------------------------------------------------------------- scenarios and reporting


def test_scenario_mean_and_ratio():
    rng = np.random.default_rng(8)
    n = 3000
    X = pd.DataFrame({"const": 1.0, "x": rng.normal(size=n)})
    y = rng.poisson(np.exp(1.0 + 0.4 * X["x"]))
    res = AttributionModel(y, X, {"x": "economic"}, family="poisson").fit(cov_type="nonrobust")
    X0 = pd.DataFrame({"const": [1.0] * 12, "x": 0.0})
    X1 = X0.assign(x=1.0)
    s0 = res.scenario(X0, n_samples=4000, random_seed=1)
    s1 = res.scenario(X1, n_samples=4000, random_seed=1)
    assert s0.total()["mean"] == pytest.approx(12 * math.exp(res.params["const"]), rel=0.03)
    assert s1.total()["mean"] / s0.total()["mean"] == pytest.approx(math.exp(res.params["x"]), rel=0.04)
    t = s0.total()
    assert t["lo-95"] <= t["lo-80"] <= t["mean"] <= t["hi-80"] <= t["hi-95"]
    assert (s0.samples >= 0).all() and s0.samples.dtype.kind == "i"
    with pytest.raises(ValueError, match="lacks column"):
        res.scenario(X0.drop(columns="x"))


def test_results_reporting():
    y, X, groups, unit, ds, pb = _constructed()
    res = AttributionModel(y, X, groups, unit=unit, time=ds).fit()
    d = res.to_dict()
    assert d["interpretation"] == INTERPRETATION and "not causal" in INTERPRETATION
    assert {e["covariate"] for e in d["effects"]} == set(groups)
    s = res.summary()
    assert list(s.table.index) == list(X.columns) and "Attribution model" in s.as_text()
    assert "<table" in s._repr_html_()
    ci = res.conf_int()
    assert (ci["lower"] < res.params).all() and (res.params < ci["upper"]).all()
    with pytest.raises(ValueError, match="reserved"):
        AttributionModel(y, X, {"x1": OTHER})
    with pytest.raises(ValueError, match="overlap"):
        res.shapley(np.ones(len(y), bool), pb)


def test_irr_from_draws_matches_closed_form():
    # normal draws of a standardised coefficient: median and percentiles are known in closed form
    rng = np.random.default_rng(4)
    b = rng.normal(0.2, 0.05, size=(40000, 1))
    t = irr_from_draws(b, ["x"], sd=[2.0], groups={"x": "economic"}).iloc[0]
    assert t["irr_per_sd"] == pytest.approx(math.exp(0.2), rel=2e-3)
    assert t["irr"] == pytest.approx(math.exp(0.1), rel=2e-3)  # per unit = per SD / sd
    assert t["irr_per_sd_ci_high"] == pytest.approx(math.exp(0.2 + 1.959964 * 0.05), rel=3e-3)
    assert t["prob_irr_gt_1"] == pytest.approx(1.0, abs=1e-3)
    u = irr_from_draws(b / 2.0, ["x"], sd=[2.0], standardized=False).iloc[0]
    assert u["irr"] == pytest.approx(t["irr"], rel=1e-12) and u["irr_per_sd"] == pytest.approx(t["irr_per_sd"])
    with pytest.raises(ValueError, match="n_draws"):
        irr_from_draws(b, ["x", "y"], sd=[1.0, 1.0])


def test_shapley_interval_coverage_of_true_shares():
    # the true shares are the Shapley values computed with the true coefficients on the same
    # design; over 100 simulated outcomes the 90% intervals should cover them about 90% of the time
    rng = np.random.default_rng(17)
    T, U = 60, 3
    ds = np.tile(np.arange(T), U)
    unit = np.repeat(np.arange(U), T)
    X = pd.DataFrame({"const": 1.0, "u1": (unit == 1) * 1.0, "u2": (unit == 2) * 1.0,
                      "x1": rng.normal(size=T * U) + (ds >= 30), "x2": rng.normal(size=T * U) - 0.5 * (ds >= 30)})
    beta = np.array([1.5, 0.2, -0.3, 0.3, 0.2])
    groups = {"x1": "g1", "x2": "g2"}
    pa, pb = ds < 30, ds >= 30
    mu = np.exp(X.to_numpy() @ beta)
    # the truth: the model's Shapley values at the true coefficients
    y0 = rng.poisson(mu)
    ref = AttributionModel(y0, X, groups, family="poisson", unit=unit, time=ds).fit(cov_type="nonrobust")
    lp_a = ref.linear_predictor_by_group(X.loc[pa], params=beta)
    lp_b = ref.linear_predictor_by_group(X.loc[pb], params=beta)
    value, players = ref._period_value_fn(lp_a, lp_b, unit[pa], unit[pb])
    truth = shapley_values(value, players)
    hits = {g: 0 for g in ("g1", "g2")}
    reps = 100
    for r in range(reps):
        y = rng.poisson(mu)
        res = AttributionModel(y, X, groups, family="poisson", unit=unit, time=ds).fit(cov_type="nonrobust")
        t = res.shapley(pa, pb, n_draws=200, random_seed=r, alpha=0.10).table.set_index("group")
        for g in hits:
            hits[g] += t.loc[g, "ci_low"] <= truth[g] <= t.loc[g, "ci_high"]
    # binomial(100, 0.9): 0.82..0.97 holds with probability > 0.99
    for g, h in hits.items():
        assert 0.82 <= h / reps <= 0.97, (g, h)
