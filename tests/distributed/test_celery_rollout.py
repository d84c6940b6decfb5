"""Rollouts through two Celery workers over real Redis and PostgreSQL (issue 17): the same statuses
and reports as the local executor, site routing, canary halts, duplicates, a worker killed with
SIGKILL, a controller killed and started again, Ctrl-C, and the refusals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fleet.conftest import PASSWORD, PASSWORD_ENV, MakeFleet, send_sigint, validate_report
from labfixtures import StartLab

from provisioner.state.rollouts import HostKey

from .conftest import REPO, TWIN_PORT, Cluster, celery_args, site_vars, twin_fleet

MIXED_FAULTS = "lab-0007=bad_credentials;lab-0050=unreachable;bios-vt-off=download_failure"
"""Faults whose effect does not depend on timing, so two runs of the same fleet agree exactly."""
ROLLOUT = {"forks": 50, "serial": [10, "50%"]}


def _comparable(host: dict[str, Any]) -> dict[str, Any]:
    """A report host without what differs between any two runs (durations, boot times, nonces)."""
    facts = dict(host["facts"] or {})
    facts.pop("reboot", None)
    verify = host["verify"]
    port = re.compile(r":3\d{4}\b")  # the twin fleet listens on another port
    return {
        **{k: v for k, v in host.items() if k not in {"duration", "facts", "verify", "transport", "message", "error"}},
        "message": port.sub(":PORT", host["message"]),
        "error": port.sub(":PORT", host["error"]) if host["error"] else None,
        "facts": facts,
        "verify": None if verify is None else {k: v for k, v in verify.items() if k != "message"},
    }  # not the transport counters: the polls of a reboot wait and the Receives of a slow answer vary


def _junit(path: Path) -> list[tuple[str | None, str | None, list[str]]]:
    root = ET.parse(path).getroot()
    return sorted(
        (case.get("classname"), case.get("name"), sorted(child.tag for child in case)) for case in root.iter("testcase")
    )


def _events(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each host's events by kind, in order; retries left out (a host going down for its reboot
    may or may not drop the reboot script's connection first, on either executor)."""
    by_host: dict[str, list[str]] = {}
    for event in events:
        if "host" in event and event["kind"] != "host.retry":
            by_host.setdefault(event["host"], []).append(event["kind"])
    return by_host


def _console(out: str) -> tuple[Counter[str], list[str], list[str]]:
    """The plain console view: its progress lines (a multiset: hosts run concurrently, retries left
    out), its batch lines in order, and the summary printed after the run."""
    lines = [re.sub(r"boot id [^)]*\)", "boot id B)", re.sub(r":3\d{4}\b", ":PORT", line)) for line in out.splitlines()]
    progress = [line for line in lines if line.startswith("[")]
    summary = [line for line in lines if not line.startswith(("[", "batch "))]
    batches = [line for line in lines if line.startswith("batch ")]
    return Counter(line for line in progress if "; retrying (" not in line), batches, summary


def _worker_of(row: dict[str, Any], cluster: Cluster) -> str:
    pid = int(row["worker"].split(":")[1])
    return next(name for name, w in cluster.workers.items() if w.process.pid == pid)


