r"""Province x period panels from the canonical event table, and the shipped default panels.

A panel is long (contract in ``docs/ARCHITECTURE.md``): ``unique_id`` (a province or
``Pakistan``), ``ds`` (period start), ``attacks`` (number of events), ``killed`` (sum of the best
estimate), ``killed_low``, ``killed_high``, ``injured`` (NaN when the source records no injuries)
and ``population``. Every province x period cell is present (explicit zeros).

Rules, applied in this order (each exclusion is counted in :class:`PanelReport`):

1. **Scope** (``scope``): ``"militant"`` (default), ``"foreign"`` (foreign-state strikes, e.g. US
   drones), ``"interstate"`` (India-Pakistan), ``"other"`` (non-violent or non-militant events of
   sources that record them, e.g. ACLED protests), a comma list of these, or ``"all"``. The UCDP fields
   that decide it are documented in :mod:`forecast.sources.ucdp`.
2. **Filters**: date range (``start``/``end``, on the event's first possible date), UCDP
   ``type_of_violence`` (1, 2, 3), ``actor`` (case-insensitive substring of the actor names).
3. **Date precision**: an event enters the period :math:`p` of the panel's frequency only if its whole
   possible-date interval lies in it, :math:`[\text{date}, \text{date\_end}] \subseteq p`. Events
   whose interval crosses a period boundary are excluded from that panel (never piled on the first
   day of the interval) and counted with their deaths. In the UCDP extract this excludes the two
   whole-year national aggregates (ids 57152 and 52824, 2,156 best deaths) from every panel finer
   than a year; they count only in the year panel.
4. **Province**: events with no province (no ``adm_1`` and no usable coordinates) are kept in the
   national ``Pakistan`` series and counted as unassigned; so
   :math:`\text{Pakistan} = \sum \text{provinces} + \text{unassigned}` for every measure.
   ``fata="merge"`` (default) adds FATA to Khyber Pakhtunkhwa.

Population (:func:`population`) is the census count of 1998, 2017 and 2023 interpolated
log-linearly at the period's midpoint and extrapolated with the nearest intercensal growth rate:

.. math::

    P(t) = P(c_i) \left(\frac{P(c_{i+1})}{P(c_i)}\right)^{(t - c_i)/(c_{i+1} - c_i)}

with census dates 1998-03-01, 2017-04-01 and 2023-04-01. ``Pakistan`` is the PBS census total
(which excludes Azad Jammu and Kashmir and Gilgit-Baltistan). See :func:`population` for FATA,
AJK and GB.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from pakcast.forecast import paths
from pakcast.forecast.provinces import FATA, KP, NATIONAL, apply_fata, province_list

FREQS: dict[str, str] = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}
MEASURES = ["attacks", "killed", "killed_low", "killed_high", "injured"]
PANEL_COLUMNS = ["unique_id", "ds", *MEASURES, "population"]
CSV_COLUMNS = ["province", "period", *MEASURES, "population"]
SCOPE_VALUES = ("militant", "foreign", "interstate", "other")
SCOPE_OPTIONS = ("militant", "all", "foreign", "interstate", "other")

SHIPPED_EVENTS = "events_ucdp.csv.gz"
SHIPPED_META = "panels.json"
CENSUS_DATES = {1998: "1998-03-01", 2017: "2017-04-01", 2023: "2023-04-01"}


# ---------------------------------------------------------------------------------------------
# selection
# ---------------------------------------------------------------------------------------------
def parse_scope(scope: str | Sequence[str]) -> tuple[str, ...]:
    """Scope option -> tuple of scope values (``"all"`` = every value)."""
    items = [s.strip() for s in (scope.split(",") if isinstance(scope, str) else scope) if s.strip()]
    if not items:
        raise ValueError("scope is empty")
    if "all" in items:
        return SCOPE_VALUES
    bad = [s for s in items if s not in SCOPE_VALUES]
    if bad:
        raise ValueError(f"unknown scope {bad}; choose from {SCOPE_OPTIONS} or a comma list of {SCOPE_VALUES}")
    return tuple(items)


def _check_freq(freq: str) -> str:
    if freq not in FREQS:
        raise ValueError(f"freq must be one of {tuple(FREQS)}, got {freq!r}")
    return FREQS[freq]


@dataclass
class PanelReport:
    """What went into a panel and what was left out, with counts and deaths."""

    freq: str
    fata: str
    scope: str
    events_total: int
    events_in_scope: int
    events_out_of_scope: int
    events_filtered: int
    excluded_date_precision: int
    excluded_date_precision_killed: int
    excluded_date_precision_ids: list[str]
    unassigned_province: int
    unassigned_province_killed: int
    unassigned_province_ids: list[str]
    events_in_panel: int
    killed_in_panel: int
    start: str | None
    end: str | None
    source: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def select_events(events: pd.DataFrame, scope: str | Sequence[str] = "militant", *,
                  start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None,
                  type_of_violence: Iterable[int] | int | None = None,
                  actor: str | None = None) -> pd.DataFrame:
    """Events in scope that pass the filters (date range on ``date``, type of violence, actor)."""
    keep = events["scope"].isin(parse_scope(scope)).fillna(False).to_numpy(dtype=bool)
    if start is not None:
        keep = keep & (events["date"] >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep = keep & (events["date"] <= pd.Timestamp(end)).to_numpy()
    if type_of_violence is not None:
        tv = [type_of_violence] if isinstance(type_of_violence, int) else list(type_of_violence)
        keep = keep & events["type_of_violence"].isin(tv).fillna(False).to_numpy(dtype=bool)
    if actor:
        keep = keep & events["actor"].str.contains(actor, case=False, regex=False).fillna(False).to_numpy(dtype=bool)
    return events[keep]


def contained_in_period(events: pd.DataFrame, freq: str) -> np.ndarray:
    """True where ``[date, date_end]`` lies inside one period of ``freq`` (the date-precision rule)."""
    f = _check_freq(freq)
    end = events["date_end"].fillna(events["date"])
    return (events["date"].dt.to_period(f) == end.dt.to_period(f)).to_numpy()


# ---------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------
def build_panel_with_report(
    events: pd.DataFrame, freq: str = "month", *, fata: str = "merge",
    scope: str | Sequence[str] = "militant", start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None, type_of_violence: Iterable[int] | int | None = None,
    actor: str | None = None, with_population: bool = True,
    coverage: tuple[str | pd.Timestamp, str | pd.Timestamp] | None = None,
    census: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, PanelReport]:
    """:func:`build_panel` plus the :class:`PanelReport` of what was excluded."""
    f = _check_freq(freq)
    provinces = province_list(fata)
    scope_vals = parse_scope(scope)
    in_scope = select_events(events, scope_vals)
    sel = select_events(in_scope, scope_vals, start=start, end=end, type_of_violence=type_of_violence,
                        actor=actor)
    inside = contained_in_period(sel, freq)
    dropped = sel[~inside]
    used = sel[inside]
    prov = apply_fata(used["province"], fata)
    unassigned = prov.isna().to_numpy()

    # the period range: the coverage (default whole calendar years spanned by the events in scope)
    if coverage is not None:
        lo, hi = pd.Timestamp(coverage[0]), pd.Timestamp(coverage[1])
    elif len(in_scope):
        lo = pd.Timestamp(year=int(in_scope["date"].min().year), month=1, day=1)
        hi = pd.Timestamp(year=int(in_scope["date_end"].fillna(in_scope["date"]).max().year), month=12, day=31)
    else:
        raise ValueError("no events in scope and no coverage given: cannot choose the panel's periods")
    if start is not None:
        lo = max(lo, pd.Timestamp(start))
    if end is not None:
        hi = min(hi, pd.Timestamp(end))
    periods = pd.period_range(lo.to_period(f), hi.to_period(f), freq=f)

    has_injured = bool(events["injured"].notna().any()) if len(events) else False
    per = used["date"].dt.to_period(f)
    frame = pd.DataFrame({
        "period": per.to_numpy(), "province": prov.to_numpy(dtype=object, na_value=None),
        "attacks": np.ones(len(used), dtype=np.int64),
        "killed": used["killed"].fillna(0).to_numpy(dtype=np.int64),
        "killed_low": used["killed_low"].fillna(used["killed"]).fillna(0).to_numpy(dtype=np.int64),
        "killed_high": used["killed_high"].fillna(used["killed"]).fillna(0).to_numpy(dtype=np.int64),
        "injured": used["injured"].astype("Float64").fillna(0).to_numpy(dtype=float),
    })
    counts = ["attacks", "killed", "killed_low", "killed_high", "injured"]
    nat = frame.groupby("period")[counts].sum()
    byp = frame[~unassigned].groupby(["province", "period"])[counts].sum()
    idx_p = pd.MultiIndex.from_product([list(provinces), periods], names=["province", "period"])
    byp = byp.reindex(idx_p, fill_value=0)
    nat = nat.reindex(periods, fill_value=0)
    nat.index = pd.MultiIndex.from_product([[NATIONAL], periods], names=["province", "period"])
    out = pd.concat([byp, nat]).reset_index()
    for c in counts[:-1]:
        out[c] = out[c].astype(np.int64)
    out["injured"] = out["injured"].astype(float) if has_injured else np.nan
    out["ds"] = out["period"].dt.start_time.astype("datetime64[ns]")
    out = out.rename(columns={"province": "unique_id"})
    if with_population:
        out["population"] = population(out["unique_id"], period_midpoint(out["period"]), fata=fata,
                                       census=census)
    else:
        out["population"] = np.nan
    out["unique_id"] = out["unique_id"].astype("string")
    out = out[PANEL_COLUMNS].sort_values(["unique_id", "ds"], key=_order_key).reset_index(drop=True)

    rep = PanelReport(
        freq=freq, fata=fata, scope=",".join(scope_vals) if scope_vals != SCOPE_VALUES else "all",
        events_total=int(len(events)), events_in_scope=int(len(in_scope)),
        events_out_of_scope=int(len(events) - len(in_scope)),
        events_filtered=int(len(in_scope) - len(sel)),
        excluded_date_precision=int(len(dropped)),
        excluded_date_precision_killed=int(dropped["killed"].fillna(0).sum()),
        excluded_date_precision_ids=sorted(dropped["event_id"].astype(str).tolist(), key=_numkey),
        unassigned_province=int(unassigned.sum()),
        unassigned_province_killed=int(used.loc[unassigned, "killed"].fillna(0).sum()),
        unassigned_province_ids=sorted(used.loc[unassigned, "event_id"].astype(str).tolist(), key=_numkey),
        events_in_panel=int(len(used)), killed_in_panel=int(used["killed"].fillna(0).sum()),
        start=str(periods[0].start_time.date()) if len(periods) else None,
        end=str(periods[-1].end_time.date()) if len(periods) else None,
        source=sorted(events["source"].dropna().unique().tolist()),
    )
    return out, rep


def build_panel(events: pd.DataFrame, freq: str = "month", *, fata: str = "merge",
                scope: str | Sequence[str] = "militant", start: str | pd.Timestamp | None = None,
                end: str | pd.Timestamp | None = None,
                type_of_violence: Iterable[int] | int | None = None, actor: str | None = None,
                with_population: bool = True,
                coverage: tuple[str | pd.Timestamp, str | pd.Timestamp] | None = None,
                census: pd.DataFrame | None = None) -> pd.DataFrame:
    """Province x period panel (contract form) from a canonical event table.

    Parameters
    ----------
    events : canonical event table (one source; sources are never pooled).
    freq : ``day``, ``week`` (Monday-Sunday), ``month``, ``quarter`` or ``year``.
    fata : ``"merge"`` FATA into Khyber Pakhtunkhwa (default) or keep it ``"separate"``.
    scope : ``"militant"`` (default), ``"all"``, ``"foreign"``, ``"interstate"`` or a comma list.
    start, end : keep events whose first possible date is in ``[start, end]``; also trims the periods.
    type_of_violence : UCDP type(s) to keep (1 state-based, 2 non-state, 3 one-sided).
    actor : keep events whose actor contains this text (case-insensitive).
    with_population : add census population (see :func:`population`).
    coverage : first and last day the panel spans (default: the whole calendar years of the events).
    census : census points for population (default: the shipped ``population_census.csv``).

    Returns
    -------
    DataFrame with ``unique_id, ds, attacks, killed, killed_low, killed_high, injured, population``;
    the :class:`PanelReport` is in :func:`build_panel_with_report`.
    """
    return build_panel_with_report(events, freq, fata=fata, scope=scope, start=start, end=end,
                                   type_of_violence=type_of_violence, actor=actor,
                                   with_population=with_population, coverage=coverage, census=census)[0]


def add_rates(panel: pd.DataFrame, measures: Sequence[str] = ("attacks", "killed"),
              per: float = 100_000) -> pd.DataFrame:
    """Add ``<measure>_per_100k`` = measure / population x ``per`` (NaN where population is unknown)."""
    out = panel.copy()
    pop = out["population"].astype(float)
    for m in measures:
        out[f"{m}_per_{int(per) // 1000}k"] = out[m].astype(float) / pop * per
    return out


def period_midpoint(period: pd.Series) -> pd.Series:
    """Midpoint of each period (where population is evaluated)."""
    start = period.dt.start_time
    return start + (period.dt.end_time - start) / 2


def _numkey(s: str):
    return (0, int(s)) if s.isdigit() else (1, s)


def _order_key(col: pd.Series) -> pd.Series:
    if col.name == "unique_id":
        order = {p: i for i, p in enumerate([*province_list("separate"), NATIONAL])}
        return col.map(lambda v: order.get(v, 99))
    return col


# ---------------------------------------------------------------------------------------------
# population
# ---------------------------------------------------------------------------------------------
POPULATION_FILE = "population_census.csv"


def census_table(shared_dir: str | Path | None = None) -> pd.DataFrame:
    """Census points ``unit, census_year, date, population`` used for interpolation.

    Derived from ``shared/data/covariates/population_province.csv`` (PBS final results; the 2023
    gazette; AJK's own 2017 count) by :func:`derive_census_table`, shipped as
    ``data/population_census.csv``.
    """
    if shared_dir is not None:
        return derive_census_table(shared_dir)
    return pd.read_csv(paths.shipped(POPULATION_FILE), parse_dates=["date"])


def derive_census_table(shared_dir: str | Path) -> pd.DataFrame:
    """Build the census-point table from the shared population file.

    * ``Khyber Pakhtunkhwa (merged)`` = KP + FATA in 1998 and 2017 (final), KP in 2023 (which
      includes ex-FATA); ``Khyber Pakhtunkhwa (separate)`` and ``FATA`` are the 1998 and 2017
      finals, and 2023 is split by the 2017 shares (PBS published no ex-FATA split in the
      2023 gazette): an assumption, stated here.
    * ``Azad Jammu and Kashmir``: the single 2017 AJK count, carried with the national growth rate.
    * ``Pakistan``: PBS census totals (provinces + FATA + ICT; excludes AJK and GB).
    * Gilgit-Baltistan: no traceable census figure, so population is missing.
    """
    src = pd.read_csv(Path(shared_dir) / "data" / "covariates" / "population_province.csv")
    fin = src[src["release"].isin(["final", "final (gazette)", "separate AJK census"])]
    pop = {(r.unit, int(r.census_year)): int(r.population) for r in fin.itertuples()}
    rows = []
    for unit in ("Punjab", "Sindh", "Balochistan", "Islamabad Capital Territory"):
        for y in (1998, 2017, 2023):
            rows.append((unit, y, pop[(unit, y)]))
    kp98, kp17, fa98, fa17 = pop[(KP, 1998)], pop[(KP, 2017)], pop[(FATA, 1998)], pop[(FATA, 2017)]
    kp23 = pop[("Khyber Pakhtunkhwa incl. ex-FATA", 2023)]
    share17 = fa17 / (kp17 + fa17)
    rows += [(f"{KP} (merged)", 1998, kp98 + fa98), (f"{KP} (merged)", 2017, pop[("Khyber Pakhtunkhwa incl. ex-FATA", 2017)]),
             (f"{KP} (merged)", 2023, kp23),
             (f"{KP} (separate)", 1998, kp98), (f"{KP} (separate)", 2017, kp17),
             (f"{KP} (separate)", 2023, int(round(kp23 * (1 - share17)))),
             (FATA, 1998, fa98), (FATA, 2017, fa17), (FATA, 2023, int(round(kp23 * share17)))]
    nat = {y: sum(pop[(u, y)] for u in ("Punjab", "Sindh", "Balochistan", "Islamabad Capital Territory"))
           for y in (1998, 2017, 2023)}
    nat[1998] += kp98 + fa98
    nat[2017] += kp17 + fa17
    nat[2023] += kp23
    rows += [(NATIONAL, y, v) for y, v in nat.items()]
    g = (nat[2023] / nat[2017]) ** (1 / 6.0)
    ajk17 = pop[("Azad Jammu and Kashmir", 2017)]
    rows += [("Azad Jammu and Kashmir", 2017, ajk17)]
    out = pd.DataFrame(rows, columns=["unit", "census_year", "population"])
    out["date"] = pd.to_datetime(out["census_year"].map(CENSUS_DATES))
    out["note"] = ""
    out.loc[out["unit"].eq(FATA) & out["census_year"].eq(2023), "note"] = "split of KP 2023 by 2017 FATA share"
    out.loc[out["unit"].eq(f"{KP} (separate)") & out["census_year"].eq(2023), "note"] = "split of KP 2023 by 2017 FATA share"
    out.loc[out["unit"].eq("Azad Jammu and Kashmir"), "note"] = (
        f"AJK own 2017 count (partial); carried at the national 2017-2023 growth rate {100 * (g - 1):.3f}%/yr")
    return out[["unit", "census_year", "date", "population", "note"]]


def population(unit: pd.Series | Sequence[str], when: pd.Series | Sequence[pd.Timestamp], *,
               fata: str = "merge", census: pd.DataFrame | None = None) -> np.ndarray:
    """Population of each (province, date): log-linear interpolation of the census counts.

    Extrapolation uses the nearest intercensal growth rate (before 1998: 1998-2017; after 2023:
    2017-2023). A unit with one census point (AJK) grows at the national 2017-2023 rate. Units
    without a census figure (Gilgit-Baltistan) get NaN.
    """
    census = census_table() if census is None else census
    unit = pd.Series(unit).astype("string").reset_index(drop=True)
    when = pd.to_datetime(pd.Series(when)).reset_index(drop=True)
    t = when.to_numpy(dtype="datetime64[ns]").astype("int64") / (365.2425 * 86400e9)
    out = np.full(len(unit), np.nan)
    nat = census[census["unit"] == NATIONAL].sort_values("date")
    for u in unit.dropna().unique():
        key = (f"{KP} (merged)" if fata == "merge" else f"{KP} (separate)") if u == KP else u
        pts = census[census["unit"] == key].sort_values("date")
        if pts.empty:
            continue
        m = (unit == u).to_numpy()
        ct = pts["date"].to_numpy(dtype="datetime64[ns]").astype("int64") / (365.2425 * 86400e9)
        lp = np.log(pts["population"].to_numpy(dtype=float))
        if len(pts) == 1:
            nct = nat["date"].to_numpy(dtype="datetime64[ns]").astype("int64") / (365.2425 * 86400e9)
            nlp = np.log(nat["population"].to_numpy(dtype=float))
            rate = (nlp[-1] - nlp[-2]) / (nct[-1] - nct[-2])
            out[m] = np.exp(lp[0] + rate * (t[m] - ct[0]))
            continue
        tm = t[m]
        val = np.interp(tm, ct, lp)
        r0 = (lp[1] - lp[0]) / (ct[1] - ct[0])
        r1 = (lp[-1] - lp[-2]) / (ct[-1] - ct[-2])
        val = np.where(tm < ct[0], lp[0] + r0 * (tm - ct[0]), val)
        val = np.where(tm > ct[-1], lp[-1] + r1 * (tm - ct[-1]), val)
        out[m] = np.exp(val)
    return np.round(out)


# ---------------------------------------------------------------------------------------------
# CSV form and the shipped tables
# ---------------------------------------------------------------------------------------------
def period_label(ds: pd.Series, freq: str) -> pd.Series:
    """CSV ``period`` label: the period start date ``YYYY-MM-DD`` for every frequency."""
    _check_freq(freq)
    return pd.to_datetime(ds).dt.strftime("%Y-%m-%d")


def to_csv_form(panel: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Contract panel -> CSV columns ``province, period, attacks, ..., population``."""
    out = panel.rename(columns={"unique_id": "province"}).copy()
    out["period"] = period_label(out.pop("ds"), freq)
    out["population"] = out["population"].astype("Int64") if out["population"].notna().any() else out["population"]
    return out[CSV_COLUMNS]


def from_csv_form(df: pd.DataFrame) -> pd.DataFrame:
    """CSV columns -> contract panel (``unique_id``, ``ds`` Timestamp; measures typed)."""
    out = df.rename(columns={"province": "unique_id", "period": "ds"}).copy()
    out["unique_id"] = out["unique_id"].astype("string")
    out["ds"] = pd.to_datetime(out["ds"]).astype("datetime64[ns]")
    for c in ("attacks", "killed", "killed_low", "killed_high"):
        out[c] = out[c].astype(np.int64)
    for c in ("injured", "population"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    return out[PANEL_COLUMNS]


def shipped_panel_name(freq: str, fata: str = "merge", scope: str = "militant") -> str:
    """File name of a shipped panel: ``panel_province_<freq>[_fata-separate][_scope-<scope>].csv[.gz]``."""
    name = f"panel_province_{freq}"
    if fata != "merge":
        name += f"_fata-{fata}"
    if scope != "militant":
        name += f"_scope-{scope.replace(',', '+')}"
    return name + (".csv.gz" if freq == "day" else ".csv")


def load_shipped_events() -> pd.DataFrame:
    """The shipped UCDP event table (all scopes; derived fields only) in canonical form."""
    from pakcast.forecast.validate import coerce_events  # local import: validate is heavier than panel

    df = pd.read_csv(paths.shipped(SHIPPED_EVENTS), dtype={"event_id": "string", "province": "string"},
                     parse_dates=["date", "date_end"])
    if "source" not in df:
        df["source"] = "ucdp"  # the shipped event table is the UCDP GED extract
    return coerce_events(df)


def shipped_meta() -> dict[str, Any]:
    """Metadata of the shipped panels (coverage, exclusion counts per file)."""
    return json.loads(paths.shipped(SHIPPED_META).read_text(encoding="utf-8"))


def load_panel(freq: str = "month", fata: str = "merge", scope: str = "militant") -> pd.DataFrame:
    """The shipped UCDP panel in contract form; works offline (no ``../shared`` needed).

    Reads the shipped panel file for ``(freq, fata, scope)`` when there is one (the day table
    stores only non-zero cells, and the explicit zeros are restored here); otherwise builds
    the panel from the shipped event table with the same rules.

    Examples
    --------
    >>> p = load_panel("month")
    >>> p[p.unique_id == "Pakistan"].attacks.sum() > 0
    True
    """
    _check_freq(freq)
    province_list(fata)
    scope_key = "all" if set(parse_scope(scope)) == set(SCOPE_VALUES) else ",".join(parse_scope(scope))
    name = shipped_panel_name(freq, fata, scope_key)
    path = paths.shipped_dir() / name
    if path.exists():
        if freq == "day":
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                nz = pd.read_csv(fh)
            return _restore_zeros(from_csv_form(nz), freq, fata)
        return from_csv_form(pd.read_csv(path))
    meta = shipped_meta()
    return build_panel(load_shipped_events(), freq, fata=fata, scope=scope_key,
                       coverage=(meta["coverage_start"], meta["coverage_end"]))


def _restore_zeros(nz: pd.DataFrame, freq: str, fata: str) -> pd.DataFrame:
    meta = shipped_meta()
    f = FREQS[freq]
    periods = pd.period_range(pd.Timestamp(meta["coverage_start"]).to_period(f),
                              pd.Timestamp(meta["coverage_end"]).to_period(f), freq=f)
    units = [*province_list(fata), NATIONAL]
    idx = pd.MultiIndex.from_product([units, periods.start_time.astype("datetime64[ns]")],
                                     names=["unique_id", "ds"])
    full = nz.set_index(["unique_id", "ds"])[MEASURES].reindex(idx)
    for c in ("attacks", "killed", "killed_low", "killed_high"):
        full[c] = full[c].fillna(0).astype(np.int64)
    injured_known = nz["injured"].notna().any()
    full["injured"] = full["injured"].fillna(0.0) if injured_known else np.nan
    full = full.reset_index()
    full["unique_id"] = full["unique_id"].astype("string")
    per = pd.to_datetime(full["ds"]).dt.to_period(f)
    full["population"] = population(full["unique_id"], period_midpoint(per), fata=fata)
    return full[PANEL_COLUMNS]


def load_run_panel(input: str | Path | None = None, *, encoding: str = "utf-8", source_label: str | None = None,
                   refresh: dict[str, Any] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The monthly panel a forecasting run works on, and its coverage: the one loader behind
    ``pakcast quarterly`` and ``pakcast backtest``.

    ``input`` is ``None`` for the shipped panel (:func:`load_panel`) or a panel CSV in the CLI form
    (``province, period, attacks, killed, ...``), read by the strict reader and checked cell by
    cell (:func:`panel_from_csv`). Returns ``(panel, coverage)``: ``coverage`` holds the source,
    file, first and last period and the exclusions, plus ``_path`` (the input file for the
    manifest) and ``_sources`` (its :class:`forecast.run_result.SourceCredit` entries, named
    ``source_label`` when given; a panel built by ``--refresh`` is credited to the sources of
    ``refresh``, the refresh report).
    """
    from pakcast.forecast.country import profile
    from pakcast.forecast.io import sha256_file
    from pakcast.forecast.run_result import SourceCredit

    if input is None:
        panel = load_panel("month")
        meta = shipped_meta()
        pm = meta.get("panels", {}).get(shipped_panel_name("month"), {})
        coverage: dict[str, Any] = {
            "source": meta.get("source"), "file": "pakcast.data/" + shipped_panel_name("month"),
            "start": pm.get("start", meta.get("coverage_start")), "end": pm.get("end", meta.get("coverage_end")),
            "scope": pm.get("scope"), "fata": pm.get("fata"),
            "exclusions": {k: v for k, v in pm.items() if k.startswith(("excluded", "unassigned", "events_out"))
                           and not k.endswith("_ids")},
        }
        path = paths.shipped(shipped_panel_name("month"))
        coverage["_path"] = str(path)
        country = profile()
        coverage["_sources"] = [
            SourceCredit(name=source_label or country.source("ucdp"), file=path.name, sha256=sha256_file(path),
                         coverage=f"{coverage['start']} to {coverage['end']}", licence="CC BY 4.0",
                         citation=country.source("ucdp_citation"), role="events (panel)"),
            SourceCredit(name=country.source("population"), licence="official statistics",
                         coverage="interpolated by the panel builder", citation="PBS census results",
                         role="population"),
        ]
    else:
        from pakcast.forecast.validate import read_csv_records

        raw = read_csv_records(input, encoding=encoding, columns=("province", "period", "attacks", "killed"))
        panel = panel_from_csv(raw, str(input))
        coverage = {"source": f"user panel {input}", "file": str(input),
                    "start": str(panel["ds"].min().date()), "end": str(panel["ds"].max().date()),
                    "exclusions": {}, "_path": str(input),
                    "_sources": [SourceCredit.user_file(input, source_label or _refreshed(refresh),
                                                        rows=int(len(raw.frame)), role="panel")]}
    return panel, coverage


def _refreshed(refresh: dict[str, Any] | None) -> str | None:
    """The credit of a panel built by ``--refresh``: the sources fetched into the store."""
    if not refresh:
        return None
    ok = [f"{s.get('name')}" for s in refresh.get("sources", []) if s.get("status") == "ok"]
    return f"panel built from the store after refreshing {', '.join(ok)}" if ok else None


def panel_from_csv(raw, name: str) -> pd.DataFrame:
    """A user panel CSV (province, period, attacks, killed, ...; a :class:`forecast.validate.RawTable`
    from the strict reader) in contract form. Province names are checked as ingest checks them
    (:func:`forecast.provinces.canonical_province`), periods and counts cell by cell; every bad
    cell is an error naming file, line and column. The national series is added as the sum of the
    provinces when the file has no ``Pakistan`` rows."""
    from pakcast.forecast.provinces import canonical_province
    from pakcast.forecast.validate import Checker, ValidationError, require_columns

    require_columns(raw, ("province", "period", "attacks", "killed"),
                    " (the panel CSV form province, period, attacks, killed, ...)")
    f = raw.frame
    if f.empty and not raw.bad_width:
        raise ValidationError([], header=f"{name}: no data rows after the header; expected one row per province "
                                         "and month")
    ck = Checker(raw, "panel")
    ck.required("province")
    names = {}
    for u in pd.unique(f["province"].dropna()):
        try:
            names[u] = canonical_province(u)
        except KeyError:
            pass
    ck.flag(f["province"].notna() & ~f["province"].isin(list(names)), "province",
            "a known Pakistani province spelling or Pakistan (see forecast.provinces)")
    ds = pd.to_datetime(f["period"], format="mixed", errors="coerce")
    ck.flag(f["period"].notna() & ds.isna(), "period", "a month like 2021-12")
    ck.required("period")
    counts = {c: ck.integer(c) for c in ("attacks", "killed")}
    ck.finish("raise")
    out = pd.DataFrame({"unique_id": f["province"].map(names).astype(str).to_numpy()})
    out["ds"] = ds.dt.to_period("M").dt.to_timestamp().to_numpy()
    for c, v in counts.items():
        out[c] = v.astype(np.int64).to_numpy()
    if NATIONAL not in set(out["unique_id"]):
        nat = out.groupby("ds", as_index=False)[["attacks", "killed"]].sum().assign(unique_id=NATIONAL)
        out = pd.concat([out, nat[out.columns]], ignore_index=True)
    return out.sort_values(["unique_id", "ds"]).reset_index(drop=True)
