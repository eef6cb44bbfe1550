"""The HTTP adapter: raw chunks recorded live, bounds, and httpx errors translated."""

from __future__ import annotations

import asyncio
import io
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mockserver.config import ServerConfig
from mockserver.testing import LiveServer
from streamctl.core.check import check
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import ClientOptions
from streamctl.core.transcript import Disconnect, End, Frame, Transcript, load
from streamctl.engine.recorder import Recorder
from streamctl.errors import (
    ConnectionLost,
    HttpStatusError,
    ProtocolErrorEvent,
    StreamTimeout,
    Unreachable,
    UsageError,
    WrongContentType,
)
from streamctl.net import Limits, Result, WireEvent, open_conversation
from streamctl.net.base import excerpt
from streamctl.net.http import MAX_REFUSAL_BODY, accepted_types, refusal
from streamctl.net.urls import endpoint_base, join
from tests.broken_servers import http_server

ROOT = Path(__file__).resolve().parent.parent
DELTA = b'event: message\r\ndata: {"delta": "Hi"}\r\n\r\n'
DONE = b'event: message\r\ndata: {"done": true}\r\n\r\n'


class Collect:
    def __init__(self) -> None:
        self.events: list[WireEvent] = []
        self.frames: list[Frame] = []

    def on_head(self, request: object, response: object) -> None:
        pass

    def on_frame(self, frame: Frame) -> None:
        self.frames.append(frame)

    def on_event(self, event: WireEvent) -> None:
        self.events.append(event)

    @property
    def text(self) -> str:
        return "".join(e.update.text for e in self.events)


def exchange(
    protocol: str, url: str, message: str = "hi", limits: Limits | None = None, **options: object
) -> tuple[Result, Transcript, Collect]:
    proto = get(protocol)
    sink = io.StringIO()
    recorder = Recorder(sink, proto.name, proto.transport)
    seen = Collect()
    conv = open_conversation(
        proto,
        ClientOptions(message, **options),  # type: ignore[arg-type]
        url,
        recorders=lambda: recorder,
        observer=seen,
        limits=limits or Limits(timeout=10),
    )

    async def go() -> Result:
        try:
            return await conv.turn(message)
        finally:
            await conv.aclose()

    result = asyncio.run(go())
    return result, load(sink.getvalue()), seen


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "target", "ws", "url"),
    [
        ("http://h:1", "/api/chat/stream?message=x", False, "http://h:1/api/chat/stream?message=x"),
        ("http://h:1/", "/reply", False, "http://h:1/reply"),
        ("http://h:1/prefix/", "/reply", False, "http://h:1/prefix/reply"),
        ("http://h:1/reply", "/reply", False, "http://h:1/reply"),
        ("http://h:1?scenario=s", "/a?m=1", False, "http://h:1/a?m=1&scenario=s"),
        ("http://h:1?scenario=s", "/chat/ws", True, "ws://h:1/chat/ws?scenario=s"),
        ("https://h", "/chat/ws", True, "wss://h/chat/ws"),
        ("ws://h:2", "/reply", False, "http://h:2/reply"),
        ("WSS://h:2", "/ws", True, "wss://h:2/ws"),
        ("h:8000", "/reply", False, "http://h:8000/reply"),
        ("127.0.0.1:8000/p", "/ws", True, "ws://127.0.0.1:8000/p/ws"),
        (":8000", "/reply", False, "http://localhost:8000/reply"),
        ("http://h/api", "/api2/x", False, "http://h/api/api2/x"),
    ],
)
def test_the_protocols_target_is_joined_to_the_base_url(
    base: str, target: str, ws: bool, url: str
) -> None:
    assert join(base, target, websocket=ws) == url


@pytest.mark.parametrize("base", ["ftp://h/", "http://", "/just/a/path", "http://:80"])
def test_a_url_that_is_not_http_or_ws_is_a_usage_error(base: str) -> None:
    with pytest.raises(UsageError, match="not an http"):
        join(base, "/x")


MS_PATHS = ("/api/web/v1/chats/{chat_id}/messages/stream", "/api/web/v1/chats/{chat_id}/messages")


@pytest.mark.parametrize(
    ("url", "base", "values"),
    [
        ("http://h/api/web/v1/chats/3/messages/stream", "http://h", {"chat_id": "3"}),
        ("http://h/p/api/web/v1/chats/a%20b/messages/", "http://h/p", {"chat_id": "a b"}),
        ("h:1/api/web/v1/chats/3/messages/stream?x=1", "http://h:1?x=1", {"chat_id": "3"}),
        ("http://h/api/web/v1/chats/3/other", "http://h/api/web/v1/chats/3/other", {}),
        ("http://h", "http://h", {}),
    ],
)
def test_a_full_endpoint_url_gives_the_server_url_and_the_placeholders(
    url: str, base: str, values: dict[str, str]
) -> None:
    assert endpoint_base(url, MS_PATHS) == (base, values)


