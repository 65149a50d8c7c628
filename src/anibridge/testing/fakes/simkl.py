"""A fake Simkl API on loopback: real HTTP, the documented shapes and limits.

Built on `anibridge.testing.fakes.server` from Simkl's published API description
(the Apiary blueprint and api.simkl.org): one user's watchlists of shows, anime and
movies, with per-episode watch dates, ratings 1-10 and memos, and the endpoints the
Simkl provider uses:

- PIN login: `GET /oauth/pin?client_id=` (device code, user code, verification URL,
  ``expires_in``, ``interval``) and `GET /oauth/pin/{user_code}` answering
  ``{"result": "KO", "message": "Authorization pending" | "Slow down"}`` or
  ``{"result": "OK", "access_token": ...}``. Simkl tokens do not expire.
- `POST /users/settings` (identity; POST only), `GET|POST /sync/activities`: per bucket
  (``tv_shows``, ``anime``, ``movies``) the timestamps ``all``, ``rated_at``,
  ``playback``, ``plantowatch``, ``watching``, ``completed``, ``hold``, ``dropped``,
  ``removed_from_list`` (movies have no ``watching``/``hold``); null = never.
- `GET /sync/all-items[/{type}[/{status}]]` with ``date_from`` (items changed
  strictly after it), ``extended=full`` (watched episodes), ``simkl_ids_only`` /
  ``ids_only`` (minified), ``episode_watched_at=yes``, ``memos=yes``; the body is
  ``null`` when nothing matches. Anime episodes are listed under season 1.
- `GET|POST /sync/ratings[/{type}[/{rating}]]` with ``date_from`` (a removed rating
  is listed with ``user_rating: null``).
- Writes (one POST per second): `/sync/add-to-list` (per-item ``to``; a movie sent
  to ``watching`` becomes completed), `/sync/history` (episodes/seasons/movies with
  ``watched_at``, per-item ``status``, ``rating`` and ``memo`` — the only way to set
  a memo; an episode already on the history keeps its date: Simkl's canonical history
  holds one watch per episode), `/sync/history/remove` (episodes, seasons or whole
  items; removing an item removes its rating), `/sync/ratings` (rating an unlisted
  item files it: movies → completed, shows/anime → watching), `/sync/ratings/remove`.
  Envelopes: ``added``/``deleted`` counts and ``not_found`` echoing unknown items.
- Catalog: `GET /search/id?{simkl|mal|anilist|anidb|kitsu|tvdb|tmdb|imdb}=`,
  `GET /search/{anime|tv|movie}?q=`, `GET /{anime|tv|movies}/{id}`,
  `GET /{anime|tv}/episodes/{id}`.

Every request must name the app (``client_id`` query parameter or ``simkl-api-key``
header; else 412 ``client_id_failed``); `/sync` and `/users` need the bearer token
(401). Limits on the fake's scaled clock: 10 GETs and 1 POST per second (429).

Simkl suspends client ids that pull whole libraries without first checking
`/sync/activities`; `ungated_pulls` counts full `/sync/all-items` pulls of a type
not preceded by an activities call since that type's previous pull, so tests can
hold a client to it.

Request kinds for `count()`: ``"auth"``, ``"identity"``, ``"write"`` and ``"data"``.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from anibridge.dates import parse_iso
from anibridge.http.clock import Clock
from anibridge.testing.fakes.server import (
    FakeLimit,
    FakeRequest,
    FakeResponse,
    FakeService,
    HttpFault,
)

__all__ = ["SENTINEL", "SimklFake", "SimklTitle", "iso"]

#: Simkl's "I don't remember when" watch date.
SENTINEL = "1970-01-01T00:00:01Z"
STATUSES = ("plantowatch", "watching", "completed", "hold", "dropped")
MOVIE_STATUSES = ("plantowatch", "completed", "dropped")
_BUCKETS = {"tv": "shows", "anime": "anime", "movie": "movies"}
_ACTIVITY_GROUPS = {"tv": "tv_shows", "anime": "anime", "movie": "movies"}
_PATH_TYPES = {"shows": "tv", "anime": "anime", "movies": "movie"}
_ID_KEYS = ("simkl", "mal", "anilist", "anidb", "kitsu", "tvdb", "tmdb", "imdb")
MEMO_MAX = 140


def iso(at: datetime) -> str:
    """Simkl's timestamp form: UTC seconds with a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_write(request: FakeRequest) -> bool:
    """Every POST counts against Simkl's 1 POST/second, reads sent as POST too."""
    return request.method == "POST" and not request.path.startswith("/oauth")


