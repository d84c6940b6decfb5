"""Playbooks -> plays -> per-host targets with a validated HostSpec.

A playbook is a list of plays (``name``, ``hosts``, ``inventory``, ``vars``, ``rollout``,
``reboot``, ``spec``). Values may use Jinja2 ``{{ var }}`` resolved per host from the merged
inventory vars and the play's vars (play vars win, as in Ansible), with StrictUndefined, so an
undefined variable is a load error naming the place, never an empty string.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ValidationError

from provisioner.errors import InputError, KeyPath, LoadError, closest
from provisioner.inventory import ConnectionSettings, Inventory, load_inventory, select_hosts
from provisioner.loadutil import validation_errors
from provisioner.spec import HostSpec, RebootPolicy, RolloutPolicy, VerifySpec
from provisioner.yamlsrc import Located, load_yaml

__all__ = ["Play", "Playbook", "Target", "facts_targets", "load_playbook"]

PLAY_KEYS = ("name", "hosts", "inventory", "vars", "rollout", "reboot", "spec")

_ENV = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
# Like Ansible's lookup('env', ...): an inventory can follow the environment (the lab directory).
_ENV.globals["env"] = lambda name, default="": os.environ.get(name, default)


@lru_cache(maxsize=4096)
def _template(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


@lru_cache(maxsize=4096)
def _expression(source: str) -> Any:
    return _ENV.compile_expression(source, undefined_to_none=False)


class Templater:
    """Resolves ``{{ }}`` in YAML values for one host; errors point at the value's place."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.errors: list[LoadError] = []

    def __call__(self, value: Any, variables: dict[str, Any], path: KeyPath, doc: Located | None = None) -> Any:
        if isinstance(value, dict):
            return {k: self(v, variables, path + (k,), doc) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v, variables, path + (i,), doc) for i, v in enumerate(value)]
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        try:
            stripped = value.strip()
            # A value that is exactly one expression keeps its type (a number stays a number).
            if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
                result = _expression(stripped[2:-2].strip())(**variables)
                if isinstance(result, jinja2.Undefined):
                    str(result)  # raises UndefinedError with the variable's name
                return result
            return _template(value).render(**variables)
        except jinja2.UndefinedError as exc:
            message = f"undefined variable: {exc.message}"
        except jinja2.TemplateError as exc:
            message = f"template error: {exc}"
        self.errors.append((doc or self.doc).error(path, message, "define it in the inventory or the play's vars"))
        return value


@dataclass(frozen=True)
class Play:
    index: int
    name: str
    hosts: str
    inventory: Inventory = field(repr=False)
    rollout: RolloutPolicy


@dataclass(frozen=True)
class Target:
    """One host of one play: where to connect and what it must look like."""

    name: str
    play: Play
    connection: ConnectionSettings
    spec: HostSpec
    reboot: RebootPolicy
    vars: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Playbook:
    file: Path
    plays: list[Play]
    targets: list[Target]
    warnings: list[str]


def _validate(
    model: type[BaseModel], raw: Any, values: Any, doc: Located, path: KeyPath, errors: list[LoadError]
) -> Any:
    """Validate templated ``values``; errors about a value that held ``{{ }}`` in ``raw`` say so."""

    def templated(where: KeyPath) -> bool:
        node = raw
        for part in where[len(path) :]:
            if isinstance(node, dict) and part in node:  # noqa: SIM114 (the arms narrow different types)
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                return False
        return _has_template(node)

    try:
        return model.model_validate(values if values is not None else {})
    except ValidationError as exc:
        errors.extend(validation_errors(exc, doc, path, model, templated=templated))
        return None


def _has_template(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_template(v) for v in value)
    return False


