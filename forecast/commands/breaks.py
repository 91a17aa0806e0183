"""``pakcast breaks`` and ``pakcast its`` (thin CLI layer over :mod:`forecast.studies`).

Both read either a series of the shipped monthly panel (``--series national|PROVINCE --outcome
attacks|killed``) or any CSV (``--csv FILE`` with a value column and an optional ``--date-col``
holding dates, year-months or numbers), validate the options before fitting, call one library
function and write JSON atomically with a manifest beside it.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from pakcast.forecast._cli_app import app, bayes_app, data_app  # noqa: F401

console = Console(stderr=True)


def _load(series, outcome, csv, column, date_col, offset_col=None):
    from pakcast.forecast.studies import load_series

    if series is None and csv is None:
        raise typer.BadParameter("give --series (with --outcome) or --csv FILE")
    if series is not None and csv is not None:
        raise typer.BadParameter("give either --series or --csv, not both")
    if series is not None and outcome is None:
        raise typer.BadParameter("--series needs --outcome attacks|killed")
    if csv is not None and not Path(csv).exists():
        raise typer.BadParameter(f"--csv {csv}: file not found")
    try:
        return load_series(series=series, outcome=outcome, csv=csv, column=column, date_col=date_col,
                           offset_col=offset_col)
    except (ValueError, KeyError) as e:
        raise typer.BadParameter(str(e).strip("'\"")) from None


def _window(data: dict, start, end) -> dict:
    """Restrict a loaded series to ``start..end`` (inclusive); a monthly series must have every month."""
    import pandas as pd

    from pakcast.forecast.studies import check_contiguous_months

    if not (start or end):
        try:
            check_contiguous_months(data["time"], data.get("label", "the series"))
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
        return data
    t = data["time"]
    if t is None:
        raise typer.BadParameter("--start/--end need a time column (--date-col)")
    conv = pd.Timestamp if pd.api.types.is_datetime64_any_dtype(t) else float
    try:
        keep = pd.Series(True, index=t.index)
        if start:
            keep &= t >= conv(start)
        if end:
            keep &= t <= conv(end)
    except (ValueError, TypeError) as e:
        raise typer.BadParameter(f"--start/--end: {e}") from None
    if keep.sum() < 8:
        raise typer.BadParameter(f"--start/--end leave {int(keep.sum())} observations")
    out = dict(data)
    for k in ("y", "time", "offset"):
        if out[k] is not None:
            out[k] = out[k][keep.to_numpy()].reset_index(drop=True)
    try:
        check_contiguous_months(out["time"], out.get("label", "the series"))
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    return out


def _manifest(command: str, options: dict, data: dict, seed: int):
    from pakcast.forecast import paths
    from pakcast.forecast.manifest import RunManifest
    from pakcast.forecast.panel import shipped_panel_name

    m = RunManifest(command=command, options=options)
    m.random_seeds = {"seed": seed}
    if data["input"]:
        m.add_input(data["input"], role="user series")
    else:
        p = paths.shipped_dir() / shipped_panel_name("month")
        if p.exists():
            m.add_input(p, role="shipped panel")
    return m


def _write_json_with_manifest(path: Path, payload: dict, manifest) -> None:
    from pakcast.forecast.io import sha256_file, write_json

    payload["run_id"] = manifest.run_id
    write_json(path, payload)
    manifest.outputs = [{"path": path.name, "sha256": sha256_file(path)}]
    manifest.write(path.parent, name=path.stem + ".manifest.json")


@app.command("breaks")
def breaks(
    json_out: Path = typer.Option(..., "--json", help="Write the results JSON here."),
    series: str = typer.Option(None, "--series", help="national or a province of the shipped panel."),
    outcome: str = typer.Option(None, "--outcome", help="attacks | killed (panel series)."),
    csv: Path = typer.Option(None, "--csv", help="A CSV file with the series."),
    column: str = typer.Option(None, "--column", help="Value column of --csv."),
    date_col: str = typer.Option(None, "--date-col", help="Time column of --csv (dates, YYYY-MM or numbers)."),
    dates: str = typer.Option(None, "--dates", help="Known break dates D1,D2 (first post-break period)."),
    max_breaks: int = typer.Option(5, "--max-breaks", min=0, help="Largest number of breaks in the search."),
    min_size: float = typer.Option(0.15, "--min-size", help="Minimum segment: fraction of n (<1) or periods."),
    cost: str = typer.Option("l2", "--cost", help="Search cost: l2 (strucchange) | poisson | negbin."),
    start: str = typer.Option(None, "--start", help="Use observations from this time on."),
    end: str = typer.Option(None, "--end", help="Use observations up to this time."),
    seed: int = typer.Option(20141216, "--seed", help="Random seed (simulated sup-F p-values)."),
) -> None:
    """Known-date Chow / count LR tests, sup-F, Bai-Perron breaks with 95% intervals, segments."""
    from pakcast.forecast.studies import breaks_analysis

    if cost not in ("l2", "poisson", "negbin"):
        raise typer.BadParameter(f"--cost must be l2, poisson or negbin, got {cost!r}")
    if not 0 < min_size:
        raise typer.BadParameter("--min-size must be positive")
    data = _window(_load(series, outcome, csv, column, date_col), start, end)
    date_list = [d.strip() for d in dates.split(",") if d.strip()] if dates else []
    opts = {"series": series, "outcome": outcome, "csv": None if csv is None else str(csv), "column": column,
            "date_col": date_col, "dates": date_list, "max_breaks": max_breaks, "min_size": min_size, "cost": cost,
            "start": start, "end": end}
    manifest = _manifest("breaks", opts, data, seed)
    with console.status("testing and searching for breaks"):
        try:
            out = breaks_analysis(data["y"], data["time"], date_list, max_breaks=max_breaks,
                                  min_size=min_size if min_size < 1 else int(min_size), cost=cost, random_seed=seed)
        except ValueError as e:
            console.print(f"[red]error:[/red] {e}")
            raise typer.Exit(code=2) from None
    out = {"series": data["label"], **out, "options": opts}
    _write_json_with_manifest(json_out, out, manifest)
    sf = out["unknown"]["sup_f"]
    console.print(f"{data['label']}: n={out['n']} ({out['start']}..{out['end']})")
    for k in out["known"]:
        console.print(f"  {k['test']:<10} at {k['date']}: statistic {k['statistic']:.3f}, p={k['p_value']:.3g} "
                      f"(n_pre {k['n_pre']}, n_post {k['n_post']})")
    console.print(f"  sup-F {sf['statistic']:.2f} (p={sf['p_value']:.3g}) at {sf['date']}")
    for b in out["unknown"]["breaks"]:
        console.print(f"  break after {b['date']} (95% CI {b['ci_low']}..{b['ci_high']}, {b['n_post']} obs after)")
    console.print(f"wrote {json_out}")


@app.command("its")
def its(
    intervention: list[str] = typer.Option(..., "--intervention", help="Intervention date (repeatable)."),
    json_out: Path = typer.Option(None, "--json", help="Write the results JSON here."),
    out_dir: Path = typer.Option(None, "--out", help="Study directory: results.json, its.csv, manifest, briefing."),
    series: str = typer.Option(None, "--series", help="national or a province of the shipped panel."),
    outcome: str = typer.Option(None, "--outcome", help="attacks | killed, or the value column of --csv."),
    csv: Path = typer.Option(None, "--csv", help="A CSV file with the series."),
    date_col: str = typer.Option(None, "--date-col", help="Time column of --csv (dates, YYYY-MM or numbers), "
                                 "or two columns 'year,month'."),
    offset: str = typer.Option(None, "--offset", help="Exposure column (e.g. population); the model uses its log."),
    effects: str = typer.Option("level+slope", "--effects", help="level | level+slope"),
    family: str = typer.Option("negbin", "--family", help="poisson | quasipoisson | negbin"),
    seasonality: int = typer.Option(0, "--seasonality", min=0, help="Fourier pairs K (0 for none)."),
    period: int = typer.Option(None, "--period", help="Season length for numeric time (12 for months)."),
    cov_type: str = typer.Option("HAC", "--cov-type", help="HAC (Newey-West) | nonrobust"),
    start: str = typer.Option(None, "--start", help="Use observations from this time on."),
    end: str = typer.Option(None, "--end", help="Use observations up to this time."),
    outcome_label: str = typer.Option(None, "--outcome-label", help="The outcome in words, e.g. 'acute coronary events'."),
    source_label: str = typer.Option(None, "--source-label", help="How the briefing credits --csv (citation)."),
    seed: int = typer.Option(20141216, "--seed", help="Random seed (interval simulations)."),
    force: bool = typer.Option(False, "--force", help="Write --out into a directory holding another run's manifest."),
) -> None:
    """Segmented count regression: effects with intervals, counterfactual, per-period and cumulative effects."""
    from pakcast.forecast.studies import run_its_study, write_its_study

    study_dir = _prepare_out(out_dir, force) if out_dir is not None else None

    if effects not in ("level", "level+slope"):
        raise typer.BadParameter(f"--effects must be level or level+slope, got {effects!r}")
    if family not in ("poisson", "quasipoisson", "negbin"):
        raise typer.BadParameter(f"--family must be poisson, quasipoisson or negbin, got {family!r}")
    if cov_type not in ("HAC", "nonrobust"):
        raise typer.BadParameter(f"--cov-type must be HAC or nonrobust, got {cov_type!r}")
    data = _load(series, outcome, csv, outcome if csv is not None else None, date_col,
                 offset_col=offset)
    if series is not None and offset not in (None, "population"):
        raise typer.BadParameter("for panel series --offset can only be 'population'")
    data = _window(data, start, end)
    opts = {"series": series, "outcome": outcome, "csv": None if csv is None else str(csv), "date_col": date_col,
            "offset": offset, "interventions": intervention, "effects": effects, "family": family,
            "seasonality": seasonality, "period": period, "cov_type": cov_type, "start": start, "end": end,
            "outcome_label": outcome_label, "source_label": source_label}
    manifest = _manifest("its", opts, data, seed)
    with console.status("fitting the interrupted time series"):
        try:
            _, result = run_its_study(data, intervention, effects=effects, family=family, seasonality=seasonality,
                                      period=period, cov_type=cov_type, random_seed=seed,
                                      outcome_label=outcome_label, source_label=source_label, options=opts,
                                      run_id=manifest.run_id)
        except (ValueError, RuntimeError) as e:
            console.print(f"[red]error:[/red] {e}", highlight=False)
            raise typer.Exit(code=2) from None
    typer.echo(result.summary())
    written = write_its_study(result, manifest, out_dir=study_dir, json_path=json_out)
    if written:
        console.print("wrote " + ", ".join(str(p) for k, p in written.items() if k in ("json", "results", "csv", "html",
                                                                                      "pdf")), highlight=False)


def _prepare_out(out_dir: Path, force: bool):
    """The shared ``--out DIR`` rules (:func:`forecast.io.prepare_out_dir`), failing in one line."""
    from pakcast.forecast.errors import PakcastError
    from pakcast.forecast.io import prepare_out_dir

    try:
        return prepare_out_dir(out_dir, force=force)
    except PakcastError as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True, markup=False, highlight=False)
        raise typer.Exit(code=exc.exit_code) from None
