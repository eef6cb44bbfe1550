#!/usr/bin/env python3
"""The mock as a load target (issue #21): streamctl against a bare ASGI app and aimock.

Each server runs in a process of its own pinned to one CPU (``taskset``), this process (the load
generator, raw-socket clients) on another. The servers:

* ``bare``: a framework-less ASGI app on Hypercorn (asyncio's loop) that writes the very bytes
  streamctl writes (rendered by streamctl's own protocol modules), one write per event;
* ``bare-uvicorn``: the same app on Uvicorn (httptools, websockets; uvloop), to tell the
  server stack's share from the app's;
* ``streamctl``: ``streamctl serve`` as a user runs it (sse-delta-done, chunk-complete);
* ``streamctl-uvicorn``: ``streamctl serve --server uvicorn``;
* ``aimock``: ``@copilotkit/aimock``, pinned in ``scripts/bench/aimock`` (``npm ci`` there
  first; without Node or the install it is skipped with a note), OpenAI chat completions SSE and
  the Responses WebSocket.

Every server streams the same tokens (``t0000``, ``t0001``, ...); only token events count
(aimock's extra lifecycle events are free for it). Rows:

* SSE / WS, 1 client x 1000 tokens and 100 clients x 100 tokens: tokens/s (median of repeats),
  the ratio to bare, and the server's CPU time per token (the steadier figure when other
  processes share the machine: the clock ticks at 10 ms, so short runs round it);
* SSE paced, 1000 streams x 50 tokens/s (opened over a 1 s ramp): tokens/s delivered, token
  lateness p99 (against the stream's first token plus 20 ms a token), server RSS peak;
* WS paced, the same over WebSocket: tokens/s, the most streams open at once (of 1000), time to
  first event p99 (from connecting), server KB per open stream.

A benchmark, not a test: figures depend on the machine. Usage:
    python scripts/bench_targets.py [--only bare streamctl aimock] [--repeats 3] [--quick]
        [--phases throughput sse-paced ws-paced] [--paced 1000] [--ramp 1] [--streamctl-src DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AIMOCK_DIR = ROOT / "scripts" / "bench" / "aimock"
AIMOCK_CLI = AIMOCK_DIR / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
HOST = "127.0.0.1"
TOKEN = re.compile(rb'"t\d{4}"')
PACED_MS = 20.0  # 50 tokens/s
WS_MESSAGE = json.dumps({"message": "benchmark", "timestamp": "2026-01-01T00:00:00.000Z"})
TIMEOUT = 120.0
TARGETS = ("bare", "bare-uvicorn", "streamctl", "streamctl-uvicorn", "aimock")
PHASES = ("throughput", "sse-paced", "ws-paced")


def tokens(count: int) -> list[str]:
    return [f"t{i:04d}" for i in range(count)]


#: name -> (tokens, delay between tokens in ms)
SCENARIOS = {"thousand": (1000, 0.0), "hundred": (100, 0.0), "paced": (100, PACED_MS)}


# --- the servers --------------------------------------------------------------------------------


def write_fixtures(directory: Path) -> None:
    """streamctl's scenario files, aimock's fixtures, and the bytes the bare app writes."""
    sys.path.insert(0, str(ROOT))
    from streamctl.core.protocols import get  # noqa: PLC0415
    from streamctl.core.protocols.exchange import Accepted, HttpRequest, Settings  # noqa: PLC0415
    from streamctl.core.protocols.protocol import SSEProtocol, WSProtocol  # noqa: PLC0415
    from streamctl.core.script import Script, Token  # noqa: PLC0415

    scenarios = directory / "scenarios"
    scenarios.mkdir()
    fixtures: list[dict[str, Any]] = []
    rendered: dict[str, Any] = {}
    sse, ws = get("sse-delta-done"), get("chunk-complete")
    assert isinstance(sse, SSEProtocol)
    assert isinstance(ws, WSProtocol)
    for name, (count, delay) in SCENARIOS.items():
        texts = tokens(count)
        scenario = {"tokens": texts, "delay_ms": delay, "first_delay_ms": 0}
        (scenarios / f"{name}.json").write_text(json.dumps(scenario))
        fixture: dict[str, Any] = {
            "match": {"userMessage": name},
            "response": {"content": "".join(texts)},
            "chunkSize": 5,
        }
        if delay:
            fixture["latency"] = delay
        fixtures.append(fixture)
        script = Script(tuple(Token(t) for t in texts))
        state = sse.new_state(Settings())
        accepted = sse.accept(HttpRequest("GET", "/api/chat/stream", {"message": "b"}), state)
        assert isinstance(accepted, Accepted)
        session = ws.open(ws.new_state(Settings()))
        turn = session.receive(WS_MESSAGE).turn
        assert turn is not None
        rendered[name] = {
            "delay_ms": delay,
            "sse_headers": [list(h) for h in accepted.headers],
            "sse": [_text(o.payload) for o in sse.render(script, accepted.turn, state)],
            "ws": [o.payload for o in session.render(script, turn)],
        }
    (directory / "aimock.json").write_text(json.dumps({"fixtures": fixtures}))
    (directory / "rendered.json").write_text(json.dumps(rendered))


def _text(payload: bytes | str) -> str:
    return payload if isinstance(payload, str) else payload.decode()


def bare_app(directory: Path) -> Any:
    """A framework-less ASGI app writing streamctl's bytes, paced with plain sleeps."""
    rendered = json.loads((directory / "rendered.json").read_text())

    async def pace(delay_ms: float, index: int, start: float) -> None:
        if delay_ms and index:
            loop = asyncio.get_running_loop()
            await asyncio.sleep(max(0.0, start + index * delay_ms / 1000 - loop.time()))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        name = re.search(r"scenario=(\w+)", scope["query_string"].decode())
        data = rendered[name.group(1) if name else "hundred"]
        delay = data["delay_ms"]
        if scope["type"] == "http":
            await receive()
            headers = [(k.encode(), v.encode()) for k, v in data["sse_headers"]]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            start = asyncio.get_running_loop().time()
            for i, chunk in enumerate(data["sse"]):
                await pace(delay, i, start)
                body = chunk.encode()
                await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            while (await receive())["type"] == "websocket.receive":
                start = asyncio.get_running_loop().time()
                for i, text in enumerate(data["ws"]):
                    await pace(delay, i, start)
                    await send({"type": "websocket.send", "text": text})

    return app


