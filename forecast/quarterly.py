"""The quarterly forecast run (the main job): ``pakcast quarterly`` calls :func:`run`.

By default (``QuarterlyConfig.data_kind == "fused"``) :func:`run` hands over to
:func:`pakcast.forecast.fused_quarterly.run_fused`: the forecast from the fused series of every
source, current to the newest published figure. ``--data ucdp`` (also what ``--input`` and
``--refresh`` give) is the UCDP-only zoo below, with its rolling-origin backtest.

One UCDP run, on the monthly province panel as available at ``as_of``:

1. backtest the zoo over rolling quarterly origins (:mod:`forecast.backtest`), no look-ahead;
2. forecast the next four quarters from ``as_of`` with every model and the two ensembles; the
   published forecast (``published``) is chosen per province and measure by the backtested
   selection rule (:func:`forecast.backtest.select_published`): the CRPS-weighted ensemble where
   its past quarter-sum CRPS beats the best baseline's by the margin, else that baseline, and
   ``results.json["models"]["published_selection"]`` says which, so the briefing can; national = sum of the
   published provinces, sample by sample;
3. write the run directory (contract in docs/ARCHITECTURE.md): ``panel.csv``, ``forecast.csv``,
   ``backtest.csv``, ``results.json``, ``breaks.json``, ``attribution.json``, ``manifest.json``
   and the briefing (:func:`forecast.report.build_report`);
4. archive the forecast as a new immutable vintage in the store and score earlier vintages
   against outcomes that have arrived since (CRPS from each vintage's stored percentiles).

A part that cannot be produced (a study whose module is missing or fails) is written as
``{"status": "not produced", "reason": ...}`` and listed under ``not_produced`` in
``results.json``: never silently skipped.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import json
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from pakcast.forecast import scoring
from pakcast.forecast.backtest import BacktestConfig, annual_events, fit_predict_task, run_backtest, summarise
from pakcast.forecast.forecasters import BASELINE_NAMES, MODEL_NAMES, NATIONAL, available_models
from pakcast.forecast.io import OutDir, prepare_out_dir, write_csv, write_json
from pakcast.forecast.jobs import DEFAULT_SEED
from pakcast.forecast.manifest import RunManifest
from pakcast.forecast.panel import load_run_panel
from pakcast.forecast.run_result import QuarterlyResult, SourceCredit, write_result

__all__ = ["QuarterlyConfig", "run", "DEFAULT_MODELS", "forecast_table", "score_vintage", "PERCENTILES"]

DEFAULT_MODELS = BASELINE_NAMES + ("nb_glm", "nb_local", "ingarch", "hawkes")
QUANTILES = {"q05": 0.05, "q25": 0.25, "q50": 0.5, "q75": 0.75, "q95": 0.95}
PERCENTILES = np.arange(1, 100) / 100.0
PUBLISHED_MODEL = "published"  # the selection rule's output (forecast.backtest.select_published)


@dataclass
class QuarterlyConfig:
    """Options of one quarterly run (the CLI's options, validated by :meth:`validate`).

    ``input``: a panel CSV in the CLI form (``province, period, attacks, killed, ...``); ``None``
    uses the shipped panel (:func:`forecast.panel.load_panel`). ``store``: DuckDB store path
    (``None`` = the default store; ``"none"`` = do not archive). ``models``: zoo members
    (default: the five baselines, the NB GLM, INGARCH and Hawkes). ``backtest_start``: first backtest origin.
    ``studies``: run the break and attribution studies. ``report``: build the briefing.
    ``forecast_only``: models fitted only at the forecast origin (too slow for every backtest
    origin: the Bayesian hierarchical model); their quarterly forecasts and convergence
    diagnostics are reported in ``results.json`` beside the published forecast, never mixed
    into it (they have no past scores to weight them by).
    ``refresh``: the report of ``pakcast quarterly --refresh`` (:func:`forecast.refresh.refresh_quarterly`),
    written to ``results.json`` under ``refresh``; its failed sources are listed under ``not_produced``.
    """

    out: str | Path = "reports/latest"
    as_of: str | None = None
    input: str | Path | None = None
    store: str | Path | None = None
    models: tuple[str, ...] = DEFAULT_MODELS
    scheduler: str | None = "local"
    n_workers: int | None = None
    random_seed: int = DEFAULT_SEED
    n_samples: int = 1000
    backtest_start: str = "2010-01-01"
    backtest: bool = True
    studies: bool = True
    report: bool = True
    force: bool = False  # write into a directory that holds another run's manifest
    attribution_draws: int = 200
    forecast_only: tuple[str, ...] = ("bayes_hier",)
    refresh: dict[str, Any] | None = None
    source_label: str | None = None
    encoding: str = "utf-8"
    #: ``"fused"`` (every source through the measurement model, :mod:`forecast.fused_quarterly`) or
    #: ``"ucdp"`` (the UCDP-only zoo of this module); ``None``: ``fused``, or ``ucdp`` with ``input``
    #: or ``refresh`` (a panel to forecast from)
    data: str | None = None
    #: run date (``YYYY-MM-DD``) the fused forecast horizon counts from; ``None``: today (an ``--as-of``
    #: vintage: the first day after the as-of month)
    today: str | None = None
    #: ``--threshold PROVINCE=N`` of the fused run: P(quarterly attacks > N)
    thresholds: tuple[str, ...] = ()
    fusion_start: str = "2007-01"
    fusion_draws: int = 1000
    fusion_tune: int = 1000
    fusion_chains: int = 4

    @property
    def data_kind(self) -> str:
        """``"fused"`` or ``"ucdp"`` (see ``data``)."""
        if self.data is not None:
            return self.data
        return "ucdp" if (self.input is not None or self.refresh is not None) else "fused"

    def validate(self) -> "QuarterlyConfig":
        if self.data not in (None, "fused", "ucdp"):
            raise ValueError(f"--data {self.data!r}: expected fused or ucdp")
        if self.data_kind == "fused":
            if self.data == "fused" and (self.input is not None or self.refresh is not None):
                raise ValueError("--data fused fits the shipped sources; --input and --refresh give a panel for "
                                 "--data ucdp")
            if self.today is not None:
                try:
                    _dt.date.fromisoformat(str(self.today))
                except ValueError as exc:
                    raise ValueError(f"--today {self.today!r}: expected a date YYYY-MM-DD") from exc
            from pakcast.forecast.fused_quarterly import parse_thresholds

            parse_thresholds(self.thresholds)
            for k in ("fusion_draws", "fusion_tune", "fusion_chains"):
                if int(getattr(self, k)) < 1:
                    raise ValueError(f"{k}={getattr(self, k)}: must be a positive integer")
        elif self.thresholds:
            raise ValueError("--threshold is an early warning of the fused run (the default): drop --data ucdp, "
                             "--input and --refresh")
        models = tuple(self.models)
        unknown = [m for m in models + tuple(self.forecast_only) if m not in MODEL_NAMES]
        if unknown:
            raise ValueError(f"--models: unknown model(s) {unknown}; choose from {', '.join(MODEL_NAMES)}")
        if not models:
            raise ValueError("--models: give at least one model")
        if self.as_of is not None:
            try:
                pd.Timestamp(self.as_of)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"--as-of {self.as_of!r}: expected a date like 2021-12 or 2021-12-31") from exc
        if self.input is not None and not Path(self.input).exists():
            raise FileNotFoundError(f"--input {self.input}: file not found")
        if self.input is not None:
            from pakcast.forecast.csvread import check_encoding

            check_encoding(self.encoding)
        if int(self.n_samples) < 100:
            raise ValueError(f"n_samples={self.n_samples}: need at least 100 samples for 5-95% quantiles")
        self.models = models
        return self


def _month(ts) -> pd.Timestamp:
    return pd.Timestamp(ts).to_period("M").to_timestamp()


def _quarters(origin: pd.Timestamp, n: int = 4) -> list[pd.Period]:
    q0 = origin.to_period("Q")
    return [q0 + i for i in range(n)]


def forecast_table(samples: dict[str, np.ndarray], series: list[str], origin: pd.Timestamp,
                   history: dict[str, pd.DataFrame], model: str = PUBLISHED_MODEL) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarterly forecast rows and their percentiles from monthly samples.

    ``samples[measure]`` is (series, months, n) from ``origin``; months of the first quarter
    before ``origin`` are taken as observed (from ``history[measure]``, wide by month).
    Returns (``forecast.csv`` rows, percentile rows for the store).
    """
    rows, pct_rows = [], []
    for measure, arr in samples.items():
        H = history[measure]
        months = pd.date_range(origin, periods=arr.shape[1], freq="MS")
        for q in _quarters(origin):
            qm = pd.date_range(q.start_time, periods=3, freq="MS")
            idx = [i for i, m in enumerate(months) if m in set(qm)]
            observed_months = [m for m in qm if m < origin]
            for s, uid in enumerate(series):
                smp = arr[s][idx].sum(axis=0).astype(np.int64)
                if observed_months:
                    smp = smp + int(H.loc[uid, observed_months].sum())
                ly = q - 4
                ly_months = pd.date_range(ly.start_time, periods=3, freq="MS")
                last_year = float(H.loc[uid, ly_months].sum()) if all(m in H.columns for m in ly_months) else np.nan
                qv = np.quantile(smp, list(QUANTILES.values()), method="inverted_cdf")
                rows.append({
                    "province": uid, "quarter": str(q), "measure": measure, "mean": float(smp.mean()),
                    **{k: float(v) for k, v in zip(QUANTILES, qv)},
                    "last_year": last_year,
                    "p_gt_last_year": float((smp > last_year).mean()) if np.isfinite(last_year) else np.nan,
                    "model": model,
                })
                pct = np.quantile(smp, PERCENTILES, method="inverted_cdf")
                pct_rows.append({"province": uid, "quarter": str(q), "measure": measure,
                                 "percentiles": json.dumps([int(v) for v in pct])})
    return pd.DataFrame(rows), pd.DataFrame(pct_rows)


def score_vintage(vintage: pd.DataFrame, outcomes: dict[str, pd.DataFrame], data_end: pd.Timestamp) -> pd.DataFrame:
    """Score a stored vintage's quarters that are fully observed by ``data_end``.

    CRPS from the vintage's 99 stored percentiles (quantile decomposition,
    :math:`\\mathrm{CRPS} \\approx \\frac{2}{99}\\sum_\\tau \\rho_\\tau(y - q_\\tau)`), coverage of
    its 50% and 90% intervals and the absolute error of its median.
    """
    out = []
    for _, r in vintage.iterrows():
        q = pd.Period(str(r["quarter"]), freq="Q")
        if q.end_time.normalize() > data_end:
            continue
        W = outcomes.get(str(r["measure"]))
        if W is None or str(r["province"]) not in W.index:
            continue
        qm = pd.date_range(q.start_time, periods=3, freq="MS")
        if not all(m in W.columns for m in qm):
            continue
        y = float(W.loc[str(r["province"]), qm].sum())
        rec = {"province": r["province"], "quarter": str(q), "measure": r["measure"],
               "q05": float(r["q05"]), "q50": float(r["q50"]), "q95": float(r["q95"]), "observed": y,
               "covered_50": bool(r["q25"] <= y <= r["q75"]), "covered_90": bool(r["q05"] <= y <= r["q95"]),
               "abs_error": abs(y - float(r["q50"]))}
        pct = r.get("percentiles")
        if isinstance(pct, str) and pct:
            qs = np.asarray(json.loads(pct), dtype=float)
            rec["crps"] = float(scoring.crps_from_percentiles(y, qs, PERCENTILES[: qs.size]))
        out.append(rec)
    return pd.DataFrame(out)


def _not_produced(path: Path, what: str, reason: str, not_produced: dict) -> None:
    not_produced[path.name] = reason
    write_json(path, {"status": "not produced", "reason": f"{what}: {reason}"})


def _run_breaks(panel_all: pd.DataFrame, reported: pd.DataFrame | None, out: Path, not_produced: dict) -> None:
    from pakcast.forecast.studies import run_break_study

    path = out / "breaks.json"
    try:
        write_json(path, run_break_study(panel_all, reported=reported))
    except Exception as exc:  # noqa: BLE001 - recorded in results.json, never silent
        _not_produced(path, "break study", f"failed: {type(exc).__name__}: {exc}", not_produced)


def _run_attribution(panel_all: pd.DataFrame, out: Path, not_produced: dict, config: QuarterlyConfig) -> None:
    from pakcast.forecast.attribution_study import run_attribution
    from pakcast.forecast.covariates import load_covariates

    path = out / "attribution.json"
    try:
        cov = load_covariates("month")
        cov = cov.loc[pd.to_datetime(cov["ds"]) <= panel_all["ds"].max()] if "ds" in cov.columns else cov
        res = run_attribution(panel_all, cov, outcome="attacks", random_seed=int(config.random_seed),
                              n_draws=int(config.attribution_draws))
        write_json(path, res)
    except Exception as exc:  # noqa: BLE001
        _not_produced(path, "attribution study", f"failed: {type(exc).__name__}: {exc}", not_produced)


def _reported(config: QuarterlyConfig, out: Path, sources: list[SourceCredit], notes: list[str]) -> pd.DataFrame | None:
    """The published aggregates the run compares with (shipped panel only), written as ``reported.csv``."""
    added = (config.refresh or {}).get("reported") or {}
    if config.input is not None and not config.refresh:  # a --refresh panel is the country's own source
        return None
    from pakcast.forecast.sources.reported import load_reported

    table = load_reported()
    if added.get("status") == "ok" and not added.get("rejected"):  # `pakcast reported add` (forecast.refresh)
        table = pd.concat([table, load_reported(added["path"]).drop(columns=["line"])], ignore_index=True)
    write_csv(out / "reported.csv", table)
    srcs = sorted(map(str, table["source"].unique()))
    sources.append(SourceCredit(name=f"Published aggregates: {', '.join(srcs)}", file="reported.csv",
                                rows=int(len(table)), licence="published facts, each row with its source URL",
                                citation="URL per figure in reported.csv", role="published aggregates"))
    notes.append(f"published aggregates: {len(table)} figures from {len(srcs)} sources (reported.csv)")
    return table


def _store_steps(config, manifest, as_of, fc_table, pct_table, outcomes, data_end, results, not_produced):
    if config.store is not None and str(config.store).lower() == "none":
        results["vintage"] = {"vintage_id": None, "reason": "--store none: the forecast was not archived"}
        return
    from pakcast.forecast.store import Store

    store = Store(config.store)
    earlier = []
    vint = store.vintages()
    for _, v in vint.iterrows():
        vid = v["vintage_id"]
        try:
            vdf = store.load_vintage(vid)
        except KeyError:
            continue
        sc = score_vintage(vdf, outcomes, data_end)
        if sc.empty:
            continue
        done = store.scores(vid)
        if not done.empty and {"province", "quarter", "measure"} <= set(done.columns):
            key = set(zip(done["province"].astype(str), done["quarter"].astype(str), done["measure"].astype(str)))
            new = sc[[(p, q, m) not in key for p, q, m in zip(sc["province"].astype(str), sc["quarter"], sc["measure"])]]
        else:
            new = sc
        if not new.empty:
            store.add_scores(vid, new.assign(scored_by=manifest.run_id))
        sc = sc.assign(vintage_id=vid, vintage_as_of=str(pd.Timestamp(v["as_of"]).date()))
        earlier.extend(sc.to_dict(orient="records"))
    archived = fc_table.merge(pct_table, on=["province", "quarter", "measure"], how="left")
    store.record_run(manifest)
    vid = store.add_forecast_vintage(manifest.run_id, as_of, archived)
    results["vintage"] = {"vintage_id": vid, "store": str(store.path), "n_rows": len(archived)}
    results["earlier_vintages"] = {
        "n_vintages_in_store": int(len(vint)),
        "scores": earlier,
        "note": ("each earlier vintage scored on its quarters fully observed by the data end "
                 f"({data_end.date()}); CRPS from its 99 stored percentiles"),
    }


#: the warnings raised during the current run (recorded, not printed: :func:`run`)
_RUN_WARNINGS: contextvars.ContextVar[list | None] = contextvars.ContextVar("run_warnings", default=None)


def warning_notes(caught: list | None) -> list[str]:
    """Warnings raised by the run's libraries (numpy, sampler, ...) as notes, one per distinct warning:
    ``warning during the run (RuntimeWarning, 3 times, at results.py:120): overflow encountered in exp``."""
    from collections import Counter

    seen = Counter((w.category.__name__, str(w.message).splitlines()[0] if str(w.message) else "",
                    f"{Path(w.filename).name}:{w.lineno}") for w in caught or [])
    return [f"warning during the run ({cat}, {n} time{'s' if n > 1 else ''}, at {where}): {msg}"
            for (cat, msg, where), n in seen.items()]


def run(config: QuarterlyConfig, progress: Callable[[str, int, int], None] | None = None,
        out_dir: OutDir | None = None) -> RunManifest:
    """Run the quarterly forecast end to end and return its manifest (see the module docstring).

    ``progress(stage, done, total)`` reports the fit tasks of the backtest and the stages.
    ``out_dir``: the run directory already prepared (:func:`forecast.io.prepare_out_dir`, e.g. before a
    refresh downloads into it, so that those downloads count as this run's outputs); default: prepared here.
    Warnings the libraries raise during the run are recorded in its notes (``results.json``, manifest)
    by :func:`finish_run` instead of being printed among the user's output.
    """
    with warnings.catch_warnings(record=True) as caught:
        token = _RUN_WARNINGS.set(caught)
        try:
            return _run(config, progress, out_dir)
        finally:
            _RUN_WARNINGS.reset(token)


def _run(config: QuarterlyConfig, progress: Callable[[str, int, int], None] | None = None,
         out_dir: OutDir | None = None) -> RunManifest:
    t_start = time.perf_counter()
    config.validate()
    if config.data_kind == "fused":
        from pakcast.forecast.fused_quarterly import run_fused

        return run_fused(config, progress=progress, out_dir=out_dir)
    out_dir = out_dir if out_dir is not None else prepare_out_dir(config.out, force=config.force)
    out = out_dir.path
    manifest = RunManifest(command="quarterly", options={k: (str(v) if isinstance(v, Path) else v)
                                                         for k, v in asdict(config).items()})
    out_dir.begin(manifest)  # status "incomplete" until the last output is written
    manifest.random_seeds = {"random_seed": int(config.random_seed)}
    notes = manifest.notes

    panel_all, coverage = load_run_panel(config.input, encoding=config.encoding, source_label=config.source_label,
                                         refresh=config.refresh)
    manifest.add_input(coverage.pop("_path"), role="panel")
    sources: list[SourceCredit] = coverage.pop("_sources")
    data_last = panel_all["ds"].max()
    as_of = _month(config.as_of) if config.as_of is not None else data_last
    if as_of > data_last:
        raise ValueError(f"--as-of {as_of.date()} is after the last month of data ({data_last.date()})")
    panel_all = panel_all.loc[panel_all["ds"] <= as_of].reset_index(drop=True)
    provinces = panel_all.loc[panel_all["unique_id"] != NATIONAL].reset_index(drop=True)
    origin = as_of + pd.offsets.MonthBegin(1)
    last_q = _quarters(origin)[-1]
    fh = len(pd.date_range(origin, last_q.end_time.normalize(), freq="MS"))

    avail = available_models()
    models = [m for m in config.models if avail.get(m) is None]
    skipped = {m: avail[m] for m in config.models if avail.get(m) is not None}
    if skipped:
        notes.append(f"models not run: {skipped}")

    bcfg = BacktestConfig(models=tuple(models), start=config.backtest_start,
                          n_samples=int(config.n_samples), random_seed=int(config.random_seed),
                          forecast_origin=origin, forecast_horizon=fh,
                          scheduler=config.scheduler, n_workers=config.n_workers)
    t_bt = time.perf_counter()
    cb = (lambda d, t: progress("fit", d, t)) if progress else None
    if config.backtest:
        res = run_backtest(provinces, bcfg, progress=cb)
    else:
        res = _forecast_only(provinces, bcfg, progress=cb)
    secs_bt = time.perf_counter() - t_bt
    skipped.update(res.unavailable)

    # ---- forecast.csv
    if progress:
        progress("forecast", 0, 1)
    wide = {m: panel_all.pivot(index="unique_id", columns="ds", values=m) for m in bcfg.measures}
    fs = res.forecast_samples
    published = PUBLISHED_MODEL if PUBLISHED_MODEL in fs[bcfg.measures[0]]["samples"] else models[-1]
    if published != PUBLISHED_MODEL:
        notes.append(f"published forecast model: {published} (no ensemble could be built)")
    samples = {m: fs[m]["samples"][published] for m in bcfg.measures}
    selection = {m: fs[m].get("selection", {}) for m in bcfg.measures}
    series = fs[bcfg.measures[0]]["series"]
    fc_table, pct_table = forecast_table(samples, series, origin, wide, model=published)
    write_csv(out / "forecast.csv", fc_table)

    # ---- forecast-only models (not in the published ensemble)
    forecast_only = {}
    for model in config.forecast_only:
        if avail.get(model) is not None:
            forecast_only[model] = {"status": "not run", "reason": avail[model]}
            continue
        if progress:
            progress(f"forecast-only {model}", 0, len(bcfg.measures))
        t = time.perf_counter()
        rec: dict[str, Any] = {"status": "ok", "diagnostics": {}, "rows": []}
        try:
            for i, meas in enumerate(bcfg.measures):
                r = fit_predict_task(provinces, model, meas, origin, fh, int(config.n_samples),
                                     int(config.random_seed))
                s = r["samples"].astype(np.int64)
                s = np.concatenate([s, s.sum(axis=0, keepdims=True)], axis=0)
                tab, _ = forecast_table({meas: s}, r["ids"] + [NATIONAL], origin, wide, model=model)
                rec["rows"] += tab.to_dict(orient="records")
                rec["diagnostics"][meas] = r["diagnostics"]
                if progress:
                    progress(f"forecast-only {model}", i + 1, len(bcfg.measures))
        except Exception as exc:  # noqa: BLE001 - recorded in results.json
            rec = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}"}
        rec["seconds"] = round(time.perf_counter() - t, 2)
        forecast_only[model] = rec

    # ---- panel.csv, backtest.csv
    panel_csv = panel_all.rename(columns={"unique_id": "province"})
    panel_csv.insert(1, "period", panel_csv.pop("ds").dt.strftime("%Y-%m"))
    write_csv(out / "panel.csv", panel_csv)
    scores = res.scores
    if not scores.empty:
        bt = scores.copy()
        bt["origin"] = pd.to_datetime(bt["origin"]).dt.strftime("%Y-%m")
        bt = bt.rename(columns={"unique_id": "province"})
        write_csv(out / "backtest.csv", bt, float_format="%.5g")
    else:
        write_csv(out / "backtest.csv", pd.DataFrame(columns=["model", "measure", "origin", "province", "horizon",
                                                              "crps", "log_score", "cov90"]))
        notes.append("backtest disabled: backtest.csv is empty and ensemble weights are equal")

    # ---- results.json
    ann = annual_events(provinces, config.backtest_start)  # attacks a year in the backtest period
    summ = summarise(scores, ann) if not scores.empty else summarise(pd.DataFrame())
    per_series = summ["per_series"]
    backtest_summary = []
    if isinstance(per_series, pd.DataFrame) and not per_series.empty:
        keep = ["measure", "unique_id", "model", "crps", "log_score", "mae", "coverage_50", "coverage_80",
                "coverage_90", "skill_vs_best_baseline", "best_baseline", "n"] + \
               [c for c in per_series.columns if c.startswith("skill_vs_") and c != "skill_vs_best_baseline"]
        backtest_summary = per_series[keep].rename(columns={"unique_id": "province"}).to_dict(orient="records")
    w = res.weights
    weights_final = {}
    weights_path = []
    if not w.empty:
        wf = w[w["origin"] == origin]
        for (meas, ens), g in wf.groupby(["measure", "ensemble"]):
            weights_final.setdefault(meas, {})[ens] = dict(zip(g["model"], g["weight"].round(4)))
        wp = w[w["ensemble"] == "ens_crps"].copy()
        wp["origin"] = pd.to_datetime(wp["origin"]).dt.strftime("%Y-%m")
        weights_path = wp.to_dict(orient="records")
    n_months = int(panel_all["ds"].nunique())
    results: dict[str, Any] = {
        "as_of": str(as_of.date())[:7],
        "forecast_origin": str(origin.date())[:7],
        "forecast_quarters": [str(q) for q in _quarters(origin)],
        "published_model": published,
        "data": {**coverage, "n_months": n_months, "first_month": str(panel_all["ds"].min().date())[:7],
                 "last_month": str(as_of.date())[:7]},
        "models": {"run": models, "not_run": skipped, "ensemble_members": bcfg.members(),
                   "published_selection": [
                       {"measure": m, "province": uid, "model": chosen, "baseline_published": chosen in BASELINE_NAMES,
                        "note": (f"no model beat the best baseline ({chosen}) on past quarter sums: the baseline is "
                                 "published" if chosen in BASELINE_NAMES
                                 else f"{chosen} beat the best baseline on past quarter sums")}
                       for m, sel in selection.items() for uid, chosen in sel.items()],
                   "ensemble_weights": weights_final,
                   "fallbacks": (res.fallbacks.assign(origin=res.fallbacks["origin"].astype(str))
                                 .groupby(["model", "measure", "unique_id"]).size().rename("n_origins")
                                 .reset_index().to_dict(orient="records") if not res.fallbacks.empty else [])},
        "backtest": {
            "origins": sorted({str(pd.Timestamp(o).date())[:7] for o in scores["origin"]}) if not scores.empty else [],
            "horizons": "months 1-12 and quarters Q1-Q4 (sums of months)",
            "n_samples": int(config.n_samples),
            "summary": backtest_summary,
            "per_horizon": summ["per_horizon"].to_dict(orient="records") if isinstance(summ["per_horizon"], pd.DataFrame) else [],
            "pit_histograms": summ["pit"],
            "diebold_mariano": summ["dm"],
            "goal_check": summ["goal"],
            "ensemble_weights_by_origin": weights_path,
            "log_score_definition": "minus log of the sample pmf smoothed by one pseudo-sample of a moment-matched "
                                    "negative binomial (forecast.scoring.log_score)",
        },
        "forecast_only_models": forecast_only,
        "not_produced": {},
        "timings_seconds": {"backtest_and_forecast": round(secs_bt, 2),
                            **{f"forecast_only_{k}": v.get("seconds") for k, v in forecast_only.items()}},
        "notes": notes,
        "vintage": {}, "earlier_vintages": {},
    }
    not_produced = results["not_produced"]
    if config.refresh is not None:  # pakcast quarterly --refresh (forecast.refresh)
        results["refresh"] = config.refresh
        not_produced.update(config.refresh.get("not_produced", {}))
        notes.extend(config.refresh.get("notes", []))
        for src in config.refresh.get("sources", []):  # the downloads behind the panel, with sha256
            if src.get("status") == "ok" and src.get("file"):
                manifest.add_input(src["file"], role=f"refresh {src['name']}")

    # ---- store: archive + score earlier vintages
    if progress:
        progress("store", 0, 1)
    try:
        _store_steps(config, manifest, as_of, fc_table, pct_table, wide, as_of + pd.offsets.MonthEnd(0),
                     results, not_produced)
    except Exception as exc:  # noqa: BLE001 - recorded, never silent
        not_produced["store"] = f"{type(exc).__name__}: {exc}"
        notes.append(traceback.format_exc(limit=3))

    # ---- studies
    if config.studies:
        if progress:
            progress("studies", 0, 2)
        t = time.perf_counter()
        reported = _reported(config, out, sources, notes)
        _run_breaks(panel_all, reported, out, not_produced)
        results["timings_seconds"]["breaks"] = round(time.perf_counter() - t, 2)
        if progress:
            progress("studies", 1, 2)
        t = time.perf_counter()
        _run_attribution(panel_all, out, not_produced, config)
        results["timings_seconds"]["attribution"] = round(time.perf_counter() - t, 2)
    else:
        _reported(config, out, sources, notes)
        for name, what in (("breaks.json", "break study"), ("attribution.json", "attribution study")):
            _not_produced(out / name, what, "studies disabled for this run (--no-studies)", not_produced)
    results["timings_seconds"]["total_before_report"] = round(time.perf_counter() - t_start, 2)
    result = QuarterlyResult(**results, sources=sources, run_id=manifest.run_id, created=manifest.created)

    return finish_run(config, out, out_dir, manifest, result, t_start, progress)


