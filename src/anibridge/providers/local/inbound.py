"""The local-change webhook: a small JSON payload saying what changed where.

It lets the service be driven end to end without a media server: anything that edits a
local file (a script, the CLI, a test) can POST what it touched, and the scheduler
re-reads exactly those refs. The payload is specified in `docs/local-format.md`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from anibridge.dates import parse_iso
from anibridge.provider.base import (
    Change,
    EventChange,
    FacetName,
    InboundRequest,
    InboundResult,
    NodeChange,
    RecordChange,
    RecordField,
    Ref,
    Step,
)

__all__ = ["PAYLOAD_TYPE", "InboundPayloadError", "parse_inbound_payload"]

PAYLOAD_TYPE = "anibridge.local.changes"


class InboundPayloadError(ValueError):
    """A payload addressed to this provider is malformed (key path in the message)."""


def _ref(raw: Any, where: str) -> Ref:
    if isinstance(raw, str) and raw:
        return Ref(raw)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("key"), str):
        raise InboundPayloadError(f"{where}: expected a key string or {{key, path}}")
    path = raw.get("path") or []
    steps: list[Step] = []
    items = path.items() if isinstance(path, Mapping) else path
    try:
        for axis, value in items:
            if not isinstance(axis, str) or not isinstance(value, (int, str)):
                raise TypeError
            steps.append(Step(axis, value))
    except (TypeError, ValueError):
        raise InboundPayloadError(
            f"{where}.path: expected {{axis: value}} or [[axis, value], ...]"
        ) from None
    return Ref(raw["key"], tuple(steps))


def _change(raw: Any, where: str) -> Change:
    if not isinstance(raw, Mapping):
        raise InboundPayloadError(f"{where}: expected an object")
    kind = raw.get("kind")
    ref = _ref(raw.get("ref"), f"{where}.ref")
    at = None
    if raw.get("at") is not None:
        try:
            at = parse_iso(str(raw["at"]))
        except ValueError:
            raise InboundPayloadError(
                f"{where}.at: expected an ISO-8601 time, got {raw['at']!r}"
            ) from None
    try:
        if kind == "record":
            fields = frozenset(RecordField(f) for f in raw.get("fields") or ())
            return RecordChange(ref, None, str(raw.get("record_kind", "")), at, fields)
        if kind == "event":
            return EventChange(ref, None, str(raw.get("event_kind", "play")), at)
        if kind == "node":
            facets = frozenset(FacetName(f) for f in raw.get("facets") or ())
            return NodeChange(ref, None, at, facets)
    except ValueError as exc:
        raise InboundPayloadError(f"{where}: {exc}") from None
    raise InboundPayloadError(
        f"{where}.kind: expected 'record', 'event' or 'node', got {kind!r}"
    )


def parse_inbound_payload(request: InboundRequest, *, instance: str) -> InboundResult:
    """Parse a request; `matched` is False unless it is a local payload for us.

    Raises:
        InboundPayloadError: the payload is ours but malformed.
    """
    if request.method.upper() != "POST":
        return InboundResult(False)
    try:
        body = json.loads(request.body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return InboundResult(False)
    if not isinstance(body, Mapping) or body.get("type") != PAYLOAD_TYPE:
        return InboundResult(False)
    target = body.get("instance")
    if target is not None and target != instance:
        return InboundResult(False)
    changes = body.get("changes")
    if not isinstance(changes, list):
        raise InboundPayloadError("changes: expected a list")
    return InboundResult(
        True, tuple(_change(c, f"changes[{i}]") for i, c in enumerate(changes))
    )
