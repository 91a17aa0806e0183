"""The briefing as a reader sees it: HTML rendered by headless Chromium, the PDF rasterised by pdftoppm.

Needs Debian's ``chromium`` and ``poppler-utils`` (``.ci/run`` installs them); each test skips with
the reason when its tool is absent.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from test_report_fixtures import make_quarterly_run

from pakcast.forecast.report import build_report
from pakcast.forecast.report.format import fmt_count, fmt_pct, fmt_ratio

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")
PDFTOTEXT = shutil.which("pdftotext")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)")
needs_pdftoppm = pytest.mark.skipif(PDFTOPPM is None, reason="pdftoppm not installed (apt-get install poppler-utils)")


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    d = make_quarterly_run(tmp_path_factory.mktemp("browser") / "run", with_attribution=False)
    build_report(d)
    return d


@pytest.fixture(scope="module")
def briefing(run_dir) -> dict:
    return json.loads((run_dir / "briefing.json").read_text())


class _Collector(HTMLParser):
    """Text of elements carrying given attributes, plus section ids in document order."""

    def __init__(self):
        super().__init__()
        self.sections: list[str] = []
        self.cells: dict[tuple[str, str, str], str] = {}
        self.judgements: list[str] = []
        self.verdicts: list[str] = []
        self.unavailable = 0
        self._stack: list[tuple[str, str | None, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and a.get("data-section"):
            self.sections.append(a["data-section"])
        key = None
        if tag == "td" and a.get("data-province"):
            key = f"cell|{a['data-province']}|{a['data-quarter']}|{a['data-measure']}"
        elif tag == "li" and a.get("data-judgement"):
            key = "judgement"
        elif tag == "span" and "verdict" in (a.get("class") or ""):
            key = "verdict"
        elif tag == "div" and a.get("class") == "unavailable":
            self.unavailable += 1
        if tag not in ("br", "img", "meta"):
            self._stack.append((tag, key, []))

    def handle_data(self, data):
        for _, key, buf in self._stack:
            if key:
                buf.append(data)

    def handle_endtag(self, tag):
        while self._stack:
            t, key, buf = self._stack.pop()
            if key:
                text = re.sub(r"\s+", " ", "".join(buf)).strip()
                if key.startswith("cell|"):
                    _, p, q, m = key.split("|")
                    self.cells[(p, q, m)] = text
                elif key == "judgement":
                    self.judgements.append(text)
                elif key == "verdict":
                    self.verdicts.append(text)
            if t == tag:
                break


@needs_chromium
def test_rendered_dom_matches_briefing_json(run_dir, briefing, tmp_path):
    res = _chromium(["--dump-dom", (run_dir / "briefing.html").as_uri()], tmp_path / "profile")
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    assert "<main>" in dom and len(dom) > 10000
    c = _Collector()
    c.feed(dom)
    assert c.sections == briefing["section_order"]
    rows = briefing["sections"]["forecast_table"]["rows"]
    assert len(c.cells) == len(rows)
    for r in rows:
        text = c.cells[(r["province"], r["quarter"], r["measure"])]
        expected = f"{fmt_count(r['q50'])} ({fmt_count(r['q05'])}–{fmt_count(r['q95'])})"
        assert text.startswith(expected), (r, text)
        if r["p_gt_last_year"] is not None:
            assert text.endswith(f"P(>last year) {fmt_pct(r['p_gt_last_year'])}")
    assert c.judgements == [j["text"] for j in briefing["sections"]["key_judgements"]["items"]]
    assert c.verdicts == [r["status"] for r in briefing["sections"]["claims"]["rows"]]
    # the scorecard headline numbers as the reader sees them
    h = briefing["sections"]["scorecard"]["headline"]
    assert f"CRPS {fmt_ratio(h['crps'])} vs {fmt_ratio(h['baseline_crps'])}" in re.sub(r"<[^>]+>", "", dom)
    # the part the fixture leaves out (attribution.json) is shown as not available, not dropped
    assert list(briefing["missing"]) == ["attribution"]
    assert c.unavailable == len(briefing["missing"])


@needs_chromium
def test_screenshot_is_not_blank(run_dir, tmp_path):
    shot = tmp_path / "shot.png"
    res = _chromium(["--hide-scrollbars", "--window-size=1000,3000", f"--screenshot={shot}",
                     (run_dir / "briefing.html").as_uri()], tmp_path / "profile")
    assert res.returncode == 0 and shot.exists(), res.stderr[-2000:]
    img = mpimg.imread(str(shot))[..., :3]
    assert img.shape[:2] == (3000, 1000)
    ink = (img.mean(axis=2) < 0.85).mean()
    assert ink > 0.02, f"screenshot almost blank ({ink:.3%} dark pixels)"
    # the figure area (the fan chart sits below the forecast tables) has colour: the fan bands
    coloured = (np.ptp(img, axis=2) > 0.15).mean()
    assert coloured > 0.001


@needs_pdftoppm
def test_pdf_pages_are_rasterised_and_not_blank(run_dir, briefing, tmp_path):
    res = subprocess.run([PDFTOPPM, "-r", "30", "-png", str(run_dir / "briefing.pdf"), str(tmp_path / "page")],
                         capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    pages = sorted(tmp_path.glob("page-*.png"))
    n_sections = len(briefing["section_order"])
    assert n_sections // 2 <= len(pages) <= 40
    for p in pages:
        img = mpimg.imread(str(p))[..., :3]
        assert img.shape[0] > img.shape[1]  # A4 portrait
        assert (img.mean(axis=2) < 0.8).mean() > 0.003, f"{p.name} is blank"
    if PDFTOTEXT:
        text = subprocess.run([PDFTOTEXT, "-layout", str(run_dir / "briefing.pdf"), "-"], capture_output=True,
                              text=True, timeout=60).stdout
        flat = re.sub(r"\s+", " ", text)
        for sid in briefing["section_order"]:
            assert briefing["sections"][sid]["title"] in flat
        first = briefing["sections"]["key_judgements"]["items"][0]["text"]
        assert first in flat


def _visible_text(dom: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", "", dom, flags=re.S)))


@needs_chromium
def test_reader_rules_in_the_rendered_page(run_dir, briefing, tmp_path):
    """Plain-language key judgements, a region column where rows differ by region, the banner."""
    from pakcast.forecast.report.judgements import JARGON

    dom = _chromium(["--dump-dom", (run_dir / "briefing.html").as_uri()], tmp_path / "profile").stdout
    c = _Collector()
    c.feed(dom)
    assert c.judgements
    for text in c.judgements:
        found = [w for w in JARGON if re.search(rf"\b{re.escape(w)}\b", text)]
        assert not found, (found, text)
    # the fixture's run date (2022-01-15) falls inside its first forecast quarter (2022Q1)
    assert 'data-banner="forecast_begun"' in dom and "The forecast period has begun." in _visible_text(dom)
    # the published-aggregates break table has a region column, so rows of one source never read as duplicates
    table = re.search(r'data-table="reported_breaks".*?</thead>', dom, flags=re.S).group(0)
    assert ">region<" in table
    text = _visible_text(dom)
    assert "Warning" not in text and "FutureWarning" not in text
    # model names in words in the scorecard (its headline and tables), never snake_case ids
    score = re.search(r'data-section="scorecard".*?</section>', dom, flags=re.S).group(0)
    score_text = _visible_text(re.sub(r"<figure.*?</figure>", "", score, flags=re.S))
    ids = re.findall(r"\b[a-z]+(?:_[a-z0-9]+)+\b", score_text)
    assert not ids, ids
    assert "long-run average" in score_text
    # one "Source:" line per figure
    for fig in re.findall(r"<figure.*?</figure>", dom, flags=re.S):
        assert _visible_text(fig).count("Source:") == 1, _visible_text(fig)


@needs_chromium
def test_its_study_page_on_a_users_file(tmp_path):
    from test_report_fixtures import make_its_study

    d = make_its_study(tmp_path / "its")
    build_report(d, pdf=False)
    dom = _chromium(["--dump-dom", (d / "briefing.html").as_uri()], tmp_path / "profile").stdout
    text = _visible_text(dom)
    assert "clinic visits" in text and "clinic_visits.csv" in text
    for word in ("Pakistan", "UCDP", "PICSS", "province", "Natural Earth"):
        assert word not in text, word
    assert dom.count('data-figure="its_impact_1"') == 1


@needs_pdftoppm
def test_pdf_has_vector_figures_and_the_html_columns(run_dir, briefing):
    pdfimages = shutil.which("pdfimages")
    if pdfimages:  # figures are drawn as vector graphics, not embedded bitmaps
        out = subprocess.run([pdfimages, "-list", str(run_dir / "briefing.pdf")], capture_output=True, text=True,
                             timeout=60).stdout
        # only the map's colour bar is a (thin) bitmap: no figure is an embedded picture
        sizes = [(int(r.split()[3]), int(r.split()[4])) for r in out.strip().splitlines()[2:]]
        assert all(min(wh) < 40 for wh in sizes), out
    if PDFTOTEXT:
        flat = re.sub(r"\s+", " ", subprocess.run([PDFTOTEXT, str(run_dir / "briefing.pdf"), "-"],
                                                  capture_output=True, text=True, timeout=60).stdout)
        assert "P(>last year)" in flat  # the same forecast columns as the HTML
        for name in ("Islamabad Capital Territory", "Azad Jammu and Kashmir", "Khyber Pakhtunkhwa"):
            assert name in flat  # names wrap, never cut
        for msg in briefing["banner"]:  # the HTML's banners
            assert msg["title"] in flat
        # claims under their claim in words, models by name: no snake_case ids left in the text
        assert "rise_after_2021_08" not in flat and "historical_rate" not in flat and "nb_glm" not in flat
        assert briefing["sections"]["claims"]["groups"][0]["claim"] in flat


@needs_pdftoppm
def test_pdf_has_no_half_empty_pages(run_dir, tmp_path):
    """Every page but the last is filled at least to its middle (figures share pages, titles stay with
    their tables); the fused briefing is checked the same way in test_fused_quarterly.py."""
    from test_report_fixtures import page_fill

    fill = page_fill(run_dir / "briefing.pdf", tmp_path)
    assert len(fill) > 2
    for i, f in enumerate(fill[:-1], start=1):
        assert f > 0.5, f"page {i}: content ends at {f:.0%}"
    assert fill[-1] > 0.2, f"the last page is nearly empty ({fill[-1]:.0%})"
    if PDFTOTEXT:
        from test_report_fixtures import assert_glossary_whole

        assert_glossary_whole(run_dir / "briefing.pdf", json.loads((run_dir / "briefing.json").read_text()))
