"""Ctrl-C and SIGTERM during a fleet run (DESIGN 4.5, 4.7): real signals to this process while
``cli.run`` runs in the main thread, as a user's Ctrl-C would arrive."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

from .conftest import MakeFleet, follow_events, send_sigint, validate_report

NOT_STARTED = "not started: the run was interrupted"


def results(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["kind"] == "host.result")


def test_sigint_mid_apply_writes_the_report_and_a_rerun_converges_everything(
    make_fleet: MakeFleet, sigint_guard: list[int]
) -> None:
    # 100 hosts whose daemon.json differs from the spec (log-level): each apply rewrites it,
    # restarts the engine and verifies; a little latency keeps ten of them in flight at any time.
    fleet = make_fleet(100, "server2022-converged", faults="*=latency_ms:10")
    playbook = fleet.playbook(rollout={"forks": 10}, spec={"daemon": {"log-level": "info"}})
    before = fleet.counters()
    watcher = follow_events(fleet.upcoming("events"), lambda events: results(events) >= 15, send_sigint)

    run = fleet.cli("apply", playbook, events=True)

    watcher.join(timeout=5)
    assert not watcher.is_alive()
    assert run.code == 130
    assert not sigint_guard, "the signal reached cli.run's handler, not the one around the test"
    report = run.report
    validate_report(report)
    assert len(report["hosts"]) == 100
    statuses = Counter(h["status"] for h in report["hosts"])
    assert set(statuses) == {"changed", "interrupted"}
    assert statuses["changed"] >= 15
    interrupted = [h for h in report["hosts"] if h["status"] == "interrupted"]
    in_flight = [h for h in interrupted if h["message"] != NOT_STARTED]
    not_started = [h for h in interrupted if h["message"] == NOT_STARTED]
    # Hosts in flight (at most the 10 forks) stopped before their next script, having done part
    # of their work (a host picked up just as the signal came may have done none)...
    assert 1 <= len(in_flight) <= 10
    for host in in_flight:
        assert host["message"].startswith("interrupted "), host["message"]
        assert host["error"] == host["message"]
        if host["transport"]["scripts"] == 0:
            assert host["message"] == "interrupted before the facts script"
    assert any(h["facts"] is not None and h["transport"]["scripts"] >= 1 for h in in_flight)
    # ...and no host started after the signal: most were never contacted.
    assert len(not_started) >= 50
    untouched = set(fleet.names) - fleet.contacted_since(before)
    assert untouched == {h["name"] for h in interrupted if h["transport"]["messages"] == 0}
    assert untouched >= {h["name"] for h in not_started}
    assert all(h["facts"] is None for h in not_started)

    # A rerun converges every host, interrupted or not; the converged ones are left alone.
    for model in fleet.hosts.values():
        model.faults.latency_ms = 0
    rerun = fleet.cli("apply", playbook, "--forks", "50")
    assert rerun.code == 0
    validate_report(rerun.report)
    again = rerun.statuses()
    first = run.statuses()
    assert all(again[n] == "ok" for n, s in first.items() if s == "changed")
    assert all(again[n] == "changed" for n in untouched)
    assert set(again.values()) <= {"ok", "changed"}
    for model in fleet.hosts.values():
        daemon = json.loads(model.snapshot()["files"][r"C:\ProgramData\docker\config\daemon.json"]["content"])
        assert daemon["log-level"] == "info", model.name


def test_a_second_interrupt_aborts_at_once_and_still_writes_what_it_has(
    make_fleet: MakeFleet, sigint_guard: list[int]
) -> None:
    # Every answer takes a second: a host's facts script (five WS-Man messages) takes about five.
    fleet = make_fleet(12, "server2022-converged", faults="*=latency_ms:1000")
    playbook = fleet.playbook(rollout={"forks": 4})
    signals: list[float] = []

    def twice() -> None:
        time.sleep(0.5)  # the four hosts are inside their first script by now
        signals.append(time.monotonic())
        send_sigint()
        time.sleep(0.4)
        signals.append(time.monotonic())
        send_sigint()

    watcher = follow_events(
        fleet.upcoming("events"), lambda events: sum(e["kind"] == "host.facts" for e in events) >= 4, twice
    )
    crashed: list[threading.ExceptHookArgs] = []
    previous_hook = threading.excepthook
    threading.excepthook = crashed.append
    try:
        run = fleet.cli("check", playbook, events=True)
        ended = time.monotonic()
        watcher.join(timeout=5)
        assert len(signals) == 2 and not sigint_guard

        # The first signal did not end the run (hosts in flight were mid-script); the second did, at once.
        assert ended > signals[1]
        assert ended - signals[1] < 1.5  # the hosts in flight needed about four more seconds
        assert run.code == 130
        report = run.report
        validate_report(report)
        assert [h["name"] for h in report["hosts"]] == fleet.names
        assert report["summary"] == {"interrupted": 12}
        messages = Counter(h["message"] for h in report["hosts"])
        assert messages == {"aborted in flight by a second interrupt": 4, NOT_STARTED: 8}
        for host in report["hosts"]:
            if host["message"] != NOT_STARTED:
                assert host["duration"] >= 0.4  # how long it ran before it was given up
        assert all(line.endswith("}") for line in run.files["events"].read_text().splitlines())

        # The abandoned hosts finish their script in the background after the run returned; what
        # they report then goes nowhere and breaks nothing.
        for model in fleet.hosts.values():
            model.faults.latency_ms = 0
        deadline = time.monotonic() + 15
        while any(t.name.startswith("provision-fork-") for t in threading.enumerate()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(t.name.startswith("provision-fork-") for t in threading.enumerate())
        assert not crashed, [
            f"{c.thread.name if c.thread else '?'}: {c.exc_type.__name__}: {c.exc_value}" for c in crashed
        ]
        assert json.loads(run.files["report"].read_text()) == report
    finally:
        threading.excepthook = previous_hook
