"""``pakcast hawkes``: fit a self-exciting (Hawkes) model to attack times.

Thin layer: reads the event times (the shipped per-event table, or a user CSV), turns dates
into day-resolution times with the documented tie rule (uniform jitter within the day,
seeded), calls :class:`models.hawkes.HawkesExp` and writes the JSON with
:func:`forecast.io.write_json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import typer
from rich.console import Console

from pakcast.forecast._cli_app import app, bayes_app, data_app  # noqa: F401

console = Console(stderr=True)

FORECAST_BIN_DAYS = 30
FORECAST_BINS = 3


def event_days_from_shipped(province: str | None, fata: str = "merge", scope: str = "militant",
                            start: str | None = None):
    """Day-precision event dates (on or after ``start``) from the shipped event table, with
    the number of events excluded for coarser date precision."""
    from pakcast.forecast.panel import load_shipped_events, select_events
    from pakcast.forecast.provinces import apply_fata, canonical_province

    ev = select_events(load_shipped_events(), scope=scope)
    ev = ev.assign(province=apply_fata(ev["province"], fata))
    info = {"source": "shipped per-event table (UCDP GED 22.1, scope=%s, fata=%s)" % (scope, fata)}
    if province:
        canon = canonical_province(province)
        if canon is None:
            raise typer.BadParameter(f"unknown province {province!r}", param_hint="--province")
        ev = ev[(ev["province"] == canon).fillna(False).to_numpy(dtype=bool)]
        info["province"] = canon
    if start is not None:
        ev = ev[(ev["date"] >= pd.Timestamp(start)).fillna(False).to_numpy(dtype=bool)]
    precise = (ev["date_precision"] == "day").fillna(False).to_numpy(dtype=bool)
    info["n_excluded_imprecise_dates"] = int((~precise).sum())
    info["coverage_end"] = str(load_shipped_events()["date"].max().date())
    return ev.loc[precise, "date"].dt.normalize(), info


def event_days_from_csv(path: Path, time_col: str, province: str | None):
    """Event dates (or numeric day times) from a user CSV; errors name file, row and column."""
    df = pd.read_csv(path)
    if time_col not in df.columns:
        raise typer.BadParameter(f"{path}: no column {time_col!r} (columns: {list(df.columns)})", param_hint="--time-col")
    info = {"source": str(path), "time_col": time_col}
    if province:
        if "province" not in df.columns:
            raise typer.BadParameter(f"{path}: --province needs a 'province' column", param_hint="--province")
        df = df[(df["province"].astype("string") == province).fillna(False).to_numpy(dtype=bool)]
        info["province"] = province
    col = df[time_col]
    if pd.api.types.is_numeric_dtype(col):
        bad = ~np.isfinite(col.to_numpy(dtype=float))
        if bad.any():
            row = int(df.index[bad][0]) + 2
            raise typer.BadParameter(f"{path}, row {row}, column {time_col!r}: expected a number (days), got {col[bad].iloc[0]!r}")
        return col.to_numpy(dtype=float), info
    parsed = pd.to_datetime(col, errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(df.index[bad][0]) + 2  # header is line 1
        raise typer.BadParameter(f"{path}, row {row}, column {time_col!r}: expected a date (YYYY-MM-DD), got {col[bad].iloc[0]!r}")
    return parsed.dt.normalize(), info


def hawkes_times(dates, random_seed: int):
    """Times in days since the first event's day; day-precision dates are jittered within the day."""
    from pakcast.models.hawkes import jitter_day_times

    if isinstance(dates, np.ndarray):  # numeric days
        t = np.sort(dates - np.floor(dates.min()))
        if np.all(t == np.floor(t)):
            return jitter_day_times(t, random_seed), "jitter U(0,1) within the day (integer day times)", None
        if np.any(np.diff(t) == 0):
            raise typer.BadParameter("numeric times contain ties that are not whole days; break them before fitting")
        return t, "none (continuous times)", None
    d = pd.Series(dates).sort_values()
    start = d.iloc[0]
    days = ((d - start).dt.days).to_numpy(dtype=float)
    return jitter_day_times(days, random_seed), "jitter U(0,1) within the day", start


