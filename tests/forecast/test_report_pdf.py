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
        w.table(["name", "value"], ROWS)
        w.flush()
    pages = _pages(path)
    assert len(pages) == 2
    last = [r[0] for r in ROWS if r[0] in pages[-1]]
    assert len(last) >= 3 and last == [r[0] for r in ROWS][-len(last):]
    assert "name" in pages[-1]  # the header repeated over the carried rows


def _glossary_briefing(depth_lines: int) -> dict:
    items = [{"term": f"term{k}", "text": "a plain explanation of the word " * 3} for k in range(9)]
    methods = [{"title": f"Method {k}", "text": "How this part was done, in a few sentences. " * 3}
               for k in range(depth_lines)]
    return {"title": "test briefing", "run_id": "r", "generated": "now", "section_order": ["methods", "glossary"],
            "sections": {"methods": {"title": "Methods appendix", "available": True, "items": methods},
                         "glossary": {"title": "Glossary", "available": True, "items": items}}}


@needs_poppler
def test_the_glossary_is_kept_whole_and_the_last_page_is_not_nearly_empty(tmp_path):
    """Whatever the length of the text before it, the glossary never leaves a row or two alone on a page:
    it moves to the next page whole (the page before already past its middle) or stays whole."""
    from test_report_fixtures import page_fill

    for n in range(6, 30, 2):  # the methods text ends at every depth of a page
        path = tmp_path / f"b{n}.pdf"
        P.write_pdf(path, _glossary_briefing(n), {})
        pages = _pages(path)
        on = [i for i, t in enumerate(pages) if any(f"term{k} " in t for k in range(9))]
        assert len(on) == 1, (n, on)  # every term on one page
        assert all(f"term{k} " in pages[on[0]] for k in range(9))
        fill = page_fill(path, tmp_path / f"png{n}")
        assert all(f > 0.5 for f in fill[:-1]), (n, fill)
        assert fill[-1] > 0.2, (n, fill)  # the last page holds the whole glossary, not a row of it
