"""The fused run's parts of the quarterly briefing: the fused history and source scales, the early
warning, the August-2021 and December-2014 steps and the source paper's claims.

Each section is built from the run result (``results.json["fusion"]``, written by
:mod:`pakcast.forecast.fused_quarterly`) and the run directory's ``fused.csv``,
``observations.csv`` and ``sources.csv`` only. Sections are generic ``blocks`` (paragraphs, tables
and figures, in order) that the HTML template and the PDF render alike; every table and figure
names the units it is in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.report import figures as F
from pakcast.forecast.report.format import fmt_count, fmt_pct, fmt_prob, fmt_ratio, readable
from pakcast.forecast.report.rundir import Missing, RunInputs

NATIONAL = PAKISTAN.national
TITLES = {
    "fusion": "Fused history and source scales: one picture from every source",
    "early_warning": "Early warning: chance of more attacks than a year earlier, and above thresholds",
    "fused_breaks": "August 2021 and December 2014 on the fused series",
    "fused_claims": "Claims check on the fused series: the source paper against every source",
}


def _p(text: str) -> dict[str, Any]:
    return {"kind": "p", "text": text}


def _table(title: str, columns: list[str], rows: list[list[Any]], name: str) -> dict[str, Any]:
    from pakcast.forecast.report.build import table_dict

    return {"kind": "table", "title": title, "name": name, "table": table_dict(columns, rows)}


def _unavailable(reason: Any) -> dict[str, Any]:
    return {"available": False, "reason": reason}


def _part(fusion: dict[str, Any], key: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The fused run's part ``key`` (``{}`` when absent) and, when the run did not produce it, the
    unavailable section that says why (else ``None``)."""
    part = fusion.get(key) or {}
    return part, _unavailable(part.get("reason")) if part.get("status") == "not produced" else None


def _ci(d: dict[str, Any] | None, fmt=fmt_ratio) -> str:
    if not d:
        return "–"
    return f"{fmt(d['estimate'])} ({fmt(d['ci_low'])}–{fmt(d['ci_high'])})"


#: the measurement model's parameters in words (the convergence message names the worst one)
PARAMETER_WORDS = {
    "log_kappa": "the source scales", "kappa_drift": "the scales' yearly drift", "log_alpha": "the count noise",
    "log_alpha_unit": "the count noise by region", "level": "the long-run levels", "z": "the monthly deviations",
    "log_sigma_raw": "the deviations' spread by region", "log_sigma_mean": "the deviations' spread",
    "log_sigma_sd": "the spread's variation across regions", "logit_phi": "the month-to-month persistence",
    "season": "the seasonal pattern", "effect": "the level steps at known dates",
    "fast_z": "the transient month effects", "log_fast_raw": "the transient effects' spread by region",
    "log_fast_mean": "the transient effects' spread", "log_fast_sd": "the transient spread's variation across regions",
}


def _parameter_words(message: str) -> str:
    """``... >= 1.01 (log_kappa)`` -> ``... >= 1.01 (the source scales)``: no parameter ids in the briefing."""
    import re

    return re.sub(r"\(([a-z_]+)\)", lambda m: f"({PARAMETER_WORDS.get(m.group(1), m.group(1).replace('_', ' '))})",
                  message)


def units_line(fusion: dict[str, Any]) -> str:
    """``attacks as UCDP counts them; killed as UCDP counts them``."""
    return "; ".join(fusion["units"]["measures"].values())


def age_line(fusion: dict[str, Any]) -> str:
    age = fusion["newest_observation"]
    return (f"The newest observation is from {age['month']}, {age['age_months']:g} months before the run date "
            f"({fusion['run_date']}); {age['note']}.")


def history_panel(fused: pd.DataFrame, panel: pd.DataFrame | Missing, as_of: str) -> pd.DataFrame:
    """The fused posterior mean per province and month through the as-of, in the panel's CSV form
    (``province, period, attacks, killed``, plus each province's latest ``population`` from the
    run's panel): the history the fan charts and the map draw in a fused run."""
    f = fused[pd.PeriodIndex(fused["month"].astype(str), freq="M") <= pd.Period(as_of, "M")]
    wide = f.pivot_table(index=["province", "month"], columns="measure", values="mean").reset_index()
    wide["period"] = pd.PeriodIndex(wide.pop("month").astype(str), freq="M").to_timestamp()
    if not isinstance(panel, Missing) and "population" in panel.columns:
        pop = panel.dropna(subset=["population"]).sort_values("period").groupby("province")["population"].last()
        wide["population"] = wide["province"].map(pop)
    return wide


