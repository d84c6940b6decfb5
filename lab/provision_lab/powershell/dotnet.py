"""The .NET types the language needs without a machine, and PowerShell's conversions to types.

Members follow the .NET Framework 4.x API reference on Microsoft Learn (System.String, System.Math,
System.Convert, System.Text.Encoding, System.Text.RegularExpressions.Regex, System.Console, System.DateTime,
System.TimeSpan, System.IO.StreamReader); conversions follow about_Type_Conversion (and about_Booleans,
about_Type_Accelerators for the short names). ``$PSVersionTable`` is a Windows Server 2022 / Windows 11
Windows PowerShell 5.1's (about_Automatic_Variables: PSVersionTable; build 5.1.20348.2849 on Server 2022).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from . import convert as cv
from .api import ErrorRecord, Host, NetEnum, NetException, NetObject, TypeSpec
from .errors import ScriptError, runtime_error
from .values import ArrayList, Hashtable, Long, OrderedDictionary, PSCustomObject, PSReference, ScriptBlock

if TYPE_CHECKING:
    from .session import Session, TypeRef

__all__ = [
    "call_static",
    "clm_allowed",
    "convert_to",
    "engine_types",
    "execution_context",
    "is_instance",
    "resolve_type",
    "set_static_property",
    "static_property",
    "version_table",
]


# ------------------------------------------------------------------------------------------------
# Objects the engine creates


class Encoding(NetObject):
    """``System.Text.Encoding`` (UTF8Encoding, UnicodeEncoding, ASCIIEncoding...)."""

    def __init__(self, codec: str, web_name: str, type_name: str, bom: bool = False) -> None:
        self.codec = codec
        self.web_name = web_name
        self.bom = bom
        self.TYPE_NAMES = (type_name, "System.Text.Encoding", "System.Object")

    def ps_properties(self) -> Mapping[str, Any]:
        return {
            "WebName": self.web_name,
            "EncodingName": self.web_name,
            "CodePage": _CODEPAGES.get(self.codec, 0),
            "BodyName": self.web_name,
            "HeaderName": self.web_name,
            "IsSingleByte": self.codec == "ascii",
        }

    def ps_methods(self) -> Sequence[str]:
        return ("GetBytes", "GetString", "GetPreamble", "GetByteCount")

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        if name == "GetBytes":
            text = args[0] if isinstance(args[0], str) else "".join(args[0])
            return bytearray(text.encode(self.codec, errors="replace"))
        if name == "GetString":
            data = bytes(int(b) for b in args[0]) if not isinstance(args[0], bytes | bytearray) else bytes(args[0])
            if len(args) == 3:
                start, count = int(args[1]), int(args[2])
                data = data[start : start + count]
            return data.decode(self.codec, errors="replace")
        if name == "GetPreamble":
            return bytearray(b"\xef\xbb\xbf" if self.bom and self.codec == "utf-8" else b"")
        if name == "GetByteCount":
            return len(cv.to_string(args[0]).encode(self.codec))
        raise NetException("System.MissingMethodException", name)


_CODEPAGES = {"utf-8": 65001, "utf-16-le": 1200, "utf-16-be": 1201, "ascii": 20127, "cp437": 437, "utf-32-le": 12000}


class InputStream(NetObject):
    """``[Console]::OpenStandardInput()``: the process's stdin as bytes."""

    TYPE_NAMES = ("System.IO.Stream", "System.MarshalByRefObject", "System.Object")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0


class StreamReader(NetObject):
    """``System.IO.StreamReader`` over a stream (the bootstrap's stdin reader)."""

    TYPE_NAMES = ("System.IO.StreamReader", "System.IO.TextReader", "System.MarshalByRefObject", "System.Object")

    def __init__(self, stream: InputStream, encoding: Encoding | None) -> None:
        self.stream = stream
        codec = encoding.codec if encoding is not None else "utf-8"
        raw = stream.data[stream.position :]
        stream.position = len(stream.data)
        if raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        self.text = raw.decode(codec, errors="replace")
        self.offset = 0

    def ps_properties(self) -> Mapping[str, Any]:
        return {"EndOfStream": self.offset >= len(self.text)}

    def ps_methods(self) -> Sequence[str]:
        return ("ReadToEnd", "ReadLine", "Close", "Dispose", "Peek", "Read")

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        if name == "ReadToEnd":
            text, self.offset = self.text[self.offset :], len(self.text)
            return text
        if name == "ReadLine":
            if self.offset >= len(self.text):
                return None
            match = re.compile(r"\r\n|\r|\n").search(self.text, self.offset)
            end = match.start() if match else len(self.text)
            line = self.text[self.offset : end]
            self.offset = match.end() if match else len(self.text)
            return line
        if name == "Peek":
            return ord(self.text[self.offset]) if self.offset < len(self.text) else -1
        if name == "Read":
            if self.offset >= len(self.text):
                return -1
            self.offset += 1
            return ord(self.text[self.offset - 1])
        return None


class TextWriter(NetObject):
    """``[Console]::Out`` / ``[Console]::Error``: writes straight to the process's stdout or stderr."""

    TYPE_NAMES = ("System.IO.TextWriter", "System.MarshalByRefObject", "System.Object")

    def __init__(self, session: Session, stream: str) -> None:
        self.session = session
        self.stream = stream

    def ps_properties(self) -> Mapping[str, Any]:
        return {"NewLine": "\r\n", "Encoding": _encoding_named(self.session.output_encoding)}

    def ps_methods(self) -> Sequence[str]:
        return ("WriteLine", "Write", "Flush")

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        if name == "Flush":
            return None
        text = _console_text(self.session, args)
        if name == "WriteLine":
            text += "\n"
        if self.stream == "out":
            self.session.write_stdout(text)
        else:
            self.session.write_stream("raw", text)
        return None


def _console_text(session: Session, args: Sequence[Any]) -> str:
    if not args:
        return ""
    if len(args) > 1 and isinstance(args[0], str):
        return cv.format_operator(args[0], list(args[1:]))
    return session.to_string(args[0])


class StringBuilder(NetObject):
    TYPE_NAMES = ("System.Text.StringBuilder", "System.Object")

    def __init__(self, initial: str = "") -> None:
        self.parts = [initial]

    def ps_properties(self) -> Mapping[str, Any]:
        return {"Length": len("".join(self.parts))}

    def ps_methods(self) -> Sequence[str]:
        return ("Append", "AppendLine", "ToString", "Clear", "AppendFormat")

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        if name == "Append":
            self.parts.append(cv.to_string(args[0]) if args else "")
        elif name == "AppendLine":
            self.parts.append((cv.to_string(args[0]) if args else "") + "\r\n")
        elif name == "AppendFormat":
            self.parts.append(cv.format_operator(cv.to_string(args[0]), list(args[1:])))
        elif name == "Clear":
            self.parts = []
        return self

    def ps_to_string(self) -> str:
        return "".join(self.parts)


