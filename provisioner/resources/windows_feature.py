"""windows_feature: enable Containers and Hyper-V with the right cmdlet and name for the SKU.

Server: ``Install-WindowsFeature -Name Containers`` / ``Hyper-V -IncludeManagementTools``
[PS-SM]; client: ``Enable-WindowsOptionalFeature -Online -FeatureName Containers |
Microsoft-Hyper-V -All -NoRestart`` [PS-DISM; MS-HV-ENABLE]. Inside a VM, Hyper-V goes through
the DISM cmdlet even on Server, because ``Install-WindowsFeature Hyper-V`` fails its BIOS
prerequisite check in nested VMs while DISM works (windows-facts.md section 2; Virtualization-
Documentation issue #1975). Facts key features by their DISM name on every SKU, since the DISM
cmdlets also work on Server (windows-facts.md section 3). ``EnablePending`` means a reboot is
still needed, never "in state".
"""

from __future__ import annotations

from typing import Literal

from provisioner.facts import Facts
from provisioner.resources import BlockParams, Change, DiffEntry, Finding
from provisioner.spec import FeatureName, HostSpec

__all__ = ["DISM_NAMES", "FeatureParams", "TYPE", "changes", "preflight"]

TYPE = "windows_feature"

DISM_NAMES: dict[FeatureName, str] = {"Containers": "Containers", "Hyper-V": "Microsoft-Hyper-V"}
"""Optional-feature names on every SKU; ``Hyper-V`` is the Server role name of Microsoft-Hyper-V."""


class FeatureParams(BlockParams):
    name: str
    """DISM optional-feature name: the key in facts.features and the state the block ensures."""
    method: Literal["server", "dism"]
    """server: Install-WindowsFeature with ``role``; dism: Enable-WindowsOptionalFeature -All."""
    role: str | None = None
    include_management_tools: bool = False


def params_for(feature: FeatureName, facts: Facts) -> FeatureParams:
    """The cmdlet and names for one feature on this host's SKU."""
    dism = DISM_NAMES[feature]
    if facts.os.is_client or (feature == "Hyper-V" and facts.hardware.is_vm):
        return FeatureParams(name=dism, method="dism")
    return FeatureParams(name=dism, method="server", role=feature, include_management_tools=feature == "Hyper-V")


def preflight(spec: HostSpec, facts: Facts) -> list[Finding]:
    """A wanted feature that this edition does not have at all cannot be enabled."""
    return [
        Finding("error", "feature.absent",
                f"feature {DISM_NAMES[f]} is not available on {facts.os.caption} ({facts.os.edition_id})")
        for f in spec.features
        if facts.feature(DISM_NAMES[f]) == "Absent"
    ]


def changes(spec: HostSpec, facts: Facts) -> list[Change]:
    result = []
    for feature in spec.features:
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
