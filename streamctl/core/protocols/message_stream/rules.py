"""The ``message-stream`` spec as data: rules, message schemas and the order table.

Sources: seed 004 (a Next.js client: ``MessageStreamHandler`` parses "Server-Sent Events and JSON
lines" with callbacks ``message_start``, ``message_delta``, ``message_end``, ``error``; the
``MessageRead`` type), PROTOCOLS.md §5 (which fixes what the seed leaves open), and the NDJSON
spec for the JSON-lines variant.
"""

from __future__ import annotations

from streamctl.core.protocols.rules import SSE_RULES
from streamctl.core.spec import Field, Level, Machine, Rule, Shape, Spec

__all__ = ["MACHINE", "NAME", "RULES", "SCHEMAS", "SPEC", "TYPES"]

NAME = "message-stream"
SEED = "docs/protocols/message-stream.md (MessageStreamHandler, useChat, MessageRead)"
PROTOCOLS = "docs/protocols/message-stream.md"
NDJSON_SPEC = "NDJSON spec 1.0 §3.1 (ndjson/ndjson-spec)"

#: Every message type, in the order a reply sends them.
TYPES = ("message_start", "message_delta", "message_end", "error")

_NEGOTIATION = (
    # "Response `text/event-stream` by default; `application/x-ndjson` when the client asks for it
    # with `Accept` (the seed's handler parses both "SSE and JSON lines")."
    Rule(
        f"{NAME}.http.negotiation",
        Level.MUST,
        "The response is application/x-ndjson when the request's Accept prefers it to "
        "text/event-stream, and text/event-stream otherwise.",
        PROTOCOLS,
        needs=frozenset({"request", "response"}),
    ),
    # An NDJSON reply is streamed like the event stream: its length is unknown when it starts.
    Rule(
        f"{NAME}.ndjson.no-content-length",
        Level.MUST,
        "An NDJSON stream has no Content-Length (its length is unknown when it starts).",
        PROTOCOLS + " and the shared SSE ground rules",
        needs=frozenset({"response"}),
    ),
    # "All serialized data MUST use the UTF8 encoding."
    Rule(f"{NAME}.ndjson.utf8", Level.MUST, "The NDJSON stream is valid UTF-8.", NDJSON_SPEC),
    # "Each JSON object MUST be written to the stream followed by the newline character \n."
    Rule(
        f"{NAME}.ndjson.line-end",
        Level.MUST,
        "Every JSON line ends with \\n; a trailing line without one is discarded.",
        NDJSON_SPEC,
    ),
)

_FRAMING = (
    # "Events (SSE `event:` name equals the JSON `type`)"
    Rule(
        f"{NAME}.event-name",
        Level.MUST,
        "An SSE event's name, when an event: line sets one, equals the 'type' in its JSON data.",
        PROTOCOLS,
    ),
    # "the SSE `event:` name SHOULD be sent and then equals the JSON `type`; the seed's handler
    # also reads events carried by the JSON `type` alone"
    Rule(
        f"{NAME}.event-line",
        Level.SHOULD,
        "An SSE event carries an event: line naming its type.",
        PROTOCOLS + " (SHOULD, not MUST: the client's handler also reads events by the JSON "
        "type alone, so a stream of bare data: lines works)",
    ),
    Rule(
        f"{NAME}.json",
        Level.MUST,
        "Every SSE data payload and every NDJSON line is one JSON object.",
        SEED,
    ),
    Rule(
        f"{NAME}.type.unknown",
        Level.MUST,
        "Every message's 'type' is message_start, message_delta, message_end or error.",
        SEED + " (the handler's four callbacks)",
    ),
    Rule(
        f"{NAME}.schema.message_start",
        Level.MUST,
        "message_start is {type, message: MessageRead}.",
        PROTOCOLS,
    ),
    Rule(
        f"{NAME}.schema.message_delta",
        Level.MUST,
        "message_delta is {type, message_id: integer, delta: string}.",
        PROTOCOLS,
    ),
    Rule(
        f"{NAME}.schema.message_end",
        Level.MUST,
        "message_end is {type, message: MessageRead} with the full content and metadata.",
        PROTOCOLS,
    ),
    Rule(
        f"{NAME}.schema.error",
        Level.MUST,
        "error is {type, error: {message: string, code: string}}.",
        PROTOCOLS,
    ),
)

