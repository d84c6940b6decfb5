"""Docker Desktop on a workstation: its installer, com.docker.service, ``Docker Desktop.exe`` in a
user's session with its two engines, the ``docker desktop`` CLI plugin, and the logons that start it.

Source keys are those of ``/work/shared/research/docker-desktop.md`` (``dd §N``); where it has
nothing, the comment says the lab's text is a guess (UNCONFIRMED): the rule for doubt is to fail the
way Windows would, never to be more forgiving.

- **Engines run only in a logged-on user's session** with Desktop started [docker/for-win#11396,
  #6670]; Desktop does not start after installation [DD-WIN]; it starts at the user's logon; a
  logoff quits it [docker/for-win#12014]; a reboot ends every session (the machine ends the
  processes, and an engine is reachable only while its process runs: engines.py).
- **Sessions** are the owners of explorer.exe: :func:`logon` starts one for the user, with the
  groups the logon token holds (membership counts from the next logon [DD-WIN]).
- **Access**: starting Desktop needs docker-users in the token when Windows containers or the
  Hyper-V backend are on ("Docker Desktop - Access Denied" [DD-TS; DD-PERM; DD-WIN]); administrators
  need none.
- **The Windows engine** needs the Containers feature and a running hypervisor [DD-WIN;
  docker/for-win#12955], com.docker.service [DD-PERM], and not ``--no-windows-containers``
  ('unable to set engine to "windows": engine is disabled' [microsoft/winget-pkgs#420243]). Each
  time it starts, Desktop rewrites ``C:\\ProgramData\\docker\\config\\daemon.json`` from the user's
  ``%USERPROFILE%\\.docker\\windows-daemon.json`` ("The UI will always rewrite it before start"
  [docker/for-win#473, #5936]); settings dockerd refuses stop the engine [DD-SREF].
- **The Linux engine** needs WSL 2 (the Virtual Machine Platform, a hypervisor, a WSL package of
  2.1.5 or later) or, with the Hyper-V backend, a hypervisor and com.docker.service [DD-WIN]; with
  ``--backend=windows`` it uses WSL 2 when the Virtual Machine Platform is on, else Hyper-V
  (inference, UNCONFIRMED).
- **Switching**: ``docker desktop engine use`` stops the running engine and starts the other; the
  tray menu's switch (:func:`switch_engine`) leaves the other running [docker/for-win#14675].
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from provision_lab.powershell.api import Host, NativeResult
from provision_lab.windows import programs
from provision_lab.windows.natives.daemon_json import config_error
from provision_lab.windows.natives.engines import Engine, close_pipes, engine_on, open_pipe
from provision_lab.windows.natives.files import DESKTOP_RELEASES, identify
from provision_lab.windows.natives.machine import NativeMachine

__all__ = [
    "DAEMON_JSON",
    "DesktopApp",
    "DesktopInstaller",
    "DesktopPlugin",
    "DesktopService",
    "logoff",
    "logon",
    "quit_app",
    "snapshot",
    "switch_engine",
]

SERVICE = "com.docker.service"
GROUP = "docker-users"
UNINSTALL_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\Docker Desktop"
DEFAULT_DIR = r"C:\Program Files\Docker\Docker"
DAEMON_JSON = r"C:\ProgramData\docker\config\daemon.json"
"""The file the Windows dockerd reads, which Desktop rewrites before each start (dd §3)."""
USER_SETTINGS = r".docker\windows-daemon.json"
WSL_EXE = r"C:\Program Files\WSL\wsl.exe"
PIPES = {"windows": "dockerDesktopWindowsEngine", "linux": "dockerDesktopLinuxEngine"}
"""Desktop's engines by pipe [docker/desktop-feedback#348; docker/for-win#14539] (dd §2)."""
STORES = {"windows": "desktop-windows", "linux": "desktop-linux"}
"""The engines' image stores. Desktop's Windows engine keeps its images under C:\\ProgramData\\Docker
too; the lab keeps them apart from a Docker CE engine's, which a workstation does not have."""
VMP = "VirtualMachinePlatform"
DEFAULT_SETTINGS = b'{\n  "experimental": false\n}\n'
"""Desktop's Windows-engine settings for a user who never changed them (the lab's guess: UNCONFIRMED)."""


def _state(machine: NativeMachine) -> dict[str, Any]:
    state: dict[str, Any] = machine.native_state.setdefault("desktop", {})
    state.setdefault("sessions", {})
    state.setdefault("log", [])
    return state


