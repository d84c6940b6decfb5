"""One module per resource type: a typed params model, a pure diff, and its template.

Resources produce changes (and, through render.py, scripts); they never run anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from provisioner.protocol.blocks import BlockParams

__all__ = ["Change", "DiffEntry", "Finding", "service_diff"]


@dataclass(frozen=True)
class DiffEntry:
    """One property that differs: ``path`` as the user would name it, with before and after."""

    path: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Finding:
    """A preflight verdict: errors stop the host before any change, warnings are reported."""

    level: Literal["error", "warning"]
    code: str
    message: str


@dataclass(frozen=True)
class Change:
    """One block of the apply script: a resource whose host state differs from the spec."""

    id: str
    type: str
    params: BlockParams
    diff: list[DiffEntry]
    may_reboot: bool = False
    requires: tuple[str, ...] = field(default=())
    """Ids of blocks that must have succeeded, with no reboot pending, before this one runs."""


def service_diff(path: str, exists: bool, status: str | None, start_type: str | None) -> list[DiffEntry]:
    """What differs from a service that exists, starts automatically and runs (engine and Desktop)."""
    if not exists:
        return [DiffEntry(path, "absent", "Running")]
    diff = []
    if status != "Running":
        diff.append(DiffEntry(f"{path}.status", status, "Running"))
    if start_type != "Automatic":
        diff.append(DiffEntry(f"{path}.start_type", start_type, "Automatic"))
    return diff
