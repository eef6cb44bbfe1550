"""The mock backend of ``message-stream``: chats with history, the stream, and its REST routes.

It behaves like the FastAPI service seed 004's client talks to: the user's message is stored as
soon as it is accepted (the client shows it optimistically and reloads history after the stream
for the real ids), the assistant's message is stored once its stream has ended, and ids come
from one counter shared by all chats, like a database sequence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from streamctl.core.protocols.exchange import (
    Accepted,
    Endpoint,
    HttpRequest,
    HttpResponse,
    Out,
    Route,
    Settings,
    Turn,
)
from streamctl.core.protocols.message_stream.validation import (
    int_params,
    message_body,
    unprocessable,
)
from streamctl.core.protocols.message_stream.wire import NDJSON, dumps, encode, wants_ndjson
from streamctl.core.script import Script

__all__ = ["ENDPOINTS", "ChatStore", "accept", "finish", "render", "routes"]

BASE = "/api/web/v1/chats/{chat_id}/messages"
STREAM_PATH = BASE + "/stream"
MESSAGE_PATH = BASE + "/{message_id}"
ENDPOINTS = (
    Endpoint("POST", STREAM_PATH, 'stream a reply to {"content": …} (SSE or NDJSON)', stream=True),
    Endpoint("GET", BASE, "the chat's messages, oldest first"),
    Endpoint("DELETE", MESSAGE_PATH, "delete one message of the chat"),
)
MODEL = "streamctl-mock"
SSE_HEADERS = (
    ("content-type", "text/event-stream; charset=utf-8"),
    ("cache-control", "no-cache"),
    ("connection", "keep-alive"),
    ("x-accel-buffering", "no"),
)
# Starlette adds a charset only to text/* media types.
NDJSON_HEADERS = (("content-type", NDJSON), ("cache-control", "no-cache"))

Message = dict[str, Any]


def iso(seconds: float) -> str:
    """A UTC timestamp as pydantic v2 serializes an aware datetime (``…Z``)."""
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class ChatStore:
    """Every chat's messages; a chat exists as soon as any integer id is used."""

    settings: Settings
    chats: dict[int, list[Message]] = field(default_factory=dict)
    last_id: int = 0
    #: Each chat's user messages, counted as they come and go (counting them in the history
    #: on every message made a long chat cost work in proportion to its length, each time).
    user_turns: dict[int, int] = field(default_factory=dict)

    def mint(self) -> int:
        self.last_id += 1
        return self.last_id

    def now(self) -> str:
        return iso(self.settings.clock())

    def history(self, chat_id: int) -> list[Message]:
        return sorted(self.chats.get(chat_id, []), key=lambda m: int(m["id"]))

    def add(self, message: Message) -> None:
        chat_id = int(message["chat_id"])
        self.chats.setdefault(chat_id, []).append(message)
        if message["role"] == "user":
            self.user_turns[chat_id] = self.user_turns.get(chat_id, 0) + 1

    def delete(self, chat_id: int, message_id: int) -> bool:
        messages = self.chats.get(chat_id, [])
        kept = [m for m in messages if m["id"] != message_id]
        if len(kept) == len(messages):
            return False
        self.chats[chat_id] = kept
        self.user_turns[chat_id] = sum(m["role"] == "user" for m in kept)
        return True


def message_read(
    message_id: int, chat_id: int, role: str, content: str, created_at: str
) -> Message:
    """A ``MessageRead`` (seed 004's API type) without metadata."""
    return {
        "id": message_id,
        "chat_id": chat_id,
        "role": role,
        "content": content,
        "created_at": created_at,
    }


# --- the stream ---------------------------------------------------------------------------


def accept(request: HttpRequest, store: ChatStore) -> HttpResponse | Accepted:
    """Validate like FastAPI, store the user's message, and mint the reply's id."""
    body = message_body(request.body)
    if isinstance(body, HttpResponse):
        return body
    content, body_errors = body
    params, errors = int_params(request, STREAM_PATH, ("chat_id",))
    if errors or body_errors:
        return unprocessable([*errors, *body_errors])
    chat_id = params["chat_id"]
    index = store.user_turns.get(chat_id, 0)
    store.add(message_read(store.mint(), chat_id, "user", content, store.now()))
    ndjson = wants_ndjson(request.headers.get("accept"))
    ids = {"chat_id": chat_id, "message_id": store.mint(), "created_at": store.now()}
    turn = Turn(content, index, str(chat_id), {**ids, "ndjson": ndjson})
    return Accepted(turn, NDJSON_HEADERS if ndjson else SSE_HEADERS)


