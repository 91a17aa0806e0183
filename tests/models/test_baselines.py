"""Forecasting baselines: shapes, closed forms, validation, seeding."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from pakcast.models.baselines import (
    BASELINES,
    NegBin12,
    Poisson12,
    level_drift_variance,
    Conflictology,
    HistoricalRate,
    LastValue,
    SeasonalNaive,
    ZeroForecast,
    check_counts,
)

Y = np.array([3, 0, 2, 5, 1, 4, 2, 2, 0, 3, 1, 6, 7, 2, 0, 1, 3, 9, 4, 2, 2, 5, 0, 1])


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_samples_are_non_negative_integers_of_the_right_shape(name):
    s = BASELINES[name]().fit(Y).sample(5, 300, random_seed=1)
    assert s.shape == (5, 300)
    assert s.dtype == np.int64
    assert (s >= 0).all()


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_same_seed_same_samples(name):
    a = BASELINES[name]().fit(Y).sample(4, 50, random_seed=7)
    b = BASELINES[name]().fit(Y).sample(4, 50, random_seed=7)
    np.testing.assert_array_equal(a, b)


def test_point_mass_baselines():
    assert (ZeroForecast().fit(Y).sample(3, 10) == 0).all()
    assert (LastValue().fit(Y).sample(3, 10) == Y[-1]).all()
    s = SeasonalNaive(season_length=12).fit(Y).sample(14, 2)
    np.testing.assert_array_equal(s[:12, 0], Y[-12:])
    np.testing.assert_array_equal(s[12:, 0], Y[-12:-10])


def test_seasonal_naive_short_history_pads_with_first_value():
    s = SeasonalNaive(season_length=4).fit([5, 6]).sample(4, 1)[:, 0]
    np.testing.assert_array_equal(s, [5, 5, 5, 6])


def test_conflictology_draws_from_the_window_only():
    s = Conflictology(window=6).fit(Y).sample(12, 2000, random_seed=3)
    assert set(np.unique(s)) <= set(Y[-6:])
    # each window value is equally likely: frequencies close to their multiplicity / 6
    vals, counts = np.unique(Y[-6:], return_counts=True)
    freq = np.array([(s == v).mean() for v in vals])
    np.testing.assert_allclose(freq, counts / 6, atol=0.02)


def test_historical_rate_matches_window_moments_negbin():
    m = HistoricalRate(window=24, rate_uncertainty=False).fit(Y)
    mean, var = Y.mean(), Y.var(ddof=1)
    assert var > mean  # the window is over-dispersed: NB2 case
    size = mean**2 / (var - mean)
    assert m.model_["size"] == pytest.approx(size)
    k = np.arange(0, 200)
    np.testing.assert_allclose(m.pmf(k), stats.nbinom.pmf(k, size, size / (size + mean)))
    s = m.sample(1, 200_000, random_seed=0)
    assert s.mean() == pytest.approx(mean, rel=0.02)
    assert s.var() == pytest.approx(var, rel=0.05)


def test_historical_rate_poisson_when_underdispersed():
    y = np.array([2, 3, 2, 3, 2, 3, 2, 3])
    m = HistoricalRate(window=8).fit(y)
    assert m.model_["size"] is None
    np.testing.assert_allclose(m.pmf([0, 1, 5]), stats.poisson.pmf([0, 1, 5], 2.5))


def test_predict_intervals_are_ordered_and_forecast_is_stateless():
    out = HistoricalRate().forecast(Y, h=3, level=[50, 90])
    assert set(out) == {"mean", "lo-50", "hi-50", "lo-90", "hi-90"}
    assert (out["lo-90"] <= out["lo-50"]).all() and (out["hi-50"] <= out["hi-90"]).all()
    assert out["mean"].shape == (3,)


@pytest.mark.parametrize("bad, msg", [([1, -1], r"y\[1\]"), ([1.5], r"y\[0\]"), ([], "empty"),
                                      ([[1, 2]], "one-dimensional"), ([1, np.nan], r"y\[1\]")])
def test_bad_input_names_position(bad, msg):
    with pytest.raises(ValueError, match=msg):
        check_counts(bad)


def test_unfitted_and_bad_level():
    with pytest.raises(RuntimeError, match="not fitted"):
        Conflictology().sample(1, 1)
    with pytest.raises(ValueError, match="between 0 and 100"):
        Conflictology().fit(Y).predict(2, level=[100])


def test_rate_drawn_once_per_path_makes_months_move_together():
    """Poisson-gamma: months of a path share the rate, so Var(sum of 3) = 3 E[lam] + 9 Var(lam)."""
    y = np.array([4, 7, 3, 5, 6, 2, 8, 5, 4, 6, 3, 7])
    m = Poisson12(drift=False).fit(y)
    a, b = m.model_["rate_shape"], m.model_["rate_rate"]
    assert a == pytest.approx(y.sum() + 0.5) and b == 12
    s = m.sample(3, 400_000, random_seed=2)
    q = s.sum(axis=0)
    assert q.mean() == pytest.approx(3 * a / b, rel=0.01)
    assert q.var() == pytest.approx(3 * a / b + 9 * a / b**2, rel=0.03)
    assert np.corrcoef(s[0], s[2])[0, 1] > 0.05
    # the plug-in version has independent months
    s0 = Poisson12(drift=False, rate_uncertainty=False).fit(y).sample(3, 200_000, random_seed=2)
    assert abs(np.corrcoef(s0[0], s0[2])[0, 1]) < 0.01


def test_negbin_rate_posterior_matches_the_sampling_variance_of_the_window_mean():
    y = Y[-12:]
    m = NegBin12(drift=False).fit(y)
    mean, size = y.mean(), m.model_["size"]
    shape, rate = m.model_["rate_shape"], m.model_["rate_rate"]
    assert shape / rate == pytest.approx(mean)
    assert shape / rate**2 == pytest.approx((mean + mean**2 / size) / 12)


def test_level_drift_variance_recovers_a_random_walk_and_is_zero_for_a_constant_rate():
    rng = np.random.default_rng(5)
    q = 0.01
    level = np.log(20) + np.cumsum(rng.normal(0, np.sqrt(q), 2400))
    y = rng.poisson(np.exp(level))
    assert level_drift_variance(y, block=12, history=2400) == pytest.approx(q, rel=0.35)
    flat = rng.poisson(20, 2400)
    assert level_drift_variance(flat, block=12, history=2400) < 0.001
    assert level_drift_variance(np.zeros(60, dtype=int)) == 0.0
    # with drift the paths spread out with the horizon, mean kept
    s = NegBin12().fit(y[:600]).sample(12, 100_000, random_seed=1)
    assert s[11].var() > s[0].var()
    assert s[11].mean() == pytest.approx(s[0].mean(), rel=0.03)
