"""The background lab keeps host state when it is killed (security-review.md F16).

A SIGKILL gives the daemon no chance to save on the way out, so drift is saved as it is applied
and every host's state every ``save_seconds`` while the lab runs.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from provision_lab import Lab
from provision_lab.control import request, start_daemon, write_inventory
from provision_lab.runtime import PASSWORD_ENV, running_daemon

PORTS = (61985, 61986, 62222)
"""Ports no other lab of the test runs uses (a developer's lab keeps 5985, 5986, 2222)."""


def wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            return True
        time.sleep(0.05)
    return False


def test_a_killed_lab_keeps_drift_and_what_it_saved_since(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab_dir = tmp_path / "lab"
    monkeypatch.setenv(PASSWORD_ENV, "daemon-test-pw")
    inventory = tmp_path / "lab.yml"
    write_inventory(inventory, count=1, profiles="server2022", seed=1, reboot_seconds=0.2, lab_dir=lab_dir, ports=PORTS)
    inventory.write_text(inventory.read_text().replace("provision_lab: {", "provision_lab: {save_seconds: 0.3, "))
    pid = start_daemon(inventory, lab_dir)
    try:
        answer = request(lab_dir, {"command": "drift", "host": "lab-0001", "feature": "Containers=Enabled"})
        assert "lab-0001" in answer["message"]
        saved = json.loads((lab_dir / "hosts.json").read_text())  # written before the answer
        assert list(saved) == ["lab-0001"]
        (lab_dir / "hosts.json").unlink()
        deadline = time.monotonic() + 10
        while not (lab_dir / "hosts.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (lab_dir / "hosts.json").exists(), "the running lab did not save on its own"
    finally:
        os.kill(pid, signal.SIGKILL)
        assert wait_gone(pid, 10)
    assert running_daemon(lab_dir) is None
    # A new lab on the same inventory and directory starts from what the killed one saved.
    again = Lab.of_inventory(inventory, lab_dir)
    assert again.models["lab-0001"].snapshot()["features"]["Containers"] == "Enabled"
