"""Differential test: provision against ansible-core 2.19 on a corpus of inventories and patterns.

The corpus (tests/inventory/corpus) holds Ansible's documented examples (the yaml and ini plugins'
EXAMPLES) and the hard cases of research/ansible-compat.md: precedence by depth, name and
``ansible_group_priority``, ranges, ``host:port``, IPv6, group_vars/host_vars files and directories
beside the inventory and the playbook, inventory directories, Ansible's connection defaults and
alias names, magic variables, ``lookup('env')`` and ``!unsafe``, and the review's host patterns.

Ansible's side is ansible-core itself, with its configuration isolated (ANSIBLE_CONFIG, HOME and
the temp dirs in tmp_path, no network: nothing connects): ``ansible-inventory --list`` for the host
set, groups and every host's merged variables, ``ansible PATTERN --list-hosts`` for a sample of patterns, and (ansible_oracle.py)
ansible-core's InventoryManager for every pattern and its winrm/ssh connection plugins for every
host's connection settings. Every disagreement is in DIFFERENCES with its reason, and the README's
Ansible section lists the same ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from provisioner.inventory import Inventory, load_inventory, select_hosts
from provisioner.inventory.show import host_listing
from provisioner.playbook import Templater, host_variables, password_envs, secret_names
from provisioner.yamlsrc import Unsafe

pytest.importorskip("ansible", reason="ansible-core is the oracle (pip install -e '.[test]')")

CORPUS = Path(__file__).parent / "corpus"
BIN = Path(sys.executable).parent

CASES: list[dict[str, Any]] = [
    {"name": "docs-yaml", "inventory": "docs-yaml/hosts.yml", "patterns": ["all", "other_group", "last_group:test4"]},
    {"name": "docs-ini", "inventory": "docs-ini/hosts", "patterns": ["web", "ungrouped", "windows", "nginx:apache"]},
    {"name": "precedence", "inventory": "precedence/inventory.yml", "patterns": ["top", "mid", "prio_*"]},
    {
        "name": "ranges",
        "inventory": "ranges/inventory.yml",
        "patterns": [
            "web",
            "web*",
            "web[0]",
            "web[-1]",
            "web[1:3]",
            "web[18:]",
            "ported",
            "fe80::1",
            "db-b.corp.example",
        ],
    },
    {
        "name": "groupvars",
        "inventory": "groupvars/inventory/hosts.ini",
        "playbook_dir": "groupvars/play",
        "patterns": ["windows", "legacy:modern"],
    },
    {"name": "defaults", "inventory": "defaults/inventory.yml", "patterns": ["windows:&w-*", "linux_or_ssh"]},
    {
        "name": "patterns",
        "inventory": "patterns/inventory.ini",
        "patterns": [
            "db:web",
            "all",
            "!staging",
            "windows:!rack1",
            "web01.corp.example:dc01.corp.example",
            "web[0]",
            "web[-1]",
            "web[1:]",
            "web[0:1]:db",
            "~web0[24]",
            "~^db",
            "ungrouped",
            "all:!ungrouped",
            "build",
            "&build:all",
            "localhost",
            "web*:&staging",
            "db,web[2]",
        ],
    },
    {"name": "templated", "inventory": "templated/inventory.yml", "patterns": ["windows"]},
    {"name": "directory", "inventory": "directory/inventory", "patterns": ["windows", "extra"]},
    {"name": "anchors", "inventory": "anchors/inventory.yml", "patterns": ["windows", "m*"]},
    {
        "name": "play-vars",
        "inventory": "precedence/inventory.yml",
        "play_vars": {"ansible_user": "from-play", "ansible_port": 15987},
        "patterns": [],
    },
]

DIFFERENCES: dict[tuple[str, str], str] = {
    # (case, host): why provision deliberately differs from Ansible for this host's connection.
    ("defaults", "w-plain"): (
        "port 5985 means http in both; Ansible's default transport there is plaintext (Basic over http), "
        "which provision refuses unless allow_unencrypted: true is written down"
    ),
    **{
        ("docs-yaml", name): (
            "a host with neither Ansible's nor provision's connection variables gets provision's default "
            "connection, winrm; Ansible's is ssh"
        )
        for name in ("test1", "test2", "test5", "test6")
    },
    **{
        ("docs-ini", name): "no connection variables: provision's default winrm, Ansible's ssh"
        for name in ("host1", "tomcat1", "tomcat2", "tomcat3", "jenkins1")
    },
}
"""Per host; see the README's "Ansible inventories" section."""

