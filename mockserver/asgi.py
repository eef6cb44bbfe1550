"""Small ASGI helpers for the routes served in front of Quart (no framework, no copies)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qsl
from weakref import WeakKeyDictionary

from streamctl.core.protocols.exchange import HttpResponse, Out
from streamctl.engine.pacing import due_together
from streamctl.engine.reply import Rendering

__all__ = [
    "WS_FRAMES",
    "WS_PAYLOADS",
    "ASGIApp",
    "Joined",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "Writer",
    "header_map",
    "header_pairs",
    "query_map",
    "read_body",
    "send_response",
    "ws_message",
    "ws_payloads",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RawHeaders = list[tuple[bytes, bytes]]

#: A server that takes several WebSocket messages in one ``websocket.send`` (framed already, in
#: this key, and as payloads in :data:`WS_PAYLOADS`) lists this in ``scope["extensions"]``
#: (Hypercorn, by ``mockserver/wsframes.py``).
WS_FRAMES = "streamctl.frames"
WS_PAYLOADS = "streamctl.payloads"

#: Request bodies larger than this are refused with 413 (goosed allows 50 MiB).
MAX_BODY = 50 * 1024 * 1024


class Disconnected(Exception):
    """The client went away before the request body arrived."""


class BodyTooLarge(Exception):
    """The request body is larger than :data:`MAX_BODY`."""


def header_pairs(scope: Scope) -> list[tuple[str, str]]:
    """The request headers as text, names lower-case, in order."""
    return [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]


def header_map(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers by name; repeated headers are joined with ``, `` (RFC 9110 §5.3)."""
    found: dict[str, str] = {}
    for name, value in pairs:
        found[name] = f"{found[name]}, {value}" if name in found else value
    return found


def query_map(query_string: bytes) -> dict[str, str]:
    """Query parameters by name (the first value of a repeated one, as FastAPI reads them)."""
    text = query_string.decode("latin-1")
    if "%" in text or "+" in text:
        pairs = parse_qsl(text, keep_blank_values=True)
    else:  # nothing to unquote: what parse_qsl does, without its cost on every stream request
        pairs = [
            (name, value) for name, _, value in (p.partition("=") for p in text.split("&") if p)
        ]
    found: dict[str, str] = {}
    for name, value in pairs:
        found.setdefault(name, value)
    return found


async def read_body(receive: Receive, limit: int | None = None) -> bytes:
    """The whole request body (at most ``limit`` bytes, default :data:`MAX_BODY`).

    Gathered in one growing buffer: a list of Hypercorn's 64 KiB chunks, once joined, left
    their memory to the C heap, where the many small objects of the request's parsing cannot
    reuse it (a 50 MiB body: 50 MB more at the peak). The buffer is one block, given back to
    the system as soon as the body is copied out."""
    limit = MAX_BODY if limit is None else limit
    gathered = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Disconnected
        chunk = message.get("body", b"")
        if len(gathered) + len(chunk) > limit:
            raise BodyTooLarge
        if not message.get("more_body", False):
            if not gathered:
                return bytes(chunk)  # the usual single message: no copy
            gathered += chunk
            return bytes(gathered)
        gathered += chunk


async def send_response(
    send: Send, response: HttpResponse, extra: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send a complete response, adding ``extra`` headers (CORS)."""
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    if response.status not in (204, 304):
        headers.append((b"content-length", str(len(response.body)).encode()))
    headers.extend(extra)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body, "more_body": False})


def ws_message(payload: bytes | str) -> Message:
    """The ``websocket.send`` that sends ``payload`` (text or binary, as it is)."""
    if isinstance(payload, str):
        return {"type": "websocket.send", "text": payload}
    return {"type": "websocket.send", "bytes": payload}


def ws_payloads(message: Message) -> tuple[bytes | str, ...]:
    """The WebSocket messages a ``websocket.send`` sends: its text or bytes, or those it joins."""
    joined: tuple[bytes | str, ...] | None = message.get(WS_PAYLOADS)
    if joined is not None:
        return joined
    text = message.get("text")
    return (text if text is not None else message.get("bytes") or b"",)


class Writer:
    """The sending half of one stream, as ASGI messages (a subclass says which message sends a
    payload): the :class:`~streamctl.engine.reply.Writer` that ``send()`` plays a reply on.

    The messages of a rendering are made once and kept with it (weakly, per transport), so a
    scenario's reply costs one ``send`` per write, not a message built per write of every reply.
    Replies share them: what sends them (Hypercorn, the recording tap) only reads a message.
    """

    _MESSAGES: ClassVar[WeakKeyDictionary[Rendering, tuple[Message, ...]]] = WeakKeyDictionary()
    _JOINED: ClassVar[WeakKeyDictionary[Rendering, dict[bool, Joined]]] = WeakKeyDictionary()
    #: Payloads due together may go out as one message (their bytes joined): an HTTP body's.
    joins: ClassVar[bool] = False

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._MESSAGES = WeakKeyDictionary()
        cls._JOINED = WeakKeyDictionary()

    def __init__(self, send: Send) -> None:
        self.send = send

    @staticmethod
    def message(payload: bytes | str) -> Message:
        """The ASGI message that sends ``payload``."""
        raise NotImplementedError

    def write(self, payload: bytes | str) -> Awaitable[None]:
        # Not a coroutine itself: it hands back the send, one coroutine less per write.
        return self.send(self.message(payload))

    def messages(self, rendering: Rendering) -> tuple[Message, ...]:
        """The message of each write of ``rendering``, made the first time only."""
        messages = self._MESSAGES.get(rendering)
        if messages is None:
            messages = tuple(self.message(out.payload) for out in rendering.outs)
            self._MESSAGES[rendering] = messages
        return messages

    def joined(
        self, rendering: Rendering, speed: float
    ) -> tuple[tuple[Message, ...], tuple[int, ...]] | None:
        """A message per run of writes due together at ``speed`` and where each run ends, made
        once per rendering; None when this transport does not join writes or no two writes of
        ``rendering`` are due together."""
        if not self.joins:
            return None
        by_speed = self._JOINED.get(rendering)
        if by_speed is None:
            by_speed = self._JOINED[rendering] = {}
        at_once = speed <= 0
        if at_once not in by_speed:
            outs = rendering.outs
            by_speed[at_once] = self._join(outs, due_together(outs, speed))
        return by_speed[at_once]

    def _join(self, outs: Sequence[Out], ends: tuple[int, ...]) -> Joined:
        if len(ends) == len(outs):
            return None
        starts = (0, *ends[:-1])
        messages = tuple(
            self.run_message(outs[start:end]) for start, end in zip(starts, ends, strict=True)
        )
        return messages, ends

    def run_message(self, outs: Sequence[Out]) -> Message:
        """The one message that writes ``outs``, due together (on HTTP: their bytes joined)."""
        return self.message(b"".join(_bytes(out.payload) for out in outs))


Joined = tuple[tuple[Message, ...], tuple[int, ...]] | None


def _bytes(payload: bytes | str) -> bytes:
    return payload.encode() if isinstance(payload, str) else payload
