"""The typer application objects that the command modules in :mod:`forecast.commands` register on."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="pakcast",
    help="pakcast: forecasting and causal analysis of political violence (Pakistan first).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
data_app = typer.Typer(help="Build and inspect the derived tables shipped in data/.", no_args_is_help=True)
bayes_app = typer.Typer(help="Bayesian models (PyMC): hierarchical ITS, change points.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(bayes_app, name="bayes")
