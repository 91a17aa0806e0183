"""Numba log-density and exact gradient of the measurement model (the sampler's hot loop).

One call evaluates the joint log-density of every unconstrained parameter (priors, Jacobian of
the log-transformed pooled innovation scale, NB2 likelihood of every observation) and its
gradient by a hand-written reverse pass: the likelihood's derivative with respect to each
observation's period sum goes to the two ends of its cumulative-sum window, a reverse cumulative
sum turns those into derivatives per month, and a second reverse cumulative sum carries them to
the random-walk innovations. Cost is linear in months x units x measures plus observations x
covered units. The NB2 terms come from the shared kernel
:func:`pakcast.models.likelihood.negbin._nb_elem` (full normalising constants), so the density
equals the PyMC model of :meth:`MeasurementModel.build` exactly (tested).

Parameter vector layout (:class:`Layout`): ``level (M, U), log_sigma_mean (M), log(log_sigma_sd)
(M), log_sigma_raw (M, U), z (M, U, T-1), season_raw (M, S-1), effect (E, M, U), log_kappa (F),
log_alpha (K)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from pakcast.models.likelihood.negbin import _nb_elem

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True)
class Layout:
    """Sizes and offsets of the blocks of the unconstrained parameter vector."""

    M: int
    U: int
    T: int
    S: int   # seasons (0 = none)
    E: int
    F: int
    K: int

    @property
    def blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        M, U, T, S, E, F, K = self.M, self.U, self.T, self.S, self.E, self.F, self.K
        return [("level", (M, U)), ("log_sigma_mean", (M,)), ("log_log_sigma_sd", (M,)),
                ("log_sigma_raw", (M, U)), ("z", (M, U, max(T - 1, 0))), ("season_raw", (M, max(S - 1, 0))),
                ("effect", (E, M, U)), ("log_kappa", (F,)), ("log_alpha", (K,))]

    @property
    def offsets(self) -> dict[str, tuple[int, int]]:
        out, o = {}, 0
        for name, shape in self.blocks:
            n = int(np.prod(shape)) if shape else 1
            out[name] = (o, o + n)
            o += n
        return out

    @property
    def ndim(self) -> int:
        return list(self.offsets.values())[-1][1]

    def unpack(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return {name: x[a:b].reshape(shape) for (name, shape), (a, b) in zip(self.blocks, self.offsets.values())}


def zero_sum_basis(n: int) -> np.ndarray:
    """Orthonormal basis (n, n-1) of the vectors summing to zero (Helmert): ``s = H r`` with
    :math:`r \\sim N(0, \\sigma^2 I_{n-1})` is PyMC's ``ZeroSumNormal(sigma)``."""
    if n < 2:
        return np.zeros((n, 0))
    H = np.zeros((n, n - 1))
    for k in range(1, n):
        H[:k, k - 1] = 1.0 / math.sqrt(k * (k + 1))
        H[k, k - 1] = -k / math.sqrt(k * (k + 1))
    return H


@njit(cache=True, inline="always")
def _normal(v, mu, sd):
    d = (v - mu) / sd
    return -0.5 * d * d - math.log(sd) - _HALF_LOG_2PI, -d / sd


