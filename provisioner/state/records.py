"""What the run history keeps of a run's hosts, and the rows a batch of them becomes, without the
database layer: both writers (``store.Store`` for PostgreSQL, ``sqlite_writer.SqliteWriter`` for a
SQLite file) build their rows here, so the corrective/intentional split and the latest-result
pointers are decided in one place whichever database holds them."""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

__all__ = [
    "OBSERVED",
    "SCHEMA_HEAD",
    "BatchRows",
    "HostRecord",
    "ResourceRecord",
    "RunWriter",
    "batch_rows",
    "login_name",
    "result_values",
]

SCHEMA_HEAD = "0002"
"""The newest migration in migrations/versions (a test holds the two equal): a store already at it
is opened without importing Alembic, and a SQLite file at it is written without SQLAlchemy."""

OBSERVED = frozenset({"ok", "changed", "drift"})
"""Statuses that say what the host looked like; the others (failed, unreachable, halted, ...)
say nothing about its resources, so history neither counts them as in state nor as drift."""


@dataclass(frozen=True)
class ResourceRecord:
    """One resource of one host result that was not simply in state: its differing properties."""

    id: str
    type: str
    status: str
    diff: list[dict[str, Any]]
    message: str = ""


@dataclass(frozen=True)
class HostRecord:
    """What the store keeps of one host's result (never the vars: they may hold secrets)."""

    host: str
    play: str
    status: str
    plan_digest: str
    message: str = ""
    site: str | None = None
    groups: Sequence[str] = ()
    batch: int | None = None
    reboots: int = 0
    duration: float = 0.0
    facts: dict[str, Any] | None = None
    verify: dict[str, Any] | None = None
    resources: Sequence[ResourceRecord] = field(default_factory=tuple)


class RunWriter(Protocol):
    """What a run needs of its store: a row for the run, its hosts' results as they end, the run's
    close and retention. Every method raises ``StateError`` with one line naming the store."""

    name: str

    def begin_run(self, *, kind: str, playbook: str, actor: str | None = None, run_id: str | None = None) -> str: ...

    def record(self, run_id: str, records: Sequence[HostRecord]) -> None: ...

    def finish_run(self, run_id: str, *, exit_code: int, summary: Mapping[str, int]) -> None: ...

    def prune(self, days: int) -> int: ...

    def close(self) -> None: ...


def login_name() -> str:
    """Who ran it, for the record: the login name (never a credential)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name (a container without a passwd entry)
        return f"uid {os.getuid()}"


def result_values(run_id: str, started: datetime | str, record: HostRecord) -> dict[str, Any]:
    """A ``host_result`` row (``started`` is the run's, as the database returned it)."""
    return {
        "run_id": run_id,
        "started": started,
        "play": record.play,
        "host": record.host,
        "site": record.site,
        "status": record.status,
        "message": record.message,
        "plan_digest": record.plan_digest,
        "batch": record.batch,
        "reboots": record.reboots,
        "duration_ms": round(record.duration * 1000),
        "facts": record.facts,
        "verify": record.verify,
    }


@dataclass
class BatchRows:
    """The rows that hang off a batch of inserted host results. ``host_latest`` rows are keyed
    ``k_host``/``k_play`` with values ``v_result``/``v_observed``/``v_digest``: the bind names both
    writers use, since an UPDATE's SET and WHERE cannot share a column's name as a parameter."""

    memberships: list[dict[str, Any]] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)
    latest_new: list[dict[str, Any]] = field(default_factory=list)
    latest_observed: list[dict[str, Any]] = field(default_factory=list)
    """Hosts whose new result observed them: both pointers move."""
    latest_unobserved: list[dict[str, Any]] = field(default_factory=list)
    """Hosts whose new result observed nothing (failed, unreachable, ...): only the latest moves, the
    last observed one stays."""


def batch_rows(
    records: Sequence[HostRecord],
    ids: Sequence[int],
    latest: Mapping[tuple[str, str], tuple[int | None, str | None]],
    prior: Mapping[int, Mapping[str, str]],
) -> BatchRows:
    """The rows for ``records``, inserted as ``ids``, given each host's ``host_latest`` entry
    ((observed id, observed digest) by (host, play)) and the change kinds of the drifted resources of
    those observed results (``prior``). A resource's change is **corrective** when the host's previous
    observed result had the same plan digest and the resource was in state there (or already
    corrective drift), **intentional** when the plan changed since, or was never observed, or the
    resource never reached this plan's state."""
    rows = BatchRows()
    for record, result_id in zip(records, ids, strict=True):
        rows.memberships += [{"result_id": result_id, "name": g} for g in record.groups]
        before = latest.get((record.host, record.play))
        observed_id, observed_digest = before if before is not None else (None, None)
        same_plan = observed_digest is not None and observed_digest == record.plan_digest
        drifted_before = prior.get(observed_id, {}) if observed_id is not None else {}
        for resource in record.resources:
            kind = "none"
            if resource.status in {"drift", "changed"}:
                earlier = drifted_before.get(resource.id)
                kind = "corrective" if same_plan and earlier in {None, "corrective"} else "intentional"
            rows.resources.append(
                {
                    "result_id": result_id,
                    "resource": resource.id,
                    "type": resource.type,
                    "status": resource.status,
                    "change_kind": kind,
                    "diff": resource.diff,
                    "message": resource.message,
                }
            )
        observed = record.status in OBSERVED
        latest_row = {
            "k_host": record.host,
            "k_play": record.play,
            "v_result": result_id,
            "v_observed": result_id if observed else None,
            "v_digest": record.plan_digest if observed else None,
        }
        if before is None:
            rows.latest_new.append(latest_row)
        elif observed:
            rows.latest_observed.append(latest_row)
        else:
            rows.latest_unobserved.append(latest_row)
    return rows
