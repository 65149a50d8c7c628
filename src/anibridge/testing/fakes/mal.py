"""A fake MyAnimeList API v2 (plus its OAuth token endpoint) on loopback.

Serves what the MAL provider uses, with the official shapes: sign-in by OAuth2
with PKCE (`GET /v1/oauth2/authorize` redirects to the registered redirect URL with
``code`` and ``state``, or ``error=access_denied`` when `authorize_answer` is
"deny"; only ``code_challenge_method=plain``, as MAL), the authorization-code and
refresh-token grants (`POST /v1/oauth2/token`, codes single use, refresh tokens
rotating), `GET
/v2/users/@me` (identity), `GET /v2/users/@me/animelist` (``limit`` <= 1000,
``offset``, ``paging.next`` as a full URL, ``fields=`` projection including
``list_status{...}``, ``nsfw``, ``sort=list_updated_at``), `GET /v2/anime?q=`
(search), `GET /v2/anime/{id}`, and `PATCH`/`DELETE /v2/anime/{id}/my_list_status`
with form-encoded bodies using the write names (``num_watched_episodes``, not the
read name ``num_episodes_watched``).

Quirks kept on purpose because clients must cope with them: unknown form fields are
ignored silently, ``is_rewatching`` only sticks on a ``completed`` entry, and an
empty ``start_date``/``finish_date`` does not clear a date (the official reference
documents no way to clear one). Expired or unknown access tokens get 401
``invalid_token``.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode

from anibridge.http.clock import Clock
from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.server import (
    FakeLimit,
    FakeRequest,
    FakeResponse,
    FakeService,
    HttpFault,
)

__all__ = ["LIST_STATUS_DEFAULT", "LIST_STATUS_EXTRA", "MalFake", "parse_fields"]

STATUSES = ("watching", "completed", "on_hold", "dropped", "plan_to_watch")
#: `list_status` members returned without asking (dates only when set).
LIST_STATUS_DEFAULT = (
    "status",
    "score",
    "num_episodes_watched",
    "is_rewatching",
    "updated_at",
    "start_date",
    "finish_date",
)
#: Members returned only when named in ``list_status{...}``.
LIST_STATUS_EXTRA = (
    "priority",
    "num_times_rewatched",
    "rewatch_value",
    "tags",
    "comments",
)
_NODE_FIELDS = (
    "alternative_titles",
    "num_episodes",
    "media_type",
    "nsfw",
    "start_date",
    "status",
)
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_MEDIA_TYPES = {
    "TV": "tv",
    "TV_SHORT": "tv",
    "MOVIE": "movie",
    "SPECIAL": "special",
    "OVA": "ova",
    "ONA": "ona",
    "MUSIC": "music",
}


def parse_fields(text: str | None) -> dict[str, set[str]]:
    """``a,b{c,d}`` -> ``{"a": set(), "b": {"c", "d"}}`` (MAL's `fields` grammar).

    Raises:
        HttpFault: unbalanced braces (MAL answers 400).
    """
    result: dict[str, set[str]] = {}
    if not text:
        return result
    depth, name, inner, current = 0, "", "", ""
    for char in text + ",":
        if char == "{":
            depth += 1
            if depth == 1:
                name, inner = current.strip(), ""
                continue
        elif char == "}":
            depth -= 1
            if depth < 0:
                raise HttpFault(
                    400, {"error": "bad_request", "message": "invalid fields"}
                )
            if depth == 0:
                result[name] = {p.strip() for p in inner.split(",") if p.strip()}
                current = ""
                continue
        if depth >= 1:
            inner += char
        elif char == ",":
            if current.strip():
                result.setdefault(current.strip(), set())
            current = ""
        else:
            current += char
    if depth != 0:
        raise HttpFault(400, {"error": "bad_request", "message": "invalid fields"})
    return result


def _now_iso(last: str | None) -> str:
    stamp = datetime.now(UTC).replace(microsecond=0).isoformat()
    return max(stamp, last) if last else stamp


class MalFake(FakeService):
    """MyAnimeList API v2 with one user, their anime list and OAuth tokens.

    Args:
        media: The catalog (`FakeMedia`; works without `mal_id` are ignored).
        time_scale: Real seconds per service second.
        clock: A clock instead of `time_scale` (see `FakeService`).
        per_minute: Optional request limit (MAL publishes none; off by default).
            Going over it is answered like MAL answers abuse: 403 "DoS detected".
        client_id: The registered client id the token endpoint accepts.
        client_secret: The client secret (None: a public client without one).
        access_token: The initially valid access token.
        refresh_token: The initially valid refresh token.
        token_lifetime: ``expires_in`` of issued tokens, in seconds.
        user_id: The user's id.
        user_name: The user's name.
    """

    def __init__(
        self,
        *,
        media: Iterable[FakeMedia] = (),
        time_scale: float = 1.0,
        clock: Clock | None = None,
        per_minute: int | None = None,
        client_id: str = "mal-test-client",
        client_secret: str | None = "mal-test-secret",
        access_token: str = "mal-access-0",
        refresh_token: str = "mal-refresh-0",
        token_lifetime: int = 2_678_400,
        user_id: int = 7001,
        user_name: str = "fake-mal-user",
    ) -> None:
        """Create the fake; call `start()` (or use `with`) to serve."""
        limits = [FakeLimit(per_minute, 60.0, name="minute")] if per_minute else []
        super().__init__(time_scale=time_scale, limits=limits, clock=clock)
        self.media: dict[int, FakeMedia] = {
            m.mal_id: m for m in media if m.mal_id is not None
        }
        self.entries: dict[int, dict[str, Any]] = {}
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.access_tokens: dict[str, float] = {
            access_token: time.time() + token_lifetime
        }
        self.refresh_tokens = {refresh_token}
        self.refreshes = 0
        self.user_id = user_id
        self.user_name = user_name
        self.forms: list[dict[str, str]] = []
        self._last_stamp: str | None = None
        # Sign-in: the app's registered redirect URL, what the user answers on the
        # authorize page ("approve"/"deny"), and the codes handed out.
        self.redirect_uri = "http://127.0.0.1:8765/callback"
        self.authorize_answer = "approve"
        self.codes: dict[str, dict[str, str]] = {}
        self.route("GET", r"/v1/oauth2/authorize", self._authorize_page, kind="auth")
        self.route("POST", r"/v1/oauth2/token", self._token, kind="identity")
        self.route("GET", r"/v2/users/@me", self._me, kind="identity")
        self.route("GET", r"/v2/users/@me/animelist", self._animelist)
        self.route("GET", r"/v2/anime", self._search)
        self.route("GET", r"/v2/anime/(?P<id>\d+)", self._anime)
        self.route("PATCH", r"/v2/anime/(?P<id>\d+)/my_list_status", self._patch)
        self.route("DELETE", r"/v2/anime/(?P<id>\d+)/my_list_status", self._delete)

    def _limit_response(self, request: FakeRequest) -> FakeResponse | None:
        refused = super()._limit_response(request)
        if refused is None:
            return None
        return FakeResponse(403, {"error": "forbidden", "message": "DoS detected"})

    # -- test controls ----------------------------------------------------------------

    def add_entry(self, anime_id: int, **fields: Any) -> dict[str, Any]:
        """Put an entry on the list directly (read names: ``num_episodes_watched``).

        Returns:
            The stored entry.
        """
        with self._lock:
            entry = self._new_entry(anime_id)
            entry.update(fields)
            if "updated_at" not in fields:
                entry["updated_at"] = self._stamp()
            self.entries[anime_id] = entry
            return entry

    def expire_access_tokens(self) -> None:
        """Make every issued access token expired (refresh tokens stay valid)."""
        with self._lock:
            self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def revoke_refresh_tokens(self) -> None:
        """Invalidate every refresh token (the user revoked the app)."""
        with self._lock:
            self.refresh_tokens.clear()

    def wipe(self) -> None:
        """Delete every list entry."""
        with self._lock:
            self.entries.clear()

    def snapshot(self) -> dict[int, dict[str, Any]]:
        """Every entry's user fields by anime id (``updated_at`` left out)."""
        with self._lock:
            return {
                k: {f: v for f, v in e.items() if f != "updated_at"}
                for k, e in self.entries.items()
            }

    # -- helpers ----------------------------------------------------------------------

    def _stamp(self) -> str:
        self._last_stamp = _now_iso(self._last_stamp)
        return self._last_stamp

    def _new_entry(self, anime_id: int) -> dict[str, Any]:
        return {
            "status": "plan_to_watch",
            "score": 0,
            "num_episodes_watched": 0,
            "is_rewatching": False,
            "updated_at": "",
            "start_date": None,
            "finish_date": None,
            "priority": 0,
            "num_times_rewatched": 0,
            "rewatch_value": 0,
            "tags": [],
            "comments": "",
        }

    def _authorize(self, request: FakeRequest) -> None:
        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        expiry = self.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if expiry is None or expiry <= time.time():
            raise HttpFault(
                401,
                {"error": "invalid_token", "message": "token is invalid"},
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    def _node(self, media: FakeMedia, fields: dict[str, set[str]]) -> dict[str, Any]:
        mal_id = media.mal_id
        node: dict[str, Any] = {
            "id": mal_id,
            "title": media.title,
            "main_picture": {
                "medium": f"https://cdn.myanimelist.net/images/anime/{mal_id}.jpg",
                "large": f"https://cdn.myanimelist.net/images/anime/{mal_id}l.jpg",
            },
        }
        extra = {
            "alternative_titles": {"synonyms": [], "en": media.title, "ja": ""},
            "num_episodes": media.episodes or 0,
            "media_type": _MEDIA_TYPES.get(media.format, "unknown"),
            "nsfw": media.nsfw,
            "start_date": None,
            "status": "finished_airing",
        }
        for name in _NODE_FIELDS:
            if name in fields:
                node[name] = extra[name]
        if "my_list_status" in fields and mal_id in self.entries:
            node["my_list_status"] = self._list_status(
                self.entries[mal_id], fields["my_list_status"]
            )
        return node

    @staticmethod
    def _list_status(entry: dict[str, Any], wanted: set[str]) -> dict[str, Any]:
        out = {}
        for name in LIST_STATUS_DEFAULT:
            if name in ("start_date", "finish_date") and not entry.get(name):
                continue
            out[name] = entry[name]
        for name in LIST_STATUS_EXTRA:
            if name in wanted:
                out[name] = entry[name]
        return out

    # -- handlers ---------------------------------------------------------------------

    def _authorize_page(self, request: FakeRequest) -> FakeResponse:
        """The user's approval: 302 to the redirect URL with a one-time code."""
        if request.arg("response_type") != "code":
            raise HttpFault(400, {"error": "unsupported_response_type"})
        if request.arg("client_id") != self.client_id:
            raise HttpFault(400, {"error": "invalid_client"})
        if request.arg("code_challenge_method", "plain") != "plain":
            raise HttpFault(400, {"error": "invalid_request", "hint": "plain only"})
        challenge = request.arg("code_challenge") or ""
        if not 43 <= len(challenge) <= 128:
            raise HttpFault(400, {"error": "invalid_request", "hint": "challenge"})
        redirect = request.arg("redirect_uri") or self.redirect_uri
        if redirect != self.redirect_uri:
            raise HttpFault(400, {"error": "invalid_request", "hint": "redirect_uri"})
        state = request.arg("state") or ""
        if self.authorize_answer != "approve":
            query = {"error": "access_denied", "message": "the user denied access"}
        else:
            code = f"mal-code-{secrets.token_hex(12)}"
            with self._lock:
                self.codes[code] = {"challenge": challenge, "redirect_uri": redirect}
            query = {"code": code}
        if state:
            query["state"] = state
        return FakeResponse(302, b"", {"Location": f"{redirect}?{urlencode(query)}"})

    def _code_grant(self, form: dict[str, str]) -> None:
        with self._lock:
            issued = self.codes.pop(form.get("code") or "", None)
        if (
            issued is None
            or form.get("code_verifier") != issued["challenge"]
            or form.get("redirect_uri", issued["redirect_uri"])
            != issued["redirect_uri"]
        ):
            raise HttpFault(
                400, {"error": "invalid_grant", "message": "authorization code invalid"}
            )

    def _token(self, request: FakeRequest) -> Any:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("client_id") != self.client_id or (
            self.client_secret is not None
            and form.get("client_secret") != self.client_secret
        ):
            raise HttpFault(
                401,
                {"error": "invalid_client", "message": "client authentication failed"},
            )
        grant = form.get("grant_type")
        if grant == "authorization_code":
            self._code_grant(form)
        elif grant != "refresh_token":
            raise HttpFault(400, {"error": "unsupported_grant_type", "message": ""})
        with self._lock:
            if grant == "refresh_token":
                if form.get("refresh_token") not in self.refresh_tokens:
                    raise HttpFault(
                        400,
                        {
                            "error": "invalid_grant",
                            "message": "refresh token is invalid",
                        },
                    )
                self.refresh_tokens.discard(form["refresh_token"])
            access = f"mal-access-{secrets.token_hex(8)}"
            refresh = f"mal-refresh-{secrets.token_hex(8)}"
            self.access_tokens[access] = time.time() + self.token_lifetime
            self.refresh_tokens.add(refresh)
            self.refreshes += grant == "refresh_token"
        return {
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "access_token": access,
            "refresh_token": refresh,
        }

    def _me(self, request: FakeRequest) -> Any:
        self._authorize(request)
        return {
            "id": self.user_id,
            "name": self.user_name,
            "location": "",
            "joined_at": "2015-01-01T00:00:00+00:00",
            "time_zone": "Europe/Berlin",
        }

    def _animelist(self, request: FakeRequest) -> Any:
        self._authorize(request)
        try:
            limit = int(request.arg("limit", "100") or 100)
            offset = int(request.arg("offset", "0") or 0)
        except ValueError:
            raise HttpFault(
                400, {"error": "bad_request", "message": "invalid q"}
            ) from None
        if not 1 <= limit <= 1000 or offset < 0:
            raise HttpFault(400, {"error": "bad_request", "message": "invalid q"})
        fields = parse_fields(request.arg("fields"))
        nsfw = (request.arg("nsfw") or "false").lower() in ("true", "1")
        status = request.arg("status")
        if status is not None and status not in STATUSES:
            raise HttpFault(400, {"error": "bad_request", "message": "invalid status"})
        with self._lock:
            rows = []
            for anime_id, entry in self.entries.items():
                media = self.media.get(anime_id)
                if media is None or (media.nsfw != "white" and not nsfw):
                    continue
                if status is not None and entry["status"] != status:
                    continue
                rows.append((media, entry))
            sort = request.arg("sort")
            if sort == "list_updated_at":
                rows.sort(key=lambda r: (r[1]["updated_at"], r[0].mal_id), reverse=True)
            elif sort == "list_score":
                rows.sort(key=lambda r: (r[1]["score"], r[0].mal_id), reverse=True)
            elif sort == "anime_title":
                rows.sort(key=lambda r: r[0].title)
            elif sort not in (None, "anime_start_date", "anime_id"):
                raise HttpFault(
                    400, {"error": "bad_request", "message": "invalid sort"}
                )
            else:
                rows.sort(key=lambda r: r[0].mal_id)
            window = rows[offset : offset + limit]
            data = [
                {
                    "node": self._node(media, fields),
                    "list_status": self._list_status(
                        entry, fields.get("list_status", set())
                    ),
                }
                for media, entry in window
            ]
        paging: dict[str, str] = {}
        base = f"{self.base_url}{request.path}"
        params = {k: v[0] for k, v in request.query.items()}
        if offset + limit < len(rows):
            paging["next"] = f"{base}?{urlencode(params | {'offset': offset + limit})}"
        if offset > 0:
            previous = max(0, offset - limit)
            paging["previous"] = f"{base}?{urlencode(params | {'offset': previous})}"
        return {"data": data, "paging": paging}

    def _search(self, request: FakeRequest) -> Any:
        self._authorize(request)
        query = (request.arg("q") or "").strip().lower()
        try:
            limit = int(request.arg("limit", "100") or 100)
        except ValueError:
            raise HttpFault(
                400, {"error": "bad_request", "message": "invalid q"}
            ) from None
        if not query or not 1 <= limit <= 100:
            raise HttpFault(400, {"error": "bad_request", "message": "invalid q"})
        fields = parse_fields(request.arg("fields"))
        nsfw = (request.arg("nsfw") or "false").lower() in ("true", "1")
        with self._lock:
            found = [
                m
                for m in sorted(self.media.values(), key=lambda m: m.mal_id or 0)
                if query in m.title.lower() and (nsfw or m.nsfw == "white")
            ]
            data = [{"node": self._node(m, fields)} for m in found[:limit]]
        return {"data": data, "paging": {}}

    def _anime(self, request: FakeRequest) -> Any:
        self._authorize(request)
        media = self.media.get(int(request.params["id"]))
        if media is None:
            raise HttpFault(404, {"error": "not_found", "message": ""})
        with self._lock:
            return self._node(media, parse_fields(request.arg("fields")))

    def _patch(self, request: FakeRequest) -> Any:
        self._authorize(request)
        anime_id = int(request.params["id"])
        if anime_id not in self.media:
            raise HttpFault(404, {"error": "not_found", "message": ""})
        form = {
            k: v[0]
            for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()
        }
        with self._lock:
            self.forms.append(form)
            entry = dict(self.entries.get(anime_id) or self._new_entry(anime_id))
            self._apply(entry, form)
            entry["updated_at"] = self._stamp()
            self.entries[anime_id] = entry
            return self._list_status(entry, set(LIST_STATUS_EXTRA))

    @staticmethod
    def _apply(entry: dict[str, Any], form: dict[str, str]) -> None:
        def bad(name: str) -> HttpFault:
            return HttpFault(
                400, {"error": "bad_request", "message": f"invalid {name}"}
            )

        def number(name: str, low: int, high: int | None) -> int:
            try:
                value = int(form[name])
            except ValueError:
                raise bad(name) from None
            if value < low or (high is not None and value > high):
                raise bad(name)
            return value

        if "status" in form:
            if form["status"] not in STATUSES:
                raise bad("status")
            entry["status"] = form["status"]
        if "is_rewatching" in form:
            value = form["is_rewatching"].lower()
            if value not in ("true", "false", "1", "0"):
                raise bad("is_rewatching")
            entry["is_rewatching"] = value in ("true", "1")
        # The re-watching flag exists only on completed entries (MAL's own list
        # editor offers it only there); elsewhere it does not stick.
        if entry["status"] != "completed":
            entry["is_rewatching"] = False
        if "score" in form:
            entry["score"] = number("score", 0, 10)
        if "num_watched_episodes" in form:
            entry["num_episodes_watched"] = number("num_watched_episodes", 0, None)
        if "priority" in form:
            entry["priority"] = number("priority", 0, 2)
        if "num_times_rewatched" in form:
            entry["num_times_rewatched"] = number("num_times_rewatched", 0, None)
        if "rewatch_value" in form:
            entry["rewatch_value"] = number("rewatch_value", 0, 5)
        if "tags" in form:
            entry["tags"] = [t.strip() for t in form["tags"].split(",") if t.strip()]
        if "comments" in form:
            entry["comments"] = form["comments"]
        for name in ("start_date", "finish_date"):
            value = form.get(name)
            if not value:
                continue  # MAL ignores an empty date: it cannot be cleared
            if not _DATE.match(value):
                raise bad(name)
            entry[name] = value

    def _delete(self, request: FakeRequest) -> Any:
        self._authorize(request)
        anime_id = int(request.params["id"])
        with self._lock:
            if anime_id not in self.entries:
                raise HttpFault(404, {"error": "not_found", "message": ""})
            del self.entries[anime_id]
        return []
