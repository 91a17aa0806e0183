"""Key judgements: 3-5 plain-language sentences generated from the results (never hand-written).

Each judgement is built only from numbers that are already in the briefing's sections (the
forecast table, the scorecard, the break table, the claims check), so every number a judgement
quotes appears elsewhere in ``briefing.json`` with its interval and source. Each says what is
counted (whose count), how sure the estimate is (a range with its probability) and what it rests
on, for a reader who is not a statistician: no model names, no score names, no test statistics
(those are in the sections and the glossary). A judgement whose inputs are missing is not
produced; the briefing says which were not.
"""

from __future__ import annotations

from typing import Any

from pakcast.forecast.country import profile
from pakcast.forecast.report.format import fmt_count, fmt_pct, fmt_prob, fmt_ratio

#: words for the simple forecasting rules the models are compared with
BASELINE_WORDS = {
    "zero": "forecasting no events", "naive": "repeating the last month", "last_value": "repeating the last month",
    "seasonal_naive": "repeating the same months a year earlier", "historical_rate": "the long-run average",
    "climatology": "the average of the same months in earlier years", "conflictology": "the recent average",
    "bootstrap": "resampling past months",
}
#: terms that must not appear in a key judgement (they belong in the technical sections)
JARGON = ("CRPS", "rate ratio", "p =", "p-value", "Diebold", "likelihood", "negbin", "ens_crps", "ens_equal",
          "nb_glm", "ingarch", "hawkes", "bayes_hier", "baseline", "backtest", "ITS")


def baseline_words(name: str) -> str:
    """A simple forecasting rule in words (``historical_rate`` -> ``the long-run average``)."""
    for key, words in BASELINE_WORDS.items():
        if str(name).startswith(key):
            return words
    return "a simple rule of thumb"


def _times(v: float, base: str) -> str:
    """A ratio against ``base`` in words: ``0.45`` -> ``55% lower than before``, ``2.4`` -> ``2.4 times as
    high as before``."""
    if v < 1:
        return f"{fmt_pct(1 - v)} lower than {base}"
    return f"{fmt_ratio(v)} times as high as {base}" if v >= 1.5 else f"{fmt_pct(v - 1)} higher than {base}"


def _counted(ctx: dict[str, Any], measure: str) -> str:
    """What is counted, in words: ``attacks as PIPS counts them`` in a fused run (its units), else
    ``attacks (events as UCDP GED records them)``."""
    units = (ctx.get("units") or {}).get(measure)
    if units:
        return units if measure != "killed" else f"deaths ({units})"
    who = ctx.get("counted_by") or "the run's data"
    return {"attacks": f"attacks (events as {who} records them)",
            "killed": f"deaths (people killed, as {who} records them)"}.get(measure, f"{measure} ({who})")


def _range(lo: float, hi: float) -> str:
    """A 90% range of a ratio in words: ``between 1% lower and 36% higher``, ``1.3 to 2.8 times``."""
    def one(v: float) -> str:
        if v >= 1.5:
            return f"{fmt_ratio(v)} times as high"
        return f"{fmt_pct(abs(v - 1))} {'higher' if v >= 1 else 'lower'}" if round(abs(v - 1), 2) else "no change"
    if lo >= 1 and hi >= 1.5:
        return f"{fmt_ratio(lo)} to {fmt_ratio(hi)} times as high"
    return f"between {one(lo)} and {one(hi)}"


def _chance(p: float) -> str:
    """A probability in words that never reads as certainty: ``more than 99%``, ``less than 1%``."""
    return {">99%": "more than 99%", "<1%": "less than 1%"}.get(fmt_prob(p), fmt_prob(p))


#: a claim's verdict in words for readers (the technical word in brackets)
VERDICT_WORDS = {"supported": "the whole range is on the claimed side, so the data support it (supported)",
                 "inconclusive": "the range includes no change, so the data cannot settle it (inconclusive)",
                 "not supported": "the range lies on the other side of no change: evidence against it (not supported)"}


