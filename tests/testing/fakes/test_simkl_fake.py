"""The fake Simkl speaks Simkl's HTTP: raw requests, no provider in between."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from anibridge.testing.fakes.simkl import SimklFake

T0 = datetime(2024, 1, 1, 20, 0, tzinfo=UTC)


@pytest.fixture
def fake():
    with SimklFake(time_scale=0.01, enforce_limits=False) as service:
        service.add_anime(7, "Naruto", 3, ids={"mal": 20, "anilist": 20})
        service.add_show(8, "Breaking Bad", {1: 2, 2: 2}, ids={"tvdb": 81189})
        service.add_movie(9, "Akira", ids={"tmdb": 149})
        yield service


@pytest.fixture
def http(fake):
    headers = {
        "simkl-api-key": fake.client_id,
        "Authorization": f"Bearer {fake.issue_token()}",
    }
    params = {"client_id": fake.client_id, "app-name": "t", "app-version": "1"}
    with httpx.Client(base_url=fake.base_url, headers=headers, params=params) as c:
        yield c


def test_app_and_token_are_required(fake, http):
    assert httpx.get(f"{fake.base_url}/sync/activities").status_code == 412
    anonymous = httpx.get(
        f"{fake.base_url}/sync/activities", params={"client_id": fake.client_id}
    )
    assert anonymous.status_code == 401
    # Catalog reads need only the app.
    found = httpx.get(
        f"{fake.base_url}/search/id", params={"client_id": fake.client_id, "mal": 20}
    )
    assert found.json()[0]["ids"]["simkl"] == 7
    assert http.get("/sync/activities").status_code == 200


def test_pin_login_pending_slow_down_then_token(fake):
    fake.pin_interval = 1000.0  # polls come faster than that
    params = {"client_id": fake.client_id}
    code = httpx.get(f"{fake.base_url}/oauth/pin", params=params).json()
    assert code["result"] == "OK" and code["verification_url"].endswith("/pin/")
    url = f"{fake.base_url}/oauth/pin/{code['user_code']}"
    assert httpx.get(url, params=params).json()["message"] == "Authorization pending"
    assert httpx.get(url, params=params).json()["message"] == "Slow down"
    fake.approve_pin(code["user_code"])
    fake.pins[code["user_code"]]["last_poll"] = -1e9  # waited long enough
    answer = httpx.get(url, params=params).json()
    assert answer["result"] == "OK" and answer["access_token"] in fake.tokens
    assert httpx.get(url, params=params).status_code == 404  # used up


def test_empty_library_is_null_and_activities_start_empty(fake, http):
    assert http.get("/sync/all-items/").json() is None
    activities = http.get("/sync/activities").json()
    assert activities["anime"]["all"] is None
    assert "watching" not in activities["movies"]  # movies are atomic


def test_history_is_canonical_and_files_statuses(fake, http):
    body = {
        "anime": [
            {
                "ids": {"simkl": 7},
                "episodes": [{"number": 1, "watched_at": "2024-01-01T20:00:00Z"}],
            }
        ],
        "movies": [{"ids": {"tmdb": 149}, "watched_at": "2023-05-05T10:00:00Z"}],
        "shows": [{"ids": {"simkl": 404}}],
    }
    answer = http.post("/sync/history", json=body).json()
    assert answer["added"]["episodes"] == 1
    assert answer["not_found"]["shows"] == [{"ids": {"simkl": 404}}]
    assert fake.items[7]["status"] == "watching"
    assert fake.items[9]["status"] == "completed"
    # The same episode at another time is not a second watch (no rewatch opt-in).
    body["anime"][0]["episodes"][0]["watched_at"] = "2024-06-01T20:00:00Z"
    again = http.post("/sync/history", json={"anime": body["anime"]}).json()
    assert again["added"]["episodes"] == 0
    assert fake.watched(7) == {(1, 1): T0}
    # Watching every episode of an ended anime completes it.
    rest = [{"number": n} for n in (2, 3)]
    http.post(
        "/sync/history", json={"anime": [{"ids": {"simkl": 7}, "episodes": rest}]}
    )
    assert fake.items[7]["status"] == "completed"


def test_add_to_list_needs_to_and_movies_have_no_watching(fake, http):
    bad = http.post("/sync/add-to-list", json={"movies": [{"ids": {"simkl": 9}}]})
    assert bad.status_code == 400 and bad.json()["error"] == "empty_field"
    http.post(
        "/sync/add-to-list", json={"movies": [{"ids": {"simkl": 9}, "to": "watching"}]}
    )
    assert fake.items[9]["status"] == "completed"


def test_rating_an_unlisted_title_files_it(fake, http):
    http.post("/sync/ratings", json={"shows": [{"ids": {"simkl": 8}, "rating": 7}]})
    assert fake.items[8]["status"] == "watching" and fake.items[8]["rating"] == 7
    refused = http.post(
        "/sync/ratings", json={"shows": [{"ids": {"simkl": 8}, "rating": 11}]}
    )
    assert refused.status_code == 400


def test_memo_only_through_history_and_at_most_140(fake, http):
    memo = {"text": "m", "is_private": True}
    http.post(
        "/sync/history",
        json={"shows": [{"ids": {"simkl": 8}, "status": "hold", "memo": memo}]},
    )
    assert fake.items[8]["memo"] == "m" and fake.items[8]["status"] == "hold"
    assert fake.watched(8) == {}  # status + memo marks nothing
    long = {"text": "x" * 141}
    answer = http.post(
        "/sync/history", json={"shows": [{"ids": {"simkl": 8}, "memo": long}]}
    )
    assert answer.status_code == 400


def test_date_from_returns_only_later_changes_and_removals_need_a_diff(fake, http):
    fake.set_item(7, "watching", episodes={(1, 1): T0})
    stamps = http.get("/sync/activities").json()
    since = stamps["anime"]["all"]
    full = http.get("/sync/all-items/anime", params={"extended": "full"}).json()
    assert [r["show"]["ids"]["simkl"] for r in full["anime"]] == [7]
    assert http.get("/sync/all-items/anime", params={"date_from": since}).json() is None
    fake.set_item(8, "watching", episodes={(2, 1): T0})
    delta = http.get("/sync/all-items/", params={"date_from": since}).json()
    assert list(delta) == ["shows"]
    http.post("/sync/history/remove", json={"anime": [{"ids": {"simkl": 7}}]})
    after = http.get("/sync/activities").json()
    assert after["anime"]["removed_from_list"] > since
    ids = http.get("/sync/all-items/anime", params={"extended": "simkl_ids_only"})
    assert ids.json() is None  # removed titles are simply absent


def test_full_pulls_without_the_activities_gate_are_counted(fake, http):
    http.get("/sync/activities")
    http.get("/sync/all-items/anime")
    http.get("/sync/all-items/shows")  # same gate, another type: fine
    assert fake.ungated_pulls == 0
    http.get("/sync/all-items/anime")  # again without asking first
    assert fake.ungated_pulls == 1
    http.get("/sync/all-items/anime", params={"date_from": "2020-01-01T00:00:00Z"})
    http.get("/sync/all-items/anime", params={"extended": "simkl_ids_only"})
    assert fake.ungated_pulls == 1  # deltas and ids-only listings are fine


def test_one_post_per_second():
    with SimklFake(time_scale=1.0) as fake:  # a real second: no waiting needed
        fake.add_show(8, "Breaking Bad", {1: 2})
        headers = {"Authorization": f"Bearer {fake.issue_token()}"}
        params = {"client_id": fake.client_id}
        body = {"shows": [{"ids": {"simkl": 8}, "to": "hold"}]}
        with httpx.Client(
            base_url=fake.base_url, headers=headers, params=params
        ) as http:
            statuses = [
                http.post("/sync/add-to-list", json=body).status_code for _ in range(3)
            ]
    assert statuses[0] == 200 and 429 in statuses
