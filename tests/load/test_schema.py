"""The shipped JSON Schemas match the models, and accept the shipped examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import jsonschema
import pytest
import yaml

from provisioner.cli import run
from provisioner.schema import render_schema


@pytest.mark.parametrize("kind", ["playbook", "inventory"])
def test_shipped_schema_matches_the_models(
    repo: Path, kind: Literal["playbook", "inventory"], capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = (repo / "schema" / f"{kind}.schema.json").read_text()
    assert shipped == render_schema(kind), (
        f"schema/{kind}.schema.json is stale: regenerate with `provision schema {kind} > schema/{kind}.schema.json`"
    )
    assert run(["schema", kind]) == 0
    assert capsys.readouterr().out == shipped


@pytest.mark.parametrize(
    ("kind", "example"),
    [
        ("playbook", "playbooks/site.yml"),
        ("inventory", "inventories/lab.yml"),
        ("inventory", "inventories/example.yml"),
        ("inventory", "inventories/ansible-example.yml"),
        ("playbook", "playbooks/workstations.yml"),
    ],
)
def test_examples_validate_and_point_at_their_schema(repo: Path, kind: str, example: str) -> None:
    text = (repo / example).read_text()
    assert text.splitlines()[0] == f"# yaml-language-server: $schema=../schema/{kind}.schema.json"
    schema = json.loads((repo / "schema" / f"{kind}.schema.json").read_text())
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(text))) == []


def test_schema_refuses_what_the_loader_refuses(repo: Path) -> None:
    schema = json.loads((repo / "schema" / "playbook.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    good = {
        "name": "p",
        "hosts": "all",
        "rollout": {"forks": "{{ n }}"},
        "spec": {"engine": {"version": "{{ v }}", "sha256": "{{ s }}"}},
    }
    assert list(validator.iter_errors([good])) == []  # templates are accepted where a type is expected
    bad: dict[str, Any]
    for bad in (
        {"verfy": {}},
        {"daemon": {"iptables": False}},
        {"features": ["Containerz"]},
        {"virtualization": {"nested": "maybe"}},
    ):
        assert list(validator.iter_errors([{"name": "p", "hosts": "all", "spec": bad}])), bad
