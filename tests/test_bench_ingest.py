"""The ingest benchmark's summary (benchmarks/bench_ingest.py) without running an ingest."""

from __future__ import annotations

import pytest

@pytest.fixture()
def bench(benchmark_module):
    return benchmark_module("bench_ingest")


def _run(size_mb: float, file_bytes: int, rows: int, peak_rss_mb: int) -> dict:
    return {"size_mb": size_mb, "file_bytes": file_bytes, "rows": rows, "peak_rss_mb": peak_rss_mb,
            "meets_goal": False}


def test_growth_between_two_sizes(bench):
    g = bench.growth(_run(256, 256 * 2**20, 3_000_000, 400), _run(1024, 1024 * 2**20, 12_000_000, 700))
    assert g["peak_rss_mb_added"] == 300 and g["peak_rss_mb_per_file_gb"] == 400
    assert g["peak_rss_bytes_per_row"] == round(300 * 2**20 / 9_000_000) and "note" not in g


def test_sizes_that_give_the_same_file_are_no_division_by_zero(bench, monkeypatch, capsys):
    """``--size-mb 4 8``: the file is written in blocks of 200,000 rows, so both sizes give one block."""
    monkeypatch.setattr(bench, "run", lambda s, keep=False, workdir=None, split=False: _run(s, 15_000_000, 200_000,
                                                                                             120 + int(s)))
    bench.main(["--size-mb", "4", "8"])
    out = bench.run_sizes([8, 4])
    g = out["growth"]
    assert (g["from_mb"], g["to_mb"], g["peak_rss_mb_added"]) == (4, 8, 4)
    assert g["peak_rss_mb_per_file_gb"] is None and g["peak_rss_bytes_per_row"] is None
    assert "200,000 rows" in g["note"] and "growth" in capsys.readouterr().out


def test_the_store_ceilings_store_what_the_ingest_stores(bench, tmp_path, capsys):
    """``store_only`` (the reader's chunks stored by ``Store.ingest``) and ``duckdb_native`` (DuckDB's
    own CSV reader into the same schema) on a small generated file: both store the rows that are not
    bad (every 10,000th row has ``killed = -1``), and report them."""
    import json

    csv_path = tmp_path / "events.csv"
    rows = bench.generate(csv_path, len(bench.HEADER) + 1, block=20_000)  # one block
    bench.store_only(str(csv_path), str(tmp_path / "a.duckdb"))
    a = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    bench.duckdb_native(str(csv_path), str(tmp_path / "b.duckdb"))
    b = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert a["rows"] == b["rows"] == rows == 20_000
    assert a["stored"] == b["stored"] == rows - 2
    assert min(a["wall"], a["cpu"], b["wall"], b["cpu"]) > 0


def test_the_warm_up_file_has_rows(bench, tmp_path):
    """The warm-up ingest compiles the reader's modules only if its file has rows to read."""
    assert bench.generate(tmp_path / "w.csv", len(bench.HEADER) + 1, block=2_000) == 2_000
