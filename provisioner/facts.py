"""The facts model: what the FACTS block reports about a host (DESIGN 4.2, field names exact).

Derived properties interpret the raw readings with the caveats of windows-facts.md section 2:
``VirtualizationFirmwareEnabled`` reads False whenever a hypervisor already runs [W32-PROC;
microsoft/Windows-Sandbox issue #15], and no in-guest API tells whether nested virtualization
is exposed (Azure/iotedge-eflow issue #207), so those answers can be ``"unknown"``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DesktopFacts",
    "DesktopUserFacts",
    "EngineFacts",
    "Facts",
    "FeatureState",
    "FileFacts",
    "HardwareFacts",
    "OsFacts",
    "RebootFacts",
    "ServiceFacts",
    "Tristate",
]

FeatureState = Literal["Enabled", "Disabled", "EnablePending", "DisablePending", "Absent"]
Tristate = Literal["yes", "no", "unknown"]

# EditionID values of Home and Education SKUs; neither runs Windows containers [MS-REQ; DD-DESK].
HOME_EDITIONS = frozenset({"Core", "CoreN", "CoreSingleLanguage", "CoreCountrySpecific"})
EDUCATION_EDITIONS = frozenset({"Education", "EducationN"})


class _Model(BaseModel):
    # Facts come from hosts that may be newer than this tool: extra fields are kept, not refused.
    model_config = ConfigDict(extra="allow", frozen=True)


class OsFacts(_Model):
    caption: str
    build: int
    ubr: int = 0
    display_version: str = ""
    edition_id: str
    product_type: int
    """1 workstation, 2 domain controller, 3 server [W32-OS]."""
    installation_type: str = ""

    @property
    def is_client(self) -> bool:
        return self.product_type == 1

    @property
    def family(self) -> str:
        """A readable name: Windows Server 2022, Windows 11 23H2, ... (Win11 is build >= 22000)."""
        if not self.is_client:
            return self.caption.replace("Microsoft ", "")
        name = "Windows 11" if self.build >= 22000 else "Windows 10"
        return f"{name} {self.display_version}".strip()


class HardwareFacts(_Model):
    memory_gb: float
    logical_processors: int
    vt_firmware_enabled: bool | None
    vm_monitor_mode_extensions: bool | None
    slat: bool | None
    hypervisor_present: bool
    is_vm: bool
    vm_platform: str | None = None
    """Hyper-V, VMware, ..., or ``unknown`` for a hypervisor no SMBIOS table names (windows-audit.md F5)."""
    cpu_manufacturer: str = ""
    """Win32_Processor.Manufacturer: GenuineIntel, AuthenticAMD, ..."""
    hypervisor_launch_failed: bool | None = None
    """Whether the hypervisor logged a launch failure (System event 41) since the last boot; None when the
    log could not be read (windows-audit.md F6)."""

    @property
    def amd(self) -> bool:
        return self.cpu_manufacturer == "AuthenticAMD"

    @property
    def firmware_vt(self) -> Tristate:
        """Whether VT is on in firmware; unknown while a hypervisor runs (the reading is then False)."""
        if self.hypervisor_present:
            return "yes" if self.vt_firmware_enabled else "unknown"
        if self.vt_firmware_enabled is None:
            return "unknown"
        return "yes" if self.vt_firmware_enabled else "no"


class RebootFacts(_Model):
    pending: bool
    reasons: list[str] = Field(default_factory=list)
    boot_id: str
    restart_requested: bool = False
    """The reboot block's volatile registry key is there: this is still the boot it asked to restart
    (a volatile key does not survive a restart; windows-audit.md F8)."""


class ServiceFacts(_Model):
    exists: bool
    status: str | None = None
    start_type: str | None = None


class EngineFacts(_Model):
    installed: bool
    version: str | None = None
    path: str | None = None
    service: ServiceFacts = ServiceFacts(exists=False)


class ContainerdFacts(_Model):
    """Engine type containerd: what ``bin\\containerd.exe --version`` says and how its service is registered
    (research/containerd-scaleout-history.md section 1.4); only when the spec's engine is containerd."""

    installed: bool
    version: str | None = None
    service: ServiceFacts = ServiceFacts(exists=False)
    image_path: str | None = None
    """The service's ImagePath (``HKLM:\\SYSTEM\\CurrentControlSet\\Services\\<name>``): the flags it runs with."""
    crictl: bool = False
    """``bin\\crictl.exe`` is there."""
    nerdctl: bool = False
    """``bin\\nerdctl.exe`` is there."""


class FileFacts(_Model):
    exists: bool
    sha256: str | None = None
    content: str | None = None


