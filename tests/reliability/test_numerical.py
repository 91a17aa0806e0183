"""Numerical robustness: all-zero series, a single event, very short series, extreme counts.

For every model family the outcome must be one of two things:

* a result whose estimates (parameters, standard errors, statistics, forecasts) are finite; or
* a clear refusal: ``ValueError`` / ``RuntimeError`` with a message, or a warning issued with a
  result that says it did not converge.

A crash from deep inside (ZeroDivisionError, LinAlgError, IndexError, TypeError, a Numba error)
or NaN returned without any warning fails the test.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import pytest

N = 48
CASES: dict[str, np.ndarray] = {
    "all_zero": np.zeros(N),
    "single_event": np.where(np.arange(N) == 30, 1.0, 0.0),
    "very_short": np.array([3.0, 0.0, 5.0, 2.0]),
    "extreme": np.r_[np.full(N // 2, 2_000_000.0), np.full(N // 2, 9_000_000.0)] + np.arange(N),
}
CASE_IDS = list(CASES)
CLEAR = (ValueError, RuntimeError)
np_linalg_error = np.linalg.LinAlgError


def _numbers(obj: Any, path: str = "$"):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _numbers(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _numbers(v, f"{path}[{i}]")
    elif isinstance(obj, np.ndarray):
        for i, v in enumerate(np.asarray(obj, dtype=float).ravel()):
            yield f"{path}[{i}]", float(v)
    elif isinstance(obj, (int, float, np.integer, np.floating)) and not isinstance(obj, bool):
        yield path, float(obj)


def outcome(fn: Callable[[], Any]) -> tuple[str, Any, list[str]]:
    """``("result", value, warnings)`` or ``("refused", message, warnings)``; other errors propagate."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            val = fn()
        except np_linalg_error as exc:  # a ValueError subclass, but not a clear refusal
            raise AssertionError(f"LinAlgError escaped: {exc}") from exc
        except CLEAR as exc:
            msg = str(exc).strip()
            assert msg and not any(m in msg for m in INTERNAL_MESSAGES), \
                f"a refusal must say why in the model's terms, got {type(exc).__name__}: {msg!r}"
            return "refused", msg, _deliberate(w)
    return "result", val, _deliberate(w)


INTERNAL_MESSAGES = ("math domain error", "division by zero", "index out of bounds", "could not broadcast",
                     "singular matrix")


def _deliberate(caught) -> list[str]:
    """Warnings that flag the problem to a user; numpy's floating-point RuntimeWarnings do not count."""
    out = []
    for x in caught:
        text = str(x.message)
        if issubclass(x.category, RuntimeWarning) and any(
                k in text for k in ("invalid value", "divide by zero", "overflow", "underflow", "Mean of empty")):
            continue
        out.append(text)
    return out


def assert_finite_or_flagged(kind: str, value: Any, warns: list[str], flagged: bool = False) -> None:
    if kind == "refused":
        return
    bad = [p for p, v in _numbers(value) if not math.isfinite(v)]
    if bad and not (warns or flagged):
        raise AssertionError(f"non-finite values returned silently at {bad[:6]}")


# -- GLM ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_count_glm(case, family):
    from pakcast.models.glm import CountGLM

    y = CASES[case]
    t = np.arange(len(y), dtype=float)
    X = np.column_stack([np.ones_like(t), (t - t.mean()) / max(t.std(), 1.0)])

    def run():
        r = CountGLM(y, X, family=family).fit()
        return r, {"params": np.asarray(r.params), "bse": np.asarray(r.bse), "predict": r.predict()}

    kind, val, warns = outcome(run)
    if kind == "result":
        res, nums = val
        assert_finite_or_flagged(kind, nums, warns, flagged=not getattr(res, "converged", True))


