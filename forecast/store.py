"""The pakcast store: one DuckDB file holding events, ingests, panels, runs, forecast vintages, scores.

Default location: :func:`forecast.paths.default_store_path` (``$PAKCAST_STORE`` or the user's data
directory); ``--store PATH`` on the CLI.

Schema
------
``events``       canonical event table (``forecast.validate.EVENT_COLUMNS``) + ``ingest_id``;
                 primary key ``(source, event_id)``.
``rejects``      ``ingest_id, source, file, line, event_id, column, value, reason`` (rows refused by
                 validation, one per record).
``ingests``      one row per ingested file: ``ingest_id, source, file, file_sha256, options`` (JSON),
                 ``rows_read, accepted, rejected, inserted, duplicates, skipped, unassigned,
                 point_in_polygon, created, versions`` (JSON); unique on ``(source, file_sha256)``.
``reported``     published aggregates (:mod:`forecast.sources.reported`) + ``ingest_id``.
``panels``       cached panels: ``panel_key`` (JSON of the options), ``unique_id, ds`` and the measures.
``covariates``   long covariates: ``name, unique_id, ds, variable, value``.
``runs``         one row per run: ``run_id`` (key), ``command, created, git_revision, manifest`` (JSON
                 of :class:`forecast.manifest.RunManifest`).
``vintages``     forecast vintages: ``vintage_id`` (key), ``run_id, as_of, created, n_rows, columns``
                 (JSON name -> dtype). A vintage is registered only after all its rows are in.
``forecasts``    immutable forecast rows: ``vintage_id, row_no, record`` (JSON of one row).
``scores``       ``vintage_id, row_no, record`` (JSON), ``created``.

Guarantees
----------
* Every write runs in one transaction (all or nothing).
* Ingestion is idempotent: a file already ingested for a source (same sha256) adds nothing, and
  events already present under ``(source, event_id)`` are counted as duplicates, not inserted.
* Forecast vintages are immutable: each :meth:`Store.add_forecast_vintage` creates a new id; nothing
  is overwritten.
* Processes never write at once: every access takes an ``fcntl.flock`` on ``<store>.lock``
  (exclusive for writes, shared for reads); a second writer waits up to ``lock_timeout`` seconds and
  then fails with :class:`StoreLockedError` (``$PAKCAST_LOCK_TIMEOUT`` changes the default wait).
* A process killed at any point leaves each write all done or not done (DuckDB transactions; the
  reliability tests kill runs at the injected points ``store.locked``, ``store.ingest.before_commit``
  and ``store.vintage.before_register``, see :func:`forecast.io.fault_point`).
"""

from __future__ import annotations

from pakcast.forecast.errors import GateError

import contextlib
import datetime as _dt
import fcntl
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import duckdb
import numpy as np
import pandas as pd

from pakcast.forecast import paths
from pakcast.forecast.io import fault_point, sha256_file, to_jsonable
from pakcast.forecast.manifest import RunManifest, package_versions
from pakcast.forecast.validate import EVENT_COLUMNS, REJECT_COLUMNS, coerce_events

DEFAULT_LOCK_TIMEOUT = 60.0
LOCK_TIMEOUT_ENV = "PAKCAST_LOCK_TIMEOUT"  # overrides the default wait for another process's lock

