"""The ``hostkey`` step (SSH): the host's key against known_hosts, and the logon methods the server allows."""

from __future__ import annotations

import base64
import hashlib

import paramiko

from provisioner.doctor import fixes
from provisioner.doctor.results import Step, Stop
from provisioner.doctor.tls import TlsSteps
from provisioner.transport.ssh import known_hosts

__all__ = ["HostKeySteps"]


class HostKeySteps(TlsSteps):
    """The ``hostkey`` step (SSH): the host's key against known_hosts, and the logon methods the server allows."""

    # -- hostkey (SSH) ----------------------------------------------------------------------

    def hostkey(self) -> str:
        known = known_hosts(self.settings)  # the file SSHConnection checks
        hosts = paramiko.HostKeys()
        if known.exists():
            hosts.load(str(known))
        # paramiko's (and OpenSSH's) name for a non-22 port is "[host]:port".
        lookup = self.settings.address if self.port == 22 else f"[{self.settings.address}]:{self.port}"
        ours = hosts.lookup(lookup)
        sock = self._open()
        transport = paramiko.Transport(sock)
        try:
            if ours:
                # Ask for the key type we know first, as paramiko's SSHClient does.
                options = transport.get_security_options()
                first = next(iter(ours.keys()))
                options.key_types = [first, *(t for t in options.key_types if t != first)]
            try:
                transport.start_client(timeout=self.timeout)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                raise Stop(
                    Step(
                        "hostkey",
                        False,
                        f"SSH handshake with {self.where} failed: {exc}",
                        fixes.SSHD,
                    )
                ) from None
            key = transport.get_remote_server_key()
        finally:
            transport.close()
        offered = f"{key.get_name()} {_fingerprint(key)}"
        # Microsoft Learn, "OpenSSH Server configuration for Windows": host keys in %ProgramData%\ssh.
        show = "ssh-keygen -lf C:\\ProgramData\\ssh\\ssh_host_ed25519_key.pub"
        if not ours:
            if self.settings.host_key_policy == "accept_new":
                return f"{offered} is not in {known} yet; host_key_policy accept_new records it on first use"
            port = f"-p {self.port} " if self.port != 22 else ""
            missing = "" if known.exists() else " (the file does not exist)"
            raise Stop(
                Step(
                    "hostkey",
                    False,
                    f"host key {offered} of {self.where} is not in {known}{missing}",
                    fixes.unknown_host_key(show=show, port=port, address=self.settings.address, known=known),
                )
            )
        expected = ours.get(key.get_name()) or next(iter(ours.values()))
        if expected != key:
            raise Stop(
                Step(
                    "hostkey",
                    False,
                    f"host key of {self.where} CHANGED: {known} has "
                    f"{expected.get_name()} {_fingerprint(expected)}, the host offers {offered}",
                    fixes.changed_host_key(show=show, lookup=lookup, known=known),
                )
            )
        return f"{offered} matches {known}"

    def _ssh_methods(self) -> list[str] | None:
        """The methods the server allows, from a ``none`` authentication attempt (RFC 4252 5.2)."""
        try:
            sock = self._open()
        except Stop:
            return None
        transport = paramiko.Transport(sock)
        try:
            transport.start_client(timeout=self.timeout)
            transport.auth_none(self.settings.user or "")
        except paramiko.BadAuthenticationType as exc:
            return list(exc.allowed_types)
        except (paramiko.SSHException, EOFError, OSError):
            return None
        finally:
            transport.close()
        return None


def _fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:<base64, no padding>`` form of a key's fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")
