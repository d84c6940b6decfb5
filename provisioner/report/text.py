"""Host text made inert for the terminal and for XML (security review F7).

Strings that come from hosts (error messages, daemon.json values, docker's output) are data. On
a terminal, ESC, CSI (U+009B) and the other C0/C1 controls are commands: a host could clear the
screen, set the window title, or forge a line (CR rewrites the one shown). In XML 1.0 the C0
controls other than TAB, LF and CR are not allowed at all, so one of them makes junit.xml
unreadable. Both functions show such a character as its Python escape (``\\x1b``), so nothing
is lost for the reader and nothing is executed.
"""

from __future__ import annotations

import re

__all__ = ["inert", "xml_safe"]

_TERMINAL = re.compile(
    "["
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but TAB and LF, DEL, C1 (CSI is U+009B, OSC U+009D)
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidirectional controls: text shown in another order
    "\ud800-\udfff"  # lone surrogates: not encodable, printing one would raise UnicodeEncodeError
    "]"
)
_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(text: str) -> str:
    """``text`` with every terminal control character escaped; LF and TAB kept."""
    return _TERMINAL.sub(_escape, text)


def xml_safe(text: str) -> str:
    """``text`` with the characters XML 1.0 forbids escaped, so the document stays well-formed."""
    return _XML.sub(_escape, text)