_EVENT_SQL_TYPES = {
    "source": "VARCHAR", "event_id": "VARCHAR", "date": "DATE", "date_end": "DATE",
    "date_precision": "VARCHAR", "province": "VARCHAR", "district": "VARCHAR", "latitude": "DOUBLE",
    "longitude": "DOUBLE", "killed": "BIGINT", "killed_low": "BIGINT", "killed_high": "BIGINT",
    "injured": "BIGINT", "event_type": "VARCHAR", "actor": "VARCHAR", "scope": "VARCHAR",
    "province_method": "VARCHAR", "type_of_violence": "INTEGER", "conflict_name": "VARCHAR",
}
_REPORTED_COLS = ["source", "period_type", "period", "period_start", "period_end", "region", "province",
                  "kp_definition", "metric", "value", "url", "note", "file", "line"]

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS events ("
    + ", ".join(f'"{c}" {_EVENT_SQL_TYPES[c]}' for c in EVENT_COLUMNS)
    + ", ingest_id VARCHAR, PRIMARY KEY (source, event_id))",
    "CREATE TABLE IF NOT EXISTS rejects (ingest_id VARCHAR, source VARCHAR, file VARCHAR, line BIGINT, "
    "event_id VARCHAR, \"column\" VARCHAR, value VARCHAR, reason VARCHAR)",
    "CREATE TABLE IF NOT EXISTS ingests (ingest_id VARCHAR PRIMARY KEY, source VARCHAR, file VARCHAR, "
    "file_sha256 VARCHAR, options JSON, rows_read BIGINT, accepted BIGINT, rejected BIGINT, inserted BIGINT, "
    "duplicates BIGINT, skipped BIGINT, unassigned BIGINT, point_in_polygon BIGINT, created TIMESTAMP, "
    "versions JSON, UNIQUE (source, file_sha256))",
    "CREATE TABLE IF NOT EXISTS reported (source VARCHAR, period_type VARCHAR, period VARCHAR, "
    "period_start DATE, period_end DATE, region VARCHAR, province VARCHAR, kp_definition VARCHAR, "
    "metric VARCHAR, value DOUBLE, url VARCHAR, note VARCHAR, file VARCHAR, line BIGINT, ingest_id VARCHAR)",
    "CREATE TABLE IF NOT EXISTS panels (panel_key VARCHAR, created TIMESTAMP, unique_id VARCHAR, ds DATE, "
    "attacks BIGINT, killed BIGINT, killed_low BIGINT, killed_high BIGINT, injured DOUBLE, population DOUBLE)",
    "CREATE TABLE IF NOT EXISTS covariates (name VARCHAR, unique_id VARCHAR, ds DATE, variable VARCHAR, "
    "value DOUBLE, created TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS runs (run_id VARCHAR PRIMARY KEY, command VARCHAR, created VARCHAR, "
    "git_revision VARCHAR, manifest JSON)",
    "CREATE TABLE IF NOT EXISTS vintages (vintage_id VARCHAR PRIMARY KEY, run_id VARCHAR, as_of DATE, "
    "created TIMESTAMP, n_rows BIGINT, columns JSON)",
    "CREATE TABLE IF NOT EXISTS forecasts (vintage_id VARCHAR, row_no BIGINT, record JSON)",
    "CREATE TABLE IF NOT EXISTS scores (vintage_id VARCHAR, row_no BIGINT, record JSON, created TIMESTAMP)",
]


class StoreLockedError(GateError):
    """Another process holds the store's lock for longer than the timeout."""


@dataclass
class IngestSummary:
    """Counts of one ingestion (``rows_read == accepted + rejected``)."""

    ingest_id: str
    source: str
    file: str
    file_sha256: str
    rows_read: int
    accepted: int
    rejected: int
    inserted: int
    duplicates: int
    skipped: int = 0
    unassigned: int = 0
    point_in_polygon: int = 0
    replaced: int = 0
    already_ingested: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


