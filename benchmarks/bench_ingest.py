"""Memory and speed of streaming ingest: generated generic CSVs (about 1 GB) into fresh stores.

    .venv/bin/python -m benchmarks.bench_ingest                       # 256 MB and 1 GB
    .venv/bin/python -m benchmarks.bench_ingest --size-mb 100 --json out.json
    .venv/bin/python -m benchmarks.figures bench_ingest               # docs/results/bench_ingest.json

The file (generic schema: ``event_id, date, killed, province, district, latitude, longitude,
injured, event_type, actor``; every 50th row with an empty province, so point in polygon runs;
every 10,000th row bad, so rejects are written) is generated in a temporary directory. Each ingest
runs in its own child process (``pakcast ingest --on-error report``, exactly what a user runs), so
its peak resident memory and CPU time are measured alone (``os.wait4``: ``ru_maxrss``, ``ru_utime +
ru_stime``); rows/s is rows read over the child's wall time (start-up, reading, validation,
province assignment and the DuckDB transaction), rows per CPU second is the same work over the CPU
time, which depends less on the other jobs of a shared machine. Two sizes show how peak memory
grows with the file. Goal (issue 15): peak RSS under 1.5 GB for the 1 GB file, at least 500,000
rows/s on 2 cores. The script checks each store afterwards: events + rejects = rows in the file.
For the smallest size the file is also read and validated alone (``iter_source`` without a store,
in its own child: ``reader_only``), which splits the ingest's CPU between the reader (parse,
validation, province assignment, the file's hash) and the store (DuckDB's append, the duplicate
join, the key index, start-up differences, and what running both at once adds: ``store_cpu_seconds``
is the ingest's CPU less the reader's alone). And the store alone: the file's chunks read and validated
first, untimed, then stored by :meth:`forecast.store.Store.ingest` in a fresh store, timed in its
own child (``store_only``: :func:`store_only`); its rows/s is the ceiling of any reader in front of
this store on this machine. Beside them, the obvious alternative to pakcast's reader: DuckDB parsing
the CSV itself into the same schema (``duckdb_native``: :func:`duckdb_native`; fewer checks).

Start-up is that of an installed package: before the timed runs, one ingest of a small generated
file (its own store) compiles the modules the ingest imports to bytecode, and the children run
without ``PYTHONDONTWRITEBYTECODE`` (an environment that sets it would otherwise make every timed
child compile pakcast, pandas, pyarrow and DuckDB's Python modules from source, seconds of CPU that a
user's installed pakcast does not spend; ``warm_up`` in the figures says what was run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
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


def _child_env() -> dict[str, str]:
    """The children's environment: bytecode is written and read, as for an installed package."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "COLUMNS": "200"}


WARM_UP = "pakcast ingest of a generated 2,000-row file into its own store (compiles the ingest's modules to bytecode)"


def warm_up(tmp: Path) -> None:
    """One small ingest before the timed ones (module docstring)."""
    small, store = tmp / "warm.csv", tmp / "warm.duckdb"
    generate(small, len(HEADER) + 1, block=2_000)  # one block of rows
    rc, *_ = _ingest([sys.executable, "-m", "pakcast", "ingest", str(small), "--source", "csv", "--store", str(store),
                      "--on-error", "report"], tmp / "warm.log")
    if rc != 0:
        raise SystemExit(f"warm-up ingest failed ({rc}):\n{(tmp / 'warm.log').read_text(errors='replace')}")
    for p in tmp.glob("warm*"):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def _ingest(cmd: list[str], log: Path) -> tuple[int, float, float, int]:
    """Run ``cmd`` as a child; its exit status, wall seconds, CPU seconds and peak RSS (KiB), alone."""
    with open(log, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_child_env())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


STORE_ONLY = "from benchmarks.bench_ingest import store_only; import sys; store_only(sys.argv[1], sys.argv[2])"


