"""UCDP reader on the real HDX extract (numbers from shared/data/events/PROVENANCE.md) and on fixtures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pakcast.forecast.provinces import CANONICAL, canonical_province
from pakcast.forecast.sources.ucdp import read_ucdp

FIX = Path(__file__).parent / "fixtures"

# Per-year events and sum of `best`, 2002-2021: shared/data/events/PROVENANCE.md, "Per-year table"
# (computed there with pandas from the same file, sha256 6ef82889...).
YEARLY = {
    2002: (70, 170), 2003: (79, 242), 2004: (62, 430), 2005: (47, 153), 2006: (46, 427), 2007: (210, 1366),
    2008: (664, 4620), 2009: (883, 7460), 2010: (962, 7226), 2011: (595, 3475), 2012: (644, 3541),
    2013: (337, 2914), 2014: (413, 3620), 2015: (276, 2450), 2016: (158, 1100), 2017: (162, 954),
    2018: (91, 483), 2019: (99, 293), 2020: (145, 409), 2021: (189, 448),
}
# adm_1 table of the same PROVENANCE.md (verbatim values -> events, sum best)
ADM1 = {
    "Federally Administered Tribal Areas": (3378, 24939), "Khyber Pakhtunkwa province": (1363, 8124),
    "Balochistan province": (692, 3384), "Sindh province": (395, 2137), "Azad Jammu & Kashmir": (345, 697),
    "Punjab province": (173, 1399), "Gilgit-Baltistan": (13, 42), "Islamabad Capital territory": (12, 119),
}


@pytest.fixture(scope="module")
def ucdp(ucdp_path):
    return read_ucdp(ucdp_path)


def test_rows_and_totals(ucdp):
    assert ucdp.rows_read == 6416  # 6,418 records minus header and HXL row
    assert ucdp.accepted == 6416 and ucdp.rejected == 0
    assert int(ucdp.events["killed"].sum()) == 43225
    assert ucdp.events["event_id"].is_unique


def test_yearly_counts_match_provenance(ucdp):
    ev = ucdp.events
    g = ev.groupby(ev["date"].dt.year).agg(n=("event_id", "size"), best=("killed", "sum"))
    for year, (n, best) in YEARLY.items():
        assert (int(g.loc[year, "n"]), int(g.loc[year, "best"])) == (n, best), year
    early = g.loc[:2001]
    assert (int(early["n"].sum()), int(early["best"].sum())) == (284, 1444)
    late = g.loc[2002:2021]
    assert (int(late["n"].sum()), int(late["best"].sum())) == (6132, 41781)
    assert int(ev["killed_low"][ev["date"].dt.year.between(2002, 2021)].sum()) == 39647
    assert int(ev["killed_high"][ev["date"].dt.year.between(2002, 2021)].sum()) == 48120


def test_type_of_violence_counts(ucdp):
    g = ucdp.events.groupby("type_of_violence").agg(n=("event_id", "size"), best=("killed", "sum"))
    assert g.loc[1].tolist() == [5388, 34962]
    assert g.loc[2].tolist() == [469, 3862]
    assert g.loc[3].tolist() == [559, 4401]


def test_province_mapping_covers_every_adm1(ucdp_path, ucdp):
    raw = pd.read_csv(ucdp_path, skiprows=[1], low_memory=False)
    values = raw["adm_1"].dropna().unique()
    assert set(values) == set(ADM1)
    for v in values:
        assert canonical_province(v) in CANONICAL
    ev = ucdp.events
    src = ev[ev["province_method"] == "source"]
    for verbatim, (n, best) in ADM1.items():
        sub = src[src["province"] == canonical_province(verbatim)]
        assert (len(sub), int(sub["killed"].sum())) == (n, best), verbatim
    # the 45 rows without adm_1: point in polygon where the coordinates are not a country placeholder
    nop = ev[ev["province_method"] != "source"]
    assert len(nop) == 45 and int(nop["killed"].sum()) == 2384
    assert int((ev["province_method"] == "point_in_polygon").sum()) == 36
    assert int((ev["province_method"] == "unassigned").sum()) == 9


def test_whole_year_national_rows(ucdp):
    ev = ucdp.events.set_index("event_id")
    for eid, year, best in (("57152", 2009, 1428), ("52824", 2010, 728)):
        r = ev.loc[eid]
        assert r["date_precision"] == "year"
        assert r["date"] == pd.Timestamp(year, 1, 1) and r["date_end"] == pd.Timestamp(year, 12, 31)
        assert int(r["killed"]) == best
        assert r["province_method"] == "unassigned"  # where_prec 6: (30N, 70E) is a placeholder


def test_scope_rule(ucdp):
    ev = ucdp.events
    inter = ev[ev["scope"] == "interstate"]
    assert len(inter) == 429 and set(inter["conflict_name"]) == {"India - Pakistan"}
    foreign = ev[ev["scope"] == "foreign"]
    us = foreign[foreign["conflict_name"] == "United States of America: Government"]
    assert len(us) == 411
    assert not (foreign["actor"] == "Government of Pakistan").any()
    mil = ev[ev["scope"] == "militant"]
    assert len(mil) == 5475 and int(mil["killed"].sum()) == 39423
    assert set(mil["conflict_name"]) >= {"Pakistan: Government", "Pakistan: Balochistan", "TTP - Civilians"}
    assert "India - Pakistan" not in set(mil["conflict_name"])


def test_injured_missing_for_ucdp(ucdp):
    assert ucdp.events["injured"].isna().all()


def test_official_ged_schema_fixture():
    res = read_ucdp(FIX / "ucdp_official_small.csv")
    assert res.rows_read == 3 and res.skipped == 1  # the Afghan event of a global file
    ev = res.events.set_index("event_id")
    assert ev.loc["500001", "province"] == "Khyber Pakhtunkhwa" and ev.loc["500001", "killed"] == 84
    assert ev.loc["500001", "killed_high"] == 101
    assert ev.loc["500002", "date_precision"] == "month" and ev.loc["500002", "scope"] == "militant"
    assert ev.loc["500004", "scope"] == "foreign" and ev.loc["500004", "province_method"] == "unassigned"


def test_candidate_layout_without_optional_columns(tmp_path):
    p = tmp_path / "candidate.csv"
    p.write_text("id,type_of_violence,date_start,date_end,best,low,high,adm_1,side_a,side_b\n"
                 "9001,3,2024-03-01,2024-03-01,12,10,15,Khyber Pakhtunkhwa province,TTP,Civilians\n"
                 "9002,1,2024-03-02,2024-03-09,2,2,2,Balochistan province,Government of Pakistan,BLA\n",
                 encoding="utf-8")
    res = read_ucdp(p)
    ev = res.events.set_index("event_id")
    assert ev.loc["9001", "actor"] == "TTP" and ev.loc["9001", "event_type"] == "one-sided"
    assert ev.loc["9002", "date_precision"] == "month"  # no date_prec column: 8-day span -> month
    assert ev.loc["9002", "actor"] == "BLA" and ev.loc["9002", "scope"] == "militant"
