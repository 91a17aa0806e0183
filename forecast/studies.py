"""Break and interrupted-time-series studies on the pakcast panel and on any user series.

:func:`run_break_study` is the study the quarterly run calls (``breaks.json``): for the national
series and each province, monthly attacks and killed,

* **known dates** (2014-12 and 2021-08): Chow F test (linear) and NB2 likelihood-ratio test
  (counts), each in a local window around the date (48 months before; up to 48 after, and never
  past the next date), with a change in level and trend when at least 12 post-break months with
  events exist, otherwise a level change with a common trend; a date is not tested when fewer
  than 6 months before it or 3 after it have any event (the rate ratio would not be estimable);
* **ITS**: negative-binomial segmented regression (HAC standard errors) in the same windows:
  level and slope rate ratios, and the excess (observed minus counterfactual) with intervals;
* **unknown breaks** over the whole window (default 2007-01..2021-12): sup-F (linear, mean
  shift) and sup-LR (NB2 mean shift) with asymptotic p-values, Bai-Perron breaks on the NB2
  cost (number by BIC) with Bai (1997) HAC intervals, and whether each interval contains the
  December 2014 or August 2021 break;
* **Holm** adjustment of every p-value across the provinces (national series unadjusted);
* the **reported aggregates** (``forecast.sources.reported``) for August 2021, one source and
  one metric at a time at the resolution it was published (never pooled), periods that
  straddle the date dropped, with the numbers of pre/post observations each result rests on.

Conventions: an intervention date ``D`` starts at the first period whose start is ``>= D``
(``2014-12`` -> December 2014 is the first post month). A break ``index`` is the 0-based position
of the last observation before the break and its ``date`` that observation's period; an interval
"contains" ``D`` when it contains the position of the last period before ``D``.

:func:`breaks_analysis` and :func:`its_analysis` are the library calls behind ``pakcast breaks``
and ``pakcast its``; :func:`load_series` reads a panel series or a user CSV.
"""

from __future__ import annotations

import time as _time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.errors import InputError
from pakcast.forecast.jobs import DEFAULT_SEED
from pakcast.forecast.validate import COUNT_LIMIT, Issue, ValidationError, integer_cells, read_csv_records
from pakcast.models.breaks import (BaiPerron, chow_test, count_lr_test, ols_cusum, sup_f_test, sup_lr_test)
from pakcast.models.its import InterruptedTimeSeries

STUDY_DATES = PAKISTAN.intervention_months()  # ("2014-12-01", "2021-08-01"): month containing each event
DATE_LABELS = PAKISTAN.intervention_labels()
NATIONAL = PAKISTAN.national
LOCAL_MONTHS = 48
MIN_SLOPE_POST = 12
MIN_NONZERO_PRE = 6      # non-zero months needed before a date to test it
MIN_NONZERO_POST = 3     # ... and after it
MIN_NONZERO_SLOPE = 12   # non-zero post months needed to estimate a slope change


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm (1979) step-down adjusted p-values (NaN entries are left out and stay NaN)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return out.tolist()
    order = ok[np.argsort(p[ok])]
    m = len(order)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def _first_at_or_after(ds: pd.Series, date) -> int | None:
    pos = np.flatnonzero(pd.to_datetime(ds).to_numpy() >= np.datetime64(pd.Timestamp(date)))
    return int(pos[0]) if len(pos) else None


