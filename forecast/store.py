"""The pakcast store: one DuckDB file holding events, ingests, panels, runs, forecast vintages, scores.

Default location: :func:`forecast.paths.default_store_path` (``$PAKCAST_STORE`` or the user's data
directory); ``--store PATH`` on the CLI.

Schema (version :data:`SCHEMA_VERSION`, recorded in ``meta``)
-------------------------------------------------------------
``meta``         ``key, value``: ``schema_version``, ``created``, ``pakcast_version``. A file without it
                 is not a pakcast store of this version (see *Opening* below).
``ingests``      one row per ingested file: ``ingest_id`` (key), ``source, file, file_sha256, options``
                 (JSON), ``rows_read, accepted, rejected, inserted, duplicates, skipped, unassigned,
                 point_in_polygon`` (all ``>= 0``), ``created, versions`` (JSON), ``run_id`` (the
                 ``runs`` row written in the same transaction), ``ingest_no`` (unique integer key, 1, 2, ...
                 in the order the ingests were made; schema 3); unique on ``(source, file_sha256)``.
``events``       canonical event table (``forecast.validate.EVENT_COLUMNS``) + ``ingest_no`` (foreign key
                 to ``ingests.ingest_no``; schema 3, where schema 2 held the ``ingest_id`` text: an integer
                 is cheaper to check for every appended event); key ``(source, event_id)``, the unique index ``events_key`` (schema 2;
                 a PRIMARY KEY constraint in schema 1, which DuckDB cannot drop); ``date, date_precision, scope,
                 province_method`` NOT NULL; CHECKs: precision, scope and method from their
                 vocabularies, province a canonical name or NULL (unassigned), counts ``>= 0``,
                 coordinates in range, ``date_end >= date``.
``rejects``      ``ingest_id`` (foreign key), ``source, file, line, event_id, column, value, reason``.
``reported``     published aggregates (:mod:`forecast.sources.reported`) + ``ingest_id`` (foreign key).
``panels``       cached panels: ``panel_key`` (JSON of the options), ``unique_id, ds`` (key) and the measures.
``covariates``   long covariates: ``name, unique_id, ds, variable, value``.
``runs``         one row per run: ``run_id`` (key), ``command, created, git_revision, manifest`` (JSON
                 of :class:`forecast.manifest.RunManifest`).
``vintages``     forecast vintages: ``vintage_id`` (key), ``run_id, as_of, created, n_rows`` (``> 0``),
                 ``columns`` (JSON name -> dtype), ``rows_sha256`` (hash of the rows, checked on read).
``forecasts``    forecast rows: ``vintage_id`` (foreign key to ``vintages``), ``row_no``, ``record`` (JSON);
                 primary key ``(vintage_id, row_no)``.
``scores``       ``vintage_id`` (foreign key), ``row_no`` (key with it), ``record`` (JSON), ``created``.

Guarantees
----------
* Every write runs in one transaction (all or nothing); an ingest writes its ``ingests`` row, its
  events, its rejects and its ``runs`` row in the same one.
* Large files stream with bounded memory (:meth:`Store.ingest`, the bulk path, for files of at least
  :data:`BULK_INGEST_BYTES`): the events' key index is dropped in a committed step of its own, every
  chunk is appended in the one transaction under a DuckDB ``memory_limit`` (:data:`INGEST_MEMORY_LIMIT`,
  ``$PAKCAST_INGEST_MEMORY``; pages beyond it spill to ``<store>.tmp``), duplicates of stored events
  are removed by one join before the commit, and the index is rebuilt in bulk after it. Readers see
  the store before or after the ingest, never between (a read needs no index); the index is missing
  only while the writer holds the lock, and a write-open (or the next ingest) rebuilds it if a kill
  left it missing. The rebuild holds every stored key in memory (it grows with the store, not the
  file), so for a store too large for the limit it is retried under DuckDB's default limit.
* Ingestion is idempotent: a file already ingested for a source (same sha256) adds nothing, and
  events already present under ``(source, event_id)`` are counted as duplicates, not inserted.
* Forecast vintages are immutable: each :meth:`Store.add_forecast_vintage` creates a new id; the API
  has no way to change or delete one; ``DELETE FROM vintages`` is refused by DuckDB (every vintage has
  rows, and the rows' foreign key forbids deleting it); an ``UPDATE`` made outside pakcast (DuckDB has
  no triggers to stop it) is detected when the vintage is read back (row count and ``rows_sha256``).
* Events are validated again when read back (:meth:`Store.events`), so a store edited outside pakcast
  cannot feed a panel a NULL date, a negative count or an unknown province.
* Processes never write at once: every access takes an ``fcntl.flock`` on ``<resolved store>.lock``
  (exclusive for writes, shared for reads; a symlinked path locks the same file). A second writer waits
  up to ``lock_timeout`` seconds and then fails with :class:`StoreLockedError`
  (``$PAKCAST_LOCK_TIMEOUT`` changes the default wait); DuckDB's own file lock (a DuckDB session of
  another program holding the file) is waited for in the same way.
* A process killed at any point leaves each write all done or not done (DuckDB transactions; the
  reliability tests kill runs at the injected points ``store.locked``, ``store.ingest.index_dropped``,
  ``store.ingest.before_commit``, ``store.ingest.before_index``, ``store.ingest.after_commit`` and
  ``store.vintage.before_register``, see :func:`forecast.io.fault_point`).

Opening
-------
* Reads (``Store(path, read_only=True)``) open DuckDB read-only and never create anything: a missing
  file is an error, and a store on a read-only medium can be read (the lock file is skipped when it
  cannot be created; DuckDB's shared file lock still applies).
* A file that is not a DuckDB database (a SQLite file, text), or a DuckDB file holding tables that are
  not a pakcast schema, is refused before anything is written to it. DuckDB's extension auto-loading
  and auto-installing are switched off, so no file makes pakcast download anything.
* A store of an earlier schema version is upgraded only by the explicit steps in :data:`MIGRATIONS`
  (one transaction, on a write: 0 -> 1 adds the constraints, 1 -> 2 turns the events' primary key
  into the index ``events_key``, 2 -> 3 gives the ingests the integer key ``ingest_no`` that the events
  refer to); a store of a later version is refused, one of an earlier version is read as it is.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import hashlib
import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from pakcast.forecast import paths
from pakcast.forecast.errors import GateError, InputError, PakcastError
from pakcast.forecast.io import fault_point, sha256_file, to_jsonable
from pakcast.forecast.manifest import RunManifest, package_versions
from pakcast.forecast.provinces import CANONICAL
from pakcast.forecast.validate import (
    DATE_PRECISIONS,
    EVENT_COLUMNS,
    PROVINCE_METHODS,
    REJECT_COLUMNS,
    SCOPES,
    coerce_events,
)

DEFAULT_LOCK_TIMEOUT = 60.0
LOCK_TIMEOUT_ENV = "PAKCAST_LOCK_TIMEOUT"  # overrides the default wait for another process's lock
SCHEMA_VERSION = 3
#: DuckDB settings for every connection: never load or download an extension because of a file's content
DUCKDB_CONFIG = {"autoload_known_extensions": False, "autoinstall_known_extensions": False}
#: a streamed ingest of a file at least this large takes the bulk path of :meth:`Store.ingest`
BULK_INGEST_BYTES = 32 * 2**20
BULK_INGEST_BYTES_ENV = "PAKCAST_BULK_INGEST_BYTES"
#: DuckDB's memory limit during a bulk ingest (its buffer pool; pages beyond it go to ``<store>.tmp``)
INGEST_MEMORY_LIMIT = "768MB"
INGEST_MEMORY_ENV = "PAKCAST_INGEST_MEMORY"


def bulk_ingest_bytes() -> int:
    """Files of at least this many bytes are ingested on the bulk path (``$PAKCAST_BULK_INGEST_BYTES``)."""
    return int(os.environ.get(BULK_INGEST_BYTES_ENV, BULK_INGEST_BYTES))


def _bulk_settings(path: Path) -> dict[str, str]:
    """DuckDB settings (SQL literals) of a bulk ingest's connection: bounded memory, spill next to the store."""
    q = lambda v: "'" + str(v).replace("'", "''") + "'"  # noqa: E731
    return {"memory_limit": q(os.environ.get(INGEST_MEMORY_ENV, INGEST_MEMORY_LIMIT)),
            "temp_directory": q(path.with_name(path.name + ".tmp")), "preserve_insertion_order": "false"}

