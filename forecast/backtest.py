"""Rolling-origin backtests of the forecaster zoo, with ensembles weighted by past scores only.

At each origin :math:`o` (a month start; quarterly by default, from 2010-01) every model is fitted
on the panel **truncated to months before** :math:`o` (and covariates likewise; a test perturbs
later data and checks identical forecasts) and forecasts months :math:`o, \\dots, o + 11`
(horizons 1-12) plus their quarterly sums (``Q1``-``Q4``). The national series is the sum of the
provinces, sample by sample.

Two ensembles are built at each origin from the member models' samples:

* ``ens_equal``: equal-weight mixture;
* ``ens_crps``: weights minimising the mean CRPS of the mixture over all (origin', series,
  month) forecasts scored **before** :math:`o` (origin' < o and target month < o); equal weights
  until such scores exist. :func:`forecast.scoring.crps_mixture_weights` solves it exactly.

A third series of forecasts, ``published``, is the output of the **selection rule**, itself
backtested and fixed before scoring (:func:`select_published`). At each origin :math:`o`, per
measure, from the quarter sums of the provinces whose quarter ended before :math:`o` only:

1. the *stack*: CRPS-optimal mixture weights :math:`w` over the candidates (the ensemble members:
   every baseline except the point masses, and every model, the frequency-severity deaths model
   included), fitted on the quarter sums of all provinces pooled, each province's terms divided by
   its default baseline's mean past CRPS so that every province counts alike;
2. the published mixture :math:`v = (1 - \\lambda) e_{d} + \\lambda w`, :math:`e_d` the default
   baseline (``default_baseline``, ``negbin_12``), :math:`\\lambda` on the grid 0, 0.05, ..., 1
   minimising the same pooled, scaled mean CRPS of the stacks *as they were published* at past
   origins (each with the weights fitted before its own origin), so the stack earns its share out
   of sample. :math:`\\lambda = 0` (the default baseline is published) with fewer than
   ``selection_min_history`` origins scored, and unless the mixture's past CRPS is below
   :math:`(1 - m)` times the default baseline's (:math:`m` = ``selection_margin``, 0 by default).

One mixture per measure for all provinces, so the national series (the sum of the published
provinces, sample by sample) is coherent. The record starts ``warmup_origins`` (12) quarterly
origins before the first scored one: the burn-in, 2007-2009 in the shipped backtest. No model
reaches the published forecast except through its stack weight and the stack's past record
against the default baseline.

Scores per (model, measure, origin, series, horizon): CRPS, log score, absolute error of the
median, randomised PIT and the coverage of the central 50/80/90% by it (:mod:`forecast.scoring`).

The panel is converted once, at this boundary, into a :class:`forecast.forecasters.CountPanel`
that every task cuts at its origin. Backtests use the final data version (the panel as shipped
or given), not what was known at each origin: later revisions of a month's counts are in the
training data of earlier origins.

Work is split into independent (model, measure, origin) tasks run through
:func:`forecast.parallel.run_tasks`; each task's seed is derived from
``(random_seed, model, measure, origin)`` and each series' from that and its name.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pakcast.forecast import scoring
from pakcast.forecast.forecasters import (
    BASELINE_NAMES,
    NATIONAL,
    CountPanel,
    ModelUnavailable,
    as_count_panel,
    derive_seed,
    make_forecaster,
    mix_samples,
)
from pakcast.forecast.parallel import run_tasks
from pakcast.forecast.jobs import DEFAULT_SEED
from pakcast.forecast.recalibrate import AdaptiveTailScales, scale_paths

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "default_origins",
    "annual_events",
    "fit_predict_task",
    "run_backtest",
    "summarise",
    "scorecard",
    "select_published",
    "QuarterRecord",
    "PUBLISHED",
    "STACK",
    "DATA_VERSION_NOTE",
    "POINT_MASS_BASELINES",
    "ENSEMBLES",
]

POINT_MASS_BASELINES = ("zero", "last_value", "seasonal_naive")
ENSEMBLES = ("ens_equal", "ens_crps")
MEASURES = ("attacks", "killed")
PUBLISHED = "published"
DATA_VERSION_NOTE = ("Backtests use the final data version (the panel as shipped or given), not what was known at each "
                     "origin: revisions of past counts made after an origin are in its training data.")


@dataclass
class BacktestConfig:
    """What to backtest.

    ``origins``: explicit origin months (month starts); ``None`` = quarterly from ``start`` to the
    last month of data. ``forecast_origin``: an extra origin (after the data) that is forecast
    with the same models and weights but not scored (the quarterly run's forecast).
    ``ensemble_members``: models mixed by the ensembles (default: every model except the
    point-mass baselines zero, last value and seasonal naive). ``weight_samples``: the CRPS
    weights are fitted on the first ``weight_samples`` paths of each member (the weights pool
    thousands of past forecasts, so the Monte Carlo error of 250 paths is negligible next to the
    cost of all pairs of 1000; the stack of the selection rule likewise). ``selection_margin``,
    ``selection_min_history``, ``default_baseline``, ``crps_floor`` (the smallest per-province CRPS
    scale): the selection rule (:func:`select_published`). ``recalibrate``: move the published quarter
    sums by tail scales learnt online from the misses of past published quarter sums
    (:class:`~pakcast.forecast.recalibrate.AdaptiveTailScales`, log-scale step ``recal_step``,
    scales clipped to ``recal_bounds``), from the first scored origin on (the warm-up origins are
    left out: their 2007-2009 surge set the upper scales near 2 and kept them there); off by default: on the shipped backtest it brings
    more quarter-sum coverages into 85-95% at a cost in CRPS (``benchmarks.figures backtest_recal``).
    ``warmup_origins`` (12, the rule's burn-in):
    quarterly origins before the first scored one whose forecasts are scored only to build the
    record the ensemble weights and the selection rule learn from (as a forecaster at the first
    origin could have backtested the years before it); they are not in the returned scores.
    Origins with fewer than 24 months of data before them are not used as warm-up.
    """

    models: tuple[str, ...] = BASELINE_NAMES + ("nb_glm",)
    measures: tuple[str, ...] = MEASURES
    origins: list[pd.Timestamp] | None = None
    start: str = "2010-01-01"
    horizon: int = 12
    n_samples: int = 500
    random_seed: int = DEFAULT_SEED
    ensembles: tuple[str, ...] = ENSEMBLES
    ensemble_members: tuple[str, ...] | None = None
    forecast_origin: pd.Timestamp | None = None
    forecast_horizon: int | None = None
    scheduler: str | None = "serial"
    n_workers: int | None = None
    selection_margin: float = 0.0
    selection_min_history: int = 4
    default_baseline: str = "negbin_12"
    weight_samples: int = 250
    warmup_origins: int = 12
    crps_floor: float = 0.05
    recalibrate: bool = False
    recal_step: float = 0.05
    recal_bounds: tuple[float, float] = (0.5, 3.0)

    def baselines(self) -> list[str]:
        return [m for m in self.models if m in BASELINE_NAMES]

    def fallback_baseline(self) -> str | None:
        """The baseline published before any scores exist."""
        if self.default_baseline in self.models:
            return self.default_baseline
        cand = [b for b in self.baselines() if b not in POINT_MASS_BASELINES] or self.baselines()
        return cand[0] if cand else None

    def members(self) -> list[str]:
        if self.ensemble_members is not None:
            return [m for m in self.ensemble_members if m in self.models]
        return [m for m in self.models if m not in POINT_MASS_BASELINES]


@dataclass
class BacktestResult:
    """Scores (long table), ensemble weights by origin, task timings and model failures."""

    scores: pd.DataFrame
    weights: pd.DataFrame
    timings: pd.DataFrame
    unavailable: dict[str, str]
    fallbacks: pd.DataFrame
    config: BacktestConfig
    forecast_samples: dict[str, Any] = field(default_factory=dict)
    selection: pd.DataFrame = field(default_factory=pd.DataFrame)


def default_origins(last_month: pd.Timestamp, start: str = "2010-01-01") -> list[pd.Timestamp]:
    """Quarter starts from ``start`` up to ``last_month`` (so at least one month is observed)."""
    start = pd.Timestamp(start)
    q0 = pd.Timestamp(year=start.year, month=3 * ((start.month - 1) // 3) + 1, day=1)
    if q0 < start:
        q0 = q0 + pd.offsets.QuarterBegin(1, startingMonth=1)
    return list(pd.date_range(q0, pd.Timestamp(last_month), freq="QS-JAN"))


def fit_predict_task(panel, model: str, measure: str, origin: pd.Timestamp,
                     h: int, n_samples: int, random_seed: int, covariates=None) -> dict:
    """Fit ``model`` on ``panel`` (a :class:`CountPanel`, or a long panel converted here) cut
    before ``origin`` and forecast ``h`` months.

    Returns ``{"samples": int32 (series, h, n), "ids": [...], "fallbacks": {...}, "seconds": ...,
    "error": None | str}``. A model that cannot run (missing module) returns its error instead.

    BLAS runs single-threaded inside a task (``threadpoolctl``), as on Dask workers: with more
    threads the floating-point summation order changes, and an ill-conditioned fit (INGARCH on
    Sindh, 2016) then gives different samples in the serial and the distributed run.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _fit_predict(panel, model, measure, origin, h, n_samples, random_seed, covariates)


def _fit_predict(panel, model, measure, origin, h, n_samples, random_seed, covariates):
    t0 = time.perf_counter()
    origin = pd.Timestamp(origin)
    cp = as_count_panel(panel, *([measure, "attacks"] if not isinstance(panel, CountPanel) and "attacks" in panel
                                 and measure != "attacks" else [measure]))
    train = cp.before(origin)
    cov = None if covariates is None else covariates.loc[pd.to_datetime(covariates["ds"]) < origin]
    seed = int(derive_seed(random_seed, model, measure, origin.strftime("%Y-%m")).generate_state(1)[0])
    try:
        fc = make_forecaster(model, measure)
        if hasattr(fc, "random_seed"):  # models that sample in fit (Bayesian) take the task's seed
            fc.random_seed = seed
        fc = fc.fit(train, measure, covariates=cov)
        da = fc.predict(h, n_samples, random_seed=seed)
    except ModelUnavailable as exc:
        return {"samples": None, "ids": None, "fallbacks": {}, "seconds": time.perf_counter() - t0,
                "error": str(exc)}
    if pd.Timestamp(da["ds"].values[0]) != origin:
        raise AssertionError(f"{model}: first forecast month {da['ds'].values[0]} != origin {origin.date()}")
    return {"samples": da.values.astype(np.int32), "ids": list(da["unique_id"].values),
            "fallbacks": dict(getattr(fc, "fallbacks_", {})), "seconds": time.perf_counter() - t0,
            "error": None, "diagnostics": getattr(fc, "diagnostics_", None)}


def _horizon_blocks(h: int, origin: pd.Timestamp) -> list[tuple[str, str, list[int]]]:
    """(label, type, month offsets) for monthly horizons 1..h and whole quarters inside them."""
    blocks = [(str(k + 1), "month", [k]) for k in range(h)]
    months = pd.date_range(origin, periods=h, freq="MS")
    qs = months.to_period("Q")
    qi = 0
    for q in pd.unique(qs):
        idx = [i for i, x in enumerate(qs) if x == q]
        if len(idx) == 3:
            qi += 1
            blocks.append((f"Q{qi}", "quarter", idx))
    return blocks


def _score_arrays(obs, samples, random_seed, key) -> dict[str, np.ndarray]:
    """All scores for ``obs`` (...) and ``samples`` (..., n) in one vectorised pass."""
    n = samples.shape[-1]
    srt = np.sort(samples, axis=-1)
    pit = scoring.randomized_pit(obs, samples, random_seed=derive_seed(random_seed, "pit", *key))
    cov = scoring.pit_coverage(pit)
    median = srt[..., int(np.ceil(0.5 * n)) - 1]
    return {
        "y": obs.astype(np.int64), "mean": samples.mean(axis=-1), "median": median,
        "crps": scoring.crps(obs, srt), "log_score": scoring.log_score(obs, samples),
        "abs_error": np.abs(median - obs),
        "cov50": cov[50], "cov80": cov[80], "cov90": cov[90], "pit": pit,
    }


STACK = "stack"
LAMBDA_GRID = np.round(np.arange(0.0, 1.0001, 0.05), 2)


@dataclass
class QuarterRecord:
    """The quarter sums scored at one origin, what the selection rule learns from: ``a`` (P, q, K)
    = E|X_k - y| and ``B`` (P, q, K, K) = E|X_k - X_l| of the stack candidates' quarter sums
    (provinces only), ``ends`` (q,) the quarters' last months, ``w`` (K,) the stack weights that
    were used at that origin (so the stack's record is out of sample)."""

    origin: pd.Timestamp
    ends: np.ndarray
    a: np.ndarray
    B: np.ndarray
    w: np.ndarray


def _past_terms(records: list[QuarterRecord], origin: pd.Timestamp):
    """The quarter points observed before ``origin``: per record (a, B, w) restricted to them."""
    out = []
    for r in records:
        m = r.ends < np.datetime64(origin)
        if m.any():
            out.append((r.a[:, m], r.B[:, m], r.w))
    return out


def _province_scale(past, d: int, floor: float) -> np.ndarray:
    """Per province the mean past quarter-sum CRPS of the default baseline (``d``), floored: dividing
    by it lets every province count alike in the pooled objectives (Khyber Pakhtunkhwa's counts are
    a hundred times Punjab's)."""
    num = sum((a[..., d] - 0.5 * B[..., d, d]).sum(axis=1) for a, B, _ in past)
    n = sum(a.shape[1] for a, _, _ in past)
    return np.maximum(num / max(n, 1), floor)


def select_published(records: list[QuarterRecord], origin: pd.Timestamp, candidates: list[str],
                     config: BacktestConfig) -> tuple[np.ndarray, np.ndarray, dict]:
    """The selection rule at ``origin``, from quarter sums observed before it only.

    1. Stack weights ``w``: the CRPS-optimal mixture of ``candidates`` (baselines and models) on all
       past quarter sums of all provinces, each province's terms divided by its default baseline's
       mean past CRPS (:func:`forecast.scoring.crps_mixture_weights`).
    2. Shrinkage ``lam`` on the grid 0, 0.05, ..., 1: the published mixture is ``(1 - lam)`` x the
       default baseline + ``lam`` x the stack; ``lam`` minimises the same pooled, scaled mean CRPS of
       the stacks *as they were published* at past origins (their own weights, fitted before them),
       so the stack must earn its share out of sample. ``lam = 0`` (the default baseline) with fewer
       than ``selection_min_history`` past origins scored, and unless the chosen mixture's past CRPS
       is below ``(1 - selection_margin)`` x the default baseline's.

    Returns ``(v, w, info)``: ``v`` the published weights over ``candidates``, ``w`` the stack
    weights, ``info`` (``lam``, ``n_origins``, ``past_crps_ratio``, ``default``).
    """
    K = len(candidates)
    d = candidates.index(config.fallback_baseline()) if config.fallback_baseline() in candidates else 0
    past = _past_terms(records, origin)
    e = np.zeros(K)
    e[d] = 1.0
    info: dict[str, Any] = {"lam": 0.0, "n_origins": len(past), "past_crps_ratio": np.nan,
                            "default": candidates[d]}
    if not past:
        return e, np.full(K, 1.0 / K), info
    scale = _province_scale(past, d, config.crps_floor)[:, None, None]
    a = np.concatenate([(x / scale).reshape(-1, K) for x, _, _ in past])
    B = np.concatenate([(y / scale[..., None]).reshape(-1, K, K) for _, y, _ in past])
    w = scoring.crps_mixture_weights(a, B)
    if len(past) < config.selection_min_history:
        return e, w, info
    obj = np.zeros(len(LAMBDA_GRID))
    n = 0
    for x, y, wr in past:
        x, y = x / scale, y / scale[..., None]
        for g, lam in enumerate(LAMBDA_GRID):
            v = (1 - lam) * e + lam * wr
            obj[g] += float((x @ v - 0.5 * np.einsum("...kl,k,l->...", y, v, v)).sum())
        n += x.shape[0] * x.shape[1]
    obj /= n
    g = int(np.argmin(obj))
    ratio = obj[g] / obj[0] if obj[0] > 0 else 1.0
    info["past_crps_ratio"] = float(ratio)
    if g > 0 and ratio < 1 - config.selection_margin:
        info["lam"] = float(LAMBDA_GRID[g])
        return (1 - LAMBDA_GRID[g]) * e + LAMBDA_GRID[g] * w, w, info
    return e, w, info


def _selection_rows(ids, v, candidates, info, config) -> list[dict]:
    lam = info["lam"]
    chosen = STACK if lam > 0 else info["default"]
    if info["n_origins"] < config.selection_min_history:
        reason = f"fewer than {config.selection_min_history} origins scored: default baseline {info['default']}"
    elif lam > 0:
        reason = (f"{1 - lam:.2f} x {info['default']} + {lam:.2f} x stack: past quarter-sum CRPS "
                  f"{info['past_crps_ratio']:.3f} x the default baseline's")
    else:
        reason = f"the stack did not beat {info['default']} on past quarter sums: the baseline is published"
    weights = {m: round(float(x), 4) for m, x in zip(candidates, v) if round(float(x), 4) > 0}
    return [{"unique_id": uid, "chosen": chosen, "lambda": lam, "weights": weights, "reason": reason,
             "n_scored_origins": int(info["n_origins"]), "default_baseline": info["default"],
             "past_crps_ratio": info["past_crps_ratio"]} for uid in ids]


def _task_key(t: dict) -> tuple:
    return (t["model"], t["measure"], pd.Timestamp(t["origin"]), int(t["h"]), int(t["n_samples"]),
            int(t["random_seed"]))


def _run_fit_tasks(tasks, cp, config, covariates, progress, fit_cache):
    """The fit tasks' results; with ``fit_cache`` (a dict keyed by model, measure, origin, horizon,
    samples and seed, for the same panel and covariates) cached results are reused and new ones
    added, so the scoring, ensembles, selection and recalibration can be re-run without refitting."""
    if fit_cache is None:
        return run_tasks(fit_predict_task, tasks, scheduler=config.scheduler, n_workers=config.n_workers,
                         shared={"panel": cp, "covariates": covariates}, progress=progress)
    todo = [t for t in tasks if _task_key(t) not in fit_cache]
    if todo:
        new = run_tasks(fit_predict_task, todo, scheduler=config.scheduler, n_workers=config.n_workers,
                        shared={"panel": cp, "covariates": covariates}, progress=progress)
        fit_cache.update({_task_key(t): r for t, r in zip(todo, new)})
    return [fit_cache[_task_key(t)] for t in tasks]


def run_backtest(panel: pd.DataFrame, config: BacktestConfig, covariates=None, progress=None,
                 fit_cache: dict | None = None) -> BacktestResult:
    """Run the rolling-origin backtest.

    ``panel``: long monthly panel of **provinces** (``unique_id``, ``ds``, and the measure
    columns; no national row: the national series is derived as the sum). It is converted once
    into a :class:`CountPanel` that every task receives. ``progress(done, total)`` is called as
    fit tasks finish.
    """
    panel = panel.copy()
    panel["ds"] = pd.to_datetime(panel["ds"])
    if NATIONAL in set(panel["unique_id"]):
        raise ValueError(f"pass provinces only: the national series {NATIONAL!r} is derived as their sum")
    for m in config.measures:
        if m not in panel.columns:
            raise ValueError(f"panel lacks measure column {m!r}")
    need = list(dict.fromkeys(list(config.measures) + (["attacks"] if "attacks" in panel.columns else [])))
    cp = CountPanel.from_long(panel, need)
    last = cp.months[-1]
    origins = [pd.Timestamp(o) for o in (config.origins or default_origins(last, config.start))]
    if any(o > last for o in origins):
        raise ValueError(f"backtest origins after the last month of data ({last.date()}): "
                         f"{[str(o.date()) for o in origins if o > last]}")
    origins = sorted(origins)
    warm = []
    if int(config.warmup_origins) > 0:
        earliest = cp.months[0] + pd.DateOffset(months=24)
        q0 = origins[0]
        warm = [q0 - pd.DateOffset(months=3 * k) for k in range(int(config.warmup_origins), 0, -1)]
        warm = [pd.Timestamp(w) for w in warm if w >= earliest]
    scored = set(origins)
    origins = warm + origins
    h = int(config.horizon)
    all_origins = list(origins)
    fo = pd.Timestamp(config.forecast_origin) if config.forecast_origin is not None else None
    fh = int(config.forecast_horizon or h)
    if fo is not None:
        all_origins.append(fo)

    tasks = [
        {"model": m, "measure": meas, "origin": o,
         "h": (fh if (fo is not None and o == fo) else h), "n_samples": int(config.n_samples),
         "random_seed": int(config.random_seed)}
        for meas in config.measures for m in config.models for o in all_origins
    ]
    results = _run_fit_tasks(tasks, cp, config, covariates, progress, fit_cache)

    unavailable: dict[str, str] = {}
    samples: dict[tuple[str, str, pd.Timestamp], np.ndarray] = {}
    ids = None
    timing_rows, fb_rows = [], []
    for t, r in zip(tasks, results):
        timing_rows.append({"model": t["model"], "measure": t["measure"], "origin": t["origin"],
                            "seconds": r["seconds"]})
        if r["error"] is not None:
            unavailable[t["model"]] = r["error"]
            continue
        for uid, why in r["fallbacks"].items():
            fb_rows.append({"model": t["model"], "measure": t["measure"], "origin": t["origin"],
                            "unique_id": uid, "reason": why})
        ids = r["ids"] if ids is None else ids
        if r["ids"] != ids:
            raise AssertionError(f"{t['model']}: series order differs between tasks")
        s = r["samples"]
        nat = s.sum(axis=0, keepdims=True, dtype=np.int64).astype(np.int32)
        samples[(t["model"], t["measure"], t["origin"])] = np.concatenate([s, nat], axis=0)
    if ids is None:
        raise RuntimeError(f"no model could run: {unavailable}")
    series = list(ids) + [NATIONAL]
    models_ok = [m for m in config.models if m not in unavailable]
    members = [m for m in config.members() if m not in unavailable]
    month_pos = {d: i for i, d in enumerate(cp.months)}

    score_frames, weight_rows, selection_rows = [], [], []
    forecast_samples: dict[str, Any] = {}
    for meas in config.measures:
        V = cp.get(meas).astype(float)
        obs_full = np.vstack([V, V.sum(axis=0, keepdims=True)])
        past_a, past_B, past_target = [], [], []  # per member-scored point (provinces only)
        records: list[QuarterRecord] = []  # quarter-sum energy terms of the stack candidates, for the rule
        # the recalibration's state
        tails = AdaptiveTailScales(n_series=len(ids), step=config.recal_step, bounds=config.recal_bounds)
        w_stack = np.full(len(members), 1.0 / max(len(members), 1))
        for o in all_origins:
            is_fc = fo is not None and o == fo
            hh = fh if is_fc else h
            member_arr = {m: samples[(m, meas, o)] for m in models_ok}
            # ensembles from past-only scores
            if members and config.ensembles:
                K = len(members)
                w_eq = np.full(K, 1.0 / K)
                if past_a:
                    tgt = np.concatenate(past_target)
                    use = tgt < o
                    a = np.concatenate(past_a)[use]
                    B = np.concatenate(past_B)[use]
                    w_crps = scoring.crps_mixture_weights(a, B) if len(a) else w_eq
                else:
                    w_crps = w_eq
                stack = np.stack([member_arr[m] for m in members])
                for ens, w in (("ens_equal", w_eq), ("ens_crps", w_crps)):
                    if ens not in config.ensembles:
                        continue
                    member_arr[ens] = mix_samples(stack, w)
                    weight_rows += [{"measure": meas, "origin": o, "ensemble": ens, "model": m, "weight": float(wk)}
                                    for m, wk in zip(members, w)]
            # the selection rule, from past quarter scores only
            if members:
                v, w_stack, info = select_published(records, o, members, config)
                raw_pub = mix_samples(np.stack([member_arr[m] for m in members]), v)
                sel = _selection_rows(list(ids), v, members, info, config)
                pub = raw_pub
                if config.recalibrate:
                    s_lo, s_hi, npts = tails.scales(o)
                    qb = [ks for _, t, ks in _horizon_blocks(hh, o) if t == "quarter"]
                    prov = scale_paths(raw_pub[:-1], qb, s_lo, s_hi)
                    pub = np.concatenate([prov, prov.sum(axis=0, keepdims=True, dtype=np.int64)
                                          .astype(prov.dtype)], axis=0)
                    for k, r in enumerate(sel):
                        r.update(scale_lo=float(s_lo[k]), scale_hi=float(s_hi[k]), recal_points=int(npts[k]))
                member_arr[PUBLISHED] = pub
                weight_rows += [{"measure": meas, "origin": o, "ensemble": PUBLISHED, "model": m, "weight": float(x)}
                                for m, x in zip(members, v)]
            else:
                sel = []
            selection_rows += [{"measure": meas, "origin": o, "forecast_origin": bool(is_fc), "warmup": o not in scored
                                and not is_fc, **r} for r in sel]
            if is_fc:
                forecast_samples[meas] = {"origin": o, "h": hh, "series": series, "samples": member_arr,
                                          "selection": {r["unique_id"]: r["chosen"] for r in sel},
                                          "selection_rows": sel}
                continue
            months = pd.date_range(o, periods=hh, freq="MS")
            avail = [k for k, d in enumerate(months) if d in month_pos]
            if not avail:
                continue
            cols = [month_pos[months[k]] for k in avail]
            obs = obs_full[:, cols]  # (S, A)
            # energy terms for future weight fitting (provinces only, monthly horizons)
            if members and "ens_crps" in config.ensembles:
                nw = int(config.weight_samples)
                stack = np.stack([member_arr[m][:-1][:, avail, :nw] for m in members])  # K, P, A, n
                a, B = scoring.energy_terms(obs[:-1], stack)
                past_a.append(a.reshape(-1, len(members)))
                past_B.append(B.reshape(-1, len(members), len(members)))
                past_target.append(np.tile(months[avail].to_numpy(), len(ids)))
            blocks = [b for b in _horizon_blocks(hh, o) if all(k in avail for k in b[2])]
            names = list(member_arr)
            ob = np.stack([obs_full[:, [month_pos[months[k]] for k in ks]].sum(axis=1) for _, _, ks in blocks], axis=1)
            S, NB = ob.shape
            targets = [str(months[ks[0]].date()) if ht == "month" else str(months[ks[0]].to_period("Q"))
                       for _, ht, ks in blocks]
            ends = np.array([months[ks[-1]] for _, _, ks in blocks], dtype="datetime64[ns]")
            for nm in names:
                # (S, nblocks, n) samples of this model's paths summed over each block's months
                smp = np.stack([member_arr[nm][:, ks, :].sum(axis=1, dtype=np.int64) for _, _, ks in blocks], axis=1)
                sc = _score_arrays(ob, smp, config.random_seed, (meas, o.strftime("%Y-%m"), nm))
                frame = pd.DataFrame({
                    "model": nm, "measure": meas, "origin": o,
                    "unique_id": np.repeat(series, NB),
                    "horizon": np.tile([b[0] for b in blocks], S),
                    "horizon_type": np.tile([b[1] for b in blocks], S),
                    "target": np.tile(targets, S),
                })
                for k, v in sc.items():
                    frame[k] = np.asarray(v).reshape(-1)
                if o in scored:
                    score_frames.append(frame)
            isq = [j for j, b in enumerate(blocks) if b[1] == "quarter"]
            if isq and members:
                nw = int(config.weight_samples)
                qs = np.stack([np.stack([member_arr[m][:-1][:, blocks[j][2], :nw].sum(axis=1) for j in isq], axis=1)
                               for m in members])  # K, P, q, nw
                a, B = scoring.energy_terms(ob[:-1][:, isq], qs)
                records.append(QuarterRecord(origin=o, ends=ends[isq], a=a, B=B, w=w_stack))
                if config.recalibrate and o in scored:  # the warm-up origins are the selection rule's burn-in only
                    pub_q = np.stack([pub[:-1][:, blocks[j][2], :].sum(axis=1) for j in isq], axis=1)
                    tails.record(ends[isq], ob[:-1][:, isq], pub_q,
                                 derive_seed(config.random_seed, "tails", meas, o.strftime("%Y-%m")))
    scores = pd.concat(score_frames, ignore_index=True) if score_frames else pd.DataFrame()
    return BacktestResult(
        scores=scores,
        weights=pd.DataFrame(weight_rows),
        timings=pd.DataFrame(timing_rows),
        unavailable=unavailable,
        fallbacks=pd.DataFrame(fb_rows, columns=["model", "measure", "origin", "unique_id", "reason"]),
        config=config,
        forecast_samples=forecast_samples,
        selection=pd.DataFrame(selection_rows),
    )


def annual_events(provinces: pd.DataFrame, start) -> dict[str, float]:
    """Attacks a year per province from ``start`` on (the backtest period), and for the national
    series (:data:`NATIONAL`, the sum of the provinces): what decides which series the goals cover
    (``in_goal_scope``: 10 or more a year)."""
    frame = provinces.loc[pd.to_datetime(provinces["ds"]) >= pd.Timestamp(start)]
    years = max(frame["ds"].nunique() / 12.0, 1.0)
    out = (frame.groupby("unique_id")["attacks"].sum() / years).astype(float).to_dict()
    out[NATIONAL] = float(frame["attacks"].sum() / years)
    return out


def summarise(scores: pd.DataFrame, annual_events: dict[str, float] | None = None) -> dict:
    """Per model x measure x series summaries of the monthly horizons, skill against the best
    baseline, per-horizon means, PIT histograms, Diebold-Mariano of the best model vs the best
    baseline, and the goal check (best model beats best baseline; 90% coverage in 85-95%)."""
    if scores.empty:
        return {"per_series": [], "per_horizon": [], "pit": [], "dm": [], "goal": []}
    mon = scores[scores["horizon_type"] == "month"]
    agg = (mon.groupby(["measure", "unique_id", "model"])
           .agg(crps=("crps", "mean"), log_score=("log_score", "mean"), mae=("abs_error", "mean"),
                coverage_50=("cov50", "mean"), coverage_80=("cov80", "mean"), coverage_90=("cov90", "mean"),
                n=("crps", "size"))
           .reset_index())
    base = agg[agg["model"].isin(BASELINE_NAMES)]
    best_base = base.loc[base.groupby(["measure", "unique_id"])["crps"].idxmin(), ["measure", "unique_id", "model", "crps"]]
    best_base = best_base.rename(columns={"model": "best_baseline", "crps": "best_baseline_crps"})
    agg = agg.merge(best_base, on=["measure", "unique_id"], how="left")
    agg["skill_vs_best_baseline"] = np.where(agg["best_baseline_crps"] > 0,
                                             1 - agg["crps"] / agg["best_baseline_crps"], 0.0)
    for b in BASELINE_NAMES:
        ref = agg[agg["model"] == b][["measure", "unique_id", "crps"]].rename(columns={"crps": f"_ref_{b}"})
        if ref.empty:
            continue
        agg = agg.merge(ref, on=["measure", "unique_id"], how="left")
        agg[f"skill_vs_{b}"] = np.where(agg[f"_ref_{b}"] > 0, 1 - agg["crps"] / agg[f"_ref_{b}"], 0.0)
        agg = agg.drop(columns=[f"_ref_{b}"])

    per_h = (scores.groupby(["measure", "model", "horizon_type", "horizon"])
             .agg(crps=("crps", "mean"), log_score=("log_score", "mean"), coverage_90=("cov90", "mean"),
                  n=("crps", "size")).reset_index())

    pit = []
    for (meas, model), g in mon[mon["unique_id"] != NATIONAL].groupby(["measure", "model"]):
        pit.append({"measure": meas, "model": model, **scoring.pit_histogram(g["pit"].to_numpy())})

    dm, goal = [], []
    for (meas, uid), g in agg.groupby(["measure", "unique_id"]):
        cand = g[~g["model"].isin(BASELINE_NAMES)]
        if cand.empty:
            continue
        best = cand.loc[cand["crps"].idxmin()]
        bb = best["best_baseline"]
        sub = mon[(mon["measure"] == meas) & (mon["unique_id"] == uid)]
        la = sub[sub["model"] == best["model"]].groupby("origin")["crps"].mean()
        lb = sub[sub["model"] == bb].groupby("origin")["crps"].mean()
        la, lb = la.align(lb, join="inner")
        rec = {"measure": meas, "unique_id": uid, "best_model": best["model"], "best_baseline": bb}
        try:
            rec.update(scoring.diebold_mariano(la.to_numpy(), lb.to_numpy(), h=4).to_dict())
        except ValueError as exc:
            rec["error"] = str(exc)
        dm.append(rec)
        ev = None if annual_events is None else annual_events.get(uid)
        goal.append({
            "measure": meas, "unique_id": uid, "events_per_year": ev,
            "in_goal_scope": bool(ev is not None and ev >= 10),
            "best_model": best["model"], "best_model_crps": float(best["crps"]),
            "best_baseline": bb, "best_baseline_crps": float(best["best_baseline_crps"]),
            "beats_best_baseline": bool(best["crps"] < best["best_baseline_crps"]),
            "coverage_90": float(best["coverage_90"]),
            "coverage_90_in_85_95": bool(0.85 <= best["coverage_90"] <= 0.95),
        })
    return {"per_series": agg, "per_horizon": per_h, "pit": pit, "dm": dm, "goal": goal}


def scorecard(scores: pd.DataFrame, annual_events: dict[str, float] | None = None, random_seed: int = 0,
              block: int = 4, n_boot: int = 1000, level: float = 0.9) -> dict:
    """The backtest scorecard: one row per model, series, measure and resolution (month | quarter).

    Row keys (the ``pakcast backtest --json`` contract): ``model, province, measure, resolution,
    crps, coverage_90`` (randomised PIT), ``pit_ks_p, skill_vs_best_baseline, skill_ci_low,
    skill_ci_high, published`` (true for the selection rule's output), and ``log_score,
    coverage_50, coverage_80, n, n_origins, best_baseline, best_baseline_crps, dm_pvalue``. Skill
    is against the baseline with the lowest mean CRPS in that series, measure and resolution, with
    a moving-block bootstrap interval over origins (:func:`forecast.scoring.skill_interval`, blocks
    of ``block`` origins, ``level`` two-sided) on the per-origin mean CRPS.

    Every row also has ``coverage_90_ci_low, coverage_90_ci_high`` (the same bootstrap over origins
    for the coverage, :func:`forecast.scoring.coverage_interval`) and ``coverage_90_n_eff`` (the
    number of independent outcomes with that sampling variance).

    Also returns ``goal_check`` (series with >= 10 attacks a year: the published forecast's CRPS no
    worse than the best baseline's at both resolutions; quarter-sum 90% coverage in 85-95%, with
    whether 90% lies inside the coverage's interval and the probability that a calibrated forecaster
    lands in 85-95% over ``n_eff`` outcomes, :func:`forecast.scoring.band_probability`) and
    ``calibration`` (PIT histograms of the published forecast and ``ens_crps`` per series, measure
    and horizon).
    """
    if scores.empty:
        return {"rows": [], "goal_check": [], "calibration": []}
    sc = scores.assign(resolution=scores["horizon_type"])
    keys = ["measure", "unique_id", "resolution", "model"]
    agg = (sc.groupby(keys).agg(crps=("crps", "mean"), log_score=("log_score", "mean"),
                                coverage_50=("cov50", "mean"), coverage_80=("cov80", "mean"),
                                coverage_90=("cov90", "mean"), n=("crps", "size"),
                                n_origins=("origin", "nunique"))
           .reset_index())
    ks = sc.groupby(keys)["pit"].apply(lambda u: scoring.pit_ks_pvalue(u.to_numpy())).rename("pit_ks_p")
    agg = agg.merge(ks.reset_index(), on=keys)
    per_origin = sc.groupby(keys + ["origin"]).agg(crps=("crps", "mean"), hits=("cov90", "sum"), n=("cov90", "size"))
    base = agg[agg["model"].isin(BASELINE_NAMES)]
    bb = base.loc[base.groupby(keys[:3])["crps"].idxmin(), keys[:3] + ["model", "crps"]]
    bb = bb.rename(columns={"model": "best_baseline", "crps": "best_baseline_crps"})
    agg = agg.merge(bb, on=keys[:3], how="left")
    rows = []
    for r in agg.itertuples(index=False):
        rec = r._asdict()
        po = per_origin.loc[(r.measure, r.unique_id, r.resolution, r.model)]
        la = po["crps"]
        lb = per_origin.loc[(r.measure, r.unique_id, r.resolution, r.best_baseline), "crps"]
        la, lb = la.align(lb, join="inner")
        seed = derive_seed(random_seed, "skill", r.measure, r.unique_id, r.resolution, r.model)
        si = scoring.skill_interval(la.to_numpy(), lb.to_numpy(), block=block, n_boot=n_boot, level=level,
                                    random_seed=seed)
        ci = scoring.coverage_interval(po["hits"].to_numpy(), po["n"].to_numpy(), block=block, n_boot=n_boot,
                                       level=level, random_seed=derive_seed(random_seed, "coverage", r.measure,
                                                                            r.unique_id, r.resolution, r.model))
        dm = np.nan
        if r.model != r.best_baseline and len(la) >= 3:
            try:
                dm = scoring.diebold_mariano(la.to_numpy(), lb.to_numpy(), h=block).pvalue
            except ValueError:
                dm = np.nan
        rows.append({"model": r.model, "province": r.unique_id, "measure": r.measure, "resolution": r.resolution,
                     "crps": rec["crps"], "coverage_90": rec["coverage_90"], "pit_ks_p": rec["pit_ks_p"],
                     "skill_vs_best_baseline": si.skill, "skill_ci_low": si.ci_low, "skill_ci_high": si.ci_high,
                     "published": r.model == PUBLISHED,
                     "log_score": rec["log_score"], "coverage_50": rec["coverage_50"],
                     "coverage_80": rec["coverage_80"], "n": int(rec["n"]), "n_origins": int(rec["n_origins"]),
                     "best_baseline": r.best_baseline, "best_baseline_crps": rec["best_baseline_crps"],
                     "dm_pvalue": float(dm), "coverage_90_ci_low": ci.ci_low, "coverage_90_ci_high": ci.ci_high,
                     "coverage_90_n_eff": ci.n_eff})
    goal = []
    pub = {(x["measure"], x["province"], x["resolution"]): x for x in rows if x["published"]}
    for (meas, uid) in sorted({(m, u) for m, u, _ in pub}):
        ev = None if annual_events is None else annual_events.get(uid)
        rec = {"measure": meas, "province": uid, "events_per_year": ev,
               "in_goal_scope": bool(ev is not None and ev >= 10)}
        for res in ("month", "quarter"):
            x = pub.get((meas, uid, res))
            if x is None:
                continue
            rec[f"{res}_crps"] = x["crps"]
            rec[f"{res}_best_baseline"] = x["best_baseline"]
            rec[f"{res}_best_baseline_crps"] = x["best_baseline_crps"]
            rec[f"{res}_no_worse_than_best_baseline"] = bool(x["crps"] <= x["best_baseline_crps"] * (1 + 1e-12))
            rec[f"{res}_coverage_90"] = x["coverage_90"]
            rec[f"{res}_coverage_90_ci"] = [x["coverage_90_ci_low"], x["coverage_90_ci_high"]]
            rec[f"{res}_coverage_90_n_eff"] = x["coverage_90_n_eff"]
        cq = rec.get("quarter_coverage_90")
        rec["quarter_coverage_90_in_85_95"] = bool(cq is not None and 0.85 <= cq <= 0.95)
        if cq is not None:
            lo, hi = rec["quarter_coverage_90_ci"]
            # 0.90 inside the bootstrap interval: the record cannot tell this forecast from a calibrated one
            rec["quarter_coverage_90_consistent_with_calibration"] = bool(lo <= 0.9 <= hi)
            rec["quarter_p_in_85_95_if_calibrated"] = scoring.band_probability(rec["quarter_coverage_90_n_eff"])
        goal.append(rec)
    calib = []
    for (meas, uid, model, hz), g in sc[sc["model"].isin([PUBLISHED, "ens_crps"])].groupby(
            ["measure", "unique_id", "model", "horizon"]):
        calib.append({"measure": meas, "province": uid, "model": model, "horizon": hz,
                      "resolution": str(g["resolution"].iloc[0]), **scoring.pit_histogram(g["pit"].to_numpy())})
    return {"rows": rows, "goal_check": goal, "calibration": calib}
