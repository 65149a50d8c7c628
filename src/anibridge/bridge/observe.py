"""What happened, in target terms: source facts → per-target observations.

A source expresses consumption in its own shape — per-episode records (servers), a
progress count on an aggregate record (trackers), play events (histories) or event
summaries. Observation turns all of them into one shape per *target anchor*: which
target units were consumed, how many times, when; plus the facts a user set directly
(status, rating, notes, dates, rewatches) on an aggregate record. The same fields are
then derived from this shape for every pair of providers.

Units are keyed by ``(target season or None, target episode)``. Each source episode is
translated through the route's range pairs (the shortest containing source range wins;
ratios weight the count), so one TVDB season can feed two AniList entries and one
entry can collect several seasons. Records on a season container (a "season watched"
flag) are expanded only to the parts its `Structure` lists — never to every mapped
special (upstream #43).

Conventions a provider must follow for part records: `STATUS` COMPLETED (or
REPEATING) marks the part consumed, ACTIVE means started but unfinished, and
`REPEAT_COUNT` counts plays beyond the first (a server's view count minus one).

A source anchor with per-episode facts (plays, play summaries or part records) is
counted by those alone: a `PROGRESS` count on its aggregate record (a tracker that
also keeps watch history, like Simkl) is a summary of the same facts, and reading it
as "episodes 1..N" as well would count episodes twice or invent ones never watched.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anibridge.bridge.codec import ref_id
from anibridge.bridge.identity import Identity, Route, part_season
from anibridge.bridge.model import Snapshot
from anibridge.provider.base import (
    EventKind,
    FacetName,
    Progress,
    Rating,
    Record,
    RecordField,
    RecordKind,
    Ref,
    State,
    Status,
    Structure,
)

__all__ = [
    "Observation",
    "UnitKey",
    "observe",
    "observe_each",
    "record_kind_semantics",
]

type UnitKey = tuple[int | None, int]

_CONSUMED = frozenset({Status.COMPLETED, Status.REPEATING})


@dataclass(slots=True)
class Observation:
    """Everything the source says about one target anchor.

    Attributes:
        target: Target anchor ref.
        sources: Source anchor keys that feed it.
        provenance: Route descriptions (mapping edges, direct ids, overrides).
        units: Consumed target units → [plays, first_at, last_at].
        weighted: Sum of ratio weights of consumed source units (count mode).
        in_progress: A unit this entry's ranges hold is started but unfinished.
        events: Exact plays as (unit, at): replayed onto event-based targets, and
            their order decides rewatch passes (`anibridge.bridge.passes`).
        explicit: Values a user set on an aggregate source record.
        explicit_at: When that record last changed.
        planned: The source has the anchor on a watchlist (`RecordKind.PLANNED`).
        collected: The source has the anchor in a collection.
        span: Highest target unit any route covers (a total when the target has
            none), or None when some route is open-ended.
        source_records: Aggregate source records used (for two-way baselines).
        approximate_times: Unit times came from an aggregate record (its last
            activity stands for every counted episode), not from per-unit plays;
            they feed entry dates but are never written as a unit's played date.
    """

    target: Ref
    sources: list[str] = field(default_factory=list)
    provenance: list[str] = field(default_factory=list)
    units: dict[UnitKey, list[Any]] = field(default_factory=dict)
    weighted: float = 0.0
    in_progress: bool = False
    events: list[tuple[UnitKey, datetime]] = field(default_factory=list)
    explicit: dict[RecordField, Any] = field(default_factory=dict)
    explicit_at: datetime | None = None
    planned: bool = False
    collected: bool = False
    span: int | None = 0
    source_records: list[Record] = field(default_factory=list)
    approximate_times: bool = False

    @property
    def first_at(self) -> datetime | None:
        """Earliest consumption time."""
        return min(
            (u[1] for u in self.units.values() if u[1] is not None), default=None
        )

    @property
    def last_at(self) -> datetime | None:
        """Latest consumption time."""
        return max(
            (u[2] for u in self.units.values() if u[2] is not None), default=None
        )


def record_kind_semantics(snapshot: Snapshot) -> dict[str, RecordKind | None]:
    """Native record kind → semantic; the default kind "" means PROGRESS."""
    out: dict[str, RecordKind | None] = {"": RecordKind.PROGRESS}
    for d in snapshot.capabilities.record_kinds:
        out[d.native] = d.semantic
    return out


def _event_kinds(snapshot: Snapshot) -> set[str]:
    kinds = {
        d.native
        for d in snapshot.capabilities.event_kinds
        if d.semantic in (EventKind.PLAY, EventKind.CHECKIN)
    }
    return kinds or {""}


def _route_span(route: Route) -> int | None:
    if route.pairs is None:
        return 0
    top = 0
    for p in route.pairs:
        for _, end in p.target:
            if end is None:
                return None
            top = max(top, end)
    return top


_MISSING: Any = object()
_KEEP = -1  # a one-to-one route without a target scope keeps the source season


def _target_season(route: Route) -> int | None:
    s = route.target_id.scope
    if s and s[0] == "s" and s[1:].isdigit():
        return int(s[1:])
    if route.pairs is None:
        return _KEEP
    return None


def _simple(route: Route) -> tuple[int, int, int] | None:
    """(lo, hi, offset) when the route is one plain closed range (the common case)."""
    pairs = route.pairs
    if pairs is None or len(pairs) != 1:
        return None
    p = pairs[0]
    if p.ratio not in (None, 1) or len(p.target) != 1 or p.source_end is None:
        return None
    start, end = p.target[0]
    if end is None or end - start != p.source_end - p.source_start:
        return None
    return p.source_start, p.source_end, start - p.source_start


def _translate(route: Route, n: int) -> tuple[tuple[int, ...], float]:
    if route.pairs is None:
        return (n,), 1.0
    best = None
    best_len = 0.0
    for p in route.pairs:
        if p.contains(n):
            length = p.source_length
            if best is None or length < best_len:
                best, best_len = p, length
    if best is None:
        return (), 0.0
    return tuple(best.translate(n)), float(best.weight)


type _Routed = tuple[Route, "Observation", int | None]


class _UnitRoutes:
    """Which routes one source unit ``(season, episode)`` feeds, and at which number.

    A seasoned part goes through its season's scoped routes (episode number within
    the season). Mapping routes from an *unscoped* show id address the show's
    absolute episode positions: regular seasons (1, 2, ...) in order, episodes in
    order within each, numbered from 1; specials (season 0) have no absolute
    position. Positions come from the anchor's `Structure`; without one only season
    1 is placed (its episode n is position n). Such a route is skipped for a season
    whose scoped routes already reach the same target, so no unit counts twice.
    One-to-one routes without ranges (direct ids) keep the source season and number.
    """

    __slots__ = ("_abs", "_anchor", "_by_season", "_entry", "_plain", "_positions")

    def __init__(
        self,
        by_season: Mapping[int | None, list[_Routed]],
        anchor_routes: list[_Routed],
        entry: Any,
    ) -> None:
        self._by_season = by_season
        self._anchor = anchor_routes
        self._entry = entry
        self._positions: dict[tuple[int, int], int] | None = None
        self._plain: dict[int | None, list[_Routed]] = {}
        self._abs: dict[int | None, list[_Routed]] = {}

    def plain(self, season: int | None) -> list[_Routed]:
        """Routes that take the unit by its own number (season-scoped or direct)."""
        found = self._plain.get(season)
        if found is None:
            if season is None:
                found = self._anchor
            else:
                found = self._by_season.get(season) or [
                    x for x in self._by_season.get(None, ()) if x[0].pairs is None
                ]
            self._plain[season] = found
        return found

    def absolute(self, season: int | None) -> list[_Routed]:
        """Unscoped mapping routes that take a seasoned unit by absolute position."""
        if season is None:
            return []
        found = self._abs.get(season)
        if found is None:
            covered = {id(o) for _, o, _ in self._by_season.get(season, ())}
            found = self._abs[season] = [
                x
                for x in self._by_season.get(None, ())
                if x[0].pairs is not None and id(x[1]) not in covered
            ]
        return found

    def position(self, season: int | None, n: int) -> int | None:
        """The absolute position of episode `n` of `season` (None: not placeable)."""
        if season is None:
            return n
        if self._positions is None:
            self._positions = _absolute_positions(self._entry)
        if self._positions:
            return self._positions.get((season, n))
        return n if season == 1 else None

    def all(self, season: int | None, n: int) -> list[tuple[Route, Any, Any, int]]:
        """Every (route, observation, target season, source number) for a unit."""
        out = [(r, o, t, n) for r, o, t in self.plain(season)]
        absolute = self.absolute(season)
        if absolute:
            pos = self.position(season, n)
            if pos is not None:
                out.extend((r, o, t, pos) for r, o, t in absolute)
        return out


def _absolute_positions(entry: Any) -> dict[tuple[int, int], int]:
    """(season, episode) → absolute position over regular seasons, from STRUCTURE."""
    node = entry.node
    st = node.facets.get(FacetName.STRUCTURE) if node is not None else None
    if not isinstance(st, Structure):
        return {}
    keys: list[tuple[int, int]] = []
    for part in st.parts:
        season = part_season(part.position)
        if season is None or season < 1 or not part.position:
            continue
        try:
            keys.append((season, int(part.position[-1].value)))
        except (TypeError, ValueError):
            continue
    return {k: i for i, k in enumerate(sorted(set(keys)), start=1)}


class _Builder:
    def __init__(self, source: Snapshot, identity: Identity) -> None:
        self.source = source
        self.identity = identity
        self.obs: dict[str, Observation] = {}
        self.kinds = record_kind_semantics(source)
        self.play_kinds = _event_kinds(source)
        axes = source.capabilities.coordinate_axes
        self.leaf_axes = {v[-1] for v in axes.values() if v}
        self.simple: dict[int, Any] = {}
        self.created: deque[str] = deque()  # rids in creation order

    def get(self, route: Route, key: str) -> Observation:
        rid = ref_id(route.target)
        o = self.obs.get(rid)
        if o is None:
            o = self.obs[rid] = Observation(route.target)
            self.created.append(rid)
        if key not in o.sources:
            o.sources.append(key)
        if route.edge and route.edge not in o.provenance:
            o.provenance.append(route.edge)
            span = _route_span(route)
            o.span = None if span is None or o.span is None else max(o.span, span)
        return o

    def consume(
        self,
        o: Observation,
        route: Route,
        tseason: int | None,
        n: int,
        plays: int,
        first: datetime | None,
        last: datetime | None,
        season: int | None = None,
    ) -> None:
        simple = self.simple.get(id(route), _MISSING)
        if simple is _MISSING:
            simple = self.simple[id(route)] = _simple(route)
        if simple is not None:
            lo, hi, offset = simple
            if not lo <= n <= hi:
                return
            targets: tuple[int, ...] = (n + offset,)
            weight = 1.0
        else:
            targets, weight = _translate(route, n)
            if not targets:
                return
        if tseason == _KEEP:
            tseason = season
        o.weighted += weight
        units = o.units
        for t in targets:
            u = units.get((tseason, t))
            if u is None:
                units[(tseason, t)] = [plays, first, last]
            else:
                u[0] = max(u[0], plays)
                if first is not None and (u[1] is None or first < u[1]):
                    u[1] = first
                if last is not None and (u[2] is None or last > u[2]):
                    u[2] = last

    def entry(self, key: str, routes: list[Route]) -> None:
        entry = self.source.entries[key]
        by_season: dict[int | None, list[tuple[Route, Observation, int | None]]] = {}
        for r in routes:
            by_season.setdefault(r.season, []).append(
                (r, self.get(r, key), _target_season(r))
            )
        anchor_routes = by_season.get(None) or [
            x for group in by_season.values() for x in group
        ]
        unit_routes = _UnitRoutes(by_season, anchor_routes, entry)
        containers: list[Record] = []
        event_units: dict[tuple[int | None, int], list[datetime]] = {}
        for ev in entry.events:
            if ev.kind not in self.play_kinds and "" not in self.play_kinds:
                continue
            if not ev.ref.path:
                event_units.setdefault((None, 0), []).append(ev.at)
                continue
            try:
                n = int(ev.ref.path[-1].value)
            except (TypeError, ValueError):
                continue
            event_units.setdefault((part_season(ev.ref.path), n), []).append(ev.at)
        summaries: dict[tuple[int | None, int], tuple[int, Any, Any]] = {}
        for sm in entry.summaries:
            if sm.kind not in self.play_kinds and "" not in self.play_kinds:
                continue
            n = 0
            if sm.ref.path:
                try:
                    n = int(sm.ref.path[-1].value)
                except (TypeError, ValueError):
                    continue
            skey = (part_season(sm.ref.path), n) if sm.ref.path else (None, 0)
            summaries[skey] = (sm.count or 0, sm.first_at, sm.last_at)
        seen: set[tuple[int | None, int]] = set()
        kinds = self.kinds
        leaf_axes = self.leaf_axes
        has_activity = bool(event_units or summaries)
        status_f, repeat_f, last_f = (
            RecordField.STATUS,
            RecordField.REPEAT_COUNT,
            RecordField.LAST_ACTIVITY_AT,
        )
        progress = RecordKind.PROGRESS
        # Hot loop (one pass per episode record): plain locals, no per-episode objects
        # beyond the unit key, and one-range routes translated inline.
        targets_for: dict[int | None, list[Any]] = {}
        last_season: Any = _MISSING
        targets: list[Any] = []
        absolute: list[tuple[Route, Observation, int | None]] = []
        progress_natives = {k for k, v in kinds.items() if v is progress}
        granular = has_activity or any(
            rec.ref.path
            and (
                rec.kind in progress_natives
                or kinds.get(rec.kind, progress) is progress
            )
            for rec in entry.records
        )
        for rec in entry.records:
            path = rec.ref.path
            kind = rec.kind
            semantic = (
                progress if kind in progress_natives else kinds.get(kind, progress)
            )
            if not path:
                self.aggregate(rec, semantic, anchor_routes, key, granular=granular)
                continue
            if semantic is not progress:
                continue
            last_step = path[-1]
            if last_step.axis == "season" or (
                leaf_axes and last_step.axis not in leaf_axes
            ):
                containers.append(rec)
                continue
            try:
                n = int(last_step.value)
            except (TypeError, ValueError):
                continue
            if len(path) > 1:
                first_step = path[0]
                season = (
                    first_step.value
                    if first_step.axis == "season" and type(first_step.value) is int
                    else part_season(path)
                )
            else:
                season = None
            values = rec.values
            state = values.get(status_f)
            status = state.status if isinstance(state, State) else None
            evs = summ = None
            ekey = (season, n)
            if has_activity:
                evs = event_units.get(ekey)
                summ = summaries.get(ekey)
            if status is Status.ACTIVE:
                # Started and unfinished now (even if played before): evidence for
                # the one entry whose range holds this episode, no other.
                self.in_progress(unit_routes, season, n)
            if status not in _CONSUMED and not evs and not summ:
                continue
            if has_activity:
                seen.add(ekey)
            repeat = values.get(repeat_f)
            plays = 1 + repeat if isinstance(repeat, int) and repeat > 0 else 1
            last = values.get(last_f)
            first = last
            if evs:
                plays = max(plays, len(evs))
                first, last = min(evs), max(evs)
            if summ:
                plays = max(plays, summ[0])
                first = summ[1] or first
                last = summ[2] or last
            if season != last_season:
                last_season = season
                found = targets_for.get(season)
                absolute = unit_routes.absolute(season)
                if found is None:
                    found = targets_for[season] = self.fast_routes(
                        unit_routes.plain(season), season
                    )
                targets = found
            for route, o, tseason, simple in targets:
                if simple is None:
                    self.consume(o, route, tseason, n, plays, first, last, season)
                    continue
                lo, hi, offset = simple
                if not lo <= n <= hi:
                    continue
                o.weighted += 1.0
                ukey = (tseason, n + offset)
                u = o.units.get(ukey)
                if u is None:
                    o.units[ukey] = [plays, first, last]
                else:
                    if plays > u[0]:
                        u[0] = plays
                    if first is not None and (u[1] is None or first < u[1]):
                        u[1] = first
                    if last is not None and (u[2] is None or last > u[2]):
                        u[2] = last
            if absolute:
                pos = unit_routes.position(season, n)
                if pos is not None:
                    for route, o, tseason in absolute:
                        self.consume(o, route, tseason, pos, plays, first, last)
        for ekey, times in event_units.items():
            if ekey in seen:
                continue
            seen.add(ekey)
            summ = summaries.get(ekey)
            plays = max(len(times), summ[0] if summ else 0)
            season, n = ekey
            if ekey == (None, 0):
                for route, o, tseason in anchor_routes:
                    self.consume_anchor(
                        o, route, tseason, plays, min(times), max(times)
                    )
                continue
            for route, o, tseason, un in unit_routes.all(season, n):
                self.consume(
                    o, route, tseason, un, plays, min(times), max(times), season
                )
        for ekey, (count, first, last) in summaries.items():
            if ekey in seen or count <= 0:
                continue
            season, n = ekey
            if ekey == (None, 0):
                for route, o, tseason in anchor_routes:
                    self.consume_anchor(o, route, tseason, count, first, last)
                continue
            for route, o, tseason, un in unit_routes.all(season, n):
                self.consume(o, route, tseason, un, count, first, last, season)
        if event_units:
            for (season, n), times in event_units.items():
                for route, o, tseason, un in (
                    [(r, o, t, 0) for r, o, t in anchor_routes]
                    if n == 0 and season is None
                    else unit_routes.all(season, n)
                ):
                    if n == 0 and season is None:
                        targets: tuple[int, ...] = (0,)
                    else:
                        targets, _ = _translate(route, un)
                    ts = season if tseason == _KEEP else tseason
                    for t in targets:
                        o.events.extend(((ts, t), at) for at in times)
        if containers and entry.node is not None:
            self.expand_containers(containers, entry.node.facets, unit_routes)

    def in_progress(self, unit_routes: _UnitRoutes, season: int | None, n: int) -> None:
        """Mark in progress the observations whose route ranges hold episode `n`."""
        for route, o, _, un in unit_routes.all(season, n):
            if not o.in_progress and _translate(route, un)[0]:
                o.in_progress = True

    def fast_routes(
        self, routes: list[tuple[Route, Observation, int | None]], season: int | None
    ) -> list[tuple[Route, Observation, int | None, tuple[int, int, int] | None]]:
        """Routes of one season with their one-range fast path precomputed."""
        out = []
        for route, o, tseason in routes:
            simple = self.simple.get(id(route), _MISSING)
            if simple is _MISSING:
                simple = self.simple[id(route)] = _simple(route)
            out.append((route, o, season if tseason == _KEEP else tseason, simple))
        return out

    def consume_anchor(
        self,
        o: Observation,
        route: Route,
        tseason: int | None,
        plays: int,
        first: datetime | None,
        last: datetime | None,
    ) -> None:
        """A play of the anchor itself (a film): unit 0 stands for "the whole"."""
        if tseason == _KEEP:
            tseason = None
        u = o.units.get((tseason, 0))
        if u is None:
            o.units[(tseason, 0)] = [plays, first, last]
        else:
            # Another fact of the whole (a second library, a dated play beside an
            # undated record) widens the times that feed the entry's dates.
            u[0] = max(u[0], plays)
            if first is not None and (u[1] is None or first < u[1]):
                u[1] = first
            if last is not None and (u[2] is None or last > u[2]):
                u[2] = last
        o.weighted = max(o.weighted, 1.0)

    def expand_containers(
        self,
        containers: list[Record],
        facets: Mapping[FacetName, Any],
        unit_routes: _UnitRoutes,
    ) -> None:
        """Consumed season (or other container) flags as their listed parts.

        Each part goes through the routes an episode record of it would take
        (season-scoped, direct, or unscoped by absolute position), so a flag counts
        exactly what per-episode records of its parts would.
        """
        structure = facets.get(FacetName.STRUCTURE)
        if not isinstance(structure, Structure):
            return  # without a structure, a season flag says nothing per episode
        for rec in containers:
            state = rec.values.get(RecordField.STATUS)
            if not isinstance(state, State) or state.status not in _CONSUMED:
                continue
            prefix = rec.ref.path
            season = part_season(prefix)
            last = rec.values.get(RecordField.LAST_ACTIVITY_AT)
            for part in structure.parts:
                pos = part.position
                if len(pos) <= len(prefix) or tuple(pos[: len(prefix)]) != prefix:
                    continue
                try:
                    n = int(pos[-1].value)
                except (TypeError, ValueError):
                    continue
                for route, o, tseason, un in unit_routes.all(season, n):
                    self.consume(o, route, tseason, un, 1, last, last, season)

    def aggregate(
        self,
        rec: Record,
        semantic: RecordKind | None,
        routes: Iterable[tuple[Route, Observation, int | None]],
        key: str,
        *,
        granular: bool = False,
    ) -> None:
        values = rec.values
        for route, o, tseason in routes:
            if rec not in o.source_records:
                o.source_records.append(rec)
            if semantic is RecordKind.PLANNED:
                o.planned = True
                continue
            if semantic is RecordKind.COLLECTION:
                o.collected = True
                continue
            if semantic is RecordKind.RATINGS:
                rating = values.get(RecordField.RATING)
                if isinstance(rating, Rating):
                    o.explicit.setdefault(RecordField.RATING, rating)
                continue
            if semantic is not RecordKind.PROGRESS:
                continue
            for f, v in values.items():
                o.explicit.setdefault(f, v)
            if rec.updated_at is not None and (
                o.explicit_at is None or rec.updated_at > o.explicit_at
            ):
                o.explicit_at = rec.updated_at
            prog = values.get(RecordField.PROGRESS)
            state = values.get(RecordField.STATUS)
            status = state.status if isinstance(state, State) else None
            last = values.get(RecordField.LAST_ACTIVITY_AT) or values.get(
                RecordField.FINISHED_AT
            )
            first = values.get(RecordField.STARTED_AT)
            if isinstance(prog, Progress) and isinstance(prog.current, (int, float)):
                if granular:
                    continue  # the anchor's per-episode facts say which episodes
                repeat = values.get(RecordField.REPEAT_COUNT)
                plays = 1 + repeat if isinstance(repeat, int) and repeat > 0 else 1
                if prog.current:
                    o.approximate_times = True
                for n in range(1, int(prog.current) + 1):
                    self.consume(o, route, tseason, n, plays, first, last)
            elif status in _CONSUMED:
                self.consume_anchor(o, route, tseason, 1, first, last)
            elif status is Status.ACTIVE:
                o.in_progress = True


def observe(source: Snapshot, identity: Identity) -> dict[str, Observation]:
    """Per-target observations keyed by the target anchor's `ref_id`.

    Args:
        source: The source snapshot.
        identity: Routes from `identify`.

    Returns:
        One observation per target anchor some source anchor routes to, with its
        exact plays (`Observation.events`: event targets replay them, and their
        times decide rewatch passes).
    """
    b = _Builder(source, identity)
    for key, routes in identity.routes.items():
        if routes and key in source.entries:
            b.entry(key, routes)
    return b.obs


def observe_each(source: Snapshot, identity: Identity) -> Iterator[Observation]:
    """The observations of `observe`, in its order, each as soon as it is complete.

    An observation is complete after the last source anchor routing to its target
    has been read; it is then handed over and forgotten here. Planning one at a
    time keeps a single library's worth of per-episode units alive at once instead
    of all of them (59 MB at 10,000 shows, the largest share of a first sync's
    peak beside the snapshots). Anchors that share a target delay only that
    target and those created after it.
    """
    keys = [
        k for k, routes in identity.routes.items() if routes and k in source.entries
    ]
    last: dict[str, int] = {}
    for i, key in enumerate(keys):
        for route in identity.routes[key]:
            last[ref_id(route.target)] = i
    b = _Builder(source, identity)
    created, obs = b.created, b.obs
    for i, key in enumerate(keys):
        b.entry(key, identity.routes[key])
        while created and last[created[0]] <= i:
            yield obs.pop(created.popleft())
