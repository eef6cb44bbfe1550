"""The WebSocket adapter: one connection per conversation, both directions recorded."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from mockserver.testing import LiveServer
from streamctl import net
from streamctl.core.check import check
from streamctl.core.protocols import get
from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.transcript import Close, Disconnect, Frame, Transcript, load
from streamctl.engine.recorder import Recorder
from streamctl.errors import (
    ConnectionLost,
    ProtocolErrorEvent,
    StreamTimeout,
    Unreachable,
    UpgradeRefused,
)
from streamctl.net import Limits, Result, WireEvent, open_conversation
from streamctl.net.base import next_session
from tests.broken_servers import BrokenServer, ws_server
from tests.test_net_http import Collect, closed_port_url

CHUNK = json.dumps({"type": "chunk", "message_id": "bot_1", "text": "Hi"})
COMPLETE = json.dumps({"type": "complete", "message_id": "bot_1"})


def converse(
    protocol: str,
    url: str,
    messages: list[str],
    limits: Limits | None = None,
    observer: Collect | None = None,
    **options: object,
) -> tuple[list[Result], Transcript, Collect]:
    proto = get(protocol)
    sink = io.StringIO()
    seen = observer or Collect()
    conv = open_conversation(
        proto,
        ClientOptions(messages[0], **options),  # type: ignore[arg-type]
        url,
        recorders=lambda: Recorder(sink, proto.name, proto.transport),
        observer=seen,
        limits=limits or Limits(timeout=10),
    )

    results = asyncio.run(net.converse(conv, messages))
    return results, load(sink.getvalue()), seen


def test_a_conversation_keeps_one_connection_and_one_transcript(live_server: LiveServer) -> None:
    results, transcript, seen = converse("chunk-complete", live_server.base_url, ["one", "two"])
    assert [(r.outcome, r.error, r.done) for r in results] == [("complete", None, True)] * 2
    assert 'You said: "one"' in seen.text
    assert 'You said: "two"' in seen.text
    assert len(list(transcript.frames("client"))) == 2
    assert check(transcript) == []
    closes = [r for r in transcript.records if isinstance(r, Close)]
    assert closes[0] == Close(closes[0].t, "client", 1000)
    assert transcript.header.response is not None
    assert transcript.header.response.status == 101
    assert any(name.lower() == "sec-websocket-key" for name, _ in transcript.header.request.headers)


def test_ws_events_with_a_token_streams_and_the_token_is_redacted(
    live_server: LiveServer,
) -> None:
    from streamctl.core.jwt import mint_dev_token

    token = mint_dev_token(live_server.config.jwt_secret)
    results, transcript, seen = converse("ws-events", live_server.base_url, ["hi"], token=token)
    assert results[0].done
    assert seen.text.startswith('You said: "hi"')
    assert token not in json.dumps([str(r) for r in transcript.records])
    assert check(transcript) == []


def test_a_protocol_error_event_ends_the_turn_not_the_connection(
    live_server: LiveServer,
) -> None:
    results, transcript, _ = converse("ws-events", live_server.base_url, ["hi", "again"])
    assert [type(r.error) for r in results] == [ProtocolErrorEvent, ProtocolErrorEvent]
    assert "token" in str(results[0].error).lower()
    assert len(list(transcript.frames("client"))) == 2


def test_an_unknown_scenario_refuses_the_upgrade(live_server: LiveServer) -> None:
    url = live_server.base_url + "?scenario=nope"
    results, transcript, _ = converse("chunk-complete", url, ["hi"])
    assert isinstance(results[0].error, UpgradeRefused)
    assert transcript.header.response is not None
    assert transcript.header.response.status == 404
    assert check(transcript)[0].rule == "ws.handshake"


def test_a_refused_upgrade_keeps_the_status_and_body() -> None:
    with ws_server([], refuse=403) as server:
        results, transcript, _ = converse("chunk-complete", server.url, ["hi"])
        url = server.url.replace("http:", "ws:") + "/chat/ws"
    assert isinstance(results[0].error, UpgradeRefused)
    assert str(results[0].error) == f"WebSocket upgrade to {url} refused: HTTP 403 refused"
    assert [f.payload for _, f in transcript.frames()] == [b"refused\n"]


def test_nothing_listening_is_unreachable() -> None:
    results, transcript, _ = converse("chunk-complete", closed_port_url(), ["hi"])
    assert isinstance(results[0].error, Unreachable)
    assert transcript.header.response is None
    assert transcript.end is not None
    assert transcript.end.outcome == "error"


def test_a_server_closing_mid_reply_is_a_lost_connection() -> None:
    with ws_server([CHUNK], close_code=1011) as server:
        results, transcript, seen = converse("chunk-complete", server.url, ["hi"])
    assert isinstance(results[0].error, ConnectionLost)
    assert "1011" in str(results[0].error)
    assert seen.text == "Hi"
    assert Close(0, "server", 1011) in [
        Close(0, r.sender, r.code, r.reason) for r in transcript.records if isinstance(r, Close)
    ]
    assert transcript.end is not None
    assert transcript.end.outcome == "error"


def test_a_dropped_connection_is_a_disconnect() -> None:
    with ws_server([CHUNK], end="drop") as server:
        results, transcript, _ = converse("chunk-complete", server.url, ["hi"])
    assert isinstance(results[0].error, ConnectionLost)
    assert any(isinstance(r, Disconnect) for r in transcript.records)


def test_a_silent_server_times_out() -> None:
    with ws_server([CHUNK], end="hang") as server:
        results, transcript, seen = converse(
            "chunk-complete", server.url, ["hi", "never sent"], limits=Limits(timeout=0.3)
        )
    assert len(results) == 1  # a failed turn ends the conversation
    assert isinstance(results[0].error, StreamTimeout)
    assert seen.text == "Hi"
    assert transcript.end is not None
    assert transcript.end.outcome == "timeout"


def test_max_events_bounds_a_turn() -> None:
    with ws_server([CHUNK] * 20, end="hang") as server:
        results, transcript, _ = converse(
            "chunk-complete", server.url, ["hi"], limits=Limits(timeout=10, max_events=4)
        )
    assert (results[0].outcome, results[0].events) == ("max-events", 4)
    assert transcript.end is not None
    assert transcript.end.outcome == "max-events"


def test_a_binary_message_is_recorded_and_ignored() -> None:
    with ws_server([b"\x00\x01", COMPLETE]) as server:
        results, transcript, seen = converse("chunk-complete", server.url, ["hi"])
    assert results[0].done
    assert seen.events[0].update.info == "ignored a binary message of 2 bytes"
    assert next(f.payload for _, f in transcript.frames()) == b"\x00\x01"
    assert "ws.text" in [f.rule for f in check(transcript)]


def test_cancelling_mid_reply_leaves_a_transcript_marked_interrupted() -> None:
    proto = get("chunk-complete")
    sink = io.StringIO()

    class Signal(Collect):
        def __init__(self) -> None:
            super().__init__()
            self.first = asyncio.Event()

        def on_event(self, event: WireEvent) -> None:
            super().on_event(event)
            self.first.set()

    async def go(url: str) -> None:
        seen = Signal()
        conv = open_conversation(
            proto,
            ClientOptions("hi"),
            url,
            recorders=lambda: Recorder(sink, proto.name, proto.transport),
            observer=seen,
        )
        task = asyncio.create_task(conv.turn("hi"))
        await seen.first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await conv.aclose()

    with ws_server([CHUNK], end="hang") as server:
        asyncio.run(go(server.url))
    transcript = load(sink.getvalue())
    assert isinstance(transcript.records[-3], Frame)
    # RFC 6455 §7.4.1: 1001, "an endpoint is going away"; then the End record.
    assert transcript.records[-2] == Close(transcript.records[-2].t, "client", 1001)
    assert transcript.end is not None
    assert transcript.end.outcome == "interrupted"


def test_a_session_that_can_follow_up_continues_its_conversation() -> None:
    proto = get("chunk-complete")
    options = ClientOptions("first")

    class Continuing(ClientSession):
        def follow_up(self, message: str) -> ClientSession:
            return proto.client(ClientOptions(f"continued: {message}"))

    follow = next_session(proto, options, Continuing(), "second")
    assert "continued: second" in follow.opening()[0]
    fresh = next_session(proto, options, proto.client(options), "second")
    assert '"second"' in fresh.opening()[0]


def test_an_upgrade_answered_without_websocket_headers_is_refused() -> None:
    async def not_websocket(reader: object, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
        await writer.drain()

    with BrokenServer(not_websocket) as server:
        results, _, _ = converse("chunk-complete", server.url, ["hi"])
    assert isinstance(results[0].error, UpgradeRefused)
    assert "failed" in str(results[0].error)


def test_a_failed_conversation_refuses_more_turns() -> None:
    proto = get("chunk-complete")
    conv = open_conversation(
        proto,
        ClientOptions("hi"),
        closed_port_url(),
        recorders=lambda: Recorder(io.StringIO(), proto.name, proto.transport),
    )

    async def go() -> None:
        first = await conv.turn("hi")
        assert isinstance(first.error, Unreachable)
        with pytest.raises(RuntimeError, match="this conversation is over"):
            await conv.turn("again")

    asyncio.run(go())
