"""Data commands: ``pakcast ingest``, ``pakcast panel``, ``pakcast describe``, ``pakcast data build``.

Thin: each parses its options, calls one job function of :mod:`pakcast.forecast.data_job`
(``run_ingest``, ``run_panel``, ``run_describe``, ``run_data_build``) and prints its summary.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)
from rich.table import Table

from pakcast.forecast._cli_app import Fata, app, choices, data_app, json_option

console = Console()
err_console = Console(stderr=True)

PROGRESS_MIN_BYTES = 5_000_000  # show a progress bar for files above ~5 MB

SourceName = choices("SourceName", "ucdp", "gtd", "acled", "csv", "reported")
Freq = choices("Freq", "day", "week", "month", "quarter", "year")
OnErrorOpt = choices("OnErrorOpt", "raise", "report")


@contextlib.contextmanager
def _byte_progress(path: Path, verb: str):
    """A progress callback ``(bytes_done, bytes_total)``: a rich bar by bytes for files above ~5 MB."""
    size = path.stat().st_size
    if size < PROGRESS_MIN_BYTES:
        yield None
        return
    with Progress(TextColumn(f"[bold]{verb} {{task.description}}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=err_console, transient=True) as prog:
        task = prog.add_task(path.name, total=size)

        def cb(done: int, total: int) -> None:
            prog.update(task, completed=done * size // max(1, total))

        yield cb


def _print_table(table: tuple[str, list[tuple[str, Any]]] | None) -> None:
    """A job's summary table: ``(title, [(item, value), ...])``."""
    if table is None:
        return
    title, rows = table
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column("item", style="bold")
    t.add_column("value", justify="right")
    for k, v in rows:
        t.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    console.print(t)


def _print_outputs(result: Any) -> None:
    if result.outputs:
        console.print("wrote " + ", ".join(str(p) for p in result.outputs), highlight=False)


def _show(result: Any) -> None:
    """Print a data job's summary: its table, notes, lines and the files written."""
    _print_table(result.table)
    for n in result.notes:
        console.print(f"[yellow]note:[/] {n}")
    for line in result.lines:
        console.print(line, highlight=False)
    _print_outputs(result)


