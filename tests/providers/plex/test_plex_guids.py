from __future__ import annotations

import pytest

from anibridge.provider.base import ExternalId
from anibridge.providers._library.ids import Scoping, SourceId, anchor_ids
from anibridge.providers.plex.guids import guid_ids, item_ids, parse_guid

S, A, N = Scoping.SEASON, Scoping.ANIDB, Scoping.NONE


@pytest.mark.parametrize(
    ("guid", "kind", "expected"),
    [
        # modern agents (Guid list)
        ("tvdb://81797", "show", SourceId("tvdb_show", "81797", S)),
        ("tmdb://37854", "show", SourceId("tmdb_show", "37854", S)),
        ("imdb://tt0388629", "show", SourceId("imdb_show", "tt0388629", S)),
        ("tmdb://603", "movie", SourceId("tmdb_movie", "603", N)),
        ("imdb://tt0133093", "movie", SourceId("imdb_movie", "tt0133093", N)),
        ("tvdb://12345", "movie", SourceId("tvdb_movie", "12345", N)),
        # legacy agents: show id first, season/episode path and query dropped
        ("com.plexapp.agents.thetvdb://81797/1/3?lang=en", "show",
         SourceId("tvdb_show", "81797", S)),
        ("com.plexapp.agents.thetvdb://81797?lang=en", "show",
         SourceId("tvdb_show", "81797", S)),
        ("com.plexapp.agents.thetvdbdvd://81797/1/3?lang=en", "show",
         SourceId("tvdb_show", "81797", N)),
        ("com.plexapp.agents.themoviedb://37854?lang=en", "show",
         SourceId("tmdb_show", "37854", S)),
        ("com.plexapp.agents.themoviedb://603?lang=en", "movie",
         SourceId("tmdb_movie", "603", N)),
        ("com.plexapp.agents.tmdb://603", "movie", SourceId("tmdb_movie", "603", N)),
        ("com.plexapp.agents.imdb://tt0133093?lang=en", "movie",
         SourceId("imdb_movie", "tt0133093", N)),
        # HAMA
        ("com.plexapp.agents.hama://anidb-12345/1/1?lang=en", "show",
         SourceId("anidb", "12345", A)),
        ("com.plexapp.agents.hama://anidb-17449/1/4?lang=en", "show",
         SourceId("anidb", "17449", A)),
        ("com.plexapp.agents.hama://anidb-4691?lang=en", "movie",
         SourceId("anidb", "4691", N)),
        ("com.plexapp.agents.hama://tvdb-81797/4/1?lang=en", "show",
         SourceId("tvdb_show", "81797", S)),
        ("com.plexapp.agents.hama://tvdb-305074?lang=en", "show",
         SourceId("tvdb_show", "305074", S)),
        ("com.plexapp.agents.hama://tvdb2-331753/0/1?lang=en", "show",
         SourceId("tvdb_show", "331753", N)),
        ("com.plexapp.agents.hama://tvdb3-352408/0/1?lang=en", "show",
         SourceId("tvdb_show", "352408", N)),
        ("com.plexapp.agents.hama://tvdb4-315500?lang=en", "show",
         SourceId("tvdb_show", "315500", N)),
        ("com.plexapp.agents.hama://tmdb-1234?lang=en", "show",
         SourceId("tmdb_show", "1234", S)),
        ("com.plexapp.agents.hama://tmdb-1234?lang=en", "movie",
         SourceId("tmdb_movie", "1234", N)),
        ("com.plexapp.agents.hama://imdb-tt0080339?lang=en", "movie",
         SourceId("imdb_movie", "tt0080339", N)),
        # MyAnimeList agent
        ("net.fribbtastic.coding.plex.myanimelist://12345?lang=en", "show",
         SourceId("mal", "12345", N)),
    ],
)  # fmt: skip
def test_parse_guid(guid, kind, expected):
    assert parse_guid(guid, kind) == expected


@pytest.mark.parametrize(
    "guid",
    [
        "plex://show/5d9c086c7d06d9001ffd27aa",
        "plex://episode/5d9c1275e98e47001eb84029",
        "local://12345",
        "com.plexapp.agents.none://abc",
        "tvdb://not-a-number",
        "imdb://0388629",
        "com.plexapp.agents.hama://anidb-x12/1/1",
        "com.plexapp.agents.hama://mal-12",
        "",
        "garbage",
    ],
)
def test_foreign_or_malformed_guids_yield_nothing(guid):
    assert parse_guid(guid, "show") is None


def test_item_ids_reads_guid_list_then_primary_and_dedupes():
    item = {
        "guid": "plex://show/5d9c086c7d06d9001ffd27aa",
        "Guid": [
            {"id": "tvdb://81797"},
            {"id": "tmdb://37854"},
            {"id": "tvdb://81797"},
        ],
    }
    assert [i.external.descriptor for i in item_ids(item, "show")] == [
        "tvdb_show:81797",
        "tmdb_show:37854",
    ]
    legacy = {"guid": "com.plexapp.agents.thetvdb://81797?lang=en"}
    assert item_ids(legacy, "show") == (SourceId("tvdb_show", "81797", S),)
    assert item_ids({"Guid": "not a list"}, "show") == ()


def test_hama_anidb_season_scopes_follow_episode_types():
    (anidb,) = guid_ids(["com.plexapp.agents.hama://anidb-69?lang=en"], "show")
    ids = anchor_ids([anidb], seasons=[0, 1])
    assert ids == (ExternalId("anidb", "69", "S"), ExternalId("anidb", "69", "R"))
    assert anchor_ids([anidb], seasons=[1]) == (ExternalId("anidb", "69", "R"),)
    # a stray season 2 has no AniDB episode type
    assert anchor_ids([anidb], seasons=[1, 2]) == (ExternalId("anidb", "69", "R"),)


def test_hama_absolute_tvdb_is_not_season_scoped():
    (tvdb2,) = guid_ids(["com.plexapp.agents.hama://tvdb2-331753?lang=en"], "show")
    assert anchor_ids([tvdb2], seasons=[1, 2]) == (ExternalId("tvdb_show", "331753"),)


def test_dvd_or_absolute_show_ordering_unscopes_tvdb():
    from anibridge.providers.plex.convert import item_from_json

    data = {"type": "show", "ratingKey": "7", "title": "x", "showOrdering": "dvd",
            "Guid": [{"id": "tvdb://81797"}, {"id": "tmdb://37854"}]}  # fmt: skip
    item = item_from_json(data, "1")
    assert item is not None
    assert [(i.authority, i.scoping) for i in item.ids] == [
        ("tvdb_show", Scoping.NONE), ("tmdb_show", Scoping.SEASON)
    ]  # fmt: skip