def test_200_hosts_through_two_workers_report_as_the_local_executor_and_duplicates_do_nothing(
    make_fleet: MakeFleet, lab_servers: StartLab, workers: Cluster
) -> None:
    fleet = make_fleet(200, "mixed", faults=MIXED_FAULTS)
    sites = site_vars(fleet)
    playbook = fleet.playbook(fleet.inventory(host_vars=sites), rollout=ROLLOUT)
    distributed = fleet.cli(
        "apply",
        playbook,
        *celery_args(workers),
        events=True,
        junit=True,
    )
    twin = twin_fleet(fleet, lab_servers, 200, "mixed", MIXED_FAULTS, reboot_seconds=0.2)
    local = twin.cli(
        "apply",
        twin.playbook(twin.inventory(host_vars=sites, port=TWIN_PORT), rollout=ROLLOUT),
        events=True,
        junit=True,
    )

    assert distributed.code == local.code == 3
    validate_report(distributed.report)
    statuses = Counter(distributed.statuses().values())
    assert statuses["changed"] > 150 and statuses["failed"] >= 2 and statuses["unreachable"] == 1
    assert distributed.report["summary"] == local.report["summary"]
    for mine, theirs in zip(distributed.report["hosts"], local.report["hosts"], strict=True):
        differ = {k for k in _comparable(mine) if _comparable(mine)[k] != _comparable(theirs)[k]}
        assert not differ, (mine["name"], {k: (_comparable(mine)[k], _comparable(theirs)[k]) for k in differ})
    assert _junit(distributed.files["junit"]) == _junit(local.files["junit"])
    assert _events(distributed.events) == _events(local.events)
    mine, theirs = _console(distributed.out), _console(local.out)
    assert (mine[0] - theirs[0], theirs[0] - mine[0]) == (Counter(), Counter())
    assert mine[1:] == theirs[1:]
    # Not the lab's boot counts: with the fleet's 0.2 s reboots, a reboot script whose connection
    # drops as the host goes down can be retried after the host is back, on either executor (the
    # worker-kill test below counts boots, with reboots longer than those retries).
    # Routed by site: west's hosts only on w2 (the only worker of west), east's on both workers.
    rollout = workers.rollout_of(playbook)
    assert rollout is not None
    rows = workers.rows(rollout)
    assert len(rows) == 200 and {r["state"] for r in rows} == {"done"} and {r["attempt"] for r in rows} == {1}
    ran_on = {r["host"]: _worker_of(r, workers) for r in rows}
    assert {ran_on[h] for h, v in sites.items() if v["site"] == "west"} == {"w2"}
    assert {ran_on[h] for h, v in sites.items() if v["site"] == "east"} == {"w1", "w2"}

    # Duplicates of every message, and stale ones (an earlier attempt), change nothing anywhere.
    before = fleet.counters()
    for row in rows:
        for attempt in (row["attempt"], row["attempt"] - 1):
            workers.send(HostKey(rollout, row["play"], row["host"], attempt), row["site"])
    workers.wait("the duplicates to be consumed", workers.queues_empty, timeout=60)
    time.sleep(0.5)  # the last acknowledged job's thread returns after its ack
    assert fleet.counters() == before
    assert workers.rows(rollout) == rows


CANARY_ROLLOUT = {"forks": 50, "serial": [1, "10%", "100%"], "max_fail_percentage": 5}


def test_a_failed_canary_halts_every_workers_hosts_untouched(make_fleet: MakeFleet, workers: Cluster) -> None:
    fleet = make_fleet(200, "mixed", faults="lab-0001=bad_credentials")
    sites = site_vars(fleet)
    sites["lab-0001"] = {"site": "east"}
    before = fleet.counters()

    playbook = fleet.playbook(fleet.inventory(host_vars=sites), rollout=CANARY_ROLLOUT)
    run = fleet.cli("apply", playbook, *celery_args(workers))

    assert run.code == 3
    validate_report(run.report)
    assert run.report["summary"] == {"failed": 1, "halted": 199}
    by_name = {h["name"]: h for h in run.report["hosts"]}
    assert Counter(h["batch"] for h in run.report["hosts"] if h["status"] == "halted") == {2: 20, 3: 179}
    for name, host in by_name.items():
        if name != "lab-0001":
            assert host["message"] == "halted: batch 1 failed 1 of 1 hosts, over max_fail_percentage 5%"
    assert fleet.contacted_since(before) == {"lab-0001"}
    # Both sites' hosts were halted, and none was ever sent to a worker.
    rows = {r["host"]: r for r in workers.rows_of(playbook)}
    halted_sites = {rows[h]["site"] for h in by_name if by_name[h]["status"] == "halted"}
    assert halted_sites == {"east", "west"}
    assert {r["attempt"] for h, r in rows.items() if h != "lab-0001"} == {0}
    with workers.db().connect() as connection:
        status = connection.execute(
            sa.text("SELECT status FROM rollout WHERE id = :id"), {"id": workers.rollout_of(playbook)}
        ).scalar_one()
    assert status == "halted"


