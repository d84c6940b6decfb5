"""`provision check` on a converged host: exit 0; drift is reported per property, changes nothing,
and `apply` repairs it (DESIGN 1, 4.5, 4.6)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from provision_lab.windows.host import DAEMON_JSON

from .conftest import E2ELab


def spent(lab: E2ELab, name: str, before: Counter[str]) -> Counter[str]:
    after = lab.counters(name)
    return Counter({key: after[key] - before[key] for key in after if after[key] != before[key]})


def test_check_reports_each_drifted_property_changes_nothing_and_apply_repairs(
    e2e_lab: Callable[..., E2ELab], transport: str
) -> None:
    lab = e2e_lab({"web1": "server2022"})
    playbook = lab.setup(transport)
    assert lab.run(playbook).host("web1").status == "changed"

    clean = lab.cli("check", playbook, report=True)

    assert clean.code == 0, clean.out + clean.err
    assert clean.report_host("web1")["status"] == "ok"
    assert clean.report is not None and clean.report["mode"] == "check"
    assert clean.report_host("web1")["resources"] == []

    host = lab.host("web1")
    host.set_feature("Containers", "Disabled")
    host.set_daemon_key("log-level", json.dumps("debug"))
    host.stop_service("docker")
    drifted = lab.snapshot("web1")
    before = lab.counters("web1")

    check = lab.cli("check", playbook, report=True)

    assert check.code == 2, check.out + check.err
    # Nothing on the host changed, and nothing but the FACTS script ran.
    assert lab.snapshot("web1") == drifted
    used = spent(lab, "web1", before)
    assert used["scripts"] == 1 and used["blocks"] == used["block.facts"] == 1, used
    if transport.startswith("winrm"):
        assert used["wsman.messages"] <= 5, used
    # Each drifted property is named on the console, with what it is and what it should be.
    for line in (
        "feature/Containers: features.Containers: Disabled -> Enabled",
        "engine/docker: engine.service.status: Stopped -> Running",
        "daemon/config: daemon.log-level: debug -> warn",
    ):
        assert line in check.out, check.out
    assert "web1: drift" in check.out
    # ... and in the report.
    report = check.report_host("web1")
    assert check.report is not None
    assert report["status"] == "drift" and check.report["summary"] == {"drift": 1}
    diffs = {(r["id"], d["path"]): (d["before"], d["after"]) for r in report["resources"] for d in r["diff"]}
    assert diffs == {
        ("feature/Containers", "features.Containers"): ("Disabled", "Enabled"),
        ("engine/docker", "engine.service.status"): ("Stopped", "Running"),
        ("daemon/config", "daemon.log-level"): ("debug", "warn"),
    }
    assert {r["status"] for r in report["resources"]} == {"drift"}
    assert report["transport"]["scripts"] == 1

    repair = lab.cli("apply", playbook, report=True)

    assert repair.code == 0, repair.out + repair.err
    assert repair.report_host("web1")["status"] == "changed"
    state = lab.snapshot("web1")
    assert state["features"]["Containers"] == "Enabled"
    assert state["services"]["docker"]["status"] == "Running"
    assert json.loads(state["files"][DAEMON_JSON]["content"])["log-level"] == "warn"
    # The admin's edit was kept beside the file before it was replaced (DESIGN 4.3).
    assert json.loads(state["files"][DAEMON_JSON + ".provision-backup"]["content"])["log-level"] == "debug"
    assert repair.report_host("web1")["verify"]["ok"] is True

    again = lab.cli("check", playbook)
    assert again.code == 0, again.out + again.err
    assert "web1: ok" in again.out


def test_check_of_a_never_provisioned_host_is_drift_for_everything_and_changes_nothing(
    e2e_lab: Callable[..., E2ELab], transport: str
) -> None:
    lab = e2e_lab({"new1": "server2022"})
    playbook = lab.setup(transport)
    fresh = lab.snapshot("new1")

    outcome = lab.run(playbook, "check")

    assert outcome.code == 2
    result = outcome.host("new1")
    assert result.status == "drift"
    assert {r.id for r in result.resources} == {
        "feature/Containers",
        "feature/Microsoft-Hyper-V",
        "engine/docker",
        "daemon/config",
    }
    assert lab.snapshot("new1") == fresh
    assert lab.counters("new1")["scripts"] == 1
    assert result.counters.scripts == 1
