# ruff: noqa: RUF001
"""The mappings browser on a real service: search by title or id, readable ranges,
the overrides editor with its example, problems shown with their lines."""

from __future__ import annotations

import html

import httpx
import pytest

from anibridge.app.service.overrides import EXAMPLE


def preview(api) -> None:
    response = api.post(
        "/api/profiles/demo/sync", json={"mode": "full", "dry_run": True, "wait": True}
    )
    assert response.status_code == 202, response.text


def test_browse_finds_a_title_and_reads_its_ranges(api):
    preview(api)  # titles come from what the providers returned
    found = api.get("/api/mappings/browse", params={"q": "naruto"}).json()
    naruto = next(t for t in found["titles"] if t["provider"] == "library")
    assert naruto["title"] == "Naruto"
    season = next(i for i in naruto["ids"] if i["descriptor"] == "tvdb_show:78857:s1")
    assert season["label"] == "TVDB 78857 S1"
    anilist = next(e for e in season["edges"] if e["target"] == "anilist:20")
    assert anilist["readable"] == ["S1 E1–35 → AniList 20 E1–35"]
    assert anilist["ranges"] == ["1-35=1-35"]
    # Ids are searched too, and a lookup carries the same readable ranges.
    by_id = api.get("/api/mappings/browse", params={"q": "78857:s1"}).json()
    assert {"descriptor": "tvdb_show:78857:s1", "label": "TVDB 78857 S1"} in by_id[
        "matches"
    ]
    lookup = api.get("/api/mappings/lookup", params={"descriptor": "anilist:21"})
    assert any(
        r.startswith("E1–") and "→ TVDB 81797 S1" in r
        for e in lookup.json()["edges"]
        for r in e["readable"]
    )


def test_problems_come_with_their_lines(api):
    broken = "# mine\nanilist:99999:\n  tvdb_show:1:s1:\n    'x-y': '1'\n"
    checked = api.post("/api/mappings/overrides/validate", json={"content": broken})
    body = checked.json()
    assert body["valid"] is False
    assert body["errors"][0]["line"] == 4
    assert body["problems"][0].startswith("line 4: anilist:99999 → tvdb_show:1:s1")
    saved = api.put("/api/mappings/overrides", json={"content": broken})
    assert saved.status_code == 422
    assert saved.json()["detail"]["errors"][0]["line"] == 4


@pytest.fixture
def browser_client(anon, login):
    assert login(anon).status_code in (200, 303)
    return anon


def text_of(page: str) -> str:
    return html.unescape(page)


def test_the_page_searches_by_title_and_by_id(browser_client, api):
    client = browser_client
    empty = client.get("/mappings", params={"q": "one piece"})
    assert "Nothing found for “one piece”" in text_of(empty.text)  # no titles yet
    preview(api)
    page = text_of(client.get("/mappings", params={"q": "one piece"}).text)
    assert 'data-title="One Piece"' in page
    assert "TVDB 81797 S1" in page
    assert "S1 E1–" in page and "→ AniList 21 E1–" in page
    # An id goes straight to its mappings; a bare number lists the ids holding it.
    page = text_of(client.get("/mappings", params={"q": "anilist:21"}).text)
    assert 'class="hit lookup" data-descriptor="anilist:21"' in page
    assert "→ TVDB 81797 S1" in page
    page = text_of(client.get("/mappings", params={"descriptor": "81797"}).text)
    assert "tvdb_show:81797:s1" in page
    # An id without mappings says so and points at the overrides.
    page = text_of(client.get("/mappings", params={"q": "anilist:99999999"}).text)
    assert "No mappings for anilist:99999999" in page


def test_the_editor_shows_the_example_then_checks_and_saves(
    browser_client, csrf, service
):
    client = browser_client
    page = client.get("/mappings")
    assert "commented example" in page.text
    assert html.escape(EXAMPLE.splitlines()[0]) in page.text
    token = csrf(page.text)

    broken = "# my fixes\r\ntvdb_show:79414:s1:\r\n  anilist:849:\r\n    '1-x': '1'\r\n"
    answer = client.post(
        "/ui/mappings/overrides",
        data={"csrf_token": token, "content": broken, "action": "save"},
    )
    assert answer.status_code == 422
    shown = text_of(answer.text)
    assert "Not saved — fix this first" in shown
    assert 'data-line="4">line 4</a>' in shown
    assert "source range '1-x' is not x, x-y or x-" in shown
    assert "# my fixes" in shown  # the text is kept for fixing
    assert not (service.ctx.backend.custom_mappings_path).exists()

    good = EXAMPLE + "tvdb_show:79414:s1:\n  anilist:849:\n    '1-14': '1-14'\n"
    checked = client.post(
        "/ui/mappings/overrides",
        data={"csrf_token": token, "content": good, "action": "validate"},
    )
    assert checked.status_code == 200 and "Looks valid." in checked.text
    assert not (service.ctx.backend.custom_mappings_path).exists()
    saved = client.post(
        "/ui/mappings/overrides",
        data={
            "csrf_token": token,
            "content": good.replace("\n", "\r\n"),
            "action": "save",
        },
        follow_redirects=True,
    )
    assert "Custom mappings saved" in saved.text
    assert service.ctx.backend.custom_mappings_path.read_text() == good  # LF, comments
    page = text_of(client.get("/mappings", params={"q": "tvdb_show:79414:s1"}).text)
    row = page.split('data-target="anilist:849"', 1)[1].split("</tr>", 1)[0]
    assert "S1 E1–14 → AniList 849 E1–14" in row
    assert "your overrides" in row


