"""Who is who: source anchors (and their seasons) → target anchor refs.

For each source anchor the engine gathers its external ids (the `IDS` facet and record
ids) and uses them exactly as the provider emitted them: a scoped id
(``tvdb_show:78857:s2``, ``anidb:69:R``) stands for its season; an unscoped show id
(``tvdb_show:78857``, a HAMA ``tvdb2-`` absolute-order id) is looked up as is and
covers the whole show, its mapping ranges addressing the show's *absolute* episode
positions (see `anibridge.bridge.observe`). Ids are never re-scoped here: only the
provider knows whether its seasons are the authority's seasons. Each descriptor then
becomes routes to the target:

1. a user override for the anchor/part wins over everything;
2. a *direct* id — one whose authority the target resolves itself
   (`Capabilities.external_authorities`) — wins over the dataset; when none of an
   anchor's direct ids resolves on the target (a catalogue that files a series'
   seasons as separate titles refuses a series-wide id), its ids go through the
   dataset after all;
3. otherwise the mappings index's edges towards the target's authorities, each carrying
   its range pairs (which source episodes go where, with ratios);
4. optionally, when nothing matched, a fuzzy title search on the target (rapidfuzz,
   off by default) whose score is recorded.

Target descriptors are resolved to refs from the target snapshot's own ids first (no
I/O), then from cached links, then by one batched `resolve()` on the target.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from anibridge.bridge.codec import ref_id
from anibridge.bridge.model import Snapshot
from anibridge.bridge.pause_gc import paused_gc
from anibridge.bridge.stores import Link, Override
from anibridge.provider.base import (
    ExternalId,
    FacetName,
    Identifiers,
    Ref,
    SupportsMapping,
    SupportsNodeSearch,
)

__all__ = [
    "EdgeIndex",
    "Identity",
    "Route",
    "cached_targets",
    "identify",
    "part_season",
    "snapshot_resolver",
]

_RESOLVE_BATCH = 200


class EdgeIndex(Protocol):
    """The part of `anibridge.mappings.MappingIndex` identity needs."""

    def edges(
        self, source: ExternalId, *, to: Collection[str] | None = None
    ) -> tuple[Any, ...]:
        """Edges leaving `source`, optionally only towards authorities `to`."""
        ...


@dataclass(frozen=True, slots=True)
class Route:
    """How one source anchor (or one of its seasons) reaches one target anchor.

    Attributes:
        source_key: Source anchor key.
        source_part: Source descriptor the route starts from.
        season: Source season the route covers; None covers unseasoned parts and
            the anchor itself.
        target_id: Target descriptor (its scope places units in target seasons).
        target: Resolved target anchor ref.
        pairs: Mapping range pairs; None means units map one to one.
        via: ``override``, ``direct``, ``mapping`` or ``fuzzy``.
        edge: Human-readable provenance of the route.
        score: Fuzzy match score.
    """

    source_key: str
    source_part: str
    season: int | None
    target_id: ExternalId
    target: Ref
    pairs: tuple[Any, ...] | None = None
    via: str = "mapping"
    edge: str = ""
    score: float | None = None


@dataclass(slots=True)
class Identity:
    """Routes per source anchor key, plus why the others found no target."""

    routes: dict[str, list[Route]] = field(default_factory=dict)
    unresolved: dict[str, str] = field(default_factory=dict)

    def links(self, profile: str, source: str, target: str, now: str) -> list[Link]:
        """Identity links for the store (one per route)."""
        return [
            Link(
                profile,
                source,
                r.source_key,
                r.source_part,
                target,
                ref_id(r.target),
                r.via,
                r.edge,
                r.score,
                now,
            )
            for routes in self.routes.values()
            for r in routes
        ]


def cached_targets(links: Iterable[Link]) -> dict[str, Ref]:
    """Target descriptor → target ref from stored links (skips `resolve()` calls).

    The target descriptor is read back from the link's provenance (`Route.edge`:
    ``src -> dst {...}`` for mapping routes, the descriptor itself for direct ones).
    """
    out: dict[str, Ref] = {}
    for link in links:
        if link.via == "direct":
            target = link.edge
        elif link.via == "mapping" and " -> " in link.edge:
            target = link.edge.split(" -> ", 1)[1].split(" ", 1)[0]
        else:
            continue
        if target:
            out.setdefault(target, _ref_from_id(link.target_ref))
    return out


def part_season(path: Sequence[Any]) -> int | None:
    """The season number of a part path, if it has a season coordinate."""
    for step in path:
        if step.axis == "season":
            try:
                return int(step.value)
            except (TypeError, ValueError):
                return None
    return None


def _entry_ids(snapshot: Snapshot, key: str) -> list[ExternalId]:
    entry = snapshot.entries[key]
    seen: dict[str, ExternalId] = {}
    if entry.node is not None:
        ids = entry.node.facets.get(FacetName.IDS)
        if isinstance(ids, Identifiers):
            for i in ids.ids:
                seen.setdefault(i.descriptor, i)
    for rec in entry.records:
        if rec.ref.is_anchor:
            for i in rec.ids:
                seen.setdefault(i.descriptor, i)
    return list(seen.values())


def _pairs_text(pairs: Iterable[Any]) -> str:
    return "{" + ", ".join(f"{p.source_range}: {p.target_spec()}" for p in pairs) + "}"


def snapshot_resolver(snapshot: Snapshot) -> dict[str, Ref]:
    """Descriptor → anchor ref from a target snapshot's own ids (no I/O)."""
    out: dict[str, Ref] = {}
    for key in snapshot.entries:
        for i in _entry_ids(snapshot, key):
            out.setdefault(i.descriptor, Ref(key))
    return out


