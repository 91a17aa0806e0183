"""Fixture run directories for the briefing tests (no tests here; imported by test_report*.py).

The panel is the real shipped panel (``forecast.panel.load_panel``). Everything model-made in
these directories (forecast quantiles, backtest scores, break and attribution results) is
**synthetic test data**, derived by simple rules from the real history so that the numbers are
plausible in size; they are marked ``SYNTHETIC`` in ``results.json`` and never ship.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from pakcast.forecast.io import write_csv, write_json
from pakcast.forecast.manifest import RunManifest
from pakcast.forecast.run_result import QuarterlyResult, SourceCredit, write_result

SYNTHETIC = "SYNTHETIC test numbers (tests/forecast/test_report_fixtures.py), not model output"


def real_panel_csv() -> pd.DataFrame:
    from pakcast.forecast.panel import load_panel

    p = load_panel(freq="month").rename(columns={"unique_id": "province", "ds": "period"})
    p["period"] = pd.to_datetime(p["period"]).dt.strftime("%Y-%m-%d")
    return p


def synthetic_forecast(panel: pd.DataFrame, n_quarters: int = 4, dispersion: float = 0.3) -> pd.DataFrame:
    """NB quantiles around the mean of the last four observed quarters (synthetic)."""
    rows = []
    df = panel.assign(q=pd.PeriodIndex(pd.to_datetime(panel["period"]), freq="Q"))
    last_q = df["q"].max()
    quarters = [last_q + i for i in range(1, n_quarters + 1)]
    for (prov, ), g in df.groupby(["province"]):
        for measure in ("attacks", "killed"):
            qs = g.groupby("q")[measure].sum().sort_index()
            mu = max(float(qs.iloc[-4:].mean()), 0.05)
            n = 1.0 / dispersion
            dist = stats.nbinom(n, n / (n + mu))
            for qtr in quarters:
                last_year = float(qs.get(qtr - 4, np.nan))
                rows.append({"province": prov, "quarter": str(qtr), "measure": measure, "mean": mu,
                             "q05": dist.ppf(0.05), "q25": dist.ppf(0.25), "q50": dist.ppf(0.5),
                             "q75": dist.ppf(0.75), "q95": dist.ppf(0.95), "last_year": last_year,
                             "p_gt_last_year": float(dist.sf(last_year)) if np.isfinite(last_year) else np.nan})
    return pd.DataFrame(rows)


def make_quarterly_run(run_dir: Path, panel: pd.DataFrame | None = None, *, with_breaks: bool = True,
                       with_attribution: bool = True, created: str = "2022-01-15T00:00:00+00:00") -> Path:
    """A complete quarterly run directory on the real panel with synthetic model outputs."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    panel = real_panel_csv() if panel is None else panel
    write_csv(run_dir / "panel.csv", panel)
    fc = synthetic_forecast(panel)
    write_csv(run_dir / "forecast.csv", fc)
    provinces = sorted(set(panel["province"]))
    # shaped like forecast.backtest.summarise(): per_series, dm, goal (numbers synthetic)
    models = {"zero": 1.8, "historical_rate": 1.35, "seasonal_naive": 1.4, "nb_glm": 1.05, "ensemble": 1.0}
    per_series = []
    for p in provinces:
        scale = 3.0 if p == "Pakistan" else 1.0
        for meas in ("attacks", "killed"):
            for m, c in models.items():
                per_series.append({"measure": meas, "unique_id": p, "model": m, "crps": round(c * scale, 3),
                                   "log_score": round(2.0 * c, 3), "mae": round(1.3 * c * scale, 3),
                                   "coverage_90": 0.9 if m in ("ensemble", "nb_glm") else 0.7, "n": 480,
                                   "best_baseline": "historical_rate", "best_baseline_crps": round(1.35 * scale, 3),
                                   "skill_vs_best_baseline": round(1 - c / 1.35, 3)})
    goal = [{"measure": meas, "unique_id": p, "events_per_year": 20.0, "in_goal_scope": True,
             "best_model": "ensemble", "best_model_crps": 1.0, "best_baseline": "historical_rate",
             "best_baseline_crps": 1.35, "beats_best_baseline": True, "coverage_90": 0.9,
             "coverage_90_in_85_95": True} for p in provinces for meas in ("attacks", "killed")]
    dm = [{"measure": "attacks", "unique_id": "Pakistan", "best_model": "ensemble", "best_baseline": "historical_rate",
           "statistic": -2.9, "pvalue": 0.004, "df": 47, "mean_diff": -0.35, "n": 48, "h": 4}]
    write_csv(run_dir / "backtest.csv", pd.DataFrame(per_series))
    from pakcast.forecast.sources.reported import load_reported

    reported = load_reported()
    write_csv(run_dir / "reported.csv", reported)
    q0 = sorted(fc["quarter"].unique())
    result = QuarterlyResult(
        as_of="2021-12", forecast_origin="2022-01", forecast_quarters=list(q0[:4]), published_model="ensemble",
        data={"source": "UCDP GED 22.1", "file": "pakcast.data/panel_province_month.csv", "start": "1989-01",
              "end": "2021-12", "n_months": 396, "fata": "merge", "scope": "militant",
              "exclusions": {"excluded_date_precision": 31, "excluded_date_precision_killed": 120,
                             "unassigned_province": 4}},
        models={"run": list(models), "ensemble_weights": {"attacks": {"ensemble": {"nb_glm": 0.6,
                                                                                   "seasonal_naive": 0.4}}}},
        backtest={"summary": [{**r, "province": r.pop("unique_id")} for r in [dict(x) for x in per_series]],
                  "diebold_mariano": dm, "goal_check": goal},
        # shaped like forecast.quarterly's scores of earlier vintages (synthetic)
        earlier_vintages={"n_vintages_in_store": 1, "scores": [
            {"province": p, "quarter": q, "measure": "attacks", "q05": 16.0, "q50": 26.0, "q95": 38.0,
             "observed": obs if p == "Pakistan" else 3.0, "covered_50": False, "covered_90": 16 <= obs <= 38,
             "abs_error": abs(obs - 26.0), "crps": 5.0, "vintage_id": "v-20201201-x", "vintage_as_of": "2020-12-01"}
            for q, obs in (("2021Q3", 30.0), ("2021Q4", 51.0)) for p in ("Pakistan", "Balochistan")]},
        notes=[SYNTHETIC],
        sources=[SourceCredit(name="UCDP GED 22.1 (CC BY 4.0), Pakistan extract via HDX",
                              file="panel_province_month.csv", licence="CC BY 4.0", role="events (panel)"),
                 SourceCredit(name="Published aggregates: " + ", ".join(sorted(reported["source"].unique())),
                              file="reported.csv", role="published aggregates")],
        run_id="run-synthetic-fixture", created=created)
    write_result(result, run_dir)
    if with_breaks:
        # shaped like forecast.studies.run_break_study() (numbers synthetic)
        known, its = [], []
        for series, holm in (("Pakistan", None), ("Balochistan", 0.6), ("Khyber Pakhtunkhwa", 0.01)):
            for date, n_post in (("2014-12", 48), ("2021-08", 5)):
                for test, stat, p in (("chow", 3.2, 0.04), ("lr_negbin", 10.5, 0.005)):
                    known.append({"series": series, "outcome": "attacks", "test": test, "statistic": stat,
                                  "p_value": p, "n_pre": 48, "n_post": n_post, "date": date, "p_holm": holm})
                its.append({"series": series, "outcome": "attacks", "date": date, "n_pre": 48, "n_post": n_post,
                            "level_rate_ratio": 0.8, "level_ci_low": 0.6, "level_ci_high": 1.1,
                            "slope_rate_ratio": 0.981 if n_post >= 12 else None,
                            "slope_ci_low": 0.97 if n_post >= 12 else None,
                            "slope_ci_high": 0.992 if n_post >= 12 else None,
                            "excess": -250.0, "excess_ci_low": -800.0, "excess_ci_high": 60.0})
        its.append({"series": "Balochistan", "outcome": "attacks", "date": "2021-08", "n_pre": 48, "n_post": 5,
                    "level_rate_ratio": 7e-9, "level_ci_low": 5e-10, "level_ci_high": 9e-6, "excess": -1.0,
                    "excess_ci_low": -7.0, "excess_ci_high": 0.0})
        write_json(run_dir / "breaks.json", {
            "note": SYNTHETIC, "known": known, "its": its,
            "estimated_breaks": [
                {"series": "Pakistan", "outcome": "attacks", "date": "2013-05", "index": 76, "ci_low": "2012-11",
                 "ci_high": "2013-11", "n_post": 103, "contains_2014_12": False, "contains_2021_08": False},
                {"series": "Pakistan", "outcome": "attacks", "date": "2014-10", "index": 93, "ci_low": "2014-06",
                 "ci_high": "2015-02", "n_post": 86, "contains_2014_12": True, "contains_2021_08": False}],
            "unknown": [{"series": "Pakistan", "outcome": "attacks", "n": 180, "start": "2007-01", "end": "2021-12",
                         "sup_f": {"statistic": 148.7, "p_value": 1e-30, "date": "2013-05"}, "n_breaks": 2}],
            "reported": [{"series": "PICSS Pakistan", "source": "PICSS", "outcome": "attacks", "resolution": "month",
                          "date": "2021-08", "n_pre": 8, "n_post": 42, "level_rate_ratio": 3.1, "level_ci_low": 2.0,
                          "level_ci_high": 4.8, "p_value": 1e-5},
                         {"series": "CRSS Pakistan", "source": "CRSS", "outcome": "attacks", "resolution": "month",
                          "date": "2021-08", "n_pre": 0, "n_post": 1, "skipped": "too few published periods"}],
            "skipped": [{"series": "Azad Jammu and Kashmir", "outcome": "attacks", "reason": "too sparse to test"}],
        })
    if with_attribution:
        write_json(run_dir / "attribution.json", {
            "note": SYNTHETIC, "outcome": "attacks",
            "shapley_summary": {"total_change": -0.88, "period_a": "2010-01..2013-12", "period_b": "2015-01..2018-12",
                                "quantity": "log of the mean monthly count summed over the modelled provinces"},
            "effects": [{"covariate": "cpi_yoy_pct", "irr": 1.02, "ci_low": 0.99, "ci_high": 1.05}],
            "shapley": [{"group": "economic", "share": -0.12, "ci_low": -0.3, "ci_high": 0.05},
                        {"group": "political", "share": 0.05, "ci_low": -0.1, "ci_high": 0.2},
                        {"group": "security", "share": -0.61, "ci_low": -0.9, "ci_high": -0.35},
                        {"group": "residual", "share": -0.2, "ci_low": None, "ci_high": None}],
            "oos_crps_gain": [{"group": "security", "delta_crps": -0.05}],
            "interpretation": "These are associations adjusted for the modelled terms, not causal effects.",
        })
    man = RunManifest(command="quarterly (synthetic test fixture)", options={"as_of": "2021-12-31"})
    man.add_input(run_dir / "panel.csv", role="panel")
    man.add_outputs(run_dir)
    man.write(run_dir)
    return run_dir


