"""A fake Plex Media Server and a fake plex.tv on loopback, for provider tests.

`FakePlex` speaks the server's JSON API as PMS 1.41 does: ``MediaContainer`` answers,
``X-Plex-Token`` auth (header or query), paging with ``X-Plex-Container-Start`` /
``X-Plex-Container-Size`` (``totalSize`` in the answer), filters ``field>>=N`` (after),
``field>=N`` / ``field<=N``, per-token user state, the admin-only history endpoint,
``/:/scrobble``, ``/:/unscrobble`` and ``/:/rate``. `FakePlexTv` models the plex.tv
calls a Plex Home switch needs. `plex_webhook` builds the multipart body Plex posts.
Routes and versions are listed in docs/media-servers.md.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from anibridge.testing.fakes.media import FakeEpisode, FakeItem, MediaLibrary, Watch
from anibridge.testing.fakes.server import (
    FakeRequest,
    FakeResponse,
    FakeService,
    HttpFault,
)

__all__ = [
    "PMS_VERSION",
    "FakePlex",
    "FakePlexTv",
    "plex_metadata",
    "plex_webhook",
]

PMS_VERSION = "1.41.3.9314-a0bfb8370"
_TYPES = {1: "movie", 2: "show", 4: "episode"}
_SORTABLE = (
    "lastViewedAt",
    "lastRatedAt",
    "addedAt",
    "updatedAt",
    "viewCount",
    "viewedAt",
)


_OPERATORS: tuple[tuple[str, Callable[[float, float], bool]], ...] = (
    (">>", lambda a, b: a > b),
    ("<<", lambda a, b: a < b),
    (">", lambda a, b: a >= b),
    ("<", lambda a, b: a <= b),
)


def _compare(request: FakeRequest) -> list[Callable[[Mapping[str, Any]], bool]]:
    """Plex filter operators in the query: ``k>>=v``, ``k>=v``, ``k<<=v``, ``k<=v``."""
    tests: list[Callable[[Mapping[str, Any]], bool]] = []
    for raw, values in request.query.items():
        for op, fn in _OPERATORS:
            if raw.endswith(op):
                name, bound = raw[: -len(op)], float(values[0])
                tests.append(
                    lambda row, n=name, b=bound, f=fn: (
                        row.get(n) is not None and f(float(row[n]), b)
                    )
                )
                break
    return tests


class FakePlex(FakeService):
    """A Plex Media Server with one library and several accounts (tokens)."""

    def __init__(self, library: MediaLibrary, *, owner_token: str = "owner-token",
                 time_scale: float = 1.0, **kwargs: Any) -> None:  # fmt: skip
        """Serve `library`; `owner_token` acts as the admin (account 1)."""
        super().__init__(time_scale=time_scale, **kwargs)
        self.library = library
        self.machine_id = uuid.uuid5(uuid.NAMESPACE_DNS, "fake-plex").hex
        self.tokens: dict[str, str] = {owner_token: "1"}
        self.owner_token = owner_token
        r = self.route
        r("GET", r"/identity", self.identity, kind="identity")
        r("GET", r"/library/sections", self.sections, kind="identity")
        r("GET", r"/library/sections/(?P<id>\d+)/prefs", self.prefs, kind="identity")
        r("GET", r"/library/sections/(?P<id>\d+)/all", self.section_all)
        r("GET", r"/library/metadata/(?P<ids>[\d,]+)", self.metadata)
        r("GET", r"/library/metadata/(?P<id>\d+)/allLeaves", self.all_leaves)
        r("GET", r"/status/sessions/history/all", self.history)
        r("GET", r"/:/scrobble", self.scrobble, kind="write")
        r("GET", r"/:/unscrobble", self.unscrobble, kind="write")
        r("PUT", r"/:/rate", self.rate, kind="write")

    # -- auth -------------------------------------------------------------------------

    def user_for(self, request: FakeRequest) -> str:
        """The account id of the request's token.

        Raises:
            HttpFault: 401 without a known token.
        """
        token = request.header("X-Plex-Token") or request.arg("X-Plex-Token")
        account = self.tokens.get(token or "")
        if account is None:
            raise HttpFault(
                401, "<html><head><title>Unauthorized</title></head></html>"
            )
        return account

    # -- JSON shapes ------------------------------------------------------------------

    def _state(self, user: str, key: str) -> dict[str, Any]:
        w: Watch | None = self.library.peek(user, key)
        out: dict[str, Any] = {}
        if w is None:
            return out
        if w.view_count:
            out["viewCount"] = w.view_count
        if w.last_viewed_at:
            out["lastViewedAt"] = w.last_viewed_at
        if w.rating is not None:
            out["userRating"] = w.rating
            out["lastRatedAt"] = w.rated_at
        return out

    def item_json(
        self, item: FakeItem, user: str, guids: bool = True
    ) -> dict[str, Any]:
        """A show/movie as ``/library/sections/{id}/all`` lists it."""
        section = self.library.sections[item.section]
        data: dict[str, Any] = {
            "ratingKey": item.key,
            "key": f"/library/metadata/{item.key}"
            + ("/children" if item.kind == "show" else ""),
            "guid": item.plex_guid,
            "type": item.kind,
            "title": item.title,
            "librarySectionID": int(section.key),
            "librarySectionTitle": section.title,
            "year": item.year,
            "addedAt": item.added_at,
            "updatedAt": item.updated_at,
            "Genre": [{"tag": g} for g in item.genres],
        }
        if item.show_ordering:
            data["showOrdering"] = item.show_ordering
        if guids and item.plex_guids:
            data["Guid"] = [{"id": g} for g in item.plex_guids]
        if item.kind == "show":
            keys = self.library.show_episodes[item.key]
            data["leafCount"] = len(keys)
            data["viewedLeafCount"] = sum(
                1 for k in keys if (w := self.library.peek(user, k)) and w.view_count
            )
            data["childCount"] = len({self.library.episodes[k].season for k in keys})
            state = self._state(user, item.key)
            data.update(
                {k: v for k, v in state.items() if k in ("userRating", "lastRatedAt")}
            )
        else:
            data.update(self._state(user, item.key))
        return data

    def episode_json(self, ep: FakeEpisode, user: str) -> dict[str, Any]:
        """An episode as Plex lists it."""
        show = self.library.items[ep.show_key]
        data = {
            "ratingKey": ep.key,
            "key": f"/library/metadata/{ep.key}",
            "parentRatingKey": f"{ep.show_key}{ep.season:03d}",
            "grandparentRatingKey": ep.show_key,
            "guid": f"plex://episode/{int(ep.key):024x}",
            "type": "episode",
            "title": ep.title,
            "grandparentTitle": show.title,
            "parentTitle": f"Season {ep.season}",
            "librarySectionID": int(show.section),
            "index": ep.episode,
            "parentIndex": ep.season,
            "addedAt": ep.added_at,
            "updatedAt": ep.added_at,
        }
        data.update(self._state(user, ep.key))
        return data

    # -- paging -----------------------------------------------------------------------

    def _window(self, request: FakeRequest, total: int) -> tuple[int, int]:
        start = int(
            request.header("X-Plex-Container-Start")
            or request.arg("X-Plex-Container-Start")
            or 0
        )
        size_raw = request.header("X-Plex-Container-Size") or request.arg(
            "X-Plex-Container-Size"
        )
        return start, int(size_raw) if size_raw is not None else total

    def _page(
        self,
        request: FakeRequest,
        rows: list[dict[str, Any]],
        _total: int | None = None,
        **extra: Any,
    ) -> dict:
        """One page of `rows` (or of rows already sliced, given `_total`)."""
        total = len(rows) if _total is None else _total
        start, size = self._window(request, total)
        chunk = rows[start : start + size] if _total is None else rows
        return {
            "MediaContainer": {
                "size": len(chunk),
                "totalSize": total,
                "offset": start,
                "Metadata": chunk,
                **extra,
            }
        }

    # -- handlers ---------------------------------------------------------------------

    def identity(self, request: FakeRequest) -> dict:
        """``/identity``: machine identifier and version."""
        return {
            "MediaContainer": {
                "size": 0,
                "claimed": True,
                "machineIdentifier": self.machine_id,
                "version": PMS_VERSION,
            }
        }

    def sections(self, request: FakeRequest) -> dict:
        """``/library/sections``."""
        self.user_for(request)
        dirs = [
            {
                "key": s.key,
                "type": s.kind,
                "title": s.title,
                "agent": f"tv.plex.agents.{'series' if s.kind == 'show' else s.kind}",
                "language": "en-US",
            }
            for s in self.library.sections.values()
        ]
        return {"MediaContainer": {"size": len(dirs), "Directory": dirs}}

    def prefs(self, request: FakeRequest) -> dict:
        """``/library/sections/{id}/prefs`` (``showOrdering``)."""
        self.user_for(request)
        section = self.library.sections.get(request.params["id"])
        if section is None:
            raise HttpFault(404, "Not Found")
        settings = []
        if section.kind == "show":
            settings.append(
                {
                    "id": "showOrdering",
                    "type": "text",
                    "value": section.ordering or "aired",
                }
            )
        return {"MediaContainer": {"size": len(settings), "Setting": settings}}

    def section_all(self, request: FakeRequest) -> dict:
        """``/library/sections/{id}/all``: typed, filtered, paged listing."""
        user = self.user_for(request)
        section = self.library.sections.get(request.params["id"])
        if section is None:
            raise HttpFault(404, "Not Found")
        kind = _TYPES.get(
            int(request.arg("type") or (2 if section.kind == "show" else 1))
        )
        guids = request.arg("includeGuids") == "1"
        tests = _compare(request)
        with self.library.lock:
            if kind == "episode":
                objects: list[Any] = self.library.section_episodes(section.key)
            elif kind in ("show", "movie"):
                objects = self.library.section_items(section.key, kind)
            else:
                raise HttpFault(400, "unsupported type")

            def render(obj: Any) -> dict[str, Any]:
                if kind == "episode":
                    return self.episode_json(obj, user)
                return self.item_json(obj, user, guids)

            extra = {"librarySectionID": int(section.key)}
            if tests:
                rows = [r for r in map(render, objects) if all(t(r) for t in tests)]
                return self._page(request, rows, **extra)
            start, size = self._window(request, len(objects))
            window = [render(o) for o in objects[start : start + size]]
            return self._page(request, window, _total=len(objects), **extra)

    def metadata(self, request: FakeRequest) -> dict:
        """``/library/metadata/{k1,k2,…}``."""
        user = self.user_for(request)
        rows = []
        with self.library.lock:
            for key in request.params["ids"].split(","):
                if key in self.library.items:
                    rows.append(self.item_json(self.library.items[key], user))
                elif key in self.library.episodes:
                    rows.append(self.episode_json(self.library.episodes[key], user))
        if not rows:
            raise HttpFault(404, "Not Found")
        return {"MediaContainer": {"size": len(rows), "Metadata": rows}}

    def all_leaves(self, request: FakeRequest) -> dict:
        """``/library/metadata/{id}/allLeaves``: a show's episodes."""
        user = self.user_for(request)
        key = request.params["id"]
        if key not in self.library.show_episodes:
            raise HttpFault(404, "Not Found")
        with self.library.lock:
            rows = [
                self.episode_json(self.library.episodes[k], user)
                for k in self.library.show_episodes[key]
            ]
        return self._page(request, rows, key=key)

    def history(self, request: FakeRequest) -> dict:
        """``/status/sessions/history/all``: the admin sees every account."""
        user = self.user_for(request)
        admin = user == "1"
        wanted = request.arg("accountID") if admin else user
        section = request.arg("librarySectionID")
        item = request.arg("metadataItemID")
        rows = []
        with self.library.lock:
            for h in self.library.history:
                if wanted is not None and h.user != str(wanted):
                    continue
                row = self._history_row(h)
                if row is None:
                    continue
                if section is not None and str(row["librarySectionID"]) != section:
                    continue
                if item is not None and item not in (
                    row["ratingKey"],
                    row.get("grandparentKey", "").rsplit("/", 1)[-1],
                ):
                    continue
                rows.append(row)
        for test in _compare(request):
            rows = [row for row in rows if test(row)]
        if request.arg("sort") == "viewedAt:desc":
            rows.sort(key=lambda r: r["viewedAt"], reverse=True)
        return self._page(request, rows)

    def _history_row(self, h: Any) -> dict[str, Any] | None:
        lib = self.library
        if h.key in lib.episodes:
            ep = lib.episodes[h.key]
            show = lib.items[ep.show_key]
            return {
                "historyKey": f"/status/sessions/history/{h.id}",
                "key": f"/library/metadata/{ep.key}",
                "ratingKey": ep.key,
                "parentKey": f"/library/metadata/{ep.show_key}{ep.season:03d}",
                "grandparentKey": f"/library/metadata/{ep.show_key}",
                "title": ep.title,
                "grandparentTitle": show.title,
                "type": "episode",
                "index": ep.episode,
                "parentIndex": ep.season,
                "viewedAt": h.at,
                "accountID": int(h.user),
                "deviceID": 1,
                "librarySectionID": show.section,
            }
        if h.key in lib.items:
            movie = lib.items[h.key]
            return {
                "historyKey": f"/status/sessions/history/{h.id}",
                "key": f"/library/metadata/{movie.key}",
                "ratingKey": movie.key,
                "title": movie.title,
                "type": "movie",
                "viewedAt": h.at,
                "accountID": int(h.user),
                "deviceID": 1,
                "librarySectionID": movie.section,
            }
        return None

    def _target(self, request: FakeRequest) -> str:
        if request.arg("identifier") != "com.plexapp.plugins.library":
            raise HttpFault(400, "Bad Request")
        key = request.arg("key") or ""
        if key not in self.library.items and key not in self.library.episodes:
            raise HttpFault(404, "Not Found")
        return key

    def scrobble(self, request: FakeRequest) -> FakeResponse:
        """``/:/scrobble``: one more view."""
        user = self.user_for(request)
        self.library.play(user, self._target(request))
        return FakeResponse(200, "", {"Content-Type": "text/html"})

    def unscrobble(self, request: FakeRequest) -> FakeResponse:
        """``/:/unscrobble``."""
        user = self.user_for(request)
        self.library.unplay(user, self._target(request))
        return FakeResponse(200, "", {"Content-Type": "text/html"})

    def rate(self, request: FakeRequest) -> FakeResponse:
        """``/:/rate``: 0-10, ``-1`` clears."""
        user = self.user_for(request)
        key = self._target(request)
        value = float(request.arg("rating") or "-1")
        if value > 10:
            raise HttpFault(400, "Bad Request")
        self.library.rate(user, key, None if value < 0 else value)
        return FakeResponse(200, "", {"Content-Type": "text/html"})


