"""Opening a Connection for a target: the transport by ``connection:``, the password by reference."""

from __future__ import annotations

import os
from collections.abc import Callable

from provisioner.inventory import ConnectionSettings
from provisioner.transport import Connection, TransportError
from provisioner.transport.winrm import WinRMConnection

__all__ = ["Connector", "password_for"]


def password_for(host: str, settings: ConnectionSettings, asked: Callable[[], str | None] | None = None) -> str | None:
    """The password from ``password_env``, ``--ask-pass`` or ``ansible_password``, in that order.

    The value is passed to the transport and nowhere else: never logged, reported or put in argv.
    An exported but empty ``password_env`` variable means no password, never an empty one (review F18).
    """
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
    """``connect(target)`` for the engine; ``ask_pass`` prompts once and reuses the answer."""

    def __init__(self, ask_pass: Callable[[], str | None] | None = None) -> None:
        self.ask_pass = ask_pass

    def __call__(self, host: str, settings: ConnectionSettings) -> Connection:
        password = password_for(host, settings, self.ask_pass)
        if settings.connection == "ssh":
            from provisioner.transport.ssh import SSHConnection  # paramiko costs 0.2 s to import

            return SSHConnection(host, settings, password)
        return WinRMConnection(host, settings, password)
