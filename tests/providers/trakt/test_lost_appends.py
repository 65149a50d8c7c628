"""History appends whose answer is lost, against the fake Trakt over real HTTP.

Trakt keeps every POSTed play, so a batch re-sent after a lost answer duplicates
every play of it if the first POST landed — maybe only after the client gave up.
The fake's "apply late" knob holds such a POST back and lands it when told.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from anibridge.provider.base import AppendEvent, WriteError, WriteOp
from anibridge.provider.semantics import write_semantics
from anibridge.providers.trakt import TraktConfigError, TraktProvider
from anibridge.providers.trakt.vocabulary import episode_ref, movie_ref

T0 = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)


def history_posts(fake) -> int:
    return sum(
        1 for r in fake.requests if r.method == "POST" and r.path == "/sync/history"
    )


def plays() -> list[AppendEvent]:
    return [
        AppendEvent(
            episode_ref(1, 1, n), "watch", T0 + timedelta(hours=n), token=f"e{n}"
        )
        for n in (1, 2, 3)
    ] + [AppendEvent(movie_ref(2), "watch", T0, token="m")]


@pytest.mark.parametrize("answer", [0, 504], ids=["connection-reset", "gateway-504"])
async def test_a_lost_history_post_is_sent_once_and_answered_transient(
    fake, provider, answer
):
    fake.apply_late(answer=answer)
    results = await provider.write_events(plays())
    assert [r.code for r in results] == [WriteError.TRANSIENT] * 4
    assert not any(r.ok for r in results)
    assert history_posts(fake) == 1  # the HTTP client never repeats this POST
    assert fake.history == []  # not applied yet
    assert len(fake.late) == 1

    assert fake.land_late() == 1  # Trakt finishes the request late
    assert len(fake.history) == 4
    again = await provider.write_events(plays())
    assert all(r.ok for r in again)
    assert history_posts(fake) == 1  # the re-read found every play: nothing sent
    assert len(fake.history) == 4


async def test_a_retry_after_a_post_that_never_landed_sends_only_what_is_missing(
    fake, provider
):
    fake.apply_late()
    await provider.write_events(plays())
    fake.late.clear()  # this one never lands
    fake.add_play(("episode", 1, 1, 2), T0 + timedelta(hours=2))  # scrobbled meanwhile
    again = await provider.write_events(plays())
    assert all(r.ok for r in again)
    assert history_posts(fake) == 2
    sent = json.loads(fake.requests[-1].body)
    (season,) = sent["shows"][0]["seasons"]
    assert [e["number"] for e in season["episodes"]] == [1, 3]  # not 2
    assert [m["ids"]["trakt"] for m in sent["movies"]] == [2]
    keys = [e["key"] for e in fake.history]
    assert len(keys) == len(set(keys)) == 4


async def test_a_late_apply_driven_by_the_fake_clock_lands_before_the_next_request(
    fake, provider
):
    fake.apply_late(after=30)
    await provider.write_events(plays()[:1])
    fake.clock.advance(29)
    await provider.write_events(plays()[3:])  # before the delay: still held
    assert len(fake.late) == 1 and fake.landed == 0
    assert [e["key"] for e in fake.history] == [("movie", 2)]
    fake.clock.advance(1)
    await provider.write_events(plays()[1:2])  # it lands before this is handled
    assert fake.late == [] and fake.landed == 1
    assert sorted(e["key"] for e in fake.history) == [
        ("episode", 1, 1, 1),
        ("episode", 1, 1, 2),
        ("movie", 2),
    ]


async def test_appends_are_declared_unrepeatable_and_settle_in_the_window(make_trakt):
    provider = await make_trakt(late_apply_window=90)
    semantics = write_semantics(provider)
    assert not semantics.repeatable(WriteOp.APPEND_EVENT)
    for op in (WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD, WriteOp.DELETE_EVENT):
        assert semantics.repeatable(op)
    assert semantics.settle == timedelta(seconds=90)
    default = write_semantics(await make_trakt())
    assert default.settle == timedelta(minutes=10)


@pytest.mark.parametrize("value", [-1, "soon", True])
def test_a_bad_late_apply_window_names_the_key(value):
    with pytest.raises(TraktConfigError, match="'late_apply_window' must be"):
        TraktProvider(
            logger=logging.getLogger("t"),
            config={"client_id": "x", "late_apply_window": value},
        )
