r"""Sandwich covariances for M-estimators: HC0, Newey-West (HAC), Driscoll-Kraay and cluster.

For an estimator with per-observation scores :math:`s_i` (rows of ``scores``, shape (n, k)) and
bread :math:`B^{-1}` (the inverse of minus the Hessian of the objective), every covariance here is

.. math::

    \widehat V = B^{-1} \, M \, B^{-1},

with the meat :math:`M` built from the scores:

* ``"HC0"`` (White): :math:`M = \sum_i s_i s_i^\top`;
* ``"HAC"`` (Newey-West, rows in time order within one series):
  :math:`M = \Gamma_0 + \sum_{l=1}^{L} w_l (\Gamma_l + \Gamma_l^\top)`,
  :math:`\Gamma_l = \sum_{t > l} s_t s_{t-l}^\top`, Bartlett weights :math:`w_l = 1 - l/(L+1)`;
* ``"driscoll-kraay"``: the scores are first summed within each period,
  :math:`S_t = \sum_{i: t_i = t} s_i`, and :math:`M` is the Bartlett HAC meat of :math:`S_t` over
  the sorted periods (robust to any correlation across units within a period and to serial
  correlation up to :math:`L` periods; with one unit it is Newey-West);
* ``"cluster"``: :math:`M = \tfrac{G}{G-1} \sum_g S_g S_g^\top`, :math:`S_g` the score sums of
  the :math:`G` clusters (R ``sandwich::vcovCL(type = "HC0")``; statsmodels multiplies a further
  :math:`(n-1)/(n-k)`).

The default truncation lag is :math:`L = \lfloor 4 (T/100)^{2/9} \rfloor` (:func:`newey_west_lags`),
with :math:`T` the number of rows (HAC) or periods (Driscoll-Kraay), as statsmodels and R
``sandwich::NeweyWest(lag = NULL, ...)`` with ``bw`` fixed by that rule.

References
----------
Newey, W. K. & West, K. D. (1987). A simple, positive semi-definite, heteroskedasticity and
autocorrelation consistent covariance matrix. *Econometrica* 55(3).
Driscoll, J. C. & Kraay, A. C. (1998). Consistent covariance matrix estimation with spatially
dependent panel data. *Review of Economics and Statistics* 80(4).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["COV_TYPES", "newey_west_lags", "bartlett_meat", "sum_by", "sandwich", "robust_covariance"]

COV_TYPES = ("nonrobust", "HC0", "HAC", "driscoll-kraay", "cluster")


def newey_west_lags(n: int) -> int:
    r"""Default Bartlett truncation lag :math:`\lfloor 4 (n/100)^{2/9} \rfloor` for ``n`` periods."""
    return int(np.floor(4 * (n / 100.0) ** (2.0 / 9.0)))


def bartlett_meat(scores: np.ndarray, maxlags: int) -> np.ndarray:
    r""":math:`\Gamma_0 + \sum_{l=1}^{L} (1 - \tfrac{l}{L+1}) (\Gamma_l + \Gamma_l^\top)` of the rows of
    ``scores`` (n, k) in their order; ``maxlags=0`` gives :math:`\sum_i s_i s_i^\top`."""
    S = np.asarray(scores, dtype=float)
    if S.ndim == 1:
        S = S[:, None]
    L = int(maxlags)
    if L < 0:
        raise ValueError(f"maxlags must be >= 0, got {maxlags}")
    meat = S.T @ S
    for lag in range(1, min(L, S.shape[0] - 1) + 1):
        G = S[lag:].T @ S[:-lag]
        meat += (1.0 - lag / (L + 1.0)) * (G + G.T)
    return meat


def sum_by(scores: np.ndarray, labels) -> np.ndarray:
    """Scores summed within each distinct label, rows in sorted label order, shape (n_labels, k)."""
    S = np.asarray(scores, dtype=float)
    if S.ndim == 1:
        S = S[:, None]
    lab = np.asarray(labels)
    if lab.shape[0] != S.shape[0]:
        raise ValueError(f"labels have {lab.shape[0]} entries for {S.shape[0]} score rows")
    codes, uniq = pd.factorize(pd.Series(lab), sort=True)
    if np.any(codes < 0):
        raise ValueError("labels contain missing values")
    out = np.zeros((len(uniq), S.shape[1]))
    np.add.at(out, codes, S)
    return out


def sandwich(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """:math:`B^{-1} M B^{-1}` (``bread`` is :math:`B^{-1}`, symmetric)."""
    bread = np.asarray(bread, dtype=float)
    return bread @ meat @ bread


def robust_covariance(scores: np.ndarray, bread: np.ndarray, cov_type: str, *, maxlags: int | None = None,
                      time=None, groups=None) -> tuple[np.ndarray, int | None]:
    """Covariance ``cov_type`` (see the module notes) and the lag used (None where none applies).

    Parameters
    ----------
    scores : array (n, k)
        Per-observation scores (weighted where the fit is weighted).
    bread : array (k, k)
        Inverse of minus the Hessian; returned as is for ``"nonrobust"``.
    cov_type : {"nonrobust", "HC0", "HAC", "driscoll-kraay", "cluster"}
    maxlags : int, optional
        Bartlett truncation lag (HAC, Driscoll-Kraay); default :func:`newey_west_lags` of the
        number of rows (HAC) or periods (Driscoll-Kraay).
    time : array (n,), optional
        Period of each row; required for ``"driscoll-kraay"`` (any sortable labels).
    groups : array (n,), optional
        Cluster of each row; required for ``"cluster"``.
    """
    if cov_type not in COV_TYPES:
        raise ValueError(f"cov_type={cov_type!r}; expected one of {COV_TYPES}")
    if cov_type == "nonrobust":
        return np.asarray(bread, dtype=float), None
    if cov_type == "HC0":
        return sandwich(bread, bartlett_meat(scores, 0)), None
    if cov_type == "HAC":
        S = np.asarray(scores, dtype=float)
        L = newey_west_lags(S.shape[0]) if maxlags is None else int(maxlags)
        return sandwich(bread, bartlett_meat(S, L)), L
    if cov_type == "driscoll-kraay":
        if time is None:
            raise ValueError("cov_type='driscoll-kraay' needs time (the period of each row)")
        St = sum_by(scores, time)
        L = newey_west_lags(St.shape[0]) if maxlags is None else int(maxlags)
        return sandwich(bread, bartlett_meat(St, L)), L
    if groups is None:
        raise ValueError("cov_type='cluster' needs groups (the cluster of each row)")
    Sg = sum_by(scores, groups)
    G = Sg.shape[0]
    if G < 2:
        raise ValueError("cov_type='cluster' needs at least two clusters")
    return sandwich(bread, bartlett_meat(Sg, 0) * (G / (G - 1.0))), None
