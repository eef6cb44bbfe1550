#!/usr/bin/env python3
"""What the recording proxy costs: time to first token, and paced streams kept on time.

Starts a mock server (``streamctl serve``) and a proxy in front of it (``streamctl proxy``,
recording every exchange to a temporary directory), each in a process of its own, and measures
from this process with a small h11 client (:mod:`mockserver.upstream`, far lighter than httpx,
so that 200 streams measure the servers, not the client):

1. **Time to first token**: ``--requests`` sequential requests of an unpaced reply on a kept
   connection, taking turns direct and through each proxy; the time from sending the request
   to the first body chunk. Reported: p50 and p99 of each, and what the proxy adds at p50 and
   p99 (the target: at most 1 ms at p50).
2. **Paced streams**: ``--streams`` concurrent streams of ``--tokens`` tokens ``--delay-ms``
   apart, direct, then through each proxy (a fresh mock server for each run). Each token's
   lateness is its arrival minus its schedule, request sent + (k + 1) * delay (this includes
   setting up all the connections at once), and on a second line the stream's own best
   schedule, the earliest t0 with every token k at or after t0 + k * delay (the pacing
   alone: "on time"); reported p50, p99 and max, how many tokens were over ``--late-ms``
   behind their stream's schedule, streams that failed, and the proxy's CPU per token. The
   streams start at the same instant, or spread over ``--ramp`` seconds (every new stream
   costs the proxy a connection in, one to the upstream and a transcript file: with all of
   them at once, that work competes with the first tokens of the first streams).

``--baseline DIR`` also starts a proxy from another checkout (``git archive main | tar -x -C
DIR``) and measures it in the same run, taking turns, so before and after share the machine's
load. Usage: python scripts/bench_proxy.py [--requests 400] [--streams 200] [--baseline DIR]
[--ramp S] [--rounds N] (``--rounds``: N paced runs of each, taking turns, and the count of late
tokens of every run at the end: one run says little on a shared machine).
The figures depend on the machine: this prints ``os.cpu_count()`` and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mockserver.upstream import Upstream, UpstreamError  # noqa: E402

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
def started(command: list[str], marker: bytes, root: Path = ROOT) -> Iterator[tuple[str, int]]:
    """Run ``streamctl COMMAND`` from ``root``; yield what it printed up to ``marker`` and its
    pid; stop it with SIGINT."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    process = subprocess.Popen(
        # cwd too: ``python -m`` puts it ahead of PYTHONPATH.
        [sys.executable, "-m", "streamctl", *command],
        stderr=subprocess.PIPE,
        env=env,
        cwd=root,
    )
    try:
        yield _read_line_with(process, marker), process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float | None:
    """A process's user + system CPU time so far (Linux's /proc), or None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def first_chunk_ms(client: Upstream, target: str) -> float:
    start = time.perf_counter()
    response = await client.request("GET", target, [], b"")
    try:
        found: float | None = None
        async for _ in response.chunks():
            if found is None:
                found = (time.perf_counter() - start) * 1000.0
    finally:
        await response.aclose()
    if found is None:
        raise RuntimeError(f"{target}: empty body")
    return found


async def ttft(bases: dict[str, str], requests: int) -> tuple[dict[str, list[float]], Counter[str]]:
    """Each target's times to first token, and how many of its requests failed or hung."""
    found: dict[str, list[float]] = {name: [] for name in bases}
    failed: Counter[str] = Counter()
    clients = {name: Upstream(base) for name, base in bases.items()}
    target = PATH + "?message=hi"
    for client in clients.values():  # warm each (connections, first-request imports)
        for _ in range(20):
            await first_chunk_ms(client, target)
    for _ in range(requests // len(bases)):
        for name, client in clients.items():
            try:
                found[name].append(await asyncio.wait_for(first_chunk_ms(client, target), 30))
            except (TimeoutError, UpstreamError) as exc:
                failed[name] += 1
                print(f"  {name}: a request failed: {exc!r}", flush=True)
                clients[name] = Upstream(bases[name])  # its connection is in an unknown state
        if failed["direct"]:
            # The mock itself stopped answering (seen after ~1,000 sequential requests on a
            # loaded machine): every later figure would be its, not the proxy's.
            print("  the mock server stopped answering: time to first token cut short")
            break
    for client in clients.values():
        await client.aclose()
    return found, failed


async def paced_stream(
    base: str, delay_ms: float, wait: float = 0.0
) -> tuple[list[float], list[float]]:
    """Each token's lateness (ms): its arrival against request sent + (k + 1) * delay, and
    against the stream's own best schedule (the pacing alone, without the set-up). The stream
    starts after ``wait`` seconds."""
    await asyncio.sleep(wait)
    client = Upstream(base)
    late: list[float] = []
    start = time.perf_counter()
    response = await client.request("GET", PATH + "?message=hi&scenario=bench-paced", [], b"")
    try:
        async for chunk in response.chunks():
            now = (time.perf_counter() - start) * 1000.0
            for _ in range(chunk.count(b'"delta"')):
                late.append(now - (len(late) + 1) * delay_ms)
    finally:
        await response.aclose()
        await client.aclose()
    best = min(late, default=0.0)  # late[k] is arrival[k] - (k + 1) * delay
    return late, [value - best for value in late]


async def paced(
    base: str, streams: int, tokens: int, delay_ms: float, ramp: float = 0.0
) -> tuple[list[float], list[float], int]:
    """Every token's lateness (from the request, from the head), and how many streams failed
    or came short."""
    limit = tokens * delay_ms / 1000.0 + ramp + 60.0
    runs = [
        asyncio.wait_for(paced_stream(base, delay_ms, ramp * i / streams), limit)
        for i in range(streams)
    ]
    results = await asyncio.gather(*runs, return_exceptions=True)
    problems = {repr(r) for r in results if isinstance(r, BaseException)}
    for problem in sorted(problems)[:3]:
        print(f"  a stream failed: {problem}")
    found = [r for r in results if isinstance(r, tuple)]
    failed = streams - sum(1 for late, _ in found if len(late) >= tokens)
    return [v for late, _ in found for v in late], [v for _, pace in found for v in pace], failed


def summary(name: str, values: list[float]) -> str:
    if not values:
        return f"{name:>9}: nothing measured"
    return (
        f"{name:>9}{':' if name else ' '} p50 {percentile(values, 0.5):7.2f} ms"
        f"  p99 {percentile(values, 0.99):7.2f} ms"
        f"  max {max(values):7.2f} ms  (n={len(values)})"
    )


@contextmanager
def servers(work: Path, roots: dict[str, Path]) -> Iterator[tuple[dict[str, str], dict[str, int]]]:
    """A fresh mock server, and a proxy in front of it from each of ``roots``: their base URLs
    (``direct`` is the mock's) and the proxies' pids."""
    with ExitStack() as stack:
        serve = ["serve", "--port", "0", "--speed", "1", "--scenarios", str(work / "scenarios")]
        banner, _ = stack.enter_context(started(serve, b"/_streamctl\n"))
        bases = {"direct": banner.split("mock server on ")[1].split()[0]}
        pids: dict[str, int] = {}
        for name, root in roots.items():
            recordings = tempfile.mkdtemp(prefix=f"recordings-{name}-", dir=work)
            proxy = ["proxy", "sse-delta-done", "--upstream", bases["direct"], "--port", "0"]
            proxy += ["-o", recordings]
            head, pids[name] = stack.enter_context(started(proxy, b"(Ctrl-C to stop)\n", root))
            bases[name] = head.split("streamctl proxy on ")[1].split()[0]
        yield bases, pids


def paced_run(work: Path, args: argparse.Namespace, name: str, roots: dict[str, Path]) -> int:
    """One paced run of ``name`` (``direct``, or a proxy) against a fresh mock server: prints its
    lines and returns how many tokens were over ``--late-ms`` behind their stream's schedule."""
    # Only the proxy measured runs: an idle one would still take its share of the CPU.
    with servers(work, {name: roots[name]} if name in roots else {}) as (bases, pids):
        before = cpu_seconds(pids[name]) if name in pids else None
        late, pace, failed = asyncio.run(
            paced(bases[name], args.streams, args.tokens, args.delay_ms, args.ramp)
        )
        after = cpu_seconds(pids[name]) if name in pids else None
    over = sum(1 for v in pace if v > args.late_ms)
    line = f"  over {args.late_ms:g} ms: {over}, streams failed: {failed}"
    if before is not None and after is not None and late:
        line += f", proxy CPU {(after - before) / len(late) * 1e6:.0f} us/token"
    print(summary(name, late) + "  (from the request)")
    print(summary("", pace) + line)
    return over


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--late-ms", type=float, default=20.0)
    parser.add_argument(
        "--ramp", type=float, default=0.0, help="seconds to start the streams over (0: at once)"
    )
    parser.add_argument("--baseline", type=Path, help="a checkout to run a second proxy from")
    parser.add_argument(
        "--rounds", type=int, default=1, help="paced runs of each target, taking turns"
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f})")
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        (work / "scenarios").mkdir()
        tokens = [f" t{i}" for i in range(args.tokens)]
        paced_scenario = {"name": "bench-paced", "tokens": tokens, "delay_ms": args.delay_ms}
        (work / "scenarios" / "bench-paced.json").write_text(json.dumps(paced_scenario))
        roots = {"proxy": ROOT} | ({"baseline": args.baseline} if args.baseline else {})
        with servers(work, roots) as (bases, _):
            first, ttft_failed = asyncio.run(ttft(bases, args.requests))
        print("time to first token (sequential requests on a kept connection, unpaced reply):")
        direct = first["direct"]
        for name, values in first.items():
            line = summary(name, values)
            if name != "direct":
                p50 = percentile(values, 0.5) - percentile(direct, 0.5)
                p99 = percentile(values, 0.99) - percentile(direct, 0.99)
                line += f"  adds p50 {p50:+.2f} ms, p99 {p99:+.2f} ms"
            if ttft_failed[name]:
                line += f"  failed: {ttft_failed[name]}"
            print(line)
        print(
            f"{args.streams} concurrent streams, {args.tokens} tokens {args.delay_ms:g} ms apart"
            + (f", started over {args.ramp:g} s" if args.ramp else ", started at once")
            + " (each token's lateness; the target: the proxy's pacing as the direct one's;"
            " a fresh mock server for each):"
        )
        totals: dict[str, list[int]] = {name: [] for name in ("direct", *roots)}
        for round_ in range(args.rounds):
            if args.rounds > 1:
                print(f" round {round_ + 1} of {args.rounds}:")
            for name, overs in totals.items():
                overs.append(paced_run(work, args, name, roots))
        if args.rounds > 1:
            for name, overs in totals.items():
                print(f"{name:>9}: tokens over {args.late_ms:g} ms late, per round: {overs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
