"""Proper scores for count forecasts given as predictive samples.

All functions take ``obs`` of shape ``S`` and ``samples`` of shape ``S + (n,)`` (the sample axis
last) and return arrays of shape ``S``.

* **CRPS** (:func:`crps`): the CRPS of the empirical predictive distribution (the energy form
  below), computed by ``scoringrules.crps_ensemble(..., estimator="qd")`` (quantile
  decomposition: the same value as ``"nrg"`` in O(n log n) instead of O(n^2)),

  .. math:: \\mathrm{CRPS}(F, y) = \\frac1n\\sum_i |x_i - y| - \\frac1{2n^2}\\sum_{i,j}|x_i - x_j| .

* **Log score** (:func:`log_score`): :math:`-\\log \\hat p(y)` with :math:`\\hat p` the sample pmf
  smoothed towards a moment-matched negative binomial (a Dirichlet prior worth ``kappa`` = 1
  pseudo-sample):

  .. math:: \\hat p(y) = \\frac{\\#\\{i: x_i = y\\} + \\kappa\\, q(y)}{n + \\kappa},

  where :math:`q` is NB2 with the samples' mean :math:`m` (floored at 0.1) and variance :math:`v`
  (Poisson when :math:`v \\le m`), floored at ``LOG_SCORE_FLOOR`` = 1e-12. A point-mass
  forecast that misses scores :math:`-\\log(q(y)/(n+1))` (at most about 34.5 with n = 500):
  large but finite.
* **Coverage** (:func:`interval_coverage`): whether ``y`` lies in the central ``L``% interval
  ``[Q((1-L)/2), Q((1+L)/2)]`` of the samples (inverted-cdf quantiles, so the bounds are counts).
* **Randomised PIT** (:func:`randomized_pit`): :math:`u = F(y-1) + V\\,[F(y) - F(y-1)]`,
  :math:`V \\sim U(0,1)` (Czado, Gneiting & Held 2009): uniform under a calibrated count forecast.
* **Diebold-Mariano** (:func:`diebold_mariano`) with the Harvey-Leybourne-Newbold correction.
* **CRPS-optimal mixture weights** (:func:`energy_terms`, :func:`crps_mixture_weights`): the CRPS of a
  mixture of sample sets with weights :math:`w` is the quadratic
  :math:`w^\\top a - \\tfrac12 w^\\top B w` with :math:`a_k = E|X_k - y|` and
  :math:`B_{kl} = E|X_k - X_l|`, minimised exactly over the simplex.

References
----------
Gneiting, T. & Raftery, A. E. (2007). Strictly proper scoring rules, prediction, and estimation. JASA 102.
Czado, C., Gneiting, T. & Held, L. (2009). Predictive model assessment for count data. Biometrics 65.
Diebold, F. X. & Mariano, R. S. (1995). Comparing predictive accuracy. JBES 13.
Harvey, D., Leybourne, S. & Newbold, P. (1997). Testing the equality of prediction mean squared errors. IJF 13.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scoringrules as sr
from scipy import optimize, stats

__all__ = [
    "crps",
    "log_score",
    "absolute_error",
    "interval_coverage",
    "randomized_pit",
    "pit_histogram",
    "skill_score",
    "DieboldMarianoResult",
    "diebold_mariano",
    "expected_abs_diff",
    "energy_terms",
    "crps_mixture_weights",
    "COVERAGE_LEVELS",
]

COVERAGE_LEVELS = (50, 80, 90)
LOG_SCORE_FLOOR = 1e-12


def _prep(obs, samples):
    obs = np.asarray(obs, dtype=float)
    samples = np.asarray(samples, dtype=float)
    if samples.shape[:-1] != obs.shape:
        raise ValueError(f"samples shape {samples.shape} must be obs shape {obs.shape} + (n_samples,)")
    return obs, samples


def crps(obs, samples) -> np.ndarray:
    """CRPS of the empirical predictive distribution (``scoringrules`` ``qd`` = energy form)."""
    obs, samples = _prep(obs, samples)
    return np.asarray(sr.crps_ensemble(obs, samples, m_axis=-1, estimator="qd"), dtype=float)


def _nb_pmf(y, mean, var):
    mean = np.maximum(mean, 0.1)
    over = var > mean * (1 + 1e-9)
    size = np.where(over, mean**2 / np.where(over, var - mean, 1.0), 1.0)
    p_nb = stats.nbinom.pmf(y, size, size / (size + mean))
    p_po = stats.poisson.pmf(y, mean)
    return np.where(over, p_nb, p_po)


def log_score(obs, samples, kappa: float = 1.0) -> np.ndarray:
    """Negative log of the smoothed sample pmf at ``obs`` (see the module docstring)."""
    obs, samples = _prep(obs, samples)
    n = samples.shape[-1]
    hits = (samples == obs[..., None]).sum(axis=-1)
    q = np.maximum(_nb_pmf(obs, samples.mean(axis=-1), samples.var(axis=-1)), LOG_SCORE_FLOOR)
    return -np.log((hits + kappa * q) / (n + kappa))


def absolute_error(obs, samples) -> np.ndarray:
    """Absolute error of the predictive median (the point forecast that minimises expected MAE)."""
    obs, samples = _prep(obs, samples)
    med = np.quantile(samples, 0.5, axis=-1, method="inverted_cdf")
    return np.abs(med - obs)


def interval_coverage(obs, samples, levels=COVERAGE_LEVELS) -> dict[int, np.ndarray]:
    """For each level ``L``, a boolean array: ``obs`` inside the central ``L``% sample interval."""
    obs, samples = _prep(obs, samples)
    out = {}
    for lv in levels:
        a = (1 - lv / 100) / 2
        lo = np.quantile(samples, a, axis=-1, method="inverted_cdf")
        hi = np.quantile(samples, 1 - a, axis=-1, method="inverted_cdf")
        out[int(lv)] = (obs >= lo) & (obs <= hi)
    return out


def randomized_pit(obs, samples, random_seed=None) -> np.ndarray:
    """Randomised PIT values for count forecasts (uniform on [0, 1] when calibrated)."""
    obs, samples = _prep(obs, samples)
    f_le = (samples <= obs[..., None]).mean(axis=-1)
    f_lt = (samples < obs[..., None]).mean(axis=-1)
    v = np.random.default_rng(random_seed).uniform(size=obs.shape)
    return f_lt + v * (f_le - f_lt)


def pit_histogram(pit, bins: int = 10) -> dict:
    """Relative frequencies of PIT values in ``bins`` equal bins (a flat histogram = calibrated)."""
    pit = np.asarray(pit, dtype=float).ravel()
    pit = pit[np.isfinite(pit)]
    counts, edges = np.histogram(pit, bins=bins, range=(0.0, 1.0))
    freq = counts / max(pit.size, 1)
    return {"edges": edges.round(6).tolist(), "freq": freq.round(6).tolist(), "n": int(pit.size)}


def skill_score(score, reference) -> float:
    """Skill relative to a reference forecast, :math:`1 - \\bar S / \\bar S_{ref}` (positive = better)."""
    s, r = float(np.nanmean(score)), float(np.nanmean(reference))
    if r == 0:
        return 0.0 if s == 0 else -np.inf
    return 1.0 - s / r


@dataclass(frozen=True)
class DieboldMarianoResult:
    """Diebold-Mariano test of equal expected loss (HLN small-sample correction, t with T-1 df).

    ``mean_diff`` < 0 (``statistic`` < 0) means the first forecast has the smaller loss.
    """

    statistic: float
    pvalue: float
    df: int
    mean_diff: float
    n: int
    h: int

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "pvalue": self.pvalue, "df": self.df,
                "mean_diff": self.mean_diff, "n": self.n, "h": self.h}


def diebold_mariano(loss_a, loss_b, h: int = 1) -> DieboldMarianoResult:
    r"""Diebold-Mariano test on the loss differential :math:`d_t = L^a_t - L^b_t`.

    .. math::

        DM = \frac{\bar d}{\sqrt{\hat V / T}}, \quad
        \hat V = \hat\gamma_0 + 2\sum_{k=1}^{h-1}\hat\gamma_k, \quad
        DM^* = DM\sqrt{\frac{T + 1 - 2h + h(h-1)/T}{T}} \sim t_{T-1}.

    When :math:`\hat V \le 0` the Bartlett (Newey-West) weights are used instead. With ``h = 1``
    the statistic equals the one-sample t statistic of :math:`d_t`.
    """
    a, b = np.asarray(loss_a, dtype=float), np.asarray(loss_b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"loss_a and loss_b must be 1-d of equal length, got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    d = a[keep] - b[keep]
    T = d.size
    if T < 3:
        raise ValueError(f"Diebold-Mariano needs at least 3 paired losses, got {T}")
    h = int(h)
    dbar = float(d.mean())
    dc = d - dbar
    gam = [float(dc @ dc) / T] + [float(dc[k:] @ dc[:-k]) / T for k in range(1, min(h, T))]
    V = gam[0] + 2 * sum(gam[1:])
    if V <= 0:
        V = gam[0] + 2 * sum((1 - k / h) * g for k, g in enumerate(gam[1:], start=1))
    if V <= 0:
        stat = 0.0 if dbar == 0 else np.sign(dbar) * np.inf
    else:
        stat = dbar / np.sqrt(V / T)
        stat *= np.sqrt((T + 1 - 2 * h + h * (h - 1) / T) / T)
    p = float(2 * stats.t.sf(abs(stat), df=T - 1))
    return DieboldMarianoResult(float(stat), p, T - 1, dbar, T, h)


def expected_abs_diff(x, y) -> np.ndarray:
    """:math:`E|X - Y|` for independent empirical samples ``x`` (..., m) and ``y`` (..., n)."""
    x = np.asarray(x, dtype=float)
    y = np.sort(np.asarray(y, dtype=float), axis=-1)
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    y2 = y.reshape(-1, y.shape[-1])
    n = y2.shape[1]
    csum = np.concatenate([np.zeros((y2.shape[0], 1)), np.cumsum(y2, axis=1)], axis=1)
    out = np.empty(x2.shape[0])
    for r in range(x2.shape[0]):
        c = np.searchsorted(y2[r], x2[r], side="right")
        below = csum[r, c]
        tot = csum[r, -1]
        out[r] = np.mean(x2[r] * c - below + (tot - below) - x2[r] * (n - c)) / n
    return out.reshape(lead)


def energy_terms(obs, member_samples) -> tuple[np.ndarray, np.ndarray]:
    """Terms of the mixture CRPS: ``a`` (..., K) = E|X_k - y| and ``B`` (..., K, K) = E|X_k - X_l|.

    ``member_samples`` has shape (K, ...) + (n,). ``crps(mixture) = w @ a - w @ B @ w / 2``.
    """
    obs = np.asarray(obs, dtype=float)
    ms = np.asarray(member_samples, dtype=float)
    K = ms.shape[0]
    a = np.stack([np.abs(ms[k] - obs[..., None]).mean(axis=-1) for k in range(K)], axis=-1)
    B = np.zeros(obs.shape + (K, K))
    for k in range(K):
        for l in range(k, K):
            e = expected_abs_diff(ms[k], ms[l])
            B[..., k, l] = e
            B[..., l, k] = e
    return a, B


def crps_mixture_weights(a, B) -> np.ndarray:
    """Weights on the simplex minimising the mean mixture CRPS ``mean(w @ a - w @ B @ w / 2)``.

    ``a`` is (N, K), ``B`` is (N, K, K). The objective is convex on the simplex (``E|X - X'|``
    is a conditionally negative definite kernel), so the optimum is global.
    """
    a = np.asarray(a, dtype=float).reshape(-1, np.shape(a)[-1])
    K = a.shape[1]
    B = np.asarray(B, dtype=float).reshape(-1, K, K)
    if a.shape[0] == 0:
        return np.full(K, 1.0 / K)
    abar, Bbar = a.mean(axis=0), B.mean(axis=0)

    def f(w):
        return float(w @ abar - 0.5 * w @ Bbar @ w)

    def g(w):
        return abar - Bbar @ w

    w0 = np.full(K, 1.0 / K)
    res = optimize.minimize(
        f, w0, jac=g, method="SLSQP", bounds=[(0.0, 1.0)] * K,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(K)}],
        options={"ftol": 1e-12, "maxiter": 500},
    )
    w = np.clip(res.x if res.success else w0, 0.0, None)
    w = w / w.sum()
    return w