def load_playbook(file: Path, *, inventory: Path | None = None, limit: str | None = None) -> Playbook:
    """Load, template and validate a playbook for every targeted host; InputError lists all problems."""
    doc = load_yaml(file)
    if not isinstance(doc.data, list) or not doc.data:
        raise InputError([doc.error((), "expected a list of plays (each with name, hosts and spec)")])
    errors: list[LoadError] = []
    plays: list[Play] = []
    targets: list[Target] = []
    warnings: list[str] = []
    inventories: dict[Path, Inventory] = {}
    for index, raw_play in enumerate(doc.data):
        base: KeyPath = (index,)
        if not isinstance(raw_play, dict):
            errors.append(doc.error(base, "expected a play: a mapping with name, hosts and spec"))
            continue
        for key in raw_play:
            if key not in PLAY_KEYS:
                guess = closest(key, PLAY_KEYS)
                errors.append(
                    doc.error(
                        base + (key,),
                        f"unknown play key; expected one of: {', '.join(PLAY_KEYS)}",
                        f"did you mean '{guess}'?" if guess else None,
                    )
                )
        for key in ("name", "hosts"):
            if not isinstance(raw_play.get(key), str):
                errors.append(doc.error(base + (key,) if key in raw_play else base, f"{key} is required (text)"))
        if errors:
            continue
        inventory_path = inventory
        if inventory_path is None:
            if not raw_play.get("inventory"):
                errors.append(doc.error(base, "no inventory: add `inventory:` to the play or pass -i INVENTORY"))
                continue
            inventory_path = (file.parent / str(raw_play["inventory"])).resolve()
        try:
            inv = inventories.get(inventory_path) or load_inventory(inventory_path)
        except InputError as exc:
            errors.extend(exc.errors)
            continue
        if inventory_path not in inventories:
            inventories[inventory_path] = inv
            warnings.extend(inv.warnings)
        play_vars = raw_play.get("vars") or {}
        if not isinstance(play_vars, dict):
            errors.append(doc.error(base + ("vars",), "expected a mapping of variables"))
            continue
        templater = Templater(doc)
        rollout = _validate(
            RolloutPolicy,
            raw_play.get("rollout"),
            templater(raw_play.get("rollout"), play_vars, base + ("rollout",)),
            doc,
            base + ("rollout",),
            errors,
        )
        try:
            names = select_hosts(inv, raw_play["hosts"], source=f"play {raw_play['name']!r} hosts")
        except InputError as exc:
            errors.extend(doc.error(base + ("hosts",), e.message, e.hint) for e in exc.errors)
            continue
        if limit:
            try:
                limited = set(select_hosts(inv, limit, source="--limit"))
            except InputError as exc:
                errors.extend(exc.errors)
                continue
            names = [n for n in names if n in limited]
        play = Play(index, raw_play["name"], raw_play["hosts"], inv, rollout or RolloutPolicy())
        plays.append(play)
        spec_raw, reboot_raw = raw_play.get("spec"), raw_play.get("reboot")
        static = not _has_template(spec_raw) and not _has_template(reboot_raw)
        shared: tuple[HostSpec, RebootPolicy] | None = None
        for name in names:
            host = inv.hosts[name]
            variables = {**host.vars, **play_vars, "inventory_hostname": name}
            try:
                connection = inv.connection(host, lambda v, vs, p: templater(v, vs, p, inv.doc))  # noqa: B023 (called at once, inside the loop)
            except InputError as exc:
                errors.extend(exc.errors)
                continue
            if shared is None or not static:
                spec_values = templater(spec_raw, variables, base + ("spec",))
                reboot_values = templater(reboot_raw, variables, base + ("reboot",))
                if templater.errors:
                    # Validating text that still holds {{ }} would only add confusing errors.
                    errors.extend(templater.errors)
                    templater.errors.clear()
                    continue
                spec = _validate(HostSpec, spec_raw, spec_values, doc, base + ("spec",), errors)
                reboot = _validate(RebootPolicy, reboot_raw, reboot_values, doc, base + ("reboot",), errors)
                if spec is None or reboot is None:
                    if static:
                        break  # the same error for every host: report it once
                    continue
                shared = (spec, reboot)
            targets.append(Target(name, play, connection, shared[0], shared[1], variables))
        errors.extend(templater.errors)
        if rollout is None:
            plays.pop()
    if errors:
        raise InputError(_dedupe(errors))
    if not targets:
        raise InputError([doc.error((), "no host is targeted (check hosts: and --limit)")])
    return Playbook(file, plays, targets, warnings)


def _dedupe(errors: list[LoadError]) -> list[LoadError]:
    seen: set[str] = set()
    unique = []
    for error in errors:
        if str(error) not in seen:
            seen.add(str(error))
            unique.append(error)
    return unique


FACTS_SPEC = HostSpec(verify=VerifySpec(when="never"))
"""Facts need no spec: probe everything with the defaults."""


def facts_targets(inventory_file: Path, limit: str | None) -> list[Target]:
    """Targets for ``provision facts``: inventory hosts with connection settings and no spec."""
    inv = load_inventory(inventory_file)
    names = select_hosts(inv, limit or "all", source="--limit")
    play = Play(0, "facts", limit or "all", inv, RolloutPolicy())
    templater = Templater(inv.doc)
    targets = [
        Target(
            name,
            play,
            inv.connection(inv.hosts[name], lambda v, vs, p: templater(v, vs, p)),
            FACTS_SPEC,
            RebootPolicy(),
            dict(inv.hosts[name].vars),
        )
        for name in names
    ]
    if templater.errors:
        raise InputError(templater.errors)
    return targets