class Regex(NetObject):
    """``[regex]``: a compiled .NET regular expression."""

    TYPE_NAMES = ("System.Text.RegularExpressions.Regex", "System.Object")

    def __init__(self, pattern: str, ignore_case: bool = False) -> None:
        self.pattern = pattern
        self.compiled = cv.convert_regex(pattern, case_sensitive=not ignore_case)

    def ps_properties(self) -> Mapping[str, Any]:
        return {"Options": NetEnum("System.Text.RegularExpressions.RegexOptions", "None", 0)}

    def ps_methods(self) -> Sequence[str]:
        return ("Match", "Matches", "IsMatch", "Replace", "Split")

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        text = cv.to_string(args[0])
        if name == "IsMatch":
            return self.compiled.search(text) is not None
        if name == "Match":
            return Match(self.compiled.search(text))
        if name == "Matches":
            return [Match(m) for m in self.compiled.finditer(text)]
        if name == "Split":
            return self.compiled.split(text)
        if name == "Replace":
            replacement = cv.to_string(args[1])
            return self.compiled.sub(lambda m: _dotnet_substitute(m, replacement), text)
        return None

    def ps_to_string(self) -> str:
        return self.pattern


def _dotnet_substitute(match: re.Match[str], replacement: str) -> str:
    def group(sub: re.Match[str]) -> str:
        token = sub.group(1)
        if token == "$":
            return "$"
        if token == "&":
            return match.group(0)
        key: int | str = int(token) if token.isdigit() else token.strip("{}")
        if isinstance(key, str) and key.isdigit():
            key = int(key)
        try:
            return match.group(key) or ""
        except (IndexError, re.error):
            return sub.group(0)

    return re.sub(r"\$(\d+|\{[^}]*\}|\$|&)", group, replacement)


class Match(NetObject):
    TYPE_NAMES = (
        "System.Text.RegularExpressions.Match",
        "System.Text.RegularExpressions.Group",
        "System.Text.RegularExpressions.Capture",
        "System.Object",
    )

    def __init__(self, match: re.Match[str] | None) -> None:
        self.match = match

    def ps_properties(self) -> Mapping[str, Any]:
        m = self.match
        if m is None:
            return {"Success": False, "Value": "", "Index": 0, "Length": 0, "Groups": []}
        groups = [Group(m, i) for i in range(m.re.groups + 1)]
        return {
            "Success": True,
            "Value": m.group(0),
            "Index": m.start(),
            "Length": m.end() - m.start(),
            "Groups": GroupCollection(groups, m),
        }

    def ps_to_string(self) -> str:
        return self.match.group(0) if self.match else ""


class Group(NetObject):
    TYPE_NAMES = ("System.Text.RegularExpressions.Group", "System.Text.RegularExpressions.Capture", "System.Object")

    def __init__(self, match: re.Match[str], index: int | str) -> None:
        self.match = match
        self.index = index

    def ps_properties(self) -> Mapping[str, Any]:
        value = self.match.group(self.index)
        return {"Success": value is not None, "Value": value or "", "Name": str(self.index)}

    def ps_to_string(self) -> str:
        return self.match.group(self.index) or ""


class GroupCollection(NetObject):
    TYPE_NAMES = ("System.Text.RegularExpressions.GroupCollection", "System.Object")

    def __init__(self, groups: list[Group], match: re.Match[str]) -> None:
        self.groups = groups
        self.match = match

    def ps_properties(self) -> Mapping[str, Any]:
        return {"Count": len(self.groups)}

    def ps_methods(self) -> Sequence[str]:
        return ("get_Item",)

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        key = args[0]
        if isinstance(key, int):
            return self.groups[key] if 0 <= key < len(self.groups) else None
        return Group(self.match, cv.to_string(key)) if cv.to_string(key) in self.match.re.groupindex else None


class ExecutionContextObject(NetObject):
    """``$ExecutionContext`` (EngineIntrinsics): SessionState.LanguageMode and InvokeCommand."""

    TYPE_NAMES = ("System.Management.Automation.EngineIntrinsics", "System.Object")

    def __init__(self, session: Session) -> None:
        self.session = session

    def ps_properties(self) -> Mapping[str, Any]:
        return {"SessionState": SessionStateObject(self.session), "Host": None}


class SessionStateObject(NetObject):
    TYPE_NAMES = ("System.Management.Automation.SessionState", "System.Object")

    def __init__(self, session: Session) -> None:
        self.session = session

    def ps_properties(self) -> Mapping[str, Any]:
        mode = self.session.language_mode
        value = {"FullLanguage": 0, "RestrictedLanguage": 1, "NoLanguage": 2, "ConstrainedLanguage": 3}.get(mode, 0)
        return {"LanguageMode": NetEnum("System.Management.Automation.PSLanguageMode", mode, value)}


class VersionObject(NetObject):
    """``System.Version``."""

    TYPE_NAMES = ("System.Version", "System.Object")

    def __init__(self, parts: Sequence[int]) -> None:
        self.parts = tuple(parts)

    def ps_properties(self) -> Mapping[str, Any]:
        names = ("Major", "Minor", "Build", "Revision")
        values = [*self.parts, -1, -1, -1, -1]
        return {name: values[i] for i, name in enumerate(names)} | {
            "MajorRevision": -1 if len(self.parts) < 4 else self.parts[3] >> 16,
            "MinorRevision": -1 if len(self.parts) < 4 else self.parts[3] & 0xFFFF,
        }

    def ps_to_string(self) -> str:
        return ".".join(str(p) for p in self.parts)

    def ps_methods(self) -> Sequence[str]:
        return ("CompareTo",)

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        other = args[0]
        if not isinstance(other, VersionObject):
            other = _parse_version(cv.to_string(other))
        return (self.parts > other.parts) - (self.parts < other.parts)


def _parse_version(text: str) -> VersionObject:
    try:
        parts = [int(p) for p in text.strip().split(".")]
        if not 2 <= len(parts) <= 4:
            raise ValueError(text)
    except ValueError:
        raise cv.invalid_cast(text, "System.Version", "Version string portion was too short or too long.") from None
    return VersionObject(parts)


def version_table(host: Host) -> Hashtable:
    """``$PSVersionTable`` of Windows PowerShell 5.1 (about_Automatic_Variables). A machine that knows its
    System.Management.Automation.dll version says so as ``host.powershell_version`` (not part of api.Host);
    otherwise Windows Server 2022's is used."""
    text = getattr(host, "powershell_version", None)
    parts = tuple(int(p) for p in text.split(".")) if isinstance(text, str) else (5, 1, 20348, 2849)
    table = Hashtable()
    table["PSVersion"] = VersionObject(parts)
    table["PSEdition"] = "Desktop"
    table["PSCompatibleVersions"] = [VersionObject(v) for v in ((1, 0), (2, 0), (3, 0), (4, 0), (5, 0), parts)]
    table["BuildVersion"] = VersionObject((10, 0, *parts[2:]))
    table["CLRVersion"] = VersionObject((4, 0, 30319, 42000))
    table["WSManStackVersion"] = VersionObject((3, 0))
    table["PSRemotingProtocolVersion"] = VersionObject((2, 3))
    table["SerializationVersion"] = VersionObject((1, 1, 0, 1))
    return table


def execution_context(session: Session) -> ExecutionContextObject:
    return ExecutionContextObject(session)


# ------------------------------------------------------------------------------------------------
# Conversions


