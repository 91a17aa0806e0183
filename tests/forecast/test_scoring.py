"""Scores against closed forms and reference implementations.

References: ``scoringrules`` 0.10 ``crps_poisson`` (analytic Poisson CRPS, Wei & Held 2014);
``scipy.stats.ttest_1samp`` (DM with h = 1 equals the one-sample t test of the loss differential);
``scoringrules.crps_ensemble(..., ens_w=w, estimator="nrg")`` (weighted ensemble CRPS).
"""

from __future__ import annotations

import numpy as np
import pytest
import scoringrules as sr
from scipy import stats

from pakcast.forecast import scoring


def test_crps_of_a_point_mass_is_the_absolute_error():
    obs = np.array([0.0, 3.0, 10.0])
    samples = np.repeat(np.array([2.0, 3.0, 4.0])[:, None], 50, axis=1)
    np.testing.assert_allclose(scoring.crps(obs, samples), [2.0, 0.0, 6.0])


def test_crps_of_poisson_samples_matches_the_analytic_poisson_crps():
    rng = np.random.default_rng(0)
    lam = np.array([0.5, 3.0, 12.0])
    obs = np.array([0.0, 5.0, 9.0])
    samples = rng.poisson(lam[:, None], size=(3, 200_000))
    exact = sr.crps_poisson(obs, lam)
    np.testing.assert_allclose(scoring.crps(obs, samples), exact, rtol=0.01)


def test_crps_is_the_energy_form():
    rng = np.random.default_rng(1)
    x = rng.poisson(4, size=37).astype(float)
    y = 6.0
    energy = np.abs(x - y).mean() - 0.5 * np.abs(x[:, None] - x[None, :]).mean()
    assert scoring.crps(np.array(y), x) == pytest.approx(energy, rel=1e-12)


def test_log_score_approaches_the_true_pmf_for_large_samples():
    rng = np.random.default_rng(2)
    samples = rng.poisson(4.0, size=(4, 400_000))
    obs = np.array([0.0, 2.0, 4.0, 9.0])
    np.testing.assert_allclose(scoring.log_score(obs, samples), -stats.poisson.logpmf(obs, 4.0), rtol=0.02)


def test_log_score_of_a_missing_point_mass_is_finite_and_large():
    samples = np.zeros((1, 500))
    ls = scoring.log_score(np.array([40.0]), samples)
    assert np.isfinite(ls).all() and ls[0] > 20
    assert scoring.log_score(np.array([0.0]), samples)[0] == pytest.approx(0.0, abs=1e-2)


def test_interval_coverage_uses_central_sample_quantiles():
    samples = np.tile(np.arange(100.0), (3, 1))  # quantiles are the integers
    cov = scoring.interval_coverage(np.array([3.0, 50.0, 96.0]), samples, levels=(90,))
    np.testing.assert_array_equal(cov[90], [False, True, False])


def test_randomized_pit_is_uniform_for_calibrated_count_forecasts():
    rng = np.random.default_rng(3)
    lam = rng.uniform(0.3, 8, size=3000)
    obs = rng.poisson(lam).astype(float)
    samples = rng.poisson(lam[:, None], size=(3000, 2000))
    pit = scoring.randomized_pit(obs, samples, random_seed=4)
    assert stats.kstest(pit, "uniform").pvalue > 0.01
    hist = scoring.pit_histogram(pit)
    assert hist["n"] == 3000 and abs(sum(hist["freq"]) - 1) < 1e-5


def test_randomized_pit_detects_an_overconfident_forecast():
    rng = np.random.default_rng(5)
    obs = rng.negative_binomial(1, 1 / 6, size=3000).astype(float)  # mean 5, very dispersed
    samples = rng.poisson(5.0, size=(3000, 1000))
    pit = scoring.randomized_pit(obs, samples, random_seed=6)
    hist = scoring.pit_histogram(pit)["freq"]
    assert hist[0] + hist[-1] > 0.35  # U-shaped


