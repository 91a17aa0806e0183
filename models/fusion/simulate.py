"""Synthetic latent panels seen by several sources at mixed resolutions, for recovery and coverage checks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pakcast.models.bayes._summaries import nb2_draws

__all__ = ["simulate_fusion"]


def simulate_fusion(n_units: int = 4, n_months: int = 96, *, start: str = "2010-01",
                    scales: Sequence[float] = (1.0, 0.6, 2.2), sigma: float = 0.08,
                    severity_sigma: float = 0.04, break_month: int | None = 60, break_size: float = 0.6,
                    alpha: Sequence[float] = (0.05, 0.05, 0.02), horizon: int = 6,
                    random_seed: int | None = None) -> tuple[pd.DataFrame, dict]:
    r"""A known latent panel and three sources with known scales, resolutions and gaps.

    The latent primary intensity (``attacks``) follows the model's random walk with innovation
    scale ``sigma`` plus a level break of ``break_size`` (log scale) at ``break_month`` and a
    seasonal wave; deaths are attacks times a severity random walk (scale ``severity_sigma``).
    Source ``A`` (scale ``scales[0]``, the reference) reports every unit monthly for the first 70%
    of the months, with two random months missing per unit; ``B`` (``scales[1]``) reports every unit
    by quarter from month 24 on, one quarter missing; ``C`` (``scales[2]``) reports the national
    total (all units) by calendar year, attacks only, one year missing. Counts are NB2 with
    dispersion ``alpha[s]``. ``horizon`` months past the data are in ``months`` but unobserved.

    Returns
    -------
    observations : DataFrame
        The model's observation table (``source, metric, measure, cover, first, last, value``).
    truth : dict
        ``months`` (PeriodIndex incl. horizon), ``units``, ``lam`` (M, U, T) true intensities in
        ``A``'s units, ``scales`` {(source, metric): kappa}, ``alpha``.
    """
    rng = np.random.default_rng(random_seed)
    months = pd.period_range(start, periods=n_months + horizon, freq="M")
    T = len(months)
    units = [f"U{i}" for i in range(n_units)]
    level = rng.normal(1.5, 0.6, n_units)
    w = np.cumsum(np.concatenate([np.zeros((n_units, 1)), sigma * rng.standard_normal((n_units, T - 1))], axis=1), axis=1)
    season = 0.15 * np.sin(2 * np.pi * (months.month.to_numpy() - 1) / 12)
    log_att = level[:, None] + w + season[None, :]
    if break_month is not None:
        log_att[:, break_month:] += break_size
    sev0 = rng.normal(0.8, 0.3, n_units)
    v = np.cumsum(np.concatenate([np.zeros((n_units, 1)),
                                  severity_sigma * rng.standard_normal((n_units, T - 1))], axis=1), axis=1)
    log_dth = log_att + sev0[:, None] + v
    lam = np.exp(np.stack([log_att, log_dth]))            # (2, U, T)
    rows: list[dict] = []
    measures = {"attacks": 0, "deaths": 1}

    def add(src: str, k: int, metric: str, cover: list[str], t0: int, t1: int) -> None:
        m = measures[metric]
        idx = [units.index(u) for u in cover]
        mu = scales[k] * lam[m][idx, t0:t1 + 1].sum()
        y = int(nb2_draws(np.array([mu]), np.array([alpha[k]]), rng)[0])
        rows.append({"source": src, "metric": metric, "measure": metric, "cover": tuple(cover),
                     "first": months[t0], "last": months[t1], "value": y})

    a_end = int(0.7 * n_months)
    for u in units:
        skip = set(rng.choice(a_end, size=2, replace=False).tolist())
        for t in range(a_end):
            if t in skip:
                continue
            for metric in ("attacks", "deaths"):
                add("A", 0, metric, [u], t, t)
    q_starts = list(range(24 - 24 % 3, n_months - 2, 3))
    miss_q = int(rng.choice(len(q_starts)))
    for qi, t0 in enumerate(q_starts):
        if qi == miss_q:
            continue
        for u in units:
            for metric in ("attacks", "deaths"):
                add("B", 1, metric, [u], t0, t0 + 2)
    y_starts = [t for t in range(n_months - 11) if months[t].month == 1]
    miss_y = int(rng.choice(len(y_starts)))
    for yi, t0 in enumerate(y_starts):
        if yi != miss_y:
            add("C", 2, "attacks", list(units), t0, t0 + 11)
    obs = pd.DataFrame(rows)
    truth = {"months": months, "units": units, "lam": lam, "measures": ["attacks", "deaths"],
             "scales": {("A", "attacks"): scales[0], ("A", "deaths"): scales[0], ("B", "attacks"): scales[1],
                        ("B", "deaths"): scales[1], ("C", "attacks"): scales[2]},
             "alpha": list(alpha), "n_observed_months": n_months}
    return obs, truth


def replication_coverage(n_reps: int = 20, *, first_seed: int = 100, draws: int = 500, tune: int = 600,
                         chains: int = 2, level: float = 0.9) -> dict:
    """Coverage of the central ``level`` intervals over ``n_reps`` simulated panels (3 units, 60
    months, a break at month 36, :func:`simulate_fusion` with seed ``first_seed + rep``): the share of
    non-reference scales and of latent unit-months (both measures, observed months) whose interval
    holds the truth, with the number of intervals, the replications that failed the convergence
    gates and the seconds."""
    import time

    from pakcast.models.fusion.model import MeasurementModel

    t0 = time.perf_counter()
    hits_scale: list[bool] = []
    hits_latent: list[bool] = []
    unconverged = 0
    a = (1 - level) / 2
    for rep in range(int(n_reps)):
        obs, truth = simulate_fusion(n_units=3, n_months=60, horizon=4, break_month=36, random_seed=first_seed + rep)
        res = MeasurementModel(obs, "A", truth["units"], truth["months"]).fit(
            random_seed=rep, draws=draws, tune=tune, chains=chains)
        unconverged += int(not res.diagnostics.converged)
        sc = res.scales(alpha=1 - level).set_index(["source", "metric"])
        for key, kappa in truth["scales"].items():
            if not sc.loc[key, "reference"]:
                hits_scale.append(bool(sc.loc[key, "ci_low"] <= kappa <= sc.loc[key, "ci_high"]))
        nf = res.design.n_fit
        for mi, me in enumerate(truth["measures"]):
            lo, hi = np.quantile(res.intensity_draws(me)[:, :nf], [a, 1 - a], axis=2)
            true = truth["lam"][mi][:, :nf]
            hits_latent.extend(((lo <= true) & (true <= hi)).ravel().tolist())
    return {"n_reps": int(n_reps), "level": level, "scales": float(np.mean(hits_scale)), "n_scales": len(hits_scale),
            "latent": float(np.mean(hits_latent)), "n_latent": len(hits_latent), "unconverged": unconverged,
            "draws": draws, "tune": tune, "chains": chains, "seconds": time.perf_counter() - t0}
