"""Hawkes processes: O(N) likelihood vs the O(N^2) definition, gradients, recovery and interval
coverage on simulated data, simulation sanity, multivariate reduction, ties."""

from __future__ import annotations

import numpy as np
import pytest

from pakcast.models.hawkes import (
    HawkesExp,
    MultivariateHawkesExp,
    exp_loglik,
    exp_loglik_grad,
    jitter_day_times,
    simulate_exp_hawkes,
    simulate_multivariate_exp_hawkes,
)


def naive_exp_loglik(t, T, mu, alpha, beta, t0=0.0):
    """The O(N^2) definition (tests only)."""
    t = np.asarray(t, float)
    lam = np.array([mu + alpha * np.exp(-beta * (t[i] - t[:i])).sum() for i in range(t.size)])
    return np.log(lam).sum() - mu * (T - t0) - alpha / beta * np.sum(1 - np.exp(-beta * (T - t)))


def naive_multi_loglik(t, m, M, T, mu, A, beta):
    ll = 0.0
    for i in range(t.size):
        past = t[:i]
        lam = mu[m[i]] + sum(A[m[i], k] * np.exp(-beta * (t[i] - past[m[:i] == k])).sum() for k in range(M))
        ll += np.log(lam)
    comp = np.sum(mu) * T + sum(A[j, m[i]] / beta * (1 - np.exp(-beta * (T - t[i]))) for i in range(t.size) for j in range(M))
    return ll - comp


@pytest.mark.parametrize("params", [(0.5, 0.8, 1.6), (2.0, 0.05, 0.1), (0.01, 3.0, 4.0)])
def test_recursive_equals_quadratic_likelihood(params):
    t = simulate_exp_hawkes(*params, T=800.0, random_seed=3)
    assert t.size > 5
    for ev in [params, (0.3, 0.2, 0.9), (1.0, 5.0, 50.0)]:
        assert exp_loglik(t, 800.0, *ev) == pytest.approx(naive_exp_loglik(t, 800.0, *ev), rel=1e-11)


