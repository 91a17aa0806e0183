"""models.covariance and the CountGLM covariances / separation check.

References fitted in the tests themselves: statsmodels 0.15 ``GLM(y, X, family=Poisson())`` with
``cov_type="HAC"``, ``"hac-groupsum"`` (Driscoll-Kraay) and ``"cluster"``;
``NegativeBinomial(..., loglike_method="nb2")`` with ``cov_type="cluster"``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from pakcast.models.covariance import (
    bartlett_meat,
    newey_west_lags,
    robust_covariance,
    sum_by,
)
from pakcast.models.glm import CountGLM, SeparationError, check_separation


def _panel(seed=3, T=60, U=4):
    rng = np.random.default_rng(seed)
    n = T * U
    tt = np.repeat(np.arange(T), U)
    uu = np.tile(np.arange(U), T)
    shock = rng.normal(scale=0.4, size=T)[tt]  # common period shock: cross-sectional correlation
    X = np.column_stack([np.ones(n), rng.normal(size=n), np.cos(tt / 7.0)])
    y = rng.poisson(np.exp(X @ [0.8, 0.25, -0.3] + shock))
    return y, X, tt, uu


def test_newey_west_rule_and_bartlett_meat_by_hand():
    assert [newey_west_lags(n) for n in (50, 100, 240, 1000)] == [3, 4, 4, 6]
    S = np.arange(12.0).reshape(6, 2) - 5
    G1 = S[1:].T @ S[:-1]
    G2 = S[2:].T @ S[:-2]
    expect = S.T @ S + (2 / 3) * (G1 + G1.T) + (1 / 3) * (G2 + G2.T)
    np.testing.assert_allclose(bartlett_meat(S, 2), expect)
    np.testing.assert_allclose(sum_by(S, [2, 1, 2, 1, 0, 0]), [S[4] + S[5], S[1] + S[3], S[0] + S[2]])


@pytest.mark.parametrize("cov_type, sm_kw, ours_kw", [
    ("HAC", {"cov_type": "HAC", "cov_kwds": {"maxlags": 4}}, {"maxlags": 4}),
    ("driscoll-kraay", {"cov_type": "hac-groupsum", "cov_kwds": {"maxlags": 3, "use_correction": False}}, {"maxlags": 3, "with_time": True}),
])
def test_poisson_hac_and_driscoll_kraay_match_statsmodels(cov_type, sm_kw, ours_kw):
    y, X, tt, _ = _panel()
    if ours_kw.pop("with_time", False):
        ours_kw["time"] = tt
        sm_kw = {**sm_kw, "cov_kwds": {**sm_kw["cov_kwds"], "time": tt}}
    ours = CountGLM(y, X, family="poisson").fit(cov_type=cov_type, **ours_kw)
    ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(**sm_kw)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse, rtol=1e-7)


def test_cluster_matches_statsmodels_up_to_its_extra_factor():
    # statsmodels' cluster correction is G/(G-1) * (n-1)/(n-k); ours (R sandwich::vcovCL, HC0) is G/(G-1)
    y, X, _, uu = _panel(T=40, U=12)
    uu = np.tile(np.arange(12), 40)
    n, k = X.shape
    ours = CountGLM(y, X, family="poisson").fit(cov_type="cluster", groups=uu)
    ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(cov_type="cluster", cov_kwds={"groups": uu})
    np.testing.assert_allclose(ours.bse.to_numpy() * np.sqrt((n - 1) / (n - k)), ref.bse, rtol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = sm.NegativeBinomial(y, X, loglike_method="nb2").fit(
            method="newton", tol=1e-12, disp=0, cov_type="cluster", cov_kwds={"groups": uu})
    ours_nb = CountGLM(y, X).fit(cov_type="cluster", groups=uu)
    np.testing.assert_allclose(ours_nb.bse.to_numpy() * np.sqrt((n - 1) / (n - k - 1)), nb.bse[:-1], rtol=1e-6)


def test_robust_covariance_needs_its_labels():
    S = np.ones((5, 1))
    with pytest.raises(ValueError, match="needs time"):
        robust_covariance(S, np.eye(1), "driscoll-kraay")
    with pytest.raises(ValueError, match="needs groups"):
        robust_covariance(S, np.eye(1), "cluster")
    with pytest.raises(ValueError, match="expected one of"):
        robust_covariance(S, np.eye(1), "HC3")


def test_start_params_reach_the_same_maximum():
    y, X, _, _ = _panel()
    a = CountGLM(y, X).fit()
    b = CountGLM(y, X).fit(start_params=a.params_full + 0.05)
    np.testing.assert_allclose(b.params_full, a.params_full, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="start_params"):
        CountGLM(y, X).fit(start_params=[0.0])


# ----------------------------------------------------------------- existence of the MLE


def _step_on_zero_months(seed=0):
    """Two units, a seasonal term and a step that is 1 only on months with zero counts (the step's
    coefficient has no finite MLE: quasi-complete separation)."""
    rng = np.random.default_rng(seed)
    T = 48
    t = np.arange(T)
    y = rng.poisson(3.0, size=T).astype(float)
    step = (t >= 40).astype(float)
    y[step == 1] = 0
    X = np.column_stack([np.ones(T), np.sin(2 * np.pi * t / 12), step])
    return y, X


def test_separation_is_detected_and_refused_with_the_rows_and_columns():
    y, X = _step_on_zero_months()
    chk = check_separation(y, X, ["const", "sin1", "step"])
    assert not chk.exists
    np.testing.assert_array_equal(chk.separated, np.arange(40, 48))
    assert "step" in chk.columns
    for family in ("poisson", "negbin"):
        with pytest.raises(SeparationError, match="no finite maximum-likelihood estimate") as e:
            CountGLM(y, X, family=family).fit()
        assert list(e.value.rows) == list(range(40, 48))


def test_separation_by_a_combination_of_columns():
    # no single column is zero on the zero rows, but const - unitA is: unit B has only zeros
    rng = np.random.default_rng(2)
    n = 60
    unit_a = (np.arange(n) < 30).astype(float)
    y = np.where(unit_a == 1, rng.poisson(4.0, n), 0).astype(float)
    X = np.column_stack([np.ones(n), unit_a, rng.normal(size=n)])
    chk = check_separation(y, X)
    assert not chk.exists and set(chk.separated) == set(range(30, 60))


def test_no_false_alarm_on_designs_with_a_finite_maximum():
    y, X, _, _ = _panel()
    assert check_separation(y, X).exists  # positive rows alone have full rank: no program solved
    # sparse counts whose positive rows are rank deficient but with no separating direction
    y2 = np.array([0, 0, 1, 0, 0, 2, 0, 0, 0, 1, 0, 0], dtype=float)
    X2 = np.column_stack([np.ones(12), (np.arange(12) >= 6).astype(float)])
    assert check_separation(y2, X2).exists
    X3 = np.column_stack([np.ones(12), np.arange(12.0), (np.arange(12) % 2).astype(float)])
    y3 = np.array([1, 0, 2, 0, 1, 0, 3, 0, 0, 0, 1, 0], dtype=float)  # odd rows all zero
    assert not check_separation(y3, X3).exists
