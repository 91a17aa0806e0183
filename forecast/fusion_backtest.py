"""Rolling-origin backtest of the fused series after 2021 (``pakcast fuse --backtest ORIGINS``).

At each origin :math:`o` (a month; default the Januaries 2022-2025) the measurement model is fitted
on the figures whose period **ended before** :math:`o` (a figure is published after its period
ends; the shipped UCDP panel ends 2021-12, so every origin sees all of it) and forecasts every
published figure whose period lies inside :math:`o .. o + h - 1` (``horizon`` :math:`h` = 12
months), at that figure's own resolution, region and metric: PICSS months, PIPS years, CRSS
quarters, ... The fused forecast of a figure is the posterior predictive of what that source
would publish (:meth:`FusionResults.predict_observations`: its scale times the latent sum over
the figure's months and provinces, with the source's NB2 noise).

It is scored (:mod:`pakcast.forecast.scoring`: CRPS, randomised-PIT coverage, log score) against

* ``last_value``: the source's own last figure of the same metric, region and resolution before
  the origin, and ``hist_mean``: the mean of all of them (point forecasts; their CRPS is the
  absolute error, their coverage undefined);
* ``ucdp_only``: the forecaster-zoo model ``ucdp_model`` (default ``negbin_12``, the backtest's
  default baseline) fitted on the UCDP panel alone (it ends 2021-12, before every origin) and
  forecasting every month from 2022-01, **translated into the source's units** draw by draw with
  the fused scales of that origin's fit: figure draw = (kappa_source / kappa_UCDP) x the UCDP
  path summed over the figure's months and provinces. It answers "how well would the UCDP-only
  forecast have done, had we known each source's scale relative to UCDP".

Scorecard rows carry the backtest contract keys (``model, province, measure, resolution, crps,
coverage_90, pit_ks_p, skill_vs_best_baseline, skill_ci_low, skill_ci_high, published``, ...)
plus ``source`` and ``metric``: one row per model, source-metric, region and resolution. Skill is
against the better (lower mean CRPS) of the source's own two baselines, with a bootstrap interval
over origins (blocks of one origin: the 12-month windows do not overlap).

**Early warning** (:func:`early_warning_backtest`): for every attacks source-metric and region whose
quarter total can be formed from its published figures (a quarter figure, or all three monthly
figures) for a target quarter :math:`q` inside the window and for :math:`q - 4`, the forecast
P(figure of :math:`q` > figure of :math:`q - 4`) (:func:`pakcast.forecast.early_warning.exceedance_probability`:
against the published year-earlier figure when it was out by the origin, path by path otherwise)
is scored by the Brier score against what happened, beside the climatological forecast (the share
of that series' past quarters above their year-earlier quarter, before the origin; the source's
pooled share where the series has none), with a reliability table.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable

import numpy as np
import pandas as pd

from pakcast.forecast import scoring
from pakcast.forecast.provinces import NATIONAL

__all__ = ["DEFAULT_ORIGINS", "FUSED", "HORIZON", "MODELS", "UCDP_MODEL", "early_warning_backtest",
           "fusion_backtest", "origin_split", "own_baselines", "quarter_totals", "region_label", "score_figures",
           "scorecard_rows", "parse_fused_origins"]

DEFAULT_ORIGINS = "2022-01,2023-01,2024-01,2025-01"
HORIZON = 12
UCDP_MODEL = "negbin_12"
FUSED = "fused"
POINT_BASELINES = ("last_value", "hist_mean")
MODELS = (FUSED, *POINT_BASELINES, "ucdp_only")


def parse_fused_origins(text: str | None) -> list[pd.Period]:
    """``'START:END'`` (quarterly origins between) or comma-separated months -> month periods."""
    from pakcast.forecast.backtest_job import parse_origins
    from pakcast.forecast.errors import InputError

    try:
        ts = parse_origins(text or DEFAULT_ORIGINS) or []
    except InputError as exc:
        raise InputError(str(exc).replace("--origins:", "--backtest:", 1)) from exc
    return sorted({pd.Timestamp(t).to_period("M") for t in ts})


def region_label(cover: Any, units: list[str]) -> str:
    """``Pakistan`` for every unit, the province for one, ``A+B`` for a union."""
    c = tuple(cover)
    if set(c) == set(units):
        return NATIONAL
    return c[0] if len(c) == 1 else "+".join(c)


def origin_split(table: Any, origin: pd.Period, horizon: int = HORIZON) -> tuple[Any, pd.DataFrame, int]:
    """``(training table, held figures, n unscorable)``: training = figures whose period ended before
    ``origin``; held = figures inside ``origin .. origin + horizon - 1`` of a source-metric that the
    training set has (the others cannot be scored: no scale is known for them)."""
    f = table.frame
    train = f[f["last"] < origin].reset_index(drop=True)
    end = origin + (horizon - 1)
    held = f[(f["first"] >= origin) & (f["last"] <= end)]
    kept = set(zip(train["source"], train["metric"]))
    ok = np.array([k in kept for k in zip(held["source"], held["metric"])], dtype=bool)
    return dataclasses.replace(table, frame=train), held[ok].reset_index(drop=True), int((~ok).sum())


def own_baselines(held: pd.DataFrame, history: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per held figure: the same source's last and mean figure of the same metric, resolution and
    region in ``history`` (NaN where it has none)."""
    key = ["source", "metric", "period_type", "_ck"]
    h = history.assign(_ck=history["cover"].map(lambda c: ",".join(c))).sort_values("last")
    last = h.groupby(key)["value"].last()
    mean = h.groupby(key)["value"].mean()
    idx = pd.MultiIndex.from_arrays([held["source"], held["metric"], held["period_type"],
                                     held["cover"].map(lambda c: ",".join(c))])
    return (last.reindex(idx).to_numpy(dtype=float), mean.reindex(idx).to_numpy(dtype=float))


