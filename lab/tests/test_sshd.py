"""The lab's SSH endpoints against the unmodified paramiko client."""

from __future__ import annotations

import base64
import hashlib
import io
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from provision_lab.api import ExecResult

if TYPE_CHECKING:
    from tests.conftest import MakeLab, RunningLab

POWERSHELL_STDIN = "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command -"


def connect(lab: RunningLab, known_hosts: Path | None = None, **options: Any) -> paramiko.SSHClient:
    """A paramiko client that trusts only ``known_hosts`` (the lab's by default)."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts or lab.server.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    address, port = lab.server.ssh_endpoint(lab.host.name)
    settings: dict[str, Any] = {"username": lab.user, "password": lab.password}
    settings.update(options)
    client.connect(address, port, allow_agent=False, look_for_keys=False, timeout=5, **settings)
    return client


def run(client: paramiko.SSHClient, command: str, stdin: bytes = b"") -> tuple[bytes, bytes, int]:
    """Exec ``command`` with ``stdin`` then EOF, as the controller's SSH transport does."""
    channel = client.get_transport().open_session()  # type: ignore[union-attr]
    channel.exec_command(command)
    channel.sendall(stdin)
    channel.shutdown_write()
    stdout = channel.makefile("rb").read()
    stderr = channel.makefile_stderr("rb").read()
    return stdout, stderr, channel.recv_exit_status()


def test_script_over_stdin_with_password_and_verified_host_key(make_lab: MakeLab) -> None:
    lab = make_lab()
    script = "Write-Output 'hé'\r\n" * 2000  # about 38 KB, over several SSH packets
    with connect(lab) as client:
        stdout, stderr, exit_code = run(client, POWERSHELL_STDIN, script.encode("utf-8"))
    assert (stdout, stderr, exit_code) == (script.encode("utf-8"), b"", 0)
    assert lab.host.scripts == [script]
    assert lab.host.counters["ssh.commands"] == 1


def test_public_key_auth(make_lab: MakeLab) -> None:
    key = paramiko.Ed25519Key(file_obj=_fresh_ed25519_pem())
    other = paramiko.Ed25519Key(file_obj=_fresh_ed25519_pem())
    lab = make_lab(authorized_keys=[f"{key.get_name()} {key.get_base64()} operator@controller"])
    with connect(lab, password=None, pkey=key) as client:
        assert run(client, POWERSHELL_STDIN, b"Get-Date")[0] == b"Get-Date"
    with pytest.raises(paramiko.AuthenticationException):
        connect(lab, password=None, pkey=other)


def test_host_key_is_checked_against_known_hosts(make_lab: MakeLab, tmp_path: Path) -> None:
    lab = make_lab()
    other = make_lab()  # another lab directory: other host keys
    address, port = lab.server.ssh_endpoint(lab.host.name)
    line = other.server.known_hosts_path.read_text().split(" ", 1)[1]
    wrong = tmp_path / "wrong_known_hosts"
    wrong.write_text(f"[{address}]:{port} {line}")
    with pytest.raises(paramiko.BadHostKeyException):
        connect(lab, wrong)
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        connect(lab, empty)


def test_host_keys_are_stable_and_fingerprinted(make_lab: MakeLab) -> None:
    lab = make_lab()
    with connect(lab) as client:
        key = client.get_transport().get_remote_server_key()  # type: ignore[union-attr]
    digest = base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode()
    assert lab.server.host_key_fingerprint(lab.host.name) == "SHA256:" + digest.rstrip("=")
    assert key.get_name() == "ssh-ed25519"


@pytest.mark.parametrize("wrong", ["password", "fault"])
def test_bad_credentials(make_lab: MakeLab, wrong: str) -> None:
    lab = make_lab()
    if wrong == "fault":
        lab.host.faults.bad_credentials = True  # the right password no longer works
    with pytest.raises(paramiko.AuthenticationException):
        connect(lab, password="nope" if wrong == "password" else lab.password)
    assert lab.host.counters["ssh.auth_failures"] >= 1


def test_stderr_is_clixml_and_exit_status_is_returned(make_lab: MakeLab) -> None:
    lab = make_lab()
    lab.host.behaviour = lambda script: ExecResult("partial\n", "it failed\n", 5)
    with connect(lab) as client:
        stdout, stderr, exit_code = run(client, POWERSHELL_STDIN, b"Do-Thing")
    assert (stdout, exit_code) == (b"partial\r\n", 5)
    assert stderr.startswith(b"#< CLIXML\r\n")
    assert [s.text for s in ET.fromstring(stderr[11:])] == ["it failed_x000D__x000A_"]


def test_other_command_line_forms(make_lab: MakeLab) -> None:
    lab = make_lab()
    encoded = base64.b64encode("Get-Service docker".encode("utf-16-le")).decode()
    with connect(lab) as client:
        assert run(client, f"powershell -EncodedCommand {encoded}")[0] == b"Get-Service docker"
        assert run(client, "powershell -NoProfile -Command Get-Date")[0] == b"Get-Date"
        assert run(client, "powershell", b"Get-Item C:\\")[0] == b"Get-Item C:\\"
        not_found = run(client, "bash -c true")
        assert not_found[2] == 1 and not_found[1].startswith(b"'bash' is not recognized")
        too_long = run(client, "powershell -Command " + "a" * 9000)
        assert too_long[1:] == (b"The command line is too long.\r\n", 1)


def test_faults(make_lab: MakeLab) -> None:
    lab = make_lab()
    lab.host.faults.latency_ms = 200
    with connect(lab) as client:
        started = time.monotonic()
        run(client, POWERSHELL_STDIN, b"x")
        assert time.monotonic() - started >= 0.2
        lab.host.faults.reset_rate = 1.0
        # The connection drops with no answer: paramiko reports exit status -1 (none received).
        assert run(client, POWERSHELL_STDIN, b"x") == (b"", b"", -1)
        assert lab.host.counters["ssh.resets"] == 1
    lab.host.faults.reset_rate = 0.0
    lab.host.faults.unreachable = True
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        connect(lab)
    lab.host.faults.unreachable = False
    lab.host.up = False
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        connect(lab)
    lab.host.up = True
    connect(lab).close()


def _fresh_ed25519_pem() -> io.StringIO:
    """A new client key in OpenSSH format, as paramiko reads it."""
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return io.StringIO(pem.decode())
