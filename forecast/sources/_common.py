"""Helpers shared by the readers: province resolution and the Pakistan filter for global files."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pakcast.forecast.geo import assign_provinces
from pakcast.forecast.provinces import NATIONAL, canonical_province
from pakcast.forecast.validate import PROVINCE_METHODS, Checker, arrow_strings


def resolve_provinces(checker: Checker, column: str | None, lat: pd.Series, lon: pd.Series,
                      pip_allowed: pd.Series | np.ndarray | None = None,
                      missing_values: tuple[str, ...] = ()) -> tuple[pd.Series, pd.Series]:
    """Canonical province (FATA separate) and how it was found, for every row.

    * a known spelling in ``column`` -> ``province_method = "source"``;
    * an unknown spelling -> a validation issue naming the cell (the mapping must be extended);
    * no province (or the national name) but coordinates, where ``pip_allowed`` -> point in polygon;
    * otherwise ``"unassigned"`` (kept in the national series, counted in every summary).

    ``missing_values`` are spellings that mean "unknown" in the source (GTD's ``Unknown``).
    """
    n = len(checker.frame)
    raw = checker.frame[column] if column else pd.Series([pd.NA] * n, dtype="string")
    if missing_values:
        raw = raw.mask(raw.str.lower().isin([m.lower() for m in missing_values]).fillna(False))
    # the spelling map is applied to the distinct spellings only (dictionary-encoded by pyarrow), then
    # taken back to the rows: no Python per row
    enc = pc.dictionary_encode(arrow_strings(raw))
    canon: list[str | None] = []
    unknown_spelling: list[bool] = []
    for u in enc.dictionary.to_pylist():
        try:
            c = canonical_province(u)
        except KeyError:
            canon.append(None)
            unknown_spelling.append(True)
            continue
        canon.append(None if c == NATIONAL else c)
        unknown_spelling.append(False)
    is_unknown = pc.fill_null(pc.take(pa.array(unknown_spelling, pa.bool_()), enc.indices), False).to_numpy(
        zero_copy_only=False)
    if is_unknown.any():
        checker.flag(is_unknown, column,
                     "a known Pakistani province spelling (extend forecast.provinces to add it)")
    prov_arr = pc.take(pa.array(canon, pa.string()), enc.indices)
    known = ~np.asarray(pc.is_null(prov_arr).to_numpy(zero_copy_only=False), dtype=bool)
    how = np.where(known, 0, 2).astype(np.int8)  # index into PROVINCE_METHODS: source, point_in_polygon, unassigned
    need = ~known & ~is_unknown
    if pip_allowed is not None:
        need &= np.asarray(pip_allowed, dtype=bool)
    la, lo = lat.to_numpy(dtype=float, na_value=np.nan), lon.to_numpy(dtype=float, na_value=np.nan)
    need &= np.isfinite(la) & np.isfinite(lo)
    if need.any():
        got = assign_provinces(la[need], lo[need])
        idx = np.flatnonzero(need)
        hit = got.notna().to_numpy()
        if hit.any():
            mask = np.zeros(n, dtype=bool)
            mask[idx[hit]] = True  # idx is increasing: the replacements are in row order
            prov_arr = pc.replace_with_mask(prov_arr, pa.array(mask),
                                            pa.array(got[hit].to_numpy(dtype=object), pa.string()))
            how[idx[hit]] = 1
    method = pc.take(pa.array(list(PROVINCE_METHODS), pa.string()), pa.array(how))
    dtype = pd.StringDtype("pyarrow")
    return (pd.Series(pd.arrays.ArrowStringArray(prov_arr), dtype=dtype),
            pd.Series(pd.arrays.ArrowStringArray(method), dtype=dtype))


def span_precision(start: pd.Series, end: pd.Series) -> pd.Series:
    """Date precision implied by the width of ``[start, end]``: day, week (<= 6 days), month (<= 30), year."""
    days = (end - start).dt.days
    out = np.select([days <= 0, days <= 6, days <= 30], ["day", "week", "month"], default="year")
    return pd.Series(out, index=start.index, dtype="string")


class CountryFilter:
    """``skip_rows`` for :func:`forecast.validate.read_csv_records` on global files (vectorised per chunk).

    Skips records whose ``column`` holds another country than ``country`` (counting them in ``n``), and
    records for which ``also_skip(frame)`` is true (e.g. UCDP's HXL hashtag row, not counted). Records
    with an empty country cell are kept, so validation reports them; records with the wrong number of
    fields never reach the filter (they are rejected by the reader).
    """

    def __init__(self, column: str, country: str | int,
                 also_skip: Callable[[pd.DataFrame], np.ndarray] | None = None):
        self.column, self.country, self.also_skip = column, str(country), also_skip
        self.n = 0

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        skip = np.zeros(len(frame), dtype=bool)
        if self.also_skip is not None:
            skip |= np.asarray(self.also_skip(frame), dtype=bool)
        if self.column in frame.columns:
            v = frame[self.column]
            other = (v.notna() & (v != self.country)).to_numpy(dtype=bool, na_value=False) & ~skip
            self.n += int(other.sum())
            skip |= other
        return skip
