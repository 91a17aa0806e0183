"""Generate the fusion figures quoted in the README: ``docs/results/fusion.json`` (with git revision,
command, date and machine) and the overlap figure ``docs/readme/img/fusion_overlap.png``.

Parts (``--parts``, comma-separated; default all):

* ``fit``: the default fit (shipped data, default reference units): scales with 90% intervals,
  convergence diagnostics, wall and CPU seconds;
* ``heldout``: :func:`pakcast.forecast.fusion_checks.heldout_check` for ``last12`` and ``pips2025``;
* ``overlap``: :func:`pakcast.forecast.fusion_checks.overlap_check` (scales against UCDP) and its figure.

Run: ``.venv/bin/python -m benchmarks.fusion_figures [--parts fit,heldout,overlap] [--draws N --tune N]``.
An existing ``fusion.json`` keeps the parts not rerun.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "fusion.json"
FIG = ROOT / "docs" / "readme" / "img" / "fusion_overlap.png"


def _scales(d: dict) -> dict:
    out: dict = {}
    for s in d["sources"]:
        out.setdefault(s["source"], {})[s["metric"]] = {**s["scale"], "n_obs": s["n_obs"], "first": s["first"],
                                                        "last": s["last"], "reference": s["reference"]}
    return out


def main(argv: list[str] | None = None) -> None:
    from benchmarks._common import machine
    from pakcast.forecast.fusion import FusionConfig, fit_fusion
    from pakcast.forecast.fusion_checks import heldout_check, overlap_check
    from pakcast.forecast.fusion_figures import overlap_figure
    from pakcast.forecast.io import write_json
    from pakcast.forecast.manifest import git_revision

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="fit,heldout,overlap")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--random-seed", type=int, default=1)
    a = ap.parse_args(argv)
    parts = [p.strip() for p in a.parts.split(",") if p.strip()]
    cfg = FusionConfig(draws=a.draws, tune=a.tune, chains=a.chains, random_seed=a.random_seed, figures=False)
    old = json.loads(OUT.read_text()) if OUT.exists() else {"figures": {}}
    figures = dict(old.get("figures", {}))
    if "fit" in parts:
        t0, c0 = time.perf_counter(), time.process_time()
        fr = fit_fusion(cfg)
        d = fr.to_dict(series=False)
        figures["fit"] = {"as_of": d["as_of"], "units": d["units"]["source"], "units_reason": d["units"]["reason"],
                          "n_observations": d["data"]["n_observations"], "diagnostics": d["diagnostics"],
                          "scales": _scales(d), "wall_seconds": time.perf_counter() - t0,
                          "cpu_seconds": time.process_time() - c0, "sampler": d["sampler"]}
    if "heldout" in parts:
        figures["heldout"] = {w: {k: v for k, v in heldout_check(cfg, w).items() if k != "scores"}
                              for w in ("last12", "pips2025")}
    if "overlap" in parts:
        rec, table = overlap_check(cfg)
        FIG.parent.mkdir(parents=True, exist_ok=True)
        overlap_figure(table, FIG)
        figures["overlap"] = rec
    meta = {"git_revision": git_revision(), "command": "python -m benchmarks.fusion_figures " + " ".join(argv or sys.argv[1:]),
            "parts": parts, "machine": machine(), "draws": a.draws, "tune": a.tune, "chains": a.chains}
    write_json(OUT, {"meta": meta, "figures": figures})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