_CORE: dict[str, str] = {
    "string": "System.String",
    "str": "System.String",
    "int": "System.Int32",
    "int32": "System.Int32",
    "long": "System.Int64",
    "int64": "System.Int64",
    "int16": "System.Int16",
    "short": "System.Int16",
    "uint32": "System.UInt32",
    "uint": "System.UInt32",
    "uint64": "System.UInt64",
    "ulong": "System.UInt64",
    "uint16": "System.UInt16",
    "byte": "System.Byte",
    "sbyte": "System.SByte",
    "double": "System.Double",
    "float": "System.Single",
    "single": "System.Single",
    "decimal": "System.Decimal",
    "bool": "System.Boolean",
    "boolean": "System.Boolean",
    "char": "System.Char",
    "object": "System.Object",
    "psobject": "System.Management.Automation.PSObject",
    "pscustomobject": "System.Management.Automation.PSCustomObject",
    "hashtable": "System.Collections.Hashtable",
    "collections.hashtable": "System.Collections.Hashtable",
    "ordered": "System.Collections.Specialized.OrderedDictionary",
    "collections.specialized.ordereddictionary": "System.Collections.Specialized.OrderedDictionary",
    "datetime": "System.DateTime",
    "timespan": "System.TimeSpan",
    "regex": "System.Text.RegularExpressions.Regex",
    "text.regularexpressions.regex": "System.Text.RegularExpressions.Regex",
    "scriptblock": "System.Management.Automation.ScriptBlock",
    "management.automation.scriptblock": "System.Management.Automation.ScriptBlock",
    "switch": "System.Management.Automation.SwitchParameter",
    "management.automation.switchparameter": "System.Management.Automation.SwitchParameter",
    "void": "System.Void",
    "array": "System.Array",
    "ref": "System.Management.Automation.PSReference",
    "version": "System.Version",
    "type": "System.Type",
    "errorrecord": "System.Management.Automation.ErrorRecord",
    "management.automation.errorrecord": "System.Management.Automation.ErrorRecord",
    "exception": "System.Exception",
    "collections.arraylist": "System.Collections.ArrayList",
    "collections.idictionary": "System.Collections.IDictionary",
    "collections.ienumerable": "System.Collections.IEnumerable",
    "valuetype": "System.ValueType",
    "enum": "System.Enum",
    "management.automation.pscustomobject": "System.Management.Automation.PSCustomObject",
    "management.automation.psobject": "System.Management.Automation.PSObject",
}
"""Type accelerators and System types the interpreter converts itself (about_Type_Accelerators)."""

_INT_RANGES = {
    "System.Int32": (-(2**31), 2**31 - 1, "Int32"),
    "System.Int64": (-(2**63), 2**63 - 1, "Int64"),
    "System.Int16": (-(2**15), 2**15 - 1, "Int16"),
    "System.UInt32": (0, 2**32 - 1, "UInt32"),
    "System.UInt64": (0, 2**64 - 1, "UInt64"),
    "System.UInt16": (0, 2**16 - 1, "UInt16"),
    "System.Byte": (0, 255, "Byte"),
    "System.SByte": (-128, 127, "SByte"),
}


def _canonical(name: str) -> str | None:
    lowered = name.lower()
    if lowered.startswith("system."):
        lowered = lowered[len("system.") :]
    return _CORE.get(lowered)


def convert_to(session: Session, value: Any, type_name: str) -> Any:
    """``[T]$value`` (about_Type_Conversion)."""
    name = type_name.strip()
    if name.endswith("[]"):
        element = name[:-2]
        if value is None:
            return None
        if isinstance(value, bytes | bytearray) and element.lower() in ("byte", "system.byte"):
            return value
        items = value if isinstance(value, list) else [value]
        if isinstance(value, str) and element.lower() in ("char", "system.char"):
            return list(value)
        converted = [convert_to(session, item, element) for item in items]
        if element.lower() in ("byte", "system.byte"):
            return bytearray(converted)
        return converted
    generic = re.match(r"^(?:System\.)?Collections\.Generic\.List\[(.+)\]$", name, re.IGNORECASE)
    if generic:
        return ArrayList(
            [convert_to(session, v, generic.group(1)) for v in cv.as_list(value)],
            f"System.Collections.Generic.List`1[[{generic.group(1)}]]",
        )
    canonical = _canonical(name)
    if canonical is None:
        ref = resolve_type(session, name)
        return _convert_spec(session, value, ref)
    return _convert_core(session, value, canonical)


def _convert_core(session: Session, value: Any, canonical: str) -> Any:
    if canonical in _INT_RANGES:
        number = _to_int(value, canonical)
        return Long(number) if canonical == "System.Int64" else number
    convert = _CORE_CONVERSIONS.get(canonical)
    if convert is not None:
        return convert(session, value, canonical)
    if is_instance(session, value, canonical):
        return value
    raise cv.invalid_cast(value, canonical)


def _to_floating(session: Session, value: Any, canonical: str) -> float:
    if value is None:
        return 0.0
    if isinstance(value, str) and value.strip() == "":
        return 0.0
    try:
        return float(cv.to_number(value))
    except ScriptError:
        raise cv.invalid_cast(value, canonical) from None


def _to_decimal(session: Session, value: Any, canonical: str) -> Decimal:
    try:
        return Decimal(str(cv.to_number(value)))
    except ScriptError:
        raise cv.invalid_cast(value, canonical) from None


def _to_char(session: Session, value: Any, canonical: str) -> str:
    if isinstance(value, str) and len(value) == 1:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return chr(value)
    raise cv.invalid_cast(value, canonical, "String must be exactly one character long.")


def _to_custom_object(session: Session, value: Any, canonical: str) -> Any:
    if isinstance(value, Hashtable):
        return PSCustomObject({session.to_string(k): v for k, v in value.items()})
    return value


def _to_hashtable(session: Session, value: Any, canonical: str) -> Hashtable:
    if isinstance(value, Hashtable):
        return value if type(value) is Hashtable else Hashtable(value)
    raise cv.invalid_cast(value, canonical)


def _to_ordered(session: Session, value: Any, canonical: str) -> OrderedDictionary:
    if isinstance(value, Hashtable):
        return OrderedDictionary(value)
    raise cv.invalid_cast(value, canonical)


def _to_script_block(session: Session, value: Any, canonical: str) -> ScriptBlock:
    if isinstance(value, ScriptBlock):
        return value
    raise cv.invalid_cast(value, canonical)


_CORE_CONVERSIONS: dict[str, Callable[[Session, Any, str], Any]] = {
    "System.String": lambda session, value, _: session.to_string(value),
    "System.Double": _to_floating,
    "System.Single": _to_floating,
    "System.Decimal": _to_decimal,
    "System.Boolean": lambda session, value, _: cv.is_true(value),
    "System.Management.Automation.SwitchParameter": lambda session, value, _: cv.is_true(value),
    "System.Char": _to_char,
    "System.Object": lambda session, value, _: value,
    "System.Management.Automation.PSObject": lambda session, value, _: value,
    "System.Management.Automation.PSCustomObject": _to_custom_object,
    "System.Collections.Hashtable": _to_hashtable,
    "System.Collections.Specialized.OrderedDictionary": _to_ordered,
    "System.DateTime": lambda session, value, _: _to_datetime(session, value),
    "System.TimeSpan": lambda session, value, _: _to_timespan(value),
    "System.Text.RegularExpressions.Regex": lambda session, value, _: (
        value if isinstance(value, Regex) else Regex(session.to_string(value), ignore_case=False)
    ),
    "System.Management.Automation.ScriptBlock": _to_script_block,
    "System.Void": lambda session, value, _: None,
    "System.Array": lambda session, value, _: cv.as_list(value) if not isinstance(value, list) else value,
    "System.Management.Automation.PSReference": lambda session, value, _: (
        value if isinstance(value, PSReference) else PSReference(value)
    ),
    "System.Version": lambda session, value, _: (
        value if isinstance(value, VersionObject) else _parse_version(session.to_string(value))
    ),
    "System.Collections.ArrayList": lambda session, value, _: ArrayList(cv.as_list(value)),
}
"""``[T]value`` for the core types other than the integers (``_to_int``): (session, value, T's full name)."""


