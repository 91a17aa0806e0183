"""Canonical province names for Pakistan and the map from every spelling the sources use.

Canonical names (``CANONICAL``): ``Balochistan``, ``Khyber Pakhtunkhwa``, ``Punjab``, ``Sindh``,
``Islamabad Capital Territory``, ``Gilgit-Baltistan``, ``Azad Jammu and Kashmir`` and ``FATA``
(the former Federally Administered Tribal Areas). The event table keeps ``FATA`` apart; panels
merge it into Khyber Pakhtunkhwa by default (``fata="merge"``, consistent across the May-2018
merger, 25th Amendment) or keep it (``fata="separate"``). The national series is ``Pakistan``.

Spellings covered (case, punctuation and a trailing "province" are ignored): the UCDP GED
``adm_1`` values (``Khyber Pakhtunkwa province``, ``Islamabad Capital territory``,
``Federally Administered Tribal Areas``, ``Azad Jammu & Kashmir``...), Natural Earth names
(``N.W.F.P.``, ``F.A.T.A.``, ``Sind``, ``Baluchistan``, ``F.C.T.``, ``Northern Areas``,
``Azad Kashmir``), GTD ``provstate`` values, ACLED ``admin1`` values, and the regions of the
reported-aggregate tables (``Khyber Pakhtunkhwa (incl. tribal districts)``, ``Islamabad``).
"""

from __future__ import annotations

import re
from typing import Iterable

import pandas as pd

from pakcast.forecast.country import NATIONAL

KP = "Khyber Pakhtunkhwa"
FATA = "FATA"

CANONICAL: tuple[str, ...] = (
    "Balochistan",
    KP,
    "Punjab",
    "Sindh",
    "Islamabad Capital Territory",
    "Gilgit-Baltistan",
    "Azad Jammu and Kashmir",
    FATA,
)
#: provinces of a ``fata="merge"`` panel, in display order
PROVINCES_MERGED: tuple[str, ...] = tuple(p for p in CANONICAL if p != FATA)
#: provinces of a ``fata="separate"`` panel
PROVINCES_SEPARATE: tuple[str, ...] = CANONICAL

FATA_OPTIONS = ("merge", "separate")

# keys are normalised with _key(): lower case, '&' -> 'and', punctuation to spaces,
# a trailing 'province' and the word 'the' removed, whitespace collapsed.
_SPELLINGS: dict[str, str] = {}


def _key(name: str) -> str:
    s = str(name).strip().lower()
    s = s.replace("&", " and ")
    s = re.sub(r"[.\-_/,'()]+", " ", s)
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"^the ", "", s)
    s = re.sub(r" (province|provinces|region|division)$", "", s)
    return s


def _add(canonical: str, *names: str) -> None:
    for n in (canonical,) + names:
        _SPELLINGS[_key(n)] = canonical


_add("Balochistan", "Baluchistan", "Balochistan province", "Baluchistan province", "Balochsitan",
     "PK-BA", "Balochistān")
_add(KP, "Khyber Pakhtunkwa province", "Khyber Pakhtunkhwa province", "Khyber Pakhtunkwa",
     "Khyber Pakhtoonkhwa", "Khyber Pukhtunkhwa", "Khyber-Pakhtunkhwa", "KP", "KPK",
     "N.W.F.P.", "NWFP", "North-West Frontier Province", "North West Frontier Province",
     "North-West Frontier", "Northwest Frontier Province", "Khyber Pakhtunkhwa (incl. tribal districts)",
     "Khyber Pakhtunkhwa incl. ex-FATA", "mainland KP", "PK-KP", "N.W.F.P.+F.A.T.A.",
     "Khyber Pakhtunkhwa incl. FATA")
_add("Punjab", "Punjab province", "Panjab", "PK-PB")
_add("Sindh", "Sind", "Sindh province", "PK-SD")
_add("Islamabad Capital Territory", "Islamabad Capital territory", "Islamabad", "ICT",
     "F.C.T.", "FCT", "Federal Capital Territory", "Islamabad Capital Territory (ICT)", "PK-IS")
