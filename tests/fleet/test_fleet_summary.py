"""A fleet's summary groups what repeats: 500 hosts with the same drift read as one line."""

from __future__ import annotations

import io
from collections import Counter

from provisioner.report.console import print_results

from .conftest import MakeFleet


def test_500_hosts_with_the_same_drift_print_as_one_grouped_line(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(500, "server2022-converged:3,server2025-converged")
    # Every host's daemon.json says log-level warn and the spec wants info; on seven hosts the
    # engine was also stopped by hand.
    stopped = ["lab-0011", "lab-0042", "lab-0123", "lab-0200", "lab-0333", "lab-0404", "lab-0499"]
    for name in stopped:
        fleet.host(name).stop_service("docker")
    playbook = fleet.playbook(rollout={"forks": 50}, spec={"daemon": {"log-level": "info"}})

    results = fleet.run(playbook, "check")

    assert Counter(r.status for r in results) == {"drift": 500}
    diffs = Counter(
        (r.name in stopped, tuple(sorted(d.path for res in r.resources for d in res.diff))) for r in results
    )
    assert diffs == {(False, ("daemon.log-level",)): 493, (True, ("daemon.log-level", "engine.service.status")): 7}
    out = io.StringIO()
    print_results(results, "check", out)
    lines = out.getvalue().splitlines()

    assert len(lines) <= 6, lines
    assert lines[0] == "drift:"
    log_level = [line for line in lines if "log-level" in line]
    assert log_level == ["  daemon.log-level: warn -> info  (500 hosts: lab-0001, lab-0002, lab-0003, ... (497 more))"]
    engine = [line for line in lines if "engine" in line]
    assert engine == [
        "  engine.service.status: Stopped -> Running  (7 hosts: lab-0011, lab-0042, lab-0123, ... (4 more))"
    ]
    assert lines[-1] == "summary (500 hosts): 500 drift"
    # No host is listed on a line of its own.
    assert sum(line.count("lab-") for line in lines) == 6
