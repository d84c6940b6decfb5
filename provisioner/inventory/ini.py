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
    doc = Located(file=file, data=None)
    source = IniSource(doc)
    errors: list[LoadError] = []
    group, state = "ungrouped", "hosts"
    declared: set[str] = {"all", "ungrouped"}
    pending: dict[str, tuple[int, str]] = {}  # group referenced before being declared -> (line, how)

    def add(kind: str, args: tuple[Any, ...], path: KeyPath, line: int, column: int = 1) -> None:
        doc.marks.setdefault(path, (line, column))
        source.statements.append((kind, args, path))

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        section = _SECTION.match(line)
        if section:
            group, kind = section.group(1), section.group(2) or "hosts"
            if kind not in ("hosts", "children", "vars"):
                errors.append(LoadError(file, number, 1, (), f"section [{group}:{kind}] has unknown type {kind!r}"))
                continue
            state = kind
            if kind != "vars":
                declared.add(group)
                pending.pop(group, None)
            elif group not in declared and group not in pending:
                pending[group] = (number, f"section [{group}:vars] is for a group that is never declared")
            add("group", (group,), (group,), number)
            continue
        if line.startswith("[") and line.endswith("]"):
            errors.append(LoadError(file, number, 1, (), f"invalid section {line[:60]!r}: no spaces in section names"))
            continue
        if state == "hosts":
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError as exc:
                errors.append(LoadError(file, number, 1, (), f"cannot split the host line: {exc}"))
                continue
            if not tokens:
                continue
            key = tokens[0]
            if key == "---":
                errors.append(LoadError(file, number, 1, (), "'---' is the start of a YAML document, not a host"))
                continue
            host_vars: dict[str, Any] = {}
            for token in tokens[1:]:
                name, equals, value = token.partition("=")
                if not equals:
                    errors.append(
                        LoadError(file, number, 1, (key,), f"expected key=value after the host, got {token[:60]!r}")
                    )
                    break
                host_vars[name] = _value(value)
                doc.marks[(group, "hosts", key, name)] = (number, raw.find(name) + 1 if name in raw else 1)
            add("host", (group, key, host_vars), (group, "hosts", key), number)
        elif state == "vars":
            name, equals, value = line.partition("=")
            if not equals:
                errors.append(LoadError(file, number, 1, (group, "vars"), f"expected key=value, got {line[:60]!r}"))
                continue
            add("var", (group, name.strip(), _value(value.strip())), (group, "vars", name.strip()), number)
        else:
            match = _GROUP_NAME.match(line)
            if not match:
                errors.append(
                    LoadError(file, number, 1, (group, "children"), f"expected a group name, got {line[:60]!r}")
                )
                continue
            child = match.group(1)
            if child not in declared and child not in pending:
                pending[child] = (number, f"section [{group}:children] names group {child!r}, which is never declared")
            add("child", (group, child), (group, "children", child), number)
    for line_number, message in pending.values():
        errors.append(LoadError(file, line_number, 1, (), message))
    if errors:
        raise InputError(errors)
    return source
