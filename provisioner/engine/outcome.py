"""How a host's run ends: its status, and the exception that ends it early (host.py, desktop.py)."""

from __future__ import annotations

from typing import Literal

__all__ = ["HostFailure", "Status"]

Status = Literal[
    "ok", "changed", "drift", "reboot_required", "pending_logon", "failed", "unreachable", "halted", "interrupted"
]


class HostFailure(Exception):
    """Ends the host's run with a status and a one-line message."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status = status
