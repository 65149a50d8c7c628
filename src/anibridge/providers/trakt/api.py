"""The Trakt endpoints this provider uses, over the shared HTTP client.

Knows URLs, query parameters, pagination headers and which POSTs are safe to repeat;
knows nothing about the contract. Paginated reads follow `X-Pagination-Page-Count`
to the last page (Trakt clamps `limit` to each endpoint's maximum, so the page count
the server reports is what counts, not the limit we asked for).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from anibridge.http import HttpClient, HttpError
from anibridge.provider.base import WriteError

API_VERSION = "2"
DEFAULT_BASE_URL = "https://api.trakt.tv"


@dataclass(frozen=True, slots=True)
class PageInfo:
    """What the `X-Pagination-*` headers said about one page."""

    page: int
    limit: int
    page_count: int
    item_count: int | None


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def page_info(headers: Mapping[str, str], page: int, limit: int) -> PageInfo:
    """Read the pagination headers; absent headers mean a single page."""
    return PageInfo(
        page=_int_header(headers, "x-pagination-page") or page,
        limit=_int_header(headers, "x-pagination-limit") or limit,
        page_count=_int_header(headers, "x-pagination-page-count") or page,
        item_count=_int_header(headers, "x-pagination-item-count"),
    )


def json_list(response_json: Any, where: str) -> list[dict[str, Any]]:
    """A JSON array of objects, or a clear error naming the endpoint.

    Raises:
        HttpError: the body is not a list of objects (code INTERNAL).
    """
    if not isinstance(response_json, list) or not all(
        isinstance(item, dict) for item in response_json
    ):
        raise HttpError(
            f"trakt: {where} answered {type(response_json).__name__}, expected a list "
            "of objects",
            code=WriteError.INTERNAL,
        )
    return response_json


class TraktApi:
    """Typed-enough calls to Trakt; one instance per provider."""

    def __init__(self, client: HttpClient, *, page_size: int = 1000) -> None:
        """Use `client` and ask for `page_size` items per page (Trakt may clamp)."""
        self.client = client
        self.page_size = page_size

    async def get_json(self, path: str, **params: Any) -> Any:
        """GET `path` and decode the JSON body.

        Returns:
            The decoded body.
        """
        clean = {k: v for k, v in params.items() if v is not None}
        response = await self.client.get(path, params=clean or None)
        return response.json()

    async def get_page(
        self, path: str, *, page: int, limit: int, **params: Any
    ) -> tuple[list[dict[str, Any]], PageInfo]:
        """One page of a paginated list.

        Returns:
            The items and the page information.
        """
        clean = {k: v for k, v in params.items() if v is not None}
        clean |= {"page": page, "limit": limit}
        response = await self.client.get(path, params=clean)
        items = json_list(response.json(), path)
        return items, page_info(response.headers, page, limit)

    async def pages(
        self, path: str, *, limit: int | None = None, **params: Any
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of a paginated list, first to last.

        Yields:
            The items of each page.
        """
        size = limit or self.page_size
        page = 1
        while True:
            items, info = await self.get_page(path, page=page, limit=size, **params)
            yield items
            if page >= info.page_count or not items:
                return
            page += 1

    async def get_all(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """All items of a paginated list.

        Returns:
            The items of every page, in order.
        """
        out: list[dict[str, Any]] = []
        async for items in self.pages(path, **params):
            out.extend(items)
        return out

    async def settings(self) -> dict[str, Any]:
        """`/users/settings`: who the token belongs to.

        Returns:
            The settings object.
        """
        data = await self.get_json("/users/settings")
        return data if isinstance(data, dict) else {}

    async def last_activities(self) -> dict[str, Any]:
        """`/sync/last_activities`: per-category change timestamps.

        Returns:
            The activities object.
        """
        data = await self.get_json("/sync/last_activities")
        return data if isinstance(data, dict) else {}

    async def watched(self, media: str) -> list[dict[str, Any]]:
        """`/sync/watched/{movies|shows}`: plays per movie / episode (not paged).

        Returns:
            The watched items.
        """
        return json_list(await self.get_json(f"/sync/watched/{media}"), "watched")

    async def ratings(self) -> list[dict[str, Any]]:
        """`/sync/ratings`: every rating (pagination optional: all by default).

        Returns:
            The rated items.
        """
        return json_list(await self.get_json("/sync/ratings"), "ratings")

    async def watchlist(self) -> list[dict[str, Any]]:
        """`/sync/watchlist`: every watchlist item (pagination optional).

        Returns:
            The listed items.
        """
        return json_list(await self.get_json("/sync/watchlist"), "watchlist")

    async def collection(self, media: str) -> list[dict[str, Any]]:
        """`/sync/collection/{movies|shows}` (not paged).

        Returns:
            The collected items.
        """
        return json_list(await self.get_json(f"/sync/collection/{media}"), "collection")

    async def search_id(
        self, id_type: str, value: str, media: str
    ) -> list[dict[str, Any]]:
        """`/search/{id_type}/{id}?type=`: catalog items carrying an external id.

        Returns:
            The search results (empty when nothing carries the id).
        """
        response = await self.client.get(
            f"/search/{id_type}/{value}", params={"type": media}, expect=(404,)
        )
        if response.status_code == 404:
            return []
        return json_list(response.json(), "search")

    async def search_text(self, query: str, *, limit: int) -> list[dict[str, Any]]:
        """`/search/movie,show?query=`: title search.

        Returns:
            The search results.
        """
        response = await self.client.get(
            "/search/movie,show", params={"query": query, "limit": limit}
        )
        return json_list(response.json(), "search")

    async def summary(self, media: str, trakt_id: int) -> dict[str, Any] | None:
        """`/{movies|shows}/{id}`: one catalog item, None when unknown.

        Returns:
            The item, or None.
        """
        response = await self.client.get(f"/{media}s/{trakt_id}", expect=(404,))
        if response.status_code == 404:
            return None
        data = response.json()
        return data if isinstance(data, dict) else None

    async def seasons(self, show_id: int) -> list[dict[str, Any]]:
        """`/shows/{id}/seasons?extended=episodes`: the show's season/episode tree.

        Returns:
            The seasons with their episodes (empty when the show is unknown).
        """
        response = await self.client.get(
            f"/shows/{show_id}/seasons",
            params={"extended": "episodes"},
            expect=(404,),
        )
        if response.status_code == 404:
            return []
        return json_list(response.json(), "seasons")

    async def post(self, path: str, body: Mapping[str, Any], *, safe: bool) -> Any:
        """POST a batched body; `safe` when repeating it cannot duplicate data.

        Returns:
            The decoded envelope.
        """
        response = await self.client.post(path, json=dict(body), retry=safe)
        return response.json() if response.content else {}
