#!/usr/bin/env python3
"""Benchmark the mock server against bare ASGI apps on Hypercorn, over loopback.

Every server runs in its own process (the mock server exactly as ``streamctl serve`` runs it,
and reference apps that write the very same bytes with nothing in between), all on the event
loop ``streamctl serve`` picks (``--loop`` names another); this process is
the load generator, with minimal raw-socket clients so that the servers, not the clients, are
what is measured. Everything is bounded (clients, rounds, timeouts) and stops by itself.

Phases (targets from issue 3):

* SSE delta/done, C clients x T tokens, no delay: events/s, mock vs bare ASGI (>= 0.9x).
* WS chunk/complete, same load: messages/s, mock vs bare ASGI (>= 0.8x); a plain Quart
  websocket route is measured too, for reference.
* N concurrent paced SSE streams at 10 tokens/s (opened over --paced-ramp seconds, so they
  overlap for most of their length): all complete, token lateness p99 <= 50 ms (every token,
  and only while every stream is open), server RSS <= 120 MB; which process's event loop
  stalled (busy, or not run by the OS; garbage collections) when tokens were late.
* Time to first event for one client: p50 <= 5 ms.
* Where the CPU time goes, in this process without I/O: the protocol's rendering, the mock's
  route, the bare app.

Throughput runs are interleaved (bare, mock, mock, bare, ...); the medians are reported, and each
ratio is the median of the ratios of runs made side by side. Then both servers are loaded at the
same moments, and their CPU cost per message compared: the machine's swings hit both alike, so
this ratio is the steadier one. The share of the machine other processes used meanwhile is
printed, since it skews every figure.

Usage: python scripts/bench_server.py [--clients 100] [--tokens 100] [--rounds 30]
       [--repeats 5] [--paced 1000] [--paced-tokens 50] [--paced-ramp 2] [--ttfe 300] [--quick]
       [--only throughput paced breakdown] [--no-pin] [--loop auto|uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypercorn.asyncio import serve as hypercorn_serve  # noqa: E402
from quart import Quart, websocket  # noqa: E402

from mockserver.app import create_app  # noqa: E402
from mockserver.config import ServerConfig  # noqa: E402
from mockserver.loops import LOOPS, LoopError, loop_factory, loop_name  # noqa: E402
from mockserver.run import hypercorn_config, tune_runtime  # noqa: E402
from mockserver.startup import bind  # noqa: E402
from streamctl.core.protocols import get  # noqa: E402
from streamctl.core.protocols.exchange import Accepted, HttpRequest, Settings  # noqa: E402
from streamctl.core.protocols.protocol import SSEProtocol, WSProtocol  # noqa: E402
from streamctl.core.script import Script, Token  # noqa: E402

HOST = "127.0.0.1"
SSE_PATH = "/api/chat/stream?message=benchmark&scenario=bench"
PACED_PATH = "/api/chat/stream?message=benchmark&scenario=paced"
WS_PATH = "/chat/ws?scenario=bench"
WS_MESSAGE = json.dumps({"message": "benchmark", "timestamp": "2026-01-01T00:00:00.000Z"})
TIMEOUT = 120.0
PACED_DELAY_MS = 100.0  # 10 tokens/s
PHASES = ("throughput", "paced", "breakdown")


# --- what every server sends ------------------------------------------------------------------


def bench_tokens(count: int) -> list[str]:
    return [f" tok{i}" for i in range(count)]


def scenarios(directory: Path, tokens: int, paced_tokens: int) -> None:
    """The scenario files the mock server loads."""
    bench = {"tokens": bench_tokens(tokens), "delay_ms": 0}
    paced = {"tokens": bench_tokens(paced_tokens), "delay_ms": PACED_DELAY_MS, "first_delay_ms": 0}
    (directory / "bench.json").write_text(json.dumps(bench))
    (directory / "paced.json").write_text(json.dumps(paced))


def rendered(tokens: int) -> dict[str, Any]:
    """The exact bytes the mock server writes for the bench scenario, rendered by the protocol
    modules themselves, for the reference apps to write."""
    script = Script(tuple(Token(t) for t in bench_tokens(tokens)))
    sse = get("sse-delta-done")
    assert isinstance(sse, SSEProtocol)
    state = sse.new_state(Settings())
    accepted = sse.accept(HttpRequest("GET", "/api/chat/stream", {"message": "b"}), state)
    assert isinstance(accepted, Accepted)
    sse_chunks = [o.payload for o in sse.render(script, accepted.turn, state)]
    ws = get("chunk-complete")
    assert isinstance(ws, WSProtocol)
    session = ws.open(ws.new_state(Settings()))
    turn = session.receive(WS_MESSAGE).turn
    assert turn is not None
    ws_messages = [o.payload for o in session.render(script, turn)]
    return {
        "sse_headers": [list(h) for h in accepted.headers],
        "sse_chunks": [c.decode() if isinstance(c, bytes) else c for c in sse_chunks],
        "ws_messages": ws_messages,
    }


# --- the servers (each in its own process) ------------------------------------------------------


def bare_sse_app(data: dict[str, Any]) -> Callable[..., Awaitable[None]]:
    headers = [(k.encode(), v.encode()) for k, v in data["sse_headers"]]
    chunks = [c.encode() for c in data["sse_chunks"]]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def bare_ws_app(data: dict[str, Any]) -> Callable[..., Awaitable[None]]:
    messages = data["ws_messages"]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            for text in messages:
                await send({"type": "websocket.send", "text": text})

    return app


def quart_ws_app(data: dict[str, Any]) -> Any:
    messages = data["ws_messages"]
    app = Quart("bench")

    @app.websocket("/chat/ws")
    async def chat() -> None:
        while True:
            await websocket.receive()
            for text in messages:
                await websocket.send(text)

    return app


class LoopLag:
    """How late a process's event loop wakes up: a task that sleeps ``tick_s`` over and over.

    Each sample is (when it woke, how late, CPU time the process used meanwhile, how much of
    that in the kernel, page faults meanwhile): a late wake-up is a stall of the whole process,
    busy (a long callback, a garbage collection, the kernel's work on its sockets or memory:
    CPU time about the stall's length) or not run by the OS (little CPU time). Timestamps are
    ``time.perf_counter()``, the system-wide monotonic clock on Linux, so the server's stalls
    and the load generator's can be set against the moment a token arrived. Garbage
    collections are noted too, as (start, end, generation).
    """

    def __init__(self, tick_s: float = 0.005) -> None:
        self.tick_s = tick_s
        self.samples: list[tuple[float, float, float, float, int]] = []
        self.collections: list[tuple[float, float, int]] = []
        self._collecting = 0.0

    async def run(self) -> None:
        gc.callbacks.append(self._on_gc)
        try:
            while True:
                before, used = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
                await asyncio.sleep(self.tick_s)
                now, spent = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
                late = now - before - self.tick_s
                kernel = spent.ru_stime - used.ru_stime
                cpu = spent.ru_utime - used.ru_utime + kernel
                self.samples.append((now, late, cpu, kernel, spent.ru_minflt - used.ru_minflt))
        finally:
            gc.callbacks.remove(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._collecting = time.perf_counter()
        else:
            self.collections.append((self._collecting, time.perf_counter(), info["generation"]))

    def stalls(self, over_s: float) -> list[tuple[float, float, float, float, int]]:
        """(start, end, CPU seconds, of them in the kernel, page faults) of every wake-up later
        than ``over_s``."""
        return [
            (at - late - self.tick_s, at, cpu, kernel, faults)
            for at, late, cpu, kernel, faults in self.samples
            if late > over_s
        ]

    def dump(self) -> str:
        return json.dumps({"samples": self.samples, "collections": self.collections})

    @classmethod
    def load(cls, text: str) -> LoopLag:
        data = json.loads(text)
        lag = cls()
        lag.samples = [(a, b, c, k, int(f)) for a, b, c, k, f in data["samples"]]
        lag.collections = [(a, b, g) for a, b, g in data["collections"]]
        return lag


def serve(kind: str, directory: Path, loop: str) -> None:
    """Run one server on a ``loop`` event loop until stdin closes; print its port first."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    config = ServerConfig(port=0, scenario_dirs=(directory / "scenarios",), loop=loop)
    sock = bind(HOST, 0)
    print(sock.getsockname()[1], flush=True)
    if kind == "mock":
        app: Any = create_app(config)
        tune_runtime()  # as `streamctl serve` runs it
    else:
        data = json.loads((directory / "rendered.json").read_text())
        app = {"bare-sse": bare_sse_app, "bare-ws": bare_ws_app, "quart-ws": quart_ws_app}[kind](
            data
        )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_reader(sys.stdin.fileno(), stop.set)  # the parent closes our stdin to stop us
        hyper = hypercorn_config(config, sock)
        hyper.loglevel = "WARNING"  # no "Running on" lines in the report
        lag = LoopLag()
        watching = asyncio.create_task(lag.run())
        try:
            await hypercorn_serve(app, hyper, shutdown_trigger=stop.wait)
        finally:
            watching.cancel()
            (directory / f"lag-{os.getpid()}.json").write_text(lag.dump())

    with asyncio.Runner(loop_factory=loop_factory(loop)) as runner:  # as `streamctl serve`
        runner.run(main())


@dataclass
class Server:
    kind: str
    process: subprocess.Popen[bytes]
    port: int
    lag_file: Path

    def lag(self) -> LoopLag:
        """The server's loop lag samples (once it has stopped)."""
        return LoopLag.load(self.lag_file.read_text())

    def rss_mb(self) -> tuple[float, float]:
        """Current and peak resident memory of the server process, in MB."""
        fields = {}
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = value
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024

    def cpu_s(self) -> float:
        """CPU seconds the server process has used."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


#: For the throughput runs, with two or more CPUs, the servers run on the last one and the load
#: generator on the others: otherwise the scheduler moves them over each other's core, and a
#: server's figures change by 15 % from one run to the next. The paced phase is not pinned: its
#: 1,000 clients time every token, and on one core of their own they would be what is late.
#: ``--no-pin`` turns pinning off.
PIN = {"server": set[int](), "client": set[int](), "all": set[int]()}
#: The event loop every server runs on (``--loop``; the load generator keeps asyncio's).
SERVER_LOOP = ["auto"]


def plan_pinning(enabled: bool) -> str:
    """Decide how the throughput runs split the CPUs; how, for the report."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not enabled or len(cpus) < 2:
        return "not pinned"
    PIN["server"], PIN["client"], PIN["all"] = {cpus[-1]}, set(cpus[:-1]), set(cpus)
    clients = ",".join(map(str, cpus[:-1]))
    return f"throughput: servers on CPU {cpus[-1]}, load generator on CPU {clients}"


@contextlib.contextmanager
def pinned() -> Iterator[None]:
    """This process on the load generator's CPUs, and servers started meanwhile on theirs."""
    if not PIN["all"]:
        yield
        return
    os.sched_setaffinity(0, PIN["client"])
    try:
        yield
    finally:
        os.sched_setaffinity(0, PIN["all"])


def start(kind: str, directory: Path) -> Server:
    command = [sys.executable, __file__, "--serve", kind, "--dir", str(directory)]
    command += ["--loop", SERVER_LOOP[0]]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if PIN["all"] and os.sched_getaffinity(0) == PIN["client"]:
        os.sched_setaffinity(process.pid, PIN["server"])
    elif PIN["all"]:
        os.sched_setaffinity(process.pid, PIN["all"])
    assert process.stdout is not None
    port = int(process.stdout.readline())
    return Server(kind, process, port, directory / f"lag-{process.pid}.json")


# --- minimal clients ----------------------------------------------------------------------------


async def read_chunked(reader: asyncio.StreamReader, on_chunk: Callable[[bytes], None]) -> None:
    """Read one chunked HTTP response (head, then every chunk to the last)."""
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"unexpected response: {head[:80]!r}")
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return
        on_chunk((await reader.readexactly(size + 2))[:-2])


