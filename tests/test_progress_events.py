"""Progress events reach the listener of the task that emits them, and only it."""

from __future__ import annotations

import asyncio

from anibridge import progress
from anibridge.progress import Phase, Read, emit, reporting


def test_without_a_listener_emit_does_nothing():
    emit(Read("plex", "library", 3))  # no error, nobody told


def test_reporting_sends_events_inside_the_block_only():
    seen: list[object] = []
    emit(Phase("reading"))
    with reporting(seen.append):
        emit(Read("plex", "library", 3))
        with reporting(None):
            emit(Read("plex", "plays", 1))  # an inner block without a listener
        emit(Phase("planning"))
    emit(Phase("writing", 2))
    assert seen == [Read("plex", "library", 3), Phase("planning")]


def test_a_broken_listener_never_breaks_the_work():
    def broken(_event: object) -> None:
        raise RuntimeError("display failed")

    with reporting(broken):
        emit(Phase("reading"))  # swallowed


def test_concurrent_tasks_report_to_their_own_listener():
    async def job(name: str, seen: list[object], go: asyncio.Event) -> None:
        with reporting(seen.append):
            await go.wait()  # both blocks are open at once here
            emit(Read(name, "records", 1))
            await asyncio.sleep(0)
            emit(Phase("done"))

    async def main() -> tuple[list[object], list[object]]:
        a: list[object] = []
        b: list[object] = []
        go = asyncio.Event()
        tasks = [
            asyncio.ensure_future(job("a", a, go)),
            asyncio.ensure_future(job("b", b, go)),
        ]
        await asyncio.sleep(0)
        go.set()
        await asyncio.gather(*tasks)
        return a, b

    a, b = asyncio.run(main())
    assert a == [Read("a", "records", 1), Phase("done")]
    assert b == [Read("b", "records", 1), Phase("done")]
    assert progress._LISTENER.get() is None
