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
* **CRPS in closed form** (:func:`crps_negbin`, :func:`crps_poisson`) for NB2 and Poisson forecasts,
  and from stored percentiles (:func:`crps_from_percentiles`, the quantile decomposition
  :math:`\\mathrm{CRPS} \\approx \\frac{2}{K}\\sum_k \\rho_{\\tau_k}(y - q_{\\tau_k})`).
* **Randomised PIT** (:func:`randomized_pit`): :math:`u = F(y-1) + V\\,[F(y) - F(y-1)]`,
  :math:`V \\sim U(0,1)` (Czado, Gneiting & Held 2009): uniform under a calibrated count forecast.
* **Coverage** (:func:`pit_coverage`, the measure reported): the central ``L``% "interval" holds
  ``y`` when :math:`(1-L)/2 \\le u \\le (1+L)/2`. For counts this is the only definition whose
  expected share is exactly ``L`` under a calibrated forecast: the closed count interval
  ``[Q((1-L)/2), Q((1+L)/2)]`` (:func:`interval_coverage`, kept for the published intervals'
  hit rates) over-covers at low counts (a calibrated Poisson(0.4) forecast: 99% at 90%).
  :func:`pit_ks_pvalue` tests the PIT values for uniformity (Kolmogorov-Smirnov).
* **Skill intervals** (:func:`skill_interval`): :math:`1 - \\bar S / \\bar S_{ref}` with a
  moving-block bootstrap over forecast origins (blocks keep the overlap of multi-step forecasts).
* **Coverage intervals** (:func:`coverage_interval`): the same bootstrap for the share of outcomes
  inside the central interval, with the effective number of independent outcomes it implies, and
  :func:`band_probability`: how often a calibrated forecaster's coverage over that many outcomes
  lands inside a goal band (the sampling noise of a coverage goal).
* **Diebold-Mariano** (:func:`diebold_mariano`) with the Harvey-Leybourne-Newbold correction.
* **Brier score** (:func:`brier_score`) of probability forecasts of a binary event,
  :math:`(p - 1_{\\text{event}})^2`, and the **reliability table** (:func:`reliability_table`):
  forecasts binned by probability, the mean forecast against the observed frequency per bin (the
  points of a reliability diagram), with the Murphy decomposition
  :math:`\bar B = \text{reliability} - \text{resolution} + \text{uncertainty}` over the bins.
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

from pakcast.models.pit import randomized_pit  # the one implementation (models/pit.py)

__all__ = [
    "crps",
    "crps_negbin",
    "crps_poisson",
    "crps_from_percentiles",
    "log_score",
    "log_score_negbin",
    "absolute_error",
    "interval_coverage",
    "randomized_pit",
    "pit_coverage",
    "pit_ks_pvalue",
    "pit_histogram",
    "skill_score",
    "SkillInterval",
    "skill_interval",
    "CoverageInterval",
    "coverage_interval",
    "band_probability",
    "DieboldMarianoResult",
    "diebold_mariano",
    "expected_abs_diff",
    "energy_terms",
    "crps_mixture_weights",
    "brier_score",
    "reliability_table",
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


def crps_negbin(obs, mu, alpha) -> np.ndarray:
    r"""Closed-form CRPS of NB2 forecasts with mean ``mu`` and dispersion ``alpha``
    (:math:`\operatorname{Var} = \mu + \alpha\mu^2`; ``alpha`` = 0 is the Poisson)."""
    obs = np.asarray(obs, dtype=float)
    mu, alpha = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(alpha, dtype=float))
    small = alpha <= 1e-10
    r = 1.0 / np.where(small, 1.0, alpha)
    nb = np.asarray(sr.crps_negbinom(obs, r, mu=mu), dtype=float)
    return np.where(small, crps_poisson(obs, mu), nb)


