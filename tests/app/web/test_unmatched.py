"""Unmatched entries on the demo service: listed with titles and why, fixed by an
override written into the custom mappings file, then matched in a new preview."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

HARUHI = "show-79414"  # tvdb_show:79414, which the dataset maps to no AniList id


@pytest.fixture
def demo_api(demo_service) -> Iterator[httpx.Client]:
    _info, secret = demo_service.ctx.auth.create_token("tests")
    with httpx.Client(
        base_url=demo_service.url,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=60,
    ) as client:
        yield client


def test_an_unmatched_title_is_fixed_by_an_override_and_re_planned(
    demo_api, demo_service
):
    assert demo_api.get("/api/profiles/demo/unmatched").json()["plan"] is None
    preview = demo_api.post(
        "/api/profiles/demo/sync", json={"mode": "full", "dry_run": True, "wait": True}
    )
    assert preview.status_code == 202, preview.text
    found = demo_api.get("/api/profiles/demo/unmatched").json()
    first = found["rows"][0]  # unmatched first
    assert first["reason"] == "no-target"
    assert first["ref"]["key"] == HARUHI
    assert first["title"] == "The Melancholy of Haruhi Suzumiya"
    assert first["ids"] == ["tvdb_show:79414", "tvdb_show:79414:s1"]
    assert first["sources"] == ["tvdb_show:79414:s1"]  # the dataset maps seasons
    assert first["detail"] == "no mapping to anilist"
    assert found["counts"]["no-target"] == 1
    by_title = demo_api.get("/api/profiles/demo/unmatched", params={"q": "haruhi"})
    assert [r["ref"]["key"] for r in by_title.json()["rows"]] == [HARUHI]

    bad = demo_api.post(
        "/api/profiles/demo/unmatched/fix",
        json={"anchor": HARUHI, "source": "tvdb_show:79414:s1", "target": "849"},
    )
    assert bad.status_code == 400
    assert "not an id like anilist:21" in bad.json()["detail"]

    fixed = demo_api.post(
        "/api/profiles/demo/unmatched/fix",
        json={
            "anchor": HARUHI,
            "source": "tvdb_show:79414:s1",
            "target": "anilist:849",
            "source_range": "1-14",
            "target_range": "1-14",
        },
    )
    assert fixed.status_code == 200, fixed.text
    plan = demo_api.get(f"/api/plans/{fixed.json()['plan_id']}").json()
    assert [a["ref"]["key"] for a in plan["actions"]] == ["anilist:849"]
    assert plan["actions"][0]["title"] == "The Melancholy of Haruhi Suzumiya"
    assert (
        plan["actions"][0]["provenance"]
        == ["tvdb_show:79414:s1 -> anilist:849 1-14=1-14"]
        or "anilist:849" in plan["actions"][0]["provenance"][0]
    )

    # The override is in the custom file, with a comment naming the title.
    text = demo_api.get("/api/mappings/overrides").text
    assert "The Melancholy of Haruhi Suzumiya: fixed from the Unmatched page" in text
    assert "tvdb_show:79414:s1:" in text and "anilist:849:" in text
    after = demo_api.get("/api/profiles/demo/unmatched").json()
    assert HARUHI not in [r["ref"]["key"] for r in after["rows"]]
    assert [f["ref"]["key"] for f in after["fixed"]] == [HARUHI]
    # A later full preview agrees: the entry is matched for good.
    demo_api.post(
        "/api/profiles/demo/sync", json={"mode": "full", "dry_run": True, "wait": True}
    )
    final = demo_api.get("/api/profiles/demo/unmatched").json()
    assert final["counts"].get("no-target", 0) == 0
