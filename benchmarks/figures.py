"""Regenerate every result figure the docs quote: ``python -m benchmarks.figures [NAME ...]``.

Each job runs one committed command and writes ``docs/results/<NAME>.json``:

``{"meta": {"git_revision", "git_dirty", "command", "date_utc", "seconds", "machine", "loadavg_before",
"loadavg_after"}, "figures": {...}}``

``docs/build_readme.py`` fills the README's placeholders (``{{ NAME.key.key }}``) from these files
only, and ``tests/test_readme_figures.py`` fails when a generated section quotes a number that
they do not contain. To add a figure: add a job here (a command and a function turning its output
into the nested ``figures`` dict), run ``python -m benchmarks.figures NAME`` on a clean, committed
tree, commit the JSON, and quote it in a section as ``{{ NAME.path.to.value | .2f }}``.

The revision is tagged ``figures-<sha12>`` so it stays reachable after the branch is rebased.
Runs refuse a working tree with uncommitted changes to tracked files (the revision must be the
code that made the numbers) unless ``--allow-dirty``, which is recorded in ``meta``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results"


@dataclass(frozen=True)
class Job:
    """One generated result file: ``argv`` (``{out}`` = the raw output path) and ``figures(raw) -> dict``."""

    name: str
    argv: tuple[str, ...]
    figures: Callable[[dict], dict]
    description: str


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(text).lower()).strip("_")


TABLE_SERIES = ("Pakistan", "Khyber Pakhtunkhwa", "Balochistan", "Sindh", "Punjab")
TABLE_MODELS = ("conflictology", "historical_rate", "negbin_12", "negbin_24", "poisson_12", "poisson_24", "nb_glm",
                "nb_local", "ingarch", "hawkes", "ens_equal", "ens_crps", "published")


def _pct(x) -> str:
    return "" if x is None or x != x else f"{100 * x:.0f}%"


def backtest_tables(rows: list[dict]) -> dict:
    """Markdown tables: mean CRPS (randomised-PIT 90% coverage) per model and series, one per
    measure and resolution; the published forecast's skill against the best baseline with its
    bootstrap interval."""
    idx = {(r["model"], r["province"], r["measure"], r["resolution"]): r for r in rows}
    out = {}
    for meas in ("attacks", "killed"):
        for res in ("month", "quarter"):
            lines = ["| model | " + " | ".join(TABLE_SERIES) + " |", "|---" * (len(TABLE_SERIES) + 1) + "|"]
            for m in TABLE_MODELS:
                cells = []
                for uid in TABLE_SERIES:
                    r = idx.get((m, uid, meas, res))
                    cells.append("" if r is None else f"{r['crps']:.2f} ({_pct(r['coverage_90'])})")
                if all(c == "" for c in cells):
                    continue
                label = "**published** (selection rule)" if m == "published" else m
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            out[f"{meas}_{res}"] = "\n".join(lines)
    lines = ["| series | measure | resolution | published CRPS | best baseline (CRPS) | skill [90% interval] | "
             "90% coverage | PIT KS p |", "|---|---|---|---|---|---|---|---|"]
    for uid in TABLE_SERIES:
        for meas in ("attacks", "killed"):
            for res in ("month", "quarter"):
                r = idx.get(("published", uid, meas, res))
                if r is None:
                    continue
                lines.append(f"| {uid} | {meas} | {res} | {r['crps']:.2f} | {r['best_baseline']} "
                             f"({r['best_baseline_crps']:.2f}) | {r['skill_vs_best_baseline']:+.3f} "
                             f"[{r['skill_ci_low']:+.3f}, {r['skill_ci_high']:+.3f}] | {_pct(r['coverage_90'])} | "
                             f"{r['pit_ks_p']:.2g} |")
    out["published_skill"] = "\n".join(lines)
    return out


def _product(values) -> float | None:
    """Product of the values (``None`` when one is missing or NaN)."""
    out = 1.0
    for v in values:
        if v is None or v != v:
            return None
        out *= float(v)
    return out


def goal_table(scope: list[dict]) -> str:
    """Markdown: per goal series, the published CRPS against the best baseline's at each resolution
    and the quarter sums' 90% coverage, each marked met or missed."""
    def mark(ok) -> str:
        return "met" if ok else "**missed**"

    lines = ["| series | measure | month CRPS: published / best baseline | quarter CRPS: published / best baseline "
             "| quarter 90% coverage [90% interval] | 90% inside the interval | P(85-95% \\| calibrated) |",
             "|---|---|---|---|---|---|---|"]
    for g in sorted(scope, key=lambda g: (g["province"], g["measure"])):
        cells = []
        for res in ("month", "quarter"):
            cells.append(f"{g[f'{res}_crps']:.2f} / {g[f'{res}_best_baseline_crps']:.2f} "
                         f"({g[f'{res}_best_baseline']}): {mark(g[f'{res}_no_worse_than_best_baseline'])}")
        cov = g["quarter_coverage_90"]
        lo, hi = g.get("quarter_coverage_90_ci", [float("nan")] * 2)
        cons = g.get("quarter_coverage_90_consistent_with_calibration")
        pb = g.get("quarter_p_in_85_95_if_calibrated", float("nan"))
        lines.append(f"| {g['province']} | {g['measure']} | {cells[0]} | {cells[1]} | {100 * cov:.1f}% "
                     f"[{100 * lo:.1f}, {100 * hi:.1f}]: {mark(g['quarter_coverage_90_in_85_95'])} | "
                     f"{'yes' if cons else '**no**'} | {pb:.2f} (n_eff {g.get('quarter_coverage_90_n_eff', 0):.0f}) |")
    return "\n".join(lines)


