"""Atomic, hash-aware file output, and the one output-directory contract of every ``--out DIR``.

Every file pakcast writes goes through these helpers: content is written to a temporary file in
the destination directory, flushed and fsynced, then renamed over the target, so a killed run
never leaves a half-written output. A write that fails (disk full, read-only medium, a directory
where a file is expected) raises :class:`OutputError` with one line and leaves the previous file,
if any, intact.

:func:`prepare_out_dir` is the one entry point for commands that write a run directory: it refuses
a path that is a file, a directory holding another run's manifest (unless ``force``) and a
directory with symbolic links in it (pakcast never writes through a link), and returns an
:class:`OutDir` that knows exactly which files this run wrote.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import re
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pakcast.forecast.errors import PakcastError


class OutputError(PakcastError):
    """An output cannot be written (disk full, read-only medium, a file where a directory is expected...)."""


def _output_error(path: Path, exc: OSError) -> OutputError:
    why = exc.strerror or type(exc).__name__
    if isinstance(exc, IsADirectoryError):
        return OutputError(f"cannot write {path}: it is a directory; give a file name")
    if isinstance(exc, NotADirectoryError):
        return OutputError(f"cannot write {path}: a part of the path is a file, not a directory")
    return OutputError(f"cannot write {path}: {why}; nothing was replaced (an earlier file of that name is intact)")


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file + fsync + rename).

    The file gets the usual permissions (0666 less the umask), not the 0600 of a temporary file.
    """
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        raise OutputError(f"cannot write {path}: it is a directory; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _output_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        fault_point("io.before_rename")
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _output_error(path, exc) from None
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def to_jsonable(obj: Any) -> Any:
    """Convert numpy / pandas / dataclass values to plain JSON types (NaN and inf become None)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(dataclasses.asdict(obj))
    if hasattr(obj, "to_dict") and not isinstance(obj, (pd.DataFrame, pd.Series)):
        return to_jsonable(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return [to_jsonable(r) for r in obj.to_dict(orient="records")]
    if isinstance(obj, pd.Series):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, (pd.Timestamp, _dt.datetime, _dt.date)):
        return obj.isoformat()[:10] if _is_midnight(obj) else obj.isoformat()
    if isinstance(obj, pd.Period):
        return str(obj)
    if isinstance(obj, Path):
        return str(obj)
    if obj is pd.NaT or (obj is not None and not isinstance(obj, str) and pd.isna(obj) is True):
        return None
    return obj


def _is_midnight(obj: Any) -> bool:
    if isinstance(obj, _dt.datetime):
        return obj.hour == obj.minute == obj.second == obj.microsecond == 0 and obj.tzinfo is None
    return True


def write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON atomically, converting numpy/pandas types."""
    return atomic_write_text(path, json.dumps(to_jsonable(obj), indent=indent, ensure_ascii=False) + "\n")


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def read_json_object(path: str | os.PathLike, error: type[Exception] = PakcastError) -> dict[str, Any]:
    """Read a JSON file that must hold one object; ``error`` names line and column of bad JSON."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise error(f"{p}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise error(f"{p}: expected a JSON object at the top level, found {type(data).__name__}")
    return data


def neutralise_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, made inert with a leading ``'``.

    A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP's CSV
    injection list) gets a leading apostrophe, so ``=cmd|' /C calc'!A0`` opens as text. Numbers stay
    numbers: numeric columns are never touched, and a text cell that is a plain number (``-5``,
    ``+1.5e3``) is kept as it is. Column names are data too and are treated the same way.
    """
    out = None
    for c in df.columns:
        col = df[c]
        if not (pd.api.types.is_object_dtype(col.dtype) or pd.api.types.is_string_dtype(col.dtype)):
            continue
        text = col.map(lambda v: isinstance(v, str), na_action="ignore").fillna(False).astype(bool)
        if not text.any():
            continue
        s = col[text].astype(str)
        risky = s.str.startswith(_FORMULA_START) & ~s.str.fullmatch(_NUMBER.pattern)
        if risky.any():
            if out is None:
                out = df.copy()
            out[c] = out[c].astype(object)
            out.loc[risky[risky].index, c] = "'" + s[risky]
    names = [("'" + str(c)) if isinstance(c, str) and c.startswith(_FORMULA_START) and not _NUMBER.fullmatch(c)
             else c for c in df.columns]
    if names != list(df.columns):
        out = (df.copy() if out is None else out)
        out.columns = names
    return df if out is None else out


def write_csv(path: str | os.PathLike, df: pd.DataFrame, *, neutralise: bool = True, **kwargs: Any) -> Path:
    """Write a DataFrame as CSV atomically (no index unless asked).

    Text cells that a spreadsheet would run as formulas are neutralised (:func:`neutralise_cells`)
    unless ``neutralise=False``.
    """
    kwargs.setdefault("index", False)
    if neutralise:
        df = neutralise_cells(df)
    return atomic_write_text(path, df.to_csv(**kwargs))


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str, max_len: int = 80) -> str:
    """A file-name component made from data (a province, a model name): no separators, no dots first."""
    s = _SAFE.sub("_", str(name)).strip("._") or "unnamed"
    return s[:max_len]


def safe_join(base: str | os.PathLike, *parts: str) -> Path:
    """Join data-derived name parts under ``base`` and refuse any path that escapes it."""
    base_p = Path(base).resolve()
    target = base_p.joinpath(*[safe_name(p) for p in parts]).resolve()
    if base_p != target and base_p not in target.parents:
        raise ValueError(f"output path {target} escapes the output directory {base_p}")
    return target


