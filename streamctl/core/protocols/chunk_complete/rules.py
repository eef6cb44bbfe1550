"""chunk-complete's spec as data: rules, message schemas, the order table, what a client sends,
and how every message is encoded.

Sources: seed 003 (the FastAPI router and the NiceGUI client) and PROTOCOLS.md §3.
"""

from __future__ import annotations

from typing import Any

from streamctl.core.jsontext import dumps_compact
from streamctl.core.protocols.rules import WS_RULES
from streamctl.core.spec import SAME, Field, Level, Machine, Rule, Shape, Spec

__all__ = ["CLIENT_MESSAGE", "MACHINE", "PATH", "PROTOCOLS", "RULES", "SEED", "SPEC", "encode"]

SEED = "docs/protocols/chunk-complete.md (FastAPI WebSocket router, NiceGUI ChatUI client)"
PROTOCOLS = "docs/protocols/chunk-complete.md"
PATH = "/chat/ws"

RULES = (
    *WS_RULES,
    Rule("chunk-complete.json", Level.MUST, "Every server message is a JSON object.", SEED),
    Rule(
        "chunk-complete.type.unknown",
        Level.MUST,
        "A server message's type is 'chunk', 'complete' or 'error'.",
        SEED + " (Format des réponses reçues)",
    ),
    Rule(
        "chunk-complete.schema.chunk",
        Level.MUST,
        "A chunk is {'type': 'chunk', 'message_id': string, 'text': string}.",
        SEED,
    ),
    Rule(
        "chunk-complete.schema.complete",
        Level.MUST,
        "complete is {'type': 'complete', 'message_id': string}.",
        SEED,
    ),
    Rule(
        "chunk-complete.schema.error",
        Level.MUST,
        "An error is {'type': 'error', 'message': string}.",
        SEED,
    ),
    # "Server replies {"type":"chunk", …}… then {"type":"complete", …}."
    Rule(
        "chunk-complete.order",
        Level.MUST,
        "complete only ends a reply that chunks started.",
        PROTOCOLS,
    ),
    Rule(
        "chunk-complete.complete.missing",
        Level.MUST,
        "A reply that started ends with complete (or error) before the connection ends.",
        PROTOCOLS,
    ),
    # "Every chunk of one reply carries the same message_id; each reply gets a new one
    # (bot_1, bot_2, …)."
    Rule(
        "chunk-complete.message-id.same",
        Level.MUST,
        "Every chunk of one reply, and its complete, carry the same message_id.",
        PROTOCOLS,
    ),
    Rule(
        "chunk-complete.message-id.new",
        Level.MUST,
        "Each reply gets a message_id no earlier reply on the connection used.",
        PROTOCOLS,
    ),
    Rule(
        "chunk-complete.message-id.pattern",
        Level.SHOULD,
        "Reply ids follow bot_1, bot_2, …: 'bot_' and a number that grows with each reply.",
        PROTOCOLS + "; " + SEED,
    ),
    # "Utilisateur → Frontend (ChatUI) → WebSocket → Backend (ChatService) → WebSocket → …":
    # the backend streams in answer to the user's message, never on its own.
    Rule(
        "chunk-complete.reply.unsolicited",
        Level.MUST,
        "A reply starts only when a client message is waiting for its answer.",
        SEED + " (Flux de données)",
        needs=frozenset({"client"}),
    ),
    # "Invalid input … gets {"type":"error", …}": every message gets a reply or an error.
    Rule(
        "chunk-complete.reply.missing",
        Level.MUST,
        "Every client message is answered, by a reply or by an error.",
        PROTOCOLS,
        needs=frozenset({"client"}),
    ),
)

MACHINE = Machine(
    initial="idle",
    transitions={
        ("idle", "chunk"): "streaming",
        # An answer to invalid input: no reply was open, and the connection stays usable.
        ("idle", "error"): SAME,
        ("streaming", "chunk"): "streaming",
        ("streaming", "complete"): "idle",
        # The reply failed: the error ends it, no complete follows.
        ("streaming", "error"): "idle",
    },
    final=frozenset({"idle"}),
    unexpected="chunk-complete.order",
    incomplete="chunk-complete.complete.missing",
    # No state is terminal (one connection carries many replies), so this never fires.
    after_final="chunk-complete.order",
)

SPEC = Spec(
    rules=RULES,
    schemas={
        "chunk": Shape((Field("message_id", (str,)), Field("text", (str,)))),
        "complete": Shape((Field("message_id", (str,)),)),
        "error": Shape((Field("message", (str,)),)),
    },
    machine=MACHINE,
)

#: What the client sends. A blank ``message`` is refused separately (it passes a type check).
CLIENT_MESSAGE = Shape(
    (
        Field("message", (str,)),
        Field("timestamp", (str, type(None)), required=False),
    )
)


def encode(obj: dict[str, Any]) -> str:
    """One message as the router sends it (Starlette's ``WebSocket.send_json``: compact
    separators, ``ensure_ascii=False``)."""
    return dumps_compact(obj)
