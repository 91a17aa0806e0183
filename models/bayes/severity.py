r"""Frequency-severity model of casualties: deaths per attack, pooled across provinces.

Severity (:func:`models.bayes.build.build_severity`): each attack in unit :math:`u` kills
:math:`D \sim \mathrm{NB2}(m_u, \alpha)` people, with :math:`\log m_u` partially pooled. The sum of
:math:`n` attacks is exactly :math:`\mathrm{NB2}(n m_u, \alpha/n)`, so the model is fitted on the
province-month totals and needs no event table. Frequency comes from a
:class:`models.bayes.its.HierarchicalNBITSResults` (posterior predictive attack counts); the
posterior predictive of total killed in a unit-month is then

.. math::

    K \mid N \sim \mathrm{NB2}(N m_u, \alpha / N) \ (N > 0), \qquad K = 0 \ (N = 0).

Measurement error in the death counts: :func:`severity_sensitivity` refits on the UCDP low,
best and high estimates and reports the three side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from pakcast.models.bayes._summaries import interval_record, nb2_draws
from pakcast.models.bayes.build import Pooling, build_severity
from pakcast.models.bayes.fit import SampledModel, SampledResults
from pakcast.models.bayes.idata import complete_idata, draw_rng, save_idata
from pakcast.models.likelihood import negbin_logpmf


class SeverityModel(SampledModel["SeverityResults"]):
    """Deaths per attack by unit from a long panel with attack and death counts.

    Parameters
    ----------
    panel : pandas.DataFrame
        Columns ``unit_col``, ``attacks`` and ``killed`` (one row per unit-period). Rows with
        zero attacks carry no severity information and are not used (counted in
        ``n_cells_without_attacks``); a row with deaths but no attacks is an error.
    killed, attacks, unit_col : str
    pooling : {"partial", "complete", "none"}
    priors : mapping, optional
        Overrides of :data:`models.bayes.build.DEFAULT_SEVERITY_PRIORS`.
    centered : bool
        Centred province effects (default): on the shipped panel the non-centred form gave a few
        divergences (Khyber Pakhtunkhwa's ~4,000 attacks pin its mean), the centred one none.
    """

    #: the default ``target_accept`` of :meth:`fit`
    target_accept = 0.95

    def __init__(self, panel: pd.DataFrame, killed: str = "killed", attacks: str = "attacks", *,
                 unit_col: str = "unique_id", pooling: Pooling = "partial",
                 priors: Mapping[str, Any] | None = None, likelihood: str = "native", centered: bool = True) -> None:
        for c in (unit_col, killed, attacks):
            if c not in panel.columns:
                raise ValueError(f"panel is missing column {c!r}; has {list(panel.columns)}")
        k = pd.to_numeric(panel[killed], errors="coerce")
        n = pd.to_numeric(panel[attacks], errors="coerce")
        for col, v in ((killed, k), (attacks, n)):
            bad = panel.index[v.isna() | (v < 0) | (v != np.round(v))]
            if len(bad):
                raise ValueError(f"panel row {bad[0]}, column {col!r}: expected a non-negative integer count, got "
                                 f"{panel.loc[bad[0], col]!r} ({len(bad)} bad rows)")
        orphan = panel.index[(n == 0) & (k > 0)]
        if len(orphan):
            raise ValueError(f"panel row {orphan[0]}: {killed}={k[orphan[0]]:g} with {attacks}=0 "
                             f"({len(orphan)} such rows); deaths need at least one attack")
        self.units = sorted(panel[unit_col].astype(str).unique().tolist())
        use = n > 0
        self.n_cells_without_attacks = int((~use).sum())
        self.unit_idx = pd.Categorical(panel.loc[use, unit_col].astype(str), categories=self.units).codes.astype(int)
        self.killed = k[use].to_numpy(dtype=np.int64)
        self.attacks = n[use].to_numpy(dtype=np.int64)
        self.killed_col = killed
        self.pooling = pooling
        self.priors = dict(priors or {})
        self.likelihood = likelihood
        self.centered = centered

    def build(self):
        center = float(np.log(max(self.killed.sum(), 0.5) / self.attacks.sum()))
        return build_severity({"killed": self.killed, "attacks": self.attacks, "unit_idx": self.unit_idx,
                               "intercept_center": center}, {"unit": self.units}, self.priors,
                              pooling=self.pooling, likelihood=self.likelihood, centered=self.centered)

    def _attrs(self) -> dict[str, Any]:
        return {"model": "SeverityModel", "killed_column": self.killed_col}

    def _label(self) -> str:
        return f"SeverityModel({self.killed_col})"

    def _results(self, idata: az.InferenceData) -> "SeverityResults":
        return SeverityResults(self, idata)


class SeverityResults(SampledResults):
    """Posterior of deaths per attack by unit, and predictive totals given attack counts."""

    model: SeverityModel
    monitored = ("log_mean_deaths", "log_mean_deaths_mu", "log_mean_deaths_sigma", "log_alpha")

    def _complete_idata(self) -> None:
        """``observed_data``, ``log_likelihood`` and ``posterior_predictive`` of ``killed`` (the cells with
        attacks, dimension ``obs`` with ``unit`` and ``attacks`` coordinates):
        :math:`K \\mid N \\sim \\mathrm{NB2}(N m_u, \\alpha / N)` for every draw."""
        m = self.model
        n = m.attacks.astype(float)[None, :]
        mu = n * self._draws("mean_deaths")[:, m.unit_idx]             # (S, cells)
        alpha = np.exp(self._draws("log_alpha"))[:, None] / n
        ll = negbin_logpmf(m.killed[None, :], mu, alpha)
        yrep = nb2_draws(mu, alpha, draw_rng(self.idata, 1))
        complete_idata(self.idata, "killed", m.killed, ll, yrep,
                       {"unit": np.asarray(m.units)[m.unit_idx], "attacks": m.attacks})

    def save(self, path: str | Path) -> Path:
        """Write the complete ``InferenceData`` to a netCDF file (``az.plot_ppc`` and ``az.loo`` work on
        ``az.from_netcdf(path)``)."""
        return save_idata(self.idata, path)

    def plot(self, hdi_prob: float = 0.9, **kwargs: Any):
        """Mean deaths per attack by unit with its interval (:func:`models.bayes.plot.plot_severity`);
        returns ``(fig, ax)``."""
        from pakcast.models.bayes.plot import plot_severity

        return plot_severity(self, hdi_prob=hdi_prob, **kwargs)

    def mean_deaths(self, hdi_prob: float = 0.95) -> pd.DataFrame:
        """Posterior of the mean deaths per attack by unit (tidy: ``unit, mean, hdi95_low, ...``)."""
        d = self._draws("mean_deaths")
        rows = []
        for i, u in enumerate(self.model.units):
            rec = interval_record(d[:, i], hdi_prob=hdi_prob)
            rows.append({"unit": u, **{k: v for k, v in rec.items() if k != "hdi_prob"}})
        df = pd.DataFrame(rows).rename(columns={"hdi_low": f"hdi{int(100 * hdi_prob)}_low",
                                                "hdi_high": f"hdi{int(100 * hdi_prob)}_high"})
        df = df.loc[:, ~df.columns.duplicated()]  # hdi_prob=0.9: the 90% columns once
        df.attrs["diagnostics"] = self.diagnostics.message()
        return df

    def total_killed(self, attacks: np.ndarray, units: Sequence[str], random_seed: int | None = None) -> np.ndarray:
        """Predictive total killed for attack-count draws ``attacks`` (U, H, S) of the given ``units``.

        Posterior draws of the severity are paired with the ``S`` frequency samples (drawn with
        replacement when ``S`` exceeds the posterior size), so the result carries both the
        frequency and the severity uncertainty.
        """
        self.diagnostics.warn_if_unconverged("SeverityModel total_killed")
        n = np.asarray(attacks)
        if n.ndim != 3 or n.shape[0] != len(units):
            raise ValueError(f"attacks must be (unit, horizon, sample) with {len(units)} units, got {n.shape}")
        missing = [u for u in units if u not in self.model.units]
        if missing:
            raise ValueError(f"no severity estimate for units {missing}; fitted units: {self.model.units}")
        rng = np.random.default_rng(random_seed)
        S = n.shape[2]
        m_all = self._draws("mean_deaths")
        alpha_all = np.exp(self._draws("log_alpha"))
        pick = rng.choice(m_all.shape[0], size=S, replace=S > m_all.shape[0])
        cols = [self.model.units.index(u) for u in units]
        m = m_all[pick][:, cols].T[:, None, :]          # (U, 1, S)
        alpha = alpha_all[pick][None, None, :]
        safe_n = np.maximum(n, 1)
        out = nb2_draws(safe_n * m, alpha / safe_n, rng)
        return np.where(n > 0, out, 0)

    def to_dict(self) -> dict:
        d = self.diagnostics
        return {"model": "SeverityModel", "killed_column": self.model.killed_col, "pooling": self.model.pooling,
                "n_cells": int(self.model.killed.size), "n_cells_without_attacks": self.model.n_cells_without_attacks,
                "mean_deaths_per_attack": self.mean_deaths().to_dict(orient="records"),
                "nb2_alpha": interval_record(np.exp(self._draws("log_alpha"))),
                "max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk, "min_ess_tail": d.min_ess_tail,
                "divergences": d.divergences, "converged": d.converged}


def severity_sensitivity(panel: pd.DataFrame, columns: Sequence[str] = ("killed_low", "killed", "killed_high"),
                         *, random_seed: int | None = None, **fit_kwargs: Any) -> pd.DataFrame:
    """Refit the severity model on each death estimate (UCDP low / best / high) and stack the
    mean-deaths-per-attack tables (column ``estimate``), so the measurement uncertainty is shown
    side by side rather than hidden."""
    frames = []
    for i, col in enumerate(columns):
        seed = None if random_seed is None else int(random_seed) + i
        res = SeverityModel(panel, killed=col).fit(random_seed=seed, **fit_kwargs)
        df = res.mean_deaths()
        df.insert(0, "estimate", col)
        df["converged"] = res.diagnostics.converged
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
