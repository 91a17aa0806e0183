"""Sensitivity of the quarter-sum recalibration to its step and bounds, on the default backtest.

``python -m benchmarks.recal_sensitivity --json FILE [--settings 0 0.05:0.5:3 ...]`` runs the
default backtest (``pakcast backtest --origins 2010-01:2021-10 --n-samples 1000 --scheduler serial
--random-seed 20260101``) once, then re-runs its selection rule and scoring for each setting
``STEP:LO:HI`` of :class:`~pakcast.forecast.recalibrate.AdaptiveTailScales` (``0``: no
recalibration), reusing the fits (``run_backtest(fit_cache=)``), and writes every setting's goal
check (the rows of ``pakcast backtest --json``'s ``goal_check``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from pakcast.forecast.backtest import BacktestConfig, annual_events, run_backtest, scorecard
from pakcast.forecast.backtest_job import DEFAULT_START, parse_origins
from pakcast.forecast.country import profile
from pakcast.forecast.io import write_json
from pakcast.forecast.panel import load_run_panel
from pakcast.forecast.quarterly import DEFAULT_MODELS

SETTINGS = ("0", "0.02:0.5:3", "0.05:0.5:3", "0.1:0.5:3", "0.05:0.67:1.5", "0.1:0.67:1.5")
ORIGINS = "2010-01:2021-10"
SEED = 20260101


def parse_setting(text: str) -> dict:
    """``'0'`` (no recalibration) or ``'STEP:LO:HI'``."""
    parts = [float(x) for x in text.split(":")]
    if parts == [0.0]:
        return {"step": 0.0, "bounds": None}
    if len(parts) != 3 or not (parts[0] > 0 and 0 < parts[1] < 1 < parts[2]):
        raise SystemExit(f"error: --settings {text!r}: expected 0 or STEP:LO:HI with STEP > 0 and LO < 1 < HI")
    return {"step": parts[0], "bounds": [parts[1], parts[2]]}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS))
    ap.add_argument("--n-samples", type=int, default=1000)
    a = ap.parse_args(argv)
    settings = [parse_setting(s) for s in a.settings]
    panel, _ = load_run_panel(None)
    prov = panel[panel["unique_id"] != profile().national].reset_index(drop=True)
    ann = annual_events(prov, DEFAULT_START)
    base = BacktestConfig(models=DEFAULT_MODELS, measures=("attacks", "killed"), origins=parse_origins(ORIGINS),
                          start=DEFAULT_START, n_samples=a.n_samples, random_seed=SEED, scheduler="serial")
    cache: dict = {}
    out = []
    for st in settings:
        t0 = time.perf_counter()
        cfg = base if not st["step"] else replace(base, recalibrate=True, recal_step=st["step"],
                                                  recal_bounds=tuple(st["bounds"]))
        card = scorecard(run_backtest(prov, cfg, fit_cache=cache).scores, ann, random_seed=SEED)
        seconds = time.perf_counter() - t0
        out.append({**st, "goal_check": card["goal_check"], "seconds": seconds})
        print(f"step {st['step']} bounds {st['bounds']}: {seconds:.0f} s", flush=True)
    write_json(a.json, {"origins": ORIGINS, "n_samples": a.n_samples, "random_seed": SEED, "settings": out})


if __name__ == "__main__":
    main()
