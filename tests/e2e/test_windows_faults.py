"""Machine faults the lab models as Windows has them (issue 10 item 8; windows-audit.md F1): an engine
upgrade must survive TEMP on another volume and a dockerd.exe that lingers after Stop-Service."""

from __future__ import annotations

from collections.abc import Callable

from provision_lab.api import Faults

from .conftest import DOCKER_VERSION, E2ELab

INSTALL_DIR = r"C:\Program Files\docker"


def test_an_upgrade_with_temp_on_another_volume_and_a_lingering_dockerd_converges(
    e2e_lab: Callable[..., E2ELab],
) -> None:
    # TEMP on D: (a folder cannot be moved to C: from there in Windows PowerShell 5.1), and the stopped
    # service's dockerd.exe keeps its image open for 2 s after Stop-Service returns (F1 (a) and (b)).
    faults = Faults(temp_other_volume=True, service_exit_seconds=2.0)
    lab = e2e_lab({"old": ("server2022-converged", faults, {"engine_version": "26.1.4"})})
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    result = outcome.host("old")
    assert result.status == "changed", result.message
    state = lab.snapshot("old")
    assert state["engines"] == {INSTALL_DIR: DOCKER_VERSION}
    assert state["services"]["docker"]["status"] == "Running"
    assert result.verify is not None and result.verify["ok"]


def test_a_restart_another_installation_left_pending_comes_first(e2e_lab: Callable[..., E2ELab]) -> None:
    # Server Manager refuses with FailedRestartRequired while a patch waits for its restart (F2): the
    # host restarts, then installs, then restarts for the features.
    lab = e2e_lab({"patched": ("server2022", Faults(restart_pending=True), {})})
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    result = outcome.host("patched")
    assert result.status == "changed", result.message
    assert result.reboots == 2
    assert lab.snapshot("patched")["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}


def test_an_upgrade_blocked_by_a_held_file_leaves_the_old_engine_whole_and_running(
    e2e_lab: Callable[..., E2ELab],
) -> None:
    # Another session's `docker logs -f` keeps docker.exe open (F1 (b)): the folder cannot go aside, and
    # the host keeps the engine it had instead of a half-deleted one.
    lab = e2e_lab({"old": ("server2022-converged", Faults(engine_files_locked=True), {"engine_version": "26.1.4"})})
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    result = outcome.host("old")
    assert result.status == "failed"
    assert "Access to the path" in result.message and "is denied" in result.message, result.message
    state = lab.snapshot("old")
    assert state["engines"] == {INSTALL_DIR: "26.1.4"}
    assert state["services"]["docker"]["status"] == "Running"
