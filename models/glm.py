"""Fast count GLMs (NB2 and Poisson, log link) by Newton's method on the Numba kernels.

Model
-----
.. math::

    y_i \\sim \\mathrm{NB2}(\\mu_i, \\alpha) \\text{ or } \\mathrm{Poisson}(\\mu_i), \\qquad
    \\log \\mu_i = x_i^\\top \\beta + o_i, \\qquad \\mathrm{Var}(y_i) = \\mu_i + \\alpha \\mu_i^2,

with offset :math:`o_i` (``offset`` plus ``log(exposure)``) and optional frequency weights
:math:`w_i` multiplying each log-likelihood term.  The NB dispersion is estimated jointly with
:math:`\\beta` on the scale :math:`\\lambda = \\log\\alpha` by full Newton steps using the exact
Hessian (:func:`models.likelihood.negbin_hessian_obs`), started from the Poisson fit and a
moment estimate of :math:`\\alpha`; steps are halved until the log-likelihood increases.

Covariances (``cov_type``, all from :mod:`models.covariance`): ``"nonrobust"`` (inverse
observed information), ``"HC0"`` (sandwich :math:`H^{-1} (\\sum_i s_i s_i^\\top) H^{-1}`), ``"HAC"``
(Newey-West with Bartlett weights over the row order, ``maxlags`` lags; rows must be in time order
within one series), ``"driscoll-kraay"`` (scores summed within each ``time`` period, then
Bartlett HAC over the periods: panels correlated across units and over time) and ``"cluster"``
(scores summed within each of ``groups``). Standard errors of :math:`\\alpha` use the delta method, :math:`\\mathrm{se}(\\alpha) =
\\alpha\\,\\mathrm{se}(\\lambda)`, and its interval is formed on the log scale.

Existence
    A log-linear count model has no finite maximum when the design separates zero counts
    (quasi-complete separation): a direction :math:`b \\ne 0` with :math:`x_i^\\top b = 0` for every
    :math:`y_i > 0` and :math:`x_i^\\top b \\le 0` for every :math:`y_i = 0`, strictly for some, along
    which the log-likelihood rises for ever (the fitted means of those zero rows shrink to 0).
    :func:`check_separation` detects it (a rank test, then a linear program: Santos Silva &
    Tenreyro 2010) and :meth:`CountGLM.fit` refuses such a design with :class:`SeparationError`
    naming the rows and columns involved, instead of reporting an arbitrary large coefficient.

The estimates equal statsmodels' ``NegativeBinomial`` (``loglike_method="nb2"``) and
``GLM(family=Poisson())`` maximum-likelihood estimates (tests check 1e-8).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.column_stack([np.ones(500), rng.normal(size=500)])
>>> y = rng.negative_binomial(2.0, 2.0 / (2.0 + np.exp(0.5 + 0.3 * X[:, 1])))
>>> res = CountGLM(y, X, family="negbin").fit()
>>> res.params.round(2).tolist(), round(res.alpha_, 2)
([0.44, 0.3], 0.51)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg, stats

from pakcast.models.covariance import COV_TYPES, robust_covariance
from pakcast.models.likelihood import negbin_hessian_obs, negbin_loglik_grad_obs
from pakcast.models.likelihood.negbin import _EMPTY, _as_counts, _negbin_llg_trusted
from pakcast.models.likelihood.poisson import _poisson_llg_trusted
from pakcast.models.summary import Summary

FAMILIES = ("negbin", "poisson")
#: trust region of one Newton step: the largest change of any linear predictor and of log(alpha)
MAX_ETA_STEP = 10.0
MAX_LOG_ALPHA_STEP = 5.0


class SeparationError(ValueError):
    """The design has no finite maximum-likelihood estimate (quasi-complete separation of zeros)."""

    def __init__(self, message: str, rows: np.ndarray, columns: list[str]):
        super().__init__(message)
        self.rows = rows
        self.columns = columns


@dataclass(frozen=True)
class SeparationCheck:
    """Result of :func:`check_separation`: ``separated`` rows (indices of zero counts whose fitted
    mean would go to 0), the recession ``direction`` :math:`b` and the ``columns`` it loads on."""

    separated: np.ndarray
    direction: np.ndarray
    columns: list[str]

    @property
    def exists(self) -> bool:
        """True when a finite maximum-likelihood estimate exists (no separated rows)."""
        return self.separated.size == 0


def check_separation(y, X, names: list[str] | None = None, tol: float = 1e-7) -> SeparationCheck:
    r"""Detect quasi-complete separation of the zero counts in a log-linear count model.

    Finds :math:`b` solving the linear program

    .. math::

        \min_b \sum_{i: y_i = 0} x_i^\top b \quad \text{s.t.} \quad
        x_i^\top b = 0 \ (y_i > 0), \qquad -1 \le x_i^\top b \le 0 \ (y_i = 0);

    a negative optimum means the maximum likelihood is not attained (Santos Silva, J. M. C. &
    Tenreyro, S. (2010), On the existence of the maximum likelihood estimates in Poisson
    regression, *Economics Letters* 107(2)); rows with :math:`x_i^\top b < 0` are the separated
    ones. When the rows with positive counts alone have full column rank, :math:`b = 0` is the
    only feasible point and no program is solved. The same condition governs NB2 (its
    log-likelihood has the same recession directions in :math:`\beta`).
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    k = X.shape[1]
    names = [f"x{j}" for j in range(k)] if names is None else list(names)
    pos = y > 0
    none = SeparationCheck(np.zeros(0, dtype=int), np.zeros(k), [])
    if pos.sum() >= k and np.linalg.matrix_rank(X[pos]) == k:
        return none
    from scipy.optimize import linprog

    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)  # column scaling for the solver
    Xs = X / scale
    Xz = Xs[~pos]
    res = linprog(c=Xz.sum(axis=0), A_ub=np.vstack([Xz, -Xz]),
                  b_ub=np.concatenate([np.zeros(len(Xz)), np.ones(len(Xz))]),
                  A_eq=Xs[pos] if pos.any() else None, b_eq=np.zeros(int(pos.sum())) if pos.any() else None,
                  bounds=[(None, None)] * k, method="highs")
    if res.status != 0 or res.fun > -tol:
        return none
    b = res.x
    sep = np.flatnonzero(~pos)[Xz @ b < -tol]
    if sep.size == 0:
        return none
    load = np.abs(b) > 1e-9 * max(np.abs(b).max(), 1e-300)
    return SeparationCheck(sep, b / scale, [names[j] for j in np.flatnonzero(load)])


