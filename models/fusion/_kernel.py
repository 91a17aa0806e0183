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
log_alpha (K), log_alpha_unit (G), logit_phi (P), kappa_drift (R), log_fast_mean (Q), log(log_fast_sd) (Q),
log_fast_raw (Q, U), fast (Q, U, T)``: ``P = M`` for the AR(1) dynamics (one persistence per measure),
``P = 0`` for the random walk (:math:`\\phi = 1`); ``Q = M`` with the transient month effects, else 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numba import njit
from pakcast.models.likelihood._special import count_sums_at
from pakcast.models.likelihood.negbin import _nb_elem_mu

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
    G: int = 0   # per-unit dispersion groups
    P: int = 0   # AR(1) persistences (0: random walk)
    R: int = 0   # yearly scale-drift innovations
    Q: int = 0   # measures with transient month effects (0: none; M with them)

    @cached_property
    def blocks(self) -> list[tuple[str, tuple[int, ...]]]:
        M, U, T, S, E, F, K, G, P, R = self.M, self.U, self.T, self.S, self.E, self.F, self.K, self.G, self.P, self.R
        Q = self.Q
        return [("level", (M, U)), ("log_sigma_mean", (M,)), ("log_log_sigma_sd", (M,)),
                ("log_sigma_raw", (M, U)), ("z", (M, U, max(T - 1, 0))), ("season_raw", (M, max(S - 1, 0))),
                ("effect", (E, M, U)), ("log_kappa", (F,)), ("log_alpha", (K,)),
                ("log_alpha_unit", (G,)), ("logit_phi", (P,)), ("kappa_drift", (R,)),
                ("log_fast_mean", (Q,)), ("log_log_fast_sd", (Q,)), ("log_fast_raw", (Q, U)), ("fast", (Q, U, T))]

    @cached_property
    def offsets(self) -> dict[str, tuple[int, int]]:
        out, o = {}, 0
        for name, shape in self.blocks:
            n = int(np.prod(shape)) if shape else 1
            out[name] = (o, o + n)
            o += n
        return out

    @cached_property
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


@njit(cache=True, inline="always")
def _log_halfnormal(v, sc):
    r"""Log density and gradient of :math:`v = \log s` with :math:`s \sim N^+(0, sc)` (Jacobian included)."""
    s = math.exp(v)
    return math.log(2.0) - _HALF_LOG_2PI - math.log(sc) - 0.5 * s * s / (sc * sc) + v, -s * s / (sc * sc) + 1.0


@njit(cache=True, inline="always")
def _log_sigma(mu, tau, e, info):
    r"""Partially non-centred :math:`\theta = \log\sigma = w\mu + s e` with
    :math:`P = \tau^{-2} + I`, :math:`w = \tau^{-2}/P`, :math:`s = P^{-1/2}` (``I`` = ``info``,
    a fixed estimate of the data's information about :math:`\theta`; ``I = 0`` is the non-centred
    :math:`\mu + \tau e`). Returns ``theta, w, s, P``."""
    it2 = 1.0 / (tau * tau)
    P = it2 + info
    w = it2 / P
    sc = 1.0 / math.sqrt(P)
    return w * mu + sc * e, w, sc, P


@njit(cache=True)
def _walk_cholesky(sg, s0, hrow, T, Ld, Lo, dLd, dLo, phi, pLd, pLo):
    r"""One series' factor of :func:`_walk_choleskys` (``sg``, ``phi`` scalars, ``hrow`` and the
    outputs of length ``T``); returns :math:`\sum_t \log L_{tt}`."""
    logdet = np.empty((1, 1))
    _walk_choleskys(np.full((1, 1), sg), np.full(1, s0), np.full(1, phi), hrow[:T].reshape((1, 1, T)),
                    Ld.reshape((1, 1, T)), Lo.reshape((1, 1, T)), dLd.reshape((1, 1, T)), dLo.reshape((1, 1, T)),
                    pLd.reshape((1, 1, T)), pLo.reshape((1, 1, T)), np.empty((1, 1, T)), logdet)
    return logdet[0, 0]


