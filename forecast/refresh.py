"""The refresh step of the quarterly run: fetch the configured sources, ingest them, build the panel.

``pakcast quarterly --refresh`` calls :func:`refresh` before the run:

1. each configured source (:class:`RefreshSource`: ``ucdp:candidate:25.0.9``, ``ucdp:ged:25.1``,
   ``acled``) is downloaded by its client in :mod:`forecast.fetch` into ``out_dir``; a source that
   cannot be reached (or refuses the credentials, or returns nothing) is recorded as *failed* with
   its one-line reason and the refresh goes on;
2. every downloaded file is validated and ingested into the store (:meth:`forecast.store.Store.ingest`
   with ``replace=True``: a newer release or download revises earlier events, e.g. UCDP's yearly
   GED revises its candidate events, ACLED updates fatalities; rejected rows are kept in the store's
   rejects table and counted);
3. the monthly panel of the run's source (``panel_source``, UCDP by default: sources are never
   pooled) is built from *all* of that source's events in the store
   (:func:`forecast.panel.build_panel_with_report`, militant scope, FATA merged) and written as
   ``panel_<source>_month.csv``, which becomes the run's ``--input``. The panel ends with the month
   of the latest event, or on the last day a refreshed release covers (Candidate ``25.0.9``: 30
   September 2025), whichever is later: never padded with zeros beyond the data. Runs of six or more months
   without a single event nationally are listed in the notes: in the UCDP record that is usually a
   release not ingested (months it would cover count as zeros in the panel).

The user's table of published figures (``pakcast reported add``; ``$PAKCAST_REPORTED`` or the
user data dir) is ingested into the store as well, and the run compares with it beside the shipped
figures (its rows come last, so a revision there wins).

The :class:`RefreshReport` goes into the run's ``results.json`` under ``refresh``; each failed
source becomes a ``not_produced`` entry, which the briefing lists.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from pakcast.forecast.errors import InputError, PakcastError

__all__ = ["RefreshSource", "RefreshConfig", "RefreshReport", "SourceOutcome", "refresh", "refresh_quarterly",
           "parse_sources", "REFRESH_ENV"]

REFRESH_ENV = "PAKCAST_REFRESH"  # default source list, e.g. "ucdp:candidate:25.0.9,acled"
SINCE_ENV = "PAKCAST_REFRESH_SINCE"
MIN_ZERO_RUN = 6


@dataclass(frozen=True)
class RefreshSource:
    """One download: ``service`` (ucdp | acled), ``dataset`` (ged | candidate | events), ``version``."""

    service: str
    dataset: str
    version: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "RefreshSource":
        """``ucdp:<ged|candidate>:<version>`` or ``acled``."""
        parts = [p.strip() for p in spec.strip().split(":")]
        if parts[0] == "acled" and len(parts) == 1:
            return cls("acled", "events")
        if parts[0] == "ucdp" and len(parts) == 3 and parts[1] in ("ged", "candidate") and parts[2]:
            from pakcast.forecast.fetch.ucdp import check_version

            return cls("ucdp", parts[1], check_version(parts[1], parts[2]))
        raise InputError(f"refresh source {spec!r}: expected ucdp:candidate:<version> (e.g. ucdp:candidate:25.0.9), "
                         "ucdp:ged:<version> (e.g. ucdp:ged:25.1) or acled")

    @property
    def name(self) -> str:
        return self.service if self.version is None else f"{self.service} {self.dataset} {self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.service}_{self.dataset}" + (f"_{self.version}" if self.version else "") + ".csv"


def parse_sources(text: str | None) -> tuple[RefreshSource, ...]:
    """A comma list of source specs (default ``$PAKCAST_REFRESH``); an :class:`InputError` if none."""
    text = text if text else os.environ.get(REFRESH_ENV, "")
    specs = [s for s in re.split(r"[,\s]+", text) if s]
    if not specs:
        raise InputError(f"--refresh: no sources configured: give --refresh-sources (e.g. "
                         f"ucdp:candidate:25.0.9,acled) or set ${REFRESH_ENV}")
    return tuple(RefreshSource.parse(s) for s in specs)


@dataclass
class RefreshConfig:
    """What to refresh and where: sources, date filter, store, download folder, the panel's source.

    Credentials and API addresses come from the environment (``UCDP_TOKEN``, ``ACLED_EMAIL``,
    ``ACLED_PASSWORD`` or ``ACLED_KEY``, ``PAKCAST_UCDP_API_URL``, ``PAKCAST_ACLED_API_URL``).
    """

    sources: tuple[RefreshSource, ...]
    out_dir: str | Path
    store: str | Path | None = None
    since: str | None = None
    until: str | None = None
    panel_source: str = "ucdp"
    retries: int = 5
    timeout: float = 60.0
    cache_dir: str | Path | None = None
    reported: str | Path | None = None

    def __post_init__(self) -> None:
        if self.since is None:
            self.since = os.environ.get(SINCE_ENV) or None
        if self.store is not None and str(self.store).lower() == "none":
            raise InputError("--refresh ingests the downloads into the store: give --store PATH (not 'none')")
        if self.panel_source not in ("ucdp", "acled"):
            raise InputError(f"panel source {self.panel_source!r}: choose ucdp or acled")


@dataclass
class SourceOutcome:
    """How one source's refresh went (``status``: ok | failed)."""

    name: str
    service: str
    status: str
    file: str | None = None
    records: int | None = None
    sha256: str | None = None
    ingest: dict[str, Any] | None = None
    error: str | None = None


