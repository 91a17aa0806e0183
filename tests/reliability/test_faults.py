"""Faults: runs killed with SIGKILL mid-ingest and mid-quarterly, and concurrent runs on one store.

Kills happen at injected points (``PAKCAST_FAULT=<point>``, see :func:`forecast.io.fault_point`:
the process SIGKILLs itself inside the store transaction, after the rows are written and before
the commit) and after random short delays (a real ``os.kill(pid, SIGKILL)`` from outside).
After each kill: no partial ingest or vintage is visible, no event is duplicated, and the next
run completes.
"""

from __future__ import annotations

import functools
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from _store_faults import assert_consistent as _consistent  # tests/reliability/_store_faults.py
from _store_faults import env as _env
from _store_faults import events_csv as _events_csv
from _store_faults import pakcast as _pakcast
from _store_faults import popen as _popen
from _store_faults import store_state

from pakcast.forecast.store import Store

#: the state compared before and after a fault (a repeated ingest adds a runs row, so runs are not counted)
_state = functools.partial(store_state, tables=("events", "rejects", "ingests", "vintages", "forecasts"))

def _wait_until_locked(store: Path, hold: float = 1.0, timeout: float = 120.0) -> None:
    """Return once another process has held the store's lock for ``hold`` seconds straight."""
    import fcntl

    lock = store.with_name(store.name + ".lock")
    since = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(lock, "a+") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                since = None
            except BlockingIOError:
                since = since or time.monotonic()
                if time.monotonic() - since >= hold:
                    return
        time.sleep(0.05)
    raise AssertionError("the first process never held the lock")


def _check_counts(store: Path, **expected: int) -> None:
    """The store is consistent and its tables hold ``expected`` rows (``events=200, ingests=2``)."""
    s = _state(store)
    _consistent(s)
    assert {k: s[k] for k in expected} == expected, s


def _first_ingest_holding_the_lock(store: Path, n: int, seconds: float) -> tuple[Path, Path, subprocess.Popen]:
    """An ingest of ``a.csv`` (``n`` events) paused ``seconds`` inside its transaction, once it holds the
    store's lock; returns the store, a second file ``b.csv`` of ``n`` other events, and the process."""
    a = _events_csv(store.parent / "a.csv", n, "a")
    b = _events_csv(store.parent / "b.csv", n, "b")
    Store(store)  # create the schema first so that both processes go straight to their ingest
    p1 = _popen("ingest", str(a), "--source", "csv", "--store", str(store),
                PAKCAST_PAUSE=f"store.ingest.before_commit={seconds:g}")
    _wait_until_locked(store)
    return store, b, p1


@pytest.mark.case("kill-ingest-transaction", fault="SIGKILL inside the ingest transaction",
                  how="`PAKCAST_FAULT=store.ingest.before_commit`",
                  outcome="store unchanged (events, rejects, ingests); re-ingest completes; a third ingest adds nothing")
def test_ingest_killed_before_commit_leaves_nothing_then_completes(tmp_path):
    store = tmp_path / "s.duckdb"
    a = _events_csv(tmp_path / "a.csv", 200, "a")
    b = _events_csv(tmp_path / "b.csv", 300, "b", bad_every=10)
    assert _pakcast("ingest", str(a), "--source", "csv", "--store", str(store)).returncode == 0
    before = _state(store)
    r = _pakcast("ingest", str(b), "--source", "csv", "--store", str(store), "--on-error", "report",
                 PAKCAST_FAULT="store.ingest.before_commit")
    assert r.returncode == -signal.SIGKILL, r.stderr
    after = _state(store)
    assert after == before  # nothing of b: no events, no rejects, no ingest row
    _consistent(after)
    r = _pakcast("ingest", str(b), "--source", "csv", "--store", str(store), "--on-error", "report")
    assert r.returncode == 0, r.stderr
    done = _state(store)
    _consistent(done)
    assert (done["events"], done["rejects"], done["ingests"]) == (200 + 270, 30, 2)
    # and once more: idempotent, nothing duplicated
    assert _pakcast("ingest", str(b), "--source", "csv", "--store", str(store), "--on-error",
                    "report").returncode == 0
    assert _state(store) == done


@pytest.mark.case("kill-vintage-transaction", fault="SIGKILL inside the vintage transaction",
                  how="`PAKCAST_FAULT=store.vintage.before_register` (library, and `pakcast quarterly`)",
                  outcome="no vintage, no orphan forecast rows; the killed run directory's manifest says `status: incomplete`; the next run adds a complete vintage")
