"""The job behind ``pakcast backtest``: panel in, rolling-origin backtest of the zoo
(:func:`pakcast.forecast.backtest.run_backtest`), JSON (and optionally the long score table)
with a manifest out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from pakcast.forecast.errors import InputError
from pakcast.forecast.jobs import JobResult, input_errors, write_json_output
from pakcast.forecast.manifest import RunManifest, write_beside

__all__ = ["parse_origins", "run_backtest_job", "DEFAULT_START"]

DEFAULT_START = "2010-01-01"


def parse_origins(text: str | None) -> list[pd.Timestamp] | None:
    """``'START:END'`` (quarterly origins between) or comma-separated months; None for the default."""
    if not text:
        return None
    with input_errors("--origins: "):
        if ":" in text:
            a, b = text.split(":", 1)
            return list(pd.date_range(pd.Timestamp(a), pd.Timestamp(b), freq="QS-JAN"))
        return [pd.Timestamp(x.strip()).to_period("M").to_timestamp() for x in text.split(",") if x.strip()]


def run_backtest_job(*, models: Sequence[str], origins: str | None = None, input: Path | None = None,
                     measures: Sequence[str] = ("attacks", "killed"), scheduler: str = "local",
                     workers: int | None = None, random_seed: int, n_samples: int = 500,
                     json_out: Path | None = None, csv_out: Path | None = None, warmup_origins: int = 12,
                     progress: Callable[[int, int], None] | None = None, encoding: str = "utf-8",
                     recalibrate: bool = False) -> JobResult:
    """Rolling-origin backtest (no look-ahead), scored by CRPS, log score, coverage and skill."""
    from pakcast.forecast.backtest import DATA_VERSION_NOTE, BacktestConfig, annual_events, run_backtest, scorecard
    from pakcast.forecast.country import profile
    from pakcast.forecast.forecasters import MODEL_NAMES
    from pakcast.forecast.io import write_csv
    from pakcast.forecast.panel import load_run_panel

    bad = [m for m in models if m not in MODEL_NAMES]
    if bad:
        raise InputError(f"--models: unknown {bad}; choose from {', '.join(MODEL_NAMES)}")
    with input_errors():
        panel, coverage = load_run_panel(input, encoding=encoding)
    olist = parse_origins(origins)
    provinces = panel[panel["unique_id"] != profile().national].reset_index(drop=True)
    cfg = BacktestConfig(models=tuple(models), measures=tuple(measures), origins=olist, start=DEFAULT_START,
                         n_samples=n_samples, random_seed=random_seed, scheduler=scheduler, n_workers=workers,
                         warmup_origins=int(warmup_origins), recalibrate=bool(recalibrate))
    res = run_backtest(provinces, cfg, progress=progress)
    ann = annual_events(provinces, min(olist) if olist else DEFAULT_START)
    card = scorecard(res.scores, ann, random_seed=random_seed)
    sel = res.selection.copy()
    if not sel.empty:
        sel["origin"] = pd.to_datetime(sel["origin"]).dt.strftime("%Y-%m")
    payload: dict[str, Any] = {
        "data": {k: v for k, v in coverage.items() if not k.startswith("_")},
        "data_version_note": DATA_VERSION_NOTE,
        "models": list(models), "not_run": res.unavailable,
        "origins": sorted({str(pd.Timestamp(o).date())[:7] for o in res.scores["origin"]}),
        "warmup_origins": sorted({str(pd.Timestamp(o).date())[:7] for o in res.selection.loc[
            res.selection["warmup"], "origin"]}) if not res.selection.empty else [],
        "n_origins": int(res.scores["origin"].nunique()), "n_samples": n_samples, "random_seed": random_seed,
        "events_per_year": {k: round(float(v), 2) for k, v in ann.items()},
        "rows": card["rows"],
        "goal_check": card["goal_check"],
        "calibration": card["calibration"],
        "selection": {
            "rule": (f"per origin and measure, from the quarter sums of the provinces ended before the origin only: "
                     f"the stack = CRPS-optimal mixture of {', '.join(cfg.members())} on all past quarter sums "
                     f"pooled over provinces (each divided by its {cfg.fallback_baseline()} mean CRPS); published = "
                     f"(1 - lambda) x {cfg.fallback_baseline()} + lambda x stack, lambda in 0, 0.05, ..., 1 "
                     "minimising the pooled scaled CRPS of the stacks as published at past origins (out of sample); "
                     f"lambda = 0 (the baseline is published) with fewer than {cfg.selection_min_history} origins "
                     f"scored or unless the mixture beat the baseline by more than {cfg.selection_margin:.0%}; the "
                     f"record starts {cfg.warmup_origins} quarterly origins before the first scored one (burn-in, "
                     "not scored); one mixture for all provinces, national = sum of the published provinces"
                     + ("; quarter sums recalibrated by tail scales learnt online from the misses of the quarter sums published at past scored origins (forecast.recalibrate.AdaptiveTailScales)"
                        if cfg.recalibrate else "")),
            "by_origin": sel.to_dict(orient="records"),
        },
        "seconds_fit": float(res.timings["seconds"].sum()),
    }
    manifest = RunManifest(command="backtest", options={
        "models": list(models), "origins": origins, "input": str(input) if input else None,
        "measures": ",".join(measures), "scheduler": scheduler, "workers": workers, "random_seed": random_seed,
        "n_samples": n_samples, "warmup_origins": int(warmup_origins), "recalibrate": bool(recalibrate)})
    manifest.random_seeds = {"random_seed": random_seed}
    if coverage.get("_path"):
        manifest.add_input(coverage["_path"], role="panel")
    extra = []
    if csv_out is not None:
        write_csv(csv_out, res.scores, float_format="%.5g")
        extra.append(Path(csv_out))
    if json_out is not None:
        written = write_json_output(json_out, payload, manifest, extra=extra)
    else:
        written = [*extra, write_beside(manifest, extra)] if extra else []
    lines = [f"backtest of {', '.join(models)} at {payload['n_origins']} origins: "
             f"{len(payload['rows'])} model x province x measure x resolution rows"]
    return JobResult(payload=payload, outputs=written, lines=lines)
