"""Every private route refuses anonymous callers; found from the router itself."""

from __future__ import annotations

import httpx

from anibridge.app.web.app import PUBLIC_PATHS

EXPECTED_PUBLIC = {
    "/livez",
    "/readyz",
    "/webhook/{provider}",
    "/webhook/{provider}/{secret}",
    "/login",
    "/static",
}


def test_public_surface_is_exactly_health_login_webhooks_static():
    assert set(PUBLIC_PATHS) == EXPECTED_PUBLIC


def test_every_private_route_and_stream_refuses_anonymous(
    service, anon, app_routes, concrete
):
    found = app_routes(service.app)
    assert len(found) > 40  # the enumeration really walked the router
    paths = {p for p, _ in found}
    assert "/api/events" in paths  # the live stream is among them
    checked = 0
    for path, method in found:
        if path in PUBLIC_PATHS:
            continue
        response = anon.request(
            method,
            concrete(path),
            headers={"Accept": "application/json"},
            json={} if method in {"POST", "PUT", "PATCH"} else None,
        )
        assert response.status_code in (401, 403), (method, path, response.status_code)
        checked += 1
    assert checked > 35


def test_private_routes_do_not_refuse_a_valid_token(service, api, app_routes, concrete):
    for path, method in app_routes(service.app):
        if path in PUBLIC_PATHS or method != "GET" or path == "/api/events":
            continue
        response = api.get(concrete(path))
        assert response.status_code not in (401, 403), (path, response.status_code)


def test_browser_gets_the_login_page_with_401(anon):
    response = anon.get("/timeline/demo", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert 'action="/login"' in response.text
    assert 'name="next" value="/timeline/demo"' in response.text


def test_live_stream_needs_credentials(anon, api):
    assert anon.get("/api/events").status_code == 401
    with api.stream("GET", "/api/events") as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        first = next(stream.iter_lines())
        assert first.startswith("retry:")


def test_wrong_token_is_refused(anon):
    response = anon.get(
        "/api/status", headers={"Authorization": "Bearer abt_not-a-real-token"}
    )
    assert response.status_code == 401


def test_session_needs_csrf_token_and_same_origin(service, login, csrf):
    with httpx.Client(base_url=service.url, timeout=30) as client:
        assert login(client).status_code == 303
        assert client.get("/api/status").status_code == 200
        no_csrf = client.post("/api/profiles/demo/sync", json={"dry_run": True})
        assert no_csrf.status_code == 403
        token = csrf(client.get("/").text)
        wrong = client.post(
            "/api/profiles/demo/sync",
            json={"dry_run": True},
            headers={"X-CSRF-Token": token + "x"},
        )
        assert wrong.status_code == 403
        cross = client.post(
            "/api/profiles/demo/sync",
            json={"dry_run": True},
            headers={"X-CSRF-Token": token, "Origin": "http://evil.example"},
        )
        assert cross.status_code == 403
        ok = client.post(
            "/api/profiles/demo/sync",
            json={"dry_run": True},
            headers={"X-CSRF-Token": token},
        )
        assert ok.status_code == 202


def test_wrong_password_is_refused_and_throttled(service, login):
    from anibridge.app.web.throttle import LoginThrottle

    service.ctx.throttle = LoginThrottle(clock=lambda: 0.0)  # time stands still
    with httpx.Client(base_url=service.url, timeout=30) as client:
        codes = [login(client, "wrong").status_code for _ in range(6)]
        assert codes[:5] == [401] * 5
        assert codes[5] == 429
        assert "anibridge_session" not in client.cookies


def test_login_form_needs_its_csrf_cookie(service):
    with httpx.Client(base_url=service.url, timeout=30) as client:
        response = client.post(
            "/login",
            data={"username": "admin", "password": "x", "csrf_token": "forged"},
        )
        assert response.status_code == 403


def test_logout_ends_the_session(service, login, csrf):
    with httpx.Client(base_url=service.url, timeout=30) as client:
        login(client)
        token = csrf(client.get("/").text)
        assert client.post("/logout", data={"csrf_token": token}).status_code == 303
        assert client.get("/api/status").status_code == 401


def test_shutdown_ends_open_live_streams(service, token):
    import threading

    lines: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(timeout=60) as client,
            client.stream(
                "GET",
                service.url + "/api/events",
                headers={"Authorization": f"Bearer {token}"},
            ) as stream,
        ):
            for line in stream.iter_lines():
                lines.append(line)
                opened.set()

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert opened.wait(60)
    service.stop(timeout=60)
    reader.join(60)
    assert not reader.is_alive()  # the stream ended instead of holding shutdown
    assert not service._thread.is_alive()


