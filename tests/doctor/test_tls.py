"""The tls step tells an unknown CA, a self-signed certificate, a name mismatch, an expired
certificate and a port that does not speak TLS apart, each with its own fix.

A small TLS server on a loopback address of this test run serves the certificate each test makes.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provisioner import cli
from provisioner.doctor import Doctor, Step
from provisioner.transport.settings import ConnectionSettings

from .conftest import NETWORK

ADDRESS = f"{NETWORK}.241"
NOW = datetime.datetime.now(datetime.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Issued:
    chain: bytes
    """Key and certificate PEM, for the server."""
    ca: bytes
    """PEM of what the client should trust."""


def issue(
    *, names: list[str], not_after: datetime.datetime, self_signed: bool = False, common_name: str | None = None
) -> Issued:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("test CA"))
        .issuer_name(_name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=30))
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    subject = _name(common_name or names[0])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if self_signed else ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=20))
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
    )
    cert = builder.sign(key if self_signed else ca_key, hashes.SHA256())
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Issued(key_pem + pem, pem if self_signed else ca.public_bytes(serialization.Encoding.PEM))


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Serve the chain written to the returned path (write it before connecting) on ADDRESS."""
    chain = tmp_path / "chain.pem"
    listener = socket.create_server((ADDRESS, 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(chain)
            client.settimeout(2)
            try:
                with context.wrap_socket(client, server_side=True):
                    pass
            except (OSError, ssl.SSLError):
                pass
            finally:
                client.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], chain
    stop.set()
    thread.join()
    listener.close()


def diagnose_tls(
    port: int, issued: Issued, tmp_path: Path, chain: Path, *, address: str = ADDRESS, trust: bool = True
) -> Step:
    chain.write_bytes(issued.chain)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(issued.ca)
    settings = ConnectionSettings(
        address=address, port=port, user="u", password_env="NOPE", ca_bundle=str(ca) if trust else None
    )
    diagnosis = Doctor(timeout=3).diagnose("h", settings)
    assert [s.name for s in diagnosis.steps][:3] == ["resolve", "tcp", "tls"], diagnosis.steps
    return diagnosis.steps[2]


def test_trusted_certificate_passes(tls_server: tuple[int, Path], tmp_path: Path) -> None:
    port, chain = tls_server
    step = diagnose_tls(port, issue(names=[ADDRESS], not_after=NOW + datetime.timedelta(days=5)), tmp_path, chain)
    assert step.ok, step.message


def test_unknown_ca(tls_server: tuple[int, Path], tmp_path: Path) -> None:
    port, chain = tls_server
    step = diagnose_tls(
        port, issue(names=[ADDRESS], not_after=NOW + datetime.timedelta(days=5)), tmp_path, chain, trust=False
    )
    assert not step.ok
    assert "unknown CA" in step.text and "CN=test CA" in step.text
    assert step.fix and "ca_bundle" in step.fix


def test_self_signed(tls_server: tuple[int, Path], tmp_path: Path) -> None:
    port, chain = tls_server
    step = diagnose_tls(
        port,
        issue(names=[ADDRESS], not_after=NOW + datetime.timedelta(days=5), self_signed=True),
        tmp_path,
        chain,
        trust=False,
    )
    assert not step.ok
    assert "self-signed" in step.text
    assert step.fix and "its own CA" in step.fix


def test_name_mismatch(tls_server: tuple[int, Path], tmp_path: Path) -> None:
    port, chain = tls_server
    step = diagnose_tls(
        port,
        issue(names=["winhost.example.test", "10.1.2.3"], not_after=NOW + datetime.timedelta(days=5)),
        tmp_path,
        chain,
    )
    assert not step.ok
    assert "name mismatch" in step.text and "winhost.example.test" in step.text and ADDRESS in step.text
    assert step.fix and "address:" in step.fix and "subjectAltName" in step.fix


def test_expired(tls_server: tuple[int, Path], tmp_path: Path) -> None:
    port, chain = tls_server
    expired = NOW - datetime.timedelta(days=2)
    step = diagnose_tls(port, issue(names=[ADDRESS], not_after=expired), tmp_path, chain)
    assert not step.ok
    assert f"expired on {expired:%Y-%m-%d}" in step.text
    assert step.fix and "Set-WSManInstance" in step.fix and "CertificateThumbprint" in step.fix


def test_host_text_in_the_doctors_lines_is_inert(
    tls_server: tuple[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # F7 for doctor: its lines carry host text (here a certificate subject holding terminal escapes);
    # `provision doctor` prints them escaped.
    port, chain = tls_server
    hostile = "w\x1b]0;pwned\x07\x1b[2J"
    issued = issue(names=[ADDRESS], not_after=NOW + datetime.timedelta(days=5), common_name=hostile)
    chain.write_bytes(issued.chain)
    (tmp_path / "ca.pem").write_bytes(issued.ca)
    inventory = tmp_path / "inventory.yml"
    host = {"address": ADDRESS, "port": port, "user": "u", "password_env": "PROVISION_TEST_UNSET"}
    host["ca_bundle"] = str(tmp_path / "ca.pem")
    inventory.write_text(json.dumps({"all": {"hosts": {"w1": host}}}), encoding="utf-8")
    assert cli.run(["doctor", "-i", str(inventory), "--timeout", "3"]) == 3
    out = capsys.readouterr().out
    tls = next(line for line in out.splitlines() if line.startswith("w1  tls "))
    assert "ok: " in tls and "CN=w\\x1b]0\\;pwned\\x07\\x1b[2J issued by CN=test CA" in tls
    assert "\x1b" not in out and "\x07" not in out
