"""The contract between the lab's protocol endpoints and its host model.

The WinRM and SSH endpoints (``wsman.py``, ``sshd.py``) know nothing about Windows: they
authenticate, carry a script to a :class:`LabHost`, and carry its output back. The host
model (``windows/host.py``, a Windows machine) knows nothing about protocols. This module is the only thing both
import, so either side can be tested on its own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["ExecResult", "Faults", "LabHost", "RunsCommands"]


@dataclass(frozen=True)
class ExecResult:
    """What ``powershell.exe -Command -`` printed and returned for one script."""

    stdout: str
    stderr: str
    exit_code: int


@dataclass
class Faults:
    """Faults injected into one host; all off by default.

    Protocol faults (latency, HTTP 500s, resets, credentials, unreachable) are applied by the
    endpoints; model faults (reboots, downloads) by the host model.
    """

    latency_ms: float = 0.0
    """Added before every HTTP response or SSH command result."""
    http_500_rate: float = 0.0
    """Probability that a WS-Man request is answered with an HTTP 500 and an empty body."""
    reset_rate: float = 0.0
    """Probability that a connection is reset (closed without a response) after a request."""
    bad_credentials: bool = False
    """The host rejects the lab password, as when the account's password was changed."""
    unreachable: bool = False
    """Nothing answers: connections are refused."""
    reboot_never_returns: bool = False
    """After a restart the host stays down."""
    reboot_seconds: float | None = None
    """Downtime of a restart; None means the lab-wide default."""
    download_failure: bool = False
    """The engine download fails (the URL answers 404 from the host's point of view)."""
    download_proxy: str | None = None
    """``http://host:port`` of the only way out of the host's network: downloads without ``-Proxy`` (or
    through another proxy) fail as a firewalled network fails them (windows-audit.md F13)."""
    download_proxy_credentials: str | None = None
    """``USER:PASSWORD`` the download proxy requires; other or no credentials get its 407."""
    not_admin: bool = False
    """The account logs on without administrator rights (a standard user, or a local administrator
    whose network logon UAC filters): WindowsPrincipal.IsInRole(Administrator) reads False."""
    max_envelope_size_kb: float | None = None
    """The host's MaxEnvelopeSizekb when it is not the lab's (WinRSLimits, 500): the WinRM
    endpoint answers larger requests with HTTP 413, and the host model reports the value."""
    max_memory_per_shell_mb: float | None = None
    """The host's MaxMemoryPerShellMB when it is not the Windows default 1024 (reported only)."""
    max_shells_per_user: float | None = None
    """The host's MaxShellsPerUser when it is not the lab's (WinRSLimits, 30); enforced and reported."""
    restart_pending: bool = False
    """Another servicing change (Windows Update, a patch) waits for a restart: CBS RebootPending is
    set and Server Manager refuses further installs with FailedRestartRequired (windows-audit.md F2)."""
    temp_other_volume: bool = False
    """TEMP and TMP are on D:, another volume than C:\\Program Files (windows-audit.md F1 (a))."""
    engine_files_locked: bool = False
    """Another session keeps C:\\Program Files\\docker\\docker.exe open (``docker logs -f``; F1 (b))."""
    boot_jitter: bool = False
    """LastBootUpTime reads a second later on every other query, as on VMs (F8)."""
    scan_seconds: float = 0.0
    """An on-access antivirus scan opens each file written on the machine and keeps it open this many
    seconds (machine clock), so it cannot be renamed or deleted meanwhile (F12). Defender scans a file
    when it is written and closed; that the scan's handle blocks a rename is the lab's inference."""
    shutdown_seconds: float | None = None
    """How long the host keeps answering after a restart was asked for; None means the lab's moment
    (WindowsHost.shutdown_delay). A real shutdown stops every service first, which takes seconds, and
    a controller's first poll can land before it (F8)."""
    slow_installs: float = 1.0
    """Factor on the modelled time downloads, installs and pulls take on the machine's clock."""
    constrained_language: bool = False
    """A WDAC policy is enforced: powershell.exe runs in ConstrainedLanguage (F4)."""
    no_console: bool = False
    """powershell.exe runs without a console, as in remoting hosts: setting ``[Console]::OutputEncoding``
    throws "The handle is invalid." (F11). WinRS and sshd start it under cmd.exe, a console process, so
    this is the audit's hardening case, not what a default host does."""
    desktop_helpers_exit: bool = False
    """Docker Desktop.exe's helper processes (same image name, an Electron app's renderers) come and
    go: each listing of Win32_Process shows one more that has exited by the next call (F9)."""
    service_exit_seconds: float = 0.5
    """How long (modelled seconds) a stopped service's process keeps its image open after Stop-Service
    returns: the SCM reports Stopped before the process has gone (windows-audit.md F1 (b)). The 0.5 s
    default is the lab's guess of "a moment"."""


class LabHost(Protocol):
    """One simulated Windows host as the endpoints see it."""

    name: str
    address: str
    faults: Faults
    counters: Counter[str]

    def is_up(self) -> bool:
        """False while the host is rebooting (or never came back); endpoints then refuse."""
        ...

    def run_script(self, script: str) -> ExecResult:
        """Parse and execute one PowerShell script received on stdin; fast and thread-safe."""
        ...


@runtime_checkable
class RunsCommands(Protocol):
    """A host that starts command lines itself (a Windows machine: provision_lab.windows).

    The endpoints then hand it the line as cmd.exe passes it on (after cmd.exe's own 8,191-character
    limit, which the endpoints keep) and the process's stdin; powershell.exe (provision_lab.powershell)
    decides what the line runs and writes its own stderr, CLIXML included. Other hosts (the protocol
    tests' stand-ins) get the script through :meth:`LabHost.run_script`.
    """

    def run_command(self, command_line: str, stdin: str | None) -> ExecResult:
        """Start ``command_line`` with ``stdin`` and wait for it to end; thread-safe."""
        ...
