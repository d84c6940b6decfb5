"""HostRunner's reboot with a HostGuard (the Celery executor's hooks) and a restart the host schedules: the
reboot script is sent once, and a job delivered again waits for the reboot an earlier delivery issued."""

from __future__ import annotations

import pytest

from provisioner.transport import TransportError

from .conftest import FakeTime, MakeBook
from .fakehost import FakeHost, RecordingGuard, fixture_facts
from .test_host import CONVERGED, fresh_host, runner


def lost_answer() -> TransportError:
    return TransportError("h1", "connection reset by the WinRM service", kind="reset", retryable=True)


def test_a_reboot_whose_answer_was_lost_is_not_sent_again_once_the_restart_is_scheduled(
    make_book: MakeBook, fake_time: FakeTime
) -> None:
    # The reboot block wrote its volatile key and scheduled the restart after the users' warning; the
    # answer was lost. The host still answers with its old boot id: the key says the reboot was received.
    host = fresh_host(reboots=1, restart_delay=3, reboot_faults=[lost_answer()])
    run, events = runner(make_book, host, fake_time, reboot={"poll_interval": 1})
    result = run.run()
    assert (result.status, result.reboots) == ("changed", 1)
    assert host.phases.count("reboot") == 1
    assert not [e for e in events if e.kind == "retry"]


def test_a_reboot_lost_before_the_host_got_it_is_sent_again(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(reboots=1, faults=[None, None, lost_answer()])  # facts, apply, then the reboot is lost
    run, events = runner(make_book, host, fake_time, reboot={"poll_interval": 1})
    result = run.run()
    assert (result.status, result.reboots) == ("changed", 1)
    assert host.phases.count("reboot") == 1  # the lost attempt never reached the host
    assert [e.kind for e in events].count("retry") == 1


@pytest.mark.parametrize("boot_id_drifted", [False, True])
def test_a_redelivered_job_that_finds_the_restart_scheduled_waits_for_it(
    make_book: MakeBook, fake_time: FakeTime, boot_id_drifted: bool
) -> None:
    host = FakeHost(fixture_facts(CONVERGED), fixture_facts(CONVERGED), restart_delay=3)
    lost, _ = runner(make_book, host, fake_time, reboot={"poll_interval": 1})
    lost.run_script(lost.renderer.reboot("h1", "features", 300), "reboot")  # then its worker died
    if boot_id_drifted:  # LastBootUpTime moves on VMs without a reboot (F8): only the key says it is pending
        host.boot = 5
    guard = RecordingGuard(pending=("boot-0", 1))
    run, events = runner(make_book, host, fake_time, guard=guard, reboot={"poll_interval": 1})
    result = run.run()
    assert (result.status, result.reboots) == ("ok", 1)
    assert host.phases.count("reboot") == 1
    assert [e.kind for e in events if e.kind.startswith("reboot")] == ["reboot.resume", "rebooted"]
    assert guard.calls[0] == "rebooted" and not [c for c in guard.calls if c.startswith("rebooting")]


def test_a_restart_the_host_refuses_fails_at_once_instead_of_waiting_out_the_reboot(
    make_book: MakeBook, fake_time: FakeTime
) -> None:
    refusal = "shutdown.exe exited 1190: A system shutdown has already been scheduled.(1190)"
    host = fresh_host(reboots=1, failing={"reboot": refusal})
    guard = RecordingGuard()
    run, _ = runner(make_book, host, fake_time, guard=guard, reboot={"timeout": 600})
    result = run.run()
    assert (result.status, result.message, result.reboots) == ("failed", f"reboot: {refusal}", 0)
    assert sum(fake_time.sleeps) == 0  # no wait for a boot that will not come
    assert guard.calls[-1] == "rebooted"  # the guard is not left believing the host is mid-reboot


def test_an_interrupt_before_the_reboot_sends_none_and_counts_none(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(reboots=1)
    run, _ = runner(make_book, host, fake_time)
    host.after = lambda phase: run.interrupt.set() if phase == "apply" else None
    result = run.run()
    assert (result.status, result.message, result.reboots) == ("interrupted", "interrupted before the reboot script", 0)
    assert "reboot" not in host.phases
