"""Lab host profiles as data: the Windows machines a lab fleet is made of (issue 10 item 8).

Each profile is a fresh machine: features Disabled (absent where the SKU lacks them), no engine,
no daemon.json, no pending reboot. Captions, EditionIDs, builds, UBRs and display versions are
those Windows reports (windows-facts.md sections 1 and 2 [W32-OS; HCS osversion]; Windows 11 is
build >= 22000 with a correct WMI caption). Hardware is SMBIOS-like data: Win32_ComputerSystem's
Manufacturer and Model strings say what platform a machine is, and only a script that recognises
them knows it is a VM (:data:`PLATFORMS`).

Faults are data too (provision_lab.api.Faults, given per host): a restart already pending, TEMP on
another volume, engine files held open, boot-time jitter, slow installs, Constrained Language
Mode, not_admin (the account's network token is filtered, everywhere, not only in diagnostics).

A ``<profile>-converged`` name (e.g. ``server2022-converged``) is the same machine after the lab
playbook's spec was applied (:data:`CONVERGED_DEFAULTS`), reached through the machine's own state
changes and programs (the engine zip extracted, ``dockerd --register-service`` run, daemon.json
written, the service started, the tool's marker file beside the engine), not written by hand.

:data:`WORKSTATION_PROFILES` are developer workstations for Docker Desktop: Windows 10/11 plus the
WSL features (VirtualMachinePlatform and Microsoft-Windows-Subsystem-Linux, which Home has too,
unlike Hyper-V and Containers [MS-HV-ENABLE; WSL-DOCS]) and a developer account ``dev`` who has
logged on before (so a profile exists) but is signed out.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from provision_lab.api import Faults
from provision_lab.windows import natives
from provision_lab.windows.host import DAEMON_JSON, LAB_ACCOUNT, WindowsHost
from provision_lab.windows.machine import ENVIRONMENT_KEY, Hardware, Machine, OsInfo

__all__ = [
    "CONVERGED_DEFAULTS",
    "CONVERGED_SUFFIX",
    "K8S_NODE_PROFILES",
    "PLATFORMS",
    "PROFILES",
    "WORKSTATION_PROFILES",
    "converge",
    "make_host",
    "profile_names",
]

PLATFORMS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        # Win32_ComputerSystem Manufacturer / Model per platform (the SMBIOS system strings).
        # Hyper-V and Azure guests: "Microsoft Corporation" / "Virtual Machine" (wf §2; the facts template's
        # source, wasserja/MrAToolbox Get-MachineType.ps1).
        "hyper-v": {"manufacturer": "Microsoft Corporation", "model": "Virtual Machine"},
        "azure": {"manufacturer": "Microsoft Corporation", "model": "Virtual Machine"},
        # VMware: "VMware, Inc." with "VMware Virtual Platform" (older hardware versions) or "VMware7,1"
        # (windows-audit.md section 4).
        "vmware": {"manufacturer": "VMware, Inc.", "model": "VMware7,1"},
        # VirtualBox: "innotek GmbH" / "VirtualBox" (Get-MachineType.ps1 matches Model 'VirtualBox').
        "virtualbox": {"manufacturer": "innotek GmbH", "model": "VirtualBox"},
        # KVM/QEMU: SeaBIOS/OVMF report QEMU and the machine type (windows-audit.md F5: "plain QEMU" is
        # recognised by Manufacturer 'QEMU').
        "kvm": {"manufacturer": "QEMU", "model": "Standard PC (Q35 + ICH9, 2009)"},
        # EC2 Nitro: Manufacturer "Amazon EC2" (microsoft/CSS-Exchange Get-ServerType.ps1 classifies
        # *Amazon EC2* as a VM, windows-audit.md F5); the Model is the instance type.
        "ec2-nitro": {"manufacturer": "Amazon EC2", "model": "m5.xlarge"},
        # Google Compute Engine: "Google" / "Google Compute Engine" (windows-audit.md F5 lists them as
        # common SMBIOS strings, not verified there: UNCONFIRMED).
        "gce": {"manufacturer": "Google", "model": "Google Compute Engine"},
        # Nutanix AHV: Manufacturer "Nutanix" (ProVal-Tech/proval-docs docs/cwa/roles/nutanix-vm.md detects
        # Nutanix VMs by Win32_ComputerSystem.Manufacturer); Model "AHV" is UNCONFIRMED.
        "nutanix": {"manufacturer": "Nutanix", "model": "AHV"},
        # OpenStack Nova: "OpenStack Foundation" / "OpenStack Nova" (windows-audit.md F5 lists OpenStack among
        # common SMBIOS strings, not verified there: UNCONFIRMED).
        "openstack": {"manufacturer": "OpenStack Foundation", "model": "OpenStack Nova"},
        # Parallels: "Parallels Software International Inc." / "Parallels Virtual Platform" (same source, UNCONFIRMED).
        "parallels": {"manufacturer": "Parallels Software International Inc.", "model": "Parallels Virtual Platform"},
        # A hypervisor whose strings no table lists (bhyve reports FreeBSD / BHYVE: UNCONFIRMED); only
        # HypervisorPresent without Hyper-V or VBS of the machine's own can tell it is a guest.
        "unlisted": {"manufacturer": "FreeBSD", "model": "BHYVE"},
        "physical": {"manufacturer": "Dell Inc.", "model": "PowerEdge R750"},
    }
)
"""SMBIOS strings of each platform a profile may name."""

_WS2022 = {
    "caption": "Microsoft Windows Server 2022 Datacenter",
    "build": 20348,
    "ubr": 2762,
    "display_version": "21H2",
    "edition_id": "ServerDatacenter",
    "product_type": 3,
    "installation_type": "Server",
}
_WS2025 = {
    "caption": "Microsoft Windows Server 2025 Datacenter",
    "build": 26100,
    "ubr": 2314,
    "display_version": "24H2",
    "edition_id": "ServerDatacenter",
    "product_type": 3,
    "installation_type": "Server Core",
}
_WIN11_PRO = {
    # Windows 11 23H2 is build 22631 (wf §1.1); the registry ProductName still says Windows 10 (wf §2).
    "caption": "Microsoft Windows 11 Pro",
    "build": 22631,
    "ubr": 4460,
    "display_version": "23H2",
    "edition_id": "Professional",
    "product_type": 1,
    "installation_type": "Client",
}
_PHYSICAL = {"vt_firmware_enabled": True, "vm_monitor_mode_extensions": True, "slat": True, "platform": "physical"}
_BOTH = ("Containers", "Microsoft-Hyper-V")


def _guest(platform: str, *, nested: bool, memory_gb: float = 8.0, cpus: int = 4) -> dict[str, Any]:
    """A Server 2022 guest: with nested virtualization the guest sees VT-x, firmware VT and SLAT
    (the heuristic in wf §2, UNCONFIRMED there); without it they are hidden from it [MS-NESTED]."""
    return {
        "os": _WS2022,
        "hardware": {
            "memory_gb": memory_gb,
            "logical_processors": cpus,
            "vt_firmware_enabled": nested,
            "vm_monitor_mode_extensions": nested,
            "slat": nested,
            "platform": platform,
            "guest": True,
            "nested_exposed": nested,
            # Hyper-V (and Azure, which runs it) writes the guest key through its integration services (wf §2).
            "integration_services": platform in ("hyper-v", "azure"),
        },
        "features": _BOTH,
    }


PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "server2016": {
            # Build 14393: Docker Engine 23.0 and later refuse to start here (wf §2 [MOBY checkSystem]).
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
            "os": _WS2025,
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
            "os": _WIN11_PRO,
            "hardware": {"memory_gb": 31.73, "logical_processors": 12, **_PHYSICAL},
            "features": _BOTH,
        },
        "win11-23h2-pro-amd": {
            # The same Windows 11 Pro on an AMD CPU (Win32_Processor.Manufacturer AuthenticAMD): cross-version
            # process isolation has a known failure there (windows-audit.md F15, microsoft/Windows-Containers#197).
            "os": _WIN11_PRO,
            "hardware": {
                "memory_gb": 31.73,
                "logical_processors": 16,
                **_PHYSICAL,
                "processor": "AMD Ryzen 7 7840U w/ Radeon 780M Graphics",
                "processor_maker": "AuthenticAMD",
            },
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
        "vm-nested": _guest("hyper-v", nested=True),
        "vm-no-nested": _guest("hyper-v", nested=False),
        "azure-nested": _guest("azure", nested=True),
        "vmware-nested": _guest("vmware", nested=True),
        "virtualbox-vm": _guest("virtualbox", nested=False),
        "kvm-nested": _guest("kvm", nested=True),
        "ec2-nitro": _guest("ec2-nitro", nested=False),
        "gce-nested": _guest("gce", nested=True),
        "nutanix-vm": _guest("nutanix", nested=False),
        "openstack-nested": _guest("openstack", nested=True),
        "parallels-vm": _guest("parallels", nested=False),
        "unlisted-hypervisor-nested": _guest("unlisted", nested=True),
        "server2022-vbs": {
            # Physical Server 2022 with virtualization-based security (HVCI) running: HypervisorPresent
            # reads True with no Hyper-V, and the CPU readings are hidden as under any hypervisor.
            "os": _WS2022,
            "hardware": {"memory_gb": 16.0, "logical_processors": 8, **_PHYSICAL, "vbs": True},
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
                "platform": "physical",
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
"""Profile name -> os, hardware (with its platform's SMBIOS strings) and the features the SKU offers."""

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

K8S_NODE_PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "k8s-node-2022": {**_guest("azure", nested=False), "os": {**_WS2022, "installation_type": "Server Core"}},
        "k8s-node-2025": {
            **_guest("azure", nested=False, memory_gb=16.0),
            "os": _WS2025,
        },
    }
)
"""Kubernetes Windows worker nodes: Server Core 2022 and 2025, the two releases Kubernetes supports as
nodes (cs §1.1 [K8S-WIN]; ``cs`` is research/containerd-scaleout-history.md), as cloud VMs without
nested virtualization (Kubernetes does not run Hyper-V isolated containers, cs §1.7), for engine type
containerd (playbooks/k8s-nodes.yml). They are not in the ``mixed`` fleet's draw."""

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
_INSTALL_DIR = r"C:\Program Files\docker"
ENGINE_MARKER = ".provision-engine"
"""The file the tool leaves in an engine folder it installed: a converged host has one, a folder
installed by hand (Microsoft's install-docker-ce.ps1) does not."""


