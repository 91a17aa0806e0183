r"""Hierarchical negative-binomial interrupted time series of counts by unit (province) and month.

:class:`HierarchicalNBITS` takes a long panel (one row per unit and period), builds the design
(trend in years, steps and ramps at the break dates, Fourier seasonality, population offset,
optional covariates), samples the model of :func:`models.bayes.build.build_hierarchical_its`
and returns :class:`HierarchicalNBITSResults`: break effects per unit as rate ratios with 90%
and 95% highest-density intervals and the posterior probability of a decrease, convergence
diagnostics, posterior predictive checks and integer forecast draws.

Example
-------
>>> from models.bayes.simulate import simulate_its_panel
>>> panel, truth = simulate_its_panel(n_units=3, n_months=48, random_seed=1)
>>> res = HierarchicalNBITS(panel, breaks=["2012-06-15"]).fit(draws=200, tune=200, random_seed=1)  # doctest: +SKIP
>>> res.break_effects()[["unit", "break", "level_rr_mean", "level_rr_hdi95_low", "p_decrease"]]  # doctest: +SKIP
>>> res.forecast(h=12, random_seed=2).shape  # doctest: +SKIP
(3, 12, 4000)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from pakcast.models.bayes import build as _build
from pakcast.models.bayes._summaries import interval_record, nb2_draws, zero_truncated_nb2_draws
from pakcast.models.bayes.diagnostics import PPCSummary, ppc_summary
from pakcast.models.bayes.fit import SampledModel, SampledResults
from pakcast.models.bayes.idata import complete_idata, draw_rng, save_idata
from pakcast.models.likelihood import negbin_logpmf_eta
from pakcast.models.seasonality import fourier_names, fourier_terms
from pakcast.models.summary import Summary

DAYS_PER_YEAR = 365.25


def _validate_panel(panel: pd.DataFrame, unit_col: str, time_col: str, outcome: str) -> None:
    if not isinstance(panel, pd.DataFrame):
        raise TypeError(f"panel must be a pandas DataFrame, got {type(panel).__name__}")
    missing = [c for c in (unit_col, time_col, outcome) if c not in panel.columns]
    if missing:
        raise ValueError(f"panel is missing column(s) {missing}; has {list(panel.columns)}")
    y = pd.to_numeric(panel[outcome], errors="coerce")
    bad = panel.index[(panel[outcome].notna() & y.isna()) | (y < 0) | (y.notna() & (y != np.round(y)))]
    if len(bad):
        i = bad[0]
        raise ValueError(f"panel row {i}, column {outcome!r}: expected a non-negative integer count, "
                         f"got {panel.loc[i, outcome]!r} ({len(bad)} bad rows)")
    dup = panel.duplicated([unit_col, time_col])
    if dup.any():
        i = panel.index[dup][0]
        raise ValueError(f"panel row {i}: duplicate ({unit_col}, {time_col}) = "
                         f"({panel.loc[i, unit_col]!r}, {panel.loc[i, time_col]!r})")


@dataclass
class ITSDesign:
    """The arrays behind one hierarchical ITS fit (and how to extend them into the future)."""

    units: list[str]
    dates: pd.DatetimeIndex
    y: np.ndarray               # (U, T) float, NaN missing
    offset: np.ndarray          # (U, T) log exposure (0 without exposure)
    t: np.ndarray               # (T,) years since origin, minus t_center
    step: np.ndarray            # (K, T)
    ramp: np.ndarray            # (K, T) years since break
    fourier: np.ndarray         # (T, F)
    X: np.ndarray | None        # (U, T, C)
    breaks: list[pd.Timestamp]
    break_labels: list[str]
    covariates: list[str]
    origin: pd.Timestamp
    n_harmonics: int
    t_center: float
    exposure: str | None
    freq: str = "MS"
    notes: list[str] = field(default_factory=list)
    covariate_mean: np.ndarray | None = None
    covariate_sd: np.ndarray | None = None

    def data(self) -> dict[str, Any]:
        y = self.y
        tot_exposure = np.exp(self.offset)[np.isfinite(y)].sum()
        center = float(np.log(max(np.nansum(y), 0.5) / tot_exposure))
        d = {"y": y, "offset": self.offset, "t": self.t, "step": self.step, "ramp": self.ramp,
             "fourier": self.fourier, "intercept_center": center}
        if self.X is not None:
            d["X"] = self.X
        return d

    def coords(self) -> dict[str, Any]:
        c = {"unit": list(self.units), "time": np.arange(len(self.dates)), "break": list(self.break_labels),
             "fourier": fourier_names(self.n_harmonics)}
        if self.X is not None:
            c["covariate"] = list(self.covariates)
        return c

    def time_terms(self, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``t``, ``step``, ``ramp``, ``fourier`` for arbitrary period starts (past or future)."""
        dates = pd.DatetimeIndex(dates)
        t = ((dates - self.origin) / pd.Timedelta(days=1)).to_numpy(dtype=float) / DAYS_PER_YEAR - self.t_center
        K = len(self.breaks)
        step = np.zeros((K, len(dates)))
        ramp = np.zeros((K, len(dates)))
        for k, b in enumerate(self.breaks):
            post = dates > b
            step[k] = post
            ramp[k] = np.where(post, ((dates - b) / pd.Timedelta(days=1)).to_numpy(dtype=float) / DAYS_PER_YEAR, 0.0)
        return t, step, ramp, fourier_terms(dates.month.to_numpy(), 12, self.n_harmonics)

    def future_dates(self, h: int) -> pd.DatetimeIndex:
        return pd.date_range(self.dates[-1], periods=h + 1, freq=self.freq)[1:]


