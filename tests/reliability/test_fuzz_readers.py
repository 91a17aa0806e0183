"""Fuzz suite over every reader: random quoting, encodings, separators and truncation.

The invariant, for every generated file and every reader (generic CSV, UCDP, GTD, ACLED, the
reported tables, and the strict record splitter itself):

* a read either succeeds or raises :class:`ValidationError` / :class:`InputError` (never any
  other exception, never a silent partial result);
* in report mode ``rows_read == accepted + rejected``, every reject has a line >= 2 and a reason;
* every event written in the file is either stored (accepted) or rejected with a reason: the
  ids of the events that went in are all accounted for, none appears twice, and none appears
  that was not written;
* the record splitter accounts for every physical line (header, records, bad records, blank
  lines), and reading the file in tiny blocks gives the same records as in one block.

Truncation at every byte offset of a small file runs in full (the file is ~300 bytes).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pakcast.forecast.csvread import read_csv_records
from pakcast.forecast.errors import InputError
from pakcast.forecast.sources import read_source
from pakcast.forecast.sources.reported import read_reported_file
from pakcast.forecast.validate import ValidationError

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

TEXT = st.text(st.sampled_from(list('ab ,;"\n\r\t\u00e9\u062a\u20ac\'x1-=')), max_size=10)
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "cp1252", "utf-16"]

SCHEMAS = {
    "csv": (["event_id", "date", "killed", "province", "actor"],
            lambda i: [f"e{i}", "2015-01-03", str(i % 5), "Punjab", "TTP"], "event_id"),
    "ucdp": (["id", "type_of_violence", "date_start", "date_end", "best", "low", "high", "adm_1", "where_description"],
             lambda i: [str(i + 1), "3", "2015-01-03", "2015-01-03", "2", "1", "3", "Sindh", "Karachi"], "id"),
    "gtd": (["eventid", "iyear", "imonth", "iday", "provstate", "nkill", "nwound", "attacktype1_txt", "gname"],
            lambda i: [str(201500000000 + i), "2015", "1", "3", "Balochistan", "1", "0", "Bombing", "BLA"], "eventid"),
    "acled": (["event_id_cnty", "event_date", "event_type", "actor1", "admin1", "fatalities"],
              lambda i: [f"PAK{i}", "2015-01-03", "Battles", "TTP", "Punjab", "1"], "event_id_cnty"),
}


def _write(path: Path, header: list[str], rows: list[list[str]], quoting: int, encoding: str,
           newline: str = "\n") -> bytes:
    # Python's csv.writer does not quote a cell holding a lone "\r" (which a reader rightly takes for a
    # line break), so cells carry "\n" instead
    rows = [[c.replace("\r", "\n") for c in r] for r in rows]
    buf = io.StringIO()
    w = csv.writer(buf, quoting=quoting, lineterminator=newline)
    w.writerow(header)
    w.writerows(rows)
    data = buf.getvalue().encode(encoding)
    path.write_bytes(data)
    return data


def _check(res, written_ids: set[str]) -> None:
    assert res.rows_read == res.accepted + res.rejected
    ids = res.events["event_id"].astype(str).tolist()
    assert len(ids) == len(set(ids))
    assert set(ids) <= written_ids
    if res.rejected:
        assert (res.rejects["line"] >= 2).all() and res.rejects["reason"].str.len().gt(0).all()


# ---------------------------------------------------------------------------------------------
def every_source(test):
    """Run ``test(tmp_path_factory, source, data)`` for every event reader, with hypothesis data."""
    return pytest.mark.parametrize("source", sorted(SCHEMAS))(given(data=st.data())(SETTINGS(test)))


def _good_rows(data, source: str, min_n: int) -> tuple[list[str], list[list[str]], str]:
    """The source's header, ``min_n`` to 12 valid rows of it (drawn) and its id column."""
    header, good, id_col = SCHEMAS[source]
    return header, [good(i) for i in range(data.draw(st.integers(min_n, 12)))], id_col


@every_source
def test_every_event_is_stored_or_rejected(tmp_path_factory, source, data):
    header, rows, id_col = _good_rows(data, source, 1)
    n = len(rows)
    # hostile cells: random text (quotes, delimiters, line breaks) in random places
    for _ in range(data.draw(st.integers(0, 4))):
        i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, len(header) - 1))
        if header[j] != id_col:
            rows[i][j] = data.draw(TEXT)
    quoting = data.draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    encoding = data.draw(st.sampled_from(ENCODINGS))
    newline = data.draw(st.sampled_from(["\n", "\r\n"]))
    path = tmp_path_factory.mktemp("fuzz") / f"{source}.csv"
    try:
        _write(path, header, rows, quoting, encoding, newline)
    except UnicodeEncodeError:
        return  # the text cannot be written in this encoding
    written = {r[header.index(id_col)] for r in rows}
    # a properly quoted file: nothing is lost, whatever the cells hold
    res = read_source(path, source, on_error="report", encoding=encoding)
    _check(res, written)
    assert res.rows_read == n, (res.rows_read, n)
    try:
        strict = read_source(path, source, on_error="raise", encoding=encoding)
    except ValidationError:
        assert res.rejected > 0
    else:
        assert res.rejected == 0 and strict.accepted == res.accepted


