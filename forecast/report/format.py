"""Number formatting shared by the HTML template, the PDF pages, the judgements and the tests.

One function per kind of number, so the text a reader sees can be checked against
``briefing.json`` by formatting the JSON value the same way.
"""

from __future__ import annotations

import math
from typing import Any

DASH = "–"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def fmt_count(v: Any) -> str:
    """Counts and expected counts: whole numbers with thousands separators (one decimal below 10)."""
    if _missing(v):
        return DASH
    v = float(v)
    if abs(v) < 0.05:
        return "0"
    if abs(v) < 10 and v != round(v):
        return f"{v:.1f}"
    return f"{v:,.0f}"


def fmt_ratio(v: Any) -> str:
    """Rate ratios, CRPS and other continuous statistics: two decimals (three significant below 0.1)."""
    if _missing(v):
        return DASH
    v = float(v)
    if v != 0 and abs(v) < 0.1:
        return f"{v:.3g}"
    return f"{v:,.2f}"


def fmt_pct(v: Any) -> str:
    """A proportion as a whole percentage."""
    if _missing(v):
        return DASH
    return f"{100 * float(v):.0f}%"


def fmt_p(v: Any) -> str:
    """p-values: three decimals, ``<0.001`` below."""
    if _missing(v):
        return DASH
    v = float(v)
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


def column_kind(values: list[Any], name: str = "") -> str:
    """How to format one table column: ``p`` (p-values), ``count`` (all whole numbers),
    ``ratio`` (other numbers) or ``text``."""
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and not _missing(v)]
    if not nums:
        return "text"
    key = name.lower().replace("-", "_").split(".")[-1]
    if key.endswith(("pvalue", "p_value", "p_holm", "p_adjusted", "p_adj")) or key == "p" or key.endswith("_p"):
        return "p"
    return "count" if all(float(v) == round(float(v)) for v in nums) else "ratio"


def fmt_cell(v: Any, kind: str) -> str:
    """Format one table cell by its column's kind (see :func:`column_kind`)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return fmt_auto(v)
    return {"p": fmt_p, "count": fmt_count, "ratio": fmt_ratio}.get(kind, fmt_auto)(v)


def fmt_ratio3(v: Any) -> str:
    """Rate ratios per month (slopes), which sit close to 1: three decimals."""
    if _missing(v):
        return DASH
    return f"{float(v):.3f}"


def fmt_rate(v: Any) -> str:
    """Rates (per 100,000 people): two significant figures in plain decimals (``0.53``, ``0.0031``)."""
    if _missing(v):
        return DASH
    v = float(v)
    if v == 0:
        return "0"
    decimals = max(0, 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{decimals}f}"


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


def header_label(column: str) -> str:
    """A table column's label for readers (``skill_vs_best_baseline`` -> ``skill vs best baseline``)."""
    return HEADERS.get(column, column.replace("_", " ").replace(".", " "))