@njit(cache=True, nogil=True, error_model="numpy")
def logp_grad(x, dims, y, obs_key, lo, hi, sidx, H, xeff, free_idx, pri, g):
    """Joint log-density at ``x``; writes the gradient into ``g`` (same length)."""
    M, U, T, S, E, F, K = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6]
    o_lv = 0
    o_lsm = o_lv + M * U
    o_lsd = o_lsm + M
    o_raw = o_lsd + M
    o_z = o_raw + M * U
    o_s = o_z + M * U * (T - 1)
    nsr = S - 1 if S > 1 else 0
    o_e = o_s + M * nsr
    o_k = o_e + E * M * U
    o_a = o_k + F
    for i in range(g.size):
        g[i] = 0.0
    lp = 0.0
    # ---- priors
    for m in range(M):
        mu = pri[0] if m == 0 else pri[2]
        sd = pri[1] if m == 0 else pri[3]
        for u in range(U):
            a, b = _normal(x[o_lv + m * U + u], mu, sd)
            lp += a
            g[o_lv + m * U + u] += b
        a, b = _normal(x[o_lsm + m], pri[4], pri[5])
        lp += a
        g[o_lsm + m] += b
        v = x[o_lsd + m]
        s = math.exp(v)
        sc = pri[6]
        lp += math.log(2.0) - _HALF_LOG_2PI - math.log(sc) - 0.5 * s * s / (sc * sc) + v
        g[o_lsd + m] += -s * s / (sc * sc) + 1.0
    for j in range(o_raw, o_s):
        lp += -0.5 * x[j] * x[j] - _HALF_LOG_2PI
        g[j] -= x[j]
    for j in range(o_s, o_e):
        a, b = _normal(x[j], 0.0, pri[7])
        lp += a
        g[j] += b
    for j in range(o_e, o_k):
        a, b = _normal(x[j], pri[8], pri[9])
        lp += a
        g[j] += b
    for j in range(o_k, o_a):
        a, b = _normal(x[j], pri[10], pri[11])
        lp += a
        g[j] += b
    for j in range(o_a, o_a + K):
        a, b = _normal(x[j], pri[12], pri[13])
        lp += a
        g[j] += b
    # ---- forward: latent log-intensity
    sigma = np.empty((M, U))
    season = np.zeros((M, S if S > 0 else 1))
    if S > 1:
        for m in range(M):
            for jj in range(S):
                acc = 0.0
                for k in range(nsr):
                    acc += H[jj, k] * x[o_s + m * nsr + k]
                season[m, jj] = acc
    loglin = np.empty((M, U, T))
    for m in range(M):
        lsd = math.exp(x[o_lsd + m])
        for u in range(U):
            sg = math.exp(x[o_lsm + m] + lsd * x[o_raw + m * U + u])
            sigma[m, u] = sg
            w = 0.0
            base_z = o_z + (m * U + u) * (T - 1)
            lev = x[o_lv + m * U + u]
            for t in range(T):
                if t > 0:
                    w += sg * x[base_z + t - 1]
                val = lev + w
                if S > 1:
                    val += season[m, sidx[t]]
                for e in range(E):
                    val += x[o_e + (e * M + m) * U + u] * xeff[e, t]
                loglin[m, u, t] = val
    W = T + 1
    lam = np.empty((M, U, T))
    csum = np.empty(M * U * W)
    for m in range(M):
        for u in range(U):
            base = (m * U + u) * W
            csum[base] = 0.0
            acc = 0.0
            for t in range(T):
                ll = loglin[m, u, t] if m == 0 else loglin[0, u, t] + loglin[m, u, t]
                lv = math.exp(ll)
                lam[m, u, t] = lv
                acc += lv
                csum[base + t + 1] = acc
    # ---- likelihood
    dC = np.zeros(M * U * W)
    dlk = np.zeros(K)
    logk = np.zeros(K)
    for f in range(F):
        logk[free_idx[f]] = x[o_k + f]
    n = y.size
    kmax = lo.shape[1]
    for i in range(n):
        tot = 0.0
        for j in range(kmax):
            tot += csum[hi[i, j]] - csum[lo[i, j]]
        tot = max(tot, 1e-300)
        k = obs_key[i]
        eta = logk[k] + math.log(tot)
        ll, de, dla = _nb_elem(y[i], eta, x[o_a + k])
        lp += ll
        dlk[k] += de
        g[o_a + k] += dla
        dt = de / tot
        for j in range(kmax):
            if hi[i, j] != lo[i, j]:
                dC[hi[i, j]] += dt
                dC[lo[i, j]] -= dt
    for f in range(F):
        g[o_k + f] += dlk[free_idx[f]]
    # ---- backward
    dlin = np.zeros((M, U, T))
    for m in range(M):
        for u in range(U):
            base = (m * U + u) * W
            acc = 0.0
            for t in range(T - 1, -1, -1):
                acc += dC[base + t + 1]
                d = acc * lam[m, u, t]
                dlin[m, u, t] += d
                if m > 0:
                    dlin[0, u, t] += d
    dseas = np.zeros(S if S > 0 else 1)
    for m in range(M):
        lsd = math.exp(x[o_lsd + m])
        dlsm = 0.0
        dlsd = 0.0
        for jj in range(dseas.size):
            dseas[jj] = 0.0
        for u in range(U):
            sg = sigma[m, u]
            base_z = o_z + (m * U + u) * (T - 1)
            dlev = 0.0
            acc = 0.0
            dsg = 0.0
            for t in range(T - 1, -1, -1):
                d = dlin[m, u, t]
                dlev += d
                if S > 1:
                    dseas[sidx[t]] += d
                for e in range(E):
                    g[o_e + (e * M + m) * U + u] += xeff[e, t] * d
                if t > 0:
                    acc += d
                    zi = x[base_z + t - 1]
                    g[base_z + t - 1] += sg * acc
                    dsg += zi * acc
            g[o_lv + m * U + u] += dlev
            dls = dsg * sg
            raw = x[o_raw + m * U + u]
            dlsm += dls
            dlsd += dls * raw
            g[o_raw + m * U + u] += dls * lsd
        g[o_lsm + m] += dlsm
        g[o_lsd + m] += dlsd * lsd
        if S > 1:
            for k in range(nsr):
                acc = 0.0
                for jj in range(S):
                    acc += H[jj, k] * dseas[jj]
                g[o_s + m * nsr + k] += acc
    return lp
