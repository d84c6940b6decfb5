"""The lab's view of a rendered script: syntax check, block markers, and the ``$P`` literals.

The lab never runs PowerShell (DESIGN 6), but two things about the text matter before any block
runs, and this module answers both from a tree-sitter-powershell parse:

1. **Does Windows PowerShell parse it?** A script that does not parse runs nothing and fails with
   a ParseError (DESIGN 5.1). Every ERROR or MISSING node of the grammar is a syntax error, and so
   are two things the grammar accepts but PowerShell does not: a single-quoted string that one of
   the typographic quotes U+2018..U+201B ends early or late (PowerShell's tokenizer treats all
   five single-quote characters alike; the grammar only knows U+0027: DESIGN 5), and a hash
   literal with the same key twice (PowerShell's "Duplicate keys" parse error).
   :func:`parse_error_text` formats them as ``powershell.exe`` prints them under the transport's
   bootstrap (see its docstring for the sources of the shape).
2. **Did the values survive the ``ps`` filter?** Each block's begin marker carries its params as
   JSON and its body assigns the same params to ``$P`` as a PowerShell literal (DESIGN 4.1, 4.9).
   :func:`parse_script` evaluates that literal from the parse tree, with PowerShell's rules
   (render.py's ``ps_literal`` is the writer), and compares it with the marker; it does the same
   for ``$Id`` and for the ``-Requires`` argument of ``Test-ProvisionSkip``. Anything in ``$P``
   that is not a literal is refused: the lab executes the marker's params, so it must be sure
   the PowerShell would see the same values.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import tree_sitter
import tree_sitter_powershell

from provision_lab.wsman import BOOTSTRAP
from provisioner.render import BEGIN, END

__all__ = [
    "Block",
    "LiteralError",
    "ParseProblem",
    "ParsedScript",
    "evaluate_literal",
    "parse_error_text",
    "parse_script",
    "single_quoted_value",
]

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
"""PowerShell's single-quote characters (its tokenizer's IsSingleQuote). The lab's own copy, not
render.py's: the literal check must not inherit a mistake of the filter it checks."""
DOUBLE_QUOTES = '"\u201c\u201d\u201e'
"""PowerShell's double-quote characters (its tokenizer's IsDoubleQuote), for the scanner below."""

_LANGUAGE = tree_sitter.Language(tree_sitter_powershell.language())
_QUERY = tree_sitter.Query(
    _LANGUAGE,
    """
    (comment) @comment
    (assignment_expression) @assignment
    (command) @command
    (hash_literal_expression) @hash
    (verbatim_string_characters) @verbatim
    """,
)

# Expression wrappers the grammar stacks around every value; each has exactly one child when it
# wraps a plain value (a second child means an operator, hence not a literal).
_WRAPPERS = frozenset(
    {
        "pipeline",
        "pipeline_chain",
        "logical_expression",
        "bitwise_expression",
        "comparison_expression",
        "additive_expression",
        "multiplicative_expression",
        "format_expression",
        "range_expression",
        "array_literal_expression",
        "unary_expression",
        "key_expression",
    }
)

# ParserStrings texts of Windows PowerShell 5.1, as seen in public error output: MissingEndCurlyBrace
# (microsoft/cross-tenant issue #33), MissingEndParenthesisInExpression (ecitsolutions/Autotask
# issue #69), TerminatorExpectedAtEndOfString (gwblok/garytown issue #14), UnexpectedToken
# (PowerShell/PowerShell issue #6970).
_MISSING_CURLY = ("Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace")
_MISSING_PAREN = ("Missing closing ')' in expression.", "MissingEndParenthesisInExpression")
_INCOMPLETE_HASH = ("The hash literal was incomplete.", "IncompleteHashLiteral")
_TOO_MANY_ERRORS = "Not all parse errors were reported.  Correct the reported errors and try again."
"""Appended after the tenth error (PowerShell/PowerShell ParseException.Message; text as printed by 5.1)."""
_MAX_REPORTED = 10


