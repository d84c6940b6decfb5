"""PowerShell's own value types, as the interpreter represents them in Python (api.VALUE_TYPES_DOC).

Hashtable keys compare case-insensitively when they are strings (a hashtable created by ``@{}``
uses ``StringComparer.OrdinalIgnoreCase`` in PowerShell: about_Hash_Tables); ``[ordered]`` keeps
insertion order (every Python dict does, so the two differ only in their .NET type name, which
``GetType()``, ``-is`` and ConvertTo-Json's handling see).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

__all__ = [
    "ArrayList",
    "Long",
    "Hashtable",
    "OrderedDictionary",
    "PSCustomObject",
    "PSReference",
    "ScriptBlock",
    "fold",
]


def fold(key: Any) -> Any:
    """The comparison key of a hashtable key: strings case-insensitively, anything else as itself."""
    return key.lower() if isinstance(key, str) else key


class Hashtable(MutableMapping[Any, Any]):
    """``System.Collections.Hashtable`` with PowerShell's case-insensitive string keys."""

    TYPE_NAME = "System.Collections.Hashtable"

    def __init__(self, items: Mapping[Any, Any] | None = None) -> None:
        self._data: dict[Any, tuple[Any, Any]] = {}
        if items:
            for key, value in items.items():
                self[key] = value

    def __getitem__(self, key: Any) -> Any:
        return self._data[fold(key)][1]

    def __setitem__(self, key: Any, value: Any) -> None:
        folded = fold(key)
        existing = self._data.get(folded)
        self._data[folded] = (existing[0] if existing else key, value)

    def __delitem__(self, key: Any) -> None:
        del self._data[fold(key)]

    def __iter__(self) -> Iterator[Any]:
        return (original for original, _ in self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return fold(key) in self._data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self.items())!r})"

    def __eq__(self, other: object) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class OrderedDictionary(Hashtable):
    """``System.Collections.Specialized.OrderedDictionary`` (``[ordered]@{}``)."""

    TYPE_NAME = "System.Collections.Specialized.OrderedDictionary"


class PSCustomObject:
    """``[pscustomobject]``: note properties in the order they were added."""

    TYPE_NAME = "System.Management.Automation.PSCustomObject"

    def __init__(self, properties: Mapping[str, Any] | None = None) -> None:
        self.properties: dict[str, tuple[str, Any]] = {}
        for key, value in (properties or {}).items():
            self.set(str(key), value)

    def get(self, name: str) -> tuple[bool, Any]:
        """(found, value) of a property, case-insensitively."""
        entry = self.properties.get(name.lower())
        return (True, entry[1]) if entry else (False, None)

    def set(self, name: str, value: Any) -> None:
        existing = self.properties.get(name.lower())
        self.properties[name.lower()] = (existing[0] if existing else name, value)

    def items(self) -> list[tuple[str, Any]]:
        return list(self.properties.values())


class Long(int):
    """An ``[long]`` (Int64) whose value would fit an Int32: ``10L``, ``[long]1`` keep their type."""


class ArrayList(list[Any]):
    """``System.Collections.ArrayList`` / ``List[T]``: a list whose ``Add`` a script calls."""

    def __init__(self, items: Any = (), type_name: str = "System.Collections.ArrayList") -> None:
        super().__init__(items)
        self.type_name = type_name


class PSReference:
    """``[ref]``: a box a script passes to have it assigned."""

    def __init__(self, value: Any) -> None:
        self.value = value


class ScriptBlock:
    """``{ ... }``: compiled code and the text it came from (``[string]$block`` gives the text)."""

    TYPE_NAME = "System.Management.Automation.ScriptBlock"

    def __init__(self, text: str, body: Any, params: Any, language_mode: str | None = None) -> None:
        self.text = text
        self.body = body
        """The compiled block (engine.CompiledBlock)."""
        self.params = params
        self.language_mode = language_mode
