"""One Windows machine: its state and what Windows does with it. No PowerShell here.

The file system (fs.py) and registry (registry.py), the environment, the service control manager
with a process per running service, the servicing stack (optional features by their DISM names,
Server Manager's names mapped onto them), local accounts and groups, SMBIOS-like hardware data
that the CIM classes are built from (cim.py), the clock, and restarts. The cmdlets and .NET types
that act on it are in cmdlets/ and types.py; the native programs in natives/.

Sources: windows-facts.md (wf §N), windows-audit.md (F1-F15) and docker-desktop.md, as keyed there.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from provision_lab.api import Faults
from provision_lab.powershell.api import NativeProgram, NativeResult
from provision_lab.powershell.cmdline import split_command_line
from provision_lab.windows import errors, paths, programs
from provision_lab.windows.fs import FileSystem
from provision_lab.windows.registry import Registry

__all__ = [
    "CBS_REBOOT_PENDING",
    "CURRENT_VERSION",
    "ENVIRONMENT_KEY",
    "GUEST_PARAMETERS",
    "HYPERVISOR_LAUNCH_FAILED",
    "HYPERVISOR_PROVIDER",
    "HYPER_V",
    "PROFILE_LIST",
    "WU_REBOOT_REQUIRED",
    "Account",
    "Catalog",
    "Hardware",
    "Machine",
    "OsInfo",
    "Process",
    "Service",
    "ServiceStartError",
]

HYPER_V = "Microsoft-Hyper-V"
CURRENT_VERSION = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
PROFILE_LIST = CURRENT_VERSION + r"\ProfileList"
ENVIRONMENT_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
"""Where the machine's environment variables live (learn.microsoft.com, "Environment Variables")."""
SESSION_MANAGER = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Session Manager"
CBS_REBOOT_PENDING = (
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending"
)
WU_REBOOT_REQUIRED = (
    r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired"
)
"""The pending-reboot keys ComputerManagementDsc's PendingReboot reads [DSC-PR] (wf §2)."""
_COMPUTER_NAME = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ComputerName"
SERVICES_KEY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services"

_SERVER_FEATURES = {"containers": "Containers", "hyper-v": HYPER_V}
"""Server Manager names -> DISM names (wf §3: Install-WindowsFeature Containers / Hyper-V;
Enable-WindowsOptionalFeature Containers / Microsoft-Hyper-V)."""

HYPER_V_PREREQUISITE = (
    "A prerequisite check for the Hyper-V feature failed.\r\n1. Hyper-V cannot be installed "
    "because virtualization support is not enabled in the BIOS."
)
"""Install-WindowsFeature Hyper-V's failure text (wf §2: Virtualization-Documentation issue #1975)."""

RESTART_PENDING_TEXT = (
    "Installation of [{feature}] {feature} failed. The computer must be restarted to complete another installation. "
    "After restarting the computer, please re-run the same command to install this role."
)
"""Server Manager refusing while another servicing change waits for a restart, ExitCode
FailedRestartRequired (windows-audit.md F2: chocolatey-community/boxstarter#224 shows
"Installation of [Application Server] TCP Port Sharing failed. The computer must be restarted ...",
the parent role in brackets, then the feature; ansible/ansible-modules-core#5078)."""

HYPERVISOR_PROVIDER = "Microsoft-Windows-Hyper-V-Hypervisor"
"""The hypervisor's event provider (its events as quoted in microsoft/WSL#6915)."""
HYPERVISOR_LAUNCH_FAILED = "Hypervisor launch failed; Either VMX not present or not enabled in BIOS."
"""System event 41 of the hypervisor when it cannot start (windows-audit.md F6, after
cloud-hypervisor/rust-hypervisor-firmware#438; the provider of ID 41 is UNCONFIRMED there)."""
GUEST_PARAMETERS = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Virtual Machine\Guest\Parameters"
"""Written by Hyper-V's integration services in its guests (wf §2)."""

LOCAL_TZ = timezone(timedelta(hours=1), "W. Europe Standard Time")
"""The lab's machines keep Central European standard time (no daylight saving is modelled)."""


@dataclass
class OsInfo:
    """What Win32_OperatingSystem and the CurrentVersion key say (wf §2 [W32-OS])."""

    caption: str
    build: int
    ubr: int
    display_version: str
    edition_id: str
    product_type: int
    """1 workstation, 2 domain controller, 3 server [W32-OS]."""
    installation_type: str


