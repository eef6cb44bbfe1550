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
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from streamctl.core.jsontext import dumps_compact, is_unicode
from streamctl.core.protocols.asks import Asks
from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import (
    ClientOptions,
    Endpoint,
    Out,
    Reaction,
    Settings,
    Turn,
    Update,
)
from streamctl.core.protocols.protocol import WSProtocol
from streamctl.core.protocols.rules import WS_RULES
from streamctl.core.protocols.server import ServerSession
from streamctl.core.script import Script
from streamctl.core.spec import (
    SAME,
    Field,
    Finding,
    Level,
    Machine,
    Msg,
    Rule,
    Shape,
    Spec,
    validate,
)
from streamctl.core.transcript import Transcript

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

_BOT_ID = re.compile(r"bot_([1-9][0-9]*)")


def _encode(obj: dict[str, Any]) -> str:
    # Starlette's WebSocket.send_json: compact separators, ensure_ascii=False.
    return dumps_compact(obj)


def _chunk(reply_id: str, text: str) -> str:
    return _encode({"type": "chunk", "message_id": reply_id, "text": text})


def _error(message: str) -> str:
    return _encode({"type": "error", "message": message})


def iso_timestamp(seconds: float) -> str:
    """``seconds`` as the seed's client writes it: ISO 8601, UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
        kind = obj.get("type")
        if isinstance(kind, str) and kind in SPEC.schemas:
            return Msg(kind, obj, frame, t, raw)
        return [self.finding("type.unknown", f"unknown message type {kind!r}", frame, raw)]

    def content_rules(self, msgs: Sequence[Msg], transcript: Transcript) -> Iterable[Finding]:
        walk = _Walk(self, Asks([index for index, _ in transcript.frames("client")]))
        for msg in msgs:
            yield from walk.step(msg)
        yield from walk.end(transcript)

    # --- serving ----------------------------------------------------------------------------

    def new_state(self, settings: Settings) -> _State:
        return _State()

    def open(self, state: _State) -> ServerSession:
        state.connections += 1
        return _Session(f"connection-{state.connections}")

    # --- sending ----------------------------------------------------------------------------

    def client(
        self, options: ClientOptions, clock: Callable[[], float] = time.time
    ) -> ClientSession:
        """A client that sends ``options.message`` stamped with ``clock()`` (seconds)."""
        return _Client(options, clock)


@dataclass
class _Walk:
    """One pass over a connection's messages for the rules that span several of them."""

    proto: ChunkComplete
    asks: Asks  # every client message wants an answer
    state: str = MACHINE.initial
    current: str | None = None  # the open reply's message_id
    used: set[str] = field(default_factory=set)
    last: int = 0  # the highest bot_N number seen

    def step(self, msg: Msg) -> Iterator[Finding]:
        before = self.state
        self.state = MACHINE.next_state(before, msg.type) or before
        if before == "idle" and msg.type == "error":
            self.asks.answer(msg.frame)  # invalid input (or a reply that failed at once)
        elif before == "idle" and msg.type == "chunk":
            yield from self._start(msg)
        elif before == "streaming" and msg.type != "error":
            yield from self._same(msg)

    def end(self, transcript: Transcript) -> Iterator[Finding]:
        return self.asks.missing(self.proto, transcript)

    def _start(self, msg: Msg) -> Iterator[Finding]:
        if not self.asks.answer(msg.frame):
            yield self._finding("reply.unsolicited", "a reply with no client message waiting", msg)
        reply_id = msg.body.get("message_id")
        # A non-string id already broke the schema rule; the reply has no usable id.
        self.current = reply_id if isinstance(reply_id, str) else None
        if self.current is None:
            return
        if self.current in self.used:
            yield self._finding("message-id.new", f"{self.current!r} names an earlier reply", msg)
            return
        self.used.add(self.current)
        yield from self._pattern(self.current, msg)

    def _pattern(self, reply_id: str, msg: Msg) -> Iterator[Finding]:
        match = _BOT_ID.fullmatch(reply_id)
        if match is None:
            yield self._finding("message-id.pattern", f"{reply_id!r} is not bot_<N>", msg)
        elif int(match[1]) <= self.last:
            text = f"{reply_id!r} after bot_{self.last}: the numbers should grow"
            yield self._finding("message-id.pattern", text, msg)
        else:
            self.last = int(match[1])

    def _same(self, msg: Msg) -> Iterator[Finding]:
        reply_id = msg.body.get("message_id")
        if isinstance(reply_id, str) and self.current not in (None, reply_id):
            text = f"{msg.type} carries {reply_id!r} inside reply {self.current!r}"
            yield self._finding("message-id.same", text, msg)

    def _finding(self, suffix: str, message: str, msg: Msg) -> Finding:
        return self.proto.finding(suffix, message, msg.frame, msg.raw)