class HierarchicalNBITS(SampledModel["HierarchicalNBITSResults"]):
    r"""Hierarchical negative-binomial ITS on a long unit x month panel.

    The model (see :func:`models.bayes.build.build_hierarchical_its` for the full statement):

    .. math::

        y_{ut} \sim \mathrm{NB2}(\mu_{ut}, \alpha),\quad
        \log\mu_{ut} = \log E_{ut} + a_u + b_u t + \sum_k (\ell_{uk} S_{kt} + s_{uk} R_{kt}) + f_t^\top\gamma

    with unit effects partially pooled (non-centred) around national effects. A period is
    *after* break :math:`k` when its start is later than the break date (so a December 16
    break starts with January).

    Parameters
    ----------
    panel : pandas.DataFrame
        Long panel: ``unit_col``, ``time_col`` (period start), ``outcome`` and optionally
        ``exposure`` and covariate columns. Every unit must have every period in the window
        (explicit zeros); a missing outcome (NaN) is left out of the likelihood and counted.
    outcome : str
        Count column (``"attacks"``, ``"killed"``...).
    breaks : sequence of str or Timestamp
        Break dates (required; ``()`` for none); each must fall inside the window. There is no
        default: a country's known dates come from its profile (``pakcast.forecast.country``).
    unit_col, time_col : str
    exposure : str or None
        Exposure column (population). The offset is :math:`\log(E / 10^6)` (rates per million)
        and is used only when the exposure is known (after filling within unit) for every unit;
        otherwise it is dropped with a warning and recorded in ``design.notes``.
    covariates : sequence of str, optional
        Covariate columns, standardised (mean 0, sd 1) before fitting.
    n_harmonics : int
        Fourier pairs of the month-of-year seasonality.
    start, end : str or Timestamp, optional
        Fit window (inclusive period starts).
    pooling : {"partial", "complete", "none"}
    likelihood : {"native", "numba"}
    zero_model : {"none", "zinb", "hurdle"}
    latent : {"none", "ar1", "rw"}
    priors : mapping, optional
        Overrides of :data:`models.bayes.build.DEFAULT_ITS_PRIORS`.
    """

    def __init__(self, panel: pd.DataFrame, outcome: str = "attacks", breaks: Sequence[Any] | None = None, *,
                 unit_col: str = "unique_id", time_col: str = "ds", exposure: str | None = "population",
                 covariates: Sequence[str] | None = None, n_harmonics: int = 2, start: Any = None, end: Any = None,
                 pooling: _build.Pooling = "partial", likelihood: _build.Likelihood = "native",
                 zero_model: _build.ZeroModel = "none", latent: _build.Latent = "none",
                 priors: Mapping[str, Any] | None = None) -> None:
        self.panel = panel
        self.outcome = outcome
        if breaks is None:
            raise ValueError("give breaks= (the break dates, or () for none): the model has no default dates")
        self.breaks = list(breaks)
        self.unit_col, self.time_col = unit_col, time_col
        self.exposure = exposure
        self.covariates = list(covariates or [])
        self.n_harmonics = int(n_harmonics)
        self.start, self.end = start, end
        self.pooling, self.likelihood, self.zero_model, self.latent = pooling, likelihood, zero_model, latent
        self.priors = dict(priors or {})
        self.design = self._make_design()

    # -- design -----------------------------------------------------------------------------
    def _make_design(self) -> ITSDesign:
        df = self.panel
        _validate_panel(df, self.unit_col, self.time_col, self.outcome)
        for c in self.covariates:
            if c not in df.columns:
                raise ValueError(f"covariate column {c!r} not in panel; has {list(df.columns)}")
        df = df.assign(**{self.time_col: pd.to_datetime(df[self.time_col])})
        if self.start is not None:
            df = df[df[self.time_col] >= pd.Timestamp(self.start)]
        if self.end is not None:
            df = df[df[self.time_col] <= pd.Timestamp(self.end)]
        if df.empty:
            raise ValueError(f"panel has no rows between start={self.start!r} and end={self.end!r}")
        units = sorted(df[self.unit_col].astype(str).unique().tolist())
        dates = pd.DatetimeIndex(sorted(df[self.time_col].unique()))
        full = pd.date_range(dates[0], dates[-1], freq="MS")
        if len(full) != len(dates) or not (full == dates).all():
            raise ValueError(f"panel periods must be consecutive month starts from {dates[0].date()} to "
                             f"{dates[-1].date()}; {len(full) - len(dates)} months are absent or misaligned")
        wide_idx = pd.MultiIndex.from_product([units, dates], names=[self.unit_col, self.time_col])
        keyed = df.assign(**{self.unit_col: df[self.unit_col].astype(str)}).set_index([self.unit_col, self.time_col])
        absent = wide_idx.difference(keyed.index)
        if len(absent):
            raise ValueError(f"panel lacks {len(absent)} unit-period rows (first: {absent[0]}); the panel "
                             "contract has explicit zeros, so every unit needs every period")
        keyed = keyed.reindex(wide_idx)
        U, T = len(units), len(dates)
        y = pd.to_numeric(keyed[self.outcome], errors="coerce").to_numpy(dtype=float).reshape(U, T)
        notes = []
        n_missing = int(np.isnan(y).sum())
        if n_missing:
            notes.append(f"{n_missing} unit-periods with missing {self.outcome} left out of the likelihood")
        offset = np.zeros((U, T))
        exposure_used = None
        if self.exposure is not None and self.exposure in keyed.columns:
            e = pd.to_numeric(keyed[self.exposure], errors="coerce").to_numpy(dtype=float).reshape(U, T)
            e = pd.DataFrame(e.T).ffill().bfill().to_numpy().T
            lacking = [u for u, row in zip(units, e) if not np.all(np.isfinite(row) & (row > 0))]
            if lacking:
                msg = (f"exposure {self.exposure!r} unknown for {lacking}: population offset dropped for all "
                       "units (baselines are then counts, not rates per million)")
                warnings.warn(msg, UserWarning, stacklevel=3)
                notes.append(msg)
            else:
                offset = np.log(e / 1e6)
                exposure_used = self.exposure
        elif self.exposure is not None:
            notes.append(f"no exposure column {self.exposure!r}: no population offset")
        breaks = [pd.Timestamp(b) for b in self.breaks]
        for b in breaks:
            if not (dates[0] <= b < dates[-1]):
                raise ValueError(f"break {b.date()} is outside the fit window {dates[0].date()}..{dates[-1].date()}")
        labels = [b.strftime("%Y-%m-%d") for b in breaks]
        X = None
        cov_mean = cov_sd = None
        if self.covariates:
            Xr = keyed[self.covariates].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
            if np.isnan(Xr).any():
                i = int(np.argwhere(np.isnan(Xr))[0][0])
                raise ValueError(f"covariates have missing values (first at {wide_idx[i]}); impute them first")
            mu, sd = Xr.mean(axis=0), Xr.std(axis=0)
            sd = np.where(sd > 0, sd, 1.0)
            X = ((Xr - mu) / sd).reshape(U, T, -1)
            cov_mean, cov_sd = mu, sd
            notes.append("covariates standardised: " + ", ".join(f"{c} (mean {m:.4g}, sd {s:.4g})"
                                                                for c, m, s in zip(self.covariates, mu, sd)))
        origin = dates[0]
        # centre time: intercept = log rate at the window's midpoint, uncorrelated with the trend
        t_center = float(((dates[-1] - origin) / pd.Timedelta(days=1)) / DAYS_PER_YEAR / 2.0)
        design = ITSDesign(units=units, dates=dates, y=y, offset=offset, t=np.zeros(T), step=np.zeros((0, T)),
                           ramp=np.zeros((0, T)), fourier=np.zeros((T, 0)), X=X, breaks=breaks, break_labels=labels,
                           covariates=self.covariates, origin=origin, n_harmonics=self.n_harmonics, t_center=t_center,
                           exposure=exposure_used, notes=notes, covariate_mean=cov_mean, covariate_sd=cov_sd)
        design.t, design.step, design.ramp, design.fourier = design.time_terms(dates)
        return design

    # -- model and fit ----------------------------------------------------------------------
    def build(self):
        """The unsampled ``pm.Model``."""
        return _build.build_hierarchical_its(self.design.data(), self.design.coords(), self.priors,
                                             pooling=self.pooling, likelihood=self.likelihood,
                                             zero_model=self.zero_model, latent=self.latent)

    def _attrs(self) -> dict[str, Any]:
        return {"model": "HierarchicalNBITS", "outcome": self.outcome, "pooling": self.pooling,
                "likelihood": self.likelihood, "zero_model": self.zero_model, "latent": self.latent}

    def _label(self) -> str:
        return f"HierarchicalNBITS({self.outcome})"

    def _results(self, idata: az.InferenceData) -> "HierarchicalNBITSResults":
        return HierarchicalNBITSResults(self, idata)

    def prior_predictive(self, samples: int = 500, random_seed: int | None = None) -> dict:
        """Prior predictive check: quantiles of simulated counts against the observed ones.

        Returns ``{"observed": {q50, q90, q99, max}, "prior": {q50, q90, q99, max_median}, ...}`` with
        the prior share of simulated unit-months above 10x the observed maximum (implausibly large
        counts), the share of draws whose largest cell is, and the share of all-zero draws.
        """
        import pymc as pm

        if self.likelihood != "native":
            raise ValueError("prior_predictive needs likelihood='native'")
        model = self.build()
        with model:
            pp = pm.sample_prior_predictive(draws=samples, random_seed=random_seed)
        sim = pp.prior_predictive["y"].values.reshape(samples, -1)
        obs = self.design.y[np.isfinite(self.design.y)]
        q = [0.5, 0.9, 0.99]
        return {
            "observed": {**{f"q{int(100 * a)}": float(np.quantile(obs, a)) for a in q}, "max": float(obs.max())},
            "prior": {**{f"q{int(100 * a)}": float(np.quantile(sim, a)) for a in q},
                      "max_median": float(np.median(sim.max(axis=1)))},
            "share_draws_max_above_10x_observed_max": float(np.mean(sim.max(axis=1) > 10 * obs.max())),
            "share_cells_above_10x_observed_max": float(np.mean(sim > 10 * obs.max())),
            "share_all_zero": float(np.mean(sim.max(axis=1) == 0)),
        }


