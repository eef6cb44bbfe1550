"""Test-side helpers: talk to a live mock server with real clients and keep what they received.

Everything a client receives is recorded into a core :class:`Transcript` (SSE: every chunk of the
body as httpx delivered it, chunk boundaries kept; WebSocket: every message both ways), so a test
can hand it to :func:`streamctl.core.check.check`. The helpers drive any registered protocol
through the protocol's own sans-I/O client (``proto.client(options)``): no frame shapes here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from mockserver.testing import LiveServer
from streamctl.core.jwt import mint_dev_token
from streamctl.core.protocols import get
from streamctl.core.protocols.client import ClientSession
from streamctl.core.protocols.exchange import ClientOptions, Update
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
)

__all__ = [
    "Exchange",
    "Leave",
    "Talk",
    "after_first_text",
    "options_for",
    "reconfigured",
    "record_sse",
    "with_query",
]

TIMEOUT = 10.0
#: When a client leaves early: called with what it has received so far.
Leave = Callable[["Exchange"], bool]
_CHAT = re.compile(r"chat (\S+)")


def after_first_text(exchange: Exchange) -> bool:
    """Leave as soon as some assistant text arrived."""
    return bool(exchange.text)


def options_for(server: LiveServer, message: str, **changes: Any) -> ClientOptions:
    """Client options that authenticate against ``server`` on every protocol."""
    config = server.config
    options = ClientOptions(
        message=message,
        secret_key=config.goose_secret,
        token=mint_dev_token(config.jwt_secret, now=time.time()),
    )
    return replace(options, **changes)


def with_query(target: str, **params: str) -> str:
    """``target`` with query parameters added."""
    if not params:
        return target
    return f"{target}{'&' if '?' in target else '?'}{urlencode(params)}"


@dataclass
class Exchange:
    """What one exchange produced: the transcript, and what the protocol's client made of it."""

    transcript: Transcript
    text: str = ""
    errors: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    done: bool = False

    def take(self, update: Update) -> None:
        self.text += update.text
        if update.error is not None:
            self.errors.append(update.error)
        if update.info is not None:
            self.infos.append(update.info)
        self.done = self.done or update.done

    @property
    def status(self) -> int | None:
        response = self.transcript.header.response
        return None if response is None else response.status


def _ms(start: float) -> float:
    return (time.monotonic() - start) * 1000.0


def record_sse(
    server: LiveServer,
    protocol: str,
    request: Request,
    client: ClientSession | None = None,
    *,
    leave_when: Leave | None = None,
) -> Exchange:
    """Send ``request`` and record the response body chunk by chunk as httpx delivers it.

    ``leave_when``: close the connection as soon as it says so (a client that leaves).
    """
    start = time.monotonic()
    records: list[Record] = []
    exchange = Exchange(Transcript(Header(protocol, "sse", request)))
    with (
        httpx.Client(base_url=server.base_url, timeout=TIMEOUT) as http,
        http.stream(
            request.method, request.target, headers=list(request.headers), content=request.body
        ) as response,
    ):
        head = Response(response.status_code, tuple(response.headers.multi_items()))
        outcome = "complete"
        for chunk in response.iter_raw():
            records.append(Frame(_ms(start), "server", chunk))
            if client is not None:
                for update in client.feed(chunk):
                    exchange.take(update)
            if leave_when is not None and leave_when(exchange):
                outcome = "interrupted"
                break
    records.append(End(_ms(start), outcome))
    exchange.transcript = Transcript(Header(protocol, "sse", request, head), tuple(records))
    return exchange


