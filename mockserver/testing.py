"""Run the mock server for tests: a real Hypercorn (or Uvicorn) on an ephemeral loopback port.

::

    with LiveServer() as server:
        httpx.get(server.url("/_streamctl/health"))

The socket is bound (port 0) before the server starts, so there is no port to guess and no
race: connections made before Hypercorn accepts simply wait in the backlog.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from functools import partial
from types import TracebackType
from typing import Any

from hypercorn.asyncio import serve

from mockserver.app import MockApp, create_app
from mockserver.config import ServerConfig
from mockserver.engines import serve_uvicorn
from mockserver.loops import new_loop
from mockserver.run import GRACEFUL_TIMEOUT, hypercorn_config
from mockserver.startup import BACKLOG, bind
from mockserver.state import ServerState
from streamctl.engine.clock import FakeClock

__all__ = ["LiveServer"]


class LiveServer:
    """The app on Hypercorn (Uvicorn where ``config.server`` says so) in a background thread
    with its own event loop (of the kind ``config.loop`` names, as ``streamctl serve`` runs it).

    By default scenario files are not watched (tests reload through the admin API) and the
    bundled scenarios are loaded.
    """

    def __init__(self, config: ServerConfig | None = None, host: str = "127.0.0.1") -> None:
        self.config = config if config is not None else ServerConfig(watch=False)
        self.host = host
        self.app: MockApp = create_app(self.config)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def server(self) -> ServerState:
        return self.app.server

    @property
    def port(self) -> int:
        assert self._socket is not None, "the server is not started"
        return int(self._socket.getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def url(self, path: str, ws: bool = False) -> str:
        return f"{self.ws_url if ws else self.base_url}{path}"

    def admin_headers(self) -> dict[str, str]:
        """What an admin API request to this server carries (the admin token, if set)."""
        token = self.config.admin_token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def start(self) -> LiveServer:
        self._socket = bind(self.host, 0)
        self._thread = threading.Thread(target=self._run, name="mockserver", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._error is not None:
            raise RuntimeError(f"the mock server did not start: {self._error!r}")
        return self

    def _run(self) -> None:
        loop = new_loop(self.config.loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self) -> None:
        assert self._socket is not None
        self._stop = asyncio.Event()
        self.app.before_serving(self._started)
        if self.config.server == "uvicorn":
            await serve_uvicorn(
                self.app,
                self._socket,
                backlog=BACKLOG,
                graceful_timeout=GRACEFUL_TIMEOUT,
                shutdown_trigger=self._stop.wait,
                ws_deflate=self.config.ws_deflate,
            )
            return
        config = hypercorn_config(self.config, self._socket)
        await serve(self.app, config, shutdown_trigger=self._stop.wait)

    async def _started(self) -> None:
        self._ready.set()

    def stop(self) -> None:
        """Stop serving (held streams released) and wait for the thread; the socket is closed."""
        if self._loop is not None and self._stop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(partial(self.server.streams.release_all, free=True))
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
        if self._socket is not None:
            self._socket.close()

    def reset(self) -> None:
        """Forget chats, sessions, queues and the journal (as ``POST /_streamctl/reset``)."""
        self.call(self.server.reset)

    def call(self, func: Any, *args: Any) -> Any:
        """Run ``func(*args)`` on the server's event loop thread and return its result."""
        assert self._loop is not None

        async def run() -> Any:
            return func(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def run(self, coroutine: Any, timeout: float = 10.0) -> Any:
        """Run ``coroutine`` on the server's event loop and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def advance(self, seconds: float, sleepers: int = 1, timeout: float = 10.0) -> None:
        """With a :class:`~streamctl.engine.clock.FakeClock`: once at least ``sleepers`` tasks
        wait on it, move it forward ``seconds`` (waking them in deadline order)."""
        clock = self.config.clock
        assert isinstance(clock, FakeClock), "advance() needs ServerConfig(clock=FakeClock())"

        async def step() -> None:
            async with asyncio.timeout(timeout):
                while clock.sleepers < sleepers:
                    await asyncio.sleep(0)
            await clock.advance(seconds)

        self.run(step(), timeout + 1)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no stream or WebSocket connection is in progress."""
        return self.server.wait_idle(timeout)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
