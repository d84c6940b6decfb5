"""Malformed WS-Man and SSH traffic never raises an unhandled exception in the lab (issue 12 item 11).

Each request is sent raw over a socket to a running lab. What must hold: nothing is logged at
ERROR (asyncio logs an exception that escapes a connection callback, the lab logs its own
failures with ``_log.exception``), the connection gets an HTTP answer or is closed, and the host
still serves a well-formed client afterwards. Security-review.md F16 found a negative
Content-Length and a truncated NTLM Negotiate raising.
"""

from __future__ import annotations

import base64
import logging
import socket
import ssl
import struct

import paramiko
import pytest
import winrm

from .conftest import MakeLab, RunningLab

NTLM_NEGOTIATE_TRUNCATED = base64.b64encode(b"NTLMSSP\x00\x01\x00\x00\x00").decode()
"""The NTLMSSP signature and message type 1, and nothing of the negotiate flags that follow."""
NTLM_AUTHENTICATE_GARBAGE = base64.b64encode(b"NTLMSSP\x00\x03\x00\x00\x00" + b"\xff" * 40).decode()


def complete(answer: bytes) -> bool:
    """Whether ``answer`` holds a whole HTTP response (its head and Content-Length bytes of body)."""
    head, found, body = answer.partition(b"\r\n\r\n")
    if not found:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return True


def exchange(address: str, port: int, data: bytes, *, tls: bool = False, timeout: float = 3.0) -> bytes:
    """Send ``data`` and read until the lab has answered (keep-alive leaves the connection open),
    closes, or goes quiet for ``timeout`` seconds."""
    raw = socket.create_connection((address, port), timeout=timeout)
    sock: socket.socket = raw
    try:
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(raw)
        sock.sendall(data)
        answer = b""
        try:
            while not complete(answer) and (chunk := sock.recv(65536)):
                answer += chunk
        except (TimeoutError, ConnectionResetError, ssl.SSLError):
            pass
        return answer
    finally:
        sock.close()


def basic(lab: RunningLab) -> str:
    return "Basic " + base64.b64encode(f"{lab.user}:{lab.password}".encode()).decode()