def get_request(path: str, port: int) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )


async def sse_client(port: int, path: str, rounds: int) -> int:
    """``rounds`` requests on one keep-alive connection; the events received."""
    reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
    events = 0

    def count(chunk: bytes) -> None:
        nonlocal events
        events += chunk.count(b"data:")

    try:
        for _ in range(rounds):
            writer.write(get_request(path, port))
            await read_chunked(reader, count)
    finally:
        writer.close()
    return events


def masked_text(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


async def ws_client(port: int, path: str, rounds: int, per_reply: int) -> int:
    """``rounds`` messages on one connection, each answered by ``per_reply`` messages."""
    reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 20)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"upgrade refused: {head[:80]!r}")
    frame = masked_text(WS_MESSAGE)
    received = 0
    try:
        for _ in range(rounds):
            writer.write(frame)
            for _ in range(per_reply):
                first, second = await reader.readexactly(2)
                size = second & 0x7F
                if size == 126:
                    size = int.from_bytes(await reader.readexactly(2), "big")
                elif size == 127:
                    size = int.from_bytes(await reader.readexactly(8), "big")
                await reader.readexactly(size)
                if first & 0x0F != 0x1:
                    raise RuntimeError(f"unexpected frame opcode {first & 0x0F}")
                received += 1
        writer.write(bytes([0x88, 0x82]) + b"\x00\x00\x00\x00" + (1000).to_bytes(2, "big"))
        await writer.drain()
    finally:
        writer.close()
    return received