def test_vintage_killed_before_registration_is_invisible_then_next_completes(tmp_path):
    store = tmp_path / "v.duckdb"
    code = ("import pandas as pd, sys\nfrom forecast.store import Store\n"
            "df = pd.DataFrame({'province': ['Punjab'] * 50, 'mean': range(50)})\n"
            "print(Store(sys.argv[1]).add_forecast_vintage('run-x', '2021-09-30', df))\n")
    ok = subprocess.run([sys.executable, "-c", code, str(store)], env=_env(), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    first = ok.stdout.strip()
    killed = subprocess.run([sys.executable, "-c", code, str(store)], capture_output=True, text=True,
                            env=_env(PAKCAST_FAULT="store.vintage.before_register"))
    assert killed.returncode == -signal.SIGKILL
    _check_counts(store, vintages=1, forecasts=50)
    again = subprocess.run([sys.executable, "-c", code, str(store)], env=_env(), capture_output=True, text=True)
    assert again.returncode == 0
    _check_counts(store, vintages=2, forecasts=100)
    st = Store(store)
    assert st.load_vintage(first)["mean"].tolist() == list(range(50))  # the first vintage is untouched


@pytest.mark.case("two-ingests", fault="two ingests at once (lock held 6 s by the first)",
                  how="`PAKCAST_PAUSE`",
                  outcome="second waits, then both complete; 200 events, 2 ingests")
def test_two_ingests_at_once_serialise(tmp_path):
    """The first holds the lock (paused inside its transaction); the second waits, then completes."""
    store, b, p1 = _first_ingest_holding_the_lock(tmp_path / "c.duckdb", 100, seconds=6)
    p2 = _popen("ingest", str(b), "--source", "csv", "--store", str(store))
    out1, err1 = p1.communicate(timeout=300)
    out2, err2 = p2.communicate(timeout=300)
    assert p1.returncode == 0, err1
    assert p2.returncode == 0, err2
    _check_counts(store, events=200, ingests=2)


@pytest.mark.case("lock-timeout", fault="second ingest while the lock is held longer than its timeout",
                  how="`PAKCAST_LOCK_TIMEOUT=1`",
                  outcome="exit 1 with \"in use by another pakcast process ... waited 1 s\" (was a traceback: `StoreLockedError` not caught by `pakcast ingest`; fixed); nothing written; it succeeds afterwards")
def test_second_run_fails_clearly_when_the_lock_is_held_too_long(tmp_path):
    store, b, p1 = _first_ingest_holding_the_lock(tmp_path / "l.duckdb", 50, seconds=30)
    r2 = _pakcast("ingest", str(b), "--source", "csv", "--store", str(store), PAKCAST_LOCK_TIMEOUT="1")
    p1.communicate(timeout=300)
    assert r2.returncode == 1
    msg = " ".join(r2.stderr.split())
    assert "in use by another pakcast process" in msg and "Traceback" not in msg
    assert p1.returncode == 0
    _check_counts(store, events=50, ingests=1)
    assert _pakcast("ingest", str(b), "--source", "csv", "--store", str(store)).returncode == 0
    assert _state(store)["events"] == 100


@pytest.mark.case("same-file-twice", fault="the same file ingested by two processes at once",
                  how="two `pakcast ingest`",
                  outcome="stored once (one ingest row, no duplicated events)")
def test_same_file_ingested_twice_at_once_is_not_duplicated(tmp_path):
    store = tmp_path / "d.duckdb"
    a = _events_csv(tmp_path / "a.csv", 150, "a")
    Store(store)
    procs = [_popen("ingest", str(a), "--source", "csv", "--store", str(store)) for _ in range(2)]
    for p in procs:
        p.communicate(timeout=300)
        assert p.returncode == 0
    _check_counts(store, events=150, ingests=1)


@pytest.mark.case("kill-ingest-delay", fault="SIGKILL after 0.5-7 s of an ingest of the UCDP extract (6,416 rows)",
                  how="`os.kill` from outside (slow test)",
                  outcome="store has 0 or 6,416 events, never part; next ingest completes with 6,416 and one ingest row")
@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.5, 2.0, 3.5, 5.0, 7.0])
def test_ingest_killed_after_random_delay(tmp_path, ucdp_path, delay):
    """A real SIGKILL from outside at several moments of an ingest of the UCDP extract (6,416 rows)."""
    store = tmp_path / "k.duckdb"
    p = _popen("ingest", str(ucdp_path), "--source", "ucdp", "--store", str(store))
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    if store.exists():
        s = _state(store)
        _consistent(s)
        assert s["events"] in (0, 6416)
    r = _pakcast("ingest", str(ucdp_path), "--source", "ucdp", "--store", str(store))
    assert r.returncode == 0, r.stderr
    _check_counts(store, events=6416, ingests=1)