#: predictive means above this are capped before the NB2 draw (a forecast that far out is useless
#: anyway; its CRPS stays huge, but the Poisson sampler cannot draw beyond about 1e19)
MEAN_CAP = 1e15


def figure_draws(fr: Any, figures: pd.DataFrame, n_samples: int, random_seed: int) -> tuple[np.ndarray, int]:
    """Posterior predictive draws (n_figures, n_samples) of what each figure's source would publish,
    NB2 around the fused mean with each draw's means capped at :data:`MEAN_CAP`; returns the draws
    and how many means were capped."""
    mu, alpha = fr.results.predictive_mean_draws(figures, n_samples=n_samples, random_seed=random_seed)
    rng = np.random.default_rng([int(random_seed), 7])
    shape = 1.0 / alpha
    lam = rng.gamma(shape, np.minimum(mu, MEAN_CAP) / shape)
    capped = int((~(lam <= MEAN_CAP)).sum())
    return rng.poisson(np.minimum(np.nan_to_num(lam, nan=MEAN_CAP, posinf=MEAN_CAP), MEAN_CAP)).astype(float), capped


def score_figures(draws: np.ndarray, held: pd.DataFrame, random_seed: int = 0) -> pd.DataFrame:
    """Scores of predictive ``draws`` (n_figures, n) for the held figures' ``value``: ``crps,
    log_score, pit, cov50, cov80, cov90`` (randomised PIT), ``q05, q50, q95, in_interval_90`` (the
    closed sample interval)."""
    obs = held["value"].to_numpy(dtype=float)
    d = np.asarray(draws, dtype=float)
    pit = scoring.randomized_pit(obs, d, random_seed=random_seed)
    cov = scoring.pit_coverage(pit)
    q = np.quantile(d, [0.05, 0.5, 0.95], axis=1)
    return pd.DataFrame({"crps": scoring.crps(obs, d), "log_score": scoring.log_score(obs, d), "pit": pit,
                         "cov50": cov[50], "cov80": cov[80], "cov90": cov[90], "q05": q[0], "q50": q[1], "q95": q[2],
                         "in_interval_90": (obs >= q[0]) & (obs <= q[2])})


def _point_scores(value: np.ndarray, held: pd.DataFrame) -> pd.DataFrame:
    obs = held["value"].to_numpy(dtype=float)
    ok = np.isfinite(value)
    c = np.full(obs.shape, np.nan)
    if ok.any():
        c[ok] = scoring.crps(obs[ok], value[ok, None])
    nan = np.full(obs.shape, np.nan)
    return pd.DataFrame({"crps": c, "log_score": nan, "pit": nan, "cov50": nan, "cov80": nan, "cov90": nan,
                         "q05": value, "q50": value, "q95": value, "in_interval_90": nan})