def test_a_worker_killed_mid_run_loses_no_host_and_no_host_reboots_twice(
    make_fleet: MakeFleet, workers: Cluster
) -> None:
    # A third of the hosts need their features and a reboot, so w1 dies with hosts mid-reboot. The
    # reboot lasts longer than the reboot script's retries (0.2 + 0.4 + 0.8 + 1.6 s), so only a
    # second job could reboot a host twice.
    fleet = make_fleet(200, "server2022-converged:2,server2022", reboot_seconds=4.0)
    sites = {name: {"site": "east"} for name in fleet.names}
    w1 = workers.workers["w1"].process.pid
    killed: list[dict[str, Any]] = []

    playbook = fleet.playbook(fleet.inventory(host_vars=sites), reboot={"timeout": 60})

    def w1_rows() -> list[dict[str, Any]]:
        return [
            r
            for r in workers.rows_of(playbook)
            if r["state"] == "leased" and r["worker"] and int(r["worker"].split(":")[1]) == w1
        ]

    def kill_when_rebooting() -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            held = w1_rows()
            if any(r["reboot_from"] for r in held) and len(held) >= 3:
                workers.kill("w1")
                # What the dead worker still held: a host it finished between the reading above and the
                # signal is done, on its first attempt, and is not one of the hosts it lost.
                killed.extend(w1_rows())
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_rebooting, daemon=True)
    killer.start()
    run = fleet.cli("apply", playbook, *celery_args(workers))
    killer.join(timeout=10)

    assert killed, f"w1 was never seen holding hosts mid-reboot\n{workers.logs()}"
    assert run.code == 0, [(h["name"], h["status"], h["message"]) for h in run.report["hosts"] if h["message"]]
    validate_report(run.report)
    rebooting = {n for n, p in fleet.profiles().items() if p == "server2022"}
    assert len(rebooting) > 40
    assert set(run.statuses().values()) <= {"ok", "changed"}
    assert {run.statuses()[n] for n in rebooting} == {"changed"}
    rows = {r["host"]: r for r in workers.rows_of(playbook)}
    for row in killed:
        # Leased again by the surviving worker at the next attempt, and finished there.
        assert rows[row["host"]]["attempt"] == 2 and _worker_of(rows[row["host"]], workers) == "w2"
    mid_reboot = [r["host"] for r in killed if r["reboot_from"]]
    assert mid_reboot
    by_name = {h["name"]: h for h in run.report["hosts"]}
    for name in fleet.names:
        # Converged once: one boot for each host that needed one by the lab's own count, as the report says.
        expected = 1 if name in rebooting else 0
        assert fleet.host(name).counters["boots"] == expected == by_name[name]["reboots"], (
            name,
            rows[name],
            [k for k in killed if k["host"] == name],
        )
    check = fleet.cli("check", fleet.playbook(fleet.inventory(host_vars=sites), name="check.yml"))
    assert check.code == 0 and check.report["summary"] == {"ok": 200}


def _controller(fleet_dir: Path, playbook: Path, cluster: Cluster, report: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, PASSWORD_ENV: PASSWORD}
    command = [sys.executable, "-m", "provisioner.cli", "apply", str(playbook), *celery_args(cluster)]
    command += ["--report", str(report), "--output", "plain"]
    with (fleet_dir / "controller.log").open("ab") as out:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO
        )


