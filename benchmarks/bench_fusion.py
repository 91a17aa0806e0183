"""Measurement model: nutpie on the hand-written Numba density (``sampler="numba"``, the default)
against plain PyMC NUTS (``sampler="pymc"``) and nutpie on the PyMC graph (``sampler="nutpie"``),
same model, same data, same seed, in one run.

Data: :func:`pakcast.models.fusion.simulate_fusion` (``--units`` units, ``--months`` months, three
sources at month/quarter/year resolution). Figure of merit: min bulk ESS / wall seconds of the
whole fit (compilation included, reported apart), and CPU seconds.

Run: ``.venv/bin/python -m benchmarks.bench_fusion [--units 3 --months 60 --samplers numba,pymc]``
"""

from __future__ import annotations

import argparse
import time

from benchmarks._common import fmt_table, machine


def main(argv: list[str] | None = None) -> None:
    from pakcast.models.fusion import MeasurementModel, simulate_fusion

    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=3)
    ap.add_argument("--months", type=int, default=60)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--samplers", default="numba,pymc")
    a = ap.parse_args(argv)
    obs, truth = simulate_fusion(n_units=a.units, n_months=a.months, horizon=0, random_seed=1)
    rows = []
    for s in a.samplers.split(","):
        m = MeasurementModel(obs, "A", truth["units"], truth["months"])
        t0, c0 = time.perf_counter(), time.process_time()
        r = m.fit(sampler=s, random_seed=1, draws=a.draws, tune=a.tune, chains=a.chains)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        dg = r.diagnostics
        rows.append({"sampler": s, "wall s": wall, "compile s": float(r.idata.attrs.get("compile_seconds", float("nan"))),
                     "cpu s": cpu, "max R-hat": dg.max_rhat, "min bulk ESS": dg.min_ess_bulk,
                     "divergences": dg.divergences, "ESS/s": dg.min_ess_bulk / wall})
    print(machine())
    print(f"{a.units} units x {a.months} months, {len(obs)} observations, {a.chains} chains x {a.draws} draws")
    print(fmt_table(rows, ["sampler", "wall s", "compile s", "cpu s", "max R-hat", "min bulk ESS", "divergences",
                           "ESS/s"]))


if __name__ == "__main__":
    main()
