"""The streaming transcript writer: live, flushed, redacted, and always ended."""

from __future__ import annotations

import asyncio
import io

import pytest

from streamctl.core.transcript import Close, Disconnect, End, Frame, Request, Response, load
from streamctl.engine.clock import FakeClock
from streamctl.engine.recorder import NullSink, Recorder, outcome_of, redact_request
from streamctl.errors import StreamTimeout, Unreachable

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJ1In0.c2lnbmF0dXJl"


class Spy(io.StringIO):
    """A sink that remembers what had been flushed at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[str] = []

    def flush(self) -> None:
        super().flush()
        self.flushed.append(self.getvalue())


def recorder(sink: io.StringIO | None = None, clock: FakeClock | None = None) -> Recorder:
    return Recorder(sink or Spy(), "sse-delta-done", "sse", clock=clock or FakeClock(10.0))


def lines(sink: io.StringIO) -> list[str]:
    return sink.getvalue().splitlines()


def test_the_header_is_written_as_soon_as_the_response_head_is_known() -> None:
    sink = Spy()
    rec = recorder(sink)
    rec.start(Request("GET", "/api/chat/stream?message=hi"))
    assert sink.getvalue() == ""
    rec.head(Response(200, (("content-type", "text/event-stream"),)))
    assert len(sink.flushed) == 1
    assert '"status":200' in sink.flushed[0]


def test_every_record_is_flushed_the_moment_it_arrives() -> None:
    sink = Spy()
    clock = FakeClock(100.0)
    rec = recorder(sink, clock)
    rec.start(Request("GET", "/"))
    rec.head(Response(200))
    for i in range(3):
        asyncio.run(clock.advance(0.25))
        rec.frame("server", b"data: %d\n\n" % i)
        assert len(lines(io.StringIO(sink.flushed[-1]))) == 2 + i
    transcript = load(sink.getvalue())
    assert [r.t for r in transcript.records] == [250.0, 500.0, 750.0]
    assert transcript.end is None  # still streaming: nothing pretends it ended


def test_the_file_loads_back_with_every_kind_of_record() -> None:
    sink = io.StringIO()
    with recorder(sink) as rec:
        rec.start(Request("GET", "/ws/chat"))
        rec.head(Response(101))
        rec.frame("client", '{"type":"message","data":{"message":"hi"}}')
        rec.frame("server", b"\xff binary")
        rec.close("server", 1000, "bye")
        rec.disconnect("reset")
    transcript = load(sink.getvalue())
    kinds = [type(r) for r in transcript.records]
    assert kinds == [Frame, Frame, Close, Disconnect, End]
    assert transcript.records[1] == Frame(0.0, "server", b"\xff binary")
    assert transcript.end == End(0.0, "complete")


def test_secrets_never_reach_the_sink() -> None:
    sink = io.StringIO()
    rec = recorder(sink)
    request = Request(
        "POST",
        f"/reply?token={JWT}&message=hi",
        (("X-Secret-Key", "hunter2"), ("Authorization", f"Bearer {JWT}"), ("accept", "x")),
        b'{"messages":[],"api_key":"sk-live-123"}',
    )
    rec.start(request)
    rec.head(Response(200, (("set-cookie", "session=abc"),)))
    rec.frame("client", f'{{"type":"join_chat","data":{{"token":"{JWT}"}}}}')
    rec.end("complete")
    text = sink.getvalue()
    for secret in ("hunter2", JWT, "sk-live-123", "session=abc"):
        assert secret not in text
    transcript = load(text)
    assert transcript.header.request.target == "/reply?token=<redacted>&message=hi"
    assert ("accept", "x") in transcript.header.request.headers


def test_redact_request_keeps_what_is_not_secret() -> None:
    request = Request("GET", "/x?message=hi", (("accept", "text/event-stream"),))
    assert redact_request(request) == request


def test_a_recording_that_failed_before_any_response_is_still_a_transcript() -> None:
    sink = io.StringIO()
    rec = recorder(sink)
    rec.start(Request("GET", "/"))
    rec.end("error", "connection refused")
    transcript = load(sink.getvalue())
    assert transcript.header.response is None
    assert transcript.end == End(0.0, "error", "connection refused")


def test_the_exact_request_can_replace_the_planned_one_at_the_head() -> None:
    sink = io.StringIO()
    rec = recorder(sink)
    rec.start(Request("GET", "/ws/chat"))
    rec.head(Response(101), Request("GET", "/ws/chat", (("Sec-WebSocket-Key", "k"),)))
    rec.head(Response(500))  # a second head is ignored
    header = load(sink.getvalue()).header
    assert header.request.headers == (("Sec-WebSocket-Key", "<redacted>"),)
    assert header.response == Response(101)


def test_only_the_first_end_counts_and_nothing_follows_it() -> None:
    sink = io.StringIO()
    rec = recorder(sink)
    rec.end("timeout", "30 s")
    rec.end("complete")
    rec.frame("server", b"late")
    assert [type(r) for r in load(sink.getvalue()).records] == [End]
    assert rec.ended == End(0.0, "timeout", "30 s")


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (KeyboardInterrupt(), "interrupted"),
        (asyncio.CancelledError(), "interrupted"),
        (TimeoutError(), "timeout"),
        (StreamTimeout("5 s"), "timeout"),
        (Unreachable("refused"), "error"),
        (ValueError("bug"), "error"),
    ],
)
def test_every_way_out_of_a_recording_ends_the_transcript(exc: BaseException, outcome: str) -> None:
    sink = io.StringIO()

    def record() -> None:
        with recorder(sink) as rec:
            rec.start(Request("GET", "/"))
            rec.head(Response(200))
            rec.frame("server", b"data: 1\n\n")
            raise exc

    with pytest.raises(type(exc)):
        record()
    transcript = load(sink.getvalue())
    assert transcript.end is not None
    assert transcript.end.outcome == outcome == outcome_of(exc)
    assert len(transcript.records) == 2


def test_without_keep_nothing_accumulates_in_memory() -> None:
    rec = Recorder(NullSink(), "goose", "sse", keep=False)
    rec.start(Request("GET", "/"))
    for _ in range(100):
        rec.frame("server", b"x")
    rec.end("complete")
    assert rec.records == []
    assert rec.ended is not None
    assert rec.transcript().records == ()


def test_offsets_count_from_the_request() -> None:
    clock = FakeClock(5.0)
    rec = recorder(clock=clock)
    assert rec.offset() == 0.0
    rec.start(Request("GET", "/"))
    asyncio.run(clock.advance(0.5))
    assert rec.offset() == 500.0
