r"""Check the claims commonly made about this history against the data.

Three claims, each tested on every source that can speak to it, one row per source, measure and
resolution (sources define attacks and deaths their own way and are **never pooled**):

* **Deaths peaked in the early 2010s** (UCDP, annual national deaths, best estimate): supported when
  the peak year lies in 2010-2013. Its uncertainty is the share of bootstrap replicates (months
  resampled with replacement within each year, ``n_boot`` times) whose peak year lies there.
* **Deaths and attacks fell after 2014**: mean rate in 2015-2017 against 2012-2014.
* **Attacks and deaths rose after August 2021**: mean rate after the Kabul takeover (months from
  2021-09; years from 2022) against the three years before it (2018-08 .. 2021-07; years 2018-2020).

Period comparisons use the quasi-Poisson rate ratio of a regression of the counts on a period
indicator, with the dispersion estimated from both periods:

.. math::

    \widehat{RR} = \bar y_{post} / \bar y_{pre}, \qquad
    \hat\phi = \max\Bigl(1, \frac{1}{n-2}\sum_i \frac{(y_i - \bar y_{g(i)})^2}{\bar y_{g(i)}}\Bigr),

    \operatorname{se}(\log \widehat{RR}) = \sqrt{\hat\phi\,(1/Y_{post} + 1/Y_{pre})}, \qquad
    CI = \exp\bigl(\log\widehat{RR} \pm t_{0.975,\,n-2}\,\operatorname{se}\bigr),

where :math:`Y` are period totals and :math:`n = n_{pre} + n_{post}`. A claim of a fall (rise) is
*supported* when the whole 95% interval lies below (above) 1, *not supported* otherwise (the
detail says whether the interval includes 1 or contradicts the claim), and *not testable* when a
period has fewer than 6 monthly or 2 annual observations (the number is still shown). Monthly
counts are autocorrelated, so these intervals are, if anything, too narrow: read a borderline
"supported" with care.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from pakcast.forecast.jobs import DEFAULT_SEED
from pakcast.forecast.country import profile

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"  # evidence against the claim only
INCONCLUSIVE = "inconclusive"  # an interval that includes no change
NOT_TESTABLE = "not testable"

MIN_OBS = {"month": 6, "year": 2}

# (claim id, claim text, direction, {resolution: (pre window, post window)})
FALL_2014 = {
    "month": (("2012-01", "2014-12"), ("2015-01", "2017-12")),
    "year": (("2012", "2014"), ("2015", "2017")),
}
RISE_2021 = {
    "month": (("2018-08", "2021-07"), ("2021-09", "2099-12")),
    "year": (("2018", "2020"), ("2022", "2099")),
}
CLAIMS = {
    "peak_early_2010s": "Deaths peaked in the early 2010s (2010-2013)",
    "fall_after_2014": "Violence fell after 2014 (Zarb-e-Azb, National Action Plan)",
    "rise_after_2021_08": "Violence rose after August 2021 (Taliban takeover of Kabul)",
}
REPORTED_MEASURES = ("attacks", "killed", "fatalities_total")
# What each published source counts (from ../shared/data/reported/PROVENANCE.md): never pool them.
SOURCE_DEFINITIONS = {
    "PIPS": "terrorist attacks only (militant, nationalist-insurgent, violent sectarian); killed in those attacks",
    "PICSS": "militant attacks (a broader net, about 1.5-2x PIPS); killed in militant attacks; "
             "fatalities_total adds militants killed in operations",
    "CRSS": "incidents include counter-terrorism operations; fatalities_total counts civilians, security "
            "forces and militants",
    "GTI": "Global Terrorism Index, its own terrorism definition (GTD-based), by data year",
    "SATP": "fatalities include civilians, security forces and militants killed in operations",
    "OTHER": "US State Department Country Reports on Terrorism / START annex",
    "OFFICIAL": "official (government) figures, as released",
}


@dataclass
class RateComparison:
    """Quasi-Poisson rate ratio of the post period against the pre period."""

    rate_ratio: float
    ci_low: float
    ci_high: float
    mean_pre: float
    mean_post: float
    n_pre: int
    n_post: int
    dispersion: float


@dataclass
class ClaimCheck:
    """One claim checked on one source, measure and resolution."""

    claim_id: str
    claim: str
    source: str
    measure: str
    resolution: str
    status: str
    statistic: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n_pre: int | None
    n_post: int | None
    pre_period: str | None
    post_period: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rate_ratio(pre: np.ndarray, post: np.ndarray, alpha: float = 0.05) -> RateComparison:
    """Quasi-Poisson rate ratio ``mean(post) / mean(pre)`` with a ``1 - alpha`` interval (see module)."""
    pre = np.asarray(pre, dtype=float)
    post = np.asarray(post, dtype=float)
    if pre.size < 1 or post.size < 1:
        raise ValueError("each period needs at least one observation")
    m0, m1 = pre.mean(), post.mean()
    n = pre.size + post.size
    if m0 <= 0 or m1 <= 0:
        # a period with no events at all: the ratio is 0 or infinite; no Wald interval exists
        rr = 0.0 if m1 <= 0 < m0 else (np.inf if m0 <= 0 < m1 else np.nan)
        return RateComparison(rr, np.nan, np.nan, m0, m1, pre.size, post.size, np.nan)
    chi2 = ((pre - m0) ** 2 / m0).sum() + ((post - m1) ** 2 / m1).sum()
    phi = max(1.0, chi2 / (n - 2)) if n > 2 else np.nan
    se = np.sqrt(phi * (1.0 / pre.sum() + 1.0 / post.sum()))
    t = stats.t.ppf(1 - alpha / 2, n - 2) if n > 2 else np.nan
    lrr = np.log(m1 / m0)
    return RateComparison(float(np.exp(lrr)), float(np.exp(lrr - t * se)), float(np.exp(lrr + t * se)),
                          float(m0), float(m1), int(pre.size), int(post.size), float(phi))


def _window(series: pd.Series, start: str, end: str) -> pd.Series:
    idx = series.index
    lo, hi = pd.Period(start, idx.freq), pd.Period(end, idx.freq)
    return series[(idx >= lo) & (idx <= hi)].dropna()


def _label(s: pd.Series) -> str | None:
    return f"{s.index.min()}..{s.index.max()}" if len(s) else None


def compare_claim(series: pd.Series, claim_id: str, source: str, measure: str, resolution: str,
                  windows: dict[str, tuple[tuple[str, str], tuple[str, str]]], direction: int,
                  note: str = "") -> ClaimCheck:
    """Test a fall (``direction=-1``) or rise (``+1``) between two windows of a PeriodIndex series."""
    (a0, a1), (b0, b1) = windows[resolution]
    pre, post = _window(series, a0, a1), _window(series, b0, b1)
    base = dict(claim_id=claim_id, claim=CLAIMS[claim_id], source=source, measure=measure,
                resolution=resolution, statistic="rate ratio post/pre (quasi-Poisson, 95% CI)",
                n_pre=int(len(pre)), n_post=int(len(post)), pre_period=_label(pre) or f"{a0}..{a1}",
                post_period=_label(post) or f"{b0}..{min(b1, '2099')}")
    need = MIN_OBS[resolution]
    unit = "months" if resolution == "month" else "years"
    if len(pre) < need or len(post) < need:
        value = float(post.mean() / pre.mean()) if len(pre) and len(post) and pre.mean() > 0 else None
        shown = f" (ratio of means {value:.2f}, shown for information)" if value is not None else ""
        return ClaimCheck(**base, status=NOT_TESTABLE, value=value, ci_low=None, ci_high=None,
                          detail=f"{len(pre)} pre and {len(post)} post {unit}; at least {need} {unit} each are "
                                 f"needed{shown}. {note}".strip())
    rc = rate_ratio(pre.to_numpy(), post.to_numpy())
    if not np.isfinite(rc.ci_low):
        status, why = NOT_TESTABLE, "a period has no events; no interval can be formed"
    elif (direction < 0 and rc.ci_high < 1) or (direction > 0 and rc.ci_low > 1):
        status, why = SUPPORTED, "the 95% interval lies entirely on the claimed side of 1"
    elif (direction < 0 and rc.ci_low > 1) or (direction > 0 and rc.ci_high < 1):
        status, why = NOT_SUPPORTED, "contradicted: the 95% interval lies on the opposite side of 1"
    else:
        status, why = INCONCLUSIVE, "the 95% interval includes 1 (no change): the data neither support nor contradict it"
    detail = (f"mean per {resolution} {rc.mean_pre:.1f} before, {rc.mean_post:.1f} after; {why}. {note}").strip()
    return ClaimCheck(**base, status=status, value=rc.rate_ratio, ci_low=rc.ci_low, ci_high=rc.ci_high, detail=detail)


def check_peak(monthly: pd.DataFrame, n_boot: int = 2000, random_seed: int = DEFAULT_SEED) -> ClaimCheck:
    """Claim 1 on the national UCDP series: the peak year of annual deaths lies in 2010-2013.

    ``monthly`` has a monthly PeriodIndex and columns ``killed`` (+ ``killed_low``/``killed_high``).
    """
    years = monthly.index.year
    annual = monthly["killed"].groupby(years).sum()
    full = monthly.groupby(years).size()
    annual = annual[full[full == 12].index]
    peak = int(annual.idxmax())
    rng = np.random.default_rng(random_seed)
    blocks = [monthly["killed"].to_numpy()[years == y] for y in annual.index]
    draws = np.stack([rng.choice(b, size=(n_boot, b.size), replace=True).sum(axis=1) for b in blocks], axis=1)
    peaks = annual.index.to_numpy()[draws.argmax(axis=1)]
    p_in = float(np.mean((peaks >= 2010) & (peaks <= 2013)))
    extra = []
    for col in ("killed_low", "killed_high"):
        if col in monthly.columns and monthly[col].notna().all():
            extra.append(f"{col.split('_')[1]} estimate peaks in {int(monthly[col].groupby(years).sum()[annual.index].idxmax())}")
    status = SUPPORTED if 2010 <= peak <= 2013 else NOT_SUPPORTED
    top = annual.sort_values(ascending=False).head(3)
    detail = (f"peak year {peak} with {annual[peak]:,.0f} deaths (best estimate); next: "
              + ", ".join(f"{y} {v:,.0f}" for y, v in top.iloc[1:].items())
              + f"; {p_in:.0%} of {n_boot} bootstrap replicates (months resampled within years) peak in 2010-2013"
              + (f"; {'; '.join(extra)}" if extra else "") + ".")
    return ClaimCheck(claim_id="peak_early_2010s", claim=CLAIMS["peak_early_2010s"], source="UCDP GED",
                      measure="killed", resolution="year", status=status,
                      statistic="peak year (share of bootstrap peaks in 2010-2013)", value=float(peak),
                      ci_low=None, ci_high=None, n_pre=None, n_post=int(len(annual)),
                      pre_period=None, post_period=f"{annual.index.min()}..{annual.index.max()}",
                      detail=detail)


def national_monthly(panel: pd.DataFrame) -> pd.DataFrame:
    """The national monthly series (PeriodIndex) from a panel in CSV form (``province, period``)."""
    nat = panel[panel["province"] == profile().national]
    if nat.empty:  # a panel without the national row: sum the provinces
        nat = panel.groupby("period", as_index=False)[[c for c in ("attacks", "killed", "killed_low", "killed_high")
                                                       if c in panel.columns]].sum()
    out = nat.set_index(pd.PeriodIndex(pd.to_datetime(nat["period"]), freq="M")).sort_index()
    return out[[c for c in ("attacks", "killed", "killed_low", "killed_high") if c in out.columns]].astype(float)


def reported_series(reported: pd.DataFrame) -> list[tuple[str, str, str, pd.Series, str]]:
    """National series per (source, resolution, metric) from the tidy reported-aggregates table.

    Rows repeated for one period (first release and later revision) keep the **last** row listed
    (the sources list revisions after first releases); the number of such periods goes into the note.
    """
    out = []
    nat = reported[(reported["region"] == profile().national) & reported["period_type"].isin(["month", "year"])
                   & reported["metric"].isin(REPORTED_MEASURES)]
    for (source, ptype, metric), g in nat.groupby(["source", "period_type", "metric"], sort=True):
        freq = "M" if ptype == "month" else "Y"
        periods = pd.PeriodIndex([pd.Period(str(p), freq) for p in g["period"]], freq=freq)
        values = pd.to_numeric(g["value"], errors="coerce").to_numpy()
        s = pd.Series(values, index=periods)
        dup = int(s.index.duplicated(keep="last").sum())
        s = s[~s.index.duplicated(keep="last")].sort_index().dropna()
        definition = SOURCE_DEFINITIONS.get(str(source).upper(), "")
        note = f"{source} counts {definition}." if definition else ""
        if dup:
            note += f" {dup} period(s) listed twice (first release and revision): the last listed is used."
        out.append((str(source), str(ptype), str(metric), s, note.strip()))
    return out


def check_claims(panel: pd.DataFrame, reported: pd.DataFrame | None = None, n_boot: int = 2000,
                 random_seed: int = DEFAULT_SEED) -> list[ClaimCheck]:
    """Check the three claims on the UCDP panel and on each reported source separately.

    Parameters
    ----------
    panel : DataFrame
        Monthly panel in CSV form (``province, period, attacks, killed, ...``), national row named ``profile().national``.
    reported : DataFrame, optional
        Tidy published aggregates (``source, period_type, period, region, metric, value, note``).
    n_boot, random_seed : int
        Bootstrap size and seed for the peak-year uncertainty.
    """
    nat = national_monthly(panel)
    ucdp_note = f"UCDP GED covers {nat.index.min()}..{nat.index.max()}."
    checks = [check_peak(nat, n_boot=n_boot, random_seed=random_seed)]
    for measure in ("killed", "attacks"):
        checks.append(compare_claim(nat[measure], "fall_after_2014", "UCDP GED", measure, "month", FALL_2014, -1,
                                    note=ucdp_note))
    for measure in ("attacks", "killed"):
        checks.append(compare_claim(nat[measure], "rise_after_2021_08", "UCDP GED", measure, "month", RISE_2021, +1,
                                    note=ucdp_note + " The Aug-2021 question needs the reported aggregates."))
    if reported is not None and len(reported):
        for source, ptype, metric, series, note in reported_series(reported):
            for claim_id, windows, direction in (("fall_after_2014", FALL_2014, -1),
                                                  ("rise_after_2021_08", RISE_2021, +1)):
                (pre0, pre1), (post0, post1) = windows[ptype]
                if _window(series, pre0, pre1).empty or _window(series, post0, post1).empty:
                    continue  # the source has nothing for one of the periods: it cannot speak to this claim
                checks.append(compare_claim(series, claim_id, source, metric, ptype, windows, direction, note=note))
    return checks


# ------------------------------------------------------------------------------------------------
# the source paper's claims on the fused series (computed by the quarterly run, rendered by the briefing)

#: whole-month windows (pre, post) per resolution of a source's own figures for each fused claim
FUSED_WINDOWS: dict[str, dict[str, tuple[tuple[str, str], tuple[str, str]]]] = {
    "rise_after_2021_08": {"month": (("2020-09", "2021-08"), ("2021-09", "2022-08")),
                           "quarter": (("2020-10", "2021-09"), ("2021-10", "2022-09")),
                           "year": (("2020-01", "2020-12"), ("2022-01", "2022-12"))},
    "fall_after_2014": {r: (("2012-01", "2014-12"), ("2015-01", "2017-12")) for r in ("month", "quarter", "year")},
}
PEAK_YEARS = (2012, 2013)
CLAIM_LEVEL = 0.90


def _verdict(draws: np.ndarray, direction: int) -> tuple[str, str]:
    lo, hi = np.quantile(draws, [(1 - CLAIM_LEVEL) / 2, 1 - (1 - CLAIM_LEVEL) / 2])
    if (direction > 0 and lo > 1) or (direction < 0 and hi < 1):
        return SUPPORTED, "the 90% interval lies entirely on the claimed side of no change"
    if (direction > 0 and hi < 1) or (direction < 0 and lo > 1):
        return NOT_SUPPORTED, "evidence against: the 90% interval lies on the opposite side of no change"
    return INCONCLUSIVE, "the 90% interval includes no change: the fused series neither supports nor contradicts it"


def _interval(x: np.ndarray) -> dict[str, float]:
    lo, med, hi = np.quantile(x, [(1 - CLAIM_LEVEL) / 2, 0.5, 1 - (1 - CLAIM_LEVEL) / 2])
    return {"estimate": float(med), "ci_low": float(lo), "ci_high": float(hi), "level": CLAIM_LEVEL}


def day_weights(months: pd.PeriodIndex, start: str, end: str) -> np.ndarray:
    """Share of each month's days inside ``[start, end)`` (ISO days): windows that begin mid-month."""
    a, b = pd.Timestamp(start), pd.Timestamp(end)
    s, e = months.start_time, months.end_time.normalize() + pd.Timedelta(days=1)
    inside = (np.minimum(e, b) - np.maximum(s, a)).days.to_numpy().clip(min=0)
    return inside / (e - s).days.to_numpy()