def _month(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m")


def _contains(ci_low: int, ci_high: int, ds: pd.Series, date) -> bool:
    i = _first_at_or_after(ds, date)
    return i is not None and i >= 1 and ci_low <= i - 1 <= ci_high


# --------------------------------------------------------------------------------------------
# the panel study
# --------------------------------------------------------------------------------------------
def _local_window(ds: pd.Series, date, dates: Sequence[str]) -> tuple[int, int]:
    d = pd.Timestamp(date)
    lo = d - pd.DateOffset(months=LOCAL_MONTHS)
    later = [pd.Timestamp(x) for x in dates if pd.Timestamp(x) > d]
    hi = d + pd.DateOffset(months=LOCAL_MONTHS)
    if later:
        hi = min(hi, min(later))
    t = pd.to_datetime(ds)
    sel = np.flatnonzero((t >= lo) & (t < hi))
    if len(sel) == 0 or t.iloc[-1] < d:
        raise ValueError(f"the series ({_month(t.iloc[0])}..{_month(t.iloc[-1])}) has no observations at or after "
                         f"{_month(d)}: not tested")
    return int(sel[0]), int(sel[-1]) + 1


def _known_and_its(y: np.ndarray, ds: pd.Series, date: str, dates: Sequence[str], seed: int) -> tuple[list, dict]:
    a, b = _local_window(ds, date, dates)
    yy, tt = y[a:b], pd.Series(pd.to_datetime(ds.iloc[a:b]).to_numpy())
    fp = _first_at_or_after(tt, date)
    if fp is None or fp < 12 or len(yy) - fp < 3:
        raise ValueError(f"too few observations around {date[:7]} (pre {fp}, post {None if fp is None else len(yy) - fp})")
    n_post = len(yy) - fp
    nz_pre, nz_post = int((yy[:fp] > 0).sum()), int((yy[fp:] > 0).sum())
    if nz_pre < MIN_NONZERO_PRE or nz_post < MIN_NONZERO_POST:
        raise ValueError(f"too few non-zero months around {date[:7]} in {_month(tt.iloc[0])}..{_month(tt.iloc[-1])} "
                         f"({nz_pre} before, {nz_post} after; need >= {MIN_NONZERO_PRE} and >= {MIN_NONZERO_POST}): "
                         "not tested")
    trend = np.arange(len(yy), dtype=float)
    slope = n_post >= MIN_SLOPE_POST and nz_post >= MIN_NONZERO_SLOPE
    X = np.c_[np.ones(len(yy)), trend] if slope else None
    Z = None if slope else trend[:, None]
    change = "level+trend" if slope else "level (common trend)"
    tests = []
    for res in (chow_test(yy, fp - 1, X=X, Z=Z), count_lr_test(yy, fp - 1, X=X, Z=Z, family="negbin")):
        d = res.to_dict()
        d.update({"date": _month(date), "change": change, "window": [_month(tt.iloc[0]), _month(tt.iloc[-1])]})
        d.pop("break_index")
        tests.append(d)
    its = InterruptedTimeSeries(yy, tt, [date], effects="level+slope" if slope else "level", family="negbin",
                                cov_type="HAC").fit(random_seed=seed)
    iv = its.to_dict()["interventions"][0]
    ck = its.checks()
    # HAC Wald test of the level change (robust to autocorrelation) as a third known-date test
    lvl = iv["level_rate_ratio"]
    tests.append({"test": "its_level_wald_hac", "statistic": float(np.log(lvl["estimate"]) / its.bse["level_1"]),
                  "p_value": lvl["p_value"], "df": [1], "n_pre": iv["n_pre"], "n_post": iv["n_post"],
                  "date": _month(date), "change": "level", "window": [_month(tt.iloc[0]), _month(tt.iloc[-1])]})
    its_rec = {"date": _month(date), "effects": "level+slope" if slope else "level",
               "window": [_month(tt.iloc[0]), _month(tt.iloc[-1])], "n_pre": iv["n_pre"], "n_post": iv["n_post"],
               "level_rate_ratio": lvl["estimate"], "level_ci_low": lvl["ci_low"], "level_ci_high": lvl["ci_high"],
               "level_p": lvl["p_value"],
               "slope_rate_ratio": None if iv["slope_rate_ratio"] is None else iv["slope_rate_ratio"]["estimate"],
               "slope_ci_low": None if iv["slope_rate_ratio"] is None else iv["slope_rate_ratio"]["ci_low"],
               "slope_ci_high": None if iv["slope_rate_ratio"] is None else iv["slope_rate_ratio"]["ci_high"],
               "slope_p": None if iv["slope_rate_ratio"] is None else iv["slope_rate_ratio"]["p_value"],
               "excess": iv["excess"]["estimate"], "excess_ci_low": iv["excess"]["ci_low"],
               "excess_ci_high": iv["excess"]["ci_high"], "nb_alpha": its.nb_alpha,
               "residual_acf_lag1": ck["acf_lag1"], "ljung_box_p": ck["ljung_box_p_value"]}
    return tests, its_rec


def _unknown(y: np.ndarray, ds: pd.Series, dates: Sequence[str], seed: int, min_size: int, max_breaks: int) -> dict:
    # one seed for the simulated null distribution of every series: it is a reference table, not data noise
    sf = sup_f_test(y, random_seed=seed)
    sl = sup_lr_test(y, "negbin", random_seed=seed)
    bp = BaiPerron(y, cost="negbin", min_size=min_size, max_breaks=max_breaks, index=list(ds)).fit()
    ci = bp.conf_int(hac=True)
    breaks = []
    for _, r in ci.iterrows():
        lo, i, hi = int(r["ci_low"]), int(r["index"]), int(r["ci_high"])
        rec = {"date": _month(ds.iloc[i]), "index": i, "first_post": _month(ds.iloc[min(i + 1, len(ds) - 1)]),
               "ci_low": _month(ds.iloc[lo]), "ci_high": _month(ds.iloc[hi]), "n_post": int(len(y) - i - 1)}
        for d in dates:
            rec[f"contains_{DATE_LABELS.get(d, _month(d).replace('-', '_'))}"] = _contains(lo, hi, ds, d)
        breaks.append(rec)
    segs = bp.segments()
    return {"sup_f": {"statistic": sf.statistic, "p_value": sf.pvalue, "date": _month(ds.iloc[sf.break_index])},
            "sup_lr_negbin": {"statistic": sl.statistic, "p_value": sl.pvalue, "date": _month(ds.iloc[sl.break_index])},
            "n_breaks": bp.n_breaks, "criterion": "bic", "cost": "negbin", "nb_alpha": bp.cost.alpha_,
            "min_size": bp.h, "breaks": breaks,
            "segments": [{"start": _month(ds.iloc[int(s["start"])]), "end": _month(ds.iloc[int(s["end"])]), "n": int(s["n"]),
                          "mean": float(s["mean"])} for _, s in segs.iterrows()]}


def run_break_study(panel: pd.DataFrame, reported: pd.DataFrame | None = None, *, start: str = "2007-01-01",
                    end: str | None = None, dates: Sequence[str] = STUDY_DATES,
                    outcomes: Sequence[str] = ("attacks", "killed"), units: Sequence[str] | None = None,
                    min_size: int = 12, max_breaks: int = 5, min_events: int = 20,
                    random_seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Known-date tests, ITS effects and unknown-break search by province and nationally.

    Parameters
    ----------
    panel : DataFrame
        Monthly panel in contract form (``unique_id, ds`` and the outcome columns).
    reported : DataFrame, optional
        Tidy reported aggregates (``forecast.sources.reported.load_reported()``); when given the
        August-2021 question is also run on them at their own resolution.
    start, end : str
        Study window for the unknown-break search (default 2007-01 to the end of the panel;
        before 2007 the militant series is near zero).
    min_events : int
        Series with fewer events in the window are reported as skipped (too sparse to test).

    Returns
    -------
    dict with ``known`` (one record per series, outcome, date and test, with ``p_holm``),
    ``estimated_breaks`` (one record per estimated break with its interval and whether it
    contains each date), ``its``, ``unknown`` (sup-F/sup-LR and segments per series),
    ``reported``, ``skipped``, ``method`` and ``note``.
    """
    t0 = _time.perf_counter()
    dates = [pd.Timestamp(d).strftime("%Y-%m-%d") for d in dates]
    p = panel.copy()
    p["ds"] = pd.to_datetime(p["ds"])
    p = p[p["ds"] >= pd.Timestamp(start)]
    if end is not None:
        p = p[p["ds"] <= pd.Timestamp(end)]
    all_units = list(dict.fromkeys(p["unique_id"].astype(str)))
    units = [u for u in (units or all_units) if u in all_units]
    units = sorted(units, key=lambda u: (u != NATIONAL, u))
    known, its_rows, unknown, est, skipped = [], [], [], [], []
    for k, u in enumerate(units):
        s = p[p["unique_id"].astype(str) == u].sort_values("ds").reset_index(drop=True)
        for j, outcome in enumerate(outcomes):
            if outcome not in s:
                raise ValueError(f"panel has no column {outcome!r}; columns: {list(s.columns)}")
            y = s[outcome].to_numpy(dtype=float)
            ds = s["ds"]
            base = {"series": u, "outcome": outcome}
            if y.sum() < min_events:
                skipped.append({**base, "reason": f"{int(y.sum())} {outcome} in {_month(ds.iloc[0])}..{_month(ds.iloc[-1])} "
                                                  f"(< {min_events}): too sparse to test"})
                continue
            seed = random_seed + 1000 * k + 10 * j
            for d in dates:
                try:
                    tests, its_rec = _known_and_its(y, ds, d, dates, seed)
                except (ValueError, RuntimeError, np.linalg.LinAlgError) as e:
                    skipped.append({**base, "date": _month(d), "reason": str(e)})
                    continue
                known += [{**base, **t} for t in tests]
                its_rows.append({**base, **its_rec})
            try:
                un = _unknown(y, ds, dates, random_seed, min_size, max_breaks)
            except (ValueError, RuntimeError, np.linalg.LinAlgError) as e:
                skipped.append({**base, "reason": f"unknown-break search: {e}"})
                continue
            unknown.append({**base, "n": len(y), "start": _month(ds.iloc[0]), "end": _month(ds.iloc[-1]),
                            **{kk: v for kk, v in un.items() if kk != "breaks"}})
            est += [{**base, **b} for b in un["breaks"]]
    _add_holm(known, key=("outcome", "date", "test"), pcol="p_value")
    _add_holm(its_rows, key=("outcome", "date"), pcol="level_p", out="level_p_holm")
    _add_holm(its_rows, key=("outcome", "date"), pcol="slope_p", out="slope_p_holm")
    for kind in ("sup_f", "sup_lr_negbin"):
        vals = [u[kind]["p_value"] for u in unknown]
        for o in set(u["outcome"] for u in unknown):
            idx = [i for i, u in enumerate(unknown) if u["outcome"] == o and u["series"] != NATIONAL]
            adj = holm([vals[i] for i in idx])
            for i, a in zip(idx, adj):
                unknown[i][kind]["p_holm"] = a
    rep = run_reported_study(reported, date=dates[-1], random_seed=random_seed) if reported is not None else []
    return {
        "known": known,
        "estimated_breaks": est,
        "its": its_rows,
        "unknown": unknown,
        "reported": rep,
        "skipped": skipped,
        "method": ("Known dates: Chow F and NB2 likelihood-ratio tests, and the HAC Wald test of the ITS level change, in "
                   f"local windows ({LOCAL_MONTHS} months before each date, up to {LOCAL_MONTHS} after and never past the "
                   "next date); level and trend change when >= 12 post months have events, else level change with a common "
                   "trend; dates with < 6 non-zero months before or < 3 after are not tested. "
                   "ITS: negative-binomial segmented regression, Newey-West (HAC) standard errors. Unknown breaks: "
                   "sup-F (mean shift) and NB2 sup-LR with asymptotic p-values; Bai-Perron dynamic programming on the NB2 "
                   f"cost, number of breaks by BIC, minimum segment {min_size} months, Bai (1997) intervals with HAC "
                   "long-run variances. p_holm: Holm adjustment across provinces within each outcome, date and test "
                   "(national series not adjusted)."),
        "note": ("UCDP GED ends in December 2021, so the August-2021 results on the event panel rest on 5 post-break "
                 "months (n_post in each record); a break at August 2021 cannot be estimated by the unknown-date search "
                 f"(minimum segment {min_size} months). The reported-aggregates results run each source separately at "
                 "its own resolution."),
        "options": {"start": _month(p["ds"].min()), "end": _month(p["ds"].max()), "dates": [_month(d) for d in dates],
                    "outcomes": list(outcomes), "min_size": min_size, "max_breaks": max_breaks,
                    "min_events": min_events, "random_seed": random_seed},
        "elapsed_s": round(_time.perf_counter() - t0, 2),
    }


def _add_holm(rows: list[dict], key: tuple[str, ...], pcol: str, out: str = "p_holm") -> None:
    groups: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        if r.get("series") == NATIONAL:
            r[out] = None
            continue
        groups.setdefault(tuple(r.get(k) for k in key), []).append(i)
    for idx in groups.values():
        adj = holm([rows[i].get(pcol) if rows[i].get(pcol) is not None else np.nan for i in idx])
        for i, a in zip(idx, adj):
            rows[i][out] = None if not np.isfinite(a) else a


# --------------------------------------------------------------------------------------------
# reported aggregates: one source and metric at a time, at the published resolution
# --------------------------------------------------------------------------------------------
REPORTED_METRICS = ("attacks", "killed", "fatalities_total")


def run_reported_study(table: pd.DataFrame, date: str = STUDY_DATES[-1], *, min_pre: int = 3, min_post: int = 2,
                       pre_months: int = LOCAL_MONTHS, random_seed: int = DEFAULT_SEED) -> list[dict[str, Any]]:
    """August-2021 level change on each published series separately (never pooled).

    For each source, metric, resolution and region: periods that straddle ``date`` are dropped,
    and the pre-period starts ``pre_months`` before ``date`` (so the 2014 change does not leak in);
    standard errors are model-based (too few points for HAC).
    The main model is a level shift without a trend (quasi-Poisson; the rate ratio is the ratio
    of post to pre means) with an NB2 likelihood-ratio test: the published pre-periods are short
    and gappy, so a trend would be identified mostly by the post-period. The model with a common
    linear trend is reported as a sensitivity (``trend_adjusted_*``).
    Series with fewer than ``min_pre`` / ``min_post`` periods are listed with the reason.
    """
    from pakcast.forecast.sources.reported import reported_panel

    D = pd.Timestamp(date)
    out = []
    for source in sorted(table["source"].dropna().unique()):
        for metric in REPORTED_METRICS:
            t = table[(table["source"] == source) & (table["metric"] == metric)]
            if t.empty:
                continue
            for ptype in ("month", "quarter", "half", "year"):
                if not (t["period_type"] == ptype).any():
                    continue
                panel = reported_panel(table, source, metric, ptype)
                ends = table[(table["source"] == source) & (table["metric"] == metric) & (table["period_type"] == ptype)]
                end_of = dict(zip(ends["period"], pd.to_datetime(ends["period_end"])))
                for region, g in panel.groupby("unique_id", sort=True):
                    g = g.sort_values("ds")
                    pe = g["period"].map(end_of)
                    straddle = (g["ds"] < D) & (pe >= D)
                    g = g[~straddle.to_numpy() & (g["ds"] >= D - pd.DateOffset(months=pre_months)).to_numpy()]
                    n_pre = int((g["ds"] < D).sum())
                    n_post = int((g["ds"] >= D).sum())
                    rec = {"series": f"{source} {region}", "source": source, "region": str(region), "outcome": metric,
                           "resolution": ptype, "date": _month(D), "n_pre": n_pre, "n_post": n_post,
                           "dropped_straddling": int(straddle.sum()),
                           "periods": [str(g["period"].iloc[0]), str(g["period"].iloc[-1])] if len(g) else []}
                    if n_pre < min_pre or n_post < min_post:
                        rec["skipped"] = f"too few published periods (pre {n_pre} < {min_pre} or post {n_post} < {min_post})"
                        out.append(rec)
                        continue
                    y = np.round(g["value"].to_numpy(dtype=float))
                    tds = g["ds"].reset_index(drop=True)
                    try:
                        flat = InterruptedTimeSeries(y, tds, [D], effects="level", family="quasipoisson",
                                                     cov_type="nonrobust", trend=False).fit(random_seed=random_seed)
                        iv = flat.to_dict()["interventions"][0]
                        lr = count_lr_test(y, n_pre - 1, family="negbin")
                        trended = InterruptedTimeSeries(y, tds, [D], effects="level", family="quasipoisson",
                                                        cov_type="nonrobust").fit(random_seed=random_seed)
                        tr = trended.effects().iloc[0]
                    except (ValueError, RuntimeError, np.linalg.LinAlgError) as e:
                        rec["skipped"] = f"not estimable: {e}"
                        out.append(rec)
                        continue
                    lv = iv["level_rate_ratio"]
                    rec.update({"test": "lr_negbin_level", "statistic": lr.statistic, "p_value": lr.pvalue,
                                "level_rate_ratio": lv["estimate"], "level_ci_low": lv["ci_low"],
                                "level_ci_high": lv["ci_high"], "level_p": lv["p_value"],
                                "excess": iv["excess"]["estimate"], "excess_ci_low": iv["excess"]["ci_low"],
                                "excess_ci_high": iv["excess"]["ci_high"], "dispersion": flat.scale,
                                "trend_adjusted_rate_ratio": tr["level_rate_ratio"],
                                "trend_adjusted_ci_low": tr["level_ci_low"], "trend_adjusted_ci_high": tr["level_ci_high"]})
                    out.append(rec)
    return out


# --------------------------------------------------------------------------------------------
# user series: panel or CSV
# --------------------------------------------------------------------------------------------
def _shown(v) -> str:
    """A cell for a message: its text in quotes, or 'an empty cell' (never a numpy repr)."""
    return "an empty cell" if v is None or pd.isna(v) else repr(str(v))


def _parse_time(values: pd.Series, path: str, column: str, lines: np.ndarray | None = None) -> pd.Series:
    """Dates, ``YYYY-MM`` strings or numbers; errors name the file, line and column.

    Numbers stay numbers (a column of years stays years, so results read ``1898``, not
    ``1898-01-01``); an intervention on such an axis is a number too (``--intervention 1898``).
    """
    v = values.copy()
    line = (lambda i: int(lines[i])) if lines is not None else (lambda i: i + 2)  # noqa: E731
    num = pd.to_numeric(v, errors="coerce")
    if num.notna().all():
        return num.astype(int) if (num == np.round(num)).all() else num.astype(float)
    s = v.astype("string").str.strip()
    parsed = pd.to_datetime(s, errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}: line {line(i)}, column {column!r}: expected a date, a year-month (YYYY-MM) or a "
                         f"number, got {_shown(values.iloc[i])}")
    return parsed.astype("datetime64[ns]")


def _year_month(df: pd.DataFrame, cols: list[str], path: str, lines: np.ndarray | None = None) -> pd.Series:
    """``--date-col year,month``: two integer columns -> the first day of each month."""
    y, m = (pd.to_numeric(df[c], errors="coerce").astype("float64") for c in cols)
    bad = y.isna() | m.isna() | ~m.between(1, 12) | (y != np.round(y)) | (m != np.round(m))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        line = int(lines[i]) if lines is not None else i + 2
        raise InputError(f"{path}: line {line}, columns {cols[0]!r},{cols[1]!r}: expected a year and a month 1-12, "
                         f"got {_shown(df[cols[0]].iloc[i])}, {_shown(df[cols[1]].iloc[i])}")
    return pd.to_datetime(pd.DataFrame({"year": y.astype(int), "month": m.astype(int), "day": 1}))


_STEP_NAMES = {"month": ("MS", 25, 35), "quarter": ("QS", 85, 95), "year": ("YS", 360, 370)}


def time_gaps(time: pd.Series | None, name: str = "time") -> tuple[str | None, list[str]]:
    """The step of a regular time axis and the periods missing from it.

    Returns ``(step, notes)``: ``step`` is ``month``/``quarter``/``year`` for dates, ``None``
    for numbers (whose step is the most common difference) or an irregular axis; ``notes`` says
    how many periods are missing and which (first five), or that the axis is irregular.
    """
    if time is None or len(time) < 3:
        return None, []
    t = pd.Series(time).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(t):
        days = float(np.median(np.diff(t.to_numpy()).astype("timedelta64[D]").astype(float)))
        step = next((k for k, (_, lo, hi) in _STEP_NAMES.items() if lo <= days <= hi), None)
        if step is None:
            return None, []
        freq = {"month": "M", "quarter": "Q", "year": "Y"}[step]
        per = t.dt.to_period(freq)
        full = pd.period_range(per.iloc[0], per.iloc[-1], freq=freq)
        missing = [str(p) for p in full.difference(pd.PeriodIndex(per))]
        if not missing:
            return step, []
        return step, [f"{len(missing)} {step}{'s' if len(missing) > 1 else ''} missing from the series in {name!r} "
                      f"({', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}): the model treats the time "
                      "axis as given (no values are filled in)"]
    v = t.to_numpy(dtype=float)
    d = np.diff(v)
    vals, counts = np.unique(np.round(d, 9), return_counts=True)
    unit = float(vals[np.argmax(counts)])
    if unit <= 0:
        return None, []
    big = np.flatnonzero(d > unit * 1.5)
    if not big.size:
        return None, []
    # the values a regular axis would have between the rows on either side of each gap
    gone = [_num_label(round(v[i] + k * unit, 9)) for i in big for k in range(1, int(np.round(d[i] / unit)))]
    shown = ", ".join(str(g) for g in gone[:5]) + (", ..." if len(gone) > 5 else "")
    step = "" if unit == 1 else f"; the axis steps by {_num_label(unit)}"
    return None, [f"{len(gone)} value{'s' if len(gone) > 1 else ''} missing from {name!r} ({shown}{step}): the model "
                  "treats the time axis as given (no values are filled in)"]


def _num_label(v: float):
    return int(v) if float(v).is_integer() else float(v)


def check_contiguous_months(time: pd.Series | None, label: str = "the series") -> None:
    """Refuse a monthly series with missing months (the models treat rows as consecutive periods).

    A time column of dates whose typical step is one month is monthly; any month between its first
    and last that has no row raises ``ValueError`` naming the missing months (a 20-month hole is not
    a series of consecutive months, and ITS/break tests would silently misplace every later effect).
    """
    if time is None or not pd.api.types.is_datetime64_any_dtype(time) or len(time) < 3:
        return
    months = pd.DatetimeIndex(time).to_period("M")
    steps = np.diff(months.asi8)
    if len(steps) == 0 or np.median(steps) != 1:
        return
    full = pd.period_range(months.min(), months.max(), freq="M")
    missing = full.difference(months)
    if not len(missing):
        return
    runs, start, prev = [], missing[0], missing[0]
    for m in missing[1:]:
        if (m - prev).n != 1:
            runs.append((start, prev))
            start = m
        prev = m
    runs.append((start, prev))
    shown = ", ".join(f"{a}" if a == b else f"{a} .. {b} ({(b - a).n + 1} months)" for a, b in runs[:5])
    raise ValueError(f"{label}: the monthly series has no rows for {shown}"
                     + (f" and {len(runs) - 5} more gaps" if len(runs) > 5 else "")
                     + f" ({len(missing)} months missing in all): its rows are not consecutive months. Add the "
                     "missing months (0 where nothing happened) or analyse one contiguous stretch with --start/--end")


def load_series(*, series: str | None = None, outcome: str | None = None, csv: str | Path | None = None,
                column: str | None = None, date_col: str | None = None, offset_col: str | None = None,
                panel: pd.DataFrame | None = None, encoding: str = "utf-8") -> dict[str, Any]:
    """A single series from the shipped panel (``series`` + ``outcome``) or from a CSV file.

    Returns ``{"y": Series, "time": Series or None, "offset": Series or None, "label": str,
    "input": path or None}``. CSV rows are never dropped silently: a missing or non-numeric value
    raises with file, row and column.
    """
    if (series is None) == (csv is None):
        raise ValueError("give either --series (with --outcome) or --csv (with --column/--outcome)")
    if series is not None:
        from pakcast.forecast.panel import load_panel
        from pakcast.forecast.provinces import canonical_province

        if outcome not in ("attacks", "killed"):
            raise ValueError(f"--outcome must be 'attacks' or 'killed' for the panel, got {outcome!r}")
        p = load_panel("month") if panel is None else panel
        name = NATIONAL if series.lower() in ("national", "pakistan") else canonical_province(series)
        s = p[p["unique_id"].astype(str) == name].sort_values("ds").reset_index(drop=True)
        if s.empty:
            raise ValueError(f"series {series!r} not in the panel; units: {sorted(p['unique_id'].astype(str).unique())}")
        return {"y": s[outcome].astype(float), "time": pd.to_datetime(s["ds"]).reset_index(drop=True),
                "offset": s["population"] if offset_col == "population" else None,
                "label": f"{name} {outcome} (UCDP GED panel, monthly)", "input": None, "outcome": outcome,
                "notes": []}
    path = str(csv)
    raw = read_csv_records(path, encoding=encoding)
    if raw.bad_width:
        raise ValidationError(raw.bad_width, header=f"{len(raw.bad_width)} malformed record(s) in {path}")
    df, lines = raw.frame, raw.lines
    col = column or outcome
    if col is None or col not in df.columns:
        raise InputError(f"{path}: line 1 (header): column {col!r} not found; columns: {list(df.columns)}")
    if df.empty:
        raise InputError(f"{path}: no data rows after the header; expected one row per period")
    y = _series_values(df[col], path, col, lines)
    bad = y.isna() | ~np.isfinite(y.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}: line {int(lines[i])}, column {col!r}: expected a finite number, got "
                         f"{_shown(df[col].iloc[i])} ({int(bad.sum())} such rows; nothing is dropped silently)")
    t = None
    if date_col is not None:
        cols = [c.strip() for c in str(date_col).split(",")]
        absent = [c for c in cols if c not in df.columns]
        if absent or len(cols) > 2:
            raise InputError(f"{path}: line 1 (header): date column(s) {absent or cols} not found; give one column "
                             f"or 'year,month'; columns: {list(df.columns)}")
        t = (_year_month(df, cols, path, lines) if len(cols) == 2
             else _parse_time(df[date_col], path, date_col, lines))
        order = np.argsort(t.to_numpy(), kind="stable")
        if (np.diff(order) < 0).any():
            raise InputError(f"{path}: column {date_col!r} is not in increasing order (sort the file first)")
        if t.duplicated().any():
            i = int(np.flatnonzero(t.duplicated().to_numpy())[0])
            raise InputError(f"{path}: line {int(lines[i])}, column {date_col!r}: duplicate time "
                             f"{_shown(df[date_col].iloc[i])}")
    off = None
    if offset_col is not None:
        if offset_col not in df.columns:
            raise InputError(f"{path}: line 1 (header): offset column {offset_col!r} not found; columns: "
                             f"{list(df.columns)}")
        off = pd.to_numeric(df[offset_col], errors="coerce").astype("float64")
        bad = off.isna() | (off <= 0) | ~np.isfinite(off.to_numpy(dtype=float, na_value=np.nan))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{path}: line {int(lines[i])}, column {offset_col!r}: expected a positive exposure, "
                             f"got {_shown(df[offset_col].iloc[i])}")
    return {"y": y.astype(float), "time": t, "offset": off, "label": f"{Path(path).name}:{col}", "input": path,
            "outcome": col, "notes": time_gaps(t, str(date_col))[1] if t is not None else []}


def _series_values(cells: pd.Series, path: str, column: str, lines: np.ndarray) -> pd.Series:
    """A series column as float64 (NaN where a cell is empty or not a number), its whole numbers read
    exactly (:func:`forecast.validate.integer_cells`, the readers' one reading of counts): a whole number
    beyond 2**53 in absolute value, which a float would silently round, is a one-line error naming the
    file, line and column, worded as ingest words it."""
    ints = integer_cells(cells)
    if ints.too_large.any():
        i = int(np.flatnonzero(ints.too_large)[0])
        issue = Issue(path, int(lines[i]), column, str(cells.iloc[i]), COUNT_LIMIT)
        raise InputError(f"{issue} ({int(ints.too_large.sum())} such rows; a count is never rounded)")
    y = pd.to_numeric(cells, errors="coerce").astype("float64")
    whole = ints.values.notna().to_numpy(dtype=bool)
    if whole.any():  # within 2**53 every whole number is a float exactly
        y[whole] = ints.values[whole].to_numpy(dtype=np.int64).astype("float64")
    return y


def _label_of(time: pd.Series | None, i: int):
    if time is None:
        return int(i)
    v = time.iloc[int(i)]
    if isinstance(v, pd.Timestamp) or np.issubdtype(np.asarray(time).dtype, np.datetime64):
        return pd.Timestamp(v).strftime("%Y-%m-%d")
    return float(v) if not float(v).is_integer() else int(v)


def _is_count(y: np.ndarray) -> bool:
    return bool(np.all(y >= 0) and np.all(y == np.round(y)))


def breaks_analysis(y, time=None, dates: Sequence = (), max_breaks: int | None = 5, min_size: float = 0.15,
                    cost: str = "l2", level: float = 0.95, random_seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """Known-date tests, sup-F, Bai-Perron breaks with intervals and segments (``pakcast breaks``).

    The model is a mean shift (the segments' means change). Known dates get the Chow F test and,
    for count series, the NB2 likelihood-ratio test. ``cost`` chooses the Bai-Perron segment cost
    (``l2`` = R strucchange ``breakpoints``; ``poisson``/``negbin`` for counts).
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    tser = None if time is None else pd.Series(time).reset_index(drop=True)
    known = []
    for d in dates:
        if tser is None:
            fp = int(d)
        elif np.issubdtype(np.asarray(tser).dtype, np.datetime64):
            fp = _first_at_or_after(tser, d)
        else:
            pos = np.flatnonzero(tser.to_numpy(dtype=float) >= float(d))
            fp = int(pos[0]) if len(pos) else None
        if fp is None or fp < 2 or n - fp < 2:
            raise ValueError(f"date {d!r}: needs at least 2 observations on each side (series {n} long)")
        tests = [chow_test(y, fp - 1)]
        if _is_count(y):
            tests.append(count_lr_test(y, fp - 1, family="negbin"))
        for r in tests:
            known.append({"date": str(d), "test": r.test, "statistic": r.statistic, "p_value": r.pvalue,
                          "n_pre": r.n_pre, "n_post": r.n_post, "df": list(r.df)})
    sf = sup_f_test(y, trim=min_size, random_seed=random_seed)
    if cost != "l2" and not _is_count(y):
        raise ValueError(f"cost {cost!r} needs non-negative integer counts; use cost 'l2'")
    bp = BaiPerron(y, cost=cost, min_size=min_size, max_breaks=max_breaks).fit(random_seed=random_seed)
    ci = bp.conf_int(alpha=1 - level)
    breaks = [{"date": _label_of(tser, r["index"]), "index": int(r["index"]),
               "ci_low": _label_of(tser, r["ci_low"]), "ci_high": _label_of(tser, r["ci_high"]),
               "ci_low_index": int(r["ci_low"]), "ci_high_index": int(r["ci_high"]),
               "n_post": int(n - r["index"] - 1)} for _, r in ci.iterrows()]
    segs = [{"start": _label_of(tser, s["start"]), "end": _label_of(tser, s["end"]), "n": int(s["n"]),
             "mean": float(s["mean"])} for _, s in bp.segments().iterrows()]
    cus = ols_cusum(y)
    return {
        "n": n, "start": _label_of(tser, 0), "end": _label_of(tser, n - 1),
        "known": known,
        "unknown": {"sup_f": {"statistic": sf.statistic, "p_value": sf.pvalue, "date": _label_of(tser, sf.break_index),
                              "index": sf.break_index, "trim": min_size},
                    "breaks": breaks, "n_breaks": bp.n_breaks, "criterion": "bic", "cost": bp.cost.model,
                    "min_size": bp.h, "level": level,
                    "table": [{"m": int(m), "cost": r["cost"], "bic": r["bic"], "breaks": r["breaks"]}
                              for m, r in bp.table.iterrows()],
                    "sequential": [{"l": int(l), "statistic": r["statistic"], "p_value": r["p_value"]}
                                   for l, r in bp.sequential.iterrows()]},
        "segments": segs,
        "cusum": {"statistic": cus.statistic, "p_value": cus.pvalue},
        "conventions": "index = 0-based position of the last observation before the break; date = that observation",
    }


def its_analysis(y, time=None, interventions: Sequence = (), effects: str = "level+slope", family: str = "negbin",
                 seasonality: int = 0, offset=None, cov_type: str = "HAC", random_seed: int = DEFAULT_SEED,
                 period: int | None = None):
    """Fit the ITS behind ``pakcast its``; returns ``(ITSResults, dict)``."""
    t = time
    if t is not None and not np.issubdtype(np.asarray(t).dtype, np.datetime64):
        try:
            # a number on the axis, kept whole when it is (``1899``, never ``1899.0``, in every label)
            interventions = [_num_label(float(i)) for i in interventions]
        except ValueError:
            raise ValueError(f"--intervention {list(interventions)}: the time axis is numeric, so give the "
                             "intervention as a number on it (for example --intervention 37)") from None
    if seasonality and period is None and (t is None or not np.issubdtype(np.asarray(t).dtype, np.datetime64)):
        raise ValueError(f"--seasonality {seasonality} on a numeric time axis needs the season length: give --period "
                         "(the number of steps in a year, e.g. --period 12 for monthly steps), or a date column")
    res = InterruptedTimeSeries(y, t, list(interventions), effects=effects, family=family, seasonality=seasonality,
                                period=period, offset=offset, cov_type=cov_type).fit(random_seed=random_seed)
    d = res.to_dict()
    tt = res.model.time
    d.update({"family": family, "effects": effects, "seasonality": seasonality, "n_obs": res.nobs,
              "start": None if tt is None else _label_of(tt, 0), "end": None if tt is None else _label_of(tt, res.nobs - 1),
              "dispersion": d["checks"]["pearson_dispersion"]})
    return res, d


# --------------------------------------------------------------------------------------------
# the ITS study: one typed result, written once
# --------------------------------------------------------------------------------------------
FAMILY_WORDS = {"negbin": "negative binomial", "quasipoisson": "quasi-Poisson", "poisson": "Poisson"}
SHIPPED_PANEL_SOURCE = PAKISTAN.source("ucdp")


#: the shipped panel's measures in words (a count noun: "1,234 people killed were recorded")
PANEL_OUTCOME_WORDS = {"attacks": "attacks", "killed": "people killed"}


def outcome_words(outcome: str, label: str | None = None, panel: bool = False) -> tuple[str, str]:
    """``(count noun, series name)`` of an ITS outcome: what a number of it is called ("19,723 ___ were
    recorded") and what the series is called ("59 months of ___").

    ``label`` (``--outcome-label``) is both. Without it a shipped panel measure reads in words
    (:data:`PANEL_OUTCOME_WORDS`); a user's column is never taken for an English noun (``aces`` is not
    "aces"): it reads "units of aces" and "the outcome aces", its name as the file spells it (white space
    collapsed, nothing guessed)."""
    if label is not None and " ".join(str(label).split()):
        text = " ".join(str(label).split())
        return text, text
    name = " ".join(str(outcome).split()) or "outcome"
    if panel and name in PANEL_OUTCOME_WORDS:
        return PANEL_OUTCOME_WORDS[name], PANEL_OUTCOME_WORDS[name]
    return f"units of {name}", f"the outcome {name}"


def _fmt_n(v: float) -> str:
    """Counts in the narrative: whole numbers with separators, one decimal below 10."""
    v = float(v)
    return f"{v:,.1f}" if abs(v) < 10 and v != round(v) else f"{v:,.0f}"


def _period_label(time: pd.Series | None, i: int, unit: str) -> str:
    return _short(_label_of(time, i), unit)


def _short(v: Any, unit: str) -> str:
    s = str(v)
    return s[:7] if unit == "month" and len(s) >= 10 else s[:4] if unit == "year" and len(s) >= 10 else s


def _impact_summary(iv: dict[str, Any], res, j: int, unit: str, outcome_label: str) -> dict[str, Any]:
    """CausalImpact's summary for intervention ``j``: average, cumulative and relative effect."""
    ex = iv["excess"]
    n_post = int(iv["n_post"])
    obs, cf = float(ex["observed"]), float(ex["counterfactual"])
    lo, hi = float(ex["ci_low"]), float(ex["ci_high"])
    # relative effect obs / Y_cf - 1 is monotone in Y_cf, so its interval follows from Y_cf's
    cf_low, cf_high = obs - hi, obs - lo
    rel = obs / cf - 1 if cf > 0 else None
    rel_lo = obs / cf_high - 1 if cf_high > 0 else None
    rel_hi = obs / cf_low - 1 if cf_low > 0 else None
    verdict = "inconclusive" if lo <= 0 <= hi else ("decrease" if hi < 0 else "increase")
    first, last = (_short(v, unit) for v in ex["window"])
    return {"intervention": iv["date"], "first_post": first, "last_post": last, "n_pre": int(iv["n_pre"]), "n_post": n_post,
            "observed": obs, "counterfactual": cf, "counterfactual_low": cf_low, "counterfactual_high": cf_high,
            "cumulative_effect": float(ex["estimate"]), "cumulative_low": lo, "cumulative_high": hi,
            "average_effect": float(ex["estimate"]) / n_post, "average_low": lo / n_post, "average_high": hi / n_post,
            "relative_effect": rel, "relative_low": rel_lo, "relative_high": rel_hi, "verdict": verdict,
            "level": float(res.level), "outcome_label": outcome_label, "unit": unit}


def its_narrative(impact: list[dict[str, Any]], interventions: list[dict[str, Any]], model: dict[str, Any],
                  checks: dict[str, Any], source: str, data_notes: list[str]) -> list[str]:
    """The plain-language summary of an ITS study (one paragraph per intervention, then what it rests on)."""
    out = []
    for imp, iv in zip(impact, interventions):
        o, u = imp["outcome_label"], imp["unit"]
        pct = lambda v: "–" if v is None else f"{100 * abs(v):.0f}%"  # noqa: E731
        span = f"{imp['n_post']} {u}{'s' if imp['n_post'] != 1 else ''} from {imp['first_post']} to {imp['last_post']}"
        level = f"{100 * imp['level']:.0f}%"
        if imp["verdict"] == "inconclusive":
            head = (f"After {iv['date']}, {_fmt_n(imp['observed'])} {o} were recorded over {span}, against "
                    f"{_fmt_n(imp['counterfactual'])} expected had the earlier trend continued. The difference, "
                    f"{_fmt_n(imp['cumulative_effect'])} ({level} interval {_fmt_n(imp['cumulative_low'])} to "
                    f"{_fmt_n(imp['cumulative_high'])}), includes no change: the effect is inconclusive.")
        else:
            word = "fewer" if imp["verdict"] == "decrease" else "more"
            head = (f"After {iv['date']}, {_fmt_n(imp['observed'])} {o} were recorded over {span}, against "
                    f"{_fmt_n(imp['counterfactual'])} expected had the earlier trend continued: "
                    f"{_fmt_n(abs(imp['cumulative_effect']))} {word} in total ({level} interval "
                    f"{_fmt_n(abs(imp['cumulative_high' if word == 'fewer' else 'cumulative_low']))} to "
                    f"{_fmt_n(abs(imp['cumulative_low' if word == 'fewer' else 'cumulative_high']))} {word}), "
                    f"about {_fmt_n(abs(imp['average_effect']))} {word} per {u}.")
            if imp["relative_effect"] is not None and imp["relative_low"] is not None and imp["relative_high"] is not None:
                a, b = sorted((abs(imp["relative_low"]), abs(imp["relative_high"])))
                head += (f" That is {pct(imp['relative_effect'])} {'below' if word == 'fewer' else 'above'} the "
                         f"expected level ({level} interval {100 * a:.0f}% to {100 * b:.0f}%).")
        lv = iv.get("level_rate_ratio") or {}
        if lv.get("estimate") is not None:
            head += (f" The immediate step at the intervention multiplies the rate by {lv['estimate']:.3g} "
                     f"({lv['ci_low']:.3g} to {lv['ci_high']:.3g}; 1 = no change)")
            sl = iv.get("slope_rate_ratio") or {}
            if sl.get("estimate") is not None:
                head += (f", and the trend changes by a factor of {sl['estimate']:.4g} per {u} "
                         f"({sl['ci_low']:.4g} to {sl['ci_high']:.4g})")
            head += "."
        out.append(head)
    imp0 = impact[0]
    rests = (f"What it rests on: {source}; {imp0['n_pre']} {imp0['unit']}s before the first intervention and "
             f"{sum(i['n_post'] for i in impact)} after. The counterfactual assumes that the trend"
             + (" and seasonal pattern" if model.get("seasonality") else "")
             + " before the intervention would have continued unchanged and that nothing else changed at the "
             f"same time. Model: a segmented {FAMILY_WORDS.get(model.get('family'), model.get('family'))} count "
             "regression" + (" with an exposure offset" if model.get("offset") else "")
             + (", standard errors robust to autocorrelation (Newey-West)" if model.get("cov_type") == "HAC" else "")
             + f". Residual autocorrelation at lag 1: {checks.get('acf_lag1', float('nan')):.2f}"
             + (" (above the 95% band: intervals may be too narrow)"
                if abs(checks.get("acf_lag1", 0)) > checks.get("acf_band", 1) else "") + ".")
    out.append(rests)
    out.extend(data_notes)
    return out


def run_its_study(data: dict[str, Any], interventions: Sequence, *, effects: str = "level+slope",
                  family: str = "negbin", seasonality: int = 0, period: int | None = None, cov_type: str = "HAC",
                  random_seed: int = DEFAULT_SEED, outcome_label: str | None = None,
                  source_label: str | None = None, options: dict[str, Any] | None = None,
                  run_id: str | None = None):
    """Fit an ITS on a loaded series (:func:`load_series`) and return ``(ITSResults, ITSStudyResult)``.

    The result carries the effects, the per-period counterfactual and pointwise and cumulative
    effects with intervals (:meth:`ITSResults.impact`), the summary per intervention (average,
    cumulative and relative effect), a narrative and the credit for the data: the user's file
    (name, sha256, ``source_label``) or the shipped panel. ``outcome_label`` names the outcome in
    words ("acute coronary events"); without it a CSV column reads "units of COLUMN"
    (:func:`outcome_words`).
    """
    from pakcast.forecast.run_result import ITSStudyResult, SourceCredit

    res, d = its_analysis(data["y"], data["time"], interventions, effects=effects, family=family,
                          seasonality=seasonality, offset=data.get("offset"), cov_type=cov_type,
                          random_seed=random_seed, period=period)
    t = data["time"]
    outcome = str(data.get("outcome") or "outcome")
    label, series_name = outcome_words(outcome, outcome_label, panel=not data.get("input"))
    is_num = t is not None and not np.issubdtype(np.asarray(t).dtype, np.datetime64)
    unit = res.model.unit if not is_num else str((options or {}).get("date_col") or "step")
    if unit == "unit":
        unit = "step"
    start, end = _period_label(t, 0, unit), _period_label(t, res.nobs - 1, unit)
    if data.get("input"):
        credit = SourceCredit.user_file(data["input"], source_label, rows=int(res.nobs), coverage=f"{start} to {end}")
    else:
        credit = SourceCredit(name=source_label or SHIPPED_PANEL_SOURCE, file=None, rows=int(res.nobs),
                              coverage=f"{start} to {end}", licence="CC BY 4.0", role="shipped panel")
    pointwise, impact = [], []
    for j, iv in enumerate(d["interventions"], start=1):
        imp = res.impact(j)
        for i, r in enumerate(imp.itertuples(index=False)):
            rec = {"intervention": iv["date"], "time": _period_label(t, i, unit), "post": bool(r.post)}
            for k in ("observed", "counterfactual", "counterfactual_low", "counterfactual_high", "effect",
                      "effect_low", "effect_high", "cumulative_effect", "cumulative_low", "cumulative_high"):
                v = float(getattr(r, k))
                rec[k] = v if np.isfinite(v) else None
            pointwise.append(rec)
        impact.append(_impact_summary(iv, res, j, unit, label))
    notes = list(data.get("notes") or [])
    narrative = its_narrative(impact, d["interventions"], d["model"], d["checks"],
                              f"{res.nobs} {unit}s of {series_name} from {credit.line}", notes)
    result = ITSStudyResult(series=str(data.get("label")), outcome=outcome, outcome_label=label, time_unit=unit,
                            n_obs=int(res.nobs), start=start, end=end, interventions=d["interventions"],
                            model=d["model"], params=d["params"], checks=d["checks"], pointwise=pointwise,
                            impact=impact, narrative=narrative, data_notes=notes, sources=[credit],
                            options=dict(options or {}), run_id=run_id,
                            created=pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"))
    return res, result


def write_its_study(result, manifest, *, out_dir: str | Path | None = None, json_path: str | Path | None = None,
                    report: bool = True) -> dict[str, Path]:
    """Write an ITS study once: ``--json FILE`` (the result + ``FILE.manifest.json``) and/or a study
    directory ``--out DIR`` (``results.json``, ``its.csv`` with the per-period effects, the
    briefing with its figures, and ``manifest.json`` listing exactly those files)."""
    from pakcast.forecast.io import write_csv, write_json
    from pakcast.forecast.manifest import write_beside
    from pakcast.forecast.run_result import write_result

    written: dict[str, Path] = {}
    result.run_id = manifest.run_id
    if json_path is not None:
        written["json"] = write_json(json_path, result.to_dict())
        write_beside(manifest, [json_path])
    if out_dir is not None:
        from pakcast.forecast.io import OutDir, prepare_out_dir

        study = out_dir if isinstance(out_dir, OutDir) else prepare_out_dir(out_dir)
        d = study.path
        study.begin(manifest)  # status "incomplete" until the last file is written
        written["results"] = write_result(result, d)
        written["csv"] = write_csv(d / "its.csv", pd.DataFrame(result.pointwise))
        if report:
            from pakcast.forecast.report import build_report

            written.update(build_report(d, result=result))
        study.finish(manifest)  # lists exactly the files this run wrote
    return written