def _unscoped(i: ExternalId) -> ExternalId:
    return ExternalId(i.authority, i.value) if i.scope is not None else i


async def identify(
    source: Snapshot,
    target: Snapshot,
    index: EdgeIndex | None,
    *,
    provider: object | None = None,
    overrides: Sequence[Override] = (),
    cached: Mapping[str, Ref] | None = None,
    fuzzy_threshold: float | None = None,
    keys: Iterable[str] | None = None,
) -> Identity:
    """Route source anchors to target anchors.

    Args:
        source: The source snapshot.
        target: The target snapshot (its ids resolve descriptors without I/O).
        index: Mapping edges; None limits identity to direct ids and overrides.
        provider: The target provider, for `resolve()` and fuzzy `search_nodes()`.
        overrides: User overrides for this provider pair.
        cached: Descriptor → target ref from previously stored links.
        fuzzy_threshold: Title-match score (0-100) to accept; None disables it.
        keys: Only these source anchors (default: all).

    Returns:
        The routes per source anchor and the reasons for anchors without one.
    """
    authorities = frozenset(target.capabilities.external_authorities)
    ov: dict[tuple[str, str], Override] = {
        (o.source_key, o.source_part): o for o in overrides
    }
    # (source key, part, season, target id, pairs, via, edge)
    pending: list[tuple[str, str, int | None, ExternalId, Any, str, str]] = []
    result = Identity()
    with paused_gc():
        by_descriptor = snapshot_resolver(target)
        if cached:
            for d, r in cached.items():
                by_descriptor.setdefault(d, r)
        _route_candidates(source, keys, ov, authorities, index, pending, result)
    await _resolve_missing(pending, by_descriptor, provider)
    with paused_gc():
        _attach(pending, by_descriptor, result)
        fallback: list[tuple[str, str, int | None, ExternalId, Any, str, str]] = []
        if index is not None:
            direct_keys = {p[0] for p in pending if p[5] == "direct"}
            _route_candidates(
                source,
                [k for k in direct_keys if k not in result.routes],
                ov,
                authorities,
                index,
                fallback,
                result,
                direct=False,
            )
    if fallback:
        await _resolve_missing(fallback, by_descriptor, provider)
        with paused_gc():
            _attach(fallback, by_descriptor, result)
    if fuzzy_threshold is not None and isinstance(provider, SupportsNodeSearch):
        await _fuzzy(source, result, provider, fuzzy_threshold)
    _prefer_direct(result)
    return result


