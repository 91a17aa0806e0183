"""The quarterly run on the fused series (shipped data, small sampler settings, one fit for the module)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from pakcast.forecast.errors import InputError
from pakcast.forecast.fused_quarterly import (
    fit_for_run,
    forecast_quarters,
    monthly_paths,
    parse_thresholds,
    quarter_table,
    reference_counts,
    run_date,
    run_fused,
)
from pakcast.forecast.quarterly import QuarterlyConfig
from pakcast.forecast.report.claims import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, _verdict, day_weights

FC_COLUMNS = ["province", "quarter", "measure", "mean", "q05", "q25", "q50", "q75", "q95", "last_year",
              "p_gt_last_year"]
TODAY = dt.date(2026, 12, 1)
SMALL = dict(data="fused", fusion_draws=150, fusion_tune=150, fusion_chains=2, n_samples=200, store="none",
             thresholds=("Balochistan=40", "Pakistan=100"), today=str(TODAY))


@pytest.fixture(scope="module")
def fused_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fq") / "run"
    cfg = QuarterlyConfig(out=out, **SMALL).validate()
    fitted = fit_for_run(cfg, TODAY)
    run_fused(cfg, fitted=fitted)
    return out, fitted[0], fitted[1]


def test_forecast_quarters_rule():
    qs = [str(q) for q in forecast_quarters(pd.Period("2025-11", "M"), TODAY)]
    assert qs[0] == "2025Q4" and qs[-1] == "2027Q4" and len(qs) == 9
    qs = [str(q) for q in forecast_quarters(pd.Period("2025-12", "M"), TODAY)]
    assert qs[0] == "2026Q1" and qs[-1] == "2027Q4"
    # a past vintage counts from the day after its as-of month
    assert run_date(None, "2021-12") == dt.date(2022, 1, 1)
    assert [str(q) for q in forecast_quarters(pd.Period("2021-12", "M"), run_date(None, "2021-12"))] == \
        ["2022Q1", "2022Q2", "2022Q3", "2022Q4", "2023Q1"]
    assert run_date("2026-12-01", "2021-12") == TODAY


def test_thresholds_parse_and_refuse():
    assert parse_thresholds(["kpk=30", "Pakistan=100.5"]) == {"Khyber Pakhtunkhwa": 30.0, "Pakistan": 100.5}
    for bad, match in (("Atlantis=3", "unknown province"), ("Punjab", "PROVINCE=N"), ("Punjab=x", "number"),
                       ("Punjab=-1", "non-negative")):
        with pytest.raises(InputError, match=match):
            parse_thresholds([bad])
    with pytest.raises(ValueError, match="--threshold"):
        QuarterlyConfig(data="ucdp", thresholds=("Punjab=3",)).validate()
    with pytest.raises(ValueError, match="--data"):
        QuarterlyConfig(data="acled").validate()


def test_as_of_vintage_fits_only_figures_published_by_then():
    from pakcast.forecast.fusion import build_observations, model_effects
    from pakcast.forecast.fused_quarterly import _fusion_config

    cfg = _fusion_config(QuarterlyConfig(as_of="2021-06"), pd.Period("2022-06", "M"), "2021-06")
    assert cfg.effects is None  # the steps follow the figures the fit sees
    t = build_observations(cfg)
    assert model_effects(cfg, t) == {"2014_12": "2014-12"}  # the August-2021 step has no month after it yet
    assert str(t.frame["last"].max()) == "2021-06"
    assert any("after --as-of 2021-06" in k for k in t.exclusions)


def test_forecast_csv_in_named_units(fused_run):
    out, fr, quarters = fused_run
    fc = pd.read_csv(out / "forecast.csv")
    assert list(fc.columns[:11]) == FC_COLUMNS and "units" in fc.columns
    res = json.loads((out / "results.json").read_text())
    assert res["as_of"] == fr.as_of == "2025-12"  # the 2025 annual totals cover December
    assert res["forecast_quarters"] == [str(q) for q in quarters]
    assert res["forecast_quarters"][0] == "2026Q1" and res["forecast_quarters"][-1] == "2027Q4"
    assert sorted(fc["quarter"].unique()) == res["forecast_quarters"]
    ref = fr.results.reference()
    for me in ("attacks", "killed"):
        assert set(fc.loc[fc.measure == me, "units"]) == {res["fusion"]["units"]["measures"][me]}
        assert res["fusion"]["units"]["measures"][me].startswith(f"{me} as {ref[me]['source']} counts them")
    q = fc[["q05", "q25", "q50", "q75", "q95"]].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all()
    assert fc["p_gt_last_year"].between(0, 1).all() and fc["last_year"].notna().all()
    nat = fc[fc.province == "Pakistan"].set_index(["quarter", "measure"])["mean"].sort_index()
    prov = fc[fc.province != "Pakistan"].groupby(["quarter", "measure"])["mean"].sum().sort_index()
    np.testing.assert_allclose(nat, prov, rtol=1e-9)  # national = sum of provinces, path by path
    # the latent's uncertainty grows as the months no source has reported accumulate (the quarter
    # sums' relative widths need not: their count noise shrinks relative to a growing mean)
    lam = np.log(fr.results.intensity_draws("attacks").sum(axis=0))        # (months, draws)
    months = [str(m) for m in fr.table.months]
    first, last = months.index("2026-01"), months.index("2027-12")
    assert lam[last].std() > lam[first].std()
    # thresholds: attacks rows of the named provinces only
    thr = fc[fc["threshold"].notna()]
    assert set(thr["province"]) == {"Balochistan", "Pakistan"} and set(thr["measure"]) == {"attacks"}
    assert thr["p_gt_threshold"].between(0, 1).all()
    assert res["published_model"] == "fused" and set(fc["model"]) == {"fused"}


def test_results_record_units_age_breaks_and_claims(fused_run):
    out, fr, _ = fused_run
    res = json.loads((out / "results.json").read_text())
    f = res["fusion"]
    age = f["newest_observation"]
    assert age["month"] == "2025-12" and f["run_date"] == "2026-12-01"
    assert age["age_days"] == (TODAY - dt.date(2025, 12, 31)).days and age["last_monthly_figure"] == "2025-11"
    assert "fourth quarter after the run date" in f["quarters"]["rule"]
    assert set(f["fit"]["diagnostics"]) >= {"max_rhat", "min_ess_bulk", "divergences", "converged"}
    rows = f["breaks"]["rows"]
    got = {(r["series"], r["outcome"], r["date"]) for r in rows}
    assert {("Pakistan", "attacks", "2021-08"), ("Pakistan", "killed", "2014-12"),
            ("Khyber Pakhtunkhwa", "attacks", "2021-08")} <= got
    for r in rows:
        rr = r["level_rate_ratio"]
        assert 0 < rr["ci_low"] <= rr["estimate"] <= rr["ci_high"] and rr["level"] == 0.9
    assert "log-linear trend" in f["breaks"]["slope"]
    slopes = [r["slope_rate_ratio"] for r in rows if r["date"] == "2014-12"]
    assert slopes and all(0 < s["ci_low"] <= s["estimate"] <= s["ci_high"] for s in slopes)
    claims = {(c["claim_id"], c["measure"]): c for c in f["claims"]["claims"]}
    assert {("rise_after_2021_08", "attacks"), ("peak_2012_13", "killed"), ("fall_after_2014", "attacks")} <= set(claims)
    for c in claims.values():
        assert c["status"] in (SUPPORTED, INCONCLUSIVE, NOT_SUPPORTED) and c["units"]
    rise = claims[("rise_after_2021_08", "attacks")]
    assert "+51%" in rise["paper"]
    # every source's own figure beside the fused ratio for the same windows; UCDP has months on both sides
    srcs = {s["source"]: s for s in rise["sources"]}
    assert "UCDP" not in srcs or srcs["UCDP"]["resolution"] == "month"
    assert any(s["resolution"] == "year" for s in rise["sources"])
    for s in rise["sources"]:
        assert s["source_ratio"] == pytest.approx(s["source_post"] / s["source_pre"])
        assert s["fused_ratio"]["ci_low"] <= s["fused_ratio"]["estimate"] <= s["fused_ratio"]["ci_high"]
    peak = claims[("peak_2012_13", "killed")]
    assert 0 <= peak["fused"]["p_peak_in_2012_13"] <= 1
    assert "pakcast fuse --backtest" in res["not_produced"]["backtest"]
    for name in ("fused.csv", "sources.csv", "observations.csv", "panel.csv", "reported.csv", "manifest.json"):
        assert (out / name).exists(), name


def test_reference_counts_are_carried_exactly(fused_run):
    _, fr, _ = fused_run
    known = reference_counts(fr, "attacks")
    p = monthly_paths(fr, "attacks", 50, 3)
    (u, t), v = next(iter(known.items()))
    assert (p[u, t] == v).all()
    assert p.shape[0] == len(fr.table.units) + 1
    np.testing.assert_array_equal(p[-1], p[:-1].sum(axis=0))


def test_partial_quarter_is_conditioned_on_its_observed_months(fused_run):
    _, fr, _ = fused_run
    as_of = pd.Period("2025-11", "M")
    qs = forecast_quarters(as_of, TODAY)
    fc, pct, extra = quarter_table(fr, qs[:2], as_of, {}, 100, 1)
    first = fc[fc.quarter == "2025Q4"]
    assert (first["observed_months"] == 2).all()
    assert "2025Q4 contains the as-of month 2025-11" in extra["partial_quarter"]
    assert len(pct) == len(fc)


def test_claim_verdicts():
    assert _verdict(np.full(100, 1.5), +1)[0] == SUPPORTED
    assert _verdict(np.full(100, 0.5), +1)[0] == NOT_SUPPORTED
    assert _verdict(np.linspace(0.8, 1.3, 100), +1)[0] == INCONCLUSIVE
    assert _verdict(np.full(100, 0.5), -1)[0] == SUPPORTED
    w = day_weights(pd.period_range("2021-07", "2021-09", freq="M"), "2021-08-15", "2022-08-15")
    np.testing.assert_allclose(w, [0.0, 17 / 31, 1.0])


def test_briefing_names_units_and_shows_the_fused_sections(fused_run):
    out, fr, _ = fused_run
    b = json.loads((out / "briefing.json").read_text())
    res = json.loads((out / "results.json").read_text())
    assert "briefing" not in res["not_produced"], res["not_produced"]
    s = b["sections"]
    for sid in ("fusion", "early_warning", "fused_breaks", "fused_claims", "forecast_table"):
        assert s[sid]["available"], (sid, s[sid].get("reason"))
    assert "breaks" not in s and "claims" not in s  # the panel studies are replaced, not missing
    units = res["fusion"]["units"]["measures"]
    assert s["forecast_table"]["units"] == units and b["units"] == "; ".join(units.values())
    assert s["forecast_table"]["quarters"] == res["forecast_quarters"]
    ids = {x["id"] for x in b["banner"]}
    assert {"forecast_begun", "data_old"} <= ids  # run date 2026-12-01, newest observation 2025-12
    figs = [blk["name"] for blk in s["fusion"]["blocks"] if blk["kind"] == "figure"]
    assert "fused_Pakistan" in figs and len(figs) == len(fr.table.units) + 1
    assert (out / "figures" / "fused_Pakistan.svg").exists()
    tables = {blk["name"]: blk for sec in s.values() for blk in sec.get("blocks", []) if blk["kind"] == "table"}
    assert {"source_scales", "p_gt_last_year", "p_gt_threshold", "fused_breaks", "fused_claims"} <= set(tables)
    assert all("counts them" in t["title"] or "units" in " ".join(t["table"]["columns"]) or t["name"] in
               ("source_scales", "fused_claims_sources") for t in tables.values())
    for name in s["fan_charts"]["figures"] + s["map"]["figures"]:  # charts name the units too
        assert "Units: " in b["figures"][name]["caption"] and "counts them" in b["figures"][name]["caption"], name
        # once, in the caption: the source line names the fused model's sources instead
        src = b["figures"][name]["source"]
        assert "counts them" not in src and src.startswith("the fused model of this run on ") and "PIPS" in src, src
    html = (out / "briefing.html").read_text()
    assert "counts them" in html and 'data-banner="data_old"' in html
    assert (out / "briefing.pdf").stat().st_size > 10_000


def test_fused_briefing_reads_as_the_issue_asks(fused_run):
    """Key judgements in plain words naming the units, the banners, region columns, labels for ids."""
    import re

    from pakcast.forecast.report.judgements import JARGON

    out, _, _ = fused_run
    b = json.loads((out / "briefing.json").read_text())
    res = json.loads((out / "results.json").read_text())
    items = {j["id"]: j["text"] for j in b["sections"]["key_judgements"]["items"]}
    assert 3 <= len(items) <= 5 and "forecast_national" in items
    for text in items.values():
        assert not [w for w in JARGON if re.search(rf"\b{re.escape(w)}\b", text)], text
    nat = items["forecast_national"]
    assert "attacks as " in nat and "counts them" in nat and "90% chance" in nat and "rests on" in nat
    # the run date (2026-12-01) lies in 2026Q4: the judgement speaks of the quarter under way
    assert "in 2026Q4 (the quarter under way" in nat
    if "fused_breaks" in items:
        assert "counts them" in items["fused_breaks"] and "90% range" in items["fused_breaks"]
    if "fused_claims" in items:
        assert re.search(r"\((supported|inconclusive|not supported)\)", items["fused_claims"])
    converged = res["fusion"]["fit"]["diagnostics"]["converged"]
    assert ("fit_checks" in items) == (not converged)
    assert any(x["id"] == "not_converged" for x in b["banner"]) == (not converged)
    begun = next(x for x in b["banner"] if x["id"] == "forecast_begun")
    assert begun["text"].startswith("2026Q1 to 2026Q3 ended before this run (2026-12-01); 2026Q4 is under way")
    tables = {blk["name"]: blk["table"] for sec in b["sections"].values() for blk in sec.get("blocks", [])
              if blk["kind"] == "table"}
    assert tables["fused_breaks"]["columns"][0] == "region"
    cells = " ".join(str(c) for t in tables.values() for r in t["rows"] for c in r)
    assert "fatalities_total" not in cells and "_" not in " ".join(r[1] for r in tables["source_scales"]["rows"])
    prov = b["sections"]["provenance"]
    assert "panel break study (breaks.json)" in prov["not_produced"]
    assert prov["coverage"]["label"].startswith("UCDP event panel (one of the fused sources")
    titles = [m["title"] for m in b["sections"]["methods"]["items"]]  # only the methods this run used
    assert "Fused series" in titles and not {"Backtest and scorecard", "Attribution", "Forecasts"} & set(titles)
    terms = [g["term"] for g in b["sections"]["glossary"]["items"]]
    assert "fused series" in terms and "CRPS" not in terms  # the glossary has the words this run uses
    from pakcast.forecast.run_result import read_result

    summary = read_result(out).summary()  # what the console prints: the parts not produced in words
    assert "  - panel break study (breaks.json): " in summary and "  - attribution study (attribution.json)" in summary


def test_fused_briefing_pdf_has_no_half_empty_pages_and_the_html_columns(fused_run, tmp_path):
    import re
    import shutil
    import subprocess

    from test_report_fixtures import page_fill

    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm not installed (apt-get install poppler-utils)")
    out, _, _ = fused_run
    fill = page_fill(out / "briefing.pdf", tmp_path)
    assert len(fill) > 5
    for i, f in enumerate(fill[:-1], start=1):
        assert f > 0.5, f"page {i}: content ends at {f:.0%}"
    assert fill[-1] > 0.2, f"the last page is nearly empty ({fill[-1]:.0%})"  # it held one glossary row
    if shutil.which("pdftotext"):
        from test_report_fixtures import assert_glossary_whole

        assert_glossary_whole(out / "briefing.pdf", json.loads((out / "briefing.json").read_text()))
    if shutil.which("pdftotext"):
        text = re.sub(r"\s+", " ", subprocess.run(["pdftotext", str(out / "briefing.pdf"), "-"], capture_output=True,
                                                  text=True, timeout=60).stdout)
        b = json.loads((out / "briefing.json").read_text())
        for msg in b["banner"]:
            assert msg["title"] in text
        assert "P(>last year)" in text and "fatalities_total" not in text and "model.." not in text
        for name in ("Islamabad Capital Territory", "Azad Jammu and Kashmir", "Khyber Pakhtunkhwa"):
            assert name in text  # names wrap, never cut
        for sec in b["sections"].values():  # every table's columns, as in the HTML
            for blk in sec.get("blocks", []):
                if blk["kind"] == "table":
                    for c in blk["table"]["columns"]:
                        assert c.split()[0] in text, (blk["name"], c)


def test_fused_briefing_in_the_browser(fused_run, tmp_path):
    """The rendered page (headless Chromium): plain key judgements, the banners, a region column in the
    step table, no warning text, one "Source:" line per figure."""
    import re

    from test_report_browser import CHROMIUM, _chromium, _Collector, _visible_text

    from pakcast.forecast.report.judgements import JARGON

    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed (apt-get install chromium)")
    out, _, _ = fused_run
    b = json.loads((out / "briefing.json").read_text())
    res = _chromium(["--dump-dom", (out / "briefing.html").as_uri()], tmp_path / "profile")
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    c = _Collector()
    c.feed(dom)
    assert c.sections == b["section_order"]
    assert c.judgements == [j["text"] for j in b["sections"]["key_judgements"]["items"]]
    for text in c.judgements:
        assert not [w for w in JARGON if re.search(rf"\b{re.escape(w)}\b", text)], text
    for msg in b["banner"]:
        assert f'data-banner="{msg["id"]}"' in dom
    head = re.search(r'data-table="fused_breaks".*?</thead>', dom, flags=re.S).group(0)
    assert ">region<" in head
    text = _visible_text(dom)
    assert "Warning:" not in text and "FutureWarning" not in text and "RuntimeWarning" not in text
    for fig in re.findall(r"<figure.*?</figure>", dom, flags=re.S):
        assert _visible_text(fig).count("Source:") == 1, _visible_text(fig)


def test_run_records_library_warnings_in_the_notes(monkeypatch):
    import warnings

    import pakcast.forecast.quarterly as Q

    def noisy(config, progress, out_dir):
        np.exp(np.array([1000.0]))  # numpy's RuntimeWarning (overflow)
        warnings.warn("a library's notice", FutureWarning, stacklevel=1)
        return Q.warning_notes(Q._RUN_WARNINGS.get())

    monkeypatch.setattr(Q, "_run", noisy)
    with warnings.catch_warnings(record=True) as outside:
        warnings.simplefilter("always")
        notes = Q.run(QuarterlyConfig(store="none"))
    assert not outside  # nothing reaches the console
    assert any("RuntimeWarning" in n and "overflow" in n for n in notes), notes
    assert all(n.startswith("warning during the run (") for n in notes)


def test_cli_refuses_models_with_data_fused(tmp_path):
    from pakcast.forecast.cli import app
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, ["quarterly", "--data", "fused", "--out", str(tmp_path / "o"), "--models", "zero"])
    assert r.exit_code == 1 and "add --data ucdp" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["quarterly", "--out", str(tmp_path / "o5"), "--models", "zero"])
    assert r.exit_code == 1 and "add --data ucdp" in r.output
    r = CliRunner().invoke(app, ["quarterly", "--data", "fused", "--out", str(tmp_path / "o2"), "--threshold", "Atlantis=3"])
    assert r.exit_code == 1 and "unknown province" in r.output
    r = CliRunner().invoke(app, ["quarterly", "--data", "ucdp", "--out", str(tmp_path / "o4"), "--threshold", "Punjab=3"])
    assert r.exit_code == 1 and "drop --data ucdp" in r.output
    r = CliRunner().invoke(app, ["quarterly", "--out", str(tmp_path / "o3"), "--data", "gtd"])
    assert r.exit_code == 2
    from pakcast.forecast.paths import user_store_path

    r = CliRunner().invoke(app, ["quarterly", "--help"], terminal_width=400)
    assert str(user_store_path()) in r.output  # the default store's path is stated


def test_fused_vintage_is_archived_with_its_units(fused_run, tmp_path):
    from pakcast.forecast.store import Store

    _, fr, quarters = fused_run
    store = tmp_path / "s.duckdb"
    cfg = QuarterlyConfig(out=tmp_path / "r", **{**SMALL, "store": store, "report": False}).validate()
    run_fused(cfg, fitted=(fr, quarters))
    res = json.loads((tmp_path / "r" / "results.json").read_text())
    vid = res["vintage"]["vintage_id"]
    v = Store(store).load_vintage(vid)
    assert set(v["units"]) == set(res["fusion"]["units"]["measures"].values())
    assert "not yet scored" in res["earlier_vintages"]["note"]
    assert res["not_produced"]["briefing"].startswith("report disabled")


def test_runaway_forecast_paths_are_a_clear_gate_error(fused_run, monkeypatch):
    from pakcast.forecast.errors import GateError

    _, fr, _ = fused_run
    real = fr.results.paths

    def overflow(*a, **kw):
        if kw.get("kind") == "counts":
            raise ValueError("lam value too large")
        return real(*a, **kw)

    monkeypatch.setattr(fr.results, "paths", overflow)
    with pytest.raises(GateError, match=r"forecast cannot be drawn.*innovation scales per month"):
        monthly_paths(fr, "attacks", 50, 1)
