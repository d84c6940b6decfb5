"""The lean client's own edges: what pywinrm has no counterpart for (issue 18, item 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.transport import TransportError
from provisioner.transport.settings import ConnectionSettings
from provisioner.transport.wsman import LeanWinRMConnection
from transport.conftest import NOWHERE


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_an_unusable_ca_bundle_is_one_certificate_line(tmp_path: Path, content: str | None) -> None:
    bundle = tmp_path / "ca.pem"
    if content is not None:
        bundle.write_text(content)
    settings = ConnectionSettings(address=NOWHERE, port=15986, user="u", ca_bundle=str(bundle))
    connection = LeanWinRMConnection("h", settings, "pw")

    with pytest.raises(TransportError) as caught:
        connection.run("echo\n", timeout=5)

    assert caught.value.kind == "certificate" and not caught.value.retryable
    assert caught.value.cause.startswith(f"ca_bundle {str(bundle)!r} cannot be used: ")
    assert "pw" not in str(caught.value)


def test_a_transport_only_pywinrm_speaks_is_refused() -> None:
    settings = ConnectionSettings(address=NOWHERE, user="u", transport="kerberos")
    with pytest.raises(ValueError, match="kerberos"):
        LeanWinRMConnection("h", settings, "pw")
