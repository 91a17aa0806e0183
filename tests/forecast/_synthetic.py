"""Synthetic panels shared by the forecaster and backtest tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic_panel(n_months=120, seed=0, means=(8.0, 2.0, 0.05), with_y=True):
    """Three provinces of NB2 counts (alpha 0.3) with a mild annual cycle; ``y`` is a copy of
    ``attacks`` (the generic measure name) when ``with_y``."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2005-01-01", periods=n_months, freq="MS")
    rows = []
    for name, mu in zip(("A", "B", "C"), means):
        m = mu * np.exp(0.3 * np.sin(2 * np.pi * ds.month / 12))
        r = 1 / 0.3
        y = rng.negative_binomial(r, r / (r + m))
        k = rng.negative_binomial(r, r / (r + 3 * m))
        cols = {"unique_id": name, "ds": ds, **({"y": y} if with_y else {}), "attacks": y, "killed": k}
        rows.append(pd.DataFrame(cols))
    return pd.concat(rows, ignore_index=True)
