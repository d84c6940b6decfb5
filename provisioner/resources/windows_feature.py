"""windows_feature: enable Containers and Hyper-V with the right cmdlet and name for the SKU.

Server: ``Install-WindowsFeature -Name Containers`` [PS-SM]; Hyper-V, and every feature on client SKUs:
``Enable-WindowsOptionalFeature -Online -FeatureName Containers | Microsoft-Hyper-V -All -NoRestart``
[PS-DISM; MS-HV-ENABLE]. Hyper-V goes through the DISM cmdlet
on every SKU, Server included, because ``Install-WindowsFeature Hyper-V`` fails its BIOS
prerequisite check in VMs, nested or not, while DISM works (windows-facts.md section 2;
Virtualization-Documentation issue #1975; azure-stack-docs #1892): nothing then depends on
recognising the VM (windows-audit.md F5). Its management tools are not installed (the engine does
not use them). Facts key features by their DISM name on every SKU, since the DISM
cmdlets also work on Server (windows-facts.md section 3). ``EnablePending`` means a reboot is
still needed, never "in state".

Docker Desktop adds the features of its backend (:func:`wanted`), enabled with the reboot cycle of
DESIGN 4.4 before its installer runs, since enabling them inside the installer fails on some hosts
(0x800f0819, "EnableFeaturesAction failed: Call cancelled": docker/for-win#15040, #14830; docker-
desktop.md section 6). VirtualMachinePlatform and Microsoft-Windows-Subsystem-Linux always go
through DISM [WSL-DOCS install-manual.md].
"""

from __future__ import annotations

from typing import Literal

from provisioner.facts import Facts
from provisioner.resources import BlockParams, Change, DiffEntry, Finding
from provisioner.spec import DockerDesktopSpec, FeatureName, HostSpec

__all__ = ["DISM_NAMES", "FeatureParams", "TYPE", "changes", "desktop_features", "preflight", "wanted"]

TYPE = "windows_feature"

DISM_NAMES: dict[FeatureName, str] = {
    "Containers": "Containers",
    "Hyper-V": "Microsoft-Hyper-V",
    "VirtualMachinePlatform": "VirtualMachinePlatform",
    "Microsoft-Windows-Subsystem-Linux": "Microsoft-Windows-Subsystem-Linux",
}
"""Optional-feature names on every SKU; ``Hyper-V`` is the Server role name of Microsoft-Hyper-V."""

ROLES: frozenset[FeatureName] = frozenset({"Containers"})
"""Features Server installs with Install-WindowsFeature; Hyper-V and the WSL ones always go through DISM."""


def desktop_features(engine: DockerDesktopSpec) -> list[FeatureName]:
    """What Docker Desktop needs before its installer runs (docker-desktop.md sections 1.6 and 6):

    - Windows containers: Microsoft-Hyper-V and Containers ("Turn on Hyper-V and Containers Windows
      features" [DD-WIN]; client Windows containers default to Hyper-V isolation [MS-SETUP], so
      switching to them fails without Hyper-V even with WSL 2 for Linux [docker/for-win#12955]);
    - the Hyper-V backend: Microsoft-Hyper-V (the DockerDesktopVM) [DD-WIN; MS-HV];
    - the WSL 2 backend: VirtualMachinePlatform and Microsoft-Windows-Subsystem-Linux (Docker's own
      checklist lists both [DD-TS]; so does Microsoft's manual WSL install [WSL-DOCS install-manual.md]).
    """
    needed: list[FeatureName] = []
    if engine.windows_containers:
        needed += ["Containers", "Hyper-V"]
    if engine.backend == "hyperv" and "Hyper-V" not in needed:
        needed.append("Hyper-V")
    if engine.backend == "wsl2":
        needed += ["VirtualMachinePlatform", "Microsoft-Windows-Subsystem-Linux"]
    return needed


def wanted(spec: HostSpec) -> list[FeatureName]:
    """spec.features, then what the engine needs that it does not list, in that order."""
    result = list(spec.features)
    if isinstance(spec.engine, DockerDesktopSpec):
        result += [f for f in desktop_features(spec.engine) if f not in result]
    return result


class FeatureParams(BlockParams):
    name: str
    """DISM optional-feature name: the key in facts.features and the state the block ensures."""
    method: Literal["server", "dism"]
    """server: Install-WindowsFeature with ``role``; dism: Enable-WindowsOptionalFeature -All."""
    role: str | None = None


def params_for(feature: FeatureName, facts: Facts) -> FeatureParams:
    """The cmdlet and names for one feature on this host's SKU."""
    dism = DISM_NAMES[feature]
    if facts.os.is_client or feature not in ROLES:
        return FeatureParams(name=dism, method="dism")
    return FeatureParams(name=dism, method="server", role=feature)


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """A wanted feature that this edition does not have at all cannot be enabled. (Docker Desktop on a
    server is refused as such by virtualization's desktop.server; its features are not listed again.)"""
    if isinstance(spec.engine, DockerDesktopSpec) and not facts.os.is_client:
        return []
    return [
        Finding(
            "error",
            "feature.absent",
            f"feature {DISM_NAMES[f]} is not available on {facts.os.caption} ({facts.os.edition_id})",
        )
        for f in wanted(spec)
        if facts.feature(DISM_NAMES[f]) == "Absent"
    ]


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    result = []
    for feature in wanted(spec):
        params = params_for(feature, facts)
        state = facts.feature(params.name)
        if state == "Enabled" or state == "Absent":
            continue
        result.append(
            Change(
                id=f"feature/{params.name}",
                type=TYPE,
                params=params,
                diff=[DiffEntry(f"features.{params.name}", state, "Enabled")],
                may_reboot=True,
            )
        )
    return result
