"""Property tests of provisioner.render.ps_literal (DESIGN 4.9): any value without NUL becomes a
PowerShell literal that parses as exactly that value, and nothing else reaches a template."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import tree_sitter as ts
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from provision_lab import make_host
from provisioner.render import PsCode, Renderer, RenderError, ps_literal
from provisioner.resources.container_verify import VerifyParams

from . import pstree

QUOTES = "'\u2018\u2019\u201a\u201b"
NASTY = [
    "'",
    "\u2018",
    "\u2019",
    "\u201a",
    "\u201b",
    "$(",
    ")",
    "$",
    "`",
    ";",
    "\n",
    "\r\n",
    "\r",
    '"',
    "@'",
    "'@",
    "#",
    "<#",
    "#>",
    "{",
    "}",
    "|",
    "&",
    " ",
    "\t",
    "\u2028",
    "\u0085",
    "\ufeff",
    "é",
    "中",
    "😀",
    "\\",
]

# Applied per test (a global profile would change other suites' hypothesis settings too).
CORE = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

no_nul = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
texts = st.one_of(
    st.text(no_nul, max_size=40),
    st.lists(st.sampled_from(NASTY) | st.text(no_nul, max_size=3), max_size=12).map("".join),
)


@pytest.mark.parametrize("quote", list(QUOTES), ids=[f"U+{ord(q):04X}" for q in QUOTES])
def test_every_single_quote_powershell_knows_stays_inside_the_literal(quote: str) -> None:
    """PowerShell's tokenizer ends a verbatim string at any of five quote characters
    (about_Quoting_Rules), where tree-sitter knows one: the lab's PowerShell, which models the five,
    reads the rendered literal back whole, and the statement after the quote never runs. The same
    value doubled the way most quoting helpers do (U+0027 only) does not survive, so this test
    fails if the filter forgets one of the five."""
    host = make_host("server2022", "quotes", "127.0.0.1")
    value = f"a{quote}; Write-Output INJECTED; {quote}b"

    rendered = host.run_script(f"$x = {ps_literal(value)}\nWrite-Output $x")
    assert (rendered.stdout, rendered.stderr, rendered.exit_code) == (value + "\r\n", "", 0)

    ascii_only = "'" + value.replace("'", "''") + "'"
    naive = host.run_script(f"$x = {ascii_only}\nWrite-Output $x")
    assert (naive.stdout == value + "\r\n") == (quote == "'"), naive


def literal_of(source: str) -> ts.Node:
    """The one string literal token that is the value of ``$x = ...``."""
    assert pstree.problems(source) == [], source
    value = pstree._unwrap(pstree.assignment_value(source))
    assert value.type == "string_literal", (value.type, source)
    kids = value.children
    assert len(kids) == 1 and kids[0].type == "verbatim_string_characters", source
    return value


def assert_quotes_doubled(literal: str, value: str) -> None:
    """The filter's rule, checked directly (tree-sitter treats U+2018..U+201B as ordinary
    characters, DESIGN 5): every single-quote character of the body is doubled, with itself."""
    assert literal[0] == "'" and literal[-1] == "'"
    body = literal[1:-1]
    out = []
    i = 0
    while i < len(body):
        char = body[i]
        if char in QUOTES:
            assert i + 1 < len(body) and body[i + 1] == char, f"lone {char!r} at {i} in {literal!r}"
            i += 2
        else:
            i += 1
        out.append(char)
    assert "".join(out) == value


@CORE
@given(texts)
@example("")
@example("it's")
@example("\u2018\u2019\u201a\u201b'")
@example("'$(Remove-Item C:\\ -Recurse)'")
@example("`$env:PATH`n")
@example("a;b\nc\r\nd")
@example("@'\nhere\n'@")
@example("'")
@example("''")
@example("\u2019'")
def test_string_round_trips(value: str) -> None:
    literal = ps_literal(value)
    node = literal_of(f"$x = {literal}")
    assert pstree.text(node) == literal
    assert pstree.decode_verbatim(literal) == value
    assert_quotes_doubled(literal, value)


def same(a: Any, b: Any) -> bool:
    """Equality that tells True from 1 and 1 from 1.0 (PowerShell does)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


def fold(key: str) -> str:
    """PowerShell's hash-literal key comparison: ordinal ignoring case (one-to-one upper-casing)."""
    return "".join(c.upper() if len(c.upper()) == 1 else c for c in key)


scalars = st.one_of(
    texts,
    st.booleans(),
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
keys = st.one_of(texts, st.sampled_from(["a", "A", "Name", "NAME", "ß", "SS", "é", "É"]))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)


