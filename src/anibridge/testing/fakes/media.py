"""The media library the Plex, Jellyfin and Emby fakes serve (state only, no HTTP).

One model for the three fakes: sections, shows with their ids in each server's
spelling (Plex GUIDs, Jellyfin/Emby ``ProviderIds``), episodes, movies, users and each
user's watch state and play history. Tests change state through it (``play``,
``rate``…) the way a person would in the server's UI, then look at what the provider
reads, or post a webhook built from it. Times are epoch seconds (UTC).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "FakeEpisode",
    "FakeItem",
    "FakeSection",
    "FakeUser",
    "HistoryEntry",
    "MediaLibrary",
    "Watch",
]


@dataclass(slots=True)
class FakeSection:
    """A library section: ``show`` or ``movie`` (``artist`` for a music one)."""

    key: str
    title: str
    kind: str
    ordering: str | None = None  # Plex showOrdering default of the section


@dataclass(slots=True)
class FakeItem:
    """A show or a movie."""

    key: str
    kind: str
    title: str
    section: str
    year: int = 2004
    plex_guid: str = ""
    plex_guids: list[str] = field(default_factory=list)
    provider_ids: dict[str, str] = field(default_factory=dict)
    genres: list[str] = field(default_factory=list)
    show_ordering: str | None = None
    added_at: int = 1_600_000_000
    updated_at: int = 1_600_000_000


@dataclass(slots=True)
class FakeEpisode:
    """An episode of a show."""

    key: str
    show_key: str
    season: int
    episode: int
    title: str
    added_at: int = 1_600_000_000


@dataclass(slots=True)
class Watch:
    """One user's state of one item."""

    view_count: int = 0
    last_viewed_at: int | None = None
    rating: float | None = None
    rated_at: int | None = None
    saved_at: int | None = None  # any user-data change (Jellyfin/Emby DateLastSaved)
    favorite: bool = False


@dataclass(slots=True)
class FakeUser:
    """A server user (Plex: account id; Jellyfin/Emby: user id)."""

    id: str
    name: str
    admin: bool = False
    pin: str | None = None
    uuid: str = ""


@dataclass(slots=True)
class HistoryEntry:
    """One play in the server's history."""

    id: int
    user: str
    key: str
    at: int