class FakePlexTv(FakeService):
    """plex.tv for one owner and their Plex Home (users, switching, resources).

    Also the PIN sign-in: ``POST /api/v2/pins`` and ``GET /api/v2/pins/{id}`` (only
    for the client identifier that created the PIN). `approve_pin` is the user
    signing in on app.plex.tv; for unattended CLI tests `approve_after_polls` approves
    a PIN on that poll and `expire_after_polls` makes it expire (404) instead.
    """

    def __init__(self, server: FakePlex, **kwargs: Any) -> None:
        """Serve the Home of `server`'s library users; tokens are minted on switch."""
        super().__init__(**kwargs)
        self.server = server
        self.user_tokens: dict[str, str] = {server.owner_token: "1"}
        self.pins: dict[int, dict[str, Any]] = {}
        self.pin_ttl = 1800
        self.approve_after_polls: int | None = None
        self.expire_after_polls: int | None = None
        r = self.route
        r("POST", r"/api/v2/pins", self.create_pin, kind="auth")
        r("GET", r"/api/v2/pins/(?P<id>\d+)", self.check_pin, kind="auth")
        r("GET", r"/api/v2/user", self.user, kind="identity")
        r("GET", r"/api/v2/home/users", self.home_users, kind="identity")
        r(
            "POST",
            r"/api/v2/home/users/(?P<uuid>[\w-]+)/switch",
            self.switch,
            kind="identity",
        )
        r("GET", r"/api/v2/resources", self.resources, kind="identity")

    def approve_pin(self, code: str, account: str = "1") -> str:
        """The user signs in on app.plex.tv for `code`; the token it grants.

        Raises:
            KeyError: no such PIN.
        """
        with self._lock:
            pin = next(p for p in self.pins.values() if p["code"] == code)
            token = f"plextv-pin-{account}-{uuid.uuid4().hex[:12]}"
            self.user_tokens[token] = account
            self.server.tokens[token] = account  # the account's servers accept it
            pin["authToken"] = token
            return token

    def create_pin(self, request: FakeRequest) -> FakeResponse:
        """``POST /api/v2/pins``: a new PIN for the calling app."""
        client = request.header("X-Plex-Client-Identifier")
        if not client:
            missing = "X-Plex-Client-Identifier is missing"
            raise HttpFault(400, {"errors": [{"code": 1000, "message": missing}]})
        with self._lock:
            pin_id = 1000 + len(self.pins) + 1
            strong = request.arg("strong") == "true"
            code = uuid.uuid4().hex[: 25 if strong else 4].upper()
            self.pins[pin_id] = {
                "id": pin_id, "code": code, "product": request.header("X-Plex-Product"),
                "trusted": False, "clientIdentifier": client,
                "expiresIn": self.pin_ttl, "authToken": None, "polls": 0,
            }  # fmt: skip
            body = {k: v for k, v in self.pins[pin_id].items() if k != "polls"}
        return FakeResponse(201, body)

    def check_pin(self, request: FakeRequest) -> dict:
        """``GET /api/v2/pins/{id}``: the PIN, with ``authToken`` once approved."""
        not_found = HttpFault(
            404, {"errors": [{"code": 1020, "message": "Code not found or expired"}]}
        )
        with self._lock:
            pin = self.pins.get(int(request.params["id"]))
            client = request.header("X-Plex-Client-Identifier")
            if pin is None or pin["clientIdentifier"] != client:
                raise not_found
            pin["polls"] += 1
            if self.expire_after_polls and pin["polls"] >= self.expire_after_polls:
                del self.pins[pin["id"]]
                raise not_found
            approve = self.approve_after_polls
        if approve and pin["polls"] >= approve and not pin["authToken"]:
            self.approve_pin(pin["code"])
        return {k: v for k, v in pin.items() if k != "polls"}

    def _who(self, request: FakeRequest) -> str:
        account = self.user_tokens.get(request.header("X-Plex-Token") or "")
        if account is None:
            raise HttpFault(
                401,
                {
                    "errors": [
                        {"code": 1001, "message": "User could not be authenticated"}
                    ]
                },
            )
        return account

    def _user_json(self, user_id: str) -> dict[str, Any]:
        u = self.server.library.users[user_id]
        return {
            "id": int(u.id),
            "uuid": u.uuid or f"uuid-{u.id}",
            "title": u.name,
            "username": u.name.lower() if u.admin else "",
            "admin": u.admin,
            "guest": False,
            "restricted": not u.admin,
            "protected": u.pin is not None,
            "home": True,
        }

    def user(self, request: FakeRequest) -> dict:
        """``/api/v2/user``."""
        return self._user_json(self._who(request))

    def home_users(self, request: FakeRequest) -> dict:
        """``/api/v2/home/users`` (admin only)."""
        if self._who(request) != "1":
            raise HttpFault(
                403, {"errors": [{"code": 1029, "message": "not the admin"}]}
            )
        users = [self._user_json(uid) for uid in self.server.library.users]
        return {"id": 1, "name": "Home", "guestUserID": None, "users": users}

    def switch(self, request: FakeRequest) -> FakeResponse:
        """``/api/v2/home/users/{uuid}/switch``: a user token."""
        self._who(request)
        match = next(
            (u for u in self.server.library.users.values()
             if (u.uuid or f"uuid-{u.id}") == request.params["uuid"]),
            None,
        )  # fmt: skip
        if match is None:
            raise HttpFault(404, {"errors": [{"code": 1002, "message": "not found"}]})
        if match.pin is not None and request.arg("pin") != match.pin:
            raise HttpFault(401, {"errors": [{"code": 1041, "message": "Invalid PIN"}]})
        token = f"plextv-{match.id}-{uuid.uuid4().hex[:8]}"
        self.user_tokens[token] = match.id
        return FakeResponse(201, {**self._user_json(match.id), "authToken": token})

    def resources(self, request: FakeRequest) -> list:
        """``/api/v2/resources``: servers with access tokens."""
        account = self._who(request)
        server_token = next(
            (t for t, a in self.server.tokens.items() if a == account), None
        )
        if server_token is None:
            server_token = f"server-{account}-{uuid.uuid4().hex[:8]}"
            self.server.tokens[server_token] = account
        return [
            {"name": "Fake Plex", "product": "Plex Media Server", "provides": "server",
             "clientIdentifier": self.server.machine_id, "accessToken": server_token,
             "owned": account == "1", "connections": [{"uri": self.server.base_url}]},
            {"name": "Phone", "product": "Plex for Android", "provides": "player",
             "clientIdentifier": "phone-1"},
        ]  # fmt: skip


