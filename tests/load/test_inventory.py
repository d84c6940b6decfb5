"""Inventory loading, var merging, Ansible names and host patterns."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.errors import InputError
from provisioner.inventory import load_inventory, select_hosts

NESTED = """
all:
  vars: {level: all, only_all: 1, connection: winrm}
  children:
    windows:
      vars: {level: windows}
      children:
        servers:
          vars: {level: servers}
          hosts:
            web-1: {level: host}
            web-2: {}
        agents:
          hosts:
            agent-1: {ansible_host: 10.0.0.5, ansible_user: 'CORP\\bot', ansible_password: s3cret,
                      ansible_port: 5985, ansible_winrm_scheme: http, ansible_winrm_transport: ntlm,
                      ansible_winrm_server_cert_validation: ignore, ansible_shell_type: powershell}
            web-2: {}
    linuxish:
      hosts:
        other-1: {}
"""


def write(tmp_path: Path, text: str, name: str = "inv.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_vars_merge_from_all_to_host(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, NESTED))
    assert inv.hosts["web-1"].vars["level"] == "host"
    assert inv.hosts["web-2"].vars["level"] == "servers"  # deeper group wins over its parent
    assert inv.hosts["agent-1"].vars["level"] == "windows"
    assert inv.hosts["other-1"].vars["level"] == "all"
    assert inv.hosts["other-1"].vars["only_all"] == 1


def test_ansible_connection_names_are_accepted_unchanged(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, NESTED))
    conn = inv.connection(inv.hosts["agent-1"])
    assert (conn.address, conn.user, conn.effective_port, conn.scheme, conn.transport, conn.cert_validation) == (
        "10.0.0.5",
        "CORP\\bot",
        5985,
        "http",
        "ntlm",
        "ignore",
    )
    assert conn.password is not None and conn.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(conn) and "s3cret" not in str(conn)
    assert any("ansible_shell_type" in w for w in inv.warnings)


def test_default_ports(tmp_path: Path) -> None:
    inv = load_inventory(
        write(tmp_path, "all:\n  hosts:\n    a: {}\n    b: {connection: ssh}\n    c: {scheme: http}\n")
    )
    assert [inv.connection(inv.hosts[h]).effective_port for h in "abc"] == [5986, 22, 5985]


def test_psrp_is_a_clear_not_supported_error(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "all:\n  hosts:\n    a: {ansible_connection: psrp}\n"))
    with pytest.raises(InputError, match="psrp is not supported yet"):
        inv.connection(inv.hosts["a"])


def test_basic_over_http_needs_allow_unencrypted(tmp_path: Path) -> None:
    inv = load_inventory(
        write(
            tmp_path,
            "all:\n  hosts:\n    a: {scheme: http, transport: basic}\n"
            "    b: {scheme: http, transport: basic, allow_unencrypted: true}\n",
        )
    )
    with pytest.raises(InputError, match="inv.yml:3:5.*allow_unencrypted"):
        inv.connection(inv.hosts["a"])
    assert inv.connection(inv.hosts["b"]).transport == "basic"


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("web-1", ["web-1"]),
        ("servers", ["web-1", "web-2"]),
        ("web-*", ["web-1", "web-2"]),
        ("servers:agents", ["web-1", "web-2", "agent-1"]),
        ("servers:&agents", ["web-2"]),
        ("windows:!servers", ["agent-1"]),
        ("all:!linuxish", ["web-1", "web-2", "agent-1"]),
        ("!servers", ["other-1", "agent-1"]),  # Ansible's order: all's hosts level by level (ansible-core 2.19)
        ("web-1,other-1", ["web-1", "other-1"]),
    ],
)
def test_host_patterns(tmp_path: Path, pattern: str, expected: list[str]) -> None:
    inv = load_inventory(write(tmp_path, NESTED))
    assert select_hosts(inv, pattern) == expected


@pytest.mark.parametrize("pattern", ["serverz", "windows:&nothing", "web-9*", "servers:&linuxish"])
def test_pattern_that_matches_nothing_is_an_error(tmp_path: Path, pattern: str) -> None:
    inv = load_inventory(write(tmp_path, NESTED))
    with pytest.raises(InputError):
        select_hosts(inv, pattern)


def test_unknown_group_key_names_place_and_suggestion(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_inventory(write(tmp_path, "all:\n  hosts:\n    a: {}\n  childs:\n    g: {}\n"))
    message = str(info.value)
    assert "inv.yml:4:3" in message and "all.childs" in message and "did you mean 'children'?" in message


def test_missing_inventory_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.yml: file not found"):
        load_inventory(tmp_path / "nope.yml")


def test_relative_paths_resolve_against_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    inv = load_inventory(write(tmp_path / "sub", "all:\n  hosts:\n    a: {ca_bundle: certs/ca.pem}\n"))
    assert inv.connection(inv.hosts["a"]).ca_bundle == str(tmp_path / "sub" / "certs" / "ca.pem")


def test_a_malformed_password_is_never_echoed(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "all:\n  hosts:\n    a: {ansible_password: 98765432123}\n"))
    with pytest.raises(InputError) as info:
        inv.connection(inv.hosts["a"])
    assert "98765432123" not in str(info.value)
    assert "ansible_password" in str(info.value) and "<hidden>" in str(info.value)
    assert "98765432123" not in repr(inv.hosts["a"])