class DesktopUserFacts(_Model):
    """One engine.users member as this host knows it."""

    sid: str | None = None
    """None when the name does not resolve to an account here (NTAccount.Translate failed)."""
    profile: str | None = None
    """ProfileImagePath of the account's profile; None until its first logon creates one."""
    daemon_json: FileFacts = FileFacts(exists=False)
    """%USERPROFILE%\\.docker\\windows-daemon.json, the Windows engine's settings as Desktop keeps them
    (docker-desktop.md section 3 [docker/for-win#13009, #14411])."""


class DesktopFacts(_Model):
    """Docker Desktop on a workstation (docker-desktop.md sections 1-4): a key of its own beside DESIGN 4.2's.

    ``engines`` are what answered on Desktop's named pipes just now: the engine runs only in a logged-on
    user's session [docker/for-win#11396, #6670, #12014], so on a host nobody uses both are False.
    """

    installed: bool
    version: str | None = None
    """DisplayVersion of the uninstall entry ``HKLM:\\...\\Uninstall\\Docker Desktop`` (community:
    GabrielMoreau/winsoft-main dockerdesktop/README.md); the installed build is not in it."""
    service: ServiceFacts = ServiceFacts(exists=False)
    """com.docker.service, which Windows containers and the Hyper-V backend need [DD-PERM]."""
    computer_name: str = ""
    group_exists: bool = False
    """docker-users, which the installer creates [docker/for-win#6080; DD-PERM]."""
    group_members: list[str] | None = None
    """Members as DOMAIN\\NAME (the computer name for local accounts); None when they could not be read."""
    users: dict[str, DesktopUserFacts] = Field(default_factory=dict)
    sessions: list[str] = Field(default_factory=list)
    """Accounts with an interactive session (owners of explorer.exe)."""
    running_for: list[str] = Field(default_factory=list)
    """Accounts whose session runs Docker Desktop.exe."""
    engines: dict[str, bool] = Field(default_factory=dict)
    """``windows`` / ``linux``: the engine answered ``docker version`` on its pipe [CLI-INFO; docker/for-win#14539]."""
    wsl_version: str | None = None
    """Version of the WSL package (wsl.exe's file version), None when only the inbox WSL or none is there."""

    def member(self, account: str) -> bool | None:
        """Whether ``account`` (NAME or DOMAIN\\NAME) is in docker-users; None when unreadable."""
        if self.group_members is None:
            return None
        wanted = qualified(account, self.computer_name)
        return any(m.lower() == wanted for m in self.group_members)


def qualified(account: str, computer_name: str) -> str:
    """``DOMAIN\\NAME`` in lower case; a bare name is a local account of ``computer_name``."""
    return (account if "\\" in account else f"{computer_name}\\{account}").lower()


class Facts(_Model):
    os: OsFacts
    hardware: HardwareFacts
    features: dict[str, FeatureState] = Field(default_factory=dict)
    reboot: RebootFacts
    engine: EngineFacts = EngineFacts(installed=False)
    files: dict[str, FileFacts] = Field(default_factory=dict)
    desktop: DesktopFacts | None = None
    """Only when the spec's engine is docker-desktop (facts_request asks for it)."""
    containerd: ContainerdFacts | None = None
    """Only when the spec's engine is containerd (facts_request asks for it)."""

    def feature(self, name: str) -> FeatureState:
        return self.features.get(name, "Absent")

    @property
    def nested_virtualization(self) -> Tristate | None:
        """Whether this VM exposes virtualization extensions to its guest; None on physical hosts.

        There is no in-guest API (Azure/iotedge-eflow issue #207), and every guest reads
        HypervisorPresent True (the parent's hypervisor), so that reading says nothing here.
        Heuristic (windows-facts.md section 2, UNCONFIRMED there): Hyper-V Enabled in the guest with
        no hypervisor launch failure logged since the boot means it launched, which needs exposed
        extensions. Enabled alone proves nothing: DISM enables it where the hypervisor cannot start
        (an inference in windows-audit.md F6, from Virtualization-Documentation issue #1975), so a
        log that could not be read says unknown, and with a failure logged the readings (not hidden
        then) say no or unknown. No VM Monitor Mode Extensions visible means not exposed; VMX visible with firmware
        VT on means exposed. Anything else is unknown rather than a guess.
        """
        hw = self.hardware
        if not hw.is_vm:
            return None
        if self.feature("Microsoft-Hyper-V") == "Enabled":
            if hw.hypervisor_launch_failed is None:
                return "unknown"  # a running hypervisor hides the readings, and the log could not say
            if not hw.hypervisor_launch_failed:
                return "yes"
            # It did not launch, so nothing hides the readings.
            return "no" if hw.vm_monitor_mode_extensions is False else "unknown"
        if hw.vm_monitor_mode_extensions is False:
            return "no"
        if hw.vm_monitor_mode_extensions and hw.vt_firmware_enabled:
            return "yes"
        return "unknown"
