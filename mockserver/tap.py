"""Record what each client was sent, as transcripts, by tapping a stream endpoint's ASGI channel.

With recording on, the front wraps ``receive`` and ``send`` of every stream request: the request
head and body (or the client's WebSocket messages) and everything the server wrote — status,
headers, each body chunk or message with its time offset, the close — become one
:class:`~streamctl.core.transcript.Transcript`, secrets redacted. It knows ASGI, not protocols,
and costs nothing when recording is off (nothing is wrapped).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mockserver.asgi import Message, Receive, Scope, Send, ws_payloads
from streamctl.core.redact import redact_text
from streamctl.core.transcript import (
    Close,
    Disconnect,
    End,
    Frame,
    Header,
    Record,
    Request,
    Response,
    Transcript,
    Transport,
)
from streamctl.engine.recorder import redact_request

__all__ = ["Tap"]


def _headers(raw: Any) -> tuple[tuple[str, str], ...]:
    return tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in raw or ())


class Tap:
    """One exchange being recorded."""

    def __init__(
        self, protocol: str, transport: Transport, scope: Scope, clock: Callable[[], float]
    ) -> None:
        self.protocol = protocol
        self.transport = transport
        self.clock = clock
        self.start = clock()
        query = scope.get("query_string", b"").decode("latin-1")
        target = scope["path"] + (f"?{query}" if query else "")
        self.method = "GET" if transport == "ws" else scope["method"]
        self.target = target
        self.request_headers = _headers(scope.get("headers"))
        self.body = b""
        self.response: Response | None = None
        self.records: list[Record] = []
        self.closed = False

    def _t(self) -> float:
        return round((self.clock() - self.start) * 1000, 3)

    def receive(self, receive: Receive) -> Receive:
        async def tapped() -> Message:
            message = await receive()
            kind = message["type"]
            if kind == "http.request":
                self.body += message.get("body", b"")
            elif kind == "websocket.receive":
                text = message.get("text")
                payload = redact_text(text) if text is not None else message.get("bytes") or b""
                self.records.append(Frame(self._t(), "client", payload))
            elif kind == "websocket.disconnect" and not self.closed:
                self.closed = True
                self.records.append(Close(self._t(), "client", message.get("code")))
            elif kind == "http.disconnect" and not self.closed:
                self.records.append(Disconnect(self._t(), "the client went away"))
            return message

        return tapped

    def send(self, send: Send) -> Send:
        async def tapped(message: Message) -> None:
            self._sent(message)
            await send(message)

        return tapped

    def _sent(self, message: Message) -> None:
        kind = message["type"]
        if kind in ("http.response.start", "websocket.http.response.start"):
            self.response = Response(message["status"], _headers(message.get("headers")))
        elif kind == "websocket.accept":
            self.response = Response(101, _headers(message.get("headers")))
        elif kind in ("http.response.body", "websocket.http.response.body"):
            if message.get("body"):
                self.records.append(Frame(self._t(), "server", message["body"]))
            if not message.get("more_body", False):
                self.closed = True
        elif kind == "websocket.send":
            at = self._t()
            self.records.extend(Frame(at, "server", p) for p in ws_payloads(message))
        elif kind == "websocket.close" and not self.closed:
            self.closed = True
            code = message.get("code", 1000)
            self.records.append(Close(self._t(), "server", code, message.get("reason") or ""))

    def transcript(self, outcome: str) -> Transcript:
        """The exchange so far, ended with ``outcome`` (see ``transcript.OUTCOMES``)."""
        body = self.body or None
        request = redact_request(Request(self.method, self.target, self.request_headers, body))
        header = Header(self.protocol, self.transport, request, self.response, {"by": "mockserver"})
        return Transcript(header, (*self.records, End(self._t(), outcome)))
