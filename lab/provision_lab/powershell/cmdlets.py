"""The engine's own cmdlets: those of Microsoft.PowerShell.Core and Microsoft.PowerShell.Utility that need no machine.

Parameters, positions and pipeline bindings are those of each cmdlet's reference/5.1 page on Microsoft Learn
(Write-Output, Write-Host, Write-Warning, Write-Error, Write-Verbose, Out-String, Out-Null, ForEach-Object,
Where-Object, Select-Object, Sort-Object, Measure-Object, Get-Member, Get-Command, Set-StrictMode,
Get-Variable, Set-Variable, ConvertTo-Json, ConvertFrom-Json, Get-Date, Start-Sleep, New-Object,
Add-Type); aliases are 5.1's built-in aliases (about_Aliases, Get-Alias).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from . import convert as cv
from .api import CommandContext, CommandSpec, ErrorRecord, NetException, Parameter
from .errors import ScriptError, runtime_error
from .values import Hashtable, PSCustomObject, ScriptBlock

if TYPE_CHECKING:
    from .engine import Scope
    from .session import Session, _Context

__all__ = ["ALIASES", "engine_commands"]

ALIASES = {
    "%": "ForEach-Object",
    "foreach": "ForEach-Object",
    "?": "Where-Object",
    "where": "Where-Object",
    "echo": "Write-Output",
    "write": "Write-Output",
    "select": "Select-Object",
    "sort": "Sort-Object",
    "measure": "Measure-Object",
    "gm": "Get-Member",
    "gcm": "Get-Command",
    "gv": "Get-Variable",
    "sv": "Set-Variable",
    "set": "Set-Variable",
    "sleep": "Start-Sleep",
    "oh": "Out-Host",
    "iex": "Invoke-Expression",
    "icm": "Invoke-Command",
}

_UTILITY = "Microsoft.PowerShell.Utility"
_CORE = "Microsoft.PowerShell.Core"


def _session(ctx: CommandContext) -> Session:
    return ctx.session  # type: ignore[attr-defined, no-any-return]


def _ctx(ctx: CommandContext) -> _Context:
    return ctx  # type: ignore[return-value]


# ------------------------------------------------------------------------------------------------
# Output


def _write_output(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    value = p.get("InputObject")
    if isinstance(value, list) and not p.get("NoEnumerate"):
        return list(value)
    return [value]


def _write_host(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    session = _session(ctx)
    value = p.get("Object")
    separator = session.to_string(p.get("Separator", " "))
    if isinstance(value, list):
        text = separator.join(session.to_string(v) for v in value)
    else:
        text = session.to_string(value)
    session.write_stdout(text + ("" if p.get("NoNewline") else "\n"))
    return None


def _write_warning(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    ctx.write_warning(ctx.to_string(p.get("Message")))
    return None


def _write_verbose(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    ctx.write_verbose(ctx.to_string(p.get("Message")))
    return None


def _write_debug(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    return None


def _write_error(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    record = p.get("ErrorRecord")
    if not isinstance(record, ErrorRecord):
        exception = p.get("Exception")
        if not isinstance(exception, NetException):
            exception = NetException(
                "Microsoft.PowerShell.Commands.WriteErrorException",
                ctx.to_string(p.get("Message")),
                base_names=("System.SystemException", "System.Exception"),
            )
        category = ctx.to_string(p.get("Category")) if p.get("Category") is not None else "NotSpecified"
        error_id = ctx.to_string(p.get("ErrorId")) if p.get("ErrorId") else exception.type_name
        record = ErrorRecord(exception, error_id, category, p.get("TargetObject"))
        record.command_name = "Write-Error"
        calls = _session(ctx).calls
        if calls:
            # Inside a function the record is the function's: "F : message", F's call site, and ",F" ending the
            # FullyQualifiedErrorId (the shape Write-Error's reference/5.1 page shows for a script's errors).
            name, extent = calls[-1]
            record._invoked = name  # type: ignore[attr-defined]
            record._command_type = name  # type: ignore[attr-defined]
            record._position = extent  # type: ignore[attr-defined]
    ctx.write_error(record)
    return None


def _out_string(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:

    ctxt = _ctx(ctx)
    ctxt.common.setdefault("_collected", [])  # type: ignore[attr-defined]
    ctxt.common["_collected"].append(p.get("InputObject"))
    return []


def _out_string_end(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    from .formatting import format_objects

    ctxt = _ctx(ctx)
    items = ctxt.common.get("_collected", [])
    text = format_objects(_session(ctx), [i for i in items if i is not None]).replace("\n", "\r\n")
    if p.get("Stream"):
        return [line for line in text.split("\r\n")[:-1]]
    return [text]


def _out_null(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    return None


# ------------------------------------------------------------------------------------------------
# Pipeline


def _foreach_object(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    session = _session(ctx)
    item = p.get("InputObject")
    if "MemberName" in p:
        name = ctx.to_string(p["MemberName"])
        return (
            cv.as_list(session.get_member(item, name, False))
            if not isinstance(item, Hashtable)
            else [session.get_member(item, name, False)]
        )
    blocks = p.get("Process")
    block_list = blocks if isinstance(blocks, list) else [blocks]
    out: list[Any] = []
    for block in block_list:
        if block is None:
            continue
        out.extend(session.invoke_block(block, [], dollar_under=item, scope=_ctx(ctx).fr.scope, dot=True))
    return out


def _foreach_begin(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    block = p.get("Begin")
    if block is None:
        return []
    return _session(ctx).invoke_block(block, [], scope=_ctx(ctx).fr.scope, dot=True)


def _foreach_end(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    block = p.get("End")
    if block is None:
        return []
    return _session(ctx).invoke_block(block, [], scope=_ctx(ctx).fr.scope, dot=True)


def _where_object(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    session = _session(ctx)
    item = p.get("InputObject")
    block = p.get("FilterScript")
    if block is not None:
        result = session.invoke_block(block, [], dollar_under=item, scope=_ctx(ctx).fr.scope, dot=True)
        return [item] if cv.is_true(result[0] if len(result) == 1 else result) else []
    name = p.get("Property")
    if name is None:
        return []
    value = session.get_member(item, ctx.to_string(name), False)
    for op in _WHERE_OPERATORS:
        if p.get(op):
            from .engine import _COMPARE_FUNCS, Frame

            fr: Frame = _ctx(ctx).fr
            test = _COMPARE_FUNCS[op.lower()]
            return [item] if cv.is_true(test(fr, value, p.get("Value"), False)) else []
    return [item] if cv.is_true(value) else []


_WHERE_OPERATORS = ("EQ", "NE", "GT", "LT", "GE", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains", "In")
"""Where-Object's operator switches (its reference/5.1 page: -EQ, -Like, ... with -Value)."""


