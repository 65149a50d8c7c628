"""Shelf: an example third-party AniBridge provider (see docs/writing-a-provider.md).

Shelf is a made-up watch-list service with a four-route REST API:

- ``GET /me`` → ``{"id", "name"}`` (who the token belongs to)
- ``GET /items?offset=&limit=`` → ``{"items": [...], "next": <offset or null>}``
- ``PUT /items/{id}`` with ``{"status", "progress"}`` → the item (creates it)
- ``DELETE /items/{id}``

An item is ``{"id", "title", "anilist", "episodes", "status", "progress"}`` with a
status of ``planning``, ``watching`` or ``completed``. The provider maps it onto the
contract's *list* shape: one anchor per item, its AniList id for identity, one
record with STATUS and PROGRESS.
"""

from __future__ import annotations

from anibridge.providers.shelf.provider import ShelfProvider

__all__ = ["ShelfProvider"]
