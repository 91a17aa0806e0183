"""Small numeric helpers shared by the Bayesian results: tidy interval records (HDIs by ``arviz.hdi``), NB draws."""

from __future__ import annotations

import arviz as az
import numpy as np
from scipy import stats


def interval_record(draws: np.ndarray, *, hdi_prob: float = 0.95, extra_probs: tuple[float, ...] = (0.90,),
                    null: float | None = None) -> dict:
    """``{mean, median, sd, hdi_low, hdi_high, hdi_prob, hdi90_low, ...}`` (+ ``p_decrease``/``p_increase``
    against ``null``) for the draws of one scalar quantity."""
    x = np.asarray(draws, dtype=float).ravel()
    lo, hi = (float(v) for v in az.hdi(x, hdi_prob=hdi_prob))
    rec = {"mean": float(x.mean()), "median": float(np.median(x)), "sd": float(x.std(ddof=1)) if x.size > 1 else 0.0,
           "hdi_low": lo, "hdi_high": hi, "hdi_prob": hdi_prob}
    for p in extra_probs:
        l2, h2 = (float(v) for v in az.hdi(x, hdi_prob=p))
        tag = f"hdi{int(round(100 * p))}"
        rec[f"{tag}_low"], rec[f"{tag}_high"] = l2, h2
    if null is not None:
        rec["p_decrease"] = float(np.mean(x < null))
        rec["p_increase"] = float(np.mean(x > null))
    return rec


def nb2_draws(mu: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    r"""NB2 draws (:math:`\mathrm{Var} = \mu + \alpha\mu^2`) as a gamma-Poisson mixture; broadcasts."""
    mu, alpha = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(alpha, dtype=float))
    shape = 1.0 / alpha
    lam = rng.gamma(shape, mu / shape)
    return rng.poisson(lam).astype(np.int64)


def zero_truncated_nb2_draws(mu: np.ndarray, alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """NB2 draws conditioned on being positive (inverse CDF on (F(0), 1])."""
    mu, alpha = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(alpha, dtype=float))
    r = 1.0 / alpha
    p = r / (r + mu)
    f0 = stats.nbinom.cdf(0, r, p)
    u = f0 + rng.uniform(size=mu.shape) * (1.0 - f0)
    out = stats.nbinom.ppf(np.minimum(u, 1.0 - 1e-16), r, p)
    return np.maximum(out, 1).astype(np.int64)
