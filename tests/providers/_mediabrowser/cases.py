"""Behaviour Jellyfin and Emby share, run against each fake (subclassed per server)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest

from anibridge.bridge.collect import changes_since
from anibridge.dates import from_epoch
from anibridge.provider.base import (
    ChangeQuery,
    FacetName,
    InboundRequest,
    NodeChange,
    Rating,
    RecordChange,
    RecordField,
    RecordQuery,
    Ref,
    ScanQuery,
    State,
    Status,
    UpsertRecord,
    WriteError,
)
from anibridge.testing.fakes.media import MediaLibrary

FIELDS = frozenset(
    {RecordField.STATUS, RecordField.REPEAT_COUNT, RecordField.LAST_ACTIVITY_AT,
     RecordField.RATING}
)  # fmt: skip
WATCHED = State("watched", Status.COMPLETED)
PLAYED = frozenset(
    {RecordField.STATUS, RecordField.REPEAT_COUNT, RecordField.LAST_ACTIVITY_AT}
)


async def scan_all(provider, **kw):
    kw.setdefault("fields", FIELDS)
    items, cursor = [], None
    while True:
        page = await provider.scan(ScanQuery(cursor=cursor, **kw))
        items.extend(page.items)
        cursor = page.cursor
        if cursor is None:
            return items


class MediaBrowserCases:
    """Subclasses define `FAKE` (fake class), `PROVIDER` and `webhook(...)`."""

    FAKE: type
    PROVIDER: type

    def webhook(self, server, kind, key, **kw):  # pragma: no cover - abstract
        raise NotImplementedError

    @pytest.fixture
    def library(self):
        return MediaLibrary.sample()

    @pytest.fixture
    def server(self, library):
        with self.FAKE(library) as fake:
            yield fake

    @pytest.fixture
    def make(self, server):
        def make(**config):
            config = {"base_url": server.base_url, "token": server.api_key,
                      "user": "Owner", **config}  # fmt: skip
            return self.PROVIDER(logger=logging.getLogger("test.mb"), config=config)

        return make

    @pytest.fixture
    async def provider(self, make):
        p = make()
        await p.initialize()
        yield p
        await p.close()

    def ref(self, server, title, season, number):
        show = server.library.find(title)
        return Ref.at(server.item_id(show.key), ("season", season), ("episode", number))

    # -- reads ------------------------------------------------------------------------

    async def test_user_selection(self, make, server):
        p = make(user="kid")
        await p.initialize()
        assert p.account().key == server.user_id("5000")
        assert p.account().title == "Kid"
        with pytest.raises(ValueError, match="no user 'Nobody'"):
            await make(user="Nobody").initialize()
        with pytest.raises(ValueError, match="'user': required"):
            await make(user=None).initialize()

    async def test_a_users_own_token_needs_no_user_list(self, make, server):
        server.user_tokens["kid-token"] = "5000"
        p = make(token="kid-token", user=None)
        await p.initialize()
        assert p.account().title == "Kid"
        items = await scan_all(p, require_activity=True)
        assert [i.node.title for i in items] == ["Haibane Renmei"]
        await p.close()

    async def test_scan_shape_and_provider_ids(self, provider, server):
        facets = frozenset({FacetName.IDS, FacetName.STRUCTURE})
        items = {i.node.title: i for i in await scan_all(provider, facets=facets)}
        assert set(items) == {"Cowboy Bebop", "Haibane Renmei", "Monk", "Akira"}
        ids = [
            i.descriptor for i in items["Cowboy Bebop"].node.facets[FacetName.IDS].ids
        ]
        assert "tvdb_show:76885:s1" in ids and "anilist:1" in ids
        assert "anilist:1:s1" not in ids  # AniList ids have no season scope
        haibane = items["Haibane Renmei"].node.facets[FacetName.IDS].ids
        assert [i.descriptor for i in haibane] == [
            "anidb:69:S",
            "anidb:69:R",
            "mal:387",
        ]
        parts = items["Cowboy Bebop"].node.facets[FacetName.STRUCTURE].parts
        assert len(parts) == 4
        lib = server.library
        assert parts[1].key == server.item_id(lib.episode("Cowboy Bebop", 1, 1).key)
        records = {r.ref: r for r in items["Cowboy Bebop"].records}
        e2 = records[self.ref(server, "Cowboy Bebop", 1, 2)]
        assert e2.values[RecordField.STATUS] == WATCHED
        assert e2.values[RecordField.REPEAT_COUNT] == 1
        assert e2.values[RecordField.LAST_ACTIVITY_AT] == from_epoch(1_700_000_200)
        e1 = records[self.ref(server, "Cowboy Bebop", 1, 1)]
        assert e1.values[RecordField.RATING] == Rating(8.0, (0.0, 10.0, 0.5))

    async def test_other_users_state_is_separate(self, make, server):
        p = make(user="Kid")
        await p.initialize()
        items = await scan_all(p, require_activity=True)
        assert [i.node.title for i in items] == ["Haibane Renmei"]
        assert [r.ref for r in items[0].records] == [
            self.ref(server, "Haibane Renmei", 1, 2)
        ]

    async def test_sections_and_genres(self, make):
        p = make(sections=["tv"])
        await p.initialize()
        assert [i.node.title for i in (await p.scan(ScanQuery())).items] == ["Monk"]
        p = make(genres=["Drama"])
        await p.initialize()
        assert [i.node.title for i in (await p.scan(ScanQuery())).items] == ["Monk"]

    # -- writes -----------------------------------------------------------------------

    async def test_mark_played_with_date_then_unplayed(self, provider, server):
        lib = server.library
        ref = self.ref(server, "Cowboy Bebop", 1, 3)
        key = lib.episode("Cowboy Bebop", 1, 3).key
        when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
        write = UpsertRecord(
            ref, set={RecordField.STATUS: WATCHED, RecordField.LAST_ACTIVITY_AT: when}
        )
        (result,) = await provider.write_records([write])
        assert result.ok, result.error
        assert lib.peek("1", key).last_viewed_at == int(when.timestamp())
        (again,) = await provider.write_records([write])
        assert again.ok and lib.peek("1", key).view_count == 1
        page = await provider.fetch_records(RecordQuery(refs=(ref,), fields=FIELDS))
        assert page.items[0].values[RecordField.LAST_ACTIVITY_AT] == when
        later = datetime(2024, 2, 1, tzinfo=UTC)
        (moved,) = await provider.write_records(
            [UpsertRecord(ref, set={RecordField.LAST_ACTIVITY_AT: later})]
        )
        assert moved.ok and lib.peek("1", key).last_viewed_at == int(later.timestamp())
        (cleared,) = await provider.write_records(
            [UpsertRecord(ref, clear=frozenset({RecordField.STATUS}))]
        )
        assert cleared.ok and lib.peek("1", key).view_count == 0

    async def test_rating_write(self, provider, server):
        lib = server.library
        ref = self.ref(server, "Cowboy Bebop", 1, 3)
        key = lib.episode("Cowboy Bebop", 1, 3).key
        lib.watch("1", key).favorite = True
        (result,) = await provider.write_records(
            [UpsertRecord(ref, set={RecordField.RATING: Rating(7.4, (0, 10, 0.5))})]
        )
        assert result.ok, result.error
        assert lib.peek("1", key).rating == 7.5
        assert lib.peek("1", key).favorite  # other user data survives

    async def test_view_date_on_unwatched_item_is_invalid(self, provider, server):
        ref = self.ref(server, "Cowboy Bebop", 1, 3)
        when = datetime(2024, 1, 2, tzinfo=UTC)
        (result,) = await provider.write_records(
            [UpsertRecord(ref, set={RecordField.LAST_ACTIVITY_AT: when})]
        )
        assert result.code is WriteError.INVALID

    # -- change feed ------------------------------------------------------------------

    async def test_poll_after_one_new_play_returns_just_that_show(
        self, provider, server
    ):
        first = await provider.poll_changes(ChangeQuery())
        assert first.items == ()
        lib = server.library
        ep = lib.episode("Monk", 1, 2)
        # The server's filters have one-second resolution: the play happens in a
        # later second than the first poll, stated instead of waited for.
        lib.play("1", ep.key, at=int(time.time()) + 2)
        page = await provider.poll_changes(ChangeQuery(cursor=first.cursor))
        assert [c.ref for c in page.items] == [self.ref(server, "Monk", 1, 2)]
        assert isinstance(page.items[0], RecordChange)

    async def test_a_save_dated_after_now_is_read_once_and_the_cursor_moves_on(
        self, make, server
    ):
        # A server clock an hour ahead of ours stamps DateLastSaved in our future.
        clock = [1_800_000_000]
        provider = make(now=lambda: clock[0])
        await provider.initialize()
        cursor = (await provider.poll_changes(ChangeQuery())).cursor
        ep = server.library.episode("Monk", 1, 2)
        server.library.play("1", ep.key, at=clock[0] + 3600)
        clock[0] += 60
        keys, cursor = await changes_since(provider, "mb", cursor)
        assert keys == {server.item_id(ep.show_key)}
        for later in (0, 600, 7200):  # same instant, later, after the stamp
            clock[0] = 1_800_000_060 + later
            keys, cursor = await changes_since(provider, "mb", cursor)
            assert keys == set(), later
        await provider.close()

    async def test_a_second_catalog_change_in_the_window_is_not_skipped(
        self, make, server
    ):
        clock = [1_800_000_000]
        provider = make(now=lambda: clock[0])
        await provider.initialize()
        cursor = (await provider.poll_changes(ChangeQuery())).cursor
        monk = server.library.find("Monk")
        server.library.add_episode(monk.key, 1, 3, added_at=clock[0] + 3600)
        clock[0] += 60
        keys, cursor = await changes_since(provider, "mb", cursor)
        assert keys == {server.item_id(monk.key)}
        server.library.add_episode(monk.key, 1, 4, added_at=clock[0] + 3600)
        clock[0] += 60
        keys, cursor = await changes_since(provider, "mb", cursor)
        assert keys == {server.item_id(monk.key)}
        clock[0] += 60
        keys, _ = await changes_since(provider, "mb", cursor)
        assert keys == set()
        await provider.close()

    # -- webhooks ---------------------------------------------------------------------

    async def check(self, provider, request_parts, expected, matched=True):
        headers, body = request_parts
        result = await provider.parse_inbound(
            InboundRequest("POST", "/webhook", headers=headers, body=body)
        )
        assert result.matched is matched
        assert result.changes == tuple(expected)

    async def test_library_new_webhook(self, provider, server):
        ep = server.library.episode("Monk", 1, 1)
        key = server.item_id(ep.show_key)
        await self.check(
            provider,
            self.webhook(server, "added", ep.key),
            [NodeChange(ref=Ref(key), key=key)],
        )

    async def test_malformed_webhooks_rejected_quietly(self, provider, caplog):
        caplog.set_level(logging.WARNING)
        for headers, body in [
            ({"Content-Type": "application/json"}, b"{broken"),
            ({"Content-Type": "application/json"}, b"[1, 2]"),
            ({"Content-Type": "application/json"}, b"{}"),
            ({"Content-Type": "application/x-www-form-urlencoded"}, b"x=1"),
            ({"Content-Type": "multipart/form-data; boundary=b"}, b"junk"),
            ({}, b""),
        ]:
            await self.check(provider, (headers, body), [], matched=False)
        assert caplog.text == ""

    async def test_foreign_user_and_server_rejected(self, provider, server):
        ep = server.library.episode("Cowboy Bebop", 1, 1)
        await self.check(
            provider, self.webhook(server, "played", ep.key, user="5000"), [], False
        )
        parts = self.webhook(server, "played", ep.key, user="1", foreign_server=True)
        await self.check(provider, parts, [], False)

    async def test_played_and_rated_webhooks(self, provider, server):
        ep = server.library.episode("Haibane Renmei", 1, 2)
        ref = self.ref(server, "Haibane Renmei", 1, 2)
        await self.check(
            provider,
            self.webhook(server, "played", ep.key, user="1"),
            [RecordChange(ref=ref, fields=PLAYED)],
        )
        await self.check(
            provider,
            self.webhook(server, "rated", ep.key, user="1"),
            [RecordChange(ref=ref, fields=frozenset({RecordField.RATING}))],
        )
        await self.check(
            provider, self.webhook(server, "stopped-early", ep.key, user="1"), []
        )
        movie = server.library.find("Akira")
        await self.check(
            provider,
            self.webhook(server, "played", movie.key, user="1"),
            [RecordChange(ref=Ref(server.item_id(movie.key)), fields=PLAYED)],
        )

    # -- scale ------------------------------------------------------------------------

    async def test_big_library_scan_is_o_pages(self, capsys):
        # 400 shows / 10,000 episodes in pages of 400: the same 1 + 25 pages as
        # 2,000 / 50,000 in pages of 2,000, at a fifth of the CPU.
        library = MediaLibrary.generate(400, 25)
        with self.FAKE(library) as server:
            p = self.PROVIDER(
                logger=logging.getLogger("test.mb"),
                config={"base_url": server.base_url, "token": server.api_key,
                        "page_size": 400},
            )  # fmt: skip
            await p.initialize()
            server.reset_counters()
            items = await scan_all(
                p, facets=frozenset({FacetName.IDS, FacetName.STRUCTURE}),
                require_activity=True, limit=250,
            )  # fmt: skip
            requests = server.count()
            await p.close()
        assert requests == 1 + 25  # one page of series, 25 pages of episodes
        watched = {
            (r.ref, r.values[RecordField.LAST_ACTIVITY_AT])
            for i in items
            for r in i.records
            if RecordField.STATUS in r.values
        }
        expected = set()
        for h in library.history:
            ep = library.episodes[h.key]
            ref = Ref.at(server.item_id(ep.show_key), ("season", ep.season),
                         ("episode", ep.episode))  # fmt: skip
            expected.add((ref, from_epoch(h.at)))
        assert watched == expected
        with capsys.disabled():
            print(
                f"\n{p.NAMESPACE}: 400 shows / 10,000 episodes scanned in "
                f"{requests} requests"
            )
