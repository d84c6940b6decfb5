"""The known gaps of tree-sitter-pwsh 0.38.1 (issue 10 item 3: "keep a pinned test of the grammar's known gaps").

Measured with lab/bench/parser_choice.py. Each gap is pinned two ways: what the grammar does (so an upgrade
that fixes it fails here and the workaround can go), and what the lab's powershell.exe then does.
"""

from __future__ import annotations

import importlib.metadata

import pytest
import tree_sitter
import tree_sitter_pwsh

from provision_lab.powershell import run_script

from .stub import StubHost

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_pwsh.language()))


def _grammar_rejects(text: str) -> bool:
    return _PARSER.parse(text.encode()).root_node.has_error


def test_grammar_version_is_the_measured_one() -> None:
    assert importlib.metadata.version("tree-sitter-pwsh") == "0.38.1"


# Valid Windows PowerShell the grammar rejects: the lab refuses it with a ParseError (it cannot run what it cannot
# parse), which is kinder to nobody but wrong for these scripts; the product's scripts avoid these forms.
REJECTED_VALID = [
    "function F { param($a) $a }",  # param() and a statement on one line (a newline or ';' works)
    "switch -Regex ($v) { 'a' { 1; break } default { 2 } }",  # switch clauses on one line
    ":outer foreach ($x in 1, 2) { break outer }",  # break with a label
    "10L.GetType().Name",  # a member of a numeric literal ((10L).GetType() works)
    "function Get-X { [CmdletBinding()] param() process { } }",  # attributes and param() on one line
]


@pytest.mark.parametrize("text", REJECTED_VALID)
def test_valid_powershell_the_grammar_rejects(text: str) -> None:
    assert _grammar_rejects(text)
    result = run_script(text, StubHost())
    assert result.exit_code == 1 and "ParserError" in result.stderr


def test_separated_forms_work() -> None:
    result = run_script("function F { param($a); $a }\nF 1\nswitch -Regex ('ab')\n{\n  'a' { 'A' }\n}", StubHost())
    assert result.stdout == "1\r\nA\r\n"


# Invalid Windows PowerShell 5.1 the grammar accepts: the compiler refuses it with 5.1's parse error.
ACCEPTED_INVALID = {
    "try { 'x' }": "The Try statement is missing its Catch or Finally block.",
    "a && b": "ParserError",
    "$a ?? 1": "ParserError",
    "$x = $true ? 1 : 2": "ParserError",
}


@pytest.mark.parametrize(("text", "error"), ACCEPTED_INVALID.items())
def test_invalid_powershell_the_grammar_accepts(text: str, error: str) -> None:
    assert not _grammar_rejects(text)
    result = run_script("'ran'\n" + text, StubHost())
    assert result.stdout == "" and result.exit_code == 1
    assert error in result.stderr


# Statements the grammar reads as a command named like an expression: the compiler reparses them.
@pytest.mark.parametrize(
    ("text", "output"), [("1..3", "1\r\n2\r\n3\r\n"), ("(3*4)", "12\r\n"), ("$x = 2*3; $x", "6\r\n")]
)
def test_numeric_statements_the_grammar_reads_as_commands(text: str, output: str) -> None:
    tree = _PARSER.parse(text.encode())
    kinds = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        kinds.append(node.type)
        stack.extend(node.children)
    assert "command_name" in kinds
    assert run_script(text, StubHost()).stdout == output