def serve_bare(directory: Path, port: int) -> None:
    """The bare app on Hypercorn, asyncio's loop (uvloop's with BENCH_BARE_UVLOOP=1), until
    stdin closes; on Uvicorn (uvloop, until terminated) with BENCH_BARE_SERVER=uvicorn."""
    from hypercorn.asyncio import serve  # noqa: PLC0415
    from hypercorn.config import Config  # noqa: PLC0415

    config = Config()
    config.bind = [f"{HOST}:{port}"]
    config.loglevel = "WARNING"
    config.accesslog = None
    config.backlog = 4096

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_reader(sys.stdin.fileno(), stop.set)
        await serve(bare_app(directory), config, shutdown_trigger=stop.wait)

    if os.environ.get("BENCH_BARE_SERVER") == "uvicorn":
        import uvicorn  # noqa: PLC0415

        uvicorn.run(
            bare_app(directory),
            host=HOST,
            port=port,
            log_level="warning",
            access_log=False,
            ws_ping_interval=None,
            backlog=4096,
        )
    elif os.environ.get("BENCH_BARE_UVLOOP") == "1":
        import uvloop  # noqa: PLC0415

        uvloop.run(main())
    else:
        asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Target:
    """One server to load: how to reach it and its process."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    sse: Callable[[str, int], bytes]  # (scenario, port) -> the request
    ws_path: Callable[[str], str]
    ws_message: Callable[[str], str]

    def rss_kb(self, peak: bool = False) -> int:
        key = "VmHWM:" if peak else "VmRSS:"
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
        return 0

    def cpu_s(self) -> float:
        """CPU seconds the server process has used (steadier than rates on a busy machine)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _get(path: str) -> Callable[[str, int], bytes]:
    def request(scenario: str, port: int) -> bytes:
        return (
            f"GET {path}&scenario={scenario} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            "Accept: text/event-stream\r\n\r\n"
        ).encode()

    return request


