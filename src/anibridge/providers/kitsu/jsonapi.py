"""Reading JSON:API documents (https://jsonapi.org/format/) as Kitsu sends them.

A document has primary ``data`` (one resource or a list), ``included`` resources
(side-loaded by ``include=``), ``links`` (``next`` for paging) and ``meta``
(``count``). Resources are ``{"id", "type", "attributes", "relationships"}``; a
relationship's ``data`` is a ``{"type", "id"}`` identifier or a list of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MEDIA_TYPE", "Document", "attrs", "related", "related_many"]

MEDIA_TYPE = "application/vnd.api+json"

type Key = tuple[str, str]


@dataclass(slots=True)
class Document:
    """A decoded JSON:API document."""

    data: list[dict[str, Any]] = field(default_factory=list)
    included: dict[Key, dict[str, Any]] = field(default_factory=dict)
    next: str | None = None
    count: int | None = None

    @classmethod
    def parse(cls, body: Any) -> Document:
        """Decode `body`; anything that is not a JSON:API document reads as empty.

        Raises:
            ValueError: `body` is not a JSON object with ``data``.
        """
        if not isinstance(body, Mapping) or "data" not in body:
            raise ValueError("not a JSON:API document (no 'data')")
        data = body.get("data")
        items = data if isinstance(data, list) else [data] if data else []
        doc = cls(data=[r for r in items if isinstance(r, dict)])
        for resource in body.get("included") or ():
            if isinstance(resource, dict) and "type" in resource and "id" in resource:
                doc.included[(str(resource["type"]), str(resource["id"]))] = resource
        links = body.get("links")
        if isinstance(links, Mapping) and isinstance(links.get("next"), str):
            doc.next = links["next"] or None
        meta = body.get("meta")
        if isinstance(meta, Mapping) and isinstance(meta.get("count"), int):
            doc.count = meta["count"]
        return doc

    def find(self, key: Key | None) -> dict[str, Any] | None:
        """An included resource by (type, id)."""
        return self.included.get(key) if key is not None else None


def attrs(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource's attributes (empty when absent)."""
    value = resource.get("attributes")
    return value if isinstance(value, Mapping) else {}


def _identifier(data: Any) -> Key | None:
    if isinstance(data, Mapping) and "type" in data and "id" in data:
        return str(data["type"]), str(data["id"])
    return None


def related(resource: Mapping[str, Any], name: str) -> Key | None:
    """The (type, id) a to-one relationship points at, if it was sent."""
    relationships = resource.get("relationships")
    if not isinstance(relationships, Mapping):
        return None
    rel = relationships.get(name)
    return _identifier(rel.get("data")) if isinstance(rel, Mapping) else None


def related_many(resource: Mapping[str, Any], name: str) -> list[Key]:
    """The (type, id)s a to-many relationship points at, if they were sent."""
    relationships = resource.get("relationships")
    rel = relationships.get(name) if isinstance(relationships, Mapping) else None
    data = rel.get("data") if isinstance(rel, Mapping) else None
    if not isinstance(data, list):
        return []
    return [k for k in (_identifier(d) for d in data) if k is not None]