def ucdp_only_paths(fata: str, model: str, first: pd.Period, last: pd.Period, n_samples: int,
                    random_seed: int) -> tuple[dict[str, np.ndarray], list[str], pd.PeriodIndex, str]:
    """The zoo model fitted on the shipped UCDP panel: per measure (unit, month, sample) paths over
    ``first..last`` (the months after the panel's end), the units, months and the panel's last month."""
    from pakcast.forecast.forecasters import make_forecaster
    from pakcast.forecast.panel import load_panel

    panel = load_panel("month", fata=fata)
    prov = panel[panel["unique_id"] != NATIONAL].reset_index(drop=True)
    end = pd.Timestamp(prov["ds"].max()).to_period("M")
    if first <= end:
        raise ValueError(f"the UCDP-only forecast starts after the panel's end {end}; first month {first}")
    h = (last - end).n
    out, units = {}, None
    for measure in ("attacks", "killed"):
        fc = make_forecaster(model, measure).fit(prov, measure)
        da = fc.predict(h, n_samples, random_seed)
        units = [str(u) for u in da["unique_id"].values]
        skip = (first - end).n - 1
        out[measure] = np.asarray(da.values, dtype=float)[:, skip:, :]
    return out, list(units or []), pd.period_range(first, last, freq="M"), str(end)


def _ucdp_only_draws(fr: Any, held: pd.DataFrame, paths: dict[str, np.ndarray], units: list[str],
                     months: pd.PeriodIndex, random_seed: int) -> np.ndarray:
    res = fr.results
    n = next(iter(paths.values())).shape[-1]
    rng = np.random.default_rng(random_seed)
    upos = {u: i for i, u in enumerate(units)}
    out = np.full((len(held), n), np.nan)
    for i, r in enumerate(held.itertuples()):
        if r.first < months[0] or r.last > months[-1] or any(u not in upos for u in r.cover):
            continue
        ui = [upos[u] for u in r.cover]
        t0, t1 = (r.first - months[0]).n, (r.last - months[0]).n
        s = paths[r.measure][ui, t0:t1 + 1, :].sum(axis=(0, 1))
        ks = res.scale_draws(r.source, r.metric)
        ku = res.scale_draws("UCDP", r.measure)
        pick = rng.integers(0, ks.size, size=n)
        out[i] = s * ks[pick] / ku[pick]
    return out


def scorecard_rows(scores: pd.DataFrame, random_seed: int = 0) -> list[dict]:
    """One row per model, source-metric, region and resolution (see the module docstring)."""
    if scores.empty:
        return []
    keys = ["source", "metric", "measure", "province", "resolution"]
    rows = []
    for k, g in scores.groupby(keys, sort=True):
        per = {m: gm for m, gm in g.groupby("model")}
        base = {m: float(per[m]["crps"].mean()) for m in POINT_BASELINES if m in per and per[m]["crps"].notna().any()}
        best = min(base, key=lambda m: base[m]) if base else None
        for m, gm in per.items():
            gm = gm[gm["crps"].notna()]
            if gm.empty:
                continue
            rec: dict[str, Any] = dict(zip(keys, k))
            prob = m not in POINT_BASELINES
            si = None
            dm = float("nan")
            if best is not None:
                pair = gm.merge(per[best][["origin", "first", "last", "crps"]], on=["origin", "first", "last"],
                                suffixes=("", "_b")).dropna(subset=["crps", "crps_b"])
                by_o = pair.groupby("origin")[["crps", "crps_b"]].mean()
                si = scoring.skill_interval(by_o["crps"].to_numpy(), by_o["crps_b"].to_numpy(), block=1,
                                            n_boot=1000, random_seed=random_seed)
                if m != best and len(pair) >= 3:
                    try:
                        dm = scoring.diebold_mariano(pair["crps"].to_numpy(), pair["crps_b"].to_numpy(), h=1).pvalue
                    except ValueError:
                        dm = float("nan")
            rec.update({
                "model": m, "crps": float(gm["crps"].mean()),
                "coverage_90": float(gm["cov90"].mean()) if prob else None,
                "pit_ks_p": float(scoring.pit_ks_pvalue(gm["pit"].to_numpy())) if prob else None,
                "skill_vs_best_baseline": None if si is None else si.skill,
                "skill_ci_low": None if si is None else si.ci_low, "skill_ci_high": None if si is None else si.ci_high,
                "published": m == FUSED,
                "log_score": float(gm["log_score"].mean()) if prob else None,
                "coverage_50": float(gm["cov50"].mean()) if prob else None,
                "coverage_80": float(gm["cov80"].mean()) if prob else None,
                "interval_90_hits": float(gm["in_interval_90"].astype(float).mean()) if prob else None,
                "n": int(len(gm)), "n_origins": int(gm["origin"].nunique()),
                "best_baseline": best, "best_baseline_crps": base.get(best) if best else None, "dm_pvalue": float(dm),
            })
            rows.append(rec)
    return rows