def _route_candidates(
    source: Snapshot,
    keys: Iterable[str] | None,
    ov: Mapping[tuple[str, str], Override],
    authorities: frozenset[str],
    index: EdgeIndex | None,
    pending: list[tuple[str, str, int | None, ExternalId, Any, str, str]],
    result: Identity,
    *,
    direct: bool = True,
) -> None:
    """Overrides, direct ids and mapping edges for every source anchor (no I/O).

    With `direct` False, ids the target resolves itself are not taken as direct:
    only the dataset's edges are followed (the fallback for unresolved anchors).
    """
    for key in keys if keys is not None else source.entries:
        if key not in source.entries:
            continue
        ids = _entry_ids(source, key)
        o = ov.get((key, ""))
        if o is not None:
            if o.target_ref is None:
                result.unresolved[key] = "unlinked by override"
            else:
                result.routes[key] = [
                    Route(
                        key, "", None, ExternalId("ref", o.target_ref),
                        _ref_from_id(o.target_ref), None, "override",
                        f"override -> {o.target_ref}",
                    )
                ]  # fmt: skip
            continue
        candidates = [(i, _scope_season(i)) for i in ids]
        own = [(c, s) for c, s in candidates if c.authority in authorities]
        if not direct:
            own = []
        found = False
        for c, s in own or candidates:
            po = ov.get((key, c.descriptor))
            if po is not None:
                if po.target_ref is not None:
                    result.routes.setdefault(key, []).append(
                        Route(
                            key, c.descriptor, s, c, _ref_from_id(po.target_ref),
                            None, "override", f"override {c.descriptor} -> "
                            f"{po.target_ref}",
                        )
                    )  # fmt: skip
                found = True
                continue
            if own:
                pending.append((key, c.descriptor, s, c, None, "direct", c.descriptor))
                found = True
                continue
            if index is None:
                continue
            for edge in index.edges(c, to=authorities):
                pairs = tuple(p for p in edge.pairs if not p.disabled)
                if not pairs:
                    continue
                text = (
                    f"{c.descriptor} -> {edge.target.descriptor} {_pairs_text(pairs)}"
                )
                pending.append(
                    (key, c.descriptor, s, edge.target, pairs, "mapping", text)
                )
                found = True
        if not found:
            reason = (
                "no ids"
                if not ids
                else "no mapping to " + ",".join(sorted(authorities))
            )
            if direct:
                result.unresolved[key] = reason
            else:  # keep why the direct ids failed
                result.unresolved.setdefault(key, reason)


def _attach(
    pending: Sequence[tuple[str, str, int | None, ExternalId, Any, str, str]],
    by_descriptor: Mapping[str, Ref],
    result: Identity,
) -> None:
    """Turn resolved target descriptors into routes."""
    for key, part, season, tid, pairs, via, edge in pending:
        ref = by_descriptor.get(tid.descriptor) or by_descriptor.get(
            _unscoped(tid).descriptor
        )
        if ref is None:
            if key not in result.routes:
                result.unresolved.setdefault(key, f"{tid.descriptor} not on target")
            continue
        result.routes.setdefault(key, []).append(
            Route(key, part, season, tid, ref, pairs, via, edge)
        )
        result.unresolved.pop(key, None)