def test_gradient_finite_differences():
    t = simulate_exp_hawkes(0.4, 0.5, 1.0, 1000.0, random_seed=4)
    x = np.array([0.35, 0.6, 1.2])
    _, g = exp_loglik_grad(t, 1000.0, *x)
    h = 1e-6
    num = [(exp_loglik(t, 1000.0, *(x + h * e)) - exp_loglik(t, 1000.0, *(x - h * e))) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(g, num, rtol=1e-6)


def test_window_start_is_respected():
    t = simulate_exp_hawkes(0.4, 0.5, 1.0, 600.0, t0=100.0, random_seed=5)
    assert t.min() > 100.0
    assert exp_loglik(t, 600.0, 0.4, 0.5, 1.0, t0=100.0) == pytest.approx(
        naive_exp_loglik(t, 600.0, 0.4, 0.5, 1.0, t0=100.0), rel=1e-11)


def _coverage(n_rep, truth=(0.3, 0.6, 1.5), T=1500.0):
    hits = {k: 0 for k in ("mu", "alpha", "beta", "branching_ratio")}
    for r in range(n_rep):
        t = simulate_exp_hawkes(*truth, T=T, random_seed=1000 + r)
        res = HawkesExp(t, T=T).fit()
        ci = res.conf_int()
        for k, v in zip(("mu", "alpha", "beta"), truth):
            hits[k] += ci.loc[k, "lower"] <= v <= ci.loc[k, "upper"]
        br = res.branching_ratio
        hits["branching_ratio"] += br["ci_low"] <= truth[1] / truth[2] <= br["ci_high"]
    return {k: v / n_rep for k, v in hits.items()}


def test_parameter_recovery_coverage_fast():
    # 40 replications: a 95% interval covers >= 34/40 with probability 0.99 if calibrated
    cov = _coverage(40)
    assert all(c >= 34 / 40 for c in cov.values()), cov


@pytest.mark.slow
def test_parameter_recovery_coverage_400():
    cov = _coverage(400)
    # binomial(400, 0.95): 99.9% of draws lie in [0.915, 0.98]
    assert all(0.915 <= c <= 0.985 for c in cov.values()), cov


def test_simulation_mean_count_and_forecast():
    mu, a, b, T = 0.5, 0.5, 1.0, 20_000.0
    t = simulate_exp_hawkes(mu, a, b, T, random_seed=6)
    rate = mu / (1 - a / b)
    assert t.size / T == pytest.approx(rate, rel=0.05)
    res = HawkesExp(t, T=T).fit()
    fc = res.forecast_counts(T + np.array([0.0, 30.0, 60.0]), n_samples=400, random_seed=1)
    assert fc.shape == (400, 2) and fc.dtype.kind == "i"
    assert fc.mean() == pytest.approx(30 * rate, rel=0.1)
    again = res.forecast_counts(T + np.array([0.0, 30.0, 60.0]), n_samples=400, random_seed=1)
    np.testing.assert_array_equal(fc, again)


def test_multivariate_likelihood_and_gradient():
    A = np.array([[0.5, 0.2], [0.0, 0.4]])
    t, m = simulate_multivariate_exp_hawkes([0.1, 0.2], A, 1.3, 400.0, random_seed=7)
    model = MultivariateHawkesExp(t, m, T=400.0)
    ev = ([0.12, 0.18], np.array([[0.4, 0.1], [0.05, 0.3]]), 1.1)
    assert model.loglike(*ev) == pytest.approx(naive_multi_loglik(t, m, 2, 400.0, np.array(ev[0]), ev[1], ev[2]), rel=1e-11)
    x = np.concatenate([ev[0], ev[1].ravel(), [ev[2]]])
    f, g = model._negll(x)
    h = 1e-6
    num = [(model._negll(x + h * e)[0] - model._negll(x - h * e)[0]) / (2 * h) for e in np.eye(x.size)]
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6)
    # one dimension reduces to the univariate likelihood
    one = MultivariateHawkesExp(t, np.zeros(t.size, int), T=400.0)
    assert one.loglike([0.3], [[0.5]], 1.2) == pytest.approx(exp_loglik(t, 400.0, 0.3, 0.5, 1.2), rel=1e-12)


def test_multivariate_recovery():
    A = np.array([[0.6, 0.3, 0.0], [0.0, 0.5, 0.2], [0.2, 0.0, 0.7]])
    t, m = simulate_multivariate_exp_hawkes([0.2, 0.1, 0.3], A, 1.5, 5000.0, random_seed=2)
    res = MultivariateHawkesExp(t, m, T=5000.0, names=["a", "b", "c"]).fit()
    assert res.beta == pytest.approx(1.5, rel=0.15)
    np.testing.assert_allclose(res.alpha.to_numpy(), A, atol=0.12)
    true_rho = np.max(np.abs(np.linalg.eigvals(A / 1.5)))
    br = res.branching_ratio
    assert br["ci_low"] <= true_rho <= br["ci_high"]
    d = res.to_dict()
    assert set(d["mu"]) == {"a", "b", "c"}


def test_ties_are_jittered_within_day_reproducibly():
    days = np.array([0, 0, 0, 3, 3, 10])
    t1 = jitter_day_times(days, random_seed=1)
    t2 = jitter_day_times(days, random_seed=1)
    np.testing.assert_array_equal(t1, t2)
    assert np.all(np.diff(t1) > 0)
    assert np.array_equal(np.floor(t1), np.sort(days).astype(float))
    with pytest.raises(ValueError, match="integers"):
        jitter_day_times([0.5])


def test_bad_times_raise():
    with pytest.raises(ValueError, match="sorted"):
        exp_loglik([1.0, 0.5], 2.0, 1, 1, 1)
    with pytest.raises(ValueError, match="at least 5"):
        HawkesExp([1.0, 2.0], T=3.0)


