"""``provision lab up`` with its defaults writes exactly the committed inventories/lab.yml."""

from __future__ import annotations

from pathlib import Path

import pytest

from provision_lab.control import DEFAULT_LAB_PROFILES, write_inventory
from provision_lab.runtime import default_lab_dir


def test_default_lab_up_writes_the_committed_inventory(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROVISION_LAB_DIR", raising=False)
    written = tmp_path / "lab.yml"
    write_inventory(
        written, count=9, profiles=DEFAULT_LAB_PROFILES, seed=1, reboot_seconds=3.0, lab_dir=default_lab_dir()
    )
    assert written.read_text() == (repo / "inventories" / "lab.yml").read_text()
    # The CA path follows PROVISION_LAB_DIR instead of naming one machine's home directory.
    assert "{{ env('PROVISION_LAB_DIR', '~/.cache/provision/lab') }}/tls/ca.pem" in written.read_text()


def test_a_lab_elsewhere_is_written_with_its_own_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROVISION_LAB_DIR", raising=False)
    written = tmp_path / "lab.yml"
    write_inventory(written, count=2, profiles="server2022", seed=1, reboot_seconds=1.0, lab_dir=tmp_path / "lab")
    assert f"ca_bundle: {tmp_path / 'lab' / 'tls' / 'ca.pem'}" in written.read_text()