@dataclass
class Paced:
    """One paced stream: when it started and ended, each token's arrival and lateness (s)."""

    start: float
    end: float
    arrivals: list[float]
    lateness: list[float]


class _Timestamps(asyncio.Protocol):
    """The lightest possible client: when each token arrived (each is its own chunk)."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.arrivals.extend(now for _ in range(data.count(b'"delta"')))
        # The body ends with the last chunk: CRLF "0" CRLF CRLF (maybe in its own segment).
        self.tail = (self.tail + data)[-7:]
        if self.tail == b"\r\n0\r\n\r\n" and not self.ended.done():
            self.ended.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ended.done():
            self.ended.set_result(None)


async def paced_client(port: int, tokens: int, wait: float = 0.0) -> Paced:
    """One paced stream, opened after ``wait`` seconds; a token's lateness is measured against
    the first token's arrival plus the scripted 100 ms per token."""
    await asyncio.sleep(wait)
    start = time.perf_counter()
    loop = asyncio.get_running_loop()
    transport, stream = await loop.create_connection(_Timestamps, HOST, port)
    try:
        transport.write(get_request(PACED_PATH, port))
        await asyncio.wait_for(stream.ended, TIMEOUT)
    finally:
        transport.close()
    arrivals = stream.arrivals
    if len(arrivals) != tokens:
        raise RuntimeError(f"a paced stream ended after {len(arrivals)} of {tokens} tokens")
    delay = PACED_DELAY_MS / 1000
    late = [max(0.0, t - arrivals[0] - i * delay) for i, t in enumerate(arrivals)]
    return Paced(start, time.perf_counter(), arrivals, late)


