"""A fake AniList GraphQL API on loopback that rejects what the real one rejects.

Every document is parsed and validated against AniList's own schema (its published
introspection result, shipped in `data/`) before anything runs, then executed by
graphql-core's executor over the fake's state, so selections, aliases, variables,
enum values and argument types behave as on `graphql.anilist.co`. What it implements:
`Viewer`, `MediaListCollection` in chunks (status lists + custom lists, entries
hidden from status lists appear only in custom lists), `Page { media, mediaList }`,
`Media`, `MediaList`, `SaveMediaListEntry`, `DeleteMediaListEntry`; and the
implicit-grant sign-in page ``GET /api/v2/oauth/authorize`` (the user's "Approve" or
"Deny" is `authorize_answer`), which redirects with a new token in the fragment.

Errors follow the service's shape: HTTP status = the first error's `status`, body
``{"errors": [{"message", "status", ...}], "data": ...}`` with partial data kept for
aliased mutations. The default limit is the currently degraded 30 requests/minute,
answered with 429 + `Retry-After`; `Viewer`-only documents count as identity calls.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import secrets
import time
from collections.abc import Iterable
from importlib import resources
from typing import Any

import zstandard
from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    build_client_schema,
    execute,
    parse,
    validate,
)
from graphql.execution.values import get_argument_values
from graphql.language import FieldNode

from anibridge.http.clock import Clock
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.server import (
    FakeLimit,
    FakeRequest,
    FakeResponse,
    FakeService,
    HttpFault,
)

__all__ = ["SCORE_FORMATS", "AniListFake", "anilist_schema"]

SCORE_FORMATS = ("POINT_100", "POINT_10_DECIMAL", "POINT_10", "POINT_5", "POINT_3")
STATUSES = ("CURRENT", "PLANNING", "COMPLETED", "DROPPED", "PAUSED", "REPEATING")
_STATUS_LIST_NAMES = {
    "CURRENT": "Watching",
    "PLANNING": "Planning",
    "COMPLETED": "Completed",
    "DROPPED": "Dropped",
    "PAUSED": "Paused",
    "REPEATING": "Rewatching",
}
_SCORE_MAX = {
    "POINT_100": 100,
    "POINT_10_DECIMAL": 10,
    "POINT_10": 10,
    "POINT_5": 5,
    "POINT_3": 3,
}
_SORT_KEYS = {
    "UPDATED_TIME": "updatedAt",
    "ADDED_TIME": "createdAt",
    "MEDIA_ID": "mediaId",
    "PROGRESS": "progress",
    "SCORE": "score",
}
_SMILEY_RAW = {0: 0.0, 1: 35.0, 2: 60.0, 3: 85.0}


@functools.cache
def _introspection() -> dict[str, Any]:
    blob = (
        resources.files("anibridge.testing.fakes")
        .joinpath("data/anilist-schema.json.zst")
        .read_bytes()
    )
    return json.loads(zstandard.ZstdDecompressor().decompress(blob))["data"]


@functools.cache
def anilist_schema(new_score_formats: tuple[str, ...] = ()) -> GraphQLSchema:
    """AniList's schema, built once from the shipped introspection result.

    `new_score_formats` adds values to the `ScoreFormat` enum: AniList adding a
    format one day, which a client must refuse rather than misread.
    """
    data = _introspection()
    if new_score_formats:
        data = copy.deepcopy(data)
        for kind in data["__schema"]["types"]:
            if kind["name"] == "ScoreFormat":
                kind["enumValues"] += [
                    {"name": name, "description": None, "isDeprecated": False,
                     "deprecationReason": None}
                    for name in new_score_formats
                ]  # fmt: skip
    return build_client_schema(data)


def _half_up(value: float) -> int:
    return math.floor(value + 0.5 + 1e-9)


def score_from_raw(raw: float, fmt: str) -> float:
    """A stored 0-100 score as the user's format shows it."""
    if fmt == "POINT_100":
        return float(_half_up(raw))
    if fmt == "POINT_10_DECIMAL":
        return round(raw / 10, 1)
    if fmt == "POINT_10":
        return float(_half_up(raw / 10))
    if fmt == "POINT_5":
        return float(_half_up(raw / 20))
    if raw <= 0:
        return 0.0
    return 1.0 if raw <= 35 else 2.0 if raw <= 60 else 3.0