# --- live mock server ---------------------------------------------------------------------


def test_a_live_stream_is_recorded_chunk_by_chunk_and_passes_the_checker() -> None:
    # Paced, so each event is a write of its own (at speed 0 the server joins them into one).
    with LiveServer(ServerConfig(default_delay_ms=5.0, watch=False)) as paced:
        result, transcript, seen = exchange("sse-delta-done", paced.base_url, "hello there")
    assert (result.outcome, result.error, result.done) == ("complete", None, True)
    assert seen.text.startswith('You said: "hello there"')
    frames = [f for _, f in transcript.frames()]
    assert frames == seen.frames
    assert len(frames) > 1  # one chunk per write, as the server flushed them
    assert check(transcript) == []
    assert transcript.end == End(transcript.records[-1].t, "complete", result.detail)
    assert seen.events[0].sse == {
        "type": "message",
        "data": '{"delta": "You"}',
        "id": "",
        "retry": None,
    }


def test_an_ndjson_body_goes_through_the_sessions_own_feed(live_server: LiveServer) -> None:
    result, transcript, seen = exchange("message-stream", live_server.base_url, ndjson=True)
    assert result.done
    assert seen.text.startswith('You said: "hi"')
    assert all(e.sse is None for e in seen.events)
    assert transcript.header.response is not None
    assert transcript.header.response.header("content-type") == "application/x-ndjson"


def test_an_http_error_status_is_a_refusal_with_its_body_recorded(
    live_server: LiveServer,
) -> None:
    result, transcript, seen = exchange("sse-delta-done", live_server.base_url + "?scenario=nope")
    assert isinstance(result.error, HttpStatusError)
    assert "HTTP 404" in str(result.error)
    assert "unknown scenario" in str(result.error)
    assert seen.events == []
    assert b"unknown scenario" in b"".join(
        f.payload for _, f in transcript.frames() if isinstance(f.payload, bytes)
    )


def test_a_wrong_secret_is_refused_by_goose(live_server: LiveServer) -> None:
    result, _, _ = exchange("goose", live_server.base_url, secret_key="wrong")
    assert isinstance(result.error, HttpStatusError)
    assert str(result.error) == f"HTTP 401 from POST {live_server.base_url}/reply"


def test_an_error_event_in_the_stream_is_reported(live_server: LiveServer) -> None:
    url = live_server.base_url + "?scenario=error-mid-stream"
    result, _, _ = exchange("sse-delta-done", url)
    assert isinstance(result.error, ProtocolErrorEvent)
    assert result.done
    assert result.errors == (str(result.error),)


def test_extra_headers_reach_the_server() -> None:
    with http_server([DELTA, DONE]) as server:
        exchange("sse-delta-done", server.url, headers=(("X-Trace", "abc"),))
        assert b"X-Trace: abc" in server.requests[0]


# --- broken servers -----------------------------------------------------------------------


def test_json_where_a_stream_was_expected_is_a_wrong_content_type() -> None:
    body = [b'{"detail": "no"}']
    with http_server(body, headers=(("content-type", "application/json"),)) as server:
        result, transcript, _ = exchange("sse-delta-done", server.url)
    assert isinstance(result.error, WrongContentType)
    assert str(result.error) == 'expected text/event-stream, got application/json: {"detail": "no"}'
    assert [f.payload for _, f in transcript.frames()] == body


def test_nothing_listening_is_unreachable_and_still_a_transcript() -> None:
    result, transcript, _ = exchange("sse-delta-done", closed_port_url())
    assert isinstance(result.error, Unreachable)
    assert transcript.header.response is None
    assert transcript.end is not None
    assert transcript.end.outcome == "error"


def test_an_endless_stream_stops_at_the_timeout_keeping_what_arrived() -> None:
    with http_server([DELTA, DELTA], end="hang") as server:
        result, transcript, seen = exchange(
            "sse-delta-done", server.url, limits=Limits(timeout=0.3)
        )
    assert isinstance(result.error, StreamTimeout)
    assert result.outcome == "timeout"
    assert seen.text == "HiHi"
    assert transcript.end is not None
    assert transcript.end.outcome == "timeout"


def test_an_endless_stream_stops_at_max_events() -> None:
    with http_server([DELTA * 50], end="hang") as server:
        result, transcript, seen = exchange(
            "sse-delta-done", server.url, limits=Limits(timeout=10, max_events=3)
        )
    assert (result.outcome, result.error, result.events) == ("max-events", None, 3)
    assert len(seen.events) == 3
    assert transcript.end is not None
    assert transcript.end.outcome == "max-events"


def test_a_dropped_connection_is_recorded_as_a_disconnect() -> None:
    with http_server([DELTA], end="drop") as server:
        result, transcript, seen = exchange("sse-delta-done", server.url)
    assert isinstance(result.error, ConnectionLost)
    assert seen.text == "Hi"
    assert isinstance(transcript.records[-2], Disconnect)
    assert transcript.end is not None
    assert transcript.end.outcome == "error"


