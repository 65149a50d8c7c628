"""Timeline state per journal entry, run-level undo and cursor pages (real service)."""

from __future__ import annotations


def dry_run(api) -> dict:
    response = api.post(
        "/api/profiles/demo/sync", json={"mode": "full", "dry_run": True, "wait": True}
    )
    assert response.status_code == 202, response.text
    result = response.json()["result"]
    assert result["status"] == "ok"
    return api.get(f"/api/plans/{result['plan_id']}").json()


def apply(api, plan: dict, titles: set[str]) -> str:
    ids = [a["id"] for a in plan["actions"] if a["title"] in titles]
    response = api.post(f"/api/plans/{plan['id']}/apply", json={"action_ids": ids})
    assert response.status_code == 200, response.text
    return response.json()["run_id"]


def test_undone_is_kept_per_journal_entry_not_per_action_id(api):
    """An action id repeats when the same write is planned again after an undo."""
    first_run = apply(api, dry_run(api), {"One Piece"})
    [entry] = api.get("/api/profiles/demo/history").json()
    undo = api.post(
        "/api/profiles/demo/undo",
        json={"action_ids": [entry["action_id"]], "run_id": first_run},
    )
    assert undo.status_code == 200, undo.text
    # The same write again (same state, same write: same action id), in a new run.
    second_run = apply(api, dry_run(api), {"One Piece"})
    rows = api.get("/api/profiles/demo/history").json()
    same = {r["run_id"]: r for r in rows if r["action_id"] == entry["action_id"]}
    assert set(same) == {first_run, second_run}
    assert same[first_run]["undone"] is True
    assert same[second_run]["undone"] is False  # the re-applied change stands
    # Undoing the new entry reverts it, not the old one again.
    undo = api.post(
        "/api/profiles/demo/undo",
        json={"action_ids": [entry["action_id"]], "run_id": second_run},
    )
    assert undo.status_code == 200, undo.text
    assert undo.json()["summary"]["applied"] == 1
    rows = api.get("/api/profiles/demo/history").json()
    undone = sorted(r["run_id"] for r in rows if r["undone"])
    assert undone == sorted([first_run, second_run])


def test_run_level_undo_previews_then_reverts_the_whole_run(api):
    run_id = apply(api, dry_run(api), {"One Piece", "Naruto"})
    preview = api.get(f"/api/profiles/demo/runs/{run_id}/undo")
    assert preview.status_code == 200, preview.text
    changes = preview.json()["actions"]
    assert sorted(a["title"] for a in changes) == ["Naruto", "One Piece"]
    one_piece = next(a for a in changes if a["title"] == "One Piece")
    assert one_piece["before"]["progress"]["current"] == 3  # now
    assert one_piece["after"]["progress"]["current"] == 1  # written back
    # The preview wrote nothing.
    assert not [r for r in api.get("/api/profiles/demo/history").json() if r["undone"]]

    done = api.post(f"/api/profiles/demo/runs/{run_id}/undo")
    assert done.status_code == 200, done.text
    assert done.json()["summary"]["applied"] == 2
    rows = api.get("/api/profiles/demo/history").json()
    assert sorted(r["title"] for r in rows if r["undone"]) == ["Naruto", "One Piece"]
    assert len([r for r in rows if r["undoes"]]) == 2
    again = api.post(f"/api/profiles/demo/runs/{run_id}/undo")
    assert again.status_code == 409  # undoing an undone run says so
    assert "already undone" in again.json()["detail"]


def test_a_plan_says_what_was_applied_and_applies_the_rest(api):
    plan = dry_run(api)
    first = [a["id"] for a in plan["actions"] if a["title"] == "One Piece"]
    api.post(f"/api/plans/{plan['id']}/apply", json={"action_ids": first})
    shown = api.get(f"/api/plans/{plan['id']}").json()
    assert shown["status"] == "partial"
    assert {a["id"]: a["outcome"] for a in shown["actions"]} == {
        a["id"]: ("applied" if a["id"] in first else None) for a in plan["actions"]
    }
    rest = shown["rest"]
    assert sorted(rest) == sorted(
        a["id"] for a in plan["actions"] if a["id"] not in first
    )
    again = api.post(f"/api/plans/{plan['id']}/apply", json={"action_ids": first})
    assert again.status_code == 409
    assert "already applied" in again.json()["detail"]
    done = api.post(f"/api/plans/{plan['id']}/apply", json={"action_ids": rest})
    assert done.status_code == 200, done.text
    assert done.json()["summary"]["applied"] == len(rest)
    final = api.get(f"/api/plans/{plan['id']}").json()
    assert final["status"] == "applied"
    assert final["rest"] == []
