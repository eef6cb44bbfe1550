"""``ws-events``: JSON ``{type, data}`` events over a WebSocket, with JWT auth and chat history.

Seed 001: a Node ``ws`` server (``ChatWebSocketServer``) at ``ws://host/ws/chat``. A client
authenticates with a JWT in ``join_chat`` / ``create_chat`` and then sends ``message``; the server
echoes ``user_message`` and streams ``assistant_message_start``, ``assistant_message_token``… and
``assistant_message_complete``. Chats keep their history and take their title from the first
message.

Where the seed and PROTOCOLS.md are silent, this module decides:

* the user is the token's ``userId`` claim (what jsonwebtoken apps sign), else ``sub`` (the
  registered claim), else ``id``; a string or an integer;
* ``join_chat`` without a ``chatId`` opens a new empty chat and answers ``chat_joined``;
* a chat belongs to the user who created it: another user's ``chatId`` is "Chat not found";
* the user message is stored when it arrives, so a client that drops mid-turn and rejoins finds
  it; the assistant message is stored once its reply completed;
* a tool call has no frame in this protocol, so a script's tool round is not shown;
* a script error after 0 tokens comes before ``assistant_message_start`` (the reply never
  started), otherwise after the tokens sent; either way it ends the turn.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from streamctl.core.jwt import JWTError, verify
from streamctl.core.protocols.base import (
    WS_RULES,
    ClientOptions,
    ClientSession,
    Endpoint,
    Out,
    Reaction,
    ServerSession,
    Settings,
    Turn,
    Update,
    WSProtocol,
)
from streamctl.core.script import Script
from streamctl.core.spec import Field, Finding, Level, Machine, Msg, Rule, Shape, Spec
from streamctl.core.transcript import Transcript

SEED = "seed 001 (Node ws chat server with JWT auth)"
PROTOCOLS = "PROTOCOLS.md §2"
PATH = "/ws/chat"
DEFAULT_TITLE = "Новый чат"  # the seed's chat_created example
TITLE_LENGTH = 50
USER_CLAIMS = ("userId", "sub", "id")


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


def _rule(suffix: str, text: str, source: str = PROTOCOLS, level: Level = Level.MUST) -> Rule:
    return Rule(f"ws-events.{suffix}", level, text, source)


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
        "connected comes first, authenticated before a chat is joined or created, and each turn "
        "runs user_message, assistant_message_start, tokens, then complete (or error).",
    ),
    _rule("incomplete", "The exchange does not end before connected, nor in the middle of a turn."),
    # "… where complete.content equals the concatenated tokens."
    _rule(
        "content.tokens",
        "assistant_message_complete.content equals the concatenated tokens of its turn.",
    ),
    _rule("content.user-echo", "user_message.content is a message the client sent.", SEED),
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

_ISO_8601 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_SAID = ("user_message", "assistant_message_complete")


def encode(kind: str, data: dict[str, Any]) -> str:
    """One message as the Node server writes it: ``JSON.stringify({type, data})``."""
    return json.dumps({"type": kind, "data": data}, ensure_ascii=False, separators=(",", ":"))


class WSEvents(WSProtocol):
    name: ClassVar[str] = "ws-events"
    title: ClassVar[str] = "WebSocket {type, data} events with JWT auth and chat history"
    seed: ClassVar[str] = "001"
    imitates: ClassVar[str] = "Node ws chat server with JWT auth"
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        Endpoint("WS", PATH, "join_chat / create_chat with a JWT, then message", stream=True),
    )
    spec: ClassVar[Spec] = SPEC

    # --- checking ---------------------------------------------------------------------------

    def classify(self, obj: dict[str, Any], raw: str, frame: int, t: float) -> Msg | list[Finding]:
        kind, data = obj.get("type"), obj.get("data")
        if not isinstance(kind, str):
            return [self.finding("envelope", "the message has no string 'type'", frame, raw)]
        if kind not in SCHEMAS:
            return [self.finding("type.unknown", f"unknown message type {kind!r}", frame, raw)]
        if not isinstance(data, dict):
            return [self.finding("envelope", f"{kind}: 'data' must be an object", frame, raw)]
        return Msg(kind, data, frame, t, raw)

    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        yield from self._tokens_rule(msgs)
        yield from self._echo_rule(msgs, transcript)
        yield from self._said_rules(msgs)

    def _tokens_rule(self, msgs: Sequence[Msg]) -> Iterator[Finding]:
        tokens: list[str] = []
        for msg in msgs:
            if msg.type == "assistant_message_start":
                tokens = []
            elif msg.type == "assistant_message_token":
                token = msg.body.get("token")
                tokens.append(token if isinstance(token, str) else "")
            elif msg.type == "assistant_message_complete":
                content, joined = msg.body.get("content"), "".join(tokens)
                if content != joined:
                    text = f"content {content!r} is not the concatenated tokens {joined!r}"
                    yield self.finding("content.tokens", text, msg.frame, msg.raw)

    def _echo_rule(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterator[Finding]:
        if next(transcript.frames("client"), None) is None:
            return  # only the server's side was recorded: nothing to compare with
        sent = list(_client_messages(transcript))
        for msg in (m for m in msgs if m.type == "user_message"):
            content = msg.body.get("content")
            match = next(
                (i for i, (f, text) in enumerate(sent) if f < msg.frame and text == content), None
            )
            if match is None:
                text = f"content {content!r} is no message the client sent before it"
                yield self.finding("content.user-echo", text, msg.frame, msg.raw)
            else:
                del sent[match]

    def _said_rules(self, msgs: Sequence[Msg]) -> Iterator[Finding]:
        seen: set[str] = set()
        for msg in (m for m in msgs if m.type in _SAID):
            message_id, stamp = msg.body.get("messageId"), msg.body.get("timestamp")
            if isinstance(message_id, str) and message_id in seen:
                text = f"messageId {message_id!r} was already used"
                yield self.finding("message-id.unique", text, msg.frame, msg.raw)
            if isinstance(message_id, str):
                seen.add(message_id)
            if isinstance(stamp, str) and not _is_iso_8601(stamp):
                text = f"timestamp {stamp!r} is not an ISO 8601 date-time with a zone"
                yield self.finding("timestamp", text, msg.frame, msg.raw)

    # --- serving ----------------------------------------------------------------------------

    def new_state(self, settings: Settings) -> State:
        return State(settings)

    def open(self, state: Any) -> ServerSession:
        return Session(state)

    # --- sending ----------------------------------------------------------------------------

    def client(self, options: ClientOptions) -> ClientSession:
        return _Client(options)


def _client_messages(transcript: Transcript) -> Iterator[tuple[int, str]]:
    """``(record index, text)`` of every well-formed ``message`` the client sent."""
    for index, sent in transcript.frames("client"):
        try:
            obj = json.loads(sent.payload)
        except ValueError:
            continue
        data = obj.get("data") if isinstance(obj, dict) and obj.get("type") == "message" else None
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            yield index, data["message"]


def _is_iso_8601(text: str) -> bool:
    if _ISO_8601.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:  # the right shape, but no such date or time
        return False
    return True


# --- server side ------------------------------------------------------------------------------


@dataclass
class Chat:
    """A stored chat: its owner, title and messages (in the shape ``chat_joined`` returns)."""

    owner: str
    title: str = DEFAULT_TITLE
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class State:
    """Everything the server keeps across connections: chats and id counters."""

    settings: Settings
    chats: dict[str, Chat] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

    def mint(self, prefix: str) -> str:
        """A new id: ``chat_1``, ``msg_1``, ``msg_2``…"""
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return f"{prefix}_{self.counters[prefix]}"

    def said(self, role: str, content: str) -> dict[str, Any]:
        """A new message record, timestamped the way ``Date.toISOString()`` writes it."""
        moment = datetime.fromtimestamp(self.settings.clock(), UTC)
        stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {"messageId": self.mint("msg"), "content": content, "role": role, "timestamp": stamp}


def _error(message: str) -> Reaction:
    return Reaction(send=(encode("error", {"message": message}),))


def _user_of(payload: dict[str, Any]) -> str | None:
    for claim in USER_CLAIMS:
        value = payload.get(claim)
        if isinstance(value, str | int) and not isinstance(value, bool) and value != "":
            return str(value)
    return None


def _title(text: str) -> str:
    # "Автоматическое обновление заголовков чатов": the first message, cut short.
    flat = " ".join(text.split())
    return flat if len(flat) <= TITLE_LENGTH else flat[:TITLE_LENGTH] + "..."


class Session(ServerSession):
    """One connection: who authenticated on it and which chat it is in."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.user: str | None = None
        self.chat: str | None = None
        self._replies: dict[str, dict[str, Any]] = {}

    def greeting(self) -> Sequence[str]:
        return [encode("connected", {"message": "WebSocket connection established"})]

    def receive(self, text: str) -> Reaction:
        try:
            obj = json.loads(text)
        except ValueError:
            return _error("Invalid message format: not JSON")
        if not isinstance(obj, dict):
            return _error("Invalid message format: expected {type, data}")
        kind, data = obj.get("type"), obj.get("data")
        handlers = {"join_chat": self._join, "create_chat": self._create, "message": self._say}
        if not isinstance(kind, str) or kind not in handlers:
            return _error(f"Unknown message type: {kind}")
        if not isinstance(data, dict):
            return _error("Invalid message format: 'data' must be an object")
        return handlers[kind](data)

    def _authenticate(self, data: dict[str, Any]) -> str | Reaction:
        token = data.get("token")
        if not isinstance(token, str) or not token:
            return _error("Authentication required: no token")
        settings = self.state.settings
        try:
            payload = verify(token, settings.jwt_secret, settings.clock())
        except JWTError as exc:
            return _error(f"Authentication failed: {exc}")
        user = _user_of(payload)
        if user is None:
            return _error("Authentication failed: the token names no user (userId, sub or id)")
        return user

    def _login(self, user: str) -> str:
        if user != self.user:
            self.user, self.chat = user, None  # another user does not inherit the chat
        return encode("authenticated", {"userId": user})

    def _new_chat(self, user: str) -> str:
        chat_id = self.state.mint("chat")
        self.state.chats[chat_id] = Chat(user)
        return chat_id

    def _join(self, data: dict[str, Any]) -> Reaction:
        user = self._authenticate(data)
        if isinstance(user, Reaction):
            return user
        authenticated = self._login(user)
        chat_id = data.get("chatId") or self._new_chat(user)
        chat = self.state.chats.get(chat_id) if isinstance(chat_id, str) else None
        if chat is None or chat.owner != user:
            return Reaction(send=(authenticated, *_error("Chat not found").send))
        self.chat = chat_id
        joined = {"chatId": chat_id, "messages": list(chat.messages), "title": chat.title}
        return Reaction(send=(authenticated, encode("chat_joined", joined)))

    def _create(self, data: dict[str, Any]) -> Reaction:
        user = self._authenticate(data)
        if isinstance(user, Reaction):
            return user
        authenticated = () if user == self.user else (self._login(user),)
        self.chat = self._new_chat(user)
        created = encode("chat_created", {"chatId": self.chat, "title": DEFAULT_TITLE})
        return Reaction(send=(*authenticated, created))

    def _say(self, data: dict[str, Any]) -> Reaction:
        text = data.get("message")
        if self.chat is None:
            return _error("Join or create a chat before sending messages")
        if not isinstance(text, str) or not text.strip():
            return _error("Message must be a non-empty string")
        chat = self.state.chats[self.chat]
        index = sum(1 for message in chat.messages if message["role"] == "user")
        record = self.state.said("user", text)
        chat.messages.append(record)
        if index == 0:
            chat.title = _title(text)
        turn = Turn(text, index, self.chat, {"messageId": self.state.mint("msg")})
        return Reaction(send=(encode("user_message", record),), turn=turn)

    def render(self, script: Script, turn: Turn) -> Sequence[Out]:
        error = script.error
        out: list[Out] = []
        if error is None or error.after > 0:
            out.append(
                Out(encode("assistant_message_start", {"message": "Assistant is typing..."}))
            )
        for index, token in enumerate(script.sent_tokens):
            token_frame = encode("assistant_message_token", {"token": token.text})
            out.append(Out(token_frame, token.delay_ms, token=index))
        if error is not None:
            out.append(Out(encode("error", {"message": error.message}), terminal=True))
            return out
        reply = {**self.state.said("assistant", script.text), "messageId": turn.ids["messageId"]}
        self._replies[reply["messageId"]] = reply
        out.append(Out(encode("assistant_message_complete", reply), terminal=True))
        return out

    def finish(self, turn: Turn, script: Script, completed: bool) -> None:
        reply = self._replies.pop(turn.ids.get("messageId", ""), None)
        if completed and reply is not None:
            self.state.chats[turn.conversation].messages.append(reply)


