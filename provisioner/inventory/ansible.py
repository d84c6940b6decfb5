"""Connection settings from a host's variables: provision's names and every Ansible winrm/ssh name.

Ansible's names are those of ansible-core 2.19's ``winrm`` and ``ssh`` connection plugins; where
a plugin lists several names for one option, the last one defined wins, as in Ansible
(``ansible_winrm_host`` over ``ansible_host`` over the inventory name). Where both dialects set a
setting, the more specific definition wins (host over group; the same place: provision's name).

Defaults follow the dialect. A host with ``ansible_*`` variables and none of provision's
connection keys (``connection``, ``address``, ``port``, ``user``, ...) gets Ansible's: ssh when no
connection is given, port 5986, http when the port is 5985 and no scheme is given, transport
``basic`` (Ansible's ``ssl``/``plaintext``), or ``kerberos`` for a ``user@REALM``. Any other host
gets provision's: winrm, https, ntlm, port 5986 (5985 for http, 22 for ssh).

An Ansible variable provision cannot honour is an error when it would change where or how to
connect (``ansible_winrm_path`` other than /wsman, an inline private key), a named warning otherwise.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from provisioner.errors import InputError, LoadError
from provisioner.inventory.model import Host, Origin
from provisioner.inventory.vault import Vault, VaultError
from provisioner.loadutil import validation_errors
from provisioner.transport.settings import ConnectionSettings
from provisioner.yamlsrc import Located, Unsafe, VaultText

__all__ = [
    "ANSIBLE_ALIASES",
    "IGNORED_ANSIBLE",
    "KNOWN_ANSIBLE",
    "Resolved",
    "Render",
    "describe_connection",
    "normal_connection",
    "resolve_connection",
]

Render = Callable[[Any, dict[str, Any], Origin], Any]
"""Renders one value's templates for a host: (value, variables, where it was written) -> value."""

_WINRM: dict[str, tuple[str, ...]] = {
    "address": ("ansible_host", "ansible_winrm_host"),
    "user": ("ansible_user", "ansible_winrm_user"),
    "password": ("ansible_password", "ansible_winrm_pass", "ansible_winrm_password"),
    "port": ("ansible_port", "ansible_winrm_port"),
    "scheme": ("ansible_winrm_scheme",),
    "transport": ("ansible_winrm_transport",),
    "cert_validation": ("ansible_winrm_server_cert_validation",),
    "ca_bundle": ("ansible_winrm_ca_trust_path",),
    "cert_pem": ("ansible_winrm_cert_pem",),
    "cert_key_pem": ("ansible_winrm_cert_key_pem",),
}
_SSH: dict[str, tuple[str, ...]] = {
    "address": ("ansible_host", "ansible_ssh_host"),
    "user": ("ansible_user", "ansible_ssh_user"),
    "password": ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"),
    "port": ("ansible_port", "ansible_ssh_port"),
    "key_file": ("ansible_private_key_file", "ansible_ssh_private_key_file"),
}
ANSIBLE_ALIASES: dict[str, str] = {
    "ansible_connection": "connection",
    **{name: target for target, names in (*_WINRM.items(), *_SSH.items()) for name in names},
}
"""Every Ansible name provision reads, and the setting it gives (for the JSON Schema and docs)."""

