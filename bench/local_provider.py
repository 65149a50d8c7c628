"""Local provider throughput on a big list and library: prints JSON.

.venv/bin/python bench/local_provider.py [N]
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from anibridge.provider.base import (
    ExternalId,
    FacetName,
    Progress,
    RecordField,
    Ref,
    ScanQuery,
    UpsertRecord,
)
from anibridge.providers.local import LocalProvider, dump_document


def _documents(n: int) -> tuple[dict, dict]:
    start = datetime(2022, 1, 1, tzinfo=UTC)
    shows = []
    for i in range(n):
        episodes = [
            {"episode": e, "plays": [(start + timedelta(hours=i * 13 + e)).isoformat()]}
            for e in range(1, 13)
        ]
        shows.append(
            {
                "key": f"s{i}",
                "kind": "show",
                "title": f"Show {i}",
                "ids": [f"tvdb_show:{100000 + i}"],
                "seasons": [{"season": 1, "episodes": episodes}],
            }
        )
    entries = [
        {
            "key": f"anilist:{i}",
            "kind": "series",
            "title": f"Title {i}",
            "ids": [f"anilist:{i}"],
            "episodes": 12,
            **({"record": {"status": "watching", "progress": 3}} if i % 2 else {}),
        }
        for i in range(n)
    ]
    return (
        {"anibridge_local": 1, "items": shows},
        {"anibridge_local": 1, "items": entries},
    )


async def main(n: int) -> dict:
    library_doc, list_doc = _documents(n)
    out: dict = {"titles": n}
    with tempfile.TemporaryDirectory() as tmp:
        lib = LocalProvider(
            logger=logging.getLogger("b"), config={"path": f"{tmp}/l.db"}
        )
        lst = LocalProvider(
            logger=logging.getLogger("b"),
            config={"path": f"{tmp}/a.db", "authorities": ["anilist"]},
        )
        await lib.initialize()
        await lst.initialize()
        t = time.perf_counter()
        lib.import_document(dump_document(library_doc, fmt="json"), where="bench")
        lst.import_document(dump_document(list_doc, fmt="json"), where="bench")
        out["import_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        cursor, items = None, 0
        while True:
            page = await lib.scan(
                ScanQuery(
                    facets=frozenset({FacetName.IDS, FacetName.STRUCTURE}),
                    fields=frozenset(RecordField),
                    require_activity=True,
                    cursor=cursor,
                    limit=500,
                )
            )
            items += len(page.items)
            cursor = page.cursor
            if cursor is None:
                break
        out["scan_library_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        matches = await lst.resolve([ExternalId("anilist", str(i)) for i in range(n)])
        out["resolve_s"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        writes = [
            UpsertRecord(Ref(f"anilist:{i}"), set={RecordField.PROGRESS: Progress(5)})
            for i in range(n)
        ]
        results = await lst.write_records(writes)
        out["write_s"] = round(time.perf_counter() - t, 3)
        out["ok"] = items == n and len(matches) == n and all(r.ok for r in results)
        out["file_bytes"] = Path(f"{tmp}/l.db").stat().st_size
        await lib.close()
        await lst.close()
    return out


if __name__ == "__main__":
    print(
        json.dumps(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)))
    )
