"""Property-based tests (hypothesis) of every reader and the panel builder on hostile input.

Files are generated cell by cell from pools of valid and invalid values (wrong and mixed
encodings, missing and extra columns, impossible and ambiguous dates, unknown provinces,
negative / non-integer / NaN / inf / huge counts, duplicated ids, truncated and empty files, a file
of one source read as another). The properties:

* a reader either returns a :class:`ReadResult` or raises :class:`ValidationError`; never any
  other exception;
* every ValidationError issue names the file, a line >= 1 and states an expectation; a cell issue
  also names its column;
* ``rows_read == accepted + rejected`` and ``rows_read + skipped`` = the data records in the file;
* ``on_error="raise"`` succeeds exactly when ``"report"`` rejects nothing, with the same events;
* accepted events satisfy the canonical invariants (non-negative integer counts, real dates,
  canonical provinces, unique ids).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pakcast.forecast.panel import build_panel_with_report
from pakcast.forecast.provinces import NATIONAL
from pakcast.forecast.sources import read_source
from pakcast.forecast.sources.reported import read_reported_file
from pakcast.forecast.validate import EVENT_COLUMNS, ValidationError

CANONICAL = {"Balochistan", "Khyber Pakhtunkhwa", "Punjab", "Sindh", "Islamabad Capital Territory",
             "Gilgit-Baltistan", "Azad Jammu and Kashmir", "FATA"}
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

COUNTS = ["0", "1", "3", "17", "-1", "-0", "2.5", "3.0", "1e3", "nan", "NaN", "inf", "-inf", "", " 4 ", "1,000",
          "abc", "99999999999999999999", "9223372036854775807", "1e308", "0x10", "\u0661\u0662"]
DATES = ["2015-03-04", "2015-02-30", "2015-13-01", "04/03/2015", "2015-3-4", "", "0000-00-00", "9999-12-31",
         "2015-03-04T10:00:00", "2015-03-04 10:00:00.123", "1899-12-31", "2015-03-04abc", "2016-02-29",
         "2100-01-01", "20150304", "nan"]
PROVINCES = ["Punjab", "punjab", "KPK", "Sindh", "Balochistan", "FATA", "NWFP", "Khyber Pakhtunkhwa", "Pakistan",
             "Atlantis", "", "../../etc", "..\\..\\windows", "=cmd|' /C calc'!A0", "Islamabad", "AJK", "Unknown"]
IDS = ["1", "2", "3", "4", "5", "0", "-3", "7.5", "", "x9", "99999999999999999999"]
COORDS = ["", "31.5", "74.3", "67.0", "24.8", "95", "-200", "nan", "inf", "abc", "30", "70"]
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
FORMULAS = ["=1+1", "+SUM(A1:A9)", "-2+3", "@cmd", "=HYPERLINK(\"http://x\")", "<script>alert(1)</script>",
            "__import__('os').system('true')", "!!python/object/apply:os.system ['true']"]


def cell(pool: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(pool), st.sampled_from(pool), TEXT, st.sampled_from(FORMULAS))


SCHEMAS: dict[str, dict[str, list[str]]] = {
    "ucdp": {"id": IDS, "type_of_violence": ["1", "2", "3", "0", "4", "", "1.0", "x"],
             "date_start": DATES, "date_end": DATES, "best": COUNTS, "low": COUNTS, "high": COUNTS,
             "date_prec": ["1", "2", "3", "4", "5", "6", "", "x"], "adm_1": PROVINCES, "latitude": COORDS,
             "longitude": COORDS, "where_prec": ["1", "6", "", "x"], "side_a": ["Government of Pakistan", "TTP", ""],
             "side_b": ["TTP", "Civilians", ""], "gwnoa": ["770", "2", "", "x"], "gwnob": ["", "750"],
             "country_id": ["770", "770", "750", "", "x"]},
    "gtd": {"eventid": IDS, "iyear": ["2010", "1969", "2262", "", "x", "2010.5", "99999999999999999999"],
            "imonth": ["0", "1", "12", "13", "-1", "", "2"], "iday": ["0", "1", "31", "32", "30", "", "29"],
            "provstate": PROVINCES, "nkill": COUNTS, "nwound": COUNTS, "attacktype1_txt": ["Bombing", ""],
            "gname": ["TTP", "Unknown", ""], "country_txt": ["Pakistan", "Pakistan", "India", ""],
            "latitude": COORDS, "longitude": COORDS},
    "acled": {"event_id_cnty": ["PAK1", "PAK2", "PAK3", "", "PAK4"],
              "event_date": DATES + ["31 January 2021", "31 February 2021", "3-March-2020"],
              "event_type": ["Battles", "Protests", "Explosions/Remote violence", ""],
              "actor1": ["Military Forces of Pakistan (2018-)", "TTP", "Military Forces of India (2014-)", ""],
              "admin1": PROVINCES, "fatalities": COUNTS, "time_precision": ["1", "2", "3", "4", "", "x"],
              "actor2": ["", "Civilians (Pakistan)"], "country": ["Pakistan", "Pakistan", "India", ""],
              "latitude": COORDS, "longitude": COORDS},
    "csv": {"event_id": ["a", "b", "c", "d", "", "1"], "date": DATES, "killed": COUNTS, "date_end": DATES,
            "date_precision": ["day", "week", "month", "year", "", "decade"], "province": PROVINCES,
            "killed_low": COUNTS, "killed_high": COUNTS, "injured": COUNTS,
            "scope": ["militant", "foreign", "", "terror"], "latitude": COORDS, "longitude": COORDS,
            "actor": ["TTP", ""], "event_type": ["bombing", ""]},
}
REQUIRED = {"ucdp": ["id", "type_of_violence", "date_start", "date_end", "best", "low", "high"],
            "gtd": ["eventid", "iyear", "imonth", "iday", "provstate", "nkill", "nwound", "attacktype1_txt", "gname"],
            "acled": ["event_id_cnty", "event_date", "event_type", "actor1", "admin1", "fatalities"],
            "csv": ["event_id", "date", "killed"]}
COUNTRY_FILTER = {"ucdp": ("country_id", "770"), "gtd": ("country_txt", "Pakistan"), "acled": ("country", "Pakistan")}


@st.composite
def event_file(draw, source: str):
    """``(header, rows, bytes, encoding_used)`` of a hostile CSV for ``source``."""
    schema = SCHEMAS[source]
    cols = list(schema)
    keep = draw(st.lists(st.sampled_from(cols), unique=True, min_size=0, max_size=len(cols)))
    # mostly keep the required columns, sometimes drop one (a file-level error)
    header = [c for c in cols if c in REQUIRED[source] or c in keep]
    if draw(st.integers(0, 9)) == 0 and header:
        header.remove(draw(st.sampled_from(header)))
    extra = draw(st.lists(st.sampled_from(["notes", "=evil()", "source", "id2", ""]), unique=True, max_size=2))
    header = header + [e for e in extra if e not in header]
    header = draw(st.permutations(header))
    n = draw(st.integers(0, 8))
    rows = [[draw(cell(schema.get(h, ["x", ""]))) for h in header] for _ in range(n)]
    if rows and draw(st.booleans()):  # a row of the wrong width
        k = draw(st.integers(0, len(rows) - 1))
        rows[k] = rows[k][:-1] if draw(st.booleans()) else rows[k] + ["extra"]
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows([header, *rows])
    text = buf.getvalue()
    enc = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "cp1252", "mixed", "utf-16"]))
    if enc == "mixed":
        lines = text.splitlines(keepends=True)
        data = b"".join(l.encode("latin-1", errors="replace") if i % 2 else l.encode("utf-8")
                        for i, l in enumerate(lines))
    elif enc == "utf-8-sig":
        data = text.encode("utf-8-sig")
    else:
        data = text.encode(enc, errors="replace")
    cut = draw(st.sampled_from([None, None, None, "truncate", "empty", "header_only"]))
    if cut == "truncate" and len(data) > 2:
        data = data[: draw(st.integers(1, len(data) - 1))]
    elif cut == "empty":
        data = b""
    elif cut == "header_only":
        data = data.split(b"\n")[0]
    return header, rows, data


def _records(data: bytes, encoding: str) -> list[list[str]] | None:
    """The data records (non-empty, after the header) as Python's csv module parses them."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff"):
        text = text[1:]
    recs = list(csv.reader(io.StringIO(text, newline="")))
    return [r for r in recs[1:] if r and r != [""]]


