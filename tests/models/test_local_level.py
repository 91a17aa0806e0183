"""The NB local-level model: parameter recovery, calibrated quarter sums on a wandering level, paths."""

from __future__ import annotations

import numpy as np
import pytest

from pakcast.models.local_level import LocalLevelNB, local_level_filter


def _wandering(rng, q, r, n, level=8.0):
    log_level = np.log(level) + np.cumsum(rng.normal(-q / 2, np.sqrt(q), n))
    lam = np.exp(log_level)
    return rng.negative_binomial(r, r / (r + lam)) if np.isfinite(r) else rng.poisson(lam)


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_recovers_the_walk_variance_and_the_dispersion_of_a_long_series(seed):
    y = _wandering(np.random.default_rng(seed), q=0.02, r=4.0, n=600)
    md = LocalLevelNB(window=None).fit(y).model_
    assert md["q_hat"] in (0.01, 0.02, 0.04) and md["r_hat"] == 4.0  # within one grid step
    assert md["weights"].sum() == pytest.approx(1.0)


def test_dispersion_around_a_trend_is_not_taken_for_overdispersion():
    # Poisson months around a steady fall from 60 to 15 a month over ten years: a flat-mean NB over
    # the window would call them over-dispersed; around the local level they are not
    rng = np.random.default_rng(3)
    lam = np.geomspace(60, 15, 120)
    y = rng.poisson(lam)
    md = LocalLevelNB().fit(y).model_
    w = md["weights"]
    assert w[md["r"] >= 32].sum() > 0.5
    assert y.var(ddof=1) > 3 * y.mean()  # what a flat mean over the window sees


def test_quarter_sums_of_a_wandering_level_are_calibrated():
    """A known wandering-level NB process: the randomised-PIT 90% coverage of the forecast quarter
    sums (horizons 1-4 quarters) is near 90%, and the months of a path share its level."""
    rng = np.random.default_rng(11)
    inside, corr = [], []
    for rep in range(120):
        y = _wandering(rng, q=0.01, r=3.0, n=132 + 12)
        s = LocalLevelNB().fit(y[:132]).sample(12, 800, random_seed=rep)
        for k in range(4):
            qs, obs = s[3 * k:3 * k + 3].sum(axis=0), y[132 + 3 * k:135 + 3 * k].sum()
            u = (qs < obs).mean() + rng.uniform() * (qs == obs).mean()
            inside.append(0.05 <= u <= 0.95)
        corr.append(np.corrcoef(s[0], s[2])[0, 1])
    assert 0.85 <= np.mean(inside) <= 0.95
    assert np.mean(corr) > 0.05  # months 1 and 3 of a path move together


def test_paths_spread_with_the_horizon_and_keep_the_mean():
    rng = np.random.default_rng(5)
    y = _wandering(rng, q=0.04, r=8.0, n=120, level=20.0)
    m = LocalLevelNB().fit(y)
    s = m.sample(12, 20_000, random_seed=1)
    assert s.dtype == np.int64 and (s >= 0).all() and s.shape == (12, 20_000)
    assert s[11].var() > s[0].var()
    assert s[11].mean() == pytest.approx(s[0].mean(), rel=0.1)
    np.testing.assert_array_equal(s, m.sample(12, 20_000, random_seed=1))


def test_filter_is_the_poisson_gamma_update_without_walk_or_dispersion():
    y = np.array([3, 0, 5, 2, 4])
    ll, a, b = local_level_filter(y, q=0.0, r=np.inf, a0=2.0, b0=0.5, burn=0)
    assert a == pytest.approx(2.0 + y.sum()) and b == pytest.approx(0.5 + y.size)
    assert np.isfinite(ll)


def test_all_zero_and_short_histories_still_sample():
    for y in (np.zeros(60, dtype=int), np.array([0, 2, 1])):
        s = LocalLevelNB().fit(y).sample(6, 200, random_seed=0)
        assert s.shape == (6, 200) and (s >= 0).all()
    with pytest.raises(RuntimeError, match="not fitted"):
        LocalLevelNB().sample(3, 10)