class Talk:
    """A conversation with one protocol on a live server, turn after turn.

    SSE protocols: one request per turn (same goose session, same message-stream chat).
    WebSocket protocols: one connection for every turn (ws-events re-joins the chat it created).
    """

    def __init__(
        self, server: LiveServer, protocol: str, *, scenario: str | None = None, **options: Any
    ) -> None:
        self.server = server
        self.proto = get(protocol)
        self.scenario = scenario
        self.options = options
        self.chat: str | None = options.get("chat")
        self._ws: ClientConnection | None = None
        self._ws_start = 0.0
        self._ws_records: list[Record] = []
        self._ws_request: Request | None = None
        self._ws_response: Response | None = None

    def _options(self, message: str) -> ClientOptions:
        changes = dict(self.options)
        if self.proto.transport == "ws":
            changes["chat"] = self.chat
        changes.setdefault("session", "streamctl-test")
        return options_for(self.server, message, **changes)

    def say(self, message: str, *, leave_when: Leave | None = None) -> Exchange:
        """One turn: send ``message``, read the reply to its end."""
        client = self.proto.client(self._options(message))
        if self.proto.transport == "sse":
            request = client.request()
            if self.scenario is not None:
                request = replace(
                    request, target=with_query(request.target, scenario=self.scenario)
                )
            return record_sse(self.server, self.proto.name, request, client, leave_when=leave_when)
        return self._ws_turn(client, leave_when)

    # --- WebSocket ----------------------------------------------------------------------

    @property
    def ws_target(self) -> str:
        path = self.proto.stream_endpoint.path
        return with_query(path, scenario=self.scenario) if self.scenario else path

    def connect(self) -> ClientConnection:
        """The connection for WebSocket turns, opened on first use."""
        if self._ws is None:
            self._ws_start = time.monotonic()
            connection = connect(
                self.server.url(self.ws_target, ws=True),
                open_timeout=TIMEOUT,
                additional_headers=list(self.options.get("headers", ())),
            )
            self._ws = connection.__enter__()  # closed by close()
            headers = tuple(self._ws.request.headers.raw_items()) if self._ws.request else ()
            self._ws_request = Request("GET", self.ws_target, headers)
            response = self._ws.response
            self._ws_response = Response(
                response.status_code if response else 101,
                tuple(response.headers.raw_items()) if response else (),
            )
        return self._ws

    def _ws_turn(self, client: ClientSession, leave_when: Leave | None) -> Exchange:
        ws = self.connect()
        exchange = Exchange(self.transcript())
        for text in client.opening():
            self._send(ws, text)
        while not exchange.done:
            try:
                text = ws.recv(timeout=TIMEOUT)
            except ConnectionClosed as exc:
                self._closed(exc)
                break
            self._ws_records.append(Frame(_ms(self._ws_start), "server", text))
            update = client.on_message(text if isinstance(text, str) else text.decode())
            exchange.take(update)
            chat = _CHAT.fullmatch(update.info or "")
            if chat is not None:
                self.chat = chat.group(1)
            for reply in update.send:
                self._send(ws, reply)
            if leave_when is not None and leave_when(exchange):
                self.close()
                break
        exchange.transcript = self.transcript()
        return exchange

    def _send(self, ws: ClientConnection, text: str) -> None:
        ws.send(text)
        self._ws_records.append(Frame(_ms(self._ws_start), "client", text))

    def _closed(self, exc: ConnectionClosed) -> None:
        if exc.rcvd is None:
            self._ws_records.append(Disconnect(_ms(self._ws_start), str(exc)))
        else:
            self._ws_records.append(
                Close(_ms(self._ws_start), "server", exc.rcvd.code, exc.rcvd.reason)
            )
        self._ws = None

    def transcript(self, since: int = 0) -> Transcript:
        """The connection so far (from record ``since``) as a transcript."""
        request = self._ws_request or Request("GET", self.ws_target)
        header = Header(self.proto.name, "ws", request, self._ws_response)
        return Transcript(header, tuple(self._ws_records[since:]))

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()
            self._ws_records.append(Close(_ms(self._ws_start), "client", 1000))
            self._ws = None

    def __enter__(self) -> Talk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def talking(server: LiveServer, protocol: str, **kw: Any) -> Iterator[Talk]:
    talk = Talk(server, protocol, **kw)
    try:
        yield talk
    finally:
        talk.close()


def converse(
    server: LiveServer, protocol: str, messages: Sequence[str], **kw: Any
) -> list[Exchange]:
    """Every turn of a conversation (one connection for WebSocket protocols)."""
    with talking(server, protocol, **kw) as talk:
        return [talk.say(m) for m in messages]


def reconfigured(server: LiveServer, **changes: Any) -> LiveServer:
    """A new (not started) server like ``server``, with some configuration changed."""
    return LiveServer(replace(server.config, **changes), server.host)
