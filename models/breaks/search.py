r"""Change-point searches, kept apart from the segment costs (:mod:`models.breaks.costs`).

* :func:`dynamic_programming` - exact optimal partitions with :math:`m = 0..M` breaks
  (Bai & Perron 2003), every segment at least ``min_size`` long:

  .. math:: F_m(b) = \min_{a} \{F_{m-1}(a) + C(a, b)\},\qquad F_0(b) = C(0, b).

* :func:`binary_segmentation` - greedy splits (fast, approximate).
* :func:`pelt` - penalised exact search with pruning (Killick et al. 2012).

:class:`BaiPerron` wraps the dynamic programme: optimal partitions, the number of breaks chosen
by BIC, LWZ or sequential sup-F(l+1|l) tests, Bai (1997) confidence intervals for the break
dates, and the segments. Break positions are reported as ``index`` = 0-based position of the
last observation before the break (strucchange's breakpoint minus one).

References
----------
Bai, J., Perron, P. (2003). Computation and analysis of multiple structural change models.
*J. Appl. Econometrics* 18, 1-22.
Bai, J., Perron, P. (1998). Estimating and testing linear models with multiple structural changes.
*Econometrica* 66, 47-78.
Liu, J., Wu, S., Zidek, J. V. (1997). On segmented multivariate regression. *Statistica Sinica* 7, 497-525.
Killick, R., Fearnhead, P., Eckley, I. (2012). Optimal detection of changepoints with a linear
computational cost. *JASA* 107, 1590-1598.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import numpy as np
import pandas as pd

from pakcast.models.breaks.costs import CostL2, SegmentCost, make_cost
from pakcast.models.breaks.intervals import bai_confint
from pakcast.models.breaks.supf import DEFAULT_SEED, supf_pvalue
from pakcast.models.summary import Summary

__all__ = ["dynamic_programming", "binary_segmentation", "pelt", "BaiPerron", "BreakpointsResults"]


def _min_size(n: int, min_size: float | int, k: int) -> int:
    h = int(np.floor(min_size * n)) if min_size < 1 else int(min_size)
    if h <= k - 1 or h < 1:
        raise ValueError(f"minimum segment size {h} must exceed the number of segment parameters ({k})")
    return h


def dynamic_programming(C: np.ndarray, max_breaks: int, min_size: int) -> dict[int, tuple[list[int], float]]:
    """Optimal partitions for ``m = 0..max_breaks`` from a segment-cost matrix.

    ``C[a, b]`` is the cost of ``y[a:b]`` (``inf`` when inadmissible). Returns
    ``{m: (ends, total_cost)}`` where ``ends`` are the exclusive ends of the first ``m`` segments
    (strucchange's 1-based breakpoints). Ties go to the earliest break, as in strucchange.
    """
    n = C.shape[0] - 1
    out: dict[int, tuple[list[int], float]] = {0: ([], float(C[0, n]))}
    F = C[0].copy()
    args = []
    for m in range(1, max_breaks + 1):
        M = F[:, None] + C
        arg = np.argmin(M, axis=0)
        F = M[arg, np.arange(n + 1)]
        args.append(arg)
        if not np.isfinite(F[n]):
            break
        ends, b = [], n
        for a_m in reversed(args):
            b = int(a_m[b])
            ends.append(b)
        out[m] = (sorted(ends), float(F[n]))
    return out


def binary_segmentation(cost: SegmentCost, n_breaks: int | None = None, pen: float | None = None,
                        min_size: int = 2) -> list[int]:
    """Greedy binary segmentation; stop after ``n_breaks`` or when the gain is below ``pen``."""
    if (n_breaks is None) == (pen is None):
        raise ValueError("give exactly one of n_breaks and pen")
    n = cost.n_
    ends = [0, n]
    while True:
        best: tuple[float, int | None] = (0.0, None)
        for a, b in zip(ends[:-1], ends[1:]):
            if b - a < 2 * min_size:
                continue
            i = np.arange(a + min_size, b - min_size + 1)
            gain = cost.error(a, b) - (cost._segment_costs(np.full_like(i, a), i) + cost._segment_costs(i, np.full_like(i, b)))
            j = int(np.argmax(gain))
            if gain[j] > best[0]:
                best = (float(gain[j]), int(i[j]))
        if best[1] is None:
            break
        if pen is not None and best[0] <= pen:
            break
        ends = sorted(ends + [best[1]])
        if n_breaks is not None and len(ends) - 2 >= n_breaks:
            break
    return ends[1:-1]


def pelt(cost: SegmentCost, pen: float, min_size: int = 2) -> list[int]:
    """PELT: exact minimiser of ``sum of segment costs + pen * n_breaks`` (with pruning)."""
    n = cost.n_
    F = np.full(n + 1, np.inf)
    F[0] = -pen
    last = np.zeros(n + 1, dtype=int)
    cands = np.array([0])
    for t in range(min_size, n + 1):
        ok = cands[t - cands >= min_size]
        if len(ok) == 0:
            continue
        vals = F[ok] + cost._segment_costs(ok, np.full_like(ok, t)) + pen
        j = int(np.argmin(vals))
        F[t], last[t] = vals[j], ok[j]
        keep = F[ok] + cost._segment_costs(ok, np.full_like(ok, t)) <= F[t]
        cands = np.concatenate([cands[t - cands < min_size], ok[keep], [t]])
    ends, t = [], n
    while t > 0:
        t = int(last[t])
        if t > 0:
            ends.append(t)
    return sorted(ends)


class BaiPerron:
    r"""Multiple breaks at unknown dates by dynamic programming (Bai & Perron 2003).

    Parameters
    ----------
    y : array-like
        The series.
    X : array-like, optional
        Regressors whose coefficients change at each break (``l2`` cost only); default a constant.
    cost : {"l2", "poisson", "negbin"} or SegmentCost
        Segment cost. ``l2`` reproduces R ``strucchange::breakpoints``.
    min_size : float or int
        Minimum segment length ``h``: a fraction of ``n`` (default 0.15) or a count.
    max_breaks : int, optional
        Largest number of breaks; default strucchange's ``ceiling(n/h) - 2``.
    index : sequence, optional
        Labels (dates) for the observations, used in tables.

    Examples
    --------
    >>> import statsmodels.api as sm
    >>> nile = sm.datasets.nile.load_pandas().data
    >>> res = BaiPerron(nile["volume"], index=nile["year"].astype(int)).fit()
    >>> res.n_breaks, res.breaks
    (1, [27])
    """

    def __init__(self, y, X=None, cost: str | SegmentCost = "l2", min_size: float | int = 0.15,
                 max_breaks: int | None = None, index: Sequence | None = None):
        self.y = np.asarray(y, dtype=float)
        self.X = None if X is None else np.asarray(X, dtype=float)
        self.cost = cost
        self.min_size = min_size
        self.max_breaks = max_breaks
        self.index = None if index is None else list(index)
        if self.index is not None and len(self.index) != len(self.y):
            raise ValueError(f"index has {len(self.index)} labels for {len(self.y)} observations")

    def fit(self, criterion: str = "bic", alpha: float = 0.05, random_seed: int = DEFAULT_SEED) -> "BreakpointsResults":
        """Optimal partitions for every number of breaks; ``criterion`` in {"bic", "lwz", "sequential"}."""
        cost = make_cost(self.cost)
        cost = cost.fit(self.y, self.X) if isinstance(cost, CostL2) else cost.fit(self.y)
        n, k = cost.n_, cost.n_params
        h = _min_size(n, self.min_size, k)
        M = self.max_breaks if self.max_breaks is not None else int(np.ceil(n / h)) - 2
        M = max(0, min(int(M), n // h - 1))
        parts = dynamic_programming(cost.cost_matrix(h), M, h)
        return BreakpointsResults(self, cost, h, parts, criterion, alpha, random_seed)


@dataclass
class _Row:
    m: int
    ends: list[int]
    cost: float


class BreakpointsResults:
    """Optimal partitions, model selection, break-date intervals and segments."""

    def __init__(self, model: BaiPerron, cost: SegmentCost, h: int, parts, criterion: str, alpha: float,
                 random_seed: int):
        self.model, self.cost, self.h, self.partitions = model, cost, h, parts
        self.n = cost.n_
        self.k = cost.n_params
        self.alpha = alpha
        self.random_seed = random_seed
        if criterion not in ("bic", "lwz", "sequential"):
            raise ValueError("criterion must be 'bic', 'lwz' or 'sequential'")
        self.criterion = criterion

    # --- information criteria -------------------------------------------------------------
    def df(self, m: int) -> int:
        """Parameters of an m-break model: segment coefficients, break dates, shared parameters."""
        return self.k * (m + 1) + m + self.cost.n_shared

    def loglike(self, m: int) -> float:
        return self.cost.loglike_from_cost(self.partitions[m][1])

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per number of breaks: cost (RSS for l2), log-likelihood, BIC, LWZ, break indexes."""
        rows = []
        n = self.n
        for m, (ends, c) in self.partitions.items():
            ll = self.loglike(m)
            bic = -2 * ll + np.log(n) * self.df(m)
            pstar = (m + 1) * self.k + m
            lwz = (np.log(c / (n - pstar)) + pstar / n * 0.299 * np.log(n) ** 2.1) if not self.cost.is_likelihood else np.nan
            rows.append({"m": m, "cost": c, "loglike": ll, "bic": bic, "lwz": lwz,
                         "breaks": [e - 1 for e in ends]})
        return pd.DataFrame(rows).set_index("m")

    @cached_property
    def sequential(self) -> pd.DataFrame:
        """Bai-Perron sup-F(l+1 | l) tests: for each l, the best extra break within any segment.

        The statistic is the largest one-break F statistic across the segments of the l-break
        solution (trimming ``h`` inside each); its p-value uses
        :math:`P(\\max \\le x) = \\prod_i G_{\\lambda_i}(x)` (Bai & Perron 1998, Prop. 9) with the
        sup-F limit :math:`G` of :mod:`models.breaks.supf`.
        """
        if self.cost.is_likelihood:
            lr_scale = 2.0  # LR = 2 * cost gain
        rows = []
        for l in sorted(self.partitions):
            ends = [0] + self.partitions[l][0] + [self.n]
            best: tuple[float, int | None, tuple[int, int] | None] = (-np.inf, None, None)
            probs_at: list[tuple[float, float] | None] = []
            for a, b in zip(ends[:-1], ends[1:]):
                L = b - a
                if L < 2 * self.h:
                    probs_at.append(None)
                    continue
                i = np.arange(a + self.h, b - self.h + 1)
                c0 = self.cost.error(a, b)
                c1 = self.cost._segment_costs(np.full_like(i, a), i) + self.cost._segment_costs(i, np.full_like(i, b))
                if self.cost.is_likelihood:
                    stat = lr_scale * (c0 - c1)
                else:
                    stat = (c0 - c1) / (c1 / (L - 2 * self.k))
                j = int(np.argmax(stat))
                probs_at.append(((i[0] - a) / L, (i[-1] - a) / L))
                if stat[j] > best[0]:
                    best = (float(stat[j]), int(i[j] - 1), (a, b))
            if best[1] is None:
                rows.append({"l": l, "statistic": np.nan, "p_value": np.nan, "index": None})
                continue
            surv = 1.0
            for tr in probs_at:
                if tr is None:
                    continue
                p = supf_pvalue(best[0], self.k, tr, random_seed=self.random_seed)
                surv *= (1 - p)
            rows.append({"l": l, "statistic": best[0], "p_value": 1 - surv, "index": best[1]})
        return pd.DataFrame(rows).set_index("l")

    @cached_property
    def n_breaks(self) -> int:
        """Number of breaks chosen by ``criterion``."""
        t = self.table
        if self.criterion == "bic":
            return int(t["bic"].idxmin())
        if self.criterion == "lwz":
            if t["lwz"].isna().all():
                return int(t["bic"].idxmin())
            return int(t["lwz"].idxmin())
        seq = self.sequential
        m = 0
        for l, row in seq.iterrows():
            if np.isfinite(row["p_value"]) and row["p_value"] < self.alpha and (l + 1) in self.partitions:
                m = l + 1
            else:
                break
        return m

    def breaks_for(self, m: int) -> list[int]:
        """0-based indexes (last observation before each break) of the optimal m-break partition."""
        return [e - 1 for e in self.partitions[m][0]]

    @property
    def breaks(self) -> list[int]:
        return self.breaks_for(self.n_breaks)

    # --- intervals and segments -----------------------------------------------------------
    def conf_int(self, alpha: float = 0.05, m: int | None = None, het_reg: bool = True, het_err: bool = True,
                 hac: bool = False, maxlags: int | None = None) -> pd.DataFrame:
        """Bai (1997) confidence intervals at level ``1 - alpha`` for the break dates (see :func:`bai_confint`).

        For count costs the intervals come from the same partition treated as a mean-shift
        regression with segment-specific variances (heteroskedastic errors), which is the local
        (shrinking-shift) limit of the count likelihood; ``hac=True`` replaces the variances by
        Newey-West long-run variances to allow for autocorrelation.
        """
        level = 1.0 - alpha
        m = self.n_breaks if m is None else m
        ends = self.partitions[m][0]
        if not ends:
            return pd.DataFrame(columns=["ci_low", "index", "ci_high"])
        X = self.model.X if isinstance(self.cost, CostL2) else None
        ci = bai_confint(self.cost.y_, X, ends, level=level, het_reg=het_reg, het_err=het_err, hac=hac, maxlags=maxlags)
        df = pd.DataFrame(ci - 1, columns=["ci_low", "index", "ci_high"])
        df["ci_low"] = df["ci_low"].clip(lower=0)
        df["ci_high"] = df["ci_high"].clip(upper=self.n - 1)
        return df

    def segments(self, m: int | None = None) -> pd.DataFrame:
        """Segments of the m-break partition: start/end positions (inclusive), n and mean."""
        m = self.n_breaks if m is None else m
        ends = [0] + self.partitions[m][0] + [self.n]
        y = self.cost.y_
        rows = []
        for a, b in zip(ends[:-1], ends[1:]):
            r = {"start": a, "end": b - 1, "n": b - a, "mean": float(y[a:b].mean())}
            if isinstance(self.cost, CostL2) and self.model.X is not None:
                r["coef"] = self.cost.coefficients(a, b).tolist()
            rows.append(r)
        return pd.DataFrame(rows)

    def label(self, i: int) -> Any:
        idx = self.model.index
        return i if idx is None else idx[int(i)]

    def summary(self) -> Summary:
        """The optimal partitions for each number of breaks (``table``), the selection and 95% intervals."""
        t = self.table.copy()
        t["breaks"] = [", ".join(str(self.label(i)) for i in b) for b in t["breaks"]]
        header = (("Cost", self.cost.model), ("No. observations", str(self.n)), ("Minimum segment h", str(self.h)),
                  ("Selected by", self.criterion), ("Breaks", str(self.n_breaks)))
        notes = []
        if self.n_breaks:
            for _, r in self.conf_int().iterrows():
                notes.append(f"  break after {self.label(r['index'])}: 95% CI "
                             f"[{self.label(r['ci_low'])}, {self.label(r['ci_high'])}]")
        return Summary("Bai-Perron optimal partitions", header, t, tuple(notes))

    def to_dict(self, level: float = 0.95, hac: bool = False) -> dict:
        ci = self.conf_int(alpha=1.0 - level, hac=hac)
        return {
            "cost": self.cost.model, "n": self.n, "min_size": self.h, "criterion": self.criterion,
            "n_breaks": self.n_breaks,
            "breaks": [{"index": int(r["index"]), "date": self.label(r["index"]),
                        "ci_low": self.label(r["ci_low"]), "ci_high": self.label(r["ci_high"]),
                        "ci_low_index": int(r["ci_low"]), "ci_high_index": int(r["ci_high"])}
                       for _, r in ci.iterrows()],
            "segments": [{"start": self.label(r["start"]), "end": self.label(r["end"]), "n": int(r["n"]),
                          "mean": r["mean"]} for _, r in self.segments().iterrows()],
            "table": [{"m": int(m), "cost": r["cost"], "bic": r["bic"], "lwz": r["lwz"], "breaks": r["breaks"]}
                      for m, r in self.table.iterrows()],
        }

    def plot(self, ax=None):
        """Series, segment means and break-date intervals."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(8, 3.5))
        x = np.arange(self.n) if self.model.index is None else pd.Index(self.model.index)
        ax.plot(x, self.cost.y_, color="0.4", lw=1)
        for _, s in self.segments().iterrows():
            ax.hlines(s["mean"], x[int(s["start"])], x[int(s["end"])], color="C3", lw=2)
        for _, r in self.conf_int().iterrows():
            ax.axvline(x[int(r["index"])], color="C0", ls="--", lw=1)
            ax.axvspan(x[int(r["ci_low"])], x[int(r["ci_high"])], color="C0", alpha=0.15)
        ax.set_title(f"{self.n_breaks} break(s), {self.cost.model} cost, selected by {self.criterion}")
        return ax