def _install(machine: NativeMachine) -> dict[str, Any] | None:
    found: dict[str, Any] | None = _state(machine).get("install")
    return found


def _qualified(machine: NativeMachine, user: str) -> str:
    return user if "\\" in user else f"{machine.computer_name}\\{user}"


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# ------------------------------------------------------------------------------------------------
# The installer


_FLAGS = {"--quiet", "--accept-license", "--always-run-service", "--no-windows-containers"}
_VALUED = ("--backend=", "--installation-dir=")


class DesktopInstaller:
    """``Docker Desktop Installer.exe`` of one release (dd §1.1)."""

    def __init__(self, path: str, version: str, machine: NativeMachine) -> None:
        self.path = path
        self.version = version
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        """``install`` must come first (flags alone: "Unknown command", -5 [microsoft/winget-pkgs#381599]);
        flags the lab does not know are refused the same way (the real behaviour is UNCONFIRMED, so
        the lab is the strict one). Without elevation it relaunches itself through UAC, which fails
        with -5 when nobody can answer the prompt [docker/for-win#14570; docker/desktop-feedback#544].
        The same or a newer version installed: exit 3 ("InstallationUpToDate", "Another version of
        this application is already installed" [CHOCO; microsoft/winget-pkgs#157214])."""
        args = list(argv[1:])
        if not args or args[0] != "install":
            return NativeResult(-5, "", f"Unknown command {args[0] if args else ''}\n")
        options: dict[str, str] = {}
        for arg in args[1:]:
            if arg in _FLAGS:
                options[arg] = ""
            elif arg.startswith(_VALUED):
                name, _, value = arg.partition("=")
                options[name] = value
            else:
                return NativeResult(-5, "", f"Unknown command {arg}\n")
        backend = options.get("--backend", "wsl-2")
        if backend not in ("wsl-2", "hyper-v", "windows"):
            return NativeResult(-5, "", f"Unknown backend {backend}\n")
        if not host.elevated:
            return NativeResult(-5)
        machine = self.machine
        state = _state(machine)
        installed = _install(machine)
        if installed is not None and _version_tuple(str(installed["version"])) >= _version_tuple(self.version):
            return NativeResult(3)
        # An unattended install takes minutes (windows-audit.md F3; the figure is the lab's), more on a slow host.
        host.sleep(150.0 * machine.install_time_factor)
        app = state.get("app")
        if app is not None:
            machine.stop_process(int(app["pid"]))  # the upgrade quits a running Desktop (the lab's assumption)
            state["app"] = None
        install_dir = options.get("--installation-dir", DEFAULT_DIR).rstrip("\\")
        build, engine_version = DESKTOP_RELEASES[self.version]
        for relative, program in (
            ("Docker Desktop.exe", "docker-desktop"),
            ("com.docker.service", "com.docker.service"),
            (r"resources\bin\docker.exe", "docker-desktop-cli"),
        ):
            machine.write_file(install_dir + "\\" + relative, programs.image(program, self.version))
        settings = {
            "backend": backend,
            "noWindowsContainers": "--no-windows-containers" in options,
            "alwaysRunService": "--always-run-service" in options,
        }
        # Install-time choices stick across upgrades [microsoft/winget-pkgs#420243] (dd §1.5).
        machine.write_file(r"C:\ProgramData\DockerDesktop\install-settings.json", json.dumps(settings).encode())
        machine.set_registry_value(UNINSTALL_KEY, "DisplayName", "Docker Desktop")
        machine.set_registry_value(UNINSTALL_KEY, "DisplayVersion", self.version)
        machine.set_registry_value(UNINSTALL_KEY, "InstallLocation", install_dir)
        machine.set_registry_value(UNINSTALL_KEY, "Version", str(build))
        state["install"] = {
            "version": self.version,
            "build": build,
            "install_dir": install_dir,
            "default_engine": "windows" if backend == "windows" else "linux",
            "linux_backend": "auto" if backend == "windows" else backend,
            "windows_containers": "--no-windows-containers" not in options,
            "engine_version": engine_version,
            "accepted_license": "--accept-license" in options,
        }
        # The installer creates docker-users with the installing account in it [docker/for-win#6080; DD-PERM].
        machine.create_group(GROUP, "Users of Docker Desktop")
        machine.add_group_member(GROUP, host.user_name)
        # com.docker.service: Automatic and started with --always-run-service [DD-WIN]; otherwise it
        # does not start at boot with WSL 2 [DD-PERM] (the lab makes it Manual).
        service_path = f'"{install_dir}\\com.docker.service"'
        if not machine.service_exists(SERVICE):
            machine.create_service(SERVICE, "Docker Desktop Service", service_path, "Manual")
        if "--always-run-service" in options:
            machine.set_service_start_type(SERVICE, "Automatic")
            machine.start_service(SERVICE)
        return NativeResult(0)


