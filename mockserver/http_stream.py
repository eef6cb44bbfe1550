"""SSE stream endpoints, served at the ASGI level (the hot path, in front of Quart).

The route holds no protocol knowledge: it parses the request into an
:class:`~streamctl.core.protocols.base.HttpRequest`, lets the protocol ``accept()`` it (a
refusal is sent exactly as the protocol built it), picks a scenario, and writes what the
protocol's ``render()`` returns — or a recording's bytes — on the pacing clock, with the
protocol's heartbeat in between. A client that goes away stops the stream at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from mockserver.asgi import (
    BodyTooLarge,
    Disconnected,
    Message,
    Receive,
    Scope,
    Send,
    header_map,
    header_pairs,
    query_map,
    read_body,
    send_response,
)
from mockserver.faults import bad_fault, requested_faults
from mockserver.journal import Entry
from mockserver.renders import Ready, Renders
from mockserver.state import ServerState
from streamctl.core.protocols.base import Accepted, HttpRequest, HttpResponse, Out, SSEProtocol
from streamctl.core.script import Script
from streamctl.core.sse import encode_comment
from streamctl.core.transcript import Headers
from streamctl.engine.clock import running_loop
from streamctl.engine.fault_plan import Plan, apply, perform, refusal
from streamctl.engine.faults import Fault, FaultError
from streamctl.engine.pacing import Progress, play, replay_outs, sent_script
from streamctl.engine.resume import resume_after, with_ids
from streamctl.engine.scenarios import Choice, Scenario, UnknownScenarioError

__all__ = ["SCENARIO_HEADER", "SCENARIO_PARAM", "SSEStream", "requested_scenario"]

log = logging.getLogger("mockserver")

SCENARIO_PARAM = "scenario"
SCENARIO_HEADER = "x-streamctl-scenario"
#: ``?ids=1``: SSE ids (and ``Last-Event-ID`` resume) for this request.
IDS_PARAM = "ids"
#: The ``retry`` (ms) sent with the first id, so an EventSource reconnects quickly.
RETRY_MS = 100
# Hop-by-hop and server-owned headers are not replayed from a recording: Hypercorn frames the
# body itself.
_NOT_REPLAYED = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}
)


def requested_scenario(query: dict[str, str], headers: Mapping[str, str]) -> str | None:
    """The scenario a request names (query parameter first: EventSource cannot set headers).

    The parameter is removed from ``query``: the protocol sees what a real backend would.
    """
    name = query.pop(SCENARIO_PARAM, None)
    return name if name is not None else headers.get(SCENARIO_HEADER)


def unknown_scenario(exc: UnknownScenarioError) -> HttpResponse:
    """The 404 for a scenario that does not exist (for this protocol)."""
    detail = f"unknown scenario {exc.name!r} for protocol {exc.protocol!r}"
    return HttpResponse.json(404, {"detail": detail, "available": exc.available})


class _Stream:
    """One streamed reply on one request."""

    def __init__(self, send: Send, extra: list[tuple[bytes, bytes]]) -> None:
        self.send = send
        self.extra = extra
        self.started = False
        self.progress = Progress()

    async def start(self, status: int, headers: Headers) -> None:
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        raw.extend(self.extra)
        await self.send({"type": "http.response.start", "status": status, "headers": raw})
        self.started = True

    @staticmethod
    def message(payload: bytes | str) -> Message:
        """The ASGI message that writes ``payload`` (and more will follow)."""
        body = payload.encode() if isinstance(payload, str) else payload
        return {"type": "http.response.body", "body": body, "more_body": True}

    def write(self, payload: bytes | str) -> Awaitable[None]:
        # Not a coroutine itself: it hands back the send, one coroutine less per event.
        return self.send(self.message(payload))

    async def end(self) -> None:
        await self.send({"type": "http.response.body", "body": b"", "more_body": False})


class SSEStream:
    """The ASGI handler for one protocol's stream endpoint."""

    def __init__(self, server: ServerState, protocol: SSEProtocol) -> None:
        self.server = server
        self.protocol = protocol
        self._renders: Renders[Ready] = Renders()
        beat = protocol.heartbeat
        self._beat = None if beat is None else _Stream.message(beat)  # as play() gets it ready

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, path_params: Mapping[str, str]
    ) -> None:
        headers = header_pairs(scope)
        by_name = header_map(headers)
        query_string = scope["query_string"]
        entry = self.server.journal.open(
            self.protocol.name,
            scope["method"],
            scope["path"],
            query=query_string.decode("latin-1"),
            headers=headers,
        )
        stream = _Stream(send, self.server.cors.headers(by_name.get("origin")))
        self.server.begin()
        try:
            body = await read_body(receive)
            entry.set_body(body)
            query = query_map(query_string)
            name = requested_scenario(query, by_name)
            faults = requested_faults(query_string, query, by_name)
            ids = (
                query.pop(IDS_PARAM, None) == "1"
                or self.protocol.name in self.server.config.sse_ids
            )
            request = HttpRequest(scope["method"], scope["path"], query, by_name, body, path_params)
            await self._serve(name, request, receive, stream, entry, faults=faults, ids=ids)
        except FaultError as exc:
            await self._refuse(stream, entry, bad_fault(exc), "bad-fault")
        except Disconnected:
            entry.outcome = "disconnected"
        except BodyTooLarge:
            await self._refuse(stream, entry, HttpResponse.json(413, {"detail": "Too Large"}))
        except Exception:
            log.exception("%s: unexpected error serving %s", self.protocol.name, scope["path"])
            entry.outcome = "error"
            for reply in entry.replies:
                if reply["outcome"] == "streaming":
                    reply["outcome"] = "error"
            await self._fail(stream)
        finally:
            self.server.journal.seal(entry)
            self.server.end()

    async def _serve(
        self,
        name: str | None,
        request: HttpRequest,
        receive: Receive,
        stream: _Stream,
        entry: Entry,
        *,
        faults: tuple[Fault, ...] = (),
        ids: bool = False,
    ) -> None:
        requested: Scenario | None = None
        if name is not None:
            try:
                requested = self.server.scenarios.get(name, self.protocol.name)
            except UnknownScenarioError as exc:
                await self._refuse(stream, entry, unknown_scenario(exc), "unknown-scenario")
                return
        refused = refusal(faults)
        if refused is not None:
            await self._refuse(stream, entry, refused, "fault")
            return
        state = self.server.state_of(self.protocol.name)
        accepted = self.protocol.accept(request, state)
        if isinstance(accepted, HttpResponse):
            await self._refuse(stream, entry, accepted)
            return
        await self._reply(
            accepted=accepted,
            requested=requested,
            receive=receive,
            stream=stream,
            entry=entry,
            state=state,
            faults=faults,
            last_id=request.headers.get("last-event-id") if ids else None,
            ids=ids,
        )

    async def _reply(
        self,
        *,
        accepted: Accepted,
        requested: Scenario | None,
        receive: Receive,
        stream: _Stream,
        entry: Entry,
        state: Any,
        faults: tuple[Fault, ...],
        last_id: str | None,
        ids: bool,
    ) -> None:
        server, turn = self.server, accepted.turn
        choice = server.choose(self.protocol.name, turn, requested)
        record = entry.reply(choice.name, choice.how, turn.user_text)
        status, headers, ready, heartbeat = self._plan(choice, accepted, state)
        outs: Sequence[Out] = ready.outs
        recorded = choice.scenario is not None and choice.scenario.recording is not None
        if (
            ids and not recorded and _is_event_stream(headers)
        ):  # a recording's chunks are not events
            outs = resume_after(with_ids(outs, RETRY_MS), last_id)
        scenario_faults = choice.scenario.faults if choice.scenario is not None else ()
        faults = (*server.faults.draw(), *scenario_faults, *faults)
        refused = refusal(faults)
        if refused is not None:
            record["outcome"] = "refused"
            await self._refuse(stream, entry, refused, "fault")
            return
        plan = apply(faults, outs, self.protocol)
        await stream.start(status, plan.head(headers))
        entry.status = status
        completed = await self._play(plan, ready, heartbeat, receive, stream)
        outcome = "complete" if completed else "disconnected"
        if completed and plan.drop is not None:
            completed, outcome = False, "dropped"
        record["writes"] = stream.progress.writes
        record["outcome"] = entry.outcome = outcome
        self._finish(choice, accepted, state, stream.progress, completed)

    def _plan(
        self, choice: Choice, accepted: Accepted, state: Any
    ) -> tuple[int, Headers, Ready, bytes | None]:
        """Status, headers, writes and heartbeat: a recording's, or the protocol's rendering."""
        scenario = choice.scenario
        recording = scenario.recording if scenario is not None else None
        if recording is None or recording.header.response is None:
            ready = self._render(choice, accepted, state)
            return 200, accepted.headers, ready, self.protocol.heartbeat
        head = recording.header.response
        headers = tuple((k, v) for k, v in head.headers if k.lower() not in _NOT_REPLAYED)
        return head.status, headers, Ready.made(replay_outs(recording), _Stream.message), None

    def _render(self, choice: Choice, accepted: Accepted, state: Any) -> Ready:
        """The protocol's writes for the chosen script; a scenario's are rendered once when the
        protocol's rendering depends on nothing else (the scenario's Script is the key, so a
        reloaded scenario is rendered afresh)."""
        script, turn = choice.script, accepted.turn
        key = self.protocol.render_key(turn, state) if choice.scenario is not None else None

        def render() -> Ready:
            return Ready.made(self.protocol.render(script, turn, state), _Stream.message)

        return self._renders.get(script, key, render)

    async def _play(
        self,
        plan: Plan,
        ready: Ready,
        heartbeat: bytes | None,
        receive: Receive,
        stream: _Stream,
    ) -> bool:
        """Write the reply; false when the client went away first (the writes then stop).

        The writes run in a task of their own, which this one awaits: each time a write waits
        for the socket, only that task's few frames are suspended and resumed, not the dozen of
        the whole request (measured under load: 1.3 % of the CPU per event). Cancelling this
        task (the watcher does when the client leaves) cancels that one. A ``drop`` fault
        leaves the body unended: Hypercorn then closes the connection."""
        loop = running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        gone = asyncio.Event()
        watcher = loop.create_task(_watch(receive, task, gone))
        try:
            await loop.create_task(self._write(plan, ready, heartbeat, stream))
        except asyncio.CancelledError:
            if not gone.is_set():
                raise
            task.uncancel()
            return False
        finally:
            gone.set()  # from here on the watcher must not cancel this task
            watcher.cancel()
        if plan.drop is None:
            await stream.end()
        return True

    async def _write(
        self, plan: Plan, ready: Ready, heartbeat: bytes | None, stream: _Stream
    ) -> None:
        """A reply sent as rendered goes out as its ready-made messages; one that faults or
        ``Last-Event-ID`` changed, write by write."""
        config = self.server.config
        if ready.sent_as_is(plan):
            await play(
                ready.outs,
                stream.send,
                config.clock,
                speed=config.speed,
                heartbeat=None if heartbeat is None else self._beat,
                heartbeat_ms=self.protocol.heartbeat_ms,
                progress=stream.progress,
                payloads=ready.messages,
            )
            return
        await perform(
            plan,
            stream.write,
            config.clock,
            speed=config.speed,
            heartbeat=heartbeat,
            heartbeat_ms=self.protocol.heartbeat_ms,
            ping=_PING,
            progress=stream.progress,
        )

    def _finish(
        self, choice: Choice, accepted: Accepted, state: Any, progress: Progress, completed: bool
    ) -> None:
        script: Script = choice.script if completed else sent_script(choice.script, progress)
        try:
            self.protocol.finish(accepted.turn, script, state, completed)
        except Exception:
            log.exception("%s: finish() failed", self.protocol.name)

    async def _refuse(
        self, stream: _Stream, entry: Entry, response: HttpResponse, outcome: str = "refused"
    ) -> None:
        entry.status = response.status
        entry.outcome = outcome
        await send_response(stream.send, response, stream.extra)
        stream.started = True

    async def _fail(self, stream: _Stream) -> None:
        if stream.started:
            # The head is out: returning without ending the body makes Hypercorn drop the
            # connection, so the client sees a broken stream rather than a clean end.
            return
        response = HttpResponse.json(500, {"detail": "Internal Server Error"})
        await send_response(stream.send, response, stream.extra)


_PING = encode_comment("ping")


def _is_event_stream(headers: Headers) -> bool:
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    return ctype.split(";")[0].strip().lower() == "text/event-stream"


async def _watch(receive: Receive, task: asyncio.Task[Any], gone: asyncio.Event) -> None:
    """Cancel ``task`` when the client disconnects (unless the stream already ended)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
    if not gone.is_set():
        gone.set()
        task.cancel()
