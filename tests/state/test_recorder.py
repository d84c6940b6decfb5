"""The recorder hands results to one writer thread (issue 18): every delivered result is written,
several a transaction, without the fork threads waiting, and before the run is closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any, cast

import pytest

from provisioner.engine.host import HostResult
from provisioner.playbook import Target
from provisioner.state import recorder
from provisioner.state.config import StateError
from provisioner.state.recorder import GATHER_SECONDS, StoreSink
from provisioner.state.records import HostRecord
from provisioner.state.store import Store


class CountingStore:
    """Records the transactions a sink makes; ``fail`` makes each one raise, as a full disk would."""

    name = "memory"

    def __init__(self, fail: bool = False) -> None:
        self.transactions: list[list[str]] = []
        self.finished: list[int] = []
        self.fail = fail

    def record(self, run_id: str, records: Iterable[HostRecord]) -> None:
        if self.fail:
            raise StateError("state store memory: database or disk is full")
        self.transactions.append([r.host for r in records])

    def finish_run(self, run_id: str, *, exit_code: int, summary: dict[str, Any]) -> None:
        self.finished.append(exit_code)


@pytest.fixture(autouse=True)
def plain_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """A record is the host's name: these tests are about the hand-off, not the row's contents."""
    monkeypatch.setattr(recorder, "host_record", lambda target, result: HostRecord(result.name, "p", "ok", "d"))


def deliver(sink: StoreSink, names: list[str], threads: int) -> None:
    def work(chunk: list[str]) -> None:
        for name in chunk:
            sink.host_result(cast(Target, None), HostResult(name))

    workers = [threading.Thread(target=work, args=(names[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def test_every_result_from_many_threads_is_written_in_few_transactions_before_the_run_closes() -> None:
    store = CountingStore()
    sink = StoreSink(cast(Store, store), "run-1")
    names = [f"lab-{i:04}" for i in range(500)]

    deliver(sink, names, threads=20)
    sink.finish(0, {"ok": 500})

    written = [name for transaction in store.transactions for name in transaction]
    assert sorted(written) == names  # each once, none lost
    assert len(store.transactions) < 50  # gathered: not one transaction a host
    assert store.finished == [0]


def test_a_result_is_written_while_the_run_goes_on() -> None:
    store = CountingStore()
    sink = StoreSink(cast(Store, store), "run-1")
    sink.host_result(cast(Target, None), HostResult("lab-0001"))
    deadline = time.monotonic() + GATHER_SECONDS + 5
    while not store.transactions and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.transactions == [["lab-0001"]]  # a crash now would keep it
    sink.finish(0, {})


def test_failed_writes_are_counted_and_the_run_is_left_open() -> None:
    store = CountingStore(fail=True)
    sink = StoreSink(cast(Store, store), "run-1")
    deliver(sink, [f"lab-{i}" for i in range(7)], threads=3)
    with pytest.raises(StateError, match=r"database or disk is full \(7 host results not recorded\)"):
        sink.finish(0, {})
    assert store.finished == []
