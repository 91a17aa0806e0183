r"""Multi-source measurement model: one latent monthly intensity per unit, every source a scaled,
noisy view of it at its own resolution.

Model
-----
Units :math:`u = 1..U`, months :math:`t = 1..T`, latent measures :math:`m = 0..M-1` (the first is
the primary count, e.g. attacks; the others, e.g. deaths, are a severity on top of it).

.. math::

    \log\lambda_{0ut} &= c_{0u} + \delta_{0ut} + s_{0,\mathrm{moy}(t)} + \textstyle\sum_e \beta_{e0u} x_{et} \\
    \log\lambda_{mut} &= \log\lambda_{0ut} + c_{mu} + \delta_{mut} + s_{m,\mathrm{moy}(t)}
        + \textstyle\sum_e \beta_{emu} x_{et}, \qquad m \ge 1 \\
    \delta_{mu1} &= a_{mu} - c_{mu}, \qquad \delta_{mut} = \phi_m\,\delta_{mu,t-1} + \sigma_{mu} z_{mut},
        \qquad z_{mut} \sim N(0, 1) \\
    \log\sigma_{mu} &= \mu^\sigma_m + \tau^\sigma_m \epsilon_{mu}, \qquad \epsilon_{mu} \sim N(0, 1)

so :math:`\lambda_{0ut}` is the latent intensity of the primary measure and
:math:`\lambda_{mut}/\lambda_{0ut}` a latent severity (e.g. deaths per attack) with dynamics of its
own. The dynamics (``dynamics="ar1"``, the default) are AR(1) deviations from the unit's centre
:math:`c_{mu}` plus the known-date steps, with a persistence per measure,
:math:`\mathrm{logit}\,\phi_m \sim N(2.5, 1)` (median 0.92 a month): forecasts revert to the
level of the latest regime (the centre plus the steps) and their intervals stay bounded
(stationary sd :math:`\sigma_{mu}/\sqrt{1-\phi_m^2}`), which a random walk's do not: in a unit
with rare events a walk drifts far down through quiet months and its forecast intervals grow
without limit. ``dynamics="rw"`` fixes :math:`\phi = 1` (random walks). The centre :math:`c` is
the log of the anchor's mean monthly figure in the unit (for a severity, the ratio of the
anchors' means), fixed from the data (:meth:`MeasurementModel._centre`; an empirical-Bayes
centre). The innovation scales are partially pooled across units
(:math:`\mu^\sigma_m \sim N(\log 0.1, 0.75)`, :math:`\tau^\sigma_m \sim N^+(0.5)`). The
seasonal effects :math:`s_{m\cdot}` (month of year) sum to zero, :math:`s \sim N(0, 0.2)`; the
optional known-date effects are steps :math:`x_{et} = 1\{t \ge t_e\}` with
:math:`\beta_{emu} \sim N(0, 1)`; first states :math:`a_{0u} \sim N(c_{0u}, 3)`,
:math:`a_{mu} \sim N(c_{mu}, 2)`.

**Two timescales** (``transient=True``; off by default): the log-intensity of every measure also
carries a transient month effect,

.. math::

    \log\lambda_{mut} \mathrel{+}= \nu_{mut} - \omega_{mu}^2/2, \qquad \nu_{mut} \sim N(0, \omega_{mu}^2)
    \text{ independent over months}, \qquad \log\omega_{mu} = \mu^\omega_m + \tau^\omega_m\xi_{mu},
    \quad \xi_{mu} \sim N(0, 1)

(:math:`\mu^\omega_m \sim N(\log 0.3, 1)`, :math:`\tau^\omega_m \sim N^+(0.5)`), so
:math:`E[e^{\nu - \omega^2/2}] = 1`: the AR(1) part stays the log of the mean monthly intensity,
and its centre keeps its meaning. A bursty month (shared by every source and, through the
primary measure, by the severities) is a transient effect and no longer moves the persistent
level; forecasts revert to the persistent level, and a sum over :math:`n` future months carries
the transient spread divided by about :math:`\sqrt n` (independent months), where a
single AR(1) would have to carry the bursts in its innovations and its forecast intervals.
The sampler partially centres each effect on the rest of the month's log-intensity (see
:func:`~pakcast.models.fusion._kernel.logp_grad`) and whitens the persistent part with the
information the data carry about it once the transient effect stands between them,
:math:`h/(1 + h\hat\omega^2)` (:math:`\hat\omega` the prior median); the stored draws are
:math:`\omega` and :math:`\nu/\omega` (``fast_sd``, ``fast_z``); months after the fit are
drawn from the prior.

Each observation :math:`i` is one published figure of source-metric :math:`k(i)` for latent measure
:math:`m(i)`, a set of units :math:`R_i` and a month range :math:`P_i = [t^0_i, t^1_i]`:

.. math::

    y_i \sim \mathrm{NB2}\Big(\kappa_{k(i)} \sum_{t \in P_i} \sum_{u \in R_i} \lambda_{m(i)ut},\;
    \alpha_{k(i)}\Big), \qquad \mathrm{Var}(y_i) = \mu_i + \alpha_{k(i)} \mu_i^2

with :math:`\log\alpha_k \sim N(-3, 1.5)`. A source-metric's figures of one unit, when it publishes at
least ``unit_dispersion`` of them (e.g. an event source's province-months), get a dispersion of
their own, partially pooled towards the source-metric's:
:math:`\log\alpha_{ku} \sim N(\log\alpha_k, \tau_\alpha)` (:math:`\tau_\alpha = 1.5`); the
source-metric's other figures (unions, the nation, units with few figures) keep :math:`\alpha_k`.
Burstiness differs between units far more than a count's scale does (a province with rare attacks
and occasional mass-casualty bombings against one with many small attacks), and with one
dispersion per source the walks of the sparse units would have to absorb it.

**Scale drift** (``scale_drift=True``, the default): the ratios between sources change as their
definitions and coverage do, so a figure whose period starts in calendar year :math:`y` has scale
:math:`\kappa_k e^{\rho_{ky}}`, with :math:`\rho_k` a random walk over the key's years
(:math:`\rho_{ky} - \rho_{k,y+1} \sim N(0, 0.1^2)`), zero in the key's last year with a figure
(so :math:`\kappa_k` is the scale now) and constant before its first; the anchors do not drift.
Reported scales are :math:`\kappa_k` over the reference's scale in the key's last year, and the
latent in reference units is what the reference counted in each year. The same period seen by two sources is two
measurements (never a sum). **Identification**: the reference units (``units=``) fix
:math:`\kappa = 1` for one source-metric per measure, so :math:`\lambda` is in that source's units
("attacks as UCDP counts them"); every other :math:`\kappa_k` is the ratio of source :math:`k`'s
count to the reference count of the same months and units. The priors on the scales are placed
relative to the **anchor** of each measure, the source-metric with the most figures (often the
reference itself): :math:`\log(\kappa_k/\kappa_{\mathrm{anchor}}) \sim N(0, 1.5)` for every
other source-metric (the reference included), and the level priors are on the latent in the
anchor's units; results are reported in the reference units (:math:`\kappa_k/\kappa_{\mathrm{ref}}`,
:math:`\lambda\,\kappa_{\mathrm{ref}}/\kappa_{\mathrm{anchor}}`). This leaves the likelihood, and
so the identification, unchanged; it spares the sampler the ridge between a sparse reference's
scale and every month of the latent (a monthly anchor pins :math:`\kappa_{\mathrm{anchor}}\lambda`
month by month, the reference only :math:`\kappa_{\mathrm{ref}}/\kappa_{\mathrm{anchor}}`).

Months with no observation (gaps, months after a source stops, the forecast horizon) carry no
likelihood term: the latent walks through them under the prior, so their intervals widen. The
sampler only sees months up to the last observed one; later months are simulated forward from
each posterior draw (exact: they do not enter the likelihood).

Inference is NUTS. The default sampler (nutpie on the Numba kernel of
:mod:`pakcast.models.fusion._kernel`) samples each walk in whitened coordinates :math:`\epsilon`:
with :math:`v_{mu\cdot} = a_{mu} + w_{mu\cdot}` the walk's states,

.. math::

    v_{mu\cdot} = \mu_{0m} + L_{mu}^{-\top}\epsilon_{mu\cdot}, \qquad
    L_{mu}L_{mu}^\top = A(\sigma_{mu}) + \mathrm{diag}(h_{mu\cdot})

where :math:`A(\sigma)` is the tridiagonal prior precision of the walk (of the AR(1) series, with
:math:`\phi`) and :math:`h_{mut}` a fixed
estimate of the information the data carry about month :math:`t` (:meth:`MeasurementModel.information`).
It is the same model (the density carries the Jacobian); only the geometry the sampler sees
changes: where the data say little (:math:`h \to 0`) it is the non-centred walk, where monthly
counts pin every month down it is the centred walk scaled by its posterior precision, and in
between it interpolates, so no walk is a cumulative sum of badly scaled innovations (the
non-centred walk's condition number grows like :math:`\sigma^2 h T^2`, the centred one's like
:math:`1/(\sigma^2 h)`). The known-date steps are partially centred in the same way
(:meth:`MeasurementModel.effect_weight`; the primary measure's only, the severities' steps are left
non-centred): where the data pin a month, moving a step moves the
deviations' prior, not the fitted intensity, so a step and the states after it are not a ridge.
After the anchor's last year the latent is seen only through drifting
sources, and the likelihood is flat along one direction per measure (every scale up, the later
latent down); ``common_shift=True`` makes that direction one coordinate of the sampler
(:meth:`MeasurementModel.common_shift`, Jacobian 1; off by default). The draws are stored as :math:`a` and the standardised innovations
:math:`z`. ``sampler="nutpie"`` / ``"pymc"`` sample the plain non-centred PyMC model of
:meth:`MeasurementModel.build` (NB2 log-likelihood from
:func:`pakcast.models.likelihood.pytensor_ops.nb_logp`), the reference the benchmark compares
against. The sums over periods and units are differences of cumulative sums over months, gathered
with precomputed indices.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from pakcast.models.fusion._kernel import Layout, _sigmoid, logp_grad, walk_states, zero_sum_basis

__all__ = ["DEFAULT_PRIORS", "OBSERVATION_COLUMNS", "FusionDesign", "MeasurementModel", "drift_matrix"]

#: columns of the observation table
OBSERVATION_COLUMNS = ("source", "metric", "measure", "cover", "first", "last", "value")

#: the AR(1) dynamics' pooled scale is the log stationary sd (not the innovation sd of a walk)
AR1_PRIORS: dict[str, tuple[float, float]] = {"log_sigma_mean": (float(np.log(0.5)), 1.0)}

DEFAULT_PRIORS: dict[str, tuple[float, float]] = {
    "level_primary": (0.0, 3.0),        # a_0u ~ N(c_0u + mu, sd)
    "level_severity": (0.0, 2.0),       # a_mu ~ N(c_mu + mu, sd), m >= 1
    "log_sigma_mean": (float(np.log(0.1)), 0.75),
    "log_sigma_sd": (0.5, 0.0),         # HalfNormal(sd)
    "season": (0.2, 0.0),               # ZeroSumNormal(sigma)
    "effect": (0.0, 1.0),
    "log_kappa": (0.0, 1.5),
    "log_alpha": (-3.0, 1.5),
    "log_alpha_unit_sd": (1.5, 0.0),    # log alpha_ku ~ N(log alpha_k, sd)
    "logit_phi": (2.5, 1.0),            # AR(1) persistence: logit phi_m ~ N(mu, sd)
    "kappa_drift_sd": (0.1, 0.0),       # yearly random-walk sd of each source's log scale
    "log_fast_mean": (float(np.log(0.3)), 1.0),   # transient month effects: log omega_mu ~ N(mu_m, tau_m)
    "log_fast_sd": (0.5, 0.0),          # HalfNormal(sd) of tau_m
}


@dataclass
class FusionDesign:
    """Index arrays that link observations to latent cells (built once by :class:`MeasurementModel`).

    Attributes
    ----------
    units, months, measures : list
        Latent units, month labels (length ``T``, to the horizon end) and measures.
    keys : list of (source, metric)
        Source-metrics in observation order of first appearance; ``key_measure[k]`` its measure.
    reference : dict measure -> key index
        The source-metric whose :math:`\\kappa` is fixed at 1 for each measure.
    anchor : dict measure -> key index
        The source-metric with the most figures of each measure: the sampler's scales are relative
        to it (module maths); ``free_keys`` are the others.
    n_fit : int
        Months the sampler sees (through the last observed month).
    obs_key, obs_measure, obs_first, obs_last : ndarray (n_obs,)
    lo, hi : ndarray (n_obs, max_cover)
        Flat indices into the cumulative-sum array (M, U, n_fit + 1); padding has ``lo == hi``.
    cover : ndarray (n_obs, U) of bool
    y : ndarray (n_obs,)
    season_index : ndarray (T,) or None
    effects : ndarray (E, T) step indicators; ``effect_names``
    disp_key, disp_unit : ndarray (D,)
        Dispersion groups: groups ``0..K-1`` are the source-metrics' own (``disp_unit == -1``),
        groups ``K..D-1`` one unit's figures of source-metric ``disp_key[g]``.
    obs_disp : ndarray (n_obs,)
        Dispersion group of every observation.
    drift_start, drift_len : ndarray (K,)
        Each source-metric's yearly scale-drift innovations (offset into ``kappa_drift``, count: its
        years from the first to the last with a figure, minus one; 0 = no drift: the anchors, keys
        seen in one year only, or ``scale_drift=None``); ``drift_first`` its first year.
    obs_dy : ndarray (n_obs,)
        Position of each figure's year (the year its period starts, clipped to the key's years) in
        its key's drift (``drift_len`` = the last year, where the drift is 0).
    """

    units: list
    months: list
    measures: list
    keys: list
    key_measure: np.ndarray
    reference: dict
    anchor: dict
    n_fit: int
    obs_key: np.ndarray
    obs_measure: np.ndarray
    obs_first: np.ndarray
    obs_last: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    cover: np.ndarray
    y: np.ndarray
    season_index: np.ndarray | None
    n_seasons: int
    effects: np.ndarray
    effect_names: list
    disp_key: np.ndarray
    disp_unit: np.ndarray
    obs_disp: np.ndarray
    drift_start: np.ndarray
    drift_len: np.ndarray
    drift_first: np.ndarray
    obs_dy: np.ndarray
    month_year: np.ndarray
    observations: pd.DataFrame = field(repr=False)

    @property
    def key_last_year(self) -> np.ndarray:
        """(K,) the calendar year of each source-metric's last figure (by its period's start)."""
        return np.array([self.month_year[self.obs_first[self.obs_key == k]].max() for k in range(len(self.keys))],
                        dtype=np.int64)

    def reference_drift_index(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ref_key, position)`` per source-metric: its measure's reference key and that key's drift
        position in this key's last year (where the reported scale ratio is taken)."""
        km = self.key_measure
        ref = np.array([self.reference[self.measures[m]] for m in km], dtype=np.int64)
        pos = np.clip(self.key_last_year - self.drift_first[ref], 0, self.drift_len[ref]).astype(np.int64)
        return ref, pos

    def drift_position(self, keys: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Drift position of figures of source-metrics ``keys`` whose periods start at month index
        ``first`` (see ``obs_dy``; later years than a key's last are its last)."""
        keys = np.asarray(keys, dtype=np.int64)
        y = self.month_year[np.asarray(first, dtype=np.int64)]
        return np.clip(y - self.drift_first[keys], 0, self.drift_len[keys]).astype(np.int64)

    @property
    def drift_labels(self) -> list[str]:
        return [f"{self.key_labels[k]}@{self.drift_first[k] + j}" for k in range(len(self.keys))
                for j in range(self.drift_len[k])]

    @property
    def n_unit_disp(self) -> int:
        return int(self.disp_key.size - len(self.keys))

    @property
    def disp_labels(self) -> list[str]:
        return [self.key_labels[k] + ("" if u < 0 else f"@{self.units[u]}")
                for k, u in zip(self.disp_key, self.disp_unit)]

    def dispersion_groups(self, keys: np.ndarray, cover: np.ndarray) -> np.ndarray:
        """Dispersion group of figures of source-metrics ``keys`` over units ``cover`` (n, U): a
        single unit with a group of its own, else the source-metric's."""
        out = np.asarray(keys, dtype=np.int64).copy()
        own = {(int(k), int(u)): g for g, (k, u) in enumerate(zip(self.disp_key, self.disp_unit)) if u >= 0}
        for i in range(out.size):
            if cover[i].sum() == 1:
                out[i] = own.get((int(out[i]), int(np.argmax(cover[i]))), out[i])
        return out

    @property
    def free_keys(self) -> list[int]:
        ref = set(self.anchor.values())
        return [k for k in range(len(self.keys)) if k not in ref]

    @property
    def key_labels(self) -> list[str]:
        return [f"{s}:{m}" for s, m in self.keys]

    def coords(self) -> dict[str, Any]:
        c = {"measure": list(self.measures), "unit": list(self.units),
             "step": [str(m) for m in self.months[1:self.n_fit]], "fit_month": [str(m) for m in self.months[:self.n_fit]],
             "key": self.key_labels,
             "free_key": [self.key_labels[k] for k in self.free_keys], "obs": np.arange(len(self.y))}
        if self.season_index is not None:
            c["month_of_year"] = list(range(1, self.n_seasons + 1))
            c["season_free"] = list(range(1, self.n_seasons))
        if len(self.effect_names):
            c["effect_name"] = list(self.effect_names)
        if self.n_unit_disp:
            c["unit_key"] = self.disp_labels[len(self.keys):]
        if int(self.drift_len.sum()):
            c["drift"] = self.drift_labels
        return c


def drift_matrix(zeta: np.ndarray, design: FusionDesign, tau: float) -> np.ndarray:
    r"""Scale drifts :math:`\rho_{kj}` (..., K, max drift length + 1) from the innovations ``zeta``
    (..., R): :math:`\rho_{kj} = -\tau\sum_{i \ge j}\zeta_{ki}`, zero at the key's last year."""
    d = design
    zeta = np.asarray(zeta, dtype=float)
    lead = zeta.shape[:-1]
    out = np.zeros(lead + (len(d.keys), int(d.drift_len.max(initial=0)) + 1))
    for k in range(len(d.keys)):
        n = int(d.drift_len[k])
        if n:
            z = zeta[..., d.drift_start[k]:d.drift_start[k] + n]
            out[..., k, :n] = -tau * np.cumsum(z[..., ::-1], axis=-1)[..., ::-1]
    return out


def _as_label_list(months: Any) -> tuple[list, np.ndarray | None, int]:
    if isinstance(months, pd.PeriodIndex):
        if months.freqstr not in ("M", "M-DEC") and not str(months.freqstr).startswith("M"):
            raise ValueError(f"months must be a monthly PeriodIndex, got freq {months.freqstr!r}")
        return list(months), months.month.to_numpy() - 1, 12
    labels = list(months)
    if not labels:
        raise ValueError("months is empty")
    return labels, None, 0


class MeasurementModel:
    r"""Latent monthly intensity per unit from several sources at mixed resolutions (see module maths).

    Parameters
    ----------
    observations : pandas.DataFrame
        One row per published figure, columns ``source, metric, measure, cover, first, last,
        value``: ``cover`` is an iterable of the latent units the figure covers (one unit, a union
        or all units), ``first``/``last`` month labels in ``months`` (inclusive), ``value`` a
        non-negative integer count, ``measure`` one of ``measures``. Extra columns are kept.
    units : str or mapping
        Reference units: a source name (its metric named like each measure, or its only metric of
        that measure, gets :math:`\kappa = 1`), or a mapping ``measure -> (source, metric)``.
    latent_units : sequence of str
        Names of the latent units (e.g. regions); ``len(latent_units)`` is :math:`U`.
    months : pandas.PeriodIndex (monthly) or sequence
        Month labels from the start to the end of the horizon; with a PeriodIndex, month-of-year
        seasonality is included (``seasonality=True``).
    measures : sequence of str
        Latent measures; the first is the primary intensity, the others severities on top of it.
    effects : mapping name -> month label, optional
        Known-date steps :math:`x_{et} = 1\{t \ge t_e\}` with a coefficient per measure and unit.
    seasonality : bool
    priors : mapping, optional
        Overrides of :data:`DEFAULT_PRIORS`.
    whiten : ``"auto"``, ``"none"`` or array (measure, unit, fitted months)
        The information :math:`h` the Numba sampler whitens each walk with (module maths):
        ``"auto"`` = :meth:`information`, ``"none"`` = 0 (the non-centred walk). The model is the
        same whatever is chosen; only sampling efficiency changes.
    scale_drift : bool
        Let every source-metric's scale drift from year to year (a random walk of the log scale,
        sd ``priors["kappa_drift_sd"]`` a year, zero in the key's last year; module maths); needs a
        monthly PeriodIndex. ``False``: constant scales.
    dynamics : ``"ar1"`` or ``"rw"``
        The dynamic component (module maths): AR(1) around each unit's centre with a persistence
        per measure (default), or the random walk (:math:`\phi = 1`).
    unit_dispersion : int or None
        Minimum number of a source-metric's single-unit figures in one unit for that unit to get a
        dispersion of its own (module maths); ``None`` = one dispersion per source-metric.
    common_shift : bool
        Sample the trade-off between every drifting source's scale and the latent after the
        anchor's last year as one coordinate (:meth:`common_shift`). Sampler coordinates only:
        the model is the same either way. Off by default: on the shipped data with the known-date
        steps, over four seeds, it gave more divergences and no better effective sample size per
        CPU second (``python -m benchmarks.bench_fusion --samplers numba,numba-shift``).
    transient : bool
        Add the transient month effects of the module maths (a second, fast timescale of the
        latent on top of the persistent dynamics). Off by default until a full default fit shows
        it converges at the default settings.
    """

    def __init__(self, observations: pd.DataFrame, units: str | Mapping[str, tuple[str, str]],
                 latent_units: Sequence[str], months: Any, *, measures: Sequence[str] = ("attacks", "deaths"),
                 effects: Mapping[str, Any] | None = None, seasonality: bool = True,
                 priors: Mapping[str, tuple[float, float]] | None = None,
                 whiten: str | np.ndarray = "auto", unit_dispersion: int | None = 24,
                 dynamics: str = "ar1", scale_drift: bool = True, common_shift: bool = False,
                 transient: bool = False) -> None:
        self.observations = observations
        self.units = units
        self.latent_units = list(latent_units)
        self.months = months
        self.measures = list(measures)
        self.effects = dict(effects or {})
        self.seasonality = seasonality
        if unit_dispersion is not None and int(unit_dispersion) < 1:
            raise ValueError(f"unit_dispersion must be a positive integer or None, got {unit_dispersion!r}")
        self.unit_dispersion = None if unit_dispersion is None else int(unit_dispersion)
        if dynamics not in ("ar1", "rw"):
            raise ValueError(f"dynamics must be 'ar1' or 'rw', got {dynamics!r}")
        self.dynamics = dynamics
        self.scale_drift = bool(scale_drift)
        self.use_common_shift = bool(common_shift)
        self.transient = bool(transient)
        self.priors = {**DEFAULT_PRIORS, **(AR1_PRIORS if dynamics == "ar1" else {}), **dict(priors or {})}
        unknown = set(self.priors) - set(DEFAULT_PRIORS)
        if unknown:
            raise ValueError(f"unknown prior names {sorted(unknown)}; known: {sorted(DEFAULT_PRIORS)}")
        self.design = self._make_design()
        self.centre = self._centre()
        #: the data's information about each month's log-intensity (the transient effects' centring)
        self.fast_info = self._whitening(whiten)
        #: the slow dynamics' whitening information: what the data say about the slow part once a
        #: transient effect of the prior median sd stands between them (:math:`h/(1 + h\hat\omega^2)`)
        self.whiten = (self.fast_info / (1.0 + self.fast_info * float(np.exp(self.priors["log_fast_mean"][0])) ** 2)
                       if self.transient else self.fast_info)

    # ------------------------------------------------------------------------------------------
    def _make_design(self) -> FusionDesign:
        obs = self.observations
        if not isinstance(obs, pd.DataFrame):
            raise TypeError("observations must be a pandas DataFrame")
        missing = [c for c in OBSERVATION_COLUMNS if c not in obs.columns]
        if missing:
            raise ValueError(f"observations lack columns {missing}; expected {list(OBSERVATION_COLUMNS)}")
        if len(obs) == 0:
            raise ValueError("observations is empty")
        if len(set(self.latent_units)) != len(self.latent_units) or not self.latent_units:
            raise ValueError("latent_units must be non-empty and unique")
        if len(set(self.measures)) != len(self.measures) or not self.measures:
            raise ValueError("measures must be non-empty and unique")
        labels, season, n_seasons = _as_label_list(self.months)
        if not self.seasonality:
            season, n_seasons = None, 0
        pos = {m: i for i, m in enumerate(labels)}
        upos = {u: i for i, u in enumerate(self.latent_units)}
        mpos = {m: i for i, m in enumerate(self.measures)}
        obs = obs.reset_index(drop=True)
        n = len(obs)
        first = np.empty(n, dtype=np.int64)
        last = np.empty(n, dtype=np.int64)
        cover = np.zeros((n, len(self.latent_units)), dtype=bool)
        meas = np.empty(n, dtype=np.int64)
        for i, (f, la, cv, me) in enumerate(zip(obs["first"], obs["last"], obs["cover"], obs["measure"])):
            if f not in pos or la not in pos:
                raise ValueError(f"observation {i}: period {f}..{la} outside months {labels[0]}..{labels[-1]}")
            first[i], last[i] = pos[f], pos[la]
            if last[i] < first[i]:
                raise ValueError(f"observation {i}: last month {la} before first month {f}")
            units = [cv] if isinstance(cv, str) else list(cv)
            if not units:
                raise ValueError(f"observation {i}: cover is empty")
            for u in units:
                if u not in upos:
                    raise ValueError(f"observation {i}: unit {u!r} is not a latent unit {self.latent_units}")
                cover[i, upos[u]] = True
            if me not in mpos:
                raise ValueError(f"observation {i}: measure {me!r} not in {self.measures}")
            meas[i] = mpos[me]
        y = pd.to_numeric(obs["value"], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(y)) or np.any(y < 0) or np.any(y != np.round(y)):
            bad = int(np.flatnonzero(~np.isfinite(y) | (y < 0) | (y != np.round(y)))[0])
            raise ValueError(f"observation {bad}: value {obs['value'].iloc[bad]!r} is not a non-negative integer count")
        keys: list[tuple[str, str]] = []
        kpos: dict[tuple[str, str], int] = {}
        key_measure: list[int] = []
        obs_key = np.empty(n, dtype=np.int64)
        for i, (s, m) in enumerate(zip(obs["source"].astype(str), obs["metric"].astype(str))):
            k = (s, m)
            if k not in kpos:
                kpos[k] = len(keys)
                keys.append(k)
                key_measure.append(meas[i])
            elif key_measure[kpos[k]] != meas[i]:
                raise ValueError(f"observation {i}: {s} {m} is mapped to two measures")
            obs_key[i] = kpos[k]
        key_measure_a = np.asarray(key_measure, dtype=np.int64)
        reference = self._reference(keys, key_measure_a)
        counts = np.bincount(obs_key, minlength=len(keys))
        anchor = {}
        for mi, me in enumerate(self.measures):
            cand = [k for k in range(len(keys)) if key_measure_a[k] == mi]
            best = max(cand, key=lambda k: (counts[k], k == reference[me], -k))
            anchor[me] = best
        n_fit = int(last.max()) + 1
        U = len(self.latent_units)
        width = n_fit + 1
        kmax = int(cover.sum(axis=1).max())
        lo = np.zeros((n, kmax), dtype=np.int64)
        hi = np.zeros((n, kmax), dtype=np.int64)
        for i in range(n):
            for j, u in enumerate(np.flatnonzero(cover[i])):
                base = (meas[i] * U + u) * width
                lo[i, j] = base + first[i]
                hi[i, j] = base + last[i] + 1
        E = len(self.effects)
        eff = np.zeros((E, len(labels)))
        for e, (name, when) in enumerate(self.effects.items()):
            if when not in pos:
                raise ValueError(f"effect {name!r}: month {when} not in months")
            eff[e, pos[when]:] = 1.0
        disp_key, disp_unit = list(range(len(keys))), [-1] * len(keys)
        obs_disp = obs_key.copy()
        if self.unit_dispersion is not None:
            single = cover.sum(axis=1) == 1
            unit_of = np.where(single, np.argmax(cover, axis=1), -1)
            for k in range(len(keys)):
                for u in range(U):
                    sel = (obs_key == k) & (unit_of == u)
                    if sel.sum() >= self.unit_dispersion:
                        obs_disp[sel] = len(disp_key)
                        disp_key.append(k)
                        disp_unit.append(u)
        K = len(keys)
        month_year = (np.array([m.year for m in labels], dtype=np.int64) if season is not None or
                      isinstance(self.months, pd.PeriodIndex) else np.zeros(len(labels), dtype=np.int64))
        drift_first = np.zeros(K, dtype=np.int64)
        drift_len = np.zeros(K, dtype=np.int64)
        anchors = set(anchor.values())
        for k in range(K):
            yk = month_year[first[obs_key == k]]
            drift_first[k] = yk.min()
            if self.scale_drift and k not in anchors:
                drift_len[k] = yk.max() - yk.min()
        drift_start = np.concatenate([[0], np.cumsum(drift_len)[:-1]]).astype(np.int64)
        obs_dy = np.clip(month_year[first] - drift_first[obs_key], 0, drift_len[obs_key]).astype(np.int64)
        return FusionDesign(units=self.latent_units, months=labels, measures=self.measures, keys=keys,
                            key_measure=key_measure_a, reference=reference, anchor=anchor, n_fit=n_fit, obs_key=obs_key,
                            obs_measure=meas, obs_first=first, obs_last=last, lo=lo, hi=hi, cover=cover,
                            y=y, season_index=season, n_seasons=n_seasons, effects=eff,
                            effect_names=list(self.effects), disp_key=np.asarray(disp_key, dtype=np.int64),
                            disp_unit=np.asarray(disp_unit, dtype=np.int64), obs_disp=obs_disp,
                            drift_start=drift_start, drift_len=drift_len, drift_first=drift_first, obs_dy=obs_dy,
                            month_year=month_year, observations=obs)

    def common_shift(self) -> tuple[np.ndarray, ...]:
        r"""The sampler's common scale shift per measure (sampler coordinates only; module maths).

        After the last year :math:`A` the anchor reports, the latent of measure :math:`m` is seen
        only through drifting sources, so the likelihood is flat along
        :math:`\log\kappa_k \mathrel{+}= c\,g(Y_k)`, :math:`\rho_{ky} \mathrel{+}= c\,(g(y) - g(Y_k))`,
        :math:`\log\lambda_{mt} \mathrel{-}= c\,g(y_t)` for every source-metric :math:`k` of the
        measure (:math:`Y_k` its last year) with the ramp :math:`g(y) = \min(1, \max(0, (y - A)/(Y_p - A)))`;
        only the priors bound it, and no diagonal mass matrix follows that ridge through hundreds of
        coordinates. The sampler takes :math:`c` as the coordinate of a pivot's log scale (the
        free source-metric of the measure whose figures run latest, the most figures breaking
        ties), and every other coordinate as a deviation from the shift: a triangular change of
        variables with Jacobian 1.

        Returns ``csl`` (M,) the pivot's position in the parameter vector (-1: no shift), ``cg``
        (M, T) the ramp per fitted month, ``cwk``/``cmk`` (F,) the weight and measure of each free
        scale, ``cwz``/``cmz`` (R,) those of each drift innovation (see the kernel).
        """
        cached: tuple[np.ndarray, ...] | None = getattr(self, "_common_shift_cache", None)
        if cached is not None:
            return cached
        d, L = self.design, self.layout
        tau = float(self.priors["kappa_drift_sd"][0])
        csl = np.full(L.M, -1, dtype=np.int64)
        cg = np.zeros((L.M, L.T))
        cwk, cmk = np.zeros(L.F), np.zeros(L.F, dtype=np.int64)
        cwz, cmz = np.zeros(L.R), np.zeros(L.R, dtype=np.int64)
        free = list(d.free_keys)
        for f, k in enumerate(free):
            cmk[f] = d.key_measure[k]
        for k in range(len(d.keys)):
            cmz[d.drift_start[k]:d.drift_start[k] + d.drift_len[k]] = d.key_measure[k]
        if self.use_common_shift and L.R and L.T:
            last = d.key_last_year
            n_fig = np.bincount(d.obs_key, minlength=len(d.keys))
            o_k = L.offsets["log_kappa"][0]
            for m, me in enumerate(d.measures):
                A = int(last[d.anchor[me]])
                cand = [f for f, k in enumerate(free) if d.key_measure[k] == m and last[k] > A]
                if not cand:
                    continue
                p = max(cand, key=lambda f: (int(last[free[f]]), int(n_fig[free[f]]), -f))
                span = float(last[free[p]] - A)

                def ramp(y, A=A, span=span):
                    return np.clip((np.asarray(y, dtype=float) - A) / span, 0.0, 1.0)

                csl[m] = o_k + p
                cg[m] = ramp(d.month_year[:L.T])
                for f, k in enumerate(free):
                    if d.key_measure[k] == m and f != p:
                        cwk[f] = ramp(last[k])
                for k in range(len(d.keys)):
                    n = int(d.drift_len[k])
                    if d.key_measure[k] == m and n:
                        yrs = d.drift_first[k] + np.arange(n)
                        cwz[d.drift_start[k]:d.drift_start[k] + n] = (ramp(yrs + 1) - ramp(yrs)) / tau
        out = (csl, np.ascontiguousarray(cg), cwk, cmk, cwz, cmz)
        self._common_shift_cache = out
        return out

    def _shift_blocks(self, x: np.ndarray, to_sampler: bool) -> tuple[np.ndarray, np.ndarray]:
        """Scale and drift blocks of ``x`` between the sampler's coordinates and the model's
        (:meth:`common_shift`); returns the converted vector and the states' shift (M, T)
        (the sampler's states minus the model's)."""
        csl, cg, cwk, cmk, cwz, cmz = self.common_shift()
        L = self.layout
        x = np.array(x, dtype=float)
        c = np.array([x[j] if j >= 0 else 0.0 for j in csl])
        sign = -1.0 if to_sampler else 1.0
        a, _ = L.offsets["log_kappa"]
        x[a:a + L.F] += sign * c[cmk] * cwk
        a, _ = L.offsets["kappa_drift"]
        x[a:a + L.R] += sign * c[cmz] * cwz
        csh = c[:, None] * cg
        csh[1:] -= csh[:1]
        return x, csh

    def effect_weight(self) -> np.ndarray:
        r"""How far each month's known-date effects are centred in the sampler's states (measure,
        unit, fitted month): :math:`w = h/(1 + h)` with :math:`h` the whitening information
        (:attr:`whiten`) for the primary measure, :math:`w = 0` (the step moves the intensity, not
        the deviations' prior) for the severities; see :func:`~pakcast.models.fusion._kernel.logp_grad`.
        Changes the sampler's coordinates, never the model.

        A severity's information comes in bursts (the months of mass-casualty attacks), so
        :math:`h/(1 + h)` jumps between about 0 and 1 from month to month, and the step of a
        sparse unit's severity then forms a funnel with its innovation scale: the default fit's
        divergent transitions moved those two coordinates most (Sindh, Punjab, Gilgit-Baltistan
        deaths) until the severities' steps were left uncentred (``python -m benchmarks.bench_fusion
        --start 2007-01 --draws 1000 --tune 1000 --chains 4 --seeds 3 --divergences``; figures in
        ``docs/results/bench_fusion_default.json``)."""
        h = self.whiten
        w = h / (1.0 + h)
        w[1:] = 0.0
        return np.ascontiguousarray(w)

    def _effect_shift(self, effect: np.ndarray) -> np.ndarray:
        r"""(M, U, T) the part :math:`w_t\sum_e\beta_e x_{et}` of the whitened states that belongs
        to the effects (``effect`` of shape (E, M, U))."""
        L = self.layout
        if not L.E:
            return np.zeros((L.M, L.U, L.T))
        xe = self.design.effects[:, :L.T]
        return self.effect_weight() * np.einsum("emu,et->mut", effect, xe)

    def level_mean(self) -> np.ndarray:
        """(measure, unit) prior mean of the first state and the AR(1) series' long-run level: the
        centre :meth:`_centre` plus the level priors' offsets (``level_primary``, ``level_severity``)."""
        pr = self.priors
        M = len(self.design.measures)
        return np.array([pr["level_primary"][0]] + [pr["level_severity"][0]] * (M - 1))[:, None] + self.centre

    def _centre(self) -> np.ndarray:
        r"""The centre :math:`c_{mu}` (measure, unit) the dynamics revert to, in the anchor's units:
        for the primary measure the log of the anchor's mean monthly figure in the unit
        (single-unit figures; at least 0.001 a month), for a severity the log of the ratio of its
        anchor's mean to the primary one; units without such figures get the mean over the others
        (0 without any). A function of the data only, fixed before sampling (an empirical-Bayes
        centre: with :math:`\phi \to 1` it no longer matters)."""
        d = self.design
        M, U = len(d.measures), len(d.units)
        single = d.cover.sum(axis=1) == 1
        rate = np.full((M, U), np.nan)
        for m, me in enumerate(d.measures):
            k = d.anchor[me]
            for u in range(U):
                sel = single & (d.obs_key == k) & d.cover[:, u]
                if sel.any():
                    n = float((d.obs_last[sel] - d.obs_first[sel] + 1).sum())
                    rate[m, u] = max(float(d.y[sel].sum()) / n, 1e-3)
        out = np.log(rate)
        out[1:] -= out[:1]
        for m in range(M):
            bad = ~np.isfinite(out[m])
            out[m, bad] = float(np.mean(out[m, ~bad])) if (~bad).any() else 0.0
        return np.ascontiguousarray(out)

    def dispersion_guess(self, default: float = 0.25) -> np.ndarray:
        r"""A moment estimate of each dispersion group's NB2 dispersion (:attr:`FusionDesign.obs_disp`)
        from its single-unit monthly figures: consecutive months :math:`y_t, y_{t+1}` of one unit give
        :math:`\hat\alpha = (\overline{(y_{t+1} - y_t)^2}/2 - \bar y)/\overline{y_t y_{t+1}}`
        (a smooth latent makes the pair's difference pure count noise), clipped to [0.01, 20];
        the source-metric's estimate (or ``default``) for groups without 12 such pairs. Used only to
        set the sampler's coordinates."""
        d = self.design
        K = len(d.keys)
        out = np.full(d.disp_key.size, float(default))
        cell = (d.cover.sum(axis=1) == 1) & (d.obs_first == d.obs_last)
        for k in range(d.disp_key.size):
            if k >= K:
                out[k] = out[d.disp_key[k]]
            sel = np.flatnonzero(cell & (d.obs_key == k)) if k < K else np.flatnonzero(cell & (d.obs_disp == k))
            if sel.size < 12:
                continue
            unit = np.argmax(d.cover[sel], axis=1)
            order = np.lexsort((d.obs_first[sel], unit))
            i, u, t = sel[order], unit[order], d.obs_first[sel][order]
            pair = (u[1:] == u[:-1]) & (t[1:] == t[:-1] + 1)
            if pair.sum() < 12:
                continue
            a, b = d.y[i[:-1]][pair], d.y[i[1:]][pair]
            m2 = float(np.mean(a * b))
            if m2 <= 0:
                continue
            est = (float(np.mean((b - a) ** 2)) / 2.0 - float(np.mean((a + b) / 2.0))) / m2
            out[k] = float(np.clip(est, 0.01, 20.0))
        return out

    def information(self) -> np.ndarray:
        r"""Rough Fisher information (measure, unit, fitted month) of the data about each month's
        log-intensity: a figure :math:`y` of source-metric :math:`k` over units :math:`R` and
        :math:`n` months contributes
        :math:`\frac{y}{1 + \hat\alpha_k y}\,\big(\frac{w_u}{n\sum_{R} w}\big)^2` to each of its
        cells, with :math:`\hat\alpha_k` from :meth:`dispersion_guess` and :math:`w_u` the unit's
        mean single-unit figure of that measure (equal weights without any). Fixed before sampling
        (a function of the data only), so it changes the sampler's coordinates, never the model."""
        d = self.design
        alpha = self.dispersion_guess()
        M, U, T = len(d.measures), len(d.units), d.n_fit
        info = np.zeros((M, U, T))
        single = d.cover.sum(axis=1) == 1
        w = np.ones((M, U))
        for m in range(M):
            for u in range(U):
                sel = single & (d.obs_measure == m) & d.cover[:, u]
                if sel.any():
                    months = (d.obs_last[sel] - d.obs_first[sel] + 1)
                    w[m, u] = d.y[sel].sum() / months.sum() + 1e-3
        for i in range(d.y.size):
            m = d.obs_measure[i]
            us = np.flatnonzero(d.cover[i])
            n = d.obs_last[i] - d.obs_first[i] + 1
            share = w[m, us] / w[m, us].sum() / n
            a = alpha[d.obs_disp[i]]
            info[m, us, d.obs_first[i]:d.obs_last[i] + 1] += (d.y[i] / (1.0 + a * d.y[i]) * share ** 2)[:, None]
        return info

    def scale_information(self) -> np.ndarray:
        r"""Rough information (measure, unit) of the data about each walk's :math:`\log\sigma`,
        from the Whittle approximation for a random walk seen through noise of precision
        :math:`\bar h` (the mean of :attr:`whiten` over months): the walk dominates the noise at
        about :math:`n = T\sigma_0\sqrt{\bar h}/\pi` of its :math:`T` frequencies, each worth
        2 units of information about :math:`\log\sigma` (:math:`\sigma_0` the prior median scale).
        It sets the partial centring of the pooled scales (:func:`~pakcast.models.fusion._kernel._log_sigma`),
        never the model."""
        T = self.whiten.shape[2]
        sigma0 = float(np.exp(self.priors["log_sigma_mean"][0]))
        if self.dynamics == "ar1":
            phi0 = 1.0 / (1.0 + np.exp(-self.priors["logit_phi"][0]))
            sigma0 *= float(np.sqrt(1.0 - phi0 ** 2))
        n = np.minimum(T * sigma0 * np.sqrt(self.whiten.mean(axis=2)) / np.pi, max(T - 1, 0))
        return np.ascontiguousarray(2.0 * n)

    def _whitening(self, whiten: str | np.ndarray) -> np.ndarray:
        d = self.design
        shape = (len(d.measures), len(d.units), d.n_fit)
        if isinstance(whiten, str):
            if whiten == "auto":
                return self.information()
            if whiten == "none":
                return np.zeros(shape)
            raise ValueError("whiten must be 'auto', 'none' or an array (measure, unit, fitted month)")
        h = np.asarray(whiten, dtype=float)
        if h.shape != shape or not np.all(np.isfinite(h)) or np.any(h < 0):
            raise ValueError(f"whiten array must be finite, non-negative, of shape {shape}")
        return h

    def _reference(self, keys: list[tuple[str, str]], key_measure: np.ndarray) -> dict[str, int]:
        ref: dict[str, int] = {}
        sources = sorted({s for s, _ in keys})
        for mi, me in enumerate(self.measures):
            cand = [k for k, km in enumerate(key_measure) if km == mi]
            if not cand:
                raise ValueError(f"no observation of measure {me!r}: drop it from measures")
            if isinstance(self.units, str):
                mine = [k for k in cand if keys[k][0] == self.units]
                if not mine:
                    raise ValueError(f"reference units {self.units!r} have no observation of measure {me!r}; "
                                     f"sources with {me}: {sorted({keys[k][0] for k in cand})} "
                                     f"(all sources: {sources})")
                if len(mine) > 1:
                    named = [k for k in mine if keys[k][1] == me]
                    if len(named) != 1:
                        raise ValueError(f"reference units {self.units!r} have several metrics of {me!r} "
                                         f"({[keys[k][1] for k in mine]}); pass units as a mapping "
                                         "measure -> (source, metric)")
                    mine = named
                ref[me] = mine[0]
            else:
                if me not in self.units:
                    raise ValueError(f"units mapping has no reference for measure {me!r}")
                want = tuple(self.units[me])
                match = [k for k in cand if keys[k] == want]
                if not match:
                    raise ValueError(f"reference {want} has no observation of measure {me!r}")
                ref[me] = match[0]
        return ref

    # ------------------------------------------------------------------------------------------
    def build(self, likelihood: str = "numba"):
        """The PyMC model (pure: nothing is sampled). ``likelihood="numba"`` adds the NB2
        log-likelihood as one Numba potential; ``"native"`` uses ``pm.NegativeBinomial``."""
        import pymc as pm
        import pytensor.tensor as pt
        from pakcast.models.likelihood.pytensor_ops import nb_logp

        d = self.design
        pr = self.priors
        M, U, T = len(d.measures), len(d.units), d.n_fit
        with pm.Model(coords=d.coords()) as model:
            lv_mu = self.level_mean()
            lv_sd = np.array([pr["level_primary"][1]] + [pr["level_severity"][1]] * (M - 1))
            level = pm.Normal("level", mu=lv_mu, sigma=lv_sd[:, None], dims=("measure", "unit"))
            ls_mean = pm.Normal("log_sigma_mean", pr["log_sigma_mean"][0], pr["log_sigma_mean"][1], dims="measure")
            ls_sd = pm.HalfNormal("log_sigma_sd", pr["log_sigma_sd"][0], dims="measure")
            ls_raw = pm.Normal("log_sigma_raw", 0.0, 1.0, dims=("measure", "unit"))
            root = 1.0
            if self.dynamics == "ar1":
                phi = pm.Deterministic("phi", pm.math.sigmoid(pm.Normal("logit_phi", pr["logit_phi"][0],
                                                                        pr["logit_phi"][1], dims="measure")),
                                       dims="measure")
                root = pt.sqrt(1.0 - phi ** 2)[:, None]
            sigma = pm.Deterministic("sigma", pt.exp(ls_mean[:, None] + ls_sd[:, None] * ls_raw) * root,
                                     dims=("measure", "unit"))
            loglin = level[:, :, None]
            if T > 1:
                z = pm.Normal("z", 0.0, 1.0, dims=("measure", "unit", "step"))
                if self.dynamics == "rw":
                    w = pt.cumsum(sigma[:, :, None] * z, axis=2)
                    w = pt.concatenate([pt.zeros((M, U, 1)), w], axis=2)
                    loglin = loglin + w
                else:
                    # delta_t = phi^t delta_0 + sum_{s=1..t} phi^(t-s) sigma z_s around the centre
                    tt = np.arange(T)[:, None] - np.arange(1, T)[None, :]
                    mask = (tt >= 0).astype(float)
                    cen = lv_mu
                    rows = []
                    for m in range(M):
                        Phi = mask * phi[m] ** np.maximum(tt, 0)
                        d0 = (level[m] - cen[m])[:, None] * phi[m] ** np.arange(T)[None, :]
                        rows.append(cen[m][:, None] + d0 + pt.dot(sigma[m][:, None] * z[m], Phi.T))
                    loglin = pt.stack(rows)
            else:
                loglin = pt.repeat(loglin, 1, axis=2)
            if d.season_index is not None:
                H = zero_sum_basis(d.n_seasons)
                season_raw = pm.Normal("season_raw", 0.0, pr["season"][0], dims=("measure", "season_free"))
                season = pm.Deterministic("season", season_raw @ H.T, dims=("measure", "month_of_year"))
                loglin = loglin + season[:, d.season_index[:T]][:, None, :]
            if d.effects.shape[0]:
                beta = pm.Normal("effect", pr["effect"][0], pr["effect"][1], dims=("effect_name", "measure", "unit"))
                loglin = loglin + pt.tensordot(beta, pt.as_tensor_variable(d.effects[:, :T]), axes=[[0], [0]])
            if self.transient:
                lf_mean = pm.Normal("log_fast_mean", pr["log_fast_mean"][0], pr["log_fast_mean"][1], dims="measure")
                lf_sd = pm.HalfNormal("log_fast_sd", pr["log_fast_sd"][0], dims="measure")
                lf_raw = pm.Normal("log_fast_raw", 0.0, 1.0, dims=("measure", "unit"))
                om = pm.Deterministic("fast_sd", pt.exp(lf_mean[:, None] + lf_sd[:, None] * lf_raw),
                                      dims=("measure", "unit"))
                fast_z = pm.Normal("fast_z", 0.0, 1.0, dims=("measure", "unit", "fit_month"))
                loglin = loglin + om[:, :, None] * fast_z - 0.5 * om[:, :, None] ** 2
            if M > 1:
                loglam = pt.concatenate([loglin[:1], loglin[:1] + loglin[1:]], axis=0)
            else:
                loglam = loglin
            lam = pt.exp(loglam)
            csum = pt.concatenate([pt.zeros((M, U, 1)), pt.cumsum(lam, axis=2)], axis=2).reshape((-1,))
            total = (csum[d.hi] - csum[d.lo]).sum(axis=1)
            free = d.free_keys
            log_kappa = pt.zeros(len(d.keys))
            if free:
                lk = pm.Normal("log_kappa", pr["log_kappa"][0], pr["log_kappa"][1], dims="free_key")
                log_kappa = pt.set_subtensor(log_kappa[np.asarray(free)], lk)
            K = len(d.keys)
            rho = pt.zeros((K, int(d.drift_len.max(initial=0)) + 1))
            if int(d.drift_len.sum()):
                zeta = pm.Normal("kappa_drift", 0.0, 1.0, dims="drift")
                for k in range(K):
                    n = int(d.drift_len[k])
                    if n:
                        zk = zeta[d.drift_start[k]:d.drift_start[k] + n]
                        rho = pt.set_subtensor(rho[k, :n], -pr["kappa_drift_sd"][0] * pt.cumsum(zk[::-1])[::-1])
            rref, rpos = d.reference_drift_index()
            ref_lk = pt.stack([log_kappa[d.reference[me]] for me in d.measures])
            pm.Deterministic("ref_shift", ref_lk, dims="measure")
            pm.Deterministic("kappa", pt.exp(log_kappa - ref_lk[d.key_measure] - rho[rref, rpos]), dims="key")
            log_alpha = pm.Normal("log_alpha", pr["log_alpha"][0], pr["log_alpha"][1], dims="key")
            log_alpha_all = log_alpha
            if d.n_unit_disp:
                lau = pm.Normal("log_alpha_unit", log_alpha[d.disp_key[len(d.keys):]], pr["log_alpha_unit_sd"][0],
                                dims="unit_key")
                log_alpha_all = pt.concatenate([log_alpha, lau])
            eta = log_kappa[d.obs_key] + rho[d.obs_key, d.obs_dy] + pt.log(total)
            if likelihood == "numba":
                pm.Potential("loglik", nb_logp(d.y, eta, log_alpha_all[d.obs_disp]))
            elif likelihood == "native":
                pm.NegativeBinomial("y", mu=pt.exp(eta), alpha=pt.exp(-log_alpha_all[d.obs_disp]), observed=d.y,
                                    dims="obs")
            else:
                raise ValueError("likelihood must be 'numba' or 'native'")
        return model

    # ------------------------------------------------------------------------------------------
    @cached_property
    def layout(self) -> Layout:
        d = self.design
        return Layout(M=len(d.measures), U=len(d.units), T=d.n_fit, S=d.n_seasons if d.season_index is not None else 0,
                      E=d.effects.shape[0], F=len(d.free_keys), K=len(d.keys), G=d.n_unit_disp,
                      P=len(d.measures) if self.dynamics == "ar1" else 0, R=int(d.drift_len.sum()),
                      Q=len(d.measures) if self.transient else 0)

    def _walk_args(self) -> tuple[np.ndarray, np.ndarray]:
        """The kernel's ``dims`` (the :class:`Layout` sizes) and ``pri`` (the priors, flat)."""
        pr, L = self.priors, self.layout
        dims = np.array([L.M, L.U, L.T, L.S, L.E, L.F, L.K, L.G, L.P, L.R, L.Q], dtype=np.int64)
        pri = np.array([*pr["level_primary"], *pr["level_severity"], *pr["log_sigma_mean"], pr["log_sigma_sd"][0],
                        pr["season"][0], *pr["effect"], *pr["log_kappa"], *pr["log_alpha"],
                        pr["log_alpha_unit_sd"][0], *pr["logit_phi"], pr["kappa_drift_sd"][0], *pr["log_fast_mean"],
                        pr["log_fast_sd"][0]], dtype=float)
        return dims, pri

    def _kernel_args(self) -> tuple:
        d, L = self.design, self.layout
        dims, pri = self._walk_args()
        sidx = (d.season_index[:L.T] if d.season_index is not None else np.zeros(L.T)).astype(np.int64)
        H = zero_sum_basis(L.S) if L.S > 1 else np.zeros((1, 0))
        return (dims, d.y.astype(float), d.obs_key.astype(np.int64), d.lo, d.hi, sidx, H,
                np.ascontiguousarray(d.effects[:, :L.T]), np.asarray(d.free_keys, dtype=np.int64), pri,
                np.ascontiguousarray(self.whiten), self.scale_information(), self._table_lengths(),
                d.cover.sum(axis=1).astype(np.int64), d.obs_disp.astype(np.int64), d.disp_key.astype(np.int64),
                self.centre, self.effect_weight(), d.drift_start, d.drift_len, d.obs_dy, *self.common_shift(),
                np.ascontiguousarray(self.fast_info), *self._table_counts())

    def _table_lengths(self) -> np.ndarray:
        """Per dispersion group, the length of the NB2 count table the kernel builds (0 = none): a
        table of ``max y + 1`` entries pays when the group has at least ``(max y + 1) / 16`` figures."""
        from pakcast.models.likelihood._special import TABLE_MAX

        d = self.design
        out = np.zeros(d.disp_key.size, dtype=np.int64)
        for k in range(d.disp_key.size):
            yk = d.y[d.obs_disp == k]
            if yk.size == 0:
                continue
            top = int(yk.max()) + 1
            if top <= TABLE_MAX + 1 and yk.size * 16 >= top:
                out[k] = top
        return out

    def _table_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The sorted distinct counts of every dispersion group with a table
        (:meth:`_table_lengths`), concatenated, and the offsets of each group's counts."""
        d = self.design
        lens = self._table_lengths()
        parts = [np.unique(d.y[d.obs_disp == k]).astype(np.int64) if lens[k] else np.zeros(0, dtype=np.int64)
                 for k in range(lens.size)]
        off = np.zeros(lens.size + 1, dtype=np.int64)
        off[1:] = np.cumsum([p.size for p in parts])
        return (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)), off

    def logp(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Joint log-density of the sampler's coordinates ``x`` (see :class:`Layout`; walks whitened,
        module maths) and its gradient."""
        x = np.ascontiguousarray(x, dtype=float)
        g = np.empty_like(x)
        return float(logp_grad(x, *self._kernel_args(), g)), g  # type: ignore[call-arg]  # numba >= 0.68 types Dispatcher.__call__

    def initial_point(self, random_seed: int | None = None, jitter: float = 0.1) -> np.ndarray:
        """A start for the sampler: reference-scale levels from the data, everything else near 0."""
        L = self.layout
        rng = np.random.default_rng(random_seed)
        x = jitter * rng.standard_normal(L.ndim)
        off = L.offsets
        # levels at the centres (the anchors' mean rates per unit)
        a, _ = off["level"]
        x[a:a + L.M * L.U] += self.centre.ravel()
        b, _ = off["log_sigma_mean"]
        x[b:b + L.M] += self.priors["log_sigma_mean"][0]
        c, _ = off["log_log_sigma_sd"]
        x[c:c + L.M] += np.log(0.3)
        if L.P:
            f, _ = off["logit_phi"]
            x[f:f + L.P] += self.priors["logit_phi"][0]
        e, _ = off["log_alpha"]
        guess = np.log(self.dispersion_guess())
        x[e:e + L.K] += guess[:L.K]
        if L.G:
            e, _ = off["log_alpha_unit"]
            x[e:e + L.G] += guess[L.K:]
        if L.Q:
            f, _ = off["log_fast_mean"]
            x[f:f + L.Q] += self.priors["log_fast_mean"][0]
            f, _ = off["log_log_fast_sd"]
            x[f:f + L.Q] += np.log(0.3)
        return self.to_whitened(x)

    def _root(self, phi: np.ndarray) -> np.ndarray:
        """(M,) innovation sd per unit of stationary sd: :math:`\\sqrt{1-\\phi^2}` (AR(1)), 1 (walks)."""
        return np.sqrt(1.0 - phi ** 2) if self.layout.P else np.ones_like(phi)

    def _phi(self, p: dict[str, np.ndarray]) -> np.ndarray:
        """(M,) persistence of each measure's dynamics (1 for random walks)."""
        if not self.layout.P:
            return np.ones(self.layout.M)
        return np.array([_sigmoid(v) for v in p["logit_phi"]])

    def _sigma_coords(self, p: dict[str, np.ndarray], to_sampler: bool) -> np.ndarray:
        """``log_sigma_raw`` between the standard non-centred ``(log sigma - mu) / tau`` and the
        sampler's partially non-centred coordinates ``e`` (:func:`_log_sigma`)."""
        mu = p["log_sigma_mean"][:, None]
        tau = np.exp(p["log_log_sigma_sd"])[:, None]
        P = 1.0 / tau ** 2 + self.scale_information()
        w, sc = (1.0 / tau ** 2) / P, 1.0 / np.sqrt(P)
        if to_sampler:
            theta = mu + tau * p["log_sigma_raw"]
            return (theta - w * mu) / sc
        theta = w * mu + sc * p["log_sigma_raw"]
        return (theta - mu) / tau

    def to_whitened(self, x: np.ndarray) -> np.ndarray:
        """The sampler's coordinates of a parameter vector whose walk blocks hold the level
        :math:`a` and the standardised innovations :math:`z` (inverse of :meth:`from_whitened`)."""
        from pakcast.models.fusion._kernel import _walk_cholesky

        L = self.layout
        x, csh = self._shift_blocks(x, to_sampler=True)
        p = {k: v.copy() for k, v in L.unpack(x).items()}
        dims, pri = self._walk_args()
        lsd = np.exp(p["log_log_sigma_sd"])
        phi = self._phi(p)
        sigma = np.exp(p["log_sigma_mean"][:, None] + lsd[:, None] * p["log_sigma_raw"]) * self._root(phi)[:, None]
        oz = L.offsets["z"][0]
        T = L.T
        Ld, Lo, dLd, dLo, pLd, pLo = (np.zeros(T) for _ in range(6))
        shift = self._effect_shift(p["effect"])
        level_mean = self.level_mean()
        states = np.empty((L.M, L.U, T))
        for m in range(L.M):
            s0 = pri[1] if m == 0 else pri[3]
            for u in range(L.U):
                mu0 = level_mean[m, u]
                steps = sigma[m, u] * p["z"][m, u] if T > 1 else np.zeros(0)
                delta = np.empty(T)
                delta[0] = p["level"][m, u] - mu0
                for t in range(1, T):
                    delta[t] = phi[m] * delta[t - 1] + steps[t - 1]
                states[m, u] = mu0 + delta
                delta += shift[m, u] + csh[m]
                _walk_cholesky(sigma[m, u], s0, self.whiten[m, u], T, Ld, Lo, dLd, dLo, phi[m], pLd, pLo)
                eps = Ld * delta
                eps[:-1] += Lo[1:] * delta[1:]
                x[m * L.U + u] = eps[0]
                x[oz + (m * L.U + u) * (T - 1):oz + (m * L.U + u + 1) * (T - 1)] = eps[1:]
        a, b = L.offsets["log_sigma_raw"]
        x[a:b] = self._sigma_coords(p, to_sampler=True).ravel()
        if L.Q:   # nu = omega e (model) = c r - w q (sampler)
            om, w, c = self._fast_weights(p)
            q = self._fast_rest(p, states)
            a, b = L.offsets["fast"]
            x[a:b] = ((om[:, :, None] * p["fast"] + w * q) / c).ravel()
        return x

    def _fast_weights(self, p: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""The transient effects' sd :math:`\omega` (M, U), centring weights :math:`w_t` and scales
        :math:`c_t` (M, U, T) of the sampler's coordinates (:func:`~pakcast.models.fusion._kernel.logp_grad`)."""
        om = np.exp(p["log_fast_mean"][:, None] + np.exp(p["log_log_fast_sd"])[:, None] * p["log_fast_raw"])
        k = self.fast_info * om[:, :, None] ** 2
        return om, k / (1.0 + k), om[:, :, None] / np.sqrt(1.0 + k)

    def _fast_rest(self, p: dict[str, np.ndarray], states: np.ndarray) -> np.ndarray:
        r"""(M, U, T) the slow part :math:`q_t` of each measure's log-intensity the transient effects
        are centred on: the deviation from the level mean (``states`` are the dynamics' states
        incl. the level mean), the season, the known-date steps and the effects' mean
        :math:`-\omega^2/2`."""
        L, d = self.layout, self.design
        q = states - self.level_mean()[:, :, None] - 0.5 * self._fast_weights(p)[0][:, :, None] ** 2
        if L.S > 1 and d.season_index is not None:
            q = q + (p["season_raw"] @ zero_sum_basis(L.S).T)[:, d.season_index[:L.T]][:, None, :]
        if L.E:
            q = q + np.einsum("emu,et->mut", p["effect"], d.effects[:, :L.T])
        return q

    def from_whitened(self, x: np.ndarray) -> np.ndarray:
        """A sampler-coordinate vector with its walk blocks turned back into the level :math:`a`
        and standardised innovations :math:`z`."""
        L = self.layout
        dims, pri = self._walk_args()
        v, sigma, phi = walk_states(np.asarray(x, dtype=float), dims, pri, self.whiten, self.scale_information(),
                                    self.centre)
        x, csh = self._shift_blocks(x, to_sampler=False)
        v = v - self._effect_shift(L.unpack(x)["effect"]) - csh[:, None, :]
        if L.Q:
            p = L.unpack(x)
            om, w, c = self._fast_weights(p)
            nu = c * p["fast"] - w * self._fast_rest(p, v)
            a, b = L.offsets["fast"]
            x[a:b] = (nu / om[:, :, None]).ravel()
        a, b = L.offsets["log_sigma_raw"]
        x[a:b] = self._sigma_coords(L.unpack(x), to_sampler=False).ravel()
        x[:L.M * L.U] = v[:, :, 0].ravel()
        if L.T > 1:
            oz = L.offsets["z"][0]
            dv = v - self.level_mean()[:, :, None]
            z = (dv[:, :, 1:] - phi[:, None, None] * dv[:, :, :-1]) / sigma[:, :, None]
            x[oz:oz + L.M * L.U * (L.T - 1)] = z.ravel()
        return x

    def expand(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Named constrained values of one draw of the sampler's coordinates (what the posterior
        stores: walks as level and standardised innovations)."""
        L = self.layout
        p = L.unpack(self.from_whitened(x))
        d = self.design
        lsd = np.exp(p["log_log_sigma_sd"])
        out = {"level": p["level"], "log_sigma_mean": p["log_sigma_mean"], "log_sigma_sd": lsd,
               "log_sigma_raw": p["log_sigma_raw"],
               "sigma": np.exp(p["log_sigma_mean"][:, None] + lsd[:, None] * p["log_sigma_raw"])
               * self._root(self._phi(p))[:, None]}
        if L.T > 1:
            out["z"] = p["z"]
        if L.S > 1:
            out["season_raw"] = p["season_raw"]
            out["season"] = p["season_raw"] @ zero_sum_basis(L.S).T
        if L.E:
            out["effect"] = p["effect"]
        lk = np.zeros(L.K)
        if L.F:
            out["log_kappa"] = p["log_kappa"]
            lk[np.asarray(d.free_keys)] = p["log_kappa"]
        ref_lk = np.array([lk[d.reference[me]] for me in d.measures])
        out["ref_shift"] = ref_lk
        rho = drift_matrix(p["kappa_drift"], d, self.priors["kappa_drift_sd"][0])
        rref, rpos = d.reference_drift_index()
        out["kappa"] = np.exp(lk - ref_lk[d.key_measure] - rho[rref, rpos])
        if L.R:
            out["kappa_drift"] = p["kappa_drift"]
        out["log_alpha"] = p["log_alpha"]
        if L.G:
            out["log_alpha_unit"] = p["log_alpha_unit"]
        if L.P:
            out["logit_phi"] = p["logit_phi"]
            out["phi"] = self._phi(p)
        if L.Q:
            out["log_fast_mean"] = p["log_fast_mean"]
            out["log_fast_sd"] = np.exp(p["log_log_fast_sd"])
            out["log_fast_raw"] = p["log_fast_raw"]
            out["fast_sd"] = np.exp(p["log_fast_mean"][:, None] + out["log_fast_sd"][:, None] * p["log_fast_raw"])
            out["fast_z"] = p["fast"]
        return out

    def _expanded_dims(self) -> dict[str, tuple[str, ...]]:
        L = self.layout
        dims = {"level": ("measure", "unit"), "log_sigma_mean": ("measure",), "log_sigma_sd": ("measure",),
                "log_sigma_raw": ("measure", "unit"), "sigma": ("measure", "unit"), "kappa": ("key",),
                "log_alpha": ("key",), "ref_shift": ("measure",)}
        if L.T > 1:
            dims["z"] = ("measure", "unit", "step")
        if L.S > 1:
            dims["season_raw"] = ("measure", "season_free")
            dims["season"] = ("measure", "month_of_year")
        if L.E:
            dims["effect"] = ("effect_name", "measure", "unit")
        if L.F:
            dims["log_kappa"] = ("free_key",)
        if L.G:
            dims["log_alpha_unit"] = ("unit_key",)
        if L.P:
            dims["logit_phi"] = ("measure",)
            dims["phi"] = ("measure",)
        if L.R:
            dims["kappa_drift"] = ("drift",)
        if L.Q:
            dims.update({"log_fast_mean": ("measure",), "log_fast_sd": ("measure",),
                         "log_fast_raw": ("measure", "unit"), "fast_sd": ("measure", "unit"),
                         "fast_z": ("measure", "unit", "fit_month")})
        return dims

    def compile_nutpie(self):
        """The model as a nutpie compiled model on the Numba kernel's C callbacks
        (:mod:`pakcast.models.fusion._callbacks`; no PyTensor and no Python between the sampler and
        the density). It stores the sampler's coordinates as the draws (variable ``x``);
        :meth:`posterior_from_coordinates` turns them into the named values."""
        from nutpie.compile_pymc import CompiledPyMCModel
        from pakcast.models.fusion._callbacks import copy_callback, logp_callback, pack_kernel_args

        n = self.layout.ndim
        table, keep = pack_kernel_args(self._kernel_args())

        def initial_point(seed):
            return self.initial_point(int(seed) % (2**32))

        return CompiledPyMCModel(
            _n_dim=n, dims={"x": ("coordinate",)}, _coords={"coordinate": pd.RangeIndex(n)}, _shapes={"x": (n,)},
            compiled_logp_func=logp_callback(), compiled_expand_func=copy_callback, initial_point_func=initial_point,
            shared_data={f"arg{i}": a for i, a in enumerate(keep)}, user_data=table, n_expanded=n,
            shape_info=(["x"], [slice(0, n)], [(n,)]), logp_func=None, expand_func=None)

    def posterior_from_coordinates(self, x: Any):
        """The named posterior (:meth:`expand` of every draw, with its dims and coords) of the
        sampler's coordinates ``x`` (an ``xarray.DataArray`` with dims chain, draw, coordinate)."""
        import xarray as xr

        arr = np.asarray(x)
        C, D = arr.shape[:2]
        draws = [self.expand(arr[c, d]) for c in range(C) for d in range(D)]
        coords = {k: np.array([str(c) for c in v], dtype=object) for k, v in self.design.coords().items() if k != "obs"}
        dims = self._expanded_dims()
        data = {}
        for name in draws[0]:
            v = np.stack([np.asarray(e[name], dtype=float) for e in draws]).reshape((C, D) + np.shape(draws[0][name]))
            data[name] = (("chain", "draw") + tuple(dims.get(name, ())), v)
        used = {d for _, (dd, _) in data.items() for d in dd}
        return xr.Dataset(data, coords={"chain": np.asarray(x["chain"]), "draw": np.asarray(x["draw"]),
                                        **{k: v for k, v in coords.items() if k in used}})

    def fit(self, *, random_seed: int | None = None, sampler: str = "numba", draws: int = 1000,
            tune: int = 1000, chains: int = 4, cores: int | None = None, target_accept: float = 0.9,
            progressbar: bool = False, **sampler_options: Any):
        """Sample the posterior; returns :class:`~pakcast.models.fusion.results.FusionResults`.

        ``sampler="numba"`` (default): nutpie's NUTS on the Numba log-density and gradient
        (:mod:`pakcast.models.fusion._kernel`); ``"nutpie"``: nutpie on the PyMC model of
        :meth:`build` (PyTensor compiled to Numba); ``"pymc"``: PyMC's own NUTS on that model.
        ``random_seed`` makes the draws, the forward simulation of unobserved months and the
        posterior predictive reproducible.
        """
        from pakcast.models.fusion.results import FusionResults

        if sampler not in ("numba", "nutpie", "pymc"):
            raise ValueError("sampler must be 'numba', 'nutpie' or 'pymc'")
        for name, v in (("draws", draws), ("tune", tune), ("chains", chains)):
            if int(v) < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        t0 = time.perf_counter()
        c0 = time.process_time()
        if sampler == "numba":
            import arviz as az
            import nutpie

            compiled = self.compile_nutpie()
            t1 = time.perf_counter()
            seed = int(np.random.SeedSequence(random_seed).generate_state(1)[0])
            idata = nutpie.sample(compiled, draws=int(draws), tune=int(tune), chains=int(chains),
                                  cores=int(cores) if cores is not None else min(int(chains), 2), seed=seed,
                                  progress_bar=progressbar, target_accept=target_accept, save_warmup=False,
                                  **sampler_options)
            posterior = self.posterior_from_coordinates(idata.posterior["x"])
            posterior.attrs.update(idata.posterior.attrs)
            idata = az.InferenceData(posterior=posterior,
                                     **{g: idata[g] for g in idata.groups() if g != "posterior"})
            idata.attrs.update({"sampler": "numba", "random_seed": -1 if random_seed is None else int(random_seed),
                                "compile_seconds": t1 - t0, "sampling_seconds": time.perf_counter() - t1,
                                "draws": int(draws), "tune": int(tune), "chains": int(chains)})
        else:
            from pakcast.models.bayes.fit import sample

            model = self.build(likelihood="numba")
            idata = sample(model, sampler=sampler, draws=draws, tune=tune, chains=chains, cores=cores,
                           target_accept=target_accept, random_seed=random_seed, progressbar=progressbar)
            if "kappa" not in idata.posterior:
                raise RuntimeError("posterior lacks kappa")
        idata.attrs["fit_seconds"] = time.perf_counter() - t0
        idata.attrs["fit_cpu_seconds"] = time.process_time() - c0
        return FusionResults(self, idata, random_seed=random_seed)
