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


def _string_constants(path: Path) -> list[tuple[int, str]]:
    """String literals in ``path`` that are not docstrings, with their line numbers."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    docs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docs.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs]


def test_country_knowledge_lives_in_the_country_profile():
    """The intervention dates and the national name are defined once, in forecast/country.py."""
    dates = {"2014-12-16", "2021-08-15", "2014-12-01", "2021-08-01", "2014-12-16,2021-08-15"}
    offenders = []
    for p in (REPO / "forecast").rglob("*.py"):
        if p.name == "country.py":
            continue
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                    and node.value.value == "Pakistan"):
                offenders.append(f"{p.relative_to(REPO)}:{node.lineno}: assigns 'Pakistan' (use forecast.country)")
        for line, s in _string_constants(p):
            if s in dates:
                offenders.append(f"{p.relative_to(REPO)}:{line}: intervention date {s!r} (use forecast.country)")
    assert offenders == [], "\n".join(offenders)


# ------------------------------------------------------------------ the thin CLI
#: the modules that read, load or build data tables (a command calls a job function that uses them)
DATA_MODULES = ("pakcast.forecast.panel", "pakcast.forecast.covariates", "pakcast.forecast.store",
                "pakcast.forecast.geo", "pakcast.forecast.validate", "pakcast.forecast.csvread")


def test_commands_import_no_models_and_no_data_modules():
    """Every command parses its options, calls one library function and prints its summary."""
    offenders = []
    for p in sorted((REPO / "forecast" / "commands").glob("*.py")):
        mods = _imports_full(p)
        bad = sorted(m for m in mods if m == "pakcast.models" or m.startswith("pakcast.models."))
        bad += sorted(m for m in mods if m in DATA_MODULES)
        if bad:
            offenders.append(f"{p.relative_to(REPO)}: {bad}")
    assert offenders == [], "commands call one library function; move this into forecast/: " + "; ".join(offenders)


def _own(name: str | None) -> bool:
    return bool(name) and (name == "pakcast" or name.startswith("pakcast."))


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    t = handler.type
    names = [t] if not isinstance(t, ast.Tuple) else list(t.elts)
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)


def _package_nodes():
    """``(file relative to the repository, node)`` for every AST node of forecast/ and models/."""
    for top in ("forecast", "models"):
        for p in sorted((REPO / top).rglob("*.py")):
            for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
                yield p.relative_to(REPO), node


def test_no_import_guards_around_own_modules():
    """``try: import pakcast.x except ImportError`` can only hide a broken module of the package."""
    offenders = []
    for where, node in _package_nodes():
        if not isinstance(node, ast.Try) or not any(_catches_import_error(h) for h in node.handlers):
            continue
        for sub in node.body:
            for n in ast.walk(sub):
                if (isinstance(n, ast.ImportFrom) and _own(n.module)) or (
                        isinstance(n, ast.Import) and any(_own(a.name) for a in n.names)):
                    offenders.append(f"{where}:{node.lineno}")
                    break
    assert offenders == [], "import the package's own modules directly: " + ", ".join(sorted(set(offenders)))


def test_no_importlib_loads_of_own_modules():
    offenders = []
    for where, node in _package_nodes():
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in ("import_module", "__import__"):
                offenders.append(f"{where}:{node.lineno}")
    assert offenders == [], "import the package's own modules directly (no importlib probing): " + ", ".join(offenders)


def _commands(group, path=()):
    """``(command path, click command)`` for every command registered on the ``pakcast`` app."""
    for name, cmd in sorted(group.commands.items()):
        if hasattr(cmd, "commands"):  # a group (typer's own click)
            yield from _commands(cmd, (*path, name))
        else:
            yield (*path, name), cmd


def test_every_random_seed_option_has_the_one_shared_default():
    """``--random-seed`` comes from ``_cli_app.seed_option`` in every command, with ``DEFAULT_SEED``: no command
    defines its own default seed or its own seed option."""
    import typer.main

    from pakcast.forecast._cli_app import DEFAULT_SEED
    from pakcast.forecast.cli import app

    seeded, offenders = [], []
    for path, cmd in _commands(typer.main.get_command(app)):
        for p in cmd.params:
            if "--random-seed" in getattr(p, "opts", ()) or p.name in ("random_seed", "seed"):
                seeded.append(" ".join(path))
                if p.default != DEFAULT_SEED or "--random-seed" not in p.opts:
                    offenders.append(f"{' '.join(path)}: {p.opts} default {p.default!r}")
    assert offenders == [], f"use seed_option() (default {DEFAULT_SEED}): " + "; ".join(offenders)
    assert {"fuse", "quarterly", "backtest", "its", "bayes its"} <= set(seeded)
    # the option is spelled in one place: commands call seed_option, never typer.Option(..., "--random-seed")
    spelled = [f"{p.relative_to(REPO)}:{line}" for p in sorted((REPO / "forecast" / "commands").glob("*.py"))
               for line, s in _string_constants(p) if s in ("--random-seed", "--seed")]
    assert spelled == [], "declare --random-seed with seed_option(): " + ", ".join(spelled)


def _seed_defaults(path: Path) -> tuple[list[str], list[str]]:
    """``(assignments, literal_defaults)`` in ``path``: module-level ``DEFAULT_SEED = ...`` assignments,
    and ``random_seed`` parameters (or dataclass fields) whose default is an integer literal other than 0."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assigns, literals = [], []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "DEFAULT_SEED"
                                                for t in node.targets):
            assigns.append(f"{path}:{node.lineno}")
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            pos = a.posonlyargs + a.args
            pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults)) + \
                [(k, d) for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            for arg, default in pairs:
                if arg.arg == "random_seed" and isinstance(default, ast.Constant) \
                        and isinstance(default.value, int) and default.value != 0:
                    literals.append(f"{path}:{node.lineno} {node.name}(random_seed={default.value})")
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) \
                and node.target.id == "random_seed" and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, int) and node.value.value != 0:
            literals.append(f"{path}:{node.lineno} random_seed = {node.value.value}")
    return assigns, literals


def test_the_pipeline_has_one_default_seed():
    """One default seed in the pipeline: only ``forecast/jobs.py`` defines ``DEFAULT_SEED`` and no
    ``random_seed`` in ``forecast/`` has a literal default of its own, so a study, the briefing's claim
    bootstrap and the quarterly run give the same numbers under the same default."""
    assigns, literals = [], []
    for path in sorted((REPO / "forecast").rglob("*.py")):
        a, lit = _seed_defaults(path)
        assigns += a
        literals += lit
    assert [Path(a.split(":")[0]).relative_to(REPO).as_posix() for a in assigns] == ["forecast/jobs.py"], assigns
    assert literals == [], literals