# ---------------------------------------------------------------------------------------------
@app.command("ingest")
def ingest_cmd(
    path: Path = typer.Argument(..., exists=True, help="Input file (a folder for --source reported)."),
    source: SourceName = typer.Option(..., "--source", help="Input format."),
    store: Optional[Path] = typer.Option(None, "--store", help="DuckDB store (default: user data dir)."),
    on_error: OnErrorOpt = typer.Option(OnErrorOpt("raise"), "--on-error",
                                        help="raise: stop at invalid rows; report: reject them with reasons."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the file (e.g. latin-1 for GTD)."),
    replace: bool = typer.Option(False, "--replace",
                                 help="Overwrite stored events with the same id (a newer release of the source)."),
) -> None:
    """Validate a source file and add its events to the store (idempotent; one transaction)."""
    from pakcast.forecast.data_job import run_ingest

    _show(run_ingest(path, source.value, store=store, on_error=on_error.value, encoding=encoding, replace=replace,
                     progress=_byte_progress))


# ---------------------------------------------------------------------------------------------
@app.command("panel")
def panel_cmd(
    out: Path = typer.Option(..., "--out", help="Output CSV (long format)."),
    freq: Freq = typer.Option(Freq.month, "--freq", help="Period length."),
    fata: Fata = typer.Option(Fata.merge, "--fata", help="Merge FATA into Khyber Pakhtunkhwa or keep it."),
    scope: str = typer.Option("militant", "--scope",
                              help="militant | all | foreign | interstate | other, or a comma list."),
    input: Optional[Path] = typer.Option(None, "--input", exists=True,
                                         help="Build from this file instead of the shipped UCDP tables."),
    source: Optional[SourceName] = typer.Option(None, "--source", help="Format of --input."),
    start: Optional[str] = typer.Option(None, "--start", help="First date kept (YYYY-MM-DD)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last date kept (YYYY-MM-DD)."),
    type_of_violence: Optional[list[int]] = typer.Option(None, "--type-of-violence",
                                                         help="UCDP type(s): 1, 2, 3 (repeat the option)."),
    actor: Optional[str] = typer.Option(None, "--actor", help="Keep events whose actor contains this text."),
    metric: str = typer.Option("attacks", "--metric", help="--source reported: the metric (attacks, killed...)."),
    reported_source: Optional[str] = typer.Option(None, "--reported-source",
                                                  help="--source reported: PICSS, PIPS, CRSS, SATP, GTI..."),
    store: Optional[Path] = typer.Option(None, "--store",
                                         help="Build from the events of --source in this DuckDB store."),
    on_error: OnErrorOpt = typer.Option(OnErrorOpt("raise"), "--on-error"),
    encoding: str = typer.Option("utf-8", "--encoding"),
) -> None:
    """Write a province x period panel (national total as 'Pakistan') to CSV.

    Columns: province, period, attacks, killed, killed_low, killed_high, injured, population.
    """
    from pakcast.forecast.data_job import run_panel

    _show(run_panel(out, freq=freq.value, fata=fata.value, scope=scope, input=input,
                    source=None if source is None else source.value, start=start, end=end,
                    type_of_violence=type_of_violence, actor=actor, metric=metric, reported_source=reported_source,
                    store=store, on_error=on_error.value, encoding=encoding, progress=_byte_progress))


# ---------------------------------------------------------------------------------------------
_SHORT = {"Balochistan": "Bal", "Khyber Pakhtunkhwa": "KP", "Punjab": "Pun", "Sindh": "Sin",
          "Islamabad Capital Territory": "ICT", "Gilgit-Baltistan": "GB", "Azad Jammu and Kashmir": "AJK",
          "FATA": "FATA", "Pakistan": "Pakistan"}


@app.command("describe")
def describe_cmd(
    input: Optional[Path] = typer.Option(None, "--input", exists=True, help="Describe this file instead."),
    source: Optional[SourceName] = typer.Option(None, "--source", help="Format of --input."),
    fata: Fata = typer.Option(Fata.merge, "--fata", help="Merge FATA into Khyber Pakhtunkhwa or keep it."),
    scope: str = typer.Option("militant", "--scope",
                              help="militant | all | foreign | interstate | other, or a comma list."),
    json_out: Optional[Path] = json_option(what="the numbers"),
    encoding: str = typer.Option("utf-8", "--encoding"),
) -> None:
    """Print the yearly national and provincial table (events, killed), peaks, exclusions and data limits."""
    from pakcast.forecast.country import PAKISTAN
    from pakcast.forecast.data_job import run_describe

    res = run_describe(input=input, source=None if source is None else source.value, fata=fata.value, scope=scope,
                       json_out=json_out, encoding=encoding, progress=_byte_progress)
    d = res.payload
    for measure, label in (("events", "Events (attacks) per year"), ("killed", "Killed (best estimate) per year")):
        t = Table(title=f"{label}: scope={d['scope']}, fata={d['fata']}, source {', '.join(d['source'])}",
                  title_justify="left")
        t.add_column("year", justify="right")
        for u in d["units"]:
            t.add_column(_SHORT.get(u, u), justify="right", style="bold" if u == PAKISTAN.national else None)
        for row in d["yearly"]:
            t.add_row(str(row["year"]), *[f"{row[f'{u}|{measure}']:,}" for u in d["units"]])
        console.print(t)
    pk = Table(title="Peak years (events; killed)", title_justify="left")
    pk.add_column("unit")
    pk.add_column("most events", justify="right")
    pk.add_column("most killed", justify="right")
    for u, p in d["peaks"].items():
        pk.add_row(u, f"{p['events_year']} ({p['events']:,})", f"{p['killed_year']} ({p['killed']:,})")
    console.print(pk)
    _print_table(res.table)
    console.print("[bold]Data limits[/]")
    for line in d["data_limits"]:
        console.print(f" - {line}")
    _print_outputs(res)


# ---------------------------------------------------------------------------------------------
@data_app.command("build")
def data_build_cmd(
    shared: Optional[Path] = typer.Option(None, "--shared", help="The raw-data folder (default ../shared)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the shipped data/)."),
) -> None:
    """Rebuild every shipped table in data/ from ../shared (events, panels, population, geometry,
    reported aggregates, and the covariate tables)."""
    from pakcast.forecast.data_job import run_data_build

    with console.status("rebuilding shipped tables"):
        res = run_data_build(shared, out, log=lambda m: console.print(f"  {m}"))
    _show(res)
