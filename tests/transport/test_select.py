"""Which WinRM client a host gets: the run's option, then the host's ``winrm_client``, then lean;
pywinrm always for the transports only it speaks (issue 18, item 1)."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner import cli
from provisioner.transport.connect import Connector, ca_trust, open_connection, winrm_client
from provisioner.transport.settings import ConnectionSettings
from provisioner.transport.ssh import SSHConnection
from provisioner.transport.winrm import WinRMConnection
from provisioner.transport.wsman import LeanWinRMConnection


def settings(**values: Any) -> ConnectionSettings:
    return ConnectionSettings(address="127.0.0.1", user="u", **values)


@pytest.mark.parametrize(
    ("values", "override", "expected"),
    [
        ({}, None, "lean"),
        ({"transport": "basic"}, None, "lean"),
        ({"winrm_client": "pywinrm"}, None, "pywinrm"),
        ({"winrm_client": "pywinrm"}, "lean", "lean"),
        ({}, "pywinrm", "pywinrm"),
        ({"transport": "kerberos"}, "lean", "pywinrm"),
        ({"transport": "credssp", "winrm_client": "lean"}, None, "pywinrm"),
    ],
)
def test_the_client_follows_option_then_inventory_then_default(
    values: dict[str, Any], override: Any, expected: str
) -> None:
    assert winrm_client(settings(**values), override) == expected


def test_the_connector_builds_the_chosen_client() -> None:
    lean = Connector(lambda: "pw")("h", settings())
    reference = Connector(lambda: "pw", "pywinrm")("h", settings())
    assert isinstance(lean, LeanWinRMConnection)
    assert isinstance(reference, WinRMConnection)


@pytest.mark.parametrize("argv", [["facts", "-i", "inventory.yml"], ["check", "site.yml"], ["apply", "site.yml"]])
def test_winrm_client_option_reaches_the_connector(argv: list[str]) -> None:
    assert cli._connector(cli._parser().parse_args(argv)).client is None
    assert cli._connector(cli._parser().parse_args([*argv, "--winrm-client", "pywinrm"])).client == "pywinrm"


def test_each_client_names_the_ca_store_it_validates_against(monkeypatch: pytest.MonkeyPatch) -> None:
    """``provision doctor``'s tls step asks this, so it checks the store the run's client will use:
    the lean client loads the system's store, pywinrm requests' choice (REQUESTS_CA_BUNDLE here)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/provision-test/ca.pem")
    https = settings(scheme="https")
    assert ca_trust(https) == (
        None,
        "the system's CA store (the lean WinRM client's default; REQUESTS_CA_BUNDLE is not used)",
    )
    assert ca_trust(https, "pywinrm") == (
        "/etc/provision-test/ca.pem",
        "$REQUESTS_CA_BUNDLE (/etc/provision-test/ca.pem)",
    )
    bundle = settings(scheme="https", ca_bundle="/srv/ca.pem")
    assert ca_trust(bundle) == ca_trust(bundle, "pywinrm") == ("/srv/ca.pem", "ca_bundle /srv/ca.pem")


def test_open_connection_gives_the_client_the_run_picks() -> None:
    assert isinstance(open_connection("h", settings(), "pw"), LeanWinRMConnection)
    assert isinstance(open_connection("h", settings(winrm_client="pywinrm"), "pw"), WinRMConnection)
    assert isinstance(open_connection("h", settings(connection="ssh"), "pw"), SSHConnection)