def crps_poisson(obs, mu) -> np.ndarray:
    """Closed-form CRPS of Poisson(``mu``) forecasts."""
    return np.asarray(sr.crps_poisson(np.asarray(obs, dtype=float), np.asarray(mu, dtype=float)), dtype=float)


def crps_from_percentiles(obs, quantiles, levels) -> np.ndarray:
    r"""CRPS approximated from predictive quantiles ``quantiles`` (..., K) at probability
    ``levels`` (K,) (evenly spaced, e.g. 0.01..0.99): twice the mean pinball loss,

    .. math:: \mathrm{CRPS} \approx \frac{2}{K}\sum_k \rho_{\tau_k}(y - q_{\tau_k}),\quad
              \rho_\tau(u) = u(\tau - 1[u < 0]).
    """
    y = np.asarray(obs, dtype=float)[..., None]
    q = np.asarray(quantiles, dtype=float)
    tau = np.asarray(levels, dtype=float)
    if q.shape[-1] != tau.size:
        raise ValueError(f"{q.shape[-1]} quantiles but {tau.size} levels")
    pin = np.where(y >= q, tau * (y - q), (1 - tau) * (q - y))
    return 2 * pin.mean(axis=-1)


def log_score_negbin(obs, mu, alpha) -> np.ndarray:
    """Minus the log pmf of NB2(``mu``, ``alpha``) (Poisson where ``alpha`` is 0) at ``obs``."""
    obs = np.asarray(obs, dtype=float)
    mu, alpha = np.broadcast_arrays(np.asarray(mu, dtype=float), np.asarray(alpha, dtype=float))
    small = alpha <= 1e-10
    r = 1.0 / np.where(small, 1.0, alpha)
    lp = np.where(small, stats.poisson.logpmf(obs, mu), stats.nbinom.logpmf(obs, r, r / (r + mu)))
    return -lp


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
    """For each level ``L`` (per cent), a boolean array: ``obs`` inside the central ``L`` per cent sample interval."""
    obs, samples = _prep(obs, samples)
    out = {}
    for lv in levels:
        a = (1 - lv / 100) / 2
        lo = np.quantile(samples, a, axis=-1, method="inverted_cdf")
        hi = np.quantile(samples, 1 - a, axis=-1, method="inverted_cdf")
        out[int(lv)] = (obs >= lo) & (obs <= hi)
    return out


def pit_coverage(pit, levels=COVERAGE_LEVELS) -> dict[int, np.ndarray]:
    """For each level ``L``: ``(1 - L/100)/2 <= pit <= (1 + L/100)/2`` (randomised-PIT coverage).

    With the randomised PIT the share is exactly ``L`` per cent in expectation under a calibrated count
    forecast, however low the counts; NaN PIT values give False.
    """
    pit = np.asarray(pit, dtype=float)
    out = {}
    for lv in levels:
        a = (1 - lv / 100) / 2
        out[int(lv)] = (pit >= a) & (pit <= 1 - a)
    return out


def pit_ks_pvalue(pit) -> float:
    """Kolmogorov-Smirnov p-value of the PIT values against U(0, 1) (NaN with fewer than 5 values).

    The values of one series at overlapping horizons are dependent, so read it as a descriptive
    distance, not an exact test.
    """
    u = np.asarray(pit, dtype=float).ravel()
    u = u[np.isfinite(u)]
    if u.size < 5:
        return float("nan")
    return float(stats.kstest(u, "uniform").pvalue)


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
class SkillInterval:
    """Skill :math:`1 - \\bar S/\\bar S_{ref}` with a bootstrap interval (``level`` two-sided)."""

    skill: float
    ci_low: float
    ci_high: float
    n: int
    block: int
    level: float

    def to_dict(self) -> dict:
        return {"skill": self.skill, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
                "block": self.block, "level": self.level}