def test_an_override_added_from_the_page_or_the_api_keeps_the_file_commented(
    browser_client, csrf, api, service
):
    client = browser_client
    token = csrf(client.get("/mappings").text)
    bad = client.post(
        "/ui/mappings/add",
        data={
            "csrf_token": token,
            "source": "tvdb_show:79414:s1",
            "target": "anilist:849",
            "source_range": "1-x",
        },
    )
    assert bad.status_code == 422
    shown = text_of(bad.text)
    assert "source range '1-x' is not x, x-y or x-" in shown
    assert "tvdb_show:79414:s1:" in shown  # the proposed text, to fix by hand
    assert not service.ctx.backend.custom_mappings_path.exists()

    added = client.post(
        "/ui/mappings/add",
        data={
            "csrf_token": token,
            "source": "tvdb_show:79414:s1",
            "target": "anilist:849",
            "source_range": "1-14",
            "target_range": "1-14",
        },
        follow_redirects=True,
    )
    page = text_of(added.text)
    assert "Override saved: TVDB 79414 S1 → AniList 849" in page
    assert added.url.params["q"] == "tvdb_show:79414:s1"
    assert "S1 E1–14 → AniList 849 E1–14" in page
    text = service.ctx.backend.custom_mappings_path.read_text()
    assert text.startswith(EXAMPLE)
    assert "# TVDB 79414 S1: added from the Mappings page\n" in text

    more = api.post(
        "/api/mappings/overrides/add",
        json={"source": "tvdb_show:1:s1", "target": "mal:1", "source_range": "1-12"},
    )
    assert more.status_code == 200, more.text
    now = service.ctx.backend.custom_mappings_path.read_text()
    assert now.startswith(text.rstrip("\n"))  # nothing before is lost
    assert now.endswith("tvdb_show:1:s1:\n  mal:1:\n    1-12: 1-\n")
    wrong = api.post(
        "/api/mappings/overrides/add", json={"source": "tvdb_show:1:s1", "target": "x"}
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"]["errors"] == [
        {
            "line": None,
            "message": "target 'x' is not an id like anilist:21 or tvdb_show:81797:s1",
        }
    ]
    assert service.ctx.backend.custom_mappings_path.read_text() == now


def test_a_user_account_reads_the_overrides_but_cannot_change_them(service, anon, csrf):
    service.ctx.auth.add_user("alice", "alice's password")
    page = anon.get("/login")
    anon.post(
        "/login",
        data={
            "username": "alice",
            "password": "alice's password",
            "csrf_token": page.text.split('name="csrf_token" value="', 1)[1].split('"')[
                0
            ],
            "next": "/",
        },
    )
    mine = anon.get("/mappings", params={"q": "anilist:21"})
    assert mine.status_code == 200
    assert "→ TVDB 81797 S1" in text_of(mine.text)
    assert "Add an override" not in mine.text
    assert "readonly" in mine.text and 'value="save"' not in mine.text
    refused = anon.post(
        "/ui/mappings/add",
        data={
            "csrf_token": csrf(mine.text),
            "source": "tvdb_show:1:s1",
            "target": "anilist:1",
        },
    )
    assert refused.status_code == 403
    assert not service.ctx.backend.custom_mappings_path.exists()


def test_titles_are_found_after_a_restart(workspace, mapping_index, start):
    first = start(workspace, mapping_index)
    _info, secret = first.ctx.auth.create_token("tests")
    with httpx.Client(
        base_url=first.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60
    ) as api:
        preview(api)
        plan_id = api.get("/api/profiles/demo/plans").json()[0]["id"]
        plan = api.get(f"/api/plans/{plan_id}").json()
        ids = [a["id"] for a in plan["actions"]]
        applied = api.post(f"/api/plans/{plan_id}/apply", json={"action_ids": ids})
        assert applied.status_code == 200, applied.text
    first.stop()
    second = start(workspace, mapping_index)
    _info, secret = second.ctx.auth.create_token("tests")
    with httpx.Client(
        base_url=second.url, headers={"Authorization": f"Bearer {secret}"}, timeout=60
    ) as api:
        found = api.get("/api/mappings/browse", params={"q": "yu yu"}).json()
        assert [t["title"] for t in found["titles"]][:1] == ["Yu Yu Hakusho"]
        history = api.get("/api/profiles/demo/history", params={"q": "naruto"})
        assert [r["title"] for r in history.json()] == ["Naruto"]
    second.stop()
