"""The HTTP/WebSocket server the mock runs on: Hypercorn (the default) or Uvicorn.

Both serve the same ASGI app (every protocol, the admin API, the playground); what is ours —
Host and Origin checks, CORS, the request-body deadline, the request log — lives in the app and
holds on either. What differs is the server's own handling, kept equal here where it can be:

* **A lost connection wakes a reader waiting for room.** ``mockserver/hyperfix.py`` sets a
  connection's :data:`~mockserver.hyperfix.CLOSED` event when Hypercorn sees it close; on
  Uvicorn :func:`install_uvicorn_fixes` does the same from the protocol's ``connection_lost``.
* **Sends after the client left are dropped**, as Hypercorn drops them, rather than raising
  in the middle of a reply (the reader sees the disconnect and stops the reply).
* **Protocol errors close with their codes.** Uvicorn's WebSocket layer (``websockets``, sans
  I/O) already closes with 1002 on a framing error and 1007 on a text message that is not UTF-8.
* **Quiet shutdown.** Ctrl-C or SIGTERM stops accepting, gives open streams
  :data:`~mockserver.run.GRACEFUL_TIMEOUT` to finish, then cuts them, without the tracebacks
  Uvicorn logs for the tasks it cancels; the process exits normally after either signal.
* **No keep-alive pings.** Hypercorn sends none by default; Uvicorn's 20 s pings are turned off
  so both put the same frames on the wire.

Differences left (docs/cli.md): at shutdown Uvicorn closes open WebSockets with 1012 at once
where Hypercorn gives them the grace second and closes 1011; Uvicorn says ``server: uvicorn``
where Hypercorn says ``hypercorn-h11``; HTTP/2 is Hypercorn's only; ``--workers`` above 1 runs
on Hypercorn only. A refused upgrade gets the app's HTTP answer on both.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import signal
import socket
from collections.abc import Iterator
from typing import Any

__all__ = ["ENGINES", "EngineError", "engine_name", "install_uvicorn_fixes", "serve_uvicorn"]

#: What ``streamctl serve --server`` accepts; the first is the default.
ENGINES = ("hypercorn", "uvicorn")
INSTALL_HINT = "pip install '.[uvicorn]' (in the streamctl checkout)"


class EngineError(Exception):
    """A server that cannot be had here (a readable message for the CLI)."""


def engine_name(choice: str, workers: int = 1) -> str:
    """``choice`` when it can serve here with ``workers`` processes. Raises EngineError."""
    if choice not in ENGINES:
        raise EngineError(f"unknown server {choice!r}: choose one of {', '.join(ENGINES)}")
    if choice == "uvicorn":
        if importlib.util.find_spec("uvicorn") is None:
            raise EngineError(
                f"uvicorn is not installed: install it with `{INSTALL_HINT}`, "
                "or use --server hypercorn"
            )
        if workers > 1:
            raise EngineError("--workers above 1 runs on hypercorn only")
    return choice


class _QuietShutdown(logging.Filter):
    """Drops what Uvicorn logs for the streams it cuts at shutdown (they are not errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, asyncio.CancelledError):
            return False
        return not record.getMessage().startswith("Cancel ")


def install_uvicorn_fixes() -> None:
    """Set a WebSocket connection's CLOSED event when the connection is lost (once)."""
    from uvicorn.protocols.websockets import (  # noqa: PLC0415 (optional)
        websockets_sansio_impl as sansio,
    )

    from mockserver.hyperfix import CLOSED  # noqa: PLC0415 (it imports Hypercorn)

    protocol = sansio.WebSocketsSansIOProtocol
    if getattr(protocol.connection_lost, "_streamctl", False):
        return
    original = protocol.connection_lost

    def connection_lost(self: Any, exc: Exception | None) -> None:
        original(self, exc)
        closed = getattr(self, "scope", {}).get(CLOSED)
        if isinstance(closed, asyncio.Event):
            closed.set()

    connection_lost._streamctl = True  # type: ignore[attr-defined]
    protocol.connection_lost = connection_lost  # type: ignore[method-assign]
    protocol.send = _send(protocol.send)  # type: ignore[method-assign]
    errors = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietShutdown) for f in errors.filters):
        errors.addFilter(_QuietShutdown())


def _send(original: Any) -> Any:
    async def send(self: Any, message: Any) -> None:
        if self.disconnected and message["type"] in ("websocket.send", "websocket.close"):
            return  # as on Hypercorn: the reader sees the disconnect and stops the reply
        await original(self, message)

    return send


def uvicorn_config(
    app: Any, backlog: int, graceful_timeout: float, *, ws_deflate: bool = False
) -> Any:
    """Uvicorn's configuration for the mock (httptools where installed, else h11); it
    accepts permessage-deflate only with ``ws_deflate``, as Hypercorn does here."""
    import uvicorn  # noqa: PLC0415 (optional)

    config = uvicorn.Config(
        app,
        loop="none",  # the caller runs the loop (mockserver.loops)
        http="auto",
        ws="websockets-sansio",
        lifespan="on",
        log_config=None,
        access_log=False,
        ws_ping_interval=None,
        ws_per_message_deflate=ws_deflate,
        backlog=backlog,
        timeout_graceful_shutdown=graceful_timeout,  # type: ignore[arg-type]  # float is fine
    )
    config.load()
    return config


async def serve_uvicorn(
    app: Any,
    sock: socket.socket,
    *,
    backlog: int,
    graceful_timeout: float,
    shutdown_trigger: Any = None,
    ws_deflate: bool = False,
) -> None:
    """Serve ``app`` on Uvicorn on a copy of ``sock`` until SIGINT/SIGTERM (in the main
    thread) or until ``shutdown_trigger()`` returns."""
    install_uvicorn_fixes()
    config = uvicorn_config(app, backlog, graceful_timeout, ws_deflate=ws_deflate)

    server = _quiet_server(config)
    watcher = None
    if shutdown_trigger is not None:

        async def watch() -> None:
            await shutdown_trigger()
            server.should_exit = True

        watcher = asyncio.ensure_future(watch())
    # Uvicorn closes the sockets it serves on: it gets its own descriptor.
    own = socket.socket(sock.family, sock.type, sock.proto, fileno=os.dup(sock.fileno()))
    try:
        await server.serve(sockets=[own])
    finally:
        own.close()
        if watcher is not None:
            watcher.cancel()


def _quiet_server(config: Any) -> Any:
    """A Uvicorn server that a signal only stops (see ``capture_signals``)."""
    import uvicorn  # noqa: PLC0415 (optional)

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # Uvicorn re-raises the signal it stopped on after serving (SIGTERM would kill the
            # process before "stopped" is printed): here a signal only stops the server.
            loop = asyncio.get_running_loop()
            handled: list[signal.Signals] = []
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                    loop.add_signal_handler(sig, self._stop)
                    handled.append(sig)
            try:
                yield
            finally:
                for sig in handled:
                    loop.remove_signal_handler(sig)

        def _stop(self) -> None:
            self.force_exit = self.should_exit  # a second Ctrl-C: do not wait
            self.should_exit = True

    return Server(config)
