"""SSH transport on paramiko for Windows OpenSSH with PowerShell (DESIGN 4.8).

Host keys are checked against known_hosts by default (``host_key_policy: accept_new`` adds
unknown keys, never changed ones). One SSH connection per Connection; each script is one exec
channel running the same PowerShell command line as WinRM, with the script on stdin.

``accept_new`` is trust on first use, as OpenSSH's ``StrictHostKeyChecking accept-new``: a host
whose name has no key yet is accepted and its key written to known_hosts (the inventory's
``known_hosts:``, else ``~/.ssh/known_hosts``), so the next run checks it; a host with a
different key on record is refused. Connections run on many threads and runs may overlap, so
additions go through one writer: a lock per process and an ``flock`` on a sidecar lock file
across processes; under it the file is read again (another connection may have recorded the
host meanwhile), the line appended, and the result put in place with one atomic ``os.replace``,
which keeps every line already there (security review F3: each connection used to rewrite the
file from its own stale copy, keeping 1 key of 6, and nothing was saved without ``known_hosts:``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import paramiko

from provisioner.protocol.bootstrap import POWERSHELL_COMMAND, stdin_for
from provisioner.transport import ScriptResult, TransportCounters, TransportError
from provisioner.transport.settings import ConnectionSettings

__all__ = ["SSHConnection", "known_hosts", "remember_host_key"]

try:
    import fcntl
except ImportError:  # Windows controllers: the lock within the process still serialises this one
    fcntl = None  # type: ignore[assignment]

_KNOWN_HOSTS_WRITER = threading.Lock()


@contextlib.contextmanager
def _exclusive(known: Path) -> Iterator[None]:
    """The one writer of ``known``: this process's lock, then an ``flock`` on ``known.lock``,
    a file that is never replaced, so every process locks the same inode."""
    with _KNOWN_HOSTS_WRITER:
        known.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if fcntl is None:
            yield
            return
        fd = os.open(known.with_name(known.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the flock


def remember_host_key(known: Path, hostname: str, key: paramiko.PKey) -> None:
    """Add ``hostname``'s ``key`` to ``known`` unless it is there; ``BadHostKeyException`` when
    another key for that name was recorded first (by a concurrent connection or run)."""
    known = known.resolve()  # a symlinked known_hosts stays a symlink: its target is replaced
    with _exclusive(known):
        recorded = paramiko.HostKeys()
        if known.exists():
            recorded.load(str(known))
        found = recorded.lookup(hostname)
        if found is not None:
            if found.get(key.get_name()) == key:
                return  # recorded by another connection meanwhile
            raise paramiko.BadHostKeyException(hostname, key, next(iter(found.values())))
        existing = known.read_bytes() if known.exists() else b""
        if existing and not existing.endswith(b"\n"):
            existing += b"\n"
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n".encode("ascii")
        mode = known.stat().st_mode & 0o777 if known.exists() else 0o600
        staging = known.with_name(f".{known.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as out:
                out.write(existing + line)
                out.flush()
                os.fsync(out.fileno())
            os.replace(staging, known)
        finally:
            staging.unlink(missing_ok=True)


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """``accept_new``: an unknown host's key is accepted and recorded at once (trust on first use)."""

    def __init__(self, host: str, known: Path) -> None:
        self.host, self.known = host, known

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        try:
            remember_host_key(self.known, hostname, key)
        except OSError as exc:
            # Not kept means not trusted on the next run either: refuse rather than accept silently.
            client.close()
            raise TransportError(
                self.host,
                f"cannot record the host key of {hostname} in {self.known}: {exc.strerror or exc}",
                kind="certificate",
            ) from None


def known_hosts(settings: ConnectionSettings) -> Path:
    """The known_hosts file the connection checks host keys against: ``known_hosts``, else OpenSSH's."""
    return Path(settings.known_hosts or "~/.ssh/known_hosts").expanduser()


