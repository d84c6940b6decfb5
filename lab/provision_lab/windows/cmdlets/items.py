"""The provider cmdlets over the machine's file system, registry and WSMan: drive.

Parameters and results as the Microsoft.PowerShell.Management 5.1 reference pages declare them
(learn.microsoft.com/powershell/module/microsoft.powershell.management/<cmdlet>?view=powershell-5.1);
error texts and ids are the FileSystem/Registry providers' (errors.py). Only what scripts use is
modelled: dynamic parameters other than -PathType/-ItemType/-PropertyType/-Type/-Encoding are not.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from provision_lab.powershell.api import CommandContext, CommandSpec, ErrorRecord, NetException
from provision_lab.windows import errors, paths
from provision_lab.windows.cmdlets.common import P, as_list, drive_error, resolve, resolve_many, switch
from provision_lab.windows.fs import Node
from provision_lab.windows.objects import Bag, CustomObject, enum
from provision_lab.windows.paths import ProviderPath
from provision_lab.windows.registry import RegKey
from provision_lab.windows.session import Session, session_of

__all__ = ["COMMANDS", "file_item", "registry_value"]

_MGMT = "Microsoft.PowerShell.Management"
_UTIL = "Microsoft.PowerShell.Utility"
_REGISTRY_DRIVES = {"HKEY_LOCAL_MACHINE": "HKLM", "HKEY_CURRENT_USER": "HKCU"}
_KIND_VALUES = {
    "Unknown": 0,
    "String": 1,
    "ExpandString": 2,
    "Binary": 3,
    "DWord": 4,
    "MultiString": 7,
    "QWord": 11,
    "None": -1,
}


def _io_record(exception: NetException, error_id: str, category: str, target: Any) -> ErrorRecord:
    return errors.record(exception, error_id, category, target)


def _registry_path(session: Session, path: str) -> str:
    """HKEY_CURRENT_USER is the session user's hive under HKEY_USERS."""
    head, _, rest = path.partition("\\")
    if head == "HKEY_CURRENT_USER":
        return f"HKEY_USERS\\{session.account.sid}" + (f"\\{rest}" if rest else "")
    return path


def _ps_path(session: Session, target: ProviderPath) -> tuple[str, str, str, str]:
    """PSPath, PSParentPath, PSChildName, PSDrive of an item."""
    if target.provider == "Registry":
        prefix = "Microsoft.PowerShell.Core\\Registry::"
        head, _, child = target.path.rpartition("\\")
        return prefix + target.path, prefix + head, child, _REGISTRY_DRIVES.get(target.path.partition("\\")[0], "")
    prefix = "Microsoft.PowerShell.Core\\FileSystem::"
    above = paths.parent(target.path) or ""
    return prefix + target.path, prefix + above, paths.leaf(target.path), target.path[0]


# ------------------------------------------------------------------------------------------------
# Items as objects


def file_item(session: Session, node: Node) -> Bag:
    """System.IO.FileInfo / DirectoryInfo as Get-Item and Get-ChildItem return them."""
    machine = session.machine
    target = ProviderPath("FileSystem", node.path)
    pspath, parent, child, drive = _ps_path(session, target)
    name = paths.leaf(node.path)
    common: dict[str, Any] = {
        "PSPath": lambda: pspath,
        "PSParentPath": lambda: parent,
        "PSChildName": lambda: child,
        "PSDrive": lambda: drive,
        "PSProvider": lambda: "Microsoft.PowerShell.Core\\FileSystem",
        "PSIsContainer": lambda: node.is_dir,
        "Name": lambda: name,
        "FullName": lambda: node.path,
        "Exists": lambda: machine.fs.node(node.path) is node,
        "Extension": lambda: ("." + name.rpartition(".")[2]) if "." in name else "",
        "LastWriteTime": lambda: node.modified,
        "CreationTime": lambda: node.modified,
        "Mode": lambda: "d-----" if node.is_dir else "-a----",
    }
    if node.is_dir:
        return Bag(
            ("System.IO.DirectoryInfo", "System.IO.FileSystemInfo", "System.MarshalByRefObject", "System.Object"),
            {**common, "Parent": lambda: paths.leaf(paths.parent(node.path) or node.path)},
            text=name,
        )
    version = machine.file_version(node.path)

    def version_info() -> Bag:
        # FileVersionInfo: an image without a VERSIONINFO resource reads empty/null versions.
        return Bag(
            ("System.Diagnostics.FileVersionInfo", "System.Object"),
            {
                "FileName": lambda: node.path,
                "ProductVersion": lambda: version,
                "FileVersion": lambda: version,
                "ProductName": lambda: None,
            },
            text=f"File: {node.path}",
        )

    return Bag(
        ("System.IO.FileInfo", "System.IO.FileSystemInfo", "System.MarshalByRefObject", "System.Object"),
        {
            **common,
            "Length": lambda: len(node.data),
            "DirectoryName": lambda: paths.parent(node.path),
            "IsReadOnly": lambda: False,
            "VersionInfo": version_info,
        },
        text=node.path,
    )


def registry_value(session: Session, key: RegKey, name: str, *, expand: bool = True) -> Any:
    """RegistryKey.GetValue: ExpandString expanded with the reader's environment (unless told not to)."""
    value = key.get(name)
    if value is None:
        return None
    if value.kind == "ExpandString" and expand:
        return session.machine.expand(str(value.data), session.environment())
    if value.kind == "MultiString":
        return list(value.data)
    return value.data


