"""Bad input to every loader is one located error line, never a traceback (review F9, F10, F12, F18)."""

from __future__ import annotations

import string
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner.cli import run
from provisioner.errors import InputError
from provisioner.inventory import load_inventory
from provisioner.inventory.hostnames import HostKeyError, expand_host_key
from provisioner.playbook import load_playbook
from provisioner.yamlsrc import load_yaml

LAUGHS = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)
)


def write(tmp_path: Path, text: str | bytes, name: str = "inv.yml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(InputError, match="YAML aliases expand to too many values"):
        load_yaml(write(tmp_path, LAUGHS))
    assert time.monotonic() - started < 10  # about 0.3 s; the machine may be busy


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"inv.yml:1:\d+: .*recursive alias"):
        load_yaml(write(tmp_path, "- &p {name: x, loop: *p}\n"))


def test_shared_aliases_within_budget_still_work(tmp_path: Path) -> None:
    doc = load_yaml(write(tmp_path, "base: &b {port: 5986}\nall:\n  hosts:\n    a: *b\n    b: *b\n"))
    assert doc.data["all"]["hosts"]["a"] == {"port": 5986}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"all:\n  hosts:\n    caf\xe9: {}\n", "inv.yml:3: not UTF-8 text"),
        (b'all:\n  hosts: {a: {x: "\x00"}}\n', "inv.yml:2: malformed YAML"),
        (b"all:\n  vars: {x: !!python/name:os.system ''}\n", "unsupported YAML tag"),
        (b"all:\n  vars: {x: !custom 1}\n", "unsupported YAML tag !custom"),
        (b"all:\n  vars: {x: !!python/object/apply:os.system [id]}\n", "unsupported YAML tag"),
        (b"all:\n  hosts:\n    1234: {}\n", "host name 1234 is written as a number; quote it"),
        (b"all:\n  hosts:\n    web[01:5]: {}\n", "zero-padded host range"),
        (b"all:\n  hosts:\n    web[1:9999999]: {}\n", "more than 1,000,000 hosts"),
        (b"[web\nhost1\n", "a host range needs a closing ']'"),
        (b"[web:children]\nnosuch\n", "inv.yml:2:1: section [web:children] names group 'nosuch'"),
        (b"[web:vars]\nx=1\n", "section [web:vars] is for a group that is never declared"),
        (b"[web:nonsense]\nx\n", "unknown type 'nonsense'"),
        (b"[web]\nhost1 user\n", "expected key=value after the host"),
        (b"plugin: aws_ec2\n", "an inventory plugin configuration"),
        (b"a:\n  children:\n    b:\n      children:\n        a: {}\n      hosts: {h: {}}\n", "contain each other"),
    ],
)
def test_bad_inventory_is_one_located_error(tmp_path: Path, content: bytes, expected: str) -> None:
    with pytest.raises(InputError) as info:
        load_inventory(write(tmp_path, content))
    assert expected in str(info.value)
    assert "Traceback" not in str(info.value)


def test_long_values_are_cut_in_errors(tmp_path: Path) -> None:
    big = "x" * 100_000
    with pytest.raises(InputError) as info:
        load_inventory(write(tmp_path, f"all:\n  vars: {{x: !{big} 1}}\n  hosts: {{a: {{}}}}\n"))
    assert len(str(info.value)) < 1_000


@pytest.mark.parametrize(
    ("key", "names", "port"),
    [
        ("web[01:03].corp", ["web01.corp", "web02.corp", "web03.corp"], None),
        ("db-[a:c]", ["db-a", "db-b", "db-c"], None),
        ("agent[1:9:4]", ["agent1", "agent5", "agent9"], None),
        ("h[1:2]-[a:b]", ["h1-a", "h1-b", "h2-a", "h2-b"], None),
        ("win1.corp:5986", ["win1.corp"], 5986),
        ("10.0.0.1:2222", ["10.0.0.1"], 2222),
        ("[fe80::1]:15986", ["fe80::1"], 15986),
        ("fe80::1", ["fe80::1"], None),
        ("my host:22", ["my host:22"], None),  # no valid name: Ansible takes the key whole
    ],
)
def test_host_keys_as_ansible_reads_them(key: str, names: list[str], port: int | None) -> None:
    assert expand_host_key(key) == (names, port)


