"""Golden scenarios: source state + target state + policy -> expected plan.

Each YAML file under `scenarios/` describes both providers in the shapes of
docs/ARCHITECTURE.md (library, list, history), the policy, and the expected actions
(provider, op, ref, kind, the written values in a compact form) and optionally the
count of skipped candidates per reason. The bundled curated mappings are used.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from bridge_support import curated, history, plan_between

from anibridge.bridge.codec import encode_value
from anibridge.bridge.explain import plan_json, skip_counts
from anibridge.bridge.model import Direction, Policy, ProgressMode
from anibridge.dates import parse_iso
from anibridge.provider.base import Progress, Rating, State, Status
from anibridge.provider.testing.memory import (
    episode_ref,
    library_capabilities,
    library_show,
    list_capabilities,
    list_entry,
    list_record,
    memory_provider,
    play,
    watched_record,
)

HERE = Path(__file__).parent / "scenarios"
FILES = sorted(HERE.glob("*.yaml"))


def _when(text):
    if isinstance(text, (datetime, date)) and not isinstance(text, datetime):
        return datetime(text.year, text.month, text.day, tzinfo=UTC)
    if isinstance(text, datetime):
        return text if text.tzinfo else text.replace(tzinfo=UTC)
    value = parse_iso(str(text))
    return value


def _span(spec):
    lo, hi = spec
    return range(lo, hi + 1)


def build(side):
    kind = side["kind"]
    if kind == "library":
        nodes, records = [], []
        for s in side.get("shows", []):
            seasons = {int(k): v for k, v in s["seasons"].items()}
            nodes.extend(library_show(s["key"], s["title"], seasons, ids=s["ids"]))
        for w in side.get("watched", []):
            for e in _span(w["episodes"]):
                records.append(
                    watched_record(
                        episode_ref(w["show"], w["season"], e),
                        last_viewed=_when(w["at"]),
                        repeat_count=w.get("repeat"),
                    )
                )
        return memory_provider(library_capabilities(), nodes=nodes, records=records)
    if kind == "list":
        scale = tuple(float(x) for x in side.get("rating_scale", (0, 100, 1)))
        caps = list_capabilities(
            authorities=tuple(side.get("authorities", ("anilist", "mal"))),
            rating_scale=scale,
        )
        nodes = [
            list_entry(e["key"], e["title"], episodes=e.get("episodes"), ids=e["ids"])
            for e in side.get("entries", [])
        ]
        records = []
        for r in side.get("records", []):
            records.append(
                list_record(
                    r["key"],
                    status=Status(r["status"]) if "status" in r else None,
                    progress=r.get("progress"),
                    rating=r.get("rating"),
                    started=_when(r["started"]) if "started" in r else None,
                    finished=_when(r["finished"]) if "finished" in r else None,
                    repeat=r.get("repeat"),
                    notes=r.get("notes"),
                    updated_at=_when(r["updated_at"]),
                    rating_scale=scale,
                )
            )
        return memory_provider(caps, nodes=nodes, records=records)
    if kind == "history":
        events = [
            play(episode_ref(p["show"], p["season"], e), _when(p["at"]), kind="watch")
            for p in side.get("plays", [])
            for e in _span(p["episodes"])
        ]
        shows = [
            (
                s["key"],
                s["title"],
                {int(k): v for k, v in s["seasons"].items()},
                s["ids"],
            )
            for s in side.get("shows", [])
        ]
        return history(shows, events=events)
    raise ValueError(f"unknown provider kind {kind!r}")


def compact(field, value):
    if isinstance(value, State):
        return value.status.value
    if isinstance(value, Progress):
        return value.current
    if isinstance(value, Rating):
        return float(value.value)
    if isinstance(value, datetime):
        return encode_value(field, value)
    return value


def actual(plan):
    out = []
    for a in plan.actions:
        row = {"provider": a.provider, "op": a.op.value, "ref": repr(a.ref)}
        if a.kind:
            row["kind"] = a.kind
        if a.after:
            row["after"] = {f.value: compact(f, v) for f, v in a.after.items()}
        if a.at is not None:
            row["at"] = a.at.isoformat()
        out.append(row)
    return sorted(
        out, key=lambda r: (r["provider"], r["ref"], r["op"], r.get("kind", ""))
    )


def normalized(rows):
    out = []
    for r in rows:
        row = {k: v for k, v in r.items() if v is not None}
        if "after" in row:
            row["after"] = {
                k: (str(v) if isinstance(v, datetime) else v)
                for k, v in row["after"].items()
            }
        out.append(row)
    return sorted(
        out, key=lambda r: (r["provider"], r["ref"], r["op"], r.get("kind", ""))
    )


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
async def test_scenario(path):
    spec = yaml.safe_load(path.read_text())
    policy_spec = spec.get("policy", {})
    policy = Policy(
        direction=Direction(policy_spec.get("direction", "one_way")),
        progress_mode=ProgressMode(policy_spec.get("progress_mode", "count")),
        timezone=policy_spec.get("timezone", "UTC"),
    )
    source, target = build(spec["source"]), build(spec["target"])
    plan = await plan_between(
        source,
        target,
        policy,
        index=curated(),
        source_key=spec["source"]["key"],
        target_key=spec["target"]["key"],
        reverse=policy.direction is Direction.TWO_WAY,
    )
    assert actual(plan) == normalized(spec["expected"]["actions"]), plan_json(plan)
    if "skipped" in spec["expected"]:
        assert skip_counts(plan) == spec["expected"]["skipped"]


def test_every_scenario_is_collected():
    assert {p.stem for p in FILES} >= {
        "library_to_list",
        "list_list_two_way",
        "list_to_history",
    }
    for path in FILES:
        spec = yaml.safe_load(path.read_text())
        # A scenario without both sides or without expected actions would pass
        # while checking nothing.
        assert {"source", "target", "expected"} <= set(spec), path.name
        assert spec["source"]["key"] != spec["target"]["key"], path.name
        assert spec["expected"]["actions"], f"{path.name} expects no action"
