"""NB2 log-likelihood + gradient: Numba kernel vs the textbook numpy/scipy version vs a compiled
PyTensor graph (PyMC's NegativeBinomial logp and its gradient), N = 1e4, 1e5, 1e6.

Run: ``.venv/bin/python benchmarks/bench_likelihood.py [--json OUT]``
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from benchmarks._common import best_time, fmt_table, machine


def make_data(n: int, seed: int = 0):
    """Counts like the event panels: mostly small, overdispersed, a long tail."""
    rng = np.random.default_rng(seed)
    eta = rng.normal(0.5, 1.0, n)
    alpha = 0.8
    mu = np.exp(eta)
    y = rng.negative_binomial(1 / alpha, 1 / (1 + alpha * mu)).astype(float)
    return y, eta, np.log(alpha)


def pytensor_fn():
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    y = pt.dvector("y")
    eta = pt.dvector("eta")
    la = pt.dscalar("la")
    ll = pm.logp(pm.NegativeBinomial.dist(mu=pt.exp(eta), alpha=pt.exp(-la)), y).sum()
    g_eta, g_la = pytensor.grad(ll, [eta, la])
    return pytensor.function([y, eta, la], [ll, g_eta, g_la])


def run(sizes=(10_000, 100_000, 1_000_000)) -> list[dict]:
    from pakcast.models.likelihood import negbin_loglik_grad
    from pakcast.models.likelihood.negbin import _EMPTY, _nb_llg_parallel, _nb_llg_serial
    from pakcast.models.likelihood.numpy_twins import negbin_loglik_grad_scipy

    f_pt = pytensor_fn()
    rows = []
    for n in sizes:
        y, eta, la = make_data(n)
        la1 = np.array([la])
        de = np.empty(n)
        ref = negbin_loglik_grad_scipy(y, eta, la)
        ours = negbin_loglik_grad(y, eta, la)
        ptv = f_pt(y, eta, la)
        rel = abs(ours[0] - ref[0]) / abs(ref[0])
        rep = 7 if n < 1_000_000 else 5
        num = max(1, 100_000 // n)
        t_numba = best_time(lambda: negbin_loglik_grad(y, eta, la), rep, num)
        t_serial = best_time(lambda: _nb_llg_serial(y, eta, la1, _EMPTY, _EMPTY, de, _EMPTY), rep, num)
        t_par = best_time(lambda: _nb_llg_parallel(y, eta, la1, _EMPTY, _EMPTY, de, _EMPTY), rep, num)
        t_scipy = best_time(lambda: negbin_loglik_grad_scipy(y, eta, la), rep, num)
        t_pt = best_time(lambda: f_pt(y, eta, la), rep, num)
        rows.append({"bench": "nb_loglik_grad", "N": n, "numba_s": t_numba, "numba_serial_s": t_serial,
                     "numba_parallel_s": t_par, "scipy_s": t_scipy, "pytensor_s": t_pt,
                     "x_vs_scipy": t_scipy / t_numba, "x_vs_pytensor": t_pt / t_numba,
                     "ns_per_obs": 1e9 * t_numba / n, "rel_diff_scipy": rel,
                     "rel_diff_pytensor": abs(ours[0] - float(ptv[0])) / abs(float(ptv[0]))})
    return rows


COLS = ["N", "numba_s", "numba_serial_s", "numba_parallel_s", "scipy_s", "pytensor_s", "x_vs_scipy",
        "x_vs_pytensor", "ns_per_obs", "rel_diff_scipy", "rel_diff_pytensor"]

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = run()
    print(fmt_table(rows, COLS))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"machine": machine(), "rows": rows}, fh, indent=2)
