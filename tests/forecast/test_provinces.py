"""Province normalisation: every spelling of every source maps to one canonical name."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pakcast.forecast import paths
from pakcast.forecast.provinces import (CANONICAL, FATA, KP, apply_fata, canonical_province, normalise,
                                province_list)

SPELLINGS = {
    # UCDP GED adm_1 (verbatim, shared/data/events/PROVENANCE.md)
    "Khyber Pakhtunkwa province": KP, "Federally Administered Tribal Areas": FATA,
    "Islamabad Capital territory": "Islamabad Capital Territory", "Azad Jammu & Kashmir": "Azad Jammu and Kashmir",
    "Balochistan province": "Balochistan", "Sindh province": "Sindh", "Punjab province": "Punjab",
    "Gilgit-Baltistan": "Gilgit-Baltistan",
    # Natural Earth (ne_name of the boundary files)
    "N.W.F.P.": KP, "F.A.T.A.": FATA, "Sind": "Sindh", "Baluchistan": "Balochistan",
    "F.C.T.": "Islamabad Capital Territory", "Northern Areas": "Gilgit-Baltistan",
    "Azad Kashmir": "Azad Jammu and Kashmir",
    # GTD provstate / ACLED admin1 / reported regions
    "North-West Frontier Province": KP, "Khyber Pakhtunkhwa": KP, "Islamabad": "Islamabad Capital Territory",
    "Khyber Pakhtunkhwa (incl. tribal districts)": KP, "Islamabad Capital Territory": "Islamabad Capital Territory",
    "Azad Jammu and Kashmir": "Azad Jammu and Kashmir", "FATA": FATA,
}


@pytest.mark.parametrize("spelling, canonical", sorted(SPELLINGS.items()))
def test_spelling(spelling, canonical):
    assert canonical_province(spelling) == canonical
    assert canonical_province(spelling.upper()) == canonical


def test_unknown_and_missing():
    assert canonical_province(None) is None and canonical_province("") is None
    with pytest.raises(KeyError, match="Atlantis"):
        canonical_province("Atlantis")
    s = normalise(["Sind", None, "Atlantis"], unknown="na")
    assert s.tolist()[0] == "Sindh" and pd.isna(s.iloc[1]) and pd.isna(s.iloc[2])


def test_fata_options_keep_missing():
    s = pd.Series(["FATA", KP, None, "Sindh"], dtype="string")
    merged = apply_fata(s, "merge")
    assert merged.iloc[0] == KP and merged.iloc[1] == KP and pd.isna(merged.iloc[2]) and merged.iloc[3] == "Sindh"
    assert apply_fata(s, "separate").iloc[0] == FATA
    assert FATA not in province_list("merge") and FATA in province_list("separate")
    with pytest.raises(ValueError):
        apply_fata(s, "drop")


def test_boundary_and_reported_names_all_known(shared_dir):
    for name in ("pak_adm1_with_fata.geojson", "pak_adm1.geojson"):
        gj = json.loads((shared_dir / "data" / "covariates" / name).read_text())
        for f in gj["features"]:
            assert canonical_province(f["properties"]["name"]) in CANONICAL
            assert canonical_province(f["properties"]["ne_name"]) in CANONICAL
    for csv in (shared_dir / "data" / "reported").glob("*.csv"):
        for r in pd.read_csv(csv)["region"].unique():
            assert canonical_province(r) in (*CANONICAL, "Pakistan"), r


def test_shipped_geometry_has_eight_features():
    gj = json.loads(paths.shipped("provinces.geojson").read_text())
    assert sorted(f["properties"]["name"] for f in gj["features"]) == sorted(CANONICAL)
