"""engine/celery_executor.run_job: what a worker does with one Celery message when the store is away."""

from __future__ import annotations

import pytest
from celery.exceptions import Reject  # type: ignore[import-untyped]

from provisioner.engine.celery_executor import run_job
from provisioner.state.config import StateError
from provisioner.state.rollouts import HostKey

KEY = HostKey("r1", 0, "lab-0001", 1)


class Jobs:
    def __init__(self, outcome: str | StateError) -> None:
        self.outcome = outcome
        self.keys: list[HostKey] = []

    def converge(self, key: HostKey) -> str:
        self.keys.append(key)
        if isinstance(self.outcome, StateError):
            raise self.outcome
        return self.outcome


def test_a_job_whose_host_could_not_be_leased_for_want_of_the_store_goes_back_to_the_queue() -> None:
    # Failed, it would be acknowledged (acks_late acknowledges failures too) and its host left queued
    # with no message: the controller would wait for it forever.
    jobs = Jobs(StateError("state store postgresql://db/provision: connection refused"))
    with pytest.raises(Reject) as rejected:
        run_job(jobs, KEY.to_json(), pause=0)
    assert rejected.value.requeue is True
    assert jobs.keys == [KEY]


def test_a_job_that_ran_or_was_a_duplicate_is_done() -> None:
    jobs = Jobs("ignored: not queued at this attempt, or the rollout is not running (a duplicate)")
    run_job(jobs, KEY.to_json(), pause=0)
    assert jobs.keys == [KEY]
