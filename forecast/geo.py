"""Province boundaries: the shipped simplified geometry and point-in-polygon assignment.

``data/provinces.geojson`` is derived from ``shared/data/covariates/pak_adm1_with_fata.geojson``
(Natural Earth 1:10m admin-1, public domain; 8 features with FATA as its own feature) by
:func:`build_provinces_geojson`: names normalised with :mod:`forecast.provinces`, geometries
simplified with ``shapely.simplify(tolerance=0.005 deg, preserve_topology=True)`` (about 500 m,
well below the accuracy of 1:10m boundaries) and coordinates rounded to 1e-4 deg. Merging FATA
into Khyber Pakhtunkhwa is a label change (:func:`forecast.provinces.apply_fata`), so the one file
serves both ``fata`` options and the briefing map.

Assignment rule (:func:`assign_provinces`): a point inside a polygon gets that province; a point
outside every polygon but within ``max_distance_deg`` (0.1 deg, about 10 km; the boundaries are
generalised) of one gets the nearest; anything else stays unassigned and is counted.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from shapely.geometry import mapping, shape

from pakcast.forecast import paths
from pakcast.forecast.io import atomic_write_text
from pakcast.forecast.provinces import canonical_province

GEOJSON_NAME = "provinces.geojson"
SIMPLIFY_TOLERANCE_DEG = 0.005
MAX_DISTANCE_DEG = 0.1


def build_provinces_geojson(shared_dir: str | Path, out_path: str | Path,
                            tolerance: float = SIMPLIFY_TOLERANCE_DEG) -> Path:
    """Write the simplified 8-feature province geometry derived from the shared boundary file."""
    src = Path(shared_dir) / "data" / "covariates" / "pak_adm1_with_fata.geojson"
    gj = json.loads(src.read_text(encoding="utf-8"))
    feats = []
    for f in gj["features"]:
        name = canonical_province(f["properties"]["name"])
        geom = shapely.simplify(shape(f["geometry"]), tolerance, preserve_topology=True)
        geom = shapely.set_precision(geom, 1e-4)
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        feats.append({"type": "Feature",
                      "properties": {"name": name, "source_name": f["properties"].get("name"),
                                     "ne_name": f["properties"].get("ne_name")},
                      "geometry": mapping(geom)})
    feats.sort(key=lambda f: f["properties"]["name"])
    out = {"type": "FeatureCollection",
           "note": ("Derived from Natural Earth 1:10m admin-1 (public domain) via "
                    "shared/data/covariates/pak_adm1_with_fata.geojson; simplified with shapely "
                    f"(tolerance {tolerance} deg) by `pakcast data build`. FATA is its own feature."),
           "features": feats}
    return atomic_write_text(out_path, json.dumps(out, separators=(",", ":")) + "\n")


@lru_cache(maxsize=4)
def load_provinces(path: str | None = None) -> tuple[tuple[str, ...], tuple]:
    """``(names, geometries)`` of the shipped province polygons (FATA separate)."""
    p = Path(path) if path else paths.shipped(GEOJSON_NAME)
    gj = json.loads(p.read_text(encoding="utf-8"))
    names = tuple(f["properties"]["name"] for f in gj["features"])
    geoms = tuple(shape(f["geometry"]) for f in gj["features"])
    for g in geoms:
        shapely.prepare(g)
    return names, geoms


@lru_cache(maxsize=4)
def _reach(path: str | None, max_distance_deg: float) -> tuple:
    """Each province polygon buffered by a little more than ``max_distance_deg`` (prepared)."""
    out = tuple(g.buffer(max_distance_deg * 1.05) for g in load_provinces(path)[1])
    for b in out:
        shapely.prepare(b)
    return out


def assign_provinces(lat: np.ndarray | pd.Series, lon: np.ndarray | pd.Series,
                     max_distance_deg: float = MAX_DISTANCE_DEG, path: str | None = None) -> pd.Series:
    """Canonical province (FATA separate) of each point; missing where none is within reach."""
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    out = np.full(lat.shape, None, dtype=object)
    ok = np.isfinite(lat) & np.isfinite(lon)
    if not ok.any():
        return pd.Series(out, dtype="string")
    names, geoms = load_provinces(path)
    inside = np.zeros(lat.shape, dtype=bool)
    for name, g in zip(names, geoms):
        hit = ok & ~inside & shapely.contains_xy(g, lon, lat)
        out[hit] = name
        inside |= hit
    rest = np.flatnonzero(ok & ~inside)
    if rest.size:
        # distances only where a point is within reach of a polygon: inside its buffer (a 5% wider radius
        # covers the chords that approximate the buffer's arcs); elsewhere a province is out of reach
        pts = shapely.points(lon[rest], lat[rest])
        d = np.full((len(rest), len(geoms)), np.inf)
        for k, (g, b) in enumerate(zip(geoms, _reach(path, max_distance_deg))):
            cand = np.flatnonzero(shapely.intersects_xy(b, lon[rest], lat[rest]))
            if cand.size:
                d[cand, k] = shapely.distance(g, pts[cand])
        j = d.argmin(axis=1)
        near = d[np.arange(len(rest)), j] <= max_distance_deg
        out[rest[near]] = np.asarray(names, dtype=object)[j[near]]
    return pd.Series(out, dtype="string")
