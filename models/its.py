r"""Interrupted time series: segmented count regression with one or more interventions.

Model
-----
For observation :math:`t` (time :math:`\tau_t` in the series' own unit: months for monthly
dates) and interventions :math:`j = 1..J` whose first post-intervention observation is at
time :math:`T_j` (the first time stamp :math:`\ge` the intervention date),

.. math::
   \log \mu_t = \log E_t + \beta_0 + \beta_1 \tau_t
      + \sum_j \big[\gamma_j D_{jt} + \delta_j (\tau_t - T_j) D_{jt}\big]
      + \sum_{k=1}^{K} \big[a_k \sin(2\pi k s_t/P) + b_k \cos(2\pi k s_t/P)\big] + z_t^\top\eta,

with :math:`D_{jt} = 1\{\tau_t \ge T_j\}`, :math:`E_t` an exposure (offset, e.g. population),
:math:`s_t` the position in the seasonal cycle of length :math:`P` and optional covariates
:math:`z_t`. Families: Poisson (:math:`\operatorname{Var} y = \mu`), quasi-Poisson
(:math:`\phi\mu`, :math:`\phi` = Pearson :math:`\chi^2/(n-p)`) and negative binomial NB2
(:math:`\mu + \alpha\mu^2`, :math:`\alpha` by maximum likelihood).

:math:`e^{\gamma_j}` is the **level rate ratio** (immediate change at :math:`T_j`) and
:math:`e^{\delta_j}` the **slope rate ratio** (change in the rate's growth per time unit).

Autocorrelation
    ``cov_type="HAC"`` (default) gives Newey-West standard errors with Bartlett truncation
    lag :math:`\lfloor 4(n/100)^{2/9}\rfloor` (or ``maxlags``); ``"nonrobust"`` gives the
    model-based ones (scaled by :math:`\phi` for quasi-Poisson, as R's ``glm``). Residual
    autocorrelation (ACF, Ljung-Box) and overdispersion are reported by
    :meth:`ITSResults.checks`.

Counterfactual and excess
    The counterfactual for intervention :math:`j` drops its level and slope terms (and those of
    later interventions). Uncertainty is propagated by drawing :math:`\beta` from its
    asymptotic normal law (``n_sim`` draws, ``random_seed``) and, for predictive intervals and
    the observed excess, counts from the fitted family. The **excess** over the window
    :math:`[T_j, T_{j+1})` is :math:`\sum y_t - \sum \hat Y^{cf}_t` (negative = averted).

Backend
    Fits go through one internal function, :func:`_fit_count_glm`: :class:`models.glm.CountGLM`
    (the project's Newton solver on Numba kernels); covariances from :mod:`models.covariance`.

References
----------
Lopez Bernal, J., Cummins, S., Gasparrini, A. (2017). Interrupted time series regression for the
evaluation of public health interventions: a tutorial. *Int. J. Epidemiol.* 46(1), 348-355.

Examples
--------
>>> import numpy as np, pandas as pd
>>> t = pd.date_range("2010-01-01", periods=96, freq="MS")
>>> rng = np.random.default_rng(1)
>>> y = rng.poisson(np.where(t >= "2014-01-01", 10, 20))
>>> res = InterruptedTimeSeries(y, t, ["2014-01"], effects="level", family="poisson").fit()
>>> 0.4 < res.effects()["level_rate_ratio"].iloc[0] < 0.6
True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from pakcast.models.covariance import newey_west_lags
from pakcast.models.glm import CountGLM
from pakcast.models.seasonality import fourier_names, fourier_terms
from pakcast.models.summary import Summary

__all__ = ["InterruptedTimeSeries", "ITSResults", "FAMILIES"]

FAMILIES = ("poisson", "quasipoisson", "negbin")
COV_TYPES = ("HAC", "nonrobust")


# --------------------------------------------------------------------------------------------
# the fit: models.glm.CountGLM (the project's one count-regression engine)
# --------------------------------------------------------------------------------------------
@dataclass
class _GLMFit:
    params: np.ndarray
    cov: np.ndarray
    alpha: float          # NB2 dispersion (0 for Poisson families)
    scale: float          # quasi-Poisson dispersion (1 otherwise)
    llf: float
    converged: bool
    mu: np.ndarray
    backend: str


def _fit_count_glm(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None, family: str,
                   cov_type: str = "HAC", maxlags: int | None = None) -> _GLMFit:
    r"""Fit a Poisson / quasi-Poisson / NB2 log-link GLM with :class:`models.glm.CountGLM`.

    Quasi-Poisson is the Poisson fit with the Pearson dispersion :math:`\phi` scaling the
    model-based covariance (the HAC sandwich needs no scale). HAC lags default to
    :func:`models.covariance.newey_west_lags` of the series length. A fit that does not converge
    or has no finite standard errors raises ``RuntimeError`` (and a design with no finite maximum
    :class:`models.glm.SeparationError`).
    """
    n = len(y)
    L = newey_west_lags(n) if maxlags is None else int(maxlags)
    cov = "HAC" if cov_type == "HAC" else "nonrobust"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a boundary fit is reported below
        r = CountGLM(y, X, offset=offset, family="poisson" if family == "quasipoisson" else family).fit(
            cov_type=cov, maxlags=L if cov == "HAC" else None)
    params = np.asarray(r.params, dtype=float)
    V = np.asarray(r.cov_params(), dtype=float)
    if not (r.converged and np.all(np.isfinite(params)) and np.all(np.isfinite(np.diag(V)))
            and np.all(np.diag(V) > 0)):
        raise RuntimeError(f"the {family} fit did not converge to an interior maximum (standard errors "
                           "not available); try family='quasipoisson' or fewer terms")
    off = np.zeros(n) if offset is None else offset
    mu = np.exp(X @ params + off)
    scale = 1.0
    if family == "quasipoisson":
        scale = float(np.sum((y - mu) ** 2 / mu) / max(n - X.shape[1], 1))
        if cov == "nonrobust":
            V = V * scale
    alpha = float(r.alpha_) if family == "negbin" and r.alpha_ is not None else 0.0
    return _GLMFit(params, V, alpha, scale, float(r.llf), True, mu,
                   f"pakcast CountGLM ({'NB2' if family == 'negbin' else 'Poisson'}"
                   f"{', scale=X2' if family == 'quasipoisson' else ''})")


# --------------------------------------------------------------------------------------------
# time handling
# --------------------------------------------------------------------------------------------
def _time_axis(time, n: int, period: int | None):
    """-> (tau float array, unit name, seasonal position array or None, period, is_datetime)."""
    if time is None:
        tau = np.arange(n, dtype=float)
        return tau, "step", (tau % period if period else None), period, False
    t = pd.Series(time)
    if len(t) != n:
        raise ValueError(f"time has {len(t)} values for {n} observations")
    if pd.api.types.is_numeric_dtype(t):
        tau = t.to_numpy(dtype=float)
        if not np.all(np.diff(tau) > 0):
            raise ValueError("time must be strictly increasing")
        tau = tau - tau[0]
        return tau, "unit", (tau % period if period else None), period, False
    dt = pd.to_datetime(t)
    if dt.isna().any():
        raise ValueError(f"time value at position {int(np.flatnonzero(dt.isna())[0])} is not a date")
    if not dt.is_monotonic_increasing or dt.duplicated().any():
        raise ValueError("time must be strictly increasing")
    gap = float(np.median(np.diff(dt.to_numpy()).astype("timedelta64[D]").astype(float))) if n > 1 else 30.0
    if 25 <= gap <= 35:
        tau = (dt.dt.year - dt.iloc[0].year) * 12 + (dt.dt.month - dt.iloc[0].month)
        return tau.to_numpy(dtype=float), "month", (dt.dt.month - 1).to_numpy(dtype=float), period or 12, True
    if 85 <= gap <= 95:
        tau = (dt.dt.year - dt.iloc[0].year) * 4 + (dt.dt.quarter - dt.iloc[0].quarter)
        return tau.to_numpy(dtype=float), "quarter", (dt.dt.quarter - 1).to_numpy(dtype=float), period or 4, True
    if 360 <= gap <= 370:
        tau = (dt.dt.year - dt.iloc[0].year).to_numpy(dtype=float)
        return tau, "year", None, None, True
    tau = ((dt - dt.iloc[0]).dt.days).to_numpy(dtype=float)
    return tau, "day", ((dt.dt.dayofyear - 1).to_numpy(dtype=float) if period else None), period, True


class InterruptedTimeSeries:
    """Segmented count regression (see the module docstring for the model).

    Parameters
    ----------
    y : array-like of non-negative integers
    time : array-like of dates or numbers, optional
        Time stamps (strictly increasing; gaps allowed). Default ``0..n-1``.
    interventions : sequence of dates or numbers
        Each intervention's first post period is the first time stamp ``>=`` it.
    effects : "level", "level+slope" or a list with one of these per intervention
    family : "poisson", "quasipoisson" or "negbin"
    seasonality : int
        Number of Fourier pairs ``K`` (0 for none).
    period : int, optional
        Season length in observations (12 for monthly dates; needed for numeric time).
    offset : array-like, optional
        Exposure (e.g. population); the model uses its log.
    exog : DataFrame, optional
        Extra covariates.
    cov_type : "HAC" or "nonrobust"
    maxlags : int, optional
        HAC truncation lag.
    trend : bool
        Include the pre-existing linear trend :math:`\beta_1 \tau_t` (default). ``False`` gives a
        pure level-shift comparison (no counterfactual trend), for short or gappy series.
    """

    def __init__(self, y, time=None, interventions: Sequence = (), effects: str | Sequence[str] = "level+slope",
                 family: str = "negbin", seasonality: int = 0, period: int | None = None, offset=None,
                 exog: pd.DataFrame | None = None, cov_type: str = "HAC", maxlags: int | None = None,
                 trend: bool = True):
        self.trend = bool(trend)
        y = pd.to_numeric(pd.Series(y).reset_index(drop=True), errors="coerce")
        bad = y.isna() | (y < 0) | (y != np.round(y))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"y position {i}: expected a non-negative integer count, got {pd.Series(y).iloc[i]!r}")
        self.y = y.to_numpy(dtype=float)
        n = len(self.y)
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
        if cov_type not in COV_TYPES:
            raise ValueError(f"cov_type must be one of {COV_TYPES}, got {cov_type!r}")
        if not interventions:
            raise ValueError("give at least one intervention")
        self.family, self.cov_type, self.maxlags = family, cov_type, maxlags
        self.seasonality = int(seasonality)
        if self.seasonality < 0:
            raise ValueError("seasonality must be >= 0")
        self.time = None if time is None else pd.Series(time).reset_index(drop=True)
        tau, unit, season, per, is_dt = _time_axis(self.time, n, period)
        if self.seasonality and season is None:
            raise ValueError(f"seasonality needs a seasonal period: give period= (time unit {unit!r})")
        if self.seasonality and 2 * self.seasonality > (per or 0):
            raise ValueError(f"seasonality K={self.seasonality} needs period >= {2 * self.seasonality}")
        self.tau, self.unit, self.season, self.period, self._is_dt = tau, unit, season, per, is_dt
        self.interventions = list(interventions)
        effs = [effects] * len(self.interventions) if isinstance(effects, str) else list(effects)
        if len(effs) != len(self.interventions) or any(e not in ("level", "level+slope") for e in effs):
            raise ValueError("effects must be 'level' or 'level+slope' (or one per intervention)")
        self.effects_spec = effs
        self.first_post = []
        for d in self.interventions:
            if is_dt:
                T = pd.Timestamp(d)
                pos = np.flatnonzero(pd.to_datetime(self.time).to_numpy() >= np.datetime64(T))
            else:
                base = 0.0 if self.time is None else float(pd.to_numeric(self.time).iloc[0])
                pos = np.flatnonzero(tau + base >= float(d))
            if len(pos) == 0:
                raise ValueError(f"intervention {d!r} is after the last observation")
            if pos[0] == 0:
                raise ValueError(f"intervention {d!r} is at or before the first observation: no pre-period")
            self.first_post.append(int(pos[0]))
        if sorted(self.first_post) != self.first_post or len(set(self.first_post)) != len(self.first_post):
            raise ValueError("interventions must be in time order and fall on different observations")
        if offset is not None:
            off = pd.to_numeric(pd.Series(offset).reset_index(drop=True), errors="coerce").to_numpy(dtype=float)
            if len(off) != n or not np.all(np.isfinite(off)) or np.any(off <= 0):
                i = int(np.flatnonzero(~np.isfinite(off) | (off <= 0))[0]) if len(off) == n else -1
                raise ValueError(f"offset must be positive and finite for every observation (position {i})")
            self.offset = np.log(off)
        else:
            self.offset = None
        self.exog = None if exog is None else pd.DataFrame(exog).reset_index(drop=True)
        self.X, self.names, self.groups = self._design()
        bounds = [0, *self.first_post, n]
        for a, b in zip(bounds[:-1], bounds[1:]):
            if self.y[a:b].sum() == 0:
                what = "before the first intervention" if a == 0 else f"after {self.interventions[bounds.index(a) - 1]!r}"
                raise ValueError(f"all {b - a} counts {what} are zero: the rate ratios are not estimable "
                                 "(separation); use a longer window or a coarser series")

    @classmethod
    def from_frame(cls, data: pd.DataFrame, outcome: str, time: str | None = None, interventions: Sequence = (),
                   offset: str | None = None, exog: Sequence[str] = (), **kwargs) -> "InterruptedTimeSeries":
        """Build the model from a DataFrame with named columns (CausalPy style).

        ``outcome``, ``time`` and ``offset`` name columns of ``data``; ``exog`` lists covariate
        columns; the other keywords are the constructor's.

        Examples
        --------
        >>> import pandas as pd
        >>> df = pd.DataFrame({"month": pd.date_range("2010-01-01", periods=24, freq="MS"),
        ...                    "cases": [20, 22, 19, 21, 23, 20, 18, 22, 21, 19, 20, 22,
        ...                              11, 9, 10, 12, 10, 11, 9, 10, 12, 11, 10, 9]})
        >>> res = InterruptedTimeSeries.from_frame(df, outcome="cases", time="month",
        ...                                        interventions=["2011-01"], effects="level",
        ...                                        family="poisson").fit()
        >>> 0.4 < res.effects()["level_rate_ratio"].iloc[0] < 0.6
        True
        """
        missing = [c for c in (outcome, time, offset, *exog) if c is not None and c not in data.columns]
        if missing:
            raise ValueError(f"column(s) {missing} not in the frame; columns: {list(data.columns)}")
        return cls(data[outcome], None if time is None else data[time], interventions,
                   offset=None if offset is None else data[offset],
                   exog=data[list(exog)] if exog else None, **kwargs)

    def _design(self):
        cols, names, groups = [np.ones(len(self.y))], ["const"], {}
        if self.trend:
            cols.append(self.tau)
            names.append("trend")
        for j, (fp, eff) in enumerate(zip(self.first_post, self.effects_spec), start=1):
            T = self.tau[fp]
            D = (np.arange(len(self.y)) >= fp).astype(float)
            cols.append(D)
            names.append(f"level_{j}")
            g = [len(names) - 1]
            if eff == "level+slope":
                cols.append((self.tau - T) * D)
                names.append(f"slope_{j}")
                g.append(len(names) - 1)
            groups[j] = g
        if self.seasonality:
            cols += list(fourier_terms(self.season, self.period, self.seasonality).T)
            names += fourier_names(self.seasonality)
        if self.exog is not None:
            for c in self.exog.columns:
                v = pd.to_numeric(self.exog[c], errors="coerce").to_numpy(dtype=float)
                if not np.isfinite(v).all():
                    raise ValueError(f"exog column {c!r} has missing values")
                cols.append(v)
                names.append(str(c))
        X = np.column_stack(cols)
        if np.linalg.matrix_rank(X) < X.shape[1]:
            raise ValueError(f"design matrix is rank deficient (columns {names}); too few observations around an intervention?")
        return X, names, groups

    def fit(self, level: float = 0.95, n_sim: int = 2000, random_seed: int = 20_140_616) -> "ITSResults":
        """Fit the model; ``level`` is the confidence level of the reported intervals (effects,
        excess, counterfactual), ``n_sim``/``random_seed`` set the simulations."""
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level}")
        res = _fit_count_glm(self.y, self.X, self.offset, self.family, self.cov_type, self.maxlags)
        return ITSResults(self, res, level, n_sim, random_seed)


class ITSResults:
    """Results of :class:`InterruptedTimeSeries`: ``params``, ``bse``, ``conf_int()``, effects,
    counterfactual, excess, checks, ``summary()``, ``to_dict()`` and ``plot()``."""

    def __init__(self, model: InterruptedTimeSeries, fit: _GLMFit, level: float, n_sim: int, random_seed: int):
        self.model, self._fit, self.level, self.n_sim, self.random_seed = model, fit, level, n_sim, random_seed
        self._ci_alpha = 1.0 - level  # two-sided tail mass of the reported intervals
        self.params = pd.Series(fit.params, index=model.names)
        self.cov_params = pd.DataFrame(fit.cov, index=model.names, columns=model.names)
        self.bse = pd.Series(np.sqrt(np.diag(fit.cov)), index=model.names)
        self.nb_alpha = fit.alpha
        self.scale = fit.scale
        self.llf = fit.llf
        self.converged = fit.converged
        self.backend = fit.backend
        self.nobs = len(model.y)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals of the coefficients at level ``1 - alpha`` (columns ``lower``, ``upper``)."""
        z = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"lower": self.params - z * self.bse, "upper": self.params + z * self.bse})

    @property
    def pvalues(self) -> pd.Series:
        return pd.Series(2 * stats.norm.sf(np.abs(self.params / self.bse)), index=self.params.index)

    # --- simulation machinery -------------------------------------------------------------
    @cached_property
    def _beta_draws(self) -> np.ndarray:
        rng = np.random.default_rng(self.random_seed)
        return rng.multivariate_normal(self._fit.params, self._fit.cov, size=self.n_sim, method="svd")

    def _mu(self, beta: np.ndarray, drop: Sequence[int] = ()) -> np.ndarray:
        X = self.model.X.copy()
        if drop:
            X[:, list(drop)] = 0.0
        eta = beta @ X.T if beta.ndim == 2 else X @ beta
        if self.model.offset is not None:
            eta = eta + self.model.offset
        return np.exp(eta)

    def _count_draws(self, mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        fam = self.model.family
        mu = np.minimum(mu, 1e12)  # guard the samplers against wild parameter draws
        if fam == "negbin" and self.nb_alpha > 1e-10:
            r = 1.0 / self.nb_alpha
            return rng.poisson(rng.gamma(r, mu / r))
        if fam == "quasipoisson" and self.scale > 1.0:
            a = (self.scale - 1.0) / np.maximum(mu, 1e-12)  # NB with Var = phi * mu
            r = 1.0 / a
            return rng.poisson(rng.gamma(r, mu / r))
        return rng.poisson(mu)

    def _drop_cols(self, j: int) -> list[int]:
        return [c for jj, cs in self.model.groups.items() if jj >= j for c in cs]

    def _window(self, j: int) -> np.ndarray:
        fp = self.model.first_post
        end = fp[j] if j < len(fp) else self.nobs
        return np.arange(fp[j - 1], end)

    # --- effects ----------------------------------------------------------------------------
    def _label(self, i: int):
        if self.model.time is None:
            return int(i)
        v = self.model.time.iloc[int(i)]
        return pd.Timestamp(v).strftime("%Y-%m-%d") if self.model._is_dt else v

    def effects(self) -> pd.DataFrame:
        """One row per intervention: level and slope rate ratios with CIs and p-values, excess."""
        ci = self.conf_int(self._ci_alpha)
        rows = []
        for j, d in enumerate(self.model.interventions, start=1):
            w = self._window(j)
            r: dict[str, Any] = {"intervention": str(d), "first_post": self._label(w[0]),
                                 "n_pre": int(self.model.first_post[j - 1]), "n_post": int(len(w))}
            for kind in ("level", "slope"):
                name = f"{kind}_{j}"
                if name in self.params.index:
                    r[f"{kind}_rate_ratio"] = float(np.exp(self.params[name]))
                    r[f"{kind}_ci_low"] = float(np.exp(ci.loc[name, "lower"]))
                    r[f"{kind}_ci_high"] = float(np.exp(ci.loc[name, "upper"]))
                    r[f"{kind}_p_value"] = float(self.pvalues[name])
                else:
                    r[f"{kind}_rate_ratio"] = r[f"{kind}_ci_low"] = r[f"{kind}_ci_high"] = r[f"{kind}_p_value"] = np.nan
            ex = self.excess(j)
            r.update({"excess": ex["estimate"], "excess_ci_low": ex["ci_low"], "excess_ci_high": ex["ci_high"]})
            rows.append(r)
        return pd.DataFrame(rows)

    def excess(self, j: int = 1) -> dict:
        """Observed minus counterfactual counts over intervention ``j``'s window, with interval.

        Also returns ``expected`` (fitted minus counterfactual mean, parameter uncertainty only).
        """
        w = self._window(j)
        drop = self._drop_cols(j)
        rng = np.random.default_rng(self.random_seed + j)
        B = self._beta_draws
        mu_cf = self._mu(B, drop)[:, w]
        mu_full = self._mu(B)[:, w]
        y_cf = self._count_draws(mu_cf, rng).sum(axis=1)
        obs = float(self.model.y[w].sum())
        a = self._ci_alpha
        point_cf = float(self._mu(self._fit.params, drop)[w].sum())
        exp_draws = (mu_full - mu_cf).sum(axis=1)
        return {"estimate": obs - point_cf,
                "ci_low": float(obs - np.quantile(y_cf, 1 - a / 2)),
                "ci_high": float(obs - np.quantile(y_cf, a / 2)),
                "observed": obs, "counterfactual": point_cf, "n_post": int(len(w)),
                "window": [self._label(w[0]), self._label(w[-1])],
                "expected": {"estimate": float(self._mu(self._fit.params)[w].sum() - point_cf),
                             "ci_low": float(np.quantile(exp_draws, a / 2)),
                             "ci_high": float(np.quantile(exp_draws, 1 - a / 2))}}

    def counterfactual(self, j: int = 1) -> pd.DataFrame:
        """Per observation: observed, fitted, counterfactual mean with CI and predictive interval."""
        drop = self._drop_cols(j)
        B = self._beta_draws
        mu_cf = self._mu(B, drop)
        rng = np.random.default_rng(self.random_seed + 100 + j)
        ycf = self._count_draws(mu_cf, rng)
        a = self._ci_alpha
        t = self.model.time if self.model.time is not None else pd.Series(np.arange(self.nobs))
        return pd.DataFrame({
            "time": t.to_numpy(), "observed": self.model.y, "fitted": self._mu(self._fit.params),
            "counterfactual": self._mu(self._fit.params, drop),
            "cf_ci_low": np.quantile(mu_cf, a / 2, axis=0), "cf_ci_high": np.quantile(mu_cf, 1 - a / 2, axis=0),
            "cf_pi_low": np.quantile(ycf, a / 2, axis=0), "cf_pi_high": np.quantile(ycf, 1 - a / 2, axis=0),
            "post": np.arange(self.nobs) >= self.model.first_post[j - 1]})

    def impact(self, j: int = 1) -> pd.DataFrame:
        r"""Per observation: the effect of intervention ``j`` (observed minus counterfactual counts)
        and its running sum over ``j``'s window, each with an interval (CausalImpact's panels).

        The point effect is :math:`y_t - \hat\mu^{cf}_t`; its interval and that of the cumulative
        effect :math:`\sum_{s \le t} (y_s - Y^{cf}_s)` come from counterfactual count draws
        (parameter and count uncertainty). The cumulative interval at the window's end equals
        :meth:`excess`'s. Outside the window the cumulative columns are NaN.
        """
        drop = self._drop_cols(j)
        B = self._beta_draws
        a = self._ci_alpha
        y = self.model.y
        mu_cf = self._mu(B, drop)
        point_cf = self._mu(self._fit.params, drop)
        ycf = self._count_draws(mu_cf, np.random.default_rng(self.random_seed + 100 + j))
        eff = y[None, :] - ycf
        w = self._window(j)
        # the same draws as :meth:`excess`, so the last cumulative interval is the excess interval
        ycf_w = self._count_draws(mu_cf[:, w], np.random.default_rng(self.random_seed + j))
        cum = np.cumsum(y[w][None, :] - ycf_w, axis=1)
        n = self.nobs
        cum_est, cum_lo, cum_hi = (np.full(n, np.nan) for _ in range(3))
        cum_est[w] = np.cumsum(y[w] - point_cf[w])
        cum_lo[w] = np.quantile(cum, a / 2, axis=0)
        cum_hi[w] = np.quantile(cum, 1 - a / 2, axis=0)
        t = self.model.time if self.model.time is not None else pd.Series(np.arange(n))
        return pd.DataFrame({
            "time": t.to_numpy(), "observed": y, "counterfactual": point_cf,
            "counterfactual_low": np.quantile(ycf, a / 2, axis=0), "counterfactual_high": np.quantile(ycf, 1 - a / 2, axis=0),
            "effect": y - point_cf, "effect_low": np.quantile(eff, a / 2, axis=0),
            "effect_high": np.quantile(eff, 1 - a / 2, axis=0),
            "cumulative_effect": cum_est, "cumulative_low": cum_lo, "cumulative_high": cum_hi,
            "post": np.arange(n) >= self.model.first_post[j - 1]})

    # --- checks -----------------------------------------------------------------------------
    @cached_property
    def pearson_residuals(self) -> np.ndarray:
        mu = self._fit.mu
        var = mu + self.nb_alpha * mu ** 2 if self.model.family == "negbin" else mu
        return (self.model.y - mu) / np.sqrt(var)

    def checks(self, lags: int | None = None) -> dict:
        """Overdispersion and residual autocorrelation (ACF, Ljung-Box) of Pearson residuals."""
        from statsmodels.stats.diagnostic import acorr_ljungbox
        from statsmodels.tsa.stattools import acf

        r = self.pearson_residuals
        n, p = self.nobs, len(self.params)
        L = int(lags or max(1, min(12, n // 4)))
        ac = acf(r, nlags=L, fft=False)[1:]
        lb = acorr_ljungbox(r, lags=[L])
        return {"pearson_dispersion": float(np.sum(r ** 2) / max(n - p, 1)),
                "quasipoisson_scale": float(self.scale), "nb_alpha": float(self.nb_alpha),
                "acf": [float(v) for v in ac], "acf_lag1": float(ac[0]),
                "ljung_box_lag": L, "ljung_box_stat": float(lb["lb_stat"].iloc[0]),
                "ljung_box_p_value": float(lb["lb_pvalue"].iloc[0]),
                "acf_band": float(stats.norm.ppf(0.975) / np.sqrt(n))}

    # --- output -----------------------------------------------------------------------------
    def summary(self) -> Summary:
        """Coefficient table, the effects per intervention and the residual checks."""
        m = self.model
        a = self._ci_alpha
        ci = self.conf_int(a)
        tab = pd.DataFrame({"coef": self.params, "std err": self.bse, "z": self.params / self.bse,
                            "P>|z|": self.pvalues, f"[{a / 2:.3g}": ci["lower"], f"{1 - a / 2:.3g}]": ci["upper"]})
        header: tuple[tuple[str, str], ...] = (("Family", m.family), ("Covariance", m.cov_type), ("No. observations", f"{self.nobs} ({m.unit})"),
                  ("Seasonality K", str(m.seasonality)), ("Offset", "yes" if m.offset is not None else "no"),
                  ("Backend", self.backend), ("Log-likelihood", f"{self.llf:.2f}"))
        if m.family == "negbin":
            header += (("NB alpha", f"{self.nb_alpha:.4g}"),)
        if m.family == "quasipoisson":
            header += (("Dispersion", f"{self.scale:.4g}"),)
        eff = self.effects()
        notes = [f"Effects (rate ratios, {100 * self.level:.0f}% CI; excess = observed - counterfactual):"]
        for _, r in eff.iterrows():
            line = (f"  {r['intervention']} (first post {r['first_post']}, n_pre={r['n_pre']}, n_post={r['n_post']}): "
                    f"level RR {r['level_rate_ratio']:.3f} [{r['level_ci_low']:.3f}, {r['level_ci_high']:.3f}]")
            if np.isfinite(r["slope_rate_ratio"]):
                line += (f"; slope RR/{m.unit} {r['slope_rate_ratio']:.4f} "
                         f"[{r['slope_ci_low']:.4f}, {r['slope_ci_high']:.4f}]")
            line += f"; excess {r['excess']:.0f} [{r['excess_ci_low']:.0f}, {r['excess_ci_high']:.0f}]"
            notes.append(line)
        c = self.checks()
        notes.append(f"Checks: Pearson dispersion {c['pearson_dispersion']:.3g}; residual ACF lag1 {c['acf_lag1']:.3f}; "
                     f"Ljung-Box({c['ljung_box_lag']}) p={c['ljung_box_p_value']:.3g}")
        return Summary("Interrupted time series", header, tab, tuple(notes))

    def to_dict(self) -> dict:
        """JSON-ready: the CLI's ``interventions`` list plus model, parameters and checks."""
        eff = self.effects()
        out = []
        for j, r in enumerate(eff.itertuples(index=False), start=1):
            ex = self.excess(j)
            rr = lambda kind: (None if not np.isfinite(getattr(r, f"{kind}_rate_ratio")) else  # noqa: E731
                               {"estimate": getattr(r, f"{kind}_rate_ratio"), "ci_low": getattr(r, f"{kind}_ci_low"),
                                "ci_high": getattr(r, f"{kind}_ci_high"), "p_value": getattr(r, f"{kind}_p_value"),
                                **({"per": self.model.unit} if kind == "slope" else {})})
            out.append({"date": r.intervention, "first_post": r.first_post, "n_pre": r.n_pre, "n_post": r.n_post,
                        "level_rate_ratio": rr("level"), "slope_rate_ratio": rr("slope"),
                        "excess": {"estimate": ex["estimate"], "ci_low": ex["ci_low"], "ci_high": ex["ci_high"],
                                   "observed": ex["observed"], "counterfactual": ex["counterfactual"],
                                   "window": ex["window"], "expected": ex["expected"]}})
        ci = self.conf_int(self._ci_alpha)
        return {"interventions": out,
                "model": {"family": self.model.family, "cov_type": self.model.cov_type, "nobs": self.nobs,
                          "time_unit": self.model.unit, "seasonality": self.model.seasonality,
                          "offset": self.model.offset is not None, "backend": self.backend,
                          "converged": self.converged, "llf": self.llf, "nb_alpha": self.nb_alpha,
                          "scale": self.scale, "level": self.level, "n_sim": self.n_sim,
                          "random_seed": self.random_seed},
                "params": [{"name": k, "estimate": float(self.params[k]), "std_err": float(self.bse[k]),
                            "ci_low": float(ci.loc[k, "lower"]), "ci_high": float(ci.loc[k, "upper"]),
                            "p_value": float(self.pvalues[k])} for k in self.params.index],
                "checks": self.checks()}

    def plot(self, ax=None, j: int = 1):
        """Observed counts, fitted values and the counterfactual with its intervals."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(9, 4))
        cf = self.counterfactual(j)
        x = cf["time"]
        if self.model._is_dt:
            x = pd.to_datetime(x)
        ax.plot(x, cf["observed"], "o", ms=2.5, color="0.35", label="observed")
        ax.plot(x, cf["fitted"], color="C3", lw=1.5, label="fitted")
        post = cf["post"].to_numpy()
        ax.plot(x[post], cf["counterfactual"][post], color="C0", ls="--", lw=1.5, label="counterfactual")
        ax.fill_between(x[post], cf["cf_pi_low"][post], cf["cf_pi_high"][post], color="C0", alpha=0.12,
                        label=f"{100 * self.level:.0f}% predictive")
        ax.fill_between(x[post], cf["cf_ci_low"][post], cf["cf_ci_high"][post], color="C0", alpha=0.25)
        for fp in self.model.first_post:
            ax.axvline(x.iloc[fp] if hasattr(x, "iloc") else x[fp], color="k", lw=0.8, ls=":")
        ax.legend(fontsize=8, loc="upper left")
        ax.set_ylabel("count")
        return ax
