"""Every rendered script parses with tree-sitter-powershell (DESIGN 5, point 1), values never
escape their literals, and the known gaps of the grammar are pinned (DESIGN 5, last paragraph)."""

from __future__ import annotations

import re

import pytest
import tree_sitter as ts

from provisioner.protocol.markers import BEGIN, END
from provisioner.render import Renderer, RenderError

from . import pstree
from .data import (
    PAYLOAD,
    Rendered,
    all_rendered,
    hostile_desktop_spec,
    hostile_spec,
    load_facts,
    render_phases,
)

RENDERED = all_rendered()


def test_every_phase_is_rendered_for_every_fixture() -> None:
    phases = {(r.fixture, r.spec_name): set() for r in RENDERED}  # type: dict[tuple[str, str], set[str]]
    for r in RENDERED:
        phases[(r.fixture, r.spec_name)].add(r.phase)
    for (fixture, spec_name), seen in phases.items():
        assert {"facts", "apply", "reboot"} <= seen, (fixture, spec_name)
    assert sum("verify" in seen for seen in phases.values()) >= 20


@pytest.mark.parametrize("rendered", RENDERED, ids=[r.label for r in RENDERED])
def test_script_parses_without_error_or_missing_node(rendered: Rendered) -> None:
    assert pstree.problems(rendered.script) == [], rendered.label


def test_problems_sees_missing_nodes_that_has_error_may_hide() -> None:
    """The check itself: a MISSING node is reported (here an unclosed parenthesis)."""
    broken = "$x = (1 + 2\n"
    assert pstree.problems(broken)
    assert pstree.problems("$x = 'ok'\n") == []


# ---------------------------------------------------------------------------------------------
# Values stay inside their literals.

INJECTED = "Injected-Command"


@pytest.mark.parametrize(
    "rendered",
    [r for r in RENDERED if r.spec_name.startswith("hostile")],
    ids=[r.label for r in RENDERED if r.spec_name.startswith("hostile")],
)
def test_hostile_values_never_become_code(rendered: Rendered) -> None:
    """Every place the payload lands is a string literal or a one-line marker comment (the begin
    marker's JSON, the end marker's id): no command, no other comment a value could end early."""
    tree = pstree.parse(rendered.script)
    for node in pstree.walk(tree.root_node):
        if node.type == "command_name":
            assert pstree.text(node) != INJECTED, rendered.label
        if node.type == "comment":
            body = pstree.text(node)
            if body.startswith((BEGIN, END)):
                assert "\n" not in body and "\r" not in body
                continue
            assert INJECTED not in body, f"{rendered.label}: value inside a comment: {body[:120]!r}"
    # Each occurrence of the payload's command is inside a single-quoted string literal.
    literals = [n for n in pstree.walk(tree.root_node) if n.type == "string_literal"]
    spans = [(n.start_byte, n.end_byte) for n in literals]
    encoded = rendered.script.encode("utf-8")
    marker = rb"(?:" + re.escape(BEGIN.encode()) + rb"|" + re.escape(END.encode()) + rb")[^\r\n]*"
    begin_lines = [(m.start(), m.end()) for m in re.finditer(marker, encoded)]
    for match in re.finditer(INJECTED.encode(), encoded):
        inside = any(a <= match.start() < b for a, b in spans + begin_lines)
        assert inside, f"{rendered.label}: payload outside a literal at byte {match.start()}"


def test_hostile_payload_reaches_the_script() -> None:
    """The test above is not vacuous: the payload is rendered for url, dir, service and values."""
    scripts = render_phases("h" + PAYLOAD, hostile_spec(), load_facts("server2022"))
    assert INJECTED in scripts["apply"] and INJECTED in scripts["verify"]
    # The reason, in the begin marker JSON and in the $P literal.
    assert Renderer().reboot("h", PAYLOAD).count(INJECTED) == 2 * PAYLOAD.count(INJECTED)


def test_hostile_payload_reaches_the_desktop_scripts() -> None:
    """The same for Docker Desktop: installer URL and folder, account names, settings, verify command."""
    scripts = render_phases("h", hostile_desktop_spec(), load_facts("workstation-win11-23h2-pro"))
    assert INJECTED in scripts["facts"] and INJECTED in scripts["apply"] and INJECTED in scripts["verify"]
    assert "o''brien\u2018\u2018\u2019\u2019\u201a\u201a\u201b\u201b" in scripts["facts"]


def test_host_name_is_not_rendered() -> None:
    """Hosts with the same plan get byte-identical scripts (the lab and any cache can share them),
    and an inventory name can never reach PowerShell."""
    facts = load_facts("server2022")
    one = render_phases("web01.example", hostile_spec(), facts)
    two = render_phases("db02" + PAYLOAD, hostile_spec(), facts)
    assert one == two
    assert all("web01" not in script for script in one.values())


