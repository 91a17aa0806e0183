"""Global Terrorism Database (GTD, START, University of Maryland) reader.

Official column names (GTD codebook): ``eventid, iyear, imonth, iday, country_txt, provstate,
city, latitude, longitude, nkill, nwound, attacktype1_txt, gname`` (required: ``eventid, iyear,
imonth, iday, provstate, nkill, nwound, attacktype1_txt, gname``). A global file is filtered to
``country_txt == "Pakistan"`` (others counted as skipped). GTD distributions are often Latin-1:
pass ``encoding="latin-1"`` (a wrong encoding is reported with the line of the first bad byte).

Mapping: ``imonth``/``iday`` = 0 mean unknown, so the date interval is the whole month
(``iday = 0``: precision ``month``) or the whole year (``imonth = 0``: precision ``year``); the
panel rule then keeps such events only in panels whose period contains the whole interval, never
on the 1st. ``killed`` = ``killed_low`` = ``killed_high`` = ``nkill`` (GTD gives one figure; missing
stays missing), ``injured`` = ``nwound``, ``event_type`` = ``attacktype1_txt``, ``actor`` = ``gname``,
``province`` = ``provstate`` normalised (``Unknown`` = missing, then point in polygon on the
coordinates). GTD records terrorism by non-state actors, so every event is in the ``militant`` scope.

Terms: the GTD may not be redistributed; pakcast reads a copy the user obtained from START.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.csvread import CHUNK_ROWS, iter_csv_chunks
from pakcast.forecast.sources._common import CountryFilter, resolve_provinces
from pakcast.forecast.sources.base import ReadResult, merge_results
from pakcast.forecast.validate import (
    Checker,
    OnError,
    canonical_frame,
    keep_rows,
    require_columns,
)

SOURCE = "gtd"
REQUIRED = ["eventid", "iyear", "imonth", "iday", "provstate", "nkill", "nwound", "attacktype1_txt", "gname"]
OPTIONAL = ["country_txt", "city", "latitude", "longitude"]
COUNTRY = PAKISTAN.name


def read_gtd(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8",
             country: str = COUNTRY, progress: Callable[[int, int], None] | None = None) -> ReadResult:
    """Read a GTD CSV into the canonical event table (see the module docstring for the mapping)."""
    return merge_results(Path(path), SOURCE, iter_gtd(path, on_error=on_error, encoding=encoding, country=country, progress=progress))


def iter_gtd(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8",
             country: str = COUNTRY, progress: Callable[[int, int], None] | None = None, chunk_rows: int = CHUNK_ROWS) -> Iterator[ReadResult]:
    """The file chunk by chunk (one :class:`ReadResult` each; ids are unique across chunks)."""

    path = Path(path)
    skip = CountryFilter("country_txt", country)
    before = 0
    for raw in iter_csv_chunks(path, encoding=encoding, skip_rows=skip, progress=progress,
                           columns=REQUIRED + OPTIONAL, id_column="eventid", chunk_rows=chunk_rows):
        yield _convert(raw, on_error, skipped=skip.n - before)
        before = skip.n


def _convert(raw, on_error: OnError, skipped: int = 0) -> ReadResult:
    """Canonical events and rejects of one chunk (:class:`forecast.validate.RawTable`)."""
    path = raw.path
    require_columns(raw, REQUIRED, " (GTD codebook names)")
    f = raw.frame
    ck = Checker(raw, SOURCE, id_column="eventid")
    eid = ck.integer("eventid", minimum=1)
    ck.unique("eventid")
    year = ck.integer("iyear", minimum=1970)
    month = ck.integer("imonth", minimum=0)
    day = ck.integer("iday", minimum=0)
    ck.flag((month > 12).fillna(False), "imonth", "a month 1-12, or 0 for unknown")
    ck.flag((day > 31).fillna(False), "iday", "a day 1-31, or 0 for unknown")
    y = year.fillna(1970).clip(1970, 2262).astype(int)
    m = month.fillna(0).clip(0, 12).astype(int)
    d = day.fillna(0).clip(0, 31).astype(int)
    known_day = (m > 0) & (d > 0)
    exact = pd.to_datetime(pd.DataFrame({"year": y, "month": m.where(m > 0, 1), "day": d.where(d > 0, 1)}),
                           errors="coerce")
    ck.flag(known_day & exact.isna(), "iday", "a real calendar date (iyear, imonth, iday)",
            values=f["iyear"].fillna("") + "-" + f["imonth"].fillna("") + "-" + f["iday"].fillna(""))
    start = exact.copy()
    end = exact.copy()
    prec = pd.Series("day", index=f.index, dtype="string")
    month_only = (m > 0) & (d == 0)
    year_only = m == 0
    end[month_only] = (exact[month_only] + pd.offsets.MonthEnd(0))
    prec[month_only] = "month"
    start[year_only] = pd.to_datetime(pd.DataFrame({"year": y[year_only], "month": 1, "day": 1}))
    end[year_only] = pd.to_datetime(pd.DataFrame({"year": y[year_only], "month": 12, "day": 31}))
    prec[year_only] = "year"
    nkill = ck.integer("nkill", required=False)
    nwound = ck.integer("nwound", required=False)
    has = lambda c: c in f.columns
    lat = ck.number("latitude", lo=-90, hi=90) if has("latitude") else pd.Series(np.nan, index=f.index)
    lon = ck.number("longitude", lo=-180, hi=180) if has("longitude") else pd.Series(np.nan, index=f.index)
    prov, method = resolve_provinces(ck, "provstate", lat, lon, missing_values=("Unknown",))
    ok, rejects = ck.finish(on_error)
    events = canonical_frame({
        "source": SOURCE, "event_id": eid.astype("string"), "date": start, "date_end": end,
        "date_precision": prec, "province": prov, "district": f["city"] if has("city") else pd.NA,
        "latitude": lat, "longitude": lon, "killed": nkill, "killed_low": nkill, "killed_high": nkill,
        "injured": nwound, "event_type": f["attacktype1_txt"], "actor": f["gname"], "scope": "militant",
        "province_method": method, "type_of_violence": pd.NA, "conflict_name": pd.NA,
    }, len(f))
    events = keep_rows(events, ok)
    return ReadResult(SOURCE, path, events, rejects, rows_read=raw.n_read, digest=raw.digest, skipped=skipped,
                      notes=["GTD: killed_low = killed_high = nkill (no range); missing nkill stays missing"])
