"""HostRunner on MemoryConnection: converge, retries, reboots, deadlines and interrupts (DESIGN 4.4)."""

from __future__ import annotations

import socket
import threading
from typing import Any, Literal

import pytest

from provisioner.engine.host import RETRIES, Event, HostGuard, HostRunner
from provisioner.transport import TransportError

from .conftest import FakeTime, MakeBook, SocketUsed, target
from .fakehost import FakeHost, fixture_facts

FRESH, CONVERGED = "server2022", "server2022-converged"


def fresh_host(**settings: Any) -> FakeHost:
    return FakeHost(fixture_facts(FRESH), fixture_facts(CONVERGED), **settings)


def runner(
    make_book: MakeBook,
    host: FakeHost,
    time: FakeTime,
    mode: Literal["apply", "check"] = "apply",
    guard: HostGuard | None = None,
    **play: Any,
) -> tuple[HostRunner, list[Event]]:
    events: list[Event] = []
    run = HostRunner(
        target(make_book(**play)),
        mode,
        host.connect,
        on_event=events.append,
        clock=time.clock,
        sleep=time.sleep,
        guard=guard,
    )
    return run, events


def http_500() -> TransportError:
    return TransportError("h1", "HTTP 500 from the WinRM service at 127.0.0.1:5985", kind="http", retryable=True)


def test_the_socket_guard_fires() -> None:
    with pytest.raises(SocketUsed):
        socket.create_connection(("127.0.0.1", 5985))
    with pytest.raises(SocketUsed):
        socket.socket()


