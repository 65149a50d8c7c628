"""Run lifecycle: run owners, unresolved-intent lookups, PostgreSQL lock holders.

Revision ID: 0002_run_lifecycle
Revises: 0001_initial
Create Date: 2026-12-01

- ``runs.owner`` says which process ran a run (``pid N on HOST``), so a run left
  ``running`` by a dead process is told apart and marked ``interrupted``.
- ``ix_runs_profile_status`` finds a profile's running runs; ``ix_journal_outcome``
  finds the ``pending``/``unknown`` intents reconciled at the start of every run.
- ``profile_locks`` names the holder of a PostgreSQL advisory profile lock.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_run_lifecycle"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the run owner, two lookup indexes and the lock-holder table."""
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("owner", sa.String(300), nullable=True))
    op.create_index("ix_runs_profile_status", "runs", ["profile", "status"])
    op.create_index("ix_journal_outcome", "journal", ["outcome"])
    op.create_table(
        "profile_locks",
        sa.Column("profile", sa.String(200), primary_key=True),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("host", sa.String(300), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    op.drop_table("profile_locks")
    op.drop_index("ix_journal_outcome", "journal")
    op.drop_index("ix_runs_profile_status", "runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("owner")
