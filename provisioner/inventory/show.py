"""What ``provision inventory`` prints: the hosts, groups and connection settings provision resolved.

``--list`` is the answer to "what will provision connect to": per host the effective connection
(Ansible's own value, e.g. ``local``, when provision cannot use it), address, port, user, scheme,
transport, certificate policy, CA bundle, key file and whether a password is set (never the
password), and per group its hosts in Ansible's order. ``--host`` prints one host's merged vars
with every secret masked.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from provisioner.errors import InputError
from provisioner.inventory.ansible import Render
from provisioner.inventory.model import Host, Inventory
from provisioner.yamlsrc import VaultText

__all__ = ["HIDDEN", "host_listing", "inventory_listing", "masked_vars"]

HIDDEN = "<hidden>"
_PASSWORD_NAMES = {
    "winrm": ("password", "ansible_password", "ansible_winrm_pass", "ansible_winrm_password"),
    "ssh": ("password", "ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
}


def _password_set(host: Host, variables: dict[str, Any], connection: str) -> bool:
    names = _PASSWORD_NAMES.get(connection, _PASSWORD_NAMES["winrm"])
    if any(variables.get(name) not in (None, "") for name in names):
        return True
    env = variables.get("password_env")
    return isinstance(env, str) and bool(os.environ.get(env))


def host_listing(inventory: Inventory, host: Host, render: Render | None) -> dict[str, Any]:
    """One host's entry in ``--list``; bad values of a winrm/ssh host raise InputError naming the place."""
    settings, resolved = inventory.resolve(host, render, strict=False)
    raw = resolved.raw
    if settings is None and raw.get("connection") in ("winrm", "ssh"):
        inventory.resolve(host, render)  # raises the located errors
    connection = str(raw.get("connection"))
    entry: dict[str, Any] = {"connection": connection}
    if settings is not None:
        entry |= {
            "address": settings.address,
            "port": settings.effective_port,
            "user": settings.user,
            "scheme": settings.scheme if settings.connection == "winrm" else None,
            "transport": settings.transport if settings.connection == "winrm" else None,
            "cert_validation": settings.cert_validation if settings.connection == "winrm" else None,
            "ca_bundle": settings.ca_bundle,
            "key_file": settings.key_file,
        }
    else:
        port = raw.get("port")
        entry |= {
            "address": raw.get("address", host.name),
            "port": int(port) if isinstance(port, int) or (isinstance(port, str) and port.isdigit()) else None,
            "user": raw.get("user"),
            "scheme": None,
            "transport": None,
            "cert_validation": None,
            "ca_bundle": None,
            "key_file": raw.get("key_file"),
        }
    entry["password_set"] = _password_set(host, host.vars, connection)
    entry["groups"] = [g for g in host.groups if g != "all"]
    if resolved.notes:
        entry["ansible_defaults"] = resolved.notes
    return entry


def inventory_listing(
    inventory: Inventory, names: list[str], render_for: Callable[[Host], Render | None]
) -> dict[str, Any]:
    """``--list``: the hosts ``names`` (in order) and every group with its hosts among them."""
    chosen = set(names)
    hosts: dict[str, Any] = {}
    errors = []
    for name in names:
        host = inventory.hosts[name]
        try:
            hosts[name] = host_listing(inventory, host, render_for(host))
        except InputError as exc:
            errors += exc.errors
    if errors:
        raise InputError(errors)
    groups = {
        group: [h for h in members if h in chosen]
        for group, members in sorted(inventory.members.items())
        if any(h in chosen for h in members) or group in ("all", "ungrouped")
    }
    return {"hosts": hosts, "groups": groups}


def masked_vars(host: Host) -> dict[str, Any]:
    """``--host``: the merged vars, secrets (passwords, vault values) shown as ``<hidden>``."""
    return {key: _masked(key, value, host) for key, value in sorted(host.vars.items())}


def _masked(key: str, value: Any, host: Host) -> Any:
    if key in host.secret or isinstance(value, VaultText):
        return HIDDEN
    if isinstance(value, dict):
        return {k: HIDDEN if isinstance(v, VaultText) else v for k, v in value.items()}
    return value
