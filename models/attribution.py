r"""Covariate attribution for count models: effects, contributions, Shapley shares, scenarios.

The model is a log-linear count regression (negative binomial NB2 by default, or Poisson)

.. math::

    y_{it} \sim \mathrm{NB2}(\mu_{it}, \alpha), \qquad
    \log \mu_{it} = o_{it} + z_{it}^\top \gamma + \sum_{g} \sum_{j \in g} \beta_j x_{itj},

with offset :math:`o` (log exposure), control terms :math:`z` (intercept, unit effects,
seasonality: the player called ``other`` below) and covariates :math:`x_j` sorted into groups
:math:`g` (economic, political, security, breaks...). :math:`\mathrm{Var}\,y = \mu + \alpha\mu^2`.

What the results give, all with intervals:

* **Effects**: :math:`\mathrm{IRR}_j = e^{\beta_j}` per unit and :math:`e^{\beta_j s_j}` per standard
  deviation :math:`s_j` of :math:`x_j` in the estimation sample (Wald intervals from the chosen
  covariance: non-robust, HC0, or Driscoll-Kraay, which is robust to correlation across units
  within a period and to serial correlation up to ``maxlags``).
* **Contributions** (:meth:`AttributionResults.contributions`): for each row and covariate,
  :math:`c_{itj} = \beta_j (x_{itj} - \bar x_j)` against a reference row :math:`\bar x`, plus the
  control terms' change; they sum exactly to :math:`\eta_{it} - \bar\eta`.
* **Shapley decomposition** (:meth:`AttributionResults.shapley`) of the change in the log mean
  fitted count between periods :math:`A` and :math:`B` among the players (groups and ``other``):
  with :math:`C_S(r) = \sum_{g \in S} \sum_{j\in g} \beta_j x_{rj}` (``other`` contributes
  :math:`o + z^\top\gamma`),

  .. math::

      v(S) = \log \sum_u \Big[\tfrac{1}{n_{A,u}}\sum_{a \in A_u} e^{\eta_a - C_S(a)}\Big]
                         \Big[\tfrac{1}{n_{B,u}}\sum_{b \in B_u} e^{C_S(b)}\Big],

  the log mean count when the players in :math:`S` take their period-:math:`B` values and the
  others their period-:math:`A` values (every :math:`A` month paired with every :math:`B` month of
  the same unit). :math:`v(\emptyset)` and :math:`v(\text{all})` are the fitted log mean counts of
  :math:`A` and :math:`B`, so the Shapley values sum exactly to the fitted change; the residual
  is the observed change minus the fitted change. Intervals: percentiles over draws of
  :math:`\beta` from its estimated sampling distribution (a parametric bootstrap).
* **Scenarios** (:meth:`AttributionResults.scenario`): predictive counts under a user covariate
  path, :math:`\beta^{(s)} \sim N(\hat\beta, \hat V)`, :math:`y^{(s)} \sim \mathrm{NB2}(\mu^{(s)},
  \hat\alpha)`.

These are associations adjusted for the modelled terms, not causal effects; nothing in the
model identifies a causal effect without a design that does (see :data:`INTERPRETATION`).

References
----------
Cameron, A. C. & Trivedi, P. K. (2013). *Regression Analysis of Count Data*, 2nd ed., ch. 3.
Driscoll, J. C. & Kraay, A. C. (1998). Consistent covariance matrix estimation with spatially
dependent panel data. *Review of Economics and Statistics* 80(4).
Shapley, L. S. (1953). A value for n-person games. *Contributions to the Theory of Games* II.
Shorrocks, A. F. (2013). Decomposition procedures for distributional analysis: a unified
framework based on the Shapley value. *Journal of Economic Inequality* 11.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from models.attribution import AttributionModel
>>> rng = np.random.default_rng(0)
>>> X = pd.DataFrame({"const": 1.0, "x": rng.normal(size=400)})
>>> y = rng.poisson(np.exp(1.0 + 0.3 * X["x"]))
>>> res = AttributionModel(y, X, groups={"x": "economic"}).fit(cov_type="HC0")
>>> round(float(res.params["x"]), 1)
0.3
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from pakcast.models.glm import CountGLM, CountGLMResults
from pakcast.models.summary import Summary

INTERPRETATION = (
    "These are associations adjusted for the modelled terms, not causal effects: no design in this "
    "analysis identifies a causal effect, and the covariates are correlated with each other and with "
    "unmeasured drivers of violence."
)
OTHER = "other"
RESIDUAL = "residual"

__all__ = [
    "INTERPRETATION",
    "AttributionModel",
    "AttributionResults",
    "ShapleyResult",
    "ScenarioResult",
    "shapley_values",
    "irr_from_draws",
]


# --------------------------------------------------------------------------- count-model fit

#: covariances :meth:`AttributionModel.fit` accepts (``"HAC"`` with ``time`` is Driscoll-Kraay)
ATTRIBUTION_COV_TYPES = ("nonrobust", "HC0", "HAC", "driscoll-kraay")


def irr_from_draws(beta_draws, names: Sequence[str], sd, standardized: bool = True,
                   groups: Mapping[str, str] | None = None, alpha: float = 0.05) -> pd.DataFrame:
    r"""IRRs per unit and per SD with equal-tailed intervals from posterior (or bootstrap) draws.

    For a Bayesian count model fitted on standardised covariates :math:`(x - m)/s` (as
    ``models.bayes`` does), a draw :math:`\beta^{*}` is per SD: :math:`\mathrm{IRR}_{SD} = e^{\beta^{*}}`
    and :math:`\mathrm{IRR}_{unit} = e^{\beta^{*}/s}`. With ``standardized=False`` the draws are per
    unit and :math:`\mathrm{IRR}_{SD} = e^{\beta s}`.

    Parameters
    ----------
    beta_draws : array (n_draws, k) (chains stacked)
    names : covariate names (k)
    sd : array (k) of the covariates' standard deviations used for (un)standardising
    """
    B = np.asarray(beta_draws, dtype=float)
    sd = np.asarray(sd, dtype=float)
    if B.ndim != 2 or B.shape[1] != len(names) or sd.shape != (len(names),):
        raise ValueError(f"beta_draws must be (n_draws, {len(names)}) and sd ({len(names)},); "
                         f"got {B.shape} and {sd.shape}")
    if np.any(~(sd > 0)):
        raise ValueError("sd must be positive")
    per_unit = B / sd if standardized else B
    per_sd = B if standardized else B * sd
    lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
    rows = []
    for j, c in enumerate(names):
        rows.append({"covariate": c, "group": (groups or {}).get(c, ""),
                     "irr": float(np.exp(np.median(per_unit[:, j]))),
                     "ci_low": float(np.exp(np.percentile(per_unit[:, j], lo))),
                     "ci_high": float(np.exp(np.percentile(per_unit[:, j], hi))),
                     "sd": float(sd[j]),
                     "irr_per_sd": float(np.exp(np.median(per_sd[:, j]))),
                     "irr_per_sd_ci_low": float(np.exp(np.percentile(per_sd[:, j], lo))),
                     "irr_per_sd_ci_high": float(np.exp(np.percentile(per_sd[:, j], hi))),
                     "prob_irr_gt_1": float(np.mean(per_unit[:, j] > 0))})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Shapley


def shapley_values(value: Callable[[frozenset], Any], players: Sequence[str]) -> dict[str, Any]:
    r"""Exact Shapley values of a cooperative game.

    .. math:: \phi_i = \sum_{S \subseteq N \setminus \{i\}} \frac{|S|!\,(n-|S|-1)!}{n!}
              \big[v(S \cup \{i\}) - v(S)\big]

    ``value`` is called once per coalition (:math:`2^n` calls, cached); it may return a float
    or an array (e.g. one value per parameter draw), and the Shapley values are then arrays.
    Efficiency holds by construction: :math:`\sum_i \phi_i = v(N) - v(\emptyset)`.
    """
    players = list(players)
    n = len(players)
    if n == 0:
        return {}
    if len(set(players)) != n:
        raise ValueError(f"players must be distinct, got {players}")
    if n > 12:
        raise ValueError(f"{n} players: exact Shapley needs 2^n evaluations; group the covariates")
    cache: dict[frozenset, Any] = {}

    def v(S: frozenset):
        if S not in cache:
            val = value(S)
            cache[S] = float(val) if np.ndim(val) == 0 else np.asarray(val, dtype=float)
        return cache[S]

    w = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    phi = {}
    for i, p in enumerate(players):
        others = players[:i] + players[i + 1:]
        tot = 0.0
        for s in range(n):
            for S in itertools.combinations(others, s):
                fs = frozenset(S)
                tot += w[s] * (v(fs | {p}) - v(fs))
        phi[p] = tot
    return phi


@dataclass
class ShapleyResult:
    """Shapley shares of the change in the log mean count between two periods.

    ``table`` has one row per player plus ``residual`` (observed minus fitted change), with
    ``share`` (log points; the rows sum to ``total_change``), ``share_of_total`` and the interval.
    """

    table: pd.DataFrame
    total_change: float
    fitted_change: float
    observed_mean_a: float
    observed_mean_b: float
    fitted_mean_a: float
    fitted_mean_b: float
    n_draws: int
    alpha: float
    draws: pd.DataFrame = field(repr=False, default=None)

    def to_dict(self) -> dict:
        return {
            "shapley": self.table.to_dict(orient="records"),
            "total_change": self.total_change,
            "fitted_change": self.fitted_change,
            "observed_mean_a": self.observed_mean_a,
            "observed_mean_b": self.observed_mean_b,
            "fitted_mean_a": self.fitted_mean_a,
            "fitted_mean_b": self.fitted_mean_b,
            "n_draws": self.n_draws,
            "interval": f"{100 * (1 - self.alpha):g}% percentile interval over {self.n_draws} parameter draws",
        }


@dataclass
class ScenarioResult:
    """Predictive count samples under one covariate path: ``samples`` (rows x draws)."""

    samples: np.ndarray
    index: pd.Index
    level: Sequence[int]

    @cached_property
    def summary(self) -> pd.DataFrame:
        out = pd.DataFrame({"mean": self.samples.mean(axis=1)}, index=self.index)
        for lv in self.level:
            lo, hi = (100 - lv) / 2, 100 - (100 - lv) / 2
            out[f"lo-{lv}"] = np.percentile(self.samples, lo, axis=1)
            out[f"hi-{lv}"] = np.percentile(self.samples, hi, axis=1)
        return out

    def total(self) -> dict:
        """Total over all rows (e.g. a year of province-months), mean and intervals."""
        tot = self.samples.sum(axis=0)
        out = {"mean": float(tot.mean())}
        for lv in self.level:
            out[f"lo-{lv}"] = float(np.percentile(tot, (100 - lv) / 2))
            out[f"hi-{lv}"] = float(np.percentile(tot, 100 - (100 - lv) / 2))
        return out


# --------------------------------------------------------------------------- model and results


class AttributionModel:
    """Count regression whose covariates are sorted into groups for attribution.

    Parameters
    ----------
    y : array-like (n,)
        Counts.
    X : pandas.DataFrame (n, k)
        Design: covariates named in ``groups`` plus control columns (intercept, unit effects,
        seasonality), which form the player ``other``.
    groups : mapping column -> group name
        Which columns are attributed to which group. Every key must be a column of ``X``.
    offset : array-like (n,), optional
        Log exposure (part of ``other``).
    family : {"negbin", "poisson"}
    unit, time : array-like (n,), optional
        Unit (province) and period of each row; ``time`` is needed for Driscoll-Kraay
        covariances and ``unit``/``time`` for Shapley decompositions by period.
    """

    def __init__(self, y, X: pd.DataFrame, groups: Mapping[str, str], offset=None, family: str = "negbin",
                 unit=None, time=None):
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a pandas DataFrame with named columns")
        unknown = [c for c in groups if c not in X.columns]
        if unknown:
            raise ValueError(f"groups name column(s) {unknown} that are not in X")
        if OTHER in set(groups.values()) or RESIDUAL in set(groups.values()):
            raise ValueError(f"group names {OTHER!r} and {RESIDUAL!r} are reserved")
        self.y = np.asarray(y, dtype=float)
        self.X = X
        self.groups = dict(groups)
        self.offset = np.zeros(len(X)) if offset is None else np.asarray(offset, dtype=float)
        self.family = family
        self.unit = np.asarray(unit) if unit is not None else np.zeros(len(X), dtype=int)
        self.time = np.asarray(time) if time is not None else None

    def fit(self, cov_type: str = "driscoll-kraay", maxlags: int | None = None) -> "AttributionResults":
        """Fit by maximum likelihood (:class:`models.glm.CountGLM`).

        ``cov_type``: ``"nonrobust"``, ``"HC0"``, ``"HAC"`` or ``"driscoll-kraay"`` (case-insensitive);
        ``HAC`` with ``time`` given is Driscoll-Kraay (scores summed per period), without it
        Newey-West over the rows. Default lags: :math:`\\lfloor 4(T/100)^{2/9}\\rfloor` with
        :math:`T` periods (:func:`models.covariance.newey_west_lags`). A design without a finite
        maximum raises :class:`models.glm.SeparationError`.
        """
        ct = cov_type.lower()
        if ct not in {c.lower() for c in ATTRIBUTION_COV_TYPES}:
            raise ValueError(f"cov_type must be nonrobust, HC0, HAC or driscoll-kraay; got {cov_type!r}")
        glm_ct = {"nonrobust": "nonrobust", "hc0": "HC0", "hac": "HAC", "driscoll-kraay": "HAC"}[ct]
        if glm_ct == "HAC" and self.time is not None:
            glm_ct = "driscoll-kraay"  # without time (one row per period) Driscoll-Kraay is Newey-West
        fit = CountGLM(self.y, self.X, offset=self.offset, family=self.family).fit(
            cov_type=glm_ct, maxlags=maxlags, time=self.time)
        return AttributionResults(self, fit, ct)


class AttributionResults:
    """Results of :class:`AttributionModel`: effects, contributions, Shapley shares, scenarios."""

    def __init__(self, model: AttributionModel, fit: CountGLMResults, cov_type: str):
        self.model = model
        self.fit_result = fit
        cols = list(model.X.columns)
        self.params = pd.Series(fit.params.to_numpy(), index=cols, name="coef")
        self._cov = fit.cov_params().to_numpy()
        self.alpha_nb = 0.0 if fit.alpha_ is None else fit.alpha_
        self.loglike = fit.llf
        self.nobs = len(model.y)
        self.converged = fit.converged
        self.cov_type = cov_type
        self.fittedvalues = pd.Series(fit.predict(), index=model.X.index)

    def cov_params(self) -> pd.DataFrame:
        cols = self.params.index
        return pd.DataFrame(self._cov, index=cols, columns=cols)

    @cached_property
    def bse(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self._cov)), index=self.params.index, name="bse")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        z = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"lower": self.params - z * self.bse, "upper": self.params + z * self.bse})

    @cached_property
    def linear_predictor(self) -> np.ndarray:
        return self.model.offset + self.model.X.to_numpy(dtype=float) @ self.params.to_numpy()

    # ---- effects
    def irr(self, alpha: float = 0.05) -> pd.DataFrame:
        """Incidence rate ratios per unit and per SD of each grouped covariate, with Wald intervals."""
        z = stats.norm.ppf(1 - alpha / 2)
        rows = []
        for c, g in self.model.groups.items():
            b, se = float(self.params[c]), float(self.bse[c])
            sd = float(np.std(self.model.X[c].to_numpy(dtype=float), ddof=1))
            rows.append({"covariate": c, "group": g, "coef": b, "se": se,
                         "irr": math.exp(b), "ci_low": math.exp(b - z * se), "ci_high": math.exp(b + z * se),
                         "sd": sd, "irr_per_sd": math.exp(b * sd),
                         "irr_per_sd_ci_low": math.exp((b - z * se) * sd),
                         "irr_per_sd_ci_high": math.exp((b + z * se) * sd),
                         "pvalue": float(2 * stats.norm.sf(abs(b / se))) if se > 0 else float("nan")})
        return pd.DataFrame(rows)

    # ---- contributions
    def linear_predictor_by_group(self, X: pd.DataFrame | None = None, offset=None,
                                  params=None) -> pd.DataFrame:
        """Linear predictor split by player: one column per group plus ``other`` (controls and
        offset); the columns sum to the linear predictor. Defaults: the estimation sample and estimates."""
        if X is None:
            X = self.model.X
            off = self.model.offset if offset is None else np.asarray(offset, dtype=float)
        else:
            X = X[list(self.params.index)]
            off = np.zeros(len(X)) if offset is None else np.asarray(offset, dtype=float)
        p = self.params.to_numpy() if params is None else np.asarray(params, dtype=float)
        return pd.DataFrame(self._player_matrix(X.to_numpy(dtype=float), off, p), columns=self._players,
                            index=X.index)

    def contributions(self, reference: pd.Series | None = None, X: pd.DataFrame | None = None,
                      offset=None) -> pd.DataFrame:
        r"""Per-row contribution of every covariate to the log-rate against a reference row.

        :math:`c_{ij} = \beta_j (x_{ij} - x^{ref}_j)` for grouped covariates, ``other`` for the
        control terms and offset, and ``fitted_change`` :math:`= \eta_i - \eta^{ref}`, which the
        contributions sum to exactly. ``reference`` defaults to the column means of the
        estimation sample (with the mean offset).
        """
        X = self.model.X if X is None else X
        off = self.model.offset if X is self.model.X and offset is None else (
            np.zeros(len(X)) if offset is None else np.asarray(offset, dtype=float))
        if reference is None:
            ref_x = self.model.X.mean(axis=0)
            ref_off = float(np.mean(self.model.offset))
        else:
            ref_x = reference.drop(labels=["offset"], errors="ignore").reindex(X.columns)
            if ref_x.isna().any():
                raise ValueError(f"reference lacks column(s) {list(ref_x.index[ref_x.isna()])}")
            ref_off = float(reference.get("offset", 0.0))
        b = self.params
        D = X.to_numpy(dtype=float) - ref_x.to_numpy(dtype=float)[None, :]
        terms = D * b.to_numpy()[None, :]
        out = pd.DataFrame(terms[:, [X.columns.get_loc(c) for c in self.model.groups]],
                           columns=list(self.model.groups), index=X.index)
        other_idx = [i for i, c in enumerate(X.columns) if c not in self.model.groups]
        out[OTHER] = terms[:, other_idx].sum(axis=1) + (off - ref_off)
        out["fitted_change"] = (off + X.to_numpy(dtype=float) @ b.to_numpy()) - (
            ref_off + float(ref_x.to_numpy(dtype=float) @ b.to_numpy()))
        return out

    # ---- Shapley
    def _period_value_fn(self, lp_a, lp_b, units_a, units_b, players: Sequence[str] | None = None):
        """The coalition value function v(S) (see the module notes) for player-split linear
        predictors ``lp_a`` (rows of period A x players) and ``lp_b``: DataFrames whose columns
        are the players, or arrays with ``players`` given."""
        if isinstance(lp_a, pd.DataFrame):
            players = list(lp_a.columns)
            A, B = lp_a.to_numpy(dtype=float), lp_b.to_numpy(dtype=float)
        else:
            A, B = np.asarray(lp_a, dtype=float), np.asarray(lp_b, dtype=float)
            if players is None:
                raise TypeError("players= is needed when the predictors are arrays (no column names)")
            players = list(players)
        ca, cb, nu = self._unit_codes(units_a, units_b)
        v_idx = self._value_from_codes(A, B, ca, cb, nu)
        pos = {p: i for i, p in enumerate(players)}

        def value(S) -> float:
            return v_idx(frozenset(pos[p] for p in S))

        return value, players

    @staticmethod
    def _unit_codes(units_a, units_b):
        ua = pd.factorize(pd.Series(units_a), sort=True)
        ub_codes = pd.Index(ua[1]).get_indexer(pd.Series(units_b))
        if np.any(ub_codes < 0) or set(ub_codes) != set(range(len(ua[1]))):
            raise ValueError("periods A and B must cover the same units")
        return ua[0], ub_codes, len(ua[1])

    @staticmethod
    def _value_from_codes(A, B, ca, cb, nu):
        """v(S) for player-split predictors ``A`` (n_a, P[, D]) and ``B`` (n_b, P[, D]); with a
        third axis (parameter draws) v(S) is an array over draws."""
        squeeze = A.ndim == 2
        if squeeze:
            A, B = A[:, :, None], B[:, :, None]
        eta_a = A.sum(axis=1)
        Ua = np.zeros((nu, len(ca)))
        Ua[ca, np.arange(len(ca))] = 1.0 / np.bincount(ca, minlength=nu)[ca]
        Ub = np.zeros((nu, len(cb)))
        Ub[cb, np.arange(len(cb))] = 1.0 / np.bincount(cb, minlength=nu)[cb]

        def value(S):
            """v(S) for a set S of player column indices."""
            idx = sorted(S)
            cs_a = A[:, idx, :].sum(axis=1) if idx else 0.0
            cs_b = B[:, idx, :].sum(axis=1) if idx else np.zeros((B.shape[0], B.shape[2]))
            ta = Ua @ np.exp(eta_a - cs_a)  # per unit: mean over A months
            tb = Ub @ np.exp(cs_b)
            v = np.log(np.sum(ta * tb, axis=0))
            return float(v[0]) if squeeze else v

        return value

    def _player_matrix(self, Xarr: np.ndarray, off: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Linear predictor split by player (columns in ``self._players`` order): shape (n, P)
        for one parameter vector, (n, P, D) for a (D, k) matrix of parameter draws."""
        P = np.asarray(params, dtype=float)
        if P.ndim == 1:
            terms = Xarr * P[None, :]
            return np.column_stack([terms[:, idx].sum(axis=1) for idx in self._player_cols]
                                   + [terms[:, self._other_cols].sum(axis=1) + off])
        parts = [Xarr[:, idx] @ P[:, idx].T for idx in self._player_cols]
        parts.append(Xarr[:, self._other_cols] @ P[:, self._other_cols].T + off[:, None])
        return np.stack(parts, axis=1)

    @cached_property
    def _player_cols(self) -> list[list[int]]:
        cols = list(self.model.X.columns)
        groups = self.model.groups
        return [[cols.index(c) for c, gg in groups.items() if gg == g] for g in dict.fromkeys(groups.values())]

    @cached_property
    def _other_cols(self) -> list[int]:
        return [i for i, c in enumerate(self.model.X.columns) if c not in self.model.groups]

    @cached_property
    def _players(self) -> list[str]:
        return list(dict.fromkeys(self.model.groups.values())) + [OTHER]

    def shapley(self, period_a, period_b, n_draws: int = 200, random_seed: int | None = 0,
                alpha: float = 0.05) -> ShapleyResult:
        """Shapley decomposition of the change in log mean count from period A to period B.

        Parameters
        ----------
        period_a, period_b : boolean arrays (n,)
            Rows of the estimation sample in each period. Both must cover the same units.
        n_draws : int
            Parameter draws from :math:`N(\\hat\\beta, \\hat V)` for the percentile intervals.
        random_seed : int
        """
        pa = np.asarray(period_a, dtype=bool)
        pb = np.asarray(period_b, dtype=bool)
        if pa.sum() == 0 or pb.sum() == 0:
            raise ValueError("each period needs at least one row in the estimation sample")
        if np.any(pa & pb):
            raise ValueError("periods A and B overlap")
        X, off, y, unit = self.model.X, self.model.offset, self.model.y, self.model.unit

        def obs_log_mean(mask):
            codes, _ = pd.factorize(pd.Series(unit[mask]), sort=True)
            n = np.bincount(codes).astype(float)
            return float(np.log(np.sum(np.bincount(codes, weights=y[mask]) / n)))

        obs_a, obs_b = obs_log_mean(pa), obs_log_mean(pb)
        if not (np.isfinite(obs_a) and np.isfinite(obs_b)):
            raise ValueError("a period has zero observed events: the log change is undefined")
        total = obs_b - obs_a

        Xa, Xb = X.loc[pa].to_numpy(dtype=float), X.loc[pb].to_numpy(dtype=float)
        ca, cb, nu = self._unit_codes(unit[pa], unit[pb])
        names = self._players
        pos = {p: i for i, p in enumerate(names)}

        def decompose(params):
            A = self._player_matrix(Xa, off[pa], params)
            B = self._player_matrix(Xb, off[pb], params)
            v_idx = self._value_from_codes(A, B, ca, cb, nu)

            def value(S):
                return v_idx(frozenset(pos[p] for p in S))

            phi = shapley_values(value, names)
            fa, fb = value(frozenset()), value(frozenset(names))
            return phi, fa, fb

        phi, fa, fb = decompose(self.params.to_numpy())
        fitted = fb - fa
        players = list(phi)
        rng = np.random.default_rng(random_seed)
        draws = rng.multivariate_normal(self.params.to_numpy(), self._cov, size=n_draws, method="eigh")
        ph, a_, b_ = decompose(draws)  # all draws at once: arrays over draws
        dr = pd.DataFrame({**ph, RESIDUAL: total - (b_ - a_)})
        lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
        table = pd.DataFrame({
            "group": players + [RESIDUAL],
            "share": [phi[p] for p in players] + [total - fitted],
        })
        table["share_of_total"] = table["share"] / total if total != 0 else np.nan
        table["ci_low"] = [float(np.percentile(dr[p], lo)) for p in table["group"]]
        table["ci_high"] = [float(np.percentile(dr[p], hi)) for p in table["group"]]
        return ShapleyResult(table=table, total_change=total, fitted_change=fitted,
                             observed_mean_a=math.exp(obs_a), observed_mean_b=math.exp(obs_b),
                             fitted_mean_a=math.exp(fa), fitted_mean_b=math.exp(fb),
                             n_draws=n_draws, alpha=alpha, draws=dr)

    # ---- scenarios
    def scenario(self, X: pd.DataFrame, offset=None, n_samples: int = 2000, random_seed: int | None = 0,
                 level: Sequence[int] = (80, 95)) -> ScenarioResult:
        """Predictive count samples for design rows ``X`` (a user's covariate path).

        Parameter uncertainty: :math:`\\beta^{(s)} \\sim N(\\hat\\beta, \\hat V)`; outcome noise: NB2
        with :math:`\\hat\\alpha` (Poisson for ``family="poisson"``).
        """
        missing = [c for c in self.params.index if c not in X.columns]
        if missing:
            raise ValueError(f"scenario design lacks column(s) {missing}")
        Xa = X[list(self.params.index)].to_numpy(dtype=float)
        if not np.all(np.isfinite(Xa)):
            raise ValueError("scenario design has missing or non-finite values")
        off = np.zeros(len(X)) if offset is None else np.asarray(offset, dtype=float)
        rng = np.random.default_rng(random_seed)
        B = rng.multivariate_normal(self.params.to_numpy(), self._cov, size=n_samples, method="eigh")
        mu = np.exp(np.clip(off[:, None] + Xa @ B.T, -30, 30))
        if self.model.family == "poisson" or self.alpha_nb <= 0:
            ys = rng.poisson(mu)
        else:
            r = 1.0 / self.alpha_nb
            ys = rng.poisson(rng.gamma(shape=r, scale=mu / r))
        return ScenarioResult(samples=ys, index=X.index, level=tuple(level))

    # ---- reporting
    def summary(self, alpha: float = 0.05) -> Summary:
        """Coefficients with Wald intervals at level ``1 - alpha`` and their group (``table``)."""
        ci = self.conf_int(alpha)
        tab = pd.DataFrame({"coef": self.params, "se": self.bse, "z": self.params / self.bse,
                            "ci_low": ci["lower"], "ci_high": ci["upper"],
                            "group": [self.model.groups.get(c, OTHER) for c in self.params.index]})
        header = (("Family", self.model.family), ("Covariance", self.cov_type), ("No. observations", str(self.nobs)),
                  ("Log-likelihood", f"{self.loglike:.4f}"), ("NB alpha", f"{self.alpha_nb:.4g}"),
                  ("Converged", str(self.converged)))
        return Summary("Attribution model", header, tab, (INTERPRETATION,))

    def to_dict(self, alpha: float = 0.05) -> dict:
        return {
            "effects": self.irr(alpha).to_dict(orient="records"),
            "nobs": self.nobs,
            "family": self.model.family,
            "alpha_nb": self.alpha_nb,
            "loglike": self.loglike,
            "cov_type": self.cov_type,
            "converged": self.converged,
            "interpretation": INTERPRETATION,
        }
