"""The lab's WS-Man endpoints against the unmodified pywinrm client.

Protocol facts asserted here come from /work/shared/research/winrm-protocol.md ("WP").
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING, Any, Literal

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

from provision_lab.api import ExecResult
from provision_lab.wsman import WinRSLimits

if TYPE_CHECKING:
    from tests.conftest import MakeLab, RunningLab

POWERSHELL_STDIN = ["-NoLogo", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass", "-Command", "-"]
UNKNOWN_ID = "00000000-0000-0000-0000-000000000000"
Transport = Literal["basic", "ntlm"]


def protocol(lab: RunningLab, *, transport: Transport = "basic", https: bool = False, **options: Any) -> Protocol:
    """A pywinrm Protocol for the lab's first host: the lab account and CA unless ``options`` override them."""
    settings: dict[str, Any] = {
        "username": lab.user,
        "password": lab.password,
        "ca_trust_path": str(lab.server.ca_path),
    }
    settings.update(options)
    return Protocol(lab.server.wsman_url(lab.host.name, https=https), transport=transport, **settings)


def session(lab: RunningLab) -> winrm.Session:
    """A pywinrm Session (Basic over HTTP) for the lab's first host."""
    url = lab.server.wsman_url(lab.host.name)
    return winrm.Session(url, auth=(lab.user, lab.password), transport="basic", ca_trust_path=str(lab.server.ca_path))


def run_over_stdin(p: Protocol, script: bytes, *, chunk: int = 16384, codepage: int = 437) -> tuple[bytes, bytes, int]:
    """What the controller's transport does: the script on stdin, in several Sends (DESIGN 4.8)."""
    shell = p.open_shell(codepage=codepage)
    command = p.run_command(shell, "powershell.exe", POWERSHELL_STDIN, console_mode_stdin=False)
    pieces = [script[i : i + chunk] for i in range(0, len(script), chunk)] or [b""]
    for index, piece in enumerate(pieces):
        p.send_command_input(shell, command, piece, end=index == len(pieces) - 1)
    result = p.get_command_output(shell, command)
    p.cleanup_command(shell, command)
    p.close_shell(shell)
    return result


