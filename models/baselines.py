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
                     ``window`` months (Poisson when they are not over-dispersed), the rate drawn
                     once per path from its posterior given the window
``NegBin12/24``,     NB2 / Poisson over the last 12 or 24 months with the rate drawn once per path
``Poisson12/24``     and drifting as a random-walk log level (:func:`level_drift_variance`)
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
    "NegBin12",
    "NegBin24",
    "Poisson12",
    "Poisson24",
    "level_drift_variance",
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

    def _fit(self, y: np.ndarray) -> dict:  # pragma: no cover - implemented by every subclass
        raise NotImplementedError

    def _sample(self, h: int, n: int, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

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


def level_drift_variance(y, block: int = 12, history: int = 120, offset: float = 0.5) -> float:
    r"""Monthly variance :math:`q` of a random-walk log level, estimated from the history ``y``.

    Over the last ``history`` months, split into consecutive blocks of ``block`` = :math:`L`
    months with means :math:`b_j`, the differences :math:`d_j = \log(b_{j+1} + c) - \log(b_j + c)`
    (:math:`c` = ``offset``) of a log level :math:`\ell_t = \ell_{t-1} + \eta_t`,
    :math:`\eta_t \sim N(0, q)`, observed with count noise, have

    .. math:: \operatorname{Var}(d) \approx \tfrac{2L}{3}\, q + 2\,\overline{s^2_j / (L b_j^2)},

    so :math:`\hat q = \max\{0, (\widehat{\operatorname{Var}}(d) - 2\,\overline{s^2_j/(L b_j^2)})
    / (2L/3)\}`, with :math:`s^2_j` the within-block variance (which itself holds some drift, so
    :math:`\hat q` errs low). 0 with fewer than 4 blocks or no counts.
    """
    y = check_counts(y)[-int(history):]
    L = int(block)
    nb = y.size // L
    if nb < 4 or y.sum() == 0:
        return 0.0
    blocks = y[y.size - nb * L:].reshape(nb, L).astype(float)
    b = blocks.mean(axis=1)
    d = np.diff(np.log(b + offset))
    noise = blocks.var(axis=1, ddof=1) / (L * (b + offset) ** 2)
    q = (d.var(ddof=1) - (noise[1:] + noise[:-1]).mean()) / (2 * L / 3)
    return float(max(q, 0.0))


class HistoricalRate(_Baseline):
    r"""Climatology over the last ``window`` months, with the rate uncertain (and drifting).

    With window mean :math:`m` and variance :math:`v` (ddof 1) the months are NB2 with
    :math:`r = m^2/(v - m)` when :math:`v > m` (Poisson when they are not over-dispersed, or with
    ``distribution="poisson"``), around a rate :math:`\lambda_k` that is drawn once per sample
    path:

    .. math::

        Y_{T+k} \mid \lambda_k \sim \mathrm{NB2}(\lambda_k, r) \text{ or } \mathrm{Poisson}(\lambda_k),
        \qquad \lambda_0 \sim \mathrm{Gamma}, \\
        \log\lambda_k = \log\lambda_0 + \sum_{j=1}^{k} \eta_j - kq/2, \quad \eta_j \sim N(0, q).

    :math:`\lambda_0` is the posterior of the rate given the window (``rate_uncertainty``):
    Poisson, :math:`\mathrm{Gamma}(\sum y + 1/2,\ w)` (Jeffreys prior); NB2, the gamma with mean
    :math:`m` and the variance :math:`(m + m^2/r)/w` of the window mean. The drift :math:`q`
    (``drift=True``) is :func:`level_drift_variance` of the whole history, so the level of a path
    wanders as the series' level has wandered; ``-kq/2`` keeps the mean. Sharing
    :math:`\lambda_k` along a path makes the months of one path move together, so sums over months
    (quarters) carry the rate's uncertainty; ``rate_uncertainty=False, drift=False`` gives
    independent months with the plug-in rate.
    """

    name = "historical_rate"

    def __init__(self, window: int = 24, distribution: str = "negbin", rate_uncertainty: bool = True,
                 drift: bool = False):
        self.window = window
        self.distribution = distribution
        self.rate_uncertainty = rate_uncertainty
        self.drift = drift

    def _fit(self, y):
        if self.distribution not in ("negbin", "poisson"):
            raise ValueError(f"distribution must be 'negbin' or 'poisson', got {self.distribution!r}")
        w = y[-int(self.window):]
        m = float(w.mean())
        v = float(w.var(ddof=1)) if w.size > 1 else m
        size = None
        if self.distribution == "negbin" and v > m > 0:
            size = m * m / (v - m)
        if size is None:
            shape, rate = float(w.sum()) + 0.5, float(w.size)
        else:
            var_mean = (m + m * m / size) / w.size
            shape, rate = m * m / var_mean, m / var_mean
        q = level_drift_variance(y, block=min(int(self.window), 12)) if self.drift else 0.0
        return {"mean": m, "var": v, "size": size, "rate_shape": shape, "rate_rate": rate, "drift_var": q,
                "window_n": int(w.size)}

    def _rates(self, h, n, rng):
        md = self.model_
        if self.rate_uncertainty and md["mean"] > 0:
            lam0 = rng.gamma(md["rate_shape"], 1.0 / md["rate_rate"], size=n)
        else:
            lam0 = np.full(n, md["mean"])
        q = md["drift_var"]
        if q > 0:
            steps = rng.normal(-q / 2, np.sqrt(q), size=(h, n))
            return lam0[None, :] * np.exp(np.cumsum(steps, axis=0))
        return np.broadcast_to(lam0, (h, n))

    def _sample(self, h, n, rng):
        size = self.model_["size"]
        lam = self._rates(h, n, rng)
        if size is None:
            return rng.poisson(lam)
        return rng.negative_binomial(size, size / (size + lam))

    def pmf(self, k) -> np.ndarray:
        """The plug-in predictive pmf of one month at counts ``k`` (rate fixed at the window mean)."""
        self._check_fitted()
        m, size = self.model_["mean"], self.model_["size"]
        if size is None:
            return stats.poisson.pmf(k, m)
        return stats.nbinom.pmf(k, size, size / (size + m))


def _preset(cls_name: str, name: str, window: int, distribution: str) -> type[HistoricalRate]:
    """A named :class:`HistoricalRate` over the last ``window`` months, rate uncertain and drifting by
    default (the zoo's ``negbin_12`` ... ``poisson_24``)."""

    def __init__(self, window: int = window, distribution: str = distribution, rate_uncertainty: bool = True,
                 drift: bool = True):
        HistoricalRate.__init__(self, window, distribution, rate_uncertainty, drift)

    __init__.__qualname__ = f"{cls_name}.__init__"
    label = {"negbin": "NB2", "poisson": "Poisson"}[distribution]
    doc = f"{label} over the last {window} months, rate uncertain and drifting (:class:`HistoricalRate`)."
    return type(cls_name, (HistoricalRate,), {"__doc__": doc, "__module__": __name__, "__qualname__": cls_name,
                                              "name": name, "__init__": __init__})


NegBin12 = _preset("NegBin12", "negbin_12", 12, "negbin")
NegBin24 = _preset("NegBin24", "negbin_24", 24, "negbin")
Poisson12 = _preset("Poisson12", "poisson_12", 12, "poisson")
Poisson24 = _preset("Poisson24", "poisson_24", 24, "poisson")


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
    cls.name: cls for cls in (ZeroForecast, LastValue, HistoricalRate, SeasonalNaive, Conflictology,
                              NegBin12, NegBin24, Poisson12, Poisson24)
}
