"""Kitsu's vocabulary in contract terms: kinds, statuses, ids, capabilities (no I/O).

Anchors are Kitsu anime ids (``Ref.anchor("1")``), one list entry per anime (the
tracker shape). Statuses: ``current``, ``planned``, ``completed``, ``on_hold``,
``dropped``; a ``current`` entry with ``reconsuming: true`` is REPEATING (native label
``reconsuming``). Ratings are ``ratingTwenty``: a count of points out of 20 that
Kitsu shows halved (16 = 8/10), 2 at least, null = unrated; AniBridge states them on
the scale (1, 20, 1) so 8/10 elsewhere is 16 here, and writes a 1 as Kitsu's
minimum 2.

Ids: ``kitsu:N`` plus what Kitsu's `/mappings` resource knows of the anime —
``myanimelist/anime`` → ``mal``, ``anilist/anime`` → ``anilist``, ``anidb`` →
``anidb:N:R``, and TheTVDB season mappings (``thetvdb`` ``"81797/2"``) →
``tvdb_show:81797:s2`` — so a Kitsu entry joins the anibridge-mappings graph, which
has no ``kitsu`` descriptors. A bare series mapping (``thetvdb/series``) is not
emitted: it names the whole TV series while a Kitsu anime is one season of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from anibridge.provider.base import (
    Capabilities,
    ChangeKind,
    Descriptor,
    ExternalId,
    FacetName,
    FieldSpec,
    NodeFlag,
    NodeKind,
    NumericConstraint,
    ProgressConstraint,
    RecordField,
    RecordKind,
    Role,
    Status,
    TemporalConstraint,
    TemporalPrecision,
    WriteOp,
)

__all__ = [
    "ANCHOR_FLAGS",
    "AUTHORITIES",
    "MAPPING_SITES",
    "RATING_SCALE",
    "RECONSUMING",
    "STATUS_FROM_NATIVE",
    "STATUS_TO_NATIVE",
    "SUBTYPES",
    "capabilities",
    "mapping_ids",
    "site_lookup",
]

ANCHOR_FLAGS = frozenset(
    {NodeFlag.ANCHOR, NodeFlag.TRACKABLE, NodeFlag.ORDERED_PARTS, NodeFlag.SCAN_ROOT}
)
RATING_SCALE = (1.0, 20.0, 1.0)
RATING_MIN = 2  # Kitsu's lowest ratingTwenty
#: The native label AniBridge uses for ``status: current`` + ``reconsuming: true``.
RECONSUMING = "reconsuming"
STATUS_FROM_NATIVE: Mapping[str, Status] = {
    "current": Status.ACTIVE,
    "planned": Status.PLANNED,
    "completed": Status.COMPLETED,
    "on_hold": Status.PAUSED,
    "dropped": Status.DROPPED,
    RECONSUMING: Status.REPEATING,
}
STATUS_TO_NATIVE: Mapping[Status, str] = {v: k for k, v in STATUS_FROM_NATIVE.items()}
#: Kitsu anime subtype → (our node kind, semantic).
SUBTYPES: Mapping[str, tuple[str, NodeKind]] = {
    "TV": ("tv", NodeKind.SERIES),
    "movie": ("movie", NodeKind.FILM),
    "OVA": ("ova", NodeKind.SERIES),
    "ONA": ("ona", NodeKind.SERIES),
    "special": ("special", NodeKind.SERIES),
    "music": ("music", NodeKind.SERIES),
}
UNKNOWN_KIND = "unknown"
#: Kitsu mapping site → authority, for the ids a mapping can name alone.
MAPPING_SITES: Mapping[str, str] = {
    "myanimelist/anime": "mal",
    "anilist/anime": "anilist",
    "anilist": "anilist",
    "anidb": "anidb",
}
AUTHORITIES = frozenset({"kitsu", "mal", "anilist", "anidb", "tvdb_show"})


def mapping_ids(mappings: Iterable[tuple[str, str]]) -> list[ExternalId]:
    """Descriptors from Kitsu mappings (site, external id); unknown sites skipped."""
    out: dict[str, ExternalId] = {}
    for site, value in mappings:
        value = str(value).strip()
        if site in MAPPING_SITES:
            value = value.removeprefix("anime/")  # old anilist rows: "anime/21"
            if not value.isdigit():
                continue
            authority = MAPPING_SITES[site]
            eid = ExternalId(authority, value, "R" if authority == "anidb" else None)
        elif site == "thetvdb":
            series, _, season = value.partition("/")
            if not (series.isdigit() and season.isdigit()):
                continue
            eid = ExternalId("tvdb_show", series, f"s{int(season)}")
        else:
            continue
        out.setdefault(eid.descriptor, eid)
    return list(out.values())


def site_lookup(external_id: ExternalId) -> tuple[str, str] | None:
    """The (mapping site, external id) to look an id up by, or None."""
    value = external_id.value
    if external_id.authority == "mal" and external_id.scope is None:
        return "myanimelist/anime", value
    if external_id.authority == "anilist" and external_id.scope is None:
        return "anilist/anime", value
    if external_id.authority == "anidb" and external_id.scope in (None, "R"):
        return "anidb", value
    scope = external_id.scope or ""
    if (
        external_id.authority == "tvdb_show"
        and scope[:1] == "s"
        and scope[1:].isdigit()
    ):
        return "thetvdb", f"{value}/{int(scope[1:])}"
    return None


def capabilities() -> Capabilities:
    """What the Kitsu provider supports, as data the engine plans from."""
    datetime_ = (TemporalConstraint(TemporalPrecision.DATETIME),)
    fields = {
        RecordField.STATUS: FieldSpec(
            RecordField.STATUS,
            writable=True,
            values=tuple(Descriptor(k, v) for k, v in STATUS_FROM_NATIVE.items()),
            description="'reconsuming' is status current + reconsuming=true",
        ),
        RecordField.PROGRESS: FieldSpec(
            RecordField.PROGRESS,
            writable=True,
            constraints=(
                ProgressConstraint(
                    NumericConstraint(0, None, 1), total=False, unit=False
                ),
            ),
        ),
        RecordField.RATING: FieldSpec(
            RecordField.RATING,
            writable=True,
            constraints=(NumericConstraint(*RATING_SCALE),),
            description="ratingTwenty (2-20, shown halved; null = unrated)",
        ),
        RecordField.STARTED_AT: FieldSpec(
            RecordField.STARTED_AT, writable=True, constraints=datetime_
        ),
        RecordField.FINISHED_AT: FieldSpec(
            RecordField.FINISHED_AT, writable=True, constraints=datetime_
        ),
        RecordField.LAST_ACTIVITY_AT: FieldSpec(
            RecordField.LAST_ACTIVITY_AT,
            constraints=datetime_,
            description="progressedAt",
        ),
        RecordField.REPEAT_COUNT: FieldSpec(
            RecordField.REPEAT_COUNT,
            writable=True,
            constraints=(NumericConstraint(0, None, 1),),
            description="reconsumeCount",
        ),
        RecordField.NOTES: FieldSpec(RecordField.NOTES, writable=True),
    }
    kinds = {kind: semantic for kind, semantic in SUBTYPES.values()}
    kinds[UNKNOWN_KIND] = NodeKind.SERIES
    return Capabilities(
        roles=frozenset({Role.SOURCE, Role.TARGET}),
        facets=frozenset({FacetName.IDS, FacetName.TITLES, FacetName.STRUCTURE}),
        node_kinds=tuple(Descriptor(k, v) for k, v in kinds.items()),
        coordinate_axes={k: ("episode",) for k in kinds},
        record_kinds=(Descriptor("", RecordKind.PROGRESS, "the library entry"),),
        record_fields=fields,
        write_ops=frozenset({WriteOp.UPSERT_RECORD, WriteOp.DELETE_RECORD}),
        change_kinds=frozenset({ChangeKind.RECORD}),
        external_authorities=AUTHORITIES,
    )
