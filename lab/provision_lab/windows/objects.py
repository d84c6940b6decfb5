""".NET objects the machine's cmdlets and types return, as PowerShell shows them.

Each lists its type names and properties as the Microsoft Learn page of its class does; only the
members scripts are known to use are modelled, and a member that is not listed does not exist
(under StrictMode 3 reading it is an error, as on Windows for a member a class lacks).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from provision_lab.powershell.api import NetEnum, NetException, NetObject

__all__ = ["Bag", "Credential", "CustomObject", "SecureString", "enum"]


def enum(type_name: str, name: str, values: Mapping[str, int], *, flags: bool = False) -> NetEnum:
    """The NetEnum ``type_name``::``name`` (``values`` maps every name of the enum to its number)."""
    canonical = next((n for n in values if n.lower() == name.lower()), name)
    return NetEnum(type_name, canonical, values.get(canonical, 0), flags)


class Bag(NetObject):
    """An object of a fixed .NET type whose properties are computed by callables at read time,
    with optional methods and settable properties."""

    def __init__(
        self,
        type_names: tuple[str, ...],
        properties: Mapping[str, Callable[[], Any]],
        *,
        methods: Mapping[str, Callable[[Sequence[Any]], Any]] | None = None,
        setters: Mapping[str, Callable[[Any], None]] | None = None,
        text: str | Callable[[], str] | None = None,
    ) -> None:
        self.TYPE_NAMES = type_names
        self._properties = dict(properties)
        self._methods = dict(methods or {})
        self._setters = {k.lower(): v for k, v in (setters or {}).items()}
        self._text = text

    def ps_properties(self) -> Mapping[str, Any]:
        return {name: read() for name, read in self._properties.items()}

    def ps_set_property(self, name: str, value: Any) -> None:
        setter = self._setters.get(name.lower())
        if setter is None:
            super().ps_set_property(name, value)
            return
        setter(value)

    def ps_methods(self) -> Sequence[str]:
        return tuple(self._methods)

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        for method, call in self._methods.items():
            if method.lower() == name.lower():
                return call(args)
        raise NetException("System.MissingMethodException", f"Method not found: '{name}'.")

    def ps_to_string(self) -> str:
        if self._text is None:
            return self.TYPE_NAMES[0]
        return self._text if isinstance(self._text, str) else self._text()


class SecureString(Bag):
    """System.Security.SecureString: its text is kept, never shown (ToString is the type name)."""

    def __init__(self, value: str) -> None:
        super().__init__(
            ("System.Security.SecureString", "System.Object"),
            {"Length": lambda: len(value)},
            text="System.Security.SecureString",
        )
        self.value = value


class Credential(Bag):
    """System.Management.Automation.PSCredential (UserName, Password as a SecureString)."""

    def __init__(self, user: str, password: SecureString) -> None:
        super().__init__(
            ("System.Management.Automation.PSCredential", "System.Object"),
            {"UserName": lambda: user, "Password": lambda: password},
            text="System.Management.Automation.PSCredential",
        )
        self.user = user
        self.password = password.value


class CustomObject(NetObject):
    """A PSCustomObject made by a cmdlet (Get-ItemProperty's result): ordered note properties."""

    TYPE_NAMES = ("System.Management.Automation.PSCustomObject", "System.Object")

    def __init__(self, properties: Mapping[str, Any]) -> None:
        self._values = dict(properties)

    def ps_properties(self) -> Mapping[str, Any]:
        return dict(self._values)

    def ps_set_property(self, name: str, value: Any) -> None:
        for key in self._values:
            if key.lower() == name.lower():
                self._values[key] = value
                return
        super().ps_set_property(name, value)

    def ps_to_string(self) -> str:
        # A PSCustomObject's string form is its hashtable-like listing: @{A=1; B=2}.
        return "@{" + "; ".join(f"{k}={_text(v)}" for k, v in self._values.items()) + "}"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, datetime):
        return value.strftime("%m/%d/%Y %H:%M:%S")
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    if isinstance(value, NetObject):
        return value.ps_to_string()
    return str(value)