def _check_validation_error(exc: ValidationError, path: Path) -> None:
    assert exc.issues, "a ValidationError must list at least one issue"
    for i in exc.issues:
        assert i.file == str(path)
        assert i.line is None or i.line >= 1
        assert i.expectation and isinstance(i.expectation, str)
    text = str(exc)
    assert str(path) in text and "expected" in text


def _check_events(ev: pd.DataFrame) -> None:
    assert list(ev.columns) == EVENT_COLUMNS
    assert not ev.duplicated(["source", "event_id"]).any()
    assert ev["date"].notna().all()
    assert (ev["date_end"].isna() | (ev["date_end"] >= ev["date"])).all()
    for c in ("killed", "killed_low", "killed_high", "injured"):
        v = ev[c].dropna()
        assert (v >= 0).all(), c
        assert str(ev[c].dtype) == "Int64"
    assert set(ev["province"].dropna()) <= CANONICAL
    for c in ("latitude", "longitude"):
        v = ev[c].dropna().to_numpy(dtype=float)
        assert np.isfinite(v).all()


def _read(path: Path, source: str, on_error: str):
    try:
        return read_source(path, source, on_error=on_error), None
    except ValidationError as exc:
        _check_validation_error(exc, path)
        return None, exc


@pytest.mark.case("truncated-file", fault="truncated file (cut mid-record, mid-quote, mid-multibyte char)",
                  how="hypothesis",
                  outcome="short last record rejected (\"N fields as in the header\"), or encoding error for a cut character; totals reconcile")