def _spread(seconds: list[float]) -> str:
    p50, p99, top = pct(seconds, 0.5) * 1000, pct(seconds, 0.99) * 1000, max(seconds) * 1000
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms"


def most_at_once(streams: list[Paced]) -> int:
    """The largest number of streams open at the same moment."""
    edges = sorted([(s.start, 1) for s in streams] + [(s.end, -1) for s in streams])
    best = open_now = 0
    for _, step in edges:
        open_now += step
        best = max(best, open_now)
    return best


async def first_event_times(port: int, count: int) -> list[float]:
    """Time from sending a request to its first event, ``count`` times in a row."""
    reader, writer = await asyncio.open_connection(HOST, port)
    times: list[float] = []
    try:
        for _ in range(count):
            first: list[float] = []
            start = time.perf_counter()
            writer.write(get_request(SSE_PATH, port))

            def note(chunk: bytes, first: list[float] = first, start: float = start) -> None:
                if not first and b"data:" in chunk:
                    first.append(time.perf_counter() - start)

            await read_chunked(reader, note)
            times.append(first[0])
    finally:
        writer.close()
    return times


# --- the run --------------------------------------------------------------------------------

Row = tuple[str, str, str, str]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Load:
    """CPU time of the whole machine versus this benchmark's own processes, over a phase."""

    def __init__(self, servers: list[Server]) -> None:
        self.pids = [os.getpid(), *(s.process.pid for s in servers)]
        self.start = self._sample()

    def _sample(self) -> tuple[float, float]:
        ticks = os.sysconf("SC_CLK_TCK")
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        busy = sum(values) - values[3] - values[4]
        ours = 0
        for pid in self.pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ours += int(fields[11]) + int(fields[12])  # utime, stime
        return busy / ticks, ours / ticks

    def others(self, seconds: float) -> float:
        """The share of the machine (all CPUs) other processes used meanwhile."""
        busy, ours = self._sample()
        cpus = os.cpu_count() or 1
        other = (busy - self.start[0]) - (ours - self.start[1])
        return max(0.0, other) / (seconds * cpus)


@dataclass
class Rate:
    """One server's runs: messages per second, and its CPU per message (us), run by run."""

    runs: list[tuple[float, float]]

    @property
    def per_second(self) -> float:
        return statistics.median(r for r, _ in self.runs)

    @property
    def cpu_us(self) -> float:
        return statistics.median(c for _, c in self.runs)

    def versus(self, base: Rate) -> tuple[float, float, list[float]]:
        """Rate and CPU ratios to ``base``: the medians of the ratios of runs made side by side
        (the machine's speed drifts over seconds, so a run is compared with its neighbour, not
        with the other server's median), and every run's rate ratio."""
        pairs = list(zip(self.runs, base.runs, strict=True))
        rates = [mine[0] / theirs[0] for mine, theirs in pairs]
        cpu = statistics.median(theirs[1] / mine[1] for mine, theirs in pairs)
        return statistics.median(rates), cpu, rates


