"""The file system: volumes, folders, files and the files running processes hold open.

Pure state and behaviour, with the exceptions .NET throws (errors.py); the provider cmdlets and
``[System.IO.*]`` (cmdlets/items.py, types.py) turn them into PowerShell's error records.

- Volumes: each drive letter is a volume. A folder cannot be moved to another volume: Windows
  PowerShell 5.1's FileSystem provider calls ``DirectoryInfo.MoveTo``, which throws "Source and
  destination path must have identical roots. Move will not work across volumes." (windows-audit.md
  F1: alanstevens/ChocoPackages#10; cross-volume folder moves came only in PowerShell 7.2,
  PowerShell/PowerShell#15072). A file moves across volumes (``File.Move`` copies, then deletes).
- Files held open: a running program's image cannot be deleted ("Access to the path ... is
  denied.") nor overwritten ("... because it is being used by another process."); a folder that
  holds one cannot be renamed or moved (access denied). windows-audit.md F1 (b) names the cases:
  ``dockerd.exe`` while the service runs, ``docker.exe`` held by another session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from provision_lab.powershell.api import NetException
from provision_lab.windows import errors, paths

__all__ = ["CROSS_VOLUME", "FileSystem", "Node"]

CROSS_VOLUME = "Source and destination path must have identical roots. Move will not work across volumes."


@dataclass
class Node:
    """A folder or a file; ``path`` keeps the spelling it was created with."""

    path: str
    is_dir: bool
    data: bytes = b""
    modified: datetime | None = None
    attributes: set[str] = field(default_factory=set)


class FileSystem:
    """Folders and files of every volume of one machine, keyed case-insensitively.

    Args:
        volumes: drive letters (``C``, ``D``...) of the machine's volumes; each gets its root.
        clock: the machine's clock, for LastWriteTime.
    """

    def __init__(self, volumes: tuple[str, ...], clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self.nodes: dict[str, Node] = {}
        self.held: dict[str, str] = {}
        """Key of a file -> the process holding it open (``dockerd.exe``), for the error texts' sake."""
        self.on_written: Callable[[str], None] | None = None
        """Called with the path of each file written (the machine's on-access scan)."""
        for letter in volumes:
            root = letter.upper() + ":\\"
            self.nodes[paths.key(root)] = Node(root, True, modified=clock())

    # -- reading -------------------------------------------------------------------------------

    def volumes(self) -> list[str]:
        """Drive letters, as ``C``."""
        return sorted(node.path[0] for node in self.nodes.values() if len(node.path) == 3)

    def node(self, path: str) -> Node | None:
        return self.nodes.get(paths.key(path))

    def is_dir(self, path: str) -> bool:
        node = self.node(path)
        return node is not None and node.is_dir

    def is_file(self, path: str) -> bool:
        node = self.node(path)
        return node is not None and not node.is_dir

    def read(self, path: str) -> bytes:
        """A file's bytes (File.ReadAllBytes)."""
        node = self.node(path)
        if node is None:
            raise self._missing(path)
        if node.is_dir:
            raise errors.access_denied(path)
        return node.data

    def children(self, path: str) -> list[Node]:
        """The entries of a folder, folders first then files, each by name (as NTFS lists them)."""
        prefix = paths.key(path).rstrip("\\") + "\\"
        found = [
            node
            for name, node in self.nodes.items()
            if name.startswith(prefix) and "\\" not in name[len(prefix) :] and name != prefix
        ]
        return sorted(found, key=lambda node: (not node.is_dir, node.path.lower()))

    def walk(self, path: str) -> Iterator[Node]:
        """Every node under ``path`` (not itself), deepest first, so a tree can be deleted in order."""
        prefix = paths.key(path).rstrip("\\") + "\\"
        found = [node for name, node in self.nodes.items() if name.startswith(prefix)]
        yield from sorted(found, key=lambda node: node.path.count("\\"), reverse=True)

    def holder(self, path: str) -> str | None:
        """The process holding ``path`` open, or the first one holding a file under the folder ``path``."""
        name = paths.key(path)
        if name in self.held:
            return self.held[name]
        prefix = name.rstrip("\\") + "\\"
        return next((who for held, who in self.held.items() if held.startswith(prefix)), None)

    # -- changing ------------------------------------------------------------------------------

    def make_dirs(self, path: str) -> Node:
        """Create a folder and its missing parents (Directory.CreateDirectory); an existing folder is fine."""
        node = self.node(path)
        if node is not None:
            if not node.is_dir:
                raise errors.net(
                    "System.IO.IOException",
                    f'Cannot create "{path}" because a file or directory with the same name already exists.',
                    bases=("System.SystemException", "System.Exception"),
                )
            return node
        above = paths.parent(path)
        if above is None:
            raise errors.directory_not_found(path)  # a drive that does not exist
        self.make_dirs(above)
        created = Node(path, True, modified=self._clock())
        self.nodes[paths.key(path)] = created
        return created

    def write(self, path: str, data: bytes) -> Node:
        """Create or replace a file (File.WriteAllBytes); its folder must exist."""
        node = self.node(path)
        if node is not None and node.is_dir:
            raise errors.access_denied(path)
        if paths.key(path) in self.held:
            raise errors.file_in_use(path)
        above = paths.parent(path)
        if above is None or not self.is_dir(above):
            raise errors.directory_not_found(path)
        if node is None:
            node = Node(path, False)
            self.nodes[paths.key(path)] = node
        node.data = bytes(data)
        node.modified = self._clock()
        if self.on_written is not None:
            self.on_written(path)
        return node

    def delete(self, path: str) -> None:
        """Delete a file, or an empty folder (File.Delete / Directory.Delete)."""
        node = self.node(path)
        if node is None:
            raise self._missing(path)
        if node.is_dir:
            if self.children(path):
                raise errors.net(
                    "System.IO.IOException",
                    "The directory is not empty.",
                    bases=("System.SystemException", "System.Exception"),
                    hresult=-2147024751,
                )
            if len(node.path) == 3:
                raise errors.access_denied(path)
        elif paths.key(path) in self.held:
            # Deleting a running program's image: ERROR_ACCESS_DENIED (windows-audit.md F1 (b)).
            raise errors.access_denied(path)
        del self.nodes[paths.key(path)]

    def move(self, source: str, target: str) -> None:
        """Move or rename a file or folder (File.Move / DirectoryInfo.MoveTo): the target must not exist."""
        node = self.node(source)
        if node is None:
            raise self._missing(source)
        if self.node(target) is not None:
            raise errors.net(
                "System.IO.IOException",
                "Cannot create a file when that file already exists.",
                bases=("System.SystemException", "System.Exception"),
                hresult=-2147024713,
            )
        above = paths.parent(target)
        if above is None or not self.is_dir(above):
            raise errors.directory_not_found(target)
        if node.is_dir and source[0].lower() != target[0].lower():
            raise errors.net(
                "System.IO.IOException", CROSS_VOLUME, bases=("System.SystemException", "System.Exception")
            )
        if self.holder(source) is not None:
            raise errors.access_denied(source)
        moved = [node, *self.walk(source)] if node.is_dir else [node]
        old = paths.key(source)
        for item in moved:
            del self.nodes[paths.key(item.path)]
        for item in moved:
            item.path = target + item.path[len(source) :] if paths.key(item.path) != old else target
            self.nodes[paths.key(item.path)] = item

    def copy_file(self, source: str, target: str, *, overwrite: bool) -> None:
        """File.Copy: the target folder must exist; an existing target needs ``overwrite``."""
        data = self.read(source)
        if not overwrite and self.node(target) is not None:
            raise errors.net(
                "System.IO.IOException",
                f"The file '{target}' already exists.",
                bases=("System.SystemException", "System.Exception"),
                hresult=-2147024816,
            )
        self.write(target, data)

    def hold(self, path: str, holder: str) -> None:
        """A process opens ``path`` and keeps it open (its image while it runs)."""
        self.held[paths.key(path)] = holder

    def release(self, path: str) -> None:
        self.held.pop(paths.key(path), None)

    def _missing(self, path: str) -> NetException:
        above = paths.parent(path)
        if above is not None and not self.is_dir(above):
            return errors.directory_not_found(path)
        return errors.file_not_found(path)
