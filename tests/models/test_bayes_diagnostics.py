"""Convergence gates and posterior predictive checks (models.bayes.diagnostics)."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from pakcast.models.bayes._summaries import interval_record, nb2_draws
from pakcast.models.bayes.diagnostics import ConvergenceWarning, diagnose, ppc_summary, randomized_pit


def _idata(draws: np.ndarray, diverging: np.ndarray | None = None) -> az.InferenceData:
    sample_stats = {"diverging": diverging} if diverging is not None else None
    return az.from_dict(posterior={"theta": draws}, sample_stats=sample_stats)


def test_gate_passes_on_independent_draws():
    rng = np.random.default_rng(0)
    d = diagnose(_idata(rng.standard_normal((4, 1000)), np.zeros((4, 1000), dtype=bool)))
    assert d.converged, d.message()
    assert d.max_rhat < 1.01 and d.min_ess_bulk > 400 and d.min_ess_tail > 400 and d.divergences == 0


def test_gate_fires_on_chains_stuck_apart():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 500)) + np.array([0.0, 0.0, 0.0, 3.0])[:, None]
    d = diagnose(_idata(x))
    assert not d.converged
    assert d.max_rhat > 1.1
    assert any("R-hat" in f for f in d.failures)
    assert "NOT CONVERGED" in d.message()


def test_gate_fires_on_autocorrelated_chains_and_divergences():
    rng = np.random.default_rng(2)
    e = rng.standard_normal((4, 1000))
    x = np.zeros_like(e)
    for t in range(1, 1000):  # AR(1) with rho = 0.99: ESS far below 400
        x[:, t] = 0.99 * x[:, t - 1] + e[:, t]
    div = np.zeros((4, 1000), dtype=bool)
    div[0, 10] = True
    d = diagnose(_idata(x, div))
    assert not d.converged
    assert d.min_ess_bulk < 400
    assert d.divergences == 1
    assert any("divergent" in f for f in d.failures)
    with pytest.warns(ConvergenceWarning, match="NOT CONVERGED"):
        d.warn_if_unconverged("test fit")
    out = d.to_dict()
    assert out["converged"] is False and out["divergences"] == 1


def test_interval_record_hdis_are_arviz_hdis():
    x = np.random.default_rng(3).gamma(2.0, size=20_000)
    rec = interval_record(x, null=2.0)
    for key, prob in (("hdi", 0.95), ("hdi90", 0.9)):
        ref = az.hdi(x, hdi_prob=prob)
        assert (rec[f"{key}_low"], rec[f"{key}_high"]) == (ref[0], ref[1])
    assert rec["p_decrease"] + rec["p_increase"] == pytest.approx(1.0)
    assert rec["hdi90_low"] >= rec["hdi_low"] and rec["hdi90_high"] <= rec["hdi_high"]


def test_nb2_draws_moments():
    rng = np.random.default_rng(4)
    y = nb2_draws(np.full(200_000, 5.0), 0.5, rng)
    assert y.mean() == pytest.approx(5.0, rel=0.02)
    assert y.var() == pytest.approx(5.0 + 0.5 * 25.0, rel=0.03)  # NB2: mu + alpha mu^2


def test_pit_uniform_for_correct_forecast_and_not_for_wrong_one():
    rng = np.random.default_rng(5)
    mu = rng.uniform(0.5, 20, size=3000)
    y = rng.poisson(mu)
    good = rng.poisson(mu[:, None], size=(3000, 400))
    bad = rng.poisson(2.0 * mu[:, None], size=(3000, 400))
    s_good = ppc_summary(y, good, random_seed=0)
    s_bad = ppc_summary(y, bad, random_seed=0)
    assert s_good.pit_ks_pvalue > 0.01
    assert s_bad.pit_ks_pvalue < 1e-6
    assert 0.85 < s_good.coverage[0.9] < 0.97
    assert s_bad.coverage[0.9] < s_good.coverage[0.9]
    pit = randomized_pit(y, good, random_seed=1)
    assert pit.min() >= 0 and pit.max() <= 1