def test_descending_alpha_range_is_an_error() -> None:
    with pytest.raises(HostKeyError, match="begin <= end"):
        expand_host_key("h[c:a]")


@pytest.mark.parametrize(
    ("serial", "message"),
    [("[]", "at least one batch size"), ('"9999999999999999999999999%"', "at most 100%"), ('"0%"', "above 0%")],
)
def test_absurd_serial_is_refused_at_load(tmp_path: Path, serial: str, message: str) -> None:
    write(tmp_path, "all:\n  hosts: {w1: {address: 127.0.0.1}}\n")
    book = write(
        tmp_path,
        f"- name: p\n  hosts: all\n  inventory: inv.yml\n  rollout: {{serial: {serial}}}\n"
        f"  spec: {{engine: {{version: '27.3.1', sha256: '{'ab' * 32}'}}}}\n",
        "site.yml",
    )
    with pytest.raises(InputError, match=message):
        load_playbook(book)


def test_empty_limit_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "all:\n  hosts: {w1: {address: 127.0.0.1}}\n")
    book = write(
        tmp_path,
        f"- name: p\n  hosts: all\n  inventory: inv.yml\n  spec: {{engine: {{version: '27.3.1', sha256: '{'ab' * 32}'}}}}\n",
        "site.yml",
    )
    with pytest.raises(InputError, match="--limit: empty host pattern"):
        load_playbook(book, limit="")


YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(string.printable, max_size=12),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(string.ascii_letters, max_size=8), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=YAML_VALUES)
def test_random_yaml_documents_load_or_fail_cleanly(tmp_path: Path, document: object) -> None:
    text = yaml.safe_dump(document)
    for name in ("inv.yml", "hosts", "site.yml"):
        path = write(tmp_path, text, name)
        try:
            if name == "site.yml":
                load_playbook(path, inventory=tmp_path / "inv.yml")
            else:
                load_inventory(path)
        except InputError as exc:
            assert all(str(error) for error in exc.errors)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=300) | st.text(max_size=200).map(str.encode))
def test_random_bytes_load_or_fail_cleanly(tmp_path: Path, content: bytes) -> None:
    for name in ("inv.yml", "hosts.ini", "site.yml", "group_vars/all.yml"):
        path = write(tmp_path, content, name)
        try:
            if name == "site.yml":
                load_playbook(path, inventory=tmp_path / "inv.yml")
            elif name.startswith("group_vars"):
                load_inventory(write(tmp_path, "[g]\nh1\n", "hosts.ini"))
            else:
                load_inventory(path)
        except InputError as exc:
            assert all(str(error) for error in exc.errors)


def test_bad_inventory_through_the_cli_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inventory = write(tmp_path, b"all:\n  vars: {x: !custom 1}\n")
    assert run(["inventory", "-i", str(inventory), "--list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "inv.yml:2:" in err and "Traceback" not in err


def test_yaml_that_is_no_mapping_is_a_yaml_error_but_a_bare_host_list_is_ini(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="inv.yml:1:1: expected a mapping of groups, got a list"):
        load_inventory(write(tmp_path, "- web1\n- web2\n"))
    inventory = load_inventory(write(tmp_path, "web1\nweb2 ansible_port=2222\n", "hosts"))
    assert list(inventory.hosts) == ["web1", "web2"] and inventory.hosts["web2"].vars == {"ansible_port": 2222}
    assert inventory.hosts["web1"].groups == ["all", "ungrouped"]


def test_a_huge_bad_value_is_cut_in_the_error(tmp_path: Path) -> None:
    inventory = load_inventory(write(tmp_path, f"all:\n  hosts:\n    a: {{port: '{'9x' * 500_000}'}}\n"))
    with pytest.raises(InputError) as info:
        inventory.connection(inventory.hosts["a"])
    assert "expected a whole number" in str(info.value) and "(1,000,000 characters)" in str(info.value)
    assert len(str(info.value)) < 500
