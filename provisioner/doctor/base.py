"""The state one host's doctor steps share; each group of steps (network.py, tls.py, ...) builds on it."""

from __future__ import annotations

from collections.abc import Callable

from provisioner.render import Renderer
from provisioner.transport import Connection
from provisioner.transport.settings import ConnectionSettings

__all__ = ["CheckBase"]


class CheckBase:
    """What the steps for one host share: the settings, and what earlier steps found (addresses, the connection)."""

    def __init__(
        self,
        name: str,
        settings: ConnectionSettings,
        *,
        timeout: float,
        ask_pass: Callable[[], str | None] | None,
        renderer: Renderer,
    ) -> None:
        self.name = name
        self.settings = settings
        self.timeout = timeout
        self.ask_pass = ask_pass
        self.renderer = renderer
        self.port = settings.effective_port
        self.where = f"{settings.address}:{self.port}"
        self.addresses: list[str] = []
        self.connection: Connection | None = None
        self.password_source = ""
        self.diagnostics: dict[str, object] = {}
