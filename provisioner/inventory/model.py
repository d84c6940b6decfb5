"""The inventory's data: hosts, groups, and where each variable came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from provisioner.errors import KeyPath, LoadError
from provisioner.inventory.vault import Vault
from provisioner.transport.settings import ConnectionSettings
from provisioner.yamlsrc import Located

if TYPE_CHECKING:
    from provisioner.inventory.ansible import Render, Resolved

__all__ = ["Group", "Host", "Inventory", "Origin"]


@dataclass(frozen=True)
class Origin:
    """Where a value was written: a document (inventory, INI file, group_vars file, playbook) and a key path."""

    doc: Located
    path: KeyPath

    def error(self, message: str, hint: str | None = None) -> LoadError:
        return self.doc.error(self.path, message, hint)


@dataclass
class Host:
    """One inventory host: its groups in Ansible's order, merged vars and where each var came from."""

    name: str
    groups: list[str] = field(default_factory=list)
    """Every group the host is in, ``all`` first, then by depth, ``ansible_group_priority`` and name."""
    vars: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold ansible_password
    origins: dict[str, Origin] = field(default_factory=dict, repr=False)
    """The definition that won the merge, per var, for error messages."""
    path: KeyPath = ()
    """Where the host is first defined (in ``Inventory.doc`` or the INI file that defines it)."""
    origin: Origin | None = field(default=None, repr=False)
    ranks: dict[str, int] = field(default_factory=dict, repr=False)
    """Per var, the merge layer that set it (higher is more specific): decides provision's name against Ansible's."""
    secret: frozenset[str] = frozenset()
    """Vars that hold a password or came from a vault-encrypted file: masked, never template variables."""
    implicit: bool = False
    """Ansible's implicit ``localhost``: not in the inventory, made up when a pattern names it."""


@dataclass
class Group:
    name: str
    depth: int = 0
    priority: int = 1
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    """Hosts written directly in this group, in file order."""
    vars: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold ansible_password
    origins: dict[str, Origin] = field(default_factory=dict, repr=False)
    path: KeyPath = ()


@dataclass
class Inventory:
    """Hosts and groups of one or more inventory sources (a file, or a directory of files)."""

    file: Path
    doc: Located
    hosts: dict[str, Host]
    groups: dict[str, Group]
    warnings: list[str] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict, repr=False)
    """Per group, every host in it or in a group below it, in Ansible's order (see load.py)."""
    vault: Vault = field(default_factory=Vault, repr=False)

    def resolve(
        self,
        host: Host,
        render: Render | None = None,
        *,
        play_vars: dict[str, Any] | None = None,
        play_origins: dict[str, Origin] | None = None,
        strict: bool = True,
    ) -> tuple[ConnectionSettings | None, Resolved]:
        """The host's connection settings (see ansible.py), with play vars over host vars as in Ansible."""
        from provisioner.inventory.ansible import resolve_connection  # ansible.py builds on this module

        variables, ranks, origins = host.vars, host.ranks, host.origins
        if play_vars:
            variables = {**host.vars, **play_vars}
            ranks = {**host.ranks, **dict.fromkeys(play_vars, 1 << 30)}
            origins = {**host.origins, **(play_origins or {})}
        return resolve_connection(host, variables, ranks, origins, render, self.vault, strict=strict)

    def connection(
        self, host: Host, render: Render | None = None, *, play_vars: dict[str, Any] | None = None
    ) -> ConnectionSettings:
        """The host's connection settings; InputError names the file, line and key of a bad value."""
        settings, _ = self.resolve(host, render, play_vars=play_vars)
        assert settings is not None  # strict resolution raises instead
        return settings
