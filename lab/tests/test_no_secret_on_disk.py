"""The lab keeps no secret in /tmp (issue 12 item 11, security-review.md F16).

pyspnego's NTLM acceptor reads the accounts, with their NT hashes (password-equivalent for NTLM),
from the file ``NTLM_USER_FILE`` names; the lab keeps that file in memory only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import winrm
from spnego._ntlm_raw.crypto import ntowfv1  # the NT hash the lab writes (MD4)

from .conftest import MakeLab


def test_ntlm_accounts_live_in_memory_and_go_with_the_lab(make_lab: MakeLab) -> None:
    before = set(Path(tempfile.gettempdir()).glob("provision-lab-ntlm-*"))
    lab = make_lab()
    path = os.environ["NTLM_USER_FILE"]
    assert path.startswith(f"/proc/{os.getpid()}/fd/")
    target = os.readlink(path)
    assert target.startswith("/memfd:provision-lab-ntlm"), target  # an anonymous file, on no filesystem
    assert ntowfv1(lab.password).hex().upper() in Path(path).read_text()
    assert set(Path(tempfile.gettempdir()).glob("provision-lab-ntlm-*")) == before
    # NTLM logons work from it (HTTPS, the lab CA trusted).
    session = winrm.Session(
        f"https://{lab.host.address}:5986/wsman",
        auth=(lab.user, lab.password),
        transport="ntlm",
        server_cert_validation="validate",
        ca_trust_path=str(lab.server.ca_path),
    )
    assert session.run_ps("x").status_code == 0
    lab.server.stop()
    assert "NTLM_USER_FILE" not in os.environ or not os.environ["NTLM_USER_FILE"].startswith(f"/proc/{os.getpid()}/")
