"""Strict CSV parsing: unbalanced quotes never swallow rows; every input-side bad file is one clear error.

Each test reproduces a defect of the hostile-input review: a stray quote that silently merged
records (generic CSV, the real UCDP extract, ``its --csv`` / ``breaks --csv``), a duplicated header
column, a header-only series, bad ``quarterly --input`` cells and province names, an unknown
``--encoding``, numpy reprs in messages. The rule itself is documented in :mod:`forecast.csvread`.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pakcast.forecast.cli import app
from pakcast.forecast.csvread import iter_csv_chunks
from pakcast.forecast.errors import InputError
from pakcast.forecast.sources import read_source
from pakcast.forecast.validate import ValidationError, read_csv_records
from typer.testing import CliRunner

GENERIC_HEADER = "event_id,date,killed,province,actor\n"


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _flat(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------------------------------------
# defect 1: the generic CSV
# ---------------------------------------------------------------------------------------------
def _ttp(tmp_path: Path) -> Path:
    p = tmp_path / "ttp.csv"
    p.write_text(GENERIC_HEADER + 'a1,2015-01-03,7,Punjab,"TTP\n'
                 "a2,2015-01-04,3,Sindh,LeJ\n"
                 "a3,2015-01-05,4,Balochistan,BLA\n"
                 "a4,2015-01-06,5,Punjab,TTP\n", encoding="utf-8")
    return p


@pytest.mark.case("unbalanced-quote", fault='an unbalanced double quote in a generic CSV (`a1,2015-01-03,7,Punjab,"TTP` '
                  "followed by three events)", how="generic reader; `pakcast ingest` in raise and report mode",
                  outcome="error at line 2, column 'actor', where the quote opened; report mode: 4 read, 3 accepted, "
                          "1 rejected (a1, with the reason), the three events and their 12 deaths stored as events")
def test_unterminated_quote_raises_at_the_line_where_it_opened(tmp_path):
    p = _ttp(tmp_path)
    with pytest.raises(ValidationError) as ei:
        read_source(p, "csv")
    msg = str(ei.value)
    assert "ttp.csv, line 2, column 'actor'" in msg and "closing double quote" in msg
    assert len(ei.value.issues) == 1


@pytest.mark.case("unbalanced-quote")
def test_unterminated_quote_report_mode_keeps_the_swallowed_events(tmp_path):
    res = read_source(_ttp(tmp_path), "csv", on_error="report")
    assert (res.rows_read, res.accepted, res.rejected) == (4, 3, 1)
    assert res.events["event_id"].tolist() == ["a2", "a3", "a4"]
    assert int(res.events["killed"].sum()) == 12
    rj = res.rejects.iloc[0]
    assert rj["line"] == 2 and rj["event_id"] == "a1" and "quote" in rj["reason"]


@pytest.mark.case("unbalanced-quote")
def test_cli_ingest_unbalanced_quote(tmp_path):
    p = _ttp(tmp_path)
    store = tmp_path / "s.duckdb"
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(store))
    assert res.exit_code == 1 and "line 2" in _flat(res.output) and "Traceback" not in res.output
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(store), "--on-error", "report")
    assert res.exit_code == 0, res.output
    from pakcast.forecast.store import Store

    ing = Store(store).ingests().iloc[0]
    assert (ing["rows_read"], ing["accepted"], ing["rejected"]) == (4, 3, 1)
    assert int(Store(store).events()["killed"].sum()) == 12


@pytest.mark.case("broken-quoting", fault='broken quoting: `"ab"c`, a stray quote closed lines later by a `y"`, a '
                  "quoted line break that leaves the record with the wrong number of fields",
                  how="strict reader (every reader, `its`/`breaks --csv`, `quarterly --input`)",
                  outcome="a bad record at the line where the quote opened; the lines after it are read again, nothing "
                          "swallowed; rows read = accepted + rejected")
@pytest.mark.parametrize("body,line,expect", [
    # quote closed, then text: "ab"c
    ('1,2,"ab"c\n3,4,5\n', 2, "followed by 'c'"),
    # a stray quote whose field closes on a later line that looks like the end of a field
    ('1,2,"x\n3,4,5\n6,7,y"\n', 2, "complete record"),
    # a quoted line break that leaves the record with the wrong number of fields
    ('1,"x\ny",2,3\n4,5,6\n', 2, "the record has 4"),
])
def test_broken_quoting_is_an_error_at_the_opening_line(tmp_path, body, line, expect):
    p = tmp_path / "q.csv"
    p.write_text("a,b,c\n" + body, encoding="utf-8")
    raw = read_csv_records(p)
    assert raw.bad_width, raw.frame
    first = raw.bad_width[0]
    assert first.line == line and expect in str(first)
    # every line after the bad record is read again: nothing is swallowed
    assert raw.n_read == len(raw.frame) + len(raw.bad_width)


@pytest.mark.case("multiline-quoted-fields", fault="legitimate quoted fields spanning lines (commas, doubled quotes, "
                  "CRLF inside), cut by a block boundary", how="strict reader with 7-byte blocks",
                  outcome="one record each, physical start line kept; an unclosed quote at the end is one bad record "
                          "at its line")
def test_legitimate_multiline_quoted_fields_parse(tmp_path):
    p = tmp_path / "m.csv"
    p.write_text('id,text,n\n1,"two\nlines, with a comma",3\n2,"say ""hi""\r\nthere",4\n3,plain,5\n',
                 encoding="utf-8", newline="")
    raw = read_csv_records(p)
    assert not raw.bad_width
    assert raw.lines.tolist() == [2, 4, 6]
    assert raw.frame["text"].tolist() == ["two\nlines, with a comma", 'say "hi"\r\nthere', "plain"]


@pytest.mark.case("multiline-quoted-fields")
def test_quote_state_does_not_leak_across_blocks(tmp_path, monkeypatch):
    """A multi-line field cut by the block boundary is still one record (tiny blocks)."""
    import pakcast.forecast.csvread as C

    monkeypatch.setattr(C, "BLOCK_BYTES", 7)
    p = tmp_path / "b.csv"
    rows = [f'{i},"line one\nline two {i}",{i}\n' for i in range(30)]
    p.write_text("id,text,n\n" + "".join(rows) + '99,"open\n100,x,1\n', encoding="utf-8")
    raw = read_csv_records(p)
    assert len(raw.frame) == 31 and raw.frame["id"].iloc[-1] == "100"
    assert [i.line for i in raw.bad_width] == [62]


@pytest.mark.case("multiline-quoted-fields")
def test_chunks_cover_every_record_once(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("id,v\n" + "".join(f"{i},{i}\n" for i in range(1000)), encoding="utf-8")
    chunks = list(iter_csv_chunks(p, chunk_rows=64))
    assert len(chunks) > 5
    lines = np.concatenate([c.lines for c in chunks])
    assert lines.tolist() == list(range(2, 1002))


# ---------------------------------------------------------------------------------------------
# defect 1: the real UCDP extract with one stray quote
# ---------------------------------------------------------------------------------------------
def _stray_quote_copy(ucdp_path: Path, out: Path, after_line: int = 200) -> tuple[int, str]:
    """Copy of the extract with ``"`` inserted before the where_description of a single-line record."""
    text = ucdp_path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    k = header.index("where_description")
    # physical start line of each record
    with ucdp_path.open(newline="", encoding="utf-8") as fh:
        r = csv.reader(fh)
        prev = 0
        for rec in r:
            start, prev = prev + 1, r.line_num
            if start > after_line and r.line_num == start and '"' not in lines[start - 1] and rec[k]:
                break
    parts = lines[start - 1].split(",")
    assert parts[k] == rec[k]
    parts[k] = '"' + parts[k]
    lines[start - 1] = ",".join(parts)
    out.write_text("".join(lines), encoding="utf-8")
    return start, rec[header.index("id")]


