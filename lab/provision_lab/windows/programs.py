"""Executable files and the programs they are: how the machine knows what a ``.exe`` does.

An executable file on a lab machine is a real file whose bytes say which program and version it
is: :func:`image` writes them (``MZ`` first, as every Windows image starts, then a line naming the
program). The machine knows nothing of what a program does: NATIVES registers a factory per
program name (:func:`register`), and ``find_program`` builds the program for the file found on
PATH. A file that names no registered program does not run; Windows says "The specified
executable is not a valid application for this OS platform." (ERROR_BAD_EXE_FORMAT's text, which
Windows PowerShell shows as "Program 'x.exe' failed to run: ...").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from provision_lab.powershell.api import NativeProgram

if TYPE_CHECKING:
    from provision_lab.windows.machine import Machine

__all__ = ["BAD_IMAGE", "ProgramFactory", "factory", "identify", "image", "register", "registered"]

BAD_IMAGE = "The specified executable is not a valid application for this OS platform."

_HEADER = re.compile(rb"^MZ\x90\x00 lab-image program=([A-Za-z0-9_.-]+) version=([0-9A-Za-z.+-]+)\r?\n")

ProgramFactory = Callable[["Machine", str, str], NativeProgram]
"""(machine, full path of the file, version the file declares) -> the program to run."""

_FACTORIES: dict[str, ProgramFactory] = {}


def image(program: str, version: str, payload: str = "") -> bytes:
    """The bytes of an executable that is ``program`` at ``version`` (and any payload text)."""
    return f"MZ\x90\x00 lab-image program={program} version={version}\n{payload}".encode("latin-1")


def identify(data: bytes) -> tuple[str, str] | None:
    """(program, version) an executable's bytes declare, None for anything else."""
    match = _HEADER.match(data)
    if match is None:
        return None
    return match.group(1).decode("ascii"), match.group(2).decode("ascii")


def register(program: str, build: ProgramFactory) -> None:
    """Make files that declare ``program`` runnable (NATIVES calls this for each program it models)."""
    _FACTORIES[program.lower()] = build


def factory(program: str) -> ProgramFactory | None:
    return _FACTORIES.get(program.lower())


def registered() -> list[str]:
    return sorted(_FACTORIES)