_HOST_KEY_CHECKING = ("ansible_host_key_checking", "ansible_ssh_host_key_checking")
_REFUSED = {
    "ansible_private_key": "an inline private key; write it to a file and set ansible_private_key_file",
    "ansible_ssh_private_key": "an inline private key; write it to a file and set ansible_ssh_private_key_file",
}
# Ansible variables that do not change where or how provision connects: reported, never silent.
IGNORED_ANSIBLE = frozenset(
    {
        "ansible_shell_type",
        "ansible_shell_executable",
        "ansible_become",
        "ansible_become_method",
        "ansible_become_user",
        "ansible_become_pass",
        "ansible_become_password",
        "ansible_python_interpreter",
        "ansible_winrm_message_encryption",
        "ansible_winrm_kerberos_delegation",
        "ansible_winrm_operation_timeout_sec",
        "ansible_winrm_read_timeout_sec",
        "ansible_winrm_connection_timeout",
        "ansible_winrm_kinit_cmd",
        "ansible_winrm_kinit_args",
        "ansible_winrm_kinit_env_vars",
        "ansible_winrm_kinit_mode",
        "ansible_winrm_send_cbt",
        "ansible_winrm_credssp_disable_tlsv1_2",
        "ansible_ssh_common_args",
        "ansible_ssh_extra_args",
        "ansible_ssh_args",
        "ansible_ssh_executable",
        "ansible_ssh_pipelining",
        "ansible_pipelining",
        "ansible_ssh_retries",
        "ansible_ssh_timeout",
        "ansible_timeout",
        "ansible_ssh_transfer_method",
        "ansible_sftp_batch_mode",
        "ansible_ssh_use_tty",
        "ansible_control_path",
        "ansible_control_path_dir",
        "ansible_private_key_passphrase",
        "ansible_ssh_private_key_passphrase",
        "ansible_psrp_auth",
        "ansible_psrp_protocol",
        "ansible_psrp_cert_validation",
    }
)
KNOWN_ANSIBLE = (
    frozenset(ANSIBLE_ALIASES)
    | IGNORED_ANSIBLE
    | frozenset(_REFUSED)
    | frozenset(_HOST_KEY_CHECKING)
    | {
        "ansible_winrm_path",
        "ansible_group_priority",
    }
)

_FQCN = {"ansible.builtin.winrm": "winrm", "ansible.legacy.winrm": "winrm", "winrm": "winrm"}
_FQCN |= {"ansible.builtin.ssh": "ssh", "ansible.legacy.ssh": "ssh", "ssh": "ssh", "smart": "ssh"}
_TRANSPORTS = {"ntlm": "ntlm", "basic": "basic", "ssl": "basic", "plaintext": "basic", "kerberos": "kerberos"}
_TRANSPORTS |= {"credssp": "credssp", "certificate": "certificate"}
_TRANSPORT_LIBRARY = {"kerberos": ("gssapi", "krb5"), "credssp": ("requests_credssp",)}
_NOWHERE = Located(Path("<inventory>"), None)
_NATIVE = frozenset(ConnectionSettings.model_fields) - {"password"}
_PATHS = ("ca_bundle", "known_hosts", "key_file", "cert_pem", "cert_key_pem")


def normal_connection(value: Any) -> Any:
    """Ansible's plugin names, FQCNs included, as provision's ``winrm``/``ssh``; others unchanged."""
    return _FQCN.get(value, value) if isinstance(value, str) else value


def _available(transport: str) -> bool:
    libraries = _TRANSPORT_LIBRARY.get(transport)
    return libraries is None or any(importlib.util.find_spec(name) is not None for name in libraries)


class Resolved:
    """One host's resolved connection: the settings, or Ansible's connection name provision cannot use."""

    def __init__(self, raw: dict[str, Any], notes: list[str]) -> None:
        self.raw = raw
        """The settings as found (Ansible's connection name kept when provision cannot use it)."""
        self.notes = notes
        """Where the result differs from what provision's own defaults would give, or a fallback was taken."""


def resolve_connection(
    host: Host,
    variables: dict[str, Any],
    ranks: dict[str, int],
    origins: dict[str, Origin],
    render: Render | None,
    vault: Vault,
    *,
    strict: bool = True,
) -> tuple[ConnectionSettings | None, Resolved]:
    """The host's connection settings from its merged ``variables`` (host vars, then play vars).

    ``ranks`` orders definitions by specificity (a higher rank was merged later). With ``strict``,
    a connection provision cannot use and any invalid value raise InputError naming the place;
    without it (``provision inventory``) the settings are None and ``Resolved.raw`` says what was found.
    """
    return _Resolver(host, variables, ranks, origins, render, vault, strict).resolve()