def make_its_study(run_dir: Path, csv_dir: Path | None = None) -> Path:
    """An ITS study directory written by the study itself, on a synthetic series in a user CSV
    (monthly counts that drop by 40% at 2014-12; nothing about any country)."""
    from pakcast.forecast.studies import load_series, run_its_study, write_its_study

    run_dir = Path(run_dir)
    csv_dir = Path(csv_dir or run_dir.parent)
    csv_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    t = pd.date_range("2011-01-01", periods=96, freq="MS")
    y = rng.poisson(np.where(t >= "2014-12-01", 30.0, 50.0) * (1 + 0.2 * np.sin(2 * np.pi * t.month / 12)))
    path = csv_dir / "clinic_visits.csv"
    pd.DataFrame({"month": t.strftime("%Y-%m"), "visits": y}).to_csv(path, index=False)
    data = load_series(csv=path, column="visits", date_col="month")
    man = RunManifest(command="its (synthetic test fixture)")
    man.add_input(path, role="user series")
    _, result = run_its_study(data, ["2014-12"], effects="level", family="poisson", seasonality=1,
                              outcome_label="clinic visits", source_label="Synthetic clinic register (test)",
                              options={"date_col": "month"})
    write_its_study(result, man, out_dir=run_dir, report=False)
    return run_dir