@pytest.mark.case("duplicated-ids", fault="duplicated ids",
                  how="hypothesis; CLI",
                  outcome="later rows rejected: \"a unique id (this id is already on line N)\"")
@pytest.mark.case("impossible-dates", fault="impossible dates (2015-02-30, 2015-13-01, 0000-00-00), other formats (04/03/2015, 20150304), trailing text, dates before 1900 / in the future",
                  how="hypothesis; CLI",
                  outcome="row rejected: \"expected a real calendar date YYYY-MM-DD\" or \"a date between ...\"; GTD day 0 / month 0 become month / year precision (by design)")
@pytest.mark.case("extra-columns", fault="extra columns (incl. empty or formula-like header names)",
                  how="hypothesis",
                  outcome="ignored; results unchanged")
@pytest.mark.case("missing-column", fault="missing required column",
                  how="hypothesis; CLI",
                  outcome="file-level error in both modes naming each missing column and the schema (\"GTD codebook names\", ...)")
@pytest.mark.case("utf8-bom", fault="UTF-8 with BOM",
                  how="hypothesis",
                  outcome="read normally")
@pytest.mark.case("mixed-encodings", fault="mixed encodings (alternate lines UTF-8 / Latin-1)",
                  how="hypothesis",
                  outcome="same as a wrong encoding, naming the first bad line")
@pytest.mark.case("bad-encoding", fault="wrong encoding (Latin-1, cp1252, UTF-16 read as UTF-8)",
                  how="hypothesis, every reader; CLI",
                  outcome="`ValidationError` \"wrong text encoding\": file, line of the first bad byte, byte value, hint `--encoding latin-1`; nothing stored")
@pytest.mark.parametrize("source", ["ucdp", "gtd", "acled", "csv"])
@SETTINGS
@given(data=st.data())
def test_reader_never_crashes_and_totals_reconcile(tmp_path_factory, source, data):
    header, rows, raw = data.draw(event_file(source))
    path = tmp_path_factory.mktemp(source) / f"{source}.csv"
    path.write_bytes(raw)
    rep, exc_rep = _read(path, source, "report")
    strict, exc_strict = _read(path, source, "raise")
    if rep is None:
        # file-level problem: raises in both modes (no rows to reject)
        assert strict is None
        return
    assert rep.rows_read == rep.accepted + rep.rejected
    recs = _records(raw, "utf-8")
    assert recs is not None, "a file that does not decode must raise"
    if source == "ucdp":
        # the HXL hashtag row is not data
        recs = [r for r in recs if not all(c.strip().startswith("#") for c in r if c.strip()) or not any(
            c.strip() for c in r)]
    assert rep.rows_read + rep.skipped == len(recs)
    _check_events(rep.events)
    assert (rep.rejects["reason"].astype(str).str.len() > 0).all()
    assert rep.rejects["line"].notna().all() and (rep.rejects["line"] >= 2).all()
    if rep.rejected == 0:
        assert strict is not None and strict.accepted == rep.accepted
        pd.testing.assert_frame_equal(strict.events, rep.events)
    else:
        assert strict is None and exc_strict is not None
        # every rejected line is named in the strict error's issues (up to the listing limit)
        lines = {i.line for i in exc_strict.issues}
        assert set(rep.rejects["line"].astype(int)) == lines


