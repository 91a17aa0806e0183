"""Assemble the briefing from a run directory: ``briefing.html``, ``briefing.pdf``, ``briefing.json``.

:func:`build_report` reads the run directory (:mod:`forecast.report.rundir`), builds each section
in the issue's order as a plain dict (every number it shows, with its interval and source), draws
the figures (:mod:`forecast.report.figures`), generates the key judgements from those sections
(:mod:`forecast.report.judgements`), renders the Jinja2 template from ``pakcast.templates`` into a
self-contained HTML file (figures embedded as base64 SVG, CSS inline, no network), writes the PDF
with matplotlib (:mod:`forecast.report.pdf`) and the JSON, all atomically. A section whose inputs
are missing stays in place with ``available: false`` and the reason, which the reader sees.
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.forecasters import BASELINE_NAMES
from pakcast.forecast.jobs import DEFAULT_SEED
from pakcast.forecast.io import atomic_write_text, to_jsonable, write_json
from pakcast.forecast.paths import shipped, shipped_dir, templates_dir
from pakcast.forecast.report import figures as F
from pakcast.forecast.report.claims import (
    check_claims,
    national_monthly,
    reported_series,
)
from pakcast.forecast.report.fused import TITLES as FUSED_TITLES
from pakcast.forecast.report.format import (
    TEMPLATE_FILTERS,
    column_kind,
    fmt_auto,
    fmt_ratio,
    not_produced_label,
    readable,
)
from pakcast.forecast.report.its import assemble_its
from pakcast.forecast.report.judgements import key_judgements
from pakcast.forecast.report.pdf import write_pdf
from pakcast.forecast.report.rundir import Missing, RunInputs, read_run_dir
from pakcast.forecast.run_result import (
    ITSStudyResult,
    QuarterlyResult,
    RunResult,
    read_result,
)

SECTION_ORDER = (
    ("key_judgements", "Key judgements"),
    ("forecast_table", "Forecast by province and quarter"),
    ("early_warning", FUSED_TITLES["early_warning"]),
    ("fan_charts", "Fan charts: history and forecast intervals"),
    ("map", "Province map: forecast attacks per 100,000 people"),
    ("fusion", FUSED_TITLES["fusion"]),
    ("fused_breaks", FUSED_TITLES["fused_breaks"]),
    ("breaks", "Structural breaks"),
    ("attribution", "Attribution: what drove the change (Shapley shares)"),
    ("scorecard", "Scorecard: backtest skill and last quarter's forecast"),
    ("fused_claims", FUSED_TITLES["fused_claims"]),
    ("claims", "Claims check: what the data say about common claims"),
    ("provenance", "Data provenance, coverage and limitations"),
    ("methods", "Methods appendix"),
    ("glossary", "Glossary"),
)
#: the words a reader meets in the briefing, in plain language (``glossary_section`` keeps those the run uses)
GLOSSARY = (
    ("90% interval (90% range)", "the range the number falls in with 90% probability, given the data and the model; "
     "one time in ten it falls outside", None),
    ("median", "the middle forecast: as likely to be exceeded as not", None),
    ("P(>last year)", "the probability that the quarter's count exceeds the count of the same quarter a year earlier",
     "forecast_table"),
    ("as PIPS counts them (units)", "every source counts attacks and deaths its own way; the fused series is stated "
     "in the units of one reference source, so its numbers are what that source would have counted", "fusion"),
    ("scale", "a source's count per reference count: 1.5 means the source records half as many again as the "
     "reference for the same months and places", "fusion"),
    ("fused series", "one estimate per province and month built from every source at once, each source's figures "
     "divided by its scale; sources are never added up", "fusion"),
    ("level step (level rate ratio)", "the lasting change at a known date: 2 means twice the level that would have "
     "been expected without a change at that date, 1 means no change", "fused_breaks"),
    ("rate ratio", "a count over one period divided by the count over another, per month: 1 means no change, 0.5 "
     "half, 2 double", ("breaks", "attribution", "claims", "fused_breaks", "fused_claims")),
    ("supported / inconclusive / not supported", "a claim is supported when the whole 90% (or 95%) range lies on the "
     "claimed side of no change, inconclusive when the range includes no change, and not supported only when the "
     "range lies on the other side (evidence against)", ("claims", "fused_claims")),
    ("convergence checks", "tests that the sampler behind the fused series has settled (R-hat, effective sample "
     "size, divergences); when they fail, every interval is uncertain itself", "fusion"),
    ("CRPS", "a score of a whole forecast distribution against what happened, in the units of the count; lower is "
     "better", "scorecard"),
    ("skill", "1 - CRPS of a model / CRPS of a simple rule: 20% means 20% closer to what happened", "scorecard"),
    ("backtest", "forecasts made for past quarters with only the data available at the time, then scored", "scorecard"),
    ("Holm adjustment", "p-values raised to allow for testing several provinces at once", "breaks"),
)
#: sections of the fused run only; the panel's break study and claims check are the UCDP run's
FUSED_ONLY = ("early_warning", "fusion", "fused_breaks", "fused_claims")
PANEL_ONLY = ("breaks", "claims")
NATIONAL = PAKISTAN.national
USER_PANEL_LIMITATIONS = [
    "This run used a panel supplied by the user (--input): its definitions of attacks and deaths, its coverage "
    "and its exclusions are those of that file; pakcast checked its format, not its content.",
    "Forecast intervals assume the future behaves like the backtest period of that panel.",
]
LIMITATIONS = list(PAKISTAN.limitations)


# ----------------------------------------------------------------------------------------- helpers
def _section(sid: str, available: bool = True, reason: str | None = None, **content: Any) -> dict[str, Any]:
    title = dict(SECTION_ORDER)[sid]
    return {"id": sid, "title": title, "available": bool(available), "reason": reason, **content}


def _unavailable(sid: str, reason: str) -> dict[str, Any]:
    return _section(sid, available=False, reason=reason)


def _flatten(rec: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in rec.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, (list, tuple)):
            if v and all(not isinstance(x, (dict, list)) for x in v) and len(v) <= 4:
                out[key] = ", ".join(fmt_auto(x) for x in v)
            else:
                continue
        else:
            out[key] = v
    return out


def records_table(records: list[dict[str, Any]], preferred: tuple[str, ...] = (), max_columns: int = 10,
                  max_rows: int = 60) -> dict[str, Any]:
    """A display table from JSON records: preferred columns first, nested keys flattened."""
    flat = [_flatten(r) for r in records[:max_rows]]
    cols: list[str] = [c for c in preferred if any(c in r for r in flat)]
    for r in flat:
        for c in r:
            if c not in cols and len(cols) < max_columns:
                cols.append(c)
    rows = [[to_jsonable(r.get(c)) for c in cols] for r in flat]
    return table_dict(cols, rows, n_total=len(records))


def table_dict(columns: list[str], rows: list[list[Any]], n_total: int | None = None) -> dict[str, Any]:
    """A display table: columns, rows, and each column's number format (see ``format.column_kind``)."""
    kinds = [column_kind([r[i] for r in rows], c) for i, c in enumerate(columns)]
    n_total = len(rows) if n_total is None else n_total
    return {"columns": columns, "rows": rows, "kinds": kinds, "n_total": n_total, "truncated": n_total > len(rows)}


