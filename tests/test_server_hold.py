"""Held streams on a live server, for every protocol: listed, released step by step, cut.

A real client reads the reply in a thread while the test holds, steps, releases or cuts it
through the admin API (the pytest plugin's ``held()``); the client's text at each hold is what
the writes before it carry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from mockserver.testing import LiveServer
from streamctl.core.protocols import names
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
    entry = mock.journal(protocol)[-1]
    assert entry["outcome"] == "cut"
    assert entry["replies"][-1]["outcome"] == "cut"
