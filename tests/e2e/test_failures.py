"""Reboot policies, transport faults and a wrong checksum, end to end (DESIGN 4.3, 4.4, 4.5, 4.8)."""

from __future__ import annotations

from collections.abc import Callable

from provision_lab import engine_sha256
from provision_lab.api import Faults

from .conftest import DOCKER_VERSION, PASSWORD, E2ELab, fresh_address

INSTALL_DIR = r"C:\Program Files\docker"


def test_reboot_policy_never_leaves_the_host_reboot_required(e2e_lab: Callable[..., E2ELab], transport: str) -> None:
    lab = e2e_lab({"web1": "server2022"})
    playbook = lab.setup(transport, reboot={"policy": "never"})

    run = lab.cli("apply", playbook, report=True)

    assert run.code == 2, run.out + run.err
    host = run.report_host("web1")
    assert host["status"] == "reboot_required"
    assert "reboot.policy: never" in host["message"]
    assert host["reboots"] == 0
    state = lab.snapshot("web1")
    assert lab.counters("web1")["reboots"] == 0 and state["up"] is True
    assert state["features"] == {"Containers": "EnablePending", "Microsoft-Hyper-V": "EnablePending"}
    assert state["pending_reasons"], "Windows would report a pending reboot"
    # The engine waits for the reboot its feature needs: nothing of it is on the host yet.
    assert state["engines"] == {} and state["services"] == {}
    assert "web1: reboot_required" in run.out


def test_a_reboot_that_never_returns_fails_after_the_deadline(e2e_lab: Callable[..., E2ELab], transport: str) -> None:
    lab = e2e_lab({"web1": ("server2022", Faults(reboot_never_returns=True))})
    playbook = lab.setup(transport, reboot={"timeout": 2})

    outcome = lab.run(playbook)

    result = outcome.host("web1")
    assert outcome.code == 3
    assert result.status == "failed"
    # The message names the deadline and what the last attempt met: here nothing listens any more.
    assert result.message.startswith("did not come back within 2 s after the reboot; last attempt: "), result.message
    cause = result.message.split("; last attempt: ", 1)[1]
    assert cause and "boot id" not in cause  # a connection failure, not a host that never rebooted
    assert result.reboots == 1
    # It waited for the deadline, and not much longer.
    assert 2.0 <= result.duration < 6.0, result.duration
    assert lab.snapshot("web1")["up"] is False
    assert lab.counters("web1")["reboots"] == 1


def test_http_500s_are_retried_and_the_host_still_converges(e2e_lab: Callable[..., E2ELab]) -> None:
    # The seed makes some WS-Man requests of this run fail with HTTP 500 (lab counter http.500).
    lab = e2e_lab({"old": ("server2022-converged", Faults(http_500_rate=0.1), {"engine_version": "26.1.4"})}, seed=8)
    playbook = lab.setup("winrm-ntlm-https")

    outcome = lab.run(playbook)

    result = outcome.host("old")
    assert result.status == "changed", result.message
    retries = outcome.events_of("old", "retry")
    assert retries, "no request failed: pick another seed"
    assert all("HTTP 500" in e.message for e in retries)
    assert lab.counters("old")["http.500"] >= len(retries)
    assert lab.snapshot("old")["engines"] == {INSTALL_DIR: DOCKER_VERSION}
    # Even when the upgrade's first attempt did the work, the run says so and proves it.
    assert {r.id: r.status for r in result.resources}["engine/docker"] == "changed"
    assert result.verify is not None and result.verify["ok"]


def test_dropped_ssh_connections_are_retried_and_the_host_still_converges(e2e_lab: Callable[..., E2ELab]) -> None:
    # The seed makes the lab reset some SSH connections after running the command (lab counter ssh.resets).
    lab = e2e_lab({"old": ("server2022-converged", Faults(reset_rate=0.2), {"engine_version": "26.1.4"})}, seed=4)
    playbook = lab.setup("ssh")

    outcome = lab.run(playbook)

    result = outcome.host("old")
    assert result.status == "changed", result.message
    retries = outcome.events_of("old", "retry")
    assert retries, "no connection was reset: pick another seed"
    assert lab.counters("old")["ssh.resets"] >= len(retries)
    assert lab.snapshot("old")["engines"] == {INSTALL_DIR: DOCKER_VERSION}
    assert {r.id: r.status for r in result.resources}["engine/docker"] == "changed"
    assert result.verify is not None and result.verify["ok"]


