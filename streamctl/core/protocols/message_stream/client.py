"""The client side of ``message-stream`` (what seed 004's ``MessageStreamHandler`` does)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from streamctl.core.protocols.client import ClientSession, read_object
from streamctl.core.protocols.exchange import ClientOptions, Update
from streamctl.core.protocols.message_stream.wire import NDJSON, SSE, NDJSONDecoder, dumps
from streamctl.core.sse import SSEEvent
from streamctl.core.transcript import Request

__all__ = ["MessageStreamClient"]

DEFAULT_CHAT = "1"


class MessageStreamClient(ClientSession):
    """POSTs ``{"content": message}`` to a chat and reads the reply as SSE or NDJSON."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options
        self._lines = NDJSONDecoder() if options.ndjson else None

    def request(self) -> Request:
        chat = quote(self.options.chat or DEFAULT_CHAT, safe="")
        headers = (
            ("content-type", "application/json"),
            ("accept", NDJSON if self.options.ndjson else SSE),
            *self.options.headers,
        )
        body = dumps({"content": self.options.message}).encode()
        return Request("POST", f"/api/web/v1/chats/{chat}/messages/stream", headers, body)

    def feed(self, chunk: bytes) -> list[Update]:
        """Updates from one chunk of the body: SSE events, or NDJSON lines with ``ndjson``."""
        if self._lines is None:
            return super().feed(chunk)
        return [self._on_text(line) for line in self._lines.feed(chunk)]

    def on_event(self, event: SSEEvent) -> Update:
        return self._on_text(event.data)

    def _on_text(self, text: str) -> Update:
        obj = read_object(text)
        if isinstance(obj, Update):
            return obj
        return _on_message(obj)


def _on_message(obj: dict[str, Any]) -> Update:
    kind = obj.get("type")
    if kind == "message_delta":
        delta = obj.get("delta")
        return Update(text=delta if isinstance(delta, str) else "")
    if kind == "message_start":
        return Update(info=f"assistant message {_field(obj, 'message', 'id')} started")
    if kind == "message_end":
        thinking = _field(obj, "message", "metadata", "thinkingText")
        return Update(done=True, info=None if thinking is None else f"thinking: {thinking}")
    if kind == "error":
        # error is terminal: no message_end follows it.
        message = _field(obj, "error", "message")
        return Update(done=True, error=str(obj.get("error") if message is None else message))
    return Update(info=f"ignored a message of type {kind!r}")


def _field(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]…``, or ``None`` where the peer sent something else."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