def goal_summary(goal: list[dict]) -> dict:
    """Counts over the goal series (``in_goal_scope``) of a backtest's ``goal_check`` rows."""
    scope = [g for g in goal if g.get("in_goal_scope")]
    return {
        "n_series": len(scope),
        "crps_no_worse_both": sum(bool(g.get("month_no_worse_than_best_baseline")) and
                                  bool(g.get("quarter_no_worse_than_best_baseline")) for g in scope),
        "coverage_in_85_95": sum(bool(g.get("quarter_coverage_90_in_85_95")) for g in scope),
        "coverage_consistent_with_calibration": sum(bool(g.get("quarter_coverage_90_consistent_with_calibration"))
                                                    for g in scope),
        "p_all_in_85_95_if_calibrated": _product(g.get("quarter_p_in_85_95_if_calibrated") for g in scope),
        "series": ", ".join(sorted({g["province"] for g in scope})),
    }


def recal_sensitivity_figures(raw: dict) -> dict:
    """Per recalibration setting (``step_<step>_<lo>_<hi>``, ``none``): the goal summary and each
    goal series' quarter coverage and CRPS against the best baseline; one markdown table."""
    fig: dict = {"origins": raw["origins"], "n_samples": raw["n_samples"], "random_seed": raw["random_seed"]}
    lines = ["| step | bounds | CRPS no worse, both resolutions | quarter coverage in 85-95% | "
             "quarter 90% coverage per series | quarter CRPS / best baseline per series |", "|---|---|---|---|---|---|"]
    for st in raw["settings"]:
        key = "none" if not st["step"] else _slug(f"step_{st['step']}_{st['bounds'][0]}_{st['bounds'][1]}")
        scope = sorted((g for g in st["goal_check"] if g.get("in_goal_scope")), key=lambda g: (g["province"], g["measure"]))
        summ = goal_summary(st["goal_check"])
        fig[key] = {"step": st["step"], "bounds": st["bounds"], "goal_summary": summ,
                    "series": {f"{g['province']} {g['measure']}": {
                        "quarter_coverage_90": g["quarter_coverage_90"], "quarter_crps": g["quarter_crps"],
                        "quarter_best_baseline_crps": g["quarter_best_baseline_crps"],
                        "month_crps": g["month_crps"], "month_best_baseline_crps": g["month_best_baseline_crps"]}
                        for g in scope}}
        cov = ", ".join(f"{g['province']} {g['measure']} {100 * g['quarter_coverage_90']:.1f}%" for g in scope)
        crps = ", ".join(f"{g['province']} {g['measure']} {g['quarter_crps']:.2f} / {g['quarter_best_baseline_crps']:.2f}"
                         for g in scope)
        bounds = "" if not st["step"] else f"[{st['bounds'][0]}, {st['bounds'][1]}]"
        lines.append(f"| {st['step'] or 'none'} | {bounds} | {summ['crps_no_worse_both']} of {summ['n_series']} | "
                     f"{summ['coverage_in_85_95']} of {summ['n_series']} | {cov} | {crps} |")
    fig["table"] = "\n".join(lines)
    return fig


