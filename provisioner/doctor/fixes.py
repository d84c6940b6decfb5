"""Every fix text of ``provision doctor``, in one place, each with the source it relies on.

A step that fails says what to do on the host or in the inventory: the step modules say what
went wrong, and take what to do about it from here (constants, or functions of the values the
text names), so the advice can be reviewed, and kept consistent, as one list.
"""

from __future__ import annotations

from provisioner.doctor.needs import REQUIRED_ENVELOPE_KB
from provisioner.transport import TransportError
from provisioner.transport.settings import ConnectionSettings

__all__ = [
    "ADMIN_READ",
    "ALLOW_UNENCRYPTED",
    "BASIC",
    "BASIC_DISABLED",
    "BASIC_OVER_HTTP",
    "BASIC_OVER_HTTP_500",
    "BLOCK_FAILED",
    "LANGUAGE_MODE",
    "BUG",
    "CA_BUNDLE",
    "CLOCKS",
    "ENCODING",
    "EXITED",
    "HTTP_LISTENER",
    "LISTENER_HTTP",
    "LISTENER_HTTPS",
    "NEGOTIATE",
    "NETWORK_PATH",
    "NO_PASSWORD",
    "NO_USER",
    "PARSE",
    "POINT_LISTENER",
    "POWERSHELL_PATH",
    "PRINTS_INSTEAD",
    "RENEW",
    "REPORT",
    "RESOLVE",
    "ROUTE",
    "SELF_SIGNED",
    "SETUP",
    "SSHD",
    "SSH_PORT",
    "TLS12",
    "VALID_CERTIFICATE",
    "WINRM_PORT",
    "WMF",
    "administrator",
    "changed_host_key",
    "credentials",
    "dropped",
    "export_password",
    "firewall",
    "https_listener",
    "limit",
    "name_mismatch",
    "refused",
    "silent",
    "ssh_logon",
    "tls_reset",
    "transport",
    "unknown_ca",
    "unknown_host_key",
]

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


# Per step --------------------------------------------------------------------------------------

NO_PASSWORD = "set password_env: NAME in the inventory and export NAME, or run with --ask-pass"

NO_USER = "set user: in the inventory (a local account as 'name' or '.\\name', a domain account as 'DOMAIN\\name' or 'name@domain.fqdn')"

BASIC_DISABLED = "use transport: ntlm, or enable Basic there: " + BASIC

NEGOTIATE = "enable it there: Set-Item -Path WSMan:\\localhost\\Service\\Auth\\Negotiate -Value $true"

BASIC_OVER_HTTP_500 = "use transport: ntlm or scheme: https; or, on a test host only: " + ALLOW_UNENCRYPTED

SETUP = "check user, password and the certificate paths in the inventory"

BASIC_OVER_HTTP = (
    "use transport: ntlm (it encrypts messages over HTTP) or scheme: https; or, on a test host only, allow it there: "
    + ALLOW_UNENCRYPTED
)

BUG = "this is a provision bug; please report it with this line"

ROUTE = "check the route to the host (ping, traceroute) and any firewall in between"

SSH_PORT = "check port: in the inventory: it must be the host's sshd port"

RESOLVE = "correct address: (or ansible_host) in the inventory, or add the name to DNS or /etc/hosts"

WINRM_PORT = "check port: in the inventory (5985 is WinRM over HTTP, 5986 over HTTPS)"

PRINTS_INSTEAD = "something on the host prints instead of the script (a logon script, or an OpenSSH DefaultShell that is not cmd.exe or PowerShell)"

POWERSHELL_PATH = (
    "Windows PowerShell 5.1 must be on the account's PATH (C:\\Windows\\System32\\WindowsPowerShell\\v1.0)"
)

PARSE = "the scripts need Windows PowerShell 5.1; report this line with the host's $PSVersionTable"

EXITED = "run powershell.exe -NoProfile -Command \"'ok'\" on the host as the same account to see why"

LANGUAGE_MODE = (
    # The fix is the policy owner's to make (windows-audit.md F4).
    "ask the owner of the WDAC/AppLocker policy for a rule that lets this account's powershell.exe run "
    "in FullLanguage (a WDAC supplemental policy, or an AppLocker allow rule), or leave this host out"
)
BLOCK_FAILED = "run the same script by hand to see why: provision render cannot show it; report this line"

ENCODING = "something re-encodes stdin or stdout between here and PowerShell: scripts are sent as UTF-8 and the bootstrap reads them as UTF-8 (protocol/bootstrap.py)"

REPORT = "report this line"

WMF = 'install Windows Management Framework 5.1 on the host (Microsoft Learn, "Install and configure WMF 5.1")'

ADMIN_READ = "run provision doctor with an administrator account"

SSHD = "check that the port is the host's sshd and that sshd is healthy (Get-Service -Name sshd)"

VALID_CERTIFICATE = "give the listener a valid Server Authentication certificate: " + LISTENER_HTTPS

RENEW = "renew the certificate and point the listener at it: " + POINT_LISTENER

CLOCKS = "check the clocks of this machine and the host (w32tm /resync on the host), or " + RENEW

