"""The two zero-modified NB2 likelihoods, ZINB and hurdle NB (Numba): their per-observation
terms and the one summing driver they share (chunked, serial or parallel).

The models and their gradients are stated in :mod:`models.likelihood.zinb` and
:mod:`models.likelihood.hurdle`; ``hurdle`` selects the model in every kernel below.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from pakcast.models.likelihood.negbin import (
    _EMPTY,
    PARALLEL_MIN_N,
    _as_counts,
    _as_float,
    _as_log_alpha,
    _nb_elem,
    chunk_bounds,
    chunk_partials,
    sum_chunks,
)


@njit(cache=True, inline="always", error_model="numpy")
def log_expit(z):
    """log(1 / (1 + exp(-z))) without overflow."""
    if z >= 0:
        return -math.log1p(math.exp(-z))
    return z - math.log1p(math.exp(z))


@njit(cache=True, inline="always", error_model="numpy")
def _zinb_elem(y, eta, la, z):
    ll_nb, de, dla = _nb_elem(y, eta, la)
    log_pi = log_expit(z)
    log_1mpi = log_expit(-z)
    pi = math.exp(log_pi)
    if y > 0:
        return log_1mpi + ll_nb, de, dla, -pi
    b = log_1mpi + ll_nb
    m = max(log_pi, b)
    ll = m + math.log(math.exp(log_pi - m) + math.exp(b - m))
    w0 = math.exp(log_pi - ll)
    w1 = math.exp(b - ll)
    return ll, w1 * de, w1 * dla, w0 * (1.0 - pi) - w1 * pi


@njit(cache=True, inline="always", error_model="numpy")
def _hurdle_elem(y, eta, la, z):
    log_pi = log_expit(z)
    if y == 0:
        return log_pi, 0.0, 0.0, 1.0 - math.exp(log_pi)
    pi = math.exp(log_pi)
    ll_nb, de, dla = _nb_elem(y, eta, la)
    lf0, de0, dla0 = _nb_elem(0.0, eta, la)
    em = math.expm1(-lf0)  # (1 - f0) / f0
    log_1mf0 = math.log(em) + lf0
    ll = log_expit(-z) + ll_nb - log_1mf0
    return ll, de + de0 / em, dla + dla0 / em, -pi


@njit(cache=True, inline="always", error_model="numpy")
def _elem3(hurdle, y, eta, la, z):
    if hurdle:
        return _hurdle_elem(y, eta, la, z)
    return _zinb_elem(y, eta, la, z)


@njit(cache=True, inline="always", error_model="numpy")
def _chunk3(hurdle, c, y, eta, la, zz, w, off, de_out, dla_out, dz_out):
    start, stop = chunk_bounds(c, y.size)
    has_w = w.size > 0
    has_off = off.size > 0
    vla = la.size > 1
    vz = zz.size > 1
    s = np.zeros(3)
    for i in range(start, stop):
        e = eta[i] + off[i] if has_off else eta[i]
        ll, de, dla, dz = _elem3(hurdle, y[i], e, la[i] if vla else la[0], zz[i] if vz else zz[0])
        if has_w:
            ll *= w[i]
            de *= w[i]
            dla *= w[i]
            dz *= w[i]
        de_out[i] = de
        if vla:
            dla_out[i] = dla
        if vz:
            dz_out[i] = dz
        s[0] += ll
        s[1] += dla
        s[2] += dz
    return s


@njit(cache=True, error_model="numpy")
def _serial3(hurdle, y, eta, la, zz, w, off, de_out, dla_out, dz_out):
    p = chunk_partials(y.size, 3)
    for c in range(p.shape[0]):
        p[c] = _chunk3(hurdle, c, y, eta, la, zz, w, off, de_out, dla_out, dz_out)
    return sum_chunks(p)


@njit(cache=True, parallel=True, error_model="numpy")
def _parallel3(hurdle, y, eta, la, zz, w, off, de_out, dla_out, dz_out):
    p = chunk_partials(y.size, 3)
    for c in prange(p.shape[0]):
        p[c] = _chunk3(hurdle, c, y, eta, la, zz, w, off, de_out, dla_out, dz_out)
    return sum_chunks(p)


def _prepare3(y, eta, log_alpha, logit_pi, weights, offset):
    y = _as_counts(y)
    n = y.size
    eta = _as_float(eta, n, "eta")
    la = _as_log_alpha(log_alpha, n)
    z = np.ascontiguousarray(logit_pi, dtype=np.float64).ravel()
    if z.size not in (1, n):
        raise ValueError(f"logit_pi has length {z.size}; expected 1 or {n} (the length of y)")
    w = _EMPTY if weights is None else _as_float(weights, n, "weights")
    off = _EMPTY if offset is None else _as_float(offset, n, "offset")
    return y, eta, la, z, w, off


def loglik_grad3(hurdle: bool, y, eta, log_alpha, logit_pi, weights=None, offset=None):
    """Summed log-likelihood and gradient ``(loglik, d_eta, d_log_alpha, d_logit_pi)`` of the hurdle
    NB (``hurdle``) or the ZINB; scalar parameters give summed gradients, arrays per-observation ones."""
    y, eta, la, z, w, off = _prepare3(y, eta, log_alpha, logit_pi, weights, offset)
    n = y.size
    de = np.empty(n)
    dla = np.empty(n) if la.size > 1 else _EMPTY
    dz = np.empty(n) if z.size > 1 else _EMPTY
    s = (_parallel3 if n >= PARALLEL_MIN_N else _serial3)(bool(hurdle), y, eta, la, z, w, off, de, dla, dz)
    return float(s[0]), de, (dla if la.size > 1 else float(s[1])), (dz if z.size > 1 else float(s[2]))


@njit(cache=True, error_model="numpy")
def _logpmf_kernel3(hurdle, y, eta, la, z, out):
    for i in range(y.size):
        out[i] = _elem3(hurdle, y[i], eta[i], la[i], z[i])[0]


def logpmf3(hurdle: bool, y, mu, alpha, pi):
    """Elementwise log-pmf of the hurdle NB (``hurdle``; ``pi`` = P(Y = 0)) or the ZINB (``pi`` the
    structural-zero probability), broadcasting."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in (y, mu, alpha, pi)))
    y, mu, alpha, pi = (np.ravel(v) for v in np.broadcast_arrays(*(np.asarray(v, float) for v in (y, mu, alpha, pi))))
    if np.any((pi < 0) | (pi > 1)):
        raise ValueError("pi must lie in [0, 1]")
    with np.errstate(divide="ignore"):
        eta, la, z = np.log(mu), np.log(alpha), np.log(pi) - np.log1p(-pi)
    out = np.empty(y.size)
    _logpmf_kernel3(bool(hurdle), _as_counts(y), eta, la, z, out)
    return out.reshape(shape)
