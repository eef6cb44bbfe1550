"""Pacing on a fake clock: what is written when, heartbeats, speed, cancellation, replays."""

from __future__ import annotations

import asyncio

import pytest

from streamctl.core.protocols.exchange import Out
from streamctl.core.script import FailurePoint, Script, Token, ToolCall
from streamctl.engine.clock import FakeClock
from streamctl.engine.pacing import Progress, play, sent_script
from tests.fake_time import Wire, drive, run

BEAT = b": ping\n\n"


def outs(*delays: float) -> list[Out]:
    return [Out(f"t{i}".encode(), d, token=i) for i, d in enumerate(delays)]


def test_each_write_goes_out_its_delay_after_the_previous_one() -> None:
    async def main() -> list[tuple[float, bytes | str]]:
        clock = FakeClock()
        wire = Wire(clock)
        task = asyncio.create_task(play(outs(0, 100, 250), wire.write, clock))
        await drive(clock, task, 0.05, 100)
        assert (await task).writes == 3
        return wire.writes

    assert run(main()) == [(0.0, b"t0"), (0.1, b"t1"), (0.35, b"t2")]


@pytest.mark.parametrize(("speed", "times"), [(2.0, [0.0, 0.2, 0.6]), (0.5, [0.0, 0.05, 0.15])])
def test_speed_multiplies_every_delay(speed: float, times: list[float]) -> None:
    async def main() -> list[float]:
        clock = FakeClock()
        wire = Wire(clock)
        task = asyncio.create_task(play(outs(0, 100, 200), wire.write, clock, speed=speed))
        await drive(clock, task, 0.05, 100)
        return [t for t, _ in wire.writes]

    assert run(main()) == times


def test_speed_zero_writes_everything_without_waiting() -> None:
    async def main() -> tuple[list[tuple[float, bytes | str]], int]:
        clock = FakeClock()
        wire = Wire(clock)
        progress = await play(outs(500, 500, 500), wire.write, clock, speed=0)
        return wire.writes, progress.tokens

    writes, tokens = run(main())
    assert writes == [(0.0, b"t0"), (0.0, b"t1"), (0.0, b"t2")]
    assert tokens == 3


def test_heartbeats_are_interleaved_in_real_time_between_writes() -> None:
    async def main() -> list[tuple[float, bytes | str]]:
        clock = FakeClock()
        wire = Wire(clock)
        task = asyncio.create_task(
            play(outs(0, 1200, 100), wire.write, clock, heartbeat=BEAT, heartbeat_ms=500)
        )
        await drive(clock, task, 0.1, 100)
        assert (await task).heartbeats == 2
        return wire.writes

    assert run(main()) == [
        (0.0, b"t0"),
        (0.5, BEAT),
        (1.0, BEAT),
        (1.2, b"t1"),
        (1.3, b"t2"),
    ]


def test_heartbeats_keep_their_interval_whatever_the_speed() -> None:
    async def main() -> list[float]:
        clock = FakeClock()
        wire = Wire(clock)
        task = asyncio.create_task(
            play(outs(0, 600), wire.write, clock, speed=2, heartbeat=BEAT, heartbeat_ms=500)
        )
        await drive(clock, task, 0.1, 100)
        return [t for t, p in wire.writes if p == BEAT]

    assert run(main()) == [0.5, 1.0]


def test_no_heartbeat_before_its_interval_or_after_the_last_write() -> None:
    async def main() -> list[tuple[float, bytes | str]]:
        clock = FakeClock()
        wire = Wire(clock)
        task = asyncio.create_task(
            play(outs(0, 400), wire.write, clock, heartbeat=BEAT, heartbeat_ms=500)
        )
        await drive(clock, task, 0.1, 100)
        await clock.advance(5)
        return wire.writes

    assert run(main()) == [(0.0, b"t0"), (0.4, b"t1")]


def test_a_slow_write_does_not_push_later_writes_back() -> None:
    async def main() -> list[float]:
        clock = FakeClock()
        times: list[float] = []

        async def slow_write(payload: bytes | str) -> None:
            times.append(round(clock.now(), 6))
            if payload == b"t0":
                await clock.sleep(0.25)  # the client reads slowly

        task = asyncio.create_task(play(outs(0, 100, 100, 100), slow_write, clock))
        await drive(clock, task, 0.05, 100)
        return times

    # t1 and t2 were due while t0 was still being written: they go at once, t3 is on time.
    assert run(main()) == [0.0, 0.25, 0.25, 0.3]