def pooled_summary(scores: pd.DataFrame) -> list[dict]:
    """Per source-metric and resolution, pooled over regions and origins: figures, 90% coverage of
    the fused forecast, and each model's total CRPS relative to the fused one's (> 1: fused better)."""
    out = []
    for (s, me, res), g in scores.groupby(["source", "metric", "resolution"], sort=True):
        piv = g.pivot_table(index=["origin", "province", "first", "last"], columns="model", values="crps")
        if FUSED not in piv:
            continue
        fused = g[g["model"] == FUSED]
        rec = {"source": s, "metric": me, "resolution": res, "n": int(len(fused)),
               "coverage_90": float(fused["cov90"].mean()), "crps_fused": float(piv[FUSED].mean())}
        for m in (*POINT_BASELINES, "ucdp_only"):
            if m in piv:
                both = piv[[FUSED, m]].dropna()
                rec[f"crps_{m}"] = float(both[m].mean()) if len(both) else None
                rec[f"ratio_{m}"] = float(both[m].sum() / both[FUSED].sum()) if len(both) and both[FUSED].sum() > 0 else None
                rec[f"n_{m}"] = int(len(both))
        out.append(rec)
    return out


# ------------------------------------------------------------------------------------------------
# early warning

def quarter_totals(frame: pd.DataFrame, measure: str = "attacks") -> dict[tuple, dict[pd.Period, float]]:
    """``{(source, metric, cover): {quarter: total}}`` from quarter figures or three monthly figures."""
    f = frame[frame["measure"] == measure]
    out: dict[tuple, dict[pd.Period, float]] = {}
    for (s, m, ck), g in f.groupby([f["source"], f["metric"], f["cover"].map(tuple)], sort=False):
        vals: dict[pd.Period, float] = {}
        mon = g[g["period_type"] == "month"]
        by_q: dict[pd.Period, list[float]] = {}
        for first, v in zip(mon["first"], mon["value"]):
            by_q.setdefault(first.asfreq("Q"), []).append(float(v))
        vals.update({q: sum(v) for q, v in by_q.items() if len(v) == 3})
        qt = g[(g["period_type"] == "quarter") | ((g["last"] - g["first"]).map(lambda x: x.n) == 2)]
        for first, last, v in zip(qt["first"], qt["last"], qt["value"]):
            q = first.asfreq("Q")
            if first == q.asfreq("M", "start") and last == q.asfreq("M", "end"):
                vals.setdefault(q, float(v))
        if vals:
            out[(s, m, tuple(ck))] = vals
    return out


