#!/usr/bin/env python3
"""Soak the mock server: many clients that connect, read part of a stream and drop at random.

One server process (the mock server as ``streamctl serve`` runs it, on a loopback port chosen
by the OS) and, in this process, ``--clients`` concurrent clients for ``--seconds``: each
connects (SSE over GET, or a WebSocket), reads a random part of the reply and then goes away —
a clean close, an abrupt TCP reset, or a server-side ``drop`` fault it asked for — and starts
over. Everything is bounded and stops by itself.

The server process counts every log record at ERROR or above (its own loggers, Hypercorn's,
asyncio's) and answers ``stats`` on its stdin with its RSS and live asyncio tasks. The report:
errors logged, tasks left after the load, streams still active, RSS idle vs after (target:
within 10 %), and how many client sessions ran.

A share of the clients (``--hostile-share``) misbehave on purpose: a WebSocket client floods
messages without reading the answers, or an upload trickles its body a byte at a time; both
drop at a random moment. The server must hold them back (bounded inbox, body deadline) and
forget them when they go.

The issue's figure: after 3 bursts of 2,000 clients the idle server must be back within 10 % of
its idle RSS (``--clients 2000 --rounds 3``). The report also gives the RSS of the fresh server
(before the warm-up) for comparison.

Usage: python scripts/soak_server.py [--clients 2000] [--seconds 60] [--rounds 3]
       [--ws-share 0.2] [--hostile-share 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import logging
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOST = "127.0.0.1"
SSE_PATH = "/api/chat/stream?message=soak%20test%20message"
WS_PATH = "/chat/ws"
WS_MESSAGE = json.dumps({"message": "soak", "timestamp": "2026-01-01T00:00:00.000Z"})
TOKEN_DELAY_MS = 20.0  # the default reply's ~20 tokens stream over ~0.4 s


# --- the server process ------------------------------------------------------------------


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.first) < 5:
            self.first.append(self.format(record))


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _arenas() -> int | None:
    """pymalloc's arenas in use (1 MiB each; an arena is given back only once all of it is free),
    from sys._debugmallocstats, which only writes to the C stderr."""
    import os  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile("w+") as report:
            os.dup2(report.fileno(), 2)
            try:
                sys._debugmallocstats()
            finally:
                os.dup2(saved, 2)
            report.seek(0)
            for line in report:
                if line.startswith("# arenas allocated current"):
                    return int(line.split("=")[1].replace(",", ""))
    finally:
        os.close(saved)
    return None


def _task_name(task: asyncio.Task[Any]) -> str:
    coro = task.get_coro()
    return str(getattr(coro, "__qualname__", coro))


def _trim() -> None:
    """Hand the C heap's free pages back to the OS (glibc), so RSS shows what is in use."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def serve() -> None:
    """Run the mock server; print the port; answer ``stats`` lines on stdin."""
    from hypercorn.asyncio import serve as hypercorn_serve  # noqa: PLC0415

    from mockserver.app import create_app  # noqa: PLC0415
    from mockserver.config import ServerConfig  # noqa: PLC0415
    from mockserver.loops import new_loop  # noqa: PLC0415
    from mockserver.run import hypercorn_config  # noqa: PLC0415
    from mockserver.startup import bind  # noqa: PLC0415

    counter = _Counter()
    logging.getLogger().addHandler(counter)
    logging.getLogger().setLevel(logging.INFO)
    config = ServerConfig(port=0, watch=False, default_delay_ms=TOKEN_DELAY_MS)
    app = create_app(config)
    sock = bind(HOST, 0)
    loop = new_loop(config.loop)  # as `streamctl serve` picks it

    async def stats(trim: bool) -> dict[str, Any]:
        gc.collect()
        if trim:
            _trim()
        return {
            "rss_mb": round(_rss_mb(), 1),
            "blocks": sys.getallocatedblocks(),
            "arenas": _arenas(),
            "tasks": len(asyncio.all_tasks()),
            "task_names": sorted(_task_name(t) for t in asyncio.all_tasks()),
            "errors": counter.count,
            "first_errors": counter.first,
            "active": app.server.active,
            "trims": app.server.trims,
        }

    def commands() -> None:
        for line in sys.stdin:
            if line.strip() in ("stats", "trim"):
                asked = stats(line.strip() == "trim")
                answer = asyncio.run_coroutine_threadsafe(asked, loop).result(30)
                print(json.dumps(answer), flush=True)
        loop.call_soon_threadsafe(stop.set)

    stop = asyncio.Event()
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    threading.Thread(target=commands, daemon=True).start()
    hyper = hypercorn_config(config, sock)
    hyper.accesslog = None
    loop.run_until_complete(hypercorn_serve(app, hyper, shutdown_trigger=stop.wait))


