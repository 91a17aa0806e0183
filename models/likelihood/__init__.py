"""Exact, fast count likelihoods (Numba) with gradients in the linear predictor.

Parameterisation everywhere: ``eta = log(mu)`` (plus an optional offset), ``log_alpha`` the log
of the NB2 dispersion (variance ``mu + alpha mu^2``; PyMC's ``NegativeBinomial(alpha=...)`` is
``1/alpha``; scipy's ``nbinom(n, p)`` has ``n = 1/alpha``, ``p = n/(n + mu)``), and
``logit_pi`` the logit of the zero-component probability (ZINB: structural zeros; hurdle:
``P(Y = 0)``).

Public kernels
--------------
* ``poisson_logpmf(y, mu)``, ``poisson_loglik_grad(y, eta, weights=None, offset=None)``
  -> ``(loglik, d_eta)``
* ``negbin_count_part(y, log_alpha)`` (the mean-free part of the log-pmf, for segment sums),
  ``negbin_logpmf(y, mu, alpha)``, ``negbin_loglik_grad(y, eta, log_alpha, weights=None, offset=None)``
  -> ``(loglik, d_eta, d_log_alpha)``; ``negbin_loglik_grad_obs``, ``negbin_hessian_obs``
* ``zinb_logpmf(y, mu, alpha, pi)``, ``zinb_loglik_grad(y, eta, log_alpha, logit_pi, ...)``,
  ``hurdle_nb_logpmf(y, mu, alpha, pi)``, ``hurdle_nb_loglik_grad(y, eta, log_alpha, logit_pi, ...)``
  -> ``(loglik, d_eta, d_log_alpha, d_logit_pi)``

The PyMC bridge is :mod:`models.likelihood.pytensor_ops` (imported lazily: it needs PyTensor).
Numpy twins of every kernel are in :mod:`models.likelihood.numpy_twins`.
"""

from pakcast.models.likelihood.hurdle import hurdle_nb_loglik_grad, hurdle_nb_logpmf
from pakcast.models.likelihood.negbin import (
    negbin_count_part,
    negbin_hessian_obs,
    negbin_loglik_grad,
    negbin_loglik_grad_obs,
    negbin_logpmf,
    negbin_logpmf_eta,
)
from pakcast.models.likelihood.poisson import poisson_loglik_grad, poisson_logpmf
from pakcast.models.likelihood.zinb import zinb_loglik_grad, zinb_logpmf

__all__ = [
    "hurdle_nb_loglik_grad",
    "hurdle_nb_logpmf",
    "negbin_count_part",
    "negbin_hessian_obs",
    "negbin_loglik_grad",
    "negbin_loglik_grad_obs",
    "negbin_logpmf",
    "negbin_logpmf_eta",
    "poisson_loglik_grad",
    "poisson_logpmf",
    "zinb_loglik_grad",
    "zinb_logpmf",
]