def registry_key_item(
    session: Session, key: RegKey, shown: str, more: Mapping[str, Callable[[Any], Any]] | None = None
) -> Bag:
    """Microsoft.Win32.RegistryKey as Get-Item shows it; ``more`` adds methods (a hive's CreateSubKey)."""
    reg = session.machine.registry

    def get_value(args: Any) -> Any:
        name = str(args[0]) if args else ""
        found = registry_value(session, key, name, expand=not (len(args) > 2 and "DoNotExpand" in str(args[2])))
        return found if found is not None or len(args) < 2 else args[1]

    def value_kind(args: Any) -> Any:
        found = key.get(str(args[0]) if args else "")
        if found is None:
            raise errors.net("System.IO.IOException", "The system cannot find the file specified.")
        return enum("Microsoft.Win32.RegistryValueKind", found.kind, _KIND_VALUES)

    return Bag(
        ("Microsoft.Win32.RegistryKey", "System.MarshalByRefObject", "System.Object"),
        {
            "Name": lambda: shown,
            "Property": lambda: [v.name for v in key.values.values()],
            "SubKeyCount": lambda: len(reg.subkeys(key.path)),
            "ValueCount": lambda: len(key.values),
            "PSChildName": lambda: shown.rpartition("\\")[2],
        },
        methods={
            "GetValue": get_value,
            "GetValueNames": lambda args: [v.name for v in key.values.values()],
            "GetSubKeyNames": lambda args: [k.path.rpartition("\\")[2] for k in reg.subkeys(key.path)],
            "GetValueKind": value_kind,
            # The handle is the process's; the lab keeps none, so closing has nothing to release.
            "Close": lambda args: None,
            "Dispose": lambda args: None,
            **(more or {}),
        },
        text=shown,
    )


def _wsman_leaf(session: Session, path: str) -> Bag | None:
    """A WSMan: drive setting (WSManConfigLeafElement): Value is a string (Ansible windows_setup)."""
    parts = [p for p in path.split("\\") if p]
    if not parts or parts[0].lower() != "localhost":
        return None
    setting = "\\".join(parts[1:])
    config = session.machine.winrm
    value = next((v for k, v in config.items() if k.lower() == setting.lower()), None)
    if value is None:
        return None
    name = parts[-1]
    return Bag(
        (
            "Microsoft.WSMan.Management.WSManConfigLeafElement",
            "Microsoft.WSMan.Management.WSManConfigElement",
            "System.Object",
        ),
        {
            "Name": lambda: name,
            "Value": lambda: value,
            "Type": lambda: "System.String",
            "PSPath": lambda: "Microsoft.WSMan.Management\\WSMan::" + path,
        },
        text=name,
    )


def _wsman_access(session: Session) -> None:
    """The WSMan provider needs an administrator. The lab's reading of its refusal: "Access is
    denied." (a non-elevated Get-Item WSMan:\\... fails; the exact text is UNCONFIRMED)."""
    if not session.elevated:
        raise errors.terminating(
            errors.net("System.InvalidOperationException", "Access is denied."),
            "System.InvalidOperationException",
            "InvalidOperation",
        )


def _get_item_at(session: Session, target: ProviderPath) -> Any:
    machine = session.machine
    if target.provider == "FileSystem":
        node = machine.fs.node(target.path)
        return None if node is None else file_item(session, node)
    if target.provider == "Registry":
        key = machine.registry.key(_registry_path(session, target.path))
        return None if key is None else registry_key_item(session, key, target.path)
    _wsman_access(session)
    return _wsman_leaf(session, target.path)


def _exists(session: Session, target: ProviderPath) -> tuple[bool, bool]:
    """(exists, is a container)."""
    machine = session.machine
    if target.provider == "FileSystem":
        node = machine.fs.node(target.path)
        return node is not None, node is not None and node.is_dir
    if target.provider == "Registry":
        return machine.registry.key(_registry_path(session, target.path)) is not None, True
    if not session.elevated:
        return False, False
    leaf = _wsman_leaf(session, target.path)
    return leaf is not None or target.path.lower() in ("", "localhost"), leaf is None


# ------------------------------------------------------------------------------------------------
# Test-Path, Get-Item, Get-ChildItem


