"""PowerShell's conversions and operators over the Python value model (api.VALUE_TYPES_DOC).

Rules come from about_Comparison_Operators, about_Arithmetic_Operators, about_Type_Conversion (the
"PowerShell type conversion" rules: the right operand is converted to the left operand's type),
about_Booleans and about_Split/about_Join; .NET formatting from the "Composite formatting" and
"Standard numeric format strings" pages of Microsoft Learn.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from .api import ErrorRecord, NetEnum, NetException, NetObject
from .errors import ScriptError, runtime_error
from .values import ArrayList, Hashtable, Long, PSCustomObject, PSReference, ScriptBlock

__all__ = [
    "INT32_MAX",
    "Enumerable",
    "INT32_MIN",
    "as_list",
    "compare",
    "convert_regex",
    "equals",
    "format_datetime",
    "format_number",
    "format_operator",
    "invalid_cast",
    "is_true",
    "like_pattern",
    "to_number",
    "to_string",
    "type_name_of",
]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def type_name_of(value: Any) -> str:
    """The .NET full type name of a value (``$x.GetType().FullName``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        if isinstance(value, Long) and _INT64_MIN <= value <= _INT64_MAX:
            return "System.Int64"
        if INT32_MIN <= value <= INT32_MAX:
            return "System.Int32"
        return "System.Int64" if _INT64_MIN <= value <= _INT64_MAX else "System.Double"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, Decimal):
        return "System.Decimal"
    if isinstance(value, str):
        return "System.String"
    return _object_type_name(value)


def _object_type_name(value: Any) -> str:
    """The type name of a value that is no number, string or $null: a collection or an object."""
    if isinstance(value, ArrayList):
        return value.type_name
    if isinstance(value, list | tuple):
        return "System.Object[]"
    if isinstance(value, bytes | bytearray):
        return "System.Byte[]"
    if isinstance(value, Hashtable):
        return value.TYPE_NAME
    if isinstance(value, dt.datetime):
        return "System.DateTime"
    if isinstance(value, dt.timedelta):
        return "System.TimeSpan"
    if isinstance(value, NetEnum):
        return value.type_name
    if isinstance(value, NetObject):
        return value.TYPE_NAMES[0]
    if isinstance(value, PSCustomObject | ScriptBlock):
        return value.TYPE_NAME
    if isinstance(value, PSReference):
        return "System.Management.Automation.PSReference"
    if isinstance(value, NetException):
        return value.type_name
    if isinstance(value, ErrorRecord):
        return "System.Management.Automation.ErrorRecord"
    type_name = getattr(value, "TYPE_NAME", None)
    return type_name if isinstance(type_name, str) else "System.Object"


@runtime_checkable
class Enumerable(Protocol):
    """A .NET object that is a collection (IEnumerable) without being an array: the pipeline, ``foreach`` and
    member enumeration go through its items (``.PSObject.Properties``, a regex's MatchCollection...)."""

    def ps_items(self) -> list[Any]: ...


def as_list(value: Any) -> list[Any]:
    """The elements PowerShell enumerates for a value: a list's items, nothing for $null, else the value."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, Enumerable):
        return value.ps_items()
    return [value]


def is_true(value: Any) -> bool:
    """PowerShell's conversion to bool (about_Booleans)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    if isinstance(value, str):
        return value != ""
    if isinstance(value, list | tuple):
        if not value:
            return False
        return is_true(value[0]) if len(value) == 1 else True
    if isinstance(value, NetEnum):
        return value.value != 0
    return True


# ------------------------------------------------------------------------------------------------
# Strings


