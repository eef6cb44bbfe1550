"""The server's request log never stops the server, whoever reads (or does not read) stderr.

The hang of issue 16: ``streamctl serve`` started with ``stderr=PIPE`` by a parent that reads
it only at the end (this project's own tests do) filled the pipe with its request log after
some 600 requests; the next log write blocked the event loop, and every stream, every new
connection and the health check with it. ``mockserver/logwriter.py`` writes from a thread.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from mockserver.logwriter import RESERVE, LineHandler, LineWriter, _pipe_room, _write_fd
from tests.test_server_run import read_until

ROOT = Path(__file__).resolve().parent.parent
#: Generous: a request that needs more than this on a loaded machine has hung.
PATIENCE_S = 60.0
#: Each 404 logs its path: 600 of these are ~2.4 MB of log, 40 pipes' worth.
LONG_PATH = "/nowhere/" + "x" * 4000
SLOW_WS = "/chat/ws?scenario=slow"
SLOW_SSE = "/api/chat/stream?message=hi&scenario=slow"


def _abort(sock: socket.socket) -> None:
    """Close with a reset, as a killed client leaves."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _active(client: httpx.Client) -> int:
    health = client.get("/_streamctl/health", timeout=PATIENCE_S)
    assert health.status_code == 200
    return int(health.json()["active"])


def test_a_server_whose_stderr_nobody_reads_keeps_serving_and_stops(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "streamctl", "serve", "--port", "0", "--no-watch"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    assert process.stderr is not None
    try:
        head = read_until(process.stderr.fileno(), b"/_streamctl\n").decode()
        base = head.split("mock server on ")[1].split()[0]
        # From here on nobody reads the server's stderr until it has stopped.
        with httpx.Client(base_url=base, timeout=PATIENCE_S) as client:
            for _ in range(600):
                assert client.get(LONG_PATH).status_code == 404
            for _ in range(20):  # streams whose clients leave after the first chunk
                with client.stream("GET", SLOW_SSE) as response:
                    assert response.status_code == 200
                    next(response.iter_raw())
            for _ in range(5):  # WebSocket clients that vanish mid-reply
                url = base.replace("http", "ws") + SLOW_WS
                with connect(url, open_timeout=PATIENCE_S) as ws:
                    ws.send(json.dumps({"message": "hi", "timestamp": "2026-01-01T00:00Z"}))
                    ws.recv(timeout=PATIENCE_S)
                    _abort(ws.socket)
            deadline = time.monotonic() + PATIENCE_S
            while _active(client) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _active(client) == 0  # every stream and connection was let go
            reply = client.get("/api/chat/stream", params={"message": "still there?"})
            assert reply.status_code == 200
            assert reply.text.endswith('data: {"done": true}\r\n\r\n')
    finally:
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=PATIENCE_S)
    assert process.returncode == 0
    text = rest.decode()
    assert "log lines dropped (stderr was not being read)" in text
    assert "stopped" in text
    assert "Traceback" not in text


class _Blocked:
    """A stream whose writes wait until :attr:`open` is set."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.text = ""

    def write(self, text: str) -> int:
        assert self.open.wait(PATIENCE_S)
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


def test_lines_are_queued_up_to_the_limit_then_counted_and_written_in_order() -> None:
    stream = _Blocked()
    writer = LineWriter(lambda: stream, limit=100)  # type: ignore[arg-type,return-value]
    for i in range(30):
        writer(f"line {i}")  # never waits for the stream
    assert writer.dropped_total > 0
    assert not writer.flush(timeout=0.01)  # the stream still holds the first line back
    stream.open.set()
    assert writer.flush(timeout=PATIENCE_S)
    lines = stream.text.splitlines()
    kept = [line for line in lines if line.startswith("line ")]
    assert kept == [f"line {i}" for i in range(len(kept))]
    assert lines[-1].endswith("log lines dropped (stderr was not being read)")
    assert len(kept) + writer.dropped_total == 30
    writer("after")
    assert writer.flush(timeout=PATIENCE_S)
    assert stream.text.endswith("after\n")


def test_a_write_to_a_closed_stream_is_given_up_not_raised() -> None:
    class Closed:
        def write(self, text: str) -> Any:
            raise ValueError("I/O operation on closed file")

    writer = LineWriter(Closed)  # type: ignore[arg-type,return-value]
    writer("lost")
    assert writer.flush(timeout=PATIENCE_S)


def test_the_log_leaves_room_in_a_pipe_for_everyone_else(tmp_path: Path) -> None:
    read, write = os.pipe()
    try:
        capacity = _pipe_room(write)
        assert capacity is not None
        assert capacity > 0
        line = b"x" * 99 + b"\n"
        done = threading.Event()
        data = line * ((capacity + RESERVE) // len(line) + 50)  # more than the pipe holds
        writing = threading.Thread(target=lambda: (_write_fd(write, data), done.set()))
        writing.start()
        deadline = time.monotonic() + PATIENCE_S
        while (_pipe_room(write) or 0) >= len(line) and time.monotonic() < deadline:
            time.sleep(0.01)
        room = _pipe_room(write)
        assert room is not None
        assert room < len(line)
        os.write(write, b"y" * (RESERVE // 2))  # another writer still finds room
        received = b""
        expected = len(data) + RESERVE // 2
        # Read until everything has arrived, never blocking: once the last byte is in, the
        # writer may not have returned yet, and a blocking read would wait forever.
        while len(received) < expected and time.monotonic() < deadline + PATIENCE_S:
            if select.select([read], [], [], 0.5)[0]:
                received += os.read(read, 1 << 16)
        writing.join(PATIENCE_S)
        assert done.is_set()
        assert received.count(b"x") == data.count(b"x")
    finally:
        os.close(read)
        os.close(write)
    with (tmp_path / "file").open("w") as file:
        assert _pipe_room(file.fileno()) is None  # a file is no pipe: written as it comes


def test_the_server_logger_writes_through_the_writer_thread() -> None:
    stream = _Blocked()
    writer = LineWriter(lambda: stream)  # type: ignore[arg-type,return-value]
    logger = logging.getLogger("streamctl.test.linehandler")
    logger.propagate = False
    handler = LineHandler(writer)
    logger.addHandler(handler)
    try:
        logger.error("first %s", "error")  # returns although the stream is blocked
        stream.open.set()
        assert writer.flush(timeout=PATIENCE_S)
        assert stream.text == "first error\n"
    finally:
        logger.removeHandler(handler)
