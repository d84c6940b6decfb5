"""The resource contract (provisioner/resources/base.py) checked against what the templates really do.

Each declaration is read against its template's PowerShell parse tree (tree-sitter), not a hand list:
a template that can set ``$RebootRequired`` must belong to a resource that declares ``may_reboot``
(and the reverse, or ``provision plan`` over-reports), and the keys a template writes into ``$Data``
are the fields of the resource's data model.
"""

from __future__ import annotations

import ast
import typing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import tree_sitter as ts
from core import pstree
from core.data import desktop_spec, load_facts, site_spec
from pydantic import BaseModel

import provisioner
from provisioner.facts import Facts
from provisioner.plan import SCRIPT_OVERHEAD, Plan, order_resources, plan
from provisioner.resources import base, engines
from provisioner.resources.base import DEFAULT_TIMEOUT, Change, NoParams, Resource, no_changes
from provisioner.resources.container_engine import EngineParams
from provisioner.resources.container_verify import VerifyParams
from provisioner.resources.docker_desktop import DesktopParams
from provisioner.resources.engines import ENGINES
from provisioner.resources.registry import GENERIC, RESOURCES
from provisioner.spec import HostSpec

PACKAGE = Path(provisioner.__file__).resolve().parent
TEMPLATES = PACKAGE / "templates" / "resources"
PROTOCOL_BLOCKS = {"facts", "reboot", "diagnostics"}
"""Blocks of the script protocol, not resources: FACTS, REBOOT and doctor's diagnostics."""


def renders_blocks(resource: Resource[Any]) -> bool:
    """A resource renders blocks when it makes changes or is an engine type's verify."""
    return resource.changes is not no_changes or any(e.verify is resource for e in ENGINES.values())


BLOCK_RESOURCES = sorted(name for name, r in RESOURCES.items() if renders_blocks(r))


def template_source(resource: Resource[Any]) -> str:
    source = (PACKAGE / "templates" / resource.template).read_text(encoding="utf-8")
    # The raw text is the block's PowerShell only while it holds no Jinja: anything rendered would escape the checks.
    assert "{{" not in source and "{%" not in source, f"{resource.template}: Jinja in a resource template"
    return source


def _assignments(tree: ts.Tree) -> list[tuple[str, str]]:
    """(target, value) text of every assignment in the tree."""
    found = []
    for node in pstree.walk(tree.root_node):
        if node.type == "assignment_expression":
            left, value = node.children[0], node.children[-1]
            found.append((pstree.text(left).strip(), pstree.text(value).strip()))
    return found


def can_set_reboot(source: str) -> bool:
    """Whether PowerShell ``source`` can set ``$RebootRequired`` to anything but ``$false``, by assignment or as
    Write-ProvisionRecord's ``-RebootRequired`` argument (PowerShell names are case-insensitive)."""
    tree = pstree.parse(source)
    assert not pstree.problems(source), pstree.problems(source)
    if any(t.lower() == "$rebootrequired" and v.lower() != "$false" for t, v in _assignments(tree)):
        return True
    for node in pstree.walk(tree.root_node):
        if node.type == "command_parameter" and pstree.text(node).lower().startswith("-rebootrequired"):
            argument = node.next_named_sibling
            while argument is not None and argument.type == "command_argument_sep":
                argument = argument.next_named_sibling
            if argument is None or pstree.text(argument).strip().lower() != "$false":
                return True
    return False


def data_keys(source: str) -> set[str]:
    """The keys ``source`` writes into ``$Data``; fails on any other use of ``$Data``, whose keys it could not
    know (the block template passes ``$Data`` to the record itself)."""
    tree = pstree.parse(source)
    keys = set()
    uses = [n for n in pstree.walk(tree.root_node) if n.type == "variable" and pstree.text(n).lower() == "$data"]
    for variable in uses:
        access = variable.parent
        index = access.named_children[1] if access is not None and access.type == "element_access" else None
        target = access
        while target is not None and target.type != "left_assignment_expression":
            target = target.parent
        assert index is not None and target is not None, f"$Data used otherwise than $Data['key'] = ...: {source!r}"
        keys.add(pstree.evaluate(index))
    return keys


