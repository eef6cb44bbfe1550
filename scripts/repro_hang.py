#!/usr/bin/env python3
"""Reproduce the mock server hang after clients that leave mid-stream (issue 16).

Starts ``streamctl serve`` (real Hypercorn) on a free loopback port, then:

1. ``--sequential`` streams, one after the other, each left by its client after the first
   body chunk (half SSE over GET, half goose ``POST /reply``, a few WebSockets);
2. ``--bursts`` bursts of ``--concurrent`` paced streams read to their end;
3. a plain ``GET /_streamctl/health``.

The server logs each request on stderr, which is a pipe this script never reads (as
``Popen(stderr=PIPE)`` read only at exit leaves it): that is what hung the server, whose loop
wrote the log (see ``mockserver/logwriter.py``). ``REPRO_STDERR=devnull`` gives it a sink
instead, ``REPRO_LEAVE=slow`` makes the early leavers' scenario the bundled slow one,
``REPRO_LOOP=asyncio`` runs the server on asyncio's own loop.

After each phase it prints the server's open file descriptors and its stream counter
(``/_streamctl/health``). Exit status 1 when a phase did not finish within ``--timeout``
seconds (the hang), else 0.

Usage: python scripts/repro_hang.py [--sequential 400] [--concurrent 200] [--bursts 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
LEAVE = os.environ.get("REPRO_LEAVE", "paced")
STDERR = os.environ.get("REPRO_STDERR", "pipe")
LOOP = os.environ.get("REPRO_LOOP", "auto")
SSE = f"/api/chat/stream?message=hang%20test&scenario={LEAVE}"
PACED = "/api/chat/stream?message=hang%20test&scenario=paced"
PACED_SCENARIO = {
    "name": "paced",
    "reply": " ".join(f"word{i}" for i in range(40)),
    "first_delay_ms": 20,
    "delay_ms": 20,
}
SECRET = "test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def blocked_in(pid: int) -> str:
    """Where the server's main thread waits in the kernel (``pipe_write``: a full stderr)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text() or "running"
    except OSError:
        return "?"


def goose_request(port: int, n: int) -> bytes:
    body = json.dumps(
        {
            "messages": [
                {
                    "role": "user",
                    "created": 1,
                    "content": [{"type": "text", "text": "hang test"}],
                }
            ],
            "session_id": f"hang{n}",
            "session_working_dir": "/tmp",
        }
    ).encode()
    head = (
        f"POST /reply HTTP/1.1\r\nHost: {HOST}:{port}\r\nX-Secret-Key: {SECRET}\r\n"
        f"X-Streamctl-Scenario: {LEAVE}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def sse_request(port: int) -> bytes:
    return f"GET {SSE} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode()


async def leave_after_first_chunk(port: int, request: bytes, abort: bool) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode("latin-1"))
    await reader.read(1)  # the first body byte
    if abort:  # an abrupt reset, as a killed client leaves
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.close()


async def ws_leave(port: int) -> None:
    async with connect(f"ws://{HOST}:{port}/chat/ws", open_timeout=30) as ws:
        await ws.send(json.dumps({"message": "hang", "timestamp": "2026-01-01T00:00:00.000Z"}))
        await ws.recv()
        ws.transport.abort()


async def read_whole(port: int) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(
        f"GET {PACED} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    if b" 200 " not in data[:20]:
        raise RuntimeError(data[:200].decode("latin-1"))


async def health(port: int) -> dict[str, object]:
    reader, writer = await asyncio.open_connection(HOST, port)
    head = f"GET /_streamctl/health HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n"
    writer.write(f"{head}\r\n".encode())
    data = await reader.read()
    writer.close()
    return json.loads(data.partition(b"\r\n\r\n")[2] or b"{}")


async def main(args: argparse.Namespace) -> int:
    port = free_port()
    scenarios = Path(tempfile.mkdtemp(prefix="repro_hang"))
    (scenarios / "paced.json").write_text(json.dumps(PACED_SCENARIO))
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "streamctl", "serve", "--port", str(port), "--no-watch"),
            *("--loop", LOOP, "--scenarios", str(scenarios)),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        # The request log goes to stderr: a pipe nobody reads, as a careless parent leaves it.
        stderr=subprocess.PIPE if STDERR == "pipe" else subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                await health(port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        print(f"fresh: fds {open_fds(server.pid)}")

        async def phase(name: str, work: object) -> bool:
            started = time.monotonic()
            try:
                await asyncio.wait_for(work, args.timeout)  # type: ignore[arg-type]
            except TimeoutError:
                print(
                    f"{name}: HUNG after {args.timeout:g} s, fds {open_fds(server.pid)}, "
                    f"main thread in {blocked_in(server.pid)}"
                )
                return False
            took = time.monotonic() - started
            try:
                state = await asyncio.wait_for(health(port), args.timeout)
            except TimeoutError:
                print(
                    f"{name}: {took:.1f} s, then health HUNG, fds {open_fds(server.pid)}, "
                    f"main thread in {blocked_in(server.pid)}"
                )
                return False
            print(f"{name}: {took:.1f} s, fds {open_fds(server.pid)}, health {state}")
            return True

        async def sequential() -> None:
            for i in range(args.sequential):
                if i % 20 == 19:
                    await ws_leave(port)
                else:
                    request = goose_request(port, i) if i % 2 else sse_request(port)
                    await leave_after_first_chunk(port, request, abort=i % 4 == 0)

        if not await phase(f"{args.sequential} sequential early leavers", sequential()):
            return 1
        for burst in range(args.bursts):
            work = asyncio.gather(*(read_whole(port) for _ in range(args.concurrent)))
            if not await phase(f"burst {burst + 1} of {args.concurrent}", work):
                return 1
        await asyncio.sleep(2)
        print(f"idle: fds {open_fds(server.pid)}")
        return 0
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            print("the server did not stop on SIGTERM within 10 s: killed")
            server.kill()
            server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=400)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--bursts", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    sys.exit(asyncio.run(main(parser.parse_args())))
