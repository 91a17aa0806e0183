"""Layout of the briefing figures, measured on the rendered figure: the province map's labels and
leader lines, and the fused province figures' legends clear of the data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Annotation
from shapely.geometry import LineString, Point, Polygon, box

from pakcast.forecast.paths import shipped
from pakcast.forecast.report import figures as F

RATES = {"Balochistan": 3.1, "Khyber Pakhtunkhwa": 5.2, "Punjab": 0.12, "Sindh": 0.4,
         "Islamabad Capital Territory": 0.3, "Gilgit-Baltistan": 0.8, "Azad Jammu and Kashmir": 0.05}
SMALL_NORTHERN = ("Gilgit-Baltistan", "Azad Jammu and Kashmir", "Islamabad Capital Territory")


def _drawn(fig):
    """The figure drawn on an Agg canvas, and its renderer (window extents in display pixels)."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _units(ax, geojson: Path, merge: dict[str, str]) -> dict[str, list[Polygon]]:
    """Every unit's polygons in display coordinates (a merged feature counted with its unit)."""
    out: dict[str, list[Polygon]] = {}
    for feat in json.loads(geojson.read_text(encoding="utf-8"))["features"]:
        name = feat["properties"]["name"]
        for ring in F._polygons(feat["geometry"]):
            out.setdefault(merge.get(name, name), []).append(Polygon(ax.transData.transform(ring[:, :2])).buffer(0))
    return out


@pytest.mark.parametrize("fata", ["merge", "separate"])
def test_map_labels_never_overlap_and_leaders_join_label_and_unit(tmp_path, fata):
    geo = Path(shipped("provinces.geojson"))
    merge = {"FATA": "Khyber Pakhtunkhwa"} if fata == "merge" else {}
    rates = RATES if merge else {**RATES, "FATA": 2.0}
    rec = F.province_map(geo, rates, "attacks per 100,000", tmp_path, "test", "Forecast", "caption", merge=merge,
                         intervals={k: (v / 2, v * 2) for k, v in rates.items()})
    renderer = _drawn(rec.figure)
    ax = rec.figure.axes[0]
    units = _units(ax, geo, merge)
    labels = {}
    for ann in (t for t in ax.texts if isinstance(t, Annotation)):
        name = ann.get_text().split("\n")[0]
        b = ann.get_bbox_patch().get_window_extent(renderer)
        leader = ann.arrow_patch.get_path().vertices if ann.arrow_patch is not None else None
        labels[name] = (box(b.x0, b.y0, b.x1, b.y1), leader, Point(ax.transData.transform(ann.xy)))
    assert set(labels) == set(units) and set(SMALL_NORTHERN) <= set(labels)
    for name, (lab, leader, anchor) in labels.items():
        # no label box overlaps another label, or sits on any unit (so never on a border)
        for other, (lab2, _, _) in labels.items():
            assert other == name or not lab.intersects(lab2), (name, other)
        for unit, polys in units.items():
            assert not any(lab.intersects(p) for p in polys), f"the label of {name} covers {unit}"
        # the label was moved off its unit, so a leader line joins them: from the label's box to a point
        # inside the unit, crossing no other label
        assert any(p.contains(anchor) for p in units[name]), name
        assert leader is not None, f"{name}: label without a leader line"
        start, end = Point(leader[0]), Point(leader[-1])
        assert lab.exterior.distance(start) < 2.0, f"{name}: the leader does not start at its label"
        assert end.distance(anchor) < 5.0, f"{name}: the leader does not reach its unit"
        line = LineString(leader)
        for other, (lab2, leader2, _) in labels.items():
            assert other == name or not line.intersects(lab2), f"the leader of {name} crosses the label of {other}"
            assert other == name or not line.crosses(LineString(leader2)), f"the leaders of {name} and {other} cross"


