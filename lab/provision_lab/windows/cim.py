"""CIM classes of root/cimv2 built from the machine's data (wf §2 [W32-OS, W32-CS, W32-PROC]).

A VM is recognised only by what a script makes of Win32_ComputerSystem's Manufacturer and Model,
the SMBIOS strings of the profile; nothing here says "VM". Readings follow windows-facts.md
section 2: HypervisorPresent is True in every guest and whenever Hyper-V runs;
VirtualizationFirmwareEnabled reads False while a hypervisor of the machine's own runs
(Windows-Sandbox issue #15), and the lab hides VMMonitorModeExtensions and SLAT the same way
(UNCONFIRMED in the research).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from provision_lab.powershell.api import NetException, NetObject
from provision_lab.windows import errors
from provision_lab.windows.machine import Machine, Process
from provision_lab.windows.objects import Bag

__all__ = ["DEVICE_GUARD", "CimInstance", "cim_error", "instances", "matches"]


def cim_error(message: str, hresult: int) -> NetException:
    """Microsoft.Management.Infrastructure.CimException ("Invalid class ", "Not found "; WMI's texts
    keep their trailing space)."""
    return errors.net(
        "Microsoft.Management.Infrastructure.CimException",
        message,
        bases=("System.SystemException", "System.Exception"),
        hresult=hresult - 2**32 if hresult >= 2**31 else hresult,
    )


class CimInstance(NetObject):
    """A CIM instance: ``class_name``'s properties, and the methods Invoke-CimMethod calls."""

    def __init__(
        self,
        class_name: str,
        properties: Mapping[str, Callable[[], Any]],
        methods: Mapping[str, Callable[[Machine], Any]] | None = None,
        *,
        namespace: str = "root/cimv2",
    ) -> None:
        self.class_name = class_name
        self.namespace = namespace
        self.TYPE_NAMES = (
            "Microsoft.Management.Infrastructure.CimInstance",
            f"Microsoft.Management.Infrastructure.CimInstance#{namespace}/{class_name}",
            "System.Object",
        )
        self._properties = dict(properties)
        self._methods = {k.lower(): v for k, v in (methods or {}).items()}

    def ps_properties(self) -> Mapping[str, Any]:
        values = {name: read() for name, read in self._properties.items()}
        values.update({"PSComputerName": None, "CimClass": f"{self.namespace}:{self.class_name}"})
        return values

    def ps_to_string(self) -> str:
        return self.class_name

    def invoke(self, machine: Machine, method: str) -> Any:
        call = self._methods.get(method.lower())
        if call is None:
            # WBEM_E_METHOD_NOT_IMPLEMENTED's wording as CimException carries it.
            raise errors.terminating(
                cim_error("Method not found ", 0x80041055), "HRESULT 0x80041055", "MetadataError", method
            )
        return call(machine)


def _os(machine: Machine) -> CimInstance:
    os = machine.os
    memory_kb = int(machine.hardware.memory_gb * 2**20)
    return CimInstance(
        "Win32_OperatingSystem",
        {
            "Caption": lambda: os.caption,
            "Version": lambda: f"10.0.{os.build}",
            "BuildNumber": lambda: str(os.build),  # a string in WMI [W32-OS]
            "ProductType": lambda: os.product_type,
            "OSArchitecture": lambda: "64-bit",
            "CSName": lambda: machine.computer_name,
            "LastBootUpTime": machine.last_boot_up_time,
            "LocalDateTime": machine.now,
            "TotalVisibleMemorySize": lambda: memory_kb,
            "FreePhysicalMemory": lambda: memory_kb // 2,
            "SystemDirectory": lambda: r"C:\Windows\system32",
            "WindowsDirectory": lambda: r"C:\Windows",
            "OperatingSystemSKU": lambda: {
                "ServerDatacenter": 8,
                "ServerStandard": 7,
                "Professional": 48,
                "Core": 101,
                "Enterprise": 4,
            }.get(os.edition_id, 0),
        },
    )


def _computer_system(machine: Machine) -> CimInstance:
    hw = machine.hardware
    return CimInstance(
        "Win32_ComputerSystem",
        {
            "Name": lambda: machine.computer_name,
            "Domain": lambda: "WORKGROUP",
            "PartOfDomain": lambda: False,
            "Manufacturer": lambda: hw.manufacturer,
            "Model": lambda: hw.model,
            "SystemType": lambda: "x64-based PC",
            # TotalPhysicalMemory reads a little under the installed size, in bytes (uint64) [W32-CS].
            "TotalPhysicalMemory": lambda: int(hw.memory_gb * 2**30),
            "NumberOfLogicalProcessors": lambda: hw.logical_processors,
            "NumberOfProcessors": lambda: 1,
            "HypervisorPresent": lambda: machine.hypervisor_running or hw.guest or hw.vbs,
        },
    )