_add("Gilgit-Baltistan", "Gilgit Baltistan", "Northern Areas", "Gilgit-Baltistan province",
     "Federally Administered Northern Areas", "GB", "PK-GB")
_add("Azad Jammu and Kashmir", "Azad Jammu & Kashmir", "Azad Kashmir", "AJK", "AJ&K",
     "Azad Jammu Kashmir", "Azad Jammu and Kashmir (AJK)", "Pakistan-administered Kashmir", "PK-JK")
_add(FATA, "Federally Administered Tribal Areas", "F.A.T.A.", "Federally Administered Tribal Area",
     "Tribal Areas", "ex-FATA", "erstwhile FATA", "Merged tribal districts", "Newly merged districts",
     "Federally Administered Tribal Areas (FATA)", "PK-TA")
_add(NATIONAL, "National", "Pakistan (national)", "PAK", "All Pakistan")


def canonical_province(name: object) -> str | None:
    """Canonical name of one spelling; ``None`` for missing; ``KeyError`` with the spelling if unknown."""
    if name is None or (not isinstance(name, str) and pd.isna(name)):
        return None
    if isinstance(name, str) and not name.strip():
        return None
    k = _key(str(name))
    if k in _SPELLINGS:
        return _SPELLINGS[k]
    raise KeyError(f"unknown province spelling {name!r}; known canonical names: {', '.join(CANONICAL)}")


def is_known(name: object) -> bool:
    """True if ``name`` is missing or a known spelling."""
    try:
        canonical_province(name)
    except KeyError:
        return False
    return True


def normalise(values: Iterable[object] | pd.Series, unknown: str = "raise") -> pd.Series:
    """Vectorised :func:`canonical_province`.

    Parameters
    ----------
    values : iterable of str
        Province spellings (missing values stay missing).
    unknown : {"raise", "na"}
        What an unknown spelling does: raise ``KeyError`` naming it, or become missing.
    """
    s = pd.Series(values) if not isinstance(values, pd.Series) else values
    uniq = pd.unique(s.astype("object"))
    mapping: dict[object, object] = {}
    bad = []
    for u in uniq:
        try:
            mapping[u] = canonical_province(u)
        except KeyError:
            bad.append(u)
            mapping[u] = None
    if bad and unknown == "raise":
        raise KeyError(f"unknown province spelling(s): {', '.join(map(repr, bad))}")
    out = s.astype("object").map(mapping)
    return out.astype("string")


def apply_fata(provinces: pd.Series, fata: str = "merge") -> pd.Series:
    """Merge ``FATA`` into Khyber Pakhtunkhwa (``fata="merge"``) or keep it (``"separate"``)."""
    if fata not in FATA_OPTIONS:
        raise ValueError(f"fata must be one of {FATA_OPTIONS}, got {fata!r}")
    if fata == "separate":
        return provinces
    is_fata = (provinces == FATA).fillna(False).astype(bool)
    return provinces.mask(is_fata, KP)


def province_list(fata: str = "merge") -> tuple[str, ...]:
    """The provinces of a panel under the given FATA option."""
    if fata not in FATA_OPTIONS:
        raise ValueError(f"fata must be one of {FATA_OPTIONS}, got {fata!r}")
    return PROVINCES_MERGED if fata == "merge" else PROVINCES_SEPARATE


def known_spellings() -> dict[str, str]:
    """Normalised spelling key -> canonical name (for documentation and tests)."""
    return dict(_SPELLINGS)


__all__ = [
    "NATIONAL", "KP", "FATA", "CANONICAL", "PROVINCES_MERGED", "PROVINCES_SEPARATE", "FATA_OPTIONS",
    "canonical_province", "is_known", "normalise", "apply_fata", "province_list", "known_spellings",
]