def test_diebold_mariano_h1_equals_one_sample_t_test():
    rng = np.random.default_rng(7)
    a, b = rng.gamma(2, 1, size=40), rng.gamma(2.3, 1, size=40)
    res = scoring.diebold_mariano(a, b, h=1)
    ref = stats.ttest_1samp(a - b, 0.0)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-8)
    assert res.df == 39


def test_diebold_mariano_hln_correction_and_errors():
    rng = np.random.default_rng(8)
    d = rng.normal(0.5, 1, size=60)
    res = scoring.diebold_mariano(d, np.zeros(60), h=4)
    dc = d - d.mean()
    g = [dc @ dc / 60] + [dc[k:] @ dc[:-k] / 60 for k in range(1, 4)]
    V = g[0] + 2 * sum(g[1:])
    dm = d.mean() / np.sqrt(V / 60) * np.sqrt((60 + 1 - 8 + 4 * 3 / 60) / 60)
    assert res.statistic == pytest.approx(dm, rel=1e-10)
    with pytest.raises(ValueError, match="at least 3"):
        scoring.diebold_mariano([1, 2], [1, 1])


def test_expected_abs_diff_matches_brute_force():
    rng = np.random.default_rng(9)
    x, y = rng.poisson(3, size=(2, 37)), rng.poisson(5, size=(2, 23))
    brute = np.abs(x[:, :, None] - y[:, None, :]).mean(axis=(1, 2))
    np.testing.assert_allclose(scoring.expected_abs_diff(x, y), brute, rtol=1e-12)


def test_mixture_crps_quadratic_equals_weighted_ensemble_crps():
    rng = np.random.default_rng(10)
    m1, m2, m3 = rng.poisson(2, 200), rng.poisson(6, 200), rng.negative_binomial(2, 0.3, 200)
    y = np.array(4.0)
    a, B = scoring.energy_terms(y, np.stack([m1, m2, m3]))
    w = np.array([0.2, 0.5, 0.3])
    ens = np.concatenate([m1, m2, m3]).astype(float)
    ens_w = np.repeat(w / 200, 200)
    ref = sr.crps_ensemble(y, ens, ens_w=ens_w, estimator="nrg")
    assert w @ a - 0.5 * w @ B @ w == pytest.approx(float(ref), rel=1e-10)


def test_crps_mixture_weights_prefer_the_calibrated_member():
    rng = np.random.default_rng(11)
    n = 300
    lam = rng.uniform(1, 10, size=n)
    obs = rng.poisson(lam).astype(float)
    good = rng.poisson(lam[:, None], size=(n, 200))
    biased = rng.poisson(3 * lam[:, None], size=(n, 200))
    a, B = scoring.energy_terms(obs, np.stack([good, biased]))
    w = scoring.crps_mixture_weights(a, B)
    assert w.sum() == pytest.approx(1.0) and (w >= 0).all()
    assert w[0] > 0.9
    assert np.allclose(scoring.crps_mixture_weights(np.empty((0, 2)), np.empty((0, 2, 2))), [0.5, 0.5])


def test_skill_score():
    assert scoring.skill_score([1.0, 1.0], [2.0, 2.0]) == pytest.approx(0.5)
    assert scoring.skill_score([0.0], [0.0]) == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="obs shape"):
        scoring.crps(np.zeros(3), np.zeros((2, 10)))


def test_randomised_pit_coverage_is_nominal_for_a_calibrated_low_count_forecast():
    """Poisson(0.4) outcomes scored by a Poisson(0.4) forecast: the randomised-PIT 90% coverage is
    90%, the closed count interval [Q05, Q95] = [0, 2] covers about 99%."""
    rng = np.random.default_rng(3)
    y = rng.poisson(0.4, 40_000)
    smp = rng.poisson(0.4, (40_000, 400))
    pit = scoring.randomized_pit(y, smp, random_seed=4)
    cov = scoring.pit_coverage(pit)
    assert abs(cov[90].mean() - 0.90) < 0.01
    assert abs(cov[50].mean() - 0.50) < 0.01
    assert scoring.interval_coverage(y, smp)[90].mean() > 0.98
    assert scoring.pit_ks_pvalue(pit) > 0.001
    # a forecast that is too narrow is detected
    narrow = scoring.randomized_pit(rng.poisson(rng.gamma(2, 2, 40_000)), rng.poisson(4.0, (40_000, 400)), 5)
    assert scoring.pit_coverage(narrow)[90].mean() < 0.85
    assert scoring.pit_ks_pvalue(narrow) < 1e-6


