"""``sse-delta-done``: SSE over GET with ``{"delta"}`` events and a ``{"done": true}`` terminator.

Seed 002: a FastAPI endpoint ``GET /api/chat/stream?message=…&file_path=…`` whose generator
yields ``{"event": "message", "data": json.dumps({"delta": …})}`` per token and finally
``{"done": True}``, served by sse-starlette (CRLF line endings, ``: ping`` comments); a browser
``EventSource`` reads it with ``onmessage`` and closes on ``data.done``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any, ClassVar
from urllib.parse import urlencode

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import (
    Accepted,
    ClientOptions,
    Endpoint,
    HttpRequest,
    HttpResponse,
    Out,
    Turn,
    Update,
)
from streamctl.core.protocols.protocol import SSEProtocol
from streamctl.core.protocols.rules import SSE_RULES
from streamctl.core.script import Script
from streamctl.core.spec import Field, Finding, Level, Machine, Msg, Rule, Shape, Spec
from streamctl.core.sse import SSEEvent, encode_comment
from streamctl.core.transcript import Request

SEED = "docs/protocols/sse-delta-done.md (FastAPI + sse-starlette, EventSource client)"
PROTOCOLS = "docs/protocols/sse-delta-done.md"
PATH = "/api/chat/stream"
EOL = "\r\n"  # sse-starlette's line separator

RULES = (
    *SSE_RULES,
    # "Events: `event: message` with `data: {"delta": "<token>"}`…" — the seed's client listens
    # with `onmessage`, which sees only events of type "message".
    Rule(
        "sse-delta-done.event-name",
        Level.MUST,
        "Deltas, errors and done are dispatched as type 'message' (what onmessage receives); "
        "only tool progress uses 'event: tool'.",
        PROTOCOLS,
    ),
    Rule("sse-delta-done.json", Level.MUST, "Every data payload is a JSON object.", SEED),
    Rule(
        "sse-delta-done.type.unknown",
        Level.MUST,
        "A message's data holds one of 'delta', 'done' or 'error'.",
        PROTOCOLS,
    ),
    Rule(
        "sse-delta-done.schema.delta",
        Level.MUST,
        "A delta is {'delta': string}.",
        SEED,
    ),
    Rule("sse-delta-done.schema.done", Level.MUST, "The terminator is {'done': true}.", SEED),
    Rule("sse-delta-done.schema.error", Level.MUST, "An error is {'error': string}.", PROTOCOLS),
    Rule(
        "sse-delta-done.schema.tool",
        Level.MUST,
        "A tool event is {'tool_name': string}.",
        SEED + " (tool calls)",
    ),
    Rule(
        "sse-delta-done.delta.nonempty",
        Level.SHOULD,
        "A delta is not empty (the seed's client drops falsy deltas).",
        SEED,
    ),
    # "`done` is the only terminator: exactly one, last, nothing after it."
    Rule(
        "sse-delta-done.done.missing",
        Level.MUST,
        "The stream ends with a {'done': true} event.",
        PROTOCOLS,
    ),
    Rule(
        "sse-delta-done.done.not-last",
        Level.MUST,
        "Nothing follows the done event (exactly one terminator).",
        PROTOCOLS,
    ),
    # "An error inside the generator is reported in-stream as data: {"error"} followed by the
    # done event."
    Rule(
        "sse-delta-done.order",
        Level.MUST,
        "After an error event only the done event may follow.",
        PROTOCOLS,
    ),
)

MACHINE = Machine(
    initial="streaming",
    transitions={
        ("streaming", "delta"): "streaming",
        ("streaming", "tool"): "streaming",
        ("streaming", "error"): "failed",
        ("streaming", "done"): "done",
        ("failed", "done"): "done",
    },
    final=frozenset({"done"}),
    terminal=frozenset({"done"}),
    unexpected="sse-delta-done.order",
    incomplete="sse-delta-done.done.missing",
    after_final="sse-delta-done.done.not-last",
)

SPEC = Spec(
    rules=RULES,
    schemas={
        "delta": Shape((Field("delta", (str,)),)),
        "done": Shape((Field("done", (bool,), values=(True,)),)),
        "error": Shape((Field("error", (str,)),)),
        "tool": Shape((Field("tool_name", (str,)),)),
    },
    machine=MACHINE,
)


class SSEDeltaDone(SSEProtocol):
    name: ClassVar[str] = "sse-delta-done"
    title: ClassVar[str] = "SSE delta/done over GET (EventSource)"
    seed: ClassVar[str] = "002"
    imitates: ClassVar[str] = "FastAPI + sse-starlette"
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        Endpoint("GET", PATH, "stream a reply to ?message=…", stream=True),
    )
    spec: ClassVar[Spec] = SPEC
    reply_types: ClassVar[frozenset[str]] = frozenset({"delta", "tool", "done"})
    type_field: ClassVar[str | None] = None  # the member present names the message
    event_names: ClassVar[Mapping[str, str]] = {"tool": "tool"}
    heartbeat: ClassVar[bytes | None] = encode_comment("ping", eol=EOL)
    heartbeat_ms: ClassVar[float] = 15_000.0
    # --- checking ---------------------------------------------------------------------------

    def classify(self, event: SSEEvent, frame: int, t: float) -> Msg | list[Finding]:
        obj = self.parse_json(event.data, frame)
        if isinstance(obj, Finding):
            return [obj]
        if event.type == "tool":
            return Msg("tool", obj, frame, t, event.data)
        if event.type != "message":
            return [
                self.finding(
                    "event-name",
                    f"event type {event.type!r} is invisible to onmessage",
                    frame,
                    event.data,
                )
            ]
        kind = "done" if "done" in obj else "error" if "error" in obj else "delta"
        if kind not in obj:
            return [
                self.finding(
                    "type.unknown", "data has none of 'delta', 'done', 'error'", frame, event.data
                )
            ]
        return Msg(kind, obj, frame, t, event.data)

    def content_rules(self, msgs: Sequence[Msg], transcript: object) -> Iterable[Finding]:
        for msg in msgs:
            if msg.type == "delta" and msg.body.get("delta") == "":
                yield self.finding("delta.nonempty", "empty delta", msg.frame, msg.raw)

    # --- serving ----------------------------------------------------------------------------

    def accept(self, request: HttpRequest, state: Any) -> HttpResponse | Accepted:
        message = request.query.get("message")
        if message is None:
            # FastAPI's validation error for a missing required query parameter.
            detail = {"type": "missing", "loc": ["query", "message"], "msg": "Field required"}
            return HttpResponse.json(422, {"detail": [{**detail, "input": None}]})
        headers = (
            ("content-type", "text/event-stream; charset=utf-8"),
            ("cache-control", "no-cache"),
            ("connection", "keep-alive"),
            ("x-accel-buffering", "no"),
        )
        return Accepted(Turn(message), headers)

    def render_key(self, turn: Turn, state: Any) -> tuple[()]:
        # The seed's generator sends no ids, timestamps or counters: a reply is its script.
        return ()

    def render(self, script: Script, turn: Turn, state: Any) -> Sequence[Out]:
        out: list[Out] = []
        tool = script.tool
        for index, token in enumerate(script.sent_tokens):
            if tool is not None and tool.after == index:
                out.append(Out(self._event({"tool_name": tool.name}, "tool")))
            out.append(Out(self._delta(token.text), token.delay_ms, token=index))
        if tool is not None and tool.after >= len(script.sent_tokens):
            out.append(Out(self._event({"tool_name": tool.name}, "tool")))
        if script.error is not None:
            out.append(Out(self._event({"error": script.error.message})))
        out.append(Out(_DONE, terminal=True))
        return out

    @staticmethod
    def _delta(text: str) -> bytes:
        # The hot path: exactly json.dumps({"delta": text}) with its defaults (ASCII escapes,
        # ", " and ": "), by the C string escaper json.dumps itself uses; framed with CRLF (EOL)
        # in one f-string.
        delta = encode_basestring_ascii(text)
        return f'event: message\r\ndata: {{"delta": {delta}}}\r\n\r\n'.encode()

    @staticmethod
    def _event(obj: dict[str, Any], event: str = "message") -> bytes:
        # json.dumps defaults, exactly as the seed's generator calls it; its output is one line,
        # so the event is framed directly (encode_event's checks cost more than the event).
        return f"event: {event}{EOL}data: {json.dumps(obj)}{EOL}{EOL}".encode()

    # --- sending ----------------------------------------------------------------------------

    def client(self, options: ClientOptions) -> ClientSession:
        return _Client(options)


#: The event that ends every reply: the same bytes each time.
_DONE = SSEDeltaDone._event({"done": True})


class _Client(ClientSession):
    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def request(self) -> Request:
        target = f"{PATH}?{urlencode({'message': self.options.message})}"
        headers = (("accept", "text/event-stream"), *self.options.headers)
        return Request("GET", target, headers)

    def on_event(self, event: SSEEvent) -> Update:
        try:
            obj = json.loads(event.data)
        except ValueError:
            return Update(info=f"ignored a non-JSON event: {event.data[:80]!r}")
        if not isinstance(obj, dict):
            return Update(info=f"ignored a non-object event: {event.data[:80]!r}")
        if event.type == "tool":
            return Update(info=f"tool: {obj.get('tool_name')}")
        if obj.get("done"):
            return Update(done=True)
        if "error" in obj:
            return Update(error=str(obj["error"]))
        delta = obj.get("delta")
        return Update(text=delta if isinstance(delta, str) else "")


PROTOCOL = SSEDeltaDone()
