"""docker_desktop: Docker Desktop on a workstation, pinned, checksum-verified, installed unattended.

Sources are the keys of docker-desktop.md (section 0); the rules:

- The documented unattended command line, ``"Docker Desktop Installer.exe" install --quiet
  --accept-license ...`` [DD-WIN], in all-users mode: never ``--user``, which has no Windows
  containers and no com.docker.service [DD-WIN-NEW; DD-PERM], and never through winget, whose
  manifests add ``--no-windows-containers`` and so disable Windows containers for good
  [microsoft/winget-pkgs#420243, #382298].
- ``--backend=windows`` when Windows containers are wanted (Desktop then starts with them
  [DD-WIN; docker/docs#15210]); otherwise ``--backend=wsl-2|hyper-v`` and
  ``--no-windows-containers`` [DD-WIN; DD-PERM]. With ``--backend=windows`` the Linux engine uses
  WSL 2 where it is available, else Hyper-V (inference from "wsl-2 (default)" [DD-WIN];
  UNCONFIRMED), which is why the hyperv backend enables no WSL feature.
- ``--always-run-service`` when Windows containers or the Hyper-V backend are wanted: the service
  "is required by Windows containers and the Hyper-V backend" and the flag starts it and sets it
  Automatic [DD-WIN; DD-PERM].
- The pinned installer ``https://desktop.docker.com/win/main/amd64/<build>/Docker%20Desktop%20
  Installer.exe`` and its SHA-256 from the same folder's checksums.txt [DD-SC]; nothing runs on
  a mismatch.
- The installer runs elevated (it relaunches itself through UAC otherwise, and exits -5 when that
  fails [docker/for-win#14570; docker/desktop-feedback#544]) and is waited for on its own process
  with a timeout: ``Start-Process -Wait`` also waits for grandchildren [PowerShell/PowerShell#15555]
  and ``install --quiet`` has hung in it [docker/for-win#3923].
- Exit codes: 0, and 3 (Chocolatey's "InstallationUpToDate") are success; 3010 and 1641 are
  success with a reboot (Chocolatey treats them so; whether the .exe returns them is UNCONFIRMED)
  [CHOCO; microsoft/winget-pkgs#157214]. -5 is "unknown command" or a failed UAC relaunch
  [microsoft/winget-pkgs#381599]. Nothing else is documented (docker-desktop.md 1.4).
- Installed version: the uninstall entry ``HKLM:\\...\\Uninstall\\Docker Desktop`` and its
  DisplayVersion (community: GabrielMoreau/winsoft-main dockerdesktop/README.md), not the file
  version of Docker Desktop.exe, which was wrong in 4.40 [DD-RN 4.41]. A different version is
  upgraded by running the new installer (winget's ``UpgradeBehavior: install`` [WINGET]); the
  block checks the version afterwards, since the unversioned URL has served an old build that
  then reports "already installed" [docker/for-win#14123].
- Desktop does not start after installation [DD-WIN], and its engine runs only in a logged-on
  user's session [docker/for-win#11396, #6670, #12014]: :func:`pending` says what the user has
  to do, and the host ends ``pending_logon`` (DESIGN 4.5).
"""

from __future__ import annotations

import subprocess

from provisioner.facts import DesktopFacts, Facts
from provisioner.resources import BlockParams, Change, DiffEntry, service_diff
from provisioner.spec import DockerDesktopSpec, HostSpec

__all__ = [
    "DEFAULT_DIR",
    "GROUP",
    "LINUX_PIPE",
    "SERVICE",
    "TYPE",
    "UNINSTALL_KEY",
    "WINDOWS_PIPE",
    "DesktopParams",
    "DesktopProbe",
    "changes",
    "docker_cli",
    "install_command_line",
    "pending",
    "probe",
    "service_needed",
]

