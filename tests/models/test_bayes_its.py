"""Hierarchical NB ITS (models.bayes.its / build): design, NB parameterisation, variants,
a tiny smoke fit whose gates must fire, forecasts; recovery on simulated panels (slow)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pakcast.models.bayes.build import build_hierarchical_its
from pakcast.models.bayes.diagnostics import ConvergenceWarning
from pakcast.models.bayes.its import HierarchicalNBITS
from pakcast.models.bayes.simulate import simulate_its_panel


@pytest.fixture(scope="module")
def sim():
    return simulate_its_panel(n_units=3, n_months=48, breaks=("2011-06-15",), random_seed=7)


def test_design_steps_ramps_and_centring(sim):
    panel, _ = sim
    d = HierarchicalNBITS(panel, breaks=["2011-06-15"]).design
    assert d.y.shape == (3, 48)
    first_post = int(np.argmax(d.step[0] > 0))
    assert d.dates[first_post] == pd.Timestamp("2011-07-01")          # period start after the break date
    assert d.ramp[0, first_post] == pytest.approx(16 / 365.25)        # years since the break date
    assert np.all(d.ramp[0, :first_post] == 0)
    assert abs(d.t.mean()) < 0.05                                     # time centred in the window
    assert d.fourier.shape == (48, 4)
    assert d.exposure is None


@pytest.mark.parametrize("mutate, match", [
    (lambda p: p.drop(columns="attacks"), "missing column"),
    (lambda p: p.assign(attacks=p["attacks"].where(p.index != 5, -1)), "row 5"),
    (lambda p: p.assign(attacks=p["attacks"].astype(float).where(p.index != 7, 1.5)), "row 7"),
    (lambda p: pd.concat([p, p.iloc[[3]]]), "duplicate"),
    (lambda p: p.drop(index=10), "lacks 1 unit-period"),
])
def test_bad_panels_are_rejected_with_a_clear_error(sim, mutate, match):
    panel, _ = sim
    with pytest.raises(ValueError, match=match):
        HierarchicalNBITS(mutate(panel), breaks=["2011-06-15"])


def test_break_outside_window_is_rejected(sim):
    with pytest.raises(ValueError, match="outside the fit window"):
        HierarchicalNBITS(sim[0], breaks=["2030-01-01"])


def test_missing_outcomes_are_counted_not_dropped_silently(sim):
    panel = sim[0].copy()
    panel["attacks"] = panel["attacks"].astype(float)
    panel.loc[[0, 1], "attacks"] = np.nan
    m = HierarchicalNBITS(panel, breaks=["2011-06-15"])
    assert any("2 unit-periods with missing" in n for n in m.design.notes)
    assert m.build()["y"].eval().size == 3 * 48 - 2


def test_population_offset_used_only_when_known_everywhere(sim):
    panel = sim[0].assign(population=2e6)
    assert HierarchicalNBITS(panel, breaks=["2011-06-15"]).design.exposure == "population"
    assert np.allclose(HierarchicalNBITS(panel, breaks=["2011-06-15"]).design.offset, np.log(2.0))
    panel.loc[panel["unique_id"] == "U01", "population"] = np.nan
    with pytest.warns(UserWarning, match="offset dropped"):
        d = HierarchicalNBITS(panel, breaks=["2011-06-15"]).design
    assert d.exposure is None and np.all(d.offset == 0)


def test_native_nb_likelihood_is_nb2_with_inverted_alpha():
    """PyMC's alpha is 1 / NB2 alpha: the model's pointwise logp must equal scipy's NB2 logpmf."""
    T = 8
    y = np.array([[0, 3, 1, 7, 2, 0, 12, 4]], dtype=float)
    t = np.linspace(-1, 1, T)
    data = {"y": y, "t": t, "step": np.zeros((0, T)), "ramp": np.zeros((0, T)), "fourier": np.zeros((T, 0)),
            "offset": np.full((1, T), 0.3)}
    m = build_hierarchical_its(data, {"unit": ["a"], "time": np.arange(T), "break": [], "fourier": []},
                               {"intercept_center": 0.0}, pooling="complete")
    point = {"intercept_mu": 0.7, "trend_mu": -0.4, "log_alpha": np.log(0.6)}
    logp_fn = m.compile_fn(m.logp(vars=[m["y"]], sum=False)[0])
    mu = np.exp(0.3 + 0.7 - 0.4 * t)
    alpha_nb2 = 0.6
    ref = stats.nbinom.logpmf(y[0], 1.0 / alpha_nb2, 1.0 / (1.0 + alpha_nb2 * mu))
    np.testing.assert_allclose(logp_fn(point), ref, rtol=1e-8)


