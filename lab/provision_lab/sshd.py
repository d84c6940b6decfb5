"""The lab's SSH endpoints: each host's Windows OpenSSH server, played by paramiko's server mode.

The controller's SSH transport (DESIGN 4.8) execs
``powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -``, writes
the script to stdin, closes it, and reads stdout, stderr and the exit status. The lab does the
same as Windows: the command line goes through ``cmd.exe`` (OpenSSH's default shell, so the
8,191-character limit applies), PowerShell reads stdin to EOF, and what it writes comes back
with its exit status. Other forms of the command line are handled by the same parser as WinRM
(:func:`~provision_lab.wsman.parse_command_line`).

Each host has a stable Ed25519 host key derived from a seed kept in the lab directory and the
host's name, so a known_hosts file written once stays valid across lab restarts. Password
authentication accepts the lab account (unless the host's ``bad_credentials`` fault is on, like
a changed password); public-key authentication accepts the authorized keys given to the lab.

One asyncio event loop accepts on every host's listening socket; each connection then gets a
paramiko Transport (its own thread) and each exec request a short-lived thread.

Counters kept in ``host.counters``: ``ssh.connections``, ``ssh.auth_failures``,
``ssh.commands``, ``ssh.resets``, ``bytes.in``, ``bytes.out``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import io
import logging
import os
import random
import secrets
import socket
import struct
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.common import (
    AUTH_FAILED,
    AUTH_SUCCESSFUL,
    OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED,
    OPEN_SUCCEEDED,
)

from provision_lab.api import LabHost
from provision_lab.wsman import (
    LabCredentials,
    ProcessOutput,
    account_name,
    clixml,
    count,
    execute,
    parse_command_line,
)

__all__ = ["SshHostKeys", "SshServer"]

_log = logging.getLogger(__name__)
_TRANSPORT_LOG = f"{__name__}.transport"
# paramiko logs every client that hangs up mid-handshake at ERROR level; with no handler
# configured those would reach stderr through logging's last-resort handler.
logging.getLogger(_TRANSPORT_LOG).addHandler(logging.NullHandler())
_CLOSE_WAIT_SECONDS = 10.0
"""How long a finished exec waits for the client's EOF before closing the channel anyway."""


class SshHostKeys:
    """Stable per-host Ed25519 host keys, derived from a seed kept in ``directory``."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        seed_path = directory / "ssh_host_key_seed"
        if not seed_path.exists():
            fd = os.open(seed_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(secrets.token_bytes(32))
        self._seed = seed_path.read_bytes()
        self._lock = threading.Lock()
        self._paramiko_keys: dict[str, paramiko.PKey] = {}

    def _private_key(self, name: str) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(self._seed + b"\0" + name.encode()).digest())

    def public_key(self, name: str) -> str:
        """The host key as an OpenSSH public key line: ``ssh-ed25519 AAAA...``."""
        return (
            self._private_key(name)
            .public_key()
            .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
            .decode("ascii")
        )

    def fingerprint(self, name: str) -> str:
        """The host key's fingerprint as OpenSSH prints it: ``SHA256:`` + unpadded base64."""
        blob = base64.b64decode(self.public_key(name).split()[1])
        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode("ascii").rstrip("=")

    def paramiko_key(self, name: str) -> paramiko.PKey:
        """The host key as paramiko's server needs it (built on first use, then cached)."""
        with self._lock:
            key = self._paramiko_keys.get(name)
            if key is None:
                pem = self._private_key(name).private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
                )
                key = paramiko.Ed25519Key(file_obj=io.StringIO(pem.decode("ascii")))
                self._paramiko_keys[name] = key
            return key

    def write_known_hosts(self, path: Path, hosts: Iterable[LabHost], port: int) -> None:
        """Write a known_hosts file naming each host by address and by name, on ``port``."""

        def pattern(host: str) -> str:
            return host if port == 22 else f"[{host}]:{port}"

        lines = [f"{pattern(h.address)},{pattern(h.name)} {self.public_key(h.name)}\n" for h in hosts]
        path.write_text("".join(lines), encoding="ascii")


class _SshEndpoint:
    """The SSH state of one host: its listening socket and live transports."""

    def __init__(self, host: LabHost, listener: socket.socket) -> None:
        self.host = host
        self.listener = listener
        self.transports: set[paramiko.Transport] = set()

    def disconnect(self) -> None:
        """Drop every connection, as a host that stops answering does."""
        for transport in self.transports:
            transport.close()
        self.transports.clear()


