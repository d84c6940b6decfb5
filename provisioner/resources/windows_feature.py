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

An engine type adds the features it needs (EngineType.features: Docker Desktop's backend, enabled
with the reboot cycle of DESIGN 4.4 before its installer runs: docker_desktop.desktop_features).
VirtualMachinePlatform and Microsoft-Windows-Subsystem-Linux always go through DISM [WSL-DOCS
install-manual.md].
"""

from __future__ import annotations

from typing import Literal

from provisioner.facts import Facts
from provisioner.resources.base import BlockParams, Change, DiffEntry, Finding, RecordData, Resource
from provisioner.resources.engines import engine_type
from provisioner.spec import FeatureName, HostSpec

__all__ = [
    "DISM_NAMES",
    "RESOURCE",
    "SERVICING_REASONS",
    "TYPE",
    "FeatureData",
    "FeatureParams",
    "changes",
    "preflight",
    "restart_first",
    "wanted",
]

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


def wanted(spec: HostSpec) -> list[FeatureName]:
    """spec.features, then what the engine needs that it does not list, in that order."""
    result = list(spec.features)
    engine = engine_type(spec)
    if engine is not None:
        result += [f for f in engine.features(spec) if f not in result]
    return result


class FeatureParams(BlockParams):
    name: str
    """DISM optional-feature name: the key in facts.features and the state the block ensures."""
    method: Literal["server", "dism"]
    """server: Install-WindowsFeature with ``role``; dism: Enable-WindowsOptionalFeature -All."""
    role: str | None = None


class FeatureData(RecordData):
    before: str
    """The feature's state before the block (Get-WindowsOptionalFeature)."""
    after: str


def params_for(feature: FeatureName, facts: Facts) -> FeatureParams:
    """The cmdlet and names for one feature on this host's SKU."""
    dism = DISM_NAMES[feature]
    if facts.os.is_client or feature not in ROLES:
        return FeatureParams(name=dism, method="dism")
    return FeatureParams(name=dism, method="server", role=feature)


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """A wanted feature that this edition does not have at all cannot be enabled. (A workstation engine on a
    server is refused as such by its machine rules, e.g. Docker Desktop's desktop.server; its features are
    not listed again.)"""
    engine = engine_type(spec)
    if engine is not None and engine.workstation and not facts.os.is_client:
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


SERVICING_REASONS = ("ComponentBasedServicing", "WindowsUpdate")
"""Pending-restart reasons that make Server Manager refuse another install (FailedRestartRequired)."""


def restart_first(facts: Facts, planned: list[Change]) -> str | None:
    """Why the host must restart before its feature changes, or None (windows-audit.md F2).

    Install-WindowsFeature refuses while another servicing change waits for a restart: "The computer must be
    restarted to complete another installation" with exit code FailedRestartRequired [chocolatey-community/
    boxstarter#224; ansible/ansible-modules-core#5078]. The evidence is for other roles; that Containers and
    Hyper-V meet it too is the audit's inference from the same cmdlet, and DISM is assumed to behave alike.
    A restart the host owes for provision's own staged features (EnablePending) is the normal reboot cycle,
    not a reason to restart first; PendingFileRename and a rename do not block installs, so they do not count.
    """
    if not planned or any(state in ("EnablePending", "DisablePending") for state in facts.features.values()):
        return None
    reasons = [r for r in facts.reboot.reasons if r in SERVICING_REASONS]
    return ", ".join(reasons) or None


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
            )
        )
    return result


RESOURCE = Resource(
    name=TYPE,
    params=FeatureParams,
    data=FeatureData,
    changes=changes,
    preflight=preflight,
    may_reboot=True,  # EnablePending, RestartNeeded, FailedRestartRequired
)