@pytest.mark.case("wrong-source", fault="a file of one source under another `--source` (UCDP/GTD/ACLED in every wrong combination, generic as UCDP)",
                  how="parametrised",
                  outcome="file-level error \"missing required column(s)\" naming the expected schema")
@pytest.mark.parametrize("actual,given_as", [(a, g) for a in ("ucdp", "gtd", "acled")
                                              for g in ("ucdp", "gtd", "acled", "csv") if a != g])
def test_file_of_another_source_is_refused(tmp_path, fixtures_dir, actual, given_as):
    """A file of one source under the wrong --source: a file-level error naming the missing columns."""
    path = fixtures_dir[actual]
    with pytest.raises(ValidationError) as ei:
        read_source(path, given_as, on_error="report")
    msg = str(ei.value)
    assert "missing required column" in msg and str(path) in msg and "line 1" in msg


@pytest.fixture(scope="module")
def fixtures_dir(shared_dir) -> dict[str, Path]:
    fix = Path(__file__).parents[1] / "forecast" / "fixtures"
    return {"ucdp": shared_dir / "data" / "events" / "ucdp_ged_pak_hdx.csv", "gtd": fix / "gtd_small.csv",
            "acled": fix / "acled_small.csv"}


@pytest.mark.case("wrong-source")
def test_generic_csv_given_as_ucdp_names_columns(tmp_path):
    p = tmp_path / "generic.csv"
    p.write_text("event_id,date,killed\na,2015-01-01,3\n", encoding="utf-8")
    with pytest.raises(ValidationError) as ei:
        read_source(p, "ucdp")
    assert "'best'" in str(ei.value) and "UCDP" in str(ei.value)


# -- reported aggregates ------------------------------------------------------------------------
REPORTED = {"source": ["PICSS", "PIPS", "", "=1+1"], "period_type": ["year", "quarter", "month", "half", "ytd", "decade", ""],
            "period": ["2021", "2021-Q3", "2021-07", "2021-H1", "2021-01..2021-06", "2021-Q5", "2021-13", "", "21"],
            "region": ["Pakistan", "Punjab", "Khyber Pakhtunkhwa (incl. tribal districts)", "Atlantis", "../../etc", ""],
            "metric": ["attacks", "killed", ""], "value": COUNTS, "url": ["https://example.org/r", ""],
            "note": ["", "revised"]}


@pytest.mark.case("reported-aggregates", fault="published aggregates with bad periods, regions, values",
                  how="hypothesis",
                  outcome="rows rejected with reasons; totals reconcile")
@SETTINGS
@given(data=st.data())
def test_reported_reader_never_crashes_and_reconciles(tmp_path_factory, data):
    cols = list(REPORTED)
    header = [c for c in cols if data.draw(st.integers(0, 12)) > 0]
    n = data.draw(st.integers(0, 6))
    rows = [[data.draw(cell(REPORTED[h])) for h in header] for _ in range(n)]
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows([header, *rows])
    raw = buf.getvalue().encode(data.draw(st.sampled_from(["utf-8", "latin-1"])), errors="replace")
    path = tmp_path_factory.mktemp("rep") / "reported.csv"
    path.write_bytes(raw)
    try:
        tidy, rejects, n_read = read_reported_file(path, on_error="report")
    except ValidationError as exc:
        _check_validation_error(exc, path)
        return
    assert n_read == len(tidy) + len(rejects)
    assert (tidy["value"] >= 0).all() and np.isfinite(tidy["value"].to_numpy(dtype=float)).all()
    assert tidy["period_start"].notna().all() and (tidy["period_end"] >= tidy["period_start"]).all()