def profile_names() -> list[str]:
    """Every profile name make_host accepts, converged variants included. A converged variant of a
    machine where the apply would fail (the engine does not run on win10-home or server2016)
    raises ValueError unless the ``features`` and ``engine_version`` given to make_host make it possible."""
    return [*PROFILES, *(name + CONVERGED_SUFFIX for name in PROFILES), *WORKSTATION_PROFILES, *K8S_NODE_PROFILES]


def _machine(profile: str, name: str, index: int, faults: Faults) -> Machine:
    data = PROFILES.get(profile) or WORKSTATION_PROFILES.get(profile) or K8S_NODE_PROFILES[profile]
    hardware = dict(data["hardware"])
    platform = PLATFORMS[hardware.pop("platform")]
    # Hosts of one fleet booted at different times; the boot id is LastBootUpTime (DESIGN 4.2).
    boot = _FIRST_BOOT - timedelta(minutes=7 * index, seconds=index % 60)
    machine = Machine(
        name,
        OsInfo(**data["os"]),
        Hardware(**hardware, manufacturer=platform["manufacturer"], model=platform["model"]),
        data["features"],
        boot,
        faults=faults,
    )
    machine.add_account(LAB_ACCOUNT, admin=True, profile=True)
    for developer, logged_on in dict(data.get("developers", {})).items():
        machine.add_account(developer, profile=logged_on)
    if faults.engine_files_locked:
        # Another session's `docker logs -f` keeps docker.exe open, once there is one (F1 (b)).
        machine.boot_hooks.append(_hold_docker_exe)
    return machine


