"""``pakcast bayes its`` and ``pakcast bayes changepoint``: output contract, exit gate, input errors."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from pakcast.forecast.cli import app

runner = CliRunner()


def _text(result) -> str:
    """CLI output with rich's box drawing and line wrapping removed."""
    return " ".join(result.output.replace("│", " ").split())


def test_changepoint_on_coal_csv_numbers_stay_numbers(reference_dir, tmp_path):
    out = tmp_path / "cp.json"
    r = runner.invoke(app, ["bayes", "changepoint", "--csv", str(reference_dir / "coal_pymc_docs.csv"),
                            "--column", "disasters", "--date-col", "year", "--family", "poisson",
                            "--sampler", "pymc", "--draws", "300", "--tune", "300", "--chains", "2",
                            "--random-seed", "1", "--json", str(out), "--allow-unconverged"])
    assert r.exit_code == 0, r.output
    d = json.loads(out.read_text())
    sp = d["switchpoint"]
    assert {"mode", "mean", "hdi_low", "hdi_high"} <= set(sp)
    assert isinstance(sp["mode"], int) and 1885 <= sp["mode"] <= 1895
    for k in ("rates_before", "rates_after"):
        assert {"mean", "hdi_low", "hdi_high"} <= set(d[k])
    assert d["rates_before"]["mean"] > d["rates_after"]["mean"]
    for k in ("max_rhat", "min_ess_bulk", "divergences"):
        assert k in d


def test_changepoint_unconverged_exits_nonzero_and_dates_are_iso(tmp_path):
    csv = tmp_path / "s.csv"
    pd.DataFrame({"month": pd.date_range("2018-01-01", periods=24, freq="MS").strftime("%Y-%m-%d"),
                  "n": [5, 6, 4, 7, 5, 6, 5, 4, 6, 5, 7, 6, 1, 0, 2, 1, 0, 1, 2, 1, 0, 1, 1, 0]}).to_csv(csv, index=False)
    out = tmp_path / "cp.json"
    r = runner.invoke(app, ["bayes", "changepoint", "--csv", str(csv), "--column", "n", "--date-col", "month",
                            "--sampler", "pymc", "--draws", "30", "--tune", "30", "--chains", "2", "--json", str(out)])
    assert r.exit_code == 3, r.output                  # 60 draws cannot pass ESS > 400
    d = json.loads(out.read_text())                    # ... but the result is written, marked
    assert d["converged"] is False and "warning" in d
    assert isinstance(d["switchpoint"]["mode"], str) and d["switchpoint"]["mode"].startswith("2018-")


def test_changepoint_bad_csv_names_row_and_column(tmp_path):
    csv = tmp_path / "bad.csv"
    pd.DataFrame({"year": [1, 2, 3, 4], "n": [1, 2, -3, 4]}).to_csv(csv, index=False)
    r = runner.invoke(app, ["bayes", "changepoint", "--csv", str(csv), "--column", "n", "--json",
                            str(tmp_path / "x.json")])
    assert r.exit_code != 0
    assert "row 4" in _text(r) and "'n'" in _text(r)


def test_its_writes_contract_outputs(tmp_path):
    out = tmp_path / "run"
    r = runner.invoke(app, ["bayes", "its", "--out", str(out), "--start", "2019-01-01", "--breaks", "2021-08-15",
                            "--sampler", "pymc", "--draws", "40", "--tune", "40", "--chains", "2",
                            "--random-seed", "3", "--horizon", "3", "--allow-unconverged"])
    assert r.exit_code == 0, r.output
    for f in ("idata.nc", "summary.csv", "summary.json", "forecast.csv", "manifest.json"):
        assert (out / f).exists(), f
    s = json.loads((out / "summary.json").read_text())
    assert s["converged"] is False and "warning" in s
    for k in ("max_rhat", "min_ess_bulk", "divergences"):
        assert k in s
    kp = s["effects"]["Khyber Pakhtunkhwa"]["2021-08-15"]["level_rate_ratio"]
    assert {"mean", "hdi_low", "hdi_high", "p_decrease"} <= set(kp)
    assert "Pakistan" not in s["units"]
    table = pd.read_csv(out / "summary.csv")
    assert set(table["unit"]) >= {"national", "Khyber Pakhtunkhwa", "Balochistan"}
    fc = pd.read_csv(out / "forecast.csv")
    assert list(fc["period"].unique()) == ["2022-01-01", "2022-02-01", "2022-03-01"]
    assert (fc["q05"] <= fc["q95"]).all()
    import warnings

    import arviz as az
    import matplotlib

    # the saved file is a complete InferenceData: az.loo and az.plot_ppc work on it as loaded
    idata = az.from_netcdf(out / "idata.nc")
    assert {"posterior", "observed_data", "posterior_predictive", "log_likelihood"} <= set(idata.groups())
    n_obs = idata.observed_data["y"].size
    assert idata.log_likelihood["y"].sizes["obs"] == idata.posterior_predictive["y"].sizes["obs"] == n_obs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 80 draws: Pareto-k warnings are expected
        loo = az.loo(idata, pointwise=True)
    assert loo.n_data_points == n_obs and loo.n_samples == 2 * 40 and pd.notna(loo.elpd_loo)
    matplotlib.use("Agg")
    assert az.plot_ppc(idata, num_pp_samples=10) is not None
    import matplotlib.pyplot as plt

    plt.close("all")


def test_its_rejects_bad_options(tmp_path):
    r = runner.invoke(app, ["bayes", "its", "--out", str(tmp_path), "--sampler", "stan"])
    assert r.exit_code != 0 and "stan" in _text(r)
    r = runner.invoke(app, ["bayes", "its", "--out", str(tmp_path), "--breaks", "2030-01-01"])
    assert r.exit_code != 0 and "outside the fit window" in _text(r)
