"""An Ansible inventory works unchanged, and validate names the Ansible variables it ignores."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.cli import run
from provisioner.playbook import load_playbook


def test_ansible_example_inventory_is_read_unchanged(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = repo / "inventories" / "ansible-example.yml"
    book = load_playbook(repo / "playbooks" / "site.yml", inventory=inventory)
    by_name = {t.name: t.connection for t in book.targets}
    node = by_name["winnode-01"]
    assert (node.connection, node.address, node.effective_port, node.scheme, node.transport, node.user) == (
        "winrm",
        "10.20.0.11",
        5986,
        "https",
        "ntlm",
        "CORP\\svc-ansible",
    )
    assert node.password is not None and node.password.get_secret_value() == "example-only"
    agent = by_name["build-agent-07"]
    assert (agent.connection, agent.effective_port, agent.key_file) == (
        "ssh",
        22,
        str(Path("~/.ssh/provision_ed25519").expanduser()),
    )

    assert run(["validate", str(repo / "playbooks" / "site.yml"), "-i", str(inventory)]) == 0
    captured = capsys.readouterr()
    assert "ansible_shell_type is an Ansible variable provision ignores" in captured.err
    assert "example-only" not in captured.out + captured.err
    assert "winrm+ntlm://10.20.0.11:5986" in captured.out
