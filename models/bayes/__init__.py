"""Bayesian models (PyMC) with convergence gates.

- :mod:`models.bayes.build`: pure builders ``build_*(data, coords, priors) -> pm.Model``
  (hierarchical NB ITS, severity, change point).
- :mod:`models.bayes.fit`: :func:`~models.bayes.fit.sample` with ``sampler="pymc" | "nutpie"``.
- :mod:`models.bayes.diagnostics`: :class:`~models.bayes.diagnostics.Diagnostics` (R-hat < 1.01,
  bulk/tail ESS > 400, no divergences -> ``converged``), posterior predictive coverage and PIT.
- :mod:`models.bayes.its`: :class:`~models.bayes.its.HierarchicalNBITS` (break effects by unit,
  forecasts).
- :mod:`models.bayes.severity`: frequency-severity casualties.
- :mod:`models.bayes.changepoint`: single change point with the exact posterior over dates.
- :mod:`models.bayes.compare`: PSIS-LOO of complete / no / partial pooling.
- :mod:`models.bayes.sbc`, :mod:`models.bayes.simulate`: calibration and simulated panels.

Submodules are imported on use (PyMC is heavy to import).
"""
