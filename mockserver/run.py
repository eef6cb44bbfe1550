"""Run the mock server on Hypercorn or Uvicorn (what ``streamctl serve`` calls)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from typing import Any

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from hypercorn.run import run

from mockserver.app import MockApp, create_app
from mockserver.config import ServerConfig
from mockserver.engines import serve_uvicorn
from mockserver.hyperfix import allow_ws_deflate
from mockserver.logwriter import EXIT_WAIT_S, write_stderr
from mockserver.loops import loop_factory, loop_name
from mockserver.startup import BACKLOG, CONFIG_ENV, banner, bind, dump_config, load_config

__all__ = ["banner", "bind", "serve", "tune_runtime", "worker_app"]

#: Seconds open streams get to finish at shutdown (Ctrl-C) before they are cut.
GRACEFUL_TIMEOUT = 1.0
#: Garbage collector thresholds for server processes (see :func:`tune_runtime`).
GC_THRESHOLDS = (10_000, 2, 1000)


def tune_runtime() -> None:
    """Tune the interpreter of a server process for steady pacing.

    With the default thresholds a full garbage collection over a thousand open streams stops
    every stream for tens of milliseconds (measured: up to 80 ms), which makes tokens late.
    Objects that exist at start-up (imports, the app) are frozen out of every collection, and
    full collections become rare. The youngest generation is collected every 10,000 objects:
    with a thousand paced streams that is 16 pauses of 6-8 ms, where a threshold of 50,000 made
    3 pauses of 22-36 ms, for the same CPU per token. Short-lived objects are freed by
    reference counting either way.

    The middle generation holds what survived the youngest's collections since its own last
    one: with streams opening by the thousand, every stream's objects. Collected after every
    20 young collections it stopped the server for 100 ms (``scripts/bench_targets.py``, a
    thousand paced streams after the throughput rounds: token lateness p99 126-261 ms); after
    every 2 it stops it for about 20 ms (p99 47-56 ms), for the same work in all. Full
    collections stay as rare as before (every 2,000 young ones), and an idle server runs one
    anyway (``mockserver/memory.py``).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def hypercorn_config(config: ServerConfig, sock: socket.socket) -> Config:
    hyper = Config()
    # Hypercorn closes the socket it serves on, so it gets its own descriptor.
    hyper.bind = [f"fd://{os.dup(sock.fileno())}"]
    hyper.graceful_timeout = GRACEFUL_TIMEOUT
    hyper.backlog = BACKLOG
    hyper.accesslog = None
    hyper.workers = max(1, config.workers)
    # Worker processes run on Hypercorn's own loop of that kind (see mockserver.loops).
    hyper.worker_class = loop_name(config.loop)
    allow_ws_deflate(hyper, config.ws_deflate)
    return hyper


class QuietLostWrites(logging.Filter):
    """Drops asyncio's "socket.send() raised exception." warnings.

    A client that leaves during a burst of writes (``curl | head``) leaves Hypercorn writing
    the rest of the burst to the closed socket until the disconnect reaches the app, a few
    writes later; asyncio warns once per such write from the fifth on. The stream does stop,
    and the journal records the request; a page of these lines only alarms the reader.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "socket.send() raised exception."


def quiet_lost_writes() -> None:
    """Install :class:`QuietLostWrites` on asyncio's logger (once)."""
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, QuietLostWrites) for f in asyncio_log.filters):
        asyncio_log.addFilter(QuietLostWrites())


def _quiet_cancellation(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """The loop's exception handler: a connection's task cancelled at shutdown is not an error.

    Ctrl-C with streams open cancels their connections' tasks; Python 3.11's ``asyncio.streams``
    then asks each cancelled task for its exception in a callback, which raises
    ``CancelledError`` and printed some 30 lines of traceback per stream (uvloop and asyncio).
    """
    if isinstance(context.get("exception"), asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


async def quiet_shutdown() -> None:
    """Install :func:`_quiet_cancellation` on the running loop (a before-serving hook)."""
    asyncio.get_running_loop().set_exception_handler(_quiet_cancellation)


def serve(
    config: ServerConfig, *, sock: socket.socket | None = None, app: MockApp | None = None
) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly (open streams get a second).

    With ``workers`` > 1 every worker process has its own state (chats, queues, journal).
    """
    listening = sock if sock is not None else bind(config.host, config.port)
    try:
        quiet_lost_writes()
        if config.workers <= 1:
            served = app if app is not None else create_app(config)
            served.before_serving(quiet_shutdown)
            tune_runtime()
            try:
                with asyncio.Runner(loop_factory=loop_factory(config.loop)) as runner:
                    runner.run(_serve_one(served, config, listening))
            finally:
                write_stderr.flush(EXIT_WAIT_S)  # the last requests' lines before "stopped"
            return
        hyper = hypercorn_config(config, listening)
        os.environ[CONFIG_ENV] = dump_config(config)
        hyper.application_path = "mockserver.run:worker_app()"
        run(hyper)
    finally:
        listening.close()


async def _serve_one(app: MockApp, config: ServerConfig, sock: socket.socket) -> None:
    """Serve ``app`` on ``sock`` in this process, on the server ``config`` names."""
    if config.server == "uvicorn":
        await serve_uvicorn(
            app,
            sock,
            backlog=BACKLOG,
            graceful_timeout=GRACEFUL_TIMEOUT,
            ws_deflate=config.ws_deflate,
        )
    else:
        await hypercorn_serve(app, hypercorn_config(config, sock))


def worker_app() -> MockApp:
    """The app in a worker process (``hypercorn`` loads ``mockserver.run:worker_app()``)."""
    text = os.environ.get(CONFIG_ENV)
    app = create_app(load_config(text) if text else ServerConfig())
    app.before_serving(quiet_shutdown)
    tune_runtime()
    quiet_lost_writes()
    return app
