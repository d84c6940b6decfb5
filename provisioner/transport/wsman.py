"""A lean WS-Man client for the six operations provision uses (issue 18; DESIGN 4.8).

pywinrm builds every envelope with ``xmltodict``, sends it through requests and urllib3's pool,
and parses every answer into a tree: 92% of a fleet check's worker CPU (perf-measured.md,
section 5). This client does the same protocol with less:

- **envelopes from templates**: the header pywinrm sends (winrm-protocol.md section 2) as one
  prebuilt string, with only the MessageID, ShellId, CommandId and payload filled in;
- **one keep-alive connection per host**, a ``urllib3.connection.HTTPConnection`` used directly
  (no pool, no environment lookups), re-opened (and, for NTLM, re-authenticated) when the host
  dropped it;
- **a minimal reader**: the few values a shell needs (ShellId, CommandId, streams, the exit code)
  come out of the response bytes with anchored regular expressions; only faults, which are rare,
  are parsed with ElementTree, the way pywinrm parses them (``winrm/protocol.py`` ``send_message``);
- **NTLM message encryption with pyspnego** (winrm-protocol.md section 6.4), the context kept per
  connection, so a reconnect never resends a body sealed with an old context's keys (pywinrm's
  failure in section 6.4, "Encryption is stateful").

Basic and NTLM (over HTTP with message encryption, over HTTPS with channel binding) are done
here; Kerberos, CredSSP and client certificates stay with pywinrm (``transport/connect.py``).
Errors are the same one-line :class:`TransportError` messages as ``transport/winrm.py`` gives,
with the same kinds and retry flags: the differential test (tests/transport) holds both to it.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.client
import os
import re
import socket
import ssl
import struct
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError as Urllib3Error

from provisioner.protocol.bootstrap import POWERSHELL_COMMAND, stdin_for
from provisioner.transport import ScriptResult, TransportCounters, TransportError
from provisioner.transport.faults import CHUNK_BYTES, OPERATION_TIMEOUT, fault_error, root_cause
from provisioner.transport.settings import ConnectionSettings

if TYPE_CHECKING:
    import spnego

__all__ = ["LEAN_TRANSPORTS", "LeanWinRMConnection", "ca_trust"]

LEAN_TRANSPORTS = frozenset({"basic", "ntlm"})
"""The ``transport:`` values this client speaks; the others go to pywinrm."""

READ_TIMEOUT = OPERATION_TIMEOUT + 10
"""Seconds to wait for any answer: above the host's OperationTimeout, as pywinrm's read timeout."""

_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
_TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
_NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
_TIMED_OUT = 2150858793
"""WSManFault code of a Receive that saw no output within OperationTimeout (winrm-protocol.md 4.1)."""

_SOAP_TYPE = "application/soap+xml;charset=UTF-8"
_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
_ENCRYPTED_TYPE = f'multipart/encrypted;protocol="{_ENCRYPTED}";boundary="Encrypted Boundary"'
_BOUNDARY = b"--Encrypted Boundary\r\n"
_BOUNDARY_END = b"--Encrypted Boundary--\r\n"
_OCTET_STREAM = b"\tContent-Type: application/octet-stream\r\n"

# The minimal reader. Prefixes vary between servers, so tags match on their local name only.
_SHELL_ID = re.compile(rb'Name="ShellId"[^>]*>\s*([^<\s]+)')
_COMMAND_ID = re.compile(rb"<(?:\w+:)?CommandId>\s*([^<\s]+)")
_STREAM = re.compile(rb"<(?:\w+:)?Stream\b([^>]*?)(?:/>|>([^<]*)<)")
_STREAM_NAME = re.compile(rb'\bName="(\w+)"')
_DONE = re.compile(rb'State="[^"]*/CommandState/Done"')
_EXIT_CODE = re.compile(rb"<(?:\w+:)?ExitCode>\s*(-?\d+)")
_LENGTH = re.compile(rb"Length=(\d+)")


_Headers = list[tuple[str, str]]
"""Response headers in order, names lower-cased."""

_MAX_LINE = 65536
_MAX_HEADERS = 100


def _field(headers: _Headers, name: str) -> str:
    return next((value for key, value in headers if key == name), "")


def _read_response(stream: BinaryIO) -> tuple[int, _Headers, bytes]:
    """Status, headers and body of one HTTP/1.1 response (RFC 9112): a Content-Length body, a
    chunked one, or, with neither, none (WinRM always sends Content-Length, winrm-protocol.md 1)."""
    line = stream.readline(_MAX_LINE)
    if not line:
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise http.client.BadStatusLine(line.decode("latin-1").strip())
    status = int(parts[1])
    headers: _Headers = []
    while True:
        line = stream.readline(_MAX_LINE)
        if line in (b"\r\n", b"\n"):
            break
        if not line or len(headers) > _MAX_HEADERS:
            raise http.client.IncompleteRead(b"")
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip().lower(), value.strip()))
    if status in (204, 304) or 100 <= status < 200:
        return status, headers, b""
    if "chunked" in _field(headers, "transfer-encoding").lower():
        chunks = []
        while size := int(stream.readline(_MAX_LINE).split(b";")[0], 16):
            chunks.append(stream.read(size))
            stream.readline(_MAX_LINE)
        while stream.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
            pass  # trailers
        return status, headers, b"".join(chunks)
    length = int(_field(headers, "content-length") or 0)
    body = stream.read(length)
    if len(body) != length:
        raise http.client.IncompleteRead(body, length - len(body))
    return status, headers, body


class _OperationTimedOut(Exception):
    """A Receive answered w:TimedOut: the command runs on, with no output yet; ask again."""


def _header(endpoint: str, action: str, selector: str, options: str) -> str:
    """The opening of an envelope up to the Body, as pywinrm's ``build_wsman_header`` writes it
    (winrm-protocol.md section 2), with ``{mid}`` left for the MessageID."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<env:Envelope xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:b="http://schemas.dmtf.org/wbem/wsman/1/cimbinding.xsd" '
        'xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" '
        'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd" '
        f'xmlns:rsp="{_SHELL}" '
        'xmlns:cfg="http://schemas.microsoft.com/wbem/wsman/1/config">'
        f"<env:Header><a:To>{escape(endpoint)}</a:To><a:ReplyTo>"
        '<a:Address mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address>'
        '</a:ReplyTo><w:MaxEnvelopeSize mustUnderstand="true">153600</w:MaxEnvelopeSize>'
        "<a:MessageID>uuid:{mid}</a:MessageID>"
        '<w:Locale mustUnderstand="false" xml:lang="en-US"></w:Locale>'
        '<p:DataLocale mustUnderstand="false" xml:lang="en-US"></p:DataLocale>'
        f"<w:OperationTimeout>PT{OPERATION_TIMEOUT}S</w:OperationTimeout>"
        f'<w:ResourceURI mustUnderstand="true">{_SHELL}/cmd</w:ResourceURI>'
        f'<a:Action mustUnderstand="true">{action}</a:Action>{selector}{options}</env:Header>'
    )