def _to_int(value: Any, canonical: str) -> int:
    low, high, short = _INT_RANGES[canonical]
    if value is None:
        return 0
    if isinstance(value, str) and value.strip() == "":
        return 0
    try:
        number = cv.to_number(value)
    except ScriptError:
        raise cv.invalid_cast(value, canonical) from None
    if isinstance(number, float):
        if math.isnan(number) or math.isinf(number):
            raise cv.invalid_cast(value, canonical, f"Value was either too large or too small for an {short}.")
        number = int(Decimal(repr(number)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    elif isinstance(number, Decimal):
        number = int(number.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    if not low <= number <= high:
        raise cv.invalid_cast(value, canonical, f"Value was either too large or too small for an {short}.")
    return int(number)


_DATE_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y",
    "%m/%d/%y",
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)


def _to_datetime(session: Session, value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        text = value.strip()
        iso = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$", text)
        local = session.host.now().tzinfo
        if iso:
            base = dt.datetime.strptime(iso.group(1), "%Y-%m-%dT%H:%M:%S")
            if iso.group(2):
                base = base.replace(microsecond=int(iso.group(2)[1:7].ljust(6, "0")))
            zone = iso.group(3)
            if zone == "Z":
                return base.replace(tzinfo=dt.UTC).astimezone(local)
            if zone:
                sign = 1 if zone[0] == "+" else -1
                offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])) * sign
                return base.replace(tzinfo=dt.timezone(offset)).astimezone(local)
            return base.replace(tzinfo=local)
        for fmt in _DATE_FORMATS:
            try:
                return dt.datetime.strptime(text, fmt).replace(tzinfo=local)
            except ValueError:
                continue
        raise cv.invalid_cast(value, "System.DateTime", "String was not recognized as a valid DateTime.")
    raise cv.invalid_cast(value, "System.DateTime")


def _to_timespan(value: Any) -> dt.timedelta:
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.timedelta(microseconds=value / 10)
    if isinstance(value, str):
        match = re.match(r"^\s*(-)?(?:(\d+)\.)?(\d+):(\d+)(?::(\d+)(?:\.(\d+))?)?\s*$", value)
        if match:
            sign, days, hours, minutes, seconds, fraction = match.groups()
            span = dt.timedelta(
                days=int(days or 0),
                hours=int(hours),
                minutes=int(minutes),
                seconds=int(seconds or 0),
                microseconds=int((fraction or "0")[:6].ljust(6, "0")),
            )
            return -span if sign else span
        raise cv.invalid_cast(value, "System.TimeSpan", "String was not recognized as a valid TimeSpan.")
    raise cv.invalid_cast(value, "System.TimeSpan")


def _convert_spec(session: Session, value: Any, ref: TypeRef) -> Any:
    spec = ref.spec
    assert spec is not None
    if spec.enum_values is not None:
        return _to_enum(session, value, spec)
    if is_instance(session, value, spec.full_name):
        return value
    if spec.convert is not None:
        try:
            return spec.convert(session.host, value)
        except NetException as error:
            raise cv.invalid_cast(value, spec.full_name, error.message) from None
    if spec.construct is not None and value is not None and not isinstance(value, list):
        # PowerShell converts by a one-argument constructor when the type has one (about_Type_Conversion).
        try:
            return spec.construct(session.host, [value])
        except NetException:
            pass
    raise cv.invalid_cast(value, spec.full_name)


def _to_enum(session: Session, value: Any, spec: TypeSpec) -> NetEnum:
    values = spec.enum_values or {}
    if isinstance(value, NetEnum) and value.type_name == spec.full_name:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        for name, number in values.items():
            if number == value:
                return NetEnum(spec.full_name, name, number, spec.flags)
        if spec.flags:
            return NetEnum(spec.full_name, str(value), value, True)
        raise cv.invalid_cast(value, spec.full_name)
    text = session.to_string(value)
    names = [p.strip() for p in text.split(",")] if spec.flags else [text.strip()]
    total = 0
    chosen = []
    for part in names:
        match = next((n for n in values if n.lower() == part.lower()), None)
        if match is None:
            listing = ", ".join(values)
            raise cv.invalid_cast(
                value,
                spec.full_name,
                f"Unable to match the identifier name {part} to a valid enumerator name. Specify one of the following "
                f"enumerator names and try again:\n{listing}",
            )
        chosen.append(match)
        total |= values[match]
    return NetEnum(spec.full_name, ", ".join(chosen), total, spec.flags)


_BASES: dict[str, tuple[str, ...]] = {
    "System.String": ("System.String", "System.Object", "System.Collections.IEnumerable", "System.IComparable"),
    "System.Int32": ("System.Int32", "System.ValueType", "System.Object"),
    "System.Int64": ("System.Int64", "System.ValueType", "System.Object"),
    "System.Double": ("System.Double", "System.ValueType", "System.Object"),
    "System.Decimal": ("System.Decimal", "System.ValueType", "System.Object"),
    "System.Boolean": ("System.Boolean", "System.ValueType", "System.Object"),
    "System.Object[]": ("System.Object[]", "System.Array", "System.Object", "System.Collections.IEnumerable"),
    "System.Byte[]": ("System.Byte[]", "System.Array", "System.Object", "System.Collections.IEnumerable"),
    "System.Collections.Hashtable": (
        "System.Collections.Hashtable",
        "System.Object",
        "System.Collections.IDictionary",
        "System.Collections.IEnumerable",
    ),
    "System.Collections.Specialized.OrderedDictionary": (
        "System.Collections.Specialized.OrderedDictionary",
        "System.Object",
        "System.Collections.IDictionary",
        "System.Collections.IEnumerable",
    ),
    "System.Collections.ArrayList": ("System.Collections.ArrayList", "System.Object", "System.Collections.IEnumerable"),
    "System.DateTime": ("System.DateTime", "System.ValueType", "System.Object"),
    "System.TimeSpan": ("System.TimeSpan", "System.ValueType", "System.Object"),
    "System.Management.Automation.PSCustomObject": (
        "System.Management.Automation.PSCustomObject",
        "System.Object",
        "System.Management.Automation.PSObject",
    ),
    "System.Management.Automation.ScriptBlock": ("System.Management.Automation.ScriptBlock", "System.Object"),
}


def is_instance(session: Session, value: Any, type_name: str) -> bool:
    """``$value -is [T]``."""
    if value is None:
        return False
    if type_name.endswith("[]"):
        return (
            isinstance(value, list)
            and type_name.lower() in ("object[]", "system.object[]")
            or (isinstance(value, bytes | bytearray) and type_name.lower() in ("byte[]", "system.byte[]"))
        )
    canonical = _canonical(type_name)
    if canonical is None:
        ref = resolve_type(session, type_name)
        canonical = ref.full_name
    lowered = canonical.lower()
    if lowered in ("system.object", "system.management.automation.psobject"):
        return True
    if isinstance(value, ErrorRecord):
        return lowered == "system.management.automation.errorrecord"
    if isinstance(value, NetException):
        return lowered in {value.type_name.lower(), *(b.lower() for b in value.base_names), "system.exception"}
    if isinstance(value, NetObject):
        return lowered in (n.lower() for n in value.TYPE_NAMES)
    if isinstance(value, NetEnum):
        return lowered in (value.type_name.lower(), "system.enum", "system.valuetype")
    if lowered == "system.array":
        return isinstance(value, list) and not isinstance(value, ArrayList)
    if lowered == "system.int32":
        return isinstance(value, int) and not isinstance(value, bool) and cv.type_name_of(value) == "System.Int32"
    if lowered == "system.valuetype":
        return isinstance(value, bool | int | float | Decimal | dt.datetime | dt.timedelta)
    names = _BASES.get(cv.type_name_of(value), (cv.type_name_of(value), "System.Object"))
    return lowered in (n.lower() for n in names)