# -- panel builder ------------------------------------------------------------------------------
@st.composite
def canonical_events(draw):
    n = draw(st.integers(0, 25))
    start = pd.Timestamp("2014-01-01")
    days = draw(st.lists(st.integers(0, 1500), min_size=n, max_size=n))
    spans = draw(st.lists(st.sampled_from([0, 0, 0, 3, 6, 20, 40, 400]), min_size=n, max_size=n))
    prec = ["day" if s == 0 else "week" if s <= 6 else "month" if s <= 30 else "year" for s in spans]
    killed = draw(st.lists(st.one_of(st.none(), st.integers(0, 10), st.integers(0, 10**12)), min_size=n, max_size=n))
    prov = draw(st.lists(st.sampled_from([*sorted(CANONICAL), None]), min_size=n, max_size=n))
    scope = draw(st.lists(st.sampled_from(["militant", "militant", "foreign", "interstate", "other"]),
                          min_size=n, max_size=n))
    d0 = pd.to_datetime([start + pd.Timedelta(days=d) for d in days]).astype("datetime64[ns]")
    d1 = pd.to_datetime([start + pd.Timedelta(days=d + s) for d, s in zip(days, spans)]).astype("datetime64[ns]")
    ev = pd.DataFrame({"source": "csv", "event_id": [f"e{i}" for i in range(n)], "date": d0, "date_end": d1,
                       "date_precision": prec, "province": prov,
                       "killed": pd.array(killed, dtype="Int64"), "injured": pd.array([None] * n, dtype="Int64"),
                       "scope": scope, "province_method": ["source" if p else "unassigned" for p in prov]})
    ev["killed_low"] = ev["killed"]
    ev["killed_high"] = ev["killed"]
    from pakcast.forecast.validate import coerce_events

    return coerce_events(ev)


@pytest.mark.case("panel-random-events", fault="panel builder on random events (unassigned provinces, year-precision, killed missing or 10^12, every freq, FATA merge/separate)",
                  how="hypothesis",
                  outcome="events and deaths conserved: national = provinces + unassigned; excluded events counted; int64 counts, no NaN")
@pytest.mark.case("ambiguous-precision", fault="ambiguous precision (date_end without date_precision)",
                  how="generic reader",
                  outcome="precision follows the interval width; the panel keeps the event only in periods holding the whole interval (counted as excluded otherwise)")
@settings(max_examples=80, deadline=None, derandomize=True)
@given(ev=canonical_events(), freq=st.sampled_from(["day", "week", "month", "quarter", "year"]),
       fata=st.sampled_from(["merge", "separate"]), scope=st.sampled_from(["militant", "all"]))
def test_panel_conserves_events_and_deaths(ev, freq, fata, scope):
    in_scope = ev[ev["scope"].isin(["militant"] if scope == "militant" else ["militant", "foreign", "interstate", "other"])]
    if in_scope.empty:
        with pytest.raises(ValueError, match="no events in scope"):
            build_panel_with_report(ev, freq, fata=fata, scope=scope, with_population=False)
        return
    panel, rep = build_panel_with_report(ev, freq, fata=fata, scope=scope, with_population=False)
    for c in ("attacks", "killed", "killed_low", "killed_high"):
        assert panel[c].dtype == np.int64 and (panel[c] >= 0).all()
    nat = panel[panel["unique_id"] == NATIONAL]
    prov = panel[panel["unique_id"] != NATIONAL]
    # every in-scope event is in the panel, or listed as excluded by the date-precision rule
    assert rep.events_in_scope == rep.events_in_panel + rep.excluded_date_precision + rep.events_filtered
    assert int(nat["attacks"].sum()) == rep.events_in_panel
    assert int(nat["killed"].sum()) == rep.killed_in_panel
    assert int(prov["attacks"].sum()) == rep.events_in_panel - rep.unassigned_province
    assert int(prov["killed"].sum()) == rep.killed_in_panel - rep.unassigned_province_killed
    assert not panel.duplicated(["unique_id", "ds"]).any()
    assert panel[["attacks", "killed"]].notna().all().all()


@pytest.mark.case("formula-payloads", fault="spreadsheet formulas / script / YAML payloads in cells and ids",
                  how="unit",
                  outcome="kept as inert text, byte for byte")
def test_formula_payload_is_kept_as_inert_text(tmp_path):
    """Spreadsheet formulas and script payloads in cells stay text: nothing evaluates them."""
    p = tmp_path / "payload.csv"
    rows = [["event_id", "date", "killed", "actor", "event_type"]]
    for i, f in enumerate(FORMULAS):
        rows.append([f"p{i}", "2015-01-01", "1", f, f])
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    p.write_text(buf.getvalue(), encoding="utf-8")
    res = read_source(p, "csv")
    assert res.events["actor"].tolist() == FORMULAS
    assert res.events["event_type"].tolist() == FORMULAS
    # the formula in an id cell stays a literal id as well
    q = tmp_path / "id_payload.csv"
    q.write_text('event_id,date,killed\n"=1+1",2015-01-01,2\n', encoding="utf-8")
    assert read_source(q, "csv").events["event_id"].tolist() == ["=1+1"]