class CountGLM:
    """Negative binomial (NB2) or Poisson regression with a log link.

    Parameters
    ----------
    y : array_like of non-negative integers, shape (n,)
    X : array_like or DataFrame, shape (n, p)
        Design matrix (include a constant column yourself); DataFrame columns name the params.
    offset : array_like, optional
        Added to the linear predictor.
    exposure : array_like, optional
        Positive; ``log(exposure)`` is added to the offset.
    family : {"negbin", "poisson"}
    weights : array_like, optional
        Non-negative frequency weights.
    """

    def __init__(self, y, X, offset=None, exposure=None, family: str = "negbin", weights=None):
        if family not in FAMILIES:
            raise ValueError(f"family={family!r}; expected one of {FAMILIES}")
        self.family = family
        self.y = _as_counts(np.asarray(y, dtype=float), "y")
        n = self.y.size
        if isinstance(X, pd.DataFrame):
            self.exog_names = [str(c) for c in X.columns]
            X = X.to_numpy(dtype=float)
        else:
            X = np.asarray(X, dtype=float)
            if X.ndim == 1:
                X = X[:, None]
            self.exog_names = [f"x{j}" for j in range(X.shape[1])]
        if X.shape[0] != n:
            raise ValueError(f"X has {X.shape[0]} rows; expected {n} (the length of y)")
        bad = np.argwhere(~np.isfinite(X))
        if bad.size:
            i, j = bad[0]
            raise ValueError(f"X[{i}, {j}] (column {self.exog_names[j]!r}) is not finite")
        XtX = X.T @ X
        d = np.sqrt(np.diag(XtX))
        if np.any(d == 0):
            raise ValueError(f"X column {self.exog_names[int(np.flatnonzero(d == 0)[0])]!r} is all zero")
        # rank on the column-scaled Gram matrix (the correlation-like matrix), so that covariates on
        # very different scales (population, percentages, dummies) are not mistaken for collinear
        ev = np.linalg.eigvalsh(XtX / np.outer(d, d)) if X.shape[1] else np.ones(1)
        if ev.min() <= 1e-12 * max(ev.max(), 1e-300):
            raise ValueError("X does not have full column rank (collinear or constant columns)")
        self._XtX = XtX
        self.X = np.ascontiguousarray(X)
        off = np.zeros(n) if offset is None else np.asarray(offset, dtype=float).ravel()
        if off.size != n or not np.all(np.isfinite(off)):
            raise ValueError(f"offset must be finite with length {n}")
        if exposure is not None:
            ex = np.asarray(exposure, dtype=float).ravel()
            if ex.size != n or np.any(~(ex > 0)):
                raise ValueError(f"exposure must be positive with length {n}")
            off = off + np.log(ex)
        self.offset = off
        self.weights: np.ndarray | None = None
        if weights is not None:
            w = np.asarray(weights, dtype=float).ravel()
            if w.size != n or np.any(~(w >= 0)) or not np.all(np.isfinite(w)):
                raise ValueError(f"weights must be finite, non-negative, with length {n}")
            self.weights = w

    # ------------------------------------------------------------------ likelihood pieces
    def loglike(self, params: np.ndarray, family: str | None = None) -> float:
        """Log-likelihood at ``params`` (``beta`` for Poisson, ``(beta, log_alpha)`` for NB)."""
        family = family or self.family
        beta = params[: self.X.shape[1]]
        eta = self.X @ beta + self.offset
        w = _EMPTY if self.weights is None else self.weights
        if family == "poisson":
            return _poisson_llg_trusted(self.y, eta, w)[0]
        return _negbin_llg_trusted(self.y, eta, np.array([params[-1]]), w)[0]

    def _llgh(self, params, family: str | None = None):
        """log-likelihood, gradient and Hessian in (beta[, log_alpha])."""
        family = family or self.family
        X, w = self.X, self.weights
        p = X.shape[1]
        eta = X @ params[:p] + self.offset
        if family == "poisson":
            ll, de = _poisson_llg_trusted(self.y, eta, _EMPTY if w is None else w)
            mu = np.exp(eta)
            hw = mu if w is None else mu * w
            return ll, X.T @ de, -(X.T * hw) @ X
        la = params[p]
        ll, de, dla = _negbin_llg_trusted(self.y, eta, np.array([la]), _EMPTY if w is None else w)
        h_ee, h_el, h_ll = negbin_hessian_obs(self.y, eta, la)
        if w is not None:
            h_ee, h_el, h_ll = h_ee * w, h_el * w, h_ll * w
        g = np.empty(p + 1)
        g[:p] = X.T @ de
        g[p] = dla
        H = np.empty((p + 1, p + 1))
        H[:p, :p] = (X.T * h_ee) @ X
        H[:p, p] = H[p, :p] = X.T @ h_el
        H[p, p] = h_ll.sum()
        return ll, g, H

    def score_obs(self, params: np.ndarray) -> np.ndarray:
        """Per-observation scores (weighted), shape (n, k)."""
        p = self.X.shape[1]
        eta = self.X @ params[:p] + self.offset
        if self.family == "poisson":
            s = self.X * (self.y - np.exp(eta))[:, None]
        else:
            _, de, dla = negbin_loglik_grad_obs(self.y, eta, params[p])
            s = np.column_stack([self.X * de[:, None], dla])
        return s if self.weights is None else s * self.weights[:, None]

    # ------------------------------------------------------------------ fitting
    def _start(self):
        z = np.log(self.y + 0.5) - self.offset
        return np.linalg.solve(self._XtX, self.X.T @ z)

    def _newton(self, params, maxiter, tol, family=None):
        """Damped Newton ascent: Newton steps where the Hessian is negative definite, Levenberg-Marquardt
        steps (the Hessian shifted by a multiple of the identity) where it is not, step-halving on top.

        A step may change the linear predictor by at most ``MAX_ETA_STEP`` and the log-dispersion by
        at most ``MAX_LOG_ALPHA_STEP`` (a trust region: far from the optimum a full Newton step can
        leave the range where the likelihood is representable); a candidate whose log-likelihood is
        not finite or is positive (impossible for a probability mass function: a sign of overflow)
        is rejected."""
        ll, g, H = self._llgh(params, family)
        p = self.X.shape[1]
        converged = False
        it = 0
        for it in range(1, maxiter + 1):
            step = _ascent_step(H, g)
            d_eta = float(np.max(np.abs(self.X @ step[:p]))) if p else 0.0
            t = min(1.0, MAX_ETA_STEP / d_eta) if d_eta > 0 else 1.0
            if step.size > p and abs(step[p]) > 0:
                t = min(t, MAX_LOG_ALPHA_STEP / abs(step[p]))
            while True:
                cand = params + t * step
                ll_c = self.loglike(cand, family)
                if np.isfinite(ll_c) and ll_c <= 0.0 and ll_c >= ll - 1e-12 * abs(ll):
                    break
                t *= 0.5
                if t < 1e-10:
                    cand, ll_c = params, ll
                    break
            params = cand
            ll_new, g, H = self._llgh(params, family)
            done = np.max(np.abs(t * step)) < tol or abs(ll_new - ll) < 1e-14 * max(1.0, abs(ll))
            ll = ll_new
            if done and np.max(np.abs(g)) < 1e-6 * max(1.0, math.sqrt(self.y.size)):
                converged = True
                break
        return params, ll, g, H, converged, it

    def fit(self, cov_type: str = "nonrobust", maxlags: int | None = None, maxiter: int = 100,
            tol: float = 1e-10, *, time=None, groups=None, start_params=None) -> CountGLMResults:
        """Maximum-likelihood fit.

        Parameters
        ----------
        cov_type : {"nonrobust", "HC0", "HAC", "driscoll-kraay", "cluster"}
            See :func:`models.covariance.robust_covariance`.
        maxlags : int, optional
            Bartlett truncation lag for ``"HAC"`` (rows) and ``"driscoll-kraay"`` (periods);
            default ``floor(4 (T/100)^(2/9))`` with ``T`` rows or periods.
        maxiter, tol : Newton iteration limit and step tolerance.
        time : array_like, optional
            Period of each row (``"driscoll-kraay"``).
        groups : array_like, optional
            Cluster of each row (``"cluster"``).
        start_params : array_like, optional
            Starting ``beta`` (length p) or ``(beta, log_alpha)`` (length p + 1, NB); default: the
            least-squares fit of ``log(y + 0.5)`` refined by the Poisson fit, and a moment
            estimate of :math:`\\alpha`.

        Raises
        ------
        SeparationError
            When the design has no finite maximum (see :func:`check_separation`).
        """
        if cov_type not in COV_TYPES:
            raise ValueError(f"cov_type={cov_type!r}; expected one of {COV_TYPES}")
        if cov_type == "driscoll-kraay" and time is None:
            raise ValueError("cov_type='driscoll-kraay' needs time (the period of each row)")
        if cov_type == "cluster" and groups is None:
            raise ValueError("cov_type='cluster' needs groups (the cluster of each row)")
        if not np.any(self.y > 0):
            raise ValueError("every count is zero: the log-rate has no finite maximum-likelihood estimate "
                             "(and the NB dispersion is not identified); nothing to fit")
        sep = check_separation(self.y, self.X, self.exog_names)
        if not sep.exists:
            raise SeparationError(
                f"no finite maximum-likelihood estimate: {sep.separated.size} zero-count row(s) (first at row "
                f"{int(sep.separated[0])}) can have their fitted mean driven to 0 along a direction of column(s) "
                f"{sep.columns} that leaves every positive count's fit unchanged (quasi-complete separation); "
                "drop those rows or the column(s) that isolate them", sep.separated, sep.columns)
        p = self.X.shape[1]
        start = None if start_params is None else np.asarray(start_params, dtype=float).ravel()
        if start is not None and start.size not in (p, p + 1):
            raise ValueError(f"start_params has {start.size} values; expected {p} or {p + 1}")
        beta = self._start() if start is None else start[:p].copy()
        if self.family == "poisson":
            params = beta
        elif start is not None and start.size == p + 1:
            params = start.copy()
        else:
            beta, *_ = self._newton(beta, maxiter, tol, family="poisson")
            mu = np.exp(self.X @ beta + self.offset)
            w = np.ones_like(mu) if self.weights is None else self.weights
            a0 = np.sum(w * ((self.y - mu) ** 2 - self.y)) / np.sum(w * mu**2)
            params = np.append(beta, math.log(max(a0, 0.05)))
        params, ll, g, H, converged, n_iter = self._newton(params, maxiter, tol)
        info = -H
        try:
            np.linalg.cholesky(info)
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            # The observed information is not positive definite: the maximum is on a boundary (e.g. the
            # NB dispersion shrinking to the Poisson limit, or a rate going to zero). Standard errors
            # are not available; the fit is flagged, never silently reported as converged.
            warnings.warn("CountGLM: the observed information is not positive definite at the estimate "
                          "(boundary or non-identified parameter); standard errors are NaN and the fit is "
                          "marked not converged", RuntimeWarning, stacklevel=2)
            converged = False
            cov = np.full_like(info, np.nan)
        if cov_type != "nonrobust":
            cov, maxlags = robust_covariance(self.score_obs(params), cov, cov_type, maxlags=maxlags, time=time,
                                             groups=groups)
        else:
            maxlags = None
        return CountGLMResults(self, params, cov, ll, converged, n_iter, cov_type, maxlags)