QUARTERLY = ("quarterly", "--data", "ucdp", "--models", "last_value,seasonal_naive", "--scheduler", "serial", "--n-samples", "100",
             "--no-studies", "--no-report", "--backtest-start", "2019-01-01", "--as-of", "2021-09-30")


@pytest.mark.case("same-quarter-twice", fault="re-running the same quarter twice",
                  how="`pakcast quarterly` x2 (slow test)",
                  outcome="two vintage ids, same `as_of`; the first vintage's rows unchanged")
@pytest.mark.case("kill-vintage-transaction")
@pytest.mark.slow
def test_quarterly_killed_mid_archive_then_rerun_creates_new_vintage(tmp_path):
    """Kill a quarterly run inside its vintage transaction, then run the quarter twice more:
    the killed run left no vintage, each later run adds one, and no vintage is ever overwritten."""
    store = tmp_path / "q.duckdb"
    r = _pakcast(*QUARTERLY, "--out", str(tmp_path / "killed"), "--store", str(store),
                 PAKCAST_FAULT="store.vintage.before_register")
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    s = _state(store)
    _consistent(s)
    assert s["vintages"] == 0 and s["forecasts"] == 0
    killed = json.loads((tmp_path / "killed" / "manifest.json").read_text(encoding="utf-8"))
    assert killed["status"] == "incomplete"  # written first, marked complete only by the last step
    r1 = _pakcast(*QUARTERLY, "--out", str(tmp_path / "run1"), "--store", str(store))
    assert r1.returncode == 0, r1.stderr[-2000:]
    st = Store(store)
    v1 = st.vintages()
    assert len(v1) == 1
    rows1 = st.load_vintage(v1["vintage_id"].iloc[0])
    r2 = _pakcast(*QUARTERLY, "--out", str(tmp_path / "run2"), "--store", str(store))
    assert r2.returncode == 0, r2.stderr[-2000:]
    v2 = st.vintages()
    assert len(v2) == 2 and v2["vintage_id"].nunique() == 2
    assert v2["as_of"].nunique() == 1  # the same quarter (as_of is stored as its month, 2021-09-01)
    pd.testing.assert_frame_equal(st.load_vintage(v1["vintage_id"].iloc[0]), rows1)
    _consistent(_state(store))


@pytest.mark.case("kill-quarterly-delay", fault="SIGKILL of `pakcast quarterly` after 4 s / 9 s",
                  how="`os.kill` (slow test)",
                  outcome="store consistent; the next run completes and writes its manifest")
@pytest.mark.slow
@pytest.mark.parametrize("delay", [4.0, 9.0])
def test_quarterly_killed_after_delay_next_run_completes(tmp_path, delay):
    store = tmp_path / "q.duckdb"
    p = _popen(*QUARTERLY, "--out", str(tmp_path / "killed"), "--store", str(store))
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.communicate(timeout=60)
    if store.exists():
        _consistent(_state(store))
    r = _pakcast(*QUARTERLY, "--out", str(tmp_path / "next"), "--store", str(store))
    assert r.returncode == 0, r.stderr[-2000:]
    s = _state(store)
    _consistent(s)
    assert s["vintages"] in (1, 2)
    assert (tmp_path / "next" / "manifest.json").exists()


@pytest.mark.slow
def test_quarterly_fails_clearly_when_the_store_stays_locked(tmp_path):
    """A quarterly run that cannot archive its vintage writes its outputs but exits non-zero, saying why."""
    store = tmp_path / "q.duckdb"
    a = _events_csv(tmp_path / "a.csv", 50, "a")
    Store(store)
    p1 = _popen("ingest", str(a), "--source", "csv", "--store", str(store),
                PAKCAST_PAUSE="store.ingest.before_commit=60")
    _wait_until_locked(store)
    out = tmp_path / "run"
    r = _pakcast("quarterly", "--data", "ucdp", "--out", str(out), "--models", "last_value", "--scheduler", "serial",
                 "--n-samples", "100", "--no-studies", "--no-report", "--backtest-start", "2021-01-01",
                 "--store", str(store), PAKCAST_LOCK_TIMEOUT="1")
    p1.kill()
    p1.communicate(timeout=60)
    assert r.returncode == 3, r.stdout + r.stderr
    msg = " ".join((r.stdout + r.stderr).split())
    assert "NOT archived" in msg and "Traceback" not in msg
    assert (out / "forecast.csv").is_file()
    assert _state(store)["vintages"] == 0
