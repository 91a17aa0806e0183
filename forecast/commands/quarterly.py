"""Commands ``pakcast quarterly`` and ``pakcast backtest`` (thin: parse, validate, call, write)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pakcast.forecast._cli_app import app, emit, json_option, seed_option
from pakcast.forecast.errors import GateError
from pakcast.forecast.jobs import input_errors
from pakcast.forecast.paths import user_store_path

console = Console(stderr=True)


def _models(text: Optional[str], default: tuple[str, ...]) -> tuple[str, ...]:
    if not text:
        return default
    return tuple(m.strip() for m in text.split(",") if m.strip())


def _progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


@app.command("quarterly")
def quarterly_cmd(
    out: Path = typer.Option(Path("reports/latest"), "--out", help="Run directory to write."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Last month of data to use (default: the last month of data)."),
    input: Optional[Path] = typer.Option(None, "--input", help="Panel CSV (province, period, attacks, killed, ...); default: the shipped panel."),
    store: Optional[str] = typer.Option(None, "--store", help=f"DuckDB store for forecast vintages (default: $PAKCAST_STORE, else {user_store_path()}; 'none' to skip)."),
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated zoo members (default: the baselines, nb_glm, nb_local, ingarch, hawkes)."),
    scheduler: str = typer.Option("local", "--scheduler", help="'local' (Dask LocalCluster), 'serial', or a scheduler address."),
    workers: Optional[int] = typer.Option(None, "--workers", help="LocalCluster worker processes (default: CPU count)."),
    random_seed: int = seed_option(),
    n_samples: int = typer.Option(1000, "--n-samples", help="Predictive samples per series and month."),
    backtest_start: str = typer.Option("2010-01-01", "--backtest-start", help="First backtest origin."),
    no_studies: bool = typer.Option(False, "--no-studies", help="Skip the break and attribution studies."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the briefing."),
    no_bayes: bool = typer.Option(False, "--no-bayes", help="Skip the forecast-only Bayesian hierarchical model."),
    refresh: bool = typer.Option(False, "--refresh", help="First fetch the configured sources, ingest them into the store and run on the panel built from the store."),
    refresh_sources: Optional[str] = typer.Option(None, "--refresh-sources", help="With --refresh: ucdp:candidate:25.0.9, ucdp:ged:25.1, acled (comma list; default $PAKCAST_REFRESH)."),
    refresh_since: Optional[str] = typer.Option(None, "--refresh-since", help="With --refresh: first event date to fetch (default $PAKCAST_REFRESH_SINCE)."),
    force: bool = typer.Option(False, "--force", help="Write into a directory that holds another run's manifest."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of --input (e.g. latin-1)."),
    source_label: Optional[str] = typer.Option(None, "--source-label", help="How the briefing credits --input (citation, e.g. 'PICSS monthly security reports')."),
    data: Optional[str] = typer.Option(None, "--data", help="fused (default: every shipped source through the measurement model, current to the newest published figure, in one named source's units) or ucdp (the UCDP-only model zoo with its backtest; implied by --input and --refresh)."),
    threshold: Optional[list[str]] = typer.Option(None, "--threshold", help="Fused run: PROVINCE=N adds P(attacks in a quarter > N) per forecast quarter (repeatable; N in the run's units)."),
    today: Optional[str] = typer.Option(None, "--today", help="Fused run: the run date YYYY-MM-DD the horizon counts from (default: today; with --as-of the day after it)."),
    draws: int = typer.Option(1000, "--draws", help="Fused run: posterior draws per chain."),
    tune: int = typer.Option(1000, "--tune", help="Fused run: warm-up iterations per chain."),
    chains: int = typer.Option(4, "--chains", help="Fused run: chains."),
) -> None:
    """Forecast the quarters after the latest data by province (default: the fused series of every source in named
    units, from the newest published figure through the year after the run date; --data ucdp: the UCDP-only zoo
    with its backtest), archive the vintage, write the briefing."""
    from pakcast.forecast.errors import InputError
    from pakcast.forecast.quarterly import DEFAULT_MODELS, QuarterlyConfig, run

    if data not in (None, "fused", "ucdp"):
        raise typer.BadParameter(f"{data!r}: expected fused or ucdp", param_hint="--data")
    cfg = QuarterlyConfig(out=out, as_of=as_of, input=input, store=store,
                          models=_models(models, DEFAULT_MODELS), scheduler=scheduler, n_workers=workers,
                          random_seed=random_seed, n_samples=n_samples, backtest_start=backtest_start,
                          studies=not no_studies, report=not no_report,
                          forecast_only=() if no_bayes else ("bayes_hier",), force=force, encoding=encoding,
                          source_label=source_label,
                          data=data if data is not None else ("ucdp" if (input is not None or refresh) else None),
                          thresholds=tuple(threshold or ()), today=today, fusion_draws=draws, fusion_tune=tune,
                          fusion_chains=chains)
    if cfg.data_kind == "fused" and models:
        raise InputError("--models chooses the zoo of the UCDP-only run: add --data ucdp (the fused run, the default, "
                         "has one model)")
    from pakcast.forecast.io import prepare_out_dir

    out_dir = prepare_out_dir(out, force=force)  # checked before anything is downloaded into it
    with input_errors():
        if refresh:
            from pakcast.forecast.refresh import refresh_quarterly

            refresh_quarterly(cfg, refresh_sources, refresh_since, log=lambda m: console.print(f"refresh: {m}"))
        cfg.validate()
    with _progress() as prog:
        tasks: dict[str, int] = {}

        def cb(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = {"fit": "fit models x origins", "fuse": "fit the measurement model (every source)",
                         "forecast": "forecast table", "store": "store vintages",
                         "studies": "break + attribution studies", "report": "briefing"}.get(stage, stage)
                tasks[stage] = prog.add_task(label, total=total)
            prog.update(tasks[stage], completed=done, total=total)

        try:
            run(cfg, progress=cb, out_dir=out_dir)
        finally:
            prog.stop()  # an error is printed by the CLI's one handler, below the bars
        for task in prog.tasks:
            prog.update(task.id, completed=task.total)
    from pakcast.forecast.run_result import read_result

    result = read_result(out)
    res = result.to_dict()
    console.print(result.summary(), markup=False, highlight=False)
    written = [f for f in ("briefing.html", "briefing.pdf", "forecast.csv", "fused.csv", "backtest.csv", "results.json",
                           "manifest.json") if (out / f).exists()]
    console.print(f"wrote {out}/ ({', '.join(written)}, ...; every file is listed in manifest.json) in "
                  f"{res['timings_seconds']['total']:.0f} s")
    if "store" in res["not_produced"]:
        # The outputs exist, but the forecast is not in the store: say so and fail, so that a scheduler
        # running the quarterly job notices (e.g. another run held the store's lock).
        raise GateError(f"the forecast was written to {out} but NOT archived as a vintage in the store: "
                        f"{res['not_produced']['store']}. Run the quarter again once the store is free.")


@app.command("backtest")
def backtest_cmd(
    json_out: Optional[Path] = json_option(what="the scorecard rows (model, province, measure, resolution, crps, "
                                                "coverage_90, pit_ks_p, skill_vs_best_baseline, skill_ci_low, "
                                                "skill_ci_high, published)"),
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated zoo members."),
    origins: Optional[str] = typer.Option(None, "--origins", help="'START:END' (quarterly origins between, e.g. 2010-01:2019-10) or comma-separated months."),
    input: Optional[Path] = typer.Option(None, "--input", help="Panel CSV (province, period, attacks, killed); default: the shipped panel."),
    measures: str = typer.Option("attacks,killed", "--measures", help="Comma-separated measures."),
    scheduler: str = typer.Option("local", "--scheduler", help="'local', 'serial', or a scheduler address."),
    workers: Optional[int] = typer.Option(None, "--workers", help="LocalCluster worker processes."),
    random_seed: int = seed_option(),
    n_samples: int = typer.Option(500, "--n-samples"),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="Also write the long score table here."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of --input (e.g. latin-1)."),
    warmup_origins: int = typer.Option(12, "--warmup-origins", help="Quarterly origins before the first one, forecast only to build the record that ensemble weights and the selection rule learn from (not scored; the rule's burn-in)."),
    recalibrate: bool = typer.Option(False, "--recalibrate", help="Recalibrate the published quarter sums by tail scales learnt online from the misses of past published quarter sums (forecast.recalibrate)."),
) -> None:
    """Rolling-origin backtest of the zoo (no look-ahead), scored by CRPS, log score, coverage and skill."""
    from pakcast.forecast.backtest_job import run_backtest_job
    from pakcast.forecast.forecasters import MODEL_NAMES
    from pakcast.forecast.quarterly import DEFAULT_MODELS

    mlist = _models(models, DEFAULT_MODELS)
    bad = [m for m in mlist if m not in MODEL_NAMES]
    if bad:
        raise typer.BadParameter(f"unknown {bad}; choose from {', '.join(MODEL_NAMES)}", param_hint="--models")
    with _progress() as prog:
        tid = prog.add_task("fit models x origins", total=None)
        res = run_backtest_job(models=mlist, origins=origins, input=input, encoding=encoding,
                               measures=tuple(m.strip() for m in measures.split(",") if m.strip()),
                               scheduler=scheduler, workers=workers, random_seed=random_seed, n_samples=n_samples,
                               json_out=json_out, csv_out=csv_out, warmup_origins=warmup_origins, recalibrate=recalibrate,
                               progress=lambda d, t: prog.update(tid, completed=d, total=t))
    emit(res)
