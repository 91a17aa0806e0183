"""Generic event CSV: the documented schema for any other event source.

One row per event, UTF-8 (or pass ``encoding``), comma-separated, header on the first line.

=================  ========  ==============================================================
column             required  meaning
=================  ========  ==============================================================
``event_id``       yes       unique id of the event within the file (any text)
``date``           yes       ``YYYY-MM-DD``: the event's date, or the first day it could be
``killed``         yes       deaths, best estimate (integer >= 0; empty = unknown)
``date_end``       no        ``YYYY-MM-DD`` last possible date (default: from the precision)
``date_precision`` no        ``day``, ``week``, ``month`` or ``year``; ``week``, ``month`` and
                             ``year`` widen a missing ``date_end`` (to +6 days, the month end, the
                             year end); when empty it follows the width of ``date_end`` - ``date``
                             (0 days: day, up to 6: week, up to 30: month, else year), or is ``day``
``province``       no        any spelling known to :mod:`forecast.provinces`
``district``       no        text
``latitude``       no        WGS84 degrees (used for point in polygon when ``province`` is empty)
``longitude``      no        WGS84 degrees
``killed_low``     no        integer >= 0 (default ``killed``)
``killed_high``    no        integer >= 0 (default ``killed``)
``injured``        no        integer >= 0 (empty = unknown)
``event_type``     no        text
``actor``          no        text (the ``--actor`` filter matches it)
``scope``          no        ``militant`` (default), ``foreign``, ``interstate`` or ``other``
=================  ========  ==============================================================

Every event gets ``source = "csv"`` (or the ``source_name`` given to :func:`read_generic`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from pakcast.forecast.csvread import CHUNK_ROWS, iter_csv_chunks
from pakcast.forecast.sources._common import resolve_provinces, span_precision
from pakcast.forecast.sources.base import ReadResult, merge_results
from pakcast.forecast.validate import (
    DATE_PRECISIONS,
    SCOPES,
    Checker,
    OnError,
    canonical_frame,
    keep_rows,
    require_columns,
)

SOURCE = "csv"
REQUIRED = ["event_id", "date", "killed"]
OPTIONAL = ["date_end", "date_precision", "province", "district", "latitude", "longitude", "killed_low",
            "killed_high", "injured", "event_type", "actor", "scope"]


def read_generic(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8",
                 source_name: str = SOURCE, progress: Callable[[int, int], None] | None = None) -> ReadResult:
    """Read a CSV in the generic schema (module docstring) into the canonical event table."""
    return merge_results(Path(path), source_name, iter_generic(path, on_error=on_error, encoding=encoding, source_name=source_name, progress=progress))


def iter_generic(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8",
                 source_name: str = SOURCE, progress: Callable[[int, int], None] | None = None, chunk_rows: int = CHUNK_ROWS) -> Iterator[ReadResult]:
    """The file chunk by chunk (one :class:`ReadResult` each; ids are unique across chunks)."""

    path = Path(path)
    for raw in iter_csv_chunks(path, encoding=encoding, progress=progress,
                           columns=REQUIRED + OPTIONAL, id_column="event_id", chunk_rows=chunk_rows):
        yield _convert(raw, on_error, source_name=source_name)


def _convert(raw, on_error: OnError, source_name: str = SOURCE) -> ReadResult:
    """Canonical events and rejects of one chunk (:class:`forecast.validate.RawTable`)."""
    path = raw.path
    require_columns(raw, REQUIRED, " (generic event CSV schema)")
    f = raw.frame
    has = lambda c: c in f.columns
    na = pd.Series(pd.NA, index=f.index, dtype="string")
    ck = Checker(raw, source_name, id_column="event_id")
    ck.required("event_id")
    ck.unique("event_id")
    d0 = ck.date("date")
    given_prec = f["date_precision"] if has("date_precision") else pd.Series(pd.NA, index=f.index, dtype="string")
    prec = given_prec.fillna("day").astype("string")
    if has("date_precision"):
        ck.one_of("date_precision", DATE_PRECISIONS, required=False)
    if has("date_end"):
        d1 = ck.date("date_end", required=False)
    else:
        d1 = pd.Series(pd.NaT, index=f.index, dtype="datetime64[ns]")
    default_end = d0.copy()
    wk, mo, yr = (prec == "week").to_numpy(), (prec == "month").to_numpy(), (prec == "year").to_numpy()
    if wk.any():
        default_end[wk] = d0[wk] + pd.Timedelta(days=6)
    if mo.any():
        default_end[mo] = d0[mo].dt.to_period("M").dt.end_time.dt.normalize()
    if yr.any():
        default_end[yr] = d0[yr].dt.to_period("Y").dt.end_time.dt.normalize()
    # a date_end without a stated precision: the precision follows the width of the interval
    implied_at = given_prec.isna().to_numpy() & d1.notna().to_numpy()
    if implied_at.any():
        prec = prec.mask(implied_at, span_precision(d0, d1))
    d1 = d1.fillna(default_end).astype("datetime64[ns]") if d1.isna().any() else d1
    ck.order("date", d0, "date_end", d1, "an event cannot end before it starts")
    killed = ck.integer("killed", required=False)
    low = ck.integer("killed_low", required=False).fillna(killed) if has("killed_low") else killed
    high = ck.integer("killed_high", required=False).fillna(killed) if has("killed_high") else killed
    injured = ck.integer("injured", required=False) if has("injured") else pd.Series(pd.NA, index=f.index,
                                                                                      dtype="Int64")
    if has("scope"):
        ck.one_of("scope", SCOPES, required=False)
        scope = f["scope"].fillna("militant").astype("string")
    else:
        scope = pd.Series("militant", index=f.index, dtype="string")
    lat = ck.number("latitude", lo=-90, hi=90) if has("latitude") else pd.Series(np.nan, index=f.index)
    lon = ck.number("longitude", lo=-180, hi=180) if has("longitude") else pd.Series(np.nan, index=f.index)
    prov, method = resolve_provinces(ck, "province" if has("province") else None, lat, lon)
    ok, rejects = ck.finish(on_error)
    events = canonical_frame({
        "source": source_name, "event_id": f["event_id"], "date": d0, "date_end": d1, "date_precision": prec,
        "province": prov, "district": f["district"] if has("district") else na, "latitude": lat,
        "longitude": lon, "killed": killed, "killed_low": low, "killed_high": high, "injured": injured,
        "event_type": f["event_type"] if has("event_type") else na,
        "actor": f["actor"] if has("actor") else na, "scope": scope, "province_method": method,
        "type_of_violence": pd.NA, "conflict_name": pd.NA,
    }, len(f))
    if not ok.all():
        events = keep_rows(events, ok)
    return ReadResult(source_name, path, events, rejects, rows_read=raw.n_read, digest=raw.digest, ids_checked=True)
