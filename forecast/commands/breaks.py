"""``pakcast breaks`` and ``pakcast its``: parse the options, call
:func:`pakcast.forecast.series_study.run_breaks` / :func:`~pakcast.forecast.series_study.run_its`,
print the summary.

Both read a series of the shipped monthly panel (``--series national|PROVINCE --outcome
attacks|killed``) or any CSV (``--csv FILE --column COL`` and an optional ``--date-col`` holding
dates, year-months or numbers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pakcast.forecast._cli_app import app, choices, emit, json_option, seed_option

Cost = choices("Cost", "l2", "poisson", "negbin")
Effects = choices("Effects", "level", "level+slope")
ItsFamily = choices("ItsFamily", "poisson", "quasipoisson", "negbin")
CovType = choices("CovType", "HAC", "nonrobust")

SERIES_HELP = "national or a province of the shipped panel."
OUTCOME_HELP = "attacks | killed (panel series)."
CSV_HELP = "A CSV file with the series."
COLUMN_HELP = "Value column of --csv."
DATE_COL_HELP = "Time column of --csv (dates, YYYY-MM or numbers), or two columns 'year,month'."


@app.command("breaks")
def breaks(
    json_out: Optional[Path] = json_option(),
    series: Optional[str] = typer.Option(None, "--series", help=SERIES_HELP),
    outcome: Optional[str] = typer.Option(None, "--outcome", help=OUTCOME_HELP),
    csv: Optional[Path] = typer.Option(None, "--csv", help=CSV_HELP),
    column: Optional[str] = typer.Option(None, "--column", help=COLUMN_HELP),
    date_col: Optional[str] = typer.Option(None, "--date-col", help=DATE_COL_HELP),
    intervention: Optional[list[str]] = typer.Option(
        None, "--intervention", "--dates",
        help="Known break date (repeatable; its period is the first post-break one). None assumed."),
    max_breaks: int = typer.Option(5, "--max-breaks", min=0, help="Largest number of breaks in the search."),
    min_size: float = typer.Option(0.15, "--min-size", help="Minimum segment: fraction of n (<1) or periods."),
    cost: Cost = typer.Option(Cost.l2, "--cost", help="Search cost (l2 as in strucchange)."),
    start: Optional[str] = typer.Option(None, "--start", help="Use observations from this time on."),
    end: Optional[str] = typer.Option(None, "--end", help="Use observations up to this time."),
    random_seed: int = seed_option(what="the simulated sup-F p-values"),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of --csv (e.g. latin-1)."),
) -> None:
    """Known-date Chow / count LR tests, sup-F, Bai-Perron breaks with 95% intervals, segments."""
    from pakcast.forecast.series_study import run_breaks

    emit(run_breaks(series=series, outcome=outcome, csv=csv, column=column, date_col=date_col,
                    interventions=intervention, max_breaks=max_breaks, min_size=min_size, cost=cost.value,
                    start=start, end=end, random_seed=random_seed, json_out=json_out, encoding=encoding))


@app.command("its")
def its(
    intervention: Optional[list[str]] = typer.Option(None, "--intervention",
                                                     help="Intervention date (repeatable; required)."),
    json_out: Optional[Path] = json_option(),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Study directory: results.json, its.csv, manifest, briefing."),
    series: Optional[str] = typer.Option(None, "--series", help=SERIES_HELP),
    outcome: Optional[str] = typer.Option(None, "--outcome", help=OUTCOME_HELP),
    csv: Optional[Path] = typer.Option(None, "--csv", help=CSV_HELP),
    column: Optional[str] = typer.Option(None, "--column", help=COLUMN_HELP + " (--outcome also names it)."),
    date_col: Optional[str] = typer.Option(None, "--date-col", help=DATE_COL_HELP),
    offset: Optional[str] = typer.Option(None, "--offset", help="Exposure column (e.g. population); the model uses its log."),
    effects: Effects = typer.Option(Effects.level_plus_slope, "--effects"),
    family: ItsFamily = typer.Option(ItsFamily.negbin, "--family"),
    seasonality: int = typer.Option(0, "--seasonality", min=0, help="Fourier pairs K (0 for none)."),
    period: Optional[int] = typer.Option(None, "--period", help="Season length for numeric time (12 for months)."),
    cov_type: CovType = typer.Option(CovType.HAC, "--cov-type", help="HAC (Newey-West) or nonrobust."),
    start: Optional[str] = typer.Option(None, "--start", help="Use observations from this time on."),
    end: Optional[str] = typer.Option(None, "--end", help="Use observations up to this time."),
    outcome_label: Optional[str] = typer.Option(None, "--outcome-label",
                                                help="Names the outcome in the narrative, figures and briefing, in words, e.g. "
                                                     "'acute coronary events' (default: 'units of COLUMN')."),
    source_label: Optional[str] = typer.Option(None, "--source-label", help="How the briefing credits --csv (citation)."),
    random_seed: int = seed_option(what="the interval simulations"),
    force: bool = typer.Option(False, "--force", help="Write --out into a directory holding another run's manifest."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of --csv (e.g. latin-1)."),
) -> None:
    """Segmented count regression: effects with intervals, counterfactual, per-period and cumulative effects."""
    from pakcast.forecast.series_study import run_its

    emit(run_its(interventions=intervention, series=series, outcome=outcome, csv=csv, column=column,
                 date_col=date_col, offset=offset, effects=effects.value, family=family.value,
                 seasonality=seasonality, period=period, cov_type=cov_type.value, start=start, end=end,
                 outcome_label=outcome_label, source_label=source_label, random_seed=random_seed,
                 json_out=json_out, out_dir=out_dir, force=force, encoding=encoding))