@pytest.mark.case("ucdp-stray-quote", fault="one stray quote before a `where_description` of the real UCDP extract",
                  how="UCDP reader, raise and report mode",
                  outcome="raise mode names that line and column; report mode: 6,416 read, 6,415 accepted, 1 rejected "
                          "(that event); every other event kept")
def test_ucdp_stray_quote_names_the_line_and_loses_no_event(ucdp_path, tmp_path):
    p = tmp_path / "ucdp_stray.csv"
    line, eid = _stray_quote_copy(ucdp_path, p)
    with pytest.raises(ValidationError) as ei:
        read_source(p, "ucdp")
    first = ei.value.issues[0]
    assert (first.line, first.column) == (line, "where_description"), str(ei.value)
    assert len(ei.value.issues) == 1
    res = read_source(p, "ucdp", on_error="report")
    assert (res.rows_read, res.accepted, res.rejected) == (6416, 6415, 1)
    assert res.rejects.iloc[0]["line"] == line and res.rejects.iloc[0]["event_id"] == eid
    clean = read_source(ucdp_path, "ucdp")
    assert clean.rows_read == 6416 and clean.rejected == 0
    assert set(clean.events["event_id"]) - set(res.events["event_id"]) == {eid}


# ---------------------------------------------------------------------------------------------
# defect 1: its --csv and breaks --csv
# ---------------------------------------------------------------------------------------------
def _series(tmp_path: Path, note_row: int | None = 30, empty_row: int | None = None) -> Path:
    rng = np.random.default_rng(3)
    months = pd.date_range("2012-01-01", periods=109, freq="MS").strftime("%Y-%m")
    counts = rng.poisson(40, 109)
    counts[note_row or 0] = 42
    rows = []
    for i, (m, c) in enumerate(zip(months, counts)):
        note = '"x' if i == note_row else "ok"
        cell = "" if i == empty_row else str(c)
        rows.append(f"{m},{cell},{note}\n")
    p = tmp_path / "series.csv"
    p.write_text("month,count,note\n" + "".join(rows), encoding="utf-8")
    return p


