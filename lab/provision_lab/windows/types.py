""".NET types whose members act on the machine: System.IO.File/Path/Directory, Environment,
Net.ServicePointManager, the security principals, and System.Diagnostics.Process/ProcessStartInfo.

Members and exceptions as the .NET Framework 4.x reference (learn.microsoft.com/dotnet/api)
documents them; a method the lab does not list does not exist ("Method invocation failed ...").
None of these types is allowed in ConstrainedLanguage (about_Language_Modes lists the allowed ones).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from provision_lab.powershell.api import Host, NetEnum, NetException, TypeSpec
from provision_lab.powershell.cmdline import split_command_line
from provision_lab.windows import errors, paths
from provision_lab.windows.cmdlets.items import decode_text, file_item, registry_key_item
from provision_lab.windows.machine import ENVIRONMENT_KEY
from provision_lab.windows.objects import Bag, Credential, SecureString
from provision_lab.windows.session import Session, session_of

__all__ = ["SECURITY_PROTOCOL", "TYPES"]

SECURITY_PROTOCOL = {"SystemDefault": 0, "Ssl3": 48, "Tls": 192, "Tls11": 768, "Tls12": 3072, "Tls13": 12288}
"""System.Net.SecurityProtocolType (flags)."""
_TARGETS = {"Process": 0, "User": 1, "Machine": 2}
_ROLES = {
    "Administrator": 544,
    "User": 545,
    "Guest": 546,
    "PowerUser": 547,
    "AccountOperator": 548,
    "SystemOperator": 549,
    "PrintOperator": 550,
    "BackupOperator": 551,
    "Replicator": 552,
}


def _session(host: Host) -> Session:
    return session_of(host)


def _argument_null(name: str) -> NetException:
    return errors.net(
        "System.ArgumentNullException", f"Value cannot be null.\r\nParameter name: {name}", bases=errors.ARGUMENT_BASES
    )


def _path(host: Host, args: Sequence[Any], index: int = 0) -> str:
    """A path argument resolved as .NET resolves it (against the process's directory)."""
    if len(args) <= index or args[index] is None:
        raise _argument_null("path")
    text = str(args[index])
    if not text:
        raise errors.net("System.ArgumentException", "The path is not of a legal form.", bases=errors.ARGUMENT_BASES)
    return _session(host).full_path(text)


def _encode(text: str, encoding: Any) -> bytes:
    """Encoding.GetPreamble() + GetBytes(text); no encoding means UTF-8 without a BOM (File.WriteAllText)."""
    if encoding is None:
        return text.encode("utf-8")
    preamble = encoding.ps_call("GetPreamble", []) if hasattr(encoding, "ps_call") else b""
    body = encoding.ps_call("GetBytes", [text]) if hasattr(encoding, "ps_call") else text.encode("utf-8")
    return bytes(preamble or b"") + bytes(body)


# -- System.IO.File ------------------------------------------------------------------------------


def _read_all_text(host: Host, args: Sequence[Any]) -> str:
    data = _session(host).machine.fs.read(_path(host, args))
    if len(args) > 1 and args[1] is not None and hasattr(args[1], "ps_call"):
        return str(args[1].ps_call("GetString", [data]))
    return decode_text(data)


def _write_all_text(host: Host, args: Sequence[Any]) -> None:
    path = _path(host, args)
    text = "" if len(args) < 2 or args[1] is None else str(args[1])
    _write(host, path, _encode(text, args[2] if len(args) > 2 else None))


def _write(host: Host, path: str, data: bytes) -> None:
    session = _session(host)
    lowered = path.lower()
    if not session.elevated and (lowered.startswith(r"c:\program files") or lowered.startswith(r"c:\windows")):
        raise errors.access_denied(path)
    session.machine.fs.write(path, data)


def _write_all_bytes(host: Host, args: Sequence[Any]) -> None:
    if len(args) < 2 or args[1] is None:
        raise _argument_null("bytes")
    _write(host, _path(host, args), bytes(args[1]))


def _read_all_bytes(host: Host, args: Sequence[Any]) -> bytes:
    return _session(host).machine.fs.read(_path(host, args))


def _exists(host: Host, args: Sequence[Any]) -> bool:
    if not args or not args[0]:
        return False
    return _session(host).machine.fs.is_file(_path(host, args))


def _delete(host: Host, args: Sequence[Any]) -> None:
    """File.Delete: a missing file is no error (learn.microsoft.com File.Delete); a missing folder is."""
    path = _path(host, args)
    fs = _session(host).machine.fs
    if fs.node(path) is None:
        above = paths.parent(path)
        if above is not None and not fs.is_dir(above):
            raise errors.directory_not_found(path)
        return
    if fs.is_dir(path):
        raise errors.access_denied(path)
    fs.delete(path)


def _move(host: Host, args: Sequence[Any]) -> None:
    source, target = _path(host, args, 0), _path(host, args, 1)
    fs = _session(host).machine.fs
    if not fs.is_file(source):
        raise errors.file_not_found(source)
    fs.move(source, target)


def _copy(host: Host, args: Sequence[Any]) -> None:
    source, target = _path(host, args, 0), _path(host, args, 1)
    _session(host).machine.fs.copy_file(source, target, overwrite=len(args) > 2 and bool(args[2]))


def _replace_error(code: int, message: str) -> NetException:
    """ReplaceFile's failure as .NET raises it: an IOException with the Win32 error's text."""
    return errors.net(
        "System.IO.IOException",
        message,
        bases=("System.SystemException", "System.Exception"),
        hresult=-2147024896 | code,
    )


def _replace(host: Host, args: Sequence[Any]) -> None:
    """File.Replace(source, destination, backup), one ReplaceFile call (learn.microsoft.com File.Replace and
    ReplaceFileW): "Replaces the contents of a specified file with the contents of another file, deleting the
    original file, and creating a backup of the replaced file". Both files must exist and be on one volume
    (ERROR_NOT_SAME_DEVICE). A destination that cannot be removed (held open) fails before anything changes
    (ERROR_UNABLE_TO_REMOVE_REPLACED); a replacement that cannot be renamed fails with the destination
    keeping its name (ERROR_UNABLE_TO_MOVE_REPLACEMENT). An existing backup is overwritten."""
    source, target = _path(host, args, 0), _path(host, args, 1)
    fs = _session(host).machine.fs
    if not fs.is_file(source):
        raise errors.file_not_found(source)
    if not fs.is_file(target):
        raise errors.file_not_found(target)
    backup = _path(host, args, 2) if len(args) > 2 and args[2] else None
    if source[0].lower() != target[0].lower():
        raise _replace_error(17, "The system cannot move the file to a different disk drive.")
    if fs.holder(target) is not None:
        raise _replace_error(1175, "Unable to remove the file to be replaced.")
    if fs.holder(source) is not None:
        raise _replace_error(
            1176,
            "Unable to move the replacement file to the file to be replaced. The file to be replaced has retained "
            "its original name.",
        )
    if backup is not None:
        if fs.node(backup) is not None:
            fs.delete(backup)
        fs.move(target, backup)
    else:
        fs.delete(target)
    fs.move(source, target)


# -- System.IO.Path / Directory --------------------------------------------------------------------


def _combine(host: Host, args: Sequence[Any]) -> str:
    result = ""
    for part in args:
        if part is None:
            raise _argument_null("path2")
        text = str(part)
        if paths.is_absolute(text) or text.startswith("\\"):
            result = text
        elif text:
            result = text if not result else (result if result.endswith(("\\", "/", ":")) else result + "\\") + text
    return result


def _file_name(host: Host, args: Sequence[Any]) -> str | None:
    if not args or args[0] is None:
        return None
    return str(args[0]).replace("/", "\\").rpartition("\\")[2]


def _directory_name(host: Host, args: Sequence[Any]) -> str | None:
    if not args or args[0] is None:
        return None
    text = str(args[0]).replace("/", "\\")
    if len(text) <= 3 and text.endswith((":\\", ":")):
        return None
    head = text.rpartition("\\")[0]
    return head + "\\" if head.endswith(":") else head


def _extension(host: Host, args: Sequence[Any]) -> str:
    name = _file_name(host, args) or ""
    return "." + name.rpartition(".")[2] if "." in name else ""


def _temp_path(host: Host, args: Sequence[Any]) -> str:
    return _session(host).env("TEMP").rstrip("\\") + "\\"


def _directory_exists(host: Host, args: Sequence[Any]) -> bool:
    return bool(args and args[0]) and _session(host).machine.fs.is_dir(_path(host, args))


def _create_directory(host: Host, args: Sequence[Any]) -> Any:
    session = _session(host)
    node = session.machine.fs.make_dirs(_path(host, args))
    return file_item(session, node)


def _directory_delete(host: Host, args: Sequence[Any]) -> None:
    path = _path(host, args)
    fs = _session(host).machine.fs
    if not fs.is_dir(path):
        raise errors.directory_not_found(path)
    if len(args) > 1 and args[1]:
        for node in list(fs.walk(path)):
            fs.delete(node.path)
    fs.delete(path)


def _get_files(host: Host, args: Sequence[Any]) -> list[str]:
    path = _path(host, args)
    fs = _session(host).machine.fs
    if not fs.is_dir(path):
        raise errors.directory_not_found(path)
    return [n.path for n in fs.children(path) if not n.is_dir]


# -- System.Environment ----------------------------------------------------------------------------


def _target(value: Any) -> str:
    name = value.name if isinstance(value, NetEnum) else str(value)
    for target in _TARGETS:
        if target.lower() == name.lower():
            return target
    if name.isdigit() and int(name) in _TARGETS.values():
        return next(k for k, v in _TARGETS.items() if v == int(name))
    raise errors.net(
        "System.ArgumentOutOfRangeException",
        "Specified argument was out of the range of valid values.\r\nParameter name: target",
        bases=errors.ARGUMENT_BASES,
    )


def _get_environment_variable(host: Host, args: Sequence[Any]) -> str | None:
    """Machine and User read the registry through RegistryKey.GetValue, which expands an
    ExpandString (so the machine Path comes back expanded while the registry keeps it as written)."""
    if not args or args[0] is None:
        raise _argument_null("variable")
    session = _session(host)
    name = str(args[0])
    target = _target(args[1]) if len(args) > 1 else "Process"
    if target == "Process":
        return session.env(name) if any(k.lower() == name.lower() for k in session.environment()) else None
    key_path = ENVIRONMENT_KEY if target == "Machine" else rf"HKEY_USERS\{session.account.sid}\Environment"
    value = session.machine.registry.value(key_path, name)
    if value is None:
        return None
    if value.kind == "ExpandString":
        return session.machine.expand(str(value.data), session.environment())
    return str(value.data)


def _set_environment_variable(host: Host, args: Sequence[Any]) -> None:
    """Machine needs an administrator ("Requested registry access is not allowed."). .NET Framework
    writes the value with RegistryKey.SetValue(name, string), i.e. as REG_SZ, so a machine Path that
    was REG_EXPAND_SZ becomes REG_SZ (windows-audit.md F10). An empty or null value deletes it."""
    if len(args) < 2 or args[0] is None:
        raise _argument_null("variable")
    session = _session(host)
    name, value = str(args[0]), None if args[1] is None else str(args[1])
    target = _target(args[2]) if len(args) > 2 else "Process"
    if target == "Process":
        for key in [k for k in session.environment() if k.lower() == name.lower()]:
            del session.environment()[key]
        if value:
            session.environment()[name] = value
        return
    if target == "Machine" and not session.elevated:
        raise errors.net("System.Security.SecurityException", "Requested registry access is not allowed.")
    key_path = ENVIRONMENT_KEY if target == "Machine" else rf"HKEY_USERS\{session.account.sid}\Environment"
    environment = session.machine.registry.create(key_path)
    if not value:
        environment.delete(name)
    else:
        environment.set(name, "String", value)


def _expand_variables(host: Host, args: Sequence[Any]) -> str:
    if not args or args[0] is None:
        raise _argument_null("name")
    session = _session(host)
    return session.machine.expand(str(args[0]), session.environment())


# -- Microsoft.Win32.Registry ----------------------------------------------------------------------


def _registry_hive(host: Host, hive: str) -> Bag:
    """``[Microsoft.Win32.Registry]::LocalMachine``: a RegistryKey whose CreateSubKey and OpenSubKey reach the
    machine's registry (learn.microsoft.com Microsoft.Win32.RegistryKey.CreateSubKey / OpenSubKey)."""
    session = _session(host)
    registry = session.machine.registry

    def create_sub_key(args: Sequence[Any]) -> Bag:
        """CreateSubKey(name[, RegistryKeyPermissionCheck][, RegistryOptions]): "Creates a new subkey or opens
        an existing subkey for write access"; RegistryOptions.Volatile: "The information is stored in memory
        and is not preserved when the corresponding registry hive is unloaded" (gone after a restart, as
        RegCreateKeyEx's REG_OPTION_VOLATILE). An existing key keeps what it was. Writing under HKLM needs an
        administrator: UnauthorizedAccessException "Access to the registry key '...' is denied."."""
        if not args or args[0] is None:
            raise _argument_null("subkey")
        path = hive + "\\" + str(args[0]).strip("\\")
        if hive == "HKEY_LOCAL_MACHINE" and not session.elevated:
            raise errors.net(
                "System.UnauthorizedAccessException",
                f"Access to the registry key '{path}' is denied.",
                hresult=-2147024891,
            )
        volatile = any(isinstance(a, NetEnum) and a.type_name.endswith("RegistryOptions") and a.value & 1 for a in args)
        return registry_key_item(session, registry.create(path, volatile=volatile), path)

    def open_sub_key(args: Sequence[Any]) -> Bag | None:
        """OpenSubKey(name[, writable]): the key, or null when it does not exist."""
        if not args or args[0] is None:
            raise _argument_null("name")
        path = hive + "\\" + str(args[0]).strip("\\")
        found = registry.key(path)
        return None if found is None else registry_key_item(session, found, path)

    key = registry.key(hive)
    assert key is not None
    return registry_key_item(session, key, hive, {"CreateSubKey": create_sub_key, "OpenSubKey": open_sub_key})


# -- ServicePointManager -------------------------------------------------------------------------------


def _protocol_enum(value: int) -> NetEnum:
    names = [n for n, v in SECURITY_PROTOCOL.items() if v and value & v]
    return NetEnum("System.Net.SecurityProtocolType", ", ".join(names) or "SystemDefault", value, True)


def _set_protocol(host: Host, value: Any) -> None:
    if isinstance(value, NetEnum):
        number = value.value
    elif isinstance(value, int):
        number = value
    else:
        number = 0
        for name in str(value).split(","):
            found = next((v for k, v in SECURITY_PROTOCOL.items() if k.lower() == name.strip().lower()), None)
            if found is None:
                raise errors.net(
                    "System.Management.Automation.PSInvalidCastException",
                    f'Cannot convert value "{value}" to type "System.Net.SecurityProtocolType".',
                )
            number |= found
    _session(host).security_protocol = number


# -- principals ---------------------------------------------------------------------------------


def _sid_object(host: Host, sid: str) -> Bag:
    session = _session(host)

    def translate(args: Sequence[Any]) -> Any:
        account = session.machine.account_by_sid(sid)
        group = next((g for g in session.machine.groups.values() if g.sid == sid), None)
        if account is None and group is None:
            raise _not_mapped()
        name = f"{session.machine.computer_name}\\{account.name}" if account else f"BUILTIN\\{group.name}"  # type: ignore[union-attr]
        return _account_object(host, name)

    return Bag(
        (
            "System.Security.Principal.SecurityIdentifier",
            "System.Security.Principal.IdentityReference",
            "System.Object",
        ),
        {"Value": lambda: sid, "BinaryLength": lambda: 28},
        methods={"Translate": translate},
        text=sid,
    )


def _not_mapped() -> NetException:
    """IdentityReference.Translate for a name no account has (IdentityNotMappedException)."""
    return errors.net(
        "System.Security.Principal.IdentityNotMappedException",
        "Some or all identity references could not be translated.",
    )


def _account_object(host: Host, name: str) -> Bag:
    session = _session(host)

    def translate(args: Sequence[Any]) -> Any:
        wanted = str(getattr(args[0], "full_name", args[0])) if args else ""
        account = session.machine.account(name)
        group = session.machine.group(name) if account is None else None
        if account is None and group is None:
            raise _not_mapped()
        sid = account.sid if account is not None else group.sid  # type: ignore[union-attr]
        if "NTAccount" in wanted:
            return _account_object(host, name)
        return _sid_object(host, sid)

    return Bag(
        ("System.Security.Principal.NTAccount", "System.Security.Principal.IdentityReference", "System.Object"),
        {"Value": lambda: name},
        methods={"Translate": translate},
        text=name,
    )


def _new_account(host: Host, args: Sequence[Any]) -> Bag:
    if not args:
        raise _argument_null("name")
    name = str(args[0]) if len(args) == 1 else f"{args[0]}\\{args[1]}"
    if not name:
        raise errors.net("System.ArgumentException", "Value cannot be null or empty.", bases=errors.ARGUMENT_BASES)
    return _account_object(host, name)


def _identity(host: Host, args: Sequence[Any]) -> Bag:
    session = _session(host)
    return Bag(
        ("System.Security.Principal.WindowsIdentity", "System.Security.Claims.ClaimsIdentity", "System.Object"),
        {
            "Name": lambda: session.user_name,
            "User": lambda: _sid_object(host, session.account.sid),
            "IsSystem": lambda: False,
            "IsAuthenticated": lambda: True,
            "AuthenticationType": lambda: "NTLM",
        },
        text="System.Security.Principal.WindowsIdentity",
    )


def _principal(host: Host, args: Sequence[Any]) -> Bag:
    """IsInRole is True for Administrators only with an elevated token (KB951016: a filtered token
    has the group as deny-only)."""
    session = _session(host)

    def is_in_role(call: Sequence[Any]) -> bool:
        role = call[0] if call else None
        rid = role.value if isinstance(role, NetEnum) else None
        name = str(role) if rid is None else ""
        group = next(
            (
                g
                for g in session.machine.groups.values()
                if (rid is not None and g.sid == f"S-1-5-32-{rid}")
                or g.name.lower() == name.lower().rpartition("\\")[2]
                or g.sid == name
            ),
            None,
        )
        if group is None or session.account.sid not in group.members:
            return False
        return session.elevated or group.sid != "S-1-5-32-544"

    return Bag(
        ("System.Security.Principal.WindowsPrincipal", "System.Security.Claims.ClaimsPrincipal", "System.Object"),
        {"Identity": lambda: _identity(host, ())},
        methods={"IsInRole": is_in_role},
        text="System.Security.Principal.WindowsPrincipal",
    )


# -- processes -----------------------------------------------------------------------------------------


def _start_info(host: Host, args: Sequence[Any]) -> Bag:
    values: dict[str, Any] = {
        "FileName": str(args[0]) if args else "",
        "Arguments": str(args[1]) if len(args) > 1 else "",
        "UseShellExecute": True,
        "WorkingDirectory": "",
        "CreateNoWindow": False,
        "RedirectStandardOutput": False,
        "RedirectStandardError": False,
        "Verb": "",
    }

    def setter(name: str) -> Callable[[Any], None]:
        def assign(value: Any) -> None:
            values[name] = value

        return assign

    info = Bag(
        ("System.Diagnostics.ProcessStartInfo", "System.Object"),
        {name: (lambda n=name: values[n]) for name in values},  # type: ignore[misc]
        setters={name: setter(name) for name in values},
        text="System.Diagnostics.ProcessStartInfo",
    )
    info.values = values  # type: ignore[attr-defined]
    return info


def _process_start(host: Host, args: Sequence[Any]) -> Bag:
    """Process.Start: the program runs to completion on the machine's clock; WaitForExit(ms) is
    False when the modelled run took longer than ms (the process still runs then, as far as the
    script can tell)."""
    session = _session(host)
    machine = session.machine
    if args and hasattr(args[0], "values"):
        values = args[0].values
        file_name, arguments = str(values["FileName"]), str(values["Arguments"])
    else:
        file_name = str(args[0]) if args else ""
        arguments = str(args[1]) if len(args) > 1 else ""
    program = session.find_program(file_name)
    if program is None:
        raise errors.net(
            "System.ComponentModel.Win32Exception",
            "The system cannot find the file specified",
            bases=("System.Runtime.InteropServices.ExternalException", "System.SystemException", "System.Exception"),
            hresult=-2147467259,
        )
    started = machine.now()
    process = machine.spawn(paths.leaf(program.path), program.path, f'"{program.path}" {arguments}', session.user_name)
    result = program.run([program.path, *split_command_line(arguments)], None, session)
    seconds = (machine.now() - started).total_seconds()
    machine.end(process.pid)
    pid = process.pid

    def wait(call: Sequence[Any]) -> bool:
        return not (call and call[0] is not None and int(call[0]) >= 0 and seconds * 1000 > int(call[0]))

    return Bag(
        ("System.Diagnostics.Process", "System.ComponentModel.Component", "System.MarshalByRefObject", "System.Object"),
        {
            "Id": lambda: pid,
            "ExitCode": lambda: result.exit_code,
            "HasExited": lambda: True,
            "ProcessName": lambda: paths.leaf(program.path).rpartition(".")[0],
        },
        methods={"WaitForExit": wait},
        text="System.Diagnostics.Process",
    )


def _network_credential(host: Host, args: Sequence[Any]) -> Bag:
    """new NetworkCredential(userName, password): UserName, Password, Domain and SecurePassword, a
    SecureString of the password (learn.microsoft.com, System.Net.NetworkCredential)."""
    user = "" if not args or args[0] is None else str(args[0])
    password = "" if len(args) < 2 or args[1] is None else str(args[1])
    return Bag(
        ("System.Net.NetworkCredential", "System.Object"),
        {
            "UserName": lambda: user,
            "Password": lambda: password,
            "Domain": lambda: "",
            "SecurePassword": lambda: SecureString(password),
        },
        text="System.Net.NetworkCredential",
    )


def _ps_credential(host: Host, args: Sequence[Any]) -> Credential:
    """new PSCredential(userName, SecureString password); a null or empty user name, or a password that is
    not a SecureString, is .NET's argument error (PSCredential's constructor checks both)."""
    if len(args) != 2 or not args[0] or not isinstance(args[1], SecureString):
        raise _argument_null("userName" if not args or not args[0] else "password")
    return Credential(str(args[0]), args[1])


def _enum(full_name: str, values: dict[str, int], *, flags: bool = False) -> TypeSpec:
    short = full_name.rpartition(".")[2]
    return TypeSpec(
        full_name,
        (short,),
        enum_values=values,
        flags=flags,
        base_names=("System.Enum", "System.ValueType", "System.Object"),
    )


TYPES: tuple[TypeSpec, ...] = (
    TypeSpec(
        "System.IO.File",
        static_methods={
            "ReadAllText": _read_all_text,
            "WriteAllText": _write_all_text,
            "ReadAllBytes": _read_all_bytes,
            "WriteAllBytes": _write_all_bytes,
            "Exists": _exists,
            "Delete": _delete,
            "Move": _move,
            "Copy": _copy,
            "Replace": _replace,
        },
    ),
    TypeSpec(
        "System.IO.Path",
        static_properties={"DirectorySeparatorChar": lambda host: "\\", "PathSeparator": lambda host: ";"},
        static_methods={
            "Combine": _combine,
            "GetFileName": _file_name,
            "GetDirectoryName": _directory_name,
            "GetExtension": _extension,
            "GetFileNameWithoutExtension": lambda host, args: (
                (_file_name(host, args) or "").rpartition(".")[0] or (_file_name(host, args) or "")
            ),
            "GetTempPath": _temp_path,
            "GetFullPath": lambda host, args: _path(host, args),
            "IsPathRooted": lambda host, args: (
                bool(args and args[0]) and (paths.is_absolute(str(args[0])) or str(args[0]).startswith(("\\", "/")))
            ),
        },
    ),
    TypeSpec(
        "System.IO.Directory",
        static_methods={
            "Exists": _directory_exists,
            "CreateDirectory": _create_directory,
            "Delete": _directory_delete,
            "GetFiles": _get_files,
        },
    ),
    TypeSpec(
        "System.Environment",
        static_properties={
            "MachineName": lambda host: host.computer_name,
            "UserName": lambda host: _session(host).account.name,
            "UserDomainName": lambda host: host.computer_name,
            "NewLine": lambda host: "\r\n",
            "Is64BitOperatingSystem": lambda host: True,
            "Is64BitProcess": lambda host: True,
            "ProcessorCount": lambda host: _session(host).machine.hardware.logical_processors,
            "SystemDirectory": lambda host: r"C:\Windows\system32",
            "CurrentDirectory": lambda host: host.current_directory,
        },
        static_methods={
            "GetEnvironmentVariable": _get_environment_variable,
            "SetEnvironmentVariable": _set_environment_variable,
            "ExpandEnvironmentVariables": _expand_variables,
        },
    ),
    _enum("System.EnvironmentVariableTarget", _TARGETS),
    TypeSpec(
        "Microsoft.Win32.Registry",
        static_properties={"LocalMachine": lambda host: _registry_hive(host, "HKEY_LOCAL_MACHINE")},
    ),
    _enum("Microsoft.Win32.RegistryKeyPermissionCheck", {"Default": 0, "ReadSubTree": 1, "ReadWriteSubTree": 2}),
    _enum("Microsoft.Win32.RegistryOptions", {"None": 0, "Volatile": 1}, flags=True),
    TypeSpec(
        "System.Net.ServicePointManager",
        static_properties={"SecurityProtocol": lambda host: _protocol_enum(_session(host).security_protocol)},
        set_static={"SecurityProtocol": _set_protocol},
    ),
    _enum("System.Net.SecurityProtocolType", SECURITY_PROTOCOL, flags=True),
    TypeSpec("System.Security.Principal.WindowsIdentity", static_methods={"GetCurrent": _identity}),
    TypeSpec("System.Security.Principal.WindowsPrincipal", construct=_principal),
    _enum("System.Security.Principal.WindowsBuiltInRole", _ROLES),
    TypeSpec(
        "System.Security.Principal.NTAccount",
        construct=_new_account,
        base_names=("System.Security.Principal.IdentityReference", "System.Object"),
    ),
    TypeSpec(
        "System.Security.Principal.SecurityIdentifier",
        construct=lambda host, args: _sid_object(host, str(args[0]) if args else ""),
        base_names=("System.Security.Principal.IdentityReference", "System.Object"),
    ),
    TypeSpec("System.Net.NetworkCredential", construct=_network_credential),
    TypeSpec("System.Management.Automation.PSCredential", accelerators=("pscredential",), construct=_ps_credential),
    TypeSpec("System.Diagnostics.ProcessStartInfo", construct=_start_info),
    TypeSpec("System.Diagnostics.Process", static_methods={"Start": _process_start}),
    _enum(
        "Microsoft.Win32.RegistryValueKind",
        {
            "Unknown": 0,
            "String": 1,
            "ExpandString": 2,
            "Binary": 3,
            "DWord": 4,
            "MultiString": 7,
            "QWord": 11,
            "None": -1,
        },
    ),
)
"""The machine's types (the interpreter adds the System.-less forms and the accelerators)."""