TYPE = "docker_desktop"
DEFAULT_DIR = r"C:\Program Files\Docker\Docker"
SERVICE = "com.docker.service"
GROUP = "docker-users"
UNINSTALL_KEY = r"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\Docker Desktop"
INSTALL_LOG = r"C:\ProgramData\DockerDesktop\install-log-admin.txt"
"""Where the elevated installer logs [docker/for-win#14570]; named in the failure message."""
WINDOWS_PIPE = "npipe:////./pipe/dockerDesktopWindowsEngine"
LINUX_PIPE = "npipe:////./pipe/dockerDesktopLinuxEngine"
"""Desktop's engines by pipe: an admin session does not see the developer's docker context, so the
pipes are addressed explicitly [docker/desktop-feedback#348; docker/for-win#14539] (docker-desktop.md 2)."""
SERVER_OS_FORMAT = "{{.Server.Os}}"
"""``docker version --format``: ``windows`` or ``linux``, the engine that answered [CLI-INFO]."""
PROFILE_LIST = r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\ProfileList"
WSL_EXE = r"C:\Program Files\WSL\wsl.exe"
"""The WSL package's wsl.exe: the System32 alias fails outside interactive sessions [microsoft/WSL#9231]."""
USER_DAEMON_JSON = r".docker\windows-daemon.json"
"""The Windows engine's settings as Desktop keeps them, under the user's profile (docker-desktop.md 3)."""
SUCCESS_CODES = (0, 3)
REBOOT_CODES = (3010, 1641)


def docker_cli(engine: DockerDesktopSpec) -> str:
    """The docker.exe Desktop ships (``resources\\bin``), with its ``desktop`` plugin [DD-CLI]."""
    return engine.install_dir.rstrip("\\") + r"\resources\bin\docker.exe"


def service_needed(engine: DockerDesktopSpec) -> bool:
    """com.docker.service must run: Windows containers and the Hyper-V backend need it [DD-WIN; DD-PERM]."""
    return engine.windows_containers or engine.backend == "hyperv"


def install_arguments(engine: DockerDesktopSpec) -> list[str]:
    """The installer's arguments (module docstring); ``install`` first, or every flag is refused with
    "Unknown command" and exit -5 [microsoft/winget-pkgs#381599]."""
    arguments = ["install", "--quiet"]
    if engine.accept_license:
        arguments.append("--accept-license")
    if engine.windows_containers:
        arguments.append("--backend=windows")
    else:
        arguments += ["--backend=" + {"wsl2": "wsl-2", "hyperv": "hyper-v"}[engine.backend], "--no-windows-containers"]
    if service_needed(engine):
        arguments.append("--always-run-service")
    if engine.install_dir.rstrip("\\").lower() != DEFAULT_DIR.lower():
        arguments.append(f"--installation-dir={engine.install_dir}")
    return arguments


def install_command_line(engine: DockerDesktopSpec) -> str:
    """The arguments as one command line, quoted by the Microsoft C runtime's rules (an argument with a
    space, such as an installation folder under Program Files, in double quotes), which the installer's
    argument parser reads back. ``subprocess.list2cmdline`` implements exactly those rules."""
    return subprocess.list2cmdline(install_arguments(engine))


class DesktopParams(BlockParams):
    version: str
    build: int
    url: str
    sha256: str
    command_line: str
    """Everything after the installer's path, already quoted for CreateProcess (ProcessStartInfo.Arguments)."""
    timeout: float
    uninstall_key: str
    install_log: str
    service: str
    service_automatic: bool
    success_codes: list[int]
    reboot_codes: list[int]
    proxy: str | None = None
    """spec.downloads.proxy (windows-audit.md F13)."""


def params_for(engine: DockerDesktopSpec, proxy: str | None = None) -> DesktopParams:
    return DesktopParams(
        proxy=proxy,
        version=engine.version,
        build=engine.build,
        url=engine.download_url,
        sha256=engine.sha256,
        command_line=install_command_line(engine),
        timeout=engine.install_timeout,
        uninstall_key=UNINSTALL_KEY,
        install_log=INSTALL_LOG,
        service=SERVICE,
        service_automatic=service_needed(engine),
        success_codes=list(SUCCESS_CODES),
        reboot_codes=list(REBOOT_CODES),
    )


class DesktopProbe(BlockParams):
    """What the FACTS block reads about Docker Desktop (facts.DesktopFacts), for docker-desktop specs only."""

    uninstall_key: str
    service: str
    group: str
    users: list[str]
    profile_list: str
    daemon_json: str
    """Relative to each user's profile folder."""
    docker: str
    pipes: dict[str, str]
    format: str
    session_process: str
    desktop_process: str
    wsl_exe: str