# ------------------------------------------------------------------------------------------------
# Type resolution and static members


def resolve_type(session: Session, name: str) -> TypeRef:
    """``[T]``: accelerators, ``System.``-less names, engine and machine types; else "Unable to find type"."""
    from .session import TypeRef

    spec = session.types.get(name.lower())
    if spec is None and not name.lower().startswith("system."):
        spec = session.types.get("system." + name.lower())
    if spec is not None:
        return TypeRef(spec.full_name, spec)
    canonical = _canonical(name)
    if canonical is not None:
        return TypeRef(canonical, None)
    if name.endswith("[]"):
        inner = resolve_type(session, name[:-2])
        return TypeRef(inner.full_name + "[]", None)
    generic = re.match(r"^(?:System\.)?Collections\.Generic\.List\[(.+)\]$", name, re.IGNORECASE)
    if generic:
        inner = resolve_type(session, generic.group(1))
        return TypeRef(f"System.Collections.Generic.List`1[[{inner.full_name}]]", _generic_list_spec(inner.full_name))
    raise runtime_error(f"Unable to find type [{name}].", "TypeNotFound", "InvalidOperation", target=name)


def _generic_list_spec(element: str) -> TypeSpec:
    full = f"System.Collections.Generic.List`1[[{element}]]"
    return TypeSpec(
        full,
        construct=lambda host, args: ArrayList(
            cv.as_list(args[0]) if args and not isinstance(args[0], int) else [], full
        ),
    )


def _find(mapping: Mapping[str, Any], name: str) -> tuple[str, Any] | None:
    for key, value in mapping.items():
        if key.lower() == name.lower():
            return key, value
    return None


def static_property(session: Session, ref: TypeRef, name: str) -> tuple[bool, Any]:
    spec = ref.spec
    if spec is None:
        value = _core_static(ref.full_name, name)
        return (value is not _NONE, None if value is _NONE else value)
    if spec.enum_values is not None:
        found = _find(spec.enum_values, name)
        if found is not None:
            return True, NetEnum(spec.full_name, found[0], found[1], spec.flags)
    found = _find(spec.static_properties, name)
    if found is not None:
        try:
            return True, found[1](session.host if not _needs_session(spec) else _SessionHost(session))
        except NetException as error:
            raise runtime_error(
                error.message, error.type_name.rpartition(".")[2], "NotSpecified", exception_type=error.type_name
            ) from None
    return False, None


_NONE = object()


def _core_static(full_name: str, name: str) -> Any:
    lowered = name.lower()
    if full_name in _INT_RANGES:
        low, high, _ = _INT_RANGES[full_name]
        return {"maxvalue": high, "minvalue": low}.get(lowered, _NONE)
    if full_name == "System.Double":
        return {
            "maxvalue": 1.7976931348623157e308,
            "minvalue": -1.7976931348623157e308,
            "nan": math.nan,
            "positiveinfinity": math.inf,
            "negativeinfinity": -math.inf,
            "epsilon": 5e-324,
        }.get(lowered, _NONE)
    if full_name == "System.String" and lowered == "empty":
        return ""
    if full_name == "System.DateTime" and lowered in ("minvalue", "maxvalue"):
        return (
            dt.datetime(1, 1, 1, tzinfo=dt.UTC)
            if lowered == "minvalue"
            else dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)
        )
    if full_name == "System.TimeSpan" and lowered == "zero":
        return dt.timedelta(0)
    return _NONE


class _SessionHost:
    """The host of a session, for engine types whose static members need the session (Console)."""

    def __init__(self, session: Session) -> None:
        self.session = session


def _needs_session(spec: TypeSpec) -> bool:
    return spec.full_name in _SESSION_TYPES


_SESSION_TYPES = {"System.Console", "System.Management.Automation.ScriptBlock", "System.Environment"}


def set_static_property(session: Session, ref: TypeRef, name: str, value: Any) -> None:
    spec = ref.spec
    if spec is not None:
        found = _find(spec.set_static, name)
        if found is not None:
            try:
                found[1](_SessionHost(session) if _needs_session(spec) else session.host, value)
            except NetException as error:
                # PowerShell wraps what a property setter throws; try/catch and -ErrorAction see the wrapper.
                raise runtime_error(
                    f'Exception setting "{name}": "{error.message}"',
                    "ExceptionWhenSetting",
                    "NotSpecified",
                    exception_type="System.Management.Automation.SetValueInvocationException",
                ) from None
            return
    raise runtime_error(
        f"The property '{name}' cannot be found on this object. Verify that the property exists and can be set.",
        "PropertyAssignmentException",
        "InvalidOperation",
    )


def call_static(session: Session, ref: TypeRef, name: str, args: list[Any]) -> Any:
    from .members import wrap_method_exception

    spec = ref.spec
    lowered = name.lower()
    if session.language_mode == "ConstrainedLanguage" and not clm_allowed(ref):
        raise runtime_error(
            "Cannot invoke method. Method invocation is supported only on core types in this language mode.",
            "MethodInvocationNotSupportedInConstrainedLanguage",
            "InvalidOperation",
        )
    try:
        if spec is None:
            return _core_static_call(session, ref, lowered, name, args)
        if lowered == "new" and spec.construct is not None:
            return spec.construct(_host_for(session, spec), args)
        found = _find(spec.static_methods, name)
        if found is not None:
            return found[1](_host_for(session, spec), args)
    except NetException as error:
        raise wrap_method_exception(name, args, error) from None
    raise runtime_error(
        f"Method invocation failed because [{ref.full_name}] does not contain a method named '{name}'.",
        "MethodNotFound",
        "InvalidOperation",
    )


def _host_for(session: Session, spec: TypeSpec) -> Any:
    return _SessionHost(session) if _needs_session(spec) else session.host


def clm_allowed(ref: TypeRef) -> bool:
    """Whether ConstrainedLanguage lets a script use ``[T]`` (members.CLM_ALLOWED, or the machine's flag)."""
    from .members import CLM_ALLOWED

    if ref.full_name.lower() in CLM_ALLOWED:
        return True
    return ref.spec is not None and ref.spec.allowed_in_constrained_language


def _core_static_call(session: Session, ref: TypeRef, lowered: str, name: str, args: list[Any]) -> Any:
    full = ref.full_name
    statics = _CORE_STATICS.get(full)
    if statics is None and (full in _INT_RANGES or full in ("System.Double", "System.Decimal", "System.Boolean")):
        statics = _number_static
    result = statics(session, full, lowered, args) if statics is not None else _NO_METHOD
    if result is _NO_METHOD:
        raise runtime_error(
            f"Method invocation failed because [{full}] does not contain a method named '{name}'.",
            "MethodNotFound",
            "InvalidOperation",
        )
    return result