@pytest.mark.parametrize("bad_id", ["engine/docker\nInjected-Command", "engine/docker\rx", "a\u2028b", "a\x85b"])
def test_block_ids_with_line_breaks_are_refused(bad_id: str) -> None:
    """The end marker is a comment line: a line break in the id would turn the rest into code."""
    from provisioner.protocol.blocks import RebootParams

    with pytest.raises(RenderError):
        Renderer().block(bad_id, "reboot", "restart", RebootParams(reason="x"))


def test_end_marker_closes_every_begin_marker() -> None:
    for r in RENDERED:
        begins = [line for line in r.script.splitlines() if line.startswith(BEGIN)]
        ends = [line for line in r.script.splitlines() if line.startswith(END)]
        assert len(begins) == len(ends), r.label


# ---------------------------------------------------------------------------------------------
# Known grammar gaps (tree-sitter-powershell as installed). Each entry is VALID Windows PowerShell
# 5.1 that the grammar gets wrong. When one of these tests fails, the grammar improved: move the
# entry out, and the templates may use the form again.

REJECTED = [
    # (valid PowerShell, what the grammar does with it, what the templates write instead)
    (
        "docker run --rm --isolation=process $image",
        "bare native argument with '=': ERROR",
        "quote it: '--isolation=process', or build it: ('--isolation=' + $P.isolation)",
    ),
    ("switch ($x) { 'a' { 1 } default { 2 } }", "switch with a default clause: ERROR", "if / elseif / else"),
    ("switch -Regex ($x) { '^a' { 1 } default { 2 } }", "switch -Regex with default: ERROR", "if / elseif / else"),
    ("[math]::Round($bytes / 1GB, 2)", "numeric multiplier in an argument: ERROR", "1073741824"),
    ("if ($bytes -gt 1GB) { 1 }", "numeric multiplier in a comparison: ERROR", "1073741824"),
    ("# nothing but a comment", "a script that is only a comment: ERROR", "every script has statements"),
]


@pytest.mark.parametrize("source, gap, instead", REJECTED, ids=[g[1] for g in REJECTED])
def test_known_gap_rejected_by_grammar(source: str, gap: str, instead: str) -> None:
    assert pstree.problems(source), f"the grammar now accepts {source!r} ({gap}); use it again instead of {instead}"


def _first(source: str, kind: str) -> ts.Node | None:
    return next((n for n in pstree.walk(pstree.parse(source).root_node) if n.type == kind), None)


def test_known_gap_numeric_multiplier_misparsed_as_command() -> None:
    """`$x = 1GB` parses without error, but as a command named 1GB, not the number 1073741824."""
    source = "$x = 1GB"
    assert pstree.problems(source) == []
    name = _first(source, "command_name")
    assert name is not None and pstree.text(name) == "1GB"
    assert _first(source, "integer_literal") is None


def test_known_gap_redirection_without_space_misparsed_as_argument() -> None:
    """`2>$null` after a native command is read as an argument token, `2> $null` as a redirection."""
    glued = "& $dockerd --version 2>$null"
    assert pstree.problems(glued) == []
    assert _first(glued, "redirection") is None
    token = _first(glued, "generic_token")
    assert token is not None and pstree.text(token) == "2>$null"
    spaced = "& $dockerd --version 2> $null"
    assert _first(spaced, "redirection") is not None


def test_known_gap_typographic_quotes_are_ordinary_characters() -> None:
    """PowerShell ends '...' at U+2019 as at U+0027; the grammar reads 'it’s' as one string."""
    source = "$x = 'it\u2019s'"
    assert pstree.problems(source) == []
    literals = [n for n in pstree.walk(pstree.parse(source).root_node) if n.type == "string_literal"]
    assert [pstree.text(n) for n in literals] == ["'it\u2019s'"]
    # PowerShell's own rule (pstree.decode_verbatim) says the token ends after "it".
    with pytest.raises(ValueError):
        pstree.decode_verbatim("'it\u2019s'")


MULTIPLIER = re.compile(r"^\d+(?:\.\d+)?(?:KB|MB|GB|TB|PB)$", re.IGNORECASE)
REDIRECT_TOKEN = re.compile(r"^[1-6*]?>>?(?:\$null|&[12])$|^[1-6*]?>>?\S")


@pytest.mark.parametrize("rendered", RENDERED, ids=[r.label for r in RENDERED])
def test_templates_avoid_the_known_gaps(rendered: Rendered) -> None:
    tree = pstree.parse(rendered.script)
    for node in pstree.walk(tree.root_node):
        body = pstree.text(node)
        assert node.type != "switch_statement", f"{rendered.label}: switch (use if/elseif)"
        if node.type in {"command_name", "generic_token", "simple_name"}:
            assert not MULTIPLIER.match(body), f"{rendered.label}: numeric multiplier {body!r}"
        if node.type == "generic_token":
            assert not REDIRECT_TOKEN.match(body), f"{rendered.label}: redirection {body!r} read as an argument"
