"""Syntax errors as Windows PowerShell 5.1 reports them, found in a tree-sitter-pwsh parse.

Every ERROR or MISSING node of the grammar is a syntax error, and so are things the grammar accepts but
PowerShell does not: a single-quoted string that one of the typographic quotes U+2018..U+201B ends early
(PowerShell's tokenizer treats all five single-quote characters alike; the grammar only knows U+0027), and a
hash literal naming a key twice (found by the compiler, which sees the keys). Positions and texts follow
PowerShell's ParseException: ``At line:N char:M``, the line, ``~`` under the extent (Position.cs), at most
ten errors. Ported from the literal checker of the lab that ran blocks by marker (pslit.py, now removed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import tree_sitter

__all__ = [
    "DOUBLE_QUOTES",
    "SINGLE_QUOTES",
    "ParseProblem",
    "Source",
    "parse_exception_message",
    "single_quoted_value",
    "string_problems",
    "tree_problems",
    "verbose_position",
]

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
"""PowerShell's single-quote characters (its tokenizer's IsSingleQuote). The lab's own copy, not
render.py's: the literal check must not inherit a mistake of the filter it checks."""
DOUBLE_QUOTES = '"\u201c\u201d\u201e'
"""PowerShell's double-quote characters (its tokenizer's IsDoubleQuote), for the scanner below."""


_MISSING_CURLY = ("Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace")
_MISSING_PAREN = ("Missing closing ')' in expression.", "MissingEndParenthesisInExpression")
_INCOMPLETE_HASH = ("The hash literal was incomplete.", "IncompleteHashLiteral")
_TOO_MANY_ERRORS = "Not all parse errors were reported.  Correct the reported errors and try again."
"""Appended after the tenth error (PowerShell/PowerShell ParseException.Message; text as printed by 5.1)."""
_MAX_REPORTED = 10


@dataclass(frozen=True)
class ParseProblem:
    """One syntax error, positioned as PowerShell positions it (1-based line and column)."""

    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    error_id: str


class Source:
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
        raise ValueError(f"not a single-quoted string: {token[:20]!r}")
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


def tree_problems(root: tree_sitter.Node, src: Source) -> list[ParseProblem]:
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


def _first_token(node: tree_sitter.Node, src: Source) -> tree_sitter.Node:
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
        skipped = _skip_token(text, index)
        if isinstance(skipped, tuple):
            return skipped
        if skipped is not None:
            index = skipped
            continue
        char = text[index]
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


def _skip_token(text: str, index: int) -> int | tuple[int, str, str] | None:
    """Where the comment, here-string, string or backtick escape at ``index`` ends, or the error when it
    never does; None when no such token starts there."""
    char = text[index]
    if char == "#":
        end = text.find("\n", index)
        return len(text) if end < 0 else end
    if text.startswith("<#", index):
        end = text.find("#>", index + 2)
        if end < 0:
            return index, "Missing closing '#>' in comment block.", "MissingEndMultiLineComment"
        return end + 2
    if text.startswith(("@'", '@"'), index) and re.match(r"[ \t]*(\r\n|\r|\n)", text[index + 2 :]):
        closer = "\n" + text[index + 1] + "@"
        end = text.find(closer, index + 2)
        if end < 0:
            return (
                index,
                f"The string is missing the terminator: {text[index + 1]}@.",
                "TerminatorExpectedAtEndOfString",
            )
        return end + len(closer)
    if char in SINGLE_QUOTES:
        _, used = single_quoted_value(text[index:])
        if used < 0:
            return index, "The string is missing the terminator: '.", "TerminatorExpectedAtEndOfString"
        return index + used
    if char in DOUBLE_QUOTES:
        end = _skip_double_quoted(text, index)
        if end < 0:
            return index, 'The string is missing the terminator: ".', "TerminatorExpectedAtEndOfString"
        return end
    if char == "`":
        return index + 2
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


def string_problems(strings: Sequence[tree_sitter.Node], src: Source) -> list[ParseProblem]:
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


def parse_exception_message(source: Source, problems: Sequence[ParseProblem]) -> str:
    """ParseException.Message: each error's position message and text, one per line, at most ten."""
    lines = re.split(r"\r\n|\r|\n", source.text)
    reported = [f"{verbose_position(lines, p)}\n{p.message}" for p in problems[:_MAX_REPORTED]]
    if len(problems) > _MAX_REPORTED:
        reported.append(_TOO_MANY_ERRORS)
    return "\n".join(reported)