def test_linger_sees_what_a_server_sends_after_its_terminator() -> None:
    chunks = [DELTA, DONE, DELTA]
    with http_server(chunks, end="hang") as server:
        _quick, _, quick_seen = exchange("sse-delta-done", server.url)
    with http_server(chunks, end="hang") as server:
        slow, transcript, slow_seen = exchange(
            "sse-delta-done", server.url, limits=Limits(timeout=10, linger=0.2)
        )
    assert quick_seen.text == "Hi"  # without linger the client stops at the terminator
    assert (slow.outcome, slow.error) == ("complete", None)
    assert slow_seen.text == "HiHi"
    assert "sse-delta-done.done.not-last" in [f.rule for f in check(transcript)]


def test_a_server_that_ends_without_its_terminator_completes_undone() -> None:
    with http_server([DELTA]) as server:
        result, transcript, _ = exchange("sse-delta-done", server.url)
    assert (result.outcome, result.done) == ("complete", False)
    assert isinstance(result.error, ConnectionLost)
    assert result.detail == "the server ended the stream before the protocol's terminator"
    assert not any(isinstance(r, Disconnect) for r in transcript.records)


# --- helpers ------------------------------------------------------------------------------


def test_accept_decides_what_content_type_is_a_stream() -> None:
    from streamctl.core.transcript import Request, Response

    ndjson = Request("POST", "/", (("Accept", "application/x-ndjson, text/*;q=0.5"),))
    assert accepted_types(ndjson) == ["application/x-ndjson", "text/*"]
    assert refusal(ndjson, Response(200, (("content-type", "text/plain"),))) is None
    anything = Request("GET", "/", (("accept", "*/*"),))
    assert refusal(anything, Response(200)) is None
    plain = Request("GET", "/")
    error = refusal(plain, Response(200))
    assert isinstance(error, WrongContentType)
    assert str(error) == "expected text/event-stream, got no Content-Type"


def test_a_refusal_whose_body_never_ends_keeps_its_reason() -> None:
    with http_server(
        [b'{"detail": '], headers=(("content-type", "application/json"),), end="hang"
    ) as server:
        result, _, _ = exchange("sse-delta-done", server.url, limits=Limits(timeout=0.3))
    assert isinstance(result.error, WrongContentType)
    assert result.outcome == "timeout"


def test_a_huge_refusal_body_is_cut_short() -> None:
    part = b"x" * (MAX_REFUSAL_BODY // 2 + 1)
    body = part * 4
    with http_server([part] * 4, status=500, end="hang") as server:
        result, transcript, _ = exchange("sse-delta-done", server.url)
    assert isinstance(result.error, HttpStatusError)
    kept = b"".join(f.payload for _, f in transcript.frames())  # type: ignore[misc]
    assert MAX_REFUSAL_BODY <= len(kept) < len(body)


def test_an_exchanges_clock_starts_after_what_httpx_loads_on_its_first_connection(
    live_server: LiveServer,
) -> None:
    # httpcore imports anyio's backend when it first connects (about 40 ms): counted inside
    # the exchange, it would be the server's time to first byte in a recording and in `send`.
    # This process has loaded it long ago, so a fresh interpreter makes the first exchange.
    script = textwrap.dedent(
        """
        import sys
        from streamctl.cli.app import main
        from streamctl.engine.recorder import Recorder

        loaded = []
        start = Recorder.start

        def started(self, request):
            loaded.append("anyio._backends._asyncio" in sys.modules)
            return start(self, request)

        Recorder.start = started
        sys.argv = ["streamctl", "send", "sse-delta-done", sys.argv[1], "hi"]
        try:
            main()
        except SystemExit as exit:
            print(exit.code, loaded)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, live_server.base_url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.stdout.splitlines()[-1] == "0 [True]", done.stdout + done.stderr


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"line one\r\nline two\r\n", "line one line two"),  # CRLF is one line break
        (b"a\rb\nc", "a b c"),
        (b'{"detail": "Not found"}', "Not found"),
        (b'{"detail": "bad", "faults": ["drop", "stall"]}', "bad; faults: drop, stall"),
        (b'{"detail": ["not", "a string"]}', '{"detail": ["not", "a string"]}'),
        (b"not json {", "not json {"),
        (b"\xff\xfe", "\ufffd\ufffd"),
    ],
)
def test_an_error_body_is_excerpted_on_one_line(body: bytes, shown: str) -> None:
    assert excerpt(body) == shown


def test_an_excerpt_is_cut_only_past_its_limit_and_as_is_keeps_json() -> None:
    assert excerpt(b"x" * 10, limit=10) == "x" * 10
    assert excerpt(b"x" * 11, limit=10) == "x" * 9 + "…"
    assert excerpt(b'{"detail": "d"}', as_is=True) == '{"detail": "d"}'
