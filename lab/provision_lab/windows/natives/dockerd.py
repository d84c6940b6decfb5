"""``dockerd.exe``, the Docker Engine daemon for Windows, as a command and as a service's process.

As a command: ``--version``, ``--register-service`` / ``--unregister-service`` (with
``--service-name``), ``--validate [--config-file]``. As the service's process (``--run-service``,
which ``--register-service`` puts in the ImagePath): it reads daemon.json, refuses what Windows
dockerd refuses, runs its system check and then answers on its named pipes. Sources: wf §4.3 and
§5 (``/work/shared/research/windows-facts.md``), from moby's code [MOBY
daemon/command/service_windows.go, daemon/command/daemon.go, daemon/config/config.go].
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from typing import Any

from provision_lab.powershell.api import Host, NativeResult
from provision_lab.windows.natives.daemon_json import config_error, decode, isolation_error, major_minor
from provision_lab.windows.natives.engines import Engine, open_pipe, pipe_name
from provision_lab.windows.natives.machine import NativeMachine

__all__ = ["ENGINE_COMMITS", "Dockerd", "parse_flags"]

ENGINE_COMMITS = {
    # `dockerd --version` prints the moby commit of the release (28.0.4's "build 6430e49" is in public
    # output; the others are from the moby release tags, the lab's reading, UNCONFIRMED in the research).
    "25.0.5": "e63daec",
    "26.1.4": "de5c9cf",
    "27.3.1": "41ca978",
    "27.4.1": "c710b88",
    "28.0.4": "6430e49",
    "28.3.0": "265f709",
    "29.1.0": "a6fd4c4",
}

_BOOL_FLAGS = {
    "--version": "version",
    "-v": "version",
    "--register-service": "register-service",
    "--unregister-service": "unregister-service",
    "--run-service": "run-service",
    "--validate": "validate",
    "--debug": "debug",
    "-D": "debug",
    "--experimental": "experimental",
}
_VALUE_FLAGS = {
    "--service-name": "service-name",
    "--config-file": "config-file",
    "--data-root": "data-root",
    "--group": "group",
    "-G": "group",
    "--log-level": "log-level",
    "-l": "log-level",
    "--exec-root": "exec-root",
    "--pidfile": "pidfile",
    "-p": "pidfile",
    "--bridge": "bridge",
    "-b": "bridge",
    "--fixed-cidr": "fixed-cidr",
}
_LIST_FLAGS = {
    "--host": "hosts",
    "-H": "hosts",
    "--exec-opt": "exec-opts",
    "--dns": "dns",
    "--insecure-registry": "insecure-registries",
    "--registry-mirror": "registry-mirrors",
    "--label": "labels",
    "--storage-opt": "storage-opts",
}
"""The dockerd flags the lab knows, by the name their value has in daemon.json (list flags take the
plural name, wf §5 [CLI-DOCKERD]). ``--service-name``, ``--register-service`` and friends are
Windows-only [MOBY service_windows.go]."""

_NOT_DAEMON_KEYS = {
    "version",
    "register-service",
    "unregister-service",
    "run-service",
    "validate",
    "service-name",
    "config-file",
}


class FlagError(Exception):
    """pflag's refusal of the command line."""


def parse_flags(argv: Sequence[str]) -> dict[str, Any]:
    """dockerd's flags (pflag: ``--name value``, ``--name=value``, ``-H value``; a boolean flag
    takes no value unless given ``=true``/``=false``). Raises FlagError with pflag's text."""
    flags: dict[str, Any] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=")
        if name in _BOOL_FLAGS:
            flags[_BOOL_FLAGS[name]] = value.lower() != "false" if eq else True
        elif name in _VALUE_FLAGS or name in _LIST_FLAGS:
            if not eq:
                i += 1
                if i >= len(args):
                    raise FlagError(f"flag needs an argument: {name}")
                value = args[i]
            if name in _LIST_FLAGS:
                flags.setdefault(_LIST_FLAGS[name], []).append(value)
            else:
                flags[_VALUE_FLAGS[name]] = value
        elif arg.startswith("-"):
            shorthand = arg.startswith("-") and not arg.startswith("--")
            raise FlagError(f"unknown shorthand flag: '{arg[1]}' in {arg}" if shorthand else f"unknown flag: {name}")
        else:
            raise FlagError("\"dockerd\" accepts no arguments.\nSee 'dockerd --help'.")
        i += 1
    return flags


