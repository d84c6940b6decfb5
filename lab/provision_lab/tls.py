"""The lab's private certificate authority for the simulated hosts' HTTPS listeners.

A real fleet's WinRM HTTPS listeners carry certificates from some CA the controller must be
told to trust (``ca_bundle`` in the inventory, ``ca_trust_path`` in pywinrm). The lab plays
the same game: it keeps one CA in the lab directory (created once, reused across restarts so a
trusted CA path stays valid) and issues each host a server certificate whose subjectAltName is
the host's IP address and name, as requests requires for hostname checking
(winrm-protocol.md section 6.1).

Certificates are issued lazily, on a host's first HTTPS connection, with EC P-256 keys: issuing
one costs about half a millisecond and loading it into an ``ssl.SSLContext`` about a
millisecond, so a 1,000-host lab starts without paying for 1,000 certificates nobody may use.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["LabCA"]

_CA_VALIDITY = datetime.timedelta(days=3650)
_SERVER_VALIDITY = datetime.timedelta(days=397)
_BACKDATE = datetime.timedelta(hours=1)
"""Certificates start an hour in the past so a client clock slightly behind still accepts them."""
_DNS_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")


class LabCA:
    """A CA kept in ``directory`` that issues per-host TLS server contexts.

    ``ca_path`` is the PEM file clients pass as ``ca_trust_path`` (pywinrm) or ``ca_bundle``
    (the inventory). ``server_context`` is safe to call from several threads.
    """

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._hosts_dir = directory / "hosts"
        self._hosts_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._contexts: dict[tuple[str, str], ssl.SSLContext] = {}
        self._key, self._cert = self._load_or_create_ca()

    @property
    def ca_path(self) -> Path:
        """PEM file of the CA certificate, for clients to trust."""
        return self._directory / "ca.pem"

    def server_context(self, name: str, address: str) -> ssl.SSLContext:
        """The TLS server context of one host, issuing its certificate on first use."""
        key = (name, address)
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = self._issue(name, address)
                self._contexts[key] = context
            return context

    def _load_or_create_ca(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key_path = self._directory / "ca.key"
        if key_path.exists() and self.ca_path.exists():
            cert = x509.load_pem_x509_certificate(self.ca_path.read_bytes())
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if isinstance(loaded, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc > _now() + _SERVER_VALIDITY:
                return loaded, cert
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provision lab CA")])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(key_path, _key_pem(key))
        self.ca_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return key, cert

    def _issue(self, name: str, address: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        alt_names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(address))]
        if _DNS_NAME.match(name):
            alt_names.append(x509.DNSName(name))
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name[:64] or address)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + _SERVER_VALIDITY)
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        # ssl.SSLContext only loads certificates from files, so the pair goes to the lab directory.
        path = self._hosts_dir / f"{address}.pem"
        _write_private(path, _key_pem(key) + cert.public_bytes(serialization.Encoding.PEM))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(path)
        return context


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write a file holding a private key, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
