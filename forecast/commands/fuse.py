"""``pakcast fuse``: the multi-source measurement model on event data and published figures (thin layer
over :func:`pakcast.forecast.fusion.run`)."""

from __future__ import annotations

from pathlib import Path

import typer
from pakcast.forecast._cli_app import app, seed_option
from rich.console import Console

console = Console(stderr=True)


@app.command("fuse")
def fuse_cmd(
    events: list[Path] | None = typer.Option(None, "--events", help="Event file (repeatable; each with one --source). Default: the shipped UCDP panel."),
    source: list[str] | None = typer.Option(None, "--source", help="Source of the matching --events file: ucdp, gtd, acled or csv."),
    reported: list[Path] | None = typer.Option(None, "--reported", help="Published-figures CSV (source, period_type, period, region, metric, value, url, note); repeatable. Default: the shipped table."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the --events and --reported files (e.g. latin-1)."),
    start: str = typer.Option("2007-01", "--start", help="First month (YYYY-MM)."),
    end: str | None = typer.Option(None, "--end", help="Horizon end (YYYY-MM; default December of next year)."),
    units: str | None = typer.Option(None, "--units", help="Reference source whose units the fused series is in (default: the source overlapping most with the others)."),
    fata: str = typer.Option("merge", "--fata", help="merge (FATA in Khyber Pakhtunkhwa) or separate."),
    steps: str = typer.Option("known", "--steps", help="Known-date level steps: 'known' (the country profile's dates, 2014-12 and 2021-08, each once the figures reach 3 months past it), 'none', or months YYYY-MM separated by commas."),
    random_seed: int = seed_option(what="the sampler and the simulated months"),
    draws: int = typer.Option(1000, "--draws", help="Posterior draws per chain."),
    tune: int = typer.Option(1000, "--tune", help="Warm-up iterations per chain."),
    chains: int = typer.Option(4, "--chains", help="Chains."),
    out: Path | None = typer.Option(Path("reports/fused"), "--out", help="Directory for fused.csv, sources.csv, idata.nc, figures/, manifest.json."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the JSON summary here."),
    allow_unconverged: bool = typer.Option(False, "--allow-unconverged", help="Exit 0 even when the convergence gates fail."),
    backtest: str | None = typer.Option(None, "--backtest", help="Rolling-origin backtest instead of one fit: origins 'START:END' (quarterly between) or comma-separated months, e.g. 2022-01,2023-01,2024-01,2025-01; scores each held-out published figure at its own resolution against the source's own last value and mean and the UCDP-only forecast (rows in --json; fused_backtest.csv, early_warning.csv, figures/ in --out)."),
    backtest_horizon: int = typer.Option(12, "--backtest-horizon", help="Months after each origin whose figures are scored."),
    ucdp_model: str = typer.Option("negbin_12", "--ucdp-model", help="Zoo model of the UCDP-only comparison ('none' to skip)."),
    n_samples: int = typer.Option(2000, "--n-samples", help="Predictive draws per scored figure (--backtest)."),
    warning_origins: str | None = typer.Option(None, "--warning-origins", help="Further origins (e.g. 2020-01,2021-01) fitted only to score the early warning, together with the --backtest origins."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Refit at every origin instead of reusing identical earlier fits (cache: $PAKCAST_FUSION_CACHE or the user cache dir)."),
) -> None:
    """Fuse every source into one latent province-month series (in named reference units) with source scales."""
    from pakcast.forecast.errors import PakcastError
    from pakcast.forecast.fusion import FusionConfig, parse_events, parse_steps, run, summary_lines

    try:
        cfg = FusionConfig(events=[(str(p), s) for p, s in parse_events([str(e) for e in events or []], source or [])],
                           reported=[str(p) for p in reported or []], encoding=encoding, start=start, end=end, units=units, fata=fata,
                           random_seed=random_seed, out=str(out) if out else None,
                           json=str(json_out) if json_out else None, draws=draws, tune=tune, chains=chains,
                           effects=parse_steps(steps))
        cfg.validate()
        if backtest is not None:
            from pakcast.forecast.fusion_backtest import backtest_job

            with console.status("fused backtest: fitting at each origin") as st:
                res = backtest_job(cfg, backtest, horizon=backtest_horizon,
                                   ucdp_model=None if ucdp_model.lower() == "none" else ucdp_model,
                                   n_samples=n_samples, json_out=json_out, out=out, cache=False if no_cache else None,
                                   progress=lambda msg: st.update(msg), warning_origins=warning_origins)
            typer.echo(res.summary())
            return
        with console.status("fitting the measurement model"):
            fr = run(cfg)
    except PakcastError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(exc.exit_code)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1)
    for line in summary_lines(fr):
        typer.echo(line)
    if out:
        typer.echo(f"wrote {out}/ (fused.csv, sources.csv, observations.csv, idata.nc, figures/, fusion.json, manifest.json)")
    if not fr.results.diagnostics.converged and not allow_unconverged:
        console.print("[red]convergence gates failed[/red]: outputs written but do not use them; "
                      "rerun with more --draws/--tune (or --allow-unconverged)")
        raise typer.Exit(3)
