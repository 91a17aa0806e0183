r"""A negative-binomial local-level model: a log level that wanders, with counts dispersed around it.

Model
-----
For monthly counts :math:`Y_t`,

.. math::

    \log\lambda_t = \log\lambda_{t-1} + \eta_t - q/2, \quad \eta_t \sim N(0, q), \qquad
    Y_t \mid \lambda_t \sim \mathrm{NB2}(\lambda_t, r) \quad (\mathrm{Poisson}\ \text{for}\ r = \infty),

so the level of the series wanders (the random walk's scale :math:`q` is estimated, not assumed)
and the dispersion :math:`r` is the spread of the months *around the local level*: a trend or a
change of level is taken up by :math:`\lambda_t`, not by :math:`r` (a flat-mean NB over a window
with a trend has too small an :math:`r`, so too wide an interval). ``-q/2`` keeps
:math:`E\lambda_t = \lambda_{t-1}`.

Filter (approximate, conjugate in form; after Harvey & Fernandes 1989): :math:`\lambda_t \mid
y_{1:t} \approx \mathrm{Gamma}(a_t, b_t)`. The prediction step keeps the mean :math:`m = a/b`
and multiplies :math:`E\lambda^2` by :math:`e^q`, matched to a gamma :math:`(a', b')`. The one-step
predictive of :math:`Y` is the NB2 with mean :math:`m` and variance
:math:`m + v + (m^2 + v)/r` (:math:`v = a'/b'^2`, moment matching). The update is the Poisson
conjugate one with the observation's weight :math:`c = r / (r + m)` (the NB2 Fisher information
on :math:`\lambda` relative to the Poisson's): :math:`a = a' + c\,y`, :math:`b = b' + c`.

Estimation: the one-step predictive log-likelihood (after a burn-in) on a grid of :math:`(q, r)`,
all evaluated in one vectorised filter pass. The normalised likelihood over the grid (flat on the
log grid) is the parameters' posterior: each sample path draws its own :math:`(q, r)` from it, then
its starting level from that grid point's filtered gamma, then walks the level forward and draws the
months around it. The months of one path share its level, so sums over months (quarters) carry the
level's uncertainty and wander. The level is capped at ``cap`` (5 x the largest count in the
window, plus 5), as the NB regression caps its linear predictor, so a path cannot explode.

Pure numpy; no import of :mod:`pakcast.forecast`.

References
----------
Harvey, A. C. & Fernandes, C. (1989). Time series models for count or qualitative observations.
J. Business & Economic Statistics 7(4):407-417.

Examples
--------
>>> import numpy as np
>>> from pakcast.models.local_level import LocalLevelNB
>>> y = np.random.default_rng(0).poisson(5, size=60)
>>> LocalLevelNB().fit(y).sample(12, 100, random_seed=1).shape
(12, 100)
"""

from __future__ import annotations

import numpy as np
from pakcast.models.likelihood import negbin_logpmf

__all__ = ["LocalLevelNB", "local_level_filter", "Q_GRID", "R_GRID"]

#: monthly variances of the log level (sd 0 to about 0.28 a month, a factor of about 2.7 over a
#: year). Larger variances (0.16, 0.32) win the one-step likelihood in Khyber Pakhtunkhwa's high
#: years, where the level then explains month-to-month noise that does not persist, and widen its
#: quarter sums far beyond what happened (shipped backtest, 2010-2021)
Q_GRID = np.array([0.0, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08])
#: NB2 sizes; ``inf`` is the Poisson
R_GRID = np.array([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, np.inf])


