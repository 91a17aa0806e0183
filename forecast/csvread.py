"""The one strict CSV reader behind every input file: ingest, ``its --csv``, ``breaks --csv``,
``quarterly --input`` and the reported tables.

The file is read in blocks of :data:`BLOCK_BYTES` (memory does not grow with the file), decoded
strictly (a wrong encoding is an error naming the line of the first undecodable byte) and split into
records with the standard ``csv`` module in strict mode. Every record keeps the **1-based physical
line** where it starts; every physical line of the file is accounted for: it is the header, part of
a record that is returned, part of a bad record that is reported, or blank.

Quoting rule (RFC 4180 with one guard against unbalanced quotes)
-----------------------------------------------------------------
A field that starts with ``"`` is quoted; ``""`` inside it is a literal quote, and it ends at a
``"`` followed by the delimiter or the end of the line. A quoted field **may span lines** (UCDP's
``source_article`` does) only if

1. its closing quote is followed by a delimiter or the end of a line (``"ab"c`` is an error);
2. it is closed before the end of the file and within :func:`csv.field_size_limit` characters;
3. the record it ends has exactly the header's number of fields; and
4. none of its continuation lines that holds no quote character is by itself a complete record
   (the header's number of fields, for a header of at least two columns): a stray quote swallows
   whole records, a quoted line break in a text field does not.

A record that breaks the rule is **bad at the line where the quote opened**: the bad record is the
lines from its start to that line, and parsing resumes on the next line, so the records a stray
quote would have swallowed are read as records. In ``on_error="raise"`` mode the first such error
stops the read (after the whole file has been checked); in ``"report"`` mode each bad record is
one reject and ``rows_read = accepted + rejected`` still counts the physical records honestly.

Quote-free blocks (the common case for large files) are parsed by pyarrow's CSV parser, which
gives the same records: without quotes a record is exactly one line.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from pakcast.forecast.errors import InputError
from pakcast.forecast.validate import Issue, RawTable, ReadDigest, ValidationError

__all__ = ["BLOCK_BYTES", "CHUNK_ROWS", "check_encoding", "iter_csv_chunks", "read_csv_records"]

DELIMITER = ","
QUOTE = '"'
BLOCK_BYTES = 8 * 2**20
CHUNK_ROWS = 200_000
SNIPPET = 40

RowFilter = Callable[[pd.DataFrame], np.ndarray]


def check_encoding(encoding: str) -> str:
    """The codec name for ``encoding``; :class:`InputError` for an unknown one."""
    try:
        name = codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise InputError(f"unknown text encoding {encoding!r}; expected a codec name such as utf-8, latin-1, "
                         "cp1252 or utf-16 (see Python's codecs documentation)") from None
    return "utf-8-sig" if name == "utf-8" else name


# ---------------------------------------------------------------------------------------------
# decoding in blocks
# ---------------------------------------------------------------------------------------------
def _text_blocks(path: Path, encoding: str, progress: Callable[[int, int], None] | None,
                 digest: ReadDigest | None = None) -> Iterator[tuple[str, bool]]:
    """``(text, final)`` blocks of whole lines (the last block may lack a final newline); ``digest``
    hashes the bytes as they are read (finished after the last block)."""
    codec = check_encoding(encoding)
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    total = os.path.getsize(path)
    done = 0
    lines_before = 0
    carry = ""
    with open(path, "rb") as fh:
        while True:
            data = fh.read(BLOCK_BYTES)
            final = not data
            if digest is not None:
                if data:
                    digest.update(data)
                else:
                    digest.finish()
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(data, final=final)
            except UnicodeDecodeError as exc:
                start = max(0, exc.start - pending)
                line = lines_before + carry.count("\n") + data[:start].count(b"\n") + 1
                bad = data[start:start + 1] or b"?"
                snippet = data[max(0, start - 10): start + 10]
                raise ValidationError(
                    [Issue(str(path), line, None, repr(snippet)[2:-1],
                           f"text encoded as {encoding} (byte 0x{bad[0]:02x} at offset {done + start} is not valid "
                           f"{encoding}; if the file is Latin-1 or Windows-1252, pass --encoding latin-1 / cp1252)")],
                    header="wrong text encoding") from None
            done += len(data)
            text = carry + text
            if final:
                if text:
                    yield text, True
                else:
                    yield "", True
                if progress is not None:
                    progress(total, total)
                return
            cut = text.rfind("\n") + 1
            carry = text[cut:]
            if cut:
                block = text[:cut]
                lines_before += block.count("\n")
                yield block, False
            if progress is not None:
                progress(min(done, total), total)


def _split_lines(text: str) -> list[str]:
    """Physical lines with their terminators (``\\n``, ``\\r\\n`` or ``\\r``), as ``csv`` sees them."""
    return io.StringIO(text, newline="").readlines()


# ---------------------------------------------------------------------------------------------
# quote analysis of a bad record
# ---------------------------------------------------------------------------------------------
@dataclass
class _Quoted:
    open_idx: int            # line (0-based within the record) where the quoted field opened
    field: int               # 0-based field number of the quoted field
    close_idx: int | None    # line where it closed (None: not closed)
    error: str | None        # what followed the closing quote, when not a delimiter/line end


def _quoted_fields(lines: list[str]) -> list[_Quoted]:
    """The quoted fields of a record's physical lines, with where each opened and closed."""
    out: list[_Quoted] = []
    START, FIELD, QUOTED, QUOTE_IN_QUOTED = 0, 1, 2, 3
    state, field = START, 0
    cur: _Quoted | None = None
    for i, line in enumerate(lines):
        for ch in line:
            if state == START:
                if ch == QUOTE:
                    cur = _Quoted(i, field, None, None)
                    out.append(cur)
                    state = QUOTED
                elif ch == DELIMITER:
                    field += 1
                elif ch in "\r\n":
                    pass
                else:
                    state = FIELD
            elif state == FIELD:
                if ch == DELIMITER:
                    field += 1
                    state = START
                elif ch in "\r\n":
                    state = START
            elif state == QUOTED:
                if ch == QUOTE:
                    state = QUOTE_IN_QUOTED
            else:  # a quote inside a quoted field: escaped quote, or the closing quote
                if ch == QUOTE:
                    state = QUOTED
                elif ch == DELIMITER or ch in "\r\n":
                    assert cur is not None
                    cur.close_idx = i
                    if ch == DELIMITER:
                        field += 1
                    state = START
                else:
                    assert cur is not None
                    cur.close_idx, cur.error = i, ch
                    return out
    if state == QUOTE_IN_QUOTED and cur is not None:
        cur.close_idx = len(lines) - 1
    return out


