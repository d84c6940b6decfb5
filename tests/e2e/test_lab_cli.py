"""The lab from the command line: a background lab (`provision lab up/status/drift/stats/down`), and
`provision apply` starting an in-process lab for the committed lab inventory (DESIGN 6)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import yaml

from provisioner import cli
from provisioner.lab.runtime import PASSWORD_ENV, running_daemon

from .conftest import HTTP_PORT, HTTPS_PORT, PASSWORD, REPO, SSH_PORT

SITE = REPO / "playbooks" / "site.yml"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.run([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def wait_gone(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` ended within ``seconds``. `lab up` ran in this process, so the daemon
    is our child: reap it, or it would stay a zombie that signal 0 still finds."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def test_lab_up_status_drift_check_stats_down(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fast_cli: None
) -> None:
    lab_dir = tmp_path / "lab"
    inventory = tmp_path / "lab.yml"
    monkeypatch.setenv("PROVISION_LAB_DIR", str(lab_dir))
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)  # the daemon inherits it; quotes and $ included
    pid = None
    try:
        code, out, err = run(
            capsys,
            "lab",
            "up",
            "--hosts",
            "3",
            "--profiles",
            "server2022",
            "--inventory",
            inventory,
            "--reboot-seconds",
            "0.3",
            "--ports",
            f"{HTTP_PORT},{HTTPS_PORT},{SSH_PORT}",
        )
        record = running_daemon(lab_dir)
        pid = record["pid"] if record else None
        assert code == 0, out + err
        assert pid is not None and f"pid {pid}" in out
        assert "3 hosts up" in out
        written = yaml.safe_load(inventory.read_text())
        assert written["all"]["vars"]["port"] == HTTPS_PORT
        assert written["all"]["vars"]["provision_lab"]["https_port"] == HTTPS_PORT
        hosts = written["all"]["children"]["windows"]["hosts"]
        assert list(hosts) == ["lab-0001", "lab-0002", "lab-0003"]
        assert PASSWORD not in inventory.read_text()

        code, out, err = run(capsys, "lab", "status")
        assert code == 0, err
        lines = out.splitlines()
        assert len(lines) == 3
        for line, (name, values) in zip(lines, hosts.items(), strict=True):
            assert line.split() == [name, values["address"], "server2022", "up"]

        code, out, err = run(capsys, "apply", SITE, "-i", inventory)
        assert code == 0, out + err
        assert "lab: no lab was running" not in err  # the background lab answered
        code, out, err = run(capsys, "check", SITE, "-i", inventory)
        assert code == 0, out + err

        code, out, err = run(capsys, "lab", "drift", "lab-0001", "--feature", "Containers=Disabled")
        assert code == 0, err
        assert "lab-0001" in out and "Containers" in out and "Disabled" in out

        report = tmp_path / "report.json"
        code, out, err = run(capsys, "check", SITE, "-i", inventory, "--report", report)
        assert code == 2, out + err
        assert "features.Containers: Disabled -> Enabled" in out
        data = json.loads(report.read_text())
        status = {h["name"]: h["status"] for h in data["hosts"]}
        assert status == {"lab-0001": "drift", "lab-0002": "ok", "lab-0003": "ok"}
        drifted = next(h for h in data["hosts"] if h["name"] == "lab-0001")
        assert [(d["path"], d["before"], d["after"]) for r in drifted["resources"] for d in r["diff"]] == [
            ("features.Containers", "Disabled", "Enabled")
        ]

        code, out, err = run(capsys, "lab", "stats", "--json")
        assert code == 0, err
        stats = json.loads(out)
        assert sorted(stats) == ["lab-0001", "lab-0002", "lab-0003"]
        # Each host rebooted once (the apply); each ran one FACTS script per check.
        assert {name: counters["reboots"] for name, counters in stats.items()} == dict.fromkeys(stats, 1)
        for counters in stats.values():
            assert counters["scripts"] >= 2 + 4  # two checks, and the apply's facts/apply/reboot/.../verify
            assert counters["wsman.messages"] > 0 and counters.get("ssh.commands", 0) == 0

        code, out, err = run(capsys, "lab", "down")
        assert code == 0, err
        assert wait_gone(pid, 15), "the lab daemon did not exit"
        assert running_daemon(lab_dir) is None
        saved = json.loads((lab_dir / "hosts.json").read_text())
        assert saved["lab-0001"]["state"]["features"]["Containers"] == "Disabled"
        assert saved["lab-0002"]["state"]["features"]["Containers"] == "Enabled"

        code, out, err = run(capsys, "lab", "status")
        assert code == 1 and "no lab is running" in err
    finally:
        if pid is not None and not wait_gone(pid, 0):
            try:
                run(capsys, "lab", "down")
            finally:
                if not wait_gone(pid, 10):
                    os.kill(pid, signal.SIGTERM)
                    wait_gone(pid, 5)


def test_lab_up_refuses_bad_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROVISION_LAB_DIR", str(tmp_path / "lab"))
    with pytest.raises(SystemExit) as exit_info:
        cli.run(["lab", "up", "--ports", "25985,25985,22222", "--inventory", str(tmp_path / "lab.yml")])
    assert exit_info.value.code == 1  # a usage error exits 1: 2 means drift (issue 13)
    assert "three distinct ports" in capsys.readouterr().err
    assert not (tmp_path / "lab.yml").exists()
    assert running_daemon(tmp_path / "lab") is None


def test_apply_on_the_committed_lab_inventory_starts_a_lab_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fast_cli: None
) -> None:
    # inventories/lab.yml trusts ~/.cache/provision/lab/tls/ca.pem and ~/.cache/provision/lab/known_hosts: with
    # HOME in tmp and the lab directory at that place, the committed files run unchanged and touch no real home.
    home = tmp_path / "home"
    lab_dir = home / ".cache" / "provision" / "lab"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PROVISION_LAB_DIR", str(lab_dir))
    monkeypatch.setenv(PASSWORD_ENV, "unset below")
    monkeypatch.delenv(PASSWORD_ENV)  # the lab makes one and sets it for the run (restored after the test)
    # The committed playbook and inventory, unchanged: six hosts, 3 s simulated reboots, canary batches.
    playbook = SITE
    names = list(yaml.safe_load((REPO / "inventories" / "lab.yml").read_text())["all"]["children"]["windows"]["hosts"])
    assert len(names) == 6

    report = tmp_path / "first.json"
    code, out, err = run(capsys, "apply", playbook, "--report", report)

    assert code == 0, out + err
    assert "lab: no lab was running; started 6 simulated hosts in this process" in err
    first = json.loads(report.read_text())
    assert first["summary"] == {"changed": 6}, first["summary"]
    assert [h["name"] for h in first["hosts"]] == names
    assert all(h["verify"] and h["verify"]["ok"] for h in first["hosts"])
    assert (lab_dir / "tls" / "ca.pem").exists() and (lab_dir / "hosts.json").exists()
    assert running_daemon(lab_dir) is None  # nothing left running

    report = tmp_path / "second.json"
    code, out, err = run(capsys, "apply", playbook, "--report", report)

    assert code == 0, out + err
    assert "lab: no lab was running" in err
    second = json.loads(report.read_text())
    assert second["summary"] == {"ok": 6}, second["summary"]
    assert all(h["transport"]["scripts"] == 1 and h["reboots"] == 0 for h in second["hosts"])
