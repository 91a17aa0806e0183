"""The bulk path of a streamed ingest (a large file): same result as the small-file path, all or nothing.

A file of at least ``PAKCAST_BULK_INGEST_BYTES`` (32 MiB by default; 0 here, so small files take it)
is ingested with the events' key index dropped (a committed step), every chunk appended in one
transaction, duplicates removed by one join and the index rebuilt after the commit. These tests
check that the stored result equals the small-file path's, that a late bad row or a SIGKILL at each
new stage leaves the visible store as before (or complete), and that the index always comes back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pakcast.forecast.sources import iter_source
from pakcast.forecast.sources.base import ReadResult
from pakcast.forecast.store import BULK_INGEST_BYTES_ENV, EVENTS_KEY, SCHEMA_2, SCHEMA_VERSION, Store, StoreError
from pakcast.forecast.validate import ValidationError

REPO = Path(__file__).resolve().parents[2]
PROVS = ["Punjab", "Sindh", "Balochistan", "Khyber Pakhtunkhwa"]


def _csv(path: Path, ids: range, prefix: str = "e", killed: int = 0, bad_last: bool = False,
         bad_every: int = 0) -> Path:
    rows = ["event_id,date,killed,province"]
    for i in ids:
        k = "-1" if bad_every and i % bad_every == 0 else str((i + killed) % 7)
        rows.append(f"{prefix}{i},{2010 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d},{k},{PROVS[i % 4]}")
    if bad_last:
        rows.append(f"{prefix}bad,2015-02-30,1,Punjab")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _ingest(store: Path, f: Path, on_error: str = "report", replace: bool = False):
    with Store(store) as st:
        return st.ingest(iter_source(f, "csv", on_error=on_error, chunk_rows=40), None, f, "csv",
                         {"on_error": on_error}, replace=replace)


def _visible(store: Path) -> dict:
    """What a reader sees: every table's rows (ids and timestamps of ingests set aside), straight from DuckDB."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        return {
            "events": con.execute("SELECT * EXCLUDE (ingest_no) FROM events ORDER BY source, event_id").fetchall(),
            "rejects": con.execute("SELECT * EXCLUDE (ingest_id) FROM rejects ORDER BY file, line").fetchall(),
            "ingests": con.execute("SELECT source, file, rows_read, accepted, rejected, inserted, duplicates FROM "
                                   "ingests ORDER BY created").fetchall(),
            "runs": con.execute("SELECT count(*) FROM runs").fetchone()[0],
        }
    finally:
        con.close()


def _has_key_index(store: Path) -> bool:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM duckdb_indexes() WHERE index_name = ?", [EVENTS_KEY]).fetchone()[0] == 1
    finally:
        con.close()


@pytest.mark.parametrize("replace", [False, True])
def test_bulk_path_stores_what_the_small_file_path_stores(tmp_path, monkeypatch, replace):
    a = _csv(tmp_path / "a.csv", range(0, 150), bad_every=17)
    b = _csv(tmp_path / "b.csv", range(100, 260), killed=3, bad_every=23)  # 50 ids already stored, revised
    seen, sums = {}, {}
    for mode, limit in (("small", str(2**40)), ("bulk", "0")):
        monkeypatch.setenv(BULK_INGEST_BYTES_ENV, limit)
        store = tmp_path / f"{mode}.duckdb"
        sums[mode] = [_ingest(store, a), _ingest(store, b, replace=replace)]
        seen[mode] = _visible(store)
        assert _has_key_index(store)
    assert seen["bulk"] == seen["small"]
    key = lambda s: (s.rows_read, s.accepted, s.rejected, s.inserted, s.duplicates, s.replaced)  # noqa: E731
    assert [key(s) for s in sums["bulk"]] == [key(s) for s in sums["small"]]
    s = sums["bulk"][1]
    dup = sum(1 for i in range(100, 150) if i % 23 and i % 17)  # b's accepted ids that a stored
    assert (s.inserted, s.duplicates, s.replaced) == ((s.accepted - dup, 0, dup) if replace else (s.accepted - dup, dup, 0))
    with Store(tmp_path / "bulk.duckdb") as st:
        assert st.ingest(iter_source(b, "csv", on_error="report"), None, b, "csv").already_ingested


