"""Exceptions with messages a modeller can act on."""

from __future__ import annotations


class TestbedError(Exception):
    """Base class of every error testbed raises on purpose."""


class InputError(TestbedError, ValueError):
    """An input file is missing, malformed or inconsistent with the run.

    The message names the file, and where it applies the variable, the cell and
    what to do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: object = None,
        variable: str | None = None,
        cell: int | None = None,
        hint: str | None = None,
    ) -> None:
        parts = []
        if path is not None:
            parts.append(f"{path}:")
        if variable is not None:
            parts.append(f"variable {variable}:")
        parts.append(message)
        if cell is not None:
            parts.append(f"(cell {cell})")
        text = " ".join(parts)
        if hint:
            text += f". {hint}"
        super().__init__(text)
        self.path = path
        self.variable = variable
        self.cell = cell


class ConfigError(TestbedError, ValueError):
    """The run configuration (namelist) is invalid."""


class ConservationError(TestbedError, RuntimeError):
    """A carbon or nitrogen budget does not close within round-off."""


class KernelError(TestbedError, RuntimeError):
    """The Fortran kernel reported an error code."""


class RunAborted(TestbedError, RuntimeError):
    """A fault stopped a run: the message says what happened, what was kept and how to resume."""
