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

from provisioner.compat import Build
from provisioner.facts import EDUCATION_EDITIONS, HOME_EDITIONS, DesktopFacts, Facts
from provisioner.resources.base import (
    DEFAULT_TIMEOUT,
    BlockParams,
    Change,
    DiffEntry,
    Finding,
    RecordData,
    Resource,
    service_diff,
)
from provisioner.spec import DESKTOP_BUILDS, DockerDesktopSpec, FeatureName, HostSpec

__all__ = [
    "DEFAULT_DIR",
    "GROUP",
    "LICENSE_TERMS",
    "LINUX_PIPE",
    "RESOURCE",
    "SERVICE",
    "TYPE",
    "UNINSTALL_KEY",
    "WINDOWS_PIPE",
    "DesktopData",
    "DesktopParams",
    "DesktopProbe",
    "changes",
    "desktop_features",
    "desktop_preflight",
    "docker_cli",
    "docker_desktop",
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


def docker_desktop(spec: HostSpec) -> DockerDesktopSpec:
    """The spec's Docker Desktop engine. The docker-desktop engine type's resources (engines.py) run only for
    specs whose ``engine.type`` is docker-desktop, so anything else here is a registry error."""
    engine = spec.engine
    if not isinstance(engine, DockerDesktopSpec):
        raise TypeError(f"a Docker Desktop resource was planned for engine {engine!r}")
    return engine


def desktop_features(spec: HostSpec) -> list[FeatureName]:
    """What Docker Desktop needs before its installer runs (docker-desktop.md sections 1.6 and 6), enabled
    by windows_feature with the reboot cycle of DESIGN 4.4, since enabling them inside the installer fails
    on some hosts (0x800f0819, "EnableFeaturesAction failed: Call cancelled": docker/for-win#15040, #14830):

    - Windows containers: Microsoft-Hyper-V and Containers ("Turn on Hyper-V and Containers Windows
      features" [DD-WIN]; client Windows containers default to Hyper-V isolation [MS-SETUP], so
      switching to them fails without Hyper-V even with WSL 2 for Linux [docker/for-win#12955]);
    - the Hyper-V backend: Microsoft-Hyper-V (the DockerDesktopVM) [DD-WIN; MS-HV];
    - the WSL 2 backend: VirtualMachinePlatform and Microsoft-Windows-Subsystem-Linux (Docker's own
      checklist lists both [DD-TS]; so does Microsoft's manual WSL install [WSL-DOCS install-manual.md]).
    """
    engine = docker_desktop(spec)
    needed: list[FeatureName] = []
    if engine.windows_containers:
        needed += ["Containers", "Hyper-V"]
    if engine.backend == "hyperv" and "Hyper-V" not in needed:
        needed.append("Hyper-V")
    if engine.backend == "wsl2":
        needed += ["VirtualMachinePlatform", "Microsoft-Windows-Subsystem-Linux"]
    return needed


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


LICENSE_TERMS = (
    "Docker Desktop's installer accepts the Docker Subscription Service Agreement "
    "(https://www.docker.com/legal/docker-subscription-service-agreement) on the user's behalf (--accept-license) "
    "[DD-WIN]: set engine.accept_license: true once your organisation has accepted it. Commercial use in larger "
    "enterprises (more than 250 employees OR more than USD 10 million annual revenue) and by government entities "
    "requires a paid subscription (Pro, Team or Business) [DD-WIN; DD-LIC]"
)


def desktop_preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """Docker Desktop's rules about the machine (the engine type's machine_rules, reported first):

    - Windows Server: unsupported ("Docker Desktop is not supported on server versions of Windows"
      [DD-WIN]; "Can I run Docker Desktop on Windows Server? No" [DD-FAQW]): use docker-ce there.
    - Builds: Windows 10 22H2 (19045) and Windows 11 23H2 (22631) or later [DD-WIN].
    - Editions: "To run Windows containers, you need Windows 10 or Windows 11 Professional or
      Enterprise edition. Windows Home or Education editions only allow you to run Linux containers"
      [DD-WIN]; Home has no Hyper-V for the hyperv backend [MS-HV-ENABLE]; Docker's current table
      lists Enterprise, Pro and Education only, where an older one listed Home for WSL 2 [DD-WIN-OLD],
      so Home with WSL 2 is a warning.
    - Licence: the installer's --accept-license accepts the Docker Subscription Service Agreement
      for the user [DD-WIN], so it takes an explicit ``accept_license: true``; commercial use in
      organisations of more than 250 employees or USD 10 million revenue needs a paid subscription
      [DD-WIN; DD-LIC] (inference: the tool never defaults it, docker-desktop.md 1.7).
    - VMs: supported for Docker Business customers on VMware ESXi or Azure, nested virtualization on [DD-VDI].
    - Both backends need CPU virtualization (SLAT, VT on in firmware) [DD-WIN], so the firmware and
      nested checks apply to every Docker Desktop host.
    """
    engine = docker_desktop(spec)
    os, hw = facts.os, facts.hardware
    findings: list[Finding] = []
    if not os.is_client:
        findings.append(
            Finding(
                "error",
                "desktop.server",
                f"Docker Desktop is not supported on {os.family}: 'Docker Desktop is not supported on server versions of "
                "Windows, such as Windows Server 2019 or Windows Server 2022' [DD-WIN; DD-FAQW]; use engine.type: "
                "docker-ce (Docker CE static binaries) on servers",
            )
        )
    else:
        if os.build < Build.WIN11_21H2 and os.build < Build.WIN10_22H2:
            findings.append(
                Finding(
                    "error",
                    "desktop.build",
                    f"Docker Desktop needs Windows 10 22H2 (build 19045) or later [DD-WIN]; this host is build {os.build}: "
                    "install the Windows 10 22H2 feature update or move to Windows 11 23H2",
                )
            )
        elif Build.WIN11_21H2 <= os.build < Build.WIN11_23H2:
            findings.append(
                Finding(
                    "error",
                    "desktop.build",
                    f"Docker Desktop needs Windows 11 23H2 (build 22631) or later [DD-WIN]; this host is build {os.build} "
                    f"({os.family}): install the Windows 11 23H2 (or newer) feature update",
                )
            )
        edition = os.edition_id
        if edition in HOME_EDITIONS or edition in EDUCATION_EDITIONS:
            kind = "Home" if edition in HOME_EDITIONS else "Education"
            if engine.windows_containers:
                findings.append(
                    Finding(
                        "error",
                        f"desktop.edition.{kind.lower()}",
                        f"{os.family} {kind} ({edition}) cannot run Windows containers under Docker Desktop: 'Windows Home "
                        "or Education editions only allow you to run Linux containers' [DD-WIN]; set "
                        "engine.windows_containers: false (Linux containers on WSL 2), or upgrade the edition to Pro or "
                        "Enterprise",
                    )
                )
            if kind == "Home" and engine.backend == "hyperv":
                findings.append(
                    Finding(
                        "error",
                        "desktop.edition.home",
                        f"{os.family} Home ({edition}) has no Hyper-V ('can't be installed on Windows 10 Home or Windows 11 "
                        "Home' [MS-HV-ENABLE]), so the hyperv backend cannot run; use backend: wsl2",
                    )
                )
            if kind == "Home" and not engine.windows_containers and engine.backend == "wsl2":
                findings.append(
                    Finding(
                        "warning",
                        "desktop.edition.home",
                        "Docker's current system requirements list Enterprise, Pro and Education only [DD-WIN] (an older "
                        "version listed Home for the WSL 2 backend [DD-WIN-OLD]): Linux containers on Home may work but "
                        "are outside Docker's support",
                    )
                )
    if not engine.accept_license:
        findings.append(Finding("error", "desktop.license", LICENSE_TERMS))
    known = DESKTOP_BUILDS.get(engine.version)
    if known is not None and known != engine.build:
        findings.append(
            Finding(
                "error",
                "desktop.build_pin",
                f"Docker Desktop {engine.version} is build {known} in Docker's release notes [DD-RN], not {engine.build}; "
                "fix engine.build (the installer and checksums.txt URLs carry it)",
            )
        )
    if hw.is_vm:
        findings.append(
            Finding(
                "warning",
                "desktop.vm",
                "Docker Desktop in a VM is supported only for Docker Business customers, on VMware ESXi or Azure VMs, with "
                "nested virtualization on; non-persistent VDI is not supported [DD-VDI]",
            )
        )
    if spec.daemon is not None and not engine.users:
        findings.append(
            Finding(
                "error",
                "desktop.daemon_users",
                "under Docker Desktop the Windows engine's settings live in each user's "
                "%USERPROFILE%\\.docker\\windows-daemon.json (Desktop rewrites C:\\ProgramData\\docker\\config\\daemon.json "
                "before every start [docker/for-win#473, #5936]): list the developers in engine.users",
            )
        )
    if spec.verify.linux and engine.windows_containers and engine.version_tuple < (4, 39, 0):
        findings.append(
            Finding(
                "warning",
                "desktop.engine_switch",
                f"verify.linux switches Docker Desktop between its engines with `docker desktop engine use`, which "
                f"exists by 4.39 (its first version is not documented) [DD-CLI; docker/for-win#14675]; {engine.version} "
                "may not have it",
            )
        )
    return findings


class DesktopData(RecordData):
    before: str | None
    """DisplayVersion before the block; None when Docker Desktop was not installed."""
    exit_code: int | None = None
    """The installer's exit code, when it ran."""
    service: str | None = None
    """com.docker.service's status after the block, when the engine needs it."""
    after: str


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    """Install or upgrade when the installed version differs; the service Automatic and running when needed."""
    engine = docker_desktop(spec)
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
    return [Change(id="engine/docker-desktop", type=TYPE, params=params_for(engine, spec.downloads.proxy), diff=diff)]


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
    engine = docker_desktop(spec)
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


def _timeout(params: DesktopParams) -> float:
    """The installer's own limit, plus the download and the service around it."""
    return params.timeout + DEFAULT_TIMEOUT


RESOURCE = Resource(
    name=TYPE,
    params=DesktopParams,
    data=DesktopData,
    changes=changes,
    # The features' reboot first (enabling them inside the installer fails on some hosts: desktop_features),
    # then the pinned WSL package the installer finds (docker-desktop.md 7.2).
    requires=("windows_feature", "wsl_package"),
    may_reboot=True,  # installer exit 3010/1641 (REBOOT_CODES)
    timeout=_timeout,
)