# --- the load ------------------------------------------------------------------------------


@dataclass
class Tally:
    sessions: int = 0
    clean: int = 0
    reset: int = 0
    faulted: int = 0
    ws: int = 0
    hostile: int = 0
    failures: int = 0
    failure_kinds: dict[str, int] = field(default_factory=dict)


async def sse_session(port: int, rng: random.Random, tally: Tally) -> None:
    """GET the stream, read a random number of bytes, then close or reset."""
    path = SSE_PATH
    if rng.random() < 0.25:
        path += f"&fault=drop:after={rng.randint(1, 10)}" + (",mid" if rng.random() < 0.5 else "")
        tally.faulted += 1
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode())
        want = rng.randint(1, 3000)
        got = 0
        while got < want:
            chunk = await reader.read(4096)
            if not chunk:
                break
            got += len(chunk)
    finally:
        if rng.random() < 0.5:
            writer.transport.abort()
            tally.reset += 1
        else:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            tally.clean += 1


async def ws_session(port: int, rng: random.Random, tally: Tally) -> None:
    """Open a WebSocket, send a message, read some of the reply, then close or reset."""
    from websockets.asyncio.client import connect  # noqa: PLC0415

    tally.ws += 1
    async with connect(f"ws://{HOST}:{port}{WS_PATH}", open_timeout=30) as ws:
        await ws.send(WS_MESSAGE)
        for _ in range(rng.randint(0, 25)):
            if '"complete"' in str(await ws.recv()):
                break
        if rng.random() < 0.5:
            ws.transport.abort()
            tally.reset += 1
        else:
            tally.clean += 1


async def flood_session(port: int, rng: random.Random, tally: Tally) -> None:
    """A WebSocket client that sends without reading the answers, then drops (reset)."""
    from websockets.asyncio.client import connect  # noqa: PLC0415

    tally.hostile += 1
    message = json.dumps({"message": "x" * 1000, "timestamp": "2026-01-01T00:00:00.000Z"})
    async with connect(f"ws://{HOST}:{port}{WS_PATH}", open_timeout=30, max_queue=1) as ws:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(rng.random() * 3):
                while True:  # held back by the server once its inbox is full
                    await ws.send(message)
        ws.transport.abort()
        tally.reset += 1


async def trickle_session(port: int, rng: random.Random, tally: Tally) -> None:
    """A POST whose body comes a byte at a time, dropped after a random while."""
    tally.hostile += 1
    _, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(
            f"POST /reply HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
            f"X-Secret-Key: test\r\nContent-Length: 100000\r\n\r\n{{".encode()
        )
        for _ in range(rng.randint(1, 30)):
            await asyncio.sleep(0.1)
            writer.write(b" ")
    finally:
        writer.transport.abort()
        tally.reset += 1


async def session(port: int, rng: random.Random, shares: tuple[float, float], tally: Tally) -> None:
    ws_share, hostile_share = shares
    draw = rng.random()
    if draw < hostile_share:
        hostile = flood_session if rng.random() < 0.5 else trickle_session
        await hostile(port, rng, tally)
    elif draw < hostile_share + ws_share:
        await ws_session(port, rng, tally)
    else:
        await sse_session(port, rng, tally)


async def client(
    port: int, seed: int, until: float, ws_share: float, tally: Tally, *, hostile: float = 0.0
) -> None:
    rng = random.Random(seed)
    await asyncio.sleep(rng.random() * 2)  # spread the first connections
    while time.monotonic() < until:
        try:
            async with asyncio.timeout(30):
                await session(port, rng, (ws_share, hostile), tally)
        except Exception as exc:  # a client failure is counted, not fatal
            tally.failures += 1
            kind = type(exc).__name__
            tally.failure_kinds[kind] = tally.failure_kinds.get(kind, 0) + 1
        tally.sessions += 1
        await asyncio.sleep(rng.random() * 0.2)


async def warm_up(port: int, count: int, seed: int) -> None:
    """Serve what the load will ask for once at a gentle pace (100 clients for a few seconds,
    the same mix of sessions), then ``count`` complete streams: idle RSS then includes what
    serving costs once (imports, caches filled on first use, a full journal)."""
    tally = Tally()
    until = time.monotonic() + 5
    await asyncio.gather(*(client(port, seed - 1 - i, until, 0.2, tally) for i in range(100)))
    semaphore = asyncio.Semaphore(100)

    async def one() -> None:
        async with semaphore:
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(
                f"GET {SSE_PATH} HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n".encode()
            )
            while await reader.read(65536):
                pass
            writer.close()

    await asyncio.gather(*(one() for _ in range(count)))


