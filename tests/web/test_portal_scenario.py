"""The portal's whole story in one browser, against tDoc's real API on loopback with the
network cut off: an admin creates a key in the UI, the key's holder calls the API from
the console, is refused and reads why, simulates a call, finds a call made with curl
from elsewhere in the key's history with its explanation; the admin revokes the key in
the UI and the next call fails. Screenshots go under the test run's temporary output."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from policyengine.engine import Engine
from portal.app import create_app

from .browser import Guard, new_page, screenshot
from .conftest import ROOT, Served, built_docs

pytestmark = pytest.mark.browser

SECRET = "portal-scenario-hashing-secret-0123456789abcdef"


@dataclass
class Portal:
    url: str
    engine: Engine
    admin: str
    shots: Path


@pytest.fixture
def portal(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    store = f"sqlite:///{tmp_path / 'tdoc.db'}"
    engine = Engine.from_directory(
        ROOT / "policies",
        environment="test",
        store=store,
        secret=SECRET,
        maintenance_interval=None,
        handle_signals=False,
    )
    admin = engine.keys.create(type="full-access", label="admin", environment="test")
    app = create_app(engine, store=store, docs=built_docs(tmp_path / "docs"))
    with Served(app) as served:
        yield Portal(served.url, engine, admin.secret, tmp_path_factory.mktemp("screenshots"))


@pytest.fixture
def guard() -> Iterator[Guard]:
    guard = Guard()
    yield guard
    guard.check()


def call(portal: Portal, secret: str, request_id: str) -> httpx.Response:
    """A call from outside the browser, as curl or any SDK would make it."""
    headers = {"Authorization": f"Bearer {secret}", "X-Request-ID": request_id}
    return httpx.get(f"{portal.url}/v1/events", headers=headers, timeout=10)


def console_send(page: Any, operation: str) -> None:
    page.select_option("#operation", operation)
    page.click("#send")
    page.locator("#decision .explanation").wait_for(timeout=15000)


def test_create_call_explain_simulate_find_and_revoke_a_key_in_the_portal(
    browser: Any, portal: Portal, guard: Guard
) -> None:
    page = new_page(browser, guard)
    page.goto(portal.url + "/reference")
    page.locator("#search").wait_for()
    screenshot(page, "reference", portal.shots)

    # The admin creates a read-only key; its secret is shown once.
    page.goto(portal.url + "/keys")
    page.fill("#admin-key-input", portal.admin)
    page.locator("#admin-key button[type=submit]").click()
    page.select_option("#new-type", "read-only")
    page.fill("#new-label", "browser scenario")
    page.locator("#create-key button[type=submit]").click()
    page.locator("#created").wait_for(state="visible")
    secret = page.locator("#created-secret").inner_text()
    assert secret.startswith("tdoc_test_")
    key_page = page.get_attribute("#created-link", "href")
    assert key_page is not None
    key_id = key_page.rsplit("/", 1)[1]
    page.click("#use-created")

    # The holder writes an event from the console: refused, and told why.
    page.goto(portal.url + "/console")
    assert page.input_value("#console-key") == secret
    console_send(page, "create_event_v1_events_post")
    assert page.locator("#response-status").inner_text().startswith("403")
    decision = page.locator("#decision").inner_text()
    assert "Denied: INSUFFICIENT_SCOPE (403)" in decision
    assert "no scope of this read-only key grants events:write" in decision
    assert f"{key_id} — type read-only, test environment" in decision
    page.locator("#decision-section").scroll_into_view_if_needed()
    screenshot(page, "console-denial", portal.shots)

    # Simulating a read explains it allowed, names what let it in, and runs nothing.
    page.select_option("#operation", "list_events_v1_events_get")
    page.click("#simulate")
    page.locator("#console-status", has_text="Simulated").wait_for()
    simulated = page.locator("#decision").inner_text()
    assert "Allowed — simulated, nothing was executed or counted" in simulated
    assert "the scopes of key type 'read-only' — policies/key_types.yaml:" in simulated

    # A call from elsewhere is in the key's history, with its explanation.
    assert call(portal, secret, "curl-from-elsewhere").status_code == 200
    assert portal.engine.monitor.flush(10)
    page.goto(portal.url + "/calls")
    row = page.locator('tr[data-request-id="curl-from-elsewhere"]')
    row.wait_for()
    assert "GET /v1/events" in row.inner_text()
    row.get_by_role("button", name="Explain").click()
    explained = page.locator("tr.detail:not([hidden]) .explanation")
    explained.wait_for()
    assert "✓ Allowed" in explained.inner_text()
    assert "curl-from-elsewhere" in explained.inner_text()
    # Its support link shows the explanation again, and holds no secret.
    link = f"{portal.url}/calls?request_id=curl-from-elsewhere"
    assert secret not in link
    page.goto(link)
    page.locator("#one-call-body .explanation").wait_for()

    # The admin sees the key's usage, then revokes it (after confirming).
    page.goto(portal.url + key_page)
    page.locator("#usage-status", has_text="allowed").wait_for()
    # The console's look-ups of explanations are calls of the key too: at least two allowed.
    usage = page.locator("#usage-status").inner_text()
    assert usage.endswith(" allowed, 1 denied.")
    assert int(usage.split()[0]) >= 2
    page.locator("#usage-title").scroll_into_view_if_needed()
    screenshot(page, "key-usage", portal.shots)
    page.click("#revoke")
    page.click("#confirm-ok")
    page.locator("#key-page-status", has_text="Revoked").wait_for()
    assert "revoked" in page.locator("#key-details").inner_text()

    # The next call fails, from the console and from anywhere else.
    page.goto(portal.url + "/console")
    page.select_option("#operation", "list_events_v1_events_get")
    page.click("#send")
    page.locator("#response-status").wait_for()
    page.locator("#response-status", has_text="401").wait_for()
    refused = call(portal, secret, "after-revocation")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "REVOKED"
    page.context.close()

    dark = new_page(browser, guard, color_scheme="dark")
    dark.goto(portal.url + "/reference")
    assert dark.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(15, 19, 24)"
    screenshot(dark, "dark-mode", portal.shots)
    dark.context.close()
    assert sorted(p.name for p in portal.shots.iterdir()) == [
        "console-denial.png",
        "dark-mode.png",
        "key-usage.png",
        "reference.png",
    ]
