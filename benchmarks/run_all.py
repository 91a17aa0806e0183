"""Run every pakcast benchmark in one process, print the tables and write one JSON.

Run: ``.venv/bin/python -m benchmarks.run_all --json benchmarks/results/latest.json``
(options ``--pymc-draws``/``--pymc-tune``; ``--skip-pymc`` for the quick kernels only).
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

from benchmarks import bench_glm, bench_hawkes, bench_likelihood, bench_pymc
from benchmarks._common import fmt_table, machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", help="write all rows and the machine description here")
    ap.add_argument("--pymc-draws", type=int, default=500)
    ap.add_argument("--pymc-tune", type=int, default=500)
    ap.add_argument("--skip-pymc", action="store_true")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    info = machine()
    print(f"machine: {info}\n")
    out = {"machine": info, "command": "python -m benchmarks.run_all", "results": {}}
    for name, mod in (("likelihood", bench_likelihood), ("hawkes", bench_hawkes), ("glm", bench_glm)):
        rows = mod.run()
        out["results"][name] = rows
        print(f"== {name}\n{fmt_table(rows, mod.COLS)}\n", flush=True)
    if not a.skip_pymc:
        rows = bench_pymc.run(a.pymc_draws, a.pymc_tune)
        out["results"]["pymc"] = rows
        out["pymc_settings"] = {"draws": a.pymc_draws, "tune": a.pymc_tune, "chains": 2}
        print(f"== pymc\n{fmt_table(rows, bench_pymc.COLS)}\n")
    out["machine_after"] = machine()
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