def probe(engine: DockerDesktopSpec) -> DesktopProbe:
    return DesktopProbe(
        uninstall_key=UNINSTALL_KEY,
        service=SERVICE,
        group=GROUP,
        users=list(engine.users),
        profile_list=PROFILE_LIST,
        daemon_json=USER_DAEMON_JSON,
        docker=docker_cli(engine),
        pipes={"windows": WINDOWS_PIPE, "linux": LINUX_PIPE},
        format=SERVER_OS_FORMAT,
        session_process="explorer.exe",
        desktop_process="Docker Desktop.exe",
        wsl_exe=WSL_EXE,
    )


def desktop_facts(facts: Facts) -> DesktopFacts:
    return facts.desktop if facts.desktop is not None else DesktopFacts(installed=False)


def changes(spec: HostSpec, facts: Facts, requires: tuple[str, ...]) -> list[Change]:
    """Install or upgrade when the installed version differs; the service Automatic and running when needed."""
    engine = spec.engine
    if not isinstance(engine, DockerDesktopSpec):
        return []
    found = desktop_facts(facts)
    diff: list[DiffEntry] = []
    if not found.installed:
        diff.append(DiffEntry("desktop.version", None, engine.version))
    elif found.version != engine.version:
        diff.append(DiffEntry("desktop.version", found.version, engine.version))
    if service_needed(engine) and found.installed and found.version == engine.version:
        service = found.service
        diff += service_diff("desktop.service", service.exists, service.status, service.start_type)
    if not diff:
        return []
    return [
        Change(
            id="engine/docker-desktop",
            type=TYPE,
            params=params_for(engine, spec.downloads.proxy),
            diff=diff,
            requires=requires,
        )
    ]


def _names(accounts: list[str]) -> str:
    return ", ".join(accounts) if accounts else "a member of docker-users"


def pending(spec: HostSpec, facts: Facts, *, engine_needed: bool) -> str | None:
    """What the user has to do before this host can be finished, or None.

    Two things wait for a user: a windows-daemon.json for someone who never logged on (Windows
    creates the profile at the first logon), and any check of the engine, which runs only in a
    logged-on user's session with Desktop started [docker/for-win#11396, #6670, #12014]; Desktop
    does not start by itself after installation [DD-WIN], and docker-users membership applies at
    the next logon ("Docker Desktop - Access Denied" otherwise [DD-TS; DD-WIN]).
    """
    engine = spec.engine
    if not isinstance(engine, DockerDesktopSpec):
        return None
    found = desktop_facts(facts)
    if not found.installed:
        return None
    steps: list[str] = []
    if spec.daemon is not None:
        unborn = [
            u
            for u in engine.users
            if found.users.get(u) is not None and found.users[u].sid is not None and found.users[u].profile is None
        ]
        if unborn:
            steps.append(
                f"{', '.join(unborn)} never logged on to this workstation, so Windows has not created the "
                "profile that holds .docker\\windows-daemon.json: each logs on once (the next apply writes "
                "it; Docker Desktop applies it when its Windows engine next starts)"
            )
    if engine_needed and not any(found.engines.values()) and not found.running_for:
        users = _names(list(engine.users))
        if not found.sessions:
            steps.append(
                f"nobody is logged on, and Docker Desktop's engine runs only in a logged-on user's session "
                f"[docker/for-win#11396]: {users} logs on and starts Docker Desktop from the Start menu "
                "(it does not start by itself after installation [DD-WIN]; later it starts at logon)"
            )
        elif not found.running_for:
            steps.append(
                f"{', '.join(found.sessions)} is logged on but Docker Desktop is not running: start it from "
                "the Start menu; if it says 'Docker Desktop - Access Denied', sign out and back in so the "
                "docker-users membership applies [DD-TS; DD-WIN]"
            )
        # Desktop runs but no engine answers: not a wait for the user. The verify starts the engine it tests
        # (docker desktop engine use) and says why when it cannot (desktop_verify).
    if not steps:
        return None
    return "waiting for a user: " + "; ".join(steps) + "; then run apply again to finish and verify"
