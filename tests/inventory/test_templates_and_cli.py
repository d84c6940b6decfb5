"""Templates in inventories (magic variables, env allow list, secrets), play vars, and the inventory command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioner.cli import run
from provisioner.errors import InputError
from provisioner.playbook import load_playbook

SHA = "ab" * 32
SPEC = f"  spec: {{engine: {{version: '27.3.1', sha256: '{SHA}'}}, daemon: {{labels: ['{{{{ label }}}}']}}}}\n"


def setup(tmp_path: Path, inventory: str, play_extra: str = "", spec: str = SPEC) -> Path:
    (tmp_path / "inv.yml").write_text(inventory)
    book = tmp_path / "site.yml"
    book.write_text(f"- name: p\n  hosts: all\n  inventory: inv.yml\n{play_extra}{spec}")
    return book


BASE = (
    "all:\n  vars: {label: x, password_env: PROVISION_SECRET_PW}\n  hosts:\n    w1.corp.example: {address: 127.0.0.1}\n"
)


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("{{ env('AWS_SECRET_ACCESS_KEY') }}", "only PROVISION_* variables can be read"),
        ("{{ lookup('env', 'HOME') }}", "only PROVISION_* variables can be read"),
        ("{{ env('PROVISION_SECRET_PW') }}", "it is a password_env variable"),
        ("{{ lookup('file', '/etc/passwd') }}", "only lookup('env', NAME) is"),
        ("{{ ansible_password }}", "ansible_password holds a secret"),
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
    ],
)
def test_templates_cannot_reach_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, label: str, message: str
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "AKIAFAKE")
    monkeypatch.setenv("PROVISION_SECRET_PW", "pw-in-env")
    inventory = BASE.replace("label: x", f'label: "{label}", ansible_password: Hunter2')
    with pytest.raises(InputError) as info:
        load_playbook(setup(tmp_path, inventory))
    text = str(info.value)
    assert message in text and "AKIAFAKE" not in text and "pw-in-env" not in text and "Hunter2" not in text


def test_provision_prefixed_env_and_magic_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROVISION_SITE", "hq")
    inventory = (
        "all:\n  vars:\n    label: \"{{ lookup('env', 'PROVISION_SITE') }}-{{ inventory_hostname_short }}-"
        "{{ group_names | join('+') }}-{{ groups['windows'] | length }}\"\n"
        "    user: \"{{ hostvars['w2']['owner'] }}\"\n"
        '  children:\n    windows:\n      hosts:\n        w1.corp.example: {address: "{{ inventory_hostname }}"}\n'
        "        w2: {owner: alice, address: 127.0.0.2}\n"
    )
    book = load_playbook(setup(tmp_path, inventory))
    target = next(t for t in book.targets if t.name == "w1.corp.example")
    assert target.spec.daemon == {"labels": ["hq-w1-windows-2"]}
    assert (target.connection.address, target.connection.user) == ("w1.corp.example", "alice")


def test_play_vars_reach_connection_variables(tmp_path: Path) -> None:
    inventory = "all:\n  hosts:\n    w1: {ansible_host: 127.0.0.1, ansible_user: inv-user, ansible_connection: winrm, ansible_winrm_transport: ntlm}\n"
    book = load_playbook(
        setup(tmp_path, inventory, "  vars: {label: x, ansible_user: from-play, ansible_port: 15986}\n")
    )
    connection = book.targets[0].connection
    assert (connection.user, connection.effective_port) == ("from-play", 15986)


def test_validate_shows_scheme_user_certificate_and_ansible_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = (
        "all:\n  vars: {label: x}\n  hosts:\n"
        "    w1: {ansible_host: 127.0.0.1, ansible_connection: winrm, ansible_port: 5985, ansible_winrm_transport: ntlm,"
        " ansible_user: svc}\n"
        "    w2: {ansible_host: 127.0.0.2, ansible_connection: winrm, ansible_user: svc}\n"
    )
    assert run(["validate", str(setup(tmp_path, inventory))]) == 0
    captured = capsys.readouterr()
    assert "w1  play='p'  winrm+ntlm://127.0.0.1:5985 scheme=http user=svc cert=none (http)" in captured.out
    assert "winrm+basic://127.0.0.2:5986 scheme=https user=svc cert=validate" in captured.out
    assert (
        "scheme http: Ansible's default for port 5985 (provision's own default is https) (1 host: w1)" in captured.err
    )
    assert "transport basic: Ansible's default (provision's own default is ntlm) (1 host: w2)" in captured.err


def test_group_vars_beside_the_playbook(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("label: from-group-vars\n")
    book = load_playbook(setup(tmp_path, "all:\n  hosts:\n    w1: {address: 127.0.0.1}\n"))
    assert book.targets[0].spec.daemon == {"labels": ["from-group-vars"]}


INVENTORY_INI = """\
[windows]
web[1:3] ansible_host=127.0.0.1 ansible_connection=winrm ansible_winrm_transport=ntlm ansible_password=pw
local1 ansible_connection=local

