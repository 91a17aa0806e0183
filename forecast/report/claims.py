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


def check_peak(monthly: pd.DataFrame, n_boot: int = 2000, random_seed: int = 20141216) -> ClaimCheck:
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
                 random_seed: int = 20141216) -> list[ClaimCheck]:
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
