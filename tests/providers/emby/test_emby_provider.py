from __future__ import annotations

import json

from _mediabrowser.cases import PLAYED, MediaBrowserCases

from anibridge.provider.base import RecordChange, RecordField, Ref, UpsertRecord
from anibridge.providers.emby import EmbyProvider
from anibridge.testing.fakes.emby import FakeEmby, emby_webhook

KINDS = {
    "added": ("library.new", {}),
    "played": ("item.markplayed", {}),
    "rated": ("item.rate", {}),
    "stopped-early": ("playback.stop", {"PlaybackInfo": {"PlayedToCompletion": False}}),
}


class TestEmby(MediaBrowserCases):
    FAKE = FakeEmby
    PROVIDER = EmbyProvider

    def webhook(self, server, kind, key, user=None, foreign_server=False):
        event, extra = KINDS[kind]
        if foreign_server:
            extra = {**extra, "Server": {"Id": "0" * 32, "Name": "Other"}}
        return emby_webhook(server, event, key, user=user, **extra)

    async def test_multipart_webhook_and_stop_to_completion(self, provider, server):
        ep = server.library.episode("Cowboy Bebop", 1, 3)
        ref = self.ref(server, "Cowboy Bebop", 1, 3)
        parts = emby_webhook(
            server, "playback.stop", ep.key, user="1", multipart=True,
            PlaybackInfo={"PlayedToCompletion": True},
        )  # fmt: skip
        await self.check(provider, parts, [RecordChange(ref=ref, fields=PLAYED)])
        unplayed = emby_webhook(server, "item.markunplayed", ep.key, user="1")
        await self.check(provider, unplayed, [RecordChange(ref=ref, fields=PLAYED)])

    async def test_rating_can_be_cleared_and_keeps_other_user_data(
        self, provider, server
    ):
        lib = server.library
        key = lib.episode("Cowboy Bebop", 1, 1).key
        lib.watch("1", key).favorite = True
        ref = self.ref(server, "Cowboy Bebop", 1, 1)
        (result,) = await provider.write_records(
            [UpsertRecord(ref, clear=frozenset({RecordField.RATING}))]
        )
        assert result.ok, result.error
        state = lib.peek("1", key)
        assert state.rating is None and state.favorite and state.view_count == 1

    async def test_episode_webhook_without_numbers_rereads_its_series(
        self, provider, server
    ):
        # An episode item without IndexNumber/ParentIndexNumber (older servers,
        # trimmed payloads): the series it names is re-read instead of dropped.
        ep = server.library.episode("Cowboy Bebop", 1, 3)
        series = server.item_id(ep.show_key)
        headers, body = emby_webhook(server, "item.markplayed", ep.key, user="1")
        payload = json.loads(body)
        payload["Item"].pop("IndexNumber", None)
        payload["Item"].pop("ParentIndexNumber", None)
        await self.check(
            provider,
            (headers, json.dumps(payload).encode()),
            [RecordChange(ref=Ref(series), fields=PLAYED)],
        )
