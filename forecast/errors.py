"""The error types a user can meet, each with its exit code (one error path for every command).

A :class:`PakcastError` is an expected failure with a message for the user (file, row, column and
expectation where there is one); the CLI prints its message on one line and exits with
``exit_code``, never with a traceback. Anything else escaping a command is a bug.

Exit codes: 0 success; 1 bad input or a failed step (:class:`InputError`, :class:`PakcastError`);
2 wrong command-line usage (typer's own); 3 a result withheld because a gate failed or a resource
was unavailable (:class:`GateError`: unconverged sampler, store locked, vintage not archived).
"""

from __future__ import annotations

__all__ = ["PakcastError", "InputError", "GateError", "EXIT_CODES"]

EXIT_CODES = {0: "success", 1: "bad input or a failed step", 2: "wrong command-line usage",
              3: "a result withheld: a convergence gate failed or a resource (the store) was unavailable"}


class PakcastError(Exception):
    """An expected failure, reported to the user as one line."""

    exit_code: int = 1


class InputError(PakcastError, ValueError):
    """Input that does not meet its contract: names the file, row, column and expectation."""


class GateError(PakcastError, RuntimeError):
    """A result withheld: a convergence gate failed or a resource was unavailable."""

    exit_code = 3