# -- ITS ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_its(case, family):
    from pakcast.models.its import InterruptedTimeSeries

    y = CASES[case]
    kind, val, warns = outcome(lambda: InterruptedTimeSeries(y, interventions=[len(y) // 2], family=family)
                               .fit(n_sim=200, random_seed=1))
    if kind == "result":
        assert_finite_or_flagged(kind, {"params": np.asarray(val.params), "ci": np.asarray(val.conf_int())}, warns)


# -- break tests --------------------------------------------------------------------------------
def _break_fns():
    from pakcast.models.breaks import BaiPerron, chow_test, count_lr_test, sup_f_test, sup_lr_test

    return {
        "chow": lambda y: chow_test(y, len(y) // 2),
        "count_lr_poisson": lambda y: count_lr_test(y, len(y) // 2, family="poisson"),
        "count_lr_negbin": lambda y: count_lr_test(y, len(y) // 2, family="negbin"),
        "sup_f": lambda y: sup_f_test(y, n_sim=200, random_seed=1),
        "sup_lr_poisson": lambda y: sup_lr_test(y, "poisson", n_sim=200, random_seed=1),
        "bai_perron_l2": lambda y: BaiPerron(y, cost="l2", min_size=0.15, max_breaks=2).fit(),
        "bai_perron_poisson": lambda y: BaiPerron(y, cost="poisson", min_size=0.15, max_breaks=2).fit(),
    }


@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("test", ["chow", "count_lr_poisson", "count_lr_negbin", "sup_f", "sup_lr_poisson",
                                  "bai_perron_l2", "bai_perron_poisson"])
def test_break_tests(test, case):
    y = CASES[case]
    kind, val, warns = outcome(lambda: _break_fns()[test](y))
    if kind != "result":
        return
    if test.startswith("bai_perron"):
        assert val.n_breaks >= 0 and all(0 < b < len(y) for b in val.breaks)
    else:
        assert_finite_or_flagged(kind, [val.statistic, val.pvalue], warns)


# -- baselines ----------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("name", ["ZeroForecast", "LastValue", "SeasonalNaive", "HistoricalRate", "Conflictology"])
def test_baselines(case, name):
    import pakcast.models.baselines as B

    y = CASES[case]
    model = getattr(B, name)()
    kind, val, warns = outcome(lambda: model.forecast(y, h=3, n_samples=300, random_seed=0))
    if kind == "result":
        assert_finite_or_flagged(kind, val, warns)
        s = model.sample(3, 300, 0)
        assert np.isfinite(s).all() and (s >= 0).all()


# -- INGARCH ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASE_IDS)
@pytest.mark.parametrize("link", ["identity", "log"])
def test_ingarch(case, link):
    from pakcast.models.ingarch import INGARCH

    y = CASES[case]

    def run():
        r = INGARCH(y, past_obs=(1,), link=link).fit()
        return r, {"params": np.asarray(r.params), "forecast": r.forecast(3, n_samples=200, random_seed=0)}

    kind, val, warns = outcome(run)
    if kind == "result":
        res, nums = val
        assert_finite_or_flagged(kind, nums, warns, flagged=not getattr(res, "converged", True))


# -- Hawkes -------------------------------------------------------------------------------------
HAWKES_CASES = {
    "no_events": np.array([]),
    "single_event": np.array([10.0]),
    "two_events": np.array([1.0, 2.0]),
    "extreme": np.sort(np.random.default_rng(0).uniform(0, 100.0, 20_000)),
}


@pytest.mark.parametrize("case", list(HAWKES_CASES))
def test_hawkes(case):
    from pakcast.models.hawkes import HawkesExp

    t = HAWKES_CASES[case]

    def run():
        r = HawkesExp(t, T=100.0 if case != "single_event" else 50.0).fit()
        return r, r.to_dict()

    kind, val, warns = outcome(run)
    if kind == "result":
        res, d = val
        core = {k: d[k] for k in ("mu", "alpha", "beta", "branching_ratio") if k in d}
        assert_finite_or_flagged(kind, core, warns, flagged=not getattr(res, "converged", True))


# -- Bayesian (tiny draws) ----------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("case", CASE_IDS)
def test_bayes_changepoint_smoke(case):
    from pakcast.models.bayes.changepoint import BayesianChangepoint

    y = CASES[case]
    kind, val, warns = outcome(lambda: BayesianChangepoint(y, family="poisson").fit(
        sampler="pymc", draws=60, tune=60, chains=2, cores=1, random_seed=1))
    if kind == "result":
        d = val.to_dict()
        core = {k: d[k] for k in d if k in ("switchpoint", "rate_before", "rate_after")}
        assert_finite_or_flagged(kind, core, warns, flagged=not val.diagnostics.converged)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASE_IDS)
def test_bayes_hierarchical_its_smoke(case):
    """A two-unit panel: one unit is the hostile series, the other an ordinary Poisson series."""
    import pandas as pd

    from pakcast.models.bayes.its import HierarchicalNBITS

    y = CASES[case]
    n = len(y)
    ds = pd.date_range("2012-01-01", periods=n, freq="MS")
    other = np.random.default_rng(3).poisson(4.0, n).astype(float)
    panel = pd.DataFrame({"unique_id": ["hostile"] * n + ["ordinary"] * n, "ds": list(ds) * 2,
                          "attacks": np.r_[y, other]})
    brk = [str(ds[n // 2].date())]
    kind, val, warns = outcome(lambda: HierarchicalNBITS(panel, "attacks", brk, exposure=None, n_harmonics=0).fit(
        sampler="pymc", draws=40, tune=40, chains=2, cores=1, random_seed=2))
    if kind == "result":
        post = val.idata.posterior
        vals = np.concatenate([np.asarray(post[v]).ravel() for v in post.data_vars])
        assert_finite_or_flagged(kind, vals, warns, flagged=not val.diagnostics.converged)
