"""Negative binomial (NB2) log-likelihood, gradient and Hessian kernels (Numba).

Model
-----
For a count :math:`y` with mean :math:`\\mu = e^{\\eta}` and dispersion :math:`\\alpha = e^{\\lambda}`
(variance :math:`\\mu + \\alpha\\mu^2`), with :math:`r = 1/\\alpha` and :math:`x = \\alpha\\mu`,

.. math::

    \\log f(y) = \\log\\Gamma(y + r) - \\log\\Gamma(r) - \\log y!
                 + r \\log\\frac{r}{r + \\mu} + y \\log\\frac{\\mu}{r + \\mu}.

The kernels evaluate the algebraically equal form

.. math::

    \\log f(y) = T(y) - \\log y! + y\\eta - y\\,\\mathrm{log1p}(x) - \\mu\\,\\frac{\\mathrm{log1p}(x)}{x},
    \\qquad T(y) = \\sum_{k<y} \\mathrm{log1p}(k\\alpha),

with the exact derivatives

.. math::

    \\frac{\\partial \\log f}{\\partial \\eta} = \\frac{y - \\mu}{1 + x}, \\qquad
    \\frac{\\partial \\log f}{\\partial \\lambda} = -\\frac{(y - \\mu)\\,x}{1 + x}
        + \\mu\\,\\frac{\\mathrm{log1p}(x) - x}{x} + \\sum_{k<y} \\frac{k\\alpha}{1 + k\\alpha}.

Every term is either exact or a sum of same-signed pieces, so the Poisson limit
(:math:`\\alpha \\to 0`, ``log_alpha = -inf`` allowed), :math:`\\mu \\to 0` and huge counts lose
no digits; see :mod:`models.likelihood._special` for the finite sums and the large-count switch.

Public functions take numpy arrays; ``log_alpha`` is a scalar (one dispersion) or an array of
the same length as ``y`` (then ``d_log_alpha`` is returned per observation).  Sums run over
fixed chunks of 4096 whose partial sums are added in a fixed order, in the serial kernel and in
the parallel (``prange``) one alike, so results do not depend on the thread count (and the two
builds agree to the last bit or two);
inputs of ``N >= PARALLEL_MIN_N`` (default 2e6, env ``PAKCAST_PARALLEL_MIN_N``) use threads.
"""

from __future__ import annotations

import math
import os

import numpy as np
from numba import njit, prange

from pakcast.models.likelihood._special import count_sums, count_sums_table, log1pmx_over_x, log_factorial

CHUNK = 4096
#: below this N the serial kernel runs; above it the chunked ``prange`` kernel (same result to
#: the bit).  On a busy 2-core machine the threads cost more than they save (see
#: docs/readme/performance.md), hence the high default; override with PAKCAST_PARALLEL_MIN_N.
PARALLEL_MIN_N = int(os.environ.get("PAKCAST_PARALLEL_MIN_N", "2000000"))


# The chunked sums of every count likelihood here (NB2, Poisson, ZINB, hurdle): chunk ``c`` covers
# ``chunk_bounds(c, n)``; its partial sums fill row ``c`` of ``chunk_partials(n, k)``, and
# ``sum_chunks`` adds the rows in chunk order, so the serial and the ``prange`` kernel (a pair per
# likelihood, the loop being all that differs) give the same sums whatever the thread count.


@njit(cache=True, inline="always")
def chunk_bounds(c, n):
    """First and one-past-last observation of chunk ``c`` of ``n`` observations."""
    start = c * CHUNK
    return start, min(n, start + CHUNK)


