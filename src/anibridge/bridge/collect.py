"""Read a provider into a `Snapshot` (the only read I/O of a sync run).

A full collect scans anchors with their records (ids and structure hydrated), then
reads plays (events, or event summaries when the provider has no event reads), paging
every call by cursor. A targeted collect (`refs`) re-reads only given anchors and is
marked incomplete, so nothing absent from it counts as deleted. Fetches answer only on
exactly the requested refs, and library-shaped providers keep episode state on part
refs, so a targeted collect expands each anchor to its parts (from its `STRUCTURE`)
for record, event and summary reads. Everything a provider
returns is checked by `anibridge.provider.validate` before planning uses it: a broken
promise (naive datetime, `None` value, unadvertised kind) stops the run with a message
naming the provider, instead of being planned into someone's list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from anibridge import progress
from anibridge.bridge.model import Snapshot
from anibridge.dates import utcnow
from anibridge.provider import validate
from anibridge.provider.base import (
    ChangeQuery,
    EventQuery,
    EventSummaryQuery,
    FacetName,
    NodeFlag,
    NodeQuery,
    Page,
    Provider,
    RecordQuery,
    Ref,
    ScanQuery,
    SupportsChangeFeed,
    SupportsEventReads,
    SupportsEventSummaries,
    SupportsNodeReads,
    SupportsRecordReads,
    SupportsScan,
)

__all__ = ["CollectError", "changes_since", "collect", "fetch_anchors", "part_refs"]

_FACETS = frozenset({FacetName.IDS, FacetName.STRUCTURE})
_MAX_PAGES = 100_000
_BATCH = 100
_MAX_REFS = 1000  # refs per fetch call; an anchor's parts stay together below it


class CollectError(RuntimeError):
    """A provider could not be read (or paged without end)."""


async def _pages[T](
    name: str,
    section: str,
    call: Callable[[str | None], Awaitable[Page[T]]],
) -> list[T]:
    """Every item of a paged call; refuses cursors that repeat.

    Each page is reported (`anibridge.progress.Read`) as `section` of `name`.
    """
    items: list[T] = []
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(_MAX_PAGES):
        page = await call(cursor)
        items.extend(page.items)
        progress.emit(progress.Read(name, section, len(page.items)))
        cursor = page.cursor
        if cursor is None:
            return items
        if cursor in seen:
            raise CollectError(f"{name}: cursor {cursor!r} repeated; paging aborted")
        seen.add(cursor)
    raise CollectError(f"{name}: more than {_MAX_PAGES} pages")


async def collect(
    provider: Provider,
    key: str,
    *,
    refs: Sequence[Ref] | None = None,
    facets: frozenset[FacetName] = _FACETS,
    events: bool = True,
    prefer_summaries: bool = False,
) -> Snapshot:
    """Read one provider into a snapshot.

    Args:
        provider: The provider.
        key: The provider's key in the profile (names it in plans and the journal).
        refs: Only these anchors (a targeted re-read; the snapshot is incomplete).
        facets: Node facets to hydrate.
        events: Read plays too.
        prefer_summaries: Read play summaries (counts, first/last per ref) instead
            of paging every play when the provider offers both: enough when the
            caller only needs to know what was played, not each play's time.

    Returns:
        The snapshot, grouped per anchor.

    Raises:
        CollectError: the provider cannot enumerate its state.
    """
    caps = provider.capabilities()
    snap = Snapshot(key, caps, complete=refs is None, collected_at=utcnow())
    if refs is not None:
        facets = facets | {FacetName.STRUCTURE}  # a targeted read needs the parts
    facets = facets & caps.facets if caps.facets else facets
    fields = frozenset(caps.record_fields)
    if isinstance(provider, SupportsScan) and (refs is None or refs):
        roots = tuple(sorted({Ref(r.key) for r in refs or ()}, key=lambda r: r.key))
        for start in range(0, max(len(roots), 1), _BATCH if roots else 1):
            chunk = roots[start : start + _BATCH]
            items = await _pages(
                key,
                "library",
                lambda c, chunk=chunk: provider.scan(
                    ScanQuery(
                        sources=chunk,
                        flags=frozenset({NodeFlag.SCAN_ROOT}),
                        facets=facets,
                        fields=fields,
                        with_records=True,
                        cursor=c,
                    )
                ),
            )
            for item in items:
                validate.validate_scan_item(
                    key, item, facets=facets, fields=fields, capabilities=caps
                )
                entry = snap.entry(item.node.ref.key)
                if item.node.ref.is_anchor:
                    entry.node = item.node
                entry.records.extend(item.records)
    elif refs is not None:
        await fetch_anchors(provider, snap, refs, facets)
    elif isinstance(provider, SupportsRecordReads):
        records = await _pages(
            key,
            "records",
            lambda c: provider.fetch_records(RecordQuery(fields=fields, cursor=c)),
        )
        for rec in records:
            validate.validate_record(key, rec, fields=fields, capabilities=caps)
            snap.entry(rec.ref.key).records.append(rec)
    else:
        raise CollectError(f"{key}: provider can neither scan nor read records")
    parts: list[Ref] = []
    if refs is not None:
        parts = part_refs(snap, sorted({r.key for r in refs}))
        if parts:
            await _part_records(provider, snap, parts, fields)
    if events and caps.event_kinds:
        wanted = None if refs is None else [*refs, *parts]
        await _collect_events(provider, snap, wanted, prefer_summaries)
    return snap


def _by_anchor(refs: Sequence[Ref]) -> list[tuple[Ref, ...]]:
    """Batches of refs that keep an anchor's refs together where they fit.

    A provider may answer per anchor (one history request per show), so splitting an
    anchor's parts over batches would repeat that request.
    """
    groups: dict[str, list[Ref]] = {}
    for r in refs:
        groups.setdefault(r.key, []).append(r)
    out: list[tuple[Ref, ...]] = []
    current: list[Ref] = []
    for group in groups.values():
        for i in range(0, len(group), _MAX_REFS):
            piece = group[i : i + _MAX_REFS]
            if current and len(current) + len(piece) > _MAX_REFS:
                out.append(tuple(current))
                current = []
            current.extend(piece)
    if current:
        out.append(tuple(current))
    return out


def part_refs(snap: Snapshot, anchors: Sequence[str]) -> list[Ref]:
    """The part refs of `anchors`, from each anchor's `STRUCTURE` in `snap`."""
    out: list[Ref] = []
    for anchor in anchors:
        entry = snap.entries.get(anchor)
        node = entry.node if entry is not None else None
        structure = node.facets.get(FacetName.STRUCTURE) if node is not None else None
        for part in getattr(structure, "parts", ()) or ():
            if part.position:
                out.append(Ref(anchor, tuple(part.position)))
    return out


