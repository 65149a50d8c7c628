"""Progress folded from events: reads, phases, writes with a rate, named waits."""

from __future__ import annotations

import asyncio

import pytest

from anibridge.app.service.progress import ProgressBoard, RunProgress
from anibridge.http.clock import ManualClock
from anibridge.http.limits import RateLimit, RateLimiter
from anibridge.progress import Phase, Read, Waiting, Wrote, emit, reporting


class Tick:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reads_add_up_per_provider_and_section_in_order():
    clock = Tick()
    run = RunProgress("sync", clock=clock)
    for event in (
        Read("plex", "library", 50),
        Read("plex", "library", 50),
        Read("anilist", "records", 500),
        Read("plex", "library", 7),
        Read("plex", "plays", 30),
    ):
        run.apply(event)
    state = run.to_json()
    assert state["phase"] == "reading"
    assert state["reads"] == [
        {"provider": "plex", "section": "library", "pages": 3, "items": 107},
        {"provider": "anilist", "section": "records", "pages": 1, "items": 500},
        {"provider": "plex", "section": "plays", "pages": 1, "items": 30},
    ]


def test_writes_count_done_of_total_with_a_rate():
    clock = Tick()
    run = RunProgress("sync", clock=clock)
    run.apply(Phase("planning"))
    run.apply(Phase("writing", 120))
    assert run.to_json()["writes"] == {"done": 0, "total": 120, "rate": None}
    clock.now += 4.0
    run.apply(Wrote("anilist", 25))
    run.apply(Wrote("anilist", 15))
    state = run.to_json()
    assert state["phase"] == "writing"
    assert state["writes"] == {"done": 40, "total": 120, "rate": 10.0}
    assert state["elapsed_s"] == 4.0


def test_a_rate_limit_wait_is_shown_as_such_until_work_resumes():
    clock = Tick()
    run = RunProgress("sync", clock=clock)
    run.apply(Phase("writing", 10))
    assert run.apply(Waiting("anilist", 42.0, "rate limit")) is True  # urgent
    clock.now += 12.0
    waiting = run.to_json()["waiting"]
    assert waiting == {
        "service": "anilist",
        "reason": "rate limit",
        "seconds": 42.0,
        "left": 30.0,
    }
    run.apply(Wrote("anilist", 1))
    assert run.to_json()["waiting"] is None


def test_finish_keeps_the_result_for_late_readers():
    run = RunProgress("preview", clock=Tick())
    run.apply(Read("plex", "library", 1))
    run.finish({"status": "ok", "plan_id": "p1"})
    state = run.to_json()
    assert state["finished"] is True
    assert state["phase"] == "done"
    assert state["result"] == {"status": "ok", "plan_id": "p1"}
    assert state["reads"][0]["items"] == 1


def test_the_limiter_reports_its_own_waits_and_a_service_pause():
    clock = ManualClock()
    limiter = RateLimiter([RateLimit(2, 60.0, margin=0.0)], clock=clock, label="mal")
    seen: list[object] = []

    async def three_requests() -> None:
        for _ in range(3):
            await limiter.acquire("read")
        limiter.pause("read", 30.0)  # the service said Retry-After: 30
        await limiter.acquire("read")

    with reporting(seen.append):
        asyncio.run(three_requests())
    waits = [e for e in seen if isinstance(e, Waiting)]
    assert [w.reason for w in waits] == ["rate limit", "retry-after"]
    assert waits[0].service == "mal"
    assert waits[0].seconds == pytest.approx(60.0)
    assert waits[1].seconds == pytest.approx(30.0)
    assert clock.slept == pytest.approx(90.0)  # virtual time only


def test_board_tells_phase_changes_at_once_and_pages_at_its_pace():
    clock = Tick()
    told: list[tuple[str, dict]] = []
    board = ProgressBoard(lambda p, s: told.append((p, s)), clock=clock, interval=1.0)
    with board.track("demo", "sync") as run:
        emit(Read("plex", "library", 10))  # a new section: told
        emit(Read("plex", "library", 10))  # within the interval: not told
        emit(Read("plex", "library", 10))
        clock.now += 1.5
        emit(Read("plex", "library", 10))  # the interval passed: told
        emit(Phase("planning"))  # a phase: told at once
        board.finish("demo", run, {"status": "ok"})
    assert [s["phase"] for _p, s in told] == [
        "starting",
        "reading",
        "reading",
        "planning",
        "done",
    ]
    assert told[2][1]["reads"][0]["items"] == 40
    assert board.state("demo")["result"] == {"status": "ok"}
    assert board.state("other") is None


def test_board_ends_a_job_that_raised_as_failed_and_drops_stale_events():
    board = ProgressBoard(clock=Tick())
    with pytest.raises(RuntimeError), board.track("demo", "sync"):
        raise RuntimeError("boom")
    assert board.state("demo")["result"] == {
        "status": "failed",
        "error": "RuntimeError",
    }
    with board.track("demo", "preview") as first:
        pass
    with board.track("demo", "sync"):
        board.finish("demo", first, {"status": "ok"})  # an older job: ignored
        assert board.state("demo")["job"] == "sync"
        assert board.state("demo")["finished"] is False