def _snippet(lines: list[str], q: _Quoted) -> str:
    first = lines[q.open_idx]
    # the text from the opening quote of that field on its line
    pos, field, in_q = 0, 0, False
    for pos, ch in enumerate(first):
        if field == q.field and not in_q and ch == QUOTE:
            break
        if ch == QUOTE:
            in_q = not in_q
        elif ch == DELIMITER and not in_q:
            field += 1
    s = first[pos:].rstrip("\r\n")
    return s if len(s) <= SNIPPET else s[:SNIPPET] + "..."


# ---------------------------------------------------------------------------------------------
# the block parser
# ---------------------------------------------------------------------------------------------
class _Feed:
    """An iterator over physical lines whose position can be set back (to re-read swallowed lines)."""

    __slots__ = ("lines", "pos")

    def __init__(self, lines: list[str]):
        self.lines, self.pos = lines, 0

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> str:
        if self.pos >= len(self.lines):
            raise StopIteration
        self.pos += 1
        return self.lines[self.pos - 1]


@dataclass
class _Bad:
    line: int
    column: str | None
    value: str | None
    expectation: str
    fields: list[str]


class _Parser:
    """Strict record splitter over blocks of physical lines (state: the header and the line count)."""

    def __init__(self, path: Path):
        self.path = path
        self.header: list[str] | None = None
        self.width = 0
        self.next_line = 1  # physical line number of the first line of the next block

    def _colname(self, field: int) -> str:
        if self.header is not None and field < len(self.header):
            return self.header[field]
        return f"field {field + 1}"

    def _first_fields(self, line: str) -> list[str]:
        try:
            return next(csv.reader([line.rstrip("\r\n")]))
        except (csv.Error, StopIteration):
            return []

    def _quote_error(self, lines: list[str], start: int, end: int, message: str
                     ) -> tuple[_Bad, int]:
        """A bad record at ``lines[start:end]``; returns it and the index where parsing resumes."""
        rec = lines[start:end]
        quoted = _quoted_fields(rec)
        open_q = next((q for q in reversed(quoted) if q.close_idx is None or q.error), None)
        if open_q is None:  # not a quoting problem (e.g. NUL byte): the whole record is bad
            line = self.next_line + end - 1
            return _Bad(line, None, None, f"a well-formed CSV record (Python's csv: {message})",
                        self._first_fields(rec[0])), end
        line = self.next_line + start + open_q.open_idx
        if open_q.error is not None:
            close_line = self.next_line + start + (open_q.close_idx or 0)
            what = (f"a closing double quote followed by {DELIMITER!r} or the end of the line (the quoted field "
                    f"opened here is closed on line {close_line} and followed by {open_q.error!r}: an unbalanced "
                    "quote; double a quote inside a quoted field, or remove the stray quote)")
        elif "field limit" in message:
            what = (f"a quoted field of at most {csv.field_size_limit():,} characters (the quote opened here is "
                    "not closed: an unbalanced quote swallows the following lines)")
        else:
            what = ("a closing double quote (the quote opened here is not closed before the end of the "
                    "file: an unbalanced quote swallows the following lines)")
        return (_Bad(line, self._colname(open_q.field), _snippet(rec, open_q), what, self._first_fields(rec[0])),
                start + open_q.open_idx + 1)

    def _span_error(self, rec_lines: list[str], start: int, nfields: int, swallowed: int | None
                    ) -> tuple[_Bad, int]:
        quoted = _quoted_fields(rec_lines)
        span = next((q for q in quoted if q.close_idx is not None and q.close_idx > q.open_idx), None)
        open_idx = span.open_idx if span is not None else 0
        field = span.field if span is not None else 0
        line = self.next_line + start + open_idx
        last = self.next_line + start + len(rec_lines) - 1
        if swallowed is not None:
            what = (f"a quoted field that does not swallow whole records (the quoted field opened here runs to "
                    f"line {last} and swallows line {self.next_line + start + swallowed}, a complete record of "
                    f"{self.width} fields: an unbalanced quote)")
        else:
            what = (f"a quoted field that leaves the record with {self.width} fields as in the header (the quoted "
                    f"field opened here runs to line {last} and the record has {nfields}: an unbalanced quote)")
        snippet = _snippet(rec_lines, span) if span is not None else None
        return _Bad(line, self._colname(field), snippet, what, self._first_fields(rec_lines[0])), start + open_idx + 1

    def _swallowed(self, rec_lines: list[str]) -> int | None:
        """Index of a quote-free continuation line that is by itself a complete record, if any."""
        if self.width < 2:
            return None
        for k in range(1, len(rec_lines)):
            ln = rec_lines[k]
            if QUOTE not in ln and ln.count(DELIMITER) == self.width - 1:
                return k
        return None

    def parse(self, lines: list[str], final: bool) -> tuple[list[list[str]], list[int], list[_Bad], int]:
        """Records, their start lines and the bad records in ``lines``; the number of lines consumed
        (the lines of a record still open at the end of a non-final block are left for the next)."""
        records: list[list[str]] = []
        starts: list[int] = []
        bad: list[_Bad] = []
        feed = _Feed(lines)
        reader = csv.reader(feed, delimiter=DELIMITER, quotechar=QUOTE, doublequote=True, strict=True)
        n = len(lines)
        base = self.next_line
        while True:
            start = feed.pos
            try:
                rec = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                msg = str(exc)
                if not final and feed.pos >= n and "unexpected end of data" in msg:
                    feed.pos = start  # the record continues in the next block
                    break
                b, resume = self._quote_error(lines, start, feed.pos, message=msg)
                bad.append(b)
                feed.pos = resume
                continue
            end = feed.pos
            if not rec or (len(rec) == 1 and rec[0] == ""):
                continue  # a blank line
            if self.header is None:
                self.header = [h.strip() for h in rec]
                self.width = len(self.header)
                continue
            if end - start > 1:
                rec_lines = lines[start:end]
                swallowed = self._swallowed(rec_lines)
                if len(rec) != self.width or swallowed is not None:
                    b, resume = self._span_error(rec_lines, start, len(rec), swallowed)
                    bad.append(b)
                    feed.pos = resume
                    continue
            if len(rec) != self.width:
                bad.append(_Bad(base + start, None, f"{len(rec)} fields", f"{self.width} fields as in the header",
                                rec))
                continue
            records.append(rec)
            starts.append(base + start)
        consumed = feed.pos
        return records, starts, bad, consumed


