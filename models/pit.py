r"""Randomised probability integral transform (PIT) of count observations under sample forecasts.

.. math::

    u_i = F_i(y_i - 1) + v_i\,[F_i(y_i) - F_i(y_i - 1)], \qquad v_i \sim U(0, 1),

with :math:`F_i` the empirical predictive CDF of the samples for observation :math:`i`; for a
calibrated forecast :math:`u_i \sim U(0, 1)` (Czado, Gneiting & Held 2009, *Biometrics* 65(4)).
The one implementation: ``forecast.scoring`` and ``models.bayes.diagnostics`` use it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["randomized_pit"]


def randomized_pit(obs, samples, random_seed=None) -> np.ndarray:
    """Randomised PIT values, shape of ``obs``; ``samples`` has shape ``obs.shape + (n_samples,)``."""
    obs = np.asarray(obs, dtype=float)
    samples = np.asarray(samples, dtype=float)
    if samples.shape[:-1] != obs.shape:
        raise ValueError(f"samples shape {samples.shape} must be obs shape {obs.shape} + (n_samples,)")
    f_le = (samples <= obs[..., None]).mean(axis=-1)
    f_lt = (samples < obs[..., None]).mean(axis=-1)
    v = np.random.default_rng(random_seed).uniform(size=obs.shape)
    return f_lt + v * (f_le - f_lt)