class _Templates:
    """The six envelopes for one endpoint, built once per connection and filled per message."""

    def __init__(self, endpoint: str) -> None:
        shell = '<w:SelectorSet><w:Selector Name="ShellId">{shell}</w:Selector></w:SelectorSet>'
        self.create = (
            _header(
                endpoint,
                f"{_TRANSFER}/Create",
                "",
                '<w:OptionSet><w:Option Name="WINRS_NOPROFILE">FALSE</w:Option>'
                # UTF-8 stdin and output: WinRS decodes stdin with the shell's code page.
                '<w:Option Name="WINRS_CODEPAGE">65001</w:Option></w:OptionSet>',
            )
            + "<env:Body><rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
            "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell></env:Body></env:Envelope>"
        )
        self.command = (
            _header(
                endpoint,
                f"{_SHELL}/Command",
                shell,
                '<w:OptionSet><w:Option Name="WINRS_CONSOLEMODE_STDIN">FALSE</w:Option>'
                '<w:Option Name="WINRS_SKIP_CMD_SHELL">FALSE</w:Option></w:OptionSet>',
            )
            + f"<env:Body><rsp:CommandLine><rsp:Command>{escape(POWERSHELL_COMMAND)}</rsp:Command>"
            "</rsp:CommandLine></env:Body></env:Envelope>"
        )
        self.send = (
            _header(endpoint, f"{_SHELL}/Send", shell, "")
            + f'<env:Body><rsp:Send><rsp:Stream xmlns:rsp="{_SHELL}" Name="stdin" CommandId="{{command}}" '
            'End="{end}">{data}</rsp:Stream></rsp:Send></env:Body></env:Envelope>'
        )
        self.receive = (
            _header(endpoint, f"{_SHELL}/Receive", shell, "")
            + '<env:Body><rsp:Receive><rsp:DesiredStream CommandId="{command}">stdout stderr'
            "</rsp:DesiredStream></rsp:Receive></env:Body></env:Envelope>"
        )
        self.signal = (
            _header(endpoint, f"{_SHELL}/Signal", shell, "") + '<env:Body><rsp:Signal CommandId="{command}">'
            f"<rsp:Code>{_SHELL}/signal/terminate</rsp:Code></rsp:Signal></env:Body></env:Envelope>"
        )
        self.delete = _header(endpoint, f"{_TRANSFER}/Delete", shell, "") + "<env:Body></env:Body></env:Envelope>"


