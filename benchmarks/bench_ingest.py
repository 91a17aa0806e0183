"""Memory and speed of streaming ingest: a generated generic CSV of about 1 GB into a fresh store.

    .venv/bin/python -m benchmarks.bench_ingest               # 1 GB (the goal's size)
    .venv/bin/python -m benchmarks.bench_ingest --size-mb 100 --json out.json

The file (generic schema: ``event_id, date, killed, province, district, latitude, longitude,
injured, event_type, actor``; every 50th row with an empty province, so point in polygon runs;
every 10,000th row bad, so rejects are written) is generated in a temporary directory. The ingest
runs in a child process (``pakcast ingest --on-error report``, exactly what a user runs), so its
peak resident memory is measured alone (``getrusage(RUSAGE_CHILDREN).ru_maxrss``); rows/s is rows
read over the child's wall time (reading, validation, province assignment and the DuckDB
transaction). Goal (issue 15): peak RSS under 1.5 GB for the 1 GB file, at least 500,000 rows/s on
2 cores. The script checks the store afterwards: events + rejects = rows in the file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROVINCES = np.array(["Punjab", "Sindh", "Balochistan", "Khyber Pakhtunkhwa", "Islamabad Capital Territory",
                      "Gilgit-Baltistan", "Azad Jammu and Kashmir", "FATA", "KPK", "NWFP"])
TYPES = np.array(["Bombing/Explosion", "Armed Assault", "Assassination", "Hostage Taking", "Facility Attack"])
ACTORS = np.array(["TTP", "BLA", "Lashkar-e-Jhangvi", "Islamic State Khorasan", "Unknown", "BLF"])
DISTRICTS = np.array(["Quetta", "Peshawar", "Karachi", "Lahore", "Bajaur", "Khyber", "Kech", "Dera Bugti"])
HEADER = "event_id,date,killed,province,district,latitude,longitude,injured,event_type,actor\n"


def generate(path: Path, size_bytes: int, seed: int = 0, block: int = 200_000) -> int:
    """Write the benchmark CSV (vectorised, in blocks); returns the number of data rows."""
    rng = np.random.default_rng(seed)
    days = np.datetime_as_string(np.arange(np.datetime64("2000-01-01"), np.datetime64("2024-12-31")), unit="D")
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(HEADER)
        written = len(HEADER)
        while written < size_bytes:
            i = np.arange(n, n + block)
            prov = PROVINCES[rng.integers(0, len(PROVINCES), block)].astype(object)
            prov[i % 50 == 7] = ""  # left to point in polygon
            killed = rng.poisson(2.0, block).astype(str).astype(object)
            killed[i % 10_000 == 9] = "-1"  # a bad row: rejected with a reason
            lat = np.round(rng.uniform(25.0, 35.5, block), 4).astype(str)
            lon = np.round(rng.uniform(62.0, 74.5, block), 4).astype(str)
            cols = [np.char.add("e", i.astype(str)).astype(object), days[rng.integers(0, len(days), block)].astype(object),
                    killed, prov, DISTRICTS[rng.integers(0, len(DISTRICTS), block)].astype(object),
                    lat.astype(object), lon.astype(object), rng.poisson(3.0, block).astype(str).astype(object),
                    TYPES[rng.integers(0, len(TYPES), block)].astype(object),
                    ACTORS[rng.integers(0, len(ACTORS), block)].astype(object)]
            rows = cols[0]
            for c in cols[1:]:
                rows = rows + "," + c
            text = "\n".join(rows.tolist()) + "\n"
            fh.write(text)
            written += len(text)
            n += block
    return n


def run(size_mb: float, keep: bool = False, workdir: str | None = None) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="pakcast-bench-ingest-", dir=workdir))
    csv_path, store = tmp / "events.csv", tmp / "store.duckdb"
    t0 = time.perf_counter()
    rows = generate(csv_path, int(size_mb * 2**20))
    gen_s = time.perf_counter() - t0
    size = csv_path.stat().st_size
    cmd = [sys.executable, "-m", "pakcast", "ingest", str(csv_path), "--source", "csv", "--store", str(store),
           "--on-error", "report"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    rejects = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
    read = con.execute("SELECT rows_read FROM ingests").fetchone()[0]
    con.close()
    out = {
        "file_bytes": size, "rows": rows, "generate_seconds": round(gen_s, 1), "ingest_seconds": round(wall, 1),
        "rows_per_second": round(rows / wall), "mb_per_second": round(size / 2**20 / wall, 1),
        "peak_rss_mb": round(peak_kb / 1024), "peak_rss_over_file": round(peak_kb * 1024 / size, 2),
        "events_stored": int(events), "rejects_stored": int(rejects), "rows_read": int(read),
        "reconciles": bool(events + rejects == rows == read),
        "goal": {"peak_rss_mb_below": 1536, "rows_per_second_at_least": 500_000},
        "machine": {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
                    "python": platform.python_version()},
        "command": " ".join(cmd[1:]),
    }
    out["meets_goal"] = out["peak_rss_mb"] < 1536 and out["rows_per_second"] >= 500_000
    if not keep:
        for p in (csv_path, store):
            p.unlink(missing_ok=True)
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=1024.0, help="size of the generated CSV (default 1024)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the generated file and store")
    ap.add_argument("--workdir", help="where to put the temporary directory (default: the system temp dir)")
    a = ap.parse_args(argv)
    out = run(a.size_mb, a.keep, a.workdir)
    for k, v in out.items():
        print(f"{k:>20}: {v}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