def store_only(csv_path: str, store_path: str) -> None:
    """The store's part alone, in this process (what ``STORE_ONLY`` runs in a child): the file is read
    and validated first, untimed, and its chunks kept in memory; then :meth:`forecast.store.Store.ingest`
    stores them in a fresh store, timed (the same bulk path, schema, CHECK and foreign-key checks,
    duplicate join and key-index rebuild as ``pakcast ingest``, and one sha256 pass over the file,
    which the ingest takes while reading; no reading, no start-up). Prints the
    rows stored and the wall and CPU seconds of the ingest call as JSON. Its rows/s is the most any
    reader in front of this store could reach on this machine."""
    from pakcast.forecast.sources import iter_source
    from pakcast.forecast.store import Store

    chunks = list(iter_source(csv_path, "csv", on_error="report"))
    t0, c0 = time.perf_counter(), time.process_time()
    with Store(store_path) as store:
        summary = store.ingest(iter(chunks), None, csv_path, "csv")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"rows": summary.rows_read, "stored": summary.inserted, "wall": wall, "cpu": cpu}))


DUCKDB_NATIVE = ("from benchmarks.bench_ingest import duckdb_native; import sys; "
                 "duckdb_native(sys.argv[1], sys.argv[2])")


def duckdb_native(csv_path: str, store_path: str) -> None:
    """The obvious alternative to pakcast's reader, timed in this process (what ``DUCKDB_NATIVE`` runs in a
    child): DuckDB parses the CSV itself (``read_csv``, strict, on all its threads) and one ``INSERT ...
    SELECT`` casts it into a fresh store's ``events`` table (the same schema: CHECKs, the foreign key
    to ``ingests``), provinces mapped by their known spellings in SQL, then the key index is built.
    It checks less than pakcast (no line-level rejects, no point in polygon, no id check: rows whose
    casts fail are left out and counted), so its rows/s bounds what a DuckDB-native reader could do
    with this store. Prints rows in the file, rows stored and the wall and CPU seconds as JSON."""
    import duckdb
    from pakcast.forecast.provinces import known_spellings
    from pakcast.forecast.store import EVENT_COLUMNS, INDEXES, SCHEMA

    t0, c0 = time.perf_counter(), time.process_time()
    con = duckdb.connect(store_path)
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")
    for table in ("ingests", "events"):
        con.execute(SCHEMA[table])
    con.execute("CREATE TEMP TABLE spellings (k VARCHAR, province VARCHAR)")
    con.executemany("INSERT INTO spellings VALUES (?, ?)", list(known_spellings().items()))
    con.begin()
    con.execute("INSERT INTO ingests (ingest_id, source, file, file_sha256, rows_read, accepted, rejected, inserted, "
                "duplicates, skipped, unassigned, point_in_polygon, created, ingest_no) VALUES ('native', 'csv', ?, "
                "repeat('0', 64), 0, 0, 0, 0, 0, 0, 0, 0, now(), 1)", [csv_path])
    count = "TRY_CAST(killed AS BIGINT)"
    con.execute("""CREATE TEMP VIEW raw AS SELECT * FROM read_csv(?, all_varchar = true, header = true,
                    strict_mode = true)""".replace("?", "'" + csv_path.replace("'", "''") + "'"))
    con.execute(f"""INSERT INTO events ({", ".join(f'"{c}"' for c in [*EVENT_COLUMNS, "ingest_no"])})
        SELECT 'csv', event_id, TRY_CAST(date AS DATE), TRY_CAST(date AS DATE), 'day', s.province, district,
               TRY_CAST(latitude AS DOUBLE), TRY_CAST(longitude AS DOUBLE), {count}, {count}, {count},
               TRY_CAST(injured AS BIGINT), event_type, actor, 'militant',
               CASE WHEN s.province IS NULL THEN 'unassigned' ELSE 'source' END, NULL, NULL, 1
        FROM raw LEFT JOIN spellings s ON s.k = lower(trim(raw.province))
        WHERE TRY_CAST(date AS DATE) IS NOT NULL AND {count} >= 0 AND coalesce(TRY_CAST(injured AS BIGINT), 0) >= 0
          AND coalesce(TRY_CAST(latitude AS DOUBLE), 0) BETWEEN -90 AND 90
          AND coalesce(TRY_CAST(longitude AS DOUBLE), 0) BETWEEN -180 AND 180""")
    con.commit()
    con.execute(INDEXES["events"])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    # counted after the clock stops: the view reads the CSV again
    rows, stored = (con.execute("SELECT count(*) FROM raw").fetchone()[0],
                    con.execute("SELECT count(*) FROM events").fetchone()[0])
    con.close()
    print(json.dumps({"rows": rows, "stored": stored, "wall": wall, "cpu": cpu}))


