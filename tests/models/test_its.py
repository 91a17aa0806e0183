"""Interrupted time series: the Lopez Bernal et al. (2017) Sicily reproduction, recovery, input checks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pakcast.models.its import InterruptedTimeSeries
from results import results_its as R  # tests/models/results


@pytest.fixture(scope="module")
def sicily(reference_dir):
    d = pd.read_csv(reference_dir / "sicily.csv")
    d["date"] = pd.to_datetime(dict(year=d.year, month=d.month, day=1))
    return d


def _rr(res):
    e = res.effects().iloc[0]
    return e["level_rate_ratio"], e["level_ci_low"], e["level_ci_high"]


class TestSicily:
    def test_seasonal_quasipoisson_published(self, sicily):
        res = InterruptedTimeSeries(sicily.aces, sicily.date, ["2005-01"], effects="level", family="quasipoisson",
                                    seasonality=2, offset=sicily.stdpop, cov_type="nonrobust").fit()
        np.testing.assert_allclose(np.round(_rr(res), 3), R.SICILY_SEASONAL_QP_RR, atol=1e-9)

    def test_poisson_and_quasipoisson(self, sicily):
        kw = dict(effects="level", offset=sicily.stdpop, cov_type="nonrobust")
        pois = InterruptedTimeSeries(sicily.aces, sicily.date, ["2005-01"], family="poisson", **kw).fit()
        qp = InterruptedTimeSeries(sicily.aces, sicily.date, ["2005-01"], family="quasipoisson", **kw).fit()
        np.testing.assert_allclose(_rr(pois), R.SICILY_POISSON_RR, atol=1e-4)
        np.testing.assert_allclose(_rr(qp), R.SICILY_QUASI_RR, atol=1e-4)
        assert qp.scale == pytest.approx(R.SICILY_QUASI_DISPERSION, abs=1e-3)
        # quasi-Poisson widens the log-scale interval by sqrt(dispersion), same point estimate
        assert qp.bse["level_1"] / pois.bse["level_1"] == pytest.approx(np.sqrt(qp.scale))

    def test_numeric_time_same_as_dates(self, sicily):
        a = InterruptedTimeSeries(sicily.aces, sicily.time, [37], effects="level", family="quasipoisson",
                                  seasonality=2, period=12, offset=sicily.stdpop, cov_type="nonrobust").fit()
        b = InterruptedTimeSeries(sicily.aces, sicily.date, ["2005-01-01"], effects="level", family="quasipoisson",
                                  seasonality=2, offset=sicily.stdpop, cov_type="nonrobust").fit()
        np.testing.assert_allclose(_rr(a), _rr(b), rtol=1e-8)

    def test_outputs_and_checks(self, sicily):
        res = InterruptedTimeSeries(sicily.aces, sicily.date, ["2005-01"], family="negbin", seasonality=2,
                                    offset=sicily.stdpop).fit(random_seed=1)
        d = res.to_dict()
        iv = d["interventions"][0]
        assert set(iv["level_rate_ratio"]) >= {"estimate", "ci_low", "ci_high"}
        assert iv["slope_rate_ratio"]["per"] == "month"
        ex = iv["excess"]
        assert ex["ci_low"] <= ex["estimate"] <= ex["ci_high"] < 0  # the ban averted events
        assert iv["n_pre"] == 36 and iv["n_post"] == 23
        c = d["checks"]
        assert {"pearson_dispersion", "acf_lag1", "ljung_box_p_value"} <= set(c)
        cf = res.counterfactual()
        assert (cf["cf_ci_low"] <= cf["counterfactual"] + 1e-9).all()
        assert (cf["counterfactual"] <= cf["cf_ci_high"] + 1e-9).all()
        assert "level RR" in res.summary().as_text()
        # same seed, same numbers
        again = InterruptedTimeSeries(sicily.aces, sicily.date, ["2005-01"], family="negbin", seasonality=2,
                                      offset=sicily.stdpop).fit(random_seed=1).to_dict()
        assert again["interventions"][0]["excess"] == ex

    def test_plot(self, sicily):
        res = InterruptedTimeSeries(sicily.aces, sicily.date, ["2005-01"], family="poisson",
                                    offset=sicily.stdpop).fit()
        ax = res.plot()
        assert len(ax.lines) >= 3


class TestRecovery:
    def test_two_interventions_negbin(self):
        rng = np.random.default_rng(1)  # coverage over 30 seeds: 93% (level 1), 97% (level 2)
        t = pd.date_range("2005-01-01", periods=180, freq="MS")
        tau = np.arange(180)
        eta = np.log(20) + 0.004 * tau + np.log(0.5) * (tau >= 60) + 0.01 * (tau - 60) * (tau >= 60) \
            + np.log(1.8) * (tau >= 140)
        mu = np.exp(eta)
        y = rng.poisson(rng.gamma(10, mu / 10))
        res = InterruptedTimeSeries(y, t, ["2010-01", "2016-09"], effects=["level+slope", "level"],
                                    family="negbin").fit()
        e = res.effects()
        assert e.loc[0, "level_ci_low"] < 0.5 < e.loc[0, "level_ci_high"]
        assert e.loc[1, "level_ci_low"] < 1.8 < e.loc[1, "level_ci_high"]
        assert np.isnan(e.loc[1, "slope_rate_ratio"])
        assert list(e["n_post"]) == [80, 40]

    def test_hac_widens_under_autocorrelation(self):
        rng = np.random.default_rng(3)
        n = 150
        z = np.zeros(n)
        for i in range(1, n):
            z[i] = 0.8 * z[i - 1] + rng.normal(0, 0.25)
        y = rng.poisson(np.exp(2 + z))
        a = InterruptedTimeSeries(y, None, [75], effects="level", family="quasipoisson", cov_type="nonrobust").fit()
        b = InterruptedTimeSeries(y, None, [75], effects="level", family="quasipoisson", cov_type="HAC").fit()
        assert b.bse["level_1"] > a.bse["level_1"]
        assert a.checks()["acf_lag1"] > 0.3


class TestValidation:
    def test_rejects_bad_counts(self):
        with pytest.raises(ValueError, match="position 1"):
            InterruptedTimeSeries([1, -2, 3, 4], None, [2])

    def test_rejects_intervention_outside(self):
        with pytest.raises(ValueError, match="after the last"):
            InterruptedTimeSeries([1, 2, 3, 4], None, [10])
        with pytest.raises(ValueError, match="no pre-period"):
            InterruptedTimeSeries([1, 2, 3, 4], None, [0])

    def test_seasonality_needs_period(self):
        with pytest.raises(ValueError, match="period"):
            InterruptedTimeSeries(np.arange(30), np.arange(30) * 1.0, [15], seasonality=1)

    def test_bad_family(self):
        with pytest.raises(ValueError, match="family"):
            InterruptedTimeSeries([1, 2, 3, 4], None, [2], family="gaussian")


@pytest.mark.slow
def test_hac_interval_coverage_under_autocorrelation():
    """Coverage of the 95% level-RR interval with AR(1) latent noise (rho 0.7, n 120).

    Measured (300-400 replications): HAC 0.85, model-based quasi-Poisson 0.74. HAC is much better
    but still below nominal with strong autocorrelation in 120 months (documented limitation).
    """
    rng = np.random.default_rng(99)
    n, true = 120, np.log(0.6)
    hits = {"HAC": [], "nonrobust": []}
    for _ in range(400):
        z = np.zeros(n)
        for i in range(1, n):
            z[i] = 0.7 * z[i - 1] + rng.normal(0, 0.2)
        tau = np.arange(n)
        y = rng.poisson(np.exp(2.5 + 0.004 * tau + true * (tau >= 60) + z))
        for cov in hits:
            res = InterruptedTimeSeries(y, None, [60], effects="level", family="quasipoisson", cov_type=cov).fit()
            lo, hi = res.conf_int().loc["level_1"]
            hits[cov].append(lo <= true <= hi)
    cov_hac, cov_nr = np.mean(hits["HAC"]), np.mean(hits["nonrobust"])
    assert cov_hac >= 0.80
    assert cov_hac > cov_nr + 0.05