async def rates(
    servers: list[Server], run: Callable[[int], Awaitable[int]], repeats: int
) -> tuple[dict[str, Rate], float]:
    """Each server's runs, ``repeats`` rounds interleaved, and others' share of the CPU.

    The order alternates (A B, B A, ...) so that a drift of the machine's speed during a round
    favours neither server.
    """
    seen: dict[str, list[tuple[float, float]]] = {s.kind: [] for s in servers}
    load = Load(servers)
    started = time.perf_counter()
    for round_ in range(repeats):
        for server in servers if round_ % 2 == 0 else servers[::-1]:
            cpu, begin = server.cpu_s(), time.perf_counter()
            count = await asyncio.wait_for(run(server.port), TIMEOUT)
            elapsed = time.perf_counter() - begin
            seen[server.kind].append((count / elapsed, (server.cpu_s() - cpu) / count * 1e6))
    other = load.others(time.perf_counter() - started)
    return {kind: Rate(runs) for kind, runs in seen.items()}, other


async def at_once(
    servers: list[Server], run: Callable[[int], Awaitable[int]], repeats: int
) -> list[float]:
    """The bare server's CPU per message over the mock's, both loaded at the same moments.

    Both servers share one CPU and one load generator, so whatever the machine does meanwhile
    (its speed swings by up to 20 % from one run to the next here) happens to both: the ratio
    of their CPU costs is steadier than the ratio of runs made one after the other.
    """
    bare, mock = servers
    ratios = []
    for _ in range(repeats):
        before = bare.cpu_s(), mock.cpu_s()
        counts = await asyncio.wait_for(asyncio.gather(run(bare.port), run(mock.port)), TIMEOUT)
        bare_cost = (bare.cpu_s() - before[0]) / counts[0]
        mock_cost = (mock.cpu_s() - before[1]) / counts[1]
        ratios.append(bare_cost / mock_cost)
    return ratios


def together_row(unit: str, ratios: list[float]) -> Row:
    result = f"{statistics.median(ratios):.2f}x (runs {min(ratios):.2f}-{max(ratios):.2f}x)"
    return (f"  CPU per {unit}, both loaded at once", "bare's / mock's", result, "")


def rate_rows(name: str, unit: str, rates: dict[str, Rate], bare: str, target: str) -> list[Row]:
    """One row per server: rate, CPU per message, and both ratios to the bare app."""
    rows: list[Row] = []
    base = rates[bare]
    for kind, rate in rates.items():
        label = {"mock": "mock", "quart-ws": "plain Quart route (ref.)"}.get(kind, "bare ASGI")
        result = f"{rate.per_second:,.0f} {unit}/s; server CPU {rate.cpu_us:.1f} us/{unit[:-1]}"
        ratio = ""
        if kind != bare:
            per_second, cpu, runs = rate.versus(base)
            ratio = f"{per_second:.2f}x ({cpu:.2f}x CPU; runs {min(runs):.2f}-{max(runs):.2f}x)"
        rows.append((f"{name}, {label}", result, ratio, target if kind == "mock" else ""))
    return rows


async def throughput_rows(args: argparse.Namespace, directory: Path) -> list[Row]:
    per_reply = args.tokens + 1
    expected = args.clients * args.rounds * per_reply

    async def sse_run(port: int) -> int:
        jobs = [sse_client(port, SSE_PATH, args.rounds) for _ in range(args.clients)]
        events = sum(await asyncio.gather(*jobs))
        assert events == expected, events
        return events

    async def ws_run(port: int) -> int:
        jobs = [ws_client(port, WS_PATH, args.rounds, per_reply) for _ in range(args.clients)]
        messages = sum(await asyncio.gather(*jobs))
        assert messages == expected, messages
        return messages

    rows: list[Row] = []
    servers = [start("bare-sse", directory), start("mock", directory)]
    try:
        for server in servers:
            await sse_client(server.port, SSE_PATH, 1)  # warm up
        sse, other = await rates(servers, sse_run, args.repeats)
        sse_together = await at_once(servers, sse_run, args.repeats)
    finally:
        for server in servers:
            server.stop()
    rows += rate_rows("SSE delta/done", "events", sse, "bare-sse", ">= 0.9x")
    rows.append(together_row("event", sse_together))
    rows.append(("  other processes' CPU meanwhile", f"{other:.0%} of the machine", "", ""))

    servers = [start(k, directory) for k in ("bare-ws", "mock", "quart-ws")]
    try:
        for server in servers:
            await ws_client(server.port, WS_PATH, 1, per_reply)
        ws, other = await rates(servers, ws_run, args.repeats)
        ws_together = await at_once(servers[:2], ws_run, args.repeats)
    finally:
        for server in servers:
            server.stop()
    rows += rate_rows("WS chunk/complete", "msgs", ws, "bare-ws", ">= 0.8x")
    rows.append(together_row("msg", ws_together))
    rows.append(("  other processes' CPU meanwhile", f"{other:.0%} of the machine", "", ""))
    return rows


