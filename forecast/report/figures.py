"""Briefing figures in one accessible style.

Figures are plain :class:`matplotlib.figure.Figure` objects (pyplot's global state and backend are
left alone). Every figure uses the Okabe-Ito colour-blind-safe palette (sequential maps use ``cividis``), labels
both axes with units, carries a source line under the plot, and is saved as PNG and SVG under
``run_dir/figures/`` (atomically, via :mod:`forecast.io`). Functions take plain tables and return a
:class:`FigureRecord`; no statistics are computed here.
"""

from __future__ import annotations

import base64
import functools
import io
import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.patches import Polygon as MplPolygon
from pakcast.forecast.io import atomic_write_bytes, safe_name
from pakcast.forecast.report.format import fmt_rate, readable
from shapely.geometry import LineString
from shapely.geometry import Polygon as ShapelyPolygon
from shapely.ops import polylabel

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
# yellow is left out of the line cycle: too little contrast on white for thin lines
CYCLE = [OKABE_ITO[k] for k in ("blue", "orange", "green", "vermillion", "purple", "sky", "black")]
HISTORY = "#333333"
FAN = OKABE_ITO["blue"]
STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
    "axes.prop_cycle": matplotlib.cycler(color=CYCLE),
    "legend.frameon": False,
    "legend.fontsize": 8,
    "svg.fonttype": "none",
    "figure.dpi": 100,
}
UNITS = {"attacks": "attacks per quarter (events)", "killed": "deaths per quarter (people killed)"}


@dataclass
class FigureRecord:
    """A saved figure: name, caption, source line, file paths and the SVG for embedding."""

    name: str
    title: str
    caption: str
    source: str
    png: Path
    svg: Path
    svg_base64: str
    alt: str
    mime: str = "image/svg+xml"
    figure: Any = field(default=None, repr=False, compare=False)  # the vector Figure, for the PDF
    redraw: Callable[[Figure], None] | None = field(default=None, repr=False, compare=False)  # see redrawable

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "caption": self.caption, "source": self.source,
                "png": f"figures/{self.png.name}",
                "svg": f"figures/{self.svg.name}" if self.svg.suffix == ".svg" else None, "alt": self.alt}


#: while a figure is redrawn onto a PDF page (``FigureRecord.redraw``): the page's Figure
_HOST: ContextVar[Figure | None] = ContextVar("pakcast_figure_host", default=None)


