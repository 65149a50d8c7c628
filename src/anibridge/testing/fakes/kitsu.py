"""A fake Kitsu API (JSON:API, `/api/edge`) and its OAuth endpoint on loopback.

Built from Kitsu's published API documentation (hummingbird-me/api-docs) and the
resource definitions of its server (attributes, filters, paginators), with the
shapes of JSON:API (https://jsonapi.org/format/):

- `POST /api/oauth/token`: ``grant_type=password`` (username or e-mail +
  password) and ``grant_type=refresh_token`` (rotating refresh tokens); tokens
  expire after `token_lifetime` seconds.
- `GET /api/edge/users?filter[self]=true` (identity), `GET /api/edge/anime`
  (``filter[id]`` comma lists, ``filter[text]``), `GET /api/edge/anime/{id}`,
  `GET /api/edge/mappings` (``filter[externalSite]``, ``filter[externalId]``
  comma lists, ``include=item``), `GET|POST /api/edge/library-entries`
  (``filter[userId|animeId|id|kind|status|since]``, ``sort``, ``include`` of
  ``anime``, ``anime.mappings``, ``media``), `PATCH|DELETE
  /api/edge/library-entries/{id}`.
- Paging: ``page[limit]`` / ``page[offset]``; default 10, at most 20 — except
  library entries, whose paginator allows 500 — anything else is a 400 error
  object. ``links`` carry ``first``/``prev``/``next``/``last`` as full URLs and
  ``meta.count`` the total.
- Writes need ``Content-Type: application/vnd.api+json`` (415 otherwise) and a
  bearer token (401); validation failures are 422 error objects with a
  ``source.pointer``: ``ratingTwenty`` 2-20 or null, ``progress`` not beyond the
  anime's episode count, ``reconsumeCount`` at most 50, one entry per anime and user
  ("has already been taken"). As on Kitsu, marking an entry completed sets its
  progress to the episode count, and reaching the last episode without a status
  change completes it.

Request kinds for `count()`: ``"auth"``, ``"identity"``, ``"write"``, ``"data"``.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from anibridge.dates import parse_iso
from anibridge.http.clock import Clock
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.server import (
    FakeLimit,
    FakeRequest,
    FakeResponse,
    FakeService,
    HttpFault,
)

__all__ = ["KitsuFake"]

API = "/api/edge"
MEDIA_TYPE = "application/vnd.api+json"
STATUSES = ("current", "planned", "completed", "on_hold", "dropped")
_SUBTYPES = {
    "TV": "TV",
    "TV_SHORT": "TV",
    "MOVIE": "movie",
    "SPECIAL": "special",
    "OVA": "OVA",
    "ONA": "ONA",
    "MUSIC": "music",
}
_ATTRIBUTES = (
    "status",
    "progress",
    "reconsuming",
    "reconsumeCount",
    "notes",
    "private",
    "ratingTwenty",
    "startedAt",
    "finishedAt",
    "volumesOwned",
)


def _error(
    status: int, title: str, detail: str, pointer: str | None = None
) -> HttpFault:
    error: dict[str, Any] = {
        "title": title,
        "detail": detail,
        "code": str(status),
        "status": str(status),
    }
    if pointer:
        error["source"] = {"pointer": pointer}
    return HttpFault(status, {"errors": [error]}, {"Content-Type": MEDIA_TYPE})


def _iso(at: datetime) -> str:
    utc = at.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


class KitsuFake(FakeService):
    """Kitsu with one user, their anime library and OAuth tokens.

    Args:
        media: The catalog (`FakeMedia` with a `kitsu_id`; MAL, AniList, AniDB and
            TVDB (series, season) ids become the anime's mappings).
        time_scale: Real seconds per service second.
        per_minute: Optional request limit (Kitsu publishes none; off by default),
            answered with 429 and ``Retry-After``.
        username: The user's name (the password grant also accepts `email`).
        email: The user's e-mail.
        password: The user's password.
        user_id: The user's id.
        token_lifetime: ``expires_in`` of issued tokens, in seconds.
    """

    def __init__(
        self,
        *,
        media: Iterable[FakeMedia] = (),
        time_scale: float = 1.0,
        clock: Clock | None = None,
        per_minute: int | None = None,
        username: str = "fake-kitsu-user",
        email: str = "user@example.org",
        password: str = "hunter2-kitsu",
        user_id: int = 4242,
        token_lifetime: int = 2_592_000,
    ) -> None:
        """Create the fake; call `start()` (or use `with`) to serve."""
        limits = [FakeLimit(per_minute, 60.0, name="minute")] if per_minute else []
        super().__init__(time_scale=time_scale, limits=limits, clock=clock)
        self.anime: dict[int, FakeMedia] = {
            m.kitsu_id: m for m in media if m.kitsu_id is not None
        }
        self.extra_mappings: dict[int, list[tuple[str, str]]] = {}
        self.only_mappings: dict[int, list[tuple[str, str]]] = {}
        self.entries: dict[int, dict[str, Any]] = {}  # entry id -> entry
        self.username, self.email, self.password = username, email, password
        self.user_id = user_id
        self.token_lifetime = token_lifetime
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: set[str] = set()
        self.refreshes = 0
        self._next_id = itertools.count(70_000_001)
        self._last: datetime | None = None
        r = self.route
        r("POST", r"/api/oauth/token", self._token, kind="auth")
        r("GET", rf"{API}/users", self._users, kind="identity")
        r("GET", rf"{API}/anime", self._anime_list)
        r("GET", rf"{API}/anime/(?P<id>\d+)", self._anime_one)
        r("GET", rf"{API}/mappings", self._mappings)
        r("GET", rf"{API}/library-entries", self._library)
        r("POST", rf"{API}/library-entries", self._create, kind="write")
        r("PATCH", rf"{API}/library-entries/(?P<id>\d+)", self._update, kind="write")
        r("DELETE", rf"{API}/library-entries/(?P<id>\d+)", self._delete, kind="write")

    # -- test helpers ---------------------------------------------------------------

    def issue_tokens(self) -> dict[str, Any]:
        """A valid token answer, as the password grant would give.

        Returns:
            The token payload.
        """
        access = "kitsu-at-" + secrets.token_hex(8)
        refresh = "kitsu-rt-" + secrets.token_hex(8)
        with self._lock:
            self.access_tokens[access] = time.time() + self.token_lifetime
            self.refresh_tokens.add(refresh)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.token_lifetime,
            "refresh_token": refresh,
            "scope": "public",
            "created_at": int(time.time()),
        }

    def provider_config(self, **extra: Any) -> dict[str, Any]:
        """A `KitsuProvider` config signed in to this fake.

        Returns:
            The config mapping (`extra` keys override).
        """
        tokens = self.issue_tokens()
        config: dict[str, Any] = {
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "expires_at": tokens["created_at"] + tokens["expires_in"],
            "base_url": self.base_url + API,
            "clock": self.clock,
        }
        config.update(extra)
        return config

    def expire_access_tokens(self) -> None:
        """Every issued access token expires now (refresh tokens stay valid)."""
        with self._lock:
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def add_entry(self, anime_id: int, **attributes: Any) -> dict[str, Any]:
        """Put an anime on the library directly (attribute names as on the wire).

        Returns:
            The stored entry.
        """
        with self._lock:
            entry = self._new(anime_id)
            entry["attributes"].update(attributes)
            self.entries[entry["id"]] = entry
            return entry

    def entry_for(self, anime_id: int) -> dict[str, Any] | None:
        """The attributes of the library entry of an anime, if any.

        Returns:
            The attributes, or None.
        """
        with self._lock:
            for entry in self.entries.values():
                if entry["anime"] == anime_id:
                    return dict(entry["attributes"])
        return None

    # -- helpers ----------------------------------------------------------------------

    def _stamp(self) -> datetime:
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(milliseconds=1)
        self._last = now
        return now

    def _new(self, anime_id: int) -> dict[str, Any]:
        stamp = _iso(self._stamp())
        return {
            "id": next(self._next_id),
            "anime": anime_id,
            "attributes": {
                "createdAt": stamp,
                "updatedAt": stamp,
                "status": "planned",
                "progress": 0,
                "volumesOwned": 0,
                "reconsuming": False,
                "reconsumeCount": 0,
                "notes": None,
                "private": False,
                "reactionSkipped": "unskipped",
                "progressedAt": None,
                "startedAt": None,
                "finishedAt": None,
                "ratingTwenty": None,
            },
        }

    def _authorized(self, request: FakeRequest) -> bool:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        expires = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        return expires is not None and expires > time.time()

    def _require_user(self, request: FakeRequest) -> None:
        if not self._authorized(request):
            raise _error(401, "Unauthorized", "a valid bearer token is required")

    def _page(self, request: FakeRequest, maximum: int) -> tuple[int, int]:
        try:
            limit = int(request.arg("page[limit]", "10") or 10)
            offset = int(request.arg("page[offset]", "0") or 0)
        except ValueError:
            raise _error(400, "Invalid page value", "page values are numbers") from None
        if limit < 1 or limit > maximum or offset < 0:
            raise _error(
                400,
                "Invalid page value",
                f"Limit exceeds maximum page size of {maximum}.",
                None,
            )
        return limit, offset

    def _links(
        self, request: FakeRequest, limit: int, offset: int, total: int
    ) -> dict[str, str]:
        base = f"{self.base_url}{request.path}"
        params = {k: v[0] for k, v in request.query.items()}

        def at(n: int) -> str:
            page = {"page[limit]": limit, "page[offset]": n}
            return f"{base}?{urlencode(params | page)}"

        links = {"first": at(0), "last": at(max(0, (total - 1) // limit * limit))}
        if offset > 0:
            links["prev"] = at(max(0, offset - limit))
        if offset + limit < total:
            links["next"] = at(offset + limit)
        return links

    def set_mappings(self, anime_id: int, rows: Iterable[tuple[str, str]]) -> None:
        """Replace the mappings Kitsu knows for an anime with (site, id) rows."""
        with self._lock:
            self.only_mappings[anime_id] = list(rows)

    def _mapping_rows(self, anime_id: int) -> list[tuple[str, str, str]]:
        """(mapping id, site, external id) of one anime."""
        media = self.anime[anime_id]
        rows: list[tuple[str, str]] = []
        if anime_id in self.only_mappings:
            return [
                (f"{anime_id}{n:02d}", site, value)
                for n, (site, value) in enumerate(self.only_mappings[anime_id])
            ]
        if media.mal_id is not None:
            rows.append(("myanimelist/anime", str(media.mal_id)))
        rows.append(("anilist/anime", str(media.anilist_id)))
        if media.anidb_id is not None:
            rows.append(("anidb", str(media.anidb_id)))
        if media.tvdb is not None:
            rows.append(("thetvdb/series", str(media.tvdb[0])))
            rows.append(("thetvdb", f"{media.tvdb[0]}/{media.tvdb[1]}"))
        rows.extend(self.extra_mappings.get(anime_id, ()))
        return [
            (f"{anime_id}{n:02d}", site, value) for n, (site, value) in enumerate(rows)
        ]

    def _anime_json(self, anime_id: int, *, mappings: bool = False) -> dict[str, Any]:
        media = self.anime[anime_id]
        rel: dict[str, Any] = {
            "links": {"related": f"{self.base_url}{API}/anime/{anime_id}/mappings"}
        }
        if mappings:
            rel["data"] = [
                {"type": "mappings", "id": mid}
                for mid, _, _ in self._mapping_rows(anime_id)
            ]
        return {
            "id": str(anime_id),
            "type": "anime",
            "links": {"self": f"{self.base_url}{API}/anime/{anime_id}"},
            "attributes": {
                "slug": "-".join(media.title.lower().split()),
                "canonicalTitle": media.title,
                "titles": {"en": media.title, "en_jp": media.title},
                "subtype": _SUBTYPES.get(media.format, "TV"),
                "episodeCount": media.episodes,
                "status": "finished",
            },
            "relationships": {"mappings": rel},
        }

    def _mapping_json(
        self, row: tuple[str, str, str], anime_id: int, *, item: bool
    ) -> dict:
        mid, site, value = row
        rel: dict[str, Any] = {
            "links": {"related": f"{self.base_url}{API}/mappings/{mid}/item"}
        }
        if item:
            rel["data"] = {"type": "anime", "id": str(anime_id)}
        return {
            "id": mid,
            "type": "mappings",
            "attributes": {"externalSite": site, "externalId": value},
            "relationships": {"item": rel},
        }

    def _entry_json(self, entry: Mapping[str, Any], *, anime: bool) -> dict[str, Any]:
        a = dict(entry["attributes"])
        twenty = a.get("ratingTwenty")
        a["rating"] = None if twenty is None else f"{twenty / 4:.1f}"
        anime_rel: dict[str, Any] = {
            "links": {
                "related": f"{self.base_url}{API}/library-entries/{entry['id']}/anime"
            }
        }
        if anime:
            anime_rel["data"] = {"type": "anime", "id": str(entry["anime"])}
        return {
            "id": str(entry["id"]),
            "type": "libraryEntries",
            "links": {"self": f"{self.base_url}{API}/library-entries/{entry['id']}"},
            "attributes": a,
            "relationships": {
                "user": {
                    "links": {"related": f"{self.base_url}{API}/users/{self.user_id}"}
                },
                "anime": anime_rel,
            },
        }

    @staticmethod
    def _ids(value: str | None) -> set[str]:
        return {v for v in (value or "").split(",") if v}

    # -- auth -------------------------------------------------------------------------

    def _token(self, request: FakeRequest) -> Any:
        body = request.body.decode()
        content = request.header("Content-Type") or ""
        if "json" in content:
            form = {k: str(v) for k, v in (json.loads(body or "{}") or {}).items()}
        else:
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if grant == "password":
            if form.get("username") not in (self.username, self.email) or (
                form.get("password") != self.password
            ):
                raise HttpFault(
                    400,
                    {
                        "error": "invalid_grant",
                        "error_description": "The provided authorization grant is "
                        "invalid, expired, revoked, does not match the redirection "
                        "URI used in the authorization request, or was issued to "
                        "another client.",
                    },
                )
            return self.issue_tokens()
        if grant == "refresh_token":
            with self._lock:
                if form.get("refresh_token") not in self.refresh_tokens:
                    raise HttpFault(400, {"error": "invalid_grant"})
                self.refresh_tokens.discard(form["refresh_token"])
                self.refreshes += 1
            return self.issue_tokens()
        raise HttpFault(400, {"error": "unsupported_grant_type"})

    # -- reads ------------------------------------------------------------------------

    def _users(self, request: FakeRequest) -> Any:
        if request.arg("filter[self]") != "true":
            raise _error(
                400, "Filter not allowed", "this fake serves filter[self] only"
            )
        self._require_user(request)
        return {
            "data": [
                {
                    "id": str(self.user_id),
                    "type": "users",
                    "attributes": {"name": self.username, "slug": self.username},
                }
            ],
            "meta": {"count": 1},
        }

    def _anime_list(self, request: FakeRequest) -> Any:
        limit, offset = self._page(request, 20)
        wanted = self._ids(request.arg("filter[id]"))
        text = (request.arg("filter[text]") or "").strip().lower()
        include = self._ids(request.arg("include"))
        with self._lock:
            hits = [
                i
                for i in sorted(self.anime)
                if (not wanted or str(i) in wanted)
                and (not text or text in self.anime[i].title.lower())
            ]
            window = hits[offset : offset + limit]
            data = [self._anime_json(i, mappings="mappings" in include) for i in window]
            included = [
                self._mapping_json(row, i, item=False)
                for i in window
                if "mappings" in include
                for row in self._mapping_rows(i)
            ]
        out: dict[str, Any] = {
            "data": data,
            "meta": {"count": len(hits)},
            "links": self._links(request, limit, offset, len(hits)),
        }
        if included:
            out["included"] = included
        return out

    def _anime_one(self, request: FakeRequest) -> Any:
        anime_id = int(request.params["id"])
        if anime_id not in self.anime:
            raise _error(
                404,
                "Record not found",
                f"The record identified by {anime_id} could not be found.",
            )
        return {"data": self._anime_json(anime_id)}

    def _mappings(self, request: FakeRequest) -> Any:
        limit, offset = self._page(request, 20)
        site = request.arg("filter[externalSite]")
        values = self._ids(request.arg("filter[externalId]"))
        include = "item" in self._ids(request.arg("include"))
        with self._lock:
            rows = [
                (row, anime_id)
                for anime_id in sorted(self.anime)
                for row in self._mapping_rows(anime_id)
                if (site is None or row[1] == site) and (not values or row[2] in values)
            ]
            window = rows[offset : offset + limit]
            data = [self._mapping_json(row, a, item=include) for row, a in window]
            included = (
                list({a: self._anime_json(a) for _, a in window}.values())
                if include
                else []
            )
        out: dict[str, Any] = {
            "data": data,
            "meta": {"count": len(rows)},
            "links": self._links(request, limit, offset, len(rows)),
        }
        if included:
            out["included"] = included
        return out

    def _library(self, request: FakeRequest) -> Any:
        limit, offset = self._page(request, 500)
        user = request.arg("filter[userId]")
        if user is None:
            self._require_user(request)
        elif user != str(self.user_id):
            return {"data": [], "meta": {"count": 0}, "links": {}}
        kind = request.arg("filter[kind]")
        if kind not in (None, "anime"):
            return {"data": [], "meta": {"count": 0}, "links": {}}
        anime_ids = self._ids(request.arg("filter[animeId]"))
        entry_ids = self._ids(request.arg("filter[id]"))
        statuses = self._ids(request.arg("filter[status]"))
        since_text = request.arg("filter[since]")
        since = parse_iso(since_text) if since_text else None
        include = self._ids(request.arg("include"))
        sort = request.arg("sort") or "id"
        with self._lock:
            rows = [
                e
                for e in self.entries.values()
                if (not anime_ids or str(e["anime"]) in anime_ids)
                and (not entry_ids or str(e["id"]) in entry_ids)
                and (not statuses or e["attributes"]["status"] in statuses)
                and (since is None or parse_iso(e["attributes"]["updatedAt"]) >= since)
            ]
            key = sort.lstrip("-")
            if key not in ("id", "updatedAt", "createdAt", "progress"):
                raise _error(400, "Invalid sort criteria", f"{key} is not a valid sort")
            rows.sort(
                key=lambda e: (
                    e["id"] if key == "id" else e["attributes"][key],
                    e["id"],
                ),
                reverse=sort.startswith("-"),
            )
            window = rows[offset : offset + limit]
            with_anime = (
                bool({"anime", "media"} & include) or "anime.mappings" in include
            )
            data = [self._entry_json(e, anime=with_anime) for e in window]
            included: list[dict[str, Any]] = []
            if with_anime:
                mappings = "anime.mappings" in include
                seen: dict[int, None] = dict.fromkeys(e["anime"] for e in window)
                for anime_id in seen:
                    if anime_id in self.anime:
                        included.append(self._anime_json(anime_id, mappings=mappings))
                        if mappings:
                            included.extend(
                                self._mapping_json(row, anime_id, item=False)
                                for row in self._mapping_rows(anime_id)
                            )
        out: dict[str, Any] = {
            "data": data,
            "meta": {"statusCounts": {}, "count": len(rows)},
            "links": self._links(request, limit, offset, len(rows)),
        }
        if included:
            out["included"] = included
        return FakeResponse(200, json.dumps(out), {"Content-Type": MEDIA_TYPE})

    # -- writes -----------------------------------------------------------------------

    def _document(self, request: FakeRequest) -> dict[str, Any]:
        if MEDIA_TYPE not in (request.header("Content-Type") or ""):
            raise _error(415, "Unsupported media type", f"use {MEDIA_TYPE}")
        self._require_user(request)
        try:
            body = request.json()
        except ValueError:
            raise _error(400, "Bad Request", "the body is not JSON") from None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "libraryEntries":
            raise _error(400, "Invalid resource", "data.type must be libraryEntries")
        return data

    def _apply(self, entry: dict[str, Any], attributes: Mapping[str, Any]) -> None:
        a = entry["attributes"]
        unknown = set(attributes) - set(_ATTRIBUTES)
        if unknown:
            name = sorted(unknown)[0]
            raise _error(
                400,
                "Param not allowed",
                f"{name} is not allowed.",
                f"/data/attributes/{name}",
            )
        new = dict(a) | dict(attributes)
        if new["status"] not in STATUSES:
            raise _error(
                422,
                "is not a valid status",
                "status - is not included in the list",
                "/data/attributes/status",
            )
        twenty = new.get("ratingTwenty")
        if twenty is not None and (
            not isinstance(twenty, int)
            or isinstance(twenty, bool)
            or not 2 <= twenty <= 20
        ):
            raise _error(
                422,
                "must be between 2 and 20",
                "ratingTwenty - must be between 2 and 20",
                "/data/attributes/ratingTwenty",
            )
        progress = new.get("progress")
        if not isinstance(progress, int) or isinstance(progress, bool) or progress < 0:
            raise _error(
                422, "is invalid", "progress - is invalid", "/data/attributes/progress"
            )
        count = new.get("reconsumeCount")
        if (
            not isinstance(count, int)
            or isinstance(count, bool)
            or not 0 <= count <= 50
        ):
            raise _error(
                422,
                "just... go outside",
                "reconsumeCount - just... go outside",
                "/data/attributes/reconsumeCount",
            )
        for name in ("startedAt", "finishedAt"):
            if new.get(name) is not None:
                try:
                    parse_iso(str(new[name]))
                except ValueError:
                    raise _error(
                        422,
                        "is invalid",
                        f"{name} - is invalid",
                        f"/data/attributes/{name}",
                    ) from None
        total = self.anime[entry["anime"]].episodes
        if total and progress > total:
            raise _error(
                422,
                "cannot exceed length of media",
                "progress - cannot exceed length of media",
                "/data/attributes/progress",
            )
        status_changed = new["status"] != a["status"]
        if status_changed and new["status"] == "completed" and total:
            new["progress"] = total
        elif not status_changed and total and new["progress"] == total:
            new["status"] = "completed"
        stamp = _iso(self._stamp())
        if new["progress"] != a["progress"]:
            new["progressedAt"] = stamp
        new["updatedAt"] = stamp
        a.update(new)

    def _create(self, request: FakeRequest) -> Any:
        data = self._document(request)
        rel = data.get("relationships") or {}
        target = (rel.get("anime") or rel.get("media") or {}).get("data") or {}
        user = (rel.get("user") or {}).get("data") or {}
        if str(user.get("id")) != str(self.user_id):
            raise _error(403, "Forbidden", "You are not allowed to create this entry")
        try:
            anime_id = int(target.get("id"))
        except (TypeError, ValueError):
            raise _error(
                422, "must exist", "anime - must exist", "/data/relationships/anime"
            ) from None
        if anime_id not in self.anime:
            raise _error(
                422, "must exist", "anime - must exist", "/data/relationships/anime"
            )
        with self._lock:
            if any(e["anime"] == anime_id for e in self.entries.values()):
                raise _error(
                    422,
                    "has already been taken",
                    "anime - has already been taken",
                    "/data/attributes/anime",
                )
            entry = self._new(anime_id)
            self._apply(entry, data.get("attributes") or {})
            self.entries[entry["id"]] = entry
            body = {"data": self._entry_json(entry, anime=True)}
        return FakeResponse(201, json.dumps(body), {"Content-Type": MEDIA_TYPE})

    def _update(self, request: FakeRequest) -> Any:
        data = self._document(request)
        entry_id = int(request.params["id"])
        if str(data.get("id")) != str(entry_id):
            raise _error(
                400, "Key is not included in URL", "data.id must match the URL"
            )
        with self._lock:
            entry = self.entries.get(entry_id)
            if entry is None:
                raise _error(
                    404,
                    "Record not found",
                    f"The record identified by {entry_id} could not be found.",
                )
            candidate = json.loads(json.dumps(entry))
            self._apply(candidate, data.get("attributes") or {})
            self.entries[entry_id] = candidate
            body = {"data": self._entry_json(candidate, anime=True)}
        return FakeResponse(200, json.dumps(body), {"Content-Type": MEDIA_TYPE})

    def _delete(self, request: FakeRequest) -> Any:
        self._require_user(request)
        entry_id = int(request.params["id"])
        with self._lock:
            if self.entries.pop(entry_id, None) is None:
                raise _error(
                    404,
                    "Record not found",
                    f"The record identified by {entry_id} could not be found.",
                )
        return FakeResponse(204, None)
