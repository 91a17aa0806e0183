"""The job behind ``pakcast attribute``: shipped panel and covariates in,
:func:`pakcast.forecast.attribution_study.run_attribution` run, JSON and manifest out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pakcast.forecast.errors import InputError
from pakcast.forecast.jobs import JobResult, input_errors, split_dates, write_json_output
from pakcast.forecast.manifest import RunManifest

__all__ = ["SERIES", "combine_shapley", "fused_panels", "parse_scenario", "run_attribute"]

#: what ``--series`` can attribute: the shipped UCDP panel, or the fused series (posterior-mean
#: panel for the effects and checks, plus the Shapley split on posterior draws)
SERIES = ("ucdp", "fused", "fused-mean")
#: the periods compared on the fused series when none are given
FUSED_PERIODS = "2018-01:2020-12,2023-01:2025-12"


def parse_scenario(text: str) -> tuple[str, dict[str, float]]:
    """``"inflation_30:cpi_yoy_pct=30,policy_rate_pct=20"`` -> (name, {covariate: value})."""
    if ":" not in text:
        raise InputError(f"--scenario {text!r}: expected NAME:COVARIATE=VALUE[,COVARIATE=VALUE...]")
    name, body = text.split(":", 1)
    path: dict[str, float] = {}
    for item in body.split(","):
        if "=" not in item:
            raise InputError(f"--scenario {text!r}: {item!r} is not COVARIATE=VALUE")
        k, v = item.split("=", 1)
        try:
            path[k.strip()] = float(v)
        except ValueError:
            raise InputError(f"--scenario {text!r}: value {v!r} of {k!r} is not a number") from None
    if not name.strip():
        raise InputError(f"--scenario {text!r}: empty scenario name")
    return name.strip(), path


def fused_panels(fr: Any, population: Any, n_draws: int = 0, random_seed: int = 0) -> tuple[Any, list, dict]:
    """Monthly province panels of the fused series through its as-of month, in reference units.

    Returns ``(mean_panel, draw_panels, info)``: ``mean_panel`` has the posterior mean of the latent
    intensity rounded to whole counts (``attacks``, ``killed``); each of the ``n_draws`` draw
    panels one whole posterior-predictive path of what the reference source would count
    (:meth:`FusionResults.paths`, attacks and killed from the same posterior draws); ``population``
    (``unique_id, ds, population``) is joined on; ``info`` names the units and months.
    """
    import numpy as np
    import pandas as pd

    res = fr.results
    months = pd.PeriodIndex(fr.table.months, freq="M")
    keep = months <= pd.Period(fr.as_of, "M")
    ds = months[keep].to_timestamp()
    units = list(fr.table.units)
    base = pd.DataFrame({"unique_id": np.repeat(units, keep.sum()), "ds": np.tile(ds, len(units))})
    pop = population[["unique_id", "ds", "population"]].drop_duplicates(["unique_id", "ds"])
    base = base.merge(pop, on=["unique_id", "ds"], how="left")
    mean = base.copy()
    for me in ("attacks", "killed"):
        lat = res.latent(me, quantiles=(0.5,))
        lat = lat.assign(ds=pd.PeriodIndex(lat["month"], freq="M").to_timestamp())
        m = base[["unique_id", "ds"]].merge(lat.rename(columns={"unit": "unique_id"})[["unique_id", "ds", "mean"]],
                                            on=["unique_id", "ds"], how="left")
        mean[me] = np.rint(m["mean"].to_numpy())
    draws = []
    if n_draws:
        p = {me: res.paths(n_draws, random_seed=random_seed, measure=me, kind="counts")[:, keep, :]
             for me in ("attacks", "killed")}
        for k in range(n_draws):
            d = base.copy()
            for me in ("attacks", "killed"):
                d[me] = p[me][:, :, k].reshape(-1).astype(float)
            draws.append(d)
    ref = res.reference()
    info = {"units": {me: f"{me} as {v['source']} counts them ({v['metric']})" for me, v in ref.items()},
            "months": f"{ds[0]:%Y-%m}..{ds[-1]:%Y-%m}", "as_of": fr.as_of, "reference": fr.units,
            "diagnostics": res.diagnostics.message()}
    return mean, draws, info


def combine_shapley(tables: list[list[dict]], level_z: float = 1.959963984540054) -> list[dict]:
    """Pool per-draw Shapley tables (``group, share, ci_low, ci_high``, 95% intervals) by Rubin's rules:
    share = mean over draws; variance = mean within-draw variance (from each interval's half-width)
    + (1 + 1/K) x the between-draw variance; 95% normal interval. ``measurement_share_of_variance``
    is the between-draw part (what the fused series' uncertainty adds)."""
    import numpy as np

    groups = [r["group"] for r in tables[0]]
    K = len(tables)
    out = []
    for g in groups:
        rows = [next(r for r in t if r["group"] == g) for t in tables]
        s = np.array([r["share"] for r in rows], dtype=float)
        w = np.array([((r["ci_high"] - r["ci_low"]) / (2 * level_z)) ** 2 for r in rows], dtype=float)
        b = float(s.var(ddof=1)) if K > 1 else 0.0
        total = float(w.mean() + (1 + 1 / K) * b)
        sd = float(np.sqrt(total))
        out.append({"group": g, "share": float(s.mean()), "ci_low": float(s.mean() - level_z * sd),
                    "ci_high": float(s.mean() + level_z * sd), "n_draws": K,
                    "measurement_share_of_variance": (1 + 1 / K) * b / total if total > 0 else 0.0,
                    "draws_min": float(s.min()), "draws_max": float(s.max())})
    return out


def run_attribute(*, outcome: str = "attacks", periods: str | None, groups: str, random_seed: int, n_draws: int = 200,
                  min_events: int = 20, scenarios: Sequence[str] | None = None, checks: bool = True,
                  trend: bool = False, bayes: bool = False, bayes_draws: int = 1000, bayes_tune: int = 1000,
                  bayes_chains: int = 4, interventions: Sequence[str] | None = None, json_out: Path | None = None,
                  status: Any = None, series: str = "ucdp", fused_draws: int = 20, fused_config: Any = None,
                  fused_cache: Any = None, fused_run: Any = None,
                  fuse_settings: tuple[int, int, int] | None = None) -> JobResult:
    """Covariate effects (IRRs), Shapley shares of a change between two periods, predictive checks.

    ``interventions``: at most one date, the real break of the placebo test (default: the
    country profile's, :attr:`pakcast.forecast.country.CountryProfile.attribution_break`).
    ``status(text)`` (optional) returns a context manager shown while a stage runs.

    ``series``: ``ucdp`` (the shipped UCDP panel, to 2021-12), ``fused-mean`` (the fused monthly
    series of :mod:`pakcast.forecast.fusion`, posterior mean in the reference units, to its as-of
    month) or ``fused`` (the same, plus the Shapley split on ``fused_draws`` whole posterior draws of
    the series pooled by Rubin's rules, so its intervals carry the measurement uncertainty; the
    result's ``shapley`` is then the pooled one and ``shapley_posterior_mean`` the mean panel's).
    Effects, checks and caveats are computed on the posterior-mean panel in both fused modes.
    ``fused_config`` (a :class:`~pakcast.forecast.fusion.FusionConfig`; default the shipped inputs,
    the ``pakcast fuse`` defaults and ``fuse_settings`` = (draws, tune, chains)) and ``fused_cache`` go to
    :func:`pakcast.forecast.fusion_cache.fit_cached` (``fused_run``: a fitted
    :class:`~pakcast.forecast.fusion.FusionRun` used as it is). Default ``periods``: 2010-01..2013-12 vs
    2015-01..2018-12 on UCDP, 2018-01..2020-12 vs 2023-01..2025-12 on the fused series.
    """
    import contextlib

    from pakcast.forecast import paths
    from pakcast.forecast.attribution_study import OUTCOMES, parse_groups, parse_periods, run_attribution
    from pakcast.forecast.covariates import SHIPPED, load_covariates
    from pakcast.forecast.panel import load_panel, shipped_panel_name

    stage = status or (lambda text: contextlib.nullcontext())
    if outcome not in OUTCOMES:
        raise InputError(f"--outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if series not in SERIES:
        raise InputError(f"--series must be one of {', '.join(SERIES)}, got {series!r}")
    if series == "fused" and fused_draws < 2:
        raise InputError("--fused-draws must be at least 2 (the pooled interval needs the spread between draws)")
    fused = series != "ucdp"
    periods = periods or (FUSED_PERIODS if fused else "2010-01:2013-12,2015-01:2018-12")
    with input_errors():
        per = parse_periods(periods)
        grp = parse_groups(groups)
    scen = dict(parse_scenario(s) for s in scenarios) if scenarios else None
    dates = split_dates(interventions)
    if len(dates) > 1:
        raise InputError(f"--intervention: the placebo test takes one date, got {len(dates)} ({', '.join(dates)})")
    extra = {"break_date": dates[0]} if dates else {}
    manifest = RunManifest(command="attribute", options={
        "outcome": outcome, "periods": periods, "groups": list(grp), "n_draws": n_draws,
        "min_events": min_events, "scenario": list(scenarios or []), "checks": checks, "trend": trend,
        "bayes": bayes, "bayes_draws": bayes_draws, "bayes_tune": bayes_tune, "bayes_chains": bayes_chains,
        "series": series, **({"fused_draws": fused_draws} if series == "fused" else {}),
        **({"fuse_settings": list(fuse_settings or (1000, 1000, 4))} if series != "ucdp" else {}), **extra})
    manifest.random_seeds = {"seed": random_seed}
    with stage("loading panel and covariates"):
        cov = load_covariates("month")
        panel = None if fused else load_panel("month")
    for name in ((SHIPPED["month"],) if fused else (shipped_panel_name("month"), SHIPPED["month"])):
        p = paths.shipped_dir() / name
        if p.exists():
            manifest.add_input(p, role="shipped table")
    draw_panels: list = []
    src = note = None
    if fused:
        from pakcast.forecast.fusion import FusionConfig, build_observations
        from pakcast.forecast.fusion_cache import fit_cached

        fr = fused_run
        if fr is None:
            d_, t_, c_ = fuse_settings or (1000, 1000, 4)
            fcfg = fused_config or FusionConfig(figures=False, draws=d_, tune=t_, chains=c_, random_seed=random_seed)
            with stage("fitting the fused series"):
                fr = fit_cached(fcfg, build_observations(fcfg), fused_cache)
        for pth, role in fr.table.inputs:
            manifest.add_input(pth, role=f"fused series: {role}")
        panel, draw_panels, finfo = fused_panels(fr, cov, fused_draws if series == "fused" else 0, random_seed)
        src = f"fused series ({finfo['units'][outcome]}; every shipped source, months {finfo['months']})"
        note = (f"the outcome is the fused monthly series in the reference units of {finfo['reference']}, "
                f"{finfo['months']} (as of {finfo['as_of']}): a model estimate, not a count; months no source "
                "reported for a province are the model's interpolation")
    with stage("fitting the attribution model and checks"), input_errors():
        out = run_attribution(panel, cov, outcome=outcome, periods=per, groups=grp, random_seed=random_seed,
                              n_draws=n_draws, min_events=min_events, backtest=checks, scenarios=scen,
                              trend=trend, bayes=bayes, bayes_draws=bayes_draws, bayes_tune=bayes_tune,
                              bayes_chains=bayes_chains, source=src, data_note=note, **extra)
    if fused:
        out["fused"] = {**finfo, "mode": series, "panel": "posterior mean of the latent intensity, rounded"}
        out["caveats"].insert(0, f"The outcome is the fused series ({finfo['units'][outcome]}), a model estimate: "
                                 "effects and checks use its posterior mean"
                                 + (f"; the Shapley shares pool {fused_draws} posterior draws (Rubin's rules), "
                                    "so their intervals include the measurement uncertainty." if series == "fused"
                                    else ", so their intervals leave the measurement uncertainty out."))
        out["caveats"] = [("Security covariates: the fused series' months before 2022 lean on UCDP, which counts "
                           "clashes between the army and militants, so military operations raise its counts directly; "
                           "security IRRs above 1 do not mean that operations cause terrorism.")
                          if c.startswith("UCDP counts clashes") else c for c in out["caveats"]]
        if "NOT CONVERGED" in finfo["diagnostics"]:
            out["caveats"].insert(0, "The fused series' sampler did not pass its convergence gates: "
                                     + finfo["diagnostics"])
    if draw_panels:
        tables = []
        with stage(f"Shapley split on {len(draw_panels)} posterior draws of the fused series"), input_errors():
            for k, dp in enumerate(draw_panels):
                r = run_attribution(dp, cov, outcome=outcome, periods=per, groups=grp, random_seed=random_seed + k,
                                    n_draws=n_draws, min_events=min_events, backtest=False, scenarios={},
                                    trend=trend, units=out["data"]["units"], source=src, data_note=note, **extra)
                tables.append(r["shapley"])
        out["shapley_posterior_mean"] = out["shapley"]
        out["shapley"] = combine_shapley(tables)
        out["shapley_by_draw"] = tables
    written = write_json_output(json_out, out, manifest)
    s = out["shapley_summary"]
    lines = [f"{outcome}: mean monthly count {s['observed_mean_a']:.1f} ({s['period_a']}) -> "
             f"{s['observed_mean_b']:.1f} ({s['period_b']}), log change {s['total_change']:+.3f}; "
             f"data {out['data']['months_used']}"]
    lines += [f"  {r['group']:<10} {r['share']:+.3f}  [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]" for r in out["shapley"]]
    lines += [f"caveat: {c}" for c in out.get("caveats", [])]
    return JobResult(payload=out, outputs=written, lines=lines)
