"""The reply pipeline: the order of decisions, the renderings kept, and sending on a fake clock."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any

import pytest

from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import Out, Settings, Turn
from streamctl.core.protocols.protocol import SSEProtocol, WSProtocol
from streamctl.core.script import Script, Token, from_text
from streamctl.core.transcript import Close, Frame, Header, Request, Response, Transcript
from streamctl.engine.choice import Choice
from streamctl.engine.clock import FakeClock
from streamctl.engine.fault_parsing import FaultError, parse_many
from streamctl.engine.fault_planning import Drop, Plan
from streamctl.engine.replay import ws_replay
from streamctl.engine.reply import (
    Closing,
    Refused,
    Rendering,
    Renderings,
    Replies,
    Reply,
    Resume,
    SSERenderer,
    admit,
    bad_fault,
    replay_segment,
    send,
)
from streamctl.engine.scenarios import Scenario, ScenarioSet
from tests.fake_time import drive, run

SSE = get("sse-delta-done")
WS = get("chunk-complete")
assert isinstance(SSE, SSEProtocol)
assert isinstance(WS, WSProtocol)
SCRIPT = Script(tuple(Token(t, 100) for t in ("Hé", " là", " ok")))
GREET = Scenario("greet", (SCRIPT,))
FAULTY = Scenario("faulty", (SCRIPT,), faults=parse_many(["http:503"]))
SCENARIOS = ScenarioSet((GREET, FAULTY))
HEAD = (200, (("content-type", "text/event-stream"),))


def sse_reply(choice: Choice, **kw: Any) -> Reply:
    renderer = SSERenderer(SSE, SSE.new_state(Settings()))  # type: ignore[arg-type]
    return Replies(SSE).prepare(choice, Turn("hi"), renderer, head=HEAD, **kw)


def test_a_bad_fault_then_an_unknown_scenario_then_a_refusal_fault() -> None:
    with pytest.raises(FaultError) as caught:
        parse_many(["http:299"])
    refused = bad_fault(caught.value)
    assert (refused.response.status, refused.outcome) == (422, "bad-fault")
    with pytest.raises(Refused) as unknown:
        admit(SCENARIOS, "sse-delta-done", "nope", parse_many(["http:429"]))
    assert (unknown.value.response.status, unknown.value.outcome) == (404, "unknown-scenario")
    assert b'"available":["greet","faulty"]' in unknown.value.response.body
    with pytest.raises(Refused) as fault:
        admit(SCENARIOS, "sse-delta-done", "greet", parse_many(["http:429,retry-after=3"]))
    assert (fault.value.response.status, fault.value.outcome) == (429, "fault")
    assert ("retry-after", "3") in fault.value.response.headers
    assert admit(SCENARIOS, "sse-delta-done", "greet", ()) is GREET
    assert admit(SCENARIOS, "sse-delta-done", None, ()) is None


def test_a_reply_nothing_changed_is_the_rendering_kept_for_the_scenario() -> None:
    replies = Replies(SSE)
    renderer = SSERenderer(SSE, SSE.new_state(Settings()))  # type: ignore[arg-type]
    choice = Choice(SCRIPT, GREET, "request")
    first = replies.prepare(choice, Turn("hi"), renderer, head=HEAD)
    again = replies.prepare(choice, Turn("hi"), renderer, head=HEAD)
    assert first.plan is None
    assert first.ending is None
    assert again.rendering is first.rendering
    assert (first.status, first.headers) == HEAD
    default = replies.prepare(Choice(SCRIPT, None, "default"), Turn("hi"), renderer, head=HEAD)
    assert default.rendering is not first.rendering  # the default reply is rendered each time
    assert default.rendering.outs == first.rendering.outs


def test_faults_and_resume_make_a_plan() -> None:
    choice = Choice(SCRIPT, GREET, "request")
    dropped = sse_reply(choice, faults=parse_many(["drop:after=1"]))
    assert dropped.plan is not None
    assert dropped.ending == Drop(1011)
    typed = sse_reply(choice, server_faults=parse_many(["http:content-type=text/plain"]))
    assert ("content-type", "text/plain") in typed.headers
    resumed = sse_reply(choice, resume=Resume("1"))
    assert resumed.plan is not None
    written = b"".join(o.payload for o in resumed.plan.steps if isinstance(o, Out))  # type: ignore[misc]
    assert written.startswith(b"id: 2")
    assert sse_reply(choice, resume=Resume()).plan is not None


def test_a_scenarios_refusal_fault_refuses_an_sse_reply_not_a_websocket_turn() -> None:
    choice = Choice(SCRIPT, FAULTY, "request")
    with pytest.raises(Refused) as refused:
        sse_reply(choice)
    assert refused.value.response.status == 503
    session = WS.open(WS.new_state(Settings()))  # type: ignore[attr-defined]
    reply = Replies(WS).prepare(choice, Turn("hi"), session)
    assert reply.plan is not None
    assert reply.ending is None


def test_a_recorded_sse_reply_keeps_its_head_and_gets_no_ids() -> None:
    head = Response(200, (("content-type", "text/event-stream"), ("content-length", "9")))
    frames = (Frame(0.0, "server", b"data: a\n\n"), Frame(50.0, "server", b"data: b\n\n"))
    taped = Transcript(Header("sse-delta-done", "sse", Request("GET", "/"), head), frames)
    scenario = Scenario("taped", (from_text("ab"),), recording=taped)
    reply = sse_reply(Choice(scenario.script(0), scenario, "request"), resume=Resume())
    assert (reply.status, reply.headers) == (200, (("content-type", "text/event-stream"),))
    assert reply.plan is None
    assert reply.heartbeat is None
    assert [o.payload for o in reply.rendering.outs] == [b"data: a\n\n", b"data: b\n\n"]


def test_renderings_are_kept_per_script_and_key_and_the_cache_is_bounded() -> None:
    made: list[object] = []
    renderings = Renderings(limit=2)

    def render(script: Script, key: Hashable | None) -> tuple[Out, ...]:
        def once() -> list[Out]:
            made.append(key)
            return [Out(script.text)]

        return renderings.get(script, key, once).outs

    hello, same_text = Script((Token("hello"),)), Script((Token("hello"),))
    assert render(hello, 0) == render(hello, 0) == (Out("hello"),)
    assert made == [0]
    render(same_text, 0)  # an equal script from a reload is another object: rendered afresh
    assert made == [0, 0]
    render(hello, 1)  # a third rendering: the least recently used one (hello's for 0) went
    render(same_text, 0)
    render(hello, 1)
    assert made == [0, 0, 1]
    render(hello, 0)
    assert made == [0, 0, 1, 0]
    render(hello, None)  # no key: the rendering varies, so it is never kept
    render(hello, None)
    assert made == [0, 0, 1, 0, None, None]


def test_renderings_keep_at_most_their_budget_of_writes() -> None:
    """A long script rendered once per turn (a WebSocket reply's id is its turn) is the case the
    size bound is for: by count alone, 256 renderings of any length were kept."""
    renderings = Renderings(budget=2500)
    made: list[int] = []

    def render(script: Script, turn: int) -> Rendering:
        def once() -> list[Out]:
            made.append(turn)
            return [Out(f"{turn}:{t.text}", token=i) for i, t in enumerate(script.tokens)]

        return renderings.get(script, turn, once)

    long = Script(tuple(Token(f"t{i} ") for i in range(1000)))
    first = [render(long, turn) for turn in range(10)]
    assert render(long, 9) is first[9]
    assert render(long, 8) is first[8]  # two of 1,000 writes fit in 2,500: the latest two
    assert made == list(range(10))
    render(Script(tuple(Token("x") for _ in range(3000))), 99)  # over the whole budget
    assert render(long, 9) is first[9]  # nothing was evicted for it
    assert render(long, 8) is first[8]
    assert made == [*range(10), 99]
    render(long, 0)  # a third: the least recently used (turn 9) goes
    assert render(long, 8) is first[8]
    assert render(long, 9) is not first[9]
    assert made == [*range(10), 99, 0, 9]


class Sink:
    """A writer on a fake clock: notes each message sent and when."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent: list[tuple[float, Any]] = []
        self.kept: dict[Rendering, tuple[Any, ...]] = {}

    @staticmethod
    def message(payload: bytes | str) -> tuple[str, bytes | str]:
        return ("message", payload)

    def write(self, payload: bytes | str) -> Any:
        return self.send(self.message(payload))

    def messages(self, rendering: Rendering) -> Sequence[Any]:
        if rendering not in self.kept:
            self.kept[rendering] = tuple(self.message(o.payload) for o in rendering.outs)
        return self.kept[rendering]

    def joined(self, rendering: Rendering, speed: float) -> None:
        return None  # one message per write: the tests here compare writes

    async def send(self, message: Any) -> None:
        self.sent.append((round(self.clock.now(), 6), message))


def sent_on_fake_clock(reply: Reply, speed: float = 1.0) -> tuple[list[tuple[float, Any]], Sink]:
    """What ``send`` sent and when; the time it returned is last, as ``("returned", None)``."""

    async def main() -> tuple[list[tuple[float, Any]], Sink]:
        clock = FakeClock()
        sink = Sink(clock)
        task = asyncio.create_task(send(reply, sink, clock, speed=speed))
        await drive(clock, task, 0.01, 2000)
        await task
        return [*sink.sent, (round(clock.now(), 6), ("returned", None))], sink

    return run(main())  # type: ignore[no-any-return]


def test_as_rendered_and_write_by_write_send_the_same_messages_at_the_same_times() -> None:
    # The speed trick (messages made once per rendering) against the plain way (a message per
    # write): goose has a heartbeat, so heartbeats are compared too.
    goose = get("goose")
    assert isinstance(goose, SSEProtocol)
    state = goose.new_state(Settings())
    slow = Script(tuple(Token(t, 400) for t in ("a", "b", "c")))
    reply = Replies(goose).prepare(
        Choice(slow, None, "default"), Turn("hi"), SSERenderer(goose, state), head=HEAD
    )
    assert reply.plan is None
    assert reply.heartbeat is not None
    fast, sink = sent_on_fake_clock(reply)
    assert sink.kept  # the messages were made once, for the rendering
    plain = dataclasses.replace(reply, plan=Plan(list(reply.rendering.outs)))
    assert sent_on_fake_clock(plain)[0] == fast
    assert ("message", reply.heartbeat.outs[0].payload) in [m for _, m in fast]


def test_a_recorded_connection_replays_segment_by_segment_then_closes() -> None:
    request = Request("GET", "/chat/ws")
    records = (
        Frame(0.0, "server", "hello"),
        Frame(10.0, "client", "hi"),
        Frame(30.0, "server", "a"),
        Close(530.0, "server", 4000, "bye"),
    )
    taped = Transcript(Header("chunk-complete", "ws", request, Response(101)), records)
    replay = ws_replay(taped)
    choice = Choice(Script(()), Scenario("taped", recording=taped), "queue")
    opening = replay_segment(choice, replay, 0)
    assert ([o.payload for o in opening.rendering.outs], opening.ending) == (["hello"], None)
    answer = replay_segment(choice, replay, 1)
    assert answer.ending == Closing(4000, "bye", 500.0)
    sent, _ = sent_on_fake_clock(answer, speed=0.5)
    assert sent == [(0.01, ("message", "a")), (0.26, ("returned", None))]  # the close is due
    assert replay_segment(choice, replay, 2).rendering.outs == ()
