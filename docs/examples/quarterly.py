"""Worked example 1: the quarterly forecast from Python, on the shipped panel.

Run: ``python docs/examples/quarterly.py [OUT_DIR]`` (default ``runs/example_quarterly``). This is
the UCDP-only run (``data="ucdp"``, ``pakcast quarterly --data ucdp``) with small settings (four
models, 200 sample paths, backtest from 2019), about a minute; ``pakcast quarterly`` by default
forecasts from the fused series of every source (``data="fused"``; the measurement model's fit
takes minutes: pass ``fusion_draws``, ``fusion_tune``, ``fusion_chains`` to shorten it). The run returns its manifest and writes its
typed result once (``results.json``), read back with :func:`pakcast.forecast.run_result.read_result`.
"""

import sys
from pathlib import Path

import pandas as pd
from pakcast.forecast.quarterly import QuarterlyConfig, run
from pakcast.forecast.run_result import read_result

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("runs/example_quarterly")
config = QuarterlyConfig(out=out, data="ucdp", as_of="2021-12", store="none", models=("zero", "historical_rate", "nb_glm"),
                         n_samples=200, backtest_start="2019-01-01", scheduler="serial", studies=False,
                         report=True, forecast_only=())
manifest = run(config)
result = read_result(out)
print(f"run {manifest.run_id}: data {result.data['first_month']} to {result.data['last_month']}, "
      f"forecast {', '.join(result.forecast_quarters)}, published model {result.published_model}")
print("sources:", "; ".join(s.line for s in result.sources))

# the forecast table: one row per province, quarter and measure, with the 90% interval
fc = pd.read_csv(out / "forecast.csv")
nat = fc[(fc["province"] == "Pakistan") & (fc["measure"] == "attacks")]
print(nat[["quarter", "q05", "q50", "q95", "p_gt_last_year"]].to_string(index=False))

# backtest skill of each model against the best simple rule, national attacks
summary = pd.DataFrame(result.backtest["summary"])
print(summary.query("province == 'Pakistan' and measure == 'attacks'")[["model", "crps", "coverage_90"]]
      .to_string(index=False))
print("not produced:", result.not_produced or "nothing")
