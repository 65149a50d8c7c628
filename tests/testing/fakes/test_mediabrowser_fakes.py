from __future__ import annotations

import json

import httpx
import pytest

from anibridge.testing.fakes.emby import FakeEmby, emby_webhook
from anibridge.testing.fakes.jellyfin import FakeJellyfin, jellyfin_webhook
from anibridge.testing.fakes.media import MediaLibrary


@pytest.fixture
def lib():
    return MediaLibrary.sample()


def test_jellyfin_items_paging_filters_and_auth(lib):
    with FakeJellyfin(lib) as jf:
        owner = jf.user_id("1")
        auth = {"Authorization": 'MediaBrowser Client="t", Token="api-key"'}
        c = httpx.Client(base_url=jf.base_url, headers=auth)
        assert httpx.get(jf.base_url + "/Users").status_code == 401
        view = c.get("/UserViews", params={"userId": owner}).json()["Items"][0]
        assert view["CollectionType"] == "tvshows"
        got, start = [], 0
        while True:
            params = {"userId": owner, "ParentId": view["Id"], "Limit": 3,
                      "IncludeItemTypes": "Episode", "StartIndex": start}  # fmt: skip
            page = c.get("/Items", params=params).json()
            got += page["Items"]
            start += len(page["Items"])
            if start >= page["TotalRecordCount"]:
                break
        assert len(got) == 8 and all(len(i["Id"]) == 32 for i in got)
        played = [i for i in got if i["UserData"]["Played"]]
        assert {i["UserData"]["PlayCount"] for i in played} == {1, 2}
        assert played[0]["UserData"]["LastPlayedDate"].endswith(".0000000Z")
        since = "2023-11-14T22:20:00.0000000Z"
        params = {"userId": owner, "IncludeItemTypes": "Episode,Movie",
                  "MinDateLastSavedForUser": since}  # fmt: skip
        recent = c.get("/Items", params=params).json()
        assert {i["Name"] for i in recent["Items"]} == {"Episode 1", "Akira"}
        bad = c.get("/Items", params={"userId": owner, "Ids": "not-a-guid"})
        assert bad.status_code == 400
        unknown = c.get("/Items", params={"userId": owner, "Ids": "f" * 32})
        assert unknown.json()["Items"] == []


def test_jellyfin_writes(lib):
    with FakeJellyfin(lib) as jf:
        guest = jf.user_id("6000")
        c = httpx.Client(base_url=jf.base_url, headers={"X-Emby-Token": "api-key"})
        ep = lib.episode("Monk", 1, 1)
        r = c.post(
            f"/UserPlayedItems/{jf.item_id(ep.key)}",
            params={"userId": guest, "datePlayed": "2024-01-02T03:04:05.0000000Z"},
        )
        assert r.json()["Played"] is True
        assert lib.peek("6000", ep.key).last_viewed_at == 1704164645
        c.post(f"/UserItems/{jf.item_id(ep.key)}/UserData", params={"userId": guest},
               json={"Rating": 6.5})  # fmt: skip
        c.post(f"/UserItems/{jf.item_id(ep.key)}/UserData", params={"userId": guest},
               json={"Rating": None})  # null: unchanged  # fmt: skip
        assert lib.peek("6000", ep.key).rating == 6.5
        c.delete(f"/UserPlayedItems/{jf.item_id(ep.key)}", params={"userId": guest})
        assert lib.peek("6000", ep.key).view_count == 0
        assert jf.count("write") == 4


def test_emby_routes_dates_and_full_user_data(lib):
    with FakeEmby(lib) as emby:
        owner = emby.user_id("1")
        c = httpx.Client(base_url=emby.base_url, headers={"X-Emby-Token": "api-key"})
        views = c.get(f"/Users/{owner}/Views").json()["Items"]
        assert [v["Id"] for v in views] == ["1", "2", "3", "4"]
        ep = lib.episode("Monk", 1, 2)
        c.post(
            f"/Users/{owner}/PlayedItems/{ep.key}",
            params={"DatePlayed": "20240102030405"},
        )
        assert lib.peek("1", ep.key).last_viewed_at == 1704164645
        bad = c.post(
            f"/Users/{owner}/PlayedItems/{ep.key}", params={"DatePlayed": "2024-01-02"}
        )
        assert bad.status_code == 400
        data = c.get(f"/Users/{owner}/Items/{ep.key}").json()["UserData"]
        c.post(f"/Users/{owner}/Items/{ep.key}/UserData", json={**data, "Rating": 9})
        assert lib.peek("1", ep.key).rating == 9.0
        c.post(
            f"/Users/{owner}/Items/{ep.key}/UserData", json=data
        )  # no Rating: cleared
        assert lib.peek("1", ep.key).rating is None
        assert lib.peek("1", ep.key).view_count == 1


def test_webhook_builders(lib):
    with FakeJellyfin(lib) as jf, FakeEmby(lib) as emby:
        ep = lib.episode("Cowboy Bebop", 1, 2)
        headers, body = jellyfin_webhook(jf, "PlaybackStop", ep.key, user="1",
                                         PlayedToCompletion=True)  # fmt: skip
        data = json.loads(body)
        assert headers["Content-Type"] == "application/json"
        assert (data["SeasonNumber"], data["EpisodeNumber"]) == (1, 2)
        assert data["Provider_tvdb"] == "76885" and data["UserId"] == jf.user_id("1")
        headers, body = emby_webhook(emby, "item.markplayed", ep.key, user="1",
                                     multipart=True)  # fmt: skip
        assert headers["Content-Type"].startswith("multipart/form-data")
        assert b'name="data"' in body and b'"item.markplayed"' in body