def test_a_controller_killed_and_started_again_resumes_the_rollout_from_the_store(
    make_fleet: MakeFleet, workers: Cluster
) -> None:
    fleet = make_fleet(200, "server2022-converged:3,server2022")
    playbook = fleet.playbook(fleet.inventory(host_vars=site_vars(fleet)), rollout={"forks": 50, "serial": [40, "25%"]})
    first = _controller(fleet.dir, playbook, workers, fleet.dir / "first.json")
    try:

        def batch_two_started() -> bool:
            rows = workers.rows_of(playbook)
            return sum(r["state"] == "done" for r in rows) >= 40 and any(
                r["batch"] == 2 and r["state"] != "pending" for r in rows
            )

        workers.wait("batch 2 to start", batch_two_started)
    finally:
        first.kill()
        first.wait(timeout=30)
    rollout = workers.rollout_of(playbook)
    assert rollout is not None
    untouched = {r["host"] for r in workers.rows(rollout) if r["state"] == "pending"}
    assert untouched, "the controller was killed with batches still to run"

    def lease_gone() -> bool:
        with workers.db().connect() as connection:
            return bool(
                connection.execute(
                    sa.text("SELECT controller_until < now() FROM rollout WHERE id = :id"), {"id": rollout}
                ).scalar_one()
            )

    workers.wait("the dead controller's lease to run out", lease_gone, timeout=30)
    run = fleet.cli("apply", playbook, *celery_args(workers))

    assert "resuming rollout " + rollout[:12] in run.err
    assert run.code == 0, run.err
    validate_report(run.report)
    assert [h["name"] for h in run.report["hosts"]] == fleet.names
    assert set(run.statuses().values()) == {"changed"}
    rows = workers.rows(rollout)
    assert {r["attempt"] for r in rows} == {1}, "a host was run twice"
    by_name = {h["name"]: h for h in run.report["hosts"]}
    for name in fleet.names:
        assert fleet.host(name).counters["boots"] == by_name[name]["reboots"], name
    assert not (fleet.dir / "first.json").exists()


def test_ctrl_c_on_the_controller_halts_the_workers_at_safe_points(
    make_fleet: MakeFleet, workers: Cluster, sigint_guard: list[int]
) -> None:
    fleet = make_fleet(60, "server2022", faults="*=latency_ms:150", reboot_seconds=0.5)
    playbook = fleet.playbook(fleet.inventory(host_vars=site_vars(fleet)))

    def interrupt_when_rebooting() -> None:
        workers.wait("a host mid-reboot", lambda: any(r["reboot_from"] for r in workers.rows_of(playbook)), timeout=60)
        send_sigint()

    watcher = threading.Thread(target=interrupt_when_rebooting, daemon=True)
    watcher.start()
    run = fleet.cli("apply", playbook, *celery_args(workers), events=True)
    watcher.join(timeout=10)
    assert not sigint_guard

    assert run.code == 130
    validate_report(run.report)
    messages = Counter(h["message"] for h in run.report["hosts"] if h["status"] == "interrupted")
    assert messages and all(
        m.startswith("interrupted before the ") or m == "not started: the run was interrupted" for m in messages
    ), messages
    for host in run.report["hosts"]:
        # Never stopped between a reboot and its return: a host that rebooted came back first.
        if fleet.host(host["name"]).counters["boots"]:
            assert "host.rebooted" in [e["kind"] for e in run.events if e.get("host") == host["name"]]
    with workers.db().connect() as connection:
        status = connection.execute(
            sa.text("SELECT status FROM rollout WHERE id = :id"), {"id": workers.rollout_of(playbook)}
        ).scalar_one()
    assert status == "interrupted"
    workers.wait(
        "the workers to go idle", lambda: not any(r["state"] == "leased" for r in workers.rows_of(playbook)), timeout=30
    )


def test_sqlite_and_a_missing_broker_are_refused_before_anything_runs(
    make_fleet: MakeFleet, cluster: Cluster, monkeypatch: Any
) -> None:
    fleet = make_fleet(1, "server2022-converged")
    playbook = fleet.playbook()
    before = fleet.counters()
    sqlite = fleet.cli("apply", playbook, "--executor", "celery", "--broker", cluster.broker, "--state", "h.db")
    monkeypatch.delenv("PROVISION_BROKER_URL", raising=False)
    brokerless = fleet.cli("apply", playbook, "--executor", "celery", "--state", cluster.state)
    stateless = fleet.cli("check", playbook, "--executor", "celery", "--broker", cluster.broker, "--no-state")

    for run in (sqlite, brokerless, stateless):
        assert run.code == 1 and "Traceback" not in run.err
        assert len(run.err.strip().splitlines()) == 1, run.err
    assert "the Celery executor keeps its rollout state in PostgreSQL" in sqlite.err
    assert "needs a broker: --broker URL or PROVISION_BROKER_URL" in brokerless.err
    assert "drop --no-state" in stateless.err
    assert fleet.contacted_since(before) == set()
    assert not Path("h.db").exists(), "the refused SQLite store was created"
