"""``pakcast attribute`` on the fused series: the panel built from a fused fit, the Shapley split
pooled over posterior draws (Rubin's rules), and the same checks and caveats as on UCDP.

The fused fit is small: a simulated two-province panel named as real provinces (so the shipped
covariates join), 2018-01..2025-12, short chains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pakcast.forecast.attribution_job import combine_shapley, fused_panels, run_attribute
from pakcast.forecast.covariates import load_covariates
from pakcast.forecast.errors import InputError
from pakcast.forecast.fusion import FusionConfig, ObservationTable, fit_fusion
from pakcast.models.fusion import simulate_fusion

PROVS = ["Khyber Pakhtunkhwa", "Balochistan"]
PERIODS = "2018-01:2020-12,2023-01:2025-12"


@pytest.fixture(scope="module")
def fused_run():
    obs, truth = simulate_fusion(n_units=2, n_months=96, horizon=0, start="2018-01", break_month=48,
                                 random_seed=5)
    ren = {f"U{i}": p for i, p in enumerate(PROVS)}
    obs = obs.assign(cover=obs["cover"].map(lambda c: tuple(ren[u] for u in c)),
                     metric=obs["metric"].replace({"deaths": "killed"}), measure=obs["measure"].replace({"deaths": "killed"}))
    obs["period_type"], obs["region"], obs["origin"] = "month", "x", "simulated"
    table = ObservationTable(frame=obs, exclusions={}, excluded=pd.DataFrame(columns=["origin", "reason"]),
                             inputs=[], units=PROVS, months=truth["months"])
    return fit_fusion(FusionConfig(draws=100, tune=120, chains=1, random_seed=3, units="A", figures=False), table)


@pytest.fixture(scope="module")
def cov():
    return load_covariates("month")


def test_fused_panels_mean_and_draws(fused_run, cov):
    mean, draws, info = fused_panels(fused_run, cov, n_draws=3, random_seed=1)
    assert set(mean["unique_id"]) == set(PROVS) and len(draws) == 3
    assert mean["ds"].max() == pd.Timestamp("2025-12-01") and mean["ds"].min() == pd.Timestamp("2018-01-01")
    lat = fused_run.results.latent("attacks")
    m = lat[(lat.unit == PROVS[0]) & (lat.month == pd.Period("2020-06", "M"))]["mean"].item()
    row = mean[(mean.unique_id == PROVS[0]) & (mean.ds == "2020-06-01")]
    assert row["attacks"].item() == np.rint(m) and row["population"].notna().all()
    for d in draws:
        assert (d[["attacks", "killed"]] >= 0).all().all() and (d["attacks"] % 1 == 0).all()
    assert not draws[0]["attacks"].equals(draws[1]["attacks"])  # distinct posterior paths
    assert "A counts them" in info["units"]["attacks"]


def test_combine_shapley_rubin_rules():
    z = 1.959963984540054
    t1 = [{"group": "economic", "share": 0.1, "ci_low": 0.1 - z * 0.1, "ci_high": 0.1 + z * 0.1}]
    t2 = [{"group": "economic", "share": 0.3, "ci_low": 0.3 - z * 0.1, "ci_high": 0.3 + z * 0.1}]
    (r,) = combine_shapley([t1, t2])
    between = np.var([0.1, 0.3], ddof=1)
    total = 0.01 + 1.5 * between
    assert r["share"] == pytest.approx(0.2)
    assert r["ci_high"] - r["share"] == pytest.approx(z * np.sqrt(total))
    assert r["measurement_share_of_variance"] == pytest.approx(1.5 * between / total)


def test_attribute_on_the_fused_series_with_checks_and_caveats(fused_run):
    res = run_attribute(outcome="attacks", periods=PERIODS, groups="economic,political", random_seed=2, n_draws=40,
                        min_events=5, checks=True, series="fused", fused_draws=3, fused_run=fused_run,
                        interventions=["2021-08-15"])
    out = res.payload
    assert out["data"]["months_used"].endswith("2025-12") and "fused series" in out["data"]["source"]
    assert "nothing here describes 2022-2025" not in out["data"]["note"]
    assert out["shapley_summary"]["period_b"] == "2023-01..2025-12"
    groups = {r["group"] for r in out["shapley"]}
    assert groups == {r["group"] for r in out["shapley_posterior_mean"]} and "economic" in groups
    assert len(out["shapley_by_draw"]) == 3
    for r in out["shapley"]:
        assert r["ci_low"] <= r["share"] <= r["ci_high"] and 0 <= r["measurement_share_of_variance"] <= 1
    # the same checks as on UCDP ran on the posterior-mean panel
    for key in ("oos_crps_gain", "granger", "placebo", "specification_checks"):
        assert key in out
    assert any(c.startswith("The outcome is the fused series") and "Rubin" in c for c in out["caveats"])
    # one chain of 100 draws cannot pass the gates, and the caveats say so first
    assert not fused_run.results.diagnostics.converged
    assert out["caveats"][0].startswith("The fused series' sampler did not pass its convergence gates")
    assert out["fused"]["mode"] == "fused"


def test_attribute_refuses_an_unknown_series():
    with pytest.raises(InputError, match="--series"):
        run_attribute(outcome="attacks", periods=PERIODS, groups="economic", random_seed=1, series="acled")


def test_cli_attribute_series_option():
    from pakcast.forecast.cli import app
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, ["attribute", "--series", "acled"])
    assert r.exit_code == 2 and "'acled' is not one of" in r.output  # a choice: typer's usage error
    text = CliRunner().invoke(app, ["attribute", "--help"], terminal_width=200).output
    assert "--fused-draws" in text and "<ucdp|fused|fused-mean>" in text