def backtest_figures(raw: dict) -> dict:
    """``figures[province][measure][resolution][model] = row`` plus tables and the run's other blocks."""
    fig: dict = {}
    for r in raw["rows"]:
        rest = {k: v for k, v in r.items() if k not in ("province", "measure", "resolution", "model")}
        fig.setdefault(r["province"], {}).setdefault(r["measure"], {}).setdefault(r["resolution"], {})[r["model"]] = rest
    fig["tables"] = backtest_tables(raw["rows"])
    goal = raw.get("goal_check", [])
    fig["goal"] = {}
    for g in goal:
        fig["goal"].setdefault(g["province"], {})[g["measure"]] = g
    scope = [g for g in goal if g.get("in_goal_scope")]
    fig["goal_summary"] = goal_summary(goal)
    fig["tables"]["goal"] = goal_table(scope)
    sel = raw.get("selection", {}).get("by_origin", [])
    last = {}
    for r in sel:
        if not r.get("forecast_origin") and not r.get("warmup"):
            last.setdefault((r["measure"], r["unique_id"]), []).append(r)
    fig["selection_share_stack"], fig["selection_mean_lambda"], fig["selection_last"] = {}, {}, {}
    for (m, u), v in last.items():
        lam = [float(r.get("lambda", 0.0)) for r in v]
        fig["selection_share_stack"].setdefault(u, {})[m] = sum(x > 0 for x in lam) / len(v)
        fig["selection_mean_lambda"].setdefault(u, {})[m] = sum(lam) / len(v)
        fig["selection_last"].setdefault(u, {})[m] = {"chosen": v[-1]["chosen"], "lambda": lam[-1],
                                                     "weights": v[-1].get("weights")}
    fig["selection_rule"] = raw.get("selection", {}).get("rule")
    for key in ("origins", "n_origins", "n_samples", "random_seed", "data_version_note", "events_per_year",
                "seconds_fit"):
        if key in raw:
            fig[key] = raw[key]
    fig["first_origin"], fig["last_origin"] = raw["origins"][0], raw["origins"][-1]
    return fig


def kernel_figures(raw: dict) -> dict:
    """Benchmarks of ``benchmarks.run_all``: rows keyed by N (kernels) or by the fit's name (GLM)."""
    res = raw["results"]
    fig: dict = {"likelihood": {str(r["N"]): r for r in res.get("likelihood", [])},
                 "hawkes": {str(r["N"]): r for r in res.get("hawkes", [])},
                 "glm": {_slug(r["fit"]): r for r in res.get("glm", [])}}
    if "pymc" in res:
        fig["pymc"] = {_slug(f"{r['sampler']} {r['likelihood']}"): r for r in res["pymc"]}
    fig["machine"] = raw.get("machine")
    return fig


def bayes_figures(raw: dict) -> dict:
    return {_slug(f"{r['sampler']} {r['likelihood']}"): r for r in raw["rows"]}


def ingest_figures(raw: dict) -> dict:
    """``benchmarks.bench_ingest``: one block per file size (``mb256``, ``mb1024``: rows/s, rows per CPU
    second, peak RSS, reconciliation, load), the growth of peak memory between them, the goal."""
    fig: dict = {f"mb{r['size_mb']:g}": r for r in raw["runs"]}
    for k in ("growth", "goal", "meets_goal", "machine"):
        if k in raw:
            fig[k] = raw[k]
    return fig


JOBS = {
    j.name: j for j in (
        Job("backtest",
            ("pakcast", "backtest", "--origins", "2010-01:2021-10", "--n-samples", "1000", "--scheduler", "serial",
             "--random-seed", "20260101", "--json", "{out}"),
            backtest_figures,
            "rolling-origin backtest of the default zoo, 48 quarterly origins 2010Q1-2021Q4 (docs/readme/quarterly.md)"),
        Job("backtest_recal",
            ("pakcast", "backtest", "--origins", "2010-01:2021-10", "--n-samples", "1000", "--scheduler", "serial",
             "--random-seed", "20260101", "--recalibrate", "--json", "{out}"),
            backtest_figures,
            "the same backtest with the published quarter sums recalibrated online from past misses "
            "(docs/readme/quarterly.md)"),
        Job("recal_sensitivity",
            ("python", "-m", "benchmarks.recal_sensitivity", "--json", "{out}"),
            recal_sensitivity_figures,
            "the default backtest under several recalibration steps and bounds, fits shared "
            "(docs/readme/quarterly.md)"),
        Job("benchmarks",
            ("python", "-m", "benchmarks.run_all", "--skip-pymc", "--json", "{out}"),
            kernel_figures,
            "NB2 kernel, Hawkes and NB GLM timings (docs/readme/performance.md)"),
        Job("bench_pymc",
            ("python", "-m", "benchmarks.run_all", "--json", "{out}"),
            kernel_figures,
            "the kernels plus the hierarchical PyMC/nutpie sampler comparison (docs/readme/performance.md)"),
        Job("fusion",
            ("python", "-m", "benchmarks.fusion_figures", "--draws", "500", "--tune", "500", "--reps", "10",
             "--json", "{out}"),
            lambda raw: raw["figures"],
            "fused series: default fit, held-out checks (last12, pips2025), scales against UCDP, the post-2021 "
            "backtest with early warning, simulation coverage (docs/readme/fusion.md)"),
        Job("bench_ingest",
            ("python", "-m", "benchmarks.bench_ingest", "--size-mb", "256", "1024", "--json", "{out}"),
            ingest_figures,
            "streaming `pakcast ingest` of generated 256 MB and 1 GB generic CSVs: peak RSS, rows/s (docs/readme/performance.md)"),
        Job("bench_fusion",
            ("python", "-m", "benchmarks.bench_fusion", "--data", "shipped", "--start", "2021-01",
             "--draws", "300", "--tune", "300", "--chains", "2", "--seeds", "3",
             "--samplers", "numba,numba-pycall,numba-plain,numba-drawmass,pymc", "--json", "{out}"),
            lambda raw: raw,
            "the measurement model's samplers on the shipped data from 2021-01 (the default fit's model, with its "
            "known-date steps), three seeds each: whitened Numba kernel, the same kernel behind a Python callback, the same kernel "
            "without whitening, the same kernel with the mass matrix adapted from draws alone, plain PyMC NUTS "
            "(docs/readme/fusion.md)"),
        Job("bench_fusion_default",
            ("python", "-m", "benchmarks.bench_fusion", "--data", "shipped", "--start", "2007-01",
             "--draws", "1000", "--tune", "1000", "--chains", "4", "--samplers", "numba,numba-lowrank",
             "--seeds", "3", "--divergences", "--json", "{out}"),
            lambda raw: raw,
            "the default fit's model and settings (from 2007-01, every shipped source, its known-date steps, "
            "4 chains x 1000 draws, three seeds): the default sampler's wall time and convergence, where its "
            "divergent transitions happen, and the same kernel with nutpie's low-rank mass matrix "
            "(docs/readme/fusion.md)"),
        Job("bench_bayes",
            ("python", "-m", "benchmarks.bench_bayes", "--json", "{out}"),
            bayes_figures,
            "the default hierarchical Bayesian ITS fit, four sampler x likelihood configurations"),
    )
}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def _argv(job: Job, out: str) -> list[str]:
    argv = [a.replace("{out}", out) for a in job.argv]
    if argv[0] == "python":
        argv[0] = sys.executable
    elif argv[0] == "pakcast":
        argv = [sys.executable, "-m", "pakcast", *argv[1:]]
    return argv


