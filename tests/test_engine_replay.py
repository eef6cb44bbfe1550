"""Recordings turned into the writes a server replays."""

from __future__ import annotations

from streamctl.core.protocols.exchange import Out
from streamctl.core.transcript import Close, End, Frame, Header, Request, Response, Transcript
from streamctl.engine.replay import replay_outs, ws_replay


def sse_recording(*frames: tuple[float, bytes]) -> Transcript:
    header = Header("sse-delta-done", "sse", Request("GET", "/"), Response(200))
    records = [Frame(t, "server", p) for t, p in frames]
    return Transcript(header, (*records, End(frames[-1][0] + 1, "complete")))


def test_a_recording_replays_its_bytes_chunks_and_gaps() -> None:
    recording = sse_recording((12.5, b"data: 1\n"), (40.0, b"\ndata: 2\n\n"), (40.0, b": x\n\n"))
    assert replay_outs(recording) == [
        Out(b"data: 1\n", 12.5),
        Out(b"\ndata: 2\n\n", 27.5),
        Out(b": x\n\n", 0.0, terminal=True),
    ]


def test_an_empty_recording_replays_nothing() -> None:
    header = Header("sse-delta-done", "sse", Request("GET", "/"), Response(200))
    assert replay_outs(Transcript(header)) == []


def test_a_websocket_recording_splits_at_the_clients_messages() -> None:
    header = Header("chunk-complete", "ws", Request("GET", "/chat/ws"), Response(101))
    records = (
        Frame(5, "server", "hello"),
        Frame(10, "client", "q1"),
        Frame(30, "server", "a1"),
        Frame(35, "server", b"\x00bin"),
        Frame(50, "client", "q2"),
        Frame(51, "client", "q3"),
        Frame(70, "server", "a3"),
        Close(90, "server", 4000, "bye"),
        Frame(95, "server", "never sent"),
    )
    replay = ws_replay(Transcript(header, records))
    assert replay.segments == (
        (Out("hello", 5),),
        (Out("a1", 20), Out(b"\x00bin", 5)),
        (),
        (Out("a3", 19),),
    )
    assert replay.close is not None
    assert (replay.close.segment, replay.close.code, replay.close.reason) == (3, 4000, "bye")
    assert replay.close.delay_ms == 20


def test_a_websocket_recording_the_client_closed_replays_no_close() -> None:
    header = Header("chunk-complete", "ws", Request("GET", "/chat/ws"), Response(101))
    records = (
        Frame(1, "client", "q"),
        Frame(2, "server", "a"),
        Close(3, "client", 1000),
        Close(4, "server", 1000),  # the echo of the client's close
    )
    replay = ws_replay(Transcript(header, records))
    assert replay.close is None
    assert replay.segments == ((), (Out("a", 1),))