def early_warning_backtest(fits: dict[pd.Period, Any], table: Any, horizon: int = HORIZON, n_samples: int = 2000,
                           random_seed: int = 0, bins: int = 5) -> dict:
    """Brier scores of P(quarter above the same quarter a year earlier), fused vs climatology."""
    from pakcast.forecast.early_warning import climatological_probability, exceedance_probability, year_on_year_events

    totals = quarter_totals(table.frame, "attacks")
    rows = []
    for origin, fr in sorted(fits.items()):
        end = origin + (horizon - 1)
        fitted = set(zip(fr.table.frame["source"], fr.table.frame["metric"]))
        past_by_source: dict[str, list[bool]] = {}
        past_by_key: dict[tuple, list[bool]] = {}
        for key, vals in totals.items():
            ev = year_on_year_events({q: v for q, v in vals.items() if q.asfreq("M", "end") < origin})
            past_by_key[key] = list(ev.values())
            past_by_source.setdefault(key[0], []).extend(ev.values())
        probe, meta = [], []
        for key, vals in totals.items():
            s, m, cover = key
            if (s, m) not in fitted:
                continue
            for q, v in sorted(vals.items()):
                if q.asfreq("M", "start") < origin or q.asfreq("M", "end") > end or (q - 4) not in vals:
                    continue
                ly_known = (q - 4).asfreq("M", "end") < origin
                base = len(probe)
                for qq in ([q] if ly_known else [q, q - 4]):
                    probe.append({"source": s, "metric": m, "measure": "attacks", "cover": cover,
                                  "first": qq.asfreq("M", "start"), "last": qq.asfreq("M", "end"), "value": 0})
                clim_src = past_by_key[key] or past_by_source.get(s, [])
                meta.append({"origin": str(origin), "source": s, "metric": m,
                             "province": region_label(cover, fr.table.units), "quarter": str(q), "value": v,
                             "last_year": vals[q - 4], "last_year_known": ly_known, "outcome": bool(v > vals[q - 4]),
                             "p_climatology": climatological_probability(clim_src),
                             "climatology_from": "series" if past_by_key[key] else "source pooled",
                             "_i": base})
        if not probe:
            continue
        draws, _ = figure_draws(fr, pd.DataFrame(probe), n_samples, random_seed)
        for r in meta:
            i = r.pop("_i")
            ref = r["last_year"] if r["last_year_known"] else draws[i + 1]
            r["p_fused"] = float(exceedance_probability(draws[i], ref))
            rows.append(r)
    if not rows:
        return {"rows": [], "n": 0}
    df = pd.DataFrame(rows)
    o = df["outcome"].to_numpy(dtype=float)
    out: dict[str, Any] = {"rows": df.to_dict(orient="records"), "n": int(len(df)),
                           "n_origins": int(df["origin"].nunique()), "base_rate": float(o.mean())}
    for m in ("fused", "climatology"):
        p = df[f"p_{m}"].to_numpy(dtype=float)
        out[m] = {"brier": float(scoring.brier_score(p, o).mean()),
                  "reliability": scoring.reliability_table(p, o, bins=bins)}
    bf, bc = out["fused"]["brier"], out["climatology"]["brier"]
    out["brier_skill_vs_climatology"] = float(1 - bf / bc) if bc > 0 else None
    by_o = df.assign(bf=(df["p_fused"] - o) ** 2, bc=(df["p_climatology"] - o) ** 2).groupby("origin")[["bf", "bc"]].mean()
    si = scoring.skill_interval(by_o["bf"].to_numpy(), by_o["bc"].to_numpy(), block=1, n_boot=1000,
                                random_seed=random_seed)
    out["brier_skill_ci"] = [si.ci_low, si.ci_high]
    return out


# ------------------------------------------------------------------------------------------------
# the backtest

