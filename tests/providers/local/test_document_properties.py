"""Property: any valid local document survives import → export → import unchanged."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anibridge.providers.local import LocalProvider, dump_document

STATUSES = ["planned", "watching", "paused", "completed", "dropped", "rewatching"]
BASE = datetime(2020, 1, 1, tzinfo=UTC)

times = st.integers(0, 2_000_000).map(
    lambda s: (BASE + timedelta(seconds=s * 60)).isoformat()
)
records = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(STATUSES),
        "rating": st.integers(0, 20).map(lambda n: n / 2),
        "started_at": times,
        "last_activity_at": times,
        "repeat_count": st.integers(0, 5),
        "notes": st.text(max_size=30),
    },
)
episodes = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "title": st.text(min_size=1, max_size=10),
            "record": records,
            "plays": st.lists(times, max_size=3, unique=True),
        },
    ),
    max_size=5,
)
shows = st.builds(
    lambda title, seasons: {
        "kind": "show",
        "title": title,
        "seasons": [
            {
                "season": n,
                "episodes": [{"episode": i + 1, **e} for i, e in enumerate(eps)],
            }
            for n, eps in enumerate(seasons)
        ],
    },
    st.text(min_size=1, max_size=10),
    st.lists(episodes, max_size=3),
)
series = st.builds(
    lambda total, record: {"kind": "series", "episodes": total, "record": record},
    st.integers(1, 50),
    records,
)
documents = st.lists(st.one_of(shows, series), max_size=6).map(
    lambda items: {
        "anibridge_local": 1,
        "items": [
            {"key": f"k{i}", "ids": [f"anilist:{i + 1}"], **item}
            for i, item in enumerate(items)
        ],
    }
)


async def _round_trip(doc: dict, folder: Path) -> tuple[dict, dict]:
    log = logging.getLogger("prop")
    first = LocalProvider(logger=log, config={"path": str(folder / "a.sqlite")})
    second = LocalProvider(logger=log, config={"path": str(folder / "b.sqlite")})
    await first.initialize()
    await second.initialize()
    try:
        first.import_document(dump_document(doc, fmt="yaml"), where="generated")
        exported = first.export_document()
        second.import_document(dump_document(exported, fmt="json"), where="export")
        return exported, second.export_document()
    finally:
        await first.close()
        await second.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_documents_round_trip_exactly(doc):
    with tempfile.TemporaryDirectory() as tmp:
        exported, again = asyncio.run(_round_trip(doc, Path(tmp)))
    assert exported == again
    assert len(exported["items"]) == len(doc["items"])
    plays_in = sum(
        len(e.get("plays", []))
        for i in doc["items"]
        for s in i.get("seasons", [])
        for e in s["episodes"]
    )
    plays_out = sum(
        len(e.get("plays", []))
        for i in exported["items"]
        for s in i.get("seasons", [])
        for e in s.get("episodes", [])
    )
    assert plays_in == plays_out
