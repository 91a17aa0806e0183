"""Recalibration of quarter sums from past PIT values: the path transform and the past-only choice of scales."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pakcast.forecast.recalibrate import SCALE_GRID, choose_scales, scale_paths, scale_sums, tail_record

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


def test_scales_widen_a_too_narrow_forecast_from_past_quarters_only():
    rng = np.random.default_rng(3)
    records = []
    origins = pd.date_range("2010-01-01", periods=12, freq="QS")
    for o in origins:
        sums = rng.poisson(20, size=(1, 2, 500))  # forecasts Poisson(20) ...
        obs = rng.negative_binomial(2, 2 / 22, size=(1, 2))  # ... outcomes far more dispersed
        ends = np.array([np.datetime64(o + pd.DateOffset(months=3 * k + 2)) for k in range(2)])
        records.append(tail_record(o, ends, obs, sums, random_seed=1))
    s_lo, s_hi, n = choose_scales(records, origins[-1], window=0, min_points=8)
    assert s_lo[0] > 1 and s_hi[0] > 1 and n[0] < 24  # the last quarters had not ended
    assert s_lo[0] in SCALE_GRID
    s_lo, s_hi, n = choose_scales(records, origins[2], window=0, min_points=8)
    assert s_lo[0] == 1 and s_hi[0] == 1  # too few past quarter sums
    assert choose_scales(records, origins[0], window=0, min_points=1)[0].size == 0  # nothing observed yet
