"""Any ASGI app (the recording proxy, a third-party app) on a real Hypercorn, in a thread.

The socket is bound to ``127.0.0.1:0`` before the server starts, so there is no port to guess
and no race: connections made before Hypercorn accepts wait in the backlog.
"""

from __future__ import annotations

import asyncio
import os
import threading
from types import TracebackType
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from mockserver.loops import new_loop
from mockserver.startup import bind

__all__ = ["LiveASGI"]


async def _cancel_the_rest() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class LiveASGI:
    """``app`` served until :meth:`stop` (or the end of a ``with`` block), on asyncio's loop or
    the one ``loop`` names (``mockserver.loops``)."""

    def __init__(self, app: Any, *, loop: str = "asyncio", **hyper: Any) -> None:
        self.app = app
        self.hyper = hyper
        self.socket = bind("127.0.0.1", 0)
        self.port = int(self.socket.getsockname()[1])
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}"
        self._loop = new_loop(loop)
        self._stop = asyncio.Event()
        self._thread = threading.Thread(target=self._run, name="live-asgi", daemon=True)

    def _run(self) -> None:
        config = Config()
        config.bind = [f"fd://{os.dup(self.socket.fileno())}"]
        config.accesslog = None
        config.graceful_timeout = 1.0
        for name, value in self.hyper.items():
            setattr(config, name, value)
        try:
            self._loop.run_until_complete(serve(self.app, config, shutdown_trigger=self._stop.wait))
        finally:
            # Tasks an app left behind (sse-starlette's shutdown watcher) end with the loop.
            self._loop.run_until_complete(_cancel_the_rest())
            self._loop.close()

    def run(self, coroutine: Any, timeout: float = 10.0) -> Any:
        """Run ``coroutine`` on the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def stopped(self) -> bool:
        """Whether the server has stopped (its thread ended)."""
        return self._thread.ident is not None and not self._thread.is_alive()

    def start(self) -> LiveASGI:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self.socket.close()

    def __enter__(self) -> LiveASGI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
