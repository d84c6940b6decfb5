"""virtualization (preflight only): can this machine host Windows containers at all?

Rules and their sources (windows-facts.md section 2):

- Edition: Windows containers and Hyper-V need Pro or Enterprise on client SKUs; Home cannot
  [MS-REQ; MS-HV-ENABLE], and Docker says Education runs Linux containers only [DD-DESK].
- Firmware VT: ``VirtualizationFirmwareEnabled`` reads False once any hypervisor runs [W32-PROC;
  Windows-Sandbox issue #15], so only "off with no hypervisor running" is an error.
- SLAT and VM Monitor Mode Extensions are Hyper-V requirements [MS-HV-REQ].
- Nested: in a VM, Hyper-V needs the parent to expose virtualization extensions; there is no
  in-guest API (facts.Facts.nested_virtualization), and the fix is on the parent [MS-NESTED].
- Memory: Hyper-V and container hosts need 4 GB or more [MS-HV-REQ; MS-NESTED].

Docker Desktop (docker-desktop.md sections 1.6, 1.7 and 7.1), instead of the edition rule above:

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

LCOW: Linux containers asked of docker-ce (``verify.linux``) are refused: LCOW was deprecated in
Engine 20.10 and removed in 23.0 "in favor of running Docker natively on Linux in WSL2" [CLI-DEPR;
moby/moby#40844], and a Windows dockerd refuses Linux images [MOBY image_os.go] (windows-facts.md 6).
"""

from __future__ import annotations

from provisioner.compat import Build
from provisioner.facts import EDUCATION_EDITIONS, HOME_EDITIONS, Facts
from provisioner.resources import Finding
from provisioner.resources.windows_feature import wanted
from provisioner.spec import DESKTOP_BUILDS, DockerDesktopSpec, EngineSpec, HostSpec

__all__ = [
    "LCOW_ALTERNATIVES",
    "LICENSE_TERMS",
    "MEMORY_SLACK_GB",
    "NESTED_FIX",
    "desktop_preflight",
    "hyperv_wanted",
    "lcow_preflight",
    "preflight",
]

MEMORY_SLACK_GB = 0.25
"""Firmware and the kernel reserve some RAM: a 4 GB machine reports about 3.8 GB as TotalPhysicalMemory."""

NESTED_FIX = (
    "on the Hyper-V host that runs this VM, with the VM powered off: "
    "Set-VMProcessor -VMName <vm> -ExposeVirtualizationExtensions $true"
)
OTHER_NESTED_FIX = (
    "turn on nested virtualization for this VM in its hypervisor or cloud (an instance type or host setting that "
    "exposes VT-x/AMD-V to the guest), then boot it again"
)
"""Other hypervisors and clouds each have their own switch for it."""


def nested_fix(platform: str | None) -> str:
    """How to expose virtualization extensions to a guest of ``platform`` (HardwareFacts.vm_platform)."""
    return NESTED_FIX if platform == "Hyper-V" else OTHER_NESTED_FIX


LICENSE_TERMS = (
    "Docker Desktop's installer accepts the Docker Subscription Service Agreement "
    "(https://www.docker.com/legal/docker-subscription-service-agreement) on the user's behalf (--accept-license) "
    "[DD-WIN]: set engine.accept_license: true once your organisation has accepted it. Commercial use in larger "
    "enterprises (more than 250 employees OR more than USD 10 million annual revenue) and by government entities "
    "requires a paid subscription (Pro, Team or Business) [DD-WIN; DD-LIC]"
)

LCOW_ALTERNATIVES = (
    "Docker Desktop with the WSL 2 backend on a workstation (engine.type: docker-desktop, backend: wsl2, "
    "verify.linux: true), or a Linux node for Linux containers"
)


def hyperv_wanted(spec: HostSpec) -> bool:
    return "Hyper-V" in wanted(spec) or spec.verify.isolation == "hyperv"


def hypervisor_wanted(spec: HostSpec) -> bool:
    """Hyper-V, or Docker Desktop on either backend: WSL 2 runs in a utility VM on the same hypervisor,
    and both backends list SLAT and firmware virtualization [DD-WIN; DD-WSL]."""
    return hyperv_wanted(spec) or isinstance(spec.engine, DockerDesktopSpec)


