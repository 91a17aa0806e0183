"""Rebuild the derived tables shipped in ``data/`` from the raw files in ``shared/data``.

``pakcast data build`` calls :func:`build_shipped_tables`. Every output is an aggregate or a
reduced derived table (no source text, no coordinates), written atomically; gzip files are
written with a fixed timestamp so a rebuild from the same inputs is byte-identical.

Outputs (UCDP GED 22.1 HDX extract unless stated):

* ``events_ucdp.csv.gz``: one row per event, derived fields only (``event_id, date, date_end,
  date_precision, province, province_method, killed, killed_low, killed_high, scope,
  type_of_violence, event_type, actor, conflict_name``), all scopes; ``load_panel`` builds any
  panel that is not shipped from it.
* ``events_militant.csv``: the militant-scope events for the self-exciting models
  (``event_id, date, date_end, date_precision, province, killed, killed_low, killed_high, scope``).
* ``panel_province_month.csv`` (fata=merge, scope=militant), ``panel_province_month_fata-separate.csv``,
  ``panel_province_month_scope-all.csv``, ``panel_province_quarter.csv``, ``panel_province_year.csv``
  and ``panel_province_day.csv.gz`` (non-zero cells only; ``load_panel("day")`` restores the zeros).
* ``panels.json``: coverage, input sha256, and the :class:`forecast.panel.PanelReport` of each panel.
* ``population_census.csv``: census points used for population (from ``population_province.csv``).
* ``provinces.geojson``: simplified boundaries (from ``pak_adm1_with_fata.geojson``).
* ``reported_aggregates.csv``: the published aggregate tables of ``shared/data/reported`` in one tidy
  table (facts with their URLs; see :mod:`forecast.sources.reported`).
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from pakcast.forecast.geo import build_provinces_geojson
from pakcast.forecast.io import atomic_write_bytes, sha256_file, write_csv, write_json
from pakcast.forecast.panel import (
    POPULATION_FILE,
    SHIPPED_EVENTS,
    SHIPPED_META,
    build_panel_with_report,
    derive_census_table,
    shipped_panel_name,
    to_csv_form,
)

SHIPPED_EVENT_COLUMNS = ["event_id", "date", "date_end", "date_precision", "province", "province_method",
                         "killed", "killed_low", "killed_high", "scope", "type_of_violence", "event_type",
                         "actor", "conflict_name"]
MILITANT_EVENT_COLUMNS = ["event_id", "date", "date_end", "date_precision", "province", "killed",
                          "killed_low", "killed_high", "scope"]
UCDP_COVERAGE = ("1989-01-01", "2021-12-31")

# (freq, fata, scope) of the shipped panel files
SHIPPED_PANELS = [("month", "merge", "militant"), ("month", "separate", "militant"), ("month", "merge", "all"),
                  ("quarter", "merge", "militant"), ("year", "merge", "militant"), ("day", "merge", "militant")]


def _csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False, lineterminator="\n").encode("utf-8")


def _write_gz(path: Path, df: pd.DataFrame) -> Path:
    return atomic_write_bytes(path, gzip.compress(_csv_bytes(df), compresslevel=9, mtime=0))


def _readable(path: Path) -> None:
    os.chmod(path, 0o644)


def build_shipped_tables(shared_dir: str | Path, out_dir: str | Path,
                         log: Callable[[str], None] = print) -> list[Path]:
    """Rebuild every foundation table in ``out_dir`` from ``shared_dir``; returns the written paths."""
    from pakcast.forecast.sources.reported import (
        build_reported_table,  # local: optional source
    )
    from pakcast.forecast.sources.ucdp import read_ucdp

    shared_dir, out_dir = Path(shared_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    written.append(build_provinces_geojson(shared_dir, out_dir / "provinces.geojson"))
    log(f"wrote {written[-1].name}")
    census = derive_census_table(shared_dir)
    c = census.copy()
    c["date"] = c["date"].dt.strftime("%Y-%m-%d")
    written.append(write_csv(out_dir / POPULATION_FILE, c))
    log(f"wrote {written[-1].name} ({len(c)} census points)")

    ucdp_path = shared_dir / "data" / "events" / "ucdp_ged_pak_hdx.csv"
    res = read_ucdp(ucdp_path)
    ev = res.events
    log(f"read {ucdp_path.name}: {res.rows_read} rows, {res.accepted} accepted, {res.rejected} rejected, "
        f"{res.point_in_polygon} provinces by point in polygon, {res.unassigned} unassigned")
    ship = ev[SHIPPED_EVENT_COLUMNS].copy()
    for col in ("date", "date_end"):
        ship[col] = ship[col].dt.strftime("%Y-%m-%d")
    written.append(_write_gz(out_dir / SHIPPED_EVENTS, ship))
    mil = ship[ship["scope"] == "militant"][MILITANT_EVENT_COLUMNS]
    written.append(atomic_write_bytes(out_dir / "events_militant.csv", _csv_bytes(mil)))
    log(f"wrote {SHIPPED_EVENTS} ({len(ship)} events) and events_militant.csv ({len(mil)} events)")

    meta: dict = {"source": "UCDP GED 22.1, Pakistan extract via HDX", "input": str(ucdp_path.name),
                  "input_sha256": sha256_file(ucdp_path), "coverage_start": UCDP_COVERAGE[0],
                  "coverage_end": UCDP_COVERAGE[1], "rows_read": res.rows_read,
                  "province_point_in_polygon": res.point_in_polygon, "province_unassigned": res.unassigned,
                  "events_by_scope": ev["scope"].value_counts().sort_index().to_dict(), "panels": {}}
    for freq, fata, scope in SHIPPED_PANELS:
        pan, rep = build_panel_with_report(ev, freq, fata=fata, scope=scope, coverage=UCDP_COVERAGE,
                                           census=census)
        csv = to_csv_form(pan, freq)
        name = shipped_panel_name(freq, fata, scope)
        if freq == "day":
            nz = csv[(csv[["attacks", "killed", "killed_low", "killed_high"]] != 0).any(axis=1)]
            written.append(_write_gz(out_dir / name, nz))
        else:
            written.append(atomic_write_bytes(out_dir / name, _csv_bytes(csv)))
        meta["panels"][name] = rep.to_dict()
        log(f"wrote {name}: {len(csv)} cells; {rep.events_in_panel} events, {rep.killed_in_panel} killed; "
            f"excluded for date precision {rep.excluded_date_precision} ({rep.excluded_date_precision_killed} "
            f"killed); unassigned province {rep.unassigned_province} ({rep.unassigned_province_killed} killed)")
    written.append(write_json(out_dir / SHIPPED_META, meta))

    rep_path = shared_dir / "data" / "reported"
    if rep_path.is_dir():
        tab = build_reported_table(rep_path)
        written.append(write_csv(out_dir / "reported_aggregates.csv", tab))
        log(f"wrote reported_aggregates.csv ({len(tab)} published figures from "
            f"{tab['source'].nunique()} sources)")
    for p in written:
        _readable(p)
    return written


def check_meta(out_dir: str | Path) -> dict:
    """The ``panels.json`` written by the last build."""
    return json.loads((Path(out_dir) / SHIPPED_META).read_text(encoding="utf-8"))
