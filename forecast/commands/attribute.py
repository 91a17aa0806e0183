"""``pakcast attribute``: parse the options, call
:func:`pakcast.forecast.attribution_job.run_attribute`, print the summary.

Results are associations adjusted for the modelled terms, not causal effects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from pakcast.forecast._cli_app import app, choices, emit, json_option, seed_option
from pakcast.forecast.attribution_job import SERIES

console = Console(stderr=True)
AttributionOutcome = choices("AttributionOutcome", "attacks", "killed")
Series = choices("Series", *SERIES)


@app.command("attribute")
def attribute(
    json_out: Optional[Path] = json_option(),
    outcome: AttributionOutcome = typer.Option(AttributionOutcome.attacks, "--outcome"),
    periods: Optional[str] = typer.Option(None, "--periods",
                                          help="Two periods A,B as START:END months; the Shapley split explains B vs A "
                                               "(default 2010-01:2013-12,2015-01:2018-12; with --series fused: "
                                               "2018-01:2020-12,2023-01:2025-12)."),
    groups: str = typer.Option("economic,political,security", "--groups",
                               help="Covariate groups in the model: economic, political, security, breaks."),
    random_seed: int = seed_option(what="the parameter draws and placebo dates"),
    n_draws: int = typer.Option(200, "--n-draws", min=20, help="Parameter draws for the Shapley intervals."),
    min_events: int = typer.Option(20, "--min-events", min=1,
                                   help="Leave out provinces with fewer events than this in the months used."),
    scenario: Optional[list[str]] = typer.Option(None, "--scenario",
                                                 help="NAME:COVARIATE=VALUE[,...] held over the last 12 data months "
                                                      "(repeatable). Default: inflation 10% and 30%, a new operation."),
    checks: bool = typer.Option(True, "--checks/--no-checks",
                                help="Run the backtest CRPS check, Granger tests, placebos, lag and "
                                     "specification sensitivity."),
    trend: bool = typer.Option(False, "--trend/--no-trend", help="Add a linear trend per province (in 'other')."),
    bayes: bool = typer.Option(False, "--bayes/--no-bayes", help="Also fit the Bayesian hierarchical model (minutes)."),
    bayes_draws: int = typer.Option(1000, "--bayes-draws", min=50),
    bayes_tune: int = typer.Option(1000, "--bayes-tune", min=50),
    bayes_chains: int = typer.Option(4, "--bayes-chains", min=1),
    series: Series = typer.Option("ucdp", "--series",
                               help="ucdp (the shipped UCDP panel, to 2021-12), fused (the fused monthly series of "
                                    "every source, in its reference units: effects and checks on the posterior mean, "
                                    "the Shapley split pooled over --fused-draws posterior draws) or fused-mean "
                                    "(posterior mean only)."),
    fused_draws: int = typer.Option(20, "--fused-draws", min=2, help="Posterior draws of the fused series (--series fused)."),
    fuse_draws: int = typer.Option(1000, "--fuse-draws", min=1, help="Sampler draws per chain of the fused fit (as pakcast fuse --draws)."),
    fuse_tune: int = typer.Option(1000, "--fuse-tune", min=1, help="Warm-up iterations of the fused fit."),
    fuse_chains: int = typer.Option(4, "--fuse-chains", min=1, help="Chains of the fused fit."),
    intervention: Optional[list[str]] = typer.Option(
        None, "--intervention", help="The real break of the placebo test (one date; default 2014-06-15, "
                                     "Operation Zarb-e-Azb)."),
) -> None:
    """Covariate effects (IRRs), Shapley shares of a change between two periods, predictive checks.

    Results are associations adjusted for the modelled terms, not causal effects.
    """
    from pakcast.forecast.attribution_job import run_attribute

    emit(run_attribute(outcome=outcome.value, periods=periods, groups=groups, random_seed=random_seed,
                       n_draws=n_draws, min_events=min_events, scenarios=scenario, checks=checks, trend=trend,
                       bayes=bayes, bayes_draws=bayes_draws, bayes_tune=bayes_tune, bayes_chains=bayes_chains,
                       interventions=intervention, json_out=json_out, status=console.status, series=series.value,
                       fused_draws=fused_draws, fuse_settings=(fuse_draws, fuse_tune, fuse_chains)))
