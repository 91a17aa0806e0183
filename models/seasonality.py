r"""Fourier seasonality terms: the one helper every model and study builds its seasonal columns with.

For a position :math:`s_t` in a seasonal cycle of length :math:`P` (e.g. the month number with
:math:`P = 12`) and :math:`K` harmonics the columns are

.. math::

    \sin(2\pi k s_t / P), \quad \cos(2\pi k s_t / P), \qquad k = 1, \dots, K,

in the order ``sin1, cos1, sin2, cos2, ...`` (:func:`fourier_names`).

Examples
--------
>>> import numpy as np
>>> fourier_terms(np.array([3, 6, 9, 12]), 12, 1).round(12).tolist()
[[1.0, 0.0], [0.0, -1.0], [-1.0, -0.0], [-0.0, 1.0]]
"""

from __future__ import annotations

import numpy as np

__all__ = ["fourier_terms", "fourier_names"]


def fourier_terms(position, period: float, n_harmonics: int) -> np.ndarray:
    """Columns ``sin(2 pi k s / P), cos(2 pi k s / P)`` for ``k = 1..n_harmonics``, shape (n, 2K).

    ``position`` is the place of each observation in the cycle (any origin: month numbers 1-12
    and 0-11 give the same model with rotated coefficients); ``period`` the cycle length ``P``.
    """
    s = np.asarray(position, dtype=float).ravel()
    K = int(n_harmonics)
    if K < 0:
        raise ValueError(f"n_harmonics must be >= 0, got {n_harmonics}")
    if K and not period > 0:
        raise ValueError(f"period must be positive, got {period}")
    cols = []
    for k in range(1, K + 1):
        ang = 2 * np.pi * k * s / period
        cols += [np.sin(ang), np.cos(ang)]
    return np.column_stack(cols) if cols else np.zeros((s.size, 0))


def fourier_names(n_harmonics: int) -> list[str]:
    """``["sin1", "cos1", ..., f"sin{K}", f"cos{K}"]``, the column names of :func:`fourier_terms`."""
    return [f"{f}{k}" for k in range(1, int(n_harmonics) + 1) for f in ("sin", "cos")]
