#!/usr/bin/env python3
"""What the recording proxy costs: time to first token, and paced streams kept on time.

Starts a mock server (``streamctl serve``) and a proxy in front of it (``streamctl proxy``,
recording every exchange to a temporary directory), each in a process of its own, and measures
from this process with httpx:

1. **Time to first token**: ``--requests`` sequential requests of an unpaced reply, alternating
   direct and through the proxy; the time from sending the request to the first body chunk.
   Reported: p50 and p90 of each, and the proxy's added p50 (the target is at most 1 ms).
2. **Paced streams**: ``--streams`` concurrent streams of ``--tokens`` tokens ``--delay-ms``
   apart, first direct, then through the proxy. Each token's lateness is its arrival minus
   its schedule (request sent + (k + 1) * delay); reported p50, p99 and max, and how many
   tokens were over ``--late-ms`` late.

Usage: python scripts/bench_proxy.py [--requests 400] [--streams 200] [--tokens 20]
The figures depend on the machine; say how many CPUs it had (this prints ``os.cpu_count()``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/chat/stream"


def _read_line_with(process: subprocess.Popen[bytes], marker: bytes) -> str:
    assert process.stderr is not None
    seen = b""
    while marker not in seen:
        line = process.stderr.readline()
        if not line:
            raise RuntimeError(f"the process ended before it printed {marker!r}: {seen!r}")
        seen += line
    return seen.decode()


@contextmanager
def started(command: list[str], marker: bytes) -> Iterator[str]:
    """Run ``streamctl COMMAND``; yield what it printed up to ``marker``; stop it with SIGINT."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "streamctl", *command], stderr=subprocess.PIPE, env=env
    )
    try:
        yield _read_line_with(process, marker)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(20)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def first_chunk_ms(client: httpx.AsyncClient, url: str) -> float:
    start = time.perf_counter()
    async with client.stream("GET", url, params={"message": "hi"}) as response:
        async for _ in response.aiter_raw():
            return (time.perf_counter() - start) * 1000.0
    raise RuntimeError(f"{url}: empty body")


async def ttft(direct: str, proxied: str, requests: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {"direct": [], "proxy": []}
    async with httpx.AsyncClient(timeout=30) as client:
        for base in (direct, proxied):  # warm both (connections, first-request imports)
            for _ in range(20):
                await first_chunk_ms(client, base + PATH)
        for _ in range(requests // 2):
            found["direct"].append(await first_chunk_ms(client, direct + PATH))
            found["proxy"].append(await first_chunk_ms(client, proxied + PATH))
    return found


async def paced_stream(client: httpx.AsyncClient, url: str, delay_ms: float) -> list[float]:
    """Each token's lateness (ms): its arrival against request sent + (k + 1) * delay."""
    late: list[float] = []
    params = {"message": "hi", "scenario": "bench-paced"}
    start = time.perf_counter()
    async with client.stream("GET", url, params=params) as response:
        async for chunk in response.aiter_raw():
            now = (time.perf_counter() - start) * 1000.0
            for _ in range(chunk.count(b'"delta"')):
                late.append(now - (len(late) + 1) * delay_ms)
    return late


async def paced(base: str, streams: int, delay_ms: float) -> list[float]:
    limits = httpx.Limits(max_connections=None)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        lists = await asyncio.gather(
            *(paced_stream(client, base + PATH, delay_ms) for _ in range(streams))
        )
    return [late for found in lists for late in found]


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name:>7}: p50 {percentile(values, 0.5):7.2f} ms  p90 {percentile(values, 0.9):7.2f} ms"
        f"  p99 {percentile(values, 0.99):7.2f} ms  max {max(values):7.2f} ms  (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--late-ms", type=float, default=20.0)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})")
    with tempfile.TemporaryDirectory() as work:
        scenarios, recordings = Path(work, "scenarios"), Path(work, "recordings")
        scenarios.mkdir()
        tokens = [f" t{i}" for i in range(args.tokens)]
        paced_scenario = {"name": "bench-paced", "tokens": tokens, "delay_ms": args.delay_ms}
        (scenarios / "bench-paced.json").write_text(json.dumps(paced_scenario))
        serve = ["serve", "--port", "0", "--speed", "1", "--scenarios", str(scenarios)]
        with started(serve, b"/_streamctl\n") as banner:
            direct = banner.split("mock server on ")[1].split()[0]
            proxy = ["proxy", "sse-delta-done", "--upstream", direct, "--port", "0"]
            proxy += ["-o", str(recordings)]
            with started(proxy, b"(Ctrl-C to stop)\n") as head:
                proxied = head.split("streamctl proxy on ")[1].split()[0]
                first = asyncio.run(ttft(direct, proxied, args.requests))
                print("time to first token (sequential requests, unpaced reply):")
                print(summary("direct", first["direct"]))
                print(summary("proxy", first["proxy"]))
                added = statistics.median(first["proxy"]) - statistics.median(first["direct"])
                print(f"  the proxy adds {added:.2f} ms at p50 (target: at most 1 ms)")
                print(
                    f"{args.streams} concurrent streams, {args.tokens} tokens "
                    f"{args.delay_ms:g} ms apart (lateness of each token):"
                )
                for name, base in (("direct", direct), ("proxy", proxied)):
                    late = asyncio.run(paced(base, args.streams, args.delay_ms))
                    over = sum(1 for value in late if value > args.late_ms)
                    print(summary(name, late) + f"  over {args.late_ms:g} ms: {over}")
        print(f"recordings written: {len(list(recordings.glob('*.jsonl')))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
