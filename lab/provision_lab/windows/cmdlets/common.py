"""Helpers the machine's cmdlets share: parameter declarations and path resolution."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from provision_lab.powershell.api import CommandContext, ErrorRecord, Parameter
from provision_lab.windows import errors, paths
from provision_lab.windows.paths import ProviderPath
from provision_lab.windows.session import Session, session_of

__all__ = ["P", "as_list", "drive_error", "has_wildcard", "resolve", "resolve_many", "switch"]


def P(
    name: str,
    type: str = "object",
    *,
    position: int | None = None,
    mandatory: bool = False,
    aliases: tuple[str, ...] = (),
    pipeline: bool = False,
    by_name: bool = False,
    sets: tuple[str, ...] = (),
) -> Parameter:
    """A Parameter, shorter."""
    return Parameter(name, type, position, mandatory, aliases, pipeline, by_name, sets)


def switch(params: Mapping[str, Any], name: str) -> bool:
    """A switch parameter's value (absent means off; ``-Force:$false`` binds False)."""
    value = params.get(name)
    return bool(value) if value is not None else False


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def has_wildcard(path: str) -> bool:
    return any(char in path for char in "*?[")


def drive_error(path: str) -> ErrorRecord:
    """``Cannot find drive. A drive with the name 'Q' does not exist.`` (DriveNotFoundException)."""
    name = path.partition(":")[0]
    return errors.record(
        errors.net(
            "System.Management.Automation.DriveNotFoundException",
            f"Cannot find drive. A drive with the name '{name}' does not exist.",
            bases=errors.SESSION_STATE_BASES,
        ),
        "DriveNotFound",
        "ObjectNotFound",
        name,
    )


def resolve(session: Session, path: str) -> ProviderPath | None:
    """The provider path of ``path`` (None: no such drive). A file-system drive must be a volume."""
    found = paths.split_provider(path, session.current_directory)
    if found is not None and found.provider == "FileSystem" and found.path[0] not in session.machine.fs.volumes():
        return None
    return found


def resolve_many(context: CommandContext | Any, values: Iterable[str], *, literal: bool = False) -> list[ProviderPath]:
    """Resolve -Path values with their wildcards (file system leafs only), writing PowerShell's
    errors for a missing drive or a wildcard that matches nothing (none for a plain missing path:
    the cmdlet decides)."""
    session = session_of(context)
    found: list[ProviderPath] = []
    for value in values:
        target = resolve(session, str(value))
        if target is None:
            context.write_error(drive_error(str(value)))
            continue
        if literal or target.provider != "FileSystem" or not has_wildcard(target.path):
            found.append(target)
            continue
        folder, leaf = paths.parent(target.path) or target.path, paths.leaf(target.path)
        matches = [
            ProviderPath("FileSystem", node.path)
            for node in session.machine.fs.children(folder)
            if fnmatch.fnmatchcase(paths.leaf(node.path).lower(), leaf.lower())
        ]
        if not matches:
            context.write_error(errors.item_not_found(str(value)))
        found.extend(matches)
    return found
