"""Published aggregate figures (PICSS, PIPS, CRSS, SATP, GTI, official, other) as an aggregate source.

Input: the CSV files of ``shared/data/reported/`` (columns ``source, period_type, period, region,
metric, value, url, note``; one published number per row, each with the URL it was read from;
see that folder's PROVENANCE.md). They extend coverage past the UCDP extract's end (2021-12).

:func:`read_reported` validates one file or a folder and returns a tidy table with, in addition,
``period_start``/``period_end`` (dates), ``province`` (canonical, ``Pakistan`` for national rows)
and ``kp_definition`` (``excl. FATA`` / ``incl. FATA`` for Khyber Pakhtunkhwa rows: the sources split
"mainland" KP from the former tribal areas, or report KP as a whole after the 2018 merger).

:func:`reported_panel` makes a panel for **one source and one metric at the resolution the source
published** (year, half, quarter or month; ``ytd`` rows are cumulative partial periods and are
never turned into panel cells). Sources are never pooled: the definitions differ (PIPS counts
terrorist attacks only; PICSS militant attacks; CRSS adds counter-terrorism operations), so a
mixed-source request raises. Cells that were not published are missing (NaN), never zero.
Where a source published a figure twice (a first release and a revision), ``duplicates`` decides
(default ``"last"``: the row listed last in the file, which is how the transcription lists
revisions; ``"raise"`` to see them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pakcast.forecast.provinces import KP, NATIONAL, canonical_province, is_known
from pakcast.forecast.validate import (
    Checker,
    OnError,
    ValidationError,
    read_csv_records,
    require_columns,
)

SOURCE = "reported"
COLUMNS = ["source", "period_type", "period", "region", "metric", "value", "url", "note"]
PERIOD_TYPES = ("year", "half", "quarter", "month", "ytd")
PANEL_PERIOD_TYPES = ("year", "half", "quarter", "month")
TIDY_COLUMNS = ["source", "period_type", "period", "period_start", "period_end", "region", "province",
                "kp_definition", "metric", "value", "url", "note", "file", "line"]
_PATTERNS = {"year": r"^\d{4}$", "half": r"^\d{4}-H[12]$", "quarter": r"^\d{4}-Q[1-4]$",
             "month": r"^\d{4}-(0[1-9]|1[0-2])$",
             "ytd": r"^\d{4}-\d{2}(-\d{2})?\.\.\d{4}-\d{2}(-\d{2})?$"}


def _bounds(ptype: str, period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if ptype == "year":
        p = pd.Period(period, freq="Y")
    elif ptype == "quarter":
        p = pd.Period(period.replace("-", ""), freq="Q")
    elif ptype == "month":
        p = pd.Period(period, freq="M")
    elif ptype == "half":
        y, h = period.split("-H")
        s = pd.Timestamp(int(y), 1 if h == "1" else 7, 1)
        return s, (s + pd.DateOffset(months=6) - pd.Timedelta(days=1))
    else:  # ytd: a..b, month or day resolution
        a, b = period.split("..")
        s = pd.Timestamp(a if len(a) > 7 else a + "-01")
        e = pd.Timestamp(b) if len(b) > 7 else pd.Period(b, freq="M").end_time.normalize()
        return s, e
    return p.start_time, p.end_time.normalize()


def _region_fields(region: str) -> tuple[str | None, str | None]:
    if not isinstance(region, str):
        return None, None
    incl = "incl" in region.lower() and "tribal" in region.lower()
    prov = canonical_province(region)
    kp_def = ("incl. FATA" if incl else "excl. FATA") if prov == KP else None
    return prov, kp_def


def read_reported_file(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8"
                       ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """``(tidy, rejects, rows_read)`` for one reported-aggregates CSV."""
    raw = read_csv_records(path, encoding=encoding)
    require_columns(raw, COLUMNS[:6] + ["url"], " (reported-aggregates schema)")
    f = raw.frame
    ck = Checker(raw, SOURCE)
    for c in ("source", "period", "region", "metric", "url"):
        ck.required(c)
    ck.one_of("period_type", PERIOD_TYPES)
    ptype = f["period_type"].fillna("")
    period = f["period"].fillna("")
    ok_fmt = np.zeros(len(f), dtype=bool)
    for t, pat in _PATTERNS.items():
        ok_fmt |= ((ptype == t) & period.str.match(pat)).to_numpy()
    ck.flag(~ok_fmt & ptype.isin(PERIOD_TYPES).to_numpy() & f["period"].notna().to_numpy(), "period",
            "a period matching its period_type (YYYY, YYYY-H1, YYYY-Q1, YYYY-MM, A..B)")
    value = ck.number("value", required=True, lo=0)
    regions = f["region"].dropna().unique()
    unknown = [r for r in regions if not is_known(r)]
    if unknown:
        ck.flag(f["region"].isin(unknown), "region", "a known province or Pakistan")
    ok, rejects = ck.finish(on_error)
    g = f[ok].copy()
    starts, ends, provs, kpd = [], [], [], []
    for t, p, r in zip(g["period_type"], g["period"], g["region"]):
        s, e = _bounds(t, p)
        starts.append(s)
        ends.append(e)
        pv, kd = _region_fields(r)
        provs.append(pv)
        kpd.append(kd)
    g["period_start"] = pd.to_datetime(pd.Series(starts, index=g.index, dtype="datetime64[ns]"))
    g["period_end"] = pd.to_datetime(pd.Series(ends, index=g.index, dtype="datetime64[ns]"))
    g["province"] = pd.Series(provs, index=g.index, dtype="string")
    g["kp_definition"] = pd.Series(kpd, index=g.index, dtype="string")
    g["value"] = value[ok]
    g["file"] = Path(path).name
    g["line"] = raw.lines[ok]
    if "note" not in g:
        g["note"] = pd.NA
    return g[TIDY_COLUMNS].reset_index(drop=True), rejects, raw.n_read


def read_reported(path: str | Path, *, on_error: OnError = "raise", encoding: str = "utf-8"
                  ) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """``(tidy, rejects, rows_read)`` for one file or every ``*.csv`` in a folder."""
    path = Path(path)
    files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no reported-aggregate CSV files in {path}")
    parts, rej, n = [], [], 0
    for f in files:
        t, r, k = read_reported_file(f, on_error=on_error, encoding=encoding)
        parts.append(t)
        rej.append(r)
        n += k
    tidy = pd.concat(parts, ignore_index=True)
    rejects = pd.concat(rej, ignore_index=True) if any(len(r) for r in rej) else rej[0]
    return tidy, rejects, n


def build_reported_table(folder: str | Path) -> pd.DataFrame:
    """The shipped ``data/reported_aggregates.csv``: every valid published figure with its URL."""
    tidy, _, _ = read_reported(folder, on_error="raise")
    out = tidy.drop(columns=["line"]).copy()
    for c in ("period_start", "period_end"):
        out[c] = out[c].dt.strftime("%Y-%m-%d")
    return out


def load_reported(path: str | Path | None = None) -> pd.DataFrame:
    """The tidy reported table: from ``path`` (file or folder) or the shipped copy."""
    if path is not None:
        return read_reported(path)[0]
    from pakcast.forecast import paths

    df = pd.read_csv(paths.shipped("reported_aggregates.csv"), dtype="string")
    df["value"] = pd.to_numeric(df["value"]).astype(float)
    for c in ("period_start", "period_end"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
    return df


def reported_panel(table: pd.DataFrame, source: str, metric: str, period_type: str | None = None,
                   *, duplicates: str = "last") -> pd.DataFrame:
    """Panel of one source's published ``metric`` at its own resolution (never pooled).

    Returns long ``unique_id, ds, period, period_type, value, url`` where ``unique_id`` is the
    canonical province (``Khyber Pakhtunkhwa`` excludes FATA; ``Khyber Pakhtunkhwa incl. FATA`` when
    the source reported KP as a whole) or ``Pakistan``. Only published cells are present.
    """
    if duplicates not in ("last", "first", "raise"):
        raise ValueError("duplicates must be 'last', 'first' or 'raise'")
    srcs = table["source"].dropna().unique().tolist()
    if source not in srcs:
        raise ValueError(f"source {source!r} not in the table; available: {sorted(srcs)}")
    t = table[(table["source"] == source) & (table["metric"] == metric)]
    if t.empty:
        raise ValueError(f"{source} has no {metric!r} figures; metrics: "
                         f"{sorted(table.loc[table['source'] == source, 'metric'].unique().tolist())}")
    if period_type is None:
        kinds = [k for k in PANEL_PERIOD_TYPES if k in set(t["period_type"])]
        if len(kinds) != 1:
            raise ValueError(f"{source} {metric} is published at several resolutions {kinds}; "
                             "choose one with period_type (they are never mixed in one panel)")
        period_type = kinds[0]
    if period_type not in PANEL_PERIOD_TYPES:
        raise ValueError(f"period_type must be one of {PANEL_PERIOD_TYPES} (ytd rows are cumulative)")
    t = t[t["period_type"] == period_type].copy()
    uid = t["province"].astype("string")
    uid = uid.where(~(t["kp_definition"] == "incl. FATA").fillna(False), f"{KP} incl. FATA")
    t["unique_id"] = uid.fillna(NATIONAL)
    key = ["unique_id", "period"]
    dup = t.duplicated(key, keep=False)
    if dup.any() and duplicates == "raise":
        raise ValidationError([], header=(f"{source} {metric} {period_type}: {int(dup.sum())} rows give more than "
                                          f"one figure for the same cell: {t.loc[dup, key].drop_duplicates().head(5).values.tolist()}"))
    t = t.drop_duplicates(key, keep=duplicates)
    out = pd.DataFrame({"unique_id": t["unique_id"].astype("string"), "ds": t["period_start"],
                        "period": t["period"], "period_type": period_type, "value": t["value"].astype(float),
                        "url": t["url"]})
    return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# a user's table of published figures: append one figure, list what a table holds
# ---------------------------------------------------------------------------------------------
REPORTED_TABLE_ENV = "PAKCAST_REPORTED"
_METRIC = r"^[a-z][a-z0-9_]*$"


def default_reported_table() -> Path:
    """The user's table of published figures: ``$PAKCAST_REPORTED`` or ``<user data dir>/pakcast/reported.csv``."""
    import os

    if os.environ.get(REPORTED_TABLE_ENV):
        return Path(os.environ[REPORTED_TABLE_ENV])
    import platformdirs

    return Path(platformdirs.user_data_dir("pakcast")) / "reported.csv"