@pytest.mark.case("nan-inf-counts", fault="NaN / inf / -inf counts",
                  how="hypothesis; CLI",
                  outcome="**was a bug**: `inf` passed the integer check and was cast to -9,223,372,036,854,775,808; the read then failed with an unclear \"negative killed in 1 rows\" (no line, no column). Fixed in `Checker.integer`: row rejected \"expected an integer\", with file, line, column")
@pytest.mark.case("negative-counts", fault="negative counts",
                  how="hypothesis; CLI",
                  outcome="row rejected: \"an integer >= 0 (counts cannot be negative)\"")
def _one_bad_count(p, value, expect, rows):
    """Line 3's ``killed`` cell ``value`` is the file's one bad cell: raise mode names file, line,
    column, value and ``expect``; report mode rejects that row alone. Returns the report."""
    with pytest.raises(ValidationError) as ei:
        read_source(p, "csv")
    (issue,) = ei.value.issues
    assert (issue.file, issue.line, issue.column, issue.value) == (str(p), 3, "killed", value)
    assert expect in issue.expectation
    res = read_source(p, "csv", on_error="report")
    assert (res.rows_read, res.accepted, res.rejected) == (rows, rows - 1, 1)
    return res


@pytest.mark.parametrize("value,expect", [("inf", "an integer"), ("nan", "an integer"),
                                          ("99999999999999999999", "at most"), ("1e308", "at most"), ("-inf", "an integer"),
                                          ("2.5", "an integer"), ("-1", "counts cannot be negative")])
def test_count_cells_name_file_line_column_expectation(tmp_path, value, expect):
    p = tmp_path / "counts.csv"
    p.write_text(f"event_id,date,killed\na,2015-01-01,3\nb,2015-01-02,{value}\n", encoding="utf-8")
    res = _one_bad_count(p, value, expect, rows=2)
    assert "killed" in res.rejects["reason"].iloc[0]


@pytest.mark.case("huge-values", fault="huge values (1e20, 1e308, 2^63-1)",
                  how="hypothesis; unit",
                  outcome="**was the same bug** (all cast to int64 min). Now counts above 2^53 are rejected (\"an integer of at most 9,007,199,254,740,992 in absolute value\"); 10^12 killed is accepted and sums exactly in the panel")
def test_huge_but_valid_counts_survive_the_panel(tmp_path):
    p = tmp_path / "huge.csv"
    p.write_text("event_id,date,killed\na,2015-01-01,1000000000000\nb,2015-01-02,5\n", encoding="utf-8")
    res = read_source(p, "csv")
    panel, _ = build_panel_with_report(res.events, "month", with_population=False)
    nat = panel[panel["unique_id"] == NATIONAL]
    assert int(nat["killed"].sum()) == 1_000_000_000_005
    assert math.isfinite(float(nat["killed"].max()))



@pytest.mark.case("count-above-2-53", fault="a count just above 2^53 (9007199254740993)",
                  how="unit (both parse paths); CLI into a store",
                  outcome="**was a bug**: read through a float and stored rounded (9007199254740992), silently. Now read exactly: row rejected \"an integer of at most 9,007,199,254,740,992 in absolute value\" with file, line, column; 2^53 itself is stored exactly")
@pytest.mark.parametrize("other", ["4", "4.0"], ids=["arrow-path", "cell-by-cell-path"])
@pytest.mark.parametrize("value,expect", [("9007199254740993", "at most 9,007,199,254,740,992"),
                                          ("-9007199254740993", "at most 9,007,199,254,740,992"),
                                          ("9007199254740993.0", "at most 9,007,199,254,740,992"),
                                          ("4503599627370496.5", "an integer")])
def test_count_beyond_float_precision_is_rejected_not_rounded(tmp_path, other, value, expect):
    """``4.0`` is no plain integer for Arrow's cast, so that column is checked cell by cell."""
    p = tmp_path / "counts.csv"
    p.write_text(f"event_id,date,killed\na,2015-01-01,{other}\nb,2015-01-02,{value}\n"
                 "c,2015-01-03,9007199254740992\n", encoding="utf-8")
    res = _one_bad_count(p, value, expect, rows=3)
    assert res.rejects["line"].tolist() == [3] and expect in res.rejects["reason"].iloc[0]
    assert res.events["killed"].tolist() == [4, 2**53]


