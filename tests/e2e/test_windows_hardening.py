"""Issue 11, first half: behaviours real Windows has that a run must survive, each reproduced by the lab
first (windows-audit.md F1-F12, security review F1). Every test here failed before its fix."""

from __future__ import annotations

from collections.abc import Callable

from provision_lab.api import Faults
from provision_lab.windows.machine import ENVIRONMENT_KEY

from .conftest import DOCKER_VERSION, E2ELab

INSTALL_DIR = r"C:\Program Files\docker"


def registry_path(lab: E2ELab, name: str) -> tuple[str, str]:
    """The machine Path's registry kind and its raw (unexpanded) text."""
    value = lab.host(name).machine.registry.value(ENVIRONMENT_KEY, "Path")
    assert value is not None
    return value.kind, str(value.data)


# -- security review F1: a folder provision did not create is never replaced --------------------------


def test_an_install_dir_provision_did_not_create_is_refused_and_left_whole(e2e_lab: Callable[..., E2ELab]) -> None:
    # A tools folder of the user's, named as engine.install_dir: the engine block used to move it aside
    # and delete it after the new engine went in.
    lab = e2e_lab({"tools": "server2022"})
    fs = lab.host("tools").machine.fs
    fs.make_dirs(r"C:\Tools\docker")
    fs.write(r"C:\Tools\docker\notes.txt", b"mine\r\n")
    playbook = lab.setup("winrm-ntlm-https", spec={"engine": {"install_dir": "C:\\Tools\\docker"}})

    outcome = lab.run(playbook)

    result = outcome.host("tools")
    assert result.status == "failed"
    assert r"C:\Tools\docker exists and provision did not create it" in result.message, result.message
    assert fs.read(r"C:\Tools\docker\notes.txt") == b"mine\r\n"
    assert lab.snapshot("tools")["engines"] == {}


def test_an_engine_installed_by_hand_is_not_upgraded_over(e2e_lab: Callable[..., E2ELab]) -> None:
    # Microsoft's install-docker-ce.ps1 (or a person) put Docker 26.1.4 in C:\Program Files\docker: no marker.
    lab = e2e_lab({"hand": ("server2022-converged", Faults(), {"engine_version": "26.1.4"})})
    lab.host("hand").machine.fs.delete(INSTALL_DIR + r"\.provision-engine")
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    result = outcome.host("hand")
    assert result.status == "failed"
    assert "provision did not create it" in result.message and ".provision-engine" in result.message, result.message
    state = lab.snapshot("hand")
    assert state["engines"] == {INSTALL_DIR: "26.1.4"}
    assert state["services"]["docker"]["status"] == "Running"


def test_an_engine_provision_installed_is_upgraded_and_keeps_its_marker(e2e_lab: Callable[..., E2ELab]) -> None:
    lab = e2e_lab({"old": ("server2022-converged", Faults(), {"engine_version": "26.1.4"})})
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    assert outcome.host("old").status == "changed", outcome.host("old").message
    assert lab.snapshot("old")["engines"] == {INSTALL_DIR: DOCKER_VERSION}
    assert lab.host("old").machine.fs.is_file(INSTALL_DIR + r"\.provision-engine")


# -- F10: the machine Path ------------------------------------------------------------------------------


def test_the_machine_path_stays_expandable_and_unexpanded(e2e_lab: Callable[..., E2ELab]) -> None:
    # [Environment]::SetEnvironmentVariable(..., 'Machine') wrote the Path back expanded, as REG_SZ: the
    # %SystemRoot% entries were frozen (dotnet/runtime#89695).
    lab = e2e_lab({"fresh": "server2022"})
    kind_before, raw_before = registry_path(lab, "fresh")
    assert kind_before == "ExpandString" and "%SystemRoot%" in raw_before
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    assert outcome.host("fresh").status == "changed", outcome.host("fresh").message
    kind, raw = registry_path(lab, "fresh")
    assert kind == "ExpandString"
    assert raw == raw_before + ";" + INSTALL_DIR


def test_a_path_entry_with_a_trailing_backslash_counts_as_present(e2e_lab: Callable[..., E2ELab]) -> None:
    lab = e2e_lab({"fresh": "server2022"})
    environment = lab.host("fresh").machine.registry.key(ENVIRONMENT_KEY)
    _, raw = registry_path(lab, "fresh")
    environment.set("Path", "ExpandString", raw + ";" + INSTALL_DIR + "\\")
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    assert outcome.host("fresh").status == "changed", outcome.host("fresh").message
    assert registry_path(lab, "fresh") == ("ExpandString", raw + ";" + INSTALL_DIR + "\\")


# -- F4: Constrained Language Mode ----------------------------------------------------------------------


