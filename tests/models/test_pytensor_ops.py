"""PyMC bridge: the Numba NB Op equals PyMC's native NegativeBinomial (logp, gradient,
posterior), in the default and the numba backends, and under nutpie."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pm = pytest.importorskip("pymc")
pt = pytest.importorskip("pytensor.tensor")

from pakcast.models.likelihood.pytensor_ops import nb_logp  # noqa: E402

POINT = {"b0": 0.3, "b1": 0.2, "log_alpha": -0.7}


def _data(n=150, seed=0, groups=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    g = rng.integers(0, groups, n)
    a = np.array([0.6, 0.2, 1.2])[:groups][g]
    mu = np.exp(0.5 + 0.4 * x)
    y = rng.negative_binomial(1 / a, 1 / (1 + a * mu))
    return x, y, g


def _model(use_op, x, y, g=None, groups=1):
    with pm.Model() as m:
        b0 = pm.Normal("b0", 0, 2)
        b1 = pm.Normal("b1", 0, 2)
        if groups == 1:
            la = pm.Normal("log_alpha", -1, 1)
        else:
            la = pm.Normal("log_alpha", -1, 1, shape=groups)[g]
        eta = b0 + b1 * x
        if use_op:
            pm.Potential("y_loglik", nb_logp(y, eta, la))
        else:
            pm.NegativeBinomial("y", mu=pt.exp(eta), alpha=pt.exp(-la), observed=y)
    return m


@pytest.mark.parametrize("groups", [1, 3])
@pytest.mark.parametrize("mode", [None, "NUMBA"])
def test_logp_and_gradient_equal_native(groups, mode):
    x, y, g = _data(groups=groups)
    vals = []
    for use_op in (True, False):
        m = _model(use_op, x, y, g, groups)
        ip = m.initial_point()
        ip.update({"b0": 0.3, "b1": 0.2})
        ip["log_alpha"] = np.full(np.shape(ip["log_alpha"]), -0.7) + 0.1 * np.arange(np.size(ip["log_alpha"])).reshape(np.shape(ip["log_alpha"]))
        kw = {"mode": mode} if (use_op and mode) else {}
        vals.append((m.compile_logp(**kw)(ip), m.compile_dlogp(**kw)(ip)))
    assert vals[0][0] == pytest.approx(vals[1][0], rel=1e-12)
    # d log_alpha sums terms of size ~ y + mu that nearly cancel: allow a small absolute error
    np.testing.assert_allclose(vals[0][1], vals[1][1], rtol=1e-10, atol=1e-8)


def test_numba_backend_has_no_object_mode_fallback():
    x, y, _ = _data()
    m = _model(True, x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # generate_fallback_impl warns on object mode
        f = m.compile_logp(mode="NUMBA")
    ip = m.initial_point()
    assert np.isfinite(f(ip))


def test_bad_counts_rejected():
    with pytest.raises(ValueError, match="counts"):
        nb_logp(np.array([1.0, -1.0]), pt.zeros(2), 0.0)


def _posterior(use_op, draws=600, seed=3):
    x, y, _ = _data(n=200, seed=1)
    with _model(use_op, x, y):
        idata = pm.sample(draws=draws, tune=500, chains=2, random_seed=seed, progressbar=False,
                          compute_convergence_checks=False)
    post = idata.posterior
    return {k: (float(post[k].mean()), float(post[k].std())) for k in ("b0", "b1", "log_alpha")}


@pytest.mark.slow
def test_posterior_matches_native_negative_binomial():
    ours, native = _posterior(True), _posterior(False)
    for k in ours:
        m1, s1 = ours[k]
        m2, s2 = native[k]
        # two independent chains-of-600 runs: means agree to a fraction of the posterior sd
        assert abs(m1 - m2) < 0.2 * s2, (k, ours[k], native[k])
        assert s1 == pytest.approx(s2, rel=0.2)


@pytest.mark.slow
def test_nutpie_numba_backend_samples_the_same_posterior():
    nutpie = pytest.importorskip("nutpie")
    x, y, _ = _data(n=200, seed=1)
    compiled = nutpie.compile_pymc_model(_model(True, x, y), backend="numba")
    tr = nutpie.sample(compiled, draws=600, tune=500, chains=2, seed=4, progress_bar=False)
    native = _posterior(False)
    for k in native:
        m = float(tr.posterior[k].mean())
        assert abs(m - native[k][0]) < 0.2 * native[k][1], (k, m, native[k])
