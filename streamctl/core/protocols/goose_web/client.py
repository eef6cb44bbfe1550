"""goose-web's sans-I/O client: what the ATLAS ``GooseClient`` does on its WebSocket path.

It sends ``{"type": "message", "content", "session_id", "timestamp"}`` (milliseconds), appends
the ``content`` of every ``response`` and stops at ``complete`` or ``cancelled`` (seed 000; goose
reference §11). An ``error`` is reported, and the client reads on to the ``complete`` that web.rs
always sends after it (the seed's client returns at the error; the next message on the same
connection would then meet that ``complete`` first). Tool calls and thinking are information.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from streamctl.core.protocols.client import ClientSession, read_object
from streamctl.core.protocols.exchange import ClientOptions, Update
from streamctl.core.protocols.goose_web.server import encode

__all__ = ["DEFAULT_SESSION", "GooseWebClient"]

#: The session a message goes to when the user names none (the seed's example uses this one).
DEFAULT_SESSION = "test-session"


class GooseWebClient(ClientSession):
    def __init__(self, options: ClientOptions, clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.clock = clock

    @property
    def session_id(self) -> str:
        return self.options.session or DEFAULT_SESSION

    def opening(self) -> Sequence[str]:
        stamp = int(self.clock() * 1000)
        message = {"content": self.options.message, "session_id": self.session_id}
        return [encode("message", **message, timestamp=stamp)]

    def on_message(self, text: str) -> Update:
        obj = read_object(text)
        if isinstance(obj, Update):
            return obj
        kind = obj.get("type")
        if kind == "response":
            content = obj.get("content")
            return Update(text=content if isinstance(content, str) else "")
        if kind in ("complete", "cancelled"):
            return Update(done=True, info=None if kind == "complete" else "the reply was cancelled")
        if kind == "error":
            message = obj.get("message")
            reason = message if isinstance(message, str) else f"malformed error: {text[:80]!r}"
            return Update(error=reason)
        return Update(info=_describe(kind, obj))


def _describe(kind: object, obj: dict[str, object]) -> str:
    if kind == "tool_request":
        return f"tool call {obj.get('tool_name')!r} ({obj.get('id')})"
    if kind == "tool_response":
        return f"tool result for {obj.get('id')}"
    if kind in ("thinking", "context_exceeded", "tool_confirmation"):
        return f"{kind}: {obj.get('message', obj.get('tool_name'))}"
    return f"ignored a message of type {kind!r}"