[windows:vars]
ansible_user=svc
"""


def test_inventory_list_shows_what_provision_connects_to(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hosts").write_text(INVENTORY_INI)
    assert run(["inventory", "-i", str(tmp_path / "hosts"), "--list"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert list(listing["hosts"]) == ["web1", "web2", "web3", "local1"]
    web = listing["hosts"]["web2"]
    assert web == {
        "connection": "winrm",
        "address": "127.0.0.1",
        "port": 5986,
        "user": "svc",
        "scheme": "https",
        "transport": "ntlm",
        "cert_validation": "validate",
        "ca_bundle": None,
        "key_file": None,
        "password_set": True,
        "groups": ["windows"],
    }
    assert listing["hosts"]["local1"]["connection"] == "local"  # Ansible's value: provision cannot use it
    assert listing["groups"]["windows"] == ["web1", "web2", "web3", "local1"]
    assert "pw" not in json.dumps(listing["hosts"]["web1"]).replace("password_set", "")


def test_inventory_list_hosts_and_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "hosts").write_text(INVENTORY_INI)
    assert run(["inventory", "-i", str(tmp_path / "hosts"), "--list-hosts", "windows[-1]:web1"]) == 0
    assert capsys.readouterr().out.split() == ["local1", "web1"]
    assert run(["inventory", "-i", str(tmp_path / "hosts"), "--limit", "web2", "--list-hosts", "all"]) == 0
    assert capsys.readouterr().out.split() == ["web2"]
    assert run(["inventory", "-i", str(tmp_path / "hosts"), "--host", "web3"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ansible_password"] == "<hidden>" and shown["ansible_user"] == "svc"


def test_usage_errors_exit_1_and_every_subcommand_has_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        run(["apply", "site.yml", "--check"])
    assert stopped.value.code == 1
    for command in (
        ["facts"],
        ["schema"],
        ["inventory"],
        ["history"],
        ["report"],
        ["doctor"],
        ["completion"],
        ["worker"],
    ):
        with pytest.raises(SystemExit):
            run([*command, "--help"])
        out = capsys.readouterr().out
        description = out.split("\n\n")[1]
        assert not description.startswith(("positional", "options")), command


def test_variables_that_are_templates_resolve_and_loops_are_errors(tmp_path: Path) -> None:
    inventory = "all:\n  vars: {base: '27', label: '{{ base }}.3'}\n  hosts:\n    w1: {address: 127.0.0.1}\n"
    assert load_playbook(setup(tmp_path, inventory)).targets[0].spec.daemon == {"labels": ["27.3"]}
    looped = "all:\n  vars: {a: '{{ label }}', label: '{{ a }}'}\n  hosts:\n    w1: {address: 127.0.0.1}\n"
    with pytest.raises(InputError, match="refer to each other"):
        load_playbook(setup(tmp_path, looped))


def test_hosts_as_a_list_of_patterns(tmp_path: Path) -> None:
    inventory = "all:\n  vars: {label: x}\n  hosts:\n    w1: {address: 127.0.0.1}\n    w2: {address: 127.0.0.2}\n"
    book = setup(tmp_path, inventory)
    book.write_text(book.read_text().replace("hosts: all", "hosts: [w2, w1]"))
    assert [t.name for t in load_playbook(book).targets] == ["w2", "w1"]


CORPUS = Path(__file__).parent / "corpus"


@pytest.mark.parametrize("inventory", ["docs-ini/hosts", "docs-yaml/hosts.yml", "groupvars/inventory/hosts.ini"])
def test_ansible_documented_inventories_validate(
    tmp_path: Path, inventory: str, capsys: pytest.CaptureFixture[str]
) -> None:
    book = tmp_path / "site.yml"
    book.write_text(f"- name: p\n  hosts: all\n  spec: {{engine: {{version: '27.3.1', sha256: '{SHA}'}}}}\n")
    assert run(["validate", str(book), "-i", str(CORPUS / inventory)]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1].startswith("ok: ")
    if inventory.startswith("groupvars"):  # group_vars/legacy.yml: port 5985 over http; host_vars/win01.yml: the user
        assert "win02  play='p'  winrm+ntlm://127.0.3.2:5985 scheme=http user=windows-user" in out
        assert "win01  play='p'  winrm+ntlm://127.0.3.1:5986 scheme=https user=CORP\\win01-admin cert=ignore" in out


@pytest.mark.parametrize(
    "label", ["{{ 'a' * 10**9 }}", "{{ [1] * 10**8 }}", "{{ 2 ** 100000 }}", "{{ range(10**9) | list }}"]
)
def test_runaway_templates_are_errors(tmp_path: Path, label: str) -> None:
    inventory = f'all:\n  vars: {{label: "{label}"}}\n  hosts:\n    w1: {{address: 127.0.0.1}}\n'
    with pytest.raises(
        InputError, match=r"site.yml:4:\d+: \[0\].spec.daemon.labels\[0\]: template error: .*(too large|MAX_RANGE)"
    ):
        load_playbook(setup(tmp_path, inventory))
