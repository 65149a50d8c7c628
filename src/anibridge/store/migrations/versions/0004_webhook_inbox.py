"""Hosted mode: webhooks recorded in the same transaction as the job they queue.

Revision ID: 0004_webhook_inbox
Revises: 0003_hosted
Create Date: 2026-12-07

- ``webhook_inbox`` keeps each webhook a hosted web service accepted, per profile it
  feeds: the body and the headers a provider needs to parse it. The row and the
  sync job it queues commit together (nothing accepted is lost); the job that runs
  reads the profile's unconsumed rows, parses them with the profile's initialized
  source provider, and marks them consumed by its id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_webhook_inbox"
down_revision = "0003_hosted"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the webhook inbox."""
    op.create_table(
        "webhook_inbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("received_at", sa.String(40), nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("consumed_by", sa.BigInteger, nullable=True),
    )
    op.create_index(
        "ix_webhook_inbox_profile", "webhook_inbox", ["profile", "consumed_by", "id"]
    )


def downgrade() -> None:
    """Drop what `upgrade` added."""
    op.drop_index("ix_webhook_inbox_profile", "webhook_inbox")
    op.drop_table("webhook_inbox")