def test_bulk_ingest_with_a_late_bad_row_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    monkeypatch.setenv(BULK_INGEST_BYTES_ENV, "0")
    store = tmp_path / "s.duckdb"
    _ingest(store, _csv(tmp_path / "a.csv", range(50)))
    before = _visible(store)
    late = _csv(tmp_path / "late.csv", range(1000, 1400), bad_last=True)  # ten chunks, then the bad row
    with pytest.raises(ValidationError, match="line 402"):
        _ingest(store, late, on_error="raise")
    assert _visible(store) == before and _has_key_index(store)
    with duckdb.connect(str(store)) as con:  # the key still refuses a duplicate
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO events SELECT * FROM events LIMIT 1")


def test_bulk_ingest_refuses_an_event_repeated_within_the_ingest(tmp_path, monkeypatch):
    monkeypatch.setenv(BULK_INGEST_BYTES_ENV, "0")
    store = tmp_path / "s.duckdb"
    f = _csv(tmp_path / "a.csv", range(10))
    res = next(iter_source(f, "csv"))
    twice = [res, ReadResult(res.source, res.path, res.events.iloc[:1].copy(), res.rejects, rows_read=1)]
    with pytest.raises(StoreError, match=r"\(csv, e0\) 2 times"):
        Store(store).ingest(iter(twice), None, f, "csv")
    assert _visible(store)["events"] == [] and _has_key_index(store)


def _pakcast(*args: str, **env: str) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if k not in ("PAKCAST_FAULT", "PAKCAST_PAUSE")}
    e.update(MPLBACKEND="Agg", **env)
    return subprocess.run([sys.executable, "-m", "pakcast", *args], cwd=REPO, env=e, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("point", ["store.ingest.index_dropped", "store.ingest.before_commit",
                                   "store.ingest.before_index", "store.ingest.after_commit"])
def test_bulk_ingest_killed_at_each_stage(tmp_path, point):
    store = tmp_path / "s.duckdb"
    a, b = _csv(tmp_path / "a.csv", range(200)), _csv(tmp_path / "b.csv", range(150, 450), bad_every=10)
    args = ("--source", "csv", "--store", str(store), "--on-error", "report")
    assert _pakcast("ingest", str(a), *args, PAKCAST_BULK_INGEST_BYTES="0").returncode == 0
    before = _visible(store)
    r = _pakcast("ingest", str(b), *args, PAKCAST_BULK_INGEST_BYTES="0", PAKCAST_FAULT=point)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    after = _visible(store)
    committed = point in ("store.ingest.before_index", "store.ingest.after_commit")
    if committed:
        assert len(after["events"]) == 200 + 270 - 45 and len(after["ingests"]) == 2 and after["runs"] == 2
    else:
        assert after == before
    assert len(Store(store, read_only=True).events()) == len(after["events"])  # a read needs no index
    Store(store)  # a write-open restores the key index if the kill left it dropped
    assert _has_key_index(store)
    r = _pakcast("ingest", str(b), *args, PAKCAST_BULK_INGEST_BYTES="0")
    assert r.returncode == 0, r.stderr[-2000:]
    done = _visible(store)
    assert len(done["events"]) == 425 and len(done["ingests"]) == 2 and _has_key_index(store)
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT (SELECT count(*) FROM events) - (SELECT sum(inserted) FROM ingests)").fetchone()[0] == 0
    con.close()


def test_schema_1_store_is_migrated_to_the_key_index(tmp_path):
    store = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(store))
    for table, stmt in SCHEMA_2.items():
        if table == "events":  # schema 1: the key was a PRIMARY KEY constraint
            stmt = stmt.replace("REFERENCES ingests (ingest_id), ",
                                "REFERENCES ingests (ingest_id), PRIMARY KEY (source, event_id), ")
        con.execute(stmt)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO ingests VALUES ('i1', 'csv', 'f.csv', ?, '{}', 1, 1, 0, 1, 0, 0, 0, 0, now(), '{}', NULL)",
                ["a" * 64])
    con.execute("INSERT INTO events (source, event_id, date, date_precision, killed, scope, province_method, "
                "ingest_id) VALUES ('csv', 'e1', DATE '2015-01-03', 'day', 4, 'militant', 'unassigned', 'i1')")
    con.close()
    assert Store(store, read_only=True).schema_version == 1  # a read does not migrate
    st = Store(store)
    assert st.schema_version == SCHEMA_VERSION and _has_key_index(store)
    assert st.events()["killed"].tolist() == [4]
    con = duckdb.connect(str(store))
    kinds = {r[0] for r in con.execute("SELECT constraint_type FROM duckdb_constraints() WHERE table_name = 'events'")
             .fetchall()}
    assert "PRIMARY KEY" not in kinds and {"FOREIGN KEY", "CHECK", "NOT NULL"} <= kinds
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO events SELECT * FROM events")
    con.close()
    assert pd.Series(Store(store).ingests()["ingest_id"]).tolist() == ["i1"]


