from __future__ import annotations

from _mediabrowser.cases import PLAYED, MediaBrowserCases

from anibridge.provider.base import (
    RecordChange,
    RecordField,
    Ref,
    UpsertRecord,
    WriteError,
)
from anibridge.providers.jellyfin import JellyfinProvider
from anibridge.testing.fakes.jellyfin import FakeJellyfin, jellyfin_webhook

KINDS = {
    "added": ("ItemAdded", {}),
    "played": ("UserDataSaved", {"SaveReason": "TogglePlayed", "Played": True}),
    "rated": ("UserDataSaved", {"SaveReason": "UpdateUserRating"}),
    "stopped-early": ("PlaybackStop", {"PlayedToCompletion": False}),
}


class TestJellyfin(MediaBrowserCases):
    FAKE = FakeJellyfin
    PROVIDER = JellyfinProvider

    def webhook(self, server, kind, key, user=None, foreign_server=False):
        notification, extra = KINDS[kind]
        if foreign_server:
            extra = {**extra, "ServerId": "0" * 32}
        return jellyfin_webhook(server, notification, key, user=user, **extra)

    async def test_playback_stop_to_completion_and_form_body(self, provider, server):
        ep = server.library.episode("Cowboy Bebop", 1, 3)
        ref = self.ref(server, "Cowboy Bebop", 1, 3)

        parts = jellyfin_webhook(
            server, "PlaybackStop", ep.key, user="1", form=True, PlayedToCompletion=True
        )
        await self.check(provider, parts, [RecordChange(ref=ref, fields=PLAYED)])
        progress = jellyfin_webhook(
            server, "UserDataSaved", ep.key, user="1", SaveReason="PlaybackProgress"
        )
        await self.check(provider, progress, [])

    async def test_rating_cannot_be_cleared(self, provider, server):
        ref = self.ref(server, "Cowboy Bebop", 1, 1)
        (result,) = await provider.write_records(
            [UpsertRecord(ref, clear=frozenset({RecordField.RATING}))]
        )
        assert result.code is WriteError.UNSUPPORTED
        assert "cannot clear" in result.error
        key = server.library.episode("Cowboy Bebop", 1, 1).key
        assert server.library.peek("1", key).rating == 8.0

    async def test_episode_webhook_without_numbers_rereads_its_series(
        self, provider, server
    ):
        # Some plugin templates leave SeasonNumber/EpisodeNumber out: the event is
        # not dropped, the series it names is re-read (anchor and its episodes).
        ep = server.library.episode("Cowboy Bebop", 1, 3)
        series = server.item_id(ep.show_key)
        parts = jellyfin_webhook(
            server, "UserDataSaved", ep.key, user="1", SaveReason="TogglePlayed",
            SeasonNumber=None, EpisodeNumber=None,
        )  # fmt: skip
        await self.check(
            provider, parts, [RecordChange(ref=Ref(series), fields=PLAYED)]
        )
