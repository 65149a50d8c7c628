"""Every route of the web app, called as user B against user A's objects, refuses.

The routes are enumerated from the app's router (not listed by hand), so a route
added later is walked too; one that is in none of `anibridge.app.web.access`'s
classes (owned path parameter, admin only, shared) fails the test until it is
classified. A's objects are real: a kept plan (a preview job a worker ran, kept
in the database) and that job, a run with its journal and backup,
an API token, a webhook secret, made by the engine on the hosted PostgreSQL store;
A's own calls show they exist (anything but 403/404), so B's 404 is the scoping.
"""

from __future__ import annotations

import json
import re

import httpx
import yaml
from fastapi.routing import APIRoute
from starlette.routing import Mount

from anibridge.app.config import load_config
from anibridge.app.scheduler import SyncMode, SyncRequest
from anibridge.app.web.access import ADMIN_ONLY, OWNED_PARAMS, SHARED
from anibridge.app.web.app import PUBLIC_PATHS
from anibridge.app.web.engine_backend import EngineBackend
from anibridge.hosted.runner import EngineRunner
from anibridge.hosted.worker import migrate_all
from tests.hosted.test_write_jobs import drain

A, B = "alice-anime", "bob-anime"
PASSWORDS = {"alice": "alice's long password", "bob": "bob's long password"}


def walk(routes, prefix=""):
    """(path template, method) of every route, through routers and mounts."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from walk(included.routes, prefix + route.include_context.prefix)
        elif isinstance(route, Mount):
            yield prefix + route.path, "GET"
        elif isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield prefix + route.path, method
        else:
            for method in sorted(getattr(route, "methods", None) or {"GET"}):
                yield prefix + route.path, method


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], path)


def call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    """One call; a live event stream is answered by its status and headers only."""
    with client.stream(
        method,
        path,
        headers={"Accept": "application/json"},
        json={} if method in {"POST", "PUT", "PATCH"} else None,
    ) as answer:
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            return httpx.Response(answer.status_code, headers=answer.headers)
        answer.read()
    return answer


def client(service, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=service.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )


async def make_alices_preview(service, config, pg_url) -> int:
    """A kept plan: a preview job a worker ran; the job's id."""
    ticket = await service.ctx.scheduler.trigger(
        A, SyncRequest(SyncMode.FULL, dry_run=True)
    )
    await drain(pg_url, EngineRunner(load_config(config, environ={})))
    return int(ticket.summary["job_id"])


async def make_alices_objects(config, index) -> None:
    """A run with journal entries and a backup."""
    loaded = load_config(config, environ={})
    backend = EngineBackend(loaded, index=index, environ={})
    await backend.start()
    try:
        synced = await backend.run(A, SyncRequest(SyncMode.FULL))
        assert synced.status == "ok" and synced.summary["applied"] >= 1, synced
    finally:
        await backend.close()


def local_webhook() -> bytes:
    change = {
        "kind": "event",
        "ref": {"key": "naruto", "path": {"season": 1, "episode": 2}},
        "event_kind": "play",
    }
    doc = {
        "type": "anibridge.local.changes",
        "instance": "library",
        "changes": [change],
    }
    return json.dumps(doc).encode()