def _series_cli(command: str, p, out):
    """``pakcast its`` or ``pakcast breaks`` on the series CSV ``p`` (column ``count``), JSON to ``out``."""
    if command == "its":
        return _cli("its", "--csv", str(p), "--outcome", "count", "--date-col", "month", "--intervention", "2015-01",
                    "--json", str(out))
    return _cli("breaks", "--csv", str(p), "--column", "count", "--date-col", "month", "--json", str(out))


@pytest.mark.case("series-stray-quote", fault='`"x` in a note column of a 109-row monthly series',
                  how="`pakcast its --csv`, `pakcast breaks --csv`",
                  outcome="exit 1 naming line 32, column 'note'; nothing written; the clean series reads all 109 rows")
@pytest.mark.parametrize("command", ["its", "breaks"])
def test_its_and_breaks_refuse_an_unbalanced_quote(tmp_path, command):
    p = _series(tmp_path)
    out = tmp_path / "o.json"
    res = _series_cli(command, p, out)
    text = _flat(res.output)
    assert res.exit_code != 0 and not out.exists(), text
    assert "line 32" in text and "'note'" in text and "Traceback" not in res.output


@pytest.mark.case("series-stray-quote")
def test_load_series_reads_every_row(tmp_path):
    from pakcast.forecast.studies import load_series

    d = load_series(csv=_series(tmp_path, note_row=None), column="count", date_col="month")
    assert len(d["y"]) == 109


@pytest.mark.case("series-empty-cell", fault="an empty count cell in a series", how="`load_series` (`its`/`breaks --csv`)",
                  outcome="error naming the line and \"an empty cell\"; no numpy repr such as `np.float64(nan)`")
def test_empty_cell_message_has_no_numpy_repr(tmp_path):
    from pakcast.forecast.studies import load_series

    with pytest.raises(InputError) as ei:
        load_series(csv=_series(tmp_path, note_row=None, empty_row=5), column="count", date_col="month")
    msg = str(ei.value)
    assert "line 7" in msg and "an empty cell" in msg and "np." not in msg and "nan" not in msg.lower()


@pytest.mark.case("series-count-above-2-53", fault="a series count just above 2^53 (9007199254740993)",
                  how="`pakcast its --csv`, `pakcast breaks --csv`; `load_series` on 2^53 and 2^53 - 1",
                  outcome="**was a bug**: read as a float, 9007199254740992, exit 0. Now exit 1 naming the line and "
                          "column, \"an integer of at most 9,007,199,254,740,992 in absolute value\" (as ingest says "
                          "it); counts up to 2^53 read exactly")
@pytest.mark.parametrize("command", ["its", "breaks"])
def test_series_count_above_2_53_is_refused_not_rounded(tmp_path, command):
    from pakcast.forecast.studies import load_series

    p = _series(tmp_path, note_row=None)
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[10] = lines[10].replace(lines[10].split(",")[1], "9007199254740993", 1)  # line 11: month 10's count
    p.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "o.json"
    res = _series_cli(command, p, out)
    text = _flat(res.output)
    assert res.exit_code == 1 and not out.exists() and "Traceback" not in res.output, text
    assert "line 11" in text and "'count'" in text and "9007199254740993" in text
    assert "an integer of at most 9,007,199,254,740,992 in absolute value" in text
    for big in (2**53, 2**53 - 1, -(2**53)):
        lines[10] = f"{lines[10].split(',')[0]},{big},ok\n"
        p.write_text("".join(lines), encoding="utf-8")
        y = load_series(csv=p, column="count", date_col="month")["y"]
        assert len(y) == 109 and int(y.iloc[9]) == big


