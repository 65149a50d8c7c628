"""Against the real server: concurrent guessing, spoofed forwarding, DNS rebinding."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import httpx
import pytest

from anibridge.app.web.server import uvicorn_config
from anibridge.app.web.settings import UnsafeBindError, WebSettings
from anibridge.app.web.throttle import LoginThrottle


def run(coro):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class Frozen:
    """The throttle's clock: time never passes unless a test moves it."""

    now = 0.0

    def __call__(self) -> float:
        return self.now


class Checks:
    """Counts real password checks (the scrypt work an attacker makes us do).

    The first checks are held until the other guesses have been answered, so all 40
    requests really are in flight together: a check-then-record throttle lets more
    than five through (then the gate opens at once), an atomic one answers the
    other 35 without a check (which opens the gate).
    """

    def __init__(self, server) -> None:
        self.calls: list[str] = []
        self.gate = threading.Event()
        self._lock = threading.Lock()
        original = server.ctx.auth.check_login

        def counted(username: str, password: str) -> bool:
            with self._lock:
                self.calls.append(password)
                if len(self.calls) > 5:
                    self.gate.set()
            self.gate.wait(60)
            return original(username, password)

        server.ctx.auth.check_login = counted
        server.ctx.throttle = LoginThrottle(clock=Frozen())


def form_token(client: httpx.Client | httpx.AsyncClient, page: httpx.Response) -> str:
    return page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


async def guess_concurrently(checks: Checks, url: str, n: int, headers_for):
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        page = await client.get("/login")
        token = form_token(client, page)
        tasks = [
            asyncio.create_task(
                client.post(
                    "/login",
                    data={
                        "username": "admin",
                        "password": f"guess-{i}",
                        "csrf_token": token,
                    },
                    headers=headers_for(i),
                )
            )
            for i in range(n)
        ]
        codes = []
        for done in asyncio.as_completed(tasks):
            codes.append((await done).status_code)
            if len(codes) >= n - 5:
                checks.gate.set()
    return codes


def right_password(url: str, password: str, *, headers=None, local=None) -> int:
    transport = httpx.HTTPTransport(local_address=local) if local else None
    with httpx.Client(
        base_url=url, timeout=30, transport=transport, headers=headers or {}
    ) as client:
        page = client.get("/login")
        answer = client.post(
            "/login",
            data={
                "username": "admin",
                "password": password,
                "csrf_token": form_token(client, page),
            },
        )
        return answer.status_code


def test_40_concurrent_wrong_passwords_reach_at_most_5_checks(service, password):
    checks = Checks(service)
    # Without trusted proxies, X-Forwarded-For is the client's own word: ignored.
    codes = run(
        guess_concurrently(
            checks, service.url, 40, lambda i: {"X-Forwarded-For": f"198.18.0.{i}"}
        )
    )
    assert len(checks.calls) <= 5, f"{len(checks.calls)} checks for 40 guesses"
    assert codes.count(429) >= 35 and set(codes) <= {401, 429}
    # Another client (a different loopback source address) still gets in at once.
    assert right_password(service.url, password, local="127.0.0.2") == 303


def test_behind_a_trusted_proxy_spoofed_hops_do_not_help(
    workspace, mapping_index, start, password
):
    server = start(workspace, mapping_index, trusted_proxies=("127.0.0.1",))
    try:
        checks = Checks(server)
        # The proxy (127.0.0.1 here) appends the real client; the attacker controls
        # only what comes before it and changes it on every attempt.
        codes = run(
            guess_concurrently(
                checks,
                server.url,
                40,
                lambda i: {"X-Forwarded-For": f"10.9.{i}.1, 203.0.113.50"},
            )
        )
        assert len(checks.calls) <= 5
        assert codes.count(429) >= 35
        ok = right_password(
            server.url, password, headers={"X-Forwarded-For": "198.51.100.7"}
        )
        assert ok == 303
        # The blocked client stays blocked, whichever address it claims first.
        again = right_password(
            server.url, password, headers={"X-Forwarded-For": "1.1.1.1, 203.0.113.50"}
        )
        assert again == 429
    finally:
        server.stop()


