"""The quarterly run on the fused series (the default of ``pakcast quarterly``; ``--data ucdp`` runs
:mod:`pakcast.forecast.quarterly`'s UCDP-only zoo instead).

One fit of the multi-source measurement model (:func:`pakcast.forecast.fusion.fit_fusion`, every
shipped event source and published figure, known-date level steps at the country profile's
intervention months) gives everything the run publishes:

* **as-of**: the last month that any figure covers (the annual totals of a year cover its December);
  ``--as-of`` makes a past vintage (only the figures whose period had ended by then are fitted).
* **forecast quarters** (:func:`forecast_quarters`): every quarter that contains a month after the
  as-of, through the fourth quarter after the run date (``today``; for an ``--as-of`` vintage the
  first day after the as-of month unless a run date is given).
* **quarter totals** are sums of whole posterior-predictive paths in the reference units
  (:meth:`FusionResults.paths`, ``kind="counts"``: what the reference source would count), so a
  quarter's interval is valid and months no source has reported widen it. Where the reference
  source itself counted a province-month (its event panel), the path carries that count exactly.
  The quarter that contains the as-of month (when the as-of is not a quarter's last month) is
  **conditioned on its observed months**: those months come from the posterior given every
  figure up to the as-of, the later months are forecast, and the row says so.
* **early warning**: ``p_gt_last_year`` compares each path's quarter with the same path's quarter a
  year earlier (itself latent where no reference count exists); ``--threshold PROVINCE=N`` adds
  P(quarter total > N) per forecast quarter for that province (attacks, reference units).
* **breaks** (:func:`break_effects`): level rate ratios of the steps per province and nationally.
* **claims**: :func:`pakcast.forecast.report.claims.fused_claims` on the national draws.
"""

from __future__ import annotations

import datetime as _dt
import json
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from pakcast.forecast.early_warning import exceedance_probability
from pakcast.forecast.errors import GateError, InputError
from pakcast.forecast.io import OutDir, prepare_out_dir, write_csv
from pakcast.forecast.manifest import RunManifest
from pakcast.forecast.provinces import NATIONAL, canonical_province
from pakcast.forecast.run_result import QuarterlyResult, SourceCredit

__all__ = ["FUSED_MODEL", "break_effects", "forecast_quarters", "parse_thresholds", "quarter_table",
           "run_date", "run_fused"]

FUSED_MODEL = "fused"
QUANTILES = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
PERCENTILES = np.arange(1, 100) / 100.0
#: months after each step over which the national level rate ratio is averaged
EFFECT_WINDOW = 12


def forecast_quarters(as_of: pd.Period, today: _dt.date) -> list[pd.Period]:
    """Every quarter containing a month after ``as_of`` through the fourth quarter after ``today``'s
    quarter (as-of 2025-11, run 2026-12-01: 2025Q4 .. 2027Q4)."""
    first = (pd.Period(as_of, "M") + 1).asfreq("Q")
    last = max(pd.Period(today, "Q") + 4, first)
    return list(pd.period_range(first, last, freq="Q"))


def run_date(today: str | _dt.date | None, as_of: str | None) -> _dt.date:
    """The run date: ``today`` when given; for an ``--as-of`` vintage the first day after the as-of
    month (the earliest day a run could have had those figures); else the clock's date."""
    if today is not None:
        return today if isinstance(today, _dt.date) else _dt.date.fromisoformat(str(today))
    if as_of is not None:
        return (pd.Period(as_of, "M") + 1).start_time.date()
    return _dt.date.today()


