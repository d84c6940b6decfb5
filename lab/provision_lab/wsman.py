"""The lab's WS-Management (WinRM) endpoints: real WS-Man over HTTP(S) for simulated hosts.

Every lab host listens on its own loopback address, on an HTTP port (5985) and an HTTPS port
(5986), and speaks enough of WS-Management and WinRS that the unmodified pywinrm client works
against it: Create, Command, Send, Receive, Signal and Delete of the ``cmd`` shell, with Basic
authentication and NTLM with message encryption (pyspnego as the acceptor). The exact messages
and the client's expectations are in ``/work/shared/research/winrm-protocol.md``, cited below
as "WP" with a section number.

The endpoint knows nothing about Windows: it parses the command line the way ``cmd.exe`` and
``powershell.exe`` would, hands the script to :meth:`LabHost.run_script`, and returns what
PowerShell would have written (UTF-8 stdout, CLIXML stderr). It applies the protocol-level
faults of :class:`~provision_lab.api.Faults` and the WinRS quotas of a default Windows host.

One asyncio event loop serves all hosts; ``server.py`` runs it in a background thread. The
command-line and output helpers (:func:`parse_command_line`, :func:`execute`) are shared with
the SSH endpoint, since Windows OpenSSH also starts ``powershell.exe`` through ``cmd.exe``.

Counters kept in ``host.counters``: ``http.connections``, ``http.requests``, ``http.<status>``
for every non-200 answer, ``http.resets``, ``wsman.messages`` (SOAP envelopes processed),
``wsman.<Operation>`` (Create, Command, Send, Receive, Signal, Delete, Other),
``wsman.fault.<subcode>``, ``bytes.in``, ``bytes.out``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import contextlib
import email.utils
import functools
import hmac
import logging
import math
import os
import random
import re
import socket
import struct
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from xml.sax.saxutils import escape, quoteattr

import spnego
import spnego.exceptions
from spnego._ntlm_raw.crypto import ntowfv1  # the NT hash (MD4), which hashlib lacks under OpenSSL 3

from provision_lab.api import ExecResult, LabHost, RunsCommands
from provision_lab.powershell.cmdline import split_command_line
from provision_lab.tls import LabCA

__all__ = [
    "BOOTSTRAP",
    "CMD_LINE_LIMIT",
    "Invocation",
    "LabCredentials",
    "ProcessOutput",
    "WinRSLimits",
    "WsmanServer",
    "account_name",
    "clixml",
    "count",
    "execute",
    "parse_command_line",
]

_log = logging.getLogger(__name__)

BOOTSTRAP = (
    "if ($ExecutionContext.SessionState.LanguageMode -ne 'FullLanguage') { "
    "'@@provision-language ' + $ExecutionContext.SessionState.LanguageMode; exit 3 }; "
    "$ErrorActionPreference = 'Stop'; "
    "$stdin = New-Object System.IO.StreamReader ([Console]::OpenStandardInput()), (New-Object System.Text.UTF8Encoding $false); "
    "$global:ProvisionSecrets = $stdin.ReadLine(); "
    "$script = $stdin.ReadToEnd(); "
    "& ([ScriptBlock]::Create($script))"
)
"""The stdin-reading bootstrap a controller sends as ``-EncodedCommand`` (the provision tool's, DESIGN 4.1):
a line of secrets, then the script.

Interim: the host model cannot run PowerShell yet, so this exact text stands for "read the script
from stdin and run it". It goes when powershell.exe is interpreted (provision_lab.powershell).
"""

# Namespaces of the messages (WP 2, "Namespace URIs the server's responses must use").
_NS_S = "http://www.w3.org/2003/05/soap-envelope"
_NS_A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
_NS_X = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
_NS_W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
_NS_P = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
_NS_RSP = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
_NS_F = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"

_SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
_CMD_RESOURCE_URI = f"{_SHELL_URI}/cmd"
_ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
_FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"

# Request Action -> (counter name, response Action) (WP 2, "Action URIs").
_OPERATIONS: dict[str, tuple[str, str]] = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": (
        "Create",
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse",
    ),
    f"{_SHELL_URI}/Command": ("Command", f"{_SHELL_URI}/CommandResponse"),
    f"{_SHELL_URI}/Send": ("Send", f"{_SHELL_URI}/SendResponse"),
    f"{_SHELL_URI}/Receive": ("Receive", f"{_SHELL_URI}/ReceiveResponse"),
    f"{_SHELL_URI}/Signal": ("Signal", f"{_SHELL_URI}/SignalResponse"),
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": (
        "Delete",
        "http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse",
    ),
}

# NTLM message encryption (WP 6.4).
_ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
_ENCRYPTED_CONTENT_TYPE = f'multipart/encrypted;protocol="{_ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
_BOUNDARY = b"--Encrypted Boundary\r\n"
_BOUNDARY_END = b"--Encrypted Boundary--\r\n"
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"
_SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"

CMD_LINE_LIMIT = 8191
"""cmd.exe's command-line limit; a longer line prints "The command line is too long." (WP 5)."""
_CREATE_PROCESS_LIMIT = 32767
"""CreateProcess's limit; a longer Command fails with WSManFault 2147942606 (WP 5, WP 4.2)."""

_IDLE_CONNECTION_SECONDS = 120.0
"""HTTP.sys keeps an idle keep-alive connection about two minutes (WP 6.4)."""
_TLS_HANDSHAKE_SECONDS = 10.0
"""A client that connects to the HTTPS port but does not finish the TLS handshake is dropped."""
_MIN_ENVELOPE = 8192
"""The smallest MaxEnvelopeSize honoured when splitting output (WS-Man's minimum envelope)."""
_RECEIVE_OVERHEAD = 2048
"""Bytes of a ReceiveResponse that are not stream data: envelope, CommandState, End markers."""
_STREAM_OVERHEAD = 128
"""Bytes of one rsp:Stream element around its base64 text."""


@dataclass(frozen=True)
class LabCredentials:
    """The one local account every lab host accepts, over WinRM and SSH.

    Windows account names are case-insensitive and may be qualified (``.\\user``,
    ``HOST\\user``); the password is compared exactly.
    """

    user: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        if not self.password:
            raise ValueError("the lab password must not be empty")
        # A local account name, and pyspnego's NTLM_USER_FILE is colon-separated lines (WP 6.5).
        if not self.user or any(c in self.user for c in ":\\@\r\n"):
            raise ValueError("the lab user must be a local account name, without a domain, ':' or line breaks")

    def accepts(self, user: str, password: str) -> bool:
        """Whether ``user``/``password`` are this account's (the password compared in constant time)."""
        same_password = hmac.compare_digest(password.encode(), self.password.encode())
        return account_name(user) == self.user.lower() and same_password


def account_name(user: str) -> str:
    """The local account a Windows logon name designates: ``.\\Bob``, ``HOST\\bob`` -> ``bob``."""
    return user.rpartition("\\")[2].partition("@")[0].lower()


@dataclass(frozen=True)
class WinRSLimits:
    """WinRM service and WinRS quotas of a default Windows host.

    Defaults: MaxShellsPerUser 30 and MaxConcurrentOperationsPerUser 1500 (MS-WSMV 2.2.4.42 and a
    dumped config, research/perf-and-style.md "Server-side quotas"), MaxEnvelopeSizekb 500 and
    MaxTimeoutms 60000 (WP 3.3, WP 4.1).
    """

    max_shells_per_user: int = 30
    max_concurrent_operations_per_user: int = 1500
    max_envelope_size_kb: int = 500
    max_timeout_ms: int = 60000

    @property
    def max_envelope_bytes(self) -> int:
        """The largest request envelope the service reads; larger ones get HTTP 413."""
        return self.max_envelope_size_kb * 1024


_COUNTER_LOCK = threading.Lock()


def count(host: LabHost, key: str, amount: int = 1) -> None:
    """Add to one of ``host``'s counters; endpoints count from several threads."""
    with _COUNTER_LOCK:
        host.counters[key] += amount


# ---------------------------------------------------------------------------------------------
# What Windows starts for a command line, and what it writes back.


@dataclass(frozen=True)
class Invocation:
    """What Windows would start for one command line.

    Either PowerShell runs ``script`` (given on the command line), or it reads the script from
    stdin until EOF (``reads_stdin``, the ``-Command -`` form), or the command line alone decides
    the outcome (``outcome``: cmd.exe or powershell.exe refused it, text written as-is).
    """

    reads_stdin: bool = False
    bootstrap: bool = False
    """The controller's :data:`BOOTSTRAP`: stdin is its secrets line, then the script."""
    script: str = ""
    outcome: ExecResult | None = None
    command_line: str = ""
    """The line as cmd.exe passes it on to the program; empty when cmd.exe answered it itself."""
    waits_for_stdin: bool = False
    """Whether the process reads stdin to its end before it can finish (``-Command -``, or a script
    that opens the console's input): the lab cannot stream stdin into a running process, so it
    starts such a process when stdin is complete and any other at once, as Windows would see it."""


@dataclass(frozen=True)
class ProcessOutput:
    """The bytes a process wrote, as a WinRS Receive or an SSH channel carries them."""

    stdout: bytes
    stderr: tuple[bytes, ...]
    """Chunks in the order written; PowerShell writes ``#< CLIXML`` and the records separately."""
    exit_code: int
    """Unsigned 32-bit, as Windows reports it: ``exit -1`` arrives as 4294967295 (WP 3.4)."""


# powershell.exe parameters (about_PowerShell_exe, WP 10). Abbreviations are accepted when they
# are unambiguous; the aliases below are the documented short forms that are not.
_PS_SWITCHES = frozenset({"nologo", "noprofile", "noninteractive", "noexit", "sta", "mta"})
_PS_VALUED = frozenset(
    {"executionpolicy", "inputformat", "outputformat", "windowstyle", "version", "psconsolefile", "configurationname"}
)
_PS_PARAMETERS = sorted(_PS_SWITCHES | _PS_VALUED | {"command", "encodedcommand", "file"})
_PS_ALIASES = {
    "c": "command",
    "e": "encodedcommand",
    "ec": "encodedcommand",
    "ep": "executionpolicy",
    "of": "outputformat",
    "if": "inputformat",
}
_PS_ARGUMENT_ERROR = 4294770688
"""Exit code of powershell.exe refusing its own arguments (-196608); reported, not verified here."""


def parse_command_line(command_line: str, *, through_cmd: bool) -> Invocation:
    """Decide what a WinRS or SSH command line runs.

    ``through_cmd`` is True when Windows passes the line to ``cmd.exe /c`` (WinRS with
    ``WINRS_SKIP_CMD_SHELL=FALSE``, OpenSSH's default shell): then a line over 8,191 characters
    only gets "The command line is too long." and exit code 1 (WP 5, WP 9 item 9). Anything but
    ``powershell[.exe]`` is "not recognized", since the lab has no other programs.
    """
    if through_cmd and len(command_line) > CMD_LINE_LIMIT:
        return Invocation(outcome=ExecResult("", "The command line is too long.\n", 1))
    invocation = _powershell_invocation(command_line)
    reads = invocation.reads_stdin or bool(_READS_STDIN.search(invocation.script))
    return replace(invocation, command_line=command_line, waits_for_stdin=reads)


_READS_STDIN = re.compile(r"OpenStandardInput|\$input\b|\[Console\]::In\b", re.IGNORECASE)
"""What a script reads its stdin through ([Console]::OpenStandardInput(), $input, [Console]::In)."""


def _powershell_invocation(command_line: str) -> Invocation:
    """What powershell.exe runs for a command line (for hosts that do not start programs themselves)."""
    args = split_command_line(command_line)
    if not args:
        return Invocation(outcome=ExecResult("", "", 0))
    program = args[0].replace("/", "\\").rpartition("\\")[2].lower()
    if program not in ("powershell", "powershell.exe"):
        return Invocation(
            outcome=ExecResult(
                "",
                f"'{args[0]}' is not recognized as an internal or external command,\noperable program or batch file.\n",
                1,
            )
        )
    index = 1
    while index < len(args):
        token = args[index]
        name = _ps_parameter(token) if token[:1] in ("-", "/") else None
        if name is None:
            # The first token that is not a parameter starts the command text, as with -Command.
            return Invocation(script=" ".join(args[index:]))
        if name == "command":
            rest = args[index + 1 :]
            return Invocation(reads_stdin=True) if rest == ["-"] else Invocation(script=" ".join(rest))
        if name == "encodedcommand":
            return _encoded_command(args[index + 1] if index + 1 < len(args) else "")
        if name == "file":
            target = args[index + 1] if index + 1 < len(args) else ""
            message = (
                f"The argument '{target}' to the -File parameter does not exist. Provide the path to an "
                "existing '.ps1' file as an argument to the -File parameter.\n"
            )
            return Invocation(outcome=ExecResult("", message, _PS_ARGUMENT_ERROR))
        index += 2 if name in _PS_VALUED else 1
    # No script on the command line: PowerShell reads commands from its redirected stdin.
    return Invocation(reads_stdin=True)


def _ps_parameter(token: str) -> str | None:
    """The powershell.exe parameter a ``-Name`` token designates, or None if it is none."""
    word = token[1:].lower()
    if word in _PS_ALIASES:
        return _PS_ALIASES[word]
    matches = [name for name in _PS_PARAMETERS if word and name.startswith(word)]
    return matches[0] if len(matches) == 1 else None


def _encoded_command(value: str) -> Invocation:
    """``-EncodedCommand``: base64 of UTF-16-LE text, as pywinrm's ``run_ps`` sends it (WP 5).

    The controller's own bootstrap (:data:`BOOTSTRAP`) reads the real script from stdin and runs
    it; until the lab interprets PowerShell (provision_lab.powershell), it recognises that exact text.
    """
    try:
        script = base64.b64decode(value, validate=True).decode("utf-16-le")
        if script == BOOTSTRAP:
            return Invocation(reads_stdin=True, bootstrap=True)
        return Invocation(script=script)
    except (binascii.Error, UnicodeDecodeError):
        message = (
            "Cannot process the command because the value specified with -EncodedCommand is not properly "
            "encoded. The value must be Base64 encoded.\n"
        )
        return Invocation(outcome=ExecResult("", message, _PS_ARGUMENT_ERROR))


def execute(host: LabHost, invocation: Invocation, stdin: str) -> ProcessOutput:
    """Run an invocation on ``host`` and encode what the process writes.

    stdout is UTF-8 (the controller's prelude sets UTF-8 console output, DESIGN 4.1) with CRLF
    line ends, as Windows writes them; PowerShell's stderr is CLIXML (WP 5); text decided by
    the command line alone (cmd.exe's messages) is written as it is.
    """
    if isinstance(host, RunsCommands) and invocation.command_line:
        # A Windows machine: powershell.exe decides what the line runs and writes its own CLIXML.
        done = host.run_command(invocation.command_line, stdin)
        stderr = (_console_bytes(done.stderr),) if done.stderr else ()
        return ProcessOutput(_console_bytes(done.stdout), stderr, done.exit_code & 0xFFFFFFFF)
    if invocation.outcome is not None:
        outcome = invocation.outcome
        stderr = (_console_bytes(outcome.stderr),) if outcome.stderr else ()
        return ProcessOutput(_console_bytes(outcome.stdout), stderr, outcome.exit_code & 0xFFFFFFFF)
    if invocation.bootstrap:
        stdin = stdin.partition("\n")[2]  # the bootstrap keeps the secrets line and runs the rest
    result = host.run_script(stdin if invocation.reads_stdin else invocation.script)
    return ProcessOutput(
        _console_bytes(result.stdout), clixml(result.stderr) if result.stderr else (), result.exit_code & 0xFFFFFFFF
    )


def _console_bytes(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


_CLIXML_CONTROL = re.compile(r"[\x00-\x1f]")
_CLIXML_UNDERSCORE = re.compile(r"_(?=x[0-9A-Fa-f]{4}_)")


def clixml(stderr: str) -> tuple[bytes, bytes]:
    """Windows PowerShell's serialized error stream for ``stderr`` text (WP 5).

    With redirected output, powershell.exe writes error records to stderr as CLIXML: a
    ``#< CLIXML`` line, then ``<Objs>`` with one ``<S S="Error">`` per line, CR LF written as
    ``_x000D__x000A_``. pywinrm's ``run_ps`` and the controller decode exactly this.
    """
    lines = stderr.replace("\r\n", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    records = "".join(f'<S S="Error">{_clixml_text(line)}_x000D__x000A_</S>' for line in lines)
    objs = f'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">{records}</Objs>'
    return b"#< CLIXML\r\n", objs.encode("utf-8")


def _clixml_text(text: str) -> str:
    text = _CLIXML_UNDERSCORE.sub("_x005F_", text)
    return _CLIXML_CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", escape(text))


# ---------------------------------------------------------------------------------------------
# NTLM credentials for pyspnego's acceptor.


class _NtlmUserFile:
    """The process-wide NTLM credential file pyspnego's acceptor checks passwords against.

    pyspnego's pure-Python NTLM acceptor reads accounts from the file named by the
    ``NTLM_USER_FILE`` environment variable (WP 6.5). The variable is per process, so every
    running lab shares one file listing each lab's account, under an empty domain and under
    ``.``, the two ways a client names a local account (the domain must match, WP 6.5).

    Lines are in the smbpasswd form with the NT hash: from a password line pyspnego computes the
    LM hash too, with pure-Python DES, about 2 ms of CPU per logon that NTLMv2 never uses.

    The NT hash is password-equivalent for NTLM, so the file lives in memory only: an anonymous
    memfd (memfd_create(2), Linux, as the lab's 127.77.x.y addresses already are), named to
    pyspnego by its ``/proc/<pid>/fd/<n>`` path. Nothing is written to /tmp, and nothing is left
    behind when the lab is killed (security-review.md F16). Each change is a new memfd whose path
    replaces the old one in the variable; the last few stay open (``_NTLM_FILES_KEPT``), so an
    acceptor that read a previous path still opens a file.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, tuple[str, int]] = {}
        self._fds: list[int] = []
        self._previous: str | None = None

    def acquire(self, credentials: LabCredentials) -> None:
        """Add a running lab's account; a second lab may not give the same user another password."""
        with self._lock:
            key = credentials.user.lower()
            password, users = self._accounts.get(key, (credentials.password, 0))
            if password != credentials.password:
                raise ValueError(
                    f"another lab in this process already uses user {credentials.user!r} with another password"
                )
            self._accounts[key] = (password, users + 1)
            self._write()

    def release(self, credentials: LabCredentials) -> None:
        """Remove a stopped lab's account; the file goes away with the last one."""
        with self._lock:
            key = credentials.user.lower()
            password, users = self._accounts[key]
            if users > 1:
                self._accounts[key] = (password, users - 1)
            else:
                del self._accounts[key]
            if self._accounts:
                self._write()
            elif self._fds:
                if self._previous is None:
                    os.environ.pop("NTLM_USER_FILE", None)
                else:
                    os.environ["NTLM_USER_FILE"] = self._previous
                for fd in self._fds:
                    os.close(fd)
                self._fds.clear()

    def _write(self) -> None:
        lines = "".join(
            f"{name}:0:{'0' * 32}:{ntowfv1(password).hex().upper()}:[U          ]:LCT-00000000\n"
            for user, (password, _) in self._accounts.items()
            for name in (user, f".\\{user}")
        )
        fd = os.memfd_create("provision-lab-ntlm", os.MFD_CLOEXEC)
        os.write(fd, lines.encode("utf-8"))
        if not self._fds:
            self._previous = os.environ.get("NTLM_USER_FILE")
        self._fds.append(fd)
        os.environ["NTLM_USER_FILE"] = f"/proc/{os.getpid()}/fd/{fd}"
        while len(self._fds) > _NTLM_FILES_KEPT:
            os.close(self._fds.pop(0))


_NTLM_FILES_KEPT = 8
"""Earlier credential memfds kept open: an acceptor that read the variable just before a change
opens its path within microseconds; labs start and stop far less often than that."""

_NTLM_USERS = _NtlmUserFile()


# ---------------------------------------------------------------------------------------------
# SOAP faults.


class WsmanFault(Exception):
    """A WS-Management fault, answered with HTTP 500 and a SOAP 1.2 envelope (WP 4)."""

    def __init__(
        self, code: int, subcode: str, reason: str, message: str | None = None, *, sender: bool = True
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.subcode = subcode
        self.reason = reason
        self.message = reason if message is None else message
        self.sender = sender

    def body(self, machine: str) -> str:
        """The ``s:Fault`` element, in the shape of the real Windows faults quoted in WP 4.1."""
        value = "s:Sender" if self.sender else "s:Receiver"
        return (
            f"<s:Fault><s:Code><s:Value>{value}</s:Value><s:Subcode><s:Value>{self.subcode}</s:Value></s:Subcode>"
            f'</s:Code><s:Reason><s:Text xml:lang="en-US">{escape(self.reason)}</s:Text></s:Reason><s:Detail>'
            f'<f:WSManFault xmlns:f="{_NS_F}" Code="{self.code}" Machine={quoteattr(machine)}>'
            f"<f:Message>{escape(self.message)}</f:Message></f:WSManFault></s:Detail></s:Fault>"
        )


def _timed_out() -> WsmanFault:
    # WP 4.1: the exact fault of a Receive that saw no output within OperationTimeout.
    text = "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  "
    return WsmanFault(2150858793, "w:TimedOut", text, sender=False)


_INVALID_SELECTORS = (
    "The WS-Management service cannot process the request because the request contained invalid selectors for the "
    "resource. "
)


def _unknown_shell(shell_id: str | None) -> WsmanFault:
    # WP 3.7 (pypsrp transcript) for code, subcode and reason; the message is the one Windows
    # gives for a WinRS shell, quoted in WinRb/WinRM issue #253.
    message = (
        f"The request for the Windows Remote Shell with ShellId {shell_id or ''} failed because the shell was not "
        "found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists "
        "on the server. Provide the correct ShellId or create a new shell and retry the operation. "
    )
    return WsmanFault(2150858843, "w:InvalidSelectors", _INVALID_SELECTORS, message)


def _unknown_command() -> WsmanFault:
    # Real Windows transcript: jborean93/pypsrp tests/tests_pypsrp/responses/test_winrs_bad_cmd_id.yml.
    message = (
        "The Windows Remote Shell received a request to perform an operation on a command identifier that does not "
        "exist. Either the command has completed execution or the client specified an invalid command identifier. "
    )
    return WsmanFault(2150858843, "w:InvalidSelectors", _INVALID_SELECTORS, message)


def _shell_quota(limit: int) -> WsmanFault:
    # ERROR_WSMAN_QUOTA_MAX_SHELLS = 2150859173 (windows-docs-rs RemoteManagement constants);
    # subcode w:QuotaLimit (MS-WSMV 3.1.4.5.2.1); reason and message as Windows words them
    # (Microsoft365DSC/Microsoft365DSC issue #966; hashicorp/vagrant issue #7489, with 5 shells).
    reason = (
        "The WS-Management service cannot process the request. The maximum number of concurrent shells for this "
        "user has been exceeded. Close existing shells or raise the quota for this user. "
    )
    message = (
        f"The WS-Management service cannot process the request. This user is allowed a maximum number of {limit} "
        "concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. "
    )
    return WsmanFault(2150859173, "w:QuotaLimit", reason, message)


def _operation_quota(limit: int) -> WsmanFault:
    # ERROR_WSMAN_QUOTA_MAX_OPERATIONS = 2150859174; message as quoted in
    # dmitry-zaets/vagrantfile-windows-iis-mssql issue #7 (with 15 operations). Not found in any
    # source: the subcode and reason of this fault; w:QuotaLimit and the message are assumed.
    message = (
        f"The WS-Management service cannot process the request. This user is allowed a maximum number of {limit} "
        "concurrent operations, which has been exceeded. Close existing operations for this user, or raise the "
        "quota for this user. "
    )
    return WsmanFault(2150859174, "w:QuotaLimit", message)


def _schema_error() -> WsmanFault:
    # ERROR_WSMAN_SCHEMA_VALIDATION_ERROR, w:SchemaValidationError (WP 4.2 table).
    text = (
        "The SOAP XML in the message does not match the corresponding XML schema definition. Change the XML and retry. "
    )
    return WsmanFault(2150858817, "w:SchemaValidationError", text)


def _unknown_action() -> WsmanFault:
    # ERROR_WSMAN_ACTION_NOT_SUPPORTED = 2150858771 (windows-docs-rs); the text is the lab's own.
    text = "The WS-Management service cannot process the request because the action is not supported. "
    return WsmanFault(2150858771, "a:ActionNotSupported", text)


def _unknown_resource() -> WsmanFault:
    # ERROR_WSMAN_RESOURCE_NOT_FOUND = 0x80338000, subcode a:DestinationUnreachable
    # (microsoft/omi issue #254 quotes the Windows fault).
    text = (
        "The WS-Management service cannot process the request. The service cannot find the resource identified by "
        "the resource URI and selectors. "
    )
    return WsmanFault(2150858752, "a:DestinationUnreachable", text)


def _command_line_too_long() -> WsmanFault:
    # WP 5 / WP 4.2: CreateProcess refuses a command line over 32,767 characters.
    return WsmanFault(2147942606, "w:InternalError", "The filename or extension is too long. ", sender=False)


# ---------------------------------------------------------------------------------------------
# SOAP requests and responses.


@dataclass(frozen=True)
class _Envelope:
    """The parts of a request envelope the shell operations use (WP 2)."""

    action: str
    message_id: str | None
    resource_uri: str
    shell_id: str | None
    options: dict[str, str]
    operation_timeout: float
    max_envelope: int
    body: ET.Element


_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def _parse_envelope(data: bytes, limits: WinRSLimits) -> _Envelope:
    """Parse a request, looking elements up by namespace and name, never prefix or order (WP 2)."""
    if b"<!DOCTYPE" in data:
        raise _schema_error()
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        raise _schema_error() from None
    header = root.find(f"{{{_NS_S}}}Header")
    body = root.find(f"{{{_NS_S}}}Body")
    if root.tag != f"{{{_NS_S}}}Envelope" or header is None or body is None:
        raise _schema_error()
    shell_id = None
    for selector in header.iter(f"{{{_NS_W}}}Selector"):
        if selector.get("Name") == "ShellId":
            shell_id = (selector.text or "").strip()
    options = {opt.get("Name", ""): (opt.text or "").strip() for opt in header.iter(f"{{{_NS_W}}}Option")}
    max_timeout = limits.max_timeout_ms / 1000
    # WP 4.1: the service uses MaxTimeoutms when OperationTimeout is absent or larger.
    timeout = _duration_seconds(header.findtext(f"{{{_NS_W}}}OperationTimeout") or "") or max_timeout
    try:
        max_envelope = int((header.findtext(f"{{{_NS_W}}}MaxEnvelopeSize") or "").strip())
    except ValueError:
        max_envelope = 153600
    return _Envelope(
        action=(header.findtext(f"{{{_NS_A}}}Action") or "").strip(),
        message_id=(header.findtext(f"{{{_NS_A}}}MessageID") or "").strip() or None,
        resource_uri=(header.findtext(f"{{{_NS_W}}}ResourceURI") or "").strip(),
        shell_id=shell_id,
        options=options,
        operation_timeout=min(timeout, max_timeout),
        max_envelope=max(max_envelope, _MIN_ENVELOPE),
        body=body,
    )


def _duration_seconds(text: str) -> float:
    """Seconds of an xs:duration such as ``PT20S`` or ``PT1M30.5S``; 0 if it is not one."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        return 0.0
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _envelope(action: str, relates_to: str | None, body: str) -> bytes:
    """A response envelope with the header Windows sends; RelatesTo echoes the MessageID (WP 9 item 2)."""
    relates = f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>" if relates_to else ""
    return (
        f'<s:Envelope xml:lang="en-US" xmlns:s="{_NS_S}" xmlns:a="{_NS_A}" xmlns:x="{_NS_X}" xmlns:w="{_NS_W}" '
        f'xmlns:rsp="{_NS_RSP}" xmlns:p="{_NS_P}"><s:Header><a:Action>{action}</a:Action>'
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID><a:To>{_ANONYMOUS}</a:To>{relates}"
        f"</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


# ---------------------------------------------------------------------------------------------
# Shells and commands.


class _Command:
    """One WinRS command: its stdin, and its output waiting to be received."""

    def __init__(self, command_id: str, invocation: Invocation, codepage: str) -> None:
        self.id = command_id
        self.invocation = invocation
        self.codepage = codepage
        self.stdin = bytearray()
        self.started = False
        self.finished = asyncio.Event()
        self.aborted = False
        self.pending: collections.deque[tuple[str, bytes]] = collections.deque()
        self.exit_code = 0
        self.task: asyncio.Task[None] | None = None

    def complete(self, output: ProcessOutput) -> None:
        """Queue the process's output for Receive, stdout first as one stream then stderr."""
        if output.stdout:
            self.pending.append(("stdout", output.stdout))
        self.pending.extend(("stderr", chunk) for chunk in output.stderr if chunk)
        self.exit_code = output.exit_code
        self.finished.set()

    def abort(self) -> None:
        """The command was terminated or its shell deleted: wake any Receive waiting for it."""
        self.aborted = True
        if self.task is not None:
            self.task.cancel()
        self.finished.set()


@dataclass
class _Shell:
    """One WinRS shell: its owner, its console code page, its commands."""

    id: str
    owner: str
    codepage: str
    commands: dict[str, _Command] = field(default_factory=dict)
    operations: int = 0
    """Commands started in this shell. Windows does not give the operation back when a text-based
    shell's command is terminated (MS-WSMV Appendix A <118>, quoted in ansible/ansible PR #83656):
    only deleting the shell does."""


def _codepage(value: str | None) -> str:
    """Python codec of a WINRS_CODEPAGE (WP 3.1): the console code page stdin is decoded with.

    437 (the default) and other OEM code pages decode every byte, so UTF-8 text sent without
    ``WINRS_CODEPAGE=65001`` arrives mangled, as on Windows.
    """
    if value == "65001":
        return "utf-8"
    name = f"cp{value}" if value and value.isdigit() else "cp437"
    return name if _codec_exists(name) else "cp437"


@functools.cache
def _codec_exists(name: str) -> bool:
    try:
        "".encode(name)
    except LookupError:
        return False
    return True


class _Connection:
    """One client TCP connection: its NTLM context survives across requests (WP 9 item 4)."""

    def __init__(self, writer: asyncio.StreamWriter, task: asyncio.Task[None] | None) -> None:
        self.writer = writer
        self.task = task
        self.ntlm: spnego.ContextProxy | None = None
        self.user: str | None = None
        """The account NTLM authenticated on this connection, if any."""
        peer = writer.get_extra_info("peername")
        self.peer: str = peer[0] if isinstance(peer, tuple) else ""

    def reset(self) -> None:
        """Drop the connection at once (RST), as a host going away does."""
        _reset(self.writer)
        if self.task is not None and self.task is not asyncio.current_task():
            self.task.cancel()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a TCP reset, as a refusing or vanished host's network stack does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class _HostEndpoint:
    """The WS-Man state of one host: its shells and its open connections."""

    def __init__(self, host: LabHost) -> None:
        self.host = host
        self.shells: dict[str, _Shell] = {}
        self.connections: set[_Connection] = set()

    def shell(self, shell_id: str | None) -> _Shell:
        shell = self.shells.get(shell_id or "")
        if shell is None:
            raise _unknown_shell(shell_id)
        return shell

    def disconnect(self) -> None:
        """Drop every connection, as a host that stops answering does."""
        for connection in list(self.connections):
            connection.reset()
        self.connections.clear()

    def forget_shells(self) -> None:
        """A reboot ends every shell and the processes in them."""
        for shell in self.shells.values():
            for command in shell.commands.values():
                command.abort()
        self.shells.clear()


# ---------------------------------------------------------------------------------------------
# HTTP.


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None
    """None when the body was too large to read at all."""


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    close: bool = False

    def encode(self) -> bytes:
        """HTTP/1.1 with Content-Length on every response, keep-alive by default (WP 1)."""
        lines = [
            f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Error')}",
            "Server: Microsoft-HTTPAPI/2.0",
            f"Date: {email.utils.formatdate(usegmt=True)}",
        ]
        if self.content_type:
            lines.append(f"Content-Type: {self.content_type}")
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        lines.append(f"Content-Length: {len(self.body)}")
        if self.close:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


def _unseal(context: spnego.ContextProxy, body: bytes) -> bytes:
    """Decrypt an NTLM-sealed request body (WP 6.4, "Server side: Decrypt")."""
    parts = body.split(_BOUNDARY)
    if len(parts) != 3 or not parts[2].startswith(_OCTET_STREAM):
        raise ValueError("not an HTTP-SPNEGO-session-encrypted body")
    length = re.search(rb"Length=(\d+)", parts[1])
    payload = parts[2][len(_OCTET_STREAM) :]
    if payload.endswith(_BOUNDARY_END):
        payload = payload[: -len(_BOUNDARY_END)]
    (signature_length,) = struct.unpack("<I", payload[:4])
    if length is None or signature_length != 16:
        raise ValueError("malformed encrypted body")
    # pyspnego's NTLM unwrap takes signature || sealed data.
    plain = context.unwrap(payload[4:]).data
    if len(plain) != int(length.group(1)):
        raise ValueError("encrypted length does not match")
    return plain


def _seal(context: spnego.ContextProxy, plain: bytes) -> bytes:
    """Encrypt a response body, faults included (WP 6.4, "Encrypt the response")."""
    sealed = context.wrap(plain).data  # signature || sealed data
    header = (
        f"\tContent-Type: {_ENCRYPTED_PROTOCOL}\r\n\tOriginalContent: type={_SOAP_CONTENT_TYPE};Length={len(plain)}\r\n"
    )
    return (
        _BOUNDARY + header.encode("ascii") + _BOUNDARY + _OCTET_STREAM + struct.pack("<I", 16) + sealed + _BOUNDARY_END
    )


def _is_ntlm(token: bytes, message_type: int) -> bool:
    return token[:8] == b"NTLMSSP\x00" and token[8:12] == struct.pack("<I", message_type)


class WsmanServer:
    """The WS-Man listeners of every lab host, served by one asyncio event loop.

    ``start`` and ``stop`` run on that loop; ``check_hosts`` is called on it periodically to
    drop the connections (and, after a reboot, the shells) of hosts that stopped answering.
    """

    def __init__(
        self,
        *,
        credentials: LabCredentials,
        ca: LabCA,
        executor: Executor,
        http_port: int | None,
        https_port: int | None,
        allow_unencrypted: bool,
        limits: WinRSLimits,
        rng: random.Random,
    ) -> None:
        self._credentials = credentials
        self._ca = ca
        self._executor = executor
        self._ports = [(port, secure) for port, secure in ((http_port, False), (https_port, True)) if port is not None]
        self._allow_unencrypted = allow_unencrypted
        self._limits = limits
        self._rng = rng
        self._servers: list[asyncio.Server] = []
        self._endpoints: list[_HostEndpoint] = []
        self._active: set[_HostEndpoint] = set()
        """Endpoints with connections or shells: the ones ``check_hosts`` looks at."""
        self._ntlm_registered = False

    async def start(self, hosts: Sequence[LabHost]) -> None:
        """Register the NTLM account and listen on every host's address."""
        _NTLM_USERS.acquire(self._credentials)
        self._ntlm_registered = True
        for host in hosts:
            endpoint = _HostEndpoint(host)
            self._endpoints.append(endpoint)
            for port, secure in self._ports:
                handler = functools.partial(self._serve, endpoint, port, secure)
                self._servers.append(await asyncio.start_server(handler, host.address, port))

    async def stop(self) -> None:
        """Close the listeners, drop every connection and forget every shell."""
        for server in self._servers:
            server.close()
        for endpoint in self._endpoints:
            endpoint.disconnect()
            endpoint.forget_shells()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self._active.clear()
        if self._ntlm_registered:
            _NTLM_USERS.release(self._credentials)
            self._ntlm_registered = False

    def check_hosts(self) -> None:
        """Drop what a host that went down (or became unreachable) would have dropped."""
        for endpoint in list(self._active):
            host = endpoint.host
            if not host.is_up():
                endpoint.disconnect()
                endpoint.forget_shells()
            elif host.faults.unreachable:
                endpoint.disconnect()
            if not endpoint.connections and not endpoint.shells:
                self._active.discard(endpoint)

    # -- connections -------------------------------------------------------------------------

    async def _serve(
        self,
        endpoint: _HostEndpoint,
        port: int,
        secure: bool,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        host = endpoint.host
        if host.faults.unreachable or not host.is_up():
            _reset(writer)
            return
        count(host, "http.connections")
        connection = _Connection(writer, asyncio.current_task())
        endpoint.connections.add(connection)
        self._active.add(endpoint)
        try:
            if secure:
                # No await before start_tls: the ClientHello must reach the TLS layer, not the reader.
                context = self._ca.server_context(host.name, host.address)
                await writer.start_tls(context, ssl_handshake_timeout=_TLS_HANDSHAKE_SECONDS)
            await self._converse(endpoint, connection, reader, port, secure)
        except (OSError, asyncio.IncompleteReadError):  # includes TLS failures and handshake timeouts
            _reset(writer)
        except Exception:  # noqa: BLE001 - a request the lab did not foresee must not end the connection's task unhandled
            # Logged as an error (the lab's tests fail on it), answered like a broken connection.
            _log.exception("request to lab host %s failed", host.name)
            count(host, "http.errors")
            _reset(writer)
        except asyncio.CancelledError:
            # check_hosts or stop dropped the connection. Ending normally, not cancelled, keeps
            # asyncio's stream callback (which calls task.exception()) from logging it as an error.
            pass
        finally:
            endpoint.connections.discard(connection)
            if not writer.is_closing():
                writer.close()

    async def _converse(
        self, endpoint: _HostEndpoint, connection: _Connection, reader: asyncio.StreamReader, port: int, secure: bool
    ) -> None:
        """Serve requests on one keep-alive connection until it closes."""
        host = endpoint.host
        writer = connection.writer
        while True:
            request = await self._read_request(reader, host)
            if request is None:
                return
            if host.faults.unreachable or not host.is_up():
                _reset(writer)
                return
            response = await self._respond(endpoint, connection, request, port, secure)
            if response is None:
                count(host, "http.resets")
                _reset(writer)
                return
            if host.faults.latency_ms > 0:
                await asyncio.sleep(host.faults.latency_ms / 1000)
            data = response.encode()
            if response.status != 200:
                count(host, f"http.{response.status}")
            count(host, "bytes.out", len(data))
            writer.write(data)
            await writer.drain()
            if response.close:
                writer.close()
                return

    async def _read_request(self, reader: asyncio.StreamReader, host: LabHost) -> _Request | None:
        """Read one HTTP request; None at EOF, on a malformed request or after the idle timeout."""
        try:
            async with asyncio.timeout(_IDLE_CONNECTION_SECONDS):
                head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        request_line = lines[0].split(" ")
        if len(request_line) != 3:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name:
                headers[name.strip().lower()] = value.strip()
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            return None
        if length < 0:
            return None  # not a length (security-review.md F16): the connection closes, as for any malformed head
        count(host, "http.requests")
        count(host, "bytes.in", len(head) + length)
        # Encryption adds a few hundred bytes; a body far above the envelope limit is not read.
        path = request_line[1].partition("?")[0]
        if length > 2 * self._limits.max_envelope_bytes + 65536:
            return _Request(request_line[0], path, headers, None)
        return _Request(request_line[0], path, headers, await reader.readexactly(length))

    async def _respond(
        self, endpoint: _HostEndpoint, connection: _Connection, request: _Request, port: int, secure: bool
    ) -> _Response | None:
        """Authenticate, decrypt, apply faults and dispatch one request; None resets the connection."""
        if request.method != "POST":
            return _Response(405, headers=(("Allow", "POST"),))
        if request.path.lower() != "/wsman":
            return _Response(404)
        if request.body is None:
            return _Response(413, close=True)
        user = self._authenticate(endpoint, connection, request, secure)
        if isinstance(user, _Response):
            return user
        if not request.body:
            # pywinrm's blank POST that sets up encryption after NTLM (WP 6.3 step 3, WP 9 item 5).
            return _Response(200)
        encrypted = _ENCRYPTED_PROTOCOL in request.headers.get("content-type", "")
        if encrypted:
            if connection.ntlm is None or connection.user is None:
                return self._challenge(secure)
            try:
                soap = _unseal(connection.ntlm, request.body)
            except (ValueError, struct.error, spnego.exceptions.SpnegoError):
                # A body sealed with another context's keys (WP 6.4, "Encryption is stateful").
                return _Response(500)
        elif not secure and not self._allow_unencrypted:
            # AllowUnencrypted=false, the Windows default, refuses plaintext over HTTP (WP 4.3).
            return self._challenge(secure)
        else:
            soap = request.body
        if len(soap) > self._host_limits(endpoint.host).max_envelope_bytes:
            # Over MaxEnvelopeSizekb: HTTP 413 with no SOAP fault (WP 3.3, WP 4.2 table).
            return _Response(413)
        # Injected faults: the request is lost before the service sees it, so nothing runs.
        faults = endpoint.host.faults
        if faults.reset_rate > 0 and self._rng.random() < faults.reset_rate:
            return None
        if faults.http_500_rate > 0 and self._rng.random() < faults.http_500_rate:
            return _Response(500)
        status, reply = await self._dispatch(endpoint, connection, user, soap, port, secure)
        if encrypted:
            assert connection.ntlm is not None
            return _Response(status, _seal(connection.ntlm, reply), _ENCRYPTED_CONTENT_TYPE)
        return _Response(status, reply, _SOAP_CONTENT_TYPE)

    def _host_limits(self, host: LabHost) -> WinRSLimits:
        """The lab's limits with the host's own MaxEnvelopeSizekb and MaxShellsPerUser, when its
        faults set them (a host configured apart from the fleet)."""
        faults = host.faults
        if faults.max_envelope_size_kb is None and faults.max_shells_per_user is None:
            return self._limits
        return replace(
            self._limits,
            max_envelope_size_kb=int(faults.max_envelope_size_kb or self._limits.max_envelope_size_kb),
            max_shells_per_user=int(faults.max_shells_per_user or self._limits.max_shells_per_user),
        )

    # -- authentication ----------------------------------------------------------------------

    def _challenge(self, secure: bool) -> _Response:
        """401 advertising the schemes this listener accepts (WP 6.2, WP 6.3 step 1)."""
        headers = [("WWW-Authenticate", "Negotiate")]
        if secure or self._allow_unencrypted:
            headers.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        return _Response(401, headers=tuple(headers))

    def _authenticate(
        self, endpoint: _HostEndpoint, connection: _Connection, request: _Request, secure: bool
    ) -> str | _Response:
        """The account a request runs as, or the 401 that answers it."""
        header = request.headers.get("authorization")
        if header is None:
            # NTLM authenticates the connection, not each request (WP 6.3 step 4).
            return connection.user if connection.user is not None else self._challenge(secure)
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "basic":
            if not (secure or self._allow_unencrypted):
                return self._challenge(secure)
            return self._basic(endpoint.host, token.strip()) or self._challenge(secure)
        if scheme.lower() in ("negotiate", "ntlm"):
            return self._ntlm_step(endpoint.host, connection, scheme, token.strip(), secure)
        return self._challenge(secure)

    def _basic(self, host: LabHost, token: str) -> str | None:
        """Basic: ``user:password`` on every request, preemptively (WP 6.1, WP 6.2)."""
        try:
            decoded = base64.b64decode(token, validate=True)
        except binascii.Error:
            return None
        try:
            text = decoded.decode("utf-8")
        except UnicodeDecodeError:
            text = decoded.decode("latin-1")  # requests encodes str credentials as latin-1
        user, _, password = text.partition(":")
        if host.faults.bad_credentials or not self._credentials.accepts(user, password):
            return None
        return user

    def _ntlm_step(
        self, host: LabHost, connection: _Connection, scheme: str, token_text: str, secure: bool
    ) -> str | _Response:
        """One leg of the NTLM handshake on this connection (WP 6.3, WP 6.5)."""
        try:
            token = base64.b64decode(token_text, validate=True)
        except binascii.Error:
            return self._challenge(secure)
        if _is_ntlm(token, 1):
            connection.user = None
            acceptor = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
            try:
                challenge = acceptor.step(token) or b""
            except (spnego.exceptions.SpnegoError, ValueError, struct.error):
                # A truncated or garbled NEGOTIATE (security-review.md F16): pyspnego raises
                # ValueError for the length; the logon fails like any other, with a fresh challenge.
                return self._challenge(secure)
            connection.ntlm = acceptor
            return _Response(401, headers=(("WWW-Authenticate", f"{scheme} {base64.b64encode(challenge).decode()}"),))
        context = connection.ntlm
        if not _is_ntlm(token, 3) or context is None or context.complete:
            return self._challenge(secure)
        connection.ntlm = None
        if host.faults.bad_credentials:
            return self._challenge(secure)
        try:
            context.step(token)
        except (spnego.exceptions.SpnegoError, ValueError, struct.error):
            return self._challenge(secure)
        principal = context.client_principal or ""
        # The credential file may hold other labs' accounts: only this lab's user logs on here.
        if account_name(principal) != self._credentials.user.lower():
            return self._challenge(secure)
        connection.ntlm = context
        connection.user = principal
        return principal

    # -- WS-Man operations -------------------------------------------------------------------

    async def _dispatch(
        self, endpoint: _HostEndpoint, connection: _Connection, user: str, soap: bytes, port: int, secure: bool
    ) -> tuple[int, bytes]:
        """Run one SOAP operation: (HTTP status, response envelope)."""
        host = endpoint.host
        count(host, "wsman.messages")
        message_id = None
        try:
            envelope = _parse_envelope(soap, self._limits)
            message_id = envelope.message_id
            operation = _OPERATIONS.get(envelope.action)
            count(host, f"wsman.{operation[0] if operation else 'Other'}")
            if operation is None:
                raise _unknown_action()
            if envelope.resource_uri.lower() != _CMD_RESOURCE_URI.lower():
                raise _unknown_resource()
            name, response_action = operation
            if name == "Create":
                body = self._create(endpoint, connection, user, envelope, port, secure)
            elif name == "Command":
                body = self._command(endpoint, user, envelope)
            elif name == "Send":
                body = self._send(endpoint, envelope)
            elif name == "Receive":
                body = await self._receive(endpoint, envelope)
            elif name == "Signal":
                body = self._signal(endpoint, envelope)
            else:
                body = self._delete(endpoint, envelope)
            return 200, _envelope(response_action, message_id, body)
        except WsmanFault as fault:
            count(host, f"wsman.fault.{fault.subcode.partition(':')[2]}")
            return 500, _envelope(_FAULT_ACTION, message_id, fault.body(host.address))

    def _create(
        self, endpoint: _HostEndpoint, connection: _Connection, user: str, envelope: _Envelope, port: int, secure: bool
    ) -> str:
        """Create a cmd shell; pywinrm reads the ``Name="ShellId"`` selector (WP 3.1, WP 9 item 1)."""
        owner = account_name(user)
        limit = self._host_limits(endpoint.host).max_shells_per_user
        if sum(1 for shell in endpoint.shells.values() if shell.owner == owner) >= limit:
            raise _shell_quota(limit)
        shell = _Shell(str(uuid.uuid4()).upper(), owner, _codepage(envelope.options.get("WINRS_CODEPAGE")))
        endpoint.shells[shell.id] = shell
        self._active.add(endpoint)
        address = f"{'https' if secure else 'http'}://{endpoint.host.address}:{port}/wsman"
        return (
            f"<x:ResourceCreated><a:Address>{address}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{_CMD_RESOURCE_URI}</w:ResourceURI><w:SelectorSet>"
            f'<w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet></a:ReferenceParameters>'
            f"</x:ResourceCreated><rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{_CMD_RESOURCE_URI}</rsp:ResourceUri><rsp:Owner>{escape(user)}</rsp:Owner>"
            f"<rsp:ClientIP>{connection.peer}</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
            "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
            "</rsp:Shell>"
        )

    def _command(self, endpoint: _HostEndpoint, user: str, envelope: _Envelope) -> str:
        """Start a command: Command plus the space-joined Arguments is the command line (WP 3.2)."""
        shell = endpoint.shell(envelope.shell_id)
        owner = account_name(user)
        operations = sum(s.operations for s in endpoint.shells.values() if s.owner == owner)
        if operations >= self._limits.max_concurrent_operations_per_user:
            raise _operation_quota(self._limits.max_concurrent_operations_per_user)
        command_line = envelope.body.find(f"{{{_NS_RSP}}}CommandLine")
        if command_line is None:
            raise _schema_error()
        parts = [(command_line.findtext(f"{{{_NS_RSP}}}Command") or "").strip()]
        parts.extend(arg.text or "" for arg in command_line.findall(f"{{{_NS_RSP}}}Arguments"))
        line = " ".join(parts)
        if len(line) > _CREATE_PROCESS_LIMIT:
            raise _command_line_too_long()
        through_cmd = envelope.options.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() != "TRUE"
        command = _Command(str(uuid.uuid4()).upper(), parse_command_line(line, through_cmd=through_cmd), shell.codepage)
        shell.commands[command.id] = command
        shell.operations += 1
        if not command.invocation.waits_for_stdin:
            self._start(endpoint.host, command)
        return f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>"

    def _send(self, endpoint: _HostEndpoint, envelope: _Envelope) -> str:
        """Append base64 stdin; ``End="true"`` is EOF, when ``-Command -`` PowerShell runs (WP 3.3)."""
        shell = endpoint.shell(envelope.shell_id)
        for stream in envelope.body.iter(f"{{{_NS_RSP}}}Stream"):
            command = shell.commands.get(stream.get("CommandId", ""))
            if command is None:
                raise _unknown_command()
            try:
                command.stdin += base64.b64decode(stream.text or "", validate=True)
            except binascii.Error:
                raise _schema_error() from None
            if stream.get("End", "").lower() == "true" and not command.started:
                self._start(endpoint.host, command)
        return "<rsp:SendResponse/>"

    async def _receive(self, endpoint: _HostEndpoint, envelope: _Envelope) -> str:
        """Block until the command's output is ready or OperationTimeout passes (WP 3.4, WP 4.1)."""
        shell = endpoint.shell(envelope.shell_id)
        desired = envelope.body.find(f"{{{_NS_RSP}}}Receive/{{{_NS_RSP}}}DesiredStream")
        command = shell.commands.get(desired.get("CommandId", "") if desired is not None else "")
        if command is None:
            raise _unknown_command()
        if not command.finished.is_set():
            try:
                async with asyncio.timeout(envelope.operation_timeout):
                    await command.finished.wait()
            except TimeoutError:
                raise _timed_out() from None
        if command.aborted:
            raise _unknown_command()
        return _receive_body(command, envelope.max_envelope)

    def _signal(self, endpoint: _HostEndpoint, envelope: _Envelope) -> str:
        """Terminate a command (pywinrm sends only ``terminate``, WP 3.5)."""
        shell = endpoint.shell(envelope.shell_id)
        signal = envelope.body.find(f"{{{_NS_RSP}}}Signal")
        command = shell.commands.pop(signal.get("CommandId", "") if signal is not None else "", None)
        if command is None:
            raise _unknown_command()
        command.abort()
        return "<rsp:SignalResponse/>"

    def _delete(self, endpoint: _HostEndpoint, envelope: _Envelope) -> str:
        """Delete a shell, ending its commands and giving back its operations (WP 3.6)."""
        shell = endpoint.shell(envelope.shell_id)
        del endpoint.shells[shell.id]
        for command in shell.commands.values():
            command.abort()
        return ""

    def _start(self, host: LabHost, command: _Command) -> None:
        """Run the command's process on the executor; ``run_script`` may block."""
        command.started = True
        command.task = asyncio.get_running_loop().create_task(self._run(host, command))

    async def _run(self, host: LabHost, command: _Command) -> None:
        stdin = bytes(command.stdin).decode(command.codepage, errors="replace")
        loop = asyncio.get_running_loop()
        try:
            output = await loop.run_in_executor(self._executor, execute, host, command.invocation, stdin)
        except Exception as error:  # a host-model bug: show it as a failed process, and log it
            _log.exception("run_script failed on lab host %s", host.name)
            output = ProcessOutput(b"", clixml(f"lab host model error: {error!r}\n"), 1)
        command.complete(output)


def _receive_body(command: _Command, max_envelope: int) -> str:
    """One ReceiveResponse: as much output as fits the client's MaxEnvelopeSize (WP 3.4).

    Windows keeps each response under the MaxEnvelopeSize the client asked for, spreading long
    output over several Receives; the last one carries the End markers and exactly one
    CommandState/Done with the ExitCode (WP 9 item 3).
    """
    command_id = command.id
    room = max_envelope - _RECEIVE_OVERHEAD
    streams: list[str] = []
    while command.pending:
        name, chunk = command.pending[0]
        fits = (room - _STREAM_OVERHEAD) // 4 * 3
        if fits <= 0:
            break
        piece = chunk[:fits]
        streams.append(
            f'<rsp:Stream Name="{name}" CommandId="{command_id}">{base64.b64encode(piece).decode("ascii")}</rsp:Stream>'
        )
        room -= _STREAM_OVERHEAD + 4 * math.ceil(len(piece) / 3)
        if len(piece) < len(chunk):
            command.pending[0] = (name, chunk[len(piece) :])
            break
        command.pending.popleft()
    if command.pending:
        state = f'<rsp:CommandState CommandId="{command_id}" State="{_SHELL_URI}/CommandState/Running"/>'
    else:
        streams.extend(
            f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>'
            for name in ("stdout", "stderr")
        )
        state = (
            f'<rsp:CommandState CommandId="{command_id}" State="{_SHELL_URI}/CommandState/Done">'
            f"<rsp:ExitCode>{command.exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    return f"<rsp:ReceiveResponse>{''.join(streams)}{state}</rsp:ReceiveResponse>"
