"""Covariates for Pakistan: economic, political and security features with no look-ahead.

Reads the raw covariate tables in ``shared/data/covariates`` (see its PROVENANCE.md) and builds
model-ready monthly and quarterly features, shipped as ``data/covariates_month.csv`` and
``data/covariates_quarter.csv`` (long format: ``unique_id, ds, <features>``; one row per province
or ``Pakistan`` and period). ``build_shipped_tables`` (called by ``pakcast data build``) writes
them; ``load_covariates`` reads them back from the installed package.

Rules (each feature's own rule is in :data:`FEATURES` and in ``data/covariates_meta.csv``):

* **Publication lags.** A feature for month *t* uses only what was public at the start of
  month *t*. Monthly CPI inflation for month *t-1* is released by PBS in the first days of
  month *t*: lag 1. The SBP policy rate at the end of month *t-1*: lag 1. World Development
  Indicators for year *Y* (fiscal year July(Y-1)-June(Y) for national accounts, calendar year
  for CPI, exchange rate and ILO unemployment) enter as a **step from July of year Y+1** and are
  never interpolated (an interpolation would use the next year's value before it exists).
  IMF programme status is public on approval: lag 0.
* **Definition breaks.** The SBP headline rate was the discount rate (corridor ceiling) until
  24-May-2015 and the target rate afterwards (ceiling = target + 50 bp to May 2020, + 100 bp
  from 18-May-2020). ``policy_rate_pct`` is harmonised to the corridor ceiling throughout, so
  the -50 bp definitional step of May 2015 is not read as an easing. The break terms
  ``brk_policy_rate_target`` (policy-rate definition) and ``brk_cpi_national`` (PBS National CPI,
  base 2015-16, from July 2019) are step indicators aligned with the lagged values; the 2007-08
  base switch (``brk_cpi_base2007``) is dated 2011-07 **approximately** (PROVENANCE.md).
* **Events** from ``timeline.csv`` become daily kernels averaged over each period: a *step*
  (1 from the event day on), a *window* (1 between start and end day) or a *decay*
  (:math:`2^{-(d-d_0)/h}` for days :math:`d \\ge d_0`, half-life :math:`h`). An event on the
  20th of a month therefore enters that month with weight 11/31, never before it happens.
  ``attack`` rows are outcomes, not covariates, and are not used. Regional events apply to
  their province (FATA events also to Khyber Pakhtunkhwa, which includes ex-FATA in merged
  panels) and to ``Pakistan``; national events apply to every row.
* **Province covariates**: census population (1998, 2017, 2023; log-linear between censuses,
  constant after the last one; Khyber Pakhtunkhwa on the post-2018 boundary incl. ex-FATA;
  ``Pakistan`` from WDI mid-year population). It is a denominator known only after the census
  is published, so the metadata flag it as look-ahead and it is never used as a predictor.
  The 2016 official MPI poverty headcount (one survey, PSLM 2014-15) is constant in time and
  is shipped in ``data/covariates_province.csv``; in a model with province effects it is
  absorbed by them. Gilgit-Baltistan and AJK lack two census counts; province-level
  unemployment does not exist in the sources (PROVENANCE.md).
* **Missing values** are never filled. A value that the rule above cannot supply (before a
  series starts, after it stops) stays empty, and ``data/covariates_missing.csv`` lists every
  feature's missing months. Models drop the rows they cannot use and say which months they
  rest on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.io import write_csv
from pakcast.forecast.paths import shipped
from pakcast.forecast.provinces import CANONICAL, KP, NATIONAL

UNITS: tuple[str, ...] = (NATIONAL, *CANONICAL)
START = pd.Timestamp("2000-01-01")
END = pd.Timestamp("2025-12-31")
#: annual WDI values for year Y enter from this month of year Y+1
ANNUAL_RELEASE_MONTH = 7
GROUPS: tuple[str, ...] = ("economic", "political", "security", "breaks")

SHIPPED = {
    "month": "covariates_month.csv",
    "quarter": "covariates_quarter.csv",
    "meta": "covariates_meta.csv",
    "missing": "covariates_missing.csv",
    "province": "covariates_province.csv",
}

# timeline ``region`` -> rows the event applies to (besides Pakistan)
_REGION_UNITS = {
    "national": UNITS[1:],
    "FATA": ("FATA", KP),
    "KP": (KP,),
    "Punjab": ("Punjab",),
    "Sindh": ("Sindh",),
    "Balochistan": ("Balochistan",),
    "Islamabad": ("Islamabad Capital Territory",),
}


@dataclasses.dataclass(frozen=True)
class Feature:
    """One model-ready covariate: its group, unit, source and the rule that builds it."""

    name: str
    group: str
    unit: str
    source: str
    #: months from the last month the value refers to until the first month it is used
    lag_months: int
    rule: str


FEATURES: tuple[Feature, ...] = (
    # economic (national; identical on every row)
    Feature("cpi_yoy_pct", "economic", "% y/y", "pak_cpi_monthly.csv", 1,
            "headline CPI inflation of month t-1 (PBS release early in month t)"),
    Feature("cpi_yoy_change_3m", "economic", "pp", "pak_cpi_monthly.csv", 1,
            "cpi_yoy(t-1) - cpi_yoy(t-4)"),
    Feature("policy_rate_pct", "economic", "%", "sbp_policy_rate_monthly.csv", 1,
            "SBP rate at end of month t-1, harmonised to the corridor ceiling (target + 0.5 pp "
            "from 2015-05-25, + 1.0 pp from 2020-05-18)"),
    Feature("policy_rate_change_12m", "economic", "pp", "sbp_policy_rate_monthly.csv", 1,
            "policy_rate_pct(t) - policy_rate_pct(t-12) on the harmonised series"),
    Feature("imf_programme", "economic", "0/1", "imf_programme_monthly.csv", 0,
            "under an IMF SBA/PRGF/EFF/RSF arrangement in month t (public on approval)"),
    Feature("gdp_growth_pct", "economic", "% (fiscal year)", "wdi_pakistan_annual.csv", 13,
            "WDI NY.GDP.MKTP.KD.ZG for fiscal year Y (ends June Y), step from July Y+1"),
    Feature("unemployment_pct_ilo", "economic", "% labour force", "wdi_pakistan_annual.csv", 7,
            "WDI SL.UEM.TOTL.ZS (ILO modelled) for year Y, step from July Y+1"),
    Feature("pkr_depreciation_pct", "economic", "% y/y", "wdi_pakistan_annual.csv", 7,
            "100*(PKR/USD annual average Y / average Y-1 - 1), step from July Y+1"),
    # political
    Feature("election_campaign", "political", "share of days", "timeline.csv", 0,
            "window: 60 days up to and including a general-election day (dates are scheduled "
            "in advance)"),
    Feature("post_election", "political", "decay", "timeline.csv", 0,
            "decay from a general-election day, half-life 90 days"),
    Feature("government_change", "political", "decay", "timeline.csv", 0,
            "decay from a non-electoral change of government (Musharraf resigns 2008-08-18; "
            "Khan ousted 2022-04-10), half-life 180 days"),
    Feature("ceasefire_active", "political", "share of days", "timeline.csv", 0,
            "window: peace deals and ceasefires (Waziristan accord 2006-09-05..2007-07-11; Swat "
            "deal 2009-02-16..2009-04-26; TTP ceasefires 2021-11-09..2021-12-09 and "
            "2022-06-02..2022-11-28)"),
    Feature("fata_merger", "political", "step", "timeline.csv", 0,
            "step from the 25th Amendment (2018-05-31)"),
    # security
    Feature("military_operation", "security", "decay", "timeline.csv", 0,
            "sum of decays from each military_operation launch in the row's region, "
            "half-life 180 days"),
    Feature("counterterrorism_regime", "security", "step", "timeline.csv", 0,
            "step from the National Action Plan (2014-12-24)"),
    Feature("military_courts", "security", "share of days", "timeline.csv", 0,
            "window: military courts in force (2015-01-07..2019-01-06; 21st and 23rd Amendments)"),
    Feature("kabul_takeover", "security", "step", "timeline.csv", 0,
            "step from the Taliban takeover of Kabul (2021-08-15)"),
    # definition breaks in the covariates
    Feature("brk_cpi_base2007", "breaks", "step", "pak_cpi_monthly.csv", 1,
            "step from 2011-08: CPI base 2007-08 in the lagged value (switch date approximate)"),
    Feature("brk_policy_rate_target", "breaks", "step", "sbp_policy_rate_monthly.csv", 1,
            "step from 2015-06: lagged policy rate is the target rate, not the discount rate"),
    Feature("brk_cpi_national", "breaks", "step", "pak_cpi_monthly.csv", 1,
            "step from 2019-08: lagged CPI is the National CPI (base 2015-16)"),
)

_CALENDAR = PAKISTAN.calendar  # the political calendar lives in forecast.country
_ELECTIONS = _CALENDAR.elections
_GOVT_CHANGES = _CALENDAR.government_changes
_CEASEFIRES = _CALENDAR.ceasefires


def covariate_groups() -> dict[str, str]:
    """Map every model-ready covariate to its group (economic, political, security, breaks)."""
    return {f.name: f.group for f in FEATURES}


def feature_names(groups: tuple[str, ...] | list[str] | None = None) -> list[str]:
    """Covariates of the given groups (all groups when ``None``), in table order."""
    groups = GROUPS if groups is None else tuple(groups)
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown covariate group(s) {sorted(unknown)}; expected some of {list(GROUPS)}")
    return [f.name for f in FEATURES if f.group in groups]


# --------------------------------------------------------------------------- raw readers


def _read(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"covariate table {path} not found (see shared/data/covariates/PROVENANCE.md)")
    df = pd.read_csv(path)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; expected at least {list(required)}")
    return df


def _month_index(df: pd.DataFrame, path: Path, col: str = "month") -> pd.DataFrame:
    ds = pd.to_datetime(df[col], format="%Y-%m", errors="coerce")
    bad = ds.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise ValueError(f"{path}: row {row}, column {col!r}: expected a month YYYY-MM, got {df[col].iloc[row - 2]!r}")
    out = df.assign(ds=ds).set_index("ds").sort_index()
    if out.index.has_duplicates:
        raise ValueError(f"{path}: column {col!r} has duplicate months")
    return out


def _months() -> pd.DatetimeIndex:
    return pd.date_range(START, END, freq="MS")


def _economic(cov_dir: Path) -> pd.DataFrame:
    months = _months()
    out = pd.DataFrame(index=months)

    p = cov_dir / "pak_cpi_monthly.csv"
    cpi = _month_index(_read(p, ("month", "cpi_yoy_pct")), p)["cpi_yoy_pct"].astype(float)
    cpi = cpi.reindex(pd.date_range(cpi.index.min(), END, freq="MS"))
    lag1 = cpi.shift(1)
    out["cpi_yoy_pct"] = lag1.reindex(months)
    out["cpi_yoy_change_3m"] = (lag1 - lag1.shift(3)).reindex(months)

    p = cov_dir / "sbp_policy_rate_monthly.csv"
    sbp = _month_index(_read(p, ("month", "policy_rate_end_of_month_pct", "instrument_end_of_month")), p)
    rate = sbp["policy_rate_end_of_month_pct"].astype(float)
    instrument = sbp["instrument_end_of_month"].astype(str)
    known = {"discount_rate", "policy_target_rate"}
    bad = ~instrument.isin(known)
    if bad.any():
        raise ValueError(f"{p}: column 'instrument_end_of_month': unexpected value(s) {sorted(set(instrument[bad]))}; "
                         f"expected {sorted(known)}")
    target = instrument == "policy_target_rate"
    # corridor ceiling = target + 50 bp until May 2020, + 100 bp from 18-May-2020 (end of May 2020 on)
    spread = np.where(target, np.where(rate.index >= pd.Timestamp("2020-05-01"), 1.0, 0.5), 0.0)
    ceiling = (rate + spread).reindex(pd.date_range(rate.index.min(), END, freq="MS"))
    ceiling_l1 = ceiling.shift(1)
    out["policy_rate_pct"] = ceiling_l1.reindex(months)
    out["policy_rate_change_12m"] = (ceiling_l1 - ceiling_l1.shift(12)).reindex(months)

    p = cov_dir / "imf_programme_monthly.csv"
    imf = _month_index(_read(p, ("month", "under_imf_arrangement")), p)["under_imf_arrangement"].astype(float)
    out["imf_programme"] = imf.reindex(months)

    p = cov_dir / "wdi_pakistan_annual.csv"
    wdi = _read(p, ("year", "gdp_growth_pct", "unemployment_pct_ilo", "pkr_per_usd_official_avg"))
    wdi = wdi.set_index(wdi["year"].astype(int)).sort_index()
    annual = pd.DataFrame({
        "gdp_growth_pct": wdi["gdp_growth_pct"].astype(float),
        "unemployment_pct_ilo": wdi["unemployment_pct_ilo"].astype(float),
        "pkr_depreciation_pct": 100.0 * (wdi["pkr_per_usd_official_avg"].astype(float)
                                         / wdi["pkr_per_usd_official_avg"].astype(float).shift(1) - 1.0),
    })
    # year Y's value is in force from July Y+1 to June Y+2: month m uses year(m) - 1 if month >= 7 else year(m) - 2
    use_year = np.where(months.month >= ANNUAL_RELEASE_MONTH, months.year - 1, months.year - 2)
    for col in annual.columns:
        out[col] = annual[col].reindex(use_year).to_numpy()

    # definition-break steps aligned with the lagged values
    out["brk_cpi_base2007"] = (months >= pd.Timestamp("2011-08-01")).astype(float)
    out["brk_policy_rate_target"] = (months >= pd.Timestamp("2015-06-01")).astype(float)
    out["brk_cpi_national"] = (months >= pd.Timestamp("2019-08-01")).astype(float)
    return out


# --------------------------------------------------------------------------- events


def _kernel(days: pd.DatetimeIndex, start: str, kind: str, end: str | None = None,
            half_life_days: float | None = None) -> np.ndarray:
    d0 = pd.Timestamp(start)
    t = (days - d0).days.to_numpy().astype(float)
    if kind == "step":
        return (t >= 0).astype(float)
    if kind == "window":
        d1 = pd.Timestamp(end)
        return np.asarray((days >= d0) & (days <= d1), dtype=float)
    if kind == "decay":
        return np.where(t >= 0, np.exp2(-np.maximum(t, 0.0) / half_life_days), 0.0)
    raise ValueError(f"unknown kernel {kind!r}")


def _timeline(cov_dir: Path) -> pd.DataFrame:
    p = cov_dir / "timeline.csv"
    tl = _read(p, ("date", "event", "category", "region"))
    dates = pd.to_datetime(tl["date"], format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0]) + 2
        raise ValueError(f"{p}: row {row}, column 'date': expected YYYY-MM-DD, got {tl['date'].iloc[row - 2]!r}")
    regions = set(tl["region"].astype(str))
    unknown = regions - set(_REGION_UNITS)
    if unknown:
        raise ValueError(f"{p}: column 'region' has unknown value(s) {sorted(unknown)}; expected {sorted(_REGION_UNITS)}")
    return tl.assign(date=dates)


def _events(cov_dir: Path) -> dict[str, pd.DataFrame]:
    """Daily event kernels per unit, averaged to months; returns {feature: DataFrame(months x units)}."""
    tl = _timeline(cov_dir)
    tl_dates = set(tl["date"].dt.strftime("%Y-%m-%d"))
    for d in _ELECTIONS + _GOVT_CHANGES + tuple(s for s, _ in _CEASEFIRES):
        if d not in tl_dates:
            raise ValueError(f"{cov_dir / 'timeline.csv'}: expected an event dated {d} (used by the covariates)")
    days = pd.date_range(START, END, freq="D")
    n = len(days)

    def all_units(v: np.ndarray) -> np.ndarray:
        return np.repeat(v[:, None], len(UNITS), axis=1)

    feats: dict[str, np.ndarray] = {}
    feats["election_campaign"] = all_units(sum(
        _kernel(days, str(pd.Timestamp(d) - pd.Timedelta(days=59))[:10], "window", d) for d in _ELECTIONS))
    feats["post_election"] = all_units(sum(_kernel(days, d, "decay", half_life_days=90.0) for d in _ELECTIONS))
    feats["government_change"] = all_units(sum(_kernel(days, d, "decay", half_life_days=180.0)
                                               for d in _GOVT_CHANGES))
    feats["ceasefire_active"] = all_units(sum(_kernel(days, s, "window", e) for s, e in _CEASEFIRES))
    steps, windows = _CALENDAR.steps, _CALENDAR.windows
    feats["fata_merger"] = all_units(_kernel(days, steps["fata_merger"], "step"))
    feats["counterterrorism_regime"] = all_units(_kernel(days, steps["counterterrorism_regime"], "step"))
    feats["military_courts"] = all_units(_kernel(days, windows["military_courts"][0], "window",
                                                 windows["military_courts"][1]))
    feats["kabul_takeover"] = all_units(_kernel(days, steps["kabul_takeover"], "step"))

    ops = np.zeros((n, len(UNITS)))
    col = {u: i for i, u in enumerate(UNITS)}
    for row in tl.loc[tl["category"] == "military_operation"].itertuples():
        k = _kernel(days, str(row.date)[:10], "decay", half_life_days=180.0)
        ops[:, col[NATIONAL]] += k
        for u in _REGION_UNITS[str(row.region)]:
            ops[:, col[u]] += k
    feats["military_operation"] = ops

    month_of_day = days.to_period("M").to_timestamp()
    out = {}
    for name, arr in feats.items():
        df = pd.DataFrame(arr, index=days, columns=list(UNITS))
        out[name] = df.groupby(month_of_day).mean()
    return out


# --------------------------------------------------------------------------- province tables


def _province_table(cov_dir: Path) -> pd.DataFrame:
    """Census population (final counts) and the 2016 official MPI headcount per unit.

    Khyber Pakhtunkhwa is on the post-2018 boundary (including ex-FATA), as in merged panels:
    1998 = KP + FATA, 2017 = the derived 'incl. ex-FATA' row, 2023 = the gazette figure.
    """
    p = cov_dir / "population_province.csv"
    pop = _read(p, ("census_year", "release", "unit", "population"))
    final = pop.loc[pop["release"].astype(str).str.startswith("final")]

    def census(year: int, unit: str) -> float:
        sel = final.loc[(final["census_year"] == year) & (final["unit"] == unit), "population"]
        if len(sel) > 1:
            raise ValueError(f"{p}: more than one final {year} row for unit {unit!r}")
        return float(sel.iloc[0]) if len(sel) else np.nan

    p2 = cov_dir / "poverty_mpi_province.csv"
    mpi = _read(p2, ("series", "unit", "mpi_headcount_pct"))
    mpi = mpi.loc[mpi["series"].astype(str).str.startswith("MPI 2016 official (PSLM 2014-15)")]
    rows = []
    for u in UNITS:
        if u == KP:
            c = {1998: census(1998, KP) + census(1998, "FATA"),
                 2017: census(2017, "Khyber Pakhtunkhwa incl. ex-FATA"),
                 2023: census(2023, "Khyber Pakhtunkhwa incl. ex-FATA")}
        else:
            c = {y: census(y, u) for y in (1998, 2017, 2023)}
        sel = mpi.loc[mpi["unit"] == u, "mpi_headcount_pct"]
        rows.append({"unique_id": u, "population_census_1998": c[1998], "population_census_2017": c[2017],
                     "population_census_2023": c[2023],
                     "mpi_headcount_pct_2014_15": float(sel.iloc[0]) if len(sel) else np.nan,
                     "boundary": "incl. ex-FATA" if u == KP else ("abolished 2018-05-31" if u == "FATA" else "")})
    return pd.DataFrame(rows)


def _population_monthly(prov: pd.DataFrame, cov_dir: Path) -> pd.DataFrame:
    """Population per unit and month (a denominator; see the module notes on look-ahead).

    Provinces: log-linear between census counts (March 1998, March 2017, March 2023), the
    1998-2017 growth carried back to 2000, flat after the last census; empty where fewer than
    two censuses exist (Gilgit-Baltistan, Azad Jammu and Kashmir) and for FATA after its merger.
    Pakistan: WDI mid-year population (SP.POP.TOTL), log-linear between mid-years, flat after.
    """
    months = _months()
    t = np.asarray(months.year + (months.month - 0.5) / 12.0, dtype=float)
    out = pd.DataFrame(index=months)
    census_t = {1998: 1998 + 2.5 / 12, 2017: 2017 + 2.5 / 12, 2023: 2023 + 2.5 / 12}
    for r in prov.itertuples():
        pts = [(census_t[y], getattr(r, f"population_census_{y}")) for y in (1998, 2017, 2023)]
        pts = [(tt, v) for tt, v in pts if np.isfinite(v)]
        vals = np.full(len(months), np.nan)
        if r.unique_id != NATIONAL and len(pts) >= 2:
            tt = np.array([a for a, _ in pts])
            lv = np.log(np.array([b for _, b in pts]))
            inside = t <= tt[-1]
            vals[inside] = np.exp(np.interp(t[inside], tt, lv, left=np.nan))
            before = t < tt[0]
            g0 = (lv[1] - lv[0]) / (tt[1] - tt[0])
            vals[before] = np.exp(lv[0] + g0 * (t[before] - tt[0]))
            vals[~inside] = np.exp(lv[-1])
            if r.unique_id == "FATA":
                vals[months >= pd.Timestamp("2018-06-01")] = np.nan
        out[r.unique_id] = vals
    p = cov_dir / "wdi_pakistan_annual.csv"
    wdi = _read(p, ("year", "population")).dropna(subset=["population"])
    ty = wdi["year"].to_numpy(dtype=float) + 0.5
    lv = np.log(wdi["population"].to_numpy(dtype=float))
    out[NATIONAL] = np.exp(np.interp(t, ty, lv))  # flat before the first and after the last mid-year
    return out


# --------------------------------------------------------------------------- assembly


def build_monthly(cov_dir: Path) -> pd.DataFrame:
    """The long monthly covariate table (``unique_id, ds, <features>, population``)."""
    cov_dir = Path(cov_dir)
    econ = _economic(cov_dir)
    events = _events(cov_dir)
    prov = _province_table(cov_dir)
    pop = _population_monthly(prov, cov_dir)
    frames = []
    for u in UNITS:
        df = pd.DataFrame({"unique_id": u, "ds": econ.index})
        for f in FEATURES:
            if f.name in events:
                df[f.name] = events[f.name][u].reindex(econ.index).to_numpy()
            else:
                df[f.name] = econ[f.name].to_numpy()
        df["population"] = pop[u].to_numpy() if u in pop.columns else np.nan
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def to_quarterly(monthly: pd.DataFrame) -> pd.DataFrame:
    """Quarterly table: lagged economic features take the quarter's first month (known at its
    start); event features and population take the quarter mean."""
    q = monthly["ds"].dt.to_period("Q").dt.to_timestamp()
    df = monthly.assign(ds=q)
    econ = [f.name for f in FEATURES if f.group in ("economic", "breaks")]
    other = [f.name for f in FEATURES if f.group not in ("economic", "breaks")] + ["population"]
    first_month = monthly["ds"] == q
    first = df.loc[first_month, ["unique_id", "ds"] + econ].set_index(["unique_id", "ds"])
    mean = df.groupby(["unique_id", "ds"], sort=False)[other].mean()
    out = first.join(mean).reset_index()
    order = ["unique_id", "ds"] + [f.name for f in FEATURES] + ["population"]
    return out[order]


def missing_report(table: pd.DataFrame, freq: str) -> pd.DataFrame:
    """One row per feature with missing values: how many and the first and last missing period."""
    rows = []
    nat = table.loc[table["unique_id"] == NATIONAL]
    for col in [f.name for f in FEATURES] + ["population"]:
        for uid, sub in ([(NATIONAL, nat)] if col != "population" else list(table.groupby("unique_id", sort=False))):
            miss = sub.loc[sub[col].isna(), "ds"]
            if len(miss):
                rows.append({"freq": freq, "feature": col, "unique_id": uid if col == "population" else "all",
                             "n_missing": len(miss), "first_missing": miss.min().strftime("%Y-%m"),
                             "last_missing": miss.max().strftime("%Y-%m"),
                             "rule": ("left empty; a denominator, not used as a predictor" if col == "population"
                                      else "left empty; models drop rows where a used covariate is missing")})
    return pd.DataFrame(rows, columns=["freq", "feature", "unique_id", "n_missing", "first_missing",
                                       "last_missing", "rule"])


def metadata_table() -> pd.DataFrame:
    """Feature metadata: group, unit, source file, publication lag (months), construction rule."""
    rows = [dataclasses.asdict(f) for f in FEATURES]
    rows.append({"name": "population", "group": "exposure", "unit": "persons", "source": "population_province.csv",
                 "lag_months": -1, "rule": "provinces: census final counts, log-linear between the 1998, 2017 "
                 "and 2023 censuses (KP incl. ex-FATA), flat after the last; Pakistan: WDI SP.POP.TOTL "
                 "log-linear between mid-years; lookahead (published after the count): a denominator, "
                 "not a predictor; empty for Gilgit-Baltistan and Azad Jammu and Kashmir (fewer than two "
                 "censuses) and FATA after 2018-05"})
    return pd.DataFrame(rows)


def _round(df: pd.DataFrame) -> pd.DataFrame:
    num = df.select_dtypes("number").columns
    return df.assign(**{c: df[c].round(8) for c in num})


def build_shipped_tables(shared_dir: str | Path, out_dir: str | Path) -> list[Path]:
    """Build ``covariates_{month,quarter,meta,missing,province}.csv`` from ``shared_dir``.

    Parameters
    ----------
    shared_dir : path
        The ``shared/`` folder (its ``data/covariates`` is read).
    out_dir : path
        Where the tables go (``data/`` of the repository for shipping).

    Returns
    -------
    list of Path
        The files written (atomically).
    """
    cov_dir = Path(shared_dir) / "data" / "covariates"
    out_dir = Path(out_dir)
    month = build_monthly(cov_dir)
    quarter = to_quarterly(month)
    fmt = {"date_format": "%Y-%m-%d"}
    written = [
        write_csv(out_dir / SHIPPED["month"], _round(month), **fmt),
        write_csv(out_dir / SHIPPED["quarter"], _round(quarter), **fmt),
        write_csv(out_dir / SHIPPED["meta"], metadata_table()),
        write_csv(out_dir / SHIPPED["missing"], pd.concat([missing_report(month, "month"),
                                                           missing_report(quarter, "quarter")], ignore_index=True)),
        write_csv(out_dir / SHIPPED["province"], _province_table(cov_dir)),
    ]
    return written


def load_covariates(freq: str = "month") -> pd.DataFrame:
    """The shipped covariate table (long: ``unique_id, ds, <features>, population``).

    Parameters
    ----------
    freq : {"month", "quarter"}

    Returns
    -------
    pandas.DataFrame
        ``ds`` is the period start (Timestamp). Missing values are NaN (see
        ``data/covariates_missing.csv``); nothing is filled.
    """
    if freq not in ("month", "quarter"):
        raise ValueError(f"freq must be 'month' or 'quarter', got {freq!r}")
    path = shipped(SHIPPED[freq])
    df = pd.read_csv(path, parse_dates=["ds"])
    expected = ["unique_id", "ds"] + [f.name for f in FEATURES]
    missing = [c for c in expected if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}; rebuild with `pakcast data build`")
    return df


def load_missing_report() -> pd.DataFrame:
    """The shipped report of missing covariate values."""
    return pd.read_csv(shipped(SHIPPED["missing"]))
