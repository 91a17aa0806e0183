"""Simulation-based calibration of the hierarchical NB ITS (models.bayes.sbc)."""

from __future__ import annotations

import numpy as np
import pytest

from pakcast.models.bayes.sbc import rank_uniformity_pvalue, run_sbc


def test_rank_uniformity_test_detects_bias():
    rng = np.random.default_rng(0)
    assert rank_uniformity_pvalue(rng.integers(0, 100, 2000), 99) > 0.001
    biased = np.minimum(rng.integers(0, 100, 2000) + 30, 99)
    assert rank_uniformity_pvalue(biased, 99) < 1e-6


def test_sbc_smoke_runs_and_ranks_are_in_range():
    res = run_sbc(n_sims=1, n_units=2, n_months=24, n_posterior=19, draws=60, tune=60, chains=1, random_seed=1)
    assert res.ranks.shape == (1, 5)
    assert res.ranks.to_numpy().min() >= 0 and res.ranks.to_numpy().max() <= 19


@pytest.mark.slow
def test_sbc_ranks_are_uniform():
    res = run_sbc(n_sims=50, n_units=3, n_months=36, n_posterior=39, draws=400, tune=400, chains=2,
                  random_seed=2024)
    print(res.to_dict())
    p = res.pvalues(n_bins=5)
    # five parameters: a Bonferroni-style floor keeps the false-alarm rate near 1%
    assert (p > 0.002).all(), p.to_dict()
    # Known limitation (reported, not asserted): about half of these short fits on sparse prior
    # draws (3 provinces, 36 months) show a few divergences (the centred province intercepts with
    # 3 groups); the ranks stay uniform, which is what SBC tests.
    assert 0 <= res.n_unconverged <= len(res.ranks)
