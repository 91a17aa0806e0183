"""``pakcast attribute``: covariate attribution of attack frequency or deaths (thin CLI layer).

Parses options, validates them before any fitting, calls
:func:`forecast.attribution_study.run_attribution` on the shipped panel and covariates, and
writes the JSON (atomically) plus ``<OUT>.manifest.json``.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from pakcast.forecast._cli_app import app, bayes_app, data_app  # noqa: F401

console = Console(stderr=True)


def _parse_scenario(text: str) -> tuple[str, dict[str, float]]:
    """``"inflation_30:cpi_yoy_pct=30,policy_rate_pct=20"`` -> (name, {covariate: value})."""
    if ":" not in text:
        raise typer.BadParameter(f"--scenario {text!r}: expected NAME:COVARIATE=VALUE[,COVARIATE=VALUE...]")
    name, body = text.split(":", 1)
    path: dict[str, float] = {}
    for item in body.split(","):
        if "=" not in item:
            raise typer.BadParameter(f"--scenario {text!r}: {item!r} is not COVARIATE=VALUE")
        k, v = item.split("=", 1)
        try:
            path[k.strip()] = float(v)
        except ValueError:
            raise typer.BadParameter(f"--scenario {text!r}: value {v!r} of {k!r} is not a number") from None
    if not name.strip():
        raise typer.BadParameter(f"--scenario {text!r}: empty scenario name")
    return name.strip(), path


@app.command("attribute")
def attribute(
    json_out: Path = typer.Option(..., "--json", help="Write the results JSON here."),
    outcome: str = typer.Option("attacks", "--outcome", help="attacks | killed"),
    periods: str = typer.Option("2010-01:2013-12,2015-01:2018-12", "--periods",
                                help="Two periods A,B as START:END months; the Shapley split explains B vs A."),
    groups: str = typer.Option("economic,political,security", "--groups",
                               help="Covariate groups in the model: economic, political, security, breaks."),
    seed: int = typer.Option(0, "--seed", help="Random seed (parameter draws, placebo dates)."),
    n_draws: int = typer.Option(200, "--n-draws", min=20, help="Parameter draws for the Shapley intervals."),
    min_events: int = typer.Option(20, "--min-events", min=1,
                                   help="Leave out provinces with fewer events than this in the months used."),
    scenario: list[str] = typer.Option(None, "--scenario",
                                       help="NAME:COVARIATE=VALUE[,...] held over the last 12 data months "
                                            "(repeatable). Default: inflation 10% and 30%, a new operation."),
    checks: bool = typer.Option(True, "--checks/--no-checks",
                                help="Run the backtest CRPS check, Granger tests, placebos, lag and "
                                     "specification sensitivity."),
    trend: bool = typer.Option(False, "--trend/--no-trend", help="Add a linear trend per province (in 'other')."),
    bayes: bool = typer.Option(False, "--bayes", help="Also fit the Bayesian hierarchical model (minutes)."),
    bayes_draws: int = typer.Option(1000, "--bayes-draws", min=50),
    bayes_tune: int = typer.Option(1000, "--bayes-tune", min=50),
    bayes_chains: int = typer.Option(4, "--bayes-chains", min=1),
) -> None:
    """Covariate effects (IRRs), Shapley shares of a change between two periods, predictive checks.

    Results are associations adjusted for the modelled terms, not causal effects.
    """
    from pakcast.forecast.attribution_study import OUTCOMES, parse_groups, parse_periods

    if outcome not in OUTCOMES:
        raise typer.BadParameter(f"--outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    try:
        per = parse_periods(periods)
        grp = parse_groups(groups)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    scen = dict(_parse_scenario(s) for s in scenario) if scenario else None

    from pakcast.forecast import paths
    from pakcast.forecast.attribution_study import run_attribution
    from pakcast.forecast.covariates import SHIPPED, load_covariates
    from pakcast.forecast.io import write_json
    from pakcast.forecast.manifest import RunManifest
    from pakcast.forecast.panel import load_panel, shipped_panel_name

    manifest = RunManifest(command="attribute", options={
        "outcome": outcome, "periods": periods, "groups": list(grp), "n_draws": n_draws,
        "min_events": min_events, "scenario": scenario or [], "checks": checks, "trend": trend,
        "bayes": bayes, "bayes_draws": bayes_draws, "bayes_tune": bayes_tune, "bayes_chains": bayes_chains})
    manifest.random_seeds = {"seed": seed}
    with console.status("loading panel and covariates"):
        panel = load_panel("month")
        cov = load_covariates("month")
    for name in (shipped_panel_name("month"), SHIPPED["month"]):
        p = paths.shipped_dir() / name
        if p.exists():
            manifest.add_input(p, role="shipped table")
    with console.status("fitting the attribution model and checks"):
        try:
            out = run_attribution(panel, cov, outcome=outcome, periods=per, groups=grp, random_seed=seed,
                                  n_draws=n_draws, min_events=min_events, backtest=checks, scenarios=scen,
                                  trend=trend, bayes=bayes, bayes_draws=bayes_draws, bayes_tune=bayes_tune,
                                  bayes_chains=bayes_chains)
        except ValueError as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(code=2) from None
    out["run_id"] = manifest.run_id
    write_json(json_out, out)
    manifest.outputs = [{"path": str(json_out.name)}]
    from pakcast.forecast.io import sha256_file

    manifest.outputs[0]["sha256"] = sha256_file(json_out)
    manifest.write(json_out.parent, name=json_out.stem + ".manifest.json")
    tot = out["shapley_summary"]["total_change"]
    console.print(f"{outcome}: mean monthly count {out['shapley_summary']['observed_mean_a']:.1f} "
                  f"({out['shapley_summary']['period_a']}) -> {out['shapley_summary']['observed_mean_b']:.1f} "
                  f"({out['shapley_summary']['period_b']}), log change {tot:+.3f}; data {out['data']['months_used']}")
    for r in out["shapley"]:
        console.print(f"  {r['group']:<10} {r['share']:+.3f}  [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]")
    for c in out.get("caveats", []):
        console.print(f"[yellow]caveat:[/yellow] {c}")
    console.print(f"wrote {json_out}")
