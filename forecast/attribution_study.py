r"""Attribution study on the pakcast panel: which covariate groups go with attack frequency.

:func:`run_attribution` joins a province x month panel (``forecast.panel.load_panel``) with the
covariates (``forecast.covariates.load_covariates``), fits the NB2 attribution model of
:mod:`models.attribution` and returns a JSON-ready dict with the keys of ``pakcast attribute``:

* ``effects`` -- IRR per unit and per SD of every covariate, with Wald intervals from a
  Driscoll-Kraay covariance;
* ``shapley`` -- the change in the log mean monthly count between two periods split into the
  covariate groups, ``other`` (province effects, seasonality, population exposure) and the
  ``residual`` (observed minus fitted change); rows sum exactly to ``total_change``;
* ``contributions`` -- per province, the change in the mean log-rate between the two periods
  split by covariate (sums exactly to the fitted change);
* ``oos_crps_gain`` -- the change in mean CRPS per province-month when each group is added to
  an autoregressive baseline, in a rolling-origin backtest (negative = better forecasts);
* ``granger`` -- Wald tests that a group's lagged covariates add to the autoregressive
  baseline; ``placebo`` -- a step at the real break date against steps at fake dates;
  ``lag_sensitivity`` -- economic effects under longer publication lags; ``scenarios``.

The model for unit :math:`u` (province) and month :math:`t`:

.. math::

    \log \mu_{ut} = \log P_{ut} + a_u + \sum_{h=1}^{2} [s_h \sin(2\pi h m_t/12) + c_h \cos(2\pi h m_t/12)]
                   + \sum_j \beta_j x_{utj},

with :math:`P` the panel's population. Units with fewer than ``min_events`` events in the rows
used are left out (their fixed effect would not be estimable) and listed in the output.

Every number rests on the months where the outcome and all used covariates exist: UCDP GED
ends in 2021-12 while the covariates run to 2025-12, so results describe 2002-2021 only
(``data.months_used``). These are associations adjusted for the modelled terms, not causal
effects (``interpretation``).
"""

from __future__ import annotations

import math
import re
import time as _time
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from pakcast.forecast.country import profile
from pakcast.forecast.covariates import GROUPS, covariate_groups, feature_names
from pakcast.forecast.scoring import crps_negbin, diebold_mariano
from pakcast.models.attribution import (
    INTERPRETATION,
    OTHER,
    RESIDUAL,
    AttributionModel,
)
from pakcast.models.covariance import bartlett_meat, sandwich
from pakcast.models.glm import CountGLM
from pakcast.models.seasonality import fourier_names, fourier_terms

DEFAULT_PERIODS = (("2010-01", "2013-12"), ("2015-01", "2018-12"))
DEFAULT_GROUPS = ("economic", "political", "security")
OUTCOMES = ("attacks", "killed")
SOURCE = profile().source("attribution")


# --------------------------------------------------------------------------- parsing