def _fused_inputs(province: str = "Khyber Pakhtunkhwa", extra: tuple[str, ...] = ()):
    """A fused series peaking early (where a legend in the upper left used to sit) with monthly UCDP figures
    and three yearly sources (and ``extra`` sources with their own metric names, as the national figures
    have), in the tables ``draw_fused`` reads."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    months = pd.period_range("2007-01", "2021-12", freq="M")
    t = np.arange(len(months))
    scale = {"UCDP": 1.0, "PICSS": 1.4, "PIPS": 0.8, "SATP": 1.1}
    fused, obs = [], []
    for me, base in (("attacks", 40.0), ("killed", 120.0)):
        med = base * (0.3 + np.exp(-((t - 50) / 25.0) ** 2))
        for m, v in zip(months, med):
            fused.append({"province": province, "month": str(m), "measure": me, "mean": v, "median": v,
                          "q05": 0.6 * v, "q25": 0.85 * v, "q75": 1.15 * v, "q95": 1.5 * v})
            obs.append({"source": "UCDP", "metric": me, "measure": me, "cover": (province,), "first": m, "last": m,
                        "value": float(rng.poisson(v))})
        for src in ("PICSS", "PIPS", "SATP"):
            for y in range(2008, 2022):
                ms = pd.period_range(f"{y}-01", f"{y}-12", freq="M")
                obs.append({"source": src, "metric": me, "measure": me, "cover": (province,), "first": ms[0],
                            "last": ms[-1], "value": float(scale[src] * med[months.year == y].sum())})
    metric = {"attacks": "incidents", "killed": "fatalities_total"}
    for src in extra:
        scale[src] = 1.234
        obs += [{**o, "source": src, "metric": metric[o["measure"]]} for o in obs if o["source"] == "PICSS"]
    obs = pd.DataFrame(obs)
    obs["scale"] = obs["source"].map(scale)
    scales = pd.DataFrame([{"source": s, "metric": m, "estimate": k} for s, k in scale.items()
                           for m in ((metric.values()) if s in extra else ("attacks", "killed"))]
                          ).set_index(["source", "metric"])
    return pd.DataFrame(fused), obs, scales


def _data_shapes(ax):
    """The drawn data of one axis in display coordinates: lines (and single markers) and bands."""
    from shapely.geometry import MultiPoint

    shapes = []
    for line in ax.get_lines():
        xy = line.get_transform().transform(line.get_xydata())  # axvline: x in data, y in axes coordinates
        shapes.append(LineString(xy) if len(xy) > 1 else MultiPoint(xy))
    for coll in ax.collections:
        for path in coll.get_paths():
            for ring in path.to_polygons(coll.get_transform()):
                if len(ring) >= 3:
                    shapes.append(Polygon(ring).buffer(0))
    return shapes


def _check_legend_clear_of_data(fig, names: set[str]):
    renderer = _drawn(fig)
    legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == 1, "one legend for the figure"
    leg = legends[0]
    assert names <= {t.get_text().split(",")[0] for t in leg.get_texts()}  # every band, mark and source named
    b = leg.get_window_extent(renderer)
    lb = box(b.x0, b.y0, b.x1, b.y1)
    fb = fig.bbox
    assert b.x0 >= fb.x0 - 1 and b.x1 <= fb.x1 + 1 and b.y0 >= fb.y0 - 1, "the legend is cut off"
    for ax in fig.axes:
        a = ax.bbox
        assert not lb.intersects(box(a.x0, a.y0, a.x1, a.y1)), "the legend sits inside a panel"
        for shape in _data_shapes(ax):
            assert not lb.intersects(shape), "the legend covers plotted data"
        for t in ax.get_xticklabels() + ax.get_yticklabels():
            if t.get_visible() and t.get_text():
                e = t.get_window_extent(renderer)
                assert not lb.intersects(box(e.x0, e.y0, e.x1, e.y1)), f"the legend covers tick label {t.get_text()}"


@pytest.mark.parametrize("extra", [(), ("CRSS", "GTI", "OFFICIAL", "OTHER")], ids=["province", "eight sources"])
def test_fused_province_figure_legend_covers_no_data(tmp_path, extra):
    """The briefing's fused history figure (as saved, after its layout) and the ``pakcast fuse`` figure."""
    import pandas as pd
    from matplotlib.figure import Figure

    from pakcast.forecast.fusion_figures import draw_fused

    prov = "Khyber Pakhtunkhwa"
    fused, obs, scales = _fused_inputs(prov, extra)
    ylabels = {me: f"{me} as UCDP counts them" for me in ("attacks", "killed")}  # each axis's units
    as_of = pd.Timestamp("2021-12-01")
    names = {"fused 90%", "fused 50%", "fused median", "UCDP", "PICSS", "PIPS", "SATP", *extra}
    rec = F.fused_history(fused, obs, scales, prov, (prov,), as_of, ylabels, "attacks as UCDP counts them", tmp_path,
                          "test")
    _check_legend_clear_of_data(rec.figure, names)
    fig = Figure(figsize=(10, 6.5))  # as fusion_figures.province_figures draws for pakcast fuse
    axes = fig.subplots(2, 1, sharex=True)
    draw_fused(axes, fused, obs, scales, prov, (prov,), as_of, ylabels)
    fig.suptitle("Khyber Pakhtunkhwa: fused monthly series in UCDP units", fontsize=9)
    fig.tight_layout()
    _check_legend_clear_of_data(fig, names)



