"""The briefing of an interrupted-time-series study, rendered from its :class:`ITSStudyResult` alone.

It shows only what the study used: the user's series (credited by file name, sha256 and the
``--source-label`` given), the outcome named in words, the narrative summary, CausalImpact's three
panels, the per-period counterfactual and effects with intervals, and the model and its checks.
Nothing here knows a country: the sections come from the result, never from shipped data.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from pakcast.forecast.io import to_jsonable
from pakcast.forecast.report import figures as F
from pakcast.forecast.report.format import fmt_count, fmt_pct, fmt_ratio
from pakcast.forecast.run_result import ITSStudyResult

SECTIONS = (
    ("its_summary", "Summary"),
    ("its_impact", "Observed, expected and the effect"),
    ("its_periods", "Per-period counterfactual and effects"),
    ("its_data", "Data and sources"),
    ("its_methods", "Methods and model checks"),
)
FAMILY_WORDS = {"negbin": "negative binomial", "quasipoisson": "quasi-Poisson", "poisson": "Poisson"}


def _sec(sid: str, **content: Any) -> dict[str, Any]:
    return {"id": sid, "title": dict(SECTIONS)[sid], "available": True, "reason": None, **content}


def _interval(lo: Any, hi: Any, f=fmt_count) -> str:
    return f"{f(lo)} to {f(hi)}"


def assemble_its(run_dir: Path, result: ITSStudyResult) -> tuple[dict[str, Any], dict[str, F.FigureRecord]]:
    """The briefing content (JSON-ready) and figures of an ITS study."""
    figdir = Path(run_dir) / "figures"
    figs: dict[str, F.FigureRecord] = {}
    source = "; ".join(s.line for s in result.sources) + "; model: this study (pakcast its)"
    o, u = result.outcome_label, result.time_unit
    names = []
    for j, iv in enumerate(result.interventions, start=1):
        pts = [p for p in result.pointwise if p["intervention"] == iv["date"]]
        rec = F.its_impact(pts, figdir, f"its_impact_{j}", source, o, u, str(iv["date"]),
                           level=float(result.model.get("level", 0.95)))
        figs[rec.name] = rec
        names.append(rec.name)
    summary_rows = []
    for imp, iv in zip(result.impact, result.interventions):
        lv, sl = iv.get("level_rate_ratio") or {}, iv.get("slope_rate_ratio") or {}
        summary_rows.append({
            "intervention": imp["intervention"], "window": f"{imp['first_post']} to {imp['last_post']}",
            "n_pre": imp["n_pre"], "n_post": imp["n_post"],
            "observed": fmt_count(imp["observed"]),
            "expected": f"{fmt_count(imp['counterfactual'])} ({_interval(imp['counterfactual_low'], imp['counterfactual_high'])})",
            "cumulative": f"{fmt_count(imp['cumulative_effect'])} ({_interval(imp['cumulative_low'], imp['cumulative_high'])})",
            "average": f"{fmt_ratio(imp['average_effect'])} ({_interval(imp['average_low'], imp['average_high'], fmt_ratio)})",
            "relative": ("–" if imp["relative_effect"] is None else
                         f"{_signed_pct(imp['relative_effect'])} ({_signed_pct(imp['relative_low'])} to "
                         f"{_signed_pct(imp['relative_high'])})"),
            "step": ("–" if not lv else f"{lv['estimate']:.3g} ({lv['ci_low']:.3g} to {lv['ci_high']:.3g})"),
            "trend": ("–" if not sl else f"{sl['estimate']:.4g} ({sl['ci_low']:.4g} to {sl['ci_high']:.4g})"),
            "verdict": imp["verdict"]})
    periods = [p for p in result.pointwise if p["post"]]
    period_rows = [{"intervention": p["intervention"], "time": p["time"], "observed": fmt_count(p["observed"]),
                    "expected": f"{fmt_count(p['counterfactual'])} ({_interval(p['counterfactual_low'], p['counterfactual_high'])})",
                    "effect": f"{fmt_count(p['effect'])} ({_interval(p['effect_low'], p['effect_high'])})",
                    "cumulative": ("–" if p["cumulative_effect"] is None else
                                   f"{fmt_count(p['cumulative_effect'])} ({_interval(p['cumulative_low'], p['cumulative_high'])})")}
                   for p in periods]
    m, c = result.model, result.checks
    level = f"{100 * float(m.get('level', 0.95)):.0f}%"
    methods = [
        {"title": "Design", "text": (
            f"Interrupted time series: a segmented {FAMILY_WORDS.get(m.get('family'), m.get('family'))} count "
            f"regression of {o} per {u} on a linear trend, with a change in level"
            + (" and trend" if any(iv.get("slope_rate_ratio") for iv in result.interventions) else "")
            + " at each intervention"
            + (f", {m['seasonality']} pair(s) of seasonal sine and cosine terms" if m.get("seasonality") else "")
            + (" and the log of an exposure as offset" if m.get("offset") else "") + ".")},
        {"title": "Counterfactual", "text": (
            "The counterfactual drops the intervention's level and trend terms: what the model fitted to the "
            "whole series expects had the intervention not happened. Its intervals are "
            f"{level} predictive intervals from {m.get('n_sim', '?')} draws of the coefficients and of counts "
            "from the fitted family; the cumulative effect uses the same draws, so its last value is the total.")},
        {"title": "Standard errors", "text": (
            "Newey-West (HAC), robust to residual autocorrelation" if m.get("cov_type") == "HAC" else
            "model-based" + (" (scaled by the quasi-Poisson dispersion)" if m.get("family") == "quasipoisson" else ""))
            + "."},
        {"title": "Checks", "text": (
            f"Pearson dispersion {fmt_ratio(c.get('pearson_dispersion'))}; residual autocorrelation at lag 1 "
            f"{fmt_ratio(c.get('acf_lag1'))} (95% band ±{fmt_ratio(c.get('acf_band'))}); Ljung-Box test over "
            f"{c.get('ljung_box_lag')} lags p = {fmt_ratio(c.get('ljung_box_p_value'))}.")},
        {"title": "Reproducibility", "text": (
            f"Study {result.run_id or 'unknown'}; options, input sha256, seeds and package versions are in "
            "manifest.json; results.json holds every number shown; its.csv the per-period table; "
            "`pakcast report DIR` rebuilds this briefing from results.json alone.")},
    ]
    params = [{"term": p["name"], "estimate": p["estimate"], "std_err": p["std_err"], "ci_low": p["ci_low"],
               "ci_high": p["ci_high"], "p_value": p["p_value"]} for p in result.params]
    sources = [{"name": s.name, "file": s.file or "–", "sha256": s.sha256 or "–", "rows": s.rows,
                "coverage": s.coverage or "–", "licence": s.licence or "–"} for s in result.sources]
    sections = {
        "its_summary": _sec("its_summary", items=[{"id": f"its_{i}", "text": t} for i, t in enumerate(result.narrative)]),
        "its_impact": _sec("its_impact", figures=names, rows=summary_rows, outcome=o, unit=u, level=level),
        "its_periods": _sec("its_periods", rows=period_rows, outcome=o, unit=u, level=level),
        "its_data": _sec("its_data", sources=sources, notes=result.data_notes, series=result.series,
                         coverage=f"{result.start} to {result.end} ({result.n_obs} {u}s)",
                         options={k: v for k, v in result.options.items() if v not in (None, [], "")}),
        "its_methods": _sec("its_methods", items=methods, params=params),
    }
    order = [sid for sid, _ in SECTIONS]
    briefing = {
        "title": f"Interrupted time series: {o}",
        "kind": "its",
        "run_id": result.run_id,
        "as_of": None,
        "data_end": str(result.end),
        "data_end_label": "Data end",
        "source_line": "Source: " + source,
        "banner": [],
        "generated": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "section_order": order,
        "sections": sections,
        "figures": {k: v.to_dict() for k, v in figs.items()},
        "missing": {},
    }
    return to_jsonable(briefing), figs


def _signed_pct(v: Any) -> str:
    if v is None:
        return "–"
    s = fmt_pct(abs(v))
    return ("−" if v < 0 else "+") + s