PATTERN_DIFFERENCES: dict[tuple[str, str], str] = {
    # (case, pattern): why provision's answer differs from Ansible's.
}
WINRM_FIELDS = ("connection", "address", "port", "user", "scheme", "transport", "cert_validation", "password_set")
SSH_FIELDS = ("connection", "address", "port", "user", "key_file", "password_set")


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("ansible-home")
    config = home / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env |= {
        "HOME": str(home),
        "ANSIBLE_CONFIG": str(config),
        "ANSIBLE_HOME": str(home / ".ansible"),
        "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
        "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1",
        "PROVISION_ORACLE_USER": "env-user",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    return env


def _case_paths(case: dict[str, Any]) -> dict[str, Any]:
    resolved = dict(case)
    resolved["inventory"] = str(CORPUS / case["inventory"])
    if case.get("playbook_dir"):
        resolved["playbook_dir"] = str(CORPUS / case["playbook_dir"])
    return resolved


@pytest.fixture(scope="module")
def oracle(ansible_env: dict[str, str]) -> dict[str, Any]:
    cases = [_case_paths(case) for case in CASES]
    done = subprocess.run(
        [sys.executable, str(Path(__file__).parent / "ansible_oracle.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=ansible_env,
        timeout=300,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _provision(case: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[Inventory, dict[str, Any]]:
    monkeypatch.setenv("PROVISION_ORACLE_USER", "env-user")
    paths = _case_paths(case)
    inventory = load_inventory(
        Path(paths["inventory"]), playbook_dir=Path(paths["playbook_dir"]) if case.get("playbook_dir") else None
    )
    templater = Templater(inventory.doc, denied_env=password_envs(inventory), secrets=secret_names(inventory))
    hosts: dict[str, Any] = {}
    for name in inventory.members["all"]:
        host = inventory.hosts[name]
        play_vars = case.get("play_vars")
        variables = host_variables(inventory, host, play_vars)

        def render(value: Any, _: Any, where: Any, variables: dict[str, Any] = variables) -> Any:
            return templater.at(value, variables, where)

        settings, resolved = inventory.resolve(host, render, play_vars=play_vars, strict=False)
        if settings is None:
            hosts[name] = {"connection": resolved.raw.get("connection"), "refused": True}
        elif play_vars:
            hosts[name] = {
                "connection": settings.connection,
                "address": settings.address,
                "port": settings.effective_port,
                "user": settings.user,
            }
        else:
            hosts[name] = host_listing(inventory, host, render)
    assert not templater.errors, templater.errors
    return inventory, hosts


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_connection_settings_agree(
    case: dict[str, Any], oracle: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    theirs = oracle[case["name"]]["hosts"]
    _, ours = _provision(case, monkeypatch)
    assert list(ours) == list(theirs), "host set and order"
    compared = 0
    for name, expected in theirs.items():
        got = ours[name]
        if (case["name"], name) in DIFFERENCES:
            assert got.get("refused") or any(got.get(k) != expected.get(k) for k in expected), (
                f"{name}: documented as different but now agrees: drop it from DIFFERENCES"
            )
            continue
        assert not got.get("refused"), f"{name}: provision refuses what Ansible accepts: {expected}"
        fields: tuple[str, ...] = ("connection", "address", "port", "user") if case.get("play_vars") else ()
        fields = fields or (WINRM_FIELDS if expected["connection"] == "winrm" else SSH_FIELDS)
        assert {k: got.get(k) for k in fields} == {k: expected.get(k) for k in fields}, name
        compared += 1
    assert compared + len([k for k in DIFFERENCES if k[0] == case["name"]]) == len(theirs)


@pytest.mark.parametrize("case", [c for c in CASES if c["patterns"]], ids=[c["name"] for c in CASES if c["patterns"]])
def test_patterns_agree(case: dict[str, Any], oracle: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    inventory, _ = _provision(case, monkeypatch)
    for pattern, expected in oracle[case["name"]]["patterns"].items():
        if (case["name"], pattern) in PATTERN_DIFFERENCES:
            continue
        assert select_hosts(inventory, pattern) == expected, pattern


def _members(listing: dict[str, Any], group: str) -> set[str]:
    body = listing.get(group, {})
    found = set(body.get("hosts", []))
    for child in body.get("children", []):
        found |= _members(listing, child)
    return found


@pytest.mark.parametrize("case", CASES[:-1], ids=[c["name"] for c in CASES[:-1]])
def test_ansible_inventory_list_agrees(
    case: dict[str, Any], ansible_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _case_paths(case)
    command = [str(BIN / "ansible-inventory"), "-i", paths["inventory"], "--list"]
    if case.get("playbook_dir"):
        command += ["--playbook-dir", paths["playbook_dir"]]
    done = subprocess.run(command, capture_output=True, text=True, env=ansible_env, timeout=120, check=True)
    listing = json.loads(done.stdout)
    inventory, _ = _provision(case, monkeypatch)
    assert set(listing["_meta"]["hostvars"]) | _members(listing, "all") == {
        name for name, host in inventory.hosts.items() if not host.implicit
    }
    for name, expected in listing["_meta"]["hostvars"].items():
        ours = {k: v for k, v in inventory.hosts[name].vars.items() if not isinstance(v, Unsafe)}
        theirs = {k: v for k, v in expected.items() if not (isinstance(v, dict) and "__ansible_unsafe" in v)}
        assert json.loads(json.dumps(ours)) == theirs, f"{name}: merged variables"
    groups = {g for g in listing if g != "_meta"}
    assert groups == {g for g in inventory.groups if inventory.members[g] or g == "all"}
    for group in groups:
        assert set(inventory.members[group]) == _members(listing, group), group


@pytest.mark.parametrize(
    ("case", "pattern"),
    [("patterns", "db:web"), ("patterns", "web[1:]"), ("ranges", "web[18:]"), ("patterns", "build")],
)
def test_ansible_list_hosts_cli_agrees(
    case: str, pattern: str, ansible_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The oracle's InventoryManager answers as the ``ansible`` command does (a sample of patterns)."""
    spec = next(c for c in CASES if c["name"] == case)
    paths = _case_paths(spec)
    ansible = shutil.which("ansible", path=ansible_env["PATH"])
    assert ansible is not None
    done = subprocess.run(
        [ansible, "-i", paths["inventory"], pattern, "--list-hosts"],
        capture_output=True,
        text=True,
        env=ansible_env,
        timeout=120,
        check=True,
    )
    listed = [line.strip() for line in done.stdout.splitlines()[1:] if line.strip()]
    inventory, _ = _provision(spec, monkeypatch)
    assert select_hosts(inventory, pattern) == listed
