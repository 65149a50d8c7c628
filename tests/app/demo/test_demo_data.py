"""The shipped demo data is real: keyed by ids the bundled curated mappings use."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml

DATA = resources.files("anibridge.app.demo") / "data"
MAPPINGS = resources.files("anibridge.mappings") / "data" / "mappings.edits.yaml"


@pytest.fixture(scope="module")
def mappings() -> dict:
    return yaml.load(MAPPINGS.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


@pytest.fixture(scope="module")
def library() -> dict:
    return yaml.safe_load((DATA / "library.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def alist() -> dict:
    return yaml.safe_load((DATA / "list.yaml").read_text(encoding="utf-8"))


def _targets(mappings: dict) -> dict[str, list[tuple[str, str, str]]]:
    out: dict[str, list[tuple[str, str, str]]] = {}
    for src, targets in mappings.items():
        if src.startswith("anilist:"):
            for tgt, ranges in targets.items():
                for s, t in (ranges or {}).items():
                    out.setdefault(tgt, []).append((src, str(s), str(t)))
    return out


def test_at_least_40_titles_all_keyed_by_curated_ids(library, mappings):
    targets = _targets(mappings)
    items = library["items"]
    assert len(items) >= 40
    for item in items:
        if item["kind"] == "movie":
            assert any(i in targets for i in item["ids"]), item["title"]
        else:
            (show_id,) = item["ids"]
            seasons = [f"{show_id}:s{s['season']}" for s in item["seasons"]]
            assert all(s in targets for s in seasons), item["title"]


def test_list_totals_cover_every_mapped_episode(alist, mappings):
    totals = {i["key"]: i["episodes"] for i in alist["items"]}
    for key, total in totals.items():
        for ranges in mappings[key].values():
            for source in ranges or {}:
                ends = [int(n) for n in re.findall(r"\d+", str(source))]
                assert max(ends) <= total, (key, source, total)


def test_demo_covers_the_hard_cases(library, alist, mappings):
    targets = _targets(mappings)
    shows = {i["ids"][0]: i for i in library["items"] if i["kind"] == "show"}
    reached = {
        f"{sid}:s{s['season']}": targets.get(f"{sid}:s{s['season']}", [])
        for sid, show in shows.items()
        for s in show["seasons"]
    }
    listed = {i["key"] for i in alist["items"]}
    # split cour: one season onto two list entries
    assert any(
        len({src for src, _, _ in e if src in listed}) > 1 for e in reached.values()
    )
    # specials
    assert any(k.endswith(":s0") and e for k, e in reached.items())
    # a ratio mapping and an offset season (target ranges not starting at 1)
    assert any(
        "|" in t and not t.endswith("|0") for e in reached.values() for _, _, t in e
    )
    assert any(not s.startswith("1") for e in reached.values() for _, s, _ in e)
    # movies
    assert any(i["kind"] == "movie" for i in library["items"])
    # list: ahead, behind and one user-paused entry
    records = [i["record"] for i in alist["items"] if "record" in i]
    assert sum(r["status"] == "paused" for r in records) == 1
    assert len(records) >= 3
    plays = [
        p
        for i in library["items"]
        for s in i.get("seasons", [])
        for e in s["episodes"]
        for p in e.get("plays", [])
    ]
    years = {p[:4] for p in plays}
    assert len(plays) > 500 and len(years) >= 3
