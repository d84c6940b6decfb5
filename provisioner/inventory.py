"""Inventories in Ansible's YAML shape -> hosts with merged vars and connection settings.

Groups nest under ``children``; vars merge all -> parent groups -> child groups -> host, as in
Ansible. The common Ansible connection variables are accepted unchanged so an existing
inventory works as it is. Host patterns follow Ansible: ``a:b`` union, ``a:&b`` intersection,
``!a`` exclusion, globs; a pattern term that matches nothing is an error.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from provisioner.errors import InputError, KeyPath, LoadError, closest
from provisioner.loadutil import validation_errors
from provisioner.yamlsrc import Located, load_yaml

__all__ = ["ANSIBLE_ALIASES", "ConnectionSettings", "Host", "Inventory", "load_inventory", "select_hosts"]

# Ansible's names for our connection keys (ansible.windows winrm/ssh connection plugins).
ANSIBLE_ALIASES: dict[str, str] = {
    "ansible_host": "address",
    "ansible_user": "user",
    "ansible_password": "password",
    "ansible_port": "port",
    "ansible_connection": "connection",
    "ansible_winrm_transport": "transport",
    "ansible_winrm_scheme": "scheme",
    "ansible_winrm_server_cert_validation": "cert_validation",
    "ansible_winrm_ca_trust_path": "ca_bundle",
    "ansible_ssh_private_key_file": "key_file",
}
# Ansible variables with no meaning here; validate warns about them (ignored, not refused).
ANSIBLE_IGNORED = frozenset(
    {
        "ansible_shell_type",
        "ansible_become",
        "ansible_become_method",
        "ansible_become_user",
        "ansible_winrm_message_encryption",
        "ansible_winrm_kerberos_delegation",
        "ansible_winrm_operation_timeout_sec",
        "ansible_winrm_read_timeout_sec",
        "ansible_python_interpreter",
        "ansible_ssh_common_args",
        "ansible_shell_executable",
    }
)


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
    """One inventory host: its groups (outermost first), merged vars and where each var came from."""

    name: str
    groups: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold ansible_password
    origins: dict[str, KeyPath] = field(default_factory=dict)
    """Key path of the definition that won the merge, per var, for error messages."""
    path: KeyPath = ()
    """Where the host is first defined."""


@dataclass
class Group:
    name: str
    depth: int
    parents: set[str] = field(default_factory=set)
    hosts: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict, repr=False)  # may hold ansible_password
    path: KeyPath = ()


@dataclass
class Inventory:
    file: Path
    doc: Located
    hosts: dict[str, Host]
    groups: dict[str, Group]
    warnings: list[str] = field(default_factory=list)

    def connection(self, host: Host, render: Any = None) -> ConnectionSettings:
        """The host's connection settings from its merged vars (Ansible names translated)."""
        raw: dict[str, Any] = {}
        origin: dict[str, KeyPath] = {}
        for key, value in host.vars.items():
            target = ANSIBLE_ALIASES.get(key, key)
            if target in ConnectionSettings.model_fields:
                if render is not None:
                    value = render(value, host.vars, host.origins.get(key, ()))
                raw[target] = value
                origin[target] = host.origins.get(key, ())
        raw.setdefault("address", host.name)
        for key in ("ca_bundle", "known_hosts", "key_file", "cert_pem", "cert_key_pem"):
            if isinstance(raw.get(key), str):
                # Paths in an inventory are relative to the inventory file, like the play's inventory.
                raw[key] = str((self.file.parent / Path(raw[key]).expanduser()).resolve())
        errors: list[LoadError] = []
        if raw.get("connection") == "psrp":
            errors.append(
                self.doc.error(origin["connection"], "connection psrp is not supported yet; use winrm or ssh")
            )
        elif raw.get("connection") not in (None, "winrm", "ssh"):
            errors.append(self.doc.error(origin["connection"], f"expected winrm or ssh, got {raw['connection']!r}"))
        if isinstance(raw.get("transport"), str) and "," in raw["transport"]:
            raw["transport"] = raw["transport"].split(",")[0].strip()  # Ansible allows a preference list
        if errors:
            raise InputError(errors)
        try:
            return ConnectionSettings.model_validate(raw)
        except ValidationError as exc:
            located = []
            for error in validation_errors(exc, self.doc, (), ConnectionSettings):
                where = origin.get(str(error.path[0]), host.path) if error.path else host.path
                located.append(self.doc.error(where, f"{host.name}: {error.message}", error.hint))
            raise InputError(located) from None


_GROUP_KEYS = ("hosts", "vars", "children")


