"""pakcast pipeline: sources, validation, panels, covariates, storage, backtests, quarterly run, reports, CLI."""

__version__ = "0.1.0"
