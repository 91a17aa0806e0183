"""The concurrency and fault matrix (slow): runs at once on one store, SIGKILL at every injected stage,
a full disk and read-only media; after each case the store is consistent and the next run completes.

Consistency is read straight from DuckDB (no pakcast code): no duplicated or orphaned rows, every
vintage complete, every ingest's events counted, every ingest recorded as a run.
"""

from __future__ import annotations

import functools
import json
import signal
from pathlib import Path

import pytest
from _store_faults import assert_consistent, events_csv, pakcast, store_state  # tests/reliability/_store_faults.py
from _store_faults import popen as _popen

QUARTERLY = ("quarterly", "--data", "ucdp", "--models", "last_value,seasonal_naive", "--n-samples", "100", "--no-studies",
             "--no-report", "--no-bayes", "--backtest-start", "2019-01-01", "--as-of", "2021-09-30")
pytestmark = pytest.mark.slow


_pakcast = functools.partial(pakcast, timeout=900)
_events_csv = functools.partial(events_csv, actor_width=40)  # larger files: an actor column of 40 characters


def _state(store: Path) -> dict[str, int]:
    s = store_state(store)
    assert_consistent(s)
    return s


def _manifest(d: Path) -> dict | None:
    p = d / "manifest.json"
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


@pytest.mark.case("matrix-concurrent", fault="two quarterly runs (serial and local Dask scheduler) and an ingest on one "
                  "store at once", how="three processes started together (slow suite)",
                  outcome="all three complete (exit 0): writers serialise on the lock; two complete vintages, one "
                  "ingest with its run row, store consistent")
def test_two_quarterly_runs_and_an_ingest_at_once(tmp_path):
    store = tmp_path / "s.duckdb"
    ev = _events_csv(tmp_path / "ev.csv", 500)
    procs = [_popen(*QUARTERLY, "--scheduler", "serial", "--out", str(tmp_path / "q1"), "--store", str(store)),
             _popen(*QUARTERLY, "--scheduler", "local", "--workers", "2", "--out", str(tmp_path / "q2"),
                    "--store", str(store)),
             _popen("ingest", str(ev), "--source", "csv", "--store", str(store))]
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, e) in zip(procs, outs):
        assert p.returncode == 0, e[-3000:]
    s = _state(store)
    assert (s["vintages"], s["ingests"], s["events"]) == (2, 1, 500)
    for q in ("q1", "q2"):
        assert _manifest(tmp_path / q)["status"] == "complete"


@pytest.mark.case("matrix-kill-ingest", fault="`pakcast ingest` killed with SIGKILL at each stage",
                  how="`PAKCAST_FAULT` = `store.locked`, `store.ingest.before_commit`, `store.ingest.after_commit`",
                  outcome="before the commit: nothing stored; after it: events, ingest and run row all there; store "
                  "consistent each time and the next ingest completes (adding nothing when the first had committed)")
@pytest.mark.parametrize("point", ["store.locked", "store.ingest.before_commit", "store.ingest.after_commit"])
def test_ingest_killed_at_each_stage(tmp_path, point):
    store = tmp_path / "s.duckdb"
    ev = _events_csv(tmp_path / "ev.csv", 300)
    r = _pakcast("ingest", str(ev), "--source", "csv", "--store", str(store), PAKCAST_FAULT=point)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    s = _state(store)
    committed = point == "store.ingest.after_commit"
    assert (s["events"], s["ingests"], s["runs"]) == ((300, 1, 1) if committed else (0, 0, 0))
    r = _pakcast("ingest", str(ev), "--source", "csv", "--store", str(store))
    assert r.returncode == 0, r.stderr[-2000:]
    s = _state(store)
    assert (s["events"], s["ingests"]) == (300, 1)


@pytest.mark.case("matrix-kill-quarterly", fault="`pakcast quarterly` killed with SIGKILL at each stage",
                  how="`PAKCAST_FAULT` = `io.before_rename` (its first file), `store.locked` (first store write), "
                  "`store.vintage.before_register`; then a run into the same directory",
                  outcome="store consistent after each (no vintage, no orphan rows); the killed directory's manifest "
                  "is absent or `status: incomplete`; a new run there is refused without `--force` and completes "
                  "with it")