def _test_path(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    kind = str(params.get("PathType") or "Any").lower()
    results = []
    for value in as_list(params.get("Path", params.get("LiteralPath"))):
        target = resolve(session, str(value))
        if target is None:
            results.append(False)
            continue
        if target.provider == "FileSystem" and "*" in target.path:
            found = resolve_many(_Quiet(context), [str(value)])
            exists, container = bool(found), bool(found) and session.machine.fs.is_dir(found[0].path)
        else:
            exists, container = _exists(session, target)
        if kind == "leaf":
            results.append(exists and not container)
        elif kind == "container":
            results.append(exists and container)
        else:
            results.append(exists)
    return results


class _Quiet:
    """A context whose errors go nowhere (Test-Path never writes errors for missing items)."""

    def __init__(self, context: CommandContext) -> None:
        self.host = context.host

    def write_error(self, record: ErrorRecord) -> None:
        return None


def _get_item(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    literal = "LiteralPath" in params
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath"))), literal=literal):
        item = _get_item_at(session, target)
        if item is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        yield item


def _get_child_item(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    machine = session.machine
    values = as_list(params.get("Path", params.get("LiteralPath"))) or [session.current_directory]
    for target in resolve_many(context, [str(v) for v in values]):
        if target.provider == "Registry":
            key = machine.registry.key(_registry_path(session, target.path))
            if key is None:
                context.write_error(errors.item_not_found(target.path))
                continue
            for sub in machine.registry.subkeys(key.path):
                yield registry_key_item(session, sub, target.path + "\\" + sub.path.rpartition("\\")[2])
            continue
        node = machine.fs.node(target.path)
        if node is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        if not node.is_dir:
            yield file_item(session, node)
            continue
        found = list(machine.fs.walk(node.path)) if switch(params, "Recurse") else machine.fs.children(node.path)
        if switch(params, "Recurse"):
            found.sort(key=lambda n: n.path.lower())
        pattern = str(params.get("Filter") or "*").lower()
        import fnmatch

        for child in found:
            if switch(params, "File") and child.is_dir or switch(params, "Directory") and not child.is_dir:
                continue
            if fnmatch.fnmatchcase(paths.leaf(child.path).lower(), pattern):
                yield file_item(session, child)


# ------------------------------------------------------------------------------------------------
# Registry values


def _property_object(session: Session, key: RegKey, shown: ProviderPath, names: list[str] | None) -> CustomObject:
    pspath, parent, child, drive = _ps_path(session, shown)
    values: dict[str, Any] = {}
    for value in key.values.values():
        if names is None or any(value.name.lower() == n.lower() for n in names):
            values[value.name] = registry_value(session, key, value.name)
    values.update(
        {
            "PSPath": pspath,
            "PSParentPath": parent,
            "PSChildName": child,
            "PSDrive": drive,
            "PSProvider": "Microsoft.PowerShell.Core\\Registry",
        }
    )
    return CustomObject(values)


def _missing_property(name: str, path: str) -> ErrorRecord:
    """``Property X does not exist at path HKEY_...``: PSArgumentException, InvalidArgument."""
    return errors.record(
        errors.net(
            "System.Management.Automation.PSArgumentException",
            f"Property {name} does not exist at path {path}.",
            bases=errors.ARGUMENT_BASES,
        ),
        "System.Management.Automation.PSArgumentException",
        "InvalidArgument",
        name,
    )


def _get_item_property(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    names = [str(n) for n in as_list(params.get("Name"))] or None
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath")))):
        if target.provider != "Registry":
            node = session.machine.fs.node(target.path)
            if node is None:
                context.write_error(errors.item_not_found(target.path))
                continue
            yield CustomObject({"PSPath": _ps_path(session, target)[0], **{n: None for n in names or []}})
            continue
        key = session.machine.registry.key(_registry_path(session, target.path))
        if key is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        for name in names or []:
            if key.get(name) is None:
                context.write_error(_missing_property(name, target.path))
        if names is not None and not any(key.get(n) is not None for n in names):
            continue
        if names is None and not key.values:
            continue  # a key without values gives no object (the provider has no properties to show)
        yield _property_object(session, key, target, names)


def _registry_write_check(session: Session, path: str) -> None:
    """Writing under HKEY_LOCAL_MACHINE needs an administrator: "Requested registry access is not
    allowed." (SecurityException, the .NET text for a denied RegistryKey open for write)."""
    if path.upper().startswith("HKEY_LOCAL_MACHINE") and not session.elevated:
        raise errors.terminating(
            errors.net("System.Security.SecurityException", "Requested registry access is not allowed."),
            "System.Security.SecurityException",
            "PermissionDenied",
            path,
        )


def _kind_for(value: Any, given: Any) -> str:
    if given is not None:
        text = str(getattr(given, "name", given))
        for kind in ("String", "ExpandString", "Binary", "DWord", "MultiString", "QWord"):
            if kind.lower() == text.lower():
                return kind
        raise errors.terminating(
            errors.net(
                "System.ArgumentException", f"The property type '{text}' is not valid.", bases=errors.ARGUMENT_BASES
            ),
            "System.ArgumentException",
            "InvalidArgument",
            text,
        )
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, list):
            return "MultiString"
        if isinstance(value, bytes | bytearray):
            return "Binary"
        return "String"
    return "DWord" if -(2**31) <= value < 2**32 else "QWord"


def _data_for(kind: str, value: Any, context: CommandContext) -> Any:
    if kind in ("DWord", "QWord"):
        return int(context.convert(value, "long"))
    if kind == "MultiString":
        return [context.to_string(v) for v in as_list(value)]
    if kind == "Binary":
        return bytes(value) if isinstance(value, bytes | bytearray) else bytes(int(v) for v in as_list(value))
    return context.to_string(value)


def _set_item_property(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    name, value = str(params["Name"]), params.get("Value")
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath")))):
        if target.provider != "Registry":
            raise errors.terminating(
                errors.net(
                    "System.Management.Automation.PSNotSupportedException",
                    "Provider operation stopped because the provider does not support this operation.",
                ),
                "NotSupported",
                "NotImplemented",
                target.path,
            )
        path = _registry_path(session, target.path)
        key = session.machine.registry.key(path)
        if key is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        _registry_write_check(session, path)
        existing = key.get(name)
        kind = _kind_for(value, params.get("Type")) if existing is None or "Type" in params else existing.kind
        key.set(existing.name if existing else name, kind, _data_for(kind, value, context))
        if switch(params, "PassThru"):
            yield _property_object(session, key, target, [name])


def _new_item_property(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    name, value = str(params["Name"]), params.get("Value")
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath")))):
        path = _registry_path(session, target.path)
        key = session.machine.registry.key(path) if target.provider == "Registry" else None
        if key is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        _registry_write_check(session, path)
        if key.get(name) is not None and not switch(params, "Force"):
            context.write_error(
                errors.record(
                    errors.net(
                        "System.IO.IOException",
                        "The property already exists.",
                        bases=("System.SystemException", "System.Exception"),
                    ),
                    "System.IO.IOException",
                    "ResourceExists",
                    target.path,
                )
            )
            continue
        kind = _kind_for(value, params.get("PropertyType"))
        key.set(name, kind, _data_for(kind, value, context))
        yield _property_object(session, key, target, [name])


def _remove_item_property(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath")))):
        path = _registry_path(session, target.path)
        key = session.machine.registry.key(path) if target.provider == "Registry" else None
        if key is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        _registry_write_check(session, path)
        for name in as_list(params.get("Name")):
            if not key.delete(str(name)):
                context.write_error(_missing_property(str(name), target.path))
    return ()


# ------------------------------------------------------------------------------------------------
# New-Item, Remove-Item, Move-Item, Copy-Item, Rename-Item


def _check_write(session: Session, path: str) -> None:
    """A standard user cannot write under C:\\Program Files or C:\\Windows (their ACLs give Users
    read and execute only): UnauthorizedAccessException."""
    lowered = path.lower()
    if not session.elevated and (lowered.startswith(r"c:\program files") or lowered.startswith(r"c:\windows")):
        raise errors.access_denied(path)


def _new_item(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    machine = session.machine
    kind = str(params.get("ItemType") or "File").lower()
    force = switch(params, "Force")
    bases = [str(p) for p in as_list(params.get("Path"))] or [session.current_directory]
    for base in bases:
        full = paths.join(base, str(params["Name"])) if params.get("Name") else base
        target = resolve(session, full)
        if target is None:
            context.write_error(drive_error(full))
            continue
        if target.provider == "Registry":
            path = _registry_path(session, target.path)
            _registry_write_check(session, path)
            if machine.registry.key(path) is not None and not force:
                context.write_error(_exists_record(target.path))
                continue
            key = machine.registry.create(path)
            if "Value" in params and params.get("Value") is not None:
                key.set("(default)", "String", context.to_string(params["Value"]))
            yield registry_key_item(session, key, target.path)
            continue
        if target.provider != "FileSystem":
            raise errors.terminating(
                errors.net(
                    "System.Management.Automation.PSNotSupportedException",
                    "Provider operation stopped because the provider does not support this operation.",
                ),
                "NotSupported",
                "NotImplemented",
                full,
            )
        try:
            _check_write(session, target.path)
            node = machine.fs.node(target.path)
            if kind in ("directory", "container"):
                if node is not None and not (force and node.is_dir):
                    context.write_error(_exists_record(target.path))
                    continue
                created = machine.fs.make_dirs(target.path)
            elif kind == "file":
                if node is not None and not force:
                    context.write_error(_exists_record(target.path))
                    continue
                above = paths.parent(target.path)
                if force and above is not None:
                    machine.fs.make_dirs(above)
                value = params.get("Value")
                created = machine.fs.write(target.path, b"" if value is None else context.to_string(value).encode())
            else:
                raise errors.terminating(
                    errors.net(
                        "System.Management.Automation.PSArgumentException",
                        'The type is not a known type for the file system. Only "file","directory" or '
                        '"symboliclink" can be specified.',
                        bases=errors.ARGUMENT_BASES,
                    ),
                    "Argument",
                    "InvalidArgument",
                    full,
                )
        except NetException as error:
            context.write_error(_io_record(error, "NewItemIOError", "WriteError", target.path))
            continue
        yield file_item(session, created)


def _exists_record(path: str) -> ErrorRecord:
    """``An item with the specified name C:\\x already exists.`` (IOException, DirectoryExist)."""
    return errors.record(
        errors.net(
            "System.IO.IOException",
            f"An item with the specified name {path} already exists.",
            bases=("System.SystemException", "System.Exception"),
        ),
        "DirectoryExist",
        "ResourceExists",
        path,
    )


def _remove_error(context: CommandContext, path: str, error: NetException) -> None:
    """``Cannot remove item X: <reason>`` as the FileSystem provider writes it."""
    kind = (
        "RemoveFileSystemItemUnAuthorizedAccess"
        if "UnauthorizedAccess" in error.type_name
        else "RemoveFileSystemItemIOError"
    )
    category = "PermissionDenied" if "UnauthorizedAccess" in error.type_name else "WriteError"
    reason = error.message
    if "UnauthorizedAccess" in error.type_name:
        reason = f"Access to the path '{paths.leaf(path)}' is denied."
    context.write_error(
        errors.record(
            errors.net(
                error.type_name, f"Cannot remove item {path}: {reason}", bases=error.base_names, hresult=error.hresult
            ),
            kind,
            category,
            path,
        )
    )


def _remove_item(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    machine = session.machine
    recurse = switch(params, "Recurse")
    literal = "LiteralPath" in params
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath"))), literal=literal):
        if target.provider == "Registry":
            path = _registry_path(session, target.path)
            if machine.registry.key(path) is None:
                context.write_error(errors.item_not_found(target.path))
                continue
            _registry_write_check(session, path)
            if machine.registry.subkeys(path) and not recurse:
                context.write_error(_non_interactive())
                continue
            machine.registry.delete_tree(path)
            continue
        node = machine.fs.node(target.path)
        if node is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        if node.is_dir and machine.fs.children(node.path) and not recurse:
            # Remove-Item would ask "The item at X has children and the Recurse parameter was not
            # specified..."; powershell.exe -NonInteractive cannot ask.
            context.write_error(_non_interactive())
            continue
        try:
            _check_write(session, node.path)
        except NetException as error:
            _remove_error(context, node.path, error)
            continue
        if node.is_dir:
            _remove_tree(context, session, node.path)
            continue
        try:
            machine.fs.delete(node.path)
        except NetException as error:
            _remove_error(context, node.path, error)
    return ()


def _remove_tree(context: CommandContext, session: Session, folder: str) -> bool:
    """The FileSystem provider's order: subfolders first, then files, each by name; what can be
    deleted is deleted, and a folder left non-empty is reported ("The directory is not empty.")."""
    fs = session.machine.fs
    clean = True
    for child in fs.children(folder):
        if child.is_dir:
            clean = _remove_tree(context, session, child.path) and clean
    for child in fs.children(folder):
        if not child.is_dir:
            try:
                fs.delete(child.path)
            except NetException as error:
                _remove_error(context, child.path, error)
                clean = False
    if clean:
        try:
            fs.delete(folder)
        except NetException as error:
            _remove_error(context, folder, error)
            return False
    else:
        _remove_error(
            context,
            folder,
            errors.net(
                "System.IO.IOException",
                "The directory is not empty.",
                bases=("System.SystemException", "System.Exception"),
            ),
        )
    return clean


def _non_interactive() -> ErrorRecord:
    """What a confirmation prompt becomes under -NonInteractive (HostException, the ConsoleHost's text)."""
    return errors.record(
        errors.net(
            "System.Management.Automation.Host.HostException",
            "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
            bases=("System.Management.Automation.RuntimeException", "System.SystemException", "System.Exception"),
        ),
        "HostFunctionNotImplemented",
        "ResourceUnavailable",
    )


def _destination(session: Session, source: str, destination: str) -> str:
    """Into an existing folder the item keeps its name; otherwise the destination is its new path."""
    target = session.full_path(destination)
    if session.machine.fs.is_dir(target):
        return paths.join(target, paths.leaf(source))
    return target


def _move_item(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    fs = session.machine.fs
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath")))):
        node = fs.node(target.path)
        if target.provider != "FileSystem" or node is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        destination = _destination(session, node.path, str(params.get("Destination") or session.current_directory))
        try:
            _check_write(session, destination)
            existing = fs.node(destination)
            if existing is not None and not existing.is_dir and switch(params, "Force") and not node.is_dir:
                fs.delete(destination)  # Move-Item -Force onto a file: deleted first, then moved (F12)
            fs.move(node.path, destination)
        except NetException as error:
            if node.is_dir:
                error_id = "MoveDirectoryItemIOError"
            elif "UnauthorizedAccess" in error.type_name:
                error_id = "MoveFileInfoItemUnauthorizedAccessError"
            else:
                error_id = "MoveFileInfoItemIOError"
            context.write_error(_io_record(error, error_id, "WriteError", node.path))
            continue
        if switch(params, "PassThru"):
            moved = fs.node(destination)
            if moved is not None:
                yield file_item(session, moved)


def _copy_item(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    fs = session.machine.fs
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath")))):
        node = fs.node(target.path)
        if target.provider != "FileSystem" or node is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        destination = _destination(session, node.path, str(params.get("Destination") or session.current_directory))
        try:
            _check_write(session, destination)
            if node.is_dir:
                fs.make_dirs(destination)
                if switch(params, "Recurse"):
                    for child in sorted(fs.walk(node.path), key=lambda n: n.path.count("\\")):
                        inner = destination + child.path[len(node.path) :]
                        fs.make_dirs(inner) if child.is_dir else fs.copy_file(child.path, inner, overwrite=True)
            else:
                fs.copy_file(node.path, destination, overwrite=True)
        except NetException as error:
            context.write_error(_io_record(error, "CopyFileInfoItemIOError", "WriteError", node.path))
            continue
        if switch(params, "PassThru"):
            copied = fs.node(destination)
            if copied is not None:
                yield file_item(session, copied)


def _rename_item(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    fs = session.machine.fs
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath")))):
        node = fs.node(target.path)
        if target.provider != "FileSystem" or node is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        new_name = str(params["NewName"])
        if "\\" in new_name or "/" in new_name:
            raise errors.terminating(
                errors.net(
                    "System.Management.Automation.PSArgumentException",
                    "Cannot rename the specified target, because it represents a path or device name.",
                    bases=errors.ARGUMENT_BASES,
                ),
                "Argument",
                "InvalidArgument",
                new_name,
            )
        destination = paths.join(paths.parent(node.path) or node.path, new_name)
        try:
            _check_write(session, destination)
            fs.move(node.path, destination)
        except NetException as error:
            context.write_error(_io_record(error, "RenameItemIOError", "WriteError", node.path))
            continue
        if switch(params, "PassThru"):
            renamed = fs.node(destination)
            if renamed is not None:
                yield file_item(session, renamed)


# ------------------------------------------------------------------------------------------------
# Join-Path, Split-Path


def _join_path(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    child = context.to_string(params["ChildPath"])
    results = []
    for base in as_list(params["Path"]):
        text = context.to_string(base)
        if ":" in text and resolve(session, text) is None:
            context.write_error(drive_error(text))
            continue
        results.append(paths.join(text, child))
    return results


def _split_path(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    results: list[Any] = []
    for value in as_list(params.get("Path", params.get("LiteralPath"))):
        text = context.to_string(value).replace("/", "\\")
        qualifier, colon, rest = text.partition(":")
        has_drive = bool(colon) and "\\" not in qualifier
        if switch(params, "Qualifier"):
            if not has_drive:
                raise errors.terminating(
                    errors.net(
                        "System.Management.Automation.PSArgumentException",
                        f"Cannot parse path because path '{text}' does not have a qualifier specified.",
                        bases=errors.ARGUMENT_BASES,
                    ),
                    "ParsePathFailed",
                    "InvalidArgument",
                    text,
                )
            results.append(qualifier + ":")
        elif switch(params, "NoQualifier"):
            results.append(rest if has_drive else text)
        elif switch(params, "IsAbsolute"):
            results.append(has_drive and rest.startswith("\\") or text.startswith("\\\\"))
        elif switch(params, "Leaf"):
            results.append(text.rstrip("\\").rpartition("\\")[2])
        else:
            stripped = text.rstrip("\\")
            head = stripped.rpartition("\\")[0] if "\\" in stripped else ""
            if head.endswith(":"):
                head += "\\"  # Split-Path 'C:\x' -Parent is 'C:\'
            results.append(head)
    return results


# ------------------------------------------------------------------------------------------------
# Get-FileHash, Get-Content, Set-Content, Expand-Archive


def _get_file_hash(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    algorithm = str(params.get("Algorithm") or "SHA256").upper()
    algorithms = {
        "SHA1": "sha1",
        "SHA256": "sha256",
        "SHA384": "sha384",
        "SHA512": "sha512",
        "MD5": "md5",
        "MACTRIPLEDES": "",
        "RIPEMD160": "",
    }
    if not algorithms.get(algorithm):
        raise errors.terminating(
            errors.net(
                "System.Management.Automation.ParameterBindingValidationException",
                f"Cannot validate argument on parameter 'Algorithm'. The argument \"{algorithm}\" does not "
                'belong to the set "SHA1,SHA256,SHA384,SHA512,MACTripleDES,MD5,RIPEMD160" specified by the '
                "ValidateSet attribute. Supply an argument that is in the set and then try the command again.",
                bases=errors.ARGUMENT_BASES,
            ),
            "ParameterArgumentValidationError",
            "InvalidData",
            algorithm,
        )
    literal = "LiteralPath" in params
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath"))), literal=literal):
        node = session.machine.fs.node(target.path)
        if node is None or node.is_dir:
            if node is None:
                context.write_error(errors.item_not_found(target.path))
            continue
        digest = hashlib.new(algorithms[algorithm], node.data).hexdigest().upper()
        yield _hash_info(algorithm, digest, node.path)


def _hash_info(algorithm: str, digest: str, path: str) -> Bag:
    return Bag(
        ("Microsoft.PowerShell.Commands.FileHashInfo", "System.Object"),
        {"Algorithm": lambda: algorithm, "Hash": lambda: digest, "Path": lambda: path},
        text="Microsoft.PowerShell.Commands.FileHashInfo",
    )


def decode_text(data: bytes) -> str:
    """How .NET's StreamReader reads a file by default: a BOM decides, else UTF-8."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    return data.decode("utf-8", errors="replace")


def _get_content(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    for target in resolve_many(context, as_list(params.get("Path", params.get("LiteralPath")))):
        node = session.machine.fs.node(target.path)
        if node is None:
            context.write_error(errors.item_not_found(target.path))
            continue
        if node.is_dir:
            context.write_error(
                errors.record(
                    errors.access_denied(node.path),
                    "GetContentReaderUnauthorizedAccessError",
                    "PermissionDenied",
                    node.path,
                )
            )
            continue
        text = decode_text(node.data)
        if switch(params, "Raw"):
            yield text
            continue
        lines = text.replace("\r\n", "\n").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        yield from lines


def _encode(text: str, encoding: Any) -> bytes:
    """Set-Content's -Encoding: 5.1's default is the ANSI code page (Default); UTF8 writes a BOM
    (about_Character_Encoding, "Character encoding in Windows PowerShell")."""
    name = str(getattr(encoding, "name", encoding) or "Default").lower()
    if name == "utf8":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if name in ("unicode", "string"):
        return b"\xff\xfe" + text.encode("utf-16-le")
    if name == "ascii":
        return text.encode("ascii", errors="replace")
    return text.encode("cp1252", errors="replace")


def _set_content(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    session = session_of(context)
    values = [context.to_string(v) for v in as_list(params.get("Value"))]
    ending = "" if switch(params, "NoNewline") else "\r\n"
    text = ("" if switch(params, "NoNewline") else "").join(v + ending for v in values)
    for value in as_list(params.get("Path", params.get("LiteralPath"))):
        target = resolve(session, str(value))
        if target is None or target.provider != "FileSystem":
            context.write_error(drive_error(str(value)))
            continue
        try:
            _check_write(session, target.path)
            session.machine.fs.write(target.path, _encode(text, params.get("Encoding")))
        except NetException as error:
            context.write_error(_io_record(error, "GetContentWriterIOError", "WriteError", target.path))
    return ()


def _expand_archive(context: CommandContext, params: Mapping[str, Any]) -> Iterable[Any]:
    """Microsoft.PowerShell.Archive 1.0.1.0 (the module 5.1 ships): extracts every entry."""
    session = session_of(context)
    fs = session.machine.fs
    source = session.full_path(str(params.get("Path", params.get("LiteralPath"))))
    node = fs.node(source)
    if node is None or node.is_dir:
        raise errors.terminating(
            errors.net(
                "System.InvalidOperationException",
                f"Path '{source}' either does not exist or is not a valid file system path.",
            ),
            "ArchiveCmdletPathNotFound,Expand-Archive",
            "InvalidArgument",
            source,
        )
    if not source.lower().endswith(".zip"):
        raise errors.terminating(
            errors.net(
                "System.IO.IOException",
                f".{source.rpartition('.')[2]} is not a supported archive file format. .zip is the only "
                "supported archive file format.",
                bases=("System.SystemException", "System.Exception"),
            ),
            "NotSupportedArchiveFileExtension,Expand-Archive",
            "InvalidArgument",
            source,
        )
    destination = session.full_path(str(params.get("DestinationPath") or session.current_directory))
    try:
        archive = zipfile.ZipFile(io.BytesIO(node.data))
    except zipfile.BadZipFile:
        raise errors.terminating(
            errors.net(
                "System.IO.InvalidDataException",
                "End of Central Directory record could not be found.",
                bases=("System.SystemException", "System.Exception"),
            ),
            "System.IO.InvalidDataException",
            "NotSpecified",
            source,
        ) from None
    try:
        _check_write(session, destination)
        fs.make_dirs(destination)
        for entry in archive.infolist():
            inner = paths.normalize(paths.join(destination, entry.filename.replace("/", "\\")))
            if entry.is_dir():
                fs.make_dirs(inner)
                continue
            if fs.node(inner) is not None and not switch(params, "Force"):
                raise errors.terminating(
                    errors.net(
                        "System.IO.IOException",
                        f"Failed to create file '{inner}' while expanding the archive file '{source}' "
                        f"contents as the file '{inner}' already exists. Use the -Force parameter if you want "
                        f"to overwrite the existing directory '{destination}' contents when expanding the "
                        "archive file.",
                        bases=("System.SystemException", "System.Exception"),
                    ),
                    "ExpandArchiveFileExists,Expand-Archive",
                    "InvalidOperation",
                    inner,
                )
            above = paths.parent(inner)
            if above is not None:
                fs.make_dirs(above)
            fs.write(inner, archive.read(entry))
    except NetException as error:
        raise errors.terminating(error, error.type_name, "WriteError", destination) from None
    session.machine.advance(len(node.data) / 2**20 * 0.05 * session.machine.faults.slow_installs)
    return ()


def _path_params(*extra: Any, path_mandatory: bool = True) -> tuple[Any, ...]:
    return (
        P("Path", "string[]", position=0, mandatory=path_mandatory, pipeline=True, by_name=True, sets=("Path",)),
        P("LiteralPath", "string[]", aliases=("PSPath", "LP"), by_name=True, sets=("LiteralPath",)),
        *extra,
    )


def _cmd(
    name: str, body: Any, params: tuple[Any, ...], type_name: str, module: str = _MGMT, aliases: tuple[str, ...] = ()
) -> CommandSpec:
    return CommandSpec(
        name,
        body,
        params,
        f"Microsoft.PowerShell.Commands.{type_name}",
        module,
        aliases,
        default_set="Path" if any(p.name == "Path" for p in params) else None,
    )


_FILTERS = (P("Force", "switch"),)
"""-Filter (except Get-ChildItem's), -Include, -Exclude, -Credential and the other parameters the
lab does not model are not declared: a script using one fails as PowerShell does for an unknown
parameter, instead of succeeding with it ignored."""

COMMANDS: tuple[CommandSpec, ...] = (
    _cmd(
        "Test-Path",
        _test_path,
        _path_params(
            P("PathType", "string", aliases=("Type",)),
            *_FILTERS[:3],
        ),
        "TestPathCommand",
    ),
    _cmd("Get-Item", _get_item, _path_params(*_FILTERS), "GetItemCommand", aliases=("gi",)),
    _cmd(
        "Get-ChildItem",
        _get_child_item,
        _path_params(
            P("Filter", "string", position=1),
            P("Recurse", "switch", aliases=("s",)),
            P("Force", "switch"),
            P("File", "switch"),
            P("Directory", "switch", aliases=("ad", "d")),
            path_mandatory=False,
        ),
        "GetChildItemCommand",
        aliases=("dir", "ls", "gci"),
    ),
    _cmd(
        "Get-ItemProperty",
        _get_item_property,
        _path_params(P("Name", "string[]", position=1, aliases=("PSProperty",)), *_FILTERS),
        "GetItemPropertyCommand",
        aliases=("gp",),
    ),
    _cmd(
        "Set-ItemProperty",
        _set_item_property,
        _path_params(
            P("Name", "string", position=1, mandatory=True, by_name=True, aliases=("PSProperty",)),
            P("Value", "object", position=2, by_name=True),
            P("Type", "string"),
            P("PassThru", "switch"),
            *_FILTERS,
        ),
        "SetItemPropertyCommand",
        aliases=("sp",),
    ),
    _cmd(
        "New-ItemProperty",
        _new_item_property,
        _path_params(
            P("Name", "string", position=1, mandatory=True, by_name=True, aliases=("PSProperty",)),
            P("PropertyType", "string", by_name=True, aliases=("Type",)),
            P("Value", "object", by_name=True),
            *_FILTERS,
        ),
        "NewItemPropertyCommand",
    ),
    _cmd(
        "Remove-ItemProperty",
        _remove_item_property,
        _path_params(P("Name", "string[]", position=1, mandatory=True, aliases=("PSProperty",)), *_FILTERS),
        "RemoveItemPropertyCommand",
        aliases=("rp",),
    ),
    _cmd(
        "New-Item",
        _new_item,
        (
            P("Path", "string[]", position=0, by_name=True),
            P("Name", "string", by_name=True),
            P("ItemType", "string", by_name=True, aliases=("Type",)),
            P("Value", "object", pipeline=True, by_name=True),
            P("Force", "switch"),
        ),
        "NewItemCommand",
        aliases=("ni",),
    ),
    _cmd(
        "Remove-Item",
        _remove_item,
        _path_params(*_FILTERS, P("Recurse", "switch")),
        "RemoveItemCommand",
        aliases=("rm", "del", "erase", "rd", "ri", "rmdir"),
    ),
    _cmd(
        "Move-Item",
        _move_item,
        _path_params(P("Destination", "string", position=1, by_name=True), P("PassThru", "switch"), *_FILTERS),
        "MoveItemCommand",
        aliases=("mv", "move", "mi"),
    ),
    _cmd(
        "Copy-Item",
        _copy_item,
        _path_params(
            P("Destination", "string", position=1, by_name=True),
            P("Recurse", "switch"),
            P("PassThru", "switch"),
            *_FILTERS,
        ),
        "CopyItemCommand",
        aliases=("copy", "cp", "cpi"),
    ),
    _cmd(
        "Rename-Item",
        _rename_item,
        (
            P("Path", "string", position=0, mandatory=True, pipeline=True, by_name=True, sets=("ByPath",)),
            P("LiteralPath", "string", aliases=("PSPath", "LP"), by_name=True, sets=("ByLiteralPath",)),
            P("NewName", "string", position=1, mandatory=True, by_name=True),
            P("PassThru", "switch"),
            P("Force", "switch"),
        ),
        "RenameItemCommand",
        aliases=("ren", "rni"),
    ),
    _cmd(
        "Join-Path",
        _join_path,
        (
            P("Path", "string[]", position=0, mandatory=True, pipeline=True, by_name=True, aliases=("PSPath",)),
            P("ChildPath", "string", position=1, mandatory=True, by_name=True),
        ),
        "JoinPathCommand",
    ),
    _cmd(
        "Split-Path",
        _split_path,
        _path_params(
            P("Parent", "switch"),
            P("Leaf", "switch"),
            P("Qualifier", "switch"),
            P("NoQualifier", "switch"),
            P("IsAbsolute", "switch"),
        ),
        "SplitPathCommand",
    ),
    _cmd(
        "Get-FileHash",
        _get_file_hash,
        _path_params(P("Algorithm", "string", position=1), P("InputStream", "object", sets=("Stream",))),
        "GetFileHashCommand",
        module=_UTIL,
    ),
    _cmd(
        "Get-Content",
        _get_content,
        _path_params(
            P("Raw", "switch"),
            *_FILTERS,
        ),
        "GetContentCommand",
        aliases=("cat", "gc", "type"),
    ),
    _cmd(
        "Set-Content",
        _set_content,
        _path_params(
            P("Value", "object[]", position=1, pipeline=True, by_name=True),
            P("Encoding", "string"),
            P("NoNewline", "switch"),
            P("PassThru", "switch"),
            *_FILTERS,
        ),
        "SetContentCommand",
        aliases=("sc",),
    ),
    CommandSpec(
        "Expand-Archive",
        _expand_archive,
        (
            P("Path", "string", position=0, mandatory=True, pipeline=True, by_name=True, sets=("Path",)),
            P("LiteralPath", "string", aliases=("PSPath",), by_name=True, sets=("LiteralPath",)),
            P("DestinationPath", "string", position=1),
            P("Force", "switch"),
            P("PassThru", "switch"),
        ),
        "",
        "Microsoft.PowerShell.Archive",
        default_set="Path",
    ),
)
"""The provider cmdlets (Expand-Archive is a function of Microsoft.PowerShell.Archive, hence no type)."""
