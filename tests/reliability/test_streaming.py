"""Streaming ingest (defect 6 of the hostile-input review): a file read in chunks is stored exactly as
the whole file would be, inside one transaction, with progress by bytes and chunks of bounded size."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pakcast.forecast.sources import iter_source, read_source
from pakcast.forecast.store import Store
from pakcast.forecast.validate import ValidationError

PROVS = ["Punjab", "Sindh", "KPK", "Balochistan", ""]


def _file(path: Path, n: int = 2000, bad_every: int = 97) -> Path:
    rows = ["event_id,date,killed,province,latitude,longitude,actor"]
    for i in range(n):
        killed = "-1" if bad_every and i % bad_every == 5 else str(i % 7)
        eid = "e3" if i == 1500 else f"e{i}"  # an id repeated many chunks after its first line
        rows.append(f"{eid},2015-{1 + i % 12:02d}-{1 + i % 28:02d},{killed},{PROVS[i % 5]},30.2,67.0,"
                    f"{'TTP' if i % 3 else 'BLA'}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _sorted(df: pd.DataFrame, key: str) -> pd.DataFrame:
    return df.sort_values(key).reset_index(drop=True)


@pytest.mark.case("chunked-ingest", fault="a file larger than one chunk (2,000 rows in chunks of 100 from 1 KiB "
                  "blocks, bad rows and an id repeated 1,500 lines later)",
                  how="`Store.ingest(iter_source(...))` against `read_source` of the whole file",
                  outcome="the same events, rejects (the repeat names the line of the first) and counts; every "
                          "chunk at most 100 rows; progress by bytes rises to the file size")
def test_chunked_ingest_equals_the_whole_file(tmp_path, monkeypatch):
    import pakcast.forecast.csvread as C

    f = _file(tmp_path / "big.csv")
    whole = read_source(f, "csv", on_error="report")
    monkeypatch.setattr(C, "BLOCK_BYTES", 1024)
    seen: list[tuple[int, int]] = []
    chunks = list(iter_source(f, "csv", on_error="report", chunk_rows=100, progress=lambda d, t: seen.append((d, t))))
    assert len(chunks) >= 20 and all(c.rows_read <= 100 for c in chunks)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (f.stat().st_size,) * 2
    with Store(tmp_path / "s.duckdb") as st:
        summ = st.ingest(iter(chunks), None, f, "csv")
        ev, rj = st.events("csv"), st.rejects("csv")
    assert (summ.rows_read, summ.accepted, summ.rejected) == (whole.rows_read, whole.accepted, whole.rejected)
    assert summ.rows_read == 2000 and summ.rejected > 20
    a, b = _sorted(ev, "event_id"), _sorted(whole.events, "event_id")
    assert a["event_id"].tolist() == b["event_id"].tolist()
    assert a["killed"].astype("int64").tolist() == b["killed"].astype("int64").tolist()
    assert a["province"].fillna("").tolist() == b["province"].fillna("").tolist()
    assert sorted(rj["line"].astype(int)) == sorted(whole.rejects["line"].astype(int))
    repeat = rj[rj["line"] == 1502]
    assert len(repeat) == 1 and "already on line 5" in repeat["reason"].iloc[0]


@pytest.mark.case("chunked-ingest")
def test_a_bad_row_in_a_late_chunk_leaves_the_store_unchanged(tmp_path):
    f = _file(tmp_path / "late.csv", n=1000, bad_every=0)
    lines = f.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[901] = lines[901].replace("2015-", "2015-13-", 1)  # an impossible date on line 902
    f.write_text("".join(lines), encoding="utf-8")
    store = tmp_path / "s.duckdb"
    Store(store)
    with pytest.raises(ValidationError, match="line 902"):
        Store(store).ingest(iter_source(f, "csv", chunk_rows=100), None, f, "csv")
    with Store(store, read_only=True) as st:
        assert (st.count("events"), st.count("ingests"), st.count("rejects")) == (0, 0, 0)


@pytest.mark.case("file-changed-while-ingesting", fault="the input file changes between the run's hashing of it "
                  "(its manifest) and the ingest's read of it",
                  how="`Store.ingest(iter_source(...), manifest=...)` after appending a row to the file",
                  outcome="refused with a message naming the file (the hash of the bytes read differs); nothing "
                          "stored; the file is hashed once while it is read, not in a second pass")
def test_a_file_changed_after_it_was_hashed_is_refused(tmp_path, monkeypatch):
    import pakcast.forecast.store as S
    from pakcast.forecast.manifest import RunManifest
    from pakcast.forecast.store import StoreError

    f = _file(tmp_path / "grow.csv", n=300, bad_every=0)
    hashed: list[Path] = []
    real = S.sha256_file
    monkeypatch.setattr(S, "sha256_file", lambda p: hashed.append(Path(p)) or real(p))
    ok = RunManifest(command="ingest", options={})
    ok.add_input(f, role="csv")
    store = tmp_path / "s.duckdb"
    with Store(store) as st:
        summ = st.ingest(iter_source(f, "csv", chunk_rows=100), None, f, "csv", manifest=ok)
    assert summ.accepted == 300 and hashed == []  # the manifest's hash, checked by the reader's own pass
    g = _file(tmp_path / "late.csv", n=200, bad_every=0)
    stale = RunManifest(command="ingest", options={})
    stale.add_input(g, role="csv")
    with g.open("a", encoding="utf-8") as fh:
        fh.write("x1,2015-01-01,1,Punjab,30.2,67.0,TTP\n")
    stale.inputs[0]["bytes"] = g.stat().st_size  # (a changed size alone would send the store to hash it again)
    with pytest.raises(StoreError, match="changed while it was being ingested"):
        Store(store).ingest(iter_source(g, "csv", chunk_rows=100), None, g, "csv", manifest=stale)
    with Store(store, read_only=True) as st:
        assert (st.count("events"), st.count("ingests")) == (300, 1)
