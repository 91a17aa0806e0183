"""Break tests and searches: strucchange reproductions on the Nile data, plug-in costs, simulations."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from pakcast.models.breaks import (BaiPerron, CostL2, CostNegBin, CostPoisson, SegmentCost, bai_confint,
                           binary_segmentation, chow_test, count_lr_test, dynamic_programming, ols_cusum,
                           ols_mosum, pelt, sup_f_test, sup_lr_test, supf_critical_value, supf_pvalue)
from results import results_breaks as R  # tests/models/results (rootdir-less import)


@pytest.fixture(scope="module")
def nile():
    d = sm.datasets.nile.load_pandas().data
    return d["volume"].to_numpy(), d["year"].astype(int).tolist()


class TestNileStrucchange:
    def test_supf(self, nile):
        y, _ = nile
        res = sup_f_test(y)
        assert round(res.statistic, 2) == R.NILE_SUPF
        assert res.break_index == R.NILE_SUPF_BREAK - 1
        assert res.pvalue < 1e-12  # R prints 2.22e-16 = machine epsilon (R.NILE_SUPF_PVALUE_R)
        assert res.trim == (15, 85)

    def test_breakpoints_all_m(self, nile):
        y, years = nile
        res = BaiPerron(y, index=years).fit()
        for m, bps in R.NILE_BREAKPOINTS.items():
            assert res.breaks_for(m) == [b - 1 for b in bps]
        np.testing.assert_allclose(res.table["cost"].to_numpy(), R.NILE_RSS, atol=0.5)
        np.testing.assert_allclose(res.table["bic"].round().to_numpy(), R.NILE_BIC)
        assert res.table.loc[1, "bic"] == pytest.approx(R.NILE_BIC_1, abs=5e-4)
        assert res.loglike(1) == pytest.approx(R.NILE_LOGLIK_1, abs=5e-5)
        assert res.df(1) == 4
        assert res.n_breaks == 1

    def test_confint(self, nile):
        y, years = nile
        res = BaiPerron(y, index=years).fit()
        ci = res.conf_int()
        lo, bp, hi = R.NILE_CONFINT
        assert (ci["ci_low"].iloc[0], ci["index"].iloc[0], ci["ci_high"].iloc[0]) == (lo - 1, bp - 1, hi - 1)
        d = res.to_dict()["breaks"][0]
        assert (d["ci_low"], d["date"], d["ci_high"]) == R.NILE_CONFINT_YEARS
        # the raw function in strucchange's 1-based convention
        np.testing.assert_array_equal(bai_confint(y, None, [28])[0], R.NILE_CONFINT)

    def test_ols_cusum(self, nile):
        y, _ = nile
        res = ols_cusum(y)
        assert round(res.statistic, 4) == R.NILE_CUSUM_S0
        assert res.pvalue == pytest.approx(R.NILE_CUSUM_P, rel=1e-3)
        assert res.boundary == pytest.approx(1.358, abs=1e-3)

    def test_chow_at_1898_equals_pointwise_F(self, nile):
        y, _ = nile
        res = chow_test(y, 27)
        assert res.statistic == pytest.approx(sup_f_test(y).statistic)  # k = 1: Wald F = Chow F
        assert res.df == (1, 98)


class TestSupFDistribution:
    @pytest.mark.parametrize("k", [1, 2])
    def test_critical_values_near_andrews(self, k):
        # simulated on a 2000-point grid; Andrews' table used 3600 points
        for a, c in R.ANDREWS_SUPF_CRIT_015[k].items():
            assert supf_critical_value(a, k=k, n_grid=2000) == pytest.approx(c, rel=0.04)

    def test_pvalue_monotone_and_tail(self):
        xs = [2.0, 6.0, 9.0, 12.0, 20.0, 40.0]
        ps = [supf_pvalue(x) for x in xs]
        assert all(a >= b for a, b in zip(ps, ps[1:]))
        assert 0.0 < ps[-1] < 1e-6

    def test_seeded(self):
        assert supf_pvalue(7.5, random_seed=1) == supf_pvalue(7.5, random_seed=1)


class TestSearchAndCosts:
    def _signal(self, seed=3):
        rng = np.random.default_rng(seed)
        return np.r_[rng.normal(0, 0.5, 60), rng.normal(4, 0.5, 50), rng.normal(-2, 0.5, 70)]

    def test_searches_agree_on_clear_breaks(self):
        y = self._signal()
        c = CostL2().fit(y)
        dp = dynamic_programming(c.cost_matrix(10), 2, 10)[2][0]
        assert dp == [60, 110]
        assert pelt(c, pen=3 * np.log(len(y)) * np.var(y[:60]) * 2, min_size=10) == dp
        assert binary_segmentation(c, n_breaks=2, min_size=10) == dp

    def test_dp_matches_brute_force(self):
        rng = np.random.default_rng(0)
        y = rng.normal(size=30)
        c = CostL2().fit(y)
        best = min(((c.error(0, a) + c.error(a, b) + c.error(b, 30)), [a, b])
                   for a in range(3, 28) for b in range(a + 3, 28) if 30 - b >= 3)
        got = dynamic_programming(c.cost_matrix(3), 2, 3)[2]
        assert got[0] == best[1] and got[1] == pytest.approx(best[0])

    def test_regression_cost_matches_lstsq(self):
        rng = np.random.default_rng(1)
        X = np.c_[np.ones(50), rng.normal(size=50)]
        y = X @ [1.0, 2.0] + rng.normal(size=50)
        c = CostL2().fit(y, X)
        b = np.linalg.lstsq(X[5:40], y[5:40], rcond=None)[0]
        assert c.error(5, 40) == pytest.approx(float(np.sum((y[5:40] - X[5:40] @ b) ** 2)))

    def test_count_costs_are_minus_loglik(self):
        from scipy import stats

        y = np.array([0, 2, 1, 4, 3, 0, 5, 2.0])
        assert CostPoisson().fit(y).error(1, 6) == pytest.approx(-stats.poisson.logpmf(y[1:6], y[1:6].mean()).sum())
        c = CostNegBin(alpha=0.5).fit(y)
        mu, r = y[2:8].mean(), 2.0
        assert c.error(2, 8) == pytest.approx(-stats.nbinom.logpmf(y[2:8], r, r / (r + mu)).sum())

    def test_custom_cost_plugs_in(self):
        class CostMedian(SegmentCost):
            model, is_likelihood = "l1", False

            def fit(self, y, X=None):
                self.y_ = np.asarray(y, float)
                self.n_ = len(self.y_)
                return self

            def _segment_costs(self, a, b):
                return np.array([np.abs(self.y_[i:j] - np.median(self.y_[i:j])).sum() for i, j in zip(a, b)])

        y = self._signal()
        res = BaiPerron(y, cost=CostMedian(), min_size=10, max_breaks=3).fit()
        assert res.breaks_for(2) == [59, 109]

    def test_bad_counts_rejected(self):
        with pytest.raises(ValueError, match="position 2"):
            CostPoisson().fit([1, 2, 2.5])


class TestRecovery:
    def test_known_break_recovered_with_interval(self):
        rng = np.random.default_rng(11)
        y = rng.poisson(np.r_[np.full(80, 4.0), np.full(70, 9.0)])
        res = BaiPerron(y, cost="negbin").fit()
        assert res.n_breaks == 1
        ci = res.conf_int().iloc[0]
        assert ci["ci_low"] <= 79 <= ci["ci_high"]
        lr = sup_lr_test(y)
        assert lr.pvalue < 1e-6 and abs(lr.break_index - 79) <= 3

    def test_no_break_selected_under_null(self):
        rng = np.random.default_rng(5)
        res = BaiPerron(rng.normal(size=120)).fit()
        assert res.n_breaks == 0
        assert res.sequential.loc[0, "p_value"] > 0.05

    def test_count_lr_level_shift(self):
        rng = np.random.default_rng(2)
        y = rng.poisson(np.r_[np.full(50, 3.0), np.full(50, 6.0)])
        assert count_lr_test(y, 49).pvalue < 1e-4
        assert count_lr_test(y, 49, family="poisson").pvalue < 1e-4
        y0 = rng.poisson(np.full(100, 3.0))
        assert count_lr_test(y0, 49).pvalue > 0.01

    def test_mosum_detects_shift(self, nile):
        y, _ = nile
        assert ols_mosum(y).pvalue < 0.01


@pytest.mark.parametrize("n,k", [(60, 1), (120, 1), (240, 1), (120, 2)])
def test_supf_size_under_null(n, k):
    """Rejection rate at 5% under the null is close to 5% (Gaussian errors, 2000 replications)."""
    rng = np.random.default_rng(2024 + n + k)
    X = None if k == 1 else np.c_[np.ones(n), np.linspace(0, 1, n)]
    rej = [sup_f_test(rng.normal(size=n), X=X).pvalue < 0.05 for _ in range(2000)]
    assert 0.035 <= np.mean(rej) <= 0.075  # binomial sd 0.005; asymptotic p-values run slightly liberal


def test_break_date_interval_coverage():
    """Bai intervals cover the true break in roughly 95% of simulated series."""
    rng = np.random.default_rng(7)
    cover = []
    for _ in range(600):
        y = np.r_[rng.normal(0, 1, 60), rng.normal(1.0, 1, 60)]
        res = BaiPerron(y, max_breaks=1).fit()
        ci = res.conf_int(m=1).iloc[0]
        cover.append(ci["ci_low"] <= 59 <= ci["ci_high"])
    assert 0.90 <= np.mean(cover) <= 0.99
