"""``pakcast reported add`` / ``pakcast reported list`` on a user's table of published figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from pakcast.forecast.cli import app

runner = CliRunner()
URL = "https://www.picss.net/latest-reports/picss-september-2025-security-assessment/"


def _add(path: Path, *extra: str, value: str = "99", period: str = "2025-09", region: str = "Pakistan",
         metric: str = "attacks", period_type: str = "month"):
    return runner.invoke(app, ["reported", "add", "--source", "PICSS", "--period-type", period_type, "--period",
                               period, "--region", region, "--metric", metric, "--value", value, "--url", URL,
                               "--file", str(path), *extra])


def test_add_validates_and_the_table_reads_back(tmp_path):
    f = tmp_path / "reported.csv"
    r = _add(f, "--note", "PICSS September 2025 assessment")
    assert r.exit_code == 0, r.output
    assert "added" in r.output and "line 2" in r.output
    r = _add(f, region="KP", value="45")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(f)
    assert list(df.columns) == ["source", "period_type", "period", "region", "metric", "value", "url", "note"]
    assert df["value"].tolist() == [99, 45] and df["note"].iloc[0] == "PICSS September 2025 assessment"
    from pakcast.forecast.sources.reported import read_reported_file

    tidy, rejects, n = read_reported_file(f)
    assert n == 2 and rejects.empty and tidy["province"].tolist() == ["Pakistan", "Khyber Pakhtunkhwa"]


def test_same_figure_twice_adds_nothing(tmp_path):
    f = tmp_path / "reported.csv"
    assert _add(f).exit_code == 0
    r = _add(f, value="99.0")
    assert r.exit_code == 0 and "unchanged" in r.output
    assert len(pd.read_csv(f)) == 1


def test_contradicting_duplicate_refused_unless_revision(tmp_path):
    f = tmp_path / "reported.csv"
    assert _add(f, region="Khyber Pakhtunkhwa", value="40").exit_code == 0
    r = _add(f, region="KPK", value="42")  # another spelling of the same province
    assert r.exit_code == 1
    assert "line 2" in r.output and "contradicts" in r.output and "--revision" in r.output
    assert r.output.strip().count("\n") == 0 and "Traceback" not in r.output
    assert len(pd.read_csv(f)) == 1
    r = _add(f, "--revision", region="KPK", value="42")
    assert r.exit_code == 0 and "revision" in r.output
    df = pd.read_csv(f)
    assert df["value"].tolist() == [40, 42] and "revision of 40 (line 2" in df["note"].iloc[1]
    from pakcast.forecast.sources.reported import read_reported, reported_panel

    panel = reported_panel(read_reported(f)[0], "PICSS", "attacks")
    assert panel["value"].tolist() == [42.0]  # the revision wins


def test_invalid_figures_are_one_line_errors_naming_the_option(tmp_path):
    f = tmp_path / "reported.csv"
    cases = [
        ({"period": "2025-13"}, "--period"),
        ({"period": "2025-Q3"}, "--period"),  # a quarter given as a month
        ({"region": "Atlantis"}, "--region"),
        ({"value": "-3"}, "--value"),
        ({"value": "many"}, "--value"),
        ({"metric": "Attacks per month"}, "--metric"),
    ]
    for kw, opt in cases:
        r = _add(f, **kw)
        assert r.exit_code == 1, (kw, r.output)
        assert opt in r.output and "expected" in r.output, (kw, r.output)
        assert r.output.strip().count("\n") == 0, (kw, r.output)
    r = runner.invoke(app, ["reported", "add", "--source", "PICSS", "--period-type", "week", "--period", "2025-09",
                            "--region", "Pakistan", "--metric", "attacks", "--value", "1", "--url", URL,
                            "--file", str(f)])
    assert r.exit_code == 2  # typer: not one of month|quarter|half|year|ytd
    assert not f.exists()


def test_list_shows_latest_period_per_source_metric_region(tmp_path):
    f = tmp_path / "reported.csv"
    for period, value in (("2025-07", "80"), ("2025-09", "99"), ("2025-08", "90")):
        assert _add(f, period=period, value=value).exit_code == 0
    assert _add(f, period="2025-Q3", period_type="quarter", value="269").exit_code == 0
    assert _add(f, period="2025-09", region="Balochistan", value="30").exit_code == 0
    assert _add(f, period="2025-09", metric="killed", value="120").exit_code == 0
    r = runner.invoke(app, ["reported", "list", "--file", str(f)], terminal_width=200)
    assert r.exit_code == 0, r.output
    from pakcast.forecast.sources.reported import list_reported, read_reported

    s = list_reported(read_reported(f)[0]).set_index(["source", "metric", "region"])
    att = s.loc[("PICSS", "attacks", "Pakistan")]
    assert att["rows"] == 4 and att["first_period"] == "2025-07" and att["period_types"] == "quarter,month"
    # the month and the quarter both end on 30 September: the row listed last is the latest
    assert att["latest_period"] == "2025-Q3" and att["latest_value"] == 269.0
    assert s.loc[("PICSS", "attacks", "Balochistan"), "rows"] == 1
    assert s.loc[("PICSS", "killed", "Pakistan"), "latest_value"] == 120.0
    lines = [ln for ln in r.output.splitlines() if "PICSS" in ln]
    assert len(lines) == 3 and "6 figure(s)" in r.output


def test_list_missing_table_is_a_clear_error(tmp_path):
    r = runner.invoke(app, ["reported", "list", "--file", str(tmp_path / "none.csv")])
    assert r.exit_code == 1 and "no such table" in r.output


def test_encoding_is_read_and_kept_and_an_unknown_one_is_a_clear_error(tmp_path):
    f = tmp_path / "reported.csv"
    note = "Peshawar r\u00e9sum\u00e9"  # é: one byte in Latin-1, two in UTF-8
    f.write_bytes(("source,period_type,period,region,metric,value,url,note\n"
                   f"PICSS,month,2025-08,Pakistan,attacks,80,{URL},{note}\n").encode("latin-1"))
    r = runner.invoke(app, ["reported", "list", "--file", str(f)])
    assert r.exit_code == 1 and "wrong text encoding" in " ".join(r.output.split()) and "Traceback" not in r.output
    r = runner.invoke(app, ["reported", "list", "--file", str(f), "--encoding", "latin-1"])
    assert r.exit_code == 0 and "1 figure(s)" in r.output, r.output
    r = _add(f, "--note", "r\u00e9vision", "--encoding", "latin-1")
    assert r.exit_code == 0 and "line 3" in r.output, r.output
    df = pd.read_csv(f, encoding="latin-1")
    assert df["note"].tolist() == [note, "r\u00e9vision"] and df["value"].tolist() == [80, 99]
    before = f.read_bytes()
    r = _add(f, "--note", "\u062d\u0645\u0644\u06c1", "--encoding", "latin-1", period="2025-10")  # Urdu text
    assert r.exit_code == 1 and "cannot hold" in " ".join(r.output.split()) and "Traceback" not in r.output
    r = _add(f, "--encoding", "klingon", period="2025-10")
    assert r.exit_code == 1 and "unknown text encoding 'klingon'" in " ".join(r.output.split())
    assert f.read_bytes() == before
