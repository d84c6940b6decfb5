"""ansible-vault values and files, encrypted at test time by ansible-vault itself (the oracle)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provisioner.cli import run
from provisioner.errors import InputError
from provisioner.inventory import Vault, VaultError, load_inventory

pytest.importorskip("ansible", reason="ansible-vault encrypts the test values (pip install -e '.[test]')")

VAULT = str(Path(sys.executable).parent / "ansible-vault")
SECRET = "Hunter2-vault-pw"
PASSWORD = "S3cr3t-Vaulted-9"


def _env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return env | {"HOME": str(tmp_path), "ANSIBLE_CONFIG": str(config), "ANSIBLE_LOCAL_TEMP": str(tmp_path / "t")}


def encrypt_string(tmp_path: Path, value: str, *, vault_id: str | None = None) -> str:
    """The ``!vault |`` block ansible-vault prints for ``value``."""
    secret = tmp_path / "vault-pass"
    secret.write_text(SECRET + "\n")
    identity = ["--vault-id", f"{vault_id}@{secret}"] if vault_id else ["--vault-password-file", str(secret)]
    done = subprocess.run(
        [VAULT, "encrypt_string", *identity, value, "--name", "x"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        check=True,
        timeout=60,
    )
    return done.stdout.split("x: ", 1)[1]


@pytest.fixture
def vaulted(tmp_path: Path) -> Path:
    block = encrypt_string(tmp_path, PASSWORD).replace("\n", "\n      ")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "windows:\n  hosts:\n    w1:\n      ansible_host: 127.0.0.1\n      ansible_connection: winrm\n"
        f"      ansible_winrm_transport: ntlm\n      ansible_password: {block}\n"
    )
    return inventory


def test_inline_vault_value_is_decrypted_with_the_password_file(tmp_path: Path, vaulted: Path) -> None:
    inventory = load_inventory(vaulted, vault=Vault.from_options(tmp_path / "vault-pass"))
    settings = inventory.connection(inventory.hosts["w1"])
    assert settings.password is not None and settings.password.get_secret_value() == PASSWORD
    assert PASSWORD not in repr(settings)


def test_vault_1_2_with_a_vault_id(tmp_path: Path) -> None:
    block = encrypt_string(tmp_path, PASSWORD, vault_id="prod")
    assert block.startswith("!vault |\n") and "$ANSIBLE_VAULT;1.2;AES256;prod" in block
    envelope = "\n".join(line.strip() for line in block.splitlines()[1:])
    assert Vault(lambda: SECRET).decrypt(envelope) == PASSWORD
    with pytest.raises(VaultError, match="password is wrong"):
        Vault(lambda: "not-it").decrypt(envelope)


def test_ansible_vault_password_file_variable(tmp_path: Path, vaulted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD_FILE", str(tmp_path / "vault-pass"))
    inventory = load_inventory(vaulted)
    password = inventory.connection(inventory.hosts["w1"]).password
    assert password is not None and password.get_secret_value() == PASSWORD


def test_no_vault_password_names_file_and_key(vaulted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    inventory = load_inventory(vaulted)  # loading needs no password: values are decrypted when used
    with pytest.raises(InputError) as info:
        inventory.connection(inventory.hosts["w1"])
    message = str(info.value)
    assert f"{vaulted}:7:7:" in message and "ansible_password" in message
    assert "--vault-password-file" in message and "--ask-vault-pass" in message


def test_inventory_list_and_host_never_show_the_secret(
    tmp_path: Path, vaulted: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANSIBLE_VAULT_PASSWORD_FILE", raising=False)
    assert run(["inventory", "-i", str(vaulted), "--list"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["hosts"]["w1"]["password_set"] is True
    assert (
        run(["inventory", "-i", str(vaulted), "--host", "w1", "--vault-password-file", str(tmp_path / "vault-pass")])
        == 0
    )
    shown = capsys.readouterr().out
    assert (
        json.loads(shown)["ansible_password"] == "<hidden>" and PASSWORD not in shown and "ANSIBLE_VAULT" not in shown
    )


def test_whole_vault_encrypted_group_vars_file(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text("[windows]\nw1 ansible_host=127.0.0.1\n")
    group_vars = tmp_path / "group_vars"
    group_vars.mkdir()
    secret_file = group_vars / "windows.yml"
    secret_file.write_text(f"ansible_connection: winrm\nansible_winrm_transport: ntlm\nansible_password: {PASSWORD}\n")
    (tmp_path / "vault-pass").write_text(SECRET)
    subprocess.run(
        [VAULT, "encrypt", "--vault-password-file", str(tmp_path / "vault-pass"), str(secret_file)],
        capture_output=True,
        env=_env(tmp_path),
        check=True,
        timeout=60,
    )
    assert secret_file.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    inventory = load_inventory(tmp_path / "hosts.ini", vault=Vault.from_options(tmp_path / "vault-pass"))
    host = inventory.hosts["w1"]
    settings = inventory.connection(host)
    assert settings.connection == "winrm" and settings.password is not None
    assert settings.password.get_secret_value() == PASSWORD
    assert {"ansible_connection", "ansible_password"} <= host.secret  # values of an encrypted file are secrets
    with pytest.raises(InputError, match=r"group_vars/windows.yml: vault-encrypted file: no vault password"):
        load_inventory(tmp_path / "hosts.ini", vault=Vault())


def test_executable_password_script_is_refused(tmp_path: Path, vaulted: Path) -> None:
    script = tmp_path / "vault-pass"
    script.chmod(0o700)
    inventory = load_inventory(vaulted, vault=Vault.from_options(script))
    with pytest.raises(InputError, match="executable vault password scripts are not supported"):
        inventory.connection(inventory.hosts["w1"])


def test_unsafe_values_are_never_templated(tmp_path: Path) -> None:
    inventory_file = tmp_path / "hosts.yml"
    inventory_file.write_text(
        "all:\n  hosts:\n    w1: {address: 127.0.0.1, user: !unsafe '{{ not_a_var }}', password_env: PROVISION_X}\n"
    )
    book = tmp_path / "site.yml"
    book.write_text(
        "- name: p\n  hosts: all\n  inventory: hosts.yml\n  spec: {engine: {version: '27.3.1', sha256: "
        f"'{'ab' * 32}'}}}}\n"
    )
    from provisioner.playbook import load_playbook

    target = load_playbook(book).targets[0]
    assert target.connection.user == "{{ not_a_var }}"


def test_a_decrypted_value_is_never_echoed_in_an_error(tmp_path: Path) -> None:
    block = encrypt_string(tmp_path, "not-a-port-Zx81").replace("\n", "\n      ")
    inventory_file = tmp_path / "hosts.yml"
    inventory_file.write_text(
        "windows:\n  hosts:\n    w1:\n      ansible_host: 127.0.0.1\n      ansible_connection: winrm\n"
        f"      ansible_winrm_transport: ntlm\n      ansible_port: {block}\n"
    )
    inventory = load_inventory(inventory_file, vault=Vault.from_options(tmp_path / "vault-pass"))
    with pytest.raises(InputError) as info:
        inventory.connection(inventory.hosts["w1"])
    assert "expected a whole number" in str(info.value) and "not-a-port-Zx81" not in str(info.value)
