"""Windows PowerShell 5.1 for the lab: powershell.exe, its language and its engine cmdlets.

:func:`run_powershell_exe` is what the machine starts for a command line (WinRS and sshd hand it over, through
cmd.exe or not). For powershell.exe it parses the parameters about_PowerShell_exe (reference/5.1) documents:
``-EncodedCommand`` (Base64 of UTF-16LE), ``-Command`` (``-Command -`` and a redirected stdin without a command
read the script from stdin), ``-File`` (the script read through the machine's System.IO.File, its arguments
bound to its ``param()``), ``-NoProfile``, ``-NonInteractive``, ``-ExecutionPolicy``, ``-InputFormat``/
``-OutputFormat`` (Text only), ``-NoLogo``, ``-WindowStyle`` and unambiguous abbreviations; any other program
on the line is the machine's (Host.find_program), or cmd.exe's "not recognized". Exit codes are
powershell.exe's: ``exit N`` gives N; an uncaught terminating error or a parse error gives 1; otherwise 0, or,
with ``-Command``, 1 when the last statement failed (``$?`` false). Errors, warnings and verbose messages go to
stderr as CLIXML (``#< CLIXML`` then ``<Objs>`` of ``<S S="Error">`` lines) after an encoded command, the way
pywinrm's ``run_ps`` and the controller read them (research/winrm-protocol.md WP 5); otherwise errors are text
on stderr and warnings are text on stdout. What the interpreter does not implement yet is listed in engine.py.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from xml.sax.saxutils import escape

from .api import ErrorRecord, Host, NetException
from .cmdline import split_windows_args
from .engine import ArgItem, CompiledBlock, Frame, ParseFailure, compile_script
from .errors import BreakSignal, ContinueSignal, ExitSignal, ReturnSignal, ScriptError
from .formatting import format_objects, table_shape
from .session import Session

__all__ = ["ProcessResult", "run_powershell_exe", "run_script"]


@dataclass(frozen=True)
class ProcessResult:
    """What powershell.exe wrote and its exit code (signed; Windows reports it as unsigned 32-bit)."""

    stdout: str
    stderr: str
    exit_code: int


_SWITCHES = frozenset({"nologo", "noprofile", "noninteractive", "noexit", "sta", "mta"})
_VALUED = frozenset(
    {"executionpolicy", "inputformat", "outputformat", "windowstyle", "version", "psconsolefile", "configurationname"}
)
_PARAMETERS = sorted(_SWITCHES | _VALUED | {"command", "encodedcommand", "file", "help"})
_ALIASES = {
    "c": "command",
    "e": "encodedcommand",
    "ec": "encodedcommand",
    "ep": "executionpolicy",
    "of": "outputformat",
    "if": "inputformat",
    "?": "help",
    "nol": "nologo",
    "nop": "noprofile",
    "noni": "noninteractive",
    "w": "windowstyle",
    "ex": "executionpolicy",
}
_ARGUMENT_ERROR = -196608
"""powershell.exe's exit code when it refuses its own arguments (0xFFFD0000)."""


class _FileRequest(Exception):
    """``-File <path> [args]``: the rest of the command line belongs to the script."""

    def __init__(self, path: str, args: list[str]) -> None:
        super().__init__(path)
        self.path = path
        self.arguments = args


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _parameter(token: str) -> str | None:
    word = token[1:].lower()
    if word in _ALIASES:
        return _ALIASES[word]
    matches = [name for name in _PARAMETERS if word and name.startswith(word)]
    return matches[0] if len(matches) == 1 else None


