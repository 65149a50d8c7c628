"""Plays whose history POST loses its answer, through the CLI and real loopback HTTP.

A local library syncs into the fake Trakt, whose "apply late" knob resets (or times
out) the history POST and applies it only later — explicitly, or once time has
passed on the fake's clock. Trakt keeps every POSTed play, so any blind re-send
would show up here as a duplicate. What must hold: the POST is sent once, the run
reports the plays as unconfirmed (not applied, not "failed 0"), nothing is re-sent
while the service may still apply it, the next run converges with zero duplicates,
and undo is exact.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from anibridge.http import ManualClock
from anibridge.store import SqlStore
from anibridge.testing.fakes.trakt import FakeTrakt
from tests.app.cli.cli_support import Done, invoke

PLAYS = {
    ("episode", 1, 1, 1): "2023-11-24T15:00:00Z",
    ("episode", 1, 1, 2): "2023-11-25T13:00:00Z",
    ("episode", 1, 1, 3): "2023-11-26T13:00:00Z",
    ("movie", 1): "2023-09-30T21:00:00Z",
}
LIBRARY = {
    "anibridge_local": 1,
    "account": {"key": "me", "title": "My library"},
    "items": [
        {
            "key": "show-76885",
            "kind": "show",
            "title": "Cowboy Bebop",
            "ids": ["tvdb_show:76885"],
            "seasons": [
                {
                    "season": 1,
                    "episodes": [
                        {"episode": n, "plays": [PLAYS[("episode", 1, 1, n)]]}
                        for n in (1, 2, 3)
                    ]
                    + [{"episode": 4}],
                }
            ],
        },
        {
            "key": "movie-149",
            "kind": "movie",
            "title": "Akira",
            "ids": ["tmdb_movie:149"],
            "plays": [PLAYS[("movie", 1)]],
        },
    ],
}
EARLIER = datetime(2020, 5, 1, 12, 0, tzinfo=UTC)  # a play the user already had


def cli(config: Path, *args: str) -> Done:
    """The CLI in-process (so the test's fake clock applies) on `config`."""
    return invoke(*args, "--config", str(config))


@pytest.fixture
def fake():
    with FakeTrakt(clock=ManualClock(), enforce_limits=False) as service:
        service.add_show(1, "Cowboy Bebop", {1: 26}, tvdb=76885)
        service.add_movie(1, "Akira", tmdb=149)
        service.add_play(("episode", 1, 1, 4), EARLIER)
        yield service


@pytest.fixture
def workspace(tmp_path, fake):
    (tmp_path / "library.yaml").write_text(yaml.safe_dump(LIBRARY))
    trakt = fake.provider_config(time_scale=0.001, late_apply_window=600)
    trakt.pop("clock")  # a YAML config names a time scale, not a clock
    config = {
        "data_dir": "data",
        "profiles": {
            "plays": {
                "source": {
                    "name": "lib",
                    "type": "local",
                    "config": {"path": "lib.sqlite", "seed": "library.yaml"},
                },
                "target": {"type": "trakt", "config": trakt},
            }
        },
    }
    path = tmp_path / "anibridge.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def posts(fake: FakeTrakt) -> int:
    return sum(
        1 for r in fake.requests if r.method == "POST" and r.path == "/sync/history"
    )


def history(fake: FakeTrakt) -> list[tuple]:
    """(item, watched_at) of every play on Trakt, duplicates kept."""
    return sorted((e["key"], e["watched_at"]) for e in fake.history)


def synced() -> list[tuple]:
    """Trakt's history after one clean sync."""
    plays = [
        (key, datetime.fromisoformat(at.replace("Z", "+00:00")))
        for key, at in PLAYS.items()
    ]
    return sorted([*plays, (("episode", 1, 1, 4), EARLIER)])


def journal(config: Path, run_id: str) -> list[str]:
    store = SqlStore(f"sqlite:///{config.parent / 'data' / 'anibridge.db'}")
    try:
        return sorted(e.outcome for e in store.entries(run_id))
    finally:
        store.close()


@pytest.mark.parametrize("answer", [0, 504], ids=["connection-reset", "gateway-504"])
def test_a_lost_post_is_unconfirmed_not_resent_and_converges_once_it_lands(
    fake, workspace, answer
):
    before = history(fake)
    fake.apply_late(answer=answer)
    first = cli(workspace, "sync", "--json")
    assert first.returncode == 1, first.stderr  # unconfirmed writes: not "all ok"
    summary = first.json()
    assert summary["unknown"] == 4
    assert summary["applied"] == 0 and summary["failed"] == 0
    assert posts(fake) == 1  # neither the HTTP client nor the engine re-sent it
    assert history(fake) == before
    assert journal(workspace, summary["run_id"]) == ["unknown"] * 4

    # The next run starts while Trakt may still apply it: nothing is sent again.
    waiting = cli(workspace, "sync", "--json")
    assert waiting.returncode == 0, waiting.stderr
    assert waiting.json()["applied"] == 0
    assert "4 write(s) of earlier runs are still unconfirmed" in " ".join(
        waiting.stderr.split()
    )
    assert posts(fake) == 1

    assert fake.land_late() == 1  # Trakt applies the POST after all
    settled = cli(workspace, "sync", "--json")
    assert settled.returncode == 0, settled.stderr
    assert "settled 4 journal row(s)" in " ".join(settled.stderr.split())
    assert settled.json()["applied"] == 0
    assert posts(fake) == 1
    assert history(fake) == synced()  # every play exactly once
    assert journal(workspace, summary["run_id"]) == ["applied"] * 4

    undone = cli(workspace, "undo", summary["run_id"], "--yes", "--json")
    assert undone.returncode == 0, undone.stderr
    assert history(fake) == before  # exact: the user's own play stays


def test_a_post_applied_late_on_the_fake_clock_lands_during_the_next_run(
    fake, workspace
):
    fake.apply_late(answer=504, after=90)
    first = cli(workspace, "sync", "--json")
    assert first.json()["unknown"] == 4 and posts(fake) == 1
    fake.clock.advance(90)  # by the next run's first request Trakt has applied it
    second = cli(workspace, "sync", "--json")
    assert second.returncode == 0, second.stderr
    assert second.json()["applied"] == 0 and fake.landed == 1
    assert posts(fake) == 1
    assert history(fake) == synced()
    assert journal(workspace, first.json()["run_id"]) == ["applied"] * 4


def test_after_the_window_only_the_plays_still_missing_are_sent_once(
    fake, workspace, monkeypatch
):
    fake.apply_late()
    first = cli(workspace, "sync", "--json")
    run = first.json()["run_id"]
    fake.late.clear()  # this POST never lands
    # Meanwhile the user's player scrobbled one of them to Trakt.
    fake.add_play(("movie", 1), datetime(2023, 9, 30, 21, 0, tzinfo=UTC))

    inside = cli(workspace, "sync", "--json")
    assert inside.returncode == 0, inside.stderr
    assert posts(fake) == 1  # the window is open: the other three are not re-sent
    assert journal(workspace, run) == ["applied", "unknown", "unknown", "unknown"]

    import anibridge.bridge.reconcile as reconcile

    later = datetime.now(UTC) + timedelta(seconds=601)
    monkeypatch.setattr(reconcile, "utcnow", lambda: later)
    after = cli(workspace, "sync", "--json")
    assert after.returncode == 0, after.stderr
    assert after.json()["applied"] == 3
    assert posts(fake) == 2
    sent = json.loads(
        next(
            r.body
            for r in reversed(fake.requests)
            if r.method == "POST" and r.path == "/sync/history"
        )
    )
    assert "movies" not in sent  # the scrobbled film was not sent again
    assert history(fake) == synced()  # zero duplicates
    assert journal(workspace, run) == ["applied", "failed", "failed", "failed"]
