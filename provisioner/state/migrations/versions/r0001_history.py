"""Run history: run, host_result, host_group, resource_result, host_latest (issue 16).

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("playbook", sa.Text, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True)),
        sa.Column("exit_code", sa.Integer),
        sa.Column("summary", sa.JSON),
    )
    op.create_index("ix_run_started", "run", ["started"])
    op.create_table(
        "host_result",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("run.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("play", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("site", sa.String(255)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("plan_digest", sa.String(64), nullable=False),
        sa.Column("batch", sa.Integer),
        sa.Column("reboots", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("facts", sa.JSON),
        sa.Column("verify", sa.JSON),
    )
    op.create_index("ix_host_result_host_started", "host_result", ["host", "started"])
    op.create_index("ix_host_result_started", "host_result", ["started"])
    op.create_index("ix_host_result_run", "host_result", ["run_id"])
    op.create_table(
        "host_group",
        sa.Column("result_id", sa.Integer, sa.ForeignKey("host_result.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
    )
    op.create_index("ix_host_group_name", "host_group", ["name"])
    op.create_table(
        "resource_result",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("result_id", sa.Integer, sa.ForeignKey("host_result.id", ondelete="CASCADE"), nullable=False),
        sa.Column("resource", sa.String(255), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("change_kind", sa.String(16), nullable=False),
        sa.Column("diff", sa.JSON, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_resource_result_result", "resource_result", ["result_id"])
    op.create_table(
        "host_latest",
        sa.Column("host", sa.String(255), primary_key=True),
        sa.Column("play", sa.String(255), primary_key=True),
        sa.Column("result_id", sa.Integer, sa.ForeignKey("host_result.id"), nullable=False),
        sa.Column("observed_id", sa.Integer, sa.ForeignKey("host_result.id")),
        sa.Column("observed_digest", sa.String(64)),
    )


def downgrade() -> None:
    for table in ("host_latest", "resource_result", "host_group", "host_result", "run"):
        op.drop_table(table)