def _parse(args: list[str], stdin: str | None) -> tuple[str, bool, bool]:
    """(script, encoded, script came from stdin) for powershell.exe's arguments after the program name."""
    index = 0
    while index < len(args):
        token = args[index]
        name = _parameter(token) if token[:1] in ("-", "/") else None
        if name is None:
            return " ".join(args[index:]), False, False
        value = args[index + 1] if index + 1 < len(args) else None
        if name == "command":
            rest = args[index + 1 :]
            if rest == ["-"]:
                return stdin or "", False, True
            return " ".join(rest), False, False
        if name == "encodedcommand":
            if value is None:
                raise _Refused(
                    "Cannot process the command because of a missing parameter. A command must follow -EncodedCommand."
                )
            try:
                return base64.b64decode(value, validate=True).decode("utf-16-le"), True, False
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise _Refused(
                    "Cannot process the command because the value specified with -EncodedCommand is not properly "
                    "encoded. The value must be Base64 encoded."
                ) from None
        if name == "file":
            raise _FileRequest(value or "", args[index + 2 :])
        if name in ("inputformat", "outputformat") and (value or "").lower() not in ("text", "t", "te", "tex"):
            raise _Refused(f"The lab's powershell.exe supports only -{name} Text, not '{value}'.")
        if name == "help":
            raise _Refused("The lab's powershell.exe does not show its help.")
        if name in _VALUED and value is None:
            raise _Refused(f"Missing argument for parameter -{name}.")
        index += 2 if name in _VALUED else 1
    return stdin or "", False, True


def run_powershell_exe(command_line: str, stdin: str | None, host: Host) -> ProcessResult:
    """Run ``command_line`` (``powershell.exe ...``) on ``host`` with ``stdin``, as Windows would."""
    args = split_windows_args(command_line)
    program = args[0].replace("/", "\\").rpartition("\\")[2].lower() if args else ""
    if program not in ("powershell", "powershell.exe"):
        # Another program on the line: the machine starts it as cmd.exe would (WinRS runs `hostname`, `ipconfig`
        # as they are), or cmd.exe's "not recognized" when it has no such program.
        native = host.find_program(args[0]) if args else None
        if native is not None:
            done = native.run(args, stdin, host)
            return ProcessResult(done.stdout, done.stderr, done.exit_code)
        shown = args[0] if args else ""
        return ProcessResult(
            "",
            f"'{shown}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
            1,
        )
    try:
        script, encoded, from_stdin = _parse(args[1:], stdin)
    except _Refused as refused:
        return ProcessResult("", refused.message + "\r\n", _ARGUMENT_ERROR)
    except _FileRequest as request:
        return _run_file(request, host, stdin)
    return run_script(script, host, stdin=None if from_stdin else stdin, clixml=encoded)


def _run_file(request: _FileRequest, host: Host, stdin: str | None) -> ProcessResult:
    """``-File``: the script is read from the machine (through its System.IO.File), its arguments bind to its
    ``param()`` as strings, and the exit code is ``exit``'s, 1 after an uncaught error, else 0 (about_PowerShell_exe)."""
    session = Session(host, stdin=stdin)
    reader = next((t for t in host.types() if t.full_name == "System.IO.File"), None)
    read = reader.static_methods.get("ReadAllText") if reader is not None else None
    path = request.path
    text: object = None
    if read is not None and path.lower().endswith(".ps1"):
        try:
            text = read(host, [path])
        except NetException:
            text = None
    if not isinstance(text, str):
        message = (
            f"The argument '{path}' to the -File parameter does not exist. Provide the path to an existing "
            "'.ps1' file as an argument to the -File parameter."
        )
        return ProcessResult("", message + "\r\n", _ARGUMENT_ERROR)
    items = [
        ArgItem("param", name=a[1:].rstrip(":"), text=a)
        if a.startswith("-") and len(a) > 1
        else ArgItem("value", value=a, has_value=True)
        for a in request.arguments
    ]
    code = _execute(session, text, items, file_mode=True)
    stdout = "".join(session.stdout).replace("\r\n", "\n").replace("\n", "\r\n")
    return ProcessResult(stdout, _stderr(session, False), code)


def run_script(script: str, host: Host, *, stdin: str | None = None, clixml: bool = False) -> ProcessResult:
    """Run a script's text as ``-Command`` does; ``stdin`` is what [Console]::OpenStandardInput() reads."""
    session = Session(host, stdin=stdin, clixml=clixml)
    code = _execute(session, script)
    stdout = "".join(session.stdout).replace("\r\n", "\n").replace("\n", "\r\n")
    return ProcessResult(stdout, _stderr(session, clixml), code)