class DesktopService:
    """``com.docker.service``, Desktop's privileged helper [DD-PERM]: it runs whenever started."""

    def __init__(self, path: str, machine: NativeMachine) -> None:
        self.path = path
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        """Started from a console rather than by the SCM, a service program fails to connect to
        the SCM: Win32 error 1063, ERROR_FAILED_SERVICE_CONTROLLER_CONNECT (its text)."""
        return NativeResult(1, "", "The service process could not connect to the service controller.\n")

    def start_service(self, argv: Sequence[str], service: str) -> str | None:
        return None


def _service_running(machine: NativeMachine) -> bool:
    state = machine.service_state(SERVICE)
    return state is not None and state[0] == "Running"


# ------------------------------------------------------------------------------------------------
# Docker Desktop.exe and its engines


class DesktopApp:
    """``Docker Desktop.exe``. Started from a remote (non-interactive) session it does not come up:
    "launching Docker Desktop.exe there fails" [docker/for-win#14510]; the text is the lab's
    (UNCONFIRMED), the exit code non-zero."""

    def __init__(self, path: str, machine: NativeMachine) -> None:
        self.path = path
        self.machine = machine

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        return NativeResult(1, "", "Docker Desktop cannot start in a non-interactive session.\n")


def _app(machine: NativeMachine) -> dict[str, Any] | None:
    """The running Desktop (pid, user), None when it is not running (its process has gone)."""
    state = _state(machine)
    app: dict[str, Any] | None = state.get("app")
    if app is not None and not machine.process_running(int(app["pid"])):
        state["app"] = app = None
    return app


def _linux_backend(machine: NativeMachine, install: dict[str, Any]) -> str:
    backend = str(install["linux_backend"])
    if backend == "auto":
        return "wsl-2" if machine.feature_state(VMP) == "Enabled" else "hyper-v"
    return backend


def _wsl_version(machine: NativeMachine) -> str | None:
    raw = machine.read_file(WSL_EXE)
    identity = identify(raw) if raw is not None else None
    return identity[1] if identity is not None and identity[0] == "wsl-package" else None


def _start_error(machine: NativeMachine, install: dict[str, Any], app: dict[str, Any], engine: str) -> str | None:
    """Why Desktop's ``engine`` does not start; None when it runs (and answers on its pipe).

    The texts are the lab's (Desktop shows these in dialogs; its exact wording is UNCONFIRMED),
    except the disabled-engine one [microsoft/winget-pkgs#420243] and dockerd's daemon.json errors."""
    user = str(app["user"])
    if engine == "windows":
        if not install["windows_containers"]:
            return 'unable to set engine to "windows": engine is disabled'
        if machine.feature_state("Containers") != "Enabled":
            # Desktop's own check "DD0023: is the Containers Windows Feature enabled?" [docker/for-win#13009].
            return "Windows containers need the Containers Windows feature (DD0023), which is not enabled"
        if not machine.hypervisor_running:
            return "Windows containers need Hyper-V, and no hypervisor is running"
        if not _service_running(machine):
            return "com.docker.service is not running, and Windows containers need it"
        profile = machine.ensure_profile(user)
        raw = machine.read_file(profile.rstrip("\\") + "\\" + USER_SETTINGS)
        raw = DEFAULT_SETTINGS if raw is None else raw
        machine.write_file(DAEMON_JSON, raw)
        reason = config_error(raw, DAEMON_JSON, str(install["engine_version"]))
        if reason is not None:
            return reason
        platform = f"Docker Desktop {install['version']} ({install['build']})"
        open_pipe(
            machine,
            PIPES["windows"],
            Engine(
                int(app["pid"]),
                "windows",
                str(install["engine_version"]),
                STORES["windows"],
                platform,
                owner=user,
            ),
        )
        return None
    backend = _linux_backend(machine, install)
    if backend == "wsl-2":
        # The Virtual Machine Platform starts the hypervisor WSL 2 runs on at boot [DD-WSL]: Enabled
        # (not pending) on hardware that can run one.
        if machine.feature_state(VMP) != "Enabled" or not machine.can_run_hypervisor:
            return "WSL 2 is not available: the Virtual Machine Platform feature is off or virtualization is disabled"
        version = _wsl_version(machine)
        if version is None or _version_tuple(version)[:3] < (2, 1, 5):
            return "WSL needs updating: Docker Desktop requires WSL 2.1.5 or later"
        kernel = "5.15.153.1-microsoft-standard-WSL2"  # WSL 2's kernel naming (dd §5)
    else:
        if not machine.hypervisor_running:
            return (
                "failed to start the virtual machine 'DockerDesktopVM': no hypervisor is running"  # [DD-TS], shortened
            )
        if not _service_running(machine):
            return "com.docker.service is not running, and the Hyper-V backend needs it"
        kernel = "6.10.14-linuxkit"  # UNCONFIRMED
    platform = f"Docker Desktop {install['version']} ({install['build']})"
    open_pipe(
        machine,
        PIPES["linux"],
        Engine(
            int(app["pid"]),
            "linux",
            str(install["engine_version"]),
            STORES["linux"],
            platform,
            kernel=kernel,
            owner=user,
        ),
    )
    return None


