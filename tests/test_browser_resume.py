"""A real browser's EventSource reconnects through dropped connections with Last-Event-ID and
receives every token exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from mockserver.testing import LiveServer
from streamctl.core.script import default_reply

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytest_plugins = ("tests.browser",)
pytestmark = pytest.mark.browser

MESSAGE = "Resume me please"

# Collects every delta and the lastEventId it came with; closes on done (an EventSource would
# otherwise reconnect once more when the server ends the stream).
LISTEN = """
(url) => new Promise((resolve) => {
  const got = { deltas: [], ids: [], opens: 0, errors: 0 };
  const source = new EventSource(url);
  source.onopen = () => { got.opens += 1; };
  source.onerror = () => {
    got.errors += 1;
    if (got.errors > 50) { source.close(); resolve(got); }
  };
  source.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.done) { source.close(); resolve(got); return; }
    got.deltas.push(data.delta);
    got.ids.push(event.lastEventId);
  };
})
"""


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    tab = browser.new_page()
    tab.set_default_timeout(20_000)
    tab.goto(live_server.url("/_streamctl/health"))  # same origin as the stream
    yield tab
    tab.close()


def test_eventsource_reconnects_through_drops_and_gets_every_token_once(
    page: Page, live_server: LiveServer
) -> None:
    url = f"/api/chat/stream?message={MESSAGE.replace(' ', '%20')}&ids=1&fault=drop:after=4"
    got: dict[str, Any] = page.evaluate(LISTEN, url)
    tokens = [t.text for t in default_reply(MESSAGE).tokens]
    assert got["deltas"] == tokens  # every token, in order, exactly once
    assert got["ids"] == [str(i) for i in range(len(tokens))]
    assert got["opens"] >= len(tokens) // 4  # one connection per four events
    entries = httpx.get(live_server.url("/_streamctl/journal")).json()["entries"]
    resumed = [
        dict(e["headers"]).get("last-event-id") for e in entries if e["path"] == "/api/chat/stream"
    ]
    # Reconnections carry the last id seen, never going back. (Chromium may discard events
    # that arrive in the same read as the broken end of the body: it then reconnects with the
    # id it had, and the server sends the same events again — still none twice to the page.)
    ids = [int(i) for i in resumed if i is not None]
    assert resumed[0] is None
    assert ids == sorted(ids)
    assert len(ids) >= 2


def test_the_playground_sends_a_fault_from_the_table(
    open_playground: Any, live_server: LiveServer
) -> None:
    playground = open_playground(live_server)
    options = playground.page.locator("#fault-list option")
    assert "malformed:json" in [
        options.nth(i).get_attribute("value") for i in range(options.count())
    ]
    playground.send("sse-delta-done", "Hello", fields={"#fault": "malformed:json"})
    assert "sse-delta-done.json" in playground.rules