def test_auth_off_on_loopback_still_needs_the_csrf_cookie(
    workspace, mapping_index, start
):
    server = start(workspace, mapping_index, auth=False)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/api/status").status_code == 200  # no login needed
            # Another site cannot post: it has neither the cookie nor the header.
            forged = client.post("/api/profiles/demo/sync", json={"dry_run": True})
            assert forged.status_code == 403
            page = client.get("/")
            assert page.status_code == 200
            token = page.text.split('name="csrf-token" content="', 1)[1].split('"')[0]
            assert client.cookies.get("anibridge_csrf") == token
            ok = client.post(
                "/api/profiles/demo/sync",
                json={"dry_run": True},
                headers={"X-CSRF-Token": token},
            )
            assert ok.status_code == 202
    finally:
        server.stop()


def test_session_cookie_flags(workspace, mapping_index, start, login, service):
    with httpx.Client(base_url=service.url, timeout=30) as client:
        cookie = login(client).headers["set-cookie"].lower()
        assert "anibridge_session=" in cookie
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert "secure" not in cookie  # plain HTTP on loopback: "auto" stays off
    server = start(workspace, mapping_index, secure_cookies=True)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"')[0]
            client.cookies.set("anibridge_csrf", token)
            answer = client.post(
                "/login",
                data={
                    "username": "admin",
                    "password": "correct horse battery staple",
                    "csrf_token": token,
                    "next": "/",
                },
            )
            assert answer.status_code == 303
            assert "secure" in answer.headers["set-cookie"].lower()
    finally:
        server.stop()


def test_readyz_reports_a_profile_that_cannot_start(
    tmp_path, mapping_index, start, make_ws
):
    config = make_ws(
        tmp_path / "broken",
        config=(
            "data_dir: data\nprofiles:\n  demo:\n"
            "    source: {type: local, name: library, "
            "config: {path: missing.sqlite, create: false}}\n"
            "    target: {type: local, name: list, config: {path: list.sqlite}}\n"
        ),
    )
    server = start(config, mapping_index)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["status"] == "unavailable"
            assert client.get("/livez").status_code == 200
        detail = server.ctx.backend.ready()[1]["demo"]
        assert "missing.sqlite" in detail["error"]
    finally:
        server.stop()


def test_flash_messages_only_from_the_service_itself(service, login):
    with httpx.Client(base_url=service.url, timeout=30) as client:
        login(client)
        forged = client.get(
            "/", params={"msg": "Session expired, log in at evil.example"}
        )
        assert "evil.example" not in forged.text
        signed = service.ctx.sign_flash("Settings saved")
        shown = client.get("/", params={"msg": "Settings saved", "sig": signed})
        assert '<div class="flash" role="status">Settings saved</div>' in shown.text


def test_password_change_ends_sessions(workspace, mapping_index, start, login, csrf):
    server = start(workspace, mapping_index, admin_password=None)
    try:
        generated = server.generated_password
        assert generated
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert login(client, generated).status_code == 303
            token = csrf(client.get("/settings").text)
            wrong = client.post(
                "/ui/password",
                data={
                    "csrf_token": token,
                    "current": "nope",
                    "new": "x" * 12,
                    "repeat": "x" * 12,
                },
            )
            assert "sig=" in wrong.headers["location"]
            assert client.get("/api/status").status_code == 200  # still signed in
            changed = client.post(
                "/ui/password",
                data={
                    "csrf_token": token,
                    "current": generated,
                    "new": "a much better one",
                    "repeat": "a much better one",
                },
            )
            assert changed.status_code == 303
            assert changed.headers["location"].endswith("/login")
            assert client.get("/api/status").status_code == 401  # session ended
            assert login(client, generated).status_code == 401
            assert login(client, "a much better one").status_code == 303
    finally:
        server.stop()