@dataclass
class RefreshReport:
    """Outcome of :func:`refresh`: per source, the panel built from the store, notes."""

    sources: list[SourceOutcome] = field(default_factory=list)
    panel: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    reported: dict[str, Any] | None = None

    @property
    def failed(self) -> list[SourceOutcome]:
        return [s for s in self.sources if s.status != "ok"]

    @property
    def panel_path(self) -> Path | None:
        return Path(self.panel["path"]) if self.panel else None

    def not_produced(self) -> dict[str, str]:
        """``not_produced`` entries for the run: one per source that was not refreshed."""
        return {f"refresh {s.name}": f"not refreshed ({s.error}); the run used the {s.service} data already in "
                                     "the store" for s in self.failed}

    def to_dict(self) -> dict[str, Any]:
        return {"sources": [asdict(s) for s in self.sources], "panel": self.panel, "reported": self.reported,
                "notes": list(self.notes), "failed": [s.name for s in self.failed],
                "not_produced": self.not_produced()}


def _fetch(src: RefreshSource, config: RefreshConfig, out: Path):
    from pakcast.forecast.fetch.http import HttpClient, default_cache_dir

    cache = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    if src.service == "ucdp":
        from pakcast.forecast.fetch.ucdp import fetch_ucdp

        client = HttpClient("UCDP", cache_dir=cache, max_retries=config.retries, timeout=config.timeout)
        return fetch_ucdp(out, dataset=src.dataset, version=src.version or "", since=config.since,
                          until=config.until, client=client)
    from pakcast.forecast.fetch.acled import fetch_acled

    client = HttpClient("ACLED", cache_dir=cache, cache_ttl=24 * 3600, max_retries=config.retries,
                        timeout=config.timeout)
    return fetch_acled(out, since=config.since, until=config.until, client=client)


def _zero_runs(national: pd.DataFrame, min_len: int = MIN_ZERO_RUN) -> list[tuple[str, str, int]]:
    """Runs of at least ``min_len`` consecutive months without an event nationally: ``(first, last, n)``."""
    s = national.sort_values("ds")
    zero = (s["attacks"].to_numpy() == 0)
    out, start = [], None
    ds = s["ds"].dt.strftime("%Y-%m").tolist()
    for i, z in enumerate(list(zero) + [False]):
        if z and start is None:
            start = i
        elif not z and start is not None:
            if i - start >= min_len:
                out.append((ds[start], ds[i - 1], i - start))
            start = None
    return out


def _ingest_reported(store: Any, path: Path, notes: list[str], say: Callable[[str], None]) -> dict[str, Any]:
    """The user's table of published figures (``pakcast reported add``) into the store."""
    from pakcast.forecast.sources.reported import read_reported

    try:
        table, rejects, n = read_reported(path, on_error="report")
        summ = store.ingest_reported(table, rejects, path, {"refresh": True}, rows_read=n)
    except (PakcastError, ValueError, OSError) as exc:
        notes.append(f"published figures {path} not ingested: {exc}")
        return {"path": str(path), "status": "failed", "error": str(exc)}
    rec = {"path": str(path), "status": "ok", "rows_read": summ.rows_read, "accepted": summ.accepted,
           "rejected": summ.rejected, "inserted": summ.inserted}
    if summ.rejected:
        notes.append(f"published figures {path}: {summ.rejected} invalid row(s) (in the store's rejects table); "
                     "the table is not used by this run until they are fixed")
    say(f"published figures {path}: {summ.accepted:,} valid, {summ.inserted:,} new, {summ.rejected:,} rejected")
    return rec