class Store:
    """The DuckDB store (see the module docstring for the schema).

    Parameters
    ----------
    path : database file; default :func:`forecast.paths.default_store_path`.
    lock_timeout : seconds a writer waits for another process's lock before failing (default
        ``$PAKCAST_LOCK_TIMEOUT`` or 60).

    Examples
    --------
    >>> with Store("/tmp/pakcast-example.duckdb") as store:   # doctest: +SKIP
    ...     summary = store.ingest(res.events, res.rejects, res.path, "ucdp", {"on_error": "raise"})
    """

    def __init__(self, path: str | os.PathLike | None = None, lock_timeout: float | None = None):
        self.path = Path(path) if path is not None else paths.default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        if lock_timeout is None:
            lock_timeout = float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT))
        self.lock_timeout = float(lock_timeout)
        with self._connect(write=True) as con:
            for stmt in SCHEMA:
                con.execute(stmt)

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls; kept for symmetry with the context manager."""

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- locking and connections ----------------------------------------------------------
    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        fh = open(self.lock_path, "a+")
        try:
            mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), mode)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreLockedError(
                            f"the store {self.path} is in use by another pakcast process (lock file "
                            f"{self.lock_path}); waited {self.lock_timeout:g} s. Retry when it has finished, "
                            "or use another --store") from None
                    time.sleep(0.05)
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    @contextlib.contextmanager
    def _connect(self, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock(exclusive=write):
            read_only = (not write) and self.path.exists()
            con = duckdb.connect(str(self.path), read_only=read_only)
            try:
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connect(write=True) as con:
            fault_point("store.locked")
            con.begin()
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            con.commit()

    def _query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with self._connect(write=False) as con:
            return con.execute(sql, params or []).df()

    # -- ingestion ------------------------------------------------------------------------
    def ingest(self, events_df: pd.DataFrame, rejects_df: pd.DataFrame | None, file_path: str | os.PathLike,
               source: str, options: dict[str, Any] | None = None, *, rows_read: int | None = None,
               skipped: int = 0, replace: bool = False) -> IngestSummary:
        """Add one file's canonical events and rejects in a single transaction (idempotent).

        ``rows_read`` defaults to ``accepted + rejected``. Events already stored under the same
        ``(source, event_id)`` are kept and counted as ``duplicates``; with ``replace=True`` they are
        overwritten by this file's values instead (for a newer release of the same source, e.g. a later
        UCDP GED version that revised earlier events; counted as ``replaced``).
        """
        file_path = Path(file_path)
        sha = sha256_file(file_path)
        rejects_df = rejects_df if rejects_df is not None else pd.DataFrame(columns=REJECT_COLUMNS)
        accepted, rejected = int(len(events_df)), int(len(rejects_df))
        rows_read = accepted + rejected if rows_read is None else int(rows_read)
        if rows_read != accepted + rejected:
            raise ValueError(f"rows_read {rows_read} != accepted {accepted} + rejected {rejected}")
        ev = coerce_events(events_df) if len(events_df) else coerce_events(pd.DataFrame(columns=EVENT_COLUMNS))
        ingest_id = f"ingest-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        unassigned = int((ev["province_method"] == "unassigned").sum())
        pip = int((ev["province_method"] == "point_in_polygon").sum())
        with self._transaction() as con:
            prev = _one(con, "SELECT ingest_id FROM ingests WHERE source = ? AND file_sha256 = ?", [source, sha])
            if prev is not None:
                return IngestSummary(prev[0], source, str(file_path), sha, rows_read, accepted, rejected,
                                     inserted=0, duplicates=accepted, skipped=skipped, unassigned=unassigned,
                                     point_in_polygon=pip, already_ingested=True,
                                     notes=[f"this file was already ingested as {prev[0]}: nothing added"])
            ev = ev.assign(ingest_id=ingest_id)
            for c in ("date", "date_end"):
                ev[c] = ev[c].dt.date
            before = _one(con, "SELECT count(*) FROM events")[0]
            con.register("ev_in", ev)
            cols = ", ".join(f'"{c}"' for c in [*EVENT_COLUMNS, "ingest_id"])
            verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
            con.execute(f"{verb} INTO events ({cols}) SELECT {cols} FROM ev_in")
            con.unregister("ev_in")
            inserted = _one(con, "SELECT count(*) FROM events")[0] - before
            fault_point("store.ingest.before_commit")
            if rejected:
                rj = rejects_df.reindex(columns=REJECT_COLUMNS).assign(ingest_id=ingest_id)
                rj["line"] = pd.to_numeric(rj["line"]).astype("Int64")
                con.register("rj_in", rj)
                con.execute('INSERT INTO rejects SELECT ingest_id, source, file, line, event_id, "column", '
                            "value, reason FROM rj_in")
                con.unregister("rj_in")
            con.execute("INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [ingest_id, source, str(file_path), sha, json.dumps(to_jsonable(options or {})),
                         rows_read, accepted, rejected, int(inserted), int(accepted - inserted), skipped,
                         unassigned, pip, _now(), json.dumps(package_versions())])
        return IngestSummary(ingest_id, source, str(file_path), sha, rows_read, accepted, rejected,
                             inserted=int(inserted), duplicates=0 if replace else int(accepted - inserted),
                             skipped=skipped, unassigned=unassigned, point_in_polygon=pip,
                             replaced=int(accepted - inserted) if replace else 0)

    def ingest_reported(self, table: pd.DataFrame, rejects_df: pd.DataFrame | None,
                        file_path: str | os.PathLike, options: dict[str, Any] | None = None,
                        *, rows_read: int | None = None) -> IngestSummary:
        """Add published aggregates (tidy table of :mod:`forecast.sources.reported`), idempotently."""
        file_path = Path(file_path)
        sha = (sha256_file(file_path) if file_path.is_file()
               else _dir_sha(sorted(file_path.glob("*.csv"))))
        rejects_df = rejects_df if rejects_df is not None else pd.DataFrame(columns=REJECT_COLUMNS)
        accepted, rejected = int(len(table)), int(len(rejects_df))
        rows_read = accepted + rejected if rows_read is None else int(rows_read)
        ingest_id = f"ingest-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        with self._transaction() as con:
            prev = _one(con, "SELECT ingest_id FROM ingests WHERE source = 'reported' AND file_sha256 = ?", [sha])
            if prev is not None:
                return IngestSummary(prev[0], "reported", str(file_path), sha, rows_read, accepted, rejected,
                                     0, accepted, already_ingested=True,
                                     notes=[f"already ingested as {prev[0]}: nothing added"])
            t = table.reindex(columns=_REPORTED_COLS).assign(ingest_id=ingest_id)
            for c in ("period_start", "period_end"):
                t[c] = pd.to_datetime(t[c]).dt.date
            before = _one(con, "SELECT count(*) FROM reported")[0]
            con.register("rp_in", t)
            con.execute("INSERT INTO reported SELECT * FROM rp_in r WHERE NOT EXISTS (SELECT 1 FROM reported x "
                        "WHERE x.source = r.source AND x.period_type = r.period_type AND x.period = r.period AND "
                        "x.region = r.region AND x.metric = r.metric AND x.value = r.value AND x.url = r.url)")
            con.unregister("rp_in")
            inserted = _one(con, "SELECT count(*) FROM reported")[0] - before
            if rejected:
                rj = rejects_df.reindex(columns=REJECT_COLUMNS).assign(ingest_id=ingest_id)
                rj["line"] = pd.to_numeric(rj["line"]).astype("Int64")
                con.register("rj_in", rj)
                con.execute('INSERT INTO rejects SELECT ingest_id, source, file, line, event_id, "column", '
                            "value, reason FROM rj_in")
                con.unregister("rj_in")
            con.execute("INSERT INTO ingests VALUES (?, 'reported', ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?, ?)",
                        [ingest_id, str(file_path), sha, json.dumps(to_jsonable(options or {})), rows_read,
                         accepted, rejected, int(inserted), int(accepted - inserted), _now(),
                         json.dumps(package_versions())])
        return IngestSummary(ingest_id, "reported", str(file_path), sha, rows_read, accepted, rejected,
                             int(inserted), int(accepted - inserted))

    # -- reading --------------------------------------------------------------------------
    def events(self, source: str | None = None) -> pd.DataFrame:
        """Canonical events (all sources, or one)."""
        sql = "SELECT * FROM events" + (" WHERE source = ?" if source else "") + " ORDER BY source, date, event_id"
        df = self._query(sql, [source] if source else [])
        return coerce_events(df.drop(columns=["ingest_id"], errors="ignore")) if len(df) else coerce_events(
            pd.DataFrame(columns=EVENT_COLUMNS))

    def rejects(self, source: str | None = None) -> pd.DataFrame:
        sql = "SELECT * FROM rejects" + (" WHERE source = ?" if source else "") + " ORDER BY file, line"
        return self._query(sql, [source] if source else [])

    def ingests(self) -> pd.DataFrame:
        return self._query("SELECT * FROM ingests ORDER BY created")

    def reported(self) -> pd.DataFrame:
        return self._query("SELECT * EXCLUDE (ingest_id) FROM reported ORDER BY source, file, line")

    def count(self, table: str) -> int:
        if table not in _TABLES:
            raise ValueError(f"unknown table {table!r}; tables: {_TABLES}")
        return int(self._query(f"SELECT count(*) AS n FROM {table}")["n"].iloc[0])

    # -- panels and covariates ------------------------------------------------------------
    def save_panel(self, options: dict[str, Any], panel: pd.DataFrame) -> str:
        """Cache a panel under the JSON of its options (replacing a previous cache of the same key)."""
        key = json.dumps(to_jsonable(options), sort_keys=True)
        p = panel.copy()
        p["ds"] = pd.to_datetime(p["ds"]).dt.date
        p["unique_id"] = p["unique_id"].astype(str)
        p.insert(0, "created", _now())
        p.insert(0, "panel_key", key)
        with self._transaction() as con:
            con.execute("DELETE FROM panels WHERE panel_key = ?", [key])
            con.register("pn_in", p[["panel_key", "created", "unique_id", "ds", "attacks", "killed", "killed_low",
                                     "killed_high", "injured", "population"]])
            con.execute("INSERT INTO panels SELECT * FROM pn_in")
            con.unregister("pn_in")
        return key

    def load_cached_panel(self, options: dict[str, Any]) -> pd.DataFrame | None:
        key = json.dumps(to_jsonable(options), sort_keys=True)
        df = self._query("SELECT * EXCLUDE (panel_key, created) FROM panels WHERE panel_key = ? "
                         "ORDER BY unique_id, ds", [key])
        if df.empty:
            return None
        df["ds"] = pd.to_datetime(df["ds"]).astype("datetime64[ns]")
        df["unique_id"] = df["unique_id"].astype("string")
        return df

    def add_covariates(self, name: str, frame: pd.DataFrame) -> int:
        """Store a long covariate table ``unique_id, ds, variable, value`` under ``name`` (replaces it)."""
        f = frame[["unique_id", "ds", "variable", "value"]].copy()
        f["ds"] = pd.to_datetime(f["ds"]).dt.date
        f.insert(0, "name", name)
        f["created"] = _now()
        with self._transaction() as con:
            con.execute("DELETE FROM covariates WHERE name = ?", [name])
            con.register("cv_in", f)
            con.execute("INSERT INTO covariates SELECT * FROM cv_in")
            con.unregister("cv_in")
        return int(len(f))

    def covariates(self, name: str | None = None) -> pd.DataFrame:
        return self._query("SELECT * FROM covariates" + (" WHERE name = ?" if name else ""), [name] if name else [])

    # -- runs, vintages, scores -----------------------------------------------------------
    def record_run(self, manifest: RunManifest) -> str:
        """Record one run's manifest (a re-recorded run id replaces its row)."""
        d = manifest.to_dict()
        with self._transaction() as con:
            con.execute("DELETE FROM runs WHERE run_id = ?", [manifest.run_id])
            con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                        [manifest.run_id, manifest.command, manifest.created, manifest.git_revision,
                         json.dumps(to_jsonable(d))])
        return manifest.run_id

    def runs(self) -> pd.DataFrame:
        return self._query("SELECT * FROM runs ORDER BY created")

    def add_forecast_vintage(self, run_id: str, as_of: str | pd.Timestamp, forecast_df: pd.DataFrame) -> str:
        """Store a forecast as a new immutable vintage; returns its id.

        Rows are written and the vintage registered in the same transaction, the registration last,
        so a vintage listed by :meth:`vintages` always has all its rows.
        """
        vintage_id = f"v-{pd.Timestamp(as_of):%Y%m%d}-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        cols = {c: str(t) for c, t in forecast_df.dtypes.items()}
        recs = _records(forecast_df)
        rows = pd.DataFrame({"vintage_id": vintage_id, "row_no": np.arange(len(recs), dtype=np.int64),
                             "record": recs})
        with self._transaction() as con:
            con.register("fc_in", rows)
            con.execute("INSERT INTO forecasts SELECT vintage_id, row_no, record::JSON FROM fc_in")
            con.unregister("fc_in")
            fault_point("store.vintage.before_register")
            con.execute("INSERT INTO vintages VALUES (?, ?, ?, ?, ?, ?)",
                        [vintage_id, run_id, pd.Timestamp(as_of).date(), _now(), len(rows), json.dumps(cols)])
        return vintage_id

    def vintages(self) -> pd.DataFrame:
        """Registered vintages: ``vintage_id, run_id, as_of, created, n_rows, columns``."""
        return self._query("SELECT * FROM vintages ORDER BY created")

    def load_vintage(self, vintage_id: str) -> pd.DataFrame:
        """The rows of one vintage with their original column order and dtypes."""
        meta = self._query("SELECT columns FROM vintages WHERE vintage_id = ?", [vintage_id])
        if meta.empty:
            raise KeyError(f"no forecast vintage {vintage_id!r} in {self.path}")
        rows = self._query("SELECT record FROM forecasts WHERE vintage_id = ? ORDER BY row_no", [vintage_id])
        return _from_records(rows["record"].tolist(), json.loads(meta["columns"].iloc[0]))

    def add_scores(self, vintage_id: str, scores_df: pd.DataFrame) -> int:
        """Append the scores of a vintage against later outcomes (one transaction)."""
        if self._query("SELECT 1 FROM vintages WHERE vintage_id = ?", [vintage_id]).empty:
            raise KeyError(f"no forecast vintage {vintage_id!r} to score in {self.path}")
        recs = _records(scores_df)
        with self._transaction() as con:
            start = _one(con, "SELECT coalesce(max(row_no) + 1, 0) FROM scores WHERE vintage_id = ?",
                         [vintage_id])[0]
            rows = pd.DataFrame({"vintage_id": vintage_id, "row_no": np.arange(start, start + len(recs),
                                                                               dtype=np.int64),
                                 "record": recs, "created": _now()})
            con.register("sc_in", rows)
            con.execute("INSERT INTO scores SELECT vintage_id, row_no, record::JSON, created FROM sc_in")
            con.unregister("sc_in")
        return len(recs)

    def scores(self, vintage_id: str | None = None) -> pd.DataFrame:
        """Scores (one vintage or all), with a ``vintage_id`` column."""
        df = self._query("SELECT vintage_id, record FROM scores" + (" WHERE vintage_id = ?" if vintage_id else "")
                         + " ORDER BY vintage_id, row_no", [vintage_id] if vintage_id else [])
        if df.empty:
            return pd.DataFrame(columns=["vintage_id"])
        body = pd.DataFrame([json.loads(r) for r in df["record"]])
        body.insert(0, "vintage_id", df["vintage_id"].to_numpy())
        return body


_TABLES = ("events", "rejects", "ingests", "reported", "panels", "covariates", "runs", "vintages", "forecasts",
           "scores")


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """First row of a query (the whole result is fetched, as DuckDB requires before the next call)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def _dir_sha(files: list[Path]) -> str:
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _records(df: pd.DataFrame) -> list[str]:
    return [json.dumps(to_jsonable(r), ensure_ascii=False) for r in df.to_dict(orient="records")]


def _from_records(records: list[str], columns: dict[str, str]) -> pd.DataFrame:
    df = pd.DataFrame([json.loads(r) for r in records], columns=list(columns))
    for c, t in columns.items():
        try:
            if t.startswith("datetime64"):
                df[c] = pd.to_datetime(df[c]).astype(t)
            elif t.startswith("period"):
                df[c] = pd.PeriodIndex(df[c], freq=t[7:-1] if "[" in t else None)
            elif t in ("object", "str", "string"):
                df[c] = df[c].astype("string") if t == "string" else df[c]
            else:
                df[c] = df[c].astype(t)
        except (TypeError, ValueError):
            pass  # keep the JSON-decoded values when a dtype cannot be restored exactly
    return df
