"""Checks of the fused series on the real data: held-out published figures and source overlaps.

* :func:`heldout_check` refits without some figures (``"last12"``: every figure whose period ends
  in the last 12 months with any observation; ``"pips2025"``: PIPS's 2025 figures) and scores each
  held-out figure with the fit's posterior predictive draws of what that source would publish:
  90% interval coverage and CRPS, against two baselines of the source's own figures of the same
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

from pakcast.forecast.fusion import FusionConfig, ObservationTable, build_observations, fit_fusion


def _cover_key(c: Any) -> str:
    return ",".join(c)


def score_heldout(fr: Any, held: pd.DataFrame, history: pd.DataFrame, n_samples: int = 2000,
                  random_seed: int = 0) -> pd.DataFrame:
    """One row per held-out figure: ``source, metric, period_type, region, first, last, value, q05, q95,
    covered_90, crps, crps_last_value, crps_hist_mean``."""
    import scoringrules as sr

    draws = fr.results.predict_observations(held, n_samples=n_samples, random_seed=random_seed)
    rows = []
    hist = history.assign(_ck=history["cover"].map(_cover_key))
    for i, r in enumerate(held.itertuples()):
        d = draws[i].astype(float)
        q05, q95 = np.quantile(d, [0.05, 0.95])
        same = hist[(hist["source"] == r.source) & (hist["metric"] == r.metric) & (hist["period_type"] == r.period_type)
                    & (hist["_ck"] == _cover_key(r.cover))].sort_values("last")
        last_v = float(same["value"].iloc[-1]) if len(same) else np.nan
        mean_v = float(same["value"].mean()) if len(same) else np.nan
        rows.append({"source": r.source, "metric": r.metric, "period_type": r.period_type, "region": r.region,
                     "first": str(r.first), "last": str(r.last), "value": float(r.value), "q05": float(q05),
                     "q95": float(q95), "covered_90": bool(q05 <= r.value <= q95),
                     "crps": float(sr.crps_ensemble(float(r.value), d)),
                     "crps_last_value": abs(float(r.value) - last_v), "crps_hist_mean": abs(float(r.value) - mean_v)})
    return pd.DataFrame(rows)


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
    out["all"] = {"n": int(len(scores)), "coverage_90": float(scores["covered_90"].mean())}
    return out


def heldout_check(config: FusionConfig, which: str, table: ObservationTable | None = None) -> dict:
    """Refit without the held-out figures (``which`` = ``"last12"`` or ``"pips2025"``) and score them."""
    table = table or build_observations(config)
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
    held = f[held_mask].reset_index(drop=True)
    train = f[~held_mask].reset_index(drop=True)
    kept = set(zip(train["source"], train["metric"]))
    unscorable = held[[k not in kept for k in zip(held["source"], held["metric"])]]
    held = held[[k in kept for k in zip(held["source"], held["metric"])]].reset_index(drop=True)
    sub = dataclasses.replace(table, frame=train)
    fr = fit_fusion(config, sub)
    scores = score_heldout(fr, held, train, random_seed=config.random_seed)
    return {"held_out": what, "cut": str(cut), "units": fr.units, "n_train": int(len(train)),
            "n_held_out": int(len(held)), "n_unscorable": int(len(unscorable)),
            "diagnostics": fr.to_dict(series=False)["diagnostics"], "summary": summarise_scores(scores),
            "scores": scores.to_dict(orient="records"), "fit_seconds": fr.seconds}


def overlap_check(config: FusionConfig) -> tuple[dict, pd.DataFrame]:
    """Scales relative to UCDP over the UCDP years (reference ``UCDP``, months to its last one)."""
    table = build_observations(config)
    f = table.frame
    ucdp_last = f.loc[f["source"] == "UCDP", "last"].max()
    inside = f["last"] <= ucdp_last
    sub = dataclasses.replace(table, frame=f[inside].reset_index(drop=True))
    cfg = dataclasses.replace(config, units="UCDP")
    fr = fit_fusion(cfg, sub)
    sc = fr.results.scales()
    sc = sc[sc["source"] != "UCDP"].copy()
    sc["window"] = sc["first"].astype(str) + ".." + sc["last"].astype(str)
    rec = {s: {} for s in sc["source"]}
    for r in sc.itertuples():
        rec[r.source][r.metric] = {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high,
                                   "n_obs": int(r.n_obs), "window": r.window}
    return {"scales": rec, "diagnostics": fr.to_dict(series=False)["diagnostics"], "through": str(ucdp_last)}, sc
