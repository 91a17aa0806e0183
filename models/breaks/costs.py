r"""Segment costs for change-point searches (search methods live in :mod:`models.breaks.search`).

A cost scores one segment ``y[start:end]`` (end exclusive) by minus its maximised
log-likelihood, or for least squares by its residual sum of squares. A search never looks
inside a cost: it asks for :meth:`SegmentCost.cost_matrix` (every admissible segment at once)
or :meth:`SegmentCost.error`, so a new cost plugs in by subclassing :class:`SegmentCost`
(the pattern of ``ruptures``' ``BaseCost``).

Costs
-----
``"l2"`` :class:`CostL2`
    Linear regression with segment-specific coefficients (pure mean shift by default):

    .. math:: C(a, b) = \min_\beta \sum_{t=a}^{b-1} (y_t - x_t^\top \beta)^2 .

``"poisson"`` :class:`CostPoisson`
    Poisson mean shift, :math:`\hat\mu = \bar y_{a:b}`:

    .. math:: C(a, b) = \sum_{t=a}^{b-1} \left[\hat\mu - y_t \log \hat\mu + \log y_t!\right].

``"negbin"`` :class:`CostNegBin`
    NB2 mean shift with a dispersion :math:`\alpha` shared by all segments
    (:math:`\operatorname{Var} y = \mu + \alpha\mu^2`). For fixed :math:`\alpha` the segment MLE
    of the mean is again :math:`\bar y_{a:b}`, so every segment cost is closed form from cumulative
    sums; :math:`\alpha` is fixed before the search (given, or estimated by
    :func:`estimate_nb_alpha`). This is the count-likelihood scan for sparse series.

All costs are computed for all :math:`O(n^2)` segments at once from cumulative sums.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from pakcast.models.likelihood import negbin_count_part

__all__ = ["SegmentCost", "CostL2", "CostPoisson", "CostNegBin", "make_cost", "estimate_nb_alpha", "COSTS"]


class SegmentCost:
    """Base class: ``fit(y) -> self``, ``error(start, end)``, ``cost_matrix(min_size)``.

    Attributes set by ``fit``: ``n_`` (length), ``n_params`` (parameters per segment that change
    at a break) and ``n_shared`` (parameters common to all segments, e.g. a variance).
    """

    model = "base"
    n_params = 1
    n_shared = 0
    is_likelihood = True
    n_: int  # set by fit
    y_: np.ndarray  # set by fit

    def fit(self, y, X=None) -> "SegmentCost":  # pragma: no cover - abstract
        raise NotImplementedError

    def _segment_costs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def error(self, start: int, end: int) -> float:
        """Cost of ``y[start:end]``."""
        if not 0 <= start < end <= self.n_:
            raise ValueError(f"segment [{start}, {end}) outside 0..{self.n_}")
        return float(self._segment_costs(np.array([start]), np.array([end]))[0])

    def cost_matrix(self, min_size: int = 1) -> np.ndarray:
        """``C[a, b]`` = cost of ``y[a:b]`` for ``b - a >= min_size``; ``inf`` elsewhere."""
        n = self.n_
        C = np.full((n + 1, n + 1), np.inf)
        a, b = np.triu_indices(n + 1, k=max(1, int(min_size)))
        C[a, b] = self._segment_costs(a, b)
        return C

    def loglike_from_cost(self, total_cost: float) -> float:
        """Log-likelihood of a segmentation whose summed cost is ``total_cost``."""
        return -float(total_cost)


class CostL2(SegmentCost):
    """Least squares with segment-specific regression coefficients (default: a mean per segment)."""

    model = "l2"
    is_likelihood = False

    def fit(self, y, X=None) -> "CostL2":
        y = np.asarray(y, dtype=float)
        if y.ndim != 1:
            raise ValueError("y must be one-dimensional")
        X = np.ones((len(y), 1)) if X is None else np.asarray(X, dtype=float)
        if X.ndim == 1:
            X = X[:, None]
        if X.shape[0] != len(y):
            raise ValueError(f"X has {X.shape[0]} rows, y has {len(y)}")
        if not (np.isfinite(y).all() and np.isfinite(X).all()):
            raise ValueError("y and X must be finite (no missing values)")
        self.y_, self.X_ = y, X
        self.n_ = len(y)
        self.n_params = X.shape[1]
        self.n_shared = 1  # the error variance
        shift = y.mean()  # centre y for numerical stability of the cumulative sums
        self._shift = shift
        yc = y - shift
        self._Sxx = np.concatenate([np.zeros((1, X.shape[1], X.shape[1])),
                                    np.cumsum(X[:, :, None] * X[:, None, :], axis=0)])
        self._Sxy = np.concatenate([np.zeros((1, X.shape[1])), np.cumsum(X * yc[:, None], axis=0)])
        self._Syy = np.concatenate([[0.0], np.cumsum(yc * yc)])
        self._const_only = X.shape[1] == 1 and np.allclose(X[:, 0], 1.0)
        self._Sy = np.concatenate([[0.0], np.cumsum(yc)])
        return self

    def _segment_costs(self, a, b):
        a = np.asarray(a)
        b = np.asarray(b)
        syy = self._Syy[b] - self._Syy[a]
        if self._const_only:
            sy = self._Sy[b] - self._Sy[a]
            return np.maximum(syy - sy * sy / (b - a), 0.0)
        xx = self._Sxx[b] - self._Sxx[a]
        xy = self._Sxy[b] - self._Sxy[a]
        out = np.empty(len(a))
        k = xx.shape[1]
        # least squares per segment; pinv-based solve for rank-deficient short segments
        ok = (b - a) >= k
        out[~ok] = np.inf
        try:
            sol = np.linalg.solve(xx[ok], xy[ok][..., None])[..., 0]
        except np.linalg.LinAlgError:
            sol = np.einsum("nij,nj->ni", np.linalg.pinv(xx[ok]), xy[ok])
        out[ok] = np.maximum(syy[ok] - np.einsum("ni,ni->n", sol, xy[ok]), 0.0)
        return out

    def coefficients(self, start: int, end: int) -> np.ndarray:
        """OLS coefficients of the segment ``[start, end)``."""
        X, y = self.X_[start:end], self.y_[start:end]
        return np.linalg.lstsq(X, y, rcond=None)[0]

    def loglike_from_cost(self, total_cost: float) -> float:
        """Gaussian log-likelihood at the ML variance (strucchange ``logLik.breakpoints``)."""
        n = self.n_
        return -0.5 * n * (np.log(total_cost) + 1 - np.log(n) + np.log(2 * np.pi))


def _check_counts(y) -> np.ndarray:
    y = np.asarray(y, dtype=float)
    if y.ndim != 1:
        raise ValueError("y must be one-dimensional")
    if not np.isfinite(y).all():
        raise ValueError("count series has missing or infinite values")
    if (y < 0).any() or (y != np.round(y)).any():
        i = int(np.flatnonzero((y < 0) | (y != np.round(y)))[0])
        raise ValueError(f"count costs need non-negative integers; position {i} holds {y[i]!r}")
    return y


def _fit_counts(cost: SegmentCost, y, X, what: str, n_shared: int) -> np.ndarray:
    """The checked series of a count mean-shift cost (one mean per segment, no ``X``), with the
    attributes every fit sets (``y_``, ``n_``, ``n_params``, ``n_shared``)."""
    if X is not None:
        raise ValueError(f"the {what} cost is a mean-shift cost; X is not supported")
    y = _check_counts(y)
    cost.y_, cost.n_ = y, len(y)
    cost.n_params, cost.n_shared = 1, n_shared
    return y


class CostPoisson(SegmentCost):
    """Poisson mean shift (closed form)."""

    model = "poisson"

    def fit(self, y, X=None) -> "CostPoisson":
        y = _fit_counts(self, y, X, "Poisson", n_shared=0)
        self._Sy = np.concatenate([[0.0], np.cumsum(y)])
        self._Slf = np.concatenate([[0.0], np.cumsum(gammaln(y + 1))])
        return self

    def _segment_costs(self, a, b):
        s = self._Sy[b] - self._Sy[a]
        m = b - a
        mu = s / m
        with np.errstate(divide="ignore", invalid="ignore"):
            ylogmu = np.where(s > 0, s * np.log(np.where(mu > 0, mu, 1.0)), 0.0)
        return s - ylogmu + (self._Slf[b] - self._Slf[a])


def estimate_nb_alpha(y, window: int = 13) -> float:
    r"""Moment estimate of the NB2 dispersion around a local mean.

    The local mean :math:`m_t` is a centred moving average of width ``window``;
    :math:`\hat\alpha = \max\{0, \sum_t [(y_t - m_t)^2 - m_t] / \sum_t m_t^2\}`. Level shifts
    inflate it only through the few windows that straddle them.
    """
    y = np.asarray(y, dtype=float)
    w = max(1, min(int(window), len(y)))
    kernel = np.ones(w) / w
    num = np.convolve(y, kernel, mode="same")
    den = np.convolve(np.ones_like(y), kernel, mode="same")
    m = num / den
    d = float(np.sum(m * m))
    if d <= 0:
        return 0.0
    return max(0.0, float(np.sum((y - m) ** 2 - m)) / d)


class CostNegBin(SegmentCost):
    """NB2 mean shift with a shared, fixed dispersion ``alpha`` (estimated if ``None``)."""

    model = "negbin"

    def __init__(self, alpha: float | None = None):
        self.alpha = alpha

    def fit(self, y, X=None) -> "CostNegBin":
        y = _fit_counts(self, y, X, "negative-binomial", n_shared=1)
        alpha = estimate_nb_alpha(y) if self.alpha is None else float(self.alpha)
        if alpha < 0:
            raise ValueError("alpha must be >= 0")
        self.alpha_ = alpha
        self._pois = None
        if alpha < 1e-8:  # Poisson limit
            self._pois = CostPoisson().fit(y)
            return self
        self._Sy = np.concatenate([[0.0], np.cumsum(y)])
        # the mean-free part of the NB2 log-pmf (models.likelihood kernel), summed cumulatively
        self._Sc = np.concatenate([[0.0], np.cumsum(negbin_count_part(y, np.log(alpha)))])
        return self

    def _segment_costs(self, a, b):
        r"""Minus :math:`\sum_{t \in (a, b]} \log f(y_t; \bar y, \alpha)`, with
        :math:`\log f = [T(y) - \log y!] + y\log\mu - y\,\mathrm{log1p}(\alpha\mu) - \mathrm{log1p}(\alpha\mu)/\alpha`."""
        if self._pois is not None:
            return self._pois._segment_costs(a, b)
        alpha = self.alpha_
        s = self._Sy[b] - self._Sy[a]
        m = b - a
        mu = s / m
        lp = np.log1p(alpha * mu)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_y = np.where(s > 0, s * (np.log(np.where(mu > 0, mu, 1.0)) - lp), 0.0)
        ll = (self._Sc[b] - self._Sc[a]) + t_y - m * lp / alpha
        return -ll


COSTS = {"l2": CostL2, "poisson": CostPoisson, "negbin": CostNegBin}


def make_cost(cost: str | SegmentCost, **kwargs) -> SegmentCost:
    """A cost instance from its name (``"l2"``, ``"poisson"``, ``"negbin"``) or an instance."""
    if isinstance(cost, SegmentCost):
        return cost
    try:
        return COSTS[cost](**kwargs)
    except KeyError:
        raise ValueError(f"unknown cost {cost!r}; choose one of {sorted(COSTS)} or pass a SegmentCost") from None
