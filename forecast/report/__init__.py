"""Briefings built from run directories: ``briefing.html``, ``briefing.pdf`` and ``briefing.json``.

``build_report(run_dir)`` reads a quarterly run directory or an ITS study directory and writes
the briefing next to its inputs (see :mod:`forecast.report.build`). Figures are in
:mod:`forecast.report.figures`, the claims check in :mod:`forecast.report.claims`, the key
judgements in :mod:`forecast.report.judgements`, the PDF in :mod:`forecast.report.pdf`.
"""

from pakcast.forecast.report.build import build_report

__all__ = ["build_report"]
