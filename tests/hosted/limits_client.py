"""One worker-like process for the cross-process rate-limit tests (run as a script).

Usage: limits_client.py STORE_URL SERVICE_URL REQUESTS LIMIT PERIOD SCALE SHARED

Connects, says ``ready`` on stdout, waits until the test releases a PostgreSQL
advisory lock (so every process starts together), sends REQUESTS GETs through an
`HttpClient` with one app-scoped limit, and prints a JSON line with its counters.
"""

from __future__ import annotations

import asyncio
import json
import sys

import sqlalchemy as sa

from anibridge.hosted.limits import PgSharedLimits
from anibridge.http import HttpClient, RateLimit, RetryPolicy, ScaledClock
from anibridge.store import create_store_engine

GATE = 171717


async def main() -> None:
    url, base, requests, limit, period, scale, shared = sys.argv[1:8]
    engine = create_store_engine(url)
    with engine.connect() as conn:
        print("ready", flush=True)
        conn.execute(sa.text("SELECT pg_advisory_lock_shared(:k)"), {"k": GATE})
        conn.execute(sa.text("SELECT pg_advisory_unlock_shared(:k)"), {"k": GATE})
        conn.commit()
    client = HttpClient(
        name="limited",
        base_url=base,
        limits=[RateLimit(int(limit), float(period), margin=0.5)],
        clock=ScaledClock(float(scale)),
        retry=RetryPolicy(max_rate_limit_waits=50),
        shared_limits=PgSharedLimits(engine) if shared == "1" else None,
    )
    async with client:
        for i in range(int(requests)):
            await client.get(f"/items/{i}")
    print(
        json.dumps(
            {
                "sent": client.counter.total,
                "rate_limited": client.counter.rate_limited,
                "waited": client.limiter.waited_seconds,
            }
        ),
        flush=True,
    )
    engine.dispose()


asyncio.run(main())
