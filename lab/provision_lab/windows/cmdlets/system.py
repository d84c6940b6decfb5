"""CIM, local accounts, events, downloads and restarts: Get-CimInstance, Invoke-CimMethod, Get-LocalUser,
Get-LocalGroup, Get-LocalGroupMember, Add-LocalGroupMember, Get-WinEvent, Invoke-WebRequest, Restart-Computer.

CIM classes are built from the machine's data (cim.py); the accounts cmdlets are
Microsoft.PowerShell.LocalAccounts 1.0.0.0's (Windows 10 1607 / Server 2016 and later) with their
exception types (MemberExistsException, PrincipalNotFoundException, GroupNotFoundException).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from provision_lab.powershell.api import (
    CommandContext,
    CommandSpec,
    ErrorRecord,
    NetException,
    NetObject,
    TerminatingError,
)
from provision_lab.windows import cim, errors
from provision_lab.windows.cmdlets.common import P, as_list, switch
from provision_lab.windows.machine import LOCAL_TZ, Account, Group, Machine
from provision_lab.windows.objects import Bag, Credential, enum
from provision_lab.windows.session import session_of

__all__ = ["COMMANDS", "TLS12"]

TLS12 = 3072
"""SecurityProtocolType.Tls12."""
_LOCAL = "Microsoft.PowerShell.LocalAccounts"
_LA_BASES = ("Microsoft.PowerShell.Commands.LocalAccountsException", "System.Exception")


# ------------------------------------------------------------------------------------------------
# CIM


def _get_cim_instance(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    machine = session_of(context).machine
    namespace = str(params.get("Namespace") or "root/cimv2").replace("\\", "/").lower()
    name = str(params.get("ClassName") or "")
    if "Query" in params:
        match = re.match(r"(?is)^\s*select\s+\*\s+from\s+(\w+)(?:\s+where\s+(.*))?$", str(params["Query"]))
        if match is None:
            raise errors.terminating(
                cim.cim_error("Invalid query ", 0x80041017), "HRESULT 0x80041017", "InvalidArgument"
            )
        name, where = match.group(1), match.group(2) or ""
    else:
        where = str(params.get("Filter") or "")
    if namespace not in ("root/cimv2", cim.DEVICE_GUARD):
        raise errors.terminating(
            cim.cim_error("Invalid namespace ", 0x8004100E), "HRESULT 0x8004100e", "MetadataError", namespace
        )
    instances = cim.instances(machine, name, namespace)
    if instances is None:
        raise errors.terminating(
            cim.cim_error("Invalid class ", 0x80041010), "HRESULT 0x80041010", "MetadataError", name
        )
    return [item for item in instances if cim.matches(item, where)]


def _invoke_cim_method(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    machine = session_of(context).machine
    target = params.get("InputObject")
    method = str(params["MethodName"])
    if not isinstance(target, cim.CimInstance):
        raise errors.terminating(
            errors.net(
                "System.Management.Automation.PSArgumentException",
                "the lab's Invoke-CimMethod models only -InputObject with a CIM instance",
                bases=errors.ARGUMENT_BASES,
            ),
            "NotModelled",
            "NotImplemented",
        )
    return [target.invoke(machine, method)]


# ------------------------------------------------------------------------------------------------
# Local accounts


def _la_error(type_name: str, message: str, error_id: str, category: str, target: Any) -> ErrorRecord:
    return errors.record(
        errors.net(f"Microsoft.PowerShell.Commands.{type_name}", message, bases=_LA_BASES), error_id, category, target
    )


def _group_object(group: Group) -> Bag:
    return Bag(
        ("Microsoft.PowerShell.Commands.LocalGroup", "Microsoft.PowerShell.Commands.LocalPrincipal", "System.Object"),
        {
            "Name": lambda: group.name,
            "Description": lambda: group.description,
            "SID": lambda: _sid(group.sid),
            "PrincipalSource": lambda: enum(
                "Microsoft.PowerShell.Commands.PrincipalSource",
                "Local",
                {"Unknown": 0, "Local": 1, "ActiveDirectory": 2},
            ),
            "ObjectClass": lambda: "Group",
        },
        text=group.name,
    )


def _sid(value: str) -> Bag:
    return Bag(
        (
            "System.Security.Principal.SecurityIdentifier",
            "System.Security.Principal.IdentityReference",
            "System.Object",
        ),
        {"Value": lambda: value, "BinaryLength": lambda: 28},
        text=value,
    )


def _user_object(machine: Machine, account: Account) -> Bag:
    return Bag(
        ("Microsoft.PowerShell.Commands.LocalUser", "Microsoft.PowerShell.Commands.LocalPrincipal", "System.Object"),
        {
            "Name": lambda: account.name,
            "Enabled": lambda: True,
            "SID": lambda: _sid(account.sid),
            "PrincipalSource": lambda: enum(
                "Microsoft.PowerShell.Commands.PrincipalSource",
                "Local",
                {"Unknown": 0, "Local": 1, "ActiveDirectory": 2},
            ),
            "ObjectClass": lambda: "User",
            "Description": lambda: "",
        },
        text=account.name,
    )


def _find_group(context: CommandContext, machine: Machine, name: str) -> Group | None:
    group = machine.group(name)
    if group is None:
        context.write_error(
            _la_error("GroupNotFoundException", f"Group {name} was not found.", "GroupNotFound", "ObjectNotFound", name)
        )
    return group


def _get_local_group(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    machine = session_of(context).machine
    if "Name" not in params:
        return [_group_object(g) for g in sorted(machine.groups.values(), key=lambda g: g.name.lower())]
    found = []
    for name in as_list(params["Name"]):
        group = _find_group(context, machine, str(name))
        if group is not None:
            found.append(_group_object(group))
    return found


def _get_local_user(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    machine = session_of(context).machine
    if "Name" not in params:
        return [_user_object(machine, a) for a in sorted(machine.accounts.values(), key=lambda a: a.name.lower())]
    found = []
    for name in as_list(params["Name"]):
        account = machine.account(str(name))
        if account is None:
            context.write_error(
                _la_error(
                    "UserNotFoundException", f"User {name} was not found.", "UserNotFound", "ObjectNotFound", name
                )
            )
        else:
            found.append(_user_object(machine, account))
    return found


def _member_object(machine: Machine, sid: str) -> Bag:
    account = machine.account_by_sid(sid)
    group = next((g for g in machine.groups.values() if g.sid == sid), None)
    name = f"{machine.computer_name}\\{account.name}" if account else (group.name if group else sid)
    return Bag(
        ("Microsoft.PowerShell.Commands.LocalPrincipal", "System.Object"),
        {
            "Name": lambda: name,
            "SID": lambda: _sid(sid),
            "PrincipalSource": lambda: enum(
                "Microsoft.PowerShell.Commands.PrincipalSource",
                "Local",
                {"Unknown": 0, "Local": 1, "ActiveDirectory": 2},
            ),
            "ObjectClass": lambda: "User" if account else "Group",
        },
        text=name,
    )


def _group_name(params: Mapping[str, Any]) -> str:
    value = params.get("Group", params.get("Name", params.get("SID")))
    if isinstance(value, NetObject):
        return str(value.ps_properties().get("Name"))
    return str(value)


def _get_local_group_member(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    machine = session_of(context).machine
    group = _find_group(context, machine, _group_name(params))
    if group is None:
        return []
    return [_member_object(machine, sid) for sid in group.members]


def _add_local_group_member(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    machine = session.machine
    group = _find_group(context, machine, _group_name(params))
    if group is None:
        return []
    if not session.elevated:
        raise errors.terminating(
            errors.net("Microsoft.PowerShell.Commands.AccessDeniedException", "Access denied.", bases=_LA_BASES),
            "AccessDenied",
            "PermissionDenied",
            group.name,
        )
    for member in as_list(params.get("Member")):
        name = str(member.ps_properties().get("Name")) if isinstance(member, NetObject) else str(member)
        account = machine.account(name)
        if account is None:
            context.write_error(
                _la_error(
                    "PrincipalNotFoundException",
                    f"Principal {name} was not found.",
                    "PrincipalNotFound",
                    "ObjectNotFound",
                    name,
                )
            )
            continue
        if account.sid in group.members:
            context.write_error(
                _la_error(
                    "MemberExistsException",
                    f"{machine.computer_name}\\{account.name} is already a member of group {group.name}.",
                    "MemberExists",
                    "ResourceExists",
                    name,
                )
            )
            continue
        group.members.append(account.sid)
    return []


# ------------------------------------------------------------------------------------------------
# Events

_EVENT_KEYS = ("logname", "providername", "id", "starttime")
"""The -FilterHashtable keys the lab models (Get-WinEvent's reference lists more: Level, Keywords, ...)."""


def _event_object(event: Mapping[str, Any]) -> Bag:
    created = datetime.fromisoformat(str(event["time"])).astimezone(LOCAL_TZ)
    return Bag(
        (
            "System.Diagnostics.Eventing.Reader.EventLogRecord",
            "System.Diagnostics.Eventing.Reader.EventRecord",
            "System.Object",
        ),
        {
            "Id": lambda: int(event["id"]),
            "ProviderName": lambda: str(event["provider"]),
            "LogName": lambda: "System",
            "LevelDisplayName": lambda: str(event["level"]),
            "TimeCreated": lambda: created,
            "Message": lambda: str(event["message"]),
        },
        text="System.Diagnostics.Eventing.Reader.EventLogRecord",
    )


def _get_win_event(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    """``Get-WinEvent -FilterHashtable @{LogName; ProviderName; Id; StartTime} [-MaxEvents n]`` over the
    machine's System log, newest first. Nothing matching is the non-terminating error "No events were
    found that match the specified selection criteria." (NoMatchingEventsFound, the Get-WinEvent
    reference's own example of it); a key or log the lab does not model is refused rather than ignored."""
    machine = session_of(context).machine
    found: list[Mapping[str, Any]] = []
    for table in as_list(params.get("FilterHashtable")):
        wanted = {str(k).lower(): v for k, v in dict(table).items()}
        unknown = sorted(set(wanted) - set(_EVENT_KEYS))
        log = context.to_string(wanted.get("logname", ""))
        if unknown or log.lower() != "system":
            raise errors.terminating(
                errors.net(
                    "System.Management.Automation.PSArgumentException",
                    f"the lab's Get-WinEvent models the System log with {', '.join(_EVENT_KEYS)} only",
                    bases=errors.ARGUMENT_BASES,
                ),
                "NotModelled",
                "NotImplemented",
            )
        start = wanted.get("starttime")
        since = None if start is None else context.convert(start, "datetime")
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=LOCAL_TZ)
        for event in machine.system_events:
            if (
                "providername" in wanted
                and context.to_string(wanted["providername"]).lower() != str(event["provider"]).lower()
            ):
                continue
            if "id" in wanted and int(context.convert(wanted["id"], "int")) != int(event["id"]):
                continue
            if since is not None and datetime.fromisoformat(str(event["time"])) < since:
                continue
            found.append(event)
    found.sort(key=lambda e: str(e["time"]), reverse=True)
    if "MaxEvents" in params:
        found = found[: int(context.convert(params["MaxEvents"], "long"))]
    if not found:
        context.write_error(
            errors.record(
                errors.net(
                    "System.Exception",
                    "No events were found that match the specified selection criteria.",
                    bases=("System.Exception",),
                ),
                "NoMatchingEventsFound",
                "ObjectNotFound",
            )
        )
    return [_event_object(e) for e in found]


# ------------------------------------------------------------------------------------------------
# Downloads


def _web_error(
    message: str, target: Any, *, status: int | None = None, failure: str = "NameResolutionFailure"
) -> ErrorRecord:
    """Invoke-WebRequest's failures in Windows PowerShell 5.1: a System.Net.WebException with its
    text ("The remote server returned an error: (404) Not Found.", "The remote name could not be
    resolved: 'x'", "The underlying connection was closed: ...", "Unable to connect to the remote
    server"), WebCmdletWebResponseException; its Status is ProtocolError for an HTTP answer, else
    ``failure`` (WebExceptionStatus)."""
    extra = {"Status": "ProtocolError" if status else failure}
    return errors.record(
        errors.net(
            "System.Net.WebException",
            message,
            bases=("System.InvalidOperationException", "System.SystemException", "System.Exception"),
            extra=extra,
        ),
        "WebCmdletWebResponseException",
        "InvalidOperation",
        target,
    )


def _through_proxy(context: CommandContext, machine: Machine, params: Mapping[str, Any], uri: str) -> None:
    """The network's way out (Faults.download_proxy, windows-audit.md F13). Only that proxy is known to
    the host's DNS (another name "could not be resolved", as on a host whose DNS does not know it: the
    lab's reading); with one, a direct request cannot connect, and the proxy answers 407 unless
    -ProxyCredential holds the credentials it wants (-ProxyUseDefaultCredentials is not modelled)."""
    proxy, network = params.get("Proxy"), machine.faults.download_proxy
    if proxy is None:
        if network is not None:
            raise TerminatingError(_web_error("Unable to connect to the remote server", uri, failure="ConnectFailure"))
        return
    named = urlsplit(context.to_string(proxy))
    if network is None or (named.hostname, named.port) != (urlsplit(network).hostname, urlsplit(network).port):
        name = named.hostname or context.to_string(proxy)
        raise TerminatingError(_web_error(f"The remote name could not be resolved: '{name}'", uri))
    wanted = machine.faults.download_proxy_credentials
    if wanted is None:
        return
    given = params.get("ProxyCredential")
    if not isinstance(given, Credential) or f"{given.user}:{given.password}" != wanted:
        raise TerminatingError(
            _web_error("The remote server returned an error: (407) Proxy Authentication Required.", uri, status=407)
        )


def _invoke_web_request(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    """From the lab's catalog. https needs TLS 1.2 enabled in ServicePointManager.SecurityProtocol:
    Windows PowerShell 5.1 offers only Ssl3 and Tls 1.0 by default, which download.docker.com and
    github.com refuse (wf §4.2; the templates' own comment), and .NET then says "The underlying
    connection was closed: An unexpected error occurred on a send."."""
    session = session_of(context)
    machine = session.machine
    uri = context.to_string(params["Uri"])
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise errors.terminating(
            errors.net("System.NotSupportedException", "The URI prefix is not recognized."),
            "System.NotSupportedException",
            "NotSpecified",
            uri,
        )
    if not switch(params, "UseBasicParsing") and machine.os.installation_type == "Server Core":
        # Server Core has no Internet Explorer engine for the DOM parse.
        raise errors.terminating(
            errors.net(
                "System.NotSupportedException",
                "The response content cannot be parsed because the Internet Explorer engine is not available, "
                "or Internet Explorer's first-launch configuration is not complete. Specify the "
                "UseBasicParsing parameter and try again.",
            ),
            "WebCmdletIEDomNotSupportedException",
            "NotImplemented",
            uri,
        )
    hosts = {urlsplit(u).hostname for u in machine.catalog.files}
    _through_proxy(context, machine, params, uri)
    if parts.hostname not in hosts:
        raise TerminatingError(_web_error(f"The remote name could not be resolved: '{parts.hostname}'", uri))
    if parts.scheme == "https" and not session.security_protocol & TLS12:
        raise TerminatingError(
            _web_error("The underlying connection was closed: An unexpected error occurred on a send.", uri)
        )
    data = None if machine.faults.download_failure else machine.catalog.get(uri)
    if data is None:
        raise TerminatingError(_web_error("The remote server returned an error: (404) Not Found.", uri, status=404))
    machine.advance(len(data) / 2**20 * machine.catalog.seconds_per_mb * machine.faults.slow_installs)
    out = params.get("OutFile")
    if out is not None:
        target = session.full_path(str(out))
        try:
            machine.fs.write(target, data)
        except NetException as error:
            raise errors.terminating(error, error.type_name, "WriteError", target) from None
        if not switch(params, "PassThru"):
            return []
    text = data.decode("utf-8", errors="replace")
    return [
        Bag(
            (
                "Microsoft.PowerShell.Commands.BasicHtmlWebResponseObject",
                "Microsoft.PowerShell.Commands.WebResponseObject",
                "System.Object",
            ),
            {
                "StatusCode": lambda: 200,
                "StatusDescription": lambda: "OK",
                "Content": lambda: text,
                "RawContentLength": lambda: len(data),
                "Headers": lambda: {"Content-Length": str(len(data))},
            },
            text=text,
        )
    ]


# ------------------------------------------------------------------------------------------------
# Restart-Computer


def _restart_computer(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    """The machine goes down a moment after this returns (the session's output still gets out).
    Without -Force a logged-on user blocks it (the ConsoleHost text of Restart-Computer)."""
    session = session_of(context)
    machine = session.machine
    name = machine.computer_name
    if not session.elevated:
        raise errors.terminating(
            errors.net(
                "System.InvalidOperationException",
                f"Failed to restart the computer {name} with the following error message: Privilege not held.",
            ),
            "RestartcomputerFailed",
            "OperationStopped",
            name,
        )
    if not switch(params, "Force") and any(p.name.lower() == "explorer.exe" for p in machine.processes.values()):
        raise errors.terminating(
            errors.net(
                "System.InvalidOperationException",
                f"Failed to restart the computer {name} with the following error message: The system shutdown "
                "cannot be initiated because there are other users logged on to the computer.",
            ),
            "RestartcomputerFailed",
            "OperationStopped",
            name,
        )
    machine.request_restart()
    return []


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "Get-CimInstance",
        _get_cim_instance,
        (
            P("ClassName", "string", position=0, mandatory=True, sets=("ClassNameComputerSet",)),
            P("Filter", "string"),
            P("Namespace", "string"),
            P("Query", "string", mandatory=True, sets=("QuerySessionSet",)),
        ),
        "Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand",
        "CimCmdlets",
        ("gcim",),
        default_set="ClassNameComputerSet",
    ),
    CommandSpec(
        "Invoke-CimMethod",
        _invoke_cim_method,
        (
            P("InputObject", "object", mandatory=True, pipeline=True, aliases=("CimInstance",)),
            P("MethodName", "string", position=1, mandatory=True, aliases=("Name",)),
        ),
        "Microsoft.Management.Infrastructure.CimCmdlets.InvokeCimMethodCommand",
        "CimCmdlets",
        ("icim",),
    ),
    CommandSpec(
        "Get-LocalGroup",
        _get_local_group,
        (P("Name", "string[]", position=0, pipeline=True, by_name=True),),
        "Microsoft.PowerShell.Commands.GetLocalGroupCommand",
        _LOCAL,
        ("glg",),
    ),
    CommandSpec(
        "Get-LocalUser",
        _get_local_user,
        (P("Name", "string[]", position=0, pipeline=True, by_name=True),),
        "Microsoft.PowerShell.Commands.GetLocalUserCommand",
        _LOCAL,
        ("glu",),
    ),
    CommandSpec(
        "Get-LocalGroupMember",
        _get_local_group_member,
        (
            P("Group", "object", position=0, mandatory=True, pipeline=True, sets=("Group",)),
            P("Name", "string", position=0, mandatory=True, sets=("Default",)),
            P("Member", "string", position=1),
        ),
        "Microsoft.PowerShell.Commands.GetLocalGroupMemberCommand",
        _LOCAL,
        ("glgm",),
        default_set="Default",
    ),
    CommandSpec(
        "Add-LocalGroupMember",
        _add_local_group_member,
        (
            P("Group", "object", position=0, mandatory=True, pipeline=True, sets=("Group",)),
            P("Name", "string", position=0, mandatory=True, sets=("Default",)),
            P("Member", "object[]", position=1, mandatory=True, pipeline=True),
        ),
        "Microsoft.PowerShell.Commands.AddLocalGroupMemberCommand",
        _LOCAL,
        ("algm",),
        default_set="Default",
    ),
    CommandSpec(
        "Get-WinEvent",
        _get_win_event,
        (
            P("FilterHashtable", "hashtable[]", position=0, mandatory=True),
            P("MaxEvents", "long"),
        ),
        "Microsoft.PowerShell.Commands.GetWinEventCommand",
        "Microsoft.PowerShell.Diagnostics",
    ),
    CommandSpec(
        "Invoke-WebRequest",
        _invoke_web_request,
        (
            P("Uri", "string", position=0, mandatory=True),
            P("OutFile", "string"),
            P("UseBasicParsing", "switch"),
            P("TimeoutSec", "int"),
            P("Proxy", "string"),
            P("ProxyCredential", "object"),
            P("PassThru", "switch"),
        ),
        "Microsoft.PowerShell.Commands.InvokeWebRequestCommand",
        "Microsoft.PowerShell.Utility",
        ("iwr", "curl", "wget"),
    ),
    CommandSpec(
        "Restart-Computer",
        _restart_computer,
        (P("Force", "switch", aliases=("f",)),),
        "Microsoft.PowerShell.Commands.RestartComputerCommand",
        "Microsoft.PowerShell.Management",
    ),
)