async def paced_rows(args: argparse.Namespace, directory: Path) -> list[Row]:
    rows: list[Row] = []
    server = start("mock", directory)
    try:
        idle = server.rss_mb()[0]
        cpu = server.cpu_s()
        load = Load([server])
        started = time.perf_counter()
        ramp = args.paced_ramp
        jobs = [
            paced_client(server.port, args.paced_tokens, ramp * i / args.paced)
            for i in range(args.paced)
        ]
        client_lag = LoopLag()
        watching = asyncio.create_task(client_lag.run())
        gc.disable()  # the measuring clients must not pause to collect garbage
        try:
            results = await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), TIMEOUT)
        finally:
            gc.enable()
            watching.cancel()
        wall = time.perf_counter() - started
        other = load.others(wall)
        cpu = server.cpu_s() - cpu
        rss, peak = server.rss_mb()
        failures = [r for r in results if isinstance(r, BaseException)]
        streams = [r for r in results if isinstance(r, Paced)]
        title = f"{args.paced} paced streams x {args.paced_tokens} tokens"
        summary = (
            f"{len(streams)}/{args.paced} complete in {wall:.1f} s "
            f"(opened over {ramp:g} s; {most_at_once(streams)} at once)"
        )
        rows.append((title, summary, "", "all complete"))
        busy = f"{cpu / wall:.0%} of a core; {cpu / (args.paced * args.paced_tokens) * 1e6:.0f} us"
        rows.append(("  server CPU (per token, set-up included)", busy, "", ""))
        rows += lateness_rows(streams)
        memory = f"RSS {rss:.0f} MB (peak {peak:.0f}, idle {idle:.0f})"
        rows.append(("  server memory", memory, "", "<= 120 MB"))
        rows.append(("  other processes' CPU meanwhile", f"{other:.0%} of the machine", "", ""))
        if failures:
            rows.append(("  first failure", repr(failures[0])[:60], "", ""))
        times = await first_event_times(server.port, args.ttfe)
        p50 = statistics.median(times) * 1000
        ttfe = f"p50 {p50:.2f} ms, p90 {pct(times, 0.9) * 1000:.2f} ms"
    finally:
        server.stop()
    rows += stall_rows(streams, started, started + wall, server.lag(), client_lag)
    rows.append(("Time to first event, 1 client", ttfe, "", "p50 <= 5 ms"))
    return rows


def lateness_rows(streams: list[Paced]) -> list[Row]:
    """When the first token came, and how late the others were: over every token, and only
    while every stream was open (the steady state, without set-up and teardown)."""
    if not streams:
        return []
    first = [s.arrivals[0] - s.start for s in streams]
    rows = [("  first token after connecting", _spread(first), "", "")]
    lateness = [x for r in streams for x in r.lateness[1:]]
    if lateness:
        rows.append(("  token lateness, every token", _spread(lateness), "", "p99 <= 50 ms"))
    since = max(s.start for s in streams)
    until = min(s.end for s in streams)
    steady = [
        late
        for s in streams
        for at, late in zip(s.arrivals[1:], s.lateness[1:], strict=True)
        if since <= at <= until
    ]
    if steady:
        window = f"{until - since:.1f} s with all {len(streams)} open"
        rows.append((f"  token lateness, {window}", _spread(steady), "", "p99 <= 50 ms"))
    return rows


