"""Every command in every rendered script is in the catalog, with catalogued parameters only
(DESIGN 5, point 2), and no PowerShell 7-only syntax appears (Windows PowerShell 5.1 target)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import tree_sitter as ts

from provisioner.render import Renderer

from . import pstree
from .cmdlet_catalog import (
    CATALOG,
    CMDLETS,
    COMMON_PARAMETERS,
    FUNCTIONS,
    NATIVE_VIA_VARIABLE,
)
from .data import Rendered, all_rendered

RENDERED = all_rendered()
IDS = [r.label for r in RENDERED]


@dataclass(frozen=True)
class Use:
    command: str
    parameters: tuple[str, ...]
    line: int


def _elements(command: ts.Node) -> list[ts.Node]:
    out: list[ts.Node] = []
    for child in command.children:
        if child.type == "command_elements":
            out.extend(c for c in child.children if c.type != "command_argument_sep")
    return out


def _parameter_name(node: ts.Node) -> str:
    return pstree.text(node).lstrip("-").rstrip(":")


VARIABLE_ARG = {"variable", "member_access"}
NATIVE_FLAG = re.compile(r"^--[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


def _native_argument_problem(node: ts.Node, native_flags: frozenset[str]) -> str | None:
    """None when a native argument is a quoted string, a variable (or a member of one), a
    catalogued bare flag, or a redirection; otherwise what is wrong with it."""
    body = pstree.text(node)
    if node.type == "redirection":
        return None
    if node.type == "command_parameter":
        if NATIVE_FLAG.match(body) and body in native_flags:
            return None
        return f"bare native argument {body!r} (quote it, or catalogue the flag)"
    inner = pstree._unwrap(node)
    if inner.type == "string_literal" and inner.children[0].type == "verbatim_string_characters":
        return None
    if inner.type in VARIABLE_ARG:
        base = inner
        while base.type == "member_access":
            base = base.children[0]
            base = pstree._unwrap(base)
        if base.type == "variable":
            return None
    return f"native argument {body!r} ({inner.type}) is neither a quoted string nor a variable"


def check_script(source: str) -> tuple[list[Use], list[str]]:
    """The command uses in ``source`` and every violation of the catalog rules."""
    uses: list[Use] = []
    violations: list[str] = []
    for node in pstree.walk(pstree.parse(source).root_node):
        if node.type != "command":
            continue
        line = node.start_point[0] + 1
        head = node.children[0]
        elements = _elements(node)
        if head.type == "command_name":
            name = pstree.text(head)
            params = tuple(_parameter_name(e) for e in elements if e.type == "command_parameter")
            uses.append(Use(name, params, line))
            entry = CATALOG.get(name.lower())
            if entry is None:
                violations.append(f"line {line}: command {name!r} is not in the catalog")
                continue
            if name != entry.name:
                violations.append(f"line {line}: {name!r} is spelled {entry.name!r} in the catalog")
            allowed = {p.lower() for p in entry.parameters}
            if entry.common:
                allowed |= {p.lower() for p in COMMON_PARAMETERS}
            for param in params:
                if param.lower() not in allowed:
                    violations.append(f"line {line}: {name} has no parameter -{param} ({entry.url})")
            continue
        if head.type == "command_invokation_operator" and pstree.text(head) == "&":
            target = node.children[1]
            inner = target.children[0] if target.children else target
            if inner.type == "script_block_expression":
                uses.append(Use("& {...}", (), line))
                if elements:
                    violations.append(f"line {line}: script block invoked with arguments")
                continue
            variable = pstree.text(target)
            if inner.type == "path_command_name" and variable in NATIVE_VIA_VARIABLE:
                native = NATIVE_VIA_VARIABLE[variable]
                uses.append(Use(variable, tuple(pstree.text(e) for e in elements), line))
                for element in elements:
                    problem = _native_argument_problem(element, native.flags)
                    if problem:
                        violations.append(f"line {line}: & {variable}: {problem}")
                continue
            violations.append(f"line {line}: & {variable!r} is not a catalogued native via variable")
            continue
        violations.append(f"line {line}: unrecognised command form {pstree.text(node)[:60]!r}")
    return uses, violations


@pytest.mark.parametrize("rendered", RENDERED, ids=IDS)
def test_every_command_is_catalogued_with_catalogued_parameters(rendered: Rendered) -> None:
    uses, violations = check_script(rendered.script)
    assert violations == [], rendered.label
    assert uses, rendered.label


def test_catalog_covers_what_the_scripts_use_and_nothing_is_dead() -> None:
    """Every catalogued cmdlet and native is used by some script: an unused entry is a stale one."""
    used: set[str] = set()
    for rendered in RENDERED:
        used |= {u.command.lower() for u in check_script(rendered.script)[0]}
    assert {c.name.lower() for c in CMDLETS + FUNCTIONS} <= used
    assert {v.lower() for v in NATIVE_VIA_VARIABLE} <= used


@pytest.mark.parametrize(
    "source, expected",
    [
        ("Get-Widget -Name x", "command 'Get-Widget' is not in the catalog"),
        ("Get-Service -Nmae docker", "Get-Service has no parameter -Nmae"),
        ("Join-Path -Path a -ChildPath b -AdditionalChildPath c", "Join-Path has no parameter -AdditionalChildPath"),
        (
            "Test-ProvisionSkip -Id a -Requires @() -ErrorAction Stop",
            "Test-ProvisionSkip has no parameter -ErrorAction",
        ),
        ("& $dockerd --debug", "bare native argument '--debug'"),
        ("& $dockerd --validate (Get-Date)", "neither a quoted string nor a variable"),
        ("& $dockerd --version 2>$null", "'2>$null' (generic_token) is neither"),
        ("& $somethingElse 'x'", "is not a catalogued native via variable"),
        ("& { 1 } 'arg'", "script block invoked with arguments"),
        ("& 'C:\\tools\\x.exe' -y", "is not a catalogued native via variable"),
    ],
)
def test_checker_reports_violations(source: str, expected: str) -> None:
    """The check itself can fail: each of these must be reported."""
    _, violations = check_script(source)
    assert any(expected in v for v in violations), violations


@pytest.mark.parametrize(
    "source",
    [
        "Get-Service -Name docker -ErrorAction SilentlyContinue",
        "Install-WindowsFeature -Name Containers -IncludeManagementTools:$false",
        "& $dockerd --register-service --service-name $P.service",
        "& $dockerd '--isolation=process' $x 2>&1",
        "& $docker $arguments 2> $null",
    ],
)
def test_checker_accepts_catalogued_forms(source: str) -> None:
    assert check_script(source)[1] == []


# ---------------------------------------------------------------------------------------------
# The catalog itself.


def test_catalog_entries_cite_microsoft_learn() -> None:
    for entry in CMDLETS:
        assert entry.url.startswith("https://learn.microsoft.com/powershell/module/"), entry.name
        assert entry.url.split("?")[0].endswith("/" + entry.name.lower()), entry.name
        assert entry.parameters, entry.name
    sources = (
        "https://docs.docker.com/reference/cli/",
        "https://github.com/containerd/containerd/",
        "https://github.com/containerd/nerdctl/",
        "https://github.com/kubernetes-sigs/cri-tools/",
        "https://learn.microsoft.com/windows-server/administration/",
    )
    for native in NATIVE_VIA_VARIABLE.values():
        assert native.url.startswith(sources), native.variable


def test_powershell7_only_parameters_are_not_catalogued() -> None:
    """Parameters added after 5.1 (PowerShell 6/7 reference pages) must not be allowed."""
    ps7_only = {
        "Join-Path": "AdditionalChildPath",
        "Split-Path": "LeafBase",
        "Set-Service": "Force",
        "ConvertTo-Json": "AsArray",
        "Out-String": "NoNewline",
        "Invoke-WebRequest": "SkipCertificateCheck",
        "Get-FileHash": "Stream",
        "Test-Path": "Type",
    }
    for command, parameter in ps7_only.items():
        assert parameter not in CATALOG[command.lower()].parameters, (command, parameter)


def _prelude_functions() -> dict[str, tuple[set[str], bool]]:
    """Functions the prelude defines: name -> (declared parameters, advanced?)."""
    # The apply prelude: the others lack only Get-ProvisionProxy and Add-ProvisionMachinePath, which only apply
    # scripts call.
    prelude = Renderer().env.get_template("prelude.ps1.j2").render(host="h", phase="apply")
    found = {}
    for node in pstree.walk(pstree.parse(prelude).root_node):
        if node.type != "function_statement":
            continue
        name = pstree.text(next(c for c in node.children if c.type == "function_name"))
        params = {
            pstree.text(v).lstrip("$")
            for p in pstree.walk(node)
            if p.type == "script_parameter"
            for v in p.children
            if v.type == "variable"
        }
        attributes = {pstree.text(a).lower() for a in pstree.walk(node) if a.type == "attribute_name"}
        found[name] = (params, bool(attributes & {"parameter", "cmdletbinding"}))
    return found


def test_own_functions_match_the_prelude() -> None:
    defined = _prelude_functions()
    assert set(defined) == {f.name for f in FUNCTIONS}
    for function in FUNCTIONS:
        params, advanced = defined[function.name]
        assert params == set(function.parameters), function.name
        assert advanced == function.common, f"{function.name}: common parameters apply only to advanced functions"


# ---------------------------------------------------------------------------------------------
# Windows PowerShell 5.1 only: no `??`, `??=`, `?.`, `?[`, ternary `? :`, `&&`, `||`.

PS7_TOKENS = re.compile(r"\?\?|\?\.|\?\[|&&|\|\|")
TEXT_NODES = {
    "string_literal",
    "expandable_string_literal",
    "expandable_here_string_literal",
    "verbatim_here_string_characters",
    "comment",
}


def ps7_syntax(source: str) -> list[str]:
    found = []
    tree = pstree.parse(source)

    def visit(node: ts.Node) -> None:
        if node.type in TEXT_NODES:
            return
        if node.type == "pipeline_chain_tail":
            found.append(f"pipeline chain operator {pstree.text(node)!r}")
        if node.child_count == 0:
            token = pstree.text(node)
            if PS7_TOKENS.search(token) or (node.type == "ERROR" and "?" in token):
                found.append(f"PowerShell 7 operator in {token!r} at line {node.start_point[0] + 1}")
        for child in node.children:
            visit(child)

    visit(tree.root_node)
    # The grammar folds `$a ? 1 : 2` into ERROR nodes; the parse test forbids those too, but say why.
    if any(n.type == "ERROR" and "?" in pstree.text(n) for n in pstree.walk(tree.root_node)):
        found.append("ternary or null-conditional operator")
    return found


@pytest.mark.parametrize("rendered", RENDERED, ids=IDS)
def test_no_powershell7_only_syntax(rendered: Rendered) -> None:
    assert ps7_syntax(rendered.script) == [], rendered.label


@pytest.mark.parametrize(
    "source",
    [
        "Get-Item -Path x && Write-Output ok",
        "Get-Item -Path x || Write-Output failed",
        "$y = $x ?? 'default'",
        "Write-Output $x ?? 1",
        "$y ??= 1",
        "$x = $a ? 1 : 2",
        "$n = $obj?.Name",
        "$n = ${obj}?.Name",
    ],
)
def test_ps7_detector_finds_each_form(source: str) -> None:
    assert ps7_syntax(source), source


@pytest.mark.parametrize(
    "source",
    [
        "$s = 'a ?? b && c || d'",
        '$s = "a ?? b && c || d"',
        "# a ?? b && c || d\n$x = 1",
        "if ($a -and $b -or -not $c) { $x = 1 }",
    ],
)
def test_ps7_detector_ignores_strings_comments_and_51_operators(source: str) -> None:
    assert ps7_syntax(source) == []


# ---------------------------------------------------------------------------------------------
# Windows PowerShell 5.1 turns the stderr lines of a native command whose stream 2 is redirected
# (2>&1, 2> $null, 2> file) into ErrorRecords, and under $ErrorActionPreference = 'Stop' (set by the
# prelude) the first one is a terminating NativeCommandError, even when the program succeeds
# (PowerShell/PowerShell issues #3996 and #14273: PowerShell 7.1 changed it; a 5.1 repro:
# `$ErrorActionPreference='Stop'; $null = cmd /c "echo boom 1>&2" 2>$null` throws, Osmantic/ODS
# issue #3003). dockerd --validate prints "configuration OK" on stderr (windows-facts.md 5) and
# docker run prints "Unable to find image ... locally" there, so each redirected native call must
# run in its own script block that first sets the preference to Continue.

RELAXED = re.compile(r"^\$ErrorActionPreference\s*=\s*'(?:Continue|SilentlyContinue)'$", re.IGNORECASE)


def unguarded_native_redirections(source: str) -> list[str]:
    found = []
    for node in pstree.walk(pstree.parse(source).root_node):
        if node.type != "command" or node.children[0].type != "command_invokation_operator":
            continue
        if node.children[1].children and node.children[1].children[0].type == "script_block_expression":
            continue
        redirects = [e for e in _elements(node) if e.type == "redirection" and pstree.text(e)[:1] in "2*"]
        if not redirects:
            continue
        block = node.parent
        while block is not None and block.type != "script_block":
            block = block.parent
        body = [c for c in pstree.walk(block) if c.type == "statement_list"][:1] if block is not None else []
        first = pstree.named_children(body[0])[0] if body else None
        if first is None or not RELAXED.match(pstree.text(first).strip()):
            found.append(f"line {node.start_point[0] + 1}: {pstree.text(node)!r}")
    return found


@pytest.mark.parametrize("rendered", RENDERED, ids=IDS)
def test_redirected_native_stderr_runs_with_a_relaxed_error_preference(rendered: Rendered) -> None:
    assert unguarded_native_redirections(rendered.script) == [], rendered.label


@pytest.mark.parametrize(
    "source, bad",
    [
        ("$ErrorActionPreference = 'Stop'\n$o = (& $dockerd --validate 2>&1) | Out-String", True),
        ("$o = & { & $dockerd --version 2> $null }", True),
        ("$o = & { $ErrorActionPreference = 'Continue'; & $dockerd --validate 2>&1 }", False),
        ("$o = & {\n    $ErrorActionPreference = 'SilentlyContinue'\n    & $dockerd --version 2> $null\n}", False),
        ("& $dockerd --register-service", False),
    ],
)
def test_relaxed_preference_detector(source: str, bad: bool) -> None:
    assert bool(unguarded_native_redirections(source)) == bad