def _start_engine(machine: NativeMachine, engine: str) -> str | None:
    install, app = _install(machine), _app(machine)
    assert install is not None and app is not None
    reason = _start_error(machine, install, app, engine)
    if reason is not None:
        _state(machine)["log"].append(f"{engine} engine: {reason}")
    return reason


def _engines(machine: NativeMachine) -> dict[str, bool]:
    app = _app(machine)
    return {
        name: app is not None and (found := engine_on(machine, pipe)) is not None and found.pid == app["pid"]
        for name, pipe in PIPES.items()
    }


def _start_desktop(machine: NativeMachine, qualified: str) -> str:
    """The user's Docker Desktop starts in their session; returns what happened."""
    install = _install(machine)
    assert install is not None
    app = _app(machine)
    if app is not None:
        return f"Docker Desktop already runs for {app['user']}"
    session = _state(machine)["sessions"][qualified.lower()]
    needs_group = install["windows_containers"] or _linux_backend(machine, install) == "hyper-v"
    in_token = GROUP.lower() in (g.lower() for g in session["groups"])
    if needs_group and not machine.is_administrator(qualified) and not in_token:
        _state(machine)["log"].append(f"{qualified}: Docker Desktop - Access Denied")
        return "Docker Desktop - Access Denied (not in docker-users at logon)"
    exe = str(install["install_dir"]) + "\\Docker Desktop.exe"
    pid = machine.start_process(exe, f'"{exe}"', qualified)
    _state(machine)["app"] = {"pid": pid, "user": qualified}
    default = str(install["default_engine"])
    reason = _start_engine(machine, default)
    return f"Docker Desktop started, {default} engine " + ("running" if reason is None else f"failed: {reason}")


def _sessions(machine: NativeMachine) -> dict[str, Any]:
    """Live sessions (their explorer.exe still runs): a reboot ended the others."""
    sessions: dict[str, Any] = _state(machine)["sessions"]
    for key in [key for key, entry in sessions.items() if not machine.process_running(int(entry["pid"]))]:
        del sessions[key]
    return sessions


def logon(machine: NativeMachine, host_name: str, user: str) -> str:
    """USER logs on interactively (a first logon creates the profile): explorer.exe runs as the
    user, and Docker Desktop, if installed, starts ("Start Docker Desktop when you sign in")."""
    if not machine.account_exists(user):
        raise ValueError(f"{host_name} has no local account {user!r}")
    qualified = _qualified(machine, user.rpartition("\\")[2])
    sessions = _sessions(machine)
    if qualified.lower() not in sessions:
        machine.ensure_profile(qualified)
        pid = machine.start_process(r"C:\Windows\explorer.exe", "explorer.exe", qualified)
        # The token's groups are fixed at logon: a membership added later counts from the next logon [DD-WIN].
        sessions[qualified.lower()] = {"user": qualified, "pid": pid, "groups": sorted(machine.groups_of(qualified))}
    if _install(machine) is None:
        return f"{host_name}: {qualified} logged on (Docker Desktop is not installed)"
    return f"{host_name}: {qualified} logged on; {_start_desktop(machine, qualified)}"


