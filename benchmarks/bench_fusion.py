"""Measurement model: the default sampler (nutpie on the hand-written Numba density with whitened
walks, ``numba``) against the same kernel without whitening (``numba-plain``: the non-centred
walks), the default with the common scale shift (``numba-shift``, see
:meth:`pakcast.models.fusion.MeasurementModel.common_shift`), the default with nutpie's mass matrix
adapted from the draws alone, as PyMC and Stan adapt it (``numba-drawmass``:
``use_grad_based_mass_matrix=False``), the default with nutpie's diagonal-plus-low-rank mass
matrix (``numba-lowrank``: ``low_rank_modified_mass_matrix=True``, keeping the directions whose
adapted variance is more than 6 times off the diagonal's, ``mass_matrix_eigval_cutoff=6``, where
nutpie's default of 2 keeps more directions and so costs more per gradient), the default behind
nutpie's Python-function interface
instead of its C callbacks (``numba-pycall``: the same draws, so the wall-time ratio is the
callbacks' gain per gradient), nutpie on the PyMC graph (``nutpie``)
and plain PyMC NUTS (``pymc``), same model, same data, same seed, in one run. The model is the default fit's: ``--steps known``
(default) gives it the known-date level steps that ``pakcast fuse`` and the quarterly run fit on
that window (:func:`pakcast.forecast.fusion.model_effects`); ``--steps none`` or months
(``2014-12,2021-08``) choose others.

Data: ``--data shipped`` (default) is the shipped observation table of ``pakcast fuse`` from
``--start`` (every shipped source, 7 provinces, to the horizon); ``--data simulated`` is
:func:`pakcast.models.fusion.simulate_fusion` (``--units`` units, ``--months`` months, three sources
at month/quarter/year resolution). Figures of merit: min bulk ESS over every sampled quantity per
wall second of the whole fit (compilation included, reported apart; the C log-density callback,
compiled once per process, is compiled before the timed fits), CPU seconds, mean tree depth.

``--divergences`` (nutpie samplers) stores where each divergent transition happened and reports,
per run, ``divergence_sites``: the transitions counted by the sampler coordinate that moved most in
the diverging step relative to its adapted scale (:func:`divergence_sites`), which names the part
of the model the sampler cannot follow.

Run: ``.venv/bin/python -m benchmarks.bench_fusion [--data shipped --start 2019-01 --samplers numba,numba-plain,pymc]
[--random-seed N] [--divergences] [--json FILE]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from benchmarks._common import fmt_table, machine


def _problem(a: argparse.Namespace):
    """``(observations, units, latent units, months, measures, label, steps)``; ``steps`` name ->
    ``YYYY-MM`` as ``pakcast fuse --steps`` reads them (``known`` on shipped data: the steps the
    default fit of this window has; none on simulated data)."""
    from pakcast.forecast.fusion import (MEASURES, FusionConfig, build_observations, choose_reference, model_effects,
                                         parse_steps)
    from pakcast.models.fusion import simulate_fusion

    if a.data == "simulated":
        obs, truth = simulate_fusion(n_units=a.units, n_months=a.months, horizon=0, random_seed=1)
        return (obs, "A", truth["units"], truth["months"], ("attacks", "deaths"),
                f"simulated {a.units} units x {a.months} months", parse_steps(a.steps) or {})
    cfg = FusionConfig(start=a.start, figures=False, effects=parse_steps(a.steps))
    t = build_observations(cfg)
    units, _ = choose_reference(t.frame)
    return (t.frame, units, t.units, t.months, list(MEASURES),
            f"shipped data {t.months[0]}..{t.months[-1]}, {len(t.units)} provinces, reference units {units}",
            model_effects(cfg, t))


def _python_callback_model(m):
    """The default sampler's kernel behind nutpie's Python-function interface: the obvious
    alternative to the C callbacks of :mod:`pakcast.models.fusion._callbacks` (the same density,
    coordinates and seed, so the same draws; only the cost of each gradient differs)."""
    import pandas as pd
    from nutpie.compiled_pyfunc import from_pyfunc
    from pakcast.models.fusion._kernel import logp_grad

    args, n = m._kernel_args(), m.layout.ndim

    def make_logp_fn():
        def logp(x, **_):
            x = np.ascontiguousarray(x, dtype=np.float64)
            g = np.empty_like(x)
            return float(logp_grad(x, *args, g)), g
        return logp

    def make_expand_fn(*_):
        def expand(x, **_):
            return {"x": np.array(x, dtype=np.float64)}
        return expand

    return from_pyfunc(n, make_logp_fn, make_expand_fn, [np.dtype("float64")], [(n,)], ["x"],
                       coords={"coordinate": pd.RangeIndex(n)}, dims={"x": ("coordinate",)},
                       make_initial_point_fn=lambda seed: m.initial_point(int(seed) % (2**32)))



#: nutpie settings of the sampler variants that differ from the default only in adaptation
NUTPIE_OPTIONS: dict[str, dict] = {
    "numba-drawmass": {"use_grad_based_mass_matrix": False},
    "numba-lowrank": {"low_rank_modified_mass_matrix": True, "mass_matrix_eigval_cutoff": 6.0},
}


def coordinate_labels(m) -> list[str]:
    """A label per sampler coordinate of ``m`` (a :class:`MeasurementModel`): the block's name, with
    its measure and unit where the block has them (the months of a walk are one label)."""
    L, d = m.layout, m.design
    free = [f"{s}:{k}" for s, k in (d.keys[i] for i in d.free_keys)]
    keys = [f"{s}:{k}" for s, k in d.keys]
    named = {"log_kappa": free, "log_alpha": keys,
             "log_alpha_unit": [f"{keys[d.disp_key[g]]}, {d.units[d.disp_unit[g]]}"
                                for g in range(len(keys), d.disp_key.size)]}
    out = []
    for name, shape in L.blocks:
        n = int(np.prod(shape)) if shape else 1
        for j in range(n):
            idx = np.unravel_index(j, shape) if shape else ()
            if name in named:
                out.append(f"{name}[{named[name][j]}]")
            elif name == "effect":
                out.append(f"effect[{d.measures[idx[1]]}, {d.units[idx[2]]}]")
            elif len(shape) >= 2 and shape[1] == L.U:   # (measure, unit, ...): level, scales, walks, transients
                out.append(f"{name}[{d.measures[idx[0]]}, {d.units[idx[1]]}]")
            elif len(shape) == 1 and shape[0] == L.M and name != "log_kappa":
                out.append(f"{name}[{d.measures[idx[0]]}]")
            else:
                out.append(f"{name}[{j}]")
    return out


def divergence_sites(m, ss) -> dict[str, int]:
    """Divergent transitions counted by the sampler coordinate that moved most in them: the largest
    ``|end - start|`` of the diverging step relative to the coordinate's adapted scale (the square
    root of nutpie's inverse mass matrix at that draw; unscaled where nutpie stores none, as with
    the low-rank mass matrix), most frequent first."""
    div = np.asarray(ss["diverging"].values, dtype=bool)
    if not div.any():
        return {}
    start = np.asarray(ss["divergence_start"].values)[div]
    end = np.asarray(ss["divergence_end"].values)[div]
    scale = (np.sqrt(np.asarray(ss["mass_matrix_inv"].values)[div]) if "mass_matrix_inv" in ss
             else np.ones_like(start))
    labels = coordinate_labels(m)
    top = np.nanargmax(np.abs(end - start) / scale, axis=1)
    counts: dict[str, int] = {}
    for j in top:
        counts[labels[j]] = counts.get(labels[j], 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> None:
    from pakcast.models.fusion import MeasurementModel

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", choices=["shipped", "simulated"], default="shipped")
    ap.add_argument("--start", default="2019-01")
    ap.add_argument("--units", type=int, default=3)
    ap.add_argument("--months", type=int, default=60)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--samplers", default="numba,numba-plain,pymc")
    ap.add_argument("--steps", default="known",
                    help="known-date level steps: 'known' (the default fit's: the profile's dates the window's figures "
                         "reach; none on simulated data), 'none', or comma-separated months (YYYY-MM)")
    ap.add_argument("--random-seed", type=int, default=1, help="the samplers' seed (one for every sampler)")
    ap.add_argument("--seeds", type=int, default=1,
                    help="fit every sampler with this many seeds (--random-seed, +1, ...); the table and the ratios "
                         "use the median over seeds of each figure (divergences: the total)")
    ap.add_argument("--divergences", action="store_true",
                    help="store where each divergent transition happened and report, per run, the sampler "
                         "coordinates that moved most in them (divergence_sites)")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    obs, units, latent, months, measures, label, steps = _problem(a)
    import pandas as pd

    effects = {name: pd.Period(m, "M") for name, m in steps.items()} or None
    if effects:
        label += f", level steps at {', '.join(steps.values())}"
    from pakcast.models.fusion._callbacks import logp_callback

    t0 = time.perf_counter()
    logp_callback()   # compiled once per process: before the timed fits, so that no row pays it
    callback_compile = time.perf_counter() - t0
    seeds = [a.random_seed + i for i in range(max(int(a.seeds), 1))]
    rows, per_seed = [], {}
    for s in a.samplers.split(","):
        runs = []
        for seed in seeds:
            whiten = "none" if s == "numba-plain" else "auto"
            m = MeasurementModel(obs, units, latent, months, measures=measures, whiten=whiten, effects=effects,
                                 common_shift=s == "numba-shift")
            if s == "numba-pycall":
                m.compile_nutpie = lambda m=m: _python_callback_model(m)
            t0, c0 = time.perf_counter(), time.process_time()
            opts = dict(NUTPIE_OPTIONS.get(s, {}))
            if a.divergences and s.startswith("numba"):
                opts.update(store_divergences=True, store_mass_matrix=True)
            r = m.fit(sampler="numba" if s.startswith("numba") else s, random_seed=seed, draws=a.draws, tune=a.tune,
                      chains=a.chains, **opts)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            dg = r.diagnostics
            ss = r.idata.sample_stats
            depth = (float(ss["depth"].mean()) if "depth" in ss else float(ss["tree_depth"].mean())
                     if "tree_depth" in ss else float("nan"))
            runs.append({"seed": seed, "wall s": wall,
                         "compile s": float(r.idata.attrs.get("compile_seconds", float("nan"))), "cpu s": cpu,
                         "max R-hat": dg.max_rhat, "min bulk ESS": dg.min_ess_bulk, "divergences": dg.divergences,
                         "mean tree depth": depth, "ESS/s": dg.min_ess_bulk / wall})
            if "divergence_start" in ss:
                runs[-1]["divergence sites"] = divergence_sites(m, ss)
        per_seed[s] = runs
        med = {k: float(np.median([x[k] for x in runs])) for k in runs[0]
               if k not in ("seed", "divergences", "divergence sites")}
        rows.append({"sampler": s, **med, "divergences": int(sum(x["divergences"] for x in runs))})
        if any("divergence sites" in x for x in runs):   # summed over seeds, most frequent first
            sites: dict[str, int] = {}
            for x in runs:
                for k, v in x.get("divergence sites", {}).items():
                    sites[k] = sites.get(k, 0) + v
            rows[-1]["divergence sites"] = dict(sorted(sites.items(), key=lambda kv: -kv[1]))
    mach = machine()
    print(mach)
    print(f"{label}: {len(obs)} observations, {a.chains} chains x {a.draws} draws (+{a.tune} tuning), "
          f"seeds {seeds}" + (" (medians over seeds; divergences: total)" if len(seeds) > 1 else "")
          + f"; the C callback compiled once beforehand in {callback_compile:.1f} s")
    cols = ["sampler", "wall s", "compile s", "cpu s", "max R-hat", "min bulk ESS", "divergences", "mean tree depth", "ESS/s"]
    print(fmt_table(rows, cols))
    for s, runs in per_seed.items():
        for x in runs:
            if "divergence sites" in x:
                print(f"{s} seed {x['seed']}: divergent transitions by the coordinate that moved most: "
                      f"{x['divergence sites'] or 'none'}")
    base = {r["sampler"]: r for r in rows}
    if a.json:
        ratios = {f"{s}_vs_{o}": base[s]["ESS/s"] / base[o]["ESS/s"]
                  for s in base for o in base if s != o and base[o]["ESS/s"] > 0}
        with open(a.json, "w", encoding="utf-8") as fh:
            def keys(r):
                return {k.replace(" ", "_").replace("/", "_per_").replace("-", "").lower(): v
                        for k, v in r.items() if k != "sampler"}

            json.dump({"problem": label, "n_observations": len(obs), "chains": a.chains, "draws": a.draws,
                       "tune": a.tune, "seeds": seeds, "callback_compile_s": callback_compile, "machine": mach,
                       "samplers": {r["sampler"]: {**keys(r), "per_seed": [keys(x) for x in per_seed[r["sampler"]]]}
                                    for r in rows},
                       "ess_per_second_ratio": ratios}, fh, indent=2, default=float)


if __name__ == "__main__":
    main()
