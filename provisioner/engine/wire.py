"""Host results and events as JSON, for the Celery executor: a worker writes them into the store
and the controller reads them back into the same objects the local executor hands to the report,
so every output is built from equal values whichever executor ran the host.

Only data crosses: never a target, a connection setting or a password (workers load the targets
themselves from the playbook, and take passwords from their own environment).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from provisioner.engine.host import Event, HostResult, ResourceResult
from provisioner.resources import DiffEntry
from provisioner.resources.registry import RESOURCES
from provisioner.transport import TransportCounters

__all__ = ["event_from_json", "event_to_json", "result_from_json", "result_to_json"]


def result_to_json(result: HostResult) -> dict[str, Any]:
    """Every field of a host's result, as JSON types."""
    data = asdict(result)
    data["resources"] = [
        {
            **asdict(r),
            "diff": [{"path": d.path, "before": d.before, "after": d.after} for d in r.diff],
            "data": r.data.model_dump(mode="json") if r.data is not None else None,
        }
        for r in result.resources
    ]
    return data


def result_from_json(data: dict[str, Any]) -> HostResult:
    """The inverse of :func:`result_to_json`."""
    fields = dict(data)
    fields["resources"] = [
        ResourceResult(
            **{
                **r,
                "diff": [DiffEntry(**d) for d in r["diff"]],
                # Typed again by the resource's own data model, as the local executor's runner reads it.
                "data": RESOURCES[r["type"]].read(r["data"]) if r["data"] is not None else None,
            }
        )
        for r in fields["resources"]
    ]
    fields["counters"] = TransportCounters(**fields["counters"])
    return HostResult(**fields)


def event_to_json(event: Event) -> dict[str, Any]:
    return {"host": event.host, "kind": event.kind, "message": event.message, "data": dict(event.data)}


def event_from_json(data: dict[str, Any]) -> Event:
    return Event(data["host"], data["kind"], data["message"], dict(data["data"]))