def new_figure(width: float = 7.5, height: float = 4.0, nrows: int = 1, ncols: int = 1, **kw: Any):
    """A figure and axes in the briefing style (during a redraw: new axes on the host page)."""
    host = _HOST.get()
    with matplotlib.rc_context(STYLE):
        # plain Figure objects (no pyplot): no global backend switch, no figure registry, thread-safe
        fig = host if host is not None else Figure(figsize=(width, height))
        axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def redrawable(fn: Callable[..., FigureRecord]) -> Callable[..., FigureRecord]:
    """Give a figure function's record a ``redraw(host)`` that draws the same figure again as new axes
    on ``host`` (nothing saved), in the order ``record.figure.axes`` has them: so the PDF can put two
    vector figures on one page (:meth:`forecast.report.pdf.PageWriter.image`)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> FigureRecord:
        rec = fn(*args, **kwargs)

        def redraw(host: Figure) -> None:
            token = _HOST.set(host)
            try:
                fn(*args, **kwargs)
            finally:
                _HOST.reset(token)

        rec.redraw = redraw
        return rec

    return wrapper


def save_figure(fig, figures_dir: Path, name: str, title: str, caption: str, source: str,
                alt: str | None = None) -> FigureRecord:
    """Save PNG (150 dpi) and SVG atomically; ``source`` goes into the record for the caption.
    During a redraw (:func:`redrawable`) nothing is laid out or saved (returns None)."""
    if _HOST.get() is not None:
        return None  # type: ignore[return-value]
    with matplotlib.rc_context(STYLE):
        # the source line is printed once, in the caption (HTML and PDF), not inside the picture as well
        fig.tight_layout()
        stem = safe_name(name)
        png_buf, svg_buf = io.BytesIO(), io.BytesIO()
        fig.savefig(png_buf, format="png", dpi=150)
        fig.savefig(svg_buf, format="svg", metadata={"Date": None})
    png = atomic_write_bytes(Path(figures_dir) / f"{stem}.png", png_buf.getvalue())
    svg = atomic_write_bytes(Path(figures_dir) / f"{stem}.svg", svg_buf.getvalue())
    return FigureRecord(name=stem, title=title, caption=caption, source=source, png=png, svg=svg,
                        svg_base64=base64.b64encode(svg_buf.getvalue()).decode("ascii"), alt=alt or caption,
                        figure=fig)


def external_png(png: Path, figures_dir: Path, name: str, title: str, caption: str, source: str) -> FigureRecord:
    """A figure another command drew (e.g. ``its.png``): copied into ``figures/`` and embedded as PNG."""
    data = Path(png).read_bytes()
    target = atomic_write_bytes(Path(figures_dir) / f"{safe_name(name)}.png", data)
    return FigureRecord(name=safe_name(name), title=title, caption=caption, source=source, png=target, svg=target,
                        svg_base64=base64.b64encode(data).decode("ascii"), alt=caption, mime="image/png")


def quarterly_history(panel: pd.DataFrame, province: str, measure: str) -> pd.Series:
    """Quarterly totals of ``measure`` for one province (complete quarters only)."""
    p = panel[panel["province"] == province]
    s = p.set_index(pd.PeriodIndex(pd.to_datetime(p["period"]), freq="M"))[measure].astype(float)
    q = s.groupby(s.index.asfreq("Q")).agg(["sum", "count"])
    return q.loc[q["count"] == 3, "sum"]


#: a fan's 90% band may run this far above the history and the median before the scale follows the history
CLIP_RATIO = 2.0
#: a linear scale is kept while the recent level (last observed quarters, forecast median) reaches this share of it
SQUASH = 0.2
RECENT_QUARTERS = 8
CLIP_MARK = "90% interval cut at the top (▲: its highest value)"
CLIP_CAPTION = (" Where the 90% interval would dwarf the history, the vertical scale follows the history and the "
                "forecast's middle half, and the band is cut at the top (▲, with the highest value it reaches).")
MEAN_CAPTION = (" Where the forecast median is 0 (a sparse series: most quarters have no event, some have "
                "several), the dotted line gives the forecast mean, the expected count.")
SQRT_CAPTION = (" Panels marked √ use a square-root vertical scale (ticks in counts), so that a low recent level "
                "stays visible beside past peaks and the forecast's 90% interval.")
MEAN_LABEL = "forecast mean (expected count)"


def fan_top(history: np.ndarray, q50: np.ndarray, q75: np.ndarray, q95: np.ndarray) -> float | None:
    """The count axis's top when the forecast's 90% band would dominate the panel, else ``None``.

    The scale follows what was observed and the middle of the forecast (the larger of the history's
    maximum and the forecast's 75th percentile, with a margin), when the 90% band's top would reach
    more than :data:`CLIP_RATIO` times that: the history is then readable, and the band is cut at the
    top and marked (:func:`_draw_fan`)."""
    finite = [np.asarray(a, dtype=float)[np.isfinite(a)] for a in (history, q50, q75, q95)]
    ref = max([float(a.max()) for a in finite[:3] if a.size] + [0.0])
    top = float(finite[3].max()) if finite[3].size else 0.0
    if ref <= 0 or top <= CLIP_RATIO * ref:
        return None
    return 1.15 * ref


def fan_scale(history: np.ndarray, q50: np.ndarray, q95: np.ndarray) -> str:
    """``"sqrt"`` when on a linear axis the recent level (the last :data:`RECENT_QUARTERS` observed quarters
    and the forecast median) would stay below :data:`SQUASH` of the panel's height, squashed under past
    peaks or the 90% band (a sparse province's fan); else ``"linear"``."""
    h = np.asarray(history, dtype=float)
    h = h[np.isfinite(h)]
    level = float(h[-RECENT_QUARTERS:].max()) if h.size else 0.0
    level = max([level] + [float(v) for v in np.asarray(q50, dtype=float) if np.isfinite(v)])
    top = max([float(v) for v in np.concatenate([h, np.asarray(q95, dtype=float)]) if np.isfinite(v)] + [0.0])
    return "sqrt" if top > 0 and level < SQUASH * top else "linear"


def _sqrt_ticks(top: float) -> list[float]:
    """Round counts as ticks of a square-root axis up to ``top``, spaced apart on the axis (from the top down)."""
    nice = [m * 10 ** e for e in range(0, 7) for m in (1, 2, 5)] + ([3.0, 4.0] if top < 10 else [])
    cands = sorted((v for v in nice if v <= top), reverse=True)
    gap = 0.15 * np.sqrt(top)
    keep: list[float] = []
    for v in cands:
        if not keep or np.sqrt(keep[-1]) - np.sqrt(v) >= gap:
            keep.append(v)
    if keep and np.sqrt(keep[-1]) < gap:  # 0 sits at the foot: drop a tick too close to it
        keep.pop()
    return sorted(keep + [0.0])


def _draw_fan(ax, history: pd.Series, fc: pd.DataFrame, start_year: int, history_label: str = "observed",
              sqrt_ok: bool = True) -> str:
    """Draw one fan; returns its scale: ``"linear"``, ``"sqrt"`` (:func:`fan_scale`, a province panel only:
    ``sqrt_ok``) or ``"clipped"`` (linear, the 90% band cut at the top, :func:`fan_top`)."""
    hist = history[history.index.year >= start_year]
    x_hist = hist.index.to_timestamp()
    ax.plot(x_hist, hist.to_numpy(), color=HISTORY, lw=1.2, label=history_label)
    kind = "linear"
    if len(fc):
        fc = fc.sort_values("quarter")
        xq = pd.PeriodIndex(fc["quarter"], freq="Q").to_timestamp()
        q50, q75, q95 = (fc[c].to_numpy(dtype=float) for c in ("q50", "q75", "q95"))
        mean = fc["mean"].to_numpy(dtype=float) if "mean" in fc else None
        kind = fan_scale(hist.to_numpy(), q50, q95) if sqrt_ok else "linear"
        top = fan_top(hist.to_numpy(), q50, q75, q95) if kind == "linear" else None
        # join the fan to the last observed quarter so the eye follows the path
        xm = xq
        if len(hist):
            xq = xq.insert(0, x_hist[-1])
            first = {c: hist.iloc[-1] for c in ("q05", "q25", "q50", "q75", "q95")}
            fc = pd.concat([pd.DataFrame([first]), fc[["q05", "q25", "q50", "q75", "q95"]]], ignore_index=True)
        ax.fill_between(xq, fc["q05"], fc["q95"], color=FAN, alpha=0.18, lw=0, label="90% interval")
        ax.fill_between(xq, fc["q25"], fc["q75"], color=FAN, alpha=0.38, lw=0, label="50% interval")
        ax.plot(xq, fc["q50"], color=FAN, lw=1.6, label="forecast median")
        # a sparse series' median (a whole count) of 0 beside a history above it: the mean as well (the
        # expected count; the history's counterpart when the history is a posterior mean)
        if mean is not None and np.any((q50 == 0) & (mean >= 0.25)):
            xs, ys = (xq, np.concatenate([[hist.iloc[-1]], mean])) if len(hist) else (xm, mean)
            ax.plot(xs, ys, color=OKABE_ITO["vermillion"], lw=1.2, ls=(0, (1, 1.2)), label=MEAN_LABEL)
        if kind == "sqrt":
            upper = 1.05 * max(float(np.nanmax(q95)), float(hist.max()) if len(hist) else 0.0)
            ax.set_yscale("function", functions=(lambda v: np.sqrt(np.clip(v, 0, None)), np.square))
            ax.set_ylim(0, upper)
            ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator(_sqrt_ticks(upper)))
            ax.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        elif top is not None:
            kind = "clipped"
            ax.set_ylim(0, top)
            xs = xq[-len(q95):][q95 > top]
            # the band's cut edge, marked along the axis's top (drawn over the frame)
            ax.plot([xs.min(), xs.max()], [top, top], ls=(0, (2, 1.2)), lw=2.2, color=FAN, clip_on=False, zorder=5,
                    solid_capstyle="butt", label=CLIP_MARK)
            ax.annotate(f"90% to {_count_text(float(q95.max()))} ▲", xy=(1.0, 1.0), xycoords="axes fraction",
                        xytext=(0, -4.5), textcoords="offset points", ha="right", va="top", fontsize=7, color=FAN,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.85}, zorder=6)
    if kind == "linear":
        ax.set_ylim(bottom=0)
    # plain numbers with thousands separators on the count axis (no "1e7" offset above the axis)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 10 or v == 0
                                                                 else f"{v:g}"))
    return kind