_NO_METHOD = object()
"""What a core type's static methods answer for a method name the type does not have."""

_CoreStatics = Callable[["Session", str, str, list[Any]], Any]
"""A core type's static methods: (session, the type's full name, the lowered method name, the arguments)."""


def _string_static(session: Session, full: str, lowered: str, args: list[Any]) -> Any:
    if lowered == "isnullorempty":
        return args[0] is None or session.to_string(args[0]) == ""
    if lowered == "isnullorwhitespace":
        return args[0] is None or session.to_string(args[0]).strip() == ""
    if lowered == "join":
        items = args[1] if len(args) == 2 and isinstance(args[1], list) else args[1:]
        return session.to_string(args[0]).join(session.to_string(i) for i in items)
    if lowered == "format":
        rest = args[1] if len(args) == 2 and isinstance(args[1], list) else args[1:]
        return cv.format_operator(session.to_string(args[0]), list(rest))
    if lowered == "concat":
        return "".join(session.to_string(a) for a in args)
    if lowered == "new":
        return session.to_string(args[0]) * (int(args[1]) if len(args) > 1 else 1)
    if lowered == "equals":
        return session.to_string(args[0]) == session.to_string(args[1])
    if lowered == "compare":
        a, b = session.to_string(args[0]), session.to_string(args[1])
        if len(args) > 2 and cv.is_true(args[2]):
            a, b = a.lower(), b.lower()
        return (a > b) - (a < b)
    return _NO_METHOD


def _number_static(session: Session, full: str, lowered: str, args: list[Any]) -> Any:
    """``Parse`` and ``TryParse`` of the integer types, Double, Decimal and Boolean."""
    if lowered == "parse":
        text = session.to_string(args[0])
        if full == "System.Boolean":
            if text.strip().lower() in ("true", "false"):
                return text.strip().lower() == "true"
            raise NetException("System.FormatException", "String was not recognized as a valid Boolean.")
        try:
            return _convert_core(session, text, full)
        except ScriptError:
            raise NetException("System.FormatException", "Input string was not in a correct format.") from None
    if lowered == "tryparse" and len(args) == 2 and isinstance(args[1], PSReference):
        try:
            args[1].value = _convert_core(session, session.to_string(args[0]), full)
            return True
        except ScriptError:
            return False
    return _NO_METHOD


def _datetime_static(session: Session, full: str, lowered: str, args: list[Any]) -> Any:
    if lowered == "parse":
        return _to_datetime(session, session.to_string(args[0]))
    if lowered == "new":
        parts = [int(cv.to_number(a)) for a in args]
        year, month, day, hour, minute, second = (parts + [0, 0, 0])[:6]
        return dt.datetime(year, month, day, hour, minute, second, tzinfo=session.host.now().tzinfo)
    if lowered == "daysinmonth":
        import calendar

        return calendar.monthrange(int(args[0]), int(args[1]))[1]
    return _NO_METHOD


_TIMESPAN_FACTORIES = {
    "fromseconds": "seconds",
    "fromminutes": "minutes",
    "fromhours": "hours",
    "fromdays": "days",
    "frommilliseconds": "milliseconds",
}


def _timespan_static(session: Session, full: str, lowered: str, args: list[Any]) -> Any:
    if lowered in _TIMESPAN_FACTORIES:
        return dt.timedelta(**{_TIMESPAN_FACTORIES[lowered]: float(cv.to_number(args[0]))})
    if lowered == "parse":
        return _to_timespan(session.to_string(args[0]))
    if lowered == "new":
        numbers = [int(cv.to_number(a)) for a in args]
        if len(numbers) == 3:
            return dt.timedelta(hours=numbers[0], minutes=numbers[1], seconds=numbers[2])
        if len(numbers) == 4:
            return dt.timedelta(days=numbers[0], hours=numbers[1], minutes=numbers[2], seconds=numbers[3])
        if len(numbers) == 1:
            return dt.timedelta(microseconds=numbers[0] / 10)
    return _NO_METHOD


_REGEX_STATICS = {"ismatch": "IsMatch", "match": "Match", "matches": "Matches", "replace": "Replace", "split": "Split"}
"""Regex's static methods that build a Regex from their pattern argument and call its instance method."""


def _regex_static(session: Session, full: str, lowered: str, args: list[Any]) -> Any:
    if lowered == "new":
        return Regex(session.to_string(args[0]), ignore_case=_regex_ignore(args))
    if lowered == "escape":
        return _regex_escape(session.to_string(args[0]))
    if lowered == "unescape":
        return re.sub(r"\\(.)", r"\1", session.to_string(args[0]))
    if lowered in _REGEX_STATICS:
        regex = Regex(
            session.to_string(args[1]), ignore_case=_regex_ignore(args[2:] if lowered != "replace" else args[3:])
        )
        rest = [args[0]] + ([args[2]] if lowered == "replace" else [])
        return regex.ps_call(_REGEX_STATICS[lowered], rest)
    return _NO_METHOD


def _version_static(session: Session, full: str, lowered: str, args: list[Any]) -> Any:
    if lowered == "new":
        if len(args) == 1:
            return _parse_version(session.to_string(args[0]))
        return VersionObject([int(cv.to_number(a)) for a in args])
    if lowered == "parse":
        return _parse_version(session.to_string(args[0]))
    return _NO_METHOD


def _char_static(session: Session, full: str, lowered: str, args: list[Any]) -> Any:
    tests = {"isdigit": str.isdigit, "isletter": str.isalpha, "iswhitespace": str.isspace}
    return tests[lowered](session.to_string(args[0])) if lowered in tests else _NO_METHOD


def _constructor_only(make: Callable[[], Any]) -> _CoreStatics:
    """A type whose only static member the lab models is ``::new()``."""
    return lambda session, full, lowered, args: make() if lowered == "new" else _NO_METHOD


_CORE_STATICS: dict[str, _CoreStatics] = {
    "System.String": _string_static,
    "System.DateTime": _datetime_static,
    "System.TimeSpan": _timespan_static,
    "System.Text.RegularExpressions.Regex": _regex_static,
    "System.Collections.Hashtable": _constructor_only(Hashtable),
    "System.Collections.ArrayList": _constructor_only(ArrayList),
    "System.Management.Automation.PSCustomObject": _constructor_only(PSCustomObject),
    "System.Version": _version_static,
    "System.Char": _char_static,
    "System.Object": lambda session, full, lowered, args: (
        args[0] is args[1] if lowered == "referenceequals" else _NO_METHOD
    ),
}
"""The static methods of the core types that have no TypeSpec (the machine's types have their own)."""


def _regex_ignore(args: Sequence[Any]) -> bool:
    return any(isinstance(arg, NetEnum) and "IgnoreCase" in arg.name for arg in args)


def _regex_escape(text: str) -> str:
    """Regex.Escape: escapes \\, *, +, ?, |, {, [, (, ), ^, $, ., #, and white space."""
    out = []
    for char in text:
        if char in "\\*+?|{[()^$.#":
            out.append("\\" + char)
        elif char == " ":
            out.append("\\ ")
        elif char == "\t":
            out.append("\\t")
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        else:
            out.append(char)
    return "".join(out)


# ------------------------------------------------------------------------------------------------
# Engine types


