"""The data jobs behind ``pakcast ingest``, ``pakcast panel``, ``pakcast describe`` and ``pakcast data build``.

Each job reads its input through the readers (:mod:`pakcast.forecast.sources`), builds or stores
the tables with the one implementation of each step (:mod:`pakcast.forecast.panel`,
:mod:`pakcast.forecast.store`, :mod:`pakcast.forecast.sources.build`,
:mod:`pakcast.forecast.covariates`), writes its outputs atomically with a manifest beside them
(:func:`pakcast.forecast.manifest.write_beside`) and returns a :class:`DataJobResult`: the payload,
the files written and a summary table of ``(item, value)`` rows that the command prints.

Every expected failure (invalid rows, a missing file, a locked store, a wrong option combination)
is raised as one :class:`~pakcast.forecast.errors.InputError` (exit 1).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterator, Optional, Sequence

import pandas as pd

from pakcast.forecast import panel as pn
from pakcast.forecast import paths
from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.errors import InputError, PakcastError
from pakcast.forecast.io import write_csv
from pakcast.forecast.jobs import JobResult, write_json_output
from pakcast.forecast.manifest import RunManifest, write_beside

__all__ = ["DataJobResult", "Progress", "run_ingest", "run_panel", "run_describe", "run_data_build",
           "describe_data", "DATA_LIMITS"]

#: limits of the shipped event data, printed by ``pakcast describe``
DATA_LIMITS = list(PAKISTAN.event_data_limits)

#: ``progress(path, verb)``: a context manager giving a ``(bytes_done, bytes_total)`` callback or None
Progress = Callable[[Path, str], ContextManager[Optional[Callable[[int, int], None]]]]


@contextlib.contextmanager
def _no_progress(path: Path, verb: str) -> Iterator[None]:
    yield None


@dataclass
class DataJobResult(JobResult):
    """A data job's outcome; ``table`` is its summary: a title and ``(item, value)`` rows."""

    table: tuple[str, list[tuple[str, Any]]] | None = None

    def summary(self) -> str:
        rows = []
        if self.table is not None:
            title, items = self.table
            rows = [title] + [f"  {k}: {v:,}" if isinstance(v, int) else f"  {k}: {v}" for k, v in items]
        rest = super().summary()
        return "\n".join([*rows, *([rest] if rest else [])])


@contextlib.contextmanager
def _expected_failures() -> Iterator[None]:
    """An expected failure of a data job (bad rows, missing file, wrong options, store errors) as one
    :class:`InputError` line (exit 1)."""
    try:
        yield
    except InputError:
        raise
    except (FileNotFoundError, ValueError, PakcastError) as exc:
        raise InputError(str(exc)) from exc


def _read_events(path: Path, source: str, on_error: str, encoding: str, progress: Progress) -> Any:
    from pakcast.forecast.sources import read_source

    with progress(path, "reading") as cb:
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


def _manifest_beside(command: str, options: dict[str, Any], out: Path,
                     inputs: Sequence[tuple[Path, str]]) -> Path:
    """``<out stem>.manifest.json`` beside a single-file output: the inputs that are files, and the output."""
    m = RunManifest(command=command, options=options)
    for p, role in inputs:
        if Path(p).is_file():
            m.add_input(p, role=role)
    return write_beside(m, [out])


