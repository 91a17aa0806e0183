"""What every reader returns: :class:`ReadResult` (canonical events, rejects and the counts)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pakcast.forecast.validate import check_events


@dataclass
class ReadResult:
    """Canonical events and rejected rows from one input file.

    Attributes
    ----------
    events : canonical event table (:data:`forecast.validate.EVENT_COLUMNS`).
    rejects : one row per rejected record (``source, file, line, event_id, column, value, reason``).
    rows_read : data records in the file (excluding the header and non-data rows such as HXL tags).
    skipped : records read but outside the requested country (global files), not validated.
    """

    source: str
    path: Path
    events: pd.DataFrame
    rejects: pd.DataFrame
    rows_read: int
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    #: the reader flagged every repeated event id (:meth:`forecast.validate.Checker.unique`) and dropped
    #: the rows: the id check of :func:`forecast.validate.check_events` need not hash them again
    ids_checked: bool = field(default=False, repr=False, compare=False)
    #: the sha256 of the file computed while reading it (shared by the chunks of one read; complete
    #: once the last chunk has been taken), for :meth:`forecast.store.Store.ingest`
    digest: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_events(self.events, name=f"{self.source} events from {self.path}", ids_checked=self.ids_checked)
        if self.rows_read != self.accepted + self.rejected:
            raise AssertionError(
                f"{self.path}: rows read {self.rows_read} != accepted {self.accepted} + rejected {self.rejected}")

    @property
    def accepted(self) -> int:
        return len(self.events)

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    @property
    def unassigned(self) -> int:
        return int((self.events["province_method"] == "unassigned").sum())

    @property
    def point_in_polygon(self) -> int:
        return int((self.events["province_method"] == "point_in_polygon").sum())

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "file": str(self.path), "rows_read": self.rows_read,
                "accepted": self.accepted, "rejected": self.rejected, "skipped_other_country": self.skipped,
                "province_from_source": int((self.events["province_method"] == "source").sum()),
                "province_point_in_polygon": self.point_in_polygon, "province_unassigned": self.unassigned,
                "date_min": None if self.events.empty else str(self.events["date"].min().date()),
                "date_max": None if self.events.empty else str(self.events["date"].max().date()),
                "notes": list(self.notes)}


def merge_results(path: Path, source: str, chunks: Iterable[ReadResult]) -> ReadResult:
    """One :class:`ReadResult` for a whole file from its chunks (the file's events in memory)."""
    parts = list(chunks)
    if len(parts) == 1:
        return parts[0]
    events = pd.concat([p.events for p in parts], ignore_index=True)
    non_empty = [p.rejects for p in parts if len(p.rejects)]
    rejects = pd.concat(non_empty, ignore_index=True) if non_empty else parts[0].rejects
    return ReadResult(source, Path(path), events, rejects, rows_read=sum(p.rows_read for p in parts),
                      skipped=sum(p.skipped for p in parts), notes=list(parts[0].notes),
                      ids_checked=all(p.ids_checked for p in parts), digest=parts[-1].digest)  # ids of later chunks checked against earlier