def _encoding_named(name: str) -> Encoding:
    lowered = name.lower().replace("-", "")
    if lowered in ("utf8", "utf8nobom"):
        return Encoding("utf-8", "utf-8", "System.Text.UTF8Encoding", bom=lowered == "utf8")
    if lowered in ("unicode", "utf16"):
        return Encoding("utf-16-le", "utf-16", "System.Text.UnicodeEncoding", bom=True)
    if lowered == "bigendianunicode":
        return Encoding("utf-16-be", "utf-16BE", "System.Text.UnicodeEncoding", bom=True)
    if lowered == "ascii":
        return Encoding("ascii", "us-ascii", "System.Text.ASCIIEncoding")
    if lowered == "utf32":
        return Encoding("utf-32-le", "utf-32", "System.Text.UTF32Encoding", bom=True)
    return Encoding("cp437", "IBM437", "System.Text.SBCSCodePageEncoding")


def _math(function: Callable[..., Any]) -> Callable[[Host, Sequence[Any]], Any]:
    return lambda host, args: function(*[cv.to_number(a) for a in args])


def _round(*args: Any) -> Any:
    value = args[0]
    digits = int(cv.to_number(args[1])) if len(args) > 1 and not isinstance(args[1], NetEnum) else 0
    away = any(isinstance(a, NetEnum) and a.name == "AwayFromZero" for a in args[1:])
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    quantum = Decimal(1).scaleb(-digits)
    result = number.quantize(quantum, rounding="ROUND_HALF_UP" if away else ROUND_HALF_EVEN)
    if isinstance(value, Decimal):
        return result
    return float(result)


def _truncate(value: Any) -> Any:
    return float(math.trunc(value)) if isinstance(value, float) else value


def _to_base64(host: Host, args: Sequence[Any]) -> str:
    data = args[0]
    raw = bytes(data) if isinstance(data, bytes | bytearray) else bytes(int(b) for b in cv.as_list(data))
    return base64.b64encode(raw).decode("ascii")