def parse_thresholds(items: list[str] | tuple[str, ...] | dict | None) -> dict[str, float]:
    """``["Balochistan=120", "Pakistan=400"]`` -> ``{province: N}`` (canonical names; one-line errors)."""
    if not items:
        return {}
    if isinstance(items, dict):
        items = [f"{k}={v}" for k, v in items.items()]
    out: dict[str, float] = {}
    for it in items:
        name, sep, val = str(it).rpartition("=")
        if not sep or not name.strip():
            raise InputError(f"--threshold {it!r}: expected PROVINCE=N, e.g. Balochistan=120")
        try:
            prov = canonical_province(name.strip())
        except KeyError as exc:
            raise InputError(f"--threshold {it!r}: {exc.args[0]}") from None
        try:
            n = float(val)
        except ValueError:
            raise InputError(f"--threshold {it!r}: N must be a number of attacks per quarter, found {val!r}") from None
        if not np.isfinite(n) or n < 0:
            raise InputError(f"--threshold {it!r}: N must be a non-negative number")
        out[str(prov)] = n
    return out


def units_text(reference: dict[str, str], measure: str) -> str:
    """``"attacks as PIPS counts them"`` (the metric added where it is not named like the measure)."""
    extra = "" if reference["metric"] == measure else f" ({reference['metric']})"
    return f"{measure} as {reference['source']} counts them{extra}"


# ------------------------------------------------------------------------------------------------
# paths -> quarters

def reference_counts(fr: Any, measure: str) -> dict[tuple[int, int], float]:
    """``(unit index, month index) -> count`` where the reference source of ``measure`` published a
    single-province monthly figure (its event panel): those cells are known exactly."""
    ref = fr.results.reference()[measure]
    f = fr.table.frame
    sel = f[(f["source"] == ref["source"]) & (f["metric"] == ref["metric"]) & (f["first"] == f["last"])
            & f["cover"].map(lambda c: len(tuple(c)) == 1)]
    upos = {u: i for i, u in enumerate(fr.table.units)}
    tpos = {m: i for i, m in enumerate(fr.table.months)}
    return {(upos[tuple(c)[0]], tpos[m]): float(v) for c, m, v in zip(sel["cover"], sel["first"], sel["value"])}


def monthly_paths(fr: Any, measure: str, n_samples: int, random_seed: int) -> np.ndarray:
    """(unit + national, month, sample) posterior-predictive counts in reference units; the reference
    source's own monthly counts replace the draws where it published them; the last row is the
    national sum, path by path."""
    try:
        p = np.asarray(fr.results.paths(n_samples=n_samples, random_seed=random_seed, measure=measure,
                                        kind="counts"), dtype=float)
    except ValueError as exc:  # numpy refuses to draw counts from an intensity beyond ~1e19
        if "too large" not in str(exc):
            raise
        raise GateError(_overflow_message(fr, measure, n_samples, random_seed)) from None
    for (u, t), v in reference_counts(fr, measure).items():
        p[u, t, :] = v
    return np.concatenate([p, p.sum(axis=0, keepdims=True)], axis=0)


def _overflow_message(fr: Any, measure: str, n_samples: int, random_seed: int) -> str:
    """Why the forecast paths cannot be drawn: where the latent intensity runs away, and the random-walk
    scales behind it."""
    lam = np.asarray(fr.results.paths(n_samples=n_samples, random_seed=random_seed, measure=measure,
                                      kind="intensity"))
    months = list(fr.table.months)
    huge = lam > 1e6                                                   # (unit, month, sample)
    u, t = np.unravel_index(np.argmax(huge.any(axis=2)), huge.shape[:2]) if huge.any() else (0, 0)
    d = fr.results.design
    sig = fr.results.idata.posterior["sigma"].stack(s=("chain", "draw")).values[d.measures.index(measure)]
    worst = sorted(((float(np.median(sig[i])), unit) for i, unit in enumerate(d.units)), reverse=True)[:3]
    return (f"the fused model's {measure} forecast cannot be drawn: its latent monthly intensity runs away after the "
            f"newest observation ({fr.as_of}); {fr.table.units[u]} first passes 1e6 a month in {months[t]}, and "
            f"{huge.any(axis=(0, 1)).mean():.0%} of the paths pass it somewhere by {months[-1]}. The innovation "
            "scales per month (posterior medians: "
            + ", ".join(f"{n} {v:.2f}" for v, n in worst)
            + ") are too large for a forecast to the horizon; check the fit's convergence (--draws, --tune) and "
              "the newest figures of that province")


