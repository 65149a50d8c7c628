"""Browsers get error pages in the app's layout; API clients keep getting JSON."""

from __future__ import annotations

import httpx
import pytest
from starlette.requests import Request

from anibridge.app.web.errors import wants_html

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


def _request(accept: str | None) -> Request:
    headers = [] if accept is None else [(b"accept", accept.encode())]
    return Request({"type": "http", "headers": headers, "method": "GET", "path": "/"})


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("text/html", True),
        ("application/json", False),
        ("*/*", False),
        (None, False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.9, application/json;q=0.5", True),
        ("text/html;q=0", False),
        ("application/json, text/html", False),  # a tie: the first one listed
    ],
)
def test_wants_html_follows_accept_qualities(accept, html):
    assert wants_html(_request(accept)) is html


@pytest.fixture
def browser(service, login):
    with httpx.Client(base_url=service.url, timeout=30, headers=HTML) as client:
        login(client)
        yield client


def _is_page(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html") and (
        "<!doctype html>" in response.text.lower()
    )


def test_unknown_page_is_an_html_404_for_a_browser_and_json_for_api(browser, api):
    page = browser.get("/no/such/page")
    assert page.status_code == 404
    assert _is_page(page)
    assert "Not found" in page.text
    assert 'href="/"' in page.text  # a way back, in the app's layout
    assert api.get("/no/such/page", headers=JSON).json() == {"detail": "Not Found"}


def test_unknown_profile_names_it_on_the_page(browser, api):
    page = browser.get("/timeline/nosuch")
    assert page.status_code == 404
    assert _is_page(page)
    assert "unknown profile &#39;nosuch&#39;" in page.text
    api_answer = api.get("/api/profiles/nosuch/runs", headers=JSON)
    assert api_answer.status_code == 404
    assert api_answer.json() == {"detail": "unknown profile 'nosuch'"}


def test_csrf_refusal_is_an_html_403_for_a_browser(browser, service):
    page = browser.post("/ui/profiles/demo/sync", data={"mode": "full"})
    assert page.status_code == 403
    assert _is_page(page)
    assert "missing or wrong CSRF token" in page.text
    assert "reload the page" in page.text
    with httpx.Client(base_url=service.url, timeout=30) as client:
        _login_cookies = browser.cookies
        client.cookies.update(_login_cookies)
        answer = client.post("/ui/profiles/demo/sync", data={"mode": "full"})
        assert answer.status_code == 403
        assert answer.json() == {"detail": "missing or wrong CSRF token"}


def test_validation_error_lists_each_problem_where_it_is(browser, api):
    page = browser.get("/timeline/demo", params={"limit": "lots"})
    assert page.status_code == 422
    assert _is_page(page)
    assert "query.limit: " in page.text
    answer = api.get("/timeline/demo", params={"limit": "lots"}, headers=JSON)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "limit"]


def test_a_crash_is_a_500_page_without_the_traceback(browser, api, service, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("secret internals 1f2e3d")

    service.ctx.backend.history_page = broken
    page = browser.get("/timeline/demo")
    assert page.status_code == 500
    assert _is_page(page)
    assert "Something went wrong" in page.text
    assert "1f2e3d" not in page.text and "Traceback" not in page.text
    answer = api.get("/api/profiles/demo/history", headers=JSON)
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error"}
    assert "1f2e3d" not in answer.text


def test_anonymous_browser_still_gets_the_login_page(service):
    with httpx.Client(base_url=service.url, timeout=30, headers=HTML) as client:
        page = client.get("/timeline/demo")
    assert page.status_code == 401
    assert 'name="password"' in page.text
