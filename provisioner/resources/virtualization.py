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

An engine type adds its own machine rules first (EngineType.machine_rules: Docker Desktop's SKU,
build, edition and licence rules in docker_desktop.py, LCOW for docker-ce in container_engine.py);
a workstation engine's edition and VM rules replace the edition rules here, and an engine that always
runs a hypervisor (Docker Desktop's WSL 2 or Hyper-V VM) gets the CPU checks.
"""

from __future__ import annotations

from provisioner.facts import EDUCATION_EDITIONS, HOME_EDITIONS, Facts
from provisioner.resources.base import EngineType, Finding, NoData, NoParams, Resource
from provisioner.resources.engines import engine_type
from provisioner.resources.windows_feature import wanted
from provisioner.spec import HostSpec

__all__ = ["MEMORY_SLACK_GB", "NESTED_FIX", "RESOURCE", "TYPE", "hyperv_wanted", "preflight"]

TYPE = "virtualization"

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


def hyperv_wanted(spec: HostSpec) -> bool:
    return "Hyper-V" in wanted(spec) or spec.verify.isolation == "hyperv"


def hypervisor_wanted(spec: HostSpec, engine: EngineType | None) -> bool:
    """Hyper-V, or an engine that always runs a hypervisor (Docker Desktop on either backend: WSL 2 runs in a
    utility VM on the same hypervisor, and both backends list SLAT and firmware virtualization [DD-WIN; DD-WSL])."""
    return hyperv_wanted(spec) or (engine is not None and engine.hypervisor)


def _edition_rules(facts: Facts) -> list[Finding]:
    """Client editions that cannot run Windows containers, and client VMs."""
    os, hw = facts.os, facts.hardware
    findings: list[Finding] = []
    if os.is_client and os.edition_id in HOME_EDITIONS:
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
    if os.is_client and hw.is_vm:
        findings.append(
            Finding(
                "warning",
                "client.vm",
                "Microsoft documents Windows containers on Windows 10/11 for physical machines; in a VM they depend "
                "on nested virtualization",
            )
        )
    return findings


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    hw, want = facts.hardware, spec.virtualization
    engine = engine_type(spec)
    findings: list[Finding] = [*engine.machine_rules(spec, facts)] if engine else []
    if engine is None or not engine.workstation:
        findings += _edition_rules(facts)  # a workstation engine's machine_rules hold its own
    hyperv = hypervisor_wanted(spec, engine)

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


RESOURCE = Resource(name=TYPE, params=NoParams, data=NoData, preflight=preflight)
"""Preflight only: no changes, so no block and no template."""
