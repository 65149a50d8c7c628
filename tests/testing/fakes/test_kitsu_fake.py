"""The fake Kitsu speaks JSON:API: raw requests, no provider in between."""

from __future__ import annotations

import httpx
import pytest

from anibridge.testing.fakes.catalog import FakeMedia
from anibridge.testing.fakes.kitsu import MEDIA_TYPE, KitsuFake

MEDIA = [
    FakeMedia(20, 20, "Naruto", 220, kitsu_id=11, tvdb=(78857, 1)),
    FakeMedia(1, 1, "Cowboy Bebop", 26, kitsu_id=1),
]


@pytest.fixture
def fake():
    with KitsuFake(media=MEDIA, time_scale=0.01) as service:
        yield service


@pytest.fixture
def http(fake):
    token = fake.issue_tokens()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE}
    with httpx.Client(base_url=fake.base_url + "/api/edge", headers=headers) as c:
        yield c


def create(http, fake, anime: int, **attributes) -> httpx.Response:
    body = {
        "data": {
            "type": "libraryEntries",
            "attributes": attributes,
            "relationships": {
                "user": {"data": {"type": "users", "id": str(fake.user_id)}},
                "anime": {"data": {"type": "anime", "id": str(anime)}},
            },
        }
    }
    return http.post(
        "/library-entries", json=body, headers={"Content-Type": MEDIA_TYPE}
    )


def test_password_and_refresh_grants(fake):
    url = f"{fake.base_url}/api/oauth/token"
    bad = httpx.post(
        url, data={"grant_type": "password", "username": "x", "password": "y"}
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    good = httpx.post(
        url,
        data={
            "grant_type": "password",
            "username": fake.email,
            "password": fake.password,
        },
    ).json()
    assert good["access_token"] and good["expires_in"] == fake.token_lifetime
    renewed = httpx.post(
        url,
        data={"grant_type": "refresh_token", "refresh_token": good["refresh_token"]},
    ).json()
    assert renewed["refresh_token"] != good["refresh_token"]
    reused = httpx.post(
        url,
        data={"grant_type": "refresh_token", "refresh_token": good["refresh_token"]},
    )
    assert reused.status_code == 400  # refresh tokens rotate


def test_json_api_paging_limits_and_links(fake, http):
    fake.add_entry(1, status="current")
    fake.add_entry(11, status="current")
    page = http.get(
        "/library-entries",
        params={"filter[userId]": fake.user_id, "page[limit]": 1, "include": "anime"},
    ).json()
    assert len(page["data"]) == 1 and page["meta"]["count"] == 2
    assert page["links"]["next"].startswith(fake.base_url)
    assert page["included"][0]["type"] == "anime"
    too_big = http.get("/anime", params={"page[limit]": 21})
    assert too_big.status_code == 400
    assert "maximum page size of 20" in too_big.json()["errors"][0]["detail"]
    ok = http.get("/library-entries", params={"page[limit]": 500})
    assert ok.status_code == 200
    assert http.get("/library-entries", params={"page[limit]": 501}).status_code == 400


def test_mappings_lookup_and_include(fake, http):
    found = http.get(
        "/mappings",
        params={
            "filter[externalSite]": "myanimelist/anime",
            "filter[externalId]": "20,1",
            "include": "item",
        },
    ).json()
    items = {m["relationships"]["item"]["data"]["id"] for m in found["data"]}
    assert items == {"11", "1"}
    assert {a["id"] for a in found["included"]} == {"11", "1"}
    season = http.get(
        "/mappings",
        params={"filter[externalSite]": "thetvdb", "filter[externalId]": "78857/1"},
    ).json()
    assert len(season["data"]) == 1


def test_writes_need_the_media_type_and_validate(fake, http):
    wrong_type = http.post("/library-entries", json={"data": {}})
    assert wrong_type.status_code == 415
    created = create(http, fake, 1, status="current", progress=3)
    assert created.status_code == 201
    entry_id = created.json()["data"]["id"]
    assert create(http, fake, 1).status_code == 422  # one entry per anime
    assert create(http, fake, 999).status_code == 422  # unknown anime

    def patch(**attributes):
        return http.patch(
            f"/library-entries/{entry_id}",
            json={
                "data": {
                    "id": entry_id,
                    "type": "libraryEntries",
                    "attributes": attributes,
                }
            },
            headers={"Content-Type": MEDIA_TYPE},
        )

    assert patch(ratingTwenty=1).status_code == 422
    assert patch(ratingTwenty=21).status_code == 422
    assert patch(progress=27).json()["errors"][0]["detail"].endswith("length of media")
    assert patch(reconsumeCount=51).status_code == 422
    assert patch(bogus=1).status_code == 400
    assert patch(ratingTwenty=None).status_code == 200
    done = patch(status="completed").json()["data"]["attributes"]
    assert done["progress"] == 26  # completing fills progress, as on Kitsu
    assert http.delete(f"/library-entries/{entry_id}").status_code == 204
    assert http.delete(f"/library-entries/{entry_id}").status_code == 404


def test_reaching_the_last_episode_completes_the_entry(fake, http):
    entry_id = create(http, fake, 1, status="current").json()["data"]["id"]
    answer = http.patch(
        f"/library-entries/{entry_id}",
        json={"data": {"id": entry_id, "type": "libraryEntries",
                       "attributes": {"progress": 26}}},
        headers={"Content-Type": MEDIA_TYPE},
    ).json()  # fmt: skip
    assert answer["data"]["attributes"]["status"] == "completed"


def test_writes_and_identity_need_a_token(fake):
    anonymous = httpx.get(
        f"{fake.base_url}/api/edge/users", params={"filter[self]": "true"}
    )
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["title"] == "Unauthorized"
