"""One reply, whatever the transport: :meth:`Replies.prepare` decides it, :func:`send` plays it.

The SSE and the WebSocket routes take the same decisions, in this order (the first that
answers wins):

1. **The request's own asks** (``?fault=``, ``?scenario=``, their headers): a fault spec that
   cannot be used is refused (400/422), then a scenario that does not exist for the protocol
   (404, listing the ones that do): :func:`admit`.
2. **A refusal fault the request asks for** (``http:STATUS``): that status, before the protocol
   sees the request; on a WebSocket, instead of the upgrade: :func:`admit`.
3. **The protocol accepts**: an SSE protocol's ``accept()`` may refuse as the real backend
   would; a WebSocket is upgraded and the protocol's session opened.
4. **The scenario**: requested, else queued, else matched, else the default reply, per turn
   (:func:`~streamctl.engine.choice.choose`). A recording, requested or at the head of the
   queue, answers a whole WebSocket connection, chosen as it opens
   (:func:`~streamctl.engine.choice.choose_recording`).
5. **The reply's faults**: the server's drawn ones, the scenario's, the request's (of two of
   one name the later wins). A refusal among them refuses an SSE reply; a WebSocket is open by
   then, and an ``http:`` fault does nothing there.
6. **Ids and resume** (SSE event streams the protocol rendered, ids asked for): every event
   gets an id, and the events up to ``Last-Event-ID`` are left out.
7. **The plan**: the faults applied to the writes (:func:`~streamctl.engine.fault_planning.apply`).

A reply nothing changed is sent as rendered: :func:`send` then hands the writer the rendering
itself, whose transport messages the writer may keep (see :class:`Writer`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from streamctl.core.protocols.exchange import HttpResponse, Out, Turn
from streamctl.core.protocols.protocol import ChatProtocol, SSEProtocol
from streamctl.core.script import Script
from streamctl.core.sse import encode_comment
from streamctl.core.transcript import Headers
from streamctl.engine.choice import Choice
from streamctl.engine.clock import Clock
from streamctl.engine.fault_parsing import Fault, FaultError
from streamctl.engine.fault_planning import Drop, Plan, apply, refusal
from streamctl.engine.pacing import Progress, play, play_plan, sent_script
from streamctl.engine.replay import WSReplay, replay_outs
from streamctl.engine.resume import resume_after, with_ids
from streamctl.engine.scenarios import Scenario, ScenarioSet, UnknownScenarioError

__all__ = [
    "Closing",
    "Refused",
    "Renderer",
    "Rendering",
    "Renderings",
    "Replies",
    "Reply",
    "Resume",
    "SSERenderer",
    "Writer",
    "admit",
    "bad_fault",
    "replay_segment",
    "send",
]

M = TypeVar("M")
#: The ``retry`` (ms) sent with the first id, so an EventSource reconnects quickly.
RETRY_MS = 100
#: What an SSE stream without a heartbeat of its own sends while a ``stall:…,pings`` lasts.
SSE_PING = encode_comment("ping")
# Hop-by-hop and server-owned headers are not replayed from a recording: the server frames the
# body itself.
_NOT_REPLAYED = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)


class Refused(Exception):
    """The request is answered with ``response`` instead of a reply (``outcome`` for the
    journal: ``bad-fault``, ``unknown-scenario``, ``fault`` or ``refused``)."""

    def __init__(self, response: HttpResponse, outcome: str) -> None:
        super().__init__(outcome)
        self.response = response
        self.outcome = outcome


def bad_fault(exc: FaultError) -> Refused:
    """Step 1: the 400/422 answer for a fault spec that cannot be used."""
    return Refused(HttpResponse.json(exc.status, {"detail": str(exc)}), "bad-fault")


def admit(
    scenarios: ScenarioSet, protocol: str, name: str | None, faults: Sequence[Fault]
) -> Scenario | None:
    """Steps 1 and 2: the scenario the request names (if any), or :class:`Refused`."""
    requested = None
    if name is not None:
        try:
            requested = scenarios.get(name, protocol)
        except UnknownScenarioError as exc:
            body = {"detail": str(exc), "available": exc.available}
            raise Refused(HttpResponse.json(404, body), "unknown-scenario") from None
    refused = refusal(faults)
    if refused is not None:
        raise Refused(refused, "fault")
    return requested


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class Rendering:
    """A protocol's writes for one script (or a recording's), as made once.

    Compared by identity: a writer may keep what it made of a rendering with it as the key
    (weakly: it goes when the rendering does)."""

    outs: tuple[Out, ...]


class Renderings:
    """Renderings of (script, key), for protocols whose rendering depends on nothing else.

    The Script object is kept beside its rendering, so a reloaded scenario (a new Script, even at
    a reused ``id``) is rendered afresh. Bounded by count (``limit``) and by size: ``budget``
    writes in all, so a long script rendered for each turn of a conversation (a WebSocket
    reply's id is its turn) keeps a few megabytes at most, not one rendering per turn. The least
    recently used go first; a rendering over the whole budget is not kept."""

    def __init__(self, limit: int = 256, budget: int = 8192) -> None:
        self.limit, self.budget = limit, budget
        self._kept: dict[tuple[int, Hashable], tuple[Script, Rendering]] = {}
        self._size = 0  # writes kept

    def get(
        self, script: Script, key: Hashable | None, render: Callable[[], Sequence[Out]]
    ) -> Rendering:
        """What ``render`` makes for ``script`` and ``key``, made the first time only; with no
        key (the rendering varies), made every time."""
        if key is None:
            return Rendering(tuple(render()))
        slot = (id(script), key)
        kept = self._kept.pop(slot, None)
        if kept is not None:
            if kept[0] is script:
                self._kept[slot] = kept  # now the most recently used
                return kept[1]
            self._size -= len(kept[1].outs)
        rendering = Rendering(tuple(render()))
        size = len(rendering.outs)
        if size <= self.budget:
            while self._kept and (len(self._kept) >= self.limit or self._size + size > self.budget):
                self._size -= len(self._kept.pop(next(iter(self._kept)))[1].outs)
            self._kept[slot] = (script, rendering)
            self._size += size
        return rendering


class Renderer(Protocol):
    """What renders a turn's reply: a WebSocket protocol's session, or :class:`SSERenderer`."""

    def render(self, script: Script, turn: Turn) -> Sequence[Out]: ...

    def render_key(self, turn: Turn) -> Hashable | None: ...


@dataclass(frozen=True, slots=True)
class SSERenderer:
    """An SSE protocol's rendering with the protocol's state, as a :class:`Renderer`."""

    protocol: SSEProtocol
    state: Any

    def render(self, script: Script, turn: Turn) -> Sequence[Out]:
        return self.protocol.render(script, turn, self.state)

    def render_key(self, turn: Turn) -> Hashable | None:
        return self.protocol.render_key(turn, self.state)


@dataclass(frozen=True, slots=True)
class Closing:
    """End a WebSocket connection with this close frame, ``after_ms`` (scaled by the speed)
    after the last write: a recorded connection's close."""

    code: int | None
    reason: str
    after_ms: float


@dataclass(frozen=True, slots=True)
class Reply:
    """One reply, decided: the head, the writes, and how it ends.

    ``rendering`` holds the writes as rendered; ``plan`` the writes as faults and resume changed
    them, or None when nothing did. ``ending``: None for a normal end, a :class:`Drop` (the
    connection ends badly) or a :class:`Closing` (a recording's close frame).
    """

    choice: Choice
    turn: Turn
    status: int
    headers: Headers
    rendering: Rendering
    plan: Plan | None = None
    #: The protocol's heartbeat, as a rendering of one write (a writer keeps its message too).
    heartbeat: Rendering | None = None
    heartbeat_ms: float = 0.0
    ping: bytes | str | None = None
    ending: Drop | Closing | None = None

    def sent(self, progress: Progress, completed: bool) -> Script:
        """The part of the script that reached the client (for the protocol's history)."""
        return self.choice.script if completed else sent_script(self.choice.script, progress)


@dataclass(frozen=True, slots=True)
class Resume:
    """Ids on an SSE event stream (step 6), resuming after ``last_id`` (None: from the start)."""

    last_id: str | None = None


class Replies:
    """One stream endpoint's replies: :meth:`prepare` decides each, keeping the renderings."""

    def __init__(self, protocol: ChatProtocol) -> None:
        self.protocol = protocol
        self.renderings = Renderings()
        self.sse = isinstance(protocol, SSEProtocol)
        self._beat = _NO_BEAT
        if isinstance(protocol, SSEProtocol) and protocol.heartbeat is not None:
            self._beat = (Rendering((Out(protocol.heartbeat),)), protocol.heartbeat_ms)
        self._ping = SSE_PING if self.sse else None

    def prepare(
        self,
        choice: Choice,
        turn: Turn,
        renderer: Renderer,
        *,
        head: tuple[int, Headers] = (200, ()),
        faults: Sequence[Fault] = (),
        server_faults: Sequence[Fault] = (),
        resume: Resume | None = None,
    ) -> Reply:
        """Steps 5 to 7 for ``choice``: the reply, or :class:`Refused` (an SSE reply only).

        ``head`` is the status and headers of a rendered reply (a recording brings its own),
        ``faults`` the request's and ``server_faults`` those drawn for the server.
        """
        recorded = _recorded_head(choice) if self.sse else None
        scenario = choice.scenario
        faults = (*server_faults, *(scenario.faults if scenario else ()), *faults)
        refused = refusal(faults) if self.sse else None
        if refused is not None:
            raise Refused(refused, "fault")
        if recorded is not None:
            head, rendering, beat = recorded, self._replayed(choice), _NO_BEAT
        else:
            rendering, beat = self._render(choice, turn, renderer), self._beat
        outs: Sequence[Out] = rendering.outs
        resumed = resume is not None and recorded is None and _is_event_stream(head[1])
        if resume is not None and resumed:
            outs = resume_after(with_ids(outs, RETRY_MS), resume.last_id)
        plan = apply(faults, outs, self.protocol) if faults or resumed else None
        status, headers = head
        if plan is not None:
            headers = plan.head(headers)
        ending = None if plan is None else plan.drop
        return Reply(choice, turn, status, headers, rendering, plan, *beat, self._ping, ending)

    def _render(self, choice: Choice, turn: Turn, renderer: Renderer) -> Rendering:
        """The protocol's writes; a scenario's once per key where the protocol allows it."""
        script = choice.script
        key = renderer.render_key(turn) if choice.scenario is not None else None
        return self.renderings.get(script, key, lambda: renderer.render(script, turn))

    def _replayed(self, choice: Choice) -> Rendering:
        """A recorded SSE reply's writes, made once per scenario."""
        recording = choice.scenario.recording if choice.scenario is not None else None
        assert recording is not None
        return self.renderings.get(choice.script, _RECORDED, lambda: replay_outs(recording))


def _recorded_head(choice: Choice) -> tuple[int, Headers] | None:
    """A recorded SSE reply's status and headers (None: the reply is rendered). A WebSocket
    recording chosen for a turn, not a connection, is rendered from its text."""
    recording = choice.scenario.recording if choice.scenario is not None else None
    if recording is None or recording.header.response is None:
        return None
    response = recording.header.response
    kept = tuple((k, v) for k, v in response.headers if k.lower() not in _NOT_REPLAYED)
    return response.status, kept


def replay_segment(choice: Choice, replay: WSReplay, segment: int) -> Reply:
    """What a recorded WebSocket connection sends after the client's ``segment``-th message
    (0: as it opens), and its close frame if the recording closes there."""
    outs = replay.segments[segment] if segment < len(replay.segments) else ()
    close = replay.close
    ending = None
    if close is not None and close.segment == segment:
        ending = Closing(close.code, close.reason, close.delay_ms)
    return Reply(choice, Turn(""), 101, (), Rendering(outs), ending=ending)


_RECORDED = "recorded"
_NO_BEAT: tuple[Rendering | None, float] = (None, 0.0)


def _is_event_stream(headers: Headers) -> bool:
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    return ctype.split(";")[0].strip().lower() == "text/event-stream"


class Writer(Protocol[M]):
    """A transport's sending half, as :func:`send` uses it.

    ``write`` sends one payload. A reply sent as rendered goes out through ``messages`` and
    ``send`` instead: the transport's message for each write of the rendering, which the
    writer may make once per rendering and keep (a reply then costs one ``send`` per write,
    measured worth it by ``scripts/bench_server.py``). Both ways send the same messages
    (``tests/test_engine_reply.py`` holds them equal)."""

    def write(self, payload: bytes | str) -> Awaitable[None]: ...

    def messages(self, rendering: Rendering) -> Sequence[M]: ...

    def joined(
        self, rendering: Rendering, speed: float
    ) -> tuple[Sequence[M], Sequence[int]] | None:
        """One message per run of writes of ``rendering`` due together at ``speed`` (see
        :func:`~streamctl.engine.pacing.due_together`), and where each run ends; None when
        the transport sends each write on its own (a WebSocket message per write)."""
        ...

    def send(self, message: M) -> Awaitable[None]: ...


def send(
    reply: Reply,
    writer: Writer[Any],
    clock: Clock,
    *,
    speed: float = 1.0,
    progress: Progress | None = None,
) -> Coroutine[Any, Any, Progress]:
    """Play ``reply`` on ``writer`` on schedule, heartbeats in between (cancel the task to stop
    at once: ``progress`` then says what went out). The caller then ends the reply as
    ``reply.ending`` says (a :class:`Closing` is due when this returns). Like ``play()``, not a
    coroutine itself: the one it returns writes."""
    played = _played(reply, writer, clock, speed, progress)
    if isinstance(reply.ending, Closing):
        return _closing(played, reply.ending.after_ms * max(speed, 0.0), clock)
    return played


def _played(
    reply: Reply, writer: Writer[Any], clock: Clock, speed: float, progress: Progress | None
) -> Coroutine[Any, Any, Progress]:
    """The coroutine that writes ``reply``'s messages (or its fault plan's steps) on time."""
    heartbeat, ms = reply.heartbeat, reply.heartbeat_ms
    if reply.plan is not None:
        return play_plan(
            reply.plan,
            writer.write,
            clock,
            speed=speed,
            heartbeat=None if heartbeat is None else heartbeat.outs[0].payload,
            heartbeat_ms=ms,
            ping=reply.ping,
            progress=progress,
        )
    # Writes due at the same instant go out as one (a recording keeps its own chunks).
    joined = None if _recorded(reply.choice) else writer.joined(reply.rendering, speed)
    payloads, ends = (writer.messages(reply.rendering), None) if joined is None else joined
    return play(
        reply.rendering.outs,
        writer.send,
        clock,
        speed=speed,
        heartbeat=None if heartbeat is None else writer.messages(heartbeat)[0],
        heartbeat_ms=ms,
        progress=progress,
        payloads=payloads,
        ends=ends,
    )


def _recorded(choice: Choice) -> bool:
    return choice.scenario is not None and choice.scenario.recording is not None


async def _closing(played: Coroutine[Any, Any, Progress], wait_ms: float, clock: Clock) -> Progress:
    done = await played
    await clock.sleep(wait_ms / 1000.0)
    return done
