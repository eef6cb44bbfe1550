"""Writes due at the same instant go out together (issue #21): an SSE body sends each run of
events due together as one write, and the client sees the same events, at the same times, as
when each went out on its own. A recording keeps its recorded chunks."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.asgi import Message
from mockserver.http_stream import Body
from streamctl.core.protocols import get
from streamctl.core.protocols.exchange import Settings, Turn
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.script import Script, Token, from_text
from streamctl.core.sse import decode
from streamctl.core.transcript import Frame, Header, Request, Response, Transcript
from streamctl.engine.choice import Choice
from streamctl.engine.clock import FakeClock
from streamctl.engine.pacing import Progress, due_together
from streamctl.engine.reply import Replies, Reply, SSERenderer, send
from streamctl.engine.scenarios import Scenario
from tests.fake_time import drive

HEAD = (200, (("content-type", "text/event-stream"),))
#: What message-stream's accept() puts in a turn (the others need nothing).
IDS = {"ndjson": "", "message_id": "msg_1", "chat_id": "chat_1", "created_at": "0"}
SSE_NAMES = ("goose", "sse-delta-done", "message-stream")


class OneByOne(Body):
    """The body as it was: a write per event."""

    joins = False


def sent(reply: Reply, body_type: type[Body], speed: float) -> tuple[list[Any], Progress]:
    """Each body write as (fake time, bytes), and what ``send`` says went out."""

    async def main() -> tuple[list[Any], Progress]:
        clock = FakeClock()
        writes: list[tuple[float, bytes]] = []

        async def capture(message: Message) -> None:
            writes.append((round(clock.now(), 6), message["body"]))

        progress = Progress()
        task = asyncio.create_task(
            send(reply, body_type(capture, []), clock, speed=speed, progress=progress)
        )
        await drive(clock, task, 0.01, 100_000)
        await task
        return writes, progress

    return asyncio.run(main())


def by_instant(writes: list[tuple[float, bytes]]) -> list[tuple[float, bytes]]:
    """The bytes sent at each instant (what a client can tell apart)."""
    merged: list[tuple[float, bytes]] = []
    for at, data in writes:
        if merged and merged[-1][0] == at:
            merged[-1] = (at, merged[-1][1] + data)
        else:
            merged.append((at, data))
    return merged


def rendered(name: str, script: Script) -> Reply:
    protocol = get(name)
    assert isinstance(protocol, SSEProtocol)
    renderer = SSERenderer(protocol, protocol.new_state(Settings()))
    return Replies(protocol).prepare(
        Choice(script, None, "default"), Turn("hi", ids=IDS), renderer, head=HEAD
    )


tokens = st.lists(
    st.builds(
        Token,
        st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8),
        st.sampled_from([0.0, 0.0, 0.0, 30.0, 250.0]),
    ),
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(SSE_NAMES), script=tokens.map(tuple), speed=st.sampled_from([0.0, 1.0]))
def test_the_client_sees_the_same_events_at_the_same_times_either_way(
    name: str, script: tuple[Token, ...], speed: float
) -> None:
    reply = rendered(name, Script(script))
    together, progress = sent(reply, Body, speed)
    apart, apart_progress = sent(reply, OneByOne, speed)
    assert by_instant(together) == by_instant(apart)
    body = b"".join(data for _, data in together)
    assert decode(body) == decode(b"".join(data for _, data in apart))
    assert progress == apart_progress
    outs = reply.rendering.outs
    assert len(together) <= len(apart)
    if speed == 0:  # all due at once: one write
        assert len(together) == (1 if outs else 0)
    else:  # one write per instant the script has, heartbeats apart
        beats = progress.heartbeats
        assert len(together) == len(due_together(outs, speed)) + beats


def test_a_recording_keeps_its_chunks_though_all_are_due_at_once() -> None:
    chunks = (b"data: a", b"\n\ndata: b\n\n", b"data: c\n\n")
    frames = tuple(Frame(0.0, "server", chunk) for chunk in chunks)
    head = Response(200, HEAD[1])
    taped = Transcript(Header("sse-delta-done", "sse", Request("GET", "/"), head), frames)
    scenario = Scenario("taped", (from_text("abc"),), recording=taped)
    protocol = get("sse-delta-done")
    assert isinstance(protocol, SSEProtocol)
    renderer = SSERenderer(protocol, protocol.new_state(Settings()))
    choice = Choice(scenario.script(0), scenario, "request")
    reply = Replies(protocol).prepare(choice, Turn("hi"), renderer, head=HEAD)
    for speed in (0.0, 1.0):
        writes, progress = sent(reply, Body, speed)
        assert [data for _, data in writes] == list(chunks)
        assert progress.writes == len(chunks)


def test_a_script_due_at_once_is_one_write_that_counts_every_event() -> None:
    reply = rendered("sse-delta-done", Script(tuple(Token(t) for t in "abcde")))
    writes, progress = sent(reply, Body, 0.0)
    assert len(writes) == 1
    assert progress.writes == len(reply.rendering.outs)
    assert progress.terminal
