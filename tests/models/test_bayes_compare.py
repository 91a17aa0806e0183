"""PSIS-LOO comparison of pooling variants (models.bayes.compare)."""

from __future__ import annotations

import numpy as np
import pytest

from pakcast.models.bayes.compare import compare_pooling
from pakcast.models.bayes.simulate import simulate_its_panel


@pytest.mark.slow
def test_partial_pooling_is_not_beaten_and_complete_pooling_loses_when_units_differ():
    # units with very different baselines and break effects: complete pooling is misspecified
    panel, _ = simulate_its_panel(n_units=5, n_months=72, breaks=("2012-06-15",), intercept_sigma=1.2,
                                  level_sigma=0.6, random_seed=11)
    cmp = compare_pooling(panel, random_seed=1, draws=500, tune=500, chains=2,
                          model_kwargs={"breaks": ["2012-06-15"]})
    t = cmp.table
    print(t)
    assert set(t.index) == {"complete", "none", "partial"}
    for col in ("elpd_loo", "p_loo", "elpd_diff", "dse", "weight", "n_pareto_k_gt_0_7", "converged"):
        assert col in t.columns
    # complete pooling is clearly worse than the best model
    assert t.loc["complete", "elpd_diff"] > 2 * max(t.loc["complete", "dse"], 1.0)
    # partial pooling is within 2 standard errors of the best
    assert t.loc["partial", "elpd_diff"] <= 2 * max(t.loc["partial", "dse"], 1.0)
    assert np.isfinite(t["elpd_loo"]).all()
