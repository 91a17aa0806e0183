"""The default hierarchical NB ITS fit on the shipped province-month panel: time to a converged
posterior with PyMC's NUTS vs nutpie, native ``pm.NegativeBinomial`` vs the Numba NB2 Op.

Default fit = what ``pakcast bayes its`` runs: attacks, 7 provinces (FATA merged into Khyber
Pakhtunkhwa) x 180 months (2007-01..2021-12), breaks 2014-12-16 and 2021-08-15, 4 chains x
(500 tune + 1000 draws) on 2 cores. Reported per configuration: compile and sampling seconds,
total wall seconds, CPU seconds (load-independent), min bulk ESS per sampling second, and the convergence gates (R-hat < 1.01, ESS > 400,
no divergences). Ratios are against PyMC/native measured in the same run.

Run: ``.venv/bin/python -m benchmarks.bench_bayes [--json OUT]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import warnings

from benchmarks._common import fmt_table, machine

CONFIGS = (("pymc", "native"), ("nutpie", "native"), ("pymc", "numba"), ("nutpie", "numba"))


def _cpu_seconds() -> float:
    """CPU seconds of this process (all threads: nutpie) and its finished children (PyMC's chain
    processes): a load-independent cost; on 2 idle cores the wall time is about half of it."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--configs", default=",".join(f"{s}/{l}" for s, l in CONFIGS),
                    help="comma-separated sampler/likelihood pairs")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from pakcast.forecast.panel import load_panel
    from pakcast.forecast.country import PAKISTAN
    from pakcast.models.bayes.its import HierarchicalNBITS

    panel = load_panel(freq="month")
    panel = panel[panel["unique_id"] != "Pakistan"].reset_index(drop=True)
    rows = []
    for pair in args.configs.split(","):
        sampler, likelihood = pair.split("/")
        cpu0 = _cpu_seconds()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = HierarchicalNBITS(panel, "attacks", PAKISTAN.intervention_days(), start="2007-01-01",
                                      likelihood=likelihood)
            res = model.fit(sampler=sampler, draws=args.draws, tune=args.tune, chains=args.chains, cores=2,
                            random_seed=args.seed)
        cpu = _cpu_seconds() - cpu0
        a, d = res.idata.attrs, res.diagnostics
        comp = a["compile_seconds"] if a["compile_seconds"] == a["compile_seconds"] else None
        rows.append({"sampler": sampler, "likelihood": likelihood, "compile_s": comp,
                     "sampling_s": a["sampling_seconds"], "total_s": a["total_seconds"], "cpu_s": cpu,
                     "min_ess_bulk": d.min_ess_bulk, "ess_per_s": d.min_ess_bulk / a["sampling_seconds"],
                     "max_rhat": d.max_rhat, "divergences": d.divergences, "converged": d.converged})
        print(f"{sampler}/{likelihood}: {a['total_seconds']:.1f} s, {d.message()}", flush=True)
    base = rows[0]["total_s"]
    for r in rows:
        r["total_vs_first"] = r["total_s"] / base
    info = machine()
    info["affinity_cores"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(json.dumps(info))
    print(fmt_table(rows, ["sampler", "likelihood", "compile_s", "sampling_s", "total_s", "cpu_s", "total_vs_first",
                           "min_ess_bulk", "ess_per_s", "max_rhat", "divergences", "converged"]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"machine": info, "rows": rows, "args": vars(args)}, fh, indent=2)


if __name__ == "__main__":
    main()