def _count_text(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 10 else f"{v:.2g}"


def _plain(label: str) -> str:
    """A legend label inside a caption's parentheses: ``fused estimate (posterior mean)`` -> ``fused estimate, posterior mean``."""
    return label.replace(" (", ", ").replace(")", "")


def _scale_caption(kinds: dict[str, str]) -> str:
    """The caption's words for the panels drawn on a square-root scale or with a cut band, by name."""
    out = ""
    for kind, text in (("sqrt", SQRT_CAPTION), ("clipped", CLIP_CAPTION)):
        names = [p for p, k in kinds.items() if k == kind]
        if names:
            out += f"{text[:-1]}: {', '.join(names)}."
    return out


@redrawable
def fan_chart(panel: pd.DataFrame, forecast: pd.DataFrame, province: str, measure: str, figures_dir: Path,
              source: str, start_year: int = 2008, units: str | None = None,
              history_label: str = "observed") -> FigureRecord:
    """History and forecast intervals for one series (``units``: the units text of a fused run, e.g.
    "attacks as PIPS counts them"; ``history_label``: what the history line is)."""
    fig, ax = new_figure(7.5, 3.4)
    fc = forecast[(forecast["province"] == province) & (forecast["measure"] == measure)]
    # the national chart stays on a linear scale (its level is never squashed out of sight)
    kind = _draw_fan(ax, quarterly_history(panel, province, measure), fc, start_year, history_label, sqrt_ok=False)
    clipped = kind == "clipped"
    ax.set_xlabel("quarter")
    ax.set_ylabel(f"{measure} per quarter\n({units})" if units else UNITS.get(measure, measure))
    title = f"{province}: {measure} per quarter, observed and forecast"
    ax.set_title(title, loc="left")
    if clipped:  # the top right holds the cut band's value: the legend goes under the axis
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3)
    else:
        ax.legend(loc="upper right", ncols=2)
    caption = (f"Quarterly {measure} in {province} since {start_year} (grey line: {_plain(history_label)}) and the "
               f"forecast for the next {fc['quarter'].nunique()} quarters: median (blue line), 50% and 90% predictive "
               "intervals (bands)."
               + (MEAN_CAPTION if MEAN_LABEL in ax.get_legend_handles_labels()[1] else "")
               + (CLIP_CAPTION if clipped else "") + (f" Units: {units}." if units else ""))
    return save_figure(fig, figures_dir, f"fan_{province}_{measure}", title, caption, source)


