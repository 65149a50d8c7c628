"""Benchmark: the mappings index, ours against faithful copies of the existing app's.

    .venv/bin/python bench/mappings_load.py [--runs 5] [--cold-runs 1] [--format zst]

A deterministic generator writes a synthetic v3 payload shaped like the released
dataset (AniList sources onto MAL, AniDB R/S/O scopes, TVDB/TMDB seasons, movies;
ratios, `|0`, open ranges, comma targets, split cours, fan-out, both directions of
every edge). Each measurement runs in a fresh subprocess; medians are printed as
one JSON object, side by side so a busy machine slows both sides alike.

AniBridge:
- `ours_build`: decode, merge and index the payload in memory (no cache);
- `ours_cold`: the same plus writing the compiled index (a new dataset);
- `ours_warm`: a process that opens the compiled index (every later process);
  `index_ready_s` is the time until the index answers.

The existing app (anibridge `core/mappings.py` + `core/animap.py`, reproduced with
its schema and statements on SQLAlchemy, as `reference/anibridge-app.md` and the
issue describe them):
- `app_cold`: its first start on a new dataset — decode, md5 over the raw payload,
  parse and validate every range, then insert entries, mappings and one provenance
  row per mapping as multi-row `INSERT … ON CONFLICT` statements of at most 900
  SQLite variables, re-selecting the new rows' ids after each chunk, into three
  tables with 7 secondary indexes, WAL and foreign keys on, one transaction;
- `app_restart`: every later start — decode, md5, compare with the stored hash
  and skip the database sync;
- lookups: one resolve per record, two queries per call, each in a new ORM
  session, ranges parsed per row.

`*_cpu_s` figures are the process's CPU time (the work itself); wall seconds grow
when other processes share the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

SEED = 20260413
ANILIST_ENTRIES = 38_500
LOOKUPS = 200_000
BASELINE_LOOKUPS = 20_000  # SQL round trips are slow; the rate is what counts


# -- generator ------------------------------------------------------------------


def _season_split(rng: random.Random, episodes: int) -> list[tuple[int, int]]:
    """Split an AniList run into TVDB-like seasons (start, end)."""
    if episodes <= 26 or rng.random() < 0.6:
        return [(1, episodes)]
    parts = []
    start = 1
    while start <= episodes:
        length = min(episodes - start + 1, rng.choice((12, 13, 24, 25, 26)))
        parts.append((start, start + length - 1))
        start += length
    return parts


def generate(entries: int = ANILIST_ENTRIES, seed: int = SEED) -> dict[str, Any]:
    """Build the payload: forward edits from AniList plus every reverse edge."""
    rng = random.Random(seed)
    forward: dict[str, dict[str, dict[str, str]]] = {}
    tvdb_next = 70_000
    shared_specials = [f"tvdb_show:{900_000 + i}:s0" for i in range(400)]
    for n in range(entries):
        source = f"anilist:{n + 1}"
        targets: dict[str, dict[str, str]] = {}
        kind = rng.random()
        if kind < 0.12:  # movie
            targets[f"mal:{n + 1}"] = {"1": "1"}
            movie = "tmdb_movie" if rng.random() < 0.6 else "imdb_movie"
            mid = f"tt{1_000_000 + n}" if movie == "imdb_movie" else str(500_000 + n)
            targets[f"{movie}:{mid}"] = {"1": "1"}
            if rng.random() < 0.05:
                targets[f"{movie}:{mid}"] = {"1-3": "1|3"}
                targets[f"mal:{n + 1}"] = {"1-3": "1-3"}
        else:
            episodes = rng.choice((1, 2, 4, 6, 12, 12, 13, 13, 24, 25, 26, 50, 120))
            if rng.random() < 0.01:
                episodes = rng.randint(200, 1100)
            full = f"1-{episodes}" if episodes > 1 else "1"
            open_ended = rng.random() < 0.01
            key = "1-" if open_ended else full
            targets[f"mal:{n + 1}"] = {key: key}
            if rng.random() < 0.5:
                scope = rng.choices("RSO", weights=(90, 7, 3))[0]
                targets[f"anidb:{20_000 + n}:{scope}"] = {full: full}
            show = tvdb_next
            tvdb_next += 1
            start_season = 1
            for season, (a, b) in enumerate(_season_split(rng, episodes), start_season):
                roll = rng.random()
                length = b - a + 1
                src = f"{a}-{b}" if b > a else str(a)
                if roll < 0.02 and length % 2 == 0 and length > 1:
                    value = f"1-{length // 2}|2"
                elif roll < 0.04:
                    value = f"1-{length * 2}|-2"
                elif roll < 0.045:
                    value = f"1-{length}|0"
                elif roll < 0.05 and length >= 4:
                    half = length // 2
                    value = f"1-{half},{half + 3}-{length + 2}"
                else:
                    value = f"1-{length}" if length > 1 else "1"
                if open_ended and season == 1:
                    src, value = f"{a}-", "1-"
                targets[f"tvdb_show:{show}:s{season}"] = {src: value}
                if rng.random() < 0.4:
                    targets[f"tmdb_show:{show + 300_000}:s{season}"] = {src: src}
            if rng.random() < 0.08:
                special = rng.choice(shared_specials)
                episode = rng.randint(1, 60)
                targets[special] = {"1": str(episode)}
        forward[source] = targets
    payload: dict[str, Any] = {
        "$meta": {"schema_version": "3.0.3", "generated_on": "2026-04-13T00:00:00Z"}
    }
    payload.update(forward)
    for source, targets in forward.items():
        for target, ranges in targets.items():
            back = payload.setdefault(target, {}).setdefault(source, {})
            for key, value in ranges.items():
                for rkey, rvalue in _reverse(key, value):
                    back[rkey] = rvalue
    return payload


def _reverse(key: str, value: str) -> list[tuple[str, str]]:
    """The reverse entries a release payload carries for one forward entry."""
    body, bar, ratio = value.partition("|")
    if "," in body:
        if bar:
            return []
        out = []
        start = int(key.split("-")[0])
        for segment in body.split(","):
            a, _, b = segment.partition("-")
            length = int(b) - int(a) + 1 if b else 1
            out.append((segment, f"{start}-{start + length - 1}"))
            start += length
        return out
    if bar:
        return [(body, f"{key}|{-int(ratio)}")]
    return [(body, key)]


def count(payload: dict[str, Any]) -> dict[str, int]:
    """Sources, (source, target) pairs and range pairs of a payload."""
    sources = [k for k in payload if not k.startswith("$")]
    pairs = sum(len(payload[s]) for s in sources)
    ranges = sum(len(r) for s in sources for r in payload[s].values())
    return {"sources": len(sources), "descriptor_pairs": pairs, "range_pairs": ranges}


def write_payload(directory: Path, fmt: str, entries: int = ANILIST_ENTRIES) -> Path:
    """Write the generated payload as minified JSON (optionally zstd level 3)."""
    import msgspec
    import zstandard

    raw = msgspec.json.encode(generate(entries))
    if fmt == "zst":
        path = directory / "mappings.json.zst"
        path.write_bytes(zstandard.ZstdCompressor(level=3).compress(raw))
    else:
        path = directory / "mappings.json"
        path.write_bytes(raw)
    return path


# -- measured children -------------------------------------------------------------


def _queries(descriptors: list[str], seed: int = SEED) -> list[tuple[str, int]]:
    """The main workload: 20,000 random descriptors x 10 episodes each.

    This is how the engine asks (a season's episodes for one descriptor); every
    descriptor is new to the index when first asked (cold).
    """
    rng = random.Random(seed + 1)
    picked = rng.sample(descriptors, min(LOOKUPS // 10, len(descriptors)))
    return [(d, episode) for d in picked for episode in range(1, 11)]


def _uniform_queries(descriptors: list[str], seed: int = SEED) -> list[tuple[str, int]]:
    """Stress workload: every lookup a uniformly random descriptor (mostly cold)."""
    rng = random.Random(seed + 2)
    return [(rng.choice(descriptors), rng.randint(1, 26)) for _ in range(LOOKUPS)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rates(index: Any) -> dict[str, float]:
    descriptors = list(index.descriptors())
    rates: dict[str, float] = {}
    for name, queries in (
        ("lookups_per_s", _queries(descriptors)),
        ("uniform_cold_lookups_per_s", _uniform_queries(descriptors)),
        ("warm_lookups_per_s", _uniform_queries(descriptors)),
    ):
        translate = index.translate
        begin = time.perf_counter()
        cpu_begin = time.process_time()
        for descriptor, episode in queries:
            translate(descriptor, episode)
        rates[name] = len(queries) / (time.perf_counter() - begin)
        rates[name.replace("_per_s", "_per_cpu_s")] = len(queries) / (
            time.process_time() - cpu_begin
        )
    return rates


def child_ours(path: str, mode: str, cache: str) -> dict[str, Any]:
    from anibridge.mappings import load_index

    started = time.perf_counter()
    cpu_started = time.process_time()
    index = load_index(
        [path],
        include_default=False,
        notice=None,
        report_invalid=None,
        cache=Path(cache),
        compiled=mode != "build",
    )
    ready = time.perf_counter() - started
    cpu_used = time.process_time() - cpu_started
    if mode == "warm" and index.compiled_path is None:
        raise SystemExit("the compiled index was not used")
    return {
        "index_ready_s": ready,
        "index_ready_cpu_s": cpu_used,
        "peak_rss_mb": _peak_rss_mb(),
        **_rates(index),
        "invalid": len(index.invalid),
    }


# The existing app's tables: entries, mappings and a provenance row per mapping;
# 7 secondary indexes besides the primary keys.
_APP_SCHEMA = (
    "CREATE TABLE animap_entry (id INTEGER PRIMARY KEY, provider TEXT NOT NULL,"
    " entry_id TEXT NOT NULL, entry_scope TEXT)",
    "CREATE UNIQUE INDEX ux_entry ON animap_entry"
    " (provider, entry_id, coalesce(entry_scope, ''))",
    "CREATE INDEX ix_entry_provider ON animap_entry (provider)",
    "CREATE INDEX ix_entry_entry_id ON animap_entry (entry_id)",
    "CREATE TABLE animap_mapping (id INTEGER PRIMARY KEY,"
    " source_entry_id INTEGER NOT NULL REFERENCES animap_entry(id) ON DELETE CASCADE,"
    " destination_entry_id INTEGER NOT NULL"
    " REFERENCES animap_entry(id) ON DELETE CASCADE,"
    " source_range TEXT NOT NULL, destination_range TEXT)",
    "CREATE UNIQUE INDEX ux_mapping ON animap_mapping"
    " (source_entry_id, destination_entry_id, source_range)",
    "CREATE INDEX ix_mapping_source ON animap_mapping (source_entry_id)",
    "CREATE INDEX ix_mapping_destination ON animap_mapping (destination_entry_id)",
    "CREATE TABLE animap_provenance (mapping_id INTEGER NOT NULL"
    " REFERENCES animap_mapping(id) ON DELETE CASCADE, n INTEGER NOT NULL,"
    " source TEXT NOT NULL, PRIMARY KEY (mapping_id, n))",
    "CREATE INDEX ix_provenance_source ON animap_provenance (source)",
    "CREATE TABLE house_keeping (key TEXT PRIMARY KEY, value TEXT)",
)
_VARIABLES = 900  # SQLite variables per statement, as the app chunks its upserts
MAPPING_PROVIDERS = ("anilist",)  # the list side the app resolves towards


def _app_engine(db: str) -> Any:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{db}")

    @sa.event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _app_payload(path: str) -> tuple[dict[str, Any], str]:
    """Decode like the app: zstd, msgspec, md5 over the raw bytes."""
    import hashlib

    import msgspec
    import zstandard

    raw = Path(path).read_bytes()
    if path.endswith(".zst"):
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    payload = msgspec.json.decode(raw)
    for key in [k for k in payload if k.startswith("$")]:
        del payload[key]
    return payload, digest


def _split(descriptor: str) -> tuple[str, str, str | None]:
    parts = descriptor.split(":")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def child_app_cold(path: str, db: str) -> dict[str, Any]:
    import sqlalchemy as sa

    from anibridge.mappings.grammar import parse_pair

    started = time.perf_counter()
    cpu_started = time.process_time()
    payload, digest = _app_payload(path)
    provenance = {key: [path] for key in payload}
    entries: dict[tuple[str, str, str | None], None] = {}
    mappings: list[tuple[tuple[Any, ...], tuple[Any, ...], str, str]] = []
    invalid = 0
    for source, targets in payload.items():
        src = _split(source)
        for target, ranges in targets.items():
            dst = _split(target)
            for key, value in (ranges or {}).items():
                if value is None:
                    continue
                try:
                    parse_pair(key, value)
                except ValueError:
                    invalid += 1
                    continue
                entries[src] = None
                entries[dst] = None
                mappings.append((src, dst, key, value))
    engine = _app_engine(db)
    entry_t = sa.table(
        "animap_entry", sa.column("id"), sa.column("provider"),
        sa.column("entry_id"), sa.column("entry_scope"),
    )  # fmt: skip
    mapping_t = sa.table(
        "animap_mapping", sa.column("id"), sa.column("source_entry_id"),
        sa.column("destination_entry_id"), sa.column("source_range"),
        sa.column("destination_range"),
    )  # fmt: skip
    prov_t = sa.table(
        "animap_provenance", sa.column("mapping_id"), sa.column("n"),
        sa.column("source"),
    )  # fmt: skip
    from sqlalchemy.dialects.sqlite import insert

    with engine.begin() as conn:
        for statement in _APP_SCHEMA:
            conn.exec_driver_sql(statement)
        ids: dict[tuple[str, str, str | None], int] = {}
        rows = list(entries)
        per = _VARIABLES // 3
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            # One multi-row INSERT per chunk: the 900-variable limit is why the app
            # chunks at all.
            conn.execute(
                insert(entry_t)
                .values(
                    [
                        {"provider": p, "entry_id": e, "entry_scope": s}
                        for p, e, s in chunk
                    ]
                )
                .on_conflict_do_nothing()
            )
            # Re-select the chunk's ids, as the app does after each insert.
            for row in conn.execute(
                sa.select(entry_t.c.id, entry_t.c.provider, entry_t.c.entry_id,
                          entry_t.c.entry_scope).where(
                    entry_t.c.entry_id.in_({e for _, e, _ in chunk})
                )
            ):  # fmt: skip
                ids[(row.provider, row.entry_id, row.entry_scope)] = row.id
        per = _VARIABLES // 4
        with_provenance: set[int] = set()

        def sources_of(chunk: list[Any]) -> Iterator[str]:
            while True:  # every mapping of this payload has the same provenance
                yield ":".join(x for x in chunk[0][0] if x)

        for start in range(0, len(mappings), per):
            chunk = mappings[start : start + per]
            values = [
                {
                    "source_entry_id": ids[src],
                    "destination_entry_id": ids[dst],
                    "source_range": key,
                    "destination_range": value,
                }
                for src, dst, key, value in chunk
            ]
            stmt = insert(mapping_t).values(values)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[
                        "source_entry_id", "destination_entry_id", "source_range"
                    ],
                    set_={"destination_range": stmt.excluded.destination_range},
                )
            )  # fmt: skip
            # Re-select the chunk's mapping ids, then one provenance row each.
            found = conn.execute(
                sa.select(mapping_t.c.id).where(
                    mapping_t.c.source_entry_id.in_(
                        {v["source_entry_id"] for v in values}
                    )
                )
            ).scalars()
            new_ids = [mid for mid in found if mid not in with_provenance]
            with_provenance.update(new_ids)
            prov_rows = [
                {"mapping_id": mid, "n": 0, "source": provenance[source][0]}
                for mid, source in zip(new_ids, sources_of(chunk), strict=False)
            ]
            for p_start in range(0, len(prov_rows), _VARIABLES // 3):
                conn.execute(
                    insert(prov_t)
                    .values(prov_rows[p_start : p_start + _VARIABLES // 3])
                    .on_conflict_do_nothing()
                )
        conn.execute(
            sa.text("INSERT INTO house_keeping VALUES ('hash', :h)"), {"h": digest}
        )
    indexed = time.perf_counter() - started
    cpu_used = time.process_time() - cpu_started
    return {
        "index_ready_s": indexed,
        "index_ready_cpu_s": cpu_used,
        "peak_rss_mb": _peak_rss_mb(),
        "invalid": invalid,
        **_app_lookups(engine, path),
    }


def child_app_restart(path: str, db: str) -> dict[str, Any]:
    import sqlalchemy as sa

    started = time.perf_counter()
    cpu_started = time.process_time()
    payload, digest = _app_payload(path)
    provenance = {key: [path] for key in payload}  # noqa: F841 - as the app does
    engine = _app_engine(db)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT value FROM house_keeping WHERE key = 'hash'")
        ).scalar_one_or_none()
    if stored != digest:
        raise SystemExit("the restart path expects the cold run's database")
    ready = time.perf_counter() - started
    cpu_used = time.process_time() - cpu_started
    del payload
    return {
        "index_ready_s": ready,
        "index_ready_cpu_s": cpu_used,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _app_lookups(engine: Any, path: str) -> dict[str, float]:
    """One resolve per record: two queries, a new ORM session each call."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from anibridge.mappings.grammar import parse_pair

    entry = sa.table(
        "animap_entry", sa.column("id"), sa.column("provider"),
        sa.column("entry_id"), sa.column("entry_scope"),
    )  # fmt: skip
    mapping = sa.table(
        "animap_mapping", sa.column("source_entry_id"),
        sa.column("destination_entry_id"), sa.column("source_range"),
        sa.column("destination_range"),
    )  # fmt: skip
    dest = entry.alias("dest")
    with engine.connect() as conn:
        descriptors = [
            ":".join(x for x in row if x)
            for row in conn.execute(
                sa.select(entry.c.provider, entry.c.entry_id, entry.c.entry_scope)
            )
        ]
    queries = _queries(sorted(descriptors))[:BASELINE_LOOKUPS]
    begin = time.perf_counter()
    cpu_begin = time.process_time()
    for descriptor, episode in queries:
        provider, entry_id, scope = _split(descriptor)
        with Session(engine) as session:
            ids = (
                session.execute(
                    sa.select(entry.c.id).where(
                        entry.c.provider == provider,
                        entry.c.entry_id == entry_id,
                        sa.func.coalesce(entry.c.entry_scope, "") == (scope or ""),
                    )
                )
                .scalars()
                .all()
            )
            rows = session.execute(
                sa.select(
                    dest.c.provider, dest.c.entry_id, dest.c.entry_scope,
                    mapping.c.source_range, mapping.c.destination_range,
                )
                .join(dest, dest.c.id == mapping.c.destination_entry_id)
                .where(mapping.c.source_entry_id.in_(ids))
            ).all()  # fmt: skip
        for _p, _e, _s, key, value in rows:
            pair = parse_pair(key, value)
            if pair.ratio != 0:
                pair.translate(episode)
    return {
        "lookups_per_s": len(queries) / (time.perf_counter() - begin),
        "lookups_per_cpu_s": len(queries) / (time.process_time() - cpu_begin),
    }


# -- driver ------------------------------------------------------------------------


def _run_child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    return {k: round(statistics.median(r[k] for r in runs), 4) for k in keys}


def _bare_python(runs: int) -> float:
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append(
            after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        )
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=1, help="app_cold runs")
    parser.add_argument("--format", choices=("zst", "json"), default="zst")
    parser.add_argument("--keep", type=Path, default=None, help="write payload here")
    parser.add_argument(
        "--entries", type=int, default=ANILIST_ENTRIES, help="smaller: a quick try"
    )
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "ours":
            result = child_ours(*rest)
        elif kind == "app_cold":
            result = child_app_cold(*rest)
        else:
            result = child_app_restart(*rest)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        path = str(write_payload(directory, args.format, args.entries))
        size = Path(path).stat().st_size
        cache = str(directory / "compiled")
        ours_build = [
            _run_child("ours", path, "build", cache) for _ in range(args.runs)
        ]
        ours_cold = []
        for n in range(args.runs):
            fresh = str(directory / f"compiled-cold-{n}")
            ours_cold.append(_run_child("ours", path, "cold", fresh))
        _run_child("ours", path, "cold", cache)
        ours_warm = [_run_child("ours", path, "warm", cache) for _ in range(args.runs)]
        app_cold = []
        for n in range(args.cold_runs):
            db = str(directory / f"app-{n}.db")
            app_cold.append(_run_child("app_cold", path, db))
        app_restart = [
            _run_child("app_restart", path, str(directory / "app-0.db"))
            for _ in range(args.runs)
        ]
        bare = _bare_python(args.runs)
    build, cold, warm = _median(ours_build), _median(ours_cold), _median(ours_warm)
    a_cold, a_restart = _median(app_cold), _median(app_restart)
    report = {
        "command": f"bench/mappings_load.py --runs {args.runs} "
        f"--cold-runs {args.cold_runs} --format {args.format}"
        + (f" --entries {args.entries}" if args.entries != ANILIST_ENTRIES else ""),
        "payload": {
            "format": args.format,
            "bytes": size,
            **count(generate(args.entries)),
        },
        "runs": args.runs,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "bare_python_cpu_s": round(bare, 4),
        "ours_build": build,
        "ours_cold": cold,
        "ours_warm": warm,
        "app_cold": a_cold,
        "app_restart": a_restart,
        "ratio": {
            "app_restart_vs_ours_warm_cpu": round(
                a_restart["index_ready_cpu_s"] / warm["index_ready_cpu_s"], 1
            ),
            "app_cold_vs_ours_cold_cpu": round(
                a_cold["index_ready_cpu_s"] / cold["index_ready_cpu_s"], 1
            ),
            "app_restart_vs_ours_warm_rss": round(
                a_restart["peak_rss_mb"] / warm["peak_rss_mb"], 2
            ),
            "ours_warm_vs_app_lookups": round(
                warm["lookups_per_s"] / a_cold["lookups_per_s"], 1
            ),
        },
        "targets": {"index_ready_s_max": 0.05},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
