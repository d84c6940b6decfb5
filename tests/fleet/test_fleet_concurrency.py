"""Many hosts at once: whole output lines, one host's crash contained, forks really parallel."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

import pytest

import provisioner.plan
from provisioner.engine import host as host_module

from .conftest import MakeFleet, validate_report

SUMMARY_LINE = re.compile(
    r"^(batch \d+/\d+: \d+ hosts?"  # a batch starts
    r"|(changes|drift):"  # grouped summary headings
    r"|  \S+: .* -> .*  \(\d+ hosts?: [^()]*( \.\.\. \(\d+ more\))?\)"  # one grouped change
    r"|[a-z_]+ \(\d+ hosts?: [^()]*( \.\.\. \(\d+ more\))?\): .*"  # one grouped problem
    r"|summary \(\d+ hosts\): .*)$"
)
HOST_LINE = re.compile(r"^\[(lab-\d{4})\] (.+)$")


def test_plain_output_is_whole_lines_one_per_event(make_fleet: MakeFleet) -> None:
    # 40 hosts in parallel, each applying (facts, apply, facts, verify; the fresh ones also
    # reboot): about 200 lines written from 40 threads.
    fleet = make_fleet(40, "server2022-converged:4,server2022")
    playbook = fleet.playbook(rollout={"forks": 40}, spec={"daemon": {"log-level": "info"}})

    run = fleet.cli("apply", playbook, "--output", "plain", events=True)

    assert run.code == 0
    lines = run.out.splitlines()
    by_host: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        match = HOST_LINE.match(line)
        if match:
            name, text = match.groups()
            assert name in fleet.hosts, line
            assert "[lab-" not in text and "\x1b" not in text, f"two writes in one line: {line!r}"
            by_host[name].append(text)
        else:
            assert SUMMARY_LINE.match(line), f"not a whole line of the plain output: {line!r}"
    # Every event and result of every host is one whole line, none lost, none merged: the
    # console says exactly what the events file recorded, in the same order per host.
    expected: dict[str, list[str]] = defaultdict(list)
    for event in run.events:
        if event["kind"] == "host.result":
            expected[event["host"]].append(event["status"] + (f": {event['message']}" if event["message"] else ""))
        elif event["kind"] != "host.done":
            expected[event["host"]].append(event["message"])
    assert by_host == expected
    assert Counter(texts[-1] for texts in by_host.values()) == {"changed": 40}
    assert sum(1 for texts in by_host.values() for t in texts if t.startswith("rebooting")) == 8
    assert lines[-1] == "summary (40 hosts): 40 changed"


@pytest.mark.parametrize("forks", [1, 8])
def test_one_hosts_exception_does_not_end_the_run(
    make_fleet: MakeFleet, monkeypatch: pytest.MonkeyPatch, forks: int
) -> None:
    fleet = make_fleet(8, "server2022-converged,server2025-converged")
    playbook = fleet.playbook(rollout={"forks": forks})
    real_plan = provisioner.plan.plan

    def plan(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "lab-0003":
            raise RuntimeError("planner bug on lab-0003")
        return real_plan(name, *args, **kwargs)

    monkeypatch.setattr(host_module, "plan", plan)
    before = fleet.counters()

    run = fleet.cli("check", playbook)

    assert run.code == 3
    validate_report(run.report)
    hosts = {h["name"]: h for h in run.report["hosts"]}
    broken = hosts.pop("lab-0003")
    assert broken["status"] == "failed"
    assert broken["message"] == "internal error: RuntimeError: planner bug on lab-0003"
    assert broken["facts"] is not None  # it got as far as its facts
    # Every other host ran, those after it in the same (single) fork included.
    assert {h["status"] for h in hosts.values()} == {"ok"}
    assert fleet.contacted_since(before) == set(fleet.names)


def test_forks_run_hosts_in_parallel(make_fleet: MakeFleet) -> None:
    # 100 ms on every answer: a check (five WS-Man messages) takes at least half a second per
    # host whatever the CPU does, so wall time shows whether hosts overlapped.
    fleet = make_fleet(8, "server2022-converged", faults="*=latency_ms:100")
    playbook = fleet.playbook(rollout={"forks": 50})

    sequential = fleet.cli(
        "check", playbook, "--forks", "1", "--limit", "~lab-000[1-4]"
    )  # an Ansible regex: [1-4] alone is a subscript Ansible removed
    parallel = fleet.cli("check", playbook, "--forks", "8")

    assert sequential.code == parallel.code == 0
    assert len(sequential.report["hosts"]) == 4 and len(parallel.report["hosts"]) == 8
    seq_work = sum(h["duration"] for h in sequential.report["hosts"])
    par_work = sum(h["duration"] for h in parallel.report["hosts"])
    assert min(h["duration"] for h in parallel.report["hosts"]) >= 0.5
    # One fork: the hosts ran one after another.
    assert sequential.seconds >= 0.95 * seq_work
    # Eight forks: twice the hosts in a fraction of the time their work adds up to.
    assert parallel.seconds < 0.5 * par_work
    assert parallel.seconds < sequential.seconds
