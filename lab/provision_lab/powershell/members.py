"""Member access, method calls and indexing (about_Properties, about_Methods, about_Arrays, about_Hash_Tables).

Lookups are case-insensitive. A missing property is ``$null``, or under ``Set-StrictMode -Version 2`` and
later the error "The property 'X' cannot be found on this object. Verify that the property exists."; a
missing hashtable key is never an error (about_Hash_Tables; Set-StrictMode's page). A missing method is
"Method invocation failed because [T] does not contain a method named 'M'." in every mode. A .NET
exception thrown by a method surfaces as a MethodInvocationException: 'Exception calling "M" with "N"
argument(s): "<message>"' (about_Try_Catch_Finally shows this shape).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import convert as cv
from .api import ErrorRecord, NetEnum, NetException, NetObject, TerminatingError
from .errors import ScriptError, runtime_error
from .values import ArrayList, Hashtable, PSCustomObject, PSReference, ScriptBlock

if TYPE_CHECKING:
    from .engine import Extent
    from .session import Session

__all__ = ["CLM_ALLOWED", "call_method", "get_index", "get_member", "properties_of", "set_index", "set_member"]

CLM_ALLOWED = frozenset(
    name.lower()
    for name in (
        "System.Array",
        "System.Numerics.BigInteger",
        "System.Boolean",
        "System.Byte",
        "System.Char",
        "System.DateTime",
        "System.Decimal",
        "System.Double",
        "System.Single",
        "System.Guid",
        "System.Collections.Hashtable",
        "System.Int16",
        "System.Int32",
        "System.Int64",
        "System.Net.IPAddress",
        "System.Object[]",
        "System.Management.Automation.PSCustomObject",
        "System.Management.Automation.PSObject",
        "System.Text.RegularExpressions.Regex",
        "System.SByte",
        "System.Security.SecureString",
        "System.String",
        "System.Management.Automation.SwitchParameter",
        "System.TimeSpan",
        "System.UInt16",
        "System.UInt32",
        "System.UInt64",
        "System.Uri",
        "System.Version",
        "System.Void",
        "System.Xml.XmlDocument",
        "System.Management.Automation.PSCredential",
        "Microsoft.Management.Infrastructure.CimInstance",
        "System.Globalization.CultureInfo",
        "System.Management.Automation.WildcardPattern",
    )
)
"""The .NET types ConstrainedLanguage lets a script use, convert to, create and call methods of: the "Allowed
types" list of about_Language_Modes (reference/5.1), as far as the lab models them. ``ToString()`` may be
called on anything; an OrderedDictionary may be created by ``[ordered]@{}`` but its methods are refused."""


class PSObjectView(NetObject):
    """``$x.PSObject``: the adapter's view of an object (its Properties and TypeNames)."""

    TYPE_NAMES = ("System.Management.Automation.PSObject", "System.Object")

    def __init__(self, session: Session, target: Any) -> None:
        self.session = session
        self.target = target

    def ps_properties(self) -> Mapping[str, Any]:
        return {
            "Properties": PropertyCollection(properties_of(self.session, self.target)),
            "TypeNames": type_names(self.target),
            "BaseObject": self.target,
            "ImmediateBaseObject": self.target,
            "Members": PropertyCollection(properties_of(self.session, self.target)),
        }


class PSPropertyInfo(NetObject):
    """One entry of ``.PSObject.Properties``."""

    TYPE_NAMES = (
        "System.Management.Automation.PSNoteProperty",
        "System.Management.Automation.PSPropertyInfo",
        "System.Object",
    )

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value

    def ps_properties(self) -> Mapping[str, Any]:
        return {"Name": self.name, "Value": self.value, "MemberType": "NoteProperty", "IsGettable": True}

    def ps_to_string(self) -> str:
        return f"{cv.type_name_of(self.value)} {self.name}={cv.to_string(self.value)}"


class PropertyCollection(NetObject):
    """``.PSObject.Properties``: indexable by name (``$null`` when absent), enumerable."""

    TYPE_NAMES = ("System.Management.Automation.PSMemberInfoIntegratingCollection`1", "System.Object")

    def __init__(self, items: Sequence[tuple[str, Any]]) -> None:
        self.items = [PSPropertyInfo(name, value) for name, value in items]

    def ps_items(self) -> list[Any]:
        return list(self.items)

    def lookup(self, name: str) -> PSPropertyInfo | None:
        return next((p for p in self.items if p.name.lower() == name.lower()), None)

    def ps_properties(self) -> Mapping[str, Any]:
        return {}

    def ps_methods(self) -> Sequence[str]:
        return ("Match",)

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        pattern = cv.like_pattern(cv.to_string(args[0]) if args else "*")
        return [p for p in self.items if pattern.match(p.name)]


