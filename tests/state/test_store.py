"""The store, the same tests on SQLite and PostgreSQL: records, corrective vs intentional changes,
history figures, retention, migrations and errors."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from provisioner.state.config import StateError
from provisioner.state.history import build_history
from provisioner.state.records import SCHEMA_HEAD, HostRecord, ResourceRecord
from provisioner.state.store import Store
from provisioner.state.tables import host_event, host_run, rollout

from .conftest import Clock, OpenStore

DAEMON = ResourceRecord(
    "daemon/config", "daemon_config", "drift", [{"path": "daemon.log-level", "before": "debug", "after": "warn"}]
)
SERVICE = ResourceRecord(
    "engine/docker",
    "container_engine",
    "drift",
    [{"path": "engine.service.status", "before": "Stopped", "after": "Running"}],
)


def host(name: str, status: str, *resources: ResourceRecord, digest: str = "plan-a", **extra: Any) -> HostRecord:
    return HostRecord(host=name, play="containers", status=status, plan_digest=digest, resources=resources, **extra)


def changed(resource: ResourceRecord) -> ResourceRecord:
    return ResourceRecord(resource.id, resource.type, "changed", resource.diff)


def run(store: Store, clock: Clock, kind: str, *records: HostRecord, days: float = 1) -> str:
    """One run ``days`` after the previous one, recorded and closed."""
    clock.advance(days=days)
    run_id = store.begin_run(kind=kind, playbook="site.yml")
    store.record(run_id, records)
    store.finish_run(run_id, exit_code=0, summary={})
    return run_id


def kinds(store: Store, name: str) -> list[tuple[str, dict[str, str]]]:
    """Per result of a host: its status and the change kind of each resource row."""
    return [
        (row["status"], {res["resource"]: res["change_kind"] for res in row["resources"]})
        for row in store.results(hosts=[name])
    ]


def resource(history: dict[str, Any], name: str, resource_id: str) -> dict[str, Any]:
    entry = next(h for h in history["hosts"] if h["host"] == name)
    return next(r for r in entry["resources"] if r["resource"] == resource_id)


def test_drift_after_a_clean_check_is_corrective_with_its_first_seen_time(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    run(store, clock, "check", host("lab-0001", "ok"), host("lab-0002", "ok"))
    second = run(store, clock, "check", host("lab-0001", "drift", DAEMON), host("lab-0002", "ok"))
    drifted_at = clock.now
    run(store, clock, "check", host("lab-0001", "drift", DAEMON), host("lab-0002", "ok"))

    assert kinds(store, "lab-0001") == [
        ("ok", {}),
        ("drift", {"daemon/config": "corrective"}),
        ("drift", {"daemon/config": "corrective"}),
    ]
    history = build_history(store)
    daemon = resource(history, "lab-0001", "daemon/config")
    assert daemon["first_seen"] == drifted_at.isoformat()
    assert daemon["last_seen"] == clock.now.isoformat()
    assert daemon["drifted_now"] and daemon["change_kind"] == "corrective" and daemon["corrective"] == 2
    assert daemon["properties"] == [{"path": "daemon.log-level", "before": "debug", "after": "warn"}]
    assert history["summary"]["drifted_now"] == ["lab-0001"]
    assert history["resources"] == {
        "daemon/config": {"type": "daemon_config", "drifted_now": 1, "hosts_out_of_state": 1, "flaps": 1}
    }
    assert history["summary"]["drift_rate"] == pytest.approx(2 / 6, abs=1e-4)
    assert history["runs"] == 3
    assert store.results(run_ids=[second])[0]["started"] == drifted_at


def test_a_changed_plan_is_intentional_until_the_host_reaches_it(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    run(store, clock, "check", host("h", "ok"))
    # The playbook now wants another log level: the host differs because the plan changed.
    run(store, clock, "check", host("h", "drift", DAEMON, digest="plan-b"))
    run(store, clock, "check", host("h", "drift", DAEMON, digest="plan-b"))  # not applied yet: still the plan's doing
    run(store, clock, "apply", host("h", "changed", changed(DAEMON), digest="plan-b"))
    run(store, clock, "check", host("h", "drift", DAEMON, digest="plan-b"))  # someone changed it back by hand
    run(store, clock, "apply", host("h", "changed", changed(DAEMON), digest="plan-b"))  # the correction

    assert kinds(store, "h") == [
        ("ok", {}),
        ("drift", {"daemon/config": "intentional"}),
        ("drift", {"daemon/config": "intentional"}),
        ("changed", {"daemon/config": "intentional"}),
        ("drift", {"daemon/config": "corrective"}),
        ("changed", {"daemon/config": "corrective"}),
    ]


def test_results_that_observed_nothing_do_not_break_the_chain(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    run(store, clock, "check", host("h", "ok"))
    run(store, clock, "check", host("h", "unreachable", message="connection refused"))
    run(store, clock, "check", host("h", "drift", SERVICE))
    assert kinds(store, "h")[-1] == ("drift", {"engine/docker": "corrective"})
    service = resource(build_history(store), "h", "engine/docker")
    assert service["flaps"] == 1 and service["times_out_of_state"] == 1


def test_flaps_count_returns_out_of_state_and_first_seen_is_the_latest_stretch(
    open_store: OpenStore, clock: Clock
) -> None:
    store = open_store()
    statuses = ["ok", "drift", "ok", "drift", "drift", "ok", "drift"]
    times = []
    for status in statuses:
        run(store, clock, "check", host("h", status, *([DAEMON] if status == "drift" else [])))
        times.append(clock.now)
    daemon = resource(build_history(store), "h", "daemon/config")
    assert daemon["flaps"] == 3
    assert daemon["times_out_of_state"] == 4
    assert daemon["first_seen"] == times[6].isoformat() == daemon["last_seen"]
    # Seen from before the last stretch, the stretch of runs 4-5 is the latest.
    earlier = build_history(store, since=times[0] - timedelta(minutes=1))
    assert resource(earlier, "h", "daemon/config")["flaps"] == 3
    window = [r for r in store.runs() if r["started"] <= times[4]]
    assert len(window) == 5


def test_an_apply_leaves_the_resource_in_state(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    run(store, clock, "check", host("h", "drift", DAEMON))
    run(store, clock, "apply", host("h", "changed", changed(DAEMON)))
    run(store, clock, "check", host("h", "ok"))
    daemon = resource(build_history(store), "h", "daemon/config")
    assert not daemon["drifted_now"]
    assert daemon["flaps"] == 0 and daemon["times_out_of_state"] == 2
    entry = build_history(store)["hosts"][0]
    assert entry["in_state"] and not entry["never_converged"]


def test_hosts_that_never_converged_and_shares_by_site_and_group(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    for _ in range(3):
        run(
            store,
            clock,
            "check",
            host("a-1", "ok", site="hq", groups=["windows", "k8s"]),
            host("a-2", "drift", SERVICE, site="hq", groups=["windows"]),
            host("b-1", "failed", site="branch", groups=["windows", "k8s"], message="preflight: VT off"),
            host("b-2", "ok", site="branch", groups=["windows"]),
        )
    history = build_history(store)
    assert history["summary"]["never_converged"] == ["a-2", "b-1"]
    assert history["sites"] == {
        "branch": {"hosts": 2, "in_state": 1, "share_in_state": 0.5},
        "hq": {"hosts": 2, "in_state": 1, "share_in_state": 0.5},
    }
    assert history["groups"]["k8s"] == {"hosts": 2, "in_state": 1, "share_in_state": 0.5}
    assert history["groups"]["windows"]["hosts"] == 4
    assert [h["host"] for h in build_history(store, group="k8s")["hosts"]] == ["a-1", "b-1"]
    assert [h["host"] for h in build_history(store, site="branch")["hosts"]] == ["b-1", "b-2"]
    only = build_history(store, hosts=["a-2"], resource="engine/docker")
    assert [h["host"] for h in only["hosts"]] == ["a-2"] and only["hosts"][0]["drift_rate"] == 1.0
    assert build_history(store, resource="daemon/config")["hosts"][1]["resources"] == []


def test_retention_deletes_old_runs_but_keeps_each_hosts_latest_result(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    run(store, clock, "check", host("retired", "drift", DAEMON), host("busy", "ok"))
    run(store, clock, "check", host("retired", "unreachable"), host("busy", "ok"))
    for _ in range(100):
        run(store, clock, "check", host("busy", "ok"))
    assert len(store.runs()) == 102

    deleted = store.prune(90)

    # Runs 1-102 a day apart, now is run 102: busy keeps runs 12-102 (run 12 is exactly 90 days
    # old); retired keeps its latest result and its latest observed one (runs 2 and 1), and so
    # those two runs. Deleted: busy's results of runs 1-11.
    assert deleted == 11
    remaining = store.results()
    assert [r["status"] for r in remaining if r["host"] == "retired"] == ["drift", "unreachable"]
    busy = store.results(hosts=["busy"])
    assert len(busy) == 91 and busy[0]["started"] == clock.now - timedelta(days=90)
    assert len(store.runs()) == 93
    assert store.prune(90) == 0


def test_retention_deletes_ended_rollouts_with_their_leases_and_events(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    old, now = clock.now - timedelta(days=91), clock.now
    rows = {"old-done": (old, "done"), "old-running": (old, "running"), "new-done": (now, "halted")}
    with store.engine.begin() as connection:
        for rollout_id, (created, status) in rows.items():
            connection.execute(
                rollout.insert().values(
                    id=rollout_id,
                    digest="d",
                    kind="apply",
                    job={},
                    status=status,
                    message="",
                    lease_seconds=60,
                    controller="c",
                    controller_until=created,
                    created=created,
                )
            )
            connection.execute(
                host_run.insert().values(
                    rollout_id=rollout_id,
                    play=0,
                    host="web1",
                    batch=1,
                    site="default",
                    plan_digest="p",
                    state="done",
                    attempt=1,
                    reboots=0,
                )
            )
            connection.execute(
                host_event.insert().values(rollout_id=rollout_id, host="web1", kind="facts", message="", data={})
            )

    store.prune(90)

    with store.engine.connect() as connection:
        for table in (rollout, host_run, host_event):
            column = table.c.id if table is rollout else table.c.rollout_id
            assert sorted(connection.execute(sa.select(column)).scalars()) == ["new-done", "old-running"], table.name


def test_recording_from_many_threads_keeps_every_row(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    run_id = store.begin_run(kind="check", playbook="site.yml")
    threads = [
        threading.Thread(target=store.record, args=(run_id, [host(f"lab-{i:04d}", "drift", DAEMON)])) for i in range(60)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = store.results(run_ids=[run_id])
    assert len(rows) == 60 and all(len(r["resources"]) == 1 for r in rows)


def test_a_run_is_closed_once(open_store: OpenStore, clock: Clock) -> None:
    store = open_store()
    run_id = store.begin_run(kind="apply", playbook="site.yml")
    clock.advance(minutes=5)
    store.finish_run(run_id, exit_code=2, summary={"drift": 1})
    finished = clock.now
    clock.advance(minutes=5)
    store.finish_run(run_id, exit_code=0, summary={})
    row = store.run(run_id[:8])
    assert row is not None and row["finished"] == finished and row["exit_code"] == 2 and row["summary"] == {"drift": 1}
    assert store.run("zzzz") is None


def test_opening_migrates_once_and_refuses_a_newer_schema(open_store: OpenStore, store_url: str) -> None:
    from importlib import resources

    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("provisioner.state") / "migrations"))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]
    first = open_store()
    with first.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == SCHEMA_HEAD
        tables = set(sa.inspect(connection).get_table_names())
    assert {"run", "host_result", "resource_result", "host_group", "host_latest"} <= tables
    open_store()  # a second open finds the schema current
    with first.engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StateError, match="newer than this provision knows"):
        open_store()


def test_a_store_that_cannot_be_reached_is_one_line_without_its_password(tmp_path: Any) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StateError) as caught:
        Store.open(blocker / "history.db")
    assert str(caught.value).startswith(f"state store {blocker / 'history.db'}: ")
    with pytest.raises(StateError) as caught:
        Store.open("postgresql://provision:s3cr3t-pw@127.0.0.1:1/history")
    message = str(caught.value)
    assert "s3cr3t-pw" not in message and "\n" not in message
    assert message.startswith("state store postgresql://provision:***@127.0.0.1:1/history: connection failed")
    with pytest.raises(StateError, match="unsupported store 'mysql'"):
        Store.open("mysql://localhost/x")
