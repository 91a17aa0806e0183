"""Tests for forecast.covariates: publication lags (no look-ahead), the policy-rate definition
break, event kernels, regional mapping, missing-value reporting, shipped tables reproducible."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pakcast.forecast import covariates as cv
from pakcast.forecast.paths import shipped


@pytest.fixture(scope="module")
def built(shared_dir: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cov")
    cv.build_shipped_tables(shared_dir, out)
    return out


@pytest.fixture(scope="module")
def month(built: Path) -> pd.DataFrame:
    return pd.read_csv(built / cv.SHIPPED["month"], parse_dates=["ds"])


def _nat(month: pd.DataFrame, col: str) -> pd.Series:
    s = month.loc[month.unique_id == "Pakistan"].set_index("ds")[col]
    return s


def test_shipped_tables_are_reproducible(built: Path):
    # numerically equal (shipped values are rounded to 8 decimals; libm may differ in the last bit)
    for key in ("month", "quarter", "meta", "missing", "province"):
        name = cv.SHIPPED[key]
        new, old = pd.read_csv(built / name), pd.read_csv(shipped(name))
        assert list(new.columns) == list(old.columns) and new.shape == old.shape, f"data/{name} is stale: rebuild"
        for c in new.columns:
            if pd.api.types.is_numeric_dtype(new[c]):
                np.testing.assert_allclose(new[c], old[c], rtol=0, atol=2e-8, err_msg=f"data/{name}: {c}")
            else:
                assert new[c].astype(str).tolist() == old[c].astype(str).tolist(), f"data/{name}: {c}"


def test_cpi_enters_with_one_month_lag(month, shared_dir):
    raw = pd.read_csv(shared_dir / "data/covariates/pak_cpi_monthly.csv")
    raw = raw.set_index(pd.to_datetime(raw["month"]))["cpi_yoy_pct"]
    feat = _nat(month, "cpi_yoy_pct")
    for m in ("2008-06-01", "2015-01-01", "2023-05-01"):
        prev = pd.Timestamp(m) - pd.DateOffset(months=1)
        assert feat[pd.Timestamp(m)] == pytest.approx(raw[prev])
    assert np.isnan(feat[pd.Timestamp("2000-01-01")])  # never filled
    chg = _nat(month, "cpi_yoy_change_3m")
    m = pd.Timestamp("2016-06-01")
    assert chg[m] == pytest.approx(raw[m - pd.DateOffset(months=1)] - raw[m - pd.DateOffset(months=4)])


def test_policy_rate_definition_break_is_harmonised(month, shared_dir):
    raw = pd.read_csv(shared_dir / "data/covariates/sbp_policy_rate_monthly.csv")
    raw = raw.set_index(pd.to_datetime(raw["month"]))["policy_rate_end_of_month_pct"]
    feat = _nat(month, "policy_rate_pct")
    may, jun = pd.Timestamp("2015-05-01"), pd.Timestamp("2015-06-01")
    # raw end-of-month: 8.0 (discount rate, April) -> 6.5 (target, May): -150 bp, of which -50 bp is definitional
    assert raw[pd.Timestamp("2015-05-01")] - raw[pd.Timestamp("2015-04-01")] == pytest.approx(-1.5)
    # harmonised to the corridor ceiling: 8.0 -> 7.0, the genuine -100 bp
    assert feat[may] == pytest.approx(8.0) and feat[jun] == pytest.approx(7.0)
    # from 18-May-2020 the ceiling is target + 100 bp
    jul20 = pd.Timestamp("2020-07-01")
    assert feat[jul20] == pytest.approx(raw[pd.Timestamp("2020-06-01")] + 1.0)
    assert _nat(month, "brk_policy_rate_target")[may] == 0 and _nat(month, "brk_policy_rate_target")[jun] == 1


def test_annual_values_step_from_july_of_next_year(month, shared_dir):
    wdi = pd.read_csv(shared_dir / "data/covariates/wdi_pakistan_annual.csv").set_index("year")
    g = _nat(month, "gdp_growth_pct")
    assert g[pd.Timestamp("2016-06-01")] == pytest.approx(wdi.loc[2014, "gdp_growth_pct"], rel=1e-7)
    assert g[pd.Timestamp("2016-07-01")] == pytest.approx(wdi.loc[2015, "gdp_growth_pct"], rel=1e-7)
    assert g[pd.Timestamp("2017-06-01")] == pytest.approx(wdi.loc[2015, "gdp_growth_pct"], rel=1e-7)
    assert np.isnan(g[pd.Timestamp("2001-06-01")])  # year 1999 is not in the file: left empty


def test_event_kernels_never_precede_the_event(month):
    fm = _nat(month, "fata_merger")
    assert fm[pd.Timestamp("2018-04-01")] == 0
    assert fm[pd.Timestamp("2018-05-01")] == pytest.approx(1 / 31)  # 31-May-2018: one day of 31
    assert fm[pd.Timestamp("2018-06-01")] == 1
    pe = _nat(month, "post_election")
    # 2013-05-11 election: 21 days in May, decay 2^(-d/90) for d = 0..20
    # plus what is left of the 2008-02-18 election's decay
    may = pd.date_range("2013-05-01", "2013-05-31")
    expect = (np.exp2(-np.arange(21) / 90.0).sum()
              + np.exp2(-(may - pd.Timestamp("2008-02-18")).days.to_numpy() / 90.0).sum()) / 31
    assert pe[pd.Timestamp("2013-05-01")] == pytest.approx(expect, abs=1e-8)
    # before the 2013 election only the 2008 election's decay remains (shipped to 8 decimals)
    days = pd.date_range("2013-04-01", "2013-04-30")
    assert pe[pd.Timestamp("2013-04-01")] == pytest.approx(
        np.exp2(-(days - pd.Timestamp("2008-02-18")).days.to_numpy() / 90.0).mean(), abs=1e-8)
    camp = _nat(month, "election_campaign")
    assert camp[pd.Timestamp("2013-04-01")] == 1 and camp[pd.Timestamp("2013-06-01")] == 0


def test_regional_operations_apply_to_their_province(month):
    def at(unit, m):
        return month.loc[(month.unique_id == unit) & (month.ds == pd.Timestamp(m)), "military_operation"].item()

    # Zarb-e-Azb (FATA, 2014-06-15) reaches FATA, Khyber Pakhtunkhwa and Pakistan, not Punjab
    assert at("FATA", "2014-07-01") > 0.5 and at("Khyber Pakhtunkhwa", "2014-07-01") > 0.5
    assert at("Punjab", "2014-07-01") < 1e-3
    assert at("Pakistan", "2014-07-01") >= at("FATA", "2014-07-01")
    # Radd-ul-Fasaad (national, 2017-02-22) reaches Punjab
    assert at("Punjab", "2017-03-01") > 0.9


def test_groups_cover_every_feature_and_quarterly_rule(built, month):
    groups = cv.covariate_groups()
    assert set(groups.values()) == set(cv.GROUPS)
    assert set(groups) == {f.name for f in cv.FEATURES}
    assert cv.feature_names(["breaks"]) == ["brk_cpi_base2007", "brk_policy_rate_target", "brk_cpi_national"]
    with pytest.raises(ValueError, match="unknown covariate group"):
        cv.feature_names(["economy"])
    q = pd.read_csv(built / cv.SHIPPED["quarter"], parse_dates=["ds"])
    qn = q.loc[q.unique_id == "Pakistan"].set_index("ds")
    # economic values: the quarter's first month (known at its start); events: quarter mean
    assert qn.loc[pd.Timestamp("2015-04-01"), "cpi_yoy_pct"] == pytest.approx(
        _nat(month, "cpi_yoy_pct")[pd.Timestamp("2015-04-01")])
    months = pd.date_range("2018-04-01", periods=3, freq="MS")
    assert qn.loc[pd.Timestamp("2018-04-01"), "fata_merger"] == pytest.approx(
        _nat(month, "fata_merger")[months].mean(), abs=1e-8)


def test_missing_values_are_reported_not_filled(built, month):
    rep = pd.read_csv(built / cv.SHIPPED["missing"])
    for f in cv.FEATURES:
        n = int(_nat(month, f.name).isna().sum())
        rows = rep[(rep.freq == "month") & (rep.feature == f.name)]
        assert (n == 0 and rows.empty) or int(rows["n_missing"].iloc[0]) == n
    row = rep[(rep.freq == "month") & (rep.feature == "policy_rate_pct")].iloc[0]
    assert row["first_missing"] == "2000-01" and row["last_missing"] == "2001-01"
    gb = month.loc[month.unique_id == "Gilgit-Baltistan", "population"]
    assert gb.isna().all()  # no census figure: left empty, listed in the report
    assert ((rep.feature == "population") & (rep.unique_id == "Gilgit-Baltistan")).any()


def test_population_is_continuous_across_the_merger(month):
    kp = month.loc[month.unique_id == "Khyber Pakhtunkhwa"].set_index("ds")["population"]
    growth = np.diff(np.log(kp.to_numpy()))
    assert np.all(np.isfinite(growth)) and np.all(np.abs(growth) < 0.01)  # no jump at 2017/2018


def test_bad_timeline_region_names_file_and_column(shared_dir, tmp_path):
    src = shared_dir / "data/covariates"
    dst = tmp_path / "data/covariates"
    shutil.copytree(src, dst)
    tl = pd.read_csv(dst / "timeline.csv")
    tl.loc[3, "region"] = "Atlantis"
    tl.to_csv(dst / "timeline.csv", index=False)
    with pytest.raises(ValueError, match=r"timeline\.csv: column 'region'.*Atlantis"):
        cv.build_shipped_tables(tmp_path, tmp_path / "out")


def test_load_covariates_reads_shipped_tables():
    m = cv.load_covariates("month")
    assert {"unique_id", "ds", *cv.covariate_groups()} <= set(m.columns)
    assert m["ds"].dtype.kind == "M"
    assert m.groupby("unique_id").size().nunique() == 1  # balanced
    with pytest.raises(ValueError, match="freq"):
        cv.load_covariates("week")
