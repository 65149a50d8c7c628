"""Batched Simkl write bodies and their answers (no I/O).

Every Simkl write endpoint takes arrays (``movies[]``, ``shows[]``, ``anime[]``), so
one request carries a whole batch; each item names its title by Simkl id, which
"always wins" in Simkl's id resolution. Answers echo unknown items under
``not_found``; those map back to the writes that named them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anibridge.providers.simkl.api import simkl_time
from anibridge.providers.simkl.library import Title
from anibridge.providers.simkl.vocabulary import ANIME, BUCKETS, SHOW

__all__ = ["Item", "build_body", "chunks", "not_found_ids", "statuses_by_id"]


@dataclass(slots=True)
class Item:
    """One title's share of a request, and the write positions it serves."""

    title: Title
    positions: list[int] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    episodes: dict[tuple[int | None, int], datetime | None] = field(
        default_factory=dict
    )


def chunks[T](items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in slices of at most `size`."""
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]


def _entry(item: Item) -> dict[str, Any]:
    title = item.title
    out: dict[str, Any] = {"ids": {"simkl": title.simkl_id}}
    if title.title:
        out["title"] = title.title
    if title.year:
        out["year"] = title.year
    out.update(item.fields)
    if not item.episodes:
        return out
    if title.kind == ANIME:
        out["episodes"] = [
            _episode(n, when) for (_, n), when in sorted(item.episodes.items())
        ]
    elif title.kind == SHOW:
        seasons: dict[int, list[dict[str, Any]]] = {}
        for (season, n), when in sorted(
            item.episodes.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1])
        ):
            seasons.setdefault(season or 0, []).append(_episode(n, when))
        out["seasons"] = [
            {"number": s, "episodes": eps} for s, eps in sorted(seasons.items())
        ]
    return out


def _episode(number: int, when: datetime | None) -> dict[str, Any]:
    out: dict[str, Any] = {"number": number}
    if when is not None:
        out["watched_at"] = simkl_time(when)
    return out


def build_body(items: Iterable[Item]) -> dict[str, list[dict[str, Any]]]:
    """The request body for `items`, each title in its type's array."""
    body: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        bucket = BUCKETS[item.title.kind][0]
        body.setdefault(bucket, []).append(_entry(item))
    return body


def _entries(envelope: Any, section: str) -> Iterator[Mapping[str, Any]]:
    part = envelope.get(section) if isinstance(envelope, Mapping) else None
    if not isinstance(part, Mapping):
        return
    for values in part.values():
        if isinstance(values, list):
            yield from (v for v in values if isinstance(v, Mapping))


def not_found_ids(envelope: Any) -> set[int]:
    """Simkl ids the answer lists under ``not_found``."""
    out: set[int] = set()
    for entry in _entries(envelope, "not_found"):
        ids = entry.get("ids")
        value = ids.get("simkl") if isinstance(ids, Mapping) else None
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            out.add(int(value))
    return out


def statuses_by_id(envelope: Any) -> dict[int, str]:
    """The list status Simkl reports per title after a history or ratings write."""
    out: dict[int, str] = {}
    added = envelope.get("added") if isinstance(envelope, Mapping) else None
    statuses = added.get("statuses") if isinstance(added, Mapping) else None
    for entry in statuses or ():
        if not isinstance(entry, Mapping):
            continue
        request, response = entry.get("request"), entry.get("response")
        ids = request.get("ids") if isinstance(request, Mapping) else None
        value = ids.get("simkl") if isinstance(ids, Mapping) else None
        status = response.get("status") if isinstance(response, Mapping) else None
        if isinstance(value, int) and isinstance(status, str):
            out[value] = status
    return out
