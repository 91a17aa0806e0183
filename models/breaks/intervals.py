r"""Confidence intervals for break dates (Bai 1997), as in R ``strucchange::confint.breakpointsfull``.

For a break between segments 1 and 2 with coefficient change :math:`\delta = \beta_2 - \beta_1`,
:math:`Q_i = X_i^\top X_i / n_i` and :math:`\Omega_i` the (long-run) variance of
:math:`X_i^\top u_i / \sqrt{n_i}` (:math:`\sigma_i^2 Q_i` under i.i.d. errors),

.. math::
   \frac{(\delta^\top Q_1 \delta)^2}{\delta^\top \Omega_1 \delta}\,(\hat T - T)
   \;\Rightarrow\; \arg\max_s V(s),

where :math:`V` is a two-sided Brownian motion with drift whose shape depends on
:math:`\xi = \delta^\top Q_2\delta / \delta^\top Q_1\delta` and
:math:`\phi_i^2 = \delta^\top\Omega_i\delta / \delta^\top Q_i\delta` (Bai 1997, Prop. 3; the
distribution function is :func:`pargmax`). The interval is
:math:`[\hat T - \lceil q_{1-\alpha/2}/f\rceil,\ \hat T - \lfloor q_{\alpha/2}/f\rfloor]`
(the orientation of current strucchange, whose ``V`` is indexed by :math:`T - \hat T`).

``het_reg`` / ``het_err`` let :math:`Q` / the error variance differ across segments
(strucchange defaults: both ``True``); ``hac=True`` uses Newey-West (Bartlett) long-run
variances for :math:`\Omega_i`.

References
----------
Bai, J. (1997). Estimation of a change point in multiple regression models. *Rev. Econ. Stat.*
79(4), 551-563.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq, minimize_scalar
from scipy.special import log_ndtr

from pakcast.models.covariance import bartlett_meat, newey_west_lags

__all__ = ["pargmax", "bai_confint", "newey_west_lags"]


def pargmax(x: float, xi: float = 1.0, phi1: float = 1.0, phi2: float = 1.0) -> float:
    """Distribution function of the argmax of a two-sided Brownian motion with drift (Bai 1997)."""
    phi = xi * (phi2 / phi1) ** 2
    if x < 0:
        x = abs(x)
        frac = xi / phi
        return float(-np.exp(np.log(x) / 2 - x / 8 - np.log(2 * np.pi) / 2)
                     - (phi / xi * (phi + 2 * xi) / (phi + xi))
                     * np.exp(frac * (1 + frac) * x / 2 + log_ndtr(-(0.5 + frac) * np.sqrt(x)))
                     + np.exp(np.log(x / 2 - 2 + (phi + 2 * xi) ** 2 / ((phi + xi) * xi)) + log_ndtr(-np.sqrt(x) / 2)))
    if x == 0:
        x = 1e-300
    frac = xi ** 2 / phi
    return float(1 + np.sqrt(frac) * np.exp(np.log(x) / 2 - frac * x / 8 - np.log(2 * np.pi) / 2)
                 + (xi / phi * (2 * phi + xi) / (phi + xi))
                 * np.exp((phi + xi) * x / 2 + log_ndtr(-(phi + xi / 2) / np.sqrt(phi) * np.sqrt(x)))
                 - np.exp(np.log((2 * phi + xi) ** 2 / ((phi + xi) * phi) - 2 + frac * x / 2)
                          + log_ndtr(-np.sqrt(frac) * np.sqrt(x) / 2)))


def _quantile(level: float, lo: float, hi: float, **kw) -> float:
    f = lambda x: pargmax(x, **kw) - level  # noqa: E731
    try:
        fa, fb = f(lo if lo != 0 else 1e-9), f(hi if hi != 0 else -1e-9)
        if np.isfinite(fa) and np.isfinite(fb) and fa * fb < 0:
            return brentq(f, lo if lo != 0 else 1e-9, hi if hi != 0 else -1e-9, xtol=1e-10)
    except (ValueError, OverflowError):
        pass
    res = minimize_scalar(lambda x: f(x) ** 2, bounds=(min(lo, hi), max(lo, hi)), method="bounded",
                          options={"xatol": 1e-8})
    return float(res.x)


def _meat(X: np.ndarray, u: np.ndarray, hac: bool, maxlags: int | None) -> np.ndarray:
    """Omega = (1/n) sum_t sum_s w_|t-s| x_t x_s' u_t u_s (Bartlett weights) or sigma^2 Q."""
    n = len(u)
    if not hac:
        return (u @ u / n) * (X.T @ X / n)
    L = newey_west_lags(n) if maxlags is None else int(maxlags)
    return bartlett_meat(X * u[:, None], L) / n


def bai_confint(y, X, ends, level: float = 0.95, het_reg: bool = True, het_err: bool = True,
                hac: bool = False, maxlags: int | None = None) -> np.ndarray:
    """Bai (1997) intervals for breaks at ``ends`` (strucchange 1-based breakpoints).

    Returns an ``(m, 3)`` integer array ``[lower, breakpoint, upper]`` in the same 1-based
    convention as strucchange (subtract one for 0-based indexes).
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    X = np.ones((n, 1)) if X is None else np.asarray(X, dtype=float).reshape(n, -1)
    a2 = (1 - level) / 2
    bp = [0, *[int(e) for e in ends], n]
    resid_all = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    Omega_all = _meat(X, resid_all, hac, maxlags)
    Q_all = X.T @ X / n

    def seg(a, b):
        Xs, ys = X[a:b], y[a:b]
        beta = np.linalg.lstsq(Xs, ys, rcond=None)[0]
        u = ys - Xs @ beta
        return beta, Xs.T @ Xs / len(ys), _meat(Xs, u, hac, maxlags) if het_err else None

    out = []
    beta2, Q2s, Om2s = seg(bp[0], bp[1])
    Q2 = Q2s if het_reg else Q_all
    Om2 = Om2s if het_err else (Omega_all if het_reg is False else None)
    if Om2 is None:
        Om2 = Omega_all
    for i in range(1, len(bp) - 1):
        beta1, Q1, Om1 = beta2, Q2, Om2
        beta2, Q2s, Om2s = seg(bp[i], bp[i + 1])
        Q2 = Q2s if het_reg else Q_all
        Om2 = Om2s if het_err else Omega_all
        if not het_err and not hac:
            # strucchange: homoskedastic sigma^2 from the no-break fit, Omega = sigma^2 Q
            s2 = resid_all @ resid_all / n
            Om1, Om2 = s2 * Q1, s2 * Q2
        delta = beta2 - beta1
        Qp1, Qp2 = float(delta @ Q1 @ delta), float(delta @ Q2 @ delta)
        Op1, Op2 = float(delta @ Om1 @ delta), float(delta @ Om2 @ delta)
        if Qp1 <= 0 or Op1 <= 0 or Op2 <= 0:
            out.append([0, bp[i], n])
            continue
        frac = Qp1 ** 2 / Op1
        xi = Qp2 / Qp1 if het_reg else 1.0
        kw = dict(xi=xi, phi1=np.sqrt(Op1 / Qp1), phi2=np.sqrt(Op2 / Qp2))
        upper = _quantile(1 - a2, 0.0, float(n), **kw) / frac
        lower = _quantile(a2, -float(n), 0.0, **kw) / frac
        # current strucchange (>= 1.5): [bp - ceiling(upper), bp, bp - floor(lower)]
        out.append([bp[i] - int(np.ceil(upper)), bp[i], bp[i] - int(np.floor(lower))])
    return np.array(out, dtype=int).reshape(-1, 3)
