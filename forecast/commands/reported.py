"""``pakcast reported add`` and ``pakcast reported list``: a user's table of published figures.

Thin: :func:`pakcast.forecast.sources.reported.add_reported` validates and appends one figure,
:func:`~pakcast.forecast.sources.reported.list_reported` summarises a table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pakcast.forecast._cli_app import app, choices
from pakcast.forecast.errors import InputError

console = Console()
say = Console(soft_wrap=True, highlight=False)  # messages: never wrapped (paths stay whole)

reported_app = typer.Typer(help="Published figures (PICSS, PIPS, CRSS, ...): add one to a table, list a table.",
                           no_args_is_help=True)
app.add_typer(reported_app, name="reported")


PeriodType = choices("PeriodType", "month", "quarter", "half", "year", "ytd")


def _file_help() -> str:
    return "The table (a reported-schema CSV; default $PAKCAST_REPORTED or <user data dir>/pakcast/reported.csv)."


@reported_app.command("add")
def reported_add_cmd(
    source: str = typer.Option(..., "--source", help="Who published the figure (PICSS, PIPS, CRSS, ...)."),
    period_type: PeriodType = typer.Option(..., "--period-type", help="month, quarter, half, year or ytd."),
    period: str = typer.Option(..., "--period", help="2025-09 (month), 2025-Q3, 2025-H1, 2025, 2025-01..2025-09 (ytd)."),
    region: str = typer.Option(..., "--region", help="A province (any known spelling) or Pakistan."),
    metric: str = typer.Option(..., "--metric", help="attacks, killed, injured, fatalities_total, ..."),
    value: str = typer.Option(..., "--value", help="The published number (>= 0)."),
    url: str = typer.Option(..., "--url", help="Where the figure was read."),
    note: Optional[str] = typer.Option(None, "--note", help="Which report, what the figure counts."),
    file: Optional[Path] = typer.Option(None, "--file", help=_file_help()),
    revision: bool = typer.Option(False, "--revision", help="The source revised a figure already in the table: add the new one as its revision."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the table (e.g. latin-1); it is written back in it."),
) -> None:
    """Append one published figure to a table, validated; a contradicting duplicate is refused unless --revision."""
    from pakcast.forecast.sources.reported import add_reported, default_reported_table

    path = file or default_reported_table()
    res = add_reported(path, source=source, period_type=period_type.value, period=period, region=region,
                       metric=metric, value=value, url=url, note=note, revision=revision, encoding=encoding)
    r = res["row"]
    what = f"{r['source']} {r['period_type']} {r['period']} {r['region']} {r['metric']} = {r['value']}"
    if res["status"] == "unchanged":
        say.print(f"unchanged: {escape(what)} is already in {res['path']} (line {res['line']})")
    elif res["status"] == "revision":
        say.print(f"added revision: {escape(what)} to {res['path']} (line {res['line']}; earlier figure "
                      f"{res['earlier']['value']:g} on line {res['earlier']['line']})")
    else:
        say.print(f"added: {escape(what)} to {res['path']} (line {res['line']})")


@reported_app.command("list")
def reported_list_cmd(
    file: Optional[Path] = typer.Option(None, "--file", help=_file_help() + " A folder lists all its CSV files."),
    source: Optional[str] = typer.Option(None, "--source", help="Only this source."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the table(s) (e.g. latin-1)."),
) -> None:
    """Show what a table holds per source, metric and region, with the latest period of each."""
    from pakcast.forecast.sources.reported import default_reported_table, list_reported, read_reported

    path = file or default_reported_table()
    if not path.exists():
        raise InputError(f"{path}: no such table (add a figure with `pakcast reported add`)")
    table, _, n = read_reported(path, on_error="raise", encoding=encoding)
    summ = list_reported(table)
    if source:
        summ = summ[summ["source"] == source]
    say.print(f"{path}: {n:,} figure(s), {len(summ):,} source x metric x region series")
    t = Table()
    for c, j in (("source", "left"), ("metric", "left"), ("region", "left"), ("rows", "right"),
                 ("period types", "left"), ("first", "left"), ("latest", "left"), ("latest value", "right")):
        t.add_column(c, justify=j)
    for r in summ.itertuples():
        t.add_row(r.source, r.metric, r.region, f"{r.rows:,}", r.period_types, r.first_period, r.latest_period,
                  f"{r.latest_value:,.10g}")
    console.print(t)
