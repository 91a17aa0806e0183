"""The break/ITS study on the shipped panel and the reported aggregates; Holm; series loading."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pakcast.forecast.io import to_jsonable
from pakcast.forecast.panel import load_panel
from pakcast.forecast.sources.reported import load_reported
from pakcast.forecast.studies import breaks_analysis, holm, load_series, run_break_study, run_reported_study


@pytest.fixture(scope="module")
def study():
    return run_break_study(load_panel("month"), load_reported())


def test_holm_matches_definition():
    p = [0.01, 0.04, 0.03, np.nan, 0.2]
    adj = holm(p)
    # sorted 0.01, 0.03, 0.04, 0.2 with m = 4: 0.04, 0.09, 0.09 (monotone), 0.2
    assert adj[0] == pytest.approx(0.04)
    assert adj[2] == pytest.approx(0.09)
    assert adj[1] == pytest.approx(0.09)
    assert np.isnan(adj[3])
    assert adj[4] == pytest.approx(0.2)


def test_study_shape_and_keys(study):
    json.dumps(to_jsonable(study))  # JSON-ready
    assert list(study)[:2] == ["known", "estimated_breaks"]  # the briefing reads these first
    known = pd.DataFrame(study["known"])
    assert {"series", "outcome", "date", "test", "statistic", "p_value", "p_holm", "n_pre", "n_post"} <= set(known)
    assert set(known["test"]) == {"chow", "lr_negbin", "its_level_wald_hac"}
    nat = known[known.series == "Pakistan"]
    assert set(nat["date"]) == {"2014-12", "2021-08"} and set(nat["outcome"]) == {"attacks", "killed"}
    assert nat["p_holm"].isna().all()  # national series is not part of the province family
    assert (known.loc[known.date == "2021-08", "n_post"] == 5).all()  # UCDP ends 2021-12
    est = pd.DataFrame(study["estimated_breaks"])
    assert {"date", "ci_low", "ci_high", "contains_2014_12", "contains_2021_08", "n_post"} <= set(est)
    assert (pd.to_datetime(est["ci_low"]) <= pd.to_datetime(est["date"])).all()
    assert (pd.to_datetime(est["date"]) <= pd.to_datetime(est["ci_high"])).all()


def test_holm_within_families(study):
    known = pd.DataFrame(study["known"])
    prov = known[known.series != "Pakistan"]
    for _, g in prov.groupby(["outcome", "date", "test"]):
        np.testing.assert_allclose(g["p_holm"].to_numpy(dtype=float), holm(g["p_value"].to_numpy(dtype=float)))
        assert (g["p_holm"] >= g["p_value"] - 1e-12).all()


def test_sparse_series_are_reported_not_tested(study):
    sk = pd.DataFrame(study["skipped"])
    assert ((sk.series == "Azad Jammu and Kashmir") & (sk.outcome == "attacks")).any()
    assert sk["reason"].str.len().gt(10).all()
    known = pd.DataFrame(study["known"])
    assert not ((known.series == "Azad Jammu and Kashmir")).any()


def test_its_records_carry_uncertainty(study):
    its = pd.DataFrame(study["its"])
    assert (its["level_ci_low"] <= its["level_rate_ratio"]).all() and (its["level_rate_ratio"] <= its["level_ci_high"]).all()
    assert (its["excess_ci_low"] <= its["excess_ci_high"]).all()
    nat14 = its[(its.series == "Pakistan") & (its.outcome == "attacks") & (its.date == "2014-12")].iloc[0]
    assert nat14["effects"] == "level+slope" and nat14["n_post"] == 48
    nat21 = its[(its.series == "Pakistan") & (its.outcome == "attacks") & (its.date == "2021-08")].iloc[0]
    assert nat21["effects"] == "level"  # 5 post months: no slope


def test_reported_sources_never_pooled(study):
    rep = pd.DataFrame(study["reported"])
    assert {"source", "region", "outcome", "resolution", "n_pre", "n_post"} <= set(rep)
    tested = rep[rep["skipped"].isna()] if "skipped" in rep else rep
    assert len(tested) > 0
    # each record is one source at one resolution
    assert tested.groupby(["source", "region", "outcome", "resolution"]).size().max() == 1
    picss = tested[(tested.source == "PICSS") & (tested.region == "Pakistan") & (tested.outcome == "attacks")]
    assert len(picss) == 1 and picss.iloc[0]["resolution"] == "month" and picss.iloc[0]["n_post"] >= 40
    skipped = rep[rep["skipped"].notna()]
    assert skipped["skipped"].str.contains("too few|not estimable").all()


def test_reported_straddling_period_dropped():
    t = pd.DataFrame({
        "source": "X", "period_type": "year", "period": [str(y) for y in range(2016, 2025)],
        "period_start": pd.to_datetime([f"{y}-01-01" for y in range(2016, 2025)]),
        "period_end": pd.to_datetime([f"{y}-12-31" for y in range(2016, 2025)]),
        "region": "Pakistan", "province": "Pakistan", "kp_definition": pd.NA, "metric": "attacks",
        "value": [100, 110, 90, 95, 105, 120, 200, 210, 220.0], "url": "u", "note": pd.NA, "file": "x.csv"})
    rec = run_reported_study(t)[0]
    assert rec["dropped_straddling"] == 1  # 2021 contains 2021-08
    assert rec["n_pre"] == 3 and rec["n_post"] == 3  # 2018-2020 (48-month pre window), 2022-2024
    assert rec["level_rate_ratio"] == pytest.approx(210 / ((90 + 95 + 105) / 3), rel=1e-6)


def test_load_series_csv_errors(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("month,n\n2020-01,3\n2020-02,x\n")
    with pytest.raises(ValueError, match=r"line 3, column 'n'"):
        load_series(csv=f, column="n", date_col="month")
    f.write_text("month,n\n2020-01,3\nbad,4\n")
    with pytest.raises(ValueError, match=r"line 3, column 'month'"):
        load_series(csv=f, column="n", date_col="month")


def test_breaks_analysis_numeric_time():
    rng = np.random.default_rng(0)
    y = np.r_[rng.poisson(3, 40), rng.poisson(9, 40)]
    out = breaks_analysis(y, pd.Series(np.arange(1950, 2030)), dates=[1990])
    assert out["unknown"]["breaks"][0]["index"] == 39 and out["unknown"]["breaks"][0]["date"] == 1989
    assert {k["test"] for k in out["known"]} == {"chow", "lr_negbin"}
    assert [s["start"] for s in out["segments"]] == [1950, 1990]
