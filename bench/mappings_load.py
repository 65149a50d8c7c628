"""Benchmark: load + index the full-scale mappings payload, against a SQLite baseline.

    .venv/bin/python bench/mappings_load.py [--runs 5] [--format zst|json] [--keep DIR]

A deterministic generator writes a synthetic v3 payload shaped like the curated
file (AniList sources onto MAL, AniDB R/S/O scopes, TVDB/TMDB seasons, movies;
ratios, `|0`, open ranges, comma targets, split cours and fan-out) and, as the
released dataset does, both directions of every edge. Each measurement runs in a
fresh subprocess; the script prints one JSON object with the medians.

Wall-clock seconds suffer when other processes share the 2 cores; the
`*_cpu_s` figures (process CPU time) show the work itself.

The baseline does what the existing AniBridge app does at start-up: decode the
payload, then write every descriptor and every range pair into normalized SQLite
tables (entries, mappings) in chunks, and answer lookups with SQL joins.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
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


def write_payload(directory: Path, fmt: str) -> Path:
    """Write the generated payload as minified JSON (optionally zstd level 3)."""
    import msgspec
    import zstandard

    raw = msgspec.json.encode(generate())
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
    picked = rng.sample(descriptors, LOOKUPS // 10)
    return [(d, episode) for d in picked for episode in range(1, 11)]


def _uniform_queries(descriptors: list[str], seed: int = SEED) -> list[tuple[str, int]]:
    """Stress workload: every lookup a uniformly random descriptor (mostly cold)."""
    rng = random.Random(seed + 2)
    return [(rng.choice(descriptors), rng.randint(1, 26)) for _ in range(LOOKUPS)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_ours(path: str) -> dict[str, Any]:
    from anibridge.mappings.index import build_index
    from anibridge.mappings.merge import merge_layers
    from anibridge.mappings.payload import load_layers

    started = time.perf_counter()
    cpu_started = time.process_time()
    gc.disable()  # as load_index does
    loaded = load_layers([path])
    merged = merge_layers(loaded.layers)
    decoded = time.perf_counter()
    index = build_index(merged)
    indexed = time.perf_counter()
    cpu_used = time.process_time() - cpu_started
    gc.enable()
    descriptors = list(index.descriptors())
    rates = {}
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
    return {
        "load_s": decoded - started,
        "index_s": indexed - decoded,
        "load_index_s": indexed - started,
        "load_index_cpu_s": cpu_used,
        "peak_rss_mb": _peak_rss_mb(),
        **rates,
        "invalid": len(index.invalid),
        "descriptors": len(descriptors),
    }


_SCHEMA = """
CREATE TABLE animap_entry (
    id INTEGER PRIMARY KEY, provider TEXT NOT NULL, entry_id TEXT NOT NULL,
    entry_scope TEXT, UNIQUE (provider, entry_id, entry_scope));
CREATE INDEX ix_entry ON animap_entry (provider, entry_id);
CREATE TABLE animap_mapping (
    id INTEGER PRIMARY KEY,
    source_entry_id INTEGER NOT NULL REFERENCES animap_entry(id),
    destination_entry_id INTEGER NOT NULL REFERENCES animap_entry(id),
    source_range TEXT NOT NULL, destination_range TEXT,
    UNIQUE (source_entry_id, destination_entry_id, source_range, destination_range));