def local_level_filter(y, q, r, a0: float, b0: float, burn: int = 12):
    r"""Run the approximate filter on counts ``y`` for parameter arrays ``q``, ``r`` (broadcast).

    Returns ``(loglik, a, b)``: the one-step predictive log-likelihood summed over months after
    ``burn``, and the filtered gamma of the last level (shape ``a``, rate ``b``), each of the
    broadcast shape of ``q`` and ``r``.
    """
    y = np.asarray(y, dtype=float)
    q = np.asarray(q, dtype=float)
    r = np.asarray(r, dtype=float)
    shape = np.broadcast(q, r).shape
    a = np.full(shape, float(a0))
    b = np.full(shape, float(b0))
    eq = np.exp(q)
    inv_r = np.where(np.isfinite(r), 1.0 / np.where(np.isfinite(r), r, 1.0), 0.0)
    ll = np.zeros(shape)
    for t, yt in enumerate(y):
        m = a / b
        v = m * m * ((1.0 + 1.0 / a) * eq - 1.0)  # Var(lambda) after the random-walk step
        v = np.maximum(v, 1e-12 * m * m + 1e-300)
        a = m * m / v
        b = m / v
        if t >= burn:
            var_y = m + v + (m * m + v) * inv_r
            mean = np.maximum(m, 1e-12)
            var_y = np.maximum(var_y, m * (1 + 1e-9) + 1e-12)
            ll += negbin_logpmf(yt, mean, (var_y - mean) / (mean * mean))
        c = 1.0 / (1.0 + m * inv_r)
        a = a + c * yt
        b = b + c
    return ll, a, b


class LocalLevelNB:
    """NB2 counts around a wandering log level (see the module docstring).

    ``fit(y)`` on the last ``window`` months (``None``: all) sets ``model_`` (the grid posterior
    ``weights``, per grid point the filtered ``a``, ``b``; ``q_hat``, ``r_hat`` at the mode) and
    returns ``self``; ``sample(h, n_samples, random_seed)`` draws whole paths, shape
    ``(h, n_samples)``, non-negative int64.
    """

    name = "nb_local"

    def __init__(self, window: int | None = 120, burn: int = 12, q_grid=Q_GRID, r_grid=R_GRID):
        self.window = window
        self.burn = burn
        self.q_grid = np.asarray(q_grid, dtype=float)
        self.r_grid = np.asarray(r_grid, dtype=float)

    def fit(self, y) -> "LocalLevelNB":
        from pakcast.models.baselines import check_counts

        y = check_counts(y)
        if self.window is not None:
            y = y[-int(self.window):]
        burn = min(int(self.burn), max(y.size - 1, 0))
        start = y[: max(burn, 1)]
        m0 = max(float(start.mean()), 0.1)
        # a weak start: the level's prior has the burn-in mean and a coefficient of variation of 1
        Q, R = np.meshgrid(self.q_grid, self.r_grid, indexing="ij")
        ll, a, b = local_level_filter(y, Q, R, a0=1.0, b0=1.0 / m0, burn=burn)
        ll = np.where(np.isfinite(ll), ll, -np.inf)
        w = np.exp(ll - ll.max())
        w /= w.sum()
        i, j = np.unravel_index(int(np.argmax(w)), w.shape)
        self.model_ = {"weights": w.ravel(), "q": Q.ravel(), "r": R.ravel(), "a": a.ravel(), "b": b.ravel(),
                       "q_hat": float(Q[i, j]), "r_hat": float(R[i, j]), "loglik": float(ll[i, j]),
                       "cap": float(5 * y.max() + 5), "n_obs": int(y.size)}
        return self

    def sample(self, h: int, n_samples: int, random_seed=None) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise RuntimeError("LocalLevelNB is not fitted: call fit(y) first")
        h, n = int(h), int(n_samples)
        if h < 1 or n < 1:
            raise ValueError(f"h and n_samples must be >= 1, got h={h}, n_samples={n}")
        rng = np.random.default_rng(random_seed)
        md = self.model_
        g = rng.choice(md["weights"].size, size=n, p=md["weights"])
        q, r = md["q"][g], md["r"][g]
        lam = rng.gamma(md["a"][g], 1.0 / md["b"][g])
        out = np.empty((h, n), dtype=np.int64)
        pois = ~np.isfinite(r)
        rr = np.where(pois, 1.0, r)
        for k in range(h):
            lam = np.minimum(lam * np.exp(rng.normal(-q / 2, np.sqrt(q))), md["cap"])
            nb = rng.negative_binomial(rr, rr / (rr + lam))
            out[k] = np.where(pois, rng.poisson(lam), nb)
        return out

    def __repr__(self) -> str:
        return f"LocalLevelNB(window={self.window!r}, burn={self.burn!r})"
