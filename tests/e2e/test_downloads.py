"""Downloads through a proxy (issue 11 item 9; windows-audit.md F13): a host whose network reaches the
download servers only through an authenticating proxy, and proxy credentials that never enter YAML, a
script's text, a command line, the output or the report."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

import pytest

from provision_lab.api import Faults

from .conftest import DOCKER_VERSION, E2ELab

PROXY = "http://proxy.lab.example:3128"
CREDENTIALS_ENV = "PROVISION_E2E_PROXY"
PROXY_PASSWORD = "pr0xy'Pa$$\"w`d"
"""Quotes, ``$`` and a backtick: it must reach the proxy unchanged."""
LOCKED_DOWN = Faults(download_proxy=PROXY, download_proxy_credentials=f"dl-user:{PROXY_PASSWORD}")
INSTALL_DIR = r"C:\Program Files\docker"


def test_without_a_proxy_a_proxied_host_cannot_download_the_engine(e2e_lab: Callable[..., E2ELab]) -> None:
    # Invoke-WebRequest uses the account's WinINET settings, not the machine's WinHTTP proxy (F13).
    lab = e2e_lab({"dc1": ("server2022", LOCKED_DOWN, {})})
    playbook = lab.setup("winrm-ntlm-https")

    result = lab.run(playbook).host("dc1")

    assert result.status == "failed"
    assert "engine/docker: Unable to connect to the remote server" in result.message, result.message


def test_the_spec_proxy_and_its_credentials_reach_the_download_and_nothing_else(
    e2e_lab: Callable[..., E2ELab], transport: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CREDENTIALS_ENV, f"dl-user:{PROXY_PASSWORD}")
    lab = e2e_lab({"dc1": ("server2022", LOCKED_DOWN, {})})
    inventory = lab.inventory(transport)
    playbook = lab.playbook(inventory, spec={"downloads": {"proxy": PROXY, "proxy_credentials_env": CREDENTIALS_ENV}})

    run = lab.cli("apply", str(playbook), report=True)

    assert run.code == 0, run.out + run.err
    assert lab.snapshot("dc1")["engines"] == {INSTALL_DIR: DOCKER_VERSION}
    # The credentials went on the apply script's stdin, in the line before the script, and only there.
    received = lab.scripts["dc1"]
    carrying = [s for s in received if s.partition("\n")[0]]
    assert carrying, "no script carried the proxy's credentials"
    for stdin in carrying:
        secrets = json.loads(base64.b64decode(stdin.partition("\n")[0]))
        assert secrets == {"proxy_user": "dl-user", "proxy_password": PROXY_PASSWORD}
        assert "#@provision-begin" in stdin and '"type":"container_engine"' in stdin
    for stdin in received:
        assert PROXY_PASSWORD not in stdin.partition("\n")[2]
    assert PROXY_PASSWORD not in run.out + run.err + json.dumps(run.report)
    assert PROXY_PASSWORD not in playbook.read_text() + inventory.read_text()


def test_the_inventory_variable_sets_the_proxy_of_its_host(e2e_lab: Callable[..., E2ELab]) -> None:
    # One site behind a proxy (without log-on), one with a direct way out: the play's spec names neither.
    lab = e2e_lab({"behind": ("server2022", Faults(download_proxy=PROXY), {}), "direct": "server2022"})
    playbook = lab.setup("winrm-ntlm-https", host_vars={"behind": {"download_proxy": PROXY}})

    outcome = lab.run(playbook)

    assert outcome.host("behind").status == outcome.host("direct").status == "changed", (
        outcome.host("behind").message,
        outcome.host("direct").message,
    )


def test_proxy_credentials_from_an_unset_variable_stop_the_host_without_a_download(
    e2e_lab: Callable[..., E2ELab], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CREDENTIALS_ENV, raising=False)
    lab = e2e_lab({"dc1": ("server2022", LOCKED_DOWN, {})})
    playbook = lab.setup(
        "winrm-ntlm-https", spec={"downloads": {"proxy": PROXY, "proxy_credentials_env": CREDENTIALS_ENV}}
    )

    result = lab.run(playbook).host("dc1")

    assert result.status == "failed"
    assert result.message == (
        f"downloads.proxy_credentials_env: environment variable {CREDENTIALS_ENV} is not set to USER:PASSWORD"
    )


def test_a_proxy_url_with_credentials_is_refused_where_it_is_written_without_repeating_them(
    e2e_lab: Callable[..., E2ELab],
) -> None:
    lab = e2e_lab({"dc1": "server2022"})
    playbook = lab.setup(
        "winrm-ntlm-https", spec={"downloads": {"proxy": f"http://dl-user:{PROXY_PASSWORD}@proxy.lab.example:3128"}}
    )

    run = lab.cli("validate", str(playbook))

    assert run.code == 1
    lines = [line for line in (run.out + run.err).splitlines() if line.strip()]
    assert len(lines) == 1 and "spec.downloads.proxy" in lines[0] and "proxy_credentials_env" in lines[0], lines
    assert PROXY_PASSWORD not in run.out + run.err
