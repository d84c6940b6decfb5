"""Secrets never appear (DESIGN 4.6): not on stdout or stderr in any output mode, not in
report.json, events.jsonl, junit.xml or the run history, not in logs, failures and rejected credentials included."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD, SECRET_FORMS, SSH_HOST_VARS, CliRun, MakeFleet, validate_report


def test_the_password_appears_in_no_output(make_fleet: MakeFleet, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    # lab-0001/2/5/6/9/10 converged, 0003/0007 fresh, 0004/0008 Windows 10 Home (preflight fails).
    fleet = make_fleet(
        10,
        "server2022-converged:2,server2022,win10-home",
        ssh=True,
        faults="lab-0005=bad_credentials;lab-0006=bad_credentials;lab-0007=download_failure;lab-0009=unreachable",
    )
    host_vars: dict[str, dict[str, Any]] = {
        "lab-0002": SSH_HOST_VARS,
        "lab-0006": SSH_HOST_VARS,
        "lab-0001": {"transport": "ntlm"},
    }
    basic = fleet.playbook(fleet.inventory(host_vars=host_vars), name="basic.yml", rollout={"forks": 10})
    ntlm = fleet.playbook(
        fleet.inventory("ntlm", host_vars=host_vars, name="inventory-ntlm.yml"), name="ntlm.yml", rollout={"forks": 10}
    )
    runs: list[CliRun] = []

    def run(command: str, playbook: Path, *args: str | Path) -> CliRun:
        result = fleet.cli(command, playbook, *args, events=True, junit=True)
        runs.append(result)
        return result

    first = run("apply", basic, "--output", "plain")
    run("check", basic, "--output", "json")
    run("apply", basic, "--output", "json")
    run("check", ntlm, "--output", "plain")
    run("check", ntlm, "--output", "rich")
    run("apply", ntlm, "--output", "plain", "--retry-failed", first.files["report"])

    # The runs went through every path that handles the credentials: accepted over Basic, NTLM
    # and SSH, rejected over WinRM and SSH, and the other failures.
    for result in runs:
        assert result.code == 3
        validate_report(result.report)
    statuses = first.statuses()
    assert {n: statuses[n] for n in ("lab-0001", "lab-0002", "lab-0003", "lab-0010")} == {
        "lab-0001": "ok",
        "lab-0002": "ok",
        "lab-0003": "changed",
        "lab-0010": "ok",
    }
    assert {n: statuses[n] for n in ("lab-0004", "lab-0005", "lab-0006", "lab-0007", "lab-0008", "lab-0009")} == {
        "lab-0004": "failed",
        "lab-0005": "failed",
        "lab-0006": "failed",
        "lab-0007": "failed",
        "lab-0008": "failed",
        "lab-0009": "unreachable",
    }
    messages = {h["name"]: h["message"] for h in first.report["hosts"]}
    assert "authentication failed" in messages["lab-0005"] and "authentication failed" in messages["lab-0006"]
    assert fleet.host("lab-0005").counters["http.401"] > 0 and fleet.host("lab-0006").counters["ssh.auth_failures"] > 0
    for result in runs:
        junit = ET.parse(result.files["junit"]).getroot()
        assert int(junit.get("failures", "0")) >= 5

    # Nothing anywhere holds the password, or the Basic header made of it.
    texts = {
        f"run{i} {stream}": getattr(result, stream) for i, result in enumerate(runs, 1) for stream in ("out", "err")
    }
    texts["log records"] = caplog.text
    files = [p for p in fleet.dir.rglob("*") if p.is_file()]
    assert len(files) >= 3 * len(runs)
    # The run history (the default store, under the test's XDG_STATE_HOME) is searched too.
    assert {"history.db", "history.db-wal"} & {p.name for p in files}
    for path in files:
        texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert sum(len(t) for t in texts.values()) > 100_000, "the outputs were captured"
    leaks = sorted(where for where, text in texts.items() for secret in SECRET_FORMS if secret in text)
    assert not leaks
    assert PASSWORD not in repr(runs)
