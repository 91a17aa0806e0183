"""Self-exciting (Hawkes) point processes with exponential kernels.

Model
-----
Univariate, on an observation window :math:`(t_0, T]` (times in days):

.. math::

    \\lambda(t) = \\mu + \\sum_{t_j < t} \\alpha\\, e^{-\\beta (t - t_j)}, \\qquad
    \\ell = \\sum_i \\log\\lambda(t_i) - \\mu (T - t_0)
            - \\frac{\\alpha}{\\beta} \\sum_i \\bigl(1 - e^{-\\beta (T - t_i)}\\bigr).

Each attack raises the rate by :math:`\\alpha` per day, decaying at rate :math:`\\beta` per day
(half-life :math:`\\log 2/\\beta` days).  The branching ratio :math:`n = \\alpha/\\beta` is the
expected number of attacks directly triggered by one attack, and so the long-run share of
attacks triggered by earlier attacks; the process is stationary for :math:`n < 1`.

The log-likelihood and its gradient are computed in :math:`O(N)` with the recursions
:math:`A_i = e^{-\\beta\\Delta_i}(1 + A_{i-1})`, :math:`B_i = \\partial A_i/\\partial\\beta
= e^{-\\beta\\Delta_i}(B_{i-1} - \\Delta_i (1 + A_{i-1}))`; the compensator and its derivative
come from the final state, and :math:`\\sum\\log\\lambda_i` is accumulated as a renormalised
product (one ``log`` per ~100 events).

Multivariate (one dimension per province, common decay :math:`\\beta`):
:math:`\\lambda_m(t) = \\mu_m + \\sum_n \\sum_{t^n_j < t} \\alpha_{mn} e^{-\\beta(t - t^n_j)}`,
branching matrix :math:`\\alpha/\\beta`, branching ratio its spectral radius.

Ties.  Event dates have day precision, so several attacks can share one date; a Hawkes
process has no simultaneous events.  :func:`jitter_day_times` places each event uniformly at
random inside its day (``day + U(0, 1)``, seeded by ``random_seed``); the fit records the seed.
Other precisions (week, month, year) must be excluded by the caller (and reported).

Fitting: maximum likelihood with scipy's L-BFGS-B on log parameters (bounded), several
starting decays; standard errors from the observed information (central differences of the
analytic gradient); Wald intervals on the log scale (so they stay positive), delta method for
the branching ratio.  When the branching ratio's MLE is at its boundary 0 (events with no
clustering) the fit reports a homogeneous Poisson process: mu's MLE, alpha = 0, beta not
identified, and a one-sided profile-likelihood upper bound of the branching ratio (the Wald
interval of log alpha does not exist there); its forecasts draw mu from its Poisson posterior.
A fit whose observed information is not positive definite reports no Wald intervals and
forecasts from the point estimates.  Simulation: Ogata's thinning, conditioned on the observed history, for
count forecasts with parameter uncertainty (parameters drawn from their asymptotic normal,
clipped to the fit's log-parameter box).

References
----------
Hawkes (1971) Biometrika 58:83-90; Ozaki (1979) Ann. Inst. Statist. Math. 31:145-155;
Ogata (1981) IEEE Trans. Inf. Theory 27:23-31.

Examples
--------
>>> import numpy as np
>>> t = simulate_exp_hawkes(0.5, 0.8, 1.6, 2000.0, random_seed=1)
>>> res = HawkesExp(t, T=2000.0).fit()
>>> round(res.branching_ratio["estimate"], 1)
0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit
from scipy import optimize, stats

from pakcast.models.summary import Summary

_BIG = 1e200
_SMALL = 1e-200


# --------------------------------------------------------------------------------------------
# univariate kernels


@njit(cache=True, error_model="numpy")
def _uni_llg(t, t0, T, mu, alpha, beta):
    n = t.size
    A = 0.0
    B = 0.0
    prod = 1.0
    logsum = 0.0
    g_mu = 0.0
    g_a = 0.0
    g_b = 0.0
    prev = t0
    for i in range(n):
        ti = t[i]
        if i > 0:
            d = ti - prev
            e = math.exp(-beta * d)
            B = e * (B - d * (1.0 + A))
            A = e * (1.0 + A)
        lam = mu + alpha * A
        inv = 1.0 / lam
        g_mu += inv
        g_a += A * inv
        g_b += B * inv
        prod *= lam
        if prod > _BIG or prod < _SMALL:
            logsum += math.log(prod)
            prod = 1.0
        prev = ti
    logsum += math.log(prod)
    S = 0.0
    SB = 0.0
    if n > 0:
        dT = T - t[n - 1]
        eT = math.exp(-beta * dT)
        S = eT * (1.0 + A)
        SB = dT * S - eT * B
    comp = mu * (T - t0) + alpha / beta * (n - S)
    g_mu -= T - t0
    g_a -= (n - S) / beta
    g_b = alpha * g_b + alpha / (beta * beta) * (n - S) - alpha / beta * SB
    return logsum - comp, g_mu, g_a, g_b


def _check_times(times, t0, T) -> np.ndarray:
    t = np.ascontiguousarray(times, dtype=np.float64).ravel()
    if t.size and not np.all(np.isfinite(t)):
        raise ValueError(f"times[{int(np.flatnonzero(~np.isfinite(t))[0])}] is not finite")
    if t.size > 1 and np.any(np.diff(t) < 0):
        i = int(np.flatnonzero(np.diff(t) < 0)[0]) + 1
        raise ValueError(f"times must be sorted: times[{i}] = {t[i]} < times[{i - 1}] = {t[i - 1]}")
    if t.size and (t[0] < t0 or t[-1] > T):
        raise ValueError(f"times must lie in [t0, T] = [{t0}, {T}]; got [{t[0]}, {t[-1]}]")
    return t


def exp_loglik(times, T, mu, alpha, beta, t0: float = 0.0) -> float:
    """Univariate exponential-kernel Hawkes log-likelihood, :math:`O(N)`.

    Parameters
    ----------
    times : array_like, sorted event times in ``[t0, T]`` (days)
    T : float, end of the observation window
    mu, alpha, beta : float, baseline rate, jump size (per day) and decay rate (per day)
    t0 : float, start of the window (default 0)
    """
    return float(_uni_llg(_check_times(times, t0, T), float(t0), float(T), float(mu), float(alpha), float(beta))[0])


def exp_loglik_grad(times, T, mu, alpha, beta, t0: float = 0.0) -> tuple[float, np.ndarray]:
    """Log-likelihood and its gradient with respect to ``(mu, alpha, beta)``, :math:`O(N)`."""
    ll, gm, ga, gb = _uni_llg(_check_times(times, t0, T), float(t0), float(T), float(mu), float(alpha), float(beta))
    return float(ll), np.array([gm, ga, gb])


def jitter_day_times(days, random_seed: int | None = 0) -> np.ndarray:
    """Sorted event times from integer day indices, each placed uniformly within its day.

    ``days`` are day numbers (e.g. days since the window start); the result is
    ``sort(days + U(0, 1))``, reproducible given ``random_seed``.
    """
    d = np.asarray(days, dtype=float).ravel()
    if d.size and np.any(d != np.floor(d)):
        raise ValueError("day indices must be integers (use the times directly when they are not day-precision)")
    rng = np.random.default_rng(random_seed)
    return np.sort(d + rng.uniform(0.0, 1.0, d.size))


# --------------------------------------------------------------------------------------------
# simulation (Ogata thinning), univariate


@njit(cache=True, error_model="numpy")
def _sim_uni(mu, alpha, beta, A0, t_start, t_end, seed, max_events):
    np.random.seed(seed)
    out = np.empty(max_events)
    k = 0
    t = t_start
    A = A0  # sum_j exp(-beta (t - t_j)) over past events, at time t
    while k < max_events:
        lam_bar = mu + alpha * A
        w = np.random.exponential(1.0 / lam_bar)
        t += w
        if t > t_end:
            break
        A *= math.exp(-beta * w)
        if np.random.random() * lam_bar <= mu + alpha * A:
            out[k] = t
            k += 1
            A += 1.0
    return out[:k], k == max_events


def simulate_exp_hawkes(mu, alpha, beta, T, t0: float = 0.0, random_seed: int = 0, max_events: int = 10_000_000):
    """Simulate a univariate exponential Hawkes process on ``(t0, T]`` by Ogata thinning."""
    if not (mu > 0 and alpha >= 0 and beta > 0):
        raise ValueError("need mu > 0, alpha >= 0, beta > 0")
    t, hit = _sim_uni(float(mu), float(alpha), float(beta), 0.0, float(t0), float(T), int(random_seed), int(max_events))
    if hit:
        raise RuntimeError(f"simulation reached max_events={max_events} (explosive parameters? alpha/beta >= 1)")
    return t


@njit(cache=True, error_model="numpy")
def _decayed_state(t, T, beta):
    A = 0.0
    for i in range(t.size):
        A += math.exp(-beta * (T - t[i]))
    return A


@njit(cache=True, error_model="numpy")
def _forecast_uni(mus, alphas, betas, t, T, edges, seed, max_events):
    ns = mus.size
    nb = edges.size - 1
    out = np.zeros((ns, nb), dtype=np.int64)
    for s in range(ns):
        A0 = _decayed_state(t, T, betas[s])
        ev, _ = _sim_uni(mus[s], alphas[s], betas[s], A0, T, edges[nb], seed + s, max_events)
        j = 0
        for e in ev:
            while j < nb and e > edges[j + 1]:
                j += 1
            if j < nb and e > edges[j]:
                out[s, j] += 1
    return out


# --------------------------------------------------------------------------------------------
# estimation


@dataclass(frozen=True)
class Estimate:
    estimate: float
    se: float
    ci_low: float
    ci_high: float

    def to_dict(self) -> dict:
        return {"estimate": self.estimate, "se": self.se, "ci_low": self.ci_low, "ci_high": self.ci_high}


def _num_hessian(grad, x, h=1e-5):
    k = x.size
    H = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = h
        H[:, j] = (grad(x + e) - grad(x - e)) / (2 * h)
    return 0.5 * (H + H.T)


_LOG_BOUNDS = (-25.0, 10.0)  # log-parameter box of the fit (and of parameter draws)
_N_BOUNDARY = 1e-6  # a branching ratio below this is at its boundary 0


def _exp(x: float) -> float:
    """``exp`` that returns ``inf`` instead of raising on overflow."""
    return math.exp(x) if x < 709.0 else math.inf


def _log_wald(log_est, log_se, z) -> Estimate:
    est = _exp(log_est)
    if not math.isfinite(log_se):
        return Estimate(est, math.nan, math.nan, math.nan)
    return Estimate(est, est * log_se, _exp(log_est - z * log_se), _exp(log_est + z * log_se))


def _usable_covariance(H) -> np.ndarray | None:
    """The inverse of the observed information ``H`` when it is finite and positive definite, else None."""
    if not np.all(np.isfinite(H)):
        return None
    w = np.linalg.eigvalsh(H)
    if w[0] <= 1e-12 * max(abs(w[-1]), 1.0):
        return None
    cov = np.linalg.inv(H)
    return cov if np.all(np.isfinite(cov)) else None


class HawkesExp:
    """Univariate exponential-kernel Hawkes process (see module docstring for the model).

    Parameters
    ----------
    times : array_like, sorted event times (days) in ``[t0, T]``; no ties (see
        :func:`jitter_day_times`)
    T : float, end of the window; default the last event time
    t0 : float, start of the window (default 0)
    """

    def __init__(self, times, T: float | None = None, t0: float = 0.0):
        t = np.ascontiguousarray(times, dtype=float).ravel()
        self.T = float(t[-1] if T is None else T)
        self.t0 = float(t0)
        self.times = _check_times(t, self.t0, self.T)
        if self.times.size < 5:
            raise ValueError(f"need at least 5 events to fit a Hawkes process; got {self.times.size}")

    def loglike(self, mu, alpha, beta) -> float:
        return float(_uni_llg(self.times, self.t0, self.T, mu, alpha, beta)[0])

    def _negll_log(self, th):
        mu, a, b = np.exp(th)
        ll, gm, ga, gb = _uni_llg(self.times, self.t0, self.T, mu, a, b)
        if not np.isfinite(ll):
            return 1e300, np.zeros(3)
        return -ll, -np.array([gm * mu, ga * a, gb * b])

    def poisson_loglike(self) -> float:
        """Log-likelihood of the homogeneous Poisson process (``alpha = 0``) at its MLE ``N/(T - t0)``."""
        n, span = self.times.size, self.T - self.t0
        return float(n * math.log(n / span) - n)

    def _negll_profile(self, th, log_n):
        """Negative log-likelihood in (log mu, log beta) at a fixed branching ratio ``exp(log_n)``."""
        mu, b = np.exp(th)
        nr = math.exp(log_n)
        ll, gm, ga, gb = _uni_llg(self.times, self.t0, self.T, mu, nr * b, b)
        if not np.isfinite(ll):
            return 1e300, np.zeros(2)
        return -ll, -np.array([gm * mu, (ga * nr + gb) * b])

    def profile_loglike(self, branching_ratio: float, betas_start=(0.05, 0.5, 5.0)) -> float:
        """Profile log-likelihood of the branching ratio ``alpha/beta``: maximised over mu and over
        decays ``beta >= 1/(T - t0)`` (mean offspring lag at most the window: slower kernels put the
        offspring outside the window, where the data say nothing about them)."""
        n, span = self.times.size, self.T - self.t0
        log_n = math.log(branching_ratio)
        best = math.inf
        bounds = [_LOG_BOUNDS, (max(_LOG_BOUNDS[0], -math.log(span)), _LOG_BOUNDS[1])]
        for b0 in betas_start:
            x0 = np.log([(1 - branching_ratio) * n / span, max(b0, 1.0 / span)])
            r = optimize.minimize(self._negll_profile, x0, args=(log_n,), jac=True, method="L-BFGS-B",
                                  bounds=bounds, options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-8})
            best = min(best, float(r.fun))
        return -best

    def branching_upper_bound(self, level: float = 0.95, llf: float | None = None) -> float:
        """One-sided profile-likelihood upper bound of the branching ratio when its MLE is at 0.

        At the boundary the likelihood-ratio statistic is a 50:50 mixture of 0 and
        :math:`\\chi^2_1` (Self and Liang 1987), so the bound solves
        :math:`2(\\ell_0 - \\ell_p(n)) = \\chi^2_{1, 1 - 2(1 - \\text{level})}`.  Capped at 0.999
        (the stationary region) when the profile stays above the cut there.
        """
        ll0 = self.poisson_loglike() if llf is None else llf
        cut = 0.5 * stats.chi2.ppf(1 - 2 * (1 - level), 1)
        f = lambda log_n: ll0 - self.profile_loglike(math.exp(log_n)) - cut  # noqa: E731
        lo, hi = math.log(_N_BOUNDARY), math.log(0.999)
        if f(hi) <= 0:
            return 0.999
        if f(lo) >= 0:
            return _N_BOUNDARY
        return math.exp(optimize.brentq(f, lo, hi, xtol=1e-4))

    def fit(self, level: float = 0.95, betas_start=(0.05, 0.5, 5.0)) -> HawkesResults:
        """Maximum-likelihood fit; ``level`` is the confidence level of the reported intervals (the
        model's own ``alpha`` is the excitation jump).

        When the branching ratio's MLE is at its boundary 0 (below ``1e-6``, or no likelihood gain
        over a homogeneous Poisson process) the data are consistent with a homogeneous Poisson
        process: beta is then not identified, the result reports ``boundary=True``, mu's Poisson
        MLE, alpha = 0 and a one-sided profile-likelihood upper bound of the branching ratio
        (:meth:`branching_upper_bound`) instead of Wald intervals.  A fit whose observed
        information is not positive definite reports no Wald intervals (``covariance_ok=False``).
        """
        n, span = self.times.size, self.T - self.t0
        best = None
        bounds = [_LOG_BOUNDS] * 3
        for b0 in betas_start:
            x0 = np.log([0.5 * n / span, 0.5 * b0, b0])
            r = optimize.minimize(self._negll_log, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-9})
            if best is None or r.fun < best.fun:
                best = r
        th = best.x
        ll_pois = self.poisson_loglike()
        if th[1] - th[2] < math.log(_N_BOUNDARY) or -best.fun - ll_pois <= 1e-9 * max(1.0, abs(ll_pois)):
            th = np.array([math.log(n / span), -math.inf, math.nan])
            upper = self.branching_upper_bound(level, llf=ll_pois)
            return HawkesResults(self, th, np.full((3, 3), np.nan), ll_pois, bool(best.success), 1.0 - level,
                                 boundary_upper=upper)
        H = _num_hessian(lambda x: self._negll_log(x)[1], th)
        cov = _usable_covariance(H)
        return HawkesResults(self, th, np.full((3, 3), np.nan) if cov is None else cov, -best.fun,
                             bool(best.success), 1.0 - level)


class HawkesResults:
    """Fitted univariate Hawkes process: ``params`` (mu, alpha, beta), intervals, branching ratio.

    ``boundary``: the branching ratio's MLE is at 0 (a homogeneous Poisson process); then alpha
    is 0, beta is not identified (NaN, ``None`` in :meth:`to_dict`) and the branching ratio's
    interval is ``[0, boundary_upper]`` (one-sided profile likelihood).  ``covariance_ok``: the
    observed information was positive definite, so Wald intervals and parameter draws exist.
    """

    def __init__(self, model: HawkesExp, log_params, cov_log, llf, converged, level_alpha,
                 boundary_upper: float | None = None):
        self.model = model
        self.log_params = np.asarray(log_params, dtype=float)
        self.cov_log = np.asarray(cov_log, dtype=float)
        self.llf = float(llf)
        self.converged = converged
        self.level_alpha = level_alpha
        self.boundary = boundary_upper is not None
        self.boundary_upper = boundary_upper
        self.covariance_ok = bool(np.all(np.isfinite(self.cov_log)))
        self.estimates = self._estimates(level_alpha)
        if self.boundary:
            self.branching_ratio = {"estimate": 0.0, "se": math.nan, "ci_low": 0.0, "ci_high": float(boundary_upper),
                                    "interval": "one-sided profile likelihood (MLE at the boundary 0)"}
        else:
            z = stats.norm.ppf(1 - level_alpha / 2)
            c = np.array([0.0, 1.0, -1.0])
            log_n = float(c @ self.log_params)
            var = float(c @ self.cov_log @ c) if self.covariance_ok else math.nan
            self.branching_ratio = {**_log_wald(log_n, math.sqrt(max(var, 0.0)) if math.isfinite(var) else math.nan,
                                                z).to_dict(),
                                    "interval": "Wald on the log scale" if self.covariance_ok
                                    else "none (observed information not positive definite)"}
        self.params = pd.Series({k: v.estimate for k, v in self.estimates.items()})
        self.bse = pd.Series({k: v.se for k, v in self.estimates.items()})
        self.n_events = int(model.times.size)
        self.aic = -2 * self.llf + (2 if self.boundary else 6)
        self.stationary = self.branching_ratio["estimate"] < 1

    def _estimates(self, level_alpha: float) -> dict[str, Estimate]:
        z = stats.norm.ppf(1 - level_alpha / 2)
        if self.boundary:  # homogeneous Poisson: mu's log-scale Wald interval, se(log mu) = 1/sqrt(N)
            nan = math.nan
            return {"mu": _log_wald(self.log_params[0], 1.0 / math.sqrt(self.model.times.size), z),
                    "alpha": Estimate(0.0, nan, 0.0, nan), "beta": Estimate(nan, nan, nan, nan)}
        se = np.sqrt(np.clip(np.diag(self.cov_log), 0, None))
        return {k: _log_wald(self.log_params[i], se[i], z) for i, k in enumerate(("mu", "alpha", "beta"))}

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Intervals at level ``1 - alpha`` for mu, alpha, beta (Wald on the log scale; NaN where
        not available: see the class docstring)."""
        est = self._estimates(alpha)
        return pd.DataFrame({k: {"lower": v.ci_low, "upper": v.ci_high} for k, v in est.items()}).T

    @property
    def half_life_days(self) -> float:
        return math.log(2) / self.params["beta"]

    @property
    def status(self) -> str:
        if self.boundary:
            return ("branching ratio at its boundary 0: consistent with a homogeneous Poisson process "
                    "(beta not identified)")
        if not self.covariance_ok:
            return "observed information not positive definite: no Wald intervals"
        return "interior maximum"

    def summary(self) -> Summary:
        rows = {k: v.to_dict() for k, v in self.estimates.items()}
        rows["branching_ratio"] = {k: self.branching_ratio[k] for k in ("estimate", "se", "ci_low", "ci_high")}
        header = (("Model", "exponential-kernel Hawkes"), ("Events", str(self.n_events)),
                  ("Log-likelihood", f"{self.llf:.4f}"), ("Interval level", f"{1 - self.level_alpha:g}"),
                  ("Converged", str(self.converged)), ("Units", "rates per day"))
        notes = () if self.status == "interior maximum" else (self.status,)
        return Summary("Hawkes process results", header, pd.DataFrame(rows).T, notes)

    def to_dict(self) -> dict:
        def num(x):
            return None if x is None or not math.isfinite(x) else float(x)

        out = {k: {"estimate": num(v.estimate), "ci_low": num(v.ci_low), "ci_high": num(v.ci_high), "se": num(v.se)}
               for k, v in self.estimates.items()}
        out["branching_ratio"] = {k: (num(v) if isinstance(v, float) else v) for k, v in self.branching_ratio.items()}
        out.update({"loglik": self.llf, "n_events": self.n_events, "T_days": self.model.T - self.model.t0,
                    "half_life_days": num(self.half_life_days), "converged": self.converged,
                    "boundary": self.boundary, "covariance_ok": self.covariance_ok, "status": self.status,
                    "poisson_loglik": self.model.poisson_loglike(),
                    "ci_level": 1 - self.level_alpha, "units": "rates per day; alpha is the jump in rate per event"})
        return out

    def parameter_draws(self, parameter_uncertainty: bool = True) -> str:
        """How :meth:`forecast_counts` draws the parameters of each path (for the output record)."""
        if not parameter_uncertainty:
            return "none: the point estimates" + (" (homogeneous Poisson, alpha = 0)" if self.boundary else "")
        if self.boundary:
            return ("homogeneous Poisson approximation: mu ~ Gamma(N, T - t0) (its posterior under the prior 1/mu), "
                    "alpha = 0 (branching ratio at its boundary 0)")
        if not self.covariance_ok:
            return "none: the point estimates (observed information not positive definite)"
        return "asymptotic normal of the log parameters"

    def draw_params(self, n_samples: int, random_seed: int = 0) -> np.ndarray:
        """Parameter draws (n_samples, 3): the asymptotic normal on the log scale (clipped to the fit's
        log-parameter box); at the boundary mu ~ Gamma(N, T - t0), alpha = 0, beta = 1 (unused);
        the point estimates when the covariance is not usable (see :meth:`parameter_draws`)."""
        rng = np.random.default_rng(random_seed)
        if self.boundary:
            mu = rng.gamma(self.n_events, 1.0 / (self.model.T - self.model.t0), size=n_samples)
            return np.column_stack([mu, np.zeros(n_samples), np.ones(n_samples)])
        if not self.covariance_ok:
            return self._point(n_samples)
        L = rng.multivariate_normal(self.log_params, self.cov_log, size=n_samples, method="eigh")
        return np.exp(np.clip(L, *_LOG_BOUNDS))

    def _point(self, n_samples: int) -> np.ndarray:
        p = np.array([self.params["mu"], 0.0, 1.0]) if self.boundary else self.params.to_numpy()
        return np.tile(p, (n_samples, 1))

    def forecast_counts(self, edges, n_samples: int = 1000, random_seed: int = 0,
                        parameter_uncertainty: bool = True, max_events: int = 1_000_000) -> np.ndarray:
        """Simulated counts in bins after ``T``: ``edges`` (days, increasing, ``edges[0] >= T``).

        Returns an integer array (n_samples, len(edges) - 1).  Each sample continues the
        observed history (its excitation carries over) with Ogata thinning; with
        ``parameter_uncertainty`` each sample uses its own parameter draw (how: :meth:`parameter_draws`).
        """
        edges = np.asarray(edges, dtype=float)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] < self.model.T:
            raise ValueError("edges must be increasing with edges[0] >= T")
        P = self.draw_params(n_samples, random_seed) if parameter_uncertainty else self._point(n_samples)
        P[:, 1] = np.minimum(P[:, 1], 0.999 * P[:, 2])  # keep each draw non-explosive
        return _forecast_uni(P[:, 0].copy(), P[:, 1].copy(), P[:, 2].copy(), self.model.times, self.model.T,
                             edges, int(random_seed), int(max_events))


