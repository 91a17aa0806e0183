"""The manual builds as a Sphinx site with warnings as errors (the command .ci/run runs), its pages
carry the generated figures (no placeholder left) and the API reference renders the maths."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_docs_site_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("numpydoc")
    out = tmp_path / "html"  # a fresh build (own doctrees), so every page is read and every warning seen
    r = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                        "-d", str(tmp_path / "doctrees"), str(REPO / "docs"), str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    for page in ("readme/quarterly.html", "readme/performance.html", "index.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert "{{" not in html, f"{page}: a placeholder was not filled"
    assert "<h1>The quarterly forecast" in (out / "readme" / "quarterly.html").read_text(encoding="utf-8")
    assert 'class="math' in (out / "api" / "pakcast.models.covariance.html").read_text(encoding="utf-8")
    assert "CountGLM" in (out / "api" / "pakcast.models.glm.html").read_text(encoding="utf-8")
