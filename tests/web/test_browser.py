"""The portal in a real browser with the network cut off: every page accessible (axe-core),
the reference searchable and linkable, the theme and the sample language remembered,
the console keeping its key to the tab and to the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .browser import Guard, axe_violations, new_page, screenshot
from .conftest import Served

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/reference",
    "/console",
    "/calls",
    "/keys",
    "/keys/key_123",
    "/docs/",
    "/docs/keys.html",
    "/docs/policy-reference.html",
    "/docs/portal.html",
]


@pytest.fixture
def guard() -> Iterator[Guard]:
    guard = Guard()
    yield guard
    guard.check()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_is_accessible_and_stays_on_the_machine(
    browser: Any, served: Served, guard: Guard, scheme: str
) -> None:
    page = new_page(browser, guard, color_scheme=scheme)
    for path in PAGES:
        page.goto(served.url + path)
        page.wait_for_load_state("networkidle")
        assert axe_violations(page) == [], path
    page.context.close()


def test_reference_search_shortcut_filters_and_enter_jumps(
    browser: Any, served: Served, guard: Guard
) -> None:
    page = new_page(browser, guard)
    page.goto(served.url + "/reference")
    screenshot(page, "reference")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type("gadget")
    assert page.locator(".operation:visible").count() == 1
    assert page.locator("#search-count").inner_text() == "1 of 4 operations"
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#delete-gadget-v1-gadgets-id-delete"
    assert page.evaluate("document.activeElement.id") == "delete-gadget-v1-gadgets-id-delete-title"
    page.focus("#search")
    page.keyboard.press("Escape")
    assert page.locator(".operation:visible").count() == 4
    page.keyboard.press("Control+k")
    assert page.evaluate("document.activeElement.id") == "search"
    page.keyboard.type("nothing-like-this")
    assert page.locator("#no-results").is_visible()
    page.context.close()


def test_a_parameter_permalink_lands_on_the_parameter(
    browser: Any, served: Served, guard: Guard
) -> None:
    page = new_page(browser, guard)
    page.goto(served.url + "/reference#list-widgets-v1-widgets-get--query-limit")
    row = page.locator("tr:target")
    assert row.count() == 1
    assert "How many" in row.inner_text()
    assert row.is_visible()
    page.context.close()


def test_dark_mode_follows_the_system_and_a_choice_is_remembered(
    browser: Any, served: Served, guard: Guard
) -> None:
    page = new_page(browser, guard, color_scheme="dark")
    page.goto(served.url + "/")
    background = "getComputedStyle(document.body).backgroundColor"
    assert page.evaluate(background) == "rgb(15, 19, 24)"
    assert page.get_attribute("#theme-toggle", "aria-pressed") == "true"
    page.click("#theme-toggle")
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    page.goto(served.url + "/reference")
    assert page.evaluate(background) == "rgb(255, 255, 255)"
    page.click("#theme-toggle")
    page.reload()
    assert page.evaluate(background) == "rgb(15, 19, 24)"
    screenshot(page, "dark-mode")
    page.context.close()


def test_the_sample_language_is_remembered_across_pages(
    browser: Any, served: Served, guard: Guard
) -> None:
    page = new_page(browser, guard)
    page.goto(served.url + "/reference")
    page.locator('[role=tab][data-lang="go"]').first.click()
    assert page.locator('[role=tabpanel][data-lang="go"]:visible').count() == 4
    page.locator('[role=tab][data-lang="go"]').nth(1).press("ArrowRight")
    assert page.evaluate("document.activeElement.dataset.lang") == "ruby"
    page.goto(served.url + "/console?op=list_widgets_v1_widgets_get")
    panel = page.locator('#console-samples [role=tabpanel][data-lang="ruby"]')
    panel.wait_for()
    assert panel.is_visible()
    assert "Net::HTTP::Get.new(uri)" in panel.inner_text()
    page.context.close()


def test_keyboard_users_see_where_they_are(browser: Any, served: Served, guard: Guard) -> None:
    page = new_page(browser, guard)
    page.goto(served.url + "/reference")
    page.keyboard.press("Tab")
    focused = page.evaluate(
        "[document.activeElement.className, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["skip", "solid"]
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#content"
    page.context.close()


def test_pages_fit_a_phone(browser: Any, served: Served, guard: Guard) -> None:
    page = new_page(browser, guard, viewport={"width": 390, "height": 844}, is_mobile=True)
    for path in ("/", "/reference", "/console", "/keys"):
        page.goto(served.url + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path
    page.context.close()


def test_console_keeps_the_key_in_the_tab_and_sends_it_only_to_the_api(
    browser: Any, served: Served, guard: Guard
) -> None:
    page = new_page(browser, guard)
    page.goto(served.url + "/console?op=get_widget_v1_widgets__id__get")
    assert page.input_value("#param-path-id") == "w1"
    page.fill("#console-key", "sample_test_secret_value")
    page.click("#send")
    page.locator("#response-status").wait_for()
    assert page.locator("#response-status").inner_text().startswith("200")
    assert '"id": "w1"' in page.locator("#response-body").inner_text()
    stored = page.evaluate("[sessionStorage.getItem('tdoc.key'), JSON.stringify(localStorage)]")
    assert stored[0] == "sample_test_secret_value"
    assert "sample_test_secret_value" not in stored[1]
    with_key = [s["url"] for s in guard.sent if s["headers"].get("authorization")]
    assert with_key
    assert all("/v1/" in url for url in with_key), with_key
    page.context.close()