class _MessageIds:
    """MessageIDs in UUID form: a random UUID per connection whose last 12 hex digits count the
    messages. Unique as WS-Addressing asks, at a tenth of ``uuid4``'s cost (3% of a check's CPU)."""

    def __init__(self) -> None:
        self._prefix = str(uuid.uuid4())[:24]
        self._next = int(str(uuid.uuid4())[24:], 16)

    def __call__(self) -> str:
        self._next = (self._next + 1) & 0xFFFFFFFFFFFF
        return f"{self._prefix}{self._next:012x}"


def _certificate_hash(der: bytes) -> bytes:
    """RFC 5929 tls-server-end-point: the certificate's signature hash, SHA-256 for MD5 and SHA-1,
    as requests_ntlm computes it (``requests_ntlm.py`` ``_get_certificate_hash``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    algorithm = x509.load_der_x509_certificate(der).signature_hash_algorithm
    if algorithm is None or algorithm.name in ("md5", "sha1"):
        algorithm = hashes.SHA256()
    digest = hashes.Hash(algorithm)
    digest.update(der)
    return digest.finalize()


def ca_trust(settings: ConnectionSettings) -> tuple[str | None, str]:
    """The CA file this client validates a host's certificate against (None: the system's default
    store, which ``ssl.create_default_context`` loads), and its name."""
    if settings.ca_bundle:
        return settings.ca_bundle, f"ca_bundle {settings.ca_bundle}"
    return None, "the system's CA store (the lean WinRM client's default; REQUESTS_CA_BUNDLE is not used)"


@functools.lru_cache(maxsize=16)
def _ssl_context(ignore: bool, ca_bundle: str | None, stamp: int) -> ssl.SSLContext:
    """One TLS context per trust setting for the whole fleet: loading a CA store costs milliseconds,
    a context is safe to share between threads, and ``stamp`` (the file's mtime) notices a new CA."""
    if ignore:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=ca_bundle)
    return context