# -- webhooks ------------------------------------------------------------------------


def plex_metadata(library: MediaLibrary, key: str) -> dict[str, Any]:
    """The ``Metadata`` object Plex puts in a webhook about `key`."""
    if key in library.episodes:
        ep = library.episodes[key]
        show = library.items[ep.show_key]
        return {
            "librarySectionType": "show",
            "ratingKey": ep.key,
            "key": f"/library/metadata/{ep.key}",
            "parentRatingKey": f"{ep.show_key}{ep.season:03d}",
            "grandparentRatingKey": ep.show_key,
            "guid": _episode_guid(show, ep),
            "grandparentGuid": show.plex_guid,
            "librarySectionID": int(show.section),
            "type": "episode",
            "title": ep.title,
            "grandparentTitle": show.title,
            "index": ep.episode,
            "parentIndex": ep.season,
            "addedAt": ep.added_at,
            "updatedAt": ep.added_at,
        }
    item = library.items[key]
    return {
        "librarySectionType": item.kind,
        "ratingKey": item.key,
        "key": f"/library/metadata/{item.key}",
        "guid": item.plex_guid,
        "librarySectionID": int(item.section),
        "type": item.kind,
        "title": item.title,
        "year": item.year,
        "addedAt": item.added_at,
        "updatedAt": item.updated_at,
    }


