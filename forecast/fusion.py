"""The fused series: one latent province-month picture from every event source and published figure.

:func:`build_observations` turns the event panels (shipped UCDP panel, or ``--events`` files) and
the published aggregates (shipped ``data/reported_aggregates.csv`` or ``--reported`` files, read by
:mod:`pakcast.forecast.sources.reported`) into the observation table of
:class:`pakcast.models.fusion.MeasurementModel`: each figure's region becomes a set of provinces
and its period a month range. :func:`fit_fusion` chooses the reference units, fits, and returns a
:class:`FusionRun`; :func:`run` also writes the outputs of ``pakcast fuse``
(``fused.csv``, ``sources.csv``, ``idata.nc``, ``figures/``, ``fusion.json``, ``manifest.json``).

Rules (each exclusion is counted in ``FusionRun.exclusions``; nothing is dropped silently):

* **Measures**: ``attacks`` (event counts; published ``attacks``) and ``killed`` (best-estimate
  deaths; published ``killed`` and ``fatalities_total``). Every source-metric keeps its own scale:
  figures are never added across sources. Other published metrics (injured, ranks, victim
  categories, ...) are not modelled.
* **Sources** ``OFFICIAL`` and ``OTHER`` are left out by default: they mix organisations and
  definitions (registered cases, army deaths only) and are kept in the table for cross-checking.
* **Regions**: ``Pakistan`` covers every province; a province covers itself. With ``--fata merge``
  (default) Khyber Pakhtunkhwa includes the former tribal areas: a source's "KP incl. tribal
  districts" figure covers it, while its mainland-KP and ex-FATA figures for the same period are
  only usable together (they are summed into one figure of that same source, recorded as such);
  one without the other is excluded. With ``--fata separate`` each covers its own unit.
* **Periods** must be whole months (a year-to-date range ending mid-month is excluded) inside
  ``--start``..horizon end.
* **Revisions**: two rows of one source for the same period, region and metric with different
  values are refused (both rows named) unless the later ones are marked as revisions in their note
  (``revised``, ``revision``, ``as quoted in``, ``comparison figure``, ``final``; a note saying
  ``first release``/``as first``/``later revised`` marks the original). The last-listed revision
  is used. Identical repeats count once.
* **Nesting**: a figure whose months are all covered by the same source's finer figures for the
  same region and metric (a year of twelve published months) is left out, so one count is not used
  twice; partly covered coarser figures stay (a known, stated dependence).
* **Reference units** (``--units``): default the source (with both measures) whose months overlap
  most with the other sources' months; every output says which.
"""

from __future__ import annotations

import datetime as _dt
import codecs
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pakcast.forecast.errors import InputError
from pakcast.forecast.jobs import DEFAULT_SEED
from pakcast.forecast.provinces import FATA, KP, NATIONAL, province_list

__all__ = [
    "DEFAULT_METRICS",
    "EXCLUDED_SOURCES",
    "KNOWN_METRICS",
    "MEASURES",
    "FusionConfig",
    "FusionRun",
    "build_observations",
    "choose_reference",
    "default_end",
    "fit_fusion",
    "known_steps",
    "model_effects",
    "parse_steps",
    "run",
]

#: latent measures (named as in the panels)
MEASURES = ("attacks", "killed")
#: published metric -> latent measure it measures (each with its own scale)
DEFAULT_METRICS: dict[str, str] = {"attacks": "attacks", "killed": "killed", "fatalities_total": "killed"}
#: every metric of the reported-aggregates vocabulary (shared/data/reported/PROVENANCE.md)
KNOWN_METRICS = frozenset({
    "attacks", "incidents", "killed", "injured", "fatalities_total", "fatalities_total_updated", "injured_total",
    "civilians", "security_forces", "militants", "civilians_all", "security_forces_all", "militants_all",
    "civilians_plus_security_forces", "militants_killed_in_operations", "security_operations",
    "killed_in_attacks", "injured_in_attacks", "fatalities_in_attacks", "fatalities_in_operations",
    "civilians_injured", "security_forces_injured", "police_killed", "peace_committee", "rank", "score"})