def _processor(machine: Machine) -> CimInstance:
    hw = machine.hardware
    hidden = machine.hypervisor_running or hw.vbs
    return CimInstance(
        "Win32_Processor",
        {
            "DeviceID": lambda: "CPU0",
            "Name": lambda: hw.processor,
            "Manufacturer": lambda: hw.processor_maker,
            "NumberOfCores": lambda: max(1, hw.logical_processors // 2),
            "NumberOfLogicalProcessors": lambda: hw.logical_processors,
            "VirtualizationFirmwareEnabled": lambda: hw.vt_firmware_enabled and not hidden,
            "VMMonitorModeExtensions": lambda: hw.vm_monitor_mode_extensions and not hidden,
            "SecondLevelAddressTranslationExtensions": lambda: hw.slat and not hidden,
        },
    )


def _process(machine: Machine, process: Process) -> CimInstance:
    def owner(machine: Machine) -> Any:
        machine.reap()
        if process.pid not in machine.processes:
            # The process exited since it was listed: WBEM_E_NOT_FOUND (windows-audit.md F9).
            raise errors.terminating(
                cim_error("Not found ", 0x80041002), "HRESULT 0x80041002", "ObjectNotFound", process.pid
            )
        domain, _, user = process.owner.rpartition("\\")
        return Bag(
            ("Microsoft.Management.Infrastructure.CimMethodResult", "System.Object"),
            {"Domain": lambda: domain, "User": lambda: user, "ReturnValue": lambda: 0, "PSComputerName": lambda: None},
        )

    return CimInstance(
        "Win32_Process",
        {
            "Name": lambda: process.name,
            "ProcessId": lambda: process.pid,
            "Handle": lambda: str(process.pid),
            "ExecutablePath": lambda: process.path or None,
            "CommandLine": lambda: process.command_line or None,
            "SessionId": lambda: process.session_id,
        },
        {"GetOwner": owner},
    )


def _service(machine: Machine, name: str) -> CimInstance:
    service = machine.services[name]
    return CimInstance(
        "Win32_Service",
        {
            "Name": lambda: service.name,
            "DisplayName": lambda: service.display_name,
            "State": lambda: service.status,
            "StartMode": lambda: {"Automatic": "Auto"}.get(service.start_type, service.start_type),
            "PathName": lambda: service.image_path,
            "ProcessId": lambda: service.pid or 0,
        },
    )


def _device_guard(machine: Machine) -> CimInstance:
    """root/Microsoft/Windows/DeviceGuard's Win32_DeviceGuard: VirtualizationBasedSecurityStatus 0 (off),
    1 (enabled, not running) or 2 (running) (learn.microsoft.com, "Enable virtualization-based
    protection of code integrity", "Validate enabled Windows Defender Device Guard hardware-based
    security features"); the lab models only off and running."""
    return CimInstance(
        "Win32_DeviceGuard",
        {
            "VirtualizationBasedSecurityStatus": lambda: 2 if machine.hardware.vbs else 0,
            "SecurityServicesRunning": lambda: [2] if machine.hardware.vbs else [0],
        },
        namespace="root/Microsoft/Windows/DeviceGuard",
    )


DEVICE_GUARD = "root/microsoft/windows/deviceguard"
"""The namespace of Win32_DeviceGuard (lower case, with forward slashes)."""


def instances(machine: Machine, class_name: str, namespace: str = "root/cimv2") -> list[CimInstance] | None:
    """The instances of a class, None for a class the lab does not model (then "Invalid class ")."""
    name = class_name.lower()
    if namespace == DEVICE_GUARD:
        return [_device_guard(machine)] if name == "win32_deviceguard" else None
    if name == "win32_operatingsystem":
        return [_os(machine)]
    if name == "win32_computersystem":
        return [_computer_system(machine)]
    if name == "win32_processor":
        return [_processor(machine)]
    if name == "win32_process":
        machine.reap()
        listed = sorted(machine.processes.values(), key=lambda p: p.pid)
        if machine.faults.desktop_helpers_exit:
            for parent in [p for p in listed if p.name.lower() == "docker desktop.exe"]:
                # A helper that is listed and gone before the next call reaches it (windows-audit.md F9).
                helper = machine.spawn(
                    parent.name,
                    parent.path,
                    parent.command_line + " --type=gpu-process",
                    parent.owner,
                    session_id=parent.session_id,
                )
                helper.exits_at = machine.now()
                listed.append(helper)
        return [_process(machine, p) for p in listed]
    if name == "win32_service":
        return [_service(machine, key) for key in sorted(machine.services)]
    return None


_CONDITION = re.compile(r"^\s*(\w+)\s*(=|<>|!=|LIKE)\s*('(?:[^']|'')*'|\"[^\"]*\"|-?\d+|TRUE|FALSE)\s*$", re.IGNORECASE)


def matches(instance: CimInstance, where: str) -> bool:
    """WQL's WHERE for what scripts write: ``Prop = 'x'`` / ``Prop = 5`` / LIKE with % and _, joined by AND.
    Anything else is refused as WMI refuses it ("Invalid query ")."""
    if not where.strip():
        return True
    values = {k.lower(): v for k, v in instance.ps_properties().items()}
    for part in re.split(r"\s+AND\s+", where.strip(), flags=re.IGNORECASE):
        match = _CONDITION.match(part)
        if match is None:
            raise errors.terminating(
                cim_error("Invalid query ", 0x80041017), "HRESULT 0x80041017", "InvalidArgument", where
            )
        name, op, literal = match.group(1).lower(), match.group(2).upper(), match.group(3)
        if name not in values:
            raise errors.terminating(
                cim_error("Invalid query ", 0x80041017), "HRESULT 0x80041017", "InvalidArgument", where
            )
        actual = values[name]
        if literal[0] in "'\"":
            wanted: Any = literal[1:-1].replace("''", "'")
        elif literal.upper() in ("TRUE", "FALSE"):
            wanted = literal.upper() == "TRUE"
        else:
            wanted = int(literal)
        if op == "LIKE":
            pattern = "^" + re.escape(str(wanted)).replace("%", ".*").replace("_", ".") + "$"
            ok = re.match(pattern, str(actual or ""), re.IGNORECASE) is not None
        elif isinstance(wanted, str):
            ok = str(actual or "").lower() == wanted.lower()
        else:
            ok = actual == wanted
        if (op in ("<>", "!=")) == ok:
            return False
    return True