@redrawable
def fan_grid(panel: pd.DataFrame, forecast: pd.DataFrame, provinces: list[str], measure: str, figures_dir: Path,
             source: str, start_year: int = 2008, units: str | None = None,
             history_label: str = "observed") -> FigureRecord:
    """Small multiples of the fan chart, one panel per province, each on its own scale."""
    n = len(provinces)
    ncols = 2
    nrows = int(np.ceil(n / ncols))
    fig, axes = new_figure(7.5, 1.9 * nrows + 0.6, nrows, ncols, squeeze=False, sharex=True)
    kinds: dict[str, str] = {}
    for ax, prov in zip(axes.ravel(), provinces):
        fc = forecast[(forecast["province"] == prov) & (forecast["measure"] == measure)]
        kinds[prov] = _draw_fan(ax, quarterly_history(panel, prov, measure), fc, start_year, history_label)
        ax.set_title(prov, loc="left", fontsize=9)
        ax.set_ylabel(measure + " / quarter" + (" (√)" if kinds[prov] == "sqrt" else ""))
    for ax in axes[-1]:
        ax.set_xlabel("quarter")
    legend: dict[str, Any] = {}  # every entry of every panel, once (the clip mark is on the sparse ones only)
    for ax in axes.ravel()[:n]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
    handles, labels = list(legend.values()), list(legend)
    spare = axes.ravel()[n:]
    for k, ax in enumerate(spare, start=n):
        ax.set_axis_off()
        if k >= ncols:  # the panel above an empty one is the bottom of its column: it keeps its dates
            above = axes.ravel()[k - ncols]
            above.xaxis.set_tick_params(labelbottom=True)
            above.set_xlabel("quarter")
    if len(spare):  # the legend goes into the first empty panel
        spare[0].legend(handles, labels, loc="center", fontsize=9)
    else:
        axes.ravel()[0].legend(handles, labels, loc="upper right", fontsize=7)
    title = f"Provinces: {measure} per quarter, observed and forecast"
    caption = (f"Quarterly {measure} by province since {start_year} (grey line: {_plain(history_label)}) and the "
               "forecast median with 50% and 90% predictive intervals. Each panel has its own vertical scale."
               + (MEAN_CAPTION if MEAN_LABEL in legend else "") + _scale_caption(kinds)
               + (f" Units: {units}." if units else ""))
    fig_rec = save_figure(fig, figures_dir, f"fan_provinces_{measure}", title, caption, source)
    return fig_rec


def _polygons(geometry: dict[str, Any]) -> list[np.ndarray]:
    if geometry["type"] == "Polygon":
        return [np.asarray(geometry["coordinates"][0])]
    if geometry["type"] == "MultiPolygon":
        return [np.asarray(poly[0]) for poly in geometry["coordinates"]]
    raise ValueError(f"province boundaries: unsupported geometry type {geometry['type']!r}")


