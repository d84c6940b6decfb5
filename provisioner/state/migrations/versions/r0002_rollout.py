"""Rollout state of the Celery executor: rollout, host_run (the per-host lease), host_event (issue 17).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollout",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("job", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("lease_seconds", sa.Float, nullable=False),
        sa.Column("controller", sa.String(255), nullable=False),
        sa.Column("controller_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_rollout_digest", "rollout", ["digest", "status"])
    op.create_table(
        "host_run",
        sa.Column("rollout_id", sa.String(32), sa.ForeignKey("rollout.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("play", sa.Integer, primary_key=True),
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("site", sa.String(255), nullable=False),
        sa.Column("plan_digest", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(255)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("reboot_from", sa.String(255)),
        sa.Column("reboots", sa.Integer, nullable=False),
        sa.Column("result", sa.JSON),
    )
    op.create_index("ix_host_run_state", "host_run", ["rollout_id", "state"])
    op.create_table(
        "host_event",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.String(32), sa.ForeignKey("rollout.id", ondelete="CASCADE"), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_host_event_rollout", "host_event", ["rollout_id", "id"])


def downgrade() -> None:
    op.drop_table("host_event")
    op.drop_table("host_run")
    op.drop_table("rollout")