def _check_header(path: Path, header: list[str]) -> None:
    seen: dict[str, int] = {}
    issues = []
    for i, h in enumerate(header):
        if h and h in seen:
            issues.append(Issue(str(path), 1, h, None,
                                f"each column name once in the header (columns {seen[h] + 1} and {i + 1} are both "
                                f"named {h!r})"))
        seen.setdefault(h, i)
    if issues:
        raise ValidationError(issues, header="duplicated column name(s) in the header")


#: the ASCII characters that Unicode (Arrow's utf8_trim_whitespace) treats as whitespace but ASCII does not
_UNICODE_ONLY_SPACE = ("\x1c", "\x1d", "\x1e", "\x1f")


def _ascii_trim_ok(text: str) -> bool:
    """True when trimming ASCII whitespace equals trimming Unicode whitespace for every cell of ``text``."""
    return text.isascii() and not any(c in text for c in _UNICODE_ONLY_SPACE)


def _edges_plain(arr: pa.Array) -> np.ndarray | None:
    """The cells' lengths when no cell of ``arr`` (a string array without missing cells) begins or ends
    with a byte that could be whitespace (at most 0x20, or any byte of a multi-byte character, so
    Unicode spaces count too): then trimming changes nothing. None otherwise (or for another layout)."""
    if (not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)) or arr.null_count or arr.offset
            or not len(arr)):
        return None
    off_t = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=off_t)[: len(arr) + 1]
    lengths = np.diff(offsets)
    if arr.buffers()[2] is None or offsets[-1] == offsets[0]:
        return lengths
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    # the first and last byte of every cell (an empty cell reads a byte of a neighbouring cell, which is
    # checked anyway: the test can only be stricter); a byte outside 0x21-0x7f makes x - 0x21 >= 0x5f
    first = np.take(data, offsets[:-1], mode="clip")
    last = np.take(data, offsets[1:] - 1, mode="clip")
    if (first - np.uint8(0x21) >= 0x5F).any() or (last - np.uint8(0x21) >= 0x5F).any():
        return None
    return lengths