_EVENT_SQL_TYPES = {
    "source": "VARCHAR", "event_id": "VARCHAR", "date": "DATE", "date_end": "DATE",
    "date_precision": "VARCHAR", "province": "VARCHAR", "district": "VARCHAR", "latitude": "DOUBLE",
    "longitude": "DOUBLE", "killed": "BIGINT", "killed_low": "BIGINT", "killed_high": "BIGINT",
    "injured": "BIGINT", "event_type": "VARCHAR", "actor": "VARCHAR", "scope": "VARCHAR",
    "province_method": "VARCHAR", "type_of_violence": "INTEGER", "conflict_name": "VARCHAR",
}
_REPORTED_COLS = ["source", "period_type", "period", "period_start", "period_end", "region", "province",
                  "kp_definition", "metric", "value", "url", "note", "file", "line"]


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


_EVENT_CONSTRAINTS = {
    "source": "NOT NULL", "event_id": "NOT NULL", "date": "NOT NULL",
    "date_precision": f"NOT NULL CHECK (date_precision IN ({_sql_list(DATE_PRECISIONS)}))",
    "province": f"CHECK (province IS NULL OR province IN ({_sql_list(CANONICAL)}))",
    "latitude": "CHECK (latitude BETWEEN -90 AND 90)", "longitude": "CHECK (longitude BETWEEN -180 AND 180)",
    "killed": "CHECK (killed >= 0)", "killed_low": "CHECK (killed_low >= 0)",
    "killed_high": "CHECK (killed_high >= 0)", "injured": "CHECK (injured >= 0)",
    "scope": f"NOT NULL CHECK (scope IN ({_sql_list(SCOPES)}))",
    "province_method": f"NOT NULL CHECK (province_method IN ({_sql_list(PROVINCE_METHODS)}))",
}
_COUNT = "BIGINT NOT NULL CHECK ({c} >= 0)"

_INGESTS_COLUMNS = (
    "ingest_id VARCHAR PRIMARY KEY, source VARCHAR NOT NULL, file VARCHAR NOT NULL, "
    "file_sha256 VARCHAR NOT NULL CHECK (length(file_sha256) = 64), options JSON, "
    + ", ".join(f"{c} " + _COUNT.format(c=c) for c in (
        "rows_read", "accepted", "rejected", "inserted", "duplicates", "skipped", "unassigned", "point_in_polygon"))
    + ", created TIMESTAMP NOT NULL, versions JSON, run_id VARCHAR")


def _events_statement(ingest_key: str) -> str:
    """CREATE TABLE of ``events``: the canonical columns, then ``ingest_key`` (the column that refers to the ingest)."""
    return ("CREATE TABLE events ("
            + ", ".join(f'"{c}" {_EVENT_SQL_TYPES[c]} {_EVENT_CONSTRAINTS.get(c, "")}'.rstrip() for c in EVENT_COLUMNS)
            + f", {ingest_key}, CHECK (date_end IS NULL OR date_end >= date))")


#: Table name -> CREATE statement of the current schema, in foreign-key order.
SCHEMA: dict[str, str] = {
    "meta": "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    "runs": "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, command VARCHAR NOT NULL, created VARCHAR NOT NULL, "
            "git_revision VARCHAR, manifest JSON NOT NULL)",
    # ingest_no: the ingest's integer key (numbered from 1), the one the events refer to (schema 3)
    "ingests": f"CREATE TABLE ingests ({_INGESTS_COLUMNS}, ingest_no INTEGER NOT NULL UNIQUE CHECK (ingest_no > 0), "
               "UNIQUE (source, file_sha256))",
    "events": _events_statement("ingest_no INTEGER NOT NULL REFERENCES ingests (ingest_no)"),
    "rejects": "CREATE TABLE rejects (ingest_id VARCHAR NOT NULL REFERENCES ingests (ingest_id), source VARCHAR "
               "NOT NULL, file VARCHAR, line BIGINT CHECK (line >= 0), event_id VARCHAR, \"column\" VARCHAR, "
               "value VARCHAR, reason VARCHAR NOT NULL)",
    "reported": "CREATE TABLE reported (source VARCHAR NOT NULL, period_type VARCHAR NOT NULL, period VARCHAR "
                "NOT NULL, period_start DATE, period_end DATE, region VARCHAR, province VARCHAR, kp_definition "
                "VARCHAR, metric VARCHAR NOT NULL, value DOUBLE, url VARCHAR, note VARCHAR, file VARCHAR, line "
                "BIGINT, ingest_id VARCHAR NOT NULL REFERENCES ingests (ingest_id), "
                "CHECK (period_end IS NULL OR period_start IS NULL OR period_end >= period_start))",
    "panels": "CREATE TABLE panels (panel_key VARCHAR NOT NULL, created TIMESTAMP NOT NULL, unique_id VARCHAR "
              "NOT NULL, ds DATE NOT NULL, attacks BIGINT CHECK (attacks >= 0), killed BIGINT CHECK (killed >= 0), "
              "killed_low BIGINT CHECK (killed_low >= 0), killed_high BIGINT CHECK (killed_high >= 0), "
              "injured DOUBLE CHECK (injured >= 0), population DOUBLE CHECK (population >= 0), "
              "PRIMARY KEY (panel_key, unique_id, ds))",
    "covariates": "CREATE TABLE covariates (name VARCHAR NOT NULL, unique_id VARCHAR NOT NULL, ds DATE NOT NULL, "
                  "variable VARCHAR NOT NULL, value DOUBLE, created TIMESTAMP NOT NULL)",
    "vintages": "CREATE TABLE vintages (vintage_id VARCHAR PRIMARY KEY, run_id VARCHAR NOT NULL, as_of DATE NOT "
                "NULL, created TIMESTAMP NOT NULL, n_rows BIGINT NOT NULL CHECK (n_rows > 0), columns JSON NOT "
                "NULL, rows_sha256 VARCHAR NOT NULL CHECK (length(rows_sha256) = 64))",
    "forecasts": "CREATE TABLE forecasts (vintage_id VARCHAR NOT NULL REFERENCES vintages (vintage_id), row_no "
                 "BIGINT NOT NULL CHECK (row_no >= 0), record JSON NOT NULL, PRIMARY KEY (vintage_id, row_no))",
    "scores": "CREATE TABLE scores (vintage_id VARCHAR NOT NULL REFERENCES vintages (vintage_id), row_no BIGINT "
              "NOT NULL CHECK (row_no >= 0), record JSON NOT NULL, created TIMESTAMP NOT NULL, "
              "PRIMARY KEY (vintage_id, row_no))",
}
#: ``ingests`` and ``events`` as schema 2 made them (the events referred to the ingest by its id text);
#: the steps 0 -> 1 -> 2 of :data:`MIGRATIONS` build these, 2 -> 3 the current ones
SCHEMA_2: dict[str, str] = {
    **SCHEMA,
    "ingests": f"CREATE TABLE ingests ({_INGESTS_COLUMNS}, UNIQUE (source, file_sha256))",
    "events": _events_statement("ingest_id VARCHAR NOT NULL REFERENCES ingests (ingest_id)"),
}
#: the key of ``events``: a unique index (not a PRIMARY KEY constraint, which DuckDB cannot drop), so a
#: large ingest can append without it and rebuild it in bulk (:meth:`Store.ingest`)
EVENTS_KEY = "events_key"
INDEXES: dict[str, str] = {"events": f"CREATE UNIQUE INDEX {EVENTS_KEY} ON events (source, event_id)"}
_TABLES = ("events", "rejects", "ingests", "reported", "panels", "covariates", "runs", "vintages", "forecasts",
           "scores")
