"""The Hawkes study behind ``pakcast hawkes``: event selection, day times, fit, count forecast.

Event times come from the shipped per-event table (day-precision dates only; coarser dates are
counted and excluded) or from a user CSV (dates or numeric day times). Day-resolution dates
are turned into times with the documented tie rule: each event is placed uniformly at random
inside its day (``day + U(0,1)``, seeded), which keeps the likelihood of
:class:`pakcast.models.hawkes.HawkesExp` finite. The fit is

.. math::

    \\lambda(t) = \\mu + \\alpha \\sum_{t_i < t} \\beta e^{-\\beta (t - t_i)},

with branching ratio :math:`\\alpha` (expected direct offspring per event); the three 30-day
count forecasts are simulated by Ogata thinning with parameter uncertainty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.errors import InputError
from pakcast.forecast.jobs import JobResult, read_user_csv, write_json_output
from pakcast.forecast.manifest import RunManifest

__all__ = ["event_days_from_shipped", "event_days_from_csv", "hawkes_times", "run_hawkes_study",
           "FORECAST_BIN_DAYS", "FORECAST_BINS"]

FORECAST_BIN_DAYS = 30
FORECAST_BINS = 3
MIN_EVENTS = 5


def event_days_from_shipped(province: str | None, fata: str = "merge", scope: str = "militant",
                            start: str | None = None) -> tuple[pd.Series, dict]:
    """Day-precision event dates (on or after ``start``) from the shipped event table, with
    the number of events excluded for coarser date precision."""
    from pakcast.forecast.panel import load_shipped_events, select_events
    from pakcast.forecast.provinces import apply_fata, canonical_province

    ev = select_events(load_shipped_events(), scope=scope)
    ev = ev.assign(province=apply_fata(ev["province"], fata))
    info = {"source": f"shipped per-event table ({PAKISTAN.source('ucdp_version')}, scope={scope}, fata={fata})"}
    if province:
        try:
            canon = canonical_province(province)
        except KeyError:
            canon = None
        if canon is None:
            raise InputError(f"--series: unknown province {province!r}")
        ev = ev[(ev["province"] == canon).fillna(False).to_numpy(dtype=bool)]
        info["province"] = canon
    if start is not None:
        ev = ev[(ev["date"] >= pd.Timestamp(start)).fillna(False).to_numpy(dtype=bool)]
    precise = (ev["date_precision"] == "day").fillna(False).to_numpy(dtype=bool)
    info["n_excluded_imprecise_dates"] = int((~precise).sum())
    info["coverage_end"] = str(load_shipped_events()["date"].max().date())
    return ev.loc[precise, "date"].dt.normalize(), info


def event_days_from_csv(path: Path, time_col: str, province: str | None, encoding: str = "utf-8"
                        ) -> tuple[pd.Series | np.ndarray, dict]:
    """Event dates (or numeric day times) from a user CSV; errors name file, row and column."""
    df = read_user_csv(path, encoding=encoding)
    if time_col not in df.columns:
        raise InputError(f"{path}: no column {time_col!r} (columns: {list(df.columns)}); set --date-col")
    info = {"source": str(path), "time_col": time_col}
    if province:
        if "province" not in df.columns:
            raise InputError(f"{path}: --series needs a 'province' column")
        df = df[(df["province"].astype("string") == province).fillna(False).to_numpy(dtype=bool)]
        info["province"] = province
    col = df[time_col]
    if pd.api.types.is_numeric_dtype(col):
        bad = ~np.isfinite(col.to_numpy(dtype=float))
        if bad.any():
            row = int(df.index[bad][0]) + 2
            raise InputError(f"{path}, row {row}, column {time_col!r}: expected a number (days), got {col[bad].iloc[0]!r}")
        return col.to_numpy(dtype=float), info
    parsed = pd.to_datetime(col, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(df.index[bad][0]) + 2  # header is line 1
        raise InputError(f"{path}, row {row}, column {time_col!r}: expected a date (YYYY-MM-DD), got {col[bad].iloc[0]!r}")
    return parsed.dt.normalize(), info


def hawkes_times(dates: pd.Series | np.ndarray, random_seed: int) -> tuple[np.ndarray, str, pd.Timestamp | None]:
    """Times in days since the first event's day; day-precision dates are jittered within the day."""
    from pakcast.models.hawkes import jitter_day_times

    if isinstance(dates, np.ndarray):  # numeric days
        t = np.sort(dates - np.floor(dates.min()))
        if np.all(t == np.floor(t)):
            return jitter_day_times(t, random_seed), "jitter U(0,1) within the day (integer day times)", None
        if np.any(np.diff(t) == 0):
            raise InputError("numeric times contain ties that are not whole days; break them before fitting")
        return t, "none (continuous times)", None
    d = pd.Series(dates).sort_values()
    start = d.iloc[0]
    days = ((d - start).dt.days).to_numpy(dtype=float)
    return jitter_day_times(days, random_seed), "jitter U(0,1) within the day", start


