"""The narrow transport interface (DESIGN 4.8): a Connection runs a whole script on stdin.

Both transports start every script under the same command line, ``protocol.bootstrap.POWERSHELL_COMMAND``.

Secrets (a download proxy's credentials, windows-audit.md F13) never enter a script's text, a
template or a command line: stdin's first line carries them (``protocol.bootstrap.stdin_for``), the
bootstrap keeps that line in ``$global:ProvisionSecrets`` and runs the rest, the script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Connection", "ScriptResult", "TransportCounters", "TransportError"]


@dataclass
class TransportCounters:
    """Per-host traffic for the report and the benchmarks."""

    scripts: int = 0
    messages: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def add(self, other: TransportCounters) -> None:
        self.scripts += other.scripts
        self.messages += other.messages
        self.bytes_sent += other.bytes_sent
        self.bytes_received += other.bytes_received


@dataclass(frozen=True)
class ScriptResult:
    stdout: str
    stderr: str
    exit_code: int


class TransportError(Exception):
    """A connection-level failure, as one line naming the host and the cause."""

    def __init__(self, host: str, cause: str, *, kind: str = "error", retryable: bool = False) -> None:
        self.host = host
        self.cause = cause
        self.kind = kind
        """auth, refused, dns, certificate, timeout, http, quota, reset, error."""
        self.retryable = retryable
        super().__init__(f"{host}: {cause}")


class Connection(Protocol):
    """One connection to one host; ``run`` sends a whole script on stdin.

    Implemented by ``winrm.WinRMConnection`` (pywinrm), ``wsman.LeanWinRMConnection``,
    ``ssh.SSHConnection`` and, for tests, ``memory.MemoryConnection``.
    """

    counters: TransportCounters
    """Traffic of this connection so far."""

    def connect(self, *, timeout: float) -> None:
        """Reach the host and log on now, without running a script, within ``timeout`` seconds
        (``provision doctor``'s auth step); raises the same one-line TransportError as ``run``, and a
        later ``run`` reuses what was opened. ``run`` connects by itself when this was not called."""
        ...

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        """Run ``script``; ``secrets`` reach it as ``$global:ProvisionSecrets`` (:func:`stdin_for`)."""
        ...

    def close(self) -> None: ...
