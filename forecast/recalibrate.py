r"""Post-hoc recalibration of the quarter sums of sample paths, learnt from past PIT values only.

A quarter sum :math:`T_j` of path :math:`j` is moved on the log scale around the median of the
paths, with one scale below and one above it:

.. math::

    \log(1 + T'_j) = c + s\,(\log(1 + T_j) - c), \qquad c = \operatorname{median}_j \log(1 + T_j),
    \quad s = s_{lo} \text{ if } T_j \text{ is below the median, else } s_{hi},

rounded to an integer; the months of the quarter are rescaled to the new sum (proportionally,
largest remainder; an even split where the path had none). The median is unchanged, so the
lower scale moves only the lower half of the distribution and the upper scale only the upper
half: the share of outcomes below the 5% quantile depends on :math:`s_{lo}` alone, the share above
the 95% quantile on :math:`s_{hi}` alone.

The scales are learnt per series online from the record (:class:`AdaptiveTailScales`): each
quarter sum published at a scored origin is scored once its quarter has ended, and every miss of
a tail widens that tail a little, every hit narrows it a little, so that the share of misses on
each side tracks 5% (adaptive conformal inference on the log scale of the spread). The backtest
leaves its warm-up origins out of this record (:class:`~pakcast.forecast.backtest.BacktestConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pakcast.models.pit import randomized_pit

__all__ = ["AdaptiveTailScales", "scale_paths", "scale_sums"]

TAIL = 0.05


def scale_sums(T, s_lo, s_hi) -> np.ndarray:
    """Quarter sums ``T`` (S, ..., n) moved by the scales ``s_lo``, ``s_hi`` (S,) on the log scale."""
    T = np.asarray(T, dtype=float)
    L = np.log1p(T)
    c = np.median(L, axis=-1, keepdims=True)
    shape = (-1,) + (1,) * (T.ndim - 1)
    s = np.where(L < c, np.reshape(s_lo, shape), np.reshape(s_hi, shape))
    return np.maximum(np.rint(np.expm1(c + s * (L - c))), 0.0)


def _allocate(m, T, T2) -> np.ndarray:
    """Months ``m`` (S, k, n) with sums ``T`` (S, n) -> integer months with sums ``T2``."""
    k = m.shape[1]
    Tb = T[:, None, :]
    share = np.where(Tb > 0, m / np.maximum(Tb, 1.0), 1.0 / k)
    x = share * T2[:, None, :]
    base = np.floor(x)
    rem = np.rint(T2 - base.sum(axis=1))[:, None, :]
    rank = np.argsort(np.argsort(-(x - base), axis=1, kind="stable"), axis=1, kind="stable")
    return base + (rank < rem)


def scale_paths(paths, blocks: list[list[int]], s_lo, s_hi) -> np.ndarray:
    """Paths (S, h, n) with the quarter sums of each block of month offsets (whole quarters)
    recalibrated by the per-series scales ``s_lo``, ``s_hi`` (S,); other months unchanged."""
    paths = np.asarray(paths)
    out = paths.copy()
    s_lo, s_hi = np.asarray(s_lo, dtype=float), np.asarray(s_hi, dtype=float)
    if np.all(s_lo == 1) and np.all(s_hi == 1):
        return out
    for ks in blocks:
        m = paths[:, ks, :].astype(float)
        T = m.sum(axis=1)
        out[:, ks, :] = _allocate(m, T, scale_sums(T, s_lo, s_hi)).astype(paths.dtype)
    return out


@dataclass
class AdaptiveTailScales:
    r"""Tail scales per series learnt online from past misses (adaptive conformal inference,
    Gibbs and Candes 2021, with one update per side and delayed feedback).

    Every quarter sum forecast at an origin is scored once its quarter has ended: a miss below is
    a randomised PIT under :math:`\alpha/2` (of the forecast as published, with the scales of its
    origin), a miss above one over :math:`1 - \alpha/2`. At each origin the quarters that ended
    before it and were not used yet update the log scales, in order of their end,

    .. math::

        \log s_{lo} \leftarrow \operatorname{clip}\big(\log s_{lo} + \gamma\,(1\{\mathrm{PIT} < \alpha/2\}
            - \alpha/2)\big), \qquad
        \log s_{hi} \leftarrow \operatorname{clip}\big(\log s_{hi} + \gamma\,(1\{\mathrm{PIT} > 1 - \alpha/2\}
            - \alpha/2)\big)

    (clipped to ``bounds``), from :math:`s = 1`: a tail that was missed more often than
    :math:`\alpha/2` widens, one missed less often narrows, and while the clip is not reached the
    share of misses over :math:`n` updates is within :math:`(\log s_{\max} - \log s_{\min} +
    \gamma)/(\gamma n)` of :math:`\alpha/2` whatever the forecasts and outcomes (Gibbs and Candes,
    Proposition 4.1, on the log scale). No window and no grid: the scales follow the record.
    """

    n_series: int
    step: float = 0.05
    alpha: float = 2 * TAIL
    bounds: tuple[float, float] = (0.5, 3.0)
    log_lo: np.ndarray = field(init=False)
    log_hi: np.ndarray = field(init=False)
    n_points: np.ndarray = field(init=False)
    _pending: list = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.log_lo = np.zeros(self.n_series)
        self.log_hi = np.zeros(self.n_series)
        self.n_points = np.zeros(self.n_series, dtype=np.int64)

    def scales(self, origin) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(s_lo, s_hi, n_points)`` per series at ``origin``, from the quarters ended before it."""
        o = np.datetime64(origin)
        due = sorted((p for p in self._pending if p[0] < o), key=lambda p: p[0])
        self._pending = [p for p in self._pending if not p[0] < o]
        a, b = np.log(self.bounds[0]), np.log(self.bounds[1])
        half = self.alpha / 2
        for _, lo, hi in due:
            self.log_lo = np.clip(self.log_lo + self.step * (lo - half), a, b)
            self.log_hi = np.clip(self.log_hi + self.step * (hi - half), a, b)
            self.n_points += 1
        return np.exp(self.log_lo), np.exp(self.log_hi), self.n_points.copy()

    def record(self, ends, obs, sums, random_seed) -> None:
        """Score the published quarter sums ``sums`` (S, q, n) of one origin against the outcomes
        ``obs`` (S, q) whose quarters end at ``ends`` (q,); used once those quarters have ended."""
        pit = randomized_pit(obs, sums, random_seed=random_seed)
        half = self.alpha / 2
        for j, e in enumerate(np.asarray(ends)):
            self._pending.append((np.datetime64(e), (pit[:, j] < half).astype(float),
                                  (pit[:, j] > 1 - half).astype(float)))
