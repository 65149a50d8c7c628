"""Hosted mode: app-wide rate-limit windows shared by every worker process.

Revision ID: 0003_hosted
Revises: 0002_run_lifecycle
Create Date: 2026-12-07

- ``shared_limits`` holds, per service (name, address, client id) and limit, the
  send times inside the current window and a pause asked for by ``Retry-After``;
  `anibridge.hosted.limits` reads and updates a row under ``SELECT … FOR UPDATE``.
- ``queue_schema`` records which procrastinate schema version the job queue's
  tables are at (`anibridge.hosted.schema`, applied by ``anibridge migrate``).
- ``job_results`` keeps each attempt of each queued job: who ran it, how it ended,
  its result or error (the queue itself keeps only a status).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_hosted"
down_revision = "0002_run_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the shared rate-limit and queue-schema tables."""
    op.create_table(
        "shared_limits",
        sa.Column("service", sa.String(500), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("sent", sa.JSON, nullable=False),
        sa.Column("paused_until", sa.Float, nullable=True),
    )
    op.create_table(
        "job_results",
        sa.Column("job_id", sa.BigInteger, primary_key=True),
        sa.Column("attempt", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("worker", sa.String(300), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=False),
        sa.Column("result", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_job_results_profile", "job_results", ["profile", "job_id"])
    op.create_table(
        "queue_schema",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("applied_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    op.drop_table("queue_schema")
    op.drop_index("ix_job_results_profile", "job_results")
    op.drop_table("job_results")
    op.drop_table("shared_limits")
