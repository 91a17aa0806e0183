"""Figures of ``pakcast fuse``: one per province (and ``Pakistan``), every source's figures rescaled
to the reference units over the fused band; and the overlap figure of each source's scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pakcast.forecast.provinces import NATIONAL

_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _savefig(fig: Any, path: Path) -> Path:
    import io

    from pakcast.forecast.io import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def draw_fused(axes: Any, fused: pd.DataFrame, obs: pd.DataFrame, scales: pd.DataFrame, prov: str,
               cover: tuple[str, ...], as_of: pd.Timestamp, ylabels: dict[str, str],
               measures: tuple[str, ...] = ("attacks", "killed")) -> None:
    """Draw one province on one axis per measure: the fused monthly median with 50% and 90% bands and
    each source's figures for exactly ``cover``, divided by its estimated scale and by the months they
    span (monthly averages in reference units). The scale is the row's own ``scale`` where ``obs`` has
    that column (the source's scale in the figure's year, :meth:`FusionResults.figure_scales`: scales
    drift), else the source's current one from ``scales``.

    ``fused``: ``province, month (YYYY-MM), measure, median, q05, q25, q75, q95``; ``obs``: the
    observation table (``cover`` tuples, ``first``/``last`` monthly Periods); ``scales``: indexed by
    ``(source, metric)`` with ``estimate``."""
    fused = fused.assign(t=pd.PeriodIndex(fused["month"], freq="M").to_timestamp())
    sources = sorted(set(obs["source"]))
    color = {s: _COLORS[i % len(_COLORS)] for i, s in enumerate(sources)}
    for ax, me in zip(np.atleast_1d(axes), measures):
        f = fused[(fused.province == prov) & (fused.measure == me)]
        ax.fill_between(f["t"], f["q05"], f["q95"], color="0.85", label="fused 90%", step="mid")
        ax.fill_between(f["t"], f["q25"], f["q75"], color="0.65", label="fused 50%", step="mid")
        ax.plot(f["t"], f["median"], color="k", lw=0.9, label="fused median")
        o = obs[(obs.measure == me) & obs["cover"].map(lambda c: set(c) == set(cover))]
        seen = set()
        for r in o.itertuples():
            now = scales.loc[(r.source, r.metric), "estimate"]
            k = getattr(r, "scale", now)
            n = r.last.ordinal - r.first.ordinal + 1
            v = r.value / k / n
            lab = (f"{r.source} {str(r.metric).replace('_', ' ')} / its scale "
                   + (f"in each year (now {now:.2f})" if hasattr(r, "scale") else f"{now:.2f}"))
            kw = {"color": color[r.source], "label": lab if lab not in seen else None}
            seen.add(lab)
            t0 = r.first.to_timestamp()
            if n == 1:
                ax.plot([t0], [v], ".", ms=3, alpha=0.7, **kw)
            else:
                t1 = (r.last + 1).to_timestamp()
                ax.plot([t0, t1], [v, v], "-", lw=1.6, alpha=0.85, **kw)
        ax.axvline(as_of, color="0.4", ls=":", lw=0.8)
        ax.set_ylabel(ylabels[me])
        ax.legend(fontsize=6, ncol=3, loc="upper left")


def province_figures(fr: Any, directory: str | Path) -> list[Path]:
    """``fused_<province>.png`` per province and ``Pakistan`` (:func:`draw_fused` for each)."""
    from pakcast.forecast.fusion import MEASURES, fused_frame
    from pakcast.forecast.io import safe_name

    plt = _plt()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    fused = fused_frame(fr)
    scales = fr.results.scales().set_index(["source", "metric"])
    units = fr.table.units
    as_of = pd.Period(fr.as_of, "M").to_timestamp()
    refs = fr.results.reference()
    ylabels = {me: f"{me} / month\n(as {refs[me]['source']} counts {refs[me]['metric']})" for me in MEASURES}
    obs = fr.table.frame
    d = fr.results.design
    key_of = {k: i for i, k in enumerate(d.keys)}
    month_of = {str(m): i for i, m in enumerate(d.months)}
    keys = np.array([key_of[(s, m)] for s, m in zip(obs["source"], obs["metric"])], dtype=np.int64)
    first = np.array([month_of[str(f)] for f in obs["first"]], dtype=np.int64)
    obs = obs.assign(scale=fr.results.figure_scales(keys, first) if len(obs) else [])
    out = []
    for prov in [*units, NATIONAL]:
        fig, axes = plt.subplots(len(MEASURES), 1, figsize=(10, 6.5), sharex=True)
        cover = tuple(units) if prov == NATIONAL else (prov,)
        draw_fused(axes, fused, obs, scales, prov, cover, as_of, ylabels, MEASURES)
        np.atleast_1d(axes)[0].set_title(f"{prov}: fused monthly series in {fr.units} units (as of {fr.as_of}; "
                                         "dotted line: last observation)", fontsize=9)
        path = directory / f"fused_{safe_name(prov)}.png"
        out.append(_savefig(fig, path))
        plt.close(fig)
    return out


def overlap_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Each source-metric's scale against UCDP with its 90% interval (one row per window)."""
    plt = _plt()
    t = table.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(t) + 1.2))
    y = np.arange(len(t))
    ax.errorbar(t["estimate"], y, xerr=[t["estimate"] - t["ci_low"], t["ci_high"] - t["estimate"]], fmt="o",
                color="k", capsize=3)
    ax.set_yticks(y, [f"{r.source} {r.metric} ({r.window})" for r in t.itertuples()], fontsize=8)
    ax.axvline(1.0, color="0.5", ls=":")
    ax.set_xscale("log")
    ax.set_xlabel("scale relative to UCDP (source count / UCDP count), 90% interval")
    ax.invert_yaxis()
    out = _savefig(fig, Path(path))
    plt.close(fig)
    return out