async def _part_records(
    provider: Provider, snap: Snapshot, parts: Sequence[Ref], fields: frozenset[Any]
) -> None:
    """Records on part refs (episode state), replacing any the scan returned."""
    if not isinstance(provider, SupportsRecordReads):
        return
    key = snap.provider
    for chunk in _by_anchor(parts):
        records = await _pages(
            key,
            "episodes",
            lambda c, chunk=chunk: provider.fetch_records(
                RecordQuery(refs=chunk, fields=fields, cursor=c)
            ),
        )
        for rec in records:
            validate.validate_record(
                key, rec, fields=fields, capabilities=snap.capabilities
            )
            entry = snap.entry(rec.ref.key)
            entry.records = [
                r
                for r in entry.records
                if not (r.ref == rec.ref and r.kind == rec.kind)
            ]
            entry.records.append(rec)


async def _collect_events(
    provider: Provider,
    snap: Snapshot,
    refs: Sequence[Ref] | None,
    prefer_summaries: bool,
) -> None:
    key = snap.provider
    chunks: list[tuple[Ref, ...]] = [()] if refs is None else _by_anchor(refs)
    summaries = isinstance(provider, SupportsEventSummaries) and (
        prefer_summaries or not isinstance(provider, SupportsEventReads)
    )
    for chunk in chunks:
        if not summaries and isinstance(provider, SupportsEventReads):
            events = await _pages(
                key,
                "plays",
                lambda c, chunk=chunk: provider.fetch_events(
                    EventQuery(refs=chunk, cursor=c)
                ),
            )
            for ev in events:
                validate.validate_event(key, ev, capabilities=snap.capabilities)
                snap.entry(ev.ref.key).events.append(ev)
        elif summaries and isinstance(provider, SupportsEventSummaries):
            sums = await _pages(
                key,
                "play summaries",
                lambda c, chunk=chunk: provider.fetch_event_summaries(
                    EventSummaryQuery(refs=chunk, cursor=c)
                ),
            )
            for sm in sums:
                validate.validate_event_summary(key, sm, capabilities=snap.capabilities)
                snap.entry(sm.ref.key).summaries.append(sm)


