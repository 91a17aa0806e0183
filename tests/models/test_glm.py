"""CountGLM against statsmodels (NegativeBinomial nb2 / GLM Poisson), on simulated data and on
the shipped province-month panel.  Reference: statsmodels 0.15 fitted in the test itself
(``NegativeBinomial(y, X).fit(method="newton", tol=1e-12)``, ``GLM(y, X, family=Poisson())``)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from pakcast.models.glm import CountGLM


def _sim(n=800, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(-1, 1, n)])
    mu = np.exp(X @ [0.7, 0.4, -0.6])
    y = rng.negative_binomial(1 / 0.6, 1 / (1 + 0.6 * mu))
    expo = rng.uniform(0.5, 2.0, n)
    return y, pd.DataFrame(X, columns=["const", "x1", "x2"]), expo


def _panel_design():
    """The benchmark's design (benchmarks/bench_glm.py: attacks ~ province + quadratic trend, 2000-2021)."""
    repo = str(Path(__file__).resolve().parents[2])
    sys.path.insert(0, repo)  # benchmarks/ is a folder of the repository, not of the installed package
    try:
        from benchmarks.bench_glm import panel_design
    finally:
        sys.path.remove(repo)
    return panel_design()


def _sm_nb(y, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return sm.NegativeBinomial(y, X, **{k: v for k, v in kw.items() if k == "exposure"}).fit(
            method="newton", maxiter=200, tol=1e-12, disp=0, **{k: v for k, v in kw.items() if k != "exposure"})


class CheckNB:
    res1 = res2 = None  # ours, statsmodels

    def test_params(self):
        np.testing.assert_allclose(self.res1.params.to_numpy(), self.res2.params.to_numpy()[:-1], rtol=1e-8, atol=1e-10)
        assert self.res1.alpha_ == pytest.approx(self.res2.params.iloc[-1], rel=1e-8)

    def test_bse(self):
        np.testing.assert_allclose(self.res1.bse.to_numpy(), self.res2.bse.to_numpy()[:-1], rtol=1e-6)
        assert self.res1.alpha_bse == pytest.approx(self.res2.bse.iloc[-1], rel=1e-6)

    def test_llf_aic_bic(self):
        assert self.res1.llf == pytest.approx(self.res2.llf, rel=1e-10)
        assert self.res1.aic == pytest.approx(self.res2.aic, rel=1e-10)
        assert self.res1.bic == pytest.approx(self.res2.bic, rel=1e-10)

    def test_conf_int(self):
        np.testing.assert_allclose(self.res1.conf_int().to_numpy(), self.res2.conf_int().to_numpy()[:-1], rtol=1e-6)


class TestNBSimulated(CheckNB):
    @classmethod
    def setup_class(cls):
        y, X, expo = _sim()
        cls.res1 = CountGLM(y, X, exposure=expo).fit()
        cls.res2 = _sm_nb(y, X, exposure=expo)


class TestNBPanel(CheckNB):
    @classmethod
    def setup_class(cls):
        y, X = _panel_design()
        cls.res1 = CountGLM(y, X).fit()
        cls.res2 = _sm_nb(y, X)


@pytest.mark.parametrize("cov_type,kw", [("HC0", {}), ("HAC", {"maxlags": 4})])
def test_robust_covariances_match_statsmodels(cov_type, kw):
    y, X = _panel_design()
    ours = CountGLM(y, X).fit(cov_type=cov_type, **kw)
    ref = _sm_nb(y, X, cov_type=cov_type, cov_kwds=kw)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse.to_numpy()[:-1], rtol=1e-6)
    assert ours.alpha_bse == pytest.approx(ref.bse.iloc[-1], rel=1e-6)


def test_poisson_matches_statsmodels_glm_on_panel():
    y, X = _panel_design()
    ours = CountGLM(y, X, family="poisson").fit()
    ref = sm.GLM(y, X, family=sm.families.Poisson()).fit(tol=1e-12)
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse.to_numpy(), rtol=1e-6)
    assert ours.llf == pytest.approx(ref.llf, rel=1e-10)
    assert ours.alpha_ is None


