"""The ``tls`` step (WinRM over HTTPS): the handshake, and the certificate against the trust a run uses."""

from __future__ import annotations

import datetime
import os
import ssl

from cryptography import x509

from provisioner.doctor import fixes
from provisioner.doctor.network import NetworkSteps
from provisioner.doctor.results import Step, Stop
from provisioner.transport.connect import ca_trust

__all__ = ["TlsSteps"]


class TlsSteps(NetworkSteps):
    """The ``tls`` step (WinRM over HTTPS): the handshake, and the certificate against the trust a run uses."""

    def _trust(self) -> tuple[str | None, str]:
        """The CA file or directory the run's WinRM client validates against, and its name (the
        transport's own choice: transport/connect.py ``ca_trust``)."""
        return ca_trust(self.settings)

    def _peer_certificate(self) -> x509.Certificate | None:
        """The server certificate, read without validating it (for the failure text)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with self._open() as sock, context.wrap_socket(sock, server_hostname=self.settings.address) as tls:
                der = tls.getpeercert(binary_form=True)
        except (OSError, Stop):
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
                raise Stop(
                    Step(
                        "tls",
                        False,
                        f"cannot load {trust_name}: {getattr(exc, 'strerror', None) or exc}",
                        fixes.CA_BUNDLE,
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
            raise Stop(self._certificate_failure(exc, trust_name)) from None
        except ssl.SSLError as exc:
            raise Stop(self._handshake_failure(exc)) from None
        except ConnectionResetError:
            raise Stop(
                Step(
                    "tls",
                    False,
                    f"{self.where} reset the connection during the TLS handshake",
                    # Ansible winrm, "TLS 1.2 Support": hosts before 2012 lack TLS 1.2.
                    fixes.tls_reset(port=self.port),
                )
            ) from None
        except TimeoutError:
            raise Stop(
                Step(
                    "tls",
                    False,
                    f"{self.where} did not finish the TLS handshake within {self.timeout:g} s",
                    fixes.https_listener(port=self.port),
                )
            ) from None
        except OSError as exc:
            raise Stop(
                Step(
                    "tls",
                    False,
                    f"TLS handshake with {self.where} failed: {exc.strerror or exc}",
                    fixes.NETWORK_PATH,
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
        if code in (9, 10):  # X509_V_ERR_CERT_NOT_YET_VALID, X509_V_ERR_CERT_HAS_EXPIRED
            if code == 10:
                when = f"expired on {_utc(cert.not_valid_after_utc)}" if cert else "has expired"
                return Step("tls", False, f"the listener's certificate {when} ({about})", fixes.RENEW)
            when = f"is not valid before {_utc(cert.not_valid_before_utc)}" if cert else "is not valid yet"
            return Step(
                "tls",
                False,
                f"the listener's certificate {when} ({about})",
                fixes.CLOCKS,
            )
        if code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
            names = ", ".join(_names(cert)) if cert else "other names"
            return Step(
                "tls",
                False,
                f"certificate name mismatch: the certificate ({about}) is for {names}, not {self.settings.address!r}",
                fixes.name_mismatch(names=names, address=self.settings.address),
            )
        if code in (2, 18, 19, 20, 21):
            # UNABLE_TO_GET_ISSUER_CERT, DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN,
            # UNABLE_TO_GET_ISSUER_CERT_LOCALLY, UNABLE_TO_VERIFY_LEAF_SIGNATURE
            if cert is not None and cert.issuer == cert.subject:
                return Step(
                    "tls",
                    False,
                    f"the listener's certificate is self-signed ({about}), and {trust_name} does not hold it",
                    fixes.SELF_SIGNED,
                )
            issuer = cert.issuer.rfc4514_string() if cert else "its issuer"
            return Step(
                "tls",
                False,
                f"certificate signed by an unknown CA: {about}, and {trust_name} does not hold {issuer!r}",
                fixes.unknown_ca(issuer=issuer),
            )
        return Step(
            "tls",
            False,
            f"certificate rejected: {exc.verify_message} ({about})",
            fixes.VALID_CERTIFICATE,
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
                fixes.HTTP_LISTENER,
            )
        # Ansible winrm, "TLS 1.2 Support": Server 2008 R2 and Windows 7 need TLS 1.2 enabled by hand.
        return Step(
            "tls",
            False,
            f"TLS handshake with {self.where} failed: {reason}",
            fixes.TLS12,
        )


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
