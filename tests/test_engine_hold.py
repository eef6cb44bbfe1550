"""Held replies on a fake clock: where they stop, the heartbeat while held, pacing after."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import Out, Settings, Turn
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.script import HoldPoint, Script, Token
from streamctl.engine.choice import Choice
from streamctl.engine.clock import FakeClock
from streamctl.engine.fault_planning import Pause, Plan
from streamctl.engine.hold import HOLD_AFTER, Cut, Gate, Stop, send_held, stops
from streamctl.engine.pacing import Progress
from streamctl.engine.reply import Replies, Reply, SSERenderer
from tests.fake_time import run
from tests.test_engine_reply import HEAD, Sink

GOOSE = get("goose")
assert isinstance(GOOSE, SSEProtocol)
PING = GOOSE.heartbeat


def writes(*tokens: int | None, terminal: bool = True) -> list[Out]:
    outs = [Out(b"w", token=t) for t in tokens]
    return [*outs, Out(b"end", terminal=True)] if terminal else outs


# --- stops -----------------------------------------------------------------------------------


def test_a_hold_stops_before_the_write_of_its_token() -> None:
    outs = writes(None, 0, 1, None, 2)  # a start, three tokens with a tool round between
    assert stops(outs, [HoldPoint("a", 0)], None, 3) == (Stop(1, "a"),)
    assert stops(outs, [HoldPoint("b", 2)], None, 3) == (Stop(4, "b"),)
    # Past the last token: before the write that ends the reply (or after every write).
    assert stops(outs, [HoldPoint("end", 3)], None, 3) == (Stop(5, "end"),)
    assert stops(writes(0, terminal=False), [HoldPoint("end", 1)], None, 1) == (Stop(1, "end"),)


def test_hold_after_holds_only_replies_longer_than_it() -> None:
    outs = writes(0, 1, 2)
    assert stops(outs, (), 2, 3) == (Stop(2, HOLD_AFTER),)
    assert stops(outs, (), 3, 3) == ()
    assert stops(outs, (), None, 3) == ()


def test_two_holds_at_one_place_are_one_and_they_come_in_order() -> None:
    outs = writes(0, 1, 2)
    found = stops(outs, [HoldPoint("late", 2), HoldPoint("first", 1)], 1, 3)
    assert found == (Stop(1, "first"), Stop(2, "late"))


def test_a_plans_pauses_are_not_writes_to_hold_at() -> None:
    steps: list[object] = [Out(b"a", token=0), Pause(100), Out(b"b", token=1)]
    assert stops(steps, [HoldPoint("x", 1)], None, 2) == (Stop(2, "x"),)


# --- the gate --------------------------------------------------------------------------------


def test_a_gate_not_held_cannot_be_released_or_cut() -> None:
    gate = Gate()
    assert not gate.release()
    assert not gate.cut()


def test_a_gate_releases_cuts_and_tells_of_every_change() -> None:
    async def main() -> tuple[list[Any], list[tuple[str | None, int]]]:
        seen: list[tuple[str | None, int]] = []
        gate = Gate()
        gate = Gate(lambda: seen.append((gate.held, gate.position)))
        results: list[Any] = []
        waiting = asyncio.ensure_future(gate.hold("a", 3))
        await asyncio.sleep(0)
        assert gate.release(2)
        results.append(await waiting)
        waiting = asyncio.ensure_future(gate.hold("b", 5))
        await asyncio.sleep(0)
        assert gate.cut()
        with pytest.raises(Cut):
            await waiting
        waiting = asyncio.ensure_future(gate.hold("c", 6))
        await asyncio.sleep(0)
        waiting.cancel()  # the client went away while held
        with pytest.raises(asyncio.CancelledError):
            await waiting
        results.append(gate.held)
        return results, seen

    results, seen = run(main())
    assert results == [2, None]
    assert seen == [("a", 3), (None, 3), ("b", 5), (None, 5), ("c", 6), (None, 6)]


def test_a_gate_released_for_good_holds_no_more() -> None:
    async def main() -> list[int | None]:
        gate = Gate()
        waiting = asyncio.ensure_future(gate.hold("a", 0))
        await asyncio.sleep(0)
        gate.release(1, free=True)
        return [await waiting, await gate.hold("b", 1)]

    assert run(main()) == [1, None]
    assert not Gate().release(free=True)


# --- send_held -------------------------------------------------------------------------------


def goose_reply(*holds: HoldPoint, delay: float = 400) -> Reply:
    script = Script(tuple(Token(t, delay) for t in ("a", "b", "c")), holds=holds)
    state = GOOSE.new_state(Settings())
    renderer = SSERenderer(GOOSE, state)  # type: ignore[arg-type]
    return Replies(GOOSE).prepare(Choice(script, None, "default"), Turn("hi"), renderer, head=HEAD)


async def _settle() -> None:
    """Let every task that can run do so before the clock moves."""
    for _ in range(20):
        await asyncio.sleep(0)


async def _until_held(clock: FakeClock, gate: Gate, task: asyncio.Task[Any]) -> None:
    for _ in range(1000):
        await _settle()
        if gate.held is not None or task.done():
            return
        await clock.advance(0.1)
    raise AssertionError("never held")


async def _finish(clock: FakeClock, task: asyncio.Task[Any]) -> None:
    for _ in range(1000):
        await _settle()
        if task.done():
            return
        await clock.advance(0.1)


def held_run(reply: Reply, actions: list[tuple[float, str, int | None]]) -> tuple[Any, Sink]:
    """Send ``reply`` held where it says; at each hold wait ``seconds``, then ``action``."""

    async def main() -> tuple[Any, Sink]:
        clock, progress = FakeClock(), Progress()
        sink, gate = Sink(clock), Gate()
        script = reply.choice.script
        outs = reply.rendering.outs if reply.plan is None else reply.plan.steps
        at = stops(outs, script.holds, None, len(script.tokens))
        coroutine = send_held(reply, sink, clock, gate, at, progress=progress)
        task = asyncio.ensure_future(coroutine)
        positions = []
        for seconds, action, steps in actions:
            await _until_held(clock, gate, task)
            positions.append((round(clock.now(), 6), gate.held, gate.position))
            await clock.advance(seconds)
            if action == "release":
                gate.release(steps)
            else:
                gate.cut()
        await _finish(clock, task)
        try:
            result: Any = await task
        except Cut:
            result = "cut"
        return (positions, result), sink

    return run(main())  # type: ignore[no-any-return]


def _kinds(sink: Sink) -> list[tuple[float, str]]:
    """Each message sent and when, the first (goose's opening Ping) a write."""
    return [
        (t, "ping" if i and payload == PING else "write")
        for i, (t, (_, payload)) in enumerate(sink.sent)
    ]


def test_the_heartbeat_goes_on_while_held_and_pacing_restarts_at_the_release() -> None:
    (positions, progress), sink = held_run(
        goose_reply(HoldPoint("mid", 1)), [(2.0, "release", None)]
    )
    assert positions == [(0.4, "mid", 2)]  # the start and token 0 went out
    sent = _kinds(sink)
    # Held from 0.4 to 2.4: a Ping every 500 ms; then token 1 400 ms after the release.
    assert sent == [
        (0.0, "write"),
        (0.4, "write"),
        (0.9, "ping"),
        (1.4, "ping"),
        (1.9, "ping"),
        (2.4, "ping"),
        (2.8, "write"),
        (2.9, "ping"),
        (3.2, "write"),
        (3.2, "write"),
    ]
    assert progress.tokens == 3
    assert progress.terminal
    assert progress.heartbeats == 5


def test_steps_send_that_many_writes_then_hold_again_at_the_same_name() -> None:
    reply = goose_reply(HoldPoint("first", 0), delay=0)
    count = len(reply.rendering.outs)
    actions = [(0.0, "release", 1), (0.0, "release", 2), (0.0, "release", None)]
    (positions, progress), _ = held_run(reply, actions)
    assert [(name, at) for _, name, at in positions] == [("first", 1), ("first", 2), ("first", 4)]
    assert progress.writes == count


def test_steps_stop_at_a_named_hold_they_reach_first() -> None:
    reply = goose_reply(HoldPoint("one", 0), HoldPoint("two", 1), delay=0)
    (positions, _), _ = held_run(reply, [(0.0, "release", 5), (0.0, "release", None)])
    assert [(name, at) for _, name, at in positions] == [("one", 1), ("two", 2)]


def test_a_step_past_the_end_ends_the_reply() -> None:
    reply = goose_reply(HoldPoint("one", 2), delay=0)
    (positions, progress), _ = held_run(reply, [(0.0, "release", 50)])
    assert [name for _, name, _ in positions] == ["one"]
    assert progress.terminal


def test_a_cut_raises_where_the_stream_was_held() -> None:
    (positions, result), sink = held_run(
        goose_reply(HoldPoint("mid", 2), delay=0), [(0.0, "cut", None)]
    )
    assert result == "cut"
    assert [kind for _, kind in _kinds(sink)] == ["write"] * positions[0][2]


def test_a_planned_reply_holds_the_same_way() -> None:
    reply = goose_reply(HoldPoint("mid", 1))
    planned = dataclasses.replace(reply, plan=Plan(list(reply.rendering.outs)))
    plain = held_run(reply, [(2.0, "release", None)])
    assert held_run(planned, [(2.0, "release", None)])[1].sent == plain[1].sent


def test_without_a_heartbeat_a_held_stream_sends_nothing() -> None:
    reply = dataclasses.replace(goose_reply(HoldPoint("mid", 1)), heartbeat=None)
    (positions, _), sink = held_run(reply, [(2.0, "release", None)])
    assert [kind for _, kind in _kinds(sink)] == ["write"] * len(reply.rendering.outs)
    assert positions[0][2] == 2
