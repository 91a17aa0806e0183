"""The job behind ``pakcast attribute``: shipped panel and covariates in,
:func:`pakcast.forecast.attribution_study.run_attribution` run, JSON and manifest out."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from pakcast.forecast.errors import InputError
from pakcast.forecast.jobs import JobResult, input_errors, split_dates, write_json_output
from pakcast.forecast.manifest import RunManifest

__all__ = ["parse_scenario", "run_attribute"]


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


def run_attribute(*, outcome: str = "attacks", periods: str, groups: str, random_seed: int, n_draws: int = 200,
                  min_events: int = 20, scenarios: Sequence[str] | None = None, checks: bool = True,
                  trend: bool = False, bayes: bool = False, bayes_draws: int = 1000, bayes_tune: int = 1000,
                  bayes_chains: int = 4, interventions: Sequence[str] | None = None, json_out: Path | None = None,
                  status: Any = None) -> JobResult:
    """Covariate effects (IRRs), Shapley shares of a change between two periods, predictive checks.

    ``interventions``: at most one date, the real break of the placebo test (default: the
    country profile's, :attr:`pakcast.forecast.country.CountryProfile.attribution_break`).
    ``status(text)`` (optional) returns a context manager shown while a stage runs.
    """
    import contextlib

    from pakcast.forecast import paths
    from pakcast.forecast.attribution_study import OUTCOMES, parse_groups, parse_periods, run_attribution
    from pakcast.forecast.covariates import SHIPPED, load_covariates
    from pakcast.forecast.panel import load_panel, shipped_panel_name

    stage = status or (lambda text: contextlib.nullcontext())
    if outcome not in OUTCOMES:
        raise InputError(f"--outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
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
        **extra})
    manifest.random_seeds = {"seed": random_seed}
    with stage("loading panel and covariates"):
        panel = load_panel("month")
        cov = load_covariates("month")
    for name in (shipped_panel_name("month"), SHIPPED["month"]):
        p = paths.shipped_dir() / name
        if p.exists():
            manifest.add_input(p, role="shipped table")
    with stage("fitting the attribution model and checks"), input_errors():
        out = run_attribution(panel, cov, outcome=outcome, periods=per, groups=grp, random_seed=random_seed,
                              n_draws=n_draws, min_events=min_events, backtest=checks, scenarios=scen,
                              trend=trend, bayes=bayes, bayes_draws=bayes_draws, bayes_tune=bayes_tune,
                              bayes_chains=bayes_chains, **extra)
    written = write_json_output(json_out, out, manifest)
    s = out["shapley_summary"]
    lines = [f"{outcome}: mean monthly count {s['observed_mean_a']:.1f} ({s['period_a']}) -> "
             f"{s['observed_mean_b']:.1f} ({s['period_b']}), log change {s['total_change']:+.3f}; "
             f"data {out['data']['months_used']}"]
    lines += [f"  {r['group']:<10} {r['share']:+.3f}  [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]" for r in out["shapley"]]
    lines += [f"caveat: {c}" for c in out.get("caveats", [])]
    return JobResult(payload=out, outputs=written, lines=lines)
