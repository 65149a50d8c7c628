from __future__ import annotations

import json
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import pytest

from anibridge.testing.fakes.media import MediaLibrary
from anibridge.testing.fakes.plex import (
    FakePlex,
    FakePlexTv,
    plex_metadata,
    plex_webhook,
)


@pytest.fixture
def lib():
    return MediaLibrary.sample()


@pytest.fixture
def plex(lib):
    with FakePlex(lib) as server:
        yield server


def client(server, token="owner-token"):
    return httpx.Client(
        base_url=server.base_url,
        headers={"X-Plex-Token": token, "Accept": "application/json"},
    )


def test_auth_header_or_query_and_401(plex):
    assert httpx.get(plex.base_url + "/library/sections").status_code == 401
    ok = httpx.get(plex.base_url + "/library/sections?X-Plex-Token=owner-token")
    assert ok.status_code == 200
    dirs = ok.json()["MediaContainer"]["Directory"]
    assert [(d["key"], d["type"]) for d in dirs] == [
        ("1", "show"), ("2", "movie"), ("3", "artist"), ("4", "show")
    ]  # fmt: skip


def test_paging_headers_and_total_size(plex, lib):
    with client(plex) as c:
        seen, start = [], 0
        while True:
            r = c.get(
                "/library/sections/1/all",
                params={"type": 4},
                headers={"X-Plex-Container-Start": str(start),
                         "X-Plex-Container-Size": "3"},
            )  # fmt: skip
            mc = r.json()["MediaContainer"]
            assert mc["totalSize"] == 8 and mc["offset"] == start
            seen += [m["ratingKey"] for m in mc["Metadata"]]
            start += mc["size"]
            if start >= mc["totalSize"]:
                break
    assert len(seen) == len(set(seen)) == 8


def test_filters_and_guids(plex, lib):
    with client(plex) as c:
        mc = c.get("/library/sections/1/all?type=4&lastViewedAt>>=1700000100").json()[
            "MediaContainer"
        ]
        # strictly after: the 1x02 play at ...200 and Haibane's at ...500
        assert sorted(m["lastViewedAt"] for m in mc["Metadata"]) == [
            1_700_000_200, 1_700_000_500
        ]  # fmt: skip
        inclusive = c.get("/library/sections/1/all?type=4&lastViewedAt>=1700000200")
        assert inclusive.json()["MediaContainer"]["totalSize"] == 2
        shows = c.get("/library/sections/1/all?type=2&includeGuids=1").json()
        bebop = shows["MediaContainer"]["Metadata"][0]
        assert bebop["Guid"] == [{"id": "tvdb://76885"}, {"id": "tmdb://30991"},
                                 {"id": "imdb://tt0213338"}]  # fmt: skip
        assert bebop["userRating"] == 9.0 and bebop["viewedLeafCount"] == 2
        no_guids = c.get("/library/sections/1/all?type=2").json()
        assert "Guid" not in no_guids["MediaContainer"]["Metadata"][0]


def test_history_is_admin_wide_and_filtered(plex, lib):
    with FakePlexTv(plex) as tv:
        kid_token = httpx.post(
            tv.base_url + "/api/v2/home/users/uuid-kid/switch?pin=1234",
            headers={"X-Plex-Token": "owner-token"},
        ).json()["authToken"]
        server_token = next(
            r["accessToken"]
            for r in httpx.get(
                tv.base_url + "/api/v2/resources", headers={"X-Plex-Token": kid_token}
            ).json()
            if r.get("provides") == "server"
        )
    with client(plex) as c:
        everyone = c.get("/status/sessions/history/all").json()["MediaContainer"]
        assert everyone["totalSize"] == 6
        owner = c.get("/status/sessions/history/all?accountID=1&sort=viewedAt:desc")
        rows = owner.json()["MediaContainer"]["Metadata"]
        assert [r["viewedAt"] for r in rows] == sorted(
            (r["viewedAt"] for r in rows), reverse=True
        )
        assert len(rows) == 5
    with client(plex, server_token) as c:
        mine = c.get("/status/sessions/history/all?accountID=1").json()
        # a non-admin only ever sees its own plays
        assert [r["accountID"] for r in mine["MediaContainer"]["Metadata"]] == [5000]


def test_scrobble_unscrobble_and_rate(plex, lib):
    ep = lib.episode("Cowboy Bebop", 1, 3)
    params = {"key": ep.key, "identifier": "com.plexapp.plugins.library"}
    with client(plex) as c:
        assert c.get("/:/scrobble", params=params).status_code == 200
        assert c.get("/:/scrobble", params=params).status_code == 200
        assert lib.peek("1", ep.key).view_count == 2
        c.get("/:/unscrobble", params=params)
        assert lib.peek("1", ep.key).view_count == 0
        c.put("/:/rate", params={**params, "rating": 7})
        assert lib.peek("1", ep.key).rating == 7.0
        c.put("/:/rate", params={**params, "rating": -1})
        assert lib.peek("1", ep.key).rating is None
        bad = c.get(
            "/:/scrobble", params={"key": "999999", "identifier": params["identifier"]}
        )
        assert bad.status_code == 404
    assert plex.count("write") == 6


def test_plex_tv_switch_needs_the_pin(plex):
    with FakePlexTv(plex) as tv:
        users = httpx.get(
            tv.base_url + "/api/v2/home/users", headers={"X-Plex-Token": "owner-token"}
        ).json()["users"]
        assert {u["title"]: u["protected"] for u in users} == {
            "Owner": False, "Kid": True, "Guest": False
        }  # fmt: skip
        wrong = httpx.post(
            tv.base_url + "/api/v2/home/users/uuid-kid/switch?pin=0000",
            headers={"X-Plex-Token": "owner-token"},
        )
        assert wrong.status_code == 401


def test_webhook_builder_is_real_multipart(plex, lib):
    ep = lib.episode("Haibane Renmei", 1, 1)
    headers, body = plex_webhook(
        "media.scrobble", account_id=1, server_uuid=plex.machine_id,
        metadata=plex_metadata(lib, ep.key),
        extra_parts=[("thumb", "t.jpg", b"\xff\xd8")],
    )  # fmt: skip
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + headers["Content-Type"].encode() + b"\r\n\r\n" + body
    )
    parts = {
        p.get_param("name", header="content-disposition"): p
        for p in message.iter_parts()
    }
    assert set(parts) == {"payload", "thumb"}
    payload = json.loads(parts["payload"].get_payload(decode=True))
    assert payload["event"] == "media.scrobble"
    assert (
        payload["Metadata"]["guid"] == "com.plexapp.agents.hama://anidb-69/1/1?lang=en"
    )
    assert payload["Metadata"]["grandparentRatingKey"] == ep.show_key