def _first_quarter(rows: list[dict[str, Any]], ctx: dict[str, Any]) -> str:
    """The quarter a judgement speaks of: the first forecast quarter that had not ended by the run
    date (``ctx["run_date"]``, ISO), else the first."""
    quarters = sorted({r["quarter"] for r in rows})
    run_date = ctx.get("run_date")
    if run_date:
        import pandas as pd

        open_q = [q for q in quarters if pd.Period(q, "Q").end_time.date().isoformat() >= run_date]
        if open_q:
            return open_q[0]
    return quarters[0]


def _forecast_national(forecast: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    rows = [r for r in forecast.get("rows", []) if r["province"] == ctx["national"] and r["measure"] == "attacks"]
    if not rows:
        return None
    q = _first_quarter(rows, ctx)
    r = next(r for r in rows if r["quarter"] == q)
    when = q
    if q != min(r["quarter"] for r in rows):
        when += " (the quarter under way at the run date; no source has published the quarters before it yet)"
    text = (f"{ctx['national']} is expected to see about {fmt_count(r['q50'])} {_counted(ctx, 'attacks')} in "
            f"{when}; there is a 90% chance the number lies between {fmt_count(r['q05'])} and "
            f"{fmt_count(r['q95'])}")
    if r.get("p_gt_last_year") is not None and r.get("last_year") is not None:
        seen = "estimated (from every source) for the same quarter" if ctx.get("fused") else "recorded"
        text += (f", and a {fmt_pct(r['p_gt_last_year'])} chance it exceeds the {fmt_count(r['last_year'])} {seen} "
                 "a year earlier")
    killed = [k for k in forecast.get("rows", []) if k["province"] == ctx["national"] and k["measure"] == "killed"
              and k["quarter"] == r["quarter"]]
    if killed:
        k = killed[0]
        units = (ctx.get("units") or {}).get("killed")
        text += (f". Deaths{f' ({units})' if units else ''}: about {fmt_count(k['q50'])} (90% chance between "
                 f"{fmt_count(k['q05'])} and {fmt_count(k['q95'])})")
    if ctx.get("data"):
        text += (f". This rests on every source's published figures and event counts {ctx['data']}" if ctx.get("fused")
                 else f". This rests on the monthly record {ctx['data']}")
    return {"id": "forecast_national", "text": text + ".", "numbers": {"attacks": r, "killed": killed[0] if killed else None}}


def _forecast_province(forecast: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    rows = [r for r in forecast.get("rows", []) if r["province"] != ctx["national"] and r["measure"] == "attacks"]
    if not rows:
        return None
    first = _first_quarter(rows, ctx)
    rows = [r for r in rows if r["quarter"] == first]
    top = max(rows, key=lambda r: r["q50"])
    nat = [r for r in forecast.get("rows", []) if r["province"] == ctx["national"] and r["measure"] == "attacks"
           and r["quarter"] == first]
    what = (ctx.get("units") or {}).get("attacks") or "attacks"
    text = (f"Most {what} are expected in {top['province']}: about {fmt_count(top['q50'])} in {first} (90% chance "
            f"between {fmt_count(top['q05'])} and {fmt_count(top['q95'])})")
    if nat and nat[0]["mean"]:
        text += f", about {fmt_pct(top['mean'] / nat[0]['mean'])} of the national total"
    text += (", by the same forecast of every province" if ctx.get("fused") else "")
    return {"id": "forecast_province", "text": text + ".", "numbers": {"province": top}}


def _scorecard(scorecard: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    best = scorecard.get("headline")
    if not best:
        return None
    skill = best["skill"]
    text = ("How far to trust these numbers: forecasts made the same way for past quarters, each with only the data "
            "available at the time, were ")
    text += (f"{fmt_pct(skill)} more accurate than {baseline_words(best['baseline'])}" if skill > 0 else
             f"no more accurate than {baseline_words(best['baseline'])} ({fmt_pct(-skill)} less accurate)")
    if best.get("coverage_90") is not None:
        text += f", and the ranges given as 90% likely contained the outcome {fmt_pct(best['coverage_90'])} of the time"
    return {"id": "scorecard", "text": text + ".", "numbers": best}


def _last_quarter(scorecard: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    rows = scorecard.get("last_quarter_national") or []
    att = [r for r in rows if r.get("measure", "attacks") == "attacks"]
    if not att:
        return None
    r = att[0]
    inside = r["q05"] <= r["observed"] <= r["q95"]
    issued = f" made with data to {str(r['vintage_as_of'])[:7]}" if r.get("vintage_as_of") else " of the last vintage"
    text = (f"Checking an earlier forecast: the forecast{issued} put national attacks in {r['quarter']} (the latest "
            f"quarter with outcomes) at about {fmt_count(r['q50'])} (90% interval {fmt_count(r['q05'])}-"
            f"{fmt_count(r['q95'])}); {fmt_count(r['observed'])} were recorded, "
            + ("inside" if inside else "outside") + " the interval")
    return {"id": "last_quarter", "text": text + ".", "numbers": r}


def _breaks(breaks: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    h = breaks.get("headline")
    if not h or h.get("level_rr") is None:
        return None
    what = _counted(ctx, h.get("outcome") or "attacks")
    lo, hi = h["level_rr_low"], h["level_rr_high"]
    if lo <= 1 <= hi:
        text = (f"At {h['date']}, national {what} show no clear immediate step (the level after was "
                f"{fmt_ratio(h['level_rr'])} times the level before; 95% range {fmt_ratio(lo)} to {fmt_ratio(hi)}, "
                "which includes no change)")
    else:
        text = (f"At {h['date']}, national {what} stepped {'down' if hi < 1 else 'up'} at once: the level after was "
                f"{_times(h['level_rr'], 'before')} (95% range {fmt_ratio(lo)} to {fmt_ratio(hi)} times)")
    if h.get("slope_rr") is not None:
        s, slo, shi = h["slope_rr"], h["slope_rr_low"], h["slope_rr_high"]
        if slo <= 1 <= shi:
            text += "; the monthly trend did not change clearly"
        else:
            a, b = sorted((abs(slo - 1), abs(shi - 1)))
            text += (f"; the trend {'fell' if shi < 1 else 'rose'} by about {fmt_pct(abs(s - 1))} a month more than "
                     f"before (95% range {fmt_pct(a)} to {fmt_pct(b)})")
    if h.get("n_pre") is not None:
        text += f". This rests on {h['n_pre']} months before and {h['n_post']} after"
    return {"id": "breaks", "text": text + ".", "numbers": h}


def _claims(claims: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    rows = claims.get("rows", [])
    rise = [r for r in rows if r["claim_id"] == "rise_after_2021_08" and r["status"] == "supported"]
    fall = [r for r in rows if r["claim_id"] == "fall_after_2014" and r["source"] == "UCDP GED" and r["measure"] == "killed"]
    parts = []
    if fall and fall[0]["value"] is not None and fall[0]["ci_low"] is not None:
        f = fall[0]
        parts.append(f"deaths as UCDP records them were {_times(f['value'], 'in 2012-2014')} in 2015-2017 (95% range "
                     f"{fmt_ratio(f['ci_low'])} to {fmt_ratio(f['ci_high'])} times the earlier rate; {f['status']})")
    if rise:
        r = max(rise, key=lambda r: (r["n_pre"] or 0) + (r["n_post"] or 0))
        parts.append(f"the rise after August 2021 is supported by {r['source']}'s {r['resolution']}ly count of "
                     f"{r['measure']}: {_times(r['value'], 'before')} (95% range {fmt_ratio(r['ci_low'])} to "
                     f"{fmt_ratio(r['ci_high'])} times; {r['n_pre']} periods before, {r['n_post']} after), while "
                     "UCDP's event data end in December 2021 and cannot test it")
    elif rows:
        parts.append("no source's figures are clear enough to support the rise after August 2021")
    if not parts:
        return None
    text = "; ".join(parts)
    return {"id": "claims", "text": text[0].upper() + text[1:] + ".", "numbers": {"fall": fall[:1], "rise": rise[:1]}}


def _fused_claims(claims: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    """The rise after August 2021 on the fused series (every source at once), beside the paper's figure."""
    rows = [b for b in claims.get("blocks", []) if b.get("name") == "fused_claims"]
    rise = [c for c in ctx.get("fused_claims", []) if c["claim_id"] == "rise_after_2021_08" and c["measure"] == "attacks"]
    if not rows or not rise:
        return None
    c = rise[0]
    rr = c["fused"]["rate_ratio"]
    text = (f"In a plain before-and-after comparison of every source together, national {c['units']} in the 12 "
            f"months after 15 August 2021 were "
            f"{_times(rr['estimate'], 'in the 12 months before')} (90% range: {_range(rr['ci_low'], rr['ci_high'])}); "
            f"{VERDICT_WORDS.get(c['status'], c['status'])}")
    if c.get("paper"):
        text += f". The source paper says {c['paper'].split(';')[0]}"
    return {"id": "fused_claims", "text": text + ".", "numbers": c}


def _fused_break(breaks: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    """The latest known-date step of national attacks on the fused series, in words."""
    rows = [r for r in ctx.get("fused_breaks", []) if r["series"] == ctx["national"] and r["outcome"] == "attacks"]
    if not rows:
        return None
    r = max(rows, key=lambda r: r["date"])
    rr = r["level_rate_ratio"]
    lo, hi = rr["ci_low"], rr["ci_high"]
    what = _counted(ctx, "attacks")
    base = "the level expected without a change at that month"
    if lo <= 1 <= hi:
        text = (f"From {r['date']}, national {what} show no clear lasting step: over the next 12 months they were "
                f"{_times(rr['estimate'], base)} (90% range: {_range(lo, hi)}, which includes no change)")
    else:
        up = lo > 1
        text = (f"From {r['date']}, national {what} stepped {'up' if up else 'down'} and stayed there: over the next "
                f"12 months they were {_times(rr['estimate'], base)} (90% range: {_range(lo, hi)}; "
                f"{_chance(r['p_increase'] if up else 1 - r['p_increase'])} chance of a {'rise' if up else 'fall'})")
    text += (". This rests on every source's figures before and after that month, each in its own units; it differs "
             "from a plain before-and-after comparison, which also carries the ups and downs around the step")
    return {"id": "fused_breaks", "text": text + ".", "numbers": r}


def _fused_trust(fusion: dict[str, Any], ctx: dict[str, Any]) -> dict[str, Any] | None:
    """How sure: in a fused run without a backtest, whether the fit's own checks passed."""
    if ctx.get("converged", True):
        return None
    return {"id": "fit_checks", "numbers": {"converged": False},
            "text": ("How far to trust these numbers: the model's own checks that its estimates have settled failed in "
                     "this run, so every range above may be too narrow or too wide; the forecast has not yet been tested "
                     "against past quarters. Rerun with more draws before relying on it.")}


def key_judgements(sections: dict[str, dict[str, Any]], max_n: int = 5,
                   context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The 3-5 key judgements, most decision-relevant first, from the briefing's sections.

    ``context``: ``national`` (the national series' name), ``counted_by`` (whose count: the
    source's short name), ``data`` (the span of the record, e.g. ``"1989-01 to 2021-12"``), ``run_date``
    (ISO; the judgements speak of the first quarter not over by then); in a fused run ``fused`` (True),
    ``units`` (measure -> ``attacks as PIPS counts them``), ``converged`` (the fit's gates),
    ``fused_breaks`` and ``fused_claims`` (the records of ``results.json["fusion"]``).
    """
    ctx = {"national": profile().national, "counted_by": None, "data": None, **(context or {})}
    out = []
    for builder, key in ((_forecast_national, "forecast_table"), (_forecast_province, "forecast_table"),
                         (_fused_trust, "fusion"), (_fused_break, "fused_breaks"), (_fused_claims, "fused_claims"),
                         (_scorecard, "scorecard"), (_last_quarter, "scorecard"), (_claims, "claims"),
                         (_breaks, "breaks")):
        sec = sections.get(key)
        if not sec or not sec.get("available"):
            continue
        j = builder(sec, ctx)
        if j:
            out.append(j)
    return out[:max_n]
