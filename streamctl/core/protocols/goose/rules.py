"""goose's spec as data: rules, event schemas and the order table of goosed's ``/reply`` stream.

Sources: ``reference/goose-protocol.md`` (research notes on the goosed sources; the default
emulation is "era B", goosed about v1.3 to v1.7) and ``PROTOCOLS.md`` §1.
"""

from __future__ import annotations

from streamctl.core.protocols.rules import SSE_RULES
from streamctl.core.spec import SAME, Field, Level, Machine, Rule, Shape, Spec

__all__ = ["EVENT_TYPES", "ITEM_SHAPES", "MACHINE", "RULES", "SPEC", "TEXT_CONTENT"]

REF = "docs/protocols/goose.md"
ERA_B = "goosed v1.3-v1.7"
ERA_E = "goosed v1.18+"


def _src(section: str, era: str = ERA_B) -> str:
    return f"{REF} {section} ({era})"


RULES = (
    *SSE_RULES,
    # §6.2: "Every event is exactly one frame: `data: ` + one line of compact JSON + `\n\n`.
    # No `event:` lines, no `id:` lines, no `retry:`, no SSE comments on /reply."
    Rule(
        "goose.frame.fields",
        Level.MUST,
        "An event has no event: line and sets no id or retry; goosed's /reply sends only data:.",
        _src("§6.2"),
    ),
    Rule(
        "goose.frame.one-line",
        Level.MUST,
        "An event is exactly one data: line (clients parse every data: line as one JSON object).",
        _src("§6.2, §11 (the ATLAS GooseClient)"),
    ),
    Rule(
        "goose.frame.comment",
        Level.SHOULD,
        "The stream has no SSE comments: the heartbeat is a Ping event.",
        _src("§6.2"),
    ),
    Rule("goose.json", Level.MUST, "Every data payload is a JSON object.", _src("§6.2")),
    # §6.2: "The JSON is an internally tagged object: "type" is always the first key."
    Rule(
        "goose.type.missing",
        Level.MUST,
        "Every event object has a string 'type' (serde's internal tag).",
        _src("§6.2"),
    ),
    Rule(
        "goose.type.unknown",
        Level.MUST,
        "'type' is one of Ping, Message, Notification, ModelChange, Error, Finish, "
        "UpdateConversation.",
        _src("§6.3"),
    ),
    Rule(
        "goose.type.first",
        Level.SHOULD,
        "'type' is the first key of the event object.",
        _src("§6.2"),
    ),
    Rule(
        "goose.schema.Message",
        Level.MUST,
        "Message is {message: {id: string|null, role: user|assistant, created: integer, "
        "content: [{type, …}], metadata?}, token_state?}.",
        _src("§6.3, §7.1"),
    ),
    Rule(
        "goose.schema.Notification",
        Level.MUST,
        "Notification is {request_id: string, message: {method: string, params?: object}}.",
        _src("§6.3"),
    ),
    Rule(
        "goose.schema.ModelChange",
        Level.MUST,
        "ModelChange is {model: string, mode: lead|worker|unknown}.",
        _src("§6.3"),
    ),
    Rule("goose.schema.Error", Level.MUST, "Error is {error: string}.", _src("§6.3")),
    Rule(
        "goose.schema.Finish",
        Level.MUST,
        "Finish is {reason: string, token_state?}.",
        _src("§6.3"),
    ),
    Rule(
        "goose.schema.UpdateConversation",
        Level.MUST,
        "UpdateConversation is {conversation: [Message…]}.",
        _src("§6.3", "goosed v1.11+"),
    ),
    Rule(
        "goose.content.item",
        Level.MUST,
        "A content item of a known type has that type's fields (text: text; image: data, "
        "mimeType; toolRequest: id, toolCall; toolResponse: id, toolResult).",
        _src("§7.2"),
    ),
    # §6.6: "Mid-stream agent error: Error event, then the loop stops, then Finish with
    # reason:"stop" is still sent, then EOF."
    Rule(
        "goose.order",
        Level.MUST,
        "After a mid-stream Error only Finish follows.",
        _src("§6.6"),
    ),
    # §6.4: "Finish (reason:"stop"), then the server closes the body." §6.6: "Before the agent
    # starts …: a single Error event and then EOF."
    Rule(
        "goose.finish.missing",
        Level.MUST,
        "The stream ends with Finish, or consists of a single Error sent before the run started.",
        _src("§6.4, §6.6"),
    ),
    Rule(
        "goose.finish.last",
        Level.MUST,
        "Nothing follows Finish or an Error sent before the run started (one Finish at most).",
        _src("§6.4, §6.6"),
    ),
    # §6.3: "reason is "stop"; "error" existed only in ≤ ≈v1.1".
    Rule("goose.finish.reason", Level.MUST, "Finish.reason is 'stop'.", _src("§6.3, §6.6")),
    # §6.4: "the heartbeat timer's first tick fires immediately, so with v1.3+ the first frame is
    # normally a Ping (it starts after the agent stream is obtained; early errors come without
    # it)." "Ping frames are interleaved every 500 ms throughout."
    Rule(
        "goose.ping.first",
        Level.SHOULD,
        "The first event is Ping (unless the run failed to start with an Error).",
        _src("§6.4"),
    ),
    Rule(
        "goose.ping.interval",
        Level.SHOULD,
        "A Ping arrives every 500 ms: no gap between events (or before the stream ends without "
        "Finish) exceeds 1000 ms.",
        _src("§6.4"),
        needs=frozenset({"timing"}),
    ),
    # §6.4: "each text delta is its own Message event whose message has the same id".
    Rule(
        "goose.message.round-id",
        Level.SHOULD,
        "The assistant text Messages of one model round (up to a tool response) share one id.",
        _src("§6.4"),
    ),
    Rule(
        "goose.tool.response-without-request",
        Level.MUST,
        "Every toolResponse answers an earlier toolRequest id that is still unanswered.",
        _src("§6.4"),
    ),
    # §6.4: "Tool results: a Message with role user, id msg_<uuid4>, containing toolResponse".
    Rule(
        "goose.tool.role",
        Level.MUST,
        "toolRequest items are in assistant messages, toolResponse items in user messages.",
        _src("§6.4"),
    ),
    # §6.3: "The desktop matches a notification to a tool call via request_id".
    Rule(
        "goose.notification.pending",
        Level.SHOULD,
        "Notification.request_id names a tool call that was requested and not yet answered.",
        _src("§6.3, §6.4"),
    ),
    Rule(
        "goose.token-state.required",
        Level.MUST,
        "With a user_message request, every Message and Finish carries token_state.",
        _src("§6.3, §7.4", ERA_E),
        needs=frozenset({"request"}),
    ),
    Rule(
        "goose.metadata.required",
        Level.MUST,
        "With a user_message request, every Message's message carries metadata.",
        _src("§7.1", ERA_E),
        needs=frozenset({"request"}),
    ),
)

