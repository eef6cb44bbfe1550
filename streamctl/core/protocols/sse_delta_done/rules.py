"""sse-delta-done's spec as data: rules, message schemas and the order table.

Sources: seed 002 (the FastAPI generator and the EventSource client) and PROTOCOLS.md §4.
"""

from __future__ import annotations

from streamctl.core.protocols.rules import SSE_RULES
from streamctl.core.spec import Field, Level, Machine, Rule, Shape, Spec

__all__ = ["EOL", "MACHINE", "PATH", "PROTOCOLS", "RULES", "SEED", "SPEC"]

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
