"""Checks of the fused series on the real data: held-out published figures and source overlaps.

* :func:`heldout_check` refits without some figures (``"last12"``: every figure whose period ends
  in the last 12 months with any observation; ``"pips2025"``: PIPS's 2025 figures) and scores each
  held-out figure with the fit's posterior predictive draws of what that source would publish:
  90% coverage (randomised PIT) and CRPS, against two baselines of the source's own figures of the same
  metric, region and resolution before the cut (last value; historical mean), scored as point
  forecasts (their CRPS is the absolute error).
* :func:`overlap_check` fits with UCDP as the reference over the UCDP years only, so each source's
  scale is its count relative to UCDP's where they overlap (PIPS years 2013-2021, PICSS months
  2018-2021, ...).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from pakcast.forecast.fusion import FusionConfig, ObservationTable, build_observations


def score_heldout(fr: Any, held: pd.DataFrame, history: pd.DataFrame, n_samples: int = 2000,
                  random_seed: int = 0) -> pd.DataFrame:
    """One row per held-out figure: ``source, metric, period_type, region, first, last, value, q05, q95,
    covered_90`` (randomised PIT inside its central 90%, as in every pakcast backtest),
    ``in_interval_90`` (inside the closed 5-95% sample interval), ``crps``, ``log_score``, ``pit``
    and the CRPS of the source's own ``last_value`` and ``hist_mean`` forecasts (scored by
    :mod:`pakcast.forecast.scoring` via :func:`pakcast.forecast.fusion_backtest.score_figures`)."""
    from pakcast.forecast.fusion_backtest import figure_draws, own_baselines, score_figures

    draws, _ = figure_draws(fr, held, n_samples, random_seed)
    sc = score_figures(draws, held, random_seed)
    lv, hm = own_baselines(held, history)
    obs = held["value"].to_numpy(dtype=float)
    return pd.DataFrame({"source": held["source"].to_numpy(), "metric": held["metric"].to_numpy(),
                         "period_type": held["period_type"].to_numpy(), "region": held["region"].to_numpy(),
                         "first": held["first"].astype(str).to_numpy(), "last": held["last"].astype(str).to_numpy(),
                         "value": obs, "q05": sc["q05"], "q95": sc["q95"], "covered_90": sc["cov90"].astype(bool),
                         "in_interval_90": sc["in_interval_90"].astype(bool), "crps": sc["crps"],
                         "log_score": sc["log_score"], "pit": sc["pit"],
                         "crps_last_value": np.abs(obs - lv), "crps_hist_mean": np.abs(obs - hm)})


def summarise_scores(scores: pd.DataFrame) -> dict:
    """Per source and metric: ``n, coverage_90, crps, crps_last_value, crps_hist_mean`` (baseline CRPS
    over the figures that have a baseline) and ``beats_baselines``; plus ``all``."""
    out: dict[str, Any] = {}
    for (s, m), g in scores.groupby(["source", "metric"]):
        b = g.dropna(subset=["crps_last_value", "crps_hist_mean"])
        rec = {"n": int(len(g)), "coverage_90": float(g["covered_90"].mean()), "crps": float(g["crps"].mean()),
               "n_with_baselines": int(len(b)),
               "crps_on_baseline_figures": float(b["crps"].mean()) if len(b) else None,
               "crps_last_value": float(b["crps_last_value"].mean()) if len(b) else None,
               "crps_hist_mean": float(b["crps_hist_mean"].mean()) if len(b) else None}
        rec["beats_baselines"] = (bool(rec["crps_on_baseline_figures"] < min(rec["crps_last_value"], rec["crps_hist_mean"]))
                                  if len(b) else None)
        out.setdefault(s, {})[m] = rec
    b = scores.dropna(subset=["crps_last_value", "crps_hist_mean"])
    out["all"] = {"n": int(len(scores)), "coverage_90": float(scores["covered_90"].mean()),
                  "interval_90_hits": float(scores["in_interval_90"].mean()),
                  "coverage_in_80_98": bool(0.80 <= scores["covered_90"].mean() <= 0.98),
                  "n_with_baselines": int(len(b)),
                  "crps": float(b["crps"].mean()) if len(b) else None,
                  "crps_last_value": float(b["crps_last_value"].mean()) if len(b) else None,
                  "crps_hist_mean": float(b["crps_hist_mean"].mean()) if len(b) else None}
    if len(b):
        out["all"]["beats_baselines"] = bool(out["all"]["crps"] < min(out["all"]["crps_last_value"],
                                                                    out["all"]["crps_hist_mean"]))
    return out


def heldout_split(table: ObservationTable, which: str) -> tuple[ObservationTable, pd.DataFrame, str, pd.Period]:
    """``(training table, held-out figures, description, cut month)`` of one held-out check."""
    f = table.frame
    if which == "last12":
        cut = f["last"].max() - 12
        held_mask = f["last"] > cut
        what = f"every figure whose period ends after {cut}"
    elif which == "pips2025":
        held_mask = (f["source"] == "PIPS") & (f["last"] >= pd.Period("2025-01", "M"))
        cut = pd.Period("2024-12", "M")
        what = "PIPS figures of 2025"
    else:
        raise ValueError("which must be 'last12' or 'pips2025'")
    return (dataclasses.replace(table, frame=f[~held_mask].reset_index(drop=True)),
            f[held_mask].reset_index(drop=True), what, cut)


def heldout_check(config: FusionConfig, which: str, table: ObservationTable | None = None,
                  cache: Any = None) -> dict:
    """Refit without the held-out figures (``which`` = ``"last12"`` or ``"pips2025"``) and score them
    (fits through :func:`pakcast.forecast.fusion_cache.fit_cached`)."""
    from pakcast.forecast.fusion_cache import fit_cached

    table = table or build_observations(config)
    sub, held, what, cut = heldout_split(table, which)
    train = sub.frame
    kept = set(zip(train["source"], train["metric"]))
    unscorable = held[[k not in kept for k in zip(held["source"], held["metric"])]]
    held = held[[k in kept for k in zip(held["source"], held["metric"])]].reset_index(drop=True)
    fr = fit_cached(config, sub, cache)
    scores = score_heldout(fr, held, train, random_seed=config.random_seed)
    ratio = (scores["q95"] / scores["value"].clip(lower=1)).to_numpy()
    w = scores.iloc[int(np.argmax(ratio))] if len(scores) else None
    widest = None if w is None else {k: (float(w[k]) if k in ("value", "q05", "q95", "crps") else str(w[k]))
                                     for k in ("source", "metric", "period_type", "region", "first", "last", "value",
                                               "q05", "q95", "crps")}
    median_q95_ratio = float(np.median(ratio)) if len(scores) else None
    return {"held_out": what, "cut": str(cut), "units": fr.units, "n_train": int(len(train)),
            "widest": widest, "median_q95_over_value": median_q95_ratio,
            "n_held_out": int(len(held)), "n_unscorable": int(len(unscorable)),
            "diagnostics": fr.to_dict(series=False)["diagnostics"], "summary": summarise_scores(scores),
            "scores": scores.to_dict(orient="records"), "fit_seconds": fr.seconds}


def overlap_split(config: FusionConfig, table: ObservationTable) -> tuple[FusionConfig, ObservationTable, pd.Period]:
    """``(config with units UCDP, table of the figures ending by UCDP's last month, that month)``."""
    f = table.frame
    ucdp_last = f.loc[f["source"] == "UCDP", "last"].max()
    inside = f["last"] <= ucdp_last
    sub = dataclasses.replace(table, frame=f[inside].reset_index(drop=True))
    return dataclasses.replace(config, units="UCDP"), sub, ucdp_last


def overlap_check(config: FusionConfig, table: ObservationTable | None = None, cache: Any = None) -> tuple[dict, pd.DataFrame]:
    """Scales relative to UCDP over the UCDP years (reference ``UCDP``, months to its last one)."""
    from pakcast.forecast.fusion_cache import fit_cached

    cfg, sub, ucdp_last = overlap_split(config, table or build_observations(config))
    fr = fit_cached(cfg, sub, cache)
    sc = fr.results.scales()
    sc = sc[sc["source"] != "UCDP"].copy()
    sc["window"] = sc["first"].astype(str) + ".." + sc["last"].astype(str)
    rec = {s: {} for s in sc["source"]}
    for r in sc.itertuples():
        rec[r.source][r.metric] = {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high,
                                   "n_obs": int(r.n_obs), "window": r.window}
    return {"scales": rec, "diagnostics": fr.to_dict(series=False)["diagnostics"], "through": str(ucdp_last)}, sc
