"""Where pakcast finds its inputs and keeps its state.

* shipped tables: the installed package ``pakcast.data`` (the repository's ``data/``);
* raw third-party files: ``$PAKCAST_SHARED`` or ``../shared`` beside the repository (developer
  machines and CI only; a user's machine has none and works from the shipped tables);
* the DuckDB store: ``$PAKCAST_STORE`` or ``<user data dir>/pakcast/pakcast.duckdb``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import platformdirs

REPO_ROOT = Path(__file__).resolve().parents[1]


def shipped_dir() -> Path:
    """Directory of the shipped derived tables (``data/`` in the repository)."""
    return Path(str(resources.files("pakcast.data")))


def shipped(name: str) -> Path:
    """Path of one shipped table; a clear error if the installation lacks it."""
    path = shipped_dir() / name
    if not path.exists():
        raise FileNotFoundError(
            f"shipped table {name!r} not found in {shipped_dir()}; rebuild it with `pakcast data build`"
        )
    return path


def templates_dir() -> Path:
    """Directory of the Jinja2 report templates (``reports/templates/`` in the repository)."""
    return Path(str(resources.files("pakcast.templates")))


def shared_dir(required: bool = True) -> Path | None:
    """The read-only ``shared/`` folder with raw third-party data, if this machine has it."""
    candidates = []
    if os.environ.get("PAKCAST_SHARED"):
        candidates.append(Path(os.environ["PAKCAST_SHARED"]))
    candidates += [REPO_ROOT.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"]
    for c in candidates:
        if (c / "data").is_dir():
            return c.resolve()
    if required:
        raise FileNotFoundError(
            "raw data folder 'shared/' not found (set PAKCAST_SHARED); it exists only on developer "
            "machines: a user's installation works from the shipped tables instead"
        )
    return None


def default_ucdp_path() -> Path:
    """The UCDP GED extract for Pakistan in ``shared/data/events``."""
    return shared_dir() / "data" / "events" / "ucdp_ged_pak_hdx.csv"


def user_store_path() -> Path:
    """The user's store in the platform's data directory (the default without ``$PAKCAST_STORE``)."""
    return Path(platformdirs.user_data_dir("pakcast")) / "pakcast.duckdb"


def default_store_path() -> Path:
    """Default DuckDB store location: ``$PAKCAST_STORE``, else :func:`user_store_path`."""
    if os.environ.get("PAKCAST_STORE"):
        return Path(os.environ["PAKCAST_STORE"])
    return user_store_path()
