"""pslit: PowerShell's single-quote rule, literal evaluation against the ``ps`` filter, ParseError text."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tree_sitter
import tree_sitter_powershell
from hypothesis import given, settings
from hypothesis import strategies as st

from provision_lab.pslit import (
    LiteralError,
    ParseProblem,
    evaluate_literal,
    parse_error_text,
    parse_script,
    single_quoted_value,
    verbose_position,
)
from provisioner.render import SINGLE_QUOTES, Renderer, RenderError, ps_literal
from provisioner.transport import BOOTSTRAP

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def value_of(literal: str) -> Any:
    """Evaluate ``$P = <literal>`` as the lab does."""
    source = f"$P = {literal}\n".encode()
    tree = _PARSER.parse(source)
    assert not tree.root_node.has_error, literal
    assignment = tree.root_node.named_children[0].named_children[0].named_children[0]
    assert assignment.type == "assignment_expression"
    return evaluate_literal(assignment.children[-1], source)


@pytest.mark.parametrize("quote", list(SINGLE_QUOTES))
def test_every_single_quote_ends_a_string_and_a_pair_is_one_quote(quote: str) -> None:
    assert single_quoted_value(f"'a{quote}b'") == ("a", 3)
    assert single_quoted_value(f"'a{quote}{quote}b'") == (f"a{quote}b", 6)
    # The tokenizer keeps the second character of a pair, whichever the first was.
    assert single_quoted_value(f"'{quote}\u2019'") == ("\u2019", 4)
    assert single_quoted_value(f"'open{quote}") == ("open", 6)
    assert single_quoted_value("'never ends") == ("never ends", -1)


@pytest.mark.parametrize(
    "literal, value",
    [
        ("'x'", "x"),
        ("''", ""),
        ("'it''s'", "it's"),
        ("'$(not) `n code'", "$(not) `n code"),
        ("$true", True),
        ("$FALSE", False),
        ("$null", None),
        ("42", 42),
        ("-7", -7),
        ("0x10", 16),
        ("0xFFFFFFFF", -1),
        ("2.5", 2.5),
        ("-1e+20", -1e20),
        ("600.0", 600.0),
        ("@()", []),
        ("@(,'x')", ["x"]),
        ("@('a', 'b')", ["a", "b"]),
        ("'a', 'b'", ["a", "b"]),
        ("@(@('a', 'b'))", ["a", "b"]),
        ("@(,@('a', 'b'))", [["a", "b"]]),
        ("@($null)", [None]),
        ("[ordered]@{}", {}),
        ("[ordered]@{'k' = @(,1); 'n' = [ordered]@{'x' = $null}}", {"k": [1], "n": {"x": None}}),
        ("@{a = 1}", {"a": 1}),
        ("@'\nhere 'text'\n'@", "here 'text'"),
    ],
)
def test_literals_evaluate_as_powershell_builds_them(literal: str, value: Any) -> None:
    found = value_of(literal)
    assert found == value and type(found) is type(value)


@pytest.mark.parametrize(
    "literal",
    [
        "$env:PATH",
        '"double $x"',
        "[int]'1'",
        "'a' + 'b'",
        "(Get-Date)",
        "10kb",
        "@{a = 1; 'A' = 2}",
        "[ordered]'x'",
    ],
)
def test_anything_but_a_literal_is_refused(literal: str) -> None:
    with pytest.raises(LiteralError):
        value_of(literal)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: "\x00" not in k), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_the_ps_filter_round_trips_through_powershell_rules(value: Any) -> None:
    """Every value render.ps_literal writes reads back the same by PowerShell's rules."""
    try:
        literal = ps_literal(value)
    except RenderError as exc:
        # The only refusal for JSON values: keys equal but for case, which PowerShell cannot hold.
        assert "differ only in case" in str(exc), exc
        return
    found = value_of(literal)
    assert json.dumps(found, sort_keys=True) == json.dumps(value, sort_keys=True)


def test_parse_script_finds_the_blocks() -> None:
    parsed = parse_script(Renderer().reboot("lab-0001", "it's"))
    assert not parsed.problems
    (block,) = parsed.blocks
    assert (block.id, block.type, block.action, dict(block.params), block.problem) == (
        "reboot",
        "reboot",
        "restart",
        {"reason": "it's"},
        None,
    )


def test_a_block_without_its_end_marker_is_not_run() -> None:
    script = Renderer().reboot("lab-0001", "x").replace("#@provision-end reboot", "# the end")
    (block,) = parse_script(script).blocks
    assert block.problem == "block reboot has no '#@provision-end reboot' marker"


def test_position_messages_follow_powershell() -> None:
    # "At line:1 char:16 / + git stash drop <1> / +                ~" (public 5.1 output).
    problem = ParseProblem(1, 16, 1, 17, "", "")
    assert (
        verbose_position(["git stash drop <1>"], problem)
        == "At line:1 char:16\n+ git stash drop <1>\n+                ~"
    )
    # Long lines are cut to 69 characters around the error, with dots on the cut sides.
    long = "x" * 100 + " bad " + "y" * 100
    text = verbose_position([long], ParseProblem(1, 102, 1, 105, "", ""))
    shown, marks = text.split("\n")[1:]
    assert shown.startswith("+ ... ") and shown.endswith(" ...") and len(shown) == 2 + 4 + 69 + 4
    assert shown[marks.index("~") : marks.index("~") + 3] == "bad"


def test_parse_error_text_wraps_the_errors_as_the_bootstrap_sees_them() -> None:
    script = "# x\n$a = (1\n"
    problems = parse_script(script).problems
    text = parse_error_text(script, problems)
    assert text.startswith(
        'Exception calling "Create" with "1" argument(s): "At line:2 char:6\n+ $a = (1\n+      ~\n'
        "Missing closing ')' in expression.\"\nAt line:1 char:"
    )
    assert f"char:{BOOTSTRAP.index('& ([ScriptBlock]') + 1}\n+ ... " in text
    direct = parse_error_text(script, problems, via_bootstrap=False)
    assert direct.endswith(
        "    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n"
        "    + FullyQualifiedErrorId : MissingEndParenthesisInExpression\n \n"
    )
