"""The single-series jobs behind ``pakcast breaks`` and ``pakcast its``.

Each reads one series, either of the shipped monthly panel (``series`` national or a province,
``outcome`` attacks or killed) or any CSV (``csv`` with a value ``column`` and an optional
``date_col`` holding dates, year-months or numbers), restricts it to ``start..end``, calls
:func:`pakcast.forecast.studies.breaks_analysis` or :func:`~pakcast.forecast.studies.run_its_study`
and writes JSON atomically with a manifest beside it (``its`` can also write a study directory:
``results.json``, ``its.csv`` and the briefing). Neither assumes intervention dates (the country profile's
are never applied to a user's series): the known dates are the ones given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from pakcast.forecast.errors import InputError
from pakcast.forecast.jobs import JobResult, input_errors, split_dates, write_json_output
from pakcast.forecast.manifest import RunManifest

__all__ = ["load_window", "run_breaks", "run_its", "MIN_OBSERVATIONS"]

MIN_OBSERVATIONS = 8


def load_window(series: str | None, outcome: str | None, csv: Path | None, column: str | None,
                date_col: str | None, start: str | None = None, end: str | None = None,
                offset_col: str | None = None, encoding: str = "utf-8") -> dict[str, Any]:
    """The series (``y``, ``time``, ``offset``, ``label``, ``input``) restricted to ``start..end``."""
    from pakcast.forecast.studies import check_contiguous_months, load_series, time_gaps

    if series is None and csv is None:
        raise InputError("give --series (with --outcome) or --csv FILE")
    if series is not None and csv is not None:
        raise InputError("give either --series or --csv, not both")
    if series is not None and outcome is None:
        raise InputError("--series needs --outcome attacks|killed")
    if csv is not None and not Path(csv).exists():
        raise InputError(f"--csv {csv}: file not found")
    with input_errors():
        data = load_series(series=series, outcome=outcome, csv=csv, column=column, date_col=date_col,
                           offset_col=offset_col, encoding=encoding)
    if not (start or end):
        with input_errors():
            check_contiguous_months(data["time"], data.get("label", "the series"))
        return data
    t = data["time"]
    if t is None:
        raise InputError("--start/--end need a time column (--date-col)")
    conv = pd.Timestamp if pd.api.types.is_datetime64_any_dtype(t) else float
    try:
        keep = pd.Series(True, index=t.index)
        if start:
            keep &= t >= conv(start)
        if end:
            keep &= t <= conv(end)
    except (ValueError, TypeError) as e:
        raise InputError(f"--start/--end: {e}") from None
    if keep.sum() < MIN_OBSERVATIONS:
        raise InputError(f"--start/--end leave {int(keep.sum())} observations (need {MIN_OBSERVATIONS})")
    out = dict(data)
    for k in ("y", "time", "offset"):
        if out[k] is not None:
            out[k] = out[k][keep.to_numpy()].reset_index(drop=True)
    if data["input"]:  # the gaps of the window studied, not of the whole file
        out["notes"] = time_gaps(out["time"], str(date_col))[1]
    with input_errors():
        check_contiguous_months(out["time"], out.get("label", "the series"))
    return out


def _manifest(command: str, options: dict, data: dict, seed: int) -> RunManifest:
    from pakcast.forecast import paths
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


def run_breaks(*, series: str | None = None, outcome: str | None = None, csv: Path | None = None,
               column: str | None = None, date_col: str | None = None, interventions: Sequence[str] | None = None,
               max_breaks: int = 5, min_size: float = 0.15, cost: str = "l2", start: str | None = None,
               end: str | None = None, random_seed: int, json_out: Path | None = None,
               encoding: str = "utf-8") -> JobResult:
    """Known-date Chow / count LR tests, sup-F, Bai-Perron breaks with 95% intervals, segments.

    Known dates: ``interventions`` only (the month of a date is the first post-break period);
    none are assumed.
    """
    from pakcast.forecast.studies import breaks_analysis

    if not 0 < min_size:
        raise InputError("--min-size must be positive")
    data = load_window(series, outcome, csv, column, date_col, start, end, encoding=encoding)
    date_list = split_dates(interventions)
    opts = {"series": series, "outcome": outcome, "csv": None if csv is None else str(csv), "column": column,
            "date_col": date_col, "dates": date_list, "max_breaks": max_breaks, "min_size": min_size, "cost": cost,
            "start": start, "end": end}
    manifest = _manifest("breaks", opts, data, random_seed)
    with input_errors():
        out = breaks_analysis(data["y"], data["time"], date_list, max_breaks=max_breaks,
                              min_size=min_size if min_size < 1 else int(min_size), cost=cost,
                              random_seed=random_seed)
    out = {"series": data["label"], **out, "options": opts}
    written = write_json_output(json_out, out, manifest)
    sf = out["unknown"]["sup_f"]
    lines = [f"{data['label']}: n={out['n']} ({out['start']}..{out['end']})"]
    lines += [f"  {k['test']:<10} at {k['date']}: statistic {k['statistic']:.3f}, p={k['p_value']:.3g} "
              f"(n_pre {k['n_pre']}, n_post {k['n_post']})" for k in out["known"]]
    lines.append(f"  sup-F {sf['statistic']:.2f} (p={sf['p_value']:.3g}) at {sf['date']}")
    lines += [f"  break after {b['date']} (95% CI {b['ci_low']}..{b['ci_high']}, {b['n_post']} obs after)"
              for b in out["unknown"]["breaks"]]
    return JobResult(payload=out, outputs=written, lines=lines)


def run_its(*, interventions: Sequence[str] | None, series: str | None = None, outcome: str | None = None,
            csv: Path | None = None, column: str | None = None, date_col: str | None = None,
            offset: str | None = None, effects: str = "level+slope", family: str = "negbin",
            seasonality: int = 0, period: int | None = None, cov_type: str = "HAC", start: str | None = None,
            end: str | None = None, outcome_label: str | None = None, source_label: str | None = None,
            random_seed: int, json_out: Path | None = None, out_dir: Path | None = None,
            force: bool = False, encoding: str = "utf-8") -> JobResult:
    """Segmented count regression: effects with intervals, counterfactual, per-period and cumulative
    effects (:func:`pakcast.forecast.studies.run_its_study`), written once
    (:func:`~pakcast.forecast.studies.write_its_study`: ``--json FILE`` and/or a study directory).

    The intervention dates are required: none are assumed, for a user's CSV or a panel series.
    """
    from pakcast.forecast.io import prepare_out_dir
    from pakcast.forecast.studies import run_its_study, write_its_study

    study_dir = prepare_out_dir(out_dir, force=force) if out_dir is not None else None
    dates = split_dates(interventions)
    if not dates:
        raise InputError("--intervention DATE is required (repeatable): no dates are assumed")
    if series is not None and offset not in (None, "population"):
        raise InputError("for panel series --offset can only be 'population'")
    value_col = column or (outcome if csv is not None else None)
    data = load_window(series, outcome if series is not None else value_col, csv, value_col, date_col, start, end,
                       offset_col=offset, encoding=encoding)
    opts = {"series": series, "outcome": outcome if series is not None else value_col,
            "csv": None if csv is None else str(csv), "date_col": date_col, "offset": offset,
            "interventions": dates, "effects": effects, "family": family, "seasonality": seasonality,
            "period": period, "cov_type": cov_type, "start": start, "end": end,
            "outcome_label": outcome_label, "source_label": source_label}
    manifest = _manifest("its", opts, data, random_seed)
    with input_errors():
        _, result = run_its_study(data, dates, effects=effects, family=family, seasonality=seasonality,
                                  period=period, cov_type=cov_type, random_seed=random_seed,
                                  outcome_label=outcome_label, source_label=source_label, options=opts,
                                  run_id=manifest.run_id)
    written = write_its_study(result, manifest, out_dir=study_dir, json_path=json_out)
    shown = [p for k, p in written.items() if k in ("json", "results", "csv", "html", "pdf")]
    return JobResult(payload=result.to_dict(), outputs=shown, lines=[str(result.summary())])
