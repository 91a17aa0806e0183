"""Panels: conservation, the date-precision rule, explicit zeros, population, shipped tables offline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pakcast.forecast import panel as pn
from pakcast.forecast.provinces import NATIONAL, province_list
from pakcast.forecast.sources.ucdp import read_ucdp

COUNTS = ["attacks", "killed", "killed_low", "killed_high"]
COVERAGE = ("1989-01-01", "2021-12-31")


@pytest.fixture(scope="module")
def events(ucdp_path):
    return read_ucdp(ucdp_path).events


def _event_totals(ev: pd.DataFrame) -> dict[str, int]:
    return {"attacks": len(ev), "killed": int(ev["killed"].sum()), "killed_low": int(ev["killed_low"].sum()),
            "killed_high": int(ev["killed_high"].sum())}


@pytest.mark.parametrize("freq", ["day", "week", "month", "quarter", "year"])
@pytest.mark.parametrize("scope", ["militant", "all"])
def test_conservation(events, freq, scope):
    panel, rep = pn.build_panel_with_report(events, freq, scope=scope, coverage=COVERAGE, with_population=False)
    sel = pn.select_events(events, scope)
    inside = pn.contained_in_period(sel, freq)
    kept, dropped = sel[inside], sel[~inside]
    assert rep.excluded_date_precision == len(dropped)
    assert rep.events_in_panel + rep.excluded_date_precision == rep.events_in_scope == len(sel)
    nat = panel[panel["unique_id"] == NATIONAL]
    prov = panel[panel["unique_id"] != NATIONAL]
    unassigned = kept[kept["province"].isna()]
    for m, total in _event_totals(kept).items():
        assert int(nat[m].sum()) == total, m                          # national = events after exclusions
        assert int(prov[m].sum()) + _event_totals(unassigned)[m] == total, m  # provinces + unassigned
    assert int(sel["killed"].sum()) == int(nat["killed"].sum()) + rep.excluded_date_precision_killed


def test_explicit_zeros_and_shape(events):
    panel = pn.build_panel(events, "month", coverage=COVERAGE)
    units = [*province_list("merge"), NATIONAL]
    assert len(panel) == len(units) * 33 * 12
    assert set(panel["unique_id"]) == set(units)
    assert panel.groupby("unique_id")["ds"].nunique().eq(396).all()
    assert (panel[COUNTS] >= 0).all().all() and (panel["attacks"] == 0).mean() > 0.5
    assert list(panel.columns) == pn.PANEL_COLUMNS
    assert panel["injured"].isna().all()  # UCDP has no injured counts


def test_whole_year_rows_follow_the_rule(events):
    """Ids 57152 (2009, 1,428 best) and 52824 (2010, 728): only in the year panel, national only."""
    for freq in ("day", "week", "month", "quarter"):
        _, rep = pn.build_panel_with_report(events, freq, coverage=COVERAGE, with_population=False)
        assert {"57152", "52824"} <= set(rep.excluded_date_precision_ids)
    _, rep_m = pn.build_panel_with_report(events, "month", coverage=COVERAGE, with_population=False)
    assert rep_m.excluded_date_precision == 31 and rep_m.excluded_date_precision_killed == 2407
    month = pn.build_panel(events, "month", coverage=COVERAGE, with_population=False)
    jan = month[(month["unique_id"] == NATIONAL) & month["ds"].isin([pd.Timestamp("2009-01-01"),
                                                                     pd.Timestamp("2010-01-01")])]
    assert jan["killed"].max() < 1000  # no false spike on 1 January
    year, rep_y = pn.build_panel_with_report(events, "year", coverage=COVERAGE, with_population=False)
    assert rep_y.excluded_date_precision == 0
    assert {"57152", "52824"} <= set(rep_y.unassigned_province_ids)
    nat = year[year["unique_id"] == NATIONAL].set_index(year[year["unique_id"] == NATIONAL]["ds"].dt.year)
    prov = year[year["unique_id"] != NATIONAL].groupby(year["ds"].dt.year)["killed"].sum()
    assert nat.loc[2009, "killed"] - prov.loc[2009] >= 1428
    assert nat.loc[2010, "killed"] - prov.loc[2010] >= 728


def test_fata_separate_sums_to_merge(events):
    m = pn.build_panel(events, "quarter", fata="merge", coverage=COVERAGE, with_population=False)
    s = pn.build_panel(events, "quarter", fata="separate", coverage=COVERAGE, with_population=False)
    kp_m = m[m["unique_id"] == "Khyber Pakhtunkhwa"].set_index("ds")[COUNTS]
    kp_s = (s[s["unique_id"].isin(["Khyber Pakhtunkhwa", "FATA"])].groupby("ds")[COUNTS].sum())
    pd.testing.assert_frame_equal(kp_m, kp_s, check_names=False)


def test_filters(events):
    p3 = pn.build_panel(events, "year", type_of_violence=3, coverage=COVERAGE, with_population=False)
    assert int(p3.loc[p3["unique_id"] == NATIONAL, "attacks"].sum()) == int(
        ((events["type_of_violence"] == 3) & (events["scope"] == "militant")).sum())
    ttp = pn.build_panel(events, "year", actor="ttp", start="2007-01-01", end="2014-12-31", with_population=False,
                         coverage=COVERAGE)
    assert ttp["ds"].min() == pd.Timestamp("2007-01-01") and ttp["ds"].max() == pd.Timestamp("2014-01-01")
    exp = events[(events["scope"] == "militant") & events["actor"].str.contains("TTP", case=False).fillna(False)
                 & events["date"].between("2007-01-01", "2014-12-31")]
    assert int(ttp.loc[ttp["unique_id"] == NATIONAL, "attacks"].sum()) == len(exp)
    with pytest.raises(ValueError, match="scope"):
        pn.build_panel(events, "month", scope="terror")
    with pytest.raises(ValueError, match="freq"):
        pn.build_panel(events, "fortnight")


def test_population_matches_census_points():
    census = pn.census_table()
    for unit, date, pop in [("Punjab", "1998-03-01", 73621290), ("Punjab", "2017-04-01", 109989655),
                            ("Sindh", "2023-04-01", 55696147), ("Pakistan", "2017-04-01", 207684626),
                            ("Pakistan", "1998-03-01", 132352279)]:
        got = pn.population([unit], [pd.Timestamp(date)], census=census)[0]
        assert got == pop, unit
    kp = pn.population(["Khyber Pakhtunkhwa"], [pd.Timestamp("2017-04-01")], fata="merge", census=census)[0]
    assert kp == 35501964
    kp_s = pn.population(["Khyber Pakhtunkhwa", "FATA"], [pd.Timestamp("2017-04-01")] * 2, fata="separate",
                         census=census)
    assert kp_s.tolist() == [30508920, 4993044]
    mid = pn.population(["Punjab"], [pd.Timestamp("2010-01-01")], census=census)[0]
    assert 73621290 < mid < 109989655
    assert np.isnan(pn.population(["Gilgit-Baltistan"], [pd.Timestamp("2010-01-01")], census=census)[0])


def test_load_panel_works_without_shared(monkeypatch, tmp_path):
    monkeypatch.setenv("PAKCAST_SHARED", str(tmp_path))  # an empty folder: no raw data
    for freq in ("month", "day", "week", "quarter", "year"):
        p = pn.load_panel(freq)
        assert list(p.columns) == pn.PANEL_COLUMNS and len(p) > 0
        assert p["ds"].dtype == "datetime64[ns]" and p["attacks"].dtype == np.int64
    sep = pn.load_panel("month", fata="separate", scope="all")
    assert "FATA" in set(sep["unique_id"])


def test_shipped_tables_equal_a_rebuild(events):
    census = pn.census_table()
    for freq, fata, scope in [("month", "merge", "militant"), ("month", "separate", "militant"),
                              ("month", "merge", "all"), ("day", "merge", "militant")]:
        shipped = pn.load_panel(freq, fata, scope)
        rebuilt = pn.build_panel(events, freq, fata=fata, scope=scope, coverage=COVERAGE, census=census)
        pd.testing.assert_frame_equal(shipped.reset_index(drop=True), rebuilt.reset_index(drop=True),
                                      check_dtype=False)


def test_shipped_militant_events_table():
    from pakcast.forecast import paths

    ev = pd.read_csv(paths.shipped("events_militant.csv"))
    assert list(ev.columns) == ["event_id", "date", "date_end", "date_precision", "province", "killed",
                                "killed_low", "killed_high", "scope"]
    assert len(ev) == 5475 and int(ev["killed"].sum()) == 39423 and set(ev["scope"]) == {"militant"}


def test_csv_round_trip():
    p = pn.load_panel("quarter")
    back = pn.from_csv_form(pn.to_csv_form(p, "quarter"))
    pd.testing.assert_frame_equal(p, back, check_dtype=False)


def test_rates_per_100k():
    p = pn.add_rates(pn.load_panel("year"))
    row = p[(p["unique_id"] == "Pakistan") & (p["ds"] == pd.Timestamp("2010-01-01"))].iloc[0]
    assert row["killed_per_100k"] == pytest.approx(row["killed"] / row["population"] * 1e5)
    assert 150e6 < row["population"] < 200e6  # between the 1998 and 2017 census totals
    gb = p[p["unique_id"] == "Gilgit-Baltistan"]
    assert gb["killed_per_100k"].isna().all()


def _random_events(seed: int, n: int) -> pd.DataFrame:
    from pakcast.forecast.validate import canonical_frame

    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365, n), unit="D")
    span = rng.choice([0, 0, 0, 3, 20, 200], n)
    provs = np.array([*province_list("separate"), None], dtype=object)
    killed = rng.integers(0, 30, n)
    return canonical_frame({
        "source": "csv", "event_id": [f"e{i}" for i in range(n)], "date": start,
        "date_end": start + pd.to_timedelta(span, unit="D"),
        "date_precision": np.where(span == 0, "day", np.where(span <= 6, "week", np.where(span <= 30, "month", "year"))),
        "province": provs[rng.integers(0, len(provs), n)], "killed": killed, "killed_low": killed // 2,
        "killed_high": killed * 2, "injured": rng.integers(0, 9, n),
        "scope": rng.choice(["militant", "foreign", "interstate"], n), "province_method": "source",
    }, n)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("freq", ["day", "week", "month", "quarter", "year"])
@pytest.mark.parametrize("fata", ["merge", "separate"])
def test_conservation_on_random_events(seed, freq, fata):
    ev = _random_events(seed, 400)
    panel, rep = pn.build_panel_with_report(ev, freq, fata=fata, scope="militant,foreign", with_population=False)
    sel = ev[ev["scope"].isin(["militant", "foreign"])]
    kept = sel[pn.contained_in_period(sel, freq)]
    nat = panel[panel["unique_id"] == NATIONAL]
    prov = panel[panel["unique_id"] != NATIONAL]
    for m in ("killed", "killed_low", "killed_high", "injured"):
        assert nat[m].sum() == kept[m].sum()
        assert prov[m].sum() + kept.loc[kept["province"].isna(), m].sum() == kept[m].sum()
    assert int(nat["attacks"].sum()) == len(kept) == rep.events_in_panel
    assert rep.excluded_date_precision == len(sel) - len(kept)
    # every kept event's whole interval is inside its period
    per = pn.FREQS[freq]
    assert (kept["date"].dt.to_period(per) == kept["date_end"].dt.to_period(per)).all()
    n_units = len(province_list(fata)) + 1
    assert len(panel) == n_units * panel["ds"].nunique()
