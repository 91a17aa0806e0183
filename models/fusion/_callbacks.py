"""The kernel of :mod:`pakcast.models.fusion._kernel` as C callbacks for nutpie: the sampler
calls the log-density and gradient with no Python (and no GIL) between them.

:func:`pack_kernel_args` turns :func:`~pakcast.models.fusion._kernel.logp_grad`'s arguments into a
table of addresses and extents, which nutpie hands to :func:`logp_callback` as its user data; the
log-density callback is compiled once per process (not per model; see :func:`logp_callback` for why
not on disk), and this module is imported only when a fit starts.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import carray, cfunc, njit, types
from numba.core import cgutils
from numba.extending import intrinsic
from pakcast.models.fusion._kernel import logp_grad

__all__ = ["KERNEL_ARG_TYPES", "copy_callback", "logp_callback", "pack_kernel_args"]


#: (dtype, ndim) of each argument of :func:`logp_grad` after ``x`` and before ``g``
KERNEL_ARG_TYPES: tuple[tuple[type, int], ...] = (
    (np.int64, 1), (np.float64, 1), (np.int64, 1), (np.int64, 2), (np.int64, 2), (np.int64, 1),
    (np.float64, 2), (np.float64, 2), (np.int64, 1), (np.float64, 1), (np.float64, 3), (np.float64, 2),
    (np.int64, 1), (np.int64, 1), (np.int64, 1), (np.int64, 1), (np.float64, 2), (np.float64, 3),
    (np.int64, 1), (np.int64, 1), (np.int64, 1), (np.int64, 1), (np.float64, 2), (np.float64, 1),
    (np.int64, 1), (np.float64, 1), (np.int64, 1), (np.float64, 3), (np.int64, 1), (np.int64, 1))
_N_ARGS = len(KERNEL_ARG_TYPES)
_SLOT = 4   # per argument in the address table: address, then three extents


def pack_kernel_args(args: tuple) -> tuple[np.ndarray, list[np.ndarray]]:
    """The address table the C callback reads :func:`logp_grad`'s arguments from, and the
    contiguous arrays it points into (keep them alive as long as the table is used)."""
    if len(args) != _N_ARGS:
        raise ValueError(f"expected {_N_ARGS} kernel arguments, got {len(args)}")
    keep = []
    table = np.zeros(_SLOT * len(args), dtype=np.int64)
    for i, (a, (dt, nd)) in enumerate(zip(args, KERNEL_ARG_TYPES)):
        arr = np.ascontiguousarray(a, dtype=dt)
        if arr.ndim != nd:
            raise ValueError(f"kernel argument {i}: expected {nd} dimensions, got {arr.ndim}")
        keep.append(arr)
        table[_SLOT * i] = arr.ctypes.data
        table[_SLOT * i + 1:_SLOT * i + 1 + nd] = arr.shape
    return table, keep


@intrinsic
def _as_voidptr(typingctx, src):
    """An integer address as a ``void*`` (to view it with :func:`numba.carray`)."""
    sig = types.voidptr(src)

    def codegen(cgctx, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return sig, codegen


@njit(inline="always")
def _view1(tab, i, dt):
    return carray(_as_voidptr(tab[_SLOT * i]), (tab[_SLOT * i + 1],), dt)


@njit(inline="always")
def _view2(tab, i, dt):
    return carray(_as_voidptr(tab[_SLOT * i]), (tab[_SLOT * i + 1], tab[_SLOT * i + 2]), dt)


@njit(inline="always")
def _view3(tab, i, dt):
    return carray(_as_voidptr(tab[_SLOT * i]), (tab[_SLOT * i + 1], tab[_SLOT * i + 2], tab[_SLOT * i + 3]), dt)


_LOGP_SIG = types.int64(types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                        types.CPointer(types.double), types.voidptr)
_EXPAND_SIG = types.int64(types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                          types.voidptr)


def _logp(dim, x_, g_, logp_, table_):
    """nutpie's C log-density callback (compiled by :func:`logp_callback`): :func:`logp_grad` with its arguments read from the
    address table of :func:`pack_kernel_args` (``table_``). Returns 0, or 3 / 4 where the gradient
    / the density is not finite (as nutpie's own compiled models do)."""
    tab = carray(table_, (_N_ARGS * _SLOT,), np.int64)
    x = carray(x_, (dim,))
    g = carray(g_, (dim,))
    f8, i8 = np.float64, np.int64
    lp = logp_grad(x, _view1(tab, 0, i8), _view1(tab, 1, f8), _view1(tab, 2, i8), _view2(tab, 3, i8),
                   _view2(tab, 4, i8), _view1(tab, 5, i8), _view2(tab, 6, f8), _view2(tab, 7, f8),
                   _view1(tab, 8, i8), _view1(tab, 9, f8), _view3(tab, 10, f8), _view2(tab, 11, f8),
                   _view1(tab, 12, i8), _view1(tab, 13, i8), _view1(tab, 14, i8), _view1(tab, 15, i8),
                   _view2(tab, 16, f8), _view3(tab, 17, f8), _view1(tab, 18, i8), _view1(tab, 19, i8),
                   _view1(tab, 20, i8), _view1(tab, 21, i8), _view2(tab, 22, f8), _view1(tab, 23, f8),
                   _view1(tab, 24, i8), _view1(tab, 25, f8), _view1(tab, 26, i8), _view3(tab, 27, f8),
                   _view1(tab, 28, i8), _view1(tab, 29, i8), g)
    carray(logp_, (1,))[0] = lp
    for i in range(dim):
        if not math.isfinite(g[i]):
            return 3
    if not math.isfinite(lp):
        return 4
    return 0


@functools.lru_cache(maxsize=1)
def logp_callback():
    """The C log-density callback (:func:`_logp` as a ``cfunc``), compiled once per process.

    It is not cached on disk: Numba's cache is invalidated only by a change to the file of the
    function it holds, and this callback links :func:`~pakcast.models.fusion._kernel.logp_grad`
    into itself, so a cached copy would outlive an edit of the kernel. Compiling it takes about a
    second (the kernel itself is cached in its own module)."""
    return cfunc(_LOGP_SIG, nogil=True, error_model="numpy")(_logp)


@cfunc(_EXPAND_SIG, nogil=True, cache=True)
def copy_callback(dim, n_expanded, x_, out_, table_):
    """nutpie's C expand callback that stores the sampler's coordinates as they are (the named
    values are computed from them after sampling)."""
    if n_expanded != dim:
        return -1
    x = carray(x_, (dim,))
    out = carray(out_, (dim,))
    for i in range(dim):
        out[i] = x[i]
    return 0
