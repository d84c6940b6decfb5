"""Docker Desktop facts on a workstation whose Desktop helpers come and go (issue 11 item 6; windows-audit.md F9)."""

from __future__ import annotations

from collections.abc import Callable

from provision_lab.api import Faults
from provision_lab.control import apply_drift

from .conftest import DesktopLab


def test_a_desktop_process_that_exits_during_the_facts_does_not_fail_the_block(
    desktop_lab: Callable[..., DesktopLab],
) -> None:
    # Docker Desktop.exe is an Electron app whose same-named helpers exit between Win32_Process's listing
    # and GetOwner ("Not found " under 'Stop'): the facts skip that process instead of failing the host.
    lab = desktop_lab({"ws1": ("workstation-win11-23h2-pro", Faults(desktop_helpers_exit=True))})
    playbook = lab.setup()
    assert lab.run(playbook).host("ws1").status == "pending_logon"
    apply_drift(lab.hosts["ws1"], None, None, None, logon="dev")

    result = lab.run(playbook).host("ws1")

    assert result.status == "ok", result.message
    assert result.facts is not None and result.facts["desktop"]["running_for"] == ["WS1\\dev"]
