"""How the console host shows objects and errors (Out-Default, Out-String), in Windows PowerShell 5.1's shapes.

Errors: the message (prefixed ``<command> : `` for a cmdlet's error), the position message (``At line:N
char:M``, the line, ``~`` under the extent: Position.cs), then ``+ CategoryInfo`` and ``+
FullyQualifiedErrorId`` lines (about_Error_Handling's and Write-Error's examples show this layout).
Objects: strings and numbers as text; hashtables as a Name/Value table; objects with up to four properties
as a table, more as a list (about_Format.ps1xml: "the default ... table if fewer than five properties").
The lab has no format.ps1xml views: objects a view would show differently are shown by their properties.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .api import ErrorRecord, NetEnum, NetException, NetObject
from .syntax import verbose_position
from .values import Hashtable, PSCustomObject

if TYPE_CHECKING:
    from .session import Session

__all__ = ["error_text", "format_objects", "table_shape"]


def error_text(session: Session, record: ErrorRecord) -> str:
    """The error view of an uncaught ErrorRecord, as powershell.exe writes it to its error stream."""
    from .members import CategoryInfoView, fully_qualified_error_id

    message = record.exception.message
    command = record.command_name
    extent = getattr(record, "_position", None)
    lines = []
    # The view starts with the invocation's name: the cmdlet, or the name that was not recognized.
    invoked = getattr(record, "_invoked", None) or command
    lines.append(f"{invoked} : {message}" if invoked else message)
    if extent is not None:
        source_lines = re.split(r"\r\n|\r|\n", extent.source.text)
        lines.append(verbose_position(source_lines, extent.problem()))
    category = CategoryInfoView(record).ps_to_string()
    category = category.replace(" (", ": (", 1)
    lines.append(f"    + CategoryInfo          : {category}")
    lines.append(f"    + FullyQualifiedErrorId : {fully_qualified_error_id(record)}")
    lines.append(" ")
    return "\n".join(lines) + "\n"


def _date_text(value: dt.datetime) -> str:
    """Out-Default's DateTime: the en-US long date and long time."""
    hour = value.hour % 12 or 12
    suffix = "AM" if value.hour < 12 else "PM"
    return (
        value.strftime("%A, %B ") + f"{value.day}, {value.year} {hour}:{value.minute:02d}:{value.second:02d} {suffix}"
    )


def table_shape(value: Any) -> tuple[str, ...] | None:
    """The columns of an object Out-Default shows as a table (a custom object of one to four properties)."""
    if isinstance(value, PSCustomObject) and 0 < len(value.properties) <= 4:
        return tuple(name for name, _ in value.items())
    return None


def format_objects(session: Session, objects: list[Any]) -> str:
    """Out-String of a list of objects: the text the console would show, lines ending in LF. Consecutive
    objects of one table shape share a table, as Format-Table groups them."""
    from .members import properties_of

    chunks: list[str] = []
    index = 0
    while index < len(objects):
        shape = table_shape(objects[index])
        if shape is not None:
            end = index
            while end < len(objects) and table_shape(objects[end]) == shape:
                end += 1
            group = objects[index:end]
            rows = [[_cell(session, v) for _, v in obj.items()] for obj in group]
            # Numbers are right-aligned, header included (Format-Table's default alignment).
            right = [
                all(
                    isinstance(obj.items()[i][1], int | float | Decimal) and not isinstance(obj.items()[i][1], bool)
                    for obj in group
                )
                for i in range(len(shape))
            ]
            chunks.append(_table(list(shape), rows, right=right))
            index = end
            continue
        value = objects[index]
        index += 1
        if value is None:
            continue
        if isinstance(value, str):
            chunks.append(value + "\n")
        elif isinstance(value, bool | int | float | NetEnum):
            chunks.append(session.to_string(value) + "\n")
        elif isinstance(value, dt.datetime):
            chunks.append("\n" + _date_text(value) + "\n\n\n")
        elif isinstance(value, ErrorRecord):
            chunks.append(error_text(session, value))
        elif isinstance(value, Hashtable):
            chunks.append(
                _table(
                    ["Name", "Value"],
                    [[session.to_string(k), _cell(session, v)] for k, v in value.items()],
                    widths=[30],
                )
            )
        elif isinstance(value, list):
            chunks.append(format_objects(session, value))
        elif isinstance(value, PSCustomObject | NetObject | NetException | dt.timedelta):
            props = properties_of(session, value)
            if not props:
                chunks.append(session.to_string(value) + "\n")
            else:
                width = max(len(n) for n, _ in props)
                body = "".join(f"{n.ljust(width)} : {_cell(session, v)}\n" for n, v in props)
                chunks.append("\n" + body + "\n")
        else:
            chunks.append(session.to_string(value) + "\n")
    return "".join(chunks)


def _cell(session: Session, value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(session.to_string(v) for v in value[:4])
        return "{" + shown + ("..." if len(value) > 4 else "") + "}"
    if isinstance(value, Hashtable):
        return "{" + ", ".join(session.to_string(k) for k in list(value.keys())[:4]) + "}"
    return session.to_string(value)


def _table(
    headers: list[str], rows: list[list[str]], widths: list[int] | None = None, right: list[bool] | None = None
) -> str:
    columns = len(headers)
    sizes = []
    for index in range(columns):
        size = max([len(headers[index])] + [len(row[index]) for row in rows])
        if widths and index < len(widths):
            size = max(size, widths[index])
        sizes.append(size)

    def line(cells: list[str]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            if right and right[i]:
                parts.append(cell.rjust(sizes[i]))
            else:
                parts.append(cell.ljust(sizes[i]) if i < columns - 1 else cell)
        return " ".join(parts).rstrip() + "\n"

    out = ["\n", line(headers), line(["-" * len(h) for h in headers])]
    out += [line(row) for row in rows]
    out.append("\n")
    return "".join(out)
