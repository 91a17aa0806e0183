"""Multi-source measurement model: latent monthly intensity per unit, each source a scaled view.

- :mod:`pakcast.models.fusion.model`: :class:`MeasurementModel` (the maths, the design, the PyMC model).
- :mod:`pakcast.models.fusion.results`: :class:`FusionResults` (scales, latent quantiles, sample paths,
  predictive draws of published figures, diagnostics, ``idata``).
- :mod:`pakcast.models.fusion.simulate`: :func:`simulate_fusion` (known panel, three sources),
  :func:`replication_coverage` (interval coverage over simulated replications).
"""

from pakcast.models.fusion.model import (
    DEFAULT_PRIORS,
    OBSERVATION_COLUMNS,
    FusionDesign,
    MeasurementModel,
)
from pakcast.models.fusion.simulate import replication_coverage, simulate_fusion

__all__ = [
    "DEFAULT_PRIORS",
    "OBSERVATION_COLUMNS",
    "FusionDesign",
    "FusionResults",
    "MeasurementModel",
    "replication_coverage",
    "simulate_fusion",
]


def __getattr__(name: str):
    if name == "FusionResults":
        from pakcast.models.fusion.results import FusionResults

        return FusionResults
    raise AttributeError(name)
