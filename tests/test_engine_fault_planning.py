"""Applying faults to a protocol's writes, and sending the plan, on a fake clock."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest

from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import Out, Settings, Turn
from streamctl.core.script import Script, Token
from streamctl.core.sse import decode
from streamctl.engine.clock import FakeClock
from streamctl.engine.fault_parsing import parse_many
from streamctl.engine.fault_planning import Drop, Pause, Plan, apply, refusal
from streamctl.engine.pacing import play_plan
from streamctl.engine.resume import resume_after, with_ids
from tests.fake_time import Wire, drive, run

SSE = get("sse-delta-done")
WS = get("chunk-complete")
SCRIPT = Script(tuple(Token(t) for t in ("Hé", " là", " ok")))


def sse_outs() -> list[Out]:
    return list(SSE.render(SCRIPT, Turn("hi"), None))  # type: ignore[attr-defined]


def ws_outs() -> list[Out]:
    return list(WS.open(WS.new_state(Settings())).render(SCRIPT, Turn("hi")))  # type: ignore[attr-defined]


def plan(spec: str, outs: Sequence[Out] | None = None, protocol: Any = SSE) -> Plan:
    return apply(parse_many([spec]), sse_outs() if outs is None else outs, protocol)


def writes(p: Plan) -> list[Out]:
    return [s for s in p.steps if isinstance(s, Out)]


def datas(p: Plan) -> list[str]:
    body = b"".join(o.payload for o in writes(p) if isinstance(o.payload, bytes))
    return [e.data for e in decode(body)[0]]


def test_no_faults_keeps_the_writes_as_they_are() -> None:
    outs = sse_outs()
    assert apply((), outs, SSE) == Plan(outs)


def test_drop_after_n_writes_and_mid_event() -> None:
    dropped = plan("drop:after=2")
    assert (len(writes(dropped)), dropped.drop) == (2, Drop(1011))
    mid = plan("drop:after=2,mid,code=4001")
    assert mid.drop == Drop(4001)
    half = writes(mid)[2].payload
    assert isinstance(half, bytes)
    assert half
    assert not half.endswith(b"\r\n\r\n")
    assert plan("drop:ms=300").deadline_ms == 300
    assert len(writes(plan("drop:after=9,mid"))) == len(sse_outs())


def test_stall_inserts_a_pause_after_the_first_writes() -> None:
    steps = plan("stall:ms=2000,pings").steps
    assert steps[1] == Pause(2000, pings=True)
    assert plan("stall:ms=5,after=0").steps[0] == Pause(5)
    assert plan("stall:ms=5,after=99").steps[-1] == Pause(5)


def test_drip_splits_lines_and_utf8_characters() -> None:
    dripped = plan("drip:bytes=1,ms=3")
    pieces = writes(dripped)
    assert all(len(o.payload) == 1 for o in pieces)
    assert Pause(3) in dripped.steps
    assert b"".join(o.payload for o in pieces) == b"".join(o.payload for o in sse_outs())  # type: ignore[misc]
    assert sum(o.terminal for o in pieces) == 1
    assert [o.token for o in pieces if o.token is not None] == [0, 1, 2]
    assert writes(plan("drip:bytes=2", ws_outs(), WS)) == ws_outs()  # messages are not split


def test_delay_and_seeded_jitter() -> None:
    assert plan("delay:ms=500").steps[0] == Pause(500)
    first = [s for s in plan("jitter:ms=50,seed=7").steps if isinstance(s, Pause)]
    again = [s for s in plan("jitter:ms=50,seed=7").steps if isinstance(s, Pause)]
    other = [s for s in plan("jitter:ms=50,seed=8").steps if isinstance(s, Pause)]
    assert first == again != other
    assert len(first) == 3
    assert all(0 <= p.ms <= 50 for p in first)


def test_malformed_frames_on_sse() -> None:
    assert datas(plan("malformed:json"))[0] == '{"delta": "H\\u00e9"'
    assert json.loads(datas(plan("malformed:unknown-type"))[0]) == {"streamctl_unknown_type": "Hé"}
    assert json.loads(datas(plan("malformed:missing-field,token=1"))[1]) == {}
    assert datas(plan("malformed:no-terminator"))[-1] == '{"delta": " ok"}'
    assert datas(plan("malformed:double-terminator"))[-2:] == ['{"done": true}'] * 2
    assert datas(plan("malformed:after-terminator"))[-2:] == ['{"done": true}', '{"delta": " ok"}']


def test_malformed_frames_on_a_websocket() -> None:
    outs = ws_outs()
    spoiled = writes(plan("malformed:missing-field", outs, WS))[0].payload
    assert isinstance(spoiled, str)
    assert "text" not in json.loads(spoiled) or "message_id" not in json.loads(spoiled)
    renamed = writes(plan("malformed:unknown-type", outs, WS))[0].payload
    assert json.loads(str(renamed))["type"] == "streamctl_unknown_type"


def test_malformed_faults_without_anything_to_spoil_change_nothing() -> None:
    terminal_only = [Out(b'data: {"done": true}\n\n', terminal=True)]
    for spec in ("malformed:json", "malformed:missing-field", "malformed:unknown-type"):
        assert writes(plan(spec, terminal_only)) == terminal_only
    assert writes(plan("malformed:after-terminator", terminal_only)) == terminal_only
    not_json = [Out(b"data: nope\n\n", token=0), Out(b": c\n\n", token=1)]
    for spec in ("malformed:missing-field,token=0", "malformed:unknown-type,token=1"):
        assert writes(plan(spec, not_json)) == not_json
    tool = [Out(b'event: tool\ndata: {"tool_name": "x"}\n\n', token=0)]
    assert writes(plan("malformed:missing-field", tool))[0] != tool[0]


def test_http_faults() -> None:
    assert refusal(parse_many(["delay:ms=1"])) is None
    response = refusal(parse_many(["http:429,retry-after=5"]))
    assert response is not None
    assert response.status == 429
    assert ("retry-after", "5") in response.headers
    p = plan("http:content-type=application/json;http:content-length")
    head = dict(p.head((("content-type", "text/event-stream"), ("x", "1"))))
    assert head["content-type"] == "application/json"
    assert head["content-length"] == str(sum(len(o.payload) for o in sse_outs()))  # type: ignore[misc]


def test_ids_and_resume() -> None:
    outs = sse_outs()
    ided = with_ids(outs, retry_ms=100)
    events = decode(b"".join(o.payload for o in ided))[0]  # type: ignore[misc]
    assert [e.id for e in events] == ["0", "1", "2", "3"]
    assert events[0].retry == 100
    assert resume_after(ided, "1") == ided[2:]
    assert resume_after(ided, None) == ided == resume_after(ided, "x") == resume_after(ided, "9")
    assert with_ids([Out("text")]) == [Out("text")]
    assert with_ids([Out(b"data: a\rdata: b\r\r")])[0].payload.startswith(b"id: 0\r")  # type: ignore[union-attr]


def play_on_fake_clock(p: Plan, **kw: Any) -> list[tuple[float, bytes | str]]:
    async def main() -> list[tuple[float, bytes | str]]:
        clock = FakeClock()
        wire = Wire(clock)
        task = asyncio.create_task(play_plan(p, wire.write, clock, **kw))
        await drive(clock, task, 0.05, 200)
        await task
        return wire.writes

    return run(main())


def test_a_stall_with_pings_sends_the_ping_meanwhile() -> None:
    outs = [Out(b"a", token=0), Out(b"b", token=1)]
    sent = play_on_fake_clock(plan("stall:ms=1200,pings", outs), ping=b":\n\n")
    assert sent == [(0.0, b"a"), (0.5, b":\n\n"), (1.0, b":\n\n"), (1.2, b"b")]
    silent = play_on_fake_clock(plan("stall:ms=1200", outs), ping=b":\n\n")
    assert silent == [(0.0, b"a"), (1.2, b"b")]
    beat = play_on_fake_clock(plan("stall:ms=700,pings", outs), heartbeat=b"P", heartbeat_ms=300)
    assert beat == [(0.0, b"a"), (0.3, b"P"), (0.6, b"P"), (0.7, b"b")]


def test_a_drop_after_some_time_stops_the_writes() -> None:
    outs = [Out(b"a", token=0), Out(b"b", 1000, token=1)]
    p = plan("drop:ms=300", outs)
    assert [w for _, w in play_on_fake_clock(p)] == [b"a"]
    quick = plan("drop:ms=3000", [Out(b"a")])
    assert [w for _, w in play_on_fake_clock(quick)] == [b"a"]


def test_a_plan_without_faults_plays_like_play() -> None:
    outs = [Out(b"a", token=0), Out(b"b", 100, token=1)]
    assert play_on_fake_clock(apply((), outs, SSE)) == [(0.0, b"a"), (0.1, b"b")]


@pytest.mark.parametrize("spec", ["delay:ms=100", "jitter:ms=10,seed=1"])
def test_timing_faults_wait_real_time_whatever_the_speed(spec: str) -> None:
    outs = [Out(b"a", token=0)]
    sent = play_on_fake_clock(plan(spec, outs), speed=0)
    assert [w for _, w in sent] == [b"a"]
    if spec.startswith("delay"):
        assert sent[0][0] == pytest.approx(0.1)


def test_a_content_length_stream_gets_no_heartbeats() -> None:
    outs = [Out(b"a", token=0), Out(b"b", 1000, token=1)]
    p = plan("http:content-length;stall:ms=1000,pings", outs)
    sent = play_on_fake_clock(p, heartbeat=b"P", heartbeat_ms=300)
    assert [w for _, w in sent] == [b"a", b"b"]
