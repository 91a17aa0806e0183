"""Sphinx configuration of the pakcast manual (``sphinx-build -W -b html docs docs/_build/html``).

The pages are the Markdown sections in ``docs/readme/`` used in place (myst-parser), their result
placeholders filled at build time by the same filler that builds README.md
(``docs/build_readme.py``: ``site_source``); the API reference is generated from the docstrings
(autodoc + autosummary, numpydoc for the numpy-style sections and ``.. math::`` blocks).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("build_readme", DOCS / "build_readme.py")
build_readme = importlib.util.module_from_spec(_spec)
sys.modules["build_readme"] = build_readme
_spec.loader.exec_module(build_readme)

project = "pakcast"
author = "pakcast contributors"
copyright = "pakcast contributors"
try:
    from pakcast import __version__ as release
except ImportError:  # pragma: no cover - the site documents the installed package
    release = "unknown"
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# Only the pages in the toctree are documents: README-only parts, results, examples and outputs are not.
include_patterns = ["index.md", "api.rst", "api/**", "sources.md", "ARCHITECTURE.md", "readme/*.md"]
# the README-only parts are included into the front page, not pages of their own
exclude_patterns = ["_build"] + [f"readme/{part}" for part in build_readme.PARTS]

myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_typehints = "none"  # numpydoc sections carry the types
autodoc_mock_imports: list[str] = []
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"pakcast {release}"
html_static_path: list[str] = []


def _fill_placeholders(app, docname: str, source: list[str]) -> None:
    """Result placeholders of a page filled from docs/results (the README's filler)."""
    if docname.startswith("readme/"):
        source[0] = build_readme.site_source(docname.split("/", 1)[1] + ".md", source[0])


def _fill_included(app, relative_path: Path, parent_docname: str, content: list[str]) -> None:
    """The same for a section included into a page (the README's head and tour on the front page)."""
    path = Path(relative_path)
    if path.parent.name == "readme":
        content[0] = build_readme.site_source(path.name, content[0], page=False)


def setup(app):
    app.connect("source-read", _fill_placeholders)
    app.connect("include-read", _fill_included)
    return {"parallel_read_safe": True}