def _child_json(code: str, args: list, log: Path) -> dict:
    """Run ``python -c code *args`` as a child; the JSON object on the last line of its output."""
    rc, *_ = _ingest([sys.executable, "-c", code, *map(str, args)], log)
    if rc != 0:
        raise SystemExit(f"{code.split(';')[0]} failed ({rc}):\n{log.read_text(errors='replace')}")
    return json.loads([ln for ln in log.read_text().splitlines() if ln.startswith("{")][-1])


def _rates(got: dict) -> dict:
    """Wall and CPU seconds, rows/s and rows stored of a ceiling child's JSON (:func:`_child_json`)."""
    return {"wall_seconds": round(got["wall"], 1), "cpu_seconds": round(got["cpu"], 1),
            "rows_per_second": round(got["rows"] / got["wall"]), "events_stored": int(got["stored"])}


READER_ONLY = ("from pakcast.forecast.sources import iter_source; import sys; "
               "n = sum(r.rows_read for r in iter_source(sys.argv[1], 'csv', on_error='report')); print(n)")


def run(size_mb: float, keep: bool = False, workdir: str | None = None, split: bool = False) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="pakcast-bench-ingest-", dir=workdir))
    csv_path, store, log = tmp / "events.csv", tmp / "store.duckdb", tmp / "ingest.log"
    t0 = time.perf_counter()
    rows = generate(csv_path, int(size_mb * 2**20))
    gen_s = time.perf_counter() - t0
    warm_up(tmp)
    size = csv_path.stat().st_size
    cmd = [sys.executable, "-m", "pakcast", "ingest", str(csv_path), "--source", "csv", "--store", str(store),
           "--on-error", "report"]
    load0 = os.getloadavg()
    rc, wall, cpu, peak_kb = _ingest(cmd, log)
    load1 = os.getloadavg()
    if rc != 0:
        raise SystemExit(f"ingest failed ({rc}):\n{log.read_text(errors='replace')}")
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    events = con.execute("SELECT count(*) FROM events").fetchone()[0]
    rejects = con.execute("SELECT count(*) FROM rejects").fetchone()[0]
    read = con.execute("SELECT rows_read FROM ingests").fetchone()[0]
    con.close()
    out = {
        "size_mb": size_mb, "file_bytes": size, "file_mb": round(size / 2**20), "rows": rows, "generate_seconds": round(gen_s, 1),
        "ingest_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
        "rows_per_second": round(rows / wall), "rows_per_cpu_second": round(rows / cpu),
        "mb_per_second": round(size / 2**20 / wall, 1),
        "peak_rss_mb": round(peak_kb / 1024), "peak_rss_over_file": round(peak_kb * 1024 / size, 2),
        "events_stored": int(events), "rejects_stored": int(rejects), "rows_read": int(read),
        "reconciles": bool(events + rejects == rows == read),
        "load_average_1min_before": round(load0[0], 2), "load_average_1min_after": round(load1[0], 2),
        "command": " ".join(["pakcast", *cmd[3:]]).replace(str(tmp), "TMP"),
        "warm_up": WARM_UP,
    }
    out["meets_goal"] = out["peak_rss_mb"] < GOAL["peak_rss_mb_below"] and (
        out["rows_per_second"] >= GOAL["rows_per_second_at_least"])
    if split:  # where the CPU goes: the same file read and validated alone (no store), in its own child
        rc2, wall2, cpu2, _ = _ingest([sys.executable, "-c", READER_ONLY, str(csv_path)], tmp / "reader.log")
        if rc2 != 0:
            raise SystemExit(f"reader failed ({rc2}):\n{(tmp / 'reader.log').read_text(errors='replace')}")
        out["reader_only"] = {"cpu_seconds": round(cpu2, 1), "wall_seconds": round(wall2, 1),
                              "rows_per_cpu_second": round(rows / cpu2),
                              "share_of_ingest_cpu": round(cpu2 / cpu, 2),
                              "store_cpu_seconds": round(cpu - cpu2, 1),
                              "store_rows_per_cpu_second": round(rows / max(cpu - cpu2, 1e-9))}
    # the ceilings of this store (module docstring): the store alone, and DuckDB reading the CSV itself
    got = _child_json(STORE_ONLY, [csv_path, tmp / "store_only.duckdb"], tmp / "store_only.log")
    out["store_only"] = {**_rates(got), "rows_per_cpu_second": round(got["rows"] / got["cpu"]),
                         "what": "Store.ingest of the file's chunks already read and validated in memory "
                                 "(no reading, no start-up): the most any reader could reach with this store"}
    got = _child_json(DUCKDB_NATIVE, [csv_path, tmp / "native.duckdb"], tmp / "native.log")
    out["duckdb_native"] = {**_rates(got), "rows_left_out": int(got["rows"] - got["stored"]),
                            "what": "DuckDB parses the CSV (read_csv) and one INSERT ... SELECT casts it into the "
                                    "same schema, then the key index (fewer checks than pakcast's reader)"}
    if not keep:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return out


