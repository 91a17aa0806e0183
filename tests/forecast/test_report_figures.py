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
