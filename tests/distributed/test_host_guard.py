"""The HostGuard hooks of HostRunner against a lab host (no broker): checkpoints only at safe points,
and a job delivered again after a lost worker recorded a reboot (issued or not) reboots the host once."""

from __future__ import annotations

import time

from engine.fakehost import RecordingGuard
from fleet.conftest import MakeFleet

from provisioner.engine.host import HostRunner
from provisioner.transport.connect import Connector


def test_no_checkpoint_between_issuing_a_reboot_and_the_hosts_return(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(1, "server2022")
    target = fleet.load(fleet.playbook()).targets[0]
    guard = RecordingGuard()

    result = HostRunner(target, "apply", Connector(), guard=guard).run()

    assert result.status == "changed" and result.reboots == 1
    start, end = guard.calls.index("rebooting 1"), guard.calls.index("rebooted")
    assert guard.calls[start - 1] == "checkpoint reboot"  # the last safe point before it goes down
    assert not [c for c in guard.calls[start:end] if c.startswith("checkpoint")]
    # Back from the reboot, the rest of the apply (facts, apply, verify in one script) starts at a safe point.
    assert guard.calls[end + 1 :] == ["checkpoint apply"]


def test_a_recorded_reboot_that_was_never_sent_is_sent_once(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(1, "server2022")
    target = fleet.load(fleet.playbook()).targets[0]
    lab = fleet.host(target.name)
    first = HostRunner(target, "check", Connector())
    boot_id = first.gather().reboot.boot_id
    first.drop_connection()
    # The lost worker recorded "rebooting from boot_id" and died before sending the reboot.
    guard = RecordingGuard(pending=(boot_id, 1))

    result = HostRunner(target, "apply", Connector(), guard=guard).run()

    assert result.status == "changed" and result.reboots == 1
    assert lab.counters["boots"] == 1  # the reboot the plan needed, once
    assert guard.calls[0] == "rebooted"  # the stale record is cleared first


def test_a_redelivered_job_waits_for_a_reboot_in_progress_instead_of_rebooting_again(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(1, "server2022", reboot_seconds=1.0)
    target = fleet.load(fleet.playbook()).targets[0]
    lab = fleet.host(target.name)
    lost = HostRunner(target, "apply", Connector())
    facts = lost.gather()
    lost.run_script(lost.renderer.apply(lost.make_plan(facts)), "apply")
    lost.run_script(lost.renderer.reboot(target.name, "features"), "reboot")  # then the worker died
    lost.drop_connection()
    time.sleep(0.3)  # the lost worker's lease runs out before the job is delivered again
    guard = RecordingGuard(pending=(facts.reboot.boot_id, 1))

    result = HostRunner(target, "apply", Connector(), guard=guard).run()

    assert result.status == "changed" and result.reboots == 1
    assert lab.counters["boots"] == 1 and lab.counters["reboots"] == 1
    assert "rebooting 2" not in guard.calls
