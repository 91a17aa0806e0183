"""INGARCH(p, q) and log-linear count autoregressions with interventions (as in R ``tscount``).

Model
-----
For counts :math:`Y_t` with conditional mean :math:`\\lambda_t`, covariates :math:`X_t`
(e.g. interventions), lag sets :math:`P` (past observations) and :math:`Q` (past means):

.. math::

    g(\\lambda_t) = \\nu_t = \\beta_0 + \\sum_{k \\in P} \\beta_k\\, \\tilde y_{t-k}
                  + \\sum_{l \\in Q} \\alpha_l\\, \\nu_{t-l} + \\eta^\\top X_t,

with the identity link (:math:`g(\\lambda) = \\lambda`, :math:`\\tilde y = y`; the INGARCH model,
all parameters non-negative and :math:`\\sum\\beta + \\sum\\alpha < 1`) or the log link
(:math:`\\nu = \\log\\lambda`, :math:`\\tilde y = \\log(1 + y)`).  :math:`Y_t \\mid \\mathcal F_{t-1}`
is Poisson or NB2 with :math:`\\mathrm{Var} = \\lambda_t + \\sigma^2\\lambda_t^2`.
Covariate effects are "internal" (they enter the recursion and so feed forward through
:math:`\\alpha`), as tscount's default.  Intervention covariates follow Fokianos & Fried (2010):
:math:`X_t = \\delta^{t - \\tau} \\mathbb 1(t \\ge \\tau)` (:math:`\\delta = 0` a spike,
:math:`0 < \\delta < 1` a decaying effect, :math:`\\delta = 1` a level shift).

Estimation follows ``tscount::tsglm``: pre-sample values are set to the stationary mean
:math:`\\beta_0 / (1 - \\sum\\beta - \\sum\\alpha)` (``init.method = "marginal"``); the mean
parameters are the Poisson (quasi-)maximum-likelihood estimates (for ``distr="nbinom"`` too);
:math:`\\sigma^2` solves the Pearson equation
:math:`\\sum_t (y_t - \\hat\\lambda_t)^2 / (\\hat\\lambda_t (1 + \\sigma^2\\hat\\lambda_t)) = n - m`;
standard errors use the sandwich :math:`G^{-1} G_1 G^{-1}` with
:math:`G = \\sum_t \\lambda_t^{-1} \\partial\\lambda_t \\partial\\lambda_t^\\top` and
:math:`G_1 = \\sum_t (\\lambda_t^{-1} + \\sigma^2) \\partial\\lambda_t \\partial\\lambda_t^\\top`
(identity link; for the log link :math:`\\partial\\lambda = \\lambda\\,\\partial\\nu`).
``estimation="ml"`` instead maximises the full NB2 likelihood (the Numba kernel) jointly in
the mean parameters and :math:`\\log\\sigma^2`.

References
----------
Ferland, Latour & Oraichi (2006) J. Time Ser. Anal. 27:923-942; Fokianos & Fried (2010)
J. Time Ser. Anal. 31:210-225; Liboschik, Fokianos & Fried (2017) J. Stat. Softw. 82(5).

Examples
--------
>>> import numpy as np
>>> y = simulate_ingarch([1.0, 0.3], [0.4], n=400, random_seed=1)
>>> res = INGARCH(y, past_obs=[1], past_mean=[1], distr="poisson").fit()
>>> res.params.round(1).tolist()
[1.1, 0.3, 0.4]
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit
from scipy import optimize, stats

from pakcast.models.likelihood import negbin_loglik_grad
from pakcast.models.likelihood.negbin import _as_counts
from pakcast.models.summary import Summary

LINKS = ("identity", "log")
DISTRS = ("poisson", "nbinom")


def intervention_covariate(n: int, tau, delta) -> np.ndarray:
    """tscount's ``interv_covariate``: column j is ``delta_j^(t - tau_j) 1(t >= tau_j)``, t = 1..n."""
    tau = np.atleast_1d(np.asarray(tau, dtype=int))
    delta = np.atleast_1d(np.asarray(delta, dtype=float))
    if tau.size != delta.size:
        raise ValueError("tau and delta must have the same length")
    t = np.arange(1, n + 1)[:, None]
    with np.errstate(invalid="ignore"):
        X = np.where(t >= tau, np.power(delta, np.maximum(t - tau, 0)), 0.0)
    return X


