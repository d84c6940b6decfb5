"""Playbook loading: templating per host, validation, and bad input through the CLI (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.cli import run
from provisioner.playbook import load_playbook

SHA = "ab" * 32
INVENTORY = f"""
all:
  vars: {{docker_version: "27.3.1", docker_sha256: "{SHA}", site: hq}}
  children:
    windows:
      hosts:
        w1: {{address: 127.0.0.1}}
        w2: {{address: 127.0.0.1, site: branch}}
"""


def setup(tmp_path: Path, spec_yaml: str, extra: str = "") -> Path:
    (tmp_path / "inv.yml").write_text(INVENTORY)
    book = tmp_path / "site.yml"
    book.write_text(f"- name: p\n  hosts: windows\n  inventory: inv.yml\n{extra}  spec:\n{spec_yaml}")
    return book


GOOD = """    features: [Containers]
    engine: {version: "{{ docker_version }}", sha256: "{{ docker_sha256 }}"}
    daemon: {labels: ["site={{ site }}"], log-level: warn}
"""


def test_values_are_templated_per_host(tmp_path: Path) -> None:
    book = load_playbook(setup(tmp_path, GOOD))
    by_name = {t.name: t for t in book.targets}
    assert by_name["w1"].spec.daemon == {"labels": ["site=hq"], "log-level": "warn"}
    assert by_name["w2"].spec.daemon == {"labels": ["site=branch"], "log-level": "warn"}
    assert by_name["w1"].spec.engine is not None and by_name["w1"].spec.engine.sha256 == SHA


def test_a_single_expression_keeps_its_type(tmp_path: Path) -> None:
    book = load_playbook(setup(tmp_path, GOOD, '  vars: {n: 7}\n  rollout: {forks: "{{ n }}"}\n'))
    assert book.plays[0].rollout.forks == 7


def test_limit_narrows_targets(tmp_path: Path) -> None:
    book = load_playbook(setup(tmp_path, GOOD), limit="w2")
    assert [t.name for t in book.targets] == ["w2"]


def test_shipped_site_playbook_validates(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["validate", str(repo / "playbooks" / "site.yml")]) == 0
    out = capsys.readouterr().out
    assert "lab-0001" in out and "features=Containers,Hyper-V" in out


BAD_CASES = {
    "malformed": ("    features: [Containers\n", ["site.yml:", "malformed YAML"]),
    "unknown key": (GOOD + "    verfy: {}\n", ["site.yml:8:5", "spec.verfy", "did you mean 'verify'?"]),
    "wrong type": (
        GOOD + "    virtualization: {min_memory_gb: lots}\n",
        ["site.yml:8:22", "min_memory_gb", "expected a number"],
    ),
    "storage-driver": (
        "    engine: {version: 27.3.1, sha256: " + SHA + "}\n    daemon: {storage-driver: windowsfilter}\n",
        ["site.yml:6:14", "spec.daemon.storage-driver", "Unix-only", "does not start"],
    ),
    "iptables": (
        "    engine: {version: 27.3.1, sha256: " + SHA + "}\n    daemon: {iptables: false}\n",
        ["spec.daemon.iptables", "only on Linux"],
    ),
    "live-restore": (
        "    engine: {version: 27.3.1, sha256: " + SHA + "}\n    daemon:\n      live-restore: true\n",
        ["site.yml:7:7", "spec.daemon.live-restore", "only on Linux"],
    ),
    "short sha256": (
        "    engine: {version: 27.3.1, sha256: abc123}\n",
        ["site.yml:5:31", "spec.engine.sha256", "64 hexadecimal"],
    ),
    "undefined variable": (
        '    engine: {version: "{{ docker_verison }}", sha256: ' + SHA + "}\n",
        ["site.yml:5:14", "undefined variable", "docker_verison"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_one_clear_error_and_exit_1(tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec, expected = BAD_CASES[case]
    book = setup(tmp_path, spec)
    assert run(["validate", str(book)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing else was done or printed
    for fragment in expected:
        assert fragment in captured.err, (fragment, captured.err)


def test_unknown_host_pattern(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "inv.yml").write_text(INVENTORY)
    book = tmp_path / "site.yml"
    book.write_text(
        f"- name: p\n  hosts: windos\n  inventory: inv.yml\n  spec: {{engine: {{version: 27.3.1, sha256: {SHA}}}}}\n"
    )
    assert run(["validate", str(book)]) == 1
    err = capsys.readouterr().err
    assert "site.yml:2:3" in err and "'windos' matches no host or group" in err and "did you mean 'windows'?" in err


def test_missing_inventory_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "site.yml"
    book.write_text(
        f"- name: p\n  hosts: all\n  inventory: missing.yml\n  spec: {{engine: {{version: 27.3.1, sha256: {SHA}}}}}\n"
    )
    assert run(["validate", str(book)]) == 1
    assert "missing.yml: file not found" in capsys.readouterr().err
