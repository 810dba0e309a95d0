"""The errors a user should expect, as one type the command line turns into one line.

Only `UserError` (and its subclasses) becomes a one-line message with exit code 2; anything else is a
programming error and keeps its traceback. Each message says what is wrong and what to do next.
A subclass may also derive from the built-in type it replaces (`ConfigError` is a `ValueError`), so
code that catches the built-in keeps working.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: a bad config, a missing or damaged file, a run that diverged."""


class OutcomeError(UserError):
    """The command ran, but the outcome it was asked for did not happen (a chain that never became stable).
    What it wrote is kept and listed in `paths`; the command line prints them, then the message, and exits 1
    (bad input exits 2)."""

    exit_code = 1

    def __init__(self, message: str, paths=()):
        super().__init__(message)
        self.paths = list(paths)


class ConfigError(UserError, ValueError):
    """A config that cannot be loaded; the message names the file/key and what was expected."""


class UnknownNameError(UserError, KeyError):
    """A name that no registry holds; the message lists the choices."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ContractError(UserError, ValueError):
    """A method and a data set that do not fit (a batch key, shape, dtype or info key is missing)."""


class CheckpointError(UserError, ValueError):
    """A checkpoint that cannot be read: truncated, corrupt, or not a gensci checkpoint."""


class DivergenceError(UserError, FloatingPointError):
    """Training produced a non-finite loss or weights; the message names the step and the last good checkpoint."""


class InputFileError(UserError, ValueError):
    """A user's input file that cannot be used; the message names the file (and line or record)."""