@njit(cache=True, error_model="numpy")
def _recursion(par, z_obs, X, P, Q, init_nu):
    """nu_t and d nu_t / d par (n x k), pre-sample values = init_nu (and its derivative)."""
    n = z_obs.size
    p = P.size
    q = Q.size
    r = X.shape[1]
    k = 1 + p + q + r
    pmax = 0
    for j in range(p):
        pmax = max(pmax, P[j])
    qmax = 0
    for j in range(q):
        qmax = max(qmax, Q[j])
    b0 = par[0]
    denom = 1.0
    for j in range(p + q):
        denom -= par[1 + j]
    nu = np.empty(n + qmax)
    dnu = np.zeros((n + qmax, k))
    z = np.empty(n + pmax)
    dz = np.zeros((n + pmax, k))
    # marginal initialisation and its derivative (exact, pre-sample y included)
    for i in range(qmax):
        nu[i] = init_nu
        dnu[i, 0] = 1.0 / denom
        for j in range(p + q):
            dnu[i, 1 + j] = b0 / (denom * denom)
    for i in range(pmax):
        z[i] = init_nu
        dz[i, 0] = 1.0 / denom
        for j in range(p + q):
            dz[i, 1 + j] = b0 / (denom * denom)
    for i in range(n):
        z[pmax + i] = z_obs[i]
    for t in range(n):
        it = qmax + t
        v = b0
        dnu[it, 0] = 1.0
        for j in range(p):
            zz = z[pmax + t - P[j]]
            v += par[1 + j] * zz
            dnu[it, 1 + j] += zz
            for c in range(k):
                dnu[it, c] += par[1 + j] * dz[pmax + t - P[j], c]
        for j in range(q):
            nn = nu[it - Q[j]]
            v += par[1 + p + j] * nn
            dnu[it, 1 + p + j] += nn
            for c in range(k):
                dnu[it, c] += par[1 + p + j] * dnu[it - Q[j], c]
        for j in range(r):
            v += par[1 + p + q + j] * X[t, j]
            dnu[it, 1 + p + q + j] += X[t, j]
        nu[it] = v
    return nu[qmax:], dnu[qmax:]