GOAL = {"file_mb": 1024, "peak_rss_mb_below": 1536, "rows_per_second_at_least": 500_000}


def growth(a: dict, b: dict) -> dict:
    """How peak memory grows from run ``a`` to the larger run ``b``. The file is generated in blocks of
    rows, so two sizes may give the same file (``--size-mb 4 8``: one block each); then there is no
    growth to measure, and the per-GB and per-row rates are None with a note saying why."""
    out = {"from_mb": a["size_mb"], "to_mb": b["size_mb"], "peak_rss_mb_added": b["peak_rss_mb"] - a["peak_rss_mb"]}
    d_bytes, d_rows = b["file_bytes"] - a["file_bytes"], b["rows"] - a["rows"]
    if d_bytes <= 0 or d_rows <= 0:
        return {**out, "peak_rss_mb_per_file_gb": None, "peak_rss_bytes_per_row": None,
                "note": f"both generated files have {b['rows']:,} rows ({b['file_bytes']:,} bytes): the file is "
                        "written in blocks of rows, so no growth is measured; give sizes further apart"}
    return {**out, "peak_rss_mb_per_file_gb": round(out["peak_rss_mb_added"] / (d_bytes / 2**20) * 1024),
            "peak_rss_bytes_per_row": round(out["peak_rss_mb_added"] * 2**20 / d_rows)}


def run_sizes(sizes_mb: list[float], keep: bool = False, workdir: str | None = None) -> dict:
    """One run per size (smallest first) and how peak memory grows between the smallest and largest."""
    runs = [run(s, keep, workdir, split=(k == 0)) for k, s in enumerate(sorted(sizes_mb))]
    out: dict = {"runs": runs, "goal": GOAL,
                 "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    if len(runs) > 1:
        out["growth"] = growth(runs[0], runs[-1])
    largest = runs[-1]
    out["meets_goal"] = bool(largest["meets_goal"] and largest["size_mb"] >= GOAL["file_mb"])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, nargs="+", default=[256.0, 1024.0],
                    help="size(s) of the generated CSV in MiB (default 256 1024)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--keep", action="store_true", help="keep the generated files and stores")
    ap.add_argument("--workdir", help="where to put the temporary directories (default: the system temp dir)")
    a = ap.parse_args(argv)
    out = run_sizes(a.size_mb, a.keep, a.workdir)
    for r in out["runs"]:
        print(f"-- {r['size_mb']:g} MiB")
        for k, v in r.items():
            print(f"{k:>26}: {v}")
    for k in ("growth", "meets_goal"):
        if k in out:
            print(f"{k}: {out[k]}")
    if a.json:
        a.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
