"""What the fault tests share (tests/reliability/test_faults.py, test_fault_matrix.py): ``pakcast`` run in a
subprocess with fault hooks cleared, an events file, and the store's state read straight from DuckDB
(no pakcast code) with its consistency checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]

#: integrity checks: each query counts the rows that break one rule (0 when the store is consistent)
CHECKS = {
    "duplicate_events": "SELECT count(*) - count(DISTINCT (source, event_id)) FROM events",
    "orphan_events": "SELECT count(*) FROM events e WHERE NOT EXISTS (SELECT 1 FROM ingests i WHERE i.ingest_no = "
                     "e.ingest_no)",
    "orphan_rejects": "SELECT count(*) FROM rejects r WHERE NOT EXISTS (SELECT 1 FROM ingests i WHERE i.ingest_id = "
                      "r.ingest_id)",
    "events_vs_inserted": "SELECT (SELECT count(*) FROM events) - (SELECT coalesce(sum(inserted), 0) FROM ingests)",
    "orphan_forecast_rows": "SELECT count(*) FROM forecasts f WHERE NOT EXISTS (SELECT 1 FROM vintages v WHERE "
                            "v.vintage_id = f.vintage_id)",
    "incomplete_vintages": "SELECT count(*) FROM vintages v WHERE n_rows <> (SELECT count(*) FROM forecasts f WHERE "
                           "f.vintage_id = v.vintage_id)",
    "ingests_without_run": "SELECT count(*) FROM ingests i WHERE i.run_id IS NULL OR NOT EXISTS (SELECT 1 FROM runs r "
                           "WHERE r.run_id = i.run_id)",
}


def env(**extra: str) -> dict[str, str]:
    """The environment without fault hooks (``PAKCAST_FAULT``, ``PAKCAST_PAUSE``), plus ``extra``."""
    out = {k: v for k, v in os.environ.items() if k not in ("PAKCAST_FAULT", "PAKCAST_PAUSE")}
    out.update(MPLBACKEND="Agg", **extra)
    return out


def pakcast(*args: str, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pakcast", *args], cwd=REPO, env=env(**extra),
                          capture_output=True, text=True, timeout=timeout)


def popen(*args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pakcast", *args], cwd=REPO, env=env(**extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def events_csv(path: Path, n: int, prefix: str = "e", bad_every: int = 0, actor_width: int = 0) -> Path:
    """``n`` generic-schema events (every ``bad_every``-th with killed -1, invalid; with ``actor_width``, an
    actor column of that many characters to make the file larger)."""
    provs = ["Punjab", "Sindh", "Balochistan", "Khyber Pakhtunkhwa"]
    lines = ["event_id,date,killed,province" + (",actor" if actor_width else "")]
    for i in range(n):
        killed = "-1" if bad_every and i % bad_every == 0 else str(i % 7)
        lines.append(f"{prefix}{i},{2010 + i % 10}-{1 + i % 12:02d}-{1 + i % 28:02d},{killed},{provs[i % 4]}"
                     + (f",{'x' * actor_width}" if actor_width else ""))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


TABLES = ("events", "rejects", "ingests", "runs", "vintages", "forecasts")


def store_state(store: Path, tables: tuple[str, ...] = TABLES) -> dict[str, int]:
    """Row counts of the store's ``tables`` and the value of every check in :data:`CHECKS`."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        q = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        out = {t: q(f"SELECT count(*) FROM {t}") for t in tables}
        out.update({k: q(sql) for k, sql in CHECKS.items()})
    finally:
        con.close()
    return out


def assert_consistent(s: dict[str, int]) -> None:
    for k in CHECKS:
        assert s[k] == 0, (k, s)
