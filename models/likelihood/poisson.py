"""Poisson log-likelihood and gradient kernels (Numba).

Model
-----
For a count :math:`y` with mean :math:`\\mu = e^{\\eta}`,

.. math::

    \\log f(y) = y\\eta - \\mu - \\log y!, \\qquad
    \\frac{\\partial \\log f}{\\partial \\eta} = y - \\mu, \\qquad
    \\frac{\\partial^2 \\log f}{\\partial \\eta^2} = -\\mu.

``log y!`` comes from a table for ``y < 1024`` and ``lgamma`` above.  Large inputs run in
parallel over fixed chunks summed in a fixed order (thread-count independent results).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from pakcast.models.likelihood._special import log_factorial
from pakcast.models.likelihood.negbin import (
    _EMPTY,
    PARALLEL_MIN_N,
    _as_counts,
    _as_float,
    chunk_bounds,
    chunk_partials,
    sum_chunks,
)


@njit(cache=True, inline="always", error_model="numpy")
def _pois_chunk(c, y, eta, w, off, de_out):
    start, stop = chunk_bounds(c, y.size)
    has_w = w.size > 0
    has_off = off.size > 0
    s = 0.0
    for i in range(start, stop):
        e = eta[i] + off[i] if has_off else eta[i]
        mu = math.exp(e)
        yi = y[i]
        ll = yi * e - mu - log_factorial(yi) if yi > 0 else -mu
        de = yi - mu
        if has_w:
            ll *= w[i]
            de *= w[i]
        de_out[i] = de
        s += ll
    return s


@njit(cache=True, error_model="numpy")
def _pois_serial(y, eta, w, off, de_out):
    p = chunk_partials(y.size, 1)
    for c in range(p.shape[0]):
        p[c, 0] = _pois_chunk(c, y, eta, w, off, de_out)
    return sum_chunks(p)[0]


@njit(cache=True, parallel=True, error_model="numpy")
def _pois_parallel(y, eta, w, off, de_out):
    p = chunk_partials(y.size, 1)
    for c in prange(p.shape[0]):
        p[c, 0] = _pois_chunk(c, y, eta, w, off, de_out)
    return sum_chunks(p)[0]


def poisson_loglik_grad(y, eta, weights=None, offset=None):
    """Summed Poisson log-likelihood and gradient ``(loglik, d_eta)``.

    Parameters
    ----------
    y : array_like of non-negative integers
    eta : array_like
        Linear predictor :math:`\\log\\mu` (before ``offset``).
    weights, offset : array_like, optional
        Frequency weights; offset added to ``eta``.

    Examples
    --------
    >>> import numpy as np
    >>> ll, de = poisson_loglik_grad(np.array([0, 2]), np.zeros(2))
    >>> round(ll, 6), de.tolist()
    (-2.693147, [-1.0, 1.0])
    """
    y = _as_counts(y)
    n = y.size
    eta = _as_float(eta, n, "eta")
    w = _EMPTY if weights is None else _as_float(weights, n, "weights")
    off = _EMPTY if offset is None else _as_float(offset, n, "offset")
    de = np.empty(n)
    kern = _pois_parallel if n >= PARALLEL_MIN_N else _pois_serial
    return kern(y, eta, w, off, de), de


def _poisson_llg_trusted(y, eta, w=_EMPTY):
    """:func:`poisson_loglik_grad` without input checks (validated float64 arrays)."""
    de = np.empty(y.size)
    kern = _pois_parallel if y.size >= PARALLEL_MIN_N else _pois_serial
    return kern(y, eta, w, _EMPTY, de), de


def poisson_logpmf(y, mu):
    """Elementwise Poisson log-pmf (``mu = 0`` gives 0 at ``y = 0`` and ``-inf`` elsewhere)."""
    y, mu = np.broadcast_arrays(np.asarray(y, float), np.asarray(mu, float))
    shape = y.shape
    yv = _as_counts(y.ravel())
    muv = np.ascontiguousarray(mu.ravel())
    if np.any(muv < 0):
        raise ValueError("mu must be non-negative")
    out = np.empty(yv.size)
    _pois_logpmf_kernel(yv, muv, out)
    return out.reshape(shape)


@njit(cache=True, error_model="numpy")
def _pois_logpmf_kernel(y, mu, out):
    for i in range(y.size):
        yi = y[i]
        m = mu[i]
        if yi == 0:
            out[i] = -m
        elif m == 0.0:
            out[i] = -np.inf
        else:
            out[i] = yi * math.log(m) - m - log_factorial(yi)