def _panel_csv_form(panel: pd.DataFrame) -> pd.DataFrame:
    """Contract panel (``unique_id, ds``) or CSV panel (``province, period``) -> CSV form."""
    df = panel.rename(columns={"unique_id": "province", "ds": "period"})
    df = df.copy()
    df["period"] = pd.to_datetime(df["period"])
    df["province"] = df["province"].astype(str)
    return df


def _source(result: QuarterlyResult, role: str | None = None) -> str:
    """The credit line of the sources this run used (``role`` picks one kind: events, population)."""
    srcs = [s for s in result.sources if role is None or (s.role or "").startswith(role)]
    return "; ".join(s.line for s in srcs) or "this run's input"


def _boundaries() -> Path | Missing:
    try:
        return shipped("provinces.geojson")
    except FileNotFoundError:
        pass
    return Missing("the province boundaries (data/provinces.geojson) are not installed")


# ----------------------------------------------------------------------------------------- sections
def forecast_section(inputs: RunInputs, partial: str | None = None) -> dict[str, Any]:
    fc = inputs.forecast
    if isinstance(fc, Missing):
        return _unavailable("forecast_table", fc.reason)
    quarters = sorted(fc["quarter"].unique())
    units = ({str(m): str(g["units"].iloc[0]) for m, g in fc.groupby("measure")} if "units" in fc.columns else {})
    order = (fc[fc["measure"] == "attacks"].groupby("province")["mean"].sum().sort_values(ascending=False).index.tolist())
    order = ["Pakistan"] + [p for p in order if p != "Pakistan"] if "Pakistan" in order else order
    order += [p for p in fc["province"].unique() if p not in order]
    rank = {p: i for i, p in enumerate(order)}
    fc = fc.assign(_r=fc["province"].map(rank)).sort_values(["measure", "_r", "quarter"]).drop(columns="_r")
    rows = to_jsonable(fc)
    measures = [m for m in ("attacks", "killed") if m in set(fc["measure"])] + \
        sorted(set(fc["measure"]) - {"attacks", "killed"})
    tables = {}
    for m in measures:
        sub = fc[fc["measure"] == m]
        tables[m] = [{"province": p, "cells": [to_jsonable(sub[(sub["province"] == p) & (sub["quarter"] == q)]
                                                           .drop(columns=["province", "measure"]).to_dict("records")[0])
                                               if ((sub["province"] == p) & (sub["quarter"] == q)).any() else None
                                               for q in quarters]}
                     for p in order if p in set(sub["province"])]
    note = ("Cells show the forecast median and the 90% predictive interval (5th-95th percentile); "
            "P(>last year) is the probability of exceeding the same quarter a year earlier.")
    if units:
        note += " Units: " + "; ".join(units.values()) + "."
    if partial:
        note += " " + partial[0].upper() + partial[1:] + "."
    return _section("forecast_table", quarters=quarters, measures=measures, rows=rows, tables=tables, units=units,
                    note=note)


def fan_section(inputs: RunInputs, panel: pd.DataFrame | Missing, figdir: Path, figs: dict,
                source: str, units: dict[str, str] | None = None) -> dict[str, Any]:
    fc = inputs.forecast
    if isinstance(fc, Missing):
        return _unavailable("fan_charts", fc.reason)
    if isinstance(panel, Missing):
        return _unavailable("fan_charts", f"no history to draw: {panel.reason}")
    names = []
    for m in [m for m in ("attacks", "killed") if m in set(fc["measure"])]:
        rec = F.fan_chart(panel, fc, "Pakistan", m, figdir, source, **_fan_kw(units, m))
        figs[rec.name] = rec
        names.append(rec.name)
    provinces = (fc[(fc["measure"] == "attacks") & (fc["province"] != "Pakistan")]
                 .groupby("province")["mean"].sum().sort_values(ascending=False).index.tolist())
    for m in [m for m in ("attacks", "killed") if m in set(fc["measure"])]:
        if provinces:
            rec = F.fan_grid(panel, fc, provinces, m, figdir, source, **_fan_kw(units, m))
            figs[rec.name] = rec
            names.append(rec.name)
    return _section("fan_charts", figures=names, provinces=provinces)


def _fan_kw(units: dict[str, str] | None, measure: str) -> dict[str, Any]:
    """A fused run's fan charts: history = the fused posterior mean, axes in the run's units."""
    if not units:
        return {}
    return {"units": units.get(measure), "history_label": "fused estimate (posterior mean)"}


def map_section(inputs: RunInputs, panel: pd.DataFrame | Missing, figdir: Path, figs: dict,
                source: str, units: str | None = None) -> dict[str, Any]:
    fc = inputs.forecast
    if isinstance(fc, Missing):
        return _unavailable("map", fc.reason)
    if isinstance(panel, Missing) or "population" not in panel.columns:
        return _unavailable("map", "the panel has no population column, so no rate per 100,000 can be formed")
    geo = _boundaries()
    if isinstance(geo, Missing):
        return _unavailable("map", geo.reason)
    quarters = sorted(fc["quarter"].unique())[:4]
    att = fc[(fc["measure"] == "attacks") & fc["quarter"].isin(quarters) & (fc["province"] != "Pakistan")]
    expected = att.groupby("province")["mean"].sum()
    pop = (panel.dropna(subset=["population"]).sort_values("period").groupby("province")["population"].last())
    first = att[att["quarter"] == quarters[0]].set_index("province")
    rows, values, intervals = [], {}, {}
    for prov, e in expected.items():
        p = pop.get(prov)
        ok = p is not None and p > 0
        rate = float(e / p * 1e5) if ok else None
        # quantiles scale linearly, so the next quarter's 90% interval per 100,000 is exact
        q = first.loc[prov] if prov in first.index else None
        values[prov] = float(q["mean"] / p * 1e5) if ok and q is not None else float("nan")
        if ok and q is not None:
            intervals[prov] = (float(q["q05"] / p * 1e5), float(q["q95"] / p * 1e5))
        rows.append({"province": prov, "expected_attacks": float(e), "population": None if p is None else float(p),
                     "per_100k": rate,
                     "next_quarter": quarters[0],
                     "next_mean_per_100k": values[prov] if ok and q is not None else None,
                     "next_q50_per_100k": float(q["q50"] / p * 1e5) if ok and q is not None else None,
                     "next_q05_per_100k": float(q["q05"] / p * 1e5) if ok and q is not None else None,
                     "next_q95_per_100k": float(q["q95"] / p * 1e5) if ok and q is not None else None})
    gj = json.loads(Path(geo).read_text(encoding="utf-8"))
    names = {f["properties"].get("name") for f in gj["features"]}
    if not names & set(expected.index):
        return _unavailable("map", f"none of the forecast's provinces ({', '.join(map(str, expected.index[:5]))}"
                                   f"{', ...' if len(expected) > 5 else ''}) is among the boundaries in {Path(geo).name}")
    merge = {"FATA": "Khyber Pakhtunkhwa"} if "FATA" in names and "FATA" not in values else {}
    span = f"{quarters[0]}-{quarters[-1]}"
    rec = F.province_map(
        Path(geo), values, f"forecast {units or 'attacks'} per 100,000 people", figdir,
        f"{source}; population: census via the run's panel; boundaries: Natural Earth "
        "(public domain)",
        merge=merge, intervals=intervals,
        title=f"Forecast attacks per 100,000 people, {quarters[0]}",
        caption=(f"Expected attacks in {quarters[0]} (the forecast mean) per 100,000 people (latest population in "
                 "the panel), with the 90% predictive interval in brackets; the table adds the four quarters "
                 f"{span}. Hatched: no population in the panel."
                 + (f" Units: {units}." if units else "")
                 + (" FATA is drawn with Khyber Pakhtunkhwa, into which it merged in 2018." if merge else "")
                 + " Boundaries are shown for orientation only and imply no position on disputed territory "
                   "(Azad Jammu and Kashmir, Gilgit-Baltistan)."))
    figs[rec.name] = rec
    rows.sort(key=lambda r: -(r["per_100k"] or 0))
    return _section("map", figures=[rec.name], rows=rows, quarters=quarters, merged=merge)