def _prefer_direct(result: Identity) -> None:
    """Direct ids beat the dataset; one source authority per (season, target).

    A direct id or a whole-anchor override replaces every dataset route of the
    anchor; a part override replaces only its own part, so re-pointing season 2
    keeps season 1 on its mapping (as unlinking season 2 does). A server may list
    ids of several catalogues (TVDB and TMDB) whose season numbering differs; only
    the first-listed authority that reaches a target is used for it, and only one
    target descriptor per source part and target, so an episode is never counted
    twice or through the wrong ordering.
    """
    for key, routes in result.routes.items():
        overridden = {r.source_part for r in routes if r.via == "override"}
        if "" in overridden or any(r.via == "direct" for r in routes):
            routes = [r for r in routes if r.via != "mapping"]
        elif overridden:
            routes = [
                r
                for r in routes
                if r.via != "mapping" or r.source_part not in overridden
            ]
        chosen: dict[tuple[int | None, str], str] = {}
        via_id: dict[tuple[str, str], str] = {}  # (part, target+scope) -> authority
        kept = []
        for r in routes:
            authority = r.source_part.split(":", 1)[0]
            first = chosen.setdefault((r.season, r.target.key), authority)
            if first != authority:
                continue
            # Two descriptors of one target (anilist:20 and mal:20 both resolving
            # to the same entry) are one route, not two.
            slot = (r.source_part, r.target.key + "\x1f" + (r.target_id.scope or ""))
            target_id = via_id.setdefault(slot, r.target_id.authority)
            if target_id == r.target_id.authority:
                kept.append(r)
        result.routes[key] = kept


def _scope_season(i: ExternalId) -> int | None:
    """The season a scoped id stands for (``sN``; AniDB ``R`` = 1, ``S`` = 0)."""
    scope = i.scope
    if not scope:
        return None
    if scope[0] == "s" and scope[1:].isdigit():
        return int(scope[1:])
    if i.authority == "anidb":
        return {"R": 1, "S": 0}.get(scope)
    return None


def _ref_from_id(text: str) -> Ref:
    key, _, rest = text.partition("/")
    if not rest:
        return Ref(key)
    steps = []
    for chunk in rest.split("/"):
        axis, _, value = chunk.partition("=")
        steps.append((axis, int(value) if value.lstrip("-").isdigit() else value))
    return Ref.at(key, *steps)


async def _resolve_missing(
    pending: Sequence[tuple[str, str, int | None, ExternalId, Any, str, str]],
    by_descriptor: dict[str, Ref],
    provider: object | None,
) -> None:
    if not isinstance(provider, SupportsMapping):
        return
    missing: dict[str, ExternalId] = {}
    for _, _, _, tid, _, _, _ in pending:
        if tid.descriptor in by_descriptor:
            continue
        if _unscoped(tid).descriptor in by_descriptor:
            continue
        missing.setdefault(tid.descriptor, tid)
    todo = list(missing.values())
    for start in range(0, len(todo), _RESOLVE_BATCH):
        batch = todo[start : start + _RESOLVE_BATCH]
        best: dict[str, tuple[float, Ref]] = {}
        for m in await provider.resolve(batch):
            score = m.confidence if m.confidence is not None else 1.0
            d = m.external_id.descriptor
            if d not in best or score > best[d][0]:
                best[d] = (score, Ref(m.ref.key, m.ref.path))
        for d, (_, ref) in best.items():
            by_descriptor[d] = ref


async def _fuzzy(
    source: Snapshot,
    result: Identity,
    provider: SupportsNodeSearch,
    threshold: float,
) -> None:
    from rapidfuzz import fuzz

    for key in list(result.unresolved):
        entry = source.entries.get(key)
        title = entry.node.title if entry and entry.node else None
        if not title:
            continue
        page = await provider.search_nodes(title, limit=10)
        scored = [
            (fuzz.ratio(title.casefold(), (n.title or "").casefold()), n)
            for n in page.items
        ]
        scored = [(s, n) for s, n in scored if s >= threshold]
        if not scored:
            continue
        score, node = max(scored, key=lambda sn: sn[0])
        result.routes[key] = [
            Route(
                key, "", None, ExternalId("title", title), Ref(node.ref.key), None,
                "fuzzy", f"title {title!r} ~ {node.title!r} ({score:.0f})",
                round(score, 1),
            )
        ]  # fmt: skip
        del result.unresolved[key]