# ---------------------------------------------------------------------------------------------
def run_ingest(path: Path, source: str, *, store: Path | None = None, on_error: str = "raise",
               encoding: str = "utf-8", replace: bool = False,
               progress: Progress = _no_progress) -> DataJobResult:
    """Validate a source file and add its events (or, ``source="reported"``, its published figures)
    to the store in one transaction; the run is recorded in the store with its manifest."""
    from pakcast.forecast.store import Store

    options = {"source": source, "on_error": on_error, "encoding": encoding, "replace": replace}
    # the run is recorded in the store in the ingest's own transaction (Store.ingest(manifest=...))
    manifest = RunManifest(command="ingest", options=dict(options))
    if path.is_file():
        manifest.add_input(path, role=source)
    extra: list[tuple[str, Any]] = []
    with _expected_failures():
        try:
            if source == "reported":
                from pakcast.forecast.sources.reported import read_reported

                table, rejects, n = read_reported(path, on_error=on_error, encoding=encoding)
                with Store(store) as st:
                    summ = st.ingest_reported(table, rejects, path, options, rows_read=n, manifest=manifest)
                    where = store if store is not None else st.path
            else:
                from pakcast.forecast import sources

                stats = _StreamStats()
                with progress(path, "ingesting") as cb, Store(store) as st:
                    chunks = sources.iter_source(path, source, on_error=on_error, encoding=encoding, progress=cb)
                    summ = st.ingest(stats.watch(chunks), None, path, source, options, replace=replace,
                                     manifest=manifest)
                    where = store if store is not None else st.path
                rejects = stats.rejects
                extra = [("province by point in polygon", summ.point_in_polygon),
                         ("unassigned province (national only)", summ.unassigned),
                         ("skipped (other countries)", summ.skipped)]
                if stats.date_min is not None:
                    extra.append(("date range", f"{stats.date_min.date()} .. {stats.date_max.date()}"))
        except MemoryError:
            raise InputError(f"{path}: ran out of memory while ingesting; nothing was stored (the store is "
                             "unchanged). Free memory, or split the file") from None
    rows: list[tuple[str, Any]] = [("rows read", summ.rows_read), ("accepted", summ.accepted),
                                   ("rejected", summ.rejected), ("inserted", summ.inserted),
                                   ("duplicates (already in store)", summ.duplicates),
                                   *([("replaced (--replace)", summ.replaced)] if replace else []), *extra,
                                   ("store", str(where)), ("ingest id", summ.ingest_id)]
    lines = []
    if summ.rejected:
        lines.append(f"{summ.rejected} rejected row(s) are in the store's rejects table "
                     "(file, line, column, reason); the first:")
        lines += [f"  line {r.line}: {r.reason}" for r in rejects.head(5).itertuples()]
    return DataJobResult(payload={"ingest_id": summ.ingest_id, "store": str(where)}, lines=lines,
                         notes=list(summ.notes), table=(f"ingest {path.name} ({source})", rows))