@redrawable
def province_map(geojson_path: Path, values: dict[str, float], label: str, figures_dir: Path, source: str,
                 title: str, caption: str, merge: dict[str, str] | None = None,
                 intervals: dict[str, tuple[float, float]] | None = None) -> FigureRecord:
    """Choropleth of ``values`` by province (``cividis``), drawn from GeoJSON polygons with matplotlib.

    ``merge`` maps a boundary feature to the province whose value it takes (e.g. FATA -> Khyber
    Pakhtunkhwa when the panel merges them); features with no value are hatched grey.
    """
    gj = json.loads(Path(geojson_path).read_text(encoding="utf-8"))
    merge = merge or {}
    fig, ax = new_figure(7.5, 4.6)
    finite = [v for v in values.values() if v is not None and np.isfinite(v)]
    vmax = max(finite) if finite else 1.0
    norm = matplotlib.colors.Normalize(vmin=0, vmax=vmax if vmax > 0 else 1.0)
    cmap = matplotlib.colormaps["cividis_r"]
    patches, colours, missing = [], [], []
    for feat in gj["features"]:
        name = feat["properties"].get("name")
        key = merge.get(name, name)
        v = values.get(key)
        for ring in _polygons(feat["geometry"]):
            poly = MplPolygon(ring[:, :2], closed=True)
            if v is None or not np.isfinite(v):
                missing.append(poly)
            else:
                patches.append(poly)
                colours.append(cmap(norm(v)))
    ax.add_collection(PatchCollection(patches, facecolor=colours, edgecolor="white", linewidth=0.6))
    ax.autoscale_view()
    if missing:
        ax.add_collection(PatchCollection(missing, facecolor="#eeeeee", edgecolor="white", hatch="///", linewidth=0.6))
    # every label sits in the empty margin of the frame, joined to its unit by a leader line, so no label
    # covers a border or another unit: a column in the east, ordered north to south like the units it
    # names. A unit whose leader to that column would cross another unit is labelled instead in an empty
    # corner (the north-west, beyond the Afghan border; the south-west, below the coast) whose leader
    # crosses none, one label to a corner; two leaders that cross swap their slots in the column
    # (tests/forecast/test_report_figures.py checks the layout on the rendered figure)
    labels, shapes = [], {}
    for feat in gj["features"]:
        name = feat["properties"].get("name")
        shapes.setdefault(merge.get(name, name), []).extend(ShapelyPolygon(r[:, :2]).buffer(0)
                                                             for r in _polygons(feat["geometry"]))
        if name in merge:
            continue
        v = values.get(name)
        # the leader ends at the point deepest inside the unit's main polygon (its pole of inaccessibility)
        pt = polylabel(ShapelyPolygon(max(_polygons(feat["geometry"]), key=len)[:, :2]).buffer(0), tolerance=0.02)
        txt = fmt_rate(v) if v is not None and np.isfinite(v) else "no population"
        if intervals and name in intervals and v is not None and np.isfinite(v):
            lo, hi = intervals[name]
            txt += f" (90%: {fmt_rate(lo)}–{fmt_rate(hi)})"
        labels.append((pt.y, pt.x, f"{name}\n{txt}", name))
    xmin, xmax = ax.dataLim.x0, ax.dataLim.x1
    y0, y1 = ax.dataLim.y0, ax.dataLim.y1
    labels.sort(reverse=True)

    def east_slots(items: list) -> list[tuple[float, float]]:
        step = (y1 - y0) / max(len(items) - 1, 1)
        return [(xmax + 1.0, y1 - i * step) for i in range(len(items))]

    def crosses(name: str, a: tuple[float, float], b: tuple[float, float]) -> bool:
        line = LineString([a, b])
        return any(line.crosses(g) or line.within(g) for other, gs in shapes.items() if other != name for g in gs)

    free = [(xmin + 0.2, y1 - 0.5), (xmin + 0.2, y0 + 0.2)]  # the empty north-west and south-west corners
    cornered: list[tuple[tuple, tuple[float, float]]] = []
    east = list(labels)
    while free:  # the column's slots move when a label leaves it: check again until no label moves
        moved = None
        for lab, slot in zip(east, east_slots(east)):
            at = (lab[1], lab[0])
            if not crosses(lab[3], at, slot):
                continue
            fits = [c for c in free if not crosses(lab[3], at, c)]
            if fits:
                moved = (lab, min(fits, key=lambda c: (c[0] - at[0]) ** 2 + (c[1] - at[1]) ** 2))
                break
        if moved is None:
            break
        cornered.append(moved)
        east.remove(moved[0])
        free.remove(moved[1])
    slots = east_slots(east)
    for _ in range(len(east) ** 2):  # two leaders that cross swap slots (each swap shortens them: this ends)
        pair = next(((i, j) for i in range(len(east)) for j in range(i + 1, len(east))
                     if LineString([(east[i][1], east[i][0]), slots[i]]).crosses(
                         LineString([(east[j][1], east[j][0]), slots[j]]))), None)
        if pair is None:
            break
        i, j = pair
        slots[i], slots[j] = slots[j], slots[i]
    placed = [(lab, slot, "left") for lab, slot in zip(east, slots)] + [(lab, corner, "left") for lab, corner in cornered]
    for (y, x, text, _), slot, ha in placed:
        ax.annotate(text, (x, y), xytext=slot, fontsize=7, ha=ha, va="center",
                    arrowprops=dict(arrowstyle="-", color="#444444", lw=0.5, shrinkA=0, shrinkB=2),
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="#cccccc"))
        ax.plot([x], [y], "o", ms=2, color="#222222")
    ax.set_xlim(xmin - 0.5, xmax + 9.0)
    ax.set_aspect(1.0 / np.cos(np.deg2rad(30)))
    ax.set_axis_off()  # a map needs no longitude and latitude scales
    sm = matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap)
    cb = fig.colorbar(sm, ax=ax, shrink=0.6, orientation="horizontal", pad=0.02, aspect=40)
    cb.set_label(label)
    ax.set_title(title, loc="left")
    return save_figure(fig, figures_dir, "map_forecast_rate", title, caption, source)


