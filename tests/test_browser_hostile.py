"""A hostile web page in a real browser cannot drive the mock; the mock's own page still can.

Chromium maps the name ``evil.test`` to 127.0.0.1, so a page can come from a foreign origin
(a second loopback server on another port) or rebind to the mock's own address and port.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from tests.live import reconfigured

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.browser import Playground

pytest_plugins = ("tests.browser",)
pytestmark = pytest.mark.browser

EVIL = "evil.test"
TIMEOUT_MS = 20_000

# Every way a page can reach the admin API without the server's consent; each attempt records
# what the page could see (an opaque answer still means the request was sent).
ATTACK = """
async (mock) => {
  const results = {};
  const body = JSON.stringify({protocol: "goose", scenario: "plain", count: 5});
  async function attempt(name, run) {
    try { results[name] = await run(); } catch (err) { results[name] = "error: " + err.message; }
  }
  await attempt("text", () => fetch(mock + "/_streamctl/queue",
    {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body})
    .then((r) => r.type));
  await attempt("form", () => fetch(mock + "/_streamctl/scenarios?name=evil&protocol=goose",
    {method: "POST", mode: "no-cors", body: new URLSearchParams({reply: "pwned"})})
    .then((r) => r.type));
  await attempt("reset", () => fetch(mock + "/_streamctl/reset", {method: "POST", mode: "no-cors"})
    .then((r) => r.type));
  await attempt("json", () => fetch(mock + "/_streamctl/queue",
    {method: "POST", headers: {"Content-Type": "application/json"}, body}).then((r) => r.status));
  await attempt("ws", () => new Promise((resolve) => {
    const ws = new WebSocket(mock.replace("http", "ws") + "/chat/ws");
    ws.onopen = () => { ws.send(JSON.stringify({message: "from evil"})); resolve("open"); };
    ws.onerror = () => resolve("refused");
  }));
  return results;
}
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>a page the developer happened to open</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def evil_browser() -> Iterator[Browser]:
    """Chromium resolving evil.test to 127.0.0.1 (one per module: see tests/browser.py)."""
    # Loaded by then as this module's plugin (importing it earlier defeats assert rewriting).
    plugin = importlib.import_module("tests.browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        plugin._unavailable("playwright is not installed (pip install -e '.[test]')")
    if not plugin.CHROMIUM.exists():
        plugin._unavailable(f"{plugin.CHROMIUM} is missing (apt-get install chromium)")
    rules = f"--host-resolver-rules=MAP {EVIL} 127.0.0.1"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(plugin.CHROMIUM),
            args=[*plugin.CHROMIUM_ARGS, rules],
            headless=True,
        )
        yield chromium
        chromium.close()


@pytest.fixture
def evil_site() -> Iterator[int]:
    """Another web server on loopback: the hostile page's origin is http://evil.test:PORT."""
    site = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    yield site.server_address[1]
    site.shutdown()
    site.server_close()


def test_a_page_from_another_origin_cannot_drive_the_admin_api(
    evil_browser: Browser, evil_site: int, live_server: LiveServer
) -> None:
    marker = httpx.get(live_server.url("/status"))  # a journal entry a reset would erase
    assert marker.status_code == 200
    page = evil_browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"http://{EVIL}:{evil_site}/")
    results = page.evaluate(ATTACK, live_server.base_url)
    page.close()
    # The simple requests were sent (opaque answers), the others stopped by the browser.
    assert results["text"] == results["form"] == results["reset"] == "opaque"
    assert results["json"].startswith("error")
    assert results["ws"] == "refused"
    # And none of them changed anything.
    admin = live_server.url("/_streamctl")
    assert httpx.get(f"{admin}/queue").json() == {"queues": {}}
    listed = httpx.get(f"{admin}/scenarios").json()["scenarios"]
    assert "evil" not in [s["name"] for s in listed]
    journal = httpx.get(f"{admin}/journal").json()["entries"]
    assert [e["path"] for e in journal] == ["/status"]  # not reset; no WebSocket served


def test_a_rebinding_page_on_the_mock_s_own_address_is_refused(
    evil_browser: Browser, live_server: LiveServer
) -> None:
    page = evil_browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    answer = page.goto(f"http://{EVIL}:{live_server.port}/_streamctl/journal")
    assert answer is not None
    assert answer.status == 400
    status = page.evaluate(
        """() => fetch("/_streamctl/queue", {method: "POST",
             headers: {"Content-Type": "application/json"},
             body: JSON.stringify({protocol: "goose", scenario: "plain"})}).then((r) => r.status)"""
    )
    page.close()
    assert status == 400
    assert httpx.get(live_server.url("/_streamctl/queue")).json() == {"queues": {}}


def test_the_playground_works_with_an_admin_token_and_a_foreign_origin_list(
    evil_browser: Browser, live_server_session: LiveServer
) -> None:
    config: dict[str, Any] = {"admin_token": "s3cret", "cors_origins": ("https://app.example",)}
    server = reconfigured(live_server_session, **config)
    assert isinstance(server.config, ServerConfig)
    with server:
        playground: Playground = importlib.import_module("tests.browser").Playground(
            evil_browser, server
        )
        try:
            playground.send("goose", "Hello there", "plain")
            assert playground.status == "complete"
            assert playground.verdict.startswith("0 findings")
            playground.send("ws-events", "Hello again", "plain")
            assert playground.status == "complete"
            assert playground.verdict.startswith("0 findings")
            assert playground.errors == []
        finally:
            playground.close()