def _mapping(doc: Located, value: Any, path: KeyPath, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InputError([doc.error(path, f"expected a mapping of {what}, got {type(value).__name__}")])
    return value


def load_inventory(file: Path) -> Inventory:
    """Load and merge an inventory; every error names file, line, column and key path."""
    doc = load_yaml(file)
    top = _mapping(doc, doc.data, (), "groups")
    groups: dict[str, Group] = {}
    hosts: dict[str, Host] = {}
    host_vars: dict[str, list[tuple[dict[str, Any], KeyPath]]] = {}
    errors: list[LoadError] = []

    def visit(name: str, body: Any, path: KeyPath, depth: int, parent: str | None) -> None:
        group = groups.setdefault(name, Group(name, depth, path=path))
        group.depth = max(group.depth, depth)
        if parent:
            group.parents.add(parent)
        content = _mapping(doc, body, path, "hosts, vars and children")
        for key in content:
            if key not in _GROUP_KEYS:
                guess = closest(key, _GROUP_KEYS)
                errors.append(
                    doc.error(
                        path + (key,),
                        f"unknown key in group {name}; expected hosts, vars or children",
                        f"did you mean '{guess}'?" if guess else None,
                    )
                )
        group.vars.update(_mapping(doc, content.get("vars"), path + ("vars",), "variables"))
        for host_name, values in _mapping(doc, content.get("hosts"), path + ("hosts",), "hosts").items():
            hosts.setdefault(host_name, Host(host_name, path=path + ("hosts", host_name)))
            if host_name not in group.hosts:
                group.hosts.append(host_name)
            host_vars.setdefault(host_name, []).append(
                (_mapping(doc, values, path + ("hosts", host_name), "host variables"), path + ("hosts", host_name))
            )
        for child, child_body in _mapping(doc, content.get("children"), path + ("children",), "groups").items():
            visit(child, child_body, path + ("children", child), depth + 1, name)

    for name, body in top.items():
        visit(name, body, (name,), 0 if name == "all" else 1, None if name == "all" else "all")
    if errors:
        raise InputError(errors)
    if not hosts:
        raise InputError([doc.error((), "the inventory defines no hosts")])

    groups.setdefault("all", Group("all", 0))
    groups["all"].hosts = list(hosts)

    def ancestry(group: str, seen: frozenset[str] = frozenset()) -> set[str]:
        found = {group}
        for parent in groups[group].parents - seen:
            found |= ancestry(parent, seen | {group})
        return found

    for host in hosts.values():
        member_of: set[str] = {"all"}
        for group in groups.values():
            if host.name in group.hosts:
                member_of |= ancestry(group.name)
        # Ansible's order: shallower groups first, then by name; host vars last.
        host.groups = sorted(member_of, key=lambda g: (groups[g].depth, g))
        for group_name in host.groups:
            group = groups[group_name]
            for key, value in group.vars.items():
                host.vars[key] = value
                host.origins[key] = group.path + ("vars", key)
        for values, path in host_vars.get(host.name, []):
            for key, value in values.items():
                host.vars[key] = value
                host.origins[key] = path + (key,)

    warnings = sorted(
        {
            f"{file}: {key} is an Ansible variable provision ignores"
            for host in hosts.values()
            for key in host.vars
            if key in ANSIBLE_IGNORED
        }
    )
    return Inventory(file, doc, hosts, groups, warnings)


def _term_hosts(inventory: Inventory, term: str) -> list[str]:
    if term in inventory.groups:
        return [name for name, host in inventory.hosts.items() if term in host.groups]
    if term in inventory.hosts:
        return [term]
    if any(c in term for c in "*?["):
        matched = {h for h in inventory.hosts if fnmatch.fnmatchcase(h, term)}
        for group in inventory.groups.values():
            if fnmatch.fnmatchcase(group.name, term):
                matched |= set(_term_hosts(inventory, group.name))
        return [h for h in inventory.hosts if h in matched]
    return []


def select_hosts(inventory: Inventory, pattern: str, *, source: str = "pattern") -> list[str]:
    """Hosts matching an Ansible-style pattern, in inventory order.

    Terms are separated by ``:`` or ``,``; ``&term`` intersects, ``!term`` excludes, others unite
    (Ansible applies them in that order whatever their position). A term that matches nothing
    raises InputError naming the term and the closest host or group.
    """
    terms = [t.strip() for t in pattern.replace(",", ":").split(":") if t.strip()]
    if not terms:
        raise InputError([LoadError(None, None, None, (), f"{source}: empty host pattern")])
    union: set[str] = set()
    intersections: list[set[str]] = []
    exclusions: set[str] = set()
    problems: list[LoadError] = []
    for term in terms:
        name = term.lstrip("&!")
        matched = _term_hosts(inventory, name)
        if not matched:
            guess = closest(name, [*inventory.hosts, *inventory.groups])
            problems.append(
                LoadError(
                    None,
                    None,
                    None,
                    (),
                    f"{source}: '{name}' matches no host or group in {inventory.file}",
                    f"did you mean '{guess}'?" if guess else None,
                )
            )
            continue
        if term.startswith("&"):
            intersections.append(set(matched))
        elif term.startswith("!"):
            exclusions |= set(matched)
        else:
            union |= set(matched)
    if problems:
        raise InputError(problems)
    if not union and (intersections or exclusions):
        union = set(inventory.hosts)
    for group in intersections:
        union &= group
    union -= exclusions
    if not union:
        raise InputError([LoadError(None, None, None, (), f"{source}: '{pattern}' leaves no host")])
    return [h for h in inventory.hosts if h in union]
