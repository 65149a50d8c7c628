"""A fake Trakt API (v2) on loopback: real HTTP, real shapes, real limits.

Built on `anibridge.testing.fakes.server`. It keeps a small catalog (movies, shows
with seasons and episodes) and one user's state (history, ratings, watchlist,
collection) and answers the `/sync/*`, `/search`, catalog and OAuth endpoints the
Trakt provider uses, with the shapes of Trakt's published API:

- headers: requires `trakt-api-key` (403 otherwise) and `trakt-api-version: 2`;
  `/sync` and `/users` need `Authorization: Bearer` (401 otherwise).
- pagination: `page`/`limit` (default 1/10 on paginated methods, `limit` clamped to
  `max_page_size`), `X-Pagination-Page/-Limit/-Page-Count/-Item-Count` headers;
  "pagination optional" methods (ratings, watchlist) return everything unless asked.
- limits on the fake's scaled clock: `AUTHED_API_POST_LIMIT` 1 write per second and
  `AUTHED_API_GET_LIMIT` 1000 GETs per 5 minutes, answered with 429, `Retry-After`
  and the JSON `X-Ratelimit` header.
- writes answer the `added`/`updated`/`existing`/`deleted`/`not_found` envelopes;
  `not_found` echoes unknown items as sent. An unknown episode of a known show is
  echoed as that show with only the missing seasons/episodes nested.
- history does not deduplicate `(item, watched_at)` (like Trakt: that is the app's
  job), so a careless client really does create duplicate plays here.
- "apply late" (`apply_late`): the next history POST(s) are answered with a reset
  connection (or a gateway timeout) and applied only later — when the test calls
  `land_late()` or after a delay on the fake's clock — like a server that finished
  a request its client had given up on. A client that blindly re-sends such a
  batch creates duplicates here.
- OAuth: device code flow (`/oauth/device/code`, `/oauth/device/token` with 400
  pending, 404 invalid, 409 used, 410 expired, 418 denied, 429 slow down) and the
  refresh-token grant on `/oauth/token` (rotating tokens).

Request kinds for `count()`: ``"auth"`` (OAuth), ``"identity"`` (`/users/settings`),
``"write"`` (POSTs under `/sync`), ``"data"`` (every other GET).
"""

from __future__ import annotations

import itertools
import json
import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from anibridge.dates import parse_iso
from anibridge.http.clock import Clock
from anibridge.testing.fakes.server import (
    FakeLimit,
    FakeRequest,
    FakeResponse,
    FakeService,
    Fault,
    HttpFault,
)

type Key = tuple[Any, ...]  # ("movie", id) | ("show", id) | ("season", id, s) | ...

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
TYPES = ("movies", "shows", "seasons", "episodes")


def iso(at: datetime) -> str:
    """Trakt's timestamp format (UTC, milliseconds, Z)."""
    utc = at.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _is_write(request: FakeRequest) -> bool:
    return request.method in ("POST", "PUT", "DELETE") and not request.path.startswith(
        "/oauth"
    )


def _is_get(request: FakeRequest) -> bool:
    return request.method == "GET"


def _now() -> datetime:
    return datetime.now(UTC)


