"""Event and aggregate sources -> the canonical event table (see docs/ARCHITECTURE.md).

``read_source(path, source)`` dispatches to :func:`forecast.sources.ucdp.read_ucdp`,
:func:`forecast.sources.gtd.read_gtd`, :func:`forecast.sources.acled.read_acled` and
:func:`forecast.sources.generic.read_generic`; published aggregates are read by
:func:`forecast.sources.reported.read_reported`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

EVENT_SOURCES = ("ucdp", "gtd", "acled", "csv")
ALL_SOURCES = (*EVENT_SOURCES, "reported")


def _module(source: str) -> tuple[Any, str]:
    if source == "ucdp":
        from pakcast.forecast.sources import ucdp as mod
    elif source == "gtd":
        from pakcast.forecast.sources import gtd as mod
    elif source == "acled":
        from pakcast.forecast.sources import acled as mod
    elif source == "csv":
        from pakcast.forecast.sources import generic as mod
    else:
        raise ValueError(f"unknown event source {source!r}; choose one of {EVENT_SOURCES} "
                         "(published aggregates: source 'reported')")
    return mod, {"csv": "generic"}.get(source, source)


def read_source(path: str | Path, source: str, *, on_error: str = "raise", encoding: str = "utf-8",
                progress: Callable[[int, int], None] | None = None) -> Any:
    """Read an event file of the given source; returns :class:`forecast.sources.base.ReadResult`."""
    mod, name = _module(source)
    return getattr(mod, f"read_{name}")(path, on_error=on_error, encoding=encoding, progress=progress)


def iter_source(path: str | Path, source: str, *, on_error: str = "raise", encoding: str = "utf-8",
                progress: Callable[[int, int], None] | None = None, chunk_rows: int | None = None) -> Iterator[Any]:
    """The file of the given source chunk by chunk: one :class:`forecast.sources.base.ReadResult` per
    chunk (memory bounded whatever the file size; ids checked unique across chunks). In
    ``on_error="raise"`` mode the first chunk with a bad record raises."""
    mod, name = _module(source)
    kw = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
    return getattr(mod, f"iter_{name}")(path, on_error=on_error, encoding=encoding, progress=progress, **kw)


__all__ = ["ALL_SOURCES", "EVENT_SOURCES", "iter_source", "read_source"]