@njit(cache=True, inline="always")
def _walk_choleskys(sg, s0, phi, h, Ld, Lo, dLd, dLo, pLd, pLo, iLd, logdet):
    r"""Bidiagonal Cholesky factors ``L`` of :math:`P = A(\sigma, \phi) + \mathrm{diag}(h)` of every
    series ``(m, u)`` (``A`` the prior precision of one AR(1) series, :math:`\delta_0 \sim N(0, s_0^2)`,
    :math:`\delta_t = \phi\delta_{t-1} + \sigma z_t`; :math:`\phi = 1` is the random walk; ``sg``
    (M, U), ``s0`` and ``phi`` (M,), ``h`` and the outputs (M, U, T)), their derivatives with respect
    to :math:`\sigma` (``dLd, dLo``) and :math:`\phi` (``pLd, pLo``), the reciprocals ``iLd`` of
    the diagonals and :math:`\sum_t \log L_{tt}` (``logdet``, (M, U)).

    The recurrence is serial in ``t``; the series are independent, so the month loop is the outer
    one and the series' recurrences overlap in the processor instead of waiting on one another's
    divisions and square roots.
    """
    M, U, T = Ld.shape
    prod = np.ones((M, U))              # running products of the diagonals (one log per renormalisation)
    for m in range(M):
        for u in range(U):
            logdet[m, u] = 0.0
    for t in range(T):
        for m in range(M):
            f2 = phi[m] * phi[m]
            i0 = 1.0 / (s0[m] * s0[m])
            for u in range(U):
                iv = 1.0 / (sg[m, u] * sg[m, u])
                div = -2.0 * iv / sg[m, u]      # d(1/sigma^2)/d sigma
                if T == 1:
                    p, dp, pp = i0, 0.0, 0.0
                elif t == 0:
                    p, dp, pp = i0 + f2 * iv, f2 * div, 2.0 * phi[m] * iv
                elif t == T - 1:
                    p, dp, pp = iv, div, 0.0
                else:
                    p, dp, pp = (1.0 + f2) * iv, (1.0 + f2) * div, 2.0 * phi[m] * iv
                p += h[m, u, t]
                if t == 0:
                    ld = math.sqrt(p)
                    il = 1.0 / ld
                    dLd[m, u, 0] = 0.5 * dp * il
                    pLd[m, u, 0] = 0.5 * pp * il
                else:
                    ilp = iLd[m, u, t - 1]
                    lo = -phi[m] * iv * ilp
                    dlo = (-phi[m] * div - lo * dLd[m, u, t - 1]) * ilp
                    plo = (-iv - lo * pLd[m, u, t - 1]) * ilp
                    Lo[m, u, t] = lo
                    dLo[m, u, t] = dlo
                    pLo[m, u, t] = plo
                    ld = math.sqrt(p - lo * lo)
                    il = 1.0 / ld
                    dLd[m, u, t] = (0.5 * dp - lo * dlo) * il
                    pLd[m, u, t] = (0.5 * pp - lo * plo) * il
                Ld[m, u, t] = ld
                iLd[m, u, t] = il
                pr = prod[m, u] * ld
                if pr > 1e150 or pr < 1e-150:
                    logdet[m, u] += math.log(pr)
                    pr = 1.0
                prod[m, u] = pr
    for m in range(M):
        for u in range(U):
            logdet[m, u] += math.log(prod[m, u])


@njit(cache=True, inline="always")
def _back_substitute(x, o_lv, o_z, Lo, iLd, delta):
    r"""The deviations :math:`\delta = L^{-\top}\epsilon` of every series (``L`` from
    :func:`_walk_choleskys`; ``x[o_lv + m U + u]`` the first whitened coordinate of series
    ``(m, u)``, ``x[o_z + (m U + u)(T - 1) + t - 1]`` the others), all series at once."""
    M, U, T = delta.shape
    for t in range(T - 1, -1, -1):
        for m in range(M):
            for u in range(U):
                e_t = x[o_lv + m * U + u] if t == 0 else x[o_z + (m * U + u) * (T - 1) + t - 1]
                if t < T - 1:
                    e_t -= Lo[m, u, t + 1] * delta[m, u, t + 1]
                delta[m, u, t] = e_t * iLd[m, u, t]


