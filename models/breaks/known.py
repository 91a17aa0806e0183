r"""Break tests at known dates: Chow F test (linear) and likelihood-ratio test (counts).

Chow (1960), for a break after observation ``i`` (0-based ``break_index``) in ``y = X beta``:

.. math:: F = \frac{(\mathrm{RSS}_0 - \mathrm{RSS}_1 - \mathrm{RSS}_2)/k}{(\mathrm{RSS}_1 + \mathrm{RSS}_2)/(n - 2k)}
   \sim F_{k,\, n-2k}.

Count LR test: a log-link Poisson or NB2 model with all coefficients of ``X`` (default: a
constant, i.e. a level shift) allowed to change after the break, against the pooled model;
:math:`LR = 2(\ell_1 - \ell_0) \sim \chi^2_k`. The NB2 dispersion :math:`\alpha` is common to both
segments and estimated by maximum likelihood under each hypothesis. Both tests assume
independent observations given the mean; with autocorrelated counts prefer the HAC Wald tests
of :class:`models.its.InterruptedTimeSeries`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.optimize import minimize_scalar

from pakcast.models.glm import CountGLM
from pakcast.models.likelihood import negbin_logpmf, poisson_logpmf

__all__ = ["BreakTestResult", "chow_test", "count_lr_test"]


@dataclass(frozen=True)
class BreakTestResult:
    """A test at a known break: ``statistic``, ``pvalue``, ``df``, ``break_index``, n before/after."""

    test: str
    statistic: float
    pvalue: float
    df: tuple
    break_index: int
    n_pre: int
    n_post: int

    def __iter__(self):
        return iter((self.statistic, self.pvalue))

    def to_dict(self) -> dict:
        return {"test": self.test, "statistic": self.statistic, "p_value": self.pvalue, "df": list(self.df),
                "break_index": self.break_index, "n_pre": self.n_pre, "n_post": self.n_post}


def _split(n: int, break_index: int, k: int) -> int:
    i = int(break_index) + 1
    if not (k <= i <= n - k):
        raise ValueError(f"break_index {break_index} leaves fewer than {k} observation(s) on one side (n={n})")
    return i


def chow_test(y, break_index: int, X=None, Z=None) -> BreakTestResult:
    """Chow F test for a change in the coefficients of ``X`` (default: the mean) after ``break_index``.

    ``Z`` holds regressors whose coefficients stay the same (partial structural change): the
    restricted model is ``y ~ [Z, X]`` and the unrestricted ``y ~ [Z, X, X * 1{t > break}]``.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    X = np.ones((n, 1)) if X is None else np.asarray(X, dtype=float).reshape(n, -1)
    k = X.shape[1]
    i = _split(n, break_index, k + 1)
    if Z is not None:
        Z = np.asarray(Z, dtype=float).reshape(n, -1)
        D = (np.arange(n) >= i).astype(float)[:, None]
        X0 = np.hstack([Z, X])
        X1 = np.hstack([X0, X * D])
        r0 = _rss(X0, y)
        r1 = _rss(X1, y)
        df2 = n - X1.shape[1]
        _check_rss(r1, y)
        F = ((r0 - r1) / k) / (r1 / df2)
        return BreakTestResult("chow", float(F), float(stats.f.sf(F, k, df2)), (k, df2), int(break_index), i, n - i)

    def rss(Xs, ys):
        b = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        u = ys - Xs @ b
        return float(u @ u)

    r0 = rss(X, y)
    r12 = rss(X[:i], y[:i]) + rss(X[i:], y[i:])
    df2 = n - 2 * k
    _check_rss(r12, y)
    F = ((r0 - r12) / k) / (r12 / df2)
    return BreakTestResult("chow", float(F), float(stats.f.sf(F, k, df2)), (k, df2), int(break_index), i, n - i)


def _check_rss(rss: float, y: np.ndarray) -> None:
    """Refuse a test whose unrestricted model fits exactly (e.g. a constant or all-zero series)."""
    scale = max(float(np.sum(y * y)), 1.0)
    if not np.isfinite(rss) or rss <= 1e-12 * scale:
        raise ValueError("the Chow F statistic is undefined: the model fits the series exactly in both segments "
                         "(for example a constant or all-zero series), so there is no residual variance to test against")


def _rss(X, y) -> float:
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    u = y - X @ b
    return float(u @ u)


def _nb_ll_const(y: np.ndarray, groups: list[np.ndarray], family: str) -> float:
    """Max log-likelihood with a constant mean per group (means are the group averages)."""
    mus = [np.full(len(g), g.mean()) for g in groups]
    yy = np.concatenate(groups)
    mu = np.concatenate(mus)
    pos = mu > 0  # an all-zero group has mean 0 and contributes log 1 = 0 exactly
    yy, mu = yy[pos], mu[pos]
    ll_pois = float(np.sum(poisson_logpmf(yy, mu)))
    if family == "poisson":
        return ll_pois

    def nll(la):
        return -float(np.sum(negbin_logpmf(yy, mu, np.exp(la))))

    opt = minimize_scalar(nll, bounds=(-12, 5), method="bounded")
    return max(-float(opt.fun), ll_pois)


def count_lr_test(y, break_index: int, X=None, family: str = "negbin", offset=None, Z=None) -> BreakTestResult:
    """Likelihood-ratio test for a change in a Poisson / NB2 log-linear model after ``break_index``.

    ``X`` holds the regressors whose coefficients may change (default: a constant, i.e. a level
    shift); ``Z`` regressors with common coefficients (e.g. a trend); ``offset`` an exposure.
    """
    y = np.asarray(y, dtype=float)
    if (y < 0).any() or (y != np.round(y)).any() or not np.isfinite(y).all():
        i = int(np.flatnonzero((y < 0) | (y != np.round(y)) | ~np.isfinite(y))[0])
        raise ValueError(f"count LR test needs non-negative integer counts; position {i} holds {y[i]!r}")
    if family not in ("poisson", "negbin"):
        raise ValueError("family must be 'poisson' or 'negbin'")
    n = len(y)
    if X is None and offset is None and Z is None:
        i = _split(n, break_index, 1)
        ll0 = _nb_ll_const(y, [y], family)
        ll1 = _nb_ll_const(y, [y[:i], y[i:]], family)
        k = 1
    else:
        X = np.ones((n, 1)) if X is None else np.asarray(X, dtype=float).reshape(n, -1)
        k = X.shape[1]
        i = _split(n, break_index, k + 1)
        D = (np.arange(n) >= i).astype(float)[:, None]
        if Z is not None:
            X = np.hstack([np.asarray(Z, dtype=float).reshape(n, -1), X])
            X1 = np.hstack([X, X[:, -k:] * D])
        else:
            X1 = np.hstack([X, X * D])
        off = None if offset is None else np.log(np.asarray(offset, dtype=float))
        ll0, ll1 = _max_loglike(y, X, off, family), _max_loglike(y, X1, off, family)
    lr = max(0.0, 2 * (ll1 - ll0))
    return BreakTestResult(f"lr_{family}", float(lr), float(stats.chi2.sf(lr, k)), (k,), int(break_index), i, n - i)


def _max_loglike(y, X, offset, family: str) -> float:
    """Maximised log-likelihood of a Poisson / NB2 log-linear model (:class:`models.glm.CountGLM`)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # boundary fits: only the maximum is needed
        return CountGLM(y, X, offset=offset, family=family).fit().llf