def test_bad_credentials_fail_with_the_authentication_cause(e2e_lab: Callable[..., E2ELab], transport: str) -> None:
    lab = e2e_lab({"web1": ("server2022", Faults(bad_credentials=True))})
    playbook = lab.setup(transport)
    before = lab.snapshot("web1")

    run = lab.cli("apply", playbook, report=True)

    assert run.code == 3
    host = run.report_host("web1")
    assert host["status"] == "failed"
    assert "authentication failed" in host["error"] and "'provision'" in host["error"]
    assert lab.counters("web1")["scripts"] == 0
    assert lab.snapshot("web1") == before
    # The password itself is in no output and no report.
    assert PASSWORD not in run.out + run.err + str(run.report)


def test_unreachable_hosts_end_unreachable(e2e_lab: Callable[..., E2ELab], transport: str) -> None:
    lab = e2e_lab({"gone": ("server2022", Faults(unreachable=True)), "moved": "server2022", "fine": "server2022"})
    nowhere = fresh_address()  # no lab listens there: the connection is refused
    playbook = lab.setup(transport, host_vars={"moved": {"address": nowhere}})

    outcome = lab.run(playbook, "check")

    assert outcome.code == 3
    gone, moved, fine = outcome.host("gone"), outcome.host("moved"), outcome.host("fine")
    assert gone.status == "unreachable", gone.message
    assert moved.status == "unreachable", moved.message
    assert "refused" in moved.message and nowhere in moved.message
    assert fine.status == "drift"
    assert lab.counters("gone")["scripts"] == 0


def test_a_wrong_sha256_installs_nothing_and_changes_nothing_else(
    e2e_lab: Callable[..., E2ELab], transport: str
) -> None:
    lab = e2e_lab({"new": "server2022", "old": ("server2022-converged", Faults(), {"engine_version": "26.1.4"})})
    wrong = "0" * 64
    playbook = lab.setup(transport, docker_sha256=wrong)
    fresh, old = lab.snapshot("new"), lab.snapshot("old")

    run = lab.cli("apply", playbook, report=True)

    assert run.code == 3, run.out + run.err
    for name in ("new", "old"):
        host = run.report_host(name)
        assert host["status"] == "failed"
        assert host["error"].startswith("engine/docker: SHA-256 mismatch"), host["error"]
        assert f"expected {wrong}, got {engine_sha256(DOCKER_VERSION)}" in host["error"]
        assert "nothing was installed" in host["error"]
        assert {r["id"]: r["status"] for r in host["resources"]}["engine/docker"] == "failed"
        assert host["verify"] is None
    # The fresh host got its features (their blocks came first), and nothing of the engine.
    state = lab.snapshot("new")
    assert state["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}
    assert state["engines"] == {} and state["services"] == {} and state["files"] == {}
    assert state["machine_path"] == fresh["machine_path"]
    # The upgrade that failed left the old engine running, its daemon.json untouched.
    assert lab.snapshot("old") == old

    # Once the features are there, a run with the wrong pin changes nothing at all.
    before = lab.snapshot("new")
    again = lab.run(playbook).host("new")
    assert again.status == "failed" and "SHA-256 mismatch" in again.message
    assert lab.snapshot("new") == before


def test_certificates_and_host_keys_are_checked(e2e_lab: Callable[..., E2ELab], transport: str) -> None:
    lab = e2e_lab({"web1": "server2022"})
    empty = lab.dir / "empty_known_hosts"
    empty.write_text("")
    # No CA bundle: the lab's certificate is not trusted. An empty known_hosts: the key is unknown.
    playbook = lab.setup(transport, ca_bundle=None, known_hosts=str(empty))

    result = lab.run(playbook, "check").host("web1")

    assert result.status == "failed"
    if transport.startswith("winrm"):
        assert "certificate rejected" in result.message and "ca_bundle" in result.message
    else:
        assert "host key" in result.message and "not in" in result.message
    assert lab.counters("web1")["scripts"] == 0
