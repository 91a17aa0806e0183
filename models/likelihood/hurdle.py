"""Hurdle negative binomial log-likelihood and gradient kernels (Numba).

Model
-----
With zero probability :math:`\\pi = \\mathrm{expit}(z)` and the NB2 pmf
:math:`f(y; \\mu = e^{\\eta}, \\alpha = e^{\\lambda})` truncated at zero for the positives,

.. math::

    P(Y = 0) = \\pi, \\qquad P(Y = y) = (1 - \\pi)\\,\\frac{f(y)}{1 - f(0)} \\quad (y > 0),

    \\log(1 - f(0)) = \\log\\bigl(-\\mathrm{expm1}(\\log f(0))\\bigr), \\qquad
    \\log f(0) = -\\mu\\,\\frac{\\mathrm{log1p}(\\alpha\\mu)}{\\alpha\\mu},

so :math:`\\nabla \\log(1 - f(0)) = -\\nabla \\log f(0) / \\mathrm{expm1}(-\\log f(0))` stays
exact as :math:`\\mu \\to 0`.  The zero part depends on :math:`z` only.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from pakcast.models.likelihood.negbin import CHUNK, _as_counts, _nb_elem
from pakcast.models.likelihood.zinb import _run3, log_expit


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
def _hurdle_chunk(c, y, eta, la, zz, w, off, de_out, dla_out, dz_out):
    n = y.size
    start = c * CHUNK
    stop = min(n, start + CHUNK)
    has_w = w.size > 0
    has_off = off.size > 0
    vla = la.size > 1
    vz = zz.size > 1
    s = np.zeros(3)
    for i in range(start, stop):
        e = eta[i] + off[i] if has_off else eta[i]
        ll, de, dla, dz = _hurdle_elem(y[i], e, la[i] if vla else la[0], zz[i] if vz else zz[0])
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
def _hurdle_serial(y, eta, la, zz, w, off, de_out, dla_out, dz_out):
    nch = (y.size + CHUNK - 1) // CHUNK
    p = np.zeros((nch, 3))
    for c in range(nch):
        p[c] = _hurdle_chunk(c, y, eta, la, zz, w, off, de_out, dla_out, dz_out)
    s = np.zeros(3)
    for c in range(nch):
        s += p[c]
    return s


@njit(cache=True, parallel=True, error_model="numpy")
def _hurdle_parallel(y, eta, la, zz, w, off, de_out, dla_out, dz_out):
    nch = (y.size + CHUNK - 1) // CHUNK
    p = np.zeros((nch, 3))
    for c in prange(nch):
        p[c] = _hurdle_chunk(c, y, eta, la, zz, w, off, de_out, dla_out, dz_out)
    s = np.zeros(3)
    for c in range(nch):
        s += p[c]
    return s


def hurdle_nb_loglik_grad(y, eta, log_alpha, logit_pi, weights=None, offset=None):
    """Summed hurdle-NB log-likelihood and gradient ``(loglik, d_eta, d_log_alpha, d_logit_pi)``.

    ``logit_pi`` is the logit of :math:`P(Y = 0)`.  Scalars give summed gradients, arrays of
    the length of ``y`` give per-observation gradients.
    """
    return _run3(_hurdle_serial, _hurdle_parallel, y, eta, log_alpha, logit_pi, weights, offset)


@njit(cache=True, error_model="numpy")
def _hurdle_logpmf_kernel(y, eta, la, z, out):
    for i in range(y.size):
        out[i] = _hurdle_elem(y[i], eta[i], la[i], z[i])[0]


def hurdle_nb_logpmf(y, mu, alpha, pi):
    """Elementwise hurdle-NB log-pmf with zero probability ``pi`` (broadcasting)."""
    shape = np.broadcast_shapes(*(np.shape(v) for v in (y, mu, alpha, pi)))
    y, mu, alpha, pi = (np.ravel(v) for v in np.broadcast_arrays(*(np.asarray(v, float) for v in (y, mu, alpha, pi))))
    if np.any((pi < 0) | (pi > 1)):
        raise ValueError("pi must lie in [0, 1]")
    with np.errstate(divide="ignore"):
        eta, la, z = np.log(mu), np.log(alpha), np.log(pi) - np.log1p(-pi)
    out = np.empty(y.size)
    _hurdle_logpmf_kernel(_as_counts(y), eta, la, z, out)
    return out.reshape(shape)
