"""GTD, ACLED, generic CSV and reported-aggregate readers on small hand-written fixtures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pakcast.forecast.panel import build_panel_with_report
from pakcast.forecast.sources import read_source
from pakcast.forecast.sources.reported import read_reported, reported_panel

FIX = Path(__file__).parent / "fixtures"


def test_gtd_unknown_month_and_day():
    res = read_source(FIX / "gtd_small.csv", "gtd")
    assert (res.rows_read, res.accepted, res.skipped) == (5, 5, 1)  # the Indian event is skipped
    ev = res.events.set_index("event_id")
    day = ev.loc["201001010001"]
    assert (day["date_precision"], day["province"], day["killed"], day["injured"]) == ("day", "FATA", 5, 10)
    mon = ev.loc["201003000001"]  # iday = 0
    assert mon["date_precision"] == "month"
    assert (mon["date"], mon["date_end"]) == (pd.Timestamp("2010-03-01"), pd.Timestamp("2010-03-31"))
    assert pd.isna(mon["injured"])
    yr = ev.loc["201000000001"]  # imonth = iday = 0
    assert yr["date_precision"] == "year" and yr["date_end"] == pd.Timestamp("2010-12-31")
    unk = ev.loc["201005050001"]  # provstate Unknown -> point in polygon (Lahore)
    assert (unk["province"], unk["province_method"]) == ("Punjab", "point_in_polygon") and pd.isna(unk["killed"])
    assert ev.loc["201006070001", "province"] == "Khyber Pakhtunkhwa"  # North-West Frontier Province
    assert set(ev["scope"]) == {"militant"}
    month, rep = build_panel_with_report(res.events, "month")
    assert rep.excluded_date_precision == 1  # the year-only event never lands on 1 January
    nat = month[month["unique_id"] == "Pakistan"].set_index("ds")
    assert nat.loc["2010-01-01", "attacks"] == 1 and nat.loc["2010-03-01", "attacks"] == 1
    assert nat["injured"].sum() == 10 + 3 + 4  # injured known for GTD; unknown counts as not recorded


def test_acled_precision_and_scope():
    res = read_source(FIX / "acled_small.csv", "acled")
    assert (res.rows_read, res.accepted, res.skipped) == (6, 6, 1)
    ev = res.events.set_index("event_id")
    assert ev.loc["PAK1001", "killed"] == 84 and ev.loc["PAK1001", "date"] == pd.Timestamp("2023-01-30")
    wk = ev.loc["PAK1002"]  # "14 February 2023", time_precision 2
    assert wk["date_precision"] == "week" and (wk["date"], wk["date_end"]) == (
        pd.Timestamp("2023-02-11"), pd.Timestamp("2023-02-17"))
    assert ev.loc["PAK1003", "date_precision"] == "month"
    assert ev.loc["PAK1004", "scope"] == "other"
    assert ev.loc["PAK1005", "scope"] == "interstate" and ev.loc["PAK1005", "province"] == "Azad Jammu and Kashmir"
    assert ev.loc["PAK1006", "scope"] == "foreign"
    assert ev.loc["PAK1002", "actor"].endswith("Baloch Liberation Army")
    assert res.events["injured"].isna().all()


def test_generic_schema():
    res = read_source(FIX / "generic_small.csv", "csv")
    ev = res.events.set_index("event_id")
    assert ev.loc["g1", "injured"] == 5 and ev.loc["g1", "source"] == "csv"
    assert ev.loc["g2", "date_end"] == pd.Timestamp("2022-02-28") and ev.loc["g2", "province"] == "Khyber Pakhtunkhwa"
    assert (ev.loc["g3", "province"], ev.loc["g3", "province_method"]) == ("Balochistan", "point_in_polygon")
    assert ev.loc["g4", "province_method"] == "unassigned" and ev.loc["g4", "scope"] == "foreign"
    _, rep = build_panel_with_report(res.events, "month", scope="all")
    assert rep.unassigned_province == 1 and rep.unassigned_province_killed == 7


def test_reported_tables_real(shared_dir):
    tidy, rejects, n = read_reported(shared_dir / "data" / "reported")
    assert n == len(tidy) == 1269 and len(rejects) == 0
    assert set(tidy["source"]) == {"PICSS", "PIPS", "CRSS", "SATP", "GTI", "OFFICIAL", "OTHER"}
    # PIPS Pakistan Security Report figures quoted in shared/data/reported/PROVENANCE.md
    pips = reported_panel(tidy, "PIPS", "attacks", "year")
    nat = pips[pips["unique_id"] == "Pakistan"].set_index("period")["value"]
    assert nat[["2022", "2023", "2024", "2025"]].tolist() == [262, 306, 521, 699]
    assert pips["url"].notna().all()
    with pytest.raises(ValueError, match="several resolutions"):
        reported_panel(tidy, "PICSS", "attacks")
    picss = reported_panel(tidy, "PICSS", "attacks", "month")
    assert (picss["period_type"] == "month").all() and picss["ds"].min() >= pd.Timestamp("2018-01-01")
    with pytest.raises(ValueError):
        reported_panel(tidy, "NOBODY", "attacks")
    # mainland KP and KP as a whole stay apart
    kinds = set(tidy.loc[tidy["province"] == "Khyber Pakhtunkhwa", "kp_definition"])
    assert kinds == {"excl. FATA", "incl. FATA"}


def test_shipped_reported_copy_matches(shared_dir):
    from pakcast.forecast.sources.reported import load_reported

    shipped = load_reported()
    fresh = read_reported(shared_dir / "data" / "reported")[0]
    assert len(shipped) == len(fresh) and shipped["value"].sum() == pytest.approx(fresh["value"].sum())
