"""The Simkl endpoints this provider uses, over the shared HTTP client.

Knows URLs, the parameters every request carries (``client_id``, ``app-name``,
``app-version``; the key also goes in the ``simkl-api-key`` header) and which POSTs
are safe to repeat; knows nothing about the contract. Limits: 10 GETs and 1 POST per
second per client id and user (https://api.simkl.org/api-rules).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from anibridge.http import APP, READ, USER, WRITE, HttpClient, HttpError, RateLimit
from anibridge.provider.base import WriteError

__all__ = [
    "APP_NAME",
    "DEFAULT_BASE_URL",
    "SIMKL_LIMITS",
    "SimklApi",
    "simkl_time",
]

DEFAULT_BASE_URL = "https://api.simkl.com"
APP_NAME = "anibridge"
# 10 GET/s and 1 POST/s, each per client id *and* per user token. 1 POST/s gets a
# wider margin: one refused write costs more than 0.1 s.
SIMKL_LIMITS = tuple(
    limit
    for scope in (APP, USER)
    for limit in (
        RateLimit(10, 1.0, READ, scope=scope),
        RateLimit(1, 1.0, WRITE, margin=0.1, scope=scope),
    )
)
FULL = {"extended": "full", "episode_watched_at": "yes", "memos": "yes"}


def simkl_time(at: datetime) -> str:
    """Simkl's timestamp form: UTC seconds with a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _object(data: Any, where: str) -> dict[str, Any]:
    """A JSON object, `{}` for Simkl's ``null`` ("nothing"), else a clear error.

    Raises:
        HttpError: the body is neither (code INTERNAL).
    """
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise HttpError(
            f"simkl: {where} answered {type(data).__name__}, expected an object",
            code=WriteError.INTERNAL,
        )
    return data


class SimklApi:
    """Calls to Simkl; one instance per provider."""

    def __init__(self, client: HttpClient, *, client_id: str, app_version: str) -> None:
        """Use `client`, identifying the app with `client_id` on every request."""
        self.client = client
        self.app = {
            "client_id": client_id,
            "app-name": APP_NAME,
            "app-version": app_version,
        }

    async def get(self, path: str, **params: Any) -> Any:
        """GET `path` (app parameters added) and decode the JSON body.

        Returns:
            The decoded body (None for an empty one).
        """
        clean = {k: v for k, v in params.items() if v is not None}
        response = await self.client.get(path, params=self.app | clean)
        return response.json() if response.content else None

    async def settings(self) -> dict[str, Any]:
        """`POST /users/settings` (a read, POST "for historical reasons"): who we are.

        Returns:
            The settings object.
        """
        response = await self.client.post(
            "/users/settings", params=self.app, json={}, retry=True, route=WRITE
        )
        data = response.json() if response.content else None
        return _object(data, "users/settings")

    async def activities(self) -> dict[str, Any]:
        """`/sync/activities`: the per-list change timestamps (the gate).

        Returns:
            The activities object.
        """
        return _object(await self.get("/sync/activities"), "sync/activities")

    async def all_items(
        self,
        bucket: str,
        *,
        date_from: str | None = None,
        ids_only: bool = False,
    ) -> list[dict[str, Any]]:
        """`/sync/all-items/{bucket}`: every (or every changed) item of one type.

        Only ever called after `/sync/activities` said the bucket moved: Simkl
        suspends client ids that poll this without the gate.

        Returns:
            The bucket's items (empty when Simkl answers ``null``).
        """
        params = {"extended": "simkl_ids_only"} if ids_only else dict(FULL)
        data = _object(
            await self.get(f"/sync/all-items/{bucket}", date_from=date_from, **params),
            "sync/all-items",
        )
        rows = data.get(bucket) or []
        return [r for r in rows if isinstance(r, dict)]

    async def ratings(self, bucket: str, *, date_from: str) -> list[dict[str, Any]]:
        """`/sync/ratings/{bucket}?date_from=`: ratings set or removed since.

        Returns:
            The changed items (``user_rating`` null for a removed rating).
        """
        data = _object(
            await self.get(f"/sync/ratings/{bucket}", date_from=date_from),
            "sync/ratings",
        )
        rows = data.get(bucket) or []
        return [r for r in rows if isinstance(r, dict)]

    async def search_id(
        self, key: str, value: str, kind: str | None
    ) -> list[dict[str, Any]]:
        """`/search/id?{key}=`: catalog titles carrying an external id.

        Returns:
            The matches (possibly several types).
        """
        data = await self.get("/search/id", **{key: value, "type": kind})
        return [r for r in data or () if isinstance(r, dict)]

    async def search_text(self, segment: str, query: str, limit: int) -> list[dict]:
        """`/search/{anime|tv|movie}?q=`: titles by name.

        Returns:
            The matches.
        """
        data = await self.get(f"/search/{segment}", q=query, limit=limit)
        return [r for r in data or () if isinstance(r, dict)]

    async def summary(self, segment: str, simkl_id: int) -> dict[str, Any] | None:
        """`/{anime|tv|movies}/{id}?extended=full`, None when unknown.

        Returns:
            The title, or None.
        """
        response = await self.client.get(
            f"/{segment}/{simkl_id}",
            params=self.app | {"extended": "full"},
            expect=(404,),
        )
        if response.status_code == 404 or not response.content:
            return None
        data = response.json()
        return data if isinstance(data, dict) else None

    async def episodes(self, segment: str, simkl_id: int) -> list[dict[str, Any]]:
        """`/{anime|tv}/episodes/{id}`: the title's episode list.

        Returns:
            The episodes (empty when the title is unknown).
        """
        response = await self.client.get(
            f"/{segment}/episodes/{simkl_id}", params=self.app, expect=(404,)
        )
        if response.status_code == 404 or not response.content:
            return []
        data = response.json()
        return [r for r in data or () if isinstance(r, dict)]

    async def post(self, path: str, body: Mapping[str, Any], *, safe: bool) -> Any:
        """POST a batched body; `safe` when repeating it cannot change the outcome.

        Absolute writes (a list status, a rating, a removal) are safe to repeat.
        History additions are not sent again after an unclear failure: the provider
        re-reads first (see `SimklProvider.write_events`).

        Returns:
            The decoded envelope.
        """
        response = await self.client.post(
            path, params=self.app, json=dict(body), retry=safe, route=WRITE
        )
        return response.json() if response.content else {}
