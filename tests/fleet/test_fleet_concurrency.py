"""Many hosts at once: whole output lines, forks really parallel (one host's crash contained: tests/engine/test_rollout.py)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from .conftest import MakeFleet

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
