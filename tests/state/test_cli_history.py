"""``provision check`` records itself; ``provision history`` reads it back (issue 16's "done when":
two checks a day apart with drift in between show corrective drift with its first-seen time)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fleet.conftest import Fleet, MakeFleet

from provisioner import cli
from provisioner.state.config import STATE_ENV, StateError
from provisioner.state.store import Store

from .conftest import Clock

PROFILES = "server2022-converged:2,server2025-converged"


def history(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capfd.readouterr()
    code = cli.run(["history", *args])
    captured = capfd.readouterr()
    return code, captured.out, captured.err


def two_checks_a_day_apart(fleet: Fleet, clock: Clock, *state: str) -> tuple[Any, Any]:
    playbook = fleet.playbook()
    first = fleet.cli("check", playbook, *state)
    assert first.code == 0, first.out + first.err
    clock.advance(days=1, hours=2)
    fleet.host("lab-0002").set_daemon_key("log-level", '"debug"')
    fleet.host("lab-0003").stop_service("docker")
    second = fleet.cli("check", playbook, *state)
    assert second.code == 2, second.out + second.err
    return first, second


def test_two_checks_a_day_apart_show_corrective_drift_since_the_second(
    make_fleet: MakeFleet, clock: Clock, store_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    fleet = make_fleet(4, PROFILES)
    first_at = clock.now
    first, second = two_checks_a_day_apart(fleet, clock, "--state", store_url)
    drifted_at = clock.now
    clock.advance(hours=3)

    code, out, err = history(capfd, "--state", store_url, "--json")

    assert code == 0, err
    assert second.err.splitlines()[-1] == f"history: run {second.report['run_id'][:12]} recorded in {store_url}"
    data = json.loads(out)
    assert data["runs"] == 2 and data["summary"]["hosts"] == 4
    assert data["summary"]["drifted_now"] == ["lab-0002", "lab-0003"]
    by_host = {h["host"]: h for h in data["hosts"]}
    daemon = by_host["lab-0002"]["resources"]
    assert [(r["resource"], r["change_kind"], r["first_seen"], r["drifted_now"]) for r in daemon] == [
        ("daemon/config", "corrective", drifted_at.isoformat(), True)
    ]
    assert daemon[0]["properties"] == [{"path": "daemon.log-level", "before": "debug", "after": "warn"}]
    engine = by_host["lab-0003"]["resources"][0]
    assert engine["change_kind"] == "corrective" and engine["properties"][0]["path"] == "engine.service.status"
    assert by_host["lab-0001"]["resources"] == [] and by_host["lab-0001"]["in_state"]
    assert by_host["lab-0001"]["first_result"] == first_at.isoformat()
    assert data["summary"]["drift_rate"] == 2 / 8
    # The run ids of the reports are the store's.
    with Store.open(store_url) as store:
        assert [r["id"] for r in store.runs()] == [first.report["run_id"], second.report["run_id"]]
        assert [r["exit_code"] for r in store.runs()] == [0, 2]

    code, out, err = history(capfd, "--state", store_url, "--host", "lab-0002")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("history: 2 runs, 1 host; drift rate 50.0% of 2 observations")
    stamp = drifted_at.strftime("%Y-%m-%d %H:%M")
    assert f"  daemon/config: drifted, corrective; first seen {stamp}, last seen {stamp}, 1 flap" in lines
    assert "    daemon.log-level: debug -> warn" in lines

    code, out, err = history(capfd, "--state", store_url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:2] == [
        "history: 2 runs, 4 hosts; drift rate 25.0% of 8 observations",
        "by resource: daemon/config 1 drifted now / 1 ever, 1 flap, engine/docker 1 drifted now / 1 ever, 1 flap",
    ]
    assert [line.split(":")[0] for line in lines if line.startswith("lab-")] == ["lab-0002", "lab-0003"]
    short = second.report["run_id"][:12]
    assert lines[-1] == f"latest run {short}: check at {stamp}, exit 2 (provision report {short} --html FILE)"
    assert data["latest_run"]["id"] == second.report["run_id"] and data["latest_run"]["exit_code"] == 2


def test_the_default_store_is_under_xdg_state_home_and_provision_state_overrides_it(
    make_fleet: MakeFleet,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    fleet = make_fleet(3, PROFILES)
    two_checks_a_day_apart(fleet, clock)
    default = tmp_path / "xdg-state" / "provision" / "history.db"
    assert default.exists()
    with Store.open(default) as store:
        assert len(store.runs()) == 2
    elsewhere = tmp_path / "team" / "history.db"
    monkeypatch.setenv(STATE_ENV, str(elsewhere))
    run = fleet.cli("check", fleet.playbook())
    assert run.code == 2
    with Store.open(elsewhere) as store:
        assert [r["kind"] for r in store.runs()] == ["check"]
    code, out, _ = history(capfd, "--since", "1h")
    assert code == 0 and out.startswith("history: 1 run, 3 hosts since ")


def test_an_unwritable_store_stops_the_run_before_any_host_is_touched(make_fleet: MakeFleet, tmp_path: Path) -> None:
    fleet = make_fleet(3, PROFILES)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    before = fleet.counters()

    run = fleet.cli("apply", fleet.playbook(), "--state", str(blocker / "history.db"), report=False)

    assert run.code == 1
    assert run.err.splitlines() == [
        f"error: state store {blocker / 'history.db'}: cannot create its directory {blocker}: File exists"
    ], run.err
    assert fleet.contacted_since(before) == set()


def test_a_read_only_store_stops_the_run_before_any_host_is_touched(make_fleet: MakeFleet, tmp_path: Path) -> None:
    fleet = make_fleet(2, PROFILES)
    location = tmp_path / "history.db"
    Store.open(location).close()  # created and migrated: opening it read-only finds nothing to do
    read_only = f"sqlite:///file:{location}?mode=ro&uri=true"
    before = fleet.counters()

    run = fleet.cli("check", fleet.playbook(), "--state", read_only, report=False)

    assert run.code == 1
    assert run.err.splitlines() == [f"error: state store {read_only}: attempt to write a readonly database"]
    assert fleet.contacted_since(before) == set()


def test_no_state_records_nothing(make_fleet: MakeFleet, tmp_path: Path) -> None:
    fleet = make_fleet(2, PROFILES)
    location = tmp_path / "h.db"
    run = fleet.cli("check", fleet.playbook(), "--no-state", "--state", str(location))
    assert run.code == 0
    assert not location.exists() and not (tmp_path / "xdg-state").exists()


def test_output_json_carries_each_hosts_diff_and_the_summary(make_fleet: MakeFleet) -> None:
    fleet = make_fleet(3, PROFILES)
    fleet.host("lab-0003").set_daemon_key("log-level", '"debug"')
    run = fleet.cli("check", fleet.playbook(), "--output", "json")
    assert run.code == 2
    lines = [json.loads(line) for line in run.out.splitlines()]
    results = {line["host"]: line for line in lines if line["kind"] == "host.result"}
    assert results["lab-0003"]["resources"] == [
        {
            "id": "daemon/config",
            "type": "daemon_config",
            "status": "drift",
            "message": "",
            "diff": [{"path": "daemon.log-level", "before": "debug", "after": "warn"}],
        }
    ]
    assert results["lab-0001"]["resources"] == []
    summary = lines[-1]
    assert summary == {
        "kind": "summary",
        "mode": "check",
        "run_id": run.report["run_id"],
        "hosts": 3,
        "summary": {"drift": 1, "ok": 2},
        "drift": [{"path": "daemon.log-level", "before": "debug", "after": "warn", "hosts": ["lab-0003"]}],
        "exit_code": 2,
    }


def test_history_and_report_errors_are_one_line(capfd: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = history(capfd, "--since", "yesterday")
    assert code == 1 and err.splitlines() == [
        "error: --since 'yesterday': expected an ISO date/time (2026-11-30, 2026-11-30T06:00) or 36h, 7d, 2w"
    ]
    code, out, err = history(capfd)
    assert code == 0 and out.startswith("history: no runs recorded in ")
    capfd.readouterr()
    assert cli.run(["report", "--html", str(tmp_path / "r.html")]) == 1
    assert capfd.readouterr().err.startswith("error: no runs recorded in ")
    assert cli.run(["report", "abc", "--html", str(tmp_path / "r.html")]) == 1
    assert "no single run 'abc'" in capfd.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_a_store_failing_mid_run_fails_no_host_and_says_what_was_lost(
    make_fleet: MakeFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = make_fleet(3, PROFILES)
    location = tmp_path / "history.db"

    def disk_full(self: Store, run_id: str, records: Any) -> None:
        raise StateError(f"state store {self.name}: database or disk is full")

    with monkeypatch.context() as patch:
        patch.setattr(Store, "record", disk_full)
        run = fleet.cli("check", fleet.playbook(), "--state", str(location))

    assert run.code == 0 and set(run.statuses().values()) == {"ok"}
    # The lab fleet is plain HTTP with Basic, so the run also warns about that; only the errors matter here.
    assert [line for line in run.err.splitlines() if not line.startswith("warning:")] == [
        f"error: state store {location}: database or disk is full (3 host results not recorded)"
    ]
    with Store.open(location) as store:
        assert [r["finished"] for r in store.runs()] == [None]  # the run is left open, as after a crash