def _is_get(request: FakeRequest) -> bool:
    return request.method == "GET"


@dataclass(slots=True)
class SimklTitle:
    """One catalog title as Simkl knows it.

    `kind` is Simkl's type: ``"tv"``, ``"anime"`` or ``"movie"``. `seasons` maps a
    season number to its episode count (anime: season 1 only). `ids` are the
    external ids Simkl lists (``mal``, ``anilist``, ``anidb``, ``tvdb``, ``tmdb``,
    ``imdb``, ``kitsu``).
    """

    simkl_id: int
    kind: str
    title: str
    year: int = 2000
    ids: dict[str, Any] = field(default_factory=dict)
    seasons: dict[int, int] = field(default_factory=dict)
    anime_type: str | None = None
    ended: bool = True

    @property
    def total(self) -> int:
        """Episodes over every regular season."""
        return sum(n for s, n in self.seasons.items() if s > 0)

    def episode_keys(self) -> list[tuple[int, int]]:
        """Every (season, episode) of the title, specials excluded."""
        return [
            (s, e)
            for s, count in sorted(self.seasons.items())
            if s > 0
            for e in range(1, count + 1)
        ]


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class SimklFake(FakeService):
    """One Simkl account and a catalog, served over HTTP.

    Args:
        time_scale: Real seconds per service second (limits and PIN timing).
        client_id: The app's client id.
        enforce_limits: Enforce 10 GET/s and 1 POST/s (on by default).
        user_id: The account id.
        user_name: The account's name.
    """

    RATE_LIMIT_HEADERS = False

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        client_id: str = "simkl-test-client",
        enforce_limits: bool = True,
        user_id: int = 51,
        user_name: str = "fake-simkl-user",
    ) -> None:
        """Create an empty account; add titles and list items with the helpers."""
        limits = (
            [
                FakeLimit(1, 1.0, _is_write, name="POST"),
                FakeLimit(10, 1.0, _is_get, name="GET"),
            ]
            if enforce_limits
            else []
        )
        super().__init__(time_scale=time_scale, limits=limits, clock=clock)
        self.client_id = client_id
        self.user_id = user_id
        self.user_name = user_name
        self.titles: dict[int, SimklTitle] = {}
        self.items: dict[int, dict[str, Any]] = {}
        self.removed: dict[int, datetime] = {}  # simkl id -> when it left the list
        self.activities: dict[str, dict[str, datetime | None]] = {
            group: {} for group in _ACTIVITY_GROUPS.values()
        }
        self.settings_at = _now()
        self.tokens: set[str] = set()
        self.pins: dict[str, dict[str, Any]] = {}
        self.pin_ttl = 900.0
        self.pin_interval = 5.0
        self.auto_approve_after: int | None = None
        self.ungated_pulls = 0
        self._gate_open: set[str] = set()  # buckets pullable since the last gate
        self._last_stamp: datetime | None = None
        self._ids = itertools.count(900_000)
        r = self.route
        r("GET", r"/oauth/pin", self._pin, kind="auth")
        r("GET", r"/oauth/pin/(?P<code>[A-Za-z0-9]+)", self._pin_status, kind="auth")
        r("POST", r"/users/settings", self._settings, kind="identity")
        for method in ("GET", "POST"):
            r(method, r"/sync/activities", self._activities)
        r(
            "GET",
            r"/sync/ratings(?:/(?P<type>shows|anime|movies))?(?:/(?P<r>[\d,]+))?",
            self._get_ratings,
        )
        r(
            "GET",
            r"/sync/all-items/?(?:(?P<type>shows|anime|movies)/?)?"
            r"(?:(?P<status>[a-z]+)/?)?",
            self._all_items,
        )
        r("POST", r"/sync/add-to-list", self._add_to_list, kind="write")
        r("POST", r"/sync/history", self._add_history, kind="write")
        r("POST", r"/sync/history/remove", self._remove_history, kind="write")
        r("POST", r"/sync/ratings", self._add_ratings, kind="write")
        r("POST", r"/sync/ratings/remove", self._remove_ratings, kind="write")
        r("GET", r"/search/id", self._search_id)
        r("GET", r"/search/(?P<type>anime|tv|movie)", self._search_text)
        r("GET", r"/(?P<type>anime|tv)/episodes/(?P<id>\d+)", self._episodes)
        r("GET", r"/(?P<type>anime|tv|movies)/(?P<id>\d+)", self._summary)

    # -- test helpers ---------------------------------------------------------------

    def add_title(self, title: SimklTitle) -> SimklTitle:
        """Add a title to the catalog.

        Returns:
            The title.
        """
        self.titles[title.simkl_id] = title
        return title

    def add_show(
        self, simkl_id: int, title: str, seasons: Mapping[int, int], **kw: Any
    ) -> SimklTitle:
        """Add a TV show with {season: episode count}.

        Returns:
            The title.
        """
        return self.add_title(
            SimklTitle(simkl_id, "tv", title, seasons=dict(seasons), **kw)
        )

    def add_anime(
        self, simkl_id: int, title: str, episodes: int, **kw: Any
    ) -> SimklTitle:
        """Add an anime (its episodes are season 1, as Simkl lists them).

        Returns:
            The title.
        """
        kw.setdefault("anime_type", "tv")
        seasons = {1: episodes} if episodes else {}
        return self.add_title(
            SimklTitle(simkl_id, "anime", title, seasons=seasons, **kw)
        )

    def add_movie(self, simkl_id: int, title: str, **kw: Any) -> SimklTitle:
        """Add a movie.

        Returns:
            The title.
        """
        return self.add_title(SimklTitle(simkl_id, "movie", title, **kw))

    def issue_token(self) -> str:
        """A valid access token (as the PIN flow would hand out).

        Returns:
            The token.
        """
        token = "simkl-" + secrets.token_hex(8)
        self.tokens.add(token)
        return token

    def provider_config(self, **extra: Any) -> dict[str, Any]:
        """A `SimklProvider` config signed in to this fake.

        Returns:
            The config mapping (`extra` keys override).
        """
        config: dict[str, Any] = {
            "client_id": self.client_id,
            "access_token": self.issue_token(),
            "base_url": self.base_url,
            "clock": self.clock,
        }
        config.update(extra)
        return config

    def set_item(
        self,
        simkl_id: int,
        status: str,
        *,
        episodes: Mapping[tuple[int, int], datetime | str | None] | None = None,
        watched_at: datetime | None = None,
        rating: int | None = None,
        memo: str | None = None,
        added_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Put a title on the user's list directly (episodes: {(s, e): when}).

        Returns:
            The stored item.
        """
        title = self.titles[simkl_id]
        with self._lock:
            stamp = self._stamp()
            item = self._item(simkl_id, create=True, status=status, at=added_at)
            item["status"] = status
            for key, when in (episodes or {}).items():
                item["episodes"][key] = _when(when) or stamp
            if title.kind == "movie" and status == "completed":
                item["watched_at"] = watched_at or stamp
            elif title.anime_type == "movie" and status == "completed":
                item["episodes"][(1, 1)] = watched_at or stamp  # a one-episode anime
            if rating is not None:
                item["rating"], item["rated_at"] = rating, stamp
                item["rated_stamp"] = stamp
            if memo is not None:
                item["memo"] = memo
            item["updated"] = stamp
            self._bump(title, status, stamp)
            if rating is not None:
                self._bump(title, "rated_at", stamp)
            return item

    def approve_pin(self, user_code: str) -> None:
        """The user entered `user_code` on simkl.com/pin and approved the app."""
        self.pins[user_code]["state"] = "approved"

    def watched(self, simkl_id: int) -> dict[tuple[int, int], datetime]:
        """The watched episodes of an item (for assertions).

        Returns:
            (season, episode) -> watch date.
        """
        item = self.items.get(simkl_id)
        return dict(item["episodes"]) if item else {}

    def stamps(self) -> dict[str, Any]:
        """The activities as `/sync/activities` would answer (for assertions).

        Returns:
            The activities object.
        """
        return self._activities_json()

    # -- internals ------------------------------------------------------------------

    def _stamp(self) -> datetime:
        """A server time strictly after every earlier one (second precision)."""
        now = _now()
        if self._last_stamp is not None and now <= self._last_stamp:
            now = self._last_stamp + timedelta(seconds=1)
        self._last_stamp = now
        return now

    def _bump(self, title: SimklTitle, name: str, stamp: datetime) -> None:
        group = self.activities[_ACTIVITY_GROUPS[title.kind]]
        if name in STATUSES or name in ("rated_at", "removed_from_list", "playback"):
            group[name] = stamp
        group["all"] = stamp

    def _item(
        self,
        simkl_id: int,
        *,
        create: bool = False,
        status: str = "watching",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        item = self.items.get(simkl_id)
        if item is None and create:
            stamp = at or self._stamp()
            item = self.items[simkl_id] = {
                "status": status,
                "added_at": stamp,
                "episodes": {},
                "watched_at": None,
                "rating": None,
                "rated_at": None,
                "rated_stamp": None,
                "memo": "",
                "memo_private": False,
                "updated": stamp,
            }
            self.removed.pop(simkl_id, None)
        return item  # type: ignore[return-value]

    def _call(self, handler: Any, request: FakeRequest) -> FakeResponse:
        content_type = request.header("Content-Type") or ""
        if request.method == "POST" and request.body and "json" not in content_type:
            return FakeResponse(400, {"error": "json_required"})
        client = request.arg("client_id") or request.header("simkl-api-key")
        if client != self.client_id:
            return FakeResponse(
                412, {"error": "client_id_failed", "message": "incorrect client_id"}
            )
        if request.path.startswith(("/sync", "/users")):
            header = request.header("Authorization") or ""
            token = header.removeprefix("Bearer ").strip()
            if token not in self.tokens:
                return FakeResponse(
                    401, {"error": "user_token_failed", "message": "Unauthorized"}
                )
        return super()._call(handler, request)

    def _find(self, ids: Any) -> SimklTitle | None:
        if not isinstance(ids, Mapping):
            return None
        simkl = ids.get("simkl")
        if simkl is not None:
            try:
                return self.titles.get(int(simkl))
            except (TypeError, ValueError):
                return None
        for key in _ID_KEYS[1:]:
            value = ids.get(key)
            if value in (None, ""):
                continue
            for title in self.titles.values():
                if str(title.ids.get(key)) == str(value):
                    return title
        return None

    # -- auth -----------------------------------------------------------------------

    def _pin(self, request: FakeRequest) -> Any:
        user_code = secrets.token_hex(3).upper()[:5]
        self.pins[user_code] = {
            "state": "pending",
            "created": self.clock.monotonic(),
            "last_poll": None,
            "polls": 0,
        }
        return {
            "result": "OK",
            "device_code": "DEVICE_CODE",
            "user_code": user_code,
            "verification_url": "https://simkl.com/pin/",
            "expires_in": int(self.pin_ttl),
            "interval": int(self.pin_interval),
        }

    def _pin_status(self, request: FakeRequest) -> Any:
        pin = self.pins.get(request.params["code"])
        now = self.clock.monotonic()
        if pin is None or now - pin["created"] > self.pin_ttl:
            raise HttpFault(404, {"result": "KO", "message": "Wrong or expired code"})
        last, pin["last_poll"] = pin["last_poll"], now
        pin["polls"] += 1
        if (
            self.auto_approve_after is not None
            and pin["state"] == "pending"
            and pin["polls"] >= self.auto_approve_after
        ):
            pin["state"] = "approved"
        if last is not None and now - last < self.pin_interval * 0.9:
            return {"result": "KO", "message": "Slow down"}
        if pin["state"] != "approved":
            return {"result": "KO", "message": "Authorization pending"}
        del self.pins[request.params["code"]]
        return {"result": "OK", "access_token": self.issue_token()}

    def _settings(self, request: FakeRequest) -> Any:
        return {
            "user": {"name": self.user_name, "joined_at": "2015-01-01T00:00:00Z"},
            "account": {"id": self.user_id, "timezone": "UTC", "type": "free"},
            "connections": {},
        }

    # -- reads ----------------------------------------------------------------------

    def _activities_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"settings": {"all": iso(self.settings_at)}}
        latest = self.settings_at
        for kind, group in _ACTIVITY_GROUPS.items():
            names = ["all", "rated_at", "playback", *STATUSES, "removed_from_list"]
            if kind == "movie":
                names = [n for n in names if n not in ("watching", "hold")]
            stamps = self.activities[group]
            out[group] = {n: iso(stamps[n]) if stamps.get(n) else None for n in names}
            if stamps.get("all") and stamps["all"] > latest:
                latest = stamps["all"]
        out["all"] = iso(latest)
        return out

    def _activities(self, request: FakeRequest) -> Any:
        with self._lock:
            self._gate_open = set(_BUCKETS.values())
            return self._activities_json()

    def _date_from(self, request: FakeRequest) -> datetime | None:
        text = request.arg("date_from")
        if not text:
            return None
        try:
            return parse_iso(text)
        except ValueError:
            raise HttpFault(400, {"error": "wrong_date_from"}) from None

    def _media(self, title: SimklTitle, *, minimal: str | None = None) -> dict:
        ids: dict[str, Any] = {"simkl": title.simkl_id, "slug": _slug(title.title)}
        if minimal != "simkl_ids_only":
            ids |= {k: str(v) for k, v in title.ids.items() if v not in (None, "")}
        if minimal:
            return {"ids": ids}
        return {"title": title.title, "year": title.year, "ids": ids}

    def _render(
        self,
        title: SimklTitle,
        item: dict[str, Any],
        extended: str | None,
        watched_at: bool,
        memos: bool,
    ) -> dict[str, Any]:
        key = "movie" if title.kind == "movie" else "show"
        minimal = extended if extended in ("simkl_ids_only", "ids_only") else None
        if minimal:
            return {key: self._media(title, minimal=minimal)}
        episodes = item["episodes"]
        last = max(episodes.values(), default=None)
        if title.kind == "movie":
            last = item["watched_at"]
        out: dict[str, Any] = {
            "added_to_watchlist_at": iso(item["added_at"]),
            "last_watched_at": iso(last) if last else None,
            "user_rated_at": iso(item["rated_at"]) if item["rated_at"] else None,
            "user_rating": item["rating"],
            "status": item["status"],
        }
        if title.kind != "movie":
            watched = sorted(episodes)
            nxt = next((k for k in title.episode_keys() if k not in episodes), None)
            out |= {
                "last_watched": _episode_label(title, watched[-1]) if watched else None,
                "next_to_watch": _episode_label(title, nxt) if nxt else None,
                "watched_episodes_count": len([k for k in episodes if k[0] > 0]),
                "total_episodes_count": title.total,
                "not_aired_episodes_count": 0,
            }
            if title.kind == "anime":
                out["anime_type"] = title.anime_type
        out[key] = self._media(title)
        if extended in ("full", "full_anime_seasons") and title.kind != "movie":
            seasons: dict[int, list[dict[str, Any]]] = {}
            for (s, e), when in sorted(episodes.items()):
                ep: dict[str, Any] = {"number": e}
                if watched_at:
                    ep["watched_at"] = iso(when) if when else SENTINEL
                seasons.setdefault(s, []).append(ep)
            out["seasons"] = [
                {"number": s, "episodes": eps} for s, eps in sorted(seasons.items())
            ]
        if memos:
            out["memo"] = (
                {"text": item["memo"], "is_private": item["memo_private"]}
                if item["memo"]
                else {}
            )
        return out

    def _all_items(self, request: FakeRequest) -> Any:
        path_type = request.params.get("type")
        status = request.params.get("status")
        if status is not None and status not in STATUSES:
            raise HttpFault(404, {"error": "wrong_status"})
        since = self._date_from(request)
        extended = request.arg("extended")
        if extended not in (None, "", "full", "full_anime_seasons",
                            "simkl_ids_only", "ids_only"):  # fmt: skip
            raise HttpFault(400, {"error": "wrong_extended"})
        with self._lock:
            if since is None and extended not in ("simkl_ids_only", "ids_only"):
                pulled = {path_type} if path_type else set(_BUCKETS.values())
                if not pulled <= self._gate_open:
                    self.ungated_pulls += 1
                self._gate_open -= pulled
            out: dict[str, list[dict[str, Any]]] = {}
            for simkl_id, item in sorted(self.items.items()):
                title = self.titles[simkl_id]
                if path_type and _PATH_TYPES[path_type] != title.kind:
                    continue
                if status and item["status"] != status:
                    continue
                if since is not None and item["updated"] <= since:
                    continue
                out.setdefault(_BUCKETS[title.kind], []).append(
                    self._render(
                        title,
                        item,
                        extended,
                        request.arg("episode_watched_at") == "yes",
                        request.arg("memos") == "yes",
                    )
                )
        return out or None

    def _get_ratings(self, request: FakeRequest) -> Any:
        path_type = request.params.get("type")
        wanted = {int(x) for x in (request.params.get("r") or "").split(",") if x}
        since = self._date_from(request)
        with self._lock:
            out: dict[str, list[dict[str, Any]]] = {}
            for simkl_id, item in sorted(self.items.items()):
                title = self.titles[simkl_id]
                if path_type and _PATH_TYPES[path_type] != title.kind:
                    continue
                stamp = item["rated_stamp"]
                if stamp is None or (since is not None and stamp <= since):
                    continue
                if since is None and item["rating"] is None:
                    continue
                if wanted and item["rating"] not in wanted:
                    continue
                rendered = self._render(title, item, None, False, False)
                out.setdefault(_BUCKETS[title.kind], []).append(rendered)
        return out or None

    def _search_id(self, request: FakeRequest) -> Any:
        ids = {k: request.arg(k) for k in _ID_KEYS if request.arg(k)}
        if not ids:
            raise HttpFault(400, {"error": "id_required"})
        wanted_type = request.arg("type")
        found = []
        with self._lock:
            for title in self.titles.values():
                if "simkl" in ids:
                    hit = str(title.simkl_id) == ids["simkl"]
                else:
                    hit = any(str(title.ids.get(k)) == v for k, v in ids.items())
                if not hit:
                    continue
                film = title.kind == "movie" or title.anime_type == "movie"
                if wanted_type == "show" and film:
                    continue
                if wanted_type == "movie" and not film:
                    continue
                entry = {
                    "type": title.kind,
                    "title": title.title,
                    "year": title.year,
                    "status": "ended" if title.ended else "airing",
                    "ids": {"simkl": title.simkl_id, "slug": _slug(title.title)},
                }
                if title.kind != "movie":
                    entry["total_episodes"] = title.total
                found.append(entry)
        return found

    def _search_text(self, request: FakeRequest) -> Any:
        query = (request.arg("q") or "").strip().lower()
        kind = request.params["type"]
        try:
            limit = int(request.arg("limit", "10") or 10)
        except ValueError:
            raise HttpFault(400, {"error": "wrong_limit"}) from None
        with self._lock:
            hits = [
                t
                for t in sorted(self.titles.values(), key=lambda t: t.simkl_id)
                if t.kind == kind and query and query in t.title.lower()
            ]
        return [
            {
                "title": t.title,
                "year": t.year,
                "ids": {"simkl_id": t.simkl_id, "slug": _slug(t.title)},
            }
            for t in hits[: max(1, min(limit, 50))]
        ]

    def _summary(self, request: FakeRequest) -> Any:
        title = self.titles.get(int(request.params["id"]))
        kind = _PATH_TYPES.get(request.params["type"], request.params["type"])
        if title is None or title.kind != kind:
            raise HttpFault(404, {"error": "not_found"})
        out = self._media(title)
        out["type"] = title.kind
        if request.arg("extended") == "full":
            out["ids"] |= {}
            if title.kind != "movie":
                out["total_episodes"] = title.total
                out["status"] = "ended" if title.ended else "airing"
            if title.kind == "anime":
                out["anime_type"] = title.anime_type
        return out

    def _episodes(self, request: FakeRequest) -> Any:
        title = self.titles.get(int(request.params["id"]))
        if title is None or title.kind != request.params["type"]:
            raise HttpFault(404, {"error": "not_found"})
        return [
            {
                "title": f"Episode {e}",
                "season": s,
                "episode": e,
                "type": "episode",
                "aired": True,
                "ids": {"simkl_id": title.simkl_id * 10_000 + s * 1000 + e},
            }
            for s, e in title.episode_keys()
        ]

    # -- writes ---------------------------------------------------------------------

    def _body(self, request: FakeRequest) -> dict[str, Any]:
        try:
            body = request.json()
        except ValueError:
            raise HttpFault(400, {"error": "wrong_json"}) from None
        if not isinstance(body, dict):
            raise HttpFault(400, {"error": "wrong_json"})
        return body

    @staticmethod
    def _entries(body: Mapping[str, Any]) -> Iterable[tuple[str, dict[str, Any]]]:
        for bucket in ("movies", "shows", "anime"):
            for entry in body.get(bucket) or []:
                if not isinstance(entry, dict):
                    raise HttpFault(400, {"error": "wrong_item"})
                yield bucket, entry

    def _add_to_list(self, request: FakeRequest) -> Any:
        body = self._body(request)
        added: dict[str, list[Any]] = {"movies": [], "shows": []}
        missing: dict[str, list[Any]] = {"movies": [], "shows": []}
        with self._lock:
            for bucket, entry in self._entries(body):
                out = "movies" if bucket == "movies" else "shows"
                to = entry.get("to")
                if not isinstance(to, str):
                    raise HttpFault(
                        400,
                        {"error": "empty_field", "message": 'Missed "to" parameter'},
                    )
                if to not in STATUSES:
                    raise HttpFault(400, {"error": "wrong_status"})
                title = self._find(entry.get("ids"))
                if title is None:
                    missing[out].append(entry)
                    continue
                if title.kind == "movie" and to == "watching":
                    to = "completed"  # movies are atomic
                if title.kind == "movie" and to == "hold":
                    raise HttpFault(400, {"error": "wrong_status"})
                stamp = self._stamp()
                item = self._item(title.simkl_id, create=True, status=to, at=stamp)
                old = item["status"]
                item["status"] = to
                if (
                    title.kind == "movie"
                    and to == "completed"
                    and not item["watched_at"]
                ):
                    when = _when(entry.get("watched_at"))
                    item["watched_at"] = when or stamp
                item["updated"] = stamp
                self._bump(title, old, stamp)
                self._bump(title, to, stamp)
                added[out].append(dict(entry, to=to))
        return {"added": added, "not_found": missing}

    def _add_history(self, request: FakeRequest) -> Any:
        body = self._body(request)
        counts = {"movies": 0, "shows": 0, "episodes": 0}
        statuses: list[dict[str, Any]] = []
        missing: dict[str, list[Any]] = {"movies": [], "shows": [], "episodes": []}
        with self._lock:
            for bucket, entry in self._entries(body):
                title = self._find(entry.get("ids"))
                if title is None:
                    missing["movies" if bucket == "movies" else "shows"].append(entry)
                    continue
                memo = entry.get("memo")
                if memo is not None:
                    text = memo.get("text") if isinstance(memo, dict) else None
                    if not isinstance(text, str) or len(text) > MEMO_MAX:
                        raise HttpFault(400, {"error": "wrong_memo"})
                status = entry.get("status")
                if status is not None and status not in STATUSES:
                    raise HttpFault(400, {"error": "wrong_status"})
                rating = entry.get("rating")
                if rating not in (None, 0) and (
                    not isinstance(rating, int) or not 1 <= rating <= 10
                ):
                    raise HttpFault(400, {"error": "wrong_rating"})
                new = self._mark(title, entry, status)
                if title.kind != "movie":
                    counts["episodes"] += new
                if new or title.kind == "movie":
                    counts["movies" if title.kind == "movie" else "shows"] += 1
                item = self.items[title.simkl_id]
                stamp = self._stamp()
                if memo is not None:
                    item["memo"] = memo["text"]
                    item["memo_private"] = bool(memo.get("is_private"))
                    item["updated"] = stamp
                    self._bump(title, item["status"], stamp)
                if isinstance(rating, int) and 1 <= rating <= 10:
                    item["rating"], item["rated_at"] = rating, stamp
                    item["rated_stamp"] = stamp
                    self._bump(title, "rated_at", stamp)
                statuses.append(
                    {
                        "request": entry,
                        "response": {
                            "status": item["status"],
                            "simkl_type": title.kind,
                            "anime_type": title.anime_type,
                        },
                    }
                )
            for entry in body.get("episodes") or []:
                missing["episodes"].append(entry)  # bare episode ids: not modelled
        return {"added": dict(counts, statuses=statuses), "not_found": missing}

    def _mark(
        self, title: SimklTitle, entry: Mapping[str, Any], status: str | None
    ) -> int:
        """Mark what `entry` names watched; returns the new episodes (movies: 0/1)."""
        item_at = _when(entry.get("watched_at"))
        stamp = self._stamp()
        item = self.items.get(title.simkl_id)
        created = item is None
        initial = status or ("completed" if title.kind == "movie" else "watching")
        item = self._item(title.simkl_id, create=True, status=initial, at=stamp)
        old = item["status"]
        if title.kind == "movie":
            new = 0
            if status in (None, "completed") and not item["watched_at"]:
                item["watched_at"] = item_at or stamp
                new = 1
            item["status"] = status or "completed"
        else:
            wanted: list[tuple[tuple[int, int], datetime | None]] = []
            seasons = entry.get("seasons")
            episodes = entry.get("episodes")
            if isinstance(episodes, list):
                seasons = [{"number": 1, "episodes": episodes}]
            if isinstance(seasons, list):
                for season in seasons:
                    number = season.get("number")
                    eps = season.get("episodes")
                    season_at = _when(season.get("watched_at")) or item_at
                    if isinstance(eps, list):
                        for ep in eps:
                            wanted.append(
                                (
                                    (int(number), int(ep.get("number"))),
                                    _when(ep.get("watched_at")) or season_at,
                                )
                            )
                    else:
                        wanted.extend(
                            ((s, e), season_at)
                            for s, e in title.episode_keys()
                            if s == number
                        )
            elif status in (None, "completed") and title.ended:
                wanted = [(k, item_at) for k in title.episode_keys()]
            new = 0
            for key, when in wanted:
                if key not in item["episodes"]:
                    item["episodes"][key] = when or stamp
                    new += 1
            everything = set(title.episode_keys()) <= set(item["episodes"])
            if status is not None:
                item["status"] = status
            elif new and everything and title.ended and title.episode_keys():
                item["status"] = "completed"
            elif new and (created or old == "plantowatch"):
                item["status"] = "watching"
        if new or item["status"] != old or created:
            item["updated"] = stamp
            self._bump(title, old, stamp)
            self._bump(title, item["status"], stamp)
        return new

    def _remove_history(self, request: FakeRequest) -> Any:
        body = self._body(request)
        counts = {"movies": 0, "shows": 0, "episodes": 0}
        missing: dict[str, list[Any]] = {"movies": [], "shows": [], "episodes": []}
        with self._lock:
            for bucket, entry in self._entries(body):
                out = "movies" if bucket == "movies" else "shows"
                title = self._find(entry.get("ids"))
                item = self.items.get(title.simkl_id) if title else None
                if title is None or item is None:
                    missing[out].append(entry)
                    continue
                stamp = self._stamp()
                seasons = entry.get("seasons")
                episodes = entry.get("episodes")
                if isinstance(episodes, list):
                    seasons = [{"number": 1, "episodes": episodes}]
                if title.kind == "movie" or not isinstance(seasons, list):
                    del self.items[title.simkl_id]
                    self.removed[title.simkl_id] = stamp
                    counts[out] += 1
                    self._bump(title, "removed_from_list", stamp)
                    if item["rating"] is not None:
                        self._bump(title, "rated_at", stamp)
                    continue
                gone = 0
                for season in seasons:
                    number = season.get("number")
                    eps = season.get("episodes")
                    keys = (
                        [(int(number), int(ep.get("number"))) for ep in eps]
                        if isinstance(eps, list)
                        else [k for k in item["episodes"] if k[0] == number]
                    )
                    for key in keys:
                        if item["episodes"].pop(key, None) is not None:
                            gone += 1
                if gone:
                    counts["episodes"] += gone
                    if item["status"] == "completed":
                        item["status"] = "watching"
                        self._bump(title, "completed", stamp)
                    item["updated"] = stamp
                    self._bump(title, item["status"], stamp)
        return {"deleted": counts, "not_found": missing}

    def _add_ratings(self, request: FakeRequest) -> Any:
        body = self._body(request)
        counts = {"movies": 0, "shows": 0}
        statuses: list[dict[str, Any]] = []
        missing: dict[str, list[Any]] = {"movies": [], "shows": []}
        with self._lock:
            for bucket, entry in self._entries(body):
                out = "movies" if bucket == "movies" else "shows"
                rating = entry.get("rating")
                if (
                    not isinstance(rating, int)
                    or isinstance(rating, bool)
                    or not 1 <= rating <= 10
                ):
                    raise HttpFault(400, {"error": "wrong_rating"})
                title = self._find(entry.get("ids"))
                if title is None:
                    missing[out].append(entry)
                    continue
                stamp = self._stamp()
                item = self.items.get(title.simkl_id)
                if item is None:  # rating files an unlisted title
                    status = "completed" if title.kind == "movie" else "watching"
                    item = self._item(title.simkl_id, create=True, status=status)
                    if title.kind == "movie":
                        item["watched_at"] = stamp
                    self._bump(title, status, stamp)
                item["rating"] = rating
                item["rated_at"] = _when(entry.get("rated_at")) or stamp
                item["rated_stamp"] = stamp
                self._bump(title, "rated_at", stamp)
                counts[out] += 1
                statuses.append(
                    {"request": entry, "response": {"status": item["status"]}}
                )
        return {"added": dict(counts, statuses=statuses), "not_found": missing}

    def _remove_ratings(self, request: FakeRequest) -> Any:
        body = self._body(request)
        counts = {"movies": 0, "shows": 0}
        missing: dict[str, list[Any]] = {"movies": [], "shows": []}
        with self._lock:
            for bucket, entry in self._entries(body):
                out = "movies" if bucket == "movies" else "shows"
                title = self._find(entry.get("ids"))
                item = self.items.get(title.simkl_id) if title else None
                if title is None or item is None:
                    missing[out].append(entry)
                    continue
                if item["rating"] is not None:
                    stamp = self._stamp()
                    item["rating"] = item["rated_at"] = None
                    item["rated_stamp"] = stamp
                    self._bump(title, "rated_at", stamp)
                    counts[out] += 1
        return {"deleted": counts, "not_found": missing}


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(microsecond=0)
    if isinstance(value, str) and value:
        try:
            return parse_iso(value).replace(microsecond=0)
        except ValueError:
            raise HttpFault(400, {"error": "wrong_date"}) from None
    return None


def _slug(title: str) -> str:
    return "-".join(title.lower().split())


def _episode_label(title: SimklTitle, key: tuple[int, int]) -> str:
    s, e = key
    if title.kind == "anime":
        return f"E{e:02d}"
    return f"S{s:02d}E{e:02d}"
