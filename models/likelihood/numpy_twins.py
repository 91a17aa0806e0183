"""Vectorised numpy/scipy twins of the Numba kernels.

Two kinds of reference live here:

* ``*_numpy`` functions evaluate *the same algebra* as the Numba kernels (finite sums for
  small counts, cancellation-free asymptotic forms for large ones) with numpy/scipy array
  operations.  Tests require kernel and twin to agree to 1e-12 relative.
* :func:`negbin_loglik_grad_scipy` is the textbook ``gammaln``/``digamma`` formula a user
  would write; it is the "numpy/scipy" baseline of the benchmarks and is accurate except in
  the Poisson limit (tiny ``alpha``), where it cancels.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from pakcast.models.likelihood._special import SMALL_COUNT_MAX


def _log1pmx_over_x(x):
    x = np.asarray(x, float)
    out = np.empty_like(x)
    small = x < 0.0625
    xs = x[small]
    s = np.zeros_like(xs)
    p = np.ones_like(xs)
    for n in range(14):
        p = p * -xs
        s = s + p / (n + 2.0)
    out[small] = s
    xl = x[~small]
    out[~small] = (np.log1p(xl) - xl) / xl
    return out


def _stirling_corr(z):
    z2 = 1.0 / (z * z)
    return (1.0 / 12.0 - z2 * (1.0 / 360.0 - z2 * (1.0 / 1260.0 - z2 / 1680.0))) / z


def _psi_tail(z):
    z2 = 1.0 / (z * z)
    return -z2 * (1.0 / 12.0 - z2 * (1.0 / 120.0 - z2 * (1.0 / 252.0 - z2 / 240.0)))


def count_sums_numpy(y, a):
    """``T = sum_{k<y} log1p(k a)`` and ``U = sum_{k<y} k a/(1 + k a)``, vectorised."""
    y = np.asarray(y, float)
    a = np.broadcast_to(np.asarray(a, float), y.shape).astype(float)
    t = np.zeros_like(y)
    u = np.zeros_like(y)
    small = y <= SMALL_COUNT_MAX
    ys, as_ = y[small], a[small]
    ts, us = np.zeros_like(ys), np.zeros_like(ys)
    kmax = int(ys.max()) if ys.size else 0
    for k in range(1, kmax):
        m = ys > k
        ka = k * as_[m]
        ts[m] += np.log1p(ka)
        us[m] += ka / (1.0 + ka)
    t[small], u[small] = ts, us
    big = ~small
    yb, ab = y[big], a[big]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = 1.0 / ab
        tb = np.zeros_like(yb)
        ub = np.zeros_like(yb)
        st = (ab > 0) & (r >= 30.0)
        tt = yb[st] * ab[st]
        m = _log1pmx_over_x(tt)
        rs, ys_ = r[st], yb[st]
        tb[st] = ys_ * m + (ys_ - 0.5) * np.log1p(tt) + _stirling_corr(rs + ys_) - _stirling_corr(rs)
        ub[st] = -ys_ * m - ys_ / (2.0 * (rs + ys_)) - rs * (_psi_tail(rs + ys_) - _psi_tail(rs))
        di = (ab > 0) & (r < 30.0)
        rd, yd = r[di], yb[di]
        tb[di] = special.gammaln(yd + rd) - special.gammaln(rd) + yd * np.log(ab[di])
        ub[di] = yd - rd * (special.digamma(yd + rd) - special.digamma(rd))
    t[big], u[big] = tb, ub
    return t, u


def negbin_elem_numpy(y, eta, log_alpha):
    """Per-observation NB2 ``(ll, d_eta, d_log_alpha)`` with the kernels' algebra."""
    y = np.asarray(y, float)
    eta = np.asarray(eta, float)
    a = np.exp(np.broadcast_to(np.asarray(log_alpha, float), y.shape))
    mu = np.exp(eta)
    x = a * mu
    lp = np.log1p(x)
    l1 = _log1pmx_over_x(x)
    t, u = count_sums_numpy(y, a)
    ll = t - special.gammaln(y + 1.0) + y * eta - y * lp - mu * (1.0 + l1)
    de = (y - mu) / (1.0 + x)
    dla = -(y - mu) * x / (1.0 + x) + mu * l1 + u
    return ll, de, dla