async def test_user_b_gets_404_or_403_from_every_route_for_user_as_objects(
    pg_url, store, tmp_path, index, hosted_config, start_hosted
):
    migrate_all(pg_url)
    config = hosted_config(tmp_path, pg_url, {A: "alice", B: "bob"})
    doc = yaml.safe_load(config.read_text())
    doc["backups"]["before_write"] = True  # A's run leaves a backup
    config.write_text(yaml.safe_dump(doc))
    service = start_hosted(config, index)
    try:
        job_id = await make_alices_preview(service, config, pg_url)
        await make_alices_objects(config, index)
        auth = service.ctx.auth
        for user, password in PASSWORDS.items():
            auth.add_user(user, password)
        _info, admin_token = auth.create_token("admin")
        _info, a_token = auth.create_token("alice's", "alice")
        a_spare, _secret = auth.create_token("alice's spare", "alice")
        _info, b_token = auth.create_token("bob's", "bob")
        alice, bob, admin = (
            client(service, t) for t in (a_token, b_token, admin_token)
        )
        a_secret = auth.webhook_secret("library", "alice")

        # A sees their objects (so they exist), B sees only B's profile.
        plans = alice.get(f"/api/profiles/{A}/plans").json()
        runs = alice.get(f"/api/profiles/{A}/runs").json()
        backups = alice.get(f"/api/profiles/{A}/backups").json()
        assert plans and runs and backups
        assert alice.get(f"/api/profiles/{A}/history").json()
        objects = {
            "profile": A,
            "plan_id": plans[0]["id"],
            "run_id": next(r["id"] for r in runs if r["kind"] != "preview"),
            "name": backups[0]["name"],
            "token_id": a_spare.id,
            "user": "alice",
            "provider": "library",
            "job_id": str(job_id),
        }
        assert bob.get("/api/me").json() == {
            "user": "bob",
            "role": "user",
            "profiles": [B],
        }
        # A's job and plan are not reachable through B's own profile either.
        assert alice.get(f"/api/profiles/{A}/jobs/{job_id}").status_code == 200
        assert bob.get(f"/api/profiles/{B}/jobs/{job_id}").status_code == 404
        assert bob.get(f"/jobs/{B}/{job_id}").status_code == 404
        assert bob.get(f"/api/profiles/{B}/plans").json() == []
        assert bob.get(f"/api/plans/{objects['plan_id']}").status_code == 404
        # (A job id is a small number any page may contain: not a marker.)
        markers = [
            str(v)
            for k, v in objects.items()
            if k not in ("user", "provider", "job_id")
        ]
        markers += [a_spare.hint.rstrip("…"), a_secret]

        routes = sorted(set(walk(service.app.router.routes)))
        assert len(routes) > 50  # the enumeration really walked the router
        unclassified, refused, shared = [], 0, 0
        for path, method in routes:
            if path in PUBLIC_PATHS:
                continue
            params = set(re.findall(r"\{([^}]+)\}", path))
            url = fill(path, objects)
            if (method, path) in ADMIN_ONLY:
                answer = call(bob, method, url)
                assert answer.status_code == 403, (method, path, answer.status_code)
                refused += 1
            elif params & OWNED_PARAMS:
                answer = call(bob, method, url)
                assert answer.status_code in (403, 404), (
                    method,
                    path,
                    answer.status_code,
                    answer.text[:200],
                )
                # Only what B sent may come back (the 404 names it), nothing more.
                leaked = [m for m in markers if m in answer.text and m not in url]
                assert not leaked, (method, path, leaked)
                refused += 1
            elif (method, path) in SHARED:
                if path in ("/api/events", "/logout"):
                    continue  # a stream (checked below); ends no bearer session
                answer = call(bob, method, url)
                assert answer.status_code < 500 and answer.status_code != 401, (
                    method,
                    path,
                    answer.status_code,
                )
                leaked = [m for m in markers if m in answer.text]
                assert not leaked, (method, path, leaked)
                shared += 1
            else:
                unclassified.append((method, path))
        assert not unclassified, (
            "routes in no class of anibridge.app.web.access (owned parameter, "
            f"ADMIN_ONLY or SHARED): {unclassified}"
        )
        assert refused > 30 and shared > 10

        # The same calls by A reach A's objects: B's refusals were the scoping.
        for path, method in routes:
            params = set(re.findall(r"\{([^}]+)\}", path))
            if path in PUBLIC_PATHS or (method, path) in ADMIN_ONLY:
                continue
            if params & OWNED_PARAMS:
                # Each revoke takes a token of its own.
                spare, _secret = auth.create_token("spare", "alice")
                answer = call(
                    alice, method, fill(path, objects | {"token_id": spare.id})
                )
                assert answer.status_code not in (401, 403, 404), (
                    method,
                    path,
                    answer.status_code,
                    answer.text[:200],
                )
        # Deployment-wide routes are there for admins.
        for path, method in routes:
            if (method, path) in ADMIN_ONLY and method == "GET":
                assert call(admin, method, path).status_code == 200, path
        assert {p["name"] for p in admin.get("/api/status").json()["profiles"]} == {
            A,
            B,
        }

        # B's pages and lists show B's objects only; B rotating "library" rotated
        # B's secret, not A's.
        page = bob.get("/", headers={"Accept": "text/html"}).text
        assert f'data-profile="{B}"' in page and A not in page
        assert auth.webhook_secret("library", "alice") == a_secret
        assert [h["profiles"] for h in bob.get("/api/webhooks").json()] == [[B]]
        assert [t["name"] for t in bob.get("/api/tokens").json()] == ["bob's"]

        # Webhook URLs route to their owner's profiles only.
        anon = httpx.Client(base_url=service.url, timeout=60)
        headers = {"Content-Type": "application/json"}
        hook = anon.post(
            f"/webhook/library/{a_secret}", content=local_webhook(), headers=headers
        )
        assert (hook.status_code, hook.json()["profiles"]) == (202, [A])
        b_secret = auth.webhook_secret("library", "bob")
        hook = anon.post(
            f"/webhook/library/{b_secret}", content=local_webhook(), headers=headers
        )
        assert (hook.status_code, hook.json()["profiles"]) == (202, [B])
        for queued in (A, B):
            newest = admin.get(f"/api/profiles/{queued}/jobs").json()[0]
            assert newest["state"] == "queued"

        # The live stream: B gets B's events and none of A's (nor log lines).
        async def publish() -> None:
            bus = service.ctx.bus
            bus.publish("job_queued", profile=A, job=1)
            bus.publish("webhook", provider="library", profiles=[A])
            bus.publish("log", record={"message": f"syncing {A}"})
            bus.publish("job_queued", profile=B, job=2)

        seen = []
        with bob.stream("GET", "/api/events") as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            service.call(publish())
            for line in lines:
                seen.append(line)
                if line.startswith("data:") and B in line:
                    break
        assert not any(A in line for line in seen), seen

        # A browser session of B is scoped the same way.
        with httpx.Client(base_url=service.url, timeout=60) as browser:
            form = browser.get("/login").text
            csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            login = browser.post(
                "/login",
                data={
                    "username": "bob",
                    "password": PASSWORDS["bob"],
                    "csrf_token": csrf,
                    "next": "/",
                },
            )
            assert login.status_code == 303
            assert browser.get(f"/timeline/{A}").status_code == 404
            page = browser.get("/").text
            assert f'data-profile="{B}"' in page and A not in page
            assert 'href="/logs"' not in page  # no deployment logs for a user
    finally:
        service.stop()
