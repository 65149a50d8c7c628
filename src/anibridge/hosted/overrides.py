"""The custom mappings overrides of a hosted deployment, in the shared database.

The single-user service keeps the overrides the Mappings page and "fix mapping"
edit in ``<data_dir>/mappings.custom.yaml``. In a hosted deployment the web
service that edits them and the workers that plan with them may be on different
machines, so the text lives in the ``shared_texts`` row `NAME` with a version
every write increments. Each process keeps a copy as a file (the mappings loader
reads files) named by the version, and reloads its index when the version moved.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from anibridge.app.service.config import atomic_write
from anibridge.store import schema as t

__all__ = ["NAME", "local_copy", "read", "version", "write"]

NAME = "mappings.custom.yaml"


def version(engine: sa.Engine) -> int:
    """The overrides' version (0: never written)."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(t.shared_texts.c.version).where(t.shared_texts.c.name == NAME)
        ).scalar_one_or_none()
    return int(found or 0)


def read(engine: sa.Engine) -> tuple[int, str]:
    """(version, text) of the overrides; (0, "") when none were written."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(t.shared_texts.c.version, t.shared_texts.c.text).where(
                t.shared_texts.c.name == NAME
            )
        ).first()
    return (0, "") if row is None else (int(row.version), str(row.text))


def write(engine: sa.Engine, text: str) -> int:
    """Store a new text of the overrides; its version."""
    now = datetime.now(UTC).isoformat()
    table = t.shared_texts
    with engine.begin() as conn:
        stmt = insert(table).values(name=NAME, version=1, text=text, updated_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"version": table.c.version + 1, "text": text, "updated_at": now},
        ).returning(table.c.version)
        return int(conn.execute(stmt).scalar_one())


def local_copy(folder: Path, number: int, text: str) -> Path:
    """This process's file copy of version `number` (the loader reads files)."""
    path = folder / f"mappings.custom.v{number}.yaml"
    if not path.exists():
        atomic_write(path, text)
    return path
