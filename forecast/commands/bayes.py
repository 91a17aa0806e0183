"""CLI commands (see forecast/commands/__init__.py)."""

from forecast._cli_app import app, bayes_app, data_app  # noqa: F401
