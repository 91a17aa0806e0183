"""Number formatting shared by the HTML template, the PDF pages, the judgements and the tests.

One function per kind of number, so the text a reader sees can be checked against
``briefing.json`` by formatting the JSON value the same way.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

DASH = "–"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def _number(fmt: Callable[[float], str]) -> Callable[[Any], str]:
    """A number formatter: a dash for a missing value (``None``, NaN, infinite), else ``fmt(float(v))``."""

    @functools.wraps(fmt)
    def format_number(v: Any) -> str:
        return DASH if _missing(v) else fmt(float(v))

    return format_number


@_number
def fmt_count(v: float) -> str:
    """Counts and expected counts: whole numbers with thousands separators (one decimal below 10)."""
    if abs(v) < 0.05:
        return "0"
    if abs(v) < 10 and v != round(v):
        return f"{v:.1f}"
    return f"{v:,.0f}"


@_number
def fmt_ratio(v: float) -> str:
    """Rate ratios, CRPS and other continuous statistics: two decimals (two significant figures in plain
    decimals below 0.1, so an interval ``0.24 (0.058–0.86)`` reads at one precision; three significant
    figures from 10, so ``1.02 (0.089–11.2)``, never ``45.57``)."""
    if v != 0 and abs(v) < 0.1:
        return f"{v:.{1 - int(math.floor(math.log10(abs(v))))}f}"
    if abs(v) >= 99.95:
        return f"{v:,.0f}"
    if abs(v) >= 9.995:
        return f"{v:,.1f}"
    return f"{v:,.2f}"


@_number
def fmt_pct(v: float) -> str:
    """A proportion as a whole percentage."""
    return f"{100 * v:.0f}%"


@_number
def fmt_prob(v: float) -> str:
    """A probability that never reads as certainty: ``>99%``, ``<1%``, else a whole percentage."""
    return ">99%" if v > 0.995 else "<1%" if v < 0.005 else f"{100 * v:.0f}%"


@_number
def fmt_p(v: float) -> str:
    """p-values: three decimals, ``<0.001`` below."""
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def fmt_auto(v: Any) -> str:
    """Any table cell: counts for integers, ratios for other numbers, text as is."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return fmt_count(v)
    if isinstance(v, float):
        if _missing(v):
            return DASH
        return fmt_count(v) if v == round(v) and abs(v) >= 1 else fmt_ratio(v)
    if v is None:
        return DASH
    return str(v)


#: readable names of the forecasting models (tables and figures; ``briefing.json`` keeps the ids)
MODEL_LABELS = {
    "zero": "no events (zero)", "last_value": "last month repeated", "historical_rate": "long-run average",
    "seasonal_naive": "same months last year", "conflictology": "recent average (conflictology)",
    "negbin_12": "negative binomial, 12 months", "negbin_24": "negative binomial, 24 months",
    "poisson_12": "Poisson, 12 months", "poisson_24": "Poisson, 24 months",
    "nb_glm": "negative binomial regression", "nb_local": "negative binomial around a wandering level",
    "ingarch": "count autoregression (INGARCH)",
    "hawkes": "self-exciting (Hawkes)", "bayes_hier": "Bayesian hierarchical", "ens_crps": "ensemble (skill-weighted)",
    "ens_equal": "ensemble (equal weights)", "ensemble": "ensemble", "published": "published forecast",
    "stack": "ensemble anchored on the 12-month negative binomial",
}
#: table columns whose values are ids shown in words by :func:`readable` (models, covariates, their groups)
LABEL_COLUMNS = ("model", "best_model", "best_baseline", "baseline", "published_model", "covariate", "group")


def readable(name: Any) -> str:
    """An id in words for readers: model ids by :data:`MODEL_LABELS` (``historical_rate`` -> ``long-run
    average``), any other snake_case name with spaces (``security_operations`` -> ``security operations``)."""
    text = str(name)
    return MODEL_LABELS.get(text, text.replace("_", " "))


def column_kind(values: list[Any], name: str = "") -> str:
    """How to format one table column: ``p`` (p-values), ``count`` (all whole numbers),
    ``ratio`` (other numbers), ``label`` (ids shown by :func:`readable`) or ``text``."""
    if name.split(".")[-1] in LABEL_COLUMNS and all(isinstance(v, str) or v is None for v in values):
        return "label"
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and not _missing(v)]
    if not nums:
        return "text"
    key = name.lower().replace("-", "_").split(".")[-1]
    if key.endswith(("pvalue", "p_value", "p_holm", "p_adjusted", "p_adj")) or key == "p" or key.endswith("_p"):
        return "p"
    return "count" if all(float(v) == round(float(v)) for v in nums) else "ratio"