def test_count_above_2_53_is_rejected_by_cli_ingest_and_2_53_stored_exactly(tmp_path):
    from pakcast.forecast.store import Store

    p = tmp_path / "big.csv"
    p.write_text("event_id,date,killed\na,2015-01-01,9007199254740992\nb,2015-01-02,9007199254740993\n",
                 encoding="utf-8")
    store = tmp_path / "s.duckdb"
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(store))
    text = " ".join(res.output.split())
    assert res.exit_code == 1 and "line 3" in text and "killed" in text and "Traceback" not in text
    assert "at most 9,007,199,254,740,992" in text
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(store), "--on-error", "report")
    assert res.exit_code == 0, res.output
    st = Store(store)
    assert st.events()["killed"].tolist() == [2**53]
    assert st.rejects()["line"].tolist() == [3]

TEMPLATES = {
    "ucdp": {"id": "{i}", "type_of_violence": "1", "date_start": "2015-03-04", "date_end": "2015-03-04",
             "best": "3", "low": "2", "high": "5", "date_prec": "1", "adm_1": "Punjab", "latitude": "31.5",
             "longitude": "74.3", "where_prec": "1", "side_a": "Government of Pakistan", "side_b": "TTP",
             "gwnoa": "770", "gwnob": "", "country_id": "770"},
    "gtd": {"eventid": "{i}", "iyear": "2015", "imonth": "3", "iday": "4", "provstate": "Sindh", "nkill": "2",
            "nwound": "1", "attacktype1_txt": "Bombing", "gname": "TTP", "country_txt": "Pakistan",
            "latitude": "24.8", "longitude": "67.0"},
    "acled": {"event_id_cnty": "PAK{i}", "event_date": "2021-01-31", "event_type": "Battles", "actor1": "TTP",
              "admin1": "Balochistan", "fatalities": "4", "time_precision": "1", "actor2": "",
              "country": "Pakistan", "latitude": "30", "longitude": "67.0"},
    "csv": {"event_id": "ev{i}", "date": "2015-03-04", "killed": "3", "date_end": "", "date_precision": "day",
            "province": "Punjab", "killed_low": "2", "killed_high": "4", "injured": "1", "scope": "militant",
            "latitude": "", "longitude": "", "actor": "TTP", "event_type": "bombing"},
}


@pytest.mark.case("empty-where-prec", fault="empty UCDP `where_prec`",
                  how="hypothesis (single hostile cell)",
                  outcome="**was a crash** (`TypeError: boolean value of NA is ambiguous`); fixed: empty/unparseable `where_prec` allows point-in-polygon")
@pytest.mark.case("bad-coordinates", fault="NaN / inf / out-of-range coordinates",
                  how="hypothesis",
                  outcome="row rejected: \"a number in [-90, 90]\" / \"a number\"")
@pytest.mark.case("non-integer-counts", fault="non-integer counts (2.5, 1,000, 0x10, Arabic-Indic digits, text)",
                  how="hypothesis",
                  outcome="row rejected: \"an integer\"")
@pytest.mark.case("negative-counts")
@pytest.mark.case("unknown-provinces", fault="unknown provinces (Atlantis, `../../etc`, formulas)",
                  how="hypothesis; CLI",
                  outcome="row rejected: \"expected a known Pakistani province spelling\"; never used as a name")