@pytest.mark.parametrize(
    "source, expected",
    [
        ("$RebootRequired = $true", True),
        ("$RebootRequired = $false", False),
        ("if ($x) { $rebootrequired = [bool] $result.RestartNeeded }", True),
        ("if ($codes -contains $code) { $RebootRequired = $true }", True),
        ("Write-ProvisionRecord -Id $Id -Changed $true -RebootRequired $true", True),
        ("Write-ProvisionRecord -Id $Id -RebootRequired $false", False),
        ("# $RebootRequired = $true\n$Changed = $true", False),
        ("$text = '$RebootRequired = $true'", False),
    ],
)
def test_the_reboot_reader_sees_every_way_to_set_it(source: str, expected: bool) -> None:
    assert can_set_reboot(source) is expected


def test_the_data_reader_takes_literal_keys_and_refuses_other_uses() -> None:
    assert data_keys("$Data['before'] = $x\nif ($y) { $Data['after'] = 1 }") == {"before", "after"}
    with pytest.raises(AssertionError, match="otherwise"):
        data_keys("$Data.Add('hidden', 1)")


@pytest.mark.parametrize("name", BLOCK_RESOURCES)
def test_a_resource_declares_a_reboot_exactly_when_its_template_can_set_one(name: str) -> None:
    resource = RESOURCES[name]
    assert resource.may_reboot is can_set_reboot(template_source(resource)), (
        f"{name}: may_reboot={resource.may_reboot}, but its template "
        f"{'can' if not resource.may_reboot else 'cannot'} set $RebootRequired"
    )


@pytest.mark.parametrize("name", BLOCK_RESOURCES)
def test_a_resources_data_model_has_the_keys_its_template_writes(name: str) -> None:
    resource = RESOURCES[name]
    assert data_keys(template_source(resource)) == set(resource.data.model_fields), name


def test_every_resource_template_has_its_resource_and_back() -> None:
    on_disk = {path.name.removesuffix(".ps1.j2") for path in TEMPLATES.glob("*.ps1.j2")}
    assert on_disk - PROTOCOL_BLOCKS == set(BLOCK_RESOURCES)
    for name, resource in RESOURCES.items():
        assert resource.name == name
        if not renders_blocks(resource):  # virtualization: preflight only, no block, no params
            assert resource.params is NoParams and not (PACKAGE / "templates" / resource.template).exists()


def plan_for_site() -> Plan:
    return plan("s", site_spec(), load_facts("server2022"))


def plan_for_workstation() -> Plan:
    return plan("w", desktop_spec(), load_facts("workstation-win11-23h2-pro"))


def test_docker_desktop_and_wsl_may_reboot_in_the_plan() -> None:
    """The known bug: their installers' 3010/1641 reboot, yet `provision plan` said they could not."""
    reboots = {c.id: c.may_reboot for c in plan_for_workstation().changes if not c.id.startswith("feature/")}
    assert reboots == {
        "engine/wsl": True,
        "engine/docker-desktop": True,
        "desktop/docker-users": False,
        "desktop/config/dev": False,
    }
    assert {c.id: c.may_reboot for c in plan_for_site().changes} == {
        "feature/Containers": True,
        "feature/Microsoft-Hyper-V": True,
        "engine/docker": False,
        "daemon/config": False,
    }


# ---------------------------------------------------------------------------------------------
# The registry and the plan built from it.


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_each_engine_types_resources_order_by_their_requires(engine: str) -> None:
    resources = (*GENERIC, *ENGINES[engine].resources)
    order = [r.name for r, _ in order_resources(resources)]
    for resource, needs in order_resources(resources):
        assert set(resource.requires) <= needs
        assert all(order.index(name) < order.index(resource.name) for name in needs), (resource.name, order)


def _resource(name: str, *requires: str) -> Resource[Any]:
    return Resource(name=name, params=NoParams, data=RESOURCES["virtualization"].data, requires=requires)


def test_requires_are_transitive_and_ties_keep_the_declared_order() -> None:
    resources = (_resource("c", "b"), _resource("a"), _resource("b", "a"), _resource("d"))
    assert [(r.name, sorted(needs)) for r, needs in order_resources(resources)] == [
        ("a", []),
        ("b", ["a"]),
        ("c", ["a", "b"]),
        ("d", []),
    ]


def test_a_cycle_or_an_unknown_requirement_cannot_be_ordered() -> None:
    with pytest.raises(ValueError, match="a cycle"):
        order_resources((_resource("a", "b"), _resource("b", "a")))
    with pytest.raises(ValueError, match="unknown types \\['nowhere'\\]"):
        order_resources((_resource("a", "nowhere"),))