class Server:
    def __init__(self) -> None:
        command = [sys.executable, __file__, "--serve"]
        # On the allocator `streamctl serve` picks (streamctl/cli/handover.py), unless the
        # environment names one (PYTHONMALLOC=pymalloc measures Python's own).
        from streamctl.cli.handover import ENV  # noqa: PLC0415

        env = {**os.environ, ENV: os.environ.get(ENV, "malloc")}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        assert self.process.stdout is not None
        self.port = int(json.loads(self.process.stdout.readline())["port"])

    def stats(self, trim: bool = False) -> dict[str, Any]:
        """The server's figures (with ``trim``: after glibc's malloc_trim)."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("trim\n" if trim else "stats\n")
        self.process.stdin.flush()
        answer: dict[str, Any] = json.loads(self.process.stdout.readline())
        return answer

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def settle(server: Server, timeout: float = 30.0) -> dict[str, Any]:
    """Stats once no stream is active any more (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    stats = server.stats()
    while stats["active"] and time.monotonic() < deadline:
        time.sleep(0.5)
        stats = server.stats()
    # Let closing connections finish their last callbacks, and the server notice it is idle
    # (it gives freed memory back to the OS after ServerConfig.trim_idle_s without a stream).
    from mockserver.config import ServerConfig  # noqa: PLC0415

    time.sleep(max(1.0, ServerConfig().trim_idle_s + 1.0))
    return server.stats()


async def load(args: argparse.Namespace, port: int) -> Tally:
    tally = Tally()
    until = time.monotonic() + args.seconds
    await asyncio.gather(
        *(
            client(port, args.seed + i, until, args.ws_share, tally, hostile=args.hostile_share)
            for i in range(args.clients)
        )
    )
    return tally


def _report(args: argparse.Namespace, tally: Tally, elapsed: float, during: dict[str, Any]) -> None:
    print(
        f"load: {args.clients} clients for {elapsed:.0f} s: {tally.sessions} sessions "
        f"({tally.ws} WebSocket, {tally.hostile} hostile, {tally.faulted} asked for a drop "
        f"fault; {tally.reset} reset, "
        f"{tally.clean} closed cleanly); client failures: {tally.failures} "
        f"{tally.failure_kinds or ''}"
    )
    print(f"  at the end of the load: RSS {during['rss_mb']} MB, {during['tasks']} tasks")


def _memory(label: str, stats: dict[str, Any], idle: dict[str, Any]) -> str:
    growth = (stats["rss_mb"] - idle["rss_mb"]) / idle["rss_mb"] * 100
    return (
        f"{label}: RSS {stats['rss_mb']} MB ({growth:+.1f} % vs idle), "
        f"Python blocks {stats['blocks']} (idle {idle['blocks']}), "
        f"pymalloc arenas {stats['arenas']} (idle {idle['arenas']}), idle trims so far "
        f"{stats['trims']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3, help="load rounds (a leak grows)")
    parser.add_argument("--ws-share", type=float, default=0.2)
    parser.add_argument(
        "--hostile-share", type=float, default=0.05, help="flooding or trickling clients"
    )
    parser.add_argument("--warm-up", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return 0
    server = Server()
    try:
        fresh = server.stats()
        print(f"fresh: RSS {fresh['rss_mb']} MB", flush=True)
        asyncio.run(warm_up(server.port, args.warm_up, args.seed))
        idle = settle(server)
        print(_memory(f"idle ({idle['tasks']} tasks)", idle, idle), flush=True)
        for round_ in range(args.rounds):
            started = time.monotonic()
            tally = asyncio.run(load(args, server.port))
            _report(args, tally, time.monotonic() - started, server.stats())
            after = settle(server)
            print(_memory(f"  after round {round_ + 1}", after, idle), flush=True)
        # Freed memory that the C allocator kept: handed back, RSS shows what is in use.
        trimmed = server.stats(trim=True)
        print(_memory("after malloc_trim (diagnostic)", trimmed, idle), flush=True)
    finally:
        server.stop()
    growth = (after["rss_mb"] - idle["rss_mb"]) / idle["rss_mb"] * 100
    ok = after["errors"] == 0 and after["tasks"] <= idle["tasks"] and abs(growth) <= 10
    print(
        f"after: errors logged {after['errors']}, tasks {after['tasks']} (idle {idle['tasks']}), "
        f"streams active {after['active']}, RSS {after['rss_mb']} MB "
        f"(idle {idle['rss_mb']} MB, {growth:+.1f} %)"
    )
    if after["tasks"] > idle["tasks"]:
        print(f"  tasks idle: {idle['task_names']}\n  tasks after: {after['task_names']}")
    for line in after["first_errors"]:
        print(f"  error: {line}")
    print("PASS" if ok else "FAIL (target: no errors, no tasks left, RSS within 10 % of idle)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
