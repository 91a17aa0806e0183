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


#: a source's figure above this multiple of the fused 90% band's top is marked on the panel's top edge
OUTLIER = 4.0
#: legend text size (points): the figures go into briefings at about page width, where 6 pt is too small to read
LEGEND_PT = 7.5


def draw_fused(axes: Any, fused: pd.DataFrame, obs: pd.DataFrame, scales: pd.DataFrame, prov: str,
               cover: tuple[str, ...], as_of: pd.Timestamp, measure_units: dict[str, str],
               measures: tuple[str, ...] = ("attacks", "killed")) -> None:
    """Draw one province on one axis per measure: the fused monthly median with 50% and 90% bands and
    each source's figures for exactly ``cover``, divided by its estimated scale and by the months they
    span (monthly averages in reference units). The scale is the row's own ``scale`` where ``obs`` has
    that column (the source's scale in the figure's year, :meth:`FusionResults.figure_scales`: scales
    drift), else the source's current one from ``scales``. One legend, under the lowest axis
    (:func:`legend_below`), names the bands, the two marks and each source's colour with its scales now.
    Each axis reads ``<measure> / month`` and names its units above its left corner
    (``measure_units[measure]``, e.g. "attacks as PIPS counts them"): a two-line axis label is taller
    than a panel and runs into the next one's.

    ``fused``: ``province, month (YYYY-MM), measure, median, q05, q25, q75, q95``; ``obs``: the
    observation table (``cover`` tuples, ``first``/``last`` monthly Periods); ``scales``: indexed by
    ``(source, metric)`` with ``estimate``."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fused = fused.assign(t=pd.PeriodIndex(fused["month"], freq="M").to_timestamp())
    sources = sorted(set(obs["source"]))
    color = {s: _COLORS[i % len(_COLORS)] for i, s in enumerate(sources)}
    drifting = "scale" in obs.columns
    now_of: dict[str, dict[str, float]] = {}  # source -> metric -> its scale now, for the legend
    shapes: set[str] = set()
    axes = list(np.atleast_1d(axes))
    for ax, me in zip(axes, measures):
        f = fused[(fused.province == prov) & (fused.measure == me)]
        ax.fill_between(f["t"], f["q05"], f["q95"], color="0.85", label="fused 90%", step="mid")
        ax.fill_between(f["t"], f["q25"], f["q75"], color="0.65", label="fused 50%", step="mid")
        ax.plot(f["t"], f["median"], color="k", lw=0.9, label="fused median")
        o = obs[(obs.measure == me) & obs["cover"].map(lambda c: set(c) == set(cover))]
        band_top = float(np.nanmax(f["q95"])) if len(f) else 0.0
        values = []
        for r in o.itertuples():
            k = getattr(r, "scale", scales.loc[(r.source, r.metric), "estimate"])
            values.append(r.value / k / (r.last.ordinal - r.first.ordinal + 1))
        # a figure far above the fused band (one month of a sparse region) would squash the series into
        # the panel's foot: the scale stops at OUTLIER x the band's top and such a figure is marked there
        near = [v for v in values if v <= OUTLIER * band_top] if band_top > 0 else values
        top = 1.05 * max([band_top] + near) if (band_top > 0 and len(near) < len(values)) else None
        for r in o.itertuples():
            now = scales.loc[(r.source, r.metric), "estimate"]
            k = getattr(r, "scale", now)
            n = r.last.ordinal - r.first.ordinal + 1
            v = r.value / k / n
            now_of.setdefault(r.source, {})[str(r.metric).replace("_", " ")] = float(now)
            t0 = r.first.to_timestamp()
            if top is not None and v > top:  # off the scale: a mark on the panel's top edge
                shapes.add("above")
                ax.plot([t0], [top], "^", ms=3.5, color=color[r.source], clip_on=False, zorder=5)
                continue
            if n == 1:
                shapes.add("month")
                ax.plot([t0], [v], ".", ms=3, alpha=0.7, color=color[r.source])
            else:
                shapes.add("period")
                t1 = (r.last + 1).to_timestamp()
                ax.plot([t0, t1], [v, v], "-", lw=1.6, alpha=0.85, color=color[r.source])
        ax.axvline(as_of, color="0.4", ls=":", lw=0.8)
        if top is not None:
            ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]), top=top)
        ax.set_ylabel(f"{me} / month")
        if measure_units.get(me):
            ax.set_title(measure_units[me], loc="left", fontsize=7, color="0.3")
    # one legend for every panel, under the lowest: outside the axes it covers none of the data. The
    # bands and the median, the two marks of a source's figures, then one colour per source with its
    # scales now (a figure is divided by its source's scale in the figure's year when scales drift)
    handles, labels = axes[0].get_legend_handles_labels()
    by = " in its year" if drifting else ""
    if "month" in shapes:
        handles.append(Line2D([], [], color="0.35", marker=".", ms=4, ls=""))
        labels.append(f"a monthly figure / its source's scale{by}")
    if "period" in shapes:
        handles.append(Line2D([], [], color="0.35", lw=1.6))
        labels.append(f"a longer figure per month / its scale{by}")
    if "above" in shapes:
        handles.append(Line2D([], [], color="0.35", marker="^", ms=4, ls=""))
        labels.append(f"a figure above the scale (more than {OUTLIER:g}x the fused 90% band's top)")
    for src in sources:
        if src in now_of:
            handles.append(Patch(color=color[src]))
            labels.append(f"{src}, scale now: " + ", ".join(f"{m} {v:.2f}" for m, v in now_of[src].items()))
    # as many columns (at most 3) as fit in the panel's width: text is about half its point size wide
    # a character, a column's mark and gaps about 30 pt
    width_pt = axes[-1].get_position().width * axes[-1].figure.get_figwidth() * 72
    ncol = int(np.clip(width_pt // (0.5 * LEGEND_PT * max(map(len, labels)) + 30), 1, 3))
    legend_below(axes[-1], handles=handles, labels=labels, fontsize=LEGEND_PT, ncol=ncol)


def legend_below(ax: Any, **kw: Any) -> Any:
    """The axis's legend outside it, under its x tick labels (and x label) when they are shown: it covers
    none of the data, whatever the series do. The offset is in points, so it holds after any layout;
    ``fig.tight_layout()`` (or ``bbox_inches="tight"``) makes room for it."""
    from matplotlib.transforms import ScaledTranslation

    drop = 3.0
    if ax.xaxis.get_tick_params().get("labelbottom", True):
        tick = ax.xaxis.get_major_ticks()[0]
        drop += tick.get_tick_padding() + tick.get_pad() + 1.3 * tick.label1.get_size()
    if ax.xaxis.label.get_text() and ax.xaxis.label.get_visible():
        drop += ax.xaxis.labelpad + 1.3 * ax.xaxis.label.get_size()
    below = ax.transAxes + ScaledTranslation(0, -drop / 72, ax.figure.dpi_scale_trans)
    return ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.0), bbox_transform=below, borderaxespad=0.0, **kw)


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
    measure_units = {me: f"as {refs[me]['source']} counts {refs[me]['metric']}" for me in MEASURES}
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
        draw_fused(axes, fused, obs, scales, prov, cover, as_of, measure_units, MEASURES)
        fig.suptitle(f"{prov}: fused monthly series in {fr.units} units (as of {fr.as_of}; dotted line: last "
                     "observation)", fontsize=9)
        fig.tight_layout()  # room under the panels for the legend
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
