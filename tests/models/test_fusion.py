"""Multi-source measurement model: the Numba density against PyMC, gradients, recovery, coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pakcast.models.fusion import MeasurementModel, replication_coverage, simulate_fusion


@pytest.fixture(scope="module")
def fitted():
    """The model as simulated: constant scales (``scale_drift=False``)."""
    obs, truth = simulate_fusion(n_units=3, n_months=60, horizon=4, break_month=36, random_seed=4)
    model = MeasurementModel(obs, "A", truth["units"], truth["months"], scale_drift=False)
    res = model.fit(random_seed=4, draws=400, tune=500, chains=2)
    return model, res, truth


def test_scale_drift_follows_a_source_that_drifts():
    """Source B counts 8% more each year than the year before (a slowly widening definition): with the
    yearly scale drift its last-year attack scale (true 1.08^7 x 0.6) lies inside its 90% interval;
    with constant scales the same data pull it towards the average year. (B's deaths are not
    checked: after the reference stops, only B sees deaths, so its drift and the latent severity
    cannot be told apart, which the model says by a wide interval.)"""
    obs, truth = simulate_fusion(n_units=3, n_months=96, horizon=0, break_month=None, random_seed=7)
    year = pd.PeriodIndex(obs["first"]).year - truth["months"][0].year
    b = obs["source"] == "B"
    obs.loc[b, "value"] = np.round(obs.loc[b, "value"] * 1.08 ** year[b])
    last = 1.08 ** int(year[b].max())
    res = MeasurementModel(obs, "A", truth["units"], truth["months"]).fit(random_seed=3, draws=300, tune=400,
                                                                          chains=2)
    fixed = MeasurementModel(obs, "A", truth["units"], truth["months"], scale_drift=False).fit(
        random_seed=3, draws=300, tune=400, chains=2)
    for key in (("B", "attacks"),):
        want = truth["scales"][key] * last
        row = res.scales().set_index(["source", "metric"]).loc[key]
        assert row["ci_low"] <= want <= row["ci_high"], (key, want, row.to_dict())
        assert res.design.drift_len[res.design.keys.index(key)] > 0
        assert fixed.scales().set_index(["source", "metric"]).loc[key, "estimate"] < row["estimate"]


def _log_jacobian(model, nat):
    """log |d(level, z, log_sigma_raw, fast_z)/d(sampler coordinates)|: per walk -(T-1) log sigma -
    sum_t log L_tt, per scale log(s / tau) (partially non-centred log sigma), per transient month
    log(c / omega) = -log(1 + h omega^2) / 2 (partially centred)."""
    from pakcast.models.fusion._kernel import _walk_cholesky

    L = model.layout
    p = L.unpack(nat)
    sigma = np.exp(p["log_sigma_mean"][:, None] + np.exp(p["log_log_sigma_sd"])[:, None] * p["log_sigma_raw"])
    sigma = sigma * model._root(model._phi(p))[:, None]
    pri = model._kernel_args()[9]
    buf = [np.zeros(L.T) for _ in range(4)]
    pbuf = [np.zeros(L.T) for _ in range(2)]
    phi = model._phi(p)
    tau = np.exp(p["log_log_sigma_sd"])[:, None]
    P = 1.0 / tau ** 2 + model.scale_information()
    out = float(np.sum(np.log(1.0 / np.sqrt(P) / tau)))
    for m in range(L.M):
        for u in range(L.U):
            s0 = pri[1] if m == 0 else pri[3]
            out -= (L.T - 1) * np.log(sigma[m, u]) + _walk_cholesky(sigma[m, u], s0, model.whiten[m, u], L.T, *buf,
                                                                         phi[m], *pbuf)
    if L.Q:
        om, _, c = model._fast_weights(p)
        out += float(np.sum(np.log(c / om[:, :, None])))
    return out


@pytest.mark.parametrize("whiten,dynamics,steps,transient", [("none", "ar1", False, True), ("auto", "ar1", False, True),
                                                             ("random", "ar1", True, True), ("auto", "rw", False, True),
                                                             ("auto", "ar1", True, True), ("auto", "ar1", True, False)])
def test_density_equals_pymc_model_and_gradient_is_exact(whiten, dynamics, steps, transient):
    """The Numba density in whitened coordinates equals the plain PyMC model plus the Jacobian of
    the change of variables, for any whitening information; the gradient matches finite differences."""
    obs, truth = simulate_fusion(n_units=3, n_months=60, horizon=4, break_month=36, random_seed=2)
    h = whiten
    if whiten == "random":
        probe = MeasurementModel(obs, "A", truth["units"], truth["months"])
        h = np.random.default_rng(3).gamma(0.5, 4.0, size=probe.whiten.shape)
    effects = {"break": truth["months"][36]} if steps else None
    # the common shift (off by default) in the "auto" cases, so the kernel is checked with and without it
    model = MeasurementModel(obs, "A", truth["units"], truth["months"], whiten=h, dynamics=dynamics, effects=effects,
                             common_shift=whiten == "auto", transient=transient)
    assert model.layout.P == (2 if dynamics == "ar1" else 0)
    assert model.layout.Q == (2 if transient else 0)
    if whiten == "auto":
        assert model.whiten.max() > 1.0          # the simulated monthly source is informative
    L = model.layout
    x = model.initial_point(5, jitter=0.4)
    nat = model.from_whitened(x)
    np.testing.assert_allclose(model.to_whitened(nat), x, rtol=1e-10, atol=1e-10)
    v, g = model.logp(x)
    p = L.unpack(nat)
    f = model.build().compile_logp(sum=True)
    ref = f({"level": p["level"], "log_sigma_mean": p["log_sigma_mean"], "log_sigma_sd_log__": p["log_log_sigma_sd"],
             "log_sigma_raw": p["log_sigma_raw"], "z": p["z"], "season_raw": p["season_raw"],
             "log_kappa": p["log_kappa"], "log_alpha": p["log_alpha"],
             **({"log_alpha_unit": p["log_alpha_unit"]} if L.G else {}),
             **({"logit_phi": p["logit_phi"]} if L.P else {}),
             **({"effect": p["effect"]} if L.E else {}),
             **({"kappa_drift": p["kappa_drift"]} if L.R else {}),
             **({"log_fast_mean": p["log_fast_mean"], "log_fast_sd_log__": p["log_log_fast_sd"],
                 "log_fast_raw": p["log_fast_raw"], "fast_z": p["fast"]} if L.Q else {})})
    # rel 1e-9: a sum of ~1,500 terms, each of them equal to ~1e-13 (PyTensor and Numba round differently)
    assert v == pytest.approx(float(ref) + _log_jacobian(model, nat), rel=1e-9, abs=1e-8)
    if whiten == "auto":
        assert L.G > 0                           # the monthly source has a dispersion per unit
        assert L.R > 0                           # the other sources' scales drift over the years
        assert (model.common_shift()[0] >= 0).all()   # the anchors stop a year early: the shift is in use
    rng = np.random.default_rng(0)
    # every non-walk parameter and a sample of walk coordinates; step 1e-4 (the density is a sum
    # of thousands of terms: smaller steps meet its rounding)
    a, b = L.offsets["log_sigma_mean"][0], L.offsets["z"][0]
    f0, f1 = L.offsets["fast"]
    picks = np.r_[np.arange(a, b), np.arange(L.offsets["season_raw"][0], f0), rng.choice(L.ndim, 30, replace=False),
                  rng.choice(np.arange(f0, f1), min(20, f1 - f0), replace=False)]
    eps = 1e-4
    for j in picks:
        e = np.zeros_like(x)
        e[j] = eps
        fd = (model.logp(x + e)[0] - model.logp(x - e)[0]) / (2 * eps)
        assert g[j] == pytest.approx(fd, rel=1e-4, abs=1e-4), j


def test_common_shift_changes_coordinates_not_the_model():
    """The common scale shift is a change of the sampler's coordinates with Jacobian 1: at the same
    model point the density is the same with and without it, and the round trip is exact."""
    obs, truth = simulate_fusion(n_units=3, n_months=60, horizon=4, break_month=36, random_seed=2)
    on = MeasurementModel(obs, "A", truth["units"], truth["months"], common_shift=True)
    off = MeasurementModel(obs, "A", truth["units"], truth["months"])  # off by default
    assert (on.common_shift()[0] >= 0).all() and (off.common_shift()[0] < 0).all()
    nat = on.from_whitened(on.initial_point(2, jitter=0.5))
    x_on, x_off = on.to_whitened(nat), off.to_whitened(nat)
    assert not np.allclose(x_on, x_off)
    np.testing.assert_allclose(on.from_whitened(x_on), nat, rtol=1e-10, atol=1e-10)
    assert on.logp(x_on)[0] == pytest.approx(off.logp(x_off)[0], rel=1e-11)


def test_c_callback_is_the_kernel():
    """What nutpie calls (the C callback reading the kernel's arguments from the address table) is
    the kernel itself, bit for bit, also where the density is not finite (return code 4)."""
    import ctypes

    from pakcast.models.fusion._callbacks import logp_callback, pack_kernel_args

    obs, truth = simulate_fusion(n_units=3, n_months=48, horizon=2, break_month=30, random_seed=5)
    model = MeasurementModel(obs, "A", truth["units"], truth["months"], effects={"break": truth["months"][30]},
                             transient=True)
    table, keep = pack_kernel_args(model._kernel_args())
    ptr = ctypes.POINTER(ctypes.c_double)
    call = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ptr, ptr, ptr, ctypes.c_void_p)(logp_callback().address)
    for seed in (1, 2):
        x = model.initial_point(seed, jitter=0.5)
        g, lp = np.empty_like(x), np.empty(1)
        rc = call(x.size, x.ctypes.data_as(ptr), g.ctypes.data_as(ptr), lp.ctypes.data_as(ptr), table.ctypes.data)
        want, gw = model.logp(x)
        assert rc == 0 and lp[0] == want and np.array_equal(g, gw)
    x[model.layout.offsets["log_alpha"][0]] = np.inf
    assert call(x.size, x.ctypes.data_as(ptr), g.ctypes.data_as(ptr), lp.ctypes.data_as(ptr), table.ctypes.data) != 0
    with pytest.raises(ValueError, match="kernel argument 0"):
        pack_kernel_args((np.zeros((2, 2), dtype=np.int64),) + model._kernel_args()[1:])


def test_effects_gradient():
    obs, truth = simulate_fusion(n_units=2, n_months=36, horizon=0, break_month=20, random_seed=4)
    model = MeasurementModel(obs, "A", truth["units"], truth["months"], effects={"break": truth["months"][20]})
    x = model.initial_point(1, jitter=0.3)
    _, g = model.logp(x)
    a, b = model.layout.offsets["effect"]
    for j in range(a, b):
        e = np.zeros_like(x)
        e[j] = 1e-6
        fd = (model.logp(x + e)[0] - model.logp(x - e)[0]) / 2e-6
        assert g[j] == pytest.approx(fd, rel=1e-4, abs=1e-4)


def test_only_the_primary_measures_steps_are_centred():
    """Sampler coordinates: the primary measure's steps are centred by each month's information
    (h / (1 + h)), the severities' steps not at all (their bursty information made a funnel)."""
    obs, truth = simulate_fusion(n_units=2, n_months=36, horizon=0, break_month=20, random_seed=4)
    model = MeasurementModel(obs, "A", truth["units"], truth["months"], effects={"break": truth["months"][20]})
    w, h = model.effect_weight(), model.whiten
    assert len(model.measures) == 2 and h[1].max() > 0.5
    np.testing.assert_allclose(w[0], h[0] / (1.0 + h[0]))
    np.testing.assert_array_equal(w[1:], 0.0)


def test_recovers_known_scales(fitted):
    model, res, truth = fitted
    sc = res.scales().set_index(["source", "metric"])
    for key, kappa in truth["scales"].items():
        row = sc.loc[key]
        if row["reference"]:
            assert row["estimate"] == 1.0 and row["ci_low"] == 1.0
        else:
            assert row["ci_low"] <= kappa <= row["ci_high"], (key, row.to_dict())
    assert res.reference() == {"attacks": {"source": "A", "metric": "attacks"},
                               "deaths": {"source": "A", "metric": "deaths"}}


def test_results_shapes_and_groups(fitted):
    model, res, truth = fitted
    d = res.design
    T, U = len(truth["months"]), len(truth["units"])
    assert d.n_fit == truth["n_observed_months"]
    p = res.paths(50, random_seed=1)
    assert p.shape == (U, T, 50) and p.dtype.kind == "i" and (p >= 0).all()
    assert np.array_equal(p, res.paths(50, random_seed=1))
    lat = res.latent("attacks", aggregate={"all": truth["units"]})
    assert set(lat["unit"]) == set(truth["units"]) | {"all"}
    assert {"mean", "q05", "q25", "median", "q75", "q95"} <= set(lat.columns)
    assert (lat["q05"] <= lat["median"]).all() and (lat["median"] <= lat["q95"]).all()
    # horizon months are unobserved: their intervals are wider than the last observed month's
    last = lat[(lat.unit == "all") & (lat.month == truth["months"][d.n_fit - 1])].iloc[0]
    end = lat[(lat.unit == "all") & (lat.month == truth["months"][-1])].iloc[0]
    assert (end.q95 - end.q05) / end["median"] > (last.q95 - last.q05) / last["median"]
    for g in ("posterior", "observed_data", "log_likelihood", "posterior_predictive"):
        assert g in res.idata.groups()
    assert res.idata.log_likelihood["y"].shape[-1] == d.y.size
    out = res.to_dict()
    assert set(out) >= {"units", "sources", "diagnostics"}
    assert set(out["diagnostics"]) >= {"max_rhat", "min_ess_bulk", "divergences", "converged"}
    assert "Multi-source" in res.summary().as_text()
    ob = res.observed_by("attacks")
    assert ob.loc[(ob.unit == "U0") & (ob.month == truth["months"][0]), "sources"].item() in ("A,C", "C", "A")


def test_predict_observations_of_future_periods(fitted):
    model, res, truth = fitted
    months = truth["months"]
    new = pd.DataFrame([{"source": "C", "metric": "attacks", "measure": "attacks", "cover": tuple(truth["units"]),
                         "first": months[-4], "last": months[-1], "value": 0}])
    draws = res.predict_observations(new, n_samples=200, random_seed=2)
    assert draws.shape == (1, 200) and (draws >= 0).all()
    with pytest.raises(ValueError, match="not in the fit"):
        res.predict_observations(new.assign(source="Z"))


@pytest.mark.parametrize("change, match", [
    (dict(cover=("nowhere",)), "not a latent unit"),
    (dict(measure="injured"), "measure 'injured'"),
    (dict(value=2.5), "non-negative integer"),
    (dict(value=-1), "non-negative integer"),
])
def test_bad_observations_are_refused(change, match):
    obs, truth = simulate_fusion(n_units=2, n_months=36, horizon=0, random_seed=1)
    bad = obs.copy().astype({"value": object})
    for k, v in change.items():
        bad.at[0, k] = v
    with pytest.raises(ValueError, match=match):
        MeasurementModel(bad, "A", truth["units"], truth["months"])


def test_reference_must_observe_every_measure():
    obs, truth = simulate_fusion(n_units=2, n_months=36, horizon=0, random_seed=1)
    with pytest.raises(ValueError, match="no observation of measure 'deaths'"):
        MeasurementModel(obs, "C", truth["units"], truth["months"])
    m = MeasurementModel(obs, {"attacks": ("C", "attacks"), "deaths": ("B", "deaths")}, truth["units"], truth["months"])
    assert m.design.keys[m.design.reference["attacks"]] == ("C", "attacks")
    with pytest.raises(ValueError, match="outside months"):
        MeasurementModel(obs, "A", truth["units"], truth["months"][5:])


@pytest.mark.slow
def test_interval_coverage_over_replications():
    """90% intervals of the scales and of the latent months cover the truth 85-95% of the time."""
    cov = replication_coverage(20)
    print(f"coverage of 90% intervals: scales {cov['scales']:.3f} (n={cov['n_scales']}), latent months "
          f"{cov['latent']:.3f} (n={cov['n_latent']}), {cov['unconverged']} of {cov['n_reps']} unconverged, "
          f"{cov['seconds']:.0f} s")
    assert 0.85 <= cov["latent"] <= 0.95
    assert 0.80 <= cov["scales"] <= 0.98


def test_figure_scales_are_the_scales_when_nothing_drifts(fitted):
    """Without drift a figure's scale against the fused series is its source's scale in every month
    (the reference's is 1)."""
    _, res, _ = fitted
    d = res.design
    sc = res.scales().set_index(["source", "metric"])["estimate"]
    for k, key in enumerate(d.keys):
        got = res.figure_scales(np.array([k, k]), np.array([0, d.n_fit - 1]))
        np.testing.assert_allclose(got, sc.loc[key], rtol=1e-9)


def test_transient_effects_fit_and_forecast():
    """With the transient month effects the model fits, recovers the scales of the simulation (which
    has none) and simulates the horizon's effects from their prior: the latent's intensity mean
    (the effects are mean one) and its intervals stay finite and positive."""
    obs, truth = simulate_fusion(n_units=3, n_months=60, horizon=4, break_month=36, random_seed=4)
    model = MeasurementModel(obs, "A", truth["units"], truth["months"], scale_drift=False, transient=True)
    assert model.layout.Q == 2 and np.all(model.whiten <= model.fast_info)
    res = model.fit(random_seed=4, draws=200, tune=300, chains=2)
    post = res.idata.posterior
    assert post["fast_z"].shape[-3:] == (2, 3, res.design.n_fit) and (post["fast_sd"] > 0).all()
    sc = res.scales().set_index(["source", "metric"])
    for key, kappa in truth["scales"].items():
        if not sc.loc[key, "reference"]:
            assert sc.loc[key, "ci_low"] <= kappa <= sc.loc[key, "ci_high"], (key, sc.loc[key].to_dict())
    lat = res.latent("attacks")
    assert np.isfinite(lat[["q05", "q95"]].to_numpy()).all() and (lat["q05"] > 0).all()
    assert res.predict_observations(obs.iloc[:3], n_samples=50, random_seed=1).shape == (3, 50)
