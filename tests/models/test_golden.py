"""The count-regression callers give the numbers they gave before the engine refactor.

``golden/engine.json`` was written by ``golden/make_golden.py`` on the commit before
``models.covariance`` and CountGLM replaced the attribution fitter, the ITS statsmodels fallback
and the hand-written NB log-likelihoods (the command is in the file); this test recomputes the
same numbers with the current code. Tolerance: the old attribution fitter stopped at a relative
log-likelihood change of 1e-9; the numbers agree to ~1e-12 (tolerance 1e-8)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden" / "engine.json"
sys.path.insert(0, str(GOLDEN.parent))
from make_golden import golden  # noqa: E402


@pytest.fixture(scope="module")
def now() -> dict:
    return golden()


@pytest.mark.parametrize("key", [k for k in json.loads(GOLDEN.read_text()) if k != "command"])
def test_numbers_unchanged(now, key):
    before = json.loads(GOLDEN.read_text())[key]
    np.testing.assert_allclose(np.asarray(now[key], dtype=float), np.asarray(before, dtype=float),
                               rtol=1e-8, atol=1e-10, err_msg=key)
