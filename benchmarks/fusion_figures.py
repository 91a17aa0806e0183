"""Generate the fusion figures quoted in the README: ``docs/results/fusion.json`` (with git revision,
command, date and machine) and the figures in ``docs/readme/img/`` (``fusion_overlap.png``,
``fusion_backtest.png``, ``fusion_early_warning.png``).

Parts (``--parts``, comma-separated; default all):

* ``fit``: the default fit (shipped data, default reference units): scales with 90% intervals,
  convergence diagnostics, wall and CPU seconds of the fit (as measured when it was made: a cached
  fit says ``cached``);
* ``heldout``: :func:`pakcast.forecast.fusion_checks.heldout_check` for ``last12`` and ``pips2025``
  (a markdown table per check: coverage and CRPS per source and metric against the source's own
  last-value and historical-mean forecasts);
* ``overlap``: :func:`pakcast.forecast.fusion_checks.overlap_check` (scales against UCDP) and its figure;
* ``backtest``: :func:`pakcast.forecast.fusion_backtest.fusion_backtest` at ``--origins`` (scorecard
  rows, pooled table, early warning with its reliability diagram);
* ``simulation``: :func:`pakcast.models.fusion.replication_coverage` (``--reps`` replications; the
  figure of the slow test ``tests/models/test_fusion.py -m slow``).

Fits go through the fit cache (:mod:`pakcast.forecast.fusion_cache`): the ``heldout`` ``last12`` fit
is the backtest's last origin (2025-01) when both use the same settings.

Run: ``.venv/bin/python -m benchmarks.fusion_figures [--parts ...] [--draws N --tune N --chains N]``.
An existing ``fusion.json`` keeps the parts not rerun; ``--json FILE`` writes ``{"figures": ...}``
there instead (the form ``python -m benchmarks.figures fusion`` uses).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "fusion.json"
IMG = ROOT / "docs" / "readme" / "img"
FIG = IMG / "fusion_overlap.png"


def _scales(d: dict) -> dict:
    out: dict = {}
    for s in d["sources"]:
        out.setdefault(s["source"], {})[s["metric"]] = {**s["scale"], "n_obs": s["n_obs"], "first": s["first"],
                                                        "last": s["last"], "reference": s["reference"]}
    return out


def _f(x, spec: str = ".1f") -> str:
    return "" if x is None or x != x else format(x, spec)


def heldout_table(summary: dict) -> str:
    """Markdown: per source and metric, figures held out, 90% coverage, CRPS of the fused forecast
    and of the source's own last value and historical mean (on the figures that have them)."""
    lines = ["| source | metric | figures | 90% coverage | CRPS fused | CRPS last value | CRPS historical mean | "
             "fused best? |", "|---|---|---|---|---|---|---|---|"]
    for s, by_m in sorted(summary.items()):
        if s == "all":
            continue
        for m, r in sorted(by_m.items()):
            best = "" if r["beats_baselines"] is None else ("yes" if r["beats_baselines"] else "no")
            lines.append(f"| {s} | {m} | {r['n']} | {_f(r['coverage_90'] * 100, '.0f')}% | "
                         f"{_f(r['crps_on_baseline_figures'], '.4g')} | {_f(r['crps_last_value'])} | "
                         f"{_f(r['crps_hist_mean'])} | {best} |")
    a = summary["all"]
    lines.append(f"| **all** | | {a['n']} | {_f(a['coverage_90'] * 100, '.0f')}% | {_f(a.get('crps'), '.4g')} | "
                 f"{_f(a.get('crps_last_value'))} | {_f(a.get('crps_hist_mean'))} | "
                 f"{'yes' if a.get('beats_baselines') else 'no'} |")
    return "\n".join(lines)


def overlap_table(rec: dict) -> str:
    lines = ["| source | metric | scale vs UCDP | 90% interval | figures | window |", "|---|---|---|---|---|---|"]
    for s, by_m in sorted(rec["scales"].items()):
        for m, r in sorted(by_m.items()):
            lines.append(f"| {s} | {m} | {r['estimate']:.2f} | [{r['ci_low']:.2f}, {r['ci_high']:.2f}] | {r['n_obs']} | "
                         f"{r['window']} |")
    return "\n".join(lines)


def backtest_table(summary: list[dict]) -> str:
    lines = ["| source | metric | resolution | figures | 90% coverage | CRPS fused | last value / fused | "
             "historical mean / fused | UCDP-only / fused |", "|---|---|---|---|---|---|---|---|---|"]
    for r in summary:
        lines.append(f"| {r['source']} | {r['metric']} | {r['resolution']} | {r['n']} | "
                     f"{_f(r['coverage_90'] * 100, '.0f')}% | {_f(r['crps_fused'], '.4g')} | {_f(r.get('ratio_last_value'), '.2g')} | "
                     f"{_f(r.get('ratio_hist_mean'), '.2g')} | {_f(r.get('ratio_ucdp_only'), '.2g')} |")
    return "\n".join(lines)


def _pooled(summary: list[dict]) -> dict:
    """Coverage over every fused figure and the share of source-resolution groups the fused forecast wins."""
    n = sum(r["n"] for r in summary)
    out = {"n_figures": n, "coverage_90": sum(r["coverage_90"] * r["n"] for r in summary) / n if n else None,
           "n_groups": len(summary)}
    for m in ("last_value", "hist_mean", "ucdp_only"):
        v = [r.get(f"ratio_{m}") for r in summary if r.get(f"ratio_{m}")]
        out[f"groups_fused_better_than_{m}"] = sum(x > 1 for x in v)
        out[f"groups_with_{m}"] = len(v)
    return out


