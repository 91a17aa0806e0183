"""The briefing as PDF, with matplotlib's PDF backend only (no browser, no system libraries).

Text pages are laid out top to bottom on A4 figures (headings, wrapped paragraphs, fixed-width
tables, visible "not available" notes) and each briefing figure is placed on the page from its
PNG, in the same section order as the HTML. :class:`matplotlib.backends.backend_pdf.PdfPages`
writes the pages to memory, and :func:`forecast.io.atomic_write_bytes` replaces ``briefing.pdf``.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import matplotlib.image as mpimg
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from pakcast.forecast.io import atomic_write_bytes
from pakcast.forecast.report.format import (
    fmt_cell,
    fmt_count,
    fmt_p,
    fmt_pct,
    fmt_rate,
    fmt_ratio,
    fmt_ratio3,
    header_label,
    rate_interval,
    readable,
)

A4 = (8.27, 11.69)
LEFT, RIGHT, TOP, BOTTOM = 0.07, 0.93, 0.95, 0.05
BODY_PT = 9.0
LINE = BODY_PT * 1.45 / 72 / A4[1]  # one body line in figure coordinates
WRAP = 106  # characters per body line at 9 pt on A4
#: the smallest scale a figure takes to stay on a page that would otherwise be left less than half full
MIN_SHRINK = 0.6
#: a table that breaks across pages takes at least this many rows onto its last page
MIN_ROWS = 3
GLOSSARY_PT = 7.5
#: the writing position below which a page's content has passed its middle (two lines' margin: what is
#: drawn ends above the position)
HALF_PAGE = 0.5 - 2 * LINE


class PageWriter:
    """Flow text, tables and figures down A4 pages of a :class:`PdfPages`.

    A page's text and table rules are recorded as drawing steps and drawn when the page is
    written, onto a blank A4 figure or, when the page holds a briefing figure, onto that figure
    itself (resized to A4, its axes moved into place): so figures stay vector graphics.
    """

    def __init__(self, pdf: PdfPages, title: str):
        self.pdf, self.title, self.y, self.page = pdf, title, TOP, 0
        self.ops: list[Any] | None = None
        self.base: Figure | None = None

    def _new_page(self) -> None:
        self.flush()
        self.ops, self.base = [], None
        self.page += 1
        title, page = self.title, self.page
        # every text on a page is plain: a user's label or file name with "$" is never read as mathtext
        self.ops.append(lambda f: f.text(LEFT, 0.975, title, fontsize=7, color="#666666", parse_math=False))
        self.ops.append(lambda f: f.text(RIGHT, 0.02, f"page {page}", fontsize=7, color="#666666", ha="right"))
        self.y = TOP

    def flush(self) -> None:
        if self.ops is None:
            return
        fig = self.base if self.base is not None else Figure(figsize=A4)
        for op in self.ops:
            op(fig)
        self.pdf.savefig(fig)
        self.ops, self.base = None, None

    def _need(self, height: float) -> None:
        if self.ops is None or self.y - height < BOTTOM:
            self._new_page()

    def _text(self, x: float, y: float, text: str, **kw: Any) -> None:
        self.ops.append(lambda f: f.text(x, y, text, va="top", parse_math=False, **kw))

    def heading(self, text: str, size: float = 13, keep: float = 0.2) -> None:
        # keep a heading with what follows: start a new page when less than ``keep`` of this one is left;
        # a long heading wraps (bold: about 0.68 em a character)
        lines = textwrap.wrap(text, width=max(int((RIGHT - LEFT) * A4[0] * 72 / (0.68 * size)), 20)) or [""]
        self._need(max(LINE * (3 + len(lines)), keep))
        self.y -= LINE * 0.8
        for k, line in enumerate(lines):
            if k:
                self.y -= LINE * size / BODY_PT * 1.15
            self._text(LEFT, self.y, line, fontsize=size, fontweight="bold")
        self.y -= LINE * size / BODY_PT * 1.4

    def paragraph(self, text: str, size: float = BODY_PT, color: str = "black", indent: float = 0.0,
                  wrap: int = WRAP, bullet: str = "") -> None:
        lines = textwrap.wrap(text, width=int(wrap * BODY_PT / size) - len(bullet)) or [""]
        lh = LINE * size / BODY_PT
        n = len(lines)
        fit = max(int((self.y - BOTTOM) / lh + 1e-9), 0) if self.ops is not None else 0
        # no line alone: a short paragraph that breaks moves whole, a long one takes two lines over
        brk = None
        if fit < n:
            if n <= 4:
                self._need(lh * n)
            else:
                brk = fit - 1 if n - fit == 1 else fit
        for i, line in enumerate(lines):
            if i == brk and i > 0:
                self._new_page()
            self._need(lh)
            prefix = bullet if i == 0 else " " * len(bullet)
            self._text(LEFT + indent, self.y, prefix + line, fontsize=size, color=color)
            self.y -= lh
        self.y -= LINE * 0.35

    def table_title(self, text: str, size: float = 9) -> None:
        """A table's title, kept on the page with the table's header and first rows."""
        self._need(LINE * 8)
        self.paragraph(text, size=size)

    def unavailable(self, reason: str) -> None:
        self.paragraph(f"Not available in this run: {reason}", color="#8a5a00")

    def data_table(self, t: dict[str, Any], max_width: int = 40, only: tuple[str, ...] | None = None,
                   title: str | None = None) -> None:
        """A table in the briefing's form (``columns``, ``kinds``, ``rows``), headers and cells formatted
        as in the HTML briefing; ``only`` keeps just those columns (in the table's order)."""
        keep = {j for j, c in enumerate(t["columns"]) if only is None or c in only}
        self.table([header_label(c) for j, c in enumerate(t["columns"]) if j in keep],
                   [[fmt_cell(v, k) for j, (v, k) in enumerate(zip(r, t["kinds"])) if j in keep] for r in t["rows"]],
                   max_width=max_width, title=title)

    def table(self, columns: list[str], rows: list[list[str]], size: float = 7.0, max_width: int = 40,
              numeric: list[bool] | None = None, balance: bool = False, title: str | None = None) -> None:
        """A ruled table in the body font: columns sized to their content, cells wrapped (never cut; a
        newline starts a new line), numbers right-aligned, the header repeated on each new page. A table
        that breaks across pages carries at least :data:`MIN_ROWS` rows onto its last page (no orphan row);
        ``balance`` (the briefing's last table): one that breaks takes onto its first page only the rows
        that fill that page past its middle, and carries the rest, so the last page is not left nearly empty.
        ``title``: repeated, marked "continued", over the header on each new page (what the numbers are)."""
        lay = _TableLayout(columns, rows, size, max_width, numeric)
        cols, body, x, widths, numeric = lay.cols, lay.body, lay.x, lay.widths, lay.numeric
        line_h, pad = lay.line_h, lay.pad

        def draw_row(cells: list[str], bold: bool) -> None:
            lines = [lay.wrapped(c, i) for i, c in enumerate(cells)]
            h = lay.height(cells)
            top = self.y
            for i, ls in enumerate(lines):
                for k, ln in enumerate(ls):
                    xx = x[i] + widths[i] - pad if numeric[i] and not bold else x[i]
                    self._text(xx, top - k * line_h, ln, fontsize=size, ha="right" if numeric[i] and not bold else "left",
                               fontweight="bold" if bold else "normal")
            y_rule = top - h + line_h * 0.15
            lw, colour = (0.9, "#222222") if bold else (0.3, "#bbbbbb")
            self.ops.append(lambda f, y=y_rule, lw=lw, c=colour: f.add_artist(
                Line2D([LEFT, LEFT + sum(widths)], [y, y], lw=lw, color=c, transform=f.transFigure)))
            self.y -= h

        heights = [lay.height(r) for r in body]
        # the header never sits alone at the foot of a page: it starts with at least two rows (or all)
        self._need(lay.height(cols) + sum(heights[:2]))
        breaks = self.y - lay.height(cols) - sum(heights) < BOTTOM
        draw_row(cols, True)
        on_page, first_page = 0, True
        for i, r in enumerate(body):
            rest = heights[i:]
            # the last rows go over together: when they do not all fit here, break before them (a page that
            # already holds rows of this table only), so the table's last page is never a single row
            orphan = (len(rest) <= MIN_ROWS and on_page >= MIN_ROWS and self.y - sum(rest) < BOTTOM
                      and lay.height(cols) + sum(rest) <= TOP - BOTTOM)
            # balanced: this page already past its middle, the rest (a page at most) goes over together
            half = (balance and breaks and first_page and on_page >= MIN_ROWS and self.y <= HALF_PAGE
                    and len(rest) >= MIN_ROWS and lay.height(cols) + sum(rest) <= TOP - BOTTOM)
            if orphan or half or self.y - heights[i] < BOTTOM:
                first_page = False
                self._new_page()
                if title:
                    self.paragraph(f"{title} (continued)", size=7.5, color="#444444", wrap=WRAP + 10)
                draw_row(cols, True)
                on_page = 0
            draw_row(r, False)
            on_page += 1
        self.y -= LINE * 0.5

    def table_height(self, columns: list[str], rows: list[list[str]], size: float = 7.0, max_width: int = 40) -> float:
        """The height :meth:`table` takes for these rows on one page (header included, page fractions)."""
        lay = _TableLayout(columns, rows, size, max_width, None)
        return lay.height(lay.cols) + sum(lay.height(r) for r in lay.body) + LINE * 0.5

    def image(self, record: Any, caption: str) -> None:
        """A briefing figure at the text width, vector (its own Figure moved onto the page)."""
        fig = record.figure
        if fig is None:  # a figure drawn elsewhere (PNG only)
            return self._raster(record.png, caption)
        w_in, h_in = fig.get_size_inches()
        width = RIGHT - LEFT
        height = width * (h_in / w_in) * (A4[0] / A4[1])
        cap = LINE * 7.5 / BODY_PT * (len(textwrap.wrap(caption, int((WRAP + 10) * BODY_PT / 7.5))) + 1)
        # a page holds one figure as its base; a second one is drawn again onto that base (redraw)
        can_join = self.base is None or record.redraw is not None
        if self.ops is not None and can_join and self.y - height - cap < BOTTOM:
            room = self.y - cap - BOTTOM
            # shrink a little rather than start a new page; more when this page is not yet half full,
            # so that no page but the last ends above its middle
            half_empty = TOP - self.y < 0.5 * (TOP - BOTTOM)
            if room >= (MIN_SHRINK if half_empty else 0.8) * height:
                width, height = width * room / height, room
        if self.ops is None or not can_join or self.y - height - cap < BOTTOM - 1e-9:  # (room: exactly BOTTOM)
            self._new_page()
        rect = (LEFT, self.y - height, width, height)
        # the axes keep their laid-out places inside the figure, scaled into the rectangle on the page
        # (read before any resize: get_position re-applies a fixed aspect for the current figure size)
        places = [ax.get_position() for ax in fig.axes]
        if self.base is None:
            fig.set_size_inches(*A4)
            self.base, axes = fig, list(fig.axes)
        else:
            n0 = len(self.base.axes)
            record.redraw(self.base)
            axes = list(self.base.axes[n0:])
        for ax, p in zip(axes, places):
            ax.set_position((rect[0] + p.x0 * rect[2], rect[1] + p.y0 * rect[3], p.width * rect[2], p.height * rect[3]))
        self.y -= height + LINE * 0.4
        self.paragraph(caption, size=7.5, color="#444444", wrap=WRAP + 10)

    def _raster(self, png: Path, caption: str) -> None:
        img = mpimg.imread(str(png))
        h_px, w_px = img.shape[:2]
        width = RIGHT - LEFT
        height = width * (h_px / w_px) * (A4[0] / A4[1])
        self._need(height + LINE * 3)
        y = self.y
        self.ops.append(lambda f: _imshow(f, img, (LEFT, y - height, width, height)))
        self.y -= height + LINE * 0.4
        self.paragraph(caption, size=7.5, color="#444444", wrap=WRAP + 10)


class _TableLayout:
    """Column widths and row heights of a :meth:`PageWriter.table` (one computation for drawing and measuring)."""

    def __init__(self, columns: list[str], rows: list[list[str]], size: float, max_width: int,
                 numeric: list[bool] | None) -> None:
        cols = [str(c) for c in columns]
        body = [["" if v is None else str(v) for v in r] for r in rows]
        if numeric is None:
            numeric = [all(_looks_numeric(r[i]) for r in body if r[i] not in ("", "-", "–")) and any(
                r[i] not in ("", "-", "–") for r in body) for i in range(len(cols))]
        char = 0.64 * size / 72 / A4[0]  # character width of DejaVu Sans (digits 0.636 em), in page fractions
        # a column is as wide as its longest cell (capped) and at least its header's longest word (bold: 15%
        # wider) or the first 16 characters of the header, so short headers stay on one or two lines
        longest = [[max((len(ln) for ln in r[i].split("\n")), default=0) for i in range(len(cols))] for r in body]
        head = [max(int(1.15 * max((len(x) for x in c.split()), default=3)) + 1, min(len(c), 16)) for c in cols]
        want = [min(max([head[i]] + [ln[i] for ln in longest] + [3]), max(max_width, head[i]))
                for i in range(len(cols))]
        # and never narrower than its longest word (up to 28 characters), so a name is not broken or cut
        words = [min(max([len(wd) for r in body for wd in r[i].split()] + [0]), 28) for i in range(len(cols))]
        want = [max(w, wd) for w, wd in zip(want, words)]
        total = RIGHT - LEFT
        pad = 0.016
        widths = [w * char + pad for w in want]
        if sum(widths) > total:  # shrink the widest columns first; cells wrap
            scale = (total - pad * len(widths)) / max(sum(w * char for w in want), 1e-9)
            widths = [w * char * scale + pad for w in want]
        x = [LEFT]
        for wd in widths[:-1]:
            x.append(x[-1] + wd)
        self.cols, self.body, self.numeric, self.widths, self.x = cols, body, numeric, widths, x
        self.char, self.pad = char, pad
        self.line_h = LINE * size / BODY_PT * 1.15

    def wrapped(self, text: str, i: int) -> list[str]:  # a newline in a cell starts a new line
        n = max(int((self.widths[i] - self.pad) / self.char + 1e-6), 3)
        return [ln for part in text.split("\n")
                for ln in (textwrap.wrap(part, width=n, break_long_words=len(part) > 2 * n) or [""])]

    def height(self, cells: list[str]) -> float:
        return max(len(self.wrapped(c, i)) for i, c in enumerate(cells)) * self.line_h + self.line_h * 0.35


def _imshow(fig: Figure, img: Any, rect: tuple[float, float, float, float]) -> None:
    ax = fig.add_axes(rect)
    ax.imshow(img, interpolation="antialiased")
    ax.set_axis_off()


def _looks_numeric(text: str) -> bool:
    t = text.replace(",", "").replace("−", "-").replace("–", "-").replace("%", "").strip()
    head = t.split(" ")[0].lstrip("<>+-")
    try:
        float(head)
        return True
    except ValueError:
        return False


def _forecast_pages(w: PageWriter, sec: dict[str, Any]) -> None:
    w.paragraph(sec["note"], size=8, color="#444444")
    for m in sec["measures"]:
        units = (sec.get("units") or {}).get(m)
        what = f"{m.capitalize()} per quarter{f' ({units})' if units else ''}"
        w.table_title(f"{what}: median (90% interval) and P(>last year)")
        quarters = list(sec["quarters"])
        # at most four quarters side by side (A4 width); later quarters in a second table below
        for start in range(0, len(quarters), 4):
            rows = []
            for row in sec["tables"][m]:
                cells = [(f"{fmt_count(c['q50'])} ({fmt_count(c['q05'])}–{fmt_count(c['q95'])})"
                          + (f"\nP(>last year) {fmt_pct(c['p_gt_last_year'])}" if c.get("p_gt_last_year") is not None
                             else "")) if c else "–" for c in row["cells"][start:start + 4]]
                rows.append([row["province"]] + cells)
            part = quarters[start:start + 4]
            if start:  # a later table of the same measure says what it holds
                w.table_title(f"{what}, {part[0]}–{part[-1]}", size=8)
            w.table(["Province"] + part, rows, max_width=26, numeric=[False] + [True] * len(part), title=what)


def write_pdf(path: str | Path, briefing: dict[str, Any], figs: dict[str, Any]) -> Path:
    """Write the briefing PDF atomically (``forecast.io.atomic_write_bytes``); returns its path."""
    buf = io.BytesIO()
    with matplotlib.rc_context({"font.family": "DejaVu Sans", "pdf.fonttype": 42}), PdfPages(buf, metadata={
            "Title": briefing["title"], "Subject": f"run {briefing.get('run_id')}", "Creator": "pakcast"}) as pdf:
        w = PageWriter(pdf, f"{briefing['title']} · run {briefing.get('run_id') or '-'}")
        w._new_page()
        w.heading(briefing["title"], size=18)
        meta = [f"As of: {briefing.get('as_of') or '-'}",
                f"{briefing.get('data_end_label', 'Data end')}: {briefing.get('data_end') or '-'}",
                f"Run: {briefing.get('run_id') or '-'}", f"Generated: {briefing['generated']}"]
        if briefing.get("units"):
            meta.insert(2, f"Units: {briefing['units']}")
        w.paragraph("   ·   ".join(meta), size=8, color="#444444")
        for msg in briefing.get("banner") or []:  # the HTML's banners: forecast period begun or past, old data
            w.paragraph(f"{msg['title']} {msg['text']}", size=9, color="#8a3b00")
        for i, sid in enumerate(briefing["section_order"], start=1):
            sec = briefing["sections"][sid]
            w.heading(f"{i}. {sec['title']}", keep=_keep_with_heading(w, sid, sec, figs))
            if not sec["available"]:
                w.unavailable(sec["reason"])
                continue
            _section(w, sid, sec, figs)
        w.flush()
    return atomic_write_bytes(path, buf.getvalue())


#: sections that open with a figure (after at most a line of text): their heading stays with it
_FIGURE_FIRST = ("fan_charts", "map", "its", "its_impact", "scorecard")


def _glossary_rows(sec: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    return ["term", "meaning"], [[g["term"], g["text"]] for g in sec["items"]]


def _keep_with_heading(w: PageWriter, sid: str, sec: dict[str, Any], figs: dict[str, Any]) -> float:
    """Room a section heading needs below it on its page: its first figure (at the smallest size
    :meth:`PageWriter.image` allows) and a few lines when the section opens with one; the whole glossary
    when this page is already half full (it moves to the next page whole rather than leave a row or two
    there alone); else a fifth."""
    if sid == "glossary" and sec.get("available") and sec.get("items"):
        need = LINE * 4 + w.table_height(*_glossary_rows(sec), size=GLOSSARY_PT, max_width=80)
        if need <= TOP - BOTTOM and w.y <= HALF_PAGE:
            return need
    names = sec.get("figures") or []
    fig = figs[names[0]].figure if sid in _FIGURE_FIRST and sec.get("available") and names and names[0] in figs else None
    if fig is None:
        return 0.2
    w_in, h_in = fig.get_size_inches()
    height = (RIGHT - LEFT) * (h_in / w_in) * (A4[0] / A4[1])
    return min(0.8 * height + LINE * 8, TOP - BOTTOM)


def _figures(w: PageWriter, names: list[str], figs: dict[str, Any]) -> None:
    for n in names:
        f = figs[n]
        w.image(f, f"{f.caption} Source: {f.source}")


def _table_or_reason(w: PageWriter, title: str, sec: dict[str, Any], key: str, max_width: int) -> None:
    """The section's table ``key`` under its title or, where the run has none, the reason (``key_reason``)."""
    w.table_title(title)
    if sec.get(key):
        w.data_table(sec[key], max_width=max_width)
    else:
        w.unavailable(sec[f"{key}_reason"])


def _blocks(w: PageWriter, sec: dict[str, Any], figs: dict[str, Any]) -> None:
    """A section of generic blocks (paragraphs, tables, figures), as the fused run's sections are."""
    for blk in sec["blocks"]:
        if blk["kind"] == "p":
            w.paragraph(blk["text"], size=8, color="#444444")
        elif blk["kind"] == "table":
            t = blk["table"]
            w.table_title(blk["title"])
            w.data_table(t, max_width=30, title=blk["title"])
        elif blk["kind"] == "figure":
            _figures(w, [blk["name"]], figs)


def _section(w: PageWriter, sid: str, sec: dict[str, Any], figs: dict[str, Any]) -> None:
    if "blocks" in sec:
        _blocks(w, sec, figs)
    elif sid == "key_judgements":
        for j in sec["items"]:
            w.paragraph(j["text"], size=10, bullet="• ")
    elif sid == "forecast_table":
        _forecast_pages(w, sec)
    elif sid in ("fan_charts",):
        _figures(w, sec["figures"], figs)
    elif sid == "map":
        _figures(w, sec["figures"], figs)
        q0, q1 = sec["quarters"][0], sec["quarters"][-1]
        w.table(["Province", f"Expected attacks {q0}–{q1}", "Population", "Expected attacks per 100,000",
                 f"{q0} per 100,000: expected (90% interval), as on the map"],
                [[r["province"], fmt_count(r["expected_attacks"]), fmt_count(r["population"]), fmt_rate(r["per_100k"]),
                  rate_interval(r["next_mean_per_100k"], r["next_q05_per_100k"], r["next_q95_per_100k"])]
                 for r in sec["rows"]], max_width=30)
    elif sid == "breaks":
        if sec.get("known_rows"):
            w.table_title("Tests at the known dates, with ITS effects (p-values Holm-adjusted across provinces in brackets)")
            def _ci(r, k):
                v, f = r.get(k), fmt_ratio3 if k.startswith("slope") else fmt_ratio
                if k == "level_rr" and r.get("level_rr_estimable") is False:
                    return "not estimable"
                return "-" if v is None else f"{f(v)} ({f(r.get(k + '_low'))}-{f(r.get(k + '_high'))})"
            w.table(["series", "outcome", "date", "n pre/post", "NB LR p", "Chow p", "ITS level RR", "ITS slope RR"],
                    [[r["series"], r["outcome"], r["date"], f"{r.get('n_pre')}/{r.get('n_post')}",
                      fmt_p(r.get("lr_p")) + (f" ({fmt_p(r['lr_p_holm'])})" if r.get("lr_p_holm") is not None else ""),
                      fmt_p(r.get("chow_p")) + (f" ({fmt_p(r['chow_p_holm'])})" if r.get("chow_p_holm") is not None else ""),
                      _ci(r, "level_rr"), _ci(r, "slope_rr")] for r in sec["known_rows"]], max_width=28)
        for key, label in (("estimated_breaks", "Estimated breaks with 95% intervals"),
                           ("unknown", "sup-F and NB sup-LR tests"),
                           ("reported", "August 2021 on the published aggregates")):
            t = sec["tables"].get(key)
            if t:
                w.table_title(label)
                w.data_table(t, max_width=16)
        if sec.get("skipped"):
            w.paragraph("Not tested (too sparse): " + "; ".join(sec["skipped"]), size=8, color="#444444")
        for n in sec.get("notes", []):
            w.paragraph(n, size=8, color="#444444")
    elif sid == "its":
        _figures(w, sec["figures"], figs)
        w.table(["intervention", "level RR (95% CI)", "slope RR (95% CI)", "excess (95% CI)"],
                [[r["date"], f"{fmt_ratio(r['level_rr'])} ({fmt_ratio(r['level_rr_low'])}-{fmt_ratio(r['level_rr_high'])})",
                  f"{fmt_ratio3(r['slope_rr'])} ({fmt_ratio3(r['slope_rr_low'])}-{fmt_ratio3(r['slope_rr_high'])})",
                  f"{fmt_count(r['excess'])} ({fmt_count(r['excess_low'])} to {fmt_count(r['excess_high'])})"]
                 for r in sec["rows"]], max_width=30)
    elif sid == "attribution":
        if sec.get("interpretation"):
            w.paragraph(sec["interpretation"], size=8.5, color="#0b4f7a")
        for c in sec.get("context", []):
            w.paragraph(c, size=8, color="#444444")
        _figures(w, sec["figures"], figs)
        w.table(["group", "share", "95% interval"],
                [[readable(r["group"]), fmt_ratio(r["share"]), f"{fmt_ratio(r.get('ci_low'))} to {fmt_ratio(r.get('ci_high'))}"]
                 for r in sec["shapley"]] + [["total change", fmt_ratio(sec["total_change"]), ""]])
        for key, label in (("effects", "Covariate effects (incidence rate ratios)"),
                           ("oos_crps_gain", "Out-of-sample check: CRPS change when each group is added")):
            t = sec.get(key)
            if t:
                w.table_title(label)
                w.data_table(t, max_width=20)
    elif sid == "scorecard":
        h = sec.get("headline")
        if h:
            w.paragraph(f"{'The' if h.get('published') else 'Best model:'} {readable(h['model'])}: CRPS {fmt_ratio(h['crps'])} vs "
                        f"{fmt_ratio(h['baseline_crps'])} for the best baseline ({readable(h['baseline'])}), skill {fmt_pct(h['skill'])}"
                        + (f"; 90% interval coverage {fmt_pct(h['coverage_90'])}" if h.get("coverage_90") is not None else "")
                        + (f"; Diebold-Mariano p = {fmt_p(h['dm_pvalue'])}" if h.get("dm_pvalue") is not None else "")
                        + f" ({h['scope']}, {h['measure']})."
                        + (f" Lowest CRPS of all models: {readable(h['best_model'])} ({fmt_ratio(h['best_model_crps'])})."
                           if h.get("published") and h.get("best_model") not in (None, h["model"]) else ""))
        _figures(w, sec["figures"], figs)
        t = sec["table"]
        w.data_table(t)
        if sec.get("by_series"):
            t = sec["by_series"]
            w.table_title("Best model against the best baseline, by series")
            w.data_table(t, max_width=20, only=("unique_id", "province", "best_model", "best_model_crps",
                                                "best_baseline", "best_baseline_crps", "beats_best_baseline",
                                                "coverage_90"))
        _table_or_reason(w, "Last quarter's forecast against what happened", sec, "last_quarter", max_width=14)
    elif sid == "claims":
        c = sec["counts"]
        w.paragraph(f"{c['supported']} supported, {c['inconclusive']} inconclusive (the interval includes no change), "
                    f"{c['not supported']} not supported (evidence against), {c['not testable']} not testable. "
                    "Each source is tested on its own (definitions differ; never pooled).")
        if sec.get("reported_reason"):
            w.unavailable(sec["reported_reason"])
        groups = sec.get("groups") or [{"claim": r.get("claim") or readable(r["claim_id"]), "rows": [r]}
                                        for r in sec["rows"]]
        for g in groups:
            rows = []
            for r in g["rows"]:
                value = (str(int(r["value"])) if r["claim_id"] == "peak_early_2010s" and r["value"] is not None
                         else fmt_ratio(r["value"]))
                ci = f"{fmt_ratio(r['ci_low'])}–{fmt_ratio(r['ci_high'])}" if r["ci_low"] is not None else "–"
                period = f"{r['pre_period']} vs {r['post_period']}. " if r.get("pre_period") else ""
                rows.append([f"{r['source']} ({r['resolution']}ly)", readable(r["measure"]), r["status"], value, ci,
                             f"{r['n_pre'] if r['n_pre'] is not None else '–'} / {r['n_post']}", period + r["detail"]])
            w.table_title(g["claim"])
            w.table(["source", "measure", "verdict", "number", "95% interval", "n pre / post", "detail"], rows,
                    size=6.5, max_width=60, numeric=[False, False, False, True, True, True, False])
        _figures(w, sec["figures"], figs)
    elif sid == "provenance":
        cov = sec.get("coverage") or {}
        if cov:
            w.paragraph(f"{cov.get('label') or 'Panel'}: {cov['start']} to {cov['end']} ({cov['n_months']} months): "
                        f"{fmt_count(cov['attacks_total'])} events, {fmt_count(cov['killed_total'])} deaths nationally.")
        if (sec.get("vintage") or {}).get("vintage_id"):
            w.paragraph(f"This forecast is archived as vintage {sec['vintage']['vintage_id']} in the forecast store.",
                        size=8, color="#444444")
        for k, v in (sec.get("not_produced") or {}).items():
            w.unavailable(f"{k}: {v}")
        w.table_title("Sources and licences")
        w.table(["source", "licence", "coverage", "citation"],
                [[s["name"], s["licence"], s["coverage"], s["citation"]] for s in sec["sources"]], size=6.5,
                max_width=40)
        _table_or_reason(w, sec.get("exclusions_title") or "Excluded events", sec, "exclusions", max_width=40)
        w.paragraph("Limitations", size=9)
        for lim in sec["limitations"]:
            w.paragraph(lim, size=8, bullet="• ")
        if sec.get("inputs"):
            w.table_title("Input files")
            w.table(["file", "sha256"], [[r["path"], r["sha256"]] for r in sec["inputs"]], size=6.5, max_width=70)
    elif sid == "methods":
        for m in sec["items"]:
            w.paragraph(f"{m['title']}. {m['text']}", size=8.5)
    elif sid == "glossary":
        w.table(*_glossary_rows(sec), size=GLOSSARY_PT, max_width=80, balance=True)
    elif sid == "its_summary":
        for j in sec["items"]:
            w.paragraph(j["text"], size=10 if j is sec["items"][0] else 9)
    elif sid == "its_impact":
        _figures(w, sec["figures"], figs)
        w.table(["intervention", "after", "observed", f"expected ({sec['level']})", "total effect",
                 f"average per {sec['unit']}", "relative", "reading"],
                [[r["intervention"], r["window"], r["observed"], r["expected"], r["cumulative"], r["average"],
                  r["relative"], r["verdict"]] for r in sec["rows"]], max_width=40)
        w.table(["intervention", "immediate step (rate x)", f"trend change per {sec['unit']} (rate x)"],
                [[r["intervention"], r["step"], r["trend"]] for r in sec["rows"]], max_width=40)
    elif sid == "its_periods":
        w.table(["intervention", sec["unit"], "observed", f"expected ({sec['level']})", "effect", "cumulative effect"],
                [[r["intervention"], r["time"], r["observed"], r["expected"], r["effect"], r["cumulative"]]
                 for r in sec["rows"]], max_width=40)
    elif sid == "its_data":
        w.paragraph(f"{sec['series']}: {sec['coverage']}.")
        for n in sec["notes"]:
            w.unavailable(n)
        for r in sec["sources"]:
            w.paragraph(f"{r['name']}. File {r['file']}, {r['rows']} rows, {r['coverage']}. Licence: {r['licence']}. "
                        f"sha256 {r['sha256']}", size=8, bullet="• ")
    elif sid == "its_methods":
        for m in sec["items"]:
            w.paragraph(f"{m['title']}. {m['text']}", size=8.5)
        w.table(["term", "estimate", "std. error", "95% interval", "p"],
                [[p["term"], f"{p['estimate']:.4g}", f"{p['std_err']:.3g}", f"{p['ci_low']:.4g} to {p['ci_high']:.4g}",
                  fmt_p(p["p_value"])] for p in sec["params"]])
