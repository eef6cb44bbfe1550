"""The playground page in a real browser: send on every protocol, see the reply and findings."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from mockserver.bundled import bundled_dir
from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.core.protocols import get, names
from streamctl.core.script import tokenize

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

    from tests.browser import Playground

pytest_plugins = ("tests.browser",)
pytestmark = pytest.mark.browser


def scenario(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((bundled_dir() / f"{name}.json").read_text())
    return loaded


PLAIN: str = scenario("plain")["reply"]
MID = scenario("error-mid-stream")
SLOW: str = scenario("slow")["reply"]


@pytest.mark.parametrize("protocol", names())
def test_every_protocol_streams_the_full_reply_with_zero_findings(
    playground: Playground, protocol: str
) -> None:
    playground.send(protocol, "Hello there", "plain")
    assert playground.reply == PLAIN
    assert playground.status == "complete"
    assert playground.error == ""
    assert playground.verdict.startswith("0 findings")
    # The frames pane shows what crossed the wire, ending with how the exchange ended.
    frames = playground.text("#frames-body")
    assert all(token.strip() in frames for token in tokenize(PLAIN))
    assert "end: complete" in playground.text("#frames-body tr:last-child")


def test_the_default_reply_quotes_the_message(playground: Playground) -> None:
    playground.send("chunk-complete", "Bonjour, où est la gare ?")
    assert playground.reply.startswith('You said: "Bonjour, où est la gare ?" (6 words).')
    assert playground.verdict.startswith("0 findings")


def test_a_wrong_goose_secret_key_is_shown_as_a_401_failure(playground: Playground) -> None:
    playground.send("goose", "Hello", fields={"#secret-key": "not-the-key"})
    assert playground.error.startswith("HTTP 401 Unauthorized")
    assert playground.status == "ended with an error"
    assert "FAIL" in playground.verdict
    assert playground.rules == ["sse.http.status"]
    assert "status is 401" in playground.text("#findings")
    assert "end: refused with HTTP 401" in playground.text("#frames-body tr:last-child")


def test_a_bad_ws_events_token_is_shown(playground: Playground) -> None:
    playground.send("ws-events", "Hello", fields={"#ws-token": "not-a-jwt"})
    assert "Authentication failed" in playground.error
    assert playground.reply == ""


@pytest.mark.parametrize("protocol", names())
def test_an_error_mid_stream_is_shown_after_the_text_that_came_first(
    playground: Playground, protocol: str
) -> None:
    playground.send(protocol, "Hello there", "error-mid-stream")
    error = MID["error"]
    assert playground.reply == "".join(tokenize(MID["reply"])[: error["after"]])
    assert error["message"] in playground.error
    assert playground.status == "ended with an error"
    # Each protocol's own way of reporting a failure is conformant: the checker agrees.
    assert playground.verdict.startswith("0 findings")


def test_a_stream_cut_short_is_a_failure_with_the_checkers_findings(
    playground: Playground,
) -> None:
    def cut_before_the_end(route: Route) -> None:
        response = route.fetch()
        body = response.body()
        route.fulfill(response=response, body=body[: body.rindex(b"event: message_end")])

    playground.page.route(re.compile(r".*/messages/stream(\?.*)?$"), cut_before_the_end)
    playground.send("message-stream", "Hello there", "plain")
    assert PLAIN.startswith(playground.reply)
    assert "closed the stream before the reply ended" in playground.error
    assert playground.status == "failed"
    assert "FAIL" in playground.verdict
    machine = get("message-stream").spec.machine
    assert machine is not None
    assert machine.incomplete in playground.rules


def test_a_finding_points_at_its_frame(playground: Playground) -> None:
    def repeat_the_end(route: Route) -> None:
        response = route.fetch()
        body = response.body()
        route.fulfill(response=response, body=body + body[body.rindex(b"event: message_end") :])

    playground.page.route(re.compile(r".*/messages/stream(\?.*)?$"), repeat_the_end)
    playground.send("message-stream", "Hello there", "plain")
    findings = playground.page.locator("#findings .finding")
    link = findings.filter(has_text="after the stream already ended").locator(".frame-link")
    frame = int(link.inner_text().removeprefix("frame "))
    link.click()
    row = playground.page.locator(f"#frame-{frame}")
    assert "hit" in (row.get_attribute("class") or "")
    assert "message_end" in row.inner_text()


@pytest.fixture
def slow_server() -> Iterator[LiveServer]:
    """A server that keeps scripted delays, so a reply is still streaming when Stop is hit."""
    with LiveServer(ServerConfig(watch=False, speed=1.0)) as server:
        yield server


@pytest.mark.parametrize("protocol", names())
def test_stop_ends_a_reply_while_it_streams(
    open_playground: Callable[[LiveServer], Playground], slow_server: LiveServer, protocol: str
) -> None:
    playground = open_playground(slow_server)
    playground.send(protocol, "Hello there", "slow", wait=False)
    playground.page.wait_for_function(
        "document.querySelector('#reply-text').textContent.length > 20"
    )
    playground.page.click("#stop")
    playground.wait_done()
    assert playground.status == "stopped"
    assert SLOW.startswith(playground.reply)
    assert len(playground.reply) < len(SLOW)
    assert "end: interrupted" in playground.text("#frames-body tr:last-child")
    # The stream never reached its end because the user stopped it: not the server's fault.
    assert "FAIL" not in playground.verdict
    assert "You stopped this reply" in playground.text("#stopped-note")


def test_the_page_shows_every_protocol_with_endpoints_and_code(playground: Playground) -> None:
    for name in names():
        card = playground.page.locator(f"#card-{name}")
        text = card.inner_text()
        for endpoint in get(name).endpoints:
            assert endpoint.path in text
        tabs = card.locator(".tab").all_inner_texts()
        assert "streamctl" in tabs
        assert "JavaScript" in tabs
        assert ("curl" in tabs) == (get(name).transport == "sse")


def test_the_page_lists_the_scenarios_and_says_whether_faults_exist(
    playground: Playground, live_server: LiveServer
) -> None:
    rows = playground.page.locator("#scenario-rows tr td:first-child").all_inner_texts()
    assert set(rows) == {s.name for s in live_server.server.scenarios.scenarios}
    assert "plain" in playground.page.locator("#scenario option").all_inner_texts()
    assert playground.text("#faults")  # the faults, or why there are none


def test_the_page_loads_nothing_from_outside_the_mock(
    browser: Browser, live_server: LiveServer
) -> None:
    context = browser.new_context()
    requested: list[str] = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()
    page.goto(live_server.url("/"))
    page.wait_for_selector("body[data-ready=true]")
    context.close()
    assert [url for url in requested if not url.startswith(live_server.base_url)] == []
    assert any(url.endswith("/_streamctl/static/app.js") for url in requested)


def test_the_workspace_fits_a_laptop_screen(playground: Playground) -> None:
    playground.send("sse-delta-done", "Hello there", "plain")
    page = playground.page
    viewport = page.viewport_size
    assert viewport == {"width": 1366, "height": 768}
    for selector in ("#send", "#reply-pane", ".frames-pane", ".findings-pane", "#verdict"):
        box = page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["x"] >= 0, selector
        assert box["y"] >= 0, selector
        assert box["x"] + box["width"] <= viewport["width"], selector
        assert box["y"] + box["height"] <= viewport["height"], selector
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


@pytest.mark.parametrize("protocol", names())
def test_a_dropped_connection_fault_is_shown_as_a_failure(
    playground: Playground, protocol: str
) -> None:
    playground.send(protocol, "Hello there", "plain", fields={"#fault": "drop:after=3"})
    assert PLAIN.startswith(playground.reply)
    assert playground.reply != PLAIN
    assert playground.status in ("failed", "ended with an error")
    assert "FAIL" in playground.verdict
    machine = get(protocol).spec.machine
    assert machine is not None
    assert machine.incomplete in playground.rules


@pytest.mark.parametrize("protocol", names())
def test_a_malformed_frame_fault_is_caught_by_the_checker_in_the_page(
    playground: Playground, protocol: str
) -> None:
    playground.send(protocol, "Hello there", "plain", fields={"#fault": "malformed:json"})
    assert "FAIL" in playground.verdict
    assert f"{protocol}.json" in playground.rules


@pytest.mark.parametrize("protocol", ["goose", "sse-delta-done", "chunk-complete"])
def test_a_stopped_server_is_shown_as_unreachable(
    open_playground: Callable[[LiveServer], Playground], protocol: str
) -> None:
    server = LiveServer(ServerConfig(watch=False, speed=0)).start()
    playground = open_playground(server)
    assert playground.page.get_attribute("#server-info", "data-state") == "up"
    server.stop()
    playground.send(protocol, "Hello there", fields=_auth(protocol))
    assert playground.page.get_attribute("#server-info", "data-state") == "down"
    assert playground.text("#server-info").endswith("unreachable")
    assert "is unreachable: is streamctl serve still running?" in playground.error
    assert "scenario" not in playground.error
    assert playground.verdict == "Not checked: the server is unreachable."


def _auth(protocol: str) -> dict[str, str]:
    return {"#secret-key": "test"} if protocol == "goose" else {}


def test_the_fault_box_shows_a_whole_fault(playground: Playground) -> None:
    playground.page.fill("#fault", "drop:after=3,mid")
    fits = "(e => e.scrollWidth <= e.clientWidth)(document.querySelector('#fault'))"
    assert playground.page.evaluate(fits)


def test_each_send_adds_a_turn_to_the_conversation(playground: Playground) -> None:
    playground.send("chunk-complete", "first message", "plain")
    playground.send("chunk-complete", "second message", "plain")
    past = playground.page.locator("#reply-body .bubble.past").all_inner_texts()
    assert past[0] == "first message"
    assert past[1].strip().startswith(PLAIN.strip()[:40])
    assert len(past) == 2
    assert playground.text("#reply-user") == "second message"
    assert playground.reply == PLAIN
