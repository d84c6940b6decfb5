"""``provision doctor``: check, host by host and step by step, what a run depends on, and say how
to fix the first thing that fails.

Each host goes through the steps of its connection in order and stops at the first one that
fails, because every later step needs the earlier ones (anchors.md section 7, pain points 4 and
5: auth and WinRM bootstrap problems are the ones users cannot diagnose from a failed run):

- WinRM: ``resolve`` (getaddrinfo), ``tcp`` (connect), ``tls`` (HTTPS only: handshake and the
  certificate chain, checked against the CA store pywinrm would use), ``auth`` (open one WinRS
  shell, as a run does), ``roundtrip`` (a script that echoes a marker, through the same
  ``POWERSHELL_COMMAND`` bootstrap as real runs), ``powershell`` ($PSVersionTable), ``admin``
  (WindowsPrincipal.IsInRole) and ``limits`` (the WSMan settings that break provisioning).
- SSH: ``resolve``, ``tcp`` (and the SSH banner), ``hostkey`` (known_hosts), ``auth``,
  ``roundtrip``, ``powershell``, ``admin``.

Every step prints one line: ``ok: ...`` or ``FAILED: <cause>; fix: <what to do>``. The
PowerShell readings travel as a ``diagnostics`` block (templates/resources/diagnostics.ps1.j2)
with the record protocol of every other block (DESIGN 4.1), so the lab answers them from its
host model like any block. Windows facts and fix commands cite their sources inline; "WP" is
research/winrm-protocol.md, "Ansible setup" is ansible-documentation
docs/docsite/rst/os_guide/windows_setup.rst and "Ansible winrm" its windows_winrm.rst.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import errno
import hashlib
import math
import os
import re
import secrets
import select
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import certifi
import paramiko
import requests
from cryptography import x509
from pydantic import Field

from provisioner.errors import InputError, LoadError
from provisioner.inventory import ConnectionSettings
from provisioner.records import decode_clixml, parse_output
from provisioner.render import Renderer
from provisioner.resources import BlockParams
from provisioner.transport import ScriptResult, TransportError, language_refusal
from provisioner.transport.connect import password_for
from provisioner.transport.ssh import SSHConnection
from provisioner.transport.winrm import CHUNK_BYTES, WinRMConnection

__all__ = [
    "REQUIRED_ENVELOPE_KB",
    "REQUIRED_MEMORY_PER_SHELL_MB",
    "REQUIRED_SHELLS_PER_USER",
    "SSH_STEPS",
    "WINRM_STEPS",
    "DiagnosticsParams",
    "Doctor",
    "HostDiagnosis",
    "Step",
    "command",
    "diagnose_all",
    "format_step",
]

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED = 0, 3, 130
"""cli.py's exit codes (DESIGN 4.5): 0 every host passed every step, 3 some host failed one, 130 interrupted."""

WINRM_STEPS = ("resolve", "tcp", "tls", "auth", "roundtrip", "powershell", "admin", "limits")
SSH_STEPS = ("resolve", "tcp", "hostkey", "auth", "roundtrip", "powershell", "admin")
_STEP_WIDTH = max(len(step) for step in WINRM_STEPS + SSH_STEPS)

# What provision needs from the host --------------------------------------------------------------

_SEND_OVERHEAD = 4096
"""Bytes of a WinRS Send envelope around its base64 stdin: SOAP header, selectors, stream
element (pywinrm 0.5.0's Send measures 1,745 bytes without data; rounded up for margin)."""
REQUIRED_ENVELOPE_KB = math.ceil((4 * math.ceil(CHUNK_BYTES / 3) + _SEND_OVERHEAD) / 1024)
"""MaxEnvelopeSizekb a run needs: the transport sends up to CHUNK_BYTES of script per Send,
base64-encoded (4/3), and Windows answers a larger envelope with HTTP 413 (WP 3.3)."""
REQUIRED_MEMORY_PER_SHELL_MB = 1024
"""MaxMemoryPerShellMB: the shell and every child (powershell.exe, Expand-Archive of the engine
zip, dockerd --validate, docker run) share it. 1024 is Windows' default, and Microsoft calls a
smaller value unsupported ("The behavior is unsupported if the MaxMemoryPerShellMB is set to a
value that is less than the default": learn.microsoft.com/windows/win32/winrm/quotas)."""
REQUIRED_SHELLS_PER_USER = 5
"""MaxShellsPerUser: a run holds one shell per host, and opens a new one after a reboot or a
fault while the host may still count the old one until IdleTimeout (the Windows default is 30:
learn.microsoft.com/windows/win32/winrm/quotas). Five is provision's own margin, not a Windows figure."""
_MIN_POWERSHELL = (5, 1)
"""The templates target Windows PowerShell 5.1 (DESIGN 5; Ansible setup: "PowerShell 5.1 or newer")."""

_QUIET_SECONDS = 0.2
"""After a WinRM TCP connect, how long to watch for the peer resetting or closing the connection
before the client has said anything (a host going down, or a firewall that accepts and resets)."""

# Fix texts shared by several steps (sources inline) -------------------------------------------

_FIX_LISTENER_HTTPS = (
    # Ansible setup, "Setup WinRM Listener": winrm quickconfig -transport:https; New-Item on the
    # WSMan: drive is the PowerShell form (Microsoft Learn, about_WSMan_Provider).
    "New-Item -Path WSMan:\\localhost\\Listener -Transport HTTPS -Address * "
    "-CertificateThumbPrint <thumbprint of a Server Authentication certificate in Cert:\\LocalMachine\\My> -Force"
)
_FIX_LISTENER_HTTP = "winrm quickconfig"
"""Starts WinRM, adds the HTTP listener and its firewall rule (Ansible setup, "Setup WinRM Listener")."""
_POINT_LISTENER = (
    # Microsoft Learn, Set-WSManInstance (its example changes a listener's CertificateThumbprint).
    "Set-WSManInstance -ResourceURI winrm/config/Listener -SelectorSet @{Address='*';Transport='HTTPS'} "
    "-ValueSet @{CertificateThumbprint='<new thumbprint>'}"
)
_FIX_ALLOW_UNENCRYPTED = (
    # Ansible winrm, "WinRM Encryption" and "Basic"; the winrm.cmd forms set the same keys of
    # winrm/config/service (Microsoft Learn, "Installation and configuration for Windows Remote
    # Management": winrm set <resource> @{Name="value"}).
    "Set-Item -Path WSMan:\\localhost\\Service\\AllowUnencrypted -Value $true; "
    "Set-Item -Path WSMan:\\localhost\\Service\\Auth\\Basic -Value $true "
    "(or: winrm set winrm/config/service '@{AllowUnencrypted=\"true\"}'; "
    "winrm set winrm/config/service/auth '@{Basic=\"true\"}')"
)
_FIX_BASIC = (
    "Set-Item -Path WSMan:\\localhost\\Service\\Auth\\Basic -Value $true "
    "(or: winrm set winrm/config/service/auth '@{Basic=\"true\"}')"
)