# --- client side ------------------------------------------------------------------------------


class _Client(ClientSession):
    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    def opening(self) -> Sequence[str]:
        # Without a token the request still goes out, so the user sees the server's answer.
        auth = {} if self.options.token is None else {"token": self.options.token}
        if self.options.chat:
            return [encode("join_chat", {**auth, "chatId": self.options.chat})]
        return [encode("create_chat", auth)]

    def on_message(self, text: str) -> Update:
        try:
            obj = json.loads(text)
        except ValueError:
            return Update(info=f"ignored a non-JSON message: {text[:80]!r}")
        data = obj.get("data") if isinstance(obj, dict) else None
        if not isinstance(data, dict):
            return Update(info=f"ignored a message without {{type, data}}: {text[:80]!r}")
        kind = obj.get("type")
        if kind in ("chat_joined", "chat_created"):
            message = encode("message", {"message": self.options.message})
            return Update(send=(message,), info=f"chat {data.get('chatId')}")
        if kind == "assistant_message_token":
            token = data.get("token")
            return Update(text=token if isinstance(token, str) else "")
        if kind == "assistant_message_complete":
            return Update(done=True)
        if kind == "error":
            # Nothing else comes for this exchange after an error, so it is also the end.
            return Update(error=str(data.get("message")), done=True)
        return Update()


PROTOCOL = WSEvents()