def _clean(arr: pa.Array, ascii_text: bool = False) -> pa.Array:
    """Strip surrounding whitespace; an empty cell becomes missing (``ascii_text``: the cells are ASCII
    without the separator controls 0x1c-0x1f, so the cheaper ASCII trim gives the same cells). A column
    whose cells all begin and end with a visible ASCII character (the common case) is not trimmed: its
    cells are kept as they are (no copy) and only the empty ones become missing."""
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    lengths = _edges_plain(arr)
    if lengths is not None:
        present = lengths > 0
        n_empty = len(arr) - int(np.count_nonzero(present))
        if n_empty == 0:
            return arr
        validity = pa.py_buffer(np.packbits(present, bitorder="little"))
        return pa.Array.from_buffers(arr.type, len(arr), [validity, *arr.buffers()[1:]], null_count=n_empty)
    arr = pc.ascii_trim_whitespace(arr) if ascii_text else pc.utf8_trim_whitespace(arr)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    present = pc.not_equal(arr, "")
    if arr.null_count == 0 and arr.offset == 0 and present.offset == 0 and present.null_count == 0:
        n_empty = len(arr) - pc.sum(present).as_py() if len(arr) else 0
        if n_empty == 0:
            return arr
        # the empty cells become missing through the validity bitmap alone (no copy of the strings)
        return pa.Array.from_buffers(arr.type, len(arr), [present.buffers()[1], *arr.buffers()[1:]],
                                     null_count=n_empty)
    return pc.if_else(present, arr, pa.scalar(None, arr.type))


def _to_frame(names: list[str], arrays: list, ascii_text: bool = False) -> pd.DataFrame:
    dtype = pd.StringDtype("pyarrow")
    return pd.DataFrame({n: pd.Series(pd.arrays.ArrowStringArray(_clean(a, ascii_text)) if len(a) else [],
                                      dtype=dtype)
                         for n, a in zip(names, arrays)})


def _frame(records: list[list[str]], header: list[str], keep: list[int]) -> pd.DataFrame:
    """String cells (stripped; empty = missing) of the kept columns."""
    cols = list(zip(*records)) if records else [()] * len(header)
    return _to_frame([header[i] for i in keep], [pa.array(cols[i], type=pa.string()) for i in keep])