def refresh(config: RefreshConfig, log: Callable[[str], None] | None = None) -> RefreshReport:
    """Fetch, ingest, build the panel (see the module docstring); never raises for a failed source."""
    from pakcast.forecast import panel as pn
    from pakcast.forecast.io import write_csv
    from pakcast.forecast.manifest import RunManifest
    from pakcast.forecast.sources import read_source
    from pakcast.forecast.store import Store

    say = log or (lambda m: None)
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = RefreshReport()
    store = Store(config.store)
    for src in config.sources:
        target = out_dir / src.file_name
        try:
            res = _fetch(src, config, target)
        except PakcastError as exc:
            report.sources.append(SourceOutcome(src.name, src.service, "failed", error=str(exc)))
            say(f"{src.name}: not refreshed: {exc}")
            continue
        try:
            rr = read_source(target, src.service, on_error="report")
            opts = {"refresh": True, "source": src.service, "dataset": src.dataset, "version": src.version,
                    "since": config.since}
            run = RunManifest(command="ingest", options=dict(opts))  # recorded in the ingest's transaction
            run.add_input(target, role=src.service)
            summ = store.ingest(rr.events, rr.rejects, target, src.service, opts, rows_read=rr.rows_read,
                                skipped=rr.skipped, replace=True, manifest=run)
        except (PakcastError, ValueError, OSError) as exc:
            report.sources.append(SourceOutcome(src.name, src.service, "failed", file=str(target),
                                                records=res.records, sha256=res.sha256,
                                                error=f"downloaded but not ingested: {exc}"))
            say(f"{src.name}: downloaded but not ingested: {exc}")
            continue
        ing = {k: v for k, v in summ.to_dict().items() if k not in ("file_sha256",)}
        report.sources.append(SourceOutcome(src.name, src.service, "ok", file=str(target), records=res.records,
                                            sha256=res.sha256, ingest=ing))
        say(f"{src.name}: {res.records:,} records -> {summ.inserted:,} new, {summ.replaced:,} replaced, "
            f"{summ.rejected:,} rejected")
    if config.reported is not None and Path(config.reported).exists():
        report.reported = _ingest_reported(store, Path(config.reported), report.notes, say)
    events = store.events(config.panel_source)
    if events.empty:
        report.notes.append(f"the store holds no {config.panel_source} events: the run uses its default panel")
        return report
    # the panel ends where the data end, never padded with zeros to the end of the year: the end of the
    # month of the latest event, or the last day a refreshed release covers if later
    ends = [events["date_end"].fillna(events["date"]).max().to_period("M").end_time.normalize()]
    if config.panel_source == "ucdp":
        from pakcast.forecast.fetch.ucdp import release_end

        ends += [pd.Timestamp(release_end(s.dataset, s.version or "")) for s, o in zip(config.sources, report.sources)
                 if s.service == "ucdp" and o.status == "ok"]
    lo = pd.Timestamp(year=int(events["date"].min().year), month=1, day=1)
    panel, prep = pn.build_panel_with_report(events, "month", fata="merge", scope="militant",
                                             coverage=(lo, max(ends)))
    path = out_dir / f"panel_{config.panel_source}_month.csv"
    write_csv(path, pn.to_csv_form(panel, "month"))
    nat = panel[panel["unique_id"] == pn.NATIONAL]
    rep = prep.to_dict()
    report.panel = {"path": str(path), "source": config.panel_source, "store": str(store.path),
                    "events_in_store": int(len(events)), "first_month": str(nat["ds"].min().date())[:7],
                    "last_month": str(nat["ds"].max().date())[:7],
                    "exclusions": {k: v for k, v in rep.items() if isinstance(v, (int, float))
                                   and k.startswith(("excluded", "unassigned", "events_out"))}}
    for a, b, n in _zero_runs(nat):
        report.notes.append(f"{config.panel_source}: no event at all in {a}..{b} ({n} months); if no release "
                            "covering these months is in the store, ingest it: they count as zeros in the panel")
    return report


def refresh_quarterly(config: Any, sources: str | None = None, since: str | None = None,
                      log: Callable[[str], None] | None = None) -> RefreshReport:
    """Refresh for a :class:`forecast.quarterly.QuarterlyConfig`: downloads go to ``<out>/refresh/``,
    the store is the run's; the panel built from the store becomes ``config.input`` and the report
    ``config.refresh`` (written to ``results.json``)."""
    if config.input is not None:
        raise InputError("--refresh builds the panel from the store: do not give --input as well")
    from pakcast.forecast.sources.reported import default_reported_table

    rc = RefreshConfig(sources=parse_sources(sources), out_dir=Path(config.out) / "refresh", store=config.store,
                       since=since, reported=default_reported_table())
    report = refresh(rc, log=log)
    if report.panel_path is not None:
        config.input = report.panel_path
    config.refresh = report.to_dict()
    return report