def negbin_loglik_grad_numpy(y, eta, log_alpha, weights=None, offset=None):
    """Numpy twin of :func:`models.likelihood.negbin_loglik_grad`."""
    eta = np.asarray(eta, float) + (0.0 if offset is None else np.asarray(offset, float))
    ll, de, dla = negbin_elem_numpy(y, eta, log_alpha)
    if weights is not None:
        w = np.asarray(weights, float)
        ll, de, dla = ll * w, de * w, dla * w
    return float(ll.sum()), de, (float(dla.sum()) if np.ndim(log_alpha) == 0 else dla)


def negbin_loglik_grad_scipy(y, eta, log_alpha):
    """Textbook NB2 log-likelihood and gradient with ``gammaln``/``digamma`` (benchmark baseline)."""
    alpha = np.exp(log_alpha)
    r = 1.0 / alpha
    mu = np.exp(eta)
    rmu = r + mu
    log_rmu = np.log(rmu)
    ll = (special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1.0)
          + r * (np.log(r) - log_rmu) + y * (eta - log_rmu))
    d_eta = (y - mu) * r / rmu
    d_r = special.digamma(y + r) - special.digamma(r) + np.log(r) - log_rmu + (mu - y) / rmu
    return float(ll.sum()), d_eta, float(-(r * d_r).sum())


def poisson_loglik_grad_numpy(y, eta, weights=None, offset=None):
    """Numpy twin of :func:`models.likelihood.poisson_loglik_grad`."""
    y = np.asarray(y, float)
    eta = np.asarray(eta, float) + (0.0 if offset is None else np.asarray(offset, float))
    mu = np.exp(eta)
    ll = special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)
    de = y - mu
    if weights is not None:
        ll, de = ll * weights, de * weights
    return float(ll.sum()), de


def zinb_elem_numpy(y, eta, log_alpha, logit_pi):
    """Per-observation ZINB ``(ll, d_eta, d_log_alpha, d_logit_pi)``."""
    y = np.asarray(y, float)
    ll_nb, de, dla = negbin_elem_numpy(y, eta, log_alpha)
    z = np.broadcast_to(np.asarray(logit_pi, float), y.shape)
    log_pi, log_1mpi = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    pi = np.exp(log_pi)
    ll0 = np.logaddexp(log_pi, log_1mpi + ll_nb)
    w0 = np.exp(log_pi - ll0)
    w1 = np.exp(log_1mpi + ll_nb - ll0)
    zero = y == 0
    ll = np.where(zero, ll0, log_1mpi + ll_nb)
    return (ll, np.where(zero, w1 * de, de), np.where(zero, w1 * dla, dla),
            np.where(zero, w0 * (1 - pi) - w1 * pi, -pi))


def hurdle_nb_elem_numpy(y, eta, log_alpha, logit_pi):
    """Per-observation hurdle-NB ``(ll, d_eta, d_log_alpha, d_logit_pi)``."""
    y = np.asarray(y, float)
    ll_nb, de, dla = negbin_elem_numpy(y, eta, log_alpha)
    lf0, de0, dla0 = negbin_elem_numpy(np.zeros_like(y), eta, log_alpha)
    z = np.broadcast_to(np.asarray(logit_pi, float), y.shape)
    log_pi, log_1mpi = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
    pi = np.exp(log_pi)
    em = np.expm1(-lf0)
    zero = y == 0
    ll = np.where(zero, log_pi, log_1mpi + ll_nb - (np.log(em) + lf0))
    return (ll, np.where(zero, 0.0, de + de0 / em), np.where(zero, 0.0, dla + dla0 / em),
            np.where(zero, 1 - pi, -pi))