class SshServer:
    """The SSH listeners of every lab host, accepted on one asyncio event loop."""

    def __init__(
        self,
        *,
        credentials: LabCredentials,
        authorized_keys: Sequence[str],
        keys: SshHostKeys,
        port: int,
        rng: random.Random,
    ) -> None:
        self._credentials = credentials
        self._authorized = {_key_blob(line) for line in authorized_keys}
        self._keys = keys
        self._port = port
        self._rng = rng
        self._rng_lock = threading.Lock()
        self._endpoints: list[_SshEndpoint] = []
        self._active: set[_SshEndpoint] = set()

    async def start(self, hosts: Sequence[LabHost]) -> None:
        """Listen on every host's address; runs on the event loop that will accept."""
        loop = asyncio.get_running_loop()
        for host in hosts:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((host.address, self._port))
                listener.listen(64)
                listener.setblocking(False)
            except OSError:
                listener.close()
                raise
            endpoint = _SshEndpoint(host, listener)
            self._endpoints.append(endpoint)
            loop.add_reader(listener.fileno(), self._accept, endpoint)

    async def stop(self) -> None:
        """Stop accepting and drop every connection."""
        loop = asyncio.get_running_loop()
        for endpoint in self._endpoints:
            loop.remove_reader(endpoint.listener.fileno())
            endpoint.listener.close()
            endpoint.disconnect()
        self._endpoints.clear()
        self._active.clear()

    def check_hosts(self) -> None:
        """Drop the connections of hosts that went down or became unreachable."""
        for endpoint in list(self._active):
            host = endpoint.host
            if host.faults.unreachable or not host.is_up():
                endpoint.disconnect()
            endpoint.transports = {t for t in endpoint.transports if t.is_active()}
            if not endpoint.transports:
                self._active.discard(endpoint)

    def _accept(self, endpoint: _SshEndpoint) -> None:
        host = endpoint.host
        while True:
            try:
                sock, _ = endpoint.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                _log.exception("accepting an SSH connection for lab host %s failed", host.name)
                return
            if host.faults.unreachable or not host.is_up():
                # Reset at once, as a host that is not there: the client's connect fails.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
                continue
            count(host, "ssh.connections")
            sock.setblocking(True)
            # No Nagle: a small exec reply would otherwise wait for the client's delayed ACK (~40 ms).
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = paramiko.Transport(sock)
            transport.set_log_channel(_TRANSPORT_LOG)
            transport.add_server_key(self._keys.paramiko_key(host.name))
            # With an event, start_server returns at once: negotiation runs in the transport's thread.
            transport.start_server(event=threading.Event(), server=_SshSession(self, host, transport))
            endpoint.transports.add(transport)
            self._active.add(endpoint)

    def check_password(self, host: LabHost, user: str, password: str) -> bool:
        """Password logon: the lab account, refused while the host's password 'changed'."""
        ok = not host.faults.bad_credentials and self._credentials.accepts(user, password)
        if not ok:
            count(host, "ssh.auth_failures")
        return ok

    def check_key(self, host: LabHost, user: str, key: paramiko.PKey) -> bool:
        """Public-key logon: the lab account with one of the authorized keys."""
        ok = account_name(user) == self._credentials.user.lower() and key.get_base64() in self._authorized
        if not ok:
            count(host, "ssh.auth_failures")
        return ok

    def chance(self, rate: float) -> bool:
        """True with probability ``rate``, from the lab's seeded generator."""
        if rate <= 0:
            return False
        with self._rng_lock:
            return self._rng.random() < rate

    def run_exec(self, host: LabHost, transport: paramiko.Transport, channel: paramiko.Channel, command: bytes) -> None:
        """Serve one exec request: read stdin if the command does, run, answer (own thread)."""
        try:
            self._run_exec(host, transport, channel, command)
            channel.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass  # the client, or a reset fault, ended the connection

    def _run_exec(
        self, host: LabHost, transport: paramiko.Transport, channel: paramiko.Channel, command: bytes
    ) -> None:
        count(host, "ssh.commands")
        invocation = parse_command_line(command.decode("utf-8", errors="replace"), through_cmd=True)
        stdin = bytearray()
        if invocation.waits_for_stdin:
            while chunk := channel.recv(65536):
                stdin += chunk
        count(host, "bytes.in", len(command) + len(stdin))
        # Assumed, not verified on a Windows host: PowerShell under OpenSSH reads stdin as UTF-8.
        try:
            output = execute(host, invocation, stdin.decode("utf-8", errors="replace"))
        except Exception as error:  # a host-model bug: show it as a failed process, and log it
            _log.exception("run_script failed on lab host %s", host.name)
            output = ProcessOutput(b"", clixml(f"lab host model error: {error!r}\n"), 1)
        if host.faults.latency_ms > 0:
            time.sleep(host.faults.latency_ms / 1000)
        if self.chance(host.faults.reset_rate) or host.faults.unreachable or not host.is_up():
            count(host, "ssh.resets")
            transport.close()
            return
        stderr = b"".join(output.stderr)
        count(host, "bytes.out", len(output.stdout) + len(stderr))
        channel.sendall(output.stdout)
        channel.sendall_stderr(stderr)
        channel.send_exit_status(output.exit_code)
        channel.shutdown_write()
        # paramiko answers the exec request only after check_channel_exec_request returns, so a
        # fast command could close the channel before that answer, and the client would see
        # "Channel closed". The client's EOF (or its hanging up) comes after the answer: wait
        # for it before closing. The client has everything by now; this delays only the close.
        channel.settimeout(_CLOSE_WAIT_SECONDS)
        try:
            while channel.recv(65536):
                pass
        except TimeoutError:
            pass


class _SshSession(paramiko.ServerInterface):
    """paramiko's view of one connection: authentication and channel policy."""

    def __init__(self, server: SshServer, host: LabHost, transport: paramiko.Transport) -> None:
        self._server = server
        self._host = host
        self._transport = transport

    def get_allowed_auths(self, username: str) -> str:
        return "publickey,password"

    def check_auth_password(self, username: str, password: str) -> int:
        ok = self._server.check_password(self._host, username, password)
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        ok = self._server.check_key(self._host, username, key)
        return AUTH_SUCCESSFUL if ok else AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        thread = threading.Thread(
            target=self._server.run_exec,
            args=(self._host, self._transport, channel, command),
            name=f"lab-ssh-exec-{self._host.name}",
            daemon=True,
        )
        thread.start()
        return True


def _key_blob(line: str) -> str:
    """The base64 key blob of an authorized_keys line (``type blob [comment]``)."""
    fields = line.split()
    if len(fields) < 2:
        raise ValueError(f"not an OpenSSH public key line: {line!r}")
    return fields[1]
