"""ACLED (Armed Conflict Location & Event Data) reader.

Columns used (ACLED export names): ``event_id_cnty, event_date, event_type, actor1, admin1,
fatalities`` (required) and ``time_precision, actor2, admin2, latitude, longitude, country``
(optional). ``event_date`` may be ISO (``2021-01-31``, API) or ``31 January 2021`` (export). A
multi-country file is filtered to ``country == "Pakistan"`` (others counted as skipped).

Mapping: ``time_precision`` 1 -> ``day``; 2 -> ``week`` with the interval ``event_date`` +/- 3 days;
3 -> ``month`` with the calendar month of ``event_date`` as the interval (ACLED places
imprecise events on a date inside the period; pakcast keeps them only in panels whose period holds
the whole interval). ``killed`` = ``killed_low`` = ``killed_high`` = ``fatalities``; ``injured``
missing (ACLED records none); ``event_type``; ``actor`` = ``actor1; actor2``; ``province`` = ``admin1``.

Scope: ``Battles``, ``Explosions/Remote violence`` and ``Violence against civilians`` are
``militant``, unless actor1 is a foreign state's forces (``Military Forces of <country>`` other than
Pakistan): ``foreign``; or both actors are state forces of Pakistan and another country:
``interstate``. ``Protests``, ``Riots`` and ``Strategic developments`` are ``other``.

Terms: ACLED data are not openly licensed; pakcast reads a copy the user obtained under ACLED's terms.
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

SOURCE = "acled"
REQUIRED = ["event_id_cnty", "event_date", "event_type", "actor1", "admin1", "fatalities"]
OPTIONAL = ["time_precision", "actor2", "admin2", "latitude", "longitude", "country"]
VIOLENT = ("Battles", "Explosions/Remote violence", "Violence against civilians")
COUNTRY = PAKISTAN.name
_STATE = r"^(?:Military|Police) Forces of (?:the )?([^(]+?)\s*(?:\(|$)"


def acled_scope(event_type: pd.Series, actor1: pd.Series, actor2: pd.Series | None) -> pd.Series:
    """``militant`` | ``foreign`` | ``interstate`` | ``other`` (rule in the module docstring)."""
    c1 = actor1.fillna("").astype(str).str.extract(_STATE)[0]
    c2 = (actor2.fillna("").astype(str).str.extract(_STATE)[0] if actor2 is not None
          else pd.Series(pd.NA, index=actor1.index, dtype="string"))
    pak1 = c1.fillna("").str.strip().eq(COUNTRY)
    pak2 = c2.fillna("").str.strip().eq(COUNTRY)
    foreign1 = c1.notna() & ~pak1
    foreign2 = c2.notna() & ~pak2
    violent = event_type.isin(VIOLENT).fillna(False)
    interstate = (foreign1 & c2.notna()) | (foreign2 & c1.notna() & pak1)
    out = np.where(~violent, "other", np.where(interstate, "interstate", np.where(foreign1, "foreign", "militant")))
    return pd.Series(out, dtype="string")


def read_acled(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8",
               country: str = COUNTRY, progress: Callable[[int, int], None] | None = None) -> ReadResult:
    """Read an ACLED CSV export into the canonical event table."""
    return merge_results(Path(path), SOURCE, iter_acled(path, on_error=on_error, encoding=encoding, country=country, progress=progress))


def iter_acled(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8",
               country: str = COUNTRY, progress: Callable[[int, int], None] | None = None, chunk_rows: int = CHUNK_ROWS) -> Iterator[ReadResult]:
    """The file chunk by chunk (one :class:`ReadResult` each; ids are unique across chunks)."""

    path = Path(path)
    skip = CountryFilter("country", country)
    before = 0
    for raw in iter_csv_chunks(path, encoding=encoding, skip_rows=skip, progress=progress,
                           columns=REQUIRED + OPTIONAL, id_column="event_id_cnty", chunk_rows=chunk_rows):
        yield _convert(raw, on_error, skipped=skip.n - before)
        before = skip.n


def _convert(raw, on_error: OnError, skipped: int = 0) -> ReadResult:
    """Canonical events and rejects of one chunk (:class:`forecast.validate.RawTable`)."""
    path = raw.path
    require_columns(raw, REQUIRED, " (ACLED export names)")
    f = raw.frame
    ck = Checker(raw, SOURCE, id_column="event_id_cnty")
    ck.required("event_id_cnty")
    ck.unique("event_id_cnty")
    s = f["event_date"]
    d = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
    d = d.fillna(pd.to_datetime(s, format="%d %B %Y", errors="coerce"))
    d = d.fillna(pd.to_datetime(s, format="%d-%B-%Y", errors="coerce"))
    ck.flag(s.notna() & d.isna(), "event_date", "a real calendar date (YYYY-MM-DD or '31 January 2021')")
    ck.required("event_date")
    d = d.astype("datetime64[ns]")
    has = lambda c: c in f.columns
    if has("time_precision"):
        ck.one_of("time_precision", ["1", "2", "3"], required=False)
        tp = pd.to_numeric(f["time_precision"], errors="coerce").fillna(1).astype(int)
    else:
        tp = pd.Series(1, index=f.index)
    start, end = d.copy(), d.copy()
    wk = (tp == 2).to_numpy()
    mo = (tp == 3).to_numpy()
    start[wk] = d[wk] - pd.Timedelta(days=3)
    end[wk] = d[wk] + pd.Timedelta(days=3)
    start[mo] = d[mo].dt.to_period("M").dt.start_time
    end[mo] = d[mo].dt.to_period("M").dt.end_time.dt.normalize()
    prec = pd.Series(np.select([wk, mo], ["week", "month"], "day"), index=f.index, dtype="string")
    fat = ck.integer("fatalities")
    ck.required("event_type")
    ck.required("actor1")
    lat = ck.number("latitude", lo=-90, hi=90) if has("latitude") else pd.Series(np.nan, index=f.index)
    lon = ck.number("longitude", lo=-180, hi=180) if has("longitude") else pd.Series(np.nan, index=f.index)
    prov, method = resolve_provinces(ck, "admin1", lat, lon)
    ok, rejects = ck.finish(on_error)
    scope = acled_scope(f["event_type"], f["actor1"], f["actor2"] if has("actor2") else None)
    actor = f["actor1"]
    if has("actor2"):
        actor = actor.where(f["actor2"].isna(), actor.fillna("") + "; " + f["actor2"].fillna(""))
    events = canonical_frame({
        "source": SOURCE, "event_id": f["event_id_cnty"], "date": start, "date_end": end,
        "date_precision": prec, "province": prov, "district": f["admin2"] if has("admin2") else pd.NA,
        "latitude": lat, "longitude": lon, "killed": fat, "killed_low": fat, "killed_high": fat,
        "injured": pd.NA, "event_type": f["event_type"], "actor": actor, "scope": scope,
        "province_method": method, "type_of_violence": pd.NA, "conflict_name": pd.NA,
    }, len(f))
    events = keep_rows(events, ok)
    return ReadResult(SOURCE, path, events, rejects, rows_read=raw.n_read, digest=raw.digest, skipped=skipped,
                      notes=["ACLED records no injuries; killed_low = killed_high = fatalities"])
