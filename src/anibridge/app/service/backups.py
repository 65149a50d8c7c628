"""Backup files: write, index, locate, prune, and restore/import without losing any.

Rules that keep a mistake from destroying backups:

- The index (in the store) holds each file's path *relative to the backups folder*
  (``<profile>/<provider>-<stamp>.<ext>``), so a copied workspace finds its own
  copies and never reaches into the original's folder. Rows written by older
  versions (absolute paths) are read as ``<profile>/<file name>`` inside the folder
  unless they already point inside it.
- Pruning deletes only files inside the backups folder, never the backup just
  taken and never one being restored (`protect`).
- `restore_payload` and `import_document` parse and validate the whole payload
  (`anibridge.provider.backup_checks`) before the safety backup or any write, and
  prune only after the import succeeded: a refused payload leaves the folder byte
  for byte as it was. An import that fails while writing keeps its safety backup
  (the target may have partly changed) and prunes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from anibridge.app.service.errors import InvalidInput
from anibridge.provider.backup_checks import check_backup
from anibridge.provider.base import SupportsBackupExports, SupportsBackupImports

if TYPE_CHECKING:
    from anibridge.app.session import Session
    from anibridge.store import SqlStore
    from anibridge.store.sql import BackupEntry

__all__ = [
    "BackupRefused",
    "import_document",
    "index_path",
    "indexed",
    "locate",
    "prune",
    "restore_payload",
    "write_backup",
]


class BackupRefused(InvalidInput):
    """A restore or import was refused before anything was written (one line)."""


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return True


def index_path(root: Path, file: Path) -> str:
    """The index's name for `file`: its path relative to the backups folder."""
    return PurePosixPath(file.resolve().relative_to(root.resolve())).as_posix()


def locate(root: Path, entry: BackupEntry) -> Path | None:
    """Where an index row's file is, inside `root`; None if it would be outside."""
    raw = Path(entry.path)
    if not raw.is_absolute():
        candidate = root / raw
    elif _inside(raw, root):
        candidate = raw
    else:  # an older absolute row, e.g. from the workspace this one was copied from
        candidate = root / entry.profile / raw.name
    return candidate if _inside(candidate, root) else None


def indexed(
    store: SqlStore, root: Path, profile: str, provider: str | None = None
) -> list[tuple[BackupEntry, Path]]:
    """The profile's indexed backups whose file exists in the folder, newest first."""
    out = []
    for entry in store.backups(profile, provider):
        path = locate(root, entry)
        if path is not None and path.is_file():
            out.append((entry, path))
    return out


def prune(
    store: SqlStore,
    root: Path,
    profile: str,
    provider: str,
    keep: int,
    protect: Collection[Path] = (),
) -> list[Path]:
    """Drop all but the newest `keep` backups; never a protected or outside file.

    Returns:
        The files deleted.
    """
    if not keep:
        return []
    spared = {p.resolve() for p in protect}
    inside: list[tuple[BackupEntry, Path]] = []
    for entry in store.backups(profile, provider):
        path = locate(root, entry)
        if path is None:  # names a file outside the folder: forget it, touch nothing
            store.remove_backup(entry.id)
        else:
            inside.append((entry, path))
    deleted = []
    for entry, path in inside[keep:]:
        if path.resolve() in spared:
            continue
        path.unlink(missing_ok=True)
        store.remove_backup(entry.id)
        deleted.append(path)
    return deleted


async def write_backup(
    session: Session,
    key: str,
    *,
    run_id: str | None = None,
    prune_old: bool = True,
    protect: Collection[Path] = (),
) -> Path | None:
    """Back one provider up into the folder and index it; prune old ones.

    Args:
        session: The open profile.
        key: The provider.
        run_id: The run the backup belongs to.
        prune_old: Apply retention now (restore/import prune after success).
        protect: Files pruning must keep besides the new one.

    Returns:
        The file written, or None when the provider cannot export backups.
    """
    provider = session.providers[key]
    if not isinstance(provider, SupportsBackupExports):
        return None
    artifact = await provider.export_backup()
    if artifact is None:
        return None
    root = session.config.backup_dir
    folder = root / session.name
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{key}-{stamp}{artifact.file_extension}"
    path.write_bytes(artifact.content)
    session.store.add_backup(
        profile=session.name,
        provider=key,
        path=index_path(root, path),
        size=len(artifact.content),
        sha256=hashlib.sha256(artifact.content).hexdigest(),
        run_id=run_id,
    )
    session.backups.append(path)
    if prune_old:
        prune(
            session.store,
            root,
            session.name,
            key,
            session.config.app.backups.retention,
            protect=(path, *protect),
        )
    return path


async def restore_payload(
    session: Session, key: str, payload: bytes, *, source: Path | None = None
) -> Path | None:
    """Validate, back up, import a backup payload into `key`, then prune.

    Args:
        session: The open profile (its lock held).
        key: The provider to restore.
        payload: The backup's bytes, read before this call.
        source: The backup file being restored (never pruned).

    Returns:
        The safety backup taken, or None when the provider cannot export one.

    Raises:
        BackupRefused: the provider cannot import backups, or the payload is
            malformed; nothing was written.
    """
    target = session.providers[key]
    if not isinstance(target, SupportsBackupImports):
        raise BackupRefused(f"provider {key!r} cannot import backups")
    try:
        check_backup(target, payload)
    except ValueError as exc:
        raise BackupRefused(str(exc)) from None
    safety = await write_backup(session, key, prune_old=False)
    await target.import_backup(payload)
    _after_import(session, key, safety, source)
    return safety


def _after_import(
    session: Session, key: str, safety: Path | None, source: Path | None
) -> None:
    from anibridge.bridge.sync import forget_cursors

    # The restored side changed behind the change feed: read all next time.
    forget_cursors(session.store.bundle(), session.name, session.providers)
    protect = [p for p in (safety, source) if p is not None]
    prune(
        session.store,
        session.config.backup_dir,
        session.name,
        key,
        session.config.app.backups.retention,
        protect=protect,
    )


async def import_document(
    session: Session, key: str, data: bytes, *, where: str
) -> int:
    """Validate a local document, back the local file up, replace it, then prune.

    Returns:
        The number of titles imported.

    Raises:
        BackupRefused: `key` is not a local provider, or the document is
            malformed; nothing was written.
    """
    from anibridge.providers.local import LocalProvider

    target = session.providers.get(key)
    if not isinstance(target, LocalProvider):
        raise BackupRefused(
            f"provider {key!r} is not a local provider of profile "
            f"{session.name!r}; import writes only into local files"
        )
    try:
        target.check_backup(data, where=where)
    except ValueError as exc:
        raise BackupRefused(str(exc)) from None
    safety = await write_backup(session, key, prune_old=False)
    count = target.import_document(data, where=where)
    _after_import(session, key, safety, None)
    return count