@njit(cache=True, inline="always")
def chunk_partials(n, k):
    """Zeroed partial sums: one row per chunk of ``n`` observations, ``k`` sums each."""
    return np.zeros(((n + CHUNK - 1) // CHUNK, k))


@njit(cache=True)  # not inlined: inside a parallel kernel the in-place sum would become a parfor
def sum_chunks(p):
    """Column totals of the partial sums, added in chunk order (thread-count independent)."""
    s = np.zeros(p.shape[1])
    for c in range(p.shape[0]):
        s += p[c]
    return s


@njit(cache=True, inline="always", error_model="numpy")
def _nb_elem(y, eta, la):
    """(loglik, d_eta, d_log_alpha) for one observation."""
    return _nb_elem_a(y, eta, la, math.exp(la), math.exp(-la))


@njit(cache=True, inline="always", error_model="numpy")
def _nb_elem_a(y, eta, la, a, inv_a):
    """As :func:`_nb_elem` with ``a = exp(la)`` and ``1/a`` precomputed (shared dispersion)."""
    return _nb_elem_tab(y, eta, la, a, inv_a, _NO_TABLE, _NO_TABLE)


_NO_TABLE = np.zeros(1)


@njit(cache=True, inline="always", error_model="numpy")
def _nb_elem_tab(y, eta, la, a, inv_a, T, U):
    """As :func:`_nb_elem_a`, reading the finite sums from tables ``T``, ``U`` (index = count)
    when the count is inside them (see :func:`models.likelihood._special.count_sums_table`)."""
    return _nb_elem_mu(y, math.exp(eta), eta, la, a, inv_a, T, U)


@njit(cache=True, inline="always", error_model="numpy")
def _nb_elem_mu(y, mu, eta, la, a, inv_a, T, U):
    """:func:`_nb_elem_tab` at the mean ``mu`` with ``eta = log(mu)``, which is read only where
    ``y > 0`` (a caller with many zero counts may skip the logarithm there)."""
    x = a * mu
    if x < 0.01:
        lp = math.log1p(x)
        mu_l1 = mu * log1pmx_over_x(x)  # mu (log1p(x) - x) / x
    else:
        # x >= 0.01: log(1 + x) has relative error < eps/x (< 2.3e-14), and (lp - x)/a loses at
        # most ~eps/x: far inside the 1e-12 target; log is cheaper than log1p, and mu/x = 1/a
        # saves a division
        lp = math.log(1.0 + x)
        mu_l1 = (lp - x) * inv_a
    if y < T.size:
        iy = int(y)
        t_lf = T[iy]  # T(y) - log(y!)
        u = U[iy]
    else:
        t, u = count_sums(y, a, la)
        t_lf = t - log_factorial(y)
    ll = t_lf + (y * eta if y > 0 else 0.0) - y * lp - mu - mu_l1
    ymu = y - mu
    inv = 1.0 / (1.0 + x)
    de = ymu * inv
    dla = -ymu * x * inv + mu_l1 + u
    return ll, de, dla


@njit(cache=True, inline="always", error_model="numpy")
def _nb_chunk(c, y, eta, la, w, off, de_out, dla_out, T, U):
    start, stop = chunk_bounds(c, y.size)
    has_w = w.size > 0
    has_off = off.size > 0
    vec_la = la.size > 1
    s_ll = 0.0
    s_dla = 0.0
    la0 = la[0]
    a0 = math.exp(la0)
    inv_a0 = math.exp(-la0)
    for i in range(start, stop):
        e = eta[i] + off[i] if has_off else eta[i]
        if vec_la:
            ll, de, dla = _nb_elem(y[i], e, la[i])
        else:
            ll, de, dla = _nb_elem_tab(y[i], e, la0, a0, inv_a0, T, U)
        if has_w:
            wi = w[i]
            ll *= wi
            de *= wi
            dla *= wi
        de_out[i] = de
        if vec_la:
            dla_out[i] = dla
        s_ll += ll
        s_dla += dla
    return s_ll, s_dla


@njit(cache=True, error_model="numpy")
def _tables(y, la):
    """Per-call count tables for a shared dispersion (empty for per-observation dispersions)."""
    if la.size > 1 or y.size < 64:
        return _NO_TABLE, _NO_TABLE
    ymax = 0.0
    for i in range(y.size):
        if y[i] > ymax:
            ymax = y[i]
    return count_sums_table(ymax, math.exp(la[0]), la[0])


@njit(cache=True, inline="always", error_model="numpy")
def _nb_setup(y, la):
    """Partial sums (log-likelihood, d_log_alpha) per chunk and the count tables of one call."""
    T, U = _tables(y, la)
    return chunk_partials(y.size, 2), T, U


@njit(cache=True, inline="always")
def _nb_totals(p):
    s = sum_chunks(p)
    return s[0], s[1]


@njit(cache=True, error_model="numpy")
def _nb_llg_serial(y, eta, la, w, off, de_out, dla_out):
    p, T, U = _nb_setup(y, la)
    for c in range(p.shape[0]):
        p[c, 0], p[c, 1] = _nb_chunk(c, y, eta, la, w, off, de_out, dla_out, T, U)
    return _nb_totals(p)


@njit(cache=True, parallel=True, error_model="numpy")
def _nb_llg_parallel(y, eta, la, w, off, de_out, dla_out):
    p, T, U = _nb_setup(y, la)
    for c in prange(p.shape[0]):
        p[c, 0], p[c, 1] = _nb_chunk(c, y, eta, la, w, off, de_out, dla_out, T, U)
    return _nb_totals(p)


@njit(cache=True, error_model="numpy")
def _nb_logpmf_kernel(y, eta, la, out):
    vec_la = la.size > 1
    for i in range(y.size):
        out[i] = _nb_elem(y[i], eta[i], la[i] if vec_la else la[0])[0]


@njit(cache=True, error_model="numpy")
def _nb_count_part_kernel(y, la, out):
    a = math.exp(la)
    for i in range(y.size):
        t, _ = count_sums(y[i], a, la)
        out[i] = t - log_factorial(y[i])


@njit(cache=True, error_model="numpy")
def _nb_hessian_kernel(y, eta, la, h_ee, h_el, h_ll):
    """Per-observation second derivatives in (eta, log_alpha)."""
    vec_la = la.size > 1
    for i in range(y.size):
        lai = la[i] if vec_la else la[0]
        a = math.exp(lai)
        mu = math.exp(eta[i])
        x = a * mu
        inv = 1.0 / (1.0 + x)
        yi = y[i]
        h_ee[i] = -mu * (1.0 + a * yi) * inv * inv
        h_el[i] = -(yi - mu) * x * inv * inv
        # V = sum_{k<y} k a / (1 + k a)^2
        v = 0.0
        if yi <= 100_000.0:
            for k in range(1, int(yi)):
                ka = k * a
                v += ka / ((1.0 + ka) * (1.0 + ka))
        else:
            r = 1.0 / a
            v = (yi - count_sums(yi, a, lai)[1]) - r * r * (_trigamma(r) - _trigamma(r + yi))
        h_ll[i] = -(yi - mu) * x * inv * inv - mu * log1pmx_over_x(x) - mu * x * inv + v


@njit(cache=True, error_model="numpy")
def _trigamma(x):
    acc = 0.0
    while x < 10.0:
        acc += 1.0 / (x * x)
        x += 1.0
    z = 1.0 / x
    z2 = z * z
    return acc + z + 0.5 * z2 + z * z2 * (1.0 / 6.0 - z2 * (1.0 / 30.0 - z2 * (1.0 / 42.0 - z2 / 30.0)))


# --------------------------------------------------------------------------------------------
# input handling


def _as_counts(y, name: str = "y") -> np.ndarray:
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.ndim != 1:
        y = y.ravel()
    if y.size and (not np.all(np.isfinite(y)) or y.min() < 0 or np.any(y != np.floor(y))):
        bad = np.flatnonzero(~np.isfinite(y) | (y < 0) | (y != np.floor(y)))[0]
        raise ValueError(f"{name}[{bad}] = {float(y[bad])!r}: counts must be finite non-negative integers")
    return y


def _as_float(v, n: int, name: str) -> np.ndarray:
    v = np.ascontiguousarray(v, dtype=np.float64).ravel()
    if v.size == 1 and n != 1:
        v = np.full(n, v[0])
    if v.size != n:
        raise ValueError(f"{name} has length {v.size}; expected {n} (the length of y)")
    return v


def _as_log_alpha(log_alpha, n: int) -> np.ndarray:
    la = np.ascontiguousarray(log_alpha, dtype=np.float64).ravel()
    if la.size not in (1, n):
        raise ValueError(f"log_alpha has length {la.size}; expected 1 or {n} (the length of y)")
    if np.any(np.isnan(la)) or np.any(la == np.inf):
        raise ValueError("log_alpha must be finite or -inf (the Poisson limit)")
    return la


_EMPTY = np.zeros(0)


def _prepare(y, eta, log_alpha, weights, offset):
    y = _as_counts(y)
    n = y.size
    eta = _as_float(eta, n, "eta")
    la = _as_log_alpha(log_alpha, n)
    w = _EMPTY if weights is None else _as_float(weights, n, "weights")
    off = _EMPTY if offset is None else _as_float(offset, n, "offset")
    return y, eta, la, w, off


def negbin_loglik_grad(y, eta, log_alpha, weights=None, offset=None):
    """Summed NB2 log-likelihood and its exact gradient.

    Parameters
    ----------
    y : array_like of non-negative integers, shape (n,)
    eta : array_like, shape (n,)
        Linear predictor, :math:`\\log\\mu` (before ``offset``).
    log_alpha : float or array_like of shape (n,)
        Log of the NB2 dispersion :math:`\\alpha` (variance :math:`\\mu + \\alpha\\mu^2`);
        ``-inf`` gives the Poisson likelihood.
    weights : array_like, optional
        Frequency weights multiplying each observation's log-likelihood.
    offset : array_like, optional
        Added to ``eta`` (e.g. log exposure).

    Returns
    -------
    loglik : float
    d_eta : ndarray, shape (n,)
        :math:`w_i\\,\\partial \\ell_i / \\partial \\eta_i`.
    d_log_alpha : float or ndarray
        Sum over observations for scalar ``log_alpha``, per observation otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> ll, de, dla = negbin_loglik_grad(np.array([0, 3]), np.log([1.0, 2.0]), np.log(0.5))
    >>> round(ll, 6)
    -2.830126
    """
    y, eta, la, w, off = _prepare(y, eta, log_alpha, weights, offset)
    n = y.size
    de = np.empty(n)
    dla = np.empty(n) if la.size > 1 else _EMPTY
    kern = _nb_llg_parallel if n >= PARALLEL_MIN_N else _nb_llg_serial
    ll, s_dla = kern(y, eta, la, w, off, de, dla)
    if la.size > 1:
        return ll, de, dla
    return ll, de, s_dla


def _negbin_llg_trusted(y, eta, la, w=_EMPTY):
    """:func:`negbin_loglik_grad` without input checks (callers pass validated float64 arrays;
    ``la`` a float64 array of length 1 or n)."""
    n = y.size
    de = np.empty(n)
    dla = np.empty(n) if la.size > 1 else _EMPTY
    kern = _nb_llg_parallel if n >= PARALLEL_MIN_N else _nb_llg_serial
    ll, s_dla = kern(y, eta, la, w, _EMPTY, de, dla)
    return ll, de, (dla if la.size > 1 else s_dla)


def negbin_loglik_grad_obs(y, eta, log_alpha, offset=None):
    """Per-observation log-likelihood and score: ``(ll_i, d_eta_i, d_log_alpha_i)`` arrays."""
    y, eta, la, _, off = _prepare(y, eta, log_alpha, None, offset)
    if off.size:
        eta = eta + off
    la_vec = la if la.size > 1 else np.full(y.size, la[0])
    ll = negbin_logpmf_eta(y, eta, la_vec)
    de = np.empty(y.size)
    dla = np.empty(y.size)
    _nb_llg_serial(y, eta, la_vec, _EMPTY, _EMPTY, de, dla)
    return ll, de, dla


def negbin_logpmf_eta(y, eta, log_alpha):
    """Elementwise NB2 log-pmf in the (eta, log_alpha) parameterisation."""
    y, eta, la, _, _ = _prepare(y, eta, log_alpha, None, None)
    out = np.empty(y.size)
    _nb_logpmf_kernel(y, eta, la, out)
    zero = eta == -np.inf  # a mean of 0 is the point mass at 0
    if zero.any():
        out[zero] = np.where(y[zero] == 0, 0.0, -np.inf)
    return out


def negbin_logpmf(y, mu, alpha):
    """Elementwise NB2 log-pmf, :math:`\\log f(y; \\mu, \\alpha)` (variance :math:`\\mu + \\alpha\\mu^2`).

    ``alpha = 0`` gives the Poisson log-pmf.  Equivalent to
    ``scipy.stats.nbinom.logpmf(y, 1/alpha, 1/(1 + alpha*mu))`` (but exact where scipy loses
    digits: tiny ``alpha``, huge ``y``).  Inputs broadcast against each other.
    """
    y, mu, alpha = np.broadcast_arrays(np.asarray(y, float), np.asarray(mu, float), np.asarray(alpha, float))
    shape = y.shape
    if np.any(mu < 0) or np.any(alpha < 0):
        raise ValueError("mu and alpha must be non-negative")
    with np.errstate(divide="ignore"):
        eta = np.log(mu.ravel())
        la = np.log(alpha.ravel())
    out = negbin_logpmf_eta(y.ravel(), eta, la if la.size > 1 else la[:1])
    return out.reshape(shape)


def negbin_count_part(y, log_alpha: float) -> np.ndarray:
    r"""The part of the NB2 log-pmf that does not involve the mean,
    :math:`T(y) - \log y! = \sum_{k<y} \mathrm{log1p}(k\alpha) - \log y!`, elementwise (one dispersion).

    With it the log-pmf is :math:`T(y) - \log y! + y\eta - y\,\mathrm{log1p}(x) - \mathrm{log1p}(x)/\alpha`
    (:math:`x = \alpha\mu`), so sums over observations sharing a mean need only :math:`\sum y` and
    the cumulative sums of this term (the segment costs of :mod:`models.breaks.costs`).
    """
    y = _as_counts(np.asarray(y, dtype=float).ravel(), "y")
    out = np.empty(y.size)
    _nb_count_part_kernel(y, float(log_alpha), out)
    return out


def negbin_hessian_obs(y, eta, log_alpha):
    """Per-observation second derivatives ``(h_eta_eta, h_eta_logalpha, h_logalpha_logalpha)``."""
    y, eta, la, _, _ = _prepare(y, eta, log_alpha, None, None)
    n = y.size
    h_ee, h_el, h_ll = np.empty(n), np.empty(n), np.empty(n)
    _nb_hessian_kernel(y, eta, la, h_ee, h_el, h_ll)
    return h_ee, h_el, h_ll
