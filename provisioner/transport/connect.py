"""Opening a Connection for a target: the transport by ``connection:``, the password by reference."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Literal

from provisioner.report.text import SECRETS
from provisioner.transport import Connection, TransportError
from provisioner.transport.settings import ConnectionSettings
from provisioner.transport.wsman import LEAN_TRANSPORTS, LeanWinRMConnection
from provisioner.transport.wsman import ca_trust as lean_ca_trust

__all__ = ["Connector", "WinRMClient", "ca_trust", "open_connection", "password_for", "winrm_client"]

WinRMClient = Literal["lean", "pywinrm"]


def winrm_client(settings: ConnectionSettings, override: WinRMClient | None = None) -> WinRMClient:
    """The client a WinRM host gets: the run's ``--winrm-client``, else the host's ``winrm_client``,
    else lean; pywinrm whatever was asked for Kerberos, CredSSP and certificates, which only it speaks."""
    if settings.transport not in LEAN_TRANSPORTS:
        return "pywinrm"
    return override or settings.winrm_client or "lean"


def password_for(host: str, settings: ConnectionSettings, asked: Callable[[], str | None] | None = None) -> str | None:
    """The password from ``password_env``, ``--ask-pass`` or ``ansible_password``, in that order.

    The value is passed to the transport and nowhere else: never logged, reported or put in argv;
    it is added to the run's secrets, so any output that would show it shows ``<hidden>``.
    An exported but empty ``password_env`` variable means no password, never an empty one (review F18).
    """
    value = _password(host, settings, asked)
    SECRETS.add(value)
    return value


def _password(host: str, settings: ConnectionSettings, asked: Callable[[], str | None] | None) -> str | None:
    if settings.password_env:
        value = os.environ.get(settings.password_env)
        if value:
            return value
        if asked is None and value is None:
            raise TransportError(
                host,
                f"environment variable {settings.password_env} (password_env) is not set; export it or use --ask-pass",
                kind="auth",
            )
    if asked is not None:
        value = asked()
        if value is not None:
            return value
    if settings.password is not None:
        return settings.password.get_secret_value()
    return None


class Connector:
    """``connect(target)`` for the engine; ``ask_pass`` prompts once and reuses the answer;
    ``client`` picks the WinRM client for every host of the run (``--winrm-client``)."""

    def __init__(self, ask_pass: Callable[[], str | None] | None = None, client: WinRMClient | None = None) -> None:
        self.ask_pass = ask_pass
        self.client = client

    def __call__(self, host: str, settings: ConnectionSettings) -> Connection:
        return open_connection(host, settings, password_for(host, settings, self.ask_pass), self.client)


def open_connection(
    host: str, settings: ConnectionSettings, password: str | None, client: WinRMClient | None = None
) -> Connection:
    """The Connection a run uses for the host: SSH, or the WinRM client :func:`winrm_client` picks.
    ``provision doctor`` logs on through it too, so it checks what a run will do."""
    if settings.connection == "ssh":
        from provisioner.transport.ssh import SSHConnection  # paramiko costs 0.2 s to import

        return SSHConnection(host, settings, password)
    if winrm_client(settings, client) == "lean":
        return LeanWinRMConnection(host, settings, password)
    from provisioner.transport.winrm import WinRMConnection  # pywinrm and requests cost 0.3 s to import

    return WinRMConnection(host, settings, password)


def ca_trust(settings: ConnectionSettings, client: WinRMClient | None = None) -> tuple[str | None, str]:
    """The CA file or directory the WinRM client a run uses validates the host's certificate
    against (None: the system's default store), and how to name it in a message."""
    if winrm_client(settings, client) == "lean":
        return lean_ca_trust(settings)
    from provisioner.transport.winrm import ca_trust as pywinrm_ca_trust

    return pywinrm_ca_trust(settings)