# ---------------------------------------------------------------------------------------------
def run_panel(out: Path, *, freq: str = "month", fata: str = "merge", scope: str = "militant",
              input: Path | None = None, source: str | None = None, start: str | None = None,
              end: str | None = None, type_of_violence: list[int] | None = None, actor: str | None = None,
              metric: str = "attacks", reported_source: str | None = None, store: Path | None = None,
              on_error: str = "raise", encoding: str = "utf-8",
              progress: Progress = _no_progress) -> DataJobResult:
    """Write a province x period panel (national total as the profile's national series) to ``out``
    (CSV in :func:`pakcast.forecast.panel.to_csv_form`), with ``<stem>.manifest.json`` beside it.

    The events come from ``input`` (a file of ``source``), the events of ``source`` in ``store``, or
    the shipped UCDP tables; ``source="reported"`` writes one publisher's published cells instead.
    """
    with _expected_failures():
        if source == "reported":
            return _reported_panel(out, input, freq, metric, reported_source)
        if input is None and source is not None and store is None:
            raise ValueError("--source needs --input (a file) or --store (a DuckDB store)")
        if input is not None and source is None:
            raise ValueError("--input needs --source (ucdp, gtd, acled, csv, reported)")
        if input is not None and store is not None:
            raise ValueError("give either --input or --store, not both")
        filters = dict(start=start, end=end, type_of_violence=type_of_violence or None, actor=actor)
        notes: list[str] = []
        if store is not None:
            from pakcast.forecast.store import Store

            with Store(store, read_only=True) as st:
                have = st.ingests()["source"].unique().tolist()
                if source is None and len(have) != 1:
                    raise ValueError(f"the store holds sources {have}: choose one with --source "
                                     "(sources are never pooled)")
                src = source if source is not None else have[0]
                events = st.events(src)
            if events.empty:
                raise ValueError(f"no {src} events in {store}")
            panel, r = pn.build_panel_with_report(events, freq, fata=fata, scope=scope, **filters)
            rep, label = r.to_dict(), f"store {store} ({src})"
        elif input is None and not any(v for v in filters.values()):
            panel = pn.load_panel(freq, fata, scope)
            meta = pn.shipped_meta()
            rep = meta["panels"].get(pn.shipped_panel_name(freq, fata, "all" if scope == "all" else scope))
            if rep is None:
                _, r = pn.build_panel_with_report(pn.load_shipped_events(), freq, fata=fata, scope=scope,
                                                  coverage=(meta["coverage_start"], meta["coverage_end"]),
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
                res = _read_events(input, source, on_error, encoding, progress)
                events, coverage, label = res.events, None, f"{input.name} ({source})"
                if res.rejected:
                    notes.append(f"{res.rejected} row(s) rejected (--on-error report)")
            panel, r = pn.build_panel_with_report(events, freq, fata=fata, scope=scope, coverage=coverage,
                                                  **filters)
            rep = r.to_dict()
        write_csv(out, pn.to_csv_form(panel, freq))
        if input is not None:
            used = [(input, source)]
        elif store is not None:
            used = [(store, "store")]
        else:
            shipped = paths.shipped_dir() / pn.shipped_panel_name(freq, fata, "all" if scope == "all" else scope)
            used = [(shipped, "shipped panel")] if shipped.exists() and not any(filters.values()) else [
                (paths.shipped(pn.SHIPPED_EVENTS), "shipped events")]
        m = _manifest_beside("panel", {
            "freq": freq, "fata": fata, "scope": scope, "input": None if input is None else str(input),
            "source": source, "store": None if store is None else str(store), **filters,
            "on_error": on_error, "encoding": encoding}, out, used)
    rows = [("input", label), ("frequency", rep["freq"]), ("fata", rep["fata"]), ("scope", rep["scope"]),
            ("events in scope", rep["events_in_scope"]), ("out of scope", rep["events_out_of_scope"]),
            ("removed by filters", rep["events_filtered"]),
            ("excluded: date interval crosses a period",
             f"{rep['excluded_date_precision']:,} ({rep['excluded_date_precision_killed']:,} killed)"),
            ("unassigned province (national only)",
             f"{rep['unassigned_province']:,} ({rep['unassigned_province_killed']:,} killed)"),
            ("events in panel", rep["events_in_panel"]), ("killed in panel", rep["killed_in_panel"]),
            ("periods", f"{rep['start']} .. {rep['end']}"), ("rows written", len(panel)), ("output", str(out))]
    return DataJobResult(payload=rep, outputs=[out, m], notes=notes, table=("panel", rows))


def _reported_panel(out: Path, input: Path | None, freq: str, metric: str,
                    reported_source: str | None) -> DataJobResult:
    from pakcast.forecast.sources.reported import load_reported, reported_panel

    if not reported_source:
        raise ValueError("--source reported needs --reported-source (one of PICSS, PIPS, CRSS, SATP, GTI, "
                         "OFFICIAL, OTHER): sources are never pooled")
    table = load_reported(input)
    ptype = {"month": "month", "quarter": "quarter", "year": "year"}.get(freq)
    if ptype is None:
        raise ValueError("published aggregates exist only by month, quarter, half or year")
    p = reported_panel(table, reported_source, metric, ptype)
    csv = pd.DataFrame({"province": p["unique_id"], "period": p["ds"].dt.strftime("%Y-%m-%d"),
                        "period_label": p["period"], "source": reported_source, "metric": metric,
                        "value": p["value"], "url": p["url"]})
    write_csv(out, csv)
    used = [(input, "reported")] if input is not None else [(paths.shipped("reported_aggregates.csv"),
                                                             "shipped reported aggregates")]
    m = _manifest_beside("panel", {"source": "reported", "input": None if input is None else str(input),
                               "freq": freq, "metric": metric, "reported_source": reported_source}, out, used)
    return DataJobResult(payload={"source": reported_source, "metric": metric, "resolution": ptype},
                         outputs=[out, m],
                         table=("reported panel", [
                             ("source", reported_source), ("metric", metric), ("resolution", ptype),
                             ("published cells", len(csv)),
                             ("units", ", ".join(sorted(csv["province"].unique()))),
                             ("note", "only published cells; missing cells are not zero"), ("output", str(out))]))


# ---------------------------------------------------------------------------------------------
def describe_data(events: pd.DataFrame | None = None, *, fata: str = "merge", scope: str = "militant",
                  coverage: tuple[str, str] | None = None) -> dict[str, Any]:
    """The numbers ``pakcast describe`` prints (yearly table, peaks, exclusions, limits)."""
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


def run_describe(*, input: Path | None = None, source: str | None = None, fata: str = "merge",
                 scope: str = "militant", json_out: Path | None = None, encoding: str = "utf-8",
                 progress: Progress = _no_progress) -> DataJobResult:
    """:func:`describe_data` of the shipped events or of ``input`` (a file of ``source``); the numbers
    written to ``json_out`` when given (with ``<stem>.manifest.json``)."""
    with _expected_failures():
        if input is not None:
            if source is None or source == "reported":
                raise ValueError("--input needs --source ucdp|gtd|acled|csv")
            res = _read_events(input, source, "raise", encoding, progress)
            d = describe_data(res.events, fata=fata, scope=scope)
        else:
            d = describe_data(fata=fata, scope=scope)
    ry, rm = d["year_panel"], d["month_panel"]
    scopes = ", ".join(f"{k} {v['events']:,} ({v['killed']:,} killed)" for k, v in sorted(d["by_scope"].items()))
    rows = [("events in file", d["events_total"]), ("killed (best) in file", d["killed_total"]),
            ("by scope", scopes), ("in scope", ry["events_in_scope"]),
            ("year panel: unassigned province (in Pakistan only)",
             f"{ry['unassigned_province']:,} ({ry['unassigned_province_killed']:,} killed)"),
            ("month panel: excluded, date interval crosses a month",
             f"{rm['excluded_date_precision']:,} ({rm['excluded_date_precision_killed']:,} killed)"),
            ("month panel: unassigned province",
             f"{rm['unassigned_province']:,} ({rm['unassigned_province_killed']:,} killed)")]
    outputs: list[Path] = []
    if json_out is not None:
        used = [(input, source)] if input is not None else [(paths.shipped(pn.SHIPPED_EVENTS), "shipped events")]
        manifest = RunManifest(command="describe", options={
            "input": None if input is None else str(input), "source": source, "fata": fata, "scope": scope,
            "encoding": encoding})
        for p, role in used:
            manifest.add_input(p, role=role)
        outputs = write_json_output(json_out, d, manifest)
    return DataJobResult(payload=d, outputs=outputs, table=("Counts and exclusions", rows))


# ---------------------------------------------------------------------------------------------
def run_data_build(shared: Path | None = None, out: Path | None = None,
                   log: Callable[[str], None] = print) -> DataJobResult:
    """Rebuild every shipped table in ``out`` (default: the shipped ``data/``) from ``shared``
    (default ``../shared``): the foundation tables (:func:`pakcast.forecast.sources.build.build_shipped_tables`)
    and the covariate tables (:func:`pakcast.forecast.covariates.build_shipped_tables`)."""
    from pakcast.forecast.covariates import build_shipped_tables as build_covariate_tables
    from pakcast.forecast.sources.build import build_shipped_tables

    with _expected_failures():
        shared_dir = Path(shared) if shared else paths.shared_dir()
        if not (shared_dir / "data").is_dir():
            raise FileNotFoundError(f"{shared_dir} has no data/ folder")
        out_dir = Path(out) if out else paths.shipped_dir()
        written = build_shipped_tables(shared_dir, out_dir, log=log)
        covariates = build_covariate_tables(shared_dir, out_dir)
    return DataJobResult(payload={"out": str(out_dir), "foundation": [str(p) for p in written],
                                  "covariates": [str(p) for p in covariates]},
                         lines=[f"  covariate tables rebuilt ({len(covariates)} files)",
                                f"done: {len(written)} foundation tables in {out_dir}"])
