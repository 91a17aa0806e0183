"""Bayesian change point (models.bayes.changepoint) against the exact conjugate posterior.

Reference: with Exponential(1) rate priors and Poisson counts (the PyMC docs "Coal mining
disasters" model, pymc-devs/pymc docs/source/learn/core_notebooks/pymc_overview.ipynb, data in
../shared/reference/coal_pymc_docs.csv), integrating the rates out gives the switchpoint posterior
in closed form (Gamma-Poisson conjugacy):

    p(tau | y) ∝ Γ(S1 + 1) / (n1 + 1)^(S1 + 1) · Γ(S2 + 1) / (n2 + 1)^(S2 + 1)

with S1, n1 (S2, n2) the sum and number of observed counts up to and including (after) tau.
The PyMC docs report the switchpoint posterior concentrated around 1890, early rate about 3
and late rate about 0.9 disasters per year.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import gammaln, logsumexp

from pakcast.models.bayes.build import build_changepoint
from pakcast.models.bayes.changepoint import BayesianChangepoint, discrete_hdi


def exact_switchpoint_posterior(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    ok = np.isfinite(y)
    yv = np.where(ok, y, 0.0)
    S = np.cumsum(yv)
    n = np.cumsum(ok)
    S1, n1 = S[:-1], n[:-1]
    S2, n2 = S[-1] - S1, n[-1] - n1
    lp = gammaln(S1 + 1) - (S1 + 1) * np.log(n1 + 1) + gammaln(S2 + 1) - (S2 + 1) * np.log(n2 + 1)
    p = np.exp(lp - logsumexp(lp))
    return p, float(np.sum(p * (S1 + 1) / (n1 + 1))), float(np.sum(p * (S2 + 1) / (n2 + 1)))


@pytest.fixture(scope="module")
def coal(reference_dir):
    return pd.read_csv(reference_dir / "coal_pymc_docs.csv")


@pytest.fixture(scope="module")
def coal_fit(coal):
    model = BayesianChangepoint(coal["disasters"], labels=coal["year"].tolist(), family="poisson",
                                priors={"rate_scale": 1.0})
    return model.fit(sampler="pymc", draws=500, tune=300, chains=2, random_seed=11)


def test_coal_switchpoint_matches_exact_posterior(coal, coal_fit):
    p_exact, r1_exact, r2_exact = exact_switchpoint_posterior(coal["disasters"].to_numpy(dtype=float))
    p = coal_fit.switchpoint_probabilities.to_numpy()
    # total variation distance between the Rao-Blackwellised MCMC posterior and the exact one
    assert 0.5 * np.abs(p - p_exact).sum() < 0.03
    d = coal_fit.to_dict()
    assert d["rates_before"]["mean"] == pytest.approx(r1_exact, rel=0.03)
    assert d["rates_after"]["mean"] == pytest.approx(r2_exact, rel=0.03)
    # the PyMC docs: switchpoint around 1890, early rate ~3, late rate ~0.9
    assert 1886 <= d["switchpoint"]["mean"] <= 1893
    assert d["switchpoint"]["hdi_low"] <= 1890 <= d["switchpoint"]["hdi_high"]
    assert isinstance(d["switchpoint"]["mode"], int)
    assert 2.7 < d["rates_before"]["mean"] < 3.4 and 0.7 < d["rates_after"]["mean"] < 1.2
    assert set(d) >= {"switchpoint", "rates_before", "rates_after", "max_rhat", "min_ess_bulk", "divergences"}


def test_missing_years_get_equal_mass_to_their_neighbour(coal, coal_fit):
    # 1890 is missing: tau = 1889 and tau = 1890 split the data identically
    p = coal_fit.switchpoint_probabilities
    assert p.loc[1889] == pytest.approx(p.loc[1890], rel=1e-12)


def test_marginal_potential_equals_brute_force_sum():
    rng = np.random.default_rng(0)
    y = rng.poisson(3.0, size=12).astype(float)
    y[4] = np.nan
    model = build_changepoint({"y": y}, priors={"rate_scale": 2.0})
    r1, r2 = 2.5, 0.7
    pot_expr = model.replace_rvs_by_values([model.potentials[0]])[0]
    pot = model.compile_fn(pot_expr)({"rate_before_log__": np.log(r1),
                                                     "rate_after_log__": np.log(r2)})
    from scipy import stats

    terms = []
    for tau in range(len(y) - 1):
        lam = np.where(np.arange(len(y)) <= tau, r1, r2)
        ok = np.isfinite(y)
        terms.append(stats.poisson.logpmf(y[ok], lam[ok]).sum() - np.log(len(y) - 1))
    assert float(pot) == pytest.approx(float(logsumexp(terms)), rel=1e-10)


def test_discrete_hdi_is_shortest_contiguous():
    p = np.array([0.01, 0.02, 0.3, 0.4, 0.2, 0.05, 0.02])
    assert discrete_hdi(p, 0.9) == (2, 4)
    assert discrete_hdi(p, 0.95) == (2, 5)
    assert discrete_hdi(np.array([1.0]), 0.95) == (0, 0)


def test_date_labels_give_iso_strings_and_known_break_comparison():
    rng = np.random.default_rng(3)
    dates = pd.date_range("2015-01-01", periods=36, freq="MS")
    y = np.concatenate([rng.poisson(8, 20), rng.poisson(2, 16)])
    res = BayesianChangepoint(y, labels=list(dates), family="negbin").fit(
        sampler="pymc", draws=300, tune=300, chains=2, random_seed=4)
    sp = res.to_dict()["switchpoint"]
    assert isinstance(sp["mode"], str) and isinstance(sp["mean"], str)
    assert "2016-05-01" <= sp["mode"] <= "2016-11-01"   # true last month of regime 1: 2016-08-01
    cmp = res.compare_known([pd.Timestamp("2016-08-15")], window=3)[0]
    assert cmp["period"] == "2016-08-01" and cmp["prob_within_window"] > 0.5


def test_bad_counts_are_rejected_with_row():
    with pytest.raises(ValueError, match="row 2"):
        BayesianChangepoint([1, 2, -1, 3])
    with pytest.raises(ValueError, match="row 1"):
        BayesianChangepoint([1, 2.5, 3])
