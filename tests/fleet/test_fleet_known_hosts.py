"""SSH trust on first use that keeps its word (issue 12 item 2; review F3): ``accept_new`` records
new keys in known_hosts, one writer at a time, and refuses a key that changed."""

from __future__ import annotations

import threading
from pathlib import Path

import paramiko
import pytest

from provisioner.transport.ssh import remember_host_key

from .conftest import SSH_PORT, MakeFleet


def entries(known: Path) -> dict[str, str]:
    """Host name -> "type base64" of each line."""
    lines = [line.split() for line in known.read_text().splitlines() if line.strip()]
    return {name: f"{kind} {key}" for name, kind, key in lines}


def test_accept_new_records_every_new_key_once_under_concurrency_and_refuses_a_changed_one(
    make_fleet: MakeFleet, tmp_path: Path
) -> None:
    # F3: with forks > 1 each connection rewrote known_hosts from its own load, keeping 1 key of 6.
    fleet = make_fleet(6, "server2022-converged", ssh=True)
    known = tmp_path / "kh" / "known_hosts"
    ssh = {"connection": "ssh", "port": SSH_PORT, "host_key_policy": "accept_new", "known_hosts": str(known)}
    playbook = fleet.playbook(fleet.inventory(host_vars=dict.fromkeys(fleet.names, ssh)), rollout={"forks": 6})

    first = fleet.cli("check", playbook)
    assert first.code == 0, first.out + first.err
    names = {f"[{fleet.host(n).address}]:{SSH_PORT}" for n in fleet.names}
    assert set(entries(known)) == names
    assert (known.stat().st_mode & 0o777) == 0o600
    # The lab's own record of its keys agrees with what was accepted.
    lab = paramiko.HostKeys(str(fleet.server.known_hosts_path))
    for name, value in entries(known).items():
        kind, key = value.split()
        keys = lab.lookup(name)
        assert keys is not None and keys[kind].get_base64() == key

    # The next run checks the recorded keys and adds nothing.
    recorded = known.read_text()
    again = fleet.cli("check", playbook)
    assert again.code == 0, again.out + again.err
    assert known.read_text() == recorded

    # A host whose key changed is refused, and the record is left as it was.
    victim = f"[{fleet.host('lab-0003').address}]:{SSH_PORT}"
    forged = paramiko.RSAKey.generate(1024).get_base64()
    lines = [f"{victim} ssh-rsa {forged}" if line.startswith(victim + " ") else line for line in recorded.splitlines()]
    known.write_text("\n".join(lines) + "\n")
    tampered = known.read_text()
    third = fleet.cli("check", playbook)
    assert third.code == 3
    assert third.statuses()["lab-0003"] == "failed"
    message = next(h["message"] for h in third.report["hosts"] if h["name"] == "lab-0003")
    assert "does not match known_hosts" in message
    assert {s for n, s in third.statuses().items() if n != "lab-0003"} == {"ok"}
    assert known.read_text() == tampered


def test_accept_new_without_known_hosts_keeps_keys_in_the_users_file(
    make_fleet: MakeFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # F3: without known_hosts: nothing was ever saved, so every run accepted any key.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    fleet = make_fleet(2, "server2022-converged", ssh=True)
    ssh = {"connection": "ssh", "port": SSH_PORT, "host_key_policy": "accept_new"}
    playbook = fleet.playbook(fleet.inventory(known_hosts=None, host_vars=dict.fromkeys(fleet.names, ssh)))

    run = fleet.cli("check", playbook)

    assert run.code == 0, run.out + run.err
    known = home / ".ssh" / "known_hosts"
    assert set(entries(known)) == {f"[{fleet.host(n).address}]:{SSH_PORT}" for n in fleet.names}
    assert (known.parent.stat().st_mode & 0o777) == 0o700


def test_one_writer_keeps_every_key_and_every_existing_line(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(
        "# kept: a comment\nold.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    keys = [paramiko.RSAKey.generate(1024) for _ in range(4)]
    threads = [
        threading.Thread(target=remember_host_key, args=(known, f"[10.0.0.{i % 20}]:22{i}", keys[i % 4]))
        for i in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = known.read_text().splitlines()
    assert lines[0] == "# kept: a comment" and lines[1].startswith("old.example ")
    assert len(lines) == 42 and len(set(lines)) == 42
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    # The same key again is a no-op; another key for a recorded name is refused.
    remember_host_key(known, "[10.0.0.1]:221", keys[1])
    assert len(known.read_text().splitlines()) == 42
    with pytest.raises(paramiko.BadHostKeyException):
        remember_host_key(known, "[10.0.0.1]:221", keys[2])
