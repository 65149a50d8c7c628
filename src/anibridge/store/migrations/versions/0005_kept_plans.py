"""Hosted mode: dry-run plans kept for review in the shared database.

Revision ID: 0005_kept_plans
Revises: 0004_webhook_inbox
Create Date: 2026-12-07

- ``kept_plans`` holds the plans hosted preview jobs keep for review (the plan's
  JSON and its review state: outcomes of the approved actions applied so far,
  status, the latest applying run). The worker that previews, the web service that
  shows the plan and the worker that applies it may run on different machines, so
  the plan lives in the database they share. The single-user service keeps its
  plans as files in its data directory and leaves this table empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_kept_plans"
down_revision = "0004_webhook_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the kept plans table."""
    op.create_table(
        "kept_plans",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("scope", sa.JSON, nullable=True),
        sa.Column("outcomes", sa.JSON, nullable=False),
        sa.Column("plan", sa.JSON, nullable=False),
    )
    op.create_index("ix_kept_plans_profile", "kept_plans", ["profile", "created_at"])


def downgrade() -> None:
    """Drop what `upgrade` added."""
    op.drop_index("ix_kept_plans_profile", "kept_plans")
    op.drop_table("kept_plans")
