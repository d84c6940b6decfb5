"""Rollout over a lab fleet (DESIGN 4.7): canary batches, failure thresholds, --retry-failed, host_timeout."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime

import pytest

from provision_lab.api import Faults

from .conftest import DOCKER_VERSION, MakeFleet, validate_report

CANARY_ROLLOUT = {"forks": 50, "serial": [1, "10%", "100%"], "max_fail_percentage": 5}
"""playbooks/site.yml's rollout."""


@pytest.mark.parametrize(("fault", "status"), [("bad_credentials", "failed"), ("unreachable", "unreachable")])
def test_a_failed_canary_halts_the_other_199_hosts_untouched(make_fleet: MakeFleet, fault: str, status: str) -> None:
    fleet = make_fleet(
        200,
        "mixed",
        faults=f"lab-0001={fault};vm-no-nested=latency_ms:20;lab-01[0-4]?=http_500_rate:0.3;"
        "bios-vt-off=download_failure",
    )
    assert len(set(fleet.profiles().values())) >= 8, "the fleet mixes profiles"
    playbook = fleet.playbook(rollout=CANARY_ROLLOUT)
    before = fleet.counters()

    run = fleet.cli("apply", playbook)

    assert run.code == 3
    report = run.report
    validate_report(report)
    statuses = run.statuses()
    assert statuses.pop("lab-0001") == status
    assert len(statuses) == 199 and set(statuses.values()) == {"halted"}
    assert report["summary"] == {status: 1, "halted": 199}
    by_name = {h["name"]: h for h in report["hosts"]}
    assert by_name["lab-0001"]["batch"] == 1
    # The rest keep the batches they would have run in: 10% of 200, then the remaining 179.
    assert Counter(h["batch"] for h in report["hosts"] if h["status"] == "halted") == {2: 20, 3: 179}
    for name in statuses:
        assert by_name[name]["message"] == "halted: batch 1 failed 1 of 1 hosts, over max_fail_percentage 5%"
        assert by_name[name]["facts"] is None and by_name[name]["transport"]["messages"] == 0
    # Only the canary was attempted: no other host saw a connection, a request or a byte.
    contacted = fleet.contacted_since(before)
    assert contacted <= {"lab-0001"}
    if fault == "bad_credentials":
        assert contacted == {"lab-0001"} and fleet.host("lab-0001").counters["http.401"] > 0
        assert "authentication failed" in by_name["lab-0001"]["message"]
    assert "halted (199 hosts: lab-0002, lab-0003, lab-0004, ... (196 more))" in run.out


def test_failures_under_the_threshold_continue_and_over_it_halt(make_fleet: MakeFleet) -> None:
    failing = ["lab-0010", "lab-0050", "lab-0090"]
    fleet = make_fleet(
        110,
        "server2022-converged,server2025-converged",
        faults="lab-0010=unreachable;lab-0050=bad_credentials;lab-0090=unreachable",
    )
    playbook = fleet.playbook(rollout={"forks": 50, "serial": [100, 10], "max_fail_percentage": 5})

    run = fleet.cli("check", playbook)

    # 3 of 100 is under 5%: batch 2 runs, and the failures are reported.
    assert run.code == 3
    validate_report(run.report)
    statuses = run.statuses()
    assert {n: statuses[n] for n in failing} == {
        "lab-0010": "unreachable",
        "lab-0050": "failed",
        "lab-0090": "unreachable",
    }
    assert {n for n, s in statuses.items() if s != "ok"} == set(failing)
    second = [h for h in run.report["hosts"] if h["batch"] == 2]
    assert [h["name"] for h in second] == [f"lab-{i:04d}" for i in range(101, 111)]
    assert all(h["status"] == "ok" and h["facts"] is not None for h in second)
    assert run.report["summary"] == {"ok": 107, "unreachable": 2, "failed": 1}
    for name, status in (("lab-0010", "unreachable"), ("lab-0050", "failed"), ("lab-0090", "unreachable")):
        assert f"{status} (1 host: {name}): " in run.out

    # Three more failures make 6 of 100, over 5%: batch 2 is halted and never contacted.
    for name in ("lab-0020", "lab-0030", "lab-0040"):
        fleet.host(name).faults.unreachable = True
    before = fleet.counters()
    run = fleet.cli("check", playbook)
    assert run.code == 3
    statuses = run.statuses()
    assert Counter(statuses.values()) == {"ok": 94, "unreachable": 5, "failed": 1, "halted": 10}
    assert {n for n, s in statuses.items() if s == "halted"} == {f"lab-{i:04d}" for i in range(101, 111)}
    assert not fleet.contacted_since(before) & {f"lab-{i:04d}" for i in range(101, 111)}
    assert "halted: batch 1 failed 6 of 100 hosts, over max_fail_percentage 5%" in run.out


