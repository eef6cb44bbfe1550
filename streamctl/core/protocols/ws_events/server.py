"""ws-events' server side: stored chats, and one connection's session (sans-I/O).

What the seed leaves open is decided in the package docstring
(:mod:`streamctl.core.protocols.ws_events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streamctl.core.jsontext import NotAnObjectError, json_object
from streamctl.core.jwt import JWTError, verify
from streamctl.core.protocols.exchange import Out, Reaction, Settings, Turn
from streamctl.core.protocols.server import ServerSession
from streamctl.core.protocols.ws_events.rules import encode
from streamctl.core.script import Script

__all__ = [
    "DEFAULT_JWT_SECRET",
    "DEFAULT_TITLE",
    "TITLE_LENGTH",
    "USER_CLAIMS",
    "Chat",
    "Session",
    "State",
    "WsEventsSettings",
]

DEFAULT_TITLE = "Новый чат"  # the seed's chat_created example
TITLE_LENGTH = 50
USER_CLAIMS = ("userId", "sub", "id")
#: The mock's ``JWT_SECRET`` unless told otherwise (``streamctl token`` mints with it).
DEFAULT_JWT_SECRET = "streamctl-dev-secret"


@dataclass(frozen=True)
class WsEventsSettings:
    """ws-events' own server settings (``Settings.protocols["ws-events"]``)."""

    #: HS256 secret the JWTs are verified with (``JWT_SECRET``).
    jwt_secret: str = DEFAULT_JWT_SECRET


@dataclass
class Chat:
    """A stored chat: its owner, title and messages (in the shape ``chat_joined`` returns)."""

    owner: str
    title: str = DEFAULT_TITLE
    messages: list[dict[str, Any]] = field(default_factory=list)
    #: The user's messages so far: kept as they arrive, since counting them in ``messages``
    #: on every message made a long chat cost work in proportion to its length, each time.
    user_turns: int = 0


@dataclass
class State:
    """Everything the server keeps across connections: chats and id counters."""

    settings: Settings
    own: WsEventsSettings = field(default_factory=WsEventsSettings)
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
            obj = json_object(text)
        except NotAnObjectError:
            return _error("Invalid message format: expected {type, data}")
        except ValueError:  # too deep for the parser is not JSON to it either
            return _error("Invalid message format: not JSON")
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
        state = self.state
        try:
            payload = verify(token, state.own.jwt_secret, state.settings.clock())
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
        index = chat.user_turns
        chat.user_turns += 1
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
