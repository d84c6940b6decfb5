"""Windows' and .NET's exceptions and PowerShell's error records for them, in one place.

Every text here is what Windows PowerShell 5.1 prints; each cites where it was found. The
FullyQualifiedErrorIds are the cmdlets' own (the interpreter appends ``,<command type>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provision_lab.powershell.api import ErrorRecord, NetException, TerminatingError

__all__ = [
    "ARGUMENT_BASES",
    "IO_BASES",
    "SESSION_STATE_BASES",
    "access_denied",
    "directory_not_found",
    "file_in_use",
    "file_not_found",
    "item_not_found",
    "net",
    "record",
    "requires_elevation",
    "terminating",
]

IO_BASES = ("System.IO.IOException", "System.SystemException", "System.Exception")
"""FileNotFoundException, DirectoryNotFoundException and friends derive from IOException."""
SESSION_STATE_BASES = (
    "System.Management.Automation.SessionStateException",
    "System.Management.Automation.RuntimeException",
    "System.SystemException",
    "System.Exception",
)
ARGUMENT_BASES = ("System.ArgumentException", "System.SystemException", "System.Exception")


def net(
    type_name: str,
    message: str,
    *,
    bases: tuple[str, ...] = ("System.SystemException", "System.Exception"),
    hresult: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> NetException:
    """A .NET exception of ``type_name``."""
    return NetException(type_name, message, base_names=bases, hresult=hresult, extra=extra)


def record(exception: NetException, error_id: str, category: str, target: Any = None) -> ErrorRecord:
    """An ErrorRecord as a cmdlet writes it."""
    return ErrorRecord(exception, error_id, category, target)


def terminating(exception: NetException, error_id: str, category: str, target: Any = None) -> TerminatingError:
    """A terminating error (ThrowTerminatingError) for ``exception``."""
    return TerminatingError(record(exception, error_id, category, target))


def file_not_found(path: str) -> NetException:
    """``Could not find file 'C:\\x'.`` (.NET FileNotFoundException, the text of File.ReadAllText)."""
    return net("System.IO.FileNotFoundException", f"Could not find file '{path}'.", bases=IO_BASES, hresult=-2147024894)


def directory_not_found(path: str) -> NetException:
    """``Could not find a part of the path 'C:\\x\\y'.`` (.NET DirectoryNotFoundException)."""
    return net(
        "System.IO.DirectoryNotFoundException",
        f"Could not find a part of the path '{path}'.",
        bases=IO_BASES,
        hresult=-2147024893,
    )


def access_denied(path: str) -> NetException:
    """``Access to the path 'C:\\x' is denied.`` (.NET UnauthorizedAccessException: ERROR_ACCESS_DENIED,
    also what deleting a running program's image gives)."""
    return net("System.UnauthorizedAccessException", f"Access to the path '{path}' is denied.", hresult=-2147024891)


def file_in_use(path: str) -> NetException:
    """``The process cannot access the file 'C:\\x' because it is being used by another process.``
    (ERROR_SHARING_VIOLATION as .NET's IOException words it)."""
    return net(
        "System.IO.IOException",
        f"The process cannot access the file '{path}' because it is being used by another process.",
        bases=("System.SystemException", "System.Exception"),
        hresult=-2147024864,
    )


def item_not_found(path: str) -> ErrorRecord:
    """The providers' ``Cannot find path 'X' because it does not exist.`` (ItemNotFoundException,
    PathNotFound, ObjectNotFound), as Get-Item, Get-ItemProperty, Remove-Item and friends write it."""
    return record(
        net(
            "System.Management.Automation.ItemNotFoundException",
            f"Cannot find path '{path}' because it does not exist.",
            bases=SESSION_STATE_BASES,
        ),
        "PathNotFound",
        "ObjectNotFound",
        path,
    )


def requires_elevation() -> NetException:
    """DISM's refusal for a non-elevated caller: a COMException "The requested operation requires
    elevation." (MicrosoftDocs/WSL issue 403; windows-audit.md F7), HRESULT 0x800702E4."""
    return net(
        "System.Runtime.InteropServices.COMException",
        "The requested operation requires elevation.",
        bases=(
            "System.Runtime.InteropServices.ExternalException",
            "System.SystemException",
            "System.Exception",
        ),
        hresult=-2147024156,
    )