@pytest.mark.parametrize("kw, expect", [
    ({"pooling": "complete"}, {"intercept_mu", "level_mu"}),
    ({"pooling": "none"}, {"level_z"}),
    ({"zero_model": "zinb"}, {"psi"}),
    ({"zero_model": "hurdle"}, {"psi"}),
    ({"latent": "ar1"}, {"latent_rho", "latent_sigma"}),
    ({"latent": "rw"}, {"latent_sigma"}),
])
def test_model_variants_build_and_evaluate(sim, kw, expect):
    m = HierarchicalNBITS(sim[0], breaks=["2011-06-15"], **kw).build()
    names = {v.name for v in m.free_RVs}
    assert expect <= names
    if kw.get("pooling") == "none":
        assert "level_mu" not in names and "intercept_mu" not in names
    if kw.get("pooling") == "complete":
        assert "level_sigma" not in names and "level_z" not in names
    lp = m.compile_logp()(m.initial_point())
    assert np.isfinite(lp)


def test_ar1_latent_matches_recursion():
    T = 6
    data = {"y": np.ones((1, T)), "t": np.arange(T) / 12.0, "step": np.zeros((0, T)), "ramp": np.zeros((0, T)),
            "fourier": np.zeros((T, 0))}
    m = build_hierarchical_its(data, {"unit": ["a"], "time": np.arange(T), "break": [], "fourier": []},
                               latent="ar1")
    rho, sigma = 0.6, 0.4
    e = np.array([0.3, -1.0, 0.5, 2.0, 0.0, -0.2])
    f = m.compile_fn(m.replace_rvs_by_values([m["latent"]])[0], inputs=m.value_vars, on_unused_input="ignore")
    pt_ = m.initial_point()
    pt_["latent_innov"] = e
    pt_["latent_sigma_log__"] = np.log(sigma)
    pt_["latent_rho_interval__"] = np.log((rho + 0.99) / (0.99 - rho))
    z = f(pt_)
    ref = np.empty(T)
    ref[0] = sigma * e[0] / np.sqrt(1 - rho**2)
    for t in range(1, T):
        ref[t] = rho * ref[t - 1] + sigma * e[t]
    np.testing.assert_allclose(z, ref, rtol=1e-10)


def test_prior_predictive_gives_plausible_counts(sim):
    pp = HierarchicalNBITS(sim[0], breaks=["2011-06-15"]).prior_predictive(samples=300, random_seed=1)
    assert pp["share_all_zero"] < 0.2
    # the prior must allow provinces 100x apart (Khyber Pakhtunkhwa vs Azad Jammu and Kashmir), yet
    # few simulated province-months should exceed 10x the largest observed count
    assert pp["share_cells_above_10x_observed_max"] < 0.05
    assert pp["prior"]["q50"] <= 10 * max(pp["observed"]["q50"], 1)


