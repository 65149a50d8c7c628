"""Backups a mistake cannot destroy: relative index, careful pruning, checked input.

Real demo workspaces (SQLite store, local files); the CLI in-process through typer.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from anibridge.app.config import load_config
from anibridge.app.demo import prepare_workspace
from anibridge.app.runtime import close_session, open_session
from anibridge.app.service.backups import (
    BackupRefused,
    import_document,
    locate,
    prune,
    restore_payload,
    write_backup,
)


def _workspace(root: Path, retention: int = 2) -> Path:
    config, _ = prepare_workspace(root)
    config.write_text(
        config.read_text().replace("retention: 5", f"retention: {retention}")
    )
    return config


def _folder_state(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative name → sha256): listing and contents."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


async def _open(config: Path):
    return await open_session(load_config(config, environ={}), "demo")


async def test_index_is_relative_and_a_copied_workspace_prunes_only_its_own(tmp_path):
    original = _workspace(tmp_path / "ws")
    session = await _open(original)
    try:
        taken = [await write_backup(session, "list") for _ in range(2)]
        rows = session.store.backups("demo", "list")
        assert [r.path for r in rows] == [f"demo/{p.name}" for p in reversed(taken)]
    finally:
        await close_session(session)
    backups = original.parent / "data" / "backups"
    before = _folder_state(backups)
    assert len(before) == 2

    copy_root = tmp_path / "copy"
    shutil.copytree(original.parent, copy_root)
    copy = await _open(copy_root / original.name)
    try:
        # An older version's row: an absolute path into the original workspace.
        legacy = copy.store.add_backup(
            profile="demo",
            provider="list",
            path=str(taken[0]),
            size=1,
            sha256="x",
            created_at="2000-01-01T00:00:00+00:00",
        )
        own = copy.config.backup_dir
        assert locate(own, legacy) == own / "demo" / taken[0].name  # read as its copy
        outside = copy.store.add_backup(
            profile="demo",
            provider="list",
            path="../../../elsewhere.json",
            size=1,
            sha256="x",
            created_at="1999-01-01T00:00:00+00:00",
        )
        assert locate(own, outside) is None
        bait = tmp_path / "elsewhere.json"
        bait.write_text("{}")
        for _ in range(3):
            await write_backup(copy, "list")
        kept = copy.store.backups("demo", "list")
        assert len(kept) == 2
        assert all(not Path(r.path).is_absolute() for r in kept)
        assert sorted(_folder_state(own)) == sorted(
            f"demo/{Path(r.path).name}" for r in kept
        )
    finally:
        await close_session(copy)
    assert _folder_state(backups) == before  # the original's folder is untouched
    assert bait.read_text() == "{}"  # nothing outside the folder is deleted


async def test_prune_spares_the_backup_just_taken_and_the_one_being_restored(tmp_path):
    config = _workspace(tmp_path / "ws", retention=1)
    session = await _open(config)
    try:
        oldest = await write_backup(session, "list")
        newer = await write_backup(session, "list", prune_old=False)
        root = session.config.backup_dir
        # Restoring the oldest with retention 1: neither it nor the safety backup
        # taken just before the import may be pruned.
        safety = await restore_payload(
            session, "list", oldest.read_bytes(), source=oldest
        )
        assert safety is not None and safety.exists() and oldest.exists()
        assert not newer.exists()
        names = {Path(r.path).name for r in session.store.backups("demo", "list")}
        assert names == {oldest.name, safety.name}
        # Even when a caller asks to keep nothing but what it protects.
        assert prune(session.store, root, "demo", "list", 1, [oldest, safety]) == []
    finally:
        await close_session(session)


BAD_PAYLOADS = {
    "not-json": b"{broken",
    "wrong-shape": b'{"anibridge_local": 1, "items": [{"kind": "show"}]}',
    "empty": b"",
}


@pytest.mark.parametrize("payload", BAD_PAYLOADS.values(), ids=BAD_PAYLOADS.keys())
async def test_a_refused_payload_writes_nothing_and_keeps_the_folder(tmp_path, payload):
    config = _workspace(tmp_path / "ws", retention=2)
    session = await _open(config)
    try:
        for _ in range(2):
            await write_backup(session, "list")
        backups = session.config.backup_dir
        before = _folder_state(backups)
        rows = session.store.backups("demo")
        state = (config.parent / "list.sqlite").read_bytes()
        for _ in range(5):  # five bad attempts used to replace every real backup
            with pytest.raises(BackupRefused) as caught:
                await restore_payload(session, "list", payload)
            assert "\n" not in str(caught.value)
            with pytest.raises(BackupRefused):
                await import_document(session, "list", payload, where="bad.yaml")
        assert _folder_state(backups) == before
        assert session.store.backups("demo") == rows
        assert (config.parent / "list.sqlite").read_bytes() == state
    finally:
        await close_session(session)


def _invoke(config: Path, *args: str):
    from typer.testing import CliRunner

    from anibridge.app import cli as commands

    commands._load_commands()
    env = {k: None for k in os.environ if k.startswith("ANIBRIDGE_")}
    return CliRunner().invoke(commands.app, [*args, "--config", str(config)], env=env)


def test_cli_bad_restore_and_import_exit_1_with_one_line_and_keep_the_folder(tmp_path):
    config = _workspace(tmp_path / "ws", retention=2)
    for _ in range(2):
        assert _invoke(config, "backup").exit_code == 0
    backups = config.parent / "data" / "backups"
    before = _folder_state(backups)
    assert len(before) == 4  # library and list, twice
    bad = tmp_path / "list-20200101T000000000000Z.json"
    bad.write_text(json.dumps({"anibridge_local": 1, "items": [{"kind": "show"}]}))
    for args in (
        ("restore", str(bad)),
        ("restore", str(bad), "--provider", "library"),
        ("import", str(bad), "--provider", "list"),
    ):
        result = _invoke(config, *args)
        assert result.exit_code == 1, result.stdout
        message = result.stderr.strip()
        assert message.startswith("error: ") and "\n" not in message, message
        assert str(bad) in message
        assert _folder_state(backups) == before, args
    oldest, newest = sorted(backups.rglob("list-*"))
    good = _invoke(config, "restore", str(newest), "--yes")
    assert good.exit_code == 0, good.stderr
    after = _folder_state(backups)
    # Pruned only after success: the safety backup in, the oldest out.
    assert len(after) == 4 and set(before) - set(after) == {f"demo/{oldest.name}"}
