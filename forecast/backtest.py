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

Scores per (model, measure, origin, series, horizon): CRPS, log score, absolute error of the
median, coverage of the 50/80/90% central intervals, randomised PIT (:mod:`forecast.scoring`).

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
    ModelUnavailable,
    derive_seed,
    make_forecaster,
    mix_samples,
)
from pakcast.forecast.parallel import run_tasks

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "default_origins",
    "fit_predict_task",
    "run_backtest",
    "summarise",
    "POINT_MASS_BASELINES",
    "ENSEMBLES",
]

POINT_MASS_BASELINES = ("zero", "last_value", "seasonal_naive")
ENSEMBLES = ("ens_equal", "ens_crps")
MEASURES = ("attacks", "killed")


@dataclass
class BacktestConfig:
    """What to backtest.

    ``origins``: explicit origin months (month starts); ``None`` = quarterly from ``start`` to the
    last month of data. ``forecast_origin``: an extra origin (after the data) that is forecast
    with the same models and weights but not scored (the quarterly run's forecast).
    ``ensemble_members``: models mixed by the ensembles (default: every model except the
    point-mass baselines zero, last value and seasonal naive).
    """

    models: tuple[str, ...] = BASELINE_NAMES + ("nb_glm",)
    measures: tuple[str, ...] = MEASURES
    origins: list[pd.Timestamp] | None = None
    start: str = "2010-01-01"
    horizon: int = 12
    n_samples: int = 500
    random_seed: int = 20260101
    ensembles: tuple[str, ...] = ENSEMBLES
    ensemble_members: tuple[str, ...] | None = None
    forecast_origin: pd.Timestamp | None = None
    forecast_horizon: int | None = None
    scheduler: str | None = "serial"
    n_workers: int | None = None

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


