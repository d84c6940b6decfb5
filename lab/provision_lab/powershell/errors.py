"""PowerShell's runtime errors and control flow, as Python exceptions.

Error texts are Windows PowerShell 5.1's resource strings (System.Management.Automation's
ParserStrings, ExtendedTypeSystem and ParameterBinderStrings; they are quoted in the conformance
tests next to the Microsoft Learn pages that show them).
"""

from __future__ import annotations

from typing import Any

from .api import ErrorRecord, NetException, TerminatingError

__all__ = [
    "BreakSignal",
    "ContinueSignal",
    "ExitSignal",
    "ReturnSignal",
    "ScriptError",
    "runtime_error",
]

_RUNTIME_BASES = ("System.SystemException", "System.Exception")
_RUNTIME = "System.Management.Automation.RuntimeException"


class ScriptError(TerminatingError):
    """A terminating error raised by the language (``throw``, a failed conversion, a missing member).

    ``fatal`` marks a script-terminating error (``throw``, or any error under ``Stop``): it unwinds to
    the nearest ``try`` or ends the script. Otherwise the error ends only its statement when no ``try``
    is active, as PowerShell does with statement-terminating errors (about_Throw, about_Try_Catch_Finally).
    """

    def __init__(self, record: ErrorRecord, *, fatal: bool = False) -> None:
        super().__init__(record)
        self.fatal = fatal


def runtime_error(
    message: str,
    error_id: str,
    category: str = "InvalidOperation",
    *,
    exception_type: str = _RUNTIME,
    target: Any = None,
    bases: tuple[str, ...] | None = None,
    fatal: bool = False,
) -> ScriptError:
    """A RuntimeException-family error with PowerShell's error id and category."""
    if bases is None:
        bases = (_RUNTIME, *_RUNTIME_BASES) if exception_type != _RUNTIME else _RUNTIME_BASES
    exception = NetException(exception_type, message, base_names=bases)
    return ScriptError(ErrorRecord(exception, error_id, category, target), fatal=fatal)


class BreakSignal(Exception):
    """``break [label]``."""

    def __init__(self, label: str | None = None) -> None:
        super().__init__(label)
        self.label = label


class ContinueSignal(Exception):
    """``continue [label]``."""

    def __init__(self, label: str | None = None) -> None:
        super().__init__(label)
        self.label = label


class ReturnSignal(Exception):
    """``return``: ends the script block or function (its value was already written to output)."""


class ExitSignal(Exception):
    """``exit [code]``: ends the script (and powershell.exe, with that exit code)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code
