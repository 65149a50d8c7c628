"""Plex's change cursor under clock skew: future-dated plays never wedge it.

The provider's wall clock is pinned through the ``now`` config key (a list the test
moves), and every play is stamped explicitly: no test reads the real clock. The feed
is drained with the bridge's own `changes_since`, which refuses a repeated cursor.
"""

from __future__ import annotations

import base64
import json
import logging

from anibridge.bridge.collect import changes_since
from anibridge.provider.base import ChangeQuery, EventChange, NodeChange
from anibridge.providers._library.cursor import encode_cursor
from anibridge.providers._library.provider import FEED_LOOKBACK
from anibridge.providers.plex import PlexProvider

NOW = 1_800_000_000  # our clock at the first poll


def _cursor_values(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


async def _started(make_plex, clock: list[int]) -> tuple[PlexProvider, str]:
    provider = make_plex(now=lambda: clock[0])
    await provider.initialize()
    first = await provider.poll_changes(ChangeQuery())
    assert first.items == () and first.cursor
    return provider, first.cursor


async def test_a_play_dated_after_now_is_read_once_and_the_cursor_moves_on(
    make_plex, library
):
    clock = [NOW]
    provider, cursor = await _started(make_plex, clock)
    ep = library.episode("Haibane Renmei", 1, 3)
    library.play("1", ep.key, at=NOW + 3 * 3600)  # a client clock three hours ahead
    clock[0] += 60
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == {ep.show_key}
    # Read again at the same instant, later, and after our clock passed the play.
    for later in (0, 600, 4 * 3600):
        clock[0] = NOW + 60 + later
        again, nxt = await changes_since(provider, "plex", cursor)
        assert again == set(), later
        assert _cursor_values(nxt)["since"] == clock[0]  # moved forward
        cursor = nxt
    await provider.close()


async def test_an_ordinary_play_after_a_future_dated_one_is_still_read(
    make_plex, library
):
    clock = [NOW]
    provider, cursor = await _started(make_plex, clock)
    future = library.episode("Haibane Renmei", 1, 3)
    library.play("1", future.key, at=NOW + 86_400)
    clock[0] += 60
    _, cursor = await changes_since(provider, "plex", cursor)
    other = library.episode("Cowboy Bebop", 1, 2)
    library.play("1", other.key, at=NOW + 120)  # stamped by a correct clock
    clock[0] = NOW + 180
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == {other.show_key}
    await provider.close()


async def test_a_server_clock_behind_ours_loses_no_play(make_plex, library):
    clock = [NOW]
    provider, cursor = await _started(make_plex, clock)
    clock[0] = NOW + 600
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == set()
    # Played after that read, but stamped by a server five minutes behind us.
    ep = library.episode("Cowboy Bebop", 1, 2)
    library.play("1", ep.key, at=NOW + 600 + 10 - 300)
    clock[0] = NOW + 900
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == {ep.show_key}
    clock[0] = NOW + 1200
    keys, _ = await changes_since(provider, "plex", cursor)
    assert keys == set()  # and only once, though it is inside the lookback
    await provider.close()


async def test_plays_sharing_a_second_across_a_page_boundary_each_arrive_once(
    make_plex, library
):
    clock = [NOW]
    provider, cursor = await _started(make_plex, clock)
    show = library.find("Haibane Renmei")
    eps = [library.episode("Haibane Renmei", 1, n) for n in (1, 2, 3)]
    for ep in eps:
        library.play("1", ep.key, at=NOW + 30)  # same second
    library.play("1", eps[0].key, at=NOW + 30)  # and a rewatch in it too
    clock[0] = NOW + 60
    plays: list[EventChange] = []
    page = await provider.poll_changes(ChangeQuery(cursor=cursor, limit=1))
    pages, late = 1, False
    while page.items:
        plays.extend(c for c in page.items if isinstance(c, EventChange))
        if len(plays) == 2 and not late:  # a play arrives between two pages
            library.play("1", eps[1].key, at=NOW + 30)
            late = True
        cursor = page.cursor
        page = await provider.poll_changes(ChangeQuery(cursor=cursor, limit=1))
        pages += 1
        assert pages < 40
    assert len(plays) == 5
    assert len({c.key for c in plays}) == 5  # five history rows, none twice
    assert {c.ref.key for c in plays} == {show.key}
    clock[0] = NOW + 120
    keys, _ = await changes_since(provider, "plex", page.cursor)
    assert keys == set()
    await provider.close()


async def test_a_cursor_of_the_previous_version_is_still_read(make_plex, library):
    clock = [NOW + 600]
    provider = make_plex(now=lambda: clock[0])
    await provider.initialize()
    ep = library.episode("Cowboy Bebop", 1, 2)
    library.play("1", ep.key, at=NOW + 100)
    future = library.episode("Haibane Renmei", 1, 3)
    library.play("1", future.key, at=NOW + 86_400)
    for old in (
        encode_cursor({"since": NOW}),
        encode_cursor({"since": NOW, "upto": NOW + 500, "offset": 1}),
    ):
        keys, cursor = await changes_since(provider, "plex", old)
        assert keys == {ep.show_key, future.show_key}
        assert _cursor_values(cursor)["v"] == 2
        keys, _ = await changes_since(provider, "plex", cursor)
        assert keys == set()
    await provider.close()


async def test_a_cursor_this_version_cannot_read_asks_for_a_full_read(
    make_plex, caplog
):
    clock = [NOW]
    provider = make_plex(now=lambda: clock[0])
    await provider.initialize()
    newer = encode_cursor({"v": 99, "since": NOW})
    with caplog.at_level(logging.WARNING):
        page = await provider.poll_changes(ChangeQuery(cursor=newer))
    assert page.items == (NodeChange(),)  # no ref: the caller reads everything
    assert "full read" in caplog.text
    keys, cursor = await changes_since(provider, "plex", newer)
    assert keys is None and _cursor_values(cursor)["since"] == NOW
    await provider.close()


async def test_a_first_poll_counts_its_lookback_as_read_but_not_what_comes_later(
    make_plex, library
):
    before = library.episode("Cowboy Bebop", 1, 2)
    library.play(
        "1", before.key, at=NOW - 60
    )  # the full read that starts a feed has it
    clock = [NOW]
    provider, cursor = await _started(make_plex, clock)
    late = library.episode("Haibane Renmei", 1, 3)
    library.play("1", late.key, at=NOW - 30)  # arrives later, from a clock behind ours
    clock[0] = NOW + 60
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == {late.show_key}
    clock[0] = NOW + FEED_LOOKBACK + 120
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == set()
    await provider.close()


async def test_a_catalog_change_after_one_already_read_is_read_too(make_plex, library):
    clock = [NOW]
    provider, cursor = await _started(make_plex, clock)
    monk = library.find("Monk")
    library.add_episode(monk.key, 1, 3, added_at=NOW + 3600)  # server clock ahead
    clock[0] = NOW + 60
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == {monk.key}
    library.add_episode(monk.key, 1, 4, added_at=NOW + 3600)  # same second, later
    clock[0] = NOW + 120
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == {monk.key}
    clock[0] = NOW + 180
    keys, _ = await changes_since(provider, "plex", cursor)
    assert keys == set()
    await provider.close()


async def test_a_show_is_not_reported_again_when_one_of_its_rows_leaves_the_window(
    make_plex, library
):
    clock = [NOW]
    provider, cursor = await _started(make_plex, clock)
    monk = library.find("Monk")
    library.add_episode(monk.key, 1, 3, added_at=NOW + 30)
    library.add_episode(monk.key, 1, 4, added_at=NOW + 86_400)  # server clock ahead
    clock[0] = NOW + 60
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == {monk.key}
    for step in (1, 2, 3):  # by the third read episode 3 has left the window
        clock[0] = NOW + 60 + step * FEED_LOOKBACK
        keys, cursor = await changes_since(provider, "plex", cursor)
        assert keys == set(), step
    await provider.close()


async def test_our_clock_set_back_loses_no_play_stamped_by_the_corrected_clock(
    make_plex, library
):
    clock = [NOW + 7200]  # our clock two hours fast, then corrected
    provider, cursor = await _started(make_plex, clock)
    clock[0] = NOW + 60
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == set()
    ep = library.episode("Cowboy Bebop", 1, 2)
    library.play("1", ep.key, at=NOW + 90)
    clock[0] = NOW + 120
    keys, cursor = await changes_since(provider, "plex", cursor)
    assert keys == {ep.show_key}
    assert _cursor_values(cursor)["since"] == NOW + 120
    await provider.close()