EXCLUDED_SOURCES = ("OFFICIAL", "OTHER")
EVENT_SOURCE_NAMES = {"ucdp": "UCDP", "gtd": "GTD", "acled": "ACLED", "csv": "CSV"}
_REVISION = re.compile(r"revis|quoted in|comparison figure|\bfinal\b", re.IGNORECASE)
_ORIGINAL = re.compile(r"\bas first\b|later revised", re.IGNORECASE)
_RANK = {"month": 0, "quarter": 1, "half": 2, "ytd": 2, "year": 3}
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")  # an option's month, YYYY-MM
#: months of figures a known-date step needs after its first month before the model fits it
MIN_POST_MONTHS = 3


def default_end(today: _dt.date | None = None) -> str:
    """Horizon end: December of the year after ``today`` (a run on 2026-12-01 ends 2027-12)."""
    today = today or _dt.date.today()
    return f"{today.year + 1}-12"


@dataclass
class FusionConfig:
    """Options of ``pakcast fuse`` (validated by :meth:`validate` before anything is read)."""

    events: list[tuple[str, str]] = field(default_factory=list)   # (path, ucdp|gtd|acled|csv)
    reported: list[str] = field(default_factory=list)
    #: text encoding of the --events and --reported files
    encoding: str = "utf-8"
    start: str = "2007-01"
    end: str | None = None
    units: str | None = None
    fata: str = "merge"
    random_seed: int = DEFAULT_SEED
    out: str | None = None
    json: str | None = None
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    metrics: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_METRICS))
    exclude_sources: tuple[str, ...] = EXCLUDED_SOURCES
    figures: bool = True
    #: known-date level steps of the model, name -> first month of the step (``YYYY-MM``); ``None``
    #: (default): the country profile's intervention months that the figures reach
    #: (:func:`model_effects`); ``{}``: no steps
    effects: dict[str, str] | None = None
    #: fit on the figures whose period ends by this month (``YYYY-MM``; a past vintage); ``None``: all
    as_of: str | None = None

    def validate(self) -> None:
        for name in ("start",) + (("end",) if self.end else ()):
            v = getattr(self, name)
            if not _MONTH.fullmatch(str(v)):
                raise InputError(f"--{name} {v!r}: expected YYYY-MM")
        if pd.Period(self.start, "M") >= pd.Period(self.end or default_end(), "M"):
            raise InputError(f"--start {self.start} must be before the horizon end {self.end or default_end()}")
        if self.fata not in ("merge", "separate"):
            raise InputError(f"--fata {self.fata!r}: expected merge or separate")
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise InputError(f"--encoding {self.encoding!r}: unknown text encoding (e.g. utf-8, latin-1)") from None
        for path, src in self.events:
            if src not in EVENT_SOURCE_NAMES:
                raise InputError(f"--source {src!r}: expected one of {sorted(EVENT_SOURCE_NAMES)}")
            if not Path(path).exists():
                raise InputError(f"--events {path}: file not found")
        for path in self.reported:
            if not Path(path).exists():
                raise InputError(f"--reported {path}: file not found")
        for m, me in self.metrics.items():
            if me not in MEASURES:
                raise InputError(f"metric {m!r} mapped to unknown measure {me!r}; measures: {MEASURES}")
        for k in ("draws", "tune", "chains"):
            if int(getattr(self, k)) < 1:
                raise InputError(f"--{k} must be a positive integer")
        months = pd.period_range(self.start, self.end or default_end(), freq="M")
        for name, when in (self.effects or {}).items():
            if not _MONTH.fullmatch(str(when)) or pd.Period(when, "M") not in months:
                raise InputError(f"effect {name!r} at {when!r}: expected a month YYYY-MM in {months[0]}..{months[-1]}")
        if self.as_of is not None:
            if not _MONTH.fullmatch(str(self.as_of)):
                raise InputError(f"--as-of {self.as_of!r}: expected YYYY-MM")
            if not months[0] <= pd.Period(self.as_of, "M") <= months[-1]:
                raise InputError(f"--as-of {self.as_of} is outside {months[0]}..{months[-1]}")


@dataclass
class ObservationTable:
    """The model's observations plus provenance: ``frame`` (one row per figure used), ``exclusions``
    (reason -> count), ``excluded`` (the rows left out with their reason), ``inputs`` (files read)."""

    frame: pd.DataFrame
    exclusions: dict[str, int]
    excluded: pd.DataFrame
    inputs: list[tuple[str, str]]
    units: list[str]
    months: pd.PeriodIndex
    notes: list[str] = field(default_factory=list)