# --------------------------------------------------------------------------------------------
# multivariate


@njit(cache=True, error_model="numpy")
def _multi_llg(t, m, M, t0, T, mu, A, beta):
    """Log-likelihood and gradient (mu: M, alpha: MxM row-major, beta) for marked times."""
    R = np.zeros(M)
    S = np.zeros(M)
    cnt = np.zeros(M)
    g_mu = np.zeros(M)
    g_A = np.zeros((M, M))
    g_b = 0.0
    logsum = 0.0
    prod = 1.0
    prev = t0
    for i in range(t.size):
        d = t[i] - prev
        e = math.exp(-beta * d)
        for k in range(M):
            S[k] = e * (S[k] - d * R[k])
            R[k] = e * R[k]
        mi = m[i]
        lam = mu[mi]
        sb = 0.0
        for k in range(M):
            lam += A[mi, k] * R[k]
            sb += A[mi, k] * S[k]
        inv = 1.0 / lam
        g_mu[mi] += inv
        for k in range(M):
            g_A[mi, k] += R[k] * inv
        g_b += sb * inv
        prod *= lam
        if prod > _BIG or prod < _SMALL:
            logsum += math.log(prod)
            prod = 1.0
        R[mi] += 1.0
        cnt[mi] += 1.0
        prev = t[i]
    logsum += math.log(prod)
    d = T - prev
    e = math.exp(-beta * d)
    for k in range(M):
        S[k] = e * (S[k] - d * R[k])
        R[k] = e * R[k]
    comp = 0.0
    for j in range(M):
        comp += mu[j] * (T - t0)
        g_mu[j] -= T - t0
        for k in range(M):
            q = cnt[k] - R[k]
            comp += A[j, k] / beta * q
            g_A[j, k] -= q / beta
            g_b -= A[j, k] * (-q / (beta * beta) - S[k] / beta)
    return logsum - comp, g_mu, g_A, g_b


