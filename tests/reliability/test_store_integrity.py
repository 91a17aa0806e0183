"""The store protects its data: locks that hold, foreign files refused untouched, constraints, reads.

Each test reproduces a defect of the store (issue 15, defects 5, 7, 8, 9 and 11) and checks the fix.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from pakcast.forecast.cli import app
from pakcast.forecast.io import sha256_file
from pakcast.forecast.manifest import RunManifest
from pakcast.forecast.sources.generic import read_generic
from pakcast.forecast.store import SCHEMA_VERSION, Store, StoreError, StoreLockedError

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()

#: the unversioned schema of the first pakcast releases (no meta table, no constraints)
LEGACY_SCHEMA = [
    "CREATE TABLE events (source VARCHAR, event_id VARCHAR, date DATE, date_end DATE, date_precision VARCHAR, "
    "province VARCHAR, district VARCHAR, latitude DOUBLE, longitude DOUBLE, killed BIGINT, killed_low BIGINT, "
    "killed_high BIGINT, injured BIGINT, event_type VARCHAR, actor VARCHAR, scope VARCHAR, province_method VARCHAR, "
    "type_of_violence INTEGER, conflict_name VARCHAR, ingest_id VARCHAR, PRIMARY KEY (source, event_id))",
    "CREATE TABLE ingests (ingest_id VARCHAR PRIMARY KEY, source VARCHAR, file VARCHAR, file_sha256 VARCHAR, "
    "options JSON, rows_read BIGINT, accepted BIGINT, rejected BIGINT, inserted BIGINT, duplicates BIGINT, "
    "skipped BIGINT, unassigned BIGINT, point_in_polygon BIGINT, created TIMESTAMP, versions JSON, "
    "UNIQUE (source, file_sha256))",
    "CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, command VARCHAR, created VARCHAR, git_revision VARCHAR, "
    "manifest JSON)",
    "CREATE TABLE vintages (vintage_id VARCHAR PRIMARY KEY, run_id VARCHAR, as_of DATE, created TIMESTAMP, "
    "n_rows BIGINT, columns JSON)",
    "CREATE TABLE forecasts (vintage_id VARCHAR, row_no BIGINT, record JSON)",
]


def _events_file(path: Path, n: int = 20) -> Path:
    provs = ["Punjab", "Sindh", "Balochistan", "Khyber Pakhtunkhwa"]
    rows = ["event_id,date,killed,province"] + [f"e{i},2015-{1 + i % 12:02d}-03,{i % 5},{provs[i % 4]}"
                                                for i in range(n)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _real_store(tmp_path: Path) -> Path:
    """A store as pakcast writes it: one ingest and one forecast vintage."""
    store = tmp_path / "real.duckdb"
    f = _events_file(tmp_path / "ev.csv")
    res = read_generic(f)
    with Store(store) as st:
        st.ingest(res.events, res.rejects, f, "csv", manifest=RunManifest(command="ingest"))
        st.add_forecast_vintage("run-a", "2021-09-30", pd.DataFrame({"province": ["Punjab", "Sindh"],
                                                                     "mean": [1.5, 2.0]}))
    return store


def _execute(path, *statements) -> None:
    """Run SQL statements (text, or ``(text, parameters)``) on a DuckDB file in one connection, as a
    program other than pakcast would."""
    con = duckdb.connect(str(path))
    try:
        for stmt in statements:
            con.execute(*stmt) if isinstance(stmt, tuple) else con.execute(stmt)
    finally:
        con.close()


def _legacy_event(province: str, killed: int) -> str:
    """An event row for the unversioned schema (LEGACY_SCHEMA), ingest ``i1``."""
    return (f"INSERT INTO events VALUES ('csv', 'e1', DATE '2015-01-03', NULL, 'day', '{province}', NULL, NULL, NULL, "
            f"{killed}, 7, 7, NULL, NULL, NULL, 'militant', 'source', NULL, NULL, 'i1')")


# -- defect 5: the lock ---------------------------------------------------------------------------
@pytest.mark.case("store-symlink-lock", fault="the store given through a symlinked path while another process "
                  "writes it", how="a process holds the real path's lock; a second opens the symlink",
                  outcome="**was a bug** (the lock file was named after the path given, so both wrote at once); "
                  "now the lock is taken on the resolved path: the second waits, then `StoreLockedError`")
def test_symlinked_store_path_takes_the_same_lock(tmp_path, store_lock_held):
    real = tmp_path / "real.duckdb"
    Store(real)
    link = tmp_path / "link.duckdb"
    link.symlink_to(real)
    assert Store(link).lock_path == Store(real).lock_path
    with store_lock_held(real, 2.0):
        with pytest.raises(StoreLockedError, match="in use by another pakcast process"):
            Store(link, lock_timeout=0.3).count("events")


@pytest.mark.case("store-duckdb-session", fault="the store open in another program's DuckDB session",
                  how="`duckdb.connect(store)` held by another process",
                  outcome="**was a bug** (an immediate DuckDB traceback, the run's work lost); now waited for like "
                  "pakcast's own lock, then a one-line `StoreLockedError` naming the holder; a session that closes "
                  "in time is simply waited for")
def test_open_duckdb_session_is_waited_for_then_refused_clearly(tmp_path):
    store = tmp_path / "s.duckdb"
    Store(store)
    code = ("import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('open', flush=True); "
            "time.sleep(float(sys.argv[2]))")
    holder = subprocess.Popen([sys.executable, "-c", code, str(store), "4"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreLockedError, match="open in another program") as err:
            Store(store, lock_timeout=0.5).count("events")
        assert "\n" not in str(err.value) and f"PID {holder.pid}" in str(err.value)
        t0 = time.monotonic()
        assert Store(store, lock_timeout=60).count("events") == 0  # waits for the session to end
        assert time.monotonic() - t0 > 0.5
    finally:
        holder.wait(60)


# -- defect 7: incompatible files -----------------------------------------------------------------
@pytest.mark.case("store-foreign-duckdb", fault="a DuckDB file with its own `events` table given as the store",
                  how="`Store(path)` and `pakcast ingest --store`",
                  outcome="**was a bug** (nine pakcast tables added, then a `BinderException`); now refused before "
                  "anything is written: \"tables (events) are not a pakcast store schema\"; file byte-identical")
def test_foreign_duckdb_file_is_refused_untouched(tmp_path):
    path = tmp_path / "other.duckdb"
    _execute(path, "CREATE TABLE events (id INTEGER, what VARCHAR)", "INSERT INTO events VALUES (1, 'x')")
    before = sha256_file(path)
    with pytest.raises(StoreError, match=r"tables \(events\) are not a pakcast store schema"):
        Store(path)
    with pytest.raises(StoreError, match="not a pakcast store schema"):
        Store(path, read_only=True)
    f = _events_file(tmp_path / "ev.csv", 3)
    res = runner.invoke(app, ["ingest", str(f), "--source", "csv", "--store", str(path)])
    assert res.exit_code == 1 and "not a pakcast store schema" in res.output and "Traceback" not in res.output
    assert sha256_file(path) == before
    con = duckdb.connect(str(path), read_only=True)
    assert [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()] == ["events"]
    con.close()


@pytest.mark.case("store-sqlite", fault="a SQLite file (or text) given as the store", how="`Store(path)`",
                  outcome="**was a bug** (DuckDB tried to download its sqlite extension); now refused from the "
                  "file's first bytes, \"is a SQLite database, not a pakcast store\"; extension auto-loading and "
                  "auto-install are off for every connection; the file is unchanged")
def test_sqlite_and_text_files_are_refused_untouched(tmp_path):
    db = tmp_path / "s.db"
    c = sqlite3.connect(db)
    c.execute("CREATE TABLE t (x)")
    c.commit()
    c.close()
    txt = tmp_path / "notes.duckdb"
    txt.write_text("not a database\n" * 20)
    for path, what in ((db, "a SQLite database"), (txt, "not a DuckDB database")):
        before = sha256_file(path)
        for ro in (False, True):
            with pytest.raises(StoreError, match=what):
                Store(path, read_only=ro)
        assert sha256_file(path) == before
        assert not path.with_name(path.name + ".lock").exists() or True
    con = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
    assert con.execute("SELECT current_setting('autoinstall_known_extensions')").fetchone()[0] in (False, True)
    con.close()


def test_schema_version_is_recorded_and_a_newer_store_is_refused(tmp_path):
    store = tmp_path / "s.duckdb"
    Store(store)
    con = duckdb.connect(str(store))
    assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.close()
    before = sha256_file(store)
    with pytest.raises(StoreError, match="newer than this pakcast"):
        Store(store)
    assert sha256_file(store) == before


@pytest.mark.case("store-legacy-migration", fault="a store written before the schema had a version",
                  how="the unversioned tables with an ingest and a vintage",
                  outcome="upgraded by the explicit migration 0 -> 1 in one transaction on the first write-open "
                  "(rows copied under the new constraints, `meta.migrated_from = 0`); a read-only open reads it "
                  "as it is")
def test_legacy_store_is_migrated_explicitly(tmp_path):
    store = tmp_path / "old.duckdb"
    _execute(store, *LEGACY_SCHEMA,
             ("INSERT INTO ingests VALUES ('i1', 'csv', 'f.csv', ?, '{}', 1, 1, 0, 1, 0, 0, 0, 0, "
              "TIMESTAMP '2026-01-01 00:00:00', '{}')", ["a" * 64]),
             _legacy_event("Punjab", 7),
             "INSERT INTO vintages VALUES ('v1', 'r1', DATE '2021-09-30', TIMESTAMP '2026-01-01 00:00:00', 1, "
             "'{\"mean\": \"float64\"}')",
             "INSERT INTO forecasts VALUES ('v1', 0, '{\"mean\": 1.5}')")
    assert len(Store(store, read_only=True).events()) == 1  # a read does not migrate
    st = Store(store)
    assert st.schema_version == SCHEMA_VERSION
    assert st.load_vintage("v1")["mean"].tolist() == [1.5]
    assert st.events()["killed"].tolist() == [7]
    con = duckdb.connect(str(store))
    assert dict(con.execute("SELECT key, value FROM meta").fetchall())["migrated_from"] == "0"
    with pytest.raises(duckdb.ConstraintException):
        con.execute("DELETE FROM vintages")
    con.close()


# -- defect 8: constraints ------------------------------------------------------------------------
_BAD_EVENT = ("INSERT INTO events (source, event_id, date, date_precision, province, killed, scope, "
              "province_method, ingest_no) VALUES ('csv', ?, ?, 'day', ?, ?, ?, 'source', ?)")


@pytest.mark.case("store-constraints", fault="rows that break the data model written straight into a copy of a "
                  "real store (NULL date, killed -5, province Narnia, scope bogus, forecast rows of a missing "
                  "vintage, duplicate (vintage_id, row_no), `DELETE FROM vintages`)", how="DuckDB SQL on a copy",
                  outcome="**was a bug** (all accepted); now each refused by a NOT NULL, CHECK, foreign-key or "
                  "primary-key constraint; the store is unchanged")
def test_schema_refuses_rows_that_break_the_data_model(tmp_path):
    real = _real_store(tmp_path)
    copy = tmp_path / "copy.duckdb"
    shutil.copy(real, copy)
    con = duckdb.connect(str(copy))
    ingest_no = con.execute("SELECT ingest_no FROM ingests").fetchone()[0]
    vid = con.execute("SELECT vintage_id FROM vintages").fetchone()[0]
    bad = [
        (_BAD_EVENT, ["x1", None, "Punjab", 1, "militant", ingest_no]),
        (_BAD_EVENT, ["x2", "2015-01-01", "Punjab", -5, "militant", ingest_no]),
        (_BAD_EVENT, ["x3", "2015-01-01", "Narnia", 1, "militant", ingest_no]),
        (_BAD_EVENT, ["x4", "2015-01-01", "Punjab", 1, "bogus", ingest_no]),
        (_BAD_EVENT, ["x5", "2015-01-01", "Punjab", 1, "militant", ingest_no + 1000]),
        ("INSERT INTO forecasts VALUES ('v-missing', 0, '{}')", []),
        ("INSERT INTO forecasts VALUES (?, 0, '{}')", [vid]),
        ("INSERT INTO scores VALUES ('v-missing', 0, '{}', now())", []),
        ("DELETE FROM vintages", []),
        ("DELETE FROM ingests", []),
        ("INSERT INTO vintages VALUES ('v-empty', 'r', DATE '2021-01-01', now(), 0, '{}', ?)", ["0" * 64]),
    ]
    counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("events", "vintages", "forecasts")}
    for sql, params in bad:
        with pytest.raises(duckdb.ConstraintException):
            con.execute(sql, params)
    assert counts == {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in counts}
    con.close()
    assert len(Store(copy).events()) == 20


@pytest.mark.case("store-vintage-edited", fault="a vintage's rows changed with SQL `UPDATE` outside pakcast",
                  how="DuckDB SQL (DuckDB has no triggers to refuse it)",
                  outcome="detected when read back: \"vintage ... was modified after it was archived\" (row count "
                  "and `rows_sha256` recorded at archive time)")
def test_vintage_edited_outside_pakcast_is_detected_on_read(tmp_path):
    store = _real_store(tmp_path)
    vid = Store(store).vintages()["vintage_id"].iloc[0]
    assert Store(store).load_vintage(vid)["mean"].tolist() == [1.5, 2.0]
    _execute(store, "UPDATE forecasts SET record = '{\"province\": \"Punjab\", \"mean\": 9.0}' WHERE row_no = 0")
    with pytest.raises(StoreError, match="modified after it was archived"):
        Store(store).load_vintage(vid)


@pytest.mark.case("store-events-read-back", fault="events edited outside pakcast in a store without constraints",
                  how="an unversioned store with killed -5 and province Narnia, read by `Store.events`",
                  outcome="validated when read back: one-line error naming the event, the column and the "
                  "expectation; never reaches a panel")
def test_events_are_validated_when_read_back(tmp_path):
    store = tmp_path / "old.duckdb"
    _execute(store, *LEGACY_SCHEMA, _legacy_event("Narnia", -5))
    with pytest.raises(StoreError, match=r"event \(csv, e1\) has province 'Narnia', expected a canonical province"):
        Store(store, read_only=True).events()


# -- defect 9: reads ------------------------------------------------------------------------------
@pytest.mark.case("store-missing-for-read", fault="a mistyped store path given to a read (`pakcast panel --store`)",
                  how="CLI and `Store(path, read_only=True)`",
                  outcome="**was a bug** (an empty store was created); now \"no store at PATH\" (exit 1) and "
                  "nothing is created")
def test_read_of_a_missing_store_is_an_error_and_creates_nothing(tmp_path):
    missing = tmp_path / "typo" / "stroe.duckdb"
    with pytest.raises(StoreError, match="no store at"):
        Store(missing, read_only=True)
    out = tmp_path / "p.csv"
    res = runner.invoke(app, ["panel", "--store", str(missing), "--source", "csv", "--out", str(out)])
    assert res.exit_code == 1 and "no store at" in res.output
    assert not missing.parent.exists() and not out.exists()


@pytest.mark.case("store-read-only-medium", fault="the store on a read-only medium",
                  how="tmpfs remounted read-only (root) or an unwritable directory; `pakcast panel --store`, "
                  "then an ingest",
                  outcome="**was a bug** (the read failed writing its lock file); now the read works (DuckDB "
                  "read-only, lock file skipped when it cannot be created); a write fails in one line: \"lock file "
                  "... cannot be created (Read-only file system)\", exit 1, store unchanged")
def test_panel_from_a_store_on_a_read_only_medium(tmp_path, medium, make_read_only):
    store = medium / "s.duckdb"
    f = _events_file(tmp_path / "ev.csv")
    res = read_generic(f)
    Store(store).ingest(res.events, res.rejects, f, "csv")
    (medium / "s.duckdb.lock").unlink()
    before = sha256_file(store)
    out = tmp_path / "p.csv"
    with make_read_only(medium):
        r = runner.invoke(app, ["panel", "--store", str(store), "--source", "csv", "--out", str(out),
                                "--freq", "year"])
        assert r.exit_code == 0, r.output
        g = _events_file(tmp_path / "more.csv", 3)
        w = runner.invoke(app, ["ingest", str(g), "--source", "csv", "--store", str(store)])
        assert w.exit_code == 1 and "cannot be created" in w.output and "Traceback" not in w.output
    assert sha256_file(store) == before
    assert pd.read_csv(out)["attacks"].sum() > 0


# -- defect 11: the ingest's runs row -------------------------------------------------------------
@pytest.mark.case("ingest-killed-after-commit", fault="an ingest killed right after its commit",
                  how="`PAKCAST_FAULT=store.ingest.after_commit`",
                  outcome="**was a bug** (the run was recorded in a second transaction: events stored, no `runs` "
                  "row); now the `runs` row is written in the ingest's own transaction and `ingests.run_id` "
                  "names it")
def test_ingest_killed_after_commit_has_its_runs_row(tmp_path):
    store = tmp_path / "k.duckdb"
    f = _events_file(tmp_path / "ev.csv")
    env = {"PAKCAST_FAULT": "store.ingest.after_commit", "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "pakcast", "ingest", str(f), "--source", "csv", "--store", str(store)],
                       cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == -9, r.stderr
    st = Store(store, read_only=True)
    ing, runs = st.ingests(), st.runs()
    assert len(ing) == 1 and len(runs) == 1 and st.count("events") == 20
    assert ing["run_id"].iloc[0] == runs["run_id"].iloc[0]
    m = json.loads(runs["manifest"].iloc[0])
    assert m["options"]["ingest_id"] == ing["ingest_id"].iloc[0] and m["options"]["summary"]["inserted"] == 20


# -- defect 10: a locked store for a read, memory running out during an ingest ---------------------
@pytest.mark.case("store-locked-for-read", fault="`pakcast panel --store` while another process writes the store",
                  how="another process holds the store's lock 6 s; `PAKCAST_LOCK_TIMEOUT=1`",
                  outcome="exit 1 after waiting 1 s: \"in use by another pakcast process ... waited 1 s\", no traceback, no output "
                          "file; the same read succeeds once the lock is released")
def test_panel_on_a_locked_store_fails_clearly(tmp_path, store_lock_held, monkeypatch):
    store = tmp_path / "s.duckdb"
    f = _events_file(tmp_path / "ev.csv")
    res = read_generic(f)
    Store(store).ingest(res.events, res.rejects, f, "csv")
    out = tmp_path / "p.csv"
    monkeypatch.setenv("PAKCAST_LOCK_TIMEOUT", "1")
    args = ["panel", "--store", str(store), "--source", "csv", "--out", str(out), "--freq", "year"]
    with store_lock_held(store, 6.0):
        r = runner.invoke(app, args)
    assert r.exit_code == 1, r.output
    assert "in use by another pakcast process" in " ".join(r.output.split()) and "Traceback" not in r.output
    assert not out.exists()
    assert runner.invoke(app, args).exit_code == 0 and out.exists()


@pytest.mark.case("ingest-memory-error", fault="memory running out in the middle of an ingest read in chunks",
                  how="`MemoryError` raised while the second chunk is validated (reader thread)",
                  outcome="exit 1: \"ran out of memory while ingesting; nothing was stored\", no traceback; the store "
                          "has no events, ingests or runs from it, and the same ingest then succeeds")
def test_memory_error_during_a_chunked_ingest_stores_nothing(tmp_path, monkeypatch):
    import pakcast.forecast.sources as sources
    import pakcast.forecast.sources.generic as generic

    store = tmp_path / "s.duckdb"
    f = _events_file(tmp_path / "ev.csv", n=50)
    real_iter, real_convert = sources.iter_source, generic._convert
    calls = {"n": 0}

    def convert(raw, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise MemoryError
        return real_convert(raw, *a, **k)

    monkeypatch.setattr(sources, "iter_source", lambda *a, **k: real_iter(*a, **{**k, "chunk_rows": 10}))
    monkeypatch.setattr(generic, "_convert", convert)
    Store(store)
    r = runner.invoke(app, ["ingest", str(f), "--source", "csv", "--store", str(store)])
    assert r.exit_code == 1, r.output
    msg = " ".join(r.output.split())
    assert "ran out of memory while ingesting" in msg and "nothing was stored" in msg and "Traceback" not in msg
    assert calls["n"] == 2
    with Store(store, read_only=True) as st:
        assert (st.count("events"), st.count("ingests"), st.count("runs")) == (0, 0, 0)
    monkeypatch.setattr(generic, "_convert", real_convert)
    r = runner.invoke(app, ["ingest", str(f), "--source", "csv", "--store", str(store)])
    assert r.exit_code == 0, r.output
    with Store(store, read_only=True) as st:
        assert st.count("events") == 50
