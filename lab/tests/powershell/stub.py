"""A Host with no machine behind it: no cmdlets, no types, no programs (unless a test adds them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from provision_lab.powershell.api import CommandSpec, Host, NativeProgram, NativeResult, TypeSpec

__all__ = ["FakeProgram", "StubHost"]

_ZONE = dt.timezone(dt.timedelta(hours=-8))


@dataclass
class FakeProgram:
    """A native program answering with fixed output, recording what it was started with."""

    path: str
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    calls: list[tuple[list[str], str | None]] = field(default_factory=list)

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        self.calls.append((list(argv), stdin))
        return NativeResult(self.exit_code, self.stdout, self.stderr)


@dataclass
class StubHost:
    computer_name: str = "LAB1"
    user_name: str = "LAB1\\labadmin"
    elevated: bool = True
    language_mode: str = "FullLanguage"
    console: bool = True
    current_directory: str = "C:\\Users\\labadmin"
    env: dict[str, str] = field(default_factory=lambda: {"Path": "C:\\Windows\\system32", "TEMP": "C:\\Temp"})
    extra_commands: list[CommandSpec] = field(default_factory=list)
    extra_types: list[TypeSpec] = field(default_factory=list)
    programs: dict[str, NativeProgram] = field(default_factory=dict)
    clock: dt.datetime = field(default_factory=lambda: dt.datetime(2026, 12, 1, 15, 24, 18, tzinfo=_ZONE))
    slept: float = 0.0

    def environment(self) -> dict[str, str]:
        return self.env

    def commands(self) -> Iterable[CommandSpec]:
        return self.extra_commands

    def types(self) -> Iterable[TypeSpec]:
        return self.extra_types

    def find_program(self, name: str) -> NativeProgram | None:
        key = name.lower().rpartition("\\")[2]
        return self.programs.get(key) or self.programs.get(key + ".exe")

    def now(self) -> dt.datetime:
        return self.clock

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.clock += dt.timedelta(seconds=seconds)
