"""``message-stream``: message_start / message_delta / message_end over POST (seed 004).

A REST chat API with streaming, FastAPI-style: ``POST /api/web/v1/chats/{chat_id}/messages/stream``
with ``{"content": …}`` answers with the assistant's reply as Server-Sent Events (``event:`` equal
to the JSON ``type``) or, when ``Accept`` prefers it, as NDJSON; ``GET …/messages`` lists the
chat's history and ``DELETE …/messages/{message_id}`` removes a message. The contract is
PROTOCOLS.md §5.

Modules: :mod:`.rules` (the spec as data), :mod:`.wire` (SSE/NDJSON framing and negotiation),
:mod:`.validation` (FastAPI's 422 answers), :mod:`.server` (chats, the stream, the routes),
:mod:`.checking` (the rules across messages), :mod:`.client` (``streamctl send``); the protocol
class, with the checker's framing and typing, is here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import (
    Accepted,
    ClientOptions,
    Endpoint,
    HttpRequest,
    HttpResponse,
    Out,
    Route,
    Settings,
    Turn,
)
from streamctl.core.protocols.message_stream import checking, server
from streamctl.core.protocols.message_stream.client import MessageStreamClient
from streamctl.core.protocols.message_stream.rules import MACHINE, NAME, RULES, SPEC, TYPES
from streamctl.core.protocols.message_stream.wire import (
    NDJSON,
    SSE,
    LineProblem,
    NDJSONDecoder,
    media_type,
    wants_ndjson,
)
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.script import Script
from streamctl.core.spec import Finding, Msg, Spec
from streamctl.core.sse import SSEEvent
from streamctl.core.transcript import Response, Transcript, header_value

__all__ = ["MACHINE", "PROTOCOL", "RULES", "SPEC", "MessageStream"]

_LINE_RULES = {"invalid-utf8": "ndjson.utf8", "incomplete-line": "ndjson.line-end"}


def _ndjson_response(transcript: Transcript) -> Response | None:
    response = transcript.header.response
    if response is None or media_type(response.header("content-type")) != NDJSON:
        return None
    return response


class MessageStream(SSEProtocol):
    """Seed 004: ``message_start`` → ``message_delta``* → ``message_end`` | ``error``, as SSE
    (``event:`` = JSON ``type``) or NDJSON, with chat history over REST."""

    name: ClassVar[str] = NAME
    title: ClassVar[str] = "message_start/delta/end over POST (SSE or NDJSON) with chat history"
    media_types: ClassVar[tuple[str, ...]] = (SSE, NDJSON)
    seed: ClassVar[str] = "004"
    imitates: ClassVar[str] = "REST chat API with streaming (FastAPI-style)"
    endpoints: ClassVar[tuple[Endpoint, ...]] = server.ENDPOINTS
    spec: ClassVar[Spec] = SPEC
    reply_types: ClassVar[frozenset[str]] = frozenset({"message_delta", "message_end"})
    event_names: ClassVar[Mapping[str, str]] = {kind: kind for kind in TYPES}
    _last_parse: tuple[SSEEvent, int, dict[str, Any] | Finding] | None = None

    # --- checking: framing ------------------------------------------------------------------

    def classify(self, event: SSEEvent, frame: int, t: float) -> Msg | list[Finding]:
        obj = self._parsed(event, frame)
        if isinstance(obj, Finding):
            return [obj]
        return self._typed(obj, event.data, frame, t)

    def _typed(self, obj: dict[str, Any], raw: str, frame: int, t: float) -> Msg | list[Finding]:
        kind = obj.get("type")
        if not isinstance(kind, str) or kind not in TYPES:
            return [self.finding("type.unknown", f"unknown message type {kind!r}", frame, raw)]
        return Msg(kind, obj, frame, t, raw)

    def event_rules(self, event: SSEEvent, frame: int) -> Iterable[Finding]:
        obj = self._parsed(event, frame)
        kind = obj.get("type") if isinstance(obj, dict) else None  # not JSON: the json rule
        if not isinstance(kind, str) or kind == event.type:
            return ()
        if event.type == "message":  # no event: line (the WHATWG default name)
            message = f"no event: line names this {kind!r} message"
            return [self.finding("event-line", message, frame, event.data)]
        message = f"event {event.type!r} carries a message of type {kind!r}"
        return [self.finding("event-name", message, frame, event.data)]

    def _parsed(self, event: SSEEvent, frame: int) -> dict[str, Any] | Finding:
        # The checker calls event_rules and then classify for each event, and both need its
        # JSON: keep the last event's parse so each payload is parsed once (parsing is the
        # largest cost of both). Keyed by the event object, so another event never reuses it.
        last = self._last_parse
        if last is not None and last[0] is event and last[1] == frame:
            return last[2]
        obj = self.parse_json(event.data, frame)
        self._last_parse = (event, frame, obj)
        return obj

    def messages(self, transcript: Transcript) -> tuple[list[Msg], list[Finding]]:
        """SSE events, or with an ``application/x-ndjson`` response, one message per line."""
        if _ndjson_response(transcript) is None:
            return super().messages(transcript)
        decoder = NDJSONDecoder()
        msgs: list[Msg] = []
        findings: list[Finding] = []
        last: int | None = None
        for index, frame in transcript.frames("server"):
            last, seen = index, len(decoder.problems)
            data = frame.payload if isinstance(frame.payload, bytes) else frame.payload.encode()
            for line in decoder.feed(data):
                findings.extend(self._take_line(line, index, frame.t, msgs))
            findings.extend(self._line_problems(decoder.problems[seen:], index))
        seen = len(decoder.problems)
        decoder.close()
        findings.extend(self._line_problems(decoder.problems[seen:], last))
        return msgs, findings

    def _take_line(self, line: str, frame: int, t: float, msgs: list[Msg]) -> list[Finding]:
        obj = self.parse_json(line, frame)
        if isinstance(obj, Finding):
            return [obj]
        result = self._typed(obj, line, frame, t)
        if isinstance(result, list):
            return result
        msgs.append(result)
        return self.schema_findings(result)

    def _line_problems(self, problems: Sequence[LineProblem], frame: int | None) -> list[Finding]:
        return [
            self.finding(_LINE_RULES[p.code], f"line {p.line}: {p.message}", frame)
            for p in problems
        ]

    def transport_rules(self, transcript: Transcript) -> list[Finding]:
        """SSE's HTTP rules, or for an NDJSON response: status 200 and no Content-Length."""
        response = _ndjson_response(transcript)
        if response is None:
            return super().transport_rules(transcript)
        found = []
        if response.status != 200:
            found.append(self.finding("sse.http.status", f"status is {response.status}"))
        length = response.header("content-length")
        if length is not None:
            message = f"Content-Length: {length} on an NDJSON stream"
            found.append(self.finding("ndjson.no-content-length", message))
        return found

    def http_rules(self, transcript: Transcript) -> Iterable[Finding]:
        response = transcript.header.response
        if response is None or response.status != 200:
            return []
        got = media_type(response.header("content-type"))
        accept = header_value(transcript.header.request.headers, "accept")
        wanted = NDJSON if wants_ndjson(accept) else SSE
        if got in (SSE, NDJSON) and got != wanted:
            message = f"Accept {accept!r} asks for {wanted}, the response is {got}"
            return [self.finding("http.negotiation", message)]
        return []

    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        return checking.content_findings(self, msgs, transcript)

    # --- serving ----------------------------------------------------------------------------

    def new_state(self, settings: Settings) -> server.ChatStore:
        return server.ChatStore(settings)

    def accept(self, request: HttpRequest, state: Any) -> HttpResponse | Accepted:
        return server.accept(request, state)

    def render(self, script: Script, turn: Turn, state: Any) -> Sequence[Out]:
        return server.render(script, turn)

    def finish(self, turn: Turn, script: Script, state: Any, completed: bool) -> None:
        server.finish(turn, script, state, completed)

    def routes(self) -> tuple[Route, ...]:
        return server.routes()

    # --- sending ----------------------------------------------------------------------------

    def client(self, options: ClientOptions) -> ClientSession:
        return MessageStreamClient(options)


PROTOCOL = MessageStream()