def run_job(job: Job, allow_dirty: bool = False) -> Path:
    """Run ``job``'s command, convert its output and write ``docs/results/<name>.json`` atomically."""
    from pakcast.forecast.io import write_json

    from benchmarks._common import machine

    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    revision = _git("rev-parse", "HEAD")   # the code that runs (taken before: HEAD may move meanwhile)
    if dirty and not allow_dirty:
        raise SystemExit(f"error: {job.name}: the working tree has uncommitted changes; commit first "
                         "(the figures must come from committed code) or pass --allow-dirty")
    with tempfile.TemporaryDirectory() as tmp:
        raw_path = str(Path(tmp) / f"{job.name}.json")
        argv = _argv(job, raw_path)
        load0 = os.getloadavg()
        t0 = time.perf_counter()
        print(f"[{job.name}] {' '.join(job.argv)}", flush=True)
        subprocess.run(argv, cwd=ROOT, check=True)
        seconds = time.perf_counter() - t0
        raw = json.loads(Path(raw_path).read_text(encoding="utf-8"))
    meta = {
        "git_revision": revision, "git_dirty": dirty,
        "command": " ".join(job.argv).replace("{out}", "OUT.json"),
        "regenerate": f"python -m benchmarks.figures {job.name}",
        "description": job.description,
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1), "machine": machine(),
        "loadavg_before": [round(x, 2) for x in load0], "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    # a tag keeps the revision reachable when the branch is later rebased onto main
    tag = f"figures-{meta['git_revision'][:12]}"
    subprocess.run(["git", "tag", "-f", tag, meta["git_revision"]], cwd=ROOT, capture_output=True, check=False)
    meta["git_tag"] = tag
    path = RESULTS / f"{job.name}.json"
    write_json(path, {"meta": meta, "figures": job.figures(raw)})
    print(f"[{job.name}] wrote {path.relative_to(ROOT)} in {seconds:.0f} s", flush=True)
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Regenerate the result files docs/results/*.json")
    ap.add_argument("names", nargs="*", help=f"jobs to run (default: all): {', '.join(JOBS)}")
    ap.add_argument("--list", action="store_true", help="list the jobs and their commands")
    ap.add_argument("--allow-dirty", action="store_true", help="run on a tree with uncommitted changes (recorded)")
    a = ap.parse_args(argv)
    if a.list:
        for j in JOBS.values():
            print(f"{j.name}: {' '.join(j.argv)}\n    {j.description}")
        return
    unknown = [n for n in a.names if n not in JOBS]
    if unknown:
        raise SystemExit(f"error: unknown job(s) {unknown}; choose from {', '.join(JOBS)}")
    for name in a.names or list(JOBS):
        run_job(JOBS[name], allow_dirty=a.allow_dirty)
    subprocess.run([sys.executable, str(ROOT / "docs" / "build_readme.py")], cwd=ROOT, check=True)


if __name__ == "__main__":
    main()