@CORE
@given(values)
@example([])
@example([[]])
@example(["one"])
@example([["a", "b"]])
@example({"k": ["v"]})
@example({"": None, "x": {"y": [1, -2.5, True]}})
@example(-0.0)
@example(1e16)
def test_values_round_trip(value: Any) -> None:
    try:
        literal = ps_literal(value)
    except RenderError as exc:
        # The only refusal for these values: two keys of one mapping that PowerShell deems equal.
        assert "differ only in case" in str(exc)
        assert _has_case_collision(value)
        return
    source = f"$x = {literal}"
    assert pstree.problems(source) == [], source
    got = pstree.evaluate(pstree.assignment_value(source))
    assert same(got, value), (value, literal, got)
    for node in pstree.walk(pstree.parse(source).root_node):
        if node.type == "string_literal":
            assert_quotes_doubled(pstree.text(node), pstree.decode_verbatim(pstree.text(node)))


def _has_case_collision(value: Any) -> bool:
    if isinstance(value, dict):
        folded = [fold(k) for k in value]
        return len(set(folded)) != len(folded) or any(_has_case_collision(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_case_collision(v) for v in value)
    return False


cased = st.characters(categories=("Lu", "Ll")).filter(
    lambda c: len(c.upper()) == len(c.lower()) == 1 and c.upper() != c.lower() and c.lower().upper() == c.upper()
)


@CORE
@given(st.lists(st.tuples(cased, st.booleans(), st.booleans()), min_size=1, max_size=8), st.text(no_nul, max_size=3))
def test_mapping_keys_that_differ_only_in_case_are_refused(chars: list[tuple[str, bool, bool]], tail: str) -> None:
    first = "".join(c.upper() if a else c.lower() for c, a, _ in chars) + tail
    second = "".join(c.upper() if b else c.lower() for c, _, b in chars) + tail
    assume(first != second)
    assert fold(first) == fold(second)
    with pytest.raises(RenderError, match="differ only in case"):
        ps_literal({first: 1, second: 2})
    with pytest.raises(RenderError, match="differ only in case"):
        ps_literal([{"outer": {first: None, second: None}}])


def test_mapping_keys_distinct_for_powershell_are_kept() -> None:
    """'ß' and 'SS' are different keys for PowerShell's ordinal-ignore-case comparison."""
    assert pstree.evaluate(pstree.assignment_value("$x = " + ps_literal({"ß": 1, "SS": 2}))) == {"ß": 1, "SS": 2}


def test_block_params_render_as_their_json_form() -> None:
    params = VerifyParams(
        image="img:1",
        isolation="process",
        command=["cmd", "/c", "echo", "n"],
        expect="n",
        timeout=600.0,
        docker=r"C:\Program Files\docker\docker.exe",
    )
    got = pstree.evaluate(pstree.assignment_value("$P = " + ps_literal(params)))
    assert got == params.model_dump(mode="json")


@pytest.mark.parametrize("value", ["\x00", "a\x00b", ["ok", "\x00"], {"k": "\x00"}, {"\x00": 1}])
def test_nul_is_refused(value: Any) -> None:
    with pytest.raises(RenderError, match="NUL"):
        ps_literal(value)


@pytest.mark.parametrize(
    "value", [math.inf, -math.inf, math.nan, 2**63, -(2**63) - 1, object(), b"bytes", {1: "non-text key"}]
)
def test_values_without_a_literal_are_refused(value: Any) -> None:
    with pytest.raises(RenderError):
        ps_literal(value)


def test_int64_bounds_are_exact() -> None:
    for value in (2**63 - 1, -(2**63)):
        assert pstree.evaluate(pstree.assignment_value("$x = " + ps_literal(value))) == value


# ---------------------------------------------------------------------------------------------
# Templates cannot interpolate a value without `ps` (StrictUndefined + finalize).


def _renderer_with(tmp_path: Path, resource: str) -> Renderer:
    """The real templates, with the reboot resource template replaced by ``resource``."""
    source = Path(__file__).resolve().parents[2] / "provisioner" / "templates"
    for path in source.rglob("*.j2"):
        target = tmp_path / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "resources" / "reboot.ps1.j2").write_text(resource, encoding="utf-8")
    return Renderer(tmp_path)


@pytest.mark.parametrize(
    "bad",
    [
        "Write-Output {{ id }}\n",
        "Write-Output '{{ params.reason }}'\n",
        "Write-Output {{ requires }}\n",
        "Write-Output {{ id | upper }}\n",
        "Write-Output {{ 'literal text' }}\n",
    ],
)
def test_template_interpolating_without_ps_fails_to_render(tmp_path: Path, bad: str) -> None:
    renderer = _renderer_with(tmp_path, bad)
    with pytest.raises(RenderError, match="without the ps filter"):
        renderer.reboot("h", "x")


def test_template_with_ps_renders(tmp_path: Path) -> None:
    """The same temp-dir renderer works with `| ps`: the failures above come from the filter rule."""
    renderer = _renderer_with(tmp_path, "Write-Output {{ params.reason | ps }}\n")
    script = renderer.reboot("h", "it's")
    assert "Write-Output 'it''s'" in script
    assert pstree.problems(script) == []


def test_ps_code_passes_finalize(tmp_path: Path) -> None:
    renderer = _renderer_with(tmp_path, "{{ code }}\n")
    renderer.env.globals["code"] = PsCode("Write-Output 1")
    assert "Write-Output 1" in renderer.reboot("h", "x")
