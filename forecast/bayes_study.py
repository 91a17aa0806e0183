"""The Bayesian jobs behind ``pakcast bayes its`` and ``pakcast bayes changepoint``.

:func:`run_bayes_its` fits :class:`pakcast.models.bayes.its.HierarchicalNBITS` to the shipped
province-month panel and writes ``idata.nc`` (complete ``arviz.InferenceData``), ``summary.csv``,
``summary.json``, ``forecast.csv`` and ``manifest.json``; :func:`run_changepoint` fits
:class:`pakcast.models.bayes.changepoint.BayesianChangepoint` to a panel series or a user CSV.
A fit that fails the convergence gates (R-hat < 1.01, bulk/tail ESS > 400, no divergences) is
still written, marked ``"converged": false`` with the reasons, and the result is withheld
(exit status 3) unless ``allow_unconverged``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from pakcast.forecast.country import PAKISTAN
from pakcast.forecast.errors import InputError
from pakcast.forecast.io import write_csv, write_json
from pakcast.forecast.jobs import JobResult, input_errors, read_user_csv, write_json_output
from pakcast.forecast.manifest import RunManifest

__all__ = ["run_bayes_its", "run_changepoint", "forecast_table", "csv_count_series", "parse_dates",
           "OUTCOMES", "FORECAST_QUANTILES", "DEFAULT_START"]

DEFAULT_START = "2007-01-01"
OUTCOMES = ("attacks", "killed", "killed_low", "killed_high")
FORECAST_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
ACCEPT_HINT = "outputs are written but the fit is unconverged (pass --allow-unconverged to accept it)"


def parse_dates(values: Sequence[str], option: str) -> list[pd.Timestamp]:
    """Dates from ``--intervention`` values (each may be a comma-separated list)."""
    out = []
    for v in values:
        for part in [p.strip() for p in str(v).split(",") if p.strip()]:
            try:
                out.append(pd.Timestamp(part))
            except (ValueError, TypeError):
                raise InputError(f"{option}: {part!r} is not a date (YYYY-MM-DD)") from None
    return out


def _province_panel(outcome: str, fata: str) -> pd.DataFrame:
    from pakcast.forecast.panel import load_panel

    panel = load_panel(freq="month", fata=fata)
    if outcome not in panel.columns:
        raise InputError(f"--outcome: the panel has no measure {outcome!r}")
    return panel[panel["unique_id"] != PAKISTAN.national].reset_index(drop=True)


def forecast_table(res: Any, h: int, random_seed: int) -> pd.DataFrame:
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


def run_bayes_its(out: Path, *, outcome: str = "attacks", breaks: Sequence[str] = PAKISTAN.intervention_days(),
                  sampler: str = "nutpie", draws: int = 1000, tune: int = 500, chains: int = 4, cores: int = 2,
                  target_accept: float = 0.9, random_seed: int, start: str | None = DEFAULT_START,
                  end: str | None = None, pooling: str = "partial", latent: str = "none", zero_model: str = "none",
                  likelihood: str = "numba", fata: str = "merge", horizon: int = 12,
                  allow_unconverged: bool = False, force: bool = False) -> JobResult:
    """Hierarchical negative-binomial ITS by province on the shipped panel, written to ``out``
    (the shared ``--out DIR`` rules, :func:`pakcast.forecast.io.prepare_out_dir`).

    ``breaks`` are the days of the interventions (a step from the first month starting on or
    after each; see :mod:`pakcast.forecast.country`). ``start="all"`` or None fits the whole panel.
    """
    from pakcast.forecast.io import prepare_out_dir
    from pakcast.models.bayes.its import HierarchicalNBITS

    run_dir = prepare_out_dir(out, force=force)
    if outcome not in OUTCOMES:
        raise InputError(f"--outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    for name, v in (("draws", draws), ("tune", tune), ("chains", chains), ("cores", cores)):
        if v < 1:
            raise InputError(f"--{name}: must be a positive integer, got {v}")
    if horizon < 0:
        raise InputError("--horizon: must be >= 0")
    if not 0.5 <= target_accept < 1.0:
        raise InputError(f"--target-accept: must be in [0.5, 1), got {target_accept}")
    notes = []
    if zero_model != "none" and likelihood == "numba":
        likelihood = "native"  # the Numba Op is the plain NB2 likelihood
        notes.append("--zero-model needs --likelihood native; using native")
    brk = parse_dates(breaks, "--intervention")
    panel = _province_panel(outcome, fata)
    win_start = None if start in (None, "all") else start
    with input_errors(), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # the notes are reported below
        model = HierarchicalNBITS(panel, outcome, breaks=brk, start=win_start, end=end, pooling=pooling,
                                  latent=latent, zero_model=zero_model, likelihood=likelihood)
    notes += list(model.design.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # the verdict is reported below, once
        res = model.fit(sampler=sampler, draws=draws, tune=tune, chains=chains, cores=cores,
                        target_accept=target_accept, random_seed=random_seed, log_likelihood=False)
        ppc = res.ppc(random_seed=random_seed)
    out = Path(out)
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
    res.save(out / "idata.nc")  # observed_data, posterior_predictive, log_likelihood: az.plot_ppc / az.loo work on it
    manifest = RunManifest(command="bayes its", options={
        "outcome": outcome, "breaks": [b.strftime("%Y-%m-%d") for b in brk], "sampler": sampler, "draws": draws,
        "tune": tune, "chains": chains, "cores": cores, "target_accept": target_accept, "start": start, "end": end,
        "pooling": pooling, "latent": latent, "zero_model": zero_model, "likelihood": likelihood, "fata": fata,
        "horizon": horizon},
        random_seeds={"sampler": random_seed, "ppc": random_seed, "forecast": random_seed + 1})
    manifest.notes.extend(res.design.notes)
    if not res.diagnostics.converged:
        manifest.notes.append(res.diagnostics.message())
    run_dir.finish(manifest)
    files = ["idata.nc", "summary.csv", "summary.json", *(["forecast.csv"] if horizon else []), "manifest.json"]
    lines = [f"HierarchicalNBITS({outcome}) on {len(res.design.units)} provinces x {len(res.design.dates)} months "
             f"with {sampler} ({chains} chains x {draws} draws), {summary['seconds']:.1f} s sampling+compile",
             res.diagnostics.message()]
    return JobResult(payload=summary, outputs=[out / f for f in files], lines=lines, notes=notes,
                     withheld=None if res.diagnostics.converged or allow_unconverged
                     else f"{res.diagnostics.message()}: {ACCEPT_HINT}")


def csv_count_series(path: Path, column: str, date_col: str | None, encoding: str = "utf-8"
                     ) -> tuple[np.ndarray, list]:
    """A count column (non-negative integers or empty) and its period labels from a user CSV."""
    df = read_user_csv(path, encoding=encoding)
    for c in [column] + ([date_col] if date_col else []):
        if c not in df.columns:
            raise InputError(f"{path}: no column {c!r} (columns: {list(df.columns)})")
    raw = df[column]
    y = pd.to_numeric(raw, errors="coerce")
    bad = (raw.notna() & y.isna()) | (y < 0) | (y.notna() & (y != np.round(y)))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{path}, row {i + 2}, column {column!r}: expected a non-negative integer count "
                         f"or empty, got {raw.iloc[i]!r}")
    if date_col is None:
        labels: list = list(range(len(df)))
    else:
        d = df[date_col]
        if pd.api.types.is_numeric_dtype(d):
            if d.isna().any():
                raise InputError(f"{path}, row {int(np.flatnonzero(d.isna())[0]) + 2}, column "
                                 f"{date_col!r}: missing period")
            labels = [int(v) if float(v).is_integer() else float(v) for v in d]
        else:
            parsed = pd.to_datetime(d, errors="coerce", format="mixed")
            if parsed.isna().any():
                i = int(np.flatnonzero(parsed.isna().to_numpy())[0])
                raise InputError(f"{path}, row {i + 2}, column {date_col!r}: expected a date, got {d.iloc[i]!r}")
            labels = list(parsed)
        if pd.Series(labels).duplicated().any() or not pd.Series(labels).is_monotonic_increasing:
            raise InputError(f"{path}: column {date_col!r} must be strictly increasing (one row per period)")
    return y.to_numpy(dtype=float), labels


def _panel_series(series: str, outcome: str, fata: str, start: str | None, end: str | None) -> tuple[np.ndarray, list, str]:
    from pakcast.forecast.panel import load_panel
    from pakcast.forecast.provinces import canonical_province

    if outcome not in OUTCOMES:
        raise InputError(f"--outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if series.lower() == "national":
        unit = PAKISTAN.national
    else:
        with input_errors("--series: "):
            unit = canonical_province(series)
    panel = load_panel(freq="month", fata=fata)
    s = panel[panel["unique_id"] == unit].sort_values("ds")
    if start:
        s = s[s["ds"] >= pd.Timestamp(start)]
    if end:
        s = s[s["ds"] <= pd.Timestamp(end)]
    if len(s) < 3:
        raise InputError(f"series {unit!r} has {len(s)} months in the window; need at least 3")
    return s[outcome].to_numpy(dtype=float), list(s["ds"]), unit


def run_changepoint(*, series: str | None = None, outcome: str = "attacks", csv: Path | None = None,
                    column: str | None = None, date_col: str | None = None, family: str = "negbin",
                    start: str | None = None, end: str | None = None, known: Sequence[str] | None = None,
                    sampler: str = "nutpie", draws: int = 1000, tune: int = 1000, chains: int = 4,
                    random_seed: int, fata: str = "merge", allow_unconverged: bool = False,
                    json_out: Path | None = None, encoding: str = "utf-8") -> JobResult:
    """Single change point in a count series with the exact posterior over its date.

    ``known`` dates are compared with the posterior; for a panel series they default to the
    profile's intervention days, for a user CSV there is no default (a user's series never sees
    the country profile).
    """
    from pakcast.models.bayes.changepoint import BayesianChangepoint

    for name, v in (("draws", draws), ("tune", tune), ("chains", chains)):
        if v < 1:
            raise InputError(f"--{name}: must be a positive integer, got {v}")
    if (series is None) == (csv is None):
        raise InputError("give exactly one of --series or --csv")
    if csv is not None:
        if column is None:
            raise InputError("--csv needs --column")
        y, labels = csv_count_series(csv, column, date_col, encoding=encoding)
        data: dict[str, Any] = {"source": str(csv), "column": column, "date_col": date_col, "encoding": encoding}
        known_dates = parse_dates(known or [], "--intervention")
    else:
        assert series is not None
        y, labels, unit = _panel_series(series, outcome, fata, start, end)
        data = {"source": "shipped province-month panel (scope=militant)", "series": unit, "outcome": outcome,
                "fata": fata}
        known_dates = parse_dates(known if known else PAKISTAN.intervention_days(), "--intervention")
    compare = [b for b in known_dates if isinstance(labels[0], pd.Timestamp) and labels[0] <= b < labels[-1]]
    model = BayesianChangepoint(y, labels=labels, family=family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        res = model.fit(sampler=sampler, draws=draws, tune=tune, chains=chains, random_seed=random_seed)
    out = res.to_dict()
    out["data"] = {**data, "first_period": res._label_value(labels[0]), "last_period": res._label_value(labels[-1])}
    if compare:
        out["known_breaks"] = res.compare_known(compare, window=6)
    if not res.diagnostics.converged:
        out["warning"] = res.diagnostics.message()
    out["options"] = {"family": family, "sampler": sampler, "draws": draws, "tune": tune, "chains": chains,
                      "random_seed": random_seed}
    from pakcast.forecast import paths
    from pakcast.forecast.panel import shipped_panel_name

    known_text = ",".join(b.strftime("%Y-%m-%d") for b in known_dates)
    manifest = RunManifest(command="bayes changepoint", options={**out["options"], **data, "start": start,
                                                                 "end": end, "known_breaks": known_text})
    manifest.random_seeds = {"random_seed": random_seed}
    if csv is not None:
        manifest.add_input(csv, role="user series")
    else:
        manifest.add_input(paths.shipped(shipped_panel_name("month", fata=fata)), role="shipped panel")
    written = write_json_output(json_out, out, manifest)
    sp = out["switchpoint"]
    lines = [f"switchpoint mode {sp['mode']} (95% HDI {sp['hdi_low']} .. {sp['hdi_high']})",
             res.diagnostics.message()]
    return JobResult(payload=out, outputs=written, lines=lines,
                     withheld=None if res.diagnostics.converged or allow_unconverged
                     else f"{res.diagnostics.message()}: {ACCEPT_HINT}")