def _quarter_sums(paths: np.ndarray, months: pd.PeriodIndex, q: pd.Period) -> np.ndarray | None:
    idx = np.flatnonzero(months.asfreq("Q") == q)
    if idx.size != 3:
        return None  # the quarter is not wholly inside the modelled months
    return paths[:, idx, :].sum(axis=1)


def quarter_table(fr: Any, quarters: list[pd.Period], as_of: pd.Period, thresholds: dict[str, float],
                  n_samples: int, random_seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """``forecast.csv`` rows, their 99 percentiles (for the store) and the early-warning records."""
    months = pd.PeriodIndex(fr.table.months, freq="M")
    series = [*fr.table.units, NATIONAL]
    ref = fr.results.reference()
    rows, pct_rows, warn = [], [], []
    for measure in ("attacks", "killed"):
        if measure not in ref:
            continue
        paths = monthly_paths(fr, measure, n_samples, random_seed)
        label = units_text(ref[measure], measure)
        known = reference_counts(fr, measure)
        for q in quarters:
            smp = _quarter_sums(paths, months, q)
            if smp is None:
                continue
            ly = _quarter_sums(paths, months, q - 4)
            ly_idx = np.flatnonzero(months.asfreq("Q") == q - 4)
            n_obs_months = int(sum(m <= as_of for m in months[months.asfreq("Q") == q]))
            for s, uid in enumerate(series):
                x = smp[s]
                qv = np.quantile(x, list(QUANTILES.values()), method="inverted_cdf")
                thr = thresholds.get(uid) if measure == "attacks" else None
                ly_known = ly is not None and s < len(fr.table.units) and all((s, int(t)) in known for t in ly_idx)
                rec = {
                    "province": uid, "quarter": str(q), "measure": measure, "mean": float(x.mean()),
                    **{k: float(v) for k, v in zip(QUANTILES, qv)},
                    "last_year": float(ly[s].mean()) if ly is not None else np.nan,
                    "p_gt_last_year": float(exceedance_probability(x, ly[s])) if ly is not None else np.nan,
                    "threshold": float(thr) if thr is not None else np.nan,
                    "p_gt_threshold": float(exceedance_probability(x, thr)) if thr is not None else np.nan,
                    "model": FUSED_MODEL, "units": label,
                    "observed_months": n_obs_months,
                    "last_year_observed": bool(ly_known),
                }
                rows.append(rec)
                pct = np.quantile(x, PERCENTILES, method="inverted_cdf")
                pct_rows.append({"province": uid, "quarter": str(q), "measure": measure,
                                 "percentiles": json.dumps([int(v) for v in pct])})
                if measure == "attacks":
                    warn.append({k: rec[k] for k in ("province", "quarter", "units", "last_year", "p_gt_last_year",
                                                     "threshold", "p_gt_threshold", "last_year_observed")})
    fc = pd.DataFrame(rows)
    partial = [q for q in quarters if pd.Period(as_of, "M").asfreq("Q") == q]
    handling = (f"{partial[0]} contains the as-of month {as_of}: it is conditioned on its observed months "
                f"({', '.join(str(m) for m in months[(months.asfreq('Q') == partial[0]) & (months <= as_of)])}: "
                "the fused posterior given every figure up to the as-of) and its later months are forecast; the "
                "row's observed_months says how many months of the quarter had been observed"
                if partial else "the first forecast quarter starts after the as-of month: every month is forecast")
    early = {"definition": ("P(attacks in the quarter > attacks in the same quarter a year earlier), path by path "
                            "(the year-earlier quarter is itself uncertain where the reference source has no count "
                            "for it); P(> threshold) for the --threshold values, in the same units"),
             "thresholds": thresholds, "rows": warn,
             "backtest": "not produced in this run: the Brier score and reliability diagram come from the post-2021 "
                         "backtest, `pakcast fuse --backtest` (one fit per origin, minutes each; scored against "
                         "climatology)"}
    return fc, pd.DataFrame(pct_rows), {"early_warning": early, "partial_quarter": handling}


# ------------------------------------------------------------------------------------------------
# breaks

def _trend_change(lam: np.ndarray, t0: int, w: int) -> np.ndarray | None:
    r"""Per draw, the yearly slope rate ratio :math:`\exp(12(b_1 - b_0))` of monthly intensities
    ``lam`` (T, S): :math:`b_0`, :math:`b_1` the least-squares slopes of :math:`\log\lambda_t` over
    the ``w`` months before month ``t0`` and the ``w`` months from it (None when either window is
    short of ``w`` months)."""
    if t0 - w < 0 or t0 + w > lam.shape[0]:
        return None
    t = np.arange(w, dtype=float) - (w - 1) / 2.0
    ll = np.log(np.maximum(lam, 1e-300))
    b0 = t @ (ll[t0 - w:t0] - ll[t0 - w:t0].mean(axis=0)) / (t @ t)
    b1 = t @ (ll[t0:t0 + w] - ll[t0:t0 + w].mean(axis=0)) / (t @ t)
    return np.exp(12.0 * (b1 - b0))


def break_effects(fr: Any, window: int = EFFECT_WINDOW, slope_window: int = 2 * EFFECT_WINDOW) -> dict[str, Any]:
    """Level rate ratios (median, 90% interval) of the model's known-date steps, per province and
    nationally, for attacks and deaths, and slope rate ratios: the change of the fused intensity's
    log-linear trend (per year) between the ``slope_window`` months before the step and the
    ``slope_window`` months from it, draw by draw.

    A province's attacks ratio is :math:`e^{\\beta_{e0u}}`, its deaths ratio
    :math:`e^{\\beta_{e0u} + \\beta_{e1u}}` (attacks times severity). The national ratio is, draw by
    draw, the fused national total over the ``window`` months from the step divided by the same total
    with the step removed from every province. Intervals carry the measurement uncertainty (every
    source's scale and noise are in the posterior).
    """
    res = fr.results
    d = res.design
    beta = res.effect_draws()                       # (S, E, M, U)
    if beta.shape[1] == 0:
        return {"rows": [], "note": "the model was fitted without known-date steps"}
    months = pd.PeriodIndex(fr.table.months, freq="M")
    rows = []
    lam_fit = {me: res.intensity_draws(me)[:, :d.n_fit, :] for me in d.measures}   # (U, T, S) each
    for e, name in enumerate(d.effect_names):
        t0 = int(np.argmax(d.effects[e] > 0))
        win = slice(t0, min(t0 + window, d.n_fit))
        for mi, me in enumerate(d.measures):
            log_rr = beta[:, e, 0, :] + (beta[:, e, mi, :] if mi > 0 else 0.0)     # (S, U)
            lam = lam_fit[me][:, win, :]                                           # (U, w, S)
            tot = lam.sum(axis=(0, 1))
            cf = (lam * np.exp(-log_rr.T)[:, None, :]).sum(axis=(0, 1))
            series = [(u, np.exp(log_rr[:, i])) for i, u in enumerate(d.units)] + [(NATIONAL, tot / cf)]
            trends = [_trend_change(lam_fit[me][i], t0, slope_window) for i in range(len(d.units))]
            trends.append(_trend_change(lam_fit[me].sum(axis=0), t0, slope_window))
            for (uid, rr), tr in zip(series, trends):
                lo, med, hi = np.quantile(rr, [0.05, 0.5, 0.95])
                row = {"series": uid, "outcome": me, "date": str(months[t0]), "effect": str(name),
                       "level_rate_ratio": {"estimate": float(med), "ci_low": float(lo), "ci_high": float(hi),
                                            "level": 0.9},
                       "p_increase": float((rr > 1).mean()),
                       "months_after_in_fit": int(max(0, d.n_fit - t0))}
                if tr is not None:
                    slo, smed, shi = np.quantile(tr, [0.05, 0.5, 0.95])
                    row["slope_rate_ratio"] = {"estimate": float(smed), "ci_low": float(slo), "ci_high": float(shi),
                                               "level": 0.9, "per": "year", "window_months": int(slope_window)}
                    row["p_steeper"] = float((tr > 1).mean())
                rows.append(row)
    return {"rows": rows,
            "method": ("Level steps 1{t >= month of the event} in the fused model's log intensity, a coefficient per "
                       "province and measure (deaths: a step in attacks plus one in deaths per attack). A step is the "
                       "lasting change of level at that month, beyond the short-lived month-to-month deviations (AR(1)); "
                       f"a gradual change afterwards shows as persistent deviations. National: fused total over the {window} months from "
                       "the step against the same total without the step, draw by draw. 90% intervals."),
             "slope": (f"slope rate ratio: the fused intensity's log-linear trend over the {slope_window} months from "
                       f"the step against the {slope_window} months before it, per year, draw by draw (1 = the same "
                       "trend; a derived quantity: the model has no slope term, so the trend is read from the fused "
                       "series, whose months carry the measurement uncertainty). 90% intervals.")}


# ------------------------------------------------------------------------------------------------
# the run

def _fusion_config(config: Any, end: pd.Period, as_of: str | None) -> Any:
    """The fit's options; its known-date steps are the profile's dates the figures reach
    (``effects=None``, resolved by :func:`pakcast.forecast.fusion.model_effects`)."""
    from pakcast.forecast.fusion import FusionConfig

    return FusionConfig(start=config.fusion_start, end=str(end), random_seed=int(config.random_seed),
                        draws=int(config.fusion_draws), tune=int(config.fusion_tune), chains=int(config.fusion_chains),
                        figures=False, effects=None, as_of=as_of)


def fit_for_run(config: Any, today: _dt.date) -> tuple[Any, list[pd.Period]]:
    """Fit the measurement model for a quarterly run; returns ``(FusionRun, forecast quarters)``.

    The horizon must reach the last forecast quarter, which depends on the as-of: without
    ``--as-of`` it is known only after reading the figures, so the table is built first."""
    from pakcast.forecast.fusion import build_observations, fit_fusion

    as_of = None if config.as_of is None else pd.Timestamp(config.as_of).strftime("%Y-%m")
    probe = _fusion_config(config, pd.Period(today, "Q").asfreq("M", "end") + 12 * 5, as_of)
    table = build_observations(probe)
    obs_last = pd.Period(str(table.frame["last"].max()), "M")
    quarters = forecast_quarters(obs_last, today)
    end = quarters[-1].asfreq("M", "end")
    fcfg = _fusion_config(config, end, as_of or str(obs_last))
    fcfg.as_of = as_of
    fcfg.validate()
    table = build_observations(fcfg)
    return fit_fusion(fcfg, table=table), quarters


def _sources(fr: Any) -> list[SourceCredit]:
    from pakcast.forecast.country import PAKISTAN
    from pakcast.forecast.io import sha256_file

    out = []
    f = fr.table.frame
    for path, role in fr.table.inputs:
        p = Path(path)
        name = PAKISTAN.source("ucdp") if "UCDP" in role else (PAKISTAN.source("reported") if "reported" in role
                                                                 else p.name)
        rows = f[f["source"] == "UCDP"] if "UCDP" in role else f[f["source"] != "UCDP"]
        coverage = (f"{rows['first'].min()} to {rows['last'].max()}, {len(rows):,} figures in the fit"
                    + ("" if "UCDP" in role else f" ({', '.join(sorted(set(rows['source'])))})")) if len(rows) else None
        out.append(SourceCredit(name=name, file=p.name, sha256=sha256_file(p) if p.exists() else None,
                                licence="CC BY 4.0" if "UCDP" in role else "published facts, each row with its URL",
                                coverage=coverage, role=f"fused: {role}"))
    return out


def run_fused(config: Any, progress: Callable[[str, int, int], None] | None = None,
              out_dir: OutDir | None = None, fitted: tuple[Any, list[pd.Period]] | None = None) -> RunManifest:
    """``pakcast quarterly`` on the fused series (see the module docstring); writes the run directory
    (``forecast.csv`` with ``units``, ``fused.csv``, ``sources.csv``, ``observations.csv``,
    ``panel.csv`` (the UCDP panel the fit used, for the map's population), ``reported.csv``,
    ``results.json`` with ``fusion``, the briefing, ``manifest.json``). ``fitted``: the result of
    :func:`fit_for_run` for this config, when already fitted (one fit shared by several runs)."""
    from pakcast.forecast import quarterly as Q
    from pakcast.forecast.fusion import fused_frame, sources_frame

    t_start = time.perf_counter()
    out_dir = out_dir if out_dir is not None else prepare_out_dir(config.out, force=config.force)
    out = out_dir.path
    manifest = RunManifest(command="quarterly", options={k: (str(v) if isinstance(v, Path) else v)
                                                         for k, v in asdict(config).items()})
    out_dir.begin(manifest)
    manifest.random_seeds = {"random_seed": int(config.random_seed)}
    notes = manifest.notes
    thresholds = parse_thresholds(config.thresholds)
    today = run_date(config.today, None if config.as_of is None else pd.Timestamp(config.as_of).strftime("%Y-%m"))
    if progress:
        progress("fuse", 0, 1)
    t = time.perf_counter()
    fr, quarters = fitted if fitted is not None else fit_for_run(config, today)
    secs_fit = time.perf_counter() - t
    if progress:
        progress("fuse", 1, 1)
    for p, role in fr.table.inputs:
        manifest.add_input(p, role=role)
    as_of = pd.Period(fr.as_of, "M")
    ref = fr.results.reference()
    units = {me: units_text(ref[me], me) for me in ref}
    if progress:
        progress("forecast", 0, 1)
    fc, pct, extra = quarter_table(fr, quarters, as_of, thresholds, int(config.n_samples), int(config.random_seed))
    write_csv(out / "forecast.csv", fc)
    fused = fused_frame(fr)
    write_csv(out / "fused.csv", fused)
    write_csv(out / "sources.csv", sources_frame(fr))
    obs = fr.table.frame.copy()
    obs["cover"] = obs["cover"].map(lambda c: ";".join(c))
    obs["first"], obs["last"] = obs["first"].astype(str), obs["last"].astype(str)
    write_csv(out / "observations.csv", obs)
    panel = _ucdp_panel(fr, as_of)
    write_csv(out / "panel.csv", panel)
    sources = _sources(fr)
    reported = Q._reported(config, out, [], notes)

    age_days = (today - as_of.end_time.date()).days
    monthly_last = fr.table.frame.loc[fr.table.frame["first"] == fr.table.frame["last"], "last"].max()
    fusion = {
        "units": {"source": fr.units, "reason": fr.units_reason, "measures": units},
        "as_of": str(as_of), "run_date": str(today),
        "newest_observation": {"month": str(as_of), "age_days": int(age_days), "age_months": round(age_days / 30.44, 1),
                               "last_monthly_figure": str(monthly_last),
                               "note": ("the as-of is the last month any figure covers (an annual total covers its "
                                        "December); the last month published month by month is "
                                        f"{monthly_last}")},
        "quarters": {"first": str(quarters[0]), "last": str(quarters[-1]),
                     "rule": "every quarter containing a month after the as-of, through the fourth quarter after the "
                             "run date", "partial_quarter": extra["partial_quarter"]},
        "early_warning": extra["early_warning"],
        "fit": fr.to_dict(series=False),
        "breaks": _safe(lambda: break_effects(fr), notes),
        "claims": _safe(lambda: _claims(fr, reported), notes),
    }
    results: dict[str, Any] = {
        "as_of": str(as_of), "forecast_origin": str(as_of + 1), "forecast_quarters": [str(q) for q in quarters],
        "published_model": FUSED_MODEL,
        "data": {"source": "fused: every shipped source", "kind": "fused", "file": "fused.csv",
                 "start": str(fr.table.months[0]), "end": str(as_of), "first_month": str(fr.table.months[0]),
                 "last_month": str(as_of), "n_observations": int(len(fr.table.frame)),
                 "exclusions": fr.table.exclusions, "units": units},
        "models": {"run": [FUSED_MODEL], "published_selection": [], "not_run": {}},
        "backtest": {}, "forecast_only_models": {}, "not_produced": {}, "notes": notes,
        "timings_seconds": {"fusion_fit": round(secs_fit, 2)},
        "vintage": {}, "earlier_vintages": {},
    }
    not_produced = results["not_produced"]
    not_produced["backtest"] = ("not run here (one fit per origin, minutes each): the post-2021 scorecard against the "
                                "published figures is `pakcast fuse --backtest`; --data ucdp runs the UCDP zoo's backtest")
    if not fr.results.diagnostics.converged:
        notes.append(f"fusion convergence gates failed: {fr.results.diagnostics.message()}")
    if progress:
        progress("store", 0, 1)
    try:
        Q._store_steps(config, manifest, as_of.to_timestamp(), fc, pct, {}, as_of.end_time.normalize(), results,
                       not_produced)
        if results["earlier_vintages"]:
            results["earlier_vintages"]["note"] = ("earlier vintages are scored by the UCDP run (--data ucdp); fused "
                                                   "vintages are archived with their units but not yet scored")
    except Exception as exc:  # noqa: BLE001 - recorded, never silent
        not_produced["store"] = f"{type(exc).__name__}: {exc}"
        notes.append(traceback.format_exc(limit=3))
    Q._not_produced(out / "breaks.json", "panel break study", "the fused run reports its breaks from the fused "
                    "model (results.json fusion.breaks); the panel study runs with --data ucdp", not_produced)
    Q._not_produced(out / "attribution.json", "attribution study", "the attribution of the change to covariates "
                    "is a study of its own: `pakcast attribute --series fused` runs it on the fused series, --data ucdp "
                    "in the quarterly run on the UCDP panel", not_produced)
    results["timings_seconds"]["total_before_report"] = round(time.perf_counter() - t_start, 2)
    result = QuarterlyResult(**results, sources=sources, run_id=manifest.run_id, created=manifest.created,
                             fusion=fusion)
    return Q.finish_run(config, out, out_dir, manifest, result, t_start, progress)


def _safe(fn: Callable[[], Any], notes: list[str]) -> Any:
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - recorded in results.json, never silent
        notes.append(traceback.format_exc(limit=3))
        return {"status": "not produced", "reason": f"{type(exc).__name__}: {exc}"}


def _claims(fr: Any, reported: pd.DataFrame | None) -> dict[str, Any]:
    from pakcast.forecast.report.claims import fused_claims

    months = pd.PeriodIndex(fr.table.months, freq="M")
    nat = {me: fr.results.intensity_draws(me).sum(axis=0) for me in ("attacks", "killed")}
    ref = fr.results.reference()
    return fused_claims(months[: fr.results.design.n_fit], {k: v[: fr.results.design.n_fit] for k, v in nat.items()},
                        fr.table.frame, {me: units_text(ref[me], me) for me in ref})


def _ucdp_panel(fr: Any, as_of: pd.Period) -> pd.DataFrame:
    """The shipped monthly UCDP panel in CSV form, through the as-of (population for the map)."""
    from pakcast.forecast.panel import load_panel

    p = load_panel("month")
    p = p[p["ds"] <= as_of.to_timestamp()].rename(columns={"unique_id": "province"})
    p.insert(1, "period", p.pop("ds").dt.strftime("%Y-%m"))
    return p
