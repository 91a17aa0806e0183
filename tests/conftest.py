"""Shared fixtures: where the raw reference data lives, and markers.

Tests may read ``../shared/data`` and ``../shared/reference`` (developer machines and CI);
tests that need them skip with a clear reason elsewhere.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]


def _shared() -> Path | None:
    env = os.environ.get("PAKCAST_SHARED")
    for c in ([Path(env)] if env else []) + [REPO.parent / "shared"]:
        if (c / "data").is_dir():
            return c
    return None


SHARED = _shared()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if SHARED is None:
        pytest.skip("../shared (raw data) not present on this machine")
    return SHARED


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    return shared_dir / "reference"


@pytest.fixture(scope="session")
def ucdp_path(shared_dir: Path) -> Path:
    return shared_dir / "data" / "events" / "ucdp_ged_pak_hdx.csv"


@pytest.fixture()
def benchmark_module(monkeypatch):
    """``load(name)`` imports ``benchmarks.<name>`` from the repository (benchmarks/ is a folder of
    the repository, not of the installed package); the modules are forgotten after the test."""
    monkeypatch.syspath_prepend(str(REPO))
    loaded: list[str] = []

    def load(name: str):
        loaded.append(f"benchmarks.{name}")
        return importlib.import_module(loaded[-1])

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


@pytest.fixture()
def tmp_store(tmp_path: Path) -> Path:
    """A fresh DuckDB store path for one test."""
    return tmp_path / "store.duckdb"


def _hold_store_lock(path: str, seconds: float, ready) -> None:
    from pakcast.forecast.store import Store

    with Store(path)._lock(exclusive=True):
        ready.set()
        time.sleep(seconds)


@contextlib.contextmanager
def _store_lock_held(path: Path, seconds: float, ready_timeout: float = 20.0) -> Iterator[None]:
    ctx = mp.get_context("fork")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_store_lock, args=(str(path), seconds, ready))
    proc.start()
    try:
        assert ready.wait(ready_timeout), "the lock-holding process did not start"
        yield
    finally:
        proc.join()


@pytest.fixture()
def store_lock_held():
    """``with store_lock_held(path, seconds):`` another process holds the store's exclusive lock for
    ``seconds`` (the block starts once it holds it; the process is joined at the end)."""
    return _store_lock_held