@every_source
def test_stray_quotes_never_swallow_records(tmp_path_factory, source, data):
    header, rows, id_col = _good_rows(data, source, 2)
    n = len(rows)
    lines = [",".join(header)] + [",".join(r) for r in rows]
    k = data.draw(st.integers(1, n))
    cells = lines[k].split(",")
    j = data.draw(st.integers(0, len(cells) - 1))
    cells[j] = '"' + cells[j]  # an unbalanced quote at the start of one field
    lines[k] = ",".join(cells)
    path = tmp_path_factory.mktemp("stray") / f"{source}.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = read_source(path, source, on_error="report")
    _check(res, {r[header.index(id_col)] for r in rows})
    assert res.rows_read == n and res.rejected >= 1
    assert k + 1 in set(res.rejects["line"])  # the line where the quote opened
    assert res.accepted == n - 1  # every other record is read
    with pytest.raises(ValidationError, match=f"line {k + 1}"):
        read_source(path, source, on_error="raise")


# ---------------------------------------------------------------------------------------------
def _small_file(tmp_path: Path) -> bytes:
    p = tmp_path / "small.csv"
    rows = [["e1", "2015-01-03", "7", "Punjab", 'TTP, "faction"'],
            ["e2", "2015-01-04", "3", "Sindh", "line\nbreak"],
            ["e3", "2015-01-05", "4", "Balochistan", "BLA"],
            ["e4", "2015-01-06", "5", "Khyber Pakhtunkhwa", "caf\u00e9"],
            ["e5", "2015-01-07", "0", "Punjab", ""]]
    return _write(p, SCHEMAS["csv"][0], rows, csv.QUOTE_MINIMAL, "utf-8")


def test_truncation_at_every_byte_offset(tmp_path):
    data = _small_file(tmp_path)
    written = {f"e{i}" for i in range(1, 6)}
    cut = tmp_path / "cut.csv"
    for k in range(len(data) + 1):
        cut.write_bytes(data[:k])
        try:
            res = read_source(cut, "csv", on_error="report")
        except (ValidationError, InputError) as exc:
            # file-level only: empty, no full header, or a multibyte character cut in two
            assert any(w in str(exc) for w in ("empty file", "missing required column", "wrong text encoding")), (k, exc)
            continue
        _check(res, written)
        # every complete record before the cut is there; only the last, cut record may be rejected
        complete = data[:k].count(b"\n") - 1 - (1 if b"line\nbreak" in data[:k] else 0)
        assert res.accepted >= complete - 1 and res.rows_read <= 5, (k, res.rows_read, res.accepted)


@given(data=st.data())
@SETTINGS
def test_splitter_accounts_for_every_line_and_blocks_do_not_matter(tmp_path_factory, data, monkeypatch):
    import pakcast.forecast.csvread as C

    n_cols = data.draw(st.integers(1, 4))
    body = data.draw(st.lists(st.lists(TEXT, min_size=1, max_size=5), min_size=0, max_size=10))
    sep = data.draw(st.sampled_from([",", ";", "\t", "|"]))  # other separators are data for a comma CSV
    text = sep.join(f"c{i}" for i in range(n_cols)) + "\n" + "\n".join(",".join(r) for r in body)
    path = tmp_path_factory.mktemp("split") / "x.csv"
    path.write_text(text, encoding="utf-8", newline="")
    try:
        whole = read_csv_records(path)
    except ValidationError as exc:
        assert "duplicated column" in str(exc) or "empty file" in str(exc)
        return
    lines = whole.lines.tolist() + [i.line for i in whole.bad_width]
    n_physical = len(io.StringIO(text, newline="").readlines())  # \n, \r\n and \r end a line, as for csv
    assert len(lines) == len(set(lines)) and all(2 <= ln <= n_physical for ln in lines)
    monkeypatch.setattr(C, "BLOCK_BYTES", data.draw(st.integers(1, 16)))
    small = read_csv_records(path)
    assert small.lines.tolist() == whole.lines.tolist()
    assert small.frame.equals(whole.frame)
    assert [str(i) for i in small.bad_width] == [str(i) for i in whole.bad_width]


@given(data=st.data())
@SETTINGS
def test_reported_reader_under_random_quoting(tmp_path_factory, data):
    header = ["source", "period_type", "period", "region", "metric", "value", "url", "note"]
    n = data.draw(st.integers(1, 8))
    rows = [["PIPS", "year", str(2010 + i), "Punjab", "attacks", str(i), "https://example.org/r", data.draw(TEXT)]
            for i in range(n)]
    quoting = data.draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    path = tmp_path_factory.mktemp("rep") / "r.csv"
    _write(path, header, rows, quoting, "utf-8")
    tidy, rejects, n_read = read_reported_file(path, on_error="report")
    assert n_read == n == len(tidy) + len(rejects)
    assert tidy["note"].fillna("").tolist() == [r[-1].replace("\r", "\n").strip() for r in rows]
