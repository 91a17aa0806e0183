"""PSIS-LOO comparison of complete, no and partial pooling for the hierarchical NB ITS.

Each variant is fitted with its pointwise log-likelihood and compared with
``arviz.compare(..., ic="loo")`` (Pareto-smoothed importance-sampling leave-one-out, Vehtari,
Gelman and Gabry 2017). The table has one row per variant: ``elpd_loo`` (higher is better),
``p_loo``, ``elpd_diff`` and its standard error ``dse`` against the best, the stacking
``weight``, the count of observations with Pareto k > 0.7 (where LOO is unreliable), and the
convergence verdict of each fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from pakcast.models.bayes.its import HierarchicalNBITS, HierarchicalNBITSResults
from pakcast.models.summary import Summary

POOLINGS = ("complete", "none", "partial")


@dataclass
class PoolingComparison:
    """Result of :func:`compare_pooling`: ``table`` (DataFrame) and the fitted ``results``."""

    table: pd.DataFrame
    results: dict[str, HierarchicalNBITSResults]

    def to_dict(self) -> dict:
        return {"table": self.table.reset_index().to_dict(orient="records"),
                "converged": {k: r.diagnostics.converged for k, r in self.results.items()}}

    def plot(self, **kwargs: Any):
        """ELPD of each variant with its standard error (:func:`models.bayes.plot.plot_compare`);
        returns ``(fig, ax)``. Each fit's ``results[k].plot()`` and ``results[k].save(path)`` give its
        own figure and complete ``InferenceData``."""
        from pakcast.models.bayes.plot import plot_compare

        return plot_compare(self, **kwargs)

    def summary(self) -> Summary:
        """The PSIS-LOO comparison table (``table``) with each fit's convergence in the header."""
        return Summary("Pooling comparison (PSIS-LOO)",
                       tuple((f"Converged: {k}", str(r.diagnostics.converged)) for k, r in self.results.items()),
                       self.table)


def compare_pooling(panel: pd.DataFrame, outcome: str = "attacks", *, poolings: Sequence[str] = POOLINGS,
                    random_seed: int | None = None, sampler: str = "nutpie", draws: int = 1000, tune: int = 1000,
                    chains: int = 4, breaks: Sequence[Any] | None = None,
                    model_kwargs: dict[str, Any] | None = None) -> PoolingComparison:
    """Fit each pooling variant on ``panel`` and compare them with PSIS-LOO.

    Parameters
    ----------
    panel : pandas.DataFrame
        As for :class:`models.bayes.its.HierarchicalNBITS`.
    poolings : sequence of {"complete", "none", "partial"}
    random_seed : int, optional
        Variant ``i`` uses ``random_seed + i``.
    breaks : sequence of dates
        Break dates of every variant (required here or in ``model_kwargs``; no default dates).
    model_kwargs : dict, optional
        Other :class:`HierarchicalNBITS` arguments (start, exposure...).
    """
    model_kwargs = dict(model_kwargs or {})
    if breaks is not None:
        model_kwargs["breaks"] = list(breaks)
    if "breaks" not in model_kwargs:
        raise ValueError("give breaks= (the break dates, or () for none): the comparison has no default dates")
    results: dict[str, HierarchicalNBITSResults] = {}
    for i, pooling in enumerate(poolings):
        seed = None if random_seed is None else int(random_seed) + i
        model = HierarchicalNBITS(panel, outcome, pooling=pooling, **(model_kwargs or {}))
        results[pooling] = model.fit(sampler=sampler, draws=draws, tune=tune, chains=chains, random_seed=seed,
                                     log_likelihood=True)
    table = az.compare({k: r.idata for k, r in results.items()}, ic="loo")
    bad_k, conv = {}, {}
    for k, r in results.items():
        loo = az.loo(r.idata, pointwise=True)
        bad_k[k] = int(np.sum(np.asarray(loo.pareto_k) > 0.7))
        conv[k] = r.diagnostics.converged
    table["n_pareto_k_gt_0_7"] = pd.Series(bad_k)
    table["converged"] = pd.Series(conv)
    table.index.name = "pooling"
    return PoolingComparison(table=table, results=results)
