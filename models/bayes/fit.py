"""Sampling: one entry point for PyMC's NUTS and nutpie, returning ``arviz.InferenceData``.

Both samplers run the same ``pm.Model``; the result always carries ``posterior``,
``sample_stats`` (with ``diverging``), ``observed_data`` and, on request, ``log_likelihood``
(needed by PSIS-LOO) and the wall time of each stage in ``idata.attrs``.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Generic, Literal, TypeVar

import arviz as az
import numpy as np
import pymc as pm

from pakcast.models.bayes.diagnostics import Diagnostics, diagnose

Sampler = Literal["pymc", "nutpie"]
SAMPLERS = ("pymc", "nutpie")


def sample(model: pm.Model, *, sampler: Sampler = "nutpie", draws: int = 1000, tune: int = 1000,
           chains: int = 4, cores: int | None = None, target_accept: float = 0.9,
           random_seed: int | None = None, log_likelihood: bool = False,
           progressbar: bool = False) -> az.InferenceData:
    """Draw posterior samples of ``model`` with NUTS.

    Parameters
    ----------
    model : pymc.Model
    sampler : {"pymc", "nutpie"}
        ``"pymc"`` is ``pm.sample`` (PyTensor C backend); ``"nutpie"`` compiles the model with
        Numba and samples with nutpie's NUTS (usually faster for the models here).
    draws, tune, chains : int
        Draws kept per chain, warm-up iterations per chain and number of chains.
    cores : int, optional
        Parallel chains (default ``min(chains, 2)``).
    target_accept : float
        Target acceptance rate of the step-size adaptation.
    random_seed : int, optional
        Seeds the sampler: the same seed on the same machine gives the same draws.
    log_likelihood : bool
        Also store the pointwise log-likelihood (``idata.log_likelihood``) for LOO.
    progressbar : bool

    Returns
    -------
    arviz.InferenceData
        ``idata.attrs`` holds ``sampler``, ``random_seed``, ``compile_seconds``,
        ``sampling_seconds`` and ``total_seconds``.
    """
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    for name, v in (("draws", draws), ("tune", tune), ("chains", chains)):
        if int(v) < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    if log_likelihood and not model.observed_RVs:
        raise ValueError("log_likelihood=True needs an observed variable; models built with likelihood='numba' "
                         "add the NB2 log-likelihood as a summed potential (use likelihood='native' for LOO)")
    cores = int(cores) if cores is not None else min(int(chains), 2)
    seed = None if random_seed is None else int(random_seed)
    t0 = time.perf_counter()
    if sampler == "pymc":
        with model, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Tt]he number of samples is too small.*")
            idata = pm.sample(draws=int(draws), tune=int(tune), chains=int(chains), cores=cores,
                              target_accept=target_accept, random_seed=seed, progressbar=progressbar,
                              compute_convergence_checks=False, return_inferencedata=True)
        t_compile = float("nan")
        t1 = t0
    else:
        import nutpie

        compiled = nutpie.compile_pymc_model(model)
        t1 = time.perf_counter()
        t_compile = t1 - t0
        idata = nutpie.sample(compiled, draws=int(draws), tune=int(tune), chains=int(chains), cores=cores,
                              seed=seed if seed is not None else int(np.random.SeedSequence().entropy % 2**32),
                              progress_bar=progressbar, target_accept=target_accept, save_warmup=False)
        if "observed_data" not in idata.groups():
            obs = {v.name: model.rvs_to_values[v].data if hasattr(model.rvs_to_values[v], "data")
                   else None for v in model.observed_RVs}
            obs = {k: np.asarray(v) for k, v in obs.items() if v is not None}
            if obs:
                idata.add_groups(observed_data=obs)
    t2 = time.perf_counter()
    if log_likelihood:
        with model:
            pm.compute_log_likelihood(idata, progressbar=False)
    idata.attrs.update({
        "sampler": sampler, "random_seed": -1 if seed is None else seed,
        "compile_seconds": t_compile, "sampling_seconds": t2 - t1, "total_seconds": t2 - t0,
        "draws": int(draws), "tune": int(tune), "chains": int(chains), "cores": cores,
    })
    return idata


R = TypeVar("R")


class SampledModel(Generic[R]):
    """A Bayesian model fitted by NUTS: ``fit`` samples ``build()``, records the model's attributes in
    ``idata.attrs`` and returns its results, warning (:class:`~models.bayes.diagnostics.ConvergenceWarning`)
    when the convergence gates fail. Subclasses give ``build``, ``_attrs``, ``_label`` and ``_results``."""

    #: the default ``target_accept`` of this model's ``fit``
    target_accept: float = 0.9

    def build(self) -> pm.Model:  # pragma: no cover - abstract
        raise NotImplementedError

    def _attrs(self) -> dict[str, Any]:
        """``idata.attrs`` that name the model and its options."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _label(self) -> str:
        """The model as convergence warnings name it."""
        return type(self).__name__

    def _results(self, idata: az.InferenceData) -> R:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, *, sampler: Sampler = "nutpie", draws: int = 1000, tune: int = 1000, chains: int = 4,
            cores: int | None = None, target_accept: float | None = None, random_seed: int | None = None,
            log_likelihood: bool = False, progressbar: bool = False) -> R:
        """Sample the posterior (see :func:`sample`; ``target_accept`` defaults to the model's) and
        return the results."""
        idata = sample(self.build(), sampler=sampler, draws=draws, tune=tune, chains=chains, cores=cores,
                       target_accept=self.target_accept if target_accept is None else target_accept,
                       random_seed=random_seed, log_likelihood=log_likelihood, progressbar=progressbar)
        idata.attrs.update(self._attrs())
        res = self._results(idata)
        res.diagnostics.warn_if_unconverged(self._label())  # type: ignore[attr-defined]
        return res


class SampledResults:
    """The posterior of a :class:`SampledModel` fit: ``model``, ``idata`` and the convergence
    ``diagnostics`` of the ``monitored`` parameters the fit has; subclasses complete ``idata``
    (observed data, log-likelihood, posterior predictive) in ``_complete_idata``."""

    #: the parameters whose convergence is checked (those the posterior has)
    monitored: tuple[str, ...] = ()

    def __init__(self, model: Any, idata: az.InferenceData) -> None:
        self.model = model
        self.idata = idata
        self.diagnostics: Diagnostics = diagnose(idata, [n for n in self.monitored if n in idata.posterior])
        self._complete_idata()

    def _complete_idata(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _draws(self, name: str) -> np.ndarray:
        """Draws of ``name`` with chains and draws stacked first (dimension ``sample``)."""
        return self.idata.posterior[name].stack(sample=("chain", "draw")).transpose("sample", ...).values
