"""Hosted mode: app-wide rate-limit windows shared by every worker process.

Revision ID: 0003_hosted
Revises: 0002_run_lifecycle
Create Date: 2026-12-07

- ``shared_limits`` holds, per service (name, address, client id) and limit, the
  send times inside the current window and a pause asked for by ``Retry-After``;
  `anibridge.hosted.limits` reads and updates a row under ``SELECT … FOR UPDATE``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_hosted"
down_revision = "0002_run_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the shared rate-limit table."""
    op.create_table(
        "shared_limits",
        sa.Column("service", sa.String(500), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("sent", sa.JSON, nullable=False),
        sa.Column("paused_until", sa.Float, nullable=True),
    )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    op.drop_table("shared_limits")
