"""PyMC bridge: the Numba NB2 log-likelihood as a PyTensor ``Op`` with an exact gradient.

Usage (what the Bayesian models call)
-------------------------------------
.. code-block:: python

    import pymc as pm
    from models.likelihood.pytensor_ops import nb_logp

    with pm.Model():
        beta = pm.Normal("beta", 0, 1, shape=k)
        log_alpha = pm.Normal("log_alpha", -1, 1)        # NB2 dispersion on the log scale
        eta = X @ beta + offset                            # log mean
        pm.Potential("y_loglik", nb_logp(y, eta, log_alpha))

``nb_logp(y, eta, log_alpha)`` returns a PyTensor scalar: the summed NB2 log-likelihood
:math:`\\sum_i \\log f(y_i; \\mu_i = e^{\\eta_i}, \\alpha)` with all normalising constants (equal
to ``pm.logp(pm.NegativeBinomial.dist(mu=exp(eta), alpha=1/exp(log_alpha)), y).sum()``; note
that PyMC's ``alpha`` is the *inverse* of the NB2 dispersion).  ``log_alpha`` may be a scalar
or a vector of the length of ``y`` (e.g. ``log_alpha_group[group_idx]``).  ``y`` is data
(no gradient); the gradient with respect to ``eta`` and ``log_alpha`` comes from the same
Numba kernel (:func:`models.likelihood.negbin_loglik_grad`), via a second Op.

Backends
--------
* PyMC's default NUTS (C / Python backend): :meth:`NBLogLikOp.perform` calls the kernel.
* nutpie (``nutpie.compile_pymc_model(model, backend="numba")``) and PyTensor's numba mode:
  both Ops register a ``numba_funcify`` implementation that calls the ``@njit`` kernel directly,
  so the whole logp+gradient graph compiles to one Numba function (no object mode).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from models.likelihood.negbin import (
    _EMPTY,
    PARALLEL_MIN_N,
    _as_counts,
    _nb_llg_parallel,
    _nb_llg_serial,
)

__all__ = ["NBLogLikOp", "NBLogLikGradOp", "nb_loglik_op", "nb_logp"]


def _run_kernel(y, eta, la):
    la1 = np.ascontiguousarray(la, dtype=np.float64).reshape(-1)
    n = y.size
    de = np.empty(n)
    dla = np.empty(n) if la1.size > 1 else _EMPTY
    kern = _nb_llg_parallel if n >= PARALLEL_MIN_N else _nb_llg_serial
    ll, s_dla = kern(np.ascontiguousarray(y, dtype=np.float64), np.ascontiguousarray(eta, dtype=np.float64),
                     la1, _EMPTY, _EMPTY, de, dla)
    return ll, de, (dla if la1.size > 1 else np.asarray(s_dla))


def _inputs(y, eta, log_alpha):
    y = pt.cast(pt.as_tensor_variable(y), "float64")
    eta = pt.cast(pt.as_tensor_variable(eta), "float64")
    la = pt.cast(pt.as_tensor_variable(log_alpha), "float64")
    if y.ndim != 1 or eta.ndim != 1:
        raise ValueError("y and eta must be vectors")
    if la.ndim not in (0, 1):
        raise ValueError("log_alpha must be a scalar or a vector")
    return y, eta, la


class NBLogLikGradOp(Op):
    """``(y, eta, log_alpha) -> (d_eta, d_log_alpha)`` of the summed NB2 log-likelihood."""

    __props__ = ()

    def make_node(self, y, eta, log_alpha):
        y, eta, la = _inputs(y, eta, log_alpha)
        return Apply(self, [y, eta, la], [eta.type(), la.type()])

    def perform(self, node, inputs, outputs):
        y, eta, la = inputs
        _, de, dla = _run_kernel(y, eta, la)
        outputs[0][0] = de
        outputs[1][0] = np.asarray(dla, dtype=np.float64).reshape(np.shape(la))


class NBLogLikOp(Op):
    """``(y, eta, log_alpha) -> sum_i log NB2(y_i; exp(eta_i), exp(log_alpha))`` (a scalar)."""

    __props__ = ()

    def make_node(self, y, eta, log_alpha):
        y, eta, la = _inputs(y, eta, log_alpha)
        return Apply(self, [y, eta, la], [pt.dscalar()])

    def perform(self, node, inputs, outputs):
        y, eta, la = inputs
        ll, _, _ = _run_kernel(y, eta, la)
        outputs[0][0] = np.asarray(ll, dtype=np.float64)

    def grad(self, inputs, output_grads):
        y, eta, la = inputs
        (gz,) = output_grads
        d_eta, d_la = _grad_op(y, eta, la)
        from pytensor.gradient import grad_not_implemented

        return [grad_not_implemented(self, 0, y, "y is data (counts)"), gz * d_eta, gz * d_la]

    def L_op(self, inputs, outputs, output_grads):
        return self.grad(inputs, output_grads)


_grad_op = NBLogLikGradOp()
nb_loglik_op = NBLogLikOp()


def nb_logp(y, eta, log_alpha):
    """Summed NB2 log-likelihood as a PyTensor scalar (see the module docstring).

    ``y`` given as a numpy array is checked once here (non-negative integers).
    """
    if isinstance(y, (np.ndarray, list, tuple)):
        y = _as_counts(np.asarray(y, dtype=float), "y")
    return nb_loglik_op(y, eta, log_alpha)


# --------------------------------------------------------------------------------------------
# numba backend (nutpie, pytensor mode="NUMBA")

try:  # pragma: no branch
    from pytensor.link.numba.dispatch import basic as _nb_basic

    @_nb_basic.register_funcify_default_op_cache_key(NBLogLikOp)
    def _numba_funcify_nb_loglik(op, node, **kwargs):
        vec_la = node.inputs[2].ndim == 1

        @_nb_basic.numba_njit
        def nb_loglik(y, eta, la):
            n = y.size
            de = np.empty(n)
            if vec_la:
                dla = np.empty(n)
                ll, _ = _nb_llg_serial(y, eta, la, np.empty(0), np.empty(0), de, dla)
            else:
                la1 = np.empty(1)
                la1[0] = la.item()
                ll, _ = _nb_llg_serial(y, eta, la1, np.empty(0), np.empty(0), de, np.empty(0))
            return np.asarray(ll)

        return nb_loglik, 1

    @_nb_basic.register_funcify_default_op_cache_key(NBLogLikGradOp)
    def _numba_funcify_nb_loglik_grad(op, node, **kwargs):
        vec_la = node.inputs[2].ndim == 1

        @_nb_basic.numba_njit
        def nb_loglik_grad(y, eta, la):
            n = y.size
            de = np.empty(n)
            if vec_la:
                dla = np.empty(n)
                _nb_llg_serial(y, eta, la, np.empty(0), np.empty(0), de, dla)
                return de, dla
            la1 = np.empty(1)
            la1[0] = la.item()
            _, s = _nb_llg_serial(y, eta, la1, np.empty(0), np.empty(0), de, np.empty(0))
            return de, np.asarray(s)

        return nb_loglik_grad, 1
except ImportError:  # pragma: no cover - pytensor without numba dispatch
    pass
