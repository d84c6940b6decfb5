"""One powershell.exe process on a machine: the api.Host the interpreter runs against.

Its user and elevation (a network logon of a local administrator is elevated unless UAC filters
it: KB951016 "User Account Control and remote restrictions", which the ``not_admin`` fault
stands for), its environment block (inherited from the machine and the user at start, changed
for this process only by ``$env:``), its working directory, the machine's cmdlets and types, and
native programs found on ``$env:Path`` with ``$env:PATHEXT`` as CreateProcess/PowerShell's
command discovery does (about_Command_Precedence: "PowerShell searches the Path environment
variable"; an extension-less name is tried with each PATHEXT extension).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from provision_lab.powershell.api import CommandContext, CommandSpec, NativeProgram, TypeSpec
from provision_lab.windows import paths
from provision_lab.windows.machine import Account, Machine

__all__ = ["Session", "session_of"]


class Session:
    """The Host of one powershell.exe started for ``account`` on ``machine``."""

    def __init__(self, machine: Machine, account: Account, *, elevated: bool | None = None) -> None:
        self.machine = machine
        self.account = account
        machine.sessions_started += 1
        machine.reap()  # what ended (a process, a scan) while no script ran
        admin = machine.is_admin(account)
        self._elevated = admin and not machine.faults.not_admin if elevated is None else elevated
        self._env = machine.user_environment(account)
        self._cwd = account.profile or rf"C:\Users\{account.name}"
        self.security_protocol = 48 | 192
        """[Net.ServicePointManager]::SecurityProtocol of this process: Windows PowerShell 5.1 starts
        with Ssl3 and Tls 1.0 only (wf §4.2: download.docker.com needs TLS 1.2, hence the templates'
        ``-bor Tls12``)."""

    # -- api.Host ---------------------------------------------------------------------------

    @property
    def computer_name(self) -> str:
        return self.machine.computer_name

    @property
    def user_name(self) -> str:
        return f"{self.machine.computer_name}\\{self.account.name}"

    @property
    def elevated(self) -> bool:
        return self._elevated

    @property
    def console(self) -> bool:
        return not self.machine.faults.no_console

    @property
    def language_mode(self) -> str:
        # A WDAC policy in enforce mode puts ConsoleHost in ConstrainedLanguage (windows-audit.md F4).
        return "ConstrainedLanguage" if self.machine.faults.constrained_language else "FullLanguage"

    @property
    def powershell_version(self) -> str:
        """``$PSVersionTable.PSVersion`` on this machine: 5.1.<build>.<revision> of its
        System.Management.Automation.dll. Releases shipped as enablement packages keep their base
        release's dll, so PSVersion carries the base build: 5.1.19041.610 on a 19042 host
        (MicrosoftDocs/windowsserverdocs issue 5310); 22631 on 22621 is the same servicing relation,
        assumed rather than observed. The revision is the dll's and can lag the UBR (windowsserverdocs
        issue 6784: 856 vs 832); the lab uses the UBR. Not part of api.Host: the interpreter reads it
        when the host has it."""
        os = self.machine.os
        base = {19042: 19041, 19043: 19041, 19044: 19041, 19045: 19041, 22631: 22621}.get(os.build, os.build)
        return f"5.1.{base}.{os.ubr}"

    @property
    def current_directory(self) -> str:
        return self._cwd

    def environment(self) -> dict[str, str]:
        return self._env

    def commands(self) -> Iterable[CommandSpec]:
        from provision_lab.windows.cmdlets import commands_for

        return commands_for(self.machine)

    def types(self) -> Iterable[TypeSpec]:
        from provision_lab.windows.types import TYPES

        return TYPES

    def find_program(self, name: str) -> NativeProgram | None:
        """A path (absolute or relative) names one file; a bare name is searched on Path with PATHEXT."""
        pathext = [ext.lower() for ext in self.env("PATHEXT", ".COM;.EXE;.BAT;.CMD").split(";") if ext]
        if "\\" in name or "/" in name or paths.is_absolute(name):
            full = paths.normalize(name, self._cwd)
            return self._program(full, pathext)
        for folder in self.env("Path", "").split(";"):
            if not folder.strip():
                continue
            found = self._program(paths.normalize(paths.join(folder.strip().strip('"'), name), self._cwd), pathext)
            if found is not None:
                return found
        return None

    def _program(self, full: str, pathext: list[str]) -> NativeProgram | None:
        candidates = [full] if "." in paths.leaf(full) and any(full.lower().endswith(e) for e in pathext) else []
        candidates += [full + ext for ext in pathext]
        for candidate in candidates:
            if self.machine.fs.is_file(candidate):
                return self.machine.program_at(candidate)
        return None

    def now(self) -> datetime:
        return self.machine.now()

    def sleep(self, seconds: float) -> None:
        self.machine.advance(seconds)

    # -- for the cmdlets ----------------------------------------------------------------------

    def env(self, name: str, default: str = "") -> str:
        for key, value in self._env.items():
            if key.lower() == name.lower():
                return value
        return default

    def full_path(self, path: str) -> str:
        """A file-system path made absolute against the working directory."""
        return paths.normalize(path, self._cwd)


def session_of(context: CommandContext | Any) -> Session:
    """The Session a command runs in (the machine's cmdlets run only on a machine's Host)."""
    host = context if isinstance(context, Session) else getattr(context, "host", None)
    if host is None and hasattr(context, "session"):
        host = context.session.host  # the interpreter's wrapper for types it also extends
    if not isinstance(host, Session):
        raise TypeError("the machine's cmdlets run only in a provision_lab.windows Session")
    return host