@njit(cache=True, inline="always")
def _sigmoid(v):
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


@njit(cache=True, nogil=True, error_model="numpy")
def logp_grad(x_in, dims, y, obs_key, lo, hi, sidx, H, xeff, free_idx, pri, h, sinfo, tab_len, ncov, obs_disp,
              disp_key, lvmu, wef, drift_start, drift_len, obs_dy, csl, cg, cwk, cmk, cwz, cmz, hf, tab_cnt, tab_cnt_off,
              g):
    r"""Joint log-density at ``x``; writes the gradient into ``g`` (same length).

    Each walk's states :math:`v_{mu\cdot}` (log-intensity before seasonality and effects) are
    parametrised by the whitened coordinates ``eps`` (the ``level`` entry and the ``z`` entries of
    the series): :math:`v = \mu_0 + L^{-\top}\epsilon` with :math:`LL^\top = A(\sigma_{mu}) +
    \mathrm{diag}(h_{mu\cdot})`, ``A`` the random walk's prior precision and ``h`` a fixed
    estimate of the data's information per month (``h = 0``: the non-centred walk; large ``h``:
    the centred walk). The density includes the Jacobian :math:`-\sum_t \log L_{tt}`.

    With AR(1) dynamics the pooled quantity is the stationary sd :math:`\varsigma_{mu}`
    (:math:`\theta = \log\varsigma`, :math:`\sigma = \varsigma\sqrt{1 - \phi^2}`), which the data
    pin nearly independently of :math:`\phi`; for random walks :math:`\theta = \log\sigma`.
    The walk scales are partially non-centred (:func:`_log_sigma` with ``sinfo[m, u]``): the
    ``log_sigma_raw`` entries are the coordinates ``e`` and the density carries
    :math:`\log N(\theta; \mu, \tau) + \log s` in place of :math:`\log N(e; 0, 1)`.

    ``ncov[i]``: the number of units observation ``i`` covers (its first ``ncov[i]`` columns of
    ``lo``/``hi``). ``obs_disp[i]``: its dispersion group; groups ``0..K-1`` are the source-metrics'
    own (``log_alpha``), groups ``K..K+G-1`` one unit's figures of source-metric ``disp_key[g]``
    (``log_alpha_unit``, prior :math:`N(\log\alpha_k, \tau_\alpha)` with ``pri[14]`` the spread).
    Scale drift: a figure of source-metric ``k`` whose period starts in calendar year ``y`` has
    scale :math:`\kappa_k e^{\rho_{ky}}` with :math:`\rho_k` a random walk over the key's years,
    zero in its last year (``drift_len[k]`` innovations ``kappa_drift[drift_start[k] + j]``, sd
    ``pri[17]`` a year; ``obs_dy[i]`` the figure's year position, ``drift_len[k]`` = the last year).
    ``tab_len[g] > 0``: the count-only NB2 terms of group ``g`` are read from a table of that
    length, filled once per call at the group's distinct counts (``tab_cnt[tab_cnt_off[g]:
    tab_cnt_off[g + 1]]``, sorted) by :func:`count_sums_at` (it pays when the group has many
    figures of moderate size).

    Dynamics: with ``dims[8] == M`` each measure's series are AR(1) around their centre
    ``lvmu[m, u]`` with persistence :math:`\phi_m = \mathrm{logistic}(\cdot)` (``logit_phi``,
    prior :math:`N(` ``pri[15], pri[16]`` :math:`)`); with ``dims[8] == 0`` random walks
    (:math:`\phi = 1`). The first state has prior :math:`N(` ``lvmu`` :math:`+` offset, ``s0``:math:`)`.

    Known-date effects :math:`\beta_e x_{et}` are partially centred: the whitened states are
    :math:`s_t = \delta_t + w_t\sum_e\beta_e x_{et}` (``wef[m, u, t]`` in [0, 1], fixed; the
    dynamics' prior is on :math:`\delta`) and the log-intensity is
    :math:`s_t + (1 - w_t)\sum_e\beta_e x_{et}`, so where the data pin the log-intensity
    (``w = 1``) a step moves only the prior of the deviations, and where they say little
    (``w = 0``) only the intensity. The model is unchanged (a shift of the states, Jacobian 1).

    Common scale shift (:meth:`MeasurementModel.common_shift`): for a measure ``m`` with
    ``csl[m] >= 0`` the coordinate ``c_m = x[csl[m]]`` (the pivot's ``log_kappa`` slot) moves every
    other free scale by ``c_m cwk[f]`` (``cmk[f] == m``), every drift innovation by ``c_m cwz[j]``
    (``cmz[j] == m``) and the log-intensity by ``-c_m cg[m, t]``: the direction in which the
    latent after the anchor's last year and every source's scale trade off with the likelihood
    unchanged becomes one coordinate. A triangular shift (Jacobian 1); the model is unchanged.

    Transient month effects (``dims[10] == M``): the log-intensity of measure ``m`` also carries
    :math:`\nu_{mut} - \omega_{mu}^2/2 `, :math:`\nu_{mut} \sim N(0, \omega_{mu}^2)` independent
    over months (mean one on the intensity scale), with
    :math:`\log\omega_{mu} = \mu^\omega_m + \tau^\omega_m\xi_{mu}` (``log_fast_mean``,
    ``log_log_fast_sd``, ``log_fast_raw``; priors ``pri[18], pri[19]`` and the half-normal scale
    ``pri[20]``). The sampler's coordinate ``r`` of a month is partially centred on the rest of the
    log-intensity :math:`q_t` (the deviation, season and steps of that measure, and
    :math:`-\omega^2/2`): with
    :math:`k_t = h^f_t\omega^2` (``hf`` the data's information about the month),
    :math:`w_t = k_t/(1 + k_t)` and :math:`c_t = \omega/\sqrt{1 + k_t}`,
    :math:`\nu_t = c_t r_t - w_t q_t` (Jacobian :math:`c_t`). Where the data pin a month (``w = 1``)
    ``r`` is the month's log-intensity and moving the slow part moves only :math:`\nu`'s prior; where
    they say little it is the non-centred :math:`\nu = \omega r`.
    """
    M, U, T, S, E, F, K, G = dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], dims[7]
    NP = dims[8]
    NR = dims[9]
    NQ = dims[10]
    D = K + G
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
    o_au = o_a + K
    o_ph = o_au + G
    o_dr = o_ph + NP
    o_fm = o_dr + NR
    o_fs = o_fm + NQ
    o_fr = o_fs + NQ
    o_fc = o_fr + NQ * U
    cc = np.zeros(M)
    x = x_in.copy()
    for m in range(M):
        if csl[m] >= 0:
            cc[m] = x_in[csl[m]]
    for f in range(F):
        x[o_k + f] += cc[cmk[f]] * cwk[f]
    for j in range(NR):
        x[o_dr + j] += cc[cmz[j]] * cwz[j]
    csh = np.zeros((M, T))             # the states' shift: log-intensity of measure m moves by -c_m cg[m]
    for m in range(M):
        for t in range(T):
            csh[m, t] = cc[m] * cg[m, t] - (cc[0] * cg[0, t] if m > 0 else 0.0)
    for i in range(g.size):
        g[i] = 0.0
    lp = 0.0
    # ---- priors of the non-walk parameters
    for m in range(M):
        a, b = _normal(x[o_lsm + m], pri[4], pri[5])
        lp += a
        g[o_lsm + m] += b
        a, b = _log_halfnormal(x[o_lsd + m], pri[6])
        lp += a
        g[o_lsd + m] += b
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
    phis = np.ones(M)
    roots = np.ones(M)                # sigma = stationary sd * sqrt(1 - phi^2) (AR(1)); 1 for walks
    for j in range(NP):
        a, b = _normal(x[o_ph + j], pri[15], pri[16])
        lp += a
        g[o_ph + j] += b
        phis[j] = _sigmoid(x[o_ph + j])
        roots[j] = math.sqrt(1.0 - phis[j] * phis[j])
    for m in range(NQ):             # the transient effects' pooled log sd: N(mu, sd), half-normal spread, raw N(0, 1)
        a, b = _normal(x[o_fm + m], pri[18], pri[19])
        lp += a
        g[o_fm + m] += b
        a, b = _log_halfnormal(x[o_fs + m], pri[20])
        lp += a
        g[o_fs + m] += b
        for u in range(U):
            a, b = _normal(x[o_fr + m * U + u], 0.0, 1.0)
            lp += a
            g[o_fr + m * U + u] += b
    for j in range(G):
        ka = o_a + disp_key[K + j]
        a, b = _normal(x[o_au + j], x[ka], pri[14])
        lp += a
        g[o_au + j] += b
        g[ka] -= b
    # ---- forward: walk states from the whitened coordinates, their prior, latent log-intensity
    sigma = np.empty((M, U))
    season = np.zeros((M, S if S > 0 else 1))
    if S > 1:
        for m in range(M):
            for jj in range(S):
                acc = 0.0
                for k in range(nsr):
                    acc += H[jj, k] * x[o_s + m * nsr + k]
                season[m, jj] = acc
    Ld = np.empty((M, U, T))
    Lo = np.zeros((M, U, T))
    dLd = np.empty((M, U, T))
    dLo = np.zeros((M, U, T))
    pLd = np.empty((M, U, T))
    pLo = np.zeros((M, U, T))
    iLd = np.empty((M, U, T))         # 1 / Ld
    dphi = np.zeros(M)                # d(log density)/d phi_m
    delta = np.empty((M, U, T))
    dpr = np.empty(T)                 # the dynamics' deviations delta - w * effects
    stp = np.empty(T)                 # the steps' sum of one series
    gv = np.zeros((M, U, T))          # d(walk prior)/d v, then + likelihood
    dsig = np.zeros((M, U))           # direct d(walk prior + Jacobian)/d sigma
    loglin = np.empty((M, U, T))
    theta = np.empty((M, U))
    fom = np.ones((M, U))             # transient sd omega
    fw = np.zeros((M, U, T))          # its centring weight w_t, scale c_t, the effect nu_t, the rest q_t
    fc = np.zeros((M, U, T))
    fnu = np.zeros((M, U, T))
    fq = np.zeros((M, U, T))
    s0v = np.empty(M)
    for m in range(M):
        lsd = math.exp(x[o_lsd + m])
        s0v[m] = pri[1] if m == 0 else pri[3]
        for u in range(U):
            th, _, sc_, P_ = _log_sigma(x[o_lsm + m], lsd, x[o_raw + m * U + u], sinfo[m, u])
            theta[m, u] = th
            a, _ = _normal(th, x[o_lsm + m], lsd)
            lp += a - 0.5 * math.log(P_)
            sigma[m, u] = math.exp(th) * roots[m]
    logdet = np.empty((M, U))
    _walk_choleskys(sigma, s0v, phis, h, Ld, Lo, dLd, dLo, pLd, pLo, iLd, logdet)
    _back_substitute(x, o_lv, o_z, Lo, iLd, delta)
    for m in range(M):
        s0 = s0v[m]
        ph = phis[m]
        for u in range(U):
            mu0 = lvmu[m, u] + (pri[0] if m == 0 else pri[2])
            sg = sigma[m, u]
            isg = 1.0 / sg
            lp -= logdet[m, u]
            dj = 0.0
            for t in range(T):
                dj -= dLd[m, u, t] * iLd[m, u, t]
                dphi[m] -= pLd[m, u, t] * iLd[m, u, t]
            # prior of the states
            for t in range(T):
                acc = 0.0
                for e in range(E):
                    acc += x[o_e + (e * M + m) * U + u] * xeff[e, t]
                stp[t] = acc
                dpr[t] = delta[m, u, t] - csh[m, t] - wef[m, u, t] * acc
            a, b = _normal(mu0 + dpr[0], mu0, s0)
            lp += a
            gv[m, u, 0] += b
            lp -= (T - 1) * (math.log(sg) + _HALF_LOG_2PI)
            for t in range(1, T):
                r = (dpr[t] - ph * dpr[t - 1]) * isg
                lp -= 0.5 * r * r
                gv[m, u, t] -= r * isg
                gv[m, u, t - 1] += ph * r * isg
                dj += (r * r - 1.0) * isg
                dphi[m] += r * dpr[t - 1] * isg
            dsig[m, u] = dj
            for t in range(T):
                val = mu0 + delta[m, u, t] - csh[m, t] + (1.0 - wef[m, u, t]) * stp[t]
                if S > 1:
                    val += season[m, sidx[t]]
                loglin[m, u, t] = val
            if NQ > 0:
                om = math.exp(x[o_fm + m] + math.exp(x[o_fs + m]) * x[o_fr + m * U + u])
                fom[m, u] = om
                for t in range(T):
                    kk = hf[m, u, t] * om * om
                    w_ = kk / (1.0 + kk)
                    c_ = om / math.sqrt(1.0 + kk)
                    q_ = loglin[m, u, t] - mu0 - 0.5 * om * om   # the slow part + the effect's mean
                    nu = c_ * x[o_fc + (m * U + u) * T + t] - w_ * q_
                    fw[m, u, t] = w_
                    fc[m, u, t] = c_
                    fnu[m, u, t] = nu
                    fq[m, u, t] = q_
                    r = nu / om
                    lp += -0.5 * r * r - _HALF_LOG_2PI - 0.5 * math.log(1.0 + kk)
                    loglin[m, u, t] += nu - 0.5 * om * om
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
    # yearly scale drift: rho_k[j] = -tau sum_{i >= j} zeta_k[i], rho_k[len_k] = 0 (the key's last year)
    tau_d = pri[17]
    lmax = 0
    for k in range(K):
        lmax = max(lmax, drift_len[k])
    rho = np.zeros((K, lmax + 1))
    drho = np.zeros((K, lmax + 1))
    for j in range(NR):
        a, b = _normal(x[o_dr + j], 0.0, 1.0)
        lp += a
        g[o_dr + j] += b
    for k in range(K):
        for j in range(drift_len[k] - 1, -1, -1):
            rho[k, j] = rho[k, j + 1] - tau_d * x[o_dr + drift_start[k] + j]
    ekr = np.empty((K, lmax + 1))      # each key's scale in each of its years
    for k in range(K):
        for j in range(lmax + 1):
            ekr[k, j] = math.exp(logk[k] + rho[k, j])
    n = y.size
    tab_off = np.zeros(D + 1, dtype=np.int64)
    for k in range(D):
        tab_off[k + 1] = tab_off[k] + tab_len[k]
    TT = np.empty(max(tab_off[D], 1))
    UU = np.empty(max(tab_off[D], 1))
    ak = np.empty(D)
    iak = np.empty(D)
    xa = np.empty(D, dtype=np.int64)      # position of each group's log dispersion in x
    for k in range(D):
        xa[k] = o_a + k if k < K else o_au + k - K
        la = x[xa[k]]
        ak[k] = math.exp(la)
        iak[k] = math.exp(-la)
        if tab_len[k] > 0:
            count_sums_at(tab_cnt[tab_cnt_off[k]:tab_cnt_off[k + 1]], ak[k], TT[tab_off[k]:tab_off[k + 1]],
                          UU[tab_off[k]:tab_off[k + 1]])
    for i in range(n):
        tot = 0.0
        nc = ncov[i]
        for j in range(nc):
            tot += csum[hi[i, j]] - csum[lo[i, j]]
        tot = max(tot, 1e-300)
        k = obs_key[i]
        q = obs_disp[i]
        yi = y[i]
        mu = ekr[k, obs_dy[i]] * tot
        eta = logk[k] + rho[k, obs_dy[i]] + math.log(tot) if yi > 0 else 0.0   # read only where y > 0
        ll, de, dla = _nb_elem_mu(yi, mu, eta, x[xa[q]], ak[q], iak[q],
                                  TT[tab_off[q]:tab_off[q + 1]], UU[tab_off[q]:tab_off[q + 1]])
        lp += ll
        dlk[k] += de
        drho[k, obs_dy[i]] += de
        g[xa[q]] += dla
        dt = de / tot
        for j in range(nc):
            dC[hi[i, j]] += dt
            dC[lo[i, j]] -= dt
    for f in range(F):
        g[o_k + f] += dlk[free_idx[f]]
    for k in range(K):
        acc = 0.0
        for j in range(drift_len[k]):
            acc += drho[k, j]
            g[o_dr + drift_start[k] + j] -= tau_d * acc
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
    dseas = np.zeros((M, S if S > 0 else 1))
    avec = np.empty((M, U, T))        # d/d eps = L^{-1} g_v
    dcc = np.zeros(M)
    for m in range(M):
        for u in range(U):
            if NQ > 0:   # the transient effects: d/d r, d/d log omega, and the slow part's share
                om = fom[m, u]
                dlo = 0.0
                for t in range(T):
                    w_ = fw[m, u, t]
                    nu = fnu[m, u, t]
                    gr = dlin[m, u, t] - nu / (om * om)       # d/d nu (likelihood + prior)
                    g[o_fc + (m * U + u) * T + t] += gr * fc[m, u, t]
                    dlo += (gr * (fc[m, u, t] * (1.0 - w_) * x[o_fc + (m * U + u) * T + t]
                                  - 2.0 * w_ * (1.0 - w_) * fq[m, u, t] + w_ * om * om)
                            - dlin[m, u, t] * om * om + nu * nu / (om * om) - w_)
                    dlin[m, u, t] -= w_ * gr                  # nu = c r - w q: the slow part's derivative
                lfs = math.exp(x[o_fs + m])
                g[o_fm + m] += dlo
                g[o_fr + m * U + u] += dlo * lfs
                g[o_fs + m] += dlo * lfs * x[o_fr + m * U + u]
            for t in range(T):
                d = dlin[m, u, t]
                gv[m, u, t] += d
                if S > 1:
                    dseas[m, sidx[t]] += d
                # a step enters the intensity with weight 1 - w and the deviations' prior with -w:
                # (1 - w) d - w (g_v - d) = d - w g_v, with g_v now prior + likelihood
                dst = d - wef[m, u, t] * gv[m, u, t]
                for e in range(E):
                    g[o_e + (e * M + m) * U + u] += xeff[e, t] * dst
                dcc[m] -= cg[m, t] * gv[m, u, t]
                if m > 0:
                    dcc[0] += cg[0, t] * gv[m, u, t]
    # d/d eps = L^{-1} g_v (forward substitution), every series at once
    for t in range(T):
        for m in range(M):
            for u in range(U):
                a_t = gv[m, u, t]
                if t > 0:
                    a_t -= Lo[m, u, t] * avec[m, u, t - 1]
                a_t *= iLd[m, u, t]
                avec[m, u, t] = a_t
                if t == 0:
                    g[o_lv + m * U + u] += a_t
                else:
                    g[o_z + (m * U + u) * (T - 1) + t - 1] += a_t
    for m in range(M):
        lsd = math.exp(x[o_lsd + m])
        dlsm = 0.0
        dlsd = 0.0
        for u in range(U):
            sg = sigma[m, u]
            # d/d sigma through v = mu0 + L^{-T} eps: -a^T (dL^T/d sigma) delta
            dsg = dsig[m, u]
            for t in range(T):
                q = dLd[m, u, t] * delta[m, u, t]
                qp = pLd[m, u, t] * delta[m, u, t]
                if t < T - 1:
                    q += dLo[m, u, t + 1] * delta[m, u, t + 1]
                    qp += pLo[m, u, t + 1] * delta[m, u, t + 1]
                dsg -= avec[m, u, t] * q
                dphi[m] -= avec[m, u, t] * qp
            # theta = log sigma = w mu + s e (partially non-centred); its prior N(mu, tau) and log s
            mu_ = x[o_lsm + m]
            e_ = x[o_raw + m * U + u]
            _, w_, sc_, P_ = _log_sigma(mu_, lsd, e_, sinfo[m, u])
            th = theta[m, u]
            it3 = 1.0 / (lsd * lsd * lsd)
            dth = dsg * sg - (th - mu_) / (lsd * lsd)
            if NP > 0:   # sigma = exp(theta) sqrt(1 - phi^2)
                dphi[m] -= dsg * sg * phis[m] / (1.0 - phis[m] * phis[m])
            dw = -2.0 * it3 * sinfo[m, u] / (P_ * P_)
            ds = it3 * P_ ** -1.5
            g[o_raw + m * U + u] += dth * sc_
            dlsm += dth * w_ + (th - mu_) / (lsd * lsd)
            dlsd += dth * (mu_ * dw + e_ * ds) + (th - mu_) ** 2 * it3 - 1.0 / lsd + it3 / P_
        g[o_lsm + m] += dlsm
        g[o_lsd + m] += dlsd * lsd
        if NP > 0:
            g[o_ph + m] += dphi[m] * phis[m] * (1.0 - phis[m])
        if S > 1:
            for k in range(nsr):
                acc = 0.0
                for jj in range(S):
                    acc += H[jj, k] * dseas[m, jj]
                g[o_s + m * nsr + k] += acc
    # the common scale shift: chain rule through the shifted blocks (their own gradients are unchanged)
    for f in range(F):
        dcc[cmk[f]] += cwk[f] * g[o_k + f]
    for j in range(NR):
        dcc[cmz[j]] += cwz[j] * g[o_dr + j]
    for m in range(M):
        if csl[m] >= 0:
            g[csl[m]] += dcc[m]
    return lp