def _option_issues(exc: ValidationError) -> list:
    """A one-row validation error's issues named by the command-line options."""
    from pakcast.forecast.validate import Issue

    return [Issue(f"--{(i.column or 'row').replace('_', '-')}", None, None, i.value, i.expectation)
            for i in exc.issues]


def _s(x) -> str:
    return "" if x is None or (not isinstance(x, str) and pd.isna(x)) else str(x)


def add_reported(path: str | Path, *, source: str, period_type: str, period: str, region: str, metric: str,
                 value: str | float, url: str, note: str | None = None, revision: bool = False,
                 encoding: str = "utf-8") -> dict:
    """Append one published figure to the reported table ``path`` (created with its header if absent).

    The row is validated exactly as :func:`read_reported_file` validates a file (period matching its
    type, known region, non-negative value, URL present), plus a snake_case ``metric`` and an
    ``http(s)`` URL. A figure already in the table for the same source, period type, period, region
    (canonical province, and the KP definition) and metric must agree: the same value adds nothing
    (``status="unchanged"``); another value is refused unless ``revision`` (then it is appended last,
    which :func:`reported_panel` takes as the revised figure, with the earlier figure in its note).
    The table is read and written in ``encoding`` (a table in Latin-1 stays in Latin-1).

    Returns ``{"status", "path", "line", "row", "earlier"}``.
    """
    import csv
    import io
    import re
    import tempfile

    from pakcast.forecast.csvread import check_encoding
    from pakcast.forecast.io import atomic_write_text

    path = Path(path)
    codec = check_encoding(encoding)
    codec = "utf-8" if codec == "utf-8-sig" else codec  # a BOM, if any, is kept as the text's first character
    row = {"source": str(source).strip(), "period_type": str(period_type).strip(), "period": str(period).strip(),
           "region": str(region).strip(), "metric": str(metric).strip(), "value": str(value).strip(),
           "url": str(url).strip(), "note": (note or "").strip()}
    from pakcast.forecast.validate import Issue

    extra = []
    if not re.match(_METRIC, row["metric"]):
        extra.append(Issue("--metric", None, None, row["metric"], "a lower-case snake_case name such as attacks, "
                                                                  "killed, injured, fatalities_total"))
    if not re.match(r"^https?://\S+$", row["url"]):
        extra.append(Issue("--url", None, None, row["url"], "the http(s) address the figure was read from"))
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td) / "row.csv"
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerow(row)
        tmp.write_text(buf.getvalue(), encoding="utf-8")
        try:
            new, _, _ = read_reported_file(tmp, on_error="raise")
        except ValidationError as exc:
            extra += _option_issues(exc)
    if extra:
        from pakcast.forecast.errors import InputError

        raise InputError("invalid published figure: " + "; ".join(str(i) for i in extra))
    n = new.iloc[0]
    earlier = None
    if path.exists():
        old, _, _ = read_reported_file(path, on_error="raise", encoding=encoding)
        same = old[(old["source"] == n["source"]) & (old["period_type"] == n["period_type"])
                   & (old["period"] == n["period"]) & (old["metric"] == n["metric"])
                   & (old["province"].fillna("") == _s(n["province"]))
                   & (old["kp_definition"].fillna("") == _s(n["kp_definition"]))]
        if len(same):
            last = same.iloc[-1]
            earlier = {"line": int(last["line"]), "value": float(last["value"]), "url": str(last["url"])}
            if float(last["value"]) == float(n["value"]):
                return {"status": "unchanged", "path": path, "line": int(last["line"]), "row": row, "earlier": earlier}
            if not revision:
                from pakcast.forecast.errors import InputError

                raise InputError(
                    f"{path}, line {earlier['line']}: {n['source']} {n['period_type']} {n['period']} {n['region']} "
                    f"{n['metric']} is already {last['value']:g} ({last['url']}); the new value {float(n['value']):g} "
                    "contradicts it: pass --revision if the source revised its figure")
            rev = f"revision of {earlier['value']:g} (line {earlier['line']}, {earlier['url']})"
            row["note"] = f"{row['note']}; {rev}" if row["note"] else rev
        text = path.read_text(encoding=codec)
        header = next(csv.reader(io.StringIO(text)))
    else:
        text, header = "", COLUMNS
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    if not text:
        w.writeheader()
    elif not text.endswith("\n"):
        buf.write("\n")
    w.writerow({k: row.get(k, "") for k in header})
    try:
        data = (text + buf.getvalue()).encode(codec)
    except UnicodeEncodeError as exc:
        from pakcast.forecast.errors import InputError

        raise InputError(f"{path}: the figure holds {exc.object[exc.start:exc.end]!r}, which the table's encoding "
                         f"{encoding} cannot hold: nothing was written; give --encoding utf-8 for a UTF-8 "
                         "table") from None
    atomic_write_text(path, data.decode(codec), encoding=codec)
    line = (text + buf.getvalue()).rstrip("\n").count("\n") + 1
    return {"status": "revision" if earlier is not None else "added", "path": path, "line": line, "row": row,
            "earlier": earlier}


