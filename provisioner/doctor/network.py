"""The ``resolve`` and ``tcp`` steps: the name resolves, the port accepts, and the listener behaves like one."""

from __future__ import annotations

import errno
import select
import socket
from collections.abc import Sequence

from provisioner.doctor import fixes
from provisioner.doctor.base import CheckBase
from provisioner.doctor.results import Step, Stop

__all__ = ["NetworkSteps"]

_QUIET_SECONDS = 0.2
"""After a WinRM TCP connect, how long to watch for the peer resetting or closing the connection
before the client has said anything (a host going down, or a firewall that accepts and resets)."""


class NetworkSteps(CheckBase):
    """The ``resolve`` and ``tcp`` steps: the name resolves, the port accepts, and the listener behaves like one."""

    def resolve(self) -> str:
        address = self.settings.address
        try:
            infos = socket.getaddrinfo(address, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise Stop(
                Step(
                    "resolve",
                    False,
                    f"name {address!r} does not resolve ({exc.strerror})",
                    fixes.RESOLVE,
                )
            ) from None
        self.addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if self.addresses == [address]:
            return address
        return f"{address} -> {', '.join(self.addresses)}"

    # -- tcp --------------------------------------------------------------------------------

    def _open(self) -> socket.socket:
        """A TCP connection to the first address that accepts, or Stop with the cause."""
        errors: list[OSError] = []
        for address in self.addresses:
            try:
                return socket.create_connection((address, self.port), timeout=self.timeout)
            except OSError as exc:
                errors.append(exc)
        raise Stop(self._connect_failure(errors))

    def _connect_failure(self, errors: Sequence[OSError]) -> Step:
        service = "SSH" if self.settings.connection == "ssh" else "WinRM"
        if self.settings.connection == "ssh":
            # Microsoft Learn, "Get started with OpenSSH for Windows": the sshd service and its
            # firewall rule (OpenSSH-Server-In-TCP).
            listener = "Start-Service -Name sshd; Set-Service -Name sshd -StartupType Automatic"
        elif self.settings.scheme == "https":
            listener = fixes.LISTENER_HTTPS
        else:
            listener = fixes.LISTENER_HTTP
        firewall = fixes.firewall(self.port, service)
        if errors and all(isinstance(e, ConnectionRefusedError) or e.errno == errno.ECONNREFUSED for e in errors):
            return Step(
                "tcp",
                False,
                f"connection refused: nothing listens on {self.where}",
                fixes.refused(service=service, listener=listener, firewall=firewall),
            )
        if errors and all(isinstance(e, (TimeoutError, socket.timeout)) for e in errors):
            return Step(
                "tcp",
                False,
                f"no answer from {self.where} within {self.timeout:g} s (the host is down, or a "
                "firewall drops the packets)",
                fixes.silent(port=self.port, firewall=firewall),
            )
        detail = "; ".join(str(e.strerror or e) for e in errors) or "no address to connect to"
        return Step(
            "tcp",
            False,
            f"cannot connect to {self.where}: {detail}",
            fixes.ROUTE,
        )

    def _dropped(self, what: str) -> Step:
        return Step(
            "tcp",
            False,
            f"{self.where} accepted the connection and then {what} before anything was "
            "said (the host is going down, or a firewall or proxy in between drops it)",
            fixes.dropped(port=self.port),
        )

    def tcp(self) -> str:
        sock = self._open()
        try:
            if self.settings.connection == "ssh":
                return self._banner(sock)
            # WinRM speaks only when spoken to: anything readable now is a reset, a close, or the
            # wrong protocol on this port.
            readable, _, _ = select.select([sock], [], [], _QUIET_SECONDS)
            if readable:
                try:
                    data = sock.recv(64, socket.MSG_PEEK)
                except ConnectionResetError:
                    raise Stop(self._dropped("reset it")) from None
                except OSError as exc:
                    raise Stop(self._dropped(f"failed ({exc.strerror or exc})")) from None
                if not data:
                    raise Stop(self._dropped("closed it"))
                raise Stop(
                    Step(
                        "tcp",
                        False,
                        f"{self.where} spoke first ({data[:40]!r}): that is not a WinRM listener",
                        fixes.WINRM_PORT,
                    )
                )
            return f"{sock.getpeername()[0]}:{self.port} accepts connections"
        finally:
            sock.close()

    def _banner(self, sock: socket.socket) -> str:
        """An SSH server sends its identification line first (RFC 4253 section 4.2)."""
        sock.settimeout(self.timeout)
        data = b""
        try:
            while b"\n" not in data and len(data) < 256:
                chunk = sock.recv(256)
                if not chunk:
                    raise Stop(self._dropped("closed it"))
                data += chunk
        except ConnectionResetError:
            raise Stop(self._dropped("reset it")) from None
        except TimeoutError:
            raise Stop(
                Step(
                    "tcp",
                    False,
                    f"{self.where} accepted the connection but sent no SSH banner within {self.timeout:g} s",
                    fixes.SSH_PORT,
                )
            ) from None
        line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("ascii", "replace")
        if not line.startswith("SSH-"):
            raise Stop(
                Step(
                    "tcp",
                    False,
                    f"{self.where} answered {line[:60]!r}, not an SSH banner",
                    fixes.SSH_PORT,
                )
            )
        return f"{sock.getpeername()[0]}:{self.port} answers {line}"