@pytest.mark.case("impossible-dates")
@pytest.mark.parametrize("source", ["ucdp", "gtd", "acled", "csv"])
@SETTINGS
@given(data=st.data())
def test_one_hostile_cell_rejects_only_its_row(tmp_path_factory, source, data):
    """Valid rows with one hostile cell each: only those rows can be rejected, and each rejected
    row's reason names a column; every accepted row satisfies the invariants."""
    tpl = TEMPLATES[source]
    header = list(tpl)
    n = data.draw(st.integers(1, 6))
    rows, mutated = [], {}
    for i in range(n):
        row = {k: v.format(i=1000 + i) for k, v in tpl.items()}
        if data.draw(st.booleans()):
            col = data.draw(st.sampled_from(header))
            row[col] = data.draw(cell(SCHEMAS[source].get(col, ["x"])))
            mutated[i + 2] = col  # header is line 1; no embedded newlines in the template
        rows.append([row[h] for h in header])
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows([header, *rows])
    path = tmp_path_factory.mktemp(source) / f"{source}.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    res = read_source(path, source, on_error="report")  # no file-level error is possible here
    assert res.rows_read == res.accepted + res.rejected
    _check_events(res.events)
    # physical lines shift when a hostile cell holds a line break: map records to lines by parsing
    starts, reader = [], csv.reader(io.StringIO(buf.getvalue(), newline=""))
    next(reader)
    prev = reader.line_num
    for _ in reader:
        starts.append(prev + 1)
        prev = reader.line_num
    mutated_lines = {starts[k - 2] for k in mutated}
    assert set(res.rejects["line"].astype(int)) <= mutated_lines
    assert (res.rejects["column"].astype(str).str.len() > 0).all()


# -- through the CLI: clear errors, and the rejects table reconciles with the ingests table ------
def _cli(*args: str):
    from typer.testing import CliRunner

    from pakcast.forecast.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.case("empty-file", fault="empty file / header only",
                  how="hypothesis; CLI",
                  outcome="empty: \"empty file ... expected a header line\" (exit 1, no traceback); header only: 0 rows read, nothing stored")
@pytest.mark.case("missing-column")
@pytest.mark.case("bad-encoding")
@pytest.mark.parametrize("content,expect", [
    (b"", "empty file"),
    (b"event_id,date\na,2015-01-01\n", "missing required column"),
    (b"event_id,date,killed\na,2015-01-01,\xe9\n", "wrong text encoding"),
])
def test_cli_ingest_file_level_errors_are_clear(tmp_path, content, expect):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    store = tmp_path / "s.duckdb"
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(store), "--on-error", "report")
    assert res.exit_code == 1
    text = " ".join(res.output.split())
    assert expect in text and "bad.csv" in text and "Traceback" not in text
    if store.exists():
        from pakcast.forecast.store import Store

        assert Store(store).count("events") == 0 and Store(store).count("ingests") == 0


def test_cli_ingest_report_mode_reconciles_in_the_store(tmp_path):
    p = tmp_path / "mixed.csv"
    p.write_text("event_id,date,killed,province\n"
                 "a,2015-01-01,3,Punjab\n"
                 "b,2015-02-30,1,Sindh\n"        # impossible date
                 "c,2015-03-01,-2,Sindh\n"       # negative count
                 "a,2015-04-01,1,Sindh\n"        # duplicated id
                 "d,2015-05-01,1.5,Atlantis\n"   # non-integer count and unknown province
                 "e,2015-06-01,inf,Punjab\n"     # infinite count
                 "f,2015-07-01,2,Balochistan\n", encoding="utf-8")
    store = tmp_path / "s.duckdb"
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(store))
    assert res.exit_code == 1 and "line 3" in " ".join(res.output.split())
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(store), "--on-error", "report")
    assert res.exit_code == 0, res.output
    from pakcast.forecast.store import Store

    st = Store(store)
    ing = st.ingests().iloc[0]
    assert (ing["rows_read"], ing["accepted"], ing["rejected"]) == (7, 2, 5)
    rj = st.rejects().sort_values("line")
    assert rj["line"].tolist() == [3, 4, 5, 6, 7]
    assert rj["reason"].str.len().gt(0).all() and rj["file"].str.endswith("mixed.csv").all()
    reasons = dict(zip(rj["line"], rj["reason"]))
    assert "calendar date" in reasons[3] and "negative" in reasons[4] and "already on line 2" in reasons[5]
    assert "province" in reasons[6] and "integer" in reasons[6] and "integer" in reasons[7]
    assert sorted(st.events()["event_id"]) == ["a", "f"]


def test_cli_error_text_from_data_is_not_markup(tmp_path):
    """A cell like ``[bold red]x[/]`` is shown literally in the error, not rendered as console markup."""
    p = tmp_path / "markup.csv"
    p.write_text("event_id,date,killed,province\na,2015-01-01,1,[bold red]boom[/]\n", encoding="utf-8")
    res = _cli("ingest", str(p), "--source", "csv", "--store", str(tmp_path / "s.duckdb"))
    assert res.exit_code == 1
    assert "[bold red]boom[/]" in res.output and "line 2" in res.output