class ExceptionView(NetObject):
    """A NetException as a .NET object (``$_.Exception``)."""

    def __init__(self, exception: NetException) -> None:
        self.exception = exception
        self.TYPE_NAMES = (exception.type_name, *exception.base_names)

    def ps_properties(self) -> Mapping[str, Any]:
        props: dict[str, Any] = {
            "Message": self.exception.message,
            "InnerException": self.exception.inner,
            "HResult": self.exception.hresult if self.exception.hresult is not None else -2146233087,
            "Source": None,
            "StackTrace": None,
            "Data": Hashtable(),
        }
        if self.exception.type_name.startswith("System.Management.Automation."):
            props["ErrorRecord"] = _BackRef(self.exception)
            props["WasThrownFromThrowStatement"] = getattr(self.exception, "_thrown", False)
        props.update(self.exception.extra)
        return props

    def ps_to_string(self) -> str:
        return f"{self.exception.type_name}: {self.exception.message}"


class _BackRef:
    """The ErrorRecord an exception carries (resolved on access)."""

    def __init__(self, exception: NetException) -> None:
        self.exception = exception


class CategoryInfoView(NetObject):
    TYPE_NAMES = ("System.Management.Automation.ErrorCategoryInfo", "System.Object")

    def __init__(self, record: ErrorRecord) -> None:
        self.record = record

    def ps_properties(self) -> Mapping[str, Any]:
        record = self.record
        category = record.category
        return {
            "Category": NetEnum("System.Management.Automation.ErrorCategory", category, _CATEGORIES.get(category, 0)),
            "Activity": record.command_name or "",
            "Reason": record.exception.type_name.rpartition(".")[2],
            "TargetName": "" if record.target is None else cv.to_string(record.target),
            "TargetType": "" if record.target is None else cv.type_name_of(record.target).rpartition(".")[2],
        }

    def ps_to_string(self) -> str:
        props = self.ps_properties()
        return (
            f"{props['Category'].name} ({props['TargetName']}:{props['TargetType']}) [{props['Activity']}], "
            f"{props['Reason']}"
        )


_CATEGORIES = {
    name: index
    for index, name in enumerate(
        [
            "NotSpecified",
            "OpenError",
            "CloseError",
            "DeviceError",
            "DeadlockDetected",
            "InvalidArgument",
            "InvalidData",
            "InvalidOperation",
            "InvalidResult",
            "InvalidType",
            "MetadataError",
            "NotImplemented",
            "NotInstalled",
            "ObjectNotFound",
            "OperationStopped",
            "OperationTimeout",
            "SyntaxError",
            "ParserError",
            "PermissionDenied",
            "ResourceBusy",
            "ResourceExists",
            "ResourceUnavailable",
            "ReadError",
            "WriteError",
            "FromStdErr",
            "SecurityError",
            "ProtocolError",
            "ConnectionError",
            "AuthenticationError",
            "LimitsExceeded",
            "QuotaExceeded",
            "NotEnabled",
        ]
    )
}


def fully_qualified_error_id(record: ErrorRecord) -> str:
    command_type = getattr(record, "_command_type", None)
    if command_type and "," not in record.error_id:
        return f"{record.error_id},{command_type}"
    return record.error_id


def record_properties(record: ErrorRecord) -> dict[str, Any]:
    return {
        "Exception": record.exception,
        "TargetObject": record.target,
        "CategoryInfo": CategoryInfoView(record),
        "FullyQualifiedErrorId": fully_qualified_error_id(record),
        "ErrorDetails": None,
        "InvocationInfo": _InvocationInfo(record),
        "ScriptStackTrace": "at <ScriptBlock>, <No file>: line 1",
        "PipelineIterationInfo": [],
    }


class _InvocationInfo(NetObject):
    TYPE_NAMES = ("System.Management.Automation.InvocationInfo", "System.Object")

    def __init__(self, record: ErrorRecord) -> None:
        self.record = record

    def ps_properties(self) -> Mapping[str, Any]:
        extent = getattr(self.record, "_position", None)
        line = extent.problem().line if extent is not None else 0
        return {
            "MyCommand": self.record.command_name,
            "ScriptLineNumber": line,
            "Line": extent.text() if extent is not None else "",
            "PositionMessage": "",
            "InvocationName": self.record.command_name or "",
        }


def type_names(value: Any) -> list[str]:
    """``.PSObject.TypeNames``: the type and its bases, most derived first."""
    if isinstance(value, NetObject):
        return list(value.TYPE_NAMES)
    if isinstance(value, NetException):
        return [value.type_name, *value.base_names]
    if isinstance(value, PSCustomObject):
        return ["System.Management.Automation.PSCustomObject", "System.Object"]
    name = cv.type_name_of(value)
    bases = {
        "System.String": ["System.String", "System.Object"],
        "System.Int32": ["System.Int32", "System.ValueType", "System.Object"],
        "System.Object[]": ["System.Object[]", "System.Array", "System.Object"],
        "System.Collections.Hashtable": ["System.Collections.Hashtable", "System.Object"],
    }
    return bases.get(name, [name, "System.Object"])


