"""Ansible's INI inventory format, read as ansible-core's ``ini`` plugin reads it.

Lines before the first section are hosts of ``ungrouped``; ``[g]`` holds host lines
(``name[:port] key=value ...``, shell-quoted, ``#`` comments), ``[g:vars]`` one ``key=value``
per line, ``[g:children]`` group names (which may be declared later in the file). Values go
through Python's ``ast.literal_eval`` as in Ansible (``ansible_port=5986`` is a number, ``'05'``
text); what is no literal stays text. Positions are kept so errors name the line.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provisioner.errors import InputError, KeyPath, LoadError
from provisioner.yamlsrc import Located

__all__ = ["IniSource", "parse_ini"]

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")


@dataclass
class IniSource:
    """The statements of one INI file, in order, for the inventory builder; each names its path in ``doc``."""

    doc: Located
    statements: list[tuple[str, tuple[Any, ...], KeyPath]] = field(default_factory=list)
    """``("group", (name,), path)``, ``("child", (parent, child), path)``,
    ``("host", (group, key, vars), path)``, ``("var", (group, key, value), path)``."""


def _value(text: str) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _plain(value)


def _plain(value: Any) -> Any:
    """literal_eval's result as YAML-like data: tuples and sets become lists; bytes, complex and ... text."""
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is ... or isinstance(value, (complex, bytes)):
        return str(value)
    return value


def parse_ini(file: Path, text: str) -> IniSource:
    """Parse INI inventory text; a line Ansible would refuse is an InputError naming the line."""
    parser = _IniParser(file)
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        section = _SECTION.match(line)
        if section:
            parser.section(number, section.group(1), section.group(2) or "hosts")
        elif line.startswith("[") and line.endswith("]"):
            parser.error(number, (), f"invalid section {line[:60]!r}: no spaces in section names")
        elif parser.state == "hosts":
            parser.host_line(number, raw, line)
        elif parser.state == "vars":
            parser.var_line(number, line)
        else:
            parser.child_line(number, line)
    for line_number, message in parser.pending.values():
        parser.error(line_number, (), message)
    if parser.errors:
        raise InputError(parser.errors)
    return parser.source


class _IniParser:
    """The state of one INI file's parse: the current section, the groups declared so far, and the
    groups referenced before (or without) being declared."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.doc = Located(file=file, data=None)
        self.source = IniSource(self.doc)
        self.errors: list[LoadError] = []
        self.group, self.state = "ungrouped", "hosts"
        self.declared: set[str] = {"all", "ungrouped"}
        self.pending: dict[str, tuple[int, str]] = {}  # group referenced before being declared -> (line, how)

    def add(self, kind: str, args: tuple[Any, ...], path: KeyPath, line: int, column: int = 1) -> None:
        self.doc.marks.setdefault(path, (line, column))
        self.source.statements.append((kind, args, path))

    def error(self, line: int, path: KeyPath, message: str) -> None:
        self.errors.append(LoadError(self.file, line, 1, path, message))

    def section(self, number: int, group: str, kind: str) -> None:
        """``[group]``, ``[group:children]`` or ``[group:vars]``."""
        self.group = group
        if kind not in ("hosts", "children", "vars"):
            self.error(number, (), f"section [{group}:{kind}] has unknown type {kind!r}")
            return
        self.state = kind
        if kind != "vars":
            self.declared.add(group)
            self.pending.pop(group, None)
        elif group not in self.declared and group not in self.pending:
            self.pending[group] = (number, f"section [{group}:vars] is for a group that is never declared")
        self.add("group", (group,), (group,), number)

    def host_line(self, number: int, raw: str, line: str) -> None:
        """``host key=value ...`` (shell-like quoting, a ``#`` comment allowed)."""
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            self.error(number, (), f"cannot split the host line: {exc}")
            return
        if not tokens:
            return
        key = tokens[0]
        if key == "---":
            self.error(number, (), "'---' is the start of a YAML document, not a host")
            return
        host_vars: dict[str, Any] = {}
        for token in tokens[1:]:
            name, equals, value = token.partition("=")
            if not equals:
                self.error(number, (key,), f"expected key=value after the host, got {token[:60]!r}")
                break
            host_vars[name] = _value(value)
            self.doc.marks[(self.group, "hosts", key, name)] = (number, raw.find(name) + 1 if name in raw else 1)
        self.add("host", (self.group, key, host_vars), (self.group, "hosts", key), number)

    def var_line(self, number: int, line: str) -> None:
        """``key=value`` in a ``[group:vars]`` section."""
        name, equals, value = line.partition("=")
        if not equals:
            self.error(number, (self.group, "vars"), f"expected key=value, got {line[:60]!r}")
            return
        self.add("var", (self.group, name.strip(), _value(value.strip())), (self.group, "vars", name.strip()), number)

    def child_line(self, number: int, line: str) -> None:
        """A group name in a ``[group:children]`` section."""
        match = _GROUP_NAME.match(line)
        if not match:
            self.error(number, (self.group, "children"), f"expected a group name, got {line[:60]!r}")
            return
        child = match.group(1)
        if child not in self.declared and child not in self.pending:
            self.pending[child] = (
                number,
                f"section [{self.group}:children] names group {child!r}, which is never declared",
            )
        self.add("child", (self.group, child), (self.group, "children", child), number)