@pytest.mark.case("header-only-series", fault="a header-only series", how="`pakcast its --csv`",
                  outcome="exit 1: \"no data rows\", no traceback")
def test_header_only_series_is_a_clear_error(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("month,count\n", encoding="utf-8")
    res = _cli("its", "--csv", str(p), "--outcome", "count", "--date-col", "month", "--intervention", "2015-01",
               "--json", str(tmp_path / "o.json"))
    assert res.exit_code != 0 and "no data rows" in _flat(res.output) and "Traceback" not in res.output


# ---------------------------------------------------------------------------------------------
# defect 10: header, encoding
# ---------------------------------------------------------------------------------------------
@pytest.mark.case("duplicated-header", fault="a duplicated column name in the header", how="generic reader; `pakcast ingest`",
                  outcome="exit 1: \"columns 3 and 4 are both named 'killed'\", no traceback")
def test_duplicated_header_column_is_a_clear_error(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("event_id,date,killed,killed\na,2015-01-01,1,2\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"columns 3 and 4 are both named 'killed'"):
        read_source(p, "csv")
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(tmp_path / "s.duckdb"))
    assert res.exit_code == 1 and "duplicated column" in _flat(res.output) and "Traceback" not in res.output


@pytest.mark.case("unknown-encoding", fault="an unknown `--encoding` (`klingon`)",
                  how="reader; `ingest`, `breaks --csv`, `backtest --input`, `hawkes --csv`, `bayes changepoint --csv`",
                  outcome="exit 1: \"unknown text encoding 'klingon'\" with the codec names to use, no traceback")
def test_unknown_encoding_is_a_clear_error(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text(GENERIC_HEADER + "a,2015-01-01,1,Punjab,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="unknown text encoding 'klingon'"):
        read_source(p, "csv", encoding="klingon")
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(tmp_path / "s.duckdb"), "--encoding", "klingon")
    assert res.exit_code == 1 and "unknown text encoding" in _flat(res.output) and "Traceback" not in res.output
    s = _series(tmp_path, note_row=None)
    res = _cli("breaks", "--csv", str(s), "--column", "count", "--json", str(tmp_path / "b.json"),
               "--encoding", "klingon")
    assert res.exit_code != 0 and "unknown text encoding" in _flat(res.output)


@pytest.mark.case("declared-encodings", fault="files in UTF-8, UTF-8 with BOM, Latin-1, cp1252, UTF-16 with their "
                  "`--encoding`", how="generic reader; `hawkes --csv`, `bayes changepoint --csv`",
                  outcome="read exactly (non-ASCII text kept)")
def test_encodings_round_trip(tmp_path):
    text = GENERIC_HEADER + "a,2015-01-01,1,Punjab,Lashkar-e-Jhangvi \u00e9\n"
    for enc in ("utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"):
        p = tmp_path / f"{enc}.csv"
        p.write_bytes(text.encode(enc))
        res = read_source(p, "csv", encoding=enc)
        assert res.events["actor"].tolist() == ["Lashkar-e-Jhangvi \u00e9"], enc


@pytest.mark.case("bad-encoding")
def test_wrong_encoding_names_the_line(tmp_path):
    p = tmp_path / "l1.csv"
    p.write_bytes((GENERIC_HEADER + "a,2015-01-01,1,Punjab,x\nb,2015-01-02,1,Punjab,caf\u00e9\n").encode("latin-1"))
    with pytest.raises(ValidationError, match=r"l1.csv, line 3"):
        read_source(p, "csv")


# ---------------------------------------------------------------------------------------------
# defects 4 and 10: quarterly --input
# ---------------------------------------------------------------------------------------------
def _panel_csv(tmp_path: Path, bad: dict[tuple[int, str], str] | None = None) -> Path:
    months = pd.date_range("2015-01-01", periods=24, freq="MS").strftime("%Y-%m")
    rows = [{"province": p, "period": m, "attacks": "3", "killed": "5"} for p in ("Punjab", "Sindh") for m in months]
    for (i, col), v in (bad or {}).items():
        rows[i][col] = v
    p = tmp_path / "panel_in.csv"
    pd.DataFrame(rows).to_csv(p, index=False)
    return p


@pytest.mark.case("quarterly-input-cells", fault="bad `quarterly --input` cells: province `=cmd|' /C calc'!A0` or "
                  "`Narnia`, attacks -1, killed 2.5 or empty, period 2015-13, a stray quote",
                  how="`_load_panel`; `pakcast quarterly --input`",
                  outcome="error naming file, line, column and expectation (\"a known Pakistani province\", ...); exit "
                          "1, no forecast.csv written")
@pytest.mark.parametrize("col,value,expect", [
    ("province", "=cmd|' /C calc'!A0", "known Pakistani province"),
    ("province", "Narnia", "known Pakistani province"),
    ("attacks", "-1", "counts cannot be negative"),
    ("killed", "2.5", "an integer"),
    ("killed", "", "a value"),
    ("period", "2015-13", "a month like 2021-12"),
])
def test_quarterly_input_cells_are_validated(tmp_path, col, value, expect):
    from pakcast.forecast.panel import load_run_panel

    p = _panel_csv(tmp_path, {(4, col): value})
    with pytest.raises(ValidationError) as ei:
        load_run_panel(p)
    msg = str(ei.value)
    assert f"panel_in.csv, line 6, column '{col}'" in msg and expect in msg, msg
    assert "np." not in msg


@pytest.mark.case("quarterly-input-cells")
def test_quarterly_input_reads_through_the_strict_reader(tmp_path):
    from pakcast.forecast.panel import load_run_panel

    p = _panel_csv(tmp_path)
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[4] = '"' + lines[4]  # an unbalanced quote before the province of line 5
    p.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ValidationError, match=r"line 5, column 'province'.*closing double quote"):
        load_run_panel(p)
    (tmp_path / "ok").mkdir()
    panel, _ = load_run_panel(_panel_csv(tmp_path / "ok"))
    assert set(panel["unique_id"]) == {"Punjab", "Sindh", "Pakistan"}
    assert int(panel.loc[panel["unique_id"] == "Pakistan", "attacks"].sum()) == 2 * 24 * 3


@pytest.mark.case("quarterly-input-cells")
def test_cli_quarterly_bad_input_is_one_line(tmp_path):
    p = _panel_csv(tmp_path, {(0, "province"): "=cmd|' /C calc'!A0"})
    res = _cli("quarterly", "--input", str(p), "--out", str(tmp_path / "run"), "--store", "none",
               "--scheduler", "serial", "--no-studies", "--no-report", "--no-bayes")
    assert res.exit_code == 1, res.output
    assert "line 2, column 'province'" in _flat(res.output) and "Traceback" not in res.output
    assert not (tmp_path / "run" / "forecast.csv").exists()
    res = _cli("backtest", "--input", str(p), "--json", str(tmp_path / "b.json"), "--encoding", "klingon")
    assert res.exit_code != 0 and "unknown text encoding" in _flat(res.output)


@pytest.mark.case("quarterly-input-cells")
def test_messages_name_file_line_column(tmp_path):
    p = _panel_csv(tmp_path, {(10, "attacks"): "many"})
    from pakcast.forecast.panel import load_run_panel

    with pytest.raises(ValidationError) as ei:
        load_run_panel(p)
    assert re.search(r"panel_in\.csv, line 12, column 'attacks': found 'many'; expected an integer", str(ei.value))


# ---------------------------------------------------------------------------------------------
# defect 4: CSV formula injection in files written for people
# ---------------------------------------------------------------------------------------------
@pytest.mark.case("csv-formula-outputs", fault="formula-like text (`=cmd|...`, `+SUM(...)`, `-2+3`, `@cmd`) reaching "
                  "a CSV written for people", how="`forecast.io.write_csv` (forecast.csv, panel.csv, backtest.csv, ...)",
                  outcome="text cells neutralised with a leading `'`; numbers unchanged; the data in the store kept "
                          "as it was")
def test_write_csv_neutralises_formula_text_but_keeps_numbers(tmp_path):
    from pakcast.forecast.io import write_csv

    df = pd.DataFrame({"province": ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@cmd", "Punjab", "-5", None],
                       "value": [-1.5, -2, 0, 1, 2, 3, 4],
                       "note": pd.Series(["\tx", "ok", "-", "a-b", "=1", "", None], dtype="string")})
    p = write_csv(tmp_path / "out.csv", df)
    back = pd.read_csv(p, dtype=str, keep_default_na=False)
    assert back["province"].tolist() == ["'=cmd|' /C calc'!A0", "'+SUM(A1:A9)", "'-2+3", "'@cmd", "Punjab", "-5", ""]
    assert back["value"].tolist() == ["-1.5", "-2.0", "0.0", "1.0", "2.0", "3.0", "4.0"]
    assert back["note"].tolist() == ["'\tx", "ok", "'-", "a-b", "'=1", "", ""]
    assert df["province"].iloc[0] == "=cmd|' /C calc'!A0"  # the caller's frame is not changed


@pytest.mark.case("csv-formula-outputs")
def test_formula_actor_is_inert_in_the_store_and_outputs(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text(GENERIC_HEADER + "a,2015-01-01,1,Punjab,=cmd|' /C calc'!A0\n", encoding="utf-8")
    res = read_source(p, "csv")
    assert res.events["actor"].iloc[0] == "=cmd|' /C calc'!A0"  # data kept as it was, as text
    from pakcast.forecast.io import write_csv

    out = write_csv(tmp_path / "events.csv", res.events[["event_id", "actor", "killed"]])
    assert "'=cmd" in out.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# defect 10: --encoding on every command that reads a CSV (hawkes --csv, bayes changepoint --csv)
# ---------------------------------------------------------------------------------------------
def _latin1_events(tmp_path: Path) -> Path:
    p = tmp_path / "events_latin1.csv"
    # clustered days (bursts of attacks), so the Hawkes fit has self-excitation to find
    offsets = [b + k for b in (0, 60, 130, 170, 250, 300, 360, 420) for k in (0, 1, 2, 4, 7)]
    days = (pd.Timestamp("2015-01-01") + pd.to_timedelta(offsets, unit="D")).strftime("%Y-%m-%d")
    rows = [f"{d},Lashkar-e-Jhangvi \u00e9,{i % 4}\n" for i, d in enumerate(days)]
    p.write_bytes(("date,actor,count\n" + "".join(rows)).encode("latin-1"))
    return p


@pytest.mark.case("unknown-encoding")
@pytest.mark.case("declared-encodings")
def test_hawkes_csv_takes_encoding(tmp_path):
    p = _latin1_events(tmp_path)
    out = tmp_path / "h.json"
    res = _cli("hawkes", "--csv", str(p), "--json", str(out), "--n-samples", "20")
    assert res.exit_code == 1 and "line 2" in _flat(res.output) and "--encoding latin-1" in _flat(res.output)
    assert not out.exists() and "Traceback" not in res.output
    res = _cli("hawkes", "--csv", str(p), "--json", str(out), "--n-samples", "20", "--encoding", "klingon")
    assert res.exit_code == 1 and "unknown text encoding 'klingon'" in _flat(res.output)
    res = _cli("hawkes", "--csv", str(p), "--json", str(out), "--n-samples", "20", "--encoding", "latin-1")
    assert res.exit_code == 0, res.output
    import json

    fit = json.loads(out.read_text(encoding="utf-8"))
    assert fit["n_events"] == 40
    manifest = json.loads(out.with_name("h.manifest.json").read_text(encoding="utf-8"))
    assert manifest["options"]["encoding"] == "latin-1"


@pytest.mark.case("unknown-encoding")
@pytest.mark.case("declared-encodings")
def test_bayes_changepoint_csv_takes_encoding(tmp_path):
    from pakcast.forecast.bayes_study import csv_count_series

    p = _latin1_events(tmp_path)
    out = tmp_path / "c.json"
    base = ["bayes", "changepoint", "--csv", str(p), "--column", "count", "--date-col", "date", "--json", str(out),
            "--draws", "10", "--tune", "10", "--chains", "1"]
    res = _cli(*base)
    assert res.exit_code == 1 and "line 2" in _flat(res.output) and "--encoding latin-1" in _flat(res.output)
    assert not out.exists() and "Traceback" not in res.output
    res = _cli(*base, "--encoding", "klingon")
    assert res.exit_code == 1 and "unknown text encoding 'klingon'" in _flat(res.output)
    y, labels = csv_count_series(p, "count", "date", encoding="latin-1")
    assert len(y) == 40 and int(np.sum(y)) == sum(i % 4 for i in range(40))