def run_hawkes_study(*, province: str | None = None, csv: Path | None = None, time_col: str = "date",
                     start: str | None = None, end: str | None = None, fata: str = "merge",
                     random_seed: int, n_samples: int = 1000, json_out: Path | None = None,
                     encoding: str = "utf-8") -> JobResult:
    """Fit an exponential-kernel Hawkes process to event times (MLE) and forecast counts.

    Returns a :class:`~pakcast.forecast.jobs.JobResult` whose payload has ``mu, alpha, beta,
    branching_ratio`` (estimate, ci_low, ci_high), ``loglik``, ``n_events``, ``forecast`` (three
    30-day bins: mean, q05, q50, q95), ``data`` and ``manifest``; written to ``json_out`` when
    given (with ``<stem>.manifest.json``).
    """
    from pakcast.models.hawkes import HawkesExp

    if csv is not None:
        dates, info = event_days_from_csv(csv, time_col, province, encoding=encoding)
    else:
        dates, info = event_days_from_shipped(province, fata, start=start)
    if start is not None and not isinstance(dates, np.ndarray):
        dates = dates[dates >= pd.Timestamp(start)]
    if len(dates) < MIN_EVENTS:
        raise InputError(f"only {len(dates)} events with day-precision dates in the selection; "
                         f"need at least {MIN_EVENTS}")
    times, ties, first = hawkes_times(dates, random_seed)
    if first is not None and start is not None:  # the window opens at --start, not at the first event
        offset = float((first - pd.Timestamp(start)).days)
        times, first = times + offset, pd.Timestamp(start)
    origin = first
    if origin is not None:
        end_ts = pd.Timestamp(end or info.get("coverage_end") or pd.Series(dates).max())
        T = float((end_ts - origin).days + 1)
    else:
        T = float(end) if end is not None else float(np.ceil(times[-1]))
    if T < times[-1]:
        raise InputError(f"--end {end} is before the last event")
    res = HawkesExp(times, T=T).fit()
    out = res.to_dict()
    edges = T + FORECAST_BIN_DAYS * np.arange(FORECAST_BINS + 1, dtype=float)
    fc = res.forecast_counts(edges, n_samples=n_samples, random_seed=random_seed)
    out["forecast"] = {
        "bin_days": FORECAST_BIN_DAYS,
        "bins": [{"start_day": float(edges[j]), "end_day": float(edges[j + 1]),
                  **({"start": str((origin + pd.Timedelta(days=int(edges[j]))).date())} if origin is not None else {}),
                  "mean": float(fc[:, j].mean()),
                  **{f"q{int(q * 100):02d}": float(np.quantile(fc[:, j], q)) for q in (0.05, 0.5, 0.95)}}
                 for j in range(FORECAST_BINS)],
        "n_samples": n_samples,
        "parameter_draws": res.parameter_draws(),
        "note": "simulated by Ogata thinning from the fitted process, parameters drawn per path as recorded "
                "in parameter_draws",
    }
    out["data"] = {**info, "window_start": None if origin is None else str(origin.date()), "T_days": T,
                   "ties": ties, "time_unit": "day"}
    manifest = RunManifest(command="hawkes", options={
        "province": province, "start": str(origin.date()) if origin is not None else None,
        "csv": str(csv) if csv else None, "time_col": time_col, "end": end, "fata": fata, "n_samples": n_samples,
        "encoding": encoding},
        random_seeds={"jitter_and_forecast": random_seed})
    if csv is not None:
        manifest.add_input(csv, role="events")
    else:
        from pakcast.forecast import paths
        from pakcast.forecast.panel import SHIPPED_EVENTS

        manifest.add_input(paths.shipped(SHIPPED_EVENTS), role="shipped events")
    out["manifest"] = manifest.to_dict()
    written = write_json_output(json_out, out, manifest)
    br = out["branching_ratio"]
    if res.boundary:
        line = (f"Hawkes fit {info.get('province', 'all')}: n_events={res.n_events}, branching ratio 0 (boundary: "
                f"consistent with a homogeneous Poisson process), one-sided {out['ci_level']:g} upper bound "
                f"{br['ci_high']:.3f}; forecast from the Poisson approximation")
    elif not res.covariance_ok:
        line = (f"Hawkes fit {info.get('province', 'all')}: n_events={res.n_events}, branching ratio "
                f"{br['estimate']:.3f} (no interval: {res.status}), half-life {res.half_life_days:.2f} days")
    else:
        line = (f"Hawkes fit {info.get('province', 'all')}: n_events={res.n_events}, branching ratio "
                f"{br['estimate']:.3f} [{br['ci_low']:.3f}, {br['ci_high']:.3f}], "
                f"half-life {res.half_life_days:.2f} days")
    bins = "; ".join(f"{b.get('start', b['start_day'])}: {b['mean']:.1f} (90% {b['q05']:.0f}-{b['q95']:.0f})"
                     for b in out["forecast"]["bins"])
    return JobResult(payload=out, outputs=written, lines=[line, f"  next {FORECAST_BINS} x {FORECAST_BIN_DAYS} days: {bins}"])