@njit(cache=True, error_model="numpy")
def _multi_rates(mu, A, R, lam):
    """Fill ``lam`` with the intensities ``mu + A @ R`` of each dimension; return their sum."""
    tot = 0.0
    for j in range(mu.size):
        lam[j] = mu[j]
        for q in range(mu.size):
            lam[j] += A[j, q] * R[q]
        tot += lam[j]
    return tot


@njit(cache=True, error_model="numpy")
def _sim_multi(mu, A, beta, R0, t_start, t_end, seed, max_events):
    np.random.seed(seed)
    M = mu.size
    times = np.empty(max_events)
    marks = np.empty(max_events, dtype=np.int64)
    R = R0.copy()
    lam = np.empty(M)
    k = 0
    t = t_start
    while k < max_events:
        tot = _multi_rates(mu, A, R, lam)
        w = np.random.exponential(1.0 / tot)
        t += w
        if t > t_end:
            break
        e = math.exp(-beta * w)
        for q in range(M):
            R[q] *= e
        new_tot = _multi_rates(mu, A, R, lam)
        u = np.random.random() * tot
        if u <= new_tot:
            acc = 0.0
            j = 0
            for j in range(M):
                acc += lam[j]
                if u <= acc:
                    break
            times[k] = t
            marks[k] = j
            R[j] += 1.0
            k += 1
    return times[:k], marks[:k]


