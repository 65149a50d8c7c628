# ruff: noqa: RUF001
"""The web UI in real headless Chromium: log in, preview, approve part, apply, undo.

Debian's ``chromium`` is installed when missing (we are root in CI); if that fails
the tests fail loudly instead of skipping. With ``ANIBRIDGE_TEST_SCREENSHOTS=1``
full-page screenshots of every step land in ``test-artifacts/web/`` (gitignored) for
people to look at; they prove nothing (no test compares them), and the ~60 PNGs
cost Chromium about 7 CPU-s, so a plain run takes none.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "web"
SCREENSHOTS = os.environ.get("ANIBRIDGE_TEST_SCREENSHOTS", "") not in ("", "0")

pytestmark = pytest.mark.browser


def ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if shutil.which("apt-get") is None:
        pytest.fail("Chromium is missing and apt-get is not available to install it")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            step = " ".join(command)
            pytest.fail(f"installing Chromium failed ({step}):\n{done.stderr[-2000:]}")
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} does not exist")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # One browser for all browser tests (they live in this module). Module scope
    # also ends Playwright's event loop before other modules run asyncio code.
    from playwright.sync_api import expect, sync_playwright

    # Waits end on a selector, never on time; the generous ceiling only matters
    # when the shared machine is busy (a preview then takes seconds).
    expect.set_options(timeout=20_000)
    ensure_chromium()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if msg.type == "error" else None,
    )
    page.on("dialog", lambda dialog: dialog.accept())
    yield page
    context.close()
    # The login page is served with 401 and a wrong password answers 401; a form
    # sent back with its problems (overrides that do not load) answers 422.
    expected = ("status of 401", "status of 422")
    real = [e for e in errors if not any(x in e for x in expected)]
    assert real == [], f"browser errors: {real}"


def shot(page, name: str) -> None:
    """A full-page screenshot, when asked for (module docstring)."""
    if SCREENSHOTS:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_login_preview_approve_part_apply_and_undo(demo_service, page, password):
    from playwright.sync_api import expect

    service = demo_service
    page.goto(service.url + "/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    shot(page, "00-login")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong username or password")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()

    # Dashboard: the demo profile with its providers.
    card = page.locator('.profile[data-profile="demo"]')
    expect(card).to_be_visible()
    expect(card).to_contain_text("Local file")
    expect(page.locator("#live")).to_have_class("live on")  # SSE connected
    shot(page, "01-dashboard")

    # Dry run → plan review; approve only three changes.
    card.get_by_role("button", name="Preview changes").click()
    expect(page.get_by_role("heading", name="Review changes")).to_be_visible()
    rows = page.locator("tr.action")
    total = rows.count()
    assert total > 3
    page.get_by_label("Select all").uncheck()
    expect(page.locator("[data-selected-count]")).to_have_text(f"0 of {total} selected")
    expect(page.get_by_role("button", name="Apply selected")).to_be_disabled()
    chosen = []
    for i in range(3):
        row = rows.nth(i)
        row.get_by_role("checkbox").check()
        chosen.append(row.get_attribute("data-action-id"))
    expect(page.locator("[data-selected-count]")).to_have_text(f"3 of {total} selected")
    shot(page, "02-plan-review")
    page.get_by_role("button", name="Apply selected").click()

    # Timeline: exactly the three approved changes were applied.
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.locator(".flash")).to_contain_text("Applied 3 action(s): ok")
    events = page.locator("li.event")
    expect(events).to_have_count(3)
    expect(page.locator("li.event.applied")).to_have_count(3)
    shown = sorted(events.nth(i).get_attribute("data-action-id") for i in range(3))
    assert shown == sorted(chosen)
    shot(page, "03-timeline-applied")

    # Undo one of them.
    target = events.nth(0)
    undone_id = target.get_attribute("data-action-id")
    title = target.locator("strong").first.inner_text()
    target.get_by_role("button", name="Undo").click()
    expect(page.locator(".flash")).to_contain_text("Undo: ok")
    expect(page.locator("li.event")).to_have_count(4)
    undo_row = page.locator("li.event.revert")
    expect(undo_row).to_contain_text(title)
    expect(undo_row).to_contain_text("reverts change")
    expect(
        page.locator(f'li.event.undone[data-action-id="{undone_id}"]')
    ).to_be_visible()
    shot(page, "04-timeline-undone")

    # The API agrees with the page.
    history = page.request.get(service.url + "/api/profiles/demo/history").json()
    assert [r["undoes"] for r in history if r["undoes"]] == [undone_id]


def test_other_pages_render(service, page, password):
    from playwright.sync_api import expect

    page.goto(service.url + "/login")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator(".profile")).to_have_count(1)

    page.locator('.profile[data-profile="demo"]').get_by_role(
        "button", name="Preview changes"
    ).click()
    poster = page.locator("tr.action", has_text="One Piece").locator("img.poster")
    expect(poster).to_be_visible()  # from the ARTWORK facet (borrowed from source)
    assert poster.evaluate("img => img.naturalWidth") > 0
    shot(page, "09-plan-artwork")

    page.goto(service.url + "/mappings")
    page.get_by_label("Search mappings").fill("81797")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="tvdb_show:81797:s1", exact=True).click()
    expect(page.locator("table.mapping")).to_contain_text("anilist:21")
    page.goto(service.url + "/mappings?descriptor=anilist:21")
    expect(page.locator("table.mapping")).to_contain_text("tvdb_show:81797")
    shot(page, "05-mappings")

    page.goto(service.url + "/settings")
    page.get_by_label("Token name").fill("browser-test")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("code.secret").first).to_contain_text("abt_")
    expect(page.get_by_role("cell", name="library", exact=True)).to_be_visible()
    shot(page, "06-settings")

    page.goto(service.url + "/backups")
    expect(page.get_by_role("heading", name="Backups")).to_be_visible()
    shot(page, "07-backups")

    page.goto(service.url + "/logs")
    expect(page.locator("#logs")).to_contain_text("service started")
    shot(page, "08-logs")


def sign_in(page, url: str, password: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def preview(page) -> None:
    from playwright.sync_api import expect

    page.locator('.profile[data-profile="demo"]').get_by_role(
        "button", name="Preview changes"
    ).click()
    expect(page.get_by_role("heading", name="Review changes")).to_be_visible()


def test_timeline_pages_filters_and_undoes_a_whole_run(demo_service, page, password):
    from playwright.sync_api import expect

    url = demo_service.url
    sign_in(page, url, password)
    preview(page)
    total = page.locator("tr.action").count()
    page.get_by_role("button", name="Apply selected").click()
    expect(page.locator(".flash")).to_contain_text(f"Applied {total} action(s): ok")

    # Cursor pages: every change once, in order, no silent cap.
    page.goto(url + "/timeline/demo?limit=20")
    seen: list[str] = []
    while True:
        events = page.locator("li.event")
        expect(events.first).to_be_visible()
        seen += [
            events.nth(i).get_attribute("data-action-id") for i in range(events.count())
        ]
        older = page.get_by_role("link", name="Older →")
        if older.count() == 0:
            break
        older.click()
    assert len(seen) == total == len(set(seen))
    expect(page.get_by_role("link", name="← Newest")).to_be_visible()

    # Filters: new entries, a field, a title search.
    page.goto(url + "/timeline/demo")
    page.get_by_label("Change", exact=True).select_option("new")
    page.get_by_role("button", name="Filter").click()
    new = page.locator("li.event")
    expect(new.first).to_be_visible()
    assert 0 < new.count() < total
    expect(page.locator("li.event .badge.applied")).to_have_count(new.count())
    page.get_by_label("Change", exact=True).select_option("update")
    page.get_by_label("Field", exact=True).select_option("progress")
    page.get_by_label("Search", exact=True).fill("naruto")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("li.event")).to_have_count(1)  # not the new Shippuden entry
    expect(page.locator("li.event")).to_contain_text("Naruto")
    expect(page.locator("li.event")).to_contain_text("progress")
    shot(page, "10-timeline-filtered")

    # Run-level undo: the confirmation lists every change, then one click reverts.
    page.get_by_role("link", name="Clear").click()
    page.locator("details.runs summary").click()
    page.get_by_role("link", name="Undo run").click()
    expect(page.get_by_role("heading", name="Undo run")).to_be_visible()
    expect(page.locator(".undo-preview tr.action")).to_have_count(total)
    shot(page, "11-undo-run-confirm")
    page.get_by_role("button", name=f"Undo {total} change(s)").click()
    expect(page.locator(".flash")).to_contain_text("Undo run")
    expect(page.locator(".flash")).to_contain_text(": ok")
    page.goto(url + f"/timeline/demo?outcome=undone&limit={total}")
    expect(page.locator("li.event.undone")).to_have_count(total)
    page.locator("details.runs summary").click()
    expect(page.locator("tr.run .badge.undone")).to_have_count(1)


def test_apply_part_then_the_rest_and_fix_an_unmatched_title(
    demo_service, page, password
):
    from playwright.sync_api import expect

    url = demo_service.url
    sign_in(page, url, password)
    preview(page)
    total = page.locator("tr.action").count()
    plan_url = page.url

    # Filter to new entries named "Dragon Ball", approve just those.
    page.get_by_label("Change", exact=True).select_option("new")
    page.get_by_label("Search", exact=True).fill("dragon ball")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tr.action")
    expect(rows.first).to_be_visible()
    part = rows.count()
    assert 1 < part < total
    page.get_by_role("button", name="Apply selected").click()
    expect(page.locator(".flash")).to_contain_text(f"Applied {part} action(s): ok")

    # The plan now says which were applied; "Apply the rest" does the others.
    page.goto(plan_url)
    expect(page.locator("[data-plan-status]")).to_have_text("partial")
    expect(page.locator("[data-applied-count]")).to_contain_text(
        f"{part} of {total} applied"
    )
    expect(page.locator('tr.action[data-outcome="applied"]')).to_have_count(part)
    shot(page, "12-plan-partial")
    page.get_by_role("button", name=f"Apply the rest ({total - part})").click()
    expect(page.locator(".flash")).to_contain_text(
        f"Applied {total - part} more action(s): ok"
    )
    expect(page.locator("[data-plan-status]")).to_have_text("applied")
    expect(page.locator('tr.action[data-outcome="applied"]')).to_have_count(total)

    # Unmatched: Haruhi has no AniList mapping; find it by title and fix it.
    page.get_by_role("link", name="Unmatched · demo").click()
    expect(page.get_by_role("heading", name="Unmatched and skipped")).to_be_visible()
    page.get_by_label("Search", exact=True).fill("haruhi")
    page.get_by_role("button", name="Filter").click()
    item = page.locator("li.skip.unmatched")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("The Melancholy of Haruhi Suzumiya")
    expect(item).to_contain_text("no mapping to anilist")
    item.get_by_text("Fix mapping").click()
    expect(item.get_by_label("Source id")).to_have_value("tvdb_show:79414:s1")
    item.get_by_label("Target id").fill("anilist:849")
    shot(page, "13-unmatched-fix")
    item.get_by_role("button", name="Save and re-plan").click()

    # The new preview shows the title matched, with its change.
    expect(page.locator(".flash")).to_contain_text(
        "The Melancholy of Haruhi Suzumiya now matched"
    )
    expect(page.locator("tr.action")).to_have_count(1)
    expect(page.locator("tr.action")).to_contain_text(
        "The Melancholy of Haruhi Suzumiya"
    )
    page.get_by_role("link", name="Unmatched · demo").click()
    expect(page.locator(".fixed")).to_contain_text("The Melancholy of Haruhi Suzumiya")
    expect(page.locator("li.skip.unmatched")).to_have_count(0)


def test_mappings_search_by_title_and_edit_overrides(demo_service, page, password):
    from playwright.sync_api import expect

    url = demo_service.url
    sign_in(page, url, password)
    preview(page)  # titles come from what the providers returned

    page.goto(url + "/mappings")
    editor = page.get_by_label("Custom mappings")
    expect(editor).to_have_value(re.compile(r"^# Your mapping overrides"))
    page.get_by_label("Search mappings").fill("naruto")
    page.get_by_role("button", name="Search").click()
    hit = page.locator('article.hit[data-title="Naruto"]').first
    expect(hit).to_be_visible()
    season = hit.locator('.id[data-descriptor="tvdb_show:78857:s1"]')
    expect(season).to_contain_text("TVDB 78857 S1")
    expect(season.locator("ul.ranges").first).to_contain_text(
        "S1 E1–35 → AniList 20 E1–35"
    )
    shot(page, "14-mappings-title")

    # Haruhi's season maps to nothing usable: add an override right there.
    page.get_by_label("Search mappings").fill("haruhi")
    page.get_by_role("button", name="Search").click()
    haruhi = page.locator('.id[data-descriptor="tvdb_show:79414:s1"]').first
    expect(haruhi).to_contain_text("(disabled)")
    haruhi.get_by_text("Add an override").click()
    haruhi.get_by_label("Target id").fill("anilist:849")
    haruhi.get_by_label("Source episodes").fill("1-14")
    haruhi.get_by_label("Target episodes").fill("1-14")
    haruhi.get_by_role("button", name="Save override").click()
    expect(page.locator(".flash")).to_contain_text(
        "Override saved: TVDB 79414 S1 → AniList 849"
    )
    edge = page.locator('.lookup tr.edge[data-target="anilist:849"]')
    expect(edge).to_contain_text("S1 E1–14 → AniList 849 E1–14")
    expect(edge).to_contain_text("your overrides")
    saved = page.get_by_label("Custom mappings").input_value()
    assert saved.startswith("# Your mapping overrides")  # the example's comments
    assert "# TVDB 79414 S1: added from the Mappings page\ntvdb_show:79414:s1:" in saved

    # A mistake typed into the editor shows with its line; the link selects it.
    editor = page.get_by_label("Custom mappings")
    editor.fill(saved + "tvdb_show:1:s1:\n  anilist:1:\n    '1-x': '1'\n")
    bad_line = len(saved.splitlines()) + 3
    page.get_by_role("button", name="Save").click()
    problem = page.locator("ul.problems li")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text(
        f"line {bad_line}: tvdb_show:1:s1 → anilist:1 ['1-x']"
    )
    shot(page, "15-mappings-problem")
    problem.get_by_role("link", name=f"line {bad_line}").click()
    selected = page.get_by_label("Custom mappings").evaluate(
        "a => a.value.slice(a.selectionStart, a.selectionEnd)"
    )
    assert selected == "    '1-x': '1'"

    # Fixed and saved: every comment stays, the new mapping is live.
    page.get_by_label("Custom mappings").fill(
        saved + "# mine\ntvdb_show:1:s1:\n  anilist:1:\n    '1-12': '1-12'\n"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".flash")).to_contain_text("Custom mappings saved")
    expect(page.get_by_label("Custom mappings")).to_have_value(
        saved + "# mine\ntvdb_show:1:s1:\n  anilist:1:\n    '1-12': '1-12'\n"
    )
    page.get_by_label("Search mappings").fill("tvdb_show:1:s1")
    page.get_by_role("button", name="Search").click()
    expect(page.locator('tr.edge[data-target="anilist:1"]')).to_contain_text(
        "S1 E1–12 → AniList 1 E1–12"
    )


MOBILE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}
DARK_BG = "rgb(15, 17, 23)"  # --bg of the dark scheme (app.css)


def test_mobile_navigation_collapses_behind_a_menu(demo_service, browser, password):
    from playwright.sync_api import expect

    context = browser.new_context(viewport=MOBILE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, demo_service.url, password)
    preview(page)  # a phone reviews a plan too: rows reflow, nothing sticks out
    expect(page.locator("tr.action").first.locator("td.pick input")).to_be_visible()
    assert _overflow(page) == 0
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-expanded", "false")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Mappings")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(nav.get_by_role("link", name="Mappings")).to_be_visible()
    page.keyboard.press("Escape")
    expect(nav.get_by_role("link", name="Mappings")).to_be_hidden()
    expect(menu).to_be_focused()
    menu.click()
    expect(nav.get_by_role("link", name="Mappings")).to_be_visible()
    shot(page, "16-mobile-menu-open")
    nav.get_by_role("link", name="Unmatched · demo").click()
    expect(page.get_by_role("heading", name="Unmatched and skipped")).to_be_visible()
    expect(nav.get_by_role("link", name="Mappings")).to_be_hidden()  # closed again
    item = page.locator("li.skip.unmatched").first
    item.get_by_text("Fix mapping").click()
    expect(item.get_by_label("Target id")).to_be_visible()
    assert _overflow(page) == 0
    shot(page, "17-mobile-unmatched-fix")
    menu = page.get_by_role("button", name="Menu")
    menu.click()
    nav.get_by_role("link", name="Dashboard").click()
    expect(page.locator(".profile")).to_have_count(1)
    assert _overflow(page) == 0
    context.close()
    # On a wide screen there is no menu button: the links are just there.
    wide = browser.new_context(viewport=DESKTOP)
    page = wide.new_page()
    sign_in(page, demo_service.url, password)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Mappings")
    ).to_be_visible()
    wide.close()
    assert errors == []


_COLORS = """el => {
  const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 4).map(Number);
  const fill = (e) => rgb(getComputedStyle(e).backgroundColor);
  let bg = el;
  while (bg && fill(bg)[3] === 0) bg = bg.parentElement;
  return [rgb(getComputedStyle(el).color), fill(bg || document.body)];
}"""


def _contrast(page, selector: str) -> float:
    """WCAG contrast ratio of an element's text on the background behind it."""

    def luminance(rgb) -> float:
        def channel(c: float) -> float:
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(c) for c in rgb[:3])
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    fg, bg = page.locator(selector).first.evaluate(_COLORS)
    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def _overflow(page) -> int:
    """How far the page is wider than the window (0: nothing sticks out)."""
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def test_every_main_page_at_phone_and_desktop_widths_in_light_and_dark(
    demo_service, browser, password
):
    from playwright.sync_api import expect

    url = demo_service.url
    setup = browser.new_context(viewport=DESKTOP)
    page = setup.new_page()
    sign_in(page, url, password)
    preview(page)
    plan_url = page.url
    page.get_by_label("Search", exact=True).fill("dragon ball")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("button", name="Apply selected").click()
    expect(page.locator(".flash")).to_contain_text("action(s): ok")
    run_id = page.locator("li.event").first.get_attribute("data-run-id")

    pages = {
        "dashboard": ("/", "Dashboard"),
        # Pages of 20 (the pager shows): phone screenshots of 46 rows are slow.
        "plan": (plan_url.removeprefix(url) + "?limit=20", "Review changes"),
        "timeline": ("/timeline/demo", "Timeline"),
        "undo-run": (f"/timeline/demo/runs/{run_id}/undo", "Undo run"),
        "unmatched": ("/unmatched/demo", "Unmatched and skipped"),
        "mappings": ("/mappings?q=bebop", "Mappings"),
        "backups": ("/backups", "Backups"),
        "logs": ("/logs", "Logs"),
        "settings": ("/settings", "Settings"),
        "progress": ("/progress/demo", "· demo"),  # the finished apply, live
        "not-found": ("/plans/no-such-plan", None),
    }
    # The signed-in page and a signed-out one, each reused across the four looks: a
    # viewport and a colour scheme set on a page apply to every page loaded after,
    # as a new context's would (a context costs Chromium a renderer, ~0.5 CPU-s).
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    anon = browser.new_context(viewport=DESKTOP)
    login = anon.new_page()
    for scheme in ("light", "dark"):
        for name, viewport in (("390", MOBILE), ("1280", DESKTOP)):
            for each in (page, login):
                each.set_viewport_size(viewport)
                each.emulate_media(color_scheme=scheme)
            for key, (path, heading) in pages.items():
                page.goto(url + path)
                if heading:
                    expect(
                        page.get_by_role("heading", name=heading, exact=False).first
                    ).to_be_visible()
                else:
                    expect(page.get_by_role("alert")).to_contain_text("no-such-plan")
                background = page.evaluate(
                    "getComputedStyle(document.body).backgroundColor"
                )
                assert (background == DARK_BG) == (scheme == "dark"), (key, background)
                if viewport is MOBILE:
                    assert _overflow(page) == 0, f"{key} is wider than 390 px"
                if key == "dashboard" and name == "1280":  # readable in both schemes
                    for selector in (
                        "button.primary",
                        ".profile h2",
                        ".facts dt",
                        ".button.ghost",
                        ".badge.ok",
                        ".topbar nav a[aria-current]",
                    ):
                        ratio = _contrast(page, selector)
                        assert ratio >= 4.5, (scheme, selector, round(ratio, 2))
                if key == "logs":  # exact UTC, how long ago on hover
                    expect(page.locator("#logs time.exact").first).to_have_attribute(
                        "title", re.compile(r"^(just now|\d+ min ago) · ")
                    )
                if key == "timeline":  # relative, the exact local time on hover
                    when = page.locator("li.event time.ago").first
                    expect(when).to_have_text(re.compile(r"^(just now|\d+ min ago)$"))
                    expect(when).to_have_attribute(
                        "title", re.compile(r"\(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$")
                    )
                shot(page, f"page-{key}-{name}-{scheme}")
            assert errors == [], (scheme, name, errors)
            # The login page, signed out.
            login.goto(url + "/login")
            expect(login.get_by_role("button", name="Sign in")).to_be_visible()
            background = login.evaluate(
                "getComputedStyle(document.body).backgroundColor"
            )
            assert (background == DARK_BG) == (scheme == "dark"), ("login", background)
            if viewport is MOBILE:
                assert _overflow(login) == 0, "login is wider than 390 px"
            shot(login, f"page-login-{name}-{scheme}")
    anon.close()
    setup.close()