def test_uvicorn_never_trusts_forwarded_headers_itself(tmp_path):
    settings = WebSettings(data_dir=tmp_path, trusted_proxies=("10.0.0.5",))
    config = uvicorn_config(object(), settings)
    assert config.proxy_headers is False


def test_no_auth_behind_a_proxy_is_refused(tmp_path):
    with pytest.raises(UnsafeBindError, match="reverse proxy"):
        WebSettings(
            data_dir=tmp_path, auth=False, trusted_proxies=("10.0.0.5",)
        ).check()
    with pytest.raises(UnsafeBindError):
        WebSettings(
            data_dir=tmp_path, auth=False, public_url="https://ab.example"
        ).check()


REBOUND = {"Host": "evil.example"}


def _rebinding_is_refused(url: str, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=url, timeout=30, headers=headers) as client:
        for path in (
            "/",
            "/settings",
            "/api/status",
            "/api/config",
            "/livez",
            "/login",
        ):
            answer = client.get(path, headers=REBOUND)
            assert answer.status_code == 400, path
            assert "web.allowed_hosts" in answer.text
            assert "csrf" not in answer.text.lower()
        hook = client.post("/webhook/library/x", headers=REBOUND, content=b"{}")
        assert hook.status_code == 400
        post = client.post(
            "/api/profiles/demo/sync", headers=REBOUND, json={"dry_run": True}
        )
        assert post.status_code == 400
        # The names the service does answer to.
        for host in ("localhost", "127.0.0.1", "[::1]"):
            port = url.rsplit(":", 1)[1].split("/")[0]
            ok = client.get("/livez", headers={"Host": f"{host}:{port}"})
            assert ok.status_code == 200, host


def test_rebinding_is_refused_with_auth_on(service, token):
    _rebinding_is_refused(service.url, {"Authorization": f"Bearer {token}"})


def test_rebinding_is_refused_with_auth_off(workspace, mapping_index, start):
    server = start(workspace, mapping_index, auth=False)
    try:
        _rebinding_is_refused(server.url, {})
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/api/status").status_code == 200
            # A page on another local port is another site: its Origin is refused
            # even with the double-submit token it might have planted.
            page = client.get("/")
            token = page.text.split('name="csrf-token" content="', 1)[1].split('"')[0]
            other = client.post(
                "/api/profiles/demo/sync",
                json={"dry_run": True},
                headers={"X-CSRF-Token": token, "Origin": "http://127.0.0.1:3000"},
            )
            assert other.status_code == 403
    finally:
        server.stop()


def test_allowed_hosts_and_public_url_are_answered(workspace, mapping_index, start):
    server = start(
        workspace,
        mapping_index,
        allowed_hosts=("*.home.arpa",),
        public_url="https://anibridge.example.com",
    )
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for host in ("nas.home.arpa", "anibridge.example.com"):
                assert client.get("/livez", headers={"Host": host}).status_code == 200
            assert client.get("/livez", headers=REBOUND).status_code == 400
            token = server.ctx.auth.create_token("t")[1]
            hooks = client.get(
                "/api/webhooks", headers={"Authorization": f"Bearer {token}"}
            ).json()
            assert hooks[0]["url"].startswith("https://anibridge.example.com/webhook/")
    finally:
        server.stop()


def test_https_behind_a_trusted_proxy_sets_secure_cookies(
    workspace, mapping_index, start
):
    server = start(workspace, mapping_index, trusted_proxies=("127.0.0.1",))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            page = client.get("/login", headers={"X-Forwarded-Proto": "https"})
            assert "secure" in page.headers["set-cookie"].lower()
            plain = httpx.get(server.url + "/login")
            assert "secure" not in plain.headers["set-cookie"].lower()
    finally:
        server.stop()
    untrusted = start(workspace, mapping_index)
    try:
        page = httpx.get(
            untrusted.url + "/login", headers={"X-Forwarded-Proto": "https"}
        )
        assert "secure" not in page.headers["set-cookie"].lower()
    finally:
        untrusted.stop()


def test_no_route_reads_an_unbounded_body(service):
    import socket

    host, port = service.url.removeprefix("http://").split(":")
    for path in ("/login", "/api/config", "/webhook/library/x"):
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(
                f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Content-Length: 1000000000\r\nConnection: close\r\n\r\n".encode()
            )
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:80])
