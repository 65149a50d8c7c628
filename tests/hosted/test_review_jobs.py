"""Review from the hosted web service: kept plans, retry, restore, undo preview.

The real web service on loopback (hosted context on the test's PostgreSQL schema),
the real engine in an in-process worker, a local library synced to a local list.
A preview job keeps its plan in the database; the web shows it and queues an
apply of approved ids; the worker applies exactly those and records them on the
plan. Retry and restore are jobs; an undo preview is a read-only job whose result
the job page shows.
"""

from __future__ import annotations

import asyncio

import httpx
import yaml

from anibridge.app.config import load_config
from anibridge.hosted.runner import EngineRunner
from anibridge.hosted.worker import migrate_all
from tests.hosted.test_write_jobs import applied, drain


def api_client(service) -> httpx.Client:
    _info, token = service.ctx.auth.create_token("test")
    return httpx.Client(
        base_url=service.url,
        headers={"Authorization": f"Bearer {token}"},
        follow_redirects=False,
        timeout=60,
    )


def job(api: httpx.Client, job_id: int) -> dict:
    answer = api.get(f"/api/profiles/alice/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


async def preview(api: httpx.Client, pg_url: str, runner: EngineRunner) -> dict:
    """Queue a full preview, let the worker run it; the finished job."""
    answer = api.post(
        "/api/profiles/alice/sync", json={"mode": "full", "dry_run": True}
    )
    job_id = answer.json()["result"]["summary"]["job_id"]
    await drain(pg_url, runner)
    done = job(api, job_id)
    assert done["state"] == "done", (done["state"], done["error"])
    return done


def journal_size(store) -> int:
    _runs, entries = store.profile_journal("alice")
    return len(entries)


async def test_a_kept_preview_is_applied_from_the_web_exactly_as_approved(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    runner = EngineRunner(load_config(config, environ={}))
    service = await asyncio.to_thread(start_hosted, config, index)
    try:
        api = api_client(service)
        done = await preview(api, pg_url, runner)
        plan_id = done["result"]["plan_id"]
        assert plan_id and done["result"]["dry_run"] is True
        # The plan is kept where the web service reads it, with names.
        (listed,) = api.get("/api/profiles/alice/plans").json()
        assert (listed["id"], listed["status"]) == (plan_id, "pending")
        plan = api.get(f"/api/plans/{plan_id}").json()
        ids = [a["id"] for a in plan["actions"]]
        assert len(ids) == listed["actions_count"] >= 2
        assert {a["ref"]["key"] for a in plan["actions"]} == {
            "anilist:20",
            "anilist:22",
        }
        page = api.get(f"/plans/{plan_id}", headers={"Accept": "text/html"})
        assert page.status_code == 200 and "anilist:20" in page.text
        assert journal_size(store) == 0  # a preview writes nothing

        # Approve one action from the browser form: queued, shown as a job.
        first = ids[0]
        answer = api.post(f"/ui/plans/{plan_id}/apply", data={"action_id": first})
        assert answer.status_code == 303, answer.text
        job_url = answer.headers["location"].split("?")[0]
        assert job_url.startswith(f"{service.url}/jobs/alice/") or job_url.startswith(
            "/jobs/alice/"
        )
        apply_job = int(job_url.rsplit("/", 1)[1])
        queued = api.get(f"/jobs/alice/{apply_job}", headers={"Accept": "text/html"})
        assert "data-job-state>queued<" in queued.text
        assert journal_size(store) == 0  # nothing ran in the web process
        await drain(pg_url, runner)
        result = job(api, apply_job)["result"]
        assert result["applied_ids"] == [first] and result["outdated"] == []
        assert applied(store, result["run_id"]) == [first]
        assert result["plan_status"] == "partial"
        shown = api.get(f"/api/plans/{plan_id}").json()
        assert shown["status"] == "partial" and shown["run_id"] == result["run_id"]
        assert {a["id"]: a["outcome"] for a in shown["actions"]}[first] == "applied"
        page = api.get(f"/jobs/alice/{apply_job}", headers={"Accept": "text/html"})
        assert "data-job-state>done<" in page.text and "partial" in page.text

        # Applying an applied id again is refused by the web at once.
        again = api.post(f"/api/plans/{plan_id}/apply", json={"action_ids": [first]})
        assert again.status_code == 409, again.text

        # The rest through the API: exactly the rest is written, the plan is done.
        rest = ids[1:]
        answer = api.post(f"/api/plans/{plan_id}/apply", json={"action_ids": rest})
        assert answer.status_code == 202, answer.text
        rest_job = answer.json()["summary"]["job_id"]
        await drain(pg_url, runner)
        result = job(api, rest_job)["result"]
        assert sorted(applied(store, result["run_id"])) == sorted(rest)
        assert result["plan_status"] == "applied"
        shown = api.get(f"/api/plans/{plan_id}").json()
        assert shown["status"] == "applied" and shown["applied_count"] == len(ids)
        assert journal_size(store) == len(ids)  # each approved write once, no other

        # A new preview finds nothing to do; the old plan's ids are stale now.
        stale = await preview(api, pg_url, runner)
        assert stale["result"]["planned"] == 0
        answer = api.post(f"/api/plans/{plan_id}/apply", json={"action_ids": ids})
        assert answer.status_code == 409  # already applied: refused, not queued
    finally:
        await asyncio.to_thread(service.stop)


async def test_approved_ids_that_no_longer_apply_are_marked_outdated_not_written(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    runner = EngineRunner(load_config(config, environ={}))
    service = await asyncio.to_thread(start_hosted, config, index)
    try:
        api = api_client(service)
        plan_id = (await preview(api, pg_url, runner))["result"]["plan_id"]
        ids = [a["id"] for a in api.get(f"/api/plans/{plan_id}").json()["actions"]]
        # A real sync writes everything meanwhile.
        api.post("/api/profiles/alice/sync", json={"mode": "full"})
        await drain(pg_url, runner)
        written = journal_size(store)
        assert written == len(ids)
        answer = api.post(f"/api/plans/{plan_id}/apply", json={"action_ids": ids})
        queued = answer.json()["summary"]["job_id"]
        await drain(pg_url, runner)
        result = job(api, queued)["result"]
        assert sorted(result["outdated"]) == sorted(ids)
        assert result["run_id"] is None or applied(store, result["run_id"]) == []
        assert journal_size(store) == written
        shown = api.get(f"/api/plans/{plan_id}").json()
        assert {a["outcome"] for a in shown["actions"]} == {"outdated"}
    finally:
        await asyncio.to_thread(service.stop)


async def test_retry_and_restore_are_jobs_and_undo_preview_writes_nothing(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    doc = yaml.safe_load(config.read_text())
    doc["backups"]["before_write"] = True  # the sync leaves a backup of the list
    config.write_text(yaml.safe_dump(doc))
    runner = EngineRunner(load_config(config, environ={}))
    service = await asyncio.to_thread(start_hosted, config, index)
    try:
        api = api_client(service)
        planned = (await preview(api, pg_url, runner))["result"]["planned"]
        api.post("/api/profiles/alice/sync", json={"mode": "full"})
        await drain(pg_url, runner)
        run_id = next(
            r["id"]
            for r in api.get("/api/profiles/alice/runs").json()
            if r["kind"] == "sync"
        )
        writes = applied(store, run_id)
        assert len(writes) == planned

        # Undo preview: a read-only job; asking twice joins the waiting one.
        answer = api.get(f"/api/profiles/alice/runs/{run_id}/undo")
        assert answer.status_code == 202, answer.text
        preview_job = answer.json()["summary"]["job_id"]
        again = api.get(f"/api/profiles/alice/runs/{run_id}/undo")
        assert again.json()["summary"]["job_id"] == preview_job
        page = api.get(
            f"/timeline/alice/runs/{run_id}/undo", headers={"Accept": "text/html"}
        )
        assert page.status_code == 303
        assert page.headers["location"].endswith(f"/jobs/alice/{preview_job}")
        runs_before = len(api.get("/api/profiles/alice/runs").json())
        journal_before = journal_size(store)
        await drain(pg_url, runner)
        shown = job(api, preview_job)
        assert shown["state"] == "done", shown
        undo_plan = shown["result"]
        assert undo_plan["run"]["id"] == run_id and undo_plan["undone"] is False
        assert len(undo_plan["actions"]) == len(writes)
        assert len(api.get("/api/profiles/alice/runs").json()) == runs_before
        assert journal_size(store) == journal_before  # nothing written
        page = api.get(f"/jobs/alice/{preview_job}", headers={"Accept": "text/html"})
        assert f"Undo {len(writes)} change(s)" in page.text
        assert f"/ui/profiles/alice/runs/{run_id}/undo" in page.text

        # Restore the backup the sync took: a job; the list is empty again.
        (backup,) = api.get("/api/profiles/alice/backups").json()
        answer = api.post(f"/api/profiles/alice/backups/{backup['name']}/restore")
        assert answer.status_code == 202, answer.text
        restore_job = answer.json()["summary"]["job_id"]
        assert job(api, restore_job)["state"] == "queued"
        await drain(pg_url, runner)
        restored = job(api, restore_job)
        assert restored["state"] == "done", restored
        assert restored["result"]["restored"] == backup["name"]
        assert (await preview(api, pg_url, runner))["result"]["planned"] == planned
        missing = api.post("/api/profiles/alice/backups/nope/restore")
        assert missing.status_code == 404

        # Retry the sync's actions (the list lost them with the restore): a job
        # that re-plans live and writes exactly those.
        answer = api.post("/api/profiles/alice/retry", json={"action_ids": writes})
        assert answer.status_code == 202, answer.text
        retry_job = answer.json()["summary"]["job_id"]
        await drain(pg_url, runner)
        result = job(api, retry_job)["result"]
        assert sorted(applied(store, result["run_id"])) == sorted(writes)
        assert result["no_longer_needed"] == 0
        form = api.post("/ui/profiles/alice/retry", data={"action_id": writes[0]})
        assert form.status_code == 303 and "/jobs/alice/" in form.headers["location"]

        # Every kind is listed with its state.
        kinds = {
            (j["kind"], j["state"]) for j in api.get("/api/profiles/alice/jobs").json()
        }
        assert {
            ("undo_preview", "done"),
            ("restore", "done"),
            ("retry", "done"),
        } <= kinds
        assert ("retry", "queued") in kinds
        dashboard = api.get("/", headers={"Accept": "text/html"}).text
        assert "undo preview" in dashboard and f"/jobs/alice/{retry_job}" in dashboard
    finally:
        await asyncio.to_thread(service.stop)


async def test_a_preview_a_guard_refused_is_kept_for_review_with_its_guard(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    # The library came back empty while the list has an entry: the guard stops it.
    library = tmp_path / "alice" / "library.yaml"
    doc = yaml.safe_load(library.read_text())
    doc["items"] = []
    library.write_text(yaml.safe_dump(doc))
    listing = tmp_path / "alice" / "list.yaml"
    doc = yaml.safe_load(listing.read_text())
    doc["items"] = [
        {
            "key": "anilist:20",
            "kind": "series",
            "title": "Naruto",
            "ids": ["anilist:20"],
            "episodes": 12,
            "record": {"status": "watching", "progress": 2},
        }
    ]
    listing.write_text(yaml.safe_dump(doc))
    doc = yaml.safe_load(config.read_text())
    doc["profiles"]["alice"]["allow_deletes"] = True
    config.write_text(yaml.safe_dump(doc))
    runner = EngineRunner(load_config(config, environ={}))
    service = await asyncio.to_thread(start_hosted, config, index)
    try:
        api = api_client(service)
        done = await preview(api, pg_url, runner)
        assert "returned nothing" in done["result"]["refused"]
        plan = api.get(f"/api/plans/{done['result']['plan_id']}").json()
        assert plan["status"] == "pending" and plan["guards"]
        assert "returned nothing" in plan["guards"][0]
        assert journal_size(store) == 0
    finally:
        await asyncio.to_thread(service.stop)


async def test_a_retry_of_a_plan_a_guard_refused_is_refused_too(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    # Two-way with deletes allowed and an empty list: "list returned nothing while
    # library has entries" stops a plan that would create entries on the list.
    # Nobody reviewed it, so a retry of those very actions is refused as well.
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    doc = yaml.safe_load(config.read_text())
    doc["profiles"]["alice"].update(allow_deletes=True, direction="two_way")
    config.write_text(yaml.safe_dump(doc))
    runner = EngineRunner(load_config(config, environ={}))
    service = await asyncio.to_thread(start_hosted, config, index)
    try:
        api = api_client(service)
        done = await preview(api, pg_url, runner)
        assert "returned nothing" in done["result"]["refused"]
        plan = api.get(f"/api/plans/{done['result']['plan_id']}").json()
        ids = [a["id"] for a in plan["actions"]]
        assert ids and plan["guards"]
        answer = api.post("/api/profiles/alice/retry", json={"action_ids": ids})
        assert answer.status_code == 202, answer.text
        retry_job = answer.json()["summary"]["job_id"]
        await drain(pg_url, runner)
        result = job(api, retry_job)["result"]
        assert result["run_id"] is None
        assert "returned nothing" in result["refused"]
        assert journal_size(store) == 0
    finally:
        await asyncio.to_thread(service.stop)


async def test_fix_mapping_saves_the_override_for_every_process_and_queues_a_preview(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {"alice": None})
    # A show no mapping places: unmatched until an override says where it goes.
    library = tmp_path / "alice" / "library.yaml"
    doc = yaml.safe_load(library.read_text())
    mystery = dict(doc["items"][0], key="mystery", title="Mystery Show")
    mystery["ids"] = ["tvdb_show:987654321"]
    doc["items"].append(mystery)
    library.write_text(yaml.safe_dump(doc))
    runner = EngineRunner(load_config(config, environ={}))
    service = await asyncio.to_thread(start_hosted, config, index)
    elsewhere = hosted_config(tmp_path / "machine-2", pg_url, {"alice": None})
    second = None
    try:
        api = api_client(service)
        before = await preview(api, pg_url, runner)
        plan = api.get(f"/api/plans/{before['result']['plan_id']}").json()
        assert "anilist:21" not in {a["ref"]["key"] for a in plan["actions"]}
        unmatched = api.get("/api/profiles/alice/unmatched").json()
        assert "mystery" in {r["ref"]["key"] for r in unmatched["rows"]}

        answer = api.post(
            "/api/profiles/alice/unmatched/fix",
            json={
                "anchor": "mystery",
                "source": "tvdb_show:987654321:s1",
                "target": "anilist:21",
            },
        )
        assert answer.status_code == 202, answer.text
        fix_job = answer.json()["summary"]["job_id"]
        await drain(pg_url, runner)
        done = job(api, fix_job)
        assert done["state"] == "done", done
        assert done["args"]["refs"] == ["mystery"]
        fixed = api.get(f"/api/plans/{done['result']['plan_id']}").json()
        assert fixed["scope"] == ["mystery"]
        assert {a["ref"]["key"] for a in fixed["actions"]} == {"anilist:21"}

        # Another web service (another machine's data dir) sees the override.
        second = await asyncio.to_thread(start_hosted, elsewhere, index)
        other = api_client(second)
        text = other.get("/api/mappings/overrides").text
        assert "tvdb_show:987654321:s1" in text and "anilist:21" in text
        page = other.get("/mappings", headers={"Accept": "text/html"}).text
        assert "Saved in the deployment's database" in page

        # A real run of a worker writes the fixed entry.
        api.post("/api/profiles/alice/sync", json={"mode": "full"})
        await drain(pg_url, runner)
        (synced, *_rest) = api.get("/api/profiles/alice/jobs").json()
        written = store.bundle().journal.entries(synced["result"]["run_id"])
        assert "anilist:21" in {e.ref["key"] for e in written}
    finally:
        await asyncio.to_thread(service.stop)
        if second is not None:
            await asyncio.to_thread(second.stop)
