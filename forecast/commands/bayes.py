"""``pakcast bayes its`` and ``pakcast bayes changepoint``: Bayesian models (PyMC) on the panel.

Thin layer: load the shipped province-month panel (:func:`forecast.panel.load_panel`) or a user
CSV, validate the options, call :class:`models.bayes.its.HierarchicalNBITS` or
:class:`models.bayes.changepoint.BayesianChangepoint`, write the outputs atomically with a run
manifest. A fit that fails the convergence gates (R-hat < 1.01, bulk/tail ESS > 400, no
divergences) is still written, marked ``"converged": false`` with the reasons, and the command
exits with status 3 unless ``--allow-unconverged``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import typer
from rich.console import Console

from pakcast.forecast.country import PAKISTAN
from pakcast.forecast._cli_app import app, bayes_app, data_app  # noqa: F401

console = Console(stderr=True)

UNCONVERGED_EXIT = 3
DEFAULT_BREAKS = ",".join(PAKISTAN.intervention_days())  # days of the events (see forecast.country)
DEFAULT_START = "2007-01-01"
OUTCOMES = ("attacks", "killed", "killed_low", "killed_high")
FORECAST_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def _parse_breaks(text: str) -> list[pd.Timestamp]:
    out = []
    for part in [p.strip() for p in text.split(",") if p.strip()]:
        try:
            out.append(pd.Timestamp(part))
        except (ValueError, TypeError):
            raise typer.BadParameter(f"break {part!r} is not a date (YYYY-MM-DD)", param_hint="--breaks") from None
    return out


def _check_choice(value: str, choices: tuple[str, ...], hint: str) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}", param_hint=hint)
    return value


def _check_positive(**kw: int) -> None:
    for name, v in kw.items():
        if v < 1:
            raise typer.BadParameter(f"must be a positive integer, got {v}", param_hint=f"--{name}")


def _province_panel(outcome: str, fata: str) -> pd.DataFrame:
    from pakcast.forecast.panel import load_panel
    from pakcast.forecast.provinces import NATIONAL

    panel = load_panel(freq="month", fata=fata)
    if outcome not in panel.columns:
        raise typer.BadParameter(f"the panel has no measure {outcome!r}", param_hint="--outcome")
    return panel[panel["unique_id"] != NATIONAL].reset_index(drop=True)


def _gate(converged: bool, message: str, allow: bool) -> None:
    if converged:
        console.print(f"[green]{message}[/green]")
        return
    console.print(f"[bold red]WARNING[/bold red] {message}")
    if not allow:
        console.print(f"exit status {UNCONVERGED_EXIT}: outputs are written but the fit is unconverged "
                      "(pass --allow-unconverged to accept it)")
        raise typer.Exit(UNCONVERGED_EXIT)


def forecast_table(res, h: int, random_seed: int) -> pd.DataFrame:
    """Posterior predictive forecast by province and month: mean and quantiles."""
    arr = res.forecast(h, random_seed=random_seed)
    dates = res.design.future_dates(h)
    rows = []
    for i, u in enumerate(res.design.units):
        for j, d in enumerate(dates):
            s = arr[i, j]
            rows.append({"province": u, "period": d.strftime("%Y-%m-%d"), "mean": float(s.mean()),
                         **{f"q{int(round(100 * q)):02d}": float(np.quantile(s, q)) for q in FORECAST_QUANTILES},
                         "p_zero": float(np.mean(s == 0))})
    return pd.DataFrame(rows)


@bayes_app.command("its")
def its_command(
    out: Path = typer.Option(..., "--out", help="Output directory (idata.nc, summary.csv, summary.json, ...)."),
    outcome: str = typer.Option("attacks", "--outcome", help="Count measure: attacks or killed (killed_low/high for sensitivity)."),
    breaks: str = typer.Option(DEFAULT_BREAKS, "--breaks", help="Comma-separated break dates."),
    sampler: str = typer.Option("nutpie", "--sampler", help="pymc or nutpie."),
    draws: int = typer.Option(1000, "--draws", help="Posterior draws per chain."),
    tune: int = typer.Option(500, "--tune", help="Warm-up iterations per chain."),
    chains: int = typer.Option(4, "--chains"),
    cores: int = typer.Option(2, "--cores", help="Chains run in parallel."),
    target_accept: float = typer.Option(0.9, "--target-accept", help="NUTS target acceptance (raise to 0.95-0.99 "
                                        "if the run reports divergences)."),
    random_seed: int = typer.Option(0, "--random-seed"),
    start: str = typer.Option(DEFAULT_START, "--start", help="First month of the fit window ('all' for the whole panel)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last month of the fit window (default: panel end)."),
    pooling: str = typer.Option("partial", "--pooling", help="partial, complete or none."),
    latent: str = typer.Option("none", "--latent", help="none, ar1 or rw (national latent term)."),
    zero_model: str = typer.Option("none", "--zero-model", help="none, zinb or hurdle."),
    likelihood: str = typer.Option("numba", "--likelihood", help="numba (Numba NB2 Op, fastest) or native (pm.NegativeBinomial; needed for zinb/hurdle)."),
    fata: str = typer.Option("merge", "--fata", help="merge (FATA in Khyber Pakhtunkhwa) or separate."),
    horizon: int = typer.Option(12, "--horizon", help="Months of posterior predictive forecast (0: none)."),
    allow_unconverged: bool = typer.Option(False, "--allow-unconverged", help="Exit 0 even if the gates fail."),
    force: bool = typer.Option(False, "--force", help="Write into a directory holding another run's manifest."),
) -> None:
    """Hierarchical negative-binomial ITS by province: break effects (rate ratios) with HDIs,
    convergence diagnostics, posterior predictive checks and forecasts."""
    from pakcast.forecast.commands.breaks import _prepare_out
    from pakcast.forecast.io import write_csv, write_json
    from pakcast.forecast.manifest import RunManifest
    from pakcast.models.bayes.its import HierarchicalNBITS

    run_dir = _prepare_out(out, force)
    _check_choice(outcome, OUTCOMES, "--outcome")
    _check_choice(sampler, ("pymc", "nutpie"), "--sampler")
    _check_choice(pooling, ("partial", "complete", "none"), "--pooling")
    _check_choice(latent, ("none", "ar1", "rw"), "--latent")
    _check_choice(zero_model, ("none", "zinb", "hurdle"), "--zero-model")
    _check_choice(likelihood, ("native", "numba"), "--likelihood")
    _check_positive(draws=draws, tune=tune, chains=chains, cores=cores)
    if horizon < 0:
        raise typer.BadParameter("must be >= 0", param_hint="--horizon")
    if not 0.5 <= target_accept < 1.0:
        raise typer.BadParameter(f"must be in [0.5, 1), got {target_accept}", param_hint="--target-accept")
    if zero_model != "none" and likelihood == "numba":
        likelihood = "native"  # the Numba Op is the plain NB2 likelihood
        console.print("note: --zero-model needs --likelihood native; using native")
    brk = _parse_breaks(breaks)
    panel = _province_panel(outcome, fata)
    win_start = None if start == "all" else start
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)  # the notes are printed below
            model = HierarchicalNBITS(panel, outcome, breaks=brk, start=win_start, end=end, pooling=pooling,
                                      latent=latent, zero_model=zero_model, likelihood=likelihood)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    for note in model.design.notes:
        console.print(f"note: {note}")
    console.print(f"fitting HierarchicalNBITS({outcome}) on {len(model.design.units)} provinces x "
                  f"{len(model.design.dates)} months with {sampler} ({chains} chains x {draws} draws)...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # the verdict is reported below, once
        res = model.fit(sampler=sampler, draws=draws, tune=tune, chains=chains, cores=cores,
                        target_accept=target_accept, random_seed=random_seed, log_likelihood=False)
        ppc = res.ppc(random_seed=random_seed)
    summary = res.to_dict()
    summary["ppc"] = ppc.to_dict()
    summary["data"] = {"source": "shipped province-month panel (forecast.panel.load_panel, scope=militant, "
                                 f"fata={fata})", "outcome": outcome}
    if not res.diagnostics.converged:
        summary["warning"] = res.diagnostics.message()
    table = res.break_effects()
    table.insert(0, "converged", res.diagnostics.converged)
    write_csv(out / "summary.csv", table)
    if horizon:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            fc = forecast_table(res, horizon, random_seed + 1)
        fc.insert(0, "converged", res.diagnostics.converged)
        write_csv(out / "forecast.csv", fc)
    write_json(out / "summary.json", summary)
    tmp = out / ".idata.nc.tmp"
    res.idata.to_netcdf(str(tmp))
    tmp.replace(out / "idata.nc")
    manifest = RunManifest(command="bayes its", options={
        "outcome": outcome, "breaks": [b.strftime("%Y-%m-%d") for b in brk], "sampler": sampler, "draws": draws,
        "tune": tune, "chains": chains, "cores": cores, "target_accept": target_accept, "start": start, "end": end, "pooling": pooling,
        "latent": latent, "zero_model": zero_model, "likelihood": likelihood, "fata": fata, "horizon": horizon},
        random_seeds={"sampler": random_seed, "ppc": random_seed, "forecast": random_seed + 1})
    manifest.notes.extend(res.design.notes)
    if not res.diagnostics.converged:
        manifest.notes.append(res.diagnostics.message())
    run_dir.finish(manifest)
    console.print(f"wrote {out}/idata.nc, summary.csv, summary.json" + (", forecast.csv" if horizon else "")
                  + f", manifest.json ({summary['seconds']:.1f} s sampling+compile)")
    _gate(res.diagnostics.converged, res.diagnostics.message(), allow_unconverged)


def _csv_series(path: Path, column: str, date_col: Optional[str]) -> tuple[np.ndarray, list]:
    df = pd.read_csv(path)
    for c in [column] + ([date_col] if date_col else []):
        if c not in df.columns:
            raise typer.BadParameter(f"{path}: no column {c!r} (columns: {list(df.columns)})")
    raw = df[column]
    y = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & y.isna()) | (y < 0) | (y.notna() & (y != np.round(y)))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise typer.BadParameter(f"{path}, row {i + 2}, column {column!r}: expected a non-negative integer count "
                                 f"or empty, got {raw.iloc[i]!r}")
    if date_col is None:
        labels: list = list(range(len(df)))
    else:
        d = df[date_col]
        if pd.api.types.is_numeric_dtype(d):
            if d.isna().any():
                raise typer.BadParameter(f"{path}, row {int(np.flatnonzero(d.isna())[0]) + 2}, column "
                                         f"{date_col!r}: missing period")
            labels = [int(v) if float(v).is_integer() else float(v) for v in d]
        else:
            parsed = pd.to_datetime(d, errors="coerce", format="mixed")
            if parsed.isna().any():
                i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
                raise typer.BadParameter(f"{path}, row {i + 2}, column {date_col!r}: expected a date, got {d.iloc[i]!r}")
            labels = list(parsed)
        if pd.Series(labels).duplicated().any() or not pd.Series(labels).is_monotonic_increasing:
            raise typer.BadParameter(f"{path}: column {date_col!r} must be strictly increasing (one row per period)")
    return y.to_numpy(dtype=float), labels


@bayes_app.command("changepoint")
def changepoint_command(
    json_out: Path = typer.Option(..., "--json", help="Write the result here (JSON)."),
    series: Optional[str] = typer.Option(None, "--series", help="national or a province name (shipped panel)."),
    outcome: str = typer.Option("attacks", "--outcome", help="Panel measure for --series."),
    csv: Optional[Path] = typer.Option(None, "--csv", exists=True, dir_okay=False, help="A CSV with the series instead."),
    column: Optional[str] = typer.Option(None, "--column", help="Count column of --csv."),
    date_col: Optional[str] = typer.Option(None, "--date-col", help="Period column of --csv (numbers or dates)."),
    family: str = typer.Option("negbin", "--family", help="negbin (overdispersed counts) or poisson."),
    start: Optional[str] = typer.Option(None, "--start", help="First period for --series (default: panel start)."),
    end: Optional[str] = typer.Option(None, "--end", help="Last period for --series."),
    known_breaks: str = typer.Option(DEFAULT_BREAKS, "--known-breaks", help="Known dates to compare with (--series)."),
    sampler: str = typer.Option("nutpie", "--sampler", help="pymc or nutpie."),
    draws: int = typer.Option(1000, "--draws"),
    tune: int = typer.Option(1000, "--tune"),
    chains: int = typer.Option(4, "--chains"),
    random_seed: int = typer.Option(0, "--random-seed"),
    fata: str = typer.Option("merge", "--fata"),
    allow_unconverged: bool = typer.Option(False, "--allow-unconverged", help="Exit 0 even if the gates fail."),
) -> None:
    """Single change point in a count series with the exact posterior over its date:
    switchpoint {mode, mean, hdi_low, hdi_high} (last period of the first regime), rates before
    and after (per period), and the convergence diagnostics."""
    from pakcast.forecast.io import write_json
    from pakcast.models.bayes.changepoint import BayesianChangepoint

    _check_choice(family, ("negbin", "poisson"), "--family")
    _check_choice(sampler, ("pymc", "nutpie"), "--sampler")
    _check_positive(draws=draws, tune=tune, chains=chains)
    if (series is None) == (csv is None):
        raise typer.BadParameter("give exactly one of --series or --csv")
    known: list = []
    if csv is not None:
        if column is None:
            raise typer.BadParameter("--csv needs --column")
        y, labels = _csv_series(csv, column, date_col)
        data = {"source": str(csv), "column": column, "date_col": date_col}
    else:
        from pakcast.forecast.panel import load_panel
        from pakcast.forecast.provinces import NATIONAL, canonical_province

        _check_choice(outcome, OUTCOMES, "--outcome")
        if series.lower() == "national":
            unit = NATIONAL
        else:
            try:
                unit = canonical_province(series)
            except KeyError as exc:
                raise typer.BadParameter(str(exc), param_hint="--series") from None
        panel = load_panel(freq="month", fata=fata)
        s = panel[panel["unique_id"] == unit].sort_values("ds")
        if start:
            s = s[s["ds"] >= pd.Timestamp(start)]
        if end:
            s = s[s["ds"] <= pd.Timestamp(end)]
        if len(s) < 3:
            raise typer.BadParameter(f"series {unit!r} has {len(s)} months in the window; need at least 3")
        y, labels = s[outcome].to_numpy(dtype=float), list(s["ds"])
        data = {"source": "shipped province-month panel (scope=militant)", "series": unit, "outcome": outcome,
                "fata": fata}
        known = [b for b in _parse_breaks(known_breaks) if labels[0] <= b < labels[-1]]
    model = BayesianChangepoint(y, labels=labels, family=family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        res = model.fit(sampler=sampler, draws=draws, tune=tune, chains=chains, random_seed=random_seed)
    out = res.to_dict()
    out["data"] = {**data, "first_period": res._label_value(labels[0]), "last_period": res._label_value(labels[-1])}
    if known:
        out["known_breaks"] = res.compare_known(known, window=6)
    if not res.diagnostics.converged:
        out["warning"] = res.diagnostics.message()
    out["options"] = {"family": family, "sampler": sampler, "draws": draws, "tune": tune, "chains": chains,
                      "random_seed": random_seed}
    from pakcast.forecast import paths
    from pakcast.forecast.manifest import RunManifest, write_beside
    from pakcast.forecast.panel import shipped_panel_name

    manifest = RunManifest(command="bayes changepoint", options={**out["options"], **data, "start": start,
                                                                 "end": end, "known_breaks": known_breaks})
    manifest.random_seeds = {"random_seed": random_seed}
    if csv is not None:
        manifest.add_input(csv, role="user series")
    else:
        manifest.add_input(paths.shipped(shipped_panel_name("month", fata=fata)), role="shipped panel")
    out["run_id"] = manifest.run_id
    write_json(json_out, out)
    write_beside(manifest, [json_out])
    sp = out["switchpoint"]
    console.print(f"switchpoint mode {sp['mode']} (95% HDI {sp['hdi_low']} .. {sp['hdi_high']}); wrote {json_out}")
    _gate(res.diagnostics.converged, res.diagnostics.message(), allow_unconverged)