def _month_weights(months: pd.PeriodIndex, first: str, last: str) -> np.ndarray:
    return ((months >= pd.Period(first, "M")) & (months <= pd.Period(last, "M"))).astype(float)


def national_figures(frame: pd.DataFrame, n_units: int) -> pd.DataFrame:
    """Each source's national figures from an observation table: figures covering every unit, and
    months where a source published a single-unit figure for every unit (an event panel), summed."""
    full = frame[frame["cover"].map(lambda c: len(tuple(c)) == n_units)]
    single = frame[(frame["cover"].map(lambda c: len(tuple(c)) == 1)) & (frame["first"] == frame["last"])]
    parts = [full[["source", "metric", "measure", "first", "last", "value", "period_type"]]]
    if len(single):
        g = single.groupby(["source", "metric", "measure", "first"], sort=False)
        agg = g["value"].agg(["sum", "size"]).reset_index()
        agg = agg[agg["size"] == n_units]
        parts.append(pd.DataFrame({"source": agg["source"], "metric": agg["metric"], "measure": agg["measure"],
                                   "first": agg["first"], "last": agg["first"], "value": agg["sum"],
                                   "period_type": "month"}))
    out = pd.concat(parts, ignore_index=True)
    return out.drop_duplicates(["source", "metric", "first", "last"])


