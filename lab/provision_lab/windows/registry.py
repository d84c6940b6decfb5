"""The registry: keys, values and their kinds, as the Registry provider and RegistryKey see them.

Value kinds are RegistryValueKind's names (String, ExpandString, DWord, QWord, MultiString,
Binary). An ExpandString is kept unexpanded; readers expand it where Windows does:
``RegistryKey.GetValue`` expands by default (learn.microsoft.com RegistryKey.GetValue: "If the
value is of kind ExpandString, the environment variables are expanded"), and so do
``Get-ItemProperty`` and ``[Environment]::GetEnvironmentVariable(x, 'Machine')``, which read through
it. Keys and value names compare case-insensitively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["KINDS", "RegKey", "RegValue", "Registry"]

KINDS = ("String", "ExpandString", "DWord", "QWord", "MultiString", "Binary")


@dataclass
class RegValue:
    name: str
    kind: str
    data: Any
    """str for String/ExpandString, int for DWord/QWord, list[str] for MultiString, bytes for Binary."""


@dataclass
class RegKey:
    path: str
    """``HKEY_LOCAL_MACHINE\\SOFTWARE\\...`` as created."""
    values: dict[str, RegValue] = field(default_factory=dict)
    """lower(name) -> value, in creation order."""
    volatile: bool = False
    """A volatile key is gone after the next restart (RegistryOptions.Volatile)."""

    def get(self, name: str) -> RegValue | None:
        return self.values.get(name.lower())

    def set(self, name: str, kind: str, data: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown registry value kind {kind!r}")
        found = self.values.get(name.lower())
        if found is not None:
            found.kind, found.data = kind, data
        else:
            self.values[name.lower()] = RegValue(name, kind, data)

    def delete(self, name: str) -> bool:
        return self.values.pop(name.lower(), None) is not None


class Registry:
    """Every key of one machine's registry, keyed by lower-case full path."""

    def __init__(self) -> None:
        self.keys: dict[str, RegKey] = {}
        for hive in ("HKEY_LOCAL_MACHINE", "HKEY_USERS", "HKEY_CLASSES_ROOT"):
            self.keys[hive.lower()] = RegKey(hive)

    def key(self, path: str) -> RegKey | None:
        return self.keys.get(path.lower().rstrip("\\"))

    def create(self, path: str, *, volatile: bool = False) -> RegKey:
        """The key at ``path``, created with its missing parents (RegistryKey.CreateSubKey)."""
        path = path.rstrip("\\")
        found = self.key(path)
        if found is not None:
            return found
        head, _, _ = path.rpartition("\\")
        if head:
            self.create(head, volatile=volatile)
        created = RegKey(path, volatile=volatile)
        self.keys[path.lower()] = created
        return created

    def subkeys(self, path: str) -> list[RegKey]:
        prefix = path.lower().rstrip("\\") + "\\"
        return sorted(
            (k for name, k in self.keys.items() if name.startswith(prefix) and "\\" not in name[len(prefix) :]),
            key=lambda k: k.path.lower(),
        )

    def delete_tree(self, path: str) -> None:
        prefix = path.lower().rstrip("\\")
        for name in [name for name in self.keys if name == prefix or name.startswith(prefix + "\\")]:
            del self.keys[name]

    def set_value(self, path: str, name: str, kind: str, data: Any) -> None:
        self.create(path).set(name, kind, data)

    def value(self, path: str, name: str) -> RegValue | None:
        found = self.key(path)
        return None if found is None else found.get(name)

    def drop_volatile(self) -> None:
        """A restart: volatile keys do not survive it."""
        for name in [name for name, k in self.keys.items() if k.volatile]:
            del self.keys[name]

    def export(self) -> list[dict[str, Any]]:
        """JSON-ready keys and values (bytes as lists of ints)."""
        return [
            {
                "path": k.path,
                "volatile": k.volatile,
                "values": [
                    [v.name, v.kind, list(v.data) if isinstance(v.data, bytes | bytearray) else v.data]
                    for v in k.values.values()
                ],
            }
            for k in self.keys.values()
        ]

    @classmethod
    def restore(cls, data: list[dict[str, Any]]) -> Registry:
        registry = cls()
        for item in data:
            k = registry.create(item["path"], volatile=bool(item["volatile"]))
            for name, kind, value in item["values"]:
                k.set(name, kind, bytes(value) if kind == "Binary" else value)
        return registry
