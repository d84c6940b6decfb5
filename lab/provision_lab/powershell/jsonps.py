"""ConvertTo-Json and ConvertFrom-Json as Windows PowerShell 5.1 has them.

5.1 serialises with .NET's JavaScriptSerializer and re-indents its output itself (ConvertTo-Json,
reference/5.1 cmdlet page; the layout is shown in PowerShell/PowerShell issue #2736, which PowerShell 6
changed): a nested object or array opens where its value starts and its members are indented four columns
past that, ``"key":  value`` has two spaces after the colon, lines end in CR LF. Depth defaults to 2; a
value nested deeper is written as its ``ToString()`` (for a hashtable ``"System.Collections.Hashtable"``),
without the warning PowerShell 7.1 added. Enums are written as their numbers; ``<``, ``>``, ``&`` and
``'`` are escaped as ``\\u003c`` and so on, as JavaScriptSerializer does; DateTime is ``"\\/Date(ms)\\/"``.
ConvertFrom-Json returns PSCustomObjects and writes a JSON array as one object (not unrolled: a known
5.1 behaviour PowerShell 7 changed).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from . import convert as cv
from .api import ErrorRecord, NetEnum, NetException, NetObject
from .errors import runtime_error
from .values import Hashtable, PSCustomObject, ScriptBlock

if TYPE_CHECKING:
    from .session import Session

__all__ = ["from_json", "to_json"]

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
}


def _string(text: str) -> str:
    out = ['"']
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _number(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return _string(cv.format_number(value))
        text = repr(value)
        if text.endswith(".0"):
            text = text[:-2]
        return text.replace("e+", "E+").replace("e-", "E-")
    return str(value)


def _tree(session: Session, value: Any, depth: int, limit: int) -> Any:
    """The value as JSON-ready parts: ("obj", [(k, v)]) / ("arr", [v]) / ("lit", text)."""
    from .members import properties_of

    if value is None:
        return ("lit", "null")
    if isinstance(value, bool):
        return ("lit", "true" if value else "false")
    if isinstance(value, int | float | Decimal):
        return ("lit", _number(value))
    if isinstance(value, str):
        return ("lit", _string(value))
    if isinstance(value, NetEnum):
        return ("lit", str(value.value))
    if isinstance(value, dt.datetime):
        millis = int(value.timestamp() * 1000)
        return ("lit", f'"\\/Date({millis})\\/"')
    if isinstance(value, ScriptBlock):
        return ("lit", _string(value.text))
    if isinstance(value, list | tuple | bytes | bytearray):
        if depth > limit:
            return ("lit", _string(session.to_string(value)))
        return ("arr", [_tree(session, item, depth + 1, limit) for item in value])
    if depth > limit:
        return ("lit", _string(session.to_string(value)))
    if isinstance(value, Hashtable):
        return ("obj", [(session.to_string(k), _tree(session, v, depth + 1, limit)) for k, v in value.items()])
    if isinstance(value, PSCustomObject | NetObject | NetException | ErrorRecord | dt.timedelta):
        return ("obj", [(k, _tree(session, v, depth + 1, limit)) for k, v in properties_of(session, value)])
    return ("lit", _string(session.to_string(value)))


def _compact(node: Any) -> str:
    kind, body = node
    if kind == "lit":
        return str(body)
    if kind == "arr":
        return "[" + ",".join(_compact(item) for item in body) + "]"
    return "{" + ",".join(f"{_string(k)}:{_compact(v)}" for k, v in body) + "}"


def _pretty(node: Any, column: int) -> str:
    """5.1's layout: members at ``column + 4``, the closing bracket at ``column``."""
    kind, body = node
    if kind == "lit":
        return str(body)
    inner = " " * (column + 4)
    close = " " * column
    if kind == "arr":
        if not body:
            return "[\r\n\r\n" + close + "]"
        items = [inner + _pretty(item, column + 4) for item in body]
        return "[\r\n" + ",\r\n".join(items) + "\r\n" + close + "]"
    if not body:
        return "{\r\n\r\n" + close + "}"
    members = []
    for key, value in body:
        prefix = f"{_string(key)}:  "
        members.append(inner + prefix + _pretty(value, column + 4 + len(prefix)))
    return "{\r\n" + ",\r\n".join(members) + "\r\n" + close + "}"


def to_json(session: Session, value: Any, depth: int = 2, compress: bool = False) -> str:
    tree = _tree(session, value, 0, depth)
    return _compact(tree) if compress else _pretty(tree, 0)


def _convert(value: Any) -> Any:
    if isinstance(value, dict):
        return PSCustomObject({k: _convert(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return Decimal(value)
    return value


def from_json(session: Session, text: str) -> Any:
    """Parse JSON as 5.1 does (JavaScriptSerializer): objects become PSCustomObjects."""
    try:
        parsed = json.loads(
            text, parse_float=lambda s: Decimal(s) if "e" not in s.lower() and len(s) > 17 else float(s)
        )
    except json.JSONDecodeError as error:
        raise runtime_error(
            f"Invalid JSON primitive: {text[error.pos : error.pos + 20].split()[0] if text[error.pos :].split() else ''}.",
            "System.ArgumentException,Microsoft.PowerShell.Commands.ConvertFromJsonCommand",
            "NotSpecified",
            exception_type="System.ArgumentException",
            bases=("System.SystemException", "System.Exception"),
        ) from None
    return _convert(parsed)
