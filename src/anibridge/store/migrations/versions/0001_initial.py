"""Initial store: links, baselines, runs, journal, cursors, pins, backups, tokens.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create every table of the first store version."""
    op.create_table(
        "links",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("source_provider", sa.String(200), nullable=False),
        sa.Column("source_key", sa.String(500), nullable=False),
        sa.Column("source_part", sa.String(500), nullable=False),
        sa.Column("target_provider", sa.String(200), nullable=False),
        sa.Column("target_ref", sa.String(1000), nullable=False),
        sa.Column("via", sa.String(40), nullable=False),
        sa.Column("edge", sa.Text, nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index(
        "ix_links_pair", "links", ["profile", "source_provider", "target_provider"]
    )
    op.create_table(
        "overrides",
        sa.Column("profile", sa.String(200), primary_key=True),
        sa.Column("source_provider", sa.String(200), primary_key=True),
        sa.Column("source_key", sa.String(500), primary_key=True),
        sa.Column("source_part", sa.String(500), primary_key=True),
        sa.Column("target_provider", sa.String(200), primary_key=True),
        sa.Column("target_key", sa.String(1000), primary_key=True),
        sa.Column("target_ref", sa.String(1000), nullable=True),
    )
    op.create_table(
        "baselines",
        sa.Column("profile", sa.String(200), primary_key=True),
        sa.Column("link", sa.String(40), primary_key=True),
        sa.Column("field", sa.String(40), primary_key=True),
        sa.Column("source_value", sa.JSON, nullable=True),
        sa.Column("target_value", sa.JSON, nullable=True),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("plan_id", sa.String(64), nullable=True),
        sa.Column("summary", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_runs_profile_started", "runs", ["profile", "started_at"])
    op.create_table(
        "journal",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("action_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("ref", sa.JSON, nullable=False),
        sa.Column("ref_id", sa.String(1000), nullable=False),
        sa.Column("op", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("before", sa.JSON, nullable=False),
        sa.Column("after", sa.JSON, nullable=False),
        sa.Column("clear", sa.JSON, nullable=False),
        sa.Column("at", sa.String(40), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("error_text", sa.Text, nullable=True),
        sa.Column("started_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=True),
        sa.Column("link", sa.String(40), nullable=False),
        sa.Column("created", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("undoes", sa.String(64), nullable=True),
        sa.UniqueConstraint("run_id", "action_id", name="uq_journal_run_action"),
    )
    op.create_index("ix_journal_action", "journal", ["action_id"])
    op.create_index("ix_journal_event", "journal", ["provider", "op", "at"])
    op.create_table(
        "cursors",
        sa.Column("profile", sa.String(200), primary_key=True),
        sa.Column("provider", sa.String(200), primary_key=True),
        sa.Column("cursor", sa.Text, nullable=False),
    )
    op.create_table(
        "pins",
        sa.Column("profile", sa.String(200), primary_key=True),
        sa.Column("provider", sa.String(200), primary_key=True),
        sa.Column("ref", sa.String(1000), primary_key=True),
        sa.Column("fields", sa.JSON, nullable=False),
    )
    op.create_table(
        "backups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("profile", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
    )
    op.create_index(
        "ix_backups_profile_provider",
        "backups",
        ["profile", "provider", "created_at"],
    )
    op.create_table(
        "tokens",
        sa.Column("key", sa.String(300), primary_key=True),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    """Drop every table (the store is empty again)."""
    for table in (
        "tokens",
        "backups",
        "pins",
        "cursors",
        "journal",
        "runs",
        "baselines",
        "overrides",
        "links",
    ):
        op.drop_table(table)
