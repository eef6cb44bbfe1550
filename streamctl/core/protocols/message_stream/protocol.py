"""``message-stream``: the protocol class (checking) and its server and client sides."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import unquote

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
from streamctl.core.protocols.message_stream import server
from streamctl.core.protocols.message_stream.client import MessageStreamClient
from streamctl.core.protocols.message_stream.rules import NAME, SPEC, TYPES
from streamctl.core.protocols.message_stream.validation import parse_int
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

__all__ = ["PROTOCOL", "MessageStream"]

_STREAM_TARGET = re.compile(r"/api/web/v1/chats/([^/]+)/messages/stream")
# An ISO 8601 extended date-time (what pydantic writes for a datetime); ranges are left to
# datetime.fromisoformat.
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]+)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)
_LINE_RULES = {"invalid-utf8": "ndjson.utf8", "incomplete-line": "ndjson.line-end"}


def _ndjson_response(transcript: Transcript) -> Response | None:
    response = transcript.header.response
    if response is None or media_type(response.header("content-type")) != NDJSON:
        return None
    return response


def _url_chat_id(target: str) -> int | None:
    match = _STREAM_TARGET.fullmatch(target.partition("?")[0])
    return parse_int(unquote(match.group(1))) if match else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_iso_datetime(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 date-time with valid fields."""
    if not _ISO_DATETIME.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text.replace(",", "."))
    except ValueError:
        return False
    return True


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

    # --- checking: consistency --------------------------------------------------------------

    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        # One pass, and a delta (nearly every message) costs no more than a comparison and an
        # append: a generator or a string per delta would be most of this rule's time.
        chat_id = _url_chat_id(transcript.header.request.target)
        start_id: int | None = None
        deltas: list[str] = []
        found: list[Finding] = []
        for msg in msgs:
            if msg.type == "message_delta":
                got = msg.body.get("message_id")
                if got != start_id and _int(got) is not None and start_id is not None:
                    found.append(self._id_finding(msg, got, start_id))
                delta = msg.body.get("delta")
                deltas.append(delta if isinstance(delta, str) else "")
                continue
            message = msg.body.get("message")
            if not isinstance(message, dict):
                continue  # an error, or a message the schema rule already reported
            found += self._message_rules(msg, message, chat_id)
            if msg.type == "message_start":
                start_id = _int(message.get("id"))
            else:
                found += self._end_rules(msg, message, start_id, "".join(deltas))
        return found

    def _id_finding(self, msg: Msg, got: object, start_id: int) -> Finding:
        text = f"{msg.type} names message {got}, message_start opened {start_id}"
        return self.finding("message-id", text, msg.frame, msg.raw)

    def _end_rules(
        self, msg: Msg, message: Mapping[str, Any], start_id: int | None, deltas: str
    ) -> Iterator[Finding]:
        got = _int(message.get("id"))
        if got is not None and start_id is not None and got != start_id:
            yield self._id_finding(msg, got, start_id)
        content = message.get("content")
        if isinstance(content, str) and content != deltas:
            text = f"message_end content {content!r} is not the deltas' {deltas!r}"
            yield self.finding("content", text, msg.frame, msg.raw)

    def _message_rules(
        self, msg: Msg, message: Mapping[str, Any], chat_id: int | None
    ) -> Iterator[Finding]:
        got_chat = _int(message.get("chat_id"))
        if chat_id is not None and got_chat is not None and got_chat != chat_id:
            text = f"{msg.type} is in chat {got_chat}, the request was for chat {chat_id}"
            yield self.finding("chat-id", text, msg.frame, msg.raw)
        if message.get("role") in ("user", "system"):
            text = f"{msg.type} carries a {message['role']} message, not the assistant's"
            yield self.finding("role", text, msg.frame, msg.raw)
        content = message.get("content")
        if msg.type == "message_start" and isinstance(content, str) and content:
            yield self.finding("start.empty", "message_start has content", msg.frame, msg.raw)
        created = message.get("created_at")
        if isinstance(created, str) and not is_iso_datetime(created):
            text = f"created_at {created!r} is not an ISO 8601 date-time"
            yield self.finding("created-at", text, msg.frame, msg.raw)

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