TLS12 = "enable TLS 1.2 on the host (SCHANNEL\\Protocols\\TLS 1.2\\Server: Enabled 1, DisabledByDefault 0)"

HTTP_LISTENER = "use scheme: http for port 5985, or port: 5986 for HTTPS"


SELF_SIGNED = f"set ca_bundle: to that certificate's PEM (a self-signed certificate is its own CA), or give the listener one issued by your CA: {LISTENER_HTTPS}"


NETWORK_PATH = "check the network path to the host"

CA_BUNDLE = "point ca_bundle: at a readable PEM file of the CA that issued the host's certificate"


def export_password(*, password_env: object) -> str:
    return f"export {password_env}=<password> before running provision, or use --ask-pass"


def dropped(*, port: object) -> str:
    return f"check that the host is up (a pending restart?) and that nothing between here and it filters TCP {port}"


def refused(*, service: object, listener: object, firewall: object) -> str:
    return f"check port:/scheme: in the inventory; on the host, create the {service} listener ({listener}) and allow the port ({firewall})"


def silent(*, port: object, firewall: object) -> str:
    return f"check that the host is up and reachable from here, and that its firewall allows TCP {port} ({firewall})"


def administrator(*, account: object) -> str:
    return f"add the account to Administrators (Add-LocalGroupMember -Group Administrators -Member {account}); if it is a member already, UAC filters local accounts' network logons: New-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System -Name LocalAccountTokenFilterPolicy -Value 1 -PropertyType DWord -Force (KB951016)"


def unknown_host_key(*, show: object, port: object, address: object, known: object) -> str:
    return f"compare the fingerprint with the host's ({show} on the host), then add it: ssh-keyscan {port}{address} >> {known}; or set host_key_policy: accept_new to trust it on first use"


def changed_host_key(*, show: object, lookup: object, known: object) -> str:
    return f"if the host was reinstalled, check the new fingerprint ({show} on the host) and replace the entry: ssh-keygen -R '{lookup}' -f {known}; otherwise something may be impersonating the host: do not connect"


def name_mismatch(*, names: object, address: object) -> str:
    return f"set address: to a name the certificate holds ({names}), or give the listener a certificate whose subjectAltName holds {address} (New-SelfSignedCertificate -DnsName <name> -CertStoreLocation Cert:\\LocalMachine\\My), then point the listener at it: {POINT_LISTENER}"


def unknown_ca(*, issuer: object) -> str:
    return f"set ca_bundle: in the inventory to the PEM file of {issuer!r} (the issuing CA's certificate, exported from the host or your PKI), or give the listener a certificate from a CA you already trust: {LISTENER_HTTPS}"


def tls_reset(*, port: object) -> str:
    return f"check that {port} is the HTTPS listener and that the host allows TLS 1.2"


def https_listener(*, port: object) -> str:
    return f"check that {port} is the HTTPS listener (scheme: https, port: 5986)"


def credentials(settings: ConnectionSettings, password_source: str) -> str:
    """Where the password came from, the user name forms, and the access rule (Ansible setup,
    "HTTP 401/Credentials Rejected"; Ansible winrm, "Non-Administrator Accounts")."""
    user = settings.user or ""
    parts = [f"check the password in {password_source or 'the inventory'}"]
    domain, _, _ = user.rpartition("\\")
    if settings.transport == "basic" and ((domain and domain != ".") or "@" in user):
        parts.append(
            f"Basic accepts local accounts only, and {user!r} names a domain account: use transport: ntlm or kerberos"
        )
    else:
        parts.append(
            "write a local account as 'name' or '.\\name' and a domain account as 'DOMAIN\\name' or 'name@domain.fqdn'"
        )
    parts.append("the account must be in the host's Administrators group or granted access (winrm configSDDL default)")
    return "; ".join(parts)


def ssh_logon(
    settings: ConnectionSettings, password_source: str, with_password: bool, allowed: list[str] | None
) -> str:
    """An SSH log-on the host rejected: the password or the key, and where an administrator's key goes."""
    fix = (
        f"check the password in {password_source or 'the inventory'}"
        if with_password
        else f"check key_file ({settings.key_file})"
    )
    if allowed and "password" not in allowed and settings.key_file is None:
        fix = "the server takes no passwords: set key_file: to your private key"
    # Microsoft Learn, "Key-based authentication in OpenSSH for Windows": an administrator's
    # public keys are read from administrators_authorized_keys, not the profile's.
    return fix + (
        "; for key logon as an administrator, the public key belongs in "
        "C:\\ProgramData\\ssh\\administrators_authorized_keys (not ~\\.ssh\\authorized_keys)"
    )


def limit(name: str, path: str, winrm_path: str, wanted: int) -> str:
    """Raise one WSMan limit, on the WSMan: drive or with winrm.cmd."""
    return (
        f"Set-Item -Path {path} -Value {wanted} (or: winrm set {winrm_path} "
        f"'@{{{name}=\"{wanted}\"}}'; a value set by Group Policy must be changed there)"
    )