def test_frequency_weights_equal_repeated_rows():
    y, X, _ = _sim(300, seed=5)
    w = np.random.default_rng(1).integers(0, 4, y.size)
    rep = np.repeat(np.arange(y.size), w)
    a = CountGLM(y, X, weights=w).fit()
    b = CountGLM(y[rep], X.iloc[rep]).fit()
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9)
    assert a.alpha_ == pytest.approx(b.alpha_, rel=1e-9)
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-7)
    assert a.nobs == b.nobs


def test_predict_summary_to_dict():
    y, X, expo = _sim(400, seed=2)
    res = CountGLM(y, X, exposure=expo).fit()
    np.testing.assert_allclose(res.predict(), np.exp(X.to_numpy() @ res.params.to_numpy()) * expo)
    fr = res.predict_frame(X.iloc[:5], exposure=expo[:5])
    assert np.all(fr.mean_ci_low < fr["mean"]) and np.all(fr["mean"] < fr.mean_ci_high)
    text = res.summary().as_text()
    assert "alpha" in text and "x1" in text and "NB2" in text
    d = res.to_dict()
    assert set(d["params"]) == {"const", "x1", "x2"}
    assert d["alpha"]["ci_low"] < d["alpha"]["estimate"] < d["alpha"]["ci_high"]


def test_recovers_truth_on_large_sample():
    y, X, _ = _sim(20_000, seed=9)
    res = CountGLM(y, X).fit()
    ci = res.conf_int(0.001)
    assert np.all((ci.lower < [0.7, 0.4, -0.6]) & ([0.7, 0.4, -0.6] < ci.upper))
    lo, hi = res.alpha_conf_int(0.001)
    assert lo < 0.6 < hi


def test_bad_input_messages():
    with pytest.raises(ValueError, match="family"):
        CountGLM([1, 2], np.ones((2, 1)), family="gamma")
    with pytest.raises(ValueError, match=r"X\[1, 0\]"):
        CountGLM([1, 2], np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="full column rank"):
        CountGLM([1, 2, 3], np.ones((3, 2)))
    with pytest.raises(ValueError, match="cov_type"):
        CountGLM([1, 2, 3], np.ones((3, 1))).fit(cov_type="HC3")


def test_indefinite_hessian_start_converges_to_the_statsmodels_maximum():
    """A design whose Newton iterations meet an indefinite Hessian (province dummies x trends, sparse
    provinces) converges with damped steps to the maximum statsmodels reaches from there."""
    import statsmodels.api as sm

    rng = np.random.default_rng(7)
    n_units, n_t = 8, 120
    t = np.tile(np.linspace(-1, 1, n_t), n_units)
    unit = np.repeat(np.arange(n_units), n_t)
    D = np.eye(n_units)[unit]
    X = np.column_stack([D, D[:, 1:] * t[:, None], np.sin(2 * np.pi * np.arange(n_units * n_t) / 12)])
    base = np.array([3.0, 1.0, 0.2, -1.5, -2.5, -3.0, 0.5, -4.0])
    mu = np.exp(base[unit] + 1.5 * t * (unit % 3 - 1))
    y = rng.negative_binomial(1.0, 1.0 / (1.0 + mu))
    res = CountGLM(y, X, family="negbin").fit()
    assert res.converged and np.all(np.isfinite(res.bse))
    ref = sm.NegativeBinomial(y, X).fit(start_params=np.r_[res.params.to_numpy(), res.alpha_], disp=0,
                                        method="newton", maxiter=100)
    assert abs(ref.llf - res.llf) < 1e-8 * abs(ref.llf)
    np.testing.assert_allclose(res.params.to_numpy(), ref.params[:-1], rtol=1e-6, atol=1e-8)


def test_all_zero_series_is_refused_clearly():
    with pytest.raises(ValueError, match="every count is zero"):
        CountGLM(np.zeros(30), np.ones((30, 1)), family="negbin").fit()
