"""Plots of the Bayesian results, kept apart from the models (each results class's ``plot()`` calls
one function here). Every function draws with matplotlib from the results' ``InferenceData`` and
posterior draws, labels every line and band in a legend, and returns ``(fig, axes)`` so a notebook
can restyle or save the figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def _band(draws: np.ndarray, prob: float, axis: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.quantile(draws, (1 - prob) / 2, axis=axis), np.quantile(draws, 1 - (1 - prob) / 2, axis=axis))


def plot_its(results: Any, units: Sequence[str] | None = None, hdi_prob: float = 0.9, ncols: int = 2,
             figsize: tuple[float, float] | None = None):
    """One panel per unit: observed counts (dots), the posterior predictive median and its central
    ``hdi_prob`` band, and the expected count without the breaks (the counterfactual: the same
    draws with every step and ramp set to zero) from the first break on; dotted lines at the breaks.

    Parameters
    ----------
    results : models.bayes.its.HierarchicalNBITSResults
    units : sequence of str, optional
        Units to draw (default: all).
    """
    import matplotlib.pyplot as plt

    d = results.design
    units = list(d.units if units is None else units)
    unknown = [u for u in units if u not in d.units]
    if unknown:
        raise ValueError(f"unknown units {unknown}; fitted units: {list(d.units)}")
    pp = results.idata.posterior_predictive["y"].stack(sample=("chain", "draw")).values   # (obs, S)
    obs = results.idata.observed_data
    unit_of = obs["unit"].values
    time_of = pd.to_datetime(obs["time"].values)
    idx = np.arange(results.n_draws)
    latent = results._draws("latent") if "latent" in results.idata.posterior else None
    eta0 = results._eta(idx, d.t, np.zeros_like(d.step), np.zeros_like(d.ramp), d.fourier, d.offset, d.X, latent)
    cf = np.exp(eta0)                                                                      # (S, U, T)
    first = int(np.argmax(d.step.any(axis=0))) if d.step.shape[0] and d.step.any() else None
    n = len(units)
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize or (5.5 * ncols, 2.6 * nrows), sharex=True,
                             squeeze=False, layout="constrained")
    for k, unit in enumerate(units):
        ax = axes.flat[k]
        sel = unit_of == unit
        x = time_of[sel]
        lo, hi = _band(pp[sel], hdi_prob, axis=1)
        ax.fill_between(x, lo, hi, color="C0", alpha=0.25, lw=0, label=f"{100 * hdi_prob:.0f}% predictive interval")
        ax.plot(x, np.median(pp[sel], axis=1), color="C0", lw=1.2, label="predicted (median)")
        ax.plot(x, obs["y"].values[sel], "o", ms=2.2, color="0.25", label="observed")
        if first is not None:
            u = d.units.index(unit)
            xs = d.dates[first:]
            c_lo, c_hi = _band(cf[:, u, first:], hdi_prob, axis=0)
            ax.fill_between(xs, c_lo, c_hi, color="C1", alpha=0.15, lw=0,
                            label=f"without the breaks ({100 * hdi_prob:.0f}% interval of the mean)")
            ax.plot(xs, cf[:, u, first:].mean(axis=0), color="C1", ls="--", lw=1.2, label="without the breaks (mean)")
        for j, lab in enumerate(d.break_labels):
            fp = int(np.argmax(d.step[j] > 0))
            ax.axvline(d.dates[fp], color="k", lw=0.8, ls=":", label="break" if j == 0 else None)
        ax.set_title(str(unit), fontsize=9, loc="left")
        ax.set_ylabel(str(results.model.outcome), fontsize=8)
        ax.tick_params(labelsize=8)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return fig, axes


def plot_severity(results: Any, hdi_prob: float = 0.9, ax=None):
    """Mean deaths per attack by unit: posterior mean (dot) and ``hdi_prob`` highest-density interval."""
    import matplotlib.pyplot as plt

    import arviz as az

    draws = results._draws("mean_deaths")                                   # (S, U)
    units = list(results.model.units)
    hdi = np.array([az.hdi(draws[:, i], hdi_prob=hdi_prob) for i in range(len(units))])
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.45 * len(units) + 1.2), layout="constrained")
    else:
        fig = ax.figure
    y = np.arange(len(units))[::-1]
    ax.hlines(y, hdi[:, 0], hdi[:, 1], color="C0", lw=2, label=f"{100 * hdi_prob:.0f}% highest-density interval")
    ax.plot(draws.mean(axis=0), y, "o", color="C0", label="posterior mean")
    ax.set_yticks(y, units)
    ax.set_xlabel(f"mean {results.model.killed_col} per attack")
    ax.grid(axis="x", lw=0.4, alpha=0.5)
    ax.legend(fontsize=8, loc="best")
    return fig, ax


def plot_changepoint(results: Any, hdi_prob: float = 0.95, figsize: tuple[float, float] = (8, 5)):
    """Top: the series with the posterior mean rate of each regime around the most probable
    switchpoint and the rates' ``hdi_prob`` intervals. Bottom: the exact switchpoint posterior."""
    import matplotlib.pyplot as plt

    m = results.model
    labels = pd.Index(m.labels)
    x = pd.to_datetime(labels) if isinstance(labels, pd.DatetimeIndex) else np.arange(len(labels))
    probs = results.switchpoint_probabilities.to_numpy()
    mode = int(np.argmax(probs))
    fig, (ax, bx) = plt.subplots(2, 1, figsize=figsize, sharex=True, height_ratios=(2, 1), layout="constrained")
    ax.plot(x, m.y, "o-", ms=3, lw=0.6, color="0.3", label="observed")
    for name, sl, colour, what in (("rate_before", slice(0, mode + 1), "C0", "rate before"),
                                   ("rate_after", slice(mode + 1, len(x)), "C3", "rate after")):
        r = results._draws(name)
        lo, hi = _band(r, hdi_prob, axis=0)
        xs = x[sl]
        ax.fill_between(xs, np.full(len(xs), lo), np.full(len(xs), hi), color=colour, alpha=0.2, lw=0,
                        label=f"{what} ({100 * hdi_prob:.0f}% interval)")
        ax.plot(xs, np.full(len(xs), r.mean()), color=colour, lw=1.5, label=f"{what} (posterior mean)")
    ax.set_ylabel("count")
    ax.legend(fontsize=8, ncols=2, loc="best")
    bx.bar(x[:-1], probs, width=0.8 if not isinstance(x, pd.DatetimeIndex) else 20, color="0.4",
           label="probability that the first regime ends here")
    bx.set_ylabel("probability")
    bx.legend(fontsize=8, loc="upper right")
    if not isinstance(x, pd.DatetimeIndex):
        step = max(1, len(labels) // 10)
        bx.set_xticks(x[::step], [str(v) for v in labels[::step]])
    return fig, (ax, bx)


def plot_compare(comparison: Any, ax=None):
    """PSIS-LOO expected log predictive density of each pooling variant with its standard error
    (higher is better), best at the top."""
    import matplotlib.pyplot as plt

    t = comparison.table.sort_values("elpd_loo")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.5 * len(t) + 1.4), layout="constrained")
    else:
        fig = ax.figure
    y = np.arange(len(t))
    ax.errorbar(t["elpd_loo"], y, xerr=t["se"], fmt="o", color="C0", capsize=3,
                label="ELPD (PSIS-LOO) +/- 1 standard error")
    best = t["elpd_loo"].max()
    ax.axvline(best, color="0.5", lw=0.8, ls="--", label="best")
    ax.set_yticks(y, [f"{k} pooling" for k in t.index])
    ax.set_xlabel("expected log predictive density (higher is better)")
    ax.legend(fontsize=8, loc="lower left")
    return fig, ax
