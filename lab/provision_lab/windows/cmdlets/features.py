"""The servicing stack's cmdlets: DISM's Get-/Enable-/Disable-WindowsOptionalFeature and, on
Server only, Server Manager's Get-/Install-WindowsFeature (wf §3 [PS-DISM; PS-SM]).

Result objects as their reference pages show them: Enable-WindowsOptionalFeature returns an
ImageObject whose RestartNeeded is a bool; Install-WindowsFeature a FeatureOperationResult with
Success, RestartNeeded (Yes, No or Maybe) and ExitCode. Client SKUs have no ServerManager module
(wf §3: Microsoft's install script's Test-Client relies on it), so the Server Manager cmdlets are
not offered there at all ("not recognized").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provision_lab.powershell.api import CommandContext, CommandSpec, ErrorRecord, NetException
from provision_lab.windows import errors
from provision_lab.windows.cmdlets.common import P, as_list, switch
from provision_lab.windows.machine import HYPER_V, HYPER_V_PREREQUISITE, RESTART_PENDING_TEXT, Machine
from provision_lab.windows.objects import Bag, enum
from provision_lab.windows.session import session_of

__all__ = ["CLIENT_COMMANDS", "SERVER_COMMANDS"]

_FEATURE_STATE = {
    "Disabled": 0,
    "Enabled": 1,
    "EnablePending": 2,
    "DisablePending": 3,
    "DisabledWithPayloadRemoved": 4,
    "EnabledWithPayloadRemoved": 5,
    "PartiallyInstalled": 6,
    "Removed": 7,
}
"""Microsoft.Dism.Commands.FeatureState names (PS-DISM); the numbers are the lab's (UNCONFIRMED),
which only ConvertTo-Json of an uncast State would show."""
_RESTART_STATE = {"No": 0, "Yes": 1, "Maybe": 2}
_EXIT_CODE = {
    "Success": 0,
    "NoChangeNeeded": 1003,
    "SuccessRestartRequired": 3010,
    "FailedRestartRequired": 1001,
    "Failed": 1,
    "InvalidArgs": 87,
}
"""Microsoft.Windows.ServerManager.Commands.FeatureOperationExitCode names (ansible-modules-core
#5078 quotes FailedRestartRequired); numbers UNCONFIRMED."""
_DISPLAY = {
    "Containers": "Containers",
    HYPER_V: "Hyper-V",
    "VirtualMachinePlatform": "Virtual Machine Platform",
    "Microsoft-Windows-Subsystem-Linux": "Windows Subsystem for Linux",
}
_CLIENT_PARENTS = {HYPER_V: "Microsoft-Hyper-V-All"}
"""On client SKUs Microsoft-Hyper-V sits under Microsoft-Hyper-V-All: enabling it needs -All
(MS-HV-ENABLE gives the documented command with -All)."""
_COM_BASES = ("System.Runtime.InteropServices.ExternalException", "System.SystemException", "System.Exception")


def _unknown(name: str) -> NetException:
    """DISM's answer for a feature the image lacks (Home has no Hyper-V or Containers): "Feature name
    X is unknown.", a COMException (Virtualization-Documentation issues #1609, #1528), 0x800F080C."""
    return errors.net(
        "System.Runtime.InteropServices.COMException",
        f"Feature name {name} is unknown.",
        bases=_COM_BASES,
        hresult=-2146498548,
    )


def _elevation(context: CommandContext) -> None:
    if not session_of(context).elevated:
        raise errors.terminating(
            errors.requires_elevation(), "Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand", "NotSpecified"
        )


def _feature_object(machine: Machine, name: str) -> Bag:
    state = machine.features[name]
    return Bag(
        (
            "Microsoft.Dism.Commands.AdvancedFeatureObject",
            "Microsoft.Dism.Commands.BasicFeatureObject",
            "Microsoft.Dism.Commands.ImageObject",
            "System.Object",
        ),
        {
            "FeatureName": lambda: name,
            "DisplayName": lambda: _DISPLAY.get(name, name),
            "Description": lambda: _DISPLAY.get(name, name),
            "RestartRequired": lambda: enum(
                "Microsoft.Dism.Commands.RestartType", "Possible", {"No": 0, "Possible": 1, "Required": 2}
            ),
            "State": lambda: enum("Microsoft.Dism.Commands.FeatureState", state, _FEATURE_STATE),
            "Online": lambda: True,
            "Path": lambda: None,
            "RestartNeeded": lambda: False,
        },
        text="Microsoft.Dism.Commands.AdvancedFeatureObject",
    )


def _image_object(restart: bool) -> Bag:
    return Bag(
        ("Microsoft.Dism.Commands.ImageObject", "System.Object"),
        {
            "Path": lambda: None,
            "Online": lambda: True,
            "RestartNeeded": lambda: restart,
            "LogPath": lambda: r"C:\Windows\Logs\DISM\dism.log",
        },
        text="Microsoft.Dism.Commands.ImageObject",
    )


def _online(context: CommandContext, params: Mapping[str, Any]) -> None:
    if not switch(params, "Online"):
        # Without -Online (or -Path) the cmdlet is in no parameter set the lab models.
        raise errors.terminating(
            errors.net(
                "System.Management.Automation.ParameterBindingException",
                "Parameter set cannot be resolved using the specified named parameters.",
                bases=errors.ARGUMENT_BASES,
            ),
            "AmbiguousParameterSet",
            "InvalidArgument",
        )


def _get_optional(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    _online(context, params)
    _elevation(context)
    machine = session_of(context).machine
    names = [str(n) for n in as_list(params.get("FeatureName"))]
    if not names:
        return [_feature_object(machine, n) for n in machine.features]
    found = []
    for name in names:
        canonical = next((f for f in machine.features if f.lower() == name.lower()), None)
        if canonical is None:
            raise errors.terminating(
                _unknown(name), "Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand", "NotSpecified", name
            )
        found.append(_feature_object(machine, canonical))
    return found


def _enable_optional(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    """Stages each feature for the next boot. Microsoft-Hyper-V is enabled even where no hypervisor
    can start (a VM without exposed extensions, firmware VT off): DISM does not run Server Manager's
    prerequisite check, and the hypervisor then fails to launch at boot (windows-audit.md F6:
    Virtualization-Documentation#1975, cloud-hypervisor/rust-hypervisor-firmware#438; an
    inference there, followed here so that the lab is not kinder than Windows)."""
    _online(context, params)
    _elevation(context)
    machine = session_of(context).machine
    restart = False
    for name in [str(n) for n in as_list(params.get("FeatureName"))]:
        canonical = next((f for f in machine.features if f.lower() == name.lower()), None)
        if canonical is None:
            raise errors.terminating(
                _unknown(name), "Microsoft.Dism.Commands.EnableWindowsOptionalFeatureCommand", "NotSpecified", name
            )
        if machine.os.product_type == 1 and canonical in _CLIENT_PARENTS and not switch(params, "All"):
            # DISM's 0x800f080c family: "One or several parent features are disabled so current feature
            # can not be enabled." (the text DISM prints; seen in DISM logs quoted by users).
            raise errors.terminating(
                errors.net(
                    "System.Runtime.InteropServices.COMException",
                    "One or several parent features are disabled so current feature can not be enabled.",
                    bases=_COM_BASES,
                    hresult=-2146498555,
                ),
                "Microsoft.Dism.Commands.EnableWindowsOptionalFeatureCommand",
                "NotSpecified",
                name,
            )
        if machine.features[canonical] not in ("Enabled", "EnablePending"):
            machine.enable_feature(canonical)
            restart = True
        elif machine.features[canonical] == "EnablePending":
            restart = True
    machine.advance(30 * machine.faults.slow_installs)
    return [_image_object(restart)]


def _disable_optional(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    _online(context, params)
    _elevation(context)
    machine = session_of(context).machine
    restart = False
    for name in [str(n) for n in as_list(params.get("FeatureName"))]:
        canonical = next((f for f in machine.features if f.lower() == name.lower()), None)
        if canonical is None:
            raise errors.terminating(
                _unknown(name), "Microsoft.Dism.Commands.DisableWindowsOptionalFeatureCommand", "NotSpecified", name
            )
        if machine.features[canonical] in ("Enabled", "EnablePending"):
            machine.disable_feature(canonical)
            restart = True
    return [_image_object(restart)]


# ------------------------------------------------------------------------------------------------
# Server Manager


def _server_feature(machine: Machine, name: str) -> Bag:
    dism = machine.server_feature(name)
    state = machine.features.get(dism or "", "Disabled")
    install_state = {"Enabled": "Installed", "EnablePending": "InstallPending"}.get(state, "Available")
    return Bag(
        ("Microsoft.Windows.ServerManager.Commands.Feature", "System.Object"),
        {
            "Name": lambda: name,
            "DisplayName": lambda: _DISPLAY.get(dism or name, name),
            "Installed": lambda: state == "Enabled",
            "InstallState": lambda: enum(
                "Microsoft.Windows.ServerManager.Commands.InstallState",
                install_state,
                {"Available": 0, "Installed": 1, "InstallPending": 2, "Removed": 3},
            ),
            "FeatureType": lambda: "Feature" if name.lower() == "containers" else "Role",
        },
        text=name,
    )


def _invalid_name(name: str) -> ErrorRecord:
    """Install-WindowsFeature for a name it does not know (text from memory, not in the research:
    UNCONFIRMED)."""
    return errors.record(
        errors.net(
            "System.Exception",
            f"ArgumentNotValid: The role, role service, or feature name is not valid: "
            f"'{name}'. The name was not found.",
            bases=("System.Exception",),
        ),
        "NameDoesNotExist",
        "InvalidArgument",
        name,
    )


def _operation_result(success: bool, restart: str, exit_code: str) -> Bag:
    return Bag(
        ("Microsoft.Windows.ServerManager.Commands.FeatureOperationResult", "System.Object"),
        {
            "Success": lambda: success,
            "RestartNeeded": lambda: enum(
                "Microsoft.Windows.ServerManager.Commands.RestartState", restart, _RESTART_STATE
            ),
            "FeatureResult": lambda: [],
            "ExitCode": lambda: enum(
                "Microsoft.Windows.ServerManager.Commands.FeatureOperationExitCode", exit_code, _EXIT_CODE
            ),
        },
        text="Microsoft.Windows.ServerManager.Commands.FeatureOperationResult",
    )


def _get_windows_feature(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    machine = session_of(context).machine
    names = [str(n) for n in as_list(params.get("Name"))] or ["Containers", "Hyper-V"]
    return [_server_feature(machine, n) for n in names if machine.server_feature(n) is not None]


def _install_windows_feature(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    """Server Manager: refuses names it does not know, a restart another installation left pending
    (FailedRestartRequired, windows-audit.md F2), and Hyper-V where its prerequisite check fails (in
    every VM, nested or not, and without firmware VT: wf §2, Virtualization-Documentation #1975,
    azure-stack-docs #1892)."""
    session = session_of(context)
    machine = session.machine
    if not session.elevated:
        raise errors.terminating(
            errors.requires_elevation(),
            "Microsoft.Windows.ServerManager.Commands.InstallWindowsFeatureCommand",
            "PermissionDenied",
        )
    names = [str(n) for n in as_list(params.get("Name"))]
    dism_names = []
    for name in names:
        dism = machine.server_feature(name)
        if dism is None:
            context.write_error(_invalid_name(name))
            return [_operation_result(False, "No", "InvalidArgs")]
        dism_names.append(dism)
    wanted = [n for n in dism_names if machine.features[n] != "Enabled"]
    if not wanted:
        return [_operation_result(True, "No", "NoChangeNeeded")]
    if machine.restart_pending_externally():
        for name in wanted:
            # One error per feature, then the result (chocolatey-community/boxstarter#224 shows them:
            # FeatureMessageDetail, OperationStopped, a System.Exception).
            text = RESTART_PENDING_TEXT.format(feature=_DISPLAY.get(name, name))
            context.write_error(
                errors.record(
                    errors.net("System.Exception", text, bases=("System.Exception",)),
                    "FeatureMessageDetail",
                    "OperationStopped",
                    name,
                )
            )
        return [_operation_result(False, "Yes", "FailedRestartRequired")]
    if HYPER_V in wanted and (machine.hardware.guest or not machine.hardware.can_run_hypervisor):
        context.write_error(
            errors.record(
                errors.net("System.Exception", HYPER_V_PREREQUISITE, bases=("System.Exception",)),
                "Alteration_PrerequisiteCheck_Failed",
                "InvalidOperation",
                names,
            )
        )
        return [_operation_result(False, "Maybe", "Failed")]
    for name in wanted:
        machine.enable_feature(name)
    machine.advance(60 * machine.faults.slow_installs)
    return [_operation_result(True, "Yes", "SuccessRestartRequired")]


_DISM = "Dism"
_ONLINE = (
    P("Online", "switch", mandatory=True),
    P("FeatureName", "string[]", by_name=True),
    P("LogPath", "string"),
    P("LogLevel", "string"),
)

CLIENT_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "Get-WindowsOptionalFeature",
        _get_optional,
        _ONLINE,
        "Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand",
        _DISM,
    ),
    CommandSpec(
        "Enable-WindowsOptionalFeature",
        _enable_optional,
        (
            *_ONLINE,
            P("All", "switch"),
            P("NoRestart", "switch"),
        ),
        "Microsoft.Dism.Commands.EnableWindowsOptionalFeatureCommand",
        _DISM,
    ),
    CommandSpec(
        "Disable-WindowsOptionalFeature",
        _disable_optional,
        (*_ONLINE, P("NoRestart", "switch")),
        "Microsoft.Dism.Commands.DisableWindowsOptionalFeatureCommand",
        _DISM,
    ),
)
"""Every SKU has the DISM module."""

SERVER_COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "Get-WindowsFeature",
        _get_windows_feature,
        (
            P("Name", "string[]", position=0, pipeline=True, by_name=True),
            P("LogPath", "string"),
        ),
        "Microsoft.Windows.ServerManager.Commands.GetWindowsFeatureCommand",
        "ServerManager",
    ),
    CommandSpec(
        "Install-WindowsFeature",
        _install_windows_feature,
        (
            P("Name", "string[]", position=0, mandatory=True, pipeline=True, by_name=True),
            P("IncludeManagementTools", "switch"),
            P("LogPath", "string"),
        ),
        "Microsoft.Windows.ServerManager.Commands.AddWindowsFeatureCommand",
        "ServerManager",
        ("Add-WindowsFeature",),
    ),
)
"""Only Server SKUs have the ServerManager module."""
