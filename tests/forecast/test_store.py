"""DuckDB store: idempotent ingestion, rejects, transactions, vintages, scores, the file lock."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from pakcast.forecast.manifest import RunManifest
from pakcast.forecast.sources.generic import read_generic
from pakcast.forecast.sources.ucdp import read_ucdp
from pakcast.forecast.store import Store, StoreLockedError

FIX = Path(__file__).parent / "fixtures"


def test_ingest_real_extract_is_idempotent(tmp_store, ucdp_path):
    res = read_ucdp(ucdp_path)
    with Store(tmp_store) as st:
        s1 = st.ingest(res.events, res.rejects, ucdp_path, "ucdp", {"on_error": "raise"}, rows_read=res.rows_read)
        assert (s1.rows_read, s1.accepted, s1.rejected, s1.inserted, s1.duplicates) == (6416, 6416, 0, 6416, 0)
        assert (s1.unassigned, s1.point_in_polygon) == (9, 36)
        s2 = st.ingest(res.events, res.rejects, ucdp_path, "ucdp", {"on_error": "raise"}, rows_read=res.rows_read)
        assert s2.already_ingested and s2.inserted == 0 and s2.ingest_id == s1.ingest_id
        assert st.count("events") == 6416 and len(st.ingests()) == 1
        ev = st.events("ucdp")
    assert int(ev["killed"].sum()) == 43225
    pd.testing.assert_frame_equal(ev.sort_values("event_id").reset_index(drop=True),
                                  res.events.sort_values("event_id").reset_index(drop=True))


def _ingest_two(st, tmp_path, first: str, second: str, **options):
    """Ingest two generic CSV bodies one after the other (the second with ``options``): its summary."""
    paths = []
    for name, rows in (("first.csv", first), ("second.csv", second)):
        paths.append(tmp_path / name)
        paths[-1].write_text("event_id,date,killed\n" + rows)
    ra, rb = read_generic(paths[0]), read_generic(paths[1])
    st.ingest(ra.events, ra.rejects, paths[0], "csv")
    return st.ingest(rb.events, rb.rejects, paths[1], "csv", **options)


def test_same_events_from_another_file_are_duplicates(tmp_store, tmp_path):
    with Store(tmp_store) as st:
        s = _ingest_two(st, tmp_path, "e1,2022-01-01,1\ne2,2022-01-02,2\n", "e2,2022-01-02,2\ne3,2022-01-03,3\n")
        assert (s.inserted, s.duplicates) == (1, 1)
        assert sorted(st.events("csv")["event_id"]) == ["e1", "e2", "e3"]


def test_rejects_are_stored_with_reasons(tmp_store, tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("event_id,date,killed\ne1,2022-01-01,1\ne2,2022-02-30,2\ne3,2022-01-03,-1\n")
    res = read_generic(p, on_error="report")
    with Store(tmp_store) as st:
        s = st.ingest(res.events, res.rejects, p, "csv", {"on_error": "report"}, rows_read=res.rows_read)
        assert (s.rows_read, s.accepted, s.rejected) == (3, 1, 2)
        rj = st.rejects("csv")
    assert rj["line"].tolist() == [3, 4]
    assert "date" in rj["reason"].iloc[0] and "killed" in rj["reason"].iloc[1]


def test_failed_ingest_rolls_back(tmp_store, tmp_path):
    p = tmp_path / "ok.csv"
    p.write_text("event_id,date,killed\ne1,2022-01-01,1\n")
    res = read_generic(p)
    bad_rejects = pd.DataFrame({"source": ["csv"], "file": ["x"], "line": ["not a number"]})
    with Store(tmp_store) as st:
        with pytest.raises(Exception):
            st.ingest(res.events, bad_rejects, p, "csv", rows_read=2)
        assert st.count("events") == 0 and st.count("ingests") == 0


def test_vintages_are_immutable_and_complete(tmp_store):
    fc = pd.DataFrame({"province": ["Pakistan", "Sindh"], "quarter": ["2022Q1", "2022Q1"],
                       "measure": ["attacks", "attacks"], "mean": [12.5, 1.25], "q05": [4, 0], "q95": [25, 4]})
    with Store(tmp_store) as st:
        m = RunManifest(command="quarterly", options={"as_of": "2021-12-31"})
        st.record_run(m)
        v1 = st.add_forecast_vintage(m.run_id, "2021-12-31", fc)
        v2 = st.add_forecast_vintage(m.run_id, "2021-12-31", fc.assign(mean=[13.0, 1.0]))
        assert v1 != v2
        vs = st.vintages()
        assert list(vs["vintage_id"]) == [v1, v2] and vs["n_rows"].tolist() == [2, 2]
        pd.testing.assert_frame_equal(st.load_vintage(v1), fc, check_dtype=False)
        assert st.load_vintage(v2)["mean"].tolist() == [13.0, 1.0]
        st.add_scores(v1, pd.DataFrame({"model": ["nb2"], "crps": [0.8]}))
        st.add_scores(v1, pd.DataFrame({"model": ["poisson"], "crps": [1.1]}))
        sc = st.scores(v1)
        assert sc["model"].tolist() == ["nb2", "poisson"] and (sc["vintage_id"] == v1).all()
        assert st.runs()["run_id"].tolist() == [m.run_id]
        with pytest.raises(KeyError):
            st.load_vintage("v-missing")
        with pytest.raises(KeyError):
            st.add_scores("v-missing", pd.DataFrame({"crps": [1.0]}))


def test_panel_and_covariate_tables(tmp_store):
    from pakcast.forecast.panel import load_panel

    p = load_panel("year")
    with Store(tmp_store) as st:
        key = st.save_panel({"freq": "year", "scope": "militant"}, p)
        back = st.load_cached_panel({"freq": "year", "scope": "militant"})
        assert back is not None and len(back) == len(p) and key
        assert int(back["killed"].sum()) == int(p["killed"].sum())
        cv = pd.DataFrame({"unique_id": ["Pakistan"], "ds": [pd.Timestamp("2020-01-01")], "variable": ["cpi"],
                           "value": [10.7]})
        assert st.add_covariates("macro", cv) == 1 and len(st.covariates("macro")) == 1


def test_second_writer_waits_then_fails_clearly(tmp_store, store_lock_held):
    Store(tmp_store)  # create the schema
    with store_lock_held(tmp_store, 1.5):
        t0 = time.monotonic()
        with pytest.raises(StoreLockedError, match="in use by another pakcast process"):
            Store(tmp_store, lock_timeout=0.3, read_only=True).count("events")
        assert time.monotonic() - t0 >= 0.3
    assert Store(tmp_store, lock_timeout=5).count("events") == 0


def test_replace_updates_revised_events(tmp_store, tmp_path):
    with Store(tmp_store) as st:
        s = _ingest_two(st, tmp_path, "e1,2022-01-01,1\ne2,2022-01-02,2\n", "e2,2022-01-02,5\ne3,2022-01-03,3\n",
                        replace=True)
        assert (s.inserted, s.replaced, s.duplicates) == (1, 1, 0)
        ev = st.events("csv").set_index("event_id")
    assert ev.loc["e2", "killed"] == 5 and len(ev) == 3
