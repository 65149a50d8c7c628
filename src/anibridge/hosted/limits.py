"""App-wide rate limits shared by every worker process, kept in PostgreSQL.

Why PostgreSQL and not Redis: a hosted deployment already runs PostgreSQL for the
store and the job queue, so sharing limits there adds no service to deploy, back up
or monitor, and the database's clock is the one clock every machine agrees on. The
cost is one short transaction per request to a rate-limited service; those services
allow at most a few requests per second per client id, which PostgreSQL serves with
room to spare (`bench/hosted.py` reports the peak).

Each (service, limit) is one row holding the send times inside its window (the same
sliding-window rule as the in-process limiter, `anibridge.http.window_wait`) and
each (service, route class) pause is one row with the time it ends. A request locks
the rows that apply to it (``SELECT … FOR UPDATE``, always in name order, so two
workers never deadlock), decides on the database's clock, and either records its
send time or learns how long to wait — so all workers together never send more
than the limit in any window, and a ``Retry-After`` seen by one worker pauses all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from anibridge.http.clock import Clock, SystemClock
from anibridge.http.limits import ANY, RateLimit, window_wait
from anibridge.store import schema as t

__all__ = ["PgSharedLimits"]

_NOW = sa.text("SELECT extract(epoch FROM clock_timestamp())")


def _scale(clock: Clock) -> float:
    """Real seconds per service second of `clock` (tests speed services up).

    Raises:
        TypeError: a virtual clock, which cannot wait on the database's clock.
    """
    if isinstance(clock, SystemClock):
        return 1.0
    scale = getattr(clock, "scale", None)
    if isinstance(scale, int | float) and scale > 0:
        return float(scale)
    raise TypeError(
        f"shared rate limits wait on the database's clock; {type(clock).__name__} "
        "is neither the system clock nor a scaled one"
    )


def _pause_names(route: str) -> list[str]:
    return sorted({f"pause:{route}", f"pause:{ANY}"})


class PgSharedLimits:
    """`anibridge.http.SharedLimits` on the store's PostgreSQL database.

    Args:
        engine: An engine on the migrated store (the ``shared_limits`` table).
    """

    def __init__(self, engine: sa.Engine) -> None:
        """Share limits through `engine`.

        Raises:
            ValueError: the engine is not PostgreSQL.
        """
        if engine.dialect.name != "postgresql":
            raise ValueError("shared rate limits need the PostgreSQL store")
        self.engine = engine
        self._rows: set[tuple[str, str]] = set()

    async def acquire(
        self, service: str, limits: Sequence[RateLimit], route: str, clock: Clock
    ) -> float:
        """Wait until one more request fits every limit in every process; take it.

        Returns:
            Service seconds spent waiting.
        """
        scale = _scale(clock)
        waited = 0.0
        while True:
            wait = await asyncio.to_thread(self._take, service, limits, route, scale)
            if wait <= 0:
                return waited
            waited += wait
            await clock.sleep(wait)

    async def pause(
        self, service: str, route: str, seconds: float, clock: Clock
    ) -> None:
        """Hold back `route` requests of `service` in every process for `seconds`."""
        scale = _scale(clock)
        await asyncio.to_thread(self._pause, service, route, max(0.0, seconds) * scale)

    def _ensure_rows(self, conn: sa.Connection, service: str, names: list[str]) -> None:
        missing = [n for n in names if (service, n) not in self._rows]
        if missing:
            conn.execute(
                insert(t.shared_limits)
                .values([{"service": service, "name": n, "sent": []} for n in missing])
                .on_conflict_do_nothing()
            )
            self._rows.update((service, n) for n in missing)

    def _take(
        self, service: str, limits: Sequence[RateLimit], route: str, scale: float
    ) -> float:
        """One attempt in one transaction: the wait in service seconds, 0 if taken."""
        by_name = {spec.name: spec for spec in limits}
        names = sorted({*by_name, *_pause_names(route)})
        query = (
            sa.select(
                t.shared_limits.c.name,
                t.shared_limits.c.sent,
                t.shared_limits.c.paused_until,
            )
            .where(
                t.shared_limits.c.service == service,
                t.shared_limits.c.name.in_(names),
            )
            .order_by(t.shared_limits.c.name)
            .with_for_update()
        )
        with self.engine.begin() as conn:
            self._ensure_rows(conn, service, names)
            rows = conn.execute(query).all()
            if len(rows) < len(names):  # rows we believed in are gone: make them
                self._rows.difference_update((service, n) for n in names)
                self._ensure_rows(conn, service, names)
                rows = conn.execute(query).all()
            now = float(conn.execute(_NOW).scalar_one())
            wait = 0.0
            kept: dict[str, list[float]] = {}
            for name, sent, paused_until in rows:
                if name.startswith("pause:"):
                    if paused_until is not None:
                        wait = max(wait, (paused_until - now) / scale)
                    continue
                spec = by_name[name]
                needed, inside = window_wait(
                    [at / scale for at in _floats(sent)], spec, now / scale
                )
                wait = max(wait, needed)
                kept[name] = [at * scale for at in inside]
            if wait > 0:
                return wait
            for name, sent in kept.items():
                conn.execute(
                    sa.update(t.shared_limits)
                    .where(
                        t.shared_limits.c.service == service,
                        t.shared_limits.c.name == name,
                    )
                    .values(sent=[*sent, now])
                )
            return 0.0

    def _pause(self, service: str, route: str, real_seconds: float) -> None:
        with self.engine.begin() as conn:
            now = float(conn.execute(_NOW).scalar_one())
            until = now + real_seconds
            statement = insert(t.shared_limits).values(
                service=service, name=f"pause:{route}", sent=[], paused_until=until
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["service", "name"],
                    set_={
                        "paused_until": sa.func.greatest(
                            sa.func.coalesce(t.shared_limits.c.paused_until, 0.0),
                            statement.excluded.paused_until,
                        )
                    },
                )
            )
            self._rows.add((service, f"pause:{route}"))


def _floats(value: Any) -> list[float]:
    return [float(v) for v in value or ()]
