"""Bad inputs: wrong encoding, missing columns, impossible dates, negative counts, duplicated ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from pakcast.forecast.sources.acled import read_acled
from pakcast.forecast.sources.generic import read_generic
from pakcast.forecast.sources.gtd import read_gtd
from pakcast.forecast.sources.reported import read_reported_file
from pakcast.forecast.sources.ucdp import read_ucdp
from pakcast.forecast.validate import ValidationError, read_csv_records

UCDP_HEAD = "id,type_of_violence,date_start,date_end,best,low,high,adm_1,latitude,longitude\n"


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_bytes(text.encode(encoding))
    return p


def test_wrong_encoding_names_file_and_line(tmp_path):
    p = _write(tmp_path, "latin.csv", "event_id,date,killed,province\n"
               "a,2022-01-01,1,Punjab\nb,2022-01-02,2,Peshâwar Khyber\n", encoding="latin-1")
    with pytest.raises(ValidationError) as e:
        read_generic(p)
    msg = str(e.value)
    assert "latin.csv" in msg and "line 3" in msg and "utf-8" in msg and "latin-1" in msg
    # and the same file reads with the right encoding (unknown province is then the error)
    with pytest.raises(ValidationError, match="province"):
        read_generic(p, encoding="latin-1")


def test_missing_columns_raise_in_both_modes(tmp_path):
    p = _write(tmp_path, "u.csv", "id,type_of_violence,date_start,best,low\n1,1,2020-01-01,1,1\n")
    for mode in ("raise", "report"):
        with pytest.raises(ValidationError) as e:
            read_ucdp(p, on_error=mode)
        msg = str(e.value)
        assert "u.csv" in msg and "line 1" in msg and "'date_end'" in msg and "'high'" in msg


def test_impossible_date(tmp_path):
    p = _write(tmp_path, "u.csv", UCDP_HEAD + "1,1,2020-02-30,2020-02-30,1,1,1,Sindh province,,\n"
               "2,1,2020-03-01,2020-03-01,1,1,1,Sindh province,,\n")
    with pytest.raises(ValidationError) as e:
        read_ucdp(p)
    issue = e.value.issues[0]
    assert issue.file.endswith("u.csv") and issue.line == 2 and issue.column == "date_start"
    assert issue.value == "2020-02-30" and "real calendar date" in issue.expectation
    res = read_ucdp(p, on_error="report")
    assert res.accepted == 1 and res.rejected == 1 and res.rows_read == 2
    rj = res.rejects.iloc[0]
    assert rj["line"] == 2 and rj["event_id"] == "1" and "date_start" in rj["reason"]


def test_gtd_impossible_day(tmp_path):
    p = _write(tmp_path, "g.csv", "eventid,iyear,imonth,iday,provstate,nkill,nwound,attacktype1_txt,gname\n"
               "1,2010,2,30,Sindh,1,0,Armed Assault,Unknown\n2,2010,13,1,Sindh,1,0,Armed Assault,Unknown\n")
    with pytest.raises(ValidationError) as e:
        read_gtd(p)
    cols = {(i.line, i.column) for i in e.value.issues}
    assert (2, "iday") in cols and (3, "imonth") in cols


def test_negative_counts(tmp_path):
    p = _write(tmp_path, "u.csv", UCDP_HEAD + "1,1,2020-01-01,2020-01-01,-3,0,0,Sindh province,,\n")
    with pytest.raises(ValidationError) as e:
        read_ucdp(p)
    i = e.value.issues[0]
    assert (i.line, i.column, i.value) == (2, "best", "-3") and "negative" in i.expectation
    p2 = _write(tmp_path, "a.csv", "event_id_cnty,event_date,event_type,actor1,admin1,fatalities\n"
                "PAK1,2023-01-01,Battles,X,Sindh,-1\n")
    res = read_acled(p2, on_error="report")
    assert res.rejected == 1 and "fatalities" in res.rejects.iloc[0]["reason"]


def test_duplicated_ids_name_the_first_line(tmp_path):
    p = _write(tmp_path, "c.csv", "event_id,date,killed\nx1,2022-01-01,1\nx2,2022-01-02,1\nx1,2022-01-03,4\n")
    with pytest.raises(ValidationError) as e:
        read_generic(p)
    i = e.value.issues[0]
    assert (i.line, i.column, i.value) == (4, "event_id", "x1") and "line 2" in i.expectation
    res = read_generic(p, on_error="report")
    assert res.accepted == 2 and res.rejected == 1 and res.rows_read == 3


def test_report_mode_reconciles_and_collects_all_reasons(tmp_path):
    p = _write(tmp_path, "u.csv", UCDP_HEAD
               + "1,1,2020-01-01,2020-01-01,1,1,1,Sindh province,,\n"
               + "2,7,2020-01-01,2019-01-01,1,1,1,Sindh province,,\n"      # bad type, end < start
               + "3,1,2020-01-01,2020-01-01,x,1,1,Atlantis,,\n"           # non-integer, unknown province
               + "1,1,2020-01-02,2020-01-02,1,1,1,Punjab province,95,200\n"  # duplicate id, coordinates
               + "5,1,2020-01-01\n")                                       # wrong number of fields
    res = read_ucdp(p, on_error="report")
    assert res.rows_read == 5 == res.accepted + res.rejected
    assert res.accepted == 1
    reasons = dict(zip(res.rejects["line"], res.rejects["reason"]))
    assert "type_of_violence" in reasons[3] and "date_end" in reasons[3]
    assert "best" in reasons[4] and "adm_1" in reasons[4]
    assert "unique id" in reasons[5] and "latitude" in reasons[5] and "longitude" in reasons[5]
    assert "fields" in reasons[6]


def test_line_numbers_count_physical_lines_of_multiline_records(tmp_path):
    p = _write(tmp_path, "m.csv", 'event_id,date,killed,event_type\na,2022-01-01,1,"two\nline"\n'
               'b,2022-01-02,-1,x\n')
    raw = read_csv_records(p)
    assert raw.lines.tolist() == [2, 4]
    with pytest.raises(ValidationError) as e:
        read_generic(p)
    assert e.value.issues[0].line == 4


def test_hxl_row_is_skipped(tmp_path):
    p = _write(tmp_path, "h.csv", UCDP_HEAD + ",,#date+start,#date+end,#affected+killed,,,#adm1+name,#geo+lat,#geo+lon\n"
               "1,1,2020-01-01,2020-01-01,1,1,1,Sindh province,24.8,67.0\n")
    res = read_ucdp(p)
    assert res.rows_read == 1 and res.accepted == 1


def test_reported_schema(tmp_path):
    p = _write(tmp_path, "r.csv", "source,period_type,period,region,metric,value,url,note\n"
               "PIPS,year,2022,Pakistan,attacks,262,https://x,\n"
               "PIPS,month,2022-13,Pakistan,attacks,20,https://x,\n"
               "PIPS,year,2022,Narnia,attacks,5,https://x,\n"
               "PIPS,year,2023,Pakistan,killed,-4,https://x,\n")
    with pytest.raises(ValidationError):
        read_reported_file(p)
    tidy, rejects, n = read_reported_file(p, on_error="report")
    assert n == 4 and len(tidy) == 1 and len(rejects) == 3
    assert list(rejects["line"]) == [3, 4, 5]


def test_empty_files_and_trailing_garbage_in_dates(tmp_path):
    from pakcast.forecast.sources import read_source

    for src, header in (("ucdp", UCDP_HEAD), ("csv", "event_id,date,killed\n")):
        r = read_source(_write(tmp_path, f"{src}.csv", header), src)
        assert (r.rows_read, r.accepted, r.rejected) == (0, 0, 0)
    p = _write(tmp_path, "g.csv", "event_id,date,killed,date_end\na,2022-01-01,1,2022-01-04\nb,2022-01-01x,1,\n")
    r = read_generic(p, on_error="report")
    assert r.events["date_precision"].tolist() == ["week"]  # implied by the 3-day interval
    assert r.rejects["line"].tolist() == [3] and "calendar date" in r.rejects["reason"].iloc[0]


# -- the Arrow fast paths give what the cell-by-cell checks give -------------------------------------
def _generic(tmp_path: Path, name: str, rows: list[str]):
    p = _write(tmp_path, name, "event_id,date,killed,injured,province,latitude,longitude\n" + "\n".join(rows) + "\n")
    return read_generic(p, on_error="report")


def test_clean_columns_and_one_bad_cell_agree_on_the_other_rows(tmp_path):
    """A clean column takes one strict Arrow cast (dates, integers); one odd cell sends the column to the
    cell-by-cell path: the rows they share come out the same, the odd cells are named."""
    good = [f"e{i},2015-{1 + i % 12:02d}-{1 + i % 28:02d},{i % 5},{'' if i % 4 else i},Punjab,30.2,67.0"
            for i in range(40)]
    odd = good + ["x1,2015-02-30,1,0,Sindh,,", "x2,2015-01-01,1.0,+2,Sindh,,", "x3,1899-12-31,1,0,Sindh,,",
                  "x4,0000-01-01,-1,0,Sindh,,", "x5,2015-01-01,10000000000000000,0,Sindh,,"]
    a, b = _generic(tmp_path, "good.csv", good), _generic(tmp_path, "odd.csv", odd)
    assert a.rejected == 0 and a.accepted == 40
    shared = b.events[b.events["event_id"].str.startswith("e")].reset_index(drop=True)
    for c in ("event_id", "date", "date_end", "killed", "injured", "province", "latitude"):
        assert shared[c].equals(a.events[c]), c
    assert b.events.set_index("event_id").loc["x2", "killed"] == 1  # "1.0" is the integer 1 either way
    reasons = dict(zip(b.rejects["event_id"], b.rejects["reason"]))
    assert "real calendar date" in reasons["x1"] and "between 1900-01-01" in reasons["x3"]
    assert "killed: expected an integer >= 0" in reasons["x4"]
    for k, row in enumerate(odd[40:]):  # each odd row alone, where the rest of its column is clean
        alone = _generic(tmp_path, f"alone{k}.csv", good + [row])
        want = [reasons[row[:2]]] if row[:2] in reasons else []
        assert alone.rejects["reason"].tolist() == want, row
    assert b.events.set_index("event_id").loc["x2", "injured"] == 2
    assert "at most 9,007,199,254,740,992" in reasons["x5"]
    assert b.rows_read == b.accepted + b.rejected == 45


def test_trimming_is_unicode_whitespace_on_every_path(tmp_path):
    """ASCII blocks take Arrow's ASCII trim; the separators 0x1c-0x1f and non-ASCII spaces are Unicode
    whitespace and are trimmed too (the reader then takes the Unicode trim)."""
    from pakcast.forecast.csvread import _clean
    import pyarrow as pa

    cells = ["  a ", "", " ", "\x1cb\x1f", "\u00a0c\u2003", "d"]
    assert _clean(pa.array(cells)).to_pylist() == ["a", None, None, "b", "c", "d"]
    assert _clean(pa.array(["  a ", "", "d"]), ascii_text=True).to_pylist() == ["a", None, "d"]
    res = _generic(tmp_path, "sp.csv", ["e1,2015-01-01,1,,\x1cPunjab\x1c,,", "e2 ,2015-01-02, 2,,Sindh ,,"])
    assert res.events["province"].tolist() == ["Punjab", "Sindh"] and res.events["event_id"].tolist() == ["e1", "e2"]


def test_keep_rows_equals_a_boolean_filter():
    import numpy as np
    import pandas as pd
    from pakcast.forecast.validate import MAX_SLICES, keep_rows

    rng = np.random.default_rng(0)
    n = 500
    df = pd.DataFrame({"s": pd.Series([None if i % 7 == 0 else f"v{i}" for i in range(n)],
                                      dtype=pd.StringDtype("pyarrow")),
                       "i": pd.array([None if i % 5 == 0 else i for i in range(n)], dtype="Int64"),
                       "f": rng.normal(size=n)})
    for k in (np.ones(n, bool), np.zeros(n, bool), rng.random(n) > 0.02, rng.random(n) > 0.5):
        got, want = keep_rows(df, k), df[k].reset_index(drop=True)
        assert got.equals(want) and list(got.dtypes) == list(want.dtypes)
    assert MAX_SLICES < n // 4  # the last mask has more runs than that: the plain filter


def test_quote_free_blocks_with_blank_lines_and_untrimmed_cells(tmp_path):
    """The pyarrow path of a quote-free block: a blank line (inside, at the end, in a CRLF file) is
    skipped with every record keeping its physical line, whether or not the first column has empty
    cells; cells without edge whitespace are kept as they are, empty cells are missing."""
    from pakcast.forecast.csvread import _clean, read_csv_records
    import pyarrow as pa

    for nl in ("\n", "\r\n"):
        body = nl.join(["id,v", "a,1", "", "b,", ",3", "c,4", "", ""])
        p = tmp_path / "b.csv"
        p.write_bytes(body.encode())
        raw = read_csv_records(p)
        cells = lambda c: raw.frame[c].fillna("<missing>").tolist()  # noqa: E731
        assert cells("id") == ["a", "b", "<missing>", "c"] and raw.lines.tolist() == [2, 4, 5, 6]
        assert cells("v") == ["1", "<missing>", "3", "4"] and not raw.bad_width
    plain = pa.array(["a", "", "b c", "d"], pa.large_string())
    assert _clean(plain).to_pylist() == ["a", None, "b c", "d"]
    assert _clean(pa.array(["a", "b"])).to_pylist() == ["a", "b"]


def test_seen_ids_finds_every_earlier_id_and_its_line():
    """SeenIds against a dict: ids repeated across many chunks (runs merged along the way) are found
    with the line of their first occurrence, new ids are not."""
    import numpy as np
    import pandas as pd
    from pakcast.forecast.validate import SeenIds

    rng = np.random.default_rng(3)
    seen, model, line = SeenIds(), {}, 1
    for _ in range(12):
        ids = pd.Series([f"x{v}" for v in rng.integers(0, 400, 150)], dtype="string[pyarrow]")
        first = ~ids.duplicated().to_numpy()
        got = seen.lookup(ids)
        want = np.array([model.get(v, -1) for v in ids], dtype=np.int64)
        assert (got == want).all()
        lines = np.arange(line, line + len(ids))
        new = first & (want < 0)
        seen.add(ids[new], lines[new])
        model.update({v: int(n) for v, n in zip(ids[new], lines[new])})
        line += len(ids)
