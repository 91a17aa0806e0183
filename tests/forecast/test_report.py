"""Briefing: build from run directories, the claims check, judgements, errors, CLI.

Fixture run directories use the real shipped panel with synthetic model outputs
(tests/forecast/test_report_fixtures.py). Browser and PDF-raster checks are in
test_report_browser.py.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from test_report_fixtures import make_its_study, make_quarterly_run, real_panel_csv

from pakcast.forecast.report import build_report
from pakcast.forecast.report.build import FUSED_ONLY, SECTION_ORDER
from pakcast.forecast.report.claims import (INCONCLUSIVE, NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, check_claims,
                                            rate_ratio, reported_series)
from pakcast.forecast.report.format import fmt_count, fmt_pct, fmt_ratio
from pakcast.forecast.report.rundir import RunDirError, read_run_dir


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return real_panel_csv()


@pytest.fixture(scope="module")
def built(tmp_path_factory, panel) -> tuple[Path, dict]:
    d = make_quarterly_run(tmp_path_factory.mktemp("run") / "q", panel)
    out = build_report(d)
    return d, out


# ------------------------------------------------------------------------------- claims statistics
def test_rate_ratio_matches_statsmodels_quasipoisson():
    # Reference: statsmodels 0.15 GLM(y, [1, post], family=Poisson()).fit(scale="X2", use_t=True):
    # the quasi-Poisson rate ratio with Pearson dispersion and t intervals on n-2 df.
    rng = np.random.default_rng(3)
    pre = rng.negative_binomial(3, 3 / (3 + 20.0), size=30)
    post = rng.negative_binomial(3, 3 / (3 + 12.0), size=24)
    rc = rate_ratio(pre, post)
    y = np.r_[pre, post]
    X = sm.add_constant(np.r_[np.zeros(pre.size), np.ones(post.size)])
    res = sm.GLM(y, X, family=sm.families.Poisson()).fit(scale="X2", use_t=True)
    assert res.scale > 1  # overdispersed, so max(1, phi) = phi
    assert rc.rate_ratio == pytest.approx(np.exp(res.params[1]), rel=1e-10)
    lo, hi = np.exp(res.conf_int(alpha=0.05)[1])
    assert (rc.ci_low, rc.ci_high) == (pytest.approx(lo, rel=1e-8), pytest.approx(hi, rel=1e-8))
    assert rc.dispersion == pytest.approx(res.scale, rel=1e-10)


def test_rate_ratio_with_an_empty_period_has_no_interval():
    rc = rate_ratio(np.zeros(6), np.array([1, 0, 2, 0, 0, 1]))
    assert np.isinf(rc.rate_ratio) and np.isnan(rc.ci_low)


def test_claims_on_the_shipped_panel(panel):
    checks = check_claims(panel, None, n_boot=300, random_seed=1)
    by = {(c.claim_id, c.measure): c for c in checks}
    peak = by[("peak_early_2010s", "killed")]
    # UCDP GED 22.1, militant scope, FATA merged: most deaths in 2010 (panel built by forecast.panel)
    assert peak.value == 2010 and peak.status == SUPPORTED
    nat = panel[panel["province"] == "Pakistan"]
    annual = nat.groupby(pd.to_datetime(nat["period"]).dt.year)["killed"].sum()
    assert int(annual.idxmax()) == 2010 and f"{annual.max():,.0f}" in peak.detail
    fall = by[("fall_after_2014", "killed")]
    assert fall.status == SUPPORTED and fall.ci_high < 1
    m = nat.assign(ds=pd.to_datetime(nat["period"]))
    pre = m[(m.ds >= "2012-01-01") & (m.ds <= "2014-12-01")]["killed"].mean()
    post = m[(m.ds >= "2015-01-01") & (m.ds <= "2017-12-01")]["killed"].mean()
    assert fall.value == pytest.approx(post / pre, rel=1e-12)
    rise = by[("rise_after_2021_08", "attacks")]
    assert rise.status == NOT_TESTABLE and rise.n_post == 4  # UCDP ends 2021-12: Sep-Dec only


def test_claims_never_pool_reported_sources(panel):
    from pakcast.forecast.sources.reported import load_reported

    rep = load_reported()
    checks = check_claims(panel, rep, n_boot=100)
    picss = [c for c in checks if c.source == "PICSS" and c.measure == "attacks" and c.resolution == "month"
             and c.claim_id == "rise_after_2021_08"]
    assert len(picss) == 1
    # recompute from PICSS rows alone (last listed value per month, as the module documents)
    t = rep[(rep["source"] == "PICSS") & (rep["region"] == "Pakistan") & (rep["period_type"] == "month")
            & (rep["metric"] == "attacks")]
    s = pd.Series(t["value"].to_numpy(float), index=pd.PeriodIndex(t["period"].astype(str), freq="M"))
    s = s[~s.index.duplicated(keep="last")]
    pre = s[(s.index >= pd.Period("2018-08", "M")) & (s.index <= pd.Period("2021-07", "M"))]
    post = s[s.index >= pd.Period("2021-09", "M")]
    assert picss[0].value == pytest.approx(post.mean() / pre.mean(), rel=1e-12)
    assert (picss[0].n_pre, picss[0].n_post) == (len(pre), len(post))
    # every reported row is one source; each source/metric/resolution appears once per claim
    keys = [(c.claim_id, c.source, c.measure, c.resolution) for c in checks]
    assert len(keys) == len(set(keys))
    assert {c.status for c in checks} <= {SUPPORTED, INCONCLUSIVE, NOT_SUPPORTED, NOT_TESTABLE}
    # an interval that includes no change is inconclusive, never "not supported"
    for c in checks:
        if c.ci_low is not None and np.isfinite(c.ci_low) and c.ci_low <= 1 <= c.ci_high:
            assert c.status == INCONCLUSIVE, c
    assert all(len(series) for _, _, _, series, _ in reported_series(rep))


def test_peak_bootstrap_is_seeded(panel):
    a = check_claims(panel, None, n_boot=200, random_seed=5)[0].detail
    b = check_claims(panel, None, n_boot=200, random_seed=5)[0].detail
    assert a == b


# ------------------------------------------------------------------------------- run directory input
def test_bad_forecast_csv_names_file_row_and_column(tmp_path, panel):
    d = make_quarterly_run(tmp_path / "bad", panel, with_breaks=False, with_attribution=False)
    fc = pd.read_csv(d / "forecast.csv")
    fc.loc[1, "q05"] = fc.loc[1, "q95"] + 5
    fc.to_csv(d / "forecast.csv", index=False)
    with pytest.raises(RunDirError, match=r"forecast\.csv: row 3, columns q05\.\.q95"):
        read_run_dir(d)
    fc = pd.read_csv(d / "forecast.csv").astype({"mean": "string"})
    fc.loc[4, "mean"] = "lots"
    fc.to_csv(d / "forecast.csv", index=False)
    with pytest.raises(RunDirError, match=r"row 6, column 'mean': expected a number, found 'lots'"):
        read_run_dir(d)
    fc.drop(columns=["q25"]).to_csv(d / "forecast.csv", index=False)
    with pytest.raises(RunDirError, match=r"missing column\(s\) \['q25'\]"):
        read_run_dir(d)


def test_not_a_run_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="results.json not found"):
        build_report(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_run_dir(tmp_path / "nothing")


# ------------------------------------------------------------------------------- the built briefing
def test_outputs_and_figures_exist(built):
    d, out = built
    assert {"html", "pdf", "json", "figures"} <= out.keys()
    b = json.loads((d / "briefing.json").read_text())
    assert b["figures"], "no figures"
    for f in b["figures"].values():
        assert (d / f["png"]).stat().st_size > 5000 and (d / f["svg"]).stat().st_size > 2000
        assert f["source"]  # one source line per figure, in its caption
    html = (d / "briefing.html").read_text()
    assert html.count('<span class="source">Source: ') == len(b["figures"])
    assert (d / "briefing.pdf").read_bytes()[:5] == b"%PDF-"


def test_sections_in_the_issue_order(built):
    d, _ = built
    b = json.loads((d / "briefing.json").read_text())
    expected = [sid for sid, _ in SECTION_ORDER if sid not in FUSED_ONLY]  # a UCDP run
    assert b["section_order"] == expected
    html = (d / "briefing.html").read_text()
    positions = [html.index(f'id="sec-{sid}"') for sid in expected]
    assert positions == sorted(positions)
    assert all(b["sections"][sid]["available"] for sid in expected), b["missing"]


def test_html_is_self_contained(built):
    d, _ = built
    html = (d / "briefing.html").read_text()
    assert not re.search(r'<(script|link|img|iframe)[^>]+(src|href)="(https?:)?//', html)
    assert "<script" not in html
    assert html.count('src="data:image/svg+xml;base64,') == len(json.loads((d / "briefing.json").read_text())["figures"])


def test_forecast_numbers_in_json_and_html_match_forecast_csv(built):
    d, _ = built
    b = json.loads((d / "briefing.json").read_text())
    fc = pd.read_csv(d / "forecast.csv")
    rows = pd.DataFrame(b["sections"]["forecast_table"]["rows"])
    merged = rows.merge(fc, on=["province", "quarter", "measure"], suffixes=("", "_csv"))
    assert len(merged) == len(fc)
    for c in ("mean", "q05", "q50", "q95", "p_gt_last_year"):
        np.testing.assert_allclose(merged[c].astype(float), merged[f"{c}_csv"].astype(float), rtol=1e-12)
    html = (d / "briefing.html").read_text()
    r = fc[(fc.province == "Pakistan") & (fc.measure == "attacks")].iloc[0]
    cell = (f'data-province="Pakistan" data-quarter="{r.quarter}" data-measure="attacks"><span class="q50">'
            f'{fmt_count(r.q50)}</span> <span class="int">({fmt_count(r.q05)}–{fmt_count(r.q95)})</span>')
    assert cell in html


def test_key_judgements_are_generated_from_the_sections(built):
    d, _ = built
    b = json.loads((d / "briefing.json").read_text())
    items = b["sections"]["key_judgements"]["items"]
    assert 3 <= len(items) <= 5
    nat = items[0]
    assert nat["id"] == "forecast_national"
    a = nat["numbers"]["attacks"]
    for v in (fmt_count(a["q50"]), fmt_count(a["q05"]), fmt_count(a["q95"]), fmt_pct(a["p_gt_last_year"])):
        assert v in nat["text"]
    assert "attacks (events as UCDP GED records them)" in nat["text"] and "1989-01 to 2021-12" in nat["text"]
    sc = next(j for j in items if j["id"] == "scorecard")
    assert fmt_pct(sc["numbers"]["skill"]) in sc["text"] and "the long-run average" in sc["text"]
    from pakcast.forecast.report.judgements import JARGON

    for j in items:  # plain language: no model, score or test names
        assert not [w for w in JARGON if re.search(rf"\b{re.escape(w)}\b", j["text"])], j["text"]
    html = (d / "briefing.html").read_text()
    for j in items:
        assert j["text"].replace("'", "&#39;") in html


def test_map_rate_is_expected_attacks_per_100k(built):
    d, _ = built
    b = json.loads((d / "briefing.json").read_text())
    fc = pd.read_csv(d / "forecast.csv")
    panel = pd.read_csv(d / "panel.csv")
    row = next(r for r in b["sections"]["map"]["rows"] if r["province"] == "Balochistan")
    pop = panel[panel.province == "Balochistan"].dropna(subset=["population"]).sort_values("period")["population"].iloc[-1]
    exp = fc[(fc.province == "Balochistan") & (fc.measure == "attacks")]["mean"].sum()
    assert row["per_100k"] == pytest.approx(exp / pop * 1e5, rel=1e-12)
    # the map's label and the table's quarter column show one number: the expected rate with its interval
    first = fc[(fc.province == "Balochistan") & (fc.measure == "attacks") & (fc.quarter == row["next_quarter"])].iloc[0]
    assert row["next_mean_per_100k"] == pytest.approx(first["mean"] / pop * 1e5, rel=1e-12)
    text = b["figures"]["map_forecast_rate"]["caption"]
    assert "forecast mean" in text
    assert b["sections"]["map"]["merged"] == {"FATA": "Khyber Pakhtunkhwa"}


def test_manifest_lists_the_briefing(built):
    d, _ = built
    man = json.loads((d / "manifest.json").read_text())
    paths = {o["path"] for o in man["outputs"]}
    assert {"briefing.html", "briefing.pdf", "briefing.json"} <= paths


def test_missing_parts_are_shown_not_omitted(tmp_path, panel):
    from pakcast.forecast.run_result import read_result, write_result

    d = make_quarterly_run(tmp_path / "partial", panel, with_breaks=False, with_attribution=False)
    res = read_result(d)
    res.backtest = {}
    write_result(res, d)
    build_report(d, pdf=False)
    b = json.loads((d / "briefing.json").read_text())
    for sid in ("breaks", "attribution"):
        assert b["sections"][sid]["available"] is False
        assert "not in this run directory" in b["sections"][sid]["reason"]
    assert "no backtest scores" in b["sections"]["scorecard"]["reason"]
    html = (d / "briefing.html").read_text()
    sec = html[html.index('id="sec-breaks"'):html.index('id="sec-attribution"')]
    assert "Not available in this run:" in sec and "breaks.json" in sec


def test_its_study_on_a_users_file_shows_only_what_it_used(tmp_path):
    d = make_its_study(tmp_path / "its")
    build_report(d, pdf=True)
    b = json.loads((d / "briefing.json").read_text())
    assert b["kind"] == "its" and b["title"] == "Interrupted time series: clinic visits"
    html = (d / "briefing.html").read_text()
    for word in ("Pakistan", "UCDP", "PICSS", "Natural Earth", "province", "attacks"):
        assert word not in html, word
    assert "Synthetic clinic register (test)" in html and "clinic_visits.csv" in html
    from pakcast.forecast.io import sha256_file

    assert sha256_file(tmp_path / "clinic_visits.csv") in html
    imp = b["sections"]["its_impact"]
    assert imp["available"] and imp["rows"][0]["verdict"] == "decrease"
    # the narrative states the cumulative effect with its interval and what it rests on
    from pakcast.forecast.run_result import read_result

    r = read_result(d)
    text = r.summary()
    i = r.impact[0]
    assert f"{abs(i['cumulative_effect']):,.0f} fewer" in text and "What it rests on" in text
    assert 0.5 < r.interventions[0]["level_rate_ratio"]["estimate"] < 0.7  # simulated 30/50
    # per-period effects: CSV = JSON, and the running total ends at the total effect and its interval
    csv = pd.read_csv(d / "its.csv")
    assert len(csv) == r.n_obs and list(csv.columns[:3]) == ["intervention", "time", "post"]
    last = csv[csv["post"]].iloc[-1]
    assert last["cumulative_effect"] == pytest.approx(i["cumulative_effect"])
    assert (last["cumulative_low"], last["cumulative_high"]) == (pytest.approx(i["cumulative_low"]),
                                                                 pytest.approx(i["cumulative_high"]))
    assert (csv["effect_low"] <= csv["effect"] + 1e-9).all() and (csv["effect"] <= csv["effect_high"] + 1e-9).all()
    assert "its_impact_1" in b["figures"] and (d / "briefing.pdf").read_bytes()[:5] == b"%PDF-"
    # the figure describes the counterfactual the methods describe: the whole-series fit without the
    # intervention's terms (not a model fitted before the intervention and projected)
    cap = b["figures"]["its_impact_1"]["caption"]
    assert "fitted to the whole series, without the intervention's level and trend terms" in cap
    assert "fitted before" not in cap and "fitted before" not in html


def test_cli_report(tmp_path, panel):
    from typer.testing import CliRunner

    from pakcast.forecast.cli import app

    d = make_quarterly_run(tmp_path / "cli", panel, with_attribution=False)
    res = CliRunner().invoke(app, ["report", str(d), "--no-pdf"])
    assert res.exit_code == 0, res.output
    assert "briefing.html" in res.output and "not available in this run (Attribution: what drove the change" in res.output
    assert not (d / "briefing.pdf").exists()
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "does not exist" in res.output
    shutil.rmtree(d)


def test_scorecard_reads_the_backtest_summary(built):
    d, _ = built
    sc = json.loads((d / "briefing.json").read_text())["sections"]["scorecard"]
    h = sc["headline"]
    # national attacks: ensemble (CRPS 3.0) against the best baseline historical_rate (4.05) in the fixture
    assert (h["model"], h["baseline"], h["scope"], h["measure"]) == ("ensemble", "historical_rate", "national series",
                                                                     "attacks")
    assert h["crps"] == pytest.approx(3.0) and h["baseline_crps"] == pytest.approx(4.05)
    assert h["skill"] == pytest.approx(round(1 - 1.0 / 1.35, 3)) and h["dm_pvalue"] == pytest.approx(0.004)
    assert [r[0] for r in sc["table"]["rows"]] == ["ensemble", "nb_glm", "historical_rate", "seasonal_naive", "zero"]
    assert sc["by_series"]["n_total"] == 8  # one row per series for the attacks measure
    # the latest quarter with outcomes from the newest earlier vintage, vintage ids left to the JSON
    lq = sc["last_quarter"]
    assert {r[lq["columns"].index("quarter")] for r in lq["rows"]} == {"2021Q4"} and len(lq["rows"]) == 2
    assert "vintage_id" not in lq["columns"]
    j = next(j for j in json.loads((d / "briefing.json").read_text())["sections"]["key_judgements"]["items"]
             if j["id"] == "last_quarter")
    assert "2021Q4" in j["text"] and "26 (90% interval 16-38); 51 were recorded, outside the interval" in j["text"]


def test_break_table_joins_tests_and_its_and_flags_boundary_estimates(built):
    d, _ = built
    b = json.loads((d / "briefing.json").read_text())
    br = b["sections"]["breaks"]
    rows = {(r["series"], r["date"]): r for r in br["known_rows"]}
    assert len(rows) == 6  # 3 series x 2 dates, one row each (Chow + NB LR + ITS joined)
    r = rows[("Khyber Pakhtunkhwa", "2014-12")]
    assert (r["lr_p"], r["lr_p_holm"], r["chow_p"], r["level_rr"], r["slope_rr"]) == (0.005, 0.01, 0.04, 0.8, 0.981)
    assert rows[("Balochistan", "2021-08")]["level_rr_estimable"] is False  # rate ratio 7e-9: boundary estimate
    assert rows[("Pakistan", "2014-12")]["level_rr_estimable"] is True
    assert [r[0] for r in br["tables"]["reported"]["rows"]] == ["PICSS"]  # skipped records are not tabulated
    h = br["headline"]
    assert h["nearest_break"] == {"date": "2014-10", "ci_low": "2014-06", "ci_high": "2015-02", "contains": True,
                                  "target": "2014-12"}
    from pakcast.forecast.report.judgements import key_judgements

    # five slots go to the forecast, the earlier-forecast check, the scorecard and the claims here, so the
    # break judgement is built from the section alone
    j = key_judgements({"breaks": br})[0]
    assert "no clear immediate step" in j["text"] and "0.80 times the level before; 95% range 0.60 to 1.10" in j["text"]
    assert "the trend fell by about 2% a month more than before (95% range 1% to 3%)" in j["text"]
    html = (d / "briefing.html").read_text()
    sec = html[html.index('id="sec-breaks"'):html.index('id="sec-attribution"')]
    assert "not estimable (too few events on one side)" in sec and "Not tested (too sparse)" in sec


def test_every_forecaster_has_a_label_in_words():
    """A briefing never shows a model id: every forecaster of the zoo has a label in words."""
    from pakcast.forecast.forecasters import MODEL_NAMES
    from pakcast.forecast.report.format import MODEL_LABELS, readable

    missing = [m for m in MODEL_NAMES if m not in MODEL_LABELS]
    assert missing == [], missing
    assert readable("nb_local") == "negative binomial around a wandering level"


def test_ratios_read_at_one_precision():
    """Two decimals, two significant figures below 0.1, three from 10 (``1.02 (0.089–11.2)``, not ``45.57``)."""
    assert [fmt_ratio(v) for v in (0.0581, 0.86, 1.0, 9.994, 9.996, 11.234, 45.57, 123.4, 1234.5)] == \
        ["0.058", "0.86", "1.00", "9.99", "10.0", "11.2", "45.6", "123", "1,234"]


def test_glossary_names_the_runs_reference_source():
    from pakcast.forecast.report.build import glossary_section

    secs = {"fusion": {"available": True}, "forecast_table": {"available": True}}
    terms = [g["term"] for g in glossary_section(secs, "PICSS")["items"]]
    assert "as PICSS counts them (units)" in terms and not [t for t in terms if "PIPS" in t]
    assert "as PIPS counts them (units)" in [g["term"] for g in glossary_section(secs, "PIPS")["items"]]


def test_convergence_message_names_parameters_in_words():
    from pakcast.forecast.report.fused import _parameter_words

    text = _parameter_words("max R-hat 1.016 >= 1.01 (log_kappa); min bulk ESS 163 <= 400 (new_param)")
    assert text == "max R-hat 1.016 >= 1.01 (the source scales); min bulk ESS 163 <= 400 (new param)"


def test_input_files_name_shipped_tables_not_the_installation_path(tmp_path):
    from pakcast.forecast.paths import shipped
    from pakcast.forecast.report.build import _input_path

    assert _input_path(str(shipped("panel_province_month.csv"))) == "pakcast data/panel_province_month.csv (shipped)"
    own = str(tmp_path / "my_panel.csv")
    assert _input_path(own) == own and _input_path(None) is None
