"""Key judgements: 3-5 sentences generated from the results (never hand-written).

Each judgement is built only from numbers that are already in the briefing's sections (the
forecast table, the scorecard, the break table, the ITS effects, the claims check), so every
number a judgement quotes appears elsewhere in ``briefing.json`` with its interval and source.
A judgement whose inputs are missing is not produced; the briefing says which were not.
"""

from __future__ import annotations

from typing import Any

from pakcast.forecast.report.format import fmt_count, fmt_p, fmt_pct, fmt_ratio, fmt_ratio3


def _forecast_national(forecast: dict[str, Any]) -> dict[str, Any] | None:
    rows = [r for r in forecast.get("rows", []) if r["province"] == "Pakistan" and r["measure"] == "attacks"]
    if not rows:
        return None
    r = min(rows, key=lambda r: r["quarter"])
    text = (f"Pakistan is forecast to see {fmt_count(r['q50'])} attacks in {r['quarter']} "
            f"(90% interval {fmt_count(r['q05'])}-{fmt_count(r['q95'])})")
    if r.get("p_gt_last_year") is not None and r.get("last_year") is not None:
        text += (f"; the chance of exceeding the {fmt_count(r['last_year'])} recorded a year earlier is "
                 f"{fmt_pct(r['p_gt_last_year'])}")
    killed = [k for k in forecast.get("rows", []) if k["province"] == "Pakistan" and k["measure"] == "killed"
              and k["quarter"] == r["quarter"]]
    if killed:
        k = killed[0]
        text += (f", with {fmt_count(k['q50'])} deaths expected "
                 f"({fmt_count(k['q05'])}-{fmt_count(k['q95'])})")
    return {"id": "forecast_national", "text": text + ".", "numbers": {"attacks": r, "killed": killed[0] if killed else None}}


def _forecast_province(forecast: dict[str, Any]) -> dict[str, Any] | None:
    rows = [r for r in forecast.get("rows", []) if r["province"] != "Pakistan" and r["measure"] == "attacks"]
    if not rows:
        return None
    first = min(r["quarter"] for r in rows)
    rows = [r for r in rows if r["quarter"] == first]
    top = max(rows, key=lambda r: r["q50"])
    nat = [r for r in forecast.get("rows", []) if r["province"] == "Pakistan" and r["measure"] == "attacks"
           and r["quarter"] == first]
    text = (f"{top['province']} is expected to see the most attacks in {first}: {fmt_count(top['q50'])} "
            f"(90% interval {fmt_count(top['q05'])}-{fmt_count(top['q95'])})")
    if nat and nat[0]["q50"] > 0:
        share = top["mean"] / nat[0]["mean"] if nat[0]["mean"] else None
        if share is not None:
            text += f", about {fmt_pct(share)} of the national expected count"
    return {"id": "forecast_province", "text": text + ".", "numbers": {"province": top}}


def _scorecard(scorecard: dict[str, Any]) -> dict[str, Any] | None:
    best = scorecard.get("headline")
    if not best:
        return None
    who = (f"the published {best['model']} forecasts" if best.get("published") else f"the {best['model']} forecasts")
    text = (f"In rolling-origin backtests of the national {best.get('measure', 'attacks')} series {who} scored a "
            f"mean CRPS of {fmt_ratio(best['crps'])} against {fmt_ratio(best['baseline_crps'])} for the best "
            f"baseline ({best['baseline']}), a skill of {fmt_pct(best['skill'])}")
    if best.get("coverage_90") is not None:
        text += f", and their 90% intervals covered {fmt_pct(best['coverage_90'])} of outcomes"
    return {"id": "scorecard", "text": text + ".", "numbers": best}


def _last_quarter(scorecard: dict[str, Any]) -> dict[str, Any] | None:
    rows = scorecard.get("last_quarter_national") or []
    att = [r for r in rows if r.get("measure", "attacks") == "attacks"]
    if not att:
        return None
    r = att[0]
    inside = r["q05"] <= r["observed"] <= r["q95"]
    issued = f" issued with data to {str(r['vintage_as_of'])[:7]}" if r.get("vintage_as_of") else " of the last vintage"
    text = (f"Checking an earlier forecast: the forecast{issued} put national attacks in {r['quarter']} (the latest "
            f"quarter with outcomes) at "
            f"{fmt_count(r['q50'])} (90% interval {fmt_count(r['q05'])}-{fmt_count(r['q95'])}); "
            f"{fmt_count(r['observed'])} were recorded, " + ("inside" if inside else "outside") + " the interval")
    return {"id": "last_quarter", "text": text + ".", "numbers": r}


def _breaks(breaks: dict[str, Any]) -> dict[str, Any] | None:
    h = breaks.get("headline")
    if not h:
        return None
    parts = []
    if h.get("lr_p") is not None:
        parts.append(f"a count likelihood-ratio test of a break in the national {h['outcome']} series at {h['date']} "
                     f"gives p = {fmt_p(h['lr_p'])}")
    if h.get("level_rr") is not None:
        t = (f"the ITS estimates a level rate ratio of {fmt_ratio(h['level_rr'])} (95% interval "
             f"{fmt_ratio(h['level_rr_low'])}-{fmt_ratio(h['level_rr_high'])})")
        if h.get("slope_rr") is not None:
            t += (f" and a monthly slope rate ratio of {fmt_ratio3(h['slope_rr'])} "
                  f"({fmt_ratio3(h['slope_rr_low'])}-{fmt_ratio3(h['slope_rr_high'])})")
        parts.append(t)
    nb = h.get("nearest_break")
    if nb:
        parts.append(f"the nearest estimated break is {nb['date']} (95% interval {nb['ci_low']} to {nb['ci_high']}), "
                     + ("which contains" if nb["contains"] else "which does not contain") + f" {nb['target']}")
    if not parts:
        return None
    text = "; ".join(parts)
    return {"id": "breaks", "text": text[0].upper() + text[1:] + ".", "numbers": h}