#: the tables of the unversioned schema written before ``meta`` existed (schema version 0)
_LEGACY_TABLES = frozenset(_TABLES)


class StoreLockedError(GateError):
    """Another process holds the store's lock (pakcast's or DuckDB's) for longer than the timeout."""


class StoreError(PakcastError):
    """The store cannot be opened or written (not a pakcast store, read-only medium, disk full...)."""


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


_CANONICAL_DTYPES: pd.Series | None = None


def _is_canonical(df: pd.DataFrame) -> bool:
    """True for a frame already in the canonical columns, order and dtypes (a reader's chunk), which
    needs no second :func:`coerce_events` copy."""
    global _CANONICAL_DTYPES
    if _CANONICAL_DTYPES is None:
        _CANONICAL_DTYPES = coerce_events(pd.DataFrame(columns=EVENT_COLUMNS)).dtypes
    return (list(df.columns) == EVENT_COLUMNS and isinstance(df.index, pd.RangeIndex) and df.index.start == 0
            and df.index.step == 1 and bool((df.dtypes == _CANONICAL_DTYPES).all()))


def _prefetch(items: Iterable[Any], depth: int = 1) -> Iterator[Any]:
    """The items of ``items``, produced by a background thread up to ``depth`` ahead of the consumer.

    For a file read in chunks, reading and validating the next chunk overlaps the DuckDB insert of
    this one (memory: ``depth`` chunks more). An exception raised by the producer (a
    :class:`ValidationError`, a ``MemoryError``) is raised here, in the consumer, in order; when the
    consumer stops early (an error in the transaction) the producer stops at its next chunk."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for it in items:
                if not put((True, it)):
                    return
            put((True, end))
        except BaseException as exc:  # handed to the consumer, raised there
            put((False, exc))

    t = threading.Thread(target=work, name="pakcast-ingest-reader", daemon=True)
    t.start()
    try:
        while True:
            ok, it = q.get()
            if not ok:
                raise it
            if it is end:
                return
            yield it
    finally:
        stop.set()
        t.join(timeout=5)


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _file_kind(path: Path) -> str | None:
    """``None`` for a DuckDB file (or an empty one), else a word for what the file is."""
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head or head[8:12] == b"DUCK":
        return None
    if head.startswith(b"SQLite format 3\x00"):
        return "a SQLite database"
    if head.startswith(b"PAR1"):
        return "a Parquet file"
    return "not a DuckDB database"


class Store:
    """The DuckDB store (see the module docstring for the schema and the guarantees).

    Parameters
    ----------
    path : database file; default :func:`forecast.paths.default_store_path`. A symlink is resolved
        (the lock and the database are those of the real file).
    lock_timeout : seconds to wait for another process's lock before failing (default
        ``$PAKCAST_LOCK_TIMEOUT`` or 60).
    read_only : open for reading only: the file must exist, nothing is created or written, and a
        store on a read-only medium can be read.

    Examples
    --------
    >>> with Store("/tmp/pakcast-example.duckdb") as store:   # doctest: +SKIP
    ...     summary = store.ingest(res.events, res.rejects, res.path, "ucdp", {"on_error": "raise"})
    """

    def __init__(self, path: str | os.PathLike | None = None, lock_timeout: float | None = None, *,
                 read_only: bool = False):
        given = Path(path) if path is not None else paths.default_store_path()
        self.given_path = given
        self.path = Path(os.path.realpath(given))
        self.read_only = bool(read_only)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        if lock_timeout is None:
            lock_timeout = float(os.environ.get(LOCK_TIMEOUT_ENV, DEFAULT_LOCK_TIMEOUT))
        self.lock_timeout = float(lock_timeout)
        if self.path.is_dir():
            raise StoreError(f"the store path {given} is a directory: give a DuckDB file such as {given}/store.duckdb")
        if read_only:
            if not self.path.is_file():
                raise StoreError(f"no store at {given}: a read needs an existing store (check the path; "
                                 "`pakcast ingest` creates one)")
            self._check_kind()
            with self._connect(write=False) as con:
                self.schema_version = self._schema_version(con)
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the store's directory {self.path.parent}: {exc.strerror}") from None
        if self.path.is_file():
            self._check_kind()
        with self._connect(write=True) as con:
            version = self._schema_version(con)
            if version is None:
                self._create(con)
            elif version < SCHEMA_VERSION:
                self._migrate(con, version)
            self._restore_key_index(con)  # a bulk ingest killed between its commit and the index rebuild
            self.schema_version = SCHEMA_VERSION

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing stays open between calls; kept for symmetry with the context manager."""

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # -- schema ---------------------------------------------------------------------------
    def _check_kind(self) -> None:
        kind = _file_kind(self.path)
        if kind is not None:
            raise StoreError(f"{self.given_path} is {kind}, not a pakcast store (a DuckDB file): refused, nothing "
                             "was changed; give another --store")

    def _schema_version(self, con: duckdb.DuckDBPyConnection) -> int | None:
        """The schema version of the open file (``None``: empty; 0: the unversioned pakcast schema)."""
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
        if not tables:
            return None
        if "meta" in tables:
            row = _one(con, "SELECT value FROM meta WHERE key = 'schema_version'")
            if row is None or not str(row[0]).isdigit():
                raise StoreError(f"{self.given_path} has a meta table without a schema version: not a pakcast "
                                 "store; refused, nothing was changed")
            v = int(row[0])
            if v > SCHEMA_VERSION:
                raise StoreError(f"{self.given_path} has store schema version {v}, newer than this pakcast's "
                                 f"{SCHEMA_VERSION}: upgrade pakcast to use it; nothing was changed")
            return v
        cols = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = "
            "'events' ORDER BY ordinal_position").fetchall()]
        legacy = tables <= _LEGACY_TABLES and (not cols or cols == [*EVENT_COLUMNS, "ingest_id"])
        if not legacy:
            raise StoreError(f"{self.given_path} is a DuckDB file whose tables ({', '.join(sorted(tables))}) are not "
                             "a pakcast store schema: refused, nothing was changed; give another --store")
        return 0

    def _create(self, con: duckdb.DuckDBPyConnection) -> None:
        con.begin()
        try:
            for stmt in [*SCHEMA.values(), *INDEXES.values()]:
                con.execute(stmt)
            con.executemany("INSERT INTO meta VALUES (?, ?)",
                            [["schema_version", str(SCHEMA_VERSION)], ["created", _now().isoformat()],
                             ["pakcast_version", package_versions().get("pakcast", "unknown")]])
        except BaseException:
            con.rollback()
            raise
        con.commit()

    def _migrate(self, con: duckdb.DuckDBPyConnection, version: int) -> None:
        con.begin()
        try:
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](con)
                version += 1
            con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version)])
        except duckdb.Error as exc:
            con.rollback()
            raise StoreError(f"cannot upgrade the store {self.given_path} to schema version {SCHEMA_VERSION}: "
                             f"{_first_line(exc)}; nothing was changed") from None
        except BaseException:
            con.rollback()
            raise
        con.commit()

    # -- locking and connections ----------------------------------------------------------
    def _open_lock_file(self, exclusive: bool):
        try:
            return open(self.lock_path, "a+")
        except OSError as exc:
            if exclusive:
                raise StoreError(f"cannot write the store {self.given_path}: its lock file {self.lock_path} cannot "
                                 f"be created ({exc.strerror}); a read-only medium or directory?") from None
            try:  # a read on a read-only medium: use the lock file if it is there, else DuckDB's own lock
                return open(self.lock_path, "r")
            except OSError:
                return None

    def _locked_message(self, waited: str) -> str:
        return (f"the store {self.given_path} is in use by another pakcast process (lock file {self.lock_path}); "
                f"waited {waited}. Retry when it has finished, or use another --store")

    @contextlib.contextmanager
    def _lock(self, exclusive: bool) -> Iterator[None]:
        fh = self._open_lock_file(exclusive)
        if fh is None:
            yield
            return
        try:
            mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), mode)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreLockedError(self._locked_message(f"{self.lock_timeout:g} s")) from None
                    time.sleep(0.05)
            yield
        finally:
            with contextlib.suppress(OSError):
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            fh.close()

    def _duckdb_connect(self, write: bool) -> duckdb.DuckDBPyConnection:
        """Connect, waiting (up to the lock timeout) while another program's DuckDB session holds the file."""
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=not write, config=DUCKDB_CONFIG)
            except duckdb.IOException as exc:
                msg = _first_line(exc)
                if "lock" not in msg.lower():
                    raise StoreError(f"cannot open the store {self.given_path}: {msg}") from None
                if time.monotonic() >= deadline:
                    holder = msg.split("Conflicting lock is held in", 1)[-1].split(". See also")[0].strip()
                    raise StoreLockedError(
                        f"the store {self.given_path} is open in another program (DuckDB: lock held by {holder}); "
                        f"waited {self.lock_timeout:g} s. Close that session and retry, or use another --store"
                    ) from None
                time.sleep(0.1)

    @contextlib.contextmanager
    def _connect(self, write: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        if write and self.read_only:
            raise StoreError(f"the store {self.given_path} was opened read-only: this step writes to it")
        with self._lock(exclusive=write):
            con = self._duckdb_connect(write)
            try:
                yield con
            except duckdb.Error as exc:
                raise _store_error(self, exc, write) from None
            finally:
                with contextlib.suppress(duckdb.Error):
                    con.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._connect(write=True) as con:
            fault_point("store.locked")
            con.begin()
            try:
                yield con
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.rollback()
                raise
            con.commit()

    def _query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        with self._connect(write=False) as con:
            return con.execute(sql, params or []).df()

    # -- ingestion ------------------------------------------------------------------------
    def ingest(self, events_df: pd.DataFrame | Iterable[Any], rejects_df: pd.DataFrame | None,
               file_path: str | os.PathLike, source: str, options: dict[str, Any] | None = None, *,
               rows_read: int | None = None, skipped: int = 0, replace: bool = False,
               manifest: RunManifest | None = None) -> IngestSummary:
        """Add one file's canonical events and rejects in a single transaction (idempotent).

        ``events_df`` is the file's event table, or an iterable of chunk results
        (:class:`forecast.sources.base.ReadResult`, e.g. :func:`forecast.sources.iter_source`): each
        chunk is validated by its reader and inserted inside the one transaction, so memory stays
        bounded whatever the file size and a failure or kill at any chunk leaves nothing (then
        ``rejects_df``, ``rows_read`` and ``skipped`` come from the chunks). ``rows_read`` defaults to
        ``accepted + rejected``. Events already stored under the same ``(source, event_id)`` are kept
        and counted as ``duplicates``; with ``replace=True`` they are overwritten by this file's values
        instead (for a newer release of the same source, e.g. a later UCDP GED version that revised
        earlier events; counted as ``replaced``). ``manifest``: the run's manifest, recorded in
        ``runs`` in the same transaction (its options gain ``ingest_id`` and ``summary``), so an
        ingest killed at any point leaves both or neither.

        Chunks of a file of at least :func:`bulk_ingest_bytes` take the bulk path (module docstring,
        *Guarantees*): no key index while appending, duplicates removed by one join, the index
        rebuilt after the commit; the stored result is the same as the small-file path's.
        """
        file_path = Path(file_path)
        read_state: dict[str, Any] = {}
        # a streamed file is hashed once: by the manifest (its input record) or here, and again by the
        # reader in the pass that reads it, which must agree (the file did not change meanwhile)
        sha = (_manifest_sha(manifest, file_path) if not isinstance(events_df, pd.DataFrame) else None) or \
            sha256_file(file_path)
        if isinstance(events_df, pd.DataFrame):
            rejects_df = rejects_df if rejects_df is not None else pd.DataFrame(columns=REJECT_COLUMNS)
            n = len(events_df) + len(rejects_df)
            if rows_read is not None and int(rows_read) != n:
                raise ValueError(f"rows_read {rows_read} != accepted {len(events_df)} + rejected {len(rejects_df)}")
            chunks: Iterable[tuple[_Prepared | None, pd.DataFrame, int, int]] = (
                (_prepare_events(events_df), rejects_df, n, skipped) for _ in (0,))  # in the transaction
        else:
            chunks = _chunk_rows(_prefetch(_prepared_chunks(events_df)), read_state)
        bulk = not isinstance(events_df, pd.DataFrame) and file_path.stat().st_size >= bulk_ingest_bytes()
        with self._connect(write=True) as con:
            fault_point("store.locked")
            if bulk:
                for k, v in _bulk_settings(self.path).items():
                    con.execute(f"SET {k} = {v}")
            self._restore_key_index(con)  # after a large ingest killed before it rebuilt the index
            prev = _one(con, "SELECT ingest_id, rows_read, accepted, rejected, skipped, unassigned, point_in_polygon "
                             "FROM ingests WHERE source = ? AND file_sha256 = ?", [source, sha])
            if prev is not None:
                summary = IngestSummary(prev[0], source, str(file_path), sha, int(prev[1]), int(prev[2]),
                                        int(prev[3]), inserted=0, duplicates=int(prev[2]), skipped=int(prev[4]),
                                        unassigned=int(prev[5]), point_in_polygon=int(prev[6]),
                                        already_ingested=True,
                                        notes=[f"this file was already ingested as {prev[0]}: nothing added"])
                con.begin()
                self._record_run(con, manifest, summary)
                con.commit()
                return summary
            if bulk:
                # the key index is dropped (committed: DuckDB keeps maintaining an index dropped inside the
                # transaction that appends) and rebuilt in bulk after the commit; in between, the lock is held
                con.execute(f"DROP INDEX IF EXISTS {EVENTS_KEY}")
                fault_point("store.ingest.index_dropped")
            con.begin()
            try:
                summary = self._ingest_rows(con, chunks, events_df, file_path, sha, source, options, rows_read,
                                            replace, manifest, bulk, read_state)
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.rollback()
                if bulk:  # if this fails too, the next write-open restores it
                    with contextlib.suppress(duckdb.Error, StoreError):
                        self._restore_key_index(con)
                raise
            con.commit()
            if bulk:
                fault_point("store.ingest.before_index")
                self._restore_key_index(con)
        fault_point("store.ingest.after_commit")
        return summary

    def _ingest_rows(self, con: duckdb.DuckDBPyConnection, chunks: Iterable[tuple[_Prepared | None, pd.DataFrame, int, int]],
                     events_df: Any, file_path: Path, sha: str, source: str, options: dict[str, Any] | None,
                     rows_read: int | None, replace: bool, manifest: RunManifest | None, bulk: bool,
                     read_state: dict[str, Any]) -> IngestSummary:
        """The ingest's rows, inside the open transaction (see :meth:`ingest`)."""
        ingest_id = f"ingest-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        run_id = manifest.run_id if manifest is not None else None
        cols = ", ".join(f'"{c}"' for c in [*EVENT_COLUMNS, "ingest_no"])
        # the ingest's key is one bound value, not a column of every chunk
        select = ", ".join(f'"{c}"' for c in EVENT_COLUMNS) + ", ?"
        verb = "INSERT" if bulk else "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        # the ingests row first (the events' foreign key needs it); its counts are set at the end
        ingest_no = _insert_ingest(con, ingest_id, source, file_path, sha, options, run_id)
        n_read = accepted = rejected = inserted = n_skipped = unassigned = pip = 0
        for prep, rj_chunk, chunk_read, chunk_skipped in chunks:
            n_read += int(chunk_read)
            n_skipped += int(chunk_skipped)
            if prep is not None:
                unassigned += prep.unassigned
                pip += prep.point_in_polygon
                before = 0 if bulk else _one(con, "SELECT count(*) FROM events")[0]
                # Arrow: DuckDB scans the columns without Python objects
                con.register("ev_in", _arrow_stream(prep))
                con.execute(f"{verb} INTO events ({cols}) SELECT {select} FROM ev_in", [ingest_no])
                con.unregister("ev_in")
                if not bulk:
                    inserted += _one(con, "SELECT count(*) FROM events")[0] - before
                accepted += prep.rows
                del prep
            if rj_chunk is not None and len(rj_chunk):
                rejected += _insert_rejects(con, rj_chunk, ingest_id)
        _check_read_digest(read_state, file_path, sha)
        if rows_read is not None and not isinstance(events_df, pd.DataFrame) and int(rows_read) != n_read:
            raise ValueError(f"rows_read {rows_read} != {n_read} read from the chunks")
        if n_read != accepted + rejected:
            raise ValueError(f"rows read {n_read} != accepted {accepted} + rejected {rejected}")
        if bulk:
            inserted = accepted - _bulk_dedup(con, ingest_no, replace, bool(read_state.get("ids_checked")))
        fault_point("store.ingest.before_commit")
        con.execute("UPDATE ingests SET rows_read = ?, accepted = ?, rejected = ?, inserted = ?, duplicates = ?, "
                    "skipped = ?, unassigned = ?, point_in_polygon = ? WHERE ingest_id = ?",
                    [n_read, accepted, rejected, int(inserted), int(accepted - inserted), n_skipped, unassigned,
                     pip, ingest_id])
        summary = IngestSummary(ingest_id, source, str(file_path), sha, n_read, accepted, rejected,
                                inserted=int(inserted), duplicates=0 if replace else int(accepted - inserted),
                                skipped=n_skipped, unassigned=unassigned, point_in_polygon=pip,
                                replaced=int(accepted - inserted) if replace else 0)
        self._record_run(con, manifest, summary)
        return summary

    def _restore_key_index(self, con: duckdb.DuckDBPyConnection) -> None:
        """Create the events' key index when it is missing (a large ingest rebuilds it after its commit).

        Built under the ingest's memory limit; if that is too small for the store's keys, once more
        under DuckDB's default limit (a store must never stay without its key)."""
        if _has_index(con, EVENTS_KEY):
            return
        try:
            con.execute(INDEXES["events"])
        except duckdb.OutOfMemoryException:
            con.execute("RESET memory_limit")
            con.execute(INDEXES["events"])
        except duckdb.ConstraintException as exc:
            raise StoreError(f"the store {self.given_path} holds events with the same (source, event_id) "
                             f"({_first_line(exc)}): its key index cannot be restored; the store was edited "
                             "outside pakcast") from None

    def ingest_reported(self, table: pd.DataFrame, rejects_df: pd.DataFrame | None,
                        file_path: str | os.PathLike, options: dict[str, Any] | None = None,
                        *, rows_read: int | None = None, manifest: RunManifest | None = None) -> IngestSummary:
        """Add published aggregates (tidy table of :mod:`forecast.sources.reported`), idempotently.

        ``manifest`` is recorded in ``runs`` in the same transaction (as for :meth:`ingest`).
        """
        file_path = Path(file_path)
        sha = (sha256_file(file_path) if file_path.is_file()
               else _dir_sha(sorted(file_path.glob("*.csv"))))
        rejects_df = rejects_df if rejects_df is not None else pd.DataFrame(columns=REJECT_COLUMNS)
        accepted, rejected = len(table), len(rejects_df)
        rows_read = accepted + rejected if rows_read is None else int(rows_read)
        ingest_id = f"ingest-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        with self._transaction() as con:
            prev = _one(con, "SELECT ingest_id FROM ingests WHERE source = 'reported' AND file_sha256 = ?", [sha])
            if prev is not None:
                summary = IngestSummary(prev[0], "reported", str(file_path), sha, rows_read, accepted, rejected,
                                        0, accepted, already_ingested=True,
                                        notes=[f"already ingested as {prev[0]}: nothing added"])
                self._record_run(con, manifest, summary)
                return summary
            _insert_ingest(con, ingest_id, "reported", file_path, sha, options,
                           manifest.run_id if manifest is not None else None,
                           rows_read=rows_read, accepted=accepted, rejected=rejected)
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
                _insert_rejects(con, rejects_df, ingest_id)
            con.execute("UPDATE ingests SET inserted = ?, duplicates = ? WHERE ingest_id = ?",
                        [int(inserted), int(accepted - inserted), ingest_id])
            summary = IngestSummary(ingest_id, "reported", str(file_path), sha, rows_read, accepted, rejected,
                                    int(inserted), int(accepted - inserted))
            self._record_run(con, manifest, summary)
        return summary

    def _record_run(self, con: duckdb.DuckDBPyConnection, manifest: RunManifest | None,
                    summary: IngestSummary | None = None) -> None:
        if manifest is None:
            return
        if summary is not None:
            manifest.options.update(ingest_id=summary.ingest_id, summary=summary.to_dict())
        d = json.dumps(to_jsonable(manifest.to_dict()))
        if _one(con, "SELECT 1 FROM runs WHERE run_id = ?", [manifest.run_id]) is None:
            con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)",
                        [manifest.run_id, manifest.command, manifest.created, manifest.git_revision, d])
        else:
            con.execute("UPDATE runs SET command = ?, created = ?, git_revision = ?, manifest = ? WHERE run_id = ?",
                        [manifest.command, manifest.created, manifest.git_revision, d, manifest.run_id])

    # -- reading --------------------------------------------------------------------------
    def events(self, source: str | None = None) -> pd.DataFrame:
        """Canonical events (all sources, or one), validated again (:func:`check_stored_events`)."""
        sql = "SELECT * FROM events" + (" WHERE source = ?" if source else "") + " ORDER BY source, date, event_id"
        df = self._query(sql, [source] if source else [])
        if not len(df):
            return coerce_events(pd.DataFrame(columns=EVENT_COLUMNS))
        ev = coerce_events(df.drop(columns=["ingest_no", "ingest_id"], errors="ignore"))  # ingest_id: schema < 3
        check_stored_events(ev, str(self.given_path))
        return ev

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
        return len(f)

    def covariates(self, name: str | None = None) -> pd.DataFrame:
        return self._query("SELECT * FROM covariates" + (" WHERE name = ?" if name else ""), [name] if name else [])

    # -- runs, vintages, scores -----------------------------------------------------------
    def record_run(self, manifest: RunManifest) -> str:
        """Record one run's manifest (a re-recorded run id updates its row)."""
        with self._transaction() as con:
            self._record_run(con, manifest)
        return manifest.run_id

    def runs(self) -> pd.DataFrame:
        return self._query("SELECT * FROM runs ORDER BY created")

    def add_forecast_vintage(self, run_id: str, as_of: str | pd.Timestamp, forecast_df: pd.DataFrame) -> str:
        """Store a forecast as a new immutable vintage; returns its id.

        Rows are written and the vintage registered in the same transaction, so a vintage listed by
        :meth:`vintages` always has all its rows (``n_rows`` and ``rows_sha256`` record them).
        """
        if not len(forecast_df):
            raise InputError("a forecast vintage needs at least one row: nothing archived")
        vintage_id = f"v-{pd.Timestamp(as_of):%Y%m%d}-{_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        cols = {c: str(t) for c, t in forecast_df.dtypes.items()}
        recs = _records(forecast_df)
        rows = pd.DataFrame({"vintage_id": vintage_id, "row_no": np.arange(len(recs), dtype=np.int64),
                             "record": recs})
        with self._transaction() as con:
            con.execute("INSERT INTO vintages VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [vintage_id, run_id, pd.Timestamp(as_of).date(), _now(), len(rows), json.dumps(cols),
                         _rows_sha256(recs)])
            con.register("fc_in", rows)
            con.execute("INSERT INTO forecasts SELECT vintage_id, row_no, record::JSON FROM fc_in")
            con.unregister("fc_in")
            fault_point("store.vintage.before_register")
        return vintage_id

    def vintages(self) -> pd.DataFrame:
        """Registered vintages: ``vintage_id, run_id, as_of, created, n_rows, columns, rows_sha256``."""
        return self._query("SELECT * FROM vintages ORDER BY created")

    def load_vintage(self, vintage_id: str) -> pd.DataFrame:
        """The rows of one vintage with their original column order and dtypes (checked against its hash)."""
        meta = self._query("SELECT * FROM vintages WHERE vintage_id = ?", [vintage_id])
        if meta.empty:
            raise KeyError(f"no forecast vintage {vintage_id!r} in {self.path}")
        rows = self._query("SELECT record FROM forecasts WHERE vintage_id = ? ORDER BY row_no", [vintage_id])
        recs = [str(r) for r in rows["record"]]
        m = meta.iloc[0]
        if len(recs) != int(m["n_rows"]) or ("rows_sha256" in meta and _rows_sha256(recs) != m["rows_sha256"]):
            raise StoreError(f"forecast vintage {vintage_id} in {self.given_path} was modified after it was archived "
                             f"({len(recs)} rows now, {int(m['n_rows'])} archived, or their content hash differs): "
                             "vintages are immutable; restore the store from a backup")
        return _from_records(recs, json.loads(m["columns"]))

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


