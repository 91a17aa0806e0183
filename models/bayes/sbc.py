r"""Simulation-based calibration (Talts et al. 2018) of the hierarchical NB ITS on a small configuration.

For :math:`n` simulations: draw :math:`\theta^\ast` and :math:`y^\ast` from the prior predictive,
fit the model to :math:`y^\ast`, thin the posterior to :math:`L` roughly independent draws and
record the rank :math:`r = \#\{\theta_l < \theta^\ast\}` in :math:`0..L`. When the sampler and
the model code are correct the ranks are uniform; :func:`rank_uniformity_pvalue` tests that
with a chi-square over equal-width bins.

References
----------
Talts, S., Betancourt, M., Simpson, D., Vehtari, A. and Gelman, A. (2018). Validating Bayesian
inference algorithms with simulation-based calibration. arXiv:1804.06788.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pymc as pm
from scipy import stats

from pakcast.models.bayes.build import build_hierarchical_its
from pakcast.models.bayes.diagnostics import diagnose
from pakcast.models.bayes.fit import sample
from pakcast.models.seasonality import fourier_terms

SBC_PARAMS = ("intercept_mu", "trend_mu", "level_mu", "log_alpha", "level")


@dataclass
class SBCResult:
    """Ranks (one row per simulation, one column per scalar parameter), ``n_posterior`` = L,
    the count of simulations whose short fit failed the SBC gate (R-hat < 1.05, ESS > L, no
    divergences), and uniformity p-values."""

    ranks: pd.DataFrame
    n_posterior: int
    n_unconverged: int

    def pvalues(self, n_bins: int = 10) -> pd.Series:
        return pd.Series({c: rank_uniformity_pvalue(self.ranks[c].to_numpy(), self.n_posterior, n_bins)
                          for c in self.ranks.columns}, name="chi2_pvalue")

    def to_dict(self) -> dict:
        return {"n_sims": int(len(self.ranks)), "n_posterior": self.n_posterior, "n_unconverged": self.n_unconverged,
                "pvalues": self.pvalues().to_dict()}


def rank_uniformity_pvalue(ranks: np.ndarray, n_posterior: int, n_bins: int = 10) -> float:
    """Chi-square p-value that ranks in ``0..n_posterior`` are uniform (``n_bins`` equal bins)."""
    r = np.asarray(ranks, dtype=float)
    edges = np.linspace(-0.5, n_posterior + 0.5, n_bins + 1)
    counts, _ = np.histogram(r, bins=edges)
    expected = np.diff(edges) / (n_posterior + 1) * r.size
    return float(stats.chisquare(counts, expected).pvalue)


def small_its_config(n_units: int = 3, n_months: int = 48, break_month: int = 24) -> tuple[dict, dict]:
    """Data arrays (with ``y`` all zero, to be replaced) and coords for a small ITS configuration."""
    T = n_months
    t = (np.arange(T) - (T - 1) / 2) / 12.0
    step = (np.arange(T) >= break_month).astype(float)[None, :]
    ramp = np.where(step[0] > 0, (np.arange(T) - break_month + 1) / 12.0, 0.0)[None, :]
    data = {"y": np.zeros((n_units, T)), "offset": np.zeros((n_units, T)), "t": t, "step": step, "ramp": ramp,
            "fourier": fourier_terms((np.arange(T) % 12) + 1, 12, 1)}
    coords = {"unit": [f"U{i}" for i in range(n_units)], "time": np.arange(T), "break": ["b0"],
              "fourier": ["sin1", "cos1"]}
    return data, coords


def run_sbc(n_sims: int = 100, *, n_units: int = 3, n_months: int = 48, n_posterior: int = 99,
            draws: int = 400, tune: int = 400, chains: int = 2, sampler: str = "pymc",
            params: Sequence[str] = SBC_PARAMS, priors: dict | None = None, target_accept: float = 0.95,
            random_seed: int | None = None) -> SBCResult:
    """Run SBC for the hierarchical NB ITS (``pooling="partial"``) on a small configuration.

    Priors are the defaults with a fixed ``intercept_center = 1`` (the data-centred intercept
    prior would otherwise depend on the simulated data). Vector parameters contribute their
    first element (e.g. ``level[U0, b0]``).
    """
    pri = {"intercept_center": 1.0, **(priors or {})}
    data, coords = small_its_config(n_units, n_months)
    prior_model = build_hierarchical_its(data, coords, pri)
    ss = np.random.SeedSequence(random_seed)
    seeds = ss.generate_state(n_sims + 1)
    with prior_model:
        prior = pm.sample_prior_predictive(draws=n_sims, random_seed=int(seeds[0]))
    rows = []
    n_unconv = 0
    for i in range(n_sims):
        truth = {p: float(np.asarray(prior.prior[p].values[0, i]).ravel()[0]) for p in params}
        y = prior.prior_predictive["y"].values[0, i].reshape(n_units, n_months).astype(float)
        d = dict(data, y=y)
        model = build_hierarchical_its(d, coords, pri)
        idata = sample(model, sampler=sampler, draws=draws, tune=tune, chains=chains, cores=1,
                       target_accept=target_accept, random_seed=int(seeds[i + 1]))
        # SBC fits are short: gate on mixing (R-hat < 1.05, no divergences) and on an ESS of at
        # least the number of thinned draws the ranks use, not on the production ESS > 400
        diag = diagnose(idata, [p for p in params if p in idata.posterior], rhat_max=1.05,
                        ess_min=float(n_posterior))
        n_unconv += int(not diag.converged)
        row = {}
        for p in params:
            post = idata.posterior[p].stack(sample=("chain", "draw")).transpose("sample", ...).values
            post = post.reshape(post.shape[0], -1)[:, 0]
            thin = np.linspace(0, post.size - 1, n_posterior).astype(int)
            row[p] = int(np.sum(post[thin] < truth[p]))
        rows.append(row)
    return SBCResult(ranks=pd.DataFrame(rows), n_posterior=n_posterior, n_unconverged=n_unconv)
