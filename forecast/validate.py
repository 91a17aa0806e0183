"""Validation of input files: schemas per source, errors that name file, line, column and expectation.

Every reader in :mod:`forecast.sources` goes through the same three steps:

1. :func:`read_csv_records` (the strict reader of :mod:`forecast.csvread`) decodes the file
   strictly (a wrong encoding is an error naming the line of the first undecodable byte), splits
   it into records with strict quoting (an unbalanced quote is a bad record at the line where the
   quote opened, never a silently swallowed block of rows) and keeps, for every record, the
   **1-based physical line** where it starts (records with quoted line breaks span several
   lines, so record number and line number differ). Cells stay strings; empty cells become
   missing. Records with the wrong number of fields or broken quoting are rejected like bad cells.
2. A :class:`Checker` runs vectorised checks per column (required columns present, integers,
   non-negative counts, real dates, coordinates in range, unique ids, allowed values) and
   collects one :class:`Issue` per failing cell.
3. :meth:`Checker.finish` either raises :class:`ValidationError` listing the issues
   (``on_error="raise"``, the default) or splits the rows into accepted rows and a rejects table
   with one row per rejected record and its reasons (``on_error="report"``). The totals always
   reconcile: ``rows_read == accepted + rejected``.

A missing required column or an undecodable file is a file-level error and raises in both
modes: there is no row to reject.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pakcast.forecast.errors import InputError

OnError = Literal["raise", "report"]
ON_ERROR_OPTIONS = ("raise", "report")

REJECT_COLUMNS = ["source", "file", "line", "event_id", "column", "value", "reason"]
MAX_LISTED = 20
MAX_COUNT = 2**53  # largest integer a float64 holds exactly


@dataclass(frozen=True)
class Issue:
    """One validation failure: where (file, 1-based line, column), what was found, what was expected."""

    file: str
    line: int | None
    column: str | None
    value: str | None
    expectation: str

    def __str__(self) -> str:
        where = f"{self.file}" + (f", line {self.line}" if self.line is not None else "")
        col = f", column {self.column!r}" if self.column else ""
        val = f": found {self.value!r}" if self.value is not None else ""
        return f"{where}{col}{val}; expected {self.expectation}"


class ValidationError(InputError):
    """Raised for invalid input; ``issues`` holds every :class:`Issue` found."""

    def __init__(self, issues: Sequence[Issue], header: str | None = None):
        self.issues = list(issues)
        lines = [str(i) for i in self.issues[:MAX_LISTED]]
        more = len(self.issues) - len(lines)
        head = header or f"{len(self.issues)} validation error(s)"
        msg = head + ":\n  " + "\n  ".join(lines)
        if more > 0:
            msg += f"\n  ... and {more} more (use on_error='report' to collect all rows in a rejects table)"
        super().__init__(msg)


@dataclass
class RawTable:
    """A parsed CSV: string cells (missing = NA), the physical start line of each record, the header."""

    path: Path
    frame: pd.DataFrame
    lines: np.ndarray
    header: list[str]
    bad_width: list[Issue] = field(default_factory=list)
    bad_ids: dict[int, str] = field(default_factory=dict)
    seen: SeenIds | None = None
    digest: ReadDigest | None = None

    @property
    def n_read(self) -> int:
        return len(self.frame) + len(self.bad_width)


def read_csv_records(path: str | Path, *, encoding: str = "utf-8", columns: Iterable[str] | None = None,
                     skip_rows: Callable[[pd.DataFrame], np.ndarray] | None = None,
                     progress: Callable[[int, int], None] | None = None, id_column: str | None = None) -> RawTable:
    """Parse a CSV strictly into string cells with each record's physical start line.

    The reader is :func:`forecast.csvread.read_csv_records` (the quoting rule and the handling of
    unbalanced quotes are documented there); large files are read in chunks with
    :func:`forecast.csvread.iter_csv_chunks`.
    """
    from pakcast.forecast.csvread import read_csv_records as _read

    return _read(path, encoding=encoding, columns=columns, skip_rows=skip_rows, progress=progress,
                 id_column=id_column)


class ReadDigest:
    """The sha256 of a file's bytes, computed in the pass that reads them (no second read of the file).

    Shared by every chunk of one read; :attr:`hexdigest` is None until the last byte has been read."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self.bytes = 0
        self.hexdigest: str | None = None

    def update(self, data: bytes) -> None:
        self._h.update(data)
        self.bytes += len(data)

    def finish(self) -> None:
        self.hexdigest = self._h.hexdigest()


