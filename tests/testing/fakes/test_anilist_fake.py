from __future__ import annotations

import httpx
import pytest

from anibridge.http import ManualClock
from anibridge.testing.fakes.anilist import (
    AniListFake,
    raw_from_score,
    score_from_raw,
)
from anibridge.testing.fakes.catalog import FakeMedia

TOKEN = "anilist-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MEDIA = [FakeMedia(1, 11, "One"), FakeMedia(2, 22, "Two"), FakeMedia(3, None, "Three")]


@pytest.fixture
def fake():
    with AniListFake(media=MEDIA, time_scale=0.002, custom_lists=["Fav"]) as service:
        yield service


def post(fake, query, variables=None, headers=AUTH):
    return httpx.post(
        fake.base_url + "/",
        json={"query": query, "variables": variables or {}},
        headers=headers,
    )


def test_invalid_documents_are_rejected_like_the_real_api(fake):
    response = post(fake, "query { Viewer { id bogus } }")
    assert response.status_code == 400
    body = response.json()
    assert body["data"] is None
    assert "bogus" in body["errors"][0]["message"]
    response = post(
        fake, "mutation { SaveMediaListEntry(mediaId: 1, status: WATCHING) { id } }"
    )
    assert response.status_code == 400
    assert fake.entries == {}
    response = post(fake, "query { Viewer { id ")
    assert response.status_code == 400


def test_viewer_is_an_identity_call_and_needs_a_token(fake):
    assert (
        post(fake, "query { Viewer { id name } }").json()["data"]["Viewer"]["id"]
        == 5001
    )
    assert fake.count("identity") == 1 and fake.count("data") == 0
    refused = post(
        fake, "query { Viewer { id } }", headers={"Authorization": "Bearer nope"}
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "Invalid token"


def test_collection_lists_hidden_entries_only_in_custom_lists(fake):
    fake.add_entry(1, status="CURRENT", hiddenFromStatusLists=True, customLists=["Fav"])
    fake.add_entry(2, status="COMPLETED", customLists=["Fav"])
    query = """query($u: Int) {
        MediaListCollection(userId: $u, type: ANIME, chunk: 1, perChunk: 1) {
        hasNextChunk lists { name isCustomList entries { mediaId } } } }"""
    body = post(fake, query, {"u": 5001}).json()["data"]["MediaListCollection"]
    assert body["hasNextChunk"] is True
    assert body["lists"] == [
        {"name": "Fav", "isCustomList": True, "entries": [{"mediaId": 1}]}
    ]


def test_aliased_mutations_fail_per_alias(fake):
    query = """mutation { a: SaveMediaListEntry(mediaId: 1, progress: 3) { id progress }
                          b: SaveMediaListEntry(mediaId: 99, progress: 3) { id } }"""
    response = post(fake, query)
    assert response.status_code == 404
    body = response.json()
    assert body["data"]["a"]["progress"] == 3 and body["data"]["b"] is None
    assert body["errors"][0]["path"] == ["b"] and body["errors"][0]["status"] == 404
    assert fake.entry_for(99) is None


def test_validation_errors_leave_no_entry_behind(fake):
    response = post(
        fake, "mutation { SaveMediaListEntry(mediaId: 1, scoreRaw: 500) { id } }"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["validation"]["scoreRaw"]
    assert fake.entries == {}


def test_rate_limit_answers_429_with_retry_after():
    with AniListFake(media=MEDIA, clock=ManualClock(), per_minute=3) as fake:
        statuses = [post(fake, "query { Viewer { id } }").status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = post(fake, "query { Viewer { id } }")
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.headers["X-RateLimit-Remaining"] == "0"


@pytest.mark.parametrize(
    ("fmt", "score", "raw"),
    [
        ("POINT_100", 73, 73),
        ("POINT_10_DECIMAL", 7.3, 73),
        ("POINT_10", 7, 70),
        ("POINT_5", 4, 80),
        ("POINT_3", 2, 60),
    ],
)
def test_score_formats_round_trip(fmt, score, raw):
    assert raw_from_score(score, fmt) == raw
    assert score_from_raw(raw, fmt) == score


def test_page_media_by_mal_id(fake):
    query = """query($m: [Int]) {
        Page { pageInfo { hasNextPage } media(idMal_in: $m) { id idMal } } }"""
    body = post(fake, query, {"m": [22, 33]}).json()["data"]["Page"]
    assert body["media"] == [{"id": 2, "idMal": 22}]
    assert body["pageInfo"]["hasNextPage"] is False