def stall_rows(
    streams: list[Paced], since: float, until: float, server: LoopLag, client: LoopLag
) -> list[Row]:
    """Which process stalled while tokens were late. A stall is a loop wake-up more than
    10 ms late: "busy" when the process used CPU for most of it, "not run" otherwise; and
    how much of it went to garbage collection. Each token more than 20 ms late is put down to
    a stall of the server or the load generator that it arrived during or within 5 ms after
    (the server's first), or to neither (the network, the OS)."""
    over = 0.01
    rows: list[Row] = []
    for name, lag in (("server", server), ("load generator", client)):
        stalls = [s for s in lag.stalls(over) if since <= s[1] <= until]
        busy = sum(1 for a, b, cpu, _, _ in stalls if cpu > (b - a) / 2)
        worst = max(stalls, key=lambda stall: stall[1] - stall[0], default=None)
        collected = [(a, b) for a, b, _ in lag.collections if since <= b <= until]
        in_gc = sum(
            1
            for a, b, *_ in stalls
            if any(ga < b and gb > a and gb - ga > over for ga, gb in collected)
        )
        result = (
            f"{len(stalls)} over {over * 1000:.0f} ms ({busy} busy, {len(stalls) - busy} not run; "
            f"{in_gc} with a collection over {over * 1000:.0f} ms)"
        )
        if worst is not None:
            start, end, cpu, kernel, faults = worst
            result += (
                f", longest {(end - start) * 1000:.0f} ms (CPU {cpu * 1000:.0f} ms, "
                f"{kernel * 1000:.0f} in the kernel; {faults} page faults)"
            )
        rows.append((f"  {name} loop stalls during the streams", result, "", ""))
    if server.collections:
        pauses = sorted(b - a for a, b, _ in server.collections if since <= b <= until)
        if pauses:
            gens = sorted({g for a, b, g in server.collections if since <= b <= until})
            result = (
                f"{len(pauses)} (generations {', '.join(map(str, gens))}), "
                f"longest {pauses[-1] * 1000:.1f} ms"
            )
            rows.append(("  server garbage collections", result, "", ""))
    windows = {"server": server.stalls(over), "load generator": client.stalls(over)}
    blamed = dict.fromkeys([*windows, "neither"], 0)
    late_tokens = [
        at for s in streams for at, late in zip(s.arrivals, s.lateness, strict=True) if late > 0.02
    ]
    for at in late_tokens:
        culprit = next(
            (who for who, spans in windows.items() for a, b, *_ in spans if a <= at <= b + 0.005),
            "neither",
        )
        blamed[culprit] += 1
    if late_tokens:
        split = ", ".join(f"{who} {count}" for who, count in blamed.items())
        label = f"  {len(late_tokens)} tokens over 20 ms late, in a stall of"
        rows.append((label, split, "", ""))
    return rows


def breakdown_rows(args: argparse.Namespace, directory: Path) -> list[Row]:
    """Where the CPU time goes, in this process, without any I/O: per event, the protocol's
    rendering, the whole mock route (rendering included), and the bare reference app."""
    data = rendered(args.tokens)
    app = create_app(ServerConfig(scenario_dirs=(directory / "scenarios",), watch=False))
    script = Script(tuple(Token(t) for t in bench_tokens(args.tokens)))
    sse, ws = get("sse-delta-done"), get("chunk-complete")
    assert isinstance(sse, SSEProtocol)
    assert isinstance(ws, WSProtocol)
    state = sse.new_state(Settings())
    turn = sse.accept(HttpRequest("GET", "/", {"message": "b"}), state).turn  # type: ignore[union-attr]
    session = ws.open(ws.new_state(Settings()))
    ws_turn = session.receive(WS_MESSAGE).turn
    assert ws_turn is not None
    rounds = 300
    per: int = args.tokens + 1

    def timed(work: Callable[[], Any]) -> float:
        begin = time.process_time()
        for _ in range(rounds):
            work()
        return (time.process_time() - begin) / rounds / per * 1e6

    render_sse = timed(lambda: sse.render(script, turn, state))
    render_ws = timed(lambda: session.render(script, ws_turn))
    mock_sse = asyncio.run(_app_cost(app, _SSE_SCOPE, rounds, per))
    bare_sse = asyncio.run(_app_cost(bare_sse_app(data), _SSE_SCOPE, rounds, per))
    mock_ws = asyncio.run(_app_cost(app, _WS_SCOPE, rounds, per))
    bare_ws = asyncio.run(_app_cost(bare_ws_app(data), _WS_SCOPE, rounds, per))
    return [
        ("CPU per event, no I/O: SSE render", f"{render_sse:.1f} us (protocol core)", "", ""),
        (
            "  SSE mock route (scenario rendered once)",
            f"{mock_sse:.1f} us",
            f"bare {bare_sse:.1f} us",
            "",
        ),
        ("CPU per message, no I/O: WS render", f"{render_ws:.1f} us (protocol core)", "", ""),
        ("  WS mock route, render included", f"{mock_ws:.1f} us", f"bare {bare_ws:.1f} us", ""),
    ]


