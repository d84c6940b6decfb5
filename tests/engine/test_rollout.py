"""run_playbook on MemoryConnection: batches, failure thresholds, halts, interrupts, contained crashes (DESIGN 4.7)."""

from __future__ import annotations

import threading

import pytest

from provisioner.engine.host import HostResult
from provisioner.engine.rollout import Interrupt, exit_code, run_playbook
from provisioner.transport.memory import MemoryConnection
from provisioner.transport.settings import ConnectionSettings

from .conftest import MakeBook
from .fakehost import FakeHost, fixture_facts

HOSTS = ["h1", "h2", "h3", "h4"]


class Fleet:
    """One FakeHost per name, and the engine's ``connect`` that reaches them."""

    def __init__(self, names: list[str], fresh: bool = False) -> None:
        start = "server2022" if fresh else "server2022-converged"
        self.hosts = {name: FakeHost(fixture_facts(start), fixture_facts("server2022-converged")) for name in names}

    def connect(self, host: str, settings: ConnectionSettings) -> MemoryConnection:
        return self.hosts[host].connect(host, settings)


def statuses(results: list[HostResult]) -> dict[str, str]:
    return {r.name: r.status for r in results}


def test_a_batch_over_max_fail_percentage_halts_the_rest(make_book: MakeBook) -> None:
    fleet = Fleet(HOSTS, fresh=True)
    fleet.hosts["h1"].failing = {"engine/docker": "download failed"}
    book = make_book(HOSTS, rollout={"serial": 1, "max_fail_percentage": 0})
    seen: list[tuple[int, int, int]] = []
    results = run_playbook(book, "apply", fleet.connect, on_batch=lambda *batch: seen.append(batch))
    assert statuses(results) == {"h1": "failed", "h2": "halted", "h3": "halted", "h4": "halted"}
    assert {r.message for r in results[1:]} == {"halted: batch 1 failed 1 of 1 hosts, over max_fail_percentage 0%"}
    assert seen == [(1, 4, 1)]
    assert [r.batch for r in results] == [1, 2, 3, 4]
    assert all(not fleet.hosts[name].phases for name in ("h2", "h3", "h4"))
    assert exit_code(results) == 3


def test_a_failure_under_the_threshold_does_not_halt(make_book: MakeBook) -> None:
    fleet = Fleet(HOSTS, fresh=True)
    fleet.hosts["h1"].failing = {"engine/docker": "download failed"}
    book = make_book(HOSTS, rollout={"serial": 2, "max_fail_percentage": 50})
    results = run_playbook(book, "apply", fleet.connect)
    assert statuses(results) == {"h1": "failed", "h2": "changed", "h3": "changed", "h4": "changed"}


def test_any_errors_fatal_halts_after_the_first_failing_batch(make_book: MakeBook) -> None:
    fleet = Fleet(HOSTS)
    fleet.hosts["h2"].failing = {"facts": "Get-CimInstance: access denied"}
    book = make_book(HOSTS, rollout={"serial": 2, "any_errors_fatal": True})
    results = run_playbook(book, "check", fleet.connect)
    assert statuses(results) == {"h1": "ok", "h2": "failed", "h3": "halted", "h4": "halted"}
    assert results[1].message == "facts: Get-CimInstance: access denied"
    assert results[2].message == "halted: batch 1 had a failure and any_errors_fatal is set"


@pytest.mark.parametrize("forks", [1, 3])
def test_one_hosts_exception_does_not_end_the_run(make_book: MakeBook, forks: int) -> None:
    fleet = Fleet(["h1", "h2", "h3"], fresh=True)

    def crash(phase: str) -> None:
        if phase == "apply":
            raise RuntimeError("template bug on h2")

    fleet.hosts["h2"].after = crash
    results = run_playbook(make_book(["h1", "h2", "h3"]), "apply", fleet.connect, forks=forks)
    assert statuses(results) == {"h1": "changed", "h2": "failed", "h3": "changed"}
    assert results[1].message == "internal error: RuntimeError: template bug on h2"
    assert results[1].facts is not None  # it got as far as its facts
    assert fleet.hosts["h3"].phases == ["facts", "apply", "facts", "verify"]


def test_an_interrupt_before_a_batch_starts_none_of_its_hosts(make_book: MakeBook) -> None:
    fleet = Fleet(HOSTS)
    interrupt = Interrupt()

    def on_batch(number: int, total: int, size: int) -> None:
        if number == 2:
            interrupt.signal()

    book = make_book(HOSTS, rollout={"serial": 1})
    results = run_playbook(book, "check", fleet.connect, interrupt=interrupt, on_batch=on_batch)
    assert statuses(results) == {"h1": "ok", "h2": "interrupted", "h3": "interrupted", "h4": "interrupted"}
    assert {r.message for r in results[1:]} == {"not started: the run was interrupted"}
    assert exit_code(results) == 130


def test_only_runs_the_named_hosts_and_every_result_reaches_the_sink(make_book: MakeBook) -> None:
    fleet = Fleet(HOSTS)
    delivered: list[str] = []

    class Sink:
        def host_result(self, target: object, result: HostResult) -> None:
            delivered.append(result.name)

    results = run_playbook(make_book(HOSTS), "check", fleet.connect, only={"h2", "h4"}, sink=Sink())
    assert statuses(results) == {"h2": "ok", "h4": "ok"}
    assert sorted(delivered) == ["h2", "h4"]
    assert not fleet.hosts["h1"].phases and not fleet.hosts["h3"].phases


def test_a_host_blocked_in_a_call_past_host_timeout_is_abandoned(make_book: MakeBook) -> None:
    # A socket read can outlast the runner's own deadline checks; the batch gives up on the host
    # ABANDON_GRACE after its host_timeout instead of waiting for the call (DESIGN 4.7).
    fleet = Fleet(["h1"])
    release = threading.Event()

    def hang(phase: str) -> None:
        release.wait(30)  # the FACTS answer never comes back while the test runs

    fleet.hosts["h1"].after = hang
    try:
        results = run_playbook(make_book(["h1"], rollout={"host_timeout": 0.3}), "check", fleet.connect)
    finally:
        release.set()
    assert statuses(results) == {"h1": "failed"}
    assert results[0].message == "host_timeout of 0.3 s reached with a call to the host still blocked; abandoned"
