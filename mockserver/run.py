"""Run the mock server on Hypercorn or Uvicorn (what ``streamctl serve`` calls)."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import socket
from dataclasses import fields
from pathlib import Path
from typing import Any

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config
from hypercorn.run import run

from mockserver.admin import PREFIX
from mockserver.app import MockApp, create_app
from mockserver.config import ServerConfig
from mockserver.engines import serve_uvicorn
from mockserver.hyperfix import allow_ws_deflate
from mockserver.logwriter import EXIT_WAIT_S, write_stderr
from mockserver.loops import loop_factory, loop_name
from mockserver.playground import PLAYGROUND
from streamctl.core.protocols import REGISTRY

__all__ = ["banner", "bind", "serve", "tune_runtime", "worker_app"]

#: How a multi-worker parent passes the configuration to its worker processes.
CONFIG_ENV = "STREAMCTL_SERVER_CONFIG"
#: Seconds open streams get to finish at shutdown (Ctrl-C) before they are cut.
GRACEFUL_TIMEOUT = 1.0
_SERIALISED = ("clock", "wall_clock")
#: Garbage collector thresholds for server processes (see :func:`tune_runtime`).
GC_THRESHOLDS = (10_000, 2, 1000)
#: Pending connections the kernel queues (Hypercorn's default of 100 drops a burst of clients).
BACKLOG = 2048


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port). Raises OSError."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Tokens are small writes that must leave at once (Hypercorn sets this only on sockets it
    # binds itself; accepted sockets inherit it).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _origin(host: str, port: int, scheme: str) -> str:
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else "::1" if host == "::" else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}"


def banner(config: ServerConfig, port: int, scenarios: int) -> str:
    """What ``streamctl serve`` prints at start: every protocol's URLs and the admin API."""
    http, ws = _origin(config.host, port, "http"), _origin(config.host, port, "ws")
    lines = [
        f"streamctl mock server on {http} (speed {config.speed:g}, {scenarios} scenarios, "
        f"{_engine(config)}{loop_name(config.loop)}; Ctrl-C to stop)"
    ]
    for proto in REGISTRY.values():
        for i, endpoint in enumerate(proto.endpoints):
            base = ws if endpoint.method == "WS" else http
            label = proto.name if i == 0 else ""
            lines.append(f"  {label:<16} {endpoint.method:<6} {base}{endpoint.path}")
    if config.serve_as is not None:
        lines.append(f"  {'/':<16} {'':<6} {http}/  (as {config.serve_as})")
    lines.append(f"  {'playground':<16} {'':<6} {http}{_playground(config)}")
    lines.append(f"  {'admin':<16} {'':<6} {http}{PREFIX}")
    if config.faults:
        share = "every stream" if config.fault_rate >= 1 else f"{config.fault_rate:.0%} of streams"
        seed = "" if config.seed is None else f", seed {config.seed}"
        lines.append(f"  faults on {share}{seed}: {' '.join(config.faults)}")
    if config.hold_after is not None:
        lines.append(
            f"  every reply held after {config.hold_after} tokens: "
            f"release with POST {http}{PREFIX}/streams/release"
        )
    return "\n".join(lines)


def _engine(config: ServerConfig) -> str:
    return "" if config.server == "hypercorn" else f"{config.server}, "


def _playground(config: ServerConfig) -> str:
    return PLAYGROUND if config.serve_as is not None else "/"


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


def dump_config(config: ServerConfig) -> str:
    """The configuration as JSON (the clocks are not carried: workers use real ones)."""
    data: dict[str, Any] = {
        f.name: getattr(config, f.name) for f in fields(config) if f.name not in _SERIALISED
    }
    data["scenario_dirs"] = [str(p) for p in config.scenario_dirs]
    data["cors_origins"] = list(config.cors_origins)
    data["allowed_hosts"] = list(config.allowed_hosts)
    return json.dumps(data)


def load_config(text: str) -> ServerConfig:
    data = json.loads(text)
    data["scenario_dirs"] = tuple(Path(p) for p in data["scenario_dirs"])
    data["cors_origins"] = tuple(data["cors_origins"])
    for name in ("faults", "sse_ids", "allowed_hosts"):
        data[name] = tuple(data.get(name, ()))
    return ServerConfig(**data)


def worker_app() -> MockApp:
    """The app in a worker process (``hypercorn`` loads ``mockserver.run:worker_app()``)."""
    text = os.environ.get(CONFIG_ENV)
    app = create_app(load_config(text) if text else ServerConfig())
    app.before_serving(quiet_shutdown)
    tune_runtime()
    quiet_lost_writes()
    return app
