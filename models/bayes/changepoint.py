r"""Bayesian single change point in the rate of any count series, with an exact posterior over dates.

The switchpoint :math:`\tau` (the last period of the first regime) is discrete, so it is
marginalised out of the likelihood (:func:`models.bayes.build.build_changepoint`) and NUTS samples
the two rates. Its posterior is then recovered *exactly* by Rao-Blackwellisation:

.. math::

    p(\tau \mid y) = \int p(\tau \mid \lambda_1, \lambda_2, y)\, p(\lambda_1, \lambda_2 \mid y)\, d\lambda
    \approx \frac{1}{S} \sum_{s=1}^S \operatorname{softmax}_\tau\big(\ell_\tau(\lambda_1^{(s)}, \lambda_2^{(s)})\big)

which has lower Monte Carlo error than sampling :math:`\tau` and covers every date.

Example
-------
>>> import pandas as pd
>>> coal = pd.read_csv("coal_pymc_docs.csv")                         # doctest: +SKIP
>>> res = BayesianChangepoint(coal["disasters"], labels=coal["year"],
...                           priors={"rate_scale": 1.0}).fit(random_seed=1)  # doctest: +SKIP
>>> res.to_dict()["switchpoint"]                                      # doctest: +SKIP
{'mode': 1890, 'mean': 1889.9, 'hdi_low': 1886, 'hdi_high': 1895, 'hdi_prob': 0.95}

References
----------
PyMC developers, "Coal mining disasters" case study (PyMC overview notebook).
Carlin, B. P., Gelfand, A. E. and Smith, A. F. M. (1992). Hierarchical Bayesian analysis of
changepoint problems. *Applied Statistics* 41, 389-405.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import arviz as az
import numpy as np
import pandas as pd
from scipy.special import logsumexp

from pakcast.models.bayes._summaries import interval_record, nb2_draws
from pakcast.models.summary import Summary
from pakcast.models.bayes.build import build_changepoint
from pakcast.models.bayes.fit import SampledModel, SampledResults
from pakcast.models.bayes.idata import complete_idata, draw_rng, save_idata
from pakcast.models.likelihood import negbin_logpmf


def discrete_hdi(prob: np.ndarray, level: float = 0.95) -> tuple[int, int]:
    """Shortest contiguous index range ``[lo, hi]`` whose probability mass reaches ``level``."""
    p = np.asarray(prob, dtype=float)
    c = np.concatenate([[0.0], np.cumsum(p)])
    n = p.size
    best = (0, n - 1)
    hi = 0
    for lo in range(n):
        hi = max(hi, lo)
        while hi < n and c[hi + 1] - c[lo] < level - 1e-12:
            hi += 1
        if hi >= n:
            break
        if hi - lo < best[1] - best[0]:
            best = (lo, hi)
    return best


class BayesianChangepoint(SampledModel["ChangepointResults"]):
    r"""One unknown change in the rate of a count series (Poisson or NB2).

    Parameters
    ----------
    y : array-like
        Counts per period (NaN / None for missing periods, which add nothing to the likelihood).
    labels : array-like, optional
        The period of each count (years, dates...); the switchpoint is reported in these values.
        Default ``0..T-1``.
    family : {"poisson", "negbin"}
        Count distribution within each regime; use ``"negbin"`` for overdispersed series
        (attack counts), where a Poisson model is overconfident about the date.
    priors : mapping, optional
        Overrides of :data:`models.bayes.build.DEFAULT_CHANGEPOINT_PRIORS`.
    """

    def __init__(self, y: Sequence[float] | np.ndarray | pd.Series, labels: Sequence[Any] | None = None, *,
                 family: Literal["poisson", "negbin"] = "poisson", priors: Mapping[str, Any] | None = None) -> None:
        yv = pd.to_numeric(pd.Series(np.asarray(y, dtype=object)), errors="coerce").to_numpy(dtype=float)
        raw = np.asarray(y, dtype=object)
        bad = [i for i, (r, v) in enumerate(zip(raw, yv)) if (np.isnan(v) and not pd.isna(r)) or
               (np.isfinite(v) and (v < 0 or v != np.round(v)))]
        if bad:
            raise ValueError(f"y row {bad[0]}: expected a non-negative integer count or missing, got {raw[bad[0]]!r} "
                             f"({len(bad)} bad rows)")
        self.y = yv
        self.labels = list(range(yv.size)) if labels is None else list(labels)
        if len(self.labels) != yv.size:
            raise ValueError(f"labels has {len(self.labels)} values, y has {yv.size}")
        self.family = family
        self.priors = dict(priors or {})

    def build(self):
        return build_changepoint({"y": self.y}, None, self.priors, family=self.family)

    def _attrs(self) -> dict[str, Any]:
        return {"model": "BayesianChangepoint", "family": self.family}

    def _results(self, idata: az.InferenceData) -> "ChangepointResults":
        return ChangepointResults(self, idata)


class ChangepointResults(SampledResults):
    """Posterior of a :class:`BayesianChangepoint` fit: switchpoint distribution, rates, diagnostics."""

    model: BayesianChangepoint
    monitored = ("rate_before", "rate_after", "log_alpha")

    def _complete_idata(self) -> None:
        """``observed_data``, ``log_likelihood`` and ``posterior_predictive`` of ``y`` (the observed
        periods, dimension ``obs`` with a ``period`` coordinate).

        The switchpoint is marginalised in the fit, so each draw first takes a switchpoint from its
        exact conditional posterior :math:`p(\\tau \\mid \\lambda_1, \\lambda_2, y)`; the pointwise
        log-likelihood and the replicated counts are those of the regime each period falls in under
        that switchpoint (conditional on it, as for any model with a discrete latent variable)."""
        rng = draw_rng(self.idata, 1)
        lp = self._draws("switchpoint_logp")                              # (S, T-1)
        cond = np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
        u = rng.uniform(size=(lp.shape[0], 1))
        tau = np.minimum((np.cumsum(cond, axis=1) < u).sum(axis=1), lp.shape[1] - 1)  # (S,)
        ok = np.isfinite(self.model.y)
        t = np.arange(self.model.y.size)[ok]
        y = self.model.y[ok].astype(np.int64)
        rate = np.where(t[None, :] <= tau[:, None], self._draws("rate_before")[:, None],
                        self._draws("rate_after")[:, None])           # (S, n)
        if self.model.family == "negbin":
            alpha = np.broadcast_to(np.exp(self._draws("log_alpha"))[:, None], rate.shape)
            ll = negbin_logpmf(y[None, :], rate, alpha)
            yrep = nb2_draws(rate, alpha, rng)
        else:
            ll = negbin_logpmf(y[None, :], rate, 0.0)
            yrep = rng.poisson(rate).astype(np.int64)
        labels = pd.Index(self.model.labels)
        if labels.dtype == object:
            labels = labels.astype(str)
        complete_idata(self.idata, "y", y, ll, yrep, {"period": labels.to_numpy()[ok]})

    def save(self, path: str | Path) -> Path:
        """Write the complete ``InferenceData`` to a netCDF file (``az.plot_ppc`` and ``az.loo`` work on
        ``az.from_netcdf(path)``)."""
        return save_idata(self.idata, path)

    def plot(self, **kwargs: Any):
        """The series with the posterior rate of each regime and the switchpoint posterior
        (:func:`models.bayes.plot.plot_changepoint`); returns ``(fig, axes)``."""
        from pakcast.models.bayes.plot import plot_changepoint

        return plot_changepoint(self, **kwargs)

    @property
    def switchpoint_probabilities(self) -> pd.Series:
        """Exact posterior :math:`p(\\tau \\mid y)` over the candidate last periods of the first regime."""
        lp = self._draws("switchpoint_logp")                      # (S, T-1)
        cond = np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
        p = cond.mean(axis=0)
        return pd.Series(p / p.sum(), index=pd.Index(self.model.labels[:-1], name="switchpoint"), name="probability")

    def _label_value(self, x: Any) -> Any:
        if isinstance(x, (pd.Timestamp, np.datetime64)):
            return pd.Timestamp(x).strftime("%Y-%m-%d")
        if isinstance(x, (np.integer,)):
            return int(x)
        if isinstance(x, (np.floating,)):
            return float(x)
        return x

    def switchpoint_summary(self, hdi_prob: float = 0.95) -> dict:
        """``{mode, mean, hdi_low, hdi_high, hdi_prob}`` in the labels' own values.

        Numeric labels: ``mean`` is the posterior mean of the label. Date labels: ``mean`` is the
        period nearest the posterior mean position (ISO string). Other labels: nearest label.
        """
        p = self.switchpoint_probabilities.to_numpy()
        labels = self.model.labels[:-1]
        mode_i = int(np.argmax(p))
        lo, hi = discrete_hdi(p, hdi_prob)
        pos = float(np.sum(p * np.arange(p.size)))
        numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in labels)
        if numeric:
            mean: Any = float(np.sum(p * np.asarray(labels, dtype=float)))
        else:
            mean = self._label_value(labels[int(round(pos))])
        return {"mode": self._label_value(labels[mode_i]), "mean": mean, "hdi_low": self._label_value(labels[lo]),
                "hdi_high": self._label_value(labels[hi]), "hdi_prob": hdi_prob,
                "mode_probability": float(p[mode_i])}

    def compare_known(self, known: Sequence[Any], window: int = 0) -> list[dict]:
        """For each known break label: posterior probability that the switchpoint lies within
        ``window`` periods of it, and its distance (in periods) from the posterior mode."""
        probs = self.switchpoint_probabilities
        labels = list(probs.index)
        mode_i = int(np.argmax(probs.to_numpy()))
        out = []
        for k in known:
            try:
                i = labels.index(k)
            except ValueError:
                if all(isinstance(v, pd.Timestamp) for v in labels):
                    i = int(np.searchsorted(pd.DatetimeIndex(labels), pd.Timestamp(k), side="right") - 1)
                else:
                    raise ValueError(f"known break {k!r} is not one of the series' periods") from None
            lo, hi = max(i - window, 0), min(i + window, len(labels) - 1)
            out.append({"known": self._label_value(k), "period": self._label_value(labels[i]),
                        "prob_within_window": float(probs.iloc[lo:hi + 1].sum()), "window": window,
                        "periods_from_mode": mode_i - i})
        return out

    def to_dict(self, hdi_prob: float = 0.95) -> dict:
        d = self.diagnostics
        r1, r2 = self._draws("rate_before"), self._draws("rate_after")
        out = {
            "model": "BayesianChangepoint", "family": self.model.family,
            "n_periods": int(self.model.y.size), "n_missing": int(np.isnan(self.model.y).sum()),
            "switchpoint": self.switchpoint_summary(hdi_prob),
            "rates_before": interval_record(r1, hdi_prob=hdi_prob),
            "rates_after": interval_record(r2, hdi_prob=hdi_prob),
            "rate_ratio": interval_record(r2 / r1, hdi_prob=hdi_prob, null=1.0),
            "sampler": self.idata.attrs.get("sampler"), "random_seed": self.idata.attrs.get("random_seed"),
            "max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk, "min_ess_tail": d.min_ess_tail,
            "divergences": d.divergences, "converged": d.converged, "diagnostics": d.to_dict(),
        }
        return out

    def summary(self) -> Summary:
        """Posterior of the switchpoint (probability per period, largest first; ``table``) with the
        diagnostics in the header (warns if unconverged)."""
        self.diagnostics.warn_if_unconverged("BayesianChangepoint summary")
        s = self.switchpoint_probabilities.sort_values(ascending=False).reset_index()
        return Summary("Bayesian change point: switchpoint posterior", (("Diagnostics", self.diagnostics.message()),), s)
