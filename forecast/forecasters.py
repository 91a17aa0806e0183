"""The forecaster zoo behind one protocol.

Every forecaster follows the pakcast forecaster protocol (docs/ARCHITECTURE.md):

* ``fit(panel, measure, covariates=None) -> self`` on the panel as :func:`forecast.panel.load_panel`
  returns it (long: ``unique_id``, ``ds`` month starts, one column per measure of non-negative
  integer counts, explicit zeros, no gaps) or as a :class:`CountPanel` (the same panel converted
  once into arrays: the backtest converts at its boundary and hands every task the arrays);
  ``measure`` names the column forecast;
* ``predict(h, n_samples, random_seed) -> xarray.DataArray`` with dims
  ``(unique_id, horizon, sample)`` of non-negative integers; coordinate ``ds`` on ``horizon``
  holds the forecast months. Each sample is a whole path: parameter uncertainty is drawn once
  per path and the latent level or state is carried along it (lags filled with the path's own
  simulated counts), so sums over horizons (quarters) are valid forecasts; ensembles mix whole
  paths.

Samples of one series depend only on ``(random_seed, unique_id)`` (see :func:`derive_seed`), so a
forecaster fitted on any subset of series gives the same samples for the series they share: this
is what makes the Dask run identical to the serial one.

Models
------
``zero``, ``last_value``, ``historical_rate``, ``seasonal_naive``, ``conflictology``
    :mod:`models.baselines`, one per series.
``nb_glm``
    NB2 regression per series on the last ``window`` months (see :class:`NegBinGLMForecaster`).
``nb_local``
    NB2 counts around a wandering log level, per series (:mod:`models.local_level`,
    :class:`LocalLevelForecaster`).
``ingarch``, ``hawkes``
    Self-exciting count models from :mod:`models.ingarch` / :mod:`models.hawkes`.
``bayes_hier``
    The Bayesian hierarchical model from :mod:`models.bayes`.
``ensemble``
    Mixtures of members (:class:`EnsembleForecaster`, :func:`mix_samples`).

Coherence: :func:`add_national` appends the national series as the sum of the provinces, sample
by sample, so every sample path of Pakistan is the sum of the province paths with the same index.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pakcast.forecast.country import profile
from pakcast.models.baselines import BASELINES, HistoricalRate
from pakcast.models.local_level import LocalLevelNB
from pakcast.models.seasonality import fourier_terms

__all__ = [
    "ModelUnavailable",
    "derive_seed",
    "CountPanel",
    "as_count_panel",
    "panel_to_wide",
    "Forecaster",
    "BaselineForecaster",
    "NegBinGLMForecaster",
    "LocalLevelForecaster",
    "INGARCHForecaster",
    "HawkesForecaster",
    "BayesHierarchicalForecaster",
    "EnsembleForecaster",
    "FrequencySeverityForecaster",
    "mix_samples",
    "allocate_samples",
    "add_national",
    "make_forecaster",
    "available_models",
    "MODEL_NAMES",
    "BASELINE_NAMES",
    "NATIONAL",
]

NATIONAL = profile().national
BASELINE_NAMES = ("zero", "last_value", "historical_rate", "seasonal_naive", "conflictology",
                  "negbin_12", "negbin_24", "poisson_12", "poisson_24")


class ModelUnavailable(RuntimeError):
    """A model of the zoo cannot run here (its module is not installed or not built yet)."""


def _key_int(key: Any) -> int:
    if isinstance(key, (int, np.integer)):
        return int(key) & 0xFFFFFFFF
    return zlib.crc32(str(key).encode("utf-8"))


def derive_seed(random_seed: int | None, *keys: Any) -> np.random.SeedSequence:
    """A seed for one task, a pure function of ``random_seed`` and the task's keys.

    ``numpy.random.SeedSequence(random_seed, spawn_key=(crc32(key), ...))``: the same as
    ``SeedSequence(random_seed).spawn`` would give for that path of children, but keyed by name
    (model, province, origin, measure) instead of by position, so it does not depend on the order
    in which tasks are created or scheduled.
    """
    seed = 0 if random_seed is None else int(random_seed)
    return np.random.SeedSequence(seed, spawn_key=tuple(_key_int(k) for k in keys))


def panel_to_wide(panel: pd.DataFrame, column: str = "y") -> tuple[list[str], pd.DatetimeIndex, np.ndarray]:
    """Validate a long monthly panel and return ``(ids, months, values[n_series, n_months])``.

    Errors name the row and column: missing columns, non-month-start or missing months (the
    panel must carry explicit zeros), duplicates, and values that are not non-negative integers.
    """
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(f"panel must be a pandas DataFrame, got {type(panel).__name__}")
    missing = [c for c in ("unique_id", "ds", column) if c not in panel.columns]
    if missing:
        raise ValueError(f"panel lacks column(s) {missing}; expected long format unique_id, ds, {column}")
    if panel.empty:
        raise ValueError("panel is empty")
    ds = pd.to_datetime(panel["ds"])
    vals = pd.to_numeric(panel[column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(vals) | (vals < 0) | (vals != np.round(vals))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"panel row {panel.index[i]!r}, column {column!r}: value {panel[column].iloc[i]!r} is not a "
            "non-negative integer count (missing months must be explicit zeros)"
        )
    notstart = ~(ds.dt.is_month_start & (ds.dt.normalize() == ds))
    if notstart.any():
        i = int(np.flatnonzero(notstart.to_numpy())[0])
        raise ValueError(f"panel row {panel.index[i]!r}, column 'ds': {ds.iloc[i]} is not a month start")
    df = pd.DataFrame({"unique_id": panel["unique_id"].astype(str).to_numpy(), "ds": ds.to_numpy(), "y": vals})
    dup = df.duplicated(["unique_id", "ds"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValueError(f"panel row {panel.index[i]!r}: duplicate (unique_id, ds) = "
                         f"({df['unique_id'].iloc[i]!r}, {df['ds'].iloc[i]})")
    wide = df.pivot(index="unique_id", columns="ds", values="y")
    months = pd.DatetimeIndex(wide.columns)
    full = pd.date_range(months.min(), months.max(), freq="MS")
    if len(full) != len(months):
        gap = full.difference(months)[0]
        raise ValueError(f"panel has no rows for month {gap.date()}: months must be consecutive with explicit zeros")
    if wide.isna().any().any():
        uid, col = next((u, c) for u in wide.index for c in wide.columns if pd.isna(wide.at[u, c]))
        raise ValueError(f"panel has no row for unique_id {uid!r} at ds {pd.Timestamp(col).date()} "
                         "(each series must cover every month, explicit zeros)")
    return [str(u) for u in wide.index], months, wide.to_numpy(dtype=np.int64)


@dataclass(frozen=True)
class CountPanel:
    """A monthly count panel converted once: ``values[measure]`` is int64 (series, months).

    Built from the long panel by :meth:`from_long` (validated as :func:`panel_to_wide`); cut
    at a forecast origin by :meth:`before` (a view, no copy and no re-validation), which is
    what each backtest task does.
    """

    ids: tuple[str, ...]
    months: pd.DatetimeIndex
    values: dict[str, np.ndarray]

    @classmethod
    def from_long(cls, panel: pd.DataFrame, measures=None) -> "CountPanel":
        """Validate and convert the long panel; ``measures`` default: every count column present."""
        if measures is None:
            measures = [c for c in ("y", "attacks", "killed") if c in panel.columns]
        measures = [measures] if isinstance(measures, str) else list(measures)
        if not measures:
            raise ValueError("panel has no measure column (attacks, killed or y)")
        vals, ids, months = {}, None, None
        for m in measures:
            i, mo, v = panel_to_wide(panel, column=m)
            ids, months = (i, mo) if ids is None else (ids, months)
            vals[m] = v
        return cls(tuple(ids), months, vals)

    def before(self, origin) -> "CountPanel":
        """The months before ``origin`` (no look-ahead)."""
        k = int(self.months.searchsorted(pd.Timestamp(origin), side="left"))
        if k == 0:
            raise ValueError(f"no months before {pd.Timestamp(origin).date()} in the panel")
        return CountPanel(self.ids, self.months[:k], {m: v[:, :k] for m, v in self.values.items()})

    def subset(self, ids) -> "CountPanel":
        """Only the series ``ids`` (in that order)."""
        pos = [self.ids.index(u) for u in ids]
        return CountPanel(tuple(ids), self.months, {m: v[pos] for m, v in self.values.items()})

    def get(self, measure: str) -> np.ndarray:
        if measure not in self.values:
            raise ValueError(f"panel lacks column(s) [{measure!r}]; it has {sorted(self.values)}")
        return self.values[measure]


def as_count_panel(panel, *measures: str) -> CountPanel:
    """``panel`` as a :class:`CountPanel` holding ``measures`` (converted from long form once)."""
    if isinstance(panel, CountPanel):
        for m in measures:
            panel.get(m)
        return panel
    return CountPanel.from_long(panel, measures or None)


def _check_measure(measure) -> str:
    if not isinstance(measure, str):
        raise TypeError(f"fit(panel, measure, covariates=None): measure must name a column, got "
                        f"{type(measure).__name__} (pass covariates by keyword)")
    return measure


class Forecaster:
    """Base class: per-series fitting and seeding; subclasses implement ``_fit_series`` and
    ``_sample_series`` (or override ``fit``/``predict`` for joint models)."""

    name = "forecaster"

    def fit(self, panel, measure: str = "y", covariates: pd.DataFrame | None = None) -> "Forecaster":
        """Fit on ``panel[measure]`` (long panel or :class:`CountPanel`); covariates are not used by this model."""
        cp = as_count_panel(panel, _check_measure(measure))
        ids, months, values = list(cp.ids), cp.months, cp.get(measure)
        self.measure_ = measure
        self.ids_, self.last_ds_, self.history_ = ids, months[-1], values
        self.start_ds_ = months[0]
        self.states_ = [self._fit_series(values[i]) for i in range(len(ids))]
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "ids_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(panel) first")

    def _future_months(self, h: int) -> pd.DatetimeIndex:
        return pd.date_range(self.last_ds_ + pd.offsets.MonthBegin(1), periods=h, freq="MS")

    def _wrap(self, arr: np.ndarray, h: int) -> xr.DataArray:
        arr = np.asarray(arr)
        if (arr < 0).any():
            raise AssertionError(f"{self.name} produced negative samples")
        return xr.DataArray(
            arr.astype(np.int64),
            dims=("unique_id", "horizon", "sample"),
            coords={"unique_id": list(self.ids_), "horizon": np.arange(1, h + 1),
                    "ds": ("horizon", self._future_months(h))},
            name=self.name,
            attrs={"model": self.name, "last_ds": str(self.last_ds_.date())},
        )

    def predict(self, h: int, n_samples: int, random_seed: int | None = 0) -> xr.DataArray:
        """Predictive samples for horizons ``1..h``: dims (unique_id, horizon, sample)."""
        self._check_fitted()
        h, n_samples = int(h), int(n_samples)
        if h < 1 or n_samples < 1:
            raise ValueError(f"h and n_samples must be >= 1, got h={h}, n_samples={n_samples}")
        out = np.empty((len(self.ids_), h, n_samples), dtype=np.int64)
        for i, uid in enumerate(self.ids_):
            rng = np.random.default_rng(derive_seed(random_seed, uid))
            out[i] = self._sample_series(i, h, n_samples, rng)
        return self._wrap(out, h)

    def get_params(self) -> dict:
        return {k: v for k, v in vars(self).items() if not k.endswith("_")}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"


class BaselineForecaster(Forecaster):
    """One :mod:`models.baselines` model per series (``kind`` in ``BASELINES``)."""

    def __init__(self, kind: str, **params: Any):
        if kind not in BASELINES:
            raise ValueError(f"unknown baseline {kind!r}; choose from {sorted(BASELINES)}")
        self.kind = kind
        self.params = params
        self.name = kind

    def _fit_series(self, y):
        return BASELINES[self.kind](**self.params).fit(y)

    def _sample_series(self, i, h, n, rng):
        return self.states_[i].sample(h, n, random_seed=rng)


class _FallbackForecaster(Forecaster):
    """A per-series model that falls back to a baseline on the series it cannot fit; ``fit`` lists
    them in ``fallbacks_`` (``{series id: reason}``)."""

    def fit(self, panel, measure="y", covariates=None):
        self.fallbacks_ = {}
        super().fit(panel, measure, covariates)
        self.fallbacks_ = {uid: st["reason"] for uid, st in zip(self.ids_, self.states_) if st["kind"] == "fallback"}
        return self


class NegBinGLMForecaster(_FallbackForecaster):
    r"""Negative-binomial (NB2) regression per series with trend, seasonality and lagged counts.

    On the last ``window`` months of each series,

    .. math::

        Y_t \mid \mathcal F_{t-1} \sim \mathrm{NB2}(\mu_t, \alpha), \quad
        \operatorname{Var} = \mu_t + \alpha\mu_t^2, \\
        \log \mu_t = \beta_0 + [\beta_1 \tfrac{t - T}{12}] + \beta_2 \sin\frac{2\pi m_t}{12}
        + \beta_3 \cos\frac{2\pi m_t}{12} + \beta_4 \log(1 + y_{t-1})
        + \beta_5 \log\Big(1 + \frac1{12}\sum_{j=1}^{12} y_{t-j}\Big).

    Fitted by maximum likelihood with :class:`models.glm.CountGLM` (Newton on the NB2 kernels).
    Forecasts simulate sample paths
    recursively (lags filled with simulated counts); with ``param_uncertainty`` each path draws
    :math:`\beta` from its asymptotic normal distribution. The linear predictor is capped at
    :math:`\log(5\max_{window} y + 5)` so a trend cannot explode over twelve months. A series with
    fewer than ``min_nonzero`` non-zero months in the window, or whose fit fails, falls back to
    the ``historical_rate`` baseline over the same window (listed in ``fallbacks_``).

    The trend term (in brackets) is off by default: in the 2010-2020 backtest on the shipped
    panel a 60-month trend extrapolated over 12 months nearly doubled the CRPS in Khyber
    Pakhtunkhwa (19.4 against 10.9 attacks a month without it) and Balochistan (2.54 against 1.66).
    """

    name = "nb_glm"
    n_lags = 12

    def __init__(self, window: int = 60, trend: bool = False, seasonality: bool = True,
                 param_uncertainty: bool = True, min_nonzero: int = 10):
        self.window = window
        self.trend = trend
        self.seasonality = seasonality
        self.param_uncertainty = param_uncertainty
        self.min_nonzero = min_nonzero

    def _design(self, lag1, lag12mean, t_rel, month):
        cols = [np.ones_like(t_rel, dtype=float)]
        if self.trend:
            cols.append(t_rel / 12.0)
        if self.seasonality:
            cols += list(fourier_terms(month, 12, 1).T)
        cols += [np.log1p(lag1), np.log1p(lag12mean)]
        return np.column_stack(cols)

    def _fit_series(self, y):
        from pakcast.models.glm import CountGLM

        T = y.size
        start = max(self.n_lags, T - int(self.window))
        win = y[start:]
        months0 = (self.start_ds_.month - 1 + np.arange(T)) % 12
        fallback = {"kind": "fallback", "model": HistoricalRate(window=int(self.window)).fit(y)}
        if win.size < 24:
            return {**fallback, "reason": f"only {win.size} months after the {self.n_lags} lags (need 24)"}
        nz = int((win > 0).sum())
        if nz < self.min_nonzero:
            return {**fallback, "reason": f"{nz} non-zero months in the window (< {self.min_nonzero})"}
        idx = np.arange(start, T)
        lag1 = y[idx - 1]
        lag12 = np.array([y[t - self.n_lags:t].mean() for t in idx])
        X = self._design(lag1, lag12, (idx - T).astype(float), months0[idx])
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = CountGLM(win.astype(float), X, family="negbin").fit()
            params = np.append(np.asarray(res.params, dtype=float), res.alpha_)
            cov = np.asarray(res.cov_params(), dtype=float)
        except Exception as exc:  # noqa: BLE001  (any numerical failure -> documented fallback)
            return {**fallback, "reason": f"NB fit failed: {type(exc).__name__}: {exc}"}
        if not res.converged or not np.all(np.isfinite(params)) or params[-1] <= 0 or params[-1] > 50:
            return {**fallback, "reason": f"NB fit did not converge (alpha={params[-1]:.3g})"}
        beta, alpha = params[:-1], params[-1]
        cov_b = cov
        if not (np.all(np.isfinite(cov_b)) and np.all(np.linalg.eigvalsh((cov_b + cov_b.T) / 2) > 0)):
            cov_b = None
        return {"kind": "glm", "beta": beta, "alpha": float(alpha), "cov": cov_b,
                "y": y, "cap": float(np.log(5 * win.max() + 5)), "months0": months0,
                "nobs": int(win.size), "llf": float(res.llf)}

    def _sample_series(self, i, h, n, rng):
        st = self.states_[i]
        if st["kind"] == "fallback":
            return st["model"].sample(h, n, random_seed=rng)
        y = st["y"]
        T = y.size
        beta = st["beta"]
        if self.param_uncertainty and st["cov"] is not None:
            betas = rng.multivariate_normal(beta, st["cov"], size=n, method="cholesky")
        else:
            betas = np.broadcast_to(beta, (n, beta.size))
        paths = np.empty((n, self.n_lags + h), dtype=np.int64)
        paths[:, : self.n_lags] = y[T - self.n_lags:]
        r = 1.0 / st["alpha"]
        first_month = (self.start_ds_.month - 1 + T) % 12
        for k in range(h):
            t = self.n_lags + k
            lag1 = paths[:, t - 1].astype(float)
            lag12 = paths[:, t - self.n_lags:t].mean(axis=1)
            X = self._design(lag1, lag12, np.full(n, float(k)), np.full(n, (first_month + k) % 12))
            eta = np.minimum(np.einsum("ij,ij->i", X, betas), st["cap"])
            mu = np.exp(eta)
            paths[:, t] = rng.negative_binomial(r, r / (r + mu))
        return paths[:, self.n_lags:].T


class LocalLevelForecaster(Forecaster):
    """:class:`models.local_level.LocalLevelNB` per series: NB2 months around a log level that
    follows a random walk, its scale and the dispersion around it estimated on the last ``window``
    months, both drawn once per path from their grid posterior; each path carries its own level, so
    the months of a quarter move together."""

    name = "nb_local"

    def __init__(self, window: int | None = 120):
        self.window = window

    def _fit_series(self, y):
        return LocalLevelNB(window=self.window).fit(y)

    def _sample_series(self, i, h, n, rng):
        return self.states_[i].sample(h, n, random_seed=rng)


def _import_optional(module: str, model: str):
    """The :mod:`pakcast.models` module behind a zoo member, imported directly (a broken module
    fails loudly instead of being reported as unavailable)."""
    if module == "pakcast.models.ingarch":
        from pakcast.models import ingarch as mod
    elif module == "pakcast.models.hawkes":
        from pakcast.models import hawkes as mod
    elif module == "pakcast.models.bayes.its":
        from pakcast.models.bayes import its as mod
    else:
        raise ModelUnavailable(f"model {model!r}: no zoo model lives in {module}")
    return mod


class _ExternalSeriesForecaster(_FallbackForecaster):
    """Wraps a per-series count model from :mod:`models` with ``fit(y) -> results`` and
    ``results.sample(h, n_samples, random_seed)``-style forecasting."""

    module = ""
    cls_name = ""

    def __init__(self, min_nonzero: int = 10, window: int | None = 120):
        self.min_nonzero = min_nonzero
        self.window = window

    def fit(self, panel, measure="y", covariates=None):
        self._mod = _import_optional(self.module, self.name)
        if not hasattr(self._mod, self.cls_name):
            raise ModelUnavailable(f"{self.module} has no {self.cls_name} (model {self.name!r})")
        return super().fit(panel, measure, covariates)

    def _fit_series(self, y):
        win = y if self.window is None else y[-int(self.window):]
        fallback = {"kind": "fallback", "model": HistoricalRate(window=24).fit(y)}
        nz = int((win > 0).sum())
        if nz < self.min_nonzero:
            return {**fallback, "reason": f"{nz} non-zero months in the window (< {self.min_nonzero})"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = self._fit_external(win)
        except Exception as exc:  # noqa: BLE001
            return {**fallback, "reason": f"{self.cls_name} fit failed: {type(exc).__name__}: {exc}"}
        return {"kind": "model", "res": res, "y": win}

    def _fit_external(self, y):  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def _sample_series(self, i, h, n, rng):
        st = self.states_[i]
        if st["kind"] == "fallback":
            return st["model"].sample(h, n, random_seed=rng)
        return np.asarray(self._sample_external(st, h, n, rng), dtype=np.int64)


class INGARCHForecaster(_ExternalSeriesForecaster):
    r"""NB-INGARCH(1,1) per series (:class:`models.ingarch.INGARCH`, identity link):

    .. math:: Y_t \mid \mathcal F_{t-1} \sim \mathrm{NB2}(\lambda_t, \sigma^2), \quad
              \lambda_t = \beta_0 + \beta_1 y_{t-1} + \alpha_1 \lambda_{t-1},

    fitted on the last ``window`` months (quasi-ML as ``tscount::tsglm``); forecasts simulate the
    recursion forward (``INGARCHResults.forecast``). Sparse series fall back to ``historical_rate``.
    """

    name = "ingarch"
    module = "pakcast.models.ingarch"
    cls_name = "INGARCH"

    def _fit_external(self, y):
        res = self._mod.INGARCH(y, past_obs=[1], past_mean=[1], link="identity", distr="nbinom").fit()
        if not res.converged:
            raise RuntimeError("INGARCH fit did not converge")
        return res

    param_uncertainty = True

    def _sample_external(self, st, h, n, rng):
        res = st["res"]
        m = res.model
        simple = (m.link == "identity" and list(m.P) == [1] and list(m.Q) == [1] and m.X.shape[1] == 0)
        if not simple:  # other specifications: the model's own (plug-in) simulation
            seed = int(rng.integers(0, 2**31 - 1))
            return np.asarray(res.forecast(h, n_samples=n, random_seed=seed)).T
        return _ingarch11_paths(np.asarray(res.params, float), np.asarray(res.cov, float), float(res.sigmasq),
                                np.asarray(m.z_obs, float), h, n, rng, self.param_uncertainty)


def _ingarch11_paths(par, cov, sigmasq, y, h, n, rng, param_uncertainty=True) -> np.ndarray:
    r"""Sample paths (h, n) of an identity-link NB-INGARCH(1,1), parameters drawn once per path.

    Each path draws :math:`(\beta_0, \beta_1, \alpha_1)` from the estimate's asymptotic normal
    (sandwich covariance, when it is positive definite; else the estimate; draws outside :math:`\beta_0 > 0, \beta_1, \alpha_1 \ge 0,
    \beta_1 + \alpha_1 < 1` take the estimate), runs the intensity recursion over the fitted
    window with them (from the stationary mean, as the fit does) and then forward, feeding back
    the path's own simulated counts:
    :math:`\lambda_t = \beta_0 + \beta_1 y_{t-1} + \alpha_1\lambda_{t-1}`.
    """
    pars = np.broadcast_to(par, (n, 3)).copy()
    sym = (cov + cov.T) / 2
    if param_uncertainty and np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(sym) > 0):
        draw = rng.multivariate_normal(par, sym, size=n, method="cholesky")
        ok = (draw[:, 0] > 0) & (draw[:, 1] >= 0) & (draw[:, 2] >= 0) & (draw[:, 1] + draw[:, 2] < 0.999)
        pars[ok] = draw[ok]
    b0, b1, a1 = pars[:, 0], pars[:, 1], pars[:, 2]
    nu = b0 / np.maximum(1 - b1 - a1, 1e-6)
    z = nu.copy()
    for yt in y:
        nu = b0 + b1 * z + a1 * nu
        z = np.full(n, yt)
    out = np.empty((h, n), dtype=np.int64)
    size = 1.0 / sigmasq if sigmasq > 0 else None
    for k in range(h):
        nu = b0 + b1 * z + a1 * nu
        lam = np.maximum(nu, 1e-12)
        out[k] = rng.poisson(lam) if size is None else rng.negative_binomial(size, size / (size + lam))
        z = out[k].astype(float)
    return out


class HawkesForecaster(_ExternalSeriesForecaster):
    r"""Exponential-kernel Hawkes process per series (:class:`models.hawkes.HawkesExp`):

    .. math:: \lambda(t) = \mu + \sum_{t_i < t} \alpha e^{-\beta (t - t_i)}

    on event times in days. The monthly panel has no days, so each month's :math:`c` events are
    placed evenly inside the month (at :math:`(i + 1/2)/c` of its length): within-month
    clustering is smoothed out and the model captures excitation between months. Fitted on the
    last ``window`` months; forecasts are monthly counts simulated with parameter uncertainty
    (``HawkesResults.forecast_counts``). Sparse series fall back to ``historical_rate``.
    """

    name = "hawkes"
    module = "pakcast.models.hawkes"
    cls_name = "HawkesExp"

    def _fit_external(self, y):
        n = y.size
        days_in = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=float)
        start_month = (self.start_ds_.month - 1 + (self.history_.shape[1] - n)) % 12
        lengths = days_in[(start_month + np.arange(n)) % 12]
        edges = np.concatenate([[0.0], np.cumsum(lengths)])
        times = np.concatenate([edges[t] + (np.arange(c) + 0.5) / c * lengths[t] for t, c in enumerate(y) if c > 0])
        res = self._mod.HawkesExp(times, T=float(edges[-1]), t0=0.0).fit()
        if not res.converged:
            raise RuntimeError("Hawkes fit did not converge")
        cov = np.asarray(res.cov_log, dtype=float)
        # parameter uncertainty only with a usable covariance (finite, positive definite)
        pu = bool(np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh((cov + cov.T) / 2) > 0))
        return {"res": res, "T": float(edges[-1]), "next_month": (start_month + n) % 12, "days_in": days_in,
                "param_uncertainty": pu}

    def _sample_external(self, st, h, n, rng):
        r = st["res"]
        lengths = r["days_in"][(r["next_month"] + np.arange(h)) % 12]
        edges = r["T"] + np.concatenate([[0.0], np.cumsum(lengths)])
        seed = int(rng.integers(0, 2**31 - 1))
        return np.asarray(r["res"].forecast_counts(edges, n_samples=n, random_seed=seed,
                                                   parameter_uncertainty=r["param_uncertainty"])).T


class BayesHierarchicalForecaster(Forecaster):
    r"""Bayesian hierarchical NB2 model of all series jointly (:class:`models.bayes.its.HierarchicalNBITS`
    of the Bayesian engineer, with no breaks):

    .. math::

        y_{ut} \sim \mathrm{NB2}(\mu_{ut}, \alpha), \quad
        \log\mu_{ut} = a_u + b_u t + f_t^\top\gamma,

    unit intercepts and trends partially pooled around national ones, Fourier seasonality,
    fitted on the last ``window`` months by NUTS (nutpie) with ``random_seed`` (sampling happens
    in :meth:`fit`; :meth:`predict` draws posterior predictive paths). Convergence diagnostics
    are kept in ``diagnostics_``; an unconverged fit is reported, not hidden.
    """

    name = "bayes_hier"

    def __init__(self, window: int = 60, draws: int = 1000, tune: int = 700, chains: int = 2,
                 n_harmonics: int = 1, random_seed: int = 0):
        self.window = window
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.n_harmonics = n_harmonics
        self.random_seed = random_seed

    def fit(self, panel, measure="y", covariates=None):
        mod = _import_optional("pakcast.models.bayes.its", self.name)
        if not hasattr(mod, "HierarchicalNBITS"):
            raise ModelUnavailable("pakcast.models.bayes.its has no HierarchicalNBITS (model 'bayes_hier')")
        cp = as_count_panel(panel, _check_measure(measure))
        ids, months, values = list(cp.ids), cp.months, cp.get(measure)
        self.ids_, self.last_ds_, self.start_ds_, self.history_ = ids, months[-1], months[0], values
        use = months[-int(self.window):]
        long = pd.DataFrame({"unique_id": np.repeat(ids, len(use)), "ds": np.tile(use, len(ids)),
                             "y": values[:, -len(use):].ravel()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = mod.HierarchicalNBITS(long, outcome="y", breaks=(), exposure=None,
                                          n_harmonics=int(self.n_harmonics))
            self.results_ = model.fit(draws=int(self.draws), tune=int(self.tune), chains=int(self.chains),
                                      cores=1, random_seed=int(self.random_seed))
        self.units_ = list(model.design.units)
        d = self.results_.diagnostics
        self.diagnostics_ = {"converged": bool(d.converged), "max_rhat": float(d.max_rhat),
                             "min_ess_bulk": float(d.min_ess_bulk), "divergences": int(d.divergences)}
        return self

    def predict(self, h, n_samples, random_seed=0):
        self._check_fitted()
        seed = int(derive_seed(random_seed, self.name).generate_state(1)[0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.asarray(self.results_.forecast(int(h), n_samples=int(n_samples), random_seed=seed))
        order = [self.units_.index(u) for u in self.ids_]
        return self._wrap(arr[order], int(h))


class FrequencySeverityForecaster(Forecaster):
    r"""Casualties as a compound of attack counts and deaths per attack.

    The frequency model (any forecaster) forecasts attacks :math:`N_{T+k}` from the panel's
    ``attacks`` column; deaths follow a bootstrap of recent severity:

    .. math::

        J \sim \mathrm{Categorical}\Big(\frac{a_j}{\sum_{j'} a_{j'}}\Big), \quad
        K_{T+k} \mid N_{T+k}, J \sim \mathrm{Poisson}(N_{T+k}\, s_J), \quad s_j = k_j / a_j,

    over the months :math:`j` of the last ``severity_window`` months with attacks (:math:`a_j`
    attacks, :math:`k_j` killed), drawn afresh for every sample and month. The mixture over months
    carries the heavy tail of deaths per attack; the panel has no per-event deaths, so the
    within-month spread of severity is replaced by the Poisson. ``measure`` is the killed series.
    Each path takes its attack counts from one frequency path, so the clustering of attacks
    along the path carries into deaths.
    """

    def __init__(self, frequency: Forecaster, severity_window: int = 36):
        self.frequency = frequency
        self.severity_window = severity_window
        self.name = frequency.name

    def fit(self, panel, measure="killed", covariates=None):
        cp = as_count_panel(panel, _check_measure(measure))
        if "attacks" not in cp.values:
            if isinstance(panel, pd.DataFrame) and "attacks" in panel.columns:
                cp = as_count_panel(panel, measure, "attacks")
            else:
                raise ValueError(f"frequency-severity needs an 'attacks' column beside {measure!r}")
        ids, months, killed, attacks = list(cp.ids), cp.months, cp.get(measure), cp.get("attacks")
        self.frequency.fit(cp, "attacks", covariates)
        self.ids_, self.last_ds_, self.start_ds_ = ids, months[-1], months[0]
        self.fallbacks_ = dict(getattr(self.frequency, "fallbacks_", {}))
        w = int(self.severity_window)
        self.severity_ = []
        for i in range(len(ids)):
            a, k = attacks[i, -w:], killed[i, -w:]
            use = a > 0
            if not use.any():  # no attacks in the window: use the whole history, else no deaths
                a, k = attacks[i], killed[i]
                use = a > 0
            self.severity_.append((k[use] / a[use], a[use] / a[use].sum()) if use.any() else (np.zeros(1), np.ones(1)))
        return self

    def predict(self, h, n_samples, random_seed=0):
        self._check_fitted()
        n_att = self.frequency.predict(h, n_samples, random_seed=random_seed).values
        out = np.empty_like(n_att)
        for i, uid in enumerate(self.ids_):
            rng = np.random.default_rng(derive_seed(random_seed, "severity", uid))
            s, p = self.severity_[i]
            J = rng.choice(s.size, size=(h, n_samples), p=p)
            out[i] = rng.poisson(n_att[i] * s[J])
        return self._wrap(out, int(h))


def allocate_samples(weights, n_samples: int) -> np.ndarray:
    """Integer sample counts per member summing to ``n_samples`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {w}")
    w = w / w.sum()
    raw = w * n_samples
    counts = np.floor(raw).astype(int)
    rem = n_samples - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:rem]] += 1
    return counts


def mix_samples(member_samples, weights, n_samples: int | None = None) -> np.ndarray:
    """Mixture of members by sample index.

    ``member_samples`` has shape (K, ..., n). Member ``k`` contributes its first ``c_k`` samples
    (``allocate_samples``), in the same positions for every series: sample ``j`` of every series
    comes from the same member and the same member sample index, so sums over series
    (coherence) stay sums of one model's joint paths.
    """
    ms = np.asarray(member_samples)
    n = ms.shape[-1] if n_samples is None else int(n_samples)
    if n > ms.shape[-1]:
        raise ValueError(f"n_samples={n} exceeds the members' {ms.shape[-1]} samples")
    counts = allocate_samples(weights, n)
    parts = [ms[k][..., :c] for k, c in enumerate(counts) if c > 0]
    return np.concatenate(parts, axis=-1)


class EnsembleForecaster(Forecaster):
    """Mixture of member forecasters with fixed ``weights`` (equal when ``None``).

    .. math:: F_{ens} = \\sum_k w_k F_k

    CRPS-optimal weights from past scores are computed in :mod:`forecast.backtest`
    (:func:`forecast.scoring.crps_mixture_weights`) and passed here.
    """

    name = "ensemble"

    def __init__(self, members: list[Forecaster], weights=None, name: str = "ensemble"):
        self.members = members
        self.weights = weights
        self.name = name

    def fit(self, panel, measure="y", covariates=None):
        cp = as_count_panel(panel, _check_measure(measure))
        for m in self.members:
            m.fit(cp, measure, covariates)
        first = self.members[0]
        self.ids_, self.last_ds_, self.start_ds_ = first.ids_, first.last_ds_, first.start_ds_
        return self

    def predict(self, h, n_samples, random_seed=0):
        self._check_fitted()
        w = np.full(len(self.members), 1.0 / len(self.members)) if self.weights is None else self.weights
        arrs = [m.predict(h, n_samples, random_seed=int(derive_seed(random_seed, m.name).generate_state(1)[0]))
                for m in self.members]
        return self._wrap(mix_samples(np.stack([a.values for a in arrs]), w, n_samples), int(h))


def add_national(samples: xr.DataArray, name: str = NATIONAL) -> xr.DataArray:
    """Append the national series as the sample-by-sample sum of all other series."""
    if name in list(samples["unique_id"].values):
        raise ValueError(f"samples already contain {name!r}; pass provinces only")
    nat = samples.sum("unique_id").expand_dims(unique_id=[name])
    return xr.concat([samples, nat.transpose(*samples.dims)], dim="unique_id")


MODEL_NAMES = BASELINE_NAMES + ("nb_glm", "nb_local", "ingarch", "hawkes", "bayes_hier")


FREQUENCY_SEVERITY = ("hawkes",)


def make_forecaster(name: str, measure: str = "attacks") -> Forecaster:
    """A fresh, unfitted forecaster of the zoo by name.

    For ``measure="killed"`` the event-based models (``hawkes``) become frequency-severity
    forecasters (:class:`FrequencySeverityForecaster`): deaths are not point events.
    """
    if measure == "killed" and name in FREQUENCY_SEVERITY:
        return FrequencySeverityForecaster(make_forecaster(name, "attacks"))
    if name in BASELINE_NAMES:
        return BaselineForecaster(name)
    if name == "nb_glm":
        return NegBinGLMForecaster()
    if name == "nb_local":
        return LocalLevelForecaster()
    if name == "ingarch":
        return INGARCHForecaster()
    if name == "hawkes":
        return HawkesForecaster()
    if name == "bayes_hier":
        return BayesHierarchicalForecaster()
    raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")


def available_models() -> dict[str, str | None]:
    """Each model name -> ``None`` if it can run here, else the reason it cannot."""
    out: dict[str, str | None] = {}
    for name in MODEL_NAMES:
        spec = {"ingarch": ("pakcast.models.ingarch", "INGARCH"), "hawkes": ("pakcast.models.hawkes", "HawkesExp"),
                "bayes_hier": ("pakcast.models.bayes.its", "HierarchicalNBITS")}.get(name)
        if spec is None:
            out[name] = None
            continue
        mod = _import_optional(spec[0], name)
        out[name] = None if hasattr(mod, spec[1]) else f"{spec[0]} has no {spec[1]} yet"
    return out
