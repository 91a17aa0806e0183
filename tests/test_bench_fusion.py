"""bench_fusion's divergence report names the coordinate that moved most in each divergent step."""

import numpy as np
import pytest
import xarray as xr

from pakcast.models.fusion import MeasurementModel
from pakcast.models.fusion.simulate import simulate_fusion

@pytest.fixture()
def bench(benchmark_module):
    return benchmark_module("bench_fusion")


def _model():
    obs, truth = simulate_fusion(n_units=3, n_months=36, horizon=3, random_seed=1)
    return MeasurementModel(obs, "A", truth["units"], truth["months"]), truth


def test_every_coordinate_has_a_label_naming_its_block_and_unit(bench):
    m, truth = _model()
    labels = bench.coordinate_labels(m)
    assert len(labels) == m.layout.ndim
    lo, hi = m.layout.offsets["log_sigma_raw"]
    u = truth["units"][1]
    assert labels[lo + 1] == f"log_sigma_raw[{m.design.measures[0]}, {u}]"
    z0, z1 = m.layout.offsets["z"]
    assert len(set(labels[z0:z1])) == len(m.design.measures) * len(truth["units"])   # months share a label


def test_divergences_counted_by_the_coordinate_that_moved_most(bench):
    m, _ = _model()
    n = m.layout.ndim
    start = np.zeros((1, 3, n))
    end = np.zeros((1, 3, n))
    z0, _ = m.layout.offsets["z"]
    k0, _ = m.layout.offsets["log_kappa"]
    end[0, 0, z0] = 5.0                  # a walk coordinate moves 5 with scale 1
    end[0, 2, k0] = 0.5                  # a scale moves 0.5 but its scale is 0.01
    end[0, 2, z0] = 2.0
    scale = np.ones((1, 3, n))
    scale[0, 2, k0] = 1e-4               # inverse mass matrix: variance
    ss = xr.Dataset({"diverging": (("chain", "draw"), np.array([[True, False, True]])),
                     "divergence_start": (("chain", "draw", "c"), start),
                     "divergence_end": (("chain", "draw", "c"), end),
                     "mass_matrix_inv": (("chain", "draw", "c"), scale)})
    labels = bench.coordinate_labels(m)
    assert bench.divergence_sites(m, ss) == {labels[z0]: 1, labels[k0]: 1}
    ss["diverging"][:] = False
    assert bench.divergence_sites(m, ss) == {}
