"""Browser fixtures: Debian's Chromium, driven headless by Playwright, against the live mock.

Browsers cannot be downloaded here, so Playwright launches the OS package (``apt-get install
chromium``; ``.ci/run`` does it). Without Chromium or Playwright the browser tests are skipped
with the reason, except in CI (``CI`` set), where that is a failure: CI never skips them.

Test modules load this plugin with ``pytest_plugins = ("tests.browser",)`` (and import from it
only under ``TYPE_CHECKING``), which gives them:

* ``browser``: one headless Chromium per module;
* ``playground``: a :class:`Playground`, the page open at the session's mock server;
* ``open_playground``: ``open_playground(server)`` for another server.

Also a script: ``python -m tests.browser docs/playground.png`` takes the screenshot the docs show.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from mockserver.testing import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
#: A laptop screen: the page must be usable at this size.
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
#: Generous: a loaded CI machine can be slow to start a browser or a stream.
TIMEOUT_MS = 20_000


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _unavailable(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"{reason}; CI is set, so the browser tests must run (see .ci/run)")
    pytest.skip(reason)


def launch(playwright: Any) -> Browser:
    """Debian's Chromium, headless."""
    browser: Browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    return browser


class Playground:
    """The playground page in a laptop-sized tab, and what a user does and sees there."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.server = server
        self.page: Page = browser.new_context(viewport=LAPTOP).new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(server.url("/"))
        self.page.wait_for_selector("body[data-ready=true]")

    def send(
        self,
        protocol: str,
        message: str,
        scenario: str = "",
        fields: dict[str, str] | None = None,
        wait: bool = True,
    ) -> None:
        """Fill the form (``fields`` maps a CSS selector to a value) and press Send; with
        ``wait``, wait until the reply ended and its findings are shown."""
        page = self.page
        page.check(f"input[name=protocol][value='{protocol}']")
        page.fill("#message", message)
        page.select_option("#scenario", scenario)
        for selector, value in (fields or {}).items():
            page.fill(selector, value)
        page.click("#send")
        if wait:
            self.wait_done()

    def wait_done(self) -> None:
        self.page.wait_for_selector("#workspace[data-state=done]")

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    @property
    def reply(self) -> str:
        """The assistant's reply as shown."""
        return self.text("#reply-text")

    @property
    def status(self) -> str:
        """The reply's status pill: complete, ended with an error, failed, stopped."""
        return self.text("#reply-status")

    @property
    def error(self) -> str:
        """The failure shown in the reply pane ("" when none is shown)."""
        box = self.page.locator("#reply-error")
        return "" if box.is_hidden() else box.inner_text()

    @property
    def verdict(self) -> str:
        """The findings summary: "0 findings …" or "N findings FAIL …"."""
        return self.text("#verdict")

    @property
    def rules(self) -> list[str]:
        """The rule ids of the findings shown, in order."""
        return self.page.locator("#findings .finding .rule").all_inner_texts()

    def close(self) -> None:
        self.page.context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per test module.

    Not per session: while Playwright's sync API runs, its event loop counts as the main
    thread's running loop, and every later test calling ``asyncio.run`` would fail.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def open_playground(browser: Browser) -> Iterator[Callable[[LiveServer], Playground]]:
    """Opens the playground of a server; the test fails if a page raised a JavaScript error."""
    opened: list[Playground] = []

    def open_page(server: LiveServer) -> Playground:
        opened.append(Playground(browser, server))
        return opened[-1]

    yield open_page
    for playground in opened:
        playground.close()
    errors = [error for playground in opened for error in playground.errors]
    assert errors == [], f"JavaScript errors on the page: {errors}"


@pytest.fixture
def playground(
    open_playground: Callable[[LiveServer], Playground], live_server: LiveServer
) -> Playground:
    """The playground of the session's mock server (``speed=0``), in a fresh tab."""
    return open_playground(live_server)


def screenshot(path: Path) -> None:
    """The docs' screenshot: the playground on a laptop screen after a tool-call reply."""
    from playwright.sync_api import sync_playwright

    from mockserver.config import ServerConfig

    with LiveServer(ServerConfig(watch=False)) as server, sync_playwright() as playwright:
        chromium = launch(playwright)
        shown = Playground(chromium, server)
        shown.send("goose", "Which files are in this project?", "tool-call")
        shown.page.screenshot(path=str(path))
        chromium.close()


if __name__ == "__main__":
    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/playground.png"))
