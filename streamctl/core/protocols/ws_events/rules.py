"""ws-events' spec as data: rules, message schemas, the order table and the message envelope.

Sources: seed 001 (the Node ``ChatWebSocketServer``: its message list and examples) and
PROTOCOLS.md §2.
"""

from __future__ import annotations

from typing import Any

from streamctl.core.jsontext import dumps_compact
from streamctl.core.protocols.rules import WS_RULES
from streamctl.core.spec import Field, Level, Machine, Rule, Shape, Spec

__all__ = ["CLIENT_SCHEMAS", "MACHINE", "PROTOCOLS", "RULES", "SCHEMAS", "SEED", "SPEC", "encode"]

SEED = "docs/protocols/ws-events.md (Node ws chat server with JWT auth)"
PROTOCOLS = "docs/protocols/ws-events.md"


def _said(role: str) -> Shape:
    return Shape(
        (
            Field("messageId", (str,), nonempty=True),
            Field("content", (str,)),
            Field("role", (str,), values=(role,)),
            Field("timestamp", (str,)),
        )
    )


def _one(name: str, nonempty: bool = False) -> Shape:
    return Shape((Field(name, (str,), nonempty=nonempty),))


# The seed shows chat_joined's history only as "messages": [...]; a stored message needs no more
# than a role and its content (a Mongo document would carry _id, not messageId).
_HISTORY = Shape(
    (Field("role", (str,), values=("user", "assistant", "system")), Field("content", (str,)))
)
_CHAT_ID = Field("chatId", (str,), nonempty=True)

#: The server's messages, in the seed's order ("Сообщения от сервера к клиенту").
SCHEMAS: dict[str, Shape] = {
    "connected": _one("message"),
    "authenticated": _one("userId", nonempty=True),
    "chat_joined": Shape(
        (_CHAT_ID, Field("messages", (list,), items=_HISTORY), Field("title", (str,)))
    ),
    "chat_created": Shape((_CHAT_ID, Field("title", (str,)))),
    "user_message": _said("user"),
    "assistant_message_start": _one("message"),
    "assistant_message_token": _one("token"),
    "assistant_message_complete": _said("assistant"),
    "error": _one("message"),
}


def _rule(
    suffix: str,
    text: str,
    source: str = PROTOCOLS,
    level: Level = Level.MUST,
    needs: frozenset[str] = frozenset(),
) -> Rule:
    return Rule(f"ws-events.{suffix}", level, text, source, needs)


def _schema_rule(kind: str, shape: Shape) -> Rule:
    names = ", ".join(f.name for f in shape.fields)
    return _rule(f"schema.{kind}", f"{kind} carries {{{names}}} with the seed's types.", SEED)


RULES = (
    *WS_RULES,
    # "Every frame is a JSON text message {"type": …, "data": {…}}."
    _rule("json", "Every frame is a JSON object."),
    _rule("envelope", "Every message is {type: string, data: object}."),
    _rule("type.unknown", "The server sends only the message types the seed lists.", SEED),
    *(_schema_rule(kind, shape) for kind, shape in SCHEMAS.items()),
    # "On connect the server sends connected {message}." … "Order per turn: user_message →
    # assistant_message_start → assistant_message_token* → assistant_message_complete".
    _rule(
        "order",
        "connected comes first, and each turn runs user_message, assistant_message_start, "
        "tokens, then complete (or error).",
    ),
    # "authenticated {userId} (after a valid token; SHOULD come before the chat is joined or
    # created — the seed does not fix that order)"
    _rule(
        "order.authenticated",
        "authenticated comes before the chat is joined or created.",
        PROTOCOLS + " (SHOULD, not MUST: the seed does not fix this order)",
        Level.SHOULD,
    ),
    _rule("incomplete", "The exchange does not end before connected, nor in the middle of a turn."),
    # "… where complete.content equals the concatenated tokens."
    _rule(
        "content.tokens",
        "assistant_message_complete.content equals the concatenated tokens of its turn.",
    ),
    _rule(
        "content.user-echo",
        "user_message.content is a message the client sent.",
        SEED,
        needs=frozenset({"client"}),
    ),
    _rule(
        "message-id.unique",
        "Every user_message and assistant_message_complete has its own messageId.",
        SEED + " (messages are stored in the database)",
    ),
    _rule(
        "timestamp",
        "Timestamps are ISO 8601 date-times with a zone, as toISOString writes them "
        "(2024-01-01T00:00:00.000Z).",
        SEED + " (user_message example)",
        Level.SHOULD,
    ),
)

_BETWEEN_TURNS = ("connected", "authenticated", "chat")

MACHINE = Machine(
    initial="new",
    transitions={
        ("new", "connected"): "connected",
        ("connected", "authenticated"): "authenticated",
        # Joined or created before authenticated: the order.authenticated rule (a SHOULD).
        ("connected", "chat_joined"): "chat",
        ("connected", "chat_created"): "chat",
        ("authenticated", "authenticated"): "=",
        ("chat", "authenticated"): "=",  # join_chat on a connection already in a chat
        ("authenticated", "chat_joined"): "chat",
        ("authenticated", "chat_created"): "chat",
        ("chat", "chat_joined"): "chat",
        ("chat", "chat_created"): "chat",
        ("chat", "user_message"): "user_message",
        ("user_message", "assistant_message_start"): "typing",
        ("typing", "assistant_message_token"): "typing",
        ("typing", "assistant_message_complete"): "chat",
        # "Malformed JSON or an unknown type gets error; the connection stays usable."
        **{(state, "error"): "=" for state in _BETWEEN_TURNS},
        # An error inside a turn ends it.
        ("user_message", "error"): "chat",
        ("typing", "error"): "chat",
    },
    final=frozenset(_BETWEEN_TURNS),
    unexpected="ws-events.order",
    incomplete="ws-events.incomplete",
    after_final="ws-events.order",  # no state is terminal: a connection serves many turns
)

SPEC = Spec(rules=RULES, schemas=SCHEMAS, machine=MACHINE)


def encode(kind: str, data: dict[str, Any]) -> str:
    """One message as the Node server writes it: ``JSON.stringify({type, data})``."""
    return dumps_compact({"type": kind, "data": data})


def _envelope(kind: str, *fields: Field) -> Shape:
    return Shape((Field("type", (str,), values=(kind,)), Field("data", (Shape(fields),))))


_TOKEN = Field("token", (str,), nonempty=True)

#: What the seed's client sends ("Сообщения от клиента к серверу"), whole envelopes; the
#: AsyncAPI export describes the client's side with them.
CLIENT_SCHEMAS: dict[str, Shape] = {
    "join_chat": _envelope("join_chat", _TOKEN, Field("chatId", (str,), required=False)),
    "create_chat": _envelope("create_chat", _TOKEN, Field("title", (str,), required=False)),
    "message": _envelope("message", Field("message", (str,), nonempty=True)),
}
