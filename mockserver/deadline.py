"""A deadline for request bodies: a body trickled in slowly is cut off, not waited for.

Hypercorn closes a connection that sends nothing between requests (its keep-alive timeout
covers slow headers too) but waits for a request body as long as bytes keep coming, however
few: a thousand clients sending a byte a second would hold a thousand sockets, and their
handlers, for ever. Here the whole body must arrive within ``ServerConfig.body_timeout_s`` of
the request; when it has not, the client is answered ``408`` with ``Connection: close`` and the
handler sees the client leave (``http.disconnect``), as if it had hung up.

Requests that declare no body (no ``Content-Length``, no ``Transfer-Encoding``: every GET)
are passed through untouched, so streams pay nothing for this. The deadline runs on the event
loop's own clock, not the injected pacing clock: it guards against real peers in real time,
and a test stepping a fake pacing clock must not see it as one more sleeper.
"""

from __future__ import annotations

import asyncio
import contextlib

from mockserver.asgi import Message, Receive, Scope, Send
from streamctl.core.jsontext import dumps_compact

__all__ = ["BodyDeadline"]


def _declares_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        key = name.lower()
        if key == b"transfer-encoding" or (key == b"content-length" and value.strip() != b"0"):
            return True
    return False


class _Deadline:
    """The receive and send of one request whose body must arrive within ``seconds``."""

    def __init__(self, receive: Receive, send: Send, seconds: float) -> None:
        self._receive, self._send = receive, send
        self.seconds = seconds
        self.timer: asyncio.Future[None] | None = None
        self.body_done = False
        self.started = False
        self.timed_out = False

    async def receive(self) -> Message:
        if self.body_done:
            return await self._receive()
        if self.timed_out:
            return {"type": "http.disconnect"}
        if self.timer is None:
            self.timer = asyncio.ensure_future(asyncio.sleep(self.seconds))
        receiving = asyncio.ensure_future(self._receive())
        await asyncio.wait((receiving, self.timer), return_when=asyncio.FIRST_COMPLETED)
        if not receiving.done():
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
            return await self._expire()
        message = receiving.result()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
            self.timer.cancel()
        return message

    async def _expire(self) -> Message:
        self.timed_out = True
        if not self.started:
            self.started = True
            detail = f"the request body did not arrive within {self.seconds:g} s"
            body = dumps_compact({"detail": detail}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            await self._send({"type": "http.response.start", "status": 408, "headers": headers})
            await self._send({"type": "http.response.body", "body": body})
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.timed_out:
            return  # the 408 went out; the handler's answer has nobody to go to
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class BodyDeadline(_Deadline):
    """For one HTTP request: :meth:`receive` and :meth:`send` to hand its handler, and
    :meth:`close` once the handler is done."""

    @staticmethod
    def wanted(scope: Scope, seconds: float) -> bool:
        """Whether this request needs a deadline (it declares a body; ``seconds`` > 0)."""
        return seconds > 0 and _declares_body(scope)

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
