"""The fix texts of ``provision doctor``, in one place, each with the source it relies on.

A step that fails says what to do on the host or in the inventory; the texts that several steps
share, and the ones built from a failure's kind, are here.
"""

from __future__ import annotations

from provisioner.doctor.needs import REQUIRED_ENVELOPE_KB
from provisioner.transport import TransportError

__all__ = ["ALLOW_UNENCRYPTED", "BASIC", "LISTENER_HTTP", "LISTENER_HTTPS", "POINT_LISTENER", "firewall", "transport"]

LISTENER_HTTPS = (
    # Ansible setup, "Setup WinRM Listener": winrm quickconfig -transport:https; New-Item on the
    # WSMan: drive is the PowerShell form (Microsoft Learn, about_WSMan_Provider).
    "New-Item -Path WSMan:\\localhost\\Listener -Transport HTTPS -Address * "
    "-CertificateThumbPrint <thumbprint of a Server Authentication certificate in Cert:\\LocalMachine\\My> -Force"
)
LISTENER_HTTP = "winrm quickconfig"
"""Starts WinRM, adds the HTTP listener and its firewall rule (Ansible setup, "Setup WinRM Listener")."""
POINT_LISTENER = (
    # Microsoft Learn, Set-WSManInstance (its example changes a listener's CertificateThumbprint).
    "Set-WSManInstance -ResourceURI winrm/config/Listener -SelectorSet @{Address='*';Transport='HTTPS'} "
    "-ValueSet @{CertificateThumbprint='<new thumbprint>'}"
)
ALLOW_UNENCRYPTED = (
    # Ansible winrm, "WinRM Encryption" and "Basic"; the winrm.cmd forms set the same keys of
    # winrm/config/service (Microsoft Learn, "Installation and configuration for Windows Remote
    # Management": winrm set <resource> @{Name="value"}).
    "Set-Item -Path WSMan:\\localhost\\Service\\AllowUnencrypted -Value $true; "
    "Set-Item -Path WSMan:\\localhost\\Service\\Auth\\Basic -Value $true "
    "(or: winrm set winrm/config/service '@{AllowUnencrypted=\"true\"}'; "
    "winrm set winrm/config/service/auth '@{Basic=\"true\"}')"
)
BASIC = (
    "Set-Item -Path WSMan:\\localhost\\Service\\Auth\\Basic -Value $true "
    "(or: winrm set winrm/config/service/auth '@{Basic=\"true\"}')"
)


def firewall(port: int, name: str) -> str:
    """An inbound allow rule for the port (New-NetFirewallRule, Microsoft Learn netsecurity module)."""
    return (
        f"New-NetFirewallRule -DisplayName '{name} {port}' -Direction Inbound -Protocol TCP "
        f"-LocalPort {port} -Action Allow"
    )


def transport(exc: TransportError, port: int) -> str:
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