def fusion_backtest(config: Any, origins: list[pd.Period], horizon: int = HORIZON, table: Any = None,
                    cache: Any = None, n_samples: int = 2000, ucdp_model: str | None = UCDP_MODEL,
                    progress: Callable[[str], None] | None = None,
                    warning_origins: list[pd.Period] | None = None) -> dict:
    """Fit at each origin, score the held figures (fused, own baselines, UCDP-only) and the early
    warning; returns ``{"rows", "summary", "scores" (DataFrame), "early_warning", "origins", ...}``.

    ``warning_origins``: further origins (e.g. in the UCDP years, whose province-month counts give
    many quarters to score) fitted only for the early warning: ``early_warning_all`` scores the
    backtest origins and these together (``early_warning``: the backtest origins alone)."""
    from pakcast.forecast.fusion import build_observations
    from pakcast.forecast.fusion_cache import fit_cached

    table = table or build_observations(config)
    origins = sorted(origins)
    last_obs = table.frame["last"].max()
    bad = [str(o) for o in origins if o > last_obs or o < table.months[0] + 12]
    if bad:
        from pakcast.forecast.errors import InputError

        raise InputError(f"--backtest origins {bad}: need a year of data before and figures after "
                         f"(months {table.months[0]}..{last_obs})")
    ucdp = None
    if ucdp_model:
        t0 = time.perf_counter()
        ucdp = ucdp_only_paths(config.fata, ucdp_model, origins[0], max(origins[-1] + (horizon - 1), last_obs),
                               n_samples, config.random_seed)
        ucdp_seconds = time.perf_counter() - t0
    parts, fits, diags, unscorable = [], {}, [], {}
    for o in origins:
        sub, held, n_uns = origin_split(table, o, horizon)
        unscorable[str(o)] = n_uns
        t0 = time.perf_counter()
        fr = fit_cached(config, sub, cache)
        fits[o] = fr
        d = fr.results.diagnostics
        diags.append({"origin": str(o), "max_rhat": d.max_rhat, "min_ess_bulk": d.min_ess_bulk,
                      "divergences": d.divergences, "converged": d.converged, "units": fr.units,
                      "n_train": int(len(sub.frame)), "n_held": int(len(held)),
                      "seconds": time.perf_counter() - t0, "cached": bool(fr.seconds.get("cached"))})
        if progress:
            progress(f"origin {o}: {len(held)} figures, fit {diags[-1]['seconds']:.0f} s ({d.message()[:60]})")
        if held.empty:
            continue
        info = pd.DataFrame({"origin": str(o), "source": held["source"], "metric": held["metric"],
                             "measure": held["measure"], "resolution": held["period_type"],
                             "province": held["cover"].map(lambda c: region_label(c, table.units)),
                             "first": held["first"].astype(str), "last": held["last"].astype(str),
                             "value": held["value"].astype(float),
                             "lead_months": [(la - o).n + 1 for la in held["last"]]})
        draws, n_capped = figure_draws(fr, held, n_samples, config.random_seed)
        diags[-1]["capped_draws"] = n_capped
        blocks = {FUSED: score_figures(draws, held, config.random_seed)}
        lv, hm = own_baselines(held, sub.frame)
        blocks["last_value"], blocks["hist_mean"] = _point_scores(lv, held), _point_scores(hm, held)
        if ucdp is not None:
            ud = _ucdp_only_draws(fr, held, ucdp[0], ucdp[1], ucdp[2], config.random_seed)
            ok = np.isfinite(ud).all(axis=1)
            sc = score_figures(np.where(ok[:, None], ud, 0.0), held, config.random_seed).astype(float)
            sc.loc[~ok, :] = np.nan  # figures outside the UCDP-only forecast's months or units
            blocks["ucdp_only"] = sc
        for m, b in blocks.items():
            parts.append(pd.concat([info, b.reset_index(drop=True)], axis=1).assign(model=m))
    scores = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    rows = scorecard_rows(scores, config.random_seed)
    ew = early_warning_backtest(fits, table, horizon, n_samples, config.random_seed)
    ew_all = None
    if warning_origins:
        more = dict(fits)
        for o in sorted(set(warning_origins) - set(fits)):
            more[o] = fit_cached(config, origin_split(table, o, horizon)[0], cache)
            if progress:
                progress(f"early-warning origin {o}: {more[o].results.diagnostics.message()[:60]}")
        ew_all = early_warning_backtest(more, table, horizon, n_samples, config.random_seed)
        ew_all["origins"] = [str(o) for o in sorted(more)]
    units = {me: f"{me} as {v['source']} counts them" for me, v in next(iter(fits.values())).results.reference().items()}
    return {
        "origins": [str(o) for o in origins], "horizon_months": horizon, "n_samples": n_samples,
        "units": units, "rows": rows, "summary": pooled_summary(scores), "scores": scores, "early_warning": ew,
        "early_warning_all": ew_all,
        "diagnostics_by_origin": diags, "unscorable_figures": unscorable,
        "ucdp_only": None if ucdp is None else {
            "model": ucdp_model, "panel_end": ucdp[3], "seconds": ucdp_seconds,
            "what": ("zoo model fitted on the shipped UCDP panel alone (to its end), forecasting every month after; "
                     "each held figure's draws = UCDP path summed over its months and provinces x "
                     "kappa_source / kappa_UCDP (posterior draws of that origin's fused fit)")},
        "rule": ("fit on figures whose period ended before the origin; score figures whose period lies in "
                 f"origin..origin+{horizon - 1} months, at their own resolution; baselines: the source's last and "
                 "mean figure of the same metric, region and resolution before the origin (point forecasts, CRPS = "
                 "absolute error)"),
    }