@njit(cache=True)
def walk_states(x, dims, pri, h, sinfo, lvmu):
    """The walk states ``v`` (M, U, T), scales ``sigma`` (M, U) and persistences ``phi`` (M) of a
    whitened parameter vector (the forward pass of :func:`logp_grad` alone; used to store the
    draws as level and standardised innovations)."""
    M, U, T = dims[0], dims[1], dims[2]
    S = dims[3]
    n_before = M * U + 2 * M + M * U + M * max(T - 1, 0) * U + M * max(S - 1, 0) + dims[4] * M * U
    o_ph = n_before + dims[5] + dims[6] + dims[7]
    phis = np.ones(M)
    if dims[8]:
        for j in range(M):
            phis[j] = _sigmoid(x[o_ph + j])
    o_lsm = M * U
    o_lsd = o_lsm + M
    o_raw = o_lsd + M
    o_z = o_raw + M * U
    sigma = np.empty((M, U))
    s0v = np.empty(M)
    for m in range(M):
        lsd = math.exp(x[o_lsd + m])
        s0v[m] = pri[1] if m == 0 else pri[3]
        for u in range(U):
            sg = math.exp(_log_sigma(x[o_lsm + m], lsd, x[o_raw + m * U + u], sinfo[m, u])[0])
            if dims[8]:
                sg *= math.sqrt(1.0 - phis[m] * phis[m])
            sigma[m, u] = sg
    Ld, Lo, dLd, dLo = np.empty((M, U, T)), np.zeros((M, U, T)), np.empty((M, U, T)), np.zeros((M, U, T))
    pLd, pLo, iLd = np.empty((M, U, T)), np.zeros((M, U, T)), np.empty((M, U, T))
    _walk_choleskys(sigma, s0v, phis, h, Ld, Lo, dLd, dLo, pLd, pLo, iLd, np.empty((M, U)))
    v = np.empty((M, U, T))
    _back_substitute(x, 0, o_z, Lo, iLd, v)
    for m in range(M):
        for u in range(U):
            mu0 = lvmu[m, u] + (pri[0] if m == 0 else pri[2])
            for t in range(T):
                v[m, u, t] += mu0
    return v, sigma, phis

