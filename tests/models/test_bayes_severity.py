"""Frequency-severity casualties model (models.bayes.severity)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pakcast.models.bayes._summaries import nb2_draws
from pakcast.models.bayes.build import build_severity
from pakcast.models.bayes.severity import SeverityModel


def test_sum_of_nb2_attacks_is_nb2_with_scaled_dispersion():
    """The aggregation identity the model rests on: a sum of n iid NB2(m, a) is NB2(n m, a / n)."""
    rng = np.random.default_rng(0)
    n, m, a = 4, 3.0, 1.5
    sums = nb2_draws(np.full((200_000, n), m), a, rng).sum(axis=1)
    shape = n / a
    ref = stats.nbinom(shape, shape / (shape + n * m))
    assert sums.mean() == pytest.approx(ref.mean(), rel=0.02)
    assert sums.var() == pytest.approx(ref.var(), rel=0.04)
    assert np.mean(sums == 0) == pytest.approx(ref.pmf(0), abs=0.005)


def test_severity_logp_matches_scipy():
    killed = np.array([0, 5, 40, 3])
    attacks = np.array([1, 2, 6, 1])
    m = build_severity({"killed": killed, "attacks": attacks, "unit_idx": np.zeros(4, dtype=int),
                        "intercept_center": 1.0}, {"unit": ["a"]}, pooling="complete")
    point = {"log_mean_deaths_mu": np.log(4.0), "log_alpha": np.log(0.8)}
    lp = m.compile_fn(m.logp(vars=[m["killed"]], sum=False)[0])(point)
    shape = attacks / 0.8
    ref = stats.nbinom.logpmf(killed, shape, shape / (shape + attacks * 4.0))
    np.testing.assert_allclose(lp, ref, rtol=1e-8)


def _panel(rng):
    units = ["A", "B", "C"]
    rows = []
    for i, u in enumerate(units):
        n = rng.poisson([5.0, 1.0, 0.3][i], size=60)
        k = np.array([nb2_draws(np.full(x, [6.0, 2.0, 3.0][i]), 1.0, rng).sum() if x else 0 for x in n])
        rows.append(pd.DataFrame({"unique_id": u, "attacks": n, "killed": k}))
    return pd.concat(rows, ignore_index=True)


def test_bad_rows_are_rejected():
    p = _panel(np.random.default_rng(1))
    zero = p.index[p["attacks"] == 0][0]
    bad = p.copy()
    bad.loc[zero, "killed"] = 3
    with pytest.raises(ValueError, match=f"row {zero}"):
        SeverityModel(bad)
    with pytest.raises(ValueError, match="missing column"):
        SeverityModel(p.drop(columns="killed"))


def test_small_fit_and_total_killed():
    p = _panel(np.random.default_rng(2))
    model = SeverityModel(p)
    assert model.n_cells_without_attacks == int((p["attacks"] == 0).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(sampler="pymc", draws=150, tune=150, chains=2, random_seed=3)
        md = res.mean_deaths()
        attacks = np.zeros((3, 2, 500), dtype=int)
        attacks[0, 0] = 3
        tk = res.total_killed(attacks, ["A", "B", "C"], random_seed=1)
    assert list(md["unit"]) == ["A", "B", "C"]
    assert md.loc[0, "hdi95_low"] < 6.0 < md.loc[0, "hdi95_high"]
    assert tk.shape == (3, 2, 500) and tk.dtype == np.int64
    assert np.all(tk[attacks == 0] == 0)
    assert tk[0, 0].mean() == pytest.approx(3 * md.loc[0, "mean"], rel=0.3)
    with pytest.raises(ValueError, match="no severity estimate"):
        res.total_killed(attacks, ["A", "B", "Z"])