@dataclass
class Hardware:
    """SMBIOS-like data and the CPU's virtualization readings while no hypervisor of its own runs.

    ``manufacturer``/``model`` are what Win32_ComputerSystem reads (the SMBIOS system strings);
    whether the machine is a VM is never stated: a script can only recognise the strings.
    ``guest`` says whether it really is one (a guest always runs on a hypervisor, so
    HypervisorPresent reads True [W32-CS]); ``nested_exposed`` is the truth the guest cannot read
    (there is no in-guest API: Azure/iotedge-eflow issue #207, wf §2).
    """

    memory_gb: float
    logical_processors: int
    vt_firmware_enabled: bool
    vm_monitor_mode_extensions: bool
    slat: bool
    manufacturer: str = "Dell Inc."
    model: str = "PowerEdge R750"
    guest: bool = False
    nested_exposed: bool = False
    processor: str = "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz"
    processor_maker: str = "GenuineIntel"
    integration_services: bool = False
    """A Hyper-V guest with its integration services: the host writes the guest key
    ``HKLM:\\SOFTWARE\\Microsoft\\Virtual Machine\\Guest\\Parameters`` (wf §2)."""
    vbs: bool = False
    """Virtualization-based security runs on this physical machine (HVCI, Credential Guard): its
    hypervisor makes HypervisorPresent read True without Hyper-V, and Win32_DeviceGuard's
    VirtualizationBasedSecurityStatus reads 2 ("running", learn.microsoft.com "Enable
    virtualization-based protection of code integrity")."""

    @property
    def can_run_hypervisor(self) -> bool:
        """Hyper-V needs VT-x/AMD-V on in firmware and SLAT [MS-HV-REQ]; in a VM, exposed extensions [MS-NESTED]."""
        if self.guest:
            return self.nested_exposed
        return self.vt_firmware_enabled and self.vm_monitor_mode_extensions and self.slat


@dataclass
class Account:
    """A local account; ``profile`` is set once a first logon has created it."""

    name: str
    sid: str
    admin: bool = False
    profile: str | None = None


@dataclass
class Group:
    name: str
    sid: str
    description: str = ""
    members: list[str] = field(default_factory=list)
    """SIDs."""


@dataclass
class Service:
    """A service as the SCM keeps it (its ImagePath is in the registry too, as on Windows)."""

    name: str
    display_name: str
    image_path: str
    """The command line the SCM starts: ``"C:\\Program Files\\docker\\dockerd.exe" --run-service``."""
    start_type: str = "Manual"
    """Automatic, Manual or Disabled (ServiceStartMode)."""
    status: str = "Stopped"
    pid: int | None = None
    can_stop: bool = True
    depends_on: list[str] = field(default_factory=list)
    """The services it needs running (DependOnService): the SCM starts them first, and stopping one of them
    stops it too (Stop-Service -Force)."""


@dataclass
class Process:
    pid: int
    name: str
    path: str
    command_line: str
    owner: str
    """DOMAIN\\user, as GetOwner returns it."""
    session_id: int = 0
    exits_at: datetime | None = None
    """A stopped service's process lingers until then (it exits a moment after Stop-Service returns)."""


class ServiceStartError(Exception):
    """A service did not reach Running; ``reason`` is what its own log (the event log) says."""

    def __init__(self, service: Service, reason: str) -> None:
        super().__init__(reason)
        self.service = service
        self.reason = reason


