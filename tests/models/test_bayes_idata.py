"""Saved Bayesian results are complete InferenceData: observed_data, posterior_predictive and
log_likelihood of the observed variable, so ``az.plot_ppc`` and ``az.loo`` work on the file read
back with ``az.from_netcdf``; the log-likelihood the results compute equals PyMC's; every results
class has ``plot()`` returning a matplotlib figure."""

from __future__ import annotations

import warnings

import arviz as az
import matplotlib
import numpy as np
import pandas as pd
import pytest

from pakcast.models.bayes.changepoint import BayesianChangepoint
from pakcast.models.bayes.its import HierarchicalNBITS, HierarchicalNBITSResults
from pakcast.models.bayes.severity import SeverityModel
from pakcast.models.bayes.simulate import simulate_its_panel

matplotlib.use("Agg")
TINY = dict(sampler="pymc", draws=60, tune=60, chains=2)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def panel():
    return simulate_its_panel(n_units=3, n_months=36, breaks=("2011-06-15",), random_seed=5)[0]


def _check_saved(res, var: str, n_obs: int, tmp_path):
    path = res.save(tmp_path / "idata.nc")
    back = az.from_netcdf(path)
    for group in ("posterior", "observed_data", "posterior_predictive", "log_likelihood"):
        assert group in back.groups(), group
    assert back.observed_data[var].shape == (n_obs,)
    C, D = back.posterior.sizes["chain"], back.posterior.sizes["draw"]
    assert back.posterior_predictive[var].shape == (C, D, n_obs)
    assert back.posterior_predictive[var].values.min() >= 0
    ll = back.log_likelihood[var].values
    assert ll.shape == (C, D, n_obs) and np.isfinite(ll).all() and (ll <= 0).all()
    loo = _quiet(az.loo, back, pointwise=True)
    assert np.isfinite(loo.elpd_loo) and loo.loo_i.size == n_obs
    axes = _quiet(az.plot_ppc, back, num_pp_samples=20)
    assert axes is not None
    fig, _ = res.plot()
    assert isinstance(fig, matplotlib.figure.Figure)
    labels = [t.get_text() for t in fig.legends[0].texts] if fig.legends else \
        [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().texts]
    assert labels and all("_" not in lab for lab in labels)
    matplotlib.pyplot.close("all")


def test_hierarchical_its_saved_file_is_complete(panel, tmp_path):
    res = _quiet(HierarchicalNBITS(panel, breaks=["2011-06-15"]).fit, random_seed=3, **TINY)
    _check_saved(res, "y", 3 * 36, tmp_path)
    obs = res.idata.observed_data
    assert set(obs["unit"].values) == {"U00", "U01", "U02"}
    assert pd.Timestamp(obs["time"].values[0]) == pd.Timestamp("2010-01-01")


@pytest.mark.parametrize("zero_model", ["none", pytest.param("hurdle", marks=pytest.mark.slow)])
def test_pointwise_log_likelihood_equals_pymc(panel, zero_model):
    """The results' own log-likelihood (used when the fit did not ask PyMC for one, e.g. with the
    Numba likelihood) is PyMC's, value for value, also for the hurdle model."""
    model = HierarchicalNBITS(panel, breaks=["2011-06-15"], zero_model=zero_model, likelihood="native")
    res = _quiet(model.fit, random_seed=4, log_likelihood=True, **TINY)
    pymc_ll = res.idata.log_likelihood["y"].values
    bare = az.InferenceData(posterior=res.idata.posterior, sample_stats=res.idata.sample_stats)
    bare.attrs.update(res.idata.attrs)
    ours = HierarchicalNBITSResults(model, bare).idata.log_likelihood["y"].values
    np.testing.assert_allclose(ours, pymc_ll, rtol=1e-6, atol=1e-8)


def test_numba_likelihood_fit_still_gets_a_log_likelihood(panel, tmp_path):
    res = _quiet(HierarchicalNBITS(panel, breaks=["2011-06-15"], likelihood="numba").fit, random_seed=6, **TINY)
    assert "log_likelihood" in res.idata.groups()
    _check_saved(res, "y", 3 * 36, tmp_path)


def test_severity_saved_file_is_complete(tmp_path):
    rng = np.random.default_rng(1)
    attacks = rng.poisson(3, size=60)
    p = pd.DataFrame({"unique_id": np.repeat(["A", "B", "C"], 20), "attacks": attacks,
                      "killed": rng.poisson(2 * attacks)})
    res = _quiet(SeverityModel(p).fit, random_seed=2, **TINY)
    _check_saved(res, "killed", int((attacks > 0).sum()), tmp_path)


@pytest.mark.parametrize("family", ["poisson", pytest.param("negbin", marks=pytest.mark.slow)])
def test_changepoint_saved_file_is_complete(family, tmp_path):
    rng = np.random.default_rng(3)
    y = np.r_[rng.poisson(6, 25), rng.poisson(2, 25)].astype(float)
    y[7] = np.nan
    res = _quiet(BayesianChangepoint(y, labels=list(range(1950, 2000)), family=family).fit, random_seed=1, **TINY)
    _check_saved(res, "y", 49, tmp_path)
    assert list(res.idata.observed_data["period"].values[:8]) == [1950, 1951, 1952, 1953, 1954, 1955, 1956, 1958]
    # the replicated counts follow the two regimes: early periods higher than late ones
    yrep = res.idata.posterior_predictive["y"].values
    assert yrep[..., :20].mean() > 2 * yrep[..., -20:].mean()
