"""Figures of the fused series' checks: the backtest scorecard, the early-warning reliability
diagram and the held-out coverage (PNG, written atomically; drawing helpers of
:mod:`pakcast.forecast.fusion_figures`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pakcast.forecast.fusion_figures import _plt, _savefig

__all__ = ["reliability_figure", "scorecard_figure"]


def scorecard_figure(summary: list[dict], path: str | Path, title: str = "") -> Path:
    """Per source-metric and resolution: each model's total CRPS relative to the fused forecast's
    (log scale; > 1: the fused forecast is better), with the fused 90% coverage in the label."""
    plt = _plt()
    models = [("last_value", "own last value", "#1f77b4"), ("hist_mean", "own historical mean", "#2ca02c"),
              ("ucdp_only", "UCDP-only zoo x fused scale", "#d62728")]
    rows = [r for r in summary if r.get("n")]
    fig, ax = plt.subplots(figsize=(8, 0.5 * max(len(rows), 1) + 1.5))
    y = np.arange(len(rows))
    for j, (m, label, color) in enumerate(models):
        v = [r.get(f"ratio_{m}") for r in rows]
        yy = [yi + (j - 1) * 0.22 for yi, x in zip(y, v) if x]
        ax.barh(yy, [x for x in v if x], height=0.2, color=color, label=label, left=0)
    ax.set_yticks(y, [f"{r['source']} {r['metric']} {r['resolution']} (n={r['n']}, 90% cov "
                      f"{100 * r['coverage_90']:.0f}%)" for r in rows], fontsize=7)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("CRPS of the model / CRPS of the fused forecast (> 1: fused better)")
    ax.invert_yaxis()
    ax.legend(fontsize=7, loc="lower right")
    if title:
        ax.set_title(title, fontsize=9)
    out = _savefig(fig, Path(path))
    plt.close(fig)
    return out


def reliability_figure(early: dict, path: str | Path) -> Path:
    """Reliability diagram of P(quarter above the same quarter a year earlier): mean forecast
    against observed frequency per bin, fused and climatology, with bin counts."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="0.6", ls=":", lw=0.8)
    for m, color in (("fused", "k"), ("climatology", "#ff7f0e")):
        rel = early.get(m, {}).get("reliability", {})
        pts = [b for b in rel.get("bins", []) if b["n"]]
        ax.plot([b["mean_forecast"] for b in pts], [b["observed_frequency"] for b in pts], "o-", color=color,
                label=f"{m} (Brier {early[m]['brier']:.3f})")
        for b in pts:
            ax.annotate(str(b["n"]), (b["mean_forecast"], b["observed_frequency"]), fontsize=6,
                        textcoords="offset points", xytext=(3, 3), color=color)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("forecast P(quarter > same quarter a year earlier)")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"early warning, {early.get('n', 0)} quarters, {early.get('n_origins', 0)} origins", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    out = _savefig(fig, Path(path))
    plt.close(fig)
    return out
