r"""OLS-based CUSUM and MOSUM fluctuation tests (Ploberger & Kraemer 1992; Chu, Hornik & Kuan 1995).

With OLS residuals :math:`\hat u_t` of ``y ~ X`` and :math:`\hat\sigma^2 = \sum \hat u_t^2/(n-k)`:

.. math::
   W^0(t) = \frac{1}{\hat\sigma\sqrt n}\sum_{s \le \lfloor nt \rfloor} \hat u_s, \qquad
   M(t) = \frac{1}{\hat\sigma\sqrt n}\sum_{s=\lfloor nt\rfloor + 1}^{\lfloor nt\rfloor + \lfloor nh\rfloor} \hat u_s .

Under the null :math:`W^0` converges to a Brownian bridge :math:`B`; the CUSUM statistic
:math:`S_0 = \max_t |W^0(t)|` has the Kolmogorov tail
:math:`P(S_0 > x) = 2\sum_{j\ge1}(-1)^{j+1} e^{-2j^2x^2}` (strucchange ``sctest(efp(type="OLS-CUSUM"))``).
The MOSUM statistic :math:`\max_t |M(t)|` converges to :math:`\sup_t |B(t+h) - B(t)|`; its
p-value is simulated (seeded) on a grid of the sample's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = ["FluctuationResult", "ols_cusum", "ols_mosum", "cusum_pvalue"]


@dataclass(frozen=True)
class FluctuationResult:
    """A fluctuation test: statistic, p-value, the process and its ``alpha`` boundary."""

    statistic: float
    pvalue: float
    argmax: int
    method: str
    boundary: float
    process: np.ndarray = field(repr=False, compare=False)

    def __iter__(self):
        return iter((self.statistic, self.pvalue))

    def to_dict(self) -> dict:
        return {"statistic": self.statistic, "p_value": self.pvalue, "argmax": self.argmax,
                "method": self.method, "boundary": self.boundary}


def cusum_pvalue(x: float, terms: int = 100) -> float:
    """``P(sup |B(t)| > x)`` for a Brownian bridge ``B``."""
    if x <= 0:
        return 1.0
    j = np.arange(1, terms + 1)
    return float(np.clip(2 * np.sum((-1.0) ** (j + 1) * np.exp(-2 * j * j * x * x)), 0.0, 1.0))


def _residuals(y, X):
    y = np.asarray(y, dtype=float)
    X = np.ones((len(y), 1)) if X is None else np.asarray(X, dtype=float).reshape(len(y), -1)
    u = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    sigma = np.sqrt(u @ u / (len(y) - X.shape[1]))
    return u, sigma


def ols_cusum(y, X=None, alpha: float = 0.05) -> FluctuationResult:
    """OLS-CUSUM test; the boundary is the constant ``b`` with ``P(S0 > b) = alpha``.

    Examples
    --------
    >>> import statsmodels.api as sm
    >>> res = ols_cusum(sm.datasets.nile.load_pandas().data["volume"])
    >>> round(res.statistic, 4)
    2.9518
    """
    u, sigma = _residuals(y, X)
    n = len(u)
    proc = np.concatenate([[0.0], np.cumsum(u)]) / (sigma * np.sqrt(n))
    j = int(np.argmax(np.abs(proc)))
    stat = float(abs(proc[j]))
    from scipy.optimize import brentq

    bound = brentq(lambda b: cusum_pvalue(b) - alpha, 0.3, 5.0)
    return FluctuationResult(stat, cusum_pvalue(stat), j - 1, "OLS-CUSUM", bound, proc)


@lru_cache(maxsize=32)
def _mosum_null(n: int, w: int, n_sim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty(n_sim)
    chunk = max(1, 2_000_000 // n)
    t = np.arange(1, n + 1) / n
    for s in range(0, n_sim, chunk):
        m = min(chunk, n_sim - s)
        W = np.cumsum(rng.standard_normal((m, n)), axis=1) / np.sqrt(n)
        B = np.concatenate([np.zeros((m, 1)), W - t[None, :] * W[:, -1:]], axis=1)
        out[s:s + m] = np.abs(B[:, w:] - B[:, :-w]).max(axis=1)
    out.sort()
    return out


def ols_mosum(y, X=None, h: float = 0.15, alpha: float = 0.05, *, n_sim: int = 5000,
              random_seed: int = 20_141_216) -> FluctuationResult:
    """OLS-MOSUM test with bandwidth ``h`` (fraction of the sample); simulated p-value."""
    u, sigma = _residuals(y, X)
    n = len(u)
    w = max(1, int(np.floor(n * h)))
    c = np.concatenate([[0.0], np.cumsum(u)])
    proc = (c[w:] - c[:-w]) / (sigma * np.sqrt(n))
    j = int(np.argmax(np.abs(proc)))
    stat = float(abs(proc[j]))
    null = _mosum_null(n, w, int(n_sim), int(random_seed))
    p = 1.0 - np.searchsorted(null, stat, side="left") / len(null)
    return FluctuationResult(stat, float(p), j + w // 2, f"OLS-MOSUM (h={h})", float(np.quantile(null, 1 - alpha)), proc)