if __name__ == "__main__":  # python tests/forecast/test_report_fixtures.py DIR  (developer preview)
    import sys

    out = make_quarterly_run(Path(sys.argv[1]))
    print(json.dumps(sorted(p.name for p in out.iterdir())))


def page_fill(pdf: Path, tmp: Path, dpi: int = 30) -> list[float]:
    """How far down each page of ``pdf`` its content reaches (fraction of the page height, the running
    title and page number left out), from ``pdftoppm`` (poppler-utils; callers skip without it)."""
    import shutil
    import subprocess

    import matplotlib.image as mpimg

    tmp.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([shutil.which("pdftoppm") or "pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf),
                          str(tmp / "pg")], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    out = []
    for p in sorted(tmp.glob("pg-*.png")):
        img = mpimg.imread(str(p))
        img = img[..., 0] if img.ndim == 3 else img
        h = img.shape[0]
        body = img[int(0.035 * h):int(0.96 * h)]  # without the running title and the page number
        ink = np.nonzero((body < 0.85).any(axis=1))[0]
        out.append((ink.max() + 0.035 * h) / h if ink.size else 0.0)
    return out


def pdf_page_texts(pdf: Path) -> list[str]:
    """The text of each page of ``pdf`` (``pdftotext -layout``, poppler-utils; callers skip without it)."""
    import shutil
    import subprocess

    info = subprocess.run([shutil.which("pdfinfo") or "pdfinfo", str(pdf)], capture_output=True, text=True, timeout=60)
    n = int(next(ln.split()[-1] for ln in info.stdout.splitlines() if ln.startswith("Pages:")))
    return [subprocess.run([shutil.which("pdftotext") or "pdftotext", "-layout", "-f", str(i), "-l", str(i), str(pdf),
                            "-"], capture_output=True, text=True, timeout=60).stdout for i in range(1, n + 1)]


def assert_glossary_whole(pdf: Path, briefing: dict) -> None:
    """The glossary of ``briefing`` in ``pdf``: every term at the start of a line on the pages from its heading
    on, and no page holding fewer than three of them (no row left alone)."""
    import re

    terms = [g["term"] for g in briefing["sections"]["glossary"]["items"]]
    pages = pdf_page_texts(pdf)
    start = max(i for i, t in enumerate(pages) if re.search(r"^\s*\d+\. Glossary\s*$", t, flags=re.M))
    where = {}
    for term in terms:
        head = re.escape(" ".join(term.split()[:2]))
        hits = [i for i in range(start, len(pages)) if re.search(rf"^\s*{head}", pages[i], flags=re.M)]
        assert hits, f"glossary term {term!r} not found after the heading"
        where[term] = hits[0]
    per_page = {i: sum(v == i for v in where.values()) for i in set(where.values())}
    assert min(per_page.values()) >= min(3, len(terms)), per_page
