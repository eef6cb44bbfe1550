"""The generic checker: every finding, ordered, on complete, partial and refused streams."""

from __future__ import annotations

import json

from streamctl.core.check import check, failed
from streamctl.core.spec import Finding, Level
from streamctl.core.transcript import Header, Request, Response, Transcript
from tests.builders import SSE_HEADERS, sse_transcript

NAME = "sse-delta-done"


def delta(text: str) -> bytes:
    return f"data: {json.dumps({'delta': text})}\n\n".encode()


DONE = b'data: {"done": true}\n\n'


def test_a_refused_request_reports_the_status_and_nothing_about_a_missing_stream() -> None:
    transcript = sse_transcript(
        NAME, [b'{"detail": "nope"}'], status=404, headers=(("content-type", "application/json"),)
    )
    assert [f.rule for f in check(transcript)] == ["sse.http.status"]


def test_every_finding_is_reported_in_frame_order_not_just_the_first() -> None:
    chunks = [delta("a"), b"data: nope\n\n", DONE, delta("late"), delta("later")]
    transcript = sse_transcript(NAME, chunks, headers=(("content-type", "text/event-stream"),))
    assert [(f.rule, f.frame) for f in check(transcript)] == [
        ("sse.http.cache-control", None),
        ("sse-delta-done.json", 1),
        ("sse-delta-done.done.not-last", 3),
        ("sse-delta-done.done.not-last", 4),
    ]


def test_a_partial_stream_says_what_is_missing_and_how_the_recording_ended() -> None:
    findings = check(sse_transcript(NAME, [delta("a")], end="timeout"))
    assert [f.rule for f in findings] == ["sse-delta-done.done.missing"]
    assert "expecting delta, done, error, tool" in findings[0].message
    assert "the recording ended: timeout" in findings[0].message
    assert findings[0].frame == 1


def test_an_empty_transcript_without_a_response_is_incomplete() -> None:
    transcript = Transcript(Header(NAME, "sse", Request("GET", "/")))
    assert [(f.rule, f.frame) for f in check(transcript)] == [("sse-delta-done.done.missing", None)]


def test_only_must_findings_fail_unless_strict() -> None:
    should = Finding("x", Level.SHOULD, "m", "s")
    must = Finding("y", Level.MUST, "m", "s")
    assert not failed([])
    assert not failed([should])
    assert failed([should], strict=True)
    assert failed([must])


def test_check_accepts_an_explicit_protocol() -> None:
    from streamctl.core.protocols import get

    transcript = sse_transcript("renamed", [delta("a"), DONE], headers=SSE_HEADERS)
    assert check(transcript, get(NAME)) == []
    assert Response(200).header("x") is None


def test_a_protocol_without_an_order_table_has_no_order_findings() -> None:
    from streamctl.core.check import order_findings
    from streamctl.core.protocols.sse_delta_done import SPEC, SSEDeltaDone
    from streamctl.core.spec import Spec

    class Unordered(SSEDeltaDone):
        spec = Spec(SPEC.rules, SPEC.schemas)

    transcript = sse_transcript(NAME, [delta("a")])
    assert order_findings(Unordered(), [], transcript) == []


def test_check_leaves_a_paused_collector_paused() -> None:
    import gc

    gc.disable()
    try:
        check(sse_transcript(NAME, [delta("a"), DONE]))
        assert not gc.isenabled()
    finally:
        gc.enable()
    check(sse_transcript(NAME, [delta("a"), DONE]))
    assert gc.isenabled()


def test_an_unexpected_message_resyncs_from_any_state_that_takes_it() -> None:
    from streamctl.core.check import _resync
    from streamctl.core.protocols import get as protocol

    machine = protocol("ws-events").spec.machine
    assert machine is not None
    # complete in state "connected": no single missing frame explains it; typing takes it.
    assert _resync(machine, "connected", "assistant_message_complete") == "chat"
    assert _resync(machine, "connected", "no-such-type") == "connected"
    done = protocol("sse-delta-done").spec.machine
    assert done is not None
    final = next(iter(done.terminal))
    assert _resync(done, final, "delta") == final