def _axis_texts_apart(fig) -> set[str]:
    """Assert that no two of the axis labels and titles of ``fig`` overlap; return their texts."""
    renderer = _drawn(fig)
    boxes = []
    for ax in fig.axes:
        for t in (ax.yaxis.label, ax.title, ax._left_title):
            if t.get_visible() and t.get_text():
                e = t.get_window_extent(renderer)
                boxes.append((t.get_text(), box(e.x0, e.y0, e.x1, e.y1)))
    for i, (a, ba) in enumerate(boxes):
        for b, bb in boxes[i + 1:]:
            assert not ba.intersects(bb), f"{a!r} overlaps {b!r}"
    return {name for name, _ in boxes}


def test_fused_province_figure_axis_texts_stay_apart(tmp_path):
    """The panels' axis labels, their units and the title of the briefing's fused history figure do not
    overlap, as saved and on a PDF page where the figure shrinks (texts keep their size there: the
    former two-line label with the units ran into the other panel's on page 9 of the default briefing)."""
    import pandas as pd
    from matplotlib.backends.backend_pdf import PdfPages

    from pakcast.forecast.report.pdf import PageWriter

    units = {me: f"{me} as PIPS counts them" for me in ("attacks", "killed")}
    recs = []
    for prov in ("Azad Jammu and Kashmir", "Balochistan"):
        fused, obs, scales = _fused_inputs(prov, ())
        recs.append(F.fused_history(fused, obs, scales, prov, (prov,), pd.Timestamp("2021-12-01"), units,
                                    "attacks as PIPS counts them", tmp_path, "test"))
    assert {"attacks / month", "killed / month", "killed as PIPS counts them",
            "Balochistan: fused monthly series, attacks as PIPS counts them"} <= _axis_texts_apart(recs[1].figure)
    with PdfPages(tmp_path / "page.pdf") as pdf:
        w = PageWriter(pdf, "test")
        w.paragraph("A section's text above the figures. " * 12)
        w.image(recs[0], "the first figure and this text fill most of the page")
        w.image(recs[1], "so the second one is drawn smaller")
        page = w.base
        h = [ax.get_position().height for ax in page.axes]
        assert len(h) == 4 and h[2] < 0.9 * h[0]  # the second figure shrank
        _axis_texts_apart(page)
        w.flush()


