"""``pakcast hawkes``: parse the options, call :func:`pakcast.forecast.hawkes_study.run_hawkes_study`,
print its summary."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pakcast.forecast._cli_app import Fata, app, emit, json_option, seed_option


@app.command("hawkes")
def hawkes_command(
    json_out: Optional[Path] = json_option(what="the fit"),
    series: Optional[str] = typer.Option(None, "--series", help="A province to fit (default: the national series)."),
    csv: Optional[Path] = typer.Option(None, "--csv", exists=True, dir_okay=False,
                                       help="Event CSV instead of the shipped table (one row per event)."),
    date_col: str = typer.Option("date", "--date-col", help="Column of --csv with event dates (or numeric times in days)."),
    start: Optional[str] = typer.Option(None, "--start", help="Start of the observation window (date); default: first event."),
    end: Optional[str] = typer.Option(None, "--end", help="End of the observation window (date); default: data coverage end."),
    fata: Fata = typer.Option(Fata.merge, "--fata",
                             help="merge: FATA counts as Khyber Pakhtunkhwa; separate: its own unit."),
    random_seed: int = seed_option(what="the within-day jitter and the forecast simulation"),
    n_samples: int = typer.Option(1000, "--n-samples", min=1, help="Simulated paths for the count forecast."),
    province: Optional[str] = typer.Option(None, "--province", hidden=True),
    time_col: Optional[str] = typer.Option(None, "--time-col", hidden=True),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of --csv (e.g. latin-1)."),
) -> None:
    """Fit an exponential-kernel Hawkes process to attack times (MLE): mu, alpha, beta,
    branching ratio (estimate, ci_low, ci_high), loglik, n_events and a three-month count forecast."""
    from pakcast.forecast.hawkes_study import run_hawkes_study

    emit(run_hawkes_study(province=series or province, csv=csv, time_col=time_col or date_col, start=start,
                           end=end, fata=fata.value, random_seed=random_seed, n_samples=n_samples, json_out=json_out,
                           encoding=encoding))

