#!/usr/bin/env python3
"""Benchmark: how long a full contract-suite check of one protocol takes against a local server.

Starts the mock server (Hypercorn on 127.0.0.1:0, in this process's background thread), then
runs ``streamctl check PROTOCOL URL`` (every probe of the suite, as a user would) in a fresh
process, timing it from start to exit. Target (issue 14): <= 10 s per protocol. ``--url`` checks
another server instead (its credentials from --secret-key / --jwt-secret). Then a silent stream:
an SSE server that sends one event and nothing more, checked with --idle-timeout 1 and --timeout
60, must cost about the idle timeout, not the timeout.

Usage: python scripts/bench_check_suite.py [--protocol NAME]... [--repeat R] [--url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockserver.testing import LiveServer
from streamctl.core.protocols import names

TARGET_S = 10.0
SILENT_IDLE_S = 1.0
SILENT_TIMEOUT_S = 60.0


def one_run(protocol: str, url: str, credentials: list[str]) -> tuple[float, int, str]:
    """Seconds for one full-suite check (a new process, start-up included), its exit status
    and its summary line."""
    command = [sys.executable, "-m", "streamctl", "check", protocol, url, *credentials]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    lines = done.stdout.strip().splitlines()
    return elapsed, done.returncode, lines[-1] if lines else done.stderr.strip()


def silent_run() -> float:
    """Seconds a check of a stream that falls silent after one event takes (the exit must be
    1, a stalled finding)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    loop = asyncio.new_event_loop()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n")
        writer.write(b"cache-control: no-cache\r\nconnection: close\r\n\r\n")
        writer.write(b'event: message\ndata: {"delta": "Hi"}\n\n')
        await asyncio.sleep(3600)

    async def serve() -> None:
        await asyncio.start_server(handle, sock=sock)
        await asyncio.sleep(3600)

    threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    limits = ["--idle-timeout", f"{SILENT_IDLE_S:g}", "--timeout", f"{SILENT_TIMEOUT_S:g}"]
    elapsed, code, summary = one_run("sse-delta-done", url, limits)
    if code != 1:
        raise SystemExit(f"silent stream: check exited {code}, not 1: {summary}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", action="append", choices=names())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", help="check this server instead of a local mock")
    parser.add_argument("--secret-key", default="test")
    parser.add_argument("--jwt-secret")
    args = parser.parse_args()
    worst = 0.0
    server = None if args.url else LiveServer().start()
    if server is not None:
        url = server.base_url
        credentials = ["--secret-key", server.config.goose_secret]
        credentials += ["--jwt-secret", server.config.jwt_secret]
    else:
        url = args.url
        credentials = ["--secret-key", args.secret_key]
        credentials += ["--jwt-secret", args.jwt_secret] if args.jwt_secret else []
    try:
        for protocol in args.protocol or names():
            times = []
            for _ in range(args.repeat):
                elapsed, code, summary = one_run(protocol, url, credentials)
                if code != 0:
                    print(f"{protocol}: check exited {code}: {summary}")
                    return 1
                times.append(elapsed)
            worst = max(worst, *times)
            print(
                f"{protocol:<15} median {statistics.median(times):5.2f} s  "
                f"max {max(times):5.2f} s  ({summary})"
            )
    finally:
        if server is not None:
            server.stop()
    verdict = "ok" if worst <= TARGET_S else "OVER"
    print(f"slowest full suite: {worst:.2f} s (target <= {TARGET_S:g} s): {verdict}")
    silent = silent_run()
    bounded = silent < SILENT_TIMEOUT_S / 2
    print(
        f"silent stream (sse-delta-done, --idle-timeout {SILENT_IDLE_S:g} s, --timeout "
        f"{SILENT_TIMEOUT_S:g} s): check ended after {silent:.2f} s: "
        f"{'ok' if bounded else 'OVER'}"
    )
    return 0 if worst <= TARGET_S and bounded else 1


if __name__ == "__main__":
    raise SystemExit(main())
