"""AniList's vocabulary as contract values: statuses, score formats, media formats.

Pure data and conversions, no I/O, so the mapping rules are testable on their own.
"""

from __future__ import annotations

from anibridge.provider.base import Descriptor, NodeKind, Status

__all__ = [
    "MEDIA_FORMATS",
    "SCORE_SCALES",
    "STATUS_FROM_NATIVE",
    "STATUS_TO_NATIVE",
    "native_kind",
    "node_kind_descriptors",
    "status_descriptors",
]

STATUS_FROM_NATIVE: dict[str, Status] = {
    "CURRENT": Status.ACTIVE,
    "PLANNING": Status.PLANNED,
    "COMPLETED": Status.COMPLETED,
    "DROPPED": Status.DROPPED,
    "PAUSED": Status.PAUSED,
    "REPEATING": Status.REPEATING,
}
STATUS_TO_NATIVE: dict[Status, str] = {v: k for k, v in STATUS_FROM_NATIVE.items()}

#: `ScoreFormat` -> (min, max, step) of `MediaList.score` in that format. 0 means
#: "no score" on every format, so a stored rating is always at least one step.
SCORE_SCALES: dict[str, tuple[float, float, float]] = {
    "POINT_100": (0.0, 100.0, 1.0),
    "POINT_10_DECIMAL": (0.0, 10.0, 0.1),
    "POINT_10": (0.0, 10.0, 1.0),
    "POINT_5": (0.0, 5.0, 1.0),
    "POINT_3": (0.0, 3.0, 1.0),
}

#: `MediaFormat` values an anime can have -> native node kind (lower-case format).
MEDIA_FORMATS: dict[str, NodeKind] = {
    "tv": NodeKind.SERIES,
    "tv_short": NodeKind.SERIES,
    "movie": NodeKind.FILM,
    "special": NodeKind.SERIES,
    "ova": NodeKind.SERIES,
    "ona": NodeKind.SERIES,
    "music": NodeKind.SERIES,
    "anime": NodeKind.SERIES,  # format not known yet
}


def native_kind(media_format: str | None) -> str:
    """The node kind for a `Media.format` (``"anime"`` when AniList has none)."""
    kind = (media_format or "anime").lower()
    return kind if kind in MEDIA_FORMATS else "anime"


def node_kind_descriptors() -> tuple[Descriptor[NodeKind], ...]:
    """Every native node kind with its semantic."""
    return tuple(Descriptor(k, v) for k, v in MEDIA_FORMATS.items())


def status_descriptors() -> tuple[Descriptor[Status], ...]:
    """AniList's six list statuses, one per contract status."""
    return tuple(Descriptor(k, v) for k, v in STATUS_FROM_NATIVE.items())