def test_cli_writes_contract_keys(tmp_path):
    pytest.importorskip("pakcast.forecast.panel")
    import json

    from typer.testing import CliRunner

    from pakcast.forecast.cli import app

    out = tmp_path / "hk.json"
    r = CliRunner().invoke(app, ["hawkes", "--province", "Balochistan", "--start", "2015-01-01",
                                 "--n-samples", "50", "--json", str(out)])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    for k in ("mu", "alpha", "beta", "branching_ratio"):
        assert d[k]["ci_low"] < d[k]["estimate"] < d[k]["ci_high"]
    assert d["n_events"] > 100 and np.isfinite(d["loglik"])
    assert d["data"]["window_start"] == "2015-01-01"


def _regular_days(years=4, every=5):
    """Events with no clustering: one every ``every`` days (jittered within the day, fixed seed)."""
    return jitter_day_times(np.arange(0, 365 * years, every), random_seed=7), 365.0 * years


def test_unclustered_events_fit_at_the_poisson_boundary():
    t, T = _regular_days()
    res = HawkesExp(t, T=T).fit()  # raised OverflowError in the Wald interval of log(alpha)
    assert res.boundary and not res.covariance_ok and "homogeneous Poisson" in res.status
    assert res.params["mu"] == pytest.approx(t.size / T, rel=1e-12) and res.params["alpha"] == 0.0
    assert res.llf == pytest.approx(res.model.poisson_loglike(), rel=1e-12)
    br = res.branching_ratio
    assert br["estimate"] == 0.0 and br["ci_low"] == 0.0 and 0.0 < br["ci_high"] < 0.999
    # the bound is where the profile likelihood ratio reaches the one-sided cut chi2_{1, 0.90} / 2
    drop = res.llf - res.model.profile_loglike(br["ci_high"])
    assert drop == pytest.approx(0.5 * 2.705543454095414, abs=0.02)
    d = res.to_dict()
    assert d["beta"]["estimate"] is None and d["half_life_days"] is None and d["boundary"] is True
    import json

    json.dumps(d, allow_nan=False)  # no NaN or infinity reaches the output


def test_unclustered_forecast_is_fast_and_poisson():
    import time

    t, T = _regular_days()
    res = HawkesExp(t, T=T).fit()
    assert "Gamma" in res.parameter_draws()
    start = time.perf_counter()
    fc = res.forecast_counts(T + np.array([0.0, 30.0, 60.0, 90.0]), n_samples=1000, random_seed=3)
    assert time.perf_counter() - start < 30  # numba compile included; the overflowing draws ran for minutes
    assert fc.mean() == pytest.approx(30 * t.size / T, rel=0.05)
    assert np.all(np.isfinite(res.draw_params(100, random_seed=1)))


def test_clustered_fit_unchanged():
    """Reference numbers from the fit before the boundary handling (same data, same code path)."""
    t = simulate_exp_hawkes(0.5, 0.8, 1.6, 2000.0, random_seed=1)
    res = HawkesExp(t, T=2000.0).fit()
    np.testing.assert_allclose(res.log_params, [-0.6901065126397709, -0.21597222443906136, 0.4782910697859611],
                               rtol=1e-7)
    assert res.llf == pytest.approx(-1666.0380053063748, rel=1e-12)
    br = res.branching_ratio
    np.testing.assert_allclose([br["estimate"], br["se"], br["ci_low"], br["ci_high"]],
                               [0.4994422544790593, 0.025663490626535713, 0.45159267291772137, 0.5523618528783637],
                               rtol=1e-6)
    ci = res.conf_int()
    np.testing.assert_allclose(ci["lower"], [0.4535903942507947, 0.6906070043241648, 1.3628304066653876], rtol=1e-6)
    np.testing.assert_allclose(ci["upper"], [0.5545200457595596, 0.9401083943992703, 1.9098379988593819], rtol=1e-6)
    fc = res.forecast_counts(2000.0 + np.array([0.0, 30.0, 60.0]), n_samples=200, random_seed=3)
    assert fc.sum(axis=0).tolist() == [6022, 6075]
