"""Hosted mode: files every process of a deployment must see, in the database.

Revision ID: 0007_shared_texts
Revises: 0006_auth_state
Create Date: 2026-12-07

- ``shared_texts`` holds named texts with a version every write increments. The
  first is the custom mappings overrides file that the single-user service keeps
  as ``<data_dir>/mappings.custom.yaml``: in a hosted deployment the web service
  edits it (Mappings page, "fix mapping") and every worker, on any machine, plans
  with it, reloading when the version moved.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_shared_texts"
down_revision = "0006_auth_state"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the shared texts table."""
    op.create_table(
        "shared_texts",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    op.drop_table("shared_texts")