def test_constrained_language_stops_facts_apply_and_check_with_one_clear_message(
    e2e_lab: Callable[..., E2ELab],
) -> None:
    # An enforced WDAC/AppLocker policy: the bootstrap died on its first New-Object and the host was reported
    # as "facts script exited 1" with PowerShell's CLIXML text.
    lab = e2e_lab({"locked": ("server2022", Faults(constrained_language=True))})
    inventory = lab.inventory("ssh")
    playbook = lab.playbook(inventory)

    for mode in ("apply", "check"):
        result = lab.run(playbook, mode).host("locked")
        assert result.status == "failed"
        assert result.message.startswith("facts: the host runs PowerShell in ConstrainedLanguage mode"), result.message
        assert "WDAC" in result.message and "AppLocker" in result.message and "FullLanguage" in result.message
        assert "\n" not in result.message
    facts = lab.cli("facts", "-i", inventory)
    assert facts.code == 3
    assert "ConstrainedLanguage" in facts.out + facts.err
    assert lab.snapshot("locked")["features"] == {"Containers": "Disabled", "Microsoft-Hyper-V": "Disabled"}


# -- F11: no console to set the output code page on -------------------------------------------------------


def test_a_process_without_a_console_still_converges(e2e_lab: Callable[..., E2ELab]) -> None:
    # The prelude's [Console]::OutputEncoding setter throws "The handle is invalid" where powershell.exe has no
    # console: a terminating error on line 6 of every script, before any record, so no host could be run.
    lab = e2e_lab({"headless": ("server2022", Faults(no_console=True))})
    playbook = lab.setup("winrm-ntlm-https")

    first = lab.run(playbook).host("headless")
    assert first.status == "changed", first.message
    assert lab.run(playbook, "check").host("headless").status == "ok"
    assert lab.snapshot("headless")["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}


# -- F8: a reboot that really happened ---------------------------------------------------------------------


def test_boot_time_jitter_before_the_shutdown_does_not_pass_for_a_reboot(e2e_lab: Callable[..., E2ELab]) -> None:
    # LastBootUpTime drifts by a second on VMs without any reboot, and a real shutdown takes seconds: a poll
    # that landed before the host went down read a "new boot id", so the run planned against a host going
    # down (another reboot charged to max_per_run, or a transport error mid-apply).
    lab = e2e_lab({"vm": ("server2022", Faults(boot_jitter=True, shutdown_seconds=1.0))})
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    result = outcome.host("vm")
    assert result.status == "changed", result.message
    assert result.reboots == 1
    assert lab.counters("vm")["reboots"] == 1
    assert lab.snapshot("vm")["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}


# -- F2: a restart another servicing operation left pending ----------------------------------------------


def test_a_pending_servicing_restart_comes_before_any_feature_change(e2e_lab: Callable[..., E2ELab]) -> None:
    # Patches left CBS RebootPending: Install-WindowsFeature refuses with FailedRestartRequired, so the plan
    # restarts first instead of trying (and failing) the install.
    lab = e2e_lab({"patched": ("server2022", Faults(restart_pending=True), {})})
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    result = outcome.host("patched")
    assert result.status == "changed", result.message
    kinds = [e.kind for e in outcome.events_of("patched") if e.kind in ("apply", "reboot")]
    assert kinds[:2] == ["reboot", "apply"], kinds
    assert any("pending" in e.message for e in outcome.events_of("patched", "preflight.warning"))
    assert lab.snapshot("patched")["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}


def test_a_pending_servicing_restart_under_reboot_never_stops_in_preflight(e2e_lab: Callable[..., E2ELab]) -> None:
    lab = e2e_lab({"patched": ("server2022", Faults(restart_pending=True), {})})
    playbook = lab.setup("winrm-ntlm-https", reboot={"policy": "never"})

    outcome = lab.run(playbook)

    result = outcome.host("patched")
    assert result.status == "failed"
    assert result.message.startswith("preflight: a restart is pending from another servicing operation"), result.message
    assert "reboot.policy is never" in result.message
    assert result.reboots == 0 and lab.counters("patched")["reboots"] == 0
    assert lab.snapshot("patched")["features"] == {"Containers": "Disabled", "Microsoft-Hyper-V": "Disabled"}


# -- F12: daemon.json replaced in one call ----------------------------------------------------------------


def test_a_daemon_json_change_that_cannot_finish_leaves_the_old_file(e2e_lab: Callable[..., E2ELab]) -> None:
    # An on-access scan holds the freshly written staged file: Move-Item -Force deleted daemon.json, then
    # could not move the staged file in, and dockerd restarted with no daemon.json at all. ReplaceFile fails
    # before the old file goes.
    lab = e2e_lab({"web1": ("server2022-converged", Faults(scan_seconds=30.0), {})})
    machine = lab.host("web1").machine
    machine.advance(60)  # the scans of the files the converged profile wrote are over
    daemon_json = r"C:\ProgramData\docker\config\daemon.json"
    old = machine.fs.read(daemon_json)
    playbook = lab.setup("winrm-ntlm-https", spec={"daemon": {"log-level": "debug"}})

    first = lab.run(playbook).host("web1")

    assert first.status == "failed"
    assert "Unable to move the replacement file" in first.message, first.message
    assert machine.fs.read(daemon_json) == old

    machine.faults.scan_seconds = 0.0  # the next run meets no scan...
    machine.advance(60)  # ...and the last one is over
    second = lab.run(playbook).host("web1")

    assert second.status == "changed", second.message
    assert b'"log-level": "debug"' in machine.fs.read(daemon_json)
    assert machine.fs.read(daemon_json + ".provision-backup") == old
