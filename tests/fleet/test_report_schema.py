"""schema/report.schema.json describes the report.json real runs write: apply and check, with
changes, drift, failures (preflight, credentials, download), unreachable, halted and interrupted hosts."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import jsonschema
import pytest

from .conftest import REPORT_SCHEMA, MakeFleet, follow_events, report_validator, send_sigint, validate_report


def test_the_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$defs"]["hostStatus"]["enum"] == [
        "ok",
        "changed",
        "drift",
        "reboot_required",
        "pending_logon",
        "failed",
        "unreachable",
        "halted",
        "interrupted",
    ]


def test_real_reports_validate_against_the_schema(make_fleet: MakeFleet, sigint_guard: list[int]) -> None:
    # Cycle of four: fresh Server 2022, converged 2022, Windows 10 Home (preflight fails),
    # converged 2025. lab-0006 rejects the password, lab-0008 is unreachable.
    fleet = make_fleet(
        12,
        "server2022,server2022-converged,win10-home,server2025-converged",
        faults="lab-0006=bad_credentials;lab-0008=unreachable",
    )
    playbook = fleet.playbook(rollout={"forks": 4, "serial": 4, "max_fail_percentage": 30})

    # Batch 1: 1 failure in 4 (25%) goes on; batch 2: 3 in 4 halts batch 3.
    apply = fleet.cli("apply", playbook)
    assert apply.code == 3
    assert apply.report["mode"] == "apply"
    assert apply.statuses() == {
        "lab-0001": "changed",
        "lab-0002": "ok",
        "lab-0003": "failed",
        "lab-0004": "ok",
        "lab-0005": "changed",
        "lab-0006": "failed",
        "lab-0007": "failed",
        "lab-0008": "unreachable",
        **{f"lab-{i:04d}": "halted" for i in range(9, 13)},
    }

    # Check mode over everything: drift on the hosts batch 3 never reached.
    for model in fleet.hosts.values():
        model.faults.unreachable = False
    check = fleet.cli("check", fleet.playbook(name="check.yml"))
    assert check.code == 3 and check.report["mode"] == "check"
    assert {n for n, s in check.statuses().items() if s == "drift"} == {"lab-0009"}

    # An apply interrupted after its first result.
    interrupted_playbook = fleet.playbook(name="one-fork.yml", rollout={"forks": 1})
    watcher = follow_events(
        fleet.upcoming("events"), lambda events: any(e["kind"] == "host.result" for e in events), send_sigint
    )
    interrupted = fleet.cli("apply", interrupted_playbook, events=True)
    watcher.join(timeout=5)
    assert interrupted.code == 130 and not sigint_guard
    assert "interrupted" in interrupted.report["summary"]

    reports = [apply.report, check.report, interrupted.report]
    for report in reports:
        validate_report(report)
    statuses = Counter(h["status"] for r in reports for h in r["hosts"])
    assert {"ok", "changed", "drift", "failed", "unreachable", "halted", "interrupted"} <= set(statuses)
    assert len({r["run_id"] for r in reports}) == 3
    # The optional parts were exercised too: resources with diffs, preflight findings, verify,
    # reboots, facts, errors.
    hosts = [h for r in reports for h in r["hosts"]]
    assert any(res["diff"] for h in hosts for res in h["resources"])
    assert any(h["preflight"] for h in hosts) and any(h["verify"] for h in hosts)
    assert any(h["reboots"] for h in hosts) and any(h["error"] for h in hosts)
    assert any(h["facts"] is None for h in hosts) and any(h["facts"] for h in hosts)

    # The schema is not vacuous: it refuses what the report never contains.
    validator = report_validator()
    for break_it in (_unknown_host_key, _unknown_status, _bad_transport, _bad_diff, _null_batch, _unknown_top_key):
        broken = copy.deepcopy(apply.report)
        break_it(broken)
        assert not validator.is_valid(broken), break_it.__name__


def _host(report: dict[str, Any], status: str) -> dict[str, Any]:
    return next(h for h in report["hosts"] if h["status"] == status)


def _unknown_host_key(report: dict[str, Any]) -> None:
    _host(report, "ok")["password"] = "x"


def _unknown_status(report: dict[str, Any]) -> None:
    _host(report, "ok")["status"] = "succeeded"


def _bad_transport(report: dict[str, Any]) -> None:
    _host(report, "ok")["transport"]["messages"] = -1


def _bad_diff(report: dict[str, Any]) -> None:
    changed = _host(report, "changed")
    changed["resources"][0]["diff"][0].pop("after")


def _null_batch(report: dict[str, Any]) -> None:
    _host(report, "halted")["batch"] = None


def _unknown_top_key(report: dict[str, Any]) -> None:
    report["extra"] = {}


@pytest.mark.parametrize("field", ["run_id", "started", "summary", "hosts"])
def test_the_schema_requires_every_top_level_field(field: str) -> None:
    report = {
        "schema": "provision.report/v1",
        "run_id": "0" * 32,
        "mode": "check",
        "playbook": "site.yml",
        "started": "2026-11-27T10:00:00.000001+00:00",
        "ended": "2026-11-27T10:00:01+00:00",
        "summary": {},
        "hosts": [],
    }
    validator = report_validator()
    assert validator.is_valid(report)
    del report[field]
    assert not validator.is_valid(report)
