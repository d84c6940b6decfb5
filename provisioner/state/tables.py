"""The store's tables (SQLAlchemy Core): runs, one row per (run, play, host), one per resource result.

Results are written once and never updated: a run's host rows and resource rows are inserted as
hosts finish and are the record; ``run`` gets its end (``finished``, ``exit_code``, ``summary``)
once, when the run ends, so a run whose controller died shows ``finished`` NULL. ``host_latest``
is an index, not a record: the newest result per (host, play), which retention never deletes and
which the corrective/intentional split reads instead of searching back through history.
``host_result.started`` repeats the run's start so the queries users run (a host over time, a
fleet since a date) use one index, ``(host, started)`` or ``(started)``, without a join.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, ForeignKey, Index, Integer, MetaData, String, Table, Text

__all__ = [
    "host_event",
    "host_group",
    "host_latest",
    "host_result",
    "host_run",
    "metadata",
    "resource_result",
    "rollout",
    "run",
]

metadata = MetaData()

run = Table(
    "run",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # check | apply
    Column("playbook", Text, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("finished", DateTime(timezone=True)),
    Column("exit_code", Integer),
    Column("summary", JSON),
    Index("ix_run_started", "started"),
)

host_result = Table(
    "host_result",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
    Column("started", DateTime(timezone=True), nullable=False),
    Column("play", String(255), nullable=False),
    Column("host", String(255), nullable=False),
    Column("site", String(255)),
    Column("status", String(32), nullable=False),
    Column("message", Text, nullable=False),
    Column("plan_digest", String(64), nullable=False),
    Column("batch", Integer),
    Column("reboots", Integer, nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("facts", JSON),
    Column("verify", JSON),
    Index("ix_host_result_host_started", "host", "started"),
    Index("ix_host_result_started", "started"),
    Index("ix_host_result_run", "run_id"),
)

host_group = Table(
    "host_group",
    metadata,
    Column("result_id", Integer, ForeignKey("host_result.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Index("ix_host_group_name", "name"),
)

resource_result = Table(
    "resource_result",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("result_id", Integer, ForeignKey("host_result.id", ondelete="CASCADE"), nullable=False),
    Column("resource", String(255), nullable=False),
    Column("type", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # drift | changed | failed | ok | skipped
    Column("change_kind", String(16), nullable=False),  # corrective | intentional | none
    Column("diff", JSON, nullable=False),  # [{"path", "before", "after"}]: the differing properties
    Column("message", Text, nullable=False),
    Index("ix_resource_result_result", "result_id"),
)

host_latest = Table(
    "host_latest",
    metadata,
    Column("host", String(255), primary_key=True),
    Column("play", String(255), primary_key=True),
    Column("result_id", Integer, ForeignKey("host_result.id"), nullable=False),
    # The newest result that says what the host looked like (ok, changed, drift), for the split.
    Column("observed_id", Integer, ForeignKey("host_result.id")),
    Column("observed_digest", String(64)),
)

# The Celery executor's rollout state (engine/celery_executor.py, research 3.5): the controller is
# the only writer of ``rollout`` and of a host's move to ``queued``; a worker moves a host it
# leased to ``done``. Celery's messages only say "look at this row"; everything they imply is here.

rollout = Table(
    "rollout",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("digest", String(64), nullable=False),  # mode, playbook, inventory, limit and every host's plan
    Column("kind", String(16), nullable=False),  # check | apply
    Column("job", JSON, nullable=False),  # what a worker needs to load the same targets
    Column("status", String(16), nullable=False),  # running | halted | interrupted | done
    Column("message", Text, nullable=False),
    Column("lease_seconds", Float, nullable=False),
    Column("controller", String(255), nullable=False),
    Column("controller_until", DateTime(timezone=True), nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Index("ix_rollout_digest", "digest", "status"),
)

host_run = Table(
    "host_run",
    metadata,
    Column("rollout_id", String(32), ForeignKey("rollout.id", ondelete="CASCADE"), primary_key=True),
    Column("play", Integer, primary_key=True),  # the play's index in the playbook
    Column("host", String(255), primary_key=True),
    Column("batch", Integer, nullable=False),
    Column("site", String(255), nullable=False),
    Column("plan_digest", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # pending | queued | leased | done
    Column("attempt", Integer, nullable=False),
    Column("worker", String(255)),
    Column("lease_until", DateTime(timezone=True)),
    Column("reboot_from", String(255)),  # the boot id a reboot was issued from, until the host is back
    Column("reboots", Integer, nullable=False),
    Column("result", JSON),
    Index("ix_host_run_state", "rollout_id", "state"),
)

host_event = Table(
    "host_event",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rollout_id", String(32), ForeignKey("rollout.id", ondelete="CASCADE"), nullable=False),
    Column("host", String(255), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_host_event_rollout", "rollout_id", "id"),
)
