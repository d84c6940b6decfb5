"""tree-sitter-powershell helpers shared by the core tests (DESIGN section 5).

- :func:`parse` and :func:`problems`: ERROR and MISSING nodes (``has_error`` alone can miss MISSING);
- :func:`decode_verbatim`: PowerShell's own rule for a single-quoted string, written from the
  tokenizer's behaviour, independent of provisioner.render;
- :func:`evaluate`: the value of a literal expression (strings, numbers, $true/$false/$null,
  ``@(...)``, the unary comma, ``[ordered]@{...}``), so a rendered literal can be compared with
  the Python value it came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import tree_sitter as ts
import tree_sitter_powershell as tsp

# PowerShell treats all five as single quotes (DESIGN 4.9); tree-sitter knows only the first.
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


@lru_cache(maxsize=1)
def parser() -> ts.Parser:
    return ts.Parser(ts.Language(tsp.language()))


def parse(source: str) -> ts.Tree:
    return parser().parse(source.encode("utf-8"))


def walk(node: ts.Node) -> Iterator[ts.Node]:
    """Every node under ``node`` (itself included), depth first, named and anonymous."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


def text(node: ts.Node) -> str:
    return node.text.decode("utf-8") if node.text is not None else ""


def problems(source: str) -> list[str]:
    """ERROR and MISSING nodes of ``source``, each as "line:col kind 'text'" (1-based)."""
    found = []
    for node in walk(parse(source).root_node):
        if node.type == "ERROR" or node.is_missing:
            kind = "MISSING " + node.type if node.is_missing else "ERROR"
            row, col = node.start_point
            found.append(f"{row + 1}:{col + 1} {kind} {text(node)[:80]!r}")
    return found


def decode_verbatim(literal: str) -> str:
    """The value PowerShell gives a single-quoted string token (the quotes included in ``literal``).

    PowerShell's tokenizer: inside '...', a single-quote character (any of the five) followed by
    another single-quote character stands for that second character; a single-quote character
    followed by anything else ends the string. Everything else is literal: no escapes, no
    variables. Raises ValueError when ``literal`` is not exactly one such token.
    """
    if len(literal) < 2 or literal[0] not in SINGLE_QUOTES:
        raise ValueError(f"not a single-quoted string: {literal!r}")
    out = []
    i = 1
    while i < len(literal):
        char = literal[i]
        if char in SINGLE_QUOTES:
            if i + 1 < len(literal) and literal[i + 1] in SINGLE_QUOTES:
                out.append(literal[i + 1])
                i += 2
                continue
            if i != len(literal) - 1:
                raise ValueError(f"string ends at offset {i}, before the end of {literal!r}")
            return "".join(out)
        out.append(char)
        i += 1
    raise ValueError(f"unterminated string: {literal!r}")


def named_children(node: ts.Node) -> list[ts.Node]:
    return [c for c in node.children if c.is_named and c.type != "comment"]


def _unwrap(node: ts.Node) -> ts.Node:
    """Skip the single-child wrappers the grammar puts around every expression."""
    while True:
        kids = node.children
        if node.type in {
            "string_literal",
            "integer_literal",
            "real_literal",
            "variable",
            "array_expression",
            "hash_literal_expression",
            "cast_expression",
            "expression_with_unary_operator",
        }:
            return node
        if len(kids) == 1:
            node = kids[0]
            continue
        return node


class NotALiteral(ValueError):
    pass


def evaluate(node: ts.Node) -> Any:
    """The value of a literal expression tree; NotALiteral for anything else."""
    node = _unwrap(node)
    kind = node.type
    if kind == "string_literal":
        kids = node.children
        if len(kids) != 1 or kids[0].type != "verbatim_string_characters":
            raise NotALiteral(f"not a single-quoted string: {text(node)!r}")
        return decode_verbatim(text(node))
    if kind == "integer_literal":
        return int(text(node))
    if kind == "real_literal":
        return float(text(node))
    if kind == "variable":
        name = text(node).lower()
        constants = {"$true": True, "$false": False, "$null": None}
        if name not in constants:
            raise NotALiteral(f"variable {text(node)} is not a constant")
        return constants[name]
    if kind == "expression_with_unary_operator":
        return _unary(node)
    if kind == "array_literal_expression":
        return [evaluate(c) for c in named_children(node)]
    if kind == "array_expression":
        return _array_expression(node)
    if kind == "cast_expression":
        return _ordered(node)
    if kind == "hash_literal_expression":
        return _hash(node)
    raise NotALiteral(f"{kind}: {text(node)[:60]!r}")


def _unary(node: ts.Node) -> Any:
    """``,x`` (a one-element array), ``-n``, or the lone cast the grammar wraps ``[ordered]@{...}`` in."""
    if node.child_count == 1:  # [ordered]@{...} sits here as a lone cast_expression
        return evaluate(node.children[0])
    op, operand = node.children[0], node.children[-1]
    if op.type == ",":
        return [evaluate(operand)]
    if op.type == "-":
        value = evaluate(operand)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise NotALiteral(f"unary minus on {value!r}")
        return -value
    raise NotALiteral(f"unary operator {op.type}")


def _array_expression(node: ts.Node) -> list[Any]:
    """``@()`` or ``@(x)``: x when x is already an array, else a one-element array."""
    inner = [c for c in node.children if c.type == "statement_list"]
    if not inner:
        return []
    statements = named_children(inner[0])
    if len(statements) != 1:
        raise NotALiteral(f"@() with {len(statements)} statements")
    value = evaluate(statements[0])
    return value if isinstance(value, list) else [value]


def _ordered(node: ts.Node) -> dict[Any, Any]:
    """``[ordered]@{...}``, the only cast a literal may hold."""
    type_literal, operand = node.children[0], node.children[-1]
    if text(type_literal).lower() != "[ordered]":
        raise NotALiteral(f"cast {text(type_literal)}")
    operand = _unwrap(operand)
    if operand.type != "hash_literal_expression":
        raise NotALiteral("[ordered] on something other than @{}")
    return _hash(operand)


def _hash(node: ts.Node) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    body = [c for c in node.children if c.type == "hash_literal_body"]
    for entry in named_children(body[0]) if body else []:
        if entry.type != "hash_entry":
            raise NotALiteral(f"hash body holds {entry.type}")
        key_node = next(c for c in entry.children if c.type == "key_expression")
        value_node = next(c for c in entry.children if c.type == "pipeline")
        key = evaluate(key_node)
        if key in result:
            raise NotALiteral(f"duplicate key {key!r}")
        result[key] = evaluate(value_node)
    return result


def assignment_value(source: str) -> ts.Node:
    """The right-hand side of the single statement ``$x = <value>``."""
    root = parse(source).root_node
    statements = named_children(named_children(root)[0])
    if len(statements) != 1:
        raise NotALiteral(f"{len(statements)} statements")
    assignment = _unwrap(statements[0])
    if assignment.type != "assignment_expression":
        raise NotALiteral(f"not an assignment: {assignment.type}")
    return assignment.children[-1]