def skill_interval(score, reference, block: int = 4, n_boot: int = 2000, level: float = 0.9,
                   random_seed=None) -> SkillInterval:
    r"""Skill of ``score`` against ``reference`` (paired losses, one per forecast origin, in time
    order) with a moving-block bootstrap percentile interval.

    .. math:: \hat s = 1 - \frac{\sum_t S_t}{\sum_t R_t}, \qquad
              \hat s^{*b} = 1 - \frac{\sum_{t \in I^{*b}} S_t}{\sum_{t \in I^{*b}} R_t},

    where :math:`I^{*b}` concatenates :math:`\lceil T/\ell\rceil` blocks of ``block`` = :math:`\ell`
    consecutive origins drawn with replacement (Kunsch 1989), so the correlation between the
    overlapping 12-month forecasts of neighbouring origins is kept. NaN where fewer than 3 pairs or
    the reference loss sums to 0.
    """
    s, r = np.asarray(score, dtype=float), np.asarray(reference, dtype=float)
    if s.shape != r.shape or s.ndim != 1:
        raise ValueError(f"score and reference must be 1-d of equal length, got {s.shape} and {r.shape}")
    keep = np.isfinite(s) & np.isfinite(r)
    s, r = s[keep], r[keep]
    T = s.size
    nan = float("nan")
    if T < 3 or r.sum() <= 0:
        return SkillInterval(nan if r.sum() <= 0 else 1 - s.sum() / r.sum(), nan, nan, T, int(block), level)
    est = 1.0 - s.sum() / r.sum()
    ell = max(1, min(int(block), T))
    idx = _block_indices(T, ell, n_boot, random_seed)
    rs = r[idx].sum(axis=1)
    boot = np.where(rs > 0, 1.0 - s[idx].sum(axis=1) / np.where(rs > 0, rs, 1.0), np.nan)
    a = (1 - level) / 2
    lo, hi = np.nanquantile(boot, [a, 1 - a])
    return SkillInterval(float(est), float(lo), float(hi), T, ell, level)


