"""Lab host profiles as data: the Windows machines a lab fleet is made of.

Each profile is a fresh machine: features Disabled (Absent where the SKU lacks them), no engine,
no daemon.json, no pending reboot. Captions, EditionIDs, builds, UBRs and display versions are
those Windows reports (windows-facts.md sections 1 and 2 [W32-OS; HCS osversion]; Windows 11 is
build >= 22000 with a correct WMI caption), and agree with tests/fixtures/facts/*.json.

A ``<profile>-converged`` name (e.g. ``server2022-converged``) is the same machine after a
successful apply of the lab playbook's spec (:data:`CONVERGED_DEFAULTS`), reached through the
model's own state changes (:meth:`LabHostModel.converge`), not written by hand.

:data:`WORKSTATION_PROFILES` are developer workstations for Docker Desktop (lab/desktop.py): the
same Windows 10/11 machines plus the WSL features (VirtualMachinePlatform and Microsoft-Windows-
Subsystem-Linux, which Home has too, unlike Hyper-V and Containers [MS-HV-ENABLE; WSL-DOCS]) and a
developer account ``dev`` who has logged on before (so a profile exists) but is signed out. They are
kept out of :data:`PROFILES`, the container-host mix that ``mixed`` fleets draw from, and have no
``-converged`` variant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from provision_lab.api import Faults
from provision_lab.model import HardwareState, HostState, LabHostModel, OsState

__all__ = ["CONVERGED_DEFAULTS", "CONVERGED_SUFFIX", "PROFILES", "WORKSTATION_PROFILES", "make_host", "profile_names"]

_WS2022 = {
    "caption": "Microsoft Windows Server 2022 Datacenter",
    "build": 20348,
    "ubr": 2762,
    "display_version": "21H2",
    "edition_id": "ServerDatacenter",
    "product_type": 3,
    "installation_type": "Server",
}
_PHYSICAL = {"vt_firmware_enabled": True, "vm_monitor_mode_extensions": True, "slat": True, "vm_platform": None}
_BOTH = ("Containers", "Microsoft-Hyper-V")

PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "server2016": {
            # Build 14393: Docker Engine 23.0 and later refuse to start here (wf §2 [MOBY checkSystem]),
            # and every engine in the lab catalog is newer, so this host never runs containers.
            "os": {
                "caption": "Microsoft Windows Server 2016 Datacenter",
                "build": 14393,
                "ubr": 7515,
                "display_version": "1607",
                "edition_id": "ServerDatacenter",
                "product_type": 3,
                "installation_type": "Server",
            },
            "hardware": {"memory_gb": 16.0, "logical_processors": 8, **_PHYSICAL},
            "features": _BOTH,
        },
        "server2019": {
            "os": {
                "caption": "Microsoft Windows Server 2019 Standard",
                "build": 17763,
                "ubr": 6414,
                "display_version": "1809",
                "edition_id": "ServerStandard",
                "product_type": 3,
                "installation_type": "Server Core",
            },
            "hardware": {"memory_gb": 16.0, "logical_processors": 8, **_PHYSICAL},
            "features": _BOTH,
        },
        "server2022": {
            "os": _WS2022,
            "hardware": {"memory_gb": 16.0, "logical_processors": 8, **_PHYSICAL},
            "features": _BOTH,
        },
        "server2025": {
            "os": {
                "caption": "Microsoft Windows Server 2025 Datacenter",
                "build": 26100,
                "ubr": 2314,
                "display_version": "24H2",
                "edition_id": "ServerDatacenter",
                "product_type": 3,
                "installation_type": "Server Core",
            },
            "hardware": {"memory_gb": 32.0, "logical_processors": 16, **_PHYSICAL},
            "features": _BOTH,
        },
        "win10-22h2-pro": {
            "os": {
                "caption": "Microsoft Windows 10 Pro",
                "build": 19045,
                "ubr": 5131,
                "display_version": "22H2",
                "edition_id": "Professional",
                "product_type": 1,
                "installation_type": "Client",
            },
            "hardware": {"memory_gb": 15.86, "logical_processors": 8, **_PHYSICAL},
            "features": _BOTH,
        },
        "win11-23h2-pro": {
            # Windows 11 23H2 is build 22631 (wf §1.1); the registry ProductName would still say Windows 10 (wf §2).
            "os": {
                "caption": "Microsoft Windows 11 Pro",
                "build": 22631,
                "ubr": 4460,
                "display_version": "23H2",
                "edition_id": "Professional",
                "product_type": 1,
                "installation_type": "Client",
            },
            "hardware": {"memory_gb": 31.73, "logical_processors": 12, **_PHYSICAL},
            "features": _BOTH,
        },
        "win10-home": {
            # Home (EditionID Core) has neither Hyper-V nor Containers [MS-HV-ENABLE; MS-REQ].
            "os": {
                "caption": "Microsoft Windows 10 Home",
                "build": 19045,
                "ubr": 5131,
                "display_version": "22H2",
                "edition_id": "Core",
                "product_type": 1,
                "installation_type": "Client",
            },
            "hardware": {"memory_gb": 7.88, "logical_processors": 4, **_PHYSICAL},
            "features": (),
        },
        "vm-nested": {
            # A Server 2022 Hyper-V guest whose parent exposes virtualization extensions [MS-NESTED]:
            # the guest sees VT-x, firmware VT and SLAT (the heuristic in wf §2, UNCONFIRMED there).
            "os": _WS2022,
            "hardware": {
                "memory_gb": 8.0,
                "logical_processors": 4,
                "vt_firmware_enabled": True,
                "vm_monitor_mode_extensions": True,
                "slat": True,
                "vm_platform": "Hyper-V",
                "nested_exposed": True,
            },
            "features": _BOTH,
        },
        "vm-no-nested": {
            # The same guest without ExposeVirtualizationExtensions: the extensions are hidden from it.
            "os": _WS2022,
            "hardware": {
                "memory_gb": 8.0,
                "logical_processors": 4,
                "vt_firmware_enabled": False,
                "vm_monitor_mode_extensions": False,
                "slat": False,
                "vm_platform": "Hyper-V",
                "nested_exposed": False,
            },
            "features": _BOTH,
        },
        "bios-vt-off": {
            # Physical Server 2022 whose CPU has VT-x and SLAT but firmware leaves VT disabled [W32-PROC].
            "os": _WS2022,
            "hardware": {
                "memory_gb": 16.0,
                "logical_processors": 8,
                "vt_firmware_enabled": False,
                "vm_monitor_mode_extensions": True,
                "slat": True,
                "vm_platform": None,
            },
            "features": _BOTH,
        },
        "low-memory": {
            # 2 GB, below the 4 GB Hyper-V and container hosts need [MS-HV-REQ]; TotalPhysicalMemory
            # reads a little under the installed size.
            "os": _WS2022,
            "hardware": {"memory_gb": 1.99, "logical_processors": 2, **_PHYSICAL},
            "features": _BOTH,
        },
    }
)
"""Profile name -> os, hardware and the optional features the SKU offers."""

_WSL = ("VirtualMachinePlatform", "Microsoft-Windows-Subsystem-Linux")
_DEVELOPERS = {"dev": True}
"""Account -> has a profile (logged on before)."""

WORKSTATION_PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "workstation-win11-23h2-pro": {
            **PROFILES["win11-23h2-pro"],
            "features": (*_BOTH, *_WSL),
            "developers": _DEVELOPERS,
        },
        "workstation-win10-22h2-pro": {
            **PROFILES["win10-22h2-pro"],
            "features": (*_BOTH, *_WSL),
            "developers": _DEVELOPERS,
        },
        "workstation-win11-23h2-home": {
            # Windows 11 Home (EditionID Core): WSL 2 yes, Hyper-V and Containers no [MS-HV-ENABLE; DD-WIN].
            "os": {
                "caption": "Microsoft Windows 11 Home",
                "build": 22631,
                "ubr": 4460,
                "display_version": "23H2",
                "edition_id": "Core",
                "product_type": 1,
                "installation_type": "Client",
            },
            "hardware": {"memory_gb": 15.79, "logical_processors": 8, **_PHYSICAL},
            "features": _WSL,
            "developers": _DEVELOPERS,
        },
    }
)
"""Developer workstations for Docker Desktop (module docstring)."""

CONVERGED_SUFFIX = "-converged"

CONVERGED_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        # What playbooks/site.yml asks of the lab (engine version of inventories/lab.yml, site "lab").
        "features": _BOTH,
        "engine_version": "27.3.1",
        "daemon": {
            "hosts": ["npipe://"],
            "log-level": "warn",
            "storage-opts": ["size=60G"],
            "labels": ["provisioned-by=provision", "site=lab"],
        },
    }
)

_FIRST_BOOT = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def profile_names() -> list[str]:
    """Every profile name make_host accepts, converged variants included. A converged variant of a
    machine where the apply would fail (the engine does not run on win10-home or server2016,
    Hyper-V cannot be enabled on vm-no-nested or bios-vt-off) raises ValueError unless the
    ``features`` and ``engine_version`` given to make_host make it possible."""
    return [*PROFILES, *(name + CONVERGED_SUFFIX for name in PROFILES), *WORKSTATION_PROFILES]


def _fresh_state(profile: str, index: int) -> HostState:
    data = PROFILES[profile] if profile in PROFILES else WORKSTATION_PROFILES[profile]
    features = {name: "Disabled" for name in data["features"]}
    # Hosts of one fleet booted at different times; the boot id is LastBootUpTime (DESIGN 4.2).
    boot = _FIRST_BOOT - timedelta(minutes=7 * index, seconds=index % 60)
    return HostState(
        os=OsState(**data["os"]), hardware=HardwareState(**data["hardware"]), features=features, boot_time=boot
    )


def make_host(
    profile: str,
    name: str,
    address: str,
    *,
    index: int = 0,
    reboot_seconds: float = 5.0,
    faults: Faults | None = None,
    engine_version: str | None = None,
    daemon: Mapping[str, Any] | None = None,
    features: Sequence[str] | None = None,
) -> LabHostModel:
    """A lab host of ``profile`` (see :func:`profile_names`).

    For a ``-converged`` profile, ``engine_version``, ``daemon`` and ``features`` (DISM names)
    override :data:`CONVERGED_DEFAULTS`; for a fresh profile they must be left out.
    ``index`` spreads the hosts' boot times over a fleet.
    """
    base, converged = profile, profile.endswith(CONVERGED_SUFFIX)
    if converged:
        base = profile[: -len(CONVERGED_SUFFIX)]
    if base not in PROFILES and (converged or base not in WORKSTATION_PROFILES):
        raise KeyError(f"unknown lab profile {profile!r}; known: {', '.join(profile_names())}")
    if not converged and (engine_version, daemon, features) != (None, None, None):
        raise ValueError(f"{profile} is a fresh profile; use {profile}{CONVERGED_SUFFIX} for an engine and daemon.json")
    host = LabHostModel(name, address, _fresh_state(base, index), faults=faults, reboot_seconds=reboot_seconds)
    if base in WORKSTATION_PROFILES:
        from provision_lab.desktop import new_workstation

        host._state.workstation = new_workstation(name, dict(WORKSTATION_PROFILES[base]["developers"]))
    if converged:
        wanted = CONVERGED_DEFAULTS["features"] if features is None else features
        host.converge(
            features=[f for f in wanted if f in PROFILES[base]["features"]],
            engine_version=engine_version or CONVERGED_DEFAULTS["engine_version"],
            daemon=CONVERGED_DEFAULTS["daemon"] if daemon is None else daemon,
        )
    return host
