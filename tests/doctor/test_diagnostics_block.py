"""The ``diagnostics`` block: its template parses and uses only catalogued cmdlets (DESIGN 5), the
lab's host model answers it with the template's keys, and the lab's WinRM limits are data a test
can change, enforced where Windows enforces them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from core import pstree
from core.test_catalog import check_script, ps7_syntax, unguarded_native_redirections

from provision_lab.api import Faults
from provision_lab.profiles import make_host
from provision_lab.server import LabServer
from provision_lab.windows.host import WINRM_DEFAULTS
from provision_lab.wsman import WinRSLimits
from provisioner.doctor import REQUIRED_ENVELOPE_KB
from provisioner.protocol.blocks import DiagnosticsParams
from provisioner.protocol.records import parse_output
from provisioner.render import Renderer
from provisioner.transport import TransportError
from provisioner.transport.settings import ConnectionSettings
from provisioner.transport.winrm import CHUNK_BYTES, WinRMConnection

from .conftest import NETWORK

TEMPLATE = Path(__file__).resolve().parents[2] / "provisioner" / "templates" / "resources" / "diagnostics.ps1.j2"
READ_ALL = DiagnosticsParams(echo="x'\u2019 $(Injected) \u00e9", read=["powershell", "admin", "winrm_limits"])


def script(params: DiagnosticsParams = READ_ALL) -> str:
    renderer = Renderer()
    return renderer.script("h", "doctor", [renderer.block("doctor", "diagnostics", "get", params)])


def test_script_parses_without_error_nodes() -> None:
    assert pstree.problems(script()) == []


def test_script_uses_only_catalogued_cmdlets_and_51_syntax() -> None:
    uses, violations = check_script(script())
    assert violations == []
    assert {"Get-Item", "New-Object"} <= {u.command for u in uses}
    assert ps7_syntax(script()) == []
    assert unguarded_native_redirections(script()) == []


def test_template_reads_the_wsman_drive_paths() -> None:
    text = TEMPLATE.read_text()
    for path in (
        "WSMan:\\localhost\\MaxEnvelopeSizekb",
        "WSMan:\\localhost\\Shell\\MaxMemoryPerShellMB",
        "WSMan:\\localhost\\Shell\\MaxShellsPerUser",
    ):
        assert f"Get-Item -Path '{path}'" in text


def record_data(
    host_faults: Faults, params: DiagnosticsParams = READ_ALL, profile: str = "server2022"
) -> dict[str, object]:
    host = make_host(profile, "h", "127.0.0.2", faults=host_faults)
    result = host.run_script(script(params))
    assert result.exit_code == 0, result.stderr
    record = parse_output(result.stdout).records["doctor"]
    assert record.ok, record.error
    assert isinstance(record.data, dict)
    return record.data


def test_model_answers_with_the_template_keys() -> None:
    data = record_data(Faults())
    assert data["echo"] == READ_ALL.echo
    assert data["powershell"] == {"version": "5.1.20348.2762", "edition": "Desktop"}
    assert data["admin"] == {"is_admin": True}
    assert data["winrm_limits"] == {
        "max_envelope_size_kb": 500,
        "max_memory_per_shell_mb": 1024,
        "max_shells_per_user": 30,
        "error": None,
    }
    # The template's own keys, in its order (what Windows would write).
    text = TEMPLATE.read_text()
    for key in (
        "max_envelope_size_kb",
        "max_memory_per_shell_mb",
        "max_shells_per_user",
        "error",
        "is_admin",
        "version",
        "edition",
        "'echo'",
        "'powershell'",
        "'admin'",
        "'winrm_limits'",
    ):
        assert key in text


def test_model_reads_only_what_is_asked() -> None:
    assert record_data(Faults(), DiagnosticsParams(echo="m")) == {"echo": "m"}


def test_model_readings_follow_faults_and_profile() -> None:
    data = record_data(Faults(max_envelope_size_kb=150, max_memory_per_shell_mb=512, max_shells_per_user=2))
    assert data["winrm_limits"] == {
        "max_envelope_size_kb": 150,
        "max_memory_per_shell_mb": 512,
        "max_shells_per_user": 2,
        "error": None,
    }
    standard = record_data(Faults(not_admin=True))
    assert standard["admin"] == {"is_admin": False}
    limits = standard["winrm_limits"]
    assert isinstance(limits, dict) and limits["error"] and limits["max_envelope_size_kb"] is None
    # Windows 10 22H2 (19045) carries the 19041 PowerShell build (windowsserverdocs issue 5310).
    client = record_data(Faults(), profile="win10-22h2-pro")["powershell"]
    assert isinstance(client, dict) and str(client["version"]).startswith("5.1.19041.")


def test_model_defaults_are_the_endpoints_limits() -> None:
    limits = WinRSLimits()
    assert WINRM_DEFAULTS["max_envelope_size_kb"] == limits.max_envelope_size_kb
    assert WINRM_DEFAULTS["max_shells_per_user"] == limits.max_shells_per_user


def test_record_is_one_json_line() -> None:
    host = make_host("server2022", "h", "127.0.0.2")
    line = host.run_script(script()).stdout.strip()
    assert "\n" not in line
    assert json.loads(line.split(" ", 1)[1])["id"] == "doctor"


@pytest.fixture
def small_lab(tmp_path: Path) -> Iterator[LabServer]:
    host = make_host(
        "server2022", "small", f"{NETWORK}.240", faults=Faults(max_envelope_size_kb=150, max_shells_per_user=1)
    )
    server = LabServer(
        [host], user="provision", password="pw", lab_dir=tmp_path, http_port=55987, https_port=None, ssh_port=None
    )
    server.start()
    yield server
    server.stop()


def test_the_endpoint_enforces_a_hosts_own_limits(small_lab: LabServer) -> None:
    """A host whose MaxEnvelopeSizekb is 150 answers a 340 KB Send with HTTP 413, and one whose
    MaxShellsPerUser is 1 refuses a second shell: the lab is never more forgiving than the host
    it reports (WP 3.3, WP 4.2)."""
    settings = ConnectionSettings(address=f"{NETWORK}.240", port=55987, scheme="http", user="provision")
    holder = WinRMConnection("small", settings, "pw")
    holder.connect(timeout=30)
    second = WinRMConnection("small", settings, "pw")
    with pytest.raises(TransportError, match="quota"):
        second.connect(timeout=30)
    second.close()
    holder.close()
    big = script(DiagnosticsParams(echo="y" * 200_000))
    assert len(big.encode()) * 4 // 3 > 150 * 1024
    sender = WinRMConnection("small", settings, "pw")
    with pytest.raises(TransportError, match="HTTP 413"):
        sender.run(big, timeout=10)
    sender.close()


def test_required_envelope_is_what_a_full_chunk_needs(tmp_path: Path) -> None:
    """A script of more than one chunk goes through a host whose MaxEnvelopeSizekb is exactly what
    the doctor asks for, and not through one a few KB below: the doctor's number is the transport's."""
    host = make_host("server2022", "edge", f"{NETWORK}.242", faults=Faults(max_envelope_size_kb=REQUIRED_ENVELOPE_KB))
    server = LabServer(
        [host], user="provision", password="pw", lab_dir=tmp_path, http_port=55988, https_port=None, ssh_port=None
    )
    server.start()
    try:
        settings = ConnectionSettings(address=f"{NETWORK}.242", port=55988, scheme="http", user="provision")
        big = script(DiagnosticsParams(echo="z" * (CHUNK_BYTES + 1000)))
        connection = WinRMConnection("edge", settings, "pw")
        result = connection.run(big, timeout=30)
        assert parse_output(result.stdout).records["doctor"].ok
        connection.close()
        host.faults.max_envelope_size_kb = REQUIRED_ENVELOPE_KB - 4
        connection = WinRMConnection("edge", settings, "pw")
        with pytest.raises(TransportError, match="HTTP 413"):
            connection.run(big, timeout=30)
        connection.close()
    finally:
        server.stop()
