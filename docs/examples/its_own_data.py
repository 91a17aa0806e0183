"""Worked example 3: an interrupted time series on your own CSV, from a notebook or a script.

Run: ``python docs/examples/its_own_data.py sicily.csv [OUT_DIR]`` with the Sicily smoking-ban
series of Lopez Bernal, Cummins & Gasparrini (2017) (``sicily.csv`` from the article's
repository, gasparrini/2017_lopezbernal_IJE_codedata: columns year, month, aces, stdpop).

1. The estimator on a DataFrame with named columns (``InterruptedTimeSeries.from_frame``):
   effects, the per-month counterfactual and the pointwise and cumulative effects.
2. The study as ``pakcast its --out DIR`` runs it: a typed result with a narrative, written once,
   and a briefing that credits the file (name, sha256, label) and knows no country.
"""

import sys
from pathlib import Path

import pandas as pd
from pakcast.forecast.manifest import RunManifest
from pakcast.forecast.studies import load_series, run_its_study, write_its_study
from pakcast.models.its import InterruptedTimeSeries

csv = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("sicily.csv")
out = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("runs/example_sicily")

# 1. the estimator (statsmodels style: model -> fit() -> results)
df = pd.read_csv(csv)
df["month"] = pd.to_datetime(pd.DataFrame({"year": df["year"], "month": df["month"], "day": 1}))
res = InterruptedTimeSeries.from_frame(df, outcome="aces", time="month", interventions=["2005-01"], offset="stdpop",
                                       effects="level", family="quasipoisson", seasonality=2,
                                       cov_type="nonrobust").fit(random_seed=1)
print(res.effects()[["intervention", "level_rate_ratio", "level_ci_low", "level_ci_high"]].to_string(index=False))
impact = res.impact(1)  # per month: observed, counterfactual, effect and cumulative effect with intervals
print(impact.loc[impact["post"], ["time", "observed", "counterfactual", "effect", "cumulative_effect"]].tail(3)
      .to_string(index=False))

# 2. the study with its briefing (what `pakcast its --csv ... --out DIR` does)
data = load_series(csv=csv, column="aces", date_col="year,month", offset_col="stdpop")
manifest = RunManifest(command="docs/examples/its_own_data.py")
manifest.add_input(csv, role="user series")
_, result = run_its_study(data, ["2005-01"], effects="level", family="quasipoisson", seasonality=2,
                          cov_type="nonrobust", outcome_label="acute coronary events",
                          source_label="Lopez Bernal et al. (2017), Sicily", run_id=manifest.run_id)
written = write_its_study(result, manifest, out_dir=out)
print(result.summary())
print("wrote", ", ".join(str(p) for p in written.values()))