def _hold_docker_exe(machine: Machine) -> None:
    path = _INSTALL_DIR + r"\docker.exe"
    if machine.fs.is_file(path):
        machine.spawn(
            "docker.exe", path, f'"{path}" logs -f web', f"{machine.computer_name}\\Administrator", session_id=2
        )


def converge(host: WindowsHost, *, features: Sequence[str], engine_version: str, daemon: Mapping[str, Any]) -> None:
    """Bring ``host`` to the lab playbook's state the way the product's scripts would: features
    enabled and a restart, the engine zip extracted to Program Files, the machine Path extended,
    ``dockerd --register-service``, daemon.json written, the service started. Raises ValueError
    when the machine refuses (an engine that cannot start there)."""
    machine = host.machine
    for name in features:
        machine.enable_feature(name)
    machine.boot(machine.boot_time)
    archive = zipfile.ZipFile(io.BytesIO(natives.engine_archive(engine_version)))
    for entry in archive.infolist():
        target = _INSTALL_DIR + "\\" + entry.filename.removeprefix("docker/").replace("/", "\\")
        machine.fs.make_dirs(_INSTALL_DIR)
        machine.fs.write(target, archive.read(entry))
    # The tool's own file in a folder it installed (its engine block replaces only such a folder).
    machine.fs.write(_INSTALL_DIR + "\\" + ENGINE_MARKER, b"provision\r\n")
    environment = machine.registry.key(ENVIRONMENT_KEY)
    assert environment is not None
    current = environment.get("Path")
    # Appended unexpanded, the value kept REG_EXPAND_SZ (windows-audit.md F10), as the tool writes it.
    environment.set("Path", "ExpandString", str(current.data if current else "").rstrip(";") + ";" + _INSTALL_DIR)
    session = host.session()
    dockerd = machine.program_at(_INSTALL_DIR + r"\dockerd.exe")
    assert dockerd is not None
    result = dockerd.run([dockerd.path, "--register-service"], None, session)
    if result.exit_code != 0:
        raise ValueError(f"{host.name} cannot be converged: dockerd --register-service: {result.stderr.strip()}")
    machine.fs.make_dirs(r"C:\ProgramData\docker\config")
    machine.fs.write(
        DAEMON_JSON, (json.dumps(dict(daemon), sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()
    )
    service = machine.service("docker")
    assert service is not None
    service.start_type = "Automatic"
    machine.set_start_type(service, "Automatic")
    try:
        machine.start_service(service)
    except Exception as failure:  # ServiceStartError: the machine says why in its event log
        reason = machine.event_log[-1] if machine.event_log else str(failure)
        raise ValueError(f"{host.name} cannot be converged: {reason}") from None
    if machine.faults.engine_files_locked:
        _hold_docker_exe(machine)


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
) -> WindowsHost:
    """A lab host of ``profile`` (see :func:`profile_names`).

    For a ``-converged`` profile, ``engine_version``, ``daemon`` and ``features`` (DISM names)
    override :data:`CONVERGED_DEFAULTS`; for a fresh profile they must be left out.
    ``index`` spreads the hosts' boot times over a fleet.
    """
    base, converged = profile, profile.endswith(CONVERGED_SUFFIX)
    if converged:
        base = profile[: -len(CONVERGED_SUFFIX)]
    if base not in PROFILES and (converged or (base not in WORKSTATION_PROFILES and base not in K8S_NODE_PROFILES)):
        raise KeyError(f"unknown lab profile {profile!r}; known: {', '.join(profile_names())}")
    if not converged and (engine_version, daemon, features) != (None, None, None):
        raise ValueError(f"{profile} is a fresh profile; use {profile}{CONVERGED_SUFFIX} for an engine and daemon.json")
    host = WindowsHost(
        name,
        address,
        _machine(base, name, index, faults if faults is not None else Faults()),
        reboot_seconds=reboot_seconds,
    )
    if converged:
        wanted = CONVERGED_DEFAULTS["features"] if features is None else features
        converge(
            host,
            features=[f for f in wanted if f in PROFILES[base]["features"]],
            engine_version=engine_version or CONVERGED_DEFAULTS["engine_version"],
            daemon=CONVERGED_DEFAULTS["daemon"] if daemon is None else daemon,
        )
    return host
