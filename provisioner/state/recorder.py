"""The rollout's results into the store, one host at a time as each ends.

A host's row is written when the host finishes, so a run cut short (a crash, a second Ctrl-C)
keeps what it did. A write that fails mid-run must not turn a converged host into a failed one:
the sink keeps the first error and the command reports it when the run ends.
"""

from __future__ import annotations

import threading
from typing import Any

from provisioner.engine.host import HostResult
from provisioner.playbook import Target
from provisioner.state.config import StateError
from provisioner.state.store import HostRecord, ResourceRecord, Store, plan_digest

__all__ = ["StoreSink", "host_record"]


def host_record(target: Target, result: HostResult) -> HostRecord:
    """What is kept of a host's result: status, digest of its desired state, site and groups from
    the inventory, facts, and the resources that were not in state with their differing properties."""
    site = target.vars.get("site")
    inventory_host = target.play.inventory.hosts.get(target.name)
    return HostRecord(
        host=result.name,
        play=target.play.name,
        status=result.status,
        plan_digest=plan_digest(target.spec.model_dump(mode="json")),
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
    """A :class:`provisioner.engine.rollout.ResultSink` writing to a run of the store."""

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self.error: StateError | None = None
        self.lost = 0
        self._lock = threading.Lock()

    def host_result(self, target: Target, result: HostResult) -> None:
        try:
            self.store.record(self.run_id, [host_record(target, result)])
        except StateError as exc:
            with self._lock:
                self.error = self.error or exc
                self.lost += 1

    def finish(self, exit_code: int, summary: dict[str, Any]) -> None:
        """Close the run; raises the first write error of the run, if any, with the count lost."""
        if self.error is None:
            try:
                self.store.finish_run(self.run_id, exit_code=exit_code, summary=summary)
            except StateError as exc:
                self.error = exc
        if self.error is not None:
            lost = f" ({self.lost} host result{'s' if self.lost != 1 else ''} not recorded)" if self.lost else ""
            raise StateError(f"{self.error}{lost}")
