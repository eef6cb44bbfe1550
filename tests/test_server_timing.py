"""Time on the live server, driven by a fake clock: heartbeats, disconnects, replays.

The server paces on a :class:`FakeClock`; a client streams in a background thread while the test
moves the clock (``LiveServer.advance`` waits until the stream is parked on the clock first), so
nothing here sleeps or waits for real time to pass.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.core.check import check
from streamctl.core.protocols import get, names
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.transcript import (
    Close,
    End,
    Frame,
    Header,
    Request,
    Response,
    Transcript,
    dump,
)
from streamctl.engine.clock import FakeClock
from tests.live import Exchange, Talk, after_first_text, converse
from tests.loops import SERVER_LOOPS

#: One token, a 20 s pause, then the rest.
PAUSE = {"tokens": [{"text": "a", "delay_ms": 0}, {"text": " b", "delay_ms": 20000}, " c"]}
#: Pauses of 1.2 s: goose's 500 ms Ping fits twice into each.
STEPS = {"tokens": ["one", {"text": " two", "delay_ms": 1200}, {"text": " three", "delay_ms": 0}]}


@pytest.fixture(scope="module", params=SERVER_LOOPS)
def fake_time(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server on each kind of event loop: disconnects and timers are where loops differ."""
    directory = tmp_path_factory.mktemp("scenarios")
    (directory / "pause.json").write_text(json.dumps(PAUSE))
    (directory / "steps.json").write_text(json.dumps(STEPS))
    recording = Transcript(
        Header(
            "sse-delta-done",
            "sse",
            Request("GET", "/api/chat/stream?message=x"),
            Response(200, (("content-type", "text/event-stream"), ("cache-control", "no-cache"))),
        ),
        (
            Frame(100, "server", b'event: message\r\ndata: {"delta": "Hel'),
            Frame(300, "server", b'lo"}\r\n\r\nevent: message\r\ndata: {"done": true}\r\n\r\n'),
            End(301, "complete"),
        ),
    )
    (directory / "replayed.jsonl").write_text(dump(recording))
    config = ServerConfig(
        watch=False,
        bundled=False,
        scenario_dirs=(directory,),
        speed=2.0,
        clock=FakeClock(),
        loop=request.param,
    )
    with LiveServer(config) as server:
        yield server


@pytest.fixture
def paced(fake_time: LiveServer) -> LiveServer:
    httpx.post(fake_time.url("/_streamctl/reset"), json={}).raise_for_status()
    return fake_time


class Background:
    """Run a client in a thread; ``result()`` joins it."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self.thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self.value = work()
        except BaseException as exc:
            self.error = exc

    def result(self) -> Any:
        self.thread.join(10)
        assert not self.thread.is_alive(), "the client did not finish"
        if self.error is not None:
            raise self.error
        return self.value


def say(server: LiveServer, protocol: str, scenario: str, **kw: Any) -> Background:
    return Background(lambda: converse(server, protocol, ["hi"], scenario=scenario, **kw)[0])


def sse_chunks(exchange: Exchange) -> list[bytes]:
    return [f.payload for _, f in exchange.transcript.frames() if isinstance(f.payload, bytes)]


def sse_payloads(exchange: Exchange) -> list[bytes]:
    """The body's events, each with its blank line (events due together share a chunk)."""
    return re.findall(rb"(?s).*?(?:\r\n\r\n|\n\n)", b"".join(sse_chunks(exchange)))


@pytest.mark.parametrize("protocol", [n for n in names() if get(n).transport == "sse"])
def test_heartbeats_come_in_real_time_between_scripted_writes(
    paced: LiveServer, protocol: str
) -> None:
    proto = get(protocol)
    assert isinstance(proto, SSEProtocol)
    client = say(paced, protocol, "pause")
    # Speed 2 doubles the 20 s pause; heartbeats keep their own interval, so one is due at
    # every interval strictly inside the pause.
    pause_s = 40.0
    interval_s = proto.heartbeat_ms / 1000 if proto.heartbeat is not None else pause_s
    beats = math.ceil(pause_s / interval_s) - 1
    for _ in range(beats):
        paced.advance(interval_s)
    paced.advance(pause_s - beats * interval_s)
    exchange: Exchange = client.result()
    payloads = sse_payloads(exchange)
    # (goose's own rendering opens with a Ping: only those after the first token count)
    first_token = next(i for i, p in enumerate(payloads) if p != proto.heartbeat)
    heartbeats = [p for p in payloads[first_token:] if p == proto.heartbeat]
    assert len(heartbeats) == beats
    assert exchange.text == "a b c"
    assert [f.rule for f in check(exchange.transcript)] == []


def test_goose_pings_every_500_ms_after_its_first_ping(paced: LiveServer) -> None:
    client = say(paced, "goose", "steps")
    for _ in range(4):  # 1.2 s at speed 2 = 2.4 s: Pings at 0.5, 1.0, 1.5, 2.0
        paced.advance(0.5)
    paced.advance(0.4)
    payloads = sse_payloads(client.result())
    kinds = [json.loads(p.removeprefix(b"data: "))["type"] for p in payloads]
    assert kinds == [
        "Ping",
        "Message",
        "Ping",
        "Ping",
        "Ping",
        "Ping",
        "Message",
        "Message",
        "Finish",
    ]