def backtest_job(config: Any, origins: str | None = None, horizon: int = HORIZON, ucdp_model: str | None = UCDP_MODEL,
                 n_samples: int = 2000, json_out: Any = None, out: Any = None, cache: Any = None,
                 table: Any = None, progress: Callable[[str], None] | None = None,
                 warning_origins: str | None = None) -> Any:
    """``pakcast fuse --backtest``: run :func:`fusion_backtest`, write ``--json`` (payload + manifest)
    and, with ``out``, ``fused_backtest.csv`` (one row per figure and model), ``early_warning.csv``
    and ``figures/fused_backtest.png``, ``figures/early_warning_reliability.png`` (early warning over
    the backtest and ``warning_origins`` together when given)."""
    from pathlib import Path

    from pakcast.forecast.fusion import _options
    from pakcast.forecast.io import write_csv
    from pakcast.forecast.jobs import JobResult, input_errors, write_json_output
    from pakcast.forecast.manifest import RunManifest, write_beside

    with input_errors("--backtest: "):
        olist = parse_fused_origins(origins)
    if horizon < 1:
        from pakcast.forecast.errors import InputError

        raise InputError("--backtest-horizon must be a positive number of months")
    wlist = parse_fused_origins(warning_origins) if warning_origins else None
    res = fusion_backtest(config, olist, horizon=horizon, table=table, cache=cache, n_samples=n_samples,
                          ucdp_model=ucdp_model, progress=progress, warning_origins=wlist)
    scores = res.pop("scores")
    manifest = RunManifest(command="fuse --backtest", options={**_options(config), "backtest": origins or DEFAULT_ORIGINS,
                                                               "horizon": horizon, "ucdp_model": ucdp_model,
                                                               "n_samples": n_samples})
    manifest.random_seeds = {"random_seed": config.random_seed}
    extra: list[Path] = []
    if out is not None:
        from pakcast.forecast.fusion_check_figures import reliability_figure, scorecard_figure

        d = Path(out)
        d.mkdir(parents=True, exist_ok=True)
        extra.append(write_csv(d / "fused_backtest.csv", scores, float_format="%.6g"))
        ew_out = res["early_warning_all"] or res["early_warning"]
        if ew_out.get("rows"):
            import pandas as _pd

            extra.append(write_csv(d / "early_warning.csv", _pd.DataFrame(ew_out["rows"])))
            extra.append(reliability_figure(ew_out, d / "figures" / "early_warning_reliability.png"))
        extra.append(scorecard_figure(res["summary"], d / "figures" / "fused_backtest.png",
                                      f"fused backtest, origins {', '.join(res['origins'])}"))
    written = write_json_output(json_out, res, manifest, extra=extra) if json_out is not None else (
        [*extra, write_beside(manifest, extra)] if extra else [])
    ew = res["early_warning"]
    lines = [f"fused backtest at {len(res['origins'])} origins ({', '.join(res['origins'])}), horizon {horizon} months: "
             f"{len(scores[scores['model'] == FUSED]) if len(scores) else 0} figures scored; "
             f"{len(res['rows'])} scorecard rows"]
    for r in res["summary"]:
        lines.append(f"  {r['source']:<6} {r['metric']:<17} {r['resolution']:<8} n={r['n']:<4} 90% cov "
                     f"{100 * r['coverage_90']:.0f}%  CRPS fused {r['crps_fused']:.1f}"
                     + "".join(f"  {m} x{r[f'ratio_{m}']:.2f}" for m in ("last_value", "hist_mean", "ucdp_only")
                               if r.get(f"ratio_{m}")))
    for label, e in (("early warning", ew), ("early warning incl. --warning-origins", res["early_warning_all"])):
        if e and e.get("n"):
            lines.append(f"{label}: {e['n']} quarters, Brier fused {e['fused']['brier']:.3f} vs climatology "
                         f"{e['climatology']['brier']:.3f}")
    unconv = [d["origin"] for d in res["diagnostics_by_origin"] if not d["converged"]]
    notes = [f"convergence gates failed at origins {', '.join(unconv)} (scores computed anyway; rerun with more "
             "--draws/--tune)"] if unconv else []
    return JobResult(payload=res, outputs=written, lines=lines, notes=notes)
