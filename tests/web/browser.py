"""Debian's Chromium, driven by Playwright, with the network cut off: any request to an
address other than loopback is refused and recorded, and the test that made it fails."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("POLICYENGINE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Below the page too: no name but loopback resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
#: Where the screenshots of a test run go.
OUTPUT = Path(
    os.environ.get(
        "PORTAL_TEST_OUTPUT", Path(__file__).resolve().parents[2] / "test-output" / "portal"
    )
)


def launch_browser() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"the browser tests need Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    playwright = sync_api.sync_playwright().start()
    return playwright, playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


@dataclass
class Guard:
    """Every request a page made that left the machine, and every page error."""

    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    def route(self, route: Any) -> None:
        request = route.request
        host = urlsplit(request.url).hostname or ""
        if urlsplit(request.url).scheme in ("data", "blob"):
            route.continue_()
            return
        if host not in LOOPBACK:
            self.outside.append(request.url)
            route.abort("blockedbyclient")
            return
        self.sent.append({"url": request.url, "method": request.method, "headers": request.headers})
        route.continue_()

    def check(self) -> None:
        assert self.outside == [], f"the page tried to reach outside: {self.outside}"
        assert self.errors == [], f"the page failed: {self.errors}"


def new_page(browser: Any, guard: Guard, **options: Any) -> Any:
    context = browser.new_context(**options)
    context.route("**/*", guard.route)
    page = context.new_page()
    page.on("pageerror", lambda error: guard.errors.append(str(error)))
    page.on(
        "console",
        lambda m: (
            guard.errors.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    return page


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core finds on the page as it is now."""
    # Evaluated, not added as an inline <script>: the pages' policy refuses inline scripts.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "async () => JSON.stringify((await axe.run(document, {resultTypes: ['violations']})).violations)"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in json.loads(result)
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str, directory: Path = OUTPUT) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    playwright, browser = launch_browser()
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