def list_reported(table: pd.DataFrame) -> pd.DataFrame:
    """What a tidy reported table holds: one row per source, metric and region.

    Columns ``source, metric, region, rows, period_types, first_period, latest_period,
    latest_value, latest_url`` (``region`` canonical: every spelling of a province together;
    latest = the period that ends last; among its rows the one listed last, i.e. a revision).
    """
    if table.empty:
        return pd.DataFrame(columns=["source", "metric", "region", "rows", "period_types", "first_period",
                                     "latest_period", "latest_value", "latest_url"])
    t = table.copy()
    t["_order"] = np.arange(len(t))
    # one row per canonical region (KP reported with the former tribal areas kept apart)
    reg = t["province"].astype("string").fillna(t["region"].astype("string"))
    t["_region"] = reg.where(~(t["kp_definition"] == "incl. FATA").fillna(False), reg + " incl. FATA")
    out = []
    for (src, met, reg), g in t.groupby(["source", "metric", "_region"], sort=True):
        g = g.sort_values(["period_end", "_order"])
        first, last = g.iloc[0], g.iloc[-1]
        out.append({"source": src, "metric": met, "region": reg, "rows": len(g),
                    "period_types": ",".join(k for k in PERIOD_TYPES if k in set(g["period_type"])),
                    "first_period": first["period"], "latest_period": last["period"],
                    "latest_value": float(last["value"]), "latest_url": last["url"]})
    return pd.DataFrame(out)