def test_quarterly_killed_at_each_stage(tmp_path):
    store = tmp_path / "s.duckdb"
    for i, point in enumerate(["io.before_rename", "store.locked", "store.vintage.before_register"]):
        d = tmp_path / f"k{i}"
        r = _pakcast(*QUARTERLY, "--scheduler", "serial", "--out", str(d), "--store", str(store), PAKCAST_FAULT=point)
        assert r.returncode == -signal.SIGKILL, (point, r.stderr[-2000:])
        m = _manifest(d)
        assert m is None or m["status"] == "incomplete", (point, m)
        if store.exists():
            s = _state(store)
            assert (s["vintages"], s["forecasts"]) == (0, 0), point
    d = tmp_path / "k2"
    r = _pakcast(*QUARTERLY, "--scheduler", "serial", "--out", str(d), "--store", str(store))
    assert r.returncode == 1 and "holds the manifest of another run" in r.stdout + r.stderr
    r = _pakcast(*QUARTERLY, "--scheduler", "serial", "--out", str(d), "--store", str(store), "--force")
    assert r.returncode == 0, r.stderr[-2000:]
    assert _manifest(d)["status"] == "complete" and _state(store)["vintages"] == 1


@pytest.mark.case("matrix-store-disk-full", fault="disk full while the store is written", how="the store on a 16 MB "
                  "tmpfs; ingests of generated files until the device is full (slow suite)",
                  outcome="the failing ingest ends in one line (\"no space left on the device; nothing was "
                  "changed\" or DuckDB's own I/O message), exit 1, no traceback; the store then reads back exactly "
                  "the ingests that had succeeded")
def test_store_on_a_full_disk(tmp_path, small_tmpfs):
    with small_tmpfs("16m") as mnt:
        store = mnt / "s.duckdb"
        done = 0
        for i in range(12):
            ev = _events_csv(tmp_path / f"ev{i}.csv", 40000, prefix=f"f{i}-")
            r = _pakcast("ingest", str(ev), "--source", "csv", "--store", str(store))
            if r.returncode != 0:
                break
            done += 1
        else:
            pytest.fail("the 16 MB medium never filled up")
        msg = r.stdout + r.stderr
        assert r.returncode == 1 and "Traceback" not in msg, msg[-2000:]
        assert "space" in msg.lower() or "store" in msg.lower(), msg[-2000:]
        for junk in mnt.glob("*.tmp"):
            junk.unlink()
        (mnt / "filler").unlink(missing_ok=True)
        s = _state(store)
        assert (s["ingests"], s["events"]) == (done, 40000 * done)


@pytest.mark.case("matrix-read-only", fault="read-only media for the store and for the outputs",
                  how="tmpfs remounted read-only; `pakcast quarterly` with its store there, then with its --out there",
                  outcome="store read-only: the run writes its directory and exits 3 \"NOT archived\" in one line; "
                  "--out read-only: exit 1 \"cannot create the output directory ... Read-only file system\"; the "
                  "store unchanged")
def test_quarterly_with_read_only_media(tmp_path, medium, make_read_only):
    store = medium / "s.duckdb"
    r = _pakcast(*QUARTERLY, "--scheduler", "serial", "--out", str(tmp_path / "first"), "--store", str(store))
    assert r.returncode == 0, r.stderr[-2000:]
    (medium / "s.duckdb.lock").unlink()
    before = _state(store)
    with make_read_only(medium):
        r = _pakcast(*QUARTERLY, "--scheduler", "serial", "--out", str(tmp_path / "second"), "--store", str(store))
        msg = " ".join((r.stdout + r.stderr).split())
        assert r.returncode == 3 and "NOT archived" in msg and "Read-only file system" in msg, msg[-2000:]
        r = _pakcast(*QUARTERLY, "--scheduler", "serial", "--out", str(medium / "out"), "--store", "none")
        msg = " ".join((r.stdout + r.stderr).split())
        assert r.returncode == 1 and "cannot create the output directory" in msg and "Traceback" not in msg, msg[-2000:]
    assert _state(store) == before
