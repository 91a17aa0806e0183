"""PyMC bridge: the Numba NB2 log-likelihood as a PyTensor ``Op`` with an exact gradient.

Usage (what the Bayesian models call)
-------------------------------------
.. code-block:: python

    import pymc as pm
    from pakcast.models.likelihood.pytensor_ops import nb_logp

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
Numba kernel call (:func:`models.likelihood.negbin_loglik_grad`): ``nb_loglik_op`` has three
outputs ``(loglik, d_eta, d_log_alpha)`` and its gradient reuses outputs 1 and 2.

Backends
--------
* PyMC's default NUTS (C / Python backend): :meth:`NBLogLikOp.perform` calls the kernel.
* nutpie (``nutpie.compile_pymc_model(model, backend="numba")``) and PyTensor's numba mode:
  the Op registers a ``numba_funcify`` implementation that calls the ``@njit`` kernel directly,
  so the whole logp+gradient graph compiles to one Numba function (no object mode).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from pakcast.models.likelihood.negbin import (
    _EMPTY,
    PARALLEL_MIN_N,
    _as_counts,
    _nb_llg_parallel,
    _nb_llg_serial,
)

__all__ = ["NBLogLikOp", "nb_loglik_op", "nb_logp"]


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


class NBLogLikOp(Op):
    """``(y, eta, log_alpha) -> (loglik, d_eta, d_log_alpha)`` from one Numba kernel call.

    ``loglik`` (output 0) is the summed NB2 log-likelihood; outputs 1 and 2 are its exact
    gradient.  The Op's gradient reuses outputs 1 and 2 of the *same* node, so a graph that
    needs both the log-likelihood and its gradient (NUTS) runs the kernel once per evaluation.
    Second derivatives are not implemented.
    """

    __props__ = ()

    def make_node(self, y, eta, log_alpha):
        y, eta, la = _inputs(y, eta, log_alpha)
        return Apply(self, [y, eta, la], [pt.dscalar(), eta.type(), la.type()])

    def perform(self, node, inputs, outputs):
        y, eta, la = inputs
        ll, de, dla = _run_kernel(y, eta, la)
        outputs[0][0] = np.asarray(ll, dtype=np.float64)
        outputs[1][0] = de
        outputs[2][0] = np.asarray(dla, dtype=np.float64).reshape(np.shape(la))

    def L_op(self, inputs, outputs, output_grads):
        from pytensor.gradient import DisconnectedType, grad_not_implemented

        gz, g_de, g_dla = output_grads
        if not (isinstance(g_de.type, DisconnectedType) and isinstance(g_dla.type, DisconnectedType)):
            raise NotImplementedError("second derivatives of the NB log-likelihood Op are not implemented")
        if isinstance(gz.type, DisconnectedType):
            gz = pt.constant(0.0)
        y = inputs[0]
        return [grad_not_implemented(self, 0, y, "y is data (counts)"), gz * outputs[1], gz * outputs[2]]


nb_loglik_op = NBLogLikOp()


def nb_logp(y, eta, log_alpha):
    """Summed NB2 log-likelihood as a PyTensor scalar (see the module docstring).

    ``y`` given as a numpy array is checked once here (non-negative integers).
    """
    if isinstance(y, (np.ndarray, list, tuple)):
        y = _as_counts(np.asarray(y, dtype=float), "y")
    return nb_loglik_op(y, eta, log_alpha)[0]


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
                return np.asarray(ll), de, dla
            la1 = np.empty(1)
            la1[0] = la.item()
            ll, s = _nb_llg_serial(y, eta, la1, np.empty(0), np.empty(0), de, np.empty(0))
            return np.asarray(ll), de, np.asarray(s)

        return nb_loglik, 2
except ImportError:  # pragma: no cover - pytensor without numba dispatch
    pass
