"""Recalibration of quarter sums: the path transform and the scales learnt online from past misses only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pakcast.forecast.recalibrate import AdaptiveTailScales, scale_paths, scale_sums

QUARTERS = [[0, 1, 2], [3, 4, 5]]


def _paths(seed=0, shape=(2, 6, 2000), mean=10.0):
    rng = np.random.default_rng(seed)
    return rng.negative_binomial(2, 2 / (2 + mean), size=shape).astype(np.int32)


def test_scale_one_is_the_identity_and_months_add_up_to_the_new_sums():
    p = _paths()
    np.testing.assert_array_equal(scale_paths(p, QUARTERS, np.ones(2), np.ones(2)), p)
    s_lo, s_hi = np.array([0.7, 1.5]), np.array([1.4, 0.8])
    q = scale_paths(p, QUARTERS, s_lo, s_hi)
    assert q.dtype == p.dtype and (q >= 0).all()
    for ks in QUARTERS:
        np.testing.assert_array_equal(q[:, ks].sum(axis=1), scale_sums(p[:, ks].sum(axis=1), s_lo, s_hi))


def test_each_scale_moves_only_its_half_and_keeps_the_median():
    T = _paths()[:, :3].sum(axis=1)
    wide_hi = scale_sums(T, np.ones(2), np.full(2, 1.5))
    np.testing.assert_array_equal(np.median(wide_hi, axis=1), np.median(T, axis=1))
    np.testing.assert_array_equal(np.quantile(wide_hi, 0.2, axis=1), np.quantile(T, 0.2, axis=1))
    assert (np.quantile(wide_hi, 0.95, axis=1) > np.quantile(T, 0.95, axis=1)).all()
    narrow_lo = scale_sums(T, np.full(2, 0.6), np.ones(2))
    assert (np.quantile(narrow_lo, 0.05, axis=1) > np.quantile(T, 0.05, axis=1)).all()
    np.testing.assert_array_equal(np.quantile(narrow_lo, 0.8, axis=1), np.quantile(T, 0.8, axis=1))


def _record(tails, origins, forecast, outcome, rng, q=2):
    for o in origins:
        ends = np.array([np.datetime64(o + pd.DateOffset(months=3 * k + 2)) for k in range(q)])
        tails.scales(o)
        tails.record(ends, outcome(rng, (1, q)), forecast(rng, (1, q, 500)), random_seed=int(rng.integers(1 << 30)))


def test_scales_start_at_one_and_follow_the_update_in_closed_form():
    t = AdaptiveTailScales(n_series=2, step=0.1)
    s_lo, s_hi, n = t.scales("2010-01-01")
    np.testing.assert_array_equal(s_lo, 1.0)
    np.testing.assert_array_equal(s_hi, 1.0)
    np.testing.assert_array_equal(n, 0)
    sums = np.tile(np.arange(100), (2, 1, 1))  # PIT of 200 is 1, of -1 is 0: certain misses
    t.record(np.array(["2010-03-31"], dtype="datetime64[D]"), np.array([[200], [50]]), sums, random_seed=0)
    s_lo, s_hi, n = t.scales("2010-03-31")  # the quarter ends on the origin: not ended yet
    np.testing.assert_array_equal(n, 0)
    s_lo, s_hi, n = t.scales("2010-04-01")
    np.testing.assert_array_equal(n, 1)
    # series 0 missed above: log s_hi = 0.1 * (1 - 0.05), log s_lo = 0.1 * (0 - 0.05); series 1 hit
    np.testing.assert_allclose(s_hi, np.exp([0.095, -0.005]))
    np.testing.assert_allclose(s_lo, np.exp([-0.005, -0.005]))
    c = AdaptiveTailScales(n_series=1, step=10.0, bounds=(0.8, 1.25))
    c.record(np.array(["2010-03-31"], dtype="datetime64[D]"), np.array([[200]]), sums[:1], random_seed=0)
    np.testing.assert_allclose(c.scales("2010-04-01")[1], 1.25)  # clipped to the bounds


def test_scales_widen_a_too_narrow_forecast_and_narrow_a_too_wide_one():
    origins = pd.date_range("2010-01-01", periods=40, freq="QS")
    poisson = lambda rng, size: rng.poisson(20, size=size)  # noqa: E731
    dispersed = lambda rng, size: rng.negative_binomial(2, 2 / 22, size=size)  # noqa: E731
    narrow = AdaptiveTailScales(n_series=1, step=0.1)
    _record(narrow, origins, poisson, dispersed, np.random.default_rng(3))
    s_lo, s_hi, n = narrow.scales(origins[-1])
    assert s_lo[0] > 1.3 and s_hi[0] > 1.3
    assert n[0] == 2 * 40 - 3  # the quarters ending on or after the last origin were not used
    wide = AdaptiveTailScales(n_series=1, step=0.1)
    _record(wide, origins, dispersed, poisson, np.random.default_rng(4))
    s_lo, s_hi, _ = wide.scales(origins[-1])
    assert s_lo[0] < 0.8 and s_hi[0] < 0.8
