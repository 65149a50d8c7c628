"""Alembic environment: always run with a connection handed in by `anibridge.store`.

The store calls Alembic programmatically (`anibridge.store.migrate`), passing its open
connection in ``config.attributes["connection"]``, so migrations run on exactly the
database (and PostgreSQL schema) the store uses, with no `alembic.ini`.
"""

from __future__ import annotations

from alembic import context

from anibridge.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable from the alembic CLI
    raise RuntimeError("run migrations through anibridge.store.migrate()")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