class INGARCH:
    """Count time-series GLM (INGARCH / log-linear autoregression) with covariates.

    Parameters
    ----------
    y : array_like or Series of counts (a DatetimeIndex lets interventions be given as dates)
    past_obs, past_mean : lists of lags (e.g. ``[1]`` and ``[13]``)
    xreg : array_like (n, r) or DataFrame, optional; non-negative for the identity link
    interventions : list of ``(tau, delta)``; ``tau`` a 1-based time index or a date in ``y.index``
    link : {"identity", "log"}
    distr : {"poisson", "nbinom"}
    """

    def __init__(self, y, past_obs=(1,), past_mean=(), xreg=None, interventions=None,
                 link: str = "identity", distr: str = "nbinom"):
        if link not in LINKS:
            raise ValueError(f"link={link!r}; expected one of {LINKS}")
        if distr not in DISTRS:
            raise ValueError(f"distr={distr!r}; expected one of {DISTRS}")
        self.index = y.index if isinstance(y, pd.Series) else None
        self.y = _as_counts(np.asarray(y, dtype=float), "y")
        n = self.y.size
        self.P = np.array(sorted(past_obs), dtype=np.int64)
        self.Q = np.array(sorted(past_mean), dtype=np.int64)
        if np.any(self.P < 1) or np.any(self.Q < 1):
            raise ValueError("lags must be positive integers")
        cols, names = [], []
        if xreg is not None:
            if isinstance(xreg, pd.DataFrame):
                names += [str(c) for c in xreg.columns]
                xreg = xreg.to_numpy(float)
            xreg = np.asarray(xreg, float).reshape(n, -1)
            names += [f"xreg_{j + 1}" for j in range(xreg.shape[1] - len(names))]
            cols.append(xreg)
        for j, (tau, delta) in enumerate(interventions or []):
            if not isinstance(tau, (int, np.integer)):
                if self.index is None:
                    raise ValueError("interventions given as dates need y as a Series with a DatetimeIndex")
                pos = self.index.get_indexer([pd.Timestamp(tau)])[0]
                if pos < 0:
                    raise ValueError(f"intervention date {tau} is not in y's index")
                tau = pos + 1
            cols.append(intervention_covariate(n, [tau], [delta]))
            names.append(f"interv_{j + 1}")
        self.X = np.ascontiguousarray(np.hstack(cols)) if cols else np.zeros((n, 0))
        if link == "identity" and np.any(self.X < 0):
            raise ValueError("covariates must be non-negative with the identity link")
        self.link, self.distr = link, distr
        self.param_names = (["intercept"] + [f"beta_{k}" for k in self.P] + [f"alpha_{k}" for k in self.Q] + names)
        self.z_obs = self.y if link == "identity" else np.log1p(self.y)

    @property
    def k(self) -> int:
        return len(self.param_names)

    def _nu(self, par):
        p, q = self.P.size, self.Q.size
        denom = 1.0 - par[1:1 + p + q].sum()
        init = par[0] / denom
        return _recursion(np.asarray(par, float), self.z_obs, self.X, self.P, self.Q, init)

    def _lam(self, par):
        nu, dnu = self._nu(par)
        if self.link == "identity":
            return nu, dnu
        lam = np.exp(nu)
        return lam, dnu * lam[:, None]

    def _neg_qll(self, par):
        """Negative Poisson log-likelihood (up to a constant) and gradient."""
        p, q = self.P.size, self.Q.size
        if par[1:1 + p + q].sum() >= 1.0 - 1e-9:  # stationarity (and a defined marginal start)
            return 1e300, np.zeros_like(par)
        with np.errstate(over="ignore", invalid="ignore"):
            lam, dlam = self._lam(par)
        if np.any(~(lam > 0)) or not np.all(np.isfinite(lam)) or not np.all(np.isfinite(dlam)):
            return 1e300, np.zeros_like(par)
        ll = np.sum(self.y * np.log(lam) - lam)
        g = (self.y / lam - 1.0) @ dlam
        return -ll, -g

    def _start(self):
        p, q = self.P.size, self.Q.size
        ybar = self.y.mean()
        x0 = np.zeros(self.k)
        if self.link == "identity":
            x0[1:1 + p] = 0.2 / max(p, 1) if p else 0
            x0[1 + p:1 + p + q] = 0.2 / max(q, 1) if q else 0
            x0[0] = ybar * (1 - x0[1:1 + p + q].sum())
            x0[1 + p + q:] = 0.1 * ybar
        else:
            x0[0] = math.log(ybar + 0.5) * 0.6
            x0[1:1 + p + q] = 0.2 / max(p + q, 1)
        return x0

    def fit(self, estimation: str = "qmle", level: float = 0.95) -> INGARCHResults:
        """Fit by Poisson quasi-ML (+ Pearson dispersion, tscount's method) or full ``"ml"``;
        ``level`` is the confidence level of the intervals in ``summary()`` and ``to_dict()``."""
        if estimation not in ("qmle", "ml"):
            raise ValueError("estimation must be 'qmle' or 'ml'")
        p, q = self.P.size, self.Q.size
        first: tuple[float | None, float | None]
        ar: tuple[float | None, float | None]
        coef: tuple[float | None, float | None]
        if self.link == "identity":
            first, ar, coef = (1e-6, None), (0.0, 1.0), (0.0, None)
        else:
            first, ar, coef = (None, None), (-1.0, 1.0), (None, None)
        bounds = [first] + [ar] * (p + q) + [coef] * self.X.shape[1]
        x0 = self._start()
        r = self._minimize(self._neg_qll, x0, bounds, p + q)
        par = r.x
        lam, dlam = self._lam(par)
        n, m = self.y.size, self.k
        sigmasq = 0.0
        if self.distr == "nbinom":
            f = lambda v: np.sum((self.y - lam) ** 2 / (lam * (1 + lam / v))) - n + m  # noqa: E731
            try:
                size = optimize.brentq(f, 1e-10, 1e100, xtol=1e-14, rtol=1e-14, maxiter=1000)
                sigmasq = 1.0 / size
            except ValueError:
                sigmasq = 0.0  # no overdispersion detectable (tscount falls back to Poisson)
        converged = bool(r.success)
        llf_ml = None
        if estimation == "ml" and self.distr == "nbinom":
            par, sigmasq, converged, llf_ml = self._fit_ml(par, max(sigmasq, 1e-4), bounds)
            lam, dlam = self._lam(par)
        G = (dlam / lam[:, None]).T @ dlam
        G1 = ((1.0 / lam + sigmasq)[:, None] * dlam).T @ dlam
        try:
            Ginv = np.linalg.inv(G)
            cov = Ginv @ G1 @ Ginv
        except np.linalg.LinAlgError:
            cov = np.full((m, m), np.nan)
        return INGARCHResults(self, par, cov, lam, sigmasq, converged, estimation, 1.0 - level)

    def _minimize(self, fun, x0, bounds, npq):
        """SLSQP with the stationarity constraint (identity link), then an L-BFGS-B polish."""
        cons = []
        if npq:
            a = np.zeros(x0.size)
            a[1:1 + npq] = -1.0
            cons = [{"type": "ineq", "fun": lambda x: 1.0 - 1e-6 + a @ x, "jac": lambda x: a}]
        r = optimize.minimize(fun, x0, jac=True, method="SLSQP", bounds=bounds, constraints=cons,
                              options={"maxiter": 2000, "ftol": 1e-14})
        r2 = optimize.minimize(fun, r.x, jac=True, method="L-BFGS-B", bounds=bounds,
                               options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
        return r2 if r2.fun <= r.fun else r

    def _fit_ml(self, par0, s0, bounds):
        def negll(th):
            par, ls = th[:-1], th[-1]
            p, q = self.P.size, self.Q.size
            if par[1:1 + p + q].sum() >= 1.0 - 1e-9:
                return 1e300, np.zeros_like(th)
            lam, dlam = self._lam(par)
            if np.any(~(lam > 0)):
                return 1e300, np.zeros_like(th)
            ll, de, dla = negbin_loglik_grad(self.y, np.log(lam), ls)
            g = np.append((de / lam) @ dlam, dla)
            return -ll, -g

        r = self._minimize(negll, np.append(par0, math.log(s0)), list(bounds) + [(-20.0, 5.0)],
                           self.P.size + self.Q.size)
        return r.x[:-1], math.exp(r.x[-1]), bool(r.success), -r.fun


class INGARCHResults:
    """Fitted INGARCH: ``params``, ``bse`` (sandwich), ``conf_int()``, ``sigmasq``, ``fitted``,
    ``llf`` (under the fitted distribution), ``forecast(h, ...)``."""

    def __init__(self, model: INGARCH, par, cov, lam, sigmasq, converged, estimation, level_alpha):
        self.model = model
        self.params = pd.Series(par, index=model.param_names)
        self.cov = pd.DataFrame(cov, index=model.param_names, columns=model.param_names)
        self.bse = pd.Series(np.sqrt(np.diag(cov)), index=model.param_names)
        self.fitted = lam if model.index is None else pd.Series(lam, index=model.index)
        self.sigmasq = float(sigmasq)
        self.converged = converged
        self.estimation = estimation
        self.level_alpha = level_alpha
        y = model.y
        if model.distr == "nbinom" and sigmasq > 0:
            self.llf = float(negbin_loglik_grad(y, np.log(lam), math.log(sigmasq))[0])
        else:
            self.llf = float(stats.poisson.logpmf(y, lam).sum())
        k = model.k + (model.distr == "nbinom")
        self.aic = -2 * self.llf + 2 * k
        self.bic = -2 * self.llf + math.log(y.size) * k
        self.nobs = int(y.size)

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald intervals at level ``1 - alpha`` (columns ``lower``, ``upper``)."""
        z = stats.norm.ppf(1 - alpha / 2)
        return pd.DataFrame({"lower": self.params - z * self.bse, "upper": self.params + z * self.bse})

    def summary(self) -> Summary:
        ci = self.conf_int(self.level_alpha)
        tab = pd.DataFrame({"estimate": self.params, "se": self.bse, "ci_low": ci["lower"], "ci_high": ci["upper"]})
        if self.model.distr == "nbinom":
            tab.loc["sigmasq"] = [self.sigmasq, np.nan, np.nan, np.nan]
        header = (("Link", self.model.link), ("Distribution", self.model.distr), ("Estimation", self.estimation),
                  ("No. observations", str(self.nobs)), ("Log-likelihood", f"{self.llf:.4f}"),
                  ("AIC", f"{self.aic:.3f}"), ("Interval level", f"{1 - self.level_alpha:g}"),
                  ("Converged", str(self.converged)))
        return Summary("INGARCH results", header, tab)

    def to_dict(self) -> dict:
        ci = self.conf_int(self.level_alpha)
        return {
            "link": self.model.link, "distr": self.model.distr, "estimation": self.estimation,
            "params": {k: {"estimate": float(self.params[k]), "se": float(self.bse[k]),
                           "ci_low": float(ci.loc[k, "lower"]), "ci_high": float(ci.loc[k, "upper"])}
                       for k in self.params.index},
            "sigmasq": self.sigmasq, "llf": self.llf, "aic": self.aic, "bic": self.bic, "nobs": self.nobs,
            "converged": self.converged, "ci_level": 1 - self.level_alpha,
            "note": "sigmasq has no analytic standard error (tscount reports none; use forecast samples)",
        }

    def forecast(self, h: int, n_samples: int = 1000, random_seed: int = 0, xreg_future=None) -> np.ndarray:
        """Sample paths (n_samples, h) of future counts, simulating the recursion forward.

        ``xreg_future`` (h, r) gives future covariates; by default interventions continue their
        pattern (level shifts stay, spikes vanish) and other covariates are held at their last value.
        """
        m = self.model
        n = m.y.size
        par = self.params.to_numpy()
        p, q = m.P.size, m.Q.size
        r = m.X.shape[1]
        if xreg_future is None:
            Xf = np.zeros((h, r))
            for j, name in enumerate(m.param_names[1 + p + q:]):
                if name.startswith("interv_"):
                    col = m.X[:, j]
                    last, prev = col[-1], col[-2] if n > 1 else 0.0
                    dlt = last / prev if prev > 0 else (1.0 if last > 0 and prev == last else 0.0)
                    Xf[:, j] = last * dlt ** np.arange(1, h + 1) if last > 0 else 0.0
                else:
                    Xf[:, j] = m.X[-1, j]
        else:
            Xf = np.asarray(xreg_future, float).reshape(h, r)
        nu_hist, _ = m._nu(par)
        rng = np.random.default_rng(random_seed)
        out = np.zeros((n_samples, h), dtype=np.int64)
        z_hist = m.z_obs
        for s in range(n_samples):
            z = list(z_hist)
            nu = list(nu_hist)
            for t in range(h):
                v = par[0]
                for j, lag in enumerate(m.P):
                    v += par[1 + j] * z[-lag]
                for j, lag in enumerate(m.Q):
                    v += par[1 + p + j] * nu[-lag]
                v += Xf[t] @ par[1 + p + q:]
                lam = v if m.link == "identity" else math.exp(v)
                lam = max(lam, 1e-12)
                if m.distr == "nbinom" and self.sigmasq > 0:
                    size = 1.0 / self.sigmasq
                    yv = rng.negative_binomial(size, size / (size + lam))
                else:
                    yv = rng.poisson(lam)
                out[s, t] = yv
                z.append(yv if m.link == "identity" else math.log1p(yv))
                nu.append(v)
        return out


def simulate_ingarch(intercept_and_beta, alpha, n: int, sigmasq: float = 0.0, random_seed: int = 0, burn: int = 200):
    """Simulate an identity-link INGARCH(1, 1)-type series with lags 1: ``[b0, b1]``, ``[a1]``."""
    b0, b1 = intercept_and_beta
    a1 = alpha[0] if len(alpha) else 0.0
    rng = np.random.default_rng(random_seed)
    lam = b0 / (1 - b1 - a1)
    y_prev = lam
    out = np.empty(n + burn)
    for t in range(n + burn):
        lam = b0 + b1 * y_prev + a1 * lam
        if sigmasq > 0:
            size = 1 / sigmasq
            y = rng.negative_binomial(size, size / (size + lam))
        else:
            y = rng.poisson(lam)
        out[t] = y
        y_prev = y
    return out[burn:].astype(np.int64)