@pytest.fixture(scope="module")
def tiny_fit(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return HierarchicalNBITS(sim[0], breaks=["2011-06-15"]).fit(sampler="pymc", draws=40, tune=40, chains=2,
                                                                     random_seed=3)


def test_tiny_fit_fails_the_gates_and_every_output_warns(tiny_fit):
    d = tiny_fit.diagnostics
    assert not d.converged and d.min_ess_bulk < 400          # 80 draws cannot give 400 effective draws
    with pytest.warns(ConvergenceWarning):
        tiny_fit.summary()
    with pytest.warns(ConvergenceWarning):
        tiny_fit.forecast(3, random_seed=1)
    out = tiny_fit.to_dict()
    assert out["converged"] is False and out["diagnostics"]["failures"]
    lr = out["effects"]["U00"]["2011-06-15"]["level_rate_ratio"]
    assert {"mean", "hdi_low", "hdi_high", "p_decrease"} <= set(lr)
    assert lr["hdi_low"] <= lr["mean"] <= lr["hdi_high"]


def test_forecast_shape_type_and_reproducibility(tiny_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = tiny_fit.forecast(5, random_seed=9)
        b = tiny_fit.forecast(5, random_seed=9)
        c = tiny_fit.forecast(5, n_samples=1000, random_seed=9)
        da = tiny_fit.forecast_dataarray(5, random_seed=9)
    assert a.shape == (3, 5, 80) and a.dtype == np.int64 and a.min() >= 0
    np.testing.assert_array_equal(a, b)
    assert c.shape == (3, 5, 1000)
    assert list(da.dims) == ["unique_id", "horizon", "sample"]
    assert pd.Timestamp(da["ds"].values[0]) == pd.Timestamp("2014-01-01")   # 48 months from Jan 2010
    with pytest.raises(ValueError):
        tiny_fit.forecast(0)


def test_break_effects_table_is_tidy(tiny_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = tiny_fit.break_effects()
    assert list(t["unit"]) == ["national", "U00", "U01", "U02"]
    for col in ("level_rr_mean", "level_rr_hdi95_low", "level_rr_hdi90_high", "level_rr_p_decrease",
                "slope_rr_p_increase"):
        assert col in t.columns
    w95 = t["level_rr_hdi95_high"] - t["level_rr_hdi95_low"]
    w90 = t["level_rr_hdi90_high"] - t["level_rr_hdi90_low"]
    assert np.all(w95 >= w90)


@pytest.mark.slow
def test_recovers_known_break_effects_on_simulated_panel():
    panel, truth = simulate_its_panel(n_units=6, n_months=120, breaks=("2014-06-15",), level_mu=(-0.8,),
                                      slope_mu=(0.0,), random_seed=21)
    res = HierarchicalNBITS(panel, breaks=["2014-06-15"]).fit(sampler="nutpie", draws=1000, tune=1000,
                                                              random_seed=5)
    assert res.diagnostics.converged, res.diagnostics.message()
    eff = res.to_dict()["effects"]
    nat = eff["national"]["2014-06-15"]["level_rate_ratio"]
    assert nat["hdi_low"] < np.exp(truth["level_mu"][0]) < nat["hdi_high"]
    assert nat["p_decrease"] > 0.95
    inside = [eff[u]["2014-06-15"]["level_rate_ratio"]["hdi_low"] < np.exp(truth["level"][i, 0])
              < eff[u]["2014-06-15"]["level_rate_ratio"]["hdi_high"] for i, u in enumerate(truth["units"])]
    assert sum(inside) >= 5
    ppc = res.ppc(random_seed=1)
    assert ppc.pit_ks_pvalue > 0.001


def test_numba_likelihood_gives_the_same_logp_as_native(sim):
    pytest.importorskip("pakcast.models.likelihood.pytensor_ops")
    native = HierarchicalNBITS(sim[0], breaks=["2011-06-15"]).build()
    numba = HierarchicalNBITS(sim[0], breaks=["2011-06-15"], likelihood="numba").build()
    rng = np.random.default_rng(0)
    point = {k: v + 0.1 * rng.standard_normal(np.shape(v)) for k, v in native.initial_point().items()}
    lp_native = native.compile_logp()(point)
    lp_numba = numba.compile_logp()(point)
    assert lp_numba == pytest.approx(lp_native, rel=1e-9)
    g_native = native.compile_dlogp()(point)
    g_numba = numba.compile_dlogp()(point)
    np.testing.assert_allclose(g_numba, g_native, rtol=1e-7, atol=1e-9)


def test_covariates_are_standardised_in_the_window(sim):
    panel = sim[0].copy()
    panel["x"] = np.arange(len(panel), dtype=float) % 48
    m = HierarchicalNBITS(panel, breaks=["2011-06-15"], covariates=["x"], start="2011-01-01")
    d = m.design
    assert d.X.shape == (3, 36, 1)
    assert abs(d.X.mean()) < 1e-12 and d.X.std() == pytest.approx(1.0)
    assert d.covariate_mean[0] == pytest.approx(29.5)
    assert "beta" in {v.name for v in m.build().free_RVs}
    with pytest.raises(ValueError, match="covariate column"):
        HierarchicalNBITS(panel, breaks=["2011-06-15"], covariates=["nope"])