def post(body: bytes, *headers: str) -> bytes:
    head = ["POST /wsman HTTP/1.1", "Host: lab", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


SOAP_CREATE_NO_BODY = (
    b'<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><s:Header>'
    b"<a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action></s:Header></s:Envelope>"
)


def malformed_http(lab: RunningLab) -> list[tuple[str, bytes]]:
    auth = f"Authorization: {basic(lab)}"
    return [
        ("negative content-length", post(b"", "Content-Length: -5")),
        ("negative content-length, authenticated", post(b"", auth, "Content-Length: -1")),
        ("content-length not a number", post(b"", "Content-Length: 12abc")),
        ("content-length beyond any body", post(b"<x/>", auth, "Content-Length: 99999999999999999999999")),
        ("chunked body", post(b"4\r\n<x/>\r\n0\r\n\r\n", auth, "Transfer-Encoding: chunked")),
        ("truncated NTLM negotiate", post(b"", f"Authorization: Negotiate {NTLM_NEGOTIATE_TRUNCATED}")),
        ("NTLM authenticate without negotiate", post(b"", f"Authorization: Negotiate {NTLM_AUTHENTICATE_GARBAGE}")),
        ("authorization scheme only", post(b"", "Authorization: Negotiate")),
        ("authorization not base64", post(b"", "Authorization: Basic %%%")),
        ("basic without a colon", post(b"", "Authorization: Basic " + base64.b64encode(b"nocolon").decode())),
        ("basic not text", post(b"", "Authorization: Basic " + base64.b64encode(b"\xff\xfe:\x00").decode())),
        ("body not XML", post(b"<s:Envelope", auth, "Content-Type: application/soap+xml;charset=UTF-8")),
        ("XML that is not SOAP", post(b"<a><b/></a>", auth)),
        ("SOAP without a body", post(SOAP_CREATE_NO_BODY, auth)),
        ("XML entity expansion", post(b'<!DOCTYPE a [<!ENTITY x "xxxxxxxx">]><a>&x;&x;</a>', auth)),
        ("body not UTF-8", post(b"\xff\xfe\x00<\x00", auth)),
        ("request line of one word", b"GARBAGE\r\n\r\n"),
        ("request line of five words", b"POST /wsman HTTP/1.1 extra words\r\n\r\n"),
        ("header without a name", b"POST /wsman HTTP/1.1\r\n: value\r\nContent-Length: 0\r\n\r\n"),
        ("bytes that are not HTTP", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64 + b"\r\n\r\n"),
        ("head that never ends", b"POST /wsman HTTP/1.1\r\nX: " + b"a" * 70000),
    ]


@pytest.fixture
def lab(make_lab: MakeLab) -> RunningLab:
    return make_lab(allow_unencrypted=True)


def assert_still_serves(lab: RunningLab) -> None:
    session = winrm.Session(f"http://{lab.host.address}:5985/wsman", auth=(lab.user, lab.password), transport="basic")
    result = session.run_ps("still here")
    assert result.status_code == 0 and b"still here" in result.std_out


def test_malformed_http_requests_are_answered_or_closed(lab: RunningLab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for name, request in malformed_http(lab):
        answer = exchange(lab.host.address, 5985, request)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 "), (name, answer[:200])
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [(r.name, r.getMessage()) for r in errors]
    assert_still_serves(lab)


def test_malformed_requests_over_https_and_plain_http_on_the_tls_port(
    lab: RunningLab, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    for name, request in malformed_http(lab)[:8]:
        answer = exchange(lab.host.address, 5986, request, tls=True)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 "), (name, answer[:200])
    assert exchange(lab.host.address, 5986, post(b"")) == b""  # plain HTTP to the TLS listener: closed
    assert exchange(lab.host.address, 5986, b"\x16\x03\x01\x00\x05hello") == b""  # a broken ClientHello
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [(r.name, r.getMessage()) for r in errors]
    assert_still_serves(lab)


def test_a_negative_content_length_is_not_read_as_a_body(lab: RunningLab) -> None:
    """The F16 case on its own: the connection ends without a WS-Man answer, and no script ran."""
    answer = exchange(lab.host.address, 5985, post(b"", f"Authorization: {basic(lab)}", "Content-Length: -5"))
    assert b"<s:Envelope" not in answer
    assert lab.host.scripts == []


def test_malformed_ssh_traffic(lab: RunningLab, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    address = lab.host.address
    # Not SSH at all; a banner and then garbage where the key exchange should be; a packet length
    # far beyond any packet.
    assert exchange(address, 2222, b"GET / HTTP/1.1\r\n\r\n", timeout=3).startswith(b"SSH-2.0-")
    exchange(address, 2222, b"SSH-2.0-test\r\n" + b"\xff" * 256, timeout=3)
    exchange(address, 2222, b"SSH-2.0-test\r\n" + struct.pack(">I", 0x7FFFFFF0) + b"\x00" * 16, timeout=3)
    # A well-formed client sending commands that are not UTF-8, or longer than cmd.exe takes.
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(address, 2222, lab.user, lab.password, allow_agent=False, look_for_keys=False, timeout=10)
    try:
        for command in (b"\xff\xfe powershell.exe", b"x" * 40000):
            channel = client.get_transport().open_session()  # type: ignore[union-attr]
            channel.settimeout(10)
            channel.exec_command(command)
            channel.shutdown_write()
            status = channel.recv_exit_status()
            assert status != 0, command[:40]  # nothing unmodelled succeeds
            channel.close()
    finally:
        client.close()
    # paramiko's transport thread logs a broken banner or packet itself and ends that connection.
    lab_errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "/paramiko/" not in r.pathname]
    assert lab_errors == [], [(r.name, r.getMessage()) for r in lab_errors]
    assert_still_serves(lab)
