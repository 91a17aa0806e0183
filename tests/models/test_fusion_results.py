"""The NB2 log-pmf the measurement model scores with (``models.likelihood.negbin_logpmf``)."""

import warnings

import numpy as np
from pakcast.models.likelihood import negbin_logpmf as nb2_logpmf
from scipy import stats


def test_nb2_logpmf_matches_scipy():
    y = np.array([0.0, 1.0, 3.0, 17.0])
    mu, alpha = np.array([0.4, 2.0, 5.5, 30.0]), np.array([0.2, 1.0, 0.05, 2.0])
    r = 1.0 / alpha
    expected = stats.nbinom.logpmf(y, r, r / (r + mu))
    np.testing.assert_allclose(nb2_logpmf(y, mu, alpha), expected, rtol=1e-12)


def test_nb2_logpmf_zero_mean_is_point_mass_without_warning():
    y = np.array([0.0, 0.0, 1.0, 4.0])
    mu = np.zeros(4)
    alpha = np.array([0.5, 3.0, 0.5, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = nb2_logpmf(y, mu, alpha)
    np.testing.assert_array_equal(out, [0.0, 0.0, -np.inf, -np.inf])
