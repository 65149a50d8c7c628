"""Plan and timeline filters by provider and title on a two-way profile, where
changes are written to both sides (real service, pages as a browser gets them)."""

from __future__ import annotations

import html
import json
import re
import shutil

import httpx
import pytest

from tests.app.web.conftest import CONFIG


@pytest.fixture
def two_way(tmp_path, migrated_db, mapping_index, make_ws, start, login):
    config = make_ws(
        tmp_path / "ws",
        config=CONFIG.replace("  demo:\n", "  demo:\n    direction: two_way\n"),
    )
    (config.parent / "data").mkdir()
    shutil.copy(migrated_db, config.parent / "data" / "anibridge.db")
    server = start(config, mapping_index)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        login(client)
        yield client
    server.stop()


def titles(page: str) -> list[str]:
    rows = re.findall(
        r'<(?:tr|li) class="(?:action|event)[^"]*".*?<strong>(.*?)</strong>',
        page,
        flags=re.S,
    )
    return sorted(html.unescape(t) for t in rows)


def _wait_until_finished(client, profile: str) -> None:
    """Read the profile's live progress stream until its newest job finished."""
    with client.stream("GET", f"/api/profiles/{profile}/progress/stream") as stream:
        for line in stream.iter_lines():
            if not line.startswith("data: "):
                continue
            data = json.loads(line[6:])
            state = data.get("state") or data.get("progress")
            if state and state.get("finished"):
                return


def test_plan_and_timeline_filter_by_provider_and_title(two_way, csrf):
    client = two_way
    dashboard = client.get("/")
    started = client.post(
        "/ui/profiles/demo/sync",
        data={"csrf_token": csrf(dashboard.text), "dry_run": "true", "mode": "full"},
    )
    assert started.status_code == 303  # the preview runs in the background
    _wait_until_finished(client, "demo")
    # Its progress page, once the preview is done, opens the plan.
    answer = client.get(started.headers["location"], follow_redirects=True)
    assert answer.status_code == 200, answer.text
    plan_url = str(answer.url)
    assert "/plans/" in plan_url
    page = answer.text
    assert re.search(
        r'<option value="library"\s*>Local file \(library\)</option>', page
    )
    assert titles(page) == ["Naruto", "One Piece", "Yu Yu Hakusho"]
    to_library = client.get(plan_url, params={"provider": "library"}).text
    assert titles(to_library) == ["One Piece"]  # the list's newer state goes back
    to_list = client.get(plan_url, params={"provider": "list", "q": "yu yu"}).text
    assert titles(to_list) == ["Yu Yu Hakusho"]

    # Apply everything; the timeline filters the same way.
    applied = client.post(
        plan_url.replace("/plans/", "/ui/plans/") + "/apply",
        data={
            "csrf_token": csrf(page),
            "action_id": re.findall(r'name="action_id" value="([0-9a-f]+)"', page),
        },
        follow_redirects=True,
    )
    assert "Applied 3 action(s): ok" in html.unescape(applied.text)
    timeline = client.get("/timeline/demo").text
    assert '<option value="library"' in timeline and '<option value="list"' in timeline
    assert titles(timeline) == ["Naruto", "One Piece", "Yu Yu Hakusho"]
    library = client.get("/timeline/demo", params={"provider": "library"}).text
    assert titles(library) == ["One Piece"]
    both = client.get("/timeline/demo", params={"provider": "list", "q": "naruto"}).text
    assert titles(both) == ["Naruto"]
    none = client.get("/timeline/demo", params={"provider": "library", "q": "naruto"})
    assert titles(none.text) == []
    assert "No changes match these filters." in none.text