def test_a_fresh_host_converges_in_facts_apply_facts_verify(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host()
    run, events = runner(make_book, host, fake_time)
    result = run.run()
    assert (result.status, result.message, result.reboots) == ("changed", "", 0)
    assert host.phases == ["facts", "apply", "facts", "verify"]
    assert [(r.id, r.status) for r in result.resources] == [
        ("feature/Containers", "changed"),
        ("engine/docker", "changed"),
        ("daemon/config", "changed"),
    ]
    assert result.verify is not None and result.verify["ok"] is True
    assert result.counters.scripts == 4 and host.connections == 1
    assert [e.kind for e in events] == ["facts", "apply", "facts", "verify", "done"]
    assert fake_time.sleeps == []


def test_check_mode_reports_drift_and_sends_no_apply(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host()
    run, _ = runner(make_book, host, fake_time, mode="check")
    result = run.run()
    assert result.status == "drift"
    assert host.phases == ["facts"]
    assert {r.status for r in result.resources} == {"drift"}


def test_a_script_is_retried_after_http_500_with_backoff(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(faults=[http_500(), http_500()])
    run, events = runner(make_book, host, fake_time)
    result = run.run()
    assert result.status == "changed"
    retries = [e.message for e in events if e.kind == "retry"]
    assert retries == [
        f"facts: HTTP 500 from the WinRM service at 127.0.0.1:5985; retrying (1/{RETRIES - 1})",
        f"facts: HTTP 500 from the WinRM service at 127.0.0.1:5985; retrying (2/{RETRIES - 1})",
    ]
    assert fake_time.sleeps == [0.2, 0.4]
    # Each failed attempt drops its connection; the next one opens a new one.
    assert host.connections == 3


def test_retries_end_after_the_last_attempt(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(faults=[http_500() for _ in range(RETRIES)])
    run, events = runner(make_book, host, fake_time)
    result = run.run()
    assert (result.status, result.message) == ("failed", "HTTP 500 from the WinRM service at 127.0.0.1:5985")
    assert len([e for e in events if e.kind == "retry"]) == RETRIES - 1
    assert host.phases == []
    assert fake_time.sleeps == [0.2, 0.4, 0.8, 1.6]


def test_an_error_that_is_not_retryable_is_not_retried(make_book: MakeBook, fake_time: FakeTime) -> None:
    denied = TransportError("h1", "authentication failed: ntlm credentials were rejected", kind="auth")
    host = fresh_host(faults=[denied])
    run, events = runner(make_book, host, fake_time)
    result = run.run()
    assert (result.status, result.message) == ("failed", "authentication failed: ntlm credentials were rejected")
    assert [e.kind for e in events] == ["facts", "done"] and host.connections == 1


def test_a_refused_first_connection_is_unreachable(make_book: MakeBook, fake_time: FakeTime) -> None:
    refused = TransportError("h1", "connection refused: nothing listening on 127.0.0.1:5985", kind="refused")
    host = fresh_host(faults=[refused])
    run, _ = runner(make_book, host, fake_time)
    assert run.run().status == "unreachable"


def test_a_retried_apply_counts_as_changed_though_its_blocks_found_the_work_done(
    make_book: MakeBook, fake_time: FakeTime
) -> None:
    # The first APPLY made its changes and its answer was lost (a reset on Receive); the retry's blocks
    # report unchanged, but the host did change in this run.
    reset = TransportError("h1", "connection to 127.0.0.1:5985 dropped", kind="reset", retryable=True)
    host = fresh_host(apply_faults=[reset])
    run, _ = runner(make_book, host, fake_time)
    result = run.run()
    assert host.phases == ["facts", "apply", "apply", "facts", "verify"]
    assert result.status == "changed"
    assert {r.status for r in result.resources} == {"changed"}


def test_a_failed_block_fails_the_host_with_its_message(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(failing={"engine/docker": "download failed: 404"})
    run, _ = runner(make_book, host, fake_time)
    result = run.run()
    assert (result.status, result.message) == ("failed", "engine/docker: download failed: 404")
    assert [(r.id, r.status) for r in result.resources] == [
        ("feature/Containers", "changed"),
        ("engine/docker", "failed"),
    ]


def test_a_reboot_is_polled_until_the_boot_id_changes(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(reboots=1)
    # Two polls find the host down before it answers with a new boot id.
    down = TransportError("h1", "connection refused: nothing listening on 127.0.0.1:5985", kind="refused")

    def after(phase: str) -> None:
        if phase == "reboot":
            host.faults += [down, down]

    host.after = after
    run, events = runner(make_book, host, fake_time, reboot={"poll_interval": 2, "poll_backoff": 3, "poll_max": 10})
    result = run.run()
    assert (result.status, result.reboots) == ("changed", 1)
    assert host.phases == ["facts", "apply", "reboot", "facts", "verify"]
    # poll_interval, then backed off by poll_backoff up to poll_max.
    assert fake_time.sleeps == [2, 6, 10]
    assert [e.kind for e in events].count("rebooted") == 1


def test_reboot_policy_never_leaves_the_host_reboot_required(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(reboots=1)
    run, _ = runner(make_book, host, fake_time, reboot={"policy": "never"})
    result = run.run()
    assert (result.status, result.reboots) == ("reboot_required", 0)
    assert "reboot" not in host.phases


def test_max_per_run_stops_a_host_that_keeps_asking_for_reboots(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(reboots=10)
    run, _ = runner(make_book, host, fake_time, reboot={"max_per_run": 2, "poll_interval": 0.5})
    result = run.run()
    assert (result.status, result.reboots) == ("failed", 2)
    assert result.message == "needs another reboot but reboot.max_per_run (2) is reached"
    assert host.phases.count("reboot") == 2


def test_a_host_that_keeps_its_boot_id_did_not_come_back(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host(reboots=1, boot_id_sticks=True)
    run, _ = runner(make_book, host, fake_time, reboot={"timeout": 30, "poll_interval": 4, "poll_backoff": 2})
    result = run.run()
    assert result.status == "failed"
    assert result.message == (
        "did not come back within 30 s after the reboot; last attempt: "
        "it still answers with the boot id it had before (boot-0)"
    )
    # Backoff 4, 8, then poll_max (15); the last poll is at the deadline itself, not one interval short of it.
    assert fake_time.sleeps == [4, 8, 15, 3]


def test_host_timeout_ends_the_host_between_scripts(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host()

    def slow(phase: str) -> None:
        fake_time.now += 40  # every script takes 40 s of the host's 100

    host.after = slow
    run, _ = runner(make_book, host, fake_time, rollout={"host_timeout": 100})
    result = run.run()
    assert (result.status, result.message) == ("failed", "host_timeout of 100 s reached")
    assert host.phases == ["facts", "apply", "facts"]


def test_an_interrupt_ends_the_host_before_its_next_script(make_book: MakeBook, fake_time: FakeTime) -> None:
    host = fresh_host()
    stop = threading.Event()
    host.after = lambda phase: stop.set() if phase == "apply" else None
    events: list[Event] = []
    run = HostRunner(
        target(make_book()),
        "apply",
        host.connect,
        on_event=events.append,
        clock=fake_time.clock,
        sleep=fake_time.sleep,
        interrupt=stop,
    )
    result = run.run()
    assert (result.status, result.message) == ("interrupted", "interrupted before the facts script")
    assert host.phases == ["facts", "apply"]
    # What the APPLY did is reported.
    assert {r.status for r in result.resources} == {"changed"}


def test_no_poll_for_the_new_boot_may_last_past_the_reboot_wait(make_book: MakeBook, fake_time: FakeTime) -> None:
    # A host that accepts the connection but hangs while it boots held each poll for the script's 600 s.
    host = fresh_host(reboots=1, boot_id_sticks=True)
    run, _ = runner(make_book, host, fake_time, reboot={"timeout": 30, "poll_interval": 4})
    assert run.run().status == "failed"
    polls = [t for phase, t in zip(host.phases, host.timeouts, strict=True) if phase == "facts"][1:]
    assert polls and all(t <= 30 for t in polls), polls