def test_a_heartbeat_missed_during_a_slow_write_is_not_made_up_with_a_burst() -> None:
    async def main() -> list[float]:
        clock = FakeClock()
        times: list[float] = []

        async def write(payload: bytes | str) -> None:
            times.append(round(clock.now(), 6))
            if len(times) == 2:
                await clock.sleep(1.2)  # the first heartbeat's write stalls

        plan = outs(0, 3000)
        task = asyncio.create_task(play(plan, write, clock, heartbeat=BEAT, heartbeat_ms=500))
        await drive(clock, task, 0.1, 100)
        return times

    assert run(main()) == [0.0, 0.5, 2.0, 2.5, 3.0]


def test_cancelling_stops_at_once_and_progress_says_what_went_out() -> None:
    async def main() -> tuple[Progress, list[tuple[float, bytes | str]], int]:
        clock = FakeClock()
        wire = Wire(clock)
        progress = Progress()
        plan = [*outs(0, 100, 100, 100), Out(b"end", 100, terminal=True)]
        task = asyncio.create_task(play(plan, wire.write, clock, progress=progress))
        await drive(clock, task, 0.1, 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await clock.advance(10)
        return progress, wire.writes, clock.sleepers

    progress, writes, sleepers = run(main())
    assert [p for _, p in writes] == [b"t0", b"t1", b"t2"]
    assert (progress.writes, progress.tokens, progress.terminal) == (3, 3, False)
    assert sleepers == 0


def test_progress_marks_the_terminal_write() -> None:
    async def main() -> Progress:
        clock = FakeClock()
        wire = Wire(clock)
        return await play([Out(b"a", token=0), Out(b"z", terminal=True)], wire.write, clock)

    assert run(main()) == Progress(writes=2, heartbeats=0, tokens=1, terminal=True)


SCRIPT = Script(
    tuple(Token(t) for t in ("a", "b", "c", "d")),
    tool=ToolCall("lookup", after=1),
    error=FailurePoint("boom", after=3),
)


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (Progress(tokens=0), Script(())),
        (Progress(tokens=1), Script((Token("a"),))),
        (Progress(tokens=2), Script((Token("a"), Token("b")), tool=ToolCall("lookup", after=1))),
        (Progress(tokens=4, terminal=True), SCRIPT),
    ],
)
def test_sent_script_is_what_reached_the_client(progress: Progress, expected: Script) -> None:
    assert sent_script(SCRIPT, progress) == expected


def test_payloads_are_written_in_place_of_each_outs_payload_on_the_same_schedule() -> None:
    # A server hands play() its writes ready-made for the transport: same times, same heartbeats.
    async def main() -> tuple[list[tuple[float, object]], Progress]:
        clock = FakeClock()
        wire = Wire(clock)
        plan = [*outs(0, 600), Out(b"end", 100, terminal=True)]
        ready = [{"body": out.payload} for out in plan]
        task = asyncio.create_task(
            play(
                plan,
                wire.write,
                clock,
                heartbeat={"body": BEAT},
                heartbeat_ms=500,
                payloads=ready,
            )
        )
        await drive(clock, task, 0.05, 100)
        return wire.writes, await task

    writes, progress = run(main())
    assert writes == [
        (0.0, {"body": b"t0"}),
        (0.5, {"body": BEAT}),
        (0.6, {"body": b"t1"}),
        (0.7, {"body": b"end"}),
    ]
    assert progress == Progress(writes=3, heartbeats=1, tokens=2, terminal=True)


def test_payloads_at_speed_zero_and_one_per_out() -> None:
    async def main(payloads: list[str], speed: float) -> list[tuple[float, object]]:
        clock = FakeClock()
        wire = Wire(clock)
        await play(outs(100, 100), wire.write, clock, speed=speed, payloads=payloads)
        return wire.writes

    assert run(main(["a", "b"], 0)) == [(0.0, "a"), (0.0, "b")]
    for speed in (0, 1):  # one payload per out, or the schedule means nothing: nothing is sent
        with pytest.raises(ValueError, match="2 outs"):
            run(main(["only one"], speed))


def test_progress_adds_up_every_run_of_writes_when_read() -> None:
    progress = Progress(tokens=1)
    progress.wrote([Out(b"a", token=4), Out(b"b", token=2), Out(b"c")], 3)
    progress.wrote([Out(b"d", token=9), Out(b"end", terminal=True)], 1)  # cut short
    progress.wrote([Out(b"e", token=20)], 0)
    assert (progress.writes, progress.tokens, progress.terminal) == (4, 10, False)
    progress.wrote([Out(b"end", terminal=True)], 1)
    assert progress.terminal
    assert repr(progress) == "Progress(writes=5, heartbeats=0, tokens=10, terminal=True)"
    assert progress != Progress(writes=5, tokens=10, terminal=True, heartbeats=1)
    assert progress != "Progress"
