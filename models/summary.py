"""The one results summary type: every ``summary()`` in :mod:`models` returns a :class:`Summary`.

A summary is a title, header lines (label, value), one table (a DataFrame: ``table``) and
optional note lines, printable as text (``as_text``, ``str``) or HTML (``as_html`` and
``_repr_html_`` for notebooks), in the manner of statsmodels' ``summary()``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd

__all__ = ["Summary"]


@dataclass(frozen=True)
class Summary:
    """A fitted model's table (``table``) plus header lines and notes, printable as text or HTML."""

    title: str
    header: tuple[tuple[str, str], ...]
    table: pd.DataFrame
    notes: tuple[str, ...] = ()

    def as_text(self) -> str:
        head = "\n".join(f"{k:<22}{v}" for k, v in self.header)
        parts = [f"{self.title}\n{'=' * len(self.title)}"]
        if head:
            parts.append(head)
        parts.append(self.table.to_string(float_format=lambda v: f"{v:.6g}"))
        if self.notes:
            parts.append("\n".join(self.notes))
        return "\n\n".join(parts)

    def as_html(self) -> str:
        head = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in self.header)
        notes = "".join(f"<p>{html.escape(n)}</p>" for n in self.notes)
        return (f"<h4>{html.escape(self.title)}</h4><table>{head}</table>"
                f"{self.table.to_html(float_format=lambda v: f'{v:.6g}')}{notes}")

    def _repr_html_(self) -> str:
        return self.as_html()

    def __str__(self) -> str:
        return self.as_text()