class FakeTrakt(FakeService):
    """One Trakt account and a catalog, served over HTTP.

    Args:
        time_scale: Real seconds per service second (limits and device-code timing).
        clock: A clock instead of `time_scale` (see `FakeService`).
        client_id: The app's client id (`trakt-api-key`).
        client_secret: The app's client secret.
        max_page_size: The largest `limit` paginated methods honour.
        enforce_limits: Enforce Trakt's rate limits (on by default).
        username: The account's slug.
    """

    RATE_LIMIT_HEADERS = False  # Trakt sends the JSON `X-Ratelimit` header instead

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        clock: Clock | None = None,
        client_id: str = "fake-trakt-client",
        client_secret: str = "fake-trakt-secret",
        max_page_size: int = 250,
        enforce_limits: bool = True,
        username: str = "fake-user",
    ) -> None:
        """Create an empty account; add catalog items and state with the helpers."""
        limits = (
            [
                FakeLimit(1, 1.0, _is_write, name="AUTHED_API_POST_LIMIT"),
                FakeLimit(1000, 300.0, _is_get, name="AUTHED_API_GET_LIMIT"),
            ]
            if enforce_limits
            else []
        )
        super().__init__(time_scale=time_scale, limits=limits, clock=clock)
        self.client_id = client_id
        self.client_secret = client_secret
        self.max_page_size = max_page_size
        self.username = username
        self.movies: dict[int, dict[str, Any]] = {}
        self.shows: dict[int, dict[str, Any]] = {}
        self.history: list[dict[str, Any]] = []
        self.ratings: dict[Key, tuple[int, datetime]] = {}
        self.watchlist: dict[Key, dict[str, Any]] = {}
        self.collection: dict[Key, datetime] = {}
        self.updated: dict[Key, datetime] = {}  # last_updated_at per movie/show
        self.activities: dict[str, datetime] = {}
        self.access_tokens: dict[str, float] = {}  # token -> expires_at (epoch)
        self.refresh_tokens: dict[str, str] = {}  # refresh -> its access token
        self.devices: dict[str, dict[str, Any]] = {}
        self.device_ttl = 600.0
        self.device_interval = 5.0
        # Tests of unattended logins: approve a device code on its Nth poll.
        self.auto_approve_after: int | None = None
        self.token_ttl = 7 * 86400
        self._ids = itertools.count(1_000_001)
        self._sorted: list[dict[str, Any]] = []
        self._sorted_stamp: tuple[int, int, int] | None = None
        self._history_changes = 0
        self._routes_up()

    # -- catalog and state helpers (tests) ------------------------------------------

    def add_movie(
        self,
        trakt_id: int,
        title: str,
        *,
        year: int = 2000,
        imdb: str | None = None,
        tmdb: int | None = None,
    ) -> dict[str, Any]:
        """Add a movie to the catalog.

        Returns:
            The movie object.
        """
        movie = {
            "title": title,
            "year": year,
            "ids": {
                "trakt": trakt_id,
                "slug": f"{title.lower().replace(' ', '-')}-{year}",
                "imdb": imdb,
                "tmdb": tmdb,
            },
        }
        self.movies[trakt_id] = movie
        return movie

    def add_show(
        self,
        trakt_id: int,
        title: str,
        seasons: Mapping[int, int],
        *,
        year: int = 2000,
        imdb: str | None = None,
        tmdb: int | None = None,
        tvdb: int | None = None,
    ) -> dict[str, Any]:
        """Add a show with `seasons` = {season number: episode count}.

        Returns:
            The show object (with its season tree).
        """
        tree: dict[int, dict[str, Any]] = {}
        for number, count in seasons.items():
            tree[number] = {
                "ids": {"trakt": trakt_id * 100 + number, "tvdb": None, "tmdb": None},
                "episodes": {
                    e: {
                        "title": f"Episode {e}",
                        "ids": {
                            "trakt": trakt_id * 100_000 + number * 1000 + e,
                            "tvdb": (tvdb or trakt_id) * 100_000 + number * 1000 + e,
                            "imdb": None,
                            "tmdb": None,
                        },
                    }
                    for e in range(1, count + 1)
                },
            }
        show = {
            "title": title,
            "year": year,
            "ids": {
                "trakt": trakt_id,
                "slug": f"{title.lower().replace(' ', '-')}",
                "imdb": imdb,
                "tmdb": tmdb,
                "tvdb": tvdb,
            },
            "seasons": tree,
        }
        self.shows[trakt_id] = show
        return show

    def issue_tokens(self, *, expires_in: float | None = None) -> dict[str, Any]:
        """A valid token answer, as `/oauth/token` would give.

        Returns:
            The token payload.
        """
        access = "at-" + secrets.token_hex(8)
        refresh = "rt-" + secrets.token_hex(8)
        ttl = self.token_ttl if expires_in is None else expires_in
        created = int(time.time())
        self.access_tokens[access] = created + ttl
        self.refresh_tokens[refresh] = access
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(ttl),
            "refresh_token": refresh,
            "scope": "public",
            "created_at": created,
        }

    def provider_config(self, **extra: Any) -> dict[str, Any]:
        """A `TraktProvider` config signed in to this fake (fresh tokens).

        Returns:
            The config mapping (`extra` keys override).
        """
        tokens = self.issue_tokens()
        config: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expires_at": tokens["created_at"] + tokens["expires_in"],
            "base_url": self.base_url,
            "clock": self.clock,
        }
        config.update(extra)
        return config

    def apply_late(
        self,
        *,
        times: int = 1,
        answer: int = 0,
        after: float | None = None,
        path: str = "/sync/history",
        hook: Callable[[FakeRequest], None] | None = None,
    ) -> None:
        """Make the next `times` POSTs to `path` land after their answer was lost.

        Args:
            times: How many POSTs are held back.
            answer: The status the client gets (0: the connection is reset with no
                answer at all; 504: a gateway timeout).
            after: Apply each one this many service seconds later (on the fake's
                clock, before the next request is handled); None: only when the
                test calls `land_late()`.
            path: The write route (history appends by default).
            hook: Called with the request before answering (crash tests kill the
                client there: the request is in flight when it dies).
        """
        self.inject(
            Fault(
                mode="late",
                status=answer,
                body={"error": "gateway timeout"} if answer else None,
                times=times,
                after=after,
                hook=hook,
                match=lambda r: r.method == "POST" and r.path == path,
            )
        )

    def revoke(self, access_token: str) -> None:
        """Invalidate an access token (its refresh token still works)."""
        self.access_tokens.pop(access_token, None)

    def add_play(
        self,
        key: Key,
        at: datetime,
        *,
        action: str = "scrobble",
    ) -> dict[str, Any]:
        """Add one history entry for ("movie", id) or ("episode", show, s, e).

        Returns:
            The stored entry.
        """
        entry = {"id": next(self._ids), "watched_at": at, "action": action, "key": key}
        self.history.append(entry)
        self._touch(key, "watched_at")
        return entry

    def rate(self, key: Key, rating: int, at: datetime | None = None) -> None:
        """Rate a movie/show/season/episode."""
        self.ratings[key] = (rating, at or _now())
        self._touch(key, "rated_at")

    def list_item(self, key: Key, notes: str | None = None) -> None:
        """Put an item on the watchlist."""
        self.watchlist[key] = {
            "listed_at": _now(),
            "notes": notes,
            "id": next(self._ids),
        }
        self._touch(key, "watchlisted_at")

    def collect(self, key: Key, at: datetime | None = None) -> None:
        """Add a movie or episode to the collection."""
        self.collection[key] = at or _now()
        self._touch(key, "collected_at")

    def approve_device(self, user_code: str) -> None:
        """The user entered `user_code` and approved the app."""
        self._device_by_user_code(user_code)["state"] = "approved"

    def deny_device(self, user_code: str) -> None:
        """The user denied the app."""
        self._device_by_user_code(user_code)["state"] = "denied"

    def plays_of(self, key: Key) -> list[datetime]:
        """The watched_at of every history entry of `key` (for assertions).

        Returns:
            The times, oldest first.
        """
        return sorted(e["watched_at"] for e in self.history if e["key"] == key)

    def _device_by_user_code(self, user_code: str) -> dict[str, Any]:
        for device in self.devices.values():
            if device["user_code"] == user_code:
                return device
        raise KeyError(user_code)

    def _touch(self, key: Key, field: str) -> None:
        if field == "watched_at":
            self._history_changes += 1
        group = {"movie": "movies", "show": "shows", "season": "seasons"}.get(
            key[0], "episodes"
        )
        now = _now()
        self.activities[f"{group}.{field}"] = now
        if field == "watchlisted_at":
            self.activities["watchlist.updated_at"] = now
        anchor = ("movie", key[1]) if key[0] == "movie" else ("show", key[1])
        self.updated[anchor] = now

    # -- routing ----------------------------------------------------------------------

    def _routes_up(self) -> None:
        r = self.route
        r("POST", r"/oauth/device/code", self.device_code, kind="auth")
        r("POST", r"/oauth/device/token", self.device_token, kind="auth")
        r("POST", r"/oauth/token", self.token, kind="auth")
        r("GET", r"/users/settings", self.settings, kind="identity")
        r("GET", r"/sync/last_activities", self.last_activities)
        r("GET", r"/sync/watched/(?P<type>movies|shows)", self.watched)
        kinds = r"(?P<type>movies|shows|seasons|episodes)"
        h = rf"/sync/history(?:/{kinds}(?:/(?P<id>\d+))?)?"
        r("GET", h, self.get_history)
        r("POST", r"/sync/history", self.add_history, kind="write")
        r("POST", r"/sync/history/remove", self.remove_history, kind="write")
        typed = r"(?:/(?P<type>movies|shows|seasons|episodes|all)(?:/(?P<x>[\w,]+))?)?"
        r("GET", r"/sync/ratings" + typed, self.get_ratings)
        r("POST", r"/sync/ratings", self.add_ratings, kind="write")
        r("POST", r"/sync/ratings/remove", self.remove_ratings, kind="write")
        r("GET", r"/sync/watchlist" + typed, self.get_watchlist)
        r("POST", r"/sync/watchlist", self.add_watchlist, kind="write")
        r("POST", r"/sync/watchlist/remove", self.remove_watchlist, kind="write")
        r("GET", r"/sync/collection/(?P<type>movies|shows)", self.get_collection)
        r("POST", r"/sync/collection", self.add_collection, kind="write")
        r("POST", r"/sync/collection/remove", self.remove_collection, kind="write")
        r("GET", r"/search/(?P<id_type>trakt|imdb|tmdb|tvdb)/(?P<id>[^/]+)", self.by_id)
        r("GET", r"/search/(?P<types>[a-z,]+)", self.by_text)
        r("GET", r"/movies/(?P<id>[^/]+)", self.movie_summary)
        r("GET", r"/shows/(?P<id>[^/]+)/seasons", self.show_seasons)
        r("GET", r"/shows/(?P<id>[^/]+)", self.show_summary)

    def _call(self, handler: Any, request: FakeRequest) -> FakeResponse:
        try:
            self._check_app(request)
            if request.path.startswith(("/sync", "/users")):
                self._check_user(request)
        except HttpFault as fault:
            return fault.response
        return super()._call(handler, request)

    def _limit_response(self, request: FakeRequest) -> FakeResponse | None:
        response = super()._limit_response(request)
        if response is not None:
            name = (response.body or {}).get("limit", "")
            limit = next((x for x in self.limits if x.name == name), None)
            wait = int(response.headers.get("Retry-After", "1"))
            response.headers["X-Ratelimit"] = json.dumps(
                {
                    "name": name,
                    "period": limit.period if limit else 0,
                    "limit": limit.limit if limit else 0,
                    "remaining": 0,
                    "until": iso(_now() + timedelta(seconds=wait)),
                }
            )
            response.body = {"error": "rate_limit_exceeded"}
        return response

    def _check_app(self, request: FakeRequest) -> None:
        if request.body and "application/json" not in (
            request.header("Content-Type") or ""
        ):
            raise HttpFault(412, {"error": "use application/json content type"})
        if request.path.startswith("/oauth"):
            return
        if request.header("trakt-api-key") != self.client_id:
            raise HttpFault(403, {"error": "invalid api key or unapproved app"})
        if request.header("trakt-api-version") != "2":
            raise HttpFault(400, {"error": "trakt-api-version: 2 is required"})

    def _check_user(self, request: FakeRequest) -> None:
        header = request.header("Authorization") or ""
        token = header.removeprefix("Bearer ").strip()
        expires = self.access_tokens.get(token)
        if not token or expires is None or expires <= time.time():
            raise HttpFault(401, {"error": "invalid_token"})

    # -- OAuth ------------------------------------------------------------------------

    def _check_client(self, body: Mapping[str, Any], secret: bool = True) -> None:
        if body.get("client_id") != self.client_id or (
            secret and body.get("client_secret") != self.client_secret
        ):
            raise HttpFault(401, {"error": "invalid_client"})

    def device_code(self, request: FakeRequest) -> Any:
        """`POST /oauth/device/code`."""
        body = request.json() or {}
        self._check_client(body, secret=False)
        code = secrets.token_hex(16)
        user_code = secrets.token_hex(4).upper()
        self.devices[code] = {
            "user_code": user_code,
            "state": "pending",
            "created": self.clock.monotonic(),
            "last_poll": None,
            "polls": 0,
        }
        return {
            "device_code": code,
            "user_code": user_code,
            "verification_url": "https://trakt.tv/activate",
            "expires_in": int(self.device_ttl),
            "interval": int(self.device_interval),
        }

    def device_token(self, request: FakeRequest) -> Any:
        """`POST /oauth/device/token`: the status code is the answer."""
        body = request.json() or {}
        self._check_client(body)
        device = self.devices.get(str(body.get("code")))
        if device is None:
            raise HttpFault(404, {"error": "invalid device code"})
        now = self.clock.monotonic()
        if device["state"] == "used":
            raise HttpFault(409, {"error": "already used"})
        if now - device["created"] > self.device_ttl:
            raise HttpFault(410, {"error": "expired"})
        if device["state"] == "denied":
            raise HttpFault(418, {"error": "denied"})
        last = device["last_poll"]
        device["last_poll"] = now
        device["polls"] += 1
        if (
            self.auto_approve_after is not None
            and device["state"] == "pending"
            and device["polls"] >= self.auto_approve_after
        ):
            device["state"] = "approved"
        if last is not None and now - last < self.device_interval * 0.9:
            raise HttpFault(429, {"error": "slow_down"})
        if device["state"] == "pending":
            raise HttpFault(400, {"error": "authorization_pending"})
        device["state"] = "used"
        return self.issue_tokens()

    def token(self, request: FakeRequest) -> Any:
        """`POST /oauth/token` with the refresh-token grant (tokens rotate)."""
        body = request.json() or {}
        self._check_client(body)
        if body.get("grant_type") != "refresh_token":
            raise HttpFault(400, {"error": "unsupported_grant_type"})
        old_access = self.refresh_tokens.pop(str(body.get("refresh_token")), None)
        if old_access is None:
            raise HttpFault(401, {"error": "invalid_grant"})
        self.access_tokens.pop(old_access, None)
        return self.issue_tokens()

    def settings(self, request: FakeRequest) -> Any:
        """`GET /users/settings`."""
        return {
            "user": {
                "username": self.username,
                "private": False,
                "name": "Fake User",
                "vip": False,
                "ids": {"slug": self.username, "uuid": "00000000-fake"},
            },
            "account": {"timezone": "UTC", "time_24hr": True},
        }

    # -- rendering --------------------------------------------------------------------

    def _movie(self, trakt_id: int) -> dict[str, Any]:
        m = self.movies[trakt_id]
        return {"title": m["title"], "year": m["year"], "ids": dict(m["ids"])}

    def _show(self, trakt_id: int) -> dict[str, Any]:
        s = self.shows[trakt_id]
        return {"title": s["title"], "year": s["year"], "ids": dict(s["ids"])}

    def _episode(self, show: int, season: int, number: int) -> dict[str, Any]:
        e = self.shows[show]["seasons"][season]["episodes"][number]
        return {
            "season": season,
            "number": number,
            "title": e["title"],
            "ids": dict(e["ids"]),
        }

    def _typed(self, key: Key) -> dict[str, Any]:
        kind = key[0]
        if kind == "movie":
            return {"type": "movie", "movie": self._movie(key[1])}
        out: dict[str, Any] = {"type": kind, "show": self._show(key[1])}
        if kind == "season":
            ids = self.shows[key[1]]["seasons"][key[2]]["ids"]
            out["season"] = {"number": key[2], "ids": dict(ids)}
        elif kind == "episode":
            out["episode"] = self._episode(*key[1:])
        return out

    def _paged(
        self,
        request: FakeRequest,
        items: Sequence[Any],
        *,
        optional: bool = False,
        render: Callable[[Any], Any] = lambda item: item,
    ) -> FakeResponse:
        """One page of `items` (rendered after slicing) with pagination headers."""
        asked = request.arg("page") is not None or request.arg("limit") is not None
        if optional and not asked:
            return FakeResponse(200, [render(item) for item in items])
        try:
            page = max(1, int(request.arg("page", "1") or 1))
            limit = int(request.arg("limit", "10") or 10)
        except ValueError as exc:
            raise HttpFault(400, {"error": "page and limit are numbers"}) from exc
        limit = max(1, min(self.max_page_size, limit))
        count = max(1, math.ceil(len(items) / limit))
        chunk = [render(item) for item in items[(page - 1) * limit : page * limit]]
        return FakeResponse(
            200,
            chunk,
            {
                "X-Pagination-Page": str(page),
                "X-Pagination-Limit": str(limit),
                "X-Pagination-Page-Count": str(count),
                "X-Pagination-Item-Count": str(len(items)),
            },
        )

    # -- reads ------------------------------------------------------------------------

    def last_activities(self, request: FakeRequest) -> Any:
        """`GET /sync/last_activities`."""
        groups = {
            "movies": ("watched_at", "collected_at", "rated_at", "watchlisted_at",
                       "favorited_at", "commented_at", "paused_at", "hidden_at"),
            "episodes": ("watched_at", "collected_at", "rated_at", "watchlisted_at",
                         "commented_at", "paused_at"),
            "shows": ("rated_at", "watchlisted_at", "favorited_at", "commented_at",
                      "hidden_at", "dropped_at"),
            "seasons": ("rated_at", "watchlisted_at", "commented_at", "hidden_at"),
            "watchlist": ("updated_at",),
            "notes": ("updated_at",),
        }  # fmt: skip
        out: dict[str, Any] = {}
        latest = EPOCH
        for group, names in groups.items():
            out[group] = {}
            for name in names:
                at = self.activities.get(f"{group}.{name}", EPOCH)
                latest = max(latest, at)
                out[group][name] = iso(at)
        out["all"] = iso(latest)
        return out

    def _newest_first(self) -> list[dict[str, Any]]:
        """The history newest first, sorted once per change (fast big histories)."""
        stamp = (len(self.history), id(self.history), self._history_changes)
        if self._sorted_stamp != stamp:
            self._sorted = sorted(
                self.history, key=lambda e: (e["watched_at"], e["id"]), reverse=True
            )
            self._sorted_stamp = stamp
        return self._sorted

    def _plays(self) -> dict[Key, list[datetime]]:
        plays: dict[Key, list[datetime]] = {}
        for entry in self.history:
            plays.setdefault(entry["key"], []).append(entry["watched_at"])
        return plays

    def watched(self, request: FakeRequest) -> Any:
        """`GET /sync/watched/{movies|shows}` (everything, not paginated)."""
        plays = self._plays()
        if request.params["type"] == "movies":
            return [
                {
                    "plays": len(times),
                    "last_watched_at": iso(max(times)),
                    "last_updated_at": iso(self.updated.get(key, EPOCH)),
                    "movie": self._movie(key[1]),
                }
                for key, times in sorted(plays.items())
                if key[0] == "movie"
            ]
        shows: dict[int, dict[int, dict[int, list[datetime]]]] = {}
        for key, times in plays.items():
            if key[0] == "episode":
                _, show, season, number = key
                shows.setdefault(show, {}).setdefault(season, {})[number] = times
        no_seasons = "noseasons" in (request.arg("extended") or "")
        out = []
        for show, seasons in sorted(shows.items()):
            every = [t for eps in seasons.values() for ts in eps.values() for t in ts]
            item: dict[str, Any] = {
                "plays": len(every),
                "last_watched_at": iso(max(every)),
                "last_updated_at": iso(self.updated.get(("show", show), EPOCH)),
                "reset_at": None,
                "show": self._show(show),
            }
            if not no_seasons:
                item["seasons"] = [
                    {
                        "number": season,
                        "episodes": [
                            {
                                "number": number,
                                "plays": len(ts),
                                "last_watched_at": iso(max(ts)),
                            }
                            for number, ts in sorted(eps.items())
                        ],
                    }
                    for season, eps in sorted(seasons.items())
                ]
            out.append(item)
        return out

    def get_history(self, request: FakeRequest) -> Any:
        """`GET /sync/history[/{type}[/{id}]]`, newest first, paginated."""
        kind = request.params.get("type")
        wanted = int(request.params["id"]) if request.params.get("id") else None
        start = request.arg("start_at")
        end = request.arg("end_at")
        lo = parse_iso(start) if start else None
        hi = parse_iso(end) if end else None
        chosen = []
        for entry in self._newest_first():
            key = entry["key"]
            if kind == "movies" and key[0] != "movie":
                continue
            if kind in ("shows", "seasons", "episodes") and key[0] != "episode":
                continue
            if wanted is not None and key[1] != wanted:
                continue
            if lo is not None and entry["watched_at"] < lo:
                continue
            if hi is not None and entry["watched_at"] > hi:
                continue
            chosen.append(entry)
        return self._paged(
            request,
            chosen,
            render=lambda entry: {
                "id": entry["id"],
                "watched_at": iso(entry["watched_at"]),
                "action": entry["action"],
                **self._typed(entry["key"]),
            },
        )

    def _listing(
        self, request: FakeRequest, source: Mapping[Key, Any], render: Any
    ) -> FakeResponse:
        kind = request.params.get("type")
        singular = {"movies": "movie", "shows": "show", "seasons": "season",
                    "episodes": "episode"}  # fmt: skip
        items = [
            render(key, value) | self._typed(key)
            for key, value in sorted(source.items(), key=lambda kv: repr(kv[0]))
            if kind in (None, "all") or key[0] == singular.get(kind or "")
        ]
        return self._paged(request, items, optional=True)

    def get_ratings(self, request: FakeRequest) -> Any:
        """`GET /sync/ratings[/{type}[/{rating}]]` (pagination optional)."""
        return self._listing(
            request,
            self.ratings,
            lambda key, v: {"rated_at": iso(v[1]), "rating": v[0]},
        )

    def get_watchlist(self, request: FakeRequest) -> Any:
        """`GET /sync/watchlist[/{type}[/{sort}]]` (pagination optional)."""
        ranked = dict(enumerate(self.watchlist, start=1))
        ranks = {key: rank for rank, key in ranked.items()}
        return self._listing(
            request,
            self.watchlist,
            lambda key, v: {
                "rank": ranks[key],
                "id": v["id"],
                "listed_at": iso(v["listed_at"]),
                "notes": v["notes"],
            },
        )

    def get_collection(self, request: FakeRequest) -> Any:
        """`GET /sync/collection/{movies|shows}`."""
        if request.params["type"] == "movies":
            return [
                {
                    "collected_at": iso(at),
                    "updated_at": iso(at),
                    "movie": self._movie(key[1]),
                }
                for key, at in sorted(self.collection.items())
                if key[0] == "movie"
            ]
        shows: dict[int, dict[int, dict[int, datetime]]] = {}
        for key, at in self.collection.items():
            if key[0] == "episode":
                shows.setdefault(key[1], {}).setdefault(key[2], {})[key[3]] = at
        return [
            {
                "last_collected_at": iso(
                    max(a for s in seasons.values() for a in s.values())
                ),
                "last_updated_at": iso(self.updated.get(("show", show), EPOCH)),
                "show": self._show(show),
                "seasons": [
                    {
                        "number": season,
                        "episodes": [
                            {"number": n, "collected_at": iso(a), "metadata": {}}
                            for n, a in sorted(eps.items())
                        ],
                    }
                    for season, eps in sorted(seasons.items())
                ],
            }
            for show, seasons in sorted(shows.items())
        ]

    def by_id(self, request: FakeRequest) -> Any:
        """`GET /search/{id_type}/{id}?type=`."""
        id_type = request.params["id_type"]
        value = request.params["id"]
        types = (request.arg("type") or "movie,show,episode").split(",")
        results: list[dict[str, Any]] = []
        if "movie" in types:
            results += [
                {"type": "movie", "score": None, "movie": self._movie(i)}
                for i, m in self.movies.items()
                if str(m["ids"].get(id_type)) == value
            ]
        if "show" in types:
            results += [
                {"type": "show", "score": None, "show": self._show(i)}
                for i, s in self.shows.items()
                if str(s["ids"].get(id_type)) == value
            ]
        if "episode" in types:
            for show_id, show in self.shows.items():
                for number, season in show["seasons"].items():
                    for e, ep in season["episodes"].items():
                        if str(ep["ids"].get(id_type)) == value:
                            results.append(
                                {
                                    "type": "episode",
                                    "score": None,
                                    "episode": self._episode(show_id, number, e),
                                    "show": self._show(show_id),
                                }
                            )
        return self._paged(request, results)

    def by_text(self, request: FakeRequest) -> Any:
        """`GET /search/{types}?query=`: case-insensitive title match."""
        needle = (request.arg("query") or "").casefold()
        types = request.params["types"].split(",")
        results: list[dict[str, Any]] = []
        if "movie" in types:
            results += [
                {"type": "movie", "score": 100.0, "movie": self._movie(i)}
                for i, m in self.movies.items()
                if needle in m["title"].casefold()
            ]
        if "show" in types:
            results += [
                {"type": "show", "score": 100.0, "show": self._show(i)}
                for i, s in self.shows.items()
                if needle in s["title"].casefold()
            ]
        return self._paged(request, results)

    def _lookup(self, table: Mapping[int, dict[str, Any]], value: str) -> int:
        for trakt_id, item in table.items():
            if str(trakt_id) == value or item["ids"].get("slug") == value:
                return trakt_id
        raise HttpFault(404, {"error": "not found"})

    def movie_summary(self, request: FakeRequest) -> Any:
        """`GET /movies/{id}`."""
        return self._movie(self._lookup(self.movies, request.params["id"]))

    def show_summary(self, request: FakeRequest) -> Any:
        """`GET /shows/{id}`."""
        return self._show(self._lookup(self.shows, request.params["id"]))

    def show_seasons(self, request: FakeRequest) -> Any:
        """`GET /shows/{id}/seasons[?extended=episodes]`."""
        show_id = self._lookup(self.shows, request.params["id"])
        episodes = "episodes" in (request.arg("extended") or "")
        out = []
        for number, season in sorted(self.shows[show_id]["seasons"].items()):
            item: dict[str, Any] = {"number": number, "ids": dict(season["ids"])}
            if episodes:
                item["episodes"] = [
                    self._episode(show_id, number, e)
                    for e in sorted(season["episodes"])
                ]
            out.append(item)
        return out

    # -- writes -----------------------------------------------------------------------

    def _find(self, table: Mapping[int, dict[str, Any]], ids: Any) -> int | None:
        if not isinstance(ids, Mapping):
            return None
        for id_type in ("trakt", "slug", "imdb", "tmdb", "tvdb"):
            value = ids.get(id_type)
            if value is None:
                continue
            for trakt_id, item in table.items():
                if item["ids"].get(id_type) == value:
                    return trakt_id
        return None

    def _find_episode(self, ids: Any) -> Key | None:
        if not isinstance(ids, Mapping):
            return None
        for show_id, show in self.shows.items():
            for number, season in show["seasons"].items():
                for e, ep in season["episodes"].items():
                    for id_type in ("trakt", "tvdb", "imdb", "tmdb"):
                        value = ids.get(id_type)
                        if value is not None and ep["ids"].get(id_type) == value:
                            return ("episode", show_id, number, e)
        return None

    def _expand(
        self, body: Any, *, season_level: bool
    ) -> tuple[list[tuple[Key, dict[str, Any]]], dict[str, list[Any]]]:
        """Resolve a bulk body into (key, merged item fields) and `not_found`.

        `season_level`: a season or show without nested parts is itself the target
        (ratings, watchlist); otherwise it stands for all its episodes (history).
        """
        if not isinstance(body, Mapping):
            raise HttpFault(400, {"error": "body must be a JSON object"})
        found: list[tuple[Key, dict[str, Any]]] = []
        missing: dict[str, list[Any]] = {t: [] for t in TYPES}
        for item in body.get("movies") or ():
            movie = self._find(self.movies, item.get("ids"))
            if movie is None:
                missing["movies"].append(item)
            else:
                found.append((("movie", movie), dict(item)))
        for item in body.get("shows") or ():
            show_id = self._find(self.shows, item.get("ids"))
            if show_id is None:
                missing["shows"].append(item)
                continue
            tree = self.shows[show_id]["seasons"]
            top = {k: v for k, v in item.items() if k not in ("ids", "seasons")}
            seasons = item.get("seasons")
            if not seasons:
                if season_level:
                    found.append((("show", show_id), top))
                else:
                    for s, season in sorted(tree.items()):
                        for e in sorted(season["episodes"]):
                            found.append((("episode", show_id, s, e), dict(top)))
                continue
            lost: list[dict[str, Any]] = []
            for season in seasons:
                number = season.get("number")
                mid = top | {
                    k: v for k, v in season.items() if k not in ("number", "episodes")
                }
                episodes = season.get("episodes")
                if number not in tree:
                    lost.append(
                        {
                            "number": number,
                            **({"episodes": episodes} if episodes else {}),
                        }
                    )
                    continue
                if episodes is None:
                    if season_level:
                        found.append((("season", show_id, number), mid))
                    else:
                        for e in sorted(tree[number]["episodes"]):
                            found.append((("episode", show_id, number, e), dict(mid)))
                    continue
                gone = []
                for episode in episodes:
                    e = episode.get("number")
                    if e in tree[number]["episodes"]:
                        fields = mid | {
                            k: v for k, v in episode.items() if k != "number"
                        }
                        found.append((("episode", show_id, number, e), fields))
                    else:
                        gone.append({"number": e})
                if gone:
                    lost.append({"number": number, "episodes": gone})
            if lost:
                missing["shows"].append({"ids": item.get("ids"), "seasons": lost})
        for item in body.get("episodes") or ():
            key = self._find_episode(item.get("ids"))
            if key is None:
                missing["episodes"].append(item)
            else:
                found.append((key, dict(item)))
        for item in body.get("seasons") or ():
            missing["seasons"].append(item)  # season ids are not indexed here
        return found, missing

    @staticmethod
    def _counts(keys: Iterable[Key], types: Sequence[str] = TYPES) -> dict[str, int]:
        plural = {"movie": "movies", "show": "shows", "season": "seasons",
                  "episode": "episodes"}  # fmt: skip
        out = dict.fromkeys(types, 0)
        for key in keys:
            name = plural[key[0]]
            if name in out:
                out[name] += 1
        return out

    def _watched_at(self, value: Any) -> datetime:
        if value in (None, "unknown", "released"):
            return EPOCH if value == "released" else _now()
        try:
            return parse_iso(str(value))
        except ValueError as exc:
            raise HttpFault(400, {"error": f"bad watched_at {value!r}"}) from exc

    def add_history(self, request: FakeRequest) -> Any:
        """`POST /sync/history` (no deduplication, like Trakt)."""
        found, missing = self._expand(request.json(), season_level=False)
        added: list[Key] = []
        for key, fields in found:
            entry = {
                "id": next(self._ids),
                "watched_at": self._watched_at(fields.get("watched_at")),
                "action": "watch",
                "key": key,
            }
            self.history.append(entry)
            self._touch(key, "watched_at")
            added.append(key)
        return FakeResponse(
            201,
            {
                "added": self._counts(added, ("movies", "episodes")),
                "updated": {"movies": 0, "episodes": 0},
                "not_found": missing | {"ids": []},
            },
        )

    def remove_history(self, request: FakeRequest) -> Any:
        """`POST /sync/history/remove` by history ids and/or items."""
        body = request.json() or {}
        ids = [i for i in body.get("ids") or () if isinstance(i, int)]
        known = {e["id"] for e in self.history}
        found, missing = self._expand(
            {k: v for k, v in body.items() if k != "ids"}, season_level=False
        )
        keys = {key for key, _ in found}
        removed = [e for e in self.history if e["id"] in set(ids) or e["key"] in keys]
        self.history = [e for e in self.history if e not in removed]
        for entry in removed:
            self._touch(entry["key"], "watched_at")
        return {
            "deleted": self._counts(
                (e["key"] for e in removed), ("movies", "episodes")
            ),
            "not_found": missing | {"ids": [i for i in ids if i not in known]},
        }

    def add_collection(self, request: FakeRequest) -> Any:
        """`POST /sync/collection` (a show or season stands for its episodes)."""
        found, missing = self._expand(request.json(), season_level=False)
        added: list[Key] = []
        existing: list[Key] = []
        for key, fields in found:
            if key in self.collection:
                existing.append(key)
                continue
            at = fields.get("collected_at")
            self.collect(key, parse_iso(at) if at else None)
            added.append(key)
        pair = ("movies", "episodes")
        return FakeResponse(
            201,
            {
                "added": self._counts(added, pair),
                "updated": {"movies": 0, "episodes": 0},
                "existing": self._counts(existing, pair),
                "not_found": missing,
            },
        )

    def remove_collection(self, request: FakeRequest) -> Any:
        """`POST /sync/collection/remove`."""
        found, missing = self._expand(request.json(), season_level=False)
        deleted = [key for key, _ in found if self.collection.pop(key, None)]
        for key in deleted:
            self._touch(key, "collected_at")
        return {
            "deleted": self._counts(deleted, ("movies", "episodes")),
            "not_found": missing,
        }

    def add_ratings(self, request: FakeRequest) -> Any:
        """`POST /sync/ratings`."""
        found, missing = self._expand(request.json(), season_level=True)
        for _key, fields in found:
            rating = fields.get("rating")
            if not isinstance(rating, int) or not 1 <= rating <= 10:
                raise HttpFault(422, {"error": f"rating must be 1-10, got {rating!r}"})
        for key, fields in found:
            at = fields.get("rated_at")
            self.rate(key, fields["rating"], parse_iso(at) if at else None)
        return FakeResponse(
            201,
            {"added": self._counts(k for k, _ in found), "not_found": missing},
        )

    def remove_ratings(self, request: FakeRequest) -> Any:
        """`POST /sync/ratings/remove`."""
        found, missing = self._expand(request.json(), season_level=True)
        deleted = [key for key, _ in found if self.ratings.pop(key, None)]
        for key in deleted:
            self._touch(key, "rated_at")
        return {"deleted": self._counts(deleted), "not_found": missing}

    def add_watchlist(self, request: FakeRequest) -> Any:
        """`POST /sync/watchlist` (notes kept, replaced or cleared per item)."""
        found, missing = self._expand(request.json(), season_level=True)
        added: list[Key] = []
        existing: list[Key] = []
        for key, fields in found:
            notes = fields.get("notes")
            if isinstance(notes, str) and len(notes) > 500:
                raise HttpFault(422, {"error": "notes are limited to 500 characters"})
            entry = self.watchlist.get(key)
            if entry is None:
                self.list_item(key, notes)
                added.append(key)
                continue
            existing.append(key)
            if "notes" in fields:
                entry["notes"] = notes
                self._touch(key, "watchlisted_at")
        return FakeResponse(
            201,
            {
                "added": self._counts(added),
                "existing": self._counts(existing),
                "not_found": missing,
                "list": {"updated_at": iso(_now()), "item_count": len(self.watchlist)},
            },
        )

    def remove_watchlist(self, request: FakeRequest) -> Any:
        """`POST /sync/watchlist/remove`."""
        found, missing = self._expand(request.json(), season_level=True)
        deleted = [key for key, _ in found if self.watchlist.pop(key, None)]
        for key in deleted:
            self._touch(key, "watchlisted_at")
        return {
            "deleted": self._counts(deleted),
            "not_found": missing,
            "list": {"updated_at": iso(_now()), "item_count": len(self.watchlist)},
        }
