"""Checks every single-list tracker applies to an upsert before building a request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from anibridge.provider.base import State, Status, UpsertRecord, WriteError


@dataclass(frozen=True, slots=True)
class Rejected:
    """Why a write cannot be sent: the contract code and a message for the user."""

    code: WriteError
    error: str


def check_list_upsert(
    write: UpsertRecord, service: str, anchor: str
) -> Rejected | None:
    """Refuse what no single-list tracker can take, before any request is built.

    Args:
        write: The upsert to check.
        service: The service's name for messages ("AniList", "MAL").
        anchor: What its anchors are, for messages ("a media anchor").

    Returns:
        Why the write cannot be sent, or None when the shape is acceptable.
    """
    if write.kind != "":
        return Rejected(
            WriteError.UNSUPPORTED, f"{service} has no record kind {write.kind!r}"
        )
    if not write.ref.is_anchor or not write.ref.key.isdigit():
        return Rejected(
            WriteError.INVALID,
            f"{service} records live on {anchor} (a numeric id), not {write.ref!r}",
        )
    if write.expected_revision is not None:
        return Rejected(
            WriteError.UNSUPPORTED, f"{service} offers no optimistic concurrency check"
        )
    both = set(write.set) & set(write.clear)
    if both:
        names = ", ".join(sorted(f.value for f in both))
        return Rejected(WriteError.INVALID, f"fields both set and cleared: {names}")
    return None


def native_status(
    value: State,
    from_native: Mapping[str, Status],
    to_native: Mapping[Status, str],
) -> str | None:
    """The service's status label for `value`.

    The native label is kept when it still means the requested status (so a
    tracker-specific label survives a round trip); otherwise the status's default
    label is used. None when the service has no label for it.
    """
    native = value.native if value.native in from_native else None
    if value.status is not None and (
        native is None or from_native[native] is not value.status
    ):
        native = to_native.get(value.status)
    return native