def simulate_multivariate_exp_hawkes(mu, A, beta, T, t0: float = 0.0, random_seed: int = 0,
                                     max_events: int = 10_000_000):
    """Simulate a multivariate exponential Hawkes process: returns ``(times, marks)``."""
    mu = np.asarray(mu, float)
    A = np.asarray(A, float)
    return _sim_multi(mu, A, float(beta), np.zeros(mu.size), float(t0), float(T), int(random_seed), int(max_events))


class MultivariateHawkesExp:
    """Multivariate exponential Hawkes process with a common decay rate.

    Parameters
    ----------
    times : sorted event times (days)
    marks : integer dimension of each event (0 .. n_dims - 1), or labels (then ``names`` sort)
    T, t0 : window
    names : dimension names (e.g. provinces)
    """

    def __init__(self, times, marks, T: float | None = None, t0: float = 0.0, names=None):
        t = np.ascontiguousarray(times, dtype=float).ravel()
        marks = np.asarray(marks)
        if marks.size != t.size:
            raise ValueError(f"marks has length {marks.size}; expected {t.size}")
        if names is None:
            names = sorted(pd.unique(marks).tolist()) if marks.dtype.kind not in "iu" else list(range(int(marks.max()) + 1))
        names = list(names)
        if marks.dtype.kind in "iu":
            codes = marks.astype(np.int64)
        else:
            lookup = {n: i for i, n in enumerate(names)}
            missing = [x for x in pd.unique(marks) if x not in lookup]
            if missing:
                raise ValueError(f"marks {missing[:3]} are not in names")
            codes = np.array([lookup[x] for x in marks], dtype=np.int64)
        self.names = names
        self.M = len(names)
        self.T = float(t[-1] if T is None else T)
        self.t0 = float(t0)
        self.times = _check_times(t, self.t0, self.T)
        self.marks = codes

    def _unpack(self, x):
        M = self.M
        return x[:M], x[M:M + M * M].reshape(M, M), x[-1]

    def _negll(self, x):
        mu, A, b = self._unpack(x)
        ll, gm, gA, gb = _multi_llg(self.times, self.marks, self.M, self.t0, self.T, mu, np.ascontiguousarray(A), b)
        if not np.isfinite(ll):
            return 1e300, np.zeros_like(x)
        return -ll, -np.concatenate([gm, gA.ravel(), [gb]])

    def loglike(self, mu, A, beta) -> float:
        return float(_multi_llg(self.times, self.marks, self.M, self.t0, self.T, np.asarray(mu, float),
                                np.ascontiguousarray(A, dtype=float), float(beta))[0])

    def fit(self, level: float = 0.95, betas_start=(0.1, 1.0)) -> MultivariateHawkesResults:
        """ML fit with L-BFGS-B on the natural scale (``mu > 0``, ``alpha_mn >= 0``, ``beta > 0``).

        Parameters on the boundary (``alpha_mn = 0``) get no standard error; the others get
        Wald intervals from the observed information of the free parameters.
        """
        M = self.M
        span = self.T - self.t0
        cnt = np.bincount(self.marks, minlength=M).astype(float)
        best = None
        bounds = [(1e-8, None)] * M + [(0.0, None)] * (M * M) + [(1e-4, 1e3)]
        for b0 in betas_start:
            x0 = np.concatenate([np.maximum(0.5 * cnt / span, 1e-4), np.full(M * M, 0.1 * b0 / M), [b0]])
            x0[M:M + M * M].reshape(M, M)[np.diag_indices(M)] = 0.3 * b0
            r = optimize.minimize(self._negll, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": 5000, "ftol": 1e-14, "gtol": 1e-8})
            if best is None or r.fun < best.fun:
                best = r
        x = best.x
        free = np.ones(x.size, bool)
        free[M:M + M * M] = x[M:M + M * M] > 1e-6 * max(1.0, x[-1])
        free[:M] = x[:M] > 1e-6
        cov = np.full((x.size, x.size), np.nan)
        idx = np.flatnonzero(free)

        def g_free(z):
            xx = x.copy()
            xx[idx] = z
            return self._negll(xx)[1][idx]

        H = _num_hessian(g_free, x[idx], h=1e-6 * max(1.0, float(np.abs(x[idx]).max())))
        try:
            cov[np.ix_(idx, idx)] = np.linalg.inv(H)
        except np.linalg.LinAlgError:
            pass
        return MultivariateHawkesResults(self, x, cov, -best.fun, bool(best.success), 1.0 - level)


class MultivariateHawkesResults:
    """Fitted multivariate Hawkes process: ``mu`` (Series), ``alpha`` (DataFrame, row = excited
    dimension, column = exciting one), ``beta``, ``branching_matrix``, ``branching_ratio``."""

    def __init__(self, model, x, cov, llf, converged, level_alpha):
        self.model = model
        self.x = x
        self.cov = cov
        self.llf = float(llf)
        self.converged = converged
        M = model.M
        mu, A, b = model._unpack(x)
        self.mu = pd.Series(mu, index=model.names)
        self.alpha = pd.DataFrame(A, index=model.names, columns=model.names)
        self.beta = float(b)
        self.branching_matrix = self.alpha / self.beta
        z = stats.norm.ppf(1 - level_alpha / 2)
        self.level_alpha = level_alpha

        def rho(v):
            _, AA, bb = model._unpack(v)
            return float(np.max(np.abs(np.linalg.eigvals(AA / bb))))

        r0 = rho(x)
        free = np.isfinite(np.diag(cov))
        g = np.zeros(x.size)
        for j in np.flatnonzero(free):
            h = 1e-6 * max(1.0, abs(x[j]))
            xp, xm = x.copy(), x.copy()
            xp[j] += h
            xm[j] = max(xm[j] - h, 0.0)
            g[j] = (rho(xp) - rho(xm)) / (xp[j] - xm[j])
        c = np.where(free, cov, 0.0)
        c = np.where(np.isfinite(c), c, 0.0)
        se = float(np.sqrt(max(g @ c @ g, 0.0)))
        self.branching_ratio = {"estimate": r0, "se": se, "ci_low": float(max(r0 - z * se, 0.0)),
                                "ci_high": float(r0 + z * se)}
        sd = np.sqrt(np.diag(cov))
        self.bse_mu = pd.Series(sd[:M], index=model.names)
        self.bse_alpha = pd.DataFrame(sd[M:M + M * M].reshape(M, M), index=model.names, columns=model.names)
        self.bse_beta = float(sd[-1])
        self.n_events = int(model.times.size)

    def to_dict(self) -> dict:
        z = stats.norm.ppf(1 - self.level_alpha / 2)

        def est(v, s):
            return {"estimate": float(v), "se": None if not np.isfinite(s) else float(s),
                    "ci_low": None if not np.isfinite(s) else float(max(v - z * s, 0.0)),
                    "ci_high": None if not np.isfinite(s) else float(v + z * s)}

        return {
            "names": [str(n) for n in self.model.names],
            "mu": {str(k): est(self.mu[k], self.bse_mu[k]) for k in self.mu.index},
            "alpha": {str(r): {str(c): est(self.alpha.loc[r, c], self.bse_alpha.loc[r, c]) for c in self.alpha.columns}
                      for r in self.alpha.index},
            "beta": est(self.beta, self.bse_beta),
            "branching_ratio": self.branching_ratio,
            "loglik": self.llf, "n_events": self.n_events, "converged": self.converged,
            "ci_level": 1 - self.level_alpha,
        }

    def forecast_counts(self, edges, n_samples: int = 1000, random_seed: int = 0) -> np.ndarray:
        """Simulated counts (n_samples, n_dims, n_bins) in the bins ``edges`` after ``T``
        (point estimates; history carried over)."""
        edges = np.asarray(edges, float)
        if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] < self.model.T:
            raise ValueError("edges must be increasing with edges[0] >= T")
        M = self.model.M
        R0 = np.zeros(M)
        np.add.at(R0, self.model.marks, np.exp(-self.beta * (self.model.T - self.model.times)))
        out = np.zeros((n_samples, M, edges.size - 1), dtype=np.int64)
        A = np.ascontiguousarray(self.alpha.to_numpy())
        for s in range(n_samples):
            t, m = _sim_multi(self.mu.to_numpy(), A, self.beta, R0, self.model.T, edges[-1], int(random_seed) + s, 10_000_000)
            b = np.searchsorted(edges, t, side="left") - 1
            ok = (b >= 0) & (b < edges.size - 1)
            np.add.at(out[s], (m[ok], b[ok]), 1)
        return out
