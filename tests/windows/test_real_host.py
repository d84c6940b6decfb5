"""Opt-in tests against a real Windows host (DESIGN section 5): ``pytest -m windows``.

Deselected by default (pyproject's ``-m 'not windows'``). Configure with environment variables:

- PROVISION_TEST_HOST       address of the host (required)
- PROVISION_TEST_USER       account with local admin rights (required)
- PROVISION_TEST_PASSWORD   its password (required; never logged)
- PROVISION_TEST_CONNECTION winrm (default) or ssh
- PROVISION_TEST_SCHEME     https (default) or http;  PROVISION_TEST_PORT to override the port
- PROVISION_TEST_TRANSPORT  ntlm (default), basic, kerberos, credssp
- PROVISION_TEST_CA_BUNDLE  PEM of the CA that signed the host's WinRM certificate
- PROVISION_TEST_DOCKER_VERSION / PROVISION_TEST_DOCKER_SHA256: the engine zip to pin (apply only)

``pytest -m windows`` changes nothing on the host: it runs the FACTS script and a check, which
only read. ``pytest -m windows_apply`` converges the host (CHANGES IT: features, a reboot,
Docker) and then checks that a second run finds nothing to do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from provisioner.cli import run


def _require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"-m windows needs {name} (see tests/windows/test_real_host.py)")
    return value


@pytest.fixture
def playbook(tmp_path: Path) -> Path:
    host = _require("PROVISION_TEST_HOST")
    user = _require("PROVISION_TEST_USER")
    _require("PROVISION_TEST_PASSWORD")
    lines = [
        "all:",
        "  hosts:",
        f"    target: {{address: '{host}'}}",
        "  vars:",
        f"    connection: {os.environ.get('PROVISION_TEST_CONNECTION', 'winrm')}",
        f"    scheme: {os.environ.get('PROVISION_TEST_SCHEME', 'https')}",
        f"    transport: {os.environ.get('PROVISION_TEST_TRANSPORT', 'ntlm')}",
        f"    user: '{user}'",
        "    password_env: PROVISION_TEST_PASSWORD",
    ]
    if os.environ.get("PROVISION_TEST_PORT"):
        lines.append(f"    port: {int(os.environ['PROVISION_TEST_PORT'])}")
    if os.environ.get("PROVISION_TEST_CA_BUNDLE"):
        lines.append(f"    ca_bundle: '{os.environ['PROVISION_TEST_CA_BUNDLE']}'")
    (tmp_path / "inventory.yml").write_text("\n".join(lines) + "\n")
    version = os.environ.get("PROVISION_TEST_DOCKER_VERSION", "27.3.1")
    # check and facts download nothing, so any well-formed pin does; apply needs the real one.
    sha = os.environ.get("PROVISION_TEST_DOCKER_SHA256", "0" * 64)
    book = tmp_path / "site.yml"
    book.write_text(f"""- name: real host
  hosts: target
  inventory: inventory.yml
  spec:
    features: [Containers, Hyper-V]
    engine: {{version: "{version}", sha256: "{sha}"}}
    verify: {{when: changed}}
""")
    return book


@pytest.mark.windows
def test_facts_parse_on_a_real_host(playbook: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["facts", "-i", str(playbook.parent / "inventory.yml"), "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert '"build"' in out and '"features"' in out


def _host_report(path: Path) -> dict[str, Any]:
    """The report's one host (the playbook targets only ``target``)."""
    (host,) = json.loads(path.read_text(encoding="utf-8"))["hosts"]
    assert host["name"] == "target", host
    report: dict[str, Any] = host
    return report


@pytest.mark.windows
def test_check_runs_and_reports_on_a_real_host(playbook: Path, tmp_path: Path) -> None:
    """The host's state is unknown, so the check may find it in state, drifted or waiting for a reboot;
    either way the exit code, the host's status and its resources agree (a failure or an unreachable
    host is exit 3, which fails here)."""
    report = tmp_path / "report.json"
    code = run(["check", str(playbook), "--report", str(report), "--output", "plain"])
    host = _host_report(report)
    assert (code, host["status"]) in ((0, "ok"), (2, "drift"), (2, "reboot_required")), host
    if host["status"] == "ok":
        assert host["resources"] == [], host
    if host["status"] == "drift":
        assert host["resources"] != [], host


@pytest.mark.windows_apply
def test_apply_converges_then_changes_nothing(playbook: Path, tmp_path: Path) -> None:
    _require("PROVISION_TEST_DOCKER_SHA256")
    applied = tmp_path / "apply.json"
    assert run(["apply", str(playbook), "--report", str(applied), "--output", "plain"]) == 0
    assert _host_report(applied)["status"] in ("changed", "ok")
    checked = tmp_path / "check.json"
    assert run(["check", str(playbook), "--report", str(checked), "--output", "plain"]) == 0
    host = _host_report(checked)
    assert (host["status"], host["resources"]) == ("ok", []), host
