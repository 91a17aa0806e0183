"""CLI: pakcast ingest / panel / describe / data build (typer CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pakcast.forecast.cli import app

FIX = Path(__file__).parent / "fixtures"
runner = CliRunner()


def test_help_on_every_data_command():
    for args in (["ingest", "--help"], ["panel", "--help"], ["describe", "--help"], ["data", "build", "--help"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 0, r.output


def test_ingest_twice_adds_nothing(tmp_store, ucdp_path):
    r1 = runner.invoke(app, ["ingest", str(ucdp_path), "--source", "ucdp", "--store", str(tmp_store)])
    assert r1.exit_code == 0, r1.output
    assert "6,416" in r1.output and "inserted" in r1.output
    r2 = runner.invoke(app, ["ingest", str(ucdp_path), "--source", "ucdp", "--store", str(tmp_store)])
    assert r2.exit_code == 0 and "already ingested" in r2.output
    from pakcast.forecast.store import Store

    assert Store(tmp_store).count("events") == 6416


def test_ingest_bad_file_errors_or_reports(tmp_store, tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("event_id,date,killed\ne1,2022-01-01,1\ne2,2022-13-01,2\n")
    r = runner.invoke(app, ["ingest", str(p), "--source", "csv", "--store", str(tmp_store)])
    assert r.exit_code == 1
    assert "bad.csv" in r.output and "line 3" in r.output and "date" in r.output
    r = runner.invoke(app, ["ingest", str(p), "--source", "csv", "--store", str(tmp_store), "--on-error", "report"])
    assert r.exit_code == 0 and "rejected" in r.output


def test_panel_from_shipped_tables(tmp_path):
    out = tmp_path / "p.csv"
    r = runner.invoke(app, ["panel", "--freq", "month", "--out", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert list(df.columns) == ["province", "period", "attacks", "killed", "killed_low", "killed_high", "injured",
                                "population"]
    assert "Pakistan" in set(df["province"]) and len(df) == 8 * 396
    assert int(df.loc[df["province"] == "Pakistan", "attacks"].sum()) == 5444


def test_panel_from_input_with_filters(tmp_path):
    out = tmp_path / "g.csv"
    r = runner.invoke(app, ["panel", "--input", str(FIX / "gtd_small.csv"), "--source", "gtd", "--freq", "year",
                            "--fata", "separate", "--out", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert int(df.loc[df["province"] == "Pakistan", "attacks"].sum()) == 5
    assert int(df.loc[df["province"] == "FATA", "attacks"].sum()) == 1
    r = runner.invoke(app, ["panel", "--type-of-violence", "3", "--freq", "year", "--out", str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["panel", "--source", "gtd", "--out", str(out)])
    assert r.exit_code == 1 and "--input" in r.output


def test_panel_reported(tmp_path):
    out = tmp_path / "r.csv"
    r = runner.invoke(app, ["panel", "--source", "reported", "--reported-source", "PIPS", "--metric", "attacks",
                            "--freq", "year", "--out", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert set(df["source"]) == {"PIPS"} and df["url"].notna().all()


def test_describe(tmp_path):
    js = tmp_path / "d.json"
    r = runner.invoke(app, ["describe", "--json", str(js)])
    assert r.exit_code == 0, r.output
    assert "2009" in r.output and "Peak" in r.output and "Data limits" in r.output
    d = json.loads(js.read_text())
    assert d["peaks"]["Pakistan"]["events_year"] == 2009
    assert d["month_panel"]["excluded_date_precision"] == 31
    assert d["events_total"] == 6416 and d["killed_total"] == 43225


def test_data_build_reproduces_shipped_tables(tmp_path, shared_dir):
    from pakcast.forecast import paths

    r = runner.invoke(app, ["data", "build", "--shared", str(shared_dir), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for name in ("panel_province_month.csv", "panel_province_day.csv.gz", "events_militant.csv",
                 "events_ucdp.csv.gz", "panels.json", "provinces.geojson", "population_census.csv",
                 "reported_aggregates.csv"):
        assert (tmp_path / name).read_bytes() == paths.shipped(name).read_bytes(), name


def test_panel_from_store_and_run_manifest(tmp_store, tmp_path):
    runner.invoke(app, ["ingest", str(FIX / "gtd_small.csv"), "--source", "gtd", "--store", str(tmp_store)])
    out = tmp_path / "s.csv"
    r = runner.invoke(app, ["panel", "--store", str(tmp_store), "--freq", "year", "--out", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert int(df.loc[df["province"] == "Pakistan", "attacks"].sum()) == 5
    from pakcast.forecast.store import Store

    runs = Store(tmp_store).runs()
    assert runs["command"].tolist() == ["ingest"]
    man = json.loads(runs["manifest"].iloc[0])
    assert man["inputs"][0]["sha256"] and man["options"]["source"] == "gtd"


def test_reported_table_ingest_and_panel_with_manifest(tmp_store, tmp_path):
    table = tmp_path / "mine.csv"
    r = runner.invoke(app, ["reported", "add", "--file", str(table), "--source", "PIPS", "--period-type", "year",
                            "--period", "2024", "--region", "Sindh", "--metric", "attacks", "--value", "12",
                            "--url", "https://example.org/pips-2024"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["ingest", str(table), "--source", "reported", "--store", str(tmp_store)])
    assert r.exit_code == 0, r.output
    assert "ingest mine.csv (reported)" in r.output and "ingest id" in r.output
    out = tmp_path / "r.csv"
    r = runner.invoke(app, ["panel", "--source", "reported", "--input", str(table), "--reported-source", "PIPS",
                            "--freq", "year", "--out", str(out)])
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert df["value"].tolist() == [12] and df["province"].tolist() == ["Sindh"]
    m = json.loads((tmp_path / "r.manifest.json").read_text())
    assert m["command"] == "panel" and m["inputs"][0]["path"] == str(table)
    assert [o["path"] for o in m["outputs"]] == ["r.csv"]
    r = runner.invoke(app, ["panel", "--source", "reported", "--freq", "year", "--out", str(out)])
    assert r.exit_code == 1 and "--reported-source" in r.output


def test_describe_a_users_file(tmp_path):
    js = tmp_path / "g.json"
    r = runner.invoke(app, ["describe", "--input", str(FIX / "gtd_small.csv"), "--source", "gtd", "--json", str(js)])
    assert r.exit_code == 0, r.output
    d = json.loads(js.read_text())
    assert d["source"] == ["gtd"] and d["events_total"] >= 5 and d["run_id"]
    assert "see its documentation" in d["data_limits"][0]
    m = json.loads((tmp_path / "g.manifest.json").read_text())
    assert m["inputs"][0]["role"] == "gtd" and {o["path"] for o in m["outputs"]} == {"g.json"}
    r = runner.invoke(app, ["describe", "--input", str(FIX / "gtd_small.csv")])
    assert r.exit_code == 1 and "--source" in r.output