FAULT_ENV = "PAKCAST_FAULT"
PAUSE_ENV = "PAKCAST_PAUSE"


def fault_point(name: str) -> None:
    """Fault-injection hook for the reliability tests (no effect unless the variables are set).

    ``PAKCAST_FAULT=<name>`` kills the current process with SIGKILL when it reaches the point
    ``name`` (no clean-up, no ``finally`` blocks: the harshest crash a run can suffer);
    ``PAKCAST_PAUSE=<name>=<seconds>`` sleeps there (to hold a lock while a second process starts).
    Points: ``store.locked``, ``store.ingest.index_dropped`` and ``store.ingest.before_index`` (the
    bulk path of a large ingest), ``store.ingest.before_commit``, ``store.ingest.after_commit``,
    ``store.vintage.before_register``, ``io.before_rename`` (every atomic write, before its rename).
    """
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get(PAUSE_ENV)
    if pause and pause.rpartition("=")[0] == name:
        time.sleep(float(pause.rpartition("=")[2]))


# ---------------------------------------------------------------------------------------------
# Output directories
# ---------------------------------------------------------------------------------------------
MANIFEST_NAME = "manifest.json"


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """``relative path -> (inode, mtime_ns, size)`` of every regular file under ``root``."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames:
            p = Path(dirpath) / name
            try:
                st = p.lstat()
            except FileNotFoundError:
                continue
            out[str(p.relative_to(root))] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def _links(root: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            if p.is_symlink():
                found.append(p)
    return found


@dataclasses.dataclass
class OutDir:
    """A run's output directory, prepared by :func:`prepare_out_dir`.

    ``written()`` lists the files this run wrote: those new since preparation or replaced (an atomic
    write gives a new inode), never a file that was already there and left alone (``leftovers()``).
    """

    path: Path
    before: dict[str, tuple[int, int, int]]
    forced: bool = False
    replaced_run: str | None = None

    def __fspath__(self) -> str:
        return str(self.path)

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def written(self, exclude: tuple[str, ...] = (MANIFEST_NAME,)) -> list[str]:
        now = _snapshot(self.path)
        return sorted(rel for rel, sig in now.items()
                      if self.before.get(rel) != sig and rel not in exclude
                      and not any(part.startswith(".") for part in Path(rel).parts))

    def leftovers(self) -> list[str]:
        """Files that were in the directory before the run and that the run did not write."""
        now = _snapshot(self.path)
        return sorted(rel for rel, sig in self.before.items() if now.get(rel) == sig and rel != MANIFEST_NAME
                      and not any(part.startswith(".") for part in Path(rel).parts))

    def begin(self, manifest: Any) -> Path:
        """Write the run's manifest first, marked ``status: incomplete`` (a killed run stays marked)."""
        manifest.status = "incomplete"
        manifest.outputs = []
        if self.replaced_run:
            manifest.notes.append(f"--force: this directory held run {self.replaced_run}; its manifest was replaced")
        return manifest.write(self.path)

    def finish(self, manifest: Any, status: str = "complete") -> Path:
        """Record exactly the files this run wrote (with sha256) and write the manifest (``status``)."""
        from pakcast.forecast.manifest import file_record

        manifest.outputs = [{**file_record(self.path / rel), "path": rel} for rel in self.written()]
        left = self.leftovers()
        manifest.notes = [n for n in manifest.notes if not n.startswith(_LEFTOVER_NOTE)]
        if left:
            manifest.notes.append(f"{_LEFTOVER_NOTE} ({len(left)}): " + ", ".join(left[:10])
                                  + (" ..." if len(left) > 10 else ""))
        manifest.status = status
        return manifest.write(self.path)


_LEFTOVER_NOTE = "files in the directory not written by this run (not its outputs)"


def prepare_out_dir(path: str | os.PathLike, force: bool = False) -> OutDir:
    """Check and create a run's output directory (the rules of every ``--out DIR``).

    Refused with a one-line :class:`OutputError`: a path that is a file; a directory holding another
    run's ``manifest.json`` (a finished or an interrupted run) unless ``force``; a directory containing a
    symbolic link (writing through it could overwrite files outside the directory); a directory that
    cannot be created (read-only medium, permissions).
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"--out {p} is a file, not a directory: give a directory for the run's outputs")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output directory {p}: {exc.strerror}") from None
    root = p.resolve()
    links = _links(root)
    if links:
        raise OutputError(f"{links[0]} in the output directory {p} is a symbolic link (to {os.readlink(links[0])}): "
                          "pakcast never writes through links; remove it or give another --out")
    replaced = None
    m = root / MANIFEST_NAME
    if m.is_file():
        try:
            old = json.loads(m.read_text(encoding="utf-8"))
            who = f"{old.get('command', '?')} run {old.get('run_id', '?')}"
            status = old.get("status", "complete")
        except (UnicodeDecodeError, json.JSONDecodeError, AttributeError):
            who, status = "an unreadable manifest", "unknown"
        if not force:
            raise OutputError(f"{p} holds the manifest of another run ({who}, status {status}): refusing to mix two "
                              "runs' outputs; give a fresh --out directory, or --force to write into it anyway")
        replaced = who
    if not os.access(root, os.W_OK):
        raise OutputError(f"cannot write into the output directory {p}: permission denied or a read-only medium")
    return OutDir(root, _snapshot(root), forced=force, replaced_run=replaced)
