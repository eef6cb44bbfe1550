"""Held streams on a live server, for every protocol: listed, released step by step, cut.

A real client reads the reply in a thread while the test holds, steps, releases or cuts it
through the admin API (the pytest plugin's ``held()``); the client's text at each hold is what
the writes before it carry.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from mockserver.testing import LiveServer
from streamctl.core.protocols import get, names
from streamctl.core.transcript import Close, End
from streamctl.testing import MockServer
from tests.live import Exchange, Talk

PROTOCOLS = names()
TOKENS = ["one", " two", {"hold": "middle"}, " three", " four"]
SCENARIO = {"tokens": TOKENS}


@pytest.fixture
def mock(live_server: LiveServer) -> Iterator[MockServer]:
    server = MockServer(live_server)
    yield server
    server.release_all(free=True)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def _admin(server: LiveServer, method: str, path: str, **kw: Any) -> httpx.Response:
    if method == "POST":
        kw.setdefault("json", {})  # the admin API takes JSON bodies only
    return httpx.request(method, server.url("/_streamctl" + path), timeout=30, **kw)


class Reader:
    """A client reading one reply in a thread, with what it has received so far."""

    def __init__(self, server: LiveServer, protocol: str, pool: ThreadPoolExecutor) -> None:
        self.updates: list[str] = []
        self.talk = Talk(server, protocol)
        self.seen = threading.Condition()
        self.future: Future[Exchange] = pool.submit(self.talk.say, "hi", leave_when=self._saw)

    def _saw(self, exchange: Exchange) -> bool:
        with self.seen:
            self.updates.append(exchange.text)
            self.seen.notify_all()
        return False

    def text_reaches(self, text: str) -> None:
        """Wait until the client has reassembled ``text`` (no timing: a condition)."""
        with self.seen:
            assert self.seen.wait_for(lambda: bool(self.updates) and self.updates[-1] == text, 30)

    def result(self) -> Exchange:
        try:
            return self.future.result(30)
        finally:
            self.talk.close()


def _held_again(server: LiveServer, stream_id: str) -> dict[str, Any] | None:
    """The stream once it holds again; None once it has ended."""
    params: dict[str, str] = {}
    while True:
        found = _admin(server, "GET", "/streams", params=params).json()
        stream = next((s for s in found["streams"] if s["id"] == stream_id), None)
        if stream is None or stream["held"] is not None:
            return stream
        params = {"since": str(found["version"]), "wait": "10"}


def _start(mock: MockServer, protocol: str, pool: ThreadPoolExecutor, scenario: Any) -> Reader:
    mock.use(scenario, protocol)
    return Reader(mock.live, protocol, pool)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_held_stream_is_listed_then_released(
    mock: MockServer, protocol: str, pool: ThreadPoolExecutor
) -> None:
    reader = _start(mock, protocol, pool, SCENARIO)
    held = mock.held(timeout=30, protocol=protocol)
    assert (held.held_at, held.protocol) == ("middle", protocol)
    reader.text_reaches("one two")
    listed = _admin(mock.live, "GET", "/streams", params={"held": "true"}).json()["streams"]
    assert [s["id"] for s in listed] == [held.id]
    assert listed[0]["position"] == held.position > 0
    held.release()
    exchange = reader.result()
    assert exchange.text == "one two three four"
    assert exchange.done
    assert not exchange.errors
    assert _held_again(mock.live, held.id) is None  # no longer listed once it has ended


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_held_stream_steps_one_write_at_a_time(
    mock: MockServer, protocol: str, pool: ThreadPoolExecutor
) -> None:
    reader = _start(mock, protocol, pool, SCENARIO)
    held = mock.held(timeout=30, protocol=protocol)
    positions = [held.position]
    texts = []
    while True:
        held.step(1)
        again = _held_again(mock.live, held.id)
        if again is None:
            break  # the last write went: the stream ended
        positions.append(again["position"])
        texts.append(again["held"])
    assert positions == list(range(positions[0], positions[0] + len(positions)))
    assert set(texts) <= {"middle"}
    assert reader.result().text == "one two three four"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_cut_stream_ends_without_its_terminator(
    mock: MockServer, protocol: str, pool: ThreadPoolExecutor
) -> None:
    reader = _start(mock, protocol, pool, SCENARIO)
    held = mock.held(timeout=30, protocol=protocol)
    held.cut()
    exchange = reader.result()
    assert exchange.text == "one two"
    assert not exchange.done
    last = exchange.transcript.records[-1]
    if get(protocol).transport == "ws":
        assert last == Close(last.t, "server", 1011, "stream cut")
    else:  # the body ended cleanly, without the reply's terminator
        assert last == End(last.t, "complete")
    entry = mock.journal(protocol)[-1]
    assert entry["outcome"] == "cut"
    assert entry["replies"][-1]["outcome"] == "cut"


# --- the admin API ---------------------------------------------------------------------------


def test_release_and_cut_say_what_is_wrong(mock: MockServer, pool: ThreadPoolExecutor) -> None:
    server = mock.live
    assert _admin(server, "POST", "/streams/nope/release").status_code == 404
    assert _admin(server, "POST", "/streams/nope/cut").status_code == 404
    reader = _start(mock, "goose", pool, {"tokens": ["a", {"hold": "h"}, " b", {"hold": "h2"}]})
    held = mock.held(timeout=30)
    for steps in ("0", "-1", "x", "1.5"):
        answer = _admin(server, "POST", f"/streams/{held.id}/release", params={"steps": steps})
        assert answer.status_code == 422, steps
    for query in ({"held": "maybe"}, {"wait": "soon", "since": "1"}, {"since": "v"}):
        assert _admin(server, "GET", "/streams", params=query).status_code == 422
    assert _admin(server, "POST", f"/streams/{held.id}/release").json()["held"] == "h"
    again = mock.held(timeout=30, name="h2")
    assert again.id == held.id
    assert again.position > held.position
    assert _admin(server, "POST", "/streams/release").json() == {"released": 1}
    reader.result()
    # Ended: no longer listed, so neither releasable nor held.
    assert _admin(server, "POST", f"/streams/{held.id}/release").status_code == 404


def test_a_running_stream_is_listed_but_not_held(
    live_server: LiveServer, pool: ThreadPoolExecutor
) -> None:
    # A WebSocket turn's reply that waits a minute between tokens (at speed 1): open, not held.
    with LiveServer(dataclasses.replace(live_server.config, speed=1.0)) as server:
        mock = MockServer(server)
        gap = {"tokens": ["a", {"text": " b", "delay_ms": 6e4}]}
        reader = _start(mock, "chunk-complete", pool, gap)
        reader.text_reaches("a")
        listed = _admin(server, "GET", "/streams").json()["streams"]
        assert [(s["protocol"], s["held"]) for s in listed] == [("chunk-complete", None)]
        stream_id = listed[0]["id"]
        assert _admin(server, "GET", "/streams", params={"held": "true"}).json()["streams"] == []
        assert _admin(server, "GET", "/streams", params={"held": "false"}).json()["streams"]
        assert _admin(server, "POST", f"/streams/{stream_id}/release").status_code == 409
        assert _admin(server, "POST", f"/streams/{stream_id}/cut").status_code == 409
        reader.talk.close()
        assert reader.result().text == "a"


def test_a_long_poll_returns_at_the_next_change(mock: MockServer, pool: ThreadPoolExecutor) -> None:
    version = _admin(mock.live, "GET", "/streams").json()["version"]
    waiting = pool.submit(
        _admin, mock.live, "GET", "/streams", params={"since": str(version), "wait": "60"}
    )
    reader = _start(mock, "sse-delta-done", pool, SCENARIO)
    assert waiting.result(30).json()["version"] > version
    mock.held(timeout=30).release()
    reader.result()


def test_reset_releases_every_held_stream_for_good(
    mock: MockServer, pool: ThreadPoolExecutor
) -> None:
    tokens = ["a", {"hold": "one"}, " b", {"hold": "two"}, " c"]
    reader = _start(mock, "ws-events", pool, {"tokens": tokens})
    mock.held(timeout=30)
    _admin(mock.live, "POST", "/reset", json={})
    assert reader.result().text == "a b c"


def test_the_goose_heartbeat_goes_on_while_held(mock: MockServer) -> None:
    mock.use(SCENARIO, "goose")
    talk = Talk(mock.live, "goose")
    request = talk.proto.client(talk._options("hi")).request()
    with (
        httpx.Client(base_url=mock.live.base_url, timeout=30) as http,
        http.stream(
            request.method, request.target, headers=list(request.headers), content=request.body
        ) as response,
    ):
        events = response.iter_lines()
        held = mock.held(timeout=30)
        seen = [line for line in _take(events, held.position + 2) if line]
        assert seen[-1] == 'data: {"type":"Ping"}'  # a write the reply itself has not got here
        held.release()
        assert any('"Finish"' in line for line in events)


def _take(lines: Iterator[str], events: int) -> list[str]:
    """The lines of the next ``events`` SSE events."""
    taken: list[str] = []
    while events:
        line = next(lines)
        taken.append(line)
        events -= not line
    return taken


# --- the bound and --hold-after --------------------------------------------------------------


def test_streams_past_the_limit_play_unlisted_and_unheld(
    live_server: LiveServer, pool: ThreadPoolExecutor
) -> None:
    config = dataclasses.replace(live_server.config, stream_limit=1)
    with LiveServer(config) as server:
        mock = MockServer(server)
        mock.use(SCENARIO, "sse-delta-done", count=2)
        first = Reader(server, "sse-delta-done", pool)
        held = mock.held(timeout=30)
        second = Reader(server, "sse-delta-done", pool)
        assert second.result().text == "one two three four"  # not held: past the limit
        listed = _admin(server, "GET", "/streams").json()["streams"]
        assert [s["id"] for s in listed] == [held.id]
        held.release()
        assert first.result().text == "one two three four"


@pytest.mark.parametrize("protocol", ["goose", "chunk-complete"])
def test_hold_after_holds_every_reply(
    live_server: LiveServer, pool: ThreadPoolExecutor, protocol: str
) -> None:
    config = dataclasses.replace(live_server.config, hold_after=2)
    with LiveServer(config) as server:
        mock = MockServer(server)
        mock.use({"reply": "one two three"}, protocol)
        reader = Reader(server, protocol, pool)
        held = mock.held(timeout=30)
        assert held.held_at == "hold-after"
        reader.text_reaches("one two")
        held.release()
        assert reader.result().text == "one two three"


def test_the_banner_says_replies_are_held() -> None:
    from mockserver.config import ServerConfig
    from mockserver.startup import banner

    assert "every reply held after 3 tokens" in banner(ServerConfig(hold_after=3), 8000, 0)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_client_that_leaves_while_held_ends_the_stream(mock: MockServer, protocol: str) -> None:
    mock.use(SCENARIO, protocol)
    talk = Talk(mock.live, protocol)
    held: list[Any] = []

    def leave_once_held(exchange: Exchange) -> bool:
        if exchange.text != "one two":
            return False
        held.append(mock.held(timeout=30))
        return True

    try:
        assert talk.say("hi", leave_when=leave_once_held).text == "one two"
    finally:
        talk.close()
    assert _held_again(mock.live, held[0].id) is None  # unlisted once the server saw it go


@pytest.mark.parametrize("protocol", ["goose", "sse-delta-done", "ws-events"])
def test_a_reply_with_faults_holds_too(
    mock: MockServer, protocol: str, pool: ThreadPoolExecutor
) -> None:
    reader = _start(mock, protocol, pool, {**SCENARIO, "faults": ["stall:ms=1,after=1"]})
    held = mock.held(timeout=30, protocol=protocol)
    reader.text_reaches("one two")
    held.release()
    assert reader.result().text == "one two three four"
