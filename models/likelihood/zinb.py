"""Zero-inflated negative binomial (ZINB) log-likelihood and gradient kernels (Numba).

Model
-----
With structural-zero probability :math:`\\pi = \\mathrm{expit}(z)` and the NB2 pmf
:math:`f(y; \\mu = e^{\\eta}, \\alpha = e^{\\lambda})` of :mod:`models.likelihood.negbin`,

.. math::

    P(Y = 0) = \\pi + (1 - \\pi) f(0), \\qquad P(Y = y) = (1 - \\pi) f(y) \\quad (y > 0).

For :math:`y = 0`, with the posterior weights :math:`w_0 = \\pi / P(0)`, :math:`w_1 = 1 - w_0`,
the gradient is :math:`w_1 \\nabla \\log f(0)` in :math:`(\\eta, \\lambda)` and
:math:`w_0 (1 - \\pi) - w_1 \\pi` in :math:`z`; for :math:`y > 0` it is :math:`\\nabla \\log f(y)`
and :math:`-\\pi`.  All logs are formed with ``log1p``/``logaddexp`` so that
:math:`\\pi \\to 0, 1` and :math:`\\mu \\to 0` are stable.
"""

from __future__ import annotations

from pakcast.models.likelihood._zero_modified import loglik_grad3, logpmf3


def zinb_loglik_grad(y, eta, log_alpha, logit_pi, weights=None, offset=None):
    """Summed ZINB log-likelihood and gradient ``(loglik, d_eta, d_log_alpha, d_logit_pi)``.

    ``log_alpha`` and ``logit_pi`` are scalars (then their gradients are summed) or arrays of
    the length of ``y`` (per-observation gradients).  See the module docstring for the model.
    """
    return loglik_grad3(False, y, eta, log_alpha, logit_pi, weights, offset)


def zinb_logpmf(y, mu, alpha, pi):
    """Elementwise ZINB log-pmf with structural-zero probability ``pi`` (broadcasting)."""
    return logpmf3(False, y, mu, alpha, pi)