def fmt_cell(v: Any, kind: str) -> str:
    """Format one table cell by its column's kind (see :func:`column_kind`)."""
    if kind == "label" and isinstance(v, str):
        return readable(v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return fmt_auto(v)
    return {"p": fmt_p, "count": fmt_count, "ratio": fmt_ratio}.get(kind, fmt_auto)(v)


@_number
def fmt_ratio3(v: float) -> str:
    """Rate ratios per month (slopes), which sit close to 1: three decimals."""
    return f"{v:.3f}"


@_number
def fmt_rate(v: float) -> str:
    """Rates (per 100,000 people): two significant figures in plain decimals (``0.53``, ``0.0031``)."""
    if v == 0:
        return "0"
    decimals = max(0, 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{decimals}f}"


def rate_interval(mid: Any, low: Any, high: Any) -> str:
    """``0.25 (0.083–0.74)`` in :func:`fmt_rate`'s format; a dash alone when the rate is missing."""
    if _missing(mid):
        return DASH
    return f"{fmt_rate(mid)} ({fmt_rate(low)}–{fmt_rate(high)})"


HEADERS = {"level_rate_ratio": "post/pre rate (×)", "level_ci_low": "95% low", "level_ci_high": "95% high",
           "resolution": "resolution", "sup_f.statistic": "sup-F", "sup_f.p_value": "sup-F p",
           "sup_f.date": "sup-F date", "sup_lr_negbin.p_value": "count sup-LR p", "sup_lr_negbin.date": "count sup-LR date",
           "n_breaks": "breaks", "log_score": "log score", "coverage_50": "50% coverage", "coverage_80": "80% coverage",
           "coverage_90": "90% coverage", "mae": "mean abs. error", "crps": "CRPS", "best_model": "best model",
           "best_model_crps": "best model CRPS", "best_baseline": "best baseline", "best_baseline_crps": "baseline CRPS",
           "beats_best_baseline": "beats baseline", "events_per_year": "events / year", "vintage_as_of": "issued with data to",
           "covered_90": "in 90% interval", "abs_error": "abs. error", "delta_crps": "CRPS change", "irr_per_sd": "IRR per SD",
           "irr_per_sd_ci_low": "IRR per SD low", "irr_per_sd_ci_high": "IRR per SD high",
           "unique_id": "series", "n_post": "n post", "n_pre": "n pre", "ci_low": "95% CI low", "ci_high": "95% CI high",
           "contains_2014_12": "CI contains 2014-12", "contains_2021_08": "CI contains 2021-08",
           "coverage_90_in_85_95": "coverage in 85-95%", "in_goal_scope": "≥10 events/yr",
           "skill_vs_best_baseline": "skill vs best baseline", "irr": "IRR", "pvalue": "p", "p_value": "p"}


#: the parts of a run that ``results.json["not_produced"]`` names by file or step, in words
NOT_PRODUCED_LABELS = {"breaks.json": "panel break study (breaks.json)",
                       "attribution.json": "attribution study (attribution.json)",
                       "backtest": "backtest and scorecard", "store": "archive in the forecast store",
                       "briefing": "briefing (HTML, PDF)", "vintage": "forecast vintage"}


def not_produced_label(key: str) -> str:
    """A ``not_produced`` key in words (``breaks.json`` -> ``panel break study (breaks.json)``)."""
    return NOT_PRODUCED_LABELS.get(str(key), str(key).replace("_", " "))


def header_label(column: str) -> str:
    """A table column's label for readers (``skill_vs_best_baseline`` -> ``skill vs best baseline``)."""
    return HEADERS.get(column, column.replace("_", " ").replace(".", " "))


#: the formatters by the names the HTML template uses them under (``{{ v | count }}``)
TEMPLATE_FILTERS: dict[str, Callable[..., str]] = {
    "header": header_label, "rate": fmt_rate, "count": fmt_count, "ratio": fmt_ratio, "ratio3": fmt_ratio3,
    "pct": fmt_pct, "pval": fmt_p, "auto": fmt_auto, "cell": fmt_cell, "label": readable,
    "rate_interval": rate_interval,
}