def script_of(size: int) -> bytes:
    line = b"Write-Output 'the quick brown fox jumps over the lazy dog'\r\n"
    return (line * (size // len(line) + 1))[:size]


# -- the whole exchange, per transport ------------------------------------------------------


def test_run_ps_over_http_basic(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    response = session(lab).run_ps("Write-Output 'hé'")
    assert response.status_code == 0
    assert response.std_out == "Write-Output 'hé'".encode()  # the test host echoes; stdout is UTF-8
    assert lab.host.scripts == ["Write-Output 'hé'"]
    # run_cmd's sequence: Create, Command, Receive, Signal, Delete (WP 3).
    for operation in ("Create", "Command", "Receive", "Signal", "Delete"):
        assert lab.host.counters[f"wsman.{operation}"] == 1
    assert lab.host.counters["wsman.messages"] == 5


@pytest.mark.parametrize(
    ("transport", "https", "allow_unencrypted"),
    [("basic", False, True), ("ntlm", False, False), ("ntlm", True, False), ("basic", True, False)],
    ids=["http-basic", "http-ntlm-encrypted", "https-ntlm", "https-basic"],
)
def test_script_over_stdin_in_chunks(
    make_lab: MakeLab, transport: Transport, https: bool, allow_unencrypted: bool
) -> None:
    lab = make_lab(allow_unencrypted=allow_unencrypted)
    script = script_of(40 * 1024)
    p = protocol(lab, transport=transport, https=https)
    stdout, stderr, exit_code = run_over_stdin(p, script)
    assert (stdout, stderr, exit_code) == (script, b"", 0)  # the script already had CRLF line ends
    assert lab.host.scripts == [script.decode("ascii")]
    assert lab.host.counters["wsman.Send"] == 3
    if transport == "ntlm" and not https:
        assert p.transport.encryption is not None  # pywinrm sealed every message (WP 6.3)


def test_https_without_the_lab_ca_fails_validation(make_lab: MakeLab, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    lab = make_lab()
    with pytest.raises(requests.exceptions.SSLError):
        protocol(lab, transport="ntlm", https=True, ca_trust_path="legacy_requests").open_shell()


def test_certificate_names_the_host_address(make_lab: MakeLab) -> None:
    lab = make_lab()
    response = requests.post(lab.server.wsman_url(lab.host.name, https=True), verify=str(lab.server.ca_path), timeout=5)
    assert response.status_code == 401
    assert "Negotiate" in response.headers["WWW-Authenticate"]


# -- authentication -------------------------------------------------------------------------


def test_basic_over_http_is_refused_without_allow_unencrypted(make_lab: MakeLab) -> None:
    lab = make_lab()
    with pytest.raises(InvalidCredentialsError):
        protocol(lab).open_shell()


def test_unencrypted_ntlm_over_http_is_refused_without_allow_unencrypted(make_lab: MakeLab) -> None:
    lab = make_lab()
    with pytest.raises(InvalidCredentialsError):
        protocol(lab, transport="ntlm", message_encryption="never").open_shell()


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_wrong_password_is_rejected(make_lab: MakeLab, transport: Transport) -> None:
    lab = make_lab(allow_unencrypted=True)
    with pytest.raises(InvalidCredentialsError):
        protocol(lab, transport=transport, password="wrong").open_shell()
    assert lab.host.counters["http.401"] >= 1
    assert lab.host.counters["wsman.messages"] == 0


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_bad_credentials_fault_rejects_the_right_password(make_lab: MakeLab, transport: Transport) -> None:
    lab = make_lab(allow_unencrypted=True)
    lab.host.faults.bad_credentials = True
    with pytest.raises(InvalidCredentialsError):
        protocol(lab, transport=transport).open_shell()
    lab.host.faults.bad_credentials = False
    protocol(lab, transport=transport).open_shell()


def test_local_account_may_be_qualified_with_a_dot(make_lab: MakeLab) -> None:
    lab = make_lab()
    shell = protocol(lab, transport="ntlm", username=f".\\{lab.user.upper()}").open_shell()
    assert shell


# -- Receive, output and exit codes -----------------------------------------------------------


def test_timed_out_receive_is_retried_by_pywinrm(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)

    def slow(script: str) -> ExecResult:
        time.sleep(1.5)
        return ExecResult("done\n", "", 0)

    lab.host.behaviour = slow
    p = protocol(lab, operation_timeout_sec=1, read_timeout_sec=3)
    shell = p.open_shell()
    command = p.run_command(
        shell, "powershell", ["-EncodedCommand", base64.b64encode("x".encode("utf-16-le")).decode()]
    )
    with pytest.raises(WinRMOperationTimeoutError):
        p.get_command_output_raw(shell, command)  # held for exactly OperationTimeout (WP 7)
    assert p.get_command_output(shell, command) == (b"done\r\n", b"", 0)
    assert lab.host.counters["wsman.fault.TimedOut"] >= 1


def test_large_output_is_spread_over_several_receives(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    lab.host.behaviour = lambda script: ExecResult("x" * 400_000, "", 0)
    stdout, _, _ = run_over_stdin(protocol(lab), b"big")
    assert stdout == b"x" * 400_000
    assert lab.host.counters["wsman.Receive"] >= 3  # each response under the client's 153600 bytes (WP 3.4)


def test_stderr_is_clixml_and_exit_codes_are_unsigned(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    lab.host.behaviour = lambda script: ExecResult("", "Bad <thing> & more\nsecond line\n", -1)
    _, stderr, exit_code = run_over_stdin(protocol(lab), b"fail")
    assert exit_code == 4294967295  # exit -1, as Windows reports it (WP 3.4)
    assert stderr.startswith(b"#< CLIXML\r\n")
    objs = ET.fromstring(stderr[len(b"#< CLIXML\r\n") :])
    assert [(s.get("S"), s.text) for s in objs] == [
        ("Error", "Bad <thing> & more_x000D__x000A_"),
        ("Error", "second line_x000D__x000A_"),
    ]
    assert session(lab).run_ps("fail").std_err == b"Bad <thing> & more\nsecond line"  # pywinrm decodes it (WP 5)


def test_stdin_is_decoded_with_the_shell_code_page(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    p = protocol(lab)
    run_over_stdin(p, "'é'".encode())
    run_over_stdin(p, "'é'".encode(), codepage=65001)
    assert lab.host.scripts == ["'é'".encode().decode("cp437"), "'é'"]


def test_run_ps_hits_the_cmd_exe_command_line_limit(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    client = session(lab)
    # 27 + 4 * ceil(2n / 3) characters: n = 3061 is exactly 8191 (WP 5).
    assert client.run_ps("a" * 3061).status_code == 0
    too_long = client.run_ps("a" * 3062)
    assert (too_long.status_code, too_long.std_err) == (1, b"The command line is too long.\r\n")
    assert lab.host.scripts == ["a" * 3061]


def test_other_programs_are_not_recognized(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    response = session(lab).run_cmd("ipconfig", ["/all"])
    assert response.status_code == 1
    assert response.std_err.startswith(b"'ipconfig' is not recognized as an internal or external command")


# -- faults of the WS-Man service ---------------------------------------------------------------


def test_unknown_shell_and_command_ids_fault(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    p = protocol(lab)
    with pytest.raises(WSManFaultError) as unknown_shell:
        p.run_command(UNKNOWN_ID, "powershell")
    assert unknown_shell.value.wsman_fault_code == 2150858843
    assert unknown_shell.value.fault_subcode == "w:InvalidSelectors"
    shell = p.open_shell()
    with pytest.raises(WSManFaultError) as unknown_command:
        p.get_command_output_raw(shell, UNKNOWN_ID)
    assert unknown_command.value.wsman_fault_code == 2150858843
    assert "command identifier that does not exist" in unknown_command.value.response


def test_max_shells_per_user(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    p = protocol(lab)
    shells = [p.open_shell() for _ in range(30)]
    with pytest.raises(WSManFaultError) as quota:
        p.open_shell()
    assert quota.value.wsman_fault_code == 2150859173
    assert quota.value.fault_subcode == "w:QuotaLimit"
    assert "maximum number of 30 concurrent shells" in quota.value.response
    p.close_shell(shells[0], close_session=False)
    p.open_shell()


def test_max_concurrent_operations_per_user_counts_until_the_shell_is_deleted(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True, limits=WinRSLimits(max_concurrent_operations_per_user=3))
    p = protocol(lab)
    shell = p.open_shell()
    for _ in range(3):
        command = p.run_command(shell, "powershell", ["-Command", "Get-Date"])
        p.get_command_output(shell, command)
        p.cleanup_command(shell, command)  # Signal does not give the operation back (MS-WSMV <118>)
    with pytest.raises(WSManFaultError) as quota:
        p.run_command(shell, "powershell", ["-Command", "Get-Date"])
    assert quota.value.wsman_fault_code == 2150859174
    p.close_shell(shell, close_session=False)
    p.run_command(p.open_shell(), "powershell", ["-Command", "Get-Date"])


def test_envelope_over_max_envelope_size_gets_413(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    p = protocol(lab)
    shell = p.open_shell()
    command = p.run_command(shell, "powershell.exe", POWERSHELL_STDIN)
    p.send_command_input(shell, command, b"a" * 300_000)  # 400,000 base64 characters: under 500 KiB
    with pytest.raises(WinRMTransportError) as too_large:
        p.send_command_input(shell, command, b"a" * 400_000)
    assert too_large.value.code == 413  # HTTP 413, no SOAP fault (WP 3.3)


# -- protocol faults of the host ----------------------------------------------------------------


def test_latency_delays_every_response(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    lab.host.faults.latency_ms = 300
    started = time.monotonic()
    protocol(lab).open_shell()
    assert time.monotonic() - started >= 0.3


def test_http_500_rate(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    lab.host.faults.http_500_rate = 1.0
    with pytest.raises(WinRMTransportError) as error:
        protocol(lab).open_shell()
    assert (error.value.code, error.value.response_text) == (500, "")
    assert lab.host.counters["wsman.Create"] == 0  # answered before the service saw it


def test_reset_rate(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    lab.host.faults.reset_rate = 1.0
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol(lab).open_shell()
    assert lab.host.counters["http.resets"] == 1


def test_unreachable_host_refuses_connections(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    lab.host.faults.unreachable = True
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol(lab).open_shell()
    lab.host.faults.unreachable = False
    protocol(lab).open_shell()


def test_rebooting_host_drops_connections_and_shells(make_lab: MakeLab) -> None:
    lab = make_lab(allow_unencrypted=True)
    release = threading.Event()

    def blocking(script: str) -> ExecResult:
        release.wait(5)
        return ExecResult("", "", 0)

    lab.host.behaviour = blocking
    p = protocol(lab, operation_timeout_sec=10, read_timeout_sec=15)
    shell = p.open_shell()
    command = p.run_command(shell, "powershell", ["-Command", "Restart-Computer"])
    threading.Timer(0.3, lambda: setattr(lab.host, "up", False)).start()
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        p.get_command_output(shell, command)  # the in-flight Receive is dropped, not answered
    assert time.monotonic() - started < 2
    with pytest.raises(requests.exceptions.ConnectionError):
        protocol(lab).open_shell()
    release.set()
    lab.host.up = True
    with pytest.raises(WSManFaultError) as gone:
        protocol(lab).run_command(shell, "powershell")
    assert gone.value.wsman_fault_code == 2150858843  # the reboot ended the shell


# -- scale --------------------------------------------------------------------------------------


def test_a_thousand_hosts_start_quickly(make_lab: MakeLab) -> None:
    started = time.monotonic()
    lab = make_lab(1000)
    assert time.monotonic() - started < 10
    for host in lab.hosts[::249]:
        for url in (lab.server.wsman_url(host.name), lab.server.wsman_url(host.name, https=True)):
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            socket.create_connection((host.address, port), timeout=2).close()
        socket.create_connection(lab.server.ssh_endpoint(host.name), timeout=2).close()
    assert lab.server.known_hosts_path.read_text().count("\n") == 1000