def logoff(machine: NativeMachine, host_name: str, user: str) -> str:
    """USER signs out: their processes end, Docker Desktop with them [docker/for-win#12014]."""
    qualified = _qualified(machine, user.rpartition("\\")[2])
    sessions = _sessions(machine)
    session = sessions.pop(qualified.lower(), None)
    if session is None:
        raise ValueError(f"{user!r} is not logged on to {host_name}")
    machine.stop_process(int(session["pid"]))
    app = _app(machine)
    if app is not None and str(app["user"]).lower() == qualified.lower():
        machine.stop_process(int(app["pid"]))
        close_pipes(machine, int(app["pid"]))
        _state(machine)["app"] = None
    return f"{host_name}: {qualified} signed out"


def quit_app(machine: NativeMachine, host_name: str) -> str:
    """The tray menu's "Quit Docker Desktop": its process ends, and its engines with it; the
    session stays."""
    app = _app(machine)
    if app is None:
        raise ValueError(f"Docker Desktop is not running on {host_name}")
    machine.stop_process(int(app["pid"]))
    close_pipes(machine, int(app["pid"]))
    _state(machine)["app"] = None
    return f"{host_name}: Docker Desktop quit for {app['user']}"


def switch_engine(machine: NativeMachine, host_name: str, engine: str) -> str:
    """The tray menu's "Switch to Windows/Linux containers": starts ``engine``, leaves the other
    running [docker/for-win#14675]."""
    if engine not in PIPES:
        raise ValueError("--switch-engine takes windows or linux")
    if _install(machine) is None or _app(machine) is None:
        raise ValueError(f"Docker Desktop is not running on {host_name}: log a user on first (--logon USER)")
    reason = _start_engine(machine, engine)
    return f"{host_name}: {engine} engine " + ("running" if reason is None else f"failed: {reason}")


class DesktopPlugin:
    """``docker desktop ...``, the CLI plugin in Desktop's docker.exe [DD-CLI]: ``engine use``."""

    def __init__(self, machine: NativeMachine) -> None:
        self.machine = machine

    def __call__(self, args: Sequence[str], host: Host) -> NativeResult:
        """``engine use windows|linux`` talks to the running app (it fails on the backend's pipe when
        Desktop is not running [docker/for-win#14539]), stops the running engine and starts the
        other [docker/for-win#14675]."""
        if list(args[:2]) != ["engine", "use"] or len(args) != 3:
            name = " ".join(args[:2])
            return NativeResult(1, "", f'unknown command "{name}" for "docker desktop"\n')
        engine = args[2]
        if engine not in PIPES:
            return NativeResult(1, "", f'invalid engine "{engine}": must be one of windows, linux\n')
        machine = self.machine
        install, app = _install(machine), _app(machine)
        if install is None or app is None:
            return NativeResult(
                1,
                "",
                f'switching to {engine} engine: Post "http://ipc/engine/switch": open \\\\.\\pipe\\dockerBackendApiServer: '
                "The system cannot find the file specified.\n",
            )
        if engine == "windows" and not install["windows_containers"]:
            return NativeResult(1, "", 'unable to set engine to "windows": engine is disabled\n')
        close_pipes(machine, int(app["pid"]))
        host.sleep(10.0)  # stopping one engine and starting the other (the lab's figure)
        reason = _start_engine(machine, engine)
        if reason is not None:
            return NativeResult(1, "", f"Docker Desktop failed to start the {engine} engine: {reason}\n")
        return NativeResult(0)


def snapshot(machine: NativeMachine) -> dict[str, Any] | None:
    """The workstation as plain data for tests and ``provision-lab status`` (the previous lab's
    ``workstation`` shape): Desktop, its service, docker-users, WSL, sessions and engines."""
    install = _install(machine)
    sessions = _sessions(machine)
    if install is None and not sessions and machine.group_members(GROUP) is None:
        return None
    service = machine.service_state(SERVICE)
    app = _app(machine)
    return {
        "desktop": dict(install) if install is not None else None,
        "service": None if service is None else {"status": service[0], "start_type": service[1]},
        "groups": {GROUP: machine.group_members(GROUP) or []} if machine.group_members(GROUP) is not None else {},
        "wsl_version": _wsl_version(machine),
        # The groups of each logon token beyond Users, which every account's token holds.
        "sessions": {
            entry["user"]: [g for g in entry["groups"] if g.lower() != "users"] for entry in sessions.values()
        },
        "running_for": None if app is None else app["user"],
        "engines": _engines(machine),
        "images": {name: dict(machine.native_state.get("images", {}).get(store, {})) for name, store in STORES.items()},
        "log": list(_state(machine)["log"]),
    }