def _fix_firewall(port: int, name: str) -> str:
    """An inbound allow rule for the port (New-NetFirewallRule, Microsoft Learn netsecurity module)."""
    return (
        f"New-NetFirewallRule -DisplayName '{name} {port}' -Direction Inbound -Protocol TCP "
        f"-LocalPort {port} -Action Allow"
    )


# Results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """The outcome of one step on one host: ok with what was found, or the cause and the fix."""

    name: str
    ok: bool
    text: str
    """What was found (ok), or why the step failed."""
    fix: str | None = None

    @property
    def message(self) -> str:
        """``ok: ...`` or ``FAILED: <cause>; fix: <fix>``, without the host and step columns."""
        if self.ok:
            return f"ok: {self.text}"
        return f"FAILED: {self.text}" + (f"; fix: {self.fix}" if self.fix else "")


@dataclass
class HostDiagnosis:
    """Every step one host went through, in order; the last one failed unless the host passed."""

    name: str
    endpoint: str
    steps: list[Step] = field(default_factory=list)
    expected: tuple[str, ...] = ()
    """The steps of the host's connection, all of which must be ok."""

    @property
    def ok(self) -> bool:
        return [s.name for s in self.steps] == list(self.expected) and all(s.ok for s in self.steps)

    @property
    def failed(self) -> Step | None:
        """The step that stopped the host, if one did."""
        return next((s for s in self.steps if not s.ok), None)


def format_step(host: str, step: Step, host_width: int = 0) -> str:
    """One output line: host, step and message in columns."""
    return f"{host:<{host_width}}  {step.name:<{_STEP_WIDTH}}  {step.message}"


class DiagnosticsParams(BlockParams):
    """Params of the ``diagnostics`` block (templates/resources/diagnostics.ps1.j2)."""

    echo: str
    """Returned unchanged in the record's data: the round-trip marker."""
    read: list[Literal["powershell", "admin", "winrm_limits"]] = Field(default_factory=list)
    """What else to read: $PSVersionTable, the administrator check, the WSMan limits."""


class _Stop(Exception):
    """A step failed: carries its Step; the host's remaining steps are not run."""

    def __init__(self, step: Step) -> None:
        super().__init__(step.message)
        self.step = step


# One host ----------------------------------------------------------------------------------------


