"""A fake Shelf server on loopback, built on AniBridge's fake-service base.

`FakeService` gives a real HTTP server on 127.0.0.1, routing, rate limits on a
clock tests can speed up, fault injection and request counters; a fake only adds
the service's routes and state.
"""

from __future__ import annotations

from typing import Any

from anibridge.testing.fakes.server import (
    FakeLimit,
    FakeRequest,
    FakeService,
    HttpFault,
)

CATALOG = {21: ("One Piece", None), 20: ("Naruto", 220), 1: ("Cowboy Bebop", 26)}


class ShelfFake(FakeService):
    """One Shelf user and their items, 60 requests a minute."""

    def __init__(self, *, token: str = "shelf-token", time_scale: float = 1.0) -> None:
        super().__init__(time_scale=time_scale, limits=[FakeLimit(60, 60.0)])
        self.token = token
        self.items: dict[int, dict[str, Any]] = {}
        self.route("GET", r"/me", self._me, kind="identity")
        self.route("GET", r"/items", self._list)
        self.route("PUT", r"/items/(?P<id>\d+)", self._put, kind="write")
        self.route("DELETE", r"/items/(?P<id>\d+)", self._delete, kind="write")

    def add(self, anilist_id: int, status: str, progress: int = 0) -> None:
        title, episodes = CATALOG[anilist_id]
        self.items[anilist_id] = {
            "id": anilist_id, "title": title, "anilist": anilist_id,
            "episodes": episodes, "status": status, "progress": progress,
        }  # fmt: skip

    def _check(self, request: FakeRequest) -> None:
        if request.header("Authorization") != f"Bearer {self.token}":
            raise HttpFault(401, {"error": "unauthorized"})

    def _me(self, request: FakeRequest) -> Any:
        self._check(request)
        return {"id": "u1", "name": "Shelf User"}

    def _list(self, request: FakeRequest) -> Any:
        self._check(request)
        offset = int(request.arg("offset", "0") or 0)
        limit = min(int(request.arg("limit", "100") or 100), 100)
        rows = [self.items[k] for k in sorted(self.items)]
        page = rows[offset : offset + limit]
        nxt = offset + limit if offset + limit < len(rows) else None
        return {"items": page, "next": nxt}

    def _put(self, request: FakeRequest) -> Any:
        self._check(request)
        item_id = int(request.params["id"])
        if item_id not in CATALOG:
            raise HttpFault(404, {"error": "not in the catalog"})
        body = request.json() or {}
        if body.get("status", "planning") not in ("planning", "watching", "completed"):
            raise HttpFault(400, {"error": "bad status"})
        if item_id not in self.items:
            self.add(item_id, "planning")
        self.items[item_id].update(body)
        return self.items[item_id]

    def _delete(self, request: FakeRequest) -> Any:
        self._check(request)
        if self.items.pop(int(request.params["id"]), None) is None:
            raise HttpFault(404, {"error": "no such item"})
        return {}