CREATE INDEX ix_mapping_dest ON animap_mapping (destination_entry_id, source_entry_id);
"""
_CHUNK = 900


def _split(descriptor: str) -> tuple[str, str, str | None]:
    parts = descriptor.split(":")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None


def child_sqlite(path: str) -> dict[str, Any]:
    import msgspec
    import zstandard

    from anibridge.mappings.grammar import parse_pair

    started = time.perf_counter()
    cpu_started = time.process_time()
    raw = Path(path).read_bytes()
    if path.endswith(".zst"):
        raw = zstandard.ZstdDecompressor().decompressobj().decompress(raw)
    payload = msgspec.json.decode(raw)
    for key in [k for k in payload if k.startswith("$")]:
        del payload[key]
    decoded = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "anibridge.db")
        db.executescript(_SCHEMA)
        entries: dict[tuple[str, str, str | None], int] = {}
        rows: list[tuple[int, int, str, str]] = []
        for source, targets in payload.items():
            for target, ranges in targets.items():
                for key, value in ranges.items():
                    if value is None:
                        continue
                    try:
                        parse_pair(key, value)
                    except ValueError:
                        continue
                    ids = []
                    for descriptor in (source, target):
                        split = _split(descriptor)
                        if split not in entries:
                            entries[split] = len(entries) + 1
                        ids.append(entries[split])
                    rows.append((ids[0], ids[1], key, value))
        entry_rows = [(i, *k) for k, i in entries.items()]
        for i in range(0, len(entry_rows), _CHUNK):
            db.executemany(
                "INSERT INTO animap_entry VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                entry_rows[i : i + _CHUNK],
            )
        for i in range(0, len(rows), _CHUNK):
            db.executemany(
                "INSERT INTO animap_mapping (source_entry_id, destination_entry_id,"
                " source_range, destination_range) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                rows[i : i + _CHUNK],
            )
        db.commit()
        del payload, rows, entry_rows
        indexed = time.perf_counter()
        cpu_used = time.process_time() - cpu_started
        descriptors = sorted({":".join(x for x in k if x) for k in entries})
        del entries
        queries = _queries(descriptors)[:BASELINE_LOOKUPS]
        query = (
            "SELECT d.provider, d.entry_id, d.entry_scope, m.source_range,"
            " m.destination_range FROM animap_entry s"
            " JOIN animap_mapping m ON m.source_entry_id = s.id"
            " JOIN animap_entry d ON d.id = m.destination_entry_id"
            " WHERE s.provider = ? AND s.entry_id = ? AND s.entry_scope IS ?"
        )
        begin = time.perf_counter()
        for descriptor, episode in queries:
            result = {}
            for provider, entry_id, scope, key, value in db.execute(
                query, _split(descriptor)
            ):
                pair = parse_pair(key, value)
                if pair.ratio != 0:
                    found = pair.translate(episode)
                    if found:
                        target = f"{provider}:{entry_id}" + (
                            f":{scope}" if scope else ""
                        )
                        result[target] = found
        lookups = time.perf_counter() - begin
        db.close()
    return {
        "load_s": decoded - started,
        "index_s": indexed - decoded,
        "load_index_s": indexed - started,
        "load_index_cpu_s": cpu_used,
        "peak_rss_mb": _peak_rss_mb(),
        "lookups_per_s": len(queries) / lookups,
    }


# -- driver ------------------------------------------------------------------------


def _run_child(kind: str, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    return {k: round(statistics.median(r[k] for r in runs), 4) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--format", choices=("zst", "json"), default="zst")
    parser.add_argument("--baseline-runs", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write payload here")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"))
    args = parser.parse_args()
    if args.child:
        kind, path = args.child
        result = child_ours(path) if kind == "ours" else child_sqlite(path)
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        path = write_payload(directory, args.format)
        size = path.stat().st_size
        ours = _median([_run_child("ours", path) for _ in range(args.runs)])
        baseline_runs = args.baseline_runs or args.runs
        base = _median([_run_child("sqlite", path) for _ in range(baseline_runs)])
    report = {
        "payload": {"format": args.format, "bytes": size, **count(generate())},
        "runs": args.runs,
        "anibridge": ours,
        "sqlite_baseline": base,
        "ratio": {
            "load_index_speedup": round(base["load_index_s"] / ours["load_index_s"], 2),
            "load_index_cpu_speedup": round(
                base["load_index_cpu_s"] / ours["load_index_cpu_s"], 2
            ),
            "peak_rss_ratio": round(base["peak_rss_mb"] / ours["peak_rss_mb"], 2),
            "lookup_speedup": round(ours["lookups_per_s"] / base["lookups_per_s"], 2),
        },
        "targets": {
            "load_index_s_max": 1.0,
            "peak_rss_mb_max": 200,
            "lookups_per_s_min": 200_000,
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