def _sparse_fan_inputs():
    """A busy province and a sparse one: monthly history, and forecasts whose 90% band is wide (the sparse
    one's reaching far above anything observed lately, its median of whole counts 0, as the fused run's small
    provinces have them)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    months = pd.period_range("2008-01", "2025-12", freq="M")
    hist = {"Khyber Pakhtunkhwa": 40.0, "Islamabad Capital Territory": 0.2}
    panel = pd.DataFrame([{"province": p, "period": m.to_timestamp(), "attacks": rng.poisson(mu),
                           "killed": rng.poisson(2 * mu)} for p, mu in hist.items() for m in months])
    rows = []
    for p, mu, q50, top in (("Khyber Pakhtunkhwa", 120.0, 120.0, 2.4), ("Islamabad Capital Territory", 0.8, 0.0, 30.0)):
        for i, q in enumerate(pd.period_range("2026Q1", "2027Q4", freq="Q")):
            for me in ("attacks", "killed"):
                rows.append({"province": p, "quarter": str(q), "measure": me, "mean": mu, "q05": 0.0,
                             "q25": 0.6 * q50, "q50": q50, "q75": max(1.5 * q50, 1.0),
                             "q95": max(mu, 1) * top * (1 + 0.2 * i * (mu < 2))})
    return panel, pd.DataFrame(rows)


def _panels(rec) -> dict:
    return {ax.get_title(loc="left"): ax for ax in rec.figure.axes if ax.get_title(loc="left")}


def _legend_labels(rec) -> set[str]:
    return {t.get_text() for ax in rec.figure.axes if ax.get_legend() is not None for t in ax.get_legend().get_texts()}


def test_sparse_province_fan_keeps_its_recent_level_in_sight(tmp_path):
    """On the saved province figure the sparse panel (its recent level squashed under a wide 90% band on a
    linear axis) has a square-root scale, marked and named, with the whole band and its mean line shown;
    the busy panel keeps a linear scale."""
    panel, fc = _sparse_fan_inputs()
    provs = ["Khyber Pakhtunkhwa", "Islamabad Capital Territory"]
    rec = F.fan_grid(panel, fc, provs, "attacks", tmp_path, "test", units="attacks as PIPS counts them")
    assert rec.png.exists() and rec.svg.exists()
    _drawn(rec.figure)
    axes = _panels(rec)
    sparse, busy = axes["Islamabad Capital Territory"], axes["Khyber Pakhtunkhwa"]
    hist = F.quarterly_history(panel, "Islamabad Capital Territory", "attacks")
    q = fc[(fc.province == "Islamabad Capital Territory") & (fc.measure == "attacks")]
    assert sparse.get_yscale() == "function" and "√" in sparse.get_ylabel()
    lo, hi = sparse.get_ylim()
    assert lo == 0 and hi >= q["q95"].max()  # the whole band
    # the recent level reaches well up the panel (a linear axis would leave it in the bottom twentieth)
    level = max(hist.iloc[-F.RECENT_QUARTERS:].max(), q["mean"].max())
    y0, y1, yl = (sparse.transData.transform((0, v))[1] for v in (0, hi, level))
    assert (yl - y0) / (y1 - y0) > max(0.15, 3 * level / hi) and level / hi < 0.05
    ticks = [float(t) for t in sparse.get_yticks() if lo <= t <= hi]
    assert ticks[0] == 0 and len(ticks) >= 3 and all(t == round(t) for t in ticks)
    assert busy.get_yscale() == "linear" and busy.get_ylim()[1] >= fc.loc[fc.province == "Khyber Pakhtunkhwa", "q95"].max()
    assert F.MEAN_LABEL in _legend_labels(rec)  # the sparse median is 0: its mean is drawn
    named = rec.caption.split("square-root")[1]
    assert "Islamabad Capital Territory" in named and "Khyber Pakhtunkhwa" not in named
    assert "(posterior mean))" not in rec.caption


def test_a_fan_band_that_dwarfs_its_history_is_cut_and_marked(tmp_path):
    """A linear fan (the national chart) whose 90% band would reach more than twice the history: the scale
    follows the history, the band is cut at the top and its highest value printed inside the panel, clear of
    the title, with a legend entry and a caption line."""
    import numpy as np
    import pandas as pd

    months = pd.period_range("2015-01", "2025-12", freq="M")
    panel = pd.DataFrame({"province": "Pakistan", "period": months.to_timestamp(),
                          "attacks": np.random.default_rng(3).poisson(30, len(months))})
    qs = pd.period_range("2026Q1", "2027Q4", freq="Q")
    fc = pd.DataFrame({"province": "Pakistan", "quarter": qs.astype(str), "measure": "attacks", "mean": 95.0,
                       "q05": 40.0, "q25": 70.0, "q50": 90.0, "q75": 110.0, "q95": np.linspace(260, 420, len(qs))})
    rec = F.fan_chart(panel, fc, "Pakistan", "attacks", tmp_path, "test", start_year=2015)
    renderer = _drawn(rec.figure)
    ax = rec.figure.axes[0]
    hist = F.quarterly_history(panel, "Pakistan", "attacks")
    top = ax.get_ylim()[1]
    assert max(hist.max(), fc["q75"].max()) <= top < 0.5 * fc["q95"].max()
    marks = [t for t in ax.texts if "▲" in t.get_text()]
    assert len(marks) == 1 and "420" in marks[0].get_text()
    e, a = marks[0].get_window_extent(renderer), ax.get_window_extent(renderer)
    assert a.x0 <= e.x0 and e.x1 <= a.x1 + 1 and e.y1 <= a.y1 + 1
    t = ax._left_title.get_window_extent(renderer)
    assert not box(e.x0, e.y0, e.x1, e.y1).intersects(box(t.x0, t.y0, t.x1, t.y1))
    lg = ax.get_legend().get_window_extent(renderer)
    assert not box(lg.x0, lg.y0, lg.x1, lg.y1).intersects(box(e.x0, e.y0, e.x1, e.y1))
    assert F.CLIP_MARK in _legend_labels(rec) and "cut at the top" in rec.caption
    # a fan that stays near its history keeps its whole band
    assert F.fan_top(np.array([10.0, 30.0]), np.array([20.0]), np.array([28.0]), np.array([55.0])) is None


def test_province_grid_keeps_dates_under_each_column(tmp_path):
    """With an odd number of provinces the panel above the empty one (where the legend goes) shows its dates."""
    panel, fc = _sparse_fan_inputs()
    fc2 = fc.assign(province=fc.province.replace({"Khyber Pakhtunkhwa": "Punjab"}))
    panel2 = panel.assign(province=panel.province.replace({"Khyber Pakhtunkhwa": "Punjab"}))
    rec = F.fan_grid(pd_concat(panel, panel2), pd_concat(fc, fc2),
                     ["Khyber Pakhtunkhwa", "Islamabad Capital Territory", "Punjab"], "attacks", tmp_path, "test")
    _drawn(rec.figure)
    ax = {a.get_title(loc="left"): a for a in rec.figure.axes if a.get_title(loc="left")}["Islamabad Capital Territory"]
    assert [t.get_text() for t in ax.get_xticklabels() if t.get_visible() and t.get_text()]


def pd_concat(a, b):
    import pandas as pd

    return pd.concat([a, b[~b.province.isin(set(a.province))]], ignore_index=True)


def test_fused_figure_marks_a_figure_far_above_the_band(tmp_path):
    """One source figure far above the fused band (a sparse region's odd month): the panel's scale follows
    the band and the other figures, the figure is marked on the top edge, and the legend says so."""
    import pandas as pd

    prov = "Islamabad Capital Territory"
    fused, obs, scales = _fused_inputs(prov, ())
    band_top = fused.loc[fused.measure == "killed", "q95"].max()
    i = obs.index[(obs.source == "UCDP") & (obs.measure == "killed")][30]
    obs.loc[i, "value"] = 40 * band_top
    units = {me: f"{me} as UCDP counts them" for me in ("attacks", "killed")}
    rec = F.fused_history(fused, obs, scales, prov, (prov,), pd.Timestamp("2021-12-01"), units,
                          "attacks as UCDP counts them", tmp_path, "test")
    _drawn(rec.figure)
    killed = rec.figure.axes[1]
    assert band_top <= killed.get_ylim()[1] < 10 * band_top
    labels = {t.get_text() for ax in rec.figure.axes if ax.get_legend() for t in ax.get_legend().get_texts()}
    assert any(lab.startswith("a figure above the scale") for lab in labels)
    attacks = rec.figure.axes[0]  # no such figure: the attacks panel keeps its own scale, no mark
    assert not [ln for ln in attacks.get_lines() if ln.get_marker() == "^"]
