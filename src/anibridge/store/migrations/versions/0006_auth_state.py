"""Hosted mode: the web service's accounts, sessions and tokens in the database.

Revision ID: 0006_auth_state
Revises: 0005_kept_plans
Create Date: 2026-12-07

- ``auth_state`` holds the credentials document of a hosted deployment (accounts
  with password hashes, session and API token hashes, webhook secrets) with a
  version that every write increments, so any number of web processes, on any
  machines, and the ``anibridge user``/``token`` commands share one set of
  accounts. The single-user service keeps ``<data_dir>/auth.json`` and leaves
  this table empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_auth_state"
down_revision = "0005_kept_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the credentials table."""
    op.create_table(
        "auth_state",
        sa.Column("name", sa.String(40), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    op.drop_table("auth_state")
