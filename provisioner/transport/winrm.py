"""WinRM transport on pywinrm's ``Protocol`` (DESIGN 4.8).

One shell per connection, reused for every script; the script goes over stdin (one Send for
scripts under the envelope limit) and the command is not signalled once it is Done, because
deleting the shell ends it: a drift check costs Create, Command, Send, Receive, Delete = 5
WS-Man messages (perf-and-style.md, "fewest messages"). pywinrm retries Receive timeouts
forever; we loop on ``get_command_output_raw`` ourselves to honour a deadline. pywinrm's
connection errors are raw ``requests`` exceptions and its timeout/transport errors are not
WinRMError subclasses (winrm-protocol.md section 9, item 10), so each is mapped here to one line.
"""

from __future__ import annotations

import errno
import math
import os
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

import certifi
import requests
from winrm.exceptions import (
    InvalidCredentialsError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from provisioner.protocol.bootstrap import POWERSHELL_COMMAND, stdin_for
from provisioner.transport import ScriptResult, TransportCounters, TransportError
from provisioner.transport.faults import CHUNK_BYTES, OPERATION_TIMEOUT, fault_error, root_cause
from provisioner.transport.settings import ConnectionSettings

__all__ = ["CHUNK_BYTES", "WinRMConnection", "ca_trust", "describe"]


class _CountingProtocol(Protocol):
    def __init__(self, counters: TransportCounters, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.counters = counters

    def send_message(self, message: str) -> bytes:
        self.counters.messages += 1
        self.counters.bytes_sent += len(message)
        response: bytes = super().send_message(message)
        self.counters.bytes_received += len(response)
        # requests re-reads every proxy environment variable on each request while trust_env is on:
        # a third of the controller's CPU in a fleet check (bench/fleet.py, profiled with yappi).
        # WinRM endpoints come from the inventory, not from proxy variables.
        if self.transport.session is not None:
            self.transport.session.trust_env = False
        return response


def ca_trust(settings: ConnectionSettings) -> tuple[str, str]:
    """The CA file or directory this client validates a host's certificate against, and its name.

    pywinrm with ``ca_trust_path`` unset uses requests' choice: REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE, else certifi's bundle; requests does not read the system store (WP 6.1;
    Ansible winrm, "HTTPS Certificate Validation").
    """
    if settings.ca_bundle:
        return settings.ca_bundle, f"ca_bundle {settings.ca_bundle}"
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        value = os.environ.get(variable)
        if value:
            return value, f"${variable} ({value})"
    return certifi.where(), "certifi's CA bundle (requests' default; the system store is not used)"


def describe(host: str, settings: ConnectionSettings, exc: BaseException) -> TransportError:
    """One line naming the host and the cause, with the kind the engine decides on."""
    where = f"{settings.address}:{settings.effective_port}"
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, InvalidCredentialsError):
        return TransportError(
            host,
            f"authentication failed: {settings.transport} credentials for {settings.user!r} were rejected (HTTP 401)",
            kind="auth",
        )
    if isinstance(exc, WSManFaultError):
        return fault_error(host, exc.reason or "", exc.wsman_fault_code, exc.code)
    if isinstance(exc, WinRMTransportError):
        return TransportError(
            host, f"HTTP {exc.code} from the WinRM service at {where}", kind="http", retryable=exc.code >= 500
        )
    if isinstance(exc, requests.exceptions.SSLError):
        cause = root_cause(exc)
        detail = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
        return TransportError(
            host, f"certificate rejected at {where}: {detail} (trust the host's CA with ca_bundle)", kind="certificate"
        )
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout, socket.timeout)):
        return TransportError(host, f"timed out talking to {where}", kind="timeout", retryable=True)
    if isinstance(exc, requests.exceptions.ConnectionError):
        cause = root_cause(exc)
        if isinstance(cause, socket.gaierror):
            return TransportError(host, f"name {settings.address!r} does not resolve", kind="dns")
        if isinstance(cause, ConnectionRefusedError) or getattr(cause, "errno", None) == errno.ECONNREFUSED:
            return TransportError(host, f"connection refused: nothing listening on {where}", kind="refused")
        if isinstance(cause, ssl.SSLError):
            return TransportError(host, f"TLS failed at {where}: {cause}", kind="certificate")
        return TransportError(host, f"connection to {where} dropped: {cause}", kind="reset", retryable=True)
    if isinstance(exc, WinRMError):
        return TransportError(host, f"WinRM error: {exc}", kind="http")
    return TransportError(host, f"{type(exc).__name__}: {exc}")