def test_retry_failed_attempts_only_the_failed_hosts_and_converges_them(make_fleet: MakeFleet) -> None:
    # lab-0004, 0008, 0012, 0016, 0020, 0024 are fresh Server 2022 hosts; the rest are converged.
    fleet = make_fleet(
        24,
        "server2022-converged:3,server2022",
        faults="lab-0004=download_failure;lab-0008=bad_credentials;lab-0007=unreachable;lab-0012=http_500_rate:1",
    )
    playbook = fleet.playbook()

    first = fleet.cli("apply", playbook)

    assert first.code == 3
    validate_report(first.report)
    failed = {n for n, s in first.statuses().items() if s not in {"ok", "changed"}}
    assert failed == {"lab-0004", "lab-0007", "lab-0008", "lab-0012"}
    assert {n for n, s in first.statuses().items() if s == "changed"} == {"lab-0016", "lab-0020", "lab-0024"}
    assert "(404) Not Found" in {h["name"]: h for h in first.report["hosts"]}["lab-0004"]["message"]

    # The faults are repaired on the hosts themselves.
    defaults = Faults()
    for name in failed:
        for item in dataclasses.fields(Faults):
            setattr(fleet.host(name).faults, item.name, getattr(defaults, item.name))
    before = fleet.counters()

    retry = fleet.cli("apply", playbook, "--retry-failed", first.files["report"])

    assert retry.code == 0
    validate_report(retry.report)
    # The fresh hosts are converged now; lab-0007 was converged already and only unreachable.
    assert retry.statuses() == {"lab-0004": "changed", "lab-0007": "ok", "lab-0008": "changed", "lab-0012": "changed"}
    assert fleet.contacted_since(before) == failed
    for name in failed:
        state = fleet.host(name).snapshot()
        assert state["features"] == {"Containers": "Enabled", "Microsoft-Hyper-V": "Enabled"}
        assert set(state["engines"].values()) == {DOCKER_VERSION}
        assert state["services"]["docker"]["status"] == "Running"
    # And the whole fleet is now in state.
    check = fleet.cli("check", playbook)
    assert check.code == 0 and set(check.statuses().values()) == {"ok"} and len(check.statuses()) == 24


def test_a_host_that_hangs_does_not_hold_up_the_others_beyond_its_host_timeout(make_fleet: MakeFleet) -> None:
    host_timeout = 2.0
    slack = 3.0
    """Seconds past host_timeout allowed for giving the host up and finishing the run: far below
    the transport's 30 s read timeout, which is how long the hung call itself can block."""
    # Every answer from lab-0003 takes ten minutes: its first request blocks in a socket read.
    fleet = make_fleet(12, "server2022-converged", faults="lab-0003=latency_ms:600000")
    playbook = fleet.playbook(rollout={"forks": 50, "serial": [6, "100%"], "host_timeout": host_timeout})

    run = fleet.cli("check", playbook, events=True)

    assert run.code == 3
    validate_report(run.report)
    hosts = {h["name"]: h for h in run.report["hosts"]}
    hung = hosts.pop("lab-0003")
    assert hung["status"] == "failed"
    assert "host_timeout of 2 s" in hung["message"]
    assert host_timeout <= hung["duration"] < host_timeout + slack
    assert {h["status"] for h in hosts.values()} == {"ok"}
    # The others finished promptly, and batch 2 started as soon as the hung host was given up on,
    # not after the transport's 30 s read timeout.
    assert max(h["duration"] for h in hosts.values()) < host_timeout
    times = {e["host"]: datetime.fromisoformat(e["time"]) for e in run.events if e["kind"] == "host.result"}
    start = min(datetime.fromisoformat(e["time"]) for e in run.events)
    assert max((times[f"lab-{i:04d}"] - start).total_seconds() for i in range(7, 13)) < host_timeout + slack
    assert run.seconds < host_timeout + slack + 1
    fleet.stop()  # the hung call returns once the lab closes its connection
