"""Read a run directory (quarterly run or ITS study) into one :class:`RunInputs` object.

A quarterly run directory (contract in ``docs/ARCHITECTURE.md``) holds ``manifest.json``,
``panel.csv``, ``forecast.csv``, ``backtest.csv``, ``results.json`` (read by
:func:`pakcast.forecast.run_result.read_result`), ``breaks.json``, ``attribution.json`` and
``reported.csv`` (the published aggregates the run compared with). Every part is optional for the briefing: a part that is
absent or unreadable becomes a :class:`Missing` with the reason, which the briefing shows as a
visible "not available in this run" block. Malformed content that *is* present raises
:class:`RunDirError` naming the file, row, column and expectation (a briefing must not quietly
show half a table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pakcast.forecast.errors import InputError
from pakcast.forecast.io import read_json_object

FORECAST_COLUMNS = (
    "province", "quarter", "measure", "mean", "q05", "q25", "q50", "q75", "q95",
    "last_year", "p_gt_last_year",
)
PANEL_COLUMNS = ("province", "period", "attacks", "killed")
NUMERIC_FORECAST = ("mean", "q05", "q25", "q50", "q75", "q95", "last_year", "p_gt_last_year")


class RunDirError(InputError):
    """A file in the run directory is present but does not meet its contract."""


@dataclass(frozen=True)
class Missing:
    """A part of the run that is not available, with the reason shown to the reader."""

    reason: str

    def __bool__(self) -> bool:  # a Missing part is falsy, so ``if inputs.forecast:`` reads well
        return False


@dataclass
class RunInputs:
    """Everything the briefing reads from one run directory."""

    run_dir: Path
    kind: str  # "quarterly" or "its"
    manifest: dict[str, Any] | Missing
    panel: pd.DataFrame | Missing
    forecast: pd.DataFrame | Missing
    backtest: pd.DataFrame | Missing
    breaks: dict[str, Any] | Missing
    attribution: dict[str, Any] | Missing
    reported: pd.DataFrame | Missing
    notes: list[str] = field(default_factory=list)
    #: a fused run's ``fused.csv``, ``observations.csv`` (cover as tuples, first/last monthly
    #: Periods) and ``sources.csv``
    fused: pd.DataFrame | Missing = Missing("fused.csv is not in this run directory (not a fused run)")
    observations: pd.DataFrame | Missing = Missing("observations.csv is not in this run directory (not a fused run)")
    scales: pd.DataFrame | Missing = Missing("sources.csv is not in this run directory (not a fused run)")


def _read_json(path: Path, what: str) -> dict[str, Any] | Missing:
    if not path.exists():
        return Missing(f"{path.name} is not in this run directory ({what} was not produced)")
    data = read_json_object(path, RunDirError)
    status = data.get("status") or data.get("error")
    if isinstance(status, str) and data.keys() <= {"status", "error", "reason", "detail"}:
        # a producer that records why it could not run (never silently): show its reason
        return Missing(f"{path.name}: {data.get('reason') or data.get('detail') or status}")
    return data


def _read_csv(path: Path, required: tuple[str, ...], what: str) -> pd.DataFrame | Missing:
    if not path.exists():
        return Missing(f"{path.name} is not in this run directory ({what} was not produced)")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: cannot be read as CSV: {exc}") from exc
    absent = [c for c in required if c not in df.columns]
    if absent:
        raise RunDirError(
            f"{path}: row 1 (header): missing column(s) {absent}; expected at least {list(required)}"
        )
    return df


def _check_numeric(df: pd.DataFrame, path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    out = df.copy()
    for col in columns:
        if col not in out.columns:
            continue
        values = pd.to_numeric(out[col], errors="coerce")
        bad = values.isna() & out[col].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise RunDirError(
                f"{path}: row {i + 2}, column {col!r}: expected a number, found {out[col].iloc[i]!r}"
            )
        out[col] = values.astype(float)
    return out


def _validate_forecast(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    df = _check_numeric(df, path, NUMERIC_FORECAST)
    df["province"] = df["province"].astype(str)
    df["measure"] = df["measure"].astype(str)
    df["quarter"] = df["quarter"].astype(str)
    try:
        pd.PeriodIndex(df["quarter"], freq="Q")
    except (ValueError, TypeError) as exc:
        raise RunDirError(f"{path}: column 'quarter': expected quarters like 2022Q1 ({exc})") from exc
    q = df[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    disorder = np.flatnonzero((np.diff(q, axis=1) < -1e-9).any(axis=1))
    if disorder.size:
        i = int(disorder[0])
        raise RunDirError(
            f"{path}: row {i + 2}, columns q05..q95: quantiles must be non-decreasing, found {q[i].tolist()}"
        )
    negative = np.flatnonzero((df[["mean", "q05"]].to_numpy() < 0).any(axis=1))
    if negative.size:
        i = int(negative[0])
        raise RunDirError(f"{path}: row {i + 2}, columns mean/q05: counts cannot be negative")
    return df


def _validate_panel(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    measures = tuple(c for c in ("attacks", "killed", "killed_low", "killed_high", "population") if c in df.columns)
    df = _check_numeric(df, path, measures)
    try:
        ds = pd.to_datetime(df["period"].astype(str), format="mixed")
    except (ValueError, TypeError) as exc:
        raise RunDirError(f"{path}: column 'period': expected dates or year-months ({exc})") from exc
    df["period"] = ds.dt.to_period("M").dt.to_timestamp()
    df["province"] = df["province"].astype(str)
    return df


def read_run_dir(run_dir: str | Path) -> RunInputs:
    """Read the files of a quarterly run directory that the briefing draws (``results.json`` is read
    by :func:`pakcast.forecast.run_result.read_result`, the one reader of run results).

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` does not exist.
    RunDirError
        If a file is present but breaks its contract (the message names file, row and column).
    """
    d = Path(run_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"run directory {d} does not exist")
    manifest = _read_json(d / "manifest.json", "the run manifest")
    panel = _read_csv(d / "panel.csv", PANEL_COLUMNS, "the monthly panel")
    if not isinstance(panel, Missing):
        panel = _validate_panel(panel, d / "panel.csv")
    forecast = _read_csv(d / "forecast.csv", FORECAST_COLUMNS, "the quarterly forecast")
    if not isinstance(forecast, Missing):
        forecast = _validate_forecast(forecast, d / "forecast.csv")
    reported = _read_csv(d / "reported.csv", ("source", "period", "region", "metric", "value"),
                         "the published aggregates compared with")
    fused = _read_csv(d / "fused.csv", ("province", "month", "measure", "mean", "median", "q05", "q25", "q75", "q95"),
                      "the fused series")
    if not isinstance(fused, Missing):
        fused = _check_numeric(fused, d / "fused.csv", ("mean", "median", "q05", "q25", "q75", "q95"))
    obs = _read_csv(d / "observations.csv", ("source", "metric", "measure", "cover", "first", "last", "value"),
                    "the fused run's observation table")
    if not isinstance(obs, Missing):
        obs = _check_numeric(obs, d / "observations.csv", ("value",))
        try:
            obs["first"] = pd.PeriodIndex(obs["first"].astype(str), freq="M")
            obs["last"] = pd.PeriodIndex(obs["last"].astype(str), freq="M")
        except (ValueError, TypeError) as exc:
            raise RunDirError(f"{d / 'observations.csv'}: columns first/last: expected months YYYY-MM ({exc})") from exc
        obs["cover"] = obs["cover"].astype(str).map(lambda c: tuple(c.split(";")))
    scales = _read_csv(d / "sources.csv", ("source", "metric", "measure", "scale"), "the fused run's source scales")
    if not isinstance(scales, Missing):
        scales = _check_numeric(scales, d / "sources.csv", ("scale", "scale_ci_low", "scale_ci_high", "n_obs"))
    return RunInputs(
        run_dir=d,
        kind="quarterly",
        manifest=manifest,
        panel=panel,
        forecast=forecast,
        backtest=_read_csv(d / "backtest.csv", (), "the backtest"),
        breaks=_read_json(d / "breaks.json", "the structural-break study"),
        attribution=_read_json(d / "attribution.json", "the attribution study"),
        reported=reported,
        fused=fused,
        observations=obs,
        scales=scales,
    )
