"""Special functions for the count kernels, written so that Numba can inline them.

The negative binomial log-pmf needs ``lgamma(y + r) - lgamma(r)`` and its derivative
``digamma(y + r) - digamma(r)`` with ``r = 1/alpha``.  For the small counts that dominate
event data these are finite sums,

.. math::

    \\log\\Gamma(y + r) - \\log\\Gamma(r) - y \\log r = \\sum_{k<y} \\log(1 + k\\alpha),
    \\qquad
    y - r\\,[\\psi(y + r) - \\psi(r)] = \\sum_{k<y} \\frac{k\\alpha}{1 + k\\alpha},

which :func:`small_count_sums` evaluates with one ``log1p`` and one division per element
(running product and running fraction, renormalised before overflow) instead of two
``lgamma`` and two ``digamma`` calls; with one dispersion shared by a whole call,
:func:`count_sums_table` tabulates them once per call, so an observation costs a lookup.  Both sums vanish as ``alpha -> 0``, so the Poisson
limit needs no special case and loses no digits.  Large counts switch to Stirling/asymptotic
differences (:func:`large_count_sums`) written in the same cancellation-free form.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: counts up to this value use the exact finite sums; larger counts the asymptotic forms.
SMALL_COUNT_MAX = 64

#: log(k!) for k = 0 .. LGAMMA_TABLE_SIZE - 1 (exact to double rounding).
LGAMMA_TABLE_SIZE = 1024
LOG_FACTORIAL = np.array([math.lgamma(k + 1.0) for k in range(LGAMMA_TABLE_SIZE)])

_RENORM = 1e250


@njit(cache=True, inline="always", error_model="numpy")
def log_factorial(y):
    """log(y!) for a non-negative integer-valued float ``y``."""
    if y < LGAMMA_TABLE_SIZE:
        return LOG_FACTORIAL[int(y)]
    return math.lgamma(y + 1.0)


@njit(cache=True, inline="always", error_model="numpy")
def log1pmx_over_x(x):
    """``(log1p(x) - x) / x`` for ``x >= 0``, accurate near 0 (series) and elsewhere."""
    if x < 0.0625:
        # -x/2 + x^2/3 - x^3/4 + ... ; 14 terms reach < 1e-18 relative at x = 1/16, 8 at x < 0.01
        s = 0.0
        p = 1.0
        nt = 8 if x < 0.01 else 14
        for n in range(nt):
            p *= -x
            s += p / (n + 2.0)
        return s
    return (math.log1p(x) - x) / x


@njit(cache=True, inline="always", error_model="numpy")
def log1p_over_x(x):
    """``log1p(x) / x`` with the limit 1 at ``x = 0``."""
    return 1.0 + log1pmx_over_x(x)


@njit(cache=True, inline="always", error_model="numpy")
def small_count_sums(y, a):
    """Return ``(T, U)`` with ``T = sum_{k<y} log1p(k a)`` and ``U = sum_{k<y} k a / (1 + k a)``.

    Evaluated as ``T = log1p(Q)``, ``U = N / (1 + Q)`` with ``1 + Q = prod (1 + k a)`` and the
    running numerator ``N``, renormalised (``T += log1p(Q)``) before the product overflows.
    All terms are non-negative, so no digits are lost.
    """
    n = int(y)
    q = 0.0
    num = 0.0
    t = 0.0
    u = 0.0
    for k in range(1, n):
        q, num, t, u = _product_step(k * a, q, num, t, u)
    t += math.log1p(q)
    u += num / (1.0 + q)
    return t, u


@njit(cache=True, inline="always", error_model="numpy")
def _product_step(ka, q, num, t, u):
    """One term ``k a`` of the running product of :func:`small_count_sums`: ``1 + Q`` times
    ``1 + k a`` and its numerator, renormalised into ``t``, ``u`` before the product overflows."""
    one_q = 1.0 + q
    num = num * (1.0 + ka) + ka * one_q
    q = q + ka * one_q
    if q > _RENORM:
        t += math.log1p(q)
        u += num / (1.0 + q)
        q = 0.0
        num = 0.0
    return q, num, t, u


@njit(cache=True, inline="always", error_model="numpy")
def _stirling_corr(z):
    """lgamma(z) - [(z - 1/2) log z - z + log(2 pi)/2] for z >= 30 (error < 1e-17)."""
    z2 = 1.0 / (z * z)
    return (1.0 / 12.0 - z2 * (1.0 / 360.0 - z2 * (1.0 / 1260.0 - z2 / 1680.0))) / z


@njit(cache=True, inline="always", error_model="numpy")
def digamma(x):
    """Digamma for ``x > 0`` (recurrence to x >= 10, then the asymptotic series)."""
    acc = 0.0
    while x < 10.0:
        acc -= 1.0 / x
        x += 1.0
    z2 = 1.0 / (x * x)
    series = z2 * (1.0 / 12.0 - z2 * (1.0 / 120.0 - z2 * (1.0 / 252.0 - z2 * (1.0 / 240.0 - z2 / 132.0))))
    return acc + math.log(x) - 0.5 / x - series


@njit(cache=True, inline="always", error_model="numpy")
def _psi_tail(z):
    """digamma(z) - log(z) + 1/(2z) for z >= 30."""
    z2 = 1.0 / (z * z)
    return -z2 * (1.0 / 12.0 - z2 * (1.0 / 120.0 - z2 * (1.0 / 252.0 - z2 / 240.0)))


@njit(cache=True, inline="always", error_model="numpy")
def large_count_sums(y, a, log_a):
    """``(T, U)`` as in :func:`small_count_sums` for any count ``y`` (used for large ``y``).

    For ``r = 1/a >= 30`` the Stirling and asymptotic digamma differences are rewritten with
    ``t = y/r`` as ``T = y M(t) + (y - 1/2) log1p(t) + c(r+y) - c(r)`` and
    ``U = -y M(t) - y / (2 (r+y)) - r [tail(r+y) - tail(r)]`` with ``M(t) = (log1p(t) - t)/t``,
    so that nothing cancels as ``a -> 0``.  Otherwise ``lgamma``/``digamma`` directly.
    """
    if a == 0.0:
        return 0.0, 0.0
    r = 1.0 / a
    if r >= 30.0:
        t = y * a
        m = log1pmx_over_x(t)
        lp = math.log1p(t)
        tt = y * m + (y - 0.5) * lp + _stirling_corr(r + y) - _stirling_corr(r)
        uu = -y * m - y / (2.0 * (r + y)) - r * (_psi_tail(r + y) - _psi_tail(r))
        return tt, uu
    tt = math.lgamma(y + r) - math.lgamma(r) + y * log_a
    uu = y - r * (digamma(y + r) - digamma(r))
    return tt, uu


@njit(cache=True, inline="always", error_model="numpy")
def count_sums(y, a, log_a):
    """Dispatch to :func:`small_count_sums` or :func:`large_count_sums`."""
    if y <= SMALL_COUNT_MAX:
        return small_count_sums(y, a)
    return large_count_sums(y, a, log_a)


#: largest count tabulated by :func:`count_sums_table` (per call, for a shared dispersion).
TABLE_MAX = 4096


@njit(cache=True, error_model="numpy")
def count_sums_at(counts, a, T, U):
    """Write ``T[y] - log(y!)`` and ``U[y]`` of :func:`small_count_sums` into ``T``, ``U`` at each of
    the sorted distinct ``counts`` (the other entries are left as they are).

    One sweep up to the largest count with the running product of :func:`small_count_sums`
    (a multiply-add per count, a logarithm only where a count is read or the product is
    renormalised), so a dispersion group whose figures reach a count of ``n`` costs about ``n``
    multiply-adds instead of ``n`` logarithms (:func:`count_sums_table`).
    """
    q = 0.0
    num = 0.0
    t = 0.0
    u = 0.0
    j = 0
    n = counts.size
    if n == 0:
        return
    top = counts[n - 1]
    for k in range(top + 1):
        if counts[j] == k:
            T[k] = t + math.log1p(q) - (LOG_FACTORIAL[k] if k < LGAMMA_TABLE_SIZE else math.lgamma(k + 1.0))
            U[k] = u + num / (1.0 + q)
            j += 1
            if j == n:
                return
        q, num, t, u = _product_step(k * a, q, num, t, u)


@njit(cache=True, error_model="numpy")
def count_sums_table(ymax, a, log_a):
    """Tables ``T[y] - log(y!)`` and ``U[y]`` of :func:`small_count_sums`, ``y = 0 .. min(ymax, TABLE_MAX)``.

    With one dispersion shared by all observations the finite sums depend on the count only, so
    they are tabulated once per call by the recurrences ``T[y+1] = T[y] + log1p(y a)`` and
    ``U[y+1] = U[y] + y a / (1 + y a)`` (all terms non-negative: no cancellation) and each
    observation costs a table lookup instead of a loop.
    """
    m = int(min(max(ymax, 0.0), TABLE_MAX)) + 1
    T = np.empty(m)
    U = np.empty(m)
    t = 0.0
    u = 0.0
    for k in range(m):
        # the table holds T[y] - log(y!), the whole count-only part of the log-pmf
        T[k] = t - LOG_FACTORIAL[k] if k < LGAMMA_TABLE_SIZE else t - math.lgamma(k + 1.0)
        U[k] = u
        ka = k * a
        t += math.log1p(ka)
        u += ka / (1.0 + ka)
    return T, U
