"""Windows paths as the file system and the PowerShell providers read them.

Windows compares paths case-insensitively and takes ``/`` for ``\\`` (learn.microsoft.com, "File
path formats on Windows systems": "all forward slashes (/) are converted into the standard Windows
separator, the back slash (\\)", and "relative segments such as . and .. are resolved"). The
spelling a file was created with is kept; lookups use :func:`key`.
"""

from __future__ import annotations

import re

__all__ = ["ProviderPath", "is_absolute", "join", "key", "leaf", "normalize", "parent", "split_provider"]

_DRIVE = re.compile(r"^([A-Za-z]):")


def normalize(path: str, cwd: str = "C:\\") -> str:
    """The full path of ``path``: separators unified, ``.``/``..`` resolved, relative paths taken
    from ``cwd``, the drive letter upper-cased, no trailing separator except on a root (``C:\\``)."""
    text = path.replace("/", "\\")
    match = _DRIVE.match(text)
    if match is None:
        if text.startswith("\\"):
            text = cwd[:2] + text  # rooted on the current drive
        else:
            text = cwd.rstrip("\\") + "\\" + text
        match = _DRIVE.match(text)
        assert match is not None
    drive = match.group(1).upper() + ":"
    rest = text[2:]
    if not rest.startswith("\\"):
        # "C:folder" is relative to the drive's current directory; the lab's is its root.
        rest = "\\" + rest
    parts: list[str] = []
    for part in rest.split("\\"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        # Trailing dots and spaces are dropped by Win32 path normalisation (same page).
        parts.append(part.rstrip(" .") or part)
    return drive + "\\" + "\\".join(parts)


def key(path: str) -> str:
    """The lookup key of a normalised path (Windows compares case-insensitively)."""
    return path.lower()


def parent(path: str) -> str | None:
    """The parent folder of a normalised path, None for a root."""
    if len(path) <= 3:
        return None
    head = path.rpartition("\\")[0]
    return head + "\\" if len(head) == 2 else head


def leaf(path: str) -> str:
    """The last segment of a normalised path (the drive for a root)."""
    if len(path) <= 3:
        return path
    return path.rpartition("\\")[2]


def join(folder: str, child: str) -> str:
    """``Join-Path``'s string result: one backslash between the parts, nothing resolved."""
    child = child.replace("/", "\\")
    folder = folder.replace("/", "\\")
    if not folder:
        return child
    return folder.rstrip("\\") + "\\" + child.lstrip("\\")


def is_absolute(path: str) -> bool:
    """True for ``C:\\...`` (a drive-qualified path)."""
    return bool(re.match(r"^[A-Za-z]:[\\/]", path))


class ProviderPath:
    """A path as PowerShell's providers resolve it: which provider, and the path inside it.

    ``provider`` is ``FileSystem``, ``Registry`` or ``WSMan``; ``path`` is, for the file system, a
    normalised ``C:\\...`` path; for the registry, ``HKEY_LOCAL_MACHINE\\...`` (``HKLM:`` and
    ``HKCU:`` are the drives about_Providers lists); for WSMan, the segments after ``WSMan:\\``.
    """

    __slots__ = ("path", "provider")

    def __init__(self, provider: str, path: str) -> None:
        self.provider = provider
        self.path = path

    def __repr__(self) -> str:
        return f"ProviderPath({self.provider!r}, {self.path!r})"


_HIVES = {
    "hklm": "HKEY_LOCAL_MACHINE",
    "hkey_local_machine": "HKEY_LOCAL_MACHINE",
    "hkcu": "HKEY_CURRENT_USER",
    "hkey_current_user": "HKEY_CURRENT_USER",
    "hku": "HKEY_USERS",
    "hkey_users": "HKEY_USERS",
    "hkcr": "HKEY_CLASSES_ROOT",
    "hkey_classes_root": "HKEY_CLASSES_ROOT",
}
_PROVIDER_PREFIX = re.compile(r"^(?:Microsoft\.PowerShell\.Core\\)?(FileSystem|Registry|WSMan)::", re.IGNORECASE)


def _registry(path: str) -> str:
    parts = [part for part in path.replace("/", "\\").split("\\") if part not in ("", ".")]
    if parts:
        parts[0] = _HIVES.get(parts[0].lower().rstrip(":"), parts[0].upper())
    return "\\".join(parts)


def split_provider(path: str, cwd: str = "C:\\") -> ProviderPath | None:
    """Which provider ``path`` names (``HKLM:\\x``, ``Registry::HKEY_LOCAL_MACHINE\\x``,
    ``WSMan:\\localhost\\x``, ``C:\\x`` or a relative path), None for a drive that does not exist
    (the caller writes "Cannot find drive. A drive with the name 'X' does not exist.")."""
    prefix = _PROVIDER_PREFIX.match(path)
    if prefix is not None:
        provider = prefix.group(1).lower()
        rest = path[prefix.end() :]
        if provider == "registry":
            return ProviderPath("Registry", _registry(rest))
        if provider == "wsman":
            return ProviderPath("WSMan", rest.replace("/", "\\").strip("\\"))
        return ProviderPath("FileSystem", normalize(rest, cwd))
    drive, colon, rest = path.partition(":")
    if colon and len(drive) > 1:
        lowered = drive.lower()
        if lowered in ("hklm", "hkcu"):
            return ProviderPath("Registry", _registry(_HIVES[lowered] + "\\" + rest))
        if lowered == "wsman":
            return ProviderPath("WSMan", rest.replace("/", "\\").strip("\\"))
        return None
    return ProviderPath("FileSystem", normalize(path, cwd))