def properties_of(session: Session, value: Any) -> list[tuple[str, Any]]:
    """An object's properties in display order (what Format-List, ConvertTo-Json and .PSObject see)."""
    if value is None:
        return []
    if isinstance(value, PSCustomObject):
        return value.items()
    if isinstance(value, NetObject):
        return list(value.ps_properties().items())
    if isinstance(value, NetException):
        return list(ExceptionView(value).ps_properties().items())
    if isinstance(value, ErrorRecord):
        return list(record_properties(value).items())
    if isinstance(value, Hashtable):
        return [
            ("IsReadOnly", False),
            ("IsFixedSize", False),
            ("IsSynchronized", False),
            ("Keys", list(value.keys())),
            ("Values", list(value.values())),
            ("SyncRoot", value),
            ("Count", len(value)),
        ]
    if isinstance(value, str):
        return [("Length", len(value))]
    if isinstance(value, dt.datetime):
        return list(_datetime_properties(value).items())
    if isinstance(value, dt.timedelta):
        return list(_timespan_properties(value).items())
    if isinstance(value, list):
        return [("Count", len(value)), ("Length", len(value))]
    return []


def _datetime_properties(value: dt.datetime) -> dict[str, Any]:
    kind = "Utc" if value.tzinfo is dt.UTC else "Local"
    epoch = dt.datetime(1, 1, 1, tzinfo=value.tzinfo)
    delta = value - epoch
    ticks = (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    return {
        "DateTime": value.strftime("%A, %B ") + f"{value.day}, {value.year} " + cv.format_datetime(value, "h:mm:ss tt"),
        "Date": value.replace(hour=0, minute=0, second=0, microsecond=0),
        "Day": value.day,
        "DayOfWeek": NetEnum("System.DayOfWeek", value.strftime("%A"), (value.weekday() + 1) % 7),
        "DayOfYear": value.timetuple().tm_yday,
        "Hour": value.hour,
        "Kind": NetEnum("System.DateTimeKind", kind, 1 if kind == "Utc" else 2),
        "Millisecond": value.microsecond // 1000,
        "Minute": value.minute,
        "Month": value.month,
        "Second": value.second,
        "Ticks": ticks,
        "TimeOfDay": dt.timedelta(
            hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
        ),
        "Year": value.year,
    }


def _timespan_properties(value: dt.timedelta) -> dict[str, Any]:
    total = value.total_seconds()
    sign = -1 if total < 0 else 1
    magnitude = abs(value)
    return {
        "Ticks": int(round(total * 10_000_000)),
        "Days": sign * magnitude.days,
        "Hours": sign * (magnitude.seconds // 3600),
        "Milliseconds": sign * (magnitude.microseconds // 1000),
        "Minutes": sign * ((magnitude.seconds % 3600) // 60),
        "Seconds": sign * (magnitude.seconds % 60),
        "TotalDays": total / 86400,
        "TotalHours": total / 3600,
        "TotalMilliseconds": total * 1000,
        "TotalMinutes": total / 60,
        "TotalSeconds": total,
    }


# ------------------------------------------------------------------------------------------------
# Properties


def _not_found(name: str, extent: Extent | None) -> ScriptError:
    error = runtime_error(
        f"The property '{name}' cannot be found on this object. Verify that the property exists.",
        "PropertyNotFoundStrict",
        "NotSpecified",
        exception_type="System.Management.Automation.PropertyNotFoundException",
        bases=(
            "System.Management.Automation.ExtendedTypeSystemException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
        ),
    )
    if extent is not None:
        error.record._position = extent  # type: ignore[attr-defined]
    return error


def _strict(session: Session) -> bool:
    return session.strict_level >= 2


def get_member(session: Session, obj: Any, name: str, static: bool, extent: Extent | None = None) -> Any:
    from .session import TypeRef

    lowered = name.lower()
    if static:
        if not isinstance(obj, TypeRef):
            raise runtime_error(
                f"Unable to find type [{cv.to_string(obj)}].", "TypeNotFound", "InvalidOperation", target=obj
            )
        from .dotnet import static_property

        found, value = static_property(session, obj, name)
        if found:
            return value
        if _strict(session):
            raise _not_found(name, extent)
        return None
    if lowered == "psobject" and obj is not None:
        return PSObjectView(session, obj)
    found, value = _lookup(session, obj, lowered)
    if found:
        return value
    if isinstance(obj, cv.Enumerable):
        obj = obj.ps_items()
    if isinstance(obj, list) and obj:
        # Member enumeration (about_Member-Access_Enumeration, PowerShell 3.0 and later).
        results = []
        any_found = False
        for item in obj:
            ok, item_value = _lookup(session, item, lowered)
            if ok:
                any_found = True
                if isinstance(item_value, list):
                    results.extend(item_value)
                else:
                    results.append(item_value)
        if any_found:
            return results[0] if len(results) == 1 else results
    if isinstance(obj, Hashtable):
        return None
    if _strict(session):
        raise _not_found(name, extent)
    return None


def _lookup(session: Session, obj: Any, lowered: str) -> tuple[bool, Any]:
    if obj is None:
        return False, None
    if isinstance(obj, (Hashtable, PSCustomObject, str, list, PropertyCollection, PSReference)):
        return _container_lookup(obj, lowered)
    for key, value in _properties_of(obj).items():
        if key.lower() == lowered:
            if isinstance(value, _BackRef):
                return True, None
            return True, value
    return False, None


def _container_lookup(
    obj: Hashtable | PSCustomObject | str | list[Any] | PropertyCollection | PSReference, lowered: str
) -> tuple[bool, Any]:
    """A property of the engine's own values: a key or Count/Keys/Values of a hashtable, a note property,
    a string's Length, an array's Count/Length/LongLength/Rank, a reference's Value."""
    if isinstance(obj, Hashtable):
        if lowered in obj:
            return True, obj[lowered]
        special = {"count": len(obj), "keys": list(obj.keys()), "values": list(obj.values())}
        if lowered in special:
            return True, special[lowered]
        return False, None
    if isinstance(obj, PSCustomObject):
        return obj.get(lowered)
    if isinstance(obj, str):
        if lowered == "length":
            return True, len(obj)
        return False, None
    if isinstance(obj, list):
        if lowered in ("count", "length", "longlength"):
            return True, len(obj)
        if lowered == "rank":
            return True, 1
        return False, None
    if isinstance(obj, PropertyCollection):
        return False, None
    if isinstance(obj, PSReference) and lowered == "value":
        return True, obj.value
    return False, None


def _properties_of(obj: Any) -> Mapping[str, Any]:
    """The properties of any other value, by name as .NET spells it."""
    if isinstance(obj, NetException):
        obj = ExceptionView(obj)
    if isinstance(obj, ErrorRecord):
        return record_properties(obj)
    if isinstance(obj, NetObject):
        return dict(obj.ps_properties())
    if isinstance(obj, dt.datetime):
        return _datetime_properties(obj)
    if isinstance(obj, dt.timedelta):
        return _timespan_properties(obj)
    if isinstance(obj, NetEnum):
        return {"value__": obj.value}
    if isinstance(obj, ScriptBlock):
        return {"Ast": None, "File": None, "IsFilter": False}
    if isinstance(obj, bytes | bytearray):
        return {"Count": len(obj), "Length": len(obj)}
    return {}


def set_member(session: Session, obj: Any, name: str, value: Any, static: bool) -> None:
    from .session import TypeRef

    if static and isinstance(obj, TypeRef):
        from .dotnet import set_static_property

        set_static_property(session, obj, name, value)
        return
    if obj is None:
        raise runtime_error(
            f"The property '{name}' cannot be found on this object. Verify that the property exists and can be set.",
            "PropertyAssignmentException",
            "InvalidOperation",
        )
    if isinstance(obj, Hashtable):
        obj[name] = value
        return
    if isinstance(obj, PSCustomObject):
        found, _ = obj.get(name)
        if not found:
            raise runtime_error(
                f"The property '{name}' cannot be found on this object. Verify that the property exists and can be set.",
                "PropertyAssignmentException",
                "InvalidOperation",
            )
        obj.set(name, value)
        return
    if isinstance(obj, PSReference) and name.lower() == "value":
        obj.value = value
        return
    if isinstance(obj, NetObject):
        if session.language_mode == "ConstrainedLanguage" and not _allowed(session, obj):
            raise runtime_error(
                "Cannot set property. Property setting is supported only on core types in this language mode.",
                "PropertySetterNotSupportedInConstrainedLanguage",
                "InvalidOperation",
            )
        for key in obj.ps_properties():
            if key.lower() == name.lower():
                obj.ps_set_property(key, value)
                return
    raise runtime_error(
        f"The property '{name}' cannot be found on this object. Verify that the property exists and can be set.",
        "PropertyAssignmentException",
        "InvalidOperation",
    )


# ------------------------------------------------------------------------------------------------
# Methods


def _method_missing(obj: Any, name: str) -> ScriptError:
    return runtime_error(
        f"Method invocation failed because [{cv.type_name_of(obj)}] does not contain a method named '{name}'.",
        "MethodNotFound",
        "InvalidOperation",
        target=obj,
    )


def wrap_method_exception(name: str, args: Sequence[Any], error: NetException) -> ScriptError:
    """A .NET exception from a method call, as PowerShell wraps it (MethodInvocationException)."""
    message = f'Exception calling "{name}" with "{len(args)}" argument(s): "{error.message}"'
    outer = NetException(
        "System.Management.Automation.MethodInvocationException",
        message,
        inner=error,
        base_names=(
            "System.Management.Automation.MethodException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
        ),
    )
    return ScriptError(ErrorRecord(outer, error.type_name.rpartition(".")[2], "NotSpecified", None))


def _allowed(session: Session, obj: Any) -> bool:
    name = cv.type_name_of(obj).lower()
    if name in CLM_ALLOWED:
        return True
    spec = session.types.get(name)
    return bool(spec and spec.allowed_in_constrained_language)


def call_method(
    session: Session, obj: Any, name: str, args: list[Any], static: bool, extent: Extent | None = None
) -> Any:
    from .session import TypeRef

    try:
        if static:
            from .dotnet import call_static

            if not isinstance(obj, TypeRef):
                raise _method_missing(obj, name)
            return call_static(session, obj, name, args)
        if obj is None:
            raise runtime_error(
                "You cannot call a method on a null-valued expression.", "InvokeMethodOnNull", "InvalidOperation"
            )
        if session.language_mode == "ConstrainedLanguage" and name.lower() != "tostring" and not _allowed(session, obj):
            raise runtime_error(
                "Cannot invoke method. Method invocation is supported only on core types in this language mode.",
                "MethodInvocationNotSupportedInConstrainedLanguage",
                "InvalidOperation",
            )
        return _instance_call(session, obj, name, args)
    except ScriptError as error:
        if extent is not None and getattr(error.record, "_position", None) is None:
            error.record._position = extent  # type: ignore[attr-defined]
        raise
    except NetException as error:
        wrapped = wrap_method_exception(name, args, error)
        if extent is not None:
            wrapped.record._position = extent  # type: ignore[attr-defined]
        raise wrapped from None
    except (IndexError, TypeError, ValueError, KeyError, AttributeError):
        # A modelled method called with arguments none of its overloads take.
        overload = runtime_error(
            f'Cannot find an overload for "{name}" and the argument count: "{len(args)}".',
            "MethodCountCouldNotFindBest",
            "NotSpecified",
            exception_type="System.Management.Automation.MethodException",
        )
        if extent is not None:
            overload.record._position = extent  # type: ignore[attr-defined]
        raise overload from None


def _instance_call(session: Session, obj: Any, name: str, args: list[Any]) -> Any:
    lowered = name.lower()
    if lowered == "gettype" and not args:
        from .session import TypeRef

        full = cv.type_name_of(obj)
        return TypeRef(full, session.types.get(full.lower()))
    if lowered == "tostring":
        return _to_string_method(session, obj, args)
    if lowered == "equals" and len(args) == 1:
        return cv.equals(obj, args[0], True) if not isinstance(obj, NetObject) else obj is args[0]
    if lowered == "gethashcode" and not args:
        return hash(obj) & 0x7FFFFFFF if isinstance(obj, str | int) else id(obj) & 0x7FFFFFFF
    handler = _HANDLERS.get(type(obj))
    if handler is None:
        for kind, candidate in _HANDLERS.items():
            if isinstance(obj, kind):
                handler = candidate
                break
    if handler is not None:
        result = handler(session, obj, lowered, args)
        if result is not _NO_METHOD:
            return result
    if isinstance(obj, NetException):
        raise _method_missing(obj, name)
    if isinstance(obj, NetObject):
        methods = {m.lower(): m for m in obj.ps_methods()}
        if lowered in methods:
            return obj.ps_call(methods[lowered], args)
    raise _method_missing(obj, name)


_NO_METHOD = object()


def _to_string_method(session: Session, obj: Any, args: list[Any]) -> str:
    if isinstance(obj, dt.datetime):
        # DateTime.ToString() formats with the current culture (en-US), unlike [string], which is invariant.
        return cv.format_datetime(obj, cv.to_string(args[0]) if args else "M/d/yyyy h:mm:ss tt")
    if args and isinstance(obj, int | float | Decimal) and not isinstance(obj, bool):
        return cv.format_operator("{0:" + cv.to_string(args[0]) + "}", [obj])
    if isinstance(obj, NetException):
        return f"{obj.type_name}: {obj.message}"
    if isinstance(obj, ErrorRecord):
        return obj.exception.message
    return session.to_string(obj)


def _arg_string(session: Session, args: list[Any], index: int) -> str:
    return session.to_string(args[index])


def _string_methods(session: Session, s: str, name: str, args: list[Any]) -> Any:
    for family in (_string_shaping, _string_searching, _string_editing):
        result = family(session, s, name, args)
        if result is not _NO_METHOD:
            return result
    return _NO_METHOD


def _string_shaping(session: Session, s: str, name: str, args: list[Any]) -> Any:
    """String's Trim*, To*Case and Pad* methods."""
    n = len(args)

    def chars(index: int) -> str:
        value = args[index]
        if isinstance(value, list):
            return "".join(session.to_string(v) for v in value)
        return session.to_string(value)

    if name == "trim":
        return s.strip(chars(0)) if n else s.strip()
    if name == "trimstart":
        return s.lstrip(chars(0)) if n else s.lstrip()
    if name == "trimend":
        return s.rstrip(chars(0)) if n else s.rstrip()
    if name in ("tolower", "tolowerinvariant"):
        return s.lower()
    if name in ("toupper", "toupperinvariant"):
        return s.upper()
    if name == "padleft":
        return s.rjust(int(cv.to_number(args[0])), chars(1)[:1] if n > 1 else " ")
    if name == "padright":
        return s.ljust(int(cv.to_number(args[0])), chars(1)[:1] if n > 1 else " ")
    return _NO_METHOD


def _string_searching(session: Session, s: str, name: str, args: list[Any]) -> Any:
    """String's comparisons and searches."""
    n = len(args)
    if name == "startswith":
        needle = _arg_string(session, args, 0)
        ignore = n > 1 and _ignore_case(session, args[1])
        return s.lower().startswith(needle.lower()) if ignore else s.startswith(needle)
    if name == "endswith":
        needle = _arg_string(session, args, 0)
        ignore = n > 1 and _ignore_case(session, args[1])
        return s.lower().endswith(needle.lower()) if ignore else s.endswith(needle)
    if name == "contains":
        return _arg_string(session, args, 0) in s
    if name == "indexof":
        needle = _arg_string(session, args, 0)
        start = int(cv.to_number(args[1])) if n > 1 and not isinstance(args[1], NetEnum) else 0
        ignore = any(isinstance(a, NetEnum) and _ignore_case(session, a) for a in args[1:])
        return s.lower().find(needle.lower(), start) if ignore else s.find(needle, start)
    if name == "lastindexof":
        return s.rfind(_arg_string(session, args, 0))
    if name == "compareto":
        other = _arg_string(session, args, 0)
        return (s > other) - (s < other)
    return _NO_METHOD


def _string_editing(session: Session, s: str, name: str, args: list[Any]) -> Any:
    """String's methods that return a part or an edited copy of the string, or its characters."""
    n = len(args)
    if name == "substring":
        start = int(cv.to_number(args[0]))
        if start > len(s) or start < 0:
            raise NetException(
                "System.ArgumentOutOfRangeException",
                "startIndex cannot be larger than length of string.\r\nParameter name: startIndex",
            )
        if n > 1:
            length = int(cv.to_number(args[1]))
            if start + length > len(s) or length < 0:
                raise NetException(
                    "System.ArgumentOutOfRangeException",
                    "Index and length must refer to a location within the string.\r\nParameter name: length",
                )
            return s[start : start + length]
        return s[start:]
    if name == "replace":
        old = _arg_string(session, args, 0)
        if old == "":
            raise NetException(
                "System.ArgumentException", "String cannot be of zero length.\r\nParameter name: oldValue"
            )
        return s.replace(old, _arg_string(session, args, 1) if n > 1 else "")
    if name == "split":
        return _split_method(session, s, args)
    if name == "insert":
        index = int(cv.to_number(args[0]))
        return s[:index] + _arg_string(session, args, 1) + s[index:]
    if name == "remove":
        index = int(cv.to_number(args[0]))
        if n > 1:
            return s[:index] + s[index + int(cv.to_number(args[1])) :]
        return s[:index]
    if name == "tochararray":
        return list(s)
    if name == "normalize":
        return s
    if name == "getenumerator":
        return list(s)
    return _NO_METHOD


def _split_method(session: Session, s: str, args: list[Any]) -> list[str]:
    """String.Split: Split(char[]), Split(char[], int), Split(string[], StringSplitOptions), Split(string[], int,
    options). .NET Framework has no Split(string): PowerShell 5.1 passes a string as char[], so each of its
    characters separates ("a--b".Split("--") gives a, "", b)."""
    if not args:
        return s.split()
    first = args[0]
    separators = [session.to_string(x) for x in first] if isinstance(first, list) else list(session.to_string(first))
    count = next((int(cv.to_number(a)) for a in args[1:] if not isinstance(a, NetEnum)), None)
    remove_empty = any(isinstance(a, NetEnum) and a.name == "RemoveEmptyEntries" for a in args[1:])
    if not separators or all(sep == "" for sep in separators):
        return s.split() if count is None else s.split(None, max(count - 1, 0))
    pattern = "|".join(re.escape(sep) for sep in sorted(separators, key=len, reverse=True) if sep)
    if count is not None and count <= 1:
        return [s] if count == 1 and (s or not remove_empty) else []
    kept: list[str] = []
    position = 0
    for match in re.finditer(pattern, s):
        if count is not None and len(kept) == count - 1:
            break  # the last part keeps the rest of the string, separators included
        piece = s[position : match.start()]
        if piece or not remove_empty:
            kept.append(piece)
        position = match.end()
    rest = s[position:]
    if rest or not remove_empty:
        kept.append(rest)
    return kept


def _ignore_case(session: Session, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = session.to_string(value)
    return "ignorecase" in text.lower()


def _list_methods(session: Session, items: list[Any], name: str, args: list[Any]) -> Any:
    fixed = not isinstance(items, ArrayList)
    if name == "contains":
        return any(cv.equals(item, args[0], True) for item in items)
    if name == "indexof":
        return next((i for i, item in enumerate(items) if cv.equals(item, args[0], True)), -1)
    if name == "clone":
        return list(items) if fixed else ArrayList(items, items.type_name)  # type: ignore[attr-defined]
    if name == "getenumerator":
        return list(items)
    if name in ("add", "remove", "insert", "removeat", "clear", "addrange"):
        if fixed:
            raise NetException("System.NotSupportedException", "Collection was of a fixed size.")
        if name == "add":
            items.append(args[0])
            return len(items) - 1 if items.type_name == "System.Collections.ArrayList" else None  # type: ignore[attr-defined]
        if name == "addrange":
            items.extend(cv.as_list(args[0]))
            return None
        if name == "remove":
            for index, item in enumerate(items):
                if cv.equals(item, args[0], True):
                    del items[index]
                    break
            return None
        if name == "insert":
            items.insert(int(cv.to_number(args[0])), args[1])
            return None
        if name == "removeat":
            del items[int(cv.to_number(args[0]))]
            return None
        items.clear()
        return None
    if name == "toarray":
        return list(items)
    return _NO_METHOD


def _hashtable_methods(session: Session, table: Hashtable, name: str, args: list[Any]) -> Any:
    if name in ("containskey", "contains"):
        return args[0] in table
    if name == "containsvalue":
        return any(cv.equals(v, args[0]) for v in table.values())
    if name == "add":
        if args[0] in table:
            raise NetException(
                "System.ArgumentException",
                f"Item has already been added. Key in dictionary: '{session.to_string(args[0])}'  Key being added: "
                f"'{session.to_string(args[0])}'",
            )
        table[args[0]] = args[1]
        return None
    if name == "remove":
        table.pop(args[0], None)
        return None
    if name == "clear":
        table.clear()
        return None
    if name == "clone":
        return type(table)(table)
    if name == "getenumerator":
        return [DictionaryEntry(k, v) for k, v in table.items()]
    return _NO_METHOD


class DictionaryEntry(NetObject):
    """An entry of ``$hash.GetEnumerator()``."""

    TYPE_NAMES = ("System.Collections.DictionaryEntry", "System.ValueType", "System.Object")

    def __init__(self, key: Any, value: Any) -> None:
        self.key = key
        self.value = value

    def ps_properties(self) -> Mapping[str, Any]:
        return {"Name": self.key, "Key": self.key, "Value": self.value}


def _datetime_methods(session: Session, value: dt.datetime, name: str, args: list[Any]) -> Any:
    adders = {
        "adddays": "days",
        "addhours": "hours",
        "addminutes": "minutes",
        "addseconds": "seconds",
        "addmilliseconds": "milliseconds",
    }
    if name in adders:
        return value + dt.timedelta(**{adders[name]: float(cv.to_number(args[0]))})
    if name == "addmonths":
        months = value.month - 1 + int(cv.to_number(args[0]))
        year, month = value.year + months // 12, months % 12 + 1
        return value.replace(year=year, month=month)
    if name == "addyears":
        return value.replace(year=value.year + int(cv.to_number(args[0])))
    if name == "addticks":
        return value + dt.timedelta(microseconds=int(cv.to_number(args[0])) / 10)
    if name == "touniversaltime":
        return value.astimezone(dt.UTC)
    if name == "tolocaltime":
        return value if value.tzinfo is not dt.UTC else value.astimezone(session.host.now().tzinfo)
    if name == "subtract":
        return value - args[0]
    if name == "compareto":
        return (value > args[0]) - (value < args[0])
    if name == "tofiletime" or name == "tofiletimeutc":
        epoch = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)
        delta = value - epoch
        return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    if name == "toshortdatestring":
        return f"{value.month}/{value.day}/{value.year}"
    if name == "tolongdatestring":
        return value.strftime("%A, %B ") + f"{value.day}, {value.year}"
    if name == "toshorttimestring":
        return cv.format_datetime(value, "h:mm tt")
    if name == "tolongtimestring":
        return cv.format_datetime(value, "h:mm:ss tt")
    return _NO_METHOD


def _timespan_methods(session: Session, value: dt.timedelta, name: str, args: list[Any]) -> Any:
    if name == "add":
        return value + args[0]
    if name == "subtract":
        return value - args[0]
    if name == "compareto":
        return (value > args[0]) - (value < args[0])
    if name == "negate":
        return -value
    return _NO_METHOD


def _scriptblock_methods(session: Session, block: ScriptBlock, name: str, args: list[Any]) -> Any:
    if name in ("invoke", "invokereturnasis"):
        from .engine import _collapse

        result = session.invoke_block(block, args)
        return result if name == "invoke" else _collapse(result)
    if name == "getnewclosure":
        return block
    return _NO_METHOD


def _enum_methods(session: Session, value: NetEnum, name: str, args: list[Any]) -> Any:
    if name == "hasflag":
        other = args[0]
        bits = other.value if isinstance(other, NetEnum) else int(cv.to_number(other))
        return value.value & bits == bits
    if name == "compareto":
        other = args[0]
        bits = other.value if isinstance(other, NetEnum) else int(cv.to_number(other))
        return (value.value > bits) - (value.value < bits)
    return _NO_METHOD


def _number_methods(session: Session, value: Any, name: str, args: list[Any]) -> Any:
    if name == "compareto":
        other = cv.to_number(args[0])
        return (value > other) - (value < other)
    return _NO_METHOD


_HANDLERS: dict[type, Callable[[Session, Any, str, list[Any]], Any]] = {
    str: _string_methods,
    list: _list_methods,
    ArrayList: _list_methods,
    Hashtable: _hashtable_methods,
    dt.datetime: _datetime_methods,
    dt.timedelta: _timespan_methods,
    ScriptBlock: _scriptblock_methods,
    NetEnum: _enum_methods,
    int: _number_methods,
    float: _number_methods,
    Decimal: _number_methods,
}


# ------------------------------------------------------------------------------------------------
# Indexing


def get_index(session: Session, obj: Any, index: Any) -> Any:
    if obj is None:
        raise runtime_error("Cannot index into a null array.", "NullArray", "InvalidOperation")
    if isinstance(obj, Hashtable):
        if isinstance(index, list):
            return [obj.get(k) for k in index]
        return obj.get(index)
    if isinstance(obj, PropertyCollection):
        return obj.lookup(session.to_string(index))
    if isinstance(obj, list | tuple | str | bytes | bytearray):
        if isinstance(index, list):
            return [_item(session, obj, i) for i in index]
        return _item(session, obj, index)
    if isinstance(obj, NetObject):
        methods = {m.lower(): m for m in obj.ps_methods()}
        if "get_item" in methods:
            return obj.ps_call(methods["get_item"], [index])
        if isinstance(index, int) and index == 0:
            return obj
    if isinstance(index, int) and index in (0, -1) and not isinstance(obj, PSCustomObject):
        return obj  # a scalar indexes as a one-element array (about_Arrays)
    raise runtime_error(
        f"Unable to index into an object of type {cv.type_name_of(obj)}.", "CannotIndex", "InvalidOperation"
    )


def _item(session: Session, obj: Any, index: Any) -> Any:
    try:
        position = int(cv.to_number(index))
    except TerminatingError:
        return None
    if -len(obj) <= position < len(obj):
        return obj[position]
    if session.strict_level >= 3:
        raise runtime_error(
            "Index was outside the bounds of the array.",
            "System.IndexOutOfRangeException",
            "OperationStopped",
            exception_type="System.IndexOutOfRangeException",
            bases=("System.SystemException", "System.Exception"),
        )
    return None


def set_index(session: Session, obj: Any, index: Any, value: Any) -> None:
    if obj is None:
        raise runtime_error("Cannot index into a null array.", "NullArray", "InvalidOperation")
    if isinstance(obj, Hashtable):
        obj[index] = value
        return
    if isinstance(obj, list):
        position = int(cv.to_number(index))
        if not -len(obj) <= position < len(obj):
            raise runtime_error(
                "Index was outside the bounds of the array.",
                "System.IndexOutOfRangeException",
                "OperationStopped",
                exception_type="System.IndexOutOfRangeException",
            )
        obj[position] = value
        return
    raise runtime_error(
        f"Unable to index into an object of type {cv.type_name_of(obj)}.", "CannotIndex", "InvalidOperation"
    )
