"""state/rollouts.py against a real PostgreSQL server: the Celery executor's rollout rows."""

from __future__ import annotations

import time

import pytest
from servers import PostgresServer, new_database

from provisioner.state.rollouts import HostKey, PlannedHost, open_rollouts


def test_settling_one_lost_host_leaves_the_rest_of_its_batch_alone(postgres: PostgresServer | str) -> None:
    # After a halt, a worker that held two hosts of a batch dies: both leases run out in the same poll,
    # and the controller ends them one at a time (CeleryController._end_lost).
    if isinstance(postgres, str):
        pytest.skip(f"no PostgreSQL server could be started: {postgres}")
    state = open_rollouts(new_database(postgres))
    try:
        hosts = [PlannedHost(play=0, host=name, batch=1, site="east", plan_digest="d") for name in ("a", "b")]
        rollout_id, _ = state.start(
            rollout_id="r1", digest="x", kind="check", job={}, lease_seconds=0.2, controller="c", hosts=hosts
        )
        for key, _site in state.queue(rollout_id, 0, 1):
            assert state.lease(key, "w1:1") is not None
        time.sleep(0.5)
        lost = state.reap(rollout_id)
        assert sorted(key.host for key, _ in lost) == ["a", "b"]

        ended = state.settle(rollout_id, 0, 1, ("queued",), {"a": {"status": "interrupted"}})

        assert ended == ["a"]
        again = state.queue(rollout_id, 0, 1)  # b is still queued, at its new attempt
        assert [(key.host, key.attempt) for key, _ in again] == [("b", 2)]
        assert state.lease(HostKey(rollout_id, 0, "b", 2), "w2:1") is not None
    finally:
        state.close()


def test_a_worker_whose_lease_ran_out_cannot_record_a_reboot(postgres: PostgresServer | str) -> None:
    # Its guard then stops the job before the reboot is sent: another delivery now owns the host.
    if isinstance(postgres, str):
        pytest.skip(f"no PostgreSQL server could be started: {postgres}")
    state = open_rollouts(new_database(postgres))
    try:
        hosts = [PlannedHost(play=0, host="a", batch=1, site="east", plan_digest="d")]
        rollout_id, _ = state.start(
            rollout_id="r2", digest="y", kind="apply", job={}, lease_seconds=0.2, controller="c", hosts=hosts
        )
        [(key, _site)] = state.queue(rollout_id, 0, 1)
        assert state.lease(key, "w1:1") is not None
        assert state.rebooting(key, "w1:1", "boot-1", 1) is True
        time.sleep(0.5)
        assert [k.host for k, _ in state.reap(rollout_id)] == ["a"]
        assert state.rebooting(key, "w1:1", "boot-1", 2) is False
    finally:
        state.close()
