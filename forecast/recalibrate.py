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

The scales are chosen per series from past quarter sums (:class:`TailRecord`, one per origin,
kept while the backtest runs): over the last ``window`` origins whose quarters ended before the
current origin, each scale on :data:`SCALE_GRID` is, among those whose past tail share
(randomised PIT below 0.05, above 0.95) lies within ``band`` (2.5 points) of 5%, the one with the
lowest past CRPS; where none does, the one whose share is nearest 5%. With fewer than
``min_points`` past quarter sums the scales are 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pakcast.forecast.scoring import crps
from pakcast.models.pit import randomized_pit

__all__ = ["SCALE_GRID", "TailRecord", "scale_sums", "scale_paths", "tail_record", "choose_scales"]

SCALE_GRID = np.round(np.arange(0.5, 2.001, 0.1), 2)
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
class TailRecord:
    """Past quarter sums of one origin: ``ends`` (q,) last months of the quarters, ``lo`` and ``hi``
    (G, S, q): whether the outcome fell below the 5% / above the 95% quantile (randomised PIT) of
    the forecast recalibrated with each scale of :data:`SCALE_GRID` on that side; ``crps_lo``,
    ``crps_hi`` (G, S, q) the CRPS of those forecasts."""

    origin: np.datetime64
    ends: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    crps_lo: np.ndarray
    crps_hi: np.ndarray


def tail_record(origin, ends, obs, sums, random_seed) -> TailRecord:
    """The :class:`TailRecord` of raw quarter sums ``sums`` (S, q, n) and outcomes ``obs`` (S, q)."""
    S = sums.shape[0]
    one = np.ones(S)
    lo, hi, clo, chi = [], [], [], []
    for g in SCALE_GRID:
        s = np.full(S, g)
        a, b = scale_sums(sums, s, one), scale_sums(sums, one, s)
        lo.append(randomized_pit(obs, a, random_seed=random_seed) < TAIL)
        hi.append(randomized_pit(obs, b, random_seed=random_seed) > 1 - TAIL)
        clo.append(crps(obs, np.sort(a, axis=-1)))
        chi.append(crps(obs, np.sort(b, axis=-1)))
    return TailRecord(origin=np.datetime64(origin), ends=np.asarray(ends), lo=np.array(lo), hi=np.array(hi),
                      crps_lo=np.array(clo), crps_hi=np.array(chi))


def choose_scales(records: list[TailRecord], origin, window: int, min_points: int,
                  band: float = 0.025) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per series ``(s_lo, s_hi, n_points)`` at ``origin`` from the records of the last ``window``
    origins, quarters ended before ``origin`` only: on each side, among the scales whose past tail
    share is within ``band`` of 5%, the one with the lowest past CRPS; where none is, the one whose
    share is nearest 5%. Scales 1 with fewer than ``min_points`` past quarter sums."""
    o = np.datetime64(origin)
    parts: dict[str, list] = {"lo": [], "hi": [], "crps_lo": [], "crps_hi": []}
    for r in records[-int(window):] if window else records:
        m = r.ends < o
        if m.any():
            for k in parts:
                parts[k].append(getattr(r, k)[:, :, m])
    if not parts["lo"]:
        return np.ones(0), np.ones(0), np.zeros(0, dtype=int)
    cat = {k: np.concatenate(v, axis=2) for k, v in parts.items()}  # G, S, points
    n = cat["lo"].shape[2]
    out = []
    for side in ("lo", "hi"):
        share = cat[side].mean(axis=2)  # G, S
        score = cat[f"crps_{side}"].mean(axis=2)
        miss = np.abs(share - TAIL)
        ok = miss <= band + 1e-12
        pick = np.where(ok.any(axis=0), np.argmin(np.where(ok, score, np.inf), axis=0),
                        np.argmin(miss + 1e-6 * np.abs(SCALE_GRID - 1.0)[:, None], axis=0))
        out.append(SCALE_GRID[pick])
    s_lo, s_hi = out
    if n < min_points:
        s_lo, s_hi = np.ones_like(s_lo), np.ones_like(s_hi)
    return s_lo, s_hi, np.full(cat["lo"].shape[1], n)
