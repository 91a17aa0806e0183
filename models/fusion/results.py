"""Posterior of a :class:`~pakcast.models.fusion.model.MeasurementModel` fit.

Everything derives from the posterior draws of the non-centred parameters: the latent
log-intensity of every draw is rebuilt in numpy (months after the last observation are simulated
forward from each draw's random-walk scale with the fit's seed), so quantiles, sums over months
and units, exceedance probabilities and posterior predictive counts all come from whole paths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
from pakcast.models.bayes._summaries import nb2_draws
from pakcast.models.bayes.diagnostics import Diagnostics, diagnose
from pakcast.models.summary import Summary
from pakcast.models.likelihood import negbin_logpmf

__all__ = ["QUANTILES", "FusionResults"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_MONITORED = ("level", "log_sigma_mean", "log_sigma_sd", "log_sigma_raw", "z", "season", "effect",
              "log_kappa", "log_alpha", "log_alpha_unit", "logit_phi", "kappa_drift", "log_fast_mean", "log_fast_sd",
              "log_fast_raw", "fast_z")


def _qcol(q: float) -> str:
    return "median" if q == 0.5 else f"q{int(round(100 * q)):02d}"


class FusionResults:
    """Posterior of the measurement model.

    Attributes
    ----------
    model : MeasurementModel
    design : FusionDesign
    idata : arviz.InferenceData
        ``posterior``, ``sample_stats``, ``observed_data`` (``y``), ``log_likelihood`` (``y``, one
        value per observation and draw) and ``posterior_predictive`` (``y``).
    diagnostics : Diagnostics
        Gates over every sampled parameter (R-hat < 1.01, bulk/tail ESS > 400, no divergences).
    random_seed : int or None
    """

    def __init__(self, model: Any, idata: az.InferenceData, random_seed: int | None = None) -> None:
        self.model = model
        self.design = model.design
        self.idata = idata
        self.random_seed = random_seed
        monitored = [v for v in _MONITORED if v in idata.posterior]
        self.diagnostics: Diagnostics = diagnose(idata, monitored)
        self._add_groups()

    # -- draws --------------------------------------------------------------------------------
    def _draws(self, name: str) -> np.ndarray:
        da = self.idata.posterior[name]
        return np.asarray(da.stack(sample=("chain", "draw")).transpose("sample", ...).values, dtype=float)

    @property
    def n_draws(self) -> int:
        p = self.idata.posterior
        return int(p.sizes["chain"] * p.sizes["draw"])

    def _rng(self, salt: int) -> np.random.Generator:
        seed = 0 if self.random_seed is None else int(self.random_seed)
        return np.random.default_rng([seed, salt])

    @cached_property
    def _loglin(self) -> np.ndarray:
        """Per draw (S, M, U, T) the linear predictor of each measure (before adding the primary)."""
        d = self.design
        S, M, U, T = self.n_draws, len(d.measures), len(d.units), len(d.months)
        level = self._draws("level")                    # (S, M, U)
        sigma = self._draws("sigma")                    # (S, M, U)
        steps = np.zeros((S, M, U, T))
        nf = d.n_fit
        if nf > 1:
            steps[..., 1:nf] = sigma[..., None] * self._draws("z")
        if T > nf:
            rng = self._rng(1)
            steps[..., nf:] = sigma[..., None] * rng.standard_normal((S, M, U, T - nf))
        if "phi" in self.idata.posterior:
            # AR(1) around the centre: delta_t = phi delta_{t-1} + sigma z_t
            centre = self.model.level_mean()
            phi = self._draws("phi")[:, :, None]        # (S, M, 1)
            delta = np.empty((S, M, U, T))
            delta[..., 0] = level - centre
            for t in range(1, T):
                delta[..., t] = phi * delta[..., t - 1] + steps[..., t]
            out = centre[None, :, :, None] + delta
        else:
            out = level[..., None] + np.cumsum(steps, axis=3)
        if "fast_sd" in self.idata.posterior:
            # transient month effects omega e - omega^2 / 2, e ~ N(0, 1) (mean one): sampled through the last fitted month,
            # drawn from their prior after it
            om = self._draws("fast_sd")[..., None]       # (S, M, U, 1)
            e = np.empty((S, M, U, T))
            e[..., :nf] = self._draws("fast_z")
            if T > nf:
                e[..., nf:] = self._rng(3).standard_normal((S, M, U, T - nf))
            out += om * e - 0.5 * om ** 2
        if d.season_index is not None:
            season = self._draws("season")               # (S, M, n_seasons)
            out += season[:, :, None, d.season_index]
        if d.effects.shape[0]:
            beta = self._draws("effect")                 # (S, E, M, U)
            out += np.einsum("semu,et->smut", beta, d.effects)
        if "ref_shift" in self.idata.posterior:
            # the sampler's latent is in the anchor's units: log lambda_ref = log lambda_anchor + shift
            # + the reference's scale drift in each month's year (what the reference counted then)
            shift = self._draws("ref_shift")[:, :, None] + self._ref_drift       # (S, M, T)
            out[:, 0] += shift[:, 0, None, :]
            if M > 1:
                out[:, 1:] += (shift[:, 1:] - shift[:, :1])[:, :, None, :]
        return out

    @cached_property
    def _rho(self) -> np.ndarray:
        """(S, K, max drift + 1) each source-metric's log scale drift by year position."""
        from pakcast.models.fusion.model import drift_matrix

        d = self.design
        zeta = self._draws("kappa_drift") if "kappa_drift" in self.idata.posterior else np.zeros((self.n_draws, 0))
        return drift_matrix(zeta, d, self.model.priors["kappa_drift_sd"][0])

    @cached_property
    def _ref_drift(self) -> np.ndarray:
        """(S, M, T) the reference's log scale drift in every month (0 after its last year)."""
        d = self.design
        T = len(d.months)
        out = np.zeros((self.n_draws, len(d.measures), T))
        for m, me in enumerate(d.measures):
            k = d.reference[me]
            pos = d.drift_position(np.full(T, k), np.arange(T))
            out[:, m] = self._rho[:, k, pos]
        return out

    def _lam_undrifted(self, pick: np.ndarray | slice) -> np.ndarray:
        """(n, M, U, T) the latent intensity in the reference's units of its last year, every month
        (what a figure's own scale :meth:`_obs_scale` multiplies)."""
        return np.exp(self._loglam[pick] - self._ref_drift[pick][:, :, None, :])

    def _obs_scale(self, pick: np.ndarray | slice, keys: np.ndarray, first: np.ndarray) -> np.ndarray:
        """(n, n_obs) the scale :math:`\\kappa_k e^{\\rho}` (relative to the sampler's anchor, in
        the reference's last-year units) of figures of ``keys`` starting at month index ``first``."""
        d = self.design
        pos = d.drift_position(keys, first)
        return self._kappa_anchor[pick][:, keys] * np.exp(self._rho[pick][:, keys, pos])

    def figure_scales(self, keys: np.ndarray, first: np.ndarray) -> np.ndarray:
        """(n,) posterior median of the scale of figures of source-metrics ``keys`` (indices into
        ``design.keys``) whose periods start at month index ``first``, against the fused series in
        that month: :math:`\\kappa_k e^{\\rho_{ky}}` over the reference's scale in year :math:`y`
        (a figure divided by it is in the fused series' units)."""
        d = self.design
        keys = np.asarray(keys, dtype=np.int64)
        first = np.asarray(first, dtype=np.int64)
        sc = self._obs_scale(slice(None), keys, first) / np.exp(self._ref_drift[:, d.key_measure[keys], first])
        return np.median(sc, axis=0)

    @cached_property
    def _loglam(self) -> np.ndarray:
        """(S, M, U, T) latent log-intensity of each measure."""
        ll = self._loglin.copy()
        if ll.shape[1] > 1:
            ll[:, 1:] += ll[:, :1]
        return ll

    def _measure(self, measure: str) -> int:
        if measure not in self.design.measures:
            raise ValueError(f"measure {measure!r} not in {self.design.measures}")
        return self.design.measures.index(measure)

    def intensity_draws(self, measure: str) -> np.ndarray:
        """Latent intensity :math:`\\lambda` in reference units, (unit, month, draw)."""
        return np.exp(self._loglam[:, self._measure(measure)]).transpose(1, 2, 0)

    @cached_property
    def _kappa(self) -> np.ndarray:
        return self._draws("kappa")                      # (S, K)

    @cached_property
    def _kappa_anchor(self) -> np.ndarray:
        """(S, K) each scale relative to the reference in the reference's last year (the latent's
        units at the end of the data): :math:`\\kappa_k/\\kappa_{\\mathrm{ref}}` without drift."""
        d = self.design
        post = self.idata.posterior
        lk = np.zeros((self.n_draws, len(d.keys)))
        if "log_kappa" in post:
            lk[:, np.asarray(d.free_keys)] = self._draws("log_kappa")
        shift = self._draws("ref_shift")[:, d.key_measure] if "ref_shift" in post else 0.0
        return np.exp(lk - shift)

    @cached_property
    def _alpha(self) -> np.ndarray:
        """(S, D) NB2 dispersion of every dispersion group (the source-metrics' own, then per unit)."""
        la = self._draws("log_alpha")
        if self.design.n_unit_disp:
            la = np.concatenate([la, self._draws("log_alpha_unit")], axis=1)
        return np.exp(la)

    # -- what users read ----------------------------------------------------------------------
    def reference(self) -> dict[str, dict[str, str]]:
        """Measure -> ``{"source", "metric"}`` whose units the latent series is in."""
        return {me: {"source": self.design.keys[k][0], "metric": self.design.keys[k][1]}
                for me, k in self.design.reference.items()}

    def scales(self, alpha: float = 0.10) -> pd.DataFrame:
        """One row per source and metric: ``source, metric, measure, reference, estimate`` (posterior
        median of :math:`\\kappa`), ``ci_low, ci_high`` (equal-tailed ``1 - alpha``), ``dispersion``
        (posterior median of the source-metric's own :math:`\\alpha_k`, which is also the centre of
        its per-unit dispersions, :meth:`dispersions`), ``n_obs``, ``first``, ``last`` (period covered)."""
        d = self.design
        ref = set(d.reference.values())
        kap, alp = self._kappa, self._alpha
        rows = []
        for k, (s, m) in enumerate(d.keys):
            sel = d.obs_key == k
            rows.append({
                "source": s, "metric": m, "measure": d.measures[d.key_measure[k]], "reference": k in ref,
                "estimate": float(np.median(kap[:, k])),
                "ci_low": float(np.quantile(kap[:, k], alpha / 2)), "ci_high": float(np.quantile(kap[:, k], 1 - alpha / 2)),
                "dispersion": float(np.median(alp[:, k])),
                "dispersion_ci_low": float(np.quantile(alp[:, k], alpha / 2)),
                "dispersion_ci_high": float(np.quantile(alp[:, k], 1 - alpha / 2)),
                "n_obs": int(sel.sum()),
                "first": d.months[int(d.obs_first[sel].min())], "last": d.months[int(d.obs_last[sel].max())],
            })
        return pd.DataFrame(rows)

    def dispersions(self, alpha: float = 0.10) -> pd.DataFrame:
        """One row per dispersion group: ``source, metric, unit`` (empty for the source-metric's own
        group), ``dispersion`` (posterior median NB2 :math:`\\alpha`), ``ci_low, ci_high``
        (equal-tailed ``1 - alpha``), ``n_obs``."""
        d = self.design
        alp = self._alpha
        rows = []
        for g, (k, u) in enumerate(zip(d.disp_key, d.disp_unit)):
            s, m = d.keys[k]
            rows.append({"source": s, "metric": m, "unit": "" if u < 0 else d.units[u],
                         "dispersion": float(np.median(alp[:, g])),
                         "ci_low": float(np.quantile(alp[:, g], alpha / 2)),
                         "ci_high": float(np.quantile(alp[:, g], 1 - alpha / 2)),
                         "n_obs": int((d.obs_disp == g).sum())})
        return pd.DataFrame(rows)

    def latent(self, measure: str, quantiles: Sequence[float] = QUANTILES,
               aggregate: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """Quantiles of the latent intensity per unit and month (long: ``unit, month, measure, mean,
        q05, q25, median, q75, q95, n_sources``); ``aggregate`` adds sums over named unit groups
        (e.g. ``{"national": all units}``), computed draw by draw."""
        d = self.design
        lam = self.intensity_draws(measure)              # (U, T, S)
        blocks = [(u, lam[i]) for i, u in enumerate(d.units)]
        for name, members in (aggregate or {}).items():
            idx = [d.units.index(u) for u in members]
            blocks.append((name, lam[idx].sum(axis=0)))
        frames = []
        for name, x in blocks:
            f = pd.DataFrame({"unit": name, "month": d.months, "measure": measure, "mean": x.mean(axis=1)})
            qs = np.quantile(x, list(quantiles), axis=1)
            for q, v in zip(quantiles, qs):
                f[_qcol(q)] = v
            frames.append(f)
        return pd.DataFrame(pd.concat(frames, ignore_index=True))

    def observed_by(self, measure: str) -> pd.DataFrame:
        """``unit, month, sources`` (sorted, comma-separated) of the sources whose figures cover each cell."""
        d = self.design
        mi = self._measure(measure)
        U, T = len(d.units), len(d.months)
        seen: list[list[set]] = [[set() for _ in range(T)] for _ in range(U)]
        for i in np.flatnonzero(d.obs_measure == mi):
            s = d.keys[d.obs_key[i]][0]
            for u in np.flatnonzero(d.cover[i]):
                for t in range(d.obs_first[i], d.obs_last[i] + 1):
                    seen[u][t].add(s)
        return pd.DataFrame([{"unit": u, "month": d.months[t], "sources": ",".join(sorted(seen[i][t]))}
                             for i, u in enumerate(d.units) for t in range(T)])

    def paths(self, n_samples: int | None = None, random_seed: int | None = None, measure: str | None = None,
              kind: str = "counts") -> np.ndarray:
        """Whole posterior-predictive sample paths in reference units, (unit, month, sample).

        ``kind="counts"`` draws what the reference source would count in each unit and month,
        :math:`y \\sim \\mathrm{NB2}(\\lambda, \\alpha_{\\mathrm{ref}})` given each draw's latent path
        (non-negative integers; sums over months and units are valid); ``kind="intensity"``
        returns :math:`\\lambda` itself. ``measure`` defaults to the primary measure.
        """
        d = self.design
        measure = d.measures[0] if measure is None else measure
        mi = self._measure(measure)
        rng = np.random.default_rng(random_seed)
        S = self.n_draws
        n = S if n_samples is None else int(n_samples)
        pick = rng.choice(S, size=n, replace=n > S)
        lam = np.exp(self._loglam[pick, mi])              # (n, U, T)
        if kind == "intensity":
            return lam.transpose(1, 2, 0)
        if kind != "counts":
            raise ValueError("kind must be 'counts' or 'intensity'")
        U = len(d.units)
        groups = d.dispersion_groups(np.full(U, d.reference[measure]), np.eye(U, dtype=bool))
        a = self._alpha[pick][:, groups][:, :, None]       # (n, U, 1): the reference's dispersion per unit
        return nb2_draws(lam, a, rng).transpose(1, 2, 0)

    def predict_observations(self, observations: pd.DataFrame, n_samples: int | None = None,
                             random_seed: int | None = None) -> np.ndarray:
        """Posterior predictive draws (n_obs, sample) of figures the sources would publish.

        ``observations`` has the model's observation columns (``value`` is not used): each row's
        source-metric must be one the model was fitted on; its period may lie anywhere in
        ``months`` (after the last observation too: the latent is then forecast).
        """
        d = self.design
        kpos = {k: i for i, k in enumerate(d.keys)}
        for i, (s, m) in enumerate(zip(observations["source"], observations["metric"])):
            if (s, m) not in kpos:
                raise ValueError(f"row {i}: {s} {m} was not in the fit; fitted: {d.key_labels}")
        pd_design = _probe_design(self.model, observations)
        rng = np.random.default_rng(random_seed)
        S = self.n_draws
        n = S if n_samples is None else int(n_samples)
        pick = rng.choice(S, size=n, replace=n > S)
        lam = self._lam_undrifted(pick)                    # (n, M, U, T)
        mu = _period_sums(lam, pd_design)                  # (n, n_obs)
        keys = np.array([kpos[(s, m)] for s, m in zip(observations["source"], observations["metric"])], dtype=np.int64)
        mu = mu * self._obs_scale(pick, keys, pd_design.obs_first)
        groups = d.dispersion_groups(keys, pd_design.cover)
        return nb2_draws(mu, self._alpha[pick][:, groups], rng).T

    # -- InferenceData groups -----------------------------------------------------------------
    def _fitted_mean(self) -> np.ndarray:
        """(S, n_obs) posterior mean of every observation, :math:`\\kappa \\sum\\lambda`."""
        d = self.design
        lam = self._lam_undrifted(slice(None))
        mu = _period_sums(lam, _ObsIndex(d.obs_measure, d.cover, d.obs_first, d.obs_last))
        return mu * self._obs_scale(slice(None), d.obs_key, d.obs_first)

    def _add_groups(self) -> None:
        d = self.design
        post = self.idata.posterior
        C, D = int(post.sizes["chain"]), int(post.sizes["draw"])
        mu = self._fitted_mean()
        alpha = self._alpha[:, d.obs_disp]
        ll = negbin_logpmf(d.y[None, :], mu, alpha)
        rng = self._rng(2)
        yrep = nb2_draws(mu, alpha, rng)
        obs_coord = {"obs": np.arange(d.y.size)}
        ds_ll = {"y": (("chain", "draw", "obs"), ll.reshape(C, D, -1))}
        ds_pp = {"y": (("chain", "draw", "obs"), yrep.reshape(C, D, -1))}
        import xarray as xr

        meta = d.observations
        od = xr.Dataset({"y": ("obs", d.y),
                         "source": ("obs", meta["source"].astype(str).to_numpy()),
                         "metric": ("obs", meta["metric"].astype(str).to_numpy()),
                         "first": ("obs", np.asarray([str(d.months[i]) for i in d.obs_first])),
                         "last": ("obs", np.asarray([str(d.months[i]) for i in d.obs_last]))},
                        coords=obs_coord)
        coords = {"chain": post["chain"].values, "draw": post["draw"].values, **obs_coord}
        groups = {}
        if "log_likelihood" not in self.idata.groups():
            groups["log_likelihood"] = xr.Dataset(ds_ll, coords=coords)
        if "posterior_predictive" not in self.idata.groups():
            groups["posterior_predictive"] = xr.Dataset(ds_pp, coords=coords)
        if "observed_data" not in self.idata.groups():
            groups["observed_data"] = od
        if groups:
            self.idata.add_groups(groups)
        self.idata.attrs.update({"model": "MeasurementModel", "reference": str(self.reference()),
                                 "months": f"{d.months[0]}..{d.months[-1]}", "n_fit_months": d.n_fit})

    def ppc_coverage(self, level: float = 0.9) -> pd.DataFrame:
        """Share of each source-metric's figures inside their central ``level`` posterior
        predictive interval (a calibration check of the fit)."""
        d = self.design
        yrep = self.idata.posterior_predictive["y"].stack(s=("chain", "draw")).values  # (n_obs, S)
        lo = np.quantile(yrep, (1 - level) / 2, axis=1)
        hi = np.quantile(yrep, 1 - (1 - level) / 2, axis=1)
        inside = (d.y >= lo) & (d.y <= hi)
        return pd.DataFrame([{"source": s, "metric": m, "n_obs": int((d.obs_key == k).sum()),
                              f"coverage_{int(level * 100)}": float(inside[d.obs_key == k].mean())}
                             for k, (s, m) in enumerate(d.keys)])

    # -- summaries ----------------------------------------------------------------------------
    def summary(self) -> Summary:
        """Scales with 90% intervals and the convergence verdict."""
        self.diagnostics.warn_if_unconverged("fusion measurement model")
        ref = ", ".join(f"{me} as {v['source']} counts {v['metric']}" for me, v in self.reference().items())
        a = self.idata.attrs
        header = (("units", ref), ("latent units", str(len(self.design.units))),
                  ("months", f"{self.design.months[0]}..{self.design.months[-1]} (observed to "
                             f"{self.design.months[self.design.n_fit - 1]})"),
                  ("observations", str(self.design.y.size)),
                  ("sampler", f"{a.get('sampler')} {a.get('chains')} chains x {a.get('draws')} draws, "
                              f"{a.get('fit_seconds', float('nan')):.1f} s"),
                  ("diagnostics", self.diagnostics.message()))
        tab = self.scales().set_index(["source", "metric"])
        return Summary("Multi-source measurement model", header, tab)

    def to_dict(self, alpha: float = 0.10) -> dict:
        """JSON-ready: ``units`` (reference per measure), ``sources`` (scales with intervals),
        ``diagnostics``, ``sampler`` (settings and timings)."""
        sc = self.scales(alpha)
        sources = [{"source": r.source, "metric": r.metric, "measure": r.measure, "reference": bool(r.reference),
                    "scale": {"estimate": r.estimate, "ci_low": r.ci_low, "ci_high": r.ci_high,
                              "level": 1 - alpha},
                    "dispersion": r.dispersion, "n_obs": int(r.n_obs), "first": str(r.first), "last": str(r.last)}
                   for r in sc.itertuples()]
        dg = self.diagnostics
        a = self.idata.attrs
        return {"units": self.reference(), "sources": sources,
                "diagnostics": {"max_rhat": dg.max_rhat, "min_ess_bulk": dg.min_ess_bulk,
                                "min_ess_tail": dg.min_ess_tail, "divergences": dg.divergences,
                                "converged": dg.converged, "message": dg.message()},
                "sampler": {k: (float(a[k]) if isinstance(a.get(k), (float, np.floating)) else a.get(k))
                            for k in ("sampler", "chains", "draws", "tune", "random_seed", "compile_seconds",
                                      "sampling_seconds", "fit_seconds") if k in a}}

    def scale_draws(self, source: str, metric: str) -> np.ndarray:
        """Posterior draws (chains x draws,) of the scale :math:`\\kappa` of ``source``'s ``metric``
        (all 1 for the reference)."""
        keys = [tuple(k) for k in self.design.keys]
        if (source, metric) not in keys:
            raise ValueError(f"{source} {metric} was not in the fit; fitted: {self.design.key_labels}")
        return self._kappa[:, keys.index((source, metric))]

    def effect_draws(self) -> np.ndarray:
        """Known-date step coefficients :math:`\\beta_{emu}` per draw, (draw, effect, measure, unit), in the
        draw order of :meth:`intensity_draws` (``effect`` axis in ``design.effect_names`` order; empty
        when the model has no effects). Measures after the first are steps of the severity."""
        d = self.design
        if not d.effects.shape[0]:
            return np.zeros((self.n_draws, 0, len(d.measures), len(d.units)))
        return self._draws("effect")

    def predictive_mean_draws(self, observations: pd.DataFrame, n_samples: int | None = None,
                              random_seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(mu, alpha)``, each (n_obs, sample): per posterior draw, the NB2 mean
        :math:`\\kappa \\sum\\lambda` and dispersion of figures the sources would publish (the
        parameters behind :meth:`predict_observations`, for callers that draw or bound them)."""
        d = self.design
        kpos = {k: i for i, k in enumerate(d.keys)}
        for i, (s, m) in enumerate(zip(observations["source"], observations["metric"])):
            if (s, m) not in kpos:
                raise ValueError(f"row {i}: {s} {m} was not in the fit; fitted: {d.key_labels}")
        rng = np.random.default_rng(random_seed)
        S = self.n_draws
        n = S if n_samples is None else int(n_samples)
        pick = rng.choice(S, size=n, replace=n > S)
        probe = _probe_design(self.model, observations)
        mu = _period_sums(self._lam_undrifted(pick), probe)
        keys = np.array([kpos[(s, m)] for s, m in zip(observations["source"], observations["metric"])], dtype=np.int64)
        groups = d.dispersion_groups(keys, probe.cover)
        return (mu * self._obs_scale(pick, keys, probe.obs_first)).T, self._alpha[pick][:, groups].T


class _ObsIndex:
    def __init__(self, measure: np.ndarray, cover: np.ndarray, first: np.ndarray, last: np.ndarray) -> None:
        self.obs_measure, self.cover, self.obs_first, self.obs_last = measure, cover, first, last


def _period_sums(lam: np.ndarray, idx: Any) -> np.ndarray:
    """(S, n_obs) sums of ``lam`` (S, M, U, T) over each observation's units and months."""
    cs = np.concatenate([np.zeros(lam.shape[:3] + (1,)), np.cumsum(lam, axis=3)], axis=3)
    out = np.zeros((lam.shape[0], idx.obs_measure.size))
    for i in range(idx.obs_measure.size):
        us = np.flatnonzero(idx.cover[i])
        m = idx.obs_measure[i]
        out[:, i] = (cs[:, m, us, idx.obs_last[i] + 1] - cs[:, m, us, idx.obs_first[i]]).sum(axis=1)
    return out


def _probe_design(model: Any, probe: pd.DataFrame) -> _ObsIndex:
    """Index arrays of new observations against an existing model's units, months and measures."""
    d = model.design
    pos = {m: i for i, m in enumerate(d.months)}
    upos = {u: i for i, u in enumerate(d.units)}
    n = len(probe)
    first = np.empty(n, dtype=np.int64)
    last = np.empty(n, dtype=np.int64)
    meas = np.empty(n, dtype=np.int64)
    cover = np.zeros((n, len(d.units)), dtype=bool)
    for i, (f, la, cv, me) in enumerate(zip(probe["first"], probe["last"], probe["cover"], probe["measure"])):
        if f not in pos or la not in pos:
            raise ValueError(f"row {i}: period {f}..{la} outside months {d.months[0]}..{d.months[-1]}")
        first[i], last[i] = pos[f], pos[la]
        for u in ([cv] if isinstance(cv, str) else list(cv)):
            if u not in upos:
                raise ValueError(f"row {i}: unit {u!r} is not a latent unit")
            cover[i, upos[u]] = True
        meas[i] = d.measures.index(me)
    return _ObsIndex(meas, cover, first, last)