def _openai(scenario: str, port: int) -> bytes:
    body = json.dumps(
        {"model": "gpt-4o", "stream": True, "messages": [{"role": "user", "content": scenario}]}
    ).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _response_create(scenario: str) -> str:
    message = {"role": "user", "content": scenario}
    return json.dumps({"type": "response.create", "model": "gpt-4o", "input": [message]})


def start(
    name: str, directory: Path, cpu: int | None, source: Path = ROOT, extra: str = ""
) -> Target:
    """Start ``name`` on ``cpu``; streamctl from ``source`` (another checkout, to compare) with
    ``extra`` options (``--loop asyncio``, say)."""
    port = free_port()
    pin = ["taskset", "-c", str(cpu)] if cpu is not None else []
    env: dict[str, str] | None = None
    if name.startswith("bare"):
        command = [sys.executable, __file__, "--serve-bare", str(directory), "--port", str(port)]
        server = "uvicorn" if name == "bare-uvicorn" else "hypercorn"
        env = {**os.environ, "BENCH_BARE_SERVER": server}
    elif name.startswith("streamctl"):
        streamctl = [sys.executable, "-m", "streamctl"]
        command = [*streamctl, "serve", "--port", str(port), "--no-bundled", "-q", "--no-watch"]
        command += ["--scenarios", str(directory / "scenarios"), *shlex.split(extra)]
        if name == "streamctl-uvicorn":
            command += ["--server", "uvicorn"]
        env = {**os.environ, "PYTHONPATH": str(source)}
    else:
        command = ["node", str(AIMOCK_CLI), "-p", str(port), "-h", HOST, "--log-level", "silent"]
        command += ["-f", str(directory / "aimock.json"), "--journal-max", "1000"]
    with (directory / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            [*pin, *command], stdin=subprocess.PIPE, stdout=log, stderr=log, cwd=source, env=env
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), 0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError(f"{name} did not start")
    if name == "aimock":
        return Target(name, process, port, _openai, lambda _: "/v1/responses", _response_create)
    return Target(
        name,
        process,
        port,
        _get("/api/chat/stream?message=benchmark"),
        lambda scenario: f"/chat/ws?scenario={scenario}",
        lambda _: WS_MESSAGE,
    )


# --- clients ------------------------------------------------------------------------------------