# §7.4: "{inputTokens, outputTokens, totalTokens, accumulatedInputTokens,
# accumulatedOutputTokens, accumulatedTotalTokens} (all integers)".
TOKEN_STATE = Shape(
    tuple(
        Field(name, (int,))
        for name in (
            "inputTokens",
            "outputTokens",
            "totalTokens",
            "accumulatedInputTokens",
            "accumulatedOutputTokens",
            "accumulatedTotalTokens",
        )
    )
)
METADATA = Shape((Field("userVisible", (bool,)), Field("agentVisible", (bool,))))
CONTENT_ITEM = Shape((Field("type", (str,)),))
MESSAGE = Shape(
    (
        Field("id", (str, type(None))),
        Field("role", (str,), values=("user", "assistant")),
        Field("created", (int,)),
        Field("content", (list,), items=CONTENT_ITEM),
        Field("metadata", (METADATA,), required=False),
    )
)
# ToolResult<T> "is always {"status":"success","value":T} or {"status":"error","error":"…"}".
_TOOL_RESULT = Shape((Field("status", (str,), values=("success", "error")),))

#: Fields of the content item types the checker knows (§7.2); other types pass unchecked.
ITEM_SHAPES: dict[str, Shape] = {
    "text": Shape((Field("text", (str,)),)),
    "image": Shape((Field("data", (str,)), Field("mimeType", (str,)))),
    "toolRequest": Shape((Field("id", (str,)), Field("toolCall", (_TOOL_RESULT,)))),
    "toolResponse": Shape((Field("id", (str,)), Field("toolResult", (_TOOL_RESULT,)))),
}

SCHEMAS: dict[str, Shape] = {
    # A Ping has no fields, so there is nothing to break and no goose.schema.Ping rule.
    "Ping": Shape(()),
    "Message": Shape(
        (Field("message", (MESSAGE,)), Field("token_state", (TOKEN_STATE,), required=False))
    ),
    "Notification": Shape(
        (
            Field("request_id", (str,)),
            Field(
                "message",
                (Shape((Field("method", (str,)), Field("params", (dict,), required=False))),),
            ),
        )
    ),
    "ModelChange": Shape(
        (Field("model", (str,)), Field("mode", (str,), values=("lead", "worker", "unknown")))
    ),
    "Error": Shape((Field("error", (str,)),)),
    "Finish": Shape(
        (Field("reason", (str,)), Field("token_state", (TOKEN_STATE,), required=False))
    ),
    "UpdateConversation": Shape((Field("conversation", (list,), items=MESSAGE),)),
}

EVENT_TYPES = frozenset(SCHEMAS)

#: A Message whose content is text items only, each with its text: nearly every Message a
#: stream carries (each text delta is one). Such a message gives the rules about content items
#: and tool calls nothing to look at, and one compiled shape recognises it.
_TEXT_ITEM = Shape((Field("type", (str,), values=("text",)), *ITEM_SHAPES["text"].fields))
TEXT_CONTENT = Shape((Field("message", (Shape((Field("content", (list,), items=_TEXT_ITEM),)),)),))

_RUNNING = ("Ping", "Message", "Notification", "ModelChange", "UpdateConversation")

MACHINE = Machine(
    initial="start",
    transitions={
        # An Error before anything else means the run never started: it ends the stream.
        ("start", "Error"): "refused",
        ("start", "Finish"): "finished",
        **{("start", kind): "running" for kind in _RUNNING},
        **{("running", kind): SAME for kind in _RUNNING},
        ("running", "Error"): "failed",
        ("running", "Finish"): "finished",
        # The heartbeat timer may tick between the Error and the Finish that follows it.
        ("failed", "Ping"): SAME,
        ("failed", "Finish"): "finished",
    },
    final=frozenset({"finished", "refused"}),
    terminal=frozenset({"finished", "refused"}),
    unexpected="goose.order",
    incomplete="goose.finish.missing",
    after_final="goose.finish.last",
)

SPEC = Spec(rules=RULES, schemas=SCHEMAS, machine=MACHINE)