def _fast_frame(text: str, header: list[str], keep: list[int]) -> pd.DataFrame | None:
    """pyarrow's parser on a block without quotes, blank lines or lone carriage returns, where a record is
    exactly one line (so the frame has a row per line); None when some line has the wrong number of fields
    or the block holds a blank line (the strict parser then names or skips them).

    pyarrow reads a blank line as a record of empty cells, so a blank line is looked for (a search of
    the whole block) only when the first kept column has an empty cell, which every blank line gives."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(len(header))]
    invalid = []

    def handler(row) -> str:
        invalid.append(row)
        return "skip"

    data = text.encode("utf-8")
    table = pacsv.read_csv(
        io.BytesIO(data),
        # one block: a column comes back as one chunk (no copy to combine it); the other core inserts
        read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=len(data) + 1),
        parse_options=pacsv.ParseOptions(delimiter=DELIMITER, quote_char=False, double_quote=False,
                                         ignore_empty_lines=False, invalid_row_handler=handler),
        # the bytes are a str encoded here (decoded strictly when read): valid UTF-8, not checked again
        convert_options=pacsv.ConvertOptions(column_types={n: pa.large_string() for n in names}, check_utf8=False,
                                             strings_can_be_null=False, include_columns=[names[i] for i in keep]))
    if invalid:
        return None
    cols = [table.column(names[i]).combine_chunks() for i in keep]
    first_empty = not cols or bool(pc.any(pc.equal(pc.binary_length(cols[0]), 0)).as_py() or False)
    if first_empty and "\n\n" in text:
        return None
    return _to_frame([header[i] for i in keep], cols, ascii_text=_ascii_trim_ok(text))


def _fast_ok(text: str) -> bool:
    """A block pyarrow may parse (:func:`_fast_frame`): no quote, no lone carriage return, not starting
    with a line end (a blank line inside is found by :func:`_fast_frame`)."""
    if not text or QUOTE in text or text.startswith(("\n", "\r")):
        return False
    return "\r" not in text or ("\n\r\n" not in text and text.count("\r") == text.count("\r\n"))


def _line_count(text: str) -> int:
    return text.count("\n") + (1 if text and not text.endswith("\n") else 0)


def _issues(path: Path, bad: list[_Bad], header: list[str], id_column: str | None) -> tuple[list[Issue], dict]:
    out = [Issue(str(path), b.line, b.column, b.value, b.expectation) for b in bad]
    ids = {}
    if id_column is not None and id_column in header:
        k = header.index(id_column)
        for b in bad:
            if k < len(b.fields) and b.fields[k].strip():
                ids[b.line] = b.fields[k].strip()
    return out, ids


def iter_csv_chunks(path: str | Path, *, encoding: str = "utf-8", columns: Iterable[str] | None = None,
                    skip_rows: RowFilter | None = None, progress: Callable[[int, int], None] | None = None,
                    chunk_rows: int = CHUNK_ROWS, id_column: str | None = None) -> Iterator[RawTable]:
    """Parse a CSV strictly (module docstring) into :class:`RawTable` chunks of about ``chunk_rows`` records.

    Parameters
    ----------
    path : the CSV file.
    encoding : text encoding (a Python codec name); decoding is strict.
    columns : keep only these columns (when present); the full header is kept for the checks.
    skip_rows : optional vectorised filter ``frame -> bool mask`` of records that are not data (HXL
        hashtag rows) or out of scope (other countries); skipped records are not counted as read.
    progress : optional callback ``(bytes_done, bytes_total)``.
    chunk_rows : records per chunk (memory is bounded by the chunk and the block size).
    id_column : the id column, used to name the id of a bad record in its reject.

    Yields at least one chunk (empty for a header-only file). Bad records (wrong field count,
    unbalanced quotes) are in each chunk's ``bad_width`` issues, in file order. Every chunk shares one
    ``digest`` (:class:`forecast.validate.ReadDigest`): the sha256 of the bytes read, complete once the
    last chunk has been taken (the file is hashed in the pass that reads it).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found" if not path.exists() else f"{path}: not a file")
    from pakcast.forecast.validate import SeenIds

    parser = _Parser(path)
    seen = SeenIds()
    digest = ReadDigest()
    wanted = None if columns is None else set(columns)
    keep: list[int] = []
    pieces: list[tuple[pd.DataFrame, np.ndarray, list[_Bad]]] = []
    carry: list[str] = []
    yielded = False

    def pending() -> int:
        return sum(len(p[0]) for p in pieces)

    def emit(n: int | None) -> RawTable:
        """A chunk of the first ``n`` pending records (all when None) and the bad records before the next."""
        assert parser.header is not None
        frame = pd.concat([p[0] for p in pieces], ignore_index=True) if len(pieces) > 1 else pieces[0][0]
        lines = np.concatenate([p[1] for p in pieces]) if len(pieces) > 1 else pieces[0][1]
        bad = [b for p in pieces for b in p[2]]
        pieces.clear()
        if n is not None and n < len(frame):
            limit = int(lines[n])
            rest_bad = [b for b in bad if b.line >= limit]
            bad = [b for b in bad if b.line < limit]
            pieces.append((frame.iloc[n:].reset_index(drop=True), lines[n:], rest_bad))
            frame, lines = frame.iloc[:n].reset_index(drop=True), lines[:n]
        issues, ids = _issues(path, bad, parser.header, id_column)
        if skip_rows is not None and len(frame):
            skip = np.asarray(skip_rows(frame), dtype=bool)
            if skip.any():
                frame = frame[~skip].reset_index(drop=True)
                lines = lines[~skip]
        return RawTable(path=path, frame=frame, lines=lines, header=list(parser.header), bad_width=issues,
                        bad_ids=ids, seen=seen, digest=digest)

    for text, final in _text_blocks(path, encoding, progress, digest):
        if parser.header is None and not carry:
            first = text.find("\n") + 1
            if first and QUOTE not in text[:first]:  # a plain header line: parse it alone, the rest may be fast
                parser.parse([text[:first]], final=False)
                parser.next_line += 1
                text = text[first:]
                if parser.header is not None:
                    _check_header(path, parser.header)
                    keep = [i for i, h in enumerate(parser.header) if wanted is None or h in wanted]
        if parser.header is not None and not carry and _fast_ok(text):
            frame = _fast_frame(text, parser.header, keep)
            if frame is not None:
                n_lines = len(frame) if keep else _line_count(text)  # a row per line
                pieces.append((frame, np.arange(parser.next_line, parser.next_line + n_lines, dtype=np.int64), []))
                parser.next_line += n_lines
                while pending() >= chunk_rows:
                    yield emit(chunk_rows)
                    yielded = True
                continue
        lines = carry + _split_lines(text) if carry else _split_lines(text)
        had_header = parser.header is not None
        recs, sts, bds, consumed = parser.parse(lines, final)
        if not had_header and parser.header is not None:
            _check_header(path, parser.header)
            keep = [i for i, h in enumerate(parser.header) if wanted is None or h in wanted]
        parser.next_line += consumed
        carry = lines[consumed:]
        if parser.header is not None and (recs or bds):
            pieces.append((_frame(recs, parser.header, keep), np.asarray(sts, dtype=np.int64), bds))
        while parser.header is not None and pending() >= chunk_rows:
            yield emit(chunk_rows)
            yielded = True
    if parser.header is None:
        raise ValidationError([Issue(str(path), 1, None, None, "a header line")], header="empty file")
    while pieces or not yielded:
        if not pieces:
            pieces.append((_frame([], parser.header, keep), np.zeros(0, dtype=np.int64), []))
        yield emit(chunk_rows if pending() > chunk_rows else None)
        yielded = True


def read_csv_records(path: str | Path, *, encoding: str = "utf-8", columns: Iterable[str] | None = None,
                     skip_rows: RowFilter | None = None, progress: Callable[[int, int], None] | None = None,
                     id_column: str | None = None) -> RawTable:
    """The whole file as one :class:`RawTable` (small files; large ones: :func:`iter_csv_chunks`)."""
    chunks = list(iter_csv_chunks(path, encoding=encoding, columns=columns, skip_rows=skip_rows,
                                  progress=progress, id_column=id_column))
    if len(chunks) == 1:
        chunks[0].seen = None  # the whole file is in this one table
        return chunks[0]
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    lines = np.concatenate([c.lines for c in chunks])
    issues = [i for c in chunks for i in c.bad_width]
    ids = {k: v for c in chunks for k, v in c.bad_ids.items()}
    return RawTable(path=chunks[0].path, frame=frame, lines=lines, header=chunks[0].header, bad_width=issues,
                    bad_ids=ids, digest=chunks[0].digest)
