"""Simulated panels with known effects, for recovery tests, SBC and examples."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pakcast.models.bayes._summaries import nb2_draws
from pakcast.models.seasonality import fourier_terms


def simulate_its_panel(n_units: int = 4, n_months: int = 72, start: str = "2010-01-01",
                       breaks: tuple[str, ...] = ("2012-06-15",), *, intercept_mu: float = 1.0,
                       intercept_sigma: float = 1.0, trend_mu: float = 0.05, trend_sigma: float = 0.02,
                       level_mu: tuple[float, ...] = (-0.7,), level_sigma: float = 0.2,
                       slope_mu: tuple[float, ...] = (0.0,), slope_sigma: float = 0.02,
                       season: tuple[float, ...] = (0.2, -0.1, 0.0, 0.0), alpha: float = 0.3,
                       population: float | None = None, random_seed: int | None = None
                       ) -> tuple[pd.DataFrame, dict]:
    """A long panel (``unique_id, ds, attacks[, population]``) from the hierarchical NB ITS.

    Returns the panel and the true parameters (``level`` (U, K), ``slope`` (U, K), ...), with
    unit effects drawn around the national ones exactly as the model assumes.
    """
    rng = np.random.default_rng(random_seed)
    dates = pd.date_range(start, periods=n_months, freq="MS")
    units = [f"U{i:02d}" for i in range(n_units)]
    K = len(breaks)
    level_mu = np.resize(np.asarray(level_mu, dtype=float), K)
    slope_mu = np.resize(np.asarray(slope_mu, dtype=float), K)
    a = intercept_mu + intercept_sigma * rng.standard_normal(n_units)
    b = trend_mu + trend_sigma * rng.standard_normal(n_units)
    lv = level_mu[None, :] + level_sigma * rng.standard_normal((n_units, K))
    sl = slope_mu[None, :] + slope_sigma * rng.standard_normal((n_units, K))
    t = ((dates - dates[0]) / pd.Timedelta(days=1)).to_numpy(dtype=float) / 365.25
    eta = a[:, None] + b[:, None] * t[None, :]
    for k, brk in enumerate(breaks):
        bt = pd.Timestamp(brk)
        post = np.asarray(dates > bt)
        ramp = np.where(post, ((dates - bt) / pd.Timedelta(days=1)).to_numpy(dtype=float) / 365.25, 0.0)
        eta = eta + lv[:, k:k + 1] * post[None, :] + sl[:, k:k + 1] * ramp[None, :]
    m = dates.month.to_numpy(dtype=float)
    sea = np.asarray(season, dtype=float)
    F = fourier_terms(m, 12, sea.size // 2)
    for j in range(sea.size // 2):
        eta = eta + sea[2 * j] * F[:, 2 * j] + sea[2 * j + 1] * F[:, 2 * j + 1]
    y = nb2_draws(np.exp(eta), alpha, rng)
    panel = pd.DataFrame({"unique_id": np.repeat(units, n_months), "ds": np.tile(dates, n_units),
                          "attacks": y.reshape(-1)})
    if population is not None:
        panel["population"] = float(population)
    truth = {"intercept": a, "trend": b, "level": lv, "slope": sl, "level_mu": level_mu, "slope_mu": slope_mu,
             "season": sea, "alpha": alpha, "units": units, "breaks": list(breaks)}
    return panel, truth