# ---------------------------------------------------------------------------------------------
def check_stored_events(ev: pd.DataFrame, where: str) -> None:
    """Validate events read back from a store (the schema's CHECKs, again, for a store edited outside pakcast).

    Raises :class:`StoreError` naming the first offending event, its column and the expectation.
    """
    rules: list[tuple[str, pd.Series, str]] = [
        ("date", ev["date"].isna(), "a date"),
        ("date_precision", ~ev["date_precision"].isin(DATE_PRECISIONS).fillna(False), f"one of {DATE_PRECISIONS}"),
        ("province", ~(ev["province"].isna() | ev["province"].isin(CANONICAL).fillna(False)),
         "a canonical province name or empty (unassigned)"),
        ("scope", ~ev["scope"].isin(SCOPES).fillna(False), f"one of {SCOPES}"),
        ("province_method", ~ev["province_method"].isin(PROVINCE_METHODS).fillna(False),
         f"one of {PROVINCE_METHODS}"),
        ("date_end", (ev["date_end"] < ev["date"]).fillna(False), "a date on or after date"),
        ("latitude", (ev["latitude"].abs() > 90).fillna(False), "a latitude in [-90, 90]"),
        ("longitude", (ev["longitude"].abs() > 180).fillna(False), "a longitude in [-180, 180]"),
        *[(c, (ev[c] < 0).fillna(False), "a count >= 0") for c in ("killed", "killed_low", "killed_high", "injured")],
    ]
    for col, bad, expect in rules:
        bad = np.asarray(bad, dtype=bool)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            val = ev[col].iloc[i]
            raise StoreError(f"store {where}: event ({ev['source'].iloc[i]}, {ev['event_id'].iloc[i]}) has "
                             f"{col} {'empty' if pd.isna(val) else repr(str(val))}, expected {expect} "
                             f"({int(bad.sum())} such event(s)); the store was edited outside pakcast")