def _episode_guid(show: FakeItem, ep: FakeEpisode) -> str:
    if show.plex_guid.startswith("com.plexapp.agents."):
        base, _, query = show.plex_guid.partition("?")
        return f"{base}/{ep.season}/{ep.episode}" + (f"?{query}" if query else "")
    return f"plex://episode/{int(ep.key):024x}"


def plex_webhook(
    event: str,
    *,
    account_id: int | str,
    account_title: str = "owner",
    server_uuid: str,
    metadata: Mapping[str, Any] | None = None,
    extra_parts: Iterable[tuple[str, str, bytes]] = (),
    boundary: str = "------------------------anibridge0123",
) -> tuple[dict[str, str], bytes]:
    """Headers and multipart body of a Plex webhook POST (``payload`` + thumbnail)."""
    payload: dict[str, Any] = {
        "event": event,
        "user": True,
        "owner": str(account_id) == "1",
        "Account": {"id": int(account_id), "thumb": "https://plex.tv/users/x/avatar",
                    "title": account_title},
        "Server": {"title": "Fake Plex", "uuid": server_uuid},
        "Player": {"local": True, "publicAddress": "203.0.113.7",
                   "title": "Living Room", "uuid": "player-1"},
    }  # fmt: skip
    if metadata is not None:
        payload["Metadata"] = dict(metadata)
    lines: list[bytes] = []
    parts = [("payload", "", json.dumps(payload).encode()), *extra_parts]
    for name, filename, content in parts:
        lines.append(f"--{boundary}".encode())
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
            lines.append(f"Content-Disposition: {disposition}".encode())
            lines.append(b"Content-Type: image/jpeg")
        else:
            lines.append(f"Content-Disposition: {disposition}".encode())
        lines.append(b"")
        lines.append(content)
    lines.append(f"--{boundary}--".encode())
    body = b"\r\n".join(lines) + b"\r\n"
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "User-Agent": "PlexMediaServer/" + PMS_VERSION,
    }
    return headers, body
