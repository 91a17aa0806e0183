"""INGARCH: the tscount recursion and estimator on the Campylobacter example, gradients,
interventions, recovery/coverage on simulated data, forecasts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from pakcast.models.ingarch import INGARCH, intervention_covariate, simulate_ingarch
from results import results_ingarch as ref  # tests/models/results


@pytest.fixture(scope="module")
def campy(reference_dir):
    return pd.read_csv(reference_dir / "campy.csv")["cases"].to_numpy()


@pytest.fixture(scope="module")
def campy_fit(campy):
    m = INGARCH(campy, past_obs=[1], past_mean=[13], interventions=[(84, 1.0), (100, 0.0)], distr="nbinom")
    return m, m.fit()


def test_intervention_covariate_matches_tscount_definition():
    X = intervention_covariate(140, [84, 100], [1, 0])
    assert X.shape == (140, 2)
    assert X[:83, 0].sum() == 0 and np.all(X[83:, 0] == 1)  # level shift from t = 84 (1-based)
    assert X[99, 1] == 1 and X[:, 1].sum() == 1  # spike at t = 100
    dec = intervention_covariate(10, [3], [0.5])[:, 0]
    np.testing.assert_allclose(dec[2:5], [1, 0.5, 0.25])


def test_recursion_equals_tscount_transcription(campy, campy_fit):
    m, res = campy_fit
    par = res.params.to_numpy() * 1.01
    nu, _ = m._nu(par)
    ref_nu = ref.tscount_condmean(par, campy, m.X.tolist(), [1], [13])
    np.testing.assert_allclose(nu, ref_nu, rtol=1e-13)


def test_campy_qmle_first_order_conditions_and_pearson_sigmasq(campy, campy_fit):
    m, res = campy_fit
    assert res.converged
    assert list(res.params.index) == ["intercept", "beta_1", "alpha_13", "interv_1", "interv_2"]
    _, g = m._neg_qll(res.params.to_numpy())
    assert np.max(np.abs(g)) < 1e-4
    # an independent optimiser from another start reaches the same Poisson QMLE
    alt = optimize.minimize(lambda x: m._neg_qll(x)[0], res.params.to_numpy() * 0.8 + 0.05, method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 40000, "maxfev": 40000})
    np.testing.assert_allclose(alt.x, res.params.to_numpy(), rtol=2e-4)
    lam = res.fitted
    pearson = np.sum((campy - lam) ** 2 / (lam * (1 + res.sigmasq * lam)))
    assert pearson == pytest.approx(ref.CAMPY_N - 5, rel=1e-10)
    assert 0 < res.sigmasq < 0.1  # "the degree of overdispersion seems to be small" (JSS 82(5))
    ci = res.conf_int()
    assert np.all(ci["lower"] < res.params) and np.all(res.params < ci["upper"])


def test_campy_gradient_matches_finite_differences(campy_fit):
    m, res = campy_fit
    par = res.params.to_numpy() * np.array([1.1, 0.9, 1.2, 0.8, 1.05])
    f, g = m._neg_qll(par)
    num = [(m._neg_qll(par + 1e-6 * e)[0] - m._neg_qll(par - 1e-6 * e)[0]) / 2e-6 for e in np.eye(5)]
    np.testing.assert_allclose(g, num, rtol=1e-5)


def test_campy_ml_is_close_to_qmle(campy_fit):
    m, res = campy_fit
    ml = m.fit(estimation="ml")
    assert ml.llf >= res.llf - 1e-9
    np.testing.assert_allclose(ml.params, res.params, rtol=0.1)


def test_forecast_shapes_and_level_shift_persists(campy_fit):
    _, res = campy_fit
    fc = res.forecast(6, n_samples=300, random_seed=2)
    assert fc.shape == (300, 6) and fc.min() >= 0
    np.testing.assert_array_equal(fc, res.forecast(6, n_samples=300, random_seed=2))
    assert fc.mean() > res.params["interv_1"]


def test_dates_as_interventions():
    y = pd.Series(simulate_ingarch([2.0, 0.3], [0.2], n=120, random_seed=4),
                  index=pd.date_range("2010-01-01", periods=120, freq="MS"))
    a = INGARCH(y, past_obs=[1], past_mean=[1], interventions=[(pd.Timestamp("2015-01-01"), 1.0)], distr="poisson")
    b = INGARCH(y.to_numpy(), past_obs=[1], past_mean=[1], interventions=[(61, 1.0)], distr="poisson")
    np.testing.assert_array_equal(a.X, b.X)
    with pytest.raises(ValueError, match="not in y's index"):
        INGARCH(y, interventions=[(pd.Timestamp("1999-01-01"), 1.0)])


def test_recovery_coverage_poisson_ingarch():
    truth = np.array([1.0, 0.3, 0.4])
    hits = np.zeros(3)
    n_rep = 40
    for r in range(n_rep):
        y = simulate_ingarch(truth[:2], truth[2:], n=500, random_seed=100 + r)
        res = INGARCH(y, past_obs=[1], past_mean=[1], distr="poisson").fit()
        ci = res.conf_int()
        hits += (ci["lower"].to_numpy() <= truth) & (truth <= ci["upper"].to_numpy())
    # calibrated 95% intervals cover >= 33/40 with probability > 0.99
    assert np.all(hits >= 33), hits


def test_nbinom_sigmasq_recovery():
    y = simulate_ingarch([2.0, 0.4], [0.3], n=3000, sigmasq=0.2, random_seed=9)
    res = INGARCH(y, past_obs=[1], past_mean=[1], distr="nbinom").fit()
    assert res.sigmasq == pytest.approx(0.2, rel=0.25)
    ci = res.conf_int()
    truth = np.array([2.0, 0.4, 0.3])
    assert np.all((ci["lower"].to_numpy() < truth) & (truth < ci["upper"].to_numpy()))


def test_log_link_and_bad_input():
    y = simulate_ingarch([2.0, 0.3], [0.2], n=300, random_seed=5)
    res = INGARCH(y, past_obs=[1], link="log", distr="poisson").fit()
    assert res.converged and np.isfinite(res.llf)
    with pytest.raises(ValueError, match="non-negative"):
        INGARCH(y, xreg=-np.ones(300))
    with pytest.raises(ValueError, match="link"):
        INGARCH(y, link="sqrt")
