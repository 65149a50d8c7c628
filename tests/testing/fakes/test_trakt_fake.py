"""The fake Trakt speaks Trakt's HTTP: raw requests, no provider in between."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from anibridge.http import ManualClock
from anibridge.testing.fakes.trakt import FakeTrakt

T0 = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)


@pytest.fixture
def fake():
    # Virtual time: the fake's windows move only when a test advances the clock.
    with FakeTrakt(clock=ManualClock()) as service:
        service.add_show(1, "Cowboy Bebop", {1: 26}, tvdb=76885)
        service.add_movie(1, "Akira", imdb="tt0094625")
        yield service


@pytest.fixture
def http(fake):
    token = fake.issue_tokens()["access_token"]
    headers = {
        "trakt-api-version": "2",
        "trakt-api-key": fake.client_id,
        "Authorization": f"Bearer {token}",
    }
    with httpx.Client(base_url=fake.base_url, headers=headers) as client:
        yield client


def test_app_headers_and_user_token_are_required(fake, http):
    bare = httpx.get(f"{fake.base_url}/sync/watched/shows")
    assert bare.status_code == 403
    no_version = httpx.get(
        f"{fake.base_url}/movies/1", headers={"trakt-api-key": fake.client_id}
    )
    assert no_version.status_code == 400
    anonymous = httpx.get(
        f"{fake.base_url}/sync/history",
        headers={"trakt-api-key": fake.client_id, "trakt-api-version": "2"},
    )
    assert anonymous.status_code == 401
    assert http.get("/sync/history").status_code == 200
    # Catalog reads do not need a user.
    assert (
        httpx.get(
            f"{fake.base_url}/movies/1",
            headers={"trakt-api-key": fake.client_id, "trakt-api-version": "2"},
        ).json()["title"]
        == "Akira"
    )


def test_history_pagination_headers_default_and_clamp(fake, http):
    for n in range(30):
        fake.add_play(("episode", 1, 1, n % 26 + 1), T0.replace(minute=n))
    first = http.get("/sync/history")
    assert len(first.json()) == 10  # Trakt's default page
    assert first.headers["X-Pagination-Page-Count"] == "3"
    assert first.headers["X-Pagination-Item-Count"] == "30"
    fake.max_page_size = 25
    big = http.get("/sync/history", params={"limit": 1000, "page": 2})
    assert big.headers["X-Pagination-Limit"] == "25"
    assert big.headers["X-Pagination-Page"] == "2"
    assert len(big.json()) == 5
    newest = first.json()[0]
    assert newest["watched_at"] == "2024-01-01T20:29:00.000Z"
    assert newest["type"] == "episode" and newest["show"]["ids"]["tvdb"] == 76885
    assert newest["episode"] == {
        "season": 1,
        "number": 4,
        "title": "Episode 4",
        "ids": newest["episode"]["ids"],
    }


def test_ratings_and_watchlist_paginate_only_when_asked(fake, http):
    for n in range(1, 16):
        fake.rate(("episode", 1, 1, n), 7)
    assert len(http.get("/sync/ratings").json()) == 15
    paged = http.get("/sync/ratings", params={"page": 1, "limit": 4})
    assert len(paged.json()) == 4 and paged.headers["X-Pagination-Page-Count"] == "4"
    assert len(http.get("/sync/ratings/movies").json()) == 0


def test_writes_answer_the_envelope_with_not_found_echoes(fake, http):
    body = {
        "movies": [
            {"ids": {"imdb": "tt0094625"}, "watched_at": "2024-01-01T20:00:00Z"},
            {"ids": {"trakt": 999}},
        ],
        "shows": [
            {
                "ids": {"tvdb": 76885},
                "seasons": [
                    {"number": 1, "episodes": [{"number": 1}, {"number": 40}]},
                    {"number": 9, "episodes": [{"number": 1}]},
                ],
            },
            {"ids": {"trakt": 4242}},
        ],
    }
    answer = http.post("/sync/history", json=body)
    assert answer.status_code == 201
    envelope = answer.json()
    assert envelope["added"] == {"movies": 1, "episodes": 1}
    assert envelope["updated"] == {"movies": 0, "episodes": 0}
    missing = envelope["not_found"]
    assert missing["movies"] == [{"ids": {"trakt": 999}}]
    assert missing["shows"] == [
        {
            "ids": {"tvdb": 76885},
            "seasons": [
                {"number": 1, "episodes": [{"number": 40}]},
                {"number": 9, "episodes": [{"number": 1}]},
            ],
        },
        {"ids": {"trakt": 4242}},
    ]
    # Like Trakt, the same item + watched_at is not deduplicated.
    fake.clock.advance(1.2)  # one write per second
    again = http.post("/sync/history", json={"movies": body["movies"][:1]})
    assert again.status_code == 201
    assert len(fake.plays_of(("movie", 1))) == 2


def test_one_write_per_second_with_retry_after_and_x_ratelimit():
    # Virtual time: two POSTs sent back to back land inside one second.
    with FakeTrakt(clock=ManualClock()) as fake:
        fake.add_movie(1, "Akira")
        headers = {
            "trakt-api-version": "2",
            "trakt-api-key": fake.client_id,
            "Authorization": f"Bearer {fake.issue_tokens()['access_token']}",
        }
        with httpx.Client(base_url=fake.base_url, headers=headers) as http:
            rate = {"movies": [{"ids": {"trakt": 1}, "rating": 8}]}
            first = http.post("/sync/ratings", json=rate)
            rate["movies"][0]["rating"] = 9
            second = http.post("/sync/ratings", json=rate)
            read = http.get("/sync/ratings")
    assert first.status_code == 201
    assert second.status_code == 429
    assert int(second.headers["Retry-After"]) >= 1
    info = json.loads(second.headers["X-Ratelimit"])
    assert info["name"] == "AUTHED_API_POST_LIMIT"
    assert (info["limit"], info["period"], info["remaining"]) == (1, 1.0, 0)
    assert fake.ratings[("movie", 1)][0] == 8  # the refused write changed nothing
    assert read.status_code == 200  # reads have their own budget


def test_get_budget_is_1000_per_five_minutes():
    # Virtual time: the 1001 requests all land inside one 300-second window, and
    # the window really is 300 seconds: just before it ends the budget is still
    # spent, just after it a request goes through again.
    clock = ManualClock()
    with FakeTrakt(clock=clock) as fake:
        token = fake.issue_tokens()["access_token"]
        headers = {
            "trakt-api-version": "2",
            "trakt-api-key": fake.client_id,
            "Authorization": f"Bearer {token}",
        }
        with httpx.Client(base_url=fake.base_url, headers=headers) as client:
            statuses = [
                client.get("/sync/last_activities").status_code for _ in range(1001)
            ]
            clock.advance(299)
            still_spent = client.get("/sync/last_activities").status_code
            clock.advance(1.5)
            renewed = client.get("/sync/last_activities").status_code
    assert statuses[:1000] == [200] * 1000
    assert statuses[1000] == 429
    assert (still_spent, renewed) == (429, 200)


def test_last_activities_moves_per_category(fake, http):
    before = http.get("/sync/last_activities").json()
    assert set(before) >= {"all", "movies", "episodes", "shows", "seasons", "watchlist"}
    http.post("/sync/watchlist", json={"shows": [{"ids": {"trakt": 1}, "notes": "hi"}]})
    after = http.get("/sync/last_activities").json()
    assert after["shows"]["watchlisted_at"] > before["shows"]["watchlisted_at"]
    assert after["watchlist"]["updated_at"] > before["watchlist"]["updated_at"]
    assert after["movies"] == before["movies"]
    assert after["all"] > before["all"]


def test_search_by_id_and_device_flow_statuses(fake, http):
    found = http.get("/search/tvdb/76885", params={"type": "show"}).json()
    assert [(r["type"], r["show"]["ids"]["trakt"]) for r in found] == [("show", 1)]
    assert http.get("/search/tvdb/76885", params={"type": "movie"}).json() == []

    fake.device_interval = 1000  # polls within 900 service seconds are "too soon"
    code = httpx.post(
        f"{fake.base_url}/oauth/device/code", json={"client_id": fake.client_id}
    ).json()
    assert set(code) == {
        "device_code",
        "user_code",
        "verification_url",
        "expires_in",
        "interval",
    }
    body = {
        "code": code["device_code"],
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
    }
    url = f"{fake.base_url}/oauth/device/token"
    assert httpx.post(url, json=body).status_code == 400  # pending
    assert httpx.post(url, json=body).status_code == 429  # too soon: slow down
    assert httpx.post(url, json=body | {"code": "nope"}).status_code == 404
    fake.approve_device(code["user_code"])
    fake.devices[code["device_code"]]["last_poll"] = None
    granted = httpx.post(url, json=body)
    assert granted.status_code == 200
    assert set(granted.json()) >= {"access_token", "refresh_token", "expires_in"}
    assert httpx.post(url, json=body).status_code == 409
    refreshed = httpx.post(
        f"{fake.base_url}/oauth/token",
        json={
            "refresh_token": granted.json()["refresh_token"],
            "client_id": fake.client_id,
            "client_secret": fake.client_secret,
            "redirect_uri": "urn:ietf:wg:oauth:2.0:oob",
            "grant_type": "refresh_token",
        },
    )
    assert refreshed.status_code == 200
    assert granted.json()["access_token"] not in fake.access_tokens