def fusion_section(fusion: dict[str, Any], inputs: RunInputs, figdir: Path, figs: dict) -> dict[str, Any]:
    fused, obs, scales = inputs.fused, inputs.observations, inputs.scales
    for part in (fused, obs, scales):
        if isinstance(part, Missing):
            return {"available": False, "reason": part.reason}
    units = fusion["units"]
    fit = fusion.get("fit", {})
    dg = fit.get("diagnostics", {})
    blocks = [
        _p(f"Every source is an imperfect, scaled, noisy view of one latent monthly series per province. The series is "
           f"in the units of {units['source']} ({units['reason']}): {units_line(fusion)}. {age_line(fusion)}"),
        _p(f"Convergence: {_parameter_words(str(dg.get('message', 'not recorded'))).rstrip('.')}." + (
            "" if dg.get("converged", True) else " The gates failed (the banner at the top says so too): no interval "
            "of this run should be relied on before a longer run (--draws, --tune).")),
    ]
    sc = scales.copy()
    rows = [[r.source, readable(r.metric), r.measure, "reference (1 by definition)" if bool(r.reference) else
             f"{fmt_ratio(r.scale)} ({fmt_ratio(r.scale_ci_low)}–{fmt_ratio(r.scale_ci_high)})",
             int(r.n_obs), f"{r.first}..{r.last}"] for r in sc.itertuples()]
    blocks.append(_p("A source's scale drifts slowly from year to year as its definitions and coverage change; the "
                     "table gives each scale in the last year the source published. The figures below divide each "
                     "source's figures by that scale, so where a source's ratio to the reference has changed over the "
                     "years its earlier figures sit off the fused line."))
    blocks.append(_table(f"Source scales: each source's count per reference count ({units['source']} = 1) in the "
                         "source's last year, posterior median and 90% interval",
                         ["source", "metric", "measure", "scale (90% interval)", "figures", "period covered"], rows,
                         "source_scales"))
    s_idx = sc.rename(columns={"scale": "estimate"}).set_index(["source", "metric"])
    provinces = sorted(set(fused["province"]) - {NATIONAL})
    as_of = pd.Period(fusion["as_of"], "M").to_timestamp()
    measure_units = dict(units["measures"])  # measure -> "attacks as PIPS counts them"
    src = "fused model of this run: " + ", ".join(sorted(set(obs["source"])))
    names = []
    for prov in [NATIONAL, *provinces]:
        cover = tuple(provinces) if prov == NATIONAL else (prov,)
        rec = F.fused_history(fused, obs, s_idx, prov, cover, as_of, measure_units, units_line(fusion), figdir, src)
        figs[rec.name] = rec
        names.append(rec.name)
        blocks.append({"kind": "figure", "name": rec.name})
    return {"available": True, "blocks": blocks, "figures": names}


def early_warning_section(fusion: dict[str, Any], forecast: pd.DataFrame | Missing) -> dict[str, Any]:
    ew = fusion.get("early_warning") or {}
    rows = ew.get("rows") or []
    if not rows:
        return {"available": False, "reason": "the run has no early-warning probabilities"}
    units = fusion["units"]["measures"].get("attacks", "attacks")
    quarters = sorted({r["quarter"] for r in rows})
    provs = [NATIONAL] + sorted({r["province"] for r in rows} - {NATIONAL})
    by = {(r["province"], r["quarter"]): r for r in rows}
    blocks = [_p(f"{ew['definition']}. Units: {units}. {age_line(fusion)}")]
    table = [[p] + [fmt_pct(by[(p, q)]["p_gt_last_year"]) if (p, q) in by and by[(p, q)]["p_gt_last_year"] is not None
                    and by[(p, q)]["p_gt_last_year"] == by[(p, q)]["p_gt_last_year"] else "–" for q in quarters]
             for p in provs]
    blocks.append(_table(f"P(attacks in the quarter > the same quarter a year earlier) ({units})", ["province", *quarters],
                         table, "p_gt_last_year"))
    thr = ew.get("thresholds") or {}
    if thr:
        trows = [[p, fmt_count(n)] + [fmt_pct(by[(p, q)]["p_gt_threshold"]) if (p, q) in by else "–" for q in quarters]
                 for p, n in thr.items()]
        blocks.append(_table(f"P(attacks in the quarter > the threshold) ({units}; thresholds set with --threshold)",
                             ["province", "threshold", *quarters], trows, "p_gt_threshold"))
    else:
        blocks.append(_p("No thresholds were set for this run (pakcast quarterly --threshold PROVINCE=N adds P(> N))."))
    blocks.append(_p(f"Backtest of these probabilities: {ew.get('backtest')}."))
    return {"available": True, "blocks": blocks}


