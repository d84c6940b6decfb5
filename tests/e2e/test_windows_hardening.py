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
