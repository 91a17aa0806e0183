"""Architecture rules: `models` never imports `forecast`; every package directory is installed."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _imports_full(path: Path) -> set[str]:
    """Dotted module names imported by ``path``, each with its parents (``a.b.c`` -> a, a.b, a.b.c)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    mods: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            mods += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.append(node.module)
    out: set[str] = set()
    for m in mods:
        parts = m.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return out


def test_no_bare_top_level_imports():
    """Code imports the package as ``pakcast.*`` only: never ``forecast`` or ``models`` bare."""
    offenders = []
    for top in ("forecast", "models", "tests", "benchmarks"):
        for p in (REPO / top).rglob("*.py"):
            bad = {"forecast", "models", "pakcast_data", "pakcast_templates"} & _imports(p)
            if bad:
                offenders.append(f"{p.relative_to(REPO)}: {sorted(bad)}")
    assert offenders == [], f"import these through pakcast.*: {offenders}"


def test_models_never_imports_forecast():
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "models").rglob("*.py") if "pakcast.forecast" in _imports_full(p)]
    assert offenders == [], f"models/ must not import forecast: {offenders}"


def test_every_package_directory_is_listed_in_pyproject():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    found = set()
    for top in ("forecast", "models"):
        for init in (REPO / top).rglob("__init__.py"):
            found.add(".".join(("pakcast", *init.parent.relative_to(REPO).parts)))
    missing = found - listed
    assert not missing, f"add these packages to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