@redrawable
def waterfall(shares: list[dict[str, Any]], total: float | None, figures_dir: Path, source: str, unit: str,
              title: str, caption: str, interval: str = "95%") -> FigureRecord:
    """Waterfall of Shapley shares (bars from the running sum) with their ``interval`` whiskers, then the
    total; a legend names every colour and mark."""
    fig, ax = new_figure(7.5, 3.6)
    running = 0.0
    labels = []
    for i, row in enumerate(shares):
        share = float(row["share"])
        colour = OKABE_ITO["vermillion"] if share > 0 else OKABE_ITO["blue"]
        ax.bar(i, share, bottom=running, color=colour, width=0.6)
        lo, hi = row.get("ci_low"), row.get("ci_high")
        if lo is not None and hi is not None:
            ax.errorbar(i, running + share, yerr=[[share - lo], [hi - share]], color="black", capsize=3, lw=1)
        running += share
        labels.append(str(row["group"]))
    if total is not None:
        ax.bar(len(shares), total, color=OKABE_ITO["black"], width=0.6)
        labels.append("total change")
    ax.axhline(0, color="black", lw=0.8)
    # every colour and mark explained: rises, falls, the total and the interval whiskers
    handles = [Patch(color=OKABE_ITO["vermillion"], label="raised the count"),
               Patch(color=OKABE_ITO["blue"], label="lowered the count")]
    if total is not None:
        handles.append(Patch(color=OKABE_ITO["black"], label="total change (shares + residual)"))
    if any(r.get("ci_low") is not None and r.get("ci_high") is not None for r in shares):
        handles.append(Line2D([], [], color="black", marker="_", ms=8, lw=1, label=f"{interval} interval of a share"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    ax.set_xticks(range(len(labels)), [readable(v) for v in labels], rotation=15, ha="right")
    ax.set_ylabel(unit)
    ax.set_xlabel("covariate group (Shapley share of the change)")
    ax.set_title(title, loc="left")
    return save_figure(fig, figures_dir, "attribution_waterfall", title, caption, source)


@redrawable
def forest(rows: list[dict[str, Any]], figures_dir: Path, name: str, source: str, xlabel: str, title: str,
           caption: str, ref: float = 1.0, log: bool = True, xmin: float | None = None,
           legend: dict[str, str] | None = None, ref_label: str | None = None, interval: str = "95%") -> FigureRecord:
    """Point estimates with intervals (rate ratios, skill scores), one row each.

    ``legend`` maps a label to each colour used (e.g. ``{"model": blue, "simple rule": orange}``); with
    it the figure's legend also names the interval line and the dashed reference line (``ref_label``).

    Estimates below ``xmin`` are drawn at ``xmin`` as a left-pointing marker labelled with their value,
    so one very poor model does not squash the scale for the others.
    """
    fig, ax = new_figure(7.5, 0.45 * len(rows) + 1.4)
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows):
        est, lo, hi = r["estimate"], r.get("ci_low"), r.get("ci_high")
        colour = r.get("colour", OKABE_ITO["blue"])
        if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
            ax.plot([lo, hi], [yi, yi], color=colour, lw=2)
        if xmin is not None and est < xmin:
            ax.plot([xmin], [yi], "<", color=colour, ms=6)
            ax.annotate(f"{est:.2f} (off scale)", (xmin, yi), xytext=(8, 0), textcoords="offset points",
                        va="center", fontsize=7, color=colour)
        else:
            ax.plot([est], [yi], "o", color=colour, ms=5)
    if xmin is not None:
        ax.set_xlim(left=xmin - 0.05 * (max([r["estimate"] for r in rows] + [ref]) - xmin))
    ax.axvline(ref, color="black", lw=0.8, ls="--")
    if log:
        ax.set_xscale("log")
        vals = [v for r in rows for v in (r["estimate"], r.get("ci_low"), r.get("ci_high"))
                if v is not None and np.isfinite(v) and v > 0] + [ref]
        ax.set_xlim(min(vals) / 1.3, max(vals) * 1.3)
        fmt = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
        ax.xaxis.set_major_formatter(fmt)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "235" else ""))
        ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_yticks(y, [readable(r["label"]) for r in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=8)
    if legend:
        handles = [Line2D([], [], color=c, marker="o", ls="", label=lab) for lab, c in legend.items()]
        if any(r.get("ci_low") is not None and r.get("ci_high") is not None for r in rows):
            handles.append(Line2D([], [], color="#555555", lw=2, label=f"{interval} interval"))
        handles.append(Line2D([], [], color="black", lw=0.8, ls="--", label=ref_label or f"reference ({ref:g})"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
    ax.set_title(title, loc="left")
    return save_figure(fig, figures_dir, name, title, caption, source)


@redrawable
def claims_chart(national_annual: pd.DataFrame, reported: list[tuple[str, str, str, pd.Series, str]],
                 figures_dir: Path, source: str, start_year: int = 2000) -> FigureRecord:
    """Annual deaths from UCDP (with low-high range) and, in a separate panel per source, the
    published annual national figures: side by side, never pooled."""
    series = [(s, m, ser) for s, ptype, m, ser, _ in reported if ptype == "year" and m in ("killed", "attacks")]
    fig, axes = new_figure(7.5, 5.6, 2, 1, squeeze=False, sharex=True)
    ax = axes[0, 0]
    national_annual = national_annual[national_annual.index >= start_year]
    years = national_annual.index.to_numpy()
    if {"killed_low", "killed_high"} <= set(national_annual.columns):
        ax.fill_between(years, national_annual["killed_low"], national_annual["killed_high"], color=HISTORY,
                        alpha=0.15, lw=0, label="UCDP low-high estimate")
    ax.plot(years, national_annual["killed"], color=HISTORY, marker="o", ms=3, lw=1.4, label="UCDP deaths (best)")
    ax.axvspan(2009.5, 2013.5, color=OKABE_ITO["orange"], alpha=0.15, lw=0, label="early 2010s")
    ax.axvline(2014.5, color="#555555", ls="--", lw=1, label="end of 2014")
    ax.set_ylabel("deaths per year (people)")
    ax.set_title("UCDP GED: national deaths per year", loc="left")
    ax.legend(loc="upper left", fontsize=7)
    ax.set_ylim(bottom=0)
    ax.set_xlim(start_year - 0.5, 2025.5)
    ax2 = axes[1, 0]
    markers = "osD^v<>"
    sources = list(dict.fromkeys(src for src, _, _ in series))
    for src, metric, ser in series:  # one colour and marker per source; solid = deaths, dotted = attacks
        i = sources.index(src)
        ax2.plot(ser.index.year, ser.to_numpy(), marker=markers[i % len(markers)], ms=3.5, lw=1.2,
                 color=CYCLE[i % len(CYCLE)], ls="-" if metric == "killed" else ":",
                 label=f"{src} {'deaths' if metric == 'killed' else metric}")
    ax2.axvline(2021 + 7.5 / 12, color="black", ls="-.", lw=1, label="Aug 2021")
    ax2.set_ylabel("count per year (each source's definition)")
    ax2.set_xlabel("year")
    ax2.set_title("Published annual figures, one line per source (not pooled)", loc="left")
    ax2.axvline(2014.5, color="#555555", ls="--", lw=1)
    ax2.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
    ax2.set_ylim(bottom=0)
    ax2.set_xlim(start_year - 0.5, 2025.5)
    title = "The claims in the data"
    caption = (f"Top: UCDP GED national deaths per year since {start_year} with the low-high range. Bottom: annual national figures "
               "published by each monitoring source (one colour per source; solid: deaths, dotted: attacks), drawn "
               "separately because each counts attacks and deaths its own way.")
    return save_figure(fig, figures_dir, "claims_series", title, caption, source)


@redrawable
def its_impact(pointwise: list[dict[str, Any]], figures_dir: Path, name: str, source: str, outcome_label: str,
               unit: str, intervention: str, level: float = 0.95) -> FigureRecord:
    """CausalImpact's three panels for one intervention: observed vs counterfactual with its
    predictive interval, the pointwise effect and the cumulative effect, each with its interval."""
    df = pd.DataFrame(pointwise)
    try:
        x = pd.to_datetime(df["time"], format="mixed") if unit in ("month", "quarter", "year", "day") else \
            pd.to_numeric(df["time"])
    except (ValueError, TypeError):
        x = pd.Series(np.arange(len(df)))
    post = df["post"].to_numpy(bool)
    first = x[post].iloc[0] if post.any() else None
    pct = f"{100 * level:.0f}%"
    drawn = outcome_label.replace("$", r"\$")  # a user's label is plain text in the figure, never mathtext
    fig, axes = new_figure(7.5, 6.4, 3, 1, sharex=True)
    band = OKABE_ITO["sky"]
    ax = axes[0]
    ax.fill_between(x, df["counterfactual_low"], df["counterfactual_high"], color=band, alpha=0.35, lw=0,
                    label=f"counterfactual, {pct} predictive interval")
    ax.plot(x, df["counterfactual"], color=OKABE_ITO["blue"], ls="--", lw=1.4,
            label="counterfactual (the fit without the intervention's terms)")
    ax.plot(x, df["observed"], color=HISTORY, lw=1.1, marker="o", ms=2.2, label="observed")
    ax.set_ylabel(f"{drawn}\nper {unit}")
    ax.set_title(f"Observed and expected without the intervention ({intervention})", loc="left")
    ax.legend(loc="upper left", fontsize=7, ncol=1)
    ax = axes[1]
    ax.fill_between(x, df["effect_low"], df["effect_high"], color=band, alpha=0.35, lw=0,
                    label=f"{pct} interval")
    ax.plot(x, df["effect"], color=OKABE_ITO["vermillion"], lw=1.3, label="observed minus expected")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(f"effect per {unit}")
    ax.set_title("Pointwise effect", loc="left")
    ax.legend(loc="upper left", fontsize=7)
    ax = axes[2]
    cum = df["cumulative_effect"].astype(float)
    ax.fill_between(x, df["cumulative_low"].astype(float), df["cumulative_high"].astype(float), color=band,
                    alpha=0.35, lw=0, label=f"{pct} interval")
    ax.plot(x, cum, color=OKABE_ITO["vermillion"], lw=1.3, label="running total of the effect")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylabel(f"cumulative effect\n({drawn})")
    ax.set_title("Cumulative effect since the intervention", loc="left")
    ax.legend(loc="lower left" if np.nanmean(cum) < 0 else "upper left", fontsize=7)
    ax.set_xlabel(unit)
    for a in axes:
        if first is not None:
            a.axvline(first, color="black", lw=0.8, ls=":")
    title = f"Effect of the intervention at {intervention} on {outcome_label}"
    caption = (f"Top: observed {outcome_label} per {unit} and the counterfactual (the segmented model fitted to the "
               f"whole series, without the intervention's level and trend terms) with its {pct} predictive "
               f"interval. Middle: observed minus "
               f"expected in each {unit}. Bottom: the running total of that difference from the first "
               f"post-intervention {unit}. Dotted line: the intervention.")
    return save_figure(fig, figures_dir, name, title, caption, source)


@redrawable
def fused_history(fused: pd.DataFrame, obs: pd.DataFrame, scales: pd.DataFrame, province: str,
                  cover: tuple[str, ...], as_of: pd.Timestamp, measure_units: dict[str, str], units: str,
                  figures_dir: Path, source: str) -> FigureRecord:
    """The fused monthly history of one province (median, 50% and 90% bands) with every source's figures
    for that region rescaled to the reference units (:func:`pakcast.forecast.fusion_figures.draw_fused`)."""
    from pakcast.forecast.fusion_figures import draw_fused

    measures = tuple(m for m in ("attacks", "killed") if m in set(fused["measure"]))
    # the history to the newest observation (the forecast months are in the fan charts)
    fused = fused[pd.PeriodIndex(fused["month"].astype(str), freq="M") <= pd.Period(as_of, "M")]
    fig, axes = new_figure(7.5, 2.6 * len(measures), nrows=len(measures), ncols=1, sharex=True)
    with matplotlib.rc_context(STYLE):
        draw_fused(axes, fused, obs, scales, province, cover, as_of, measure_units, measures)
        # one title per axis, at its left (a centred title beside the units would meet them on a page
        # where the figure shrinks): the region on the first
        ax0 = np.atleast_1d(axes)[0]
        ax0.set_title(f"{province}: fused monthly series" + (f", {measure_units[measures[0]]}"
                      if measure_units.get(measures[0]) else ""), loc="left", fontsize=9)
    return save_figure(fig, figures_dir, f"fused_{province}", f"Fused history, {province}",
                       f"{province}: the fused monthly series ({units}; black line: median, grey bands: 50% and 90% "
                       "intervals) with every source's own figures for this region, each divided by its source's "
                       "estimated scale in the figure's year (the legend gives each source's scale now) and by "
                       f"the months it spans (dots: monthly figures; bars: longer periods). Dotted line: "
                       f"the newest observation ({as_of:%Y-%m}).", source)
