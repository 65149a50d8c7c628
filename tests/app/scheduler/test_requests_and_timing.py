from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anibridge.app.scheduler import (
    MAX_PENDING_REFS,
    SyncMode,
    SyncRequest,
    Timing,
    merge_requests,
    next_fire,
    parse_timing,
)


def test_merge_keeps_the_widest_mode_and_every_ref():
    a = SyncRequest.for_refs(["1"], reason="webhook:local")
    b = SyncRequest(SyncMode.INCREMENTAL, reasons=("poll",))
    c = SyncRequest.for_refs(["2", "1"], reason="webhook:local")
    merged = merge_requests(merge_requests(a, b), c)
    assert merged.mode is SyncMode.INCREMENTAL
    assert merged.refs == {"1", "2"} and merged.payloads == 2
    assert merged.reasons == ("webhook:local", "poll")
    full = merge_requests(merged, SyncRequest(SyncMode.FULL))
    assert full.mode is SyncMode.FULL and full.refs == frozenset()
    assert full.to_json() == {
        "mode": "full",
        "dry_run": False,
        "refs": 0,
        "payloads": 2,
        "reasons": ["webhook:local", "poll"],
    }


def test_a_change_without_a_ref_or_too_many_refs_read_everything():
    assert SyncRequest.for_refs([], whole=True).mode is SyncMode.FULL
    many = SyncRequest.for_refs(map(str, range(MAX_PENDING_REFS + 1)))
    assert many.mode is SyncMode.FULL and not many.refs


@settings(deadline=None)
@given(st.lists(st.frozensets(st.integers(0, 300).map(str), max_size=40), min_size=1))
def test_merging_covers_every_ref_within_the_bound(batches):
    """Whatever arrives, the merged request re-reads every named ref or everything."""
    limit = 100
    merged = SyncRequest.for_refs(batches[0], limit=limit)
    for keys in batches[1:]:
        merged = merge_requests(
            merged, SyncRequest.for_refs(keys, limit=limit), limit=limit
        )
    assert len(merged.refs) <= limit
    assert merged.payloads == len(batches)
    everything = frozenset().union(*batches)
    assert merged.mode is SyncMode.FULL or merged.refs == everything


def test_dry_runs_never_merge_with_real_runs():
    with pytest.raises(ValueError, match="dry run"):
        merge_requests(SyncRequest(dry_run=True), SyncRequest())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (3600, Timing(seconds=3600.0)),
        ("900", Timing(seconds=900.0)),
        ("0 3 * * *", Timing(cron="0 3 * * *")),
    ],
)
def test_parse_timing(value, expected):
    assert parse_timing(value) == expected


@pytest.mark.parametrize("value", [0, -5, "every day", True, [1]])
def test_parse_timing_rejects_with_the_key_named(value):
    with pytest.raises(ValueError, match=r"^profiles\.x\.schedule"):
        parse_timing(value, where="profiles.x.schedule")


def test_interval_fires_at_once_then_every_n_seconds():
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    timing = Timing(seconds=600)
    assert next_fire(timing, now, last=None) == now
    assert next_fire(timing, now, last=now) == now + timedelta(minutes=10)
    late = now + timedelta(hours=1)
    assert next_fire(timing, late, last=now) == late


def test_cron_waits_for_its_time():
    now = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)
    fire = next_fire(Timing(cron="0 3 * * *"), now, last=None)
    assert fire == datetime(2026, 1, 2, 3, tzinfo=UTC)


def test_describe():
    assert Timing(seconds=86400).describe() == "every 1 d"
    assert Timing(seconds=90).describe() == "every 90 s"
    assert Timing(cron="*/5 * * * *").describe() == "cron */5 * * * *"