def test_schema_2_store_is_migrated_to_the_integer_ingest_key(tmp_path):
    """Schema 3: the events refer to their ingest by ``ingest_no`` (an integer, cheaper to check on a large
    append); a schema-2 store stays readable as it is and is migrated on its first write-open."""
    store = tmp_path / "v2.duckdb"
    con = duckdb.connect(str(store))
    for stmt in SCHEMA_2.values():
        con.execute(stmt)
    con.execute(f"CREATE UNIQUE INDEX {EVENTS_KEY} ON events (source, event_id)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    for iid, source, when in (("i-b", "csv", "2026-01-02"), ("i-a", "reported", "2026-01-01")):
        con.execute("INSERT INTO ingests VALUES (?, ?, 'f.csv', ?, '{}', 2, 2, 0, 2, 0, 0, 0, 0, ?, '{}', NULL)",
                    [iid, source, (iid[-1] * 64), when])
    for eid, killed in (("e1", 4), ("e2", 0)):
        con.execute("INSERT INTO events (source, event_id, date, date_precision, killed, scope, province_method, "
                    "ingest_id) VALUES ('csv', ?, DATE '2015-01-03', 'day', ?, 'militant', 'unassigned', 'i-b')",
                    [eid, killed])
    con.execute("INSERT INTO rejects VALUES ('i-b', 'csv', 'f.csv', 3, 'e3', 'killed', '-1', 'bad')")
    con.execute("INSERT INTO reported (source, period_type, period, metric, value, ingest_id) VALUES "
                "('pips', 'year', '2015', 'attacks', 5, 'i-a')")
    con.close()
    old = Store(store, read_only=True)  # a read does not migrate, and reads the old layout
    assert old.schema_version == 2 and old.events()["killed"].tolist() == [4, 0]
    st = Store(store)
    assert st.schema_version == SCHEMA_VERSION == 3 and _has_key_index(store)
    assert st.events()["event_id"].tolist() == ["e1", "e2"] and st.events()["killed"].tolist() == [4, 0]
    con = duckdb.connect(str(store))
    # numbered in the order the ingests were made; the events follow their ingest
    assert con.execute("SELECT ingest_id, ingest_no FROM ingests ORDER BY ingest_no").fetchall() == [("i-a", 1),
                                                                                                     ("i-b", 2)]
    assert con.execute("SELECT DISTINCT ingest_no FROM events").fetchall() == [(2,)]
    assert con.execute("SELECT ingest_id, line FROM rejects").fetchall() == [("i-b", 3)]
    assert con.execute("SELECT ingest_id, value FROM reported").fetchall() == [("i-a", 5.0)]
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"
    for bad in ("INSERT INTO events (source, event_id, date, date_precision, scope, province_method, ingest_no) "
                "VALUES ('csv', 'x', DATE '2015-01-03', 'day', 'militant', 'unassigned', 99)",  # no such ingest
                "INSERT INTO events SELECT * FROM events",  # the key
                "DELETE FROM ingests WHERE ingest_no = 2"):  # events refer to it
        with pytest.raises(duckdb.ConstraintException):
            con.execute(bad)
    con.close()
    f = tmp_path / "new.csv"
    f.write_text("event_id,date,killed,province\ne1,2015-01-03,9,Punjab\ne9,2016-02-01,1,Sindh\n", encoding="utf-8")
    summ = Store(store).ingest(iter_source(f, "csv"), None, f, "csv", {})
    assert (summ.inserted, summ.duplicates) == (1, 1)
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT event_id, ingest_no FROM events ORDER BY event_id").fetchall() == [
        ("e1", 2), ("e2", 2), ("e9", 3)]
    con.close()
