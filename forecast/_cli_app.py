"""The typer application objects the command modules in :mod:`pakcast.forecast.commands` register on,
the shared option conventions, and the one error handler of the command line.

Error handling: a :class:`~pakcast.forecast.errors.PakcastError` escaping a command prints its
message on one line to stderr and exits with its ``exit_code``; the other expected failures
(a missing file, no permission, a full disk, out of memory, a wrong text encoding, a store that
cannot be opened) are mapped to one-line messages by :func:`describe_error`. Wrong usage is
typer's own (exit 2). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import enum
import errno
from typing import Any

import typer
from typer.core import TyperGroup, TyperOption
from typer.exceptions import TyperException

from pakcast.forecast.errors import EXIT_CODES, PakcastError
from pakcast.forecast.jobs import DEFAULT_SEED  # the default of every --random-seed option


EXIT_CODES_TEXT = "Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()) + "."


def describe_error(exc: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code for an expected failure; ``None`` for a bug."""
    if isinstance(exc, PakcastError):
        return str(exc), exc.exit_code
    if isinstance(exc, UnicodeDecodeError):
        return (f"wrong text encoding: {exc.reason} at byte {exc.start} ({exc.encoding}); "
                "pass --encoding (e.g. latin-1)"), 1
    if isinstance(exc, LookupError) and str(exc).startswith("unknown encoding"):
        return f"{exc} (pass a Python codec name to --encoding, e.g. utf-8 or latin-1)", 1
    if isinstance(exc, FileNotFoundError):
        return f"file not found: {exc.filename or exc}", 1
    if isinstance(exc, IsADirectoryError):
        return f"expected a file, got a directory: {exc.filename or exc}", 1
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}", 1
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"no space left on the device{f' writing {exc.filename}' if exc.filename else ''}: free space and rerun", 1
    if type(exc).__name__ in ("ParserError", "EmptyDataError") and type(exc).__module__.startswith("pandas"):
        return f"a CSV file could not be read: {exc}", 1
    if isinstance(exc, MemoryError):
        return "out of memory: use a smaller selection (fewer draws, samples or series) or a larger machine", 1
    if type(exc).__module__.split(".")[0] in ("duckdb", "_duckdb") and type(exc).__name__ in (
            "IOException", "PermissionException"):
        return f"the store could not be opened: {str(exc).splitlines()[0]}", 1
    return None


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _hide_aliases(cmd: Any) -> None:
    """Show only the first name of each option in ``--help``; later names are hidden aliases
    (old spellings kept working, e.g. ``--seed`` for ``--random-seed``)."""
    for p in cmd.params:
        if not isinstance(p, TyperOption) or len(p.opts) < 2 or getattr(p, "_aliases_hidden", False):
            continue
        original = p.get_help_record

        def record(ctx: Any, _p: TyperOption = p, _orig: Any = original) -> Any:
            opts = _p.opts
            _p.opts = opts[:1]
            try:
                return _orig(ctx)
            finally:
                _p.opts = opts

        p.get_help_record = record  # type: ignore[method-assign]
        p._aliases_hidden = True  # type: ignore[attr-defined]


def _conform(cmd: Any) -> None:
    """One look for every command, also those registered on their own sub-apps: plain help
    (no ``<bool>``), hidden aliases, the exit codes as epilog."""
    _hide_aliases(cmd)
    if hasattr(cmd, "rich_markup_mode"):
        cmd.rich_markup_mode = None
    if not cmd.epilog:
        cmd.epilog = EXIT_CODES_TEXT
    for sub in getattr(cmd, "commands", {}).values():
        _conform(sub)


class PakcastGroup(TyperGroup):
    """A typer group whose ``invoke`` turns expected failures into one line and an exit code,
    and whose commands list only the first name of each option in ``--help``."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is not None:
            _conform(cmd)
        return cmd

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as exc:  # noqa: BLE001 - expected failures only; a bug is re-raised
            described = describe_error(exc)
            if described is None:
                raise
            message, code = described
            typer.echo(f"error: {_one_line(message)}", err=True)
            raise typer.Exit(code) from None


def _version(value: bool) -> None:
    if value:
        from pakcast import __version__

        typer.echo(f"pakcast {__version__}")
        raise typer.Exit()


app = typer.Typer(
    name="pakcast",
    cls=PakcastGroup,
    help="pakcast: forecasting and causal analysis of political violence (Pakistan first).",
    epilog=EXIT_CODES_TEXT,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain click help: flags without "<bool>", choices as <a|b>
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """pakcast: forecasting and causal analysis of political violence (Pakistan first)."""


data_app = typer.Typer(help="Build and inspect the derived tables shipped in data/.", no_args_is_help=True, cls=PakcastGroup,
                       rich_markup_mode=None, epilog=EXIT_CODES_TEXT)
bayes_app = typer.Typer(help="Bayesian models (PyMC): hierarchical ITS, change points.", no_args_is_help=True,
                        cls=PakcastGroup,
                        rich_markup_mode=None, epilog=EXIT_CODES_TEXT)
app.add_typer(data_app, name="data")
app.add_typer(bayes_app, name="bayes")


# ------------------------------------------------------------------ shared options (one name each)
def seed_option(what: str = "every stochastic step") -> Any:
    """``--random-seed`` (``--seed`` kept as a hidden alias), always defaulting to :data:`DEFAULT_SEED`:
    no command has a default seed of its own (tests/test_architecture.py)."""
    return typer.Option(DEFAULT_SEED, "--random-seed", "--seed", help=f"Random seed of {what}.")


def json_option(required: bool = False, what: str = "the results") -> Any:
    """``--json FILE``: write the results as JSON (with ``<stem>.manifest.json`` beside it)."""
    return typer.Option(... if required else None, "--json",
                        help=f"Write {what} as JSON here (and <stem>.manifest.json beside it)"
                             + ("." if required else "; without it the summary is printed only."))


def intervention_option(help_text: str) -> Any:
    """``--intervention DATE`` (repeatable)."""
    return typer.Option(None, "--intervention", help=help_text)


def choices(name: str, *values: str) -> Any:
    """A fixed set of values as a ``StrEnum`` (typer shows it as ``<a|b|c>`` in ``--help``).

    Members compare equal to their strings; pass ``.value`` to library functions.
    """
    return enum.StrEnum(name, {v.replace("+", "_plus_").replace("-", "_"): v for v in values})


Fata = choices("Fata", "merge", "separate")
Sampler = choices("Sampler", "nutpie", "pymc")


def emit(result: Any) -> None:
    """Print a job's summary (stdout); a result withheld by a gate exits with status 3."""
    from pakcast.forecast.errors import GateError

    text = result.summary()
    if text:
        typer.echo(text)
    if result.withheld:
        raise GateError(result.withheld)
