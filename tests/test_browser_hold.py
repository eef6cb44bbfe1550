"""A held reply in a real browser: the playground mid-reply, then the whole reply on release.

What a frontend test does with a held stream: hold the reply half way, assert what the page shows
while it streams (the partial text, the typing state, Stop enabled), release it, assert the end.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from mockserver.testing import LiveServer
from streamctl.testing import MockServer

if TYPE_CHECKING:
    from tests.browser import Playground

pytest_plugins = ("tests.browser",)
pytestmark = pytest.mark.browser

#: Generous, as tests.browser's own: a loaded machine can be slow to render.
WAIT_MS = 20_000
TOKENS = ["The answer", " is", {"hold": "mid-reply"}, " 42", "."]


@pytest.fixture
def mock(live_server: LiveServer) -> Iterator[MockServer]:
    server = MockServer(live_server)
    yield server
    server.release_all(free=True)


@pytest.mark.parametrize("protocol", ["goose", "sse-delta-done", "chunk-complete"])
def test_the_page_shows_the_reply_typing_while_held_then_whole(
    playground: Playground, mock: MockServer, protocol: str
) -> None:
    from playwright.sync_api import expect

    mock.use({"tokens": TOKENS}, protocol)
    playground.send(protocol, "What is the answer?", wait=False)
    held = mock.held(timeout=30, protocol=protocol)
    assert held.held_at == "mid-reply"
    page = playground.page
    expect(page.locator("#reply-text")).to_have_text("The answer is", timeout=WAIT_MS)
    typing = re.compile(r"\bstreaming\b")  # the bubble's typing indicator
    expect(page.locator("#reply-bubble")).to_have_class(typing, timeout=WAIT_MS)
    status = page.locator("#reply-status")
    expect(status).to_have_attribute("data-state", "streaming", timeout=WAIT_MS)
    expect(page.locator("#stop")).to_be_enabled(timeout=WAIT_MS)
    held.release()
    playground.wait_done()
    assert playground.reply == "The answer is 42."
    assert playground.status == "complete"
    expect(page.locator("#reply-bubble")).not_to_have_class(typing, timeout=WAIT_MS)
    expect(page.locator("#stop")).to_be_disabled(timeout=WAIT_MS)