class Chunked:
    """Reads chunked HTTP responses off a byte stream: token arrivals, and when one ended."""

    def __init__(self) -> None:
        self.buffer = b""
        self.head = True
        self.size = -1
        self.arrivals: list[float] = []
        self.ends = 0

    def feed(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        while True:
            if self.head:
                at = self.buffer.find(b"\r\n\r\n")
                if at < 0:
                    return
                if b" 200 " not in self.buffer[:16]:
                    raise RuntimeError(f"unexpected response: {self.buffer[:80]!r}")
                self.buffer, self.head = self.buffer[at + 4 :], False
            at = self.buffer.find(b"\r\n")
            if at < 0:
                return
            size = int(self.buffer[:at].split(b";")[0], 16)
            if len(self.buffer) < at + 2 + size + 2:
                return
            chunk = self.buffer[at + 2 : at + 2 + size]
            self.buffer = self.buffer[at + 2 + size + 2 :]
            if size == 0:
                self.ends += 1
                self.head = True
                continue
            self.arrivals.extend(now for _ in TOKEN.finditer(chunk))


class Frames:
    """Reads server WebSocket frames: the 101, then token arrivals and replies ended."""

    def __init__(self) -> None:
        self.buffer = b""
        self.upgraded = False
        self.arrivals: list[float] = []
        self.ends = 0

    def feed(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buffer += data
        if not self.upgraded:
            at = self.buffer.find(b"\r\n\r\n")
            if at < 0:
                return
            if b" 101 " not in self.buffer[:16]:
                raise RuntimeError(f"upgrade refused: {self.buffer[:80]!r}")
            self.buffer, self.upgraded = self.buffer[at + 4 :], True
        while len(self.buffer) >= 2:
            size, start = self.buffer[1] & 0x7F, 2
            if size == 126:
                size, start = int.from_bytes(self.buffer[2:4], "big"), 4
            elif size == 127:
                size, start = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < start + size:
                return
            payload = self.buffer[start : start + size]
            self.buffer = self.buffer[start + size :]
            self.arrivals.extend(now for _ in TOKEN.finditer(payload))
            if b'"type":"complete"' in payload or b'"type":"response.completed"' in payload:
                self.ends += 1


def upgrade(port: int, path: str) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def masked(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if len(payload) < 126:
        return bytes([0x81, 0x80 | len(payload)]) + mask + body
    return bytes([0x81, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + body


class Client(asyncio.Protocol):
    """One connection; ``parser`` reads what arrives, ``changed`` wakes whoever waits."""

    def __init__(self, parser: Chunked | Frames) -> None:
        self.parser = parser
        self.changed = asyncio.Event()
        self.lost = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        self.changed.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.changed.set()

    async def until(self, done: Callable[[], bool]) -> None:
        while not done():
            if self.lost:
                raise RuntimeError("the server closed the connection")
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), TIMEOUT)


async def connect(parser: Chunked | Frames, port: int) -> Client:
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(lambda: Client(parser), HOST, port)
    return client


async def sse_rounds(target: Target, scenario: str, rounds: int) -> int:
    parser = Chunked()
    client = await connect(parser, target.port)
    assert client.transport is not None
    try:
        for i in range(rounds):
            client.transport.write(target.sse(scenario, target.port))
            await client.until(lambda: parser.ends > i)  # noqa: B023  (awaited at once)
    finally:
        client.transport.close()
    return len(parser.arrivals)


async def ws_rounds(target: Target, scenario: str, rounds: int) -> int:
    parser = Frames()
    client = await connect(parser, target.port)
    assert client.transport is not None
    try:
        client.transport.write(upgrade(target.port, target.ws_path(scenario)))
        await client.until(lambda: parser.upgraded)
        frame = masked(target.ws_message(scenario))
        for i in range(rounds):
            client.transport.write(frame)
            await client.until(lambda: parser.ends > i)  # noqa: B023  (awaited at once)
        client.transport.write(bytes([0x88, 0x82]) + bytes(4) + (1000).to_bytes(2, "big"))
    finally:
        client.transport.close()
    return len(parser.arrivals)


async def throughput(target: Target, ws: bool, clients: int, scenario: str, rounds: int) -> float:
    run = ws_rounds if ws else sse_rounds
    started = time.perf_counter()
    counts = await asyncio.gather(*(run(target, scenario, rounds) for _ in range(clients)))
    expected = clients * rounds * SCENARIOS[scenario][0]
    if sum(counts) != expected:
        raise RuntimeError(f"{target.name}: {sum(counts)} of {expected} tokens")
    return sum(counts) / (time.perf_counter() - started)


@dataclass
class Stream:
    start: float
    connected: float = 0.0
    opened: float = 0.0
    end: float = 0.0
    arrivals: list[float] = field(default_factory=list)


async def paced_stream(target: Target, ws: bool, wait: float) -> Stream:
    await asyncio.sleep(wait)
    stream = Stream(time.perf_counter())
    parser: Chunked | Frames = Frames() if ws else Chunked()
    client = await connect(parser, target.port)
    stream.connected = time.perf_counter()
    assert client.transport is not None
    try:
        if ws:
            assert isinstance(parser, Frames)
            client.transport.write(upgrade(target.port, target.ws_path("paced")))
            await client.until(lambda: parser.upgraded)
            stream.opened = time.perf_counter()
            client.transport.write(masked(target.ws_message("paced")))
        else:
            client.transport.write(target.sse("paced", target.port))
            stream.opened = stream.start
        await client.until(lambda: parser.ends > 0)
        stream.end = time.perf_counter()
    finally:
        client.transport.close()
    stream.arrivals = parser.arrivals
    return stream


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def most_open(streams: list[Stream]) -> int:
    edges = sorted([(s.opened, 1) for s in streams] + [(s.end, -1) for s in streams])
    best = now = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def listen_drops() -> int:
    """The kernel's count of connections dropped from full listen queues (all sockets)."""
    lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()]
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        if names[0] == "TcpExt:" and "ListenDrops" in names:
            return int(values[names.index("ListenDrops")])
    return 0


async def paced(target: Target, ws: bool, count: int, ramp: float) -> dict[str, float]:
    baseline = target.rss_kb()
    drops, cpu = listen_drops(), target.cpu_s()
    samples: list[int] = []

    async def sample() -> None:
        while True:
            samples.append(target.rss_kb())
            await asyncio.sleep(0.05)

    sampling = asyncio.create_task(sample())
    try:
        streams = await asyncio.gather(
            *(paced_stream(target, ws, ramp * i / count) for i in range(count))
        )
    finally:
        sampling.cancel()
    per = SCENARIOS["paced"][0]
    late = [
        max(0.0, t - s.arrivals[0] - i * PACED_MS / 1000)
        for s in streams
        for i, t in enumerate(s.arrivals)
    ]
    if any(len(s.arrivals) != per for s in streams):
        raise RuntimeError(f"{target.name}: a paced stream lost tokens")
    span = max(s.end for s in streams) - min(s.start for s in streams)
    most = most_open(streams)
    return {
        "events/s": count * per / span,
        "us CPU/ev": (target.cpu_s() - cpu) / (count * per) * 1e6,
        "listen drops": listen_drops() - drops,
        "connect p99 s": pct([s.connected - s.start for s in streams], 0.99),
        "upgrade p99 s": pct([s.opened - s.connected for s in streams], 0.99),
        "lateness p99 ms": pct(late, 0.99) * 1000,
        "rss peak MB": target.rss_kb(peak=True) / 1024,
        "open": most,
        "ttfe p99 s": pct([s.arrivals[0] - s.start for s in streams], 0.99),
        "KB/stream": (max(samples, default=baseline) - baseline) / max(most, 1),
    }


# --- the run ------------------------------------------------------------------------------------


def available(names: list[str]) -> tuple[list[str], list[str]]:
    notes = []
    if "aimock" in names and (shutil.which("node") is None or not AIMOCK_CLI.exists()):
        notes.append(f"aimock skipped: no Node, or run `npm ci` in {AIMOCK_DIR}")
        names = [n for n in names if n != "aimock"]
    return names, notes


async def measure(args: argparse.Namespace, directory: Path) -> None:
    names, notes = available(args.only)
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu = cpus[-1] if len(cpus) > 1 and not args.no_pin else None
    if server_cpu is not None:
        os.sched_setaffinity(0, set(cpus[:-1]))
        notes.append(f"servers on CPU {server_cpu}, load generator on CPU {cpus[:-1]}")
    quick = args.quick
    rows: dict[str, dict[str, str]] = {}
    rates: dict[str, dict[str, float]] = {}
    cpu_us: dict[str, dict[str, float]] = {}
    loads = [
        ("SSE 1x1000", False, 1, "thousand", 5 if quick else 20),
        ("SSE 100x100", False, 100, "hundred", 1 if quick else 3),
        ("WS 1x1000", True, 1, "thousand", 5 if quick else 20),
        ("WS 100x100", True, 100, "hundred", 1 if quick else 3),
    ]
    for name in names:
        target = start(name, directory, server_cpu, args.streamctl_src, args.streamctl_options)
        try:
            await throughput(target, False, 10, "hundred", 1)  # warm up
            await throughput(target, True, 10, "hundred", 1)
            for row, ws, clients, scenario, rounds in loads:
                if "throughput" not in args.phases:
                    break
                runs, costs = [], []
                for _ in range(args.repeats):
                    cpu = target.cpu_s()
                    runs.append(await throughput(target, ws, clients, scenario, rounds))
                    events = clients * rounds * SCENARIOS[scenario][0]
                    costs.append((target.cpu_s() - cpu) / events * 1e6)
                rates.setdefault(row, {})[name] = statistics.median(runs)
                cpu_us.setdefault(row, {})[name] = statistics.median(costs)
            for ws in (False, True):
                if ("ws-paced" if ws else "sse-paced") not in args.phases:
                    continue
                figures = await paced(target, ws, args.paced, args.ramp)
                kind = "WS paced" if ws else "SSE paced"
                if ws:
                    text = (
                        f"{figures['events/s'] / 1000:.1f}k ev/s, {figures['open']:.0f}/"
                        f"{args.paced} open, TTFE p99 {figures['ttfe p99 s']:.2f} s, "
                        f"{figures['KB/stream']:.0f} KB/stream, {figures['us CPU/ev']:.1f} us "
                        f"CPU/ev (connect p99 {figures['connect p99 s']:.2f} s, 101 p99 "
                        f"{figures['upgrade p99 s']:.2f} s, {figures['listen drops']:.0f} "
                        "listen drops)"
                    )
                else:
                    text = (
                        f"{figures['events/s'] / 1000:.1f}k ev/s, p99 "
                        f"{figures['lateness p99 ms']:.0f} ms, RSS peak "
                        f"{figures['rss peak MB']:.0f} MB, {figures['us CPU/ev']:.1f} us CPU/ev"
                    )
                rows.setdefault(kind, {})[name] = text
                await asyncio.sleep(1)
        finally:
            target.stop()
    for row, by_name in rates.items():
        bare = by_name.get("bare")
        rows[row] = {
            n: f"{r / 1000:.1f}k ev/s"
            + (f" ({r / bare:.2f}x bare)" if bare else "")
            + f", {cpu_us[row][n]:.1f} us CPU/ev"
            for n, r in by_name.items()
        }
    order = ["SSE 1x1000", "SSE 100x100", "SSE paced", "WS 1x1000", "WS 100x100", "WS paced"]
    print(f"| figure | {' | '.join(names)} |")
    print(f"|---|{'---|' * len(names)}")
    for row in order:
        if row in rows:
            print(f"| {row} | {' | '.join(rows[row].get(n, '-') for n in names)} |")
    for note in notes:
        print(f"note: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument("--paced", type=int, default=1000, help="paced streams")
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds to open them over")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--no-pin", action="store_true", help="do not pin servers to a CPU")
    parser.add_argument(
        "--streamctl-src",
        type=Path,
        default=ROOT,
        help="run streamctl from this checkout (say, `git archive main` unpacked) to compare",
    )
    parser.add_argument(
        "--streamctl-options", default="", help="more `streamctl serve` options, in one string"
    )
    parser.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.serve_bare is not None:
        serve_bare(args.serve_bare, args.port)
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-targets-") as tmp:
        write_fixtures(Path(tmp))
        asyncio.run(measure(args, Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
