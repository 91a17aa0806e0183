"""Data commands: ``pakcast ingest``, ``pakcast panel``, ``pakcast describe``, ``pakcast data build``.

Thin wrappers: each parses its options, calls one library function (:mod:`forecast.sources`,
:mod:`forecast.panel`, :mod:`forecast.store`, :mod:`forecast.sources.build`) and prints a rich summary.
"""

from __future__ import annotations

import contextlib
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)
from rich.table import Table

from pakcast.forecast._cli_app import app, bayes_app, data_app  # noqa: F401
from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.errors import InputError
from pakcast.forecast.validate import ValidationError

console = Console()
err_console = Console(stderr=True)

PROGRESS_MIN_BYTES = 5_000_000  # show a progress bar for files above ~5 MB


class SourceName(str, Enum):
    ucdp = "ucdp"
    gtd = "gtd"
    acled = "acled"
    csv = "csv"
    reported = "reported"


class Freq(str, Enum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


class Fata(str, Enum):
    merge = "merge"
    separate = "separate"


class OnErrorOpt(str, Enum):
    raise_ = "raise"
    report = "report"


DATA_LIMITS = list(PAKISTAN.event_data_limits)


def _fail(exc: Exception) -> None:
    """An expected failure of a data command: one line through the CLI's error handler (exit 1)."""
    raise InputError(str(exc)) from exc


def _read_with_progress(path: Path, source: str, on_error: str, encoding: str) -> Any:
    from pakcast.forecast.sources import read_source

    size = path.stat().st_size
    if size < PROGRESS_MIN_BYTES:
        return read_source(path, source, on_error=on_error, encoding=encoding)
    with Progress(TextColumn("[bold]reading {task.description}"), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=err_console, transient=True) as prog:
        task = prog.add_task(path.name, total=size)

        def cb(done: int, total: int) -> None:
            prog.update(task, completed=done * size // max(1, total))

        return read_source(path, source, on_error=on_error, encoding=encoding, progress=cb)


class _StreamStats:
    """What the ingest summary shows of a file read chunk by chunk: date range, the first rejects."""

    def __init__(self, keep_rejects: int = 5):
        self.date_min = self.date_max = None
        self.keep = keep_rejects
        self.rejects = pd.DataFrame()

    def watch(self, chunks):
        for res in chunks:
            if len(res.events):
                lo, hi = res.events["date"].min(), res.events["date"].max()
                self.date_min = lo if self.date_min is None else min(self.date_min, lo)
                self.date_max = hi if self.date_max is None else max(self.date_max, hi)
            if len(res.rejects) and len(self.rejects) < self.keep:
                self.rejects = pd.concat([self.rejects, res.rejects.head(self.keep)], ignore_index=True).head(self.keep)
            yield res


@contextlib.contextmanager
def _byte_progress(path: Path):
    """A progress callback ``(bytes_done, bytes_total)``: a rich bar by bytes for files above ~5 MB."""
    size = path.stat().st_size
    if size < PROGRESS_MIN_BYTES:
        yield None
        return
    with Progress(TextColumn("[bold]ingesting {task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), console=err_console, transient=True) as prog:
        task = prog.add_task(path.name, total=size)

        def cb(done: int, total: int) -> None:
            prog.update(task, completed=done * size // max(1, total))

        yield cb


def _summary_table(title: str, rows: list[tuple[str, Any]]) -> Table:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column("item", style="bold")
    t.add_column("value", justify="right")
    for k, v in rows:
        t.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    return t


# ---------------------------------------------------------------------------------------------
@app.command("ingest")
def ingest_cmd(
    path: Path = typer.Argument(..., exists=True, help="Input file (a folder for --source reported)."),
    source: SourceName = typer.Option(..., "--source", help="Input format."),
    store: Optional[Path] = typer.Option(None, "--store", help="DuckDB store (default: user data dir)."),
    on_error: OnErrorOpt = typer.Option(OnErrorOpt.raise_, "--on-error",
                                        help="raise: stop at invalid rows; report: reject them with reasons."),
    encoding: str = typer.Option("utf-8", "--encoding", help="Text encoding of the file (e.g. latin-1 for GTD)."),
    replace: bool = typer.Option(False, "--replace",
                                 help="Overwrite stored events with the same id (a newer release of the source)."),
) -> None:
    """Validate a source file and add its events to the store (idempotent; one transaction)."""
    from pakcast.forecast.manifest import RunManifest
    from pakcast.forecast.errors import PakcastError
    from pakcast.forecast.store import Store

    options = {"source": source.value, "on_error": on_error.value, "encoding": encoding, "replace": replace}
    # the run is recorded in the store in the ingest's own transaction (Store.ingest(manifest=...))
    manifest = RunManifest(command="ingest", options=dict(options))
    if path.is_file():
        manifest.add_input(path, role=source.value)
    try:
        if source.value == "reported":
            from pakcast.forecast.sources.reported import read_reported

            table, rejects, n = read_reported(path, on_error=on_error.value, encoding=encoding)
            with Store(store) as st:
                summ = st.ingest_reported(table, rejects, path, options, rows_read=n, manifest=manifest)
            extra: list[tuple[str, Any]] = []
        else:
            stats = _StreamStats()
            with _byte_progress(path) as cb, Store(store) as st:
                from pakcast.forecast.sources import iter_source

                chunks = iter_source(path, source.value, on_error=on_error.value, encoding=encoding, progress=cb)
                summ = st.ingest(stats.watch(chunks), None, path, source.value, options, replace=replace,
                                 manifest=manifest)
            rejects = stats.rejects
            extra = [("province by point in polygon", summ.point_in_polygon),
                     ("unassigned province (national only)", summ.unassigned),
                     ("skipped (other countries)", summ.skipped)]
            if stats.date_min is not None:
                extra.append(("date range", f"{stats.date_min.date()} .. {stats.date_max.date()}"))
    except MemoryError:
        _fail(PakcastError(f"{path}: ran out of memory while ingesting; nothing was stored (the store is "
                           "unchanged). Free memory, or split the file"))
    except (ValidationError, FileNotFoundError, ValueError, PakcastError) as exc:
        _fail(exc)
    rows: list[tuple[str, Any]] = [("rows read", summ.rows_read), ("accepted", summ.accepted),
                                   ("rejected", summ.rejected), ("inserted", summ.inserted),
                                   ("duplicates (already in store)", summ.duplicates),
                                   *([("replaced (--replace)", summ.replaced)] if replace else []), *extra,
                                   ("store", str(store) if store is not None else str(Store(store).path)),
                                   ("ingest id", summ.ingest_id)]
    console.print(_summary_table(f"ingest {path.name} ({source.value})", rows))
    for n in summ.notes:
        console.print(f"[yellow]note:[/] {n}")
    if summ.rejected:
        console.print(f"[yellow]{summ.rejected} rejected row(s)[/] are in the store's rejects table "
                      "(file, line, column, reason); the first:")
        for r in rejects.head(5).itertuples():
            console.print(f"  line {r.line}: {r.reason}")


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
    on_error: OnErrorOpt = typer.Option(OnErrorOpt.raise_, "--on-error"),
    encoding: str = typer.Option("utf-8", "--encoding"),
) -> None:
    """Write a province x period panel (national total as 'Pakistan') to CSV.

    Columns: province, period, attacks, killed, killed_low, killed_high, injured, population.
    """
    from pakcast.forecast.errors import PakcastError
    from pakcast.forecast.io import write_csv
    from pakcast.forecast import panel as pn

    try:
        if source is not None and source.value == "reported":
            _reported_panel_cmd(out, input, freq, metric, reported_source)
            return
        if input is None and source is not None and store is None:
            raise ValueError("--source needs --input (a file) or --store (a DuckDB store)")
        if input is not None and source is None:
            raise ValueError("--input needs --source (ucdp, gtd, acled, csv, reported)")
        if input is not None and store is not None:
            raise ValueError("give either --input or --store, not both")
        filters = dict(start=start, end=end, type_of_violence=type_of_violence or None, actor=actor)
        if store is not None:
            from pakcast.forecast.store import Store

            with Store(store, read_only=True) as st:
                have = st.ingests()["source"].unique().tolist()
                if source is None and len(have) != 1:
                    raise ValueError(f"the store holds sources {have}: choose one with --source "
                                     "(sources are never pooled)")
                src = source.value if source is not None else have[0]
                events = st.events(src)
            if events.empty:
                raise ValueError(f"no {src} events in {store}")
            panel, r = pn.build_panel_with_report(events, freq.value, fata=fata.value, scope=scope, **filters)
            rep, label = r.to_dict(), f"store {store} ({src})"
        elif input is None and not any(v for v in filters.values()):
            panel = pn.load_panel(freq.value, fata.value, scope)
            meta = pn.shipped_meta()
            name = pn.shipped_panel_name(freq.value, fata.value, "all" if scope == "all" else scope)
            rep = meta["panels"].get(name)
            if rep is None:
                _, r = pn.build_panel_with_report(pn.load_shipped_events(), freq.value, fata=fata.value,
                                                  scope=scope, coverage=(meta["coverage_start"], meta["coverage_end"]),
                                                  with_population=False)
                rep = r.to_dict()
            label = "shipped UCDP GED 22.1 tables"
        else:
            if input is None:
                events = pn.load_shipped_events()
                meta = pn.shipped_meta()
                coverage = (meta["coverage_start"], meta["coverage_end"])
                label = "shipped UCDP GED 22.1 events"
            else:
                res = _read_with_progress(input, source.value, on_error.value, encoding)
                events, coverage, label = res.events, None, f"{input.name} ({source.value})"
                if res.rejected:
                    console.print(f"[yellow]{res.rejected} row(s) rejected[/] (--on-error report)")
            panel, r = pn.build_panel_with_report(events, freq.value, fata=fata.value, scope=scope,
                                                  coverage=coverage, **filters)
            rep = r.to_dict()
        write_csv(out, pn.to_csv_form(panel, freq.value))
        from pakcast.forecast import paths

        if input is not None:
            used = [(input, source.value)]
        elif store is not None:
            used = [(store, "store")]
        else:
            shipped = paths.shipped_dir() / pn.shipped_panel_name(freq.value, fata.value,
                                                                  "all" if scope == "all" else scope)
            used = [(shipped, "shipped panel")] if shipped.exists() and not any(filters.values()) else [
                (paths.shipped(pn.SHIPPED_EVENTS), "shipped events")]
        _write_sidecar_manifest("panel", {
            "freq": freq.value, "fata": fata.value, "scope": scope, "input": None if input is None else str(input),
            "source": None if source is None else source.value, "store": None if store is None else str(store),
            **{k: v for k, v in filters.items()}, "on_error": on_error.value, "encoding": encoding}, out, used)
    except (ValidationError, FileNotFoundError, ValueError, PakcastError) as exc:
        _fail(exc)
    _print_report(rep, label, out, len(panel))


def _write_sidecar_manifest(command: str, options: dict[str, Any], out: Path,
                            inputs: list[tuple[Path, str]]) -> Path:
    """``<out stem>.manifest.json`` beside a single-file output (inputs and the output with sha256)."""
    from pakcast.forecast.io import sha256_file
    from pakcast.forecast.manifest import RunManifest

    m = RunManifest(command=command, options=options)
    for p, role in inputs:
        if Path(p).is_file():
            m.add_input(p, role=role)
    m.outputs = [{"path": out.name, "sha256": sha256_file(out), "bytes": out.stat().st_size}]
    return m.write(out.parent, name=out.stem + ".manifest.json")


def _print_report(rep: dict, label: str, out: Path, n: int) -> None:
    rows = [("input", label), ("frequency", rep["freq"]), ("fata", rep["fata"]), ("scope", rep["scope"]),
            ("events in scope", rep["events_in_scope"]), ("out of scope", rep["events_out_of_scope"]),
            ("removed by filters", rep["events_filtered"]),
            ("excluded: date interval crosses a period",
             f"{rep['excluded_date_precision']:,} ({rep['excluded_date_precision_killed']:,} killed)"),
            ("unassigned province (national only)",
             f"{rep['unassigned_province']:,} ({rep['unassigned_province_killed']:,} killed)"),
            ("events in panel", rep["events_in_panel"]), ("killed in panel", rep["killed_in_panel"]),
            ("periods", f"{rep['start']} .. {rep['end']}"), ("rows written", n), ("output", str(out))]
    console.print(_summary_table("panel", rows))


def _reported_panel_cmd(out: Path, input: Optional[Path], freq: Freq, metric: str,
                        reported_source: Optional[str]) -> None:
    from pakcast.forecast.io import write_csv
    from pakcast.forecast.sources.reported import load_reported, reported_panel

    if not reported_source:
        raise ValueError("--source reported needs --reported-source (one of PICSS, PIPS, CRSS, SATP, GTI, "
                         "OFFICIAL, OTHER): sources are never pooled")
    table = load_reported(input)
    ptype = {"month": "month", "quarter": "quarter", "year": "year"}.get(freq.value)
    if ptype is None:
        raise ValueError("published aggregates exist only by month, quarter, half or year")
    p = reported_panel(table, reported_source, metric, ptype)
    csv = pd.DataFrame({"province": p["unique_id"], "period": p["ds"].dt.strftime("%Y-%m-%d"),
                        "period_label": p["period"], "source": reported_source, "metric": metric,
                        "value": p["value"], "url": p["url"]})
    write_csv(out, csv)
    console.print(_summary_table("reported panel", [
        ("source", reported_source), ("metric", metric), ("resolution", ptype),
        ("published cells", len(csv)), ("units", ", ".join(sorted(csv["province"].unique()))),
        ("note", "only published cells; missing cells are not zero"), ("output", str(out))]))


# ---------------------------------------------------------------------------------------------
def describe_data(events: pd.DataFrame | None = None, *, fata: str = "merge", scope: str = "militant",
                  coverage: tuple[str, str] | None = None) -> dict[str, Any]:
    """The numbers ``pakcast describe`` prints (yearly table, peaks, exclusions, limits)."""
    from pakcast.forecast import panel as pn

    if events is None:
        events = pn.load_shipped_events()
        meta = pn.shipped_meta()
        coverage = (meta["coverage_start"], meta["coverage_end"])
    year, rep_y = pn.build_panel_with_report(events, "year", fata=fata, scope=scope, coverage=coverage,
                                             with_population=False)
    _, rep_m = pn.build_panel_with_report(events, "month", fata=fata, scope=scope, coverage=coverage,
                                          with_population=False)
    year = year.assign(year=year["ds"].dt.year)
    wide = year.pivot(index="year", columns="unique_id", values=["attacks", "killed"])
    units = [u for u in [*pn.province_list(fata), pn.NATIONAL] if u in wide["attacks"].columns]
    table = []
    for y in wide.index:
        row = {"year": int(y)}
        for u in units:
            row[f"{u}|events"] = int(wide.loc[y, ("attacks", u)])
            row[f"{u}|killed"] = int(wide.loc[y, ("killed", u)])
        table.append(row)
    peaks = {}
    for u in units:
        a = wide[("attacks", u)]
        k = wide[("killed", u)]
        if a.sum() > 0:
            peaks[u] = {"events_year": int(a.idxmax()), "events": int(a.max()),
                        "killed_year": int(k.idxmax()), "killed": int(k.max())}
    by_scope = events["scope"].value_counts().to_dict()
    killed_scope = events.groupby("scope")["killed"].sum().to_dict()
    return {
        "source": sorted(events["source"].dropna().unique().tolist()), "fata": fata, "scope": scope,
        "events_total": int(len(events)), "killed_total": int(events["killed"].fillna(0).sum()),
        "by_scope": {k: {"events": int(v), "killed": int(killed_scope.get(k, 0))} for k, v in by_scope.items()},
        "units": units, "yearly": table, "peaks": peaks,
        "year_panel": rep_y.to_dict(), "month_panel": rep_m.to_dict(),
        "data_limits": DATA_LIMITS if set(events["source"].dropna()) <= {"ucdp"} else [
            "Limits of this source: see its documentation (pakcast's notes are in forecast/sources/)."],
    }


_SHORT = {"Balochistan": "Bal", "Khyber Pakhtunkhwa": "KP", "Punjab": "Pun", "Sindh": "Sin",
          "Islamabad Capital Territory": "ICT", "Gilgit-Baltistan": "GB", "Azad Jammu and Kashmir": "AJK",
          "FATA": "FATA", "Pakistan": "Pakistan"}


@app.command("describe")
def describe_cmd(
    input: Optional[Path] = typer.Option(None, "--input", exists=True, help="Describe this file instead."),
    source: Optional[SourceName] = typer.Option(None, "--source", help="Format of --input."),
    fata: Fata = typer.Option(Fata.merge, "--fata"),
    scope: str = typer.Option("militant", "--scope"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the numbers as JSON."),
    encoding: str = typer.Option("utf-8", "--encoding"),
) -> None:
    """Print the yearly national and provincial table (events, killed), peaks, exclusions and data limits."""
    from pakcast.forecast.io import write_json

    try:
        if input is not None:
            if source is None or source.value == "reported":
                raise ValueError("--input needs --source ucdp|gtd|acled|csv")
            res = _read_with_progress(input, source.value, "raise", encoding)
            d = describe_data(res.events, fata=fata.value, scope=scope)
        else:
            d = describe_data(fata=fata.value, scope=scope)
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    for measure, label in (("events", "Events (attacks) per year"), ("killed", "Killed (best estimate) per year")):
        t = Table(title=f"{label}: scope={d['scope']}, fata={d['fata']}, source {', '.join(d['source'])}",
                  title_justify="left")
        t.add_column("year", justify="right")
        for u in d["units"]:
            t.add_column(_SHORT.get(u, u), justify="right", style="bold" if u == "Pakistan" else None)
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
    ry, rm = d["year_panel"], d["month_panel"]
    scopes = ", ".join(f"{k} {v['events']:,} ({v['killed']:,} killed)" for k, v in sorted(d["by_scope"].items()))
    console.print(_summary_table("Counts and exclusions", [
        ("events in file", d["events_total"]), ("killed (best) in file", d["killed_total"]),
        ("by scope", scopes), ("in scope", ry["events_in_scope"]),
        ("year panel: unassigned province (in Pakistan only)",
         f"{ry['unassigned_province']:,} ({ry['unassigned_province_killed']:,} killed)"),
        ("month panel: excluded, date interval crosses a month",
         f"{rm['excluded_date_precision']:,} ({rm['excluded_date_precision_killed']:,} killed)"),
        ("month panel: unassigned province",
         f"{rm['unassigned_province']:,} ({rm['unassigned_province_killed']:,} killed)"),
    ]))
    console.print("[bold]Data limits[/]")
    for line in d["data_limits"]:
        console.print(f" - {line}")
    if json_out is not None:
        write_json(json_out, d)
        from pakcast.forecast import panel as pn
        from pakcast.forecast import paths

        used = [(input, source.value)] if input is not None else [(paths.shipped(pn.SHIPPED_EVENTS),
                                                                  "shipped events")]
        _write_sidecar_manifest("describe", {"input": None if input is None else str(input),
                                             "source": None if source is None else source.value,
                                             "fata": fata.value, "scope": scope, "encoding": encoding},
                                json_out, used)
        console.print(f"wrote {json_out} (and {json_out.stem}.manifest.json)")


# ---------------------------------------------------------------------------------------------
@data_app.command("build")
def data_build_cmd(
    shared: Optional[Path] = typer.Option(None, "--shared", help="The raw-data folder (default ../shared)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the shipped data/)."),
) -> None:
    """Rebuild every shipped table in data/ from ../shared (events, panels, population, geometry,
    reported aggregates, and the covariate tables)."""
    from pakcast.forecast import paths
    from pakcast.forecast.sources.build import build_shipped_tables

    try:
        shared_dir = Path(shared) if shared else paths.shared_dir()
        if not (shared_dir / "data").is_dir():
            raise FileNotFoundError(f"{shared_dir} has no data/ folder")
        out_dir = Path(out) if out else paths.shipped_dir()
        with console.status("rebuilding shipped tables"):
            written = build_shipped_tables(shared_dir, out_dir, log=lambda m: console.print(f"  {m}"))
    except (ValidationError, FileNotFoundError, ValueError) as exc:
        _fail(exc)
    from pakcast.forecast.covariates import build_shipped_tables as build_covariate_tables

    res = build_covariate_tables(shared_dir, out_dir)
    n = len(res) if isinstance(res, (list, tuple, dict)) else None
    console.print("  covariate tables rebuilt" + (f" ({n} files)" if n is not None else ""))
    console.print(f"[green]done[/]: {len(written)} foundation tables in {out_dir}")

