"""The contract between the PowerShell interpreter and the Windows machine it runs on.

The interpreter (``provision_lab.powershell``) knows the language: parsing, scopes, operators,
conversions, pipelines, errors, the engine-level cmdlets (Write-Output, ForEach-Object,
ConvertTo-Json, ...) and the .NET types that need no machine (string, int, hashtable, DateTime,
Math, Text.Encoding, ...). The machine (``provision_lab.windows``) knows Windows: the file system,
registry, services, features, CIM, users, processes and the native programs, and gives the
interpreter the cmdlets and .NET types that act on it. Neither side knows anything of the product
that sends the scripts: a script is only PowerShell.

This module is the only thing both sides import from each other. It holds:

- the value model both sides exchange (:class:`NetObject`, :class:`NetEnum`, and the Python types
  listed in :data:`VALUE_TYPES_DOC`);
- errors as PowerShell has them (:class:`NetException`, :class:`ErrorRecord`,
  :class:`TerminatingError`);
- commands and their parameters (:class:`Parameter`, :class:`CommandSpec`), the context a command
  runs in (:class:`CommandContext`), .NET types with static members (:class:`TypeSpec`);
- native programs (:class:`NativeProgram`, :class:`NativeResult`) and the session's host
  (:class:`Host`), which is what the machine implements for one powershell.exe process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "VALUE_TYPES_DOC",
    "CommandContext",
    "CommandSpec",
    "ErrorRecord",
    "Host",
    "NativeProgram",
    "NativeResult",
    "NetEnum",
    "NetException",
    "NetObject",
    "Parameter",
    "TerminatingError",
    "TypeSpec",
]

VALUE_TYPES_DOC = """
How PowerShell values are represented in Python, on both sides of this contract:

  $null                     None
  [bool]                    bool
  [int] / [long]            int (the interpreter picks Int32 or Int64 by range when it matters)
  [double]                  float
  [decimal]                 decimal.Decimal
  [string]                  str
  [char]                    provision_lab.powershell values' Char (interpreter-owned)
  [object[]]                list (a command's output of several objects is a list)
  [byte[]]                  bytes / bytearray
  [hashtable]               the interpreter's case-insensitive Hashtable (a MutableMapping[str|Any, Any]);
                            a machine that returns a plain dict gets it wrapped as a Hashtable
  [ordered]                 the interpreter's OrderedDictionary (insertion-ordered, case-insensitive)
  [pscustomobject]          the interpreter's PSCustomObject (ordered note properties)
  [datetime]                datetime.datetime, always timezone-aware; tzinfo UTC means Kind=Utc,
                            any other offset means Kind=Local at that offset
  [timespan]                datetime.timedelta
  [scriptblock]             the interpreter's ScriptBlock; a command receiving one calls
                            CommandContext.invoke(block, ...)
  enums                     NetEnum
  every other .NET object   a NetObject subclass
"""


# ------------------------------------------------------------------------------------------------
# Values


class NetObject:
    """A .NET object as PowerShell sees it: a type name chain, properties and methods.

    Subclasses declare ``TYPE_NAMES`` (most derived first, as ``$x.PSObject.TypeNames`` lists
    them: ``('System.ServiceProcess.ServiceController', 'System.ComponentModel.Component',
    'System.MarshalByRefObject', 'System.Object')``) and implement :meth:`ps_properties` and, when
    the object has methods a script may call, :meth:`ps_call`. Member lookup is case-insensitive
    and done by the interpreter; a member that is not listed does not exist (under StrictMode 3 a
    missing property is an error; a missing method is always "Method invocation failed because
    [T] does not contain a method named 'M'.").
    """

    TYPE_NAMES: tuple[str, ...] = ("System.Object",)

    def ps_properties(self) -> Mapping[str, Any]:
        """Properties in the order ``Get-Member``/``Format-List``/``ConvertTo-Json`` show them.
        Values are computed now; the interpreter never caches them."""
        return {}

    def ps_set_property(self, name: str, value: Any) -> None:
        """Assign a settable property (``$obj.Name = 1``); ``name`` is as listed in
        :meth:`ps_properties`. Read-only by default: raise :class:`TerminatingError` with
        PowerShell's text ("'Name' is a ReadOnly property.")."""
        raise TerminatingError(
            ErrorRecord(
                NetException(
                    "System.Management.Automation.SetValueInvocationException", f"'{name}' is a ReadOnly property."
                ),
                "PropertyAssignmentException",
                "InvalidOperation",
            )
        )

    def ps_methods(self) -> Sequence[str]:
        """Names of the instance methods :meth:`ps_call` implements (besides ToString,
        GetType, Equals and GetHashCode, which the interpreter provides for every object)."""
        return ()

    def ps_call(self, name: str, args: Sequence[Any]) -> Any:
        """Call instance method ``name`` (as listed in :meth:`ps_methods`) with ``args``
        already evaluated. Raise :class:`NetException` for what the .NET method throws: the
        interpreter wraps it as PowerShell does ('Exception calling "M" with "N" argument(s):
        "<message>"', a MethodInvocationException)."""
        raise NetException("System.MissingMethodException", f"no method {name}")

    def ps_to_string(self) -> str:
        """What ``[string]$obj`` and ``"$obj"`` give: .NET's ToString(), by default the type name."""
        return self.TYPE_NAMES[0]


@dataclass(frozen=True)
class NetEnum:
    """A value of a .NET enum, e.g. ``[System.ServiceProcess.ServiceControllerStatus]::Running``.

    ``[string]`` gives ``name``; ConvertTo-Json in 5.1 writes ``value`` (the number); ``-eq`` with a
    string compares by name, case-insensitively (PowerShell converts the string to the enum).
    ``flags`` enums may hold several names joined by ", ".
    """

    type_name: str
    name: str
    value: int
    flags: bool = False


# ------------------------------------------------------------------------------------------------
# Errors


class NetException(Exception):
    """A .NET exception: its full type name, message and optional inner exception.

    ``type_name`` is what ``$_.Exception.GetType().FullName`` gives (for example
    ``System.IO.FileNotFoundException``, ``System.UnauthorizedAccessException``,
    ``Microsoft.PowerShell.Commands.WriteErrorException``). ``base_names`` lists its base classes
    (most derived first) so that ``catch [System.IO.IOException]`` matches a FileNotFoundException.
    ``hresult`` and ``extra`` carry members some scripts read (``$_.Exception.NativeErrorCode``,
    ``$_.Exception.Response``): they are exposed as properties of the exception object.
    """

    def __init__(
        self,
        type_name: str,
        message: str,
        *,
        inner: NetException | None = None,
        base_names: Sequence[str] = ("System.SystemException", "System.Exception"),
        hresult: int | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.type_name = type_name
        self.message = message
        self.inner = inner
        self.base_names = tuple(base_names)
        self.hresult = hresult
        self.extra = dict(extra or {})


@dataclass
class ErrorRecord:
    """``System.Management.Automation.ErrorRecord``: what ``$_`` is in ``catch`` and what
    ``$Error`` holds.

    ``error_id`` is the FullyQualifiedErrorId's first part (the interpreter appends
    ``,<command type name>`` as PowerShell does, e.g.
    ``NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand``); ``category``
    is an ``ErrorCategory`` name (``ObjectNotFound``, ``InvalidOperation``, ``PermissionDenied``,
    ``InvalidArgument``, ``NotSpecified``, ...); ``target`` is the TargetObject.
    """

    exception: NetException
    error_id: str
    category: str
    target: Any = None
    command_name: str | None = None
    """Set by the interpreter: the command that raised it (``InvocationInfo.MyCommand``)."""


class TerminatingError(Exception):
    """A terminating error (ThrowTerminatingError, or a .NET exception escaping a method call).

    A command raises it to stop itself and, unless caught by ``try``/``trap``, the statement; a
    non-terminating error is written with :meth:`CommandContext.write_error` instead, and the
    interpreter applies ``-ErrorAction``/``$ErrorActionPreference`` to it (under ``Stop`` it
    becomes terminating, an ActionPreferenceStopException whose ErrorRecord is the original).
    """

    def __init__(self, record: ErrorRecord) -> None:
        super().__init__(record.exception.message)
        self.record = record


# ------------------------------------------------------------------------------------------------
# Commands


@dataclass(frozen=True)
class Parameter:
    """One parameter of a cmdlet, as its Microsoft Learn page declares it.

    ``type`` is a PowerShell type name the binder converts the argument to (``string``,
    ``string[]``, ``int``, ``long``, ``bool``, ``switch``, ``object``, ``object[]``, ``hashtable``,
    ``scriptblock``, ``datetime``, or a .NET enum/type full name the interpreter knows).
    ``sets`` names the parameter sets it belongs to (empty: all). Binding follows PowerShell:
    unique prefixes of names and aliases, positional order, pipeline by value / by property name.
    """

    name: str
    type: str = "object"
    position: int | None = None
    mandatory: bool = False
    aliases: tuple[str, ...] = ()
    from_pipeline: bool = False
    from_pipeline_by_name: bool = False
    sets: tuple[str, ...] = ()


CommandBody = Callable[["CommandContext", Mapping[str, Any]], Iterable[Any] | None]
"""The command's work: called with the bound parameters (canonical names as declared; a switch that
was not given is absent, not False) and yields or returns its output objects. A command taking
pipeline input is called once per input object with that object bound (PowerShell's process
block); ``begin``/``end`` are :attr:`CommandSpec.begin`/``end``."""


@dataclass(frozen=True)
class CommandSpec:
    """A cmdlet (or function-like command) the interpreter can call.

    ``type_name`` is the implementing class's full name, used in FullyQualifiedErrorIds
    (``Microsoft.PowerShell.Commands.GetServiceCommand``). Common parameters (``-ErrorAction``,
    ``-ErrorVariable``, ``-WarningAction``, ``-Verbose``, ``-Debug``, ``-OutVariable``, ...) are
    bound by the interpreter and never reach ``body``. ``requires_elevation`` makes the
    interpreter refuse the call for a non-elevated session with the text the cmdlet's module uses
    (``elevation_error``), before ``body`` runs.
    """

    name: str
    body: CommandBody
    parameters: tuple[Parameter, ...] = ()
    type_name: str = ""
    module: str = ""
    aliases: tuple[str, ...] = ()
    default_set: str | None = None
    begin: Callable[[CommandContext, Mapping[str, Any]], Iterable[Any] | None] | None = None
    end: Callable[[CommandContext, Mapping[str, Any]], Iterable[Any] | None] | None = None
    requires_elevation: bool = False
    elevation_error: ErrorRecord | None = None


class CommandContext(Protocol):
    """What a running command can ask of the interpreter."""

    @property
    def host(self) -> Host:
        """The machine session this powershell.exe runs in."""
        ...

    @property
    def bound_set(self) -> str | None:
        """The parameter set the binder chose."""
        ...

    def write_error(self, record: ErrorRecord) -> None:
        """Write a non-terminating error (honours -ErrorAction and $ErrorActionPreference)."""
        ...

    def write_warning(self, message: str) -> None:
        """Write to the warning stream (shown as 'WARNING: ...' on the host)."""
        ...

    def write_verbose(self, message: str) -> None:
        """Write to the verbose stream (shown only under -Verbose)."""
        ...

    def invoke(self, block: Any, args: Sequence[Any] = (), *, dollar_under: Any = None) -> list[Any]:
        """Invoke a ScriptBlock (child scope) with ``$_`` set, returning its output."""
        ...

    def get_variable(self, name: str) -> Any:
        """A variable's value by PowerShell name (``ErrorActionPreference``, ``PWD``...)."""
        ...

    def convert(self, value: Any, type_name: str) -> Any:
        """PowerShell's conversion of ``value`` to ``type_name`` (raises TerminatingError)."""
        ...

    def to_string(self, value: Any) -> str:
        """PowerShell's string conversion (``[string]$value``)."""
        ...


@dataclass(frozen=True)
class TypeSpec:
    """A .NET type the interpreter resolves in ``[Name]``, ``New-Object`` and ``-is``/``-as``.

    ``full_name`` is the type's full name; ``accelerators`` the short names it also answers to
    (besides the ``System.``-less form, which PowerShell always tries). ``static_properties`` and
    ``static_methods`` implement ``[T]::Member`` (get, and set for settable ones via
    ``set_static``); ``construct`` implements ``New-Object T args`` and ``[T]::new(args)``;
    ``convert`` implements a cast ``[T]$value`` when the type is not one the interpreter converts
    itself. ``enum_values`` makes it an enum (name -> value). ``base_names`` lists the base
    classes for ``-is``. Raise :class:`NetException` for what .NET throws.
    """

    full_name: str
    accelerators: tuple[str, ...] = ()
    static_properties: Mapping[str, Callable[[Host], Any]] = field(default_factory=dict)
    set_static: Mapping[str, Callable[[Host, Any], None]] = field(default_factory=dict)
    static_methods: Mapping[str, Callable[[Host, Sequence[Any]], Any]] = field(default_factory=dict)
    construct: Callable[[Host, Sequence[Any]], Any] | None = None
    convert: Callable[[Host, Any], Any] | None = None
    enum_values: Mapping[str, int] | None = None
    flags: bool = False
    base_names: tuple[str, ...] = ("System.Object",)
    allowed_in_constrained_language: bool = False
    """Core types that ConstrainedLanguage lets scripts use (about_Language_Modes lists them)."""


# ------------------------------------------------------------------------------------------------
# Native programs and the host


@dataclass(frozen=True)
class NativeResult:
    """What a native program did: its exit code and what it wrote to stdout and stderr (text, as
    the console decodes it; lines end with CRLF or LF as the program wrote them)."""

    exit_code: int
    stdout: str = ""
    stderr: str = ""
    chunks: tuple[tuple[str, str], ...] = ()
    """Optional: what was written as ("stdout" | "stderr", text) pieces in write order (their texts
    join to ``stdout`` and ``stderr``), so ``2>&1`` interleaves the two streams as they were written
    (``docker run``'s pull progress on stderr comes before the container's output on stdout).
    Empty: all of stdout, then all of stderr."""


class NativeProgram(Protocol):
    """An executable the machine can start (``docker.exe``, ``dockerd.exe``, ``hostname.exe``...).

    ``argv`` is the argument list the program's C runtime would parse out of the command line the
    interpreter built by Windows PowerShell 5.1's rules (the interpreter builds the command line and
    splits it again with CommandLineToArgvW's rules, so quoting bugs in scripts show).
    ``stdin`` is what the pipeline sent to the program (None when nothing was piped).
    """

    path: str
    """Full path of the executable, as ``(Get-Command x).Source`` gives it."""

    def run(self, argv: Sequence[str], stdin: str | None, host: Host) -> NativeResult:
        """Run to completion (modelled time passes on the machine's clock)."""
        ...


class Host(Protocol):
    """One powershell.exe process on a machine: its user, environment, and what it can reach.

    The machine implements it. Everything the interpreter needs from Windows goes through here;
    the interpreter keeps no Windows state of its own.
    """

    @property
    def computer_name(self) -> str: ...

    @property
    def user_name(self) -> str:
        """``DOMAIN\\user`` of the session's account."""
        ...

    @property
    def elevated(self) -> bool:
        """True when the session's token is elevated (an administrator, not UAC-filtered)."""
        ...

    @property
    def language_mode(self) -> str:
        """``FullLanguage`` or ``ConstrainedLanguage`` (WDAC/AppLocker enforced)."""
        ...

    @property
    def console(self) -> bool:
        """False when the process has no console to set code pages on (a remoting host's runspace, the
        ISE): the .NET Framework's ``[Console]::OutputEncoding`` setter then throws."""
        ...

    @property
    def current_directory(self) -> str:
        """The process's working directory (``C:\\Users\\<user>`` for a remote session)."""
        ...

    def environment(self) -> dict[str, str]:
        """The process environment block (``$env:``), mutable for this process only."""
        ...

    def commands(self) -> Iterable[CommandSpec]:
        """The machine's cmdlets (modules auto-loaded, as on Windows)."""
        ...

    def types(self) -> Iterable[TypeSpec]:
        """The machine's .NET types (those whose members touch the machine)."""
        ...

    def find_program(self, name: str) -> NativeProgram | None:
        """Resolve ``name`` (a bare name searched on ``$env:Path`` with ``$env:PATHEXT``, or a
        relative or absolute path) to an executable file the machine can run, or None."""
        ...

    def now(self) -> Any:
        """The machine's clock (``Get-Date``): a timezone-aware datetime in local time."""
        ...

    def sleep(self, seconds: float) -> None:
        """``Start-Sleep``: advance the machine's clock (the lab never really sleeps long)."""
        ...
