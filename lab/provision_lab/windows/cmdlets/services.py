"""The service control manager's and process cmdlets: Get-/Start-/Stop-/Restart-/Set-Service,
Get-Process, Wait-Process.

Parameters as the 5.1 reference declares them; texts are Microsoft.PowerShell.Commands'
ServiceCommandException messages ("Cannot find any service with service name 'x'." is
NoServiceFoundForGivenName; "Failed to start service 'Docker Engine (docker)'." is StartServiceFailed,
MicrosoftDocs/Virtualization-Documentation issue #1633; "Service 'X (x)' cannot be started due to
the following error: Cannot start service x on computer '.'." is CouldNotStartService).

A ServiceController is a snapshot, as in .NET: its Status and StartType are read when it is made
and change only on Refresh() (learn.microsoft.com ServiceController.Refresh: "Refreshes property
values by resetting the properties to their current values").
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Any

from provision_lab.powershell.api import CommandContext, CommandSpec, ErrorRecord, NetEnum
from provision_lab.windows import errors
from provision_lab.windows.cmdlets.common import P, as_list, switch
from provision_lab.windows.machine import Machine, Process, Service, ServiceStartError
from provision_lab.windows.objects import Bag, enum
from provision_lab.windows.session import Session, session_of

__all__ = ["COMMANDS", "STATUS", "START_MODE", "service_controller"]

STATUS = {
    "Stopped": 1,
    "StartPending": 2,
    "StopPending": 3,
    "Running": 4,
    "ContinuePending": 5,
    "PausePending": 6,
    "Paused": 7,
}
"""ServiceControllerStatus (learn.microsoft.com)."""
START_MODE = {"Boot": 0, "System": 1, "Automatic": 2, "Manual": 3, "Disabled": 4}
"""ServiceStartMode (learn.microsoft.com)."""
_SERVICE_ERROR_BASES = ("System.SystemException", "System.Exception")
_SVC = "Microsoft.PowerShell.Commands.ServiceCommandException"


def service_controller(machine: Machine, service: Service) -> Bag:
    """System.ServiceProcess.ServiceController, a snapshot until Refresh()."""
    snapshot = {"status": service.status, "start_type": service.start_type}

    def refresh(args: Any = ()) -> None:
        snapshot["status"], snapshot["start_type"] = service.status, service.start_type

    def status() -> NetEnum:
        return enum("System.ServiceProcess.ServiceControllerStatus", snapshot["status"], STATUS)

    def start_type() -> NetEnum:
        return enum("System.ServiceProcess.ServiceStartMode", snapshot["start_type"], START_MODE)

    def wait_for_status(args: Any) -> None:
        wanted = str(getattr(args[0], "name", args[0])) if args else "Running"
        if service.status.lower() != wanted.lower():
            # The lab's services change state at once: a status that is not reached now never is.
            raise errors.net(
                "System.ServiceProcess.TimeoutException",
                "Time out has expired and the operation has not been completed.",
            )
        refresh()

    return Bag(
        (
            "System.ServiceProcess.ServiceController",
            "System.ComponentModel.Component",
            "System.MarshalByRefObject",
            "System.Object",
        ),
        {
            "Name": lambda: service.name,
            "DisplayName": lambda: service.display_name,
            "ServiceName": lambda: service.name,
            "Status": status,
            "StartType": start_type,
            "CanStop": lambda: snapshot["status"] == "Running" and service.can_stop,
            "ServiceType": lambda: enum(
                "System.ServiceProcess.ServiceType", "Win32OwnProcess", {"Win32OwnProcess": 16, "Win32ShareProcess": 32}
            ),
            "MachineName": lambda: ".",
            "DependentServices": lambda: [service_controller(machine, s) for s in machine.dependents(service)],
            "ServicesDependedOn": lambda: [
                service_controller(machine, found) for name in service.depends_on if (found := machine.service(name))
            ],
        },
        methods={"Refresh": refresh, "WaitForStatus": wait_for_status},
        text=lambda: service.name,
    )


def _not_found(name: str) -> ErrorRecord:
    return errors.record(
        errors.net(_SVC, f"Cannot find any service with service name '{name}'.", bases=_SERVICE_ERROR_BASES),
        "NoServiceFoundForGivenName",
        "ObjectNotFound",
        name,
    )


def _services(context: CommandContext, params: Mapping[str, Any]) -> list[Service]:
    """The services -Name (wildcards) or -InputObject or -DisplayName designate; errors for the missing."""
    machine = session_of(context).machine
    found: list[Service] = []
    for item in as_list(params.get("InputObject")):
        name = str(item.ps_properties()["Name"]) if hasattr(item, "ps_properties") else str(item)
        service = machine.service(name)
        if service is None:
            context.write_error(_not_found(name))
        else:
            found.append(service)
    for value in as_list(params.get("Name")):
        name = context.to_string(value)
        if any(c in name for c in "*?["):
            found += [s for s in machine.services.values() if fnmatch.fnmatchcase(s.name.lower(), name.lower())]
            continue
        service = machine.service(name)
        if service is None:
            context.write_error(_not_found(name))
        else:
            found.append(service)
    for value in as_list(params.get("DisplayName")):
        name = context.to_string(value)
        matches = [s for s in machine.services.values() if fnmatch.fnmatchcase(s.display_name.lower(), name.lower())]
        if not matches and not any(c in name for c in "*?["):
            context.write_error(
                errors.record(
                    errors.net(
                        _SVC, f"Cannot find any service with display name '{name}'.", bases=_SERVICE_ERROR_BASES
                    ),
                    "NoServiceFoundForGivenDisplayName",
                    "ObjectNotFound",
                    name,
                )
            )
        found += matches
    return found


def _get_service(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    machine = session_of(context).machine
    if not any(k in params for k in ("Name", "DisplayName", "InputObject")):
        return [service_controller(machine, s) for s in sorted(machine.services.values(), key=lambda s: s.name.lower())]
    return [service_controller(machine, s) for s in _services(context, params)]


def _label(service: Service) -> str:
    return f"{service.display_name} ({service.name})"


def _cannot(service: Service, verb: str, reason: str, error_id: str, category: str) -> ErrorRecord:
    """``Service 'X (x)' cannot be <verb> due to the following error: <reason>``."""
    return errors.record(
        errors.net(
            _SVC,
            f"Service '{_label(service)}' cannot be {verb} due to the following error: {reason}",
            bases=_SERVICE_ERROR_BASES,
        ),
        error_id,
        category,
        service.name,
    )


def _start(context: CommandContext, session: Session, service: Service) -> bool:
    if not session.elevated:
        context.write_error(
            _cannot(
                service,
                "started",
                f"Cannot open {service.name} service on computer '.'.",
                "CouldNotStartService",
                "OpenError",
            )
        )
        return False
    try:
        session.machine.start_service(service)
    except ServiceStartError as failure:
        if failure.reason.startswith(
            ("The service cannot be started", "The system cannot find", "The service did not")
        ):
            context.write_error(
                _cannot(
                    service,
                    "started",
                    f"Cannot start service {service.name} on computer '.'.",
                    "CouldNotStartService",
                    "OpenError",
                )
            )
        else:
            # The program ran and exited: the cmdlet waits for Running and sees Stopped.
            context.write_error(
                errors.record(
                    errors.net(_SVC, f"Failed to start service '{_label(service)}'.", bases=_SERVICE_ERROR_BASES),
                    "StartServiceFailed",
                    "OpenError",
                    service.name,
                )
            )
        return False
    return True


def _stop(context: CommandContext, session: Session, service: Service, *, force: bool) -> list[Service]:
    """Stop ``service``; returns what was stopped (its running dependents first, under -Force), empty when
    nothing could be. Without -Force a service with running dependents is refused (StopServiceCommand)."""
    running = [d for d in session.machine.dependents(service) if d.status == "Running"]
    if running and not force:
        context.write_error(
            errors.record(
                errors.net(
                    _SVC,
                    f"Cannot stop service '{_label(service)}' because it has dependent services. It can only be "
                    "stopped if the Force flag is set.",
                    bases=_SERVICE_ERROR_BASES,
                ),
                "ServiceHasDependentServices",
                "InvalidOperation",
                service.name,
            )
        )
        return []
    stopped = [s for dependent in running for s in _stop(context, session, dependent, force=True)]
    return [*stopped, service] if _stop_one(context, session, service) else []


def _stop_one(context: CommandContext, session: Session, service: Service) -> bool:
    if not session.elevated:
        context.write_error(
            _cannot(
                service,
                "stopped",
                f"Cannot open {service.name} service on computer '.'.",
                "CouldNotStopService",
                "CloseError",
            )
        )
        return False
    session.machine.stop_service(service)
    return True


def _start_service(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    for service in _services(context, params):
        if _start(context, session, service) and switch(params, "PassThru"):
            yield service_controller(session.machine, service)


def _stop_service(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    for service in _services(context, params):
        if _stop(context, session, service, force=switch(params, "Force")) and switch(params, "PassThru"):
            yield service_controller(session.machine, service)


def _restart_service(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    for service in _services(context, params):
        stopped = _stop(context, session, service, force=switch(params, "Force"))
        if not stopped or not _start(context, session, service):
            continue
        # RestartServiceCommand starts again the dependents it stopped, after the service itself.
        for dependent in stopped[:-1]:
            _start(context, session, dependent)
        if switch(params, "PassThru"):
            yield service_controller(session.machine, service)


def _set_service(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    for service in _services(context, params):
        if not session.elevated:
            context.write_error(
                _cannot(service, "configured", "Access is denied", "CouldNotSetService", "PermissionDenied")
            )
            continue
        if "StartupType" in params:
            wanted = str(getattr(params["StartupType"], "name", params["StartupType"]))
            mode = next((m for m in ("Automatic", "Manual", "Disabled") if m.lower() == wanted.lower()), None)
            if mode is None:
                raise errors.terminating(
                    errors.net(
                        "System.Management.Automation.ParameterBindingException",
                        f"Cannot bind parameter 'StartupType'. Cannot convert value \"{wanted}\" to type "
                        '"System.ServiceProcess.ServiceStartMode". Error: "Unable to match the identifier '
                        f"name {wanted} to a valid enumerator name. Specify one of the following enumerator "
                        'names and try again:\r\nBoot, System, Automatic, Manual, Disabled"',
                        bases=errors.ARGUMENT_BASES,
                    ),
                    "CannotConvertArgumentNoMessage",
                    "InvalidArgument",
                    wanted,
                )
            session.machine.set_start_type(service, mode)
        if "DisplayName" in params:
            service.display_name = str(params["DisplayName"])
        if "Status" in params:
            status = str(params["Status"]).lower()
            if status == "running":
                _start(context, session, service)
            elif status == "stopped":
                _stop(context, session, service, force=False)  # 5.1 Set-Service has no -Force
        if switch(params, "PassThru"):
            yield service_controller(session.machine, service)


# ------------------------------------------------------------------------------------------------
# Processes


def process_object(machine: Machine, process: Process) -> Bag:
    """System.Diagnostics.Process as Get-Process returns it."""
    name = process.name.removesuffix(".exe") if process.name.lower().endswith(".exe") else process.name
    return Bag(
        ("System.Diagnostics.Process", "System.ComponentModel.Component", "System.MarshalByRefObject", "System.Object"),
        {
            "Name": lambda: name,
            "ProcessName": lambda: name,
            "Id": lambda: process.pid,
            "Path": lambda: process.path or None,
            "SessionId": lambda: process.session_id,
            "HasExited": lambda: process.pid not in machine.processes,
        },
        text=f"System.Diagnostics.Process ({name})",
    )


def _processes(context: CommandContext, params: Mapping[str, Any]) -> list[Process]:
    machine = session_of(context).machine
    machine.reap()
    found: list[Process] = []
    for value in as_list(params.get("Name")):
        name = context.to_string(value).lower()
        matches = [
            p
            for p in machine.processes.values()
            if fnmatch.fnmatchcase(p.name.lower().removesuffix(".exe"), name.removesuffix(".exe"))
        ]
        if not matches and not any(c in name for c in "*?["):
            context.write_error(
                errors.record(
                    errors.net(
                        "Microsoft.PowerShell.Commands.ProcessCommandException",
                        f'Cannot find a process with the name "{context.to_string(value)}". Verify the '
                        "process name and call the cmdlet again.",
                        bases=_SERVICE_ERROR_BASES,
                    ),
                    "NoProcessFoundForGivenName",
                    "ObjectNotFound",
                    context.to_string(value),
                )
            )
        found += matches
    for value in as_list(params.get("Id")):
        process = machine.processes.get(int(value))
        if process is None:
            context.write_error(
                errors.record(
                    errors.net(
                        "Microsoft.PowerShell.Commands.ProcessCommandException",
                        f"Cannot find a process with the process identifier {value}.",
                        bases=_SERVICE_ERROR_BASES,
                    ),
                    "NoProcessFoundForGivenId",
                    "ObjectNotFound",
                    value,
                )
            )
        else:
            found.append(process)
    for item in as_list(params.get("InputObject")):
        pid = item.ps_properties().get("Id") if hasattr(item, "ps_properties") else None
        if pid in machine.processes:
            found.append(machine.processes[pid])
    return found


def _get_process(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    machine = session_of(context).machine
    if not any(k in params for k in ("Name", "Id", "InputObject")):
        machine.reap()
        return [process_object(machine, p) for p in sorted(machine.processes.values(), key=lambda p: p.name.lower())]
    return [process_object(machine, p) for p in _processes(context, params)]


def _wait_process(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    """Waits on the machine's clock until the processes exit, or -Timeout seconds."""
    machine = session_of(context).machine
    waiting = _processes(context, params)
    timeout = float(params["Timeout"]) if params.get("Timeout") is not None else None
    deadline = None if timeout is None else machine.now().timestamp() + timeout
    for process in waiting:
        if process.pid not in machine.processes:
            continue
        due = process.exits_at.timestamp() if process.exits_at is not None else None
        if due is not None and (deadline is None or due <= deadline):
            machine.advance(max(0.0, due - machine.now().timestamp()))
            continue
        if deadline is not None:
            machine.advance(max(0.0, deadline - machine.now().timestamp()))
            context.write_error(
                errors.record(
                    errors.net(
                        "System.TimeoutException",
                        f'This command stopped operation because process "{process.name.removesuffix(".exe")} '
                        f'({process.pid})" is not stopped in the specified time-out.',
                    ),
                    "ProcessNotTerminated",
                    "CloseError",
                    process.pid,
                )
            )
            return ()
        raise errors.terminating(
            errors.net(
                "System.InvalidOperationException",
                f"the lab's process {process.name} ({process.pid}) never exits: Wait-Process would wait forever",
            ),
            "ProcessNotTerminated",
            "OperationTimeout",
            process.pid,
        )
    return ()


