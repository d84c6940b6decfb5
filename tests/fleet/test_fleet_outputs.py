"""Reports that are complete whatever happens (issue 12 item 1; security review F2, F8): every targeted
host in report.json, events and JUnit after one or two interrupts, output paths checked before any
host is touched, and no temporary file left behind."""

from __future__ import annotations

import io
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from provisioner.report.json_report import hosts_to_retry

from .conftest import MakeFleet, follow_events, send_sigint, validate_report

NOT_STARTED = "not started: the run was interrupted"


def test_a_double_interrupt_in_the_first_batch_still_reports_every_later_batch(
    make_fleet: MakeFleet, sigint_guard: list[int]
) -> None:
    # F2: the second Ctrl-C used to leave the batch loop, so the hosts of batches 2.. were missing
    # from the report (1 of 30 listed) and --retry-failed then retried only the first batch.
    fleet = make_fleet(9, "server2022-converged", faults="*=latency_ms:400")
    playbook = fleet.playbook(rollout={"forks": 2, "serial": [1, 2, "50%"]})

    def twice() -> None:
        time.sleep(0.5)  # the canary is inside its facts script by now (each answer takes 0.4 s)
        send_sigint()
        time.sleep(0.2)
        send_sigint()

    watcher = follow_events(
        fleet.upcoming("events"), lambda events: any(e["kind"] == "host.facts" for e in events), twice
    )
    run = fleet.cli("check", playbook, events=True, junit=True)
    watcher.join(timeout=5)
    assert not sigint_guard

    assert run.code == 130
    report = run.report
    validate_report(report)
    assert [h["name"] for h in report["hosts"]] == fleet.names
    assert report["summary"] == {"interrupted": 9}
    assert Counter(h["message"] for h in report["hosts"]) == {
        "aborted in flight by a second interrupt": 1,
        NOT_STARTED: 8,
    }
    # Batches 1 (1 host), 2 (2 hosts), then 50% of 9 = 4, 4 ... as serial says, started or not.
    assert [h["batch"] for h in report["hosts"]] == [1, 2, 2, 3, 3, 3, 3, 4, 4]
    assert hosts_to_retry(run.files["report"]) == set(fleet.names)
    results = [e for e in run.events if e["kind"] == "host.result"]
    assert sorted(e["host"] for e in results) == fleet.names
    junit = ET.parse(run.files["junit"]).getroot()
    assert sorted(c.get("classname", "") for c in junit.iter("testcase") if c.get("name") == "host") == fleet.names
    assert not [p for p in fleet.dir.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize("option", ["--report", "--junit", "--events"])
@pytest.mark.parametrize("problem", ["directory", "parent-is-a-file"])
def test_an_output_that_cannot_be_written_is_a_usage_error_before_any_host_is_touched(
    make_fleet: MakeFleet, option: str, problem: str
) -> None:
    # F8: `--report isdir` used to converge the hosts, then end in a traceback with exit 1 and
    # leave isdir.tmp behind.
    fleet = make_fleet(2, "server2022")
    playbook = fleet.playbook()
    if problem == "directory":
        target = fleet.dir / "out"
        target.mkdir()
    else:
        (fleet.dir / "plain-file").write_text("x")
        target = fleet.dir / "plain-file" / "out"
    before = fleet.counters()

    run = fleet.cli("apply", playbook, option, target, report=False)

    assert run.code == 1
    assert run.err.splitlines() == [
        f"error: {option} {target}: cannot write: {'Is a directory' if problem == 'directory' else 'Not a directory'}"
    ]
    assert "Traceback" not in run.out
    assert fleet.contacted_since(before) == set()
    assert not [p for p in fleet.dir.rglob("*") if ".tmp" in p.name]


def test_outputs_that_fail_after_the_run_say_so_in_one_line_each_and_keep_the_runs_exit_code(
    make_fleet: MakeFleet,
) -> None:
    # The checks before the run pass; then, while the hosts run, someone puts a directory where the
    # report and the JUnit file go. The staging files are written and cannot be moved into place.
    fleet = make_fleet(2, "server2022-converged")
    playbook = fleet.playbook()
    report, junit = fleet.dir / "r.json", fleet.dir / "j.xml"

    def block() -> None:
        report.mkdir()
        junit.mkdir()

    watcher = follow_events(fleet.upcoming("events"), lambda events: len(events) > 0, block)
    run = fleet.cli("check", playbook, "--report", report, "--junit", junit, report=False, events=True)
    watcher.join(timeout=5)

    assert run.code == 0  # the hosts were checked and are in state: the exit code says so
    errors = [line for line in run.err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: --report {report}: cannot write: Is a directory",
        f"error: --junit {junit}: cannot write: Is a directory",
    ]
    assert "summary (2 hosts): 2 ok" in run.out
    assert not [p for p in fleet.dir.rglob("*") if ".tmp" in p.name]


def test_outputs_in_a_directory_that_does_not_exist_yet_are_created(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(1, "server2022-converged")
    playbook = fleet.playbook()
    out: Path = fleet.dir / "a" / "b"
    run = fleet.cli(
        "check",
        playbook,
        "--report",
        out / "r.json",
        "--junit",
        out / "j.xml",
        "--events",
        out / "e.jsonl",
        report=False,
    )
    assert run.code == 0, run.err
    assert sorted(p.name for p in out.iterdir()) == ["e.jsonl", "j.xml", "r.json"]


class _ClosedPipe(io.StringIO):
    """stdout of `provision apply | head -1` once head has exited."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_stops_the_progress_not_the_run_or_its_reports(
    make_fleet: MakeFleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A BrokenPipeError from the progress line used to fail the host that wrote it ("internal error"),
    # then end the run in a traceback before the report was written.
    fleet = make_fleet(3, "server2022-converged")
    playbook = fleet.playbook(rollout={"forks": 3})
    with monkeypatch.context() as patched:
        patched.setattr(sys, "stdout", _ClosedPipe())
        run = fleet.cli("check", playbook, "--output", "plain", events=True, junit=True)
    assert run.code == 0, run.err
    assert run.statuses() == dict.fromkeys(fleet.names, "ok")
    assert "Traceback" not in run.err
    assert sorted(e["host"] for e in run.events if e["kind"] == "host.result") == fleet.names
