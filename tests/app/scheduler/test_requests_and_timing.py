from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from anibridge.app.scheduler import (
    InboundItem,
    SyncMode,
    SyncRequest,
    Timing,
    merge_requests,
    next_fire,
    parse_timing,
)
from anibridge.provider.base import InboundRequest


def item(n: int) -> InboundItem:
    return InboundItem(
        "local", InboundRequest("POST", "/webhook/local", body=b"%d" % n)
    )


def test_merge_keeps_the_widest_mode_and_every_payload():
    a = SyncRequest(SyncMode.TARGETED, inbound=(item(1),), reasons=("webhook:local",))
    b = SyncRequest(SyncMode.INCREMENTAL, reasons=("poll",))
    c = SyncRequest(SyncMode.TARGETED, inbound=(item(2),), reasons=("webhook:local",))
    merged = merge_requests(merge_requests(a, b), c)
    assert merged.mode is SyncMode.INCREMENTAL
    assert [i.request.body for i in merged.inbound] == [b"1", b"2"]
    assert merged.reasons == ("webhook:local", "poll")
    assert merge_requests(merged, SyncRequest(SyncMode.FULL)).mode is SyncMode.FULL


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