@dataclass
class FusionRun:
    """What a fit produced: the config, the observation table, the reference choice and the results."""

    config: FusionConfig
    table: ObservationTable
    units: str
    units_reason: str
    results: Any
    seconds: dict[str, float]

    @property
    def as_of(self) -> str:
        """Last month with any observation (``YYYY-MM``)."""
        return str(self.table.frame["last"].max())

    def to_dict(self, series: bool = True) -> dict:
        """The JSON of ``pakcast fuse`` (keys ``as_of, units, sources, series, diagnostics`` and more)."""
        res = self.results
        d = res.to_dict()
        out: dict[str, Any] = {
            "as_of": self.as_of,
            "units": {"source": self.units, "reason": self.units_reason,
                      "measures": d["units"],
                      "text": {me: f"{me} as {v['source']} counts them" for me, v in d["units"].items()}},
            "sources": d["sources"],
            "series": [],
            "diagnostics": d["diagnostics"],
            "sampler": d["sampler"],
            "months": {"first": str(self.table.months[0]), "last": str(self.table.months[-1]),
                       "observed_to": self.as_of},
            "steps": model_effects(self.config, self.table),
            "data": {"n_observations": len(self.table.frame), "exclusions": self.table.exclusions,
                     "inputs": [{"path": p, "role": r} for p, r in self.table.inputs], "notes": self.table.notes},
            "timings_seconds": self.seconds,
        }
        if series:
            f = fused_frame(self)
            out["series"] = f[["province", "month", "measure", "mean", "q05", "q95"]].to_dict(orient="records")
        return out


# ------------------------------------------------------------------------------------------------
# observations

def _event_panels(config: FusionConfig) -> list[tuple[str, pd.DataFrame, str, str]]:
    """``(source name, monthly panel, path, role)`` per event input (default: the shipped UCDP panel)."""
    from pakcast.forecast import paths
    from pakcast.forecast.panel import build_panel, load_panel, shipped_panel_name

    if not config.events:
        p = load_panel("month", fata=config.fata)
        return [("UCDP", p, str(paths.shipped_dir() / shipped_panel_name("month", config.fata)), "shipped UCDP panel")]
    from pakcast.forecast.sources import read_source

    out, names = [], []
    for path, src in config.events:
        rr = read_source(path, src, encoding=config.encoding)
        name = EVENT_SOURCE_NAMES[src]
        if name in names:
            name = f"{name}:{Path(path).stem}"
        names.append(name)
        out.append((name, build_panel(rr.events, "month", fata=config.fata, with_population=False), path,
                    f"events ({src})"))
    return out


def _months_of(panel: pd.DataFrame) -> pd.PeriodIndex:
    return pd.PeriodIndex(pd.to_datetime(panel["ds"]).dt.to_period("M"))


def _event_observations(config: FusionConfig, units: list[str], months: pd.PeriodIndex,
                        excl: dict[str, int], inputs: list) -> list[pd.DataFrame]:
    frames = []
    for name, panel, path, role in _event_panels(config):
        inputs.append((path, role))
        per = _months_of(panel)
        p = panel.assign(month=per)
        keep = (p["month"] >= months[0]) & (p["month"] <= months[-1])
        prov = p[keep & p["unique_id"].isin(units)]
        nat = p[keep & (p["unique_id"] == NATIONAL)]
        before = int((~keep & p["unique_id"].isin(units)).sum())
        if before:
            excl[f"{name}: province-months outside {months[0]}..{months[-1]}"] = before
        for metric in MEASURES:
            if metric not in prov:
                continue
            unassigned = float(nat[metric].sum() - prov[metric].sum())
            if unassigned > 0:
                excl[f"{name}: {metric} with no province (kept only in the national total)"] = int(round(unassigned))
            frames.append(pd.DataFrame({
                "source": name, "metric": metric, "measure": metric,
                "cover": [(u,) for u in prov["unique_id"]], "first": prov["month"].to_numpy(),
                "last": prov["month"].to_numpy(), "value": prov[metric].astype(float).to_numpy(),
                "period_type": "month", "region": prov["unique_id"].to_numpy(), "origin": f"{Path(path).name}",
            }))
    return frames


