"""The AniBridge store: links, baselines, runs, journal, cursors, pins, backups, tokens.

SQLAlchemy 2 on SQLite by default (WAL) or any SQLAlchemy URL; the schema is managed by
Alembic migrations shipped in `anibridge.store.migrations` and applied automatically
when a store is opened. `SqlStore` implements the engine's persistence protocols from
`anibridge.bridge.stores`; `TokenStore` keeps providers' OAuth tokens encrypted.
"""

from __future__ import annotations

from anibridge.store.engine import (
    StoreError,
    create_store_engine,
    default_url,
    head_revision,
    migrate,
)
from anibridge.store.lock import LockHolder, ProfileBusy, ProfileLock
from anibridge.store.sql import BackupEntry, SqlStore
from anibridge.store.tokens import SecretKeyError, TokenStore, load_secret_key

__all__ = [
    "BackupEntry",
    "LockHolder",
    "ProfileBusy",
    "ProfileLock",
    "SecretKeyError",
    "SqlStore",
    "StoreError",
    "TokenStore",
    "create_store_engine",
    "default_url",
    "head_revision",
    "load_secret_key",
    "migrate",
]
