"""Pins: fields of a target entry AniBridge must never write.

The CLI's ``pin set/clear/list`` and the web's pin form and ``/api/pins`` call these,
so both refuse the same unknown fields and providers with the same words.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from anibridge.app.service.errors import InvalidInput
from anibridge.bridge.stores import Pin, PinStore
from anibridge.provider.base import RecordField

__all__ = ["PinView", "clear_pins", "list_pins", "pinnable", "set_pins"]


@dataclass(frozen=True, slots=True)
class PinView:
    """The pinned fields of one target entry."""

    provider: str
    ref: str
    fields: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The API shape: ``{provider, ref, fields}``."""
        return {"provider": self.provider, "ref": self.ref, "fields": list(self.fields)}


def pinnable() -> tuple[str, ...]:
    """Field names a pin may hold (the contract's record fields), sorted."""
    return tuple(sorted(f.value for f in RecordField))


def _fields(fields: Iterable[str]) -> frozenset[str]:
    wanted = frozenset(f.strip().lower() for f in fields)
    bad = sorted(wanted - set(pinnable()))
    if bad:
        raise InvalidInput(
            f"unknown field(s) {', '.join(bad)}; pinnable: {', '.join(pinnable())}"
        )
    return wanted


def _provider(profile: str, provider: str, providers: Collection[str] | None) -> None:
    if providers is not None and provider not in providers:
        known = ", ".join(sorted(providers)) or "none"
        raise InvalidInput(
            f"profile {profile!r} has no provider {provider!r} (its providers: {known})"
        )


def _anchor(ref: str) -> str:
    """Pins hold the target's anchor: a part ref (``anilist:21/episode:3``) pins it."""
    anchor = ref.strip().split("/", 1)[0]
    if not anchor:
        raise InvalidInput("a pin needs a target ref, e.g. anilist:21")
    return anchor


def list_pins(store: PinStore, profile: str) -> list[PinView]:
    """A profile's pins, sorted by provider and ref."""
    return sorted(
        (
            PinView(p.provider, p.ref, tuple(sorted(p.fields)))
            for p in store.pins(profile)
        ),
        key=lambda v: (v.provider, v.ref),
    )


def set_pins(
    store: PinStore,
    profile: str,
    provider: str,
    ref: str,
    fields: Iterable[str],
    *,
    merge: bool = True,
    providers: Collection[str] | None = None,
) -> PinView:
    """Pin fields of one target entry.

    Args:
        store: The pin store.
        profile: The profile.
        provider: The target provider key.
        ref: The target entry (its anchor is pinned).
        fields: Field names (`pinnable`).
        merge: Add to the entry's existing pins (the CLI); False replaces them
            (the web form shows every field), and an empty set then unpins.
        providers: The profile's provider keys; a key not among them is refused.

    Raises:
        InvalidInput: an unknown field or provider, or an empty ref.
    """
    _provider(profile, provider, providers)
    wanted = _fields(fields)
    anchor = _anchor(ref)
    if merge:
        current = {(p.provider, p.ref): p.fields for p in store.pins(profile)}
        wanted |= current.get((provider, anchor), frozenset())
    store.set_pin(Pin(profile, provider, anchor, wanted))
    return PinView(provider, anchor, tuple(sorted(wanted)))


def clear_pins(
    store: PinStore,
    profile: str,
    provider: str,
    ref: str,
    *,
    providers: Collection[str] | None = None,
) -> PinView | None:
    """Unpin every field of one entry; returns what was pinned (None: nothing was).

    Raises:
        InvalidInput: an unknown provider, or an empty ref.
    """
    _provider(profile, provider, providers)
    anchor = _anchor(ref)
    before = next(
        (
            v
            for v in list_pins(store, profile)
            if (v.provider, v.ref) == (provider, anchor)
        ),
        None,
    )
    if before is not None:
        store.set_pin(Pin(profile, provider, anchor, frozenset()))
    return before