def _block_indices(T: int, block: int, n_boot: int, random_seed) -> np.ndarray:
    """``(n_boot, T)`` moving-block bootstrap indices: :math:`\\lceil T/\\ell\\rceil` blocks of
    ``block`` = :math:`\\ell` consecutive positions drawn with replacement, cut to ``T``."""
    nb = -(-T // block)
    rng = np.random.default_rng(random_seed)
    starts = rng.integers(0, T - block + 1, size=(int(n_boot), nb))
    return (starts[..., None] + np.arange(block)).reshape(int(n_boot), -1)[:, :T]


@dataclass(frozen=True)
class CoverageInterval:
    """Coverage :math:`\\hat c` with a bootstrap interval (``level`` two-sided) and ``n_eff``, the
    number of independent outcomes with the same sampling variance."""

    coverage: float
    ci_low: float
    ci_high: float
    n: int
    n_eff: float
    block: int
    level: float

    def to_dict(self) -> dict:
        return {"coverage": self.coverage, "ci_low": self.ci_low, "ci_high": self.ci_high, "n": self.n,
                "n_eff": self.n_eff, "block": self.block, "level": self.level}


def coverage_interval(hits, counts, block: int = 4, n_boot: int = 2000, level: float = 0.9,
                      random_seed=None) -> CoverageInterval:
    r"""Coverage :math:`\hat c = \sum_t h_t / \sum_t n_t` of ``hits`` :math:`h_t` (outcomes inside the
    interval) out of ``counts`` :math:`n_t` (outcomes scored) per forecast origin :math:`t`, in time
    order, with the moving-block bootstrap percentile interval of :func:`skill_interval`
    (blocks of ``block`` origins keep the dependence between the overlapping forecasts of
    neighbouring origins and between the horizons of one origin).

    ``n_eff`` :math:`= \hat c(1-\hat c) / \widehat{\mathrm{var}}^*(\hat c)`: the number of
    independent outcomes whose share would vary as much as the bootstrap says (``n`` / design
    effect; NaN when :math:`\hat c` is 0 or 1 or the bootstrap does not vary). NaN interval with
    fewer than 3 origins.
    """
    h, n = np.asarray(hits, dtype=float), np.asarray(counts, dtype=float)
    if h.shape != n.shape or h.ndim != 1:
        raise ValueError(f"hits and counts must be 1-d of equal length, got {h.shape} and {n.shape}")
    keep = np.isfinite(h) & np.isfinite(n) & (n > 0)
    h, n = h[keep], n[keep]
    T, total = h.size, int(n.sum())
    nan = float("nan")
    if T == 0:
        return CoverageInterval(nan, nan, nan, 0, nan, int(block), level)
    est = float(h.sum() / n.sum())
    if T < 3:
        return CoverageInterval(est, nan, nan, total, nan, int(block), level)
    ell = max(1, min(int(block), T))
    idx = _block_indices(T, ell, n_boot, random_seed)
    boot = h[idx].sum(axis=1) / n[idx].sum(axis=1)
    a = (1 - level) / 2
    lo, hi = np.quantile(boot, [a, 1 - a])
    var = float(np.var(boot, ddof=1))
    n_eff = est * (1 - est) / var if var > 0 and 0 < est < 1 else nan
    return CoverageInterval(est, float(lo), float(hi), total, float(n_eff), ell, level)


def band_probability(n_eff: float, level: float = 0.9, low: float = 0.85, high: float = 0.95) -> float:
    r"""P(:math:`\text{low} \le X/n \le \text{high}`) for :math:`X \sim \mathrm{Bin}(n, \text{level})`,
    :math:`n` = ``n_eff`` rounded: how often a calibrated forecaster (randomised-PIT coverage
    indicators are Bernoulli(``level``) under calibration) shows a coverage inside the band over
    ``n_eff`` independent outcomes. NaN when ``n_eff`` is not a positive number."""
    if not np.isfinite(n_eff) or n_eff < 1:
        return float("nan")
    n = max(1, int(round(float(n_eff))))
    k = np.arange(n + 1)
    share = k / n
    inside = (share >= low - 1e-12) & (share <= high + 1e-12)
    return float(stats.binom.pmf(k[inside], n, level).sum())


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


def _sorted_with_cumsum(y):
    ys = np.sort(np.asarray(y, dtype=float), axis=-1)
    return ys, np.concatenate([np.zeros(ys.shape[:-1] + (1,)), np.cumsum(ys, axis=-1)], axis=-1)


def _expected_abs_diff_sorted(x, ys, ycs) -> np.ndarray:
    """E|X - Y| with ``ys`` sorted along the last axis and ``ycs`` its cumulative sums (leading 0)."""
    x = np.asarray(x, dtype=float)
    lead = x.shape[:-1]
    m, n = x.shape[-1], ys.shape[-1]
    x2 = x.reshape(-1, m)
    y2 = ys.reshape(-1, n)
    c2 = ycs.reshape(-1, n + 1)
    R = x2.shape[0]
    # one searchsorted over all rows: shift row r by r * span so that rows do not interleave
    lo = min(float(x2.min(initial=0.0)), float(y2.min(initial=0.0)))
    span = max(float(x2.max(initial=0.0)), float(y2.max(initial=0.0))) - lo + 1.0
    off = (np.arange(R) * span)[:, None]
    c = np.searchsorted((y2 - lo + off).ravel(), (x2 - lo + off).ravel(), side="right").reshape(R, m)
    c = c - (np.arange(R) * n)[:, None]
    below = np.take_along_axis(c2, c, axis=1)
    tot = c2[:, -1:]
    s = x2 * c - below + (tot - below) - x2 * (n - c)
    return (s.sum(axis=1) / (m * n)).reshape(lead)


def expected_abs_diff(x, y) -> np.ndarray:
    r""":math:`E|X - Y|` for independent empirical samples ``x`` (..., m) and ``y`` (..., n).

    With ``y`` sorted and :math:`c_i = \#\{y \le x_i\}`, :math:`S_c` the sum of the :math:`c`
    smallest ``y`` and :math:`T` their total,
    :math:`n\sum_j |x_i - y_j|/n = x_i c_i - S_{c_i} + (T - S_{c_i}) - x_i (n - c_i)`,
    vectorised over rows (one ``searchsorted`` for all of them).
    """
    ys, ycs = _sorted_with_cumsum(y)
    x = np.asarray(x, dtype=float)
    lead = np.broadcast_shapes(x.shape[:-1], ys.shape[:-1])
    ys = np.broadcast_to(ys, lead + ys.shape[-1:])
    ycs = np.broadcast_to(ycs, lead + ycs.shape[-1:])
    return _expected_abs_diff_sorted(np.broadcast_to(x, lead + x.shape[-1:]), ys, ycs)


def energy_terms(obs, member_samples) -> tuple[np.ndarray, np.ndarray]:
    """Terms of the mixture CRPS: ``a`` (..., K) = E|X_k - y| and ``B`` (..., K, K) = E|X_k - X_l|.

    ``member_samples`` has shape (K, ...) + (n,). ``crps(mixture) = w @ a - w @ B @ w / 2``.
    """
    obs = np.asarray(obs, dtype=float)
    ms = np.asarray(member_samples, dtype=float)
    K = ms.shape[0]
    a = np.stack([np.abs(ms[k] - obs[..., None]).mean(axis=-1) for k in range(K)], axis=-1)
    B = np.zeros(obs.shape + (K, K))
    srt = [_sorted_with_cumsum(ms[k]) for k in range(K)]
    for k in range(K):
        for l in range(k, K):
            e = _expected_abs_diff_sorted(srt[k][0], *srt[l])
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


def brier_score(prob, outcome) -> np.ndarray:
    """Brier score of probability forecasts ``prob`` of binary ``outcome`` (0/1 or bool), elementwise."""
    p = np.asarray(prob, dtype=float)
    o = np.asarray(outcome, dtype=float)
    if p.shape != o.shape:
        raise ValueError(f"prob shape {p.shape} != outcome shape {o.shape}")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    return (p - o) ** 2


def reliability_table(prob, outcome, bins: int = 5) -> dict:
    """Reliability diagram data: ``bins`` equal-width probability bins with ``n``, ``mean_forecast``
    and ``observed_frequency`` (NaN where empty), plus the mean Brier score and its Murphy
    decomposition (``reliability``, ``resolution``, ``uncertainty``; the three add up to the Brier
    score of the bin-mean forecasts, close to the raw one)."""
    p = np.asarray(prob, dtype=float).ravel()
    o = np.asarray(outcome, dtype=float).ravel()
    keep = np.isfinite(p) & np.isfinite(o)
    p, o = p[keep], o[keep]
    edges = np.linspace(0.0, 1.0, int(bins) + 1)
    idx = np.clip(np.digitize(p, edges[1:-1], right=False), 0, int(bins) - 1)
    obar = float(o.mean()) if o.size else float("nan")
    rows, rel, res = [], 0.0, 0.0
    for b in range(int(bins)):
        sel = idx == b
        n = int(sel.sum())
        mf = float(p[sel].mean()) if n else float("nan")
        of = float(o[sel].mean()) if n else float("nan")
        if n:
            rel += n * (mf - of) ** 2
            res += n * (of - obar) ** 2
        rows.append({"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": n, "mean_forecast": mf,
                     "observed_frequency": of})
    N = max(p.size, 1)
    return {"bins": rows, "n": int(p.size), "brier": float(brier_score(p, o).mean()) if p.size else float("nan"),
            "reliability": rel / N, "resolution": res / N, "uncertainty": obar * (1 - obar) if o.size else float("nan"),
            "base_rate": obar}
