"""The narrow transport interface (DESIGN 4.8) and the PowerShell command line both transports use.

Scripts travel on stdin, never on the command line: cmd.exe caps a command line at 8,191
characters, which pywinrm's ``-EncodedCommand`` reaches near 3,000 script characters
(winrm-protocol.md section 5). ``powershell.exe -Command -`` reads stdin one statement at a time
as if typed at a prompt, so multi-line blocks would need blank lines after them and a blank line
inside a string literal would end the statement (about_PowerShell_exe, PowerShell 5.1). We use
Ansible's pattern instead (ansible/ansible executor/powershell/bootstrap_wrapper.ps1): a short
fixed ``-EncodedCommand`` bootstrap reads all of stdin as UTF-8 and runs it as one script block.

Secrets (a download proxy's credentials, windows-audit.md F13) never enter a script's text, a
template or a command line: stdin's first line carries them (:func:`stdin_for`), the bootstrap
keeps that line in ``$global:ProvisionSecrets`` and runs the rest, the script.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BOOTSTRAP",
    "POWERSHELL_COMMAND",
    "Connection",
    "ScriptResult",
    "TransportCounters",
    "TransportError",
    "stdin_for",
]

BOOTSTRAP = (
    "$ErrorActionPreference = 'Stop'; "
    "$stdin = New-Object System.IO.StreamReader ([Console]::OpenStandardInput()), (New-Object System.Text.UTF8Encoding $false); "
    "$global:ProvisionSecrets = $stdin.ReadLine(); "
    "$script = $stdin.ReadToEnd(); "
    "& ([ScriptBlock]::Create($script))"
)
"""Reads stdin as UTF-8 (whatever the console code page): the secrets line, then the script, which it runs."""

POWERSHELL_COMMAND = (
    "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
    + base64.b64encode(BOOTSTRAP.encode("utf-16-le")).decode("ascii")
)
"""The one command line every script runs under, over WinRM and SSH alike."""


def stdin_for(script: str, secrets: Mapping[str, str] | None = None) -> bytes:
    """What a script's process reads on stdin: one line of secrets (base64 of their UTF-8 JSON, empty
    when there are none), then the script, as UTF-8."""
    line = base64.b64encode(json.dumps(dict(secrets), separators=(",", ":")).encode()).decode() if secrets else ""
    return (line + "\n" + script).encode("utf-8")


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
    """One connection to one host; ``run`` sends a whole script on stdin."""

    counters: TransportCounters
    """Traffic of this connection so far."""

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        """Run ``script``; ``secrets`` reach it as ``$global:ProvisionSecrets`` (:func:`stdin_for`)."""
        ...

    def close(self) -> None: ...
