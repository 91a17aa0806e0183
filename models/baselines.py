"""Forecasting baselines for monthly event counts.

Small estimator objects in the scikit-learn / statsforecast style: ``__init__`` stores
parameters, ``fit(y)`` sets ``model_`` and returns ``self``, ``predict(h, level)`` uses the
fitted state, ``forecast(y, h, level)`` is the stateless path, and ``sample(h, n_samples,
random_seed)`` draws predictive samples (non-negative integers, shape ``(h, n_samples)``).

Every baseline states its predictive distribution for the count :math:`Y_{T+k}` at horizon
:math:`k = 1..h` given the history :math:`y_1..y_T`:

==================  ==========================================================================
``ZeroForecast``     point mass at 0
``LastValue``        point mass at :math:`y_T` ("no change")
``HistoricalRate``   climatology: negative binomial matched to the mean and variance of the last
                     ``window`` months (Poisson when they are not over-dispersed)
``SeasonalNaive``    point mass at :math:`y_{T+k-m\\lceil k/m \\rceil}` (same month last season)
``Conflictology``    bootstrap: :math:`Y_{T+k}` drawn i.i.d. from :math:`y_{T-w+1..T}` (the
                     "conflictology" baseline of the ViEWS prediction competition)
==================  ==========================================================================

References
----------
Hegre, H. et al. (2022). "Forecasting fatalities." ViEWS prediction competition 2023/24,
benchmark models (conflictology: bootstrap of the last 12 months of observed fatalities).

Examples
--------
>>> import numpy as np
>>> from models.baselines import Conflictology
>>> y = np.array([3, 0, 2, 5, 1, 4, 2, 2, 0, 3, 1, 6])
>>> Conflictology(window=12).fit(y).sample(3, 5, random_seed=1).shape
(3, 5)
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = [
    "ZeroForecast",
    "LastValue",
    "HistoricalRate",
    "SeasonalNaive",
    "Conflictology",
    "BASELINES",
    "check_counts",
]


def check_counts(y, name: str = "y") -> np.ndarray:
    """Validate a 1-d history of counts: finite, non-negative integers; returns int64 array."""
    arr = np.asarray(y, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a baseline needs at least one observed month")
    bad = ~np.isfinite(arr) | (arr < 0) | (arr != np.round(arr))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {arr[i]!r}: expected a finite non-negative integer count")
    return arr.astype(np.int64)


def _interval_quantiles(level) -> list[tuple[int, float, float]]:
    out = []
    for lv in level or []:
        if not 0 < lv < 100:
            raise ValueError(f"level {lv!r} must be a percentage strictly between 0 and 100")
        a = (1 - lv / 100) / 2
        out.append((lv, a, 1 - a))
    return out


class _Baseline:
    """Shared machinery: subclasses implement ``_fit(y) -> dict`` and ``_sample(h, n, rng)``."""

    name = "baseline"

    def fit(self, y) -> "_Baseline":
        """Fit on the history ``y`` (1-d non-negative integer counts); returns ``self``."""
        y = check_counts(y)
        self.model_ = self._fit(y)
        self.model_["n_obs"] = int(y.size)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(y) first")

    def sample(self, h: int, n_samples: int, random_seed=None) -> np.ndarray:
        """Predictive samples, shape ``(h, n_samples)``, non-negative int64."""
        self._check_fitted()
        if h < 1 or n_samples < 1:
            raise ValueError(f"h and n_samples must be >= 1, got h={h}, n_samples={n_samples}")
        rng = np.random.default_rng(random_seed)
        out = np.asarray(self._sample(int(h), int(n_samples), rng), dtype=np.int64)
        return out

    def predict(self, h: int, level=None, n_samples: int = 2000, random_seed: int = 0) -> dict:
        """Mean and central intervals for horizons ``1..h``: keys ``mean``, ``lo-<L>``, ``hi-<L>``."""
        self._check_fitted()
        mean, quant = self._moments(int(h), _interval_quantiles(level), n_samples, random_seed)
        out = {"mean": mean}
        for lv, lo, hi in quant:
            out[f"lo-{lv}"], out[f"hi-{lv}"] = lo, hi
        return out

    def forecast(self, y, h: int, level=None, n_samples: int = 2000, random_seed: int = 0) -> dict:
        """Stateless path: ``fit(y)`` then ``predict(h, level)``."""
        return self.fit(y).predict(h, level=level, n_samples=n_samples, random_seed=random_seed)

    def _moments(self, h, quant, n_samples, random_seed):
        s = self.sample(h, n_samples, random_seed)
        mean = s.mean(axis=1)
        out = []
        for lv, a, b in quant:
            out.append((lv, np.quantile(s, a, axis=1, method="inverted_cdf"),
                        np.quantile(s, b, axis=1, method="inverted_cdf")))
        return mean, out

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


class ZeroForecast(_Baseline):
    """Point mass at zero for every horizon."""

    name = "zero"

    def _fit(self, y):
        return {"value": 0}

    def _sample(self, h, n, rng):
        return np.zeros((h, n), dtype=np.int64)


class LastValue(_Baseline):
    r"""No-change forecast: point mass at the last observed count, :math:`P(Y_{T+k} = y_T) = 1`."""

    name = "last_value"

    def _fit(self, y):
        return {"value": int(y[-1])}

    def _sample(self, h, n, rng):
        return np.full((h, n), self.model_["value"], dtype=np.int64)


class SeasonalNaive(_Baseline):
    r"""Point mass at the same month of the last observed season.

    .. math:: \hat y_{T+k} = y_{T + k - m \lceil k / m \rceil}

    With fewer than ``season_length`` observations the earliest value stands in for the missing ones.
    """

    name = "seasonal_naive"

    def __init__(self, season_length: int = 12):
        self.season_length = season_length

    def _fit(self, y):
        m = int(self.season_length)
        if m < 1:
            raise ValueError(f"season_length must be >= 1, got {m}")
        last = y[-m:]
        if last.size < m:
            last = np.concatenate([np.full(m - last.size, last[0]), last])
        return {"season": last.copy()}

    def _sample(self, h, n, rng):
        season = self.model_["season"]
        vals = season[np.arange(h) % season.size]
        return np.repeat(vals[:, None], n, axis=1)


class HistoricalRate(_Baseline):
    r"""Climatology over the last ``window`` months.

    With window mean :math:`m` and variance :math:`v` (ddof 1),

    .. math::

        Y_{T+k} \sim \begin{cases}
            \mathrm{NB2}(\mu = m, r = m^2/(v - m)) & v > m \\
            \mathrm{Poisson}(m) & v \le m
        \end{cases}

    independently of :math:`k` (``distribution="poisson"`` forces the Poisson case).
    """

    name = "historical_rate"

    def __init__(self, window: int = 24, distribution: str = "negbin"):
        self.window = window
        self.distribution = distribution

    def _fit(self, y):
        if self.distribution not in ("negbin", "poisson"):
            raise ValueError(f"distribution must be 'negbin' or 'poisson', got {self.distribution!r}")
        w = y[-int(self.window):]
        m = float(w.mean())
        v = float(w.var(ddof=1)) if w.size > 1 else m
        size = None
        if self.distribution == "negbin" and v > m > 0:
            size = m * m / (v - m)
        return {"mean": m, "var": v, "size": size}

    def _sample(self, h, n, rng):
        m, size = self.model_["mean"], self.model_["size"]
        if size is None:
            return rng.poisson(m, size=(h, n))
        return rng.negative_binomial(size, size / (size + m), size=(h, n))

    def pmf(self, k) -> np.ndarray:
        """The closed-form predictive pmf at counts ``k`` (same for every horizon)."""
        self._check_fitted()
        m, size = self.model_["mean"], self.model_["size"]
        if size is None:
            return stats.poisson.pmf(k, m)
        return stats.nbinom.pmf(k, size, size / (size + m))


class Conflictology(_Baseline):
    r"""Bootstrap of recent history: :math:`Y_{T+k} \overset{iid}{\sim} \mathrm{Uniform}\{y_{T-w+1},\dots,y_T\}`."""

    name = "conflictology"

    def __init__(self, window: int = 12):
        self.window = window

    def _fit(self, y):
        return {"history": y[-int(self.window):].copy()}

    def _sample(self, h, n, rng):
        hist = self.model_["history"]
        return hist[rng.integers(0, hist.size, size=(h, n))]


BASELINES = {
    cls.name: cls for cls in (ZeroForecast, LastValue, HistoricalRate, SeasonalNaive, Conflictology)
}