class LiteralError(ValueError):
    """A ``$P`` value that is not a PowerShell literal, or not one the lab can evaluate."""


@dataclass(frozen=True)
class ParseProblem:
    """One syntax error, positioned as PowerShell positions it (1-based line and column)."""

    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    error_id: str


@dataclass(frozen=True)
class Block:
    """One ``#@provision-begin`` .. ``#@provision-end`` block, as the lab will execute it."""

    id: str
    type: str
    action: str
    params: Mapping[str, Any]
    requires: tuple[str, ...]
    line: int
    """Line of the begin marker."""
    problem: str | None
    """Why the block cannot run as written (unreadable marker, ``$P`` differing from the marker,
    no end marker); None when its literals match its marker."""


@dataclass(frozen=True)
class ParsedScript:
    """A script as the lab sees it: its syntax errors and its blocks, in order."""

    problems: tuple[ParseProblem, ...]
    blocks: tuple[Block, ...]


# ---------------------------------------------------------------------------------------------
# Positions


class _Source:
    """The script text with PowerShell's line map (CR, LF and CRLF all end a line)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.data = text.encode("utf-8")
        self._byte_line_starts: list[int] = [0]
        for match in re.finditer(rb"\r\n|\r|\n", self.data):
            self._byte_line_starts.append(match.end())

    def position(self, byte: int) -> tuple[int, int]:
        """(line, column) of a byte offset; columns count UTF-16 code units, as .NET strings do."""
        line = _bisect_right(self._byte_line_starts, byte) - 1
        prefix = self.data[self._byte_line_starts[line] : byte].decode("utf-8", errors="replace")
        return line + 1, len(prefix.encode("utf-16-le")) // 2 + 1

    def text_of(self, node: tree_sitter.Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", errors="replace")

    def problem(self, start: int, end: int, message: str, error_id: str) -> ParseProblem:
        line, column = self.position(start)
        end_line, end_column = self.position(max(end, start))
        return ParseProblem(line, column, end_line, end_column, message, error_id)


def _bisect_right(values: Sequence[int], x: int) -> int:
    low, high = 0, len(values)
    while low < high:
        middle = (low + high) // 2
        if x < values[middle]:
            high = middle
        else:
            low = middle + 1
    return low


# ---------------------------------------------------------------------------------------------
# Literal evaluation


def single_quoted_value(token: str) -> tuple[str, int]:
    """The value of the single-quoted string at the start of ``token``, and its length in ``token``.

    PowerShell's tokenizer (ScanStringLiteral) ends the string at any of the five single-quote
    characters ' U+2018 U+2019 U+201A U+201B, unless the next character is one of them too, in
    which case the pair is an escaped quote and the *second* character is kept. The returned
    length is -1 when the string never ends inside ``token``.
    """
    if not token or token[0] not in SINGLE_QUOTES:
        raise LiteralError(f"not a single-quoted string: {token[:20]!r}")
    out: list[str] = []
    index = 1
    while index < len(token):
        char = token[index]
        if char in SINGLE_QUOTES:
            if index + 1 < len(token) and token[index + 1] in SINGLE_QUOTES:
                out.append(token[index + 1])
                index += 2
                continue
            return "".join(out), index + 1
        out.append(char)
        index += 1
    return "".join(out), -1


def _here_string_value(token: str) -> str:
    """``@'`` newline, text, newline ``'@``: the text between the two line breaks."""
    body = token[2:-2]
    body = re.sub(r"^[ \t]*(\r\n|\r|\n)", "", body, count=1)
    return re.sub(r"(\r\n|\r|\n)$", "", body, count=1)


def _fold(key: str) -> str:
    """A hash key as PowerShell compares keys: ordinal, ignoring case (one-to-one upper-casing)."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in key)


def _unwrap(node: tree_sitter.Node) -> tree_sitter.Node:
    while node.type in _WRAPPERS and node.child_count == 1 and node.children[0].is_named:
        node = node.children[0]
    return node


