"""``chunk-complete``: WebSocket JSON ``chunk`` frames ended by ``complete`` (seed 003).

Seed 003 (French): a NiceGUI ``ChatUI`` talks to a FastAPI router (``backend/api/routers/
chat_api.py``) over ``ws://host/chat/ws``. The client sends ``{"message", "timestamp"}``; the
router streams ``ChatService.stream_response()`` as ``{"type": "chunk", "message_id": "bot_1",
"text": …}`` messages, then ``{"type": "complete", "message_id": "bot_1"}``; invalid input gets
``{"type": "error", "message": …}`` and the connection stays open.

Where the seed and PROTOCOLS.md §3 are silent:

* ``timestamp`` is optional on the server: the reply does not depend on it, and refusing a
  message for lacking it would only hide the user's question. When present it must be a string
  (or null, which a pydantic ``Optional[str]`` accepts). The checker judges the server, so there is
  no rule on it; our client always sends one.
* A blank ``message`` (whitespace only) is refused like an empty one: there is nothing to answer.
* Tool calls have no message in this protocol; a script's tool call is not rendered.
* There is no history endpoint (the seed lists persisted history as a future improvement).
* ``complete`` names a reply that chunks opened, so an empty reply is one chunk with empty text.
  For the same reason there is no rule against empty chunks: the seed's client appends ``text``,
  an empty one changes nothing, and FastAPI forwards whatever the generator yields.

The package: :mod:`.rules` (the spec as data and the message encoding), :mod:`.checking` (rules
that need code), :mod:`.server` (a connection's session) and :mod:`.client` (``streamctl send``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from streamctl.core.protocols.chunk_complete import checking
from streamctl.core.protocols.chunk_complete.client import ChunkCompleteClient, iso_timestamp
from streamctl.core.protocols.chunk_complete.rules import (
    CLIENT_MESSAGE,
    MACHINE,
    PATH,
    PROTOCOLS,
    RULES,
    SEED,
    SPEC,
    encode,
)
from streamctl.core.protocols.chunk_complete.server import Session, State
from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Endpoint, Settings
from streamctl.core.protocols.protocol import WSProtocol
from streamctl.core.protocols.server import ServerSession
from streamctl.core.spec import Finding, Msg, Shape, Spec
from streamctl.core.transcript import Transcript

__all__ = [
    "CLIENT_MESSAGE",
    "MACHINE",
    "PATH",
    "PROTOCOL",
    "PROTOCOLS",
    "RULES",
    "SEED",
    "SPEC",
    "ChunkComplete",
    "ChunkCompleteClient",
    "Session",
    "State",
    "encode",
    "iso_timestamp",
]


class ChunkComplete(WSProtocol):
    name: ClassVar[str] = "chunk-complete"
    title: ClassVar[str] = "WebSocket chunk/complete"
    seed: ClassVar[str] = "003"
    imitates: ClassVar[str] = "FastAPI WebSocket router (NiceGUI client)"
    endpoints: ClassVar[tuple[Endpoint, ...]] = (
        Endpoint("WS", PATH, "send {message, timestamp}; receive chunk… then complete", True),
    )
    spec: ClassVar[Spec] = SPEC
    reply_types: ClassVar[frozenset[str]] = frozenset({"chunk", "complete"})
    client_schemas: ClassVar[Mapping[str, Shape]] = {"message": CLIENT_MESSAGE}

    # --- checking ---------------------------------------------------------------------------

    def classify(self, obj: dict[str, Any], raw: str, frame: int, t: float) -> Msg | list[Finding]:
        # Inline rather than in checking.py: the checker calls this once per message.
        kind = obj.get("type")
        if isinstance(kind, str) and kind in SPEC.schemas:
            return Msg(kind, obj, frame, t, raw)
        return [self.finding("type.unknown", f"unknown message type {kind!r}", frame, raw)]

    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        return checking.content_findings(self, msgs, transcript)

    # --- serving ----------------------------------------------------------------------------

    def new_state(self, settings: Settings) -> State:
        return State()

    def open(self, state: State) -> ServerSession:
        state.connections += 1
        return Session(f"connection-{state.connections}")

    # --- sending ----------------------------------------------------------------------------

    def client(
        self, options: ClientOptions, clock: Callable[[], float] = time.time
    ) -> ClientSession:
        """A client that sends ``options.message`` stamped with ``clock()`` (seconds)."""
        return ChunkCompleteClient(options, clock)


PROTOCOL = ChunkComplete()