def fused_breaks_section(fusion: dict[str, Any]) -> dict[str, Any]:
    b, missing = _part(fusion, "breaks")
    rows = b.get("rows") or []
    if missing or not rows:
        return missing or _unavailable(b.get("note") or "the fused model was fitted without known-date steps")
    units = fusion["units"]["measures"]
    order = {NATIONAL: 0}
    rows = sorted(rows, key=lambda r: (r["date"], r["outcome"], order.get(r["series"], 1), r["series"]))
    table = [[r["series"], r["outcome"], r["date"], _ci(r["level_rate_ratio"]), fmt_prob(r["p_increase"]),
              _ci(r["slope_rate_ratio"]) if r.get("slope_rate_ratio") else "not estimated (window outside the fit)"]
             for r in rows]
    return {"available": True, "blocks": [
        _p(b.get("method", "")),
        _table("Level rate ratio at each known date, by region (median and 90% interval; 1 = no change; units: "
               + "; ".join(units.get(m, m) for m in dict.fromkeys(r["outcome"] for r in rows)) + ")",
               ["region", "outcome", "first month of the step", "level rate ratio (90% interval)",
                "P(increase)", "slope rate ratio a year (90% interval)"], table, "fused_breaks"),
        _p(f"Slope (trend) changes: {b.get('slope')}"),
    ]}


def fused_claims_section(fusion: dict[str, Any]) -> dict[str, Any]:
    c, missing = _part(fusion, "claims")
    claims = c.get("claims") or []
    if missing or not claims:
        return missing or _unavailable("the fused series does not reach the claims' periods")
    blocks = [_p(c.get("method", "")), _p("Verdicts: supported when the 90% interval lies wholly on the claimed side "
                                          "of no change; not supported only when it lies wholly on the other side "
                                          "(evidence against); inconclusive when it includes no change.")]
    head = []
    for cl in claims:
        f = cl["fused"]
        if cl["claim_id"] == "peak_2012_13":
            est = (f"P(peak in 2012-13) {fmt_pct(f['p_peak_in_2012_13'])}; most likely peak years "
                   + ", ".join(f"{y} {fmt_pct(p)}" for y, p in f["peak_year_distribution"].items()))
        else:
            est = f"rate ratio {_ci(f['rate_ratio'])}"
            if cl["claim_id"] == "rise_after_2021_08":
                est += f"; {_ci(f['post_total'], fmt_count)} in {f['post_window']}"
        head.append([cl["claim"], cl["units"], cl["status"], est, cl.get("paper") or "–"])
    blocks.append(_table("Claims: fused estimate (90% interval) against the paper", ["claim", "units", "verdict",
                                                                                    "fused estimate", "the paper says"],
                         head, "fused_claims"))
    srows = []
    for cl in claims:
        for s in cl["sources"]:
            if cl["claim_id"] == "peak_2012_13":
                srows.append([cl["claim"], f"{s['source']} {readable(s['metric'])}", s["years"],
                              f"peak {s['peak_year']} ({fmt_count(s['peak_value'])})"
                              + ("" if s["covers_peak_years"] else "; does not cover both 2012 and 2013"), "–"])
            else:
                srows.append([cl["claim"], f"{s['source']} {readable(s['metric'])} ({s['resolution']}ly)",
                              f"{s['pre_period']} vs {s['post_period']}",
                              f"{fmt_count(s['source_pre'])} → {fmt_count(s['source_post'])} "
                              f"(ratio {fmt_ratio(s['source_ratio'])})", _ci(s["fused_ratio"])])
    if srows:
        blocks.append(_table("Every source's own figures for the same windows (each in its own units, never pooled), "
                             "with the fused ratio over those windows", ["claim", "source", "windows",
                                                                        "the source's own figures",
                                                                        "fused ratio (90% interval)"],
                             srows, "fused_claims_sources"))
    return {"available": True, "blocks": blocks, "counts": {s: sum(cl["status"] == s for cl in claims)
                                                            for s in ("supported", "inconclusive", "not supported")}}


def fused_sections(result: Any, inputs: RunInputs, figdir: Path, figs: dict) -> dict[str, dict[str, Any]]:
    """``{section id: content}`` of the fused run's own sections (each ``available`` with its reason)."""
    f = result.fusion
    return {"fusion": fusion_section(f, inputs, figdir, figs),
            "early_warning": early_warning_section(f, inputs.forecast),
            "fused_breaks": fused_breaks_section(f),
            "fused_claims": fused_claims_section(f)}