def test_sse_delta_done_sends_sse_starlettes_ping_comment_every_15_s(paced: LiveServer) -> None:
    client = say(paced, "sse-delta-done", "pause")
    paced.advance(15)
    paced.advance(15)
    paced.advance(10)
    payloads = sse_payloads(client.result())
    assert payloads[1:3] == [b": ping\r\n\r\n", b": ping\r\n\r\n"]


@pytest.mark.parametrize("protocol", names())
def test_a_client_that_leaves_mid_reply_stops_the_generation_at_once(
    paced: LiveServer, protocol: str
) -> None:
    # Read up to the first token, then leave while the server waits out the pause.
    with Talk(paced, protocol, scenario="pause") as talk:
        exchange = talk.say("hi", leave_when=after_first_text)
    assert "a" in exchange.text
    assert "b" not in exchange.text
    assert paced.wait_idle(), "the stream did not stop"
    assert paced.config.clock.sleepers == 0  # type: ignore[attr-defined]
    (entry,) = paced.server.journal.entries({"protocol": protocol})
    reply = entry["replies"][0]
    assert reply["outcome"] == "disconnected"
    frames = [f.payload for _, f in exchange.transcript.frames("server")]
    events = sum(1 for f in frames if isinstance(f, str)) + len(sse_payloads(exchange))
    assert reply["writes"] <= events  # an SSE chunk may hold several events due together


def test_a_client_that_leaves_is_not_given_the_rest_of_the_reply_in_history(
    paced: LiveServer,
) -> None:
    with Talk(paced, "message-stream", scenario="pause", chat="3") as talk:
        talk.say("hi", leave_when=after_first_text)
    assert paced.wait_idle()
    history = httpx.get(paced.url("/api/web/v1/chats/3/messages")).json()
    assert [m["role"] for m in history] == ["user"]


def test_a_recording_replays_its_bytes_chunks_and_scaled_timing(paced: LiveServer) -> None:
    client = Background(lambda: converse(paced, "sse-delta-done", ["x"], scenario="replayed")[0])
    paced.advance(0.2)  # 100 ms at speed 2
    paced.advance(0.4)  # 200 ms more
    exchange: Exchange = client.result()
    assert sse_chunks(exchange) == [
        b'event: message\r\ndata: {"delta": "Hel',
        b'lo"}\r\n\r\nevent: message\r\ndata: {"done": true}\r\n\r\n',
    ]
    response = exchange.transcript.header.response
    assert response is not None
    assert response.header("content-type") == "text/event-stream"
    assert exchange.text == "Hello"
    assert check(exchange.transcript) == []


def test_a_websocket_recording_replays_each_answer_after_each_message(tmp_path: Path) -> None:
    header = Header("chunk-complete", "ws", Request("GET", "/chat/ws"), Response(101))
    frames = (
        Frame(10, "client", json.dumps({"message": "q1"})),
        Frame(12, "server", json.dumps({"type": "chunk", "message_id": "bot_1", "text": "A"})),
        Frame(14, "server", json.dumps({"type": "complete", "message_id": "bot_1"})),
        Frame(20, "client", json.dumps({"message": "q2"})),
        Frame(22, "server", json.dumps({"type": "chunk", "message_id": "bot_2", "text": "B"})),
        Frame(24, "server", json.dumps({"type": "complete", "message_id": "bot_2"})),
        Frame(25, "server", b"\x00\x01 a binary frame"),
        Close(30, "server", 4001, "recorded close"),
    )
    (tmp_path / "ws.jsonl").write_text(dump(Transcript(header, frames)))
    config = ServerConfig(watch=False, speed=0, bundled=False, scenario_dirs=(tmp_path,))
    with LiveServer(config) as server:
        with connect(server.url("/chat/ws?scenario=ws", ws=True)) as ws:
            ws.send("anything")
            first = [ws.recv(timeout=10), ws.recv(timeout=10)]
            ws.send("anything else")
            second = [ws.recv(timeout=10), ws.recv(timeout=10), ws.recv(timeout=10)]
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
        assert first == [frames[1].payload, frames[2].payload]
        assert second == [frames[4].payload, frames[5].payload, frames[6].payload]
        assert closed.value.rcvd.code == 4001
        (entry,) = server.server.journal.entries()
        assert entry["messages"] == ["anything", "anything else"]
        assert entry["scenario"] == "ws"
        # Queued, a recording replaces the next connection that opens.
        httpx.post(
            server.url("/_streamctl/queue"), json={"protocol": "chunk-complete", "scenario": "ws"}
        )
        with connect(server.url("/chat/ws", ws=True)) as ws:
            ws.send("hello")
            assert ws.recv(timeout=10) == frames[1].payload
        assert server.server.journal.entries()[-1]["replies"][0]["how"] == "queue"
