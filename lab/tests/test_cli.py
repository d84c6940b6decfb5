"""``provision-lab`` (and ``python -m provision_lab``) without a running lab, and the lab inventory reader.

The background lab itself (up, status, drift, stats, down, with the tool converging it) is
tests/e2e/test_lab_cli.py; these are the answers that need no daemon.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from provision_lab import cli
from provision_lab.runtime import PASSWORD_ENV, LabInventoryError, read_lab_inventory


@pytest.fixture
def lab_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PROVISION_LAB_DIR", str(tmp_path / "lab"))
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    return tmp_path / "lab"


def test_module_entry_point_is_the_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "provision_lab", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: provision-lab ")
    for command in ("up", "status", "down", "drift", "stats", "password"):
        assert command in result.stdout


def test_password_is_made_once_and_kept_private(lab_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.run(["password"]) == 0
    first = capsys.readouterr().out.strip()
    assert len(first) >= 20
    assert stat.S_IMODE(os.stat(lab_dir / "password").st_mode) == 0o600
    assert cli.run(["password"]) == 0
    assert capsys.readouterr().out.strip() == first


def test_the_environments_password_wins_and_an_empty_one_is_refused(
    lab_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "from-the-env")
    assert cli.run(["password"]) == 0
    assert capsys.readouterr().out == "from-the-env\n"
    monkeypatch.setenv(PASSWORD_ENV, "")
    assert cli.run(["password"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: lab: {PASSWORD_ENV} is set but empty; unset it or give the lab a password\n"
    assert not (lab_dir / "password").exists()


@pytest.mark.parametrize("command", [["status"], ["stats"], ["down"], ["drift", "lab-0001", "--stop-service", "x"]])
def test_commands_for_a_running_lab_say_none_runs(
    lab_dir: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert cli.run(command) == 1
    assert capsys.readouterr().err == "error: lab: no lab is running (start one with `provision-lab up`)\n"


def test_drift_needs_exactly_one_change(lab_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        cli.run(["drift", "lab-0001"])
    assert stopped.value.code == 2


def test_inventory_reader_inherits_group_vars_and_reads_faults(tmp_path: Path) -> None:
    path = tmp_path / "lab.yml"
    path.write_text(
        "all:\n"
        "  vars:\n"
        "    provision_lab: {seed: 3, reboot_seconds: 0.5, http_port: 15985}\n"
        "  children:\n"
        "    windows:\n"
        "      vars: {lab_profile: server2019}\n"
        "      hosts:\n"
        "        a: {address: 127.77.9.1}\n"
        "        b: {address: 127.77.9.2, lab_profile: server2025, lab_faults: {latency_ms: 20}}\n"
        "    again:\n"
        "      hosts:\n"
        "        a: {address: 127.77.9.99}\n"
    )
    inventory = read_lab_inventory(path)
    assert (inventory.settings.seed, inventory.settings.reboot_seconds, inventory.settings.http_port) == (3, 0.5, 15985)
    assert [(h.name, h.address, h.profile, h.faults.latency_ms) for h in inventory.hosts] == [
        ("a", "127.77.9.1", "server2019", 0.0),
        ("b", "127.77.9.2", "server2025", 20.0),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("all: [1, 2]\n", "all: a lab inventory is a mapping with an 'all' group"),
        ("all:\n  vars: {connection: winrm}\n", "all.vars.provision_lab: missing; this is not a lab inventory"),
        (
            "all:\n  vars: {provision_lab: {}}\n  hosts:\n    a: {lab_profile: server2022}\n",
            "all.hosts.a.address: a lab host needs an address (127.77.x.y)",
        ),
        (
            "all:\n  vars: {provision_lab: {}}\n  hosts:\n    a: {address: 127.77.9.1, lab_faults: {latency: 1}}\n",
            "all.hosts.a.lab_faults: ",
        ),
        ("all:\n  vars: [\n", ":3: not YAML: "),
    ],
)
def test_inventory_reader_names_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "lab.yml"
    path.write_text(text)
    with pytest.raises(LabInventoryError) as raised:
        read_lab_inventory(path)
    assert str(raised.value).startswith(f"{path}")
    assert message in str(raised.value)
