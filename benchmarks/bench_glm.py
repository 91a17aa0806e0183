"""NB2 GLM fit on the shipped province-month panel: pakcast CountGLM vs statsmodels.

Design: attacks ~ province fixed effects + quadratic trend, 2000-2021 (7 provinces x 264 months).
statsmodels is run two ways: its default ``fit()`` (BFGS) and ``fit(method="newton")`` with a
tight tolerance (the setting that reaches the same optimum to 1e-8).

Run: ``.venv/bin/python -m benchmarks.bench_glm``
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from benchmarks._common import best_time, fmt_table


def panel_design():
    from pakcast.forecast.panel import load_panel

    p = load_panel(freq="month")
    p = p[(p.unique_id != "Pakistan") & (p.ds >= "2000-01-01")].reset_index(drop=True)
    t = ((p.ds.dt.year - 2010) + p.ds.dt.month / 12) / 10
    X = pd.get_dummies(p.unique_id, drop_first=True, dtype=float)
    X.insert(0, "const", 1.0)
    X["trend"] = t
    X["trend2"] = t**2
    return p.attacks.to_numpy(), X


def run() -> list[dict]:
    import statsmodels.api as sm

    from pakcast.models.glm import CountGLM

    y, X = panel_design()
    ours = CountGLM(y, X).fit()
    warnings.simplefilter("ignore")
    sm_newton = sm.NegativeBinomial(y, X).fit(method="newton", maxiter=100, tol=1e-10, disp=0)
    sm_default = sm.NegativeBinomial(y, X).fit(disp=0)
    est = np.append(ours.params.to_numpy(), ours.alpha_)
    t_ours = best_time(lambda: CountGLM(y, X).fit(), 7)
    t_newton = best_time(lambda: sm.NegativeBinomial(y, X).fit(method="newton", maxiter=100, tol=1e-10, disp=0), 5)
    t_default = best_time(lambda: sm.NegativeBinomial(y, X).fit(disp=0), 5)
    return [
        {"bench": "nb_glm_panel", "fit": "pakcast CountGLM (Newton)", "nobs": len(y), "seconds": t_ours,
         "speedup_ours": 1.0, "max_rel_diff_params": 0.0},
        {"bench": "nb_glm_panel", "fit": "statsmodels newton tol=1e-10", "nobs": len(y), "seconds": t_newton,
         "speedup_ours": t_newton / t_ours,
         "max_rel_diff_params": float(np.max(np.abs(sm_newton.params.to_numpy() - est) / np.abs(est)))},
        {"bench": "nb_glm_panel", "fit": "statsmodels default (bfgs)", "nobs": len(y), "seconds": t_default,
         "speedup_ours": t_default / t_ours,
         "max_rel_diff_params": float(np.max(np.abs(sm_default.params.to_numpy() - est) / np.abs(est)))},
    ]


COLS = ["fit", "nobs", "seconds", "speedup_ours", "max_rel_diff_params"]

if __name__ == "__main__":
    print(fmt_table(run(), COLS))
