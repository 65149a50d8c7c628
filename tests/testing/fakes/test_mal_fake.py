from __future__ import annotations

import httpx
import pytest

from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.mal import MalFake, parse_fields
from anibridge.testing.fakes.server import HttpFault

AUTH = {"Authorization": "Bearer mal-access-0"}
MEDIA = [FakeMedia(i, 10 + i, f"Show {i}") for i in range(1, 8)]


@pytest.fixture
def fake():
    with MalFake(media=MEDIA, time_scale=0.002) as service:
        yield service


def test_parse_fields():
    assert parse_fields("list_status{comments,tags},num_episodes") == {
        "list_status": {"comments", "tags"},
        "num_episodes": set(),
    }
    with pytest.raises(HttpFault):
        parse_fields("list_status{comments")


def test_animelist_paging_and_projection(fake):
    for media in MEDIA:
        fake.add_entry(media.mal_id, status="watching", comments="hi")
    url = fake.base_url + "/v2/users/@me/animelist"
    first = httpx.get(
        url, params={"limit": 3, "fields": "list_status{comments}"}, headers=AUTH
    ).json()
    assert [row["node"]["id"] for row in first["data"]] == [11, 12, 13]
    assert first["data"][0]["list_status"]["comments"] == "hi"
    assert "num_times_rewatched" not in first["data"][0]["list_status"]
    assert "num_episodes" not in first["data"][0]["node"]
    second = httpx.get(first["paging"]["next"], headers=AUTH).json()
    assert [row["node"]["id"] for row in second["data"]] == [14, 15, 16]
    assert "comments" in second["data"][0]["list_status"]  # next keeps the fields
    assert httpx.get(url, params={"limit": 1001}, headers=AUTH).status_code == 400


def test_patch_uses_write_names_and_ignores_read_names(fake):
    url = fake.base_url + "/v2/anime/11/my_list_status"
    body = httpx.patch(
        url, data={"num_episodes_watched": 5, "status": "watching"}, headers=AUTH
    ).json()
    assert body["num_episodes_watched"] == 0  # the read name is silently ignored
    body = httpx.patch(url, data={"num_watched_episodes": 5}, headers=AUTH).json()
    assert body["num_episodes_watched"] == 5
    assert httpx.patch(url, data={"score": 11}, headers=AUTH).status_code == 400
    assert httpx.patch(url, data={"status": "reading"}, headers=AUTH).status_code == 400


def test_empty_date_does_not_clear(fake):
    url = fake.base_url + "/v2/anime/11/my_list_status"
    httpx.patch(url, data={"start_date": "2020-01-02"}, headers=AUTH)
    body = httpx.patch(url, data={"start_date": ""}, headers=AUTH).json()
    assert body["start_date"] == "2020-01-02"


def test_tokens_expire_and_refresh_rotates(fake):
    me = fake.base_url + "/v2/users/@me"
    assert httpx.get(me, headers=AUTH).status_code == 200
    fake.expire_access_tokens()
    refused = httpx.get(me, headers=AUTH)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_token"
    token_url = fake.base_url + "/v1/oauth2/token"
    form = {
        "grant_type": "refresh_token",
        "refresh_token": "mal-refresh-0",
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
    }
    tokens = httpx.post(token_url, data=form).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    assert httpx.post(token_url, data=form).status_code == 400  # rotated away
    fresh = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(me, headers=fresh).status_code == 200
    assert fake.count("identity") == 5


def test_delete(fake):
    fake.add_entry(11, status="watching")
    url = fake.base_url + "/v2/anime/11/my_list_status"
    assert httpx.delete(url, headers=AUTH).status_code == 200
    assert httpx.delete(url, headers=AUTH).status_code == 404
