"""Complete ``arviz.InferenceData`` for the Bayesian results: observed data, pointwise
log-likelihood and posterior predictive draws of the observed variable, so that a saved result
works with ``az.plot_ppc``, ``az.loo`` and ``az.compare`` after ``az.from_netcdf``.

Every results class in :mod:`models.bayes` calls :func:`complete_idata` once, with arrays it
computes from the posterior draws (numpy, one value per draw and observation; draws in
``stack(sample=("chain", "draw"))`` order). A ``log_likelihood`` group already written by PyMC
(``fit(log_likelihood=True)``) is kept; ``observed_data`` and ``posterior_predictive`` of the
variable are always the results' own, on the same ``obs`` dimension as the log-likelihood.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import xarray as xr

__all__ = ["complete_idata", "save_idata", "draw_rng", "stacked"]


def draw_rng(idata: az.InferenceData, stream: int) -> np.random.Generator:
    """A generator for derived draws (posterior predictive), keyed by the fit's seed and ``stream``:
    the same fit gives the same predictive draws."""
    seed = int(idata.attrs.get("random_seed", -1))
    return np.random.default_rng(None if seed < 0 else [seed, int(stream)])


def stacked(idata: az.InferenceData, name: str) -> np.ndarray:
    """Posterior draws of ``name`` as (S, ...) with S = chains x draws (chain-major)."""
    return idata.posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...).values


def complete_idata(idata: az.InferenceData, var: str, observed: np.ndarray, loglik: np.ndarray,
                   yrep: np.ndarray, obs_coords: Mapping[str, Any] | None = None) -> az.InferenceData:
    """Add (in place) ``observed_data[var]``, ``posterior_predictive[var]`` and, when absent,
    ``log_likelihood[var]`` on the dimension ``obs``.

    Parameters
    ----------
    idata : arviz.InferenceData
        With a ``posterior`` group (chains x draws).
    var : str
        Name of the observed variable (``y``, ``killed``).
    observed : array (n,)
        The observed values.
    loglik, yrep : arrays (S, n)
        Pointwise log-likelihood and posterior predictive draws, one row per posterior draw in
        chain-major order.
    obs_coords : mapping, optional
        Labels of each observation (e.g. ``unit``, ``time``) stored as coordinates on ``obs``.
    """
    post = idata.posterior
    C, D = int(post.sizes["chain"]), int(post.sizes["draw"])
    observed = np.asarray(observed)
    n = observed.size
    loglik, yrep = np.asarray(loglik, dtype=float), np.asarray(yrep)
    for name, arr in (("loglik", loglik), ("yrep", yrep)):
        if arr.shape != (C * D, n):
            raise ValueError(f"{name} must have shape ({C * D}, {n}), got {arr.shape}")
    coords: dict[str, Any] = {"obs": np.arange(n)}
    for k, v in (obs_coords or {}).items():
        coords[k] = ("obs", np.asarray(v))
    draw_coords = {"chain": post["chain"].values, "draw": post["draw"].values}
    groups = {
        "observed_data": xr.Dataset({var: ("obs", observed)}, coords=coords),
        "posterior_predictive": xr.Dataset({var: (("chain", "draw", "obs"), yrep.reshape(C, D, n))},
                                           coords={**draw_coords, **coords}),
    }
    has_ll = "log_likelihood" in idata.groups() and var in idata.log_likelihood
    if not has_ll:
        groups["log_likelihood"] = xr.Dataset({var: (("chain", "draw", "obs"), loglik.reshape(C, D, n))},
                                              coords={**draw_coords, **coords})
    idata.extend(az.InferenceData(**groups), join="right")
    return idata


def save_idata(idata: az.InferenceData, path: str | Path) -> Path:
    """Write ``idata`` to a netCDF file atomically (a temporary file beside it, then renamed)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    idata.to_netcdf(str(tmp))
    tmp.replace(path)
    return path