class SeenIds:
    """Ids of the earlier chunks of one file, for the unique-id check across chunks.

    Holds two hashes of each id (DuckDB's 64-bit ``hash`` of the id, and 32 bits of the hash of the id
    with a key appended) and its line (16 bytes an id, whatever its length), in sorted runs merged like
    a log-structured tree up to :attr:`MAX_RUN` ids a run (a merge places the smaller run into the
    larger by binary search, no sort of the whole), so memory stays a small fraction of the file and a
    lookup is a binary search per run. Two distinct ids are taken for one only if both hashes agree
    (probability about :math:`n^2 / 2^{97}`: below 1e-15 for 12 million ids). The hashes are computed
    by DuckDB over the Arrow strings (vectorised C++, no Python string per id).
    """

    _KEY = "\x1fpakcast-ids-0002"
    #: ids in one run at most (64 MiB): a merge never copies more, so memory peaks at the ids plus that
    MAX_RUN = 1 << 22

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._con = None

    def _hash(self, ids: pd.Series | pa.Array) -> tuple[np.ndarray, np.ndarray]:
        arr = ids if isinstance(ids, (pa.Array, pa.ChunkedArray)) else arrow_strings(ids)
        if not len(arr):
            return np.zeros(0, np.uint64), np.zeros(0, np.uint32)
        if self._con is None:
            import duckdb

            self._con = duckdb.connect(config={"threads": 1, "autoload_known_extensions": False,
                                               "autoinstall_known_extensions": False})
        tbl = pa.table({"v": pc.fill_null(arr, "")})  # noqa: F841 (scanned by name by DuckDB)
        key = self._KEY.replace("'", "''")
        out = self._con.sql(f"SELECT hash(v) AS h1, hash(v || '{key}') AS h2 FROM tbl").to_arrow_table()
        h1 = out.column("h1").to_numpy().astype(np.uint64, copy=False)
        h2 = out.column("h2").to_numpy().astype(np.uint32)
        return h1, h2

    def hashes(self, ids: pd.Series | pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """The two hashes of each id (for :meth:`lookup` and :meth:`add` without hashing twice)."""
        return self._hash(ids)

    def lookup(self, ids: pd.Series | tuple[np.ndarray, np.ndarray], *, presorted: bool = False) -> np.ndarray:
        """The line of each id's earlier occurrence, or -1 (``ids``: the ids or their :meth:`hashes`;
        ``presorted``: the hashes are sorted by the first already)."""
        h1, h2 = ids if isinstance(ids, tuple) else self._hash(ids)
        out = np.full(len(h1), -1, dtype=np.int64)
        if not self._runs:
            return out
        # sorted queries: the binary searches walk each run in order (cache-friendly)
        order = np.arange(len(h1)) if presorted else np.argsort(h1)
        h1, h2 = (h1, h2) if presorted else (h1[order], h2[order])
        found = np.full(len(h1), -1, dtype=np.int64)
        for r1, r2, rl in self._runs:
            lo = np.searchsorted(r1, h1, side="left")
            # only ids whose first hash was seen (repeats: rare) need the end of their equal range
            cand = np.flatnonzero(r1[np.minimum(lo, len(r1) - 1)] == h1)
            for k in cand:
                hi = int(np.searchsorted(r1, h1[k], side="right"))
                m = np.flatnonzero(r2[lo[k]:hi] == h2[k])
                if len(m) and found[k] < 0:
                    found[k] = int(rl[lo[k] + m[0]])
        out[order] = found
        return out

    def add(self, ids: pd.Series | tuple[np.ndarray, np.ndarray], lines: np.ndarray, *,
            presorted: bool = False) -> None:
        h1, h2 = ids if isinstance(ids, tuple) else self._hash(ids)
        if not len(h1):
            return
        if presorted:
            run = (h1, h2, np.asarray(lines, dtype=np.int32))
        else:
            order = np.argsort(h1, kind="stable")
            run = (h1[order], h2[order], np.asarray(lines, dtype=np.int32)[order])
        self._runs.append(run)
        while (len(self._runs) > 1 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0])
               and len(self._runs[-2][0]) + len(self._runs[-1][0]) <= self.MAX_RUN):
            b, a = self._runs.pop(), self._runs.pop()
            self._runs.append(_merge_runs(a, b))


