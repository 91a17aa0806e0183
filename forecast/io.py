"""Atomic, hash-aware file output.

Every file pakcast writes goes through these helpers: content is written to a temporary file in
the destination directory, flushed and fsynced, then renamed over the target, so a killed run
never leaves a half-written output.
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
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


def write_csv(path: str | os.PathLike, df: pd.DataFrame, **kwargs: Any) -> Path:
    """Write a DataFrame as CSV atomically (no index unless asked)."""
    kwargs.setdefault("index", False)
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
    Points: ``store.ingest.before_commit``, ``store.vintage.before_register``, ``store.locked``.
    """
    if os.environ.get(FAULT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
    pause = os.environ.get(PAUSE_ENV)
    if pause and pause.rpartition("=")[0] == name:
        time.sleep(float(pause.rpartition("=")[2]))