def parse_periods(text: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """``"2010-01:2013-12,2015-01:2018-12"`` -> ``(("2010-01", "2013-12"), ("2015-01", "2018-12"))``."""
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if len(parts) != 2:
        raise ValueError(f"--periods needs two ranges A,B like 2010-01:2013-12,2015-01:2018-12; got {text!r}")
    out = []
    for p in parts:
        ab = p.split(":")
        if len(ab) != 2:
            raise ValueError(f"period {p!r}: expected START:END with months YYYY-MM")
        for x in ab:
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", x):
                raise ValueError(f"period {p!r}: {x!r} is not a month YYYY-MM")
        if pd.Timestamp(ab[0] + "-01") > pd.Timestamp(ab[1] + "-01"):
            raise ValueError(f"period {p!r}: start is after end")
        out.append((ab[0], ab[1]))
    return out[0], out[1]


def parse_groups(text: str | Sequence[str]) -> tuple[str, ...]:
    groups = [g.strip() for g in (text.split(",") if isinstance(text, str) else text) if str(g).strip()]
    unknown = [g for g in groups if g not in GROUPS]
    if unknown or not groups:
        raise ValueError(f"--groups: unknown or empty {unknown or groups}; choose from {', '.join(GROUPS)}")
    return tuple(dict.fromkeys(groups))


def _period_mask(ds: pd.Series, period: tuple[str, str]) -> np.ndarray:
    a = pd.Timestamp(period[0] + "-01")
    b = pd.Timestamp(period[1] + "-01")
    return ((ds >= a) & (ds <= b)).to_numpy()


# --------------------------------------------------------------------------- data assembly


def _controls(df: pd.DataFrame, units: Sequence[str], trend: bool = False) -> pd.DataFrame:
    m = df["ds"].dt.month.to_numpy()
    years = (df["ds"].dt.year + (df["ds"].dt.month - 1) / 12.0 - 2012.0).to_numpy()
    ctl = {}
    for u in units:
        ctl[f"unit[{u}]"] = (df["unique_id"].to_numpy() == u).astype(float)
        if trend:
            ctl[f"trend[{u}]"] = ctl[f"unit[{u}]"] * years
    ctl.update(zip(fourier_names(2), fourier_terms(m, 12, 2).T))
    return pd.DataFrame(ctl, index=df.index)


def _shift_covariates(cov: pd.DataFrame, cols: Sequence[str], extra_lag: int) -> pd.DataFrame:
    if extra_lag == 0:
        return cov
    cov = cov.sort_values(["unique_id", "ds"])
    shifted = cov.groupby("unique_id", sort=False)[list(cols)].shift(extra_lag)
    return cov.assign(**{c: shifted[c] for c in cols})


def assemble(panel: pd.DataFrame, covariates: pd.DataFrame, outcome: str, groups: Sequence[str],
             min_events: int = 20, extra_econ_lag: int = 0, units: Sequence[str] | None = None,
             trend: bool = False) -> dict:
    """Join panel and covariates; drop rows with missing used covariates (reported) and thin units."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    need = {"unique_id", "ds", outcome, "population"}
    miss = need - set(panel.columns)
    if miss:
        raise ValueError(f"panel lacks column(s) {sorted(miss)} (contract: docs/ARCHITECTURE.md)")
    months = pd.to_datetime(panel["ds"])
    if months.dt.month.nunique() < 12 or (months.dt.day != 1).any():
        raise ValueError("run_attribution needs the monthly panel (load_panel(freq='month')): ds must be "
                         "month starts covering all 12 calendar months")
    cols = feature_names(groups)
    miss = set(cols) - set(covariates.columns)
    if miss:
        raise ValueError(f"covariates lack column(s) {sorted(miss)}; rebuild with `pakcast data build`")
    econ = [c for c in cols if covariate_groups()[c] == "economic"]
    cov = _shift_covariates(covariates[["unique_id", "ds", *cols]].copy(), econ, extra_econ_lag)
    pan = panel.loc[panel["unique_id"] != profile().national, ["unique_id", "ds", outcome, "population"]].copy()
    pan["unique_id"] = pan["unique_id"].astype(str)
    cov["unique_id"] = cov["unique_id"].astype(str)
    df = pan.merge(cov, on=["unique_id", "ds"], how="left", validate="one_to_one")
    cov_ok = df[cols].notna().all(axis=1).to_numpy()
    pop_ok = np.isfinite(np.log(df["population"].to_numpy(dtype=float)))
    y_ok = df[outcome].notna().to_numpy()
    dropped_months = sorted(set(df.loc[~cov_ok, "ds"].dt.strftime("%Y-%m")))
    no_pop = df.loc[cov_ok & ~pop_ok].groupby("unique_id").size()
    no_pop = {u: int(n) for u, n in no_pop.items()}
    ok = cov_ok & pop_ok & y_ok
    df = df.loc[ok].reset_index(drop=True)
    totals = df.groupby("unique_id")[outcome].sum()
    chosen = list(units) if units is not None else [u for u, n in totals.items() if n >= min_events]
    excluded = {u: int(n) for u, n in totals.items() if u not in chosen}
    df = df.loc[df["unique_id"].isin(chosen)].sort_values(["unique_id", "ds"]).reset_index(drop=True)
    if df.empty:
        raise ValueError("no rows left after joining panel and covariates and dropping missing values")
    chosen = sorted(set(df["unique_id"]))
    X = pd.concat([_controls(df, chosen, trend), df[cols]], axis=1)
    # drop covariates that do not vary over the rows used (e.g. kabul_takeover before 2021-08)
    constant = [c for c in cols if np.ptp(df[c].to_numpy(dtype=float)) == 0]
    X = X.drop(columns=constant)
    return {
        "df": df, "X": X, "y": df[outcome].to_numpy(dtype=float),
        "offset": np.log(df["population"].to_numpy(dtype=float)),
        "groups": {c: covariate_groups()[c] for c in cols if c not in constant},
        "units": chosen, "excluded_units": excluded, "constant_dropped": constant,
        "months_dropped_missing": dropped_months,
        "rows_dropped_no_population": no_pop,
        "time": df["ds"].to_numpy(),
    }


# --------------------------------------------------------------------------- pieces


def _contributions(res, data, periods) -> list[dict]:
    """Per unit: change of the mean log-rate from period A to B, split by covariate (exact sum)."""
    df = data["df"]
    X = data["X"]
    out = []
    pa = _period_mask(df["ds"], periods[0])
    pb = _period_mask(df["ds"], periods[1])
    for u in data["units"]:
        mu_ = (df["unique_id"] == u).to_numpy()
        if not (mu_ & pa).any() or not (mu_ & pb).any():
            continue
        ref = X.loc[mu_ & pa].mean(axis=0)
        ref["offset"] = float(data["offset"][mu_ & pa].mean())
        con = res.contributions(reference=ref, X=X.loc[mu_ & pb], offset=data["offset"][mu_ & pb]).mean(axis=0)
        for c, g in res.model.groups.items():
            out.append({"unique_id": u, "covariate": c, "group": g, "contribution": float(con[c])})
        out.append({"unique_id": u, "covariate": OTHER, "group": OTHER, "contribution": float(con[OTHER])})
        out.append({"unique_id": u, "covariate": "fitted_change", "group": "total",
                    "contribution": float(con["fitted_change"])})
    return out


def _contributions_by_year(res, data) -> list[dict]:
    """Per unit and calendar year: mean contribution of each group to the log-rate against the
    unit's own mean over the months used; groups + other sum exactly to ``fitted_change``."""
    df = data["df"]
    rows = []
    for u in data["units"]:
        m = (df["unique_id"] == u).to_numpy()
        ref = data["X"].loc[m].mean(axis=0)
        ref["offset"] = float(data["offset"][m].mean())
        con = res.contributions(reference=ref, X=data["X"].loc[m], offset=data["offset"][m])
        by_group = pd.DataFrame({g: con[[c for c, gg in res.model.groups.items() if gg == g]].sum(axis=1)
                                 for g in dict.fromkeys(res.model.groups.values())})
        by_group[OTHER] = con[OTHER]
        by_group["fitted_change"] = con["fitted_change"]
        year = df.loc[m, "ds"].dt.year.to_numpy()
        for y, sub in by_group.groupby(year):
            rows.append({"unique_id": u, "year": int(y), "n_months": int(len(sub)),
                         **{k: float(v) for k, v in sub.mean(axis=0).items()}})
    return rows


def _ar_terms(df: pd.DataFrame, outcome: str, lags: Sequence[int] = (1, 2, 3)) -> pd.DataFrame:
    g = df.groupby("unique_id", sort=False)[outcome]
    return pd.DataFrame({f"ar_log1p_lag{k}": np.log1p(g.shift(k)) for k in lags}, index=df.index)


def _hac_mean(x: np.ndarray, lags: int = 3) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    cov = sandwich(np.array([[1.0 / len(x)]]), bartlett_meat(d[:, None], lags))
    return float(x.mean()), float(math.sqrt(cov[0, 0]))


def _backtest(data, outcome: str, groups: Sequence[str], first_origin: str, step_months: int,
              horizon_months: int) -> list[dict]:
    """Rolling origin: refit every ``step_months``; one-step-ahead NB forecasts for the next
    ``horizon_months`` months (AR terms use the observed past); closed-form NB CRPS per
    province-month and the Diebold-Mariano test, both from :mod:`forecast.scoring` (the project's
    one scoring module); the mean CRPS change gets a Newey-West interval (:mod:`models.covariance`)."""
    df = data["df"]
    ar = _ar_terms(df, outcome)
    ok = ar.notna().all(axis=1).to_numpy()
    base = pd.concat([_controls(df, data["units"]), ar], axis=1)
    y, off, ds = data["y"], data["offset"], df["ds"]
    origins = pd.date_range(pd.Timestamp(first_origin), ds.max(), freq=f"{step_months}MS")
    scores: dict[str, list] = {"base": [], **{g: [] for g in groups}}
    months: list = []
    for o in origins:
        tr = ok & (ds < o).to_numpy()
        te = ok & (ds >= o).to_numpy() & (ds < o + pd.DateOffset(months=horizon_months)).to_numpy()
        if te.sum() == 0 or tr.sum() < 60:
            continue
        months.append(ds[te].to_numpy())
        for name in ["base", *groups]:
            cols = [] if name == "base" else [c for c, gg in data["groups"].items() if gg == name]
            Xf = pd.concat([base, data["X"][cols]], axis=1)
            Xtr = Xf.loc[tr]
            keep = [c for c in Xtr.columns if np.ptp(Xtr[c].to_numpy(dtype=float)) > 0 or c.startswith("unit[")]
            try:
                fit = CountGLM(y[tr], Xtr[keep].to_numpy(dtype=float), off[tr], family="negbin").fit()
            except (ValueError, np.linalg.LinAlgError):
                fit = None
            if fit is None:
                scores[name].append(np.full(te.sum(), np.nan))
                continue
            mu = np.exp(np.clip(off[te] + Xf.loc[te, keep].to_numpy(dtype=float) @ fit.params.to_numpy(), -30, 30))
            scores[name].append(crps_negbin(y[te], mu, fit.alpha_))
    if not months:
        return []
    base_s = np.concatenate(scores["base"])
    mon = pd.Series(np.concatenate(months))
    base_m = pd.Series(base_s).groupby(mon.to_numpy()).mean()
    out = []
    for g in groups:
        s = np.concatenate(scores[g])
        diff = pd.Series(s - base_s).groupby(mon.to_numpy()).mean()  # per month, mean over provinces
        okd = diff.dropna()
        m, se = _hac_mean(okd.to_numpy())
        dm = diebold_mariano(pd.Series(s).groupby(mon.to_numpy()).mean().to_numpy(), base_m.to_numpy(), h=1)
        out.append({"group": g, "delta_crps": m, "ci_low": m - 1.96 * se, "ci_high": m + 1.96 * se,
                    "dm_statistic": dm.statistic, "dm_pvalue": dm.pvalue,
                    "relative": m / float(np.nanmean(base_s)), "base_crps": float(np.nanmean(base_s)),
                    "n_months": int(len(okd)), "n_forecasts": int(np.isfinite(s).sum()),
                    "months": f"{okd.index.min():%Y-%m}..{okd.index.max():%Y-%m}"})
    return out


def _granger(data, outcome: str, groups: Sequence[str], maxlags: int) -> list[dict]:
    """Wald (Driscoll-Kraay) test that a group's covariates lagged one month add to AR(3) + controls."""
    df = data["df"]
    ar = _ar_terms(df, outcome)
    ok = ar.notna().all(axis=1).to_numpy()
    base = pd.concat([_controls(df, data["units"]), ar], axis=1)
    out = []
    for g in groups:
        cols = [c for c, gg in data["groups"].items() if gg == g]
        lagged = df.assign(**data["X"][cols]).groupby("unique_id", sort=False)[cols].shift(1)
        lagged.columns = [f"L1.{c}" for c in cols]
        Xf = pd.concat([base, lagged], axis=1)
        rows = ok & lagged.notna().all(axis=1).to_numpy()
        Xr = Xf.loc[rows]
        keep = [c for c in Xr.columns if np.ptp(Xr[c].to_numpy(dtype=float)) > 0 or c.startswith("unit[")]
        fit = CountGLM(data["y"][rows], Xr[keep].to_numpy(dtype=float), data["offset"][rows], family="negbin").fit(
            cov_type="driscoll-kraay", time=data["time"][rows], maxlags=maxlags)
        idx = [keep.index(c) for c in keep if c.startswith("L1.")]
        b = fit.params.to_numpy()[idx]
        V = fit.cov_params().to_numpy()[np.ix_(idx, idx)]
        w = float(b @ np.linalg.solve(V, b))
        out.append({"group": g, "wald_chi2": w, "df": len(idx), "pvalue": float(stats.chi2.sf(w, len(idx))),
                    "test": "Wald (Driscoll-Kraay) on one-month-lagged covariates given AR(3), unit effects, "
                            "seasonality"})
    return out


def _step(ds: pd.Series, date: pd.Timestamp) -> np.ndarray:
    """Step from ``date``; the event month gets the share of its days from the event on."""
    step = (ds >= date.to_period("M").to_timestamp()).astype(float).to_numpy().copy()
    if date.day > 1:
        frac = 1.0 - (date.day - 1) / date.days_in_month
        step[(ds.dt.to_period("M") == date.to_period("M")).to_numpy()] = frac
    return step


def _step_z(data, rows: np.ndarray, date: pd.Timestamp, maxlags: int) -> tuple[float, float]:
    """Coefficient and Driscoll-Kraay s.e. of a step at ``date`` added to the model, on ``rows``."""
    ds = data["df"]["ds"].loc[rows].reset_index(drop=True)
    Xr = data["X"].loc[rows]
    y = data["y"][rows]
    unit_cols = [c for c in Xr.columns if c.startswith("unit[")]
    # drop columns constant on these rows (not the unit effects) and units without events
    keep = [c for c in Xr.columns if (c in unit_cols and y[Xr[c].to_numpy() == 1].sum() > 0)
            or (c not in unit_cols and np.ptp(Xr[c].to_numpy(dtype=float)) > 0)]
    has_unit = Xr[[c for c in keep if c in unit_cols]].to_numpy().sum(axis=1) > 0
    Xm = np.column_stack([Xr[keep].to_numpy(dtype=float), _step(ds, date)])[has_unit]
    fit = CountGLM(y[has_unit], Xm, data["offset"][rows][has_unit], family="negbin").fit(
        cov_type="driscoll-kraay", time=data["time"][rows][has_unit], maxlags=maxlags)
    k = Xm.shape[1] - 1
    return float(fit.params.iloc[k]), float(fit.bse.iloc[k])


def _placebo(data, break_date: str, n_placebo: int, random_seed: int, maxlags: int) -> dict:
    """In-time placebo: the step at the real date against steps at fake dates.

    The real step is estimated on all months. A fake date before the real one is tested on the
    months before the real date only, and one after it on the months from the real date on, so
    the real break never leaks into a placebo. Fake dates lie at least 24 months inside their
    segment.
    """
    ds = data["df"]["ds"]
    real = pd.Timestamp(break_date)
    if not (ds.min() < real <= ds.max()):
        raise ValueError(f"break date {break_date} is outside the data ({ds.min():%Y-%m}..{ds.max():%Y-%m})")
    everything = np.ones(len(ds), dtype=bool)
    b0, se0 = _step_z(data, everything, real, maxlags)
    before = (ds < real.to_period("M").to_timestamp()).to_numpy()
    after = ~before
    cands = []
    for seg in (before, after):
        if seg.sum() == 0:
            continue
        lo, hi = ds[seg].min() + pd.DateOffset(months=24), ds[seg].max() - pd.DateOffset(months=24)
        if lo <= hi:
            cands += [(d, seg) for d in pd.date_range(lo, hi, freq="MS")]
    rng = np.random.default_rng(random_seed)
    pick = sorted(rng.choice(len(cands), size=min(n_placebo, len(cands)), replace=False)) if cands else []
    fz, refused = [], []
    for i in pick:
        d, seg = cands[i]
        try:
            b, se = _step_z(data, seg, d, maxlags)
        except (ValueError, np.linalg.LinAlgError) as e:  # e.g. SeparationError: no finite maximum
            refused.append({"date": d.strftime("%Y-%m"), "segment": "before" if seg is before else "after",
                            "reason": str(e)})
            continue
        fz.append({"date": d.strftime("%Y-%m"), "segment": "before" if seg is before else "after",
                   "irr": math.exp(b), "z": b / se})
    zs = np.array([abs(f["z"]) for f in fz])
    return {
        "break_date": real.strftime("%Y-%m-%d"),
        "irr": math.exp(b0), "ci_low": math.exp(b0 - 1.96 * se0), "ci_high": math.exp(b0 + 1.96 * se0),
        "z": b0 / se0,
        "placebo_share_abs_z_ge_real": float((np.sum(zs >= abs(b0 / se0)) + 1) / (len(zs) + 1)),
        "n_placebos": len(fz),
        "placebos": fz,
        "placebos_refused": refused,
        "note": "a step at the real date added to the full model; placebo steps at random months of the "
                "segment before or after the real date (fitted on that segment only). A small share means a "
                "level change at the real date that the covariates do not account for.",
    }


def _scenarios(res, data, groups, scenarios, n_samples, random_seed) -> list[dict]:
    df, X = data["df"], data["X"]
    last = df["ds"].max()
    window = (df["ds"] > last - pd.DateOffset(months=12)).to_numpy()
    Xw = X.loc[window].copy()
    offw = data["offset"][window]
    if scenarios is None:
        scenarios = {}
        if "cpi_yoy_pct" in X.columns:
            scenarios["inflation_10pct"] = {"cpi_yoy_pct": 10.0}
            scenarios["inflation_30pct"] = {"cpi_yoy_pct": 30.0}
        if "military_operation" in X.columns:
            k = (df.loc[window, "ds"].dt.year - (last - pd.DateOffset(months=11)).year) * 12 + \
                (df.loc[window, "ds"].dt.month - (last - pd.DateOffset(months=11)).month)
            scenarios["new_military_operation"] = {
                "military_operation": ("add", np.exp2(-(30.44 * k.to_numpy() + 15.0) / 180.0))}
    out = []
    base = res.scenario(Xw, offw, n_samples=n_samples, random_seed=random_seed)
    bt = base.total()
    out.append({"scenario": "as_observed", "covariates": {}, **bt, "ratio_to_observed": 1.0,
                "ratio_ci_low": 1.0, "ratio_ci_high": 1.0})
    for name, path in scenarios.items():
        Xs = Xw.copy()
        for c, v in path.items():
            if c not in Xs.columns:
                raise ValueError(f"scenario {name!r}: covariate {c!r} is not in the model")
            if isinstance(v, tuple) and v[0] == "add":
                Xs[c] = Xs[c].to_numpy() + np.asarray(v[1], dtype=float)
            else:
                Xs[c] = np.broadcast_to(np.asarray(v, dtype=float), (len(Xs),)).copy()
        s = res.scenario(Xs, offw, n_samples=n_samples, random_seed=random_seed)  # common random numbers
        tot = s.samples.sum(axis=0)
        ratio = tot / np.maximum(base.samples.sum(axis=0), 1)
        desc = {c: ("+new operation kernel" if isinstance(v, tuple) else v) for c, v in path.items()}
        outside = {}
        for c in path:
            lo_, hi_ = float(X[c].min()), float(X[c].max())
            vals = Xs[c].to_numpy(dtype=float)
            if vals.min() < lo_ - 1e-12 or vals.max() > hi_ + 1e-12:
                outside[c] = [lo_, hi_]
        out.append({"scenario": name, "covariates": desc, "outside_sample_range": outside, **s.total(),
                    "ratio_to_observed": float(np.median(ratio)),
                    "ratio_ci_low": float(np.percentile(ratio, 2.5)),
                    "ratio_ci_high": float(np.percentile(ratio, 97.5))})
    for o in out:
        o["window"] = f"{df.loc[window, 'ds'].min():%Y-%m}..{last:%Y-%m}"
        o["units"] = data["units"]
        o["measure"] = "total over the window and units"
    return out


def _lag_sensitivity(panel, covariates, outcome, groups, min_events, lags, cov_type, units, trend,
                     maxlags) -> list[dict]:
    out = []
    for extra in lags:
        d = assemble(panel, covariates, outcome, groups, min_events=min_events, extra_econ_lag=extra, units=units,
                     trend=trend)
        r = AttributionModel(d["y"], d["X"], d["groups"], d["offset"], unit=d["df"]["unique_id"].to_numpy(),
                             time=d["time"]).fit(cov_type=cov_type, maxlags=maxlags)
        for e in r.irr().to_dict(orient="records"):
            if e["group"] == "economic":
                out.append({"extra_lag_months": extra, "covariate": e["covariate"], "irr": e["irr"],
                            "ci_low": e["ci_low"], "ci_high": e["ci_high"],
                            "months_used": f"{d['df']['ds'].min():%Y-%m}..{d['df']['ds'].max():%Y-%m}"})
    return out


def _specification_checks(panel, covariates, outcome, groups, periods, min_events, units, trend, cov_type,
                          maxlags, n_draws, random_seed) -> list[dict]:
    """Shapley shares under alternative specifications: trends flipped, break terms added."""
    specs = [("province_trends" if not trend else "no_trends", tuple(groups), not trend)]
    if "breaks" not in groups:
        specs.append(("with_break_terms", tuple(groups) + ("breaks",), trend))
    out = []
    for name, grp, tr in specs:
        d = assemble(panel, covariates, outcome, grp, min_events=min_events, units=units, trend=tr)
        r = AttributionModel(d["y"], d["X"], d["groups"], d["offset"], unit=d["df"]["unique_id"].to_numpy(),
                             time=d["time"]).fit(cov_type=cov_type, maxlags=maxlags)
        sh = r.shapley(_period_mask(d["df"]["ds"], periods[0]), _period_mask(d["df"]["ds"], periods[1]),
                       n_draws=n_draws, random_seed=random_seed)
        for row in sh.table.to_dict(orient="records"):
            out.append({"specification": name, "converged": r.converged, **row})
    return out


def _caveats(out: dict, groups: Sequence[str], break_date: str) -> list[str]:
    """Plain-language limits read off the numbers (what the data cannot show)."""
    cav = []
    d = out["data"]
    if not out["model"]["converged"]:
        cav.append("The NB fit did not converge: treat every number here as unreliable.")
    if any(not c.get("converged", True) for c in out.get("specification_checks", [])):
        cav.append("An alternative specification did not converge; its shares are unreliable.")
    if "economic" in groups:
        cav.append(f"Economic covariates are national series: their effects are identified from timing alone "
                   f"({d['n_months']} months, {d['months_used']}) and are confounded with anything else that "
                   f"moved at the same time.")
    if "security" in groups:
        cav.append("UCDP counts clashes between the army and militants, so military operations raise event counts "
                   "directly; security IRRs above 1 do not mean that operations cause terrorism.")
    sh = {r["group"]: r for r in out["shapley"]}
    tot = out["shapley_summary"]["total_change"]
    res_ = sh[RESIDUAL]["share"]
    if abs(res_) > 0.25 * abs(tot):
        cav.append(f"The model leaves {res_:+.2f} of the {tot:+.2f} log change unexplained (residual): the "
                   f"groups account for the fitted change only.")
    for c in out.get("specification_checks", []):
        g = c["group"]
        if g in sh and g not in (RESIDUAL, OTHER):
            main = sh[g]
            half = (main["ci_high"] - main["ci_low"]) / 2
            if np.sign(c["share"]) != np.sign(main["share"]) or abs(c["share"] - main["share"]) > half:
                cav.append(f"The {g} share moves from {main['share']:+.2f} to {c['share']:+.2f} under the "
                           f"'{c['specification']}' specification: that split is not robust.")
    for r in out.get("oos_crps_gain", []):
        if r["ci_low"] > 0:
            cav.append(f"Adding the {r['group']} group makes out-of-sample forecasts worse (CRPS "
                       f"{r['delta_crps']:+.3f} per province-month, {r['months']}): its in-sample association "
                       f"does not carry over.")
        elif r["ci_high"] < 0:
            cav.append(f"Adding the {r['group']} group improves out-of-sample CRPS by {-r['delta_crps']:.3f} per "
                       f"province-month ({r['months']}).")
    for sc in out.get("scenarios", []):
        for c, (lo_, hi_) in sc.get("outside_sample_range", {}).items():
            cav.append(f"Scenario '{sc['scenario']}' sets {c} outside the range seen in the data "
                       f"({lo_:.3g} to {hi_:.3g}): its numbers are an extrapolation of a log-linear fit.")
    b = out.get("bayes")
    if b and not b["converged"]:
        cav.append("The Bayesian model did not pass its convergence gates (" + "; ".join(b["diagnostics"]["failures"])
                   + "): do not use its IRRs; run longer.")
    pl = out.get("placebo")
    if pl:
        share = pl["placebo_share_abs_z_ge_real"]
        if share > 0.1:
            cav.append(f"Steps at fake dates are at least as large as the step at {break_date} in {share:.0%} of "
                       f"placebos: a break at that date cannot be told apart from the series' other level shifts.")
        else:
            cav.append(f"A level change at {break_date} remains after the covariates (placebo share {share:.0%}).")
    return cav


def bayes_effects(panel: pd.DataFrame, covariates: pd.DataFrame, outcome: str = "attacks",
                  groups: Sequence[str] | str = DEFAULT_GROUPS, *, draws: int = 1000, tune: int = 1000,
                  chains: int = 4, random_seed: int = 0, min_events: int = 20,
                  units: Sequence[str] | None = None, alpha: float = 0.05) -> dict:
    """IRRs of the covariates in the Bayesian hierarchical NB model (``models.bayes.its``).

    The model is ``HierarchicalNBITS`` with the covariates added (standardised there): partial
    pooling of province intercepts and trends, level and slope changes at its default breaks,
    seasonality and the population offset. Its IRRs are therefore adjusted for a trend and
    breaks, unlike the NB model of :func:`run_attribution`. Equal-tailed posterior intervals;
    ``converged`` is the sampler's diagnostics gate (R-hat, ESS, divergences): do not use the
    numbers when it is false.
    """
    from pakcast.models.attribution import irr_from_draws
    from pakcast.models.bayes.its import HierarchicalNBITS

    groups = parse_groups(groups)
    data = assemble(panel, covariates, outcome, groups, min_events=min_events, units=units)
    cols = list(data["groups"])
    df = pd.concat([data["df"][["unique_id", "ds", outcome, "population"]], data["df"][cols]], axis=1)
    model = HierarchicalNBITS(df, outcome, breaks=profile().intervention_days(), covariates=cols)
    res = model.fit(draws=draws, tune=tune, chains=chains, random_seed=random_seed)
    sd = df[cols].to_numpy(dtype=float).std(axis=0)  # the model standardises with these (ddof=0)
    table = irr_from_draws(res._draws("beta"), cols, np.where(sd > 0, sd, 1.0), groups=data["groups"],
                           alpha=alpha)
    diag = res.diagnostics
    return {
        "effects_bayes": table.to_dict(orient="records"),
        "converged": bool(diag.converged),
        "diagnostics": {"max_rhat": diag.max_rhat, "min_ess_bulk": diag.min_ess_bulk,
                        "min_ess_tail": diag.min_ess_tail, "divergences": diag.divergences,
                        "failures": list(diag.failures), "chains": chains, "draws": draws, "tune": tune},
        "model": "HierarchicalNBITS (models.bayes.its): partial pooling, trend, level and slope changes at "
                 f"{', '.join(model.design.break_labels)}, 2 seasonal harmonics, offset log(population)",
        "months_used": f"{data['df']['ds'].min():%Y-%m}..{data['df']['ds'].max():%Y-%m}",
        "units": data["units"],
        "random_seed": random_seed,
        "interpretation": INTERPRETATION,
    }


# --------------------------------------------------------------------------- main entry


def run_attribution(panel: pd.DataFrame, covariates: pd.DataFrame, outcome: str = "attacks",
                    periods: tuple[tuple[str, str], tuple[str, str]] | str = DEFAULT_PERIODS,
                    groups: Sequence[str] | str = DEFAULT_GROUPS, random_seed: int = 0, *,
                    n_draws: int = 200, min_events: int = 20, units: Sequence[str] | None = None,
                    cov_type: str = "driscoll-kraay", backtest: bool = True,
                    first_origin: str = "2010-01", step_months: int = 12, horizon_months: int = 12,
                    break_date: str | None = None, n_placebo: int = 20,
                    lag_choices: Sequence[int] = (0, 3, 6, 12),
                    scenarios: Mapping[str, Mapping[str, object]] | None = None,
                    n_samples: int = 2000, trend: bool = False, maxlags: int = 12,
                    bayes: bool = False, bayes_draws: int = 1000, bayes_tune: int = 1000,
                    bayes_chains: int = 4, source: str | None = None, data_note: str | None = None) -> dict:
    """Attribution of the outcome to covariate groups, with checks; a JSON-ready dict.

    Parameters
    ----------
    panel : DataFrame
        Long panel (``unique_id, ds, attacks, killed, population``), e.g. ``load_panel("month")``.
        The national ``Pakistan`` rows are ignored (provinces are modelled).
    covariates : DataFrame
        ``load_covariates("month")``.
    outcome : {"attacks", "killed"}
    periods : two (start, end) month pairs, or the CLI string ``"2010-01:2013-12,2015-01:2018-12"``.
    groups : covariate groups in the model (economic, political, security, breaks).
    random_seed : int
        Seeds the parameter draws (Shapley intervals, scenarios) and the placebo dates.
    backtest : bool
        Run the out-of-sample CRPS check, Granger tests, placebos, lag sensitivity and the
        specification checks (province trends on/off, break terms added).
    break_date : str, optional
        The real break of the placebo test; default the country profile's
        (:attr:`forecast.country.CountryProfile.attribution_break`).
    trend : bool
        Add a linear trend per province to the controls (player ``other``).
    maxlags : int
        Driscoll-Kraay lags (months); 12 by default because the covariates are persistent.
    bayes : bool
        Also fit the Bayesian hierarchical model with the covariates (:func:`bayes_effects`;
        minutes, not seconds) and add its IRRs under ``bayes``.
    source, data_note : str, optional
        What the panel's counts are (``data.source``) and the note on their months (``data.note``);
        default the shipped UCDP panel's (e.g. the fused series passes its units).

    Returns
    -------
    dict
        Keys ``effects``, ``shapley``, ``oos_crps_gain`` (the CLI contract) and ``shapley_summary``,
        ``contributions``, ``granger``, ``placebo``, ``lag_sensitivity``,
        ``specification_checks``, ``scenarios``, ``caveats``, ``model``, ``data``,
        ``interpretation``, ``timing_s``.
    """
    t0 = _time.perf_counter()
    if break_date is None:
        default_break = profile().attribution_break
        if default_break is None:
            raise ValueError("no break date for the placebo test: give break_date (--intervention DATE)")
        break_date = default_break.date
    if isinstance(periods, str):
        periods = parse_periods(periods)
    groups = parse_groups(groups)
    data = assemble(panel, covariates, outcome, groups, min_events=min_events, units=units, trend=trend)
    df = data["df"]
    model = AttributionModel(data["y"], data["X"], data["groups"], data["offset"],
                             unit=df["unique_id"].to_numpy(), time=data["time"])
    res = model.fit(cov_type=cov_type, maxlags=maxlags)
    pa = _period_mask(df["ds"], periods[0])
    pb = _period_mask(df["ds"], periods[1])
    for name, m, p in (("A", pa, periods[0]), ("B", pb, periods[1])):
        if not m.any():
            raise ValueError(f"period {name} {p[0]}..{p[1]} has no months with data "
                             f"(data cover {df['ds'].min():%Y-%m}..{df['ds'].max():%Y-%m})")
    sh = res.shapley(pa, pb, n_draws=n_draws, random_seed=random_seed)
    effects = res.irr().to_dict(orient="records")
    out: dict = {
        "outcome": outcome,
        "effects": effects,
        "shapley": sh.table.to_dict(orient="records"),
        "shapley_summary": {
            **{k: v for k, v in sh.to_dict().items() if k != "shapley"},
            "period_a": f"{periods[0][0]}..{periods[0][1]}", "period_b": f"{periods[1][0]}..{periods[1][1]}",
            "months_a": int(len(set(df.loc[pa, 'ds']))), "months_b": int(len(set(df.loc[pb, 'ds']))),
            "quantity": "log of the mean monthly count summed over the modelled provinces",
            "players": "covariate groups; 'other' = province effects, seasonality and population exposure; "
                       "'residual' = observed minus fitted change",
        },
        "contributions": _contributions(res, data, periods),
        "contributions_by_year": _contributions_by_year(res, data),
        "model": {"family": "negbin (NB2)", "alpha_nb": res.alpha_nb, "cov_type": res.cov_type,
                  "maxlags": maxlags, "converged": res.converged, "nobs": res.nobs, "loglike": res.loglike,
                  "controls": "province fixed effects, 2 seasonal harmonics, offset log(population)"
                              + (", linear trend per province" if trend else ""),
                  "groups": list(groups)},
        "data": {
            "source": SOURCE if source is None else source,
            "units": data["units"],
            "excluded_units": data["excluded_units"],
            "excluded_rule": f"units with fewer than {min_events} {outcome} in the rows used",
            "months_used": f"{df['ds'].min():%Y-%m}..{df['ds'].max():%Y-%m}",
            "n_months": int(df["ds"].nunique()),
            "months_dropped_missing_covariates": _ranges(data["months_dropped_missing"]),
            "rows_dropped_no_population": data["rows_dropped_no_population"],
            "covariates_constant_dropped": data["constant_dropped"],
            "note": data_note if data_note is not None else (
                "UCDP GED ends 2021-12 while the covariates run to 2025-12: every result rests on "
                "months_used only; nothing here describes 2022-2025."),
        },
        "interpretation": INTERPRETATION,
    }
    if backtest:
        out["oos_crps_gain"] = _backtest(data, outcome, groups, first_origin, step_months, horizon_months)
        out["granger"] = _granger(data, outcome, groups, maxlags)
        out["placebo"] = _placebo(data, break_date, n_placebo, random_seed, maxlags)
        out["lag_sensitivity"] = (_lag_sensitivity(panel, covariates, outcome, groups, min_events,
                                                   lag_choices, cov_type, data["units"], trend, maxlags)
                                  if "economic" in groups else [])
        out["specification_checks"] = _specification_checks(
            panel, covariates, outcome, groups, periods, min_events, data["units"], trend, cov_type, maxlags,
            max(50, n_draws // 2), random_seed)
    else:
        out["oos_crps_gain"] = []
    out["scenarios"] = _scenarios(res, data, groups, scenarios, n_samples, random_seed)
    if bayes:
        out["bayes"] = bayes_effects(panel, covariates, outcome, groups, draws=bayes_draws, tune=bayes_tune,
                                     chains=bayes_chains, random_seed=random_seed, min_events=min_events,
                                     units=data["units"])
    out["caveats"] = _caveats(out, groups, break_date)
    out["timing_s"] = round(_time.perf_counter() - t0, 3)
    return out


def _ranges(months: Sequence[str]) -> list[str]:
    """['2000-01', '2000-02', '2000-05'] -> ['2000-01..2000-02', '2000-05']."""
    if not months:
        return []
    p = pd.PeriodIndex(list(months), freq="M").sort_values()
    out, start, prev = [], p[0], p[0]
    for q in p[1:]:
        if q != prev + 1:
            out.append(f"{start}..{prev}" if start != prev else f"{start}")
            start = q
        prev = q
    out.append(f"{start}..{prev}" if start != prev else f"{start}")
    return out
