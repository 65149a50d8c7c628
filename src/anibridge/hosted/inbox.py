"""Webhooks a hosted web service accepted, kept until a sync job has read them.

The web service cannot parse a webhook the way the single-user service does: that
takes the profile's *initialized* source provider, and a web service for thousands
of profiles initializes none. So it records the request (bounded by
``web.webhook_max_bytes``) for every profile the webhook may feed and queues a sync
of each in the same transaction (`record`): a webhook is either recorded and queued,
or refused, never half of it. The job that runs reads the profile's unconsumed rows
(`pending`), parses them with the provider it opened anyway, re-reads only the
entries they name, and marks them consumed by its id (`consume`) after a clean run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from anibridge.provider.base import InboundRequest
from anibridge.store import schema as t

__all__ = ["InboxEntry", "consume", "pending", "record"]


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One recorded webhook of one profile."""

    id: int
    provider: str
    request: InboundRequest


def record(
    conn: sa.Connection, profile: str, provider: str, request: InboundRequest
) -> int:
    """Keep `request` for `profile` inside the caller's transaction.

    Returns:
        The row's id.
    """
    meta = {
        "method": request.method,
        "path": request.path,
        "headers": dict(request.headers),
        "query": {k: list(v) for k, v in request.query.items()},
    }
    return int(
        conn.execute(
            sa.insert(t.webhook_inbox)
            .values(
                profile=profile,
                provider=provider,
                received_at=datetime.now(UTC).isoformat(),
                headers=meta,
                body=request.body,
            )
            .returning(t.webhook_inbox.c.id)
        ).scalar_one()
    )


def pending(engine: sa.Engine, profile: str, *, limit: int = 500) -> list[InboxEntry]:
    """The profile's webhooks no job has consumed yet, oldest first."""
    query = (
        sa.select(t.webhook_inbox)
        .where(
            t.webhook_inbox.c.profile == profile,
            t.webhook_inbox.c.consumed_by.is_(None),
        )
        .order_by(t.webhook_inbox.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    out = []
    for row in rows:
        meta = row.headers or {}
        out.append(
            InboxEntry(
                id=row.id,
                provider=row.provider,
                request=InboundRequest(
                    method=str(meta.get("method", "POST")),
                    path=str(meta.get("path", "")),
                    headers=dict(meta.get("headers") or {}),
                    query={k: tuple(v) for k, v in (meta.get("query") or {}).items()},
                    body=bytes(row.body),
                ),
            )
        )
    return out


def consume(engine: sa.Engine, ids: Sequence[int], job_id: int) -> None:
    """Mark webhooks as read by job `job_id` (a later job will not read them again)."""
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            sa.update(t.webhook_inbox)
            .where(t.webhook_inbox.c.id.in_(list(ids)))
            .values(consumed_by=job_id)
        )