def _merge_runs(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """Two sorted runs of :class:`SeenIds` as one (``a`` the earlier: it comes first among equal keys)."""
    n = len(a[0]) + len(b[0])
    at_b = np.searchsorted(a[0], b[0], side="right") + np.arange(len(b[0]))
    from_a = np.ones(n, dtype=bool)
    from_a[at_b] = False
    out = []
    for x, y in zip(a, b):
        z = np.empty(n, dtype=x.dtype)
        z[at_b] = y
        z[from_a] = x
        out.append(z)
    return tuple(out)


def arrow_strings(s: pd.Series) -> pa.Array:
    """The cells of a string column as one pyarrow string array (zero-copy for Arrow-backed columns)."""
    if not isinstance(s.array, pd.arrays.ArrowStringArray):
        s = s.astype(pd.StringDtype("pyarrow"))
    arr = pa.array(s.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def to_float(s: pd.Series) -> pd.Series:
    """Cells as float64, NaN where empty or not a number (as ``pd.to_numeric(errors="coerce")``).

    A column of Arrow strings whose every cell is a number is converted by pyarrow's cast (one pass
    in C++, the common case of a large clean file); any other column by pandas, cell by cell."""
    arr = s.array
    if isinstance(arr, pd.arrays.ArrowStringArray):
        try:
            num = pc.cast(arrow_strings(s), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        else:
            return pd.Series(num.to_numpy(zero_copy_only=False), index=s.index, dtype="float64")
    return pd.to_numeric(s, errors="coerce").astype("float64")


#: the dates (days since 1970-01-01) the fast path converts; outside them the cell-by-cell path decides
_NS_SAFE = ((_dt.date(1678, 1, 1) - _dt.date(1970, 1, 1)).days, (_dt.date(2261, 12, 31) - _dt.date(1970, 1, 1)).days)


def _iso_dates(s: pd.Series) -> np.ndarray | None:
    """The cells as ``datetime64[D]`` (NaT where empty) when every present cell is exactly a real
    calendar date ``YYYY-MM-DD`` (the common case: one strict cast in Arrow); None otherwise, so the
    caller checks the cells one by one."""
    if not isinstance(s.array, pd.arrays.ArrowStringArray):
        return None
    arr = arrow_strings(s)
    if arr.null_count == len(arr):
        return None
    lengths = pc.min_max(pc.binary_length(arr))
    if lengths["min"].as_py() != 10 or lengths["max"].as_py() != 10:
        return None
    try:  # strict: a malformed or impossible date (2015-02-30) fails the whole cast
        d = pc.cast(arr, pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    days = pc.min_max(d.cast(pa.int32()))  # days since 1970 (a year-0 date is no Python date)
    if days["min"].as_py() < _NS_SAFE[0] or days["max"].as_py() > _NS_SAFE[1]:
        return None  # beyond what datetime64[ns] holds: the cell-by-cell path names them
    return d.to_numpy(zero_copy_only=False).astype("datetime64[D]")


def _plain_integers(s: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """``(int64 values, missing mask)`` when every present cell is an integer of at most 2**53 in absolute
    value that Arrow's strict cast reads (the common case); None otherwise (checked cell by cell)."""
    if not isinstance(s.array, pd.arrays.ArrowStringArray):
        return None
    arr = arrow_strings(s)
    try:
        iv = pc.cast(arr, pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if iv.null_count < len(iv):
        mm = pc.min_max(iv)
        if max(abs(mm["min"].as_py()), abs(mm["max"].as_py())) > MAX_COUNT:
            return None
    missing = np.asarray(pc.is_null(iv).to_numpy(zero_copy_only=False), dtype=bool)
    vals = pc.fill_null(iv, 0).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return vals, missing


def _exact_integer(cell: object) -> int | None:
    """The cell's exact integer value (read as a decimal, never through a float); None when it is
    not a whole number."""
    try:
        d = Decimal(str(cell).strip())
    except InvalidOperation:
        return None
    if not d.is_finite() or d != d.to_integral_value():
        return None
    return int(d)


#: what a count cell must be beyond the float-exact range (the one wording, ingest and series readers)
COUNT_LIMIT = f"an integer of at most {MAX_COUNT:,} in absolute value"


@dataclass
class IntegerCells:
    """A column's cells read as exact integers (:func:`integer_cells`)."""

    #: the exact value of each integer cell within :data:`MAX_COUNT` (``Int64``; missing elsewhere)
    values: pd.Series
    #: present cells that are not whole numbers
    not_integer: np.ndarray
    #: present whole numbers beyond :data:`MAX_COUNT` in absolute value (no float holds every one exactly)
    too_large: np.ndarray


def integer_cells(s: pd.Series) -> IntegerCells:
    """The cells of a text column as exact integers, never rounded through a float: the one reading of
    integer cells (the readers' counts, :meth:`Checker.integer`; the series of ``pakcast its/breaks
    --csv``, :func:`forecast.studies.load_series`).

    A clean column (every present cell a plain integer Arrow casts, within :data:`MAX_COUNT`) is one
    ``int64`` cast; any other column is read cell by cell: through a float, and from 2**52 on (where a
    float's spacing is 1 or more, so the parse may have rounded: 9007199254740993 reads as
    9007199254740992, 4503599627370496.5 as an integer) again exactly, as decimals."""
    fast = _plain_integers(s)
    if fast is not None:
        vals, missing = fast
        z = np.zeros(len(s), dtype=bool)
        return IntegerCells(pd.Series(pd.arrays.IntegerArray(vals, missing), index=s.index), z, z.copy())
    num = to_float(s)
    present = s.notna()
    finite = np.isfinite(num.to_numpy(dtype=float, na_value=np.nan))
    bad = present & (num.isna() | ~finite | (num != np.round(num)))
    inexact = np.flatnonzero(present & ~bad & (num.abs() >= 2**52))
    huge = pd.Series(False, index=s.index)
    for i in inexact:
        exact = _exact_integer(s.iloc[i])
        if exact is None:
            bad.iloc[i] = True
        elif abs(exact) > MAX_COUNT:
            huge.iloc[i] = True
    huge |= present & ~bad & (num.abs() > MAX_COUNT)
    values = num.where(~(bad | huge)).astype("Float64").round().astype("Int64")
    return IntegerCells(values, bad.to_numpy(dtype=bool), huge.to_numpy(dtype=bool))


def first_occurrence(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, first)``: a code per distinct value (-1 for missing) and the position of each row's
    value's first occurrence (hash-encoded by pyarrow, no Python per row)."""
    enc = pc.dictionary_encode(arrow_strings(s))
    codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(enc.dictionary) == len(codes):  # every value distinct and present (ids, the common case): no sort
        return codes, np.arange(len(codes))
    uniq, first_pos, inverse = np.unique(codes, return_index=True, return_inverse=True)
    return codes, first_pos[inverse]


def require_columns(raw: RawTable, columns: Iterable[str], what: str = "") -> None:
    """File-level check: every required column is in the header (raises in both error modes)."""
    missing = [c for c in columns if c not in raw.header]
    if missing:
        raise ValidationError(
            [Issue(str(raw.path), 1, c, None, f"a column named {c!r} in the header{what}") for c in missing],
            header=f"missing required column(s) {', '.join(missing)}",
        )


class Checker:
    """Collects cell-level issues on a :class:`RawTable` with vectorised checks."""

    def __init__(self, raw: RawTable, source: str, id_column: str | None = None):
        self.raw = raw
        self.source = source
        self.id_column = id_column
        self.frame = raw.frame
        self._rows: list[np.ndarray] = []
        self._cols: list[str] = []
        self._vals: list[pd.Series] = []
        self._exp: list[str | list[str]] = []

    # -- recording -------------------------------------------------------------------------
    def flag(self, mask: pd.Series | np.ndarray, column: str, expectation: str,
             values: pd.Series | None = None) -> None:
        """Record an issue for every row where ``mask`` is true."""
        m = np.asarray(mask, dtype=bool)
        if not m.any():
            return
        idx = np.flatnonzero(m)
        if values is not None:
            vals = values
        elif column in self.frame:
            vals = self.frame[column]
        else:
            vals = None
        self._rows.append(idx)
        self._cols.append(column)
        self._vals.append(vals.iloc[idx].astype("string") if vals is not None else pd.Series([pd.NA] * len(idx), dtype="string"))
        self._exp.append(expectation)

    # -- checks ----------------------------------------------------------------------------
    def required(self, column: str) -> None:
        self.flag(self.frame[column].isna(), column, "a value (the cell is empty)")

    def integer(self, column: str, *, required: bool = True, minimum: float | None = 0,
                allow: Sequence[int] = ()) -> pd.Series:
        """Parse integers; flag non-integers, values below ``minimum`` (unless in ``allow``) and empties."""
        s = self.frame[column]
        cells = integer_cells(s)
        self.flag(cells.not_integer, column, "an integer")
        self.flag(cells.too_large, column, COUNT_LIMIT)
        present = s.notna().to_numpy(dtype=bool)
        ok = present & ~cells.not_integer & ~cells.too_large
        if minimum is not None:
            vals = cells.values.to_numpy(dtype=np.int64, na_value=0)
            low = ok & (vals < minimum)
            if len(allow):
                low &= ~np.isin(vals, list(allow))
            self.flag(low, column, f"an integer >= {minimum:g} (counts cannot be negative)"
                      if minimum == 0 else f"an integer >= {minimum:g}")
        if required:
            self.required(column)
        return cells.values

    def number(self, column: str, *, required: bool = False, lo: float | None = None,
               hi: float | None = None) -> pd.Series:
        s = self.frame[column]
        num = to_float(s)
        present = s.notna()
        bad = present & num.isna()
        self.flag(bad, column, "a number")
        if lo is not None or hi is not None:
            lo_ = -np.inf if lo is None else lo
            hi_ = np.inf if hi is None else hi
            out = present & ~bad & ((num < lo_) | (num > hi_))
            self.flag(out, column, f"a number in [{lo_:g}, {hi_:g}]")
            num = num.where(~out)
        if required:
            self.required(column)
        return num.where(~bad).astype("float64")

    def date(self, column: str, *, fmt: str | None = None, required: bool = True,
             lo: str = "1900-01-01", hi: str | None = None) -> pd.Series:
        """Parse dates (``fmt`` or ISO ``YYYY-MM-DD[ HH:MM:SS[.fff]]``); flag impossible dates."""
        s = self.frame[column]
        hi_ts = pd.Timestamp(hi) if hi else pd.Timestamp.today().normalize() + pd.Timedelta(days=1)
        if fmt is None:
            fast = _iso_dates(s)
            if fast is not None:  # every cell empty or a real YYYY-MM-DD date: checked in Arrow
                present = s.notna().to_numpy()
                out = present & ((fast < np.datetime64(pd.Timestamp(lo).date(), "D")) |
                                 (fast > np.datetime64(hi_ts.date(), "D")))
                self.flag(out, column, f"a date between {lo} and {hi_ts.date()}")
                if required:
                    self.required(column)
                d = fast.astype("datetime64[ns]")
                if out.any():
                    d[out] = np.datetime64("NaT")
                return pd.Series(d, index=s.index)
            shape_ok = s.str.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?").fillna(False)
            d = pd.to_datetime(s.str.slice(0, 10).where(shape_ok), format="%Y-%m-%d", errors="coerce")
            expect = "a real calendar date YYYY-MM-DD"
        else:
            d = pd.to_datetime(s, format=fmt, errors="coerce")
            expect = f"a real calendar date in format {fmt}"
        present = s.notna()
        bad = present & d.isna()
        self.flag(bad, column, expect)
        out = present & ~bad & ((d < pd.Timestamp(lo)) | (d > hi_ts))
        self.flag(out, column, f"a date between {lo} and {hi_ts.date()}")
        if required:
            self.required(column)
        return d.where(~(bad | out)).astype("datetime64[ns]")

    def one_of(self, column: str, allowed: Iterable[str], *, required: bool = True) -> None:
        allowed = list(allowed)
        s = self.frame[column]
        bad = s.notna() & ~s.isin(allowed)
        self.flag(bad, column, f"one of {allowed}")
        if required:
            self.required(column)

    def unique(self, column: str) -> None:
        """Flag every repeat of a value after its first occurrence, naming the line of the first.

        For a file read in chunks, ``raw.seen`` (:class:`SeenIds`) holds the ids of earlier chunks: the
        chunk's ids are hashed once and sorted once; that order finds the candidates for repeats within
        the chunk (confirmed exactly, :func:`first_occurrence`) and serves the look-up and the run added."""
        s = self.frame[column]
        seen = self.raw.seen
        lines_all = np.asarray(self.raw.lines, dtype=np.int64)
        if seen is None:
            codes, first = first_occurrence(s)
            present = codes >= 0
            dup = present & (first != np.arange(len(s)))
            first_line = lines_all[first] if len(s) else np.zeros(0, np.int64)
        else:
            arr = arrow_strings(s)
            present = ~np.asarray(pc.is_null(arr).to_numpy(zero_copy_only=False), dtype=bool)
            pos = np.flatnonzero(present)
            h1, h2 = seen.hashes(arr if len(pos) == len(arr) else arr.take(pa.array(pos)))
            order = np.argsort(h1)  # equal first hashes (repeats: rare) need the stable order: file order
            if len(order) > 1 and bool((h1[order[1:]] == h1[order[:-1]]).any()):
                order = np.argsort(h1, kind="stable")
            s1, s2, sl = h1[order], h2[order], lines_all[pos][order]
            dup = np.zeros(len(s), dtype=bool)
            first_line = lines_all.copy()
            if len(s1) > 1 and bool(((s1[1:] == s1[:-1]) & (s2[1:] == s2[:-1])).any()):
                codes, first = first_occurrence(s)  # some id may repeat within the chunk: exactly
                dup = present & (first != np.arange(len(s)))
                first_line = lines_all[first]
            at = seen.lookup((s1, s2), presorted=True)
            hit = at >= 0
            rows = pos[order]
            dup[rows[hit]] = True
            first_line[rows[hit]] = at[hit]
            new = ~dup[rows] & ~hit
            seen.add((s1[new], s2[new]), sl[new], presorted=True)
        if not dup.any():
            return
        idx = np.flatnonzero(dup)
        self._rows.append(idx)
        self._cols.append(column)
        self._vals.append(s.iloc[idx].astype("string"))
        self._exp.append([f"a unique id (this id is already on line {int(v)})" for v in first_line[idx]])

    def order(self, lo_col: str, lo: pd.Series, hi_col: str, hi: pd.Series, what: str) -> None:
        bad = (lo.notna() & hi.notna() & (lo > hi)).to_numpy(dtype=bool)
        if not bad.any():
            return
        # the values shown: the cells of the column, or the derived values (of the flagged rows only)
        vals = self.frame[hi_col] if hi_col in self.frame else hi.where(pd.Series(bad, index=hi.index)).astype("string")
        self.flag(bad, hi_col, f"{hi_col} >= {lo_col} ({what})", values=vals)

    # -- result ----------------------------------------------------------------------------
    def issues(self) -> list[Issue]:
        out: list[Issue] = list(self.raw.bad_width)
        path = str(self.raw.path)
        for rows, col, vals, exp in zip(self._rows, self._cols, self._vals, self._exp):
            for k, (r, v) in enumerate(zip(rows, vals.tolist())):
                e = exp[k] if isinstance(exp, list) else exp
                out.append(Issue(path, int(self.raw.lines[r]), col, None if pd.isna(v) else str(v), e))
        pos = {c: k for k, c in enumerate(self.raw.header)}
        out.sort(key=lambda i: (i.line or 0, pos.get(i.column or "", -1)))
        return out

    def bad_rows(self) -> np.ndarray:
        n = len(self.frame)
        mask = np.zeros(n, dtype=bool)
        for rows in self._rows:
            mask[rows] = True
        return mask

    def finish(self, on_error: OnError = "raise") -> tuple[np.ndarray, pd.DataFrame]:
        """``(accepted_mask, rejects)``; raises :class:`ValidationError` when ``on_error="raise"``."""
        if on_error not in ON_ERROR_OPTIONS:
            raise ValueError(f"on_error must be one of {ON_ERROR_OPTIONS}, got {on_error!r}")
        issues = self.issues()
        if issues and on_error == "raise":
            raise ValidationError(issues, header=f"{len(issues)} validation error(s) in {self.raw.path}")
        bad = self.bad_rows()
        return ~bad, self.rejects(issues)

    def rejects(self, issues: list[Issue] | None = None) -> pd.DataFrame:
        """One row per rejected record (all its issues joined), in file order."""
        issues = self.issues() if issues is None else issues
        if not issues:
            return empty_rejects()
        line_to_id: dict[int, str] = {}
        if self.id_column and self.id_column in self.frame:
            wanted = np.array(sorted({i.line for i in issues if i.line is not None}), dtype=np.int64)
            pos = np.flatnonzero(np.isin(self.raw.lines, wanted))
            ids = self.frame[self.id_column].iloc[pos].astype("string")
            line_to_id = {int(ln): (None if pd.isna(v) else str(v)) for ln, v in zip(self.raw.lines[pos], ids)}
        line_to_id.update(self.raw.bad_ids)
        recs: dict[int, dict] = {}
        for i in issues:
            r = recs.setdefault(i.line or 0, {"source": self.source, "file": i.file, "line": i.line,
                                              "event_id": line_to_id.get(i.line or -1),
                                              "column": [], "value": [], "reason": []})
            r["column"].append(i.column or "")
            r["value"].append("" if i.value is None else i.value)
            r["reason"].append(f"{i.column}: expected {i.expectation}" if i.column else f"expected {i.expectation}")
        rows = [{**r, "column": "; ".join(r["column"]), "value": "; ".join(r["value"]),
                 "reason": "; ".join(r["reason"])} for _, r in sorted(recs.items())]
        df = pd.DataFrame(rows, columns=REJECT_COLUMNS)
        df["line"] = df["line"].astype("Int64")
        return df


#: a row filter keeps the runs between dropped rows as zero-copy slices of Arrow columns up to this many runs
MAX_SLICES = 64


def keep_rows(df: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The rows of ``df`` where ``keep`` is true, with a fresh ``RangeIndex``.

    When few rows are dropped (the rejects of a large clean file), the Arrow-backed text columns keep
    the runs between them as zero-copy slices instead of copying every string (a take)."""
    keep = np.asarray(keep, dtype=bool)
    if keep.all():
        return df.reset_index(drop=True)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], keep, [False])).astype(np.int8)))
    runs = list(zip(edges[::2].tolist(), edges[1::2].tolist()))  # [start, stop) of each kept run
    if len(runs) > MAX_SLICES:
        return df[keep].reset_index(drop=True)
    cols = {}
    for c in df.columns:
        s = df[c]
        if isinstance(s.array, pd.arrays.ArrowStringArray):
            arr = pa.array(s.array)
            arr = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
            parts = [arr.slice(a, b - a) for a, b in runs]
            chunks = [ch for p in parts for ch in p.chunks] or [pa.array([], arr.type)]
            cols[c] = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, arr.type)), dtype=s.dtype)
        else:
            cols[c] = s[keep].reset_index(drop=True)
    return pd.DataFrame(cols)


def empty_rejects() -> pd.DataFrame:
    """An empty rejects table with the right columns."""
    df = pd.DataFrame({c: pd.Series([], dtype="string") for c in REJECT_COLUMNS})
    df["line"] = df["line"].astype("Int64")
    return df


# ---------------------------------------------------------------------------------------------
# The canonical event table
# ---------------------------------------------------------------------------------------------
EVENT_COLUMNS = [
    "source", "event_id", "date", "date_end", "date_precision", "province", "district", "latitude",
    "longitude", "killed", "killed_low", "killed_high", "injured", "event_type", "actor", "scope",
    "province_method", "type_of_violence", "conflict_name",
]
DATE_PRECISIONS = ("day", "week", "month", "year")
SCOPES = ("militant", "foreign", "interstate", "other")
PROVINCE_METHODS = ("source", "point_in_polygon", "unassigned")


def canonical_frame(data: dict[str, object], n: int) -> pd.DataFrame:
    """Build a canonical event table with the documented dtypes (missing columns become NA)."""
    out = {}
    for c in EVENT_COLUMNS:
        v = data.get(c, pd.NA)
        out[c] = v if isinstance(v, (pd.Series, pd.Index, np.ndarray, list)) else _constant(c, v, n)
    df = pd.DataFrame(out)
    return coerce_events(df)


_STRING_COLUMNS = ("source", "event_id", "date_precision", "province", "district", "event_type", "actor",
                   "scope", "province_method", "conflict_name")


def _constant(column: str, value: object, n: int) -> pd.Series | list:
    """A column of ``n`` copies of one value, built by pyarrow for text (no list of ``n`` objects)."""
    if column in _STRING_COLUMNS and (isinstance(value, str) or value is pd.NA or value is None):
        one = pa.array([None if value is pd.NA else value], pa.string())
        return pd.Series(pd.arrays.ArrowStringArray(pc.take(one, pa.array(np.zeros(n, np.int32)))),
                         dtype=pd.StringDtype("pyarrow"))
    if column in _INT_COLUMNS and (value is pd.NA or value is None):
        return pd.Series(pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, dtype=bool)))
    if column in _FLOAT_COLUMNS and (value is pd.NA or value is None):
        return pd.Series(np.full(n, np.nan))
    if column in _DATE_COLUMNS and (value is pd.NA or value is None):
        return pd.Series(np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    return [value] * n


_STRING_DTYPE = pd.StringDtype()
_DATE_COLUMNS = ("date", "date_end")
_FLOAT_COLUMNS = ("latitude", "longitude")
_INT_COLUMNS = ("killed", "killed_low", "killed_high", "injured", "type_of_violence")


def _coerce_column(c: str, s: pd.Series) -> pd.Series:
    """One column in its canonical dtype (as is when it has it already: no copy)."""
    if c in _STRING_COLUMNS:
        return s if s.dtype == _STRING_DTYPE else s.astype("string")
    if c in _DATE_COLUMNS:
        return s if s.dtype == "datetime64[ns]" else pd.to_datetime(s).astype("datetime64[ns]")
    if c in _FLOAT_COLUMNS:
        return s if s.dtype == "float64" else pd.to_numeric(s).astype("float64")
    if c in _INT_COLUMNS:
        return s if s.dtype == "Int64" else pd.to_numeric(s).astype("Int64")
    return s


def coerce_events(df: pd.DataFrame) -> pd.DataFrame:
    """Cast an event table to the canonical dtypes and column order (a new frame; columns that have
    their dtype already are shared, copy-on-write)."""
    cols = {c: _coerce_column(c, df[c] if c in df else pd.Series(pd.NA, index=df.index))
            for c in EVENT_COLUMNS}
    return pd.DataFrame(cols, index=df.index).reset_index(drop=True)


def check_events(events: pd.DataFrame, name: str = "events", *, ids_checked: bool = False) -> None:
    """Assert the invariants of a canonical event table (raises ``ValueError`` naming the rows).

    ``ids_checked``: the reader has rejected every repeated id of this one-source table already
    (:meth:`Checker.unique`), so the ids are not hashed again."""
    problems = []
    missing = [c for c in EVENT_COLUMNS if c not in events]
    if missing:
        raise ValueError(f"{name}: missing canonical columns {missing}")
    src = events["source"]
    if ids_checked:
        dup = pd.Series(False, index=events.index)
    elif len(events) and bool((src == src.iloc[0]).all()):  # one source (the readers): ids alone, hash-encoded
        dup = pd.Series(first_occurrence(events["event_id"])[1] != np.arange(len(events)), index=events.index)
    else:
        dup = events.duplicated(["source", "event_id"], keep=False)
    if dup.any():
        problems.append(f"duplicated (source, event_id): {events.loc[dup, 'event_id'].head(5).tolist()}")
    if events["date"].isna().any():
        problems.append(f"{int(events['date'].isna().sum())} events without a date")
    bad_prec = ~events["date_precision"].isin(DATE_PRECISIONS)
    if bad_prec.any():
        problems.append(f"date_precision outside {DATE_PRECISIONS}: {events.loc[bad_prec, 'date_precision'].unique()[:5].tolist()}")
    for c in ("killed", "killed_low", "killed_high", "injured"):
        neg = events[c].fillna(0) < 0
        if neg.any():
            problems.append(f"negative {c} in {int(neg.sum())} rows")
    if (events["date_end"] < events["date"]).any():
        problems.append("date_end before date")
    if problems:
        raise ValueError(f"{name}: " + "; ".join(problems))
