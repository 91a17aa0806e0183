"""Hurdle negative binomial log-likelihood and gradient kernels (Numba).

Model
-----
With zero probability :math:`\\pi = \\mathrm{expit}(z)` and the NB2 pmf
:math:`f(y; \\mu = e^{\\eta}, \\alpha = e^{\\lambda})` truncated at zero for the positives,

.. math::

    P(Y = 0) = \\pi, \\qquad P(Y = y) = (1 - \\pi)\\,\\frac{f(y)}{1 - f(0)} \\quad (y > 0),

    \\log(1 - f(0)) = \\log\\bigl(-\\mathrm{expm1}(\\log f(0))\\bigr), \\qquad
    \\log f(0) = -\\mu\\,\\frac{\\mathrm{log1p}(\\alpha\\mu)}{\\alpha\\mu},

so :math:`\\nabla \\log(1 - f(0)) = -\\nabla \\log f(0) / \\mathrm{expm1}(-\\log f(0))` stays
exact as :math:`\\mu \\to 0`.  The zero part depends on :math:`z` only.
"""

from __future__ import annotations

from pakcast.models.likelihood._zero_modified import loglik_grad3, logpmf3


def hurdle_nb_loglik_grad(y, eta, log_alpha, logit_pi, weights=None, offset=None):
    """Summed hurdle-NB log-likelihood and gradient ``(loglik, d_eta, d_log_alpha, d_logit_pi)``.

    ``logit_pi`` is the logit of :math:`P(Y = 0)`.  Scalars give summed gradients, arrays of
    the length of ``y`` give per-observation gradients.
    """
    return loglik_grad3(True, y, eta, log_alpha, logit_pi, weights, offset)


def hurdle_nb_logpmf(y, mu, alpha, pi):
    """Elementwise hurdle-NB log-pmf with zero probability ``pi`` (broadcasting)."""
    return logpmf3(True, y, mu, alpha, pi)
