"""The client side of one exchange, sans-I/O: what ``streamctl send`` and the load tester drive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamctl.core.jsontext import NotAnObjectError, json_object
from streamctl.core.protocols.exchange import Update
from streamctl.core.sse import SSEDecoder, SSEEvent
from streamctl.core.transcript import Request

__all__ = ["ClientSession", "read_object"]


class ClientSession:
    """Client side of one exchange, sans-I/O.

    HTTP protocols implement :meth:`request` and :meth:`on_event` (the adapter passes response
    body chunks to :meth:`feed`, which decodes SSE; a protocol with another body format overrides
    :meth:`feed`). WebSocket protocols implement :meth:`opening` and :meth:`on_message`.
    """

    _decoder: SSEDecoder | None = None

    def request(self) -> Request:
        raise NotImplementedError

    def feed(self, chunk: bytes) -> list[Update]:
        """Updates from one chunk of the response body."""
        if self._decoder is None:
            self._decoder = SSEDecoder()
        return [self.on_event(event) for event in self._decoder.feed(chunk)]

    def on_event(self, event: SSEEvent) -> Update:
        raise NotImplementedError

    def opening(self) -> Sequence[str]:
        raise NotImplementedError

    def on_message(self, text: str) -> Update:
        raise NotImplementedError

    def follow_up(self, message: str) -> ClientSession | None:
        """A session for the next message of the same conversation, once this exchange ended.

        ``None`` (the default) when the protocol keeps no conversation on the client side: a
        fresh session with the same options continues it (same chat id, session or connection).
        """
        return None


def read_object(text: str, what: str = "message") -> dict[str, Any] | Update:
    """A server's ``what`` (message, event) as a JSON object, or the :class:`Update` that says
    the client ignored it (a client shows what it skipped and goes on reading)."""
    try:
        return json_object(text)
    except NotAnObjectError:
        return Update(info=f"ignored a non-object {what}: {text[:80]!r}")
    except ValueError:
        return Update(info=f"ignored a non-JSON {what}: {text[:80]!r}")
