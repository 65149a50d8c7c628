"""Generate the demo library and list shipped in `anibridge.app.demo.data`.

Run once (``.venv/bin/python scripts/make_demo_data.py``); the output is committed.
Every title is keyed by the TVDB/TMDB ids its entry in the bundled curated mappings
file (`anibridge/mappings/data/mappings.edits.yaml`) uses; titles and AniList episode
totals are public knowledge. Plays are spread over 2022-2025 with a fixed seed.
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "src/anibridge/mappings/data/mappings.edits.yaml"
OUT = ROOT / "src/anibridge/app/demo/data"

# AniList id -> (title, AniList episode total)
ANILIST = {
    20: ("Naruto", 220),
    1735: ("Naruto: Shippuden", 500),
    269: ("Bleach", 366),
    11061: ("Hunter x Hunter (2011)", 148),
    813: ("Dragon Ball Z", 291),
    223: ("Dragon Ball", 153),
    225: ("Dragon Ball GT", 64),
    918: ("Gintama", 201),
    6702: ("Fairy Tail", 175),
    20626: ("Fairy Tail (2014)", 102),
    5081: ("Bakemonogatari", 15),
    15689: ("Nekomonogatari: Black", 4),
    20593: ("Hanamonogatari", 5),
    20918: ("Tsukimonogatari", 4),
    17074: ("Monogatari Series: Second Season", 26),
    8795: ("Panty & Stocking with Garterbelt", 13),
    151799: ("New Panty & Stocking with Garterbelt", 13),
    5: ("Cowboy Bebop: The Movie", 1),
    4037: ("Cowboy Bebop: Yose Atsume Blues", 1),
    31: ("Evangelion: Death (True)²", 1),
    32: ("The End of Evangelion", 1),
    117197: ("Tiger & Bunny 2", 13),
    151803: ("Tiger & Bunny 2 Part 2", 12),
    12015: ("Tiger & Bunny: The Beginning", 1),
    12017: ("Tiger & Bunny: The Rising", 1),
    110277: ("Attack on Titan: The Final Season", 16),
    142329: ("Demon Slayer: Entertainment District Arc", 11),
    146065: ("Mushoku Tensei: Jobless Reincarnation Season 2", 13),
    141534: ("Mushoku Tensei: Eris the Goblin Slayer", 1),
    158927: ("Spy x Family Season 2", 12),
    849: ("The Melancholy of Haruhi Suzumiya", 14),
    4382: ("The Melancholy of Haruhi Suzumiya (2009)", 28),
    7311: ("The Disappearance of Haruhi Suzumiya", 1),
    45: ("Rurouni Kenshin", 94),
    170: ("Slam Dunk", 101),
    232: ("Cardcaptor Sakura", 70),
    249: ("InuYasha", 167),
    392: ("Yu Yu Hakusho", 112),
    527: ("Pokémon", 276),
    820: ("Legend of the Galactic Heroes", 110),
    967: ("Fist of the North Star", 109),
    1356: ("Fist of the North Star 2", 43),
    1254: ("Saint Seiya", 114),
    1482: ("D.Gray-man", 103),
    22: ("The Prince of Tennis", 178),
    28: ("Yakitate!! Japan", 69),
    150: ("Blood+", 50),
    123: ("Fushigi Yûgi", 52),
    132: ("GetBackers", 49),
    16099: ("Sword Art Offline", 9),
    21416: ("One Punch Man Specials", 6),
    528: ("Pokémon: The First Movie", 1),
    987: ("Dragon Ball GT: A Hero's Legacy", 1),
}
FILMS = {5, 4037, 31, 32, 12015, 12017, 141534, 7311, 528, 987}

# Library shows: (title, tvdb id, tmdb id or None, seasons to include)
SHOWS = [
    ("Naruto", 78857, 46260, [1, 2]),
    ("Naruto Shippuden", 79824, 31910, [1]),
    ("Bleach", 74796, None, [1, 2]),
    ("Hunter x Hunter (2011)", 252322, 46298, [1, 2]),
    ("Dragon Ball Z", 81472, None, [1]),
    ("Dragon Ball", 76666, None, [1]),
    ("Dragon Ball GT", 79275, None, [1]),
    ("Gintama", 79895, None, [1]),
    ("Fairy Tail", 114801, None, [1, 5]),
    ("Monogatari", 102261, 46195, [0, 1, 3]),
    ("Panty & Stocking with Garterbelt", 188551, 42421, [1]),
    ("Cowboy Bebop", 76885, 30991, [0]),
    ("Neon Genesis Evangelion", 70350, None, [0]),
    ("Tiger & Bunny", 246381, None, [0, 2]),
    ("Attack on Titan", 267440, None, [4]),
    ("Demon Slayer: Kimetsu no Yaiba", 348545, None, [3]),
    ("Mushoku Tensei: Jobless Reincarnation", 371310, 94664, [0, 2]),
    ("Spy x Family", 405920, None, [2]),
    ("The Melancholy of Haruhi Suzumiya", 79414, 42511, [1]),
    ("Rurouni Kenshin", 70863, None, [1]),
    ("Slam Dunk", 72491, None, [1]),
    ("Cardcaptor Sakura", 70668, None, [1]),
    ("InuYasha", 71361, None, [1]),
    ("Yu Yu Hakusho", 76665, None, [1]),
    ("Pokémon", 76703, None, [1]),
    ("Legend of the Galactic Heroes", 81618, None, [1]),
    ("Fist of the North Star", 79156, None, [1, 5]),
    ("Saint Seiya", 72775, None, [1]),
    ("D.Gray-man", 79635, None, [1]),
    ("The Prince of Tennis", 73532, None, [1]),
    ("Yakitate!! Japan", 76014, None, [1]),
    ("Blood+", 78960, None, [1]),
    ("Fushigi Yûgi", 71444, None, [1]),
    ("GetBackers", 79056, None, [1]),
    ("Sword Art Online", 259640, 45782, [0]),
    ("One Punch Man", 293088, 63926, [0]),
]
MOVIES = [
    ("The End of Evangelion", 18491),
    ("Evangelion: Death (True)²", 21832),
    ("Tiger & Bunny: The Beginning", 178592),
    ("Tiger & Bunny: The Rising", 258807),
    ("Pokémon: The First Movie", 10228),
    ("Dragon Ball GT: A Hero's Legacy", 18095),
]
# Existing list entries: anilist id -> record (ahead, behind, user-paused, done).
LIST_STATE = {
    269: {"status": "watching", "progress": 120, "started_at": "2021-03-01"},  # ahead
    20: {"status": "watching", "progress": 12, "started_at": "2022-01-10"},  # behind
    11061: {"status": "paused", "progress": 40, "rating": 90},  # user-paused
    32: {"status": "completed", "progress": 1, "rating": 95},
    8795: {"status": "watching", "progress": 2},  # behind (ratio mapping)
}


def _ends(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text.split("|")[0])]


def _episodes(target: str) -> set[int]:
    """Episode numbers a target range string covers (open ends stop at +60)."""
    out: set[int] = set()
    body = target.partition("|")[0]  # disabled (|0) ranges still exist in a library
    for segment in body.split(","):
        first, _, last = segment.partition("-")
        start = int(first)
        end = int(last) if last else (start + 59 if "-" in segment else start)
        out |= set(range(start, end + 1))
    return out


def main() -> None:
    """Write library.yaml and list.yaml next to the demo package."""
    data = yaml.load(MAPPINGS.read_text(), Loader=yaml.CSafeLoader)
    # target descriptor -> list of (anilist id, source range, target range)
    reach: dict[str, list[tuple[int, str, str]]] = {}
    for src, targets in data.items():
        if not src.startswith("anilist:"):
            continue
        aid = int(src.split(":")[1])
        for tgt, ranges in targets.items():
            for s_range, t_range in (ranges or {}).items():
                reach.setdefault(tgt, []).append((aid, str(s_range), str(t_range)))
    rng = random.Random(20261124)
    start = datetime(2022, 1, 1, 19, 0, tzinfo=UTC)
    used: set[int] = set()
    items = []
    for title, tvdb, tmdb, seasons in SHOWS:
        # One episode-ordering source per show, as a media server keeps it (TMDB
        # numbers some of these seasons differently, so mixing both would double
        # count); the TMDB id is kept as metadata only.
        del tmdb
        ids = [f"tvdb_show:{tvdb}"]
        entry_seasons = []
        fraction = rng.choice([1.0, 1.0, 0.8, 0.5, 0.3])
        day = start + timedelta(days=rng.randrange(0, 900))
        for season in seasons:
            targets = reach.get(f"tvdb_show:{tvdb}:s{season}", [])
            if not targets:
                raise SystemExit(
                    f"{title}: no mapping reaches tvdb_show:{tvdb}:s{season}"
                )
            covered: set[int] = set()
            for aid, s_range, t_range in targets:
                if aid not in ANILIST:
                    continue
                used.add(aid)
                total = ANILIST[aid][1]
                if max(_ends(s_range) or [0]) > total:
                    raise SystemExit(f"anilist:{aid} total {total} < mapping {s_range}")
                covered |= _episodes(t_range)
            numbers = sorted(covered)[:60]
            if not numbers:
                continue
            count = len(numbers)
            watched = max(1, int(count * fraction))
            episodes = []
            for i, n in enumerate(numbers, start=1):
                ep: dict = {"episode": n}
                if i <= watched:
                    day += timedelta(hours=rng.randrange(20, 80))
                    ep["plays"] = [day.isoformat().replace("+00:00", "Z")]
                episodes.append(ep)
            entry_seasons.append({"season": season, "episodes": episodes})
        items.append(
            {
                "key": f"show-{tvdb}",
                "kind": "show",
                "title": title,
                "ids": ids,
                "seasons": entry_seasons,
            }
        )
    for title, tmdb in MOVIES:
        hit = [a for a, _, _ in reach.get(f"tmdb_movie:{tmdb}", []) if a in ANILIST]
        if not hit:
            raise SystemExit(f"{title}: tmdb_movie:{tmdb} is not in the mappings")
        used.update(hit)
        when = start + timedelta(days=rng.randrange(0, 1200), hours=2)
        items.append(
            {
                "key": f"movie-{tmdb}",
                "kind": "movie",
                "title": title,
                "ids": [f"tmdb_movie:{tmdb}"],
                "plays": [when.isoformat().replace("+00:00", "Z")],
            }
        )
    library = {
        "anibridge_local": 1,
        "account": {"key": "demo", "title": "Demo library"},
        "items": items,
    }
    entries = []
    for aid in sorted(used):
        title, total = ANILIST[aid]
        entry: dict = {
            "key": f"anilist:{aid}",
            "kind": "film" if aid in FILMS else "series",
            "title": title,
            "ids": [f"anilist:{aid}"],
            "episodes": total,
        }
        if aid in LIST_STATE:
            entry["record"] = {**LIST_STATE[aid], "updated_at": "2025-11-01T12:00:00Z"}
        entries.append(entry)
    alist = {
        "anibridge_local": 1,
        "account": {"key": "demo", "title": "Demo list"},
        "rating_scale": [0, 100, 1],
        "date_precision": "date",
        "items": entries,
    }
    header = "# Generated by scripts/make_demo_data.py; see docs/local-format.md.\n"
    OUT.mkdir(parents=True, exist_ok=True)
    for name, doc in (("library.yaml", library), ("list.yaml", alist)):
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
        (OUT / name).write_text(header + text, encoding="utf-8")
    print(f"{len(items)} library titles, {len(entries)} list titles")


if __name__ == "__main__":
    main()