def finish_run(config: QuarterlyConfig, out: Path, out_dir: OutDir, manifest: RunManifest, result: QuarterlyResult,
               t_start: float, progress: Any = None) -> RunManifest:
    """The end of every quarterly run (UCDP and fused): the briefing rendered from the result (a
    failure recorded under ``not_produced["briefing"]``), then ``results.json`` and the manifest,
    each written once."""
    if config.report:
        if progress:
            progress("report", 0, 1)
        t = time.perf_counter()
        from pakcast.forecast.report import build_report

        try:
            build_report(out, result=result, random_seed=config.random_seed)
        except Exception as exc:  # noqa: BLE001 - recorded in results.json, never silent
            result.not_produced["briefing"] = f"{type(exc).__name__}: {exc}"
        result.timings_seconds["report"] = round(time.perf_counter() - t, 2)
    else:
        result.not_produced["briefing"] = "report disabled for this run (report=False)"
    result.timings_seconds["total"] = round(time.perf_counter() - t_start, 2)
    for note in warning_notes(_RUN_WARNINGS.get()):
        if note not in result.notes:
            result.notes.append(note)
        if note not in manifest.notes:
            manifest.notes.append(note)
    write_result(result, out)
    out_dir.finish(manifest)
    return manifest


def _forecast_only(provinces, bcfg, progress=None):
    """The forecast origin alone (no backtest): equal-weight ensembles."""
    from pakcast.forecast.backtest import BacktestResult, fit_predict_task, mix_samples
    from pakcast.forecast.parallel import run_tasks

    o = bcfg.forecast_origin
    tasks = [{"model": m, "measure": meas, "origin": o, "h": bcfg.forecast_horizon,
              "n_samples": bcfg.n_samples, "random_seed": bcfg.random_seed}
             for meas in bcfg.measures for m in bcfg.models]
    outs = run_tasks(fit_predict_task, tasks, scheduler=bcfg.scheduler, n_workers=bcfg.n_workers,
                     shared={"panel": provinces, "covariates": None}, progress=progress)
    unavailable, fs, wrows = {}, {}, []
    for t, r in zip(tasks, outs):
        if r["error"]:
            unavailable[t["model"]] = r["error"]
            continue
        s = r["samples"]
        s = np.concatenate([s, s.sum(axis=0, keepdims=True)], axis=0)
        fs.setdefault(t["measure"], {"origin": o, "h": bcfg.forecast_horizon, "series": r["ids"] + [NATIONAL],
                                     "samples": {}})["samples"][t["model"]] = s
    members = [m for m in bcfg.members() if m not in unavailable]
    fallback = bcfg.fallback_baseline()
    for meas, d in fs.items():
        if fallback in d["samples"]:  # no scores: the selection rule publishes its default baseline
            d["samples"]["published"] = d["samples"][fallback]
            d["selection"] = {uid: fallback for uid in d["series"][:-1]}
        if members:
            w = np.full(len(members), 1.0 / len(members))
            mixed = mix_samples(np.stack([d["samples"][m] for m in members]), w)
            for ens in ("ens_equal", "ens_crps"):
                d["samples"][ens] = mixed
                wrows += [{"measure": meas, "origin": o, "ensemble": ens, "model": m, "weight": float(x)}
                          for m, x in zip(members, w)]
    return BacktestResult(scores=pd.DataFrame(), weights=pd.DataFrame(wrows), timings=pd.DataFrame(),
                          unavailable=unavailable, fallbacks=pd.DataFrame(columns=["model", "measure", "origin",
                                                                                   "unique_id", "reason"]),
                          config=bcfg, forecast_samples=fs)