def _from_base64(host: Host, args: Sequence[Any]) -> bytearray:
    text = cv.to_string(args[0])
    try:
        return bytearray(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        raise NetException(
            "System.FormatException",
            "The input is not a valid Base-64 string as it contains a non-base 64 character, more than two padding "
            "characters, or an illegal character among the padding characters. ",
        ) from None


def _convert_to(target: str) -> Callable[[Host, Sequence[Any]], Any]:
    def run(host: Host, args: Sequence[Any]) -> Any:
        value = args[0]
        if len(args) == 2 and target in ("System.Int32", "System.Int64") and isinstance(value, str):
            try:
                return int(value, int(args[1]))
            except ValueError:
                raise NetException("System.FormatException", "Could not find any recognizable digits.") from None
        if target == "System.String":
            if len(args) == 2 and isinstance(value, int):
                base = int(args[1])
                return {2: bin, 8: oct, 16: hex}[base](value)[2:] if base != 10 else str(value)
            return cv.to_string(value)
        if target == "System.Boolean":
            if isinstance(value, str):
                if value.strip().lower() in ("true", "false"):
                    return value.strip().lower() == "true"
                raise NetException("System.FormatException", "String was not recognized as a valid Boolean.")
            return cv.is_true(value)
        try:
            if target == "System.Double":
                return float(cv.to_number(value))
            return _to_int(value, target)
        except ScriptError as error:
            raise NetException("System.FormatException", "Input string was not in a correct format.") from error

    return run


def _console_out(host: Any) -> TextWriter:
    return TextWriter(host.session, "out")


def _console_error(host: Any) -> TextWriter:
    return TextWriter(host.session, "error")


def _console_set_encoding(host: Any, value: Any) -> None:
    if not host.session.console:
        # The .NET Framework setter calls SetConsoleOutputCP, which fails without a console
        # (windows-audit.md F11: ralish/PSWinVitals#5, dahlbyk/posh-git#708).
        raise NetException("System.IO.IOException", "The handle is invalid.")
    if isinstance(value, Encoding):
        host.session.output_encoding = value.web_name
    else:
        raise cv.invalid_cast(value, "System.Text.Encoding")


def _console_stdin(host: Any, args: Sequence[Any]) -> InputStream:
    stdin = host.session.stdin or ""
    return InputStream(stdin.encode("utf-8"))


def _console_write(newline: bool) -> Callable[[Any, Sequence[Any]], None]:
    def run(host: Any, args: Sequence[Any]) -> None:
        text = _console_text(host.session, args) + ("\n" if newline else "")
        host.session.write_stdout(text)

    return run


def _scriptblock_create(host: Any, args: Sequence[Any]) -> ScriptBlock:
    from .engine import ParseFailure, compile_script

    text = cv.to_string(args[0])
    try:
        block = compile_script(text)
    except ParseFailure as failure:
        raise NetException(
            "System.Management.Automation.ParseException",
            failure.text,
            base_names=("System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"),
            extra={"_parse_errors": failure.problems},
        ) from None
    return ScriptBlock(text, block, block.params)


def _exception_type(full_name: str, bases: tuple[str, ...]) -> TypeSpec:
    def construct(host: Host, args: Sequence[Any]) -> NetException:
        message = cv.to_string(args[0]) if args else f"Exception of type '{full_name}' was thrown."
        inner = args[1] if len(args) > 1 and isinstance(args[1], NetException) else None
        return NetException(full_name, message, inner=inner, base_names=bases)

    return TypeSpec(full_name, construct=construct, base_names=bases)


def _error_record(host: Host, args: Sequence[Any]) -> ErrorRecord:
    if len(args) != 4:
        raise NetException(
            "System.Management.Automation.MethodException",
            f'Cannot find an overload for "ErrorRecord" and the argument count: "{len(args)}".',
        )
    exception, error_id, category, target = args
    if not isinstance(exception, NetException):
        raise NetException("System.ArgumentNullException", "Value cannot be null.\r\nParameter name: exception")
    name = category.name if isinstance(category, NetEnum) else cv.to_string(category)
    return ErrorRecord(exception, cv.to_string(error_id), name, target)


def _environment_variable(host: Any, args: Sequence[Any]) -> Any:
    return host.session.get_env(cv.to_string(args[0]))


def _environment_set(host: Any, args: Sequence[Any]) -> None:
    host.session.set_env(cv.to_string(args[0]), args[1])


_EXCEPTIONS = [
    ("System.Exception", ()),
    ("System.SystemException", ("System.Exception",)),
    ("System.InvalidOperationException", ("System.SystemException", "System.Exception")),
    ("System.ArgumentException", ("System.SystemException", "System.Exception")),
    ("System.ArgumentNullException", ("System.ArgumentException", "System.SystemException", "System.Exception")),
    ("System.ArgumentOutOfRangeException", ("System.ArgumentException", "System.SystemException", "System.Exception")),
    ("System.NotSupportedException", ("System.SystemException", "System.Exception")),
    ("System.NotImplementedException", ("System.SystemException", "System.Exception")),
    ("System.FormatException", ("System.SystemException", "System.Exception")),
    ("System.TimeoutException", ("System.SystemException", "System.Exception")),
    ("System.UnauthorizedAccessException", ("System.SystemException", "System.Exception")),
    ("System.IO.IOException", ("System.SystemException", "System.Exception")),
    ("System.IO.FileNotFoundException", ("System.IO.IOException", "System.SystemException", "System.Exception")),
    ("System.IO.DirectoryNotFoundException", ("System.IO.IOException", "System.SystemException", "System.Exception")),
    ("System.Management.Automation.RuntimeException", ("System.SystemException", "System.Exception")),
    (
        "System.Management.Automation.ItemNotFoundException",
        (
            "System.Management.Automation.SessionStateException",
            "System.Management.Automation.RuntimeException",
            "System.SystemException",
            "System.Exception",
        ),
    ),
    (
        "System.ComponentModel.Win32Exception",
        ("System.Runtime.InteropServices.ExternalException", "System.SystemException", "System.Exception"),
    ),
]


@functools.cache
def engine_types() -> tuple[TypeSpec, ...]:
    """The .NET types the language provides (no machine state behind them; built once)."""
    math_methods = {
        "Round": lambda host, args: _round(cv.to_number(args[0]), *args[1:]),
        "Floor": _math(lambda x: float(math.floor(x)) if isinstance(x, float) else x),
        "Ceiling": _math(lambda x: float(math.ceil(x)) if isinstance(x, float) else x),
        "Abs": _math(abs),
        "Max": _math(max),
        "Min": _math(min),
        "Pow": _math(lambda x, y: float(x) ** float(y)),
        "Sqrt": _math(lambda x: math.sqrt(x)),
        "Truncate": _math(_truncate),
        "Log": _math(lambda x, *b: math.log(x, *b)),
        "Log10": _math(math.log10),
        "Exp": _math(math.exp),
        "Sign": _math(lambda x: (x > 0) - (x < 0)),
    }
    types = [
        TypeSpec(
            "System.Math",
            static_methods=math_methods,
            static_properties={"PI": lambda h: math.pi, "E": lambda h: math.e},
        ),
        TypeSpec(
            "System.Console",
            static_properties={
                "Out": _console_out,
                "Error": _console_error,
                "OutputEncoding": lambda h: _encoding_named(h.session.output_encoding),  # type: ignore[attr-defined]
                "InputEncoding": lambda h: _encoding_named("IBM437"),
                "IsInputRedirected": lambda h: True,
                "IsOutputRedirected": lambda h: True,
            },
            set_static={"OutputEncoding": _console_set_encoding},
            static_methods={
                "OpenStandardInput": _console_stdin,
                "WriteLine": _console_write(True),
                "Write": _console_write(False),
            },
        ),
        TypeSpec(
            "System.Text.Encoding",
            static_properties={
                "UTF8": lambda h: _encoding_named("utf8"),
                "Unicode": lambda h: _encoding_named("unicode"),
                "ASCII": lambda h: _encoding_named("ascii"),
                "BigEndianUnicode": lambda h: _encoding_named("bigendianunicode"),
                "UTF32": lambda h: _encoding_named("utf32"),
                "Default": lambda h: Encoding("cp1252", "Windows-1252", "System.Text.SBCSCodePageEncoding"),
            },
            static_methods={"GetEncoding": lambda h, a: _encoding_named(cv.to_string(a[0]))},
        ),
        TypeSpec(
            "System.Text.UTF8Encoding",
            construct=lambda h, a: Encoding(
                "utf-8", "utf-8", "System.Text.UTF8Encoding", bom=cv.is_true(a[0]) if a else False
            ),
            base_names=("System.Text.Encoding", "System.Object"),
        ),
        TypeSpec(
            "System.Text.UnicodeEncoding",
            construct=lambda h, a: _encoding_named("unicode"),
            base_names=("System.Text.Encoding", "System.Object"),
        ),
        TypeSpec(
            "System.Text.StringBuilder",
            construct=lambda h, a: StringBuilder(cv.to_string(a[0]) if a and isinstance(a[0], str) else ""),
        ),
        TypeSpec("System.IO.StreamReader", construct=_stream_reader, allowed_in_constrained_language=False),
        TypeSpec(
            "System.Convert",
            static_methods={
                "ToBase64String": _to_base64,
                "FromBase64String": _from_base64,
                "ToInt32": _convert_to("System.Int32"),
                "ToInt64": _convert_to("System.Int64"),
                "ToString": _convert_to("System.String"),
                "ToBoolean": _convert_to("System.Boolean"),
                "ToDouble": _convert_to("System.Double"),
            },
        ),
        TypeSpec(
            "System.Management.Automation.ScriptBlock",
            accelerators=("scriptblock",),
            static_methods={"Create": _scriptblock_create},
        ),
        TypeSpec("System.Management.Automation.ErrorRecord", construct=_error_record),
        TypeSpec(
            "System.Environment",
            static_properties={
                "NewLine": lambda h: "\r\n",
                "MachineName": lambda h: h.session.host.computer_name,  # type: ignore[attr-defined]
                "UserName": lambda h: h.session.host.user_name.rpartition("\\")[2],  # type: ignore[attr-defined]
                "Is64BitProcess": lambda h: True,
                "Is64BitOperatingSystem": lambda h: True,
                "ProcessorCount": lambda h: int(h.session.get_env("NUMBER_OF_PROCESSORS") or 1),  # type: ignore[attr-defined]
            },
            static_methods={
                "GetEnvironmentVariable": _environment_variable,
                "SetEnvironmentVariable": _environment_set,
            },
            allowed_in_constrained_language=False,
        ),
        TypeSpec(
            "System.StringComparison",
            enum_values={
                "CurrentCulture": 0,
                "CurrentCultureIgnoreCase": 1,
                "InvariantCulture": 2,
                "InvariantCultureIgnoreCase": 3,
                "Ordinal": 4,
                "OrdinalIgnoreCase": 5,
            },
        ),
        TypeSpec(
            "System.StringSplitOptions",
            enum_values={"None": 0, "RemoveEmptyEntries": 1},
        ),
        TypeSpec(
            "System.MidpointRounding",
            enum_values={"ToEven": 0, "AwayFromZero": 1},
        ),
        TypeSpec(
            "System.Text.RegularExpressions.RegexOptions",
            enum_values={
                "None": 0,
                "IgnoreCase": 1,
                "Multiline": 2,
                "ExplicitCapture": 4,
                "Compiled": 8,
                "Singleline": 16,
                "IgnorePatternWhitespace": 32,
                "RightToLeft": 64,
                "ECMAScript": 256,
                "CultureInvariant": 512,
            },
            flags=True,
        ),
        TypeSpec(
            "System.Management.Automation.ErrorCategory",
            enum_values={
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
            },
        ),
        TypeSpec(
            "System.Management.Automation.ActionPreference",
            enum_values={"SilentlyContinue": 0, "Stop": 1, "Continue": 2, "Inquire": 3, "Ignore": 4, "Suspend": 5},
        ),
        TypeSpec(
            "System.DayOfWeek",
            enum_values={
                "Sunday": 0,
                "Monday": 1,
                "Tuesday": 2,
                "Wednesday": 3,
                "Thursday": 4,
                "Friday": 5,
                "Saturday": 6,
            },
        ),
        TypeSpec(
            "System.Management.Automation.PSLanguageMode",
            enum_values={"FullLanguage": 0, "RestrictedLanguage": 1, "NoLanguage": 2, "ConstrainedLanguage": 3},
        ),
    ]
    types += [_exception_type(name, bases) for name, bases in _EXCEPTIONS]
    return tuple(types)


def _stream_reader(host: Host, args: Sequence[Any]) -> StreamReader:
    if not args or not isinstance(args[0], InputStream):
        raise NetException(
            "System.NotSupportedException", "The lab's StreamReader reads only the standard input stream."
        )
    encoding = args[1] if len(args) > 1 and isinstance(args[1], Encoding) else None
    return StreamReader(args[0], encoding)