def _load_reported(config: FusionConfig, inputs: list) -> pd.DataFrame:
    from pakcast.forecast import paths
    from pakcast.forecast.sources.reported import load_reported, read_reported

    if not config.reported:
        p = paths.shipped("reported_aggregates.csv")
        t = load_reported(None)
        t["origin"] = f"{p.name} row " + (t.index + 2).astype(str) + " (from " + t["file"].astype(str) + ")"
        inputs.append((str(p), "shipped reported aggregates"))
        t["_file"] = str(p)
        t["_row"] = t.index + 2
        return t
    parts = []
    for path in config.reported:
        t, _, _ = read_reported(path, on_error="raise", encoding=config.encoding)
        t["origin"] = t["file"].astype(str) + " row " + t["line"].astype(str)
        t["_file"] = t["file"].astype(str)
        t["_row"] = t["line"]
        inputs.append((str(path), "reported aggregates"))
        parts.append(t)
    return pd.concat(parts, ignore_index=True)


def _is_revision(note: Any) -> bool:
    s = "" if note is None or (isinstance(note, float) and np.isnan(note)) or note is pd.NA else str(note)
    return bool(_REVISION.search(s)) and not _ORIGINAL.search(s)


def resolve_revisions(t: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Keep one figure per ``(source, period_type, period, region, metric)``.

    Returns ``(table, n_repeats, n_superseded)``; raises :class:`InputError` naming both rows when
    two figures disagree and neither is marked as a revision (see the module rules).
    """
    key = ["source", "period_type", "period", "region", "metric"]
    dup = t.duplicated(key, keep=False)
    if not dup.any():
        return t, 0, 0
    drop: list[int] = []
    repeats = superseded = 0
    for _, g in t[dup].groupby(key, sort=False, dropna=False):
        vals = g["value"].astype(float)
        if vals.nunique() == 1:
            drop.extend(g.index[1:].tolist())
            repeats += len(g) - 1
            continue
        rev = g["note"].map(_is_revision)
        orig = g[~rev]
        if orig["value"].astype(float).nunique() > 1 or not rev.any():
            a, b = orig.index[:2] if len(orig) >= 2 else g.index[:2]
            r = g.loc[[a, b]]
            raise InputError(
                f"{r['_file'].iloc[0]} row {r['_row'].iloc[0]} and {r['_file'].iloc[1]} row {r['_row'].iloc[1]}, "
                f"column value: {r['source'].iloc[0]} {r['metric'].iloc[0]} for {r['region'].iloc[0]}, "
                f"{r['period_type'].iloc[0]} {r['period'].iloc[0]} is given as {r['value'].iloc[0]:g} and "
                f"{r['value'].iloc[1]:g}; mark the later figure as a revision in its note (e.g. 'revised') "
                "or remove one")
        keep = g[rev].index[-1]
        drop.extend([i for i in g.index if i != keep])
        superseded += len(g) - 1
    return t.drop(index=drop), repeats, superseded


def _cover(row: pd.Series, fata: str) -> tuple[str, ...] | str:
    """Units a reported row covers, or a string saying why it cannot be placed."""
    prov = row["province"]
    units = province_list(fata)
    if prov is None or pd.isna(prov) or prov == NATIONAL:
        return tuple(units)
    if prov == KP:
        incl = str(row.get("kp_definition")) == "incl. FATA"
        if fata == "separate":
            return (KP, FATA) if incl else (KP,)
        return (KP,) if incl else "part"
    if prov == FATA:
        return (FATA,) if fata == "separate" else "part"
    if prov in units:
        return (prov,)
    return f"region {prov!r} is not a unit"


def _reported_observations(config: FusionConfig, months: pd.PeriodIndex, excl: dict[str, int],
                           inputs: list, notes: list[str]) -> tuple[pd.DataFrame, list[dict]]:
    from pakcast.forecast.sources.reported import PERIOD_TYPES

    t = _load_reported(config, inputs)
    excluded: list[dict] = []

    def leave(rows: pd.DataFrame, reason: str) -> None:
        if len(rows):
            excl[reason] = excl.get(reason, 0) + len(rows)
            excluded.extend({"origin": o, "reason": reason} for o in rows["origin"])

    unknown = ~t["metric"].isin(KNOWN_METRICS)
    if unknown.any():
        r = t[unknown].iloc[0]
        raise InputError(f"{r['_file']} row {r['_row']}, column metric: unknown metric {r['metric']!r}; expected one of "
                         f"{sorted(KNOWN_METRICS)}")
    bad_pt = ~t["period_type"].isin(PERIOD_TYPES)
    if bad_pt.any():
        r = t[bad_pt].iloc[0]
        raise InputError(f"{r['_file']} row {r['_row']}, column period_type: {r['period_type']!r}; expected one of "
                         f"{list(PERIOD_TYPES)}")
    src_out = t["source"].isin(config.exclude_sources)
    leave(t[src_out], f"sources {', '.join(config.exclude_sources)} (cross-checks, mixed definitions)")
    t = t[~src_out]
    not_mod = ~t["metric"].isin(list(config.metrics))
    leave(t[not_mod], "metric not modelled (injured, categories, ranks, scores, operations)")
    t = t[~not_mod].copy()
    t, repeats, superseded = resolve_revisions(t)
    if repeats:
        excl["identical repeat of a figure"] = repeats
    if superseded:
        excl["superseded by a revision of the same figure"] = superseded
    ps, pe = pd.to_datetime(t["period_start"]), pd.to_datetime(t["period_end"])
    whole = (ps.dt.day == 1) & (pe == pe.dt.to_period("M").dt.end_time.dt.normalize())
    leave(t[~whole], "period not whole months (year-to-date to a day)")
    t = t[whole].copy()
    t["first"] = pd.PeriodIndex(pd.to_datetime(t["period_start"]).dt.to_period("M"))
    t["last"] = pd.PeriodIndex(pd.to_datetime(t["period_end"]).dt.to_period("M"))
    inside = (t["first"] >= months[0]) & (t["last"] <= months[-1])
    leave(t[~inside], f"period outside {months[0]}..{months[-1]}")
    t = t[inside].copy()
    t["measure"] = t["metric"].map(config.metrics)
    covers = [_cover(r, config.fata) for _, r in t.iterrows()]
    t["cover"] = covers
    part = t["cover"].map(lambda c: c == "part")
    # mainland KP + ex-FATA of the same source, metric and period: one figure of that source for KP
    combined = []
    if part.any():
        grp = t[part].groupby(["source", "metric", "period_type", "period"], sort=False)
        used: list[int] = []
        for (s, m, pt_, per), g in grp:
            provs = set(g["province"])
            if provs == {KP, FATA} and len(g) == 2:
                r0 = g.iloc[0].copy()
                r0["value"] = float(g["value"].sum())
                r0["cover"] = (KP,)
                r0["region"] = f"{KP} (sum of the source's mainland KP and ex-FATA figures)"
                r0["origin"] = " + ".join(g["origin"])
                combined.append(r0)
                used.extend(g.index.tolist())
        if combined:
            notes.append(f"{len(combined)} figures for Khyber Pakhtunkhwa incl. FATA are the sum of one source's own "
                         "mainland-KP and ex-FATA figures for the same period (--fata merge)")
            excl["mainland KP / ex-FATA figure pairs summed into one KP figure (pairs)"] = len(combined)
        rest = t[part & ~t.index.isin(used)]
        leave(rest, "mainland KP or ex-FATA alone under --fata merge (use --fata separate)")
    not_unit = t["cover"].map(lambda c: isinstance(c, str) and c != "part")
    leave(t[not_unit], "region is not a unit")
    t = t[~part & ~not_unit]
    if combined:
        t = pd.concat([t, pd.DataFrame(combined)], ignore_index=True)
    t = _drop_nested(t, excl, excluded)
    out = pd.DataFrame({"source": t["source"].astype(str), "metric": t["metric"].astype(str),
                        "measure": t["measure"].astype(str), "cover": list(t["cover"]), "first": list(t["first"]),
                        "last": list(t["last"]), "value": t["value"].astype(float),
                        "period_type": t["period_type"].astype(str), "region": t["region"].astype(str),
                        "origin": t["origin"].astype(str)})
    return out, excluded


def _drop_nested(t: pd.DataFrame, excl: dict[str, int], excluded: list[dict]) -> pd.DataFrame:
    """Leave out coarser figures whose every month is covered by the same source's finer figures
    (same metric and cover)."""
    if t.empty:
        return t
    t = t.reset_index(drop=True)
    drop = []
    for _, g in t.groupby([t["source"], t["metric"], t["cover"].map(lambda c: ",".join(c))], sort=False):
        if len(g) < 2:
            continue
        for i, r in g.iterrows():
            if _RANK.get(r["period_type"], 0) == 0:
                continue
            finer = g[(g.index != i) & (g["first"] >= r["first"]) & (g["last"] <= r["last"])
                      & ((g["last"] - g["first"]).map(lambda x: x.n) < (r["last"] - r["first"]).n)]
            if finer.empty:
                continue
            covered = set()
            for _, f in finer.iterrows():
                covered.update(range(f["first"].ordinal, f["last"].ordinal + 1))
            if covered >= set(range(r["first"].ordinal, r["last"].ordinal + 1)):
                drop.append(i)
    if drop:
        reason = "every month covered by the same source's finer figures (nested)"
        excl[reason] = len(drop)
        excluded.extend({"origin": o, "reason": reason} for o in t.loc[drop, "origin"])
    return t.drop(index=drop)


def build_observations(config: FusionConfig) -> ObservationTable:
    """The observation table of ``config``'s inputs (see the module rules)."""
    config.validate()
    units = list(province_list(config.fata))
    months = pd.period_range(config.start, config.end or default_end(), freq="M")
    excl: dict[str, int] = {}
    inputs: list[tuple[str, str]] = []
    notes: list[str] = []
    frames = _event_observations(config, units, months, excl, inputs)
    rep, excluded = _reported_observations(config, months, excl, inputs, notes)
    frame = pd.concat([*frames, rep], ignore_index=True)
    if config.as_of is not None:  # a past vintage: only the figures whose period had ended by then
        late = frame["last"] > pd.Period(config.as_of, "M")
        if late.any():
            reason = f"period ends after --as-of {config.as_of} (not yet published at that vintage)"
            excl[reason] = int(late.sum())
            excluded += [{"origin": o, "reason": reason} for o in frame.loc[late, "origin"]]
        frame = frame[~late].reset_index(drop=True)
    if frame.empty:
        raise InputError(f"no observation falls in {months[0]}..{config.as_of or months[-1]}")
    return ObservationTable(frame=frame, exclusions=excl, excluded=pd.DataFrame(excluded, columns=["origin", "reason"]),
                            inputs=inputs, units=units, months=months, notes=notes)


def choose_reference(frame: pd.DataFrame) -> tuple[str, str]:
    """``(source, reason)``: among sources observing every measure, the one whose months overlap
    most (summed over the other sources) with the other sources' months."""
    cover: dict[str, set[int]] = {}
    measures: dict[str, set[str]] = {}
    for s, f, la, me in zip(frame["source"], frame["first"], frame["last"], frame["measure"]):
        cover.setdefault(s, set()).update(range(f.ordinal, la.ordinal + 1))
        measures.setdefault(s, set()).add(me)
    need = set(frame["measure"])
    cands = [s for s in cover if measures[s] >= need]
    if not cands:
        raise InputError(f"no source observes every measure {sorted(need)}; choose --units")
    score = {s: sum(len(cover[s] & cover[o]) for o in cover if o != s) for s in cands}
    best = max(sorted(cands), key=lambda s: score[s])
    ranking = ", ".join(f"{s} {score[s]}" for s in sorted(cands, key=lambda s: -score[s]))
    return best, f"longest overlap with the other sources (source-months shared: {ranking})"


def known_steps(first: str | pd.Period, last: str | pd.Period) -> dict[str, str]:
    """The country profile's intervention months ``m`` with ``first < m`` and at least
    :data:`MIN_POST_MONTHS` months of figures after the step (``m + MIN_POST_MONTHS <= last``), as
    ``{"YYYY_MM": "YYYY-MM"}``: the steps a fit on months ``first..last`` can estimate."""
    from pakcast.forecast.country import profile

    first, last = pd.Period(first, "M"), pd.Period(last, "M")
    out = {}
    for when, label in profile().intervention_labels().items():
        m = pd.Period(when[:7], "M")
        if first < m and m + MIN_POST_MONTHS <= last:
            out[label] = str(m)
    return out


def model_effects(config: FusionConfig, table: ObservationTable) -> dict[str, str]:
    """The known-date steps a fit of ``table`` uses: ``config.effects`` when given, else
    :func:`known_steps` from the first month to the last month any figure of ``table`` covers."""
    if config.effects is not None:
        return dict(config.effects)
    return known_steps(table.months[0], table.frame["last"].max())


def parse_steps(text: str) -> dict[str, str] | None:
    """``--steps``: ``known`` (``None``: :func:`model_effects` picks the profile's dates), ``none``
    (``{}``) or comma-separated months ``YYYY-MM`` (each named ``YYYY_MM``)."""
    t = (text or "").strip().lower()
    if t == "known":
        return None
    if t == "none":
        return {}
    out = {}
    for part in (x.strip() for x in t.split(",")):
        if not _MONTH.fullmatch(part):
            raise InputError(f"--steps {text!r}: expected 'known', 'none' or months YYYY-MM separated by commas")
        out[part.replace("-", "_")] = part
    return out


def build_model(config: FusionConfig, table: ObservationTable) -> tuple[Any, str, str]:
    """``(MeasurementModel, reference units, reason)`` of ``table`` under ``config`` (nothing sampled)."""
    from pakcast.models.fusion import MeasurementModel

    if config.units:
        srcs = sorted(set(table.frame["source"]))
        match = [s for s in srcs if s.lower() == config.units.lower()]
        if not match:
            raise InputError(f"--units {config.units!r}: not a source of this run; sources: {srcs}")
        units, reason = match[0], "chosen with --units"
    else:
        units, reason = choose_reference(table.frame)
    effects = {name: pd.Period(when, "M") for name, when in model_effects(config, table).items()}
    model = MeasurementModel(table.frame, units, table.units, table.months, measures=list(MEASURES),
                             effects=effects)
    return model, units, reason


def fit_fusion(config: FusionConfig, table: ObservationTable | None = None) -> FusionRun:
    """Build the observations (unless given), choose the reference units and fit the model."""
    t0 = time.perf_counter()
    table = table or build_observations(config)
    t1 = time.perf_counter()
    model, units, reason = build_model(config, table)
    res = model.fit(random_seed=config.random_seed, draws=config.draws, tune=config.tune, chains=config.chains)
    t2 = time.perf_counter()
    return FusionRun(config=config, table=table, units=units, units_reason=reason, results=res,
                     seconds={"observations": t1 - t0, "fit": t2 - t1,
                              "fit_cpu": float(res.idata.attrs.get("fit_cpu_seconds", float("nan")))})


# ------------------------------------------------------------------------------------------------
# outputs

def fused_frame(fr: FusionRun) -> pd.DataFrame:
    """``fused.csv``: ``province`` (incl. ``Pakistan`` = sum of provinces, draw by draw), ``month``,
    ``measure``, ``mean, median, q05, q25, q75, q95`` (latent intensity in reference units),
    ``observed_by`` (sources whose figures cover that province-month), ``units``."""
    res = fr.results
    units = fr.table.units
    parts = []
    for me in MEASURES:
        lat = res.latent(me, aggregate={NATIONAL: units})
        ob = res.observed_by(me)
        nat = ob.groupby("month")["sources"].agg(lambda s: ",".join(sorted({x for v in s for x in v.split(",") if x})))
        ob = pd.concat([ob, pd.DataFrame({"unit": NATIONAL, "month": nat.index, "sources": nat.to_numpy()})])
        lat = lat.merge(ob, on=["unit", "month"], how="left")
        ref = res.reference()[me]
        lat["units"] = f"{me} as {ref['source']} counts them ({ref['metric']})"
        parts.append(lat)
    f = pd.concat(parts, ignore_index=True).rename(columns={"unit": "province", "sources": "observed_by"})
    f["month"] = f["month"].astype(str)
    return f[["province", "month", "measure", "mean", "median", "q05", "q25", "q75", "q95", "observed_by", "units"]]


def sources_frame(fr: FusionRun) -> pd.DataFrame:
    """``sources.csv``: one row per source and metric with its scale (90% interval) and dispersion."""
    sc = fr.results.scales()
    sc["first"] = sc["first"].astype(str)
    sc["last"] = sc["last"].astype(str)
    sc["units"] = fr.units
    return sc.rename(columns={"estimate": "scale", "ci_low": "scale_ci_low", "ci_high": "scale_ci_high"})


def write_outputs(fr: FusionRun, out: str | Path) -> list[Path]:
    """Write ``fused.csv``, ``sources.csv``, ``observations.csv``, ``idata.nc``, ``fusion.json``, figures and
    ``manifest.json`` into ``out`` (atomically, each file)."""
    from pakcast.forecast.io import atomic_write_bytes, write_csv, write_json
    from pakcast.forecast.manifest import RunManifest

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_csv(out / "fused.csv", fused_frame(fr)), write_csv(out / "sources.csv", sources_frame(fr))]
    obs = fr.table.frame.copy()
    obs["cover"] = obs["cover"].map(lambda c: ";".join(c))
    obs["first"], obs["last"] = obs["first"].astype(str), obs["last"].astype(str)
    written.append(write_csv(out / "observations.csv", obs))
    if len(fr.table.excluded):
        written.append(write_csv(out / "excluded.csv", fr.table.excluded))
    tmp = out / ".idata.nc.tmp"
    idata = fr.results.idata
    idata.to_netcdf(str(tmp))
    atomic_write_bytes(out / "idata.nc", tmp.read_bytes())
    tmp.unlink()
    written.append(out / "idata.nc")
    if fr.config.figures:
        from pakcast.forecast.fusion_figures import province_figures

        written.extend(province_figures(fr, out / "figures"))
    written.append(write_json(out / "fusion.json", fr.to_dict()))
    man = RunManifest(command="fuse", options=_options(fr.config))
    man.random_seeds = {"random_seed": fr.config.random_seed}
    for p, role in fr.table.inputs:
        man.add_input(p, role=role)
    man.notes.extend([f"units: {fr.units} ({fr.units_reason})", fr.results.diagnostics.message(), *fr.table.notes])
    man.add_outputs(out)
    written.append(man.write(out))
    return written


