"""In Chromium: Sync now answers at once and the page follows the run live (SSE)."""

from __future__ import annotations

import pytest
from test_browser import browser, page, shot  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.browser


def test_sync_now_shows_live_progress_then_the_result(service, page, password):  # noqa: F811
    from playwright.sync_api import expect

    page.goto(service.url + "/login")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    card = page.locator('.profile[data-profile="demo"]')
    card.get_by_role("button", name="Full sync").click()  # confirmed by the fixture
    expect(page).to_have_url(f"{service.url}/progress/demo?since=0")
    box = page.locator("#run-progress")
    # Filled in by the live stream (no reload): reads, writes, then the result.
    expect(box.get_by_role("heading", name="Result")).to_be_visible()
    expect(page.locator(".page-head h1")).to_have_text("Sync · demo")
    expect(box.locator("table.reads")).to_contain_text("library")
    expect(box.locator("progress")).to_have_attribute("value", "3")
    expect(box.locator(".badge").first).to_have_text("ok")
    expect(box.get_by_role("link", name="Timeline")).to_be_visible()
    shot(page, "10-sync-progress")