def lcow_preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """Linux containers asked of a Windows dockerd (docker-ce): LCOW, which no current engine has."""
    engine = spec.engine
    if not isinstance(engine, EngineSpec) or not spec.verify.linux:
        return []
    major, minor = engine.major_minor
    fate = (
        "was removed in Docker Engine 23.0"
        if (major, minor) >= (23, 0)
        else "is deprecated since Docker Engine 20.10 and was removed in 23.0"
    )
    return [
        Finding(
            "error",
            "lcow",
            f"verify.linux asks Docker CE {engine.version} on Windows for Linux containers, which is LCOW (Linux "
            f"Containers on Windows): it {fate} ('the feature never reached completeness, and development has now "
            "stopped in favor of running Docker natively on Linux in WSL2' [CLI-DEPR]), and a Windows dockerd refuses "
            "Linux images ('image operating system \"linux\" cannot be used on this platform' [MOBY]). Alternatives: "
            f"{LCOW_ALTERNATIVES}",
        )
    ]


def desktop_preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """Docker Desktop's own rules (module docstring): SKU, build, edition, licence, VM, pins."""
    engine = spec.engine
    if not isinstance(engine, DockerDesktopSpec):
        return []
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


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    os, hw, want = facts.os, facts.hardware, spec.virtualization
    findings: list[Finding] = [*lcow_preflight(spec, facts)]
    desktop = isinstance(spec.engine, DockerDesktopSpec)
    if desktop:
        findings += desktop_preflight(spec, facts)
    hyperv = hypervisor_wanted(spec)

    if desktop:
        pass  # editions and VMs: desktop_preflight's rules, which depend on the backend
    elif os.is_client and os.edition_id in HOME_EDITIONS:
        findings.append(
            Finding(
                "error",
                "edition.home",
                f"{os.family} Home ({os.edition_id}) cannot run Windows containers or Hyper-V; "
                "upgrade the edition to Pro or Enterprise",
            )
        )
    elif os.is_client and os.edition_id in EDUCATION_EDITIONS:
        findings.append(
            Finding(
                "error",
                "edition.education",
                f"{os.family} Education ({os.edition_id}) runs Linux containers only (Docker's requirements); "
                "Windows containers need Pro or Enterprise",
            )
        )
    if os.is_client and hw.is_vm and not desktop:
        findings.append(
            Finding(
                "warning",
                "client.vm",
                "Microsoft documents Windows containers on Windows 10/11 for physical machines; in a VM they depend "
                "on nested virtualization",
            )
        )

    if hw.memory_gb + MEMORY_SLACK_GB < want.min_memory_gb:
        findings.append(
            Finding(
                "error",
                "memory",
                f"{hw.memory_gb:g} GB of memory, below the {want.min_memory_gb:g} GB minimum "
                "(virtualization.min_memory_gb); add memory or lower the minimum",
            )
        )

    if not hw.is_vm:
        if want.require_firmware_vt and hw.firmware_vt == "no":
            findings.append(
                Finding(
                    "error",
                    "firmware.vt",
                    "CPU virtualization is disabled in the firmware: enable Intel VT-x (Intel Virtualization "
                    "Technology) or AMD-V (SVM Mode) in the BIOS/UEFI setup, then boot again",
                )
            )
        if hyperv and not hw.hypervisor_present:
            if hw.vm_monitor_mode_extensions is False:
                findings.append(
                    Finding(
                        "error",
                        "cpu.vmx",
                        "the CPU has no VM Monitor Mode Extensions (VT-x/AMD-V), which Hyper-V requires",
                    )
                )
            if hw.slat is False:
                findings.append(
                    Finding(
                        "error",
                        "cpu.slat",
                        "the CPU lacks Second Level Address Translation (EPT/RVI), which Hyper-V requires",
                    )
                )
    elif hyperv and want.nested != "ignore":
        nested = facts.nested_virtualization
        platform = f" ({hw.vm_platform})" if hw.vm_platform and hw.vm_platform != "unknown" else ""
        fix = nested_fix(hw.vm_platform)
        if nested == "no" or (want.nested == "required" and nested != "yes"):
            findings.append(
                Finding(
                    "error",
                    "nested",
                    f"this VM{platform} does not expose virtualization extensions, so Hyper-V cannot run in it; {fix}",
                )
            )
        elif nested == "unknown":
            findings.append(
                Finding(
                    "warning",
                    "nested",
                    f"cannot tell from inside this VM{platform} whether nested virtualization is exposed; if Hyper-V "
                    f"fails to start: {fix}",
                )
            )
    return findings