def _ascent_step(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve ``(-H + lam I) step = g`` with the smallest ``lam >= 0`` that makes the matrix positive definite."""
    A = -np.asarray(H, dtype=float)
    if not np.all(np.isfinite(A)):
        return g / max(1.0, np.abs(g).max())
    eye = np.eye(A.shape[0])
    lam = 0.0
    scale = max(float(np.abs(np.diag(A)).max()), 1e-8)
    for _ in range(80):
        try:
            L = np.linalg.cholesky(A + lam * eye)
        except np.linalg.LinAlgError:
            lam = max(4.0 * lam, 1e-10 * scale)
            continue
        return linalg.cho_solve((L, True), g)
    return g / max(1.0, np.abs(g).max())


class CountGLMResults:
    """Results of :meth:`CountGLM.fit`.

    Attributes
    ----------
    params : Series
        Regression coefficients :math:`\\beta` (log-rate scale), labelled by ``X``'s columns.
    bse : Series
        Their standard errors under ``cov_type``.
    alpha_ : float or None
        NB2 dispersion (None for Poisson); ``alpha_bse`` its delta-method standard error.
    llf, aic, bic, nobs, converged, n_iter, cov_type
    """

    def __init__(self, model: CountGLM, params_full, cov_full, llf, converged, n_iter, cov_type, maxlags):
        self.model = model
        self.family = model.family
        p = model.X.shape[1]
        self.params_full = np.asarray(params_full)
        self.cov_params_full = np.asarray(cov_full)
        self.params = pd.Series(self.params_full[:p], index=model.exog_names, name="coef")
        self.bse = pd.Series(np.sqrt(np.diag(self.cov_params_full)[:p]), index=model.exog_names, name="std err")
        self.log_alpha_: float | None
        self.alpha_: float | None
        self.log_alpha_bse: float | None
        self.alpha_bse: float | None
        if model.family == "negbin":
            self.log_alpha_ = float(self.params_full[p])
            self.alpha_ = math.exp(self.log_alpha_)
            var = float(self.cov_params_full[p, p])
            self.log_alpha_bse = math.sqrt(var) if var >= 0 else float("nan")
            self.alpha_bse = self.alpha_ * self.log_alpha_bse
        else:
            self.log_alpha_ = self.alpha_ = self.log_alpha_bse = self.alpha_bse = None
        self.llf = float(llf)
        self.converged = bool(converged)
        self.n_iter = int(n_iter)
        self.cov_type = cov_type
        self.maxlags = maxlags
        self.nobs = int(model.y.size if model.weights is None else model.weights.sum())
        self.k_params = self.params_full.size

    def cov_params(self) -> pd.DataFrame:
        """Covariance of the regression coefficients."""
        p = self.params.size
        return pd.DataFrame(self.cov_params_full[:p, :p], index=self.params.index, columns=self.params.index)

    @cached_property
    def aic(self) -> float:
        return -2.0 * self.llf + 2.0 * self.k_params

    @cached_property
    def bic(self) -> float:
        return -2.0 * self.llf + math.log(self.nobs) * self.k_params

    @cached_property
    def tvalues(self) -> pd.Series:
        return self.params / self.bse

    @cached_property
    def pvalues(self) -> pd.Series:
        return pd.Series(2 * stats.norm.sf(np.abs(self.tvalues)), index=self.params.index, name="P>|z|")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals for the coefficients (columns ``lower``, ``upper``)."""
        q = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"lower": self.params - q * self.bse, "upper": self.params + q * self.bse})

    def alpha_conf_int(self, alpha: float = 0.05) -> tuple[float, float] | None:
        """Interval for the NB dispersion, formed on the log scale (None for Poisson)."""
        if self.log_alpha_ is None or self.log_alpha_bse is None:  # Poisson: no dispersion
            return None
        q = stats.norm.ppf(1 - alpha / 2)
        return (math.exp(self.log_alpha_ - q * self.log_alpha_bse), math.exp(self.log_alpha_ + q * self.log_alpha_bse))

    def predict(self, X=None, offset=None, exposure=None) -> np.ndarray:
        """Mean :math:`\\mu = \\exp(X\\beta + o)`; defaults to the fitting data."""
        if X is None:
            X, off = self.model.X, self.model.offset
            if offset is not None or exposure is not None:
                raise ValueError("give offset/exposure together with X")
        else:
            X = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.atleast_2d(np.asarray(X, float))
            off = np.zeros(X.shape[0]) if offset is None else np.asarray(offset, float)
            if exposure is not None:
                off = off + np.log(np.asarray(exposure, float))
        return np.exp(X @ self.params.to_numpy() + off)

    def predict_frame(self, X=None, offset=None, exposure=None, alpha: float = 0.05) -> pd.DataFrame:
        """Mean with a Wald interval (delta method on the log scale): ``mean, mean_ci_low, mean_ci_high``."""
        Xm = self.model.X if X is None else (X.to_numpy(float) if isinstance(X, pd.DataFrame) else np.atleast_2d(np.asarray(X, float)))
        mu = self.predict(X, offset, exposure)
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xm, self.cov_params().to_numpy(), Xm))
        q = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"mean": mu, "mean_ci_low": mu * np.exp(-q * se), "mean_ci_high": mu * np.exp(q * se)})

    def summary(self, alpha: float = 0.05) -> Summary:
        ci = self.conf_int(alpha)
        tab = pd.DataFrame({"coef": self.params, "std err": self.bse, "z": self.tvalues, "P>|z|": self.pvalues,
                            f"[{alpha / 2:g}": ci["lower"], f"{1 - alpha / 2:g}]": ci["upper"]})
        alpha_ci = self.alpha_conf_int(alpha)
        if alpha_ci is not None:
            lo, hi = alpha_ci
            tab.loc["alpha"] = [self.alpha_, self.alpha_bse, np.nan, np.nan, lo, hi]
        header = (("Family", "NB2" if self.family == "negbin" else "Poisson"), ("Link", "log"),
                  ("No. observations", str(self.nobs)), ("Log-likelihood", f"{self.llf:.4f}"),
                  ("AIC", f"{self.aic:.3f}"), ("BIC", f"{self.bic:.3f}"),
                  ("Covariance", self.cov_type + (f" (maxlags={self.maxlags})" if self.maxlags is not None else "")),
                  ("Converged", f"{self.converged} ({self.n_iter} Newton steps)"))
        return Summary("Count GLM results", header, tab)

    def to_dict(self, alpha: float = 0.05) -> dict:
        """JSON-ready results: coefficients with se and interval, dispersion, fit statistics."""
        ci = self.conf_int(alpha)
        out = {
            "family": self.family,
            "nobs": self.nobs,
            "cov_type": self.cov_type,
            "params": {k: {"estimate": float(self.params[k]), "se": float(self.bse[k]),
                           "ci_low": float(ci.loc[k, "lower"]), "ci_high": float(ci.loc[k, "upper"]),
                           "pvalue": float(self.pvalues[k])} for k in self.params.index},
            "llf": self.llf, "aic": self.aic, "bic": self.bic,
            "converged": self.converged, "n_iter": self.n_iter, "ci_level": 1 - alpha,
        }
        alpha_ci = self.alpha_conf_int(alpha)
        if alpha_ci is not None:
            lo, hi = alpha_ci
            out["alpha"] = {"estimate": self.alpha_, "se": self.alpha_bse, "ci_low": lo, "ci_high": hi}
        return out