def format_number(value: float) -> str:
    """``Double.ToString()`` of .NET Framework: 15 significant digits, ``E+NN`` exponents."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    text = format(value, ".15g")
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = exponent[0]
        digits = exponent[1:].lstrip("0").rjust(2, "0")
        text = f"{mantissa}E{sign}{digits}"
    return text


def format_datetime(value: dt.datetime, fmt: str | None = None) -> str:
    """``DateTime.ToString(format)`` with the invariant culture (what ``[string]$date`` uses)."""
    if fmt is None or fmt == "G":
        return value.strftime("%m/%d/%Y %H:%M:%S")
    if fmt in ("o", "O"):
        # Round-trip: local times carry their offset, UTC ones end in Z (Standard date and time formats).
        ticks = f"{value.microsecond:06d}0"
        base = value.strftime("%Y-%m-%dT%H:%M:%S") + "." + ticks
        offset = value.utcoffset()
        if offset is None:
            return base
        if value.tzinfo is dt.UTC:
            return base + "Z"
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        return f"{base}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if fmt in ("s",):
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if fmt in ("u",):
        return value.strftime("%Y-%m-%d %H:%M:%SZ")
    if fmt == "d":
        return value.strftime("%m/%d/%Y")
    return _custom_datetime(value, fmt)


_DATE_TOKENS = re.compile(r"yyyy|yy|MMMM|MMM|MM|M|dddd|ddd|dd|d|HH|H|hh|h|mm|m|ss|s|fff|ff|f|tt|zzz|K|'[^']*'|.")


def _custom_datetime(value: dt.datetime, fmt: str) -> str:
    parts = []
    for token in _DATE_TOKENS.findall(fmt):
        table: dict[str, Callable[[], str]] = {
            "yyyy": lambda: f"{value.year:04d}",
            "yy": lambda: f"{value.year % 100:02d}",
            "MMMM": lambda: value.strftime("%B"),
            "MMM": lambda: value.strftime("%b"),
            "MM": lambda: f"{value.month:02d}",
            "M": lambda: str(value.month),
            "dddd": lambda: value.strftime("%A"),
            "ddd": lambda: value.strftime("%a"),
            "dd": lambda: f"{value.day:02d}",
            "d": lambda: str(value.day),
            "HH": lambda: f"{value.hour:02d}",
            "H": lambda: str(value.hour),
            "hh": lambda: f"{(value.hour % 12) or 12:02d}",
            "h": lambda: str((value.hour % 12) or 12),
            "mm": lambda: f"{value.minute:02d}",
            "m": lambda: str(value.minute),
            "ss": lambda: f"{value.second:02d}",
            "s": lambda: str(value.second),
            "fff": lambda: f"{value.microsecond // 1000:03d}",
            "ff": lambda: f"{value.microsecond // 10000:02d}",
            "f": lambda: str(value.microsecond // 100000),
            "tt": lambda: "AM" if value.hour < 12 else "PM",
            "zzz": lambda: _offset_text(value),
            "K": lambda: "Z" if value.tzinfo is dt.UTC else _offset_text(value),
        }
        if token in table:
            parts.append(table[token]())
        elif token.startswith("'") and token.endswith("'") and len(token) > 1:
            parts.append(token[1:-1])
        else:
            parts.append(token)
    return "".join(parts)


def _offset_text(value: dt.datetime) -> str:
    offset = value.utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _timespan_text(value: dt.timedelta) -> str:
    """``TimeSpan.ToString()``: ``[-][d.]hh:mm:ss[.fffffff]``."""
    ticks = (value.days * 86400 + value.seconds) * 10_000_000 + value.microseconds * 10
    sign = "-" if ticks < 0 else ""
    ticks = abs(ticks)
    days, rest = divmod(ticks, 864_000_000_000)
    hours, rest = divmod(rest, 36_000_000_000)
    minutes, rest = divmod(rest, 600_000_000)
    seconds, fraction = divmod(rest, 10_000_000)
    text = f"{sign}{str(days) + '.' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return text + (f".{fraction:07d}" if fraction else "")


def to_string(value: Any, ofs: str = " ") -> str:
    """PowerShell's ``[string]$value`` (about_Type_Conversion; arrays join with ``$OFS``, a space)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return ofs.join(to_string(item, ofs) for item in value)
    return _object_string(value, ofs)


def _object_string(value: Any, ofs: str) -> str:
    """``[string]`` of a value that is no number, string, array or $null."""
    if isinstance(value, NetEnum):
        return value.name
    if isinstance(value, dt.datetime):
        return format_datetime(value)
    if isinstance(value, dt.timedelta):
        return _timespan_text(value)
    if isinstance(value, NetObject):
        return value.ps_to_string()
    if isinstance(value, ScriptBlock):
        return value.text
    if isinstance(value, PSCustomObject):
        inner = "; ".join(f"{name}={to_string(item, ofs)}" for name, item in value.items())
        return "@{" + inner + "}"
    if isinstance(value, NetException):
        return value.message
    if isinstance(value, ErrorRecord):
        return value.exception.message
    if isinstance(value, bytes | bytearray):
        return " ".join(str(b) for b in value)
    text = getattr(value, "ps_to_string", None)
    if callable(text):
        return str(text())
    return type_name_of(value)