def test_block_requires_come_from_the_declared_types_transitively() -> None:
    p = plan_for_site()
    requires = {c.id: c.requires for c in p.changes}
    features = ("feature/Containers", "feature/Microsoft-Hyper-V")
    assert requires == {
        "feature/Containers": (),
        "feature/Microsoft-Hyper-V": (),
        "engine/docker": features,
        "daemon/config": (*features, "engine/docker"),  # daemon_config -> container_engine -> windows_feature
    }


def test_the_apply_timeout_is_the_sum_of_the_blocks_declared_timeouts() -> None:
    p = plan_for_site()
    assert p.apply_timeout == SCRIPT_OVERHEAD + DEFAULT_TIMEOUT * len(p.changes)
    desktop = plan_for_workstation()
    install = next(c.params for c in desktop.changes if c.id == "engine/docker-desktop")
    assert isinstance(install, DesktopParams)
    # The installer's own 1800 s limit fits inside the script's (a flat 600 s cut it off before).
    assert desktop.apply_timeout > install.timeout + DEFAULT_TIMEOUT
    verify = p.verify[0].params("")
    assert isinstance(verify, VerifyParams)
    assert p.verify_timeout == SCRIPT_OVERHEAD + verify.timeout


def test_a_resource_whose_changes_break_its_declaration_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(spec: HostSpec, facts: Facts) -> list[Change]:
        return [Change("engine/docker", "daemon_config", EngineParams.model_construct(), [])]

    broken = replace(engines.DOCKER_CE, resources=(replace(engines.DOCKER_CE.resources[0], changes=wrong),))
    monkeypatch.setitem(engines.ENGINES, "docker-ce", broken)
    with pytest.raises(TypeError, match="container_engine.changes made daemon_config"):
        plan_for_site()


# ---------------------------------------------------------------------------------------------
# An engine type is a set of resources: only they look inside its spec.


def engine_spec_classes(annotation: Any) -> set[type]:
    """The models in ``HostSpec.engine``'s annotation (every engine type's spec)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {annotation}
    return {cls for arg in typing.get_args(annotation) for cls in engine_spec_classes(arg)}


def owners() -> set[str]:
    """Modules that may test for an engine spec class: those of an engine type's own resources and verify
    (found from their functions), and the spec's model."""
    found = {"spec.py"}
    for engine in ENGINES.values():
        functions = [f for r in engine.resources for f in (r.changes, r.preflight)] + [engine.verification]
        modules = {f.__module__ for f in functions} - {base.__name__}  # base: the contract's defaults
        found |= {m.removeprefix("provisioner.").replace(".", "/") + ".py" for m in modules}
    return found


def test_no_isinstance_on_an_engine_spec_outside_the_resources_that_own_it() -> None:
    spec_classes = {cls.__name__ for cls in engine_spec_classes(HostSpec.model_fields["engine"].annotation)}
    assert spec_classes >= {"EngineSpec", "DockerDesktopSpec"}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance":
                names = {n.id for n in ast.walk(node.args[1]) if isinstance(n, ast.Name)}
                if names & spec_classes:
                    found.append(f"{path.relative_to(PACKAGE).as_posix()}:{node.lineno}")
    assert {where.split(":")[0] for where in found} <= owners(), found
    # One accessor per engine type (container_engine.docker_ce, docker_desktop.docker_desktop); 22 before.
    assert len([w for w in found if not w.startswith("spec.py")]) <= len(ENGINES), found


def test_the_verify_runs_have_one_shape_for_every_engine() -> None:
    desktop = plan("w", desktop_spec(), load_facts("workstation-win11-23h2-pro-logged-on"))
    for p, engine in ((plan_for_site(), "docker-ce"), (desktop, "docker-desktop")):
        assert p.verify, p.preflight
        ids = [run.block_id for run in p.verify]
        assert len(set(ids)) == len(ids)
        for run in p.verify:
            assert run.type == ENGINES[engine].verify.name
            assert isinstance(run.params("n0nce"), ENGINES[engine].verify.params)


def test_a_spec_without_an_engine_plans_only_the_generic_resources() -> None:
    spec = HostSpec.model_validate(
        {**site_spec().model_dump(), "engine": None, "daemon": None, "verify": {"when": "never"}}
    )
    p = plan("s", spec, load_facts("server2022"))
    assert {c.type for c in p.changes} == {"windows_feature"} and p.verify == ()
