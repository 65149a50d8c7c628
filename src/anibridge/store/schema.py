"""Tables of the AniBridge store (SQLAlchemy Core).

The Alembic migrations in `anibridge.store.migrations` create exactly these tables;
`tests/store` checks that a database migrated from empty matches this metadata, so
the two cannot drift apart unnoticed.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "auth_state",
    "backups",
    "baselines",
    "cursors",
    "job_results",
    "journal",
    "kept_plans",
    "links",
    "metadata",
    "overrides",
    "pins",
    "profile_locks",
    "queue_schema",
    "runs",
    "shared_limits",
    "shared_texts",
    "tokens",
    "webhook_inbox",
]

metadata = sa.MetaData()

links = sa.Table(
    "links",
    metadata,
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
    sa.Index("ix_links_pair", "profile", "source_provider", "target_provider"),
)

overrides = sa.Table(
    "overrides",
    metadata,
    sa.Column("profile", sa.String(200), primary_key=True),
    sa.Column("source_provider", sa.String(200), primary_key=True),
    sa.Column("source_key", sa.String(500), primary_key=True),
    sa.Column("source_part", sa.String(500), primary_key=True),
    sa.Column("target_provider", sa.String(200), primary_key=True),
    sa.Column("target_key", sa.String(1000), primary_key=True),
    sa.Column("target_ref", sa.String(1000), nullable=True),
)

baselines = sa.Table(
    "baselines",
    metadata,
    sa.Column("profile", sa.String(200), primary_key=True),
    sa.Column("link", sa.String(40), primary_key=True),
    sa.Column("field", sa.String(40), primary_key=True),
    sa.Column("source_value", sa.JSON, nullable=True),
    sa.Column("target_value", sa.JSON, nullable=True),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("profile", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("finished_at", sa.String(40), nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("plan_id", sa.String(64), nullable=True),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("owner", sa.String(300), nullable=True),
    sa.Index("ix_runs_profile_started", "profile", "started_at"),
    sa.Index("ix_runs_profile_status", "profile", "status"),
)

journal = sa.Table(
    "journal",
    metadata,
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
    sa.Index("ix_journal_action", "action_id"),
    sa.Index("ix_journal_event", "provider", "op", "at"),
    sa.Index("ix_journal_outcome", "outcome"),
)

cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("profile", sa.String(200), primary_key=True),
    sa.Column("provider", sa.String(200), primary_key=True),
    sa.Column("cursor", sa.Text, nullable=False),
)

pins = sa.Table(
    "pins",
    metadata,
    sa.Column("profile", sa.String(200), primary_key=True),
    sa.Column("provider", sa.String(200), primary_key=True),
    sa.Column("ref", sa.String(1000), primary_key=True),
    sa.Column("fields", sa.JSON, nullable=False),
)

backups = sa.Table(
    "backups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("profile", sa.String(200), nullable=False),
    sa.Column("provider", sa.String(200), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Index("ix_backups_profile_provider", "profile", "provider", "created_at"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

profile_locks = sa.Table(
    "profile_locks",
    metadata,
    sa.Column("profile", sa.String(200), primary_key=True),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(300), nullable=False),
    sa.Column("started_at", sa.String(40), nullable=False),
    sa.Column("purpose", sa.String(200), nullable=False),
)

shared_limits = sa.Table(
    "shared_limits",
    metadata,
    sa.Column("service", sa.String(500), primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("sent", sa.JSON, nullable=False),
    sa.Column("paused_until", sa.Float, nullable=True),
)

queue_schema = sa.Table(
    "queue_schema",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("version", sa.String(40), nullable=False),
    sa.Column("applied_at", sa.String(40), nullable=False),
)

job_results = sa.Table(
    "job_results",
    metadata,
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
    sa.Index("ix_job_results_profile", "profile", "job_id"),
)

webhook_inbox = sa.Table(
    "webhook_inbox",
    metadata,
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
    sa.Index("ix_webhook_inbox_profile", "profile", "consumed_by", "id"),
)

kept_plans = sa.Table(
    "kept_plans",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("profile", sa.String(200), nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),
    sa.Column("scope", sa.JSON, nullable=True),
    sa.Column("outcomes", sa.JSON, nullable=False),
    sa.Column("plan", sa.JSON, nullable=False),
    sa.Index("ix_kept_plans_profile", "profile", "created_at"),
)

auth_state = sa.Table(
    "auth_state",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)

shared_texts = sa.Table(
    "shared_texts",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("version", sa.BigInteger, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)
