"""The inventory's data: hosts, groups, where each variable came from, and connection settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from provisioner.errors import KeyPath, LoadError
from provisioner.inventory.vault import Vault
from provisioner.yamlsrc import Located

if TYPE_CHECKING:
    from provisioner.inventory.ansible import Render, Resolved

__all__ = ["ConnectionSettings", "Group", "Host", "Inventory", "Origin"]


@dataclass(frozen=True)
class Origin:
    """Where a value was written: a document (inventory, INI file, group_vars file, playbook) and a key path."""

    doc: Located
    path: KeyPath

    def error(self, message: str, hint: str | None = None) -> LoadError:
        return self.doc.error(self.path, message, hint)


class ConnectionSettings(BaseModel):
    """How to reach one host (DESIGN 4.8). Secrets are held as SecretStr and never printed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: Literal["winrm", "ssh"] = "winrm"
    address: str
    port: int | None = Field(default=None, gt=0, lt=65536)
    """Default 5986 for WinRM over HTTPS, 5985 over HTTP, 22 for SSH."""
    scheme: Literal["http", "https"] = "https"
    transport: Literal["ntlm", "basic", "kerberos", "credssp", "certificate"] = "ntlm"
    user: str | None = None
    password_env: str | None = None
    """Name of the environment variable that holds the password (or use --ask-pass)."""
    password: SecretStr | None = None
    """Only from ``ansible_password``, for Ansible compatibility; prefer password_env."""
    cert_validation: Literal["validate", "ignore"] = "validate"
    ca_bundle: str | None = None
    allow_unencrypted: bool = False
    host_key_policy: Literal["reject", "accept_new"] = "reject"
    known_hosts: str | None = None
    key_file: str | None = None
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    proxy: str | None = None
    """``http://host:port`` of an HTTP proxy for WinRM (a CONNECT tunnel for HTTPS); environment
    proxy variables are never used."""
    winrm_client: Literal["lean", "pywinrm"] | None = None
    """The WinRM client: ``lean`` (default for basic and ntlm) or ``pywinrm`` (the reference, and
    always for kerberos, credssp and certificate); ``--winrm-client`` overrides it for a run."""

    @model_validator(mode="after")
    def _coherent(self) -> ConnectionSettings:
        if (
            self.connection == "winrm"
            and self.transport == "basic"
            and self.scheme == "http"
            and not self.allow_unencrypted
        ):
            raise ValueError(
                "basic authentication over plain http sends the password in clear; use https, "
                "ntlm, or set allow_unencrypted: true"
            )
        if self.proxy is not None:
            parts = urlsplit(self.proxy)
            if parts.username is not None or parts.password is not None:
                # A password in a URL would end up in reprs and messages; proxy log-on is not supported.
                raise ValueError("proxy must be http://host:port, without credentials")
            if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
                raise ValueError(f"proxy must be http://host:port, not {self.proxy!r}")
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                raise ValueError(f"proxy must be http://host:port, not {self.proxy!r}") from None
        if self.transport == "certificate" and not (self.cert_pem and self.cert_key_pem):
            raise ValueError("transport certificate needs cert_pem and cert_key_pem")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        if self.connection == "ssh":
            return 22
        return 5986 if self.scheme == "https" else 5985


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