class _HostCheck:
    """The steps for one host, sharing what earlier steps found (addresses, the connection)."""

    def __init__(self, doctor: Doctor, name: str, settings: ConnectionSettings) -> None:
        self.doctor = doctor
        self.name = name
        self.settings = settings
        self.timeout = doctor.timeout
        self.port = settings.effective_port
        self.where = f"{settings.address}:{self.port}"
        self.addresses: list[str] = []
        self.connection: WinRMConnection | SSHConnection | None = None
        self.password_source = ""
        self.diagnostics: dict[str, object] = {}

    # -- driver -----------------------------------------------------------------------------

    def run(self) -> Iterator[Step]:
        """Run the steps in order, yielding each result; stop after the first failure."""
        winrm = self.settings.connection == "winrm"
        steps: list[tuple[str, Callable[[], str]]] = [("resolve", self.resolve), ("tcp", self.tcp)]
        if winrm:
            if self.settings.scheme == "https":
                steps.append(("tls", self.tls))
        else:
            steps.append(("hostkey", self.hostkey))
        steps += [
            ("auth", self.auth),
            ("roundtrip", self.roundtrip),
            ("powershell", self.powershell),
            ("admin", self.admin),
        ]
        if winrm:
            steps.append(("limits", self.limits))
        try:
            for name, check in steps:
                try:
                    text = check()
                except _Stop as stop:
                    yield stop.step
                    return
                except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
                    yield Step(
                        name,
                        False,
                        f"unexpected {type(exc).__name__}: {exc}",
                        "this is a provision bug; please report it with this line",
                    )
                    return
                yield Step(name, True, text)
        finally:
            if self.connection is not None:
                with contextlib.suppress(Exception):
                    self.connection.close()

    def expected(self) -> tuple[str, ...]:
        if self.settings.connection == "ssh":
            return SSH_STEPS
        return WINRM_STEPS if self.settings.scheme == "https" else tuple(s for s in WINRM_STEPS if s != "tls")

    # -- resolve ----------------------------------------------------------------------------

    def resolve(self) -> str:
        address = self.settings.address
        try:
            infos = socket.getaddrinfo(address, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise _Stop(
                Step(
                    "resolve",
                    False,
                    f"name {address!r} does not resolve ({exc.strerror})",
                    "correct address: (or ansible_host) in the inventory, or add the name to DNS or /etc/hosts",
                )
            ) from None
        self.addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if self.addresses == [address]:
            return address
        return f"{address} -> {', '.join(self.addresses)}"

    # -- tcp --------------------------------------------------------------------------------

    def _open(self) -> socket.socket:
        """A TCP connection to the first address that accepts, or _Stop with the cause."""
        errors: list[OSError] = []
        for address in self.addresses:
            try:
                return socket.create_connection((address, self.port), timeout=self.timeout)
            except OSError as exc:
                errors.append(exc)
        raise _Stop(self._connect_failure(errors))

    def _connect_failure(self, errors: Sequence[OSError]) -> Step:
        service = "SSH" if self.settings.connection == "ssh" else "WinRM"
        if self.settings.connection == "ssh":
            # Microsoft Learn, "Get started with OpenSSH for Windows": the sshd service and its
            # firewall rule (OpenSSH-Server-In-TCP).
            listener = "Start-Service -Name sshd; Set-Service -Name sshd -StartupType Automatic"
        elif self.settings.scheme == "https":
            listener = _FIX_LISTENER_HTTPS
        else:
            listener = _FIX_LISTENER_HTTP
        firewall = _fix_firewall(self.port, service)
        if errors and all(isinstance(e, ConnectionRefusedError) or e.errno == errno.ECONNREFUSED for e in errors):
            return Step(
                "tcp",
                False,
                f"connection refused: nothing listens on {self.where}",
                f"check port:/scheme: in the inventory; on the host, create the {service} listener ({listener}) "
                f"and allow the port ({firewall})",
            )
        if errors and all(isinstance(e, (TimeoutError, socket.timeout)) for e in errors):
            return Step(
                "tcp",
                False,
                f"no answer from {self.where} within {self.timeout:g} s (the host is down, or a "
                "firewall drops the packets)",
                f"check that the host is up and reachable from here, and that its firewall allows TCP "
                f"{self.port} ({firewall})",
            )
        detail = "; ".join(str(e.strerror or e) for e in errors) or "no address to connect to"
        return Step(
            "tcp",
            False,
            f"cannot connect to {self.where}: {detail}",
            "check the route to the host (ping, traceroute) and any firewall in between",
        )

    def _dropped(self, what: str) -> Step:
        return Step(
            "tcp",
            False,
            f"{self.where} accepted the connection and then {what} before anything was "
            "said (the host is going down, or a firewall or proxy in between drops it)",
            f"check that the host is up (a pending restart?) and that nothing between here and it "
            f"filters TCP {self.port}",
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
                    raise _Stop(self._dropped("reset it")) from None
                except OSError as exc:
                    raise _Stop(self._dropped(f"failed ({exc.strerror or exc})")) from None
                if not data:
                    raise _Stop(self._dropped("closed it"))
                raise _Stop(
                    Step(
                        "tcp",
                        False,
                        f"{self.where} spoke first ({data[:40]!r}): that is not a WinRM listener",
                        "check port: in the inventory (5985 is WinRM over HTTP, 5986 over HTTPS)",
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
                    raise _Stop(self._dropped("closed it"))
                data += chunk
        except ConnectionResetError:
            raise _Stop(self._dropped("reset it")) from None
        except TimeoutError:
            raise _Stop(
                Step(
                    "tcp",
                    False,
                    f"{self.where} accepted the connection but sent no SSH banner within {self.timeout:g} s",
                    "check port: in the inventory: it must be the host's sshd port",
                )
            ) from None
        line = data.split(b"\n", 1)[0].rstrip(b"\r").decode("ascii", "replace")
        if not line.startswith("SSH-"):
            raise _Stop(
                Step(
                    "tcp",
                    False,
                    f"{self.where} answered {line[:60]!r}, not an SSH banner",
                    "check port: in the inventory: it must be the host's sshd port",
                )
            )
        return f"{sock.getpeername()[0]}:{self.port} answers {line}"

    # -- tls --------------------------------------------------------------------------------

    def _trust(self) -> tuple[str | None, str]:
        """The CA file or directory a run would validate against, and how to name it.

        pywinrm with ``ca_trust_path`` unset uses requests' choice: REQUESTS_CA_BUNDLE or
        CURL_CA_BUNDLE, else certifi's bundle; requests does not read the system store (WP 6.1;
        Ansible winrm, "HTTPS Certificate Validation").
        """
        if self.settings.ca_bundle:
            return self.settings.ca_bundle, f"ca_bundle {self.settings.ca_bundle}"
        for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            value = os.environ.get(variable)
            if value:
                return value, f"${variable} ({value})"
        return certifi.where(), "certifi's CA bundle (requests' default; the system store is not used)"

    def _peer_certificate(self) -> x509.Certificate | None:
        """The server certificate, read without validating it (for the failure text)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with self._open() as sock, context.wrap_socket(sock, server_hostname=self.settings.address) as tls:
                der = tls.getpeercert(binary_form=True)
        except (OSError, _Stop):
            return None
        return x509.load_der_x509_certificate(der) if der else None

    def tls(self) -> str:
        validate = self.settings.cert_validation == "validate"
        trust, trust_name = self._trust()
        if validate:
            try:
                context = ssl.create_default_context(
                    cafile=trust if trust and not os.path.isdir(trust) else None,
                    capath=trust if trust and os.path.isdir(trust) else None,
                )
            except (OSError, ssl.SSLError) as exc:
                raise _Stop(
                    Step(
                        "tls",
                        False,
                        f"cannot load {trust_name}: {getattr(exc, 'strerror', None) or exc}",
                        "point ca_bundle: at a readable PEM file of the CA that issued the host's certificate",
                    )
                ) from None
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        sock = self._open()
        try:
            with context.wrap_socket(sock, server_hostname=self.settings.address) as tls:
                der = tls.getpeercert(binary_form=True)
                version = tls.version() or "TLS"
        except ssl.SSLCertVerificationError as exc:
            raise _Stop(self._certificate_failure(exc, trust_name)) from None
        except ssl.SSLError as exc:
            raise _Stop(self._handshake_failure(exc)) from None
        except ConnectionResetError:
            raise _Stop(
                Step(
                    "tls",
                    False,
                    f"{self.where} reset the connection during the TLS handshake",
                    # Ansible winrm, "TLS 1.2 Support": hosts before 2012 lack TLS 1.2.
                    f"check that {self.port} is the HTTPS listener and that the host allows TLS 1.2",
                )
            ) from None
        except TimeoutError:
            raise _Stop(
                Step(
                    "tls",
                    False,
                    f"{self.where} did not finish the TLS handshake within {self.timeout:g} s",
                    f"check that {self.port} is the HTTPS listener (scheme: https, port: 5986)",
                )
            ) from None
        except OSError as exc:
            raise _Stop(
                Step(
                    "tls",
                    False,
                    f"TLS handshake with {self.where} failed: {exc.strerror or exc}",
                    "check the network path to the host",
                )
            ) from None
        finally:
            sock.close()
        cert = x509.load_der_x509_certificate(der) if der else None
        described = f"; certificate {_describe(cert)}" if cert else ""
        if not validate:
            return f"{version}{described}; NOT validated (cert_validation: ignore)"
        return f"{version}{described}; trusted through {trust_name}"

    def _certificate_failure(self, exc: ssl.SSLCertVerificationError, trust_name: str) -> Step:
        """Unknown CA, name mismatch or expiry, each with its own fix (OpenSSL verify codes)."""
        cert = self._peer_certificate()
        about = _describe(cert) if cert else "(unreadable)"
        code = exc.verify_code
        renew = "renew the certificate and point the listener at it: " + _POINT_LISTENER
        if code in (9, 10):  # X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED
            if code == 10:
                when = f"expired on {_utc(cert.not_valid_after_utc)}" if cert else "has expired"
                return Step("tls", False, f"the listener's certificate {when} ({about})", renew)
            when = f"is not valid before {_utc(cert.not_valid_before_utc)}" if cert else "is not valid yet"
            return Step(
                "tls",
                False,
                f"the listener's certificate {when} ({about})",
                "check the clocks of this machine and the host (w32tm /resync on the host), or " + renew,
            )
        if code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
            names = ", ".join(_names(cert)) if cert else "other names"
            return Step(
                "tls",
                False,
                f"certificate name mismatch: the certificate ({about}) is for {names}, not {self.settings.address!r}",
                f"set address: to a name the certificate holds ({names}), or give the listener a "
                f"certificate whose subjectAltName holds {self.settings.address} "
                f"(New-SelfSignedCertificate -DnsName <name> -CertStoreLocation Cert:\\LocalMachine\\My), "
                f"then point the listener at it: {_POINT_LISTENER}",
            )
        if code in (2, 18, 19, 20, 21):
            # UNABLE_TO_GET_ISSUER_CERT, DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN,
            # UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE
            if cert is not None and cert.issuer == cert.subject:
                return Step(
                    "tls",
                    False,
                    f"the listener's certificate is self-signed ({about}), and {trust_name} does not hold it",
                    "set ca_bundle: to that certificate's PEM (a self-signed certificate is its own CA), or "
                    f"give the listener one issued by your CA: {_FIX_LISTENER_HTTPS}",
                )
            issuer = cert.issuer.rfc4514_string() if cert else "its issuer"
            return Step(
                "tls",
                False,
                f"certificate signed by an unknown CA: {about}, and {trust_name} does not hold {issuer!r}",
                f"set ca_bundle: in the inventory to the PEM file of {issuer!r} (the issuing CA's "
                f"certificate, exported from the host or your PKI), or give the listener a certificate "
                f"from a CA you already trust: {_FIX_LISTENER_HTTPS}",
            )
        return Step(
            "tls",
            False,
            f"certificate rejected: {exc.verify_message} ({about})",
            "give the listener a valid Server Authentication certificate: " + _FIX_LISTENER_HTTPS,
        )

    def _handshake_failure(self, exc: ssl.SSLError) -> Step:
        reason = str(exc.reason or exc)
        if (
            "WRONG_VERSION_NUMBER" in reason.upper()
            or "RECORD_LAYER" in reason.upper()
            or "HTTP_REQUEST" in reason.upper()
        ):
            return Step(
                "tls",
                False,
                f"{self.where} did not answer in TLS ({reason}): it is probably the HTTP listener",
                "use scheme: http for port 5985, or port: 5986 for HTTPS",
            )
        # Ansible winrm, "TLS 1.2 Support": Server 2008 R2 and Windows 7 need TLS 1.2 enabled by hand.
        return Step(
            "tls",
            False,
            f"TLS handshake with {self.where} failed: {reason}",
            "enable TLS 1.2 on the host (SCHANNEL\\Protocols\\TLS 1.2\\Server: Enabled 1, DisabledByDefault 0)",
        )

    # -- hostkey (SSH) ----------------------------------------------------------------------

    def _known_hosts(self) -> Path:
        # The same file SSHConnection loads.
        return Path(self.settings.known_hosts or "~/.ssh/known_hosts").expanduser()

    def hostkey(self) -> str:
        known = self._known_hosts()
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
                raise _Stop(
                    Step(
                        "hostkey",
                        False,
                        f"SSH handshake with {self.where} failed: {exc}",
                        "check that the port is the host's sshd and that sshd is healthy (Get-Service -Name sshd)",
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
            raise _Stop(
                Step(
                    "hostkey",
                    False,
                    f"host key {offered} of {self.where} is not in {known}{missing}",
                    f"compare the fingerprint with the host's ({show} on the host), then add it: "
                    f"ssh-keyscan {port}{self.settings.address} >> {known}; or set host_key_policy: "
                    "accept_new to trust it on first use",
                )
            )
        expected = ours.get(key.get_name()) or next(iter(ours.values()))
        if expected != key:
            raise _Stop(
                Step(
                    "hostkey",
                    False,
                    f"host key of {self.where} CHANGED: {known} has "
                    f"{expected.get_name()} {_fingerprint(expected)}, the host offers {offered}",
                    f"if the host was reinstalled, check the new fingerprint ({show} on the host) and "
                    f"replace the entry: ssh-keygen -R '{lookup}' -f {known}; otherwise something may be "
                    "impersonating the host: do not connect",
                )
            )
        return f"{offered} matches {known}"

    # -- auth -------------------------------------------------------------------------------

    def _password(self) -> str | None:
        settings = self.settings
        try:
            password = password_for(self.name, settings, self.doctor.ask_pass)
        except TransportError as exc:
            raise _Stop(
                Step(
                    "auth",
                    False,
                    exc.cause.split(";")[0],
                    f"export {settings.password_env}=<password> before running provision, or use --ask-pass",
                )
            ) from None
        if settings.password_env and os.environ.get(settings.password_env) is not None:
            self.password_source = f"${settings.password_env} (password_env)"
        elif self.doctor.ask_pass is not None:
            self.password_source = "the --ask-pass answer"
        elif settings.password is not None:
            self.password_source = "ansible_password"
        if settings.connection == "ssh":
            # Without a password or key_file, SSHConnection lets paramiko try the usual keys
            # (~/.ssh/id_*), and paramiko logs on as the local user when user is unset.
            return password
        if password is None and settings.transport in ("ntlm", "basic", "credssp"):
            raise _Stop(
                Step(
                    "auth",
                    False,
                    "no password: the inventory sets neither password_env nor "
                    "ansible_password, and --ask-pass was not given",
                    "set password_env: NAME in the inventory and export NAME, or run with --ask-pass",
                )
            )
        if not settings.user and settings.transport != "certificate":
            raise _Stop(
                Step(
                    "auth",
                    False,
                    "no user: the inventory sets neither user nor ansible_user",
                    "set user: in the inventory (a local account as 'name' or '.\\name', a domain "
                    "account as 'DOMAIN\\name' or 'name@domain.fqdn')",
                )
            )
        return password

    def auth(self) -> str:
        return self._auth_ssh() if self.settings.connection == "ssh" else self._auth_winrm()

    def _auth_winrm(self) -> str:
        settings = self.settings
        password = self._password()
        try:
            connection = WinRMConnection(self.name, settings, password)
        except Exception as exc:  # noqa: BLE001 - pywinrm validates its arguments in the constructor
            raise _Stop(
                Step(
                    "auth",
                    False,
                    f"cannot set up {settings.transport}: {exc}",
                    "check user, password and the certificate paths in the inventory",
                )
            ) from None
        self.connection = connection
        try:
            connection.connect()
        except TransportError as exc:
            raise _Stop(self._winrm_auth_failure(exc)) from None
        over = (
            "https"
            if settings.scheme == "https"
            else (
                "http with message encryption"
                if settings.transport in ("ntlm", "kerberos", "credssp")
                else "plain http"
            )
        )
        return f"{settings.transport} as {settings.user!r} over {over}; a WinRS shell opened"

    def _offered_schemes(self) -> list[str] | None:
        """The schemes the listener offers to an anonymous request (its 401's WWW-Authenticate
        headers, WP 6.2), or None when that could not be learned."""
        settings = self.settings
        url = f"{settings.scheme}://{settings.address}:{self.port}/wsman"
        verify: bool | str = False
        if settings.scheme == "https" and settings.cert_validation == "validate":
            verify = self._trust()[0] or True
        with requests.Session() as session:
            session.trust_env = False
            try:
                response = session.post(
                    url,
                    data=b"",
                    timeout=self.timeout,
                    verify=verify,
                    headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
                )
            except requests.RequestException:
                return None
        header = response.headers.get("WWW-Authenticate", "")
        if response.status_code != 401 or not header:
            return None
        return re.findall(r"(?:^|,)\s*([A-Za-z][\w-]*)(?=\s|,|$)", header)

    def _winrm_auth_failure(self, exc: TransportError) -> Step:
        settings = self.settings
        if exc.kind == "auth" or (
            exc.kind == "http"
            and " 500 " in f" {exc.cause} "
            and settings.transport == "basic"
            and settings.scheme == "http"
        ):
            schemes = self._offered_schemes()
            offered = f"; the listener offers {', '.join(schemes)}" if schemes else ""
            lowered = [s.lower() for s in schemes or []]
            if settings.transport == "basic" and schemes is not None and "basic" not in lowered:
                if settings.scheme == "http":
                    # AllowUnencrypted=false (the default) refuses unencrypted HTTP, with a 401 or an
                    # empty 500 (WP 4.3); Basic is off by default too (Ansible winrm, "Basic").
                    return Step(
                        "auth",
                        False,
                        "the host refuses Basic over plain HTTP: the WinRM service has "
                        f"AllowUnencrypted false or Basic disabled (both Windows defaults{offered})",
                        "use transport: ntlm (it encrypts messages over HTTP) or scheme: https; or, on a "
                        "test host only, allow it there: " + _FIX_ALLOW_UNENCRYPTED,
                    )
                return Step(
                    "auth",
                    False,
                    f"Basic authentication is disabled on the host (HTTP 401{offered})",
                    "use transport: ntlm, or enable Basic there: " + _FIX_BASIC,
                )
            if (
                settings.transport in ("ntlm", "kerberos")
                and schemes is not None
                and "negotiate" not in lowered
                and settings.transport.lower() not in lowered
            ):
                return Step(
                    "auth",
                    False,
                    f"the host does not offer Negotiate for {settings.transport} (HTTP 401{offered})",
                    "enable it there: Set-Item -Path WSMan:\\localhost\\Service\\Auth\\Negotiate -Value $true",
                )
            if exc.kind == "http":
                return Step(
                    "auth",
                    False,
                    f"the host answered HTTP 500 to Basic over plain HTTP (AllowUnencrypted "
                    f"is false, the Windows default{offered})",
                    "use transport: ntlm or scheme: https; or, on a test host only: " + _FIX_ALLOW_UNENCRYPTED,
                )
            return Step(
                "auth",
                False,
                f"the host rejected the {settings.transport} credentials of {settings.user!r} (HTTP 401{offered})",
                self._credentials_fix(),
            )
        return Step("auth", False, exc.cause, _transport_fix(exc, self.port))

    def _credentials_fix(self) -> str:
        """Where the password came from, the user name forms, and the access rule (Ansible setup,
        "HTTP 401/Credentials Rejected"; Ansible winrm, "Non-Administrator Accounts")."""
        settings = self.settings
        user = settings.user or ""
        parts = [f"check the password in {self.password_source or 'the inventory'}"]
        domain, _, _ = user.rpartition("\\")
        if settings.transport == "basic" and ((domain and domain != ".") or "@" in user):
            parts.append(
                f"Basic accepts local accounts only, and {user!r} names a domain account: use "
                "transport: ntlm or kerberos"
            )
        else:
            parts.append(
                "write a local account as 'name' or '.\\name' and a domain account as 'DOMAIN\\name' or "
                "'name@domain.fqdn'"
            )
        parts.append(
            "the account must be in the host's Administrators group or granted access (winrm configSDDL default)"
        )
        return "; ".join(parts)

    def _auth_ssh(self) -> str:
        settings = self.settings
        password = self._password()
        connection = SSHConnection(self.name, settings, password)
        self.connection = connection
        try:
            connection.connect(timeout=self.timeout)
        except TransportError as exc:
            if exc.kind != "auth":
                raise _Stop(Step("auth", False, exc.cause, _transport_fix(exc, self.port))) from None
            allowed = self._ssh_methods()
            offered = f" (the server allows {', '.join(allowed)})" if allowed else ""
            fix = (
                f"check the password in {self.password_source or 'the inventory'}"
                if password is not None
                else f"check key_file ({settings.key_file})"
            )
            if allowed and "password" not in allowed and settings.key_file is None:
                fix = "the server takes no passwords: set key_file: to your private key"
            # Microsoft Learn, "Key-based authentication in OpenSSH for Windows": an administrator's
            # public keys are read from administrators_authorized_keys, not the profile's.
            fix += (
                "; for key logon as an administrator, the public key belongs in "
                "C:\\ProgramData\\ssh\\administrators_authorized_keys (not ~\\.ssh\\authorized_keys)"
            )
            raise _Stop(Step("auth", False, f"the host rejected {settings.user!r}{offered}", fix)) from None
        method = "key" if settings.key_file and password is None else "password"
        return f"{method} logon as {settings.user!r}"

    def _ssh_methods(self) -> list[str] | None:
        """The methods the server allows, from a ``none`` authentication attempt (RFC 4252 5.2)."""
        try:
            sock = self._open()
        except _Stop:
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

    # -- roundtrip and the PowerShell readings ---------------------------------------------

    def _run_block(self, step: str, params: DiagnosticsParams) -> tuple[dict[str, object], float]:
        """Run one diagnostics block; its record's data and the seconds it took, or _Stop."""
        assert self.connection is not None
        renderer = self.doctor.renderer
        script = renderer.script(self.name, "doctor", [renderer.block("doctor", "diagnostics", "get", params)])
        started = time.monotonic()
        try:
            result = self.connection.run(script, timeout=self.timeout)
        except TransportError as exc:
            raise _Stop(Step(step, False, exc.cause, _transport_fix(exc, self.port))) from None
        seconds = time.monotonic() - started
        refusal = language_refusal(result)
        if refusal is not None:
            # The fix is the policy owner's to make (windows-audit.md F4).
            fix = (
                "ask the owner of the WDAC/AppLocker policy for a rule that lets this account's powershell.exe run "
                "in FullLanguage (a WDAC supplemental policy, or an AppLocker allow rule), or leave this host out"
            )
            raise _Stop(Step(step, False, refusal, fix))
        record = parse_output(result.stdout).records.get("doctor")
        if record is None or result.exit_code != 0:
            raise _Stop(_script_failure(step, result))
        if not record.ok:
            raise _Stop(
                Step(
                    step,
                    False,
                    f"the diagnostics block failed on the host: {record.message}",
                    "run the same script by hand to see why: provision render cannot show it; report this line",
                )
            )
        data = record.data if isinstance(record.data, dict) else {}
        if data.get("echo") != params.echo:
            raise _Stop(
                Step(
                    step,
                    False,
                    f"the marker came back altered: sent {params.echo!r}, got {data.get('echo')!r}",
                    "something re-encodes stdin or stdout between here and PowerShell: scripts are sent "
                    "as UTF-8 and the bootstrap reads them as UTF-8 (transport/__init__.py)",
                )
            )
        return data, seconds

    def roundtrip(self) -> str:
        # Non-ASCII in the marker: a code page that is not UTF-8 on either side alters it.
        marker = f"provision-doctor {secrets.token_hex(6)} \u00e9\u20ac\u2713"
        _, seconds = self._run_block("roundtrip", DiagnosticsParams(echo=marker))
        return f"a marker script came back intact through powershell.exe in {seconds:.2f} s"

    def _readings(self) -> dict[str, object]:
        if not self.diagnostics:
            read: list[Literal["powershell", "admin", "winrm_limits"]] = ["powershell", "admin"]
            if self.settings.connection == "winrm":
                read.append("winrm_limits")
            self.diagnostics, _ = self._run_block("powershell", DiagnosticsParams(echo="readings", read=read))
        return self.diagnostics

    def powershell(self) -> str:
        data = self._readings().get("powershell")
        found = data if isinstance(data, dict) else {}
        version, edition = str(found.get("version") or ""), str(found.get("edition") or "Desktop")
        numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:2])
        if len(numbers) < 2:
            raise _Stop(
                Step(
                    "powershell",
                    False,
                    f"could not read $PSVersionTable.PSVersion (got {version!r})",
                    "report this line",
                )
            )
        if numbers < _MIN_POWERSHELL:
            # Ansible setup, "Upgrading PowerShell and .NET Framework": WMF 5.1 brings PowerShell 5.1.
            raise _Stop(
                Step(
                    "powershell",
                    False,
                    f"Windows PowerShell {version} is older than 5.1, which the scripts are written for",
                    'install Windows Management Framework 5.1 on the host (Microsoft Learn, "Install and '
                    'configure WMF 5.1")',
                )
            )
        return f"Windows PowerShell {version} ({edition} edition)"

    def admin(self) -> str:
        data = self._readings().get("admin")
        if isinstance(data, dict) and data.get("is_admin") is True:
            return f"{self.settings.user!r} runs with an administrator token"
        user = self.settings.user or "<user>"
        account = user.rpartition("\\")[2]
        raise _Stop(
            Step(
                "admin",
                False,
                f"{user!r} does not run as an administrator on the host "
                "(WindowsPrincipal.IsInRole(Administrator) is false): enabling features, "
                "installing the engine and writing daemon.json need it",
                f"add the account to Administrators (Add-LocalGroupMember -Group Administrators -Member "
                f"{account}); if it is a member already, UAC filters local accounts' network logons: "
                "New-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System "
                "-Name LocalAccountTokenFilterPolicy -Value 1 -PropertyType DWord -Force (KB951016)",
            )
        )

    def limits(self) -> str:
        data = self._readings().get("winrm_limits")
        found = data if isinstance(data, dict) else {}
        if found.get("error"):
            raise _Stop(
                Step(
                    "limits",
                    False,
                    f"could not read the WSMan: drive: {found['error']}",
                    "run provision doctor with an administrator account",
                )
            )
        # (name, data key, needed, Windows' default, path on the WSMan: drive, winrm.cmd path, why needed)
        checks = (
            # MaxEnvelopeSizekb: default "SHOULD be 500 but MAY be 150", minimum 32 (MS-WSMV 2.2.4.10,
            # learn.microsoft.com/openspecs/windows_protocols/ms-wsmv/932240de-3943-4ed3-a162-8b3c4de5a286).
            (
                "MaxEnvelopeSizekb",
                "max_envelope_size_kb",
                REQUIRED_ENVELOPE_KB,
                500,
                "WSMan:\\localhost\\MaxEnvelopeSizekb",
                "winrm/config",
                f"provision sends up to {CHUNK_BYTES // 1024} KiB of script per message",
            ),
            # Winrs quotas under WSMan:\localhost\Shell (Ansible setup, "WinRM Service Options"); defaults
            # 1024 MB and 30 shells (learn.microsoft.com/windows/win32/winrm/quotas).
            (
                "MaxMemoryPerShellMB",
                "max_memory_per_shell_mb",
                REQUIRED_MEMORY_PER_SHELL_MB,
                1024,
                "WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB",
                "winrm/config/winrs",
                "the script, the engine download and docker share it",
            ),
            (
                "MaxShellsPerUser",
                "max_shells_per_user",
                REQUIRED_SHELLS_PER_USER,
                30,
                "WSMan:\\localhost\\Shell\\MaxShellsPerUser",
                "winrm/config/winrs",
                "a run opens a new shell after each reboot or fault",
            ),
        )
        readings: list[str] = []
        problems: list[tuple[str, str]] = []
        for name, key, needed, default, path, winrm_path, why in checks:
            value = found.get(key)
            if not isinstance(value, int) or isinstance(value, bool):
                problems.append((f"{name} could not be read (got {value!r})", "report this line"))
                continue
            # 0 means no limit for the memory quota (Group Policy "Specify maximum amount of memory in
            # MB per Shell", WindowsRemoteShell.admx).
            unlimited = key == "max_memory_per_shell_mb" and value == 0
            readings.append(f"{name} {'unlimited' if unlimited else value} (needs {needed})")
            if value < needed and not unlimited:
                # Back to Windows' default where that is enough, else to what provision needs.
                wanted = max(needed, default)
                fix = (
                    f"Set-Item -Path {path} -Value {wanted} (or: winrm set {winrm_path} "
                    f"'@{{{name}=\"{wanted}\"}}'; a value set by Group Policy must be changed there)"
                )
                problems.append((f"{name} is {value}, below the {needed} provision needs ({why})", fix))
        if problems:
            raise _Stop(Step("limits", False, "; ".join(p[0] for p in problems), "; ".join(p[1] for p in problems)))
        return ", ".join(readings)


def _script_failure(step: str, result: ScriptResult) -> Step:
    """Why a script produced no record: what powershell.exe (or cmd.exe before it) said."""
    stderr = decode_clixml(result.stderr).strip()
    first = next((line.strip() for line in stderr.splitlines() if line.strip()), "")
    if "is not recognized as an internal or external command" in stderr:
        return Step(
            step,
            False,
            f"the host could not start powershell.exe: {first}",
            "Windows PowerShell 5.1 must be on the account's PATH (C:\\Windows\\System32\\WindowsPowerShell\\v1.0)",
        )
    if "ParserError" in stderr or "ParseException" in stderr or "At line:" in stderr:
        return Step(
            step,
            False,
            f"PowerShell could not parse the script: {first}",
            "the scripts need Windows PowerShell 5.1; report this line with the host's $PSVersionTable",
        )
    if result.exit_code != 0:
        return Step(
            step,
            False,
            f"powershell.exe exited with {result.exit_code}" + (f": {first}" if first else ""),
            "run powershell.exe -NoProfile -Command \"'ok'\" on the host as the same account to see why",
        )
    shown = result.stdout.strip()[:120]
    return Step(
        step,
        False,
        f"the script ran but printed no record (stdout: {shown!r})",
        "something on the host prints instead of the script (a logon script, or an OpenSSH DefaultShell "
        "that is not cmd.exe or PowerShell)",
    )


def _transport_fix(exc: TransportError, port: int) -> str:
    """The fix for a connection failure after the connection steps passed, by its kind."""
    if exc.kind == "timeout":
        return "the host did not answer in time: check its load, or raise --timeout"
    if exc.kind == "quota":
        return (
            "too many open shells for this account: raise the quota (Set-Item -Path "
            "WSMan:\\localhost\\Shell\\MaxShellsPerUser -Value 30) or drop stale shells (Restart-Service -Name WinRM)"
        )
    if " 413 " in f" {exc.cause} ":
        return (
            f"a request exceeded MaxEnvelopeSizekb: Set-Item -Path WSMan:\\localhost\\MaxEnvelopeSizekb -Value "
            f"{REQUIRED_ENVELOPE_KB}"
        )
    if exc.kind == "http":
        # Ansible setup, "HTTP 500 Error": the WinRS quotas, or the service itself.
        return (
            "the WinRM service failed the request: check the WinRS quotas and the host's "
            "Microsoft-Windows-WinRM/Operational event log"
        )
    if exc.kind in ("refused", "reset", "dns"):
        return f"the host stopped answering on {port} between steps: is it restarting? run provision doctor again"
    if exc.kind == "certificate":
        return "trust the host's certificate (ca_bundle) or its host key (known_hosts)"
    return "run provision doctor again; report this line if it persists"


def _describe(cert: x509.Certificate) -> str:
    """``CN=lab-0001 issued by CN=provision lab CA, valid until 2027-01-01``."""
    subject = cert.subject.rfc4514_string() or "(no subject)"
    issuer = cert.issuer.rfc4514_string() or "(no issuer)"
    return f"{subject} issued by {issuer}, valid until {_utc(cert.not_valid_after_utc)[:10]}"


def _names(cert: x509.Certificate) -> list[str]:
    """The names a certificate is valid for: its subjectAltName entries (else its CN)."""
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in alt.get_values_for_type(x509.DNSName)]
        names += [str(v) for v in alt.get_values_for_type(x509.IPAddress)]
        if names:
            return names
    except x509.ExtensionNotFound:
        pass
    return [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)] or ["no name"]


