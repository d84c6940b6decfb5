"""One powershell.exe process: scopes, streams, command resolution and binding, members and conversions.

Command resolution follows about_Command_Precedence (alias, function, cmdlet, native program found by the
machine); parameter binding follows about_Parameters and about_Functions_Advanced_Parameters (unique
prefixes, positional order, switches, ``-Name:value``, splatting, pipeline input by value and by property
name); errors follow about_Preference_Variables (``$ErrorActionPreference``) and about_CommonParameters
(``-ErrorAction``); native programs follow about_Redirection for 5.1 (a redirected stderr line is an error
record, so under ``Stop`` it terminates) and about_Automatic_Variables (``$LASTEXITCODE``, ``$?``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from . import convert as cv
from .api import (
    CommandSpec,
    ErrorRecord,
    Host,
    NetEnum,
    NetException,
    NetObject,
    Parameter,
    TerminatingError,
    TypeSpec,
)
from .cmdline import native_command_line, split_windows_args
from .engine import (
    _MISSING,
    ArgItem,
    CommandNode,
    CompiledBlock,
    Extent,
    Frame,
    FunctionInfo,
    ParamDecl,
    Scope,
)
from .errors import ReturnSignal, ScriptError, runtime_error
from .values import ArrayList, Hashtable, PSCustomObject, ScriptBlock

__all__ = ["CommandInfo", "Session", "TypeRef"]

_UNSET: Any = _MISSING
"""No ``$_`` for the block (distinct from ``$_`` being $null)."""

_COMMON = {
    "erroraction": "ErrorAction",
    "ea": "ErrorAction",
    "warningaction": "WarningAction",
    "wa": "WarningAction",
    "informationaction": "InformationAction",
    "infa": "InformationAction",
    "verbose": "Verbose",
    "vb": "Verbose",
    "debug": "Debug",
    "db": "Debug",
    "errorvariable": "ErrorVariable",
    "ev": "ErrorVariable",
    "warningvariable": "WarningVariable",
    "wv": "WarningVariable",
    "informationvariable": "InformationVariable",
    "iv": "InformationVariable",
    "outvariable": "OutVariable",
    "ov": "OutVariable",
    "outbuffer": "OutBuffer",
    "ob": "OutBuffer",
    "pipelinevariable": "PipelineVariable",
    "pv": "PipelineVariable",
}
"""about_CommonParameters: names and aliases."""
_COMMON_SWITCHES = {"Verbose", "Debug"}
_ACTIONS = ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend")


class TypeRef(NetObject):
    """``[T]``: a System.RuntimeType, for static members, casts, ``-is`` and ``GetType()``."""

    TYPE_NAMES = ("System.RuntimeType", "System.Reflection.TypeInfo", "System.Type", "System.Object")

    def __init__(self, full_name: str, spec: TypeSpec | None = None) -> None:
        self.full_name = full_name
        self.spec = spec

    def ps_properties(self) -> Mapping[str, Any]:
        name = self.full_name.rpartition(".")[2]
        return {"FullName": self.full_name, "Name": name, "Namespace": self.full_name.rpartition(".")[0]}

    def ps_to_string(self) -> str:
        return self.full_name


class CommandInfo(NetObject):
    """What ``Get-Command`` returns: a cmdlet, function, alias or application."""

    TYPE_NAMES = ("System.Management.Automation.CommandInfo", "System.Object")

    def __init__(self, name: str, kind: str, source: str = "", target: Any = None) -> None:
        self.name = name
        self.kind = kind
        self.source = source
        self.target = target

    def ps_properties(self) -> Mapping[str, Any]:
        return {
            "CommandType": NetEnum("System.Management.Automation.CommandTypes", self.kind, _COMMAND_TYPES[self.kind]),
            "Name": self.name,
            "Source": self.source,
            "Path": self.source if self.kind == "Application" else None,
            "Definition": self.source or self.name,
        }

    def ps_to_string(self) -> str:
        return self.name


_COMMAND_TYPES = {"Alias": 1, "Function": 2, "Filter": 4, "Cmdlet": 8, "Application": 32}


class _Context:
    """The CommandContext a cmdlet runs with (api.CommandContext)."""

    def __init__(
        self,
        session: Session,
        fr: Frame,
        spec: CommandSpec,
        bound_set: str | None,
        common: Mapping[str, Any],
        out: list[Any],
        extent: Extent | None,
    ) -> None:
        self.session = session
        self.fr = fr
        self.spec = spec
        self._bound_set = bound_set
        self.common = common
        self.out = out
        self.extent = extent
        self.errors: list[ErrorRecord] = []
        """The errors this command wrote (for -ErrorVariable)."""

    @property
    def host(self) -> Host:
        return self.session.host

    @property
    def bound_set(self) -> str | None:
        return self._bound_set

    def write_error(self, record: ErrorRecord) -> None:
        if record.command_name is None:
            record.command_name = self.spec.name
            record._command_type = self.spec.type_name  # type: ignore[attr-defined]
        if self.extent is not None and getattr(record, "_position", None) is None:
            record._position = self.extent  # type: ignore[attr-defined]
        self.errors.append(record)
        self.session.write_error(self.fr, record, self.common.get("ErrorAction"), self.out)

    def write_warning(self, message: str) -> None:
        self.session.write_warning(self.fr, message, self.common.get("WarningAction"))

    def write_verbose(self, message: str) -> None:
        if self.common.get("Verbose") or self.session.preference(self.fr, "VerbosePreference") == "Continue":
            self.session.write_stream("verbose", f"VERBOSE: {message}")

    def invoke(self, block: Any, args: Sequence[Any] = (), *, dollar_under: Any = None) -> list[Any]:
        return self.session.invoke_block(block, list(args), dollar_under=dollar_under, scope=self.fr.scope)

    def get_variable(self, name: str) -> Any:
        value = self.fr.scope.lookup(name.lower())
        return None if value is _MISSING else value

    def convert(self, value: Any, type_name: str) -> Any:
        return self.session.convert(value, type_name)

    def to_string(self, value: Any) -> str:
        return self.session.to_string(value)


class Session:
    """The interpreter state of one powershell.exe process on a :class:`Host`."""

    def __init__(self, host: Host, *, stdin: str | None = None, clixml: bool = False) -> None:
        from . import cmdlets, dotnet

        self.host = host
        self.stdin = stdin
        self.clixml = clixml
        self.calls: list[tuple[str, Extent]] = []
        """The functions running, innermost last, with where each was called (for Write-Error's record)."""
        self.before_write: Callable[[], None] | None = None
        """Called before anything is written to stdout (the console's pending table goes first)."""
        self.global_scope = Scope(None)
        self.dollar_q = True
        self.try_depth = 0
        self.strict_level = 0
        """StrictMode of the scope running the current member access (set by the compiled code)."""
        self.stdout: list[str] = []
        self.streams: list[tuple[str, str]] = []
        """Everything written to stderr and the non-output streams, in order: (kind, text) with kind
        ``error``, ``warning``, ``verbose``, ``raw`` (a native program's own stderr)."""
        self.error_list = ArrayList()
        self._error_redirect: list[str | None] = []
        self.language_mode = host.language_mode
        self.console = host.console
        self.output_encoding = "IBM437"
        self.cmdlets: dict[str, CommandSpec] = {}
        self.aliases: dict[str, str] = dict(cmdlets.ALIASES)
        for spec in cmdlets.engine_commands():
            self._add_command(spec)
        for spec in host.commands():
            self._add_command(spec)
        self.types: dict[str, TypeSpec] = {}
        for tspec in dotnet.engine_types():
            self._add_type(tspec)
        for tspec in host.types():
            self._add_type(tspec)
        self._init_variables()

    # -- registries ---------------------------------------------------------------------------

    def _add_command(self, spec: CommandSpec) -> None:
        self.cmdlets[spec.name.lower()] = spec
        for alias in spec.aliases:
            self.aliases[alias.lower()] = spec.name

    def _add_type(self, spec: TypeSpec) -> None:
        names = {spec.full_name, *spec.accelerators}
        if spec.full_name.startswith("System."):
            names.add(spec.full_name[len("System.") :])
        for name in names:
            self.types[name.lower()] = spec

    def _init_variables(self) -> None:
        from .dotnet import execution_context, version_table

        env = self.host.environment()
        home = _env_lookup(env, "USERPROFILE") or self.host.current_directory
        values: dict[str, Any] = {
            "erroractionpreference": "Continue",
            "warningpreference": "Continue",
            "verbosepreference": "SilentlyContinue",
            "debugpreference": "SilentlyContinue",
            "progresspreference": "Continue",
            "informationpreference": "SilentlyContinue",
            "confirmpreference": "High",
            "whatifpreference": False,
            "psversiontable": version_table(self.host),
            "executioncontext": execution_context(self),
            "error": self.error_list,
            "home": home,
            "pshome": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
            "pwd": self.host.current_directory,
            "pid": 4242,
            "ofs": " ",
            "maximumhistorycount": 4096,
            "nestedpromptlevel": 0,
            "psculture": "en-US",
            "psuiculture": "en-US",
            "shellid": "Microsoft.PowerShell",
            "true": True,
            "false": False,
        }
        self.global_scope.vars.update(values)

    # -- variables ----------------------------------------------------------------------------

    def set_variable(self, scope: Scope, key: str, value: Any) -> None:
        if key == "erroractionpreference" and value is not None:
            text = self.to_string(value)
            if text.lower() not in {a.lower() for a in _ACTIONS}:
                raise cv.invalid_cast(
                    value,
                    "System.Management.Automation.ActionPreference",
                    "Unable to match the identifier name "
                    f"{text} to a valid enumerator name. Specify one of the following enumerator names and try "
                    "again:\nSilentlyContinue, Stop, Continue, Inquire, Ignore, Suspend",
                )
        scope.vars[key] = value

    def missing_variable(self, fr: Frame, name: str, extent: Extent | None) -> Any:
        if fr.scope.strict >= 1:
            error = runtime_error(
                f"The variable '${name}' cannot be retrieved because it has not been set.",
                "VariableIsUndefined",
                "InvalidOperation",
                target=name,
            )
            if extent is not None:
                error.record._position = extent  # type: ignore[attr-defined]
            raise error
        return None

    def get_env(self, name: str) -> Any:
        value = _env_lookup(self.host.environment(), name)
        return value

    def set_env(self, name: str, value: Any) -> None:
        env = self.host.environment()
        existing = next((k for k in env if k.lower() == name.lower()), name)
        if value is None or value == "":
            env.pop(existing, None)
        else:
            env[existing] = self.to_string(value)

    def preference(self, fr: Frame, name: str) -> str:
        value = fr.scope.lookup(name.lower())
        return "Continue" if value is _MISSING or value is None else self.to_string(value)

    def stops(self, fr: Frame) -> bool:
        return self.preference(fr, "ErrorActionPreference").lower() == "stop"

    def function_block(self, name: str) -> Any:
        info = self.global_scope.find_function(name.lower())
        return ScriptBlock(info.block.text, info.block, info.block.params) if info else None

    # -- streams ------------------------------------------------------------------------------

    def write_stdout(self, text: str) -> None:
        if self.before_write is not None:
            self.before_write()
        self.stdout.append(text)

    def write_stream(self, kind: str, text: str) -> None:
        """Write to the error, warning or verbose stream (or a native program's raw stderr). Without CLIXML,
        the console host shows warning and verbose lines on stdout, as it shows Write-Host."""
        if not text.endswith("\n"):
            text += "\n"
        self.streams.append((kind, text))
        if kind in ("warning", "verbose") and not self.clixml:
            self.write_stdout(text)

    def add_error(self, record: ErrorRecord) -> None:
        if not self.error_list or self.error_list[0] is not record:
            self.error_list.insert(0, record)
            del self.error_list[256:]

    def report_error(self, record: ErrorRecord, fr: Frame | None = None) -> None:
        """An error nobody caught: into ``$Error`` and onto the error stream, as the host shows it."""
        from .formatting import error_text

        self.add_error(record)
        self.write_stream("error", error_text(self, record))

    def write_error(self, fr: Frame, record: ErrorRecord, action: Any, out: list[Any] | None) -> None:
        """A non-terminating error under ``-ErrorAction``/``$ErrorActionPreference``."""
        choice = self.to_string(action) if action is not None else self.preference(fr, "ErrorActionPreference")
        choice = choice.lower()
        self.dollar_q = False
        if choice == "stop":
            raise ScriptError(record, fatal=True)
        if choice == "ignore":
            return
        self.add_error(record)
        if choice == "silentlycontinue":
            return
        redirect = self._error_redirect[-1] if self._error_redirect else None
        if redirect == "null":
            return
        if redirect == "out" and out is not None:
            out.append(record)
            return
        from .formatting import error_text

        self.write_stream("error", error_text(self, record))

    def write_warning(self, fr: Frame, message: str, action: Any) -> None:
        choice = self.to_string(action) if action is not None else self.preference(fr, "WarningPreference")
        if choice.lower() in ("silentlycontinue", "ignore"):
            return
        if choice.lower() == "stop":
            raise runtime_error(
                'The running command stopped because the preference variable "WarningPreference" or common '
                f"parameter is set to Stop: {message}",
                "ActionPreferenceStop",
                "OperationStopped",
                exception_type="System.Management.Automation.ActionPreferenceStopException",
                fatal=True,
            )
        self.write_stream("warning", f"WARNING: {message}")

    # -- conversions --------------------------------------------------------------------------

    def to_string(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        ofs = self.global_scope.vars.get("ofs", " ")
        return cv.to_string(value, ofs if isinstance(ofs, str) else " ")

    def convert(self, value: Any, type_name: str) -> Any:
        from .dotnet import convert_to

        return convert_to(self, value, type_name)

    def try_convert(self, value: Any, type_name: Any) -> Any:
        name = type_name.full_name if isinstance(type_name, TypeRef) else self.to_string(type_name)
        try:
            return self.convert(value, name)
        except TerminatingError:
            return None

    def is_type(self, value: Any, type_name: Any) -> bool:
        from .dotnet import is_instance

        name = type_name.full_name if isinstance(type_name, TypeRef) else self.to_string(type_name)
        return is_instance(self, value, name)

    def resolve_type(self, name: str) -> TypeRef:
        from .dotnet import resolve_type

        return resolve_type(self, name)

    def type_full_name(self, name: str) -> str:
        try:
            return self.resolve_type(name).full_name
        except ScriptError:
            return name

    # -- members ------------------------------------------------------------------------------

    def get_member(self, obj: Any, name: str, static: bool, extent: Extent | None = None) -> Any:
        from .members import get_member

        return get_member(self, obj, name, static, extent)

    def set_member(self, obj: Any, name: str, value: Any, static: bool) -> None:
        from .members import set_member

        set_member(self, obj, name, value, static)

    def call_method(self, obj: Any, name: str, args: list[Any], static: bool, extent: Extent | None = None) -> Any:
        from .members import call_method

        return call_method(self, obj, name, args, static, extent)

    def get_index(self, obj: Any, index: Any) -> Any:
        from .members import get_index

        return get_index(self, obj, index)

    def set_index(self, obj: Any, index: Any, value: Any) -> None:
        from .members import set_index

        set_index(self, obj, index, value)

    # -- script blocks ------------------------------------------------------------------------

    def invoke_block(
        self,
        block: Any,
        args: list[Any],
        *,
        dollar_under: Any = _UNSET,
        scope: Scope | None = None,
        dot: bool = False,
        input_objects: list[Any] | None = None,
    ) -> list[Any]:
        """Run a script block with positional ``args`` (``$args`` or its ``param()``) and return its output."""
        if not isinstance(block, ScriptBlock):
            raise cv.invalid_cast(block, "System.Management.Automation.ScriptBlock")
        parent = scope or self.global_scope
        fr = Frame(self, parent if dot else Scope(parent))
        if dollar_under is not _UNSET:
            fr.scope.vars["_"] = dollar_under
        out: list[Any] = []
        items = [ArgItem("value", value=a, has_value=True) for a in args]
        self.run_block(fr, block.body, items, input_objects, out, "", None)
        return out

    def run_block(
        self,
        fr: Frame,
        block: CompiledBlock,
        items: list[ArgItem],
        input_objects: list[Any] | None,
        out: list[Any],
        name: str,
        extent: Extent | None,
        is_filter: bool = False,
    ) -> None:
        self.bind_script_params(fr, block, items, name, extent)
        if input_objects is not None and block.params:
            pipeline_params = [p for p in block.params if p.from_pipeline]
        else:
            pipeline_params = []
        try:
            if block.begin is not None:
                block.begin(fr, out)
        except ReturnSignal:
            pass
        if block.process is not None:
            for item in input_objects if input_objects is not None else [_MISSING]:
                if item is not _MISSING:
                    fr.scope.vars["_"] = item
                    for param in pipeline_params:
                        fr.scope.vars[param.name.lower()] = self._convert_param(param, item, name)
                try:
                    block.process(fr, out)
                except ReturnSignal:
                    pass
        else:
            fr.scope.vars["input"] = list(input_objects or [])
            if input_objects is None and fr.scope is self.global_scope and self.stdin is not None:
                # powershell.exe -Command: $input enumerates the lines of a redirected stdin (about_PowerShell_exe).
                fr.scope.vars["input"] = self.stdin.replace("\r\n", "\n").split("\n")[:-1] if self.stdin else []
            if input_objects and pipeline_params:
                for param in pipeline_params:
                    fr.scope.vars[param.name.lower()] = self._convert_param(param, input_objects[-1], name)
        try:
            if block.end is not None:
                block.end(fr, out)
        except ReturnSignal:
            pass

    def bind_script_params(
        self, fr: Frame, block: CompiledBlock, items: list[ArgItem], name: str, extent: Extent | None
    ) -> None:
        """Bind arguments to a script block's or function's ``param()`` (about_Functions_Advanced_Parameters)."""
        items = self._expand_splats(items)
        params = block.params or []
        bound, positional, unbound_args, common = self._bind_named(block, items, name)
        self._bind_positional(block, bound, positional, unbound_args, name)
        missing = [p.name for p in params if p.mandatory and p.name not in bound and not p.from_pipeline]
        if missing:
            raise runtime_error(
                "Cannot process command because of one or more missing mandatory parameters: "
                + " ".join(missing)
                + ".",
                "MissingMandatoryParameter" + (f",{name}" if name else ""),
                "InvalidArgument",
                exception_type="System.Management.Automation.ParameterBindingException",
            )
        scope = fr.scope
        for param in params:
            key = param.name.lower()
            if param.name in bound:
                scope.vars[key] = bound[param.name]
            elif param.default is not None:
                scope.vars[key] = self._convert_param(param, param.default(fr), name)
            elif param.switch:
                scope.vars[key] = False
            elif param.type_name is not None:
                scope.vars[key] = self._convert_param(param, None, name)
            else:
                scope.vars[key] = None
        scope.vars["psboundparameters"] = bound
        scope.vars["args"] = unbound_args
        if "ErrorAction" in common:
            scope.vars["erroractionpreference"] = common["ErrorAction"]
        if common.get("Verbose"):
            scope.vars["verbosepreference"] = "Continue"
        if "WarningAction" in common:
            scope.vars["warningpreference"] = common["WarningAction"]

    def _bind_named(
        self, block: CompiledBlock, items: list[ArgItem], name: str
    ) -> tuple[Hashtable, list[Any], list[Any], dict[str, Any]]:
        """The named arguments bound (``$PSBoundParameters``), the positional values left, what a simple
        function passes on in ``$args``, and the common parameters of an advanced one."""
        params = block.params or []
        bound: Hashtable = Hashtable()
        positional: list[Any] = []
        unbound_args: list[Any] = []
        common: dict[str, Any] = {}
        index = 0
        while index < len(items):
            item = items[index]
            if item.kind != "param":
                positional.append(item.value)
                index += 1
                continue
            param = _match_param(params, item.name)
            if param is None and block.advanced and item.name.lower() in _COMMON:
                key = _COMMON[item.name.lower()]
                if key in _COMMON_SWITCHES:
                    common[key] = cv.is_true(item.value) if item.has_value else True
                else:
                    value, index = self._param_value(items, index, item, key, name)
                    common[key] = value
            elif param is None:
                if block.advanced:
                    raise _parameter_not_found(item.name, name)
                # A simple function passes unknown parameters on in $args (about_Functions).
                unbound_args.append(item.text + (":" if item.colon else ""))
                if item.has_value:
                    unbound_args.append(item.value)
            elif param.switch:
                bound[param.name] = cv.is_true(item.value) if item.has_value else True
            else:
                value, index = self._param_value(items, index, item, param.name, name, param.type_name)
                bound[param.name] = self._convert_param(param, value, name)
            index += 1
        return bound, positional, unbound_args, common

    def _bind_positional(
        self, block: CompiledBlock, bound: Hashtable, positional: list[Any], unbound_args: list[Any], name: str
    ) -> None:
        """Positional values to the parameters not bound by name, by position; the rest go to ``$args``
        (a simple function) or are refused (an advanced one)."""
        slots = [p for p in block.params or [] if p.name not in bound and not p.switch]
        slots.sort(key=lambda p: (p.position is None, p.position or 0))
        for value in positional:
            if slots:
                param = slots.pop(0)
                bound[param.name] = self._convert_param(param, value, name)
            elif block.advanced:
                raise runtime_error(
                    f"A positional parameter cannot be found that accepts argument '{self.to_string(value)}'.",
                    "PositionalParameterNotFound" + (f",{name}" if name else ""),
                    "InvalidArgument",
                    exception_type="System.Management.Automation.ParameterBindingException",
                    target=value,
                )
            else:
                unbound_args.append(value)

    def _param_value(
        self, items: list[ArgItem], index: int, item: ArgItem, param: str, command: str, type_name: str | None = None
    ) -> tuple[Any, int]:
        if item.has_value:
            return item.value, index
        if index + 1 < len(items) and items[index + 1].kind == "value":
            return items[index + 1].value, index + 1
        shown = _type_display(type_name)
        raise runtime_error(
            f"Missing an argument for parameter '{param}'. Specify a parameter of type '{shown}' and try again.",
            "MissingArgument" + (f",{command}" if command else ""),
            "InvalidArgument",
            exception_type="System.Management.Automation.ParameterBindingException",
        )

    def _convert_param(self, param: ParamDecl, value: Any, command: str) -> Any:
        if param.type_name is None:
            return value
        return self.convert_argument(param.name, param.type_name, value, command)

    def convert_argument(self, pname: str, type_name: str, value: Any, command: str) -> Any:
        """A parameter's argument converted to its declared type, with the binder's error text."""
        lowered = type_name.lower()
        if lowered in ("bool", "boolean", "system.boolean") and not isinstance(
            value, bool | int | float | Decimal | None
        ):
            raise runtime_error(
                f"Cannot process argument transformation on parameter '{pname}'. Cannot convert value "
                f'"{cv.type_name_of(value)}" to type "System.Boolean". Boolean parameters accept only Boolean '
                "values and numbers, such as $True, $False, 1 or 0.",
                "ParameterArgumentTransformationError" + (f",{command}" if command else ""),
                "InvalidData",
                exception_type="System.Management.Automation.ParameterBindingArgumentTransformationException",
            )
        try:
            return self.convert(value, type_name)
        except ScriptError as error:
            raise runtime_error(
                f"Cannot process argument transformation on parameter '{pname}'. {error.record.exception.message}",
                "ParameterArgumentTransformationError" + (f",{command}" if command else ""),
                "InvalidData",
                exception_type="System.Management.Automation.ParameterBindingArgumentTransformationException",
            ) from None

    def _expand_splats(self, items: list[ArgItem]) -> list[ArgItem]:
        if not any(i.kind == "splat" for i in items):
            return items
        result: list[ArgItem] = []
        for item in items:
            if item.kind != "splat":
                result.append(item)
            elif isinstance(item.value, Hashtable):
                for key, value in item.value.items():
                    name = self.to_string(key)
                    result.append(ArgItem("param", name=name, text="-" + name, value=value, colon=True, has_value=True))
            else:
                result.extend(ArgItem("value", value=v, has_value=True) for v in cv.as_list(item.value))
        return result

    # -- commands -----------------------------------------------------------------------------

    def run_command(self, fr: Frame, node: CommandNode, data: list[Any] | None, out: list[Any]) -> None:
        if node.invocation == "value":
            assert node.name_expr is not None
            value = node.name_expr(fr)
            out.extend(cv.as_list(value)) if isinstance(value, list) else out.append(value)
            return
        items: list[ArgItem] = []
        for element in node.elements:
            items.extend(element(fr))
        target: Any = node.name if node.name_expr is None else node.name_expr(fr)
        redirect = self._redirect_mode(fr, node)
        self._error_redirect.append(redirect.get("2"))
        try:
            self._dispatch(fr, node, target, items, data, out, redirect)
        finally:
            self._error_redirect.pop()

    def _redirect_mode(self, fr: Frame, node: CommandNode) -> dict[str, str]:
        modes: dict[str, str] = {}
        for redirection in node.redirections:
            if redirection.merge:
                modes[redirection.stream if redirection.stream != "*" else "2"] = "out"
                continue
            target = redirection.target(fr) if redirection.target is not None else None
            if target is not None:
                raise runtime_error(
                    "The lab's PowerShell does not implement redirection to a file yet.",
                    "NotImplemented",
                    "NotImplemented",
                    exception_type="System.NotImplementedException",
                )
            modes["2" if redirection.stream in ("2", "*") else redirection.stream] = "null"
            if redirection.stream == "*":
                modes["1"] = "null"
        return modes

    def _dispatch(
        self,
        fr: Frame,
        node: CommandNode,
        target: Any,
        items: list[ArgItem],
        data: list[Any] | None,
        out: list[Any],
        redirect: Mapping[str, str],
    ) -> None:
        sink = [] if redirect.get("1") == "null" else out
        if isinstance(target, ScriptBlock):
            scope = fr.scope if node.invocation == "." else Scope(fr.scope)
            self.run_block(Frame(self, scope), target.body, items, data, sink, "", node.extent)
            return
        if isinstance(target, CommandInfo):
            target = target.name if target.kind != "Application" else target.source
        name = self.to_string(target)
        info = self.resolve_command(fr, name)
        if info is None:
            raise _not_recognized(name, node.extent)
        kind, found = info
        if kind == "function":
            assert isinstance(found, FunctionInfo)
            scope = fr.scope if node.invocation == "." else Scope(fr.scope)
            self.calls.append((found.name, node.extent))
            try:
                self.run_block(
                    Frame(self, scope), found.block, items, data, sink, found.name, node.extent, found.filter
                )
            finally:
                self.calls.pop()
            return
        if kind == "cmdlet":
            assert isinstance(found, CommandSpec)
            self.run_cmdlet(fr, found, items, data, sink, node.extent)
            return
        self.run_native(fr, found, name, items, data, sink, redirect, node.extent)

    def resolve_command(self, fr: Frame, name: str) -> tuple[str, Any] | None:
        """about_Command_Precedence: alias, function, cmdlet, then a program the machine finds."""
        key = name.lower()
        alias = self.aliases.get(key)
        if alias is not None:
            key = alias.lower()
        function = fr.scope.find_function(key)
        if function is not None:
            return "function", function
        spec = self.cmdlets.get(key)
        if spec is None and "\\" in key:
            spec = self.cmdlets.get(
                key.rpartition("\\")[2]
            )  # Module-qualified: Microsoft.PowerShell.Utility\Write-Output
        if spec is not None:
            return "cmdlet", spec
        program = self.host.find_program(alias or name)
        if program is not None:
            return "native", program
        return None

    def run_cmdlet(
        self,
        fr: Frame,
        spec: CommandSpec,
        items: list[ArgItem],
        data: list[Any] | None,
        out: list[Any],
        extent: Extent | None,
    ) -> None:
        items = self._expand_splats(items)
        bound, common, pipeline = self.bind_cmdlet(spec, items)
        if spec.requires_elevation and not self.host.elevated:
            # A copy: the spec's record is shared by every session, and the interpreter annotates the one it raises.
            shared = spec.elevation_error
            record = (
                dataclasses.replace(shared)
                if shared is not None
                else ErrorRecord(
                    NetException("System.UnauthorizedAccessException", "Access is denied."),
                    "AccessDenied",
                    "PermissionDenied",
                )
            )
            record.command_name = record.command_name or spec.name
            record._command_type = spec.type_name  # type: ignore[attr-defined]
            if extent is not None:
                record._position = extent  # type: ignore[attr-defined]
            raise TerminatingError(record)
        bound_set = _choose_set(spec, bound)
        context = _Context(self, fr, spec, bound_set, common, out, extent)
        out_variable = common.get("OutVariable")
        start = len(out)
        try:
            self._run_cmdlet_body(spec, context, bound, pipeline, data, out)
        finally:
            self._set_error_variable(fr, common.get("ErrorVariable"), context.errors)
        if isinstance(out_variable, str):
            fr.scope.vars[out_variable.lower()] = list(out[start:])

    def _set_error_variable(self, fr: Frame, name: Any, errors: list[ErrorRecord]) -> None:
        """-ErrorVariable name (``+name`` appends), as about_CommonParameters describes it."""
        if name is None:
            return
        text = self.to_string(name)
        key = text.lstrip("+").lower()
        existing = fr.scope.lookup(key) if text.startswith("+") else _MISSING
        collected = ArrayList(cv.as_list(existing) if existing is not _MISSING else [])
        collected.extend(errors)
        fr.scope.vars[key] = collected

    def _run_cmdlet_body(
        self,
        spec: CommandSpec,
        context: _Context,
        bound: dict[str, Any],
        pipeline: list[Parameter],
        data: list[Any] | None,
        out: list[Any],
    ) -> None:
        extent = context.extent
        bound_set = context.bound_set
        try:
            if spec.begin is not None:
                _emit(spec.begin(context, bound), out)
            if data is not None and pipeline:
                for item in data:
                    per_item = dict(bound)
                    if not self._bind_pipeline(spec, pipeline, per_item, item):
                        continue
                    _emit(spec.body(context, per_item), out)
            elif data is not None and data and not pipeline:
                raise runtime_error(
                    "The input object cannot be bound to any parameters for the command either because the command "
                    "does not take pipeline input or the input and its properties do not match any of the parameters "
                    "that take pipeline input.",
                    f"InputObjectNotBound,{spec.type_name}",
                    "InvalidArgument",
                    exception_type="System.Management.Automation.ParameterBindingException",
                    target=data[0],
                )
            else:
                missing = [
                    p.name
                    for p in spec.parameters
                    if p.mandatory
                    and p.name not in bound
                    and _in_set(p, bound_set)
                    and not (p.from_pipeline and data is not None)
                ]
                if missing:
                    raise runtime_error(
                        "Cannot process command because of one or more missing mandatory parameters: "
                        + " ".join(missing)
                        + ".",
                        f"MissingMandatoryParameter,{spec.type_name}",
                        "InvalidArgument",
                        exception_type="System.Management.Automation.ParameterBindingException",
                    )
                _emit(spec.body(context, bound), out)
            if spec.end is not None:
                _emit(spec.end(context, bound), out)
        except TerminatingError as error:
            if error.record.command_name is None:
                error.record.command_name = spec.name
                error.record._command_type = spec.type_name  # type: ignore[attr-defined]
            if extent is not None and getattr(error.record, "_position", None) is None:
                error.record._position = extent  # type: ignore[attr-defined]
            raise

    def bind_cmdlet(
        self, spec: CommandSpec, items: list[ArgItem]
    ) -> tuple[dict[str, Any], dict[str, Any], list[Parameter]]:
        """Bind a cmdlet's arguments (about_Parameters): names and aliases by unique prefix, then positions."""
        bound: dict[str, Any] = {}
        common: dict[str, Any] = {}
        positional: list[Any] = []
        index = 0
        while index < len(items):
            item = items[index]
            if item.kind == "param":
                param = _match_spec_param(spec, item.name)
                if param is None:
                    key = _COMMON.get(item.name.lower())
                    if key is None:
                        raise _parameter_not_found(item.name, spec.type_name)
                    if key in _COMMON_SWITCHES:
                        common[key] = cv.is_true(item.value) if item.has_value else True
                    else:
                        value, index = self._param_value(items, index, item, key, spec.type_name)
                        common[key] = self.to_string(value) if key != "ErrorVariable" else value
                    index += 1
                    continue
                if param.type == "switch":
                    bound[param.name] = cv.is_true(item.value) if item.has_value else True
                else:
                    value, index = self._param_value(items, index, item, param.name, spec.type_name, param.type)
                    bound[param.name] = self.convert_argument(param.name, param.type, value, spec.type_name)
            else:
                positional.append(item.value)
            index += 1
        slots = sorted((p for p in spec.parameters if p.position is not None), key=lambda p: p.position or 0)
        taken: set[int] = {p.position for p in spec.parameters if p.name in bound and p.position is not None}
        for value in positional:
            candidates = [p for p in slots if p.name not in bound and p.position not in taken]
            if not candidates:
                raise runtime_error(
                    f"A positional parameter cannot be found that accepts argument '{self.to_string(value)}'.",
                    f"PositionalParameterNotFound,{spec.type_name}",
                    "InvalidArgument",
                    exception_type="System.Management.Automation.ParameterBindingException",
                    target=value,
                )
            # Parameters sharing a position belong to different sets: the first whose type accepts the value wins.
            same = [p for p in candidates if p.position == candidates[0].position]
            for number, slot in enumerate(same):
                try:
                    bound[slot.name] = self.convert_argument(slot.name, slot.type, value, spec.type_name)
                    break
                except ScriptError:
                    if number == len(same) - 1:
                        raise
            taken.add(candidates[0].position or 0)
        if "ErrorAction" in common and common["ErrorAction"].lower() not in {a.lower() for a in _ACTIONS}:
            raise runtime_error(
                f"Cannot bind parameter 'ErrorAction'. Cannot convert value \"{common['ErrorAction']}\" to type "
                '"System.Management.Automation.ActionPreference". Error: "Unable to match the identifier name '
                f"{common['ErrorAction']} to a valid enumerator name. Specify one of the following enumerator names "
                'and try again:\nSilentlyContinue, Stop, Continue, Inquire, Ignore, Suspend"',
                f"CannotConvertArgumentNoMessage,{spec.type_name}",
                "InvalidArgument",
                exception_type="System.Management.Automation.ParameterBindingException",
            )
        pipeline = [p for p in spec.parameters if (p.from_pipeline or p.from_pipeline_by_name) and p.name not in bound]
        return bound, common, pipeline

    def _bind_pipeline(self, spec: CommandSpec, pipeline: list[Parameter], bound: dict[str, Any], item: Any) -> bool:
        for param in pipeline:
            if param.from_pipeline:
                try:
                    bound[param.name] = self.convert(item, param.type) if param.type != "object" else item
                    return True
                except ScriptError:
                    continue
        for param in pipeline:
            if param.from_pipeline_by_name:
                for name in (param.name, *param.aliases):
                    found, value = _property_of(self, item, name)
                    if found:
                        bound[param.name] = self.convert(value, param.type)
                        break
        return True

    def run_native(
        self,
        fr: Frame,
        program: Any,
        name: str,
        items: list[ArgItem],
        data: list[Any] | None,
        out: list[Any],
        redirect: Mapping[str, str],
        extent: Extent | None,
    ) -> None:
        """A native program (about_Parsing, about_Redirection for Windows PowerShell 5.1)."""
        args: list[str] = []
        for item in self._expand_splats(items):
            if item.kind == "param":
                text = item.text + (":" if item.colon else "")
                if item.has_value:
                    args.append(text + "".join(self.to_string(v) for v in cv.as_list(item.value)))
                else:
                    args.append(text)
            else:
                values = item.value if isinstance(item.value, list) else [item.value]
                args.extend(self.to_string(v) for v in values)
        # argv[0] is the program, as a C runtime parses it out of the command line (api.NativeProgram).
        argv = split_windows_args(native_command_line([program.path, *args]))
        stdin = None
        if data is not None:
            stdin = "".join(self.to_string(v) + "\r\n" for v in data)
        result = program.run(argv, stdin, self.host)
        self.global_scope.vars["lastexitcode"] = result.exit_code
        # In write order when the program says it (api.NativeResult.chunks): 2>&1 interleaves them so.
        for stream, text in result.chunks or (("stdout", result.stdout), ("stderr", result.stderr)):
            if stream == "stdout":
                if redirect.get("1") != "null":
                    out.extend(_lines(text))
                continue
            if not text:
                continue
            mode = redirect.get("2")
            if mode is None:
                self.write_stream("raw", text)
            else:
                for line in _lines(text):
                    exception = NetException(
                        "System.Management.Automation.RemoteException",
                        line,
                        base_names=(
                            "System.Management.Automation.RuntimeException",
                            "System.SystemException",
                            "System.Exception",
                        ),
                    )
                    record = ErrorRecord(exception, "NativeCommandError", "NotSpecified", line, command_name=name)
                    if extent is not None:
                        record._position = extent  # type: ignore[attr-defined]
                    self.write_error(fr, record, None, out)
        self.dollar_q = result.exit_code == 0


# ------------------------------------------------------------------------------------------------
# Helpers


def _env_lookup(env: Mapping[str, str], name: str) -> str | None:
    if name in env:
        return env[name]
    lowered = name.lower()
    for key, value in env.items():
        if key.lower() == lowered:
            return value
    return None


def _lines(text: str) -> list[str]:
    if not text:
        return []
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _emit(result: Iterable[Any] | None, out: list[Any]) -> None:
    if result is None:
        return
    for item in result:
        out.append(item)


def _match_param(params: Sequence[ParamDecl], name: str) -> ParamDecl | None:
    lowered = name.lower()
    for param in params:
        if param.name.lower() == lowered or lowered in (a.lower() for a in param.aliases):
            return param
    matches = [p for p in params if p.name.lower().startswith(lowered)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise _ambiguous(name, [p.name for p in matches])
    return None


def _match_spec_param(spec: CommandSpec, name: str) -> Parameter | None:
    lowered = name.lower()
    for param in spec.parameters:
        if param.name.lower() == lowered or lowered in (a.lower() for a in param.aliases):
            return param
    matches = [p for p in spec.parameters if p.name.lower().startswith(lowered)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        if lowered in _COMMON:
            return None
        raise _ambiguous(name, [p.name for p in matches], spec.type_name)
    return None


def _ambiguous(name: str, names: list[str], command: str = "") -> ScriptError:
    return runtime_error(
        f"Parameter cannot be processed because the parameter name '{name}' is ambiguous. Possible matches include: "
        + " ".join("-" + n for n in names)
        + ".",
        "AmbiguousParameter" + (f",{command}" if command else ""),
        "InvalidArgument",
        exception_type="System.Management.Automation.ParameterBindingException",
    )


def _parameter_not_found(name: str, command: str) -> ScriptError:
    return runtime_error(
        f"A parameter cannot be found that matches parameter name '{name}'.",
        "NamedParameterNotFound" + (f",{command}" if command else ""),
        "InvalidArgument",
        exception_type="System.Management.Automation.ParameterBindingException",
        target=name,
    )


def _not_recognized(name: str, extent: Extent | None) -> ScriptError:
    error = runtime_error(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable program. "
        "Check the spelling of the name, or if a path was included, verify that the path is correct and try again.",
        "CommandNotFoundException",
        "ObjectNotFound",
        exception_type="System.Management.Automation.CommandNotFoundException",
        target=name,
    )
    error.record._invoked = name  # type: ignore[attr-defined]
    if extent is not None:
        error.record._position = extent  # type: ignore[attr-defined]
    return error


def _type_display(type_name: str | None) -> str:
    if type_name is None:
        return "System.Object"
    names = {"string": "System.String", "int": "System.Int32", "bool": "System.Boolean", "string[]": "System.String[]"}
    return names.get(type_name.lower(), type_name)


def _choose_set(spec: CommandSpec, bound: Mapping[str, Any]) -> str | None:
    for param in spec.parameters:
        if param.name in bound and param.sets:
            return param.sets[0]
    return spec.default_set


def _in_set(param: Parameter, bound_set: str | None) -> bool:
    return not param.sets or bound_set is None or bound_set in param.sets


def _property_of(session: Session, item: Any, name: str) -> tuple[bool, Any]:
    if isinstance(item, Hashtable):
        return (name in item, item.get(name))
    if isinstance(item, PSCustomObject):
        return item.get(name)
    if isinstance(item, NetObject):
        for key, value in item.ps_properties().items():
            if key.lower() == name.lower():
                return True, value
    return False, None