_SSE_SCOPE = {
    "type": "http",
    "method": "GET",
    "path": "/api/chat/stream",
    "query_string": SSE_PATH.partition("?")[2].encode(),
    "headers": [(b"host", b"127.0.0.1"), (b"accept", b"text/event-stream")],
}
_WS_SCOPE = {
    "type": "websocket",
    "path": "/chat/ws",
    "query_string": WS_PATH.partition("?")[2].encode(),
    "headers": [(b"host", b"127.0.0.1")],
}


async def _app_cost(app: Any, scope: dict[str, Any], rounds: int, per: int) -> float:
    """CPU microseconds per message an ASGI app spends on one reply, with no-op I/O."""
    sent = 0
    replied = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent
        sent += 1
        if sent % per == 0:
            replied.set()

    begin = time.process_time()
    for _ in range(rounds):
        inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        if scope["type"] == "http":
            inbox.put_nowait({"type": "http.request", "body": b"", "more_body": False})
            await app(scope, inbox.get, lambda m: send(m) if m.get("more_body") else _noop())
            continue
        inbox.put_nowait({"type": "websocket.connect"})
        inbox.put_nowait({"type": "websocket.receive", "text": WS_MESSAGE})
        replied.clear()
        task = asyncio.create_task(app(scope, inbox.get, _ws_send(send)))
        await replied.wait()
        inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})
        await task
    return (time.process_time() - begin) / (rounds * per) * 1e6


async def _noop() -> None:
    return None


def _ws_send(send: Callable[[dict[str, Any]], Awaitable[None]]) -> Any:
    async def on_send(message: dict[str, Any]) -> None:
        if message["type"] == "websocket.send":
            await send(message)

    return on_send


async def measure(args: argparse.Namespace, directory: Path) -> list[Row]:
    rows: list[Row] = []
    if "throughput" in args.only:
        with pinned():
            rows += await throughput_rows(args, directory)
    if "paced" in args.only:
        rows += await paced_rows(args, directory)
    return rows


def table(rows: list[tuple[str, str, str, str]]) -> str:
    header = ("measurement", "result", "vs bare", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=100)
    # 30 replies per connection make each run about 7 s: long enough that the machine's
    # second-to-second swings (up to 20 % here) average out within a run.
    parser.add_argument("--rounds", type=int, default=30, help="replies per client connection")
    parser.add_argument("--paced", type=int, default=1000)
    parser.add_argument("--paced-tokens", type=int, default=50)
    parser.add_argument(
        "--paced-ramp", type=float, default=2.0, help="seconds over which paced streams open"
    )
    parser.add_argument("--ttfe", type=int, default=300, help="requests for time to first event")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved runs per server")
    parser.add_argument("--quick", action="store_true", help="a small run that checks the script")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PHASES,
        default=list(PHASES),
        help="run only these phases",
    )
    parser.add_argument(
        "--no-pin", action="store_true", help="do not give the servers a CPU of their own"
    )
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="the servers' event loop, as `streamctl serve --loop` (default: auto)",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, Path(args.dir), args.loop)
        return 0
    try:
        SERVER_LOOP[0] = loop_name(args.loop)
    except LoopError as exc:
        parser.error(str(exc))
    if args.quick:
        args.clients, args.rounds, args.paced, args.paced_tokens, args.ttfe = 5, 1, 20, 3, 10
        args.paced_ramp = 0.1
        args.repeats = 1
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        (directory / "scenarios").mkdir()
        scenarios(directory / "scenarios", args.tokens, args.paced_tokens)
        (directory / "rendered.json").write_text(json.dumps(rendered(args.tokens)))
        pinning = plan_pinning(not args.no_pin)
        print(
            f"bench_server: {args.clients} clients x {args.rounds} replies x {args.tokens} tokens; "
            f"{args.paced} paced streams; servers on {SERVER_LOOP[0]}; "
            f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs "
            f"({pinning})",
            flush=True,
        )
        rows = asyncio.run(measure(args, directory))
        if "breakdown" in args.only:
            rows += breakdown_rows(args, directory)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