def _options(c: FusionConfig) -> dict:
    return {"events": [list(e) for e in c.events], "reported": list(c.reported), "start": c.start,
            "end": c.end or default_end(), "units": c.units, "fata": c.fata, "random_seed": c.random_seed,
            "draws": c.draws, "tune": c.tune, "chains": c.chains, "metrics": c.metrics,
            "exclude_sources": list(c.exclude_sources),
            "effects": "known dates (country profile)" if c.effects is None else dict(c.effects), "as_of": c.as_of}


def run(config: FusionConfig) -> FusionRun:
    """``pakcast fuse``: build, fit and write (``config.out``, and ``config.json`` when given)."""
    from pakcast.forecast.io import write_json

    config.validate()
    fr = fit_fusion(config)
    if config.out:
        write_outputs(fr, config.out)
    if config.json:
        write_json(config.json, fr.to_dict())
    return fr


def summary_lines(fr: FusionRun) -> list[str]:
    """Plain-text lines for the CLI."""
    sc = sources_frame(fr)
    lines = [f"units: {fr.units} ({fr.units_reason})", f"as of {fr.as_of}; months {fr.table.months[0]}.."
             f"{fr.table.months[-1]}; {len(fr.table.frame)} observations",
             fr.results.diagnostics.message()]
    steps = model_effects(fr.config, fr.table)
    lines.append("known-date steps: " + (", ".join(steps.values()) if steps else "none"))
    for r in sc.itertuples():
        tag = " (reference)" if r.reference else ""
        lines.append(f"  {r.source:<6} {r.metric:<17} scale {r.scale:7.3f} [{r.scale_ci_low:.3f}, {r.scale_ci_high:.3f}]"
                     f"  n={r.n_obs:<5} {r.first}..{r.last}{tag}")
    if fr.table.exclusions:
        lines.append("excluded: " + "; ".join(f"{k}: {v}" for k, v in fr.table.exclusions.items()))
    return lines


def parse_events(events: Sequence[str], sources: Sequence[str]) -> list[tuple[str, str]]:
    """Pair ``--events`` files with ``--source`` names (one each, in order)."""
    events, sources = list(events or []), list(sources or [])
    if len(events) != len(sources):
        raise InputError(f"give one --source per --events file ({len(events)} files, {len(sources)} sources)")
    return list(zip(events, sources))
