"""``pakcast bayes its`` and ``pakcast bayes changepoint``: parse the options, call
:func:`pakcast.forecast.bayes_study.run_bayes_its` / :func:`~pakcast.forecast.bayes_study.run_changepoint`,
print the summary. An unconverged fit is written, marked, and exits with status 3 unless
``--allow-unconverged``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pakcast.forecast._cli_app import Fata, Sampler, bayes_app, choices, emit, json_option, seed_option
from pakcast.forecast.country import PAKISTAN

DEFAULT_BREAKS = ",".join(PAKISTAN.intervention_days())  # days of the events (see forecast.country)
Outcome = choices("Outcome", "attacks", "killed", "killed_low", "killed_high")
Pooling = choices("Pooling", "partial", "complete", "none")
Latent = choices("Latent", "none", "ar1", "rw")
ZeroModel = choices("ZeroModel", "none", "zinb", "hurdle")
Likelihood = choices("Likelihood", "numba", "native")
Family = choices("CountFamily", "negbin", "poisson")


@bayes_app.command("its")
def its_command(
    out: Path = typer.Option(..., "--out", help="Output directory (idata.nc, summary.csv, summary.json, ...)."),
    outcome: Outcome = typer.Option(Outcome.attacks, "--outcome",
                                    help="Count measure (killed_low/killed_high for sensitivity)."),
    intervention: Optional[list[str]] = typer.Option(
        None, "--intervention", "--breaks",
        help=f"Intervention day (repeatable; a step from the first month starting on or after it). "
             f"Default: {DEFAULT_BREAKS}."),
    sampler: Sampler = typer.Option(Sampler.nutpie, "--sampler"),
    draws: int = typer.Option(1000, "--draws", help="Posterior draws per chain."),
    tune: int = typer.Option(500, "--tune", help="Warm-up iterations per chain."),
    chains: int = typer.Option(4, "--chains"),
    cores: int = typer.Option(2, "--cores", help="Chains run in parallel."),
    target_accept: float = typer.Option(0.9, "--target-accept", help="NUTS target acceptance (raise to 0.95-0.99 "
                                        "if the run reports divergences)."),
    random_seed: int = seed_option(what="the sampler, the predictive checks and the forecast"),
    start: str = typer.Option("2007-01-01", "--start", help="First month of the fit window ('all' for the whole panel)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last month of the fit window (default: panel end)."),
    pooling: Pooling = typer.Option(Pooling.partial, "--pooling"),
    latent: Latent = typer.Option(Latent.none, "--latent", help="National latent term."),
    zero_model: ZeroModel = typer.Option(ZeroModel.none, "--zero-model"),
    likelihood: Likelihood = typer.Option(Likelihood.numba, "--likelihood",
                                          help="numba (Numba NB2 Op, fastest) or native (pm.NegativeBinomial; "
                                               "needed for zinb/hurdle)."),
    fata: Fata = typer.Option(Fata.merge, "--fata", help="merge (FATA in Khyber Pakhtunkhwa) or separate."),
    horizon: int = typer.Option(12, "--horizon", help="Months of posterior predictive forecast (0: none)."),
    allow_unconverged: bool = typer.Option(False, "--allow-unconverged", help="Exit 0 even if the gates fail."),
    force: bool = typer.Option(False, "--force", help="Write into a directory holding another run's manifest."),
) -> None:
    """Hierarchical negative-binomial ITS by province: break effects (rate ratios) with HDIs,
    convergence diagnostics, posterior predictive checks and forecasts."""
    from pakcast.forecast.bayes_study import run_bayes_its

    emit(run_bayes_its(out, outcome=outcome.value, breaks=intervention or [DEFAULT_BREAKS], sampler=sampler.value,
                       draws=draws, tune=tune, chains=chains, cores=cores, target_accept=target_accept,
                       random_seed=random_seed, start=start, end=end, pooling=pooling.value, latent=latent.value,
                       zero_model=zero_model.value, likelihood=likelihood.value, fata=fata.value, horizon=horizon,
                       allow_unconverged=allow_unconverged, force=force))


@bayes_app.command("changepoint")
def changepoint_command(
    json_out: Optional[Path] = json_option(what="the result"),
    series: Optional[str] = typer.Option(None, "--series", help="national or a province name (shipped panel)."),
    outcome: Outcome = typer.Option(Outcome.attacks, "--outcome", help="Panel measure for --series."),
    csv: Optional[Path] = typer.Option(None, "--csv", exists=True, dir_okay=False, help="A CSV with the series instead."),
    column: Optional[str] = typer.Option(None, "--column", help="Count column of --csv."),
    date_col: Optional[str] = typer.Option(None, "--date-col", help="Period column of --csv (numbers or dates)."),
    family: Family = typer.Option(Family.negbin, "--family", help="negbin (overdispersed counts) or poisson."),
    start: Optional[str] = typer.Option(None, "--start", help="First period for --series (default: panel start)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last period for --series."),
    intervention: Optional[list[str]] = typer.Option(
        None, "--intervention", "--known-breaks",
        help=f"Known date to compare with (repeatable). Default for --series: {DEFAULT_BREAKS}; none for --csv."),
    sampler: Sampler = typer.Option(Sampler.nutpie, "--sampler"),
    draws: int = typer.Option(1000, "--draws"),
    tune: int = typer.Option(1000, "--tune"),
    chains: int = typer.Option(4, "--chains"),
    random_seed: int = seed_option(what="the sampler"),
    fata: Fata = typer.Option(Fata.merge, "--fata"),
    allow_unconverged: bool = typer.Option(False, "--allow-unconverged", help="Exit 0 even if the gates fail."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of --csv (e.g. latin-1)."),
) -> None:
    """Single change point in a count series with the exact posterior over its date:
    switchpoint {mode, mean, hdi_low, hdi_high} (last period of the first regime), rates before
    and after (per period), and the convergence diagnostics."""
    from pakcast.forecast.bayes_study import run_changepoint

    emit(run_changepoint(series=series, outcome=outcome.value, csv=csv, column=column, date_col=date_col,
                         family=family.value, start=start, end=end, known=intervention, sampler=sampler.value,
                         draws=draws, tune=tune, chains=chains, random_seed=random_seed, fata=fata.value,
                         allow_unconverged=allow_unconverged, json_out=json_out, encoding=encoding))