class Catalog:
    """What the lab's web serves: URL -> bytes (shared by every machine of a lab).

    Downloads cost modelled time: ``seconds_per_mb`` on the machine's clock.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.seconds_per_mb = 0.5

    def add(self, url: str, data: bytes) -> None:
        self.files[url] = data

    def get(self, url: str) -> bytes | None:
        return self.files.get(url)


DEFAULT_CATALOG = Catalog()


class Machine:
    """One Windows machine's state and behaviour.

    Args:
        computer_name: NetBIOS name (upper case, as ``$env:COMPUTERNAME``).
        os: the Windows build and edition.
        hardware: SMBIOS and CPU readings.
        features: DISM names of the optional features the SKU offers (all Disabled).
        boot_time: LastBootUpTime of the current boot (UTC).
        faults: machine faults.
        catalog: what downloads reach.
    """

    def __init__(
        self,
        computer_name: str,
        os: OsInfo,
        hardware: Hardware,
        features: Iterable[str],
        boot_time: datetime,
        *,
        faults: Faults | None = None,
        catalog: Catalog | None = None,
    ) -> None:
        self.computer_name = computer_name.upper()[:15]
        self.os = os
        self.hardware = hardware
        self.faults = faults if faults is not None else Faults()
        self.catalog = catalog if catalog is not None else DEFAULT_CATALOG
        self.offset = timedelta(0)
        """Modelled time that passed on this machine beyond the wall clock (installs, sleeps)."""
        self.boot_time = boot_time
        self.features: dict[str, str] = {name: "Disabled" for name in features}
        """DISM name -> Enabled | Disabled | EnablePending | DisablePending."""
        self.hypervisor_running = False
        self.services: dict[str, Service] = {}
        self.processes: dict[int, Process] = {}
        self.accounts: dict[str, Account] = {}
        self.groups: dict[str, Group] = {}
        self.event_log: list[str] = []
        """Service start failures as the System/Application log records them."""
        self.system_events: list[dict[str, Any]] = []
        """System log entries Get-WinEvent reads: provider, id, level, time (ISO, UTC), message."""
        self.boot_hooks: list[Callable[[Machine], None]] = []
        """Called after each boot (NATIVES: sessions end, Docker Desktop's service...)."""
        self.extensions: dict[str, Any] = {}
        """State the native programs keep (docker's images, Docker Desktop's engines), by program."""
        self.reboot_requests = 0
        self.on_restart: Callable[[], None] | None = None
        self.winrm: dict[str, str] = {
            # What the WSMan: drive shows; the lab's endpoints enforce the same values (WINRM_DEFAULTS:
            # MS-WSMV 2.2.4.10 MaxEnvelopeSizekb 500; learn.microsoft.com/windows/win32/winrm/quotas).
            "MaxEnvelopeSizekb": "500",
            "Shell\\MaxMemoryPerShellMB": "1024",
            "Shell\\MaxShellsPerUser": "30",
        }
        self._next_pid = 1000
        self.sessions_started = 0
        """powershell.exe processes started since the machine was made (Session counts itself)."""
        volumes = ("C", "D") if self.faults.temp_other_volume else ("C",)
        self.fs = FileSystem(volumes, self.now)
        self.registry = Registry()
        self._install_windows()
        self._base_files = set(self.fs.nodes)
        self._scans: dict[str, tuple[str, datetime]] = {}
        """Files the on-access scan holds (``Faults.scan_seconds``): key -> (path, when it lets go)."""
        self.fs.on_written = self._scan

    # -- the image --------------------------------------------------------------------------

    def _install_windows(self) -> None:
        """What a fresh installation has: folders, system programs, registry keys, accounts."""
        fs, reg, os = self.fs, self.registry, self.os
        for folder in (
            r"C:\Windows\System32\WindowsPowerShell\v1.0",
            r"C:\Windows\System32\OpenSSH",
            r"C:\Windows\System32\Wbem",
            r"C:\Windows\Temp",
            r"C:\Program Files",
            r"C:\Program Files (x86)",
            r"C:\ProgramData",
            r"C:\Users\Public",
        ):
            fs.make_dirs(folder)
        # The inbox programs a script may start; NATIVES registers what each one does.
        # tar.exe (bsdtar) ships from Windows 10 1803 (17134) and Server 2019 on ("Tar and Curl Come to
        # Windows!", Microsoft, 2017-12-19); the inbox wsl.exe from 1709 (16299).
        inbox = {"hostname": 0, "cmd": 0, "msiexec": 0, "whoami": 0, "shutdown": 0, "tar": 17134, "wsl": 16299}
        for name in (name for name, since in inbox.items() if os.build >= since):
            fs.write(rf"C:\Windows\System32\{name}.exe", programs.image(name, f"10.0.{os.build}.{os.ubr}"))
        fs.write(
            r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            programs.image("powershell", f"10.0.{os.build}.{os.ubr}"),
        )
        reg.create(CURRENT_VERSION)
        nt = reg.key(CURRENT_VERSION)
        assert nt is not None
        product = os.caption.removeprefix("Microsoft ")
        if os.build >= 22000 and os.product_type == 1:
            # Windows 11 keeps "Windows 10" in the registry's ProductName (wf §2).
            product = product.replace("Windows 11", "Windows 10")
        nt.set("ProductName", "String", product)
        nt.set("EditionID", "String", os.edition_id)
        nt.set("InstallationType", "String", os.installation_type)
        nt.set("CurrentBuild", "String", str(os.build))
        nt.set("CurrentBuildNumber", "String", str(os.build))
        nt.set("UBR", "DWord", os.ubr)
        if os.build >= 19042:
            nt.set("DisplayVersion", "String", os.display_version)  # 20H2 and later (wf §2)
        nt.set("ReleaseId", "String", os.display_version if os.build < 19042 else "2009")
        reg.create(PROFILE_LIST)
        manager = reg.create(SESSION_MANAGER)
        # Values every installation has (a key with none would give Get-ItemProperty no object).
        manager.set("BootExecute", "MultiString", ["autocheck autochk *"])
        manager.set("CriticalSectionTimeout", "DWord", 2592000)
        reg.create(SERVICES_KEY)
        for name in ("ComputerName", "ActiveComputerName"):
            reg.set_value(rf"{_COMPUTER_NAME}\{name}", "ComputerName", "String", self.computer_name)
        if self.hardware.integration_services:
            guest = reg.create(GUEST_PARAMETERS)
            guest.set("HostName", "String", "HV-HOST01.lab.example")
            guest.set("PhysicalHostName", "String", "HV-HOST01")
            guest.set("VirtualMachineName", "String", self.computer_name)
        env = reg.create(ENVIRONMENT_KEY)
        # The machine Path is REG_EXPAND_SZ with %SystemRoot% (wf §4.2; windows-audit.md F10).
        env.set(
            "Path",
            "ExpandString",
            r"%SystemRoot%\system32;%SystemRoot%;%SystemRoot%\System32\Wbem;"
            "%SYSTEMROOT%\\System32\\WindowsPowerShell\\v1.0\\;%SYSTEMROOT%\\System32\\OpenSSH\\",
        )
        env.set("PATHEXT", "String", ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC")
        env.set("ComSpec", "ExpandString", r"%SystemRoot%\system32\cmd.exe")
        env.set("TEMP", "ExpandString", r"%SystemRoot%\TEMP")
        env.set("TMP", "ExpandString", r"%SystemRoot%\TEMP")
        env.set("OS", "String", "Windows_NT")
        env.set("PROCESSOR_ARCHITECTURE", "String", "AMD64")
        env.set("NUMBER_OF_PROCESSORS", "String", str(self.hardware.logical_processors))
        env.set("windir", "ExpandString", "%SystemRoot%")
        env.set(
            "PSModulePath",
            "ExpandString",
            r"%ProgramFiles%\WindowsPowerShell\Modules;%SystemRoot%\system32\WindowsPowerShell\v1.0\Modules",
        )
        for sid, name, description in (
            (
                "S-1-5-32-544",
                "Administrators",
                "Administrators have complete and unrestricted access to the computer/domain",
            ),
            ("S-1-5-32-545", "Users", "Users are prevented from making accidental or intentional system-wide changes"),
            (
                "S-1-5-32-580",
                "Remote Management Users",
                "Members of this group can access WMI resources over management protocols",
            ),
        ):
            self.groups[name.lower()] = Group(name, sid, description)
        self.add_account("Administrator", admin=True, rid=500)
        if self.faults.restart_pending:
            reg.create(CBS_REBOOT_PENDING)
        if self.faults.temp_other_volume:
            fs.make_dirs(r"D:\Temp")
        self.processes_start_system()

    def processes_start_system(self) -> None:
        """The processes every boot starts that scripts may look for."""
        for name, path in (
            ("System", ""),
            ("wininit.exe", r"C:\Windows\System32\wininit.exe"),
            ("services.exe", r"C:\Windows\System32\services.exe"),
        ):
            self.spawn(name, path, path, r"NT AUTHORITY\SYSTEM")

    # -- the clock --------------------------------------------------------------------------

    def now(self) -> datetime:
        """The machine's local time (wall clock plus the modelled time that passed here)."""
        return (datetime.now(UTC) + self.offset).astimezone(LOCAL_TZ)

    def advance(self, seconds: float) -> None:
        """Let modelled time pass (installs, pulls, Start-Sleep): processes due to exit do."""
        if seconds > 0:
            self.offset += timedelta(seconds=seconds)
        self.reap()

    def last_boot_up_time(self) -> datetime:
        """LastBootUpTime in local time; with ``boot_jitter`` every other powershell.exe reads it a
        second later (F8: it drifts on VMs without a reboot, prometheus-community/windows_exporter#74,
        elastic/beats#12591)."""
        moment = self.boot_time
        if self.faults.boot_jitter and self.sessions_started % 2 == 0:
            moment += timedelta(seconds=1)
        return moment.astimezone(LOCAL_TZ)

    # -- accounts ---------------------------------------------------------------------------

    def machine_sid(self) -> str:
        digest = hashlib.sha256(self.computer_name.encode()).digest()
        parts = [int.from_bytes(digest[i : i + 4], "little") for i in (0, 4, 8)]
        return "S-1-5-21-" + "-".join(str(p) for p in parts)

    def add_account(self, name: str, *, admin: bool = False, rid: int | None = None, profile: bool = False) -> Account:
        """A local user (in Users, and in Administrators when ``admin``); ``profile`` as after a first logon."""
        if rid is None:
            rid = 1000 + len([a for a in self.accounts.values() if int(a.sid.rpartition("-")[2]) >= 1000])
        account = Account(name, f"{self.machine_sid()}-{rid}", admin)
        self.accounts[name.lower()] = account
        self.groups["users"].members.append(account.sid)
        if admin:
            self.groups["administrators"].members.append(account.sid)
        if profile:
            self.create_profile(account)
        return account

    def create_profile(self, account: Account) -> None:
        """What a first logon does: the profile folder and its ProfileList entry."""
        account.profile = rf"C:\Users\{account.name}"
        for folder in (r"AppData\Local\Temp", r"AppData\Roaming", "Desktop", "Documents"):
            self.fs.make_dirs(rf"{account.profile}\{folder}")
        key = self.registry.create(rf"{PROFILE_LIST}\{account.sid}")
        key.set("ProfileImagePath", "ExpandString", account.profile)
        self.registry.create(rf"HKEY_USERS\{account.sid}\Environment")

    def account(self, name: str) -> Account | None:
        """A local account by NAME, COMPUTER\\NAME or .\\NAME (the lab has no domain)."""
        domain, _, user = name.rpartition("\\")
        if domain and domain.lower() not in (self.computer_name.lower(), "."):
            return None
        return self.accounts.get(user.lower())

    def account_by_sid(self, sid: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.sid.lower() == sid.lower()), None)

    def group(self, name: str) -> Group | None:
        domain, _, group = name.rpartition("\\")
        if domain and domain.lower() not in (self.computer_name.lower(), "builtin", "."):
            return None
        return self.groups.get(group.lower())

    def add_group(self, name: str, description: str = "") -> Group:
        rid = 1000 + len(self.accounts) + len(self.groups)
        created = Group(name, f"{self.machine_sid()}-{rid}", description)
        self.groups[name.lower()] = created
        return created

    def is_admin(self, account: Account) -> bool:
        return account.sid in self.groups["administrators"].members

    # -- processes --------------------------------------------------------------------------

    def spawn(self, name: str, path: str, command_line: str, owner: str, *, session_id: int = 0) -> Process:
        """A running process; it holds its image file open while it runs."""
        self._next_pid += 4
        process = Process(self._next_pid, name, path, command_line, owner, session_id)
        self.processes[process.pid] = process
        if path:
            self.fs.hold(path, name)
        return process

    def end(self, pid: int, *, linger: float = 0.0) -> None:
        """A process exits (``linger`` modelled seconds from now)."""
        process = self.processes.get(pid)
        if process is None:
            return
        process.exits_at = self.now() + timedelta(seconds=linger)
        self.reap()

    def _scan(self, path: str) -> None:
        """The on-access scan of a file just written: held for ``Faults.scan_seconds``."""
        if self.faults.scan_seconds > 0:
            self.fs.hold(path, "MsMpEng.exe")
            self._scans[path.lower()] = (path, self.now() + timedelta(seconds=self.faults.scan_seconds))

    def reap(self) -> None:
        """Processes whose exit time has come are gone, and so are their open files (and scans done)."""
        now = self.now()
        for key, (path, until) in list(self._scans.items()):
            if until <= now:
                del self._scans[key]
                self.fs.release(path)
        for pid, process in list(self.processes.items()):
            if process.exits_at is not None and process.exits_at <= now:
                del self.processes[pid]
                if process.path and not any(p.path.lower() == process.path.lower() for p in self.processes.values()):
                    self.fs.release(process.path)

    # -- programs ---------------------------------------------------------------------------

    def program_at(self, path: str) -> NativeProgram | None:
        """The program an executable file is, None when the file does not exist."""
        node = self.fs.node(path)
        if node is None or node.is_dir:
            return None
        identity = programs.identify(node.data)
        build = None if identity is None else programs.factory(identity[0])
        if identity is None or build is None:
            return _BadImage(node.path)
        return build(self, node.path, identity[1])

    def file_version(self, path: str) -> str | None:
        """The version an executable declares (its VERSIONINFO), None for other files."""
        node = self.fs.node(path)
        identity = None if node is None or node.is_dir else programs.identify(node.data)
        return None if identity is None else identity[1]

    # -- environment ------------------------------------------------------------------------

    def expand(self, text: str, env: Mapping[str, str] | None = None) -> str:
        """ExpandEnvironmentStrings: ``%NAME%`` from ``env`` (the machine's own when None);
        unknown names stay as written."""
        values = {k.lower(): v for k, v in (env if env is not None else self.machine_environment()).items()}

        def one(match: re.Match[str]) -> str:
            return values.get(match.group(1).lower(), match.group(0))

        return re.sub(r"%([^%]+)%", one, text)

    def _fixed_environment(self) -> dict[str, str]:
        """Variables Windows sets for every process without the registry's Environment key."""
        return {
            "SystemRoot": r"C:\Windows",
            "SystemDrive": "C:",
            "ProgramFiles": r"C:\Program Files",
            "ProgramFiles(x86)": r"C:\Program Files (x86)",
            "ProgramW6432": r"C:\Program Files",
            "ProgramData": r"C:\ProgramData",
            "ALLUSERSPROFILE": r"C:\ProgramData",
            "CommonProgramFiles": r"C:\Program Files\Common Files",
            "PUBLIC": r"C:\Users\Public",
            "COMPUTERNAME": self.computer_name,
        }

    def machine_environment(self) -> dict[str, str]:
        """The machine's variables, expanded (what a new process inherits from the system)."""
        env = self._fixed_environment()
        key = self.registry.key(ENVIRONMENT_KEY)
        raw = {} if key is None else {v.name: v for v in key.values.values()}
        for name, value in raw.items():
            if value.kind != "ExpandString":
                env[name] = str(value.data)
        for name, value in raw.items():
            if value.kind == "ExpandString":
                env[name] = self.expand(str(value.data), env)
        if self.faults.temp_other_volume:
            env["TEMP"] = env["TMP"] = r"D:\Temp"
        return env

    def user_environment(self, account: Account) -> dict[str, str]:
        """A new process of ``account``: machine variables, then the user's (Path is appended)."""
        env = self.machine_environment()
        profile = account.profile or rf"C:\Users\{account.name}"
        env.update(
            {
                "USERNAME": account.name,
                "USERDOMAIN": self.computer_name,
                "USERPROFILE": profile,
                "HOMEDRIVE": "C:",
                "HOMEPATH": profile[2:],
                "APPDATA": profile + r"\AppData\Roaming",
                "LOCALAPPDATA": profile + r"\AppData\Local",
            }
        )
        if not self.faults.temp_other_volume:
            env["TEMP"] = env["TMP"] = profile + r"\AppData\Local\Temp"
        key = self.registry.key(rf"HKEY_USERS\{account.sid}\Environment")
        for value in [] if key is None else key.values.values():
            text = self.expand(str(value.data), env) if value.kind == "ExpandString" else str(value.data)
            if value.name.lower() == "path":
                env["Path"] = env.get("Path", "") + ";" + text
            else:
                env[value.name] = text
        return env

    # -- services ---------------------------------------------------------------------------

    def service(self, name: str) -> Service | None:
        """By service name or display name, as Get-Service -Name matches either (case-insensitive)."""
        found = self.services.get(name.lower())
        if found is not None:
            return found
        return next((s for s in self.services.values() if s.display_name.lower() == name.lower()), None)

    def dependents(self, service: Service) -> list[Service]:
        """The services that depend on ``service`` (ServiceController.DependentServices)."""
        return [s for s in self.services.values() if service.name.lower() in (d.lower() for d in s.depends_on)]

    def create_service(self, name: str, display_name: str, image_path: str, start_type: str) -> Service:
        """CreateService: the SCM's record and its registry key (ImagePath, Start)."""
        if name.lower() in self.services:
            # ERROR_SERVICE_EXISTS' text.
            raise errors.net("System.ComponentModel.Win32Exception", "The specified service already exists.")
        created = Service(name, display_name, image_path, start_type)
        self.services[name.lower()] = created
        self._service_key(created)
        return created

    def _service_key(self, service: Service) -> None:
        key = self.registry.create(rf"{SERVICES_KEY}\{service.name}")
        key.set("ImagePath", "ExpandString", service.image_path)
        key.set("DisplayName", "String", service.display_name)
        key.set("Start", "DWord", {"Automatic": 2, "Manual": 3, "Disabled": 4}[service.start_type])
        key.set("ObjectName", "String", "LocalSystem")

    def set_start_type(self, service: Service, start_type: str) -> None:
        service.start_type = start_type
        self._service_key(service)

    def delete_service(self, service: Service) -> None:
        del self.services[service.name.lower()]
        self.registry.delete_tree(rf"{SERVICES_KEY}\{service.name}")

    def start_service(self, service: Service) -> None:
        """StartService: its program runs, or the service stops again with the reason in the event log.

        A program that models a service implements ``service_start(argv, machine, service) -> str | None``
        (None: it runs; else why it exited). One that does not cannot be a service: Windows says
        ERROR_SERVICE_REQUEST_TIMEOUT, "The service did not respond to the start or control request
        in a timely fashion." (error 1053).
        """
        if service.status == "Running":
            return
        for name in service.depends_on:  # the SCM starts what a service depends on first
            needed = self.service(name)
            if needed is not None:
                self.start_service(needed)
        if service.start_type == "Disabled":
            raise ServiceStartError(
                service,
                "The service cannot be started, either because it is disabled or because it has no enabled "
                "devices associated with it.",
            )
        argv = split_command_line(service.image_path)
        program_path = self.expand(argv[0]) if argv else ""
        program = self.program_at(program_path) if program_path else None
        if program is None:
            reason = "The system cannot find the file specified."
        else:
            start = getattr(program, "service_start", None)
            if start is None:
                reason = "The service did not respond to the start or control request in a timely fashion."
            else:
                reason = start(argv[1:], self, service)
        if reason is not None:
            service.status = "Stopped"
            self.event_log.append(f"{service.name}: {reason}")
            raise ServiceStartError(service, reason)
        node = self.fs.node(program_path)
        process = self.spawn(
            paths.leaf(node.path if node else program_path), program_path, service.image_path, r"NT AUTHORITY\SYSTEM"
        )
        service.pid = process.pid
        service.status = "Running"

    def stop_service(self, service: Service) -> None:
        """ControlService(STOP): Stopped at once; its process exits ``service_exit_seconds`` later
        (windows-audit.md F1 (b): the SCM reports Stopped before the process has gone)."""
        if service.status != "Running":
            return
        stop = getattr(self.program_at(split_command_line(service.image_path)[0]) or object(), "service_stop", None)
        if stop is not None:
            stop(self, service)
        service.status = "Stopped"
        if service.pid is not None:
            self.end(service.pid, linger=self.faults.service_exit_seconds)
        service.pid = None

    # -- servicing (features) ---------------------------------------------------------------

    def server_feature(self, name: str) -> str | None:
        """The DISM feature behind a Server Manager name, None when the name is not one (wf §3)."""
        dism = _SERVER_FEATURES.get(name.lower())
        return dism if dism is not None and dism in self.features else None

    def restart_pending_externally(self) -> bool:
        """A restart that another servicing operation (patching, Windows Update) left pending."""
        return self.registry.key(WU_REBOOT_REQUIRED) is not None or (
            self.registry.key(CBS_REBOOT_PENDING) is not None
            and not any(state in ("EnablePending", "DisablePending") for state in self.features.values())
        )

    def enable_feature(self, name: str) -> None:
        """Stage a feature for the next boot: EnablePending and CBS RebootPending (wf §3: RestartNeeded)."""
        state = self.features[name]
        if state in ("Enabled", "EnablePending"):
            return
        self.features[name] = "EnablePending"
        self.registry.create(CBS_REBOOT_PENDING)

    def disable_feature(self, name: str) -> None:
        state = self.features[name]
        if state in ("Disabled", "DisablePending"):
            return
        self.features[name] = "DisablePending"
        self.registry.create(CBS_REBOOT_PENDING)

    # -- restarts ---------------------------------------------------------------------------

    def request_restart(self) -> None:
        """Restart-Computer: the owner of the machine (the lab host) takes it down a moment later."""
        self.reboot_requests += 1
        if self.on_restart is not None:
            self.on_restart()

    def boot(self, moment: datetime) -> None:
        """The way up after a restart.

        Pending features settle (DISM's Enabled, whether or not the hypervisor can run); the
        hypervisor starts if Microsoft-Hyper-V is Enabled and it can, and otherwise logs its launch
        failure (windows-audit.md F6: an Enabled feature with a hypervisor that did not launch;
        an inference there, followed so that the lab is not kinder than Windows); volatile keys and
        pending markers are gone; every process has ended; Automatic services start, and those
        that cannot are logged.
        """
        for name, state in list(self.features.items()):
            if state == "EnablePending":
                self.features[name] = "Enabled"
            elif state == "DisablePending":
                self.features[name] = "Disabled"
        for pending in (CBS_REBOOT_PENDING, WU_REBOOT_REQUIRED):
            self.registry.delete_tree(pending)
        manager = self.registry.key(SESSION_MANAGER)
        if manager is not None:
            manager.delete("PendingFileRenameOperations")
        self.registry.drop_volatile()
        self.boot_time = moment.astimezone(UTC)
        self.hypervisor_running = self.features.get(HYPER_V) == "Enabled" and self.hardware.can_run_hypervisor
        if self.features.get(HYPER_V) == "Enabled" and not self.hypervisor_running:
            self.system_events.append(
                {
                    "provider": HYPERVISOR_PROVIDER,
                    "id": 41,
                    "level": "Error",
                    "time": self.boot_time.isoformat(),
                    "message": HYPERVISOR_LAUNCH_FAILED,
                }
            )
        self.processes.clear()
        self.fs.held.clear()
        self.processes_start_system()
        for service in self.services.values():
            service.status, service.pid = "Stopped", None
        for service in self.services.values():
            if service.start_type == "Automatic":
                try:
                    self.start_service(service)
                except ServiceStartError:
                    pass  # logged by start_service, as the SCM logs event 7000/7024
        for hook in self.boot_hooks:
            hook(self)

    # -- inspection -------------------------------------------------------------------------

    def user_files(self) -> dict[str, bytes]:
        """Files that are not part of the installation and not programs: what scripts wrote."""
        return {
            node.path: node.data
            for key, node in self.fs.nodes.items()
            if not node.is_dir and key not in self._base_files and programs.identify(node.data) is None
        }

    def export(self) -> dict[str, Any]:
        """The whole state as JSON-ready data (restore with :meth:`restore`)."""
        return {
            "computer_name": self.computer_name,
            "os": asdict(self.os),
            "hardware": asdict(self.hardware),
            "offset": self.offset.total_seconds(),
            "boot_time": self.boot_time.isoformat(),
            "features": dict(self.features),
            "hypervisor_running": self.hypervisor_running,
            "services": [asdict(s) for s in self.services.values()],
            "processes": [
                {**asdict(p), "exits_at": None if p.exits_at is None else p.exits_at.isoformat()}
                for p in self.processes.values()
            ],
            "accounts": [asdict(a) for a in self.accounts.values()],
            "groups": [asdict(g) for g in self.groups.values()],
            "event_log": list(self.event_log),
            "system_events": [dict(e) for e in self.system_events],
            "files": [
                [n.path, n.is_dir, n.data.hex(), None if n.modified is None else n.modified.isoformat()]
                for n in self.fs.nodes.values()
            ],
            "held": dict(self.fs.held),
            "base_files": sorted(self._base_files),
            "registry": self.registry.export(),
            "extensions": self.extensions,
            "next_pid": self._next_pid,
        }

    @classmethod
    def restore(cls, data: Mapping[str, Any], *, faults: Faults, catalog: Catalog | None = None) -> Machine:
        """A machine from :meth:`export`'s data, with the faults its host has now."""
        machine = cls(
            data["computer_name"],
            OsInfo(**data["os"]),
            Hardware(**data["hardware"]),
            (),
            datetime.fromisoformat(data["boot_time"]),
            faults=faults,
            catalog=catalog,
        )
        machine.offset = timedelta(seconds=float(data["offset"]))
        machine.features = dict(data["features"])
        machine.hypervisor_running = bool(data["hypervisor_running"])
        machine.services = {s["name"].lower(): Service(**s) for s in data["services"]}
        machine.processes = {
            p["pid"]: Process(
                **{**p, "exits_at": None if p["exits_at"] is None else datetime.fromisoformat(p["exits_at"])}
            )
            for p in data["processes"]
        }
        machine.accounts = {a["name"].lower(): Account(**a) for a in data["accounts"]}
        machine.groups = {g["name"].lower(): Group(**g) for g in data["groups"]}
        machine.event_log = list(data["event_log"])
        machine.system_events = [dict(e) for e in data["system_events"]]
        from provision_lab.windows.fs import Node

        machine.fs.nodes = {
            paths.key(path): Node(
                path, is_dir, bytes.fromhex(raw), None if mod is None else datetime.fromisoformat(mod)
            )
            for path, is_dir, raw, mod in data["files"]
        }
        machine.fs.held = dict(data["held"])
        machine._base_files = set(data["base_files"])
        machine.registry = Registry.restore(data["registry"])
        machine.extensions = dict(data["extensions"])
        machine._next_pid = int(data["next_pid"])
        return machine


class _BadImage:
    """A file on PATH that is no program the lab knows: it fails to start as Windows says."""

    def __init__(self, path: str) -> None:
        self.path = path

    def run(self, argv: Any, stdin: str | None, host: Any) -> NativeResult:
        raise errors.net(
            "System.ComponentModel.Win32Exception",
            programs.BAD_IMAGE,
            bases=("System.Runtime.InteropServices.ExternalException", "System.SystemException", "System.Exception"),
            hresult=-2147467259,
        )
