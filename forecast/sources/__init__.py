"""Event and aggregate sources -> the canonical event table (see docs/ARCHITECTURE.md).

``read_source(path, source)`` dispatches to :func:`forecast.sources.ucdp.read_ucdp`,
:func:`forecast.sources.gtd.read_gtd`, :func:`forecast.sources.acled.read_acled` and
:func:`forecast.sources.generic.read_generic`; published aggregates are read by
:func:`forecast.sources.reported.read_reported`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

EVENT_SOURCES = ("ucdp", "gtd", "acled", "csv")
ALL_SOURCES = (*EVENT_SOURCES, "reported")


def read_source(path: str | Path, source: str, *, on_error: str = "raise", encoding: str = "utf-8",
                progress: Callable[[int, int], None] | None = None) -> Any:
    """Read an event file of the given source; returns :class:`forecast.sources.base.ReadResult`."""
    if source == "ucdp":
        from pakcast.forecast.sources.ucdp import read_ucdp as reader
    elif source == "gtd":
        from pakcast.forecast.sources.gtd import read_gtd as reader
    elif source == "acled":
        from pakcast.forecast.sources.acled import read_acled as reader
    elif source == "csv":
        from pakcast.forecast.sources.generic import read_generic as reader
    else:
        raise ValueError(f"unknown event source {source!r}; choose one of {EVENT_SOURCES} "
                         "(published aggregates: source 'reported')")
    return reader(path, on_error=on_error, encoding=encoding, progress=progress)


__all__ = ["EVENT_SOURCES", "ALL_SOURCES", "read_source"]
