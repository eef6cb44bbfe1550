"""goose-web's spec as data: rules, message schemas and the order table.

Sources: the goose reference §12 (``goose web``, the goose CLI's UI server: its WebSocket ``/ws``
and message list), goose's ``crates/goose-cli/src/commands/web.rs`` (the ``WebSocketMessage``
enum, serde-tagged by ``type``, and ``process_message_streaming``), and seed 000 (the browser
snippet appending ``event.data``; the ATLAS ``GooseClient`` that sends ``{"type": "message",
"content", "session_id", "timestamp"}`` and reads ``response`` until ``complete`` or
``cancelled``).
"""

from __future__ import annotations

from streamctl.core.protocols.rules import WS_RULES
from streamctl.core.spec import SAME, Field, Level, Machine, Rule, Shape, Spec

__all__ = ["CLIENT_SCHEMAS", "MACHINE", "REPLY_TYPES", "RULES", "SCHEMAS", "SPEC"]

REFERENCE = "docs/protocols/goose-web.md §12 (goose web)"
WEB_RS = "github.com/block/goose crates/goose-cli/src/commands/web.rs"
SEED = "docs/protocols/goose-web.md (ATLAS GooseClient, WebSocket path)"

#: Any JSON value (serde_json::Value): tool arguments and results.
ANY_JSON = (dict, list, str, float, bool, type(None))


def _text(name: str) -> Shape:
    return Shape((Field(name, (str,)),))


#: ``WebSocketMessage``'s server-to-client variants, each ``{"type": <name>, …fields}``.
SCHEMAS: dict[str, Shape] = {
    "response": Shape(
        (Field("content", (str,)), Field("role", (str,)), Field("timestamp", (int,)))
    ),
    "tool_request": Shape(
        (Field("id", (str,)), Field("tool_name", (str,)), Field("arguments", ANY_JSON))
    ),
    "tool_response": Shape(
        (Field("id", (str,)), Field("result", ANY_JSON), Field("is_error", (bool,)))
    ),
    "tool_confirmation": Shape(
        (
            Field("id", (str,)),
            Field("tool_name", (str,)),
            Field("arguments", ANY_JSON),
            Field("needs_confirmation", (bool,)),
        )
    ),
    "thinking": _text("message"),
    "context_exceeded": _text("message"),
    "error": _text("message"),
    "cancelled": _text("message"),
    "complete": _text("message"),
}

#: What a reply carries before its ``complete``.
REPLY_TYPES = (
    "response",
    "tool_request",
    "tool_response",
    "tool_confirmation",
    "thinking",
    "context_exceeded",
)

#: ``WebSocketMessage``'s client-to-server variants (serde requires every field).
CLIENT_SCHEMAS: dict[str, Shape] = {
    "message": Shape(
        (
            Field("type", (str,), values=("message",)),
            Field("content", (str,)),
            Field("session_id", (str,)),
            Field("timestamp", (int,)),
        )
    ),
    "cancel": Shape((Field("type", (str,), values=("cancel",)), Field("session_id", (str,)))),
}


def _rule(
    suffix: str,
    text: str,
    source: str = REFERENCE,
    level: Level = Level.MUST,
    needs: frozenset[str] = frozenset(),
) -> Rule:
    return Rule(f"goose-web.{suffix}", level, text, source, needs=needs)


#: Rules about answering the client's messages need them in the transcript (a capture of the
#: server's side alone has none).
CLIENT = frozenset({"client"})


def _schema_text(kind: str) -> str:
    members = ", ".join(f.name for f in SCHEMAS[kind].fields)
    return f"A {kind} message is {{type: '{kind}', {members}}} with web.rs's types."


RULES = (
    *WS_RULES,
    # "WS messages are JSON tagged by lowercase `type`".
    _rule("json", "Every server message is a JSON object."),
    _rule(
        "type.unknown",
        "A server message's type is one of response, tool_request, tool_response, "
        "tool_confirmation, thinking, context_exceeded, error, cancelled, complete.",
    ),
    *(_rule(f"schema.{kind}", _schema_text(kind), WEB_RS) for kind in SCHEMAS),
    # process_message_streaming sends the reply's messages, then always `Complete {message:
    # "Response complete"}`, also after an Error; a cancelled task sends `Cancelled` instead.
    _rule(
        "order",
        "complete ends a reply that started (with a reply message or an error); an error ends "
        "the reply, and complete may follow it.",
        WEB_RS,
    ),
    _rule(
        "complete.missing",
        "A reply that started ends with complete (or cancelled) before the connection ends.",
        WEB_RS + "; " + SEED + " (reads until complete or cancelled)",
    ),
    # handle_socket spawns a reply only for a client `message`.
    _rule(
        "reply.unsolicited",
        "A reply starts only when a client message is waiting for its answer.",
        WEB_RS + " (handle_socket)",
        needs=CLIENT,
    ),
    _rule(
        "reply.missing",
        "Every client message of type 'message' is answered by a complete, a cancelled or an "
        "error.",
        WEB_RS,
        needs=CLIENT,
    ),
    # ToolResponse answers the ToolRequest with the same id.
    _rule(
        "tool.unmatched",
        "A tool_response answers a tool_request of the same reply with the same id.",
        WEB_RS,
    ),
    _rule(
        "response.role",
        "A response's role is 'assistant' (web.rs never sends another).",
        WEB_RS,
        Level.SHOULD,
    ),
)

_STARTS = {("idle", kind): "replying" for kind in REPLY_TYPES}

MACHINE = Machine(
    initial="idle",
    transitions={
        **_STARTS,
        # An error with no reply open: the agent failed at once (complete follows), or the
        # mock refused a malformed client message (nothing follows).
        ("idle", "error"): "failed",
        # A cancel answered after the reply ended; web.rs may send two (the cancel handler's
        # and the aborted task's).
        ("idle", "cancelled"): SAME,
        **{("replying", kind): SAME for kind in REPLY_TYPES},
        ("replying", "error"): "failed",
        ("replying", "complete"): "idle",
        ("replying", "cancelled"): "idle",
        **{("failed", kind): "replying" for kind in REPLY_TYPES},
        ("failed", "error"): SAME,
        ("failed", "complete"): "idle",
        ("failed", "cancelled"): "idle",
    },
    final=frozenset({"idle", "failed"}),
    unexpected="goose-web.order",
    incomplete="goose-web.complete.missing",
    # No state is terminal (one connection carries many replies), so this never fires.
    after_final="goose-web.order",
)

SPEC = Spec(rules=RULES, schemas=SCHEMAS, machine=MACHINE)