def _its(its: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    outcome = its.get("outcome", "the outcome")
    for r in (its.get("rows") or [])[:2]:
        text = (f"After the intervention of {r['date']} the level of {outcome} changed by a rate ratio of "
                f"{fmt_ratio(r['level_rr'])} (95% interval {fmt_ratio(r['level_rr_low'])}-{fmt_ratio(r['level_rr_high'])})")
        if r.get("slope_rr") is not None:
            text += (f" and the trend by {fmt_ratio3(r['slope_rr'])} per month "
                     f"({fmt_ratio3(r['slope_rr_low'])}-{fmt_ratio3(r['slope_rr_high'])})")
        if r.get("excess") is not None and r.get("excess_low") is not None:
            e, lo, hi = r["excess"], r["excess_low"], r["excess_high"]
            if hi < 0:
                text += (f": {fmt_count(-e)} fewer {outcome} than the counterfactual "
                         f"({fmt_count(-hi)} to {fmt_count(-lo)} fewer)")
            elif lo > 0:
                text += f": {fmt_count(e)} more {outcome} than the counterfactual ({fmt_count(lo)} to {fmt_count(hi)} more)"
            else:
                text += (f": {fmt_count(e)} {outcome} relative to the counterfactual, an interval "
                         f"({fmt_count(lo)} to {fmt_count(hi)}) that includes no change")
        out.append({"id": "its", "text": text + ".", "numbers": r})
    m = its.get("model") or {}
    if its.get("rows") and (m.get("n_obs") or m.get("start")):
        r0 = its["rows"][0]
        text = f"The estimate rests on {m.get('n_obs', '?')} monthly observations ({m.get('start', '?')[:7]} to {m.get('end', '?')[:7]})"
        if r0.get("n_pre") is not None:
            text += f", {r0['n_pre']} before and {r0['n_post']} after {r0['date']}"
        if m.get("dispersion") is not None:
            text += f"; Pearson dispersion {fmt_ratio(m['dispersion'])}"
        if m.get("family"):
            text += f" under a {m['family']} model"
        out.append({"id": "its_data", "text": text + ".", "numbers": {**m, "n_pre": r0.get("n_pre"),
                                                                      "n_post": r0.get("n_post")}})
    return out


def _claims(claims: dict[str, Any]) -> dict[str, Any] | None:
    rows = claims.get("rows", [])
    rise = [r for r in rows if r["claim_id"] == "rise_after_2021_08" and r["status"] == "supported"]
    fall = [r for r in rows if r["claim_id"] == "fall_after_2014" and r["source"] == "UCDP GED" and r["measure"] == "killed"]
    parts = []
    if fall and fall[0]["value"] is not None and fall[0]["ci_low"] is not None:
        f = fall[0]
        parts.append(f"UCDP deaths fell after 2014 to {fmt_ratio(f['value'])} times the 2012-2014 rate "
                     f"(95% interval {fmt_ratio(f['ci_low'])}-{fmt_ratio(f['ci_high'])}; {f['status']})")
    if rise:
        r = max(rise, key=lambda r: (r["n_pre"] or 0) + (r["n_post"] or 0))
        parts.append(f"the rise after August 2021 is supported by {r['source']} {r['resolution']}ly {r['measure']} "
                     f"(rate ratio {fmt_ratio(r['value'])}, 95% interval {fmt_ratio(r['ci_low'])}-"
                     f"{fmt_ratio(r['ci_high'])}), while UCDP's event data end in December 2021 and cannot test it")
    else:
        testable = [r for r in rows if r["claim_id"] == "rise_after_2021_08" and r["status"] != "not testable"]
        if testable or rows:
            parts.append("no source supports the rise after August 2021 at the 95% level")
    if not parts:
        return None
    text = "; ".join(parts)
    return {"id": "claims", "text": text[0].upper() + text[1:] + ".", "numbers": {"fall": fall[:1], "rise": rise[:1]}}


def key_judgements(sections: dict[str, dict[str, Any]], max_n: int = 5) -> list[dict[str, Any]]:
    """The 3-5 key judgements, most decision-relevant first, from the briefing's sections."""
    out = []
    for builder, key in ((_forecast_national, "forecast_table"), (_forecast_province, "forecast_table"),
                         (_its, "its"), (_last_quarter, "scorecard"), (_scorecard, "scorecard"), (_claims, "claims"),
                         (_breaks, "breaks")):
        sec = sections.get(key)
        if not sec or not sec.get("available"):
            continue
        j = builder(sec)
        if isinstance(j, list):
            out.extend(j)
        elif j:
            out.append(j)
    return out[:max_n]