class _Resolver:
    """One host's resolution (``resolve_connection``): the settings found so far, their origins, the
    notes, the errors, and the secret values met (decrypted or passwords), which no error echoes."""

    def __init__(
        self,
        host: Host,
        variables: dict[str, Any],
        ranks: dict[str, int],
        origins: dict[str, Origin],
        render: Render | None,
        vault: Vault,
        strict: bool,
    ) -> None:
        self.host, self.variables, self.ranks, self.origins = host, variables, ranks, origins
        self.render, self.vault, self.strict = render, vault, strict
        self.ansible = not (_NATIVE & variables.keys()) and any(key.startswith("ansible_") for key in variables)
        self.errors: list[LoadError] = []
        self.hidden: list[str] = []
        self.raw: dict[str, Any] = {}
        self.origin: dict[str, Origin] = {}
        self.notes: list[str] = []

    def where(self, key: str) -> Origin:
        return self.origins.get(key) or self.host.origin or Origin(_NOWHERE, ())

    def value_of(self, key: str, *, secret: bool = False) -> Any:
        value = self.variables[key]
        if secret and not self.strict:
            return None  # listing: whether a password is set is read from the variables, nothing is decrypted
        if isinstance(value, VaultText):
            try:
                value = self.vault.decrypt(value.envelope)
            except VaultError as exc:
                self.errors.append(self.where(key).error(f"vault-encrypted value: {exc}"))
                return None
            self.hidden.append(value)
            return value
        if secret:
            value = _dereference(value, self.variables, self.vault, self.errors, self.where(key))
            if isinstance(value, str):
                self.hidden.append(value)
            return value
        if key in self.host.secret and isinstance(value, str):
            self.hidden.append(value)  # from a vault-encrypted vars file
        return self.render(value, self.variables, self.where(key)) if self.render is not None else value

    def pick(self, native: str, names: tuple[str, ...]) -> str | None:
        """The variable that sets a setting: the last of Ansible's names present, or provision's own
        name when it was merged at least as late."""
        chosen = None
        for name in names:
            if name in self.variables:
                chosen = name  # Ansible: the last name in the plugin's list wins
        if native in self.variables and (chosen is None or self.ranks.get(native, 0) >= self.ranks.get(chosen, 0)):
            chosen = native
        return chosen

    def resolve(self) -> tuple[ConnectionSettings | None, Resolved]:
        connection = self._connection()
        self._settings(_SSH if connection == "ssh" else _WINRM)
        self.raw.setdefault("address", self.host.name)
        if connection == "winrm" and self.ansible:
            self._ansible_winrm_defaults()
        self._transport()
        self._unhonoured(connection)
        resolved = Resolved(self.raw, self.notes)
        if connection not in ("winrm", "ssh"):
            if self.strict:
                message = (
                    "connection psrp is not supported yet; use winrm or ssh"
                    if connection in ("psrp", "ansible.builtin.psrp", "ansible.windows.psrp")
                    else f"connection {_cut(connection)} is not supported; provision connects with winrm or ssh"
                )
                self.errors.append(self.origin.get("connection", self.where("")).error(message))
                raise InputError(self.errors)
            return None, resolved
        if self.errors:
            if self.strict:
                raise InputError(self.errors)
            return None, resolved
        try:
            return ConnectionSettings.model_validate(self.raw), resolved
        except ValidationError as exc:
            if not self.strict:
                return None, resolved
            raise InputError(self._located(exc)) from None

    def _connection(self) -> str:
        """The connection name as found (normalised), or the default: Ansible's ssh for a host with
        ansible_* variables, else provision's winrm."""
        connection_key = self.pick("connection", ("ansible_connection",))
        connection = normal_connection(self.value_of(connection_key)) if connection_key else None
        if connection is None:
            connection = "ssh" if self.ansible else "winrm"
            if self.ansible:
                self.notes.append(
                    "connection ssh: Ansible's default, as the host sets ansible_* variables but no connection"
                )
        self.raw["connection"] = connection
        if connection_key:
            self.origin["connection"] = self.where(connection_key)
        return connection

    def _settings(self, table: dict[str, tuple[str, ...]]) -> None:
        """Every other setting, under provision's name or the connection's Ansible names; paths resolved."""
        for setting in sorted(set(ConnectionSettings.model_fields) - {"connection"}):
            key = self.pick(setting, table.get(setting, ()))
            if key is None:
                continue
            value = self.value_of(key, secret=setting == "password")
            if value is None and setting == "password":
                continue
            self.raw[setting] = value
            self.origin[setting] = self.where(key)
            if isinstance(value, str) and setting in _PATHS:
                path = Path(value).expanduser()
                if key == setting:  # provision's names: relative to the file that set them
                    path = self.where(key).doc.file.parent / path
                self.raw[setting] = str(path.resolve() if key == setting else path)

    def _ansible_winrm_defaults(self) -> None:
        """Ansible's winrm defaults where they differ from provision's: scheme by port, basic transport."""
        raw = self.raw
        port = raw.get("port", 5986)
        if "scheme" not in raw:
            raw["scheme"] = "http" if _as_int(port) == 5985 else "https"
            if raw["scheme"] == "http":
                self.notes.append("scheme http: Ansible's default for port 5985 (provision's own default is https)")
        if "transport" not in raw:
            user = raw.get("user")
            raw["transport"] = "kerberos" if isinstance(user, str) and "@" in user else "basic"
            self.notes.append(
                f"transport {raw['transport']}: Ansible's default"
                + (" for a user@REALM" if raw["transport"] == "kerberos" else "")
                + " (provision's own default is ntlm)"
            )

    def _transport(self) -> None:
        """A list of transports (Ansible tries them in order) becomes the first this controller supports;
        Ansible's transport names become provision's."""
        raw = self.raw
        transport = raw.get("transport")
        if isinstance(transport, str) and "," in transport:
            transport = [part.strip() for part in transport.split(",") if part.strip()]
        if isinstance(transport, list):
            names = [str(t) for t in transport]
            usable = [t for t in names if _available(_TRANSPORTS.get(t, t))]
            raw["transport"] = (usable or names or ["ntlm"])[0]
            if len(names) > 1:
                self.notes.append(
                    f"transport {raw['transport']} of {','.join(names)}: the first this controller supports "
                    "(an authentication failure does not fall through to the next)"
                )
        if isinstance(raw.get("transport"), str):
            raw["transport"] = _TRANSPORTS.get(raw["transport"], raw["transport"])

    def _unhonoured(self, connection: str) -> None:
        """Notes for Ansible variables provision does not honour, errors for those it refuses."""
        variables = self.variables
        for key in _HOST_KEY_CHECKING:
            if key in variables and str(variables[key]).lower() in ("false", "no", "0", "off"):
                self.notes.append(f"{key}: false is not honoured: provision checks SSH host keys (host_key_policy)")
        path_key = "ansible_winrm_path"
        if path_key in variables and connection == "winrm" and variables[path_key] != "/wsman":
            self.errors.append(
                self.where(path_key).error("provision connects to /wsman only; remove ansible_winrm_path")
            )
        for key, reason in _REFUSED.items():
            if key in variables:
                self.errors.append(self.where(key).error(f"not supported: {reason}"))

    def _located(self, exc: ValidationError) -> list[LoadError]:
        """The validation errors at the place each setting was written, with every secret hidden."""
        located = []
        for error in validation_errors(exc, _NOWHERE, (), ConnectionSettings):
            at = self.origin.get(str(error.path[0])) if error.path else None
            at = at or self.host.origin or Origin(_NOWHERE, ())
            message = error.message
            for secret in sorted((h for h in self.hidden if h), key=len, reverse=True):
                message = message.replace(secret, "<hidden>")
            located.append(at.doc.error(at.path, f"{self.host.name}: {message}", error.hint))
        return located


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _cut(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _dereference(value: Any, variables: dict[str, Any], vault: Vault, errors: list[LoadError], at: Origin) -> Any:
    """A password is never rendered as a template (F6): only ``{{ name }}`` naming another variable
    (Ansible's vault indirection, ``ansible_password: "{{ vault_win_password }}"``) is followed."""
    seen = 0
    while isinstance(value, str) and not isinstance(value, Unsafe) and value.strip().startswith("{{"):
        name = value.strip()[2:].removesuffix("}}").strip()
        if not value.strip().endswith("}}") or not name.isidentifier() or name not in variables or seen > 8:
            errors.append(
                at.error(
                    "a password may be a literal, a !vault value or {{ name }} of another variable; "
                    "it is never rendered as a template"
                )
            )
            return None
        value = variables[name]
        seen += 1
    if isinstance(value, VaultText):
        try:
            return vault.decrypt(value.envelope)
        except VaultError as exc:
            errors.append(at.error(f"vault-encrypted value: {exc}"))
            return None
    return value


def describe_connection(settings: ConnectionSettings) -> str:
    """One line for ``validate``: endpoint, scheme, user and certificate or host key policy (no secret)."""
    user = settings.user if settings.user else "(none)"
    if settings.connection == "ssh":
        return f"ssh+ssh://{settings.address}:{settings.effective_port} user={user} host_key={settings.host_key_policy}"
    cert = settings.cert_validation if settings.scheme == "https" else "none (http)"
    return (
        f"winrm+{settings.transport}://{settings.address}:{settings.effective_port} scheme={settings.scheme} "
        f"user={user} cert={cert}"
    )