# ------------------------------------------------------------------------------------------------
# Numbers


def invalid_cast(value: Any, type_name: str, detail: str | None = None) -> ScriptError:
    """PowerShell's PSInvalidCastException text for a failed conversion."""
    shown = to_string(value) if isinstance(value, str | int | float | bool | Decimal) else type_name_of(value)
    if detail is None:
        message = f'Cannot convert value "{shown}" to type "{type_name}".'
        if isinstance(value, str):
            message = f'Cannot convert value "{shown}" to type "{type_name}". Error: "Input string was not in a correct format."'
        elif not isinstance(value, str | int | float | bool | Decimal):
            message = f'Cannot convert the "{shown}" value of type "{type_name_of(value)}" to type "{type_name}".'
    else:
        message = f'Cannot convert value "{shown}" to type "{type_name}". Error: "{detail}"'
    error_id = "InvalidCastFromStringToInteger" if isinstance(value, str) else "ConvertToFinalInvalidCastException"
    return runtime_error(
        message,
        error_id,
        "InvalidArgument",
        exception_type="System.Management.Automation.PSInvalidCastException",
        target=value,
    )


_NUMBER = re.compile(r"^\s*([+-]?)(0x[0-9a-f]+|\d*\.?\d+(?:e[+-]?\d+)?)(kb|mb|gb|tb|pb)?\s*$", re.IGNORECASE)
_MULTIPLIERS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}


def to_number(value: Any) -> int | float | Decimal:
    """The number an operand stands for in arithmetic (strings are parsed as PowerShell literals)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, NetEnum):
        return value.value
    if isinstance(value, str):
        if value.strip() == "":
            return 0
        match = _NUMBER.match(value)
        if not match:
            raise invalid_cast(value, "System.Int32")
        sign, digits, suffix = match.groups()
        number: int | float
        if digits.lower().startswith("0x"):
            number = int(digits, 16)
        elif "." in digits or "e" in digits.lower():
            number = float(digits)
        else:
            number = int(digits)
        if suffix:
            number = number * _MULTIPLIERS[suffix.lower()]
        return -number if sign == "-" else number
    if isinstance(value, dt.timedelta):
        raise invalid_cast(value, "System.Int32")
    raise invalid_cast(value, "System.Int32")


# ------------------------------------------------------------------------------------------------
# Comparison


def equals(left: Any, right: Any, case_sensitive: bool = False) -> bool:
    """``left -eq right`` for a scalar left operand: the right converted to the left's type."""
    if left is None:
        return right is None
    if right is None:
        return False
    if isinstance(left, str):
        text = to_string(right) if not isinstance(right, list | tuple) else to_string(right)
        return left == text if case_sensitive else left.lower() == text.lower()
    if isinstance(left, bool):
        return left == is_true(right)
    if isinstance(left, int | float | Decimal):
        try:
            number = to_number(right) if not isinstance(right, list | tuple) else None
        except ScriptError:
            return False
        if number is None:
            return False
        return float(left) == float(number) if isinstance(left, float) or isinstance(number, float) else left == number
    if isinstance(left, NetEnum):
        if isinstance(right, NetEnum):
            return left.value == right.value and left.type_name == right.type_name
        if isinstance(right, str):
            return left.name.lower() == right.lower()
        if isinstance(right, int):
            return left.value == right
        return False
    if isinstance(left, dt.datetime) and isinstance(right, dt.datetime):
        return left == right
    if isinstance(left, dt.timedelta) and isinstance(right, dt.timedelta):
        return left == right
    return left is right or (type(left) is type(right) and left == right and not isinstance(left, Hashtable))


def compare(left: Any, right: Any, case_sensitive: bool = False) -> int:
    """Ordering for ``-lt``/``-gt``/``-le``/``-ge`` and Sort-Object: -1, 0 or 1."""
    if isinstance(left, str) or (left is None and isinstance(right, str)):
        a = to_string(left)
        b = to_string(right)
        if not case_sensitive:
            a, b = a.lower(), b.lower()
        return (a > b) - (a < b)
    if left is None:
        return 0 if right is None else -1
    if isinstance(left, int | float | Decimal | bool | NetEnum):
        if right is None:
            return 1
        x = to_number(left)
        y = to_number(right)
        return (x > y) - (x < y)
    if isinstance(left, dt.datetime | dt.timedelta):
        if type(right) is not type(left):
            raise invalid_cast(right, type_name_of(left))
        return (left > right) - (left < right)  # type: ignore[operator]
    a, b = to_string(left), to_string(right)
    return (a.lower() > b.lower()) - (a.lower() < b.lower())