def default_origins(last_month: pd.Timestamp, start: str = "2010-01-01") -> list[pd.Timestamp]:
    """Quarter starts from ``start`` up to ``last_month`` (so at least one month is observed)."""
    start = pd.Timestamp(start)
    q0 = pd.Timestamp(year=start.year, month=3 * ((start.month - 1) // 3) + 1, day=1)
    if q0 < start:
        q0 = q0 + pd.offsets.QuarterBegin(1, startingMonth=1)
    return list(pd.date_range(q0, pd.Timestamp(last_month), freq="QS-JAN"))


def _long(panel: pd.DataFrame, measure: str, before: pd.Timestamp) -> pd.DataFrame:
    """Rows before ``before``: ``unique_id, ds, y`` (= ``measure``) plus ``attacks`` for casualty models."""
    cols = ["unique_id", "ds", measure] + (["attacks"] if measure != "attacks" and "attacks" in panel else [])
    p = panel.loc[panel["ds"] < before, cols]
    return p.rename(columns={measure: "y"})


def fit_predict_task(panel: pd.DataFrame, model: str, measure: str, origin: pd.Timestamp,
                     h: int, n_samples: int, random_seed: int, covariates=None) -> dict:
    """Fit ``model`` on ``panel`` truncated before ``origin`` and forecast ``h`` months.

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
    train = _long(panel, measure, origin)
    cov = None if covariates is None else covariates.loc[pd.to_datetime(covariates["ds"]) < origin]
    seed = int(derive_seed(random_seed, model, measure, origin.strftime("%Y-%m")).generate_state(1)[0])
    try:
        fc = make_forecaster(model, measure)
        if hasattr(fc, "random_seed"):  # models that sample in fit (Bayesian) take the task's seed
            fc.random_seed = seed
        fc = fc.fit(train, cov)
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
    cov = scoring.interval_coverage(obs, samples)
    return {
        "y": obs.astype(np.int64), "mean": samples.mean(axis=-1),
        "median": np.quantile(samples, 0.5, axis=-1, method="inverted_cdf"),
        "crps": scoring.crps(obs, samples), "log_score": scoring.log_score(obs, samples),
        "abs_error": scoring.absolute_error(obs, samples),
        "cov50": cov[50], "cov80": cov[80], "cov90": cov[90],
        "pit": scoring.randomized_pit(obs, samples, random_seed=derive_seed(random_seed, "pit", *key)),
    }


def run_backtest(panel: pd.DataFrame, config: BacktestConfig, covariates=None, progress=None) -> BacktestResult:
    """Run the rolling-origin backtest.

    ``panel``: long monthly panel of **provinces** (``unique_id``, ``ds``, and the measure
    columns; no national row: the national series is derived as the sum). ``progress(done,
    total)`` is called as fit tasks finish.
    """
    panel = panel.copy()
    panel["ds"] = pd.to_datetime(panel["ds"])
    if NATIONAL in set(panel["unique_id"]):
        raise ValueError(f"pass provinces only: the national series {NATIONAL!r} is derived as their sum")
    for m in config.measures:
        if m not in panel.columns:
            raise ValueError(f"panel lacks measure column {m!r}")
    last = panel["ds"].max()
    origins = [pd.Timestamp(o) for o in (config.origins or default_origins(last, config.start))]
    if any(o > last for o in origins):
        raise ValueError(f"backtest origins after the last month of data ({last.date()}): "
                         f"{[str(o.date()) for o in origins if o > last]}")
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
    results = run_tasks(fit_predict_task, tasks, scheduler=config.scheduler, n_workers=config.n_workers,
                        shared={"panel": panel, "covariates": covariates}, progress=progress)

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

    wide = {meas: panel.pivot(index="unique_id", columns="ds", values=meas).loc[list(ids)] for meas in config.measures}
    score_frames, weight_rows = [], []
    forecast_samples: dict[str, Any] = {}
    for meas in config.measures:
        W = wide[meas]
        obs_full = np.vstack([W.to_numpy(dtype=float), W.to_numpy(dtype=float).sum(axis=0, keepdims=True)])
        month_pos = {d: i for i, d in enumerate(W.columns)}
        past_a, past_B, past_target = [], [], []  # per member-scored point (provinces only)
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
            if is_fc:
                forecast_samples[meas] = {"origin": o, "h": hh, "series": series, "samples": member_arr}
                continue
            months = pd.date_range(o, periods=hh, freq="MS")
            avail = [k for k, d in enumerate(months) if d in month_pos]
            if not avail:
                continue
            cols = [month_pos[months[k]] for k in avail]
            obs = obs_full[:, cols]  # (S, A)
            # energy terms for future weight fitting (provinces only, monthly horizons)
            if members and "ens_crps" in config.ensembles:
                stack = np.stack([member_arr[m][:-1][:, avail, :] for m in members])  # K, P, A, n
                a, B = scoring.energy_terms(obs[:-1], stack)
                past_a.append(a.reshape(-1, len(members)))
                past_B.append(B.reshape(-1, len(members), len(members)))
                past_target.append(np.tile(months[avail].to_numpy(), len(ids)))
            blocks = [b for b in _horizon_blocks(hh, o) if all(k in avail for k in b[2])]
            names = list(member_arr)
            # (M, S, nblocks, n) samples and (S, nblocks) outcomes, scored in one pass
            smp = np.stack([np.stack([member_arr[nm][:, ks, :].sum(axis=1, dtype=np.int64) for _, _, ks in blocks],
                                     axis=1) for nm in names])
            ob = np.stack([obs_full[:, [month_pos[months[k]] for k in ks]].sum(axis=1) for _, _, ks in blocks], axis=1)
            sc = _score_arrays(np.broadcast_to(ob, smp.shape[:-1]), smp, config.random_seed,
                               (meas, o.strftime("%Y-%m")))
            M, S, NB = smp.shape[:3]
            targets = [str(months[ks[0]].date()) if ht == "month" else str(months[ks[0]].to_period("Q"))
                       for _, ht, ks in blocks]
            frame = pd.DataFrame({
                "model": np.repeat(names, S * NB), "measure": meas, "origin": o,
                "unique_id": np.tile(np.repeat(series, NB), M),
                "horizon": np.tile([b[0] for b in blocks], M * S),
                "horizon_type": np.tile([b[1] for b in blocks], M * S),
                "target": np.tile(targets, M * S),
            })
            for k, v in sc.items():
                frame[k] = np.asarray(v).reshape(-1)
            score_frames.append(frame)
    scores = pd.concat(score_frames, ignore_index=True) if score_frames else pd.DataFrame()
    return BacktestResult(
        scores=scores,
        weights=pd.DataFrame(weight_rows),
        timings=pd.DataFrame(timing_rows),
        unavailable=unavailable,
        fallbacks=pd.DataFrame(fb_rows, columns=["model", "measure", "origin", "unique_id", "reason"]),
        config=config,
        forecast_samples=forecast_samples,
    )


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
