from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from anibridge.bridge.codec import (
    decode_fields,
    encode_fields,
    ref_from_json,
    ref_id,
    ref_to_json,
)
from anibridge.bridge.stores import (
    Baseline,
    BaselineStore,
    CursorStore,
    JournalEntry,
    JournalStore,
    Link,
    LinkStore,
    MemoryStores,
    Pin,
    PinStore,
    RunRecord,
    RunStore,
)
from anibridge.provider.base import (
    Progress,
    Rating,
    RecordField,
    Ref,
    State,
    Status,
)


def test_memory_stores_implement_every_protocol():
    s = MemoryStores()
    for proto in (
        LinkStore,
        BaselineStore,
        RunStore,
        JournalStore,
        CursorStore,
        PinStore,
    ):
        assert isinstance(s, proto)


def test_values_round_trip_through_json():
    values = {
        RecordField.STATUS: State("CURRENT", Status.ACTIVE),
        RecordField.PROGRESS: Progress(5, 12, "episode"),
        RecordField.RATING: Rating(8.5, (0.0, 10.0, 0.5)),
        RecordField.STARTED_AT: datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
        RecordField.REPEAT_COUNT: 2,
        RecordField.NOTES: "great",
    }
    data = json.loads(json.dumps(encode_fields(values)))
    assert decode_fields(data) == values


def test_bad_json_names_the_field():
    with pytest.raises(ValueError, match="repeat_count"):
        decode_fields({"repeat_count": "x"})


def test_ref_json_and_id():
    ref = Ref.at("show", ("season", 2), ("episode", 5))
    assert ref_from_json(json.loads(json.dumps(ref_to_json(ref)))) == ref
    assert ref_id(ref) == "show/season=2/episode=5"
    assert ref_id(Ref("x")) == "x"


def test_links_keep_first_created_and_stable_id():
    s = MemoryStores()
    a = Link(
        "p", "plex", "k", "tvdb_show:1:s1", "anilist", "20", "mapping", created_at="t1"
    )
    s.put_links([a])
    s.put_links(
        [
            Link(
                "p",
                "plex",
                "k",
                "tvdb_show:1:s1",
                "anilist",
                "20",
                "mapping",
                created_at="t2",
            )
        ]
    )
    (only,) = s.links("p", "plex", "anilist")
    assert only.created_at == "t1" and only.id == a.id
    assert s.links("p", "plex", "mal") == []


def test_baselines_journal_cursors_pins_runs():
    s = MemoryStores()
    s.put_baselines(
        [Baseline("p", "L", "status", {"status": "active"}, {"status": "active"})]
    )
    assert ("L", "status") in s.baselines("p")
    s.remove_baselines("p", [("L", "status")])
    assert s.baselines("p") == {}

    ref = ref_to_json(Ref.at("x", ("episode", 1)))
    s.start_run(RunRecord("r1", "p", "2024-01-01T00:00:00+00:00"))
    s.record(
        [
            JournalEntry(
                "r1",
                "a1",
                "trakt",
                ref,
                "append_event",
                kind="watch",
                at="2024-01-01T00:00:00+00:00",
                outcome="applied",
            )
        ]
    )
    assert s.event_sent(
        "p", "trakt", "x/episode=1", "watch", "2024-01-01T00:00:00+00:00"
    )
    assert not s.event_sent(
        "p", "trakt", "x/episode=2", "watch", "2024-01-01T00:00:00+00:00"
    )
    assert [e.action_id for e in s.entries("r1")] == ["a1"]

    s.set_cursor("p", "plex", "c1")
    assert s.cursor("p", "plex") == "c1"
    s.set_cursor("p", "plex", None)
    assert s.cursor("p", "plex") is None

    s.set_pin(Pin("p", "anilist", "20", frozenset({"status"})))
    assert len(s.pins("p")) == 1
    s.set_pin(Pin("p", "anilist", "20", frozenset()))
    assert s.pins("p") == []

    s.start_run(RunRecord("r1", "p", "2024-01-01T00:00:00+00:00"))
    s.start_run(RunRecord("r2", "p", "2024-01-02T00:00:00+00:00"))
    assert [r.id for r in s.runs("p")] == ["r2", "r1"]


def test_link_ids_are_stable_digests_of_the_pair():
    # Stored links are found again by this id: changing how it is formed orphans
    # every link a store holds.
    import hashlib

    from anibridge.bridge.stores import link_id

    raw = "\x1f".join(("p", "plex", "k", "tvdb_show:1:s1", "anilist", "20"))
    expected = hashlib.sha1(raw.encode()).hexdigest()[:20]
    assert link_id("p", "plex", "k", "tvdb_show:1:s1", "anilist", "20") == expected
    assert link_id("p", "plex", "k", "", "anilist", "20") != expected