def like_pattern(pattern: str, case_sensitive: bool = False) -> re.Pattern[str]:
    """A ``-like`` wildcard (about_Wildcards: ``*``, ``?``, ``[a-z]``, backtick escapes) as a regex."""
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "`" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end < 0:
                out.append(re.escape(char))
            else:
                out.append("[" + pattern[index + 1 : end].replace("\\", "\\\\") + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.DOTALL | (0 if case_sensitive else re.IGNORECASE))


_NAMED_GROUP = re.compile(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>")
_NAMED_REF = re.compile(r"\\k<([A-Za-z_][A-Za-z0-9_]*)>")
_SHORTHAND_DASH = re.compile(r"(?<!\\)(\\[wWdDsS])-(?!\])")


def convert_regex(pattern: str, case_sensitive: bool = False) -> re.Pattern[str]:
    """A .NET regular expression as a Python one (named groups ``(?<n>)``; otherwise the same syntax)."""
    return _compile_regex(pattern, case_sensitive)


_REGEX_CACHE: dict[tuple[str, bool], re.Pattern[str]] = {}


def _compile_regex(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    key = (pattern, case_sensitive)
    cached = _REGEX_CACHE.get(key)
    if cached is not None:
        return cached
    python = _NAMED_REF.sub(r"(?P=\1)", _NAMED_GROUP.sub(r"(?P<\1>", pattern))
    # .NET reads `[\w-.]` as \w, '-' and '.'; Python refuses the range: escape a '-' after a class shorthand.
    python = _SHORTHAND_DASH.sub(r"\1\\-", python)
    try:
        compiled = re.compile(python, 0 if case_sensitive else re.IGNORECASE)
    except re.error as error:
        raise runtime_error(
            f"The regular expression pattern {pattern} is not valid.",
            "InvalidRegularExpression",
            "InvalidOperation",
            target=pattern,
        ) from error
    if len(_REGEX_CACHE) > 512:
        _REGEX_CACHE.clear()  # patterns built at run time must not grow the lab's memory without bound
    _REGEX_CACHE[key] = compiled
    return compiled


# ------------------------------------------------------------------------------------------------
# -f


_FORMAT_ITEM = re.compile(r"\{\{|\}\}|\{(\d+)(?:\s*,\s*(-?\d+))?(?::([^}]*))?\}")


def format_operator(fmt: str, args: list[Any]) -> str:
    """.NET composite formatting (``'{0,-10:N2}' -f $x``)."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "{{":
            return "{"
        if match.group(0) == "}}":
            return "}"
        index = int(match.group(1))
        if index >= len(args):
            raise runtime_error(
                "Error formatting a string: Index (zero based) must be greater than or equal to zero and less than "
                "the size of the argument list..",
                "FormatError",
                "InvalidOperation",
                target=fmt,
            )
        text = _format_item(args[index], match.group(3))
        width = match.group(2)
        if width:
            size = int(width)
            text = text.ljust(-size) if size < 0 else text.rjust(size)
        return text

    return _FORMAT_ITEM.sub(replace, fmt)


def _format_item(value: Any, spec: str | None) -> str:
    if not spec:
        return to_string(value)
    if isinstance(value, dt.datetime):
        return format_datetime(value, spec)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return to_string(value)
    kind, digits = spec[0], spec[1:]
    precision = int(digits) if digits.isdigit() else None
    upper = kind.upper()
    if upper == "N":
        return f"{value:,.{2 if precision is None else precision}f}"
    if upper == "F":
        return f"{value:.{2 if precision is None else precision}f}"
    if upper == "D" and isinstance(value, int):
        return str(value).rjust(precision or 0, "0") if value >= 0 else "-" + str(-value).rjust(precision or 0, "0")
    if upper == "X" and isinstance(value, int):
        text = format(value, "x" if kind == "x" else "X")
        return text.rjust(precision or 0, "0")
    if upper == "P":
        return f"{value * 100:,.{2 if precision is None else precision}f} %"
    if set(spec) <= set("0#.,"):
        decimals = len(spec.split(".")[1]) if "." in spec else 0
        return f"{value:{',' if ',' in spec else ''}.{decimals}f}"
    return to_string(value)