async def fetch_anchors(
    provider: Provider,
    snap: Snapshot,
    refs: Sequence[Ref],
    facets: frozenset[FacetName] = _FACETS,
) -> None:
    """Add (or refresh) the given anchors' nodes and records to a snapshot.

    Used for targeted re-reads and to learn the totals of target entries the user
    does not have yet (their `STRUCTURE`), so completion can be judged.
    """
    key = snap.provider
    anchors = sorted({r.key for r in refs})
    fields = frozenset(snap.capabilities.record_fields)
    for i in range(0, len(anchors), _BATCH):
        chunk = tuple(Ref(k) for k in anchors[i : i + _BATCH])
        if isinstance(provider, SupportsNodeReads):
            nodes = await _pages(
                key,
                "entries",
                lambda c, chunk=chunk: provider.fetch_nodes(
                    NodeQuery(refs=chunk, facets=facets, cursor=c)
                ),
            )
            for node in nodes:
                validate.validate_node(
                    key, node, facets=facets, capabilities=snap.capabilities
                )
                if node.ref.is_anchor:
                    snap.entry(node.ref.key).node = node
        if isinstance(provider, SupportsRecordReads) and not snap.complete:
            records = await _pages(
                key,
                "entry records",
                lambda c, chunk=chunk: provider.fetch_records(
                    RecordQuery(refs=chunk, fields=fields, cursor=c)
                ),
            )
            for rec in records:
                validate.validate_record(
                    key, rec, fields=fields, capabilities=snap.capabilities
                )
                entry = snap.entry(rec.ref.key)
                entry.records = [
                    r
                    for r in entry.records
                    if not (r.ref == rec.ref and r.kind == rec.kind)
                ]
                entry.records.append(rec)


async def changes_since(
    provider: Provider, key: str, cursor: str | None
) -> tuple[set[str] | None, str | None]:
    """Anchor keys touched since `cursor`, and the cursor to resume from.

    Returns `(None, None)` when the provider has no change feed, and `(None,
    cursor)` when some change names no ref ("something was removed"): the caller
    must then read the whole provider, never drop the change. With `cursor` None
    the feed is read to its end only to learn the current position (the keys are
    then meaningless: the caller does a full collect).

    Raises:
        CollectError: the feed pages without end.
    """
    if not isinstance(provider, SupportsChangeFeed):
        return None, None
    keys: set[str] = set()
    whole = False
    seen: set[str] = set()
    for _ in range(_MAX_PAGES):
        page = await provider.poll_changes(ChangeQuery(cursor=cursor))
        for change in page.items:
            if change.ref is not None:
                keys.add(change.ref.key)
            else:
                whole = True
        if page.cursor is None:
            return (None if whole else keys), cursor
        if not page.items:
            return (None if whole else keys), page.cursor
        if page.cursor in seen:
            raise CollectError(f"{key}: change cursor {page.cursor!r} repeated")
        seen.add(page.cursor)
        cursor = page.cursor
    raise CollectError(f"{key}: change feed longer than {_MAX_PAGES} pages")
