"""The forecaster zoo: protocol, seeding, coherence, validation, NB GLM recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pakcast.forecast.backtest import fit_predict_task
from pakcast.forecast.forecasters import (
    BASELINE_NAMES,
    NATIONAL,
    EnsembleForecaster,
    FrequencySeverityForecaster,
    NegBinGLMForecaster,
    add_national,
    allocate_samples,
    available_models,
    derive_seed,
    make_forecaster,
    mix_samples,
    CountPanel,
    INGARCHForecaster,
    panel_to_wide,
)
from _synthetic import synthetic_panel  # tests/forecast/_synthetic.py (the test directory is on sys.path)


@pytest.mark.parametrize("name", BASELINE_NAMES + ("nb_glm", "nb_local", "ingarch", "hawkes"))
def test_protocol_dims_coords_and_non_negative_integers(name):
    p = synthetic_panel()
    da = make_forecaster(name).fit(p).predict(h=6, n_samples=50, random_seed=1)
    assert da.dims == ("unique_id", "horizon", "sample")
    assert da.shape == (3, 6, 50)
    assert list(da["unique_id"].values) == ["A", "B", "C"]
    assert pd.Timestamp(da["ds"].values[0]) == pd.Timestamp("2015-01-01")
    assert np.issubdtype(da.dtype, np.integer) and (da.values >= 0).all()


@pytest.mark.parametrize("name", ("conflictology", "nb_glm", "nb_local"))
def test_samples_of_a_series_do_not_depend_on_the_other_series(name):
    p = synthetic_panel()
    full = make_forecaster(name).fit(p).predict(4, 100, random_seed=3)
    only_b = make_forecaster(name).fit(p[p.unique_id == "B"]).predict(4, 100, random_seed=3)
    np.testing.assert_array_equal(full.sel(unique_id="B").values, only_b.sel(unique_id="B").values)
    again = make_forecaster(name).fit(p).predict(4, 100, random_seed=3)
    np.testing.assert_array_equal(full.values, again.values)
    other = make_forecaster(name).fit(p).predict(4, 100, random_seed=4)
    assert not np.array_equal(full.values, other.values)


def test_derive_seed_is_keyed_by_name_not_order():
    a = derive_seed(5, "nb_glm", "Sindh", "2012-01").generate_state(2)
    b = derive_seed(5, "nb_glm", "Sindh", "2012-01").generate_state(2)
    c = derive_seed(5, "nb_glm", "Punjab", "2012-01").generate_state(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_coherence_national_is_the_sum_of_provinces_per_sample():
    p = synthetic_panel()
    da = add_national(make_forecaster("nb_glm").fit(p).predict(5, 80, random_seed=2))
    np.testing.assert_array_equal(da.sel(unique_id=NATIONAL).values,
                                  da.sel(unique_id=["A", "B", "C"]).sum("unique_id").values)
    with pytest.raises(ValueError, match="already contain"):
        add_national(da)


def test_nb_glm_forecast_mean_recovers_the_simulated_level():
    p = synthetic_panel(n_months=240, seed=4, means=(10.0, 10.0, 10.0))
    fc = NegBinGLMForecaster(window=120).fit(p)
    assert fc.fallbacks_ == {}
    da = fc.predict(12, 2000, random_seed=0)
    # truth: mean 10 * exp(0.3 sin(2 pi m / 12)) averaged over the year ~ 10 * I0(0.3) = 10.23
    assert float(da.mean()) == pytest.approx(10.23, rel=0.1)


def test_nb_glm_falls_back_on_sparse_series_and_says_why():
    p = synthetic_panel()
    fc = NegBinGLMForecaster().fit(p)
    assert "C" in fc.fallbacks_ and "non-zero months" in fc.fallbacks_["C"]


def test_ensemble_mixture_allocation_and_coherence():
    assert allocate_samples([0.5, 0.25, 0.25], 10).tolist() == [5, 3, 2]
    assert allocate_samples([1, 0], 7).tolist() == [7, 0]
    ms = np.stack([np.zeros((2, 3, 10)), np.ones((2, 3, 10))])
    mixed = mix_samples(ms, [0.3, 0.7])
    assert mixed.shape == (2, 3, 10) and mixed.sum() == 2 * 3 * 7
    p = synthetic_panel()
    ens = EnsembleForecaster([make_forecaster("historical_rate"), make_forecaster("conflictology")]).fit(p)
    da = ens.predict(3, 100, random_seed=1)
    assert da.shape == (3, 3, 100)
    with pytest.raises(ValueError, match="non-negative"):
        allocate_samples([-1, 2], 5)


@pytest.mark.parametrize("mutate, msg", [
    (lambda p: p.assign(y=p.y.where(p.index != 5, -1)), "not a non-negative integer"),
    (lambda p: p.drop(index=7), "no row"),
    (lambda p: pd.concat([p, p.iloc[[3]]]), "duplicate"),
    (lambda p: p.drop(columns="y"), "lacks column"),
    (lambda p: p.assign(ds=p.ds + pd.Timedelta(days=3)), "not a month start"),
])
def test_panel_validation_names_row_and_column(mutate, msg):
    with pytest.raises(ValueError, match=msg):
        panel_to_wide(mutate(synthetic_panel()))


def test_no_look_ahead_future_data_cannot_change_a_forecast():
    p = synthetic_panel()
    origin = pd.Timestamp("2010-01-01")
    q = p.copy()
    future = q["ds"] >= origin
    q.loc[future, "attacks"] = q.loc[future, "attacks"] * 7 + 3
    q.loc[future, "killed"] = 0
    for model in BASELINE_NAMES + ("nb_glm",):
        for measure in ("attacks", "killed"):
            a = fit_predict_task(p, model, measure, origin, 12, 64, 11)
            b = fit_predict_task(q, model, measure, origin, 12, 64, 11)
            np.testing.assert_array_equal(a["samples"], b["samples"])


def test_unknown_model_and_availability_report():
    with pytest.raises(ValueError, match="unknown model"):
        make_forecaster("prophet")
    av = available_models()
    assert all(av[b] is None for b in BASELINE_NAMES) and av["nb_glm"] is None


def test_frequency_severity_mean_is_attacks_times_attack_weighted_severity():
    p = synthetic_panel(n_months=120, seed=6, means=(12.0, 4.0, 2.0)).drop(columns="y")
    fc = FrequencySeverityForecaster(make_forecaster("historical_rate"), severity_window=36).fit(p, "killed")
    da = fc.predict(12, 20000, random_seed=1)
    att = make_forecaster("historical_rate").fit(p, "attacks").predict(12, 20000, random_seed=1)
    p = p.rename(columns={"killed": "y"})
    for i, uid in enumerate(("A", "B", "C")):
        w = p[p.unique_id == uid].tail(36)
        # attack-weighted mean deaths per attack over months with attacks (the synthetic killed
        # series is independent of attacks, so some months have deaths without attacks)
        sev = w.loc[w["attacks"] > 0, "y"].sum() / w["attacks"].sum()
        # Monte Carlo error: the severity mixture is heavy-tailed (deaths per attack up to ~35 here)
        assert float(da.sel(unique_id=uid).mean()) == pytest.approx(float(att.sel(unique_id=uid).mean()) * sev, rel=0.06)
    # frequency-severity is what make_forecaster gives for event models on casualties
    assert isinstance(make_forecaster("hawkes", "killed"), FrequencySeverityForecaster)
    assert not isinstance(make_forecaster("nb_glm", "killed"), FrequencySeverityForecaster)


def test_protocol_names_the_measure_and_takes_the_panel_once_converted():
    p = synthetic_panel().drop(columns="y")
    a = make_forecaster("nb_glm").fit(p, "killed").predict(3, 40, random_seed=2)
    cp = CountPanel.from_long(p, ["attacks", "killed"])
    b = make_forecaster("nb_glm").fit(cp, "killed").predict(3, 40, random_seed=2)
    np.testing.assert_array_equal(a.values, b.values)
    cut = cp.before(pd.Timestamp("2010-01-01"))
    assert cut.months[-1] == pd.Timestamp("2009-12-01") and cut.get("attacks").shape == (3, 60)
    with pytest.raises(TypeError, match="measure must name a column"):
        make_forecaster("zero").fit(p, p)
    with pytest.raises(ValueError, match="lacks column"):
        make_forecaster("zero").fit(cp, "injured")


def test_quarter_sums_of_whole_paths_carry_the_parameter_uncertainty():
    """Paths, not months: with the rate drawn once per path, the variance of a 3-month sum exceeds
    three times the monthly variance (months of a path move together); INGARCH paths feed back
    their own counts, so neighbouring months are correlated."""
    p = synthetic_panel(n_months=48, means=(8.0, 2.0, 0.5)).drop(columns="y")
    s = make_forecaster("poisson_12").fit(p, "attacks").predict(3, 20000, random_seed=1).sel(unique_id="A").values
    assert s.sum(axis=0).var() > 1.1 * s.var(axis=1).sum()
    fc = INGARCHForecaster(min_nonzero=5).fit(synthetic_panel(n_months=120, means=(8.0, 6.0, 4.0)), "attacks")
    assert fc.fallbacks_ == {}
    x = fc.predict(3, 20000, random_seed=1).sel(unique_id="A").values
    assert np.corrcoef(x[0], x[1])[0, 1] > 0.05


def test_protocol_takes_the_panel_as_load_panel_returns_it():
    """No renaming to ``y``: the shipped panel goes in as ``load_panel`` returns it, the measure named."""
    from pakcast.forecast.panel import load_panel

    panel = load_panel("month")
    panel = panel[panel["ds"] >= "2015-01-01"]
    for name in ("historical_rate", "nb_glm"):
        da = make_forecaster(name).fit(panel, "attacks").predict(4, 50, random_seed=3)
        assert da.dims == ("unique_id", "horizon", "sample") and da.shape[1:] == (4, 50)
        assert set(da["unique_id"].values) == set(panel["unique_id"]) and int(da.min()) >= 0
