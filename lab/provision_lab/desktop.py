"""Docker Desktop on a lab workstation: accounts, sessions, the installer, and Desktop's two engines.

A test double at the resource level like the rest of the lab (model.py): it runs the blocks of
resources/docker_desktop.py, docker_users.py, desktop_config.py, desktop_verify.py and
wsl_package.py from their params, and models what the research says Docker Desktop does. Source
keys are those of ``/work/shared/research/docker-desktop.md`` (``dd §N`` below is its section N);
where it had nothing, the comment says the lab's text is a guess (UNCONFIRMED). The rule for doubt
is the lab's: fail the way Windows would, never be more forgiving.

What is modelled:

- **Engines run only in a logged-on user's session** with Desktop started [docker/for-win#11396,
  #6670]; Desktop does not start after installation [DD-WIN]; a logoff quits it
  [docker/for-win#12014]; a reboot ends every session. ``provision lab drift HOST --logon USER``
  stands for "USER logs on and starts Docker Desktop" (:func:`logon`), ``--logoff`` for the logoff.
- **Access**: starting Desktop needs docker-users membership when Windows containers or the Hyper-V
  backend are on, and the membership a session has is the one it had at logon ("Docker Desktop -
  Access Denied" [DD-TS; DD-PERM; DD-WIN]); administrators need none.
- **Engines**: Desktop starts the engine it was installed to start with (``--backend=windows`` ->
  Windows [DD-WIN]). The Windows engine needs the Containers and Hyper-V features with a running
  hypervisor [DD-WIN; docker/for-win#12955] and com.docker.service [DD-PERM], and not
  ``--no-windows-containers`` ('unable to set engine to "windows": engine is disabled'
  [microsoft/winget-pkgs#420243]). The Linux engine needs VirtualMachinePlatform and a WSL package
  of 2.1.5 or later (wsl-2) or a running hypervisor (hyper-v) [DD-WIN]; with ``--backend=windows``
  it uses WSL 2 when VirtualMachinePlatform is on, else Hyper-V (inference, UNCONFIRMED).
- **Switching**: ``docker desktop engine use`` stops the running engine and starts the other; the
  tray menu's switch (``--switch-engine``) leaves the other running [docker/for-win#14675].
- **daemon.json**: each time the Windows engine starts, Desktop rewrites
  ``C:\\ProgramData\\docker\\config\\daemon.json`` from the session user's
  ``%USERPROFILE%\\.docker\\windows-daemon.json`` ("The UI will always rewrite it before start"
  [docker/for-win#473, #5936]); settings dockerd refuses stop the engine [DD-SREF].
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import Any

from provision_lab import model as _model
from provision_lab.model import (
    CONTAINERS,
    DAEMON_JSON,
    LabHostModel,
    _daemon_config_error,
    _Failure,
    _image_builds,
    _join,
    _key,
    _not_recognized,
    _Outcome,
    _process_isolation_allowed,
    _read_all_text,
    _split_reference,
    _throw,
)
from provision_lab.wsman import split_windows_args
from provisioner.resources.desktop_config import DesktopConfigParams
from provisioner.resources.desktop_verify import DesktopVerifyParams
from provisioner.resources.docker_desktop import DesktopParams, DesktopProbe
from provisioner.resources.docker_users import UsersParams
from provisioner.resources.wsl_package import WslParams

__all__ = [
    "DESKTOP_RELEASES",
    "WSL_RELEASES",
    "Account",
    "Workstation",
    "desktop_installer",
    "desktop_sha256",
    "desktop_url",
    "logoff",
    "logon",
    "parse_command_line",
    "switch_engine",
    "workstation_of",
    "wsl_msi",
    "wsl_sha256",
    "wsl_url",
]

VMP = "VirtualMachinePlatform"
WSL = "Microsoft-Windows-Subsystem-Linux"
ADMIN = "provision"
"""The account the tool connects as (lab/runtime.py LAB_USER): a local administrator."""

# ---------------------------------------------------------------------------------------------
# What desktop.docker.com and github.com/microsoft/WSL serve in the lab.

DESKTOP_RELEASES: dict[str, tuple[int, str]] = {
    # Desktop version -> (build [DD-RN; dd §1.5], the Docker Engine it bundles (UNCONFIRMED: the lab's
    # assumption, used only for dockerd's version-dependent daemon.json checks)).
    "4.43.1": (198352, "28.3.0"),
    "4.84.0": (234817, "29.1.0"),
}
WSL_RELEASES: tuple[str, ...] = ("2.1.5", "2.5.10")
"""WSL versions whose MSI the lab serves (2.1.5 is Docker Desktop's minimum [DD-WIN])."""


def desktop_url(version: str) -> str:
    """``https://desktop.docker.com/win/main/amd64/<build>/Docker%20Desktop%20Installer.exe`` [DD-SC]."""
    return f"https://desktop.docker.com/win/main/amd64/{DESKTOP_RELEASES[version][0]}/Docker%20Desktop%20Installer.exe"


@cache
def desktop_installer(version: str) -> bytes:
    """The lab's stand-in for the installer: fixed bytes per version, so its SHA-256 can be pinned."""
    if version not in DESKTOP_RELEASES:
        raise KeyError(f"the lab has no Docker Desktop {version}; it has {', '.join(DESKTOP_RELEASES)}")
    return f"lab stand-in for Docker Desktop Installer.exe {version} (build {DESKTOP_RELEASES[version][0]})\n".encode()


def desktop_sha256(version: str) -> str:
    return hashlib.sha256(desktop_installer(version)).hexdigest()


def wsl_url(version: str) -> str:
    """The WSL release MSI (community URL pattern, dd §6; UNCONFIRMED)."""
    return f"https://github.com/microsoft/WSL/releases/download/{version}/wsl.{version}.0.x64.msi"


@cache
def wsl_msi(version: str) -> bytes:
    if version not in WSL_RELEASES:
        raise KeyError(f"the lab has no WSL {version}; it has {', '.join(WSL_RELEASES)}")
    return f"lab stand-in for wsl.{version}.0.x64.msi\n".encode()


def wsl_sha256(version: str) -> str:
    return hashlib.sha256(wsl_msi(version)).hexdigest()


_INSTALLERS = {desktop_url(v): v for v in DESKTOP_RELEASES}
_WSL_MSIS = {wsl_url(v): v for v in WSL_RELEASES}


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# ---------------------------------------------------------------------------------------------
# State


@dataclass
class Account:
    """A local account: its SID, and its profile folder once a first logon has created it."""

    name: str
    sid: str
    profile: str | None = None
    admin: bool = False


@dataclass
class Workstation:
    """What a workstation has beyond a container host (HostState.workstation)."""

    computer_name: str
    accounts: dict[str, Account] = field(default_factory=dict)
    """lower(name) -> account."""
    groups: dict[str, list[str]] = field(default_factory=dict)
    """lower(group) -> members as COMPUTER\\NAME."""
    sessions: dict[str, list[str]] = field(default_factory=dict)
    """COMPUTER\\NAME of each logged-on account -> the groups its logon token holds (fixed at logon)."""
    desktop: dict[str, Any] | None = None
    """The installed Docker Desktop: version, build, install_dir, default_engine, linux_backend,
    windows_containers, engine_version."""
    service: dict[str, str] | None = None
    """com.docker.service: status and start_type."""
    running_for: str | None = None
    engines: dict[str, bool] = field(default_factory=lambda: {"windows": False, "linux": False})
    images: dict[str, dict[str, int]] = field(default_factory=lambda: {"windows": {}, "linux": {}})
    wsl_version: str | None = None
    """The WSL package's version (four parts, as wsl.exe's file version); None: inbox WSL only."""
    log: list[str] = field(default_factory=list)
    """Why Desktop or an engine did not start: what its dialogs and log would say."""
    containers: int = 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["accounts"] = [asdict(a) for a in self.accounts.values()]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Workstation:
        values = dict(data)
        values["accounts"] = {a["name"].lower(): Account(**a) for a in data["accounts"]}
        return cls(**values)

    def qualified(self, account: str) -> str:
        return account if "\\" in account else f"{self.computer_name}\\{account}"

    def account(self, name: str) -> Account | None:
        """A local account by NAME or COMPUTER\\NAME (the lab has no domain: other domains resolve to nothing)."""
        domain, _, user = name.rpartition("\\")
        if domain and domain.lower() != self.computer_name.lower():
            return None
        return self.accounts.get(user.lower())


def _sid(computer_name: str, rid: int) -> str:
    digest = hashlib.sha256(computer_name.encode()).digest()
    parts = [int.from_bytes(digest[i : i + 4], "big") % 4_000_000_000 for i in (0, 4, 8)]
    return f"S-1-5-21-{parts[0]}-{parts[1]}-{parts[2]}-{rid}"


def new_workstation(host_name: str, developers: dict[str, bool]) -> Workstation:
    """A workstation's accounts: the tool's administrator, and each developer (True: has logged on
    before, so a profile exists). Computer names are upper case, at most 15 characters (NetBIOS)."""
    computer = host_name.upper()[:15]
    ws = Workstation(computer_name=computer)
    ws.accounts[ADMIN] = Account(ADMIN, _sid(computer, 1000), rf"C:\Users\{ADMIN}", admin=True)
    for rid, (name, has_profile) in enumerate(developers.items(), start=1001):
        ws.accounts[name.lower()] = Account(name, _sid(computer, rid), rf"C:\Users\{name}" if has_profile else None)
    ws.groups["administrators"] = [f"{computer}\\{ADMIN}"]
    return ws


def workstation_of(model: LabHostModel) -> Workstation:
    """The host's workstation state, made on first use for a container-host profile (admin only)."""
    state = model._state
    if state.workstation is None:
        state.workstation = new_workstation(model.name, {})
    return state.workstation  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Command lines


# What the installer's argument parser sees follows CommandLineToArgvW, as for the WinRS command line.
parse_command_line = split_windows_args


# ---------------------------------------------------------------------------------------------
# Engines


def _desktop_down(ws: Workstation) -> None:
    ws.running_for = None
    ws.engines = {"windows": False, "linux": False}


def _linux_backend(model: LabHostModel, ws: Workstation) -> str:
    assert ws.desktop is not None
    backend = str(ws.desktop["linux_backend"])
    if backend == "auto":
        return "wsl-2" if model._state.features.get(VMP) == "Enabled" else "hyper-v"
    return backend


def _start_error(model: LabHostModel, ws: Workstation, engine: str) -> str | None:
    """Why Desktop's ``engine`` does not start on this host; None when it runs.

    The texts are the lab's (Desktop shows these in dialogs; its exact wording is UNCONFIRMED),
    except the disabled-engine one [microsoft/winget-pkgs#420243] and dockerd's daemon.json errors.
    """
    s = model._state
    assert ws.desktop is not None
    if engine == "windows":
        if not ws.desktop["windows_containers"]:
            return 'unable to set engine to "windows": engine is disabled'
        if s.features.get(CONTAINERS) != "Enabled":
            # Desktop's own check "DD0023: is the Containers Windows Feature enabled?" [docker/for-win#13009].
            return "Windows containers need the Containers Windows feature (DD0023), which is not enabled"
        if not s.hypervisor_running:
            return "Windows containers need Hyper-V, and no hypervisor is running"
        if ws.service is None or ws.service["status"] != "Running":
            return "com.docker.service is not running, and Windows containers need it"
        # Desktop rewrites the ProgramData daemon.json from the user's settings before each start [docker/for-win#473].
        user = ws.account(ws.running_for or "")
        raw = b'{\n  "experimental": false\n}\n'  # Desktop's default (the lab's guess: UNCONFIRMED)
        if user is not None and user.profile is not None:
            stored = s.files.get(_key(_join(user.profile, r".docker\windows-daemon.json")))
            if stored is not None:
                raw = stored[1]
        model._write_file(DAEMON_JSON, raw)
        return _daemon_config_error(raw, DAEMON_JSON, str(ws.desktop["engine_version"]))
    backend = _linux_backend(model, ws)
    if backend == "wsl-2":
        if s.features.get(VMP) != "Enabled" or not s.hardware.can_run_hypervisor:
            return "WSL 2 is not available: the Virtual Machine Platform feature is off or virtualization is disabled"
        if ws.wsl_version is None or _version_tuple(ws.wsl_version)[:3] < (2, 1, 5):
            return "WSL needs updating: Docker Desktop requires WSL 2.1.5 or later"
        return None
    if not s.hypervisor_running:
        return "failed to start the virtual machine 'DockerDesktopVM': no hypervisor is running"  # [DD-TS], shortened
    if ws.service is None or ws.service["status"] != "Running":
        return "com.docker.service is not running, and the Hyper-V backend needs it"
    return None


def _start_engine(model: LabHostModel, ws: Workstation, engine: str) -> str | None:
    reason = _start_error(model, ws, engine)
    ws.engines[engine] = reason is None
    if reason is not None:
        ws.log.append(f"{engine} engine: {reason}")
    return reason


def _start_desktop(model: LabHostModel, ws: Workstation, qualified: str) -> str:
    """The user starts Docker Desktop in their session; returns what happened."""
    assert ws.desktop is not None
    if ws.running_for is not None:
        return f"Docker Desktop already runs for {ws.running_for}"
    account = ws.account(qualified)
    groups = ws.sessions.get(qualified, [])
    needs_group = ws.desktop["windows_containers"] or _linux_backend(model, ws) == "hyper-v"
    if needs_group and account is not None and not account.admin and "docker-users" not in groups:
        ws.log.append(f"{qualified}: Docker Desktop - Access Denied")
        return "Docker Desktop - Access Denied (not in docker-users at logon)"
    ws.running_for = qualified
    default = str(ws.desktop["default_engine"])
    reason = _start_engine(model, ws, default)
    return f"Docker Desktop started, {default} engine " + ("running" if reason is None else f"failed: {reason}")


def on_boot(model: LabHostModel) -> None:
    """A restart ends every session (and Desktop with them); an Automatic com.docker.service starts.
    The hypervisor also runs when VirtualMachinePlatform is on: WSL 2 runs on it [DD-WSL]."""
    s = model._state
    if s.features.get(VMP) == "Enabled" and s.hardware.can_run_hypervisor:
        s.hypervisor_running = True
    ws = s.workstation
    if ws is None:
        return
    ws.sessions.clear()
    _desktop_down(ws)
    if ws.service is not None:
        ws.service["status"] = "Running" if ws.service["start_type"] == "Automatic" else "Stopped"


def logon(model: LabHostModel, user: str) -> str:
    """USER logs on (a first logon creates the profile) and starts Docker Desktop if it is installed."""
    with model._lock:
        if not model._settle():
            raise ValueError(f"{model.name} is restarting")
        ws = workstation_of(model)
        account = ws.account(user)
        if account is None:
            raise ValueError(
                f"{model.name} has no local account {user!r} (accounts: "
                f"{', '.join(a.name for a in ws.accounts.values())})"
            )
        if account.profile is None:
            account.profile = rf"C:\Users\{account.name}"
        qualified = f"{ws.computer_name}\\{account.name}"
        if qualified not in ws.sessions:
            ws.sessions[qualified] = sorted(
                g for g, members in ws.groups.items() if qualified.lower() in (m.lower() for m in members)
            )
        if ws.desktop is None:
            return f"{model.name}: {qualified} logged on (Docker Desktop is not installed)"
        return f"{model.name}: {qualified} logged on; {_start_desktop(model, ws, qualified)}"


def logoff(model: LabHostModel, user: str) -> str:
    """USER signs out: Docker Desktop quits with the session [docker/for-win#12014]."""
    with model._lock:
        ws = workstation_of(model)
        account = ws.account(user)
        qualified = f"{ws.computer_name}\\{account.name}" if account else user
        if qualified not in ws.sessions:
            raise ValueError(f"{user!r} is not logged on to {model.name}")
        del ws.sessions[qualified]
        if ws.running_for == qualified:
            _desktop_down(ws)
        return f"{model.name}: {qualified} signed out"


def switch_engine(model: LabHostModel, engine: str) -> str:
    """The tray menu's "Switch to Windows/Linux containers": starts ``engine``, leaves the other
    running [docker/for-win#14675]."""
    if engine not in ("windows", "linux"):
        raise ValueError("--switch-engine takes windows or linux")
    with model._lock:
        ws = workstation_of(model)
        if ws.desktop is None or ws.running_for is None:
            raise ValueError(f"Docker Desktop is not running on {model.name}: log a user on first (--logon USER)")
        reason = _start_engine(model, ws, engine)
        return f"{model.name}: {engine} engine " + ("running" if reason is None else f"failed: {reason}")


# ---------------------------------------------------------------------------------------------
# Facts


def facts(model: LabHostModel, p: DesktopProbe) -> dict[str, Any]:
    """facts.ps1.j2's desktop section, read from the state."""
    s = model._state
    ws = s.workstation
    data: dict[str, Any] = {
        "installed": False,
        "version": None,
        "service": {"exists": False, "status": None, "start_type": None},
        "computer_name": ws.computer_name if ws else model.name.upper()[:15],
        "group_exists": False,
        "group_members": [],
        "users": {},
        "sessions": [],
        "running_for": [],
        "engines": {"windows": False, "linux": False},
        "wsl_version": None,
    }
    if ws is None:
        for name in p.users:
            data["users"][name] = {
                "sid": None,
                "profile": None,
                "daemon_json": {"exists": False, "sha256": None, "content": None},
            }
        return data
    if ws.desktop is not None:
        data["installed"], data["version"] = True, ws.desktop["version"]
    if ws.service is not None:
        data["service"] = {"exists": True, "status": ws.service["status"], "start_type": ws.service["start_type"]}
    members = ws.groups.get(p.group.lower())
    if members is not None:
        data["group_exists"], data["group_members"] = True, list(members)
    for name in p.users:
        account = ws.account(name)
        entry: dict[str, Any] = {
            "sid": None,
            "profile": None,
            "daemon_json": {"exists": False, "sha256": None, "content": None},
        }
        if account is not None:
            entry["sid"], entry["profile"] = account.sid, account.profile
            if account.profile is not None:
                stored = s.files.get(_key(_join(account.profile, p.daemon_json)))
                if stored is not None:
                    raw = stored[1]
                    entry["daemon_json"] = {
                        "exists": True,
                        "sha256": hashlib.sha256(raw).hexdigest(),
                        "content": _read_all_text(raw) if len(raw) <= 65536 else None,
                    }
        data["users"][name] = entry
    data["sessions"] = list(ws.sessions)
    data["running_for"] = [ws.running_for] if ws.running_for else []
    if ws.desktop is not None and _key(p.docker) == _key(_docker_exe(ws)):
        data["engines"] = dict(ws.engines)
    data["wsl_version"] = ws.wsl_version
    return data


def _docker_exe(ws: Workstation) -> str:
    assert ws.desktop is not None
    return _join(str(ws.desktop["install_dir"]), r"resources\bin\docker.exe")


# ---------------------------------------------------------------------------------------------
# Blocks


def _download(model: LabHostModel, url: str, catalog: dict[str, str]) -> str:
    version = catalog.get(url)
    if version is None or model.faults.download_failure:
        # Invoke-WebRequest on Windows PowerShell 5.1: a WebException with the HTTP status (as model.py's engine).
        raise _Failure(
            "The remote server returned an error: (404) Not Found.", "InvalidOperation", "System.Net.WebException"
        )
    return version


def install(model: LabHostModel, p: DesktopParams, out: _Outcome) -> None:
    """docker_desktop.ps1.j2: download, check, run the installer, read the version back, the service."""
    ws = workstation_of(model)
    installed = ws.desktop["version"] if ws.desktop else None
    out.data["before"] = installed
    if installed != p.version:
        version = _download(model, p.url, _INSTALLERS)
        actual = desktop_sha256(version)
        if actual != p.sha256:
            raise _throw(f"SHA-256 mismatch for {p.url}: expected {p.sha256}, got {actual}; nothing was installed")
        code = _run_installer(ws, version, parse_command_line(p.command_line))
        out.data["exit_code"] = code
        if code not in p.success_codes and code not in p.reboot_codes:
            if code == -5:
                raise _throw(
                    f"Docker Desktop's installer exited -5: an unknown command, or its UAC relaunch failed "
                    f"(run it from an elevated session); see {p.install_log}"
                )
            raise _throw(f"Docker Desktop's installer exited with code {code}; see {p.install_log}")
        after = ws.desktop["version"] if ws.desktop else None
        if after != p.version:
            found = "no Docker Desktop" if after is None else f"Docker Desktop {after}"
            raise _throw(
                f"Docker Desktop's installer exited {code} but {found} is installed, not {p.version}: it "
                "does not downgrade in place (uninstall first), or the URL served another build"
            )
        out.changed = True
    if p.service_automatic:
        if ws.service is None:
            raise _throw(f"Docker Desktop {p.version} is installed but its service {p.service} is missing")
        if ws.service["start_type"] != "Automatic":
            ws.service["start_type"] = "Automatic"
            out.changed = True
        if ws.service["status"] != "Running":
            ws.service["status"] = "Running"
            out.changed = True
        out.data["service"] = ws.service["status"]
    out.data["after"] = p.version


_FLAGS = {"--quiet", "--accept-license", "--always-run-service", "--no-windows-containers"}
_VALUED = ("--backend=", "--installation-dir=")


def _run_installer(ws: Workstation, version: str, argv: list[str]) -> int:
    """The installer's exit code and its effect. ``install`` must come first (flags alone: "Unknown
    command", -5 [microsoft/winget-pkgs#381599]); flags the lab does not know are refused the same way
    (the real behaviour is UNCONFIRMED, so the lab is the strict one)."""
    if not argv or argv[0] != "install":
        return -5
    options: dict[str, str] = {}
    for arg in argv[1:]:
        if arg in _FLAGS:
            options[arg] = ""
        elif arg.startswith(_VALUED):
            name, _, value = arg.partition("=")
            options[name] = value
        else:
            return -5
    backend = options.get("--backend", "wsl-2")
    if backend not in ("wsl-2", "hyper-v", "windows"):
        return -5
    installed = ws.desktop["version"] if ws.desktop else None
    if installed is not None and _version_tuple(installed) >= _version_tuple(version):
        # Same version: InstallationUpToDate; newer: "Another version of this application is already installed"
        # (exit 3 both [CHOCO; microsoft/winget-pkgs#157214]).
        return 3
    if ws.running_for is not None:
        _desktop_down(ws)  # the upgrade stops Desktop (the lab's assumption)
    ws.desktop = {
        "version": version,
        "build": DESKTOP_RELEASES[version][0],
        "install_dir": options.get("--installation-dir", r"C:\Program Files\Docker\Docker"),
        "default_engine": "windows" if backend == "windows" else "linux",
        "linux_backend": "auto" if backend == "windows" else backend,
        "windows_containers": "--no-windows-containers" not in options,
        "engine_version": DESKTOP_RELEASES[version][1],
        "accepted_license": "--accept-license" in options,
    }
    # The installer creates docker-users with the installing account in it [docker/for-win#6080; DD-PERM].
    members = ws.groups.setdefault("docker-users", [])
    installer_account = f"{ws.computer_name}\\{ADMIN}"
    if installer_account not in members:
        members.append(installer_account)
    # com.docker.service: Automatic and started with --always-run-service [DD-WIN]; otherwise it does not start at
    # boot with WSL 2 [DD-PERM] (the lab makes it Manual).
    if "--always-run-service" in options:
        ws.service = {"status": "Running", "start_type": "Automatic"}
    elif ws.service is None:
        ws.service = {"status": "Stopped", "start_type": "Manual"}
    return 0


def users(model: LabHostModel, p: UsersParams, out: _Outcome) -> None:
    """docker_users.ps1.j2: Get-LocalGroup, then Add-LocalGroupMember per account."""
    ws = workstation_of(model)
    members = ws.groups.get(p.group.lower())
    if members is None:
        # Get-LocalGroup's error for a missing group (GroupNotFoundException; text from its resource strings,
        # UNCONFIRMED in the research).
        raise _Failure(
            f"Group {p.group} was not found.", "ObjectNotFound", "Microsoft.PowerShell.Commands.GroupNotFoundException"
        )
    added: list[str] = []
    for name in p.members:
        account = ws.account(name)
        if account is None:
            raise _Failure(
                f"Principal {name} was not found.",
                "ObjectNotFound",
                "Microsoft.PowerShell.Commands.PrincipalNotFoundException",
            )
        qualified = f"{ws.computer_name}\\{account.name}"
        if qualified.lower() in (m.lower() for m in members):
            continue  # MemberExistsException: in state
        members.append(qualified)
        added.append(name)
    out.data["added"] = added
    out.changed = bool(added)


def config(model: LabHostModel, p: DesktopConfigParams, out: _Outcome) -> None:
    """desktop_config.ps1.j2: the user's windows-daemon.json, staged, backed up, moved."""
    s = model._state
    stored = s.files.get(_key(p.path))
    current = hashlib.sha256(stored[1]).hexdigest() if stored else None
    out.data["before_sha256"] = current
    if current != p.sha256:
        if stored is not None:
            model._write_file(p.path + ".provision-backup", stored[1])
        model._write_file(p.path, p.content.encode("utf-8"))
        out.changed = True
    out.data["after_sha256"] = p.sha256


def wsl_package(model: LabHostModel, p: WslParams, out: _Outcome) -> None:
    """wsl_package.ps1.j2: the pinned WSL MSI through msiexec /i ... /qn /norestart."""
    ws = workstation_of(model)
    out.data["before"] = ws.wsl_version
    if ws.wsl_version is None or _version_tuple(ws.wsl_version)[:3] != _version_tuple(p.version)[:3]:
        version = _download(model, p.url, _WSL_MSIS)
        actual = wsl_sha256(version)
        if actual != p.sha256:
            raise _throw(f"SHA-256 mismatch for {p.url}: expected {p.sha256}, got {actual}; nothing was installed")
        out.data["exit_code"] = 0
        ws.wsl_version = f"{version}.0"
        out.changed = True
    out.data["after"] = ws.wsl_version


def verify(model: LabHostModel, p: DesktopVerifyParams, out: _Outcome) -> None:
    """desktop_verify.ps1.j2: probe the engine, switch with ``docker desktop engine use`` if asked, run."""
    ws = workstation_of(model)
    if ws.desktop is None or _key(p.docker) != _key(_docker_exe(ws)):
        raise _not_recognized(p.docker)
    out.data["switched"] = False
    running = ws.engines.get(p.os, False)
    answer = "" if running else _pipe_error(p.pipe)
    if not running and p.switch:
        said = _engine_use(model, ws, p.os)
        if said:
            raise _throw(f"docker desktop engine use {p.os} failed: {said}")
        out.data["switched"] = True
        running = ws.engines.get(p.os, False)
        answer = "" if running else _pipe_error(p.pipe)
    if not running:
        raise _throw(f"Docker Desktop's {p.os} engine does not answer on {p.pipe}: {answer}")
    code, lines = _run(model, ws, p)
    output = "\n".join(lines)
    out.data["exit_code"] = code
    out.data["output"] = output.strip()
    if code != 0 or (p.expect is not None and p.expect not in output):
        if "no matching manifest" in output:
            raise _throw(
                f"docker cannot pull {p.image} for the {p.os} engine: no manifest for this platform (a Linux "
                "image on the Windows engine is LCOW, removed in Engine 23.0)"
            )
        if "does not match the host operating system" in output:
            raise _throw(
                f"{p.image} does not match this host's build with {' '.join(p.run_options)}; use "
                "--isolation=hyperv or an image of the host's build"
            )
        if "No hypervisor is present" in output:
            raise _throw("Hyper-V isolation needs a running hypervisor: enable the Hyper-V feature")
        raise _throw(f"verify container failed on the {p.os} engine (exit {code}): {output.strip()}")
    if p.record_path is not None and p.record_content is not None:
        model._write_file(p.record_path, p.record_content.encode("utf-8"))
        out.data["recorded"] = True


def _pipe_error(pipe: str) -> str:
    """The docker client's text when nothing listens on the pipe (model.py's _docker_run has the same shape)."""
    path = pipe.removeprefix("npipe://")
    return (
        "error during connect: this error may indicate that the docker daemon is not running: Get "
        f'"http://%2F%2F.%2Fpipe%2F{path.rsplit("/", 1)[-1]}/v1.51/version": open {path}: The system cannot find '
        "the file specified."
    )


def _engine_use(model: LabHostModel, ws: Workstation, engine: str) -> str:
    """``docker desktop engine use``: "" on success, else what it prints. It talks to the running app
    (DockerCli's equivalent fails on the backend's pipe when Desktop is not running [docker/for-win#14539]),
    stops the running engine and starts the other [docker/for-win#14675]."""
    if ws.running_for is None:
        return (
            f'switching to {engine} engine: Post "http://ipc/engine/switch": open \\\\.\\pipe\\dockerBackendApiServer: '
            "The system cannot find the file specified."
        )
    assert ws.desktop is not None
    if engine == "windows" and not ws.desktop["windows_containers"]:
        return 'unable to set engine to "windows": engine is disabled'
    for other in ws.engines:
        ws.engines[other] = False
    reason = _start_engine(model, ws, engine)
    return "" if reason is None else f"Docker Desktop failed to start the {engine} engine: {reason}"


def _run(model: LabHostModel, ws: Workstation, p: DesktopVerifyParams) -> tuple[int, list[str]]:
    """``docker -H <pipe> run --rm <options> <image> <command>``: output lines (2>&1) and exit code."""
    s = model._state
    lines: list[str] = []

    def fail(error: str, *, usage: bool = True) -> tuple[int, list[str]]:
        text = "docker: " + error.removesuffix(".") + "."
        return 125, [*lines, text, *(["See 'docker run --help'."] if usage else [])]

    platform = p.run_options[p.run_options.index("--platform") + 1] if "--platform" in p.run_options else None
    isolation = next((o.partition("=")[2] for o in p.run_options if o.startswith("--isolation=")), None)
    images = ws.images.setdefault(p.os, {})
    repo, tag = _split_reference(p.image)
    builds = _image_builds(p.image)
    if p.os == "linux":
        if builds is None or builds:  # unknown to the lab, or a Windows-only image
            return fail("no matching manifest for linux/amd64 in the manifest list entries")
        if p.image not in images:
            lines += _pull_lines(p.image, repo, tag, "linux")
            images[p.image] = 0
        ws.containers += 1
        container = hashlib.sha256(f"{model.name}/linux/{ws.containers}".encode()).hexdigest()[:12]
        command = [c.lower() for c in p.command]
        if command[:1] != ["uname"]:
            raise _Failure(
                f"the lab models only `uname -a` in Linux containers, not {' '.join(p.command)!r}",
                "NotImplemented",
                "System.NotImplementedException",
            )
        kernel = (
            "5.15.153.1-microsoft-standard-WSL2" if _linux_backend(model, ws) == "wsl-2" else "6.10.14-linuxkit"
        )  # WSL 2's kernel naming (dd §5); the linuxkit one is UNCONFIRMED
        uname = f"Linux {container} {kernel} #1 SMP PREEMPT_DYNAMIC Thu Jun 5 18:30:46 UTC 2025 x86_64 GNU/Linux"
        return 0, [*lines, uname]
    # The Windows engine: moby's Windows pull filter and HCS's rules, as model.py's _docker_run.
    host_build = s.os.build
    if platform == "linux" or builds == ():
        # LCOW is gone: every manifest entry is filtered out by the OS check (dd §5, code; text UNCONFIRMED).
        return fail("no matching manifest for linux/amd64 in the manifest list entries")
    pulled = images.get(p.image)
    if pulled is None:
        if builds is None:
            lines.append(f"Unable to find image '{repo}:{tag}' locally")
            return fail(
                f"Error response from daemon: manifest for {p.image} not found: manifest unknown: manifest unknown"
            )
        usable = [b for b in builds if b <= host_build]
        if not usable:
            lines.append(f"Unable to find image '{repo}:{tag}' locally")
            return fail(f"no matching manifest for windows/amd64 10.0.{host_build} in the manifest list entries")
        pulled = host_build if host_build in usable else usable[0]
        lines += _pull_lines(p.image, repo, tag, "windows")
        images[p.image] = pulled
    ws.containers += 1
    container = hashlib.sha256(f"{model.name}/windows/{ws.containers}".encode()).hexdigest()
    if isolation == "process" and not _process_isolation_allowed(host_build, s.os.product_type == 1, pulled):
        return fail(
            f"Error response from daemon: hcs::CreateComputeSystem {container}: The container operating "
            "system does not match the host operating system.",
            usage=False,
        )
    if isolation == "hyperv" and not s.hypervisor_running:
        return fail(
            f"Error response from daemon: hcs::CreateComputeSystem {container}: No hypervisor is present "
            "on this system. (0xc0351000)",
            usage=False,
        )
    command = [part.lower() for part in p.command[:3]]
    if command[:2] in (["cmd", "/c"], ["cmd.exe", "/c"]) and command[2:] == ["echo"]:
        return 0, [*lines, " ".join(p.command[3:])]
    raise _Failure(
        f"the lab models only `cmd /c echo ...` in Windows containers, not {' '.join(p.command)!r}",
        "NotImplemented",
        "System.NotImplementedException",
    )


def _pull_lines(image: str, repo: str, tag: str, os: str) -> list[str]:
    path = repo.split("/", 1)[1] if "." in repo.split("/")[0] else (repo if "/" in repo else f"library/{repo}")
    digest = hashlib.sha256(f"{image}@{os}".encode()).hexdigest()
    return [
        f"Unable to find image '{repo}:{tag}' locally",
        f"{tag}: Pulling from {path}",
        f"{digest[:12]}: Pull complete",
        f"Digest: sha256:{digest}",
        f"Status: Downloaded newer image for {repo}:{tag}",
    ]


# ---------------------------------------------------------------------------------------------
# Registration with the host model (model.py runs blocks through these tables).

_BLOCKS: dict[tuple[str, str], tuple[type, Callable[..., None]]] = {
    ("docker_desktop", "set"): (DesktopParams, install),
    ("docker_users", "set"): (UsersParams, users),
    ("desktop_config", "set"): (DesktopConfigParams, config),
    ("desktop_verify", "test"): (DesktopVerifyParams, verify),
    ("wsl_package", "set"): (WslParams, wsl_package),
}
for _block, (_params, _handler) in _BLOCKS.items():
    _model._PARAMS[_block] = _params
    _model._HANDLERS[_block] = _handler
