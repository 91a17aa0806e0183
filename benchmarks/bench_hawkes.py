"""Hawkes log-likelihood with gradient: the O(N) Numba recursion vs the O(N^2) definition
(vectorised numpy, the textbook double sum), N = 1e3 and 1e4 events.

Run: ``.venv/bin/python -m benchmarks.bench_hawkes``.  The O(N^2) version lives here and in
the tests only; the library has no O(N^2) path.
"""

from __future__ import annotations

import numpy as np

from benchmarks._common import best_time, fmt_table


def quadratic_loglik_grad(t, T, mu, alpha, beta):
    """O(N^2) log-likelihood and gradient (the definition, vectorised row by row)."""
    ll = 0.0
    g = np.zeros(3)
    for i in range(1, t.size):
        d = t[i] - t[:i]
        e = np.exp(-beta * d)
        A = e.sum()
        B = -(d * e).sum()
        lam = mu + alpha * A
        ll += np.log(lam)
        g += [1 / lam, A / lam, alpha * B / lam]
    ll += np.log(mu)
    g[0] += 1 / mu
    E = np.exp(-beta * (T - t))
    n = t.size
    ll -= mu * T + alpha / beta * (n - E.sum())
    g[0] -= T
    g[1] -= (n - E.sum()) / beta
    g[2] -= -alpha / beta**2 * (n - E.sum()) + alpha / beta * ((T - t) * E).sum()
    return ll, g


def run(sizes=(1_000, 10_000)) -> list[dict]:
    from pakcast.models.hawkes import _uni_llg, simulate_exp_hawkes

    rows = []
    for n in sizes:
        mu, a, b = 0.5, 0.8, 1.6
        T = n / (mu / (1 - a / b))
        t = simulate_exp_hawkes(mu, a, b, T, random_seed=1)[:n]
        T = float(t[-1])
        ll_lin = _uni_llg(t, 0.0, T, 0.4, 0.7, 1.3)
        ll_q, g_q = quadratic_loglik_grad(t, T, 0.4, 0.7, 1.3)
        t_lin = best_time(lambda: _uni_llg(t, 0.0, T, 0.4, 0.7, 1.3), 7, max(1, 200_000 // n))
        t_q = best_time(lambda: quadratic_loglik_grad(t, T, 0.4, 0.7, 1.3), 3 if n < 10_000 else 1, 1)
        rows.append({"bench": "hawkes_loglik_grad", "N": int(t.size), "linear_s": t_lin, "quadratic_s": t_q,
                     "ns_per_event": 1e9 * t_lin / t.size, "speedup": t_q / t_lin,
                     "rel_diff": abs(ll_lin[0] - ll_q) / abs(ll_q),
                     "grad_rel_diff": float(np.max(np.abs(np.array(ll_lin[1:]) - g_q) / np.abs(g_q)))})
    return rows


COLS = ["N", "linear_s", "quadratic_s", "ns_per_event", "speedup", "rel_diff", "grad_rel_diff"]

if __name__ == "__main__":
    print(fmt_table(run(), COLS))