def _is_unavailable_payload(obj: Any) -> str | None:
    if isinstance(obj, dict) and obj.get("available") is False:
        return str(obj.get("reason") or "the producer marked this part unavailable")
    return None


def _series(r: dict[str, Any]) -> str:
    return str(r.get("series", r.get("province", r.get("unique_id", "Pakistan"))))


def known_date_rows(known: list[dict[str, Any]], its: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (series, outcome, date): the count LR and Chow tests with Holm-adjusted p-values
    and the ITS level and slope rate ratios with 95% intervals (``forecast.studies`` records)."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for r in known:
        key = (_series(r), str(r.get("outcome", r.get("measure", ""))), str(r.get("date")))
        row = rows.setdefault(key, {"series": key[0], "outcome": key[1], "date": key[2], "n_pre": r.get("n_pre"),
                                    "n_post": r.get("n_post")})
        test = str(r.get("test", "test"))
        if test.startswith("lr") or test == "test":
            row.update(lr_statistic=r.get("statistic"), lr_p=r.get("p_value"), lr_p_holm=r.get("p_holm"))
        elif test.startswith("chow"):
            row.update(chow_p=r.get("p_value"), chow_p_holm=r.get("p_holm"))
        elif "wald" in test:
            row.update(wald_p=r.get("p_value"), wald_p_holm=r.get("p_holm"))
        if r.get("change"):
            row["change"] = r["change"]
    for r in its:
        key = (_series(r), str(r.get("outcome", "")), str(r.get("date")))
        row = rows.get(key)
        if row is None:
            continue
        lvl = r.get("level_rate_ratio")
        if isinstance(lvl, dict):  # CLI form {estimate, ci_low, ci_high}
            r = {**r, "level_rate_ratio": lvl.get("estimate"), "level_ci_low": lvl.get("ci_low"),
                 "level_ci_high": lvl.get("ci_high")}
        row.update(level_rr=r.get("level_rate_ratio"), level_rr_low=r.get("level_ci_low"),
                   level_rr_high=r.get("level_ci_high"), slope_rr=r.get("slope_rate_ratio"),
                   slope_rr_low=r.get("slope_ci_low"), slope_rr_high=r.get("slope_ci_high"),
                   excess=r.get("excess"), excess_low=r.get("excess_ci_low"), excess_high=r.get("excess_ci_high"))
        # a series with (almost) no events on one side gives a boundary estimate (rate ratio near 0 or
        # infinity, interval spanning many orders of magnitude): shown as not estimable, kept in the JSON
        lo, hi = row.get("level_rr_low"), row.get("level_rr_high")
        row["level_rr_estimable"] = not (lo is not None and hi is not None and (lo < 1e-3 or hi > 1e3))
    return list(rows.values())


def _nearest_break(est: list[dict[str, Any]], series: str, outcome: str, date: str) -> dict[str, Any] | None:
    cands = [r for r in est if _series(r) == series and str(r.get("outcome")) == outcome and r.get("date")]
    if not cands:
        return None
    target = pd.Period(date, "M")
    key = "contains_" + date.replace("-", "_")
    inside = [r for r in cands if r.get(key)]
    best = min(inside or cands, key=lambda r: abs((pd.Period(str(r["date"])[:7], "M") - target).n))
    return {"date": best["date"], "ci_low": best.get("ci_low"), "ci_high": best.get("ci_high"),
            "contains": bool(best.get(key)), "target": date}


def breaks_section(inputs: RunInputs) -> dict[str, Any]:
    b = inputs.breaks
    if isinstance(b, Missing):
        return _unavailable("breaks", b.reason)
    if (why := _is_unavailable_payload(b)):
        return _unavailable("breaks", why)
    known = list(b.get("known") or [])
    its = list(b.get("its") or [])
    est = list(b.get("estimated_breaks") or [])
    unknown = [r for r in (b.get("unknown") or []) if isinstance(r, dict) and "sup_f" in r]
    reported = [r for r in (b.get("reported") or []) if isinstance(r, dict) and not r.get("skipped")]
    skipped = [r for r in (b.get("skipped") or []) if isinstance(r, dict)]
    if not known and not est:
        return _unavailable("breaks", "breaks.json holds no test results (no known-date tests or estimated breaks)")
    rows = known_date_rows(known, its)
    tables = {}
    if est:
        tables["estimated_breaks"] = records_table(
            est, ("series", "outcome", "date", "ci_low", "ci_high", "n_post", "contains_2014_12", "contains_2021_08"),
            max_columns=8)
    if unknown:
        tables["unknown"] = records_table(
            unknown, ("series", "outcome", "start", "end", "n", "sup_f.statistic", "sup_f.p_value", "sup_f.date",
                      "sup_lr_negbin.p_value", "sup_lr_negbin.date", "n_breaks"), max_columns=11)
    if reported:
        tables["reported"] = records_table(
            [{"region": r.get("region") or str(r.get("series", "")).split(" ", 1)[-1], **r} for r in reported],
            ("source", "region", "outcome", "resolution", "date", "n_pre", "n_post", "level_rate_ratio",
             "level_ci_low", "level_ci_high", "p_value"), max_columns=11)
    headline = None
    nat = [r for r in rows if r["series"].lower() in ("pakistan", "national") and r["outcome"] in ("attacks", "")]
    nat = nat or [r for r in rows if r["series"].lower() in ("pakistan", "national")]
    if nat:
        first = sorted(nat, key=lambda r: r["date"])[0]
        headline = {**first, "nearest_break": _nearest_break(est, first["series"], first["outcome"],
                                                              str(first["date"])[:7])}
    notes = [str(b[k]) for k in ("note", "method") if isinstance(b.get(k), str)]
    return _section("breaks", known_rows=rows, tables=tables, headline=headline, notes=notes,
                    skipped=[f"{_series(r)} {r.get('outcome', '')}: {r.get('reason', '')}" for r in skipped])


def attribution_section(inputs: RunInputs, figdir: Path, figs: dict, source: str) -> dict[str, Any]:
    a = inputs.attribution
    if isinstance(a, Missing):
        return _unavailable("attribution", a.reason)
    if (why := _is_unavailable_payload(a)):
        return _unavailable("attribution", why)
    shapley = a.get("shapley") or []
    if not shapley:
        return _unavailable("attribution", "attribution.json holds no Shapley shares")
    groups = [dict(r) for r in shapley]
    if not any(str(r["group"]).lower() == "residual" for r in groups) and isinstance(a.get("residual"), (int, float)):
        groups.append({"group": "residual", "share": a["residual"], "ci_low": None, "ci_high": None})
    summary = a.get("shapley_summary") if isinstance(a.get("shapley_summary"), dict) else {}
    total = a.get("total_change", summary.get("total_change"))
    if isinstance(total, dict):
        total = total.get("estimate")
    if total is None:
        total = float(sum(float(r["share"]) for r in groups))
    unit = "change in log points"
    quantity = summary.get("quantity") or "the fitted log rate"
    periods = ([summary["period_a"], summary["period_b"]] if {"period_a", "period_b"} <= summary.keys()
               else a.get("periods"))
    data = a.get("data") if isinstance(a.get("data"), dict) else {}
    model = a.get("model") if isinstance(a.get("model"), dict) else {}
    rec = F.waterfall(groups, total, figdir, "attribution: this run; " + source
                      + "; covariates: World Bank WDI, SBP, PBS, timeline", "change (log points)",
                      "Attribution of the change (Shapley shares)",
                      "Each bar is one covariate group's Shapley share of the change between the two periods "
                      f"({periods[0] + ' to ' + periods[1] if periods else 'see the table'}) in {quantity}, "
                      "with its 95% interval; the black bar is the total change (shares plus residual).")
    figs[rec.name] = rec
    effects = a.get("effects") or []
    gain = a.get("oos_crps_gain") or []
    context = []
    if periods:
        context.append(f"Change from {periods[0]} to {periods[1]} in {quantity}"
                       + (f" ({a['outcome']})" if a.get("outcome") else "") + ".")
    if summary.get("players"):
        context.append(f"Players: {summary['players']}.")
    if data.get("months_used"):
        context.append(f"Months used: {data['months_used']}" + (f"; units: {', '.join(map(str, data['units']))}"
                                                                if data.get("units") else "") + ".")
    if data.get("note"):
        context.append(str(data["note"]))
    if model.get("family"):
        context.append(f"Model: {model['family']}" + (f", {model['controls']}" if model.get("controls") else "")
                       + (f"; covariance {model['cov_type']}" if model.get("cov_type") else "") + ".")
    return _section("attribution", shapley=to_jsonable(groups), total_change=total, unit=unit,
                    periods=to_jsonable(periods), figures=[rec.name], context=context,
                    effects=records_table(effects, ("covariate", "group", "irr", "ci_low", "ci_high", "irr_per_sd",
                                                    "irr_per_sd_ci_low", "irr_per_sd_ci_high", "pvalue"),
                                          max_columns=9, max_rows=30) if effects else None,
                    oos_crps_gain=records_table(gain, ("group", "delta_crps")) if gain else None,
                    interpretation=a.get("interpretation"))


def _national(r: dict[str, Any]) -> bool:
    return str(r.get("unique_id", r.get("province", "Pakistan"))).lower() in ("pakistan", "national", "all")


def scorecard_section(result: QuarterlyResult, figdir: Path, figs: dict, source: str) -> dict[str, Any]:
    recs = result.backtest.get("summary") or []
    if not recs:
        return _unavailable("scorecard", result.not_produced.get("backtest")
                            or "the run has no backtest scores (backtest disabled or no model scored)")
    df = pd.DataFrame(recs)
    measure = "attacks" if "measure" not in df.columns or (df["measure"] == "attacks").any() else str(df["measure"].iloc[0])
    if "measure" in df.columns:
        df = df[df["measure"] == measure]
    if "unique_id" in df.columns or "province" in df.columns:
        nat = df[[_national(r) for r in df.to_dict("records")]]
        scope = "national series"
        if nat.empty:
            nat = df.groupby("model", as_index=False).mean(numeric_only=True)
            scope = "mean over provinces"
    else:
        nat, scope = df, "as reported"
    nat = nat.groupby("model", as_index=False).first().sort_values("crps")
    is_base = nat["model"].astype(str).isin(BASELINE_NAMES).to_numpy(bool)
    headline = None
    published = result.published_model
    if is_base.any() and (~is_base).any():
        # the headline scores the model whose forecast the briefing shows (results.published_model), else the best
        pub = nat[nat["model"].astype(str) == str(published)] if published else nat.iloc[0:0]
        best = pub.iloc[0] if len(pub) else nat[~is_base].iloc[0]
        named = str(best["best_baseline"]) if pd.notna(best.get("best_baseline")) else None
        if named is not None and pd.notna(best.get("best_baseline_crps")):
            base_name, base_crps = named, float(best["best_baseline_crps"])
        elif named is not None and (nat["model"] == named).any():
            base_name, base_crps = named, float(nat.loc[nat["model"] == named, "crps"].iloc[0])
        else:
            base = nat[is_base].iloc[0]
            base_name, base_crps = str(base["model"]), float(base["crps"])
        skill = (float(best["skill_vs_best_baseline"]) if pd.notna(best.get("skill_vs_best_baseline"))
                 else 1 - float(best["crps"]) / base_crps)
        top = nat[~is_base].iloc[0]
        headline = {"model": str(best["model"]), "published": bool(len(pub)),
                    "best_model": str(top["model"]), "best_model_crps": float(top["crps"]),
                    "crps": float(best["crps"]), "baseline": base_name,
                    "baseline_crps": base_crps, "skill": skill, "measure": measure, "scope": scope,
                    "coverage_90": float(best["coverage_90"]) if pd.notna(best.get("coverage_90")) else None}
        dm = [r for r in result.backtest.get("diebold_mariano") or []
              if _national(r) and r.get("measure", measure) == measure and r.get("pvalue") is not None]
        if dm:
            headline.update(dm_statistic=dm[0].get("statistic"), dm_pvalue=dm[0].get("pvalue"))
    cols = ("model", "crps", "log_score", "mae", "coverage_50", "coverage_80", "coverage_90",
            "skill_vs_best_baseline", "n")
    table = records_table(to_jsonable(nat), cols, max_columns=len(cols))
    goal = result.backtest.get("goal_check") or None
    by_series = None
    if goal:
        by_series = records_table([g for g in goal if g.get("measure", measure) == measure] or goal,
                                  ("unique_id", "province", "measure", "events_per_year", "best_model",
                                   "best_model_crps", "best_baseline", "best_baseline_crps", "beats_best_baseline",
                                   "coverage_90", "coverage_90_in_85_95"), max_columns=11)
    fig_names = []
    if len(nat) > 1:
        ref = float(nat[is_base]["crps"].min()) if is_base.any() else float(nat["crps"].max())
        rows = [{"label": readable(r["model"]), "estimate": 1 - float(r["crps"]) / ref, "ci_low": None, "ci_high": None,
                 "colour": F.OKABE_ITO["orange"] if b else F.OKABE_ITO["blue"]}
                for (_, r), b in zip(nat.iterrows(), is_base)]
        rec = F.forest(rows, figdir, "scorecard_skill", "backtest: this run (rolling-origin, " + source + ")",
                       "CRPS skill vs the best baseline (0 = as good; higher is better)",
                       f"Backtest skill by model ({scope}, {measure})",
                       "CRPS skill of each model relative to the best baseline in the rolling-origin backtest "
                       "(simple rules in orange).", ref=0.0, log=False, xmin=-1.0,
                       legend={"forecasting model": F.OKABE_ITO["blue"], "simple rule (baseline)": F.OKABE_ITO["orange"]},
                       ref_label="as good as the best simple rule")
        figs[rec.name] = rec
        fig_names.append(rec.name)
    last = (result.earlier_vintages or {}).get("scores") or None
    if last:
        # the most recent vintage's latest scored quarter: "last quarter's forecast against what happened"
        vkey = next((k for k in ("vintage_as_of", "vintage_id", "vintage") if k in last[0]), None)
        if vkey:
            newest = max(str(r.get(vkey)) for r in last)
            last = [r for r in last if str(r.get(vkey)) == newest]
        latest_q = max(str(r["quarter"]) for r in last)
        last = [r for r in last if str(r["quarter"]) == latest_q]
    last_q = (records_table([{k: v for k, v in r.items() if k != "vintage_id"} for r in last],
                            ("vintage_as_of", "vintage", "province", "unique_id", "quarter", "measure",
                             "q05", "q50", "q95", "observed", "covered_90", "abs_error", "crps"), max_columns=12)
              if last else None)
    store_problem = result.not_produced.get("store")
    last_reason = None if last else (
        f"the forecast store could not be used in this run: {store_problem}" if store_problem else
        "no earlier forecast vintage has outcomes to score yet (a first run, or data that end before the "
        "forecast quarters)")
    last_national = [r for r in (last or []) if _national(r)]
    return _section("scorecard", scope=scope, measure=measure, table=table, headline=headline, figures=fig_names,
                    by_series=by_series, last_quarter=last_q, last_quarter_reason=last_reason,
                    last_quarter_national=to_jsonable(last_national))


def claims_section(result: QuarterlyResult, panel: pd.DataFrame | Missing, reported: pd.DataFrame | Missing,
                   figdir: Path, figs: dict, random_seed: int) -> dict[str, Any]:
    if not result.uses_shipped_data:
        return _unavailable("claims", "the claims check compares the shipped event panel with published figures; "
                                      "this run used its own panel (--input)")
    if isinstance(panel, Missing):
        return _unavailable("claims", panel.reason)
    rep = None if isinstance(reported, Missing) else reported
    order = {"peak_early_2010s": 0, "fall_after_2014": 1, "rise_after_2021_08": 2}
    checks = sorted((c.to_dict() for c in check_claims(panel, rep, random_seed=random_seed)),
                    key=lambda c: (order.get(c["claim_id"], 9), c["source"] != "UCDP GED", c["source"],
                                   c["resolution"], c["measure"]))
    nat = national_monthly(panel)
    yrs = nat.index.year
    full = nat.groupby(yrs).size()
    annual = nat.groupby(yrs).sum().loc[full[full == 12].index]
    rec = F.claims_chart(annual, reported_series(rep) if rep is not None else [], figdir,
                         _source(result, "events") + ("; " + _source(result, "published") if rep is not None else ""))
    figs[rec.name] = rec
    counts = {s: sum(c["status"] == s for c in checks)
              for s in ("supported", "inconclusive", "not supported", "not testable")}
    groups = [{"claim_id": cid, "claim": next(c["claim"] for c in checks if c["claim_id"] == cid),
               "rows": [c for c in checks if c["claim_id"] == cid]}
              for cid in dict.fromkeys(c["claim_id"] for c in checks)]
    series = [{"year": int(y), **{c: float(annual.loc[y, c]) for c in ("attacks", "killed", "killed_low", "killed_high")
                                  if c in annual.columns}} for y in annual.index]
    return _section("claims", rows=checks, groups=groups, counts=counts, figures=[rec.name], ucdp_annual=series,
                    reported_reason=reported.reason if isinstance(reported, Missing) else None,
                    random_seed=random_seed)


EXCLUSION_LABELS = {
    "events_out_of_scope": "out of scope: interstate India-Pakistan clashes and foreign strikes (e.g. US drone strikes)",
    "excluded_date_precision": "dated only to a year (or a span longer than a period): not placed in any month",
    "unassigned_province": "no province could be assigned",
    "events_filtered": "filtered by the run's options",
}


def exclusions_table(ex: dict[str, Any]) -> dict[str, Any]:
    """``{name: events, name_killed: deaths}`` as rows ``exclusion, events, deaths (best)``; without any
    ``_killed`` entry (a fused run's table of excluded figures and province-months) ``exclusion, count``."""
    with_deaths = any(k.endswith("_killed") and k[: -len("_killed")] in ex for k in ex)
    rows = []
    for k, v in ex.items():
        if k.endswith("_killed") and k[: -len("_killed")] in ex:
            continue
        row = [EXCLUSION_LABELS.get(k, k.replace("_", " ")), to_jsonable(v)]
        rows.append(row + [to_jsonable(ex.get(f"{k}_killed"))] if with_deaths else row)
    return table_dict(["exclusion", "events", "deaths (best)"] if with_deaths else ["exclusion", "count"], rows)


def _input_path(path: str | None) -> str | None:
    """A run's input as a reader can place it: a shipped table as ``pakcast data/<name> (shipped)`` (not the
    installation's absolute path), any other file as the manifest records it."""
    if not path:
        return path
    try:
        rel = Path(path).resolve().relative_to(shipped_dir().resolve())
    except (ValueError, OSError):
        return path
    return f"pakcast data/{rel.as_posix()} (shipped)"


def provenance_section(inputs: RunInputs, result: QuarterlyResult, panel: pd.DataFrame | Missing,
                       map_drawn: bool = True) -> dict[str, Any]:
    """Coverage, exclusions, the sources credited (only those the run used: the boundaries when the map
    was drawn or events were placed in provinces), limitations and the run record."""
    coverage: dict[str, Any] = {}
    if not isinstance(panel, Missing):
        nat = panel[panel["province"] == NATIONAL] if (panel["province"] == NATIONAL).any() else panel
        coverage = {"start": pd.Timestamp(nat["period"].min()).strftime("%Y-%m"),
                    "end": pd.Timestamp(nat["period"].max()).strftime("%Y-%m"),
                    "n_months": int(nat["period"].nunique()), "provinces": sorted(set(panel["province"]) - {NATIONAL}),
                    "attacks_total": float(nat["attacks"].sum()), "killed_total": float(nat["killed"].sum())}
    ex = result.data.get("exclusions")
    exclusions = exclusions_table(ex) if isinstance(ex, dict) and ex else None
    sources = [{"name": s.name, "licence": s.licence or "–", "coverage": s.coverage or "–",
                "citation": " ".join(x for x in (s.citation or "", f"File {s.file}" if s.file else "",
                                                 f"sha256 {s.sha256}" if s.sha256 else "") if x) or "–"}
               for s in result.sources]
    reported = inputs.reported
    fitted = (set(inputs.observations["source"].astype(str)) if result.fusion and
              not isinstance(inputs.observations, Missing) else None)
    if not isinstance(reported, Missing):
        for src, g in reported.groupby("source"):
            periods = g["period"].astype(str)
            unused = "" if fitted is None or str(src) in fitted else (
                "; not used in the fused series (excluded from the fit: see the excluded figures below)")
            sources.append({"name": f"{src} published aggregates ({len(g)} figures{unused})",
                            "licence": "published facts, each row with its source URL",
                            "coverage": f"{periods.min()[:7]} to {periods.max()[:7]}",
                            "citation": "URL per figure in reported.csv"})
    if exclusions is not None or (map_drawn and not result.uses_shipped_data):
        sources.append({"name": "Province boundaries: Natural Earth 1:10m Admin-1", "licence": "public domain",
                        "coverage": "ADM1 c. 2013-2015, FATA kept as its own feature",
                        "citation": "naturalearthdata.com"})
    man = inputs.manifest if not isinstance(inputs.manifest, Missing) else {}
    inputs_list = [{"path": _input_path(rec.get("path")), "sha256": rec.get("sha256"), "role": rec.get("role")}
                   for rec in man.get("inputs", []) or []]
    limitations = LIMITATIONS if result.uses_shipped_data else USER_PANEL_LIMITATIONS
    if result.fusion:
        f = result.fusion
        coverage["label"] = (f"UCDP event panel (one of the fused sources; the fused series runs "
                             f"{f['fit']['months']['first']} to {f['as_of']})") if coverage else None
        limitations = [*limitations, f"In this fused run the sources are not added up either: the measurement model "
                       f"estimates each source's scale against the reference ({f['units']['source']}) and its noise, "
                       "so the fused series is in the reference's units and every interval carries those estimates."]
    return _section("provenance", coverage=coverage, results_coverage=to_jsonable(result.data), exclusions=exclusions,
                    exclusions_title="Excluded figures and events" if result.fusion else "Excluded events",
                    not_produced={not_produced_label(k): str(v) for k, v in result.not_produced.items()},
                    vintage={"vintage_id": result.vintage.get("vintage_id"), "reason": result.vintage.get("reason")},
                    exclusions_note=(f"Counts for the panel used ({result.data.get('file')}: fata="
                                     f"{result.data.get('fata')}, scope={result.data.get('scope')})."
                                     if exclusions is not None else None),
                    exclusions_reason=None if exclusions else "the run's panel records no excluded events "
                                                                "(a user panel carries none)",
                    sources=sources, limitations=limitations, inputs=inputs_list,
                    run={"run_id": man.get("run_id"), "created": man.get("created"), "command": man.get("command"),
                         "git_revision": man.get("git_revision"), "random_seeds": man.get("random_seeds"),
                         "package_versions": man.get("package_versions")})


def _flat_weights(weights: dict[str, Any], prefix: str = "") -> list[str]:
    """``{measure: {ensemble: {model: w}}}`` (or flatter) as readable ``"prefix: model w"`` strings."""
    out, leaf = [], []
    for k, v in weights.items():
        if isinstance(v, dict):
            out += _flat_weights(v, f"{prefix}{readable(k)} " if prefix else f"{readable(k)} ")
        elif isinstance(v, (int, float)):
            leaf.append(f"{readable(k)} {fmt_ratio(v)}")
    if leaf:
        out.insert(0, (prefix.strip() + ": " if prefix else "") + ", ".join(leaf))
    return out


def methods_section(inputs: RunInputs, result: QuarterlyResult,
                    sections: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The methods appendix; in a panel run only the methods of the sections ``sections`` marks available."""
    items = []
    if result.fusion:
        f = result.fusion
        items.append({"title": "Fused series", "text":
                      "One latent monthly intensity per province (AR(1) deviations from its long-run level, seasonality, "
                      "level steps at the known dates); every published figure and event count is a negative-binomial measurement of the sum "
                      "of that intensity over its months and provinces, times the source's own slowly drifting scale "
                      f"(models.fusion.MeasurementModel). Units: {'; '.join(f['units']['measures'].values())}. "
                      "Quarter forecasts are sums of whole posterior-predictive monthly paths, so their intervals are "
                      "valid and months no source has reported widen them. "
                      f"{f['quarters']['partial_quarter'][0].upper() + f['quarters']['partial_quarter'][1:]}."})
    if result.fusion:  # the fused run: only the methods it used (no zoo, backtest, panel studies)
        f = result.fusion
        items.append({"title": "Early warning", "text": f"{f['early_warning']['definition']}."})
        br = f.get("breaks") or {}
        if br.get("method"):
            items.append({"title": "Known-date steps", "text": br["method"]})
        cl = f.get("claims") or {}
        if cl.get("method"):
            items.append({"title": "Claims check", "text": cl["method"] + " Verdicts at the 90% level: supported "
                          "when the interval lies wholly on the claimed side of no change, not supported when wholly "
                          "on the other side, else inconclusive."})
        items.append({"title": "Province map", "text":
                      "Expected attacks over the forecast quarters (sum of quarterly forecast means) divided by the "
                      "province's latest population in the UCDP panel's census figures, times 100,000."})
        return _section("methods", items=[*items, _reproducibility(inputs)])
    models = result.models.get("run")
    weights = result.models.get("ensemble_weights")
    text = ("Forecasts are predictive samples from each model for each province and horizon, made coherent "
            "(national = sum of provinces); the table and fan charts show their mean and 5th, 25th, 50th, 75th "
            "and 95th percentiles.")
    if models:
        text += f" Models in this run: {', '.join(map(readable, models if isinstance(models, list) else list(models)))}."
    flat_w = _flat_weights(weights) if isinstance(weights, dict) else []
    if flat_w:
        text += " Ensemble weights at the forecast origin: " + "; ".join(flat_w) + "."
    if result.published_model:
        text += f" The table, fan charts and map show the published model, {readable(result.published_model)}."
    items.append({"title": "Forecasts", "text": text})
    used = (lambda sid: sid is None or sections is None  # noqa: E731
            or bool((sections.get(sid) or {}).get("available")))
    items.append({"section": "scorecard", "title": "Backtest and scorecard", "text":
                  "Rolling-origin backtest: at each origin the models see only data up to that origin. CRPS "
                  "(continuous ranked probability score, lower is better) and 90% interval coverage are averaged "
                  "over origins; skill = 1 - CRPS(model) / CRPS(best baseline)."})
    items.append({"section": "map", "title": "Province map", "text":
                  "Expected attacks over the forecast quarters (sum of quarterly forecast means) divided by the "
                  "province's latest population in the panel, times 100,000."})
    items.append({"section": "breaks", "title": "Structural breaks and ITS", "text":
                  "Known-date tests at December 2014 and August 2021 and an unknown-break search with break-date "
                  "intervals (forecast.studies); p-values adjusted across provinces (Holm). ITS: segmented count "
                  "regression with level and slope changes; rate ratios with 95% intervals."})
    items.append({"section": "attribution", "title": "Attribution", "text":
                  "Shapley decomposition of the change in the fitted log rate between two periods into covariate "
                  "groups plus a residual; these are associations adjusted for the modelled terms, not causal effects."})
    items.append({"section": "claims", "title": "Claims check", "text":
                  "Peak: the year of most UCDP deaths (best estimate), with the share of bootstrap replicates "
                  "(months resampled within years) peaking in 2010-2013. Falls and rises: quasi-Poisson rate ratio "
                  "of the post to the pre period with a 95% interval (dispersion from both periods, t quantile on "
                  "n-2 degrees of freedom); supported when the interval lies wholly on the claimed side of 1; not "
                  "testable with fewer than 6 months or 2 years on a side. Each source separately, never pooled. "
                  "Monthly counts are autocorrelated, so intervals may be too narrow."})
    items = [{k: v for k, v in it.items() if k != "section"} for it in items if used(it.get("section"))]
    return _section("methods", items=[*items, _reproducibility(inputs)])


def _reproducibility(inputs: RunInputs) -> dict[str, str]:
    man = inputs.manifest if not isinstance(inputs.manifest, Missing) else {}
    return {"title": "Reproducibility", "text":
            f"Run {man.get('run_id', 'unknown')} (git {man.get('git_revision') or 'unknown'}); inputs with "
            "sha256, options, seeds and package versions are in manifest.json; `pakcast report RUN_DIR` "
            "rebuilds this briefing from the run directory alone."}


def glossary_section(sections: dict[str, dict[str, Any]], reference: str | None = None) -> dict[str, Any]:
    """The glossary: each term the available sections use, in plain words (after the technical detail);
    ``reference``: the fused run's reference source, named in its units term ("as PIPS counts them")."""
    def used(sid: str) -> bool:
        return bool((sections.get(sid) or {}).get("available"))

    items = [{"term": t.replace("PIPS", reference) if reference else t, "text": d} for t, d, needs in GLOSSARY
             if needs is None or (any(map(used, needs)) if isinstance(needs, tuple) else used(needs))]
    return _section("glossary", items=items)


# ----------------------------------------------------------------------------------------- build
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             autoescape=jinja2.select_autoescape(["html", "j2"]), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(TEMPLATE_FILTERS)
    return env


def assemble(run_dir: str | Path, random_seed: int = DEFAULT_SEED,
             result: RunResult | None = None) -> tuple[dict[str, Any], dict[str, F.FigureRecord]]:
    """Build the briefing's content (JSON-ready dict) and its figures, without writing the documents.

    ``result`` is the run's typed result; by default it is read from ``run_dir/results.json``
    (:func:`pakcast.forecast.run_result.read_result`). The briefing shows only what the run used.
    """
    d = Path(run_dir)
    result = read_result(d) if result is None else result
    if isinstance(result, ITSStudyResult):
        return assemble_its(d, result)
    inputs = read_run_dir(d)
    figdir = d / "figures"
    figs: dict[str, F.FigureRecord] = {}
    panel = inputs.panel if isinstance(inputs.panel, Missing) else _panel_csv_form(inputs.panel)
    source = _source(result, "events") if result.uses_shipped_data else _source(result)
    fusion = result.fusion
    sections: dict[str, dict[str, Any]] = {}
    history = panel
    if fusion:  # the fused run: history, map and every judgement in the fused series' units
        from pakcast.forecast.report.fused import fused_sections, history_panel, units_line

        # the units are named in each caption; the source line names the sources the fit used
        used = (sorted(set(inputs.observations["source"].astype(str)))
                if not isinstance(inputs.observations, Missing) else [])
        source = "the fused model of this run" + (f" on {', '.join(used)}" if used else "")
        if not isinstance(inputs.fused, Missing):
            history = history_panel(inputs.fused, panel, result.as_of)
        for sid, content in fused_sections(result, inputs, figdir, figs).items():
            sections[sid] = _section(sid, **content)
    sections["forecast_table"] = forecast_section(inputs, (fusion or {}).get("quarters", {}).get("partial_quarter"))
    # the forecast figures' credit: the data and this run's forecast (a fused run's model is both)
    forecast_credit = source if fusion else f"{source}; forecast: this run"
    sections["fan_charts"] = fan_section(inputs, history, figdir, figs, forecast_credit,
                                         fusion["units"]["measures"] if fusion else None)
    sections["map"] = map_section(inputs, history, figdir, figs, forecast_credit,
                                  fusion["units"]["measures"].get("attacks") if fusion else None)
    if not fusion:
        sections["breaks"] = breaks_section(inputs)
    sections["attribution"] = attribution_section(inputs, figdir, figs, source)
    sections["scorecard"] = scorecard_section(result, figdir, figs, source)
    if not fusion:
        sections["claims"] = claims_section(result, panel, inputs.reported, figdir, figs, random_seed)
    sections["provenance"] = provenance_section(inputs, result, panel,
                                                map_drawn=bool(sections["map"].get("available")))
    sections["methods"] = methods_section(inputs, result, sections)
    sections["glossary"] = glossary_section(sections, fusion["units"]["source"] if fusion else None)
    cov = sections["provenance"].get("coverage") or {}
    data_end = cov.get("end")
    if fusion:
        data_end = fusion["as_of"]
        counted_by = fusion["units"]["source"]
    else:
        counted_by = "UCDP GED" if result.uses_shipped_data else (result.sources[0].name if result.sources else None)
    kj = key_judgements(sections, context={
        "national": NATIONAL, "counted_by": counted_by,
        "data": (f"from {fusion['fit']['months']['first']} to {data_end} (the newest "
                 f"{fusion['newest_observation']['age_months']:g} months before the run date)" if fusion
                 else f"{cov['start']} to {data_end}" if cov else None),
        "fused": bool(fusion), "fused_claims": ((fusion or {}).get("claims") or {}).get("claims", []),
        "fused_breaks": ((fusion or {}).get("breaks") or {}).get("rows", []),
        "units": fusion["units"]["measures"] if fusion else None,
        "converged": ((fusion or {}).get("fit") or {}).get("diagnostics", {}).get("converged", True),
        "run_date": (fusion or {}).get("run_date")})
    sections["key_judgements"] = (_section("key_judgements", items=kj) if kj else
                                  _unavailable("key_judgements", "no section of this run has the results a judgement needs"))
    man = inputs.manifest if not isinstance(inputs.manifest, Missing) else {}
    order = [sid for sid, _ in SECTION_ORDER if sid in sections]
    briefing = {
        "title": "pakcast quarterly briefing",
        "kind": "quarterly",
        "run_id": result.run_id or man.get("run_id"),
        "as_of": result.as_of,
        "data_end": data_end,
        "data_end_label": ("Newest observation" if fusion else
                           "Event data end" if result.uses_shipped_data else "Data end"),
        "units": units_line(fusion) if fusion else None,
        "source_line": "Source: " + source,
        "banner": banners(result, data_end,
                          _dt.date.fromisoformat(fusion["run_date"]) if fusion and fusion.get("run_date") else None)
        + _fit_banner(fusion),
        "generated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "section_order": order,
        "sections": {sid: sections[sid] for sid in order},
        "figures": {k: v.to_dict() for k, v in figs.items()},
        "missing": {sid: s["reason"] for sid, s in sections.items() if not s["available"]},
    }
    return to_jsonable(briefing), figs


def banners(result: QuarterlyResult, data_end: str | None, today: _dt.date | None = None) -> list[dict[str, str]]:
    """Warnings the reader must see first: a forecast period that has begun or passed by the run
    date, and data whose newest observation is more than a quarter older than the run."""
    today = today or (_dt.date.fromisoformat(result.created[:10]) if result.created else _dt.date.today())
    out = []
    quarters = [pd.Period(q, "Q") for q in result.forecast_quarters]
    if quarters:
        first, last = quarters[0], quarters[-1]
        past = [q for q in quarters if q.end_time.date() < today]
        if last.end_time.date() < today:
            out.append({"id": "forecast_past", "title": "This forecast is of the past.",
                        "text": f"All forecast quarters ({first} to {last}) ended before this run ({today}); read "
                                "them as a check of the method, not as a forecast, and compare them with what "
                                "was recorded since."})
        elif past:
            span = str(past[0]) if len(past) == 1 else f"{past[0]} to {past[-1]}"
            now = next(q for q in quarters if q.end_time.date() >= today)
            current = f"; {now} is under way" if now.start_time.date() <= today else ""
            out.append({"id": "forecast_begun", "title": "The forecast period has begun.",
                        "text": f"{span} ended before this run ({today}){current}. Those months have already "
                                "happened but no source in the data has published them yet: their numbers are "
                                "forecasts of the recent past, to be checked when the figures appear."})
        elif first.start_time.date() <= today:
            out.append({"id": "forecast_begun", "title": "The forecast period has begun.",
                        "text": f"{first} started on {first.start_time.date()}, before this run ({today}); part of it "
                                "may already have happened but is not in the data."})
    if data_end:
        end = pd.Period(data_end[:7], "M").end_time.date()
        if (today - end).days > 92:
            out.append({"id": "data_old", "title": "The data are old.",
                        "text": f"The newest observation is from {data_end[:7]}, {(today - end).days // 30} months "
                                f"before this run ({today}); everything after it is forecast, not observed."})
    return out


def _fit_banner(fusion: dict[str, Any] | None) -> list[dict[str, str]]:
    """A fused run whose convergence gates failed says so before anything else."""
    dg = ((fusion or {}).get("fit") or {}).get("diagnostics") or {}
    if not fusion or dg.get("converged", True):
        return []
    return [{"id": "not_converged", "title": "The model's checks failed.",
             "text": "The sampler's convergence checks did not pass for this run (details in the fused-series "
                     "section): the intervals may be too narrow or too wide. Rerun with more draws (--draws, --tune) "
                     "before relying on them."}]


def render_html(briefing: dict[str, Any], figs: dict[str, F.FigureRecord]) -> str:
    """The self-contained HTML (CSS inline, figures as base64 SVG data URIs)."""
    env = _environment()
    css = (templates_dir() / "briefing.css").read_text(encoding="utf-8")
    return env.get_template("briefing.html.j2").render(b=briefing, s=briefing["sections"], figs=figs, css=css)


def _update_manifest(run_dir: Path) -> None:
    """``pakcast report DIR`` on its own adds the briefing files to the run's manifest."""
    path = run_dir / "manifest.json"
    if not path.exists():
        return
    from pakcast.forecast.manifest import RunManifest

    man = RunManifest.read(path)
    man.add_outputs(run_dir)
    stamp = "briefing built by forecast.report.build_report"
    if stamp not in man.notes:
        man.notes.append(stamp)
    man.write(run_dir)


def build_report(run_dir: str | Path, *, pdf: bool = True, random_seed: int = DEFAULT_SEED,
                 result: RunResult | None = None) -> dict[str, Path]:
    """Write ``briefing.html``, ``briefing.pdf`` and ``briefing.json`` (and ``figures/``) into ``run_dir``.

    Parameters
    ----------
    run_dir : path
        A quarterly run directory or an ITS study directory (each with ``results.json``).
    pdf : bool
        Also write the PDF (matplotlib's PDF backend; no browser needed).
    random_seed : int
        Seed of the bootstrap behind the peak-year claim.
    result : QuarterlyResult or ITSStudyResult, optional
        The run's result, as the job returns it; the job then writes ``results.json`` and the
        manifest once, after the briefing. Without it the result is read from ``results.json``
        and the manifest is updated with the briefing files.

    Returns
    -------
    dict
        ``{"html": Path, "pdf": Path, "json": Path, "figures": Path}``.
    """
    d = Path(run_dir)
    standalone = result is None
    briefing, figs = assemble(d, random_seed=random_seed, result=result)
    out = {"json": write_json(d / "briefing.json", briefing),
           "html": atomic_write_text(d / "briefing.html", render_html(briefing, figs)),
           "figures": d / "figures"}
    if pdf:
        out["pdf"] = write_pdf(d / "briefing.pdf", briefing, figs)
    if standalone:
        _update_manifest(d)
    return out


__all__ = ["build_report", "assemble", "render_html", "records_table", "banners", "SECTION_ORDER", "FUSED_ONLY",
           "PANEL_ONLY"]