def test_closed_form_crps_matches_samples_and_percentiles():
    rng = np.random.default_rng(6)
    mu, alpha = np.array([0.7, 4.0, 20.0]), np.array([0.0, 0.5, 1.2])
    obs = np.array([1.0, 0.0, 35.0])
    r = 1 / np.maximum(alpha, 1e-12)
    smp = np.where(alpha[:, None] > 0, rng.negative_binomial(r[:, None], (r / (r + mu))[:, None], (3, 200_000)),
                   rng.poisson(mu[:, None], (3, 200_000)))
    exact = scoring.crps_negbin(obs, mu, alpha)
    np.testing.assert_allclose(scoring.crps(obs, smp), exact, rtol=0.02)
    np.testing.assert_allclose(exact[0], scoring.crps_poisson(obs[0], mu[0]))
    tau = np.arange(1, 100) / 100
    q = np.quantile(smp, tau, axis=1, method="inverted_cdf").T
    np.testing.assert_allclose(scoring.crps_from_percentiles(obs, q, tau), exact, rtol=0.1)
    np.testing.assert_allclose(scoring.log_score_negbin(obs, mu, alpha)[1],
                               -stats.nbinom.logpmf(0, 2.0, 2.0 / 6.0))


def test_skill_interval_brackets_the_skill_and_shrinks_with_more_origins():
    rng = np.random.default_rng(7)
    ref = rng.gamma(2.0, 1.0, 400)
    better = ref * 0.8 + rng.normal(0, 0.05, 400).clip(-0.1, 0.1)
    si = scoring.skill_interval(better, ref, random_seed=1)
    assert si.ci_low < si.skill < si.ci_high
    assert 0.15 < si.ci_low and si.ci_high < 0.25
    short = scoring.skill_interval(better[:20], ref[:20], random_seed=1)
    assert short.ci_high - short.ci_low > si.ci_high - si.ci_low
    assert np.isnan(scoring.skill_interval([1.0, 2.0], [1.0, 2.0]).ci_low)


def test_coverage_interval_counts_dependent_outcomes_once():
    """Independent Bernoulli(0.9) hits: ``n_eff`` near the number of outcomes and 0.9 inside the
    interval; the same hit repeated over four horizons of an origin: ``n_eff`` near the number of
    origins, not four times it."""
    rng = np.random.default_rng(11)
    T = 400
    b = (rng.random(T) < 0.9).astype(float)
    one = scoring.coverage_interval(b, np.ones(T), block=1, random_seed=2)
    assert one.ci_low < 0.9 < one.ci_high and one.coverage == b.mean()
    assert 0.8 * T < one.n_eff < 1.25 * T and one.n == T
    four = scoring.coverage_interval(4 * b, 4 * np.ones(T), block=1, random_seed=2)
    assert four.coverage == one.coverage and four.n == 4 * T
    assert 0.8 * T < four.n_eff < 1.25 * T
    assert np.isnan(scoring.coverage_interval([1.0, 1.0], [1.0, 1.0]).ci_low)
    with pytest.raises(ValueError, match="equal length"):
        scoring.coverage_interval([1.0], [1.0, 2.0])


def test_band_probability_is_the_binomial_sum_and_matches_simulation():
    from math import comb

    exact = sum(comb(48, k) * 0.9**k * 0.1 ** (48 - k) for k in range(41, 46))  # 41/48 = 0.854 .. 45/48 = 0.9375
    assert scoring.band_probability(48) == pytest.approx(exact, rel=1e-12)
    rng = np.random.default_rng(5)
    share = rng.binomial(48, 0.9, size=20000) / 48
    assert np.mean((share >= 0.85) & (share <= 0.95)) == pytest.approx(exact, abs=0.01)
    assert scoring.band_probability(5000) > 0.999 and np.isnan(scoring.band_probability(float("nan")))
