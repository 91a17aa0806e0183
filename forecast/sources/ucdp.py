"""UCDP Georeferenced Event Dataset (GED) reader.

Accepts three layouts, detected from the header:

* the **HDX Pakistan extract** shipped in ``shared/data/events/`` (GED 22.1: the 49 GED columns plus
  ``iso3``, and an HXL hashtag row as the second line, which is recognised and skipped);
* the **official GED CSV** of versions 22.1 to 25.1 (``GEDEvent_v25_1.csv`` and so on; the global
  file is filtered to Pakistan by ``country_id == 770``, other countries are counted as skipped);
* **UCDP Candidate** event files (``GEDEvent_v25_0_*.csv``, same column names; monthly releases).

Required columns: ``id, type_of_violence, date_start, date_end, best, low, high``; used when present:
``date_prec, adm_1, adm_2, latitude, longitude, where_prec, side_a, side_b, gwnoa, gwnob,
conflict_name, country_id, country``.

Mapping to the canonical event table
------------------------------------
``event_id`` = ``id``; ``date`` = ``date_start``, ``date_end`` = ``date_end``; ``date_precision``
from ``date_prec`` (1 -> day, 2-3 -> week, 4 -> month, 5 -> year; from the span when absent);
``killed``/``killed_low``/``killed_high`` = ``best``/``low``/``high``; ``injured`` missing (the GED
records no injuries); ``event_type`` = state-based / non-state / one-sided (``type_of_violence`` 1/2/3);
``province`` = ``adm_1`` normalised (FATA kept apart), else point in polygon on the coordinates when
``where_prec`` < 6 (6 = country only: the coordinates are a placeholder such as 30N 70E), else
unassigned.

Event scope (:func:`ucdp_scope`), decided by ``gwnoa``/``gwnob`` (Gleditsch-Ward codes of the two
sides, empty for non-state actors), with ``side_a``/``side_b`` as fallback when the codes are absent:

* ``interstate``: both sides are states (``gwnoa`` and ``gwnob`` present): the India-Pakistan
  conflict (``conflict_name`` "India - Pakistan", 429 events, 936 best deaths in the extract);
* ``foreign``: side A is a state other than Pakistan (``gwnoa`` not 770) against a non-state actor or
  civilians: US drone strikes (``conflict_name`` "United States of America: Government", 411 events),
  Afghan, Iranian, Indian, Chinese and Iraqi government operations located in Pakistan;
* ``militant``: everything else: the Government of Pakistan against non-state armed groups (TTP,
  Baloch separatists, Islamic State...; type 1), fighting between non-state groups including
  sectarian, tribal and factional violence (type 2), and one-sided violence by non-state groups
  against civilians (type 3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from pakcast.forecast.csvread import CHUNK_ROWS, iter_csv_chunks
from pakcast.forecast.sources._common import (
    CountryFilter,
    resolve_provinces,
    span_precision,
)
from pakcast.forecast.sources.base import ReadResult, merge_results
from pakcast.forecast.validate import (
    Checker,
    OnError,
    canonical_frame,
    keep_rows,
    require_columns,
)

SOURCE = "ucdp"
PAKISTAN_GWNO = 770
REQUIRED = ["id", "type_of_violence", "date_start", "date_end", "best", "low", "high"]
OPTIONAL = ["date_prec", "adm_1", "adm_2", "latitude", "longitude", "where_prec", "side_a", "side_b", "gwnoa",
            "gwnob", "conflict_name", "country_id", "country"]
EVENT_TYPES = {1: "state-based", 2: "non-state", 3: "one-sided"}
DATE_PREC = {1: "day", 2: "week", 3: "week", 4: "month", 5: "year"}


def _is_hxl(frame: pd.DataFrame) -> np.ndarray:
    """Rows of HXL hashtags (HDX files: every non-empty cell starts with ``#``)."""
    if frame.empty:
        return np.zeros(0, dtype=bool)
    tags = np.ones(len(frame), dtype=bool)
    for c in frame.columns:
        tags &= frame[c].str.startswith("#").fillna(True).to_numpy(dtype=bool)
        if not tags.any():
            break
    return tags & frame.notna().any(axis=1).to_numpy()


def ucdp_scope(type_of_violence: pd.Series, gwnoa: pd.Series, gwnob: pd.Series,
               side_a: pd.Series | None = None, side_b: pd.Series | None = None) -> pd.Series:
    """``militant`` | ``foreign`` | ``interstate`` for each UCDP event (rule in the module docstring)."""
    n = len(type_of_violence)
    ga = pd.to_numeric(gwnoa, errors="coerce") if gwnoa is not None else pd.Series(np.nan, index=range(n))
    gb = pd.to_numeric(gwnob, errors="coerce") if gwnob is not None else pd.Series(np.nan, index=range(n))
    a_state = ga.notna().to_numpy()
    b_state = gb.notna().to_numpy()
    a_foreign = a_state & (ga.to_numpy() != PAKISTAN_GWNO)
    if side_a is not None and gwnoa is None:
        sa = side_a.fillna("").astype(str)
        a_state = sa.str.startswith("Government of").to_numpy()
        a_foreign = a_state & (sa != "Government of Pakistan").to_numpy()
        if side_b is not None:
            b_state = side_b.fillna("").astype(str).str.startswith("Government of").to_numpy()
    out = np.where(a_state & b_state, "interstate", np.where(a_foreign, "foreign", "militant"))
    return pd.Series(out, dtype="string")


def _actor(tov: pd.Series, side_a: pd.Series, side_b: pd.Series) -> pd.Series:
    a = side_a.fillna("").astype(str)
    b = side_b.fillna("").astype(str)
    t1 = np.where(a == "Government of Pakistan", b, a)
    out = np.where(tov.to_numpy() == 2, a + "; " + b, np.where(tov.to_numpy() == 3, a, t1))
    return pd.Series(out, dtype="string").replace("", pd.NA)


def read_ucdp(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8",
              country_id: int = PAKISTAN_GWNO,
              progress: Callable[[int, int], None] | None = None) -> ReadResult:
    """Read a UCDP GED / Candidate CSV into the canonical event table.

    Parameters
    ----------
    path : the CSV (HDX extract, official GED 22.1-25.1, or Candidate events).
    on_error : ``"raise"`` (default) raises :class:`forecast.validate.ValidationError` naming file,
        line, column and expectation; ``"report"`` rejects bad rows with reasons.
    encoding : text encoding (UCDP files are UTF-8).
    country_id : Gleditsch-Ward code kept from a global file (770 = Pakistan).
    progress : callback ``(done, total)`` for progress bars.

    Examples
    --------
    >>> from forecast.paths import default_ucdp_path
    >>> res = read_ucdp(default_ucdp_path())            # doctest: +SKIP
    >>> res.rows_read, res.accepted                     # doctest: +SKIP
    (6416, 6416)
    """
    return merge_results(Path(path), SOURCE, iter_ucdp(path, on_error=on_error, encoding=encoding, country_id=country_id, progress=progress))


def iter_ucdp(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8",
              country_id: int = PAKISTAN_GWNO,
              progress: Callable[[int, int], None] | None = None, chunk_rows: int = CHUNK_ROWS) -> Iterator[ReadResult]:
    """The file chunk by chunk (one :class:`ReadResult` each; ids are unique across chunks)."""

    path = Path(path)
    skip = CountryFilter("country_id", country_id, also_skip=_is_hxl)
    before = 0
    for raw in iter_csv_chunks(path, encoding=encoding, skip_rows=skip, progress=progress,
                           columns=REQUIRED + OPTIONAL, id_column="id", chunk_rows=chunk_rows):
        yield _convert(raw, on_error, skipped=skip.n - before)
        before = skip.n


def _convert(raw, on_error: OnError, skipped: int = 0) -> ReadResult:
    """Canonical events and rejects of one chunk (:class:`forecast.validate.RawTable`)."""
    path = raw.path
    require_columns(raw, REQUIRED, " (UCDP GED/Candidate schema)")
    f = raw.frame
    ck = Checker(raw, SOURCE, id_column="id")
    eid = ck.integer("id", minimum=1)
    ck.unique("id")
    ck.one_of("type_of_violence", ["1", "2", "3"])
    tov = pd.to_numeric(f["type_of_violence"], errors="coerce").astype("Int64")
    d0 = ck.date("date_start", lo="1989-01-01")
    d1 = ck.date("date_end", lo="1989-01-01")
    ck.order("date_start", d0, "date_end", d1, "an event cannot end before it starts")
    best = ck.integer("best")
    low = ck.integer("low")
    high = ck.integer("high")
    has = lambda c: c in f.columns
    lat = ck.number("latitude", lo=-90, hi=90) if has("latitude") else pd.Series(np.nan, index=f.index)
    lon = ck.number("longitude", lo=-180, hi=180) if has("longitude") else pd.Series(np.nan, index=f.index)
    if has("date_prec"):
        ck.one_of("date_prec", ["1", "2", "3", "4", "5"], required=False)
    where_prec = pd.to_numeric(f["where_prec"], errors="coerce") if has("where_prec") else pd.Series(np.nan, index=f.index)
    # an empty or non-numeric where_prec does not forbid point in polygon (NA-safe comparison)
    pip_allowed = ~(pd.to_numeric(where_prec, errors="coerce").astype("float64") >= 6).to_numpy(dtype=bool)
    prov, method = resolve_provinces(ck, "adm_1" if has("adm_1") else None, lat, lon, pip_allowed)
    ok, rejects = ck.finish(on_error)

    if has("date_prec"):
        dp = pd.to_numeric(f["date_prec"], errors="coerce").map(DATE_PREC).astype("string")
        dp = dp.fillna(span_precision(d0, d1))
    else:
        dp = span_precision(d0, d1)
    col = lambda c: f[c] if has(c) else pd.Series(pd.NA, index=f.index, dtype="string")
    scope = ucdp_scope(tov, f["gwnoa"] if has("gwnoa") else None, f["gwnob"] if has("gwnob") else None,
                       col("side_a"), col("side_b"))
    events = canonical_frame({
        "source": SOURCE, "event_id": eid.astype("string"), "date": d0, "date_end": d1,
        "date_precision": dp, "province": prov, "district": col("adm_2"), "latitude": lat,
        "longitude": lon, "killed": best, "killed_low": low, "killed_high": high, "injured": pd.NA,
        "event_type": tov.map(EVENT_TYPES).astype("string"),
        "actor": _actor(tov.fillna(0), col("side_a"), col("side_b")), "scope": scope,
        "province_method": method, "type_of_violence": tov, "conflict_name": col("conflict_name"),
    }, len(f))
    events = keep_rows(events, ok)
    return ReadResult(SOURCE, path, events, rejects, rows_read=raw.n_read, digest=raw.digest, skipped=skipped,
                      notes=["injured is not recorded by UCDP GED (missing in every row)"])
