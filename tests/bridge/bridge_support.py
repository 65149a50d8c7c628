"""Shared helpers for the engine tests (real mappings, real memory providers)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from anibridge.bridge.collect import collect
from anibridge.bridge.identity import identify
from anibridge.bridge.model import Plan, Policy
from anibridge.bridge.plan import make_plan
from anibridge.bridge.stores import MemoryStores
from anibridge.mappings import MappingIndex, load_index
from anibridge.provider.testing.memory import (
    episode_ref,
    library_capabilities,
    library_show,
    list_capabilities,
    list_entry,
    memory_provider,
    watched_record,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@cache
def curated() -> MappingIndex:
    """The bundled curated mappings file (real entries)."""
    return load_index(notice=None)


def custom_index(tmp: Path, yaml_text: str) -> MappingIndex:
    path = tmp / "mappings.yaml"
    path.write_text(yaml_text)
    return load_index([path], include_default=False, notice=None)


async def nosleep(_: float) -> None:
    return None


class Sleeps:
    """A fake backoff sleep that records its delays.

    It refuses to sleep more than `limit` times, so a retry loop that never ends
    fails the test instead of hanging it.
    """

    def __init__(self, limit: int = 50) -> None:
        self.delays: list[float] = []
        self.limit = limit

    async def __call__(self, seconds: float) -> None:
        if len(self.delays) >= self.limit:
            raise AssertionError(f"slept {self.limit} times: the retries never end")
        self.delays.append(seconds)


def library(shows, records=(), events=(), writable=False):
    nodes = []
    for key, title, seasons, ids in shows:
        nodes.extend(library_show(key, title, seasons, ids=ids))
    return memory_provider(
        library_capabilities(writable=writable),
        nodes=nodes,
        records=records,
        events=events,
    )


def tracker(entries, records=(), **caps):
    nodes = [
        list_entry(key, title, episodes=eps, ids=ids)
        for key, title, eps, ids in entries
    ]
    return memory_provider(list_capabilities(**caps), nodes=nodes, records=records)


def watched(key, season, episodes, *, start=T0, repeat=None, step_hours=1):
    return [
        watched_record(
            episode_ref(key, season, e),
            last_viewed=start + timedelta(hours=step_hours * i),
            repeat_count=repeat,
        )
        for i, e in enumerate(episodes)
    ]


async def plan_between(
    source,
    target,
    policy=None,
    *,
    index=None,
    stores=None,
    source_key="src",
    target_key="tgt",
    reverse=False,
) -> Plan:
    policy = policy or Policy()
    stores = stores or MemoryStores()
    a = await collect(source, source_key)
    b = await collect(target, target_key)
    idx = index if index is not None else curated()
    ab = await identify(a, b, idx, provider=target)
    ba = await identify(b, a, idx, provider=source) if reverse else None
    return make_plan(
        a,
        b,
        ab,
        policy,
        identity_ba=ba,
        baselines=stores.baselines(policy.profile),
        pins=stores.pins(policy.profile),
        sent=functools.partial(stores.event_sent, policy.profile),
    )


def by_field(plan: Plan, provider: str | None = None):
    """{(ref key, field): after} over all record actions of the plan."""
    out = {}
    for a in plan.actions:
        if provider and a.provider != provider:
            continue
        for f, v in a.after.items():
            out[(repr(a.ref), f)] = v
    return out


def history_capabilities():
    """A Trakt-like history: plays as appendable events, watchlist and ratings kinds."""
    from anibridge.provider.base import (
        Capabilities,
        Descriptor,
        EventKind,
        FacetName,
        FieldSpec,
        NodeKind,
        NumericConstraint,
        RecordField,
        RecordKind,
        Role,
        WriteOp,
    )

    return Capabilities(
        roles=frozenset({Role.SOURCE, Role.TARGET}),
        facets=frozenset(FacetName),
        node_kinds=(Descriptor("show", NodeKind.SERIES),),
        coordinate_axes={"show": ("season", "episode")},
        record_kinds=(
            Descriptor("watchlist", RecordKind.PLANNED),
            Descriptor("ratings", RecordKind.RATINGS),
        ),
        record_fields={
            RecordField.RATING: FieldSpec(
                RecordField.RATING,
                writable=True,
                constraints=(NumericConstraint(1, 10, 1),),
            )
        },
        event_kinds=(Descriptor("watch", EventKind.PLAY),),
        write_ops=frozenset(
            {
                WriteOp.UPSERT_RECORD,
                WriteOp.DELETE_RECORD,
                WriteOp.APPEND_EVENT,
                WriteOp.DELETE_EVENT,
            }
        ),
        external_authorities=frozenset({"tvdb_show", "tmdb_show"}),
    )


def history(shows, events=(), records=()):
    caps = history_capabilities()
    nodes = []
    for key, title, seasons, ids in shows:
        nodes.extend(library_show(key, title, seasons, ids=ids)[:1])
    return memory_provider(caps, nodes=nodes, events=events, records=records)


TWO_SHOWS = (
    'anilist:100:\n  tvdb_show:500:s1:\n    "1-12": "1-12"\n'
    'anilist:200:\n  tvdb_show:600:s1:\n    "1-12": "1-12"\n'
)
"""Custom mappings of `two_shows`: TVDB 500/600 season 1 → AniList 100/200."""


def two_shows():
    """Show a watched to episode 3, show b whole; both on an AniList list.

    Returns:
        The providers by name (``plex``, ``anilist``) and empty stores.
    """
    src = library(
        [
            ("a", "A", {1: 12}, ["tvdb_show:500"]),
            ("b", "B", {1: 12}, ["tvdb_show:600"]),
        ],
        watched("a", 1, range(1, 4)) + watched("b", 1, range(1, 13)),
    )
    dst = tracker(
        [("100", "A", 12, ["anilist:100"]), ("200", "B", 12, ["anilist:200"])]
    )
    return {"plex": src, "anilist": dst}, MemoryStores()