def _utc(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's ``SHA256:<base64, no padding>`` form of a key's fingerprint."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


# The fleet -----------------------------------------------------------------------------------------


def _one_at_a_time(ask: Callable[[], str | None]) -> Callable[[], str | None]:
    """``ask`` behind a lock: hosts are checked in parallel, and two threads reaching an unanswered
    ``--ask-pass`` prompt at once would both prompt on the terminal."""
    lock = threading.Lock()

    def serialized() -> str | None:
        with lock:
            return ask()

    return serialized


class Doctor:
    """Diagnoses hosts; one instance serves many hosts from several threads.

    Args:
        ask_pass: the ``--ask-pass`` prompt (asked once), as for a run.
        timeout: seconds for each connect, handshake and diagnostics script.
        renderer: the templates (``--templates``), as for a run.
    """

    def __init__(
        self,
        *,
        ask_pass: Callable[[], str | None] | None = None,
        timeout: float = 30.0,
        renderer: Renderer | None = None,
    ) -> None:
        self.ask_pass = _one_at_a_time(ask_pass) if ask_pass is not None else None
        self.timeout = timeout
        self.renderer = renderer or Renderer()

    def diagnose(
        self, name: str, settings: ConnectionSettings, on_step: Callable[[Step], None] | None = None
    ) -> HostDiagnosis:
        """Run one host's steps in order, stopping at the first failure."""
        check = _HostCheck(self, name, settings)
        scheme = settings.connection if settings.connection == "ssh" else f"winrm+{settings.scheme}"
        diagnosis = HostDiagnosis(
            name, f"{scheme}://{settings.address}:{settings.effective_port}", expected=check.expected()
        )
        for step in check.run():
            diagnosis.steps.append(step)
            if on_step is not None:
                on_step(step)
        return diagnosis


def diagnose_all(
    targets: Sequence[tuple[str, ConnectionSettings]],
    doctor: Doctor,
    *,
    forks: int = 16,
    on_host: Callable[[HostDiagnosis], None] | None = None,
) -> list[HostDiagnosis]:
    """Diagnose hosts in parallel; ``on_host`` sees each result in the order of ``targets``.

    On an interruption the hosts not started are dropped and the exception propagates at once;
    checks in flight end by their own timeouts.
    """
    results: list[HostDiagnosis] = []
    pool = ThreadPoolExecutor(max_workers=max(1, min(forks, len(targets) or 1)), thread_name_prefix="doctor")
    finished = False
    try:
        futures = [pool.submit(doctor.diagnose, name, settings) for name, settings in targets]
        for future in futures:
            result = future.result()
            results.append(result)
            if on_host is not None:
                on_host(result)
        finished = True
    finally:
        pool.shutdown(wait=finished, cancel_futures=True)
    return results


def command(
    *,
    playbook: Path | None,
    inventory: Path | None,
    limit: str | None,
    ask_pass: Callable[[], str | None] | None,
    timeout: float = 30.0,
    forks: int = 16,
    templates: Path | None = None,
    out: Callable[[str], None] = print,
    announce: Callable[[str], None] | None = None,
) -> int:
    """``provision doctor``: load the hosts, print one line per step and a summary; 0 when every
    host passed every step, 3 otherwise. Bad input raises InputError (the CLI prints it and exits 1)."""
    from provisioner.playbook import facts_targets, load_playbook

    say = announce or (lambda text: print(text, file=sys.stderr))
    if playbook is not None:
        book = load_playbook(playbook, inventory=inventory, limit=limit)
        seen: dict[str, ConnectionSettings] = {}
        for target in book.targets:
            seen.setdefault(target.name, target.connection)
        targets = list(seen.items())
        inventories = [play.inventory for play in book.plays]
    elif inventory is not None:
        found = facts_targets(inventory, limit)
        targets = [(t.name, t.connection) for t in found]
        inventories = [found[0].play.inventory]
    else:
        raise InputError(
            [LoadError(None, None, None, (), "provision doctor needs an inventory (-i FILE) or a playbook")]
        )
    doctor = Doctor(ask_pass=ask_pass, timeout=timeout, renderer=Renderer(templates))
    width = max(len(name) for name, _ in targets)

    def show(diagnosis: HostDiagnosis) -> None:
        for step in diagnosis.steps:
            out(format_step(diagnosis.name, step, width))

    try:
        results = diagnose_all(targets, doctor, forks=forks, on_host=show)
    except KeyboardInterrupt:
        out("doctor: interrupted")
        return EXIT_INTERRUPTED
    failed = [r for r in results if not r.ok]
    passed = len(results) - len(failed)
    summary = f"doctor: {passed} of {len(results)} host{'s' if len(results) != 1 else ''} ready"
    if failed:
        summary += "; failed: " + ", ".join(f"{r.name} ({r.failed.name if r.failed else '?'})" for r in failed)
    out(summary)
    lab_inventory = any("provision_lab" in inventory.groups["all"].vars for inventory in inventories)
    if lab_inventory and any(r.failed is not None and r.failed.name in ("tcp", "tls", "auth") for r in failed):
        # The lab is its own program (lab/, provision-lab), which this tool neither imports nor starts.
        say('lab: start the lab with `provision-lab up` and export PROVISION_LAB_PASSWORD="$(provision-lab password)"')
    return EXIT_OK if not failed else EXIT_FAILED