_NAMES = (
    P("Name", "string[]", position=0, pipeline=True, by_name=True, aliases=("ServiceName",), sets=("Default",)),
    P("DisplayName", "string[]", mandatory=True, sets=("DisplayName",)),
    P("InputObject", "object[]", pipeline=True, sets=("InputObject",)),
)
_CONTROL = (*_NAMES, P("PassThru", "switch"))


def _spec(name: str, body: Any, params: tuple[Any, ...], type_name: str, aliases: tuple[str, ...] = ()) -> CommandSpec:
    return CommandSpec(
        name,
        body,
        params,
        f"Microsoft.PowerShell.Commands.{type_name}",
        "Microsoft.PowerShell.Management",
        aliases,
        default_set="Default",
    )


COMMANDS: tuple[CommandSpec, ...] = (
    _spec(
        "Get-Service",
        _get_service,
        (*_NAMES,),
        "GetServiceCommand",
        ("gsv",),
    ),
    _spec("Start-Service", _start_service, _CONTROL, "StartServiceCommand", ("sasv",)),
    _spec(
        "Stop-Service",
        _stop_service,
        (*_CONTROL, P("Force", "switch")),
        "StopServiceCommand",
        ("spsv",),
    ),
    _spec("Restart-Service", _restart_service, (*_CONTROL, P("Force", "switch")), "RestartServiceCommand"),
    _spec(
        "Set-Service",
        _set_service,
        (
            P(
                "Name",
                "string",
                position=0,
                mandatory=True,
                pipeline=True,
                by_name=True,
                aliases=("ServiceName", "SN"),
                sets=("Default",),
            ),
            P("InputObject", "object", pipeline=True, sets=("InputObject",)),
            P("DisplayName", "string", aliases=("DN",)),
            P("StartupType", "System.ServiceProcess.ServiceStartMode", aliases=("StartMode", "SM", "ST")),
            P("Status", "string"),
            P("PassThru", "switch"),
        ),
        "SetServiceCommand",
    ),
    CommandSpec(
        "Get-Process",
        _get_process,
        (
            P("Name", "string[]", position=0, by_name=True, aliases=("ProcessName",), sets=("Name",)),
            P("Id", "int[]", mandatory=True, by_name=True, aliases=("PID",), sets=("Id",)),
            P("InputObject", "object[]", mandatory=True, pipeline=True, sets=("InputObject",)),
        ),
        "Microsoft.PowerShell.Commands.GetProcessCommand",
        "Microsoft.PowerShell.Management",
        ("gps", "ps"),
        default_set="Name",
    ),
    CommandSpec(
        "Wait-Process",
        _wait_process,
        (
            P("Name", "string[]", position=0, mandatory=True, by_name=True, aliases=("ProcessName",), sets=("Name",)),
            P("Id", "int[]", position=0, mandatory=True, by_name=True, aliases=("PID", "ProcessId"), sets=("Id",)),
            P("InputObject", "object[]", mandatory=True, pipeline=True, sets=("InputObject",)),
            P("Timeout", "int", position=1, aliases=("TimeoutSec",)),
        ),
        "Microsoft.PowerShell.Commands.WaitProcessCommand",
        "Microsoft.PowerShell.Management",
        (),
        default_set="Name",
    ),
)
