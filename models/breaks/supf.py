r"""Andrews (1993) sup-F and sup-LR tests for one break at an unknown date, with p-values.

For each candidate break :math:`i` in the trimmed range :math:`[\lfloor \pi_0 n\rfloor, n - \lfloor \pi_0 n\rfloor]`
(``i`` = size of the first segment) the Wald-type Chow statistic of strucchange's ``Fstats`` is

.. math:: F_i = \frac{\mathrm{RSS}_0 - \mathrm{RSS}_1(i)}{\mathrm{RSS}_1(i) / (n - 2k)},

and :math:`\sup F = \max_i F_i`. For counts, :func:`sup_lr_test` uses the likelihood ratio of a
segment cost (Poisson or NB2 mean shift), :math:`LR_i = 2\{C(0,n) - C(0,i) - C(i,n)\}`. Under
the null of no break both converge to

.. math:: \sup_{\lambda \in [\pi_1, \pi_2]} \frac{\lVert B_k(\lambda) - \lambda B_k(1)\rVert^2}{\lambda(1-\lambda)},

with :math:`B_k` a :math:`k`-dimensional standard Brownian motion (Andrews 1993, Theorem 3).

p-values (:func:`supf_pvalue`)
    The limit law is simulated (``n_sim`` Brownian paths on a 1000-point grid; seeded and cached
    per configuration, with the trimming fractions widened to the 0.01 grid, which errs on the
    conservative side). With the sample's own grid instead the test was liberal in simulations
    (6.8% rejections at 5% for n = 120 against 5.6% with the fine grid). Beyond
    the simulated 1% tail the large-value approximation (Andrews 1993; Estrella 2003)

    .. math:: P(\sup > x) \approx \frac{x^{k/2} e^{-x/2}}{2^{k/2}\Gamma(k/2)}
              \left[\Big(1 - \frac{k}{x}\Big)\log\frac{\pi_2(1-\pi_1)}{\pi_1(1-\pi_2)} + \frac{4}{x}\right]

    is used, which is accurate there (e.g. it gives 0.0112 at Andrews' 1% critical value 12.16
    for :math:`k = 1, \pi_0 = 0.15`).

References
----------
Andrews, D. W. K. (1993). Tests for parameter instability and structural change with unknown
change point. *Econometrica* 61(4), 821-856.
Estrella, A. (2003). Critical values and p values of Bessel process distributions. *Econometric
Theory* 19, 1128-1143.
Zeileis, A., Leisch, F., Hornik, K., Kleiber, C. (2002). strucchange. *J. Stat. Softw.* 7(2).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import gammaln

from pakcast.models.breaks.costs import CostL2, SegmentCost, make_cost

__all__ = ["SupFResult", "sup_f_test", "sup_lr_test", "supf_pvalue", "supf_critical_value", "trim_range"]

DEFAULT_SEED = 20_140_816


@dataclass(frozen=True)
class SupFResult:
    """Result of a sup-F / sup-LR test. ``break_index``: 0-based last observation before the break."""

    statistic: float
    pvalue: float
    break_index: int
    k: int
    n: int
    trim: tuple[int, int]
    method: str
    stats: np.ndarray = field(repr=False, compare=False)
    candidates: np.ndarray = field(repr=False, compare=False)

    def __iter__(self):  # ``stat, p = res``
        return iter((self.statistic, self.pvalue))

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "p_value": self.pvalue, "break_index": self.break_index,
                "k": self.k, "n": self.n, "trim": list(self.trim), "method": self.method}


def trim_range(n: int, trim: float | int, k: int = 1) -> tuple[int, int]:
    """Candidate first-segment sizes ``[from, to]`` as in strucchange ``Fstats``."""
    lo = int(np.floor(trim * n)) if trim < 1 else int(trim)
    lo = max(lo, k + 1)
    hi = min(n - lo, n - k - 1)
    if lo > hi:
        raise ValueError(f"series of length {n} too short for trimming {trim} with {k} parameter(s)")
    return lo, hi


@lru_cache(maxsize=64)
def _simulated_sup(k: int, lo_frac: float, hi_frac: float, n_grid: int, n_sim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(1, n_grid + 1) / n_grid
    sel = (t >= lo_frac - 1e-12) & (t <= hi_frac + 1e-12)
    lam = t[sel]
    out = np.empty(n_sim)
    chunk = max(1, min(n_sim, 4_000_000 // (n_grid * k)))
    for s in range(0, n_sim, chunk):
        m = min(chunk, n_sim - s)
        W = np.cumsum(rng.standard_normal((m, n_grid, k)), axis=1) / np.sqrt(n_grid)
        BB = W[:, sel, :] - lam[None, :, None] * W[:, -1:, :]
        Q = np.sum(BB * BB, axis=2) / (lam * (1 - lam))[None, :]
        out[s:s + m] = Q.max(axis=1)
    out.sort()
    return out


def _tail_approx(x: float, k: int, lo: float, hi: float) -> float:
    lam = (hi * (1 - lo)) / (lo * (1 - hi))
    logc = (k / 2) * np.log(x) - x / 2 - (k / 2) * np.log(2) - gammaln(k / 2)
    return float(np.exp(logc) * ((1 - k / x) * np.log(lam) + 4 / x))


def supf_pvalue(statistic: float, k: int = 1, trim: float | tuple[float, float] = 0.15, *,
                n_grid: int = 1000, n_sim: int = 10_000, random_seed: int = DEFAULT_SEED) -> float:
    """Asymptotic p-value of a sup-F / sup-LR statistic (see module notes)."""
    if isinstance(trim, (int, float, np.number)):
        lo, hi = float(trim), 1 - float(trim)
    else:
        lo, hi = (float(v) for v in trim)
    if not 0 < lo <= hi < 1:
        raise ValueError(f"trimming fractions must satisfy 0 < lo <= hi < 1, got {lo, hi}")
    if not np.isfinite(statistic):
        return float("nan")
    n_grid = int(min(max(n_grid, 50), 4000))
    lo, hi = np.floor(lo * 100 + 1e-9) / 100, np.ceil(hi * 100 - 1e-9) / 100
    lo, hi = max(lo, 0.01), min(hi, 0.99)
    sims = _simulated_sup(int(k), float(lo), float(hi), n_grid, int(n_sim), int(random_seed))
    p = float(1.0 - np.searchsorted(sims, statistic, side="left") / len(sims))
    if p < 0.01:
        p = min(_tail_approx(float(statistic), int(k), float(lo), float(hi)), 0.01)
    return float(max(p, 0.0))


def supf_critical_value(alpha: float = 0.05, k: int = 1, trim: float = 0.15, **kw) -> float:
    """Simulated critical value (upper ``alpha`` quantile) of the sup-F limit law."""
    lo, hi = (trim, 1 - trim)
    sims = _simulated_sup(int(k), round(lo, 6), round(hi, 6), int(kw.get("n_grid", 1000)),
                          int(kw.get("n_sim", 10_000)), int(kw.get("random_seed", DEFAULT_SEED)))
    return float(np.quantile(sims, 1 - alpha))


def sup_f_test(y, X=None, trim: float = 0.15, *, random_seed: int = DEFAULT_SEED,
               n_sim: int = 10_000) -> SupFResult:
    """Andrews sup-F test of a linear model ``y = X beta`` (default: constant mean).

    Examples
    --------
    >>> import statsmodels.api as sm
    >>> nile = sm.datasets.nile.load_pandas().data["volume"].to_numpy()
    >>> res = sup_f_test(nile)
    >>> round(res.statistic, 2), res.break_index
    (75.93, 27)
    """
    cost = CostL2().fit(y, X)
    n, k = cost.n_, cost.n_params
    lo, hi = trim_range(n, trim, k)
    i = np.arange(lo, hi + 1)
    rss0 = cost.error(0, n)
    rss1 = cost._segment_costs(np.zeros_like(i), i) + cost._segment_costs(i, np.full_like(i, n))
    yv = np.asarray(y, dtype=float)
    if rss0 <= 1e-12 * max(float(yv @ yv), 1.0):
        raise ValueError("sup-F is undefined for a series the model fits exactly (for example a constant or "
                         "all-zero series): there is no variation in which to look for a break")
    stats = (rss0 - rss1) / (rss1 / (n - 2 * k))
    j = int(np.argmax(stats))
    p = supf_pvalue(float(stats[j]), k, (lo / n, hi / n), n_sim=n_sim, random_seed=random_seed)
    return SupFResult(float(stats[j]), p, int(i[j] - 1), k, n, (lo, hi), "sup-F (Andrews 1993)", stats, i - 1)


def sup_lr_test(y, cost: str | SegmentCost = "negbin", trim: float = 0.15, *,
                random_seed: int = DEFAULT_SEED, n_sim: int = 10_000) -> SupFResult:
    """sup-LR test for a mean shift in a count series (Poisson or NB2 cost)."""
    c = make_cost(cost).fit(y)
    if not c.is_likelihood:
        raise ValueError("sup_lr_test needs a likelihood cost ('poisson' or 'negbin'); use sup_f_test for l2")
    n, k = c.n_, c.n_params
    lo, hi = trim_range(n, trim, k)
    i = np.arange(lo, hi + 1)
    c0 = c.error(0, n)
    c1 = c._segment_costs(np.zeros_like(i), i) + c._segment_costs(i, np.full_like(i, n))
    stats = np.maximum(2 * (c0 - c1), 0.0)
    j = int(np.argmax(stats))
    p = supf_pvalue(float(stats[j]), k, (lo / n, hi / n), n_sim=n_sim, random_seed=random_seed)
    return SupFResult(float(stats[j]), p, int(i[j] - 1), k, n, (lo, hi), f"sup-LR ({c.model} mean shift)", stats, i - 1)