class _Channel:
    """One authenticated keep-alive HTTP connection to one WinRM endpoint."""

    def __init__(self, host: str, settings: ConnectionSettings, password: str | None) -> None:
        self.host = host
        self.settings = settings
        self.where = f"{settings.address}:{settings.effective_port}"
        self.secure = settings.scheme == "https"
        self.endpoint = f"{settings.scheme}://{settings.address}:{settings.effective_port}/wsman"
        self._password = password
        self._ntlm = settings.transport == "ntlm"
        self._encrypt = self._ntlm and not self.secure
        """NTLM over HTTP seals every message; over HTTPS, TLS protects them (pywinrm's ``auto``)."""
        self._basic: str | None = None
        if settings.transport == "basic":
            pair = f"{settings.user or ''}:{password or ''}"
            try:
                raw = pair.encode("latin-1")  # what requests sends, so both clients log on alike
            except UnicodeEncodeError:
                raw = pair.encode("utf-8")
            self._basic = "Basic " + base64.b64encode(raw).decode("ascii")
        self._proxy = urlsplit(settings.proxy) if settings.proxy else None
        self._target = self.endpoint if self._proxy is not None and not self.secure else "/wsman"
        """An HTTP proxy takes the absolute URI; HTTPS goes through a CONNECT tunnel instead."""
        self._host_header = f"{settings.address}:{settings.effective_port}"
        self._conn: HTTPConnection | None = None
        self._stream: BinaryIO | None = None
        self._stream_socket: socket.socket | None = None
        self._context: spnego.ContextProxy | None = None
        self.counters: TransportCounters | None = None
        self._timeout: float = READ_TIMEOUT
        """Socket timeout of the connections this channel opens (``bounded`` lowers it for a while)."""

    # -- connection ----------------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        settings = self.settings
        ca_bundle = settings.ca_bundle
        try:
            stamp = os.stat(ca_bundle).st_mtime_ns if ca_bundle else 0
        except OSError:
            stamp = -1  # let ssl say what is wrong with the file
        try:
            return _ssl_context(settings.cert_validation == "ignore", ca_bundle, stamp)
        except (OSError, ssl.SSLError) as exc:  # ssl.SSLError: the file holds no PEM certificate
            raise TransportError(
                self.host, f"ca_bundle {ca_bundle!r} cannot be used: {exc.strerror or exc}", kind="certificate"
            ) from None

    @contextlib.contextmanager
    def bounded(self, timeout: float) -> Iterator[None]:
        """Within the block, connections open and answers wait at most ``timeout`` seconds (never
        more than READ_TIMEOUT); afterwards the open connection waits READ_TIMEOUT again."""
        self._timeout = min(timeout, READ_TIMEOUT)
        try:
            if self._conn is not None and self._conn.sock is not None:
                self._conn.sock.settimeout(self._timeout)
            yield
        finally:
            self._timeout = READ_TIMEOUT
            if self._conn is not None and self._conn.sock is not None:
                self._conn.sock.settimeout(READ_TIMEOUT)

    def _open(self) -> HTTPConnection:
        settings = self.settings
        host, port = settings.address, settings.effective_port
        if self._proxy is not None:
            host, port = self._proxy.hostname or "", self._proxy.port or 8080
        conn: HTTPConnection
        if self.secure:
            conn = HTTPSConnection(host, port, timeout=self._timeout, ssl_context=self._ssl_context())
            if self._proxy is not None:
                conn.set_tunnel(settings.address, settings.effective_port)
        else:
            conn = HTTPConnection(host, port, timeout=self._timeout)
        conn.connect()
        if self._ntlm:
            self._authenticate(conn)
        return conn

    def _authenticate(self, conn: HTTPConnection) -> None:
        """NTLM logs on the connection, not each request (winrm-protocol.md 6.3): NEGOTIATE, the
        host's CHALLENGE, AUTHENTICATE, with empty bodies; then every message on it is sealed."""
        import spnego

        bindings = None
        if self.secure and conn.sock is not None:
            der = conn.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
            if der:
                bindings = spnego.channel_bindings.GssChannelBindings(
                    application_data=b"tls-server-end-point:" + _certificate_hash(der)
                )
        context = spnego.client(
            self.settings.user,
            self._password,
            hostname=self.settings.address,
            service="http",
            protocol="ntlm",
            channel_bindings=bindings,
            options=spnego.NegotiateOptions.use_ntlm,
        )
        token = context.step() or b""
        status, headers, _ = self._exchange(
            conn, b"", {"Authorization": "Negotiate " + base64.b64encode(token).decode()}
        )
        challenge = self._challenge(headers)
        if status != 401 or challenge is None:
            raise self._auth_error()
        try:
            token = context.step(challenge) or b""
        except Exception:  # noqa: BLE001 - a malformed challenge is a failed log-on, as requests_ntlm says
            raise self._auth_error() from None
        status, _, _ = self._exchange(conn, b"", {"Authorization": "Negotiate " + base64.b64encode(token).decode()})
        if status != 200:
            raise self._auth_error()
        self._context = context

    @staticmethod
    def _challenge(headers: _Headers) -> bytes | None:
        for name, value in headers:
            scheme, _, token = value.strip().partition(" ")
            if name == "www-authenticate" and scheme.lower() in ("negotiate", "ntlm") and token:
                try:
                    return base64.b64decode(token.strip())
                except ValueError:
                    return None
        return None

    def _auth_error(self) -> TransportError:
        settings = self.settings
        return TransportError(
            self.host,
            f"authentication failed: {settings.transport} credentials for {settings.user!r} were rejected (HTTP 401)",
            kind="auth",
        )

    def _exchange(self, conn: HTTPConnection, body: bytes, headers: dict[str, str]) -> tuple[int, _Headers, bytes]:
        """One HTTP/1.1 request and its response on the open connection.

        urllib3 opens the connection (TLS, certificate checks, the proxy tunnel, timeouts); the
        request is written and the response read here, on its socket: http.client's response
        parsing (the ``email`` package's header parser) and urllib3's response object were 40% of
        a check's worker CPU (py-spy), for the status, three headers and a Content-Length body.
        """
        sock = conn.sock
        if sock is None:
            raise ConnectionResetError("the connection is closed")
        head = f"POST {self._target} HTTP/1.1\r\nHost: {self._host_header}\r\nContent-Length: {len(body)}\r\n"
        if self._basic is not None:
            head += f"Authorization: {self._basic}\r\n"
        for name, value in headers.items():
            head += f"{name}: {value}\r\n"
        sock.sendall(head.encode("latin-1") + b"\r\n" + body)
        status, answer, data = _read_response(self._reader(sock))
        counters = self.counters
        if counters is not None:
            counters.bytes_sent += len(body)
            counters.bytes_received += len(data)
        if _field(answer, "connection").lower() == "close":
            self.close_socket(conn)
        return status, answer, data

    def _reader(self, sock: socket.socket) -> BinaryIO:
        if self._stream is None or self._stream_socket is not sock:
            self._stream = sock.makefile("rb")
            self._stream_socket = sock
        return self._stream

    def close_socket(self, conn: HTTPConnection) -> None:
        """The host said ``Connection: close``: the next message opens (and logs on) a new one."""
        conn.close()
        self._stream = None
        self._stream_socket = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._context = None
        if self._stream is not None:
            self._stream.close()
            self._stream = None
            self._stream_socket = None

    # -- messages ------------------------------------------------------------------------------

    def post(self, envelope: str) -> bytes:
        """Send one envelope and return the answer's plaintext, or raise the one-line error."""
        try:
            conn = self._conn
            if conn is None or not conn.is_connected:
                # First use, or the host closed an idle keep-alive connection: open (and log on) again.
                self.close()
                conn = self._conn = self._open()
            body = envelope.encode("utf-8")
            if self._encrypt:
                status, headers, data = self._exchange(conn, self._seal(body), {"Content-Type": _ENCRYPTED_TYPE})
                if _ENCRYPTED in _field(headers, "content-type"):
                    data = self._unseal(data)
            else:
                status, headers, data = self._exchange(conn, body, {"Content-Type": _SOAP_TYPE})
        except TransportError:
            self.close()
            raise
        except (OSError, http.client.HTTPException, Urllib3Error, ValueError) as exc:
            self.close()
            raise self._connection_error(exc) from None
        if status == 200:
            return data
        if status == 401:
            self.close()
            raise self._auth_error()
        raise self._http_error(status, data)

    def _seal(self, plain: bytes) -> bytes:
        assert self._context is not None
        sealed = self._context.wrap(plain).data  # NTLM: the 16-byte signature, then the sealed bytes
        head = f"\tContent-Type: {_ENCRYPTED}\r\n\tOriginalContent: type={_SOAP_TYPE};Length={len(plain)}\r\n"
        return (
            _BOUNDARY
            + head.encode("ascii")
            + _BOUNDARY
            + _OCTET_STREAM
            + struct.pack("<I", 16)
            + sealed
            + _BOUNDARY_END
        )

    def _unseal(self, body: bytes) -> bytes:
        assert self._context is not None
        parts = body.split(_BOUNDARY)
        length = _LENGTH.search(parts[1]) if len(parts) == 3 else None
        if length is None or not parts[2].startswith(_OCTET_STREAM):
            raise ValueError("the WinRM service sent a malformed encrypted message")
        payload = parts[2][len(_OCTET_STREAM) :]
        if payload.endswith(_BOUNDARY_END):
            payload = payload[: -len(_BOUNDARY_END)]
        plain = self._context.unwrap(payload[4:]).data
        if len(plain) != int(length.group(1)):
            # pywinrm's words for the same check (winrm/encryption.py).
            raise ValueError(
                "Encrypted length from server does not match the expected size, message has been tampered with"
            )
        return plain

    def _http_error(self, status: int, data: bytes) -> Exception:
        """A non-200 answer: a SOAP fault when the body is one (parsed as pywinrm does), else the status."""
        fault = None
        if data:
            try:
                fault = ET.fromstring(data).find("s:Body/s:Fault", _NS)
            except ET.ParseError:
                fault = None
        if fault is None:
            return TransportError(
                self.host, f"HTTP {status} from the WinRM service at {self.where}", kind="http", retryable=status >= 500
            )
        detail = fault.find("s:Detail/f:WSManFault[@Code]", _NS)
        code = int(detail.attrib["Code"]) if detail is not None else None
        if code == _TIMED_OUT:
            return _OperationTimedOut()
        reason = fault.findtext("s:Reason/s:Text", None, _NS) or "(no error message in fault)"
        return fault_error(self.host, reason, code, status)

    def _connection_error(self, exc: BaseException) -> TransportError:
        where = self.where
        cause = root_cause(exc)
        if isinstance(cause, ssl.SSLCertVerificationError) or type(cause).__name__ == "CertificateError":
            detail = getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
            return TransportError(
                self.host,
                f"certificate rejected at {where}: {detail} (trust the host's CA with ca_bundle)",
                kind="certificate",
            )
        if isinstance(cause, socket.gaierror):
            return TransportError(self.host, f"name {self.settings.address!r} does not resolve", kind="dns")
        if isinstance(cause, ConnectionRefusedError):
            return TransportError(self.host, f"connection refused: nothing listening on {where}", kind="refused")
        if isinstance(cause, TimeoutError):
            return TransportError(self.host, f"timed out talking to {where}", kind="timeout", retryable=True)
        if isinstance(cause, ssl.SSLError):
            return TransportError(self.host, f"TLS failed at {where}: {cause}", kind="certificate")
        return TransportError(self.host, f"connection to {where} dropped: {cause}", kind="reset", retryable=True)