def _store_error(store: Store, exc: duckdb.Error, write: bool) -> PakcastError:
    """One-line error for a DuckDB failure inside a store operation (the transaction is rolled back)."""
    msg = _first_line(exc)
    low = msg.lower()
    if isinstance(exc, duckdb.ConstraintException):
        return StoreError(f"the store {store.given_path} refused the rows ({msg}); nothing was changed")
    if "no space left" in low or "disk full" in low or f"errno {errno.ENOSPC}" in low:
        return StoreError(f"the store {store.given_path} could not be written: no space left on the device; nothing "
                          "was changed (the transaction was rolled back). Free space and retry")
    if "read-only" in low or "permission denied" in low:
        return StoreError(f"the store {store.given_path} cannot be written ({msg}); nothing was changed")
    return StoreError(f"store {store.given_path}: {msg}" + ("; nothing was changed" if write else ""))


def _migrate_0_to_1(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 0 (no ``meta``, no constraints) -> 1: rebuild every table with its constraints, copying rows.

    Rows that break a constraint make the migration fail as a whole (nothing is changed, the error
    names the constraint); vintages gain ``rows_sha256`` computed from their stored rows.
    """
    have = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
    for t in have:
        con.execute(f"ALTER TABLE {t} RENAME TO legacy_{t}")
    for stmt in SCHEMA_2.values():  # 2 -> 3 follows in the same transaction
        con.execute(stmt)
    con.executemany("INSERT INTO meta VALUES (?, ?)",
                    [["created", _now().isoformat()], ["migrated_from", "0"],
                     ["pakcast_version", package_versions().get("pakcast", "unknown")]])
    copies: dict[str, Callable[[], None]] = {
        "runs": lambda: con.execute("INSERT INTO runs SELECT * FROM legacy_runs"),
        "ingests": lambda: con.execute("INSERT INTO ingests SELECT *, NULL FROM legacy_ingests"),
        "events": lambda: con.execute("INSERT INTO events SELECT * FROM legacy_events"),
        "rejects": lambda: con.execute("INSERT INTO rejects SELECT * FROM legacy_rejects"),
        "reported": lambda: con.execute("INSERT INTO reported SELECT * FROM legacy_reported"),
        "panels": lambda: con.execute("INSERT INTO panels SELECT * FROM legacy_panels"),
        "covariates": lambda: con.execute("INSERT INTO covariates SELECT * FROM legacy_covariates"),
        "vintages": lambda: _copy_legacy_vintages(con),
        "forecasts": lambda: con.execute("INSERT INTO forecasts SELECT * FROM legacy_forecasts"),
        "scores": lambda: con.execute("INSERT INTO scores SELECT * FROM legacy_scores"),
    }
    for t in SCHEMA:
        if t in have:
            copies[t]()
    for t in reversed(list(SCHEMA)):
        if t in have:
            con.execute(f"DROP TABLE legacy_{t}")


def _copy_legacy_vintages(con: duckdb.DuckDBPyConnection) -> None:
    vint = con.execute("SELECT * FROM legacy_vintages").fetchall()
    for vid, run_id, as_of, created, n_rows, columns in vint:
        recs = [r[0] for r in con.execute("SELECT record FROM legacy_forecasts WHERE vintage_id = ? ORDER BY row_no",
                                          [vid]).fetchall()]
        con.execute("INSERT INTO vintages VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [vid, run_id, as_of, created, n_rows, columns, _rows_sha256([str(r) for r in recs])])


def _migrate_1_to_2(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 1 -> 2: the key of ``events`` becomes the unique index :data:`EVENTS_KEY` instead of a
    PRIMARY KEY constraint (same uniqueness; an index can be dropped and rebuilt in bulk by a large
    ingest). The events are copied into the new table; a store migrated from schema 0 in the same
    step already has the new table and only gains the index."""
    has_pk = _one(con, "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'events' AND "
                       "constraint_type = 'PRIMARY KEY'")[0]
    if has_pk:  # copied aside and back, not renamed: DuckDB keeps a renamed table's old name in the foreign
        # key it holds on ingests, and then refuses to drop ingests (2 -> 3, in the same transaction)
        con.execute("CREATE TABLE v1_events AS SELECT * FROM events")
        con.execute("DROP TABLE events")
        con.execute(SCHEMA_2["events"])
        con.execute("INSERT INTO events SELECT * FROM v1_events")
        con.execute("DROP TABLE v1_events")
    if not _has_index(con, EVENTS_KEY):
        con.execute(INDEXES["events"])


#: the tables that refer to ``ingests``, and ``ingests`` itself, in the order they are dropped
_INGEST_TABLES = ("events", "rejects", "reported", "ingests")


def _migrate_2_to_3(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 2 -> 3: every ingest gets an integer key ``ingest_no`` (1, 2, ... in the order the ingests
    were made), and the events refer to their ingest by it instead of by the id text (a foreign key of
    4 bytes an event is cheaper to check and to store when a large file is appended). ``rejects`` and
    ``reported`` keep the id text. DuckDB cannot add a key column to a table others refer to, so the
    four tables are copied, dropped and made again, rows copied under the same constraints (an event
    whose ingest is missing makes the migration fail as a whole, nothing changed); the key index is
    rebuilt."""
    for t in _INGEST_TABLES:
        con.execute(f"CREATE TABLE v2_{t} AS SELECT * FROM {t}")
    for t in _INGEST_TABLES:
        con.execute(f"DROP TABLE {t}")
    for t in reversed(_INGEST_TABLES):
        con.execute(SCHEMA[t])
    con.execute("INSERT INTO ingests BY NAME SELECT *, row_number() OVER (ORDER BY created, ingest_id) AS ingest_no "
                "FROM v2_ingests")
    con.execute("INSERT INTO events BY NAME SELECT e.* EXCLUDE (ingest_id), i.ingest_no FROM v2_events e "
                "LEFT JOIN ingests i ON i.ingest_id = e.ingest_id")
    con.execute("INSERT INTO rejects SELECT * FROM v2_rejects")
    con.execute("INSERT INTO reported SELECT * FROM v2_reported")
    for t in _INGEST_TABLES:
        con.execute(f"DROP TABLE v2_{t}")
    con.execute(INDEXES["events"])


def _insert_ingest(con: duckdb.DuckDBPyConnection, ingest_id: str, source: str, file_path: Path, sha: str,
                   options: dict[str, Any] | None, run_id: str | None, *, rows_read: int = 0, accepted: int = 0,
                   rejected: int = 0) -> int:
    """Add an ``ingests`` row (its other counts 0, set when its rows are in); returns its ``ingest_no``,
    the next integer (the writer holds the store's exclusive lock, so no other process numbers one)."""
    no = int(_one(con, "SELECT coalesce(max(ingest_no), 0) + 1 FROM ingests")[0])
    con.execute("INSERT INTO ingests (ingest_id, source, file, file_sha256, options, rows_read, accepted, rejected, "
                "inserted, duplicates, skipped, unassigned, point_in_polygon, created, versions, run_id, ingest_no) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, 0, 0, ?, ?, ?, ?)",
                [ingest_id, source, str(file_path), sha, json.dumps(to_jsonable(options or {})), rows_read, accepted,
                 rejected, _now(), json.dumps(package_versions()), run_id, no])
    return no


def _manifest_sha(manifest: RunManifest | None, path: Path) -> str | None:
    """The sha256 the run's manifest recorded for ``path`` (an input of the same size), if any."""
    if manifest is None:
        return None
    try:
        size, real = path.stat().st_size, path.resolve()
    except OSError:
        return None
    for rec in manifest.inputs:
        try:
            if rec.get("bytes") == size and Path(rec["path"]).resolve() == real and len(rec.get("sha256", "")) == 64:
                return str(rec["sha256"])
        except (KeyError, OSError, TypeError):
            continue
    return None


def _prepared_chunks(results: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """Each chunk result as ``(prepared events, rejects, rows_read, skipped, digest, ids_checked)``: the
    events converted for DuckDB (:func:`_prepare_events`) where this runs, the reader's thread
    (:func:`_prefetch`), so the thread that appends only appends; the result itself is not kept."""
    for r in results:
        yield (_prepare_events(r.events), r.rejects, r.rows_read, r.skipped, getattr(r, "digest", None),
               bool(getattr(r, "ids_checked", False)))


def _chunk_rows(results: Iterable[tuple[Any, ...]], state: dict[str, Any]
                ) -> Iterator[tuple[_Prepared | None, pd.DataFrame, int, int]]:
    """``(prepared events, rejects, rows_read, skipped)`` of each chunk of :func:`_prepared_chunks`;
    ``state["digest"]``: the reader's :class:`forecast.validate.ReadDigest` (the hash of the file as
    read), when it keeps one; ``state["ids_checked"]``: every chunk came from a reader that rejected
    each repeated event id across the whole file (:attr:`forecast.sources.base.ReadResult.ids_checked`),
    with one shared digest (one pass over one file)."""
    state.setdefault("ids_checked", True)
    for prep, rejects, rows_read, skipped, digest, ids_checked in results:
        if not ids_checked or digest is None or state.get("digest", digest) is not digest:
            state["ids_checked"] = False
        state["digest"] = digest
        yield prep, rejects, rows_read, skipped


def _check_read_digest(state: dict[str, Any], path: Path, sha: str) -> None:
    """Refuse the ingest (the transaction is rolled back) when the bytes read are not the file hashed."""
    digest = state.get("digest")
    got = getattr(digest, "hexdigest", None)
    if got is not None and got != sha:
        raise StoreError(f"{path}: the file changed while it was being ingested (sha256 {sha[:12]}... when it was "
                         f"hashed, {got[:12]}... as read); nothing was stored. Ingest it again once it is complete")


def _has_index(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return _one(con, "SELECT count(*) FROM duckdb_indexes() WHERE index_name = ?", [name])[0] > 0


#: explicit schema migrations: ``MIGRATIONS[v]`` upgrades version ``v`` to ``v + 1`` (inside one transaction)
MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {0: _migrate_0_to_1, 1: _migrate_1_to_2,
                                                                      2: _migrate_2_to_3}


@dataclass
class _Prepared:
    """One chunk's events as DuckDB appends them (:func:`_prepare_events`)."""

    schema: pa.Schema
    batches: list[pa.RecordBatch]
    rows: int
    unassigned: int
    point_in_polygon: int


def _prepare_events(ev_chunk: pd.DataFrame) -> _Prepared | None:
    """A chunk's events in the canonical dtypes as Arrow record batches, with its province counts (None
    for no events). Dates go as ``datetime64[s]``, which DuckDB reads as ``TIMESTAMP_S`` (day precision);
    the chunk itself is not changed."""
    if not len(ev_chunk):
        return None
    ev = ev_chunk if _is_canonical(ev_chunk) else coerce_events(ev_chunk)
    method = ev["province_method"]
    unassigned, pip = int((method == "unassigned").sum()), int((method == "point_in_polygon").sum())
    ev = ev.assign(**{c: ev[c].astype("datetime64[s]") for c in ("date", "date_end")})
    table = pa.Table.from_pandas(ev, preserve_index=False)
    return _Prepared(table.schema, table.to_batches(), len(ev), unassigned, pip)


def _arrow_stream(prep: _Prepared) -> pa.RecordBatchReader:
    """The chunk's batches as an Arrow stream whose batches are released as DuckDB reads them (handed
    over: ``prep`` keeps none).

    DuckDB keeps every Python object registered in a transaction until the transaction ends; a
    registered table would keep each chunk's data in memory for the whole ingest (the cause of the
    memory growing with the file), a stream only keeps itself."""
    batches, prep.batches = prep.batches, []

    def gen() -> Iterator[pa.RecordBatch]:
        while batches:
            yield batches.pop(0)

    return pa.RecordBatchReader.from_batches(prep.schema, gen())


def _bulk_dedup(con: duckdb.DuckDBPyConnection, ingest_no: int, replace: bool, ids_checked: bool = False) -> int:
    """After a bulk append (no key index): drop the duplicates of ``(source, event_id)`` that this ingest
    created, by one join; returns how many of its events were already stored (ignored, or with
    ``replace`` the earlier rows removed instead). Events repeated within the ingest are refused, so
    the key index can always be rebuilt: one aggregate over the ingest's keys checks it, unless
    ``ids_checked`` (every chunk came from one reader pass that rejected each repeated id of the file,
    :meth:`forecast.validate.Checker.unique` with the file's :class:`forecast.validate.SeenIds`, which
    never misses a repeat: a repeat has equal hashes)."""
    rep = None if ids_checked else _one(
        con, "SELECT source, event_id, count(*) FROM events WHERE ingest_no = ? GROUP BY source, event_id "
             "HAVING count(*) > 1 LIMIT 1", [ingest_no])
    if rep is not None:
        raise StoreError(f"the ingest holds event ({rep[0]}, {rep[1]}) {rep[2]} times: not stored (an event id "
                         "must be unique within a file)")
    mine, other = "ingest_no = ?", "ingest_no <> ?"
    if replace:
        mine, other = other, mine
    sql = (f"DELETE FROM events WHERE {mine} AND (source, event_id) IN "
           f"(SELECT source, event_id FROM events WHERE {other})")
    params = [ingest_no, ingest_no]
    return int(con.execute(sql, params).fetchone()[0])


def _insert_rejects(con: duckdb.DuckDBPyConnection, rejects: pd.DataFrame, ingest_id: str) -> int:
    """Insert reject rows (``REJECT_COLUMNS``) under ``ingest_id``; returns how many."""
    rj = rejects.reindex(columns=REJECT_COLUMNS).assign(ingest_id=ingest_id)
    rj["line"] = pd.to_numeric(rj["line"]).astype("Int64")
    con.register("rj_in", rj)
    con.execute('INSERT INTO rejects SELECT ingest_id, source, file, line, event_id, "column", '
                "value, reason FROM rj_in")
    con.unregister("rj_in")
    return len(rj)


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> tuple | None:
    """First row of a query (the whole result is fetched, as DuckDB requires before the next call)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def _dir_sha(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _rows_sha256(records: list[str]) -> str:
    h = hashlib.sha256()
    for r in records:
        h.update(r.encode("utf-8"))
        h.update(b"\n")
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
