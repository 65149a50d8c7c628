from __future__ import annotations

from anibridge.provider.base import ExternalId
from anibridge.providers._library.ids import Scoping, SourceId, anchor_ids, order_ids

TVDB = SourceId("tvdb_show", "81797")
TMDB = SourceId("tmdb_show", "37854")
IMDB = SourceId("imdb_show", "tt0388629")
ANILIST = SourceId("anilist", "21", Scoping.NONE)


def test_anchor_ids_list_unscoped_then_one_scope_per_season():
    ids = anchor_ids([TVDB, ANILIST], seasons=[2, 0, 1, 1])
    assert [i.descriptor for i in ids] == [
        "tvdb_show:81797",
        "tvdb_show:81797:s0",
        "tvdb_show:81797:s1",
        "tvdb_show:81797:s2",
        "anilist:21",
    ]


def test_anchor_ids_without_seasons_are_unscoped_except_anidb():
    anidb = SourceId("anidb", "69", Scoping.ANIDB)
    assert anchor_ids([TVDB, anidb], seasons=[]) == (
        ExternalId("tvdb_show", "81797"),
        ExternalId("anidb", "69", "R"),
    )


def test_order_puts_the_show_ordering_first():
    assert order_ids([TVDB, IMDB, TMDB], "tmdb_show") == (TMDB, TVDB, IMDB)
    assert order_ids([TVDB, IMDB, TMDB], None) == (TVDB, IMDB, TMDB)


def test_strict_drops_the_other_ordering_only():
    assert order_ids([TVDB, IMDB, TMDB], "tmdb_show", strict=True) == (TMDB, IMDB)
    assert order_ids([TVDB, IMDB, TMDB], "tvdb_show", strict=True) == (TVDB, IMDB)
    # an unknown ordering keeps everything even when strict
    assert order_ids([TVDB, TMDB], None, strict=True) == (TVDB, TMDB)
