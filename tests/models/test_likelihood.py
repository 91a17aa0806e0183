"""Count kernels: scipy on a grid (incl. extremes), long-double references, numpy twins,
finite-difference gradients, weights/offset, determinism of the parallel path."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from pakcast.models.likelihood import (
    hurdle_nb_loglik_grad,
    hurdle_nb_logpmf,
    negbin_hessian_obs,
    negbin_loglik_grad,
    negbin_loglik_grad_obs,
    negbin_logpmf,
    negbin_logpmf_eta,
    poisson_loglik_grad,
    poisson_logpmf,
    zinb_loglik_grad,
    zinb_logpmf,
)
from pakcast.models.likelihood import numpy_twins as tw

EPS = np.finfo(float).eps
Y_GRID = np.array([0, 1, 2, 3, 5, 8, 13, 30, 63, 64, 65, 66, 100, 1_000, 10_000, 1_000_000], float)
MU_GRID = [1e-12, 1e-4, 0.3, 1.0, 7.5, 80.0, 1e4, 1e6]
ALPHA_GRID = [1e-12, 1e-8, 1e-4, 0.01, 0.3, 1.0, 4.0, 50.0]


def nb_logpmf_longdouble(y: int, mu: float, alpha: float) -> float:
    """Independent reference: direct finite sum in 80-bit long double (y <= a few thousand)."""
    ld = np.longdouble
    r = ld(1) / ld(alpha)
    mu = ld(mu)
    k = np.arange(int(y), dtype=np.longdouble)
    s = np.sum(np.log1p(k * ld(alpha)))  # lgamma(y+r) - lgamma(r) - y log r
    logfact = np.sum(np.log(np.arange(1, int(y) + 1, dtype=np.longdouble)))
    x = ld(alpha) * mu
    return float(s - logfact + ld(y) * np.log(mu) - ld(y) * np.log1p(x) - r * np.log1p(x))


def _scipy_accurate(mu, alpha):
    # scipy's nbinom forms 1 - p = mu/(r + mu) and gammaln(y + r) - gammaln(r) directly, which
    # loses digits when alpha*mu or alpha is tiny; compare there against long double instead.
    return alpha * mu >= 1e-6 and alpha >= 1e-4


@pytest.mark.parametrize("mu", MU_GRID)
@pytest.mark.parametrize("alpha", ALPHA_GRID)
def test_negbin_logpmf_matches_scipy_or_longdouble(mu, alpha):
    got = negbin_logpmf(Y_GRID, mu, alpha)
    assert np.all(np.isfinite(got))
    # For huge counts the log-pmf is a small difference of terms of size ~ y log y, so any
    # double-precision evaluation (scipy's included) carries an absolute error of a few ulps of
    # that scale: allow 4 eps * scale on top of the relative tolerance.
    scale = special.gammaln(Y_GRID + 1) + Y_GRID * abs(np.log(mu)) + mu
    if _scipy_accurate(mu, alpha):
        r = 1.0 / alpha
        ref = stats.nbinom.logpmf(Y_GRID, r, r / (r + mu))
        assert np.all(np.abs(got - ref) <= 1e-10 * np.abs(ref) + 4 * EPS * scale)
    small = Y_GRID <= 2000
    ref_ld = np.array([nb_logpmf_longdouble(y, mu, alpha) for y in Y_GRID[small]])
    assert np.all(np.abs(got[small] - ref_ld) <= 1e-12 * np.abs(ref_ld) + 4 * EPS * scale[small])


def test_negbin_poisson_limit():
    mu = np.array([1e-12, 0.3, 7.5, 80.0, 1e4])
    for a in (0.0, 1e-300):
        for m in mu:
            ref = stats.poisson.logpmf(Y_GRID, m)
            scale = special.gammaln(Y_GRID + 1) + Y_GRID * abs(np.log(m)) + m
            assert np.all(np.abs(negbin_logpmf(Y_GRID, m, a) - ref) <= 1e-12 * np.abs(ref) + 4 * EPS * scale)
    ll, de, dla = negbin_loglik_grad(Y_GRID, np.full(Y_GRID.size, 2.0), -np.inf)
    pl, pde = poisson_loglik_grad(Y_GRID, np.full(Y_GRID.size, 2.0))
    assert ll == pytest.approx(pl, rel=1e-14)
    np.testing.assert_allclose(de, pde, rtol=1e-14)
    assert dla == 0.0


@pytest.mark.parametrize("mu", MU_GRID)
def test_poisson_logpmf_matches_scipy(mu):
    np.testing.assert_allclose(poisson_logpmf(Y_GRID, mu), stats.poisson.logpmf(Y_GRID, mu), rtol=1e-10)


def test_poisson_mu_zero():
    np.testing.assert_array_equal(poisson_logpmf([0, 1], 0.0), [0.0, -np.inf])


@pytest.mark.parametrize("alpha", ALPHA_GRID)
def test_negbin_kernel_matches_numpy_twin(alpha):
    y = np.repeat(Y_GRID, len(MU_GRID))
    eta = np.log(np.tile(MU_GRID, len(Y_GRID)))
    ll, de, dla = negbin_loglik_grad_obs(y, eta, np.log(alpha))
    tl, tde, tdla = tw.negbin_elem_numpy(y, eta, np.log(alpha))
    scale = special.gammaln(y + 1) + y * np.abs(eta) + np.exp(eta)
    assert np.all(np.abs(ll - tl) <= 1e-12 * np.abs(tl) + 4 * EPS * scale)
    np.testing.assert_allclose(de, tde, rtol=1e-12, atol=1e-300)
    # d_log_alpha is a sum of terms of size ~ mu + y: allow a few ulps of that scale
    assert np.all(np.abs(dla - tdla) <= 1e-12 * np.abs(tdla) + 8 * EPS * (np.exp(eta) + y))


def test_negbin_textbook_scipy_gradient_agrees_at_moderate_alpha():
    rng = np.random.default_rng(0)
    y = rng.negative_binomial(2, 0.3, 500).astype(float)
    eta = rng.normal(1.0, 0.7, 500)
    ll, de, dla = negbin_loglik_grad(y, eta, np.log(0.5))
    sl, sde, sdla = tw.negbin_loglik_grad_scipy(y, eta, np.log(0.5))
    assert ll == pytest.approx(sl, rel=1e-12)
    np.testing.assert_allclose(de, sde, rtol=1e-12)
    assert dla == pytest.approx(sdla, rel=1e-10)


def _fd(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


@pytest.mark.parametrize("alpha", [1e-6, 0.05, 0.7, 12.0])
def test_negbin_gradient_and_hessian_finite_differences(alpha):
    rng = np.random.default_rng(1)
    y = rng.negative_binomial(1.5, 0.2, 40).astype(float)
    y[:3] = [0, 500, 20_000]
    eta = rng.normal(1.5, 1.0, 40)
    la = np.log(alpha)
    _, de, dla = negbin_loglik_grad_obs(y, eta, la)
    # per-observation central differences (the summed loglik is too large for clean FD)
    np.testing.assert_allclose(de, _fd(lambda t: negbin_logpmf_eta(y, eta + t, la), 0.0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(dla, _fd(lambda t: negbin_logpmf_eta(y, eta, la + t), 0.0), rtol=1e-6, atol=1e-6)
    assert negbin_loglik_grad(y, eta, la)[2] == pytest.approx(dla.sum(), rel=1e-12)
    h_ee, h_el, h_ll = negbin_hessian_obs(y, eta, la)
    _, de_p, dla_p = negbin_loglik_grad_obs(y, eta, la + 1e-4)
    _, de_m, dla_m = negbin_loglik_grad_obs(y, eta, la - 1e-4)
    np.testing.assert_allclose(h_ll, (dla_p - dla_m) / 2e-4, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(h_el, (de_p - de_m) / 2e-4, rtol=1e-5, atol=1e-7)
    _, de_p, _ = negbin_loglik_grad_obs(y, eta + 1e-4, la)
    _, de_m, _ = negbin_loglik_grad_obs(y, eta - 1e-4, la)
    np.testing.assert_allclose(h_ee, (de_p - de_m) / 2e-4, rtol=1e-5, atol=1e-7)


def test_negbin_weights_offset_and_vector_alpha():
    rng = np.random.default_rng(2)
    y = rng.poisson(3.0, 200).astype(float)
    eta = rng.normal(0.5, 0.3, 200)
    off = rng.normal(0.2, 0.1, 200)
    w = rng.integers(1, 4, 200).astype(float)
    la = rng.normal(-1, 0.3, 200)
    ll, de, dla = negbin_loglik_grad(y, eta, la, weights=w, offset=off)
    tl, tde, tdla = tw.negbin_loglik_grad_numpy(y, eta, la, weights=w, offset=off)
    assert ll == pytest.approx(tl, rel=1e-12)
    np.testing.assert_allclose(de, tde, rtol=1e-12)
    scale = w * (np.exp(eta + off) + y)  # d_log_alpha cancels terms of this size
    assert np.all(np.abs(dla - tdla) <= 1e-12 * np.abs(tdla) + 8 * EPS * scale)
    # frequency weights equal repetition
    rep = np.repeat(np.arange(200), w.astype(int))
    ll_rep = negbin_loglik_grad(y[rep], eta[rep] + off[rep], la[rep])[0]
    assert ll == pytest.approx(ll_rep, rel=1e-12)


def test_parallel_path_is_deterministic_and_equals_serial():
    rng = np.random.default_rng(3)
    n = 300_000
    y = rng.negative_binomial(1.0, 0.25, n).astype(float)
    eta = rng.normal(1.0, 0.5, n)
    a = negbin_loglik_grad(y, eta, -0.5)
    b = negbin_loglik_grad(y, eta, -0.5)
    assert a[0] == b[0] and a[2] == b[2]
    from pakcast.models.likelihood.negbin import _EMPTY, _nb_llg_parallel, _nb_llg_serial

    for kern in (_nb_llg_serial, _nb_llg_parallel):  # bit-identical whatever the path
        de = np.empty(n)
        s_ll, s_dla = kern(y, eta, np.array([-0.5]), _EMPTY, _EMPTY, de, _EMPTY)
        assert s_ll == a[0] and s_dla == a[2]
        np.testing.assert_array_equal(de, a[1])
    tl, tde, tdla = tw.negbin_loglik_grad_numpy(y, eta, -0.5)
    assert a[0] == pytest.approx(tl, rel=1e-12)
    assert a[2] == pytest.approx(tdla, rel=1e-11)


def test_bad_counts_are_rejected_with_index():
    with pytest.raises(ValueError, match=r"y\[1\] = 1.5"):
        negbin_logpmf([1, 1.5], 1.0, 0.5)
    with pytest.raises(ValueError, match="y\\[0\\]"):
        poisson_loglik_grad([-1.0], [0.0])
    with pytest.raises(ValueError, match="eta has length 2"):
        negbin_loglik_grad([1, 2, 3], [0.0, 0.0], 0.0)


@pytest.mark.parametrize("pi", [1e-9, 0.2, 0.9])
@pytest.mark.parametrize("alpha", [1e-8, 0.5, 3.0])
def test_zinb_and_hurdle_are_normalised_and_match_definition(pi, alpha):
    mu = 2.5
    y = np.arange(0, 400, dtype=float)
    f = np.exp(negbin_logpmf(y, mu, alpha))  # the NB2 pmf itself is checked against scipy above
    z = np.exp(zinb_logpmf(y, mu, alpha, pi))
    h = np.exp(hurdle_nb_logpmf(y, mu, alpha, pi))
    assert z.sum() == pytest.approx(1.0, abs=1e-7)
    assert h.sum() == pytest.approx(1.0, abs=1e-7)
    ref_z = np.where(y == 0, pi + (1 - pi) * f, (1 - pi) * f)
    ref_h = np.where(y == 0, pi, (1 - pi) * f / (1 - f[0]))
    np.testing.assert_allclose(z[:60], ref_z[:60], rtol=1e-6)
    np.testing.assert_allclose(h[:60], ref_h[:60], rtol=1e-6)


@pytest.mark.parametrize("fn,twin", [(zinb_loglik_grad, tw.zinb_elem_numpy), (hurdle_nb_loglik_grad, tw.hurdle_nb_elem_numpy)])
def test_zinb_hurdle_gradients(fn, twin):
    rng = np.random.default_rng(4)
    n = 60
    y = rng.negative_binomial(1.0, 0.3, n).astype(float)
    y[:10] = 0
    eta = rng.normal(0.5, 0.8, n)
    eta[0] = -20.0
    la, z = np.log(0.6), -0.4
    ll, de, dla, dz = fn(y, eta, la, z)
    tl, tde, tdla, tdz = twin(y, eta, la, z)
    assert ll == pytest.approx(tl.sum(), rel=1e-12)
    np.testing.assert_allclose(de, tde, rtol=1e-11, atol=1e-14)
    assert dla == pytest.approx(tdla.sum(), rel=1e-10)
    assert dz == pytest.approx(tdz.sum(), rel=1e-10)
    for j in (0, 1, 12, 30):
        e = np.zeros(n)
        e[j] = 1.0
        assert de[j] == pytest.approx(_fd(lambda t: fn(y, eta + t * e, la, z)[0], 0.0), rel=1e-6, abs=1e-8)
    assert dla == pytest.approx(_fd(lambda t: fn(y, eta, la + t, z)[0], 0.0), rel=1e-6)
    assert dz == pytest.approx(_fd(lambda t: fn(y, eta, la, z + t)[0], 0.0), rel=1e-6)


def test_zinb_hurdle_poisson_parallel_kernels_deterministic():
    from pakcast.models.likelihood._zero_modified import _parallel3, _serial3
    from pakcast.models.likelihood.negbin import _EMPTY
    from pakcast.models.likelihood.poisson import _pois_parallel, _pois_serial

    rng = np.random.default_rng(8)
    n = 50_000
    y = rng.negative_binomial(1.0, 0.3, n).astype(float)
    eta = rng.normal(0.3, 0.7, n)
    la, z = np.array([-0.4]), np.array([-1.0])
    import numba

    for hurdle in (False, True):  # ZINB, hurdle NB
        d1, d2, d3 = np.empty(n), np.empty(n), np.empty(n)
        s1 = _serial3(hurdle, y, eta, la, z, _EMPTY, _EMPTY, d1, _EMPTY, _EMPTY)
        s2 = _parallel3(hurdle, y, eta, la, z, _EMPTY, _EMPTY, d2, _EMPTY, _EMPTY)
        old_threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            s3 = _parallel3(hurdle, y, eta, la, z, _EMPTY, _EMPTY, d3, _EMPTY, _EMPTY)
        finally:
            numba.set_num_threads(old_threads)
        # fixed chunks: the parallel result does not depend on the thread count, bit for bit;
        # the serial build may round the last bit differently (different compiled code)
        np.testing.assert_array_equal(s2, s3)
        np.testing.assert_array_equal(d2, d3)
        np.testing.assert_allclose(s1, s2, rtol=1e-14)
        np.testing.assert_allclose(d1, d2, rtol=1e-14, atol=1e-15)  # d_eta of O(1) terms: ulps
    d1, d2 = np.empty(n), np.empty(n)
    assert _pois_serial(y, eta, _EMPTY, _EMPTY, d1) == _pois_parallel(y, eta, _EMPTY, _EMPTY, d2)
    np.testing.assert_array_equal(d1, d2)


@pytest.mark.parametrize("alpha", [1e-9, 0.05, 0.7, 30.0])
def test_count_sums_at_equals_the_table_and_the_direct_sums(alpha):
    """The sweep that fills only the counts a dispersion group has equals the full per-count table
    and lgamma/digamma's closed forms: T(y) - log y! = lgamma(y + r) - lgamma(r) + y log a - log y!,
    U(y) = y - r (digamma(y + r) - digamma(r)), r = 1/a."""
    from pakcast.models.likelihood._special import count_sums_at, count_sums_table
    from scipy.special import digamma, gammaln

    counts = np.array([0, 1, 2, 7, 40, 41, 333, 3001], dtype=np.int64)
    T, U = np.full(3002, np.nan), np.full(3002, np.nan)
    count_sums_at(counts, alpha, T, U)
    Tt, Ut = count_sums_table(3001, alpha, np.log(alpha))
    np.testing.assert_allclose(T[counts], Tt[counts], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(U[counts], Ut[counts], rtol=1e-12, atol=1e-12)
    assert np.isnan(np.delete(T, counts)).all()   # nothing else is written
    if alpha >= 0.05:
        y, r = counts.astype(float), 1.0 / alpha
        np.testing.assert_allclose(T[counts], gammaln(y + r) - gammaln(r) + y * np.log(alpha) - gammaln(y + 1),
                                   rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(U[counts], y - r * (digamma(y + r) - digamma(r)), rtol=1e-10, atol=1e-9)
