"""Golden numbers of the count-regression callers (attribution, ITS, known-date and unknown-break tests).

Written once before the engine refactor (models.covariance, CountGLM everywhere) by

    PYTHONPATH=<checkout of the commit before it> python tests/models/golden/make_golden.py tests/models/golden/engine.json

and read by tests/models/test_golden.py, which recomputes the same numbers with the current code.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def golden() -> dict:
    from pakcast.forecast.country import profile
    from pakcast.forecast import attribution_study as st
    from pakcast.forecast.covariates import load_covariates
    from pakcast.forecast.panel import load_panel
    from pakcast.models.breaks import BaiPerron, count_lr_test
    from pakcast.models.its import InterruptedTimeSeries

    panel, cov = load_panel("month"), load_covariates("month")
    out: dict = {}
    a = st.run_attribution(panel, cov, random_seed=7, backtest=False, n_draws=50, n_samples=200)
    out["attribution_effects"] = [[e["irr"], e["ci_low"], e["ci_high"]] for e in a["effects"]]
    out["attribution_shapley"] = [[s["share"], s["ci_low"], s["ci_high"]] for s in a["shapley"]]
    out["attribution_model"] = [a["model"]["alpha_nb"], a["model"]["loglike"]]
    d = st.assemble(panel, cov, "attacks", st.DEFAULT_GROUPS)
    out["granger"] = [[g["wald_chi2"], g["pvalue"]] for g in st._granger(d, "attacks", st.DEFAULT_GROUPS, 12)]
    pl = st._placebo(d, profile().attribution_break.date, 6, 7, 12)
    out["placebo"] = [pl["irr"], pl["ci_low"], pl["ci_high"], pl["z"]] + [p["z"] for p in pl["placebos"]]

    nat = panel[panel["unique_id"] == "Pakistan"].sort_values("ds")
    nat = nat[nat["ds"] >= "2007-01-01"]
    y, t = nat["attacks"].to_numpy(), nat["ds"].reset_index(drop=True)
    for name, kw in {"its_nb": dict(family="negbin"),
                     "its_qp_seasonal": dict(family="quasipoisson", seasonality=2),
                     "its_poisson_nonrobust": dict(family="poisson", cov_type="nonrobust")}.items():
        dates = ["2014-12"] + (["2021-08"] if name == "its_qp_seasonal" else [])
        r = InterruptedTimeSeries(y, t, dates, **kw).fit(random_seed=3)
        ex = r.excess(1)
        out[name] = [*r.params.tolist(), *r.bse.tolist(), r.nb_alpha, r.scale, r.llf, ex["estimate"],
                     ex["ci_low"], ex["ci_high"]]
    i = int(np.flatnonzero(t >= "2014-12-01")[0]) - 1
    trend = np.arange(len(y), dtype=float)
    out["count_lr"] = [count_lr_test(y, i, family=f).statistic for f in ("negbin", "poisson")] + [
        count_lr_test(y, i, X=np.c_[np.ones(len(y)), trend], family="negbin").statistic,
        count_lr_test(y, i, Z=trend[:, None], family="negbin").statistic]
    bp = BaiPerron(y, cost="negbin", min_size=12, max_breaks=5).fit()
    out["bai_perron_negbin"] = [float(bp.n_breaks), bp.cost.alpha_, *map(float, bp.partitions[bp.n_breaks][0])]
    ci = bp.conf_int(hac=True)
    out["bai_perron_ci"] = ci[["ci_low", "index", "ci_high"]].to_numpy(dtype=float).ravel().tolist()
    return out


if __name__ == "__main__":
    res = golden()
    with open(sys.argv[1], "w") as f:
        json.dump({"command": "PYTHONPATH=<pre-refactor checkout> python tests/models/golden/make_golden.py "
                              "tests/models/golden/engine.json", **res}, f, indent=1)
    print("wrote", sys.argv[1])