class _HostSink(list[object]):
    """The top-level pipeline's end: Out-Default writes each object to the console as it comes, except that
    consecutive objects shown as a table share one table (held until something else is written)."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.pending: list[object] = []
        self.shape: tuple[str, ...] | None = None
        session.before_write = self.flush

    def flush(self) -> None:
        if self.pending:
            pending, self.pending = self.pending, []
            self.session.stdout.append(format_objects(self.session, pending))

    def append(self, value: object) -> None:
        shape = table_shape(value)
        if shape is not None and shape == self.shape and self.pending:
            self.pending.append(value)
            return
        self.flush()
        self.shape = shape
        if shape is not None:
            self.pending = [value]
        else:
            self.session.stdout.append(format_objects(self.session, [value]))

    def extend(self, values: object) -> None:
        for value in values:  # type: ignore[attr-defined]
            self.append(value)


def _execute(session: Session, script: str, items: list[ArgItem] | None = None, *, file_mode: bool = False) -> int:
    try:
        block = compile_script(script)
    except RecursionError:
        session.write_stream("error", "The script failed due to call depth overflow.\n")
        return 1
    except ParseFailure as failure:
        first = failure.problems[0].error_id if failure.problems else "ParseException"
        session.write_stream(
            "error",
            f"{failure.text}\n    + CategoryInfo          : ParserError: (:) [], ParentContainsErrorRecordException\n"
            f"    + FullyQualifiedErrorId : {first}\n \n",
        )
        return 1
    except Exception as error:  # noqa: BLE001  (a fault of the lab's compiler: reported, never a traceback)
        session.write_stream("error", f"The lab's powershell.exe failed: {type(error).__name__}: {error}\n")
        return 1
    frame = Frame(session, session.global_scope)
    sink = _HostSink(session)
    try:
        code = _run_top(session, frame, block, sink, items or [])
        if code is None:  # ended normally: -Command reports whether the last statement succeeded, -File does not
            return 0 if file_mode or session.dollar_q else 1
        return code
    finally:
        sink.flush()


def _run_top(session: Session, frame: Frame, block: CompiledBlock, sink: _HostSink, items: list[ArgItem]) -> int | None:
    """Run the top-level script; the exit code it forces, or None when it ran to its end."""
    try:
        session.run_block(frame, block, items, None, sink, "", None)
    except ExitSignal as signal:
        return signal.code
    except ScriptError as error:
        session.report_error(error.record, frame)
        return 1
    except (BreakSignal, ContinueSignal, ReturnSignal):
        return None
    except NetException as error:  # a .NET exception escaping a machine's cmdlet unwrapped
        session.report_error(ErrorRecord(error, error.type_name, "NotSpecified"), frame)
        return 1
    except RecursionError:
        # PowerShell's own limit on nested calls (ScriptCallDepthException, "The script failed due to call depth
        # overflow.").
        session.write_stream("error", "The script failed due to call depth overflow.\n")
        return 1
    except Exception as error:  # noqa: BLE001  (a fault of the lab itself: reported, never a traceback or exit 0)
        session.write_stream("error", f"The lab's powershell.exe failed: {type(error).__name__}: {error}\n")
        return 1
    return None


_CONTROL = re.compile(r"[\x00-\x1f]")
_UNDERSCORE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")
_CLIXML_KIND = {"error": "Error", "warning": "warning", "verbose": "verbose"}


def _clixml_text(text: str) -> str:
    text = _UNDERSCORE.sub("_x005F_", text)
    return _CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", escape(text))


def _stderr(session: Session, clixml: bool) -> str:
    """stderr as powershell.exe writes it with redirected output."""
    raw: list[str] = []
    records: list[str] = []
    for kind, text in session.streams:
        if kind == "raw":
            raw.append(text)
        elif kind != "error" and not clixml:
            continue  # the console host writes warnings and verbose lines to stdout (see _execute)
        elif clixml:
            lines = text.replace("\r\n", "\n").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            tag = _CLIXML_KIND.get(kind, "Error")
            records.extend(f'<S S="{tag}">{_clixml_text(line)}_x000D__x000A_</S>' for line in lines)
        else:
            raw.append(text)
    text = "".join(raw).replace("\r\n", "\n").replace("\n", "\r\n")
    if records:
        objs = (
            f'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">{"".join(records)}</Objs>'
        )
        text += "#< CLIXML\r\n" + objs
    return text
