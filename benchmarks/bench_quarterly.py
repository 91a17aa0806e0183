"""Benchmark the quarterly run and the backtest grid on the shipped panel.

Measures, in one run on this machine:

1. the backtest of 5 models x all provinces x 40 quarterly origins (2010Q1-2019Q4), both
   measures, 500 samples: serial and on a Dask LocalCluster (``--workers``, default 2), with the
   ratio serial / Dask and a check that both give identical scores;
2. the whole quarterly run with default settings (``pakcast quarterly`` on the shipped data:
   backtest, forecast, store, break and attribution studies, briefing) on the LocalCluster.

Usage::

    .venv/bin/python benchmarks/bench_quarterly.py [--workers 2] [--skip-serial] [--skip-quarterly]

Timings depend on the load of the machine: report them with the load average printed here.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", default="historical_rate,conflictology,nb_glm,ingarch,hawkes")
    ap.add_argument("--n-samples", type=int, default=500)
    ap.add_argument("--skip-serial", action="store_true")
    ap.add_argument("--skip-quarterly", action="store_true")
    args = ap.parse_args()

    import pandas as pd

    from pakcast.forecast.backtest import BacktestConfig, run_backtest
    from pakcast.forecast.forecasters import NATIONAL
    from pakcast.forecast.panel import load_panel

    panel = load_panel("month")
    provinces = panel[panel["unique_id"] != NATIONAL].reset_index(drop=True)
    origins = list(pd.date_range("2010-01-01", "2019-10-01", freq="QS-JAN"))
    models = tuple(args.models.split(","))
    print(f"load average at start: {os.getloadavg()}; cpus: {os.cpu_count()}")
    print(f"backtest grid: {len(models)} models x {provinces['unique_id'].nunique()} provinces (+ national) x "
          f"{len(origins)} origins x 2 measures, {args.n_samples} samples")

    rows = []
    res_serial = None
    if not args.skip_serial:
        t = time.perf_counter()
        res_serial = run_backtest(provinces, BacktestConfig(models=models, origins=origins,
                                                            n_samples=args.n_samples, scheduler="serial"))
        rows.append(("backtest, serial (1 process)", time.perf_counter() - t))
    t = time.perf_counter()
    res_dask = run_backtest(provinces, BacktestConfig(models=models, origins=origins, n_samples=args.n_samples,
                                                      scheduler="local", n_workers=args.workers))
    rows.append((f"backtest, Dask LocalCluster ({args.workers} workers)", time.perf_counter() - t))
    if res_serial is not None:
        pd.testing.assert_frame_equal(res_serial.scores, res_dask.scores)
        print("serial and Dask scores identical: yes")
    fit = res_dask.timings.groupby("model")["seconds"].sum().sort_values(ascending=False)
    print("fit+forecast seconds by model (sum over tasks):")
    print(fit.round(1).to_string())

    if not args.skip_quarterly:
        from pakcast.forecast.quarterly import QuarterlyConfig, run

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            run(QuarterlyConfig(out=os.path.join(tmp, "latest"), store=os.path.join(tmp, "store.duckdb"),
                                scheduler="local", n_workers=args.workers, data="ucdp"))
            rows.append((f"quarterly run, --data ucdp defaults ({args.workers} workers)", time.perf_counter() - t))

    print()
    print("| step | seconds |")
    print("|---|---|")
    for name, sec in rows:
        print(f"| {name} | {sec:.1f} |")
    if res_serial is not None:
        print(f"\nratio serial / Dask: {rows[0][1] / rows[1][1]:.2f}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