def evaluate_literal(node: tree_sitter.Node, source: bytes) -> Any:
    """The value of a literal expression, as PowerShell would build it, in JSON-like Python.

    Accepts what the ``ps`` filter writes (render.py ``ps_literal``) and the equivalent forms a
    person might write: single-quoted strings and here-strings; ``$true``, ``$false``, ``$null``;
    decimal and hexadecimal integers and reals, with a sign; ``a, b`` and ``,a`` arrays; ``@(...)``
    (each statement's output enumerated one level, as the pipeline does); ``[ordered]@{...}`` and
    ``@{...}`` with quoted or bare keys. Raises :class:`LiteralError` for anything else.
    """
    return _Evaluator(source).value(node)


class _Evaluator:
    def __init__(self, source: bytes) -> None:
        self.source = source

    def text(self, node: tree_sitter.Node) -> str:
        return self.source[node.start_byte : node.end_byte].decode("utf-8", errors="replace")

    def refuse(self, node: tree_sitter.Node, what: str) -> LiteralError:
        return LiteralError(f"{what} at line {node.start_point.row + 1}: {self.text(node)[:60]!r}")

    def value(self, node: tree_sitter.Node) -> Any:
        node = _unwrap(node)
        kind = node.type
        if kind == "array_literal_expression":
            return [self.value(child) for child in node.named_children]
        if kind == "expression_with_unary_operator":
            return self.unary(node)
        if kind == "string_literal":
            return self.string(node)
        if kind == "variable":
            return self.variable(node)
        if kind == "integer_literal":
            return self.integer(node)
        if kind == "real_literal":
            return self.real(node)
        if kind == "array_expression":
            return self.array(node)
        if kind == "cast_expression":
            return self.cast(node)
        if kind == "hash_literal_expression":
            return self.table(node)
        if kind == "parenthesized_expression":
            inner = node.named_children
            if len(inner) != 1:
                raise self.refuse(node, "a parenthesized expression that is not one literal")
            return self.value(inner[0])
        raise self.refuse(node, f"{kind} is not a literal")

    def unary(self, node: tree_sitter.Node) -> Any:
        if node.child_count == 1 and node.children[0].type == "cast_expression":
            return self.cast(node.children[0])
        if node.child_count != 2:
            raise self.refuse(node, "not a literal")
        operator, operand = node.children
        if operator.type == ",":
            return [self.value(operand)]
        if operator.type in ("-", "+"):
            number = self.value(operand)
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise self.refuse(node, f"a sign before {type(number).__name__}")
            return -number if operator.type == "-" else number
        raise self.refuse(node, f"operator {operator.type!r} is not part of a literal")

    def string(self, node: tree_sitter.Node) -> str:
        inner = node.named_children[0] if node.named_child_count else node
        token = self.text(inner)
        if inner.type == "verbatim_string_characters":
            value, length = single_quoted_value(token)
            if length != len(token):
                raise self.refuse(node, "a single-quoted string that PowerShell ends elsewhere")
            return value
        if inner.type == "verbatim_here_string_characters":
            return _here_string_value(token)
        raise self.refuse(node, "an expandable (double-quoted) string; values must be single-quoted literals")

    def variable(self, node: tree_sitter.Node) -> Any:
        name = self.text(node).lower()
        if name == "$true":
            return True
        if name == "$false":
            return False
        if name == "$null":
            return None
        raise self.refuse(node, "a variable")

    def integer(self, node: tree_sitter.Node) -> int:
        token = self.text(node)
        if re.fullmatch(r"[0-9]+", token):
            return int(token)
        match = re.fullmatch(r"0[xX]([0-9a-fA-F]+)", token)
        if match:
            # Hex literals are typed by their digit count: up to 8 digits an Int32, up to 16 an
            # Int64, so 0xFFFFFFFF is -1 (about_Numeric_Literals).
            digits, value = match.group(1), int(match.group(1), 16)
            if len(digits) <= 8 and value >= 2**31:
                return value - 2**32
            if len(digits) <= 16 and value >= 2**63:
                return value - 2**64
            return value
        raise self.refuse(node, "a numeric literal with a type or multiplier suffix")

    def real(self, node: tree_sitter.Node) -> float:
        token = self.text(node)
        if not re.fullmatch(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", token):
            raise self.refuse(node, "a numeric literal with a type or multiplier suffix")
        value = float(token)
        if not math.isfinite(value):
            raise self.refuse(node, "a real literal out of range")
        return value

    def array(self, node: tree_sitter.Node) -> list[Any]:
        out: list[Any] = []
        for statements in node.named_children:
            for statement in statements.named_children:
                if statement.type == "empty_statement":
                    continue
                item = self.value(statement)
                # A statement's output goes through the pipeline, which enumerates arrays once.
                if isinstance(item, list):
                    out.extend(item)
                else:
                    out.append(item)
        return out

    def cast(self, node: tree_sitter.Node) -> dict[str, Any]:
        type_literal, operand = node.children[0], _unwrap(node.children[-1])
        if (
            re.sub(r"\s+", "", self.text(type_literal)).lower() != "[ordered]"
            or operand.type != "hash_literal_expression"
        ):
            raise self.refuse(node, "a cast other than [ordered]@{...}")
        return self.table(operand)

    def table(self, node: tree_sitter.Node) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: set[str] = set()
        for body in node.named_children:
            for entry in body.named_children:
                if entry.type != "hash_entry":
                    raise self.refuse(entry, "not a hash entry")
                key = self.key(entry.children[0])
                if _fold(key) in seen:
                    raise self.refuse(entry, f"duplicate key {key!r}")
                seen.add(_fold(key))
                out[key] = self.value(entry.named_children[-1])
        return out

    def key(self, node: tree_sitter.Node) -> str:
        node = _unwrap(node)
        if node.type == "simple_name":
            return self.text(node)
        if node.type == "string_literal":
            return self.string(node)
        raise self.refuse(node, "a hash key that is not text")


def _same(have: Any, want: Any, path: str) -> str | None:
    """None when the PowerShell value equals the marker's JSON value, else where they differ.

    Types count: 1 is not $true, 1 is not 1.0, and keys compare exactly.
    """
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return f"{path} is {_show(have)}, the marker has a table"
        if set(have) != set(want):
            return f"{path} has keys {sorted(have)}, the marker has {sorted(want)}"
        for key in want:
            found = _same(have[key], want[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            return f"{path} is {_show(have)}, the marker has {_show(want)}"
        for index, (a, b) in enumerate(zip(have, want, strict=True)):
            found = _same(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    if type(have) is not type(want) or have != want:
        return f"{path} is {_show(have)}, the marker has {_show(want)}"
    return None


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------------------------------
# Syntax problems


def _tree_problems(root: tree_sitter.Node, src: _Source) -> list[ParseProblem]:
    """ERROR and MISSING nodes, each turned into the error PowerShell most likely reports there."""
    if not root.has_error:
        return []
    scanned = _scan(src.text)
    if scanned is not None:
        offset, message, error_id = scanned
        start = len(src.text[:offset].encode("utf-8"))
        return [src.problem(start, start + 1, message, error_id)]
    problems: list[ParseProblem] = []
    for node in _error_nodes(root):
        if node.is_missing:
            message, error_id = {"}": _MISSING_CURLY, ")": _MISSING_PAREN}.get(
                node.type, (f"Missing '{node.type}'.", "MissingToken")
            )
            problems.append(src.problem(node.start_byte, node.end_byte, message, error_id))
            continue
        leaf = _first_token(node, src)
        token = src.text_of(leaf).strip()
        if token:
            problems.append(
                src.problem(
                    leaf.start_byte,
                    leaf.end_byte,
                    f"Unexpected token '{token}' in expression or statement.",
                    "UnexpectedToken",
                )
            )
        else:
            problems.append(src.problem(node.start_byte, node.end_byte, "Unexpected end of line.", "UnexpectedToken"))
    return problems


def _error_nodes(root: tree_sitter.Node) -> Iterator[tree_sitter.Node]:
    """Outermost ERROR nodes and MISSING nodes, in document order."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            yield node
            continue
        if node.has_error:
            stack.extend(reversed(node.children))


def _first_token(node: tree_sitter.Node, src: _Source) -> tree_sitter.Node:
    """The token where parsing went wrong: the innermost ERROR with text, else the node's first leaf."""
    for child in node.children:
        if child.is_error and src.text_of(child).strip():
            return _first_token(child, src)
    leaf = node
    while leaf.child_count:
        leaf = next((c for c in leaf.children if src.text_of(c).strip()), leaf.children[0])
    return leaf


def _scan(text: str) -> tuple[int, str, str] | None:
    """The first unterminated string or unbalanced bracket, by PowerShell's lexical rules.

    Only used to word an error the grammar already found, so it can stay simple: comments,
    single- and double-quoted strings (typographic quotes included), here-strings, ``$(...)``
    inside double-quoted strings, and the brackets ``( ) { } @( @{ $(``.
    """
    stack: list[tuple[str, int]] = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char == "#":
            end = text.find("\n", index)
            index = length if end < 0 else end
            continue
        if text.startswith("<#", index):
            end = text.find("#>", index + 2)
            if end < 0:
                return index, "Missing closing '#>' in comment block.", "MissingEndMultiLineComment"
            index = end + 2
            continue
        if text.startswith(("@'", '@"'), index) and re.match(r"[ \t]*(\r\n|\r|\n)", text[index + 2 :]):
            closer = "\n" + text[index + 1] + "@"
            end = text.find(closer, index + 2)
            if end < 0:
                return (
                    index,
                    f"The string is missing the terminator: {text[index + 1]}@.",
                    "TerminatorExpectedAtEndOfString",
                )
            index = end + len(closer)
            continue
        if char in SINGLE_QUOTES:
            _, used = single_quoted_value(text[index:])
            if used < 0:
                return index, "The string is missing the terminator: '.", "TerminatorExpectedAtEndOfString"
            index += used
            continue
        if char in DOUBLE_QUOTES:
            end = _skip_double_quoted(text, index)
            if end < 0:
                return index, 'The string is missing the terminator: ".', "TerminatorExpectedAtEndOfString"
            index = end
            continue
        if char == "`":
            index += 2
            continue
        if char in "({":
            opener = text[index - 1 : index + 1] if index and text[index - 1] in "@$" else char
            stack.append((opener, index - (len(opener) - 1)))
        elif char in ")}":
            if not stack or stack[-1][0][-1] != {")": "(", "}": "{"}[char]:
                return index, f"Unexpected token '{char}' in expression or statement.", "UnexpectedToken"
            stack.pop()
        index += 1
    if stack:
        opener, at = stack[-1]
        message, error_id = {"{": _MISSING_CURLY, "@{": _INCOMPLETE_HASH}.get(opener, _MISSING_PAREN)
        return at, message, error_id
    return None


def _skip_double_quoted(text: str, start: int) -> int:
    """Index after the double-quoted string at ``start``, or -1 when it never ends."""
    index, length = start + 1, len(text)
    while index < length:
        char = text[index]
        if char == "`":
            index += 2
            continue
        if char in DOUBLE_QUOTES:
            if index + 1 < length and text[index + 1] in DOUBLE_QUOTES:
                index += 2
                continue
            return index + 1
        if text.startswith("$(", index):
            depth, index = 1, index + 2
            while index < length and depth:
                if text[index] in DOUBLE_QUOTES:
                    index = _skip_double_quoted(text, index)
                    if index < 0:
                        return -1
                    continue
                if text[index] in SINGLE_QUOTES:
                    _, used = single_quoted_value(text[index:])
                    if used < 0:
                        return -1
                    index += used
                    continue
                depth += {"(": 1, ")": -1}.get(text[index], 0)
                index += 1
            continue
        index += 1
    return -1


def _string_problems(strings: Sequence[tree_sitter.Node], src: _Source) -> list[ParseProblem]:
    """Single-quoted strings that PowerShell ends somewhere else than the grammar does.

    The grammar ends a single-quoted string only at U+0027 (DESIGN 5); PowerShell ends it at any
    of the five single-quote characters, so ``'it’s'`` is ``'it’`` followed by ``s'`` there.
    """
    problems = []
    for node in strings:
        token = src.text_of(node)
        _, used = single_quoted_value(token)
        if used == len(token):
            continue
        if used < 0:
            problems.append(
                src.problem(
                    node.start_byte,
                    node.end_byte,
                    "The string is missing the terminator: '.",
                    "TerminatorExpectedAtEndOfString",
                )
            )
        else:
            rest = token[used:].split()[0] if token[used:].split() else token[used:]
            at = node.start_byte + len(token[:used].encode("utf-8"))
            problems.append(
                src.problem(
                    at,
                    at + len(rest.encode("utf-8")),
                    f"Unexpected token '{rest}' in expression or statement.",
                    "UnexpectedToken",
                )
            )
    return problems


def _duplicate_keys(tables: Sequence[tree_sitter.Node], src: _Source) -> list[ParseProblem]:
    """Hash literals naming one key twice (keys compare case-insensitively): a parse error in PowerShell."""
    problems = []
    evaluator = _Evaluator(src.data)
    for table in tables:
        seen: set[str] = set()
        for body in table.named_children:
            for entry in body.named_children:
                if entry.type != "hash_entry" or not entry.child_count:
                    continue
                try:
                    key = evaluator.key(entry.children[0])
                except LiteralError:
                    continue  # a computed key: PowerShell checks those when it runs, not when it parses
                if _fold(key) in seen:
                    problems.append(
                        src.problem(
                            entry.start_byte,
                            entry.children[0].end_byte,
                            f"Duplicate keys '{key}' are not allowed in hash literals.",
                            "DuplicateKeyInHashLiteral",
                        )
                    )
                seen.add(_fold(key))
    return problems


# ---------------------------------------------------------------------------------------------
# Blocks


def _blocks(captures: Mapping[str, Sequence[tree_sitter.Node]], src: _Source) -> list[Block]:
    comments = sorted(captures.get("comment", ()), key=lambda n: n.start_byte)
    assignments = sorted(captures.get("assignment", ()), key=lambda n: n.start_byte)
    commands = sorted(captures.get("command", ()), key=lambda n: n.start_byte)
    begins = [c for c in comments if src.text_of(c).startswith(BEGIN)]
    ends = [c for c in comments if src.text_of(c).startswith(END)]
    blocks = []
    for number, begin in enumerate(begins):
        line = begin.start_point.row + 1
        try:
            head = json.loads(src.text_of(begin)[len(BEGIN) :])
            block_id, block_type, action = head["id"], head["type"], head["action"]
            params, requires = head.get("params", {}), head.get("requires", [])
            if (
                not all(isinstance(v, str) for v in (block_id, block_type, action))
                or not isinstance(params, dict)
                or not isinstance(requires, list)
                or not all(isinstance(r, str) for r in requires)
            ):
                raise ValueError("id, type and action must be text, params a table, requires a list of ids")
        except (ValueError, KeyError, TypeError) as error:
            blocks.append(
                Block(f"<line {line}>", "", "", {}, (), line, f"unreadable begin marker on line {line}: {error}")
            )
            continue
        limit = begins[number + 1].start_byte if number + 1 < len(begins) else len(src.data)
        end = next(
            (
                e
                for e in ends
                if begin.end_byte <= e.start_byte < limit and src.text_of(e)[len(END) :].strip() == block_id
            ),
            None,
        )
        problem: str | None
        if end is None:
            problem = f"block {block_id} has no '{END.strip()} {block_id}' marker"
        else:
            problem = _check_literals(
                src, assignments, commands, begin.end_byte, end.start_byte, block_id, params, requires
            )
        blocks.append(Block(block_id, block_type, action, params, tuple(requires), line, problem))
    return blocks


def _check_literals(
    src: _Source,
    assignments: Sequence[tree_sitter.Node],
    commands: Sequence[tree_sitter.Node],
    start: int,
    end: int,
    block_id: str,
    params: dict[str, Any],
    requires: list[str],
) -> str | None:
    """None when ``$P``, ``$Id`` and ``-Requires`` in the block body equal the marker's values."""
    evaluator = _Evaluator(src.data)
    found: dict[str, tree_sitter.Node] = {}
    for node in assignments:
        if not start <= node.start_byte < end:
            continue
        name = src.text_of(_unwrap(node.children[0])).lower()
        if name in ("$p", "$id") and name not in found and src.text_of(node.children[1]).strip() == "=":
            found[name] = node.children[-1]
    if "$p" not in found:
        return "the block assigns no $P literal"
    try:
        checks: list[tuple[str, Any, Any]] = [("$P", evaluator.value(found["$p"]), params)]
        if "$id" in found:
            checks.append(("$Id", evaluator.value(found["$id"]), block_id))
        argument = _requires_argument(src, commands, start, end)
        if argument is not None:
            checks.append(("-Requires", evaluator.value(argument), requires))
    except LiteralError as error:
        return f"params literal is not a PowerShell literal: {error}"
    for name, have, want in checks:
        differs = _same(have, want, name)
        if differs:
            return f"params literal does not match the marker: {differs}"
    return None


def _requires_argument(
    src: _Source, commands: Sequence[tree_sitter.Node], start: int, end: int
) -> tree_sitter.Node | None:
    """The argument after ``-Requires`` of the block's ``Test-ProvisionSkip`` call, if it has one."""
    for command in commands:
        if not start <= command.start_byte < end:
            continue
        name = command.child_by_field_name("command_name")
        elements = command.child_by_field_name("command_elements")
        if name is None or elements is None or src.text_of(name).lower() != "test-provisionskip":
            continue
        parts = [c for c in elements.named_children if c.type != "command_argument_sep"]
        for index, part in enumerate(parts[:-1]):
            if part.type == "command_parameter" and src.text_of(part).lower() == "-requires":
                return parts[index + 1]
    return None


# ---------------------------------------------------------------------------------------------
# Entry points


@lru_cache(maxsize=128)
def parse_script(script: str) -> ParsedScript:
    """Syntax errors and blocks of a script; cached, since a fleet sends the same script to many
    hosts (the host name is not rendered: prelude.ps1.j2)."""
    src = _Source(script)
    tree = tree_sitter.Parser(_LANGUAGE).parse(src.data)
    captures = tree_sitter.QueryCursor(_QUERY).captures(tree.root_node)
    problems = _tree_problems(tree.root_node, src)
    problems += _string_problems(captures.get("verbatim", ()), src)
    problems += _duplicate_keys(captures.get("hash", ()), src)
    problems.sort(key=lambda p: (p.line, p.column))
    blocks = _blocks(captures, src) if not problems else []
    return ParsedScript(tuple(problems), tuple(blocks))


def verbose_position(lines: Sequence[str], problem: ParseProblem) -> str:
    """PowerShell's PositionMessage: ``At line:N char:M``, the line, and ``~`` under the extent.

    A port of PositionUtilities.VerboseMessage (PowerShell/PowerShell
    src/System.Management.Automation/engine/parser/Position.cs): tabs expand to four spaces,
    lines longer than 69 characters are cut around the error with ``...`` on the cut sides.
    """
    source_line = lines[problem.line - 1].rstrip() if problem.line <= len(lines) else ""
    if not source_line:
        return f"At line:{problem.line} char:{problem.column}\n+ "
    before = problem.column - 1
    if problem.end_line == problem.line:
        length = problem.end_column - problem.column
    else:
        length = len(source_line) - problem.column + 1
    if "\t" in source_line:
        head = source_line[:before].replace("\t", "    ")
        error = source_line[before : before + length].replace("\t", "    ")
        source_line = head + error + source_line[before + length :].replace("\t", "    ")
        before, length = len(head), len(error)
    max_length = 69
    prefix_dots = suffix_dots = False
    if len(source_line) > max_length:
        total_prefix = before
        prefix = min(total_prefix, 12)
        total_suffix = len(source_line) - length - before
        suffix = min(total_suffix, 8)
        candidate = prefix + length + suffix
        if candidate >= max_length:
            if prefix + length >= max_length:
                length = max_length - prefix
            suffix_dots = True
        else:
            available = total_prefix - prefix
            if available > 0:
                prefix += min(available, max_length - candidate)
                candidate = prefix + length + suffix
            if candidate < max_length and total_suffix > 0:
                suffix += min(total_suffix, max_length - candidate)
            suffix_dots = suffix < total_suffix
        prefix_dots = prefix < total_prefix
        start = max(before - prefix, 0)
        source_line = source_line[start : start + max_length]
        before = min(before, prefix)
        length = min(length, max_length - before)
    shown = ("... " if prefix_dots else "") + source_line + (" ..." if suffix_dots else "")
    marks = " " * (before + (4 if prefix_dots else 0)) + "~" * max(length, 1)
    return f"At line:{problem.line} char:{problem.column}\n+ {shown}\n+ {marks}"


def parse_error_text(script: str, problems: Sequence[ParseProblem], *, via_bootstrap: bool = True) -> str:
    """What Windows PowerShell 5.1 writes to stderr for a script that does not parse.

    Every script runs under the transport's bootstrap, ``& ([ScriptBlock]::Create($script))``
    (transport/__init__.py), so the ParseException surfaces wrapped in a MethodInvocationException
    from ``Create``: ``Exception calling "Create" with "1" argument(s): "<errors>"``, the position
    of the bootstrap's call, ``CategoryInfo : NotSpecified: (:) [], MethodInvocationException``
    and ``FullyQualifiedErrorId : ParseException`` (the shape of public 5.1 output: ecitsolutions/
    Autotask issue #69, and Ansible module failures quoting ``[ScriptBlock]::Create`` errors).
    Each error is its position message and its text, one per line, at most ten (PowerShell's
    ParseException.Message). With ``via_bootstrap=False`` the text is the one a script run
    directly gets: the errors, then ``CategoryInfo : ParserError: (:) [],
    ParentContainsErrorRecordException`` and the first error's id (MicrosoftDocs/MSLab issue #342).
    """
    lines = re.split(r"\r\n|\r|\n", script)
    reported = [f"{verbose_position(lines, p)}\n{p.message}" for p in problems[:_MAX_REPORTED]]
    if len(problems) > _MAX_REPORTED:
        reported.append(_TOO_MANY_ERRORS)
    errors = "\n".join(reported)
    if not via_bootstrap:
        first = problems[0].error_id if problems else "ParseException"
        return (
            f"{errors}\n    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n"
            f"    + FullyQualifiedErrorId : {first}\n \n"
        )
    call = BOOTSTRAP.index("& ([ScriptBlock]::Create(")
    outer = ParseProblem(1, call + 1, 1, len(BOOTSTRAP) + 1, "", "")
    return (
        f'Exception calling "Create" with "1" argument(s): "{errors}"\n'
        f"{verbose_position([BOOTSTRAP], outer)}\n"
        "    + CategoryInfo          : NotSpecified: (:) [], MethodInvocationException\n"
        "    + FullyQualifiedErrorId : ParseException\n \n"
    )