class HierarchicalNBITSResults(SampledResults):
    """Posterior of a :class:`HierarchicalNBITS` fit.

    Attributes
    ----------
    idata : arviz.InferenceData
    diagnostics : Diagnostics
        Convergence gates; ``diagnostics.converged`` is False when any gate fails and every
        summary then carries the warning.
    design : ITSDesign
    """

    model: HierarchicalNBITS
    monitored = ("intercept", "trend", "level", "slope", "intercept_mu", "trend_mu", "level_mu", "slope_mu", "season",
                 "beta", "log_alpha", "psi", "latent_sigma", "latent_rho", "intercept_sigma", "trend_sigma",
                 "level_sigma", "slope_sigma")

    def __init__(self, model: HierarchicalNBITS, idata: az.InferenceData) -> None:
        self.design = model.design
        super().__init__(model, idata)

    def _complete_idata(self) -> None:
        """``observed_data``, ``log_likelihood`` and ``posterior_predictive`` of ``y`` (the observed
        unit-periods, dimension ``obs`` with ``unit`` and ``time`` coordinates) from every draw."""
        d = self.design
        obs_u, obs_t = np.nonzero(np.isfinite(d.y))
        y = d.y[obs_u, obs_t].astype(np.int64)
        idx = np.arange(self.n_draws)
        latent = self._draws("latent") if "latent" in self.idata.posterior else None
        eta_full = self._eta(idx, d.t, d.step, d.ramp, d.fourier, d.offset, d.X, latent)  # (S, U, T)
        eta = eta_full[:, obs_u, obs_t]                                                     # (S, n)
        log_alpha = np.broadcast_to(self._draws("log_alpha")[:, None], eta.shape)
        yy = np.broadcast_to(y[None, :], eta.shape)
        nb = negbin_logpmf_eta(yy.ravel().astype(float), eta.ravel(), log_alpha.ravel()).reshape(eta.shape)
        zm = self.model.zero_model
        if zm == "none":
            ll = nb
        else:
            psi = self._draws("psi")[:, obs_u]
            with np.errstate(divide="ignore"):
                nb0 = negbin_logpmf_eta(np.zeros(eta.size), eta.ravel(), log_alpha.ravel()).reshape(eta.shape)
                if zm == "zinb":
                    ll = np.where(yy == 0, np.log((1 - psi) + psi * np.exp(nb0)), np.log(psi) + nb)
                else:  # hurdle: zeros from the hurdle, positives from the zero-truncated NB2
                    ll = np.where(yy == 0, np.log1p(-psi), np.log(psi) + nb - np.log1p(-np.exp(nb0)))
        yrep = self._counts(eta_full, idx, draw_rng(self.idata, 1))[:, obs_u, obs_t]
        complete_idata(self.idata, "y", y, ll, yrep,
                       {"unit": np.asarray(d.units)[obs_u], "time": np.asarray(d.dates)[obs_t]})

    def save(self, path: str | Path) -> Path:
        """Write the complete ``InferenceData`` to a netCDF file (``az.from_netcdf(path)`` reads it back;
        ``az.plot_ppc`` and ``az.loo`` work on it)."""
        return save_idata(self.idata, path)

    def plot(self, units: Sequence[str] | None = None, hdi_prob: float = 0.9, **kwargs: Any):
        """Observed counts, the posterior predictive band and the counterfactual without the
        breaks, one panel per unit (:func:`models.bayes.plot.plot_its`); returns ``(fig, axes)``."""
        from pakcast.models.bayes.plot import plot_its

        return plot_its(self, units=units, hdi_prob=hdi_prob, **kwargs)

    # -- posterior arrays ---------------------------------------------------------------------
    @property
    def n_draws(self) -> int:
        p = self.idata.posterior
        return int(p.sizes["chain"] * p.sizes["draw"])

    # -- statsmodels-style accessors -------------------------------------------------------------
    @cached_property
    def params(self) -> pd.Series:
        """Posterior means of the national parameters and the NB2 dispersion."""
        out = {}
        for name in ("intercept_mu", "trend_mu", "log_alpha"):
            if name in self.idata.posterior:
                out[name] = float(self._draws(name).mean())
        for name in ("level_mu", "slope_mu"):
            if name in self.idata.posterior:
                for lab, v in zip(self.design.break_labels, self._draws(name).mean(axis=0)):
                    out[f"{name}[{lab}]"] = float(v)
        return pd.Series(out, name="posterior_mean")

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Equal-tailed ``1 - alpha`` posterior intervals of :attr:`params`."""
        rows = {}
        for name in self.params.index:
            base, _, lab = name.partition("[")
            d = self._draws(base)
            if lab:
                d = d[:, self.design.break_labels.index(lab.rstrip("]"))]
            rows[name] = (float(np.quantile(d, alpha / 2)), float(np.quantile(d, 1 - alpha / 2)))
        return pd.DataFrame.from_dict(rows, orient="index", columns=["lower", "upper"])

    def _effect_draws(self, unit: str | None, k: int, kind: str) -> np.ndarray:
        name = kind if unit is not None else f"{kind}_mu"
        d = self._draws(name)
        if unit is None:
            return d[:, k]
        return d[:, self.design.units.index(unit), k]

    def break_effects(self, hdi_prob: float = 0.95) -> pd.DataFrame:
        """Tidy table, one row per unit (and ``national``) and break.

        Columns: ``level_rr_*`` (the rate ratio just after the break, :math:`e^{\\ell}`) and
        ``slope_rr_*`` (the multiplicative change in the yearly trend, :math:`e^{s}`), each with
        ``mean, median, hdi95_low/high, hdi90_low/high, p_decrease, p_increase``.
        """
        rows = []
        has_national = "level_mu" in self.idata.posterior
        units = ([None] if has_national else []) + list(self.design.units)
        for unit in units:
            for k, lab in enumerate(self.design.break_labels):
                row = {"unit": "national" if unit is None else unit, "break": lab}
                for kind, tag in (("level", "level_rr"), ("slope", "slope_rr")):
                    rec = interval_record(np.exp(self._effect_draws(unit, k, kind)), hdi_prob=hdi_prob, null=1.0)
                    for key in ("mean", "median", "hdi_low", "hdi_high", "hdi90_low", "hdi90_high",
                                "p_decrease", "p_increase"):
                        col = key.replace("hdi_", f"hdi{int(round(100 * hdi_prob))}_")
                        row[f"{tag}_{col}"] = rec[key]
                rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> Summary:
        """Break effects (``table``) with the convergence verdict in the header (warns if unconverged)."""
        self.diagnostics.warn_if_unconverged("HierarchicalNBITS summary")
        return Summary("Hierarchical NB interrupted time series: break effects",
                       (("Diagnostics", self.diagnostics.message()),), self.break_effects())

    def to_dict(self, hdi_prob: float = 0.95) -> dict:
        """JSON-ready results: per unit and break ``level_rate_ratio: {mean, hdi_low, hdi_high, p_decrease,
        p_increase, hdi_prob, hdi90_low, hdi90_high}`` and ``slope_rate_ratio_per_year``, and diagnostics."""
        effects: dict[str, dict] = {}
        has_national = "level_mu" in self.idata.posterior
        for unit in ([None] if has_national else []) + list(self.design.units):
            key = "national" if unit is None else unit
            effects[key] = {}
            for k, lab in enumerate(self.design.break_labels):
                effects[key][lab] = {
                    "level_rate_ratio": interval_record(np.exp(self._effect_draws(unit, k, "level")),
                                                        hdi_prob=hdi_prob, null=1.0),
                    "slope_rate_ratio_per_year": interval_record(np.exp(self._effect_draws(unit, k, "slope")),
                                                                 hdi_prob=hdi_prob, null=1.0),
                }
        d = self.diagnostics
        a = self.idata.attrs
        return {
            "model": "HierarchicalNBITS", "outcome": self.model.outcome, "pooling": self.model.pooling,
            "likelihood": self.model.likelihood, "zero_model": self.model.zero_model, "latent": self.model.latent,
            "breaks": self.design.break_labels, "units": self.design.units,
            "window": [self.design.dates[0].strftime("%Y-%m-%d"), self.design.dates[-1].strftime("%Y-%m-%d")],
            "n_obs": int(np.isfinite(self.design.y).sum()), "exposure": self.design.exposure,
            "notes": list(self.design.notes),
            "sampler": a.get("sampler"), "draws": a.get("draws"), "tune": a.get("tune"), "chains": a.get("chains"),
            "random_seed": a.get("random_seed"), "seconds": a.get("total_seconds"),
            "max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk, "min_ess_tail": d.min_ess_tail,
            "divergences": d.divergences, "converged": d.converged, "diagnostics": d.to_dict(),
            "effects": effects,
        }

    # -- prediction -------------------------------------------------------------------------------
    def _eta(self, idx: np.ndarray, t: np.ndarray, step: np.ndarray, ramp: np.ndarray, fourier: np.ndarray,
             offset: np.ndarray, X: np.ndarray | None, latent: np.ndarray | None) -> np.ndarray:
        """Log means (S, U, T') for draws ``idx`` and the given time terms."""
        a = self._draws("intercept")[idx]            # (S, U)
        b = self._draws("trend")[idx]
        eta = offset[None] + a[:, :, None] + b[:, :, None] * t[None, None, :]
        if step.shape[0]:
            lv = self._draws("level")[idx]           # (S, U, K)
            sl = self._draws("slope")[idx]
            eta = eta + np.einsum("suk,kt->sut", lv, step) + np.einsum("suk,kt->sut", sl, ramp)
        if fourier.shape[1]:
            eta = eta + np.einsum("sf,tf->st", self._draws("season")[idx], fourier)[:, None, :]
        if X is not None:
            eta = eta + np.einsum("sc,utc->sut", self._draws("beta")[idx], X)
        if latent is not None:
            eta = eta + latent[:, None, :]
        return eta

    def _counts(self, eta: np.ndarray, idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        alpha = np.exp(self._draws("log_alpha")[idx])[:, None, None]
        mu = np.exp(eta)
        zm = self.model.zero_model
        if zm == "none":
            return nb2_draws(mu, alpha, rng)
        psi = self._draws("psi")[idx][:, :, None]
        nonzero = rng.uniform(size=mu.shape) < psi
        if zm == "zinb":
            return np.where(nonzero, nb2_draws(mu, alpha, rng), 0)
        return np.where(nonzero, zero_truncated_nb2_draws(mu, alpha, rng), 0)

    def _pick(self, n_samples: int | None, rng: np.random.Generator) -> np.ndarray:
        S = self.n_draws
        if n_samples is None:
            return np.arange(S)
        return rng.choice(S, size=int(n_samples), replace=int(n_samples) > S)

    def posterior_predictive(self, n_samples: int | None = None, random_seed: int | None = None) -> np.ndarray:
        """In-sample predictive counts (U, T, S) for the fitted periods."""
        rng = np.random.default_rng(random_seed)
        idx = self._pick(n_samples, rng)
        d = self.design
        latent = self._draws("latent")[idx] if "latent" in self.idata.posterior else None
        eta = self._eta(idx, d.t, d.step, d.ramp, d.fourier, d.offset, d.X, latent)
        return np.moveaxis(self._counts(eta, idx, rng), 0, -1)

    def ppc(self, n_samples: int | None = None, random_seed: int | None = None) -> PPCSummary:
        """Posterior predictive coverage (50/80/90/95%) and randomised PIT of the observed counts."""
        self.diagnostics.warn_if_unconverged("HierarchicalNBITS posterior predictive check")
        s = self.posterior_predictive(n_samples=n_samples, random_seed=random_seed)
        U, T, S = s.shape
        return ppc_summary(self.design.y.reshape(-1), s.reshape(U * T, S), random_seed=random_seed)

    def forecast(self, h: int, n_samples: int | None = None, random_seed: int | None = None,
                 future_X: np.ndarray | None = None) -> np.ndarray:
        """Posterior predictive counts for the ``h`` months after the fit window.

        The future design carries the fitted structure forward: the trend continues, every
        break already passed stays in effect (steps stay on, ramps keep growing), the
        seasonality follows the calendar month, the exposure stays at its last value, and an
        AR(1) / random-walk latent term is propagated from its last fitted value with fresh
        innovations. One predictive path per posterior draw (or ``n_samples`` draws picked at
        random, with replacement when more than the posterior holds).

        Parameters
        ----------
        h : int
            Horizon in months (>= 1).
        n_samples : int, optional
            Number of sample paths (default: all posterior draws).
        random_seed : int, optional
        future_X : array (U, h, C), optional
            Covariates for the future months (raw scale; required when the model has covariates).

        Returns
        -------
        numpy.ndarray
            Integer array (unit, horizon, sample); units in ``design.units`` order, horizons the
            months ``design.future_dates(h)``.
        """
        if int(h) < 1:
            raise ValueError(f"h must be >= 1, got {h!r}")
        h = int(h)
        self.diagnostics.warn_if_unconverged("HierarchicalNBITS forecast")
        rng = np.random.default_rng(random_seed)
        idx = self._pick(n_samples, rng)
        d = self.design
        fdates = d.future_dates(h)
        t, step, ramp, fourier = d.time_terms(fdates)
        offset = np.repeat(d.offset[:, -1:], h, axis=1)
        X = None
        if d.X is not None:
            if future_X is None:
                raise ValueError(f"this model has covariates {d.covariates}: pass future_X with shape "
                                 f"({len(d.units)}, {h}, {len(d.covariates)})")
            fx = np.asarray(future_X, dtype=float)
            if fx.shape != (len(d.units), h, len(d.covariates)):
                raise ValueError(f"future_X must have shape ({len(d.units)}, {h}, {len(d.covariates)}), got {fx.shape}")
            X = (fx - d.covariate_mean) / d.covariate_sd
        latent = None
        if "latent" in self.idata.posterior:
            last = self._draws("latent")[idx][:, -1]
            sig = self._draws("latent_sigma")[idx]
            e = rng.standard_normal((idx.size, h)) * sig[:, None]
            if self.model.latent == "rw":
                latent = last[:, None] + np.cumsum(e, axis=1)
            else:
                rho = self._draws("latent_rho")[idx]
                latent = np.empty((idx.size, h))
                prev = last
                for j in range(h):
                    prev = rho * prev + e[:, j]
                    latent[:, j] = prev
        eta = self._eta(idx, t, step, ramp, fourier, offset, X, latent)
        return np.moveaxis(self._counts(eta, idx, rng), 0, -1)

    def forecast_dataarray(self, h: int, n_samples: int | None = None, random_seed: int | None = None,
                           future_X: np.ndarray | None = None) -> xr.DataArray:
        """:meth:`forecast` as an ``xarray.DataArray`` (unique_id, horizon, sample) with ``ds`` per horizon."""
        arr = self.forecast(h, n_samples=n_samples, random_seed=random_seed, future_X=future_X)
        return xr.DataArray(arr, dims=("unique_id", "horizon", "sample"),
                            coords={"unique_id": self.design.units, "horizon": np.arange(1, h + 1),
                                    "ds": ("horizon", self.design.future_dates(h)),
                                    "sample": np.arange(arr.shape[2])},
                            attrs={"model": "HierarchicalNBITS", "outcome": self.model.outcome,
                                   "converged": int(self.diagnostics.converged)})