_ORDER = (
    # "Order: `message_start` → `message_delta`* → `message_end` | `error`"
    Rule(
        f"{NAME}.order",
        Level.MUST,
        "A reply is message_start, then message_delta*, then message_end; an error may end it "
        "at any point.",
        PROTOCOLS,
    ),
    # "exactly one terminal event"
    Rule(
        f"{NAME}.terminal.missing",
        Level.MUST,
        "The stream ends with a terminal event: message_end or error.",
        PROTOCOLS,
    ),
    Rule(
        f"{NAME}.terminal.not-last",
        Level.MUST,
        "Nothing follows the terminal event (exactly one terminal event).",
        PROTOCOLS,
    ),
)

_CONTENT = (
    # "`message_end.content` equals the concatenated deltas"
    Rule(
        f"{NAME}.content",
        Level.MUST,
        "message_end.message.content equals the concatenated deltas.",
        PROTOCOLS,
    ),
    # The seed's client accumulates deltas into the placeholder it made at message_start.
    Rule(
        f"{NAME}.message-id",
        Level.MUST,
        "Every message_delta.message_id and message_end.message.id equal message_start.message.id.",
        PROTOCOLS + "; " + SEED,
    ),
    Rule(
        f"{NAME}.chat-id",
        Level.MUST,
        "message.chat_id equals the chat_id in the request URL.",
        PROTOCOLS + " (POST /api/web/v1/chats/{chat_id}/messages/stream)",
        needs=frozenset({"request"}),
    ),
    # "`message_start {message: MessageRead (assistant, content "")}`"; the seed adds "an empty
    # assistant message" as the placeholder the reply streams into. A reply under another role
    # would be shown and stored as someone else's message.
    Rule(
        f"{NAME}.role",
        Level.MUST,
        "message_start and message_end carry a message with role 'assistant'.",
        PROTOCOLS + "; " + SEED,
    ),
    # Text in message_start is not part of the deltas: a client that accumulates deltas loses it
    # until message_end (or the reload after the stream) repairs the view, hence SHOULD.
    Rule(
        f"{NAME}.start.empty",
        Level.SHOULD,
        "message_start's message has content '' (the text arrives as deltas).",
        PROTOCOLS,
    ),
    Rule(
        f"{NAME}.created-at",
        Level.SHOULD,
        "created_at is an ISO 8601 date-time (as FastAPI serializes a datetime).",
        PROTOCOLS + " (MessageRead)",
    ),
)

RULES = (*SSE_RULES, *_NEGOTIATION, *_FRAMING, *_ORDER, *_CONTENT)

# A FastAPI response model with Optional fields serializes an unset one as null; the seed's
# client reads metadata with optional chaining, so null is accepted wherever a member is optional.
_NULL = type(None)
METADATA = Shape(
    (
        Field("model", (str, _NULL), required=False),
        Field("tokens", (int, _NULL), required=False),
        Field("processingTime", (float, _NULL), required=False),
        Field("thinkingText", (str, _NULL), required=False),
        Field("hasThinkingProcess", (bool, _NULL), required=False),
        Field("thinkingExpanded", (bool, _NULL), required=False),
    )
)
ROLES = ("user", "assistant", "system")
MESSAGE_READ = Shape(
    (
        Field("id", (int,)),
        Field("chat_id", (int,)),
        Field("role", (str,), values=ROLES),
        Field("content", (str,)),
        Field("created_at", (str,)),
        Field("metadata", (METADATA, _NULL), required=False),
    )
)
SCHEMAS = {
    "message_start": Shape((Field("message", (MESSAGE_READ,)),)),
    "message_delta": Shape((Field("message_id", (int,)), Field("delta", (str,)))),
    "message_end": Shape((Field("message", (MESSAGE_READ,)),)),
    "error": Shape((Field("error", (Shape((Field("message", (str,)), Field("code", (str,)))),)),)),
}

MACHINE = Machine(
    initial="idle",
    transitions={
        ("idle", "message_start"): "streaming",
        ("streaming", "message_delta"): "streaming",
        ("streaming", "message_end"): "ended",
        # An error ends the reply wherever it comes, even before message_start (a backend that
        # fails before the model answers).
        ("*", "error"): "failed",
    },
    final=frozenset({"ended", "failed"}),
    terminal=frozenset({"ended", "failed"}),
    unexpected=f"{NAME}.order",
    incomplete=f"{NAME}.terminal.missing",
    after_final=f"{NAME}.terminal.not-last",
)

SPEC = Spec(rules=RULES, schemas=SCHEMAS, machine=MACHINE)