def _tiled_total(fig: pd.DataFrame, first: str, last: str) -> tuple[float, str] | None:
    """The sum of one source's figures that exactly tile the months ``first..last`` (no overlap), and
    the resolution used; ``None`` when they do not."""
    a, b = pd.Period(first, "M"), pd.Period(last, "M")
    need = b.ordinal - a.ordinal + 1
    for ptype in ("month", "quarter", "half", "year", "ytd"):
        f = fig[(fig["period_type"] == ptype) & (fig["first"] >= a) & (fig["last"] <= b)]
        if f.empty:
            continue
        covered: list[int] = []
        for fi, la in zip(f["first"], f["last"]):
            covered.extend(range(fi.ordinal, la.ordinal + 1))
        if len(covered) == need and len(set(covered)) == need:
            return float(f["value"].sum()), ptype
    return None


def _source_rows(nat_figs: pd.DataFrame, claim_id: str, measure: str, months: pd.PeriodIndex,
                 draws: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for (source, metric), fig in nat_figs[nat_figs["measure"] == measure].groupby(["source", "metric"], sort=True):
        for res in ("month", "quarter", "year"):
            (a0, a1), (b0, b1) = FUSED_WINDOWS[claim_id][res]
            pre, post = _tiled_total(fig, a0, a1), _tiled_total(fig, b0, b1)
            if pre is None or post is None or pre[1] != res or post[1] != res:
                continue
            w0, w1 = _month_weights(months, a0, a1), _month_weights(months, b0, b1)
            fused = (w1 @ draws) / (w0 @ draws)
            rows.append({"source": source, "metric": metric, "resolution": res,
                         "pre_period": f"{a0}..{a1}", "post_period": f"{b0}..{b1}",
                         "source_pre": pre[0], "source_post": post[0],
                         "source_ratio": post[0] / pre[0] if pre[0] > 0 else None,
                         "fused_ratio": _interval(fused)})
            break
    return rows


def fused_claims(months: pd.PeriodIndex, national: dict[str, np.ndarray], frame: pd.DataFrame,
                 units: dict[str, str], paper: dict[str, Any] | None = None) -> dict[str, Any]:
    """The source paper's claims on the fused national series, each with its 90% interval and every
    source's own figure for the same windows beside it.

    ``months``: the fitted months; ``national[measure]``: (month, draw) national latent intensity in
    reference units; ``frame``: the observation table (for each source's own figures); ``units``:
    measure -> units text; ``paper``: the figures the paper quotes (:attr:`CountryProfile.paper`).
    Verdicts: *supported* when the 90% interval lies wholly on the claimed side of no change, *not
    supported* only when it lies wholly on the other side (evidence against), else *inconclusive*.
    Ratios of fused totals do not depend on the reference units; totals are in ``units``.
    """
    from pakcast.forecast.country import profile

    paper = profile().paper if paper is None else paper
    n_units = max(len(tuple(c)) for c in frame["cover"])
    nat_figs = national_figures(frame, n_units)
    claims = []
    last = months[-1]
    # 1. attacks (and deaths) in the 12 months after 15 August 2021 against the 12 months before
    day = pd.Timestamp(profile().calendar.steps["kabul_takeover"])
    year = pd.DateOffset(years=1)
    start, end = f"{day:%Y-%m-%d}", f"{day + year:%Y-%m-%d}"
    pre_w = day_weights(months, f"{day - year:%Y-%m-%d}", start)
    post_w = day_weights(months, start, end)
    if last >= pd.Period("2022-08", "M"):
        for measure in ("attacks", "killed"):
            d = national[measure]
            ratio = (post_w @ d) / (pre_w @ d)
            status, why = _verdict(ratio, +1)
            claims.append({
                "claim_id": "rise_after_2021_08", "measure": measure, "units": units.get(measure),
                "claim": f"{measure.capitalize()} in the 12 months after 15 August 2021 exceed the 12 months before",
                "paper": paper.get("rise_after_2021_08"),
                "fused": {"rate_ratio": _interval(ratio), "post_total": _interval(post_w @ d),
                          "pre_total": _interval(pre_w @ d), "pre_window": f"{day - year:%Y-%m-%d}..{start}",
                          "post_window": f"{start}..{end}"},
                "status": status, "detail": why,
                "sources": _source_rows(nat_figs, "rise_after_2021_08", measure, months, d)})
    # 2. deaths peaked in 2012-13
    d = national["killed"]
    years = months.year.to_numpy()
    full_years = [y for y in np.unique(years) if (years == y).sum() == 12]
    annual = np.stack([d[years == y].sum(axis=0) for y in full_years])            # (year, draw)
    peak = np.asarray(full_years)[annual.argmax(axis=0)]
    p_in = float(np.isin(peak, PEAK_YEARS).mean())
    dist = pd.Series(peak).value_counts(normalize=True).head(3)
    status = SUPPORTED if p_in >= CLAIM_LEVEL else (NOT_SUPPORTED if p_in <= 1 - CLAIM_LEVEL else INCONCLUSIVE)
    src_peaks = []
    for (source, metric), fig in nat_figs[nat_figs["measure"] == "killed"].groupby(["source", "metric"], sort=True):
        tot = {y: _tiled_total(fig, f"{y}-01", f"{y}-12") for y in full_years}
        tot = {y: v[0] for y, v in tot.items() if v is not None}
        if len(tot) >= 2:
            py = max(tot, key=lambda y: tot[y])
            src_peaks.append({"source": source, "metric": metric, "years": f"{min(tot)}..{max(tot)}",
                              "peak_year": int(py), "peak_value": tot[py],
                              "covers_peak_years": all(y in tot for y in PEAK_YEARS)})
    claims.append({
        "claim_id": "peak_2012_13", "measure": "killed", "units": units.get("killed"),
        "claim": "Deaths peaked in 2012-13", "paper": paper.get("peak_2012_13"),
        "fused": {"p_peak_in_2012_13": p_in, "peak_year_distribution": {str(k): float(v) for k, v in dist.items()},
                  "annual": [{"year": int(y), **_interval(a)} for y, a in zip(full_years, annual)]},
        "status": status,
        "detail": (f"{p_in:.0%} of the posterior draws put the peak year of national deaths in 2012-2013 (supported "
                   f"at >= {CLAIM_LEVEL:.0%}, evidence against at <= {1 - CLAIM_LEVEL:.0%})"),
        "sources": src_peaks})
    # 3. the fall after 2014
    for measure in ("attacks", "killed"):
        d = national[measure]
        (a0, a1), (b0, b1) = FUSED_WINDOWS["fall_after_2014"]["month"]
        ratio = (_month_weights(months, b0, b1) @ d) / (_month_weights(months, a0, a1) @ d)
        status, why = _verdict(ratio, -1)
        claims.append({
            "claim_id": "fall_after_2014", "measure": measure, "units": units.get(measure),
            "claim": f"{measure.capitalize()} fell after 2014 (2015-2017 against 2012-2014)",
            "paper": paper.get("fall_after_2014"),
            "fused": {"rate_ratio": _interval(ratio), "pre_window": f"{a0}..{a1}", "post_window": f"{b0}..{b1}"},
            "status": status, "detail": why,
            "sources": _source_rows(nat_figs, "fall_after_2014", measure, months, d)})
    return {"claims": claims, "level": CLAIM_LEVEL,
            "method": ("Fused national latent intensity (sum of provinces, draw by draw) summed over each window; "
                       "rate ratios and peak years per posterior draw, so the intervals carry every source's scale "
                       "and noise. Each source's own figure is its national figures that exactly tile the same "
                       "whole-month windows (monthly, quarterly or calendar-year windows by its resolution), never "
                       "pooled; the fused ratio over those same windows stands beside it.")}