@dataclass
class _State:
    """Server-side state shared by every connection: a counter that names them."""

    connections: int = 0


class _Session(ServerSession):
    """One connection of the imitated router: each valid message gets one streamed reply."""

    def __init__(self, conversation: str) -> None:
        self.conversation = conversation
        self.turns = 0

    def greeting(self) -> Sequence[str]:
        return ()  # the router says nothing until the client does

    def receive(self, text: str) -> Reaction:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return Reaction(send=(_error('Invalid JSON: send {"message": "…", "timestamp": "…"}'),))
        problems = validate(obj, CLIENT_MESSAGE)
        if not problems and not obj["message"].strip():
            problems = ["'message' must not be empty"]
        elif not problems and not is_unicode(obj["message"]):
            # "\\ud800" alone: not text the reply could echo (Starlette's send_json fails on it).
            problems = ["'message' holds a lone surrogate escape: it is not Unicode text"]
        if problems:
            return Reaction(send=(_error("Invalid message: " + "; ".join(problems)),))
        turn = Turn(obj["message"], self.turns, self.conversation)
        self.turns += 1
        return Reaction(turn=turn)

    def render_key(self, turn: Turn) -> int:
        return turn.index  # the reply's id is all a rendering takes from the turn

    def render(self, script: Script, turn: Turn) -> Sequence[Out]:
        reply_id = f"bot_{turn.index + 1}"
        # Every chunk is this head, the token's text as JSON, and "}": what _chunk() encodes,
        # without a dict and a whole-object encoding per token.
        head = _chunk(reply_id, "").removesuffix('""}')
        out = [
            Out(f"{head}{dumps_compact(token.text)}}}", token.delay_ms, token=index)
            for index, token in enumerate(script.sent_tokens)
        ]
        if script.error is not None:
            return [*out, Out(_error(script.error.message), terminal=True)]
        if not out:
            out.append(Out(_chunk(reply_id, "")))  # complete ends a reply that a chunk opened
        complete = _encode({"type": "complete", "message_id": reply_id})
        return [*out, Out(complete, terminal=True)]

    def finish(self, turn: Turn, script: Script, completed: bool) -> None:
        """Nothing to record: the imitated router keeps no history."""


class _Client(ClientSession):
    def __init__(self, options: ClientOptions, clock: Callable[[], float]) -> None:
        self.options = options
        self.clock = clock

    def opening(self) -> Sequence[str]:
        stamp = iso_timestamp(self.clock())
        return [_encode({"message": self.options.message, "timestamp": stamp})]

    def on_message(self, text: str) -> Update:
        try:
            obj = json.loads(text)
        except (ValueError, RecursionError):
            return Update(info=f"ignored a non-JSON message: {text[:80]!r}")
        if not isinstance(obj, dict):
            return Update(info=f"ignored a non-object message: {text[:80]!r}")
        kind = obj.get("type")
        if kind == "chunk":
            chunk = obj.get("text")
            return Update(text=chunk if isinstance(chunk, str) else "")
        if kind == "complete":
            return Update(done=True)
        if kind == "error":
            # An error ends the exchange: no complete follows it.
            message = obj.get("message")
            reason = message if isinstance(message, str) else f"malformed error: {text[:80]!r}"
            return Update(error=reason, done=True)
        return Update(info=f"ignored a message of type {kind!r}")


PROTOCOL = ChunkComplete()
