"""Hierarchical NB model on the province-month panel: PyMC NUTS vs nutpie, native
``pm.NegativeBinomial`` graph vs the Numba Op (:mod:`models.likelihood.pytensor_ops`).

Model (non-centred): attacks[p, t] ~ NB2(mu, alpha), log mu = a_p + b_p trend_t + c trend_t^2,
a_p = m_a + s_a z_a[p], b_p = m_b + s_b z_b[p], one dispersion log alpha ~ N(-1, 1);
7 provinces x 264 months (2000-2021).  Also times one logp+gradient evaluation of each graph
(PyTensor C backend and NUMBA mode), the cost that NUTS repeats at every leapfrog step.

Figure of merit: ESS per second = min bulk ESS over all parameters / sampling wall time
(compilation excluded and reported apart).  Run: ``.venv/bin/python -m benchmarks.bench_pymc``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from benchmarks._common import fmt_table


def panel_arrays():
    from pakcast.forecast.panel import load_panel

    p = load_panel(freq="month")
    p = p[(p.unique_id != "Pakistan") & (p.ds >= "2000-01-01")].reset_index(drop=True)
    codes, names = np.unique(p.unique_id.to_numpy(dtype=str), return_inverse=False), None
    idx = np.searchsorted(codes, p.unique_id.to_numpy(dtype=str))
    t = (((p.ds.dt.year - 2010) + p.ds.dt.month / 12) / 10).to_numpy()
    return p.attacks.to_numpy(), idx, t, len(codes)


def build(use_op: bool):
    import pymc as pm
    import pytensor.tensor as pt

    from pakcast.models.likelihood.pytensor_ops import nb_logp

    y, g, t, G = panel_arrays()
    with pm.Model() as m:
        m_a = pm.Normal("m_a", 0, 2)
        s_a = pm.HalfNormal("s_a", 2)
        m_b = pm.Normal("m_b", 0, 2)
        s_b = pm.HalfNormal("s_b", 1)
        c = pm.Normal("c", 0, 2)
        la = pm.Normal("log_alpha", -1, 1)
        z_a = pm.Normal("z_a", 0, 1, shape=G)
        z_b = pm.Normal("z_b", 0, 1, shape=G)
        a = m_a + s_a * z_a
        b = m_b + s_b * z_b
        eta = a[g] + b[g] * t + c * t**2
        if use_op:
            pm.Potential("y_loglik", nb_logp(y, eta, la))
        else:
            pm.NegativeBinomial("y", mu=pt.exp(eta), alpha=pt.exp(-la), observed=y)
    return m


def _min_ess(idata):
    import arviz as az

    ess = az.ess(idata, method="bulk")
    return float(min(float(ess[v].min()) for v in ess.data_vars))


def run(draws=1000, tune=1000, chains=2, seed=1) -> list[dict]:
    import nutpie
    import pymc as pm

    from benchmarks._common import best_time

    rows = []
    for use_op in (False, True):
        label = "numba Op" if use_op else "native NB graph"
        m = build(use_op)
        ip = m.initial_point()
        for mode in (None, "NUMBA"):
            kw = {"mode": mode} if mode else {}
            from pymc.blocking import DictToArrayBijection

            fn = m.logp_dlogp_function(ravel_inputs=True, **kw)  # the joint function NUTS calls
            fn.set_extra_values({})
            x = DictToArrayBijection.map({k: ip[k] for k in fn._grad_vars_names} if hasattr(fn, "_grad_vars_names")
                                         else ip).data
            t_eval = best_time(lambda: fn(x), 7, 200)
            rows.append({"sampler": f"logp+grad eval ({mode or 'C'})", "likelihood": label, "eval_us": 1e6 * t_eval})
        with m:
            t0 = time.perf_counter()
            idata = pm.sample(draws=draws, tune=tune, chains=chains, cores=chains, random_seed=seed,
                              progressbar=False, compute_convergence_checks=False)
            total = time.perf_counter() - t0
        st = float(idata.posterior.attrs.get("sampling_time", total))
        ess = _min_ess(idata)
        div = int(idata.sample_stats["diverging"].sum())
        rows.append({"sampler": "PyMC NUTS", "likelihood": label, "sampling_s": st, "total_s": total,
                     "min_ess_bulk": ess, "ess_per_s": ess / st, "divergences": div})
        t0 = time.perf_counter()
        compiled = nutpie.compile_pymc_model(m, backend="numba")
        t_comp = time.perf_counter() - t0
        t0 = time.perf_counter()
        tr = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed, progress_bar=False)
        st = time.perf_counter() - t0
        ess = _min_ess(tr)
        div = int(tr.sample_stats["diverging"].sum())
        rows.append({"sampler": "nutpie (numba)", "likelihood": label, "sampling_s": st, "total_s": st + t_comp,
                     "min_ess_bulk": ess, "ess_per_s": ess / st, "divergences": div})
    base = next(r["ess_per_s"] for r in rows if r["sampler"] == "PyMC NUTS")
    for r in rows:
        r["bench"] = "hier_nb_sampling"
        if "ess_per_s" in r:
            r["x_vs_pymc_native"] = r["ess_per_s"] / base
    return rows


COLS = ["sampler", "likelihood", "eval_us", "sampling_s", "total_s", "min_ess_bulk", "ess_per_s", "x_vs_pymc_native", "divergences"]

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    print(fmt_table(run(a.draws, a.tune), COLS))
