"""HTTP to a Plex Media Server and to plex.tv (JSON, `X-Plex-Token`, paged).

Listings page with the ``X-Plex-Container-Start`` / ``X-Plex-Container-Size`` request
headers; the answer's ``MediaContainer`` carries ``totalSize``. Filters use Plex's
operators in the query string (``lastViewedAt>>=1700000000``: after that instant).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from logging import Logger
from typing import Any

from anibridge.http import Clock, HttpClient, HttpError
from anibridge.provider.base import WriteError

__all__ = ["PLEX_TV_URL", "PlexClient", "PlexTvClient", "plex_headers"]

PLEX_TV_URL = "https://plex.tv"
LIBRARY_IDENTIFIER = "com.plexapp.plugins.library"
_BATCH = 100  # ratingKeys per /library/metadata/{k1,k2,…} request


def plex_headers(client_id: str) -> dict[str, str]:
    """The headers naming AniBridge to Plex (plex.tv binds PINs to the identifier)."""
    return {
        "Accept": "application/json",
        "X-Plex-Product": "AniBridge",
        "X-Plex-Client-Identifier": client_id,
    }


def _container(response_json: object, what: str) -> Mapping[str, Any]:
    if not isinstance(response_json, dict) or not isinstance(
        response_json.get("MediaContainer"), dict
    ):
        raise HttpError(
            f"plex: {what} answered without a MediaContainer", code=WriteError.INTERNAL
        )
    return response_json["MediaContainer"]


class PlexClient:
    """One Plex Media Server, as one token (one user) sees it."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        client_id: str,
        page_size: int,
        clock: Clock | None,
        logger: Logger,
    ) -> None:
        """Prepare the client; nothing is sent yet."""
        self.token = token
        self.page_size = page_size
        self.http = HttpClient(
            name="plex",
            base_url=base_url,
            headers=plex_headers(client_id),
            clock=clock,
            auth_headers=self._auth,
            secrets=[token],
            logger=logger,
        )

    async def _auth(self) -> dict[str, str]:
        return {"X-Plex-Token": self.token}

    def use_token(self, token: str) -> None:
        """Act as another user from now on (after a Plex Home switch)."""
        self.token = token
        self.http.add_secret(token)

    async def aclose(self) -> None:
        """Close connections."""
        await self.http.aclose()

    async def get(self, path: str, **params: object) -> Mapping[str, Any]:
        """One GET; the ``MediaContainer`` of the answer.

        Returns:
            The container.
        """
        response = await self.http.get(path, params=params or None)
        return _container(response.json(), path)

    async def paged(
        self,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        key: str = "Metadata",
    ) -> list[dict[str, Any]]:
        """Every element of a paged listing (one request per page).

        Returns:
            The elements in server order.
        """
        start = 0
        out: list[dict[str, Any]] = []
        while True:
            response = await self.http.get(
                path,
                params=dict(params or {}),
                headers={
                    "X-Plex-Container-Start": str(start),
                    "X-Plex-Container-Size": str(self.page_size),
                },
            )
            container = _container(response.json(), path)
            chunk = [m for m in container.get(key) or () if isinstance(m, dict)]
            out.extend(chunk)
            start += len(chunk)
            total = container.get("totalSize")
            if not chunk or (isinstance(total, int) and start >= total):
                return out
            if not isinstance(total, int) and len(chunk) < self.page_size:
                return out

    async def metadata(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Metadata items by ratingKey, batched ``/library/metadata/{k1,k2,…}``.

        Returns:
            The items found (unknown keys are absent).
        """
        out: list[dict[str, Any]] = []
        for start in range(0, len(keys), _BATCH):
            batch = ",".join(keys[start : start + _BATCH])
            response = await self.http.get(
                f"/library/metadata/{batch}", params={"includeGuids": 1}, expect=(404,)
            )
            if response.status_code == 404:
                continue
            container = _container(response.json(), "/library/metadata")
            out.extend(
                m for m in container.get("Metadata") or () if isinstance(m, dict)
            )
        return out

    async def scrobble(self, key: str) -> None:
        """Mark watched; adds one view, so it is never retried blindly."""
        await self.http.get(
            "/:/scrobble",
            params={"key": key, "identifier": LIBRARY_IDENTIFIER},
            route="write",
            retry=False,
        )

    async def unscrobble(self, key: str) -> None:
        """Mark unwatched (idempotent)."""
        await self.http.get(
            "/:/unscrobble",
            params={"key": key, "identifier": LIBRARY_IDENTIFIER},
            route="write",
        )

    async def rate(self, key: str, rating: float | None) -> None:
        """Set the user's 0-10 rating; ``-1`` clears it (idempotent)."""
        value = -1 if rating is None else rating
        await self.http.request(
            "PUT",
            "/:/rate",
            params={"key": key, "identifier": LIBRARY_IDENTIFIER, "rating": value},
        )


class PlexTvClient:
    """plex.tv: the account behind a token and Plex Home user switching."""

    def __init__(
        self, base_url: str, token: str, *, client_id: str, clock: Clock | None,
        logger: Logger,
    ) -> None:  # fmt: skip
        """Prepare the client for the admin token."""
        self.http = HttpClient(
            name="plex.tv",
            base_url=base_url,
            headers=plex_headers(client_id),
            clock=clock,
            secrets=[token],
            logger=logger,
        )
        self.token = token

    async def aclose(self) -> None:
        """Close connections."""
        await self.http.aclose()

    def _auth(self, token: str | None = None) -> dict[str, str]:
        return {"X-Plex-Token": token or self.token}

    async def user(self) -> Mapping[str, Any]:
        """The account of the admin token (``/api/v2/user``).

        Returns:
            The account JSON.
        """
        response = await self.http.get("/api/v2/user", headers=self._auth())
        return response.json()

    async def home_users(self) -> list[Mapping[str, Any]]:
        """Members of the admin's Plex Home (``/api/v2/home/users``).

        Returns:
            The users.
        """
        response = await self.http.get("/api/v2/home/users", headers=self._auth())
        data = response.json()
        users = data.get("users") if isinstance(data, dict) else data
        return [u for u in users or () if isinstance(u, dict)]

    async def switch(self, uuid: str, pin: str | None) -> str:
        """Switch to a Home user; their plex.tv token.

        Returns:
            The user's plex.tv token.

        Raises:
            HttpError: the switch was refused (wrong PIN: AUTH).
        """
        params = {"pin": pin} if pin else None
        response = await self.http.post(
            f"/api/v2/home/users/{uuid}/switch",
            params=params,
            headers=self._auth(),
            retry=True,
        )
        token = response.json().get("authToken")
        if not isinstance(token, str) or not token:
            raise HttpError(
                "plex.tv: switch answered without a token", code=WriteError.AUTH
            )
        self.http.add_secret(token)
        return token

    async def server_token(self, user_token: str, machine_id: str) -> str:
        """The access token a user's plex.tv token grants on one server.

        Returns:
            The server access token.

        Raises:
            HttpError: the user has no access to that server.
        """
        response = await self.http.get(
            "/api/v2/resources",
            params={"includeHttps": 1},
            headers=self._auth(user_token),
        )
        for resource in response.json() or ():
            if (
                isinstance(resource, dict)
                and resource.get("clientIdentifier") == machine_id
                and isinstance(resource.get("accessToken"), str)
            ):
                self.http.add_secret(resource["accessToken"])
                return resource["accessToken"]
        raise HttpError(
            f"plex.tv: the selected user has no access to server {machine_id}",
            code=WriteError.AUTH,
        )
