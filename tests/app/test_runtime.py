from __future__ import annotations

import json

from anibridge.app.config import load_config
from anibridge.app.demo import prepare_workspace
from anibridge.app.runtime import (
    StopFlag,
    close_session,
    guard_writes,
    open_session,
    write_backup,
)
from anibridge.provider.base import (
    Progress,
    RecordField,
    RecordQuery,
    Ref,
    UpsertRecord,
)


async def _session(tmp_path, retention: int = 2):
    config_path, _ = prepare_workspace(tmp_path / "ws")
    text = config_path.read_text().replace("retention: 5", f"retention: {retention}")
    config_path.write_text(text)
    return await open_session(load_config(config_path, environ={}), "demo")


def _write(n: int) -> UpsertRecord:
    return UpsertRecord(Ref("anilist:20"), set={RecordField.PROGRESS: Progress(n)})


async def test_backup_before_the_first_write_once_per_run_and_progress(tmp_path):
    session = await _session(tmp_path)
    try:
        batches: list[int] = []
        session.stop = StopFlag()
        guard_writes(session, run_id=lambda: "run-1", on_batch=batches.append)
        target = session.providers["list"]
        first = await target.write_records([_write(13)])
        assert first[0].ok and session.stop.writes_started
        assert len(session.backups) == 1
        backup = json.loads(session.backups[0].read_bytes())
        entry = next(i for i in backup["items"] if i["key"] == "anilist:20")
        assert entry["record"]["progress"] == 12  # the state before the first write
        second = await target.write_records([_write(14), _write(15)])
        assert [r.ok for r in second] == [True, True]
        page = await target.fetch_records(
            RecordQuery(
                refs=(Ref("anilist:20"),), fields=frozenset({RecordField.PROGRESS})
            )
        )
        assert page.items[0].values[RecordField.PROGRESS].current == 15
        assert batches == [1, 2]
        assert len(session.backups) == 1  # one backup per run
        assert session.store.backups("demo", "list")[0].run_id == "run-1"
    finally:
        await close_session(session)


async def test_backup_retention_keeps_newest(tmp_path):
    session = await _session(tmp_path, retention=2)
    try:
        paths = [await write_backup(session, "list") for _ in range(4)]
        kept = session.store.backups("demo", "list")
        assert [e.path for e in kept] == [f"demo/{p.name}" for p in paths[:1:-1]]
        assert not paths[0].exists() and not paths[1].exists()
        assert paths[3].exists()
    finally:
        await close_session(session)


async def test_plan_incremental_reads_parts_and_reads_all_on_a_refless_change(tmp_path):
    from dataclasses import replace
    from datetime import UTC, datetime

    from anibridge.app.runtime import plan_incremental
    from anibridge.provider.base import RecordChange
    from anibridge.provider.testing.memory import (
        episode_ref,
        library_capabilities,
        library_show,
        memory_provider,
        watched_record,
    )

    at = datetime(2025, 1, 1, tzinfo=UTC)
    session = await _session(tmp_path)
    try:
        key = session.profile.source.key
        assert session.profile.direction != "two_way"
        mem = memory_provider(
            library_capabilities(),
            nodes=library_show("a", "A", {1: 3}, ids=["tvdb_show:1"]),
            records=[watched_record(episode_ref("a", 1, 1), last_viewed=at)],
        )
        s = replace(session, providers={**session.providers, key: mem})
        first = await plan_incremental(s, full=False)  # no cursor yet: full read
        assert first.snapshots == {}
        session.store.set_cursor(session.name, key, first.cursor_after)
        mem.put_record(watched_record(episode_ref("a", 1, 2), last_viewed=at))
        touched = await plan_incremental(s, full=False)
        snap = touched.snapshots[key]
        assert sorted(repr(r.ref) for r in snap.entries["a"].records) == [
            "a:season=1,episode=1",
            "a:season=1,episode=2",
        ]
        session.store.set_cursor(session.name, key, touched.cursor_after)
        mem._changes.append(RecordChange(ref=None, at=at))  # "something was removed"
        refless = await plan_incremental(s, full=False)
        assert refless.snapshots == {} and not refless.nothing_changed
        assert refless.cursor_after != touched.cursor_after
    finally:
        await close_session(session)