@app.command("hawkes")
def hawkes_command(
    json_out: Path = typer.Option(..., "--json", help="Write the fit here (JSON)."),
    province: Optional[str] = typer.Option(None, "--province", help="Province to fit (default: all of Pakistan)."),
    csv: Optional[Path] = typer.Option(None, "--csv", exists=True, dir_okay=False, help="Event CSV instead of the shipped table."),
    time_col: str = typer.Option("date", "--time-col", help="Column with event dates (or numeric times in days)."),
    start: Optional[str] = typer.Option(None, "--start", help="Start of the observation window (date); default: first event."),
    end: Optional[str] = typer.Option(None, "--end", help="End of the observation window (date); default: data coverage end."),
    fata: str = typer.Option("merge", "--fata", help="merge: FATA counts as Khyber Pakhtunkhwa; separate: its own unit."),
    seed: int = typer.Option(0, "--seed", help="Seed for the within-day jitter and the forecast simulation."),
    n_samples: int = typer.Option(1000, "--n-samples", help="Simulated paths for the count forecast."),
) -> None:
    """Fit an exponential-kernel Hawkes process to attack times (MLE) and write
    mu, alpha, beta, branching_ratio (estimate, ci_low, ci_high), loglik, n_events and a
    three-month count forecast."""
    from pakcast.forecast.io import write_json
    from pakcast.forecast.manifest import RunManifest
    from pakcast.models.hawkes import HawkesExp

    if csv is not None:
        dates, info = event_days_from_csv(csv, time_col, province)
    else:
        dates, info = event_days_from_shipped(province, fata, start=start)
    if start is not None and not isinstance(dates, np.ndarray):
        dates = dates[dates >= pd.Timestamp(start)]
    if len(dates) < 5:
        raise typer.BadParameter(f"only {len(dates)} events with day-precision dates in the selection; need at least 5")
    times, ties, first = hawkes_times(dates, seed)
    if first is not None and start is not None:  # the window opens at --start, not at the first event
        offset = float((first - pd.Timestamp(start)).days)
        times, first = times + offset, pd.Timestamp(start)
    start = first
    if start is not None:
        end_ts = pd.Timestamp(end or info.get("coverage_end") or pd.Series(dates).max())
        T = float((end_ts - start).days + 1)
    else:
        T = float(end) if end is not None else float(np.ceil(times[-1]))
    if T < times[-1]:
        raise typer.BadParameter(f"--end {end} is before the last event", param_hint="--end")
    res = HawkesExp(times, T=T).fit()
    out = res.to_dict()
    edges = T + FORECAST_BIN_DAYS * np.arange(FORECAST_BINS + 1, dtype=float)
    fc = res.forecast_counts(edges, n_samples=n_samples, random_seed=seed)
    out["forecast"] = {
        "bin_days": FORECAST_BIN_DAYS,
        "bins": [{"start_day": float(edges[j]), "end_day": float(edges[j + 1]),
                  **({"start": str((start + pd.Timedelta(days=int(edges[j]))).date())} if start is not None else {}),
                  "mean": float(fc[:, j].mean()),
                  **{f"q{int(q * 100):02d}": float(np.quantile(fc[:, j], q)) for q in (0.05, 0.5, 0.95)}}
                 for j in range(FORECAST_BINS)],
        "n_samples": n_samples,
        "note": "simulated by Ogata thinning from the fitted process with parameter uncertainty",
    }
    out["data"] = {**info, "window_start": None if start is None else str(start.date()), "T_days": T,
                   "ties": ties, "time_unit": "day"}
    manifest = RunManifest(command="hawkes", options={"province": province, "start": str(start.date()) if start is not None else None, "csv": str(csv) if csv else None,
                                                       "time_col": time_col, "end": end, "fata": fata,
                                                       "n_samples": n_samples},
                           random_seeds={"jitter_and_forecast": seed})
    if csv is not None:
        manifest.add_input(csv, role="events")
    else:
        from pakcast.forecast import paths
        from pakcast.forecast.panel import SHIPPED_EVENTS

        manifest.add_input(paths.shipped(SHIPPED_EVENTS), role="shipped events")
    out["manifest"] = manifest.to_dict()
    write_json(json_out, out)
    br = out["branching_ratio"]
    console.print(f"[bold]Hawkes fit[/bold] {info.get('province', 'all')}: n_events={res.n_events}, "
                  f"branching ratio {br['estimate']:.3f} [{br['ci_low']:.3f}, {br['ci_high']:.3f}], "
                  f"half-life {res.half_life_days:.2f} days -> {json_out}")
