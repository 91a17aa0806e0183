"""``pakcast hawkes --csv`` on events with no clustering: a boundary fit, one-line output, no traceback."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from pakcast.forecast.cli import app


def test_hawkes_csv_unclustered_events(tmp_path):
    rng = np.random.default_rng(11)
    days = np.arange(0, 4 * 365, 5) + rng.integers(0, 2, 292)  # one event every ~5 days, no clustering
    p = tmp_path / "events.csv"
    pd.DataFrame({"date": pd.Timestamp("2018-01-01") + pd.to_timedelta(np.unique(days), unit="D")}).to_csv(p, index=False)
    out = tmp_path / "hk.json"
    r = CliRunner().invoke(app, ["hawkes", "--csv", str(p), "--n-samples", "200", "--json", str(out)])
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output and "homogeneous Poisson" in r.output
    d = json.loads(out.read_text(encoding="utf-8"), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert d["boundary"] is True and d["branching_ratio"]["estimate"] == 0.0
    assert 0.0 < d["branching_ratio"]["ci_high"] < 1.0
    assert "Gamma" in d["forecast"]["parameter_draws"]
    rate = d["n_events"] / d["T_days"]
    assert abs(d["forecast"]["bins"][0]["mean"] - 30 * rate) < 0.1 * 30 * rate