class WinRMConnection:
    """A Connection over WinRM; not thread-safe (one per host per worker)."""

    def __init__(self, host: str, settings: ConnectionSettings, password: str | None) -> None:
        self.host = host
        self.settings = settings
        self.counters = TransportCounters()
        endpoint = f"{settings.scheme}://{settings.address}:{settings.effective_port}/wsman"
        validation = "ignore" if settings.cert_validation == "ignore" else "validate"
        kwargs: dict[str, Any] = dict(
            endpoint=endpoint,
            transport="ssl" if settings.transport == "certificate" else settings.transport,
            username=settings.user,
            password=password,
            server_cert_validation=validation,
            message_encryption="auto",
            operation_timeout_sec=OPERATION_TIMEOUT,
            read_timeout_sec=OPERATION_TIMEOUT + 10,
        )
        if settings.ca_bundle:
            kwargs["ca_trust_path"] = settings.ca_bundle
        # None makes pywinrm bypass every proxy ("no_proxy": "*"), whatever HTTP(S)_PROXY say; only
        # the inventory's ``proxy`` is used (its default, "legacy_requests", reads the environment).
        kwargs["proxy"] = settings.proxy
        if settings.transport == "certificate":
            kwargs.update(cert_pem=settings.cert_pem, cert_key_pem=settings.cert_key_pem)
        if password is None and settings.transport in {"ntlm", "basic", "credssp"}:
            raise TransportError(
                host,
                f"no password for {settings.user!r}: set password_env to the name of an "
                "environment variable that holds it, or use --ask-pass",
                kind="auth",
            )
        self._protocol = _CountingProtocol(self.counters, **kwargs)
        self._shell: str | None = None

    def _call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TransportError, WinRMOperationTimeoutError):
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes one line naming the cause
            error = describe(self.host, self.settings, exc)
            if error.kind == "http":
                # The host answered, so it can still delete the shell; otherwise the shell would hold
                # one of the account's MaxShellsPerUser (30) until its idle timeout.
                self._release_shell()
            self._shell = None  # a fault or a reboot leaves the shell unusable: rebuild it next time
            raise error from None

    def _release_shell(self) -> None:
        if self._shell is None:
            return
        try:
            self._protocol.close_shell(self._shell, close_session=False)
        except Exception:  # noqa: BLE001 - best effort: the fault being reported matters more
            pass

    def connect(self, *, timeout: float) -> None:
        """Authenticate and open the shell now, without running a script (``Connection.connect``).

        ``timeout`` bounds each HTTP exchange of the log-on and the Create (pywinrm's read timeout,
        at most its usual one); a later ``run`` reuses the shell.
        """
        if self._shell is not None:
            return
        transport = self._protocol.transport
        usual = transport.read_timeout_sec
        # Whole seconds: pywinrm declares the read timeout an int.
        bound = max(math.ceil(timeout), 1)
        transport.read_timeout_sec = bound if usual is None else min(bound, usual)
        try:
            self._shell = self._call(self._protocol.open_shell, codepage=65001)
        finally:
            transport.read_timeout_sec = usual

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        deadline = time.monotonic() + timeout
        if self._shell is None:
            # UTF-8 stdin and output: the shell's code page is what WinRS decodes stdin with (Ansible also
            # opens its shells with 65001).
            self._shell = self._call(self._protocol.open_shell, codepage=65001)
        shell = self._shell
        command = self._call(self._protocol.run_command, shell, POWERSHELL_COMMAND, console_mode_stdin=False)
        data = stdin_for(script, secrets)
        for start in range(0, max(len(data), 1), CHUNK_BYTES):
            chunk = data[start : start + CHUNK_BYTES]
            self._call(self._protocol.send_command_input, shell, command, chunk, end=start + CHUNK_BYTES >= len(data))
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        while True:
            if time.monotonic() > deadline:
                self._abandon(shell, command)
                raise TransportError(
                    self.host, f"timed out after {timeout:g} s waiting for the script to finish", kind="timeout"
                )
            try:
                out, err, code, done = self._call(self._protocol.get_command_output_raw, shell, command)
            except WinRMOperationTimeoutError:
                continue  # the host's Receive timed out with no output yet: ask again
            stdout.append(out)
            stderr.append(err)
            if done:
                break
        self.counters.scripts += 1
        return ScriptResult(
            b"".join(stdout).decode("utf-8", "replace"), b"".join(stderr).decode("utf-8", "replace"), int(code)
        )

    def _abandon(self, shell: str, command: str) -> None:
        try:
            self._protocol.cleanup_command(shell, command)
        except Exception:  # noqa: BLE001 - best effort: the shell is rebuilt anyway
            pass
        self._shell = None

    def close(self) -> None:
        if self._shell is not None:
            try:
                self._protocol.close_shell(self._shell)
            except Exception:  # noqa: BLE001 - the host may be rebooting; nothing to release then
                pass
            self._shell = None
        self._protocol.transport.close_session()
