"""How to reach one host: the settings every transport takes (DESIGN 4.8).

The inventory loader builds them from a host's variables (inventory/ansible.py); the transports
and the doctor read them. They live with the transports, so no transport imports the loader.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

__all__ = ["ConnectionSettings"]


class ConnectionSettings(BaseModel):
    """How to reach one host (DESIGN 4.8). Secrets are held as SecretStr and never printed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection: Literal["winrm", "ssh"] = "winrm"
    address: str
    port: int | None = Field(default=None, gt=0, lt=65536)
    """Default 5986 for WinRM over HTTPS, 5985 over HTTP, 22 for SSH."""
    scheme: Literal["http", "https"] = "https"
    transport: Literal["ntlm", "basic", "kerberos", "credssp", "certificate"] = "ntlm"
    user: str | None = None
    password_env: str | None = None
    """Name of the environment variable that holds the password (or use --ask-pass)."""
    password: SecretStr | None = None
    """Only from ``ansible_password``, for Ansible compatibility; prefer password_env."""
    cert_validation: Literal["validate", "ignore"] = "validate"
    ca_bundle: str | None = None
    allow_unencrypted: bool = False
    host_key_policy: Literal["reject", "accept_new"] = "reject"
    known_hosts: str | None = None
    key_file: str | None = None
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    proxy: str | None = None
    """``http://host:port`` of an HTTP proxy for WinRM (a CONNECT tunnel for HTTPS); environment
    proxy variables are never used."""
    winrm_client: Literal["lean", "pywinrm"] | None = None
    """The WinRM client: ``lean`` (default for basic and ntlm) or ``pywinrm`` (the reference, and
    always for kerberos, credssp and certificate); ``--winrm-client`` overrides it for a run."""

    @model_validator(mode="after")
    def _coherent(self) -> ConnectionSettings:
        if (
            self.connection == "winrm"
            and self.transport == "basic"
            and self.scheme == "http"
            and not self.allow_unencrypted
        ):
            raise ValueError(
                "basic authentication over plain http sends the password in clear; use https, "
                "ntlm, or set allow_unencrypted: true"
            )
        if self.proxy is not None:
            parts = urlsplit(self.proxy)
            if parts.username is not None or parts.password is not None:
                # A password in a URL would end up in reprs and messages; proxy log-on is not supported.
                raise ValueError("proxy must be http://host:port, without credentials")
            if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
                raise ValueError(f"proxy must be http://host:port, not {self.proxy!r}")
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                raise ValueError(f"proxy must be http://host:port, not {self.proxy!r}") from None
        if self.transport == "certificate" and not (self.cert_pem and self.cert_key_pem):
            raise ValueError("transport certificate needs cert_pem and cert_key_pem")
        return self

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        if self.connection == "ssh":
            return 22
        return 5986 if self.scheme == "https" else 5985