def _select_begin(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    _ctx(ctx).common["_items"] = []  # type: ignore[index]
    return None


def _select_object(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    _ctx(ctx).common["_items"].append(p.get("InputObject"))
    return None


def _select_end(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    session = _session(ctx)
    items = [i for i in _ctx(ctx).common.get("_items", [])]
    if not items and "InputObject" in p and p["InputObject"] is not None:
        items = [p["InputObject"]]
    if "ExpandProperty" in p:
        items = _expand_property(ctx, session, items, ctx.to_string(p["ExpandProperty"]))
    elif "Property" in p:
        names = p["Property"] if isinstance(p["Property"], list) else [p["Property"]]
        items = [_selected_properties(ctx, session, item, names) for item in items]
    if p.get("Unique"):
        unique: list[Any] = []
        for item in items:
            if not any(cv.equals(item, seen, True) for seen in unique):
                unique.append(item)
        items = unique
    skip = int(p.get("Skip", 0) or 0)
    items = items[skip:]
    if "First" in p:
        items = items[: int(p["First"])]
    if "Last" in p:
        count = int(p["Last"])
        items = items[-count:] if count else []
    return items


def _expand_property(ctx: CommandContext, session: Session, items: list[Any], name: str) -> list[Any]:
    """``-ExpandProperty``: each item's property value, arrays unrolled; an item without it is an error."""
    expanded: list[Any] = []
    for item in items:
        found, value = _property(session, item, name)
        if not found:
            raise ScriptError(
                ErrorRecord(
                    NetException(
                        "System.Management.Automation.PSArgumentException", f'Property "{name}" cannot be found.'
                    ),
                    "ExpandPropertyNotFound,Microsoft.PowerShell.Commands.SelectObjectCommand",
                    "InvalidArgument",
                    item,
                )
            )
        expanded.extend(value if isinstance(value, list) else [value])
    return expanded


def _selected_properties(ctx: CommandContext, session: Session, item: Any, names: list[Any]) -> PSCustomObject:
    """``-Property``: a new object of the named properties (wildcards allowed) and calculated ones (@{n=; e=})."""
    obj = PSCustomObject()
    for spec in names:
        if isinstance(spec, Hashtable):
            label = ctx.to_string(spec.get("Name", spec.get("Label", spec.get("n", spec.get("l")))))
            expression = spec.get("Expression", spec.get("e"))
            if isinstance(expression, ScriptBlock):
                value = cv.as_list(session.invoke_block(expression, [], dollar_under=item))
                obj.set(label, value[0] if len(value) == 1 else (value or None))
            else:
                obj.set(label, _property(session, item, ctx.to_string(expression))[1])
        else:
            key = ctx.to_string(spec)
            pattern = cv.like_pattern(key)
            if "*" in key:
                from .members import properties_of

                for prop, value in properties_of(session, item):
                    if pattern.match(prop):
                        obj.set(prop, value)
            else:
                obj.set(key, _property(session, item, key)[1])
    return obj


def _property(session: Session, item: Any, name: str) -> tuple[bool, Any]:
    from .members import _lookup

    return _lookup(session, item, name.lower())


def _sort_end(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    import functools

    session = _session(ctx)
    items = list(_ctx(ctx).common.get("_items", []))
    keys = p.get("Property")
    key_list = keys if isinstance(keys, list) else ([keys] if keys is not None else [])

    def key_of(item: Any) -> list[Any]:
        if not key_list:
            return [item]
        values = []
        for key in key_list:
            if isinstance(key, ScriptBlock):
                result = session.invoke_block(key, [], dollar_under=item)
                values.append(result[0] if len(result) == 1 else result)
            else:
                values.append(_property(session, item, ctx.to_string(key))[1])
        return values

    def compare(a: Any, b: Any) -> int:
        for x, y in zip(key_of(a), key_of(b), strict=True):
            result = cv.compare(x, y, bool(p.get("CaseSensitive")))
            if result:
                return result
        return 0

    items.sort(key=functools.cmp_to_key(compare), reverse=bool(p.get("Descending")))
    if p.get("Unique"):
        unique: list[Any] = []
        for item in items:
            if not unique or compare(unique[-1], item) != 0:
                unique.append(item)
        items = unique
    return items


def _measure_end(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    session = _session(ctx)
    items = [i for i in _ctx(ctx).common.get("_items", []) if i is not None]
    name = p.get("Property")
    values = [_property(session, i, ctx.to_string(name))[1] if name is not None else i for i in items]
    numbers = (
        [cv.to_number(v) for v in values] if any(p.get(k) for k in ("Sum", "Average", "Maximum", "Minimum")) else []
    )
    result = PSCustomObject()
    result.set("Count", len(values))
    result.set("Average", (sum(numbers) / len(numbers)) if p.get("Average") and numbers else None)
    result.set("Sum", sum(numbers) if p.get("Sum") else None)
    result.set("Maximum", max(numbers) if p.get("Maximum") and numbers else None)
    result.set("Minimum", min(numbers) if p.get("Minimum") and numbers else None)
    result.set("Property", ctx.to_string(name) if name is not None else None)
    return [result]


def _collect(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    common = _ctx(ctx).common
    common.setdefault("_items", [])  # type: ignore[attr-defined]
    if "InputObject" in p:
        common["_items"].append(p["InputObject"])
    return None


def _collect_begin(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    _ctx(ctx).common["_items"] = []  # type: ignore[index]
    return None


# ------------------------------------------------------------------------------------------------
# Variables, commands, modes


def _set_strict_mode(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    scope = _ctx(ctx).fr.scope
    if p.get("Off"):
        scope.strict = 0
        return None
    version = ctx.to_string(p.get("Version", "1"))
    if version.lower() == "latest":
        scope.strict = 3
        return None
    try:
        number = float(version)
    except ValueError:
        raise runtime_error(
            f"Cannot validate argument on parameter 'Version'. The \"{version}\" argument does not belong to the set.",
            "ParameterArgumentValidationError,Microsoft.PowerShell.Commands.SetStrictModeCommand",
            "InvalidData",
            exception_type="System.Management.Automation.ParameterBindingValidationException",
        ) from None
    scope.strict = int(number)
    return None


def _get_variable(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    from .engine import _MISSING

    scope = _ctx(ctx).fr.scope
    names = p.get("Name")
    out = []
    for name in cv.as_list(names) if names is not None else ["*"]:
        text = ctx.to_string(name)
        if "*" in text:
            pattern = cv.like_pattern(text)
            seen: dict[str, Any] = {}
            current: Scope | None = scope
            while current is not None:
                for key, value in current.vars.items():
                    if pattern.match(key) and key not in seen:
                        seen[key] = value
                current = current.parent
            out += [_variable_object(key, value, p) for key, value in sorted(seen.items())]
            continue
        value = scope.lookup(text.lower())
        if value is _MISSING:
            _ctx(ctx).write_error(
                ErrorRecord(
                    NetException(
                        "System.Management.Automation.ItemNotFoundException",
                        f"Cannot find a variable with the name '{text}'.",
                        base_names=(
                            "System.Management.Automation.SessionStateException",
                            "System.Management.Automation.RuntimeException",
                            "System.SystemException",
                            "System.Exception",
                        ),
                    ),
                    "VariableNotFound",
                    "ObjectNotFound",
                    text,
                )
            )
            continue
        out.append(_variable_object(text, value, p))
    return out


def _variable_object(name: str, value: Any, p: Mapping[str, Any]) -> Any:
    if p.get("ValueOnly"):
        return value
    return PSCustomObject({"Name": name, "Value": value})


def _set_variable(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    fr = _ctx(ctx).fr
    session = _session(ctx)
    name = ctx.to_string(p.get("Name")).lower()
    scope_name = ctx.to_string(p.get("Scope")).lower() if p.get("Scope") is not None else "local"
    target = session.global_scope if scope_name in ("global", "script") else fr.scope
    session.set_variable(target, name, p.get("Value"))
    return [PSCustomObject({"Name": p.get("Name"), "Value": p.get("Value")})] if p.get("PassThru") else []


def _get_command(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    from .session import CommandInfo

    session = _session(ctx)
    fr = _ctx(ctx).fr
    out = []
    for name in cv.as_list(p.get("Name")):
        text = ctx.to_string(name)
        found = session.resolve_command(fr, text)
        if found is None:
            _ctx(ctx).write_error(
                ErrorRecord(
                    NetException(
                        "System.Management.Automation.CommandNotFoundException",
                        f"The term '{text}' is not recognized as the name of a cmdlet, function, script file, or "
                        "operable program. Check the spelling of the name, or if a path was included, verify that "
                        "the path is correct and try again.",
                        base_names=(
                            "System.Management.Automation.RuntimeException",
                            "System.SystemException",
                            "System.Exception",
                        ),
                    ),
                    "CommandNotFoundException",
                    "ObjectNotFound",
                    text,
                )
            )
            continue
        kind, target = found
        if kind == "function":
            out.append(CommandInfo(target.name, "Filter" if target.filter else "Function"))
        elif kind == "cmdlet":
            out.append(CommandInfo(target.name, "Cmdlet", target.module))
        else:
            out.append(CommandInfo(target.path.rpartition("\\")[2], "Application", target.path, target))
    return out


def _get_member(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    from .members import properties_of

    session = _session(ctx)
    item = p.get("InputObject")
    seen = _ctx(ctx).common.setdefault("_types", set())  # type: ignore[attr-defined]
    type_name = cv.type_name_of(item)
    if type_name in seen:
        return []
    seen.add(type_name)
    wanted = p.get("Name")
    pattern = cv.like_pattern(ctx.to_string(wanted)) if wanted is not None else None
    out = []
    for name, value in properties_of(session, item):
        if pattern is None or pattern.match(name):
            out.append(
                PSCustomObject(
                    {
                        "TypeName": type_name,
                        "Name": name,
                        "MemberType": "Property",
                        "Definition": f"{cv.type_name_of(value)} {name}",
                    }
                )
            )
    return out


def _new_object(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    session = _session(ctx)
    type_name = ctx.to_string(p.get("TypeName"))
    if "ComObject" in p:
        raise runtime_error(
            "The lab's PowerShell does not implement New-Object -ComObject yet.", "NotImplemented", "NotImplemented"
        )
    args = p.get("ArgumentList")
    arg_list = args if isinstance(args, list) else ([] if args is None else [args])
    if type_name.lower() in ("psobject", "system.management.automation.psobject", "pscustomobject"):
        result: Any = PSCustomObject()
    else:
        try:
            ref = session.resolve_type(type_name)
        except ScriptError:
            raise runtime_error(
                f"Cannot find type [{type_name}]: verify that the assembly containing this type is loaded.",
                "TypeNotFound,Microsoft.PowerShell.Commands.NewObjectCommand",
                "InvalidType",
                exception_type="System.Management.Automation.PSArgumentException",
                target=None,
            ) from None
        from .dotnet import clm_allowed

        if session.language_mode == "ConstrainedLanguage" and not clm_allowed(ref):
            raise runtime_error(
                "Cannot create type. Only core types are supported in this language mode.",
                "CannotCreateTypeConstrainedLanguage,Microsoft.PowerShell.Commands.NewObjectCommand",
                "PermissionDenied",
                exception_type="System.Management.Automation.PSNotSupportedException",
            )
        result = session.call_method(ref, "new", arg_list, True)
    props = p.get("Property")
    if isinstance(props, Hashtable):
        for key, value in props.items():
            session.set_member(result, ctx.to_string(key), value, False)
    return [result]


def _add_type(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    session = _session(ctx)
    if session.language_mode == "ConstrainedLanguage":
        raise runtime_error(
            "Cannot add type. Definition of new types is not supported in this language mode.",
            "CannotDefineNewType,Microsoft.PowerShell.Commands.AddTypeCommand",
            "PermissionDenied",
            exception_type="System.Management.Automation.PSNotSupportedException",
        )
    raise runtime_error(
        "The lab's PowerShell does not implement Add-Type yet.",
        "NotImplemented",
        "NotImplemented",
        exception_type="System.NotImplementedException",
    )


# ------------------------------------------------------------------------------------------------
# JSON, dates, sleep


def _convertto_json(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    common = _ctx(ctx).common
    common.setdefault("_items", [])  # type: ignore[attr-defined]
    common["_items"].append(p.get("InputObject"))
    return None


def _convertto_json_end(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    from .jsonps import to_json

    items = _ctx(ctx).common.get("_items", [])
    value = items[0] if len(items) == 1 else list(items)
    if not items:
        return []
    depth = int(p.get("Depth", 2))
    return [to_json(_session(ctx), value, depth, bool(p.get("Compress")))]


def _convertfrom_json(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    common = _ctx(ctx).common
    common.setdefault("_items", [])  # type: ignore[attr-defined]
    common["_items"].append(ctx.to_string(p.get("InputObject")))
    return None


def _convertfrom_json_end(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    from .jsonps import from_json

    items = _ctx(ctx).common.get("_items", [])
    if not items:
        return []
    # 5.1 joins the input lines and parses them as one document.
    return [from_json(_session(ctx), "\n".join(items))]


_DATE_PARTS = ("Year", "Month", "Day", "Hour", "Minute", "Second", "Millisecond")


def _get_date(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    session = _session(ctx)
    value = p.get("Date")
    now: dt.datetime = session.convert(value, "datetime") if value is not None else session.host.now()
    for part in _DATE_PARTS:
        if part in p:
            number = int(p[part])
            if part == "Millisecond":
                now = now.replace(microsecond=number * 1000)
            else:
                now = now.replace(**{part.lower(): number})  # type: ignore[arg-type]
    if "Format" in p:
        return [cv.format_datetime(now, ctx.to_string(p["Format"]))]
    if "UFormat" in p:
        raise runtime_error(
            "The lab's PowerShell does not implement Get-Date -UFormat yet.", "NotImplemented", "NotImplemented"
        )
    return [now]


def _start_sleep(ctx: CommandContext, p: Mapping[str, Any]) -> None:
    seconds = float(p.get("Seconds", 0) or 0) + float(p.get("Milliseconds", 0) or 0) / 1000
    ctx.host.sleep(seconds)
    return None


def _invoke_expression(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    from .dotnet import _scriptblock_create

    session = _session(ctx)
    block = _scriptblock_create(_Holder(session), [ctx.to_string(p.get("Command"))])
    return session.invoke_block(block, [], scope=_ctx(ctx).fr.scope, dot=True)


class _Holder:
    def __init__(self, session: Session) -> None:
        self.session = session


def _invoke_command(ctx: CommandContext, p: Mapping[str, Any]) -> Iterable[Any]:
    if "ComputerName" in p or "Session" in p:
        raise runtime_error(
            "The lab's PowerShell does not implement remoting (Invoke-Command -ComputerName) yet.",
            "NotImplemented",
            "NotImplemented",
        )
    args = p.get("ArgumentList")
    return _session(ctx).invoke_block(
        p.get("ScriptBlock"), cv.as_list(args) if args is not None else [], scope=_ctx(ctx).fr.scope
    )


# ------------------------------------------------------------------------------------------------


def _spec(name: str, body: Any, params: tuple[Parameter, ...], module: str = _UTILITY, **kw: Any) -> CommandSpec:
    type_name = kw.pop("type_name", None) or f"Microsoft.PowerShell.Commands.{name.replace('-', '')}Command"
    return CommandSpec(name, body, params, type_name=type_name, module=module, **kw)


def _input(position: int | None = None, type_name: str = "object") -> Parameter:
    return Parameter("InputObject", type_name, position=position, from_pipeline=True)


@functools.cache
def engine_commands() -> tuple[CommandSpec, ...]:
    """The engine's cmdlets, with the parameters of their reference/5.1 pages (built once: specs are immutable)."""
    return (
        _spec(
            "Write-Output",
            _write_output,
            (
                Parameter("InputObject", "object", position=0, from_pipeline=True, mandatory=True),
                Parameter("NoEnumerate", "switch"),
            ),
        ),
        _spec(
            "Write-Host",
            _write_host,
            (
                Parameter("Object", "object", position=0, from_pipeline=True),
                Parameter("NoNewline", "switch"),
                Parameter("Separator", "object"),
                Parameter("ForegroundColor", "string"),
                Parameter("BackgroundColor", "string"),
            ),
        ),
        _spec(
            "Write-Warning",
            _write_warning,
            (Parameter("Message", "string", position=0, mandatory=True, from_pipeline=True, aliases=("Msg",)),),
        ),
        _spec(
            "Write-Verbose",
            _write_verbose,
            (Parameter("Message", "string", position=0, mandatory=True, from_pipeline=True, aliases=("Msg",)),),
        ),
        _spec(
            "Write-Debug",
            _write_debug,
            (Parameter("Message", "string", position=0, mandatory=True, from_pipeline=True, aliases=("Msg",)),),
        ),
        _spec(
            "Write-Error",
            _write_error,
            (
                Parameter("Message", "string", position=0, from_pipeline=True, aliases=("Msg",)),
                Parameter("Exception", "object"),
                Parameter("ErrorRecord", "object"),
                Parameter("Category", "string"),
                Parameter("ErrorId", "string"),
                Parameter("TargetObject", "object"),
                Parameter("RecommendedAction", "string"),
                Parameter("CategoryActivity", "string"),
                Parameter("CategoryReason", "string"),
                Parameter("CategoryTargetName", "string"),
                Parameter("CategoryTargetType", "string"),
            ),
            type_name="Microsoft.PowerShell.Commands.WriteErrorCommand",
        ),
        _spec(
            "Out-String",
            _out_string,
            (
                _input(),
                Parameter("Stream", "switch"),
                Parameter("Width", "int"),
            ),
            end=_out_string_end,
        ),
        _spec("Out-Null", _out_null, (_input(),), module=_CORE),
        _spec(
            "ForEach-Object",
            _foreach_object,
            (
                _input(),
                Parameter("Process", "object", position=0, mandatory=True),
                Parameter("Begin", "scriptblock"),
                Parameter("End", "scriptblock"),
                Parameter("MemberName", "string", sets=("PropertyAndMethodSet",)),
            ),
            module=_CORE,
            begin=_foreach_begin,
            end=_foreach_end,
        ),
        _spec(
            "Where-Object",
            _where_object,
            (
                _input(),
                Parameter("FilterScript", "scriptblock", position=0),
                Parameter("Property", "string", position=0),
                Parameter("Value", "object", position=1),
                *(Parameter(op, "switch") for op in _WHERE_OPERATORS),
            ),
            module=_CORE,
        ),
        _spec(
            "Select-Object",
            _select_object,
            (
                _input(),
                Parameter("Property", "object[]", position=0),
                Parameter("ExpandProperty", "string"),
                Parameter("First", "int"),
                Parameter("Last", "int"),
                Parameter("Skip", "int"),
                Parameter("Unique", "switch"),
            ),
            begin=_select_begin,
            end=_select_end,
        ),
        _spec(
            "Sort-Object",
            _collect,
            (
                _input(),
                Parameter("Property", "object[]", position=0),
                Parameter("Descending", "switch"),
                Parameter("Unique", "switch"),
                Parameter("CaseSensitive", "switch"),
            ),
            begin=_collect_begin,
            end=_sort_end,
        ),
        _spec(
            "Measure-Object",
            _collect,
            (
                _input(),
                Parameter("Property", "string", position=0),
                Parameter("Sum", "switch"),
                Parameter("Average", "switch"),
                Parameter("Maximum", "switch"),
                Parameter("Minimum", "switch"),
            ),
            begin=_collect_begin,
            end=_measure_end,
        ),
        _spec(
            "Get-Member",
            _get_member,
            (
                _input(),
                Parameter("Name", "string", position=0),
                Parameter("MemberType", "string"),
            ),
        ),
        _spec(
            "Get-Command", _get_command, (Parameter("Name", "string[]", position=0, from_pipeline=True),), module=_CORE
        ),
        _spec(
            "Set-StrictMode",
            _set_strict_mode,
            (
                Parameter("Version", "string", aliases=("v",)),
                Parameter("Off", "switch"),
            ),
            module=_CORE,
        ),
        _spec(
            "Get-Variable",
            _get_variable,
            (
                Parameter("Name", "string[]", position=0),
                Parameter("ValueOnly", "switch"),
                Parameter("Scope", "string"),
            ),
        ),
        _spec(
            "Set-Variable",
            _set_variable,
            (
                Parameter("Name", "string", position=0, mandatory=True),
                Parameter("Value", "object", position=1, from_pipeline=True),
                Parameter("Scope", "string"),
                Parameter("PassThru", "switch"),
                Parameter("Option", "string"),
                Parameter("Force", "switch"),
            ),
        ),
        _spec(
            "ConvertTo-Json",
            _convertto_json,
            (
                Parameter("InputObject", "object", position=0, mandatory=True, from_pipeline=True),
                Parameter("Depth", "int"),
                Parameter("Compress", "switch"),
            ),
            end=_convertto_json_end,
        ),
        _spec(
            "ConvertFrom-Json",
            _convertfrom_json,
            (Parameter("InputObject", "string", position=0, mandatory=True, from_pipeline=True),),
            end=_convertfrom_json_end,
        ),
        _spec(
            "Get-Date",
            _get_date,
            (
                Parameter("Date", "object", position=0, from_pipeline=True, aliases=("LastWriteTime",)),
                *(Parameter(part, "int") for part in _DATE_PARTS),
                Parameter("Format", "string"),
                Parameter("UFormat", "string"),
                Parameter("DisplayHint", "string"),
            ),
        ),
        _spec(
            "Start-Sleep",
            _start_sleep,
            (
                Parameter("Seconds", "double", position=0, aliases=("s",)),
                Parameter("Milliseconds", "int", aliases=("ms",)),
            ),
        ),
        _spec(
            "New-Object",
            _new_object,
            (
                Parameter("TypeName", "string", position=0),
                Parameter("ArgumentList", "object[]", position=1, aliases=("Args",)),
                Parameter("Property", "hashtable"),
                Parameter("ComObject", "string"),
            ),
        ),
        _spec(
            "Add-Type",
            _add_type,
            (
                Parameter("TypeDefinition", "string", position=0),
                Parameter("AssemblyName", "string[]", aliases=("AN",)),
                Parameter("MemberDefinition", "string"),
                Parameter("Name", "string"),
                Parameter("Namespace", "string"),
                Parameter("Language", "string"),
                Parameter("PassThru", "switch"),
            ),
        ),
        _spec(
            "Invoke-Expression",
            _invoke_expression,
            (Parameter("Command", "string", position=0, mandatory=True, from_pipeline=True),),
        ),
        _spec(
            "Invoke-Command",
            _invoke_command,
            (
                Parameter("ScriptBlock", "scriptblock", position=0),
                Parameter("ArgumentList", "object[]", aliases=("Args",)),
                Parameter("ComputerName", "string[]", aliases=("Cn",)),
                Parameter("Session", "object[]"),
                _input(),
            ),
            module=_CORE,
        ),
    )