def raw_from_score(score: float, fmt: str) -> float:
    """A score given in `fmt` as the 0-100 value AniList stores."""
    if fmt == "POINT_100":
        return float(score)
    if fmt in ("POINT_10_DECIMAL", "POINT_10"):
        return float(score) * 10
    if fmt == "POINT_5":
        return float(score) * 20
    return _SMILEY_RAW[_half_up(score)]


def _gql_error(message: str, status: int, **extra: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"status": status, **extra})


class AniListFake(FakeService):
    """AniList's GraphQL endpoint with one authenticated user and their anime list.

    Args:
        media: The catalog the fake knows (`FakeMedia`).
        time_scale: Real seconds per service second (see `FakeService`).
        clock: A clock instead of `time_scale` (see `FakeService`).
        per_minute: Requests allowed per minute (None disables the limit).
        token: The bearer token the fake accepts.
        user_id: The viewer's user id.
        user_name: The viewer's name.
        score_format: The viewer's `mediaListOptions.scoreFormat` (one AniList
            does not have yet is served as a new `ScoreFormat` value).
        custom_lists: Names of the viewer's custom anime lists.
        limit_headers: Send `X-RateLimit-*` on every answer as AniList does (off
            to make a client learn the limit from 429s alone).
    """

    RATE_LIMIT_HEADERS = True

    def __init__(
        self,
        *,
        media: Iterable[FakeMedia] = (),
        time_scale: float = 1.0,
        clock: Clock | None = None,
        per_minute: int | None = 30,
        token: str = "anilist-test-token",
        user_id: int = 5001,
        user_name: str = "fake-user",
        score_format: str = "POINT_100",
        custom_lists: Iterable[str] = (),
        limit_headers: bool = True,
    ) -> None:
        """Create the fake; call `start()` (or use `with`) to serve."""
        limits = [FakeLimit(per_minute, 60.0, name="minute")] if per_minute else []
        super().__init__(time_scale=time_scale, limits=limits, clock=clock)
        # A format outside today's five is served as a new enum value (see
        # `anilist_schema`); scores are then not convertible, as for a real client.
        self.schema = anilist_schema(
            () if score_format in SCORE_FORMATS else (score_format,)
        )
        self.media: dict[int, FakeMedia] = {m.anilist_id: m for m in media}
        self.entries: dict[int, dict[str, Any]] = {}
        self.tokens = {token}
        self.user_id = user_id
        self.user_name = user_name
        self.score_format = score_format
        self.custom_list_names = list(custom_lists)
        self.documents: list[str] = []
        self.limit_headers = limit_headers
        self._next_entry_id = 900_001
        self._last_stamp = 0
        # Sign-in: the registered client, its redirect URL and what the user answers
        # on the authorize page ("approve" or "deny").
        self.client_id = "4242"
        self.redirect_uri = "https://anilist.co/api/v2/oauth/pin"
        self.authorize_answer = "approve"
        self.issued: list[str] = []
        self.route("POST", r"/", self._graphql)
        self.route("GET", r"/api/v2/oauth/authorize", self._authorize, kind="auth")

    # -- test controls ----------------------------------------------------------------

    def add_media(self, *media: FakeMedia) -> None:
        """Make more works known to the catalog."""
        with self._lock:
            for item in media:
                self.media[item.anilist_id] = item

    def add_entry(self, media_id: int, **fields: Any) -> dict[str, Any]:
        """Put an entry on the viewer's list directly (test setup, no request).

        `fields` use the API's names: status, score (in the viewer's format),
        progress, repeat, notes, private, hiddenFromStatusLists, customLists
        (names), startedAt/completedAt (FuzzyDate dicts), updatedAt.

        Returns:
            The stored entry.
        """
        with self._lock:
            entry = self._entry_for_media(media_id, create=True)
            self._apply(entry, fields)
            if "updatedAt" in fields:
                entry["updatedAt"] = int(fields["updatedAt"])
            return entry

    def entry_for(self, media_id: int) -> dict[str, Any] | None:
        """The viewer's entry for `media_id`, if any."""
        with self._lock:
            for entry in self.entries.values():
                if entry["mediaId"] == media_id:
                    return entry
        return None

    def wipe(self) -> None:
        """Delete every list entry (as a user clearing their list would)."""
        with self._lock:
            self.entries.clear()

    def _authorize(self, request: FakeRequest) -> FakeResponse:
        """The implicit grant: 302 to the client's redirect URL with a new token."""
        if request.arg("response_type") != "token":
            raise HttpFault(400, {"error": "unsupported_response_type"})
        if request.arg("client_id") != self.client_id:
            raise HttpFault(400, {"error": "invalid_client"})
        if self.authorize_answer != "approve":
            query = "error=access_denied&error_description=The+user+denied+the+request"
            location = f"{self.redirect_uri}?{query}"
        else:
            token = f"anilist-granted-{secrets.token_hex(16)}"
            with self._lock:
                self.tokens.add(token)
                self.issued.append(token)
            location = (
                f"{self.redirect_uri}#access_token={token}&token_type=Bearer"
                "&expires_in=31536000"
            )
        return FakeResponse(302, b"", {"Location": location})

    def revoke_tokens(self, new_token: str | None = None) -> None:
        """Invalidate every token (an expired/revoked grant), optionally adding one."""
        with self._lock:
            self.tokens = {new_token} if new_token else set()

    def snapshot(self) -> dict[int, dict[str, Any]]:
        """Every entry's user-visible fields keyed by media id (for comparisons)."""
        keep = (
            "status",
            "score",
            "progress",
            "repeat",
            "priority",
            "private",
            "notes",
            "hiddenFromStatusLists",
            "customLists",
            "startedAt",
            "completedAt",
        )
        with self._lock:
            return {
                e["mediaId"]: {k: json.loads(json.dumps(e[k])) for k in keep}
                for e in self.entries.values()
            }

    # -- HTTP -------------------------------------------------------------------------

    def _graphql(self, request: FakeRequest) -> FakeResponse:
        try:
            payload = request.json()
        except ValueError:
            raise HttpFault(
                400, {"errors": [{"message": "Invalid JSON body", "status": 400}]}
            ) from None
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            raise HttpFault(
                400,
                {"errors": [{"message": "Must provide query string.", "status": 400}]},
            )
        source = payload["query"]
        variables = payload.get("variables") or {}
        with self._lock:
            self.documents.append(source)
        try:
            document = parse(source)
        except GraphQLError as exc:
            return self._errors([exc.formatted | {"status": 400}], None)
        problems = validate(self.schema, document)
        if problems:
            return self._errors([p.formatted | {"status": 400} for p in problems], None)
        operation = next(
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        )
        roots = {
            s.name.value
            for s in operation.selection_set.selections
            if hasattr(s, "name")
        }
        if roots == {"Viewer"}:
            request.kind = "identity"
        authed = self._authed(request)
        if operation.operation.value == "mutation" and not authed:
            return self._errors([{"message": "Invalid token", "status": 400}], None)
        if not authed and request.header("Authorization"):
            return self._errors([{"message": "Invalid token", "status": 400}], None)
        with self._lock:
            result = execute(
                self.schema,
                document,
                root_value=_Root(self, authed),
                variable_values=variables,
                operation_name=payload.get("operationName"),
            )
        errors = []
        for error in result.errors or ():
            formatted = dict(error.formatted)
            extensions = formatted.pop("extensions", None) or {}
            formatted["status"] = extensions.pop("status", 500)
            formatted.update(extensions)
            errors.append(formatted)
        if errors:
            return self._errors(errors, result.data)
        return FakeResponse(200, {"data": result.data}, self._limit_headers())

    def _errors(self, errors: list[dict[str, Any]], data: Any) -> FakeResponse:
        status = int(errors[0].get("status") or 400)
        return FakeResponse(
            status, {"errors": errors, "data": data}, self._limit_headers()
        )

    def _limit_headers(self) -> dict[str, str]:
        if not self.limits or not self.limit_headers:
            return {}
        limit = self.limits[0]
        remaining = max(0, limit.limit - len(limit.sent))
        headers = {
            "X-RateLimit-Limit": str(limit.limit),
            "X-RateLimit-Remaining": str(remaining),
        }
        if remaining == 0 and limit.sent:
            wait = max(
                1, math.ceil(limit.period - (self.clock.monotonic() - limit.sent[0]))
            )
            headers["Retry-After"] = str(wait)
            headers["X-RateLimit-Reset"] = str(int(time.time()) + wait)
        return headers

    def _authed(self, request: FakeRequest) -> bool:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        return scheme.lower() == "bearer" and token in self.tokens

    # -- state ------------------------------------------------------------------------

    def _stamp(self) -> int:
        now = int(time.time())
        self._last_stamp = max(now, self._last_stamp)
        return self._last_stamp

    def _entry_for_media(self, media_id: int, *, create: bool) -> dict[str, Any]:
        for entry in self.entries.values():
            if entry["mediaId"] == media_id:
                return entry
        if media_id not in self.media:
            raise _gql_error("Not Found.", 404)
        if not create:
            raise _gql_error("Not Found.", 404)
        stamp = self._stamp()
        entry = {
            "id": self._next_entry_id,
            "mediaId": media_id,
            "status": "CURRENT",
            "score": 0.0,
            "progress": 0,
            "repeat": 0,
            "priority": 0,
            "private": False,
            "notes": None,
            "hiddenFromStatusLists": False,
            "customLists": [],
            "startedAt": {"year": None, "month": None, "day": None},
            "completedAt": {"year": None, "month": None, "day": None},
            "updatedAt": stamp,
            "createdAt": stamp,
        }
        self._next_entry_id += 1
        self.entries[entry["id"]] = entry
        return entry

    def _apply(self, entry: dict[str, Any], args: dict[str, Any]) -> None:
        problems: dict[str, list[str]] = {}
        fmt = self.score_format
        if "status" in args and args["status"] is not None:
            if args["status"] not in STATUSES:
                problems["status"] = ["The selected status is invalid."]
            else:
                entry["status"] = args["status"]
        if args.get("scoreRaw") is not None:
            raw = args["scoreRaw"]
            if not 0 <= raw <= 100:
                problems["scoreRaw"] = ["The score raw must be between 0 and 100."]
            else:
                entry["score"] = float(raw)
        elif args.get("score") is not None:
            score = args["score"]
            if not 0 <= score <= _SCORE_MAX[fmt]:
                problems["score"] = [
                    f"The score must be between 0 and {_SCORE_MAX[fmt]}."
                ]
            else:
                entry["score"] = raw_from_score(score, fmt)
        for name in ("progress", "repeat", "priority"):
            if args.get(name) is not None:
                if args[name] < 0:
                    problems[name] = [f"The {name} must be at least 0."]
                else:
                    entry[name] = int(args[name])
        if "notes" in args:
            entry["notes"] = args["notes"] or None
        for name in ("private", "hiddenFromStatusLists"):
            if args.get(name) is not None:
                entry[name] = bool(args[name])
        if args.get("customLists") is not None:
            wanted = [n for n in args["customLists"] if n in self.custom_list_names]
            entry["customLists"] = [n for n in self.custom_list_names if n in wanted]
        for name in ("startedAt", "completedAt"):
            if name in args:
                value = args[name] or {}
                date = {k: value.get(k) for k in ("year", "month", "day")}
                if date["month"] is not None and not 1 <= date["month"] <= 12:
                    problems[name] = ["The month is invalid."]
                elif date["day"] is not None and not 1 <= date["day"] <= 31:
                    problems[name] = ["The day is invalid."]
                else:
                    entry[name] = date
        if problems:
            raise _gql_error("validation", 400, validation=problems)
        entry["updatedAt"] = self._stamp()

    def media_object(self, media_id: int) -> dict[str, Any] | None:
        """A `Media` object as the API returns it."""
        item = self.media.get(media_id)
        if item is None:
            return None
        return {
            "id": item.anilist_id,
            "idMal": item.mal_id,
            "type": "ANIME",
            "format": item.format,
            "episodes": item.episodes,
            "isAdult": item.nsfw != "white",
            "siteUrl": f"https://anilist.co/anime/{item.anilist_id}",
            "title": {
                "romaji": item.title,
                "english": item.title,
                "native": None,
                "userPreferred": item.title,
            },
        }

    def list_object(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A `MediaList` object as the API returns it."""

        def score(_info: Any, format: str | None = None) -> float:
            return score_from_raw(entry["score"], format or self.score_format)

        def custom_lists(_info: Any, asArray: bool | None = None) -> Any:
            if not self.custom_list_names:
                return None
            flags = {n: n in entry["customLists"] for n in self.custom_list_names}
            if asArray:
                return [{"name": n, "enabled": on} for n, on in flags.items()]
            return flags

        return {
            **{k: v for k, v in entry.items() if k not in ("score", "customLists")},
            "userId": self.user_id,
            "score": score,
            "customLists": custom_lists,
            "advancedScores": None,
            "progressVolumes": None,
            "media": self.media_object(entry["mediaId"]),
            "user": self.user_object(),
        }

    def user_object(self) -> dict[str, Any]:
        """The viewer as a `User` object."""
        return {
            "id": self.user_id,
            "name": self.user_name,
            "siteUrl": f"https://anilist.co/user/{self.user_name}",
            "mediaListOptions": {
                "scoreFormat": self.score_format,
                "rowOrder": "score",
                "animeList": {
                    "customLists": list(self.custom_list_names),
                    "splitCompletedSectionByFormat": False,
                },
            },
        }

    def ordered_entries(self) -> list[dict[str, Any]]:
        """Entries in a stable order (by entry id), as chunks slice them."""
        return [self.entries[k] for k in sorted(self.entries)]


class _Root:
    """Root resolvers: graphql-core calls `root.<Field>(info, **args)`."""

    def __init__(self, fake: AniListFake, authed: bool) -> None:
        self.fake = fake
        self.authed = authed

    def _need_auth(self) -> None:
        if not self.authed:
            raise _gql_error("Invalid token", 400)

    def _is_viewer(self, user_id: int | None, user_name: str | None) -> bool:
        return user_id == self.fake.user_id or user_name == self.fake.user_name

    def Viewer(self, _info: Any) -> dict[str, Any]:
        self._need_auth()
        return self.fake.user_object()

    def Media(self, _info: Any, **args: Any) -> dict[str, Any]:
        fake = self.fake
        found: int | None = args.get("id")
        if found is None and args.get("idMal") is not None:
            found = next(
                (
                    m.anilist_id
                    for m in fake.media.values()
                    if m.mal_id == args["idMal"]
                ),
                None,
            )
        media = fake.media_object(found) if found is not None else None
        if media is None:
            raise _gql_error("Not Found.", 404)
        return media

    def MediaList(self, _info: Any, **args: Any) -> dict[str, Any]:
        for entry in self.fake.entries.values():
            if args.get("id") is not None and entry["id"] != args["id"]:
                continue
            if args.get("mediaId") is not None and entry["mediaId"] != args["mediaId"]:
                continue
            if args.get("userId") is not None and args["userId"] != self.fake.user_id:
                continue
            return self.fake.list_object(entry)
        raise _gql_error("Not Found.", 404)

    def MediaListCollection(self, _info: Any, **args: Any) -> dict[str, Any]:
        fake = self.fake
        if args.get("userId") is None and args.get("userName") is None:
            raise _gql_error("validation", 400, validation={"userId": ["required"]})
        if not self._is_viewer(args.get("userId"), args.get("userName")):
            raise _gql_error("User not found", 404)
        entries = fake.ordered_entries() if args.get("type") == "ANIME" else []
        if args.get("status_in"):
            entries = [e for e in entries if e["status"] in args["status_in"]]
        has_next = False
        if args.get("chunk") is not None:
            per_chunk = min(max(int(args.get("perChunk") or 500), 1), 500)
            chunk = max(int(args["chunk"]), 1)
            start = (chunk - 1) * per_chunk
            has_next = len(entries) > start + per_chunk
            entries = entries[start : start + per_chunk]
        lists = []
        for status in STATUSES:
            members = [
                fake.list_object(e)
                for e in entries
                if e["status"] == status and not e["hiddenFromStatusLists"]
            ]
            if members:
                lists.append(
                    {
                        "name": _STATUS_LIST_NAMES[status],
                        "isCustomList": False,
                        "isSplitCompletedList": False,
                        "status": status,
                        "entries": members,
                    }
                )
        for name in fake.custom_list_names:
            members = [fake.list_object(e) for e in entries if name in e["customLists"]]
            if members:
                lists.append(
                    {
                        "name": name,
                        "isCustomList": True,
                        "isSplitCompletedList": False,
                        "status": None,
                        "entries": members,
                    }
                )
        return {"lists": lists, "user": fake.user_object(), "hasNextChunk": has_next}

    def Page(self, info: Any, page: int | None = None, perPage: int | None = None):
        page = max(int(page or 1), 1)
        per_page = min(max(int(perPage or 50), 1), 50)
        items: list[dict[str, Any]] = []
        result: dict[str, Any] = {}
        field_name = None
        for node in info.field_nodes[0].selection_set.selections:
            if not isinstance(node, FieldNode) or node.name.value not in (
                "media",
                "mediaList",
            ):
                continue
            field_name = node.name.value
            page_type = info.schema.type_map["Page"]
            args = get_argument_values(
                page_type.fields[field_name], node, info.variable_values
            )
            if field_name == "media":
                items = self._page_media(args)
            else:
                items = self._page_media_list(args)
            break
        total = len(items)
        start = (page - 1) * per_page
        window = items[start : start + per_page]
        if field_name is not None:
            result[field_name] = window
        result["pageInfo"] = {
            "total": total,
            "perPage": per_page,
            "currentPage": page,
            "lastPage": max(1, math.ceil(total / per_page)),
            "hasNextPage": total > start + per_page,
        }
        return result

    def _page_media(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        fake = self.fake
        media = sorted(fake.media.values(), key=lambda m: m.anilist_id)
        if args.get("type") not in (None, "ANIME"):
            return []
        if args.get("id") is not None:
            media = [m for m in media if m.anilist_id == args["id"]]
        if args.get("id_in") is not None:
            wanted = set(args["id_in"])
            media = [m for m in media if m.anilist_id in wanted]
        if args.get("idMal") is not None:
            media = [m for m in media if m.mal_id == args["idMal"]]
        if args.get("idMal_in") is not None:
            wanted = set(args["idMal_in"])
            media = [m for m in media if m.mal_id in wanted]
        if args.get("search"):
            needle = str(args["search"]).lower()
            media = [m for m in media if needle in m.title.lower()]
        return [fake.media_object(m.anilist_id) for m in media]  # type: ignore[misc]

    def _page_media_list(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        fake = self.fake
        user_id = args.get("userId")
        if user_id is None and args.get("userName") is None:
            if args.get("id") is None:
                raise _gql_error("validation", 400, validation={"userId": ["required"]})
        elif not self._is_viewer(user_id, args.get("userName")):
            return []
        entries = fake.ordered_entries()
        if args.get("type") not in (None, "ANIME"):
            return []
        if args.get("id") is not None:
            entries = [e for e in entries if e["id"] == args["id"]]
        if args.get("mediaId") is not None:
            entries = [e for e in entries if e["mediaId"] == args["mediaId"]]
        if args.get("mediaId_in") is not None:
            wanted = set(args["mediaId_in"])
            entries = [e for e in entries if e["mediaId"] in wanted]
        if args.get("status") is not None:
            entries = [e for e in entries if e["status"] == args["status"]]
        if args.get("status_in") is not None:
            entries = [e for e in entries if e["status"] in args["status_in"]]
        for sort in reversed(args.get("sort") or ()):
            descending = sort.endswith("_DESC")
            name = _SORT_KEYS.get(sort.removesuffix("_DESC"), "id")
            entries.sort(key=lambda e, n=name: (e[n], e["id"]), reverse=descending)
        return [fake.list_object(e) for e in entries]

    def SaveMediaListEntry(self, _info: Any, **args: Any) -> dict[str, Any]:
        self._need_auth()
        fake = self.fake
        if args.get("id") is not None:
            entry = fake.entries.get(args["id"])
            if entry is None:
                raise _gql_error("Not Found.", 404)
        elif args.get("mediaId") is not None:
            existed = fake.entry_for(args["mediaId"]) is not None
            entry = fake._entry_for_media(args["mediaId"], create=True)
        else:
            raise _gql_error("validation", 400, validation={"mediaId": ["required"]})
        try:
            fake._apply(entry, args)
        except GraphQLError:
            if args.get("id") is None and not existed:
                del fake.entries[entry["id"]]
            raise
        return fake.list_object(entry)

    def DeleteMediaListEntry(self, _info: Any, id: int | None = None):
        self._need_auth()
        if id is None or id not in self.fake.entries:
            raise _gql_error("Not Found.", 404)
        del self.fake.entries[id]
        return {"deleted": True}