class MediaLibrary:
    """Thread-safe state shared by a fake server and the test driving it."""

    def __init__(self) -> None:
        """Start empty; add sections, users and items."""
        self.lock = threading.RLock()
        self.sections: dict[str, FakeSection] = {}
        self.items: dict[str, FakeItem] = {}
        self.episodes: dict[str, FakeEpisode] = {}
        self.show_episodes: dict[str, list[str]] = {}
        self.users: dict[str, FakeUser] = {}
        self.state: dict[str, dict[str, Watch]] = {}
        self.history: list[HistoryEntry] = []
        self._next_key = 1000
        self.version = 0  # bumped whenever the catalog changes
        self._cache: dict[tuple[str, str, int], list] = {}

    # -- building ---------------------------------------------------------------------

    def key(self) -> str:
        """A fresh numeric key."""
        with self.lock:
            self._next_key += 1
            return str(self._next_key)

    def add_section(self, key: str, title: str, kind: str, **kw: object) -> FakeSection:
        """Add a section."""
        section = FakeSection(key, title, kind, **kw)  # type: ignore[arg-type]
        self.sections[key] = section
        return section

    def add_user(self, user_id: str, name: str, **kw: object) -> FakeUser:
        """Add a user."""
        user = FakeUser(user_id, name, **kw)  # type: ignore[arg-type]
        self.users[user_id] = user
        self.state.setdefault(user_id, {})
        return user

    def add_item(self, kind: str, title: str, section: str, **kw: object) -> FakeItem:
        """Add a show or movie with a fresh key."""
        item = FakeItem(self.key(), kind, title, section, **kw)  # type: ignore[arg-type]
        with self.lock:
            self.items[item.key] = item
            self.version += 1
            if kind == "show":
                self.show_episodes[item.key] = []
        return item

    def add_episode(
        self, show: str, season: int, episode: int, title: str | None = None,
        added_at: int = 1_600_000_000,
    ) -> FakeEpisode:  # fmt: skip
        """Add an episode to a show."""
        ep = FakeEpisode(
            self.key(), show, season, episode, title or f"Episode {episode}", added_at
        )
        with self.lock:
            self.episodes[ep.key] = ep
            self.version += 1
            self.show_episodes[show].append(ep.key)
        return ep

    # -- user actions -----------------------------------------------------------------

    def watch(self, user: str, key: str) -> Watch:
        """The state of `key` for `user` (created blank)."""
        with self.lock:
            return self.state.setdefault(user, {}).setdefault(key, Watch())

    def peek(self, user: str, key: str) -> Watch | None:
        """The state of `key` for `user` if any was ever recorded."""
        return self.state.get(user, {}).get(key)

    def play(self, user: str, key: str, at: int | None = None) -> None:
        """The user watched `key` to the end at `at` (default now)."""
        when = int(at if at is not None else time.time())
        with self.lock:
            w = self.watch(user, key)
            w.view_count += 1
            w.last_viewed_at = max(w.last_viewed_at or 0, when)
            w.saved_at = when
            self.history.append(HistoryEntry(len(self.history) + 1, user, key, when))

    def unplay(self, user: str, key: str) -> None:
        """The user marked `key` unwatched (history stays)."""
        with self.lock:
            w = self.watch(user, key)
            w.view_count = 0
            w.last_viewed_at = None
            w.saved_at = int(time.time())

    def rate(
        self, user: str, key: str, value: float | None, at: int | None = None
    ) -> None:
        """The user rated `key` (None clears)."""
        with self.lock:
            w = self.watch(user, key)
            when = int(at if at is not None else time.time())
            w.rating = value
            w.rated_at = when if value is not None else None
            w.saved_at = when

    # -- views ------------------------------------------------------------------------

    def section_items(self, section: str, kind: str) -> list[FakeItem]:
        """Items of `kind` in a section, in key order."""
        return [
            i for i in self.items.values() if i.section == section and i.kind == kind
        ]

    def section_episodes(self, section: str) -> list[FakeEpisode]:
        """Episodes of every show of a section, grouped by show."""
        ident = ("episodes", section, self.version)
        if ident not in self._cache:
            self._drop_stale()
            out: list[FakeEpisode] = []
            for item in self.items.values():
                if item.section == section and item.kind == "show":
                    out.extend(self.episodes[k] for k in self.show_episodes[item.key])
            self._cache[ident] = out
        return self._cache[ident]

    def _drop_stale(self) -> None:
        self._cache = {k: v for k, v in self._cache.items() if k[2] == self.version}

    def plays_of(self, user: str) -> list[HistoryEntry]:
        """A user's plays."""
        return [h for h in self.history if h.user == user]

    # -- a big generated library ------------------------------------------------------

    @classmethod
    def generate(
        cls,
        shows: int,
        episodes_per_show: int = 25,
        *,
        users: Iterable[tuple[str, str]] = (("1", "owner"),),
        watched_share: float = 0.25,
        seed: int = 7,
        base_time: int = 1_700_000_000,
    ) -> MediaLibrary:
        """A deterministic library: one show section, `shows` shows.

        Shows cycle through id styles (modern GUIDs, legacy TVDB agent, HAMA AniDB,
        HAMA TVDB) with matching ``ProviderIds``; each show has a special (season 0)
        and its other episodes split into seasons of 12. About `watched_share` of the
        shows are partly watched by the first user, with plays at distinct times.
        """
        rng = random.Random(seed)
        lib = cls()
        user_list = list(users)
        for i, (uid, name) in enumerate(user_list):
            lib.add_user(uid, name, admin=i == 0, uuid=f"uuid-{uid}")
        lib.add_section("1", "Anime", "show")
        first = user_list[0][0]
        tick = base_time
        for n in range(shows):
            tvdb, tmdb, anidb = 70000 + n, 30000 + n, 100 + n
            style = n % 4
            ids = {"Tvdb": str(tvdb), "Tmdb": str(tmdb), "Imdb": f"tt{1000000 + n}"}
            if style == 0:
                guid = f"plex://show/5d9c08{n:06x}"
                guids = [f"tvdb://{tvdb}", f"tmdb://{tmdb}", f"imdb://tt{1000000 + n}"]
            elif style == 1:
                guid, guids = f"com.plexapp.agents.thetvdb://{tvdb}?lang=en", []
            elif style == 2:
                guid, guids = f"com.plexapp.agents.hama://anidb-{anidb}?lang=en", []
                ids = {"AniDB": str(anidb)}
            else:
                guid, guids = f"com.plexapp.agents.hama://tvdb-{tvdb}?lang=en", []
            show = lib.add_item(
                "show", f"Show {n}", "1", plex_guid=guid, plex_guids=guids,
                provider_ids=ids, genres=["Anime"] if n % 2 == 0 else ["Drama"],
                year=2000 + n % 20,
            )  # fmt: skip
            lib.add_episode(show.key, 0, 1, "Special")
            for e in range(episodes_per_show - 1):
                lib.add_episode(show.key, 1 + e // 12, 1 + e % 12)
            if rng.random() < watched_share:
                keys = lib.show_episodes[show.key]
                for key in keys[1 : 1 + rng.randint(1, len(keys) - 1)]:
                    tick += 60
                    lib.play(first, key, tick)
        return lib

    @classmethod
    def sample(cls) -> MediaLibrary:
        """A small library every media-server test starts from.

        Sections ``1`` Anime (shows), ``2`` Movies, ``3`` Music, ``4`` TV (shows);
        users ``1`` owner (admin), ``5000`` kid (PIN 1234), ``6000`` guest. Shows:
        Cowboy Bebop (modern GUIDs, genre Anime), Haibane Renmei (HAMA AniDB 69),
        Monk (legacy TVDB agent, section TV, genre Drama); movie Akira. The owner
        watched Bebop 1x01 once and 1x02 twice, rated 1x01 8 and the show 9, watched
        Haibane 1x01 and Akira; the kid watched Haibane 1x02.
        """
        lib = cls()
        lib.add_section("1", "Anime", "show")
        lib.add_section("2", "Movies", "movie")
        lib.add_section("3", "Music", "artist")
        lib.add_section("4", "TV", "show", ordering="tmdbAiring")
        lib.add_user("1", "Owner", admin=True, uuid="uuid-owner")
        lib.add_user("5000", "Kid", pin="1234", uuid="uuid-kid")
        lib.add_user("6000", "Guest", uuid="uuid-guest")
        bebop = lib.add_item(
            "show", "Cowboy Bebop", "1", year=1998,
            plex_guid="plex://show/5d9c086c7d06d9001ffd27aa",
            plex_guids=["tvdb://76885", "tmdb://30991", "imdb://tt0213338"],
            provider_ids={"Tvdb": "76885", "Tmdb": "30991", "Imdb": "tt0213338",
                          "AniList": "1"},
            genres=["Anime", "Action"],
        )  # fmt: skip
        haibane = lib.add_item(
            "show", "Haibane Renmei", "1", year=2002,
            plex_guid="com.plexapp.agents.hama://anidb-69?lang=en",
            provider_ids={"AniDB": "69", "MyAnimeList": "387"}, genres=["Anime"],
        )  # fmt: skip
        monk = lib.add_item(
            "show", "Monk", "4", year=2002,
            plex_guid="com.plexapp.agents.thetvdb://78490?lang=en",
            provider_ids={"Tvdb": "78490", "Tmdb": "1695"}, genres=["Drama"],
        )  # fmt: skip
        akira = lib.add_item(
            "movie", "Akira", "2", year=1988, plex_guid="plex://movie/5d776824",
            plex_guids=["tmdb://149", "imdb://tt0094625"],
            provider_ids={"Tmdb": "149", "Imdb": "tt0094625"}, genres=["Anime"],
        )  # fmt: skip
        for show in (bebop, haibane):
            for n in (1, 2, 3):
                lib.add_episode(show.key, 1, n)
            lib.add_episode(show.key, 0, 1, "Special")
        for n in (1, 2):
            lib.add_episode(monk.key, 1, n)
        b1, b2 = lib.show_episodes[bebop.key][:2]
        h1, h2 = lib.show_episodes[haibane.key][:2]
        lib.play("1", b1, 1_700_000_000)
        lib.play("1", b2, 1_700_000_100)
        lib.play("1", b2, 1_700_000_200)
        lib.rate("1", b1, 8.0, 1_700_000_300)
        lib.rate("1", bebop.key, 9.0, 1_700_000_400)
        lib.play("1", h1, 1_700_000_500)
        lib.play("1", akira.key, 1_700_000_600)
        lib.play("5000", h2, 1_700_000_700)
        return lib

    def find(self, title: str) -> FakeItem:
        """The item titled `title`.

        Raises:
            KeyError: no such item.
        """
        for item in self.items.values():
            if item.title == title:
                return item
        raise KeyError(title)

    def episode(self, title: str, season: int, number: int) -> FakeEpisode:
        """An episode of the show titled `title`.

        Raises:
            KeyError: no such episode.
        """
        show = self.find(title)
        for key in self.show_episodes[show.key]:
            ep = self.episodes[key]
            if (ep.season, ep.episode) == (season, number):
                return ep
        raise KeyError((title, season, number))

    def to_mapping(self) -> Mapping[str, int]:
        """Sizes, for reports."""
        return {
            "shows": sum(1 for i in self.items.values() if i.kind == "show"),
            "episodes": len(self.episodes),
            "plays": len(self.history),
        }
