"""The PDF page layout (``forecast.report.pdf``), measured on the rendered PDF: no orphan table rows, the
glossary kept whole, no nearly empty last page."""

from __future__ import annotations

import shutil

import pytest
from matplotlib.backends.backend_pdf import PdfPages

from pakcast.forecast.report import pdf as P

needs_poppler = pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
                                   reason="poppler-utils (pdftotext, pdftoppm) not installed")


def _pages(path) -> list[str]:
    from test_report_fixtures import pdf_page_texts

    return pdf_page_texts(path)


def _fill_to(w: P.PageWriter, depth: float) -> None:
    """Body lines until the page's content reaches ``depth`` (fraction of the page from its top)."""
    while 1 - w.y < depth:
        w.paragraph("Filler line of the section before.")


ROWS = [[f"row{k:02d}", f"a value {k}"] for k in range(12)]


@needs_poppler
@pytest.mark.parametrize("room_rows", [1, 2])
def test_a_breaking_table_takes_no_lone_row_onto_its_last_page(tmp_path, room_rows):
    path = tmp_path / "t.pdf"
    with PdfPages(path) as pdf:
        w = P.PageWriter(pdf, "test")
        w._new_page()
        _fill_to(w, 0.3)
        lay = P._TableLayout(["name", "value"], ROWS, 7.0, 40, None)
        # leave room for the header and all rows but ``room_rows`` less than the whole table
        rows_h = [lay.height(r) for r in lay.body]
        target = lay.height(lay.cols) + sum(rows_h[:-room_rows]) + 0.2 * rows_h[-1]
        while w.y - P.BOTTOM > target:
            w.paragraph("Filler line of the section before.")
        w.table(["name", "value"], ROWS, title="Attacks per quarter (attacks as PIPS counts them)")
        w.flush()
    pages = _pages(path)
    assert len(pages) == 2
    # the carried rows say what they are
    assert "Attacks per quarter (attacks as PIPS counts them) (continued)" in " ".join(pages[-1].split())
    last = [r[0] for r in ROWS if r[0] in pages[-1]]
    assert len(last) >= 3 and last == [r[0] for r in ROWS][-len(last):]
    assert "name" in pages[-1]  # the header repeated over the carried rows


#: a glossary of about half a page: whether it fits below the text before it, moves whole or breaks is decided
#: near the page's middle
N_TERMS = 12
GLOSSARY = {"title": "Glossary", "available": True,
            "items": [{"term": f"term{k}", "text": "a plain explanation of the word " * 3} for k in range(N_TERMS)]}


def _glossary_after(path, pen: float) -> None:
    """A page of one-line paragraphs down to the pen position ``pen`` (page fraction from the top), then the
    glossary section as :func:`~pakcast.forecast.report.pdf.write_pdf` lays it out."""
    with PdfPages(path) as pdf:
        w = P.PageWriter(pdf, "test")
        w._new_page()
        while 1 - w.y + P.LINE * 1.4 < pen:
            w.paragraph("A line of the methods text before the glossary.", size=8.5)
        w.y = min(w.y, 1 - pen)  # the pen a fraction of a line further down, as wrapped text of other sizes leaves it
        w.heading("13. Glossary", keep=P._keep_with_heading(w, "glossary", GLOSSARY, {}))
        P._section(w, "glossary", GLOSSARY, {})
        w.flush()


@needs_poppler
def test_the_glossary_is_kept_whole_and_the_last_page_is_not_nearly_empty(tmp_path):
    """Wherever on the page the text before it ends, the glossary never leaves a row or two alone on a page:
    it moves to the next page whole (the page before already past its middle) or stays whole, or breaks
    with three rows or more on each page; no page but the last ends above its middle."""
    from test_report_fixtures import page_fill

    for k in range(34):  # pen positions from 42% to 62% of the page, 0.6% apart
        pen = 0.42 + 0.006 * k
        path = tmp_path / f"g{k}.pdf"
        _glossary_after(path, pen)
        pages = _pages(path)
        counts = [sum(f"term{j} " in t for j in range(N_TERMS)) for t in pages]
        assert sum(counts) == N_TERMS and all(c == 0 or c >= 3 for c in counts), (pen, counts)
        fill = page_fill(path, tmp_path / f"png{k}")
        assert all(f > 0.5 for f in fill[:-1]), (pen, fill)
        assert fill[-1] > 0.2, (pen, fill)  # the last page holds the whole glossary or its rows and more