def main(argv: list[str] | None = None) -> None:
    from benchmarks._common import machine
    from pakcast.forecast.fusion import FusionConfig, build_observations
    from pakcast.forecast.fusion_checks import heldout_check, overlap_check
    from pakcast.forecast.fusion_figures import overlap_figure
    from pakcast.forecast.io import write_json
    from pakcast.forecast.manifest import git_revision

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="fit,heldout,overlap,backtest,simulation")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--random-seed", type=int, default=1)
    ap.add_argument("--origins", default="2022-01,2023-01,2024-01,2025-01")
    ap.add_argument("--warning-origins", default="2020-01,2021-01",
                    help="further origins fitted only for the early warning ('' for none)")
    ap.add_argument("--n-samples", type=int, default=2000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--json", default=None, help="write {'figures': ...} here instead of docs/results/fusion.json")
    a = ap.parse_args(argv)
    parts = [p.strip() for p in a.parts.split(",") if p.strip()]
    # the revision of the code that runs, taken before this run writes its figures into the tree
    command = "python -m benchmarks.fusion_figures " + " ".join(argv if argv is not None else sys.argv[1:])
    stamp = {"git_revision": git_revision(), "command": command.strip(),
             "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    cfg = FusionConfig(draws=a.draws, tune=a.tune, chains=a.chains, random_seed=a.random_seed, figures=False)
    old = json.loads(OUT.read_text()) if OUT.exists() else {"figures": {}}
    figures = dict(old.get("figures", {}))
    settings = {"draws": a.draws, "tune": a.tune, "chains": a.chains, "random_seed": a.random_seed}
    table = build_observations(cfg) if set(parts) & {"heldout", "overlap", "backtest"} else None
    if "fit" in parts:
        from pakcast.forecast.fusion_cache import fit_cached

        fr = fit_cached(cfg, table or build_observations(cfg))
        d = fr.to_dict(series=False)
        figures["fit"] = {"as_of": d["as_of"], "units": d["units"]["source"], "units_reason": d["units"]["reason"],
                          "n_observations": d["data"]["n_observations"], "diagnostics": d["diagnostics"],
                          "scales": _scales(d), "wall_seconds": fr.seconds["fit"],
                          "cpu_seconds": fr.seconds.get("fit_cpu"), "sampler": d["sampler"],
                          "cached": bool(fr.seconds.get("cached")), "settings": settings}
    if "heldout" in parts:
        ho = {}
        for w in ("last12", "pips2025"):
            r = heldout_check(cfg, w, table)
            rec = {k: v for k, v in r.items() if k != "scores"}
            rec["table"] = heldout_table(r["summary"])
            al = r["summary"]["all"]
            rec["goal_text"] = (f"90% coverage {'inside' if al['coverage_in_80_98'] else 'outside'} the goal of 80-98%; "
                                f"mean CRPS {'below' if al.get('beats_baselines') else 'not below'} both of the "
                                "sources' own baselines: the goal is "
                                + ("met" if al["coverage_in_80_98"] and al.get("beats_baselines") else "not met"))
            rec["settings"] = settings
            ho[w] = rec
        figures["heldout"] = ho
    if "overlap" in parts:
        rec, sc = overlap_check(cfg, table)
        FIG.parent.mkdir(parents=True, exist_ok=True)
        overlap_figure(sc, FIG)
        rec["table"] = overlap_table(rec)
        rec["settings"] = settings
        figures["overlap"] = rec
    if "backtest" in parts:
        from pakcast.forecast.fusion_backtest import fusion_backtest, parse_fused_origins
        from pakcast.forecast.fusion_check_figures import reliability_figure, scorecard_figure

        bt = fusion_backtest(cfg, parse_fused_origins(a.origins), table=table, n_samples=a.n_samples,
                             warning_origins=parse_fused_origins(a.warning_origins) if a.warning_origins else None)
        bt.pop("scores")
        scorecard_figure(bt["summary"], IMG / "fusion_backtest.png", f"fused backtest, origins {', '.join(bt['origins'])}")
        ew = bt["early_warning"]
        ew_all = bt["early_warning_all"] or ew
        if ew_all.get("n"):
            reliability_figure(ew_all, IMG / "fusion_early_warning.png")
        ew_fig = {k: v for k, v in ew.items() if k != "rows"}
        ew_all_fig = {k: v for k, v in ew_all.items() if k != "rows"}
        if "origins" in ew_all_fig:
            ew_all_fig["origins"] = ", ".join(ew_all_fig["origins"])
        figures["backtest"] = {"origins": ", ".join(bt["origins"]), "n_origins": len(bt["origins"]),
                               "horizon_months": bt["horizon_months"], "units": bt["units"],
                               "table": backtest_table(bt["summary"]), "pooled": _pooled(bt["summary"]),
                               "summary": bt["summary"], "rows": bt["rows"], "early_warning": ew_fig, "early_warning_all": ew_all_fig,
                               "diagnostics_by_origin": bt["diagnostics_by_origin"], "ucdp_only": bt["ucdp_only"],
                               "rule": bt["rule"], "settings": settings,
                               "converged_origins": sum(d["converged"] for d in bt["diagnostics_by_origin"])}
    if "simulation" in parts:
        from pakcast.models.fusion import replication_coverage

        figures["simulation"] = replication_coverage(a.reps)
    for p in parts:  # a part kept from an earlier run keeps its own provenance
        if isinstance(figures.get(p), dict):
            figures[p]["provenance"] = stamp
    if a.json:
        write_json(Path(a.json), {"figures": figures})
        print(f"wrote {a.json}")
        return
    meta = {"git_revision": stamp["git_revision"], "command": command.strip(), "parts": parts, "machine": machine(),
            "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **settings}
    write_json(OUT, {"meta": meta, "figures": figures})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
