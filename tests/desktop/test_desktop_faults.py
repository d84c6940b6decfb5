"""Workstations as Windows has them (issue 11 items 6 and 9; windows-audit.md F9, F14): Desktop helpers
that come and go during the facts, and a developer signed in when the features need their restart."""

from __future__ import annotations

from collections.abc import Callable

from provision_lab.api import Faults
from provision_lab.control import apply_drift
from provisioner.render import reboot_comment

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


def test_a_signed_in_developer_is_warned_before_the_restart(desktop_lab: Callable[..., DesktopLab]) -> None:
    # Restart-Computer -Force dropped the session with its unsaved work (F14): on a client SKU shutdown.exe
    # shows a comment and a countdown (reboot.warn_seconds, 300 s by default there) before the restart.
    lab = desktop_lab({"ws1": "workstation-win11-23h2-pro"})
    apply_drift(lab.hosts["ws1"], None, None, None, logon="dev")
    playbook = lab.setup()

    result = lab.run(playbook).host("ws1")

    assert result.status == "pending_logon" and result.reboots == 1, result.message
    notices = lab.hosts["ws1"].machine.extensions.get("shutdown.exe")
    assert notices == [{"users": ["WS1\\dev"], "seconds": 300, "comment": reboot_comment(300, "features")}]
