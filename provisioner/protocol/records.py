"""The read side of the ``@@provision`` record protocol (DESIGN 4.1); the write side is prelude.ps1.j2.

Robust to what real hosts send: CRLF line ends, a UTF-8 BOM, log lines between records, and
CLIXML on stderr (Windows PowerShell serialises error and progress streams as ``#< CLIXML``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RECORD_PREFIX", "Record", "ScriptOutput", "decode_clixml", "parse_output"]

RECORD_PREFIX = "@@provision "


@dataclass(frozen=True)
class Record:
    """What one block reported."""

    id: str
    ok: bool
    changed: bool = False
    reboot_required: bool = False
    data: Any = None
    error: dict[str, Any] | None = None
    skipped: str | None = None

    @property
    def message(self) -> str:
        if self.error:
            return str(self.error.get("message", "")) or "error"
        return self.skipped or ""


@dataclass(frozen=True)
class ScriptOutput:
    """Records keyed by block id, in order, plus the log lines that were not records."""

    records: dict[str, Record] = field(default_factory=dict)
    logs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Lines that looked like records but were not valid ones."""


def _record(obj: Any) -> Record:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str) or not isinstance(obj.get("ok"), bool):
        raise ValueError("a record needs a text id and a boolean ok")
    error = obj.get("error")
    return Record(
        id=obj["id"],
        ok=obj["ok"],
        changed=bool(obj.get("changed", False)),
        reboot_required=bool(obj.get("reboot_required", False)),
        data=obj.get("data"),
        error=error if isinstance(error, dict) else None,
        skipped=obj.get("skipped") or None,
    )


def parse_output(stdout: str) -> ScriptOutput:
    """Split stdout into records and log lines.

    Lines end at LF (an optional CR before it is dropped) and nowhere else. ``str.splitlines`` would
    also split at U+2028, U+2029, U+0085, VT, FF and FS/GS/RS, which a JSON writer leaves raw inside
    strings (ConvertTo-Json does for the first three), so one such character in any value a host
    reports (a daemon.json label, a path) cut its record in two and made the host unmanageable
    (security review F5).
    """
    out = ScriptOutput()
    for raw in stdout.lstrip("\ufeff").split("\n"):
        line = raw.rstrip("\r").lstrip("\ufeff")
        if not line.startswith(RECORD_PREFIX):
            if line.strip():
                out.logs.append(line)
            continue
        try:
            record = _record(json.loads(line[len(RECORD_PREFIX) :]))
        except ValueError as exc:
            out.problems.append(f"unreadable record ({exc}): {line[:200]}")
            continue
        out.records[record.id] = record
    return out


_CLIXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def decode_clixml(stderr: str) -> str:
    """Readable text from PowerShell's ``#< CLIXML`` stderr; other text is returned unchanged.

    Keeps the Error, Warning and other string streams; drops progress records, which carry no
    message (pywinrm's ``_clean_error_msg`` does the same: winrm-protocol.md section 5).
    """
    text = stderr.lstrip("\ufeff")
    if not text.startswith("#< CLIXML"):
        return stderr
    lines: list[str] = []
    for chunk in re.split(r"#< CLIXML\r?\n?", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        try:
            root = ET.fromstring(chunk)
        except ET.ParseError:
            lines.append(chunk)
            continue
        for element in root:
            if element.tag.rsplit("}", 1)[-1] == "S" and element.text:
                lines.append(_CLIXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), element.text))
    return "".join(lines).strip()
