"""The rollout's results into the store, written as the hosts end.

Hosts' rows are written while the run goes on, so a run cut short (a crash, a second Ctrl-C)
keeps what it did. A write that fails mid-run must not turn a converged host into a failed one:
the sink keeps the first error and the command reports it when the run ends.
"""

from __future__ import annotations

import threading
from typing import Any

from provisioner.engine.host import HostResult
from provisioner.playbook import Target
from provisioner.state.config import StateError
from provisioner.state.records import HostRecord, ResourceRecord, RunWriter

__all__ = ["GATHER_SECONDS", "StoreSink", "host_record"]

GATHER_SECONDS = 0.25
"""How long the writer collects results before a transaction: a 1,000-host check at ~250 hosts a
second writes about 60 a time (0.07 ms of CPU per host, against 0.54 ms one host a transaction)."""


def host_record(target: Target, result: HostResult) -> HostRecord:
    """What is kept of a host's result: status, digest of its desired state, site and groups from
    the inventory, facts, and the resources that were not in state with their differing properties."""
    site = target.vars.get("site")
    inventory_host = target.play.inventory.hosts.get(target.name)
    return HostRecord(
        host=result.name,
        play=target.play.name,
        status=result.status,
        plan_digest=target.plan_digest,
        message=result.message,
        site=str(site) if isinstance(site, str | int) and not isinstance(site, bool) else None,
        groups=tuple(g for g in (inventory_host.groups if inventory_host else []) if g != "all"),
        batch=result.batch,
        reboots=result.reboots,
        duration=result.duration,
        facts=result.facts,
        verify=result.verify,
        resources=tuple(
            ResourceRecord(
                id=r.id,
                type=r.type,
                status=r.status,
                diff=[{"path": d.path, "before": d.before, "after": d.after} for d in r.diff],
                message=r.message,
            )
            for r in result.resources
        ),
    )


class StoreSink:
    """A :class:`provisioner.engine.rollout.ResultSink` writing to a run of the store.

    One writer thread writes the results: each transaction takes every result that ended since the
    last one (one multi-row insert, ``Store.record``). A transaction per host, in the fork threads,
    serialized them on the store's lock: a 1,000-host check spent 1.3 s of CPU recording and most
    of its fork threads queued there instead of talking to hosts (issue 18). A fork thread now only
    hands its result over; a crash loses at most the results not yet written (about
    :data:`GATHER_SECONDS` worth), and :meth:`finish` writes the rest before it closes the run.
    """

    def __init__(self, store: RunWriter, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.error: StateError | None = None
        self.lost = 0
        self._pending: list[HostRecord] = []
        self._wake = threading.Condition()
        self._closing = False
        self._writer = threading.Thread(target=self._write, name="provision-history", daemon=True)
        self._writer.start()

    def host_result(self, target: Target, result: HostResult) -> None:
        record = host_record(target, result)  # now: the result as delivered, whatever its thread does next
        with self._wake:
            if not self._pending:
                self._wake.notify()  # the writer sleeps only on an empty list; it is gathering otherwise
            self._pending.append(record)

    def _write(self) -> None:
        while True:
            with self._wake:
                while not self._pending and not self._closing:
                    self._wake.wait()
                # Gather for a moment: hosts end a few milliseconds apart, and a transaction for
                # each would cost what one host at a time did.
                self._wake.wait_for(lambda: self._closing, timeout=GATHER_SECONDS)
                batch, self._pending = self._pending, []
            if not batch:
                return  # closing, and everything is written
            try:
                self.store.record(self.run_id, batch)
            except StateError as exc:
                self.error = self.error or exc
                self.lost += len(batch)

    def finish(self, exit_code: int, summary: dict[str, Any]) -> None:
        """Write what is still pending and close the run; raises the first write error of the run,
        if any, with the count lost."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._writer.join()
        if self.error is None:
            try:
                self.store.finish_run(self.run_id, exit_code=exit_code, summary=summary)
            except StateError as exc:
                self.error = exc
        if self.error is not None:
            lost = f" ({self.lost} host result{'s' if self.lost != 1 else ''} not recorded)" if self.lost else ""
            raise StateError(f"{self.error}{lost}")