class Dockerd:
    """One dockerd.exe file on one machine (its path and the Docker version it was built as)."""

    def __init__(
        self, path: str, version: str, machine: NativeMachine, *, platform: str = "Docker Engine - Community"
    ) -> None:
        self.path = path
        self.version = version
        self.machine = machine
        self.platform = platform

    # -- NativeProgram ----------------------------------------------------------------------------

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        """dockerd as a console command (the service's own start is :meth:`start_service`)."""
        try:
            flags = parse_flags(argv[1:])
        except FlagError as error:
            text = str(error)
            if "See '" not in text:
                text += "\nSee 'dockerd --help'."
            return NativeResult(125, "", text + "\n")
        if flags.get("version"):
            return NativeResult(
                0, f"Docker version {self.version}, build {ENGINE_COMMITS.get(self.version, 'unknown')}\n"
            )
        if flags.get("register-service") and flags.get("unregister-service"):
            return _fail("--register-service and --unregister-service cannot be used together")
        if flags.get("register-service") or flags.get("unregister-service"):
            if not host.elevated:
                # mgr.Connect() asks the SCM for SC_MANAGER_ALL_ACCESS: Win32 ERROR_ACCESS_DENIED.
                return _fail("Access is denied.")
            name = str(flags.get("service-name", "docker"))
            if flags.get("unregister-service"):
                if not self.machine.service_exists(name):
                    return _fail("The specified service does not exist as an installed service.")
                self.machine.delete_service(name)
                return NativeResult(0)
            if self.machine.service_exists(name):
                return _fail("The specified service already exists.")  # ERROR_SERVICE_EXISTS from CreateService
            # ImagePath: this dockerd.exe, --run-service, and every other argument given now (wf §4.3).
            rest = [arg for arg in argv[1:] if arg not in ("--register-service", "--unregister-service")]
            self.machine.create_service(
                name, "Docker Engine", subprocess.list2cmdline([self.path, "--run-service", *rest]), "Automatic"
            )
            host.sleep(1.0)
            return NativeResult(0)
        if flags.get("validate"):
            if major_minor(self.version) < (23, 0):
                return NativeResult(125, "", "unknown flag: --validate\nSee 'dockerd --help'.\n")
            reason = self._config_problem(flags)
            if reason is not None:
                return _fail(reason)
            return NativeResult(0, "", "configuration OK\n")  # on stderr [MOBY daemon/command/docker.go] (wf §5)
        # A daemon started from a console would run in the foreground until stopped; a script that
        # does this hangs on a real host. The lab refuses instead of hanging (its own rule).
        return _fail("the lab does not run dockerd in the foreground; start its service instead")

    # -- ServiceProgram ---------------------------------------------------------------------------

    def start_service(self, argv: Sequence[str], service: str) -> str | None:
        """The service's process: configuration first [MOBY daemon/command/daemon.go], then the
        system check [MOBY daemon_windows.go checkSystem]: build >= 17763 for Engine >= 23.0, and
        vmcompute.dll, which only the Containers feature provides (wf §2, texts from moby's code).

        Real dockerd reports RUNNING at preNotifyReady before its system check (windows-audit.md
        §5.8), so on Windows Start-Service may succeed and the service die a moment later; the lab
        fails the start instead, which is no kinder (the failure is sooner, not hidden)."""
        try:
            flags = parse_flags(argv[1:])
        except FlagError as error:
            return str(error)
        reason = self._config_problem(flags)
        if reason is not None:
            return reason
        machine = self.machine
        if major_minor(self.version) >= (23, 0) and machine.os_build < 17763:
            return (
                "this version of Windows does not support the docker daemon (Windows build 17763 or higher is required)"
            )
        if machine.feature_state("Containers") != "Enabled":
            return "failed to load vmcompute.dll, ensure that the Containers feature is installed"
        settings = self._settings(flags)
        raw = machine.read_file(self._config_path(flags))
        if raw is not None:
            reason = isolation_error(raw)
            if reason is not None:
                return reason
        hosts = list(flags.get("hosts") or settings.get("hosts") or ["npipe://"])
        data_root = str(flags.get("data-root") or r"C:\ProgramData\docker")
        group = flags.get("group") or settings.get("group")
        for address in hosts:
            pipe = pipe_name(str(address))
            if pipe is not None:
                engine = Engine(0, "windows", self.version, data_root, self.platform, service=service, group=group)
                open_pipe(machine, pipe, engine)
        return None

    # -- configuration ----------------------------------------------------------------------------

    @staticmethod
    def _config_path(flags: dict[str, Any]) -> str:
        """``--config-file``, else ``<data-root>\\config\\daemon.json`` with data-root from the
        flags only (wf §5 [MOBY daemon/command/daemon.go])."""
        if "config-file" in flags:
            return str(flags["config-file"])
        return str(flags.get("data-root") or r"C:\ProgramData\docker").rstrip("\\") + r"\config\daemon.json"

    def _config_problem(self, flags: dict[str, Any]) -> str | None:
        path = self._config_path(flags)
        raw = self.machine.read_file(path)
        if raw is None:
            if "config-file" in flags:
                # A missing file is an error only when named explicitly (wf §5).
                return f"unable to configure the Docker daemon with file {path}: open {path}: The system cannot find the file specified."
            return None
        daemon_flags = {key: value for key, value in flags.items() if key not in _NOT_DAEMON_KEYS}
        return config_error(raw, path, self.version, daemon_flags)

    def _settings(self, flags: dict[str, Any]) -> dict[str, Any]:
        raw = self.machine.read_file(self._config_path(flags))
        if raw is None:
            return {}
        try:
            settings = json.loads(decode(raw) or "{}")
        except json.JSONDecodeError:
            return {}
        return settings if isinstance(settings, dict) else {}


def _fail(message: str) -> NativeResult:
    """dockerd prints an error and exits 1 [MOBY cmd/dockerd/docker.go main]."""
    return NativeResult(1, "", message + "\n")