class LeanWinRMConnection:
    """A Connection over WinRM without pywinrm; not thread-safe (one per host per worker).

    The same message sequence as ``WinRMConnection``: one shell per connection, reused for every
    script; per script Command, Send (one per 256 KiB), Receive until Done; Delete at close.
    """

    def __init__(self, host: str, settings: ConnectionSettings, password: str | None) -> None:
        if settings.transport not in LEAN_TRANSPORTS:
            raise ValueError(f"the lean WinRM client does not speak transport {settings.transport!r}")
        if password is None:
            raise TransportError(
                host,
                f"no password for {settings.user!r}: set password_env to the name of an "
                "environment variable that holds it, or use --ask-pass",
                kind="auth",
            )
        self.host = host
        self.settings = settings
        self.counters = TransportCounters()
        self._channel = _Channel(host, settings, password)
        self._channel.counters = self.counters
        self._templates = _Templates(self._channel.endpoint)
        self._mid = _MessageIds()
        self._shell: str | None = None

    def _post(self, envelope: str, *, receive: bool = False) -> bytes:
        self.counters.messages += 1
        try:
            return self._channel.post(envelope)
        except _OperationTimedOut:
            if receive:
                raise
            # Only a Receive may time out waiting for output; elsewhere it is the host's failure.
            error = fault_error(self.host, "the operation timed out on the host", _TIMED_OUT, 500)
            self._release_shell()
            raise error from None
        except TransportError as error:
            if error.kind == "http":
                # The host answered, so it can still delete the shell; otherwise the shell would hold
                # one of the account's MaxShellsPerUser (30) until its idle timeout.
                self._release_shell()
            self._shell = None  # a fault or a reboot leaves the shell unusable: rebuild it next time
            raise

    def _release_shell(self) -> None:
        shell, self._shell = self._shell, None
        if shell is None:
            return
        self.counters.messages += 1
        try:
            self._channel.post(self._templates.delete.format(mid=self._mid(), shell=shell))
        except Exception:  # noqa: BLE001 - best effort: the fault being reported matters more
            pass

    def _open_shell(self) -> str:
        answer = self._post(self._templates.create.format(mid=self._mid()))
        found = _SHELL_ID.search(answer)
        if found is None:
            raise TransportError(self.host, "WinRM error: the Create response names no ShellId", kind="http")
        return found.group(1).decode("ascii")

    def connect(self, *, timeout: float) -> None:
        """Authenticate and open the shell now, without running a script (``Connection.connect``).

        ``timeout`` bounds the TCP connect, the TLS handshake and each exchange of the log-on and the
        Create (at most the usual read timeout); a later ``run`` reuses the connection and the shell.
        """
        if self._shell is not None:
            return
        with self._channel.bounded(timeout):
            self._shell = self._open_shell()

    def run(self, script: str, *, timeout: float, secrets: Mapping[str, str] | None = None) -> ScriptResult:
        deadline = time.monotonic() + timeout
        templates = self._templates
        if self._shell is None:
            self._shell = self._open_shell()
        shell = self._shell
        found = _COMMAND_ID.search(self._post(templates.command.format(mid=self._mid(), shell=shell)))
        if found is None:
            raise TransportError(self.host, "WinRM error: the Command response names no CommandId", kind="http")
        command = found.group(1).decode("ascii")
        data = stdin_for(script, secrets)
        for start in range(0, max(len(data), 1), CHUNK_BYTES):
            chunk = base64.b64encode(data[start : start + CHUNK_BYTES]).decode("ascii")
            end = "true" if start + CHUNK_BYTES >= len(data) else "false"
            self._post(templates.send.format(mid=self._mid(), shell=shell, command=command, end=end, data=chunk))
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        receive = templates.receive
        while True:
            if time.monotonic() > deadline:
                self._abandon(shell, command)
                raise TransportError(
                    self.host, f"timed out after {timeout:g} s waiting for the script to finish", kind="timeout"
                )
            try:
                answer = self._post(receive.format(mid=self._mid(), shell=shell, command=command), receive=True)
            except _OperationTimedOut:
                continue  # the host's Receive timed out with no output yet: ask again
            for attributes, text in _STREAM.findall(answer):
                if text:
                    name = _STREAM_NAME.search(attributes)
                    if name is not None and name.group(1) == b"stdout":
                        stdout.append(base64.b64decode(text))
                    elif name is not None and name.group(1) == b"stderr":
                        stderr.append(base64.b64decode(text))
            if _DONE.search(answer):
                code = _EXIT_CODE.search(answer)
                if code is None:
                    raise TransportError(self.host, "WinRM error: the command ended without an exit code", kind="http")
                break
        self.counters.scripts += 1
        return ScriptResult(
            b"".join(stdout).decode("utf-8", "replace"), b"".join(stderr).decode("utf-8", "replace"), int(code.group(1))
        )

    def _abandon(self, shell: str, command: str) -> None:
        try:
            self._post(self._templates.signal.format(mid=self._mid(), shell=shell, command=command))
        except Exception:  # noqa: BLE001 - best effort: the shell is rebuilt anyway
            pass
        self._shell = None

    def close(self) -> None:
        if self._shell is not None:
            shell, self._shell = self._shell, None
            self.counters.messages += 1
            try:
                self._channel.post(self._templates.delete.format(mid=self._mid(), shell=shell))
            except Exception:  # noqa: BLE001 - the host may be rebooting; nothing to release then
                pass
        self._channel.close()
