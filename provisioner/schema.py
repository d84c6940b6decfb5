"""JSON Schemas of playbooks and inventories, generated from the pydantic models.

Editors use them through the ``# yaml-language-server: $schema=...`` line of the example files
(completion, hover docs from the docstrings, validation). ``provision schema`` prints them;
schema/*.schema.json are the shipped copies, and a test fails when they drift from the models.
Values may be Jinja2 templates (``"{{ docker_version }}"``), so every typed leaf also accepts a
string that holds ``{{``.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from provisioner.inventory import ANSIBLE_ALIASES
from provisioner.spec import DAEMON_KEYS_WINDOWS, HostSpec, RebootPolicy, RolloutPolicy
from provisioner.transport.settings import ConnectionSettings

__all__ = ["SCHEMA_IDS", "inventory_schema", "playbook_schema", "render_schema"]

SCHEMA_IDS = {"playbook": "playbook.schema.json", "inventory": "inventory.schema.json"}
_TEMPLATE = {"type": "string", "pattern": r"\{\{", "description": "a Jinja2 template, resolved per host"}


class PlaySchema(BaseModel):
    """One play: which hosts, from which inventory, with which rollout, reboot policy and spec."""

    model_config = ConfigDict(extra="forbid", title="Play")

    name: str
    hosts: str = Field(description="host pattern: names, groups, globs, a:b union, a:&b intersection, !a exclusion")
    inventory: str | None = Field(default=None, description="inventory path, relative to the playbook")
    vars: dict[str, Any] = Field(
        default_factory=dict, description="variables for {{ }} templates; they win over inventory vars"
    )
    rollout: RolloutPolicy = RolloutPolicy()
    reboot: RebootPolicy = RebootPolicy()
    spec: HostSpec


def _allow_templates(node: Any) -> Any:
    """Every typed leaf (number, boolean, enum, pattern) also accepts a template string."""
    if isinstance(node, list):
        return [_allow_templates(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {
        key: (
            {name: _allow_templates(sub) for name, sub in value.items()}
            if key in {"properties", "$defs"} and isinstance(value, dict)
            else _allow_templates(value)
        )
        for key, value in node.items()
    }
    kind = node.get("type")
    leaf = (
        (isinstance(kind, str) and kind in {"integer", "number", "boolean"})
        or "enum" in node
        or "const" in node
        or (kind == "string" and "pattern" in node)
    )
    if leaf and "$ref" not in node:
        meta = {k: node.pop(k) for k in ("title", "description", "default") if k in node}
        return {**meta, "anyOf": [node, _TEMPLATE]}
    return node


def playbook_schema() -> dict[str, Any]:
    schema = PlaySchema.model_json_schema()
    spec = schema["$defs"]["HostSpec"]["properties"]["daemon"]
    for option in spec.get("anyOf", []):
        if option.get("type") == "object":
            option["propertyNames"] = {"enum": sorted(DAEMON_KEYS_WINDOWS)}
            option["description"] = "daemon.json keys that Windows dockerd accepts"
    result: dict[str, Any] = _allow_templates(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_IDS["playbook"],
            "title": "provision playbook",
            "description": "A list of plays; see README 'Spec reference'.",
            "type": "array",
            "minItems": 1,
            "items": {"$ref": "#/$defs/Play"},
            "$defs": {**schema.pop("$defs"), "Play": schema},
        }
    )
    return result


def inventory_schema() -> dict[str, Any]:
    connection = ConnectionSettings.model_json_schema()
    properties = dict(connection["properties"])
    for alias, target in ANSIBLE_ALIASES.items():
        properties[alias] = {**properties[target], "description": f"Ansible name for {target}"}
    properties["ansible_connection"] = {
        "enum": ["winrm", "ssh", "smart", "ansible.builtin.winrm", "ansible.builtin.ssh", "ansible.legacy.winrm"],
        "description": "Ansible name for connection (plugin names and FQCNs; psrp and local are refused)",
    }
    properties["ansible_winrm_transport"] = {
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        "description": "Ansible name for transport: ntlm, kerberos, credssp, certificate, ssl or plaintext (Basic), "
        "or a preference list ('kerberos,ntlm')",
    }
    properties["password"] = {"type": "string", "description": "prefer password_env: a plain password in a file"}
    host_vars = {
        "type": ["object", "null"],
        "properties": properties,
        "additionalProperties": True,
        "description": "connection settings and any variables for {{ }} templates",
    }
    result: dict[str, Any] = _allow_templates(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_IDS["inventory"],
            "title": "provision inventory (Ansible YAML shape)",
            "type": "object",
            "additionalProperties": {"$ref": "#/$defs/Group"},
            "$defs": {
                "HostVars": host_vars,
                "Group": {
                    "type": ["object", "null"],
                    "additionalProperties": False,
                    "properties": {
                        "hosts": {"type": ["object", "null"], "additionalProperties": {"$ref": "#/$defs/HostVars"}},
                        "vars": {"$ref": "#/$defs/HostVars"},
                        "children": {"type": ["object", "null"], "additionalProperties": {"$ref": "#/$defs/Group"}},
                    },
                },
            },
        }
    )
    return result


def render_schema(kind: Literal["playbook", "inventory"]) -> str:
    schema = playbook_schema() if kind == "playbook" else inventory_schema()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
