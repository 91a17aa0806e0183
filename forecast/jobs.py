"""What every command-line job shares: its result, and the one writer of single-file outputs.

A job function (``run_*`` in :mod:`pakcast.forecast.hawkes_study`,
:mod:`pakcast.forecast.bayes_study`, :mod:`pakcast.forecast.series_study`, ...) loads its
inputs, runs one study, writes its outputs atomically with a manifest that lists exactly
those outputs, and returns a :class:`JobResult`; the command prints ``result.summary()``.
User errors are raised as :class:`pakcast.forecast.errors.InputError` (one line, exit 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from pakcast.forecast.errors import InputError
from pakcast.forecast.io import write_json
from pakcast.forecast.manifest import RunManifest, write_beside

if TYPE_CHECKING:
    import pandas as pd

#: the default seed of every job and command (``--random-seed``; the quarterly run, the backtest, fusion)
DEFAULT_SEED = 20260101

__all__ = ["DEFAULT_SEED", "JobResult", "write_json_output", "input_errors", "read_user_csv", "split_dates"]


@dataclass
class JobResult:
    """The outcome of one job: the JSON-ready payload, the files written and the summary lines.

    ``withheld`` is the reason when a gate withheld the result (an unconverged sampler) although
    the outputs were written, marked; the command then exits with status 3.
    """

    payload: dict[str, Any]
    outputs: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    withheld: str | None = None

    def summary(self) -> str:
        """Plain-text summary: the result lines, the notes, and the files written."""
        out = list(self.lines) + [f"note: {n}" for n in self.notes]
        if self.outputs:
            out.append("wrote " + ", ".join(str(p) for p in self.outputs))
        return "\n".join(out)


def write_json_output(path: Path | None, payload: dict[str, Any], manifest: RunManifest,
                      extra: list[Path] | tuple[Path, ...] = ()) -> list[Path]:
    """Write ``payload`` (with the run id) to ``path`` and ``<stem>.manifest.json`` beside it.

    ``extra`` are further files the run wrote (listed in the same manifest). Nothing is written
    when ``path`` is None (the command then prints its summary only). Returns the files written.
    """
    if path is None:
        return []
    path = Path(path)
    payload["run_id"] = manifest.run_id
    write_json(path, payload)
    files = [path, *map(Path, extra)]
    m = write_beside(manifest, files)
    return [*files, m]


class input_errors:
    """Context manager: a ``ValueError`` (or ``KeyError``) from a library call on user input
    becomes an :class:`InputError` with the same message (one line, exit 1)."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix

    def __enter__(self) -> "input_errors":
        return self

    def __exit__(self, et: Any, ev: BaseException | None, tb: Any) -> bool:
        if ev is not None and isinstance(ev, (ValueError, KeyError)) and not isinstance(ev, InputError):
            msg = str(ev.args[0]) if isinstance(ev, KeyError) and ev.args else str(ev)
            raise InputError(f"{self.prefix}{msg}") from ev
        return False


_NA_SPELLINGS = ["#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>",
                 "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]


def read_user_csv(path: str | Path, encoding: str = "utf-8") -> "pd.DataFrame":
    """A user's CSV file as a DataFrame, read by the strict reader (:mod:`forecast.csvread`): a
    malformed record, an unbalanced quote, a wrong encoding or an empty file is an
    :class:`InputError` naming the file and line. A column whose every cell is a number becomes
    numeric; the others stay text. Empty cells and pandas' missing-value spellings (``NA``, ``NaN``,
    ``NULL``, ``N/A``, ...) are missing, as with :func:`pandas.read_csv`."""
    import pandas as pd

    from pakcast.forecast.validate import ValidationError, read_csv_records

    raw = read_csv_records(path, encoding=encoding)
    if raw.bad_width:
        raise ValidationError(raw.bad_width, header=f"{len(raw.bad_width)} malformed record(s) in {path}")
    df = raw.frame.copy()
    for c in df.columns:
        df[c] = df[c].mask(df[c].isin(_NA_SPELLINGS))
        num = pd.to_numeric(df[c], errors="coerce")
        if df[c].notna().any() and num.notna().sum() == df[c].notna().sum():
            df[c] = num.astype("float64") if num.isna().any() or num.dtype.kind == "f" else num.astype("int64")
    return df


def _iter_nonempty(items: Any) -> Iterator[str]:
    for s in items or ():
        s = str(s).strip()
        if s:
            yield s


def split_dates(values: list[str] | tuple[str, ...] | None) -> list[str]:
    """``--intervention`` values: repeatable, each may also be a comma-separated list."""
    out: list[str] = []
    for v in _iter_nonempty(values):
        out += list(_iter_nonempty(v.split(",")))
    return out
