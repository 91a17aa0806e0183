"""Assemble README.md from the sections in docs/readme/ (edit those, then run this script).

Result numbers are never typed into the sections: a section quotes them through placeholders that
this script fills from the generated result files ``docs/results/<name>.json`` (written by
``python -m benchmarks.figures``, each with its git revision, command, date and machine):

    {{ backtest.Balochistan.attacks.quarter.published.crps }}          -> 1.66  (floats: 2 decimals)
    {{ backtest.Balochistan.attacks.quarter.published.coverage_90 | .0% }}  -> 88%  (a format spec)
    {{ backtest.meta.git_revision }}                                    -> the revision that made it
    {{ benchmarks.glm.pakcast_countglm_newton.seconds | ms }}           -> 2.24 ms (also us, ns; x for factors)

The first path element names the file (``backtest`` = ``docs/results/backtest.json``); ``meta`` is
the file's provenance block, anything else is looked up in its ``figures`` block, one key per
element (keys may contain spaces: ``Khyber Pakhtunkhwa``). A placeholder that does not resolve
stops the build with the section file, line and the missing key.

``\\{{`` writes a literal ``{{`` (to show the syntax in the docs).

A section whose results are all generated says so in its first line:

    <!-- figures: generated; constants: 22.1 85-95% -->

``constants`` lists the numbers in it that are not results (a data version, a goal);
``tests/test_readme_figures.py`` fails when such a section contains any other number that is not
filled from a result file, and when README.md differs from this build. The marker lines are
dropped from README.md.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ROOT / "docs" / "readme"
RESULTS = ROOT / "docs" / "results"
# README.md: the short head (what the tool does, the two commands, the data limits) and the tour.
PARTS = ["_head.md", "_tour.md"]
# The manual's pages (the Sphinx site under docs/, docs/index.md), in their order there.
PAGES = ["quarterly.md", "fusion.md", "report.md", "breaks_its.md", "bayes.md", "attribution.md",
         "likelihood.md", "foundation.md", "reliability.md", "performance.md", "_tail.md"]

PLACEHOLDER = re.compile(r"(?<!\\)\{\{\s*(?P<path>[^|}]+?)\s*(?:\|\s*(?P<fmt>[^}]*?)\s*)?\}\}")
MARKER = re.compile(r"^<!--\s*figures:\s*(?P<body>.*?)\s*-->\s*$")


class FigureError(ValueError):
    """A placeholder that does not resolve (file, line, key) or a malformed result file."""


def load_results(directory: Path = RESULTS) -> dict[str, dict]:
    """Every ``<name>.json`` in ``directory`` -> ``{"meta": ..., "figures": ...}``."""
    out: dict[str, dict] = {}
    for path in sorted(Path(directory).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "meta" not in data or "figures" not in data:
            raise FigureError(f"{path}: a result file needs the keys 'meta' and 'figures'")
        out[path.stem] = data
    return out


def lookup(results: dict[str, dict], path: str) -> Any:
    """The value at a dotted placeholder path (``file.key.key...``); KeyError names the first missing key."""
    parts = [p.strip() for p in path.split(".")]
    if parts[0] not in results:
        raise KeyError(f"no result file docs/results/{parts[0]}.json")
    node: Any = results[parts[0]]
    rest = parts[1:]
    if rest and rest[0] != "meta":
        node = node["figures"]
    for i, key in enumerate(rest):
        if not isinstance(node, dict) or key not in node:
            raise KeyError(f"{'.'.join(parts[: i + 2])!r} (available: {sorted(node)[:12] if isinstance(node, dict) else node!r})")
        node = node[key]
    return node


UNITS = {"ms": 1e3, "us": 1e6, "ns": 1e9}


def format_value(value: Any, spec: str | None) -> str:
    """``spec`` is a Python format spec, or a unit for a value in seconds (``ms``, ``us``, ``ns``:
    3 significant digits and the unit), or ``x`` (a factor: one decimal and ``x``); without one
    floats get 2 decimals, lists are joined by commas, mappings become ``key: value`` pairs joined
    by semicolons (``none`` when empty), other values ``str``."""
    if spec in UNITS:
        return f"{float(value) * UNITS[spec]:.3g} {spec}"
    if spec == "x":
        return f"{float(value):.1f}x"
    if spec:
        return format(value, spec)
    if isinstance(value, list):
        return ", ".join(format_value(v, None) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {format_value(v, None)}" for k, v in value.items()) or "none"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render(text: str, results: dict[str, dict], name: str = "<text>") -> str:
    """Fill every placeholder of one section; marker lines are removed."""
    lines = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if MARKER.match(line):
            continue

        def fill(m: re.Match) -> str:
            try:
                return format_value(lookup(results, m.group("path")), m.group("fmt"))
            except (KeyError, ValueError, TypeError) as exc:
                raise FigureError(f"docs/readme/{name}, line {lineno}: placeholder {m.group(0)!r}: {exc}") from exc

        lines.append(PLACEHOLDER.sub(fill, line).replace("\\{{", "{{"))
    return "\n".join(lines)


def section_marker(text: str) -> dict | None:
    """The ``figures:`` marker of a section (first line), as ``{"constants": [...]}``, or None."""
    first = text.splitlines()[0] if text.strip() else ""
    m = MARKER.match(first)
    if not m:
        return None
    body = m.group("body")
    constants: list[str] = []
    for part in body.split(";"):
        key, _, val = part.partition(":")
        if key.strip() == "constants":
            constants = val.split()
    return {"constants": constants}


def build(results: dict[str, dict] | None = None) -> str:
    """The README text assembled from the sections."""
    results = load_results() if results is None else results
    sections = []
    for name in PARTS:
        text = (SECTIONS / name).read_text(encoding="utf-8")
        sections.append(render(text, results, name).strip() + "\n")
    return "\n".join(sections)


HEADING = re.compile(r"^(#{2,6})(\s)")
FENCE = re.compile(r"^\s*(```|~~~)")
# links written for README.md (relative to the repository root) -> the same target on the site (docs/)
SITE_LINKS = {"](docs/readme/": "](readme/", "](docs/ARCHITECTURE.md": "](ARCHITECTURE.md",
              "](data/SOURCES.md": "](sources.md"}


def site_source(name: str, text: str, results: dict[str, dict] | None = None, page: bool = True) -> str:
    """One section for the site: placeholders filled (:func:`render`), README links turned into the
    site's and, for a ``page`` (not a section included into one), headings raised one level when the
    section starts at ``##`` (a page needs a ``#`` title)."""
    results = load_results() if results is None else results
    lines = render(text, results, name).splitlines()
    in_fence = False
    first = next((ln for ln in lines if ln.startswith("#")), "")
    raise_level = page and first.startswith("## ")
    out = []
    for line in lines:
        if FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and raise_level:
            line = HEADING.sub(lambda m: m.group(1)[1:] + m.group(2), line)
        for old, new in SITE_LINKS.items():
            line = line.replace(old, new)
        out.append(line)
    return "\n".join(out) + "\n"


def main() -> None:
    try:
        text = build()
    except FigureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2)
    (ROOT / "README.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
