"""Early-warning probabilities: P(a quarter's count above the same quarter a year earlier, or above a
threshold), from whole predictive sample paths; and the climatological baseline they are scored
against (:mod:`pakcast.forecast.fusion_backtest` backtests both with the Brier score and a
reliability diagram, :func:`pakcast.forecast.scoring.brier_score`, :func:`~pakcast.forecast.scoring.reliability_table`).

:func:`exceedance_probability` is the one implementation: the quarterly run calls it for
``p_gt_last_year`` and ``p_gt_threshold`` as the backtest does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["climatological_probability", "exceedance_probability", "year_on_year_events"]


def exceedance_probability(samples, reference) -> np.ndarray:
    """P(X > reference), strictly above, from predictive samples ``samples`` (..., n).

    ``reference`` is a known value (scalar or an array of the leading shape ``...``: a year-earlier
    quarter that was observed, or a user threshold), or samples of the same shape as ``samples``
    (a year-earlier quarter that is itself uncertain): then the comparison is path by path
    (sample ``i`` against sample ``i`` of the same path), so a path's own level carries through.
    NaN where the reference is NaN.
    """
    x = np.asarray(samples, dtype=float)
    r = np.asarray(reference, dtype=float)
    if r.shape == x.shape:
        out = (x > r).mean(axis=-1)
        return np.where(np.isnan(r).any(axis=-1), np.nan, out)
    r = np.broadcast_to(r, x.shape[:-1])
    out = (x > r[..., None]).mean(axis=-1)
    return np.where(np.isnan(r), np.nan, out)


def year_on_year_events(values: dict) -> dict:
    """``{quarter: value}`` -> ``{quarter: bool}`` for every quarter whose year-earlier quarter is
    also in ``values``: whether it was above it."""
    return {q: bool(v > values[q - 4]) for q, v in values.items() if (q - 4) in values}


def climatological_probability(past_events, prior: float = 0.5) -> float:
    """The climatological forecast: the share of past quarters above their year-earlier quarter
    (``prior`` when there is none)."""
    ev = [bool(e) for e in past_events]
    return float(np.mean(ev)) if ev else float(prior)
