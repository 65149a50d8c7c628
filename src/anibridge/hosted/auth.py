"""Credentials of a hosted deployment, in the shared PostgreSQL database.

The single-user service keeps accounts, sessions, API tokens and webhook secrets in
``<data_dir>/auth.json`` (`anibridge.app.web.auth_store.AuthStore`). A hosted
deployment keeps the same document in the ``auth_state`` row instead, so several
web processes (on several machines, behind one load balancer) and the ``anibridge
user``/``token`` commands run anywhere share one set of accounts, and ``pg_dump``
holds them with everything else.

`PgAuthStore` changes only where the document lives: every rule (hashing, roles,
session expiry, per-account webhook secrets) is `AuthStore`'s. A write locks the
row (``SELECT … FOR UPDATE``), reads the newest document, changes it and stores it
with the version increased, all in one transaction, so two processes never lose
each other's changes; a read reloads the document only when the version moved.
The first use on a database that has no row yet imports ``auth.json`` from the
data directory when there is one, so switching a deployment to hosted mode keeps
its accounts.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from anibridge.app.web.auth_store import AuthStore
from anibridge.store import schema as t

__all__ = ["PgAuthStore"]

_ROW = "credentials"


def _now() -> str:
    return datetime.now(UTC).isoformat()


class PgAuthStore(AuthStore):
    """`AuthStore` whose document lives in PostgreSQL (``auth_state``).

    Args:
        engine: An engine on the migrated hosted store.
        seed: An ``auth.json`` to import when the database has no credentials yet.
        scrypt_n: scrypt cost for new password hashes (tests lower it).
    """

    def __init__(
        self, engine: sa.Engine, *, seed: Path | None = None, scrypt_n: int = 2**15
    ) -> None:
        """Import `seed` if the database has no credentials, then load them."""
        self.engine = engine
        self._version: int | None = None
        self._import(seed)
        super().__init__(seed or Path("auth_state"), scrypt_n=scrypt_n)

    def _import(self, seed: Path | None) -> None:
        if seed is None or not seed.is_file():
            return
        with self.engine.connect() as conn:
            known = conn.execute(
                sa.select(t.auth_state.c.version).where(t.auth_state.c.name == _ROW)
            ).first()
        if known is not None:
            return
        try:
            data = json.loads(seed.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{seed}: unreadable credentials file: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{seed}: credentials file must hold a JSON object")
        with self.engine.begin() as conn:
            conn.execute(
                insert(t.auth_state)
                .values(name=_ROW, version=1, data=data, updated_at=_now())
                .on_conflict_do_nothing(index_elements=["name"])
            )

    def _load(self, version: int, data: dict[str, Any]) -> None:
        self._data.update(data)
        self._version = version

    def _refresh(self) -> None:
        """Reload the document when another process changed it."""
        with self._lock, self.engine.connect() as conn:
            version = conn.execute(
                sa.select(t.auth_state.c.version).where(t.auth_state.c.name == _ROW)
            ).scalar_one_or_none()
            if version is None or version == self._version:
                return
            data = conn.execute(
                sa.select(t.auth_state.c.data).where(t.auth_state.c.name == _ROW)
            ).scalar_one()
            self._load(version, dict(data))

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Read-modify-write of the newest document under the row's lock."""
        with self._lock:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(t.auth_state)
                        .values(
                            name=_ROW, version=0, data=self._data, updated_at=_now()
                        )
                        .on_conflict_do_nothing(index_elements=["name"])
                    )
                    row = conn.execute(
                        sa.select(t.auth_state.c.version, t.auth_state.c.data)
                        .where(t.auth_state.c.name == _ROW)
                        .with_for_update()
                    ).one()
                    if row.version != self._version:
                        self._load(row.version, dict(row.data))
                    yield
                    version = row.version + 1
                    conn.execute(
                        sa.update(t.auth_state)
                        .where(t.auth_state.c.name == _ROW)
                        .values(version=version, data=self._data, updated_at=_now())
                    )
            except BaseException:
                self._version = None  # memory may be ahead of the row: reload next
                raise
            self._version = version

    def _save(self) -> None:
        """Nothing to do: `_writing` stores the document in its transaction."""