def _assistant(turn: Turn, content: str) -> Message:
    ids = turn.ids
    return message_read(ids["message_id"], ids["chat_id"], "assistant", content, ids["created_at"])


def final_message(turn: Turn, script: Script) -> Message:
    """The assistant's finished message, as message_end sends it and history keeps it.

    ``processingTime`` is the scripted pacing in ms (the writes are planned before they are
    paced, so no clock could measure them). A tool round has no event of its own in this
    protocol; it is reported the way the seed's UI shows model work: as ``thinkingText``.
    """
    metadata: dict[str, Any] = {
        "model": MODEL,
        "tokens": len(script.sent_tokens),
        "processingTime": round(sum(t.delay_ms for t in script.sent_tokens)),
    }
    if script.tool is not None:
        tool = script.tool
        call = f"{tool.name}({dumps(dict(tool.arguments))})"
        metadata["thinkingText"] = f"Called {call} -> {tool.output}"
        metadata["hasThinkingProcess"] = True
    return {**_assistant(turn, script.text), "metadata": metadata}


def render(script: Script, turn: Turn) -> list[Out]:
    """message_start, a message_delta per token, then message_end or error (terminal)."""
    ndjson = bool(turn.ids["ndjson"])
    message_id = turn.ids["message_id"]
    error = script.error
    out: list[Out] = []
    if error is None or error.after > 0:
        start = {"type": "message_start", "message": _assistant(turn, "")}
        out.append(Out(encode(start, ndjson)))
    for index, token in enumerate(script.sent_tokens):
        delta = {"type": "message_delta", "message_id": message_id, "delta": token.text}
        out.append(Out(encode(delta, ndjson), token.delay_ms, token=index))
    if error is not None:
        failure = {"type": "error", "error": {"message": error.message, "code": "stream_error"}}
        out.append(Out(encode(failure, ndjson), terminal=True))
    else:
        end = {"type": "message_end", "message": final_message(turn, script)}
        out.append(Out(encode(end, ndjson), terminal=True))
    return out


def finish(turn: Turn, script: Script, store: ChatStore, completed: bool) -> None:
    """Store the assistant's message once its stream ended with message_end.

    A FastAPI generator that saves after its last yield never gets there when the client
    disconnects (Starlette cancels it) or when it yields an error; the seed's client then drops
    its unfinished placeholder ("автоматическое удаление незавершенных сообщений"), so nothing
    is stored for the assistant in either case. The user's message stays.
    """
    if completed and script.error is None:
        store.add(final_message(turn, script))


# --- history routes -----------------------------------------------------------------------


def list_messages(request: HttpRequest, store: ChatStore) -> HttpResponse:
    """``GET`` history: ``200 [MessageRead…]`` oldest first; a chat never used is ``[]``.

    Chats come into being on first use, so every integer chat id names a chat (the seed's demo
    page lets a person try any chat id); an empty one lists nothing rather than 404.
    """
    params, errors = int_params(request, BASE, ("chat_id",))
    if errors:
        return unprocessable(errors)
    return HttpResponse.json(200, store.history(params["chat_id"]))


def delete_message(request: HttpRequest, store: ChatStore) -> HttpResponse:
    """``DELETE`` one message: ``204`` empty, or ``404 {"detail": "Message not found"}``."""
    params, errors = int_params(request, MESSAGE_PATH, ("chat_id", "message_id"))
    if errors:
        return unprocessable(errors)
    if not store.delete(params["chat_id"], params["message_id"]):
        return HttpResponse.json(404, {"detail": "Message not found"})
    return HttpResponse(204)


def routes() -> tuple[Route, ...]:
    return (Route(ENDPOINTS[1], list_messages), Route(ENDPOINTS[2], delete_message))
