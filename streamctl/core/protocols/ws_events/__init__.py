"""``ws-events``: JSON ``{type, data}`` events over a WebSocket, with JWT auth and chat history.

Seed 001: a Node ``ws`` server (``ChatWebSocketServer``) at ``ws://host/ws/chat``. A client
authenticates with a JWT in ``join_chat`` / ``create_chat`` and then sends ``message``; the server
echoes ``user_message`` and streams ``assistant_message_start``, ``assistant_message_token``… and
``assistant_message_complete``. Chats keep their history and take their title from the first
message.

Where the seed and PROTOCOLS.md are silent, this package decides:

* the user is the token's ``userId`` claim (what jsonwebtoken apps sign), else ``sub`` (the
  registered claim), else ``id``; a string or an integer;
* ``join_chat`` without a ``chatId`` opens a new empty chat and answers ``chat_joined``;
* a chat belongs to the user who created it: another user's ``chatId`` is "Chat not found";
* the user message is stored when it arrives, so a client that drops mid-turn and rejoins finds
  it; the assistant message is stored once its reply completed;
* a tool call has no frame in this protocol, so a script's tool round is not shown;
* a script error after 0 tokens comes before ``assistant_message_start`` (the reply never
  started), otherwise after the tokens sent; either way it ends the turn.

The package: :mod:`.rules` (the spec as data and the message envelope), :mod:`.checking` (rules
that need code), :mod:`.server` (chats and a connection's session) and :mod:`.client`
(``streamctl send``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Endpoint, Settings
from streamctl.core.protocols.protocol import WSProtocol
from streamctl.core.protocols.server import ServerSession
from streamctl.core.protocols.ws_events import checking
from streamctl.core.protocols.ws_events.client import WSEventsClient
from streamctl.core.protocols.ws_events.rules import (
    CLIENT_SCHEMAS,
    MACHINE,
    PROTOCOLS,
    RULES,
    SCHEMAS,
    SEED,
    SPEC,
    encode,
)
from streamctl.core.protocols.ws_events.server import (
    DEFAULT_TITLE,
    TITLE_LENGTH,
    USER_CLAIMS,
    Chat,
    Session,
    State,
    WsEventsSettings,
)
from streamctl.core.spec import Finding, Msg, Shape, Spec
from streamctl.core.transcript import Transcript

__all__ = [
    "DEFAULT_TITLE",
    "MACHINE",
    "PATH",
    "PROTOCOL",
    "PROTOCOLS",
    "RULES",
    "SCHEMAS",
    "SEED",
    "SPEC",
    "TITLE_LENGTH",
    "USER_CLAIMS",
    "Chat",
    "Session",
    "State",
    "WSEvents",
    "encode",
]

PATH = "/ws/chat"


class WSEvents(WSProtocol):
    """The Node chat server's WebSocket events, their checker, the mock and the client."""

    name: ClassVar[str] = "ws-events"
    title: ClassVar[str] = "WebSocket {type, data} events with JWT auth and chat history"
    seed: ClassVar[str] = "001"
    imitates: ClassVar[str] = "Node ws chat server with JWT auth"
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        Endpoint("WS", PATH, "join_chat / create_chat with a JWT, then message", stream=True),
    )
    spec: ClassVar[Spec] = SPEC
    reply_types: ClassVar[frozenset[str]] = frozenset(
        {"assistant_message_token", "assistant_message_complete"}
    )
    credentials_hint: ClassVar[str | None] = "pass --token JWT, or --jwt-secret SECRET to mint one"
    data_field: ClassVar[str | None] = "data"
    client_schemas: ClassVar[Mapping[str, Shape]] = CLIENT_SCHEMAS

    # --- checking ---------------------------------------------------------------------------

    def classify(self, obj: dict[str, Any], raw: str, frame: int, t: float) -> Msg | list[Finding]:
        return checking.classify(self, obj, raw, frame, t)

    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        return checking.content_findings(self, msgs, transcript)

    def auth_pending(self, before: Sequence[str]) -> bool:
        # "A bad, expired or missing token gets error and no chat."
        return "authenticated" not in before

    # --- serving ----------------------------------------------------------------------------

    def new_state(self, settings: Settings) -> State:
        return State(settings, settings.own(self.name, WsEventsSettings))

    def open(self, state: Any) -> ServerSession:
        return Session(state)

    # --- sending ----------------------------------------------------------------------------

    def client(self, options: ClientOptions) -> ClientSession:
        return WSEventsClient(options)


PROTOCOL = WSEvents()