class SSHConnection:
    """A Connection over SSH; not thread-safe."""

    def __init__(self, host: str, settings: ConnectionSettings, password: str | None) -> None:
        self.host = host
        self.settings = settings
        self.counters = TransportCounters()
        self._password = password
        self._client: paramiko.SSHClient | None = None

    def _error(self, cause: str, kind: str, retryable: bool = False) -> TransportError:
        return TransportError(self.host, cause, kind=kind, retryable=retryable)

    def _connect(self, timeout: float) -> paramiko.SSHClient:
        settings = self.settings
        where = f"{settings.address}:{settings.effective_port}"
        client = paramiko.SSHClient()
        known = known_hosts(settings)
        if known.exists():
            client.load_host_keys(str(known))
        if settings.host_key_policy == "accept_new":
            client.set_missing_host_key_policy(_AcceptNew(self.host, known))
        else:
            client.set_missing_host_key_policy(paramiko.RejectPolicy())
        try:
            client.connect(
                settings.address,
                port=settings.effective_port,
                username=settings.user,
                password=self._password,
                key_filename=settings.key_file,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
                allow_agent=False,
                look_for_keys=settings.key_file is None and self._password is None,
            )
        except paramiko.BadHostKeyException:
            raise self._error(
                f"host key of {where} does not match known_hosts ({known}): refusing to connect", "certificate"
            ) from None
        except paramiko.SSHException as exc:
            if "not found in known_hosts" in str(exc):
                raise self._error(
                    f"host key of {where} is not in {known} (add it, or set host_key_policy: accept_new)", "certificate"
                ) from None
            if isinstance(exc, paramiko.AuthenticationException):
                raise self._error(f"authentication failed for {settings.user!r} at {where}", "auth") from None
            raise self._error(f"SSH error at {where}: {exc}", "reset", retryable=True) from None
        except socket.gaierror:
            raise self._error(f"name {settings.address!r} does not resolve", "dns") from None
        except ConnectionRefusedError:
            raise self._error(f"connection refused: nothing listening on {where}", "refused") from None
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            # paramiko's wrapper for the failed connect (no errno of its own), refused included.
            if exc.errors and all(isinstance(e, ConnectionRefusedError) for e in exc.errors.values()):
                raise self._error(f"connection refused: nothing listening on {where}", "refused") from None
            raise self._error(f"cannot connect to {where}: {exc}", "reset", retryable=True) from None
        except TimeoutError:
            raise self._error(f"timed out connecting to {where}", "timeout", retryable=True) from None
        except OSError as exc:
            raise self._error(f"cannot connect to {where}: {exc.strerror or exc}", "reset", retryable=True) from None
        except EOFError:
            # paramiko raises a bare EOFError when the peer closes the socket during the handshake
            # (a host going down for a reboot, sshd restarting).
            raise self._error(
                f"connection to {where} closed during the SSH handshake", "reset", retryable=True
            ) from None
        transport = client.get_transport()
        if transport is not None:
            # No Nagle: each script is a few small packets (exec, stdin, EOF) that would otherwise
            # wait for the server's delayed ACK, about 40 ms per round trip.
            with contextlib.suppress(OSError):
                transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # type: ignore[union-attr]
        return client

    def connect(self, *, timeout: float) -> None:
        """Connect, check the host key and authenticate now, without running a script
        (``Connection.connect``), each within ``timeout``; a later ``run`` reuses the connection."""
        if self._client is None:
            self._client = self._connect(timeout)

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        deadline = time.monotonic() + timeout
        if self._client is None:
            self._client = self._connect(min(timeout, 30.0))
        try:
            channel = self._client.get_transport().open_session(timeout=timeout)  # type: ignore[union-attr]
            channel.settimeout(max(deadline - time.monotonic(), 0.1))
            channel.exec_command(POWERSHELL_COMMAND)
            data = stdin_for(script, secrets)
            channel.sendall(data)
            channel.shutdown_write()
            self.counters.messages += 1
            self.counters.bytes_sent += len(data)
            stdout = bytearray()
            stderr = bytearray()
            while not (channel.exit_status_ready() and not channel.recv_ready() and not channel.recv_stderr_ready()):
                progressed = False
                if channel.recv_ready():
                    stdout += channel.recv(65536)
                    progressed = True
                if channel.recv_stderr_ready():
                    stderr += channel.recv_stderr(65536)
                    progressed = True
                if not progressed:
                    if time.monotonic() > deadline:
                        channel.close()
                        raise self._error(f"timed out after {timeout:g} s waiting for the script to finish", "timeout")
                    time.sleep(0.002)
            code = channel.recv_exit_status()
            channel.close()
            if code == -1:
                # paramiko's value when the channel closed without an exit-status message: the
                # connection dropped (Windows exit codes travel as unsigned 32-bit numbers).
                raise self._error(
                    "SSH connection dropped before the script's exit status arrived", "reset", retryable=True
                )
        except TransportError:
            self.close()
            raise
        except (paramiko.SSHException, OSError, EOFError) as exc:
            self.close()
            raise self._error(f"SSH connection dropped: {exc}", "reset", retryable=True) from None
        self.counters.scripts += 1
        self.counters.bytes_received += len(stdout) + len(stderr)
        return ScriptResult(stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"), code)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
