"""The ``auth`` step: a password from where a run takes it, then a log-on through the transport a run uses."""

from __future__ import annotations

import os
import re

import requests

from provisioner.doctor import fixes
from provisioner.doctor.results import Step, Stop
from provisioner.doctor.ssh import HostKeySteps
from provisioner.transport import TransportError
from provisioner.transport.connect import open_connection, password_for

__all__ = ["AuthSteps"]


class AuthSteps(HostKeySteps):
    """The ``auth`` step: a password from where a run takes it, then a log-on through the transport a run uses."""

    def _password(self) -> str | None:
        settings = self.settings
        try:
            password = password_for(self.name, settings, self.ask_pass)
        except TransportError as exc:
            raise Stop(
                Step(
                    "auth",
                    False,
                    exc.cause.split(";")[0],
                    fixes.export_password(password_env=settings.password_env),
                )
            ) from None
        if settings.password_env and os.environ.get(settings.password_env) is not None:
            self.password_source = f"${settings.password_env} (password_env)"
        elif self.ask_pass is not None:
            self.password_source = "the --ask-pass answer"
        elif settings.password is not None:
            self.password_source = "ansible_password"
        if settings.connection == "ssh":
            # Without a password or key_file, SSHConnection lets paramiko try the usual keys
            # (~/.ssh/id_*), and paramiko logs on as the local user when user is unset.
            return password
        if password is None and settings.transport in ("ntlm", "basic", "credssp"):
            raise Stop(
                Step(
                    "auth",
                    False,
                    "no password: the inventory sets neither password_env nor "
                    "ansible_password, and --ask-pass was not given",
                    fixes.NO_PASSWORD,
                )
            )
        if not settings.user and settings.transport != "certificate":
            raise Stop(
                Step(
                    "auth",
                    False,
                    "no user: the inventory sets neither user nor ansible_user",
                    fixes.NO_USER,
                )
            )
        return password

    def auth(self) -> str:
        return self._auth_ssh() if self.settings.connection == "ssh" else self._auth_winrm()

    def _auth_winrm(self) -> str:
        settings = self.settings
        password = self._password()
        try:
            connection = open_connection(self.name, settings, password)
        except Exception as exc:  # noqa: BLE001 - pywinrm validates its arguments in the constructor
            raise Stop(
                Step(
                    "auth",
                    False,
                    f"cannot set up {settings.transport}: {exc}",
                    fixes.SETUP,
                )
            ) from None
        self.connection = connection
        try:
            connection.connect(timeout=self.timeout)
        except TransportError as exc:
            raise Stop(self._winrm_auth_failure(exc)) from None
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
                        fixes.BASIC_OVER_HTTP,
                    )
                return Step(
                    "auth",
                    False,
                    f"Basic authentication is disabled on the host (HTTP 401{offered})",
                    fixes.BASIC_DISABLED,
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
                    fixes.NEGOTIATE,
                )
            if exc.kind == "http":
                return Step(
                    "auth",
                    False,
                    f"the host answered HTTP 500 to Basic over plain HTTP (AllowUnencrypted "
                    f"is false, the Windows default{offered})",
                    fixes.BASIC_OVER_HTTP_500,
                )
            return Step(
                "auth",
                False,
                f"the host rejected the {settings.transport} credentials of {settings.user!r} (HTTP 401{offered})",
                fixes.credentials(self.settings, self.password_source),
            )
        return Step("auth", False, exc.cause, fixes.transport(exc, self.port))

    def _auth_ssh(self) -> str:
        settings = self.settings
        password = self._password()
        connection = open_connection(self.name, settings, password)
        self.connection = connection
        try:
            connection.connect(timeout=self.timeout)
        except TransportError as exc:
            if exc.kind != "auth":
                raise Stop(Step("auth", False, exc.cause, fixes.transport(exc, self.port))) from None
            allowed = self._ssh_methods()
            offered = f" (the server allows {', '.join(allowed)})" if allowed else ""
            fix = fixes.ssh_logon(settings, self.password_source, password is not None, allowed)
            raise Stop(Step("auth", False, f"the host rejected {settings.user!r}{offered}", fix)) from None
        method = "key" if settings.key_file and password is None else "password"
        return f"{method} logon as {settings.user!r}"
